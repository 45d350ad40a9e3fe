//! The `mqtt` trigger set up as WUD's (`WUD_TRIGGER_MQTT_*`): an update found on the real
//! engine and registry is published, retained, to a real mosquitto broker on loopback, on WUD's
//! topic and as WUD's flattened container JSON; with the broker's password file too (and WUD's
//! Home Assistant update entity), where a wrong password is reported without being shown; over
//! TLS with a CA of the test's own.

use crate::support::{Container, Pushed, Registry, TestRun, tidewatch};
use std::collections::BTreeMap;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// A mosquitto of this test's own on a free loopback port, killed when dropped.
struct Broker {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl Broker {
    /// Anonymous, or with `user`:`password` in a password file and nobody else let in;
    /// `listener` is added to the listener's options (its TLS files).
    fn start(login: Option<(&str, &str)>, listener: &str) -> Broker {
        let dir = tempfile::Builder::new()
            .prefix("tidewatch-mqtt-")
            .tempdir()
            .expect("a temporary folder");
        let mut auth = "allow_anonymous true\n".to_string();
        if let Some((user, password)) = login {
            let file = dir.path().join("passwords");
            std::fs::File::create(&file).expect("the password file");
            let made = Command::new("mosquitto_passwd")
                .arg("-b")
                .arg(&file)
                .args([user, password])
                .output()
                .expect("mosquitto_passwd (package mosquitto) must be installed");
            assert!(made.status.success(), "mosquitto_passwd: {made:?}");
            auth = format!("allow_anonymous false\npassword_file {}\n", file.display());
        }
        // A port can be taken between choosing and binding it: try again on another.
        for _ in 0..5 {
            let port = free_port();
            let config = dir.path().join("mosquitto.conf");
            let mut text =
                format!("listener {port} 127.0.0.1\n{listener}persistence false\n{auth}");
            // Run as root, mosquitto would become the `mosquitto` user, who cannot read the
            // password file in this private folder.
            if unsafe { libc::geteuid() } == 0 {
                text.push_str("user root\n");
            }
            std::fs::File::create(&config)
                .and_then(|mut f| f.write_all(text.as_bytes()))
                .expect("the broker's configuration");
            let mut child = Command::new("mosquitto")
                .arg("-c")
                .arg(&config)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("mosquitto (package mosquitto) must be installed");
            if listening(&mut child, port) {
                return Broker {
                    child,
                    port,
                    _dir: dir,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("mosquitto did not listen on loopback");
    }

    fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// `mosquitto_sub` for the first message on `filter`: `topic retained payload`, with the
    /// retained flag as 0 or 1. Bounded by its own `-W`.
    fn first(
        &self,
        filter: &str,
        login: Option<(&str, &str)>,
    ) -> (String, bool, serde_json::Value) {
        self.first_with(filter, login, &[])
    }

    /// [`first`](Self::first) with more `mosquitto_sub` arguments (`--cafile`).
    fn first_with(
        &self,
        filter: &str,
        login: Option<(&str, &str)>,
        more: &[&str],
    ) -> (String, bool, serde_json::Value) {
        let mut sub = Command::new("mosquitto_sub");
        sub.args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-t", filter, "-C", "1", "-W", "20", "-F", "%t %r %p"])
            .args(more);
        if let Some((user, password)) = login {
            sub.args(["-u", user, "-P", password]);
        }
        let out = sub
            .output()
            .expect("mosquitto_sub (package mosquitto-clients) must be installed");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "mosquitto_sub: {out:?}\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut parts = text.trim_end().splitn(3, ' ');
        let topic = parts.next().unwrap_or_default().to_string();
        let retained = parts.next() == Some("1");
        let payload = serde_json::from_str(parts.next().unwrap_or_default())
            .unwrap_or_else(|err| panic!("not JSON ({err}): {text}"));
        (topic, retained, payload)
    }
}

impl Broker {
    /// Every retained message under `filter` now: topic → payload. Messages are one line each
    /// (compact JSON or a number); a cleared topic is absent.
    fn retained(&self, filter: &str) -> BTreeMap<String, String> {
        let out = Command::new("mosquitto_sub")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-t", filter, "--retained-only", "-W", "1", "-F", "%t %p"])
            .output()
            .expect("mosquitto_sub (package mosquitto-clients) must be installed");
        // It exits non-zero on its timeout, which is how a retained-only read ends.
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| line.split_once(' '))
            .map(|(topic, payload)| (topic.to_string(), payload.to_string()))
            .collect()
    }

    /// Reads the retained messages until `done` says they are as expected, for at most 30 s.
    #[track_caller]
    fn retained_until(
        &self,
        filter: &str,
        what: &str,
        done: impl Fn(&BTreeMap<String, String>) -> bool,
    ) -> BTreeMap<String, String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let now = self.retained(filter);
            if done(&now) {
                return now;
            }
            assert!(
                Instant::now() < deadline,
                "never {what}; retained: {now:#?}"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// Whether the broker accepts connections within 10 s (false once it has exited).
fn listening(child: &mut Child, port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return false;
        }
        let addr = ([127, 0, 0, 1], port).into();
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// A container named `name` on `app:1.0.0` of a fresh registry that also has `app:1.1.0`.
fn outdated(run: &TestRun) -> (Registry, Container, Pushed, Pushed) {
    let registry = run.registry();
    let v1 = run.push(&registry, "app", "1.0.0");
    let v2 = run.push(&registry, "app", "1.1.0");
    let app = run.run_with("app", &["--label", "team=web"], &v1.reference, &[]);
    (registry, app, v1, v2)
}

/// What WUD's MQTT consumers read: WUD's container, flattened with `_`.
#[track_caller]
fn assert_wud_flat(sent: &serde_json::Value, app: &Container, v1: &Pushed, v2: &Pushed) {
    assert_eq!(sent["id"], app.id.as_str(), "{sent:#}");
    assert_eq!(sent["name"], app.name.as_str());
    assert_eq!(sent["display_name"], app.name.as_str());
    assert_eq!(sent["display_icon"], "mdi:docker");
    assert_eq!(sent["status"], "running");
    assert_eq!(sent["watcher"], "local");
    assert_eq!(sent["image_id"], v1.id.as_str());
    assert_eq!(sent["image_registry_name"], "custom");
    assert_eq!(sent["image_tag_value"], "1.0.0");
    assert_eq!(sent["image_tag_semver"], true);
    assert_eq!(sent["image_digest_watch"], false);
    assert_eq!(sent["image_os"], "linux");
    assert_eq!(sent["result_tag"], "1.1.0");
    assert_eq!(sent["result_digest"], v2.digest.as_str());
    assert_eq!(sent["update_available"], true);
    assert_eq!(sent["update_kind_kind"], "tag");
    assert_eq!(sent["update_kind_local_value"], "1.0.0");
    assert_eq!(sent["update_kind_remote_value"], "1.1.0");
    assert_eq!(sent["update_kind_semver_diff"], "minor");
    assert_eq!(sent["labels_team"], "web");
    assert_eq!(sent.get("image"), None, "flattened: {sent:#}");
}

/// The topic WUD publishes a container on: dots in its name become `-`.
fn wud_topic(base: &str, app: &Container) -> String {
    format!("{base}/local/{}", app.name.replace('.', "-"))
}

#[test]
fn a_wud_mqtt_trigger_publishes_wuds_container_retained_on_wuds_topic() {
    let run = TestRun::new();
    let (_registry, app, v1, v2) = outdated(&run);
    let broker = Broker::start(None, "");
    let url = broker.url();
    // WUD's documented minimal setup: only the URL; the default topic.
    let env = [
        ("WUD_TRIGGER_MQTT_MOSQUITTO_URL", url.as_str()),
        ("TIDEWATCH_WATCHER_LOCAL_INCLUDE", app.name.as_str()),
    ];
    let out = tidewatch(&["run", "--once"], &env);
    assert!(out.status.success(), "{out}");
    // Subscribed after the run: only a retained message can arrive.
    let (topic, retained, sent) = broker.first("wud/container/#", None);
    assert_eq!(topic, wud_topic("wud/container", &app));
    assert!(retained, "published retained");
    assert_wud_flat(&sent, &app, &v1, &v2);
}

#[test]
fn a_wud_mqtt_trigger_logs_in_and_a_wrong_password_is_reported_unshown() {
    let run = TestRun::new();
    let (_registry, app, v1, v2) = outdated(&run);
    let login = ("wud", "mqttS3CRET");
    let broker = Broker::start(Some(login), "");
    let url = broker.url();
    let env = [
        ("WUD_TRIGGER_MQTT_HA_URL", url.as_str()),
        ("WUD_TRIGGER_MQTT_HA_TOPIC", "home/updates"),
        ("WUD_TRIGGER_MQTT_HA_USER", login.0),
        ("WUD_TRIGGER_MQTT_HA_PASSWORD", login.1),
        ("WUD_TRIGGER_MQTT_HA_CLIENTID", "tidewatch-test"),
        ("WUD_TRIGGER_MQTT_HA_HASS_ENABLED", "true"),
        ("TIDEWATCH_WATCHER_LOCAL_INCLUDE", app.name.as_str()),
    ];
    let out = tidewatch(&["run", "--once"], &env);
    assert!(out.status.success(), "{out}");
    assert!(
        !out.stderr.contains("S3CRET") && !out.stdout.contains("S3CRET"),
        "{out}"
    );
    // Home Assistant's integration is whole: nothing to warn about.
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(!said.contains("WUD_TRIGGER_MQTT_HA_HASS_ENABLED"), "{out}");
    // Beside WUD's sensors under the same base topic (`running`, the counts).
    let (topic, retained, sent) = broker.first(&wud_topic("home/updates", &app), Some(login));
    assert_eq!(topic, wud_topic("home/updates", &app));
    assert!(retained, "published retained");
    assert_wud_flat(&sent, &app, &v1, &v2);
    // WUD's Home Assistant update entity of the container, discovered.
    let state = wud_topic("home/updates", &app);
    let entity = state.replace('/', "_");
    let (topic, retained, config) = broker.first("homeassistant/update/#", Some(login));
    assert_eq!(topic, format!("homeassistant/update/{entity}/config"));
    assert!(retained, "published retained");
    assert_eq!(config["unique_id"], entity.as_str(), "{config:#}");
    assert_eq!(config["state_topic"], state.as_str());
    assert_eq!(config["latest_version_topic"], state.as_str());
    assert_eq!(config["name"], app.name.as_str());
    assert_eq!(config["device"]["identifiers"][0], "wud");

    // The same with a wrong password: refused, said without the password.
    let wrong = TestRun::new();
    let (_registry2, other, _, _) = outdated(&wrong);
    let env = [
        ("WUD_TRIGGER_MQTT_HA_URL", url.as_str()),
        ("WUD_TRIGGER_MQTT_HA_USER", login.0),
        ("WUD_TRIGGER_MQTT_HA_PASSWORD", "wrongS3CRET"),
        ("TIDEWATCH_WATCHER_LOCAL_INCLUDE", other.name.as_str()),
    ];
    let out = tidewatch(&["run", "--once"], &env);
    assert!(
        !out.stderr.contains("S3CRET") && !out.stdout.contains("S3CRET"),
        "{out}"
    );
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(
        said.contains("refused the connection"),
        "the refusal is reported: {out}"
    );
}

#[test]
fn a_wud_mqtt_trigger_over_tls_trusts_its_ca_chain() {
    let run = TestRun::new();
    let (_registry, app, v1, v2) = outdated(&run);
    let certs = tempfile::Builder::new()
        .prefix("tidewatch-mqtt-tls-")
        .tempdir()
        .expect("a temporary folder");
    crate::run::tls_files(certs.path());
    let file = |name: &str| certs.path().join(name).display().to_string();
    let listener = format!(
        "cafile {}\ncertfile {}\nkeyfile {}\n",
        file("ca.pem"),
        file("server-cert.pem"),
        file("server-key.pem")
    );
    let broker = Broker::start(None, &listener);
    let url = format!("mqtts://127.0.0.1:{}", broker.port);
    let ca = file("ca.pem");
    let env = [
        ("WUD_TRIGGER_MQTT_SECURE_URL", url.as_str()),
        ("WUD_TRIGGER_MQTT_SECURE_TLS_CACHAIN", ca.as_str()),
        ("TIDEWATCH_WATCHER_LOCAL_INCLUDE", app.name.as_str()),
    ];
    let out = tidewatch(&["run", "--once"], &env);
    assert!(out.status.success(), "{out}");
    let (topic, retained, sent) =
        broker.first_with("wud/container/#", None, &["--cafile", ca.as_str()]);
    assert_eq!(topic, wud_topic("wud/container", &app));
    assert!(retained, "published retained");
    assert_wud_flat(&sent, &app, &v1, &v2);

    // Without the CA the broker's certificate is not trusted: reported, nothing published.
    let untrusted = TestRun::new();
    let (_registry2, other, _, _) = outdated(&untrusted);
    let env = [
        ("WUD_TRIGGER_MQTT_SECURE_URL", url.as_str()),
        ("WUD_TRIGGER_MQTT_SECURE_RETRIES", "0"),
        ("TIDEWATCH_WATCHER_LOCAL_INCLUDE", other.name.as_str()),
    ];
    let out = tidewatch(&["run", "--once"], &env);
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(said.to_lowercase().contains("certificate"), "{out}");

    // WUD's escape hatch for a self-signed broker: any certificate is taken.
    let hatch = TestRun::new();
    let (third_registry, third, third_v1, third_v2) = outdated(&hatch);
    let env = [
        ("WUD_TRIGGER_MQTT_SELFSIGNED_URL", url.as_str()),
        ("WUD_TRIGGER_MQTT_SELFSIGNED_TOPIC", "insecure"),
        (
            "WUD_TRIGGER_MQTT_SELFSIGNED_TLS_REJECTUNAUTHORIZED",
            "false",
        ),
        ("TIDEWATCH_WATCHER_LOCAL_INCLUDE", third.name.as_str()),
    ];
    let out = tidewatch(&["run", "--once"], &env);
    assert!(out.status.success(), "{out}");
    let (topic, retained, sent) = broker.first_with("insecure/#", None, &["--cafile", ca.as_str()]);
    assert_eq!(topic, wud_topic("insecure", &third));
    assert!(retained, "published retained");
    assert_wud_flat(&sent, &third, &third_v1, &third_v2);
    drop(third_registry);
}

#[test]
fn a_missing_tls_file_stops_start_up_naming_the_variable() {
    let out = tidewatch(
        &["config"],
        &[
            ("WUD_TRIGGER_MQTT_SECURE_URL", "mqtts://127.0.0.1:8883"),
            ("WUD_TRIGGER_MQTT_SECURE_TLS_CACHAIN", "/nonexistent/ca.pem"),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(
        out.stderr.contains("WUD_TRIGGER_MQTT_SECURE_TLS_CACHAIN"),
        "{out}"
    );
    let out = tidewatch(
        &["config"],
        &[("WUD_TRIGGER_MQTT_WEB_URL", "wss://127.0.0.1")],
    );
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(out.stderr.contains("WUD_TRIGGER_MQTT_WEB_URL"), "{out}");
    assert!(out.stderr.contains("not supported"), "{out}");
}

/// WUD's MQTT trigger mirrors every container it watches, updated or not: with Home Assistant,
/// each gets its update entity and WUD's counts follow; once the docker trigger has updated a
/// container its entity reads up to date at once, and a container removed loses its entity.
#[test]
fn with_home_assistant_every_container_is_mirrored_with_wuds_counts_until_it_is_removed() {
    let run = TestRun::new();
    let (registry, app, _v1, v2) = outdated(&run);
    let steady = run.run("steady", &v2.reference, &[]);
    let broker = Broker::start(None, "");
    let url = broker.url();
    let ours = run.own_names();
    let store = crate::support::fresh_store_dir();
    let store = store.to_str().expect("UTF-8");
    let mut env = crate::support::update::docker_trigger_env(&app.name, store);
    env.extend([
        ("WUD_TRIGGER_MQTT_HA_URL", url.as_str()),
        ("WUD_TRIGGER_MQTT_HA_HASS_ENABLED", "true"),
        ("TIDEWATCH_WATCHER_LOCAL_INCLUDE", ours.as_str()),
        // Only the start-up check and the engine's events during the test.
        ("TIDEWATCH_WATCHER_LOCAL_CRON", "0 0 0 1 1 *"),
    ]);
    let mut daemon = crate::run::Daemon::start(&env);

    let state = |name: &str| format!("wud/container/local/{name}");
    let entity = |name: &str| format!("homeassistant/update/wud_container_local_{name}/config");
    let field = |now: &BTreeMap<String, String>, topic: &str, key: &str| -> serde_json::Value {
        now.get(topic)
            .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
            .map(|v| v[key].clone())
            .unwrap_or(serde_json::Value::Null)
    };
    // The update applied: both containers shown up to date, `app` on its new tag and new ID.
    let now = broker.retained_until("#", "app shown updated", |now| {
        field(now, &state(&app.name), "image_tag_value") == "1.1.0"
            && now.get("wud/container/update_count").map(String::as_str) == Some("0")
    });
    let new_id = run.inspect(&app.name, "{{.Id}}");
    assert_ne!(new_id, app.id, "re-created");
    assert_eq!(field(&now, &state(&app.name), "id"), new_id.as_str());
    assert_eq!(field(&now, &state(&app.name), "update_available"), false);
    assert_eq!(field(&now, &state(&steady.name), "update_available"), false);
    assert_eq!(
        field(&now, &state(&steady.name), "image_tag_value"),
        "1.1.0"
    );
    assert_eq!(
        field(&now, &state(&steady.name), "image_registry_url"),
        format!("https://{}/v2", registry.addr()).as_str()
    );
    for name in [&app.name, &steady.name] {
        let config: serde_json::Value =
            serde_json::from_str(now.get(&entity(name)).expect("an update entity")).unwrap();
        assert_eq!(config["state_topic"], state(name).as_str());
        assert_eq!(config["device"]["identifiers"], serde_json::json!(["wud"]));
    }
    for (topic, value) in [
        ("wud/container/total_count", "2"),
        ("wud/container/update_count", "0"),
        ("wud/container/update_status", "false"),
        ("wud/container/local/total_count", "2"),
        ("wud/container/local/update_status", "false"),
    ] {
        assert_eq!(
            now.get(topic).map(String::as_str),
            Some(value),
            "{topic}: {now:#?}"
        );
    }
    let counted: serde_json::Value = serde_json::from_str(
        now.get("homeassistant/sensor/wud_container_total_count/config")
            .expect("the count's entity"),
    )
    .unwrap();
    assert_eq!(counted["name"], "Total container count");
    assert_eq!(counted["state_topic"], "wud/container/total_count");
    // The start-up check is over: the watcher is not running one.
    assert_eq!(
        now.get("wud/container/local/running").map(String::as_str),
        Some("false"),
        "{now:#?}"
    );
    assert!(now.contains_key("homeassistant/binary_sensor/wud_container_local_running/config"));

    // Removed while the daemon runs: its entity goes, the counts follow.
    run.docker(&["rm", "-f", &steady.name]);
    let now = broker.retained_until("#", "steady's entity removed", |now| {
        !now.contains_key(&entity(&steady.name))
            && now.get("wud/container/total_count").map(String::as_str) == Some("1")
    });
    assert!(now.contains_key(&entity(&app.name)), "{now:#?}");

    let status = daemon.terminate();
    assert!(status.success(), "{status:?}");
}
