//! What the docker trigger's tests share: tidewatch's environment for a trigger limited to a
//! test's own containers, the store's history of a container, the engine's events since a
//! moment, the check that an update which must not happen left the old container as it was,
//! and a container created through the engine API for what the CLI cannot send. One copy each,
//! so that every test asks and judges the same way.

use super::{Container, Output, TestRun, fresh_store_dir, tidewatch};

/// The docker trigger on the local engine, limited to `include` (a regex of names), with a
/// short settle time and stop timeout, and the store at `store`.
pub fn docker_trigger_env<'a>(include: &'a str, store: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("TIDEWATCH_TRIGGER_DOCKER_LOCAL_INCLUDE", include),
        ("TIDEWATCH_TRIGGER_DOCKER_LOCAL_SETTLE", "2"),
        ("TIDEWATCH_TRIGGER_DOCKER_LOCAL_STOPTIMEOUT", "1"),
        ("TIDEWATCH_STORE_PATH", store),
    ]
}

/// `tidewatch run --once` with the docker trigger limited to `include`, and `extra` variables,
/// on a fresh store.
pub fn update_once(include: &str, extra: &[(&str, &str)]) -> Output {
    let dir = fresh_store_dir();
    let store = dir.to_str().expect("a UTF-8 path");
    let mut env = docker_trigger_env(include, store);
    env.extend_from_slice(extra);
    tidewatch(&["run", "--once"], &env)
}

/// The entries of `tidewatch history NAME --json` in the store at `store`; the command must
/// succeed and print JSON.
pub fn history(store: &str, name: &str) -> Vec<serde_json::Value> {
    let out = tidewatch(
        &["history", name, "--json"],
        &[("TIDEWATCH_STORE_PATH", store)],
    );
    assert!(out.status.success(), "{out}");
    serde_json::from_str(&out.stdout).unwrap_or_else(|err| panic!("not JSON ({err}):\n{out}"))
}

/// `(event, detail)` of every entry of `tidewatch history NAME` in the store at `store`.
pub fn history_events(store: &str, name: &str) -> Vec<(String, String)> {
    history(store, name)
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap_or_default().to_string(),
                e["detail"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The engine's clock now, for `docker events --since`: the test's clock may differ.
pub fn engine_time(run: &TestRun) -> String {
    run.docker(&["system", "info", "--format", "{{.SystemTime}}"])
}

/// The container under `old.name` is `old` (same ID), running, on `image`, and alone: nothing
/// renamed aside (`-tidewatch-old`) and no other container whose name holds it.
#[track_caller]
pub fn assert_untouched(run: &TestRun, old: &Container, image: &str, out: &Output) {
    assert_eq!(
        run.inspect(&old.name, "{{.Id}} {{.State.Running}} {{.Config.Image}}"),
        format!("{} true {image}", old.id),
        "the same container, running, on the old image: {out}"
    );
    let aside = run.docker_output(&["inspect", &format!("{}-tidewatch-old", old.name)]);
    assert!(!aside.success(), "nothing left aside: {out}");
    let leftovers = run.docker(&[
        "ps",
        "--all",
        "--quiet",
        "--filter",
        &format!("name={}", old.name),
    ]);
    assert_eq!(
        leftovers.lines().count(),
        1,
        "only the old container: {leftovers}\n{out}"
    );
}

/// Creates and starts a container through the engine API itself, for what the docker CLI
/// refuses to send to an engine of API 1.41: `body` is the JSON of `POST /containers/create`.
pub fn create_by_api(run: &TestRun, name: &str, body: &serde_json::Value) -> Container {
    let name = run.name(name);
    let socket = std::env::var("DOCKER_HOST")
        .ok()
        .and_then(|h| h.strip_prefix("unix://").map(str::to_string))
        .unwrap_or_else(|| "/var/run/docker.sock".to_string());
    let mut body = body.clone();
    body["Labels"][super::RUN_LABEL] = serde_json::Value::from(run.id());
    let out = std::process::Command::new("curl")
        .args([
            "--silent",
            "--show-error",
            "--fail-with-body",
            "--unix-socket",
        ])
        .arg(&socket)
        .args([
            "-H",
            "Content-Type: application/json",
            "-X",
            "POST",
            "--data",
        ])
        .arg(body.to_string())
        .arg(format!("http://engine/v1.41/containers/create?name={name}"))
        .output()
        .expect("curl runs");
    let answer = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "create {name}: {answer}");
    let created: serde_json::Value = serde_json::from_str(&answer).expect("JSON");
    let id = created["Id"].as_str().expect("an Id").to_string();
    run.docker(&["start", &id]);
    Container { name, id }
}

/// What the journal logs where `TIDEWATCH_TEST_HALTAT` stops an update or a rollback.
pub const HALTED: &str = "Halted for a crash test";

/// `tidewatch ARGS` with `TIDEWATCH_TEST_HALTAT=halt` in `env`, once it logged that it halted
/// there, still running (waiting to be killed); with what it logged. A watchdog kills it after
/// three minutes, so a halt never reached fails the test instead of hanging the run.
pub fn halted_at(args: &[&str], env: &[(&str, &str)], halt: &str) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    let mut env = env.to_vec();
    env.push(("TIDEWATCH_TEST_HALTAT", halt));
    let mut child = crate::support::tidewatch_command(args, &env)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start tidewatch");
    let stderr = child.stderr.take().expect("piped");
    let pid = child.id() as libc::pid_t;
    let (done, wait) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if wait
            .recv_timeout(std::time::Duration::from_secs(180))
            .is_err()
        {
            // SAFETY: kill only sends a signal; the child is not reaped before `done`.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    });
    let mut seen = Vec::new();
    let mut halted = false;
    let mut lines = BufReader::new(stderr).lines();
    for line in lines.by_ref().map_while(Result::ok) {
        halted = line.contains(HALTED);
        seen.push(line);
        if halted {
            break;
        }
    }
    let _ = done.send(());
    let _ = watchdog.join();
    let seen = seen.join("\n");
    if !halted {
        let _ = child.kill();
        let _ = child.wait();
        panic!("never halted at {halt}:\n{seen}");
    }
    // Nothing more is written while it waits to be killed; the pipe stays open with it.
    std::mem::forget(lines);
    (child, seen)
}

/// As [`halted_at`], then SIGKILLed there (a crash mid-update). Returns what it logged.
pub fn kill_when_halted(args: &[&str], env: &[(&str, &str)], halt: &str) -> String {
    let (mut child, seen) = halted_at(args, env, halt);
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    seen
}

/// Whether the volume that is the update lease of container `name` exists.
pub fn lease_exists(run: &TestRun, name: &str) -> bool {
    run.docker_output(&["volume", "inspect", &format!("tidewatch-lease-{name}")])
        .success()
}

/// The lease of container `name` as another tidewatch instance, on another machine, holds it
/// for the next hour: labelled with the run, so it goes with the test. Returns its volume.
pub fn foreign_lease(run: &TestRun, name: &str) -> String {
    let volume = format!("tidewatch-lease-{name}");
    let expires = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600)
        .to_string();
    run.docker(&[
        "volume",
        "create",
        "--label",
        &run.label(),
        "--label",
        &format!("tidewatch.lease={name}"),
        "--label",
        "tidewatch.lease.holder=elsewhere/0/1/1",
        "--label",
        "tidewatch.lease.token=theirs",
        "--label",
        &format!("tidewatch.lease.expires={expires}"),
        &volume,
    ]);
    volume
}
