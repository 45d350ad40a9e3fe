//! The docker trigger: applies updates in place, through the executor of `crate::update`.
//!
//! It listens like a notifier but acts: for each update that passes its filters (threshold,
//! include/exclude, the container's `trigger.include`/`exclude` labels) and whose container is
//! not `monitor-only`, it re-creates the container on the new image. A watcher's updates of one
//! cycle are applied together, one container at a time (Watchtower's rolling restart), in
//! dependency order (`update::order`): containers linked to or depending on an updated one are
//! stopped before it and started after it. All of it inline in the listener, so that when the
//! listener has seen an [`Event::Barrier`] every update found before it is finished: `run
//! --once` relies on that. What it did goes on the bus as `UpdateApplied`, `RolledBack`,
//! `UpdateFailed` or `UpdateSkipped`, where the store and the notifiers see it, then the counts
//! of them all as one `UpdatesCompleted` per watcher and cycle.

use crate::bus::{Event, Subscriber, WeakBus};
use crate::config::DockerTriggerConfig;
use crate::docker::Engine;
use crate::model::{Kind, UpdateCandidate, UpdateReport};
use crate::trigger::filter::Filter;
use crate::trigger::{BuildProblem, Claims, TriggerId};
use crate::update::Context;
use crate::update::{self, Gate, Outcome, order};
use crate::watch::labels;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// A finding outside a cycle waits this long for others before it is applied.
const BATCH_WAIT: Duration = Duration::from_secs(10);

pub struct DockerTrigger {
    id: TriggerId,
    filter: Filter,
    options: update::Options,
    auto: bool,
    monitor_only: bool,
    label_precedence: bool,
    /// Set by `tidewatch update`: act on these containers (all with updates when empty),
    /// whatever `auto` says.
    forced: std::sync::OnceLock<Vec<String>>,
    /// The compose triggers configured beside it: a compose service one of them acts on is
    /// left to it, since both re-creating one container is a race and the file would no
    /// longer say what runs. Set once, after every trigger is built.
    compose: std::sync::OnceLock<Vec<Arc<dyn Claims>>>,
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
    Compose,
}

impl std::fmt::Display for Declined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Declined::Filtered => "outside the trigger's threshold or include/exclude",
            Declined::MonitorOnly => "monitor-only",
            Declined::BadLabels => "its labels cannot be read",
            Declined::NotAuto => "auto is off: waits for `tidewatch update`",
            Declined::Compose => "a compose trigger updates it, through its compose file",
        })
    }
}

/// What notifiers with `when=updated` ask: will this trigger act on the update (and so report
/// what became of it)?
impl Claims for DockerTrigger {
    fn claims(&self, candidate: &UpdateCandidate) -> bool {
        self.wants(candidate).is_ok()
    }
}

impl std::fmt::Debug for DockerTrigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerTrigger")
            .field("id", &self.id)
            .finish()
    }
}

impl DockerTrigger {
    pub fn new(name: &str, config: &DockerTriggerConfig) -> Result<Self, Vec<BuildProblem>> {
        let filter = Filter::of(config.threshold, &config.include, &config.exclude)?;
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
                keep: config.rollback.keep,
                remove_volumes: config.removevolumes,
                lifecycle_hooks: config.lifecyclehooks,
                revive_stopped: config.revivestopped,
                no_pull: config.nopull,
                no_restart: config.norestart,
            },
            auto: config.auto,
            monitor_only: config.monitoronly,
            label_precedence: config.labelprecedence,
            forced: std::sync::OnceLock::new(),
            compose: std::sync::OnceLock::new(),
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

    /// How this trigger updates: what `tidewatch rollback` goes through too.
    pub fn options(&self) -> &update::Options {
        &self.options
    }

    /// Leaves to `compose` the containers they act on. Once, when the triggers are built.
    pub fn leave_to(&self, compose: Vec<Arc<dyn Claims>>) {
        let _ = self.compose.set(compose);
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
        let label = match labels::read(&candidate.container.labels) {
            Ok(labels) => labels.monitor_only,
            Err(_) => return Err(Declined::BadLabels),
        };
        if self.switch(self.monitor_only, label) {
            return Err(Declined::MonitorOnly);
        }
        if self
            .compose
            .get()
            .is_some_and(|compose| compose.iter().any(|t| t.claims(candidate)))
        {
            return Err(Declined::Compose);
        }
        if !self.auto && forced.is_none() {
            return Err(Declined::NotAuto);
        }
        Ok(())
    }

