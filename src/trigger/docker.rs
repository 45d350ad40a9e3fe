//! The docker trigger: applies updates in place, through the executor of `crate::update`.
//!
//! It listens like a notifier but acts: for each update that passes its filters (threshold,
//! include/exclude, the container's `trigger.include`/`exclude` labels) and whose container is
//! not `monitor-only`, it re-creates the container on the new image. One update at a time, in
//! the order found (Watchtower's rolling restart), inline in the listener, so that when the
//! listener has seen an event every update found before it is finished: `run --once` relies on
//! that through [`Event::Barrier`]. What it did goes on the bus as `UpdateApplied`,
//! `RolledBack` or `UpdateFailed`, where the store and the notifiers see it.

use super::filter::Filter;
use super::{BuildProblem, TriggerId};
use crate::bus::{Event, Subscriber, WeakBus};
use crate::config::{CommonConfig, DockerTriggerConfig, WatcherConfig};
use crate::docker::Engine;
use crate::labels;
use crate::model::UpdateCandidate;
use crate::registry::RegistryClient;
use crate::update::{self, Gate, Outcome};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

pub struct DockerTrigger {
    id: TriggerId,
    filter: Filter,
    options: update::Options,
    auto: bool,
    /// Set by `tidewatch update`: act on these containers (all with updates when empty),
    /// whatever `auto` says.
    forced: std::sync::OnceLock<Vec<String>>,
    /// The last barrier the listener passed.
    passed: watch::Sender<u64>,
}

/// Why the trigger would not update a container, for `tidewatch plan` and the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Declined {
    Filtered,
    MonitorOnly,
    BadLabels,
    NotAuto,
}

impl std::fmt::Display for Declined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Declined::Filtered => "outside the trigger's threshold or include/exclude",
            Declined::MonitorOnly => "monitor-only",
            Declined::BadLabels => "its labels cannot be read",
            Declined::NotAuto => "auto is off: waits for `tidewatch update`",
        })
    }
}

impl std::fmt::Debug for DockerTrigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerTrigger")
            .field("id", &self.id)
            .finish()
    }
}

/// What the trigger needs from the rest of the daemon.
#[derive(Clone)]
pub struct Context {
    pub bus: WeakBus,
    pub watchers: BTreeMap<String, WatcherConfig>,
    pub registry: Arc<RegistryClient>,
    /// Where each step of an update is written before it is taken.
    pub journal: Arc<dyn update::journal::Journal>,
}

impl DockerTrigger {
    pub fn new(name: &str, config: &DockerTriggerConfig) -> Result<Self, Vec<BuildProblem>> {
        let filter = Filter::new(&CommonConfig {
            threshold: config.threshold,
            include: config.include.clone(),
            exclude: config.exclude.clone(),
            ..CommonConfig::default()
        })?;
        Ok(DockerTrigger {
            id: TriggerId {
                kind: "docker",
                name: name.to_string(),
            },
            filter,
            options: update::Options {
                stop_timeout: config.stoptimeout,
                gate: Gate {
                    health_timeout: Duration::from_secs(config.healthtimeout.max(1)),
                    settle: Duration::from_secs(config.settle),
                },
                cleanup: config.prune,
                remove_volumes: config.removevolumes,
            },
            auto: config.auto,
            forced: std::sync::OnceLock::new(),
            passed: watch::Sender::new(0),
        })
    }

    /// The trigger `tidewatch update` uses when none is configured: default options.
    pub fn command_line() -> Self {
        let mut trigger = DockerTrigger::new("cli", &DockerTriggerConfig::default())
            .expect("the default docker trigger options are valid");
        trigger.auto = false;
        trigger
    }

    /// Makes the trigger update `names` (every container with an update when empty) however
    /// `auto` is set. For `tidewatch update`; once.
    pub fn force(&self, names: Vec<String>) {
        let _ = self.forced.set(names);
    }

    pub fn id(&self) -> &TriggerId {
        &self.id
    }

    /// Resolves once the listener has passed barrier `n`: every update found before it is done.
    pub fn barrier(&self, n: u64) -> impl Future<Output = ()> + use<> {
        let mut passed = self.passed.subscribe();
        async move {
            let _ = passed.wait_for(|&seen| seen >= n).await;
        }
    }

    /// Whether this trigger acts on `candidate`, and if not, why.
    pub fn wants(&self, candidate: &UpdateCandidate) -> Result<(), Declined> {
        let forced = self.forced.get();
        if let Some(names) = forced
            && !names.is_empty()
            && !names.contains(&candidate.container.name)
        {
            return Err(Declined::Filtered);
        }
        if !self
            .filter
            .allows(&self.id, &candidate.container, candidate.kind)
        {
            return Err(Declined::Filtered);
        }
        match labels::read(&candidate.container.labels) {
            Ok(labels) if labels.monitor_only == Some(true) => return Err(Declined::MonitorOnly),
            Ok(_) => {}
            Err(_) => return Err(Declined::BadLabels),
        }
        if !self.auto && forced.is_none() {
            return Err(Declined::NotAuto);
        }
        Ok(())
    }

    pub async fn run(self: Arc<Self>, mut events: Subscriber, context: Context) {
        while let Some(event) = events.recv().await {
            match event.as_ref() {
                Event::UpdateAvailable(candidate) => match self.wants(candidate) {
                    Ok(()) => self.apply(candidate, &context).await,
                    Err(why) => {
                        tracing::debug!(trigger = %self.id, container = %candidate.container.name, why = %why, "Not updating.")
                    }
                },
                Event::Barrier(n) => {
                    self.passed.send_replace(*n);
                }
                _ => {}
            }
        }
    }

    async fn apply(&self, candidate: &UpdateCandidate, context: &Context) {
        let watcher = &candidate.container.watcher;
        let outcome = match context.watchers.get(watcher) {
            None => Outcome::Failed {
                reason: format!("no watcher {watcher}"),
            },
            Some(config) => match Engine::connect(watcher, config).await {
                Err(err) => Outcome::Failed {
                    reason: err.to_string(),
                },
                Ok(engine) => {
                    let credential = match context.registry.pull_credential(&candidate.target).await
                    {
                        Ok(credential) => credential,
                        Err(err) => {
                            tracing::warn!(trigger = %self.id, error = %err, "No registry login for the pull; trying anonymously.");
                            None
                        }
                    };
                    update::update(
                        &engine,
                        candidate,
                        credential.as_ref(),
                        &self.options,
                        context.journal.as_ref(),
                    )
                    .await
                }
            },
        };
        let event = match outcome {
            Outcome::Applied { new_id } => Event::UpdateApplied {
                candidate: candidate.clone(),
                new_container_id: new_id,
            },
            Outcome::RolledBack { reason } => Event::RolledBack {
                candidate: candidate.clone(),
                reason,
            },
            Outcome::Failed { reason } | Outcome::Broken { reason } => Event::UpdateFailed {
                candidate: candidate.clone(),
                reason,
            },
        };
        context.bus.publish(event);
    }
}
