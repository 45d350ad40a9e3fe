//! The `slack` trigger: Block Kit messages through an incoming webhook (`url`), or through the
//! Web API's `chat.postMessage` with a bot token (`token` and `channel`; `api` is the API's base,
//! for tests and Slack-compatible servers).
//!
//! The message: a header block with the title (plain text, cut to Slack's 150 characters), the
//! body as `mrkdwn` sections of at most 3000 characters each (split at line ends where it can),
//! and the title as the top-level `text`, which notifications and old clients show. Links are
//! whatever the body template writes (`<url|text>`).
//!
//! Failures: an incoming webhook answers a status and a plain-text code (`invalid_payload`,
//! `channel_is_archived`), classified as every webhook's (see `webhook`). `chat.postMessage`
//! answers 200 even when it refuses, with `{"ok": false, "error": "channel_not_found"}`: that
//! is permanent, except the codes that say "later" (`ratelimited`, `internal_error`, …).

use super::template::{Defaults, shipped};
use super::webhook::{self, Problems};
use super::{Message, Notifier, TriggerError};
use crate::config::SlackConfig;
use crate::trigger::BuildProblem;
use async_trait::async_trait;
use reqwest::Url;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde_json::{Value, json};

pub const TEMPLATES: Defaults = shipped!("slack");

const DEFAULT_API: &str = "https://slack.com/api";
/// Slack's limit on a header block's text.
const HEADER_MAX: usize = 150;
/// Slack's limit on a section's text.
const SECTION_MAX: usize = 3000;
/// Slack's limit on blocks in a message; the header takes one.
const BLOCKS_MAX: usize = 50;
/// `chat.postMessage` errors that mean "try again later".
const TRANSIENT_CODES: [&str; 5] = [
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
];

pub struct Slack {
    client: reqwest::Client,
    target: Target,
}

enum Target {
    Webhook(Url),
    Api {
        endpoint: Url,
        /// `Bearer <token>`, marked sensitive.
        authorization: HeaderValue,
        channel: String,
    },
}

/// Never the URL or the token.
impl std::fmt::Debug for Slack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = match &self.target {
            Target::Webhook(_) => "webhook",
            Target::Api { .. } => "chat.postMessage",
        };
        f.debug_struct("Slack")
            .field("mode", &mode)
            .finish_non_exhaustive()
    }
}

impl Slack {
    pub fn new(config: &SlackConfig) -> Result<Self, Vec<BuildProblem>> {
        let mut problems = Problems::default();
        let target = match (&config.url, &config.token) {
            (Some(_), Some(_)) => {
                problems.push(BuildProblem::new(
                    "url",
                    "set either url (an incoming webhook) or token (with channel), not both",
                ));
                None
            }
            (None, None) => {
                problems.push(BuildProblem::new(
                    "url",
                    "required: an incoming webhook URL, or token and channel instead",
                ));
                None
            }
            (Some(url), None) => {
                if config.channel.is_some() {
                    problems.push(BuildProblem::new(
                        "channel",
                        "only used with token: an incoming webhook posts to its own channel",
                    ));
                }
                if config.api.is_some() {
                    problems.push(BuildProblem::new("api", "only used with token"));
                }
                problems.take(webhook::url("url", url).map(Target::Webhook))
            }
            (None, Some(token)) => {
                let channel = match config.channel.as_deref().map(str::trim) {
                    Some(channel) if !channel.is_empty() => Some(channel.to_string()),
                    _ => {
                        problems.push(BuildProblem::new("channel", "required with token"));
                        None
                    }
                };
                let endpoint = problems.take(api_endpoint(config.api.as_deref()));
                let authorization =
                    problems.take(webhook::credential("token", "Bearer ", token.expose()));
                match (endpoint, authorization, channel) {
                    (Some(endpoint), Some(authorization), Some(channel)) => Some(Target::Api {
                        endpoint,
                        authorization,
                        channel,
                    }),
                    _ => None,
                }
            }
        };
        let client = problems.client(config.timeout);
        problems.finish(|| {
            Some(Slack {
                client: client?,
                target: target?,
            })
        })
    }
}

