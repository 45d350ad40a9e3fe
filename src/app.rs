//! What each command does with a loaded configuration. Like `main.rs`, this is the edge where
//! typed errors become one line for a person.

pub mod health;

use crate::bus::{Bus, Event, Subscriber};
use crate::config::{ConfigError, ConfigErrors, Loaded, Origin, WatcherConfig};
use crate::docker::{Engine, EngineEvent};
use crate::registry::credentials::Credential;
use crate::registry::{ClientSettings, RegistryClient};
use crate::schedule;
use crate::store::Store;
use crate::trigger::{self, Triggers, docker as docker_trigger, runner};
use crate::watcher::{self, Outcome};
use futures_util::StreamExt;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

/// `tidewatch check`: one pass over every watcher, nothing else started. Engines that cannot be
/// reached are reported beside the containers of those that could, so one bad host does not
/// hide the others; a registry problem is a finding of its containers.
pub async fn check(loaded: &Loaded) -> anyhow::Result<Outcome> {
    let client = RegistryClient::new(&loaded.config.registry, client_settings(loaded))?;
    Ok(watcher::cycle(&loaded.config.watcher, &client, &Bus::default()).await)
}

/// Every configured trigger, or every problem with them as configuration errors naming the
/// variable to fix (exit status 2, as any other configuration error).
pub fn triggers(loaded: &Loaded) -> Result<Triggers, ConfigErrors> {
    trigger::build_all(&loaded.config.trigger).map_err(|problems| {
        ConfigErrors(
            problems
                .iter()
                .map(|p| {
                    let path = p.path();
                    let origin = match loaded.origin(&path.join(".")) {
                        // Unset: name the variable that would set it.
                        Origin::Default => format!(
                            "{}{}",
                            crate::config::ENV_PREFIX,
                            path.join("_").to_ascii_uppercase()
                        ),
                        origin => origin.to_string(),
                    };
                    ConfigError::new(origin, p.problem.message.clone())
                })
                .collect(),
        )
    })
}

/// What runs beside the watchers and lives off the bus: the log, the store, the triggers.
/// Each ends when the bus closes, after finishing what it holds.
struct Subscribers {
    tasks: tokio::task::JoinSet<()>,
    docker: Vec<Arc<docker_trigger::DockerTrigger>>,
    compose: Vec<Arc<trigger::compose::ComposeTrigger>>,
}

