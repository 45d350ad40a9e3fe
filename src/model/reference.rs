//! Docker image references (`nginx`, `ghcr.io/a/b:1.2@sha256:…`), parsed and normalised the way
//! the Docker engine does it (github.com/distribution/reference).
//!
//! Containers report the image they were created with exactly as the user typed it, so the same
//! image shows up as `nginx`, `library/nginx` and `docker.io/library/nginx:latest`. Everything
//! that compares, stores or queries images goes through [`ImageRef`] so that two spellings Docker
//! would pull the same thing from compare equal, and so that a name Docker accepts is not
//! rejected here. The one deliberate exception is an image ID (`sha256:<hex>`), which the engine
//! reports for containers started by ID and which has no repository to watch.
//!
//! A hand-written parser rather than the `regex` crate: the grammar is small, and hand-written
//! checks can say *which* part of the input is wrong.

use serde::Serialize;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// How Docker names Docker Hub in normalised references.
pub(crate) const DOCKER_HUB: &str = "docker.io";
/// Docker Hub's registry API lives on another host than the one references name.
pub(crate) const DOCKER_HUB_API: &str = "registry-1.docker.io";
/// Other spellings of Docker Hub that users copy from old docs and error messages. Docker itself
/// only folds `index.docker.io`; `registry-1.docker.io` is folded too because it is the same
/// registry and otherwise its images would never match their `docker.io` twins.
const DOCKER_HUB_ALIASES: [&str; 2] = ["index.docker.io", "registry-1.docker.io"];
/// Namespace of Docker Hub's official images, implied by single-component names there.
const OFFICIAL_NAMESPACE: &str = "library/";
/// What Docker pulls when neither a tag nor a digest is given.
const DEFAULT_TAG: &str = "latest";
/// Docker's limit on the repository path (registry host excluded, `library/` included).
const MAX_REPOSITORY_LEN: usize = 255;
/// Docker's limit on a tag.
const MAX_TAG_LEN: usize = 128;
/// The digest algorithms Docker accepts, with their hex length and the reason given when the
/// hex part is wrong. Docker rejects other algorithms, so accepting them here would only defer
/// the failure to the first registry request.
const DIGEST_ALGORITHMS: [(&str, usize, &str); 3] = [
    (
        "sha256",
        64,
        "a sha256 digest must be 64 lowercase hex characters",
    ),
    (
        "sha384",
        96,
        "a sha384 digest must be 96 lowercase hex characters",
    ),
    (
        "sha512",
        128,
        "a sha512 digest must be 128 lowercase hex characters",
    ),
];

/// A parsed, normalised image reference.
///
/// Fields hold the normalised form, so derived equality and hashing treat every spelling of the
/// same image as one key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ImageRef {
    /// Registry host as Docker names it, with port if any: "docker.io" for Docker Hub
    /// (index.docker.io and registry-1.docker.io normalise to "docker.io"), "ghcr.io",
    /// "127.0.0.1:5000", "localhost".
    pub registry: String,
    /// Repository path: "library/nginx", "linuxserver/sonarr", "a/b/c".
    pub repository: String,
    /// Tag, if given or implied: "latest" when neither tag nor digest was given.
    pub tag: Option<String>,
    /// Digest "algo:hex" if the reference pins one.
    pub digest: Option<String>,
}

/// Why a string is not an image reference.
///
/// Callers branch on [`ReferenceError::ImageId`] (a container started from an image ID has no
/// repository to watch, which is expected, not a mistake); the other variants say which part of
/// the input is wrong, for messages. Every message quotes the whole input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// Usually an unset label or option rather than a typo.
    #[error("invalid reference \"\": reference is empty")]
    Empty,
    /// The input is an image ID (`sha256:<hex>` or bare 64 hex), which names content, not a
    /// repository. Docker itself refuses a bare 64-hex name for the same reason.
    #[error("invalid reference {input:?}: this is an image id, not a repository name")]
    ImageId { input: String },
    /// The registry host or repository path is malformed, or the path is too long.
    #[error("invalid reference {input:?}: {reason}")]
    InvalidName { input: String, reason: &'static str },
    #[error("invalid reference {input:?}: invalid tag {tag:?}: {reason}")]
    InvalidTag {
        input: String,
        tag: String,
        reason: &'static str,
    },
    #[error("invalid reference {input:?}: invalid digest {digest:?}: {reason}")]
    InvalidDigest {
        input: String,
        digest: String,
        reason: &'static str,
    },
}