#[async_trait]
impl Notifier for Slack {
    async fn send(&self, message: &Message) -> Result<(), TriggerError> {
        match &self.target {
            Target::Webhook(url) => {
                let what = "POST to the Slack webhook";
                let request = self.client.post(url.clone()).json(&payload(message, None));
                webhook::deliver(request, what, |reply| {
                    webhook::error_code(&String::from_utf8_lossy(&reply.body)).map(str::to_string)
                })
                .await
            }
            Target::Api {
                endpoint,
                authorization,
                channel,
            } => {
                let what = "POST to Slack's chat.postMessage";
                let request = self
                    .client
                    .post(endpoint.clone())
                    .header(AUTHORIZATION, authorization.clone())
                    .json(&payload(message, Some(channel)));
                let reply = webhook::exchange(request, what).await?;
                webhook::check(what, reply.status, None)?;
                api_result(what, &reply.body)
            }
        }
    }
}

/// `{api}/chat.postMessage`, `api` defaulting to Slack's own.
fn api_endpoint(api: Option<&str>) -> Result<Url, BuildProblem> {
    let base = api
        .map(str::trim)
        .unwrap_or(DEFAULT_API)
        .trim_end_matches('/');
    let endpoint = webhook::url(
        "api",
        &crate::config::Secret::new(format!("{base}/chat.postMessage")),
    )?;
    Ok(endpoint)
}

/// What `chat.postMessage`'s 200 says: `{"ok": true, …}`, or `{"ok": false, "error": code}`.
fn api_result(what: &str, body: &[u8]) -> Result<(), TriggerError> {
    let answer: Option<Value> = serde_json::from_slice(body).ok();
    let ok = match &answer {
        Some(answer) => answer.get("ok").and_then(Value::as_bool),
        // Cut at `webhook::MAX_REPLY` (Slack echoes the message back): `ok` comes first.
        None => starts_with_ok(body),
    };
    match ok {
        Some(true) => Ok(()),
        Some(false) => {
            let code = answer
                .as_ref()
                .and_then(|a| a.get("error"))
                .and_then(Value::as_str)
                .and_then(webhook::error_code)
                .unwrap_or("no error code");
            let text = format!("{what} failed: {code}");
            if TRANSIENT_CODES.contains(&code) {
                Err(TriggerError::Transient(text))
            } else {
                Err(TriggerError::Permanent(text))
            }
        }
        // Not Slack's answer at all: the message may have gone, so it is not sent again.
        None => Err(TriggerError::Permanent(format!(
            "{what} failed: the answer is not Slack's"
        ))),
    }
}

/// `Some(ok)` when `body` opens with `{"ok": true` or `{"ok": false` (whitespace allowed).
fn starts_with_ok(body: &[u8]) -> Option<bool> {
    let text = String::from_utf8_lossy(&body[..body.len().min(64)]);
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.starts_with(r#"{"ok":true"#) {
        Some(true)
    } else if compact.starts_with(r#"{"ok":false"#) {
        Some(false)
    } else {
        None
    }
}

/// The JSON sent: Block Kit blocks, `text` as the fallback, and `channel` for the Web API.
pub fn payload(message: &Message, channel: Option<&str>) -> Value {
    let mut blocks = Vec::new();
    let title = message.title.trim();
    if !title.is_empty() {
        blocks.push(json!({
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": webhook::truncate(title, HEADER_MAX),
                "emoji": true,
            },
        }));
    }
    let mut sections = split(&message.body, SECTION_MAX);
    let room = BLOCKS_MAX - blocks.len();
    if sections.len() > room {
        sections.truncate(room);
        if let Some(last) = sections.last_mut() {
            *last = webhook::truncate(&format!("{last}\n…"), SECTION_MAX);
        }
    }
    blocks.extend(sections.into_iter().map(|text| {
        json!({
            "type": "section",
            "text": { "type": "mrkdwn", "text": text },
        })
    }));
    // A message needs a non-empty `text` or blocks; the title is the natural fallback.
    let text = if title.is_empty() {
        webhook::truncate(message.body.trim(), SECTION_MAX)
    } else {
        title.to_string()
    };
    let mut payload = json!({ "text": text, "blocks": blocks });
    if let Some(channel) = channel {
        payload["channel"] = json!(channel);
    }
    payload
}