impl Subscribers {
    fn start(
        bus: &Bus,
        store: &Store,
        triggers: Triggers,
        loaded: &Loaded,
        registry: Arc<RegistryClient>,
    ) -> Self {
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(log_events(bus.subscribe("log")));
        tasks.spawn(crate::store::record(store.clone(), bus.subscribe("store")));
        let docker_context = docker_trigger::Context {
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
        Subscribers {
            tasks,
            docker: triggers.docker,
            compose: triggers.compose,
        }
    }

    /// Waits until the triggers that act (the docker trigger) have finished what was found so
    /// far, so that what they report still reaches the store and the notifiers.
    async fn settle(&self, bus: &Bus) {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut waits: Vec<std::pin::Pin<Box<dyn Future<Output = ()> + Send>>> = Vec::new();
        waits.extend(self.docker.iter().map(|t| Box::pin(t.barrier(n)) as _));
        waits.extend(self.compose.iter().map(|t| Box::pin(t.barrier(n)) as _));
        bus.publish(Event::Barrier(n));
        futures_util::future::join_all(waits).await;
    }

    /// Settles, closes the bus and waits for every subscriber to drain.
    async fn finish(mut self, bus: Bus) {
        self.settle(&bus).await;
        drop(bus);
        while self.tasks.join_next().await.is_some() {}
    }
}

/// The update journal: the store, unless a crash test asked to halt at a step.
fn journal(store: &Store, loaded: &Loaded) -> Arc<dyn crate::update::journal::Journal> {
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
async fn open_store(loaded: &Loaded) -> anyhow::Result<Store> {
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
        for line in crate::update::journal::recover(entries, &loaded.config.watcher, &store).await {
            tracing::warn!("{line}");
        }
    }
    Ok(store)
}

/// `tidewatch run --once`: one cycle of the daemon, with everything that subscribes to the bus
/// running and allowed to finish (notifications sent, the store written) before the report is
/// returned.
pub async fn run_once(loaded: &Loaded, triggers: Triggers) -> anyhow::Result<Outcome> {
    one_cycle(loaded, triggers, Bus::default()).await
}

/// One cycle of every watcher on `bus`, with the store and `triggers` listening, all of them
/// finished before it returns.
async fn one_cycle(loaded: &Loaded, triggers: Triggers, bus: Bus) -> anyhow::Result<Outcome> {
    let client = Arc::new(RegistryClient::new(
        &loaded.config.registry,
        client_settings(loaded),
    )?);
    let store = open_store(loaded).await?;
    let subscribers = Subscribers::start(&bus, &store, triggers, loaded, client.clone());
    let outcome = watcher::cycle(&loaded.config.watcher, &client, &bus).await;
    subscribers.finish(bus).await;
    Ok(outcome)
}

/// `tidewatch run`: every watcher on its schedule until `shutdown` resolves. A cycle under way
/// when it does is cut short (a registry that never answers must not hold up `docker stop`):
/// what it found so far is already on the bus, and the triggers and the store finish what they
/// hold; nothing starts after.
pub async fn run(
    loaded: &Loaded,
    triggers: Triggers,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let client = Arc::new(RegistryClient::new(
        &loaded.config.registry,
        client_settings(loaded),
    )?);
    let store = open_store(loaded).await?;
    let bus = Bus::default();
    let subscribers = Subscribers::start(&bus, &store, triggers, loaded, client.clone());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut watchers = tokio::task::JoinSet::new();
    // Watchers on the same schedule check together, through one registry session: two
    // watchers of one host (socket and TCP), or hosts running the same images, ask the registry
    // once per reference, as `run --once` does. One jitter for the group, drawn per cycle.
    let mut groups: BTreeMap<(String, u64), Vec<(String, WatcherConfig)>> = BTreeMap::new();
    for (name, watcher) in &loaded.config.watcher {
        groups
            .entry((watcher.cron.clone(), watcher.jitter))
            .or_default()
            .push((name.clone(), watcher.clone()));
    }
    for ((cron, jitter), members) in groups {
        let schedule = schedule::Schedule::new(&cron, jitter)?;
        let names: Vec<String> = members.iter().map(|(name, _)| name.clone()).collect();
        let together = names.join(",");
        let (client, bus, mut stopped) = (client.clone(), bus.clone(), stopped.clone());
        watchers.spawn(async move {
            for name in &names {
                tracing::info!(watcher = %name, cron = %cron, "Watcher started.");
            }
            // As WUD's watchatstart: a first check now, then on the schedule.
            let mut next = Some(tokio::time::Instant::now());
            while let Some(at) = next {
                tokio::select! {
                    _ = tokio::time::sleep_until(at) => {}
                    _ = stopped.wait_for(|stop| *stop) => break,
                }
                let cycle = watcher::cycle(members.iter().map(|(n, w)| (n, w)), &client, &bus);
                let Some(outcome) = unless_stopped(&mut stopped, &together, cycle).await else {
                    break;
                };
                // The error names its watcher.
                for err in &outcome.errors {
                    tracing::error!(error = %err, "Engine not reachable; its containers were not checked.");
                }
                drop(outcome);
                crate::memory::trim();
                next = schedule.next();
            }
            for name in &names {
                tracing::info!(watcher = %name, "Watcher stopped.");
            }
        });
    }
    for (name, watcher) in &loaded.config.watcher {
        if watcher.watchevents {
            let (name, watcher) = (name.clone(), watcher.clone());
            let (client, bus, stopped) = (client.clone(), bus.clone(), stopped.clone());
            watchers.spawn(follow_events(name, watcher, client, bus, stopped));
        }
    }
    shutdown.await;
    tracing::info!("Shutting down: checks under way are cut short, what they found is kept.");
    let _ = stop.send(true);
    while watchers.join_next().await.is_some() {}
    subscribers.finish(bus).await;
    tracing::info!("Stopped.");
    Ok(())
}

/// `work`, unless the daemon is told to stop first: then it is dropped (every finding made so
/// far is already published; see [`watcher::cycle`]) and `None` returned.
async fn unless_stopped<T>(
    stopped: &mut tokio::sync::watch::Receiver<bool>,
    watcher: &str,
    work: impl Future<Output = T>,
) -> Option<T> {
    tokio::select! {
        done = work => Some(done),
        _ = stopped.wait_for(|stop| *stop) => {
            tracing::info!(watcher = %watcher, "Check cut short by shutdown; its findings so far are kept.");
            None
        }
    }
}

/// Image tags come in bursts (a `docker pull` of several tags, a CI job tagging ten names): the
/// watcher is re-checked once the tags have been quiet this long…
const RETAG_QUIET: Duration = Duration::from_secs(2);
/// …or at the latest this long after the first, so that steady tagging cannot starve it.
const RETAG_MAX_WAIT: Duration = Duration::from_secs(10);

/// Image tags seen since the last re-check of the watcher.
#[derive(Debug, Clone, Copy)]
struct Retagged {
    first: tokio::time::Instant,
    last: tokio::time::Instant,
    count: usize,
}

impl Retagged {
    fn add(pending: Option<Retagged>, now: tokio::time::Instant) -> Retagged {
        match pending {
            None => Retagged {
                first: now,
                last: now,
                count: 1,
            },
            Some(p) => Retagged {
                last: now,
                count: p.count + 1,
                ..p
            },
        }
    }

