//! A real browser for the page's tests: Debian's headless Chromium driven over WebDriver by
//! `chromedriver`, spoken to with the few blocking HTTP lines of `support::http` (no client
//! crate: WebDriver is JSON over HTTP, and these tests use a dozen of its commands).
//!
//! The browser is sealed off from the world: no host name resolves but loopback's, so a page
//! that loaded a font or a script from a CDN would show it as a console error, which the tests
//! assert there are none of (the page's Content-Security-Policy forbids it besides).

use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHROMEDRIVER: &str = "chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// Anything the page does after a click (a request, a redraw) takes well under this.
pub const WAIT: Duration = Duration::from_secs(30);

/// W3C's key for an element reference in JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    driver: Child,
    addr: String,
    session: String,
    _profile: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Browser {
    /// Starts chromedriver and a headless Chromium of `width`×`height`. Panics with what to
    /// install when either is missing: these tests never pass without a browser.
    #[track_caller]
    pub fn start(width: u32, height: u32) -> Browser {
        assert!(
            Path::new(CHROMIUM).exists(),
            "{CHROMIUM} is missing: apt-get install chromium chromium-driver (.ci/run does)"
        );
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| {
                panic!("{CHROMEDRIVER} did not start ({err}): apt-get install chromium-driver")
            });
        let addr = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok((200, _)) = request("GET", &addr, "/status", b"") {
                break;
            }
            assert!(Instant::now() < deadline, "{CHROMEDRIVER} never answered");
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::Builder::new()
            .prefix("tidewatch-chromium-")
            .tempdir()
            .expect("a profile folder");
        let args = vec![
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.path().display()),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-default-apps".into(),
            "--disable-extensions".into(),
            "--disable-domain-reliability".into(),
            "--no-pings".into(),
            "--metrics-recording-only".into(),
            // No name resolves but loopback's: a page that named a CDN would fail to load it
            // (a console error).
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost".into(),
        ];
        let capabilities = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
                "goog:loggingPrefs": { "browser": "ALL" },
            }}
        });
        let mut browser = Browser {
            driver,
            addr,
            session: String::new(),
            _profile: profile,
        };
        let created = browser.call("POST", "/session", Some(capabilities));
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_string();
        browser
    }

    /// One WebDriver command; panics on an error answer.
    #[track_caller]
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.try_call(method, path, body)
            .unwrap_or_else(|error| panic!("WebDriver {method} {path}: {error}"))
    }

    /// One WebDriver command; an error answer is returned as its `value`.
    fn try_call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, Value> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let (status, answer) = request(method, &self.addr, path, body.as_bytes())
            .unwrap_or_else(|err| panic!("WebDriver {method} {path}: {err}"));
        let value: Value = serde_json::from_slice(&answer)
            .unwrap_or_else(|err| panic!("WebDriver {method} {path}: not JSON ({err})"));
        match status {
            200 => Ok(value["value"].clone()),
            _ => Err(value["value"].clone()),
        }
    }

    fn session_call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    /// Opens `url` and waits until the document has loaded.
    pub fn goto(&self, url: &str) {
        self.session_call("POST", "/url", Some(json!({ "url": url })));
    }

    pub fn refresh(&self) {
        self.session_call("POST", "/refresh", Some(json!({})));
    }

    pub fn url(&self) -> String {
        self.session_call("GET", "/url", None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Runs `script` (a function body; `arguments` are `args`) and returns what it returns.
    pub fn run(&self, script: &str, args: Value) -> Value {
        self.session_call(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
    }

    /// Waits until `script` returns something truthy, and returns it; panics with `what` and
    /// the page's text after [`WAIT`].
    #[track_caller]
    pub fn wait_for(&self, what: &str, script: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let value = self.run(script, json!([]));
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::String(s) => !s.is_empty(),
                Value::Array(a) => !a.is_empty(),
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::Object(_) => true,
            };
            if truthy {
                return value;
            }
            if Instant::now() > deadline {
                panic!(
                    "waited {WAIT:?} for {what}; the page says:\n{}\nits console errors: {:#?}",
                    self.text("body"),
                    self.console_errors()
                );
            }
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    fn element(&self, css: &str) -> String {
        let found = self.session_call(
            "POST",
            "/element",
            Some(json!({ "using": "css selector", "value": css })),
        );
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_string()
    }

    /// Clicks the element `css` selects, as a person would (WebDriver scrolls it into view and
    /// refuses when something covers it).
    #[track_caller]
    pub fn click(&self, css: &str) {
        self.wait_for(
            &format!("{css} to be clickable"),
            &format!(
                "const e = document.querySelector({}); return !!e && !e.disabled;",
                json!(css)
            ),
        );
        // The page redraws itself when the daemon tells it something: an element found just
        // before may be replaced by the time it is clicked. Find it again then.
        for _ in 0..10 {
            let id = self.element(css);
            let path = format!("/session/{}/element/{id}/click", self.session);
            match self.try_call("POST", &path, Some(json!({}))) {
                Ok(_) => return,
                Err(error) if error["error"] == "stale element reference" => continue,
                Err(error) => panic!("click on {css}: {error}"),
            }
        }
        panic!("{css} was replaced ten times before it could be clicked");
    }

    /// Types `text` into the element `css` selects.
    pub fn type_into(&self, css: &str, text: &str) {
        for _ in 0..10 {
            let id = self.element(css);
            let path = format!("/session/{}/element/{id}/value", self.session);
            match self.try_call("POST", &path, Some(json!({ "text": text }))) {
                Ok(_) => return,
                Err(error) if error["error"] == "stale element reference" => continue,
                Err(error) => panic!("typing into {css}: {error}"),
            }
        }
        panic!("{css} was replaced ten times before it could be typed into");
    }

    /// The visible text of the first element `css` selects, empty when there is none.
    pub fn text(&self, css: &str) -> String {
        self.run(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';",
            json!([css]),
        )
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// Resizes the window (for a screenshot of more of the page).
    pub fn resize(&self, width: u32, height: u32) {
        self.session_call(
            "POST",
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        );
    }

    /// Saves a PNG of the window to `path` (creating its folder).
    pub fn screenshot(&self, path: &Path) -> PathBuf {
        let data = self.session_call("GET", "/screenshot", None);
        let png = base64_decode(data.as_str().expect("a base64 screenshot"));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("create the screenshot folder");
        }
        std::fs::write(path, png).expect("write the screenshot");
        path.to_path_buf()
    }

    /// Console messages at level SEVERE since the last call (errors, failed loads, CSP
    /// violations), as chromedriver's log endpoint gives them.
    pub fn console_errors(&self) -> Vec<String> {
        let entries = self.session_call("POST", "/se/log", Some(json!({ "type": "browser" })));
        entries
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let path = format!("/session/{}", self.session);
            let _ = request("DELETE", &self.addr, &path, b"");
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// One exchange with chromedriver: `(status, body)`. Its answers say `Connection: close` but
/// the socket stays open, so the body is read by its `Content-Length`, not to the end.
fn request(method: &str, addr: &str, path: &str, body: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 16384];
    let (end, length) = loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(bad("closed before the headers ended"));
        }
        raw.extend_from_slice(&buf[..n]);
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or_else(|| bad("no content-length"))?;
            break (end + 4, length);
        }
    };
    while raw.len() < end + length {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(bad("closed before the body ended"));
        }
        raw.extend_from_slice(&buf[..n]);
    }
    let status = String::from_utf8_lossy(&raw[..end])
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| bad("no status line"))?;
    Ok((status, raw[end..end + length].to_vec()))
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => 0,
        }
    };
    let clean: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let mut out = Vec::with_capacity(clean.len() / 4 * 3);
    for chunk in clean.chunks(4) {
        let pad = chunk.iter().filter(|&&c| c == b'=').count();
        let n = chunk.iter().fold(0u32, |n, &c| {
            (n << 6) | if c == b'=' { 0 } else { value(c) }
        });
        let n = n << (6 * (4 - chunk.len()));
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    out
}

#[test]
fn base64_decode_reverses_rfc_4648_vectors() {
    for (plain, encoded) in [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ] {
        assert_eq!(base64_decode(encoded), plain.as_bytes(), "{encoded}");
    }
}
