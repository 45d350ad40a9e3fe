//! The `http` trigger in the shapes WUD's and Diun's receivers read: an update found on the real
//! engine and registry reaches a real receiver as WUD's container JSON (a trigger set up through
//! `WUD_TRIGGER_HTTP_*`), through an HTTP proxy too (WUD's `PROXY`), and as Diun's webhook JSON
//! (`DIUN_NOTIF_WEBHOOK_*`).

use crate::support::receiver::{Answer, Receiver};
use crate::support::{Container, Output, Pushed, Registry, TestRun, tidewatch};
use base64::Engine as _;
use std::time::Duration;

/// A container on `app:1.0.0` of a fresh registry that also has `app:1.1.0`; the registry
/// serves as long as it is kept.
fn outdated(run: &TestRun, labels: &[&str]) -> (Registry, Container, Pushed, Pushed) {
    let registry = run.registry();
    let v1 = run.push(&registry, "app", "1.0.0");
    let v2 = run.push(&registry, "app", "1.1.0");
    let mut options = Vec::new();
    for label in labels {
        options.extend(["--label", label]);
    }
    let app = run.run_with("app", &options, &v1.reference, &[]);
    (registry, app, v1, v2)
}

/// The `tidewatch config` line of `key`, which must exist.
#[track_caller]
fn line<'a>(out: &'a Output, key: &str) -> &'a str {
    out.stdout
        .lines()
        .find(|l| l.starts_with(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("no line for {key}:\n{out}"))
}

/// `127.0.0.1:PORT/app:1.0.0` → (`127.0.0.1:PORT`, `app`).
fn registry_and_repository(reference: &str) -> (&str, &str) {
    let (host, rest) = reference.split_once('/').expect("host/repository:tag");
    (host, rest.split(':').next().unwrap_or_default())
}

/// What WUD's receivers read of the container: asserted field by field.
#[track_caller]
fn assert_wud_container(sent: &serde_json::Value, app: &Container, v1: &Pushed, v2: &Pushed) {
    let (host, repository) = registry_and_repository(&v1.reference);
    assert_eq!(sent["id"], app.id.as_str(), "{sent:#}");
    assert_eq!(sent["name"], app.name.as_str());
    assert_eq!(sent["displayName"], app.name.as_str());
    assert_eq!(sent["displayIcon"], "mdi:docker");
    assert_eq!(sent["status"], "running");
    assert_eq!(sent["watcher"], "local");
    assert_eq!(sent["image"]["id"], v1.id.as_str());
    assert_eq!(sent["image"]["registry"]["name"], "custom");
    assert_eq!(
        sent["image"]["registry"]["url"],
        format!("https://{host}/v2").as_str()
    );
    assert_eq!(sent["image"]["name"], repository);
    assert_eq!(sent["image"]["tag"]["value"], "1.0.0");
    assert_eq!(sent["image"]["tag"]["semver"], true);
    assert_eq!(sent["image"]["digest"]["watch"], false);
    assert_eq!(sent["image"]["digest"]["value"], v1.digest.as_str());
    assert!(sent["image"]["architecture"].is_string(), "{sent:#}");
    assert_eq!(sent["image"]["os"], "linux");
    assert_eq!(sent["result"]["tag"], "1.1.0");
    assert_eq!(sent["result"]["digest"], v2.digest.as_str());
    assert_eq!(sent["updateAvailable"], true);
    assert_eq!(sent["updateKind"]["kind"], "tag");
    assert_eq!(sent["updateKind"]["localValue"], "1.0.0");
    assert_eq!(sent["updateKind"]["remoteValue"], "1.1.0");
    assert_eq!(sent["updateKind"]["semverDiff"], "minor");
    assert_eq!(sent["labels"]["team"], "web");
    assert_eq!(
        sent.get("title"),
        None,
        "WUD's shape, not tidewatch's: {sent:#}"
    );
}

