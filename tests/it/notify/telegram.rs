//! The telegram notifier against a real peer ([`Receiver`]) playing the Bot API: the
//! `sendMessage` it gets, Telegram's `{"ok": false}` refusals, its 429, failures to reach it
//! (the token is in the URL path, so no error may quote the URL), and a cycle's three updates as
//! one message through the real runner.

use super::common::{batch, closed_address, failure, permanent, send, transient};
use crate::support::receiver::{Answer, Receiver};
use serde_json::{Value, json};
use std::time::Duration;
use tidewatch::config::{Secret, TelegramConfig};

const TOKEN: &str = "123456:SECRET-token_part";

fn config(api: String) -> TelegramConfig {
    TelegramConfig {
        bottoken: Some(Secret::new(TOKEN)),
        chatid: Some("-1001234567890".into()),
        api: Some(api),
        ..TelegramConfig::default()
    }
}

fn sent() -> Answer {
    Answer::json(
        200,
        json!({ "ok": true, "result": { "message_id": 7, "text": "…" } }),
    )
}

fn refused(code: u16, description: &str, parameters: Value) -> Answer {
    Answer::json(
        code,
        json!({ "ok": false, "error_code": code, "description": description,
                "parameters": parameters }),
    )
}

#[tokio::test]
async fn the_bot_posts_an_html_message_to_send_message() {
    let api = Receiver::always(sent());
    let (result, seen) = send(
        TelegramConfig {
            messagethreadid: Some(42),
            ..config(api.url("/tg"))
        },
        &api,
    )
    .await;
    result.expect("delivered");
    assert_eq!(seen.len(), 1);
    let request = &seen[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, format!("/tg/bot{TOKEN}/sendMessage"));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("authorization"), None);
    let body = request.json();
    assert_eq!(body["chat_id"], json!(-1001234567890_i64), "a number");
    assert_eq!(body["message_thread_id"], 42);
    assert_eq!(body["parse_mode"], "HTML");
    assert_eq!(body["disable_web_page_preview"], true);
    assert_eq!(body["link_preview_options"], json!({ "is_disabled": true }));
    assert_eq!(
        body["text"],
        "<b>Update available: web 1.25.3 → 1.25.4</b>\n\n\
         web on local: 1.25.3 → 1.25.4 (patch)\n\
         Image: nginx:1.25.3\n\
         Release notes: https://example.com/releases/1.25.4"
    );
}

#[tokio::test]
async fn a_channel_username_is_sent_as_text_and_no_thread_unless_set() {
    let api = Receiver::always(sent());
    let (result, seen) = send(
        TelegramConfig {
            chatid: Some("@tidewatch_updates".into()),
            ..config(api.url(""))
        },
        &api,
    )
    .await;
    result.expect("delivered");
    assert_eq!(seen[0].path(), format!("/bot{TOKEN}/sendMessage"));
    let body = seen[0].json();
    assert_eq!(body["chat_id"], "@tidewatch_updates");
    assert_eq!(body.get("message_thread_id"), None);
}

#[tokio::test]
async fn a_refusal_is_permanent_with_telegrams_description_and_never_the_token() {
    let api = Receiver::always(refused(400, "Bad Request: chat not found", json!({})));
    let (result, seen) = send(
        TelegramConfig {
            retries: Some(3),
            ..config(api.url(""))
        },
        &api,
    )
    .await;
    let text = permanent(result);
    assert_eq!(
        text,
        "POST to Telegram's sendMessage failed: 400 Bad Request: chat not found"
    );
    assert_eq!(seen.len(), 1, "not retried");

    let api = Receiver::always(refused(401, "Unauthorized", json!({})));
    let (result, _) = send(config(api.url("")), &api).await;
    let text = permanent(result);
    assert_eq!(
        text,
        "POST to Telegram's sendMessage failed: 401 Unauthorized (check bottoken)"
    );
}

#[tokio::test]
async fn a_429_is_transient_says_when_to_retry_and_is_retried() {
    let limited = || {
        refused(
            429,
            "Too Many Requests: retry after 1",
            json!({ "retry_after": 1 }),
        )
    };
    let api = Receiver::always(limited());
    let (result, _) = send(
        TelegramConfig {
            retries: Some(0),
            ..config(api.url(""))
        },
        &api,
    )
    .await;
    let text = transient(result);
    // The runner adds how many attempts it made.
    assert!(
        text.starts_with(
            "POST to Telegram's sendMessage failed: 429 Too Many Requests: retry after 1 \
             (retry after 1 s)"
        ),
        "{text}"
    );

    let api = Receiver::scripted([limited()], sent());
    let (result, seen) = send(
        TelegramConfig {
            retries: Some(2),
            ..config(api.url(""))
        },
        &api,
    )
    .await;
    result.expect("delivered on the second attempt");
    assert_eq!(seen.len(), 2);
}

#[tokio::test]
async fn no_failure_quotes_the_token_in_the_url() {
    let closed = closed_address();
    let cases: [(Receiver, Option<String>, bool, &str); 4] = [
        (
            Receiver::always(Answer::text(502, "<html>bad gateway SECRET</html>")),
            None,
            true,
            "502 Bad Gateway",
        ),
        (
            Receiver::always(refused(403, &format!("Forbidden: {TOKEN}"), json!({}))),
            None,
            false,
            "403 Forbidden",
        ),
        (
            Receiver::start(),
            Some(format!("http://{closed}")),
            true,
            "cannot connect",
        ),
        (
            Receiver::always(sent().after(Duration::from_secs(3))),
            None,
            true,
            // The client's timeout and the runner's are both 1 s: either may speak first.
            "timed out|no answer within",
        ),
    ];
    for (api, base, transient, says) in cases {
        let base = base.unwrap_or_else(|| api.url(""));
        let (result, _) = send(
            TelegramConfig {
                retries: Some(0),
                timeout: Some(1),
                ..config(base)
            },
            &api,
        )
        .await;
        let (text, was_transient) = failure(result, says);
        assert_eq!(was_transient, transient, "{text}");
        assert!(
            says.split('|').any(|s| text.contains(s)),
            "{text:?} should say {says:?}"
        );
        assert!(!text.contains("SECRET"), "the token in {text:?}");
        assert!(!text.contains("123456"), "the bot in {text:?}");
        assert!(!text.contains("127.0.0.1"), "the URL in {text:?}");
    }
}

#[tokio::test]
async fn batch_mode_sends_one_message_listing_the_cycles_updates() {
    let api = Receiver::always(sent());
    batch(config(api.url(""))).await;
    let seen = api.requests();
    assert_eq!(seen.len(), 1, "one message for the cycle");
    let notes = "https://example.com/releases/1.25.4";
    assert_eq!(
        seen[0].json()["text"],
        format!(
            "<b>3 updates available on local</b>\n\n\
             • web: 1.25.3 → 1.25.4 (patch)\n  {notes}\n\
             • api: 1.25.3 → 1.26.0 (patch)\n  {notes}\n\
             • db: 1.25.3 → 2.0.0 (patch)\n  {notes}\n\n\
             Checked 5 containers on local: 3 with updates, 2 up to date, 0 skipped, 0 failed."
        )
    );
}
