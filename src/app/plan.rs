//! `tidewatch plan`: what would be updated now, in which order, and why the others would
//! not; nothing changes.

use crate::bus::{Bus, Event};
use crate::config::Loaded;
use crate::docker::Engine;
use crate::registry::RegistryClient;

use crate::app::Triggers;
use crate::watch::watcher::{self};

use super::*;

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
    let holds = stored_holds(loaded).await;
    let outcome = watcher::cycle(&loaded.config.watcher, &client, &bus, &holds).await;
    drop(bus);
    let found = collector.await.unwrap_or_default();
    let mut lines = Vec::new();
    if triggers.docker.is_empty() && triggers.compose.is_empty() {
        lines.push(
            "No docker or compose trigger is configured: tidewatch only reports (monitor only)."
                .to_string(),
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
        let mut verdicts: Vec<String> = triggers
            .docker
            .iter()
            .map(|t| match t.wants(c) {
                Ok(()) if c.container.kind == crate::model::Kind::Service => {
                    format!("update by {}, through Swarm's rolling update", t.id())
                }
                Ok(()) => format!("update by {}", t.id()),
                Err(why) => format!("{}: not updated, {why}", t.id()),
            })
            .collect();
        // Every acting trigger: a compose trigger rewrites files, and says which, or why not.
        verdicts.extend(
            triggers
                .compose
                .iter()
                .filter(|t| t.wants(c))
                .map(|t| match t.plan(c) {
                    Ok(what) => format!("update by {} ({what})", t.id()),
                    Err(why) => format!("{}: not updated, {why}", t.id()),
                }),
        );
        match verdicts.is_empty() {
            true => lines.push(format!("{what}: reported only")),
            false => lines.push(format!("{what}: {}", verdicts.join("; "))),
        }
    }
    if found.is_empty() {
        lines.push("No updates available.".into());
    }
    // Held updates are not offered: say so, with who, when and why.
    for c in outcome
        .listing
        .containers
        .iter()
        .filter(|c| c.hold.is_some())
    {
        let tag = c.update.as_ref().map(|u| u.tag.as_str()).unwrap_or("?");
        lines.push(format!(
            "{}/{}: {} → {tag}: not updated, {}",
            c.watcher,
            c.name,
            c.image,
            c.reason.as_deref().unwrap_or("held")
        ));
    }
    // The order the docker triggers would go in, per host, with what they would touch besides.
    // Swarm services have no order: Swarm rolls each out on its own.
    let wanted: Vec<&crate::model::UpdateCandidate> = found
        .iter()
        .filter(|c| c.container.kind == crate::model::Kind::Container)
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
        let Ok(wiring) = engine.nodes().await else {
            continue;
        };
        let mut nodes: Vec<crate::update::order::Node> =
            wiring.into_iter().map(Into::into).collect();
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