impl ImageRef {
    /// Parses as `docker pull` does (Docker's `ParseNormalizedNamed` plus the implied `latest`).
    pub fn parse(input: &str) -> Result<ImageRef, ReferenceError> {
        if input.is_empty() {
            return Err(ReferenceError::Empty);
        }
        if is_image_id(input) {
            return Err(ReferenceError::ImageId {
                input: input.to_owned(),
            });
        }
        let name_error = |reason| ReferenceError::InvalidName {
            input: input.to_owned(),
            reason,
        };

        // Neither a name nor a tag can contain '@', so the first one starts the digest.
        let (name_and_tag, digest) = match input.split_once('@') {
            Some((before, digest)) => (before, Some(digest)),
            None => (input, None),
        };
        // The last ':' starts a tag unless a '/' follows it: then it was a registry port.
        let (name, tag) = match name_and_tag.rsplit_once(':') {
            Some((name, tag)) if !tag.contains('/') => (name, Some(tag)),
            _ => (name_and_tag, None),
        };
        if name.is_empty() {
            return Err(name_error("repository name is missing"));
        }

        let (registry, path) = match name.split_once('/') {
            Some((first, rest)) if names_a_registry(first) => (first, rest),
            _ => (DOCKER_HUB, name),
        };
        if registry != DOCKER_HUB && !is_valid_host(registry) {
            return Err(name_error("registry host is not a valid host[:port]"));
        }
        if path.is_empty() {
            return Err(name_error("repository name is missing"));
        }
        if path.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(name_error("repository name must be lowercase"));
        }
        if path.split('/').any(str::is_empty) {
            return Err(name_error(
                "repository name must not have empty components (leading, trailing or double '/')",
            ));
        }
        if !path.split('/').all(is_valid_path_component) {
            return Err(name_error(
                "repository name components must be lowercase letters and digits, \
                 separated by '.', '_', '__' or '-'",
            ));
        }

        let registry = if DOCKER_HUB_ALIASES.contains(&registry) {
            DOCKER_HUB
        } else {
            registry
        };
        let repository = if registry == DOCKER_HUB && !path.contains('/') {
            format!("{OFFICIAL_NAMESPACE}{path}")
        } else {
            path.to_owned()
        };
        if repository.len() > MAX_REPOSITORY_LEN {
            return Err(name_error(
                "repository name must not be more than 255 characters",
            ));
        }

        if let Some(tag) = tag {
            check_tag(tag).map_err(|reason| ReferenceError::InvalidTag {
                input: input.to_owned(),
                tag: tag.to_owned(),
                reason,
            })?;
        }
        if let Some(digest) = digest {
            check_digest(digest).map_err(|reason| ReferenceError::InvalidDigest {
                input: input.to_owned(),
                digest: digest.to_owned(),
                reason,
            })?;
        }

