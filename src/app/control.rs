//! What the HTTP server may ask of the running daemon (`server::Control`): check now, run a
//! trigger for one container, update by image, check what a registry push concerns. Each runs
//! beside the schedule on the daemon's own bus, registry client and triggers, so what it finds
//! and does is stored, counted and notified like any scheduled check.

use crate::bus::{Bus, Event, Subscriber};
use crate::config::{DockerTriggerConfig, Loaded, WatcherConfig};
use crate::docker::Engine;
use crate::model::ImageRef;
use crate::registry::RegistryClient;
use crate::server::{Asked, Control, ControlError, Target};
use crate::store::Store;
use crate::trigger::Claims;
use crate::update::trigger::DockerTrigger;
use crate::watch::watcher;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a registry push waits for more pushes of the same repository (a CI job pushing
/// several tags) before the check it asks for.
const PUSH_QUIET: Duration = Duration::from_millis(500);

pub(super) struct DaemonControl {
    watchers: BTreeMap<String, WatcherConfig>,
    docker: BTreeMap<String, DockerTriggerConfig>,
    /// The docker triggers running on the bus, to wait for what they do.
    running: Vec<Arc<DockerTrigger>>,
    claims: Vec<Arc<dyn Claims>>,
    trigger_ids: Vec<String>,
    client: Arc<RegistryClient>,
    bus: Bus,
    store: Store,
    context: crate::update::Context,
    stopped: tokio::sync::watch::Receiver<bool>,
    /// Updates asked over HTTP run one at a time, as Watchtower's API does.
    updating: tokio::sync::Mutex<()>,
    /// Repositories a push asked to check, not yet checked: later pushes join them.
    pushed: Mutex<std::collections::BTreeSet<String>>,
    me: std::sync::Weak<DaemonControl>,
}

impl DaemonControl {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        loaded: &Loaded,
        triggers: &super::Triggers,
        client: Arc<RegistryClient>,
        bus: &Bus,
        store: &Store,
        stopped: tokio::sync::watch::Receiver<bool>,
    ) -> Arc<Self> {
        Arc::new_cyclic(|me| DaemonControl {
            watchers: loaded.config.watcher.clone(),
            docker: loaded.config.trigger.docker.clone(),
            running: triggers.docker.clone(),
            claims: triggers.claims(),
            trigger_ids: triggers.ids(),
            context: crate::update::Context {
                bus: bus.weak(),
                watchers: loaded.config.watcher.clone(),
                registry: client.clone(),
                journal: super::journal(store, loaded),
            },
            client,
            bus: bus.clone(),
            store: store.clone(),
            stopped,
            updating: tokio::sync::Mutex::new(()),
            pushed: Mutex::new(Default::default()),
            me: me.clone(),
        })
    }

    /// Only the watcher the API named: a container of the same name on another host is not
    /// the one asked about.
    fn watchers_of(&self, target: &Target) -> BTreeMap<String, WatcherConfig> {
        self.watchers
            .iter()
            .filter(|(name, _)| **name == target.watcher)
            .map(|(name, config)| (name.clone(), config.clone()))
            .collect()
    }

    fn asked<'a>(&self, target: &'a Target, asked: &'a Asked) -> super::Asked<'a> {
        super::Asked {
            name: &target.name,
            by: &asked.by,
            why: asked.reason.as_deref(),
        }
    }

    /// `work`, unless the daemon stops first.
    async fn unless_stopped<T>(&self, work: impl Future<Output = T>) -> Result<T, ControlError> {
        let mut stopped = self.stopped.clone();
        tokio::select! {
            done = work => Ok(done),
            _ = stopped.wait_for(|stop| *stop) => Err(ControlError::Failed("the daemon is stopping".into())),
        }
    }

    fn watcher(&self, name: &str) -> Result<&WatcherConfig, ControlError> {
        self.watchers
            .get(name)
            .ok_or_else(|| ControlError::NotFound(format!("no watcher {name}")))
    }

    /// Checks one container and publishes what it found.
    async fn check_one(&self, target: &Target) -> Result<(), ControlError> {
        let watcher = self.watcher(&target.watcher)?;
        let engine = Engine::connect(&target.watcher, watcher)
            .await
            .map_err(|err| ControlError::Failed(err.to_string()))?;
        let holds = super::holds(&self.store).await;
        // By ID first; by name when an update or rollback gave the container a new ID that the
        // store has not seen yet (the engine resolves a name as well as an ID).
        let mut found = None;
        for id in [&target.id, &target.name] {
            found = watcher::check_container(&engine, watcher, id, &self.client, &self.bus, &holds)
                .await
                .map_err(|err| ControlError::Failed(err.to_string()))?;
            if found.is_some() {
                break;
            }
        }
        match found {
            Some(_) => Ok(()),
            None => Err(ControlError::NotFound(format!(
                "container {} is gone or not watched",
                target.name
            ))),
        }
    }

    /// Runs `check` with a docker trigger that updates `names` (every container with an update
    /// when empty) whatever its `auto`, and waits until it is done. Returns what happened to
    /// each container updated.
    async fn apply_now(
        &self,
        trigger: Option<&str>,
        names: Vec<String>,
        check: impl Future<Output = Result<(), ControlError>>,
    ) -> Result<Vec<(String, Result<(), String>)>, ControlError> {
        let configured = match trigger {
            Some(name) => Some((
                name.to_string(),
                self.docker
                    .get(name)
                    .cloned()
                    .ok_or_else(|| ControlError::NotFound(format!("no trigger docker.{name}")))?,
            )),
            None => self
                .docker
                .iter()
                .next()
                .map(|(n, c)| (n.clone(), c.clone())),
        };
        // A configured trigger on auto updates what the check finds by itself; a second one
        // beside it would race it for the same container.
        let forced = match &configured {
            Some((_, config)) if config.auto => None,
            Some((name, config)) => Some(DockerTrigger::new(name, config).map_err(|_| {
                ControlError::Failed(format!("trigger docker.{name} cannot be built"))
            })?),
            None => Some(DockerTrigger::command_line()),
        };
        let mut outcomes = self.bus.subscribe("api");
        let forced = forced.map(|trigger| {
            let trigger = Arc::new(trigger);
            trigger.force(names.clone());
            trigger.leave_to(self.claims.clone());
            let events = self.bus.subscribe(format!("{}-api", trigger.id()));
            let task = tokio::spawn(trigger.clone().run(events, self.context.clone()));
            (trigger, task)
        });
        let result = self
            .unless_stopped(async {
                check.await?;
                let n = super::next_barrier();
                let mut waits: Vec<std::pin::Pin<Box<dyn Future<Output = ()> + Send>>> = self
                    .running
                    .iter()
                    .map(|t| Box::pin(t.barrier(n)) as _)
                    .collect();
                if let Some((trigger, _)) = &forced {
                    waits.push(Box::pin(trigger.barrier(n)));
                }
                self.bus.publish(Event::Barrier(n));
                futures_util::future::join_all(waits).await;
                Ok(())
            })
            .await;
        if let Some((_, task)) = forced {
            task.abort();
        }
        result??;
        Ok(drain_outcomes(&mut outcomes, &names))
    }
}

