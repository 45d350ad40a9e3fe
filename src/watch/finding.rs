//! What one check found for one container, in the vocabulary every report shares (`check`,
//! later `run --once` and the events): up to date, update available, skipped with a reason, or
//! failed with a reason.
//!
//! As WUD does: a version tag (`1.4.2`, `v2.11.0-alpine`) is compared with the repository's
//! tags, by the tag policy, and its digest only when `watch.digest` is set; any other tag
//! (`latest`, `stable`) is watched by digest. Diun's labels change that for a container:
//! `diun.watch_repo=false` (Diun's default, so a Diun setup's) follows its tag's digest only,
//! `diun.notify_on` drops new tags or new digests, `diun.max_tags` narrows the tags compared.

use crate::config::WatcherConfig;
pub use crate::model::finding::{Finding, Status, Update};
use crate::model::reference::ReferenceError;
use crate::model::{ContainerInfo, ImageRef, UpdateKind};
use crate::registry::{DigestCheck, Login, Session};
use crate::tags;
use crate::watch::labels;

const NO_LOCAL_DIGEST: &str =
    "the image has no digest from this registry (built locally, or never pushed or pulled)";

impl Finding {
    fn skipped(reason: impl Into<String>) -> Self {
        Finding {
            status: Status::Skipped,
            reason: Some(reason.into()),
            update: None,
            display_name: None,
        }
    }

    fn failed(reason: impl Into<String>) -> Self {
        Finding {
            status: Status::Failed,
            reason: Some(reason.into()),
            update: None,
            display_name: None,
        }
    }

    fn up_to_date() -> Self {
        Finding {
            status: Status::UpToDate,
            reason: None,
            update: None,
            display_name: None,
        }
    }

    fn update(kind: UpdateKind, tag: String, digest: Option<String>) -> Self {
        Finding {
            status: Status::UpdateAvailable,
            reason: None,
            update: Some(Update {
                kind,
                tag,
                digest,
                link: None,
            }),
            display_name: None,
        }
    }

    /// Adds what the labels say of presentation: the display name, and the link to the new tag.
    fn presented(mut self, labels: &labels::ContainerLabels) -> Self {
        self.display_name = labels.display_name.clone();
        if let (Some(update), Some(template)) = (&mut self.update, &labels.link_template) {
            update.link = Some(labels::render_link(template, &update.tag, &labels.tags));
        }
        self
    }
}

/// Checks one container against its registry, through the check's shared session, under the
/// watcher's `watchbydefault`, its label defaults and the container's labels.
pub async fn check(
    session: &Session<'_>,
    container: &ContainerInfo,
    watcher: &WatcherConfig,
) -> Finding {
    let image = match container.reference() {
        Ok(image) => image,
        Err(ReferenceError::ImageId { .. }) => {
            return Finding::skipped("created from an image ID: there is no tag to follow");
        }
        Err(err) => return Finding::skipped(format!("image is not a valid reference: {err}")),
    };
    let labels = labels::with_defaults(&container.labels, &watcher.label_defaults());
    let labels = match labels::read(&labels) {
        Ok(labels) => labels,
        Err(err) => {
            tracing::warn!(container = %container.name, error = %err, "Container skipped: bad label.");
            return Finding::skipped(err.to_string());
        }
    };
    decide(session, container, &image, &labels, watcher.watchbydefault)
        .await
        .presented(&labels)
}

