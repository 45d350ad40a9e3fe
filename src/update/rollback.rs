//! A rollback on demand (`tidewatch rollback`): the container re-created from an image it ran
//! before, through the same steps as an update (rename aside, stop, create from the old
//! configuration, start, health gate, put back on failure, each step journaled first), so a
//! crash during it is finished or undone at the next start like any update.

use super::{Journal, Options, Outcome, Replacement};
use crate::docker::Engine;
use crate::registry::credentials::Credential;

/// The image a rollback goes back to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackTo {
    /// The reference the new container is created with, as the user spelt it before the
    /// update (`127.0.0.1:5000/app:1.4.2`); tagged onto `image_id` first, so that it names that
    /// very image whatever the tag points to in the registry now.
    pub image: String,
    pub image_id: String,
    /// `repository@sha256:…`: where to pull the image from when the engine no longer has it.
    pub pull: Option<String>,
}

/// How a rollback ended, and whether the image had to be pulled again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackDone {
    pub outcome: Outcome,
    /// The image was gone from the engine and was pulled by digest.
    pub pulled: bool,
    /// The image the container runs after it (the pulled image's ID when pulled).
    pub image_id: String,
}

/// Re-creates container `id` of `watcher` on `to`, keeping every setting, as an update does.
/// The old container is put back if the rolled-back one fails its gate. Cleanup does not run:
/// the image rolled back from stays, as it is what a release of the hold would run.
pub async fn rollback(
    engine: &Engine,
    watcher: &str,
    id: &str,
    to: &RollbackTo,
    credential: Option<&Credential>,
    options: &Options,
    journal: &dyn Journal,
) -> RollbackDone {
    let done = |outcome, pulled, image_id: &str| RollbackDone {
        outcome,
        pulled,
        image_id: image_id.to_string(),
    };
    let old = match engine.snapshot(id).await {
        Ok(old) => old,
        Err(err) => {
            let reason = format!("cannot inspect the container: {err}");
            return done(Outcome::Failed { reason }, false, &to.image_id);
        }
    };
    let mut pulled = false;
    let image = match engine.image_snapshot(&to.image_id).await {
        Ok(image) => image,
        Err(_) => {
            let Some(by_digest) = &to.pull else {
                let reason = format!(
                    "image {} ({}) is no longer on the engine, and its digest is unknown",
                    to.image, to.image_id
                );
                return done(Outcome::Failed { reason }, false, &to.image_id);
            };
            tracing::warn!(container = %old.name(), image = %by_digest, "The image to roll back to was removed; pulling it by digest.");
            if let Err(err) = engine.pull(by_digest, credential).await {
                let reason = format!(
                    "the image to roll back to was removed, and pulling it by digest failed: {err}"
                );
                return done(Outcome::Failed { reason }, false, &to.image_id);
            }
            pulled = true;
            match engine.image_snapshot(by_digest).await {
                Ok(image) => image,
                Err(err) => {
                    let reason = format!("pulled {by_digest}, yet cannot inspect it: {err}");
                    return done(Outcome::Failed { reason }, true, &to.image_id);
                }
            }
        }
    };
    let image_id = image.image_id().to_string();
    if let Err(err) = engine.tag(&image_id, &to.image).await {
        let reason = format!("cannot tag the image as {}: {err}", to.image);
        return done(Outcome::Failed { reason }, pulled, &image_id);
    }
    if super::self_update::own_container_id().as_deref() == Some(old.id()) {
        let reason =
            "tidewatch does not roll back its own container; run the old image by hand".to_string();
        return done(Outcome::Failed { reason }, pulled, &image_id);
    }
    tracing::info!(container = %old.name(), image = %to.image, "Rolling back.");
    let was_running = old.running();
    let step = Replacement {
        old: &old,
        image: &to.image,
        new_image: &image,
        start: was_running || options.revive_stopped,
        was_running,
        start_first: false,
        follow: &[],
    };
    let options = Options {
        cleanup: false,
        ..options.clone()
    };
    let outcome = step.run(engine, watcher, &options, journal).await;
    done(outcome, pulled, &image_id)
}