/// What the docker triggers reported so far, for the containers in `names` (all when empty).
fn drain_outcomes(events: &mut Subscriber, names: &[String]) -> Vec<(String, Result<(), String>)> {
    use futures_util::FutureExt;
    let mut done = Vec::new();
    while let Some(Some(event)) = events.recv().now_or_never() {
        let (candidate, result) = match event.as_ref() {
            Event::UpdateApplied { candidate, .. } => (candidate, Ok(())),
            Event::UpdateSkipped { candidate, .. } => (candidate, Ok(())),
            Event::UpdateFailed { candidate, reason } => {
                (candidate, Err(format!("update failed: {reason}")))
            }
            Event::RolledBack { candidate, reason } => {
                (candidate, Err(format!("rolled back: {reason}")))
            }
            _ => continue,
        };
        if names.is_empty() || names.contains(&candidate.container.name) {
            done.push((candidate.container.name.clone(), result));
        }
    }
    done
}

/// Whether `image` (as a container was created with it) is of `repository` (normalised, or
/// as the user wrote it: `nginx`, `library/nginx`, `docker.io/library/nginx`).
pub(super) fn same_repository(image: &str, repository: &str) -> bool {
    let Ok(image) = ImageRef::parse(image) else {
        return false;
    };
    match ImageRef::parse(repository) {
        Ok(wanted) => wanted.registry == image.registry && wanted.repository == image.repository,
        Err(_) => false,
    }
}

#[async_trait::async_trait]
impl Control for DaemonControl {
    async fn rollback(&self, target: &Target, asked: &Asked) -> Result<Vec<String>, ControlError> {
        // One at a time with the updates asked over HTTP: both replace containers.
        let _one = self.updating.lock().await;
        let options = match self.running.first() {
            Some(trigger) => trigger.options().clone(),
            None => DockerTrigger::command_line().options().clone(),
        };
        let watchers = self.watchers_of(target);
        let scene = super::rollback::Scene {
            watchers: &watchers,
            client: &self.client,
            journal: self.context.journal.clone(),
        };
        let bus = self.bus.weak();
        let work = super::roll_back(
            &scene,
            &self.store,
            &bus,
            &options,
            self.asked(target, asked),
            asked.to.as_deref(),
        );
        self.unless_stopped(work)
            .await?
            .map_err(|err| ControlError::Failed(format!("{err:#}")))
    }

    async fn hold(&self, target: &Target, asked: &Asked) -> Result<Vec<String>, ControlError> {
        let watchers = self.watchers_of(target);
        super::hold_container(
            &watchers,
            &self.store,
            &self.bus.weak(),
            self.asked(target, asked),
            asked.to.as_deref(),
        )
        .await
        .map_err(|err| ControlError::Failed(format!("{err:#}")))
    }