/// Everything after the labels are read: watched or not, which check applies, its answer.
async fn decide(
    session: &Session<'_>,
    container: &ContainerInfo,
    image: &ImageRef,
    labels: &labels::ContainerLabels,
    watch_by_default: bool,
) -> Finding {
    if !labels.watch.unwrap_or(watch_by_default) {
        return Finding::skipped("not watched (label, or the watcher's watchbydefault)");
    }
    if image.digest.is_some() {
        return Finding::skipped("pinned by digest");
    }
    // Never pulled from nor pushed to a registry: a local build, nothing to ask about.
    if container.repo_digests.is_empty() {
        return Finding::skipped(NO_LOCAL_DIGEST);
    }
    let tag = image.tag.clone().unwrap_or_else(|| "latest".into());
    let is_version = labels.tags.version(&tag).is_some();
    // Diun's `watch_repo` and `notify_on` (see `ContainerLabels`): unset, both hold.
    let notify = labels.notify_on.unwrap_or_default();
    if is_version && notify.new && labels.watch_repo != Some(false) {
        match newer_tag(session, image, &tag, labels).await {
            Ok(Some(update)) => return update,
            Ok(None) => {}
            Err(failed) => return failed,
        }
    }
    let digest_watched = !is_version
        || labels.watch_repo == Some(false)
        || labels
            .watch_digest
            .unwrap_or(labels.watch_repo == Some(true));
    if !notify.update || !digest_watched {
        return Finding::up_to_date();
    }
    digest_finding(session, image, labels.login.as_deref(), &tag, container).await
}

/// A newer tag of the same kind, with its digest.
async fn newer_tag(
    session: &Session<'_>,
    image: &ImageRef,
    tag: &str,
    labels: &labels::ContainerLabels,
) -> Result<Option<Finding>, Finding> {
    let policy = &labels.tags;
    let available = session
        .tags(image, labels.login.as_deref())
        .await
        .map_err(|err| Finding::failed(err.to_string()))?;
    let considered = capped(&available, policy, labels.max_tags);
    let Some(newer) = tags::newest(tag, considered, policy) else {
        return Ok(None);
    };
    let target = ImageRef {
        tag: Some(newer.tag.clone()),
        ..image.clone()
    };
    let digest = match session
        .manifest_digest(&target, labels.login.as_deref())
        .await
    {
        Ok(remote) => Some(remote.digest),
        Err(err) => {
            tracing::warn!(image = %target.familiar(), error = %err, "Newer tag listed, but its digest is unknown.");
            None
        }
    };
    Ok(Some(Finding::update(newer.kind, newer.tag, digest)))
}

/// Diun's `max_tags`: of the tags the policy admits, the last `max` the registry listed (Diun
/// reverses the list and takes the first), or all of them.
fn capped<'a>(
    available: &'a [String],
    policy: &'a tags::TagPolicy,
    max: Option<usize>,
) -> impl Iterator<Item = &'a String> {
    let skip = max.map_or(0, |max| {
        let admitted = available.iter().filter(|t| policy.admits(t)).count();
        admitted.saturating_sub(max)
    });
    available.iter().filter(|t| policy.admits(t)).skip(skip)
}

/// Whether the container runs the image its tag points to now.
async fn digest_finding(
    session: &Session<'_>,
    image: &ImageRef,
    login: Login<'_>,
    tag: &str,
    container: &ContainerInfo,
) -> Finding {
    match session.check_digest(image, login, container).await {
        Ok(DigestCheck::UpToDate { .. }) => Finding::up_to_date(),
        Ok(DigestCheck::Changed { remote }) => {
            Finding::update(UpdateKind::Digest, tag.to_string(), Some(remote))
        }
        Ok(DigestCheck::NoLocalDigest) => Finding::skipped(NO_LOCAL_DIGEST),
        Err(err) => Finding::failed(err.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_tags_keeps_the_last_admitted_tags_the_registry_listed() {
        let listed: Vec<String> = ["1.0.0", "1.11.0", "1.9.0-rc1", "latest", "1.10.0"]
            .iter()
            .map(|t| t.to_string())
            .collect();
        let policy = tags::TagPolicy::new(None, Some("-rc"), None).unwrap();
        let seen = |max| capped(&listed, &policy, max).cloned().collect::<Vec<_>>();
        assert_eq!(seen(None), ["1.0.0", "1.11.0", "latest", "1.10.0"]);
        assert_eq!(seen(Some(2)), ["latest", "1.10.0"]);
        assert_eq!(seen(Some(9)).len(), 4);
        let newest = tags::newest("1.0.0", capped(&listed, &policy, Some(2)), &policy);
        assert_eq!(newest.map(|n| n.tag), Some("1.10.0".to_string()));
    }
}
