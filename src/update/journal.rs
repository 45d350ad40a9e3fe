//! The update journal: each step of an update is written down before it is taken, so that a
//! crash (or SIGKILL, or a power cut) at any point leaves enough to finish or undo it at the
//! next start. The store keeps it; [`recover`] reads it back.
//!
//! Recovery is deliberately simple: unless the journal says the new container had passed its
//! health gate, the old container is put back — it was known to work, the new one was not.

use crate::config::WatcherConfig;
use crate::docker::Engine;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where an update stood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// About to rename the old container aside.
    Renaming,
    Stopping,
    Creating,
    /// The new container exists (`new_id`); about to start it.
    Starting,
    /// Started; the health gate is watching it.
    Gating,
    /// The gate passed: only the old container's removal is left.
    Removing,
}

/// One update under way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub watcher: String,
    /// The container's name, which the old one gives up and the new one takes.
    pub name: String,
    pub old_id: String,
    pub was_running: bool,
    pub new_id: Option<String>,
    pub step: Step,
}

/// Where the journal is kept. Writes must be durable when the call returns.
#[async_trait::async_trait]
pub trait Journal: Send + Sync {
    async fn record(&self, entry: &Entry);
    async fn clear(&self, watcher: &str, name: &str);
}

/// No journal: for callers that do not keep one (tests of the executor alone).
pub struct NoJournal;

#[async_trait::async_trait]
impl Journal for NoJournal {
    async fn record(&self, _entry: &Entry) {}
    async fn clear(&self, _watcher: &str, _name: &str) {}
}

/// What is found on the engine for an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The old container's current name, if it still exists.
    pub old_name: Option<String>,
    /// The new container's current name, if it exists.
    pub new_name: Option<String>,
}

/// One thing to do to bring an interrupted update to a safe end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    RemoveNew,
    RenameOldBack,
    StartOld,
    RemoveOld,
    /// A start-first update had started the new container under a temporary name.
    RenameNew,
}

/// What to do for `entry`, given what is `found`: finish an update whose gate had passed,
/// otherwise put the old container back as it was.
pub fn decide(entry: &Entry, found: &Found) -> Vec<Action> {
    let mut actions = Vec::new();
    if entry.step == Step::Removing {
        if found.old_name.is_some() {
            actions.push(Action::RemoveOld);
        }
        if found.new_name.as_ref().is_some_and(|n| n != &entry.name) {
            actions.push(Action::RenameNew);
        }
        return actions;
    }
    let Some(old_name) = &found.old_name else {
        // The old container is gone: nothing to put back. Whatever runs under the name stays.
        return actions;
    };
    if found.new_name.is_some() {
        actions.push(Action::RemoveNew);
    }
    if old_name != &entry.name {
        actions.push(Action::RenameOldBack);
    }
    if entry.was_running {
        actions.push(Action::StartOld);
    }
    actions
}

