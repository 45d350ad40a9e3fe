//! The `pushover` trigger: a push notification through Pushover's message API.
//!
//! ```sh
//! TIDEWATCH_TRIGGER_PUSHOVER_PHONE_TOKEN__FILE=/run/secrets/pushover_app_token
//! TIDEWATCH_TRIGGER_PUSHOVER_PHONE_USER__FILE=/run/secrets/pushover_user_key
//! TIDEWATCH_TRIGGER_PUSHOVER_PHONE_DEVICE=phone,tablet
//! ```
//!
//! `token` is the application's API token, `user` the user (or group) key: both secrets, sent
//! in the form body, never in a URL. `device` (comma-separated) limits the devices; `priority`
//! is -2 to 1 (2, an emergency that repeats until acknowledged, is not for update notices).
//! `api` replaces `https://api.pushover.net` for tests. A refusal quotes Pushover's `errors`
//! (`application token is invalid`) without either secret; a 5xx or 429 is retried.

use super::template::{Defaults, shipped};
use super::webhook::{self, Problems};
use super::{Message, Notifier, TriggerError};
use crate::config::{PushoverConfig, Secret};
use crate::trigger::BuildProblem;
use async_trait::async_trait;
use reqwest::{StatusCode, Url};
use serde_json::Value;

pub const TEMPLATES: Defaults = shipped!("pushover");

const DEFAULT_API: &str = "https://api.pushover.net";
/// Pushover's limits, in characters.
const MAX_TITLE: usize = 250;
const MAX_MESSAGE: usize = 1024;

pub struct Pushover {
    client: reqwest::Client,
    /// `{api}/1/messages.json`.
    endpoint: Url,
    token: Secret,
    user: Secret,
    device: Option<String>,
    priority: i8,
}

/// Never the token or the user key.
impl std::fmt::Debug for Pushover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pushover")
            .field("api", &self.endpoint.host_str())
            .field("device", &self.device)
            .field("priority", &self.priority)
            .finish_non_exhaustive()
    }
}

impl Pushover {
    pub fn new(config: &PushoverConfig) -> Result<Self, Vec<BuildProblem>> {
        let mut problems = Problems::default();
        let secret = |key: &str, value: &Secret| match value.expose().trim() {
            "" => Err(BuildProblem::new(key, "is empty")),
            text => Ok(Secret::new(text)),
        };
        let token = problems.required("token", config.token.as_ref(), |t| secret("token", t));
        let user = problems.required("user", config.user.as_ref(), |u| secret("user", u));
        let api = Secret::new(config.api.as_deref().unwrap_or(DEFAULT_API));
        let endpoint = problems.take(webhook::url("api", &api).map(|mut url| {
            let path = url.path().trim_end_matches('/').to_string();
            url.set_path(&format!("{path}/1/messages.json"));
            url
        }));
        let priority = match config.priority {
            None => Some(0),
            Some(p) if (-2..=1).contains(&p) => Some(p),
            Some(_) => {
                problems.push(BuildProblem::new("priority", "must be -2 to 1"));
                None
            }
        };
        let client = problems.client(config.timeout);
        problems.finish(|| {
            Some(Pushover {
                client: client?,
                endpoint: endpoint?,
                token: token?,
                user: user?,
                device: config
                    .device
                    .as_deref()
                    .map(str::trim)
                    .filter(|d| !d.is_empty())
                    .map(str::to_string),
                priority: priority?,
            })
        })
    }

    /// The form fields sent.
    fn form(&self, message: &Message) -> Vec<(&'static str, String)> {
        let title = webhook::truncate(message.title.trim(), MAX_TITLE);
        let body = match message.body.trim() {
            // Pushover refuses a message without text.
            "" => title.clone(),
            body => webhook::truncate(body, MAX_MESSAGE),
        };
        let mut form = vec![
            ("token", self.token.expose().to_string()),
            ("user", self.user.expose().to_string()),
            ("title", title),
            ("message", body),
            ("priority", self.priority.to_string()),
        ];
        if let Some(device) = &self.device {
            form.push(("device", device.clone()));
        }
        if let Some(link) = webhook::link(&message.data) {
            form.push(("url", link.to_string()));
            form.push(("url_title", "Release notes".to_string()));
        }
        form
    }
}

#[async_trait]
impl Notifier for Pushover {
    async fn send(&self, message: &Message) -> Result<(), TriggerError> {
        let what = "POST to Pushover";
        let request = self
            .client
            .post(self.endpoint.clone())
            .form(&self.form(message));
        webhook::deliver(request, what, |reply| {
            refusal(
                reply.status,
                &reply.body,
                &[self.token.expose(), self.user.expose()],
            )
        })
        .await
    }
}

/// Pushover's `errors`, joined, when they are plain text without the secrets.
fn refusal(status: StatusCode, body: &[u8], secrets: &[&str]) -> Option<String> {
    if status.is_success() {
        return None;
    }
    let answer: Value = serde_json::from_slice(body).ok()?;
    let errors: Vec<&str> = answer["errors"]
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .filter_map(|text| webhook::error_text(text, secrets))
        .collect();
    (!errors.is_empty()).then(|| errors.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> PushoverConfig {
        PushoverConfig {
            token: Some(Secret::new("SECRET-app")),
            user: Some(Secret::new("SECRET-user")),
            ..PushoverConfig::default()
        }
    }

    #[test]
    fn every_problem_is_reported_by_key_and_never_quotes_a_secret() {
        assert_eq!(
            webhook::problem_keys(Pushover::new(&PushoverConfig::default())),
            ["token", "user"]
        );
        assert_eq!(
            webhook::problem_keys(Pushover::new(&PushoverConfig {
                priority: Some(2),
                api: Some("api.example.com".into()),
                ..config()
            })),
            ["api", "priority"]
        );
        let built = Pushover::new(&config()).unwrap();
        assert!(!format!("{built:?}").contains("SECRET"));
        assert_eq!(
            built.endpoint.as_str(),
            "https://api.pushover.net/1/messages.json"
        );
    }

    #[test]
    fn refusals_quote_pushovers_errors_without_secrets() {
        let body = br#"{"status":0,"errors":["application token is invalid","user SECRET-user is invalid"]}"#;
        assert_eq!(
            refusal(
                StatusCode::BAD_REQUEST,
                body,
                &["SECRET-app", "SECRET-user"]
            )
            .as_deref(),
            Some("application token is invalid")
        );
        assert_eq!(refusal(StatusCode::OK, body, &[]), None);
    }
}
