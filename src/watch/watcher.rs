//! Watchers, one per Docker host. A cycle lists a host's containers, checks each through the
//! registry session it shares with the other watchers of that cycle (a reference used on two
//! hosts is asked about once), and publishes what it found on the bus. Watchers never call
//! triggers: whatever acts on a finding subscribes to the bus.

use crate::bus::{Bus, Event};
use crate::config::{WatcherConfig, name_patterns};
use crate::docker::{DockerError, Engine, swarm};
use crate::model::{ContainerInfo, Holds, ImageRef, Kind, Report, UpdateCandidate};
use crate::registry::{RegistryClient, Session};
use crate::watch::finding::{self, Finding, Status};
use crate::watch::listing::{ListedContainer, Listing};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

/// What a cycle found: every container with its finding, and the engines that did not answer.
#[derive(Debug)]
pub struct Outcome {
    pub listing: Listing,
    pub errors: Vec<DockerError>,
    /// Updates that failed or were rolled back while this cycle's findings were acted on
    /// (set by `run --once`, which waits for the triggers): its own exit status.
    pub updates_failed: usize,
}

impl Outcome {
    /// A check failed (a registry error) or an engine could not be reached.
    pub fn failed(&self) -> bool {
        !self.errors.is_empty()
            || self
                .listing
                .containers
                .iter()
                .any(|c| c.status == Status::Failed)
    }
}

/// One cycle over `watchers` through one registry session, each watcher on its own: its
/// findings are published on `bus` as soon as each is made (a registry that hangs delays only
/// its own containers' findings), its report once all of its containers are in (a slow host
/// does not hold back another's). Cancel-safe: dropped midway, it leaves every finding made so
/// far published and publishes no report for a watcher it did not finish, since the counts
/// would be of a part of it. An update a hold in `holds` covers is reported `held` and never
/// published as available (see `watch::hold`).
pub async fn cycle<'w>(
    watchers: impl IntoIterator<Item = (&'w String, &'w WatcherConfig)>,
    client: &RegistryClient,
    bus: &Bus,
    holds: &Holds,
) -> Outcome {
    let session = client.session();
    let passes = watchers
        .into_iter()
        .map(|(name, watcher)| pass(name, watcher, &session, bus, holds));
    let mut listing = Listing::default();
    let mut errors = Vec::new();
    for result in futures_util::future::join_all(passes).await {
        match result {
            Ok(containers) => listing.containers.extend(containers),
            // Reported by the caller: one line for `check`, a log line for the daemon.
            Err(err) => errors.push(err),
        }
    }
    Outcome {
        listing,
        errors,
        updates_failed: 0,
    }
}

/// One watcher's part of a cycle: list, check every container concurrently, publish each
/// finding as it is made, then the watcher's report. An engine that cannot be reached is
/// reported too, with no `listed` names: that says nothing about its containers.
async fn pass(
    name: &str,
    watcher: &WatcherConfig,
    session: &Session<'_>,
    bus: &Bus,
    holds: &Holds,
) -> Result<Vec<ListedContainer>, DockerError> {
    bus.publish(Event::CheckStarted {
        watcher: name.to_string(),
    });
    let mut report = Report {
        watcher: name.to_string(),
        ..Report::default()
    };
    let containers = match list(name, watcher).await {
        Ok(containers) => containers,
        Err(err) => {
            bus.publish(Event::CheckCompleted(report));
            return Err(err);
        }
    };
    report.listed = Some(containers.iter().map(|c| c.name.clone()).collect());
    let mut checks: FuturesUnordered<_> = containers
        .iter()
        .enumerate()
        .map(|(i, c)| async move { (i, finding::check(session, c, watcher).await) })
        .collect();
    let mut listed: Vec<Option<ListedContainer>> = vec![None; containers.len()];
    while let Some((i, finding)) = checks.next().await {
        let row = publish(bus, &containers[i], finding, holds);
        report.scanned += 1;
        match row.status {
            Status::UpdateAvailable => report.updates += 1,
            Status::UpToDate => report.up_to_date += 1,
            Status::Skipped => report.skipped += 1,
            Status::Failed => report.failed += 1,
            Status::Held => report.held += 1,
        }
        listed[i] = Some(row);
    }
    drop(checks);
    bus.publish(Event::CheckCompleted(report));
    Ok(listed.into_iter().flatten().collect())
}

/// The containers `watcher` looks after on its engine now, and on a Swarm manager its
/// services, after the containers.
async fn list(name: &str, watcher: &WatcherConfig) -> Result<Vec<ContainerInfo>, DockerError> {
    let engine = Engine::connect(name, watcher).await?;
    let mut containers = engine.containers(watcher.watchall).await?;
    if watches_services(&engine, watcher).await {
        containers.extend(engine.services().await?);
    }
    let filter = Filter::new(watcher);
    Ok(containers
        .into_iter()
        .filter(|c| filter.watches(c))
        .collect())
}

