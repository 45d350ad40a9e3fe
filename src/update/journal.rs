//! The update journal: each step of an update is written down before it is taken, so that a
//! crash (or SIGKILL) at any point leaves enough to finish or undo it at the next start. The
//! store keeps it, each write synced to disk before the step is taken (see `store`), so a
//! power cut is survived too; [`recover`] reads it back.
//!
//! A step whose entry cannot be written is not taken: the update stops there and is undone,
//! because an update the journal does not know about is one a crash would lose.
//!
//! Recovery is deliberately simple: unless the journal says the new container had passed its
//! health gate, the old container is put back — it was known to work, the new one was not.
//! Containers the docker trigger stopped because they depend on one being updated have an
//! entry of their own ([`Step::Dependent`]) and are started again (or re-created, when what
//! they are bound to was replaced) after the updates are settled.

use super::{Options, Replaced};
use crate::config::WatcherConfig;
use crate::docker::Engine;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Where an update stood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// About to rename the old container aside.
    Renaming,
    Stopping,
    /// About to create the new container, under `new_name`.
    Creating,
    /// The new container exists (`new_id`); about to start it.
    Starting,
    /// Started; the health gate is watching it.
    Gating,
    /// The gate passed: only the old container's removal is left.
    Removing,
    /// Not an update: a running container stopped while one it depends on is updated, to be
    /// started again after it. Written before it is stopped.
    Dependent,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let word = serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        f.write_str(&word)
    }
}

impl std::str::FromStr for Step {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        serde_json::from_value(serde_json::Value::String(s.to_string()))
            .map_err(|_| format!("no update step `{s}`"))
    }
}

/// One update under way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub watcher: String,
    /// The container's name, which the old one gives up and the new one takes.
    pub name: String,
    pub old_id: String,
    /// Whether the old container was running before the update touched it (or before the
    /// trigger stopped it as a dependent): what a rollback restores, nothing more.
    pub was_running: bool,
    pub new_id: Option<String>,
    /// The name the new container is created under, written before the create: a crash
    /// between the create and the entry that records `new_id` leaves a container that only
    /// this name finds.
    #[serde(default)]
    pub new_name: Option<String>,
    /// For a [`Step::Dependent`]: it is bound to the container it depends on itself (a legacy
    /// link, a shared network stack), so if that was replaced it must be re-created.
    #[serde(default)]
    pub bound: bool,
    pub step: Step,
}

/// A journal entry could not be written: the step it announces must not be taken.
#[derive(Debug, thiserror::Error)]
#[error("the update journal cannot be written: {0}")]
pub struct JournalError(pub String);

/// Where the journal is kept. Writes must be durable when `record` returns `Ok`.
#[async_trait::async_trait]
pub trait Journal: Send + Sync {
    async fn record(&self, entry: &Entry) -> Result<(), JournalError>;
    /// Forgets an entry; a failure is logged (a stale entry only makes the next start look at
    /// a container that is fine).
    async fn clear(&self, watcher: &str, name: &str);
    /// The images container `name` ran before its updates, newest first: what cleanup keeps
    /// the last `rollback.keep` of. Here because the store, which remembers them, is what
    /// keeps the journal too; none known by default.
    async fn earlier_images(&self, _watcher: &str, _name: &str) -> Vec<String> {
        Vec::new()
    }
}

/// No journal: for callers that do not keep one (tests of the executor alone).
pub struct NoJournal;

#[async_trait::async_trait]
impl Journal for NoJournal {
    async fn record(&self, _entry: &Entry) -> Result<(), JournalError> {
        Ok(())
    }
    async fn clear(&self, _watcher: &str, _name: &str) {}
}

/// For crash tests only (`TIDEWATCH_TEST_HALTAT`): the update stops dead at one step, so that
/// the test can SIGKILL the process there, a real kill at a known point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Halt {
    pub step: Step,
    /// Halt once the step's entry is written (`STEP`), or just before it is (`before-STEP`):
    /// `before-starting` is a new container created that the journal does not know yet.
    pub written: bool,
}

impl std::str::FromStr for Halt {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.strip_prefix("before-") {
            Some(step) => Ok(Halt {
                step: step.parse()?,
                written: false,
            }),
            None => Ok(Halt {
                step: s.parse()?,
                written: true,
            }),
        }
    }
}

/// A journal that halts the update at [`Halt`]: it logs a line and waits, for ever.
pub struct Halting {
    pub inner: Arc<dyn Journal>,
    pub at: Halt,
}

impl Halting {
    async fn halt(&self, entry: &Entry) {
        tracing::warn!(container = %entry.name, step = %entry.step, written = self.at.written, "Halted for a crash test; waiting to be killed.");
        std::future::pending::<()>().await;
    }
}

