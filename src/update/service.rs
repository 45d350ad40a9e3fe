//! The executor for Swarm services: an update is Swarm's own rolling update, not a re-create.
//!
//! tidewatch changes one thing in the service's spec, the image (the new tag pinned to the
//! digest the check found, so every node runs the same image however the tag moves meanwhile),
//! and lets Swarm roll it out under the service's own `UpdateConfig`: parallelism, delay,
//! order (stop-first or start-first), monitor period and failure action. Swarm's rollback is
//! the health gate: with `FailureAction=rollback`, a task that fails within the monitor period
//! puts the whole service back on its previous spec. tidewatch waits for Swarm to finish and
//! reports what it did: `completed` is applied, `rollback_completed` rolled back, `paused` (the
//! service's failure action is `pause`, Docker's default) failed, the service left paused as
//! its owner asked. Re-creating task containers behind Swarm's back, as Watchtower does, only
//! makes Swarm replace them again.

use crate::docker::Engine;
use crate::docker::swarm::{UpdateStarted, UpdateState, UpdateStatus};
use crate::model::{ContainerInfo, UpdateCandidate};
use crate::registry::credentials::Credential;
use crate::update::{Gate, Outcome, new_image};
use std::time::Duration;
use tokio::time::Instant;

/// Between two looks at the update's progress.
const POLL: Duration = Duration::from_millis(500);

/// What one batch of tasks may take besides the service's own delay and monitor period: a pull
/// on a node and the start of a task.
const BATCH_ALLOWANCE: Duration = Duration::from_secs(60);

/// Moves service `candidate` to its target image through Swarm and waits until Swarm is done.
/// `credential` goes to Swarm, which forwards it to every node that pulls the image.
pub async fn update(
    engine: &Engine,
    candidate: &UpdateCandidate,
    credential: Option<&Credential>,
    gate: &Gate,
) -> Outcome {
    let service = &candidate.container;
    let image = pinned_image(candidate);
    tracing::info!(service = %service.name, image = %image, "Updating the service through Swarm.");
    let started = match engine
        .update_service_image(&service.id, &image, credential)
        .await
    {
        Ok(started) => started,
        Err(err) => {
            return Outcome::Failed {
                reason: format!("Swarm refused the update: {err}"),
            };
        }
    };
    // Nothing to roll out: Swarm keeps the new spec for when the service is scaled up.
    if started.tasks == 0 {
        tracing::info!(service = %service.name, image = %image, "Service updated; it runs no task.");
        return Outcome::Applied {
            new_id: service.id.clone(),
        };
    }
    let outcome = match finish(engine, &service.id, &started, gate).await {
        Ok(status) => outcome(&service.id, status),
        Err(reason) => Outcome::Failed { reason },
    };
    match &outcome {
        Outcome::Applied { .. } => {
            tracing::info!(service = %service.name, image = %image, "Service updated.")
        }
        Outcome::RolledBack { reason } => {
            tracing::warn!(service = %service.name, reason = %reason, "Service rolled back by Swarm.")
        }
        other => {
            tracing::error!(service = %service.name, outcome = ?other, "Service update did not complete.")
        }
    }
    outcome
}

/// Puts a service back on the spec it ran before its last update, through Swarm's own
/// rollback (`docker service rollback`), and waits until Swarm is done: `Ok` once every task
/// runs the previous spec, otherwise why not. For `tidewatch rollback NAME` on a service:
/// Swarm keeps the previous spec, image and login included, so nothing is pulled by name here.
pub async fn rollback(engine: &Engine, service: &ContainerInfo, gate: &Gate) -> Result<(), String> {
    let started = engine
        .rollback_service(&service.id)
        .await
        .map_err(|err| format!("Swarm refused the rollback: {err}"))?;
    if started.tasks == 0 {
        return Ok(());
    }
    let status = finish(engine, &service.id, &started, gate).await?;
    match status.state {
        UpdateState::RollbackCompleted => {
            tracing::info!(service = %service.name, "Service rolled back through Swarm.");
            Ok(())
        }
        _ => Err(format!(
            "Swarm's rollback ended {}: {}",
            status.state.word(),
            status.message
        )),
    }
}

