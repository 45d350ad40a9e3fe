//! `tidewatch run`: one cycle with `--once`, and the daemon on its schedule until SIGTERM.

use crate::support::engine::PrivateEngine;
use crate::support::{ImageSpec, TestRun, fresh_store_dir, tidewatch, tidewatch_command};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The `status` of `name` in a `--json` report.
fn status_of(report: &serde_json::Value, name: &str) -> Option<String> {
    report["containers"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == name)
        .and_then(|c| c["status"].as_str().map(String::from))
}

#[test]
fn run_once_prints_the_report_and_exits_1_only_when_a_check_failed() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "svc", "stable");
    let container = run.run("svc", &v1.reference, &[]);
    run.push_spec(&registry, "svc", "stable", &ImageSpec::version("newer"));

    let out = tidewatch(&["run", "--once", "--json"], &[]);
    let report: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|err| panic!("stdout is not JSON ({err}):\n{out}"));
    assert_eq!(
        status_of(&report, &container.name).as_deref(),
        Some("update-available"),
        "{out}"
    );
    // No assertion on this exit status: other tests' registries come and go on this engine,
    // and their containers' checks may fail.
    assert!(
        out.stderr.contains("Update available."),
        "the finding is logged:\n{out}"
    );

    drop(registry);
    let out = tidewatch(&["run", "--once", "--json"], &[]);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON report");
    assert_eq!(
        status_of(&report, &container.name).as_deref(),
        Some("failed"),
        "{out}"
    );
    assert_eq!(out.status.code(), Some(1), "a failed check exits 1:\n{out}");
}

#[test]
fn the_daemon_checks_at_start_and_on_schedule_and_stops_cleanly_on_sigterm() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "daemon", "stable");
    run.run("daemon", &v1.reference, &[]);
    // Only this test's containers: checked every second, the others' would be too, and their
    // registries' counts with them.
    let ours = run.own_names();
    let env = [
        ("TIDEWATCH_WATCHER_LOCAL_INCLUDE", ours.as_str()),
        ("TIDEWATCH_WATCHER_LOCAL_CRON", "*/1 * * * * *"),
        ("TIDEWATCH_WATCHER_LOCAL_JITTER", "0"),
        ("TIDEWATCH_LOG_FORMAT", "json"),
    ];
    let mut daemon = Daemon::start(&env);
    // One at start, then at least two more on the every-second schedule.
    daemon_wait(&mut daemon, "Check completed.", 3);

    let status = daemon.terminate();
    assert!(status.success(), "exit after SIGTERM: {status:?}");
    for line in &daemon.seen {
        let parsed: Result<serde_json::Value, _> = serde_json::from_str(line);
        assert!(
            parsed.is_ok(),
            "TIDEWATCH_LOG_FORMAT=json, yet a line is not JSON: {line}"
        );
    }
}

/// `tidewatch run` in the background, its stderr collected line by line; killed on drop.
pub(crate) struct Daemon {
    child: std::process::Child,
    received: mpsc::Receiver<String>,
    pub(crate) seen: Vec<String>,
}

impl Daemon {
    pub(crate) fn start(env: &[(&str, &str)]) -> Daemon {
        let mut child = tidewatch_command(&["run"], env)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tidewatch run");
        let stderr = child.stderr.take().expect("stderr piped");
        let (lines, received) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        Daemon {
            child,
            received,
            seen: Vec::new(),
        }
    }

    /// SIGTERM, then the exit status once it has stopped (at most 20 s).
    pub(crate) fn terminate(&mut self) -> std::process::ExitStatus {
        self.stop_with(libc::SIGTERM)
    }

