//! `tidewatch run` (the daemon) and `run --once`: the watchers on their schedules, each
//! engine's events followed, until shutdown.

use crate::bus::{Bus, Event};
use crate::config::{Loaded, WatcherConfig};
use crate::docker::{Engine, EngineEvent};
use crate::registry::RegistryClient;
use crate::watch::schedule;

use crate::app::Triggers;
use crate::watch::watcher::{self, Outcome};
use futures_util::StreamExt;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::*;

/// `tidewatch run --once`: one cycle of the daemon, with everything that subscribes to the bus
/// running and allowed to finish (notifications sent, the store written) before the report is
/// returned.
pub async fn run_once(loaded: &Loaded, triggers: Triggers) -> anyhow::Result<Outcome> {
    let bus = Bus::default();
    let acted = tokio::spawn(what_the_triggers_did(bus.subscribe("exit-status")));
    let mut outcome = one_cycle(loaded, triggers, bus, &[]).await?;
    let acted = acted.await.unwrap_or_default();
    outcome.updates_failed = acted.failed;
    show_applied(loaded, &mut outcome, &acted.applied).await;
    Ok(outcome)
}

/// What the acting triggers did in one cycle, for `run --once`'s report and exit status.
#[derive(Debug, Default)]
struct Acted {
    /// Updates that failed or were rolled back.
    failed: usize,
    /// `(watcher, old container ID, new container ID)` of each update applied.
    applied: Vec<(String, String, String)>,
}

/// Collects until the bus closes: a script running `run --once` must see a failed update in
/// the exit status, not only in the log, and the report what runs now.
async fn what_the_triggers_did(mut events: crate::bus::Subscriber) -> Acted {
    let mut acted = Acted::default();
    while let Some(event) = events.recv().await {
        match event.as_ref() {
            Event::UpdateFailed { .. } | Event::RolledBack { .. } => acted.failed += 1,
            Event::UpdateApplied {
                candidate,
                new_container_id,
            } => acted.applied.push((
                candidate.container.watcher.clone(),
                candidate.container.id.clone(),
                new_container_id.clone(),
            )),
            _ => {}
        }
    }
    acted
}

/// The report was made before the updates: each container updated is shown as it is now (its
/// new ID and image, up to date), not as the check found it.
async fn show_applied(
    loaded: &Loaded,
    outcome: &mut Outcome,
    applied: &[(String, String, String)],
) {
    use crate::model::finding::{Finding, ListedContainer, Status};
    for (watcher, old_id, new_id) in applied {
        let Some(config) = loaded.config.watcher.get(watcher) else {
            continue;
        };
        let Ok(engine) = Engine::connect(watcher, config).await else {
            continue;
        };
        let Ok(Some(now)) = engine.container(new_id).await else {
            continue;
        };
        if let Some(row) = outcome
            .listing
            .containers
            .iter_mut()
            .find(|row| &row.watcher == watcher && &row.id == old_id)
        {
            let finding = Finding {
                status: Status::UpToDate,
                reason: None,
                update: None,
                display_name: row.display_name.take(),
            };
            *row = ListedContainer::new(&now, finding);
        }
    }
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
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let server = start_server(loaded, &triggers, &client, &bus, &store, &stopped).await?;
    let subscribers = Subscribers::start(&bus, &store, triggers, loaded, client.clone());
    let mut watchers = tokio::task::JoinSet::new();
    // Watchers on the same schedule check together, through one registry session: two
    // watchers of one host (socket and TCP), or hosts running the same images, ask the registry
    // once per reference, as `run --once` does. One jitter for the group, drawn per cycle.
    /// (cron, interval, jitter): what a group of watchers shares.
    type Timing = (String, Option<u64>, u64);
    let mut groups: BTreeMap<Timing, Vec<(String, WatcherConfig)>> = BTreeMap::new();
    for (name, watcher) in &loaded.config.watcher {
        groups
            .entry((watcher.cron.clone(), watcher.interval, watcher.jitter))
            .or_default()
            .push((name.clone(), watcher.clone()));
    }
    if !loaded.config.server.watchtower.polls {
        // Watchtower's rule: with its update API on, checks happen when CI asks.
        tracing::info!(
            "No scheduled checks: updates come through POST /v1/update (WATCHTOWER_HTTP_API_UPDATE)."
        );
        groups.clear();
    }
    for ((cron, interval, jitter), members) in groups {
        let (schedule, cron) = match interval {
            Some(seconds) => (
                schedule::Schedule::every(seconds, jitter),
                format!("every {seconds}s"),
            ),
            None => (schedule::Schedule::new(&cron, jitter)?, cron),
        };
        let names: Vec<String> = members.iter().map(|(name, _)| name.clone()).collect();
        let together = names.join(",");
        let (client, bus, mut stopped) = (client.clone(), bus.clone(), stopped.clone());
        let store = store.clone();
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
                let started = std::time::Instant::now();
                // Read each cycle: `tidewatch rollback`, `hold` and `release` write them beside
                // the daemon.
                let holds = holds(&store).await;
                let cycle = watcher::cycle(members.iter().map(|(n, w)| (n, w)), &client, &bus, &holds);
                let Some(outcome) = unless_stopped(&mut stopped, &together, cycle).await else {
                    break;
                };
                crate::server::api::metrics::cycle_finished(started.elapsed());
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
            watchers.spawn(follow_events(
                name,
                watcher,
                client,
                bus,
                store.clone(),
                stopped,
            ));
        }
    }
    shutdown.await;
    tracing::info!("Shutting down: checks under way are cut short, what they found is kept.");
    let _ = stop.send(true);
    if let Some(server) = server {
        let _ = server.await;
    }
    while watchers.join_next().await.is_some() {}
    subscribers.finish(bus).await;
    tracing::info!("Stopped.");
    Ok(())
}

