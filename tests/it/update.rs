//! The docker trigger end to end: `tidewatch run --once` finds an update in the loopback
//! registry and re-creates the container on it, keeping what the user configured, or puts the
//! old container back when the new one does not work.
//!
//! Each test limits the trigger to its own container (`INCLUDE`): the engine is shared with
//! every other test running in parallel.

use crate::support::events::EventLog;
use crate::support::update::{
    assert_untouched, docker_trigger_env, foreign_lease, history_events, lease_exists,
};
use crate::support::{ImageSpec, TestRun, fresh_store_dir, tidewatch};

#[test]
fn an_update_moves_the_container_to_the_new_tag_keeping_its_configuration() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "moving", "1.0.0");
    let v2 = run.push(&registry, "moving", "1.1.0");
    let old = run.run_with(
        "moving",
        &[
            "-e",
            "USER_SETTING=kept",
            "--label",
            "user.label=kept",
            "-p",
            "127.0.0.1::8080",
            "--restart",
            "unless-stopped",
        ],
        &v1.reference,
        &[],
    );
    let dir = fresh_store_dir();
    let store = dir.to_str().unwrap();

    let out = tidewatch(&["run", "--once"], &docker_trigger_env(&old.name, store));
    assert!(out.stderr.contains("Updated."), "{out}");

    let format = "{{.Id}} {{.State.Running}} {{.Config.Image}} {{.HostConfig.RestartPolicy.Name}}";
    let after = run.inspect(&old.name, format);
    let fields: Vec<&str> = after.split_whitespace().collect();
    assert_ne!(fields[0], old.id, "a new container under the old name");
    assert_eq!(fields[1], "true");
    assert_eq!(
        fields[2], v2.reference,
        "the new tag, spelt as the user spelt the old"
    );
    assert_eq!(fields[3], "unless-stopped");
    let env = run.inspect(&old.name, "{{json .Config.Env}}");
    assert!(env.contains("USER_SETTING=kept"), "{env}");
    assert_eq!(
        run.inspect(&old.name, "{{index .Config.Labels \"user.label\"}}"),
        "kept"
    );
    let version = run.docker(&["exec", &old.name, "cat", "/version"]);
    assert_eq!(version.trim(), "1.1.0");
    let new = crate::support::Container {
        name: old.name.clone(),
        id: fields[0].to_string(),
    };
    // A published port without a fixed host port gets a new one; that it is published at all is
    // what is kept.
    assert!(run.port(&new, "8080/tcp") > 0);
    let gone = run.docker_output(&["inspect", &old.id]);
    assert!(!gone.success(), "the old container is removed");
    let aside = run.docker_output(&["inspect", &format!("{}-tidewatch-old", old.name)]);
    assert!(!aside.success(), "nothing left aside");

    let events = history_events(store, &old.name);
    assert!(
        events
            .iter()
            .any(|(e, d)| e == "update-applied" && d.contains("1.1.0")),
        "{events:?}"
    );
}

#[test]
fn a_new_image_that_exits_at_once_is_rolled_back_to_the_same_container() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "broken", "1.0.0");
    run.push_spec(
        &registry,
        "broken",
        "1.1.0",
        &ImageSpec::version("1.1.0").cmd(&["sh", "-c", "exit 3"]),
    );
    let old = run.run("broken", &v1.reference, &[]);
    let dir = fresh_store_dir();
    let store = dir.to_str().unwrap();

    let out = tidewatch(&["run", "--once"], &docker_trigger_env(&old.name, store));
    assert!(
        out.stderr.contains("putting the old container back"),
        "{out}"
    );

    assert_untouched(&run, &old, &v1.reference, &out);
    let events = history_events(store, &old.name);
    assert!(
        events
            .iter()
            .any(|(e, d)| e == "rolled-back" && d.contains("exit code 3")),
        "{events:?}"
    );
}

#[test]
fn monitor_only_containers_are_told_about_never_touched() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "watched", "1.0.0");
    run.push(&registry, "watched", "1.1.0");
    let old = run.run_with(
        "watched",
        &[
            "--label",
            "com.centurylinklabs.watchtower.monitor-only=true",
        ],
        &v1.reference,
        &[],
    );
    let dir = fresh_store_dir();
    let store = dir.to_str().unwrap();
    let out = tidewatch(
        &["run", "--once", "--json"],
        &docker_trigger_env(&old.name, store),
    );
    assert!(out.stdout.contains("update-available"), "{out}");
    assert_eq!(run.inspect(&old.name, "{{.Id}}"), old.id, "untouched");
}

