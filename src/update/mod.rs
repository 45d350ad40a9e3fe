//! The update executor: moves one container to a new image without ever losing it.
//!
//! The order is what makes it safe. The new image is pulled while the old container still runs;
//! the old container is renamed aside (not removed) and stopped; the new one is created under
//! the old name from the old configuration, started, and must pass the health gate; only then
//! is the old one removed. Any failure after the old container was touched removes the new one
//! and puts the old one back, under its name, running if it was — the same container, same ID.
//! Watchtower removes the old container before the new one is known to work (its issues #832,
//! #1043, #1385); this is the difference.

mod gate;
pub mod hooks;
pub mod journal;
pub mod lease;
pub mod order;
mod rollback;
pub mod self_update;
pub mod service;
pub mod trigger;

use crate::docker::Engine;
use crate::docker::lifecycle::Snapshot;
pub use crate::docker::lifecycle::{Replaced, aside_name, new_name};
use crate::model::UpdateCandidate;
use crate::registry::credentials::Credential;

pub use gate::Gate;
use hooks::{Hook, HookResult};
use journal::{Entry, Journal, Step};
pub use rollback::{RollbackDone, RollbackTo, rollback};

/// How one update is done.
#[derive(Debug, Clone)]
pub struct Options {
    /// Seconds to wait after the stop signal before the engine kills (unless the container
    /// sets its own `StopTimeout`).
    pub stop_timeout: u64,
    pub gate: Gate,
    /// Remove the old image when no container uses it any more (Watchtower's `cleanup`).
    pub cleanup: bool,
    /// With `cleanup`: how many of the images a container ran before are kept (`rollback.keep`),
    /// newest first, so that a rollback finds the previous image on the engine.
    pub keep: usize,
    /// Run the containers' lifecycle hooks (pre-check, pre-update, post-update, post-check).
    pub lifecycle_hooks: bool,
    /// Start the new container even when the old one was stopped.
    pub revive_stopped: bool,
    /// Use the image the engine has; do not pull.
    pub no_pull: bool,
    /// Leave the new container created, not started.
    pub no_restart: bool,
    /// Watchtower's `remove-volumes`. The old container's anonymous volumes move to its
    /// successor, so there is nothing of its own left to remove: accepted, and has no effect.
    pub remove_volumes: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            stop_timeout: 10,
            gate: Gate::default(),
            cleanup: false,
            keep: 1,
            remove_volumes: false,
            lifecycle_hooks: false,
            revive_stopped: false,
            no_pull: false,
            no_restart: false,
        }
    }
}

/// How an update ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The new container runs under the old name; the old one is gone.
    Applied { new_id: String },
    /// Nothing was changed (the pull failed, or the container was not there to update).
    Failed { reason: String },
    /// Nothing was changed, on purpose: its pre-update hook asked to skip this update.
    Skipped { reason: String },
    /// The new container did not work; the old one is back as it was.
    RolledBack { reason: String },
    /// The new container did not work and the old one could not be put back: the worst case,
    /// reported loudly with where the old container is.
    Broken { reason: String },
}

/// The image the new container is created with: the user's own spelling of the image with the
/// new tag (`nginx:1.25.3` → `nginx:1.25.4`, not `docker.io/library/nginx:1.25.4`), so
/// `docker ps` still reads as they wrote it.
pub fn new_image(candidate: &UpdateCandidate) -> String {
    let written = &candidate.container.image;
    let (Some(old), Some(new)) = (&candidate.current.tag, &candidate.target.tag) else {
        return candidate.target.familiar();
    };
    let without_digest = written.split('@').next().unwrap_or(written);
    match without_digest.strip_suffix(&format!(":{old}")) {
        Some(name) => format!("{name}:{new}"),
        // Written without a tag (`nginx` means `nginx:latest`).
        None if !without_digest
            .rsplit('/')
            .next()
            .unwrap_or("")
            .contains(':') =>
        {
            format!("{without_digest}:{new}")
        }
        None => candidate.target.familiar(),
    }
}

