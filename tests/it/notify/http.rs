//! The http notifier against a real peer ([`Receiver`]): what it sends (body, headers, auth,
//! signature), what its failures say, and — through the real runner, with no Docker — retries,
//! giving up, the rate limit, batch mode and `once` across restarts. Last, the whole way: the
//! binary finds an update in a real registry and the webhook hears of it, once, and of what the
//! docker trigger then did.

use super::common::{Kind, candidate, closed_address, cycle, failure, send, trigger};
use crate::support::receiver::{Answer, Receiver};
use crate::support::{ImageSpec, TestRun, fresh_store_dir, tidewatch};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tidewatch::app::triggers::build_all;
use tidewatch::config::{HttpAuthConfig, HttpConfig, Mode, Secret};
use tidewatch::store::Store;

fn config(url: String) -> HttpConfig {
    HttpConfig {
        url: Some(Secret::new(url)),
        ..HttpConfig::default()
    }
}

fn hmac_hex(key: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn the_default_body_is_the_json_values_with_title_and_body() {
    let hook = Receiver::start();
    let (result, seen) = send(config(hook.url("/hooks/tidewatch")), &hook).await;
    result.expect("delivered");
    assert_eq!(seen.len(), 1);
    let request = &seen[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path(), "/hooks/tidewatch");
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.header("x-tidewatch-event"),
        Some("update-available")
    );
    assert!(
        request
            .header("user-agent")
            .is_some_and(|ua| ua.starts_with("tidewatch/")),
        "{request:?}"
    );
    assert_eq!(request.header("x-tidewatch-signature"), None);
    assert_eq!(request.header("authorization"), None);
    let body = request.json();
    assert_eq!(body["event"], "update-available");
    assert_eq!(body["name"], "web");
    assert_eq!(body["watcher"], "local");
    assert_eq!(body["current_tag"], "1.25.3");
    assert_eq!(body["new_tag"], "1.25.4");
    assert_eq!(body["kind"], "patch");
    assert_eq!(body["link"], "https://example.com/releases/1.25.4");
    assert_eq!(body["title"], "Update available: web 1.25.3 → 1.25.4");
    assert!(
        body["body"]
            .as_str()
            .is_some_and(|b| b.contains("New:     1.25.4 (patch update)")),
        "{body}"
    );
}

#[tokio::test]
async fn headers_basic_auth_and_the_hmac_signature_are_sent() {
    let hook = Receiver::start();
    let (result, seen) = send(
        HttpConfig {
            method: Some("put".into()),
            headers: Some(Secret::new("X-Team: ops; X-Api-Key: k-123\nX-Team: dev")),
            auth: HttpAuthConfig {
                kind: Some("basic".into()),
                user: Some("tide".into()),
                password: Some(Secret::new("s3cret:pass")),
                bearer: None,
            },
            secret: Some(Secret::new("signing key")),
            ..config(hook.url("/put"))
        },
        &hook,
    )
    .await;
    result.expect("delivered");
    let request = &seen[0];
    assert_eq!(request.method, "PUT");
    let teams: Vec<&str> = request
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("x-team"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(teams, ["ops", "dev"]);
    assert_eq!(request.header("x-api-key"), Some("k-123"));
    // base64("tide:s3cret:pass")
    assert_eq!(
        request.header("authorization"),
        Some("Basic dGlkZTpzM2NyZXQ6cGFzcw==")
    );
    let expected = format!("sha256={}", hmac_hex("signing key", &request.body));
    assert_eq!(
        request.header("x-tidewatch-signature"),
        Some(expected.as_str())
    );
    // The signature is over the bytes as sent: the parsed body is the usual document.
    assert_eq!(request.json()["name"], "web");
}

#[tokio::test]
async fn a_bearer_token_with_patch() {
    let hook = Receiver::start();
    let (result, seen) = send(
        HttpConfig {
            method: Some("PATCH".into()),
            auth: HttpAuthConfig {
                bearer: Some(Secret::new("tok-456")),
                ..HttpAuthConfig::default()
            },
            ..config(hook.url("/"))
        },
        &hook,
    )
    .await;
    result.expect("delivered");
    assert_eq!(seen[0].method, "PATCH");
    assert_eq!(seen[0].header("authorization"), Some("Bearer tok-456"));
}

#[tokio::test]
async fn a_body_template_is_rendered_as_is_and_sent_as_contenttype() {
    let hook = Receiver::start();
    let (result, seen) = send(
        HttpConfig {
            body: Some(Secret::new(
                r#"{"msg": {{json title}}, "who": "{{name}}", "to": "{{new_tag}}"}"#,
            )),
            contenttype: Some("application/vnd.example+json".into()),
            secret: Some(Secret::new("k")),
            ..config(hook.url("/t"))
        },
        &hook,
    )
    .await;
    result.expect("delivered");
    let request = &seen[0];
    assert_eq!(
        request.header("content-type"),
        Some("application/vnd.example+json")
    );
    assert_eq!(
        request.text(),
        r#"{"msg": "Update available: web 1.25.3 → 1.25.4", "who": "web", "to": "1.25.4"}"#
    );
    let expected = format!("sha256={}", hmac_hex("k", &request.body));
    assert_eq!(
        request.header("x-tidewatch-signature"),
        Some(expected.as_str())
    );
}

#[tokio::test]
async fn a_body_template_with_a_mistake_stops_the_build_at_key_body() {
    let triggers = HttpConfig {
        body: Some(Secret::new("{{titel}}")),
        ..config("http://127.0.0.1:9/".into())
    }
    .alone();
    let problems = build_all(&triggers).unwrap_err();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].path(), ["trigger", "http", "hook", "body"]);
}

