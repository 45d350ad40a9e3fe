//! What a check found for one container, in the vocabulary every report shares (`check`,
//! `run --once`, the events, the store): up to date, update available, skipped with a reason,
//! or failed with a reason. The check itself is `watch::finding`; the printed report
//! `watch::listing`. The JSON shape is a contract scripts depend on: fields are only ever added.

use crate::model::{ContainerInfo, Kind, UpdateKind};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    UpdateAvailable,
    UpToDate,
    Skipped,
    Failed,
    /// An update exists but is held back (a rollback, the health gate, `tidewatch hold`): not
    /// offered, notified or applied. `update` says which, `hold` who held it, when and why.
    Held,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub status: Status,
    /// Why a container was skipped or its check failed; `null` otherwise.
    pub reason: Option<String>,
    pub update: Option<Update>,
    /// The `display.name` label, when set.
    pub display_name: Option<String>,
}

/// The newer image: its tag (the same tag for a digest update) and digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Update {
    pub kind: UpdateKind,
    pub tag: String,
    /// `null` only when the registry listed the new tag but could not say its digest.
    pub digest: Option<String>,
    /// The container's `link.template` filled in for the new tag.
    pub link: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Listing {
    pub containers: Vec<ListedContainer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ListedContainer {
    pub watcher: String,
    /// `container`, or `service` for a Swarm service listed by a manager.
    pub kind: Kind,
    pub id: String,
    pub name: String,
    pub state: String,
    /// As the container was created with it.
    pub image: String,
    /// Normalised, or `null` when `image` is not a reference (an image ID, a malformed name).
    pub reference: Option<String>,
    pub reference_error: Option<String>,
    pub image_id: String,
    pub repo_digests: Vec<String>,
    /// The `display.name` label, when set.
    pub display_name: Option<String>,
    pub status: Status,
    /// Why the container was skipped or its check failed.
    pub reason: Option<String>,
    pub update: Option<Update>,
    /// Why `update` is held back, when `status` is `held`; `null` otherwise.
    pub hold: Option<crate::model::Hold>,
}

impl ListedContainer {
    pub fn new(c: &ContainerInfo, finding: Finding) -> Self {
        let (reference, reference_error) = match c.reference() {
            Ok(r) => (Some(r.normalized()), None),
            Err(err) => (None, Some(err.to_string())),
        };
        ListedContainer {
            watcher: c.watcher.clone(),
            kind: c.kind,
            id: c.id.clone(),
            name: c.name.clone(),
            state: c.state.clone(),
            image: c.image.clone(),
            reference,
            reference_error,
            image_id: c.image_id.clone(),
            repo_digests: c.repo_digests.clone(),
            display_name: finding.display_name,
            status: finding.status,
            reason: finding.reason,
            update: finding.update,
            hold: None,
        }
    }
}

/// An engine that could not be listed, in the JSON report: without it, an unreachable host and
/// a host with no containers would print the same `containers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EngineError {
    pub watcher: String,
    pub error: String,
}
