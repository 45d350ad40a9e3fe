//! The gotify notifier against a real peer ([`Receiver`]) playing a Gotify server: the message
//! it gets with the token in `X-Gotify-Key` (never in the URL), Gotify's refusals, and a cycle's
//! three updates as one message through the real runner.

use super::common::{batch, permanent, send, transient};
use crate::support::receiver::{Answer, Receiver};
use serde_json::json;
use tidewatch::config::{GotifyConfig, Secret};

const TOKEN: &str = "ASECRETzk3aQ.Vd";

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
    let text = permanent(result);
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
    let text = transient(result);
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