    /// `signal`, then the exit status once it has stopped (at most 20 s: a hang guard, far
    /// below the minute and a half a registry that never answers holds a check).
    fn stop_with(&mut self, signal: libc::c_int) -> std::process::ExitStatus {
        // SAFETY: kill only sends a signal to the child we started.
        let sent = unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
        assert_eq!(sent, 0, "signal {signal} sent");
        daemon_wait(self, "Watcher stopped.", 1);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for tidewatch") {
                // What it logged while stopping, for the caller to read.
                self.seen.extend(self.received.try_iter());
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "still running 20 s after signal {signal}:\n{}",
                self.seen.join("\n")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits (30 s at most) until `count` log lines contain `message`; the time it took.
#[track_caller]
pub(crate) fn daemon_wait(daemon: &mut Daemon, message: &str, count: usize) -> Duration {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(30);
    while daemon.seen.iter().filter(|l| l.contains(message)).count() < count {
        let left = deadline.saturating_duration_since(Instant::now());
        match daemon.received.recv_timeout(left) {
            Ok(line) => daemon.seen.push(line),
            Err(_) => panic!(
                "no {count}× {message:?} within 30 s; got:\n{}",
                daemon.seen.join("\n")
            ),
        }
    }
    start.elapsed()
}

#[test]
fn a_container_started_while_the_daemon_runs_is_checked_within_seconds() {
    let run = TestRun::new();
    let registry = run.registry();
    let old = run.push(&registry, "events", "1.0.0");
    run.push(&registry, "events", "1.1.0");
    let store = fresh_store_dir();
    // A schedule that does not fire during the test: only the start-up check and events. Only
    // this test's containers: another test's removal must not read as this one's.
    let ours = run.own_names();
    let env = [
        ("TIDEWATCH_WATCHER_LOCAL_INCLUDE", ours.as_str()),
        ("TIDEWATCH_WATCHER_LOCAL_CRON", "0 0 1 1 *"),
        ("TIDEWATCH_LOG_FORMAT", "json"),
        ("TIDEWATCH_STORE_PATH", store.to_str().unwrap()),
    ];
    let mut daemon = Daemon::start(&env);
    daemon_wait(&mut daemon, "Check completed.", 1);

    let started = Instant::now();
    let container = run.run("late", &old.reference, &[]);
    let needle = format!("\"container\":\"{}\"", container.name);
    loop {
        let line = daemon
            .received
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| {
                panic!(
                    "{} never reported:\n{}",
                    container.name,
                    daemon.seen.join("\n")
                )
            });
        daemon.seen.push(line.clone());
        if line.contains(&needle) && line.contains("Update available.") {
            break;
        }
    }
    // The bound: an event, not the next cron, brought the check.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );

    // Removed: forgotten at once, from the destroy event.
    run.docker(&["rm", "-f", &container.id]);
    daemon_wait(&mut daemon, "Container removed.", 1);
    assert!(daemon.terminate().success());
    let out = tidewatch(
        &["history", &container.name, "--json"],
        &[("TIDEWATCH_STORE_PATH", store.to_str().unwrap())],
    );
    let history: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).expect("JSON");
    let events: Vec<&str> = history.iter().filter_map(|e| e["event"].as_str()).collect();
    assert_eq!(events, ["update-available", "removed"], "{out}");
    // From the destroy event, or from a full listing that another test's image tag set off
    // first (the engine is shared): either way it is forgotten once.
    let detail = history[1]["detail"].as_str().unwrap_or_default();
    assert!(["destroyed", "no longer listed"].contains(&detail), "{out}");
}

/// Puts `reference` (pushed to a loopback registry) on `engine` and runs it, without a network.
fn run_on(engine: &PrivateEngine, name: &str, reference: &str) -> String {
    engine.docker(&["pull", "-q", reference]);
    engine.docker(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        name,
        reference,
        "sleep",
        "3600",
    ])
}

#[test]
fn an_engine_restart_is_survived_and_events_resume() {
    let run = TestRun::new();
    let registry = run.registry();
    let old = run.push(&registry, "restart", "1.0.0");
    run.push(&registry, "restart", "1.1.0");
    let mut engine = PrivateEngine::start();
    let socket = engine.socket().display().to_string();
    let env = [
        ("TIDEWATCH_WATCHER_LOCAL_SOCKET", socket.as_str()),
        ("TIDEWATCH_WATCHER_LOCAL_CRON", "0 0 1 1 *"),
        ("TIDEWATCH_LOG_FORMAT", "json"),
    ];
    let mut daemon = Daemon::start(&env);
    daemon_wait(&mut daemon, "Check completed.", 1);

    engine.restart();
    daemon_wait(&mut daemon, "Event stream back", 1);
    // Events flow again: a container started after the restart is checked without the cron.
    let name = run.name("after-restart");
    run_on(&engine, &name, &old.reference);
    daemon_wait(&mut daemon, &format!("\"container\":\"{name}\""), 1);
    assert!(daemon.terminate().success());
}

