//! Swarm services end to end, on a one-node Swarm of a private engine (`support::swarm`): the
//! services pull from the test's loopback registry, tidewatch watches the manager, finds
//! updates of services (never of their task containers) and has Swarm roll them out.
//!
//! What one node cannot show — workers pulling with the forwarded login — is argued in
//! ARCHITECTURE.md.

use crate::support::swarm::{Swarm, tidewatch_swarm};
use crate::support::update::history_events;
use crate::support::{ImageSpec, RegistryOptions, TestRun, fresh_store_dir};

/// The watcher `swarm` on the manager and the docker trigger, on a store at `store`.
fn env<'a>(swarm: &'a str, store: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("TIDEWATCH_WATCHER_SWARM_SOCKET", swarm),
        ("TIDEWATCH_TRIGGER_DOCKER_SWARM_AUTO", "true"),
        ("TIDEWATCH_STORE_PATH", store),
    ]
}

/// The report's entries of `out` (`run --once --json`).
fn listed(out: &crate::support::Output) -> Vec<serde_json::Value> {
    let report: serde_json::Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|err| panic!("not JSON ({err}):\n{out}"));
    report["containers"].as_array().expect("containers").clone()
}

#[test]
fn a_replicated_service_is_updated_through_swarm_its_spec_otherwise_kept() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "replicated", "1.0.0");
    let v2 = run.push(&registry, "replicated", "1.1.0");
    let swarm = Swarm::start();
    // What only the image must leave alone: a network, a secret, a config, the environment,
    // labels, and the service's own rolling-update settings.
    let network = run.name("net");
    swarm.docker(&["network", "create", "--driver", "overlay", &network]);
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), "kept").expect("write");
    let path = file.path().to_str().expect("UTF-8 path");
    let secret = run.name("secret");
    swarm.docker(&["secret", "create", &secret, path]);
    let config = run.name("config");
    swarm.docker(&["config", "create", &config, path]);
    let service = run.name("web");
    let label = run.label();
    let config_mount = format!("source={config},target=/etc/kept");
    swarm.docker(&[
        "service",
        "create",
        "--detach",
        "--name",
        &service,
        "--label",
        &label,
        "--container-label",
        "user.label=kept",
        "--env",
        "USER_SETTING=kept",
        "--replicas",
        "3",
        "--network",
        &network,
        "--secret",
        &secret,
        "--config",
        &config_mount,
        "--update-parallelism",
        "2",
        "--update-delay",
        "1s",
        "--update-order",
        "start-first",
        "--update-failure-action",
        "rollback",
        "--update-monitor",
        "2s",
        &v1.reference,
    ]);
    swarm.wait_converged(&service, 3, &format!("{}@{}", v1.reference, v1.digest));
    // A container of its own beside the service: still listed as a container (monitor-only,
    // so that the trigger leaves it be).
    let standalone = run.name("standalone");
    swarm.docker(&[
        "run",
        "-d",
        "--network",
        "none",
        "--label",
        "tidewatch.monitor-only=true",
        "--name",
        &standalone,
        &v1.reference,
    ]);
    let before = swarm.service_json(&service, ".Spec");

    let dir = fresh_store_dir();
    let store = dir.to_str().expect("UTF-8 path");
    let socket = swarm.socket();
    // `plan` says how: through Swarm, in no order of tidewatch's.
    let plan = tidewatch_swarm(&["plan"], &env(&socket, store));
    assert!(plan.success(), "{plan}");
    let line = plan
        .stdout
        .lines()
        .find(|l| l.contains(&service))
        .unwrap_or_else(|| panic!("{service} not in the plan:\n{plan}"));
    assert!(
        line.contains("update by docker.swarm, through Swarm's rolling update"),
        "{plan}"
    );
    assert!(!plan.stdout.contains("in this order"), "{plan}");

    let out = tidewatch_swarm(&["run", "--once", "--json"], &env(&socket, store));
    assert!(out.success(), "{out}");

    // Found as one service, detected as a manager without being told; its tasks are not
    // listed as containers of their own; the plain container is.
    let entries = listed(&out);
    let names: Vec<&str> = entries.iter().filter_map(|c| c["name"].as_str()).collect();
    let web: Vec<&serde_json::Value> = entries.iter().filter(|c| c["name"] == *service).collect();
    assert_eq!(web.len(), 1, "{out}");
    assert_eq!(web[0]["kind"], "service", "{out}");
    assert_eq!(web[0]["status"], "update-available", "{out}");
    assert_eq!(web[0]["update"]["tag"], "1.1.0", "{out}");
    assert_eq!(web[0]["update"]["digest"], v2.digest.as_str(), "{out}");
    assert!(
        !names.iter().any(|n| n.starts_with(&format!("{service}."))),
        "task containers listed on their own: {names:?}"
    );
    let plain: Vec<&serde_json::Value> = entries
        .iter()
        .filter(|c| c["name"] == *standalone)
        .collect();
    assert_eq!(plain.len(), 1, "{out}");
    assert_eq!(plain[0]["kind"], "container", "{out}");

    // Applied through Swarm: every task on the new tag, pinned to the digest found.
    let pinned = format!("{}@{}", v2.reference, v2.digest);
    swarm.wait_converged(&service, 3, &pinned);
    let mut after = swarm.service_json(&service, ".Spec");
    assert_eq!(
        after["TaskTemplate"]["ContainerSpec"]["Image"],
        pinned.as_str()
    );
    // Only the image changed.
    after["TaskTemplate"]["ContainerSpec"]["Image"] =
        before["TaskTemplate"]["ContainerSpec"]["Image"].clone();
    assert_eq!(after, before, "the spec changed beyond the image");
    assert_eq!(
        swarm.service_json(&service, ".UpdateStatus.State"),
        "completed"
    );
    let events = history_events(store, &service);
    assert!(
        events
            .iter()
            .any(|(e, d)| e == "update-available" && d.contains("1.1.0")),
        "{events:?}"
    );
    assert!(
        events.iter().any(|(e, _)| e == "update-applied"),
        "{events:?}\n{out}"
    );
    assert!(out.stderr.contains("Service updated."), "{out}");
}