    /// When to re-check: after a quiet spell, or at the latest a while after the first.
    fn due(&self) -> tokio::time::Instant {
        (self.last + RETAG_QUIET).min(self.first + RETAG_MAX_WAIT)
    }
}

/// Checks containers as the engine reports them started, and re-checks the watcher when images
/// are tagged, once per burst (see [`RETAG_QUIET`]). A lost stream (engine restart) is
/// reconnected with backoff, and the watcher is re-listed then, since events were missed
/// meanwhile. Shutdown cuts any check under way.
async fn follow_events(
    name: String,
    watcher: WatcherConfig,
    client: Arc<RegistryClient>,
    bus: Bus,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    const MAX_BACKOFF: Duration = Duration::from_secs(30);
    let mut backoff = Duration::from_secs(1);
    let mut reconnecting = false;
    loop {
        match Engine::connect(&name, &watcher).await {
            Ok(engine) => {
                if reconnecting {
                    tracing::info!(watcher = %name, "Event stream back; re-checking the watcher.");
                    let cycle = watcher::cycle([(&name, &watcher)], &client, &bus);
                    if unless_stopped(&mut stopped, &name, cycle).await.is_none() {
                        return;
                    }
                }
                backoff = Duration::from_secs(1);
                let mut events = std::pin::pin!(engine.events());
                // Lost with the stream: the re-listing after a reconnect covers them.
                let mut retagged: Option<Retagged> = None;
                loop {
                    let due = retagged.map(|r| r.due());
                    let recheck = async {
                        match due {
                            Some(due) => tokio::time::sleep_until(due).await,
                            None => std::future::pending().await,
                        }
                    };
                    let event = tokio::select! {
                        event = events.next() => Some(event),
                        _ = recheck => None,
                        _ = stopped.wait_for(|stop| *stop) => return,
                    };
                    let Some(event) = event else {
                        let tags = retagged.take().map_or(0, |r| r.count);
                        tracing::info!(watcher = %name, tags, "Images tagged; re-checking the watcher.");
                        let cycle = watcher::cycle([(&name, &watcher)], &client, &bus);
                        if unless_stopped(&mut stopped, &name, cycle).await.is_none() {
                            return;
                        }
                        continue;
                    };
                    match event {
                        Some(Ok(EngineEvent::ContainerStarted(id))) => {
                            let check =
                                watcher::check_container(&engine, &watcher, &id, &client, &bus);
                            match unless_stopped(&mut stopped, &name, check).await {
                                None => return,
                                Some(Err(err)) => {
                                    tracing::warn!(watcher = %name, container = %id, error = %err, "Started container not checked.");
                                }
                                Some(Ok(_)) => {}
                            }
                        }
                        Some(Ok(EngineEvent::ImageTagged)) => {
                            retagged = Some(Retagged::add(retagged, tokio::time::Instant::now()));
                        }
                        Some(Ok(EngineEvent::ContainerDestroyed {
                            id,
                            name: container,
                        })) => {
                            bus.publish(Event::ContainerRemoved {
                                watcher: name.clone(),
                                id,
                                name: container,
                            });
                        }
                        Some(Err(err)) => {
                            tracing::warn!(watcher = %name, error = %err, "Event stream lost; reconnecting.");
                            break;
                        }
                        None => {
                            tracing::warn!(watcher = %name, "Event stream ended; reconnecting.");
                            break;
                        }
                    }
                }
            }
            Err(err) => {
                tracing::warn!(watcher = %name, error = %err, retry_in_s = backoff.as_secs(), "Engine not reachable for events.");
            }
        }
        reconnecting = true;
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stopped.wait_for(|stop| *stop) => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// The one place findings become log lines, so what is logged and counted stays together.
async fn log_events(mut events: Subscriber) {
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
                "Check completed."
            ),
            _ => {}
        }
    }
}