#[tokio::test]
async fn errors_say_what_failed_but_never_the_url_or_credentials() {
    let secret_path = "/hooks/SECRET-PATH?token=SECRET-QUERY";
    let secret_auth = HttpAuthConfig {
        bearer: Some(Secret::new("SECRET-BEARER")),
        ..HttpAuthConfig::default()
    };
    let closed = closed_address();
    let cases: [(Receiver, Option<String>, bool, &str); 4] = [
        (
            Receiver::always(500),
            None,
            true,
            "500 Internal Server Error",
        ),
        (
            Receiver::always(Answer::text(404, "no such hook SECRET-PATH")),
            None,
            false,
            "404 Not Found",
        ),
        (
            Receiver::start(),
            Some(format!("http://{closed}{secret_path}")),
            true,
            "cannot connect",
        ),
        (
            Receiver::always(Answer::status(200).after(Duration::from_secs(3))),
            None,
            true,
            "",
        ),
    ];
    for (hook, url, transient, says) in cases {
        let url = url.unwrap_or_else(|| hook.url(secret_path));
        let (result, _) = send(
            HttpConfig {
                auth: secret_auth.clone(),
                retries: Some(0),
                timeout: Some(1),
                ..config(url)
            },
            &hook,
        )
        .await;
        let (text, was_transient) = failure(result, says);
        assert_eq!(was_transient, transient, "{text}");
        assert!(text.contains(says), "{text:?} should say {says:?}");
        assert!(!text.contains("SECRET"), "a secret in {text:?}");
        assert!(!text.contains("127.0.0.1"), "the URL in {text:?}");
    }
}