    async fn release(&self, target: &Target, asked: &Asked) -> Result<Vec<String>, ControlError> {
        super::release_container(&self.store, &self.bus.weak(), self.asked(target, asked))
            .await
            .map_err(|err| ControlError::Failed(format!("{err:#}")))
    }

    async fn check_all(&self) -> Result<(), ControlError> {
        let holds = super::holds(&self.store).await;
        let outcome = self
            .unless_stopped(watcher::cycle(
                &self.watchers,
                &self.client,
                &self.bus,
                &holds,
            ))
            .await?;
        match outcome.errors.first() {
            Some(err) => Err(ControlError::Failed(err.to_string())),
            None => Ok(()),
        }
    }

    async fn check_container(&self, target: &Target) -> Result<(), ControlError> {
        self.unless_stopped(self.check_one(target)).await?
    }

    async fn run_trigger(
        &self,
        kind: &str,
        name: &str,
        target: &Target,
    ) -> Result<(), ControlError> {
        if !self
            .trigger_ids
            .iter()
            .any(|id| id == &format!("{kind}.{name}"))
        {
            return Err(ControlError::NotFound("Trigger not found".into()));
        }
        if kind != "docker" {
            return Err(ControlError::Refused(format!(
                "trigger {kind}.{name} runs on its own when an update is found; only docker triggers can be run by hand"
            )));
        }
        let _one_at_a_time = self.updating.lock().await;
        let done = self
            .apply_now(
                Some(name),
                vec![target.name.clone()],
                self.check_one(target),
            )
            .await?;
        match done.into_iter().find(|(n, _)| n == &target.name) {
            Some((_, Ok(()))) => Ok(()),
            Some((_, Err(why))) => Err(ControlError::Failed(why)),
            None => Err(ControlError::Refused(format!(
                "no update for {} (up to date, or not the trigger's to apply)",
                target.name
            ))),
        }
    }

    async fn update_images(&self, images: Option<Vec<String>>) -> Result<(), ControlError> {
        let _one_at_a_time = self.updating.lock().await;
        let names = match &images {
            None => Vec::new(),
            Some(images) => {
                let known = self
                    .store
                    .blocking(|s| s.containers())
                    .await
                    .map_err(|err| ControlError::Failed(err.to_string()))?;
                let mut names: Vec<String> = known
                    .into_iter()
                    .filter(|c| images.iter().any(|i| same_repository(&c.image, i)))
                    .map(|c| c.name)
                    .collect();
                if names.is_empty() {
                    // Not checked yet (no scheduled polls, as Watchtower's update API has it):
                    // a check says which containers run them.
                    let holds = super::holds(&self.store).await;
                    let outcome = self
                        .unless_stopped(watcher::cycle(
                            &self.watchers,
                            &self.client,
                            &self.bus,
                            &holds,
                        ))
                        .await?;
                    names = outcome
                        .listing
                        .containers
                        .into_iter()
                        .filter(|c| images.iter().any(|i| same_repository(&c.image, i)))
                        .map(|c| c.name)
                        .collect();
                }
                if names.is_empty() {
                    return Ok(());
                }
                names
            }
        };
        let check = async {
            let holds = super::holds(&self.store).await;
            let outcome = watcher::cycle(&self.watchers, &self.client, &self.bus, &holds).await;
            match outcome.errors.first() {
                Some(err) => Err(ControlError::Failed(err.to_string())),
                None => Ok(()),
            }
        };
        let done = self.apply_now(None, names, check).await?;
        let failed: Vec<String> = done
            .into_iter()
            .filter_map(|(name, r)| r.err().map(|why| format!("{name}: {why}")))
            .collect();
        if failed.is_empty() {
            Ok(())
        } else {
            Err(ControlError::Failed(failed.join("; ")))
        }
    }

    async fn check_repository(&self, repository: &str) -> Result<usize, ControlError> {
        let known = self
            .store
            .blocking(|s| s.containers())
            .await
            .map_err(|err| ControlError::Failed(err.to_string()))?;
        let targets: Vec<Target> = known
            .into_iter()
            .filter(|c| same_repository(&c.image, repository))
            .map(|c| Target {
                watcher: c.watcher,
                name: c.name,
                id: c.id,
            })
            .collect();
        let count = targets.len();
        if count == 0 {
            return Ok(0);
        }
        let fresh = self
            .pushed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(repository.to_string());
        let Some(me) = self.me.upgrade() else {
            return Ok(count);
        };
        if fresh {
            let repository = repository.to_string();
            tokio::spawn(async move {
                tokio::time::sleep(PUSH_QUIET).await;
                me.pushed
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&repository);
                tracing::info!(repository = %repository, containers = targets.len(), "Registry push; checking its containers.");
                let check = async {
                    for target in &targets {
                        if let Err(err) = me.check_one(target).await {
                            tracing::warn!(container = %target.name, error = %err, "Pushed image's container not checked.");
                        }
                    }
                };
                let _ = me.unless_stopped(check).await;
                // Close the docker triggers' batches now rather than after their wait.
                let n = super::next_barrier();
                me.bus.publish(Event::Barrier(n));
            });
        }
        Ok(count)
    }
}
