//! Plain data that watchers, the bus, triggers, the store and the API share. No wire types live
//! here: bollard's and the registry's JSON structs stay in their modules, so a change of Docker
//! API version or registry quirk never ripples through the program.

use serde::Serialize;
use std::collections::BTreeMap;

pub mod finding;
pub mod hold;
pub mod reference;
pub use hold::{Hold, Holds};
pub use reference::{ImageRef, ReferenceError};

/// A container as one watcher saw it, or a Swarm service (see [`Kind`]): both are checked and
/// reported alike, only the way an update is applied differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ContainerInfo {
    /// Name of the watcher (Docker host) it runs on: names are only unique per host.
    pub watcher: String,
    /// A container, or a Swarm service seen through a manager. Left out of JSON for containers,
    /// so reports written before services existed read the same.
    #[serde(skip_serializing_if = "Kind::is_container", default)]
    pub kind: Kind,
    pub id: String,
    /// Without Docker's leading `/`.
    pub name: String,
    /// Docker's state word: `running`, `exited`, `restarting`, `paused`, `created`, `dead`.
    pub state: String,
    /// The image as the container was created with it (`Config.Image`), verbatim: this is what
    /// a re-create must use, and what the user recognises.
    pub image: String,
    /// ID of the image the container actually runs, which may no longer carry the tag.
    pub image_id: String,
    /// `name@digest` entries the engine recorded on pull or push; empty for a locally built image.
    pub repo_digests: Vec<String>,
    /// What the image was built for: picks our manifest out of a multi-arch index.
    pub platform: Platform,
    pub labels: BTreeMap<String, String>,
}

/// What a watched unit is. A Swarm service is not a container, but it has what a check needs
/// (an image reference, the digest it runs, labels), so it travels as a [`ContainerInfo`]; an
/// update of one goes through Swarm instead of re-creating a container.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A container on one engine; `id` is the container's.
    #[default]
    Container,
    /// A Swarm service, listed by a manager; `id` is the service's, `name` the service's name,
    /// and its tasks (containers, on any node) are not listed on their own.
    Service,
}

impl Kind {
    pub fn is_container(&self) -> bool {
        *self == Kind::Container
    }
}

/// The platform an image was built for, as the engine and image indexes name it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl ContainerInfo {
    /// The reference to watch. A container created from an image ID has none; a short ID
    /// (`a1b2c3d4e5f6`) reads like a Docker Hub name, so it is recognised against the ID of the
    /// image the container runs.
    pub fn reference(&self) -> Result<ImageRef, ReferenceError> {
        let hex = self.image_id.trim_start_matches("sha256:");
        let short_id = self.image.len() >= 12
            && self.image.chars().all(|c| c.is_ascii_hexdigit())
            && hex.starts_with(self.image.as_str());
        if short_id {
            return Err(ReferenceError::ImageId {
                input: self.image.clone(),
            });
        }
        ImageRef::parse(&self.image)
    }
}

#[cfg(test)]
impl ContainerInfo {
    /// A running container of `image` for unit tests; override fields with struct update syntax.
    pub(crate) fn example(image: &str) -> Self {
        ContainerInfo {
            watcher: "local".into(),
            kind: Kind::Container,
            id: "c0ffee".into(),
            name: "web".into(),
            state: "running".into(),
            image: image.into(),
            image_id: format!("sha256:{}", "ab".repeat(32)),
            repo_digests: Vec::new(),
            platform: Platform::default(),
            labels: BTreeMap::new(),
        }
    }
}

/// A container as the watcher it runs on names it: names are unique per host and survive the
/// re-create of an update, which IDs do not.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ContainerKey {
    pub watcher: String,
    pub name: String,
}

impl ContainerInfo {
    pub fn key(&self) -> ContainerKey {
        ContainerKey {
            watcher: self.watcher.clone(),
            name: self.name.clone(),
        }
    }
}

/// How big a change an update is, from smallest to largest, so thresholds compare with `<=`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum UpdateKind {
    /// Same tag, new digest behind it.
    Digest,
    Prerelease,
    Patch,
    Minor,
    Major,
}

/// A newer image found for one container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpdateCandidate {
    pub container: ContainerInfo,
    /// The reference it runs now, normalised.
    pub current: ImageRef,
    /// The reference to move to: another tag for a semver update, the same tag for a digest one.
    pub target: ImageRef,
    /// Digest of `target` in the registry.
    pub digest: Option<String>,
    pub kind: UpdateKind,
    /// The `display.name` label, else the container's name.
    pub display_name: String,
    /// The `link.template` label filled in for `target`.
    pub link: Option<String>,
}

/// What one check cycle of one watcher found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub watcher: String,
    pub scanned: usize,
    pub updates: usize,
    pub up_to_date: usize,
    pub skipped: usize,
    pub failed: usize,
    /// Updates found but held back (see [`Hold`]).
    pub held: usize,
    /// Names of every container listed, when the engine answered: what is not among them is
    /// gone. `None` when the engine could not be reached, which says nothing about them.
    #[serde(skip)]
    pub listed: Option<Vec<String>>,
}

/// What one docker trigger did with one watcher's updates of a cycle: the other half of the
/// report Watchtower gives (the check's half is [`Report`]). Every update the trigger took on
/// is in exactly one count.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UpdateReport {
    pub watcher: String,
    /// The trigger, `docker.<name>`.
    pub trigger: String,
    /// Re-created on the new image, gate passed.
    pub updated: usize,
    /// Not updated, nothing changed (or, at worst, not put back: the log says which).
    pub failed: usize,
    /// Left alone on purpose this time (a pre-update hook's exit 75).
    pub skipped: usize,
    /// The new container did not work; the old one is back.
    pub rolled_back: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(image: &str, image_id: &str) -> ContainerInfo {
        ContainerInfo {
            image_id: image_id.into(),
            ..ContainerInfo::example(image)
        }
    }

    #[test]
    fn containers_created_from_an_image_id_have_no_reference() {
        let id = format!("sha256:a1b2c3d4e5f6{}", "0".repeat(52));
        let by_short_id = container("a1b2c3d4e5f6", &id);
        assert!(matches!(
            by_short_id.reference(),
            Err(ReferenceError::ImageId { .. })
        ));
        let by_full_id = container(&id, &id);
        assert!(matches!(
            by_full_id.reference(),
            Err(ReferenceError::ImageId { .. })
        ));
        let by_name = container("nginx:1.25", &id);
        assert_eq!(
            by_name.reference().unwrap().normalized(),
            "docker.io/library/nginx:1.25"
        );
        // A hex-looking name that is not the running image's ID is a name.
        let other = container("deadbeefcafe", &id);
        assert!(other.reference().is_ok());
    }

    #[test]
    fn kinds_order_from_digest_to_major() {
        assert!(UpdateKind::Digest < UpdateKind::Prerelease);
        assert!(UpdateKind::Prerelease < UpdateKind::Patch);
        assert!(UpdateKind::Patch < UpdateKind::Minor);
        assert!(UpdateKind::Minor < UpdateKind::Major);
        assert_eq!(
            serde_json::to_string(&UpdateKind::Minor).unwrap(),
            "\"minor\""
        );
    }
}