#[test]
fn a_broken_image_is_rolled_back_by_swarm_and_reported_rolled_back() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "broken", "1.0.0");
    // Exits at once: every task of it fails within the monitor period.
    run.push_spec(
        &registry,
        "broken",
        "1.1.0",
        &ImageSpec::version("1.1.0").cmd(&["sh", "-c", "exit 3"]),
    );
    let swarm = Swarm::start();
    let service = run.name("broken");
    let label = run.label();
    swarm.docker(&[
        "service",
        "create",
        "--detach",
        "--name",
        &service,
        "--label",
        &label,
        "--replicas",
        "2",
        "--update-failure-action",
        "rollback",
        "--update-monitor",
        "3s",
        "--rollback-monitor",
        "1s",
        &v1.reference,
    ]);
    let old = format!("{}@{}", v1.reference, v1.digest);
    swarm.wait_converged(&service, 2, &old);

    let dir = fresh_store_dir();
    let store = dir.to_str().expect("UTF-8 path");
    let socket = swarm.socket();
    let out = tidewatch_swarm(&["run", "--once"], &env(&socket, store));
    assert!(
        out.stderr.contains("Service rolled back by Swarm."),
        "{out}"
    );

    assert_eq!(
        swarm.service_json(&service, ".UpdateStatus.State"),
        "rollback_completed"
    );
    assert_eq!(
        swarm.service_json(&service, ".Spec.TaskTemplate.ContainerSpec.Image"),
        old.as_str()
    );
    swarm.wait_converged(&service, 2, &old);
    let events = history_events(store, &service);
    assert!(
        events
            .iter()
            .any(|(e, d)| e == "rolled-back" && d.contains("rolled the service back")),
        "{events:?}\n{out}"
    );
    assert!(
        !events.iter().any(|(e, _)| e == "update-applied"),
        "{events:?}"
    );
}