#[test]
fn with_auto_off_updates_wait_for_tidewatch_update_and_plan_says_so() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "manual", "1.0.0");
    let v2 = run.push(&registry, "manual", "2.0.0");
    let old = run.run("manual", &v1.reference, &[]);
    let dir = fresh_store_dir();
    let store = dir.to_str().unwrap();
    let mut env = docker_trigger_env(&old.name, store);
    env.push(("TIDEWATCH_TRIGGER_DOCKER_LOCAL_AUTO", "false"));

    tidewatch(&["run", "--once"], &env);
    assert_eq!(
        run.inspect(&old.name, "{{.Id}}"),
        old.id,
        "auto off: untouched"
    );

    let plan = tidewatch(&["plan"], &env);
    assert!(plan.status.success(), "{plan}");
    let line = plan
        .stdout
        .lines()
        .find(|l| l.contains(&old.name))
        .unwrap_or_else(|| panic!("{plan}"));
    assert!(
        line.contains("(major)") && line.contains("auto is off"),
        "{line}"
    );

    let out = tidewatch(&["update", &old.name], &env);
    assert!(out.status.success(), "{out}");
    assert!(
        out.stdout.contains(&format!("{}: updated", old.name)),
        "{out}"
    );
    assert_eq!(run.inspect(&old.name, "{{.Config.Image}}"), v2.reference);

    let again = tidewatch(&["update", &old.name], &env);
    assert!(again.stdout.contains("up to date"), "{again}");
}

#[test]
fn anonymous_volumes_move_to_the_new_container_with_their_data() {
    let run = TestRun::new();
    let registry = run.registry();
    let with_volume = |version: &str| ImageSpec::version(version).change("VOLUME /data");
    let v1 = run.push_spec(&registry, "keeper", "1.0.0", &with_volume("1.0.0"));
    run.push_spec(&registry, "keeper", "1.1.0", &with_volume("1.1.0"));
    let old = run.run_with("keeper", &["-v", "/scratch"], &v1.reference, &[]);
    run.docker(&[
        "exec",
        &old.name,
        "sh",
        "-c",
        "echo precious > /data/db && echo too > /scratch/x",
    ]);
    let dir = fresh_store_dir();
    let store = dir.to_str().unwrap();

    let out = tidewatch(&["run", "--once"], &docker_trigger_env(&old.name, store));
    assert!(out.stderr.contains("Updated."), "{out}");
    assert_ne!(run.inspect(&old.name, "{{.Id}}"), old.id);
    let data = run.docker(&["exec", &old.name, "cat", "/data/db", "/scratch/x"]);
    assert_eq!(
        data.split_whitespace().collect::<Vec<_>>(),
        ["precious", "too"]
    );
}

#[test]
fn an_update_killed_during_its_health_gate_is_undone_at_the_next_start() {
    use std::io::{BufRead, BufReader};
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "crash", "1.0.0");
    run.push(&registry, "crash", "1.1.0");
    let old = run.run("crash", &v1.reference, &[]);
    let dir = fresh_store_dir();
    let store = dir.to_str().unwrap();
    let mut env = docker_trigger_env(&old.name, store);
    // A gate long enough to be killed in, and no update of its own at the next start.
    env.retain(|(k, _)| *k != "TIDEWATCH_TRIGGER_DOCKER_LOCAL_SETTLE");
    env.push(("TIDEWATCH_TRIGGER_DOCKER_LOCAL_SETTLE", "60"));
    env.push(("TIDEWATCH_TRIGGER_DOCKER_LOCAL_AUTO", "false"));

    let mut child = crate::support::tidewatch_command(&["update", &old.name], &env)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start tidewatch update");
    let stderr = child.stderr.take().expect("piped");
    let mut seen = Vec::new();
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        let gating = line.contains("waiting for the health gate");
        seen.push(line);
        if gating {
            break;
        }
    }
    assert!(
        seen.iter().any(|l| l.contains("health gate")),
        "never reached the gate:\n{}",
        seen.join("\n")
    );
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    // Mid-update: the new container holds the name, the old one waits aside, stopped.
    assert_ne!(run.inspect(&old.name, "{{.Id}}"), old.id);
    assert_eq!(
        run.inspect(&old.id, "{{.Name}}"),
        format!("/{}-tidewatch-old", old.name)
    );

    let out = tidewatch(&["run", "--once"], &env);
    assert!(
        out.stderr.contains("undone; the old container is back"),
        "{out}"
    );
    assert_untouched(&run, &old, &v1.reference, &out);
}

