//! Manifests: which media types we accept, and the little we read from them — an index's
//! platform entries and a manifest's config digest — to tell whether a multi-arch image changed
//! for *our* platform.

use crate::model::Platform;
use serde::Deserialize;
use sha2::{Digest, Sha256};

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// Every kind we understand, indexes first: without an Accept header naming them a registry
/// may answer with a converted schema-1 manifest whose digest matches nothing local.
pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json";

/// Manifests are small; an index of many platforms stays well under this.
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;

pub fn is_index(media_type: &str) -> bool {
    let media_type = media_type.split(';').next().unwrap_or("").trim();
    media_type == OCI_INDEX || media_type == DOCKER_LIST
}

#[derive(Debug, Deserialize)]
struct Index {
    #[serde(default)]
    manifests: Vec<IndexEntry>,
}

#[derive(Debug, Deserialize)]
struct IndexEntry {
    digest: String,
    platform: Option<IndexPlatform>,
}

#[derive(Debug, Deserialize)]
struct IndexPlatform {
    os: String,
    architecture: String,
    variant: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Manifest {
    config: Descriptor,
}

#[derive(Debug, Deserialize)]
struct Descriptor {
    digest: String,
}

/// The digest of the manifest for `platform` in an index. A missing variant on either side
/// matches any (arm64 images often omit `v8`); an exact variant match wins over that.
pub fn platform_digest(index: &[u8], platform: &Platform) -> Result<Option<String>, String> {
    let index: Index =
        serde_json::from_slice(index).map_err(|err| format!("index is not valid JSON: {err}"))?;
    let candidates: Vec<(&IndexEntry, &IndexPlatform)> = index
        .manifests
        .iter()
        .filter_map(|m| m.platform.as_ref().map(|p| (m, p)))
        .filter(|(_, p)| p.os == platform.os && p.architecture == platform.architecture)
        .collect();
    let exact = candidates
        .iter()
        .find(|(_, p)| p.variant == platform.variant);
    let loose = candidates
        .iter()
        .find(|(_, p)| p.variant.is_none() || platform.variant.is_none());
    Ok(exact.or(loose).map(|(m, _)| m.digest.clone()))
}

/// The config digest of an image manifest, which is the image ID the engine shows.
pub fn config_digest(manifest: &[u8]) -> Result<String, String> {
    let manifest: Manifest = serde_json::from_slice(manifest)
        .map_err(|err| format!("manifest is not valid JSON: {err}"))?;
    Ok(manifest.config.digest)
}

/// What `Docker-Content-Digest` would have said, for registries that leave it out.
pub fn sha256_digest(body: &[u8]) -> String {
    let hash = Sha256::digest(body);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
        {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:amd64","size":1,"platform":{"architecture":"amd64","os":"linux"}},
        {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:armv7","size":1,"platform":{"architecture":"arm","os":"linux","variant":"v7"}},
        {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:arm64","size":1,"platform":{"architecture":"arm64","os":"linux","variant":"v8"}},
        {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:attest","size":1,"platform":{"architecture":"unknown","os":"unknown"}}
    ]}"#;

    fn platform(arch: &str, variant: Option<&str>) -> Platform {
        Platform {
            os: "linux".into(),
            architecture: arch.into(),
            variant: variant.map(String::from),
        }
    }

    fn check(platform: Platform, expected: Option<&str>) {
        let got = platform_digest(INDEX.as_bytes(), &platform).unwrap();
        assert_eq!(got.as_deref(), expected, "{platform:?}");
    }

    #[test]
    fn picks_the_platform_manifest() {
        check(platform("amd64", None), Some("sha256:amd64"));
        check(platform("arm", Some("v7")), Some("sha256:armv7"));
        check(platform("arm", Some("v6")), None);
        check(platform("arm64", None), Some("sha256:arm64"));
        check(platform("arm64", Some("v8")), Some("sha256:arm64"));
        check(platform("s390x", None), None);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(platform_digest(b"<html>", &platform("amd64", None)).is_err());
        assert!(config_digest(b"{}").is_err());
        assert_eq!(
            config_digest(br#"{"config":{"digest":"sha256:abc","size":1}}"#).unwrap(),
            "sha256:abc"
        );
    }

    #[test]
    fn media_types() {
        assert!(is_index(OCI_INDEX));
        assert!(is_index(
            "application/vnd.docker.distribution.manifest.list.v2+json; charset=utf-8"
        ));
        assert!(!is_index(DOCKER_MANIFEST));
        assert_eq!(
            sha256_digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