    /// A switch that is both global and per container (`monitor-only`, `no-pull`), by
    /// Watchtower's rule: the global one wins when on, unless labels take precedence.
    fn switch(&self, global: bool, label: Option<bool>) -> bool {
        if self.label_precedence {
            label.unwrap_or(global)
        } else {
            global || label == Some(true)
        }
    }

    /// The options of `candidate`'s update: the trigger's, with its `no-pull` label applied.
    fn options_for(&self, candidate: &UpdateCandidate) -> update::Options {
        let label = labels::read(&candidate.container.labels)
            .ok()
            .and_then(|l| l.no_pull);
        update::Options {
            no_pull: self.switch(self.options.no_pull, label),
            ..self.options.clone()
        }
    }

    /// Updates arrive one by one but are applied per watcher and cycle, so that linked
    /// containers are handled together in dependency order: when the cycle's report (or a
    /// barrier) closes the batch, or, for a finding outside a cycle (a Docker event), after
    /// [`BATCH_WAIT`].
    pub async fn run(self: Arc<Self>, mut events: Subscriber, context: Context) {
        let mut pending: BTreeMap<String, (Instant, Vec<UpdateCandidate>)> = BTreeMap::new();
        // What this trigger rolled back, until a check reports the store's hold on it: the old
        // container's restart is a Docker `start` event, whose check may run before the hold
        // is written, and must not bring the same update back (see `Recent`).
        let mut recent = Recent::default();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            let event = tokio::select! {
                event = events.recv() => event,
                _ = tick.tick() => {
                    let stale: Vec<String> = pending
                        .iter()
                        .filter(|(_, (since, _))| since.elapsed() >= BATCH_WAIT)
                        .map(|(watcher, _)| watcher.clone())
                        .collect();
                    for watcher in stale {
                        if let Some((_, batch)) = pending.remove(&watcher) {
                            recent.add(self.apply(&watcher, batch, &context).await);
                        }
                    }
                    continue;
                }
            };
            let Some(event) = event else { break };
            match event.as_ref() {
                Event::UpdateAvailable(candidate) if recent.covers(candidate) => {
                    tracing::debug!(trigger = %self.id, container = %candidate.container.name, "Not updating: just rolled back.")
                }
                Event::ContainerChecked(c) if c.hold.is_some() => {
                    recent.forget(&c.watcher, &c.name)
                }
                Event::UpdateAvailable(candidate) => match self.wants(candidate) {
                    Ok(()) => {
                        let (_, batch) = pending
                            .entry(candidate.container.watcher.clone())
                            .or_insert_with(|| (Instant::now(), Vec::new()));
                        batch.retain(|c| c.container.id != candidate.container.id);
                        batch.push(candidate.clone());
                    }
                    Err(why) => {
                        tracing::debug!(trigger = %self.id, container = %candidate.container.name, why = %why, "Not updating.")
                    }
                },
                Event::CheckCompleted(report) => {
                    if let Some((_, batch)) = pending.remove(&report.watcher) {
                        recent.add(self.apply(&report.watcher, batch, &context).await);
                    }
                }
                Event::Barrier(n) => {
                    for (watcher, (_, batch)) in std::mem::take(&mut pending) {
                        recent.add(self.apply(&watcher, batch, &context).await);
                    }
                    self.passed.send_replace(*n);
                }
                _ => {}
            }
        }
        for (watcher, (_, batch)) in pending {
            self.apply(&watcher, batch, &context).await;
        }
    }

    /// Applies one watcher's updates, then reports how each went, in one event and one line.
    /// Returns the updates that were rolled back.
    async fn apply(
        &self,
        watcher: &str,
        batch: Vec<UpdateCandidate>,
        context: &Context,
    ) -> Vec<UpdateCandidate> {
        let mut tally = Tally {
            bus: &context.bus,
            report: UpdateReport {
                watcher: watcher.to_string(),
                trigger: self.id.to_string(),
                ..UpdateReport::default()
            },
            rolled_back: Vec::new(),
        };
        let (services, containers): (Vec<_>, Vec<_>) = batch
            .into_iter()
            .partition(|c| c.container.kind == Kind::Service);
        if !services.is_empty() {
            self.apply_services(watcher, &services, context, &mut tally)
                .await;
        }
        if !containers.is_empty() {
            self.apply_batch(watcher, &containers, context, &mut tally)
                .await;
        }
        let report = tally.report.clone();
        tracing::info!(
            trigger = %self.id,
            watcher = %report.watcher,
            updated = report.updated,
            failed = report.failed,
            skipped = report.skipped,
            rolled_back = report.rolled_back,
            "Updates completed."
        );
        context.bus.publish(Event::UpdatesCompleted(report));
        tally.rolled_back
    }

    /// Applies one watcher's updates: dependents stopped first, updates in dependency order,
    /// dependents started again after. Each update's outcome goes out through `tally`.
    async fn apply_batch(
        &self,
        watcher: &str,
        batch: &[UpdateCandidate],
        context: &Context,
        tally: &mut Tally<'_>,
    ) {
        let fail_all = |tally: &mut Tally<'_>, reason: String| {
            for candidate in batch {
                tally.publish(Event::UpdateFailed {
                    candidate: candidate.clone(),
                    reason: reason.clone(),
                });
            }
        };
        let Some(config) = context.watchers.get(watcher) else {
            return fail_all(tally, format!("no watcher {watcher}"));
        };
        let engine = match Engine::connect(watcher, config).await {
            Ok(engine) => engine,
            Err(err) => return fail_all(tally, err.to_string()),
        };
        let mut nodes: Vec<order::Node> = match engine.nodes().await {
            Ok(wiring) => wiring.into_iter().map(Into::into).collect(),
            Err(err) => {
                return fail_all(tally, format!("cannot list the containers to order: {err}"));
            }
        };
        for node in &mut nodes {
            node.updating = batch.iter().any(|c| c.container.id == node.id);
        }
        let plan = order::plan(&nodes);
        for note in &plan.notes {
            tracing::warn!(trigger = %self.id, watcher, "{note}");
        }
        for (id, reason) in &plan.skipped {
            if let Some(candidate) = batch.iter().find(|c| &c.container.id == id) {
                tally.publish(Event::UpdateFailed {
                    candidate: candidate.clone(),
                    reason: reason.clone(),
                });
            }
        }
        let skipped: Vec<&String> = plan.skipped.iter().map(|(id, _)| id).collect();
        let touched = |id: &&String| !skipped.contains(id);

        // Re-created rather than restarted: a legacy link or a shared network stack binds to
        // the old container itself.
        let bound = |node: &order::Node| {
            !node.links.is_empty() || plan.recreate_for_network.contains(&node.id)
        };

        // Dependents stop first, the outermost first; each is journaled before it stops, so a
        // crash during the updates still brings it back at the next start. Each is stopped under
        // its lease, as an update is, so that another instance never updates it while it is
        // down, nor this one while another instance is at work on it.
        let mut stopped = Vec::new();
        let mut leases: BTreeMap<String, update::lease::Lease> = BTreeMap::new();
        for id in plan
            .stop_order
            .iter()
            .filter(|id| plan.restart.contains(*id))
            .filter(touched)
        {
            let Ok(snapshot) = engine.snapshot(id).await else {
                continue;
            };
            if !snapshot.running() {
                continue;
            }
            let lease = match update::lease::take(&engine, &snapshot.name()).await {
                Ok(lease) => lease,
                Err(
                    update::lease::Refused::Busy(reason) | update::lease::Refused::Failed(reason),
                ) => {
                    tracing::warn!(trigger = %self.id, container = %snapshot.name(), reason = %reason, "Dependent left running: its lease is not this instance's.");
                    continue;
                }
            };
            let entry = update::journal::Entry {
                watcher: watcher.to_string(),
                name: snapshot.name(),
                old_id: id.clone(),
                was_running: true,
                new_id: None,
                new_name: None,
                bound: nodes.iter().any(|n| &n.id == id && bound(n)),
                step: update::journal::Step::Dependent,
            };
            if let Err(err) = context.journal.record(&entry).await {
                tracing::error!(trigger = %self.id, container = %entry.name, error = %err, "Dependent left running: it could not be journaled.");
                lease.release(&engine).await;
                continue;
            }
            let timeout = snapshot.stop_timeout(self.options.stop_timeout);
            match engine.stop(id, snapshot.stop_signal(), timeout).await {
                Ok(()) => {
                    tracing::info!(trigger = %self.id, container = %snapshot.name(), "Stopped while what it depends on is updated.");
                    stopped.push(id.clone());
                    leases.insert(id.clone(), lease);
                }
                Err(err) => {
                    tracing::warn!(trigger = %self.id, container = %snapshot.name(), error = %err, "Dependent not stopped.");
                    context.journal.clear(watcher, &entry.name).await;
                    lease.release(&engine).await;
                }
            }
        }
        // Then, dependencies first: updates, and dependents re-created (a legacy link or a
        // shared network stack binds to the old container itself) or started again.
        let mut replaced: Vec<update::Replaced> = Vec::new();
        for id in plan.order.iter().filter(touched) {
            let Some(node) = nodes.iter().find(|n| &n.id == id) else {
                continue;
            };
            if let Some(candidate) = batch.iter().find(|c| &c.container.id == id) {
                let event = self
                    .update_one(&engine, candidate, context, &replaced)
                    .await;
                if let Event::UpdateApplied {
                    new_container_id, ..
                } = &event
                {
                    replaced.push(update::Replaced {
                        old_id: id.clone(),
                        old_name: node.name.clone(),
                        new_id: new_container_id.clone(),
                    });
                }
                tally.publish(event);
                continue;
            }
            let was_running = stopped.contains(id);
            // The re-creation takes the lease itself; a restart is done under this one.
            let lease = leases.remove(id);
            if bound(node) {
                if let Some(lease) = lease {
                    lease.release(&engine).await;
                }
                let outcome = update::recreate(
                    &engine,
                    watcher,
                    id,
                    was_running,
                    &self.options,
                    context.journal.as_ref(),
                    &replaced,
                )
                .await;
                // The re-creation journals under the same name and clears the entry, unless it
                // failed before touching anything: then the dependent's entry stays, and the next
                // start brings it back.
                match outcome {
                    Outcome::Applied { new_id } => replaced.push(update::Replaced {
                        old_id: id.clone(),
                        old_name: node.name.clone(),
                        new_id,
                    }),
                    // Nothing was changed: at least it runs again as it was.
                    Outcome::Failed { reason } if was_running => {
                        tracing::error!(trigger = %self.id, container = %node.name, reason = %reason, "Dependent not re-created; starting it as it was.");
                        self.start_again(&engine, watcher, node, context).await;
                    }
                    other => {
                        tracing::error!(trigger = %self.id, container = %node.name, outcome = ?other, "Dependent not re-created.")
                    }
                }
            } else {
                if was_running {
                    self.start_again(&engine, watcher, node, context).await;
                }
                if let Some(lease) = lease {
                    lease.release(&engine).await;
                }
            }
        }
        // A dependent of no container in the order (none today) is not left leased.
        for (_, lease) in leases {
            lease.release(&engine).await;
        }
    }

    /// Updates one watcher's Swarm services, one after the other, each through Swarm's own
    /// rolling update (`update::service`). No dependency order: Swarm services find each other
    /// by name through its DNS, never by a link to one task, so one service's update touches
    /// no other.
    async fn apply_services(
        &self,
        watcher: &str,
        services: &[UpdateCandidate],
        context: &Context,
        tally: &mut Tally<'_>,
    ) {
        let engine = match context.watchers.get(watcher) {
            Some(config) => Engine::connect(watcher, config)
                .await
                .map_err(|err| err.to_string()),
            None => Err(format!("no watcher {watcher}")),
        };
        let engine = match engine {
            Ok(engine) => engine,
            Err(reason) => {
                for candidate in services {
                    tally.publish(Event::UpdateFailed {
                        candidate: candidate.clone(),
                        reason: reason.clone(),
                    });
                }
                return;
            }
        };
        for candidate in services {
            let credential = self.credential(candidate, context).await;
            let outcome = update::service::update(
                &engine,
                candidate,
                credential.as_ref(),
                &self.options.gate,
            )
            .await;
            tally.publish(outcome_event(candidate, outcome));
        }
    }

    /// The registry login for pulling `candidate`'s new image, if there is one: a failure to
    /// read it is not fatal, since the image may well be public.
    async fn credential(
        &self,
        candidate: &UpdateCandidate,
        context: &Context,
    ) -> Option<crate::registry::credentials::Credential> {
        let login = labels::login(&candidate.container.labels);
        match context
            .registry
            .pull_credential(&candidate.target, login)
            .await
        {
            Ok(credential) => credential,
            Err(err) => {
                tracing::warn!(trigger = %self.id, error = %err, "No registry login for the pull; trying anonymously.");
                None
            }
        }
    }

    /// Starts a dependent it stopped and forgets its journal entry; when it does not start, the
    /// entry stays, and the next start of tidewatch tries again.
    async fn start_again(
        &self,
        engine: &Engine,
        watcher: &str,
        node: &order::Node,
        context: &Context,
    ) {
        match engine.start(&node.id).await {
            Ok(()) => context.journal.clear(watcher, &node.name).await,
            Err(err) => {
                tracing::error!(trigger = %self.id, container = %node.name, error = %err, "Dependent could not be started again.")
            }
        }
    }

    async fn update_one(
        &self,
        engine: &Engine,
        candidate: &UpdateCandidate,
        context: &Context,
        replaced: &[update::Replaced],
    ) -> Event {
        let credential = self.credential(candidate, context).await;
        let outcome = update::update(
            engine,
            candidate,
            credential.as_ref(),
            &self.options_for(candidate),
            context.journal.as_ref(),
            replaced,
        )
        .await;
        outcome_event(candidate, outcome)
    }
}

