//! The daemon's HTTP server end to end: `tidewatch run` started as a user would, on a free
//! port, asked with reqwest; a real engine, a real registry (which notifies the daemon of
//! pushes in one test), and what the API says checked against what the engine shows.

use crate::support::{RegistryOptions, TestRun, fresh_store_dir, tidewatch_command};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

const TOKEN: &str = "api-token-for-tests";

/// The container under `old.name` is still `old`, running `image`.
#[track_caller]
fn untouched(run: &TestRun, old: &crate::support::Container, image: &str, log: &str) {
    assert_eq!(
        run.inspect(&old.name, "{{.Id}} {{.State.Running}} {{.Config.Image}}"),
        format!("{} true {image}", old.id),
        "the container must not change:\n{log}"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// `tidewatch run` serving on 127.0.0.1:`port`; its stderr collected; killed on drop.
struct Served {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    base: String,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

/// An answer: status and body.
struct Answer {
    status: u16,
    body: String,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {}", self.body))
    }
}

impl Served {
    /// Starts the daemon with `env` (the server's port and address are added) and waits until
    /// it answers `/health` and has finished its first check.
    fn start(port: u16, env: &[(&str, &str)]) -> Served {
        let mut served = Served::start_without_check(port, env);
        served.wait_for("Check completed.", 1);
        served
    }

    /// Starts the daemon and waits until it answers `/health`.
    fn start_without_check(port: u16, env: &[(&str, &str)]) -> Served {
        Served::start_serving(port, env, None)
    }

    /// Starts the daemon serving HTTPS with a certificate signed by `root` (PEM).
    fn start_serving(port: u16, env: &[(&str, &str)], root: Option<&[u8]>) -> Served {
        let port_text = port.to_string();
        let mut all: Vec<(&str, &str)> = vec![
            ("TIDEWATCH_SERVER_PORT", &port_text),
            ("TIDEWATCH_SERVER_ADDRESS", "127.0.0.1"),
            ("TIDEWATCH_LOG_FORMAT", "json"),
        ];
        all.extend_from_slice(env);
        let mut child = tidewatch_command(&["run"], &all)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tidewatch run");
        let stderr = child.stderr.take().expect("stderr piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut served = Served {
            child,
            lines,
            seen: Vec::new(),
            base: format!(
                "{}://127.0.0.1:{port}",
                if root.is_some() { "https" } else { "http" }
            ),
            client: root
                .into_iter()
                .fold(reqwest::Client::builder(), |builder, pem| {
                    builder.add_root_certificate(
                        reqwest::Certificate::from_pem(pem).expect("a PEM certificate"),
                    )
                })
                .timeout(Duration::from_secs(120))
                .build()
                .expect("reqwest client"),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
        };
        served.wait_for("Serving the API.", 1);
        let health = served.get("/health", None);
        assert_eq!(health.status, 200, "{}", health.body);
        served
    }

    /// Waits (60 s at most) until `count` log lines contain `message`.
    #[track_caller]
    fn wait_for(&mut self, message: &str, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.seen.iter().filter(|l| l.contains(message)).count() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!(
                    "no {count}× {message:?} within 60 s; got:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Every line logged so far.
    fn log(&mut self) -> String {
        self.seen.extend(self.lines.try_iter());
        self.seen.join("\n")
    }

    fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(body);
        self.runtime.block_on(async {
            let response = request.send().await.expect("the server answers");
            Answer {
                status: response.status().as_u16(),
                body: response.text().await.unwrap_or_default(),
            }
        })
    }

    /// Waits (10 s at most) until the API knows container `id`: the store, which it reads,
    /// records a check a moment after the check is logged.
    #[track_caller]
    fn wait_listed(&self, id: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.get(&format!("/api/containers/{id}"), None).status != 200 {
            assert!(Instant::now() < deadline, "{id} never listed by the API");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn get(&self, path: &str, token: Option<&str>) -> Answer {
        let bearer = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = bearer
            .iter()
            .map(|b| ("Authorization", b.as_str()))
            .collect();
        self.send("GET", path, &headers, Vec::new())
    }

    fn post(&self, path: &str, token: Option<&str>) -> Answer {
        let bearer = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = bearer
            .iter()
            .map(|b| ("Authorization", b.as_str()))
            .collect();
        self.send("POST", path, &headers, Vec::new())
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The daemon on the test's own container only, with a docker trigger that waits to be told
/// (`auto` off), a schedule that does not fire during a test, and the API token.
fn env_for<'a>(name: &'a str, store: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("TIDEWATCH_WATCHER_LOCAL_INCLUDE", name),
        ("TIDEWATCH_WATCHER_LOCAL_CRON", "0 0 1 1 *"),
        ("TIDEWATCH_WATCHER_LOCAL_WATCHEVENTS", "false"),
        ("TIDEWATCH_TRIGGER_DOCKER_LOCAL_INCLUDE", name),
        ("TIDEWATCH_TRIGGER_DOCKER_LOCAL_AUTO", "false"),
        ("TIDEWATCH_TRIGGER_DOCKER_LOCAL_SETTLE", "1"),
        ("TIDEWATCH_TRIGGER_DOCKER_LOCAL_STOPTIMEOUT", "1"),
        ("TIDEWATCH_STORE_PATH", store),
        ("TIDEWATCH_SERVER_TOKEN", TOKEN),
    ]
}

#[test]
fn wud_api_answers_in_wuds_shape_and_a_trigger_run_by_hand_updates_the_container() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "wudapi", "1.0.0");
    let v2 = run.push(&registry, "wudapi", "1.1.0");
    let old = run.run_with(
        "wudapi",
        &["--label", "wud.display.icon=mdi:test"],
        &v1.reference,
        &[],
    );
    let dir = fresh_store_dir();
    let store = dir.to_str().unwrap();
    let port = free_port();
    let mut env = env_for(&old.name, store);
    // A notifier with secrets, to see them masked; it never reaches anything (port 9).
    env.extend([
        (
            "TIDEWATCH_TRIGGER_HTTP_HOOK_URL",
            "http://127.0.0.1:9/secret-path",
        ),
        ("TIDEWATCH_TRIGGER_HTTP_HOOK_SECRET", "hook-secret"),
    ]);
    let mut served = Served::start(port, &env);

    // The check is logged when it is done; the store, which the API reads, records it from the
    // bus a moment later (and the API's view of it is at most a second old).
    let deadline = Instant::now() + Duration::from_secs(10);
    let list = loop {
        let answer = served.get("/api/containers", None);
        assert_eq!(answer.status, 200, "{}", answer.body);
        let list = answer.json();
        let done = list.as_array().is_some_and(|l| !l.is_empty());
        if done || Instant::now() > deadline {
            break list;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let list = list.as_array().expect("an array, as WUD answers");
    assert_eq!(list.len(), 1, "{list:?}");
    let c = &list[0];
    // Field by field, against WUD's model (app/model/container.ts).
    assert_eq!(c["id"], old.id.as_str());
    assert_eq!(c["name"], old.name.as_str());
    assert_eq!(c["displayName"], old.name.as_str());
    assert_eq!(c["displayIcon"], "mdi:test");
    assert_eq!(c["status"], "running");
    assert_eq!(c["watcher"], "local");
    assert_eq!(c["image"]["registry"]["name"], "custom");
    assert_eq!(
        c["image"]["registry"]["url"],
        format!("https://{}/v2", registry.addr())
    );
    assert_eq!(c["image"]["name"], "wudapi");
    assert_eq!(c["image"]["tag"]["value"], "1.0.0");
    assert_eq!(c["image"]["tag"]["semver"], true);
    assert_eq!(c["image"]["digest"]["watch"], false);
    assert!(
        c["image"]["digest"]["value"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:")),
        "{c}"
    );
    assert!(
        c["image"]["id"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:")),
        "{c}"
    );
    assert!(c["image"]["architecture"].is_string(), "{c}");
    assert_eq!(c["image"]["os"], "linux");
    assert_eq!(c["updateAvailable"], true);
    assert_eq!(c["updateKind"]["kind"], "tag");
    assert_eq!(c["updateKind"]["localValue"], "1.0.0");
    assert_eq!(c["updateKind"]["remoteValue"], "1.1.0");
    assert_eq!(c["updateKind"]["semverDiff"], "minor");
    assert_eq!(c["result"]["tag"], "1.1.0");
    assert!(c["error"].is_null(), "{c}");
    assert_eq!(c["labels"]["wud.display.icon"], "mdi:test");

    let one = served.get(&format!("/api/containers/{}", old.id), None);
    assert_eq!(one.status, 200);
    assert_eq!(one.json()["name"], old.name.as_str());
    assert_eq!(served.get("/api/containers/nope", None).status, 404);
    let app = served.get("/api/app", None).json();
    assert_eq!(app["name"], "tidewatch");
    let triggers = served
        .get(&format!("/api/containers/{}/triggers", old.id), None)
        .json();
    assert!(
        triggers
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == "docker.local" && t["type"] == "docker" && t["name"] == "local"),
        "{triggers}"
    );
    let listed = served.get("/api/triggers", None);
    assert_eq!(listed.status, 200);
    assert!(
        !listed.body.contains("secret-path") && !listed.body.contains("hook-secret"),
        "{}",
        listed.body
    );
    let hook = served.get("/api/triggers/http/hook", None).json();
    assert_eq!(hook["configuration"]["url"], "***", "{hook}");
    let watchers = served.get("/api/watchers", None).json();
    assert_eq!(watchers[0]["id"], "docker.local", "{watchers}");

    // Acting needs the token: without it, or with a wrong one, 401 and nothing changes.
    let path = format!("/api/containers/{}/triggers/docker/local", old.id);
    for token in [None, Some("wrong")] {
        let refused = served.post(&path, token);
        assert_eq!(refused.status, 401, "{}", refused.body);
        assert!(!refused.body.contains(TOKEN));
    }
    let nothing = served.post(&format!("/api/containers/{}/watch", old.id), None);
    assert_eq!(nothing.status, 401);
    std::thread::sleep(Duration::from_secs(1));
    let log = served.log();
    untouched(&run, &old, &v1.reference, &log);

    // With it: the update is applied, and the answer comes once it is done.
    let done = served.post(&path, Some(TOKEN));
    assert_eq!(done.status, 200, "{}\n{}", done.body, served.log());
    assert_eq!(done.json(), serde_json::json!({}));
    assert_eq!(run.inspect(&old.name, "{{.Config.Image}}"), v2.reference);
    assert_ne!(run.inspect(&old.name, "{{.Id}}"), old.id);
}

#[test]
fn watchtowers_update_api_needs_its_token_and_updates_the_images_asked_for() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "wtapi", "1.0.0");
    let v2 = run.push(&registry, "wtapi", "1.0.1");
    let old = run.run("wtapi", &v1.reference, &[]);
    let dir = fresh_store_dir();
    let store = dir.to_str().unwrap();
    let port = free_port();
    let port_text = port.to_string();
    let mut env = env_for(&old.name, store);
    // Watchtower's own variables, as a CI setup has them; no periodic polls then.
    env.retain(|(k, _)| *k != "TIDEWATCH_SERVER_TOKEN");
    env.extend([
        ("WATCHTOWER_HTTP_API_UPDATE", "true"),
        ("WATCHTOWER_HTTP_API_TOKEN", "wt-token"),
        ("TIDEWATCH_SERVER_PORT", port_text.as_str()),
    ]);
    // Without polls there is no first check: wait for the server instead.
    let mut served = Served::start_without_check(port, &env);
    for headers in [vec![], vec![("Authorization", "Bearer nope")]] {
        let refused = served.send("POST", "/v1/update", &headers, Vec::new());
        assert_eq!(refused.status, 401, "{}", refused.body);
    }
    std::thread::sleep(Duration::from_secs(1));
    let log = served.log();
    assert!(
        !log.contains("Check completed."),
        "no check without the token:\n{log}"
    );
    untouched(&run, &old, &v1.reference, &log);

    // Another repository: nothing to do.
    let other = served.send(
        "POST",
        "/v1/update?image=127.0.0.1:1/other",
        &[("Authorization", "Bearer wt-token")],
        Vec::new(),
    );
    assert_eq!(other.status, 200, "{}", other.body);
    untouched(&run, &old, &v1.reference, &served.log());

    let repository = format!("{}/wtapi", registry.addr());
    let done = served.send(
        "POST",
        &format!("/v1/update?image={repository}"),
        &[("Authorization", "Bearer wt-token")],
        Vec::new(),
    );
    assert_eq!(done.status, 200, "{}\n{}", done.body, served.log());
    assert_eq!(run.inspect(&old.name, "{{.Config.Image}}"), v2.reference);
}

#[test]
fn metrics_parse_and_count_the_registry_requests_its_access_log_shows() {
    let run = TestRun::new();
    let registry = run.registry_with(RegistryOptions::default().access_log());
    let v1 = run.push(&registry, "metered", "1.0.0");
    run.push(&registry, "metered", "1.2.0");
    let old = run.run("metered", &v1.reference, &[]);
    let dir = fresh_store_dir();
    let store = dir.to_str().unwrap();
    let port = free_port();
    let served = Served::start(port, &env_for(&old.name, store));

    let scrape = || {
        let answer = served.get("/metrics", None);
        assert_eq!(answer.status, 200, "{}", answer.body);
        let lines = answer.body.lines().map(|l| Ok(l.to_string()));
        prometheus_parse::Scrape::parse(lines).expect("Prometheus text")
    };
    let requests = |scrape: &prometheus_parse::Scrape| -> f64 {
        scrape
            .samples
            .iter()
            .filter(|s| s.metric == "tidewatch_registry_requests_total")
            .filter(|s| s.labels.get("host") == Some(registry.addr()))
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Untyped(v) => v,
                _ => 0.0,
            })
            .sum()
    };
    // The metrics subscriber counts the start-up check a moment after it is logged.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !scrape()
        .samples
        .iter()
        .any(|s| s.metric == "tidewatch_checks_total")
    {
        assert!(Instant::now() < deadline, "no tidewatch_checks_total");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Counted and logged agree exactly whenever no request is in flight. A check the engine's
    // events start (the container's start, seen late) may be under way at the first look, so
    // look until a quiet moment: the same count before and after reading the log.
    let deadline = Instant::now() + Duration::from_secs(20);
    let after = loop {
        let before = scrape();
        let logged = registry.access_log("tidewatch/").len() as f64;
        let after = scrape();
        assert!(requests(&before) > 0.0, "{:?}", before.samples);
        assert!(
            requests(&before) <= logged + 0.5,
            "a request counted that the registry never saw: metrics {}, access log {logged}:\n{}",
            requests(&before),
            registry.access_log("tidewatch/").join("\n")
        );
        if requests(&before) == logged && logged == requests(&after) {
            break after;
        }
        assert!(
            Instant::now() < deadline,
            "metrics {} / {}, access log {logged}: never agreed; the log:\n{}",
            requests(&before),
            requests(&after),
            registry.access_log("tidewatch/").join("\n")
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    let value = |scrape: &prometheus_parse::Scrape, metric: &str, label: (&str, &str)| -> f64 {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == metric && s.labels.get(label.0) == Some(label.1))
            .map(|s| match s.value {
                prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => f64::NAN,
            })
            .unwrap_or_else(|| panic!("no {metric} {label:?}"))
    };
    // The gauges are read from the store (through the API's view, at most a second old), which
    // records the check from the bus a moment after the counters saw it.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut gauges = scrape();
    let found = |scrape: &prometheus_parse::Scrape| {
        scrape.samples.iter().any(|s| {
            s.metric == "tidewatch_containers"
                && s.labels.get("status") == Some("update-available")
                && matches!(s.value,
                    prometheus_parse::Value::Gauge(v) | prometheus_parse::Value::Untyped(v) if v >= 1.0)
        })
    };
    while !found(&gauges) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        gauges = scrape();
    }
    assert_eq!(
        value(
            &gauges,
            "tidewatch_containers",
            ("status", "update-available")
        ),
        1.0,
        "the store's containers: {}",
        served.get("/api/containers", None).body
    );
    assert_eq!(
        value(&gauges, "tidewatch_updates_available", ("kind", "minor")),
        1.0
    );
    assert_eq!(
        value(&after, "tidewatch_checks_total", ("watcher", "local")),
        1.0
    );
    // Bounded labels: no container name anywhere.
    assert!(
        !served.get("/metrics", None).body.contains(&old.name),
        "a container name is a label value"
    );
}

#[test]
fn a_registry_push_notification_updates_the_container_with_no_poll() {
    let run = TestRun::new();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/api/webhooks/distribution");
    let registry =
        run.registry_with(RegistryOptions::default().notify(&url, &format!("Bearer {TOKEN}")));
    let v1 = run.push(&registry, "pushed", "2.0.0");
    let old = run.run("pushed", &v1.reference, &[]);
    let dir = fresh_store_dir();
    let store = dir.to_str().unwrap();
    let mut env = env_for(&old.name, store);
    env.retain(|(k, _)| *k != "TIDEWATCH_TRIGGER_DOCKER_LOCAL_AUTO");
    env.push(("TIDEWATCH_TRIGGER_DOCKER_LOCAL_AUTO", "true"));
    let mut served = Served::start(port, &env);
    assert!(
        served.log().contains("\"up_to_date\":1"),
        "{}",
        served.log()
    );

    // A new version pushed with skopeo, straight from the engine's image store.
    let target = registry.reference("pushed", "2.0.1");
    let v2 = run.image(&target, "2.0.1");
    let copy = std::process::Command::new("skopeo")
        .args([
            "copy",
            "--dest-tls-verify=false",
            &format!("docker-daemon:{}", v2.reference),
            &format!("docker://{target}"),
        ])
        .output()
        .expect("skopeo runs (Debian's skopeo; see TESTING.md)");
    assert!(
        copy.status.success(),
        "{}",
        String::from_utf8_lossy(&copy.stderr)
    );

    served.wait_for("Registry push received.", 1);
    served.wait_for("Updated.", 1);
    let deadline = Instant::now() + Duration::from_secs(30);
    while run.inspect(&old.name, "{{.Config.Image}}") != target {
        assert!(Instant::now() < deadline, "not updated:\n{}", served.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    let log = served.log();
    // The start-up check, then only the push's: no schedule fired, no watcher re-listed.
    assert_eq!(log.matches("Check completed.").count(), 1, "{log}");
}

#[test]
fn bad_input_gets_a_clear_4xx_and_the_daemon_keeps_serving() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "sturdy", "1.0.0");
    let old = run.run("sturdy", &v1.reference, &[]);
    let dir = fresh_store_dir();
    let store = dir.to_str().unwrap();
    let port = free_port();
    let mut env = env_for(&old.name, store);
    env.push(("TIDEWATCH_SERVER_WEBHOOK_GITHUB_SECRET", "gh-secret"));
    let mut served = Served::start(port, &env);
    let bearer = format!("Bearer {TOKEN}");
    let auth = [
        ("Authorization", bearer.as_str()),
        ("Content-Type", "application/json"),
    ];

    let malformed = served.send(
        "POST",
        "/api/webhooks/distribution",
        &auth,
        b"{\"events\": [".to_vec(),
    );
    assert_eq!(malformed.status, 400, "{}", malformed.body);
    assert!(
        malformed.json()["error"]
            .as_str()
            .is_some_and(|e| e.contains("JSON"))
    );
    let wrong_shape = served.send(
        "POST",
        "/api/webhooks/dockerhub",
        &auth,
        b"{\"x\": 1}".to_vec(),
    );
    assert_eq!(wrong_shape.status, 400, "{}", wrong_shape.body);

    let huge = vec![b'a'; 10 * 1024 * 1024];
    let too_big = served.send("POST", "/api/webhooks/distribution", &auth, huge);
    assert_eq!(too_big.status, 413, "{}", too_big.body);

    for (method, path) in [
        ("GET", "/nope"),
        ("POST", "/api/nope"),
        ("GET", "/api/webhooks/unknown"),
    ] {
        let answer = served.send(method, path, &[], Vec::new());
        assert!(
            answer.status == 404 || answer.status == 405,
            "{method} {path}: {}",
            answer.status
        );
    }
    assert_eq!(
        served
            .send("POST", "/api/webhooks/unknown", &auth, b"{}".to_vec())
            .status,
        404
    );

    let signed = served.send(
        "POST",
        "/api/webhooks/github",
        &[
            ("X-Hub-Signature-256", "sha256=00ff"),
            ("X-GitHub-Event", "package"),
        ],
        b"{\"package\": {}}".to_vec(),
    );
    assert_eq!(signed.status, 401, "{}", signed.body);

    // An image no container runs: accepted and ignored.
    let unknown = served.send(
        "POST",
        "/api/webhooks/dockerhub",
        &auth,
        br#"{"repository": {"repo_name": "nobody/nothing"}}"#.to_vec(),
    );
    assert_eq!(unknown.status, 200, "{}", unknown.body);
    assert_eq!(unknown.json()["ignored"], true);

    assert_eq!(served.get("/health", None).status, 200);
    assert_eq!(served.get("/api/containers", None).status, 200);
    let log = served.log();
    assert!(
        !log.contains(TOKEN) && !log.contains("gh-secret"),
        "a secret in the log:\n{log}"
    );
    untouched(&run, &old, &v1.reference, &log);
}

#[test]
fn https_and_wuds_basic_logins_protect_reading_as_in_wud() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "guarded", "1.0.0");
    let old = run.run("guarded", &v1.reference, &[]);
    let dir = tempfile::tempdir().expect("temp dir");
    // A CA and a server certificate for 127.0.0.1, as the TLS watcher tests make them.
    crate::run::tls_files(dir.path());
    let htpasswd = std::process::Command::new("htpasswd")
        .args(["-nbB", "john", "doe-password"])
        .output()
        .expect("run htpasswd (Debian's apache2-utils)");
    let line = String::from_utf8_lossy(&htpasswd.stdout).trim().to_string();
    let hash = line.split_once(':').expect("user:hash").1.to_string();
    let (cert, key) = (
        dir.path().join("server-cert.pem"),
        dir.path().join("server-key.pem"),
    );
    let store = fresh_store_dir();
    let mut env = env_for(&old.name, store.to_str().unwrap());
    env.retain(|(k, _)| *k != "TIDEWATCH_SERVER_TOKEN");
    env.extend([
        ("WUD_SERVER_TLS_ENABLED", "true"),
        ("WUD_SERVER_TLS_CERT", cert.to_str().unwrap()),
        ("WUD_SERVER_TLS_KEY", key.to_str().unwrap()),
        ("WUD_AUTH_BASIC_JOHN_USER", "john"),
        ("WUD_AUTH_BASIC_JOHN_HASH", hash.as_str()),
    ]);
    let pem = std::fs::read(dir.path().join("ca.pem")).expect("read CA");
    let mut served = Served::start_serving(free_port(), &env, Some(&pem));
    served.wait_for("Check completed.", 1);

    let login = |user: &str, password: &str| {
        use base64::Engine as _;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )
    };
    // With a login configured, reading needs it too, as in WUD.
    let anonymous = served.get("/api/containers", None);
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);
    let wrong = served.send(
        "GET",
        "/api/containers",
        &[("Authorization", &login("john", "nope"))],
        Vec::new(),
    );
    assert_eq!(wrong.status, 401);
    let good = login("john", "doe-password");
    for _ in 0..2 {
        let answer = served.send(
            "GET",
            "/api/containers",
            &[("Authorization", &good)],
            Vec::new(),
        );
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.json()[0]["name"], old.name.as_str());
    }
    let watch = served.send(
        "POST",
        &format!("/api/containers/{}/watch", old.id),
        &[("Authorization", &good)],
        Vec::new(),
    );
    assert_eq!(watch.status, 200, "{}", watch.body);
    assert_eq!(served.get("/health", None).status, 200);
    let log = served.log();
    assert!(
        !log.contains("doe-password") && !log.contains(&hash),
        "{log}"
    );
}

