//! The faults found when tidewatch was tried (issue 14): each test reproduces one as a user met
//! it — a kill during a stop, two instances on one engine, a secret file that never ends, an
//! exit status that said nothing — and checks what tidewatch does about it now.
//!
//! Each test limits the docker trigger to its own containers (`INCLUDE`): the engine is shared
//! with every other test running in parallel.

use crate::support::update::{docker_trigger_env, history_events, lease_exists};
use crate::support::{ImageSpec, Output, TestRun, fresh_store_dir, tidewatch, tidewatch_command};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// The environment of a docker trigger limited to `include`, `auto` off, on the store `store`,
/// with `extra` on top (later entries win).
fn env_for(include: &str, store: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    docker_trigger_env(include, store)
        .iter()
        .chain(&[("TIDEWATCH_TRIGGER_DOCKER_LOCAL_AUTO", "false")])
        .chain(extra)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn borrowed(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Kills `child` (SIGKILL) and reaps it.
fn kill(mut child: Child) {
    child.kill().expect("SIGKILL");
    let _ = child.wait();
}

/// Polls `ready` every 100 ms for at most `within`.
fn wait_until(within: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if ready() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// `tidewatch update NAME` halted at `halt` (`TIDEWATCH_TEST_HALTAT`), still running there.
fn halt_at(env: &[(String, String)], name: &str, halt: &str) -> Child {
    crate::support::update::halted_at(&["update", name], &borrowed(env), halt).0
}

/// `tidewatch update NAME` halted at `halt` and SIGKILLed there.
fn kill_at(env: &[(String, String)], name: &str, halt: &str) {
    kill(halt_at(env, name, halt));
}

// 1. Recovery too soon after a SIGKILL left the container stopped.

/// tidewatch is killed while the engine stops the old container (its PID 1, `sleep`, ignores
/// SIGTERM, so the stop lasts the whole 10 s timeout) and started again at once. The engine
/// finishes that stop whatever became of the process that asked: recovery must wait it out and
/// then start the container, not declare it back while the stop is still pending.
#[test]
fn recovery_right_after_a_kill_mid_stop_waits_out_the_stop_and_the_container_runs() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "pending", "1.0.0").reference;
    run.push(&registry, "pending", "1.1.0");
    let old = run.run_with("pending", &["--restart", "unless-stopped"], &v1, &[]);
    let store = fresh_store_dir();
    let env = env_for(
        &old.name,
        store.to_str().expect("UTF-8 path"),
        &[("TIDEWATCH_TRIGGER_DOCKER_LOCAL_STOPTIMEOUT", "10")],
    );
    let child = tidewatch_command(&["update", &old.name], &borrowed(&env))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start tidewatch update");
    let aside = format!("{}-tidewatch-old", old.name);
    let renamed = wait_until(Duration::from_secs(120), || {
        run.docker_output(&["inspect", "--format", "{{.Id}}", &aside])
            .success()
    });
    if !renamed {
        kill(child);
        panic!("the update never renamed the old container aside");
    }
    // 1 s into the stop.
    std::thread::sleep(Duration::from_secs(1));
    kill(child);
    let killed = Instant::now();
    let out = tidewatch(&["run", "--once"], &borrowed(&env));
    assert!(
        out.stderr
            .contains("interrupted update undone; the old container is back"),
        "{out}"
    );
    // Past the end of the stop the engine had pending.
    let settled = killed + Duration::from_secs(15);
    std::thread::sleep(settled.saturating_duration_since(Instant::now()));
    assert_eq!(
        run.inspect(&old.name, "{{.Id}} {{.State.Running}} {{.Config.Image}}"),
        format!("{} true {v1}", old.id),
        "the old container, back and still running 15 s after the kill\n{out}"
    );
    let history = history_events(store.to_str().expect("UTF-8 path"), &old.name);
    assert!(
        history.iter().any(|(event, _)| event == "update-undone"),
        "{history:?}\n{out}"
    );
}

// 12. Interrupted updates that recovery finished or undid are in the history.

#[test]
fn an_interrupted_update_recovery_finished_or_undid_is_in_the_history() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "historied", "1.0.0").reference;
    run.push(&registry, "historied", "1.1.0");
    let undone = run.run("historied", &v1, &[]);
    let finished = run.run("historied-too", &v1, &[]);
    let store = fresh_store_dir();
    let store = store.to_str().expect("UTF-8 path");
    let include = format!("^({}|{})$", undone.name, finished.name);
    let env = env_for(&include, store, &[]);
    kill_at(&env, &undone.name, "gating");
    kill_at(&env, &finished.name, "removing");
    let out: Output = tidewatch(&["run", "--once"], &borrowed(&env));
    let undone_history = history_events(store, &undone.name);
    assert!(
        undone_history
            .iter()
            .any(|(event, detail)| event == "update-undone" && detail.contains("gating")),
        "{undone_history:?}\n{out}"
    );
    let finished_history = history_events(store, &finished.name);
    assert!(
        finished_history
            .iter()
            .any(|(event, detail)| event == "update-finished" && detail.contains("removing")),
        "{finished_history:?}\n{out}"
    );
}

