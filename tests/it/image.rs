//! The published image, built here by `scripts/image` (a static binary FROM scratch) and run the
//! way the README says: `docker run` with the engine's socket and a volume for the store.
//!
//! Every test builds its own tag with the script, labelled with its run so that it is removed
//! with it; the script holds a lock, so the first test's cargo build is the one the others find
//! done (nextest gives these tests the time of that build: see `.config/nextest.toml`).
//!
//! Networking: the tidewatch container reaches the tests' loopback registry with `--network
//! host`, as a user's tidewatch reaches a registry on its host. The DNS test instead puts a
//! registry in a container on a network of its own, under an alias, so that tidewatch resolves
//! a real DNS name through the engine's resolver, with no NSS modules in its empty filesystem.

use crate::support::{Container, Registry, TestRun};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The README's promise for the amd64 image.
const MAX_SIZE: u64 = 15_000_000;

/// The engine's socket, as the README mounts it.
const SOCKET: &str = "/var/run/docker.sock:/var/run/docker.sock";

/// `scripts/image --tag <id>-tidewatch:<tag> --label <run>`, plus `labels`. Returns the tag.
fn build_image(run: &TestRun, tag: &str, labels: &[&str]) -> String {
    let reference = format!("{}-tidewatch:{tag}", run.id());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/image");
    let mut cmd = Command::new(&script);
    cmd.args(["--tag", &reference, "--label", &run.label()]);
    for label in labels {
        cmd.args(["--label", label]);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|err| panic!("cannot run {}: {err}", script.display()));
    assert!(
        out.status.success(),
        "scripts/image failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), reference);
    reference
}

/// The image built and pushed to `registry` as `tidewatch:<tag>`; returns the pushed reference.
/// `label` makes the image (hence its digest) differ from other tags'.
fn push_image(run: &TestRun, registry: &Registry, tag: &str) -> String {
    let version = format!("tidewatch.test.version={tag}");
    let local = build_image(run, tag, &[&version]);
    let pushed = registry.reference("tidewatch", tag);
    run.tag(&local, &pushed);
    run.docker(&["push", &pushed]);
    pushed
}

/// `docker run -d` of the image as the README has it (socket, a volume on /store), named
/// `name`, labelled, on `network`, with `env`. Returns the container.
fn run_tidewatch(
    run: &TestRun,
    name: &str,
    network: &str,
    volume: &str,
    env: &[String],
    extra: &[&str],
    image: &str,
) -> Container {
    let store = format!("{volume}:/store");
    let mut options = vec!["--network", network, "-v", SOCKET, "-v", &store];
    if network == "host" {
        // On the host's network the server would take port 3000 of the host, which parallel
        // tests (and the machine) share.
        options.extend(["-e", "TIDEWATCH_SERVER_ENABLED=false"]);
    }
    for var in env {
        options.extend(["-e", var.as_str()]);
    }
    options.extend_from_slice(extra);
    run.run_with(name, &options, image, &[])
}

/// The variables that keep a tidewatch container to this test's containers: a parallel test's
/// containers are none of its business.
fn only_ours(run: &TestRun) -> String {
    format!("TIDEWATCH_WATCHER_LOCAL_INCLUDE={}", run.own_names())
}

/// Polls `what` every half second until it returns `Some`, or panics after `limit` with the
/// container's last log lines.
#[track_caller]
fn wait_for<T>(
    run: &TestRun,
    container: &str,
    limit: Duration,
    what: &str,
    mut probe: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(found) = probe() {
            return found;
        }
        if Instant::now() > deadline {
            let logs = run.docker_output(&["logs", "--tail", "60", container]);
            panic!(
                "{what}: not within {} s\n{}{}",
                limit.as_secs(),
                logs.stdout,
                logs.stderr
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn the_image_is_one_static_binary_from_scratch_within_the_size_budget() {
    let run = TestRun::new();
    let image = build_image(&run, "1.0.0", &[]);

    let size: u64 = run.inspect(&image, "{{.Size}}").parse().unwrap();
    assert!(size <= MAX_SIZE, "image is {size} bytes, over {MAX_SIZE}");
    assert_eq!(
        run.inspect_json(&image, ".Config.Entrypoint"),
        serde_json::json!(["/tidewatch"])
    );
    assert_eq!(
        run.inspect_json(&image, ".Config.Healthcheck.Test"),
        serde_json::json!(["CMD", "/tidewatch", "health"])
    );
    assert_eq!(
        run.inspect_json(&image, ".Config.Volumes"),
        serde_json::json!({"/store": {}})
    );
    let labels = run.inspect_json(&image, ".Config.Labels");
    assert_eq!(labels["tidewatch.watch"], "true", "{labels}");
    assert_eq!(
        labels["org.opencontainers.image.version"],
        env!("CARGO_PKG_VERSION"),
        "{labels}"
    );
    // FROM scratch: one layer, the files scripts/image assembled.
    let layers = run.inspect_json(&image, ".RootFS.Layers");
    assert_eq!(layers.as_array().map(Vec::len), Some(1), "{layers}");

    // What is in it: the binary, roots, zones, the store and /tmp; no library, no shell.
    let created = run.docker(&["create", "--label", &run.label(), &image]);
    let dir = tempfile::tempdir().unwrap();
    let files = list_exported(&run, &created, dir.path());
    for wanted in [
        "tidewatch",
        "etc/ssl/certs/ca-certificates.crt",
        "usr/share/zoneinfo/Europe/Paris",
        "store/",
        "tmp/",
    ] {
        assert!(
            files.iter().any(|f| f == wanted),
            "no {wanted} in {files:?}"
        );
    }
    for unwanted in ["lib", "lib64", "usr/lib", "usr/bin", "sbin"] {
        assert!(
            !files.iter().any(|f| f.starts_with(&format!("{unwanted}/"))),
            "{unwanted}/ in a FROM scratch image: {files:?}"
        );
    }
    // bin/ holds the health probes' names only, links to the binary (src/app/probe.rs).
    let bin: Vec<&String> = files.iter().filter(|f| f.starts_with("bin/")).collect();
    assert_eq!(bin, ["bin/", "bin/curl", "bin/sh", "bin/wget"], "{files:?}");
    let probe = run.docker_output(&[
        "run",
        "--rm",
        "--label",
        &run.label(),
        "--entrypoint",
        "/bin/sh",
        &image,
        "-c",
        "ls /",
    ]);
    assert_eq!(probe.status.code(), Some(127), "no shell: {probe}");
    // It runs in that empty filesystem: no loader, no libc to find.
    let version = run.docker(&["run", "--rm", "--label", &run.label(), &image, "--version"]);
    assert_eq!(version, format!("tidewatch {}", env!("CARGO_PKG_VERSION")));
    println!("image {image}: {size} bytes");
}

/// The paths in `docker export` of `container`, without `./`, folders ending in `/`.
fn list_exported(run: &TestRun, container: &str, dir: &Path) -> Vec<String> {
    let tar = dir.join("export.tar");
    run.docker(&["export", "--output", tar.to_str().unwrap(), container]);
    let out = Command::new("tar").arg("-tf").arg(&tar).output().unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim_start_matches("./").to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// An image of Debian's `docker-registry` (distribution, linked against glibc, so with the
/// host's libc and loader) listening on :5000, for a registry that lives in a container.
fn registry_image(run: &TestRun, dir: &Path) -> String {
    let binary = Path::new("/usr/bin/docker-registry");
    assert!(
        binary.exists() && Path::new("/lib/x86_64-linux-gnu/libc.so.6").exists(),
        "this test packs Debian's docker-registry with the host's glibc (x86_64 Debian layout)"
    );
    let root = dir.join("registry-root");
    for sub in [
        "lib/x86_64-linux-gnu",
        "lib64",
        "etc/docker/registry",
        "tmp",
    ] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    std::fs::copy(binary, root.join("docker-registry")).unwrap();
    std::fs::copy(
        "/lib/x86_64-linux-gnu/libc.so.6",
        root.join("lib/x86_64-linux-gnu/libc.so.6"),
    )
    .unwrap();
    std::fs::copy(
        "/lib64/ld-linux-x86-64.so.2",
        root.join("lib64/ld-linux-x86-64.so.2"),
    )
    .unwrap();
    std::fs::write(
        root.join("etc/docker/registry/config.yml"),
        "version: 0.1\nlog: { level: warn }\nstorage: { filesystem: { rootdirectory: /var/lib/registry } }\nhttp: { addr: ':5000' }\n",
    )
    .unwrap();
    let tar = dir.join("registry.tar");
    let status = Command::new("tar")
        .arg("-cf")
        .arg(&tar)
        .args(["--owner=0", "--group=0", "-C"])
        .arg(&root)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
    let reference = format!("{}-registry:1", run.id());
    run.docker(&[
        "import",
        "--change",
        "ENTRYPOINT [\"/docker-registry\", \"serve\", \"/etc/docker/registry/config.yml\"]",
        "--change",
        &format!("LABEL {}", run.label()),
        tar.to_str().unwrap(),
        &reference,
    ]);
    reference
}

#[test]
fn check_in_the_image_lists_the_engines_containers_and_finds_an_update_by_a_dns_name() {
    let run = TestRun::new();
    let dir = tempfile::tempdir().unwrap();
    let image = build_image(&run, "1.0.0", &[]);
    let network = run.network("lan");
    // A registry known on the network only by its alias; the test pushes through 127.0.0.1.
    let alias = "registry.tidewatch.test";
    let registry_image = registry_image(&run, dir.path());
    let registry = run.run_with(
        "registry",
        &[
            "--network",
            &network,
            "--network-alias",
            alias,
            "-p",
            "127.0.0.1::5000",
        ],
        &registry_image,
        &[],
    );
    let port = run.port(&registry, "5000/tcp");
    let pushed = |tag: &str| {
        let local = format!("127.0.0.1:{port}/web:{tag}");
        run.image(&local, tag);
        let deadline = Instant::now() + Duration::from_secs(30);
        // The registry needs a moment to listen.
        while !run.docker_output(&["push", &local]).success() {
            assert!(
                Instant::now() < deadline,
                "cannot push to the registry container"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
        local
    };
    let current = pushed("1.0.0");
    pushed("1.1.0");
    // The container runs the image under the registry's DNS name, as a user's would.
    let by_name = format!("{alias}:5000/web:1.0.0");
    run.tag(&current, &by_name);
    let web = run.run("web", &by_name, &[]);
    let plain = run.run("plain", &current, &[]);

    let label = run.label();
    let out = run.docker_output(&[
        "run",
        "--rm",
        "--label",
        &label,
        "--network",
        &network,
        "-v",
        SOCKET,
        "-e",
        &format!(
            "TIDEWATCH_WATCHER_LOCAL_INCLUDE={},{}",
            web.name, plain.name
        ),
        // Plain HTTP to a registry that is not on loopback is an opt-in, as in Docker.
        "-e",
        &format!("TIDEWATCH_REGISTRY_CUSTOM_LAN_URL=http://{alias}:5000"),
        "-e",
        "TIDEWATCH_REGISTRY_CUSTOM_LAN_INSECURE=true",
        &image,
        "check",
        "--json",
    ]);
    assert!(out.success(), "check in the image failed:\n{out}");
    let json: serde_json::Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|err| panic!("not JSON ({err}):\n{out}"));
    let rows = json["containers"].as_array().cloned().unwrap_or_default();
    let row = |container: &Container| {
        rows.iter()
            .find(|r| r["id"] == container.id.as_str())
            .cloned()
            .unwrap_or_else(|| panic!("{} not listed:\n{out}", container.name))
    };
    // Found through the engine's socket, with what the engine says of it.
    let web_row = row(&web);
    assert_eq!(web_row["name"], web.name.as_str(), "{out}");
    assert_eq!(web_row["image"], by_name.as_str(), "{out}");
    // And asked of the registry by its DNS name: 1.1.0 is there.
    assert_eq!(web_row["status"], "update-available", "{out}");
    assert_eq!(web_row["update"]["tag"], "1.1.0", "{out}");
    // 127.0.0.1 inside tidewatch's own network namespace is not the host's: that registry is
    // out of reach, which says the answer above came from the alias.
    let plain_row = row(&plain);
    assert_eq!(plain_row["status"], "failed", "{out}");
}

#[test]
fn the_daemon_in_the_image_turns_healthy_and_its_store_survives_a_restart() {
    let run = TestRun::new();
    let registry = run.registry();
    let image = push_image(&run, &registry, "1.0.0");
    let volume = run.volume("store");
    let app = run.push(&registry, "app", "1.0.0");
    run.push(&registry, "app", "1.1.0");
    let watched = run.run("app", &app.reference, &[]);
    let tidewatch = run_tidewatch(
        &run,
        "tidewatch",
        "host",
        &volume,
        &[
            only_ours(&run),
            "TIDEWATCH_WATCHER_LOCAL_CRON=*/2 * * * * *".into(),
            "TIDEWATCH_WATCHER_LOCAL_JITTER=0".into(),
        ],
        // The image's probe runs every 15 s; a test need not wait that long.
        &["--health-interval", "1s"],
        &image,
    );
    wait_for(
        &run,
        &tidewatch.name,
        Duration::from_secs(90),
        "healthy",
        || (run.inspect(&tidewatch.id, "{{.State.Health.Status}}") == "healthy").then_some(()),
    );
    let health = run.inspect_json(&tidewatch.id, ".State.Health.Log");
    let last = health.as_array().and_then(|l| l.last()).cloned();
    let output = last
        .as_ref()
        .map(|l| l["Output"].to_string())
        .unwrap_or_default();
    assert!(output.contains("healthy: last check of local"), "{health}");
    // The health check a Watchtower compose file writes, at Watchtower's path: the same verdict.
    let watchtowers = run.docker_output(&["exec", &tidewatch.id, "/watchtower", "--health-check"]);
    assert!(watchtowers.success(), "{watchtowers}");
    assert!(
        watchtowers.stdout.contains("healthy: last check of local"),
        "{watchtowers}"
    );

    // What the store holds: the update found for the watched container.
    let history = |container: &str| -> serde_json::Value {
        let out = run.docker(&[
            "exec",
            &tidewatch.id,
            "/tidewatch",
            "history",
            container,
            "--json",
        ]);
        serde_json::from_str(&out).unwrap_or_else(|err| panic!("not JSON ({err}): {out}"))
    };
    let before = wait_for(
        &run,
        &tidewatch.name,
        Duration::from_secs(30),
        "the update in the history",
        || {
            let entries = history(&watched.name);
            entries
                .as_array()
                .is_some_and(|e| e.iter().any(|e| e.to_string().contains("1.1.0")))
                .then_some(entries)
        },
    );
    let first = before.as_array().and_then(|e| e.last()).cloned().unwrap();

    run.docker(&["restart", "--time", "10", &tidewatch.id]);
    wait_for(
        &run,
        &tidewatch.name,
        Duration::from_secs(30),
        "running again",
        || (run.inspect(&tidewatch.id, "{{.State.Running}}") == "true").then_some(()),
    );
    // The entry written before the restart is still there, unchanged.
    let after = history(&watched.name);
    let entries = after.as_array().cloned().unwrap_or_default();
    assert!(entries.contains(&first), "{first} lost:\n{after}");
}

#[test]
fn the_container_updates_itself_to_a_newer_image_and_rolls_back_a_broken_one() {
    let run = TestRun::new();
    let registry = run.registry();
    let dir = tempfile::tempdir().unwrap();
    let v1 = push_image(&run, &registry, "1.0.0");
    let volume = run.volume("store");
    let name = run.name("tidewatch");
    let env = [
        format!("TIDEWATCH_WATCHER_LOCAL_INCLUDE={name}"),
        "TIDEWATCH_WATCHER_LOCAL_CRON=*/2 * * * * *".into(),
        "TIDEWATCH_WATCHER_LOCAL_JITTER=0".into(),
        "TIDEWATCH_WATCHER_LOCAL_WATCHEVENTS=false".into(),
        // A docker trigger for this container (as the self-update tests set one up).
        format!("TIDEWATCH_TRIGGER_DOCKER_SELF_INCLUDE={name}"),
    ];
    let old = run_tidewatch(&run, "tidewatch", "host", &volume, &env, &[], &v1);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(run.inspect(&old.id, "{{.State.Running}}"), "true");

    let v2 = push_image(&run, &registry, "1.1.0");
    // The successor: the same name on the new image, the old container gone.
    let new_id = wait_for(
        &run,
        &name,
        Duration::from_secs(120),
        "the successor on 1.1.0",
        || {
            let now = run.docker_output(&[
                "inspect",
                "--format",
                "{{.Id}} {{.State.Running}} {{.Config.Image}}",
                &name,
            ]);
            let old_gone = !run.docker_output(&["inspect", &old.id]).success();
            let fields: Vec<String> = now.stdout.split_whitespace().map(String::from).collect();
            (now.success() && old_gone && fields[1..] == ["true".to_string(), v2.clone()])
                .then(|| fields[0].clone())
        },
    );
    // With the same mounts and environment.
    let mounts = run.inspect(
        &new_id,
        "{{range .Mounts}}{{.Type}} {{.Name}} {{.Source}} {{.Destination}};{{end}}",
    );
    assert!(mounts.contains(&format!("volume {volume} ")), "{mounts}");
    assert!(
        mounts.contains("bind  /var/run/docker.sock /var/run/docker.sock"),
        "{mounts}"
    );
    let new_env = run.inspect_json(&new_id, ".Config.Env");
    for var in &env {
        assert!(
            new_env.as_array().unwrap().contains(&var.as_str().into()),
            "{var} lost: {new_env}"
        );
    }

    // A newer image that dies at start: the successor is removed, tidewatch keeps its name.
    let broken = registry.reference("tidewatch", "1.2.0");
    let dockerfile = dir.path().join("Dockerfile");
    std::fs::write(
        &dockerfile,
        format!("FROM {v2}\nCMD [\"run\", \"--no-such-flag\"]\n"),
    )
    .unwrap();
    run.docker(&[
        "build",
        "--quiet",
        "--label",
        &run.label(),
        "-t",
        &broken,
        dir.path().to_str().unwrap(),
    ]);
    run.docker(&["push", &broken]);
    let logs = wait_for(
        &run,
        &name,
        Duration::from_secs(120),
        "a verdict on the broken successor",
        || {
            let logs = run.docker_output(&["logs", &new_id]);
            let logs = format!("{}{}", logs.stdout, logs.stderr);
            logs.contains("The successor failed").then_some(logs)
        },
    );
    wait_for(
        &run,
        &name,
        Duration::from_secs(30),
        "the name back",
        || {
            let holders = run.docker(&[
                "ps",
                "--all",
                "--no-trunc",
                "--format",
                "{{.ID}} {{.Names}} {{.State}}",
                "--filter",
                &format!("name={name}"),
            ]);
            (holders == format!("{new_id} {name} running")).then_some(())
        },
    );
    assert_eq!(run.inspect(&new_id, "{{.Config.Image}}"), v2, "{logs}");
}

#[test]
fn docker_compose_up_runs_the_image_from_the_example_file() {
    let run = TestRun::new();
    let registry = run.registry();
    let image = push_image(&run, &registry, "1.0.0");
    // The example as shipped, beside the secrets and env file it names.
    let dir = tempfile::tempdir().unwrap();
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    for file in ["docker-compose.yml", "tidewatch.env"] {
        std::fs::copy(config.join(file), dir.path().join(file)).unwrap();
    }
    std::fs::create_dir_all(dir.path().join("secrets")).unwrap();
    for secret in ["smtp_password", "ghcr_token"] {
        std::fs::write(
            dir.path().join("secrets").join(secret),
            "not-a-real-secret\n",
        )
        .unwrap();
    }
    // What a test adds: its image, its label on everything, only its own containers watched,
    // the host's network for the loopback registry, and a quicker health probe.
    let label = run.label();
    let (key, value) = label.split_once('=').unwrap();
    let override_file = dir.path().join("test.yml");
    std::fs::write(
        &override_file,
        format!(
            "services:\n  tidewatch:\n    image: {image}\n    network_mode: host\n    labels:\n      {key}: {value}\n    environment:\n      TIDEWATCH_WATCHER_LOCAL_INCLUDE: '{id}.*'\n      TIDEWATCH_SERVER_ENABLED: 'false'\n    healthcheck:\n      interval: 1s\nvolumes:\n  tidewatch:\n    labels:\n      {key}: {value}\n",
            id = run.id()
        ),
    )
    .unwrap();
    let project = run.id().to_string();
    let compose = |args: &[&str]| {
        let out = Command::new("docker-compose")
            .arg("-f")
            .arg(dir.path().join("docker-compose.yml"))
            .arg("-f")
            .arg(&override_file)
            .args(["-p", &project])
            .args(args)
            .env("DOCKER_CONFIG", run.docker_config())
            .output()
            .unwrap_or_else(|err| panic!("cannot run docker-compose: {err}"));
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let _down = Down(&compose);
    let (ok, out) = compose(&["up", "-d"]);
    assert!(ok, "docker-compose up failed:\n{out}");
    let container = format!("{project}_tidewatch_1");
    wait_for(&run, &container, Duration::from_secs(90), "healthy", || {
        (run.inspect(&container, "{{.State.Health.Status}}") == "healthy").then_some(())
    });
    // Its settings came from the env file and the secrets.
    let env = run.inspect_json(&container, ".Config.Env");
    assert!(
        env.to_string()
            .contains("TIDEWATCH_TRIGGER_SMTP_OPS_PASS__FILE=/run/secrets/smtp_password"),
        "{env}"
    );
}

/// `docker-compose down -v` when the compose test ends, pass or fail; the run's label sweeps
/// whatever it leaves.
struct Down<'a, F: Fn(&[&str]) -> (bool, String)>(&'a F);

impl<F: Fn(&[&str]) -> (bool, String)> Drop for Down<'_, F> {
    fn drop(&mut self) {
        let (ok, out) = (self.0)(&["down", "-v", "--timeout", "5"]);
        if !ok {
            eprintln!("warning: docker-compose down failed:\n{out}");
        }
    }
}

#[test]
fn wuds_documented_health_check_passes_in_the_image_that_has_no_shell() {
    let run = TestRun::new();
    let image = build_image(&run, "1.0.0", &[]);
    let volume = run.volume("store");
    // WUD's compose file, as its documentation writes it: a string, so Docker runs it with
    // `/bin/sh -c`; the page answers on port 3000 inside the container's own network.
    let network = run.network("probe");
    let tidewatch = run_tidewatch(
        &run,
        "tidewatch",
        &network,
        &volume,
        &[only_ours(&run)],
        &[
            "--health-cmd",
            "wget --no-verbose --tries=1 --no-check-certificate --spider http://localhost:3000",
            "--health-interval",
            "1s",
        ],
        &image,
    );
    wait_for(
        &run,
        &tidewatch.name,
        Duration::from_secs(60),
        "healthy",
        || (run.inspect(&tidewatch.id, "{{.State.Health.Status}}") == "healthy").then_some(()),
    );
    let health = run.inspect_json(&tidewatch.id, ".State.Health.Log");
    assert!(
        health.to_string().contains("http://localhost:3000: 200 OK"),
        "{health}"
    );
    // It is no shell: anything but a probe is refused, saying so.
    let refused = run.docker_output(&["exec", &tidewatch.id, "sh", "-c", "ls /"]);
    assert_eq!(refused.status.code(), Some(127), "{refused}");
    assert!(refused.stderr.contains("no shell"), "{refused}");
}