#[async_trait::async_trait]
impl Journal for Halting {
    async fn record(&self, entry: &Entry) -> Result<(), JournalError> {
        let here = entry.step == self.at.step;
        if here && !self.at.written {
            self.halt(entry).await;
        }
        self.inner.record(entry).await?;
        if here && self.at.written {
            self.halt(entry).await;
        }
        Ok(())
    }

    async fn clear(&self, watcher: &str, name: &str) {
        self.inner.clear(watcher, name).await;
    }

    async fn earlier_images(&self, watcher: &str, name: &str) -> Vec<String> {
        self.inner.earlier_images(watcher, name).await
    }
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
    /// Killed while the old container was being stopped: the engine finishes that stop
    /// whatever became of the process that asked for it, so it is waited out (by a stop of
    /// our own, which returns once the container is down) before the old container is
    /// declared back; started before, it would be killed moments later.
    WaitOutStop,
    RemoveNew,
    RenameOldBack,
    StartOld,
    RemoveOld,
    /// A start-first update had started the new container under a temporary name.
    RenameNew,
}

/// What to do for `entry`, given what is `found`: finish an update whose gate had passed,
/// otherwise put the old container back as it was. A dependent's entry comes to the same:
/// it is the old container, to be started again.
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
    if entry.step == Step::Stopping && entry.was_running {
        actions.push(Action::WaitOutStop);
    }
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

/// What recovery did with one entry: a line for the log, and an event for the history, so
/// that `tidewatch history` tells what became of an interrupted update as the log does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    pub watcher: String,
    pub name: String,
    /// `update-finished`, `update-undone`, `recovery-incomplete`, `dependent-restarted`,
    /// `dependent-not-restarted`, `recovery-deferred` (engine unreachable: tried again at the
    /// next start) or `recovery-dropped` (its watcher is not configured any more).
    pub event: &'static str,
    /// What happened, without the container's name (the history has its own column).
    pub detail: String,
}

impl std::fmt::Display for Recovered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}: {}", self.watcher, self.name, self.detail)
    }
}

fn recovered(entry: &Entry, event: &'static str, detail: String) -> Recovered {
    Recovered {
        watcher: entry.watcher.clone(),
        name: entry.name.clone(),
        event,
        detail,
    }
}

/// Finishes or undoes every update the journal holds, engine by engine, then brings back the
/// dependents that were stopped for them: after, because a container cannot start while what
/// it is linked to is stopped, and in the reverse of the order they were stopped in, so what
/// they depend on comes first. Returns what was done with each entry, for the log and the
/// history; an entry that could not be settled now (its engine unreachable, an action refused)
/// is kept for the next start.
pub async fn recover(
    entries: Vec<Entry>,
    watchers: &BTreeMap<String, WatcherConfig>,
    journal: &dyn Journal,
) -> Vec<Recovered> {
    let (dependents, updates): (Vec<Entry>, Vec<Entry>) = entries
        .into_iter()
        .partition(|entry| entry.step == Step::Dependent);
    let mut report = Vec::new();
    // Updates finished here, by watcher: a dependent bound to the old container follows them.
    let mut finished: BTreeMap<String, Vec<Replaced>> = BTreeMap::new();
    for entry in updates {
        let Some(engine) = connect(&entry, watchers, journal, &mut report).await else {
            continue;
        };
        let Some(lease) = take_lease(&engine, &entry, &mut report).await else {
            continue;
        };
        let settled = recover_update(&engine, &entry).await;
        lease.release(&engine).await;
        let line = match settled {
            Ok(replaced) => {
                journal.clear(&entry.watcher, &entry.name).await;
                let (event, done) = if replaced.is_some() {
                    ("update-finished", "finished")
                } else {
                    ("update-undone", "undone; the old container is back")
                };
                finished
                    .entry(entry.watcher.clone())
                    .or_default()
                    .extend(replaced);
                recovered(
                    &entry,
                    event,
                    format!("interrupted update {done} (it was at step {})", entry.step),
                )
            }
            Err(problems) => recovered(
                &entry,
                "recovery-incomplete",
                format!("recovery incomplete: {problems}"),
            ),
        };
        report.push(line);
    }
    for entry in dependents.into_iter().rev() {
        let Some(engine) = connect(&entry, watchers, journal, &mut report).await else {
            continue;
        };
        // It was stopped under its lease, as an update's container is.
        let Some(lease) = take_lease(&engine, &entry, &mut report).await else {
            continue;
        };
        let follow = finished.get(&entry.watcher).map_or(&[][..], Vec::as_slice);
        let line = match recover_dependent(&engine, &entry, follow, journal, lease).await {
            Ok(done) => {
                journal.clear(&entry.watcher, &entry.name).await;
                recovered(&entry, "dependent-restarted", format!("dependent {done}"))
            }
            Err(problem) => recovered(
                &entry,
                "dependent-not-restarted",
                format!("stopped as a dependent, not brought back: {problem}"),
            ),
        };
        report.push(line);
    }
    report
}