/// A dependent is stopped and started around its dependency's update under its own lease, as an
/// update is: one another instance holds is left running, and the dependency is still updated.
#[test]
fn a_dependent_another_instance_holds_is_left_running_and_one_stopped_is_leased() {
    let run = TestRun::new();
    let registry = run.registry();
    let db1 = run.push(&registry, "db", "1.0.0");
    run.push(&registry, "db", "1.1.0");
    let app_image = run.push(&registry, "app", "1.0.0");
    let db = run.run("db", &db1.reference, &[]);
    let depends = format!("tidewatch.depends-on={}", db.name);
    let app = run.run_with("app", &["--label", &depends], &app_image.reference, &[]);
    let volume = foreign_lease(&run, &app.name);
    let started = run.inspect(&app.name, "{{.State.StartedAt}}");
    let dir = fresh_store_dir();
    let store = dir.to_str().unwrap();

    let out = tidewatch(&["run", "--once"], &docker_trigger_env(&db.name, store));
    assert!(out.stderr.contains("Updated."), "{out}");
    assert!(
        out.stderr
            .contains("Dependent left running: its lease is not this instance's."),
        "{out}"
    );
    assert_eq!(
        run.inspect(&db.name, "{{.Config.Image}}"),
        registry.reference("db", "1.1.0")
    );
    assert_eq!(
        run.inspect(&app.name, "{{.State.StartedAt}}"),
        started,
        "never stopped: {out}"
    );

    // Theirs gone: the next update stops and starts it under its own lease, then gives it back.
    run.docker(&["volume", "rm", &volume]);
    run.push(&registry, "db", "1.2.0");
    let recording = EventLog::starts_and_stops(&run);
    let out = tidewatch(&["run", "--once"], &docker_trigger_env(&db.name, store));
    assert!(out.stderr.contains("Updated."), "{out}");
    let events = recording.stop();
    assert!(
        events.contains(&format!("{} stop", app.name))
            && events.contains(&format!("{} start", app.name)),
        "{events:#?}\n{out}"
    );
    assert_eq!(run.inspect(&app.name, "{{.State.Running}}"), "true");
    assert!(
        !lease_exists(&run, &app.name),
        "the lease is released: {out}"
    );
}

#[test]
fn a_linked_container_is_stopped_before_its_dependency_and_started_again_after() {
    let run = TestRun::new();
    let registry = run.registry();
    let db1 = run.push(&registry, "db", "1.0.0");
    run.push(&registry, "db", "1.1.0");
    let app_image = run.push(&registry, "app", "1.0.0");
    let db = run.run("db", &db1.reference, &[]);
    let app = run.run_with(
        "app",
        &["--link", &format!("{}:db", db.name)],
        &app_image.reference,
        &[],
    );
    let dir = fresh_store_dir();
    let store = dir.to_str().unwrap();
    let plan = tidewatch(&["plan"], &docker_trigger_env(&db.name, store));
    assert!(
        plan.stdout.contains(&format!(
            "local: in this order: {}, {} (depends on an update",
            db.name, app.name
        )),
        "{plan}"
    );
    let recording = EventLog::starts_and_stops(&run);

    let out = tidewatch(&["run", "--once"], &docker_trigger_env(&db.name, store));
    assert!(out.stderr.contains("Updated."), "{out}");

    let events = recording.stop();
    let lines: Vec<&str> = events
        .iter()
        .map(String::as_str)
        .filter(|l| l.starts_with(&db.name) || l.starts_with(&app.name))
        .collect();
    let position = |wanted: &str| {
        lines
            .iter()
            .position(|l| *l == wanted)
            .unwrap_or_else(|| panic!("no {wanted:?} in {lines:#?}\n{out}"))
    };
    let app_stop = position(&format!("{} stop", app.name));
    let db_stop = position(&format!("{}-tidewatch-old stop", db.name));
    let db_start = position(&format!("{} start", db.name));
    let app_start = position(&format!("{} start", app.name));
    assert!(
        app_stop < db_stop && db_stop < db_start && db_start < app_start,
        "{lines:#?}"
    );

    // The app is back, re-created (a legacy link binds to the container it was made with, as
    // Watchtower also has it), and its link names the new db.
    assert_eq!(run.inspect(&app.name, "{{.State.Running}}"), "true");
    let new_db_ip = run.inspect(&db.name, "{{.NetworkSettings.IPAddress}}");
    let hosts = run.docker(&["exec", &app.name, "cat", "/etc/hosts"]);
    assert!(
        hosts
            .lines()
            .any(|l| l.starts_with(new_db_ip.trim()) && l.contains("db")),
        "{hosts}"
    );
}

