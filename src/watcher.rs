//! Watchers, one per Docker host. A cycle lists a host's containers, checks each through the
//! registry session it shares with the other watchers of that cycle (a reference used on two
//! hosts is asked about once), and publishes what it found on the bus. Watchers never call
//! triggers: whatever acts on a finding subscribes to the bus.

use crate::bus::{Bus, Event};
use crate::config::WatcherConfig;
use crate::docker::{DockerError, Engine};
use crate::finding::{self, Finding, Status};
use crate::listing::{ListedContainer, Listing};
use crate::model::{ContainerInfo, ImageRef, Report, UpdateCandidate};
use crate::registry::RegistryClient;
use std::collections::BTreeMap;

/// What a cycle found: every container with its finding, and the engines that did not answer.
#[derive(Debug)]
pub struct Outcome {
    pub listing: Listing,
    pub errors: Vec<DockerError>,
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

/// One cycle over `watchers`, publishing each finding and a report per watcher on `bus`.
pub async fn cycle<'w>(
    watchers: impl IntoIterator<Item = (&'w String, &'w WatcherConfig)>,
    client: &RegistryClient,
    bus: &Bus,
) -> Outcome {
    let watchers: Vec<(&String, &WatcherConfig)> = watchers.into_iter().collect();
    let lists = watchers.iter().map(|(name, watcher)| async move {
        let engine = Engine::connect(name, watcher).await?;
        let containers = engine.containers(watcher.watchall).await?;
        Ok::<_, DockerError>(
            containers
                .into_iter()
                .filter(|c| in_scope(watcher, c))
                .map(|c| (c, watcher.watchbydefault))
                .collect::<Vec<_>>(),
        )
    });
    let mut containers = Vec::new();
    let mut errors = Vec::new();
    let mut listed: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for ((name, _), result) in watchers
        .iter()
        .zip(futures_util::future::join_all(lists).await)
    {
        match result {
            Ok(found) => {
                listed.insert(
                    name.to_string(),
                    found.iter().map(|(c, _)| c.name.clone()).collect(),
                );
                containers.extend(found)
            }
            // Reported by the caller: one line for `check`, a log line for the daemon.
            Err(err) => errors.push(err),
        }
    }
    let session = client.session();
    let findings = futures_util::future::join_all(
        containers
            .iter()
            .map(|(c, watch_by_default)| finding::check(&session, c, *watch_by_default)),
    )
    .await;

    let mut reports: BTreeMap<String, Report> = watchers
        .iter()
        .map(|(name, _)| {
            let report = Report {
                watcher: name.to_string(),
                listed: listed.remove(name.as_str()),
                ..Report::default()
            };
            (name.to_string(), report)
        })
        .collect();
    for ((container, _), finding) in containers.iter().zip(&findings) {
        publish(bus, container, finding);
        if let Some(report) = reports.get_mut(&container.watcher) {
            report.scanned += 1;
            match finding.status {
                Status::UpdateAvailable => report.updates += 1,
                Status::UpToDate => report.up_to_date += 1,
                Status::Skipped => report.skipped += 1,
                Status::Failed => report.failed += 1,
            }
        }
    }
    for report in reports.into_values() {
        bus.publish(Event::CheckCompleted(report));
    }
    let listing = Listing {
        containers: containers
            .iter()
            .zip(findings)
            .map(|((c, _), f)| ListedContainer::new(c, f))
            .collect(),
    };
    Outcome { listing, errors }
}

/// Checks one container the engine just reported started, as a cycle would have, and publishes
/// the finding. `None` when it is gone again or, stopped, outside what the watcher lists.
pub async fn check_container(
    engine: &Engine,
    watcher: &WatcherConfig,
    id: &str,
    client: &RegistryClient,
    bus: &Bus,
) -> Result<Option<Finding>, DockerError> {
    let Some(container) = engine.container(id).await? else {
        return Ok(None);
    };
    if (container.state != "running" && !watcher.watchall) || !in_scope(watcher, &container) {
        return Ok(None);
    }
    let finding = finding::check(&client.session(), &container, watcher.watchbydefault).await;
    publish(bus, &container, &finding);
    Ok(Some(finding))
}

/// With a `scope`, a watcher sees only the containers labelled with it, as Watchtower's
/// `--scope`; without, every container.
fn in_scope(watcher: &WatcherConfig, container: &ContainerInfo) -> bool {
    match &watcher.scope {
        Some(scope) => crate::labels::scope(&container.labels) == Some(scope.as_str()),
        None => true,
    }
}

fn publish(bus: &Bus, container: &ContainerInfo, finding: &Finding) {
    bus.publish(Event::ContainerSeen(container.clone()));
    bus.publish(Event::ContainerChecked(Box::new(ListedContainer::new(
        container,
        finding.clone(),
    ))));
    let (Some(update), Ok(current)) = (&finding.update, container.reference()) else {
        return;
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
}