/// Binds the server's port (a port in use stops start-up here) and serves until the daemon
/// stops. `None` when the server is off.
async fn start_server(
    loaded: &Loaded,
    triggers: &Triggers,
    client: &Arc<RegistryClient>,
    bus: &Bus,
    store: &crate::store::Store,
    stopped: &tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    let config = &loaded.config.server;
    if !config.enabled {
        return Ok(None);
    }
    let listening = crate::server::Listening::bind(config).await?;
    let control = super::control::DaemonControl::new(
        loaded,
        triggers,
        client.clone(),
        bus,
        store,
        stopped.clone(),
    );
    let state = crate::server::AppState::new(
        store.clone(),
        control,
        Arc::new(loaded.config.clone()),
        crate::server::api::metrics::install(),
    )
    .with_sources(client.clone(), {
        let bus = bus.weak_lag();
        move || bus.load(std::sync::atomic::Ordering::Relaxed)
    });
    tokio::spawn(crate::server::api::metrics::record(
        bus.subscribe("metrics"),
    ));
    tracing::info!(
        address = %listening.local_addr(),
        tls = listening.is_tls(),
        "Serving the API."
    );
    let mut stopped = stopped.clone();
    let shutdown = async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    // The page follows the bus from before the first check, like the store.
    let page =
        crate::server::page::Page::start(bus, Some(store.clone()), loaded, triggers.docker.clone())
            .await;
    let router = crate::server::router(state).layer(axum::Extension(page));
    Ok(Some(tokio::spawn(async move {
        if let Err(err) = listening.serve(router, shutdown).await {
            tracing::error!(error = %err, "The API stopped serving.");
        }
    })))
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
    store: crate::store::Store,
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
                    let holds = holds(&store).await;
                    let cycle = watcher::cycle([(&name, &watcher)], &client, &bus, &holds);
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
                        let holds = holds(&store).await;
                        let cycle = watcher::cycle([(&name, &watcher)], &client, &bus, &holds);
                        if unless_stopped(&mut stopped, &name, cycle).await.is_none() {
                            return;
                        }
                        continue;
                    };
                    match event {
                        Some(Ok(EngineEvent::ContainerStarted(id))) => {
                            let holds = holds(&store).await;
                            let check = watcher::check_container(
                                &engine, &watcher, &id, &client, &bus, &holds,
                            );
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