fn client_settings(loaded: &Loaded) -> ClientSettings {
    ClientSettings {
        docker_config_dir: loaded.docker_config_dir.clone(),
        fallback: loaded
            .repo_credentials
            .clone()
            .map(|(username, password)| Credential::Basic { username, password }),
        ..ClientSettings::default()
    }
}

/// `tidewatch config`: every effective value, secrets masked, with where it came from.
pub fn print_config(loaded: &Loaded, out: &mut impl Write) -> std::io::Result<()> {
    let entries = loaded.entries();
    let lines: Vec<(String, &Origin)> = entries
        .iter()
        .map(|(key, value, origin)| match value {
            serde_json::Value::Null => (format!("{key} = (unset)"), origin),
            value => (format!("{key} = {value}"), origin),
        })
        .collect();
    let width = lines.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    for (line, origin) in lines {
        writeln!(out, "{line:<width$}  # {origin}")?;
    }
    Ok(())
}

/// `tidewatch history [NAME]`: the audit log, oldest first. Reads the store the daemon writes
/// (WAL lets both work at once); a store that does not exist yet is an empty history, not an
/// error, and is not created.
pub fn history(
    loaded: &Loaded,
    name: Option<&str>,
    limit: usize,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let location = loaded.config.store.location();
    let entries = if location.exists() {
        Store::open(&location)?.history(name, limit)?
    } else {
        Vec::new()
    };
    if json {
        serde_json::to_writer_pretty(&mut *out, &entries)?;
        writeln!(out)?;
        return Ok(());
    }
    if entries.is_empty() {
        match name {
            Some(name) => writeln!(out, "No history for {name} ({}).", location.display())?,
            None => writeln!(out, "No history yet ({}).", location.display())?,
        }
        return Ok(());
    }
    for e in &entries {
        let who = match (&e.watcher, &e.container) {
            (Some(w), Some(c)) => format!("{w}/{c}"),
            (None, Some(c)) => c.clone(),
            _ => "-".into(),
        };
        writeln!(out, "{}  {:<24}  {:<16}  {}", e.at, who, e.event, e.detail)?;
    }
    Ok(())
}

