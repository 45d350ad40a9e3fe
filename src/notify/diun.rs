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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::template::sample_candidate;
    use serde_json::json;

    #[test]
    fn a_new_tag_is_new_and_names_the_new_tag() {
        let mut c = sample_candidate();
        c.container.platform = crate::model::Platform {
            os: "linux".into(),
            architecture: "arm".into(),
            variant: Some("v7".into()),
        };
        let sent = serde_json::to_value(entry(&c, "myserver")).unwrap();
        assert_eq!(
            sent,
            json!({
                "diun_version": env!("CARGO_PKG_VERSION"),
                "hostname": "myserver",
                "status": "new",
                "provider": "docker",
                "image": "docker.io/library/nginx:1.25.4",
                "hub_link": "https://hub.docker.com/_/nginx",
                "mime_type": "",
                "digest": format!("sha256:{}", "3".repeat(64)),
                "created": null,
                "platform": "linux/arm/v7",
                "metadata": {
                    "ctn_id": "0123456789ab",
                    "ctn_names": "web",
                    "ctn_state": "running",
                },
            })
        );
    }

    #[test]
    fn a_new_digest_is_an_update_of_the_running_tag() {
        let mut c = sample_candidate();
        c.current = ImageRef::parse("ghcr.io/crazy-max/diun:latest").unwrap();
        c.target = c.current.clone();
        c.kind = UpdateKind::Digest;
        let sent = entry(&c, "h");
        assert_eq!(sent.status, "update");
        assert_eq!(sent.image, "ghcr.io/crazy-max/diun:latest");
        assert_eq!(
            sent.hub_link,
            "https://github.com/users/crazy-max/packages/container/package/diun"
        );
        assert_eq!(sent.platform, "");
    }

    #[test]
    fn hub_links_follow_diuns_registries() {
        let link = |r: &str| hub_link(&ImageRef::parse(r).unwrap());
        assert_eq!(
            link("crazymax/diun"),
            "https://hub.docker.com/r/crazymax/diun"
        );
        assert_eq!(link("quay.io/a/b:1"), "https://quay.io/repository/a/b");
        assert_eq!(
            link("registry.gitlab.com/g/p:1"),
            "https://gitlab.com/g/p/container_registry"
        );
        assert_eq!(link("127.0.0.1:5000/app:1"), "");
    }
}
