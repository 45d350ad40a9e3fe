//! The `teams` trigger: Microsoft Teams through a Workflows (Power Automate) webhook, which
//! takes an Adaptive Card, or with `card = messagecard` through a legacy Office 365 connector,
//! which takes a MessageCard.
//!
//! The Adaptive Card (version 1.4, which Teams renders): the title as a large bold text block,
//! the body as a wrapped text block (Teams reads its markdown subset), for a cycle's message a
//! fact set with one line per update (`display name: from → to (kind)`), and a button opening
//! each release-notes link, up to [`MAX_ACTIONS`]. The MessageCard has `summary`, `title` and
//! `text`, and the same links as buttons.
//!
//! Workflows answers `202 Accepted`, a connector `200` with `1`: both 2xx, both delivered. The
//! rest is classified as every webhook's (see `webhook`).

use super::template::{Defaults, shipped};
use super::webhook::{self, Problems};
use super::{Message, Notifier, TriggerError};
use crate::config::{TeamsCard, TeamsConfig};
use crate::trigger::BuildProblem;
use async_trait::async_trait;
use reqwest::Url;
use serde_json::{Value, json};

pub const TEMPLATES: Defaults = shipped!("teams");

/// Teams shows a handful of buttons on a card; more would be cut off anyway.
pub const MAX_ACTIONS: usize = 5;

pub struct Teams {
    client: reqwest::Client,
    url: Url,
    card: TeamsCard,
}

/// Never the URL.
impl std::fmt::Debug for Teams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Teams")
            .field("card", &self.card)
            .finish_non_exhaustive()
    }
}

impl Teams {
    pub fn new(config: &TeamsConfig) -> Result<Self, Vec<BuildProblem>> {
        let mut problems = Problems::default();
        let url = problems.required("url", config.url.as_ref(), |url| webhook::url("url", url));
        let client = problems.client(config.timeout);
        problems.finish(|| {
            Some(Teams {
                client: client?,
                url: url?,
                card: config.card,
            })
        })
    }
}

#[async_trait]
impl Notifier for Teams {
    async fn send(&self, message: &Message) -> Result<(), TriggerError> {
        let payload = match self.card {
            TeamsCard::Adaptive => adaptive_card(message),
            TeamsCard::Messagecard => message_card(message),
        };
        let what = "POST to the Teams webhook";
        let request = self.client.post(self.url.clone()).json(&payload);
        webhook::deliver(request, what, |_| None).await
    }
}

/// The message as Workflows wants it: one Adaptive Card attachment.
pub fn adaptive_card(message: &Message) -> Value {
    let mut body = vec![json!({
        "type": "TextBlock",
        "text": message.title,
        "weight": "Bolder",
        "size": "Large",
        "wrap": true,
    })];
    if !message.body.trim().is_empty() {
        body.push(json!({
            "type": "TextBlock",
            "text": message.body,
            "wrap": true,
        }));
    }
    let facts = facts(&message.data);
    if !facts.is_empty() {
        body.push(json!({ "type": "FactSet", "facts": facts }));
    }
    let mut content = json!({
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "body": body,
        // Teams draws cards narrow unless told otherwise; an update list needs the width.
        "msteams": { "width": "Full" },
    });
    let actions: Vec<Value> = links(&message.data)
        .into_iter()
        .map(|(title, url)| json!({ "type": "Action.OpenUrl", "title": title, "url": url }))
        .collect();
    if !actions.is_empty() {
        content["actions"] = json!(actions);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": content,
        }],
    })
}

/// The message as a legacy connector wants it.
pub fn message_card(message: &Message) -> Value {
    let mut card = json!({
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": message.title,
        "title": message.title,
        "text": message.body,
    });
    let actions: Vec<Value> = links(&message.data)
        .into_iter()
        .map(|(name, url)| {
            json!({
                "@type": "OpenUri",
                "name": name,
                "targets": [{ "os": "default", "uri": url }],
            })
        })
        .collect();
    if !actions.is_empty() {
        card["potentialAction"] = json!(actions);
    }
    card
}

/// One fact per update of a cycle's message; none for a message about one update, whose body
/// already says it.
fn facts(data: &Value) -> Vec<Value> {
    if data["event"] != "batch" {
        return Vec::new();
    }
    updates(data)
        .iter()
        .map(|u| {
            let (from, to, kind) = (text(&u["from"]), text(&u["to"]), text(&u["kind"]));
            let mut value = format!("{from} → {to} ({kind})");
            // Told after the updates (`when=updated`): what became of it.
            if let Some(state) = u["state"].as_str().filter(|s| *s != "Stale") {
                value.push_str(&format!(": {state}"));
            }
            json!({ "title": text(&u["display_name"]), "value": value })
        })
        .collect()
}

