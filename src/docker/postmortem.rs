//! Why a new container failed, in the words a user needs: the exit code it really died with,
//! and the last lines it wrote. A container that keeps restarting is running again (exit code
//! 0) by the time it is looked at, so its own state cannot say; the engine's `die` events can.

use super::Engine;
use bollard::query_parameters::{EventsOptions, LogsOptions};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::time::Duration;

/// Each look is bounded: the reason is worth a few seconds, not a stuck rollback.
const LOOK_TIMEOUT: Duration = Duration::from_secs(5);

/// At most this many characters of one log line go into a reason.
const LINE_MAX: usize = 200;

impl Engine {
    /// The exit code container `id` last died with since `since` (Unix seconds), from the
    /// engine's events; `None` when it has not died or the engine does not say.
    pub async fn last_exit_code(&self, id: &str, since: i64) -> Option<i64> {
        let until = chrono::Utc::now().timestamp() + 1;
        let options = EventsOptions {
            since: Some(since.to_string()),
            until: Some(until.to_string()),
            filters: Some(HashMap::from([
                ("container".to_string(), vec![id.to_string()]),
                ("event".to_string(), vec!["die".to_string()]),
            ])),
        };
        let mut events = std::pin::pin!(self.docker.events(Some(options)));
        let mut last = None;
        let _ = tokio::time::timeout(LOOK_TIMEOUT, async {
            while let Some(Ok(event)) = events.next().await {
                let code = event
                    .actor
                    .and_then(|actor| actor.attributes)
                    .and_then(|attributes| attributes.get("exitCode")?.parse().ok());
                if code.is_some() {
                    last = code;
                }
            }
        })
        .await;
        last
    }

    /// The last `lines` lines container `id` wrote (stdout and stderr), each cut to a bound;
    /// empty when they cannot be read.
    pub async fn log_tail(&self, id: &str, lines: usize) -> Vec<String> {
        let options = LogsOptions {
            stdout: true,
            stderr: true,
            tail: lines.to_string(),
            ..Default::default()
        };
        let mut stream = std::pin::pin!(self.docker.logs(id, Some(options)));
        let mut text = String::new();
        let _ = tokio::time::timeout(LOOK_TIMEOUT, async {
            while let Some(Ok(chunk)) = stream.next().await {
                text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
                if text.len() > lines * (LINE_MAX + 1) * 4 {
                    break;
                }
            }
        })
        .await;
        let all: Vec<String> = text
            .lines()
            .map(str::trim_end)
            .filter(|line| !line.is_empty())
            .map(|line| line.chars().take(LINE_MAX).collect())
            .collect();
        all[all.len().saturating_sub(lines)..].to_vec()
    }
}
