//! `tidewatch update`: apply updates now through the docker trigger, whatever its `auto`.

use crate::bus::{Bus, Event, Subscriber};
use crate::config::Loaded;
use crate::update::trigger as docker_trigger;

use crate::app::Triggers;
use std::sync::Arc;

use super::*;

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
        trigger.leave_to(triggers.claims());
        triggers.docker.push(Arc::new(trigger));
        triggers.tell_outcomes();
    }
    for trigger in &triggers.docker {
        trigger.force(names.clone());
    }
    let bus = Bus::default();
    let collector = tokio::spawn(collect_actions(bus.subscribe("update")));
    let outcome = one_cycle(loaded, triggers, bus, &names).await?;
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
                (crate::watch::finding::Status::UpdateAvailable, _) => {
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
