//! A real SMTP server per test: aiosmtpd (PyPI; `.ci/run` installs it) running
//! `smtp_sink.py` on a free loopback port, which writes every message it receives, with its
//! envelope, the AUTH login and whether the session was encrypted, into a temp dir as JSON.
//!
//! TLS uses a certificate authority made for the sink with the `openssl` CLI (EC keys: a few
//! milliseconds), and a server certificate for `127.0.0.1` and `localhost`. The server is killed
//! when the [`SmtpSink`] is dropped, pass or fail.

use serde::Deserialize;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Python with aiosmtpd starts in well under a second; this is for a loaded CI machine.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// How the sink secures its connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SinkTls {
    /// Plain text only; STARTTLS not offered.
    #[default]
    None,
    /// Plain text, offering STARTTLS.
    StartTls,
    /// TLS from the first byte (port-465 style).
    Implicit,
}

#[derive(Debug, Clone, Default)]
pub struct SinkOptions {
    pub tls: SinkTls,
    /// Require AUTH with exactly this user and password.
    pub auth: Option<(String, String)>,
    /// A rejected AUTH reply quotes the password it was sent, as a careless server might.
    pub echo_auth: bool,
}

/// One message as the sink received it.
#[derive(Debug, Clone, Deserialize)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    /// The login of a successful AUTH, if there was one.
    pub auth_login: Option<String>,
    /// Whether the message came over TLS (STARTTLS or implicit).
    pub tls: bool,
    pub subject: String,
    /// The `From` and `To` headers, decoded.
    pub from: String,
    pub to: String,
    /// Of the whole message (`multipart/alternative`).
    pub content_type: String,
    pub parts: Vec<Part>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Part {
    pub content_type: String,
    /// Decoded text with LF line ends; `None` for a non-text part.
    pub content: Option<String>,
}

impl Received {
    /// The content of the first part of this type (`text/plain`, `text/html`).
    pub fn part(&self, content_type: &str) -> Option<&str> {
        self.parts
            .iter()
            .find(|p| p.content_type == content_type)
            .and_then(|p| p.content.as_deref())
    }

    #[track_caller]
    pub fn text(&self) -> &str {
        self.part("text/plain")
            .unwrap_or_else(|| panic!("no text/plain part in {self:#?}"))
    }

    #[track_caller]
    pub fn html(&self) -> &str {
        self.part("text/html")
            .unwrap_or_else(|| panic!("no text/html part in {self:#?}"))
    }
}

/// A running sink; killed on drop.
pub struct SmtpSink {
    child: Child,
    port: u16,
    /// Received messages land in `messages/`; `sink.log` is the server's stderr.
    dir: tempfile::TempDir,
    /// The CA that signed the server certificate, when the sink speaks TLS.
    ca: Option<PathBuf>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SmtpSink {
    /// A plain sink: no TLS, no AUTH.
    pub fn plain() -> SmtpSink {
        SmtpSink::start(&SinkOptions::default())
    }

    pub fn start(options: &SinkOptions) -> SmtpSink {
        let dir = tempfile::Builder::new()
            .prefix("tidewatch-smtp-")
            .tempdir()
            .expect("create sink temp dir");
        let messages = dir.path().join("messages");
        std::fs::create_dir(&messages).expect("create messages dir");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/support/smtp_sink.py");
        let mut cmd = Command::new("python3");
        cmd.arg(script).arg("--dir").arg(&messages);
        let mut ca = None;
        if options.tls != SinkTls::None {
            let certs = certificates(dir.path());
            cmd.arg(match options.tls {
                SinkTls::StartTls => "--starttls",
                _ => "--implicit-tls",
            })
            .arg(&certs.cert)
            .arg(&certs.key);
            ca = Some(certs.ca);
        }
        if let Some((user, password)) = &options.auth {
            cmd.args(["--user", user, "--password", password]);
        }
        if options.echo_auth {
            cmd.arg("--echo-auth");
        }
        let log_path = dir.path().join("sink.log");
        let log = std::fs::File::create(&log_path).expect("create sink log");
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start python3 (Debian's python3 package) for the SMTP sink");
        let stdout = child.stdout.take().expect("sink stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(START_TIMEOUT).unwrap_or_default();
        let port = line
            .strip_prefix("LISTENING ")
            .and_then(|port| port.trim().parse().ok());
        let Some(port) = port else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the SMTP sink did not start (printed {line:?}); is aiosmtpd installed \
                 (`python3 -m pip install aiosmtpd`, see .ci/run)?\n--- sink log ---\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
        };
        SmtpSink {
            child,
            port,
            dir,
            ca,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The PEM of the CA that signed the sink's certificate, for `tls.cafile`.
    #[track_caller]
    pub fn ca(&self) -> &Path {
        self.ca.as_deref().expect("a sink started with TLS")
    }

    /// The server's log (aiosmtpd logs each session to stderr), for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sink.log")).unwrap_or_default()
    }

    /// Every message received so far, in order.
    pub fn messages(&self) -> Vec<Received> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path().join("messages"))
            .expect("read messages dir")
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|path| {
                let text = std::fs::read_to_string(path).expect("read message summary");
                serde_json::from_str(&text)
                    .unwrap_or_else(|err| panic!("{}: {err}\n{text}", path.display()))
            })
            .collect()
    }

    /// Waits until at least `count` messages arrived; panics with the sink's log after `timeout`.
    #[track_caller]
    pub fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {count} messages arrived within {timeout:?}\n--- sink log ---\n{}",
                messages.len(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A CA and a server certificate it signed, for 127.0.0.1 and localhost.
struct Certificates {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn certificates(dir: &Path) -> Certificates {
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
    let mut ca_args = vec!["req", "-x509", "-nodes", "-days", "1"];
    ca_args.extend(ec);
    ca_args.extend([
        "-subj",
        "/CN=tidewatch test SMTP CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    openssl(dir, &ca_args);
    let mut csr_args = vec!["req", "-nodes"];
    csr_args.extend(ec);
    csr_args.extend([
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    openssl(dir, &csr_args);
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .expect("write san.ext");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "san.ext",
            "-out",
            "server.pem",
        ],
    );
    Certificates {
        ca: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
    }
}

#[track_caller]
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (Debian's openssl package) runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
