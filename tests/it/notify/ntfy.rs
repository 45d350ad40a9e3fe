//! The ntfy notifier against a real peer ([`Receiver`]) playing an ntfy server: the JSON
//! publication it gets, basic and token auth, ntfy's refusals, and a cycle's three updates as
//! one message through the real runner.

use super::common::{batch, permanent, send, transient};
use crate::support::receiver::{Answer, Receiver};
use serde_json::json;
use tidewatch::config::{NtfyAuthConfig, NtfyConfig, Secret};

/// On a public server the topic is as good as a password.
const TOPIC: &str = "SECRET-topic";

fn config(server: &Receiver) -> NtfyConfig {
    NtfyConfig {
        url: Some(server.url("")),
        topic: Some(TOPIC.into()),
        ..NtfyConfig::default()
    }
}

/// What ntfy answers a publication with.
fn published() -> Answer {
    Answer::json(
        200,
        json!({ "id": "sPs71M8A2T", "time": 1700000000, "event": "message", "topic": TOPIC }),
    )
}

#[tokio::test]
async fn a_message_is_published_as_json_to_the_servers_root() {
    let server = Receiver::always(published());
    let (result, seen) = send(
        NtfyConfig {
            priority: Some(4),
            ..config(&server)
        },
        &server,
    )
    .await;
    result.expect("delivered");
    assert_eq!(seen.len(), 1);
    let request = &seen[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, "/", "the topic is in the body, not the URL");
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("authorization"), None);
    assert_eq!(
        request.json(),
        json!({
            "topic": TOPIC,
            "title": "Update available: web 1.25.3 → 1.25.4",
            "message": "web on local: 1.25.3 → 1.25.4 (patch update)\nImage: nginx:1.25.3",
            "priority": 4,
            "tags": ["package", "patch"],
            "click": "https://example.com/releases/1.25.4",
        })
    );
}

#[tokio::test]
async fn a_token_is_a_bearer_and_a_user_basic_auth() {
    let server = Receiver::always(published());
    let (result, seen) = send(
        NtfyConfig {
            auth: NtfyAuthConfig {
                token: Some(Secret::new("tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2")),
                ..NtfyAuthConfig::default()
            },
            ..config(&server)
        },
        &server,
    )
    .await;
    result.expect("delivered");
    assert_eq!(
        seen[0].header("authorization"),
        Some("Bearer tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2")
    );

    let server = Receiver::always(published());
    let (result, seen) = send(
        NtfyConfig {
            auth: NtfyAuthConfig {
                user: Some("phil".into()),
                password: Some(Secret::new("mypass")),
                ..NtfyAuthConfig::default()
            },
            ..config(&server)
        },
        &server,
    )
    .await;
    result.expect("delivered");
    // base64("phil:mypass")
    assert_eq!(
        seen[0].header("authorization"),
        Some("Basic cGhpbDpteXBhc3M=")
    );
    assert_eq!(seen[0].json()["priority"], 3, "ntfy's default");
}

#[tokio::test]
async fn refusals_quote_ntfys_error_never_the_topic_or_credentials() {
    let server = Receiver::always(Answer::json(
        403,
        json!({ "code": 40301, "http": 403, "error": "forbidden",
                "link": "https://ntfy.sh/docs/publish/#authentication" }),
    ));
    let (result, seen) = send(
        NtfyConfig {
            retries: Some(3),
            auth: NtfyAuthConfig {
                token: Some(Secret::new("tk_SECRET")),
                ..NtfyAuthConfig::default()
            },
            ..config(&server)
        },
        &server,
    )
    .await;
    let text = permanent(result);
    assert_eq!(
        text,
        "POST to the ntfy server failed: 403 Forbidden (forbidden)"
    );
    assert_eq!(seen.len(), 1, "not retried");

    let server = Receiver::scripted(
        [Answer::json(
            429,
            json!({ "code": 42901, "http": 429,
                    "error": "limit reached: too many requests SECRET-topic" }),
        )],
        published(),
    );
    let (result, _) = send(
        NtfyConfig {
            retries: Some(0),
            ..config(&server)
        },
        &server,
    )
    .await;
    let text = transient(result);
    // The error names no topic; the runner adds how many attempts it made.
    assert!(
        text.starts_with("POST to the ntfy server failed: 429 Too Many Requests ("),
        "{text}"
    );
    assert!(
        !text.contains("SECRET") && !text.contains("limit"),
        "{text}"
    );
    // The next attempt goes through.
    let (result, seen) = send(config(&server), &server).await;
    result.expect("delivered");
    assert_eq!(seen.len(), 2);
}

#[tokio::test]
async fn batch_mode_sends_one_message_listing_the_cycles_updates() {
    let server = Receiver::always(published());
    batch(config(&server)).await;
    let seen = server.requests();
    assert_eq!(seen.len(), 1, "one message for the cycle");
    let body = seen[0].json();
    assert_eq!(body["title"], "3 updates available on local");
    assert_eq!(
        body["message"],
        "• web: 1.25.3 → 1.25.4 (patch)\n\
         • api: 1.25.3 → 1.26.0 (patch)\n\
         • db: 1.25.3 → 2.0.0 (patch)\n\n\
         Checked 5 containers on local: 3 with updates, 2 up to date, 0 skipped, 0 failed."
    );
    assert_eq!(body["tags"], json!(["package"]));
    assert_eq!(body.get("click"), None);
}