/// The event that tells how `candidate`'s update ended.
fn outcome_event(candidate: &UpdateCandidate, outcome: Outcome) -> Event {
    match outcome {
        Outcome::Applied { new_id } => Event::UpdateApplied {
            candidate: candidate.clone(),
            new_container_id: new_id,
        },
        Outcome::RolledBack { reason } => Event::RolledBack {
            candidate: candidate.clone(),
            reason,
        },
        Outcome::Skipped { reason } => Event::UpdateSkipped {
            candidate: candidate.clone(),
            reason,
        },
        Outcome::Failed { reason } | Outcome::Broken { reason } => Event::UpdateFailed {
            candidate: candidate.clone(),
            reason,
        },
    }
}

/// Publishes each update's outcome and counts it for the trigger's report, so that no outcome
/// goes out uncounted.
struct Tally<'a> {
    bus: &'a WeakBus,
    report: UpdateReport,
    rolled_back: Vec<UpdateCandidate>,
}

impl Tally<'_> {
    fn publish(&mut self, event: Event) {
        match &event {
            Event::UpdateApplied { .. } => self.report.updated += 1,
            Event::UpdateFailed { .. } => self.report.failed += 1,
            Event::UpdateSkipped { .. } => self.report.skipped += 1,
            Event::RolledBack { candidate, .. } => {
                self.report.rolled_back += 1;
                self.rolled_back.push(candidate.clone());
            }
            _ => {}
        }
        self.bus.publish(event);
    }
}

