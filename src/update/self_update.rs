//! Updating the container tidewatch itself runs in. It cannot stop itself first, as any other
//! update does, and carry on; so it renames itself aside, creates and starts its successor
//! under its name (told whom it replaces through `TIDEWATCH_SUCCEEDS`), and the successor,
//! once up, stops and removes it. Meanwhile this instance holds the successor to the health
//! gate, like any new container: if it cannot be created, does not start, or dies before it
//! took over (a crash at start-up, a bad configuration), tidewatch removes it, takes its name
//! back and carries on, and the update is reported rolled back: the running instance is never
//! lost, nor left aside behind a dead container holding its name.

use super::{Gate, Outcome};
use crate::config::SUCCEEDS_VAR;
use crate::docker::Engine;
use crate::docker::lifecycle::Snapshot;

/// The ID of the container this process runs in, read from the mounts the engine makes for
/// it (`/var/lib/docker/containers/<id>/hostname`, …); `None` outside a container.
pub fn own_container_id() -> Option<String> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    container_id_in(&mountinfo)
}

fn container_id_in(mountinfo: &str) -> Option<String> {
    mountinfo.lines().find_map(|line| {
        let at = line.find("/containers/")? + "/containers/".len();
        let id = line.get(at..at + 64)?;
        let is_id =
            id.chars().all(|c| c.is_ascii_hexdigit()) && line.get(at + 64..at + 65) == Some("/");
        is_id.then(|| id.to_string())
    })
}

/// Starts the successor of `old` (this process's container) on `image`, and watches it through
/// `gate` until it takes over (this process is then stopped) or fails (it is then removed).
pub async fn replace_self(engine: &Engine, old: &Snapshot, image: &str, gate: &Gate) -> Outcome {
    let name = old.name();
    let aside = super::aside_name(&name);
    tracing::info!(container = %name, image = %image, "Updating tidewatch's own container: starting its successor.");
    if let Err(err) = engine.rename(old.id(), &aside).await {
        return Outcome::Failed {
            reason: format!("cannot rename tidewatch's own container aside: {err}"),
        };
    }
    let env = format!("{SUCCEEDS_VAR}={}", old.id());
    let (name_ref, aside_ref) = (&name, &aside);
    let undo = |reason: String| async move {
        match engine.rename(old.id(), name_ref).await {
            Ok(()) => Outcome::RolledBack { reason },
            Err(err) => Outcome::Broken {
                reason: format!("{reason}; and tidewatch keeps the name {aside_ref}: {err}"),
            },
        }
    };
    let new_id = match engine
        .create_with_env(old, image, &old.name(), &[], Some(&env))
        .await
    {
        Ok(id) => id,
        Err(err) => return undo(format!("cannot create the successor: {err}")).await,
    };
    if let Err(err) = engine.start(&new_id).await {
        let _ = engine.remove(&new_id, true).await;
        return undo(format!("the successor does not start: {err}")).await;
    }
    tracing::info!(container = %old.name(), "Successor started; it will stop and remove this instance. Watching it until then.");
    // As for any update: the successor itself says whether it has a health check to wait for.
    let wants_health = engine.has_healthcheck(&new_id).await.unwrap_or(false);
    if let Err(reason) = gate.pass(engine, &new_id, wants_health).await {
        tracing::error!(container = %old.name(), reason = %reason, "The successor failed; removing it and carrying on as before.");
        let reason = format!("the successor failed: {reason}");
        return match engine.remove(&new_id, true).await {
            Ok(()) => undo(reason).await,
            Err(err) => Outcome::Broken {
                reason: format!(
                    "{reason}; it could not be removed ({err}), and tidewatch keeps the name {aside}"
                ),
            },
        };
    }
    Outcome::Applied { new_id }
}

/// At start-up of a successor: stops and removes the instance it replaces, on whichever
/// engine has it. Quiet when it is gone already (a restart of the successor).
pub async fn take_over(old_id: &str, engines: &[Engine]) {
    for engine in engines {
        let Ok(old) = engine.snapshot(old_id).await else {
            continue;
        };
        tracing::info!(old = %old.name(), "Taking over from the previous tidewatch.");
        // Its stop timeout lets it finish what it was telling the notifiers.
        let timeout = old.stop_timeout(30);
        if let Err(err) = engine.stop(old_id, old.stop_signal(), timeout).await {
            tracing::warn!(error = %err, "The previous tidewatch did not stop cleanly.");
        }
        match engine.remove(old_id, false).await {
            Ok(()) => tracing::info!("Previous tidewatch removed."),
            Err(err) => {
                tracing::error!(error = %err, "The previous tidewatch could not be removed.")
            }
        }
        return;
    }
}

/// At start-up of an instance that is not a successor: if it finds itself renamed aside by its
/// own self-update, it was stopped or killed while it watched its successor (a kill, a host
/// restart). A successor that took over would have removed it; one that is not running never
/// will, and holds the name for nothing: it is removed and this instance takes its name back.
/// A running successor is left to take over; anything else under the name is left alone.
pub async fn reclaim_name(engines: &[Engine]) {
    let Some(own) = own_container_id() else {
        return;
    };
    for engine in engines {
        let Ok(me) = engine.snapshot(&own).await else {
            continue;
        };
        let aside = me.name();
        let Some(name) = aside.strip_suffix(&super::aside_name("")) else {
            return;
        };
        let successor = match engine.snapshot(name).await {
            Ok(found)
                if found.name() == name && found.env_var(SUCCEEDS_VAR) == Some(own.as_str()) =>
            {
                found
            }
            _ => {
                tracing::warn!(container = %aside, "Renamed aside by a self-update, yet no successor of this instance holds the name; left as is.");
                return;
            }
        };
        if successor.running() {
            tracing::info!(container = %name, "Renamed aside by a self-update whose successor runs; it takes over.");
            return;
        }
        tracing::warn!(container = %name, successor = %successor.id(), "A self-update was interrupted and its successor is not running: removing it and taking the name back.");
        if let Err(err) = engine.remove(successor.id(), true).await {
            tracing::error!(container = %name, error = %err, "The failed successor could not be removed; this instance keeps the name {aside}.");
            return;
        }
        match engine.rename(&own, name).await {
            Ok(()) => tracing::info!(container = %name, "Name taken back."),
            Err(err) => {
                tracing::error!(container = %name, error = %err, "The name could not be taken back; this instance keeps the name {aside}.")
            }
        }
        return;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_own_container_id_is_read_from_the_engines_mounts() {
        let id = "0123456789abcdef".repeat(4);
        let mountinfo = format!(
            "600 590 0:52 / / rw,relatime - overlay overlay rw\n\
             612 600 254:1 /var/lib/docker/containers/{id}/hostname /etc/hostname rw - ext4 /dev/vda rw\n"
        );
        assert_eq!(container_id_in(&mountinfo), Some(id));
        assert_eq!(
            container_id_in("600 590 0:52 / / rw - overlay overlay rw\n"),
            None
        );
    }
}
