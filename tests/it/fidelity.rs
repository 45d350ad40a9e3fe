//! What a container is after the docker trigger re-created it: each test sets up a container
//! the way a user would, lets `tidewatch run --once` update it through the real path (pull,
//! rename aside, stop, create, start, health gate, remove), and compares the engine's inspect
//! before and after.
//!
//! Each test limits the trigger to its own containers (`INCLUDE`): the engine is shared with
//! every other test running in parallel.

use crate::support::events::EventLog;
use crate::support::update::{create_by_api, update_once};
use crate::support::{ImageSpec, TestRun};

#[test]
fn a_user_set_mac_address_and_static_ip_are_kept() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "macd", "1.0.0");
    let v2 = run.push(&registry, "macd", "1.1.0");
    let (front, prefix) = run.network_with_subnet("front");
    let back = run.network("back");
    let ip = format!("{prefix}.10");
    // Not the MAC the engine derives from the IP (02:42:…), so a kept one is the user's.
    let mac = "02:00:5e:10:00:2a";
    // `docker run --network … --mac-address …` of a CLI newer than the engine refuses to talk
    // to API 1.41; this is the request such a CLI of that age sent.
    let old = create_by_api(
        &run,
        "macd",
        &serde_json::json!({
            "Image": v1.reference,
            "MacAddress": mac,
            "HostConfig": {"NetworkMode": front},
            "NetworkingConfig": {"EndpointsConfig": {front.as_str(): {
                "IPAMConfig": {"IPv4Address": ip},
                "Aliases": ["web"],
            }}},
        }),
    );
    run.docker(&["network", "connect", "--alias", "second", &back, &old.id]);
    // The interfaces' order is the engine's to choose: look at both.
    let live_macs = |name: &str| {
        run.docker(&[
            "exec",
            name,
            "cat",
            "/sys/class/net/eth0/address",
            "/sys/class/net/eth1/address",
        ])
    };
    assert!(
        live_macs(&old.name).lines().any(|l| l == mac),
        "the scene is what the test meant"
    );

    let out = update_once(&old.name, &[]);
    assert!(out.stderr.contains("Updated."), "{out}");
    assert_eq!(
        run.inspect(&old.name, "{{.State.Running}} {{.Config.Image}}"),
        format!("true {}", v2.reference)
    );
    assert_ne!(run.inspect(&old.name, "{{.Id}}"), old.id);
    let macs = live_macs(&old.name);
    assert!(macs.lines().any(|l| l == mac), "{macs}\n{out}");
    let on = |network: &str, field: &str| {
        run.inspect(
            &old.name,
            &format!("{{{{(index .NetworkSettings.Networks \"{network}\").{field}}}}}"),
        )
    };
    assert_eq!(on(&front, "MacAddress"), mac);
    assert_eq!(on(&front, "IPAddress"), ip);
    assert_eq!(on(&front, "IPAMConfig.IPv4Address"), ip);
    assert!(on(&front, "Aliases").contains("web"));
    assert!(on(&back, "Aliases").contains("second"));
    assert_ne!(
        on(&back, "MacAddress"),
        mac,
        "the user's MAC is the front network's"
    );
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

/// A field of `value` removed and returned.
fn take(value: &mut serde_json::Value, field: &str) -> serde_json::Value {
    value
        .as_object_mut()
        .and_then(|o| o.remove(field))
        .unwrap_or(serde_json::Value::Null)
}

/// The aliases of each network, less the engine's (a short container ID), with the static
/// address asked for: what a user set on the networks.
fn user_networks(run: &TestRun, target: &str) -> serde_json::Value {
    let networks = run.inspect_json(target, ".NetworkSettings.Networks");
    let mut user = serde_json::Map::new();
    for (name, endpoint) in networks.as_object().expect("networks") {
        let mut aliases: Vec<&str> = endpoint["Aliases"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str())
            .filter(|a| !(a.len() == 12 && a.chars().all(|c| c.is_ascii_hexdigit())))
            .collect();
        aliases.sort();
        let ipam = match &endpoint["IPAMConfig"] {
            serde_json::Value::Null => serde_json::json!({}),
            ipam => ipam.clone(),
        };
        user.insert(
            name.clone(),
            serde_json::json!({"Aliases": aliases, "IPAMConfig": ipam}),
        );
    }
    serde_json::Value::Object(user)
}

