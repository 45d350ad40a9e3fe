//! The slack notifier against a real peer ([`Receiver`]) playing an incoming webhook and the
//! Web API's `chat.postMessage`, including its `200 {"ok": false}` refusals.

use super::common::{permanent, send, transient};
use crate::support::receiver::{Answer, Receiver};
use serde_json::json;
use tidewatch::config::{Secret, SlackConfig};

const TOKEN: &str = "xoxb-SECRET-TOKEN";

fn webhook(hook: &Receiver) -> SlackConfig {
    SlackConfig {
        url: Some(Secret::new(hook.url("/services/T0/B0/SECRET-HOOK"))),
        ..SlackConfig::default()
    }
}

fn bot(hook: &Receiver) -> SlackConfig {
    SlackConfig {
        token: Some(Secret::new(TOKEN)),
        channel: Some("#ops".into()),
        api: Some(hook.url("/api")),
        ..SlackConfig::default()
    }
}

#[tokio::test]
async fn an_incoming_webhook_gets_block_kit_with_the_title_as_text() {
    let hook = Receiver::always(Answer::text(200, "ok"));
    let (result, seen) = send(webhook(&hook), &hook).await;
    result.expect("delivered");
    assert_eq!(seen.len(), 1);
    let request = &seen[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path(), "/services/T0/B0/SECRET-HOOK");
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("authorization"), None);
    let body = request.json();
    let title = "Update available: web 1.25.3 → 1.25.4";
    assert_eq!(body["text"], title);
    assert_eq!(
        body.get("channel"),
        None,
        "a webhook posts to its own channel"
    );
    let blocks = body["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 2, "{body}");
    assert_eq!(
        blocks[0],
        json!({ "type": "header",
                "text": { "type": "plain_text", "text": title, "emoji": true } })
    );
    assert_eq!(blocks[1]["type"], "section");
    assert_eq!(blocks[1]["text"]["type"], "mrkdwn");
    let section = blocks[1]["text"]["text"].as_str().unwrap();
    assert!(
        section.starts_with("*web* on `local`: `1.25.3` → `1.25.4` (patch)"),
        "{section}"
    );
    assert!(
        section.contains("<https://example.com/releases/1.25.4|Release notes>"),
        "links as the template writes them: {section}"
    );
}

#[tokio::test]
async fn a_bot_token_posts_to_chat_post_message_with_the_channel() {
    let hook = Receiver::always(Answer::json(200, json!({ "ok": true, "ts": "1.2" })));
    let (result, seen) = send(bot(&hook), &hook).await;
    result.expect("delivered");
    let request = &seen[0];
    assert_eq!(request.path(), "/api/chat.postMessage");
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    let body = request.json();
    assert_eq!(body["channel"], "#ops");
    assert_eq!(body["blocks"][0]["type"], "header");
}

#[tokio::test]
async fn ok_false_is_permanent_with_slacks_code_and_never_the_token() {
    let hook = Receiver::always(Answer::json(
        200,
        json!({ "ok": false, "error": "channel_not_found" }),
    ));
    let (result, seen) = send(
        SlackConfig {
            retries: Some(3),
            ..bot(&hook)
        },
        &hook,
    )
    .await;
    let text = permanent(result);
    assert_eq!(
        text,
        "POST to Slack's chat.postMessage failed: channel_not_found"
    );
    assert_eq!(seen.len(), 1, "not retried");
}

#[tokio::test]
async fn ratelimited_is_transient_and_retried() {
    let hook = Receiver::scripted(
        [Answer::json(
            200,
            json!({ "ok": false, "error": "ratelimited" }),
        )],
        Answer::json(200, json!({ "ok": true })),
    );
    let (result, seen) = send(
        SlackConfig {
            retries: Some(2),
            ..bot(&hook)
        },
        &hook,
    )
    .await;
    result.expect("delivered on the second attempt");
    assert_eq!(seen.len(), 2);
}

#[tokio::test]
async fn webhook_refusals_carry_slacks_code_but_never_the_url() {
    let hook = Receiver::always(Answer::text(404, "channel_not_found"));
    let (result, seen) = send(webhook(&hook), &hook).await;
    let text = permanent(result);
    assert_eq!(
        text,
        "POST to the Slack webhook failed: 404 Not Found (channel_not_found)"
    );
    assert_eq!(seen.len(), 1);

    let down = Receiver::always(Answer::text(503, "<html>busy SECRET-HOOK</html>"));
    let (result, seen) = send(
        SlackConfig {
            retries: Some(1),
            ..webhook(&down)
        },
        &down,
    )
    .await;
    let text = transient(result);
    assert!(!text.contains("SECRET") && !text.contains("html"), "{text}");
    assert_eq!(seen.len(), 2, "one retry");
}