#[test]
fn a_container_sharing_the_network_stack_of_an_updated_one_follows_it() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "stack", "1.0.0");
    run.push(&registry, "stack", "1.1.0");
    let sidecar_image = run.push(&registry, "sidecar", "1.0.0");
    let provider = run.run("stack", &v1.reference, &[]);
    let sidecar = run.run_with(
        "sidecar",
        &["--network", &format!("container:{}", provider.name)],
        &sidecar_image.reference,
        &[],
    );
    let dir = fresh_store_dir();
    let store = dir.to_str().unwrap();

    let out = tidewatch(
        &["run", "--once"],
        &docker_trigger_env(&provider.name, store),
    );
    assert!(out.stderr.contains("Updated."), "{out}");

    let new_provider = run.inspect(&provider.name, "{{.Id}}");
    assert_ne!(new_provider, provider.id);
    assert_eq!(
        run.inspect(
            &sidecar.name,
            "{{.State.Running}} {{.HostConfig.NetworkMode}}"
        ),
        format!("true container:{new_provider}"),
        "{out}"
    );
}

#[test]
fn lifecycle_hooks_run_inside_the_containers_and_exit_75_skips_the_update() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "hooked", "1.0.0");
    run.push(&registry, "hooked", "1.1.0");
    let skipping = run.run_with(
        "skipping",
        &[
            "--label",
            "com.centurylinklabs.watchtower.lifecycle.pre-update=exit 75",
        ],
        &v1.reference,
        &[],
    );
    let hooked = run.run_with(
        "hooked",
        &[
            "--label",
            "com.centurylinklabs.watchtower.lifecycle.pre-update=echo pre > /tmp/pre",
            "--label",
            "com.centurylinklabs.watchtower.lifecycle.post-update=cat /version > /tmp/post",
        ],
        &v1.reference,
        &[],
    );
    let dir = fresh_store_dir();
    let store = dir.to_str().unwrap();
    let include = format!("{}|{}", skipping.name, hooked.name);
    let mut env = docker_trigger_env(&include, store);
    env.push(("TIDEWATCH_TRIGGER_DOCKER_LOCAL_LIFECYCLEHOOKS", "true"));

    let out = tidewatch(&["run", "--once"], &env);
    assert_eq!(run.inspect(&skipping.name, "{{.Id}}"), skipping.id, "{out}");
    let skipped = history_events(store, &skipping.name);
    assert!(
        skipped
            .iter()
            .any(|(e, d)| e == "update-skipped" && d.contains("exit 75")),
        "{skipped:?}"
    );
    assert_ne!(run.inspect(&hooked.name, "{{.Id}}"), hooked.id, "{out}");
    let post = run.docker(&["exec", &hooked.name, "cat", "/tmp/post"]);
    assert_eq!(post.trim(), "1.1.0", "post-update ran in the new container");

    // Asked for by name, the skip is said as a skip, and it is not a failure.
    let out = tidewatch(&["update", &skipping.name], &env);
    assert!(out.success(), "{out}");
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with(&format!("{}: skipped, ", skipping.name))
                && l.contains("exit 75")),
        "{out}"
    );
    assert_eq!(run.inspect(&skipping.name, "{{.Id}}"), skipping.id, "{out}");
}

