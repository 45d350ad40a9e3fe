//! The teams notifier against a real peer ([`Receiver`]) playing a Workflows webhook (which
//! answers 202) and a legacy connector.

use super::common::{self, failure};
use crate::support::receiver::{Answer, Receiver, Recorded};
use serde_json::json;
use tidewatch::config::{CommonConfig, Secret, TeamsCard, TeamsConfig};
use tidewatch::notify::{Message, Notifier, Templates, TriggerError, teams, template};

/// A Workflows URL carries its signature in the query.
const PATH: &str = "/workflows/abc/triggers/manual/paths/invoke?sig=SECRET-SIG";

/// The one place that sends: `message` through a teams notifier built from `config`.
async fn send(
    config: TeamsConfig,
    message: &Message,
    hook: &Receiver,
) -> (Result<(), TriggerError>, Vec<Recorded>) {
    let notifier = teams::Teams::new(&config).unwrap_or_else(|p| panic!("not built: {p:?}"));
    let result = notifier.send(message).await;
    (result, hook.requests())
}

fn workflow(hook: &Receiver) -> TeamsConfig {
    TeamsConfig {
        url: Some(Secret::new(hook.url(PATH))),
        ..TeamsConfig::default()
    }
}

fn templates() -> Templates {
    Templates::new(teams::TEMPLATES, &CommonConfig::default()).unwrap()
}

fn simple() -> Message {
    let data = template::simple_data(template::Notice::Available(&template::sample_candidate()));
    templates().simple(data).unwrap()
}

fn batch() -> Message {
    let mut db = template::sample_candidate();
    db.container.name = "db".into();
    db.display_name = "Database".into();
    db.link = None;
    let data = template::batch_data("local", &[template::sample_candidate(), db], None);
    templates().batch(data).unwrap()
}

#[tokio::test]
async fn workflows_gets_an_adaptive_card_and_202_is_success() {
    let hook = Receiver::always(202);
    let message = simple();
    let (result, seen) = send(workflow(&hook), &message, &hook).await;
    result.expect("202 Accepted is delivered");
    assert_eq!(seen.len(), 1);
    let request = &seen[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, PATH);
    assert_eq!(request.header("content-type"), Some("application/json"));
    let body = request.json();
    assert_eq!(body["type"], "message");
    let attachments = body["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 1);
    assert_eq!(
        attachments[0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let card = &attachments[0]["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(
        card["$schema"],
        "http://adaptivecards.io/schemas/adaptive-card.json"
    );
    assert_eq!(card["version"], "1.4");
    let blocks = card["body"].as_array().unwrap();
    assert_eq!(
        blocks[0],
        json!({ "type": "TextBlock", "text": message.title,
                "weight": "Bolder", "size": "Large", "wrap": true })
    );
    assert_eq!(
        blocks[1],
        json!({ "type": "TextBlock", "text": message.body, "wrap": true })
    );
    assert_eq!(blocks.len(), 2, "no fact set for one update");
    assert_eq!(
        card["actions"],
        json!([{ "type": "Action.OpenUrl", "title": "Release notes",
                 "url": "https://example.com/releases/1.25.4" }])
    );
}

#[tokio::test]
async fn a_batch_card_lists_the_updates_as_facts_with_a_button_per_link() {
    let hook = Receiver::always(202);
    let (result, seen) = send(workflow(&hook), &batch(), &hook).await;
    result.expect("delivered");
    let body = seen[0].json();
    let card = &body["attachments"][0]["content"];
    assert_eq!(card["body"][0]["text"], "2 updates available on local");
    assert_eq!(
        card["body"][2],
        json!({ "type": "FactSet", "facts": [
            { "title": "web", "value": "1.25.3 → 1.25.4 (patch)" },
            { "title": "Database", "value": "1.25.3 → 1.25.4 (patch)" },
        ]})
    );
    assert_eq!(
        card["actions"],
        json!([{ "type": "Action.OpenUrl", "title": "web: release notes",
                 "url": "https://example.com/releases/1.25.4" }])
    );
}

#[tokio::test]
async fn card_messagecard_sends_the_legacy_format() {
    let hook = Receiver::always(Answer::text(200, "1"));
    let message = simple();
    let (result, seen) = send(
        TeamsConfig {
            card: TeamsCard::Messagecard,
            ..workflow(&hook)
        },
        &message,
        &hook,
    )
    .await;
    result.expect("delivered");
    let body = seen[0].json();
    assert_eq!(body["@type"], "MessageCard");
    assert_eq!(body["@context"], "https://schema.org/extensions");
    assert_eq!(body["summary"], message.title);
    assert_eq!(body["title"], message.title);
    assert_eq!(body["text"], message.body);
    assert_eq!(body.get("attachments"), None);
}

#[tokio::test]
async fn failures_are_classified_and_never_quote_the_url() {
    for (status, transient) in [(400, false), (429, true), (502, true)] {
        let hook = Receiver::always(Answer::text(status, "flow SECRET-SIG failed"));
        let (result, seen) = send(workflow(&hook), &simple(), &hook).await;
        assert_eq!(seen.len(), 1, "the notifier itself never retries");
        let (text, was_transient) = failure(result, &status.to_string());
        assert_eq!(was_transient, transient, "{status}: {text}");
        assert!(
            text.starts_with(&format!("POST to the Teams webhook failed: {status}")),
            "{text}"
        );
        assert!(
            !text.contains("SECRET") && !text.contains("127.0.0.1"),
            "{text}"
        );
    }
}

/// Through the real runner: a cycle of three updates in batch mode is one card, and a 500 from
/// Teams is retried with the same card.
#[tokio::test]
async fn a_batch_cycle_is_one_card_and_a_500_is_retried() {
    let hook = Receiver::scripted([500], 202);
    common::batch(TeamsConfig {
        retries: Some(2),
        ..workflow(&hook)
    })
    .await;
    let seen = hook.requests();
    assert_eq!(seen.len(), 2, "a 500, then the same card again");
    assert_eq!(seen[0].body, seen[1].body, "the same message");
    let card = &seen[1].json()["attachments"][0]["content"];
    assert_eq!(card["body"][0]["text"], "3 updates available on local");
    let facts: Vec<&str> = card["body"][2]["facts"]
        .as_array()
        .expect("facts")
        .iter()
        .map(|f| f["title"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(facts, ["web", "api", "db"]);
}