        let tag = match (tag, digest) {
            (None, None) => Some(DEFAULT_TAG),
            (tag, _) => tag,
        };
        Ok(ImageRef {
            registry: registry.to_owned(),
            repository,
            tag: tag.map(str::to_owned),
            digest: digest.map(str::to_owned),
        })
    }

    /// Full normalised form: "docker.io/library/nginx:latest", "ghcr.io/a/b:1.2@sha256:...",
    /// "127.0.0.1:5000/app@sha256:..." (Display impl gives the same string).
    pub fn normalized(&self) -> String {
        self.with_suffix(self.name())
    }

    /// "registry/repository" without tag/digest: "docker.io/library/nginx".
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// Docker's short "familiar" form: "nginx:latest", "linuxserver/sonarr:4", "ghcr.io/a/b:1".
    /// This is what users type and what `docker ps` shows, so messages use it.
    pub fn familiar(&self) -> String {
        let name = if self.is_docker_hub() {
            // Only "library/x" is shortened: Docker keeps "library/a/b" whole.
            match self.repository.strip_prefix(OFFICIAL_NAMESPACE) {
                Some(short) if !short.contains('/') => short.to_owned(),
                _ => self.repository.clone(),
            }
        } else {
            self.name()
        };
        self.with_suffix(name)
    }

    /// Host to talk the registry HTTP API to: "registry-1.docker.io" for Docker Hub, else
    /// `registry`.
    pub fn api_host(&self) -> &str {
        if self.is_docker_hub() {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    pub fn is_docker_hub(&self) -> bool {
        self.registry == DOCKER_HUB
    }

    /// True when the registry host is loopback (localhost, 127.0.0.0/8, [::1]) — such
    /// registries are reached over plain HTTP as Docker does.
    ///
    /// Docker resolves the host and checks the addresses; this looks at the name only, so a
    /// hosts-file alias for 127.0.0.1 is not recognised.
    pub fn is_loopback_registry(&self) -> bool {
        let host = match self.registry.strip_prefix('[') {
            Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
            None => self.registry.split(':').next().unwrap_or_default(),
        };
        host.eq_ignore_ascii_case("localhost")
            || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    fn with_suffix(&self, mut name: String) -> String {
        if let Some(tag) = &self.tag {
            name.push(':');
            name.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            name.push('@');
            name.push_str(digest);
        }
        name
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.normalized())
    }
}

impl FromStr for ImageRef {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ImageRef::parse(s)
    }
}

/// Docker refuses a bare 64-hex name because it is indistinguishable from an image ID;
/// `sha256:<hex>` (which Docker would read as repository `sha256` with a hex tag) is what the
/// engine reports as a container's image when it was started by ID, so it is refused too.
fn is_image_id(input: &str) -> bool {
    let bare_id = input.len() == 64 && is_lower_hex(input);
    bare_id || check_digest(input).is_ok()
}

/// Docker's rule for whether the first path component is a registry host rather than a Docker
/// Hub namespace. An uppercase component counts as a host because namespaces cannot contain
/// uppercase letters: Docker reads `NAS/app` as repository `app` on a registry at host `NAS`.
fn names_a_registry(first: &str) -> bool {
    first.contains(['.', ':'])
        || first == "localhost"
        || first.bytes().any(|b| b.is_ascii_uppercase())
}

/// `host[:port]`, where host is a DNS name (letters of either case) or a bracketed IPv6 address
/// (hex digits and colons only: no zone, no embedded IPv4, as Docker).
fn is_valid_host(registry: &str) -> bool {
    let (host_ok, port) = if let Some(rest) = registry.strip_prefix('[') {
        let Some((address, after)) = rest.split_once(']') else {
            return false;
        };
        let address_ok =
            !address.is_empty() && address.bytes().all(|b| b.is_ascii_hexdigit() || b == b':');
        (address_ok, after)
    } else {
        let end = registry.find(':').unwrap_or(registry.len());
        let (host, port) = registry.split_at(end);
        (host.split('.').all(is_valid_host_label), port)
    };
    let port_ok = match port.strip_prefix(':') {
        Some(digits) => !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()),
        None => port.is_empty(),
    };
    host_ok && port_ok
}

