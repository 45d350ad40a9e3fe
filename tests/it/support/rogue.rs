//! A registry that misbehaves on cue: each request target gets a scripted series of replies —
//! paginated tag lists, 429s, 5xx storms, bodies of 100 MB, answers that never end, garbage
//! challenges — and every request is recorded, so a test can tell what reached the server and
//! what the client kept to itself.
//!
//! Only for what a real registry cannot be made to do; everything else is tested against
//! distribution. Loopback only, and every behaviour is bounded: a stream stops at its length, a
//! drip after [`DRIP_LIMIT`], and a client that stops reading makes the writes fail.

use super::server::{Request, Server, respond, status_line};
use std::collections::{BTreeMap, VecDeque};
use std::io::Write as _;
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// A dripping reply gives up after this, whether or not the client is still listening.
pub const DRIP_LIMIT: Duration = Duration::from_secs(60);
/// One byte per this while dripping.
const DRIP_EVERY: Duration = Duration::from_millis(100);
/// Streamed bodies go out in pieces of this size, from one buffer: nothing is allocated in
/// proportion to the length.
const STREAM_PIECE: usize = 64 * 1024;

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A complete response.
    Fixed {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Status 200 and `headers`, then a chunked body of `len` bytes of `fill` (no
    /// `Content-Length`, so the client learns the size only by reading).
    Stream {
        headers: Vec<(String, String)>,
        len: u64,
        fill: u8,
    },
    /// Status 200 and `headers` with a `Content-Length` of `len`, then `len` bytes of `fill`.
    Sized {
        headers: Vec<(String, String)>,
        len: u64,
        fill: u8,
    },
    /// The status line, then a header that never ends, a byte at a time.
    DripHead,
    /// Status 200 and `headers`, then a body that never ends, a byte at a time.
    DripBody { headers: Vec<(String, String)> },
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply::Fixed {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn json(status: u16, body: serde_json::Value) -> Reply {
        Reply::Fixed {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }

    /// Adds a header to a reply that has headers.
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        match &mut self {
            Reply::Fixed { headers, .. }
            | Reply::Stream { headers, .. }
            | Reply::Sized { headers, .. }
            | Reply::DripBody { headers } => headers.push((name.into(), value.into())),
            Reply::DripHead => panic!("a dripping head has no headers"),
        }
        self
    }
}

/// A request the server got.
#[derive(Debug, Clone)]
pub struct Hit {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
}

impl Hit {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Script {
    /// (method, target) → replies; the last one repeats.
    routes: BTreeMap<(String, String), VecDeque<Reply>>,
    hits: Vec<Hit>,
    /// Body bytes written per target, for the streams.
    sent: BTreeMap<String, u64>,
}

/// A running rogue registry; stopped on drop.
pub struct Rogue {
    script: Arc<Mutex<Script>>,
    server: Server,
}

impl Rogue {
    /// A server that answers `GET /v2/` with 200 (a registry without auth) and 404 to anything
    /// not scripted.
    pub fn start() -> Rogue {
        let script = Arc::new(Mutex::new(Script::default()));
        let handler = {
            let script = script.clone();
            Arc::new(move |request: Request, stream: &mut TcpStream| {
                serve(&script, request, stream);
            })
        };
        let rogue = Rogue {
            script,
            server: Server::start(handler),
        };
        rogue.route("GET", "/v2/", vec![Reply::json(200, serde_json::json!({}))]);
        rogue
    }

    /// `127.0.0.1:PORT`, the registry part of references to it.
    pub fn addr(&self) -> String {
        self.server.addr()
    }

    /// Scripts `method target` (path and query, exactly as the client sends them; a target
    /// without a query also answers requests to its path that no exact target matches): the
    /// n-th request gets the n-th reply, and the last reply repeats. Replaces an earlier script.
    pub fn route(&self, method: &str, target: &str, replies: Vec<Reply>) -> &Rogue {
        assert!(!replies.is_empty(), "a route needs at least one reply");
        lock(&self.script)
            .routes
            .insert((method.to_string(), target.to_string()), replies.into());
        self
    }

    /// Every request so far.
    pub fn hits(&self) -> Vec<Hit> {
        lock(&self.script).hits.clone()
    }

    /// How many `method target` requests arrived.
    pub fn count(&self, method: &str, target: &str) -> usize {
        lock(&self.script)
            .hits
            .iter()
            .filter(|h| h.method == method && h.target == target)
            .count()
    }

    /// Body bytes the server managed to write for `target`: what a client read, give or take
    /// the socket buffers.
    pub fn sent(&self, target: &str) -> u64 {
        lock(&self.script).sent.get(target).copied().unwrap_or(0)
    }
}

fn serve(script: &Mutex<Script>, request: Request, stream: &mut TcpStream) {
    let reply = {
        let mut script = lock(script);
        script.hits.push(Hit {
            method: request.method.clone(),
            target: request.target.clone(),
            headers: request.headers.clone(),
        });
        let exact = (request.method.clone(), request.target.clone());
        let path = (request.method.clone(), request.path().to_string());
        let key = if script.routes.contains_key(&exact) {
            exact
        } else {
            path
        };
        script.routes.get_mut(&key).map(|replies| {
            if replies.len() > 1 {
                replies.pop_front().expect("not empty")
            } else {
                replies[0].clone()
            }
        })
    };
    let reply = reply.unwrap_or_else(|| {
        Reply::json(
            404,
            serde_json::json!({"errors": [{"code": "NAME_UNKNOWN", "message": "not scripted"}]}),
        )
    });
    let count_sent = |n: u64| *lock(script).sent.entry(request.target.clone()).or_default() += n;
    match reply {
        Reply::Fixed {
            status,
            headers,
            body,
        } => {
            let _ = respond(stream, &request, status, &headers, &body);
        }
        Reply::Stream { headers, len, fill } => {
            let mut head = status_line(200);
            for (name, value) in &headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str("Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
            if stream.write_all(head.as_bytes()).is_err() || request.method == "HEAD" {
                return;
            }
            let piece = vec![fill; STREAM_PIECE];
            let mut left = len;
            while left > 0 {
                let n = left.min(STREAM_PIECE as u64) as usize;
                let chunk_head = format!("{n:x}\r\n");
                let ok = stream.write_all(chunk_head.as_bytes()).is_ok()
                    && stream.write_all(&piece[..n]).is_ok()
                    && stream.write_all(b"\r\n").is_ok();
                if !ok {
                    return;
                }
                count_sent(n as u64);
                left -= n as u64;
            }
            let _ = stream.write_all(b"0\r\n\r\n");
        }
        Reply::Sized { headers, len, fill } => {
            let mut head = status_line(200);
            for (name, value) in &headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str(&format!(
                "Content-Length: {len}\r\nConnection: close\r\n\r\n"
            ));
            if stream.write_all(head.as_bytes()).is_err() || request.method == "HEAD" {
                return;
            }
            let piece = vec![fill; STREAM_PIECE];
            let mut left = len;
            while left > 0 {
                let n = left.min(STREAM_PIECE as u64) as usize;
                if stream.write_all(&piece[..n]).is_err() {
                    return;
                }
                count_sent(n as u64);
                left -= n as u64;
            }
        }
        Reply::DripHead => {
            let head = format!("{}X-Drip: ", status_line(200));
            if stream.write_all(head.as_bytes()).is_ok() {
                drip(stream);
            }
        }
        Reply::DripBody { headers } => {
            let mut head = status_line(200);
            for (name, value) in &headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str("Connection: close\r\n\r\n");
            if stream.write_all(head.as_bytes()).is_ok() && request.method != "HEAD" {
                drip(stream);
            }
        }
    }
}

/// A byte every [`DRIP_EVERY`] until the client leaves or [`DRIP_LIMIT`] passes.
fn drip(stream: &mut TcpStream) {
    let started = Instant::now();
    while started.elapsed() < DRIP_LIMIT {
        if stream
            .write_all(b"a")
            .and_then(|()| stream.flush())
            .is_err()
        {
            return;
        }
        thread::sleep(DRIP_EVERY);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