#[test]
fn a_wud_http_trigger_posts_wuds_container_json_with_its_auth() {
    let run = TestRun::new();
    let (_registry, app, v1, v2) = outdated(&run, &["team=web"]);
    let hook = Receiver::always(Answer::status(200));
    let url = hook.url("/new-version");
    // WUD's documented http trigger, with a bearer token.
    let env = [
        ("WUD_TRIGGER_HTTP_MYREMOTEHOST_URL", url.as_str()),
        ("WUD_TRIGGER_HTTP_MYREMOTEHOST_AUTH_TYPE", "BEARER"),
        ("WUD_TRIGGER_HTTP_MYREMOTEHOST_AUTH_BEARER", "hookS3CRET"),
        ("TIDEWATCH_WATCHER_LOCAL_INCLUDE", app.name.as_str()),
    ];
    let config = tidewatch(&["config"], &env);
    assert!(config.success(), "{config}");
    let format = line(&config, "trigger.http.myremotehost.format");
    assert!(format.contains("= \"wud\""), "{format}");
    assert!(
        format.ends_with("# WUD_TRIGGER_HTTP_MYREMOTEHOST_* (WUD's body)"),
        "{format}"
    );
    assert!(!config.stdout.contains("S3CRET"), "{config}");

    let out = tidewatch(&["run", "--once"], &env);
    assert!(out.status.success(), "{out}");
    assert!(!out.stderr.contains("S3CRET"), "{out}");
    let requests = hook.wait_for(1, Duration::from_secs(30));
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path(), "/new-version");
    assert_eq!(request.header("Authorization"), Some("Bearer hookS3CRET"));
    assert_eq!(request.header("Content-Type"), Some("application/json"));
    assert_eq!(
        request.header("X-Tidewatch-Event"),
        Some("update-available")
    );
    assert_wud_container(&request.json(), &app, &v1, &v2);
}

#[test]
fn a_wud_http_trigger_with_a_proxy_sends_through_it_with_the_proxys_credentials() {
    let run = TestRun::new();
    let (_registry, app, v1, v2) = outdated(&run, &["team=web"]);
    // The proxy answers itself: what matters is that the request came to it, for the hook.
    let proxy = Receiver::always(Answer::status(200));
    let hook = Receiver::always(Answer::status(200));
    let url = hook.url("/new-version");
    let proxy_url = format!("http://squid:PROXYS3CRET@{}", proxy.addr());
    let env = [
        ("WUD_TRIGGER_HTTP_VIAPROXY_URL", url.as_str()),
        ("WUD_TRIGGER_HTTP_VIAPROXY_PROXY", proxy_url.as_str()),
        ("WUD_TRIGGER_HTTP_VIAPROXY_AUTH_USER", "wud"),
        ("WUD_TRIGGER_HTTP_VIAPROXY_AUTH_PASSWORD", "basicS3CRET"),
        ("TIDEWATCH_WATCHER_LOCAL_INCLUDE", app.name.as_str()),
    ];
    let config = tidewatch(&["config"], &env);
    assert!(config.success(), "{config}");
    assert!(!config.stdout.contains("S3CRET"), "{config}");
    let proxy_line = line(&config, "trigger.http.viaproxy.proxy");
    assert!(proxy_line.contains("\"***\""), "{proxy_line}");

    let out = tidewatch(&["run", "--once"], &env);
    assert!(out.status.success(), "{out}");
    assert!(!out.stderr.contains("S3CRET"), "{out}");
    assert!(!out.stdout.contains("S3CRET"), "{out}");
    let requests = proxy.wait_for(1, Duration::from_secs(30));
    let request = &requests[0];
    // A forward proxy is asked for the whole URL.
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, url);
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    assert_eq!(
        request.header("Proxy-Authorization"),
        Some(format!("Basic {}", b64("squid:PROXYS3CRET")).as_str())
    );
    assert_eq!(
        request.header("Authorization"),
        Some(format!("Basic {}", b64("wud:basicS3CRET")).as_str())
    );
    assert_wud_container(&request.json(), &app, &v1, &v2);
    assert!(
        hook.requests().is_empty(),
        "the proxy, not the hook, was asked"
    );
}