/// Finishes or undoes every update the journal holds, engine by engine. Returns a line per
/// entry for the log; an entry whose engine cannot be reached now is kept for the next start.
pub async fn recover(
    entries: Vec<Entry>,
    watchers: &BTreeMap<String, WatcherConfig>,
    journal: &dyn Journal,
) -> Vec<String> {
    let mut report = Vec::new();
    for entry in entries {
        let Some(config) = watchers.get(&entry.watcher) else {
            report.push(format!(
                "{}/{}: interrupted update on a watcher no longer configured; left as is",
                entry.watcher, entry.name
            ));
            journal.clear(&entry.watcher, &entry.name).await;
            continue;
        };
        let engine = match Engine::connect(&entry.watcher, config).await {
            Ok(engine) => engine,
            Err(err) => {
                report.push(format!(
                    "{}/{}: not recovered yet: {err}",
                    entry.watcher, entry.name
                ));
                continue;
            }
        };
        let old_name = match engine.snapshot(&entry.old_id).await {
            Ok(old) => Some(old.name()),
            Err(_) => None,
        };
        let new_name = match &entry.new_id {
            Some(id) => engine.snapshot(id).await.ok().map(|s| s.name()),
            None => None,
        };
        let actions = decide(&entry, &Found { old_name, new_name });
        let mut problems = Vec::new();
        for action in &actions {
            let result = match action {
                Action::RemoveNew => match &entry.new_id {
                    Some(id) => engine.remove(id, true).await,
                    None => Ok(()),
                },
                Action::RenameOldBack => engine.rename(&entry.old_id, &entry.name).await,
                Action::StartOld => engine.start(&entry.old_id).await,
                Action::RemoveOld => engine.remove(&entry.old_id, false).await,
                Action::RenameNew => match &entry.new_id {
                    Some(id) => engine.rename(id, &entry.name).await,
                    None => Ok(()),
                },
            };
            if let Err(err) = result {
                problems.push(format!("{action:?}: {err}"));
            }
        }
        if problems.is_empty() {
            journal.clear(&entry.watcher, &entry.name).await;
            report.push(format!(
                "{}/{}: interrupted update {}",
                entry.watcher,
                entry.name,
                if entry.step == Step::Removing {
                    "finished"
                } else {
                    "undone; the old container is back"
                }
            ));
        } else {
            report.push(format!(
                "{}/{}: recovery incomplete: {}",
                entry.watcher,
                entry.name,
                problems.join("; ")
            ));
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(step: Step, was_running: bool) -> Entry {
        Entry {
            watcher: "local".into(),
            name: "web".into(),
            old_id: "old".into(),
            was_running,
            new_id: matches!(step, Step::Starting | Step::Gating | Step::Removing)
                .then(|| "new".to_string()),
            step,
        }
    }

    fn found(old_name: Option<&str>, new_exists: bool) -> Found {
        Found {
            old_name: old_name.map(str::to_string),
            new_name: new_exists.then(|| "web".to_string()),
        }
    }

    #[test]
    fn before_the_gate_passed_the_old_container_is_put_back() {
        use Action::*;
        let aside = Some("web-tidewatch-old");
        assert_eq!(
            decide(&entry(Step::Gating, true), &found(aside, true)),
            [RemoveNew, RenameOldBack, StartOld]
        );
        assert_eq!(
            decide(&entry(Step::Creating, true), &found(aside, false)),
            [RenameOldBack, StartOld]
        );
        // Crashed before the rename happened: only the start is missing, if even that.
        assert_eq!(
            decide(&entry(Step::Renaming, true), &found(Some("web"), false)),
            [StartOld]
        );
        // A stopped container stays stopped.
        assert_eq!(
            decide(&entry(Step::Starting, false), &found(aside, true)),
            [RemoveNew, RenameOldBack]
        );
    }

    #[test]
    fn after_the_gate_passed_the_update_is_finished() {
        assert_eq!(
            decide(
                &entry(Step::Removing, true),
                &found(Some("web-tidewatch-old"), true)
            ),
            [Action::RemoveOld]
        );
        assert!(decide(&entry(Step::Removing, true), &found(None, true)).is_empty());
    }

    #[test]
    fn a_start_first_update_killed_after_its_gate_gives_the_new_one_the_name() {
        let entry = entry(Step::Removing, true);
        let found = Found {
            old_name: Some("web".into()),
            new_name: Some("web-tidewatch-new".into()),
        };
        assert_eq!(
            decide(&entry, &found),
            [Action::RemoveOld, Action::RenameNew]
        );
        // Killed before its gate: the old one never stopped; the new one goes.
        let entry_gating = Entry {
            step: Step::Gating,
            ..entry
        };
        assert_eq!(
            decide(&entry_gating, &found),
            [Action::RemoveNew, Action::StartOld]
        );
    }

    #[test]
    fn without_the_old_container_nothing_is_touched() {
        assert!(decide(&entry(Step::Gating, true), &found(None, true)).is_empty());
    }
}
