//! A private Docker engine for tests that must restart an engine or reach it over TCP: a second
//! `dockerd` with its own socket, loopback TCP port, data and state, so stopping it disturbs no
//! other test. It gets a bridge interface of its own, made here and removed on drop: with the
//! bridge disabled dockerd would delete the host's `docker0` and break the shared engine. No
//! iptables rules, vfs storage; containers run with `--network none`.

use super::process;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a fresh dockerd may take to answer on a loaded machine.
const READY: Duration = Duration::from_secs(60);

pub struct PrivateEngine {
    dir: tempfile::TempDir,
    /// `twbr<hex>`: interface names are at most 15 bytes.
    bridge: String,
    tcp_port: u16,
    /// More `dockerd` options, given to every launch (`--tlsverify` and its files).
    extra: Vec<String>,
    child: Option<Child>,
}

impl PrivateEngine {
    pub fn start() -> PrivateEngine {
        PrivateEngine::start_with(&[])
    }

    /// As [`PrivateEngine::start`], with more `dockerd` options: `--tlsverify` and its files
    /// make the TCP port TLS with client certificates (the socket stays plain).
    pub fn start_with(extra: &[String]) -> PrivateEngine {
        let dir = tempfile::Builder::new()
            .prefix("tidewatch-engine-")
            .tempdir()
            .expect("engine temp dir");
        let tcp_port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let bridge = format!(
            "twbr{:08x}",
            std::process::id() ^ (u32::from(tcp_port) << 16)
        );
        let created = Command::new("ip")
            .args(["link", "add", "name", &bridge, "type", "bridge"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            created,
            "cannot create bridge {bridge}: install iproute2 (see .ci/run)"
        );
        let mut engine = PrivateEngine {
            dir,
            bridge,
            tcp_port,
            extra: extra.to_vec(),
            child: None,
        };
        engine.launch();
        engine
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }

    pub fn tcp_port(&self) -> u16 {
        self.tcp_port
    }

    /// Stops dockerd (SIGTERM, as a service manager would) and starts it again.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    /// `docker -H <this engine> ARGS`, its stdout trimmed; panics with the output on failure.
    #[track_caller]
    pub fn docker(&self, args: &[&str]) -> String {
        let host = format!("unix://{}", self.socket().display());
        let mut cmd = Command::new("docker");
        cmd.arg("-H").arg(&host).args(args);
        let out = process::run(&mut cmd, None, Duration::from_secs(120))
            .unwrap_or_else(|why| panic!("{why}"));
        assert!(out.success(), "{out}");
        out.stdout.trim().to_string()
    }

    fn launch(&mut self) {
        let d = self.dir.path();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.join("dockerd.log"))
            .expect("engine log");
        let child = Command::new("dockerd")
            .arg("--host")
            .arg(format!("unix://{}", self.socket().display()))
            .arg("--host")
            .arg(format!("tcp://127.0.0.1:{}", self.tcp_port))
            .args(["--data-root", &path(&d.join("data"))])
            .args(["--exec-root", &path(&d.join("exec"))])
            .args(["--pidfile", &path(&d.join("docker.pid"))])
            .arg(format!("--bridge={}", self.bridge))
            .args(["--iptables=false", "--ip-masq=false"])
            .args(["--storage-driver=vfs"])
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("start dockerd (Debian's docker.io; see .ci/run)");
        self.child = Some(child);
        let deadline = Instant::now() + READY;
        let host = format!("unix://{}", self.socket().display());
        loop {
            let answered = Command::new("docker")
                .args(["-H", &host, "version", "--format", "{{.Server.Version}}"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if answered {
                return;
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(d.join("dockerd.log")).unwrap_or_default();
                panic!("private dockerd did not answer within {READY:?}:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill only sends a signal to the dockerd we started.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(30);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateEngine {
    fn drop(&mut self) {
        self.stop();
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .status();
    }
}

fn path(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}
