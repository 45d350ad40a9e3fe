//! The docker trigger's Watchtower modes end to end, through `tidewatch run --once` (and the
//! check a Docker `start` event sets off): lifecycle hooks that stop or skip an update, the
//! `no-pull` label, restarting containers, and the trigger's report.
//!
//! Each test limits the trigger (and, where it can, the watcher) to its own containers: the
//! engine is shared with every other test running in parallel.

use crate::support::update::{assert_untouched, docker_trigger_env, history_events};
use crate::support::{ImageSpec, TestRun, fresh_store_dir, tidewatch};
use std::time::{Duration, Instant};
use tidewatch::bus::Bus;
use tidewatch::config::{RegistriesConfig, WatcherConfig};
use tidewatch::docker::Engine;
use tidewatch::registry::{ClientSettings, RegistryClient};
use tidewatch::watch::finding::Status;
use tidewatch::watch::watcher;

const HOOKS: (&str, &str) = ("TIDEWATCH_TRIGGER_DOCKER_LOCAL_LIFECYCLEHOOKS", "true");
const PRE_UPDATE: &str = "com.centurylinklabs.watchtower.lifecycle.pre-update";

#[test]
fn a_pre_update_hook_exiting_1_leaves_the_same_container_running_untouched() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "guarded", "1.0.0");
    run.push(&registry, "guarded", "1.1.0");
    let label = format!("{PRE_UPDATE}=echo dump refused; exit 1");
    let old = run.run_with("guarded", &["--label", &label], &v1.reference, &[]);
    let dir = fresh_store_dir();
    let store = dir.to_str().unwrap();
    let mut env = docker_trigger_env(&old.name, store);
    env.push(HOOKS);

    let out = tidewatch(&["run", "--once"], &env);
    assert_untouched(&run, &old, &v1.reference, &out);
    let events = history_events(store, &old.name);
    assert!(
        events.iter().any(|(e, d)| e == "update-failed"
            && d.contains("exited with code 1")
            && d.contains("dump refused")),
        "{events:?}"
    );
}

#[test]
fn a_stopped_container_is_not_revived_past_a_pre_update_hook_that_cannot_run() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "dormant", "1.0.0");
    run.push(&registry, "dormant", "1.1.0");
    let label = format!("{PRE_UPDATE}=echo dumped > /tmp/dump");
    let old = run.run_with("dormant", &["--label", &label], &v1.reference, &[]);
    run.stop(&old);
    let dir = fresh_store_dir();
    let store = dir.to_str().unwrap();
    let mut env = docker_trigger_env(&old.name, store);
    env.extend([HOOKS, ("TIDEWATCH_WATCHER_LOCAL_WATCHALL", "true")]);

    // revivestopped would start the new version without the hook having run: not updated.
    let mut reviving = env.clone();
    reviving.push(("TIDEWATCH_TRIGGER_DOCKER_LOCAL_REVIVESTOPPED", "true"));
    let out = tidewatch(&["run", "--once"], &reviving);
    assert_eq!(
        run.inspect(&old.name, "{{.Id}} {{.State.Running}}"),
        format!("{} false", old.id),
        "{out}"
    );
    let events = history_events(store, &old.name);
    assert!(
        events
            .iter()
            .any(|(e, d)| e == "update-failed" && d.contains("not running")),
        "{events:?}"
    );

    // Left stopped, as Watchtower does: updated without its hooks, and stays stopped.
    let out = tidewatch(&["run", "--once"], &env);
    assert_eq!(
        run.inspect(&old.name, "{{.State.Running}} {{.Config.Image}}"),
        format!("false {}", v1.reference.replace("1.0.0", "1.1.0")),
        "{out}"
    );
    assert_ne!(run.inspect(&old.name, "{{.Id}}"), old.id);
}

#[test]
fn the_no_pull_label_updates_to_the_image_the_engine_has() {
    let run = TestRun::new();
    let registry = run.registry();
    // Each repository's 1.1.0 is in the registry, and the engine holds a different image under
    // the same tag: the container whose update pulls ends on the registry's, the other on the
    // engine's.
    let mut started = Vec::new();
    for (repo, labels) in [
        (
            "kept",
            &["--label", "com.centurylinklabs.watchtower.no-pull=true"][..],
        ),
        ("pulled", &[][..]),
    ] {
        let v1 = run.push(&registry, repo, "1.0.0");
        let v2 = run.push(&registry, repo, "1.1.0");
        run.build(&v2.reference, &ImageSpec::version("engine-only"));
        started.push(run.run_with(repo, labels, &v1.reference, &[]));
    }
    let dir = fresh_store_dir();
    let store = dir.to_str().unwrap();
    let include = format!("{}|{}", started[0].name, started[1].name);

    let out = tidewatch(&["run", "--once"], &docker_trigger_env(&include, store));
    let version = |name: &str| run.docker(&["exec", name, "cat", "/version"]);
    assert_eq!(version(&started[0].name).trim(), "engine-only", "{out}");
    assert_eq!(version(&started[1].name).trim(), "1.1.0", "{out}");
}

