//! The `matrix` trigger: a text message to Matrix rooms through a homeserver's client API.
//!
//! ```sh
//! TIDEWATCH_TRIGGER_MATRIX_OPS_URL=https://matrix.example.org
//! TIDEWATCH_TRIGGER_MATRIX_OPS_USER=tidewatch
//! TIDEWATCH_TRIGGER_MATRIX_OPS_PASSWORD__FILE=/run/secrets/matrix_password
//! TIDEWATCH_TRIGGER_MATRIX_OPS_ROOMS=#ops:example.org
//! ```
//!
//! With `user` and `password` the trigger logs in once (`m.login.password`) and keeps the access
//! token; with `token` it uses that token. `rooms` (comma-separated room IDs `!…` or aliases
//! `#…`) are joined before each message is posted, as shoutrrr does; without `rooms`, every room
//! the account has joined gets it. Password and token are secrets, sent in a body or header,
//! never in a URL.

use super::template::{Defaults, shipped};
use super::webhook::{self, Problems};
use super::{Message, Notifier, TriggerError};
use crate::config::{MatrixConfig, Secret};
use crate::trigger::BuildProblem;
use async_trait::async_trait;
use reqwest::Url;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};

pub const TEMPLATES: Defaults = shipped!("matrix");

pub struct Matrix {
    client: reqwest::Client,
    /// The homeserver, `…/_matrix/client/v3`.
    api: Url,
    login: Option<(String, Secret)>,
    /// The configured token, or the one a login returned.
    token: tokio::sync::Mutex<Option<Secret>>,
    rooms: Vec<String>,
    /// For transaction IDs unique within this process's token.
    sent: AtomicU64,
}

/// Never a credential.
impl std::fmt::Debug for Matrix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matrix")
            .field("server", &self.api.host_str())
            .field("rooms", &self.rooms)
            .finish_non_exhaustive()
    }
}

impl Matrix {
    pub fn new(config: &MatrixConfig) -> Result<Self, Vec<BuildProblem>> {
        let mut problems = Problems::default();
        let api = problems.required("url", config.url.as_deref(), |url| {
            webhook::url("url", &Secret::new(url)).map(|mut url| {
                let path = url.path().trim_end_matches('/').to_string();
                url.set_path(&format!("{path}/_matrix/client/v3"));
                url
            })
        });
        let token = config
            .token
            .as_ref()
            .map(|t| Secret::new(t.expose().trim()))
            .filter(|t| !t.expose().is_empty());
        let login = match (&config.user, &config.password, &token) {
            (Some(user), Some(password), None) if !user.trim().is_empty() => {
                Some((user.trim().to_string(), password.clone()))
            }
            (_, _, Some(_)) => None,
            (None, _, None) => {
                problems.push(BuildProblem::new("token", "required, or user and password"));
                None
            }
            (Some(_), _, None) => {
                problems.push(BuildProblem::new("password", "required with user"));
                None
            }
        };
        let rooms: Vec<String> = config
            .rooms
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_string)
            .collect();
        if let Some(bad) = rooms.iter().find(|r| !r.starts_with(['!', '#'])) {
            let _ = bad;
            problems.push(BuildProblem::new(
                "rooms",
                "each room is an ID (!…) or an alias (#…)",
            ));
        }
        let client = problems.client(config.timeout);
        problems.finish(|| {
            Some(Matrix {
                client: client?,
                api: api?,
                login,
                token: tokio::sync::Mutex::new(token),
                rooms,
                sent: AtomicU64::new(0),
            })
        })
    }

    fn endpoint(&self, segments: &[&str]) -> Url {
        let mut url = self.api.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.extend(segments);
        }
        url
    }

    /// The access token: the configured one, or a login's, kept for the next messages.
    async fn token(&self) -> Result<Secret, TriggerError> {
        let mut token = self.token.lock().await;
        if let Some(token) = token.as_ref() {
            return Ok(token.clone());
        }
        let Some((user, password)) = &self.login else {
            return Err(TriggerError::Permanent("no Matrix credentials".into()));
        };
        let what = "Login to the Matrix homeserver";
        let request = self.client.post(self.endpoint(&["login"])).json(&json!({
            "type": "m.login.password",
            "identifier": { "type": "m.id.user", "user": user },
            "password": password.expose(),
        }));
        let reply = webhook::exchange(request, what).await?;
        let answer: Value = serde_json::from_slice(&reply.body).unwrap_or_default();
        webhook::check(what, reply.status, refusal(&answer, &[password.expose()]))?;
        let got = answer["access_token"]
            .as_str()
            .ok_or_else(|| TriggerError::Permanent(format!("{what}: no access token")))?;
        *token = Some(Secret::new(got));
        Ok(Secret::new(got))
    }

    async fn call(
        &self,
        what: &str,
        request: reqwest::RequestBuilder,
        token: &Secret,
    ) -> Result<Value, TriggerError> {
        let request = request.bearer_auth(token.expose());
        let reply = webhook::exchange(request, what).await?;
        let answer: Value = serde_json::from_slice(&reply.body).unwrap_or_default();
        if reply.status == reqwest::StatusCode::UNAUTHORIZED && self.login.is_some() {
            // A token the server forgot: log in again next time.
            *self.token.lock().await = None;
            return Err(TriggerError::Transient(format!(
                "{what} failed: the access token was refused"
            )));
        }
        webhook::check(what, reply.status, refusal(&answer, &[token.expose()]))?;
        Ok(answer)
    }
}