/// Sets `entry` at `step` and writes it; the error is the reason to give up before the step.
async fn write(journal: &dyn Journal, entry: &mut Entry, step: Step) -> Result<(), String> {
    entry.step = step;
    journal.record(entry).await.map_err(|err| err.to_string())
}

/// Why an update of a container cannot begin when `temporary` (the name its old or new copy
/// would take for the duration) is already held: by a container an earlier update left behind
/// (a crash before the journal existed, an old container that could not be removed) or one
/// made by hand. It is never removed here: it may be the only copy of something.
async fn leftover(engine: &Engine, temporary: &str) -> Option<String> {
    let found = engine.snapshot(temporary).await.ok()?;
    // The engine also resolves ID prefixes; only that very name is in the way.
    (found.name() == temporary).then(|| {
        format!(
            "a container named {temporary} already exists (left by an earlier update, or made by \
             hand) and is not removed, as it may be the only copy of something: remove or \
             rename it, and the update is tried again at the next check"
        )
    })
}

/// What an acting trigger (docker, compose) needs from the rest of the daemon.
#[derive(Clone)]
pub struct Context {
    pub bus: crate::bus::WeakBus,
    pub watchers: std::collections::BTreeMap<String, crate::config::WatcherConfig>,
    pub registry: std::sync::Arc<crate::registry::RegistryClient>,
    /// Where each step of an update is written before it is taken.
    pub journal: std::sync::Arc<dyn journal::Journal>,
}

/// Updates the container of `candidate` on `engine` to its target image. `follow` lists the
/// containers already replaced in this round, whose successors a `container:` network mode
/// must point at.
pub async fn update(
    engine: &Engine,
    candidate: &UpdateCandidate,
    credential: Option<&Credential>,
    options: &Options,
    journal: &dyn Journal,
    follow: &[Replaced],
) -> Outcome {
    let image = new_image(candidate);
    let old = match engine.snapshot(&candidate.container.id).await {
        Ok(old) => old,
        Err(err) => {
            return Outcome::Failed {
                reason: format!("cannot inspect the container: {err}"),
            };
        }
    };
    if options.no_pull {
        tracing::info!(container = %old.name(), image = %image, "Updating, with the image the engine has (no pull).");
    } else {
        tracing::info!(container = %old.name(), image = %image, "Updating: pulling the new image.");
        if let Err(err) = engine.pull(&image, credential).await {
            return Outcome::Failed {
                reason: err.to_string(),
            };
        }
    }
    let new_image = match engine.image_snapshot(&image).await {
        Ok(new_image) => new_image,
        Err(err) => {
            return Outcome::Failed {
                reason: if options.no_pull {
                    format!("not pulled (no-pull), and the engine has no {image}: {err}")
                } else {
                    format!("pulled, yet cannot inspect {image}: {err}")
                },
            };
        }
    };
    if self_update::own_container_id().as_deref() == Some(old.id()) {
        return self_update::replace_self(engine, &old, &image, &options.gate).await;
    }
    let name = &candidate.container.name;
    let lease = match lease::take(engine, name).await {
        Ok(lease) => lease,
        Err(lease::Refused::Busy(reason)) => {
            tracing::warn!(container = %name, reason = %reason, "Not updated: another tidewatch instance is updating it.");
            return Outcome::Skipped { reason };
        }
        Err(lease::Refused::Failed(reason)) => return Outcome::Failed { reason },
    };
    // Looked at again under the lease: another instance may have replaced it meanwhile.
    let outcome = match engine.snapshot(old.id()).await {
        Ok(now) if &now.name() == name => {
            leased(
                engine, candidate, &now, &image, &new_image, options, journal, follow,
            )
            .await
        }
        _ => Outcome::Skipped {
            reason: "it was replaced, renamed or removed since it was checked (by another \
                     tidewatch instance?); the next check looks at it again"
                .to_string(),
        },
    };
    lease.release(engine).await;
    outcome
}