/// (button title, URL) for every release-notes link, at most [`MAX_ACTIONS`]; only http(s)
/// links, since Teams refuses a card with any other.
fn links(data: &Value) -> Vec<(String, String)> {
    let found: Vec<(String, String)> = if data["event"] == "batch" {
        updates(data)
            .iter()
            .filter_map(|u| {
                let link = u["link"].as_str()?;
                Some((
                    format!("{}: release notes", text(&u["display_name"])),
                    link.to_string(),
                ))
            })
            .collect()
    } else {
        data["link"]
            .as_str()
            .map(|link| ("Release notes".to_string(), link.to_string()))
            .into_iter()
            .collect()
    };
    found
        .into_iter()
        .filter(|(_, link)| link.starts_with("https://") || link.starts_with("http://"))
        .take(MAX_ACTIONS)
        .collect()
}

fn updates(data: &Value) -> &[Value] {
    data["updates"].as_array().map_or(&[], Vec::as_slice)
}

/// A value as text: strings bare, anything else as JSON, nothing for null.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use crate::notify::template::{self, Notice};

    fn simple() -> Message {
        Message {
            title: "Update available: web".into(),
            body: "**web** on local".into(),
            data: template::simple_data(Notice::Available(&template::sample_candidate())),
        }
    }

    fn batch() -> Message {
        let mut other = template::sample_candidate();
        other.container.name = "db".into();
        other.display_name = "Database".into();
        other.link = Some("javascript:alert(1)".into());
        Message {
            title: "2 updates available on local".into(),
            body: "- web\n- db".into(),
            data: template::batch_data("local", &[template::sample_candidate(), other], None),
        }
    }

    #[test]
    fn a_url_is_required_and_never_quoted() {
        let problems = Teams::new(&TeamsConfig::default()).unwrap_err();
        assert_eq!(problems[0].key, "url");
        let problems = Teams::new(&TeamsConfig {
            url: Some(Secret::new(
                "prod.logic.azure.com/workflows/SECRET?sig=SECRET",
            )),
            ..TeamsConfig::default()
        })
        .unwrap_err();
        assert_eq!(problems[0].key, "url");
        assert!(!problems[0].message.contains("SECRET"));
        let teams = Teams::new(&TeamsConfig {
            url: Some(Secret::new(
                "https://prod.logic.azure.com/workflows/SECRET?sig=SECRET",
            )),
            ..TeamsConfig::default()
        })
        .unwrap();
        assert!(!format!("{teams:?}").contains("SECRET"));
    }

    #[test]
    fn a_simple_message_is_an_adaptive_card_with_title_body_and_its_link() {
        let sent = adaptive_card(&simple());
        assert_eq!(sent["type"], "message");
        let attachment = &sent["attachments"][0];
        assert_eq!(
            attachment["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        let card = &attachment["content"];
        assert_eq!(card["type"], "AdaptiveCard");
        assert_eq!(card["version"], "1.4");
        assert_eq!(
            card["$schema"],
            "http://adaptivecards.io/schemas/adaptive-card.json"
        );
        assert_eq!(
            card["body"],
            json!([
                { "type": "TextBlock", "text": "Update available: web",
                  "weight": "Bolder", "size": "Large", "wrap": true },
                { "type": "TextBlock", "text": "**web** on local", "wrap": true },
            ])
        );
        assert_eq!(
            card["actions"],
            json!([{ "type": "Action.OpenUrl", "title": "Release notes",
                     "url": "https://example.com/releases/1.25.4" }])
        );
    }

    #[test]
    fn a_batch_card_lists_updates_as_facts_and_only_web_links_as_buttons() {
        let sent = adaptive_card(&batch());
        let card = &sent["attachments"][0]["content"];
        let body = card["body"].as_array().unwrap();
        assert_eq!(body.len(), 3);
        assert_eq!(
            body[2],
            json!({ "type": "FactSet", "facts": [
                { "title": "web", "value": "1.25.3 → 1.25.4 (patch)" },
                { "title": "Database", "value": "1.25.3 → 1.25.4 (patch)" },
            ]})
        );
        let actions = card["actions"].as_array().unwrap();
        assert_eq!(actions.len(), 1, "the javascript: link is left out");
        assert_eq!(actions[0]["title"], "web: release notes");
    }

    #[test]
    fn buttons_stop_at_the_limit() {
        let candidates: Vec<_> = (0..8)
            .map(|n| {
                let mut c = template::sample_candidate();
                c.container.name = format!("c{n}");
                c.display_name = format!("c{n}");
                c
            })
            .collect();
        let data = template::batch_data("local", &candidates, None);
        assert_eq!(links(&data).len(), MAX_ACTIONS);
        assert_eq!(facts(&data).len(), 8);
    }

    #[test]
    fn an_empty_body_leaves_out_its_text_block() {
        let mut message = simple();
        message.body = " \n".into();
        let sent = adaptive_card(&message);
        assert_eq!(
            sent["attachments"][0]["content"]["body"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn a_message_card_has_summary_title_text_and_links() {
        let sent = message_card(&simple());
        assert_eq!(sent["@type"], "MessageCard");
        assert_eq!(sent["@context"], "https://schema.org/extensions");
        assert_eq!(sent["summary"], "Update available: web");
        assert_eq!(sent["title"], "Update available: web");
        assert_eq!(sent["text"], "**web** on local");
        assert_eq!(
            sent["potentialAction"][0]["targets"][0]["uri"],
            "https://example.com/releases/1.25.4"
        );
    }
}