#[test]
fn two_watchers_on_one_engine_report_under_their_names() {
    let run = TestRun::new();
    let registry = run.registry();
    let pushed = run.push(&registry, "twice", "stable");
    let engine = PrivateEngine::start();
    let name = run.name("twice");
    run_on(&engine, &name, &pushed.reference);
    let socket = engine.socket().display().to_string();
    let port = engine.tcp_port().to_string();
    let env = [
        ("TIDEWATCH_WATCHER_BYSOCKET_SOCKET", socket.as_str()),
        ("TIDEWATCH_WATCHER_BYTCP_HOST", "127.0.0.1"),
        ("TIDEWATCH_WATCHER_BYTCP_PORT", port.as_str()),
    ];
    let out = tidewatch(&["run", "--once", "--json"], &env);
    assert!(out.success(), "{out}");
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON report");
    let mut watchers: Vec<&str> = report["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .filter(|c| c["name"] == name.as_str())
        .map(|c| {
            assert_eq!(c["status"], "up-to-date", "{out}");
            c["watcher"].as_str().unwrap_or_default()
        })
        .collect();
    watchers.sort();
    assert_eq!(watchers, ["bysocket", "bytcp"], "{out}");
}

#[test]
fn notify_test_sends_a_sample_through_one_trigger_and_names_the_others_when_unknown() {
    use crate::support::receiver::{Answer, Receiver};
    let hook = Receiver::always(Answer::status(200));
    let url = hook.url("/sample");
    let env = [
        ("TIDEWATCH_TRIGGER_HTTP_HOOK_URL", url.as_str()),
        ("TIDEWATCH_TRIGGER_HTTP_OTHER_URL", url.as_str()),
    ];
    let out = tidewatch(&["notify-test", "http.hook"], &env);
    assert!(out.status.success(), "{out}");
    assert!(out.stdout.contains("http.hook: sent"), "{out}");
    let seen = hook.wait_for(1, Duration::from_secs(10));
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].json()["event"], "update-available");

    let out = tidewatch(&["notify-test", "smtp.nope"], &env);
    assert_eq!(out.status.code(), Some(1), "{out}");
    assert!(
        out.stderr
            .contains("no trigger smtp.nope; configured: http.hook, http.other"),
        "{out}"
    );
    assert!(!out.stderr.contains(&url), "the URL is a secret:\n{out}");
}

/// A registry address that takes connections and never answers them: the kernel completes the
/// handshake into the listen backlog, and nothing ever reads or replies.
fn silent_registry() -> (std::net::TcpListener, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("local address").to_string();
    (listener, addr)
}

/// One container with an update on a working registry, one on a registry that never answers
/// (its check holds the cycle for a minute and a half of time-outs and retries), the daemon,
/// then `signal` during that cycle.
fn a_hanging_check_delays_no_other_finding_and_is_cut_by(signal: libc::c_int) {
    let run = TestRun::new();
    let registry = run.registry();
    let old = run.push(&registry, "fine", "1.0.0");
    run.push(&registry, "fine", "1.1.0");
    let fine = run.run("fine", &old.reference, &[]);
    // The same image under a name on the silent registry: it has a repository digest (from the
    // working one), so its check does ask the registry its name points to.
    let (_silent, silent) = silent_registry();
    let hanging_ref = format!("{silent}/{}:1.0.0", run.name("hang"));
    run.tag(&old.reference, &hanging_ref);
    let hanging = run.run("hang", &hanging_ref, &[]);
    let store = fresh_store_dir();
    // Only this test's containers, so that nobody else's make the cycle longer or shorter.
    let ours = run.own_names();
    let env = [
        ("TIDEWATCH_WATCHER_LOCAL_CRON", "0 0 1 1 *"),
        ("TIDEWATCH_WATCHER_LOCAL_INCLUDE", ours.as_str()),
        ("TIDEWATCH_LOG_FORMAT", "json"),
        ("TIDEWATCH_STORE_PATH", store.to_str().unwrap()),
    ];
    let mut daemon = Daemon::start(&env);
    daemon_wait(&mut daemon, &format!("\"container\":\"{}\"", fine.name), 1);
    let finding = daemon.seen.last().cloned().unwrap_or_default();
    assert!(finding.contains("Update available."), "{finding}");
    // Published while the other container's check was still waiting on its registry.
    assert!(
        !daemon.seen.iter().any(|l| l.contains("Check completed.")),
        "the finding came only with the end of the cycle:\n{}",
        daemon.seen.join("\n")
    );

    let status = daemon.stop_with(signal);
    assert!(status.success(), "exit after signal {signal}: {status:?}");
    let log = daemon.seen.join("\n");
    assert!(log.contains("Check cut short by shutdown"), "{log}");
    assert!(!log.contains("Check completed."), "{log}");

    // What the cut cycle found is in the store; the container it never heard about is not.
    let history = |name: &str| {
        crate::support::update::history(store.to_str().unwrap(), name)
            .iter()
            .filter_map(|e| e["event"].as_str().map(String::from))
            .collect::<Vec<_>>()
    };
    assert_eq!(history(&fine.name), ["update-available"]);
    assert_eq!(history(&hanging.name), Vec::<String>::new());
}