/// Whether `watcher` lists Swarm services: as its `swarm` setting says, else when its engine
/// is a manager (a worker cannot list them). Asked at every listing, since a node can join or
/// leave a Swarm while tidewatch runs.
async fn watches_services(engine: &Engine, watcher: &WatcherConfig) -> bool {
    match watcher.swarm {
        Some(swarm) => swarm,
        // Only a guess: an engine that will not say keeps its containers watched as before.
        None => engine.is_swarm_manager().await.unwrap_or_else(|err| {
            tracing::debug!(error = %err, "Cannot tell whether the engine is a Swarm manager.");
            false
        }),
    }
}

/// Whether a container in Docker state `state` is one the engine lists without `all` (what a
/// watcher without `watchall` sees): running, and also restarting or paused, which the engine
/// counts as running. So a restarting container is checked whether a cycle or a Docker event
/// finds it, as Watchtower's `--include-restarting`.
fn listed_without_all(state: &str) -> bool {
    matches!(state, "running" | "restarting" | "paused")
}

/// Checks one container the engine just reported started, as a cycle would have, and publishes
/// the finding. `None` when it is gone again or, stopped, outside what the watcher lists.
pub async fn check_container(
    engine: &Engine,
    watcher: &WatcherConfig,
    id: &str,
    client: &RegistryClient,
    bus: &Bus,
    holds: &Holds,
) -> Result<Option<ListedContainer>, DockerError> {
    let Some(container) = engine.container(id).await? else {
        return Ok(None);
    };
    if (!listed_without_all(&container.state) && !watcher.watchall)
        || !Filter::new(watcher).watches(&container)
    {
        return Ok(None);
    }
    let finding = finding::check(&client.session(), &container, watcher).await;
    Ok(Some(publish(bus, &container, finding, holds)))
}

/// Which containers a watcher looks after, from its `scope` and its name `include`/`exclude`,
/// compiled once per listing rather than once per container.
struct Filter<'w> {
    scope: Option<&'w str>,
    include: Option<Vec<regex::Regex>>,
    exclude: Vec<regex::Regex>,
}

impl<'w> Filter<'w> {
    /// The patterns were validated with the configuration; should one fail here anyway, an
    /// `include` that cannot be read matches nothing rather than everything.
    fn new(watcher: &'w WatcherConfig) -> Self {
        let include = watcher
            .include
            .as_deref()
            .map(|list| name_patterns(list).unwrap_or_default());
        let exclude = watcher
            .exclude
            .as_deref()
            .and_then(|list| name_patterns(list).ok())
            .unwrap_or_default();
        Filter {
            scope: watcher.scope.as_deref(),
            include,
            exclude,
        }
    }

    /// With a `scope`, only the containers labelled with it, as Watchtower's `--scope`; then
    /// names as `include` and `exclude` say. Never a Swarm task's container, on whatever node
    /// it runs: its service is the unit (watched through a manager), and re-creating a task
    /// behind Swarm's back only makes Swarm replace it again.
    fn watches(&self, container: &ContainerInfo) -> bool {
        if container.kind == Kind::Container
            && container.labels.contains_key(swarm::SERVICE_ID_LABEL)
        {
            return false;
        }
        if self
            .scope
            .is_some_and(|scope| crate::watch::labels::scope(&container.labels) != Some(scope))
        {
            return false;
        }
        let name = container.name.as_str();
        if let Some(include) = &self.include
            && !include.iter().any(|p| p.is_match(name))
        {
            return false;
        }
        !self.exclude.iter().any(|p| p.is_match(name))
    }
}

/// Publishes what was found of `container`, after its hold (a held update is checked and
/// reported, never published as available), and returns it as the report's row.
fn publish(
    bus: &Bus,
    container: &ContainerInfo,
    finding: Finding,
    holds: &Holds,
) -> ListedContainer {
    let (finding, hold) =
        crate::watch::hold::apply(&container.watcher, &container.name, finding, holds);
    let mut row = ListedContainer::new(container, finding.clone());
    row.hold = hold;
    bus.publish(Event::ContainerSeen(container.clone()));
    bus.publish(Event::ContainerChecked(Box::new(row.clone())));
    if finding.status != Status::UpdateAvailable {
        return row;
    }
    let (Some(update), Ok(current)) = (&finding.update, container.reference()) else {
        return row;
    };
    let target = ImageRef {
        tag: Some(update.tag.clone()),
        ..current.clone()
    };
    bus.publish(Event::UpdateAvailable(UpdateCandidate {
        container: container.clone(),
        current,
        target,
        digest: update.digest.clone(),
        kind: update.kind,
        display_name: finding
            .display_name
            .clone()
            .unwrap_or_else(|| container.name.clone()),
        link: update.link.clone(),
    }));
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_started_container_is_checked_in_the_states_a_listing_shows() {
        for state in ["running", "restarting", "paused"] {
            assert!(listed_without_all(state), "{state}");
        }
        for state in ["exited", "created", "dead", "removing"] {
            assert!(!listed_without_all(state), "{state}");
        }
    }
}