/// `Type Name Source Destination RW` of each mount, sorted.
fn mounts(run: &TestRun, target: &str) -> Vec<String> {
    let mut all: Vec<String> = run
        .inspect_json(target, ".Mounts")
        .as_array()
        .expect("mounts")
        .iter()
        .map(|m| {
            format!(
                "{} {} {} {} {}",
                m["Type"], m["Name"], m["Source"], m["Destination"], m["RW"]
            )
        })
        .collect();
    all.sort();
    all
}

#[test]
fn an_update_keeps_everything_the_user_set_field_by_field() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "everything", "1.0.0");
    let v2 = run.push(&registry, "everything", "1.1.0");
    let (front, prefix) = run.network_with_subnet("front");
    let back = run.network("back");
    let named = run.volume("named");
    let host_dir = tempfile::tempdir().expect("a host directory to bind");
    std::fs::write(host_dir.path().join("f"), "bound\n").expect("write the bound file");
    let host_path = host_dir.path().to_str().expect("UTF-8").to_string();
    let ip = format!("{prefix}.20");
    let named_bind = format!("{named}:/named");
    let host_bind = format!("{host_path}:/bound:ro");
    let bind_mount = format!("type=bind,src={host_path},dst=/bound2");
    let old = run.run_with(
        "everything",
        &[
            "-e",
            "USER_SETTING=kept",
            "--label",
            "user.label=kept",
            "-p",
            "127.0.0.1::8080",
            "-v",
            &host_bind,
            "--mount",
            &bind_mount,
            "-v",
            &named_bind,
            "-v",
            "/anon",
            "--mount",
            "type=volume,dst=/anon2",
            "--network",
            &front,
            "--ip",
            &ip,
            "--network-alias",
            "web",
            "--restart",
            "on-failure:3",
            "--hostname",
            "custom-host",
            "--memory",
            "64m",
            "--cpu-shares",
            "512",
            "--pids-limit",
            "100",
            "--cap-add",
            "NET_ADMIN",
            "--device",
            "/dev/null:/dev/xnull",
            "--log-opt",
            "max-size=1m",
            "--stop-signal",
            "SIGINT",
            "--stop-timeout",
            "3",
        ],
        &v1.reference,
        &["sleep", "1234"],
    );
    run.docker(&["network", "connect", "--alias", "second", &back, &old.id]);
    // The engine's hostname (its short ID) is not carried, unlike the user's.
    let auto = run.run("auto", &v1.reference, &[]);
    run.docker(&[
        "exec",
        &old.name,
        "sh",
        "-c",
        "echo n > /named/f && echo a > /anon/f && echo b > /anon2/f",
    ]);
    let before_config = run.inspect_json(&old.id, ".Config");
    let mut before_host = run.inspect_json(&old.id, ".HostConfig");
    let before_networks = user_networks(&run, &old.id);
    let before_mounts = mounts(&run, &old.id);
    assert_eq!(before_host["Memory"], 64 * 1024 * 1024, "the scene is set");
    assert_eq!(before_networks.as_object().map(|n| n.len()), Some(2));

    let include = format!("{}|{}", old.name, auto.name);
    let out = update_once(&include, &[]);
    assert_eq!(out.stderr.matches("Updated.").count(), 2, "{out}");
    let new_id = run.inspect(&old.name, "{{.Id}}");
    assert_ne!(new_id, old.id, "{out}");

    // Config: all of it but the image.
    let mut expected = before_config.clone();
    expected["Image"] = serde_json::Value::from(v2.reference.as_str());
    assert_eq!(run.inspect_json(&new_id, ".Config"), expected);
    assert_eq!(before_config["Hostname"], "custom-host");
    assert_eq!(before_config["Cmd"], serde_json::json!(["sleep", "1234"]));

    // HostConfig: all of it; the anonymous volumes now name the old volumes, which moved.
    let mut after_host = run.inspect_json(&new_id, ".HostConfig");
    let anon = |destination: &str| {
        run.inspect(
            &old.name,
            &format!("{{{{range .Mounts}}}}{{{{if eq .Destination \"{destination}\"}}}}{{{{.Name}}}}{{{{end}}}}{{{{end}}}}"),
        )
    };
    let mut binds = take(&mut before_host, "Binds");
    binds
        .as_array_mut()
        .expect("binds")
        .push(serde_json::Value::from(format!("{}:/anon", anon("/anon"))));
    assert_eq!(take(&mut after_host, "Binds"), binds);
    let mut declared = take(&mut before_host, "Mounts");
    for mount in declared.as_array_mut().expect("mounts") {
        if mount["Target"] == "/anon2" {
            mount["Source"] = serde_json::Value::from(anon("/anon2"));
        }
    }
    assert_eq!(take(&mut after_host, "Mounts"), declared);
    assert_eq!(after_host, before_host);

    // Mounts: the same volumes and binds, data included; networks: the same, with the
    // user's aliases and the static address.
    assert_eq!(mounts(&run, &new_id), before_mounts);
    let data = run.docker(&[
        "exec",
        &old.name,
        "cat",
        "/named/f",
        "/anon/f",
        "/anon2/f",
        "/bound/f",
        "/bound2/f",
    ]);
    assert_eq!(
        data.split_whitespace().collect::<Vec<_>>(),
        ["n", "a", "b", "bound", "bound"]
    );
    assert_eq!(user_networks(&run, &new_id), before_networks);
    assert_eq!(
        run.inspect(
            &new_id,
            &format!("{{{{(index .NetworkSettings.Networks \"{front}\").IPAddress}}}}")
        ),
        ip
    );
    assert_eq!(
        run.inspect(&new_id, "{{.State.Running}} {{.Config.Hostname}}"),
        "true custom-host"
    );

    let auto_id = run.inspect(&auto.name, "{{.Id}}");
    assert_ne!(auto_id, auto.id);
    assert_eq!(
        run.inspect(&auto.name, "{{.Config.Hostname}}"),
        auto_id[..12],
        "its own short ID, not its predecessor's"
    );
}

