//! What a container is after the docker trigger re-created it: each test sets up a container
//! the way a user would, lets `tidewatch run --once` update it through the real path (pull,
//! rename aside, stop, create, start, health gate, remove), and compares the engine's inspect
//! before and after.
//!
//! Each test limits the trigger to its own containers (`INCLUDE`): the engine is shared with
//! every other test running in parallel.

use crate::support::{ImageSpec, TestRun, fresh_store_dir, tidewatch};

/// The docker trigger on the local engine, limited to `include` (a regex of names), with a
/// short settle time and stop timeout.
pub fn trigger_env<'a>(include: &'a str, store: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("TIDEWATCH_TRIGGER_DOCKER_LOCAL_INCLUDE", include),
        ("TIDEWATCH_TRIGGER_DOCKER_LOCAL_SETTLE", "2"),
        ("TIDEWATCH_TRIGGER_DOCKER_LOCAL_STOPTIMEOUT", "1"),
        ("TIDEWATCH_STORE_PATH", store),
    ]
}

/// `tidewatch run --once` with the docker trigger limited to `include`, and `extra` variables.
pub fn update_once(include: &str, extra: &[(&str, &str)]) -> crate::support::Output {
    let dir = fresh_store_dir();
    let store = dir.to_str().expect("a UTF-8 path");
    let mut env = trigger_env(include, store);
    env.extend_from_slice(extra);
    tidewatch(&["run", "--once"], &env)
}

#[test]
fn anonymous_volumes_declared_with_mount_move_with_their_data() {
    let run = TestRun::new();
    let registry = run.registry();
    let with_volume = |version: &str| ImageSpec::version(version).change("VOLUME /data");
    let v1 = run.push_spec(&registry, "mounted", "1.0.0", &with_volume("1.0.0"));
    run.push_spec(&registry, "mounted", "1.1.0", &with_volume("1.1.0"));
    // `--mount type=volume,dst=…` is what compose v2 sends for `volumes: [/x]`: a
    // `HostConfig.Mounts` entry of type volume without a source. The image's own VOLUME is
    // declared that way too, as compose v2 does.
    let old = run.run_with(
        "mounted",
        &[
            "--mount",
            "type=volume,dst=/x",
            "--mount",
            "type=volume,dst=/data",
            "-v",
            "/scratch",
        ],
        &v1.reference,
        &[],
    );
    run.docker(&[
        "exec",
        &old.name,
        "sh",
        "-c",
        "echo one > /x/f && echo two > /data/f && echo three > /scratch/f",
    ]);
    let volumes = |name: &str| {
        let mut names: Vec<String> = run
            .inspect(name, "{{range .Mounts}}{{.Destination}}={{.Name}} {{end}}")
            .split_whitespace()
            .map(str::to_string)
            .collect();
        names.sort();
        names
    };
    let before = volumes(&old.name);
    assert_eq!(before.len(), 3, "{before:?}");

    let out = update_once(&old.name, &[]);
    assert!(out.stderr.contains("Updated."), "{out}");
    assert_ne!(run.inspect(&old.name, "{{.Id}}"), old.id, "{out}");
    let data = run.docker(&["exec", &old.name, "cat", "/x/f", "/data/f", "/scratch/f"]);
    assert_eq!(
        data.split_whitespace().collect::<Vec<_>>(),
        ["one", "two", "three"]
    );
    assert_eq!(volumes(&old.name), before, "the same volumes, not copies");
    let mounts = run.inspect(&old.name, "{{json .HostConfig.Mounts}}");
    assert!(
        mounts.contains("\"Target\":\"/x\"") && mounts.contains("\"Type\":\"volume\""),
        "still declared as a mount: {mounts}"
    );
}

#[test]
fn a_new_image_without_a_health_check_passes_the_gate_by_staying_up() {
    let run = TestRun::new();
    let registry = run.registry();
    let checked = ImageSpec::version("1.0.0").change("HEALTHCHECK --interval=1s CMD true");
    let v1 = run.push_spec(&registry, "dropcheck", "1.0.0", &checked);
    let v2 = run.push(&registry, "dropcheck", "1.1.0");
    let old = run.run("dropcheck", &v1.reference, &[]);

    // Waiting for a health that never comes would time out and roll back.
    let out = update_once(
        &old.name,
        &[("TIDEWATCH_TRIGGER_DOCKER_LOCAL_HEALTHTIMEOUT", "20")],
    );
    assert!(out.stderr.contains("Updated."), "{out}");
    assert_eq!(
        run.inspect(
            &old.name,
            "{{.State.Running}} {{.Config.Image}} {{.State.Health}}"
        ),
        format!("true {} <nil>", v2.reference),
        "{out}"
    );
    assert!(!run.docker_output(&["inspect", &old.id]).success());
}

#[test]
fn a_container_run_with_no_healthcheck_is_not_gated_on_its_images_check() {
    let run = TestRun::new();
    let registry = run.registry();
    // A check that could never pass: were it run, or waited for, the update would roll back.
    let failing = |version: &str| {
        ImageSpec::version(version).change("HEALTHCHECK --interval=1s --retries=1 CMD false")
    };
    let v1 = run.push_spec(&registry, "nocheck", "1.0.0", &failing("1.0.0"));
    let v2 = run.push_spec(&registry, "nocheck", "1.1.0", &failing("1.1.0"));
    let old = run.run_with("nocheck", &["--no-healthcheck"], &v1.reference, &[]);

    let out = update_once(
        &old.name,
        &[("TIDEWATCH_TRIGGER_DOCKER_LOCAL_HEALTHTIMEOUT", "20")],
    );
    assert!(out.stderr.contains("Updated."), "{out}");
    assert_eq!(
        run.inspect(
            &old.name,
            "{{.State.Running}} {{.Config.Image}} {{json .Config.Healthcheck.Test}}"
        ),
        format!("true {} [\"NONE\"]", v2.reference),
        "the successor keeps --no-healthcheck: {out}"
    );
}