#[test]
fn run_once_reports_what_the_trigger_did_updated_skipped_and_rolled_back() {
    let run = TestRun::new();
    let registry = run.registry();
    let good = run.push(&registry, "good", "1.0.0");
    run.push(&registry, "good", "1.1.0");
    let bad = run.push(&registry, "bad", "1.0.0");
    run.push_spec(
        &registry,
        "bad",
        "1.1.0",
        &ImageSpec::version("1.1.0").cmd(&["sh", "-c", "exit 3"]),
    );
    let updated = run.run("good", &good.reference, &[]);
    let rolled_back = run.run("bad", &bad.reference, &[]);
    let skipped = run.run_with(
        "later",
        &["--label", &format!("{PRE_UPDATE}=exit 75")],
        &good.reference,
        &[],
    );
    let dir = fresh_store_dir();
    let store = dir.to_str().unwrap();
    let include = format!("{}|{}|{}", updated.name, rolled_back.name, skipped.name);
    let mut env = docker_trigger_env(&include, store);
    env.push(HOOKS);

    let out = tidewatch(&["run", "--once"], &env);
    assert!(out.stderr.contains("Updates completed."), "{out}");
    assert_ne!(run.inspect(&updated.name, "{{.Id}}"), updated.id, "{out}");
    assert_eq!(run.inspect(&rolled_back.name, "{{.Id}}"), rolled_back.id);
    assert_eq!(run.inspect(&skipped.name, "{{.Id}}"), skipped.id);

    // The report is in the audit log, with the watcher's other lines.
    let all = tidewatch(&["history", "--json"], &[("TIDEWATCH_STORE_PATH", store)]);
    let entries: Vec<serde_json::Value> = serde_json::from_str(&all.stdout).expect("JSON");
    let reports: Vec<&str> = entries
        .iter()
        .filter(|e| e["event"] == "updates-completed")
        .filter_map(|e| e["detail"].as_str())
        .collect();
    assert_eq!(
        reports,
        ["docker.local on local: 1 updated, 0 failed, 1 skipped, 1 rolled back"],
        "{out}"
    );
    // A skip is a skip, not a failure.
    let events = history_events(store, &skipped.name);
    assert!(
        events.iter().any(|(e, _)| e == "update-skipped")
            && !events.iter().any(|(e, _)| e == "update-failed"),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_restarting_container_reported_started_is_checked_as_a_listing_would() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "looping", "1.0.0");
    run.push(&registry, "looping", "1.1.0");
    // Exits at once, so the engine keeps restarting it, waiting longer each time.
    let container = run.run_with(
        "looping",
        &["--restart", "always"],
        &v1.reference,
        &["sh", "-c", "exit 1"],
    );
    // Restarted a few times, so the engine now waits most of a second or more between starts:
    // `restarting` is what inspect says (a hang guard of a minute).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let state = run.inspect(&container.id, "{{.State.Status}} {{.RestartCount}}");
        let (status, count) = state.split_once(' ').unwrap_or_default();
        if status == "restarting" && count.parse::<u32>().unwrap_or(0) >= 3 {
            break;
        }
        assert!(Instant::now() < deadline, "never restarting: {state}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // What the daemon does on the engine's `start` event, without `watchall`.
    let watcher = WatcherConfig::default();
    let engine = Engine::connect("local", &watcher)
        .await
        .expect("connect to the local engine");
    let client = RegistryClient::new(&RegistriesConfig::default(), ClientSettings::default())
        .expect("a client without configured registries");
    let bus = Bus::default();
    let holds = tidewatch::model::Holds::default();
    let finding = watcher::check_container(&engine, &watcher, &container.id, &client, &bus, &holds)
        .await
        .expect("the engine answers");
    let finding = finding.expect("a restarting container is checked, as a listing includes it");
    assert_eq!(finding.status, Status::UpdateAvailable, "{finding:?}");
    let listed = engine.containers(false).await.expect("the engine lists");
    assert!(
        listed.iter().any(|c| c.id == container.id),
        "and a listing without watchall does include it"
    );
}

#[test]
fn a_compose_service_a_compose_trigger_acts_on_is_left_to_it() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "service", "1.0.0");
    run.push(&registry, "service", "1.1.0");
    // Labelled as compose labels its services; the project's files are nowhere, so the compose
    // trigger (in dry-run besides) changes nothing: whatever changes, the docker trigger did.
    let service = run.run_with(
        "service",
        &[
            "--label",
            "com.docker.compose.project=modes",
            "--label",
            "com.docker.compose.service=service",
        ],
        &v1.reference,
        &[],
    );
    let plain = run.run("plain", &v1.reference, &[]);
    let allowed = tempfile::tempdir().expect("a folder");
    let dir = fresh_store_dir();
    let store = dir.to_str().unwrap();
    let include = format!("{}|{}", service.name, plain.name);
    let mut env = docker_trigger_env(&include, store);
    let allowed = allowed.path().to_str().unwrap().to_string();
    env.extend([
        ("TIDEWATCH_TRIGGER_COMPOSE_STACK_ALLOWED", allowed.as_str()),
        ("TIDEWATCH_TRIGGER_COMPOSE_STACK_INCLUDE", include.as_str()),
        ("TIDEWATCH_TRIGGER_COMPOSE_STACK_DRYRUN", "true"),
        ("TIDEWATCH_TRIGGER_COMPOSE_STACK_COMMAND", "none"),
    ]);

    let plan = tidewatch(&["plan"], &env);
    assert!(
        plan.stdout
            .contains("docker.local: not updated, a compose trigger updates it"),
        "{plan}"
    );
    let out = tidewatch(&["run", "--once"], &env);
    assert_eq!(run.inspect(&service.name, "{{.Id}}"), service.id, "{out}");
    assert_ne!(run.inspect(&plain.name, "{{.Id}}"), plain.id, "{out}");
}
