//! What each command does with a loaded configuration. Like `main.rs`, this is the edge where
//! typed errors become one line for a person.

use crate::bus::{Bus, Event, Subscriber};
use crate::config::{ConfigError, ConfigErrors, Loaded, Origin, WatcherConfig};
use crate::docker::{Engine, EngineEvent};
use crate::registry::credentials::Credential;
use crate::registry::{ClientSettings, RegistryClient};
use crate::schedule;
use crate::store::Store;
use crate::trigger::{self, NotifierTrigger, runner};
use crate::watcher::{self, Outcome};
use futures_util::StreamExt;
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
pub fn triggers(loaded: &Loaded) -> Result<Vec<NotifierTrigger>, ConfigErrors> {
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
struct Subscribers(tokio::task::JoinSet<()>);

impl Subscribers {
    fn start(bus: &Bus, store: &Store, triggers: Vec<NotifierTrigger>) -> Self {
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(log_events(bus.subscribe("log")));
        tasks.spawn(crate::store::record(store.clone(), bus.subscribe("store")));
        for trigger in triggers {
            let events = bus.subscribe(trigger.id().to_string());
            let context = runner::Context {
                store: Some(store.clone()),
                bus: bus.weak(),
            };
            tasks.spawn(trigger.run(events, context));
        }
        Subscribers(tasks)
    }

    /// Waits for every subscriber; call after dropping the last `Bus`.
    async fn finish(mut self) {
        while self.0.join_next().await.is_some() {}
    }
}

fn open_store(loaded: &Loaded) -> anyhow::Result<Store> {
    let store = Store::open(&loaded.config.store.location())?;
    tracing::debug!(path = %store.path().display(), "Store open.");
    Ok(store)
}

/// `tidewatch run --once`: one cycle of the daemon, with everything that subscribes to the bus
/// running and allowed to finish (notifications sent, the store written) before the report is
/// returned.
pub async fn run_once(loaded: &Loaded, triggers: Vec<NotifierTrigger>) -> anyhow::Result<Outcome> {
    let client = RegistryClient::new(&loaded.config.registry, client_settings(loaded))?;
    let store = open_store(loaded)?;
    let bus = Bus::default();
    let subscribers = Subscribers::start(&bus, &store, triggers);
    let outcome = watcher::cycle(&loaded.config.watcher, &client, &bus).await;
    drop(bus);
    subscribers.finish().await;
    Ok(outcome)
}

/// `tidewatch run`: every watcher on its schedule until `shutdown` resolves. A cycle under way
/// when it does is finished, then the triggers and the store finish what they hold; nothing
/// starts after.
pub async fn run(
    loaded: &Loaded,
    triggers: Vec<NotifierTrigger>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let client = Arc::new(RegistryClient::new(
        &loaded.config.registry,
        client_settings(loaded),
    )?);
    let store = open_store(loaded)?;
    let bus = Bus::default();
    let subscribers = Subscribers::start(&bus, &store, triggers);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut watchers = tokio::task::JoinSet::new();
    for (name, watcher) in &loaded.config.watcher {
        let schedule = schedule::Schedule::new(&watcher.cron, watcher.jitter)?;
        let (name, watcher) = (name.clone(), watcher.clone());
        let (client, bus, mut stopped) = (client.clone(), bus.clone(), stopped.clone());
        watchers.spawn(async move {
            tracing::info!(watcher = %name, cron = %watcher.cron, "Watcher started.");
            // As WUD's watchatstart: a first check now, then on the schedule.
            let mut next = Some(tokio::time::Instant::now());
            while let Some(at) = next {
                tokio::select! {
                    _ = tokio::time::sleep_until(at) => {}
                    _ = stopped.changed() => break,
                }
                let outcome = watcher::cycle([(&name, &watcher)], &client, &bus).await;
                for err in &outcome.errors {
                    tracing::error!(watcher = %name, error = %err, "Engine not reachable; its containers were not checked.");
                }
                drop(outcome);
                crate::memory::trim();
                next = schedule.next();
            }
            tracing::info!(watcher = %name, "Watcher stopped.");
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
    tracing::info!("Shutting down: finishing cycles under way.");
    let _ = stop.send(true);
    while watchers.join_next().await.is_some() {}
    drop(bus);
    subscribers.finish().await;
    tracing::info!("Stopped.");
    Ok(())
}

/// Checks containers as the engine reports them started, and re-checks the watcher when an image
/// is tagged. A lost stream (engine restart) is reconnected with backoff, and the watcher is
/// re-listed then, since events were missed meanwhile.
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
                    watcher::cycle([(&name, &watcher)], &client, &bus).await;
                }
                backoff = Duration::from_secs(1);
                let mut events = std::pin::pin!(engine.events());
                loop {
                    let event = tokio::select! {
                        event = events.next() => event,
                        _ = stopped.changed() => return,
                    };
                    match event {
                        Some(Ok(EngineEvent::ContainerStarted(id))) => {
                            let checked =
                                watcher::check_container(&engine, &watcher, &id, &client, &bus)
                                    .await;
                            if let Err(err) = checked {
                                tracing::warn!(watcher = %name, container = %id, error = %err, "Started container not checked.");
                            }
                        }
                        Some(Ok(EngineEvent::ImageTagged)) => {
                            watcher::cycle([(&name, &watcher)], &client, &bus).await;
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
            _ = stopped.changed() => return,
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
        writeln!(out, "No history yet ({}).", location.display())?;
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
pub async fn notify_test(triggers: Vec<NotifierTrigger>, wanted: &str) -> anyhow::Result<String> {
    let known: Vec<String> = triggers.iter().map(|t| t.id().to_string()).collect();
    let wanted = wanted.to_ascii_lowercase();
    let Some(trigger) = triggers.into_iter().find(|t| t.id().to_string() == wanted) else {
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
