//! The discord notifier against a real peer ([`Receiver`]) playing a channel webhook: the embed
//! it gets, `204 No Content` as success, Discord's refusals and its `429` with `retry_after`,
//! and a cycle's three updates as one message through the real runner.

use super::common::{batch, permanent, send, transient};
use crate::support::receiver::{Answer, Receiver};
use serde_json::json;
use tidewatch::config::{DiscordConfig, Secret};

/// A webhook URL carries its token in the path.
const PATH: &str = "/api/webhooks/123456/SECRET-TOKEN";

fn config(hook: &Receiver) -> DiscordConfig {
    DiscordConfig {
        url: Some(Secret::new(hook.url(PATH))),
        ..DiscordConfig::default()
    }
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
    let text = permanent(result);
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
    let text = permanent(result);
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
    let text = transient(result);
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
