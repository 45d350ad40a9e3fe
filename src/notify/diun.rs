//! Diun's webhook message (Diun 4's `RenderJSON`), for the `http` trigger's `format = "diun"`:
//! a receiver written for Diun's webhook reads it unchanged.
//!
//! Diun tells one image per message. A new tag is `new`, as Diun (with `watch_repo`) reports a
//! tag it had not seen, with `image` the new tag; a new digest behind the running tag is
//! `update`, with `image` the running tag. `digest` is the new image's; `metadata` holds what
//! Diun's docker provider puts there and tidewatch knows (`ctn_id`, `ctn_names`, `ctn_state`;
//! not Docker's list-only `ctn_command`, `ctn_createdat`, `ctn_status`, `ctn_size`).
//! `mime_type` and `created` are facts of the manifest that a check does not keep: empty and
//! `null`.

use crate::model::{ContainerInfo, ImageRef, Kind, UpdateCandidate, UpdateKind};
use serde::Serialize;
use std::collections::BTreeMap;

/// Diun's field names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// tidewatch's version, where Diun puts its own.
    pub diun_version: String,
    pub hostname: String,
    /// `new` or `update`.
    pub status: &'static str,
    /// `docker`, or `swarm` for a service.
    pub provider: &'static str,
    /// Normalised, with its tag: `docker.io/library/nginx:1.25.4`.
    pub image: String,
    pub hub_link: String,
    pub mime_type: String,
    pub digest: String,
    pub created: Option<String>,
    /// `os/architecture[/variant]`.
    pub platform: String,
    pub metadata: BTreeMap<&'static str, String>,
}

/// Diun's message for one update.
pub fn entry(c: &UpdateCandidate, hostname: &str) -> Entry {
    let (status, shown) = match c.kind {
        UpdateKind::Digest => ("update", &c.current),
        _ => ("new", &c.target),
    };
    let tag = shown.tag.as_deref().unwrap_or("latest");
    Entry {
        diun_version: env!("CARGO_PKG_VERSION").to_string(),
        hostname: hostname.to_string(),
        status,
        provider: match c.container.kind {
            Kind::Container => "docker",
            Kind::Service => "swarm",
        },
        image: format!("{}:{tag}", shown.name()),
        hub_link: hub_link(shown),
        mime_type: String::new(),
        digest: c.digest.clone().unwrap_or_default(),
        created: None,
        platform: platform(&c.container),
        metadata: BTreeMap::from([
            ("ctn_id", c.container.id.clone()),
            ("ctn_names", c.container.name.clone()),
            ("ctn_state", c.container.state.clone()),
        ]),
    }
}

/// Where Diun links an image's registry page; empty for a registry it has no page for.
pub fn hub_link(image: &ImageRef) -> String {
    let path = image.repository.as_str();
    match image.registry.as_str() {
        _ if image.is_docker_hub() => match path.strip_prefix("library/") {
            Some(official) => format!("https://hub.docker.com/_/{official}"),
            None => format!("https://hub.docker.com/r/{path}"),
        },
        "gcr.io" => format!("https://gcr.io/{path}"),
        "ghcr.io" => {
            let mut parts = path.splitn(3, '/');
            match (parts.next(), parts.next()) {
                (Some(user), Some(package)) => {
                    format!("https://github.com/users/{user}/packages/container/package/{package}")
                }
                _ => String::new(),
            }
        }
        "quay.io" => format!("https://quay.io/repository/{path}"),
        "registry.gitlab.com" => format!("https://gitlab.com/{path}/container_registry"),
        _ => String::new(),
    }
}

fn platform(info: &ContainerInfo) -> String {
    let p = &info.platform;
    if p.os.is_empty() && p.architecture.is_empty() {
        return String::new();
    }
    match &p.variant {
        Some(variant) => format!("{}/{}/{variant}", p.os, p.architecture),
        None => format!("{}/{}", p.os, p.architecture),
    }
}