#[test]
fn sigterm_cuts_a_check_held_by_a_silent_registry_and_keeps_what_was_found() {
    a_hanging_check_delays_no_other_finding_and_is_cut_by(libc::SIGTERM);
}

#[test]
fn sigint_cuts_a_check_held_by_a_silent_registry_and_keeps_what_was_found() {
    a_hanging_check_delays_no_other_finding_and_is_cut_by(libc::SIGINT);
}

#[test]
fn a_burst_of_image_tags_re_checks_the_watcher_once() {
    let run = TestRun::new();
    let registry = run.registry();
    let old = run.push(&registry, "burst", "1.0.0");
    run.push(&registry, "burst", "1.1.0");
    // A private engine: tags other tests make on the shared one must not count here.
    let engine = PrivateEngine::start();
    let socket = engine.socket().display().to_string();
    let env = [
        ("TIDEWATCH_WATCHER_LOCAL_SOCKET", socket.as_str()),
        ("TIDEWATCH_WATCHER_LOCAL_CRON", "0 0 1 1 *"),
        ("TIDEWATCH_LOG_FORMAT", "json"),
    ];
    let mut daemon = Daemon::start(&env);
    daemon_wait(&mut daemon, "Check completed.", 1);
    // A container checked from its start event: the event stream is following by now.
    let name = run.name("burst");
    run_on(&engine, &name, &old.reference);
    daemon_wait(&mut daemon, &format!("\"container\":\"{name}\""), 1);

    // Ten tags at once, as a CI job or a multi-tag pull makes them.
    let host = format!("unix://{socket}");
    let tags: Vec<std::process::Child> = (0..10)
        .map(|n| {
            std::process::Command::new("docker")
                .args(["-H", &host, "tag", &old.reference])
                .arg(format!("{}-{n}", old.reference))
                .stdout(Stdio::null())
                .spawn()
                .expect("docker tag")
        })
        .collect();
    for mut tag in tags {
        assert!(tag.wait().expect("docker tag").success());
    }

    daemon_wait(&mut daemon, "Check completed.", 2);
    let rechecks: Vec<&String> = daemon
        .seen
        .iter()
        .filter(|l| l.contains("Images tagged; re-checking the watcher."))
        .collect();
    assert_eq!(rechecks.len(), 1, "{}", daemon.seen.join("\n"));
    // All ten tags went into that one re-check: none is left to set off another.
    assert!(rechecks[0].contains("\"tags\":10"), "{}", rechecks[0]);
    assert!(daemon.terminate().success());
}

/// `openssl` with `args` in `dir`; panics with its output on failure.
fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate it signed, as `docker
/// --tlsverify` setups have them: `ca.pem`, `server-cert.pem`, `server-key.pem`, `cert.pem`,
/// `key.pem` (P-256 keys, PKCS #8).
pub(crate) fn tls_files(dir: &std::path::Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec![
        "req",
        "-x509",
        "-days",
        "2",
        "-subj",
        "/CN=tidewatch test CA",
    ];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca-key.pem",
        "-out",
        "ca.pem",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(dir, &ca);
    for (who, key, cert, usage) in [
        ("server", "server-key.pem", "server-cert.pem", "serverAuth"),
        ("client", "key.pem", "cert.pem", "clientAuth"),
    ] {
        let csr = format!("{who}.csr");
        let mut req = vec![
            "req",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            key,
            "-out",
            &csr,
        ];
        req.extend(ec);
        openssl(dir, &req);
        let ext = format!("{who}.ext");
        let extensions = format!(
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n\
             extendedKeyUsage={usage}\nsubjectAltName=IP:127.0.0.1\n"
        );
        std::fs::write(dir.join(&ext), extensions).expect("write extensions");
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-days",
                "2",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca-key.pem",
                "-CAcreateserial",
                "-out",
                cert,
                "-extfile",
                &ext,
            ],
        );
    }
}

