//! What `run`, `run --once` and `update` share: the store opened (and interrupted updates
//! recovered) before anything runs, the subscribers of the bus, and one cycle with all of them.

use crate::bus::{Bus, Event, Subscriber};
use crate::config::Loaded;
use crate::docker::Engine;
use crate::notify::runner;
use crate::registry::RegistryClient;
use crate::store::Store;
use crate::update::trigger as docker_trigger;

use crate::app::Triggers;
use crate::watch::watcher::{self, Outcome};
use std::sync::Arc;

use super::*;

/// What runs beside the watchers and lives off the bus: the log, the store, the triggers.
/// Each ends when the bus closes, after finishing what it holds.
pub(super) struct Subscribers {
    tasks: tokio::task::JoinSet<()>,
    docker: Vec<Arc<docker_trigger::DockerTrigger>>,
    compose: Vec<Arc<crate::compose::trigger::ComposeTrigger>>,
}

impl Subscribers {
    pub(super) fn start(
        bus: &Bus,
        store: &Store,
        triggers: Triggers,
        loaded: &Loaded,
        registry: Arc<RegistryClient>,
    ) -> Self {
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(log_events(bus.subscribe("log")));
        tasks.spawn(crate::store::record(store.clone(), bus.subscribe("store")));
        let docker_context = crate::update::Context {
            bus: bus.weak(),
            watchers: loaded.config.watcher.clone(),
            registry,
            journal: journal(store, loaded),
        };
        for trigger in &triggers.docker {
            let events = bus.subscribe(trigger.id().to_string());
            tasks.spawn(trigger.clone().run(events, docker_context.clone()));
        }
        for trigger in &triggers.compose {
            let events = bus.subscribe(trigger.id().to_string());
            tasks.spawn(trigger.clone().run(events, docker_context.clone()));
        }
        for trigger in triggers.notifiers {
            let events = bus.subscribe(trigger.id().to_string());
            let context = runner::Context {
                store: Some(store.clone()),
                bus: bus.weak(),
            };
            tasks.spawn(trigger.run(events, context));
        }
        for mirror in triggers.mirrors {
            let events = bus.subscribe(format!("{}.mirror", mirror.id()));
            tasks.spawn(mirror.run(events));
        }
        Subscribers {
            tasks,
            docker: triggers.docker,
            compose: triggers.compose,
        }
    }

    /// Waits until the triggers that act (the docker trigger) have finished what was found so
    /// far, so that what they report still reaches the store and the notifiers.
    pub(super) async fn settle(&self, bus: &Bus) {
        let n = next_barrier();
        let mut waits: Vec<std::pin::Pin<Box<dyn Future<Output = ()> + Send>>> = Vec::new();
        waits.extend(self.docker.iter().map(|t| Box::pin(t.barrier(n)) as _));
        waits.extend(self.compose.iter().map(|t| Box::pin(t.barrier(n)) as _));
        bus.publish(Event::Barrier(n));
        futures_util::future::join_all(waits).await;
    }

    /// Settles, closes the bus and waits for every subscriber to drain.
    pub(super) async fn finish(mut self, bus: Bus) {
        self.settle(&bus).await;
        drop(bus);
        while self.tasks.join_next().await.is_some() {}
    }
}

/// A number for a new `Barrier`: one sequence for the whole process, since a trigger remembers
/// only the last barrier it passed.
pub(super) fn next_barrier() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// The update journal: the store, unless a crash test asked to halt at a step.
pub(super) fn journal(store: &Store, loaded: &Loaded) -> Arc<dyn crate::update::journal::Journal> {
    use crate::update::journal::{Halt, Halting};
    let store: Arc<dyn crate::update::journal::Journal> = Arc::new(store.clone());
    match loaded.halt_at.as_deref().map(str::parse::<Halt>) {
        Some(Ok(at)) => Arc::new(Halting { inner: store, at }),
        Some(Err(err)) => {
            tracing::warn!(error = %err, "TIDEWATCH_TEST_HALTAT ignored.");
            store
        }
        None => store,
    }
}