#[test]
fn diuns_webhook_gets_diuns_json_with_diuns_default_method() {
    let run = TestRun::new();
    // A new tag is news to Diun when it watches the repository.
    let (_registry, app, _, v2) = outdated(&run, &["diun.enable=true", "diun.watch_repo=true"]);
    let hook = Receiver::always(Answer::status(200));
    let endpoint = hook.url("/diun");
    // Diun's documented webhook, without a method: Diun's default is GET.
    let out = tidewatch(
        &["run", "--once"],
        &[
            ("DIUN_PROVIDERS_DOCKER", "true"),
            ("DIUN_NOTIF_WEBHOOK_ENDPOINT", endpoint.as_str()),
            (
                "DIUN_NOTIF_WEBHOOK_HEADERS_AUTHORIZATION",
                "Token hookS3CRET",
            ),
            ("TIDEWATCH_WATCHER_LOCAL_INCLUDE", app.name.as_str()),
        ],
    );
    assert!(out.status.success(), "{out}");
    assert!(!out.stderr.contains("S3CRET"), "{out}");
    let requests = hook.wait_for(1, Duration::from_secs(30));
    let request = &requests[0];
    assert_eq!(request.method, "GET");
    assert_eq!(request.path(), "/diun");
    assert_eq!(request.header("Authorization"), Some("Token hookS3CRET"));
    let sent = request.json();
    let new_tag = v2.reference.as_str();
    assert_eq!(sent["status"], "new", "{sent:#}");
    assert_eq!(sent["provider"], "docker");
    assert_eq!(sent["image"], new_tag);
    assert_eq!(sent["hub_link"], "");
    assert_eq!(sent["digest"], v2.digest.as_str());
    assert!(sent["hostname"].as_str().is_some_and(|h| !h.is_empty()));
    assert!(sent["diun_version"].is_string());
    assert!(
        sent["platform"]
            .as_str()
            .is_some_and(|p| p.starts_with("linux/")),
        "{sent:#}"
    );
    assert_eq!(sent["metadata"]["ctn_id"], app.id.as_str());
    assert_eq!(sent["metadata"]["ctn_names"], app.name.as_str());
    assert_eq!(sent["metadata"]["ctn_state"], "running");
    for key in ["mime_type", "created"] {
        assert!(sent.get(key).is_some(), "Diun's {key} is there: {sent:#}");
    }
}

#[test]
fn a_bad_format_or_proxy_is_exit_2_naming_the_variable_and_never_the_secret() {
    let out = tidewatch(
        &["config"],
        &[
            ("WUD_TRIGGER_HTTP_HOOK_URL", "http://127.0.0.1:9/hook"),
            ("WUD_TRIGGER_HTTP_HOOK_FORMAT", "n8n"),
            (
                "WUD_TRIGGER_HTTP_HOOK_PROXY",
                "socks5://u:PROXYS3CRET@127.0.0.1:1080",
            ),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(
        out.stderr.contains("WUD_TRIGGER_HTTP_HOOK_FORMAT")
            && out.stderr.contains("tidewatch, wud, diun"),
        "{out}"
    );
    assert!(!out.stderr.contains("S3CRET"), "{out}");
    assert!(!out.stdout.contains("S3CRET"), "{out}");
    // With the format fixed, the proxy's own problem names its variable.
    let out = tidewatch(
        &["config"],
        &[
            ("WUD_TRIGGER_HTTP_HOOK_URL", "http://127.0.0.1:9/hook"),
            (
                "WUD_TRIGGER_HTTP_HOOK_PROXY",
                "socks5://u:PROXYS3CRET@127.0.0.1:1080",
            ),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(out.stderr.contains("WUD_TRIGGER_HTTP_HOOK_PROXY"), "{out}");
    assert!(!out.stderr.contains("S3CRET"), "{out}");
    assert!(!out.stdout.contains("S3CRET"), "{out}");
}