#[test]
fn a_chain_db_app_proxy_stops_from_the_top_and_starts_from_the_bottom() {
    let run = TestRun::new();
    let registry = run.registry();
    let db1 = run.push(&registry, "db", "1.0.0");
    run.push(&registry, "db", "1.1.0");
    let plain = run.push(&registry, "plain", "1.0.0");
    let db = run.run("db", &db1.reference, &[]);
    // app → db by a legacy link, proxy → app by the depends-on label.
    let app = run.run_with(
        "app",
        &["--link", &format!("{}:db", db.name)],
        &plain.reference,
        &[],
    );
    let depends = format!("tidewatch.depends-on={}", app.name);
    let proxy = run.run_with("proxy", &["--label", &depends], &plain.reference, &[]);
    let recording = EventLog::starts_and_stops(&run);

    let out = update_once(&db.name, &[]);
    assert!(out.stderr.contains("Updated."), "{out}");

    let ours = [&db.name, &app.name, &proxy.name];
    let lines: Vec<String> = recording
        .stop()
        .into_iter()
        .filter(|l| ours.iter().any(|name| l.starts_with(name.as_str())))
        .collect();
    let at = |wanted: String| {
        lines
            .iter()
            .position(|l| *l == wanted)
            .unwrap_or_else(|| panic!("no {wanted:?} in {lines:#?}\n{out}"))
    };
    let stops = [
        at(format!("{} stop", proxy.name)),
        at(format!("{} stop", app.name)),
        at(format!("{}-tidewatch-old stop", db.name)),
    ];
    let starts = [
        at(format!("{} start", db.name)),
        at(format!("{} start", app.name)),
        at(format!("{} start", proxy.name)),
    ];
    assert!(
        stops.windows(2).all(|w| w[0] < w[1])
            && stops[2] < starts[0]
            && starts.windows(2).all(|w| w[0] < w[1]),
        "{lines:#?}"
    );
    for c in ours {
        assert_eq!(run.inspect(c, "{{.State.Running}}"), "true", "{c}: {out}");
    }
}

