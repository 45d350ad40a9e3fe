//! The `ntfy` trigger: a push notification through ntfy (ntfy.sh or a server of your own).
//!
//! ```sh
//! TIDEWATCH_TRIGGER_NTFY_PHONE_URL=https://ntfy.example.com
//! TIDEWATCH_TRIGGER_NTFY_PHONE_TOPIC=tidewatch-updates
//! TIDEWATCH_TRIGGER_NTFY_PHONE_PRIORITY=4
//! # A token (tk_…), or auth.user and auth.password
//! TIDEWATCH_TRIGGER_NTFY_PHONE_AUTH_TOKEN__FILE=/run/secrets/ntfy_token
//! ```
//!
//! `url` is the server's address without the topic (default `https://ntfy.sh`); `topic` is where
//! to publish (letters, digits, `-` and `_`). On a public server whoever knows the topic can read
//! it, so it is treated as a secret: never in errors or logs. `priority` is 1 (min) to 5 (max),
//! default 3. `auth.token` is sent as a bearer token, `auth.user` with `auth.password` as basic
//! auth; give one or the other.
//!
//! Messages are published as JSON to the server's root (ntfy's "publish as JSON"): `title`,
//! `message` (plain text: the phone apps show markdown as it is), `priority`, `tags` (an emoji
//! for the event — 📦 found, ✅ applied, ❌ failed, ↩️ rolled back — and the update's kind) and,
//! for one update, `click`: tapping the notification opens its release notes. ntfy turns a
//! message over 4096 bytes into an attachment, so the message is cut to 4096 bytes at a line end
//! and the title to 256 characters. A refusal quotes ntfy's error (`forbidden`); a 429 (`limit
//! reached`) or 5xx is retried.

use super::template::{Defaults, shipped};
use super::webhook::{self, Measure, Problems};
use super::{Message, Notifier, TriggerError};
use crate::config::{NtfyAuthConfig, NtfyConfig, Secret};
use crate::trigger::BuildProblem;
use async_trait::async_trait;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{StatusCode, Url};
use serde_json::{Value, json};

pub const TEMPLATES: Defaults = shipped!("ntfy");

const DEFAULT_URL: &str = "https://ntfy.sh";
const DEFAULT_PRIORITY: u8 = 3;
/// ntfy's default `message-size-limit`, in bytes: beyond it a message becomes an attachment.
const MESSAGE_MAX: usize = 4096;
/// The JSON body may be twice the message limit; a bounded title keeps well inside it.
const TITLE_MAX: usize = 256;
const TOPIC_MAX: usize = 64;

pub struct Ntfy {
    client: reqwest::Client,
    url: Url,
    topic: String,
    priority: u8,
    /// Basic or bearer, marked sensitive.
    authorization: Option<HeaderValue>,
    /// The topic and the credentials, to keep them out of what a refusal quotes.
    secrets: Vec<Secret>,
}

/// Never the topic or the credentials.
impl std::fmt::Debug for Ntfy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ntfy")
            .field("server", &self.url.host_str())
            .field("priority", &self.priority)
            .field("authenticated", &self.authorization.is_some())
            .finish_non_exhaustive()
    }
}

impl Ntfy {
    pub fn new(config: &NtfyConfig) -> Result<Self, Vec<BuildProblem>> {
        let mut problems = Problems::default();
        let url = problems.take(webhook::url(
            "url",
            &Secret::new(config.url.as_deref().unwrap_or(DEFAULT_URL)),
        ));
        let topic = match config.topic.as_deref().map(str::trim) {
            None | Some("") => {
                problems.push(BuildProblem::new("topic", "required"));
                None
            }
            Some(topic) if !is_topic(topic) => {
                problems.push(BuildProblem::new(
                    "topic",
                    "at most 64 letters, digits, `-` and `_`",
                ));
                None
            }
            Some(topic) => Some(topic.to_string()),
        };
        if let (Some(url), Some(topic)) = (&url, &topic)
            && url.path_segments().and_then(|mut s| s.next_back()) == Some(topic.as_str())
        {
            problems.push(BuildProblem::new(
                "url",
                "give the server only: the topic goes in topic",
            ));
        }
        let priority = match config.priority {
            None => Some(DEFAULT_PRIORITY),
            Some(p @ 1..=5) => Some(p),
            Some(_) => {
                problems.push(BuildProblem::new("priority", "must be 1 (min) to 5 (max)"));
                None
            }
        };
        let authorization = problems.take_all(authorization(&config.auth));
        let client = problems.client(config.timeout);
        problems.finish(|| {
            let topic = topic?;
            let credentials = [&config.auth.password, &config.auth.token];
            let secrets = std::iter::once(Secret::new(topic.clone()))
                .chain(credentials.into_iter().flatten().cloned())
                .collect();
            Some(Ntfy {
                client: client?,
                url: url?,
                topic,
                priority: priority?,
                authorization: authorization?,
                secrets,
            })
        })
    }
}

