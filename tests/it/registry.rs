//! The registry client (`tidewatch::registry`) against real registries: Debian's
//! `docker-registry` (CNCF distribution) anonymous, behind htpasswd, and in both bearer-token
//! modes with a token service the tests play; and, for what no real registry does on cue, a
//! scripted misbehaving one ([`crate::support::rogue`]).
//!
//! The request counters are the point of many of these tests: the client promises one ping per
//! host per client, one token per repository for as long as it lives, one HEAD per unique
//! reference per session, and no manifest GET for an unchanged single-arch image or a
//! steady-state multi-arch one. Where it promises a number, the tests assert that exact number
//! through [`assert_counts`].
//!
//! - `digests`: what a reference points to, and whether a container runs it (real registry).
//! - `auth`: Basic, bearer tokens (silly and JWT), expiry, Docker's config.json.
//! - `misbehaving`: pagination, rate limits, retries, size and time bounds, garbage headers.
//! - `tls`: a registry with a private CA, trusted by `cafile` or by opt-in `insecure`.

mod auth;
mod digests;
mod misbehaving;
mod tls;

use crate::support::Pushed;
use std::collections::BTreeMap;
use std::time::Duration;
use tidewatch::config::{RegistriesConfig, RegistryConfig, Secret, WatcherConfig};
use tidewatch::docker::Engine;
use tidewatch::model::ContainerInfo;
use tidewatch::model::reference::ImageRef;
use tidewatch::registry::{ClientSettings, Limits, RegistryClient, RegistryError, RequestKind};

/// Short enough that a hung test fails fast, long enough for a loaded two-core machine; backoff
/// short so retry tests take milliseconds.
fn limits() -> Limits {
    Limits {
        timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(5),
        retries: 2,
        backoff: Duration::from_millis(10),
        ..Limits::default()
    }
}

fn settings() -> ClientSettings {
    ClientSettings {
        limits: limits(),
        ..ClientSettings::default()
    }
}

/// A client with no registry configured: loopback registries need none.
fn anonymous_client() -> RegistryClient {
    client_with(&RegistriesConfig::default(), settings())
}

/// A client with `login` configured for the registry at `host` (`127.0.0.1:PORT`), as a
/// `custom` registry.
fn client(host: &str, login: Option<(&str, &str)>) -> RegistryClient {
    client_with(&configured(host, login), settings())
}

fn client_with(config: &RegistriesConfig, settings: ClientSettings) -> RegistryClient {
    RegistryClient::new(config, settings).expect("client from a valid configuration")
}

/// `registry.custom.test` for `host`, with `login` if given.
fn configured(host: &str, login: Option<(&str, &str)>) -> RegistriesConfig {
    let registry = RegistryConfig {
        url: Some(format!("http://{host}")),
        login: login.map(|(user, _)| user.to_string()),
        password: login.map(|(_, password)| Secret::new(password)),
        ..RegistryConfig::default()
    };
    RegistriesConfig {
        custom: [("test".to_string(), registry)].into(),
        ..RegistriesConfig::default()
    }
}

/// Asks for the digest of every pushed reference, concurrently in one session (one check), and
/// checks each is what was pushed.
async fn assert_digests_as_pushed(client: &RegistryClient, pushed: &[Pushed]) {
    let session = client.session();
    let digests = futures_util::future::join_all(pushed.iter().map(|p| {
        let session = &session;
        async move {
            session
                .manifest_digest(&image(&p.reference), None)
                .await
                .map(|r| r.digest)
        }
    }))
    .await;
    let expected: Vec<Result<String, RegistryError>> =
        pushed.iter().map(|p| Ok(p.digest.clone())).collect();
    assert_eq!(digests, expected);
}

#[track_caller]
fn image(reference: &str) -> ImageRef {
    ImageRef::parse(reference).unwrap_or_else(|err| panic!("{reference}: {err}"))
}

/// The container as the watcher sees it: through the crate's own engine module, as a check
/// would (the scene was set with the `docker` CLI).
async fn container_info(id: &str) -> ContainerInfo {
    let engine = Engine::connect("local", &WatcherConfig::default())
        .await
        .expect("connect to the Docker engine");
    let containers = engine.containers(true).await.expect("list containers");
    containers
        .into_iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("container {id} not listed by the engine"))
}

/// The requests the client made, exactly: every (host, kind, status) with its count, and
/// nothing else. Status 0 is a request that got no HTTP answer.
#[track_caller]
fn assert_counts(client: &RegistryClient, expected: &[(&str, RequestKind, u16, u64)]) {
    let expected: BTreeMap<(String, RequestKind, u16), u64> = expected
        .iter()
        .map(|(host, kind, status, n)| ((host.to_string(), *kind, *status), *n))
        .collect();
    assert_eq!(
        client.counts(),
        expected,
        "requests by (host, kind, status)"
    );
}