#[test]
fn a_new_digest_behind_latest_moves_a_global_service_to_it() {
    let run = TestRun::new();
    let registry = run.registry();
    let old = run.push(&registry, "rolling", "latest");
    let swarm = Swarm::start();
    let service = run.name("global");
    let label = run.label();
    swarm.docker(&[
        "service",
        "create",
        "--detach",
        "--name",
        &service,
        "--label",
        &label,
        "--mode",
        "global",
        &old.reference,
    ]);
    swarm.wait_converged(&service, 1, &format!("{}@{}", old.reference, old.digest));
    // The same tag, a new image behind it.
    let new = run.push_spec(
        &registry,
        "rolling",
        "latest",
        &ImageSpec::version("rebuilt"),
    );
    assert_ne!(new.digest, old.digest);

    let dir = fresh_store_dir();
    let store = dir.to_str().expect("UTF-8 path");
    let socket = swarm.socket();
    let mut env = env(&socket, store);
    // Said, not detected: the same outcome.
    env.push(("TIDEWATCH_WATCHER_SWARM_SWARM", "true"));
    let out = tidewatch_swarm(&["run", "--once", "--json"], &env);
    assert!(out.success(), "{out}");
    let entries = listed(&out);
    let global = entries
        .iter()
        .find(|c| c["name"] == *service)
        .unwrap_or_else(|| panic!("{service} not listed:\n{out}"));
    assert_eq!(global["update"]["kind"], "digest", "{out}");
    assert_eq!(global["update"]["tag"], "latest", "{out}");

    let pinned = format!("{}@{}", new.reference, new.digest);
    swarm.wait_converged(&service, 1, &pinned);
    let version = swarm.docker(&[
        "ps",
        "--quiet",
        "--filter",
        &format!("label=com.docker.swarm.service.name={service}"),
    ]);
    let version = swarm.docker(&["exec", version.trim(), "cat", "/version"]);
    assert_eq!(version, "rebuilt");
    let events = history_events(store, &service);
    assert!(
        events.iter().any(|(e, _)| e == "update-applied"),
        "{events:?}\n{out}"
    );
}

/// The node that runs the new tasks has no login of its own for the registry: the engine never
/// reads a client's `config.json`. The old image was put on it by hand (a task on an image
/// referenced by digest and present is not pulled), so the service holds no login either; the
/// new image can only be pulled with the login tidewatch forwards with the update, which is
/// how a worker of a real cluster gets it.
#[test]
fn the_registry_login_goes_with_the_update_to_the_node_that_pulls() {
    let run = TestRun::new();
    let password = "sw4rm-Pa55";
    let registry = run.registry_with(RegistryOptions::default().basic_auth("deployer", password));
    let v1 = run.push(&registry, "private/app", "1.0.0");
    let v2 = run.push(&registry, "private/app", "1.1.0");
    let swarm = Swarm::start();
    let config = run.docker_config();
    let config = config.to_str().expect("UTF-8 path");
    swarm.docker(&["--config", config, "pull", "-q", &v1.reference]);
    let old = format!("{}@{}", v1.reference, v1.digest);
    let service = run.name("private");
    let label = run.label();
    swarm.docker(&[
        "service",
        "create",
        "--detach",
        "--no-resolve-image",
        "--name",
        &service,
        "--label",
        &label,
        "--replicas",
        "2",
        "--update-failure-action",
        "rollback",
        "--update-monitor",
        "2s",
        &old,
    ]);
    swarm.wait_converged(&service, 2, &old);

    let dir = fresh_store_dir();
    let store = dir.to_str().expect("UTF-8 path");
    let socket = swarm.socket();
    let url = format!("http://{}", registry.addr());
    let mut env = env(&socket, store);
    env.extend([
        ("TIDEWATCH_REGISTRY_CUSTOM_CI_URL", url.as_str()),
        ("TIDEWATCH_REGISTRY_CUSTOM_CI_LOGIN", "deployer"),
        ("TIDEWATCH_REGISTRY_CUSTOM_CI_PASSWORD", password),
        ("TIDEWATCH_LOG_LEVEL", "debug"),
    ]);
    let out = tidewatch_swarm(&["run", "--once"], &env);
    assert!(out.stderr.contains("Service updated."), "{out}");
    swarm.wait_converged(&service, 2, &format!("{}@{}", v2.reference, v2.digest));
    assert!(
        !out.stdout.contains(password) && !out.stderr.contains(password),
        "the password was printed:\n{out}"
    );
}