// 2. Two instances on one engine must not both act on a container.

/// Containers whose name holds `name`: the container itself, and anything renamed aside.
fn named_like(run: &TestRun, name: &str) -> Vec<String> {
    let names = run.docker(&[
        "ps",
        "--all",
        "--format",
        "{{.Names}}",
        "--filter",
        &format!("name={name}"),
    ]);
    let mut names: Vec<String> = names.lines().map(str::to_string).collect();
    names.sort();
    names
}

/// One instance is mid-update (start-first, halted at its health gate with the new container
/// running beside the old, holding the lease); a second one,
/// with its own store, is told to update the same container: it skips it, saying why, and
/// touches nothing. The first is then killed there, and its restart recovers the container:
/// it exists once, running, and the lease is gone.
#[test]
fn a_second_instance_skips_a_container_another_is_updating_and_says_so() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "contended", "1.0.0").reference;
    run.push(&registry, "contended", "1.1.0");
    // Start-first: mid-update, the old container runs on under its name beside the new one.
    let old = run.run_with(
        "contended",
        &["--label", "tidewatch.update.order=start-first"],
        &v1,
        &[],
    );
    let store_a = fresh_store_dir();
    let env_a = env_for(&old.name, store_a.to_str().expect("UTF-8 path"), &[]);
    let first = halt_at(&env_a, &old.name, "gating");
    assert!(
        lease_exists(&run, &old.name),
        "the first instance holds the lease"
    );
    let mid_update = named_like(&run, &old.name);

    let store_b = fresh_store_dir();
    let env_b = env_for(&old.name, store_b.to_str().expect("UTF-8 path"), &[]);
    // Every container with an update: the old one, still running, reads as one.
    let second = tidewatch(&["update"], &borrowed(&env_b));
    kill(first);
    assert!(
        second.stdout.contains("skipped")
            && second
                .stdout
                .contains("another tidewatch instance is updating it"),
        "{second}"
    );
    assert_eq!(
        named_like(&run, &old.name),
        mid_update,
        "the second instance created, renamed or removed nothing\n{second}"
    );
    let b_history = history_events(store_b.to_str().expect("UTF-8 path"), &old.name);
    assert!(
        b_history
            .iter()
            .any(|(event, detail)| event == "update-skipped"
                && detail.contains("another tidewatch instance")),
        "{b_history:?}"
    );

    let out = tidewatch(&["run", "--once"], &borrowed(&env_a));
    assert!(
        out.stderr
            .contains("interrupted update undone; the old container is back"),
        "{out}"
    );
    assert_eq!(
        run.inspect(&old.name, "{{.Id}} {{.State.Running}}"),
        format!("{} true", old.id),
        "{out}"
    );
    assert_eq!(named_like(&run, &old.name), vec![old.name.clone()], "{out}");
    assert!(
        !lease_exists(&run, &old.name),
        "the lease is released\n{out}"
    );
}