#[tokio::test]
async fn the_runner_retries_after_500s_until_it_succeeds() {
    let hook = Receiver::scripted([500, 500], 200);
    let trigger = trigger(HttpConfig {
        retries: Some(3),
        ..config(hook.url("/retry"))
    });
    let stats = trigger.stats();
    cycle(trigger, &[candidate("web", "1.25.4")], None).await;
    let seen = hook.requests();
    assert_eq!(seen.len(), 3, "500, 500, then 200");
    assert!(
        seen.iter().all(|r| r.body == seen[0].body),
        "the same message"
    );
    assert_eq!(stats.sent.load(Ordering::Relaxed), 1);
    assert_eq!(stats.failed.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn the_runner_gives_up_after_a_persistent_failure_and_records_it() {
    let hook = Receiver::always(503);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("tidewatch.db")).unwrap();
    let trigger = trigger(HttpConfig {
        retries: Some(2),
        ..config(hook.url("/down/SECRET"))
    });
    let stats = trigger.stats();
    cycle(trigger, &[candidate("web", "1.25.4")], Some(store.clone())).await;
    assert_eq!(hook.requests().len(), 3, "one attempt and two retries");
    assert_eq!(stats.sent.load(Ordering::Relaxed), 0);
    assert_eq!(stats.failed.load(Ordering::Relaxed), 1);
    let history = store.history(Some("web"), 10).unwrap();
    let failed = history
        .iter()
        .find(|e| e.event == "notify-failed")
        .unwrap_or_else(|| panic!("no failure recorded: {history:?}"));
    assert!(failed.detail.starts_with("http.hook: "), "{failed:?}");
    assert!(failed.detail.contains("503"), "{failed:?}");
    assert!(
        failed.detail.contains("gave up after 3 attempts"),
        "{failed:?}"
    );
    assert!(!failed.detail.contains("SECRET"), "{failed:?}");
}

#[tokio::test]
async fn the_rate_limit_spaces_messages() {
    const PER_MINUTE: u32 = 240;
    let spacing = Duration::from_secs(60) / PER_MINUTE;
    let hook = Receiver::start();
    let trigger = trigger(HttpConfig {
        ratelimit: Some(PER_MINUTE),
        ..config(hook.url("/slow"))
    });
    let updates: Vec<_> = ["a", "b", "c", "d"]
        .iter()
        .map(|name| candidate(name, "2.0.0"))
        .collect();
    cycle(trigger, &updates, None).await;
    let seen = hook.requests();
    let names: Vec<String> = seen
        .iter()
        .map(|r| r.json()["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["a", "b", "c", "d"], "all sent, in order");
    // The worker waits `spacing` from the start of one delivery to the start of the next;
    // what varies on the way to the receiver is far below this slack.
    let slack = Duration::from_millis(50);
    for pair in seen.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(
            gap + slack >= spacing,
            "{gap:?} between messages, limit {spacing:?}"
        );
    }
}

#[tokio::test]
async fn batch_mode_sends_one_message_for_a_cycle() {
    let hook = Receiver::start();
    let trigger = trigger(HttpConfig {
        mode: Mode::Batch,
        ..config(hook.url("/batch"))
    });
    let updates = [
        candidate("web", "1.25.4"),
        candidate("api", "1.26.0"),
        candidate("db", "2.0.0"),
    ];
    cycle(trigger, &updates, None).await;
    let seen = hook.requests();
    assert_eq!(seen.len(), 1, "one message for the cycle");
    assert_eq!(seen[0].header("x-tidewatch-event"), Some("batch"));
    let body = seen[0].json();
    assert_eq!(body["event"], "batch");
    assert_eq!(body["count"], 3);
    assert_eq!(body["title"], "3 updates available on local");
    let names: Vec<&str> = body["updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["web", "api", "db"]);
    assert_eq!(body["updates"][2]["new_tag"], "2.0.0");
    assert_eq!(body["report"]["scanned"], 3);
}

#[tokio::test]
async fn once_holds_across_runner_runs_on_the_same_store() {
    let hook = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tidewatch.db");
    let build = || trigger(config(hook.url("/once")));

    cycle(
        build(),
        &[candidate("web", "1.25.4")],
        Some(Store::open(&path).unwrap()),
    )
    .await;
    assert_eq!(hook.requests().len(), 1);

    // A restart: a new runner, the store opened again. The same update is not told twice; a
    // newer one is.
    let updates = [candidate("web", "1.25.4"), candidate("web", "1.25.5")];
    for update in &updates {
        cycle(
            build(),
            std::slice::from_ref(update),
            Some(Store::open(&path).unwrap()),
        )
        .await;
    }
    let seen = hook.requests();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[1].json()["new_tag"], "1.25.5");
}

#[test]
fn run_once_tells_the_webhook_and_once_survives_a_restart() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "hooked", "1.0.0");
    let container = run.run("hooked", &v1.reference, &[]);
    run.push(&registry, "hooked", "1.1.0");
    let hook = Receiver::start();
    let url = hook.url("/e2e/SECRET-PATH");
    let store = fresh_store_dir();
    let env = [
        ("TIDEWATCH_STORE_PATH", store.to_str().unwrap()),
        ("TIDEWATCH_TRIGGER_HTTP_HOOK_URL", url.as_str()),
        ("TIDEWATCH_TRIGGER_HTTP_HOOK_SECRET", "SECRET-KEY"),
        // Other tests' containers share the engine: only this one's updates are wanted.
        (
            "TIDEWATCH_TRIGGER_HTTP_HOOK_INCLUDE",
            container.name.as_str(),
        ),
    ];

    // No assertion on the exit status: other tests' registries come and go on this engine.
    let out = tidewatch(&["run", "--once"], &env);
    let seen = hook.requests();
    assert_eq!(seen.len(), 1, "one update, one message:\n{out}");
    let request = &seen[0];
    assert_eq!(request.path(), "/e2e/SECRET-PATH");
    assert_eq!(
        request.header("x-tidewatch-event"),
        Some("update-available")
    );
    let expected = format!("sha256={}", hmac_hex("SECRET-KEY", &request.body));
    assert_eq!(
        request.header("x-tidewatch-signature"),
        Some(expected.as_str())
    );
    let body = request.json();
    assert_eq!(body["name"], container.name.as_str());
    assert_eq!(body["current_tag"], "1.0.0");
    assert_eq!(body["new_tag"], "1.1.0");
    assert_eq!(body["kind"], "minor");
    assert!(
        body["title"].as_str().is_some_and(|t| t.contains("1.1.0")),
        "{body}"
    );
    assert!(
        !out.stderr.contains("SECRET"),
        "a secret in the log:\n{out}"
    );

    // A restart on the same store: the update is still there, and already told.
    let out = tidewatch(&["run", "--once"], &env);
    assert!(
        out.stderr.contains("Update available."),
        "the second run finds the update again:\n{out}"
    );
    assert_eq!(hook.requests().len(), 1, "told once:\n{out}");
}