/// The signals the engine sent to containers named `name`, by number, among the recorded
/// `name signal` lines of kill events.
fn kill_signals(events: &[String], name: &str) -> Vec<String> {
    events
        .iter()
        .filter_map(|l| {
            let (who, signal) = l.rsplit_once(' ')?;
            who.starts_with(name).then(|| signal.to_string())
        })
        .collect()
}

#[test]
fn the_old_container_is_stopped_with_the_label_signal_else_the_images() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "signalled", "1.0.0");
    run.push(&registry, "signalled", "1.1.0");
    // `docker import` takes no STOPSIGNAL: the classic builder adds it on top.
    let usr2 = |tag: &str| {
        let base = run.push(&registry, "imagesignal-base", tag);
        let reference = registry.reference("imagesignal", tag);
        let context = tempfile::tempdir().expect("a build context");
        let dockerfile = format!(
            "FROM {}\nSTOPSIGNAL SIGUSR2\nLABEL {}\n",
            base.reference,
            run.label()
        );
        std::fs::write(context.path().join("Dockerfile"), dockerfile).expect("Dockerfile");
        let built = std::process::Command::new("docker")
            .env("DOCKER_CONFIG", run.docker_config())
            .env("DOCKER_BUILDKIT", "0")
            .args(["build", "--quiet", "--tag", &reference])
            .arg(context.path())
            .output()
            .expect("docker build runs");
        assert!(
            built.status.success(),
            "docker build: {}",
            String::from_utf8_lossy(&built.stderr)
        );
        run.docker(&["push", &reference]);
        reference
    };
    let s1 = usr2("1.0.0");
    usr2("1.1.0");
    let labelled = run.run_with(
        "labelled",
        &["--label", "tidewatch.stop-signal=SIGUSR1"],
        &v1.reference,
        &[],
    );
    let imaged = run.run("imaged", &s1, &[]);
    let recording = EventLog::start(
        &run,
        &["type=container", "event=kill"],
        "{{.Actor.Attributes.name}} {{.Actor.Attributes.signal}}",
    );

    let out = update_once(&format!("{}|{}", labelled.name, imaged.name), &[]);
    assert_eq!(out.stderr.matches("Updated.").count(), 2, "{out}");
    let kills = recording.stop();
    // The first signal each got; the sleep ignores it, so SIGKILL (9) follows.
    let first = |name: &str| kill_signals(&kills, name).first().cloned();
    assert_eq!(
        first(&labelled.name).as_deref(),
        Some("10"),
        "SIGUSR1: {out}"
    );
    assert_eq!(first(&imaged.name).as_deref(), Some("12"), "SIGUSR2: {out}");
}

#[test]
fn prune_removes_the_old_image_once_no_container_uses_it() {
    let run = TestRun::new();
    let registry = run.registry();
    let shared1 = run.push(&registry, "shared", "1.0.0");
    run.push(&registry, "shared", "1.1.0");
    let alone1 = run.push(&registry, "alone", "1.0.0");
    run.push(&registry, "alone", "1.1.0");
    let updated = run.run("updated", &shared1.reference, &[]);
    // Not included: it keeps running the old image, which must stay.
    let _bystander = run.run("bystander", &shared1.reference, &[]);
    let alone = run.run("alone", &alone1.reference, &[]);

    let include = format!("{}|{}", updated.name, alone.name);
    // Keeping none for a rollback: the old image goes at once (see rollback_on_demand for
    // the default, which keeps the previous one).
    let out = update_once(
        &include,
        &[
            ("TIDEWATCH_TRIGGER_DOCKER_LOCAL_PRUNE", "true"),
            ("TIDEWATCH_TRIGGER_DOCKER_LOCAL_ROLLBACK_KEEP", "0"),
        ],
    );
    assert_eq!(out.stderr.matches("Updated.").count(), 2, "{out}");
    let exists = |id: &str| run.docker_output(&["image", "inspect", id]).success();
    assert!(exists(&shared1.id), "still used by the bystander: {out}");
    assert!(!exists(&alone1.id), "no container uses it any more: {out}");
}