/// Two instances, each with its own store, update the same container at the same moment:
/// exactly one replaces it; the container exists once, running the new image, and no lease is
/// left.
#[test]
fn two_instances_updating_one_container_at_once_replace_it_exactly_once() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "raced", "1.0.0").reference;
    let v2 = run.push(&registry, "raced", "1.1.0").reference;
    let old = run.run("raced", &v1, &[]);
    let stores = [fresh_store_dir(), fresh_store_dir()];
    let envs: Vec<Vec<(String, String)>> = stores
        .iter()
        .map(|store| env_for(&old.name, store.to_str().expect("UTF-8 path"), &[]))
        .collect();
    let outs: Vec<Output> = std::thread::scope(|scope| {
        let handles: Vec<_> = envs
            .iter()
            .map(|env| scope.spawn(|| tidewatch(&["update", &old.name], &borrowed(env))))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("tidewatch ran"))
            .collect()
    });
    let both = format!("{}\n{}", outs[0], outs[1]);
    let updated = outs
        .iter()
        .filter(|out| out.stdout.contains(": updated,"))
        .count();
    assert_eq!(updated, 1, "exactly one instance updated it\n{both}");
    assert_eq!(
        named_like(&run, &old.name),
        vec![old.name.clone()],
        "{both}"
    );
    assert_eq!(
        run.inspect(&old.name, "{{.State.Running}} {{.Config.Image}}"),
        format!("true {v2}"),
        "{both}"
    );
    assert!(!lease_exists(&run, &old.name), "{both}");
}

// 6. `run --once` says in its exit status that an update failed.

/// The new image exits at once: the update is rolled back, and `run --once` exits 3, whatever
/// the checks of other containers on the shared engine did (which could make it 1).
#[test]
fn run_once_exits_3_when_an_update_failed_and_was_rolled_back() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "exits", "1.0.0").reference;
    run.push_spec(
        &registry,
        "exits",
        "1.1.0",
        &ImageSpec::version("1.1.0").cmd(&["sh", "-c", "exit 1"]),
    );
    let old = run.run("exits", &v1, &[]);
    let store = fresh_store_dir();
    let env = env_for(
        &old.name,
        store.to_str().expect("UTF-8 path"),
        &[("TIDEWATCH_TRIGGER_DOCKER_LOCAL_AUTO", "true")],
    );
    let out = tidewatch(&["run", "--once"], &borrowed(&env));
    assert_eq!(out.status.code(), Some(3), "{out}");
    assert_eq!(
        run.inspect(&old.name, "{{.Id}} {{.State.Running}}"),
        format!("{} true", old.id),
        "rolled back: {out}"
    );
}

// 3. A file a user names is read bounded, and only when it is a regular file.

/// A `__FILE` secret that is `/dev/zero` (which once grew to 23 GB), a FIFO (which blocked
/// start-up for ever) or merely too large: each a configuration error naming the variable, at
/// once.
#[test]
fn a_secret_file_that_never_ends_blocks_or_is_too_large_is_refused_naming_the_variable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fifo = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let large = dir.path().join("large");
    std::fs::write(&large, vec![b'x'; 64 * 1024 + 1]).expect("write");
    let variable = "TIDEWATCH_REGISTRY_HUB_MAIN_PASSWORD__FILE";
    for (path, why) in [
        ("/dev/zero", "not a regular file (it is a character device)"),
        (
            fifo.to_str().expect("UTF-8"),
            "not a regular file (it is a FIFO)",
        ),
        (large.to_str().expect("UTF-8"), "larger than 64 KiB"),
    ] {
        let out = tidewatch(
            &["config"],
            &[
                ("TIDEWATCH_REGISTRY_HUB_MAIN_LOGIN", "me"),
                (variable, path),
            ],
        );
        assert_eq!(out.status.code(), Some(2), "{path}: {out}");
        assert!(
            out.stderr
                .lines()
                .any(|l| l.contains(variable) && l.contains(why)),
            "{path}: {out}"
        );
    }
}