/// The updates the trigger rolled back, remembered until a check reports the store's hold on
/// the container. The store holds a rolled-back version for good, but it learns of it from the
/// bus, a moment after the rollback; the old container's start in between is a Docker event,
/// and its check could offer the same update again. Only the same target is kept out: a newer
/// one is applied.
#[derive(Debug, Default)]
struct Recent(Vec<UpdateCandidate>);

impl Recent {
    fn add(&mut self, rolled_back: Vec<UpdateCandidate>) {
        self.0.extend(rolled_back);
    }

    fn covers(&self, candidate: &UpdateCandidate) -> bool {
        self.0.iter().any(|c| {
            c.container.watcher == candidate.container.watcher
                && c.container.name == candidate.container.name
                && c.target == candidate.target
                && c.digest == candidate.digest
        })
    }

    fn forget(&mut self, watcher: &str, name: &str) {
        self.0
            .retain(|c| c.container.watcher != watcher || c.container.name != name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ContainerInfo, ImageRef, UpdateKind};

    fn candidate(label: Option<&str>) -> UpdateCandidate {
        let mut container = ContainerInfo::example("nginx:1.25");
        if let Some(value) = label {
            container.labels.insert(
                "com.centurylinklabs.watchtower.monitor-only".into(),
                value.into(),
            );
        }
        UpdateCandidate {
            container,
            current: ImageRef::parse("nginx:1.25").unwrap(),
            target: ImageRef::parse("nginx:1.26").unwrap(),
            digest: None,
            kind: UpdateKind::Minor,
            display_name: "web".into(),
            link: None,
        }
    }

    fn trigger(monitoronly: bool, labelprecedence: bool) -> DockerTrigger {
        DockerTrigger::new(
            "t",
            &DockerTriggerConfig {
                monitoronly,
                labelprecedence,
                ..DockerTriggerConfig::default()
            },
        )
        .unwrap()
    }

    #[test]
    fn monitor_only_follows_watchtowers_precedence_rules() {
        let (none, yes, no) = (
            candidate(None),
            candidate(Some("true")),
            candidate(Some("false")),
        );
        // Global off: the label decides.
        let t = trigger(false, false);
        assert_eq!(t.wants(&none), Ok(()));
        assert_eq!(t.wants(&yes), Err(Declined::MonitorOnly));
        assert_eq!(t.wants(&no), Ok(()));
        // Global on: nothing is updated, whatever the label says...
        let t = trigger(true, false);
        assert_eq!(t.wants(&none), Err(Declined::MonitorOnly));
        assert_eq!(t.wants(&no), Err(Declined::MonitorOnly));
        // ...unless labels take precedence.
        let t = trigger(true, true);
        assert_eq!(t.wants(&none), Err(Declined::MonitorOnly));
        assert_eq!(t.wants(&no), Ok(()));
        assert_eq!(trigger(false, true).wants(&yes), Err(Declined::MonitorOnly));
    }

    #[test]
    fn no_pull_labels_combine_with_the_global_switch_as_monitor_only_does() {
        let labelled = |value: &str| {
            let mut c = candidate(None);
            c.container
                .labels
                .insert("tidewatch.no-pull".into(), value.into());
            c
        };
        let no_pull = |nopull, labelprecedence, c: &UpdateCandidate| {
            DockerTrigger::new(
                "t",
                &DockerTriggerConfig {
                    nopull,
                    labelprecedence,
                    ..DockerTriggerConfig::default()
                },
            )
            .unwrap()
            .options_for(c)
            .no_pull
        };
        assert!(!no_pull(false, false, &candidate(None)));
        assert!(no_pull(false, false, &labelled("true")));
        assert!(no_pull(true, false, &labelled("false")));
        assert!(!no_pull(true, true, &labelled("false")));
        assert!(no_pull(true, true, &candidate(None)));
    }

    #[test]
    fn a_compose_service_a_compose_trigger_acts_on_is_left_to_it() {
        use crate::compose::trigger::ComposeTrigger;
        use crate::config::ComposeTriggerConfig;
        let compose = |exclude: Option<&str>| -> Arc<dyn Claims> {
            let config = ComposeTriggerConfig {
                allowed: Some("/stacks".into()),
                command: Some("none".into()),
                exclude: exclude.map(str::to_string),
                ..ComposeTriggerConfig::default()
            };
            Arc::new(ComposeTrigger::new("stacks", &config).unwrap())
        };
        let mut service = candidate(None);
        service
            .container
            .labels
            .insert("com.docker.compose.service".into(), "web".into());
        let t = trigger(false, false);
        assert_eq!(t.wants(&service), Ok(()), "no compose trigger");
        t.leave_to(vec![compose(None)]);
        assert_eq!(t.wants(&service), Err(Declined::Compose));
        assert_eq!(t.wants(&candidate(None)), Ok(()), "not a compose service");
        // A service the compose trigger excludes is the docker trigger's again.
        let t = trigger(false, false);
        t.leave_to(vec![compose(Some("web"))]);
        assert_eq!(t.wants(&service), Ok(()));
    }

    #[test]
    fn auto_off_waits_for_the_command_line() {
        let t = DockerTrigger::new(
            "t",
            &DockerTriggerConfig {
                auto: false,
                ..DockerTriggerConfig::default()
            },
        )
        .unwrap();
        assert_eq!(t.wants(&candidate(None)), Err(Declined::NotAuto));
        t.force(vec!["web".into()]);
        assert_eq!(t.wants(&candidate(None)), Ok(()));
    }
}