/// The update of `old` once its lease is held: hooks, the replacement, the hooks after.
#[allow(clippy::too_many_arguments)]
async fn leased(
    engine: &Engine,
    candidate: &UpdateCandidate,
    old: &Snapshot,
    image: &str,
    new_image: &Snapshot,
    options: &Options,
    journal: &dyn Journal,
    follow: &[Replaced],
) -> Outcome {
    // What the container was doing before the update is what a rollback restores, whatever
    // `revivestopped` or `norestart` ask of its successor.
    let was_running = old.running();
    let start = (was_running || options.revive_stopped) && !options.no_restart;
    let labels = &candidate.container.labels;
    if options.lifecycle_hooks {
        match hooks::before_update(engine, old.id(), &old.name(), labels, was_running, start).await
        {
            hooks::Before::Proceed => {}
            hooks::Before::Skip(reason) => return Outcome::Skipped { reason },
            hooks::Before::Abort(reason) => return Outcome::Failed { reason },
        }
    }
    let start_first = crate::watch::labels::read(labels).is_ok_and(|l| l.start_first);
    if start_first && old.publishes_ports() {
        tracing::info!(container = %old.name(), "start-first asked, but it publishes host ports, which two containers cannot hold at once: stopping it first.");
    }
    let step = Replacement {
        old,
        image,
        new_image,
        start,
        was_running,
        start_first: start_first && start && !old.publishes_ports(),
        follow,
    };
    let outcome = step
        .run(engine, &candidate.container.watcher, options, journal)
        .await;
    if options.lifecycle_hooks
        && start
        && let Outcome::Applied { new_id } = &outcome
    {
        for hook in [Hook::PostUpdate, Hook::PostCheck] {
            if let HookResult::Failed(reason) = hooks::run(engine, new_id, labels, hook).await {
                tracing::warn!(container = %old.name(), hook = %hook, reason = %reason, "Hook failed; the update stands.");
            }
        }
    }
    outcome
}

/// Re-creates container `id` on the image it runs, as it is: for a container linked to one
/// just updated (a legacy link binds to the old container itself) or sharing its network
/// stack. `start`: it was running before the update stopped it.
pub async fn recreate(
    engine: &Engine,
    watcher: &str,
    id: &str,
    start: bool,
    options: &Options,
    journal: &dyn Journal,
    follow: &[Replaced],
) -> Outcome {
    let old = match engine.snapshot(id).await {
        Ok(old) => old,
        Err(err) => {
            return Outcome::Failed {
                reason: format!("cannot inspect the container: {err}"),
            };
        }
    };
    let image = old.configured_image();
    let same = match engine.image_snapshot(old.image_id()).await {
        Ok(same) => same,
        Err(err) => {
            return Outcome::Failed {
                reason: format!("cannot inspect its image: {err}"),
            };
        }
    };
    tracing::info!(container = %old.name(), "Re-creating, as it depends on an updated container.");
    let lease = match lease::take(engine, &old.name()).await {
        Ok(lease) => lease,
        Err(lease::Refused::Busy(reason)) => return Outcome::Skipped { reason },
        Err(lease::Refused::Failed(reason)) => return Outcome::Failed { reason },
    };
    let step = Replacement {
        old: &old,
        image: &image,
        new_image: &same,
        start,
        was_running: start,
        start_first: false,
        follow,
    };
    let outcome = step.run(engine, watcher, options, journal).await;
    lease.release(engine).await;
    outcome
}