/// The same for a file that is not a secret: a registry's CA bundle that is a FIFO fails the
/// check at once instead of hanging it.
#[test]
fn a_ca_file_that_is_a_fifo_is_refused_at_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fifo = dir.path().join("ca.pem");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let out = tidewatch(
        &["check"],
        &[
            ("TIDEWATCH_REGISTRY_CUSTOM_PRIV_URL", "127.0.0.1:9"),
            (
                "TIDEWATCH_REGISTRY_CUSTOM_PRIV_CAFILE",
                fifo.to_str().expect("UTF-8"),
            ),
            ("TIDEWATCH_WATCHER_LOCAL_WATCHBYDEFAULT", "false"),
        ],
    );
    assert!(!out.success(), "{out}");
    assert!(
        out.stderr.contains("not a regular file (it is a FIFO)"),
        "{out}"
    );
}

// 7. A rollback's reason gives the exit code the new container really died with, and its
// last lines.

/// The new image writes a line and exits 1, under `--restart always`: by the time the gate
/// looks it runs again, and its state says exit code 0. The reason must say 1, and the line.
#[test]
fn a_rollback_of_a_restarting_container_reports_its_real_exit_code_and_last_lines() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "restarts", "1.0.0").reference;
    run.push_spec(
        &registry,
        "restarts",
        "1.1.0",
        &ImageSpec::version("1.1.0").cmd(&["sh", "-c", "echo boom-$(cat /version); exit 1"]),
    );
    let old = run.run_with("restarts", &["--restart", "always"], &v1, &[]);
    let store = fresh_store_dir();
    let store = store.to_str().expect("UTF-8 path");
    let env = env_for(
        &old.name,
        store,
        &[("TIDEWATCH_TRIGGER_DOCKER_LOCAL_AUTO", "true")],
    );
    let out = tidewatch(&["run", "--once"], &borrowed(&env));
    let history = history_events(store, &old.name);
    let (_, reason) = history
        .iter()
        .find(|(event, _)| event == "rolled-back")
        .unwrap_or_else(|| panic!("no rollback in {history:?}\n{out}"));
    assert!(
        reason.contains("keeps restarting (exit code 1)"),
        "{reason}\n{out}"
    );
    assert!(reason.contains("boom-1.1.0"), "{reason}\n{out}");
}

// 11. Configuration that cannot be read is an error, not a default; a label that matches
// nothing is a reason to skip.

/// A variable meant for tidewatch whose value is not UTF-8 was dropped, and its default used
/// without a word: now a configuration error naming it.
#[test]
fn an_env_value_that_is_not_utf8_is_a_configuration_error_naming_the_variable() {
    use std::os::unix::ffi::OsStrExt;
    let mut command = tidewatch_command(&["config"], &[]);
    command.env(
        "TIDEWATCH_WATCHER_LOCAL_CRON",
        std::ffi::OsStr::from_bytes(b"0 \xff * * *"),
    );
    let out = command.output().expect("run tidewatch config");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("TIDEWATCH_WATCHER_LOCAL_CRON") && l.contains("not UTF-8")),
        "{stderr}"
    );
}

/// `trigger.include=smtp.(` names no trigger: the container is skipped with the reason, as for
/// any other label that cannot be read, instead of being silently left to no trigger.
#[test]
fn a_trigger_include_label_naming_no_trigger_skips_the_container_with_the_reason() {
    let run = TestRun::new();
    let image = run.image(&run.name("badrule:1"), "1");
    let container = run.run_with(
        "badrule",
        &["--label", "tidewatch.trigger.include=smtp.("],
        &image.reference,
        &[],
    );
    let out = tidewatch(&["check", "--json"], &[]);
    let json: serde_json::Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|err| panic!("not JSON ({err}):\n{out}"));
    let row = json["containers"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["name"] == container.name.as_str()))
        .unwrap_or_else(|| panic!("not listed:\n{out}"));
    assert_eq!(row["status"], "skipped", "{row}");
    let reason = row["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("trigger.include") && reason.contains("smtp.("),
        "{row}"
    );
}

// 10. The log names each container whose check failed, and why.

#[test]
fn each_failed_check_is_one_warn_line_naming_the_container_and_the_reason() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "gone", "1.0.0").reference;
    let container = run.run("gone", &v1, &[]);
    // The registry goes away: the check of this container fails.
    drop(registry);
    let out = tidewatch(&["run", "--once"], &[]);
    let line = out
        .stderr
        .lines()
        .find(|l| l.contains("Check failed.") && l.contains(&container.name))
        .unwrap_or_else(|| panic!("no line names the failed check:\n{out}"));
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains("reason="), "{line}");
}

