//! A tiny HTTP/1.1 server on a loopback port, on plain threads, for the servers the tests play
//! themselves: the token service ([`super::token_server`]) and the misbehaving registry
//! ([`super::rogue`]).
//!
//! Threads rather than tasks on the test's runtime: tests set scenes with blocking `docker`
//! commands (a `docker push` asks the token service for a token while the test waits for it),
//! which would starve a server that shares the test's runtime. One request per connection
//! (`Connection: close`) keeps the parsing trivial; every read and write has a timeout and every
//! handler is bounded, so no thread outlives its test by much.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// A request head larger than this is not from any client we test.
const MAX_HEAD: usize = 64 * 1024;
/// Request bodies (a manifest PUT at most) are read and dropped, up to this.
const MAX_BODY: usize = 1024 * 1024;
/// A client that neither sends nor reads for this long is gone.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// One request as received.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query, as sent: `/v2/app/tags/list?last=b&n=2`.
    pub target: String,
    pub headers: Vec<(String, String)>,
}

impl Request {
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

    /// Query parameters, percent-decoded, in order (a name may repeat, as `scope` does).
    pub fn query(&self) -> Vec<(String, String)> {
        let Some((_, query)) = self.target.split_once('?') else {
            return Vec::new();
        };
        query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                (percent_decode(name), percent_decode(value))
            })
            .collect()
    }
}

/// What a handler gets to answer with: the raw connection, so that it can misbehave.
pub type Handler = dyn Fn(Request, &mut TcpStream) + Send + Sync + 'static;

/// A running server; stopped on drop (connections in flight finish on their own, bounded).
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start(handler: Arc<Handler>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().expect("bound address");
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let stop = stop.clone();
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(mut stream) = stream else { continue };
                    let handler = handler.clone();
                    thread::spawn(move || {
                        let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
                        let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
                        if let Ok(request) = read_request(&mut stream) {
                            handler(request, &mut stream);
                        }
                        let _ = stream.flush();
                        let _ = stream.shutdown(std::net::Shutdown::Both);
                    });
                }
            })
        };
        Server {
            addr,
            stop,
            accept: Some(accept),
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // `incoming` blocks until a connection comes: bring one.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// Writes a whole response with `Connection: close` and a `Content-Length` (even for HEAD,
/// whose body is then left out, as HTTP wants).
pub fn respond(
    stream: &mut TcpStream,
    request: &Request,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> io::Result<()> {
    let mut head = status_line(status);
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    stream.write_all(head.as_bytes())?;
    if request.method != "HEAD" {
        stream.write_all(body)?;
    }
    Ok(())
}

/// `HTTP/1.1 <status> <reason>\r\n`.
pub fn status_line(status: u16) -> String {
    let reason = match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        _ => "Whatever",
    };
    format!("HTTP/1.1 {status} {reason}\r\n")
}

fn read_request(stream: &mut TcpStream) -> io::Result<Request> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let end = loop {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        if raw.len() > MAX_HEAD {
            return Err(bad("request head too large"));
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(bad("connection closed before the end of the head"));
        }
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split_whitespace();
    let method = first.next().ok_or_else(|| bad("no method"))?.to_string();
    let target = first.next().ok_or_else(|| bad("no target"))?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let request = Request {
        method,
        target,
        headers,
    };
    // Drain a body so that the client is not reset while still sending it.
    let length: usize = request
        .header("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut have = raw.len() - (end + 4);
    while have < length.min(MAX_BODY) {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        have += n;
    }
    Ok(request)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz");
                match u8::from_str_radix(hex, 16) {
                    Ok(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes everything but unreserved characters and the few a scope is made of.
pub fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~:,".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn query_parameters_are_decoded_in_order() {
    let request = Request {
        method: "GET".into(),
        target: "/token?scope=repository%3Aa%2Fb%3Apull&scope=repository:c:pull%2Cpush&service=x+y&empty"
            .into(),
        headers: Vec::new(),
    };
    assert_eq!(request.path(), "/token");
    assert_eq!(
        request.query(),
        [
            ("scope".to_string(), "repository:a/b:pull".to_string()),
            ("scope".to_string(), "repository:c:pull,push".to_string()),
            ("service".to_string(), "x y".to_string()),
            ("empty".to_string(), String::new()),
        ]
    );
    assert_eq!(
        percent_encode("repository:a/b:pull x"),
        "repository:a%2Fb:pull%20x"
    );
}