/// `tidewatch rollback NAME` on a service is Swarm's own rollback: the command asks for it,
/// waits for Swarm to finish, and holds the version it ran until then, so the next cycle
/// neither offers nor applies it again.
#[test]
fn a_service_is_rolled_back_through_swarms_own_rollback_and_held() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "back", "1.0.0");
    let v2 = run.push(&registry, "back", "1.1.0");
    let swarm = Swarm::start();
    let name = run.name("back");
    let label = run.label();
    swarm.docker(&[
        "service",
        "create",
        "--detach",
        "--name",
        &name,
        "--label",
        &label,
        "--replicas",
        "2",
        "--update-monitor",
        "1s",
        "--rollback-monitor",
        "1s",
        &v1.reference,
    ]);
    let old = format!("{}@{}", v1.reference, v1.digest);
    swarm.wait_converged(&name, 2, &old);
    swarm.docker(&[
        "service",
        "update",
        "--detach=false",
        "--image",
        &v2.reference,
        &name,
    ]);
    swarm.wait_converged(&name, 2, &format!("{}@{}", v2.reference, v2.digest));

    let dir = fresh_store_dir();
    let store = dir.to_str().expect("UTF-8 path");
    let socket = swarm.socket();
    let env = env(&socket, store);
    // Swarm keeps one previous spec: an older target is refused, nothing changed.
    let refused = tidewatch_swarm(&["rollback", &name, "--to", "-2"], &env);
    assert!(!refused.success(), "{refused}");
    assert!(refused.stderr.contains("Swarm service"), "{refused}");

    let out = tidewatch_swarm(&["rollback", &name, "--reason", "broke the login"], &env);
    assert!(out.success(), "{out}");
    assert!(
        out.stdout.contains("rolled back through Swarm from 1.1.0"),
        "{out}"
    );
    assert_eq!(
        swarm.service_json(&name, ".UpdateStatus.State"),
        "rollback_completed"
    );
    assert_eq!(
        swarm.service_json(&name, ".Spec.TaskTemplate.ContainerSpec.Image"),
        old.as_str()
    );
    swarm.wait_converged(&name, 2, &old);
    let events = history_events(store, &name);
    assert!(
        events.iter().any(|(e, _)| e == "rollback-applied"),
        "{events:?}\n{out}"
    );

    // The next cycle sees 1.1.0 again and leaves it alone: held, with why.
    let next = tidewatch_swarm(&["run", "--once", "--json"], &env);
    let rows = listed(&next);
    let row = rows
        .iter()
        .find(|r| r["name"] == name.as_str())
        .unwrap_or_else(|| panic!("{name} not listed: {next}"));
    assert_eq!(row["status"], "held", "{next}");
    assert_eq!(
        swarm.service_json(&name, ".Spec.TaskTemplate.ContainerSpec.Image"),
        old.as_str(),
        "not updated again: {next}"
    );
}

/// A service deployed with `docker stack deploy`: the compose trigger with the stack's file and
/// name rewrites the file (so the next deploy keeps the new image) and has Swarm roll the
/// service out; the docker trigger leaves the service to it.
#[test]
fn a_stacks_file_is_rewritten_and_its_service_updated_through_swarm() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "stacked", "1.0.0");
    let v2 = run.push(&registry, "stacked", "1.1.0");
    let swarm = Swarm::start();
    let folder = tempfile::tempdir().expect("temp dir");
    let file = folder.path().join("stack.yml");
    let text = format!(
        "version: \"3.8\"\nservices:\n  web:\n    image: {}   # the app\n    deploy:\n      replicas: 2\n      labels:\n        {}: \"{}\"\n      update_config:\n        failure_action: rollback\n        monitor: 2s\n",
        v1.reference,
        crate::support::RUN_LABEL,
        run.id()
    );
    std::fs::write(&file, &text).expect("write the stack file");
    let path = file.to_str().expect("UTF-8 path");
    let stack = format!("st{}", std::process::id());
    swarm.docker(&["stack", "deploy", "--compose-file", path, &stack]);
    let service = format!("{stack}_web");
    swarm.wait_converged(&service, 2, &format!("{}@{}", v1.reference, v1.digest));

    let dir = fresh_store_dir();
    let store = dir.to_str().expect("UTF-8 path");
    let socket = swarm.socket();
    let mut env = env(&socket, store);
    env.extend([
        ("TIDEWATCH_TRIGGER_COMPOSE_STACK_FILE", path),
        ("TIDEWATCH_TRIGGER_COMPOSE_STACK_STACK", stack.as_str()),
    ]);
    let out = tidewatch_swarm(&["run", "--once"], &env);
    assert!(out.stderr.contains("Stack file rewritten."), "{out}");
    assert_eq!(
        out.stderr.matches("Service updated.").count(),
        1,
        "one trigger, one update:\n{out}"
    );

    swarm.wait_converged(&service, 2, &format!("{}@{}", v2.reference, v2.digest));
    let after = std::fs::read_to_string(&file).expect("the stack file");
    assert_eq!(
        after,
        text.replace(&v1.reference, &v2.reference),
        "only the image changed in the file"
    );
    let events = history_events(store, &service);
    assert!(
        events.iter().any(|(e, _)| e == "update-applied"),
        "{events:?}\n{out}"
    );
}