// 9. `run --once`'s report shows what runs after the updates, and one digest per container.

#[test]
fn run_once_reports_an_updated_container_as_it_runs_now() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "shown", "1.0.0").reference;
    let v2 = run.push(&registry, "shown", "1.1.0").reference;
    let old = run.run("shown", &v1, &[]);
    let store = fresh_store_dir();
    let env = env_for(
        &old.name,
        store.to_str().expect("UTF-8 path"),
        &[("TIDEWATCH_TRIGGER_DOCKER_LOCAL_AUTO", "true")],
    );
    let out = tidewatch(&["run", "--once", "--json"], &borrowed(&env));
    let json: serde_json::Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|err| panic!("not JSON ({err}):\n{out}"));
    let row = json["containers"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["name"] == old.name.as_str()))
        .unwrap_or_else(|| panic!("not listed:\n{out}"));
    let now = run.inspect(&old.name, "{{.Id}}");
    assert_ne!(now, old.id, "updated: {out}");
    assert_eq!(row["id"], now.as_str(), "{row}");
    assert_eq!(row["image"], v2.as_str(), "{row}");
    assert_eq!(row["status"], "up-to-date", "{row}");
}

/// An image pushed to two repositories has two repo digests; the table's DIGEST column shows
/// the one of the repository the container's reference names.
#[test]
fn the_table_shows_the_one_digest_checked() {
    let run = TestRun::new();
    let registry = run.registry();
    let pushed = run.push(&registry, "twice", "1.0.0");
    let mirror = registry.reference("mirror", "1.0.0");
    run.tag(&pushed.reference, &mirror);
    run.docker(&["push", &mirror]);
    let container = run.run("twice", &pushed.reference, &[]);
    let digests = run.inspect(&pushed.reference, "{{len .RepoDigests}}");
    assert_eq!(digests, "2", "the image has a digest per repository");
    let out = tidewatch(&["check"], &[]);
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains(&container.name))
        .unwrap_or_else(|| panic!("not listed:\n{out}"));
    let short = &pushed.digest["sha256:".len().."sha256:".len() + 12];
    assert!(line.contains(short), "{line}\n{out}");
    assert!(!line.contains(','), "one digest only: {line}");
}

// 10. A check that waits on a registry that hangs shows, on a terminal, how far it is and
// which registry it waits for.

#[test]
fn a_check_waiting_on_a_hanging_registry_shows_its_progress_on_a_terminal() {
    use crate::support::rogue::{Reply, Rogue};
    use std::io::Read;
    let run = TestRun::new();
    let rogue = Rogue::start();
    rogue.route("GET", "/v2/app/tags/list", vec![Reply::DripHead]);
    // Pushed somewhere (so it has a repo digest and is worth a question), then run under a
    // version tag of the hanging registry: its tags are asked there.
    let registry = run.registry();
    let pushed = run.push(&registry, "hangs", "1.0.0");
    let reference = format!("{}/app:1.0.0", rogue.addr());
    run.tag(&pushed.reference, &reference);
    run.run_with(
        "hangs",
        &["--label", "tidewatch.watch=true"],
        &reference,
        &[],
    );
    let store = fresh_store_dir();
    // `script` gives the check a terminal, and passes on what it writes.
    let command = format!("{} check", env!("CARGO_BIN_EXE_tidewatch"));
    let mut child = std::process::Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .env("TIDEWATCH_STORE_PATH", &store)
        .env("TIDEWATCH_WATCHER_LOCAL_WATCHBYDEFAULT", "false")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("script runs");
    let mut stdout = child.stdout.take().expect("piped");
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let reader = {
        let seen = seen.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                seen.lock().unwrap().extend_from_slice(&buffer[..n]);
            }
        })
    };
    let wanted = format!("containers done; waiting on {} (", rogue.addr());
    let text = || String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    let shown = wait_until(Duration::from_secs(40), || text().contains(&wanted));
    kill(child);
    let _ = reader.join();
    assert!(shown, "no progress naming the registry:\n{}", text());
}
