//! The discord notifier against a real peer ([`Receiver`]) playing a channel webhook: the embed
//! it gets, `204 No Content` as success, Discord's refusals and its `429` with `retry_after`,
//! and a cycle's three updates as one message through the real runner.

use crate::support::receiver::{Answer, Receiver, Recorded};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;
use tidewatch::bus::{Bus, Event};
use tidewatch::config::{DiscordConfig, Mode, Secret, TriggersConfig};
use tidewatch::model::{ImageRef, Report};
use tidewatch::trigger::{NotifierTrigger, TriggerError, build_all, runner, template};

/// A webhook URL carries its token in the path.
const PATH: &str = "/api/webhooks/123456/SECRET-TOKEN";

/// The one place that builds a discord trigger.
fn trigger(config: DiscordConfig) -> NotifierTrigger {
    let triggers = TriggersConfig {
        discord: BTreeMap::from([("ops".to_string(), config)]),
        ..TriggersConfig::default()
    };
    let mut built = build_all(&triggers)
        .unwrap_or_else(|p| panic!("not built: {p:?}"))
        .notifiers;
    assert_eq!(built.len(), 1);
    built.remove(0)
}

fn config(hook: &Receiver) -> DiscordConfig {
    DiscordConfig {
        url: Some(Secret::new(hook.url(PATH))),
        ..DiscordConfig::default()
    }
}

/// The sample update, as `notify-test` sends it, through `config`; what the receiver got.
async fn send(config: DiscordConfig, hook: &Receiver) -> (Result<(), TriggerError>, Vec<Recorded>) {
    let result = trigger(config).send_test().await.map(|_| ());
    (result, hook.requests())
}

/// One cycle of the `local` watcher finding `web`, `api` and `db`, through the real runner in
/// batch mode; returns once the runner has delivered and stopped.
async fn batch(config: DiscordConfig) {
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
    let trigger = trigger(DiscordConfig {
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
async fn the_webhook_gets_one_embed_and_204_is_success() {
    let hook = Receiver::always(204);
    let (result, seen) = send(
        DiscordConfig {
            botusername: Some("tidewatch".into()),
            cardcolor: Some("#2f81f7".into()),
            ..config(&hook)
        },
        &hook,
    )
    .await;
    result.expect("204 No Content is delivered");
    assert_eq!(seen.len(), 1);
    let request = &seen[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, PATH);
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("authorization"), None);
    let body = request.json();
    assert_eq!(body["username"], "tidewatch");
    assert_eq!(body["allowed_mentions"], json!({ "parse": [] }));
    assert_eq!(body.get("content"), None);
    let embeds = body["embeds"].as_array().unwrap();
    assert_eq!(embeds.len(), 1);
    let embed = &embeds[0];
    assert_eq!(embed["title"], "Update available: web 1.25.3 → 1.25.4");
    assert_eq!(embed["url"], "https://example.com/releases/1.25.4");
    assert_eq!(embed["color"], 0x2f81f7);
    assert_eq!(
        embed["description"],
        "**web** on `local`: `1.25.3` → `1.25.4` (patch)\nImage: `nginx:1.25.3`\n\
         [Release notes](https://example.com/releases/1.25.4)"
    );
    assert_eq!(embed.get("fields"), None);
}

#[tokio::test]
async fn without_options_the_webhooks_name_and_wuds_green_are_used() {
    let hook = Receiver::always(204);
    let (result, seen) = send(config(&hook), &hook).await;
    result.expect("delivered");
    let body = seen[0].json();
    assert_eq!(body.get("username"), None);
    assert_eq!(body["embeds"][0]["color"], 65280);
}

#[tokio::test]
async fn a_refusal_is_permanent_with_discords_code_and_never_the_url() {
    let hook = Receiver::always(Answer::json(
        404,
        json!({ "message": "Unknown Webhook", "code": 10015 }),
    ));
    let (result, seen) = send(
        DiscordConfig {
            retries: Some(3),
            ..config(&hook)
        },
        &hook,
    )
    .await;
    let Err(TriggerError::Permanent(text)) = result else {
        panic!("permanent: {result:?}");
    };
    assert_eq!(
        text,
        "POST to the Discord webhook failed: 404 Not Found (10015: Unknown Webhook)"
    );
    assert_eq!(seen.len(), 1, "not retried");

    let echo = Receiver::always(Answer::json(
        401,
        json!({ "message": "Invalid Webhook Token SECRET-TOKEN", "code": 50027 }),
    ));
    let (result, _) = send(config(&echo), &echo).await;
    let Err(TriggerError::Permanent(text)) = result else {
        panic!("permanent: {result:?}");
    };
    assert!(
        !text.contains("SECRET") && !text.contains("127.0.0.1"),
        "{text}"
    );
    assert!(text.contains("code 50027"), "{text}");
}

#[tokio::test]
async fn a_429_is_transient_says_when_to_retry_and_is_retried() {
    let limited = || {
        Answer::json(
            429,
            json!({ "message": "You are being rate limited.", "retry_after": 0.25,
                    "global": false }),
        )
    };
    let hook = Receiver::always(limited());
    let (result, seen) = send(
        DiscordConfig {
            retries: Some(0),
            ..config(&hook)
        },
        &hook,
    )
    .await;
    let Err(TriggerError::Transient(text)) = result else {
        panic!("transient: {result:?}");
    };
    // The runner adds how many attempts it made.
    assert!(
        text.starts_with(
            "POST to the Discord webhook failed: 429 Too Many Requests (retry after 0.25 s)"
        ),
        "{text}"
    );
    assert_eq!(seen.len(), 1);

    let hook = Receiver::scripted([limited()], 204);
    let (result, seen) = send(
        DiscordConfig {
            retries: Some(2),
            ..config(&hook)
        },
        &hook,
    )
    .await;
    result.expect("delivered on the second attempt");
    assert_eq!(seen.len(), 2);
}

#[tokio::test]
async fn batch_mode_sends_one_embed_with_a_field_per_update() {
    let hook = Receiver::always(204);
    batch(config(&hook)).await;
    let seen = hook.requests();
    assert_eq!(seen.len(), 1, "one message for the cycle");
    let embed = &seen[0].json()["embeds"][0];
    assert_eq!(embed["title"], "3 updates available on local");
    assert_eq!(
        embed["description"],
        "Checked 5 containers on `local`: 3 with updates, 2 up to date, 0 skipped, 0 failed."
    );
    assert_eq!(embed.get("url"), None);
    let fields: Vec<(&str, &str)> = embed["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["name"].as_str().unwrap(), f["value"].as_str().unwrap()))
        .collect();
    let notes = "\n[Release notes](https://example.com/releases/1.25.4)";
    assert_eq!(
        fields,
        [
            (
                "web",
                format!("`1.25.3` → `1.25.4` (patch){notes}").as_str()
            ),
            (
                "api",
                format!("`1.25.3` → `1.26.0` (patch){notes}").as_str()
            ),
            ("db", format!("`1.25.3` → `2.0.0` (patch){notes}").as_str()),
        ]
    );
}