#[test]
fn a_tls_watcher_reports_the_containers_of_an_engine_that_verifies_clients() {
    let run = TestRun::new();
    let registry = run.registry();
    let pushed = run.push(&registry, "secure", "stable");
    let certs = tempfile::tempdir().expect("temp dir");
    tls_files(certs.path());
    let file = |name: &str| certs.path().join(name).display().to_string();
    let engine = PrivateEngine::start_with(&[
        "--tlsverify".into(),
        format!("--tlscacert={}", file("ca.pem")),
        format!("--tlscert={}", file("server-cert.pem")),
        format!("--tlskey={}", file("server-key.pem")),
    ]);
    let name = run.name("secure");
    run_on(&engine, &name, &pushed.reference);
    let port = engine.tcp_port().to_string();
    let (ca, cert, key) = (file("ca.pem"), file("cert.pem"), file("key.pem"));
    let env = [
        ("TIDEWATCH_WATCHER_SECURE_HOST", "127.0.0.1"),
        ("TIDEWATCH_WATCHER_SECURE_PORT", port.as_str()),
        ("TIDEWATCH_WATCHER_SECURE_CAFILE", ca.as_str()),
        ("TIDEWATCH_WATCHER_SECURE_CERTFILE", cert.as_str()),
        ("TIDEWATCH_WATCHER_SECURE_KEYFILE", key.as_str()),
    ];
    let out = tidewatch(&["run", "--once", "--json"], &env);
    assert!(out.success(), "{out}");
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON report");
    let rows: Vec<&serde_json::Value> = report["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .filter(|c| c["name"] == name.as_str())
        .collect();
    assert_eq!(rows.len(), 1, "{out}");
    assert_eq!(rows[0]["watcher"], "secure", "{out}");
    assert_eq!(rows[0]["status"], "up-to-date", "{out}");

    // The same port without the client certificate is refused: the engine does verify.
    let plain = [
        ("TIDEWATCH_WATCHER_PLAIN_HOST", "127.0.0.1"),
        ("TIDEWATCH_WATCHER_PLAIN_PORT", port.as_str()),
    ];
    let out = tidewatch(&["run", "--once", "--json"], &plain);
    assert_eq!(out.status.code(), Some(1), "{out}");
    assert!(out.stderr.contains("plain"), "{out}");
}

#[test]
fn watchers_on_the_same_schedule_ask_the_registry_once() {
    use crate::support::rogue::{Reply, Rogue};
    let run = TestRun::new();
    let registry = run.registry();
    let pushed = run.push(&registry, "shared", "1.0.0");
    // The image under a name on a scripted registry, which counts what it is asked.
    let rogue = Rogue::start();
    let repo = run.name("shared");
    let tags_path = format!("/v2/{repo}/tags/list");
    rogue.route(
        "GET",
        &tags_path,
        vec![Reply::json(
            200,
            serde_json::json!({"name": repo, "tags": ["1.0.0"]}),
        )],
    );
    let engine = PrivateEngine::start();
    engine.docker(&["pull", "-q", &pushed.reference]);
    let reference = format!("{}/{repo}:1.0.0", rogue.addr());
    engine.docker(&["tag", &pushed.reference, &reference]);
    engine.docker(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        &repo,
        &reference,
        "sleep",
        "3600",
    ]);
    // One engine, two watchers on it, one schedule.
    let socket = engine.socket().display().to_string();
    let port = engine.tcp_port().to_string();
    let env = [
        ("TIDEWATCH_WATCHER_BYSOCKET_SOCKET", socket.as_str()),
        ("TIDEWATCH_WATCHER_BYSOCKET_CRON", "0 0 1 1 *"),
        ("TIDEWATCH_WATCHER_BYTCP_HOST", "127.0.0.1"),
        ("TIDEWATCH_WATCHER_BYTCP_PORT", port.as_str()),
        ("TIDEWATCH_WATCHER_BYTCP_CRON", "0 0 1 1 *"),
        ("TIDEWATCH_LOG_FORMAT", "json"),
    ];
    let mut daemon = Daemon::start(&env);
    daemon_wait(&mut daemon, "Check completed.", 2);
    assert!(daemon.terminate().success());
    let reports: Vec<&String> = daemon
        .seen
        .iter()
        .filter(|l| l.contains("Check completed."))
        .collect();
    for watcher in ["bysocket", "bytcp"] {
        let needle = format!("\"watcher\":\"{watcher}\"");
        assert!(
            reports
                .iter()
                .any(|l| l.contains(&needle) && l.contains("\"up_to_date\":1")),
            "{reports:#?}"
        );
    }
    let asked = rogue
        .hits()
        .iter()
        .filter(|h| h.target.starts_with(&tags_path))
        .count();
    assert_eq!(asked, 1, "{:#?}", rogue.hits());
}