/// The part of an update that touches the old container: from the rename aside to the removal,
/// each step journaled first, every failure undone.
struct Replacement<'a> {
    old: &'a Snapshot,
    image: &'a str,
    new_image: &'a Snapshot,
    /// Start the new container.
    start: bool,
    /// The old container ran before the update (or before the trigger stopped it as a
    /// dependent): a rollback starts it again, and only then.
    was_running: bool,
    /// Start the new container before stopping the old (`update.order=start-first`).
    start_first: bool,
    follow: &'a [Replaced],
}

impl Replacement<'_> {
    async fn run(
        &self,
        engine: &Engine,
        watcher: &str,
        options: &Options,
        journal: &dyn Journal,
    ) -> Outcome {
        let name = self.old.name();
        let temporary = if self.start_first {
            new_name(&name)
        } else {
            aside_name(&name)
        };
        if let Some(reason) = leftover(engine, &temporary).await {
            tracing::error!(container = %name, leftover = %temporary, reason = %reason, "Not updated: the name its update needs is taken; that container is left alone.");
            return Outcome::Failed { reason };
        }
        let mut entry = Entry {
            watcher: watcher.to_string(),
            name,
            old_id: self.old.id().to_string(),
            was_running: self.was_running,
            new_id: None,
            new_name: None,
            bound: false,
            step: Step::Renaming,
        };
        // Nothing is touched before the journal knows.
        if let Err(err) = journal.record(&entry).await {
            return Outcome::Failed {
                reason: err.to_string(),
            };
        }
        let outcome = if self.start_first {
            self.start_first_steps(engine, options, journal, &mut entry)
                .await
        } else {
            self.steps(engine, options, journal, &mut entry).await
        };
        if !matches!(outcome, Outcome::Broken { .. }) {
            journal.clear(&entry.watcher, &entry.name).await;
        }
        outcome
    }

    async fn steps(
        &self,
        engine: &Engine,
        options: &Options,
        journal: &dyn Journal,
        entry: &mut Entry,
    ) -> Outcome {
        let old = self.old;
        let (id, name) = (old.id(), old.name());
        if let Err(err) = engine.rename(id, &aside_name(&name)).await {
            return self
                .restore(
                    engine,
                    None,
                    format!("cannot rename the old container aside: {err}"),
                )
                .await;
        }
        if let Err(err) = write(journal, entry, Step::Stopping).await {
            return self.restore(engine, None, err).await;
        }
        if old.running() {
            let timeout = old.stop_timeout(options.stop_timeout);
            if let Err(err) = engine.stop(id, old.stop_signal(), timeout).await {
                return self
                    .restore(
                        engine,
                        None,
                        format!("cannot stop the old container: {err}"),
                    )
                    .await;
            }
        }
        entry.new_name = Some(name.clone());
        if let Err(err) = write(journal, entry, Step::Creating).await {
            return self.restore(engine, None, err).await;
        }
        let new_id = match engine
            .create_like(old, self.image, &name, self.follow)
            .await
        {
            Ok(new_id) => new_id,
            Err(err) => {
                return self
                    .restore(
                        engine,
                        None,
                        format!("cannot create the new container: {err}"),
                    )
                    .await;
            }
        };
        entry.new_id = Some(new_id.clone());
        if let Err(err) = write(journal, entry, Step::Starting).await {
            return self.restore(engine, Some(&new_id), err).await;
        }
        if self.start {
            if let Err(err) = engine.start(&new_id).await {
                return self
                    .restore(
                        engine,
                        Some(&new_id),
                        format!("the new container does not start: {err}"),
                    )
                    .await;
            }
            if let Err(err) = write(journal, entry, Step::Gating).await {
                return self.restore(engine, Some(&new_id), err).await;
            }
            tracing::info!(container = %name, "New container started; waiting for the health gate.");
            let wants_health = engine.has_healthcheck(&new_id).await.unwrap_or(false);
            if let Err(reason) = options.gate.pass(engine, &new_id, wants_health).await {
                return self.restore(engine, Some(&new_id), reason).await;
            }
        }
        if let Err(err) = write(journal, entry, Step::Removing).await {
            return self.restore(engine, Some(&new_id), err).await;
        }

        // The new one works: the old one can go. Never with its volumes: the anonymous ones
        // now belong to the new container.
        if let Err(err) = engine.remove(id, false).await {
            tracing::warn!(container = %name, error = %err, "Updated, but the old container could not be removed; it is stopped, named {}.", aside_name(&name));
        }
        self.clean_up(engine, options, journal, &entry.watcher)
            .await;
        tracing::info!(container = %name, image = %self.image, "Updated.");
        Outcome::Applied { new_id }
    }

    /// `update.order=start-first`: the new container starts beside the old one, under a
    /// temporary name, and only once it passed the gate is the old one stopped and removed and
    /// the name handed over. A service reached through a network alias, which both share, sees
    /// no gap.
    async fn start_first_steps(
        &self,
        engine: &Engine,
        options: &Options,
        journal: &dyn Journal,
        entry: &mut Entry,
    ) -> Outcome {
        let old = self.old;
        let (id, name) = (old.id(), old.name());
        let temporary = new_name(&name);
        entry.new_name = Some(temporary.clone());
        // The old container runs on, untouched, until the gate passed: before the create, a
        // failure only has to be reported.
        if let Err(err) = write(journal, entry, Step::Creating).await {
            return Outcome::Failed { reason: err };
        }
        let new_id = match engine
            .create_like(old, self.image, &temporary, self.follow)
            .await
        {
            Ok(new_id) => new_id,
            Err(err) => {
                return Outcome::RolledBack {
                    reason: format!("cannot create the new container: {err}"),
                };
            }
        };
        entry.new_id = Some(new_id.clone());
        let recorded = write(journal, entry, Step::Starting).await;
        let (new_ref, temporary_ref) = (&new_id, &temporary);
        let failed = |reason: String| async move {
            match engine.remove(new_ref, true).await {
                Ok(()) => Outcome::RolledBack { reason },
                Err(err) => Outcome::Broken {
                    reason: format!(
                        "{reason}; the new container {temporary_ref} could not be removed: {err}"
                    ),
                },
            }
        };
        if let Err(err) = recorded {
            return failed(err).await;
        }
        if let Err(err) = engine.start(&new_id).await {
            return failed(format!("the new container does not start: {err}")).await;
        }
        if let Err(err) = write(journal, entry, Step::Gating).await {
            return failed(err).await;
        }
        tracing::info!(container = %name, "New container started beside the old one; waiting for the health gate.");
        let wants_health = engine.has_healthcheck(&new_id).await.unwrap_or(false);
        if let Err(reason) = options.gate.pass(engine, &new_id, wants_health).await {
            return failed(reason).await;
        }
        if let Err(err) = write(journal, entry, Step::Removing).await {
            return failed(err).await;
        }
        let timeout = old.stop_timeout(options.stop_timeout);
        if let Err(err) = engine.stop(id, old.stop_signal(), timeout).await {
            tracing::warn!(container = %name, error = %err, "Old container not stopped cleanly; removing it.");
        }
        if let Err(err) = engine.remove(id, false).await {
            return Outcome::Broken {
                reason: format!(
                    "the new container runs as {temporary}, but the old one could not be removed: {err}"
                ),
            };
        }
        if let Err(err) = engine.rename(&new_id, &name).await {
            return Outcome::Broken {
                reason: format!("the new container runs, but keeps the name {temporary}: {err}"),
            };
        }
        self.clean_up(engine, options, journal, &entry.watcher)
            .await;
        tracing::info!(container = %name, image = %self.image, "Updated.");
        Outcome::Applied {
            new_id: entry.new_id.clone().unwrap_or_default(),
        }
    }

    /// `cleanup`: removes the images the container ran before that are older than the last
    /// `keep` of them (the one it ran until now first, then what the audit log remembers), when
    /// no container uses them any more. The previous image stays for a rollback.
    async fn clean_up(
        &self,
        engine: &Engine,
        options: &Options,
        journal: &dyn Journal,
        watcher: &str,
    ) {
        if !options.cleanup {
            return;
        }
        let name = self.old.name();
        let new = self.new_image.image_id();
        let mut ran = vec![self.old.image_id().to_string()];
        for id in journal.earlier_images(watcher, &name).await {
            if !ran.contains(&id) {
                ran.push(id);
            }
        }
        for id in ran
            .iter()
            .filter(|id| id.as_str() != new)
            .skip(options.keep)
        {
            // Gone already (an earlier cleanup, by hand): nothing to say.
            if engine.image_snapshot(id).await.is_err() {
                continue;
            }
            match engine.remove_image_if_unused(id).await {
                Ok(true) => {
                    tracing::info!(container = %name, image = %id, keep = options.keep, "Old image removed.")
                }
                Ok(false) => {}
                Err(err) => {
                    tracing::warn!(container = %name, image = %id, error = %err, "Old image not removed.")
                }
            }
        }
    }

    /// Puts the old container back: removes the new one (when there is one), gives the old its
    /// name back unless it still has it (a failed rename aside), and starts it if it was
    /// running before the update.
    async fn restore(&self, engine: &Engine, new_id: Option<&str>, reason: String) -> Outcome {
        let old = self.old;
        let name = old.name();
        tracing::warn!(container = %name, reason = %reason, "Update failed; putting the old container back.");
        let mut problems: Vec<String> = Vec::new();
        if let Some(new_id) = new_id
            && let Err(err) = engine.remove(new_id, true).await
        {
            problems.push(format!("the new container could not be removed: {err}"));
        }
        // Docker refuses a rename to the name a container has.
        let named = engine
            .snapshot(old.id())
            .await
            .is_ok_and(|now| now.name() == name);
        if !named && let Err(err) = engine.rename(old.id(), &name).await {
            problems.push(format!(
                "the old container could not be renamed back from {}: {err}",
                aside_name(&name)
            ));
        }
        if self.was_running
            && let Err(err) = engine.start(old.id()).await
        {
            problems.push(format!(
                "the old container could not be started again: {err}"
            ));
        }
        if problems.is_empty() {
            Outcome::RolledBack { reason }
        } else {
            tracing::error!(container = %name, reason = %reason, problems = ?problems, "Rollback incomplete.");
            Outcome::Broken {
                reason: format!("{reason}; rollback incomplete: {}", problems.join("; ")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ContainerInfo, ImageRef, UpdateKind};

    fn candidate(written: &str, target: &str) -> UpdateCandidate {
        let current = ImageRef::parse(written).unwrap();
        let target = ImageRef::parse(target).unwrap();
        UpdateCandidate {
            container: ContainerInfo::example(written),
            current,
            target,
            digest: None,
            kind: UpdateKind::Minor,
            display_name: "web".into(),
            link: None,
        }
    }

    #[test]
    fn the_new_image_keeps_the_users_spelling() {
        assert_eq!(
            new_image(&candidate("nginx:1.25", "nginx:1.26")),
            "nginx:1.26"
        );
        assert_eq!(
            new_image(&candidate(
                "127.0.0.1:5000/app:1.0.0",
                "127.0.0.1:5000/app:1.1.0"
            )),
            "127.0.0.1:5000/app:1.1.0"
        );
        assert_eq!(
            new_image(&candidate("docker.io/library/redis:7.2", "redis:7.4")),
            "docker.io/library/redis:7.4"
        );
        assert_eq!(
            new_image(&candidate("nginx", "nginx:latest")),
            "nginx:latest"
        );
        assert_eq!(
            new_image(&candidate(
                "localhost:5000/app",
                "localhost:5000/app:latest"
            )),
            "localhost:5000/app:latest"
        );
    }
}