#[test]
fn start_first_starts_the_new_container_before_the_old_one_stops() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "svc", "1.0.0");
    run.push(&registry, "svc", "1.1.0");
    let network = run.name("net");
    let label = run.label();
    run.docker(&["network", "create", "--label", &label, &network]);
    let old = run.run_with(
        "svc",
        &[
            "--network",
            &network,
            "--network-alias",
            "api",
            "--label",
            "tidewatch.update.order=start-first",
        ],
        &v1.reference,
        &[],
    );
    let recording = EventLog::starts_and_stops(&run);
    let dir = fresh_store_dir();
    let store = dir.to_str().unwrap();

    let out = tidewatch(&["run", "--once"], &docker_trigger_env(&old.name, store));
    assert!(out.stderr.contains("beside the old one"), "{out}");
    let events = recording.stop();
    let lines: Vec<&str> = events
        .iter()
        .map(String::as_str)
        .filter(|l| l.starts_with(&old.name))
        .collect();
    assert_eq!(
        lines,
        [
            format!("{}-tidewatch-new start", old.name),
            format!("{} stop", old.name)
        ],
        "{out}"
    );
    assert_eq!(
        run.inspect(&old.name, "{{.State.Running}} {{.Config.Image}}"),
        format!("true {}", v1.reference.replace("1.0.0", "1.1.0"))
    );
    let aliases = run.inspect(
        &old.name,
        &format!("{{{{json (index .NetworkSettings.Networks \"{network}\").Aliases}}}}"),
    );
    assert!(aliases.contains("\"api\""), "{aliases}");
}

#[test]
fn revive_stopped_starts_the_successor_of_a_stopped_container() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "sleeper", "1.0.0");
    run.push(&registry, "sleeper", "1.1.0");
    let old = run.run("sleeper", &v1.reference, &[]);
    run.stop(&old);
    let dir = fresh_store_dir();
    let store = dir.to_str().unwrap();
    let mut env = docker_trigger_env(&old.name, store);
    env.push(("TIDEWATCH_WATCHER_LOCAL_WATCHALL", "true"));
    // Without revivestopped: updated, and left stopped as it was.
    tidewatch(&["run", "--once"], &env);
    assert_eq!(run.inspect(&old.name, "{{.State.Running}}"), "false");
    assert_ne!(run.inspect(&old.name, "{{.Id}}"), old.id);

    run.push(&registry, "sleeper", "1.2.0");
    env.push(("TIDEWATCH_TRIGGER_DOCKER_LOCAL_REVIVESTOPPED", "true"));
    let out = tidewatch(&["run", "--once"], &env);
    assert_eq!(
        run.inspect(&old.name, "{{.State.Running}} {{.Config.Image}}"),
        format!("true {}", v1.reference.replace("1.0.0", "1.2.0")),
        "{out}"
    );
}

#[test]
fn a_new_container_whose_health_check_fails_is_rolled_back() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "healthy", "1.0.0");
    run.push(&registry, "healthy", "1.1.0");
    // Healthy only on 1.0.0: the user's health check says so, and the successor inherits it.
    let old = run.run_with(
        "healthy",
        &[
            "--health-cmd",
            "grep -q 1.0.0 /version",
            "--health-interval",
            "1s",
            "--health-retries",
            "1",
        ],
        &v1.reference,
        &[],
    );
    let dir = fresh_store_dir();
    let store = dir.to_str().unwrap();
    let mut env = docker_trigger_env(&old.name, store);
    env.push(("TIDEWATCH_TRIGGER_DOCKER_LOCAL_HEALTHTIMEOUT", "20"));
    let out = tidewatch(&["run", "--once"], &env);
    assert_eq!(
        run.inspect(&old.name, "{{.Id}} {{.State.Running}}"),
        format!("{} true", old.id),
        "{out}"
    );
    let events = history_events(store, &old.name);
    assert!(
        events
            .iter()
            .any(|(e, d)| e == "rolled-back" && d.contains("health check failed")),
        "{events:?}\n{out}"
    );
}

#[test]
fn norestart_re_creates_the_container_and_leaves_it_stopped() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "managed", "1.0.0");
    run.push(&registry, "managed", "1.1.0");
    let old = run.run("managed", &v1.reference, &[]);
    let dir = fresh_store_dir();
    let store = dir.to_str().unwrap();
    let mut env = docker_trigger_env(&old.name, store);
    env.push(("TIDEWATCH_TRIGGER_DOCKER_LOCAL_NORESTART", "true"));
    let out = tidewatch(&["run", "--once"], &env);
    assert_eq!(
        run.inspect(&old.name, "{{.State.Running}} {{.Config.Image}}"),
        format!("false {}", v1.reference.replace("1.0.0", "1.1.0")),
        "{out}"
    );
    assert!(!run.docker_output(&["inspect", &old.id]).success());
}