fn is_valid_host_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        }
        _ => false,
    }
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`: runs of lowercase letters and digits joined by
/// exactly one of ".", "_", "__" or any number of "-".
fn is_valid_path_component(component: &str) -> bool {
    let is_alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let is_separator = |b: &u8| matches!(b, b'.' | b'_' | b'-');
    let mut rest = component.as_bytes();
    loop {
        let alnum = rest.iter().take_while(|b| is_alnum(b)).count();
        if alnum == 0 {
            return false;
        }
        rest = &rest[alnum..];
        if rest.is_empty() {
            return true;
        }
        let separator_len = rest.iter().take_while(|b| is_separator(b)).count();
        let (separator, after) = rest.split_at(separator_len);
        let valid = matches!(separator, b"." | b"_" | b"__")
            || (!separator.is_empty() && separator.iter().all(|b| *b == b'-'));
        if !valid {
            return false;
        }
        rest = after;
    }
}

/// `[\w][\w.-]{0,127}` with `\w` meaning ASCII letters, digits and `_`.
fn check_tag(tag: &str) -> Result<(), &'static str> {
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    match tag.bytes().next() {
        None => return Err("tag is empty"),
        Some(first) if !is_word(first) => {
            return Err("tag must start with a letter, digit or '_'");
        }
        Some(_) => {}
    }
    if tag.len() > MAX_TAG_LEN {
        return Err("tag must not be more than 128 characters");
    }
    if !tag.bytes().all(|b| is_word(b) || b == b'.' || b == b'-') {
        return Err("tag may contain only letters, digits, '_', '.' and '-'");
    }
    Ok(())
}

fn check_digest(digest: &str) -> Result<(), &'static str> {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return Err("digest must be algorithm:hex");
    };
    let Some((_, len, wrong_hex)) = DIGEST_ALGORITHMS.iter().find(|(a, ..)| *a == algorithm) else {
        return Err("unsupported digest algorithm; Docker accepts sha256, sha384 and sha512");
    };
    if hex.len() != *len || !is_lower_hex(hex) {
        return Err(wrong_hex);
    }
    Ok(())
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sha256 digest for the table, as a macro so rows stay `&'static str` via `concat!`.
    macro_rules! sha {
        () => {
            "sha256:7cc4b5aefd1d0cadf8d97d4350462ba51c694ebca145b08d7d41b41acc8db5aa"
        };
    }
    const HEX64: &str = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a";

    /// Which variant an invalid reference must produce; a mirror of [`ReferenceError`] without
    /// its fields, so rows stay short and a new variant breaks the build here.
    #[derive(Debug, PartialEq)]
    enum Kind {
        Empty,
        ImageId,
        Name,
        Tag,
        Digest,
    }

    enum Want<'a> {
        Valid {
            normalized: &'a str,
            familiar: &'a str,
            api_host: &'a str,
            loopback: bool,
        },
        /// The variant, and a fragment the message must contain after the quoted input.
        Invalid(Kind, &'a str),
    }

    /// A Docker Hub reference: API on registry-1.docker.io.
    fn hub<'a>(normalized: &'a str, familiar: &'a str) -> Want<'a> {
        Want::Valid {
            normalized,
            familiar,
            api_host: "registry-1.docker.io",
            loopback: false,
        }
    }

    /// A reference on another registry: API on the registry host itself.
    fn other<'a>(normalized: &'a str, familiar: &'a str) -> Want<'a> {
        Want::Valid {
            normalized,
            familiar,
            api_host: normalized.split_once('/').unwrap().0,
            loopback: false,
        }
    }

    /// A reference on a loopback registry (plain HTTP).
    fn local<'a>(normalized: &'a str, familiar: &'a str) -> Want<'a> {
        Want::Valid {
            normalized,
            familiar,
            api_host: normalized.split_once('/').unwrap().0,
            loopback: true,
        }
    }

    fn invalid(kind: Kind, message: &str) -> Want<'_> {
        Want::Invalid(kind, message)
    }

    /// The only place the tests call the API.
    ///
    /// For a valid reference it also checks that the fields are exactly the pieces of the
    /// expected normalised string, and that both the normalised and the familiar forms parse
    /// back to the same reference (so normalising is idempotent and familiar loses nothing).
    fn check(input: &str, want: Want<'_>) {
        let parsed = ImageRef::parse(input);
        assert_eq!(input.parse::<ImageRef>(), parsed, "FromStr for {input:?}");
        match want {
            Want::Valid {
                normalized,
                familiar,
                api_host,
                loopback,
            } => {
                let r = parsed.unwrap_or_else(|e| panic!("{input:?} should parse: {e}"));
                assert_eq!(r.normalized(), normalized, "normalized of {input:?}");
                assert_eq!(r.to_string(), normalized, "Display of {input:?}");
                assert_eq!(r.familiar(), familiar, "familiar of {input:?}");
                assert_eq!(r.api_host(), api_host, "api_host of {input:?}");
                assert_eq!(r.is_loopback_registry(), loopback, "loopback of {input:?}");
                assert_eq!(r.is_docker_hub(), r.registry == "docker.io");

                let (registry, rest) = normalized.split_once('/').unwrap();
                let (rest, digest) = match rest.split_once('@') {
                    Some((rest, digest)) => (rest, Some(digest.to_owned())),
                    None => (rest, None),
                };
                let (repository, tag) = match rest.rsplit_once(':') {
                    Some((repository, tag)) => (repository, Some(tag.to_owned())),
                    None => (rest, None),
                };
                let fields = ImageRef {
                    registry: registry.to_owned(),
                    repository: repository.to_owned(),
                    tag,
                    digest,
                };
                assert_eq!(r, fields, "fields of {input:?}");
                assert_eq!(r.name(), format!("{registry}/{repository}"));

                assert_eq!(ImageRef::parse(normalized).as_ref(), Ok(&r), "re-parse");
                assert_eq!(
                    ImageRef::parse(familiar).as_ref(),
                    Ok(&r),
                    "familiar re-parse"
                );
            }
            Want::Invalid(kind, fragment) => {
                let err = parsed.expect_err(&format!("{input:?} should be rejected"));
                let actual = match err {
                    ReferenceError::Empty => Kind::Empty,
                    ReferenceError::ImageId { .. } => Kind::ImageId,
                    ReferenceError::InvalidName { .. } => Kind::Name,
                    ReferenceError::InvalidTag { .. } => Kind::Tag,
                    ReferenceError::InvalidDigest { .. } => Kind::Digest,
                };
                assert_eq!(actual, kind, "variant for {input:?}: {err}");
                let message = err.to_string();
                let prefix = format!("invalid reference {input:?}: ");
                assert!(message.starts_with(&prefix), "{message}");
                assert!(message[prefix.len()..].contains(fragment), "{message}");
                assert!(!message.ends_with('.'), "{message}");
            }
        }
    }

    #[test]
    fn references() {
        let cases = [
            // Docker Hub: library/ for single names, however the hub is spelled.
            (
                "nginx",
                hub("docker.io/library/nginx:latest", "nginx:latest"),
            ),
            (
                "nginx:1.25-alpine",
                hub("docker.io/library/nginx:1.25-alpine", "nginx:1.25-alpine"),
            ),
            (
                "library/nginx",
                hub("docker.io/library/nginx:latest", "nginx:latest"),
            ),
            (
                "docker.io/nginx",
                hub("docker.io/library/nginx:latest", "nginx:latest"),
            ),
            (
                "index.docker.io/x/y",
                hub("docker.io/x/y:latest", "x/y:latest"),
            ),
            (
                "registry-1.docker.io/x/y",
                hub("docker.io/x/y:latest", "x/y:latest"),
            ),
            (
                "registry-1.docker.io/redis:7",
                hub("docker.io/library/redis:7", "redis:7"),
            ),
            (
                "linuxserver/sonarr:4",
                hub("docker.io/linuxserver/sonarr:4", "linuxserver/sonarr:4"),
            ),
            // Only library/<one component> is shortened.
            (
                "docker.io/library/a/b",
                hub("docker.io/library/a/b:latest", "library/a/b:latest"),
            ),
            // Digest without tag: no implied latest. Tag and digest: both kept.
            (
                concat!("nginx@", sha!()),
                hub(
                    concat!("docker.io/library/nginx@", sha!()),
                    concat!("nginx@", sha!()),
                ),
            ),
            (
                concat!("nginx:latest@", sha!()),
                hub(
                    concat!("docker.io/library/nginx:latest@", sha!()),
                    concat!("nginx:latest@", sha!()),
                ),
            ),
            (
                concat!("ghcr.io/a/b:1.2@", sha!()),
                other(
                    concat!("ghcr.io/a/b:1.2@", sha!()),
                    concat!("ghcr.io/a/b:1.2@", sha!()),
                ),
            ),
            // Ports are not tags; loopback registries.
            (
                concat!("127.0.0.1:5000/app@", sha!()),
                local(
                    concat!("127.0.0.1:5000/app@", sha!()),
                    concat!("127.0.0.1:5000/app@", sha!()),
                ),
            ),
            (
                "localhost/app",
                local("localhost/app:latest", "localhost/app:latest"),
            ),
            (
                "localhost:5000/a/b:dev",
                local("localhost:5000/a/b:dev", "localhost:5000/a/b:dev"),
            ),
            (
                "127.9.8.7:80/x",
                local("127.9.8.7:80/x:latest", "127.9.8.7:80/x:latest"),
            ),
            (
                "[::1]:5000/x",
                local("[::1]:5000/x:latest", "[::1]:5000/x:latest"),
            ),
            (
                "LOCALHOST:5000/x",
                local("LOCALHOST:5000/x:latest", "LOCALHOST:5000/x:latest"),
            ),
            (
                "[fc00::1]/a/b:v1",
                other("[fc00::1]/a/b:v1", "[fc00::1]/a/b:v1"),
            ),
            (
                "192.168.0.1:8/debian",
                other("192.168.0.1:8/debian:latest", "192.168.0.1:8/debian:latest"),
            ),
            (
                "localhost.example.com/x",
                other(
                    "localhost.example.com/x:latest",
                    "localhost.example.com/x:latest",
                ),
            ),
            (
                "quay.io/a/b/c/d:1",
                other("quay.io/a/b/c/d:1", "quay.io/a/b/c/d:1"),
            ),
            // A host keeps its case; an uppercase first component is a host (Docker: NAS/app).
            (
                "Registry.Example.COM:443/team/app:v2",
                other(
                    "Registry.Example.COM:443/team/app:v2",
                    "Registry.Example.COM:443/team/app:v2",
                ),
            ),
            ("NAS/app", other("NAS/app:latest", "NAS/app:latest")),
            // Single components are always Docker Hub names, even when they look like hosts.
            (
                "localhost",
                hub("docker.io/library/localhost:latest", "localhost:latest"),
            ),
            (
                "localhost:5000",
                hub("docker.io/library/localhost:5000", "localhost:5000"),
            ),
            (
                "example.com",
                hub("docker.io/library/example.com:latest", "example.com:latest"),
            ),
            // Separators, and tags with uppercase letters.
            (
                "a/b__c/d-e---f.g_h:Tag_1.0-rc",
                hub(
                    "docker.io/a/b__c/d-e---f.g_h:Tag_1.0-rc",
                    "a/b__c/d-e---f.g_h:Tag_1.0-rc",
                ),
            ),
            // A short algorithm-like prefix is an ordinary name with a tag, as in Docker.
            (
                "sha256:abc",
                hub("docker.io/library/sha256:abc", "sha256:abc"),
            ),
            // 64 hex is only an image ID when it is the whole input.
            (
                concat!(
                    "docker.io/",
                    "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a"
                ),
                hub(
                    "docker.io/library/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a:latest",
                    "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a:latest",
                ),
            ),
            // Invalid.
            ("", invalid(Kind::Empty, "empty")),
            (HEX64, invalid(Kind::ImageId, "image id")),
            (sha!(), invalid(Kind::ImageId, "image id")),
            ("Nginx", invalid(Kind::Name, "must be lowercase")),
            ("docker/Docker", invalid(Kind::Name, "must be lowercase")),
            (
                "ghcr.io/Owner/app:1",
                invalid(Kind::Name, "must be lowercase"),
            ),
            (":latest", invalid(Kind::Name, "missing")),
            (concat!("@", sha!()), invalid(Kind::Name, "missing")),
            ("docker.io/", invalid(Kind::Name, "missing")),
            ("nginx/", invalid(Kind::Name, "empty components")),
            ("a//b", invalid(Kind::Name, "empty components")),
            ("/nginx", invalid(Kind::Name, "empty components")),
            ("-docker/docker", invalid(Kind::Name, "components must be")),
            ("dock..er/docker", invalid(Kind::Name, "host")),
            ("docker/dock_.er", invalid(Kind::Name, "components must be")),
            ("docker/dock..er", invalid(Kind::Name, "components must be")),
            ("____/____", invalid(Kind::Name, "components must be")),
            ("a___b", invalid(Kind::Name, "components must be")),
            ("nginx latest", invalid(Kind::Name, "components must be")),
            ("nginx:1:2", invalid(Kind::Name, "components must be")),
            (
                "https://github.com/docker/docker",
                invalid(Kind::Name, "host"),
            ),
            ("host:abc/x", invalid(Kind::Name, "host")),
            ("localhost:/x", invalid(Kind::Name, "host")),
            ("-bad.io/x", invalid(Kind::Name, "host")),
            ("ex_ample.com/x", invalid(Kind::Name, "host")),
            ("fc00::1:5000/debian", invalid(Kind::Name, "host")),
            ("[fe80::1%eth0]:5000/debian", invalid(Kind::Name, "host")),
            (
                "[2001:db8::192.0.2.33]:5000/debian",
                invalid(Kind::Name, "host"),
            ),
            ("[fc00::1]:5000", invalid(Kind::Name, "components must be")),
            ("nginx:", invalid(Kind::Tag, "tag is empty")),
            ("nginx:-rc1", invalid(Kind::Tag, "must start with")),
            ("nginx:1+2", invalid(Kind::Tag, "may contain only")),
            ("nginx@", invalid(Kind::Digest, "algorithm:hex")),
            (
                "nginx@sha256:abc",
                invalid(Kind::Digest, "64 lowercase hex"),
            ),
            (
                "nginx@sha256:7CC4B5AEFD1D0CADF8D97D4350462BA51C694EBCA145B08D7D41B41ACC8DB5AA",
                invalid(Kind::Digest, "64 lowercase hex"),
            ),
            (
                "nginx@md5:d41d8cd98f00b204e9800998ecf8427e",
                invalid(Kind::Digest, "unsupported"),
            ),
            (
                concat!("nginx@@", sha!()),
                invalid(Kind::Digest, "algorithm"),
            ),
            (
                concat!("nginx@", sha!(), "@", sha!()),
                invalid(Kind::Digest, "64 lowercase hex"),
            ),
        ];
        for (input, want) in cases {
            check(input, want);
        }
    }

    /// Limits need generated inputs, so they are a table of their own.
    #[test]
    fn length_limits() {
        let tag_128 = "t".repeat(128);
        let ok_tag = format!("nginx:{tag_128}");
        let ok_tag_normalized = format!("docker.io/library/{ok_tag}");
        check(&ok_tag, hub(&ok_tag_normalized, &ok_tag));
        check(
            &format!("{ok_tag}x"),
            invalid(Kind::Tag, "more than 128 characters"),
        );

        // "library/" counts towards Docker's 255: 8 + 247 = 255.
        let name_247 = "n".repeat(247);
        let normalized = format!("docker.io/library/{name_247}:latest");
        check(&name_247, hub(&normalized, &format!("{name_247}:latest")));
        check(
            &format!("{name_247}n"),
            invalid(Kind::Name, "more than 255 characters"),
        );

        // The host does not count: a 255-character path on a named registry is fine.
        let path_255 = format!("{}/{}", "a".repeat(127), "b".repeat(127));
        let on_ghcr = format!("ghcr.io/{path_255}:latest");
        check(&format!("ghcr.io/{path_255}"), other(&on_ghcr, &on_ghcr));
        check(
            &format!("ghcr.io/{path_255}b"),
            invalid(Kind::Name, "more than 255 characters"),
        );
    }
}