/// The lease of `entry`'s container: the one its killed predecessor held is stale by now, and
/// taken over. One held by an instance still at work on the container (a daemon beside this
/// `tidewatch update`, on the same store) leaves the entry to it, or to the next start: `None`,
/// with a line in `report`.
async fn take_lease(
    engine: &Engine,
    entry: &Entry,
    report: &mut Vec<Recovered>,
) -> Option<super::lease::Lease> {
    match super::lease::take(engine, &entry.name).await {
        Ok(lease) => Some(lease),
        Err(super::lease::Refused::Busy(why) | super::lease::Refused::Failed(why)) => {
            report.push(recovered(
                entry,
                "recovery-deferred",
                format!("not recovered yet: {why}"),
            ));
            None
        }
    }
}

/// The engine of `entry`'s watcher; `None` (with a line in `report`) when it is not
/// configured any more (the entry is dropped) or not reachable now (it is kept).
async fn connect(
    entry: &Entry,
    watchers: &BTreeMap<String, WatcherConfig>,
    journal: &dyn Journal,
    report: &mut Vec<Recovered>,
) -> Option<Engine> {
    let Some(config) = watchers.get(&entry.watcher) else {
        report.push(recovered(
            entry,
            "recovery-dropped",
            "interrupted update on a watcher no longer configured; left as is".to_string(),
        ));
        journal.clear(&entry.watcher, &entry.name).await;
        return None;
    };
    match Engine::connect(&entry.watcher, config).await {
        Ok(engine) => Some(engine),
        Err(err) => {
            report.push(recovered(
                entry,
                "recovery-deferred",
                format!("not recovered yet: {err}"),
            ));
            None
        }
    }
}

/// Settles one interrupted update. `Ok(Some(_))`: it was finished; `Ok(None)`: undone.
async fn recover_update(engine: &Engine, entry: &Entry) -> Result<Option<Replaced>, String> {
    let old_name = match engine.snapshot(&entry.old_id).await {
        Ok(old) => Some(old.name()),
        Err(_) => None,
    };
    // The new container, by the ID the journal has, else by the name it was to be created
    // under: the crash came between the create and the entry with its ID. Only a container
    // with exactly that name counts (the engine also resolves ID prefixes), and never the old
    // one, which holds that name until it is renamed aside.
    let new = match (&entry.new_id, &entry.new_name) {
        (Some(id), _) => engine.snapshot(id).await.ok(),
        (None, Some(name)) => engine
            .snapshot(name)
            .await
            .ok()
            .filter(|found| &found.name() == name && found.id() != entry.old_id),
        (None, None) => None,
    };
    let new_id = new.as_ref().map(|new| new.id().to_string());
    let found = Found {
        old_name,
        new_name: new.map(|new| new.name()),
    };
    let actions = decide(entry, &found);
    let mut problems = Vec::new();
    for action in &actions {
        let result = match (action, &new_id) {
            (Action::RemoveNew, Some(id)) => engine.remove(id, true).await.map_err(text),
            (Action::RenameNew, Some(id)) => engine.rename(id, &entry.name).await.map_err(text),
            (Action::RemoveNew | Action::RenameNew, None) => Ok(()),
            (Action::RenameOldBack, _) => engine
                .rename(&entry.old_id, &entry.name)
                .await
                .map_err(text),
            (Action::WaitOutStop, _) => wait_out_stop(engine, &entry.old_id).await,
            (Action::StartOld, _) => match engine.start(&entry.old_id).await {
                Ok(()) => still_running(engine, &entry.old_id).await,
                Err(err) => Err(err.to_string()),
            },
            (Action::RemoveOld, _) => engine.remove(&entry.old_id, false).await.map_err(text),
        };
        if let Err(err) = result {
            problems.push(format!("{action:?}: {err}"));
        }
    }
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    Ok((entry.step == Step::Removing)
        .then_some(new_id)
        .flatten()
        .map(|new_id| Replaced {
            old_id: entry.old_id.clone(),
            old_name: entry.name.clone(),
            new_id,
        }))
}

fn text(err: crate::docker::DockerError) -> String {
    err.to_string()
}

/// The stop timeout recovery uses when the container sets none: the docker trigger's default.
/// The stop that was pending may have had a longer one; ours then ends it sooner, with a kill.
const RECOVERY_STOP_TIMEOUT: u64 = 10;