/// `tidewatch notify-test TRIGGER`: a sample update through one trigger, filters aside.
pub async fn notify_test(triggers: Triggers, wanted: &str) -> anyhow::Result<String> {
    let known = triggers.ids();
    let wanted = wanted.to_ascii_lowercase();
    let Some(trigger) = triggers
        .notifiers
        .into_iter()
        .find(|t| t.id().to_string() == wanted)
    else {
        anyhow::bail!(
            "no trigger {wanted}; configured: {}",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        );
    };
    let message = trigger
        .send_test()
        .await
        .map_err(|err| anyhow::anyhow!("{}: {err}", trigger.id()))?;
    Ok(format!("{}: sent \"{}\"", trigger.id(), message.title))
}

/// Collects what the docker triggers did, for `tidewatch update`'s report.
async fn collect_actions(mut events: Subscriber) -> Vec<(String, Result<String, String>)> {
    let mut done = Vec::new();
    while let Some(event) = events.recv().await {
        let line = |c: &crate::model::UpdateCandidate| {
            format!("{} → {}", c.current.familiar(), c.target.familiar())
        };
        match event.as_ref() {
            Event::UpdateApplied { candidate, .. } => {
                done.push((
                    candidate.container.name.clone(),
                    Ok(format!("updated, {}", line(candidate))),
                ));
            }
            // Not a failure: the container asked for it (a pre-update hook's exit 75).
            Event::UpdateSkipped { candidate, reason } => done.push((
                candidate.container.name.clone(),
                Ok(format!("skipped, {}: {reason}", line(candidate))),
            )),
            Event::RolledBack { candidate, reason } => done.push((
                candidate.container.name.clone(),
                Err(format!("{}: rolled back: {reason}", line(candidate))),
            )),
            Event::UpdateFailed { candidate, reason } => done.push((
                candidate.container.name.clone(),
                Err(format!("{}: failed: {reason}", line(candidate))),
            )),
            _ => {}
        }
    }
    done
}

/// `tidewatch update [NAME…]`: one cycle, and the docker trigger updates the named containers
/// (every container with an update when none is named) now, whatever its `auto`. Without a
/// configured docker trigger, one with default options does it. Returns a line per container
/// and whether every update worked.
pub async fn update(
    loaded: &Loaded,
    mut triggers: Triggers,
    names: Vec<String>,
) -> anyhow::Result<(Vec<String>, bool)> {
    if triggers.docker.is_empty() {
        let trigger = docker_trigger::DockerTrigger::command_line();
        trigger.leave_to(triggers.compose.clone());
        triggers.docker.push(Arc::new(trigger));
    }
    for trigger in &triggers.docker {
        trigger.force(names.clone());
    }
    let bus = Bus::default();
    let collector = tokio::spawn(collect_actions(bus.subscribe("update")));
    let outcome = one_cycle(loaded, triggers, bus).await?;
    let done = collector.await.unwrap_or_default();
    let mut ok = outcome.errors.is_empty();
    let mut lines: Vec<String> = done
        .iter()
        .map(|(name, result)| match result {
            Ok(what) => format!("{name}: {what}"),
            Err(why) => {
                ok = false;
                format!("{name}: {why}")
            }
        })
        .collect();
    for name in &names {
        if done.iter().any(|(n, _)| n == name) {
            continue;
        }
        let found = outcome.listing.containers.iter().find(|c| &c.name == name);
        let why = match found {
            None => {
                ok = false;
                "no such container".to_string()
            }
            Some(c) => match (&c.status, &c.reason) {
                (crate::finding::Status::UpdateAvailable, _) => {
                    "not updated (see `tidewatch plan`)".to_string()
                }
                (_, Some(reason)) => format!("no update: {reason}"),
                _ => "up to date".to_string(),
            },
        };
        lines.push(format!("{name}: {why}"));
    }
    if lines.is_empty() {
        lines.push("Nothing to update.".into());
    }
    for err in &outcome.errors {
        lines.push(err.to_string());
    }
    Ok((lines, ok))
}

