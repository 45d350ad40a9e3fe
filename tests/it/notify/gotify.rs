//! The gotify notifier against a real peer ([`Receiver`]) playing a Gotify server: the message
//! it gets with the token in `X-Gotify-Key` (never in the URL), Gotify's refusals, and a cycle's
//! three updates as one message through the real runner.

use crate::support::receiver::{Answer, Receiver, Recorded};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;
use tidewatch::bus::{Bus, Event};
use tidewatch::config::{GotifyConfig, Mode, Secret, TriggersConfig};
use tidewatch::model::{ImageRef, Report};
use tidewatch::trigger::{NotifierTrigger, TriggerError, build_all, runner, template};

const TOKEN: &str = "ASECRETzk3aQ.Vd";

/// The one place that builds a gotify trigger.
fn trigger(config: GotifyConfig) -> NotifierTrigger {
    let triggers = TriggersConfig {
        gotify: BTreeMap::from([("home".to_string(), config)]),
        ..TriggersConfig::default()
    };
    let mut built = build_all(&triggers)
        .unwrap_or_else(|p| panic!("not built: {p:?}"))
        .notifiers;
    assert_eq!(built.len(), 1);
    built.remove(0)
}

fn config(url: String) -> GotifyConfig {
    GotifyConfig {
        url: Some(url),
        token: Some(Secret::new(TOKEN)),
        ..GotifyConfig::default()
    }
}

/// What Gotify answers a message with.
fn created() -> Answer {
    Answer::json(
        200,
        json!({ "id": 25, "appid": 5, "message": "…", "title": "…", "priority": 5,
                "date": "2024-01-01T00:00:00Z" }),
    )
}

/// The sample update, as `notify-test` sends it, through `config`; what the server got.
async fn send(
    config: GotifyConfig,
    server: &Receiver,
) -> (Result<(), TriggerError>, Vec<Recorded>) {
    let result = trigger(config).send_test().await.map(|_| ());
    (result, server.requests())
}

/// One cycle of the `local` watcher finding `web`, `api` and `db`, through the real runner in
/// batch mode; returns once the runner has delivered and stopped.
async fn batch(config: GotifyConfig) {
    let updates: Vec<_> = [("web", "1.25.4"), ("api", "1.26.0"), ("db", "2.0.0")]
        .into_iter()
        .map(|(name, to)| {
            let mut c = template::sample_candidate();
            c.container.name = name.into();
            c.display_name = name.into();
            c.target = ImageRef::parse(&format!("nginx:{to}")).unwrap();
            c
        })
        .collect();
    let trigger = trigger(GotifyConfig {
        mode: Mode::Batch,
        ..config
    });
    let bus = Bus::default();
    let events = bus.subscribe("t");
    let context = runner::Context {
        store: None,
        bus: bus.weak(),
    };
    let task = tokio::spawn(trigger.run(events, context));
    for c in &updates {
        bus.publish(Event::UpdateAvailable(c.clone()));
    }
    bus.publish(Event::CheckCompleted(Report {
        watcher: "local".into(),
        scanned: 5,
        updates: 3,
        up_to_date: 2,
        ..Report::default()
    }));
    drop(bus);
    tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("the runner finishes once the bus closes")
        .expect("the runner does not panic");
}

#[tokio::test]
async fn a_markdown_message_goes_to_message_with_the_token_in_a_header() {
    let server = Receiver::always(created());
    let (result, seen) = send(
        GotifyConfig {
            priority: Some(8),
            ..config(server.url("/gotify/"))
        },
        &server,
    )
    .await;
    result.expect("delivered");
    assert_eq!(seen.len(), 1);
    let request = &seen[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, "/gotify/message", "no token in the URL");
    assert_eq!(request.header("x-gotify-key"), Some(TOKEN));
    assert_eq!(request.header("authorization"), None);
    assert_eq!(request.header("content-type"), Some("application/json"));
    let body = request.json();
    assert_eq!(body["title"], "Update available: web 1.25.3 → 1.25.4");
    assert_eq!(body["priority"], 8);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("**web** on `local`: `1.25.3` → `1.25.4` (patch)"),
        "{body}"
    );
    assert_eq!(
        body["extras"],
        json!({
            "client::display": { "contentType": "text/markdown" },
            "client::notification": {
                "click": { "url": "https://example.com/releases/1.25.4" }
            },
        })
    );
}

#[tokio::test]
async fn the_default_priority_is_five() {
    let server = Receiver::always(created());
    let (result, seen) = send(config(server.url("")), &server).await;
    result.expect("delivered");
    assert_eq!(seen[0].target, "/message");
    assert_eq!(seen[0].json()["priority"], 5);
}

#[tokio::test]
async fn refusals_quote_gotifys_description_and_never_the_token() {
    let server = Receiver::always(Answer::json(
        401,
        json!({ "error": "Unauthorized", "errorCode": 401,
                "errorDescription": "you need to provide a valid access token or user credentials to access this api" }),
    ));
    let (result, seen) = send(
        GotifyConfig {
            retries: Some(3),
            ..config(server.url(""))
        },
        &server,
    )
    .await;
    let Err(TriggerError::Permanent(text)) = result else {
        panic!("permanent: {result:?}");
    };
    assert_eq!(
        text,
        "POST to the Gotify server failed: 401 Unauthorized (you need to provide a valid \
         access token or user credentials to access this api)"
    );
    assert_eq!(seen.len(), 1, "not retried");

    let server = Receiver::always(Answer::json(
        500,
        json!({ "error": "Internal Server Error", "errorCode": 500,
                "errorDescription": format!("token {TOKEN} broke it") }),
    ));
    let (result, seen) = send(
        GotifyConfig {
            retries: Some(1),
            ..config(server.url(""))
        },
        &server,
    )
    .await;
    let Err(TriggerError::Transient(text)) = result else {
        panic!("transient: {result:?}");
    };
    // Gotify's description quotes the token, so its `error` is quoted instead; the runner
    // adds how many attempts it made.
    assert!(
        text.starts_with(
            "POST to the Gotify server failed: 500 Internal Server Error (Internal Server Error)"
        ),
        "{text}"
    );
    assert!(!text.contains("SECRET"), "{text}");
    assert_eq!(seen.len(), 2, "one retry");
}

#[tokio::test]
async fn batch_mode_sends_one_message_listing_the_cycles_updates() {
    let server = Receiver::always(created());
    batch(config(server.url(""))).await;
    let seen = server.requests();
    assert_eq!(seen.len(), 1, "one message for the cycle");
    let body = seen[0].json();
    assert_eq!(body["title"], "3 updates available on local");
    let notes = "[notes](https://example.com/releases/1.25.4)";
    assert_eq!(
        body["message"],
        format!(
            "- **web**: `1.25.3` → `1.25.4` (patch) {notes}\n\
             - **api**: `1.25.3` → `1.26.0` (patch) {notes}\n\
             - **db**: `1.25.3` → `2.0.0` (patch) {notes}\n\n\
             Checked 5 containers on `local`: 3 with updates, 2 up to date, 0 skipped, 0 failed."
        )
    );
    assert_eq!(body["extras"].get("client::notification"), None);
}