#[test]
fn what_the_docker_trigger_did_reaches_the_webhook_and_a_repeated_failure_is_told_once() {
    let run = TestRun::new();
    let registry = run.registry();
    let good = run.push(&registry, "told-good", "1.0.0");
    run.push(&registry, "told-good", "1.1.0");
    let bad = run.push(&registry, "told-bad", "1.0.0");
    run.push_spec(
        &registry,
        "told-bad",
        "1.1.0",
        &ImageSpec::version("1.1.0").cmd(&["sh", "-c", "exit 3"]),
    );
    let good = run.run("told-good", &good.reference, &[]);
    let bad = run.run("told-bad", &bad.reference, &[]);
    let hook = Receiver::start();
    let url = hook.url("/e2e");
    let store = fresh_store_dir();
    // Other tests' containers share the engine: only these two are wanted.
    let both = format!("{},{}", good.name, bad.name);
    let env = [
        ("TIDEWATCH_STORE_PATH", store.to_str().unwrap()),
        ("TIDEWATCH_TRIGGER_HTTP_HOOK_URL", url.as_str()),
        ("TIDEWATCH_TRIGGER_HTTP_HOOK_INCLUDE", both.as_str()),
        ("TIDEWATCH_TRIGGER_DOCKER_LOCAL_INCLUDE", both.as_str()),
        ("TIDEWATCH_TRIGGER_DOCKER_LOCAL_SETTLE", "2"),
        ("TIDEWATCH_TRIGGER_DOCKER_LOCAL_STOPTIMEOUT", "1"),
    ];
    let told = |hook: &Receiver| {
        let mut seen: Vec<(String, String)> = hook
            .requests()
            .iter()
            .map(|r| {
                let body = r.json();
                (
                    body["name"].as_str().unwrap_or_default().to_string(),
                    body["event"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        seen.sort();
        seen
    };

    let out = tidewatch(&["run", "--once"], &env);
    let pair = |name: &str, event: &str| (name.to_string(), event.to_string());
    let first = vec![
        pair(&bad.name, "rolled-back"),
        pair(&bad.name, "update-available"),
        pair(&good.name, "update-applied"),
        pair(&good.name, "update-available"),
    ];
    assert_eq!(told(&hook), first, "{out}");
    let rolled_back = hook
        .requests()
        .into_iter()
        .map(|r| r.json())
        .find(|b| b["event"] == "rolled-back")
        .expect("a rolled-back message");
    assert!(
        rolled_back["reason"]
            .as_str()
            .is_some_and(|r| r.contains("exit code 3")),
        "{rolled_back}"
    );
    assert_eq!(rolled_back["new_tag"], "1.1.0");

    // The next cycle leaves the failed version alone (held: not tried, not told again); asked
    // for by name, it is tried again and rolled back again: nothing new to tell. (The good
    // container is up to date now.)
    let out = tidewatch(&["run", "--once"], &env);
    assert!(
        !out.stderr.contains("putting the old container back"),
        "the held update is not tried again:\n{out}"
    );
    assert_eq!(told(&hook), first, "nothing new while held:\n{out}");
    let out = tidewatch(&["update", &bad.name], &env);
    assert!(
        out.stderr.contains("putting the old container back"),
        "the update is tried again:\n{out}"
    );
    assert_eq!(
        told(&hook),
        first,
        "a repeated failure is told once:\n{out}"
    );
}