/// Waits until Swarm has taken up the request `started` answers and finished it, one way or
/// the other; an error when its progress cannot be read or it takes longer than [`patience`].
async fn finish(
    engine: &Engine,
    id: &str,
    started: &UpdateStarted,
    gate: &Gate,
) -> Result<UpdateStatus, String> {
    let patience = patience(started, gate);
    let deadline = Instant::now() + patience;
    loop {
        let status = engine.service_update_status(id).await.map_err(|err| {
            format!("the update was handed to Swarm, but its progress cannot be read: {err}")
        })?;
        if let Some(status) = status.filter(|s| is_new(s, started.before.as_ref()))
            && status.state.finished()
        {
            return Ok(status);
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "Swarm had not finished after {}s; it goes on without tidewatch",
                patience.as_secs()
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The new tag, pinned to the digest the check found when there is one: what Swarm itself
/// writes, and what makes every node pull the same image.
fn pinned_image(candidate: &UpdateCandidate) -> String {
    let tagged = new_image(candidate);
    match &candidate.digest {
        Some(digest) => format!("{tagged}@{digest}"),
        None => tagged,
    }
}

/// A status belongs to this update when it started after the one the service showed before
/// (Swarm takes an update up asynchronously: for a moment the old status is still there).
fn is_new(status: &UpdateStatus, before: Option<&UpdateStatus>) -> bool {
    before.is_none_or(|before| status.started_at != before.started_at)
}

/// How long Swarm may take: every batch of tasks its delay, monitor period and an allowance to
/// pull and start, or the trigger's health timeout if longer; twice, for a rollback after a
/// failure in the last batch.
fn patience(started: &UpdateStarted, gate: &Gate) -> Duration {
    let config = &started.config;
    let batches = match config.parallelism {
        0 => 1,
        n => started.tasks.div_ceil(n).max(1),
    };
    let batch = config.delay + config.monitor + BATCH_ALLOWANCE.max(gate.health_timeout);
    let batches = u32::try_from(batches).unwrap_or(u32::MAX);
    batch.saturating_mul(batches).saturating_mul(2)
}

fn outcome(service_id: &str, status: UpdateStatus) -> Outcome {
    let said = if status.message.is_empty() {
        String::new()
    } else {
        format!(": {}", status.message)
    };
    match status.state {
        UpdateState::Completed => Outcome::Applied {
            new_id: service_id.to_string(),
        },
        UpdateState::RollbackCompleted => Outcome::RolledBack {
            reason: format!("Swarm rolled the service back{said}"),
        },
        UpdateState::Paused => Outcome::Failed {
            reason: format!(
                "Swarm paused the update (the service's failure action){said}; \
                 `docker service rollback` puts it back"
            ),
        },
        UpdateState::RollbackPaused => Outcome::Broken {
            reason: format!("Swarm's rollback paused{said}"),
        },
        UpdateState::Updating | UpdateState::RollbackStarted => Outcome::Failed {
            reason: "Swarm had not finished the update".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker::swarm::RollingUpdate;
    use crate::model::{ContainerInfo, ImageRef, Kind, UpdateKind};

    fn status(state: UpdateState, started_at: &str) -> UpdateStatus {
        UpdateStatus {
            state,
            started_at: Some(started_at.into()),
            message: String::new(),
        }
    }

    #[test]
    fn the_status_of_the_previous_update_is_not_taken_for_this_ones() {
        let before = status(UpdateState::Completed, "2026-01-01T00:00:00Z");
        assert!(!is_new(&before.clone(), Some(&before)));
        let now = status(UpdateState::Completed, "2026-01-02T00:00:00Z");
        assert!(is_new(&now, Some(&before)));
        assert!(is_new(&now, None));
    }

    #[test]
    fn swarms_end_states_map_to_the_triggers_outcomes() {
        let end = |state| outcome("svc", status(state, "t"));
        assert_eq!(
            end(UpdateState::Completed),
            Outcome::Applied {
                new_id: "svc".into()
            }
        );
        assert!(matches!(
            end(UpdateState::RollbackCompleted),
            Outcome::RolledBack { .. }
        ));
        assert!(matches!(end(UpdateState::Paused), Outcome::Failed { .. }));
        assert!(matches!(
            end(UpdateState::RollbackPaused),
            Outcome::Broken { .. }
        ));
    }

    #[test]
    fn the_new_image_is_the_users_spelling_pinned_to_the_digest_found() {
        let digest = format!("sha256:{}", "b".repeat(64));
        let candidate = UpdateCandidate {
            container: ContainerInfo {
                kind: Kind::Service,
                ..ContainerInfo::example("127.0.0.1:5000/app:1.0.0")
            },
            current: ImageRef::parse("127.0.0.1:5000/app:1.0.0").unwrap(),
            target: ImageRef::parse("127.0.0.1:5000/app:1.1.0").unwrap(),
            digest: Some(digest.clone()),
            kind: UpdateKind::Minor,
            display_name: "web".into(),
            link: None,
        };
        assert_eq!(
            pinned_image(&candidate),
            format!("127.0.0.1:5000/app:1.1.0@{digest}")
        );
    }

    #[test]
    fn patience_grows_with_the_batches_swarm_rolls_through() {
        let started = |parallelism, tasks| UpdateStarted {
            config: RollingUpdate {
                parallelism,
                delay: Duration::from_secs(10),
                monitor: Duration::from_secs(5),
                failure_action: "rollback".into(),
            },
            tasks,
            before: None,
        };
        let gate = Gate::default();
        let one = patience(&started(0, 6), &gate);
        assert_eq!(patience(&started(6, 6), &gate), one);
        assert_eq!(patience(&started(2, 6), &gate), one * 3);
        assert_eq!(patience(&started(1, 0), &gate), one);
    }
}