/// Start-up before anything runs: a successor of a self-update removes the instance it
/// replaces, and an instance whose successor failed while it was down takes its name back;
/// the store is opened and the updates a crash interrupted are finished or undone (see
/// `update::journal`).
pub(super) async fn open_store(loaded: &Loaded) -> anyhow::Result<Store> {
    // In a container, this may be an instance whose self-update was interrupted.
    if loaded.succeeds.is_some() || crate::update::self_update::own_container_id().is_some() {
        let mut engines = Vec::new();
        for (name, watcher) in &loaded.config.watcher {
            if let Ok(engine) = Engine::connect(name, watcher).await {
                engines.push(engine);
            }
        }
        match &loaded.succeeds {
            Some(old) => crate::update::self_update::take_over(old, &engines).await,
            None => crate::update::self_update::reclaim_name(&engines).await,
        }
    }
    let store = Store::open(&loaded.config.store.location())?;
    tracing::debug!(path = %store.path().display(), "Store open.");
    let entries = store.blocking(|s| s.journal()).await?;
    if !entries.is_empty() {
        tracing::warn!(
            count = entries.len(),
            "Updates were interrupted (crash or kill); recovering them first."
        );
        for done in crate::update::journal::recover(entries, &loaded.config.watcher, &store).await {
            tracing::warn!(container = %done.name, watcher = %done.watcher, event = done.event, "{done}");
            // Into the history too: the log alone is not where a user looks a day later.
            let key = crate::store::ContainerKey {
                watcher: done.watcher.clone(),
                name: done.name.clone(),
            };
            let logged = store
                .blocking(move |s| s.log(Some(&key), done.event, &done.detail))
                .await;
            if let Err(err) = logged {
                tracing::error!(error = %err, "Store write failed; the recovery is not in the history.");
            }
        }
    }
    Ok(store)
}

/// The holds in the store now. One that cannot be read holds nothing back, which is logged: a
/// check must not stop for it.
pub(super) async fn holds(store: &Store) -> crate::model::Holds {
    match store.blocking(|s| s.holds()).await {
        Ok(holds) => holds,
        Err(err) => {
            tracing::error!(error = %err, "Holds not read; no update is held back this cycle.");
            crate::model::Holds::default()
        }
    }
}

/// The holds of the store, for the commands that do not write it (`check`, `plan`): none when
/// there is no store yet, which is not created.
pub(super) async fn stored_holds(loaded: &Loaded) -> crate::model::Holds {
    let location = loaded.config.store.location();
    if !location.exists() {
        return crate::model::Holds::default();
    }
    match Store::open(&location) {
        Ok(store) => holds(&store).await,
        Err(err) => {
            tracing::error!(error = %err, "Holds not read; no update is shown held.");
            crate::model::Holds::default()
        }
    }
}

/// One cycle of every watcher on `bus`, with the store and `triggers` listening, all of them
/// finished before it returns. The holds of the containers named in `overrides` are ignored
/// (`tidewatch update NAME`).
pub(super) async fn one_cycle(
    loaded: &Loaded,
    triggers: Triggers,
    bus: Bus,
    overrides: &[String],
) -> anyhow::Result<Outcome> {
    let client = Arc::new(RegistryClient::new(
        &loaded.config.registry,
        client_settings(loaded),
    )?);
    let store = open_store(loaded).await?;
    let holds = holds(&store).await.without(overrides);
    let subscribers = Subscribers::start(&bus, &store, triggers, loaded, client.clone());
    let outcome = watcher::cycle(&loaded.config.watcher, &client, &bus, &holds).await;
    subscribers.finish(bus).await;
    Ok(outcome)
}

/// The one place findings become log lines, so what is logged and counted stays together.
pub(super) async fn log_events(mut events: Subscriber) {
    while let Some(event) = events.recv().await {
        match event.as_ref() {
            Event::UpdateAvailable(update) => tracing::info!(
                watcher = %update.container.watcher,
                container = %update.container.name,
                from = %update.current.familiar(),
                to = %update.target.familiar(),
                kind = ?update.kind,
                "Update available."
            ),
            Event::RollbackApplied { candidate, by, .. } => tracing::info!(
                watcher = %candidate.container.watcher,
                container = %candidate.container.name,
                from = %candidate.current.familiar(),
                to = %candidate.target.familiar(),
                by = %by,
                "Rolled back."
            ),
            Event::Held(hold) => tracing::info!(
                watcher = %hold.watcher,
                container = %hold.name,
                held = %hold.what(),
                by = %hold.by,
                reason = %hold.reason,
                "Updates held back."
            ),
            Event::Released {
                watcher, name, by, ..
            } => tracing::info!(
                watcher = %watcher,
                container = %name,
                by = %by,
                "Hold released."
            ),
            // One line per failed check, naming the container: the cycle's count alone
            // (`failed=1`) does not say which, nor why.
            Event::ContainerChecked(c) if c.status == crate::watch::finding::Status::Failed => {
                tracing::warn!(
                    watcher = %c.watcher,
                    container = %c.name,
                    reason = %c.reason.as_deref().unwrap_or("unknown"),
                    "Check failed."
                )
            }
            Event::ContainerRemoved { watcher, name, .. } => tracing::info!(
                watcher = %watcher,
                container = %name,
                "Container removed."
            ),
            Event::CheckCompleted(report) => tracing::info!(
                watcher = %report.watcher,
                scanned = report.scanned,
                updates = report.updates,
                up_to_date = report.up_to_date,
                skipped = report.skipped,
                failed = report.failed,
                held = report.held,
                "Check completed."
            ),
            _ => {}
        }
    }
}