/// Stops container `id` if it runs, returning once it is down: a stop the engine still has
/// pending from the killed process then has nothing left to do.
async fn wait_out_stop(engine: &Engine, id: &str) -> Result<(), String> {
    let Ok(now) = engine.snapshot(id).await else {
        return Ok(());
    };
    if !now.running() {
        return Ok(());
    }
    let timeout = now.stop_timeout(RECOVERY_STOP_TIMEOUT);
    tracing::info!(container = %now.name(), timeout_s = timeout, "Waiting out a stop the interrupted update may have left pending.");
    engine
        .stop(id, now.stop_signal(), timeout)
        .await
        .map_err(text)
}

/// A started container is only back once the engine says it runs.
async fn still_running(engine: &Engine, id: &str) -> Result<(), String> {
    match engine.snapshot(id).await {
        Ok(now) if now.running() => Ok(()),
        Ok(_) => Err("started, but it is not running".to_string()),
        Err(err) => Err(err.to_string()),
    }
}

/// Brings back one dependent, under `lease`: started again; or, when it will not start because what it is
/// bound to was replaced (a legacy link, a shared network stack, both tied to the old
/// container itself), re-created to follow the replacement, as the trigger would have.
async fn recover_dependent(
    engine: &Engine,
    entry: &Entry,
    follow: &[Replaced],
    journal: &dyn Journal,
    lease: super::lease::Lease,
) -> Result<&'static str, String> {
    let started = start_dependent(engine, entry).await;
    // A re-creation takes the lease itself.
    lease.release(engine).await;
    let err = match started {
        Ok(done) => return Ok(done),
        Err(Unstarted::Broken(problem)) => return Err(problem),
        Err(Unstarted::Refused(err)) => err,
    };
    if !entry.bound || follow.is_empty() {
        return Err(format!("it does not start: {err}"));
    }
    let outcome = super::recreate(
        engine,
        &entry.watcher,
        &entry.old_id,
        true,
        &Options::default(),
        journal,
        follow,
    )
    .await;
    match outcome {
        super::Outcome::Applied { .. } => Ok("re-created to follow what it depends on"),
        other => Err(format!(
            "it does not start ({err}) and could not be re-created: {other:?}"
        )),
    }
}

/// Why a dependent was not started again: the engine refused the start (then a bound one may
/// be re-created), or something else went wrong.
enum Unstarted {
    Refused(crate::docker::DockerError),
    Broken(String),
}

/// Starts a dependent again, as the trigger would have.
async fn start_dependent(engine: &Engine, entry: &Entry) -> Result<&'static str, Unstarted> {
    let Ok(old) = engine.snapshot(&entry.old_id).await else {
        return Ok("gone; nothing to start");
    };
    // Running, it may still have the trigger's stop pending (the entry is written before
    // that stop): waited out, then started again, or the stop would take it down later.
    let pending = old.running();
    if pending {
        wait_out_stop(engine, &entry.old_id)
            .await
            .map_err(Unstarted::Broken)?;
    }
    match engine.start(&entry.old_id).await {
        Ok(()) => {
            still_running(engine, &entry.old_id)
                .await
                .map_err(Unstarted::Broken)?;
            Ok(if pending {
                "started again, once a stop it may have had pending was waited out"
            } else {
                "started again"
            })
        }
        Err(err) => Err(Unstarted::Refused(err)),
    }
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
            new_name: Some("web".into()),
            bound: false,
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
        // Killed between the create and the entry with its ID: found by its name, it goes.
        assert_eq!(
            decide(&entry(Step::Creating, true), &found(aside, true)),
            [RemoveNew, RenameOldBack, StartOld]
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

    #[test]
    fn a_stopped_dependent_is_started_again() {
        let dependent = Entry {
            new_id: None,
            new_name: None,
            ..entry(Step::Dependent, true)
        };
        assert_eq!(
            decide(&dependent, &found(Some("web"), false)),
            [Action::StartOld]
        );
    }

    #[test]
    fn halts_and_steps_read_as_the_journal_writes_them() {
        assert_eq!(
            "gating".parse::<Halt>(),
            Ok(Halt {
                step: Step::Gating,
                written: true
            })
        );
        assert_eq!(
            "before-starting".parse::<Halt>(),
            Ok(Halt {
                step: Step::Starting,
                written: false
            })
        );
        assert!("later".parse::<Halt>().is_err());
        assert_eq!(Step::Dependent.to_string(), "dependent");
    }

    #[test]
    fn entries_written_before_new_name_and_bound_existed_still_read() {
        let old = r#"{"watcher":"local","name":"web","old_id":"old","was_running":true,
                      "new_id":null,"step":"creating"}"#;
        let entry: Entry = serde_json::from_str(old).expect("an older entry");
        assert_eq!((entry.new_name, entry.bound), (None, false));
    }
}
