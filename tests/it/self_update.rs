//! tidewatch updating the container it runs in: an image of tidewatch itself (this build's
//! binary with the libraries it links) in the loopback registry, run as a container with the
//! engine's socket, a newer tag pushed: the successor takes the name and removes its
//! predecessor.

use crate::support::TestRun;
use std::path::Path;
use std::time::{Duration, Instant};

/// Builds `reference`: the tidewatch binary under test, the C libraries it links, `/tmp`, and
/// `/version`. Labelled with the run, so it is removed with it.
fn tidewatch_image(run: &TestRun, dir: &Path, reference: &str, version: &str) {
    tidewatch_image_with(run, dir, reference, version, "[\"run\"]");
}

/// As [`tidewatch_image`], with `cmd` (JSON) as the image's command.
fn tidewatch_image_with(run: &TestRun, dir: &Path, reference: &str, version: &str, cmd: &str) {
    let root = dir.join(version);
    for sub in ["lib/x86_64-linux-gnu", "lib64", "tmp", "etc/ssl/certs"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    std::fs::copy(env!("CARGO_BIN_EXE_tidewatch"), root.join("tidewatch")).unwrap();
    for lib in ["libgcc_s.so.1", "libm.so.6", "libc.so.6"] {
        std::fs::copy(
            Path::new("/lib/x86_64-linux-gnu").join(lib),
            root.join("lib/x86_64-linux-gnu").join(lib),
        )
        .unwrap();
    }
    std::fs::copy(
        "/lib64/ld-linux-x86-64.so.2",
        root.join("lib64/ld-linux-x86-64.so.2"),
    )
    .unwrap();
    // As the published image has them: the registry client trusts the system's roots.
    std::fs::copy(
        "/etc/ssl/certs/ca-certificates.crt",
        root.join("etc/ssl/certs/ca-certificates.crt"),
    )
    .unwrap();
    std::fs::write(root.join("version"), format!("{version}\n")).unwrap();
    let tar = dir.join(format!("{version}.tar"));
    let status = std::process::Command::new("tar")
        .arg("-cf")
        .arg(&tar)
        .args(["--owner=0", "--group=0", "-C"])
        .arg(&root)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
    run.docker(&[
        "import",
        "--change",
        "ENTRYPOINT [\"/tidewatch\"]",
        "--change",
        &format!("CMD {cmd}"),
        "--change",
        &format!("LABEL {}", run.label()),
        tar.to_str().unwrap(),
        reference,
    ]);
    run.docker(&["push", reference]);
}

/// These tests pack the host's glibc into the image: without Debian's x86_64 layout they
/// cannot, and must say so rather than pass.
fn require_debian_glibc() {
    if !Path::new("/lib/x86_64-linux-gnu/libc.so.6").exists() {
        panic!("this test packs the host's glibc: it expects Debian's x86_64 layout");
    }
}

/// `docker VERB` (`run -d` or `create`) of a tidewatch container as a user runs it: named
/// `name`, labelled with the run, on the host's network with the engine's socket, with `env`
/// (`KEY=value` each) and `image`. Returns its ID.
fn tidewatch_container(
    run: &TestRun,
    verb: &[&str],
    name: &str,
    env: &[&str],
    image: &str,
) -> String {
    let label = run.label();
    // Only this test's containers: a watcher over the whole shared engine checks other tests'
    // images against their registries, and their request counts with them.
    let watched = format!("TIDEWATCH_WATCHER_LOCAL_INCLUDE={}", run.own_names());
    let mut args = verb.to_vec();
    args.extend([
        "--name",
        name,
        "--label",
        &label,
        "--network",
        "host",
        "-v",
        "/var/run/docker.sock:/var/run/docker.sock",
    ]);
    args.extend(["-e", &watched]);
    for var in env {
        args.extend(["-e", var]);
    }
    args.push(image);
    run.docker(&args)
}

/// `ID NAME STATE` (full IDs) of every container whose name holds `name`.
fn holders_of(run: &TestRun, name: &str) -> String {
    run.docker(&[
        "ps",
        "--all",
        "--no-trunc",
        "--format",
        "{{.ID}} {{.Names}} {{.State}}",
        "--filter",
        &format!("name={name}"),
    ])
}

#[test]
fn tidewatch_updates_its_own_container_and_the_successor_removes_the_old_one() {
    require_debian_glibc();
    let run = TestRun::new();
    let registry = run.registry();
    let dir = tempfile::tempdir().unwrap();
    let v1 = registry.reference("tidewatch", "1.0.0");
    let v2 = registry.reference("tidewatch", "1.1.0");
    tidewatch_image(&run, dir.path(), &v1, "1.0.0");
    let name = run.name("self");
    let include = format!("TIDEWATCH_TRIGGER_DOCKER_SELF_INCLUDE={name}");
    let id = tidewatch_container(
        &run,
        &["run", "-d"],
        &name,
        &[
            &include,
            "TIDEWATCH_TRIGGER_DOCKER_SELF_SETTLE=1",
            "TIDEWATCH_STORE_PATH=/tmp/store",
            // On the host's network, tests running together would share port 3000.
            "TIDEWATCH_SERVER_ENABLED=false",
            "TIDEWATCH_WATCHER_LOCAL_CRON=*/2 * * * * *",
            "TIDEWATCH_WATCHER_LOCAL_JITTER=0",
            "TIDEWATCH_WATCHER_LOCAL_WATCHEVENTS=false",
        ],
        &v1,
    );
    // Running, on the old image, before there is anything newer.
    std::thread::sleep(Duration::from_secs(3));
    let state = run.inspect(&name, "{{.Id}} {{.State.Running}}");
    if state != format!("{id} true") {
        let logs = run.docker_output(&["logs", "--tail", "40", &name]);
        panic!("not running: {state}\n{}{}", logs.stdout, logs.stderr);
    }

    tidewatch_image(&run, dir.path(), &v2, "1.1.0");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = run.docker_output(&[
            "inspect",
            "--format",
            "{{.Id}} {{.State.Running}} {{.Config.Image}}",
            &name,
        ]);
        let old_gone = !run.docker_output(&["inspect", &id]).success();
        if now.success() && now.stdout.trim() != format!("{id} true {v1}") && old_gone {
            let fields: Vec<&str> = now.stdout.split_whitespace().collect();
            assert_eq!(fields[1..], ["true", v2.as_str()], "{}", now.stdout);
            break;
        }
        if Instant::now() > deadline {
            let logs = run.docker_output(&["logs", "--tail", "40", &name]);
            panic!(
                "no successor within 60 s: {} (old gone: {old_gone})\n{}{}",
                now.stdout, logs.stdout, logs.stderr
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn a_successor_that_dies_at_start_is_removed_and_tidewatch_keeps_its_name() {
    require_debian_glibc();
    let run = TestRun::new();
    let registry = run.registry();
    let dir = tempfile::tempdir().unwrap();
    let v1 = registry.reference("tidewatch", "1.0.0");
    let v2 = registry.reference("tidewatch", "1.1.0");
    tidewatch_image(&run, dir.path(), &v1, "1.0.0");
    // A successor that exits at once (an argument it does not know), before it takes over.
    tidewatch_image_with(
        &run,
        dir.path(),
        &v2,
        "1.1.0",
        "[\"run\", \"--no-such-flag\"]",
    );
    let name = run.name("self");
    let include = format!("TIDEWATCH_TRIGGER_DOCKER_SELF_INCLUDE={name}");
    // One check, at start (the schedule is yearly): one update attempt.
    let id = tidewatch_container(
        &run,
        &["run", "-d"],
        &name,
        &[
            &include,
            "TIDEWATCH_TRIGGER_DOCKER_SELF_SETTLE=2",
            "TIDEWATCH_STORE_PATH=/tmp/store",
            // On the host's network, tests running together would share port 3000.
            "TIDEWATCH_SERVER_ENABLED=false",
            "TIDEWATCH_WATCHER_LOCAL_CRON=0 0 0 1 1 *",
            "TIDEWATCH_WATCHER_LOCAL_WATCHEVENTS=false",
        ],
        &v1,
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let logs = loop {
        let logs = run.docker_output(&["logs", &name]);
        let logs = format!("{}{}", logs.stdout, logs.stderr);
        if logs.contains("The successor failed") {
            break logs;
        }
        assert!(
            Instant::now() < deadline,
            "no verdict on the successor:\n{logs}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    // The rollback finishes right after that line: the successor removed, the name back.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let named = holders_of(&run, &name);
        if named == format!("{id} {name} running") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "tidewatch did not get its name back: {named}\n{logs}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn an_instance_killed_while_its_successor_failed_takes_its_name_back_at_its_next_start() {
    require_debian_glibc();
    let run = TestRun::new();
    let registry = run.registry();
    let dir = tempfile::tempdir().unwrap();
    let v1 = registry.reference("tidewatch", "1.0.0");
    tidewatch_image(&run, dir.path(), &v1, "1.0.0");
    let name = run.name("self");
    let aside = format!("{name}-tidewatch-old");
    let label = run.label();
    // What a kill of tidewatch while it watched a failing successor leaves: itself renamed
    // aside, and under its name a successor that exited before taking over.
    let old = tidewatch_container(
        &run,
        &["create"],
        &aside,
        &[
            "TIDEWATCH_STORE_PATH=/tmp/store",
            // On the host's network, tests running together would share port 3000.
            "TIDEWATCH_SERVER_ENABLED=false",
            "TIDEWATCH_WATCHER_LOCAL_CRON=0 0 0 1 1 *",
            "TIDEWATCH_WATCHER_LOCAL_WATCHEVENTS=false",
        ],
        &v1,
    );
    let succeeds = format!("TIDEWATCH_SUCCEEDS={old}");
    let successor = run.docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "--label",
        &label,
        "-e",
        &succeeds,
        &v1,
        "run",
        "--no-such-flag",
    ]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while run.inspect(&successor, "{{.State.Running}}") == "true" {
        assert!(Instant::now() < deadline, "the successor does not exit");
        std::thread::sleep(Duration::from_millis(200));
    }

    run.docker(&["start", &old]);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let named = holders_of(&run, &name);
        if named == format!("{old} {name} running") {
            break;
        }
        if Instant::now() > deadline {
            let logs = run.docker_output(&["logs", "--tail", "40", &old]);
            panic!(
                "the name was not taken back: {named}\n{}{}",
                logs.stdout, logs.stderr
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(!run.docker_output(&["inspect", &successor]).success());
}