/// `tidewatch plan`: what the docker triggers would update now, and why not the others;
/// changes nothing (no store, no trigger runs).
pub async fn plan(loaded: &Loaded, triggers: &Triggers) -> anyhow::Result<Vec<String>> {
    let client = RegistryClient::new(&loaded.config.registry, client_settings(loaded))?;
    let bus = Bus::default();
    let mut events = bus.subscribe("plan");
    let collector = tokio::spawn(async move {
        let mut found = Vec::new();
        while let Some(event) = events.recv().await {
            if let Event::UpdateAvailable(candidate) = event.as_ref() {
                found.push(candidate.clone());
            }
        }
        found
    });
    let outcome = watcher::cycle(&loaded.config.watcher, &client, &bus).await;
    drop(bus);
    let found = collector.await.unwrap_or_default();
    let mut lines = Vec::new();
    if triggers.docker.is_empty() {
        lines.push(
            "No docker trigger is configured: tidewatch only reports (monitor only).".to_string(),
        );
    }
    for c in &found {
        let what = format!(
            "{}/{}: {} → {} ({})",
            c.container.watcher,
            c.container.name,
            c.current.familiar(),
            c.target.familiar(),
            serde_json::to_value(c.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        );
        let verdicts: Vec<String> = triggers
            .docker
            .iter()
            .map(|t| match t.wants(c) {
                Ok(()) => format!("update by {}", t.id()),
                Err(why) => format!("{}: not updated, {why}", t.id()),
            })
            .collect();
        match verdicts.is_empty() {
            true => lines.push(format!("{what}: reported only")),
            false => lines.push(format!("{what}: {}", verdicts.join("; "))),
        }
    }
    if found.is_empty() {
        lines.push("No updates available.".into());
    }
    // The order the docker triggers would go in, per host, with what they would touch besides.
    let wanted: Vec<&crate::model::UpdateCandidate> = found
        .iter()
        .filter(|c| triggers.docker.iter().any(|t| t.wants(c).is_ok()))
        .collect();
    let hosts: std::collections::BTreeSet<&String> =
        wanted.iter().map(|c| &c.container.watcher).collect();
    for host in hosts {
        let Some(config) = loaded.config.watcher.get(host) else {
            continue;
        };
        let Ok(engine) = Engine::connect(host, config).await else {
            continue;
        };
        let Ok(mut nodes) = engine.nodes().await else {
            continue;
        };
        for node in &mut nodes {
            node.updating = wanted.iter().any(|c| c.container.id == node.id);
        }
        let plan = crate::update::order::plan(&nodes);
        let name = |id: &String| {
            nodes
                .iter()
                .find(|n| &n.id == id)
                .map(|n| n.name.clone())
                .unwrap_or_else(|| id.clone())
        };
        let steps: Vec<String> = plan
            .order
            .iter()
            .filter(|id| !plan.skipped.iter().any(|(s, _)| s == *id))
            .map(|id| {
                if plan.recreate_for_network.contains(id) || plan.restart.contains(id) {
                    format!(
                        "{} (depends on an update: stopped, then started again)",
                        name(id)
                    )
                } else {
                    name(id)
                }
            })
            .collect();
        lines.push(format!("{host}: in this order: {}", steps.join(", ")));
        for (id, reason) in &plan.skipped {
            lines.push(format!("{host}/{}: skipped, {reason}", name(id)));
        }
    }
    for err in &outcome.errors {
        lines.push(err.to_string());
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

    #[test]
    fn a_burst_of_tags_is_one_re_check_after_a_quiet_spell_or_the_longest_wait() {
        let start = Instant::now();
        let mut pending = None;
        for n in 0..10 {
            pending = Some(Retagged::add(
                pending,
                start + Duration::from_millis(100 * n),
            ));
        }
        let burst = pending.expect("tagged");
        assert_eq!(burst.count, 10);
        assert_eq!(
            burst.due(),
            start + Duration::from_millis(900) + RETAG_QUIET
        );

        // Tagged every second without a pause: re-checked at the longest wait all the same.
        let mut pending = None;
        for n in 0..30 {
            pending = Some(Retagged::add(pending, start + Duration::from_secs(n)));
        }
        assert_eq!(pending.expect("tagged").due(), start + RETAG_MAX_WAIT);
    }
}
