//! The health gate: a new container counts as working only once it has shown it. With a health
//! check (its own or its image's), that is `healthy` before the timeout; without one, staying up
//! — not exited, not restarting — for the settle time. Anything else is a reason to roll back.

use crate::docker::Engine;
use std::time::Duration;
use tokio::time::Instant;

/// The lines of a failed container's log that go into the reason.
const LOG_LINES: usize = 5;

/// Between two looks at the new container.
const POLL: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gate {
    /// How long a container with a health check has to become healthy.
    pub health_timeout: Duration,
    /// How long a container without one has to stay up.
    pub settle: Duration,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            health_timeout: Duration::from_secs(60),
            settle: Duration::from_secs(5),
        }
    }
}

impl Gate {
    /// `Ok` when container `id` passed; otherwise why not, in words for the history.
    pub async fn pass(&self, engine: &Engine, id: &str, health_check: bool) -> Result<(), String> {
        let start = Instant::now();
        // A second early: the engine's event times are whole seconds.
        let since = chrono::Utc::now().timestamp() - 1;
        loop {
            let state = engine
                .health(id)
                .await
                .map_err(|err| format!("cannot watch the new container: {err}"))?;
            let restarting = state.restarting || state.restart_count > 0;
            if restarting || !state.running {
                // Restarted, it runs again and its state says exit code 0: the engine's
                // events tell what it died with. Stopped, its state does.
                let code = match engine.last_exit_code(id, since).await {
                    Some(code) => Some(code),
                    None if !state.running => state.exit_code,
                    None => None,
                };
                let exit = code
                    .map(|code| format!(" (exit code {code})"))
                    .unwrap_or_default();
                let what = if restarting {
                    "keeps restarting"
                } else {
                    "stopped"
                };
                let tail = engine.log_tail(id, LOG_LINES).await;
                let said = if tail.is_empty() {
                    String::new()
                } else {
                    format!("; its last lines: {}", tail.join(" | "))
                };
                return Err(format!("the new container {what}{exit}{said}"));
            }
            if health_check {
                match state.health.as_deref() {
                    Some("healthy") => return Ok(()),
                    Some("unhealthy") => {
                        return Err("the new container's health check failed".into());
                    }
                    _ if start.elapsed() >= self.health_timeout => {
                        return Err(format!(
                            "the new container was not healthy within {} s",
                            self.health_timeout.as_secs()
                        ));
                    }
                    _ => {}
                }
            } else if start.elapsed() >= self.settle {
                return Ok(());
            }
            tokio::time::sleep(POLL).await;
        }
    }
}
