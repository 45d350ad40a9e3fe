//! What one check found for one container, in the vocabulary every report shares (`check`,
//! later `run --once` and the events): up to date, update available, skipped with a reason, or
//! failed with a reason.
//!
//! Today a finding compares digests only: a new image behind the same tag. Semver-newer tags
//! join when the tag policy lands.

use crate::model::{ContainerInfo, UpdateKind};
use crate::registry::reference::ReferenceError;
use crate::registry::{DigestCheck, Session};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    UpdateAvailable,
    UpToDate,
    Skipped,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub status: Status,
    /// Why a container was skipped or its check failed; `null` otherwise.
    pub reason: Option<String>,
    pub update: Option<Update>,
}

/// The newer image: its tag (the same tag for a digest update) and digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Update {
    pub kind: UpdateKind,
    pub tag: String,
    pub digest: String,
}

impl Finding {
    fn skipped(reason: impl Into<String>) -> Self {
        Finding {
            status: Status::Skipped,
            reason: Some(reason.into()),
            update: None,
        }
    }
}

/// Asks the registry (through the check's shared session) whether `container` runs the image
/// its tag points to now.
pub async fn digest_finding(session: &Session<'_>, container: &ContainerInfo) -> Finding {
    let image = match container.reference() {
        Ok(image) => image,
        Err(ReferenceError::ImageId { .. }) => {
            return Finding::skipped("created from an image ID: there is no tag to follow");
        }
        Err(err) => return Finding::skipped(format!("image is not a valid reference: {err}")),
    };
    if image.digest.is_some() {
        return Finding::skipped("pinned by digest");
    }
    let tag = image.tag.clone().unwrap_or_else(|| "latest".into());
    match session.check_digest(&image, container).await {
        Ok(DigestCheck::UpToDate { .. }) => Finding {
            status: Status::UpToDate,
            reason: None,
            update: None,
        },
        Ok(DigestCheck::Changed { remote }) => Finding {
            status: Status::UpdateAvailable,
            reason: None,
            update: Some(Update {
                kind: UpdateKind::Digest,
                tag,
                digest: remote,
            }),
        },
        Ok(DigestCheck::NoLocalDigest) => Finding::skipped(
            "the image has no digest from this registry (built locally, or never pushed or pulled)",
        ),
        Err(err) => Finding {
            status: Status::Failed,
            reason: Some(err.to_string()),
            update: None,
        },
    }
}