#[async_trait]
impl Notifier for Ntfy {
    async fn send(&self, message: &Message) -> Result<(), TriggerError> {
        let what = "POST to the ntfy server";
        let mut request =
            self.client
                .post(self.url.clone())
                .json(&payload(message, &self.topic, self.priority));
        if let Some(authorization) = &self.authorization {
            request = request.header(AUTHORIZATION, authorization.clone());
        }
        webhook::deliver(request, what, |reply| {
            let secrets: Vec<&str> = self.secrets.iter().map(Secret::expose).collect();
            refusal(reply.status, &reply.body, &secrets)
        })
        .await
    }
}

/// ntfy's topic names: `[-_A-Za-z0-9]{1,64}`.
fn is_topic(topic: &str) -> bool {
    !topic.is_empty()
        && topic.len() <= TOPIC_MAX
        && topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `Bearer <auth.token>` or `Basic` of `auth.user` and `auth.password`; every problem with
/// `auth.*`.
fn authorization(auth: &NtfyAuthConfig) -> Result<Option<HeaderValue>, Vec<BuildProblem>> {
    let user = auth.user.as_deref().map(str::trim);
    let password = auth.password.as_ref().map(Secret::expose);
    let token = auth.token.as_ref().map(|t| t.expose().trim());
    let mut problems = Problems::default();
    let value = match (user, password, token) {
        (None, None, None) => None,
        (None, None, Some(token)) => {
            problems.take(webhook::credential("auth.token", "Bearer ", token))
        }
        (_, _, Some(_)) => {
            problems.push(BuildProblem::new(
                "auth.token",
                "give auth.token or auth.user and auth.password, not both",
            ));
            None
        }
        (None, Some(_), None) => {
            problems.push(BuildProblem::new(
                "auth.user",
                "required with auth.password",
            ));
            None
        }
        (Some(_), None, None) => {
            problems.push(BuildProblem::new(
                "auth.password",
                "required with auth.user",
            ));
            None
        }
        (Some(user), Some(_), None) if user.is_empty() || user.contains(':') => {
            problems.push(BuildProblem::new(
                "auth.user",
                "must be a name without ':' (basic auth separates user and password with it)",
            ));
            None
        }
        (Some(user), Some(password), None) => webhook::basic(user, password),
    };
    problems.finish(|| Some(value))
}

/// ntfy's error (`{"code": 40301, "http": 403, "error": "forbidden"}`) when it is plain text
/// and names none of `secrets` (the topic, the credentials).
fn refusal(status: StatusCode, body: &[u8], secrets: &[&str]) -> Option<String> {
    if status.is_success() {
        return None;
    }
    let answer: Value = serde_json::from_slice(body).ok()?;
    let error = answer["error"].as_str()?;
    webhook::error_text(error, secrets).map(str::to_string)
}

/// The JSON published: within ntfy's limits, tagged with the event, opening the release notes
/// when tapped.
pub fn payload(message: &Message, topic: &str, priority: u8) -> Value {
    let title = webhook::truncate(message.title.trim(), TITLE_MAX);
    let body = match message.body.trim() {
        // ntfy would show "triggered" for an empty message.
        "" => title.clone(),
        body => webhook::shorten(body, MESSAGE_MAX, Measure::Utf8),
    };
    let mut payload = json!({
        "topic": topic,
        "title": title,
        "message": body,
        "priority": priority,
        "tags": tags(&message.data),
    });
    if let Some(link) = webhook::link(&message.data) {
        payload["click"] = json!(link);
    }
    payload
}

/// An emoji for the event (ntfy shows a tag that names one as the emoji), then the update's kind.
fn tags(data: &Value) -> Vec<&str> {
    let emoji = match data["event"].as_str() {
        Some("update-applied") => "white_check_mark",
        Some("update-failed") => "x",
        Some("rolled-back") => "leftwards_arrow_with_hook",
        _ => "package",
    };
    let mut tags = vec![emoji];
    if let Some(kind) = data["kind"].as_str() {
        tags.push(kind);
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CommonConfig;
    use crate::notify::Templates;
    use crate::notify::template::{self, Notice};

    fn config() -> NtfyConfig {
        NtfyConfig {
            topic: Some("SECRET-topic".into()),
            ..NtfyConfig::default()
        }
    }

    fn keys(config: NtfyConfig) -> Vec<String> {
        webhook::problem_keys(Ntfy::new(&config))
    }

    fn auth(user: Option<&str>, password: Option<&str>, token: Option<&str>) -> NtfyAuthConfig {
        NtfyAuthConfig {
            user: user.map(str::to_string),
            password: password.map(Secret::new),
            token: token.map(Secret::new),
        }
    }

    fn simple(notice: Notice<'_>) -> Message {
        Templates::new(TEMPLATES, &CommonConfig::default())
            .unwrap()
            .simple(template::simple_data(notice))
            .unwrap()
    }

    #[test]
    fn every_problem_is_reported_by_key() {
        assert_eq!(keys(NtfyConfig::default()), ["topic"]);
        assert_eq!(
            keys(NtfyConfig {
                url: Some("ntfy.example.com".into()),
                topic: Some("has space".into()),
                priority: Some(0),
                auth: auth(Some("u"), None, Some("tk_1")),
                ..NtfyConfig::default()
            }),
            ["url", "topic", "priority", "auth.token"]
        );
        assert_eq!(
            keys(NtfyConfig {
                url: Some("https://ntfy.example.com/SECRET-topic".into()),
                priority: Some(6),
                ..config()
            }),
            ["url", "priority"]
        );
        let ntfy = Ntfy::new(&NtfyConfig {
            auth: auth(None, None, Some("tk_SECRET")),
            ..config()
        })
        .unwrap();
        assert!(!format!("{ntfy:?}").contains("SECRET"), "{ntfy:?}");
        assert_eq!(ntfy.url.as_str(), "https://ntfy.sh/");
        assert_eq!(ntfy.priority, DEFAULT_PRIORITY);
    }

    #[test]
    fn topics_are_ntfys_names() {
        assert!(is_topic("tidewatch-updates_2"));
        assert!(is_topic(&"a".repeat(64)));
        for bad in ["", "a b", "a/b", "ä", &"a".repeat(65)] {
            assert!(!is_topic(bad), "{bad:?}");
        }
    }

    #[test]
    fn auth_is_a_token_or_a_user_with_a_password() {
        assert_eq!(authorization(&auth(None, None, None)), Ok(None));
        assert_eq!(
            authorization(&auth(None, None, Some(" tk_abc ")))
                .unwrap()
                .unwrap(),
            "Bearer tk_abc"
        );
        // base64("tide:s3cret:pass")
        assert_eq!(
            authorization(&auth(Some("tide"), Some("s3cret:pass"), None))
                .unwrap()
                .unwrap(),
            "Basic dGlkZTpzM2NyZXQ6cGFzcw=="
        );
        let key = |a: NtfyAuthConfig| webhook::problem_keys(authorization(&a));
        assert_eq!(key(auth(None, None, Some(" "))), ["auth.token"]);
        assert_eq!(key(auth(Some("u"), Some("p"), Some("t"))), ["auth.token"]);
        assert_eq!(key(auth(None, Some("p"), None)), ["auth.user"]);
        assert_eq!(key(auth(Some("u"), None, None)), ["auth.password"]);
        assert_eq!(key(auth(Some("a:b"), Some("p"), None)), ["auth.user"]);
    }

    #[test]
    fn a_simple_message_is_tagged_and_opens_its_link() {
        let c = template::sample_candidate();
        let sent = payload(&simple(Notice::Available(&c)), "updates", 4);
        assert_eq!(
            sent,
            json!({
                "topic": "updates",
                "title": "Update available: web 1.25.3 → 1.25.4",
                "message": "web on local: 1.25.3 → 1.25.4 (patch update)\nImage: nginx:1.25.3",
                "priority": 4,
                "tags": ["package", "patch"],
                "click": "https://example.com/releases/1.25.4",
            })
        );
        let failed = payload(&simple(Notice::Failed(&c, "pull denied")), "updates", 3);
        assert_eq!(failed["tags"], json!(["x", "patch"]));
        assert!(
            failed["message"]
                .as_str()
                .unwrap()
                .ends_with("Reason: pull denied")
        );
        let applied = payload(&simple(Notice::Applied(&c)), "updates", 3);
        assert_eq!(applied["tags"][0], "white_check_mark");
    }

    #[test]
    fn a_batch_has_no_click_and_long_messages_are_cut_to_4096_bytes() {
        let message = Message {
            title: "é".repeat(300),
            body: "• app: 1.0 → 2.0 (major) ✓\n".repeat(300),
            data: json!({ "event": "batch", "count": 300 }),
            updates: Vec::new(),
        };
        let sent = payload(&message, "updates", 3);
        assert_eq!(sent.get("click"), None);
        assert_eq!(sent["tags"], json!(["package"]));
        assert_eq!(sent["title"].as_str().unwrap().chars().count(), TITLE_MAX);
        let body = sent["message"].as_str().unwrap();
        assert!(body.len() <= MESSAGE_MAX, "{}", body.len());
        assert!(body.ends_with("✓\n…"), "cut at a line end");
        let empty = Message {
            title: "Only a title".into(),
            body: " ".into(),
            data: json!({}),
            updates: Vec::new(),
        };
        assert_eq!(payload(&empty, "t", 3)["message"], "Only a title");
    }

    #[test]
    fn refusals_quote_ntfys_error_but_never_the_topic() {
        let status = |n| StatusCode::from_u16(n).unwrap();
        let secrets = ["SECRET-topic"];
        assert_eq!(
            refusal(
                status(403),
                br#"{"code":40301,"http":403,"error":"forbidden"}"#,
                &secrets
            ),
            Some("forbidden".into())
        );
        assert_eq!(
            refusal(
                status(400),
                br#"{"code":40010,"http":400,"error":"invalid topic SECRET-topic"}"#,
                &secrets
            ),
            None
        );
        assert_eq!(refusal(status(502), b"<html>", &secrets), None);
        assert_eq!(refusal(status(200), br#"{"error":"x"}"#, &secrets), None);
    }
}