/// `text` in pieces of at most `max` characters, cut after the last new line that fits, else
/// the last space, else anywhere. Blank pieces are dropped (Slack refuses empty sections).
fn split(text: &str, max: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut rest = text.trim_end();
    while !rest.trim().is_empty() {
        if rest.chars().count() <= max {
            pieces.push(rest.to_string());
            break;
        }
        // Byte index of the first character that does not fit; a separator there still
        // makes a cut, since the separator itself is dropped.
        let limit = rest.char_indices().nth(max).map_or(rest.len(), |(i, _)| i);
        let next = rest[limit..].chars().next().map_or(0, char::len_utf8);
        let window = &rest[..limit + next];
        let (cut, skip) = match window.rfind('\n').or_else(|| window.rfind(' ')) {
            Some(at) if at > 0 => (at, 1),
            _ => (limit, 0),
        };
        let piece = &rest[..cut];
        if !piece.trim().is_empty() {
            pieces.push(piece.to_string());
        }
        rest = rest[cut + skip..].trim_start_matches('\n');
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn message(title: &str, body: &str) -> Message {
        Message {
            title: title.into(),
            body: body.into(),
            data: json!({ "event": "update-available" }),
            updates: Vec::new(),
        }
    }

    fn keys(config: SlackConfig) -> Vec<String> {
        webhook::problem_keys(Slack::new(&config))
    }

    #[test]
    fn exactly_one_of_url_and_token_with_channel_for_the_token() {
        let url = Some(Secret::new("https://hooks.slack.com/services/T/B/X"));
        let token = Some(Secret::new("xoxb-1"));
        assert!(
            Slack::new(&SlackConfig {
                url: url.clone(),
                ..SlackConfig::default()
            })
            .is_ok()
        );
        assert!(
            Slack::new(&SlackConfig {
                token: token.clone(),
                channel: Some("#ops".into()),
                ..SlackConfig::default()
            })
            .is_ok()
        );
        assert_eq!(keys(SlackConfig::default()), ["url"]);
        assert_eq!(
            keys(SlackConfig {
                url: url.clone(),
                token: token.clone(),
                ..SlackConfig::default()
            }),
            ["url"]
        );
        assert_eq!(
            keys(SlackConfig {
                token: token.clone(),
                api: Some("not a url".into()),
                ..SlackConfig::default()
            }),
            ["channel", "api"]
        );
        assert_eq!(
            keys(SlackConfig {
                url,
                channel: Some("#ops".into()),
                api: Some("http://127.0.0.1:1".into()),
                ..SlackConfig::default()
            }),
            ["channel", "api"]
        );
    }

    #[test]
    fn the_api_endpoint_is_chat_post_message_under_api() {
        assert_eq!(
            api_endpoint(None).unwrap().as_str(),
            "https://slack.com/api/chat.postMessage"
        );
        assert_eq!(
            api_endpoint(Some("http://127.0.0.1:8080/api/"))
                .unwrap()
                .as_str(),
            "http://127.0.0.1:8080/api/chat.postMessage"
        );
    }

    #[test]
    fn a_message_is_a_header_and_mrkdwn_sections_with_the_title_as_text() {
        let sent = payload(&message("Update available: web", "*web*: `1` → `2`"), None);
        assert_eq!(
            sent,
            json!({
                "text": "Update available: web",
                "blocks": [
                    { "type": "header",
                      "text": { "type": "plain_text", "text": "Update available: web",
                                "emoji": true } },
                    { "type": "section",
                      "text": { "type": "mrkdwn", "text": "*web*: `1` → `2`" } },
                ],
            })
        );
        let with_channel = payload(&message("t", "b"), Some("#ops"));
        assert_eq!(with_channel["channel"], "#ops");
    }

    #[test]
    fn the_header_is_cut_to_150_characters() {
        let long = "é".repeat(200);
        let sent = payload(&message(&long, "b"), None);
        let header = sent["blocks"][0]["text"]["text"].as_str().unwrap();
        assert_eq!(header.chars().count(), 150);
        assert!(header.ends_with('…'));
        assert_eq!(sent["text"], long, "the fallback keeps the whole title");
    }

    #[test]
    fn long_bodies_split_at_line_ends_into_sections_of_at_most_3000() {
        let line = format!("• {}\n", "x".repeat(98));
        let body = line.repeat(70); // 7000 characters in lines of 100
        let sent = payload(&message("t", &body), None);
        let sections: Vec<&str> = sent["blocks"].as_array().unwrap()[1..]
            .iter()
            .map(|b| b["text"]["text"].as_str().unwrap())
            .collect();
        assert_eq!(sections.len(), 3);
        for section in &sections {
            assert!(section.chars().count() <= SECTION_MAX);
            assert!(
                section.starts_with('•') && section.ends_with('x'),
                "cut at a line end"
            );
        }
        assert_eq!(sections.join("\n"), body.trim_end());
    }

    #[test]
    fn split_falls_back_to_spaces_then_anywhere() {
        assert_eq!(split("aaa bbb ccc", 7), ["aaa bbb", "ccc"]);
        assert_eq!(split("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(split("  \n ", 4), Vec::<String>::new());
        assert_eq!(split("ééé\nééé", 4), ["ééé", "ééé"]);
    }

    #[test]
    fn blocks_stop_at_slacks_fifty() {
        let body = "x".repeat(SECTION_MAX * 60);
        let sent = payload(&message("t", &body), None);
        let blocks = sent["blocks"].as_array().unwrap();
        assert_eq!(blocks.len(), BLOCKS_MAX);
        let last = blocks.last().unwrap()["text"]["text"].as_str().unwrap();
        assert!(last.ends_with('…') && last.chars().count() <= SECTION_MAX);
    }

    #[test]
    fn an_empty_title_leaves_no_header_and_the_body_as_text() {
        let sent = payload(&message("", "just the body"), None);
        assert_eq!(sent["text"], "just the body");
        assert_eq!(sent["blocks"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn api_answers_ok_or_a_code_some_of_which_are_transient() {
        let what = "POST to Slack's chat.postMessage";
        assert_eq!(api_result(what, br#"{"ok":true,"ts":"1.2"}"#), Ok(()));
        assert_eq!(
            api_result(what, br#"{"ok":false,"error":"channel_not_found"}"#),
            Err(TriggerError::Permanent(format!(
                "{what} failed: channel_not_found"
            )))
        );
        assert_eq!(
            api_result(what, br#"{"ok":false,"error":"ratelimited"}"#),
            Err(TriggerError::Transient(format!(
                "{what} failed: ratelimited"
            )))
        );
        assert!(matches!(
            api_result(what, br#"{"ok":false,"error":"bad token xoxb-SECRET"}"#),
            Err(TriggerError::Permanent(e)) if !e.contains("SECRET")
        ));
        // Cut short by the reply limit, yet clearly a success.
        assert_eq!(
            api_result(what, b"{ \"ok\" : true, \"message\": {\"te"),
            Ok(())
        );
        assert!(api_result(what, b"<html>").is_err());
    }

    #[test]
    fn debug_output_shows_no_secret() {
        let slack = Slack::new(&SlackConfig {
            token: Some(Secret::new("xoxb-SECRET")),
            channel: Some("#ops".into()),
            ..SlackConfig::default()
        })
        .unwrap();
        assert!(!format!("{slack:?}").contains("SECRET"));
    }
}
