//! The `gotify` trigger: a message to a Gotify server, as one of its applications.
//!
//! ```sh
//! TIDEWATCH_TRIGGER_GOTIFY_HOME_URL=https://gotify.example.com
//! TIDEWATCH_TRIGGER_GOTIFY_HOME_TOKEN__FILE=/run/secrets/gotify_app_token
//! TIDEWATCH_TRIGGER_GOTIFY_HOME_PRIORITY=8
//! ```
//!
//! `url` is the server's address (with its path prefix behind a reverse proxy, without
//! `/message`); `token` is an application's token (Apps → Create Application), a secret never
//! logged. It is sent in the `X-Gotify-Key` header, never in the query string, so it never sits
//! in a URL that a proxy or a log could record. `priority` is 0 to 10, default 5 (Gotify's
//! Android app: 0 silent, 1–3 quiet, 4–7 with sound, 8–10 insistent).
//!
//! The message is markdown (`client::display` says so, and Gotify's web UI and app render it);
//! for one update, tapping its notification opens the release notes (`client::notification`
//! `click`). A refusal quotes Gotify's `errorDescription` (`you need to provide a valid access
//! token…`); a 5xx is retried.

use super::template::{Defaults, shipped};
use super::webhook::{self, Problems};
use super::{Message, Notifier, TriggerError};
use crate::config::{GotifyConfig, Secret};
use crate::trigger::BuildProblem;
use async_trait::async_trait;
use reqwest::header::HeaderValue;
use reqwest::{StatusCode, Url};
use serde_json::{Value, json};

pub const TEMPLATES: Defaults = shipped!("gotify");

/// The header carrying the application token.
pub const KEY_HEADER: &str = "x-gotify-key";
const DEFAULT_PRIORITY: u8 = 5;
const PRIORITY_MAX: u8 = 10;

pub struct Gotify {
    client: reqwest::Client,
    /// `{url}/message`.
    endpoint: Url,
    /// The token, marked sensitive.
    key: HeaderValue,
    /// The token as text, to keep it out of what a refusal quotes.
    token: Secret,
    priority: u8,
}

/// Never the token.
impl std::fmt::Debug for Gotify {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gotify")
            .field("server", &self.endpoint.host_str())
            .field("priority", &self.priority)
            .finish_non_exhaustive()
    }
}

impl Gotify {
    pub fn new(config: &GotifyConfig) -> Result<Self, Vec<BuildProblem>> {
        let mut problems = Problems::default();
        let endpoint = problems.required("url", config.url.as_deref(), endpoint);
        let key = problems.required("token", config.token.as_ref(), |token| {
            webhook::credential("token", "", token.expose())
        });
        let priority = match config.priority {
            None => Some(DEFAULT_PRIORITY),
            Some(p) if p <= PRIORITY_MAX => Some(p),
            Some(_) => {
                problems.push(BuildProblem::new("priority", "must be 0 to 10"));
                None
            }
        };
        let client = problems.client(config.timeout);
        problems.finish(|| {
            Some(Gotify {
                client: client?,
                endpoint: endpoint?,
                key: key?,
                token: Secret::new(config.token.as_ref()?.expose().trim()),
                priority: priority?,
            })
        })
    }
}

#[async_trait]
impl Notifier for Gotify {
    async fn send(&self, message: &Message) -> Result<(), TriggerError> {
        let what = "POST to the Gotify server";
        let request = self
            .client
            .post(self.endpoint.clone())
            .header(KEY_HEADER, self.key.clone())
            .json(&payload(message, self.priority));
        webhook::deliver(request, what, |reply| {
            refusal(reply.status, &reply.body, self.token.expose())
        })
        .await
    }
}

/// `{url}/message`. The address of the server only: one that already ends in `/message` or
/// carries a query (`?token=…`, as Gotify's own examples have it) is refused, without quoting it.
fn endpoint(url: &str) -> Result<Url, BuildProblem> {
    let base = webhook::url("url", &Secret::new(url))?;
    if base.query().is_some() || base.fragment().is_some() {
        return Err(BuildProblem::new(
            "url",
            "give the server's address only, without a query: the token goes in token",
        ));
    }
    let path = base.path().trim_end_matches('/');
    if path.ends_with("/message") {
        return Err(BuildProblem::new(
            "url",
            "give the server's address only: /message is added",
        ));
    }
    let mut endpoint = base.clone();
    endpoint.set_path(&format!("{path}/message"));
    Ok(endpoint)
}

/// Gotify's `errorDescription` (else its `error`), when it is plain text without the token.
fn refusal(status: StatusCode, body: &[u8], token: &str) -> Option<String> {
    if status.is_success() {
        return None;
    }
    let answer: Value = serde_json::from_slice(body).ok()?;
    ["errorDescription", "error"]
        .iter()
        .filter_map(|key| answer[key].as_str())
        .find_map(|text| webhook::error_text(text, &[token]))
        .map(str::to_string)
}

