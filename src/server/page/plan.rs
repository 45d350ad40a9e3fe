//! The plan of one container's update, shown before the page runs it: what `tidewatch plan`
//! says, limited to that container. Changes nothing: it reads the last check's candidate, asks
//! the docker trigger whether it would act, and asks the engine what else the update touches.

use crate::config::WatcherConfig;
use crate::docker::Engine;
use crate::model::UpdateCandidate;
use crate::update::order;
use crate::update::trigger::{Declined, DockerTrigger};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Debug, Clone, Serialize)]
pub struct PlanView {
    /// Whether running the chosen trigger now would update the container.
    pub applicable: bool,
    /// What would happen, one sentence a line, in order.
    pub lines: Vec<String>,
}

/// The plan for `candidate` (the last check's, `None` when it found no update) with the
/// docker trigger `trigger` (`docker.NAME`; the first one when unset).
pub async fn plan(
    name: &str,
    status: &str,
    candidate: Option<UpdateCandidate>,
    triggers: &[Arc<DockerTrigger>],
    trigger: Option<&str>,
    watchers: &BTreeMap<String, WatcherConfig>,
) -> PlanView {
    let Some(candidate) = candidate else {
        let line = match status {
            // Remembered by the store from before this daemon started; the details a plan
            // needs come with the next check.
            "update-available" => format!(
                "The update of {name} was found before tidewatch last started: check now, then \
                 plan it."
            ),
            _ => format!("No update is available for {name}: nothing to do."),
        };
        return PlanView {
            applicable: false,
            lines: vec![line],
        };
    };
    let mut lines = vec![format!(
        "{}: {} → {} ({}).",
        candidate.display_name,
        candidate.current.familiar(),
        candidate.target.familiar(),
        serde_json::to_value(candidate.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    )];
    let chosen = triggers
        .iter()
        .find(|t| trigger.is_none_or(|wanted| t.id().to_string() == wanted));
    let Some(chosen) = chosen else {
        lines.push("No docker trigger is configured: tidewatch only reports.".into());
        return PlanView {
            applicable: false,
            lines,
        };
    };
    let applicable = match chosen.wants(&candidate) {
        Ok(()) => {
            lines.push(format!("{} updates it.", chosen.id()));
            true
        }
        // Auto decides what happens unasked; a click is asking.
        Err(Declined::NotAuto) => {
            lines.push(format!(
                "{} updates it when asked (auto is off: only this click does).",
                chosen.id()
            ));
            true
        }
        Err(why) => {
            lines.push(format!("{} would not update it: {why}.", chosen.id()));
            false
        }
    };
    if applicable {
        lines.extend(order_lines(&candidate, watchers).await);
        lines.push(
            "The image is pulled, the container re-created with the same settings and started; \
             it must pass its health gate, or the old container is put back (rolled back)."
                .into(),
        );
    }
    PlanView { applicable, lines }
}

/// What else the update touches on its host, and in which order; nothing when the engine
/// cannot be asked (the update itself will say why).
async fn order_lines(
    candidate: &UpdateCandidate,
    watchers: &BTreeMap<String, WatcherConfig>,
) -> Vec<String> {
    let host = &candidate.container.watcher;
    let Some(config) = watchers.get(host) else {
        return Vec::new();
    };
    let Ok(engine) = Engine::connect(host, config).await else {
        return vec![format!("{host}: the engine did not answer.")];
    };
    let Ok(wiring) = engine.nodes().await else {
        return vec![format!("{host}: the engine did not list its containers.")];
    };
    let mut nodes: Vec<order::Node> = wiring.into_iter().map(Into::into).collect();
    for node in &mut nodes {
        node.updating = node.id == candidate.container.id;
    }
    let plan = order::plan(&nodes);
    let name = |id: &String| {
        nodes
            .iter()
            .find(|n| &n.id == id)
            .map(|n| n.name.clone())
            .unwrap_or_else(|| id.clone())
    };
    let mut lines = Vec::new();
    let others: Vec<String> = plan
        .order
        .iter()
        .filter(|id| **id != candidate.container.id)
        .filter(|id| plan.recreate_for_network.contains(*id) || plan.restart.contains(*id))
        .map(name)
        .collect();
    if others.is_empty() {
        lines.push("No other container depends on it: only it is stopped.".into());
    } else {
        lines.push(format!(
            "Stopped and started again around it, as they depend on it: {}.",
            others.join(", ")
        ));
    }
    for (id, reason) in &plan.skipped {
        lines.push(format!("{}: left alone, {reason}.", name(id)));
    }
    lines
}