#[test]
fn rollback_hold_and_release_through_the_api_need_the_token_and_act_like_the_commands() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "apirb", "1.4.2");
    let v2 = run.push(&registry, "apirb", "1.5.0");
    let old = run.run("apirb", &v1.reference, &[]);
    let v1_image = run.inspect(&old.name, "{{.Image}}");
    let dir = fresh_store_dir();
    let store = dir.to_str().unwrap();
    let port = free_port();
    let port_text = port.to_string();
    let mut env = env_for(&old.name, store);
    env.push(("TIDEWATCH_SERVER_PORT", port_text.as_str()));
    let mut served = Served::start(port, &env);

    // Applied by hand first, then undone through the API.
    served.wait_listed(&old.id);
    let apply = format!("/api/containers/{}/triggers/docker/local", old.id);
    let applied = served.post(&apply, Some(TOKEN));
    assert_eq!(applied.status, 200, "{}\n{}", applied.body, served.log());
    assert_eq!(run.inspect(&old.name, "{{.Config.Image}}"), v2.reference);
    let updated_id = run.inspect(&old.name, "{{.Id}}");

    let path = |action: &str| format!("/api/containers/{}/{action}", old.name);
    for token in [None, Some("wrong")] {
        let refused = served.post(&path("rollback"), token);
        assert_eq!(refused.status, 401, "{}", refused.body);
    }
    assert_eq!(
        run.inspect(&old.name, "{{.Id}}"),
        updated_id,
        "a refused rollback changes nothing"
    );
    let bad = served.send(
        "POST",
        &path("rollback"),
        &[("Authorization", &format!("Bearer {TOKEN}"))],
        b"{\"to\": 1, \"colour\": \"blue\"}".to_vec(),
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(run.inspect(&old.name, "{{.Id}}"), updated_id);

    let rolled = served.send(
        "POST",
        &path("rollback"),
        &[("Authorization", &format!("Bearer {TOKEN}"))],
        br#"{"reason": "broken login page"}"#.to_vec(),
    );
    assert_eq!(rolled.status, 200, "{}\n{}", rolled.body, served.log());
    let lines = rolled.json()["lines"].to_string();
    assert!(lines.contains("rolled back from 1.5.0 to 1.4.2"), "{lines}");
    assert_eq!(run.inspect(&old.name, "{{.Image}}"), v1_image);
    assert_eq!(run.inspect(&old.name, "{{.State.Running}}"), "true");

    // Held now: the next check does not offer 1.5.0, and says why.
    let checked = served.post(&format!("/api/containers/{}/watch", old.name), Some(TOKEN));
    assert_eq!(checked.status, 200, "{}", checked.body);
    let released = served.post(&path("release"), Some(TOKEN));
    assert_eq!(released.status, 200, "{}", released.body);
    let held = served.send(
        "POST",
        &path("hold"),
        &[("Authorization", &format!("Bearer {TOKEN}"))],
        br#"{"to": "1.5.0", "reason": "waiting for 1.5.1"}"#.to_vec(),
    );
    assert_eq!(held.status, 200, "{}", held.body);
    assert!(
        held.json()["lines"].to_string().contains("held by api"),
        "{}",
        held.body
    );
    drop(served);

    let events = crate::support::update::history_events(store, &old.name);
    let names: Vec<&str> = events.iter().map(|(e, _)| e.as_str()).collect();
    for wanted in ["rollback-applied", "held", "released"] {
        assert!(
            names.contains(&wanted),
            "{wanted} in the history: {events:?}"
        );
    }
    assert!(
        events.iter().any(|(_, d)| d.contains("broken login page")),
        "the reason is recorded: {events:?}"
    );
}
