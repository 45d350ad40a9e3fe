//! A webhook receiver on a loopback port: records every request whole (method, target, headers,
//! body, when it came) and answers each from a script, for the notifiers' tests.
//!
//! ```ignore
//! let hook = Receiver::scripted([500, 500], 200); // 500 twice, then 200 for ever
//! let hook = Receiver::always(Answer::json(200, json!({"ok": false, "error": "x"})));
//! ```
//!
//! Plain threads, as `server.rs` and for the same reason (tests block while the code under test
//! sends). That server drops request bodies; this one keeps them, which is the point here. One
//! request per connection (`Connection: close`); a body must come with `Content-Length` or
//! chunked. Answers are handed out in the order requests arrive, which for one notifier (it
//! sends one message at a time) is the order it sent them.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Far more than any message a notifier sends.
const MAX_REQUEST: usize = 4 * 1024 * 1024;
/// A client that neither sends nor reads for this long is gone.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// When its head was complete.
    pub at: Instant,
}

impl Recorded {
    /// First value of a header, names compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the body when it is not.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|err| panic!("body is not JSON ({err}): {}", self.text()))
    }
}

/// What to answer one request with.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Wait this long before answering (a slow or hung peer).
    pub delay: Duration,
}

impl Answer {
    pub fn status(status: u16) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    pub fn text(status: u16, body: &str) -> Answer {
        Answer {
            headers: vec![("Content-Type".into(), "text/plain".into())],
            body: body.as_bytes().to_vec(),
            ..Answer::status(status)
        }
    }

    pub fn json(status: u16, body: serde_json::Value) -> Answer {
        Answer {
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
            ..Answer::status(status)
        }
    }

    pub fn after(self, delay: Duration) -> Answer {
        Answer { delay, ..self }
    }
}

impl From<u16> for Answer {
    fn from(status: u16) -> Answer {
        Answer::status(status)
    }
}

#[derive(Default)]
struct State {
    script: VecDeque<Answer>,
    otherwise: Option<Answer>,
    requests: Vec<Recorded>,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled on every request recorded.
    arrived: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A handler thread that panicked leaves the record as it was: still good.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running receiver; stopped on drop.
pub struct Receiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Receiver {
    /// Answers every request with 200 and an empty body.
    pub fn start() -> Receiver {
        Receiver::always(200)
    }

    /// Answers every request with `answer`.
    pub fn always(answer: impl Into<Answer>) -> Receiver {
        Receiver::scripted(Vec::<Answer>::new(), answer)
    }

    /// Answers the first requests from `script`, in order, then every other with `otherwise`.
    pub fn scripted<A: Into<Answer>>(
        script: impl IntoIterator<Item = A>,
        otherwise: impl Into<Answer>,
    ) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().expect("bound address");
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                script: script.into_iter().map(Into::into).collect(),
                otherwise: Some(otherwise.into()),
                requests: Vec::new(),
            }),
            arrived: Condvar::new(),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let (shared, stop) = (shared.clone(), stop.clone());
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let shared = shared.clone();
                    thread::spawn(move || serve(stream, &shared));
                }
            })
        };
        Receiver {
            addr,
            shared,
            stop,
            accept: Some(accept),
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// `http://127.0.0.1:PORT` followed by `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Every request so far, in order of arrival.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().requests.clone()
    }

    /// Waits until at least `n` requests came, at most `timeout`; panics saying how many did.
    #[track_caller]
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Recorded> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        while state.requests.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "{} of {n} requests within {timeout:?}",
                state.requests.len()
            );
            state = self
                .shared
                .arrived
                .wait_timeout(state, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        state.requests.clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // `incoming` blocks until a connection comes: bring one.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// One connection: read the request, record it, take the next answer, answer.
fn serve(mut stream: TcpStream, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
    let Ok(request) = read_request(&mut stream) else {
        return;
    };
    let answer = {
        let mut state = shared.lock();
        state.requests.push(request);
        shared.arrived.notify_all();
        match state.script.pop_front() {
            Some(answer) => answer,
            None => state
                .otherwise
                .clone()
                .unwrap_or_else(|| Answer::status(200)),
        }
    };
    if !answer.delay.is_zero() {
        thread::sleep(answer.delay);
    }
    let _ = write_answer(&mut stream, &answer);
    let _ = stream.flush();
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

fn write_answer(stream: &mut TcpStream, answer: &Answer) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", answer.status, reason(answer.status));
    for (name, value) in &answer.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        answer.body.len()
    ));
    stream.write_all(head.as_bytes())?;
    stream.write_all(&answer.body)
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Whatever",
    }
}

fn read_request(stream: &mut TcpStream) -> io::Result<Recorded> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    let end = loop {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        if raw.len() > MAX_REQUEST {
            return Err(bad("request head too large"));
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(bad("connection closed before the end of the head"));
        }
        raw.extend_from_slice(&buf[..n]);
    };
    let at = Instant::now();
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split_whitespace();
    let method = first.next().ok_or_else(|| bad("no method"))?.to_string();
    let target = first.next().ok_or_else(|| bad("no target"))?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut recorded = Recorded {
        method,
        target,
        headers,
        body: raw[end + 4..].to_vec(),
        at,
    };
    let chunked = recorded
        .header("transfer-encoding")
        .is_some_and(|te| te.eq_ignore_ascii_case("chunked"));
    if chunked {
        // Read until the last chunk, then decode.
        while !recorded.body.ends_with(b"0\r\n\r\n") {
            let n = stream.read(&mut buf)?;
            if n == 0 || recorded.body.len() > MAX_REQUEST {
                return Err(bad("chunked body not finished"));
            }
            recorded.body.extend_from_slice(&buf[..n]);
        }
        recorded.body = dechunk(&recorded.body).ok_or_else(|| bad("malformed chunked body"))?;
    } else {
        let length: usize = recorded
            .header("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        if length > MAX_REQUEST {
            return Err(bad("request body too large"));
        }
        while recorded.body.len() < length {
            let n = stream.read(&mut buf)?;
            if n == 0 {
                return Err(bad("connection closed before the end of the body"));
            }
            recorded.body.extend_from_slice(&buf[..n]);
        }
        recorded.body.truncate(length);
    }
    Ok(recorded)
}

fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

#[test]
fn the_receiver_records_whole_requests_and_follows_its_script() {
    let hook = Receiver::scripted([Answer::text(500, "no"), 202.into()], 204);
    let send = |body: &[u8]| {
        let mut stream = TcpStream::connect(hook.addr()).unwrap();
        let head = format!(
            "POST /hook?x=1 HTTP/1.1\r\nHost: h\r\nX-Test: yes\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    };
    assert!(send(b"{\"a\":1}").starts_with("HTTP/1.1 500"));
    assert!(send(b"two").starts_with("HTTP/1.1 202"));
    assert!(send(b"").starts_with("HTTP/1.1 204"));
    assert!(send(b"").starts_with("HTTP/1.1 204"));
    let seen = hook.wait_for(4, Duration::from_secs(5));
    assert_eq!(seen.len(), 4);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].path(), "/hook");
    assert_eq!(seen[0].header("x-test"), Some("yes"));
    assert_eq!(seen[0].json()["a"], 1);
    assert_eq!(seen[1].text(), "two");
    assert!(seen[0].at <= seen[1].at);
    assert_eq!(
        dechunk(b"3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n").as_deref(),
        Some(&b"abcde"[..])
    );
}