/// Matrix's `errcode` (`M_FORBIDDEN`), when it is a plain identifier.
fn refusal<'a>(answer: &'a Value, secrets: &[&str]) -> Option<&'a str> {
    answer["errcode"]
        .as_str()
        .and_then(|code| webhook::error_text(code, secrets))
}

#[async_trait]
impl Notifier for Matrix {
    async fn send(&self, message: &Message) -> Result<(), TriggerError> {
        let token = self.token().await?;
        let rooms: Vec<String> = if self.rooms.is_empty() {
            let answer = self
                .call(
                    "Listing the joined Matrix rooms",
                    self.client.get(self.endpoint(&["joined_rooms"])),
                    &token,
                )
                .await?;
            answer["joined_rooms"]
                .as_array()
                .map(|rooms| {
                    rooms
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        } else {
            let mut ids = Vec::new();
            for room in &self.rooms {
                let answer = self
                    .call(
                        "Joining a Matrix room",
                        self.client
                            .post(self.endpoint(&["join", room]))
                            .json(&json!({})),
                        &token,
                    )
                    .await?;
                let id = answer["room_id"].as_str().unwrap_or(room);
                ids.push(id.to_string());
            }
            ids
        };
        let text = match (message.title.trim(), message.body.trim()) {
            ("", body) => body.to_string(),
            (title, "") => title.to_string(),
            (title, body) => format!("{title}\n\n{body}"),
        };
        for room in rooms {
            let txn = format!(
                "tidewatch-{}-{}",
                std::process::id(),
                self.sent.fetch_add(1, Ordering::Relaxed)
            );
            let url = self.endpoint(&["rooms", &room, "send", "m.room.message", &txn]);
            let body = json!({ "msgtype": "m.text", "body": text });
            self.call(
                "Posting to a Matrix room",
                self.client.put(url).json(&body),
                &token,
            )
            .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_by_key() {
        assert_eq!(
            webhook::problem_keys(Matrix::new(&MatrixConfig::default())),
            ["url", "token"]
        );
        assert_eq!(
            webhook::problem_keys(Matrix::new(&MatrixConfig {
                url: Some("https://m.example.org".into()),
                user: Some("bot".into()),
                rooms: Some("ops".into()),
                ..MatrixConfig::default()
            })),
            ["password", "rooms"]
        );
        let built = Matrix::new(&MatrixConfig {
            url: Some("https://m.example.org/base/".into()),
            token: Some(Secret::new("SECRET-token")),
            rooms: Some("!abc:example.org, #ops:example.org".into()),
            ..MatrixConfig::default()
        })
        .unwrap();
        assert!(!format!("{built:?}").contains("SECRET"));
        assert_eq!(
            built.endpoint(&["join", "#ops:example.org"]).as_str(),
            "https://m.example.org/base/_matrix/client/v3/join/%23ops:example.org"
        );
    }
}