/// The JSON sent: markdown, and for one update a click through to its release notes.
pub fn payload(message: &Message, priority: u8) -> Value {
    let title = message.title.trim();
    let body = match message.body.trim() {
        // Gotify refuses a message without text.
        "" => title,
        body => body,
    };
    let mut extras = json!({
        "client::display": { "contentType": "text/markdown" },
    });
    if let Some(link) = webhook::link(&message.data) {
        extras["client::notification"] = json!({ "click": { "url": link } });
    }
    json!({
        "title": title,
        "message": body,
        "priority": priority,
        "extras": extras,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CommonConfig;
    use crate::notify::Templates;
    use crate::notify::template::{self, Notice};

    fn config() -> GotifyConfig {
        GotifyConfig {
            url: Some("https://gotify.example.com".into()),
            token: Some(Secret::new("SECRET-app-token")),
            ..GotifyConfig::default()
        }
    }

    fn keys(config: GotifyConfig) -> Vec<String> {
        webhook::problem_keys(Gotify::new(&config))
    }

    #[test]
    fn every_problem_is_reported_by_key_and_never_quotes_the_token() {
        assert_eq!(keys(GotifyConfig::default()), ["url", "token"]);
        assert_eq!(
            keys(GotifyConfig {
                url: Some("gotify.example.com".into()),
                token: Some(Secret::new(" ")),
                priority: Some(11),
                ..GotifyConfig::default()
            }),
            ["url", "token", "priority"]
        );
        let problems = Gotify::new(&GotifyConfig {
            url: Some("https://gotify.example.com/message?token=SECRET-app-token".into()),
            ..config()
        })
        .unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].key, "url");
        assert!(!problems[0].message.contains("SECRET"), "{problems:?}");
        let gotify = Gotify::new(&config()).unwrap();
        assert!(!format!("{gotify:?}").contains("SECRET"), "{gotify:?}");
        assert!(gotify.key.is_sensitive());
        assert_eq!(gotify.priority, DEFAULT_PRIORITY);
    }

    #[test]
    fn the_endpoint_is_message_under_the_servers_path() {
        let at = |url: &str| endpoint(url).map(|u| u.to_string());
        assert_eq!(
            at("https://gotify.example.com").unwrap(),
            "https://gotify.example.com/message"
        );
        assert_eq!(
            at("https://example.com/gotify/").unwrap(),
            "https://example.com/gotify/message"
        );
        assert!(at("https://example.com/gotify/message").is_err());
        assert!(at("https://example.com/?token=x").is_err());
    }

    #[test]
    fn a_simple_message_is_markdown_that_opens_its_link() {
        let candidate = template::sample_candidate();
        let message = Templates::new(TEMPLATES, &CommonConfig::default())
            .unwrap()
            .simple(template::simple_data(Notice::Available(&candidate)))
            .unwrap();
        assert_eq!(
            payload(&message, 8),
            json!({
                "title": "Update available: web 1.25.3 → 1.25.4",
                "message": "**web** on `local`: `1.25.3` → `1.25.4` (patch)\n\n\
                            Image: `nginx:1.25.3`\n\n\
                            [Release notes](https://example.com/releases/1.25.4)",
                "priority": 8,
                "extras": {
                    "client::display": { "contentType": "text/markdown" },
                    "client::notification": {
                        "click": { "url": "https://example.com/releases/1.25.4" }
                    },
                },
            })
        );
    }

    #[test]
    fn a_batch_has_no_click_and_an_empty_body_falls_back_to_the_title() {
        let message = Message {
            title: "2 updates available on local".into(),
            body: String::new(),
            data: json!({ "event": "batch", "link": "https://example.com" }),
            updates: Vec::new(),
        };
        let sent = payload(&message, 5);
        assert_eq!(sent["message"], "2 updates available on local");
        assert_eq!(sent["extras"].get("client::notification"), None);
    }

    #[test]
    fn refusals_quote_gotifys_description_but_never_the_token() {
        let status = |n| StatusCode::from_u16(n).unwrap();
        let unauthorized = br#"{"error":"Unauthorized","errorCode":401,
            "errorDescription":"you need to provide a valid access token or user credentials to access this api"}"#;
        assert_eq!(
            refusal(status(401), unauthorized, "AzK3aQ.Vd").as_deref(),
            Some("you need to provide a valid access token or user credentials to access this api")
        );
        let echo =
            br#"{"error":"Bad Request","errorCode":400,"errorDescription":"bad token SECRET"}"#;
        assert_eq!(
            refusal(status(400), echo, "SECRET").as_deref(),
            Some("Bad Request")
        );
        assert_eq!(refusal(status(502), b"<html>", "AzK3aQ.Vd"), None);
    }
}
