//! The Docker engine, through bollard. The only module that imports bollard: everything else
//! sees [`ContainerInfo`], so the engine's API version and wire types stay in here.

pub mod exec;
mod lease;
pub mod lifecycle;
mod postmortem;
mod raw;
pub mod spec;
pub mod swarm;

use crate::config::{Endpoint, WatcherConfig};
use crate::model::{ContainerInfo, Kind, Platform};
use bollard::Docker;
use bollard::errors::Error as BollardError;
use bollard::query_parameters::{EventsOptions, ListContainersOptions};
use futures_util::{Stream, StreamExt};
use std::collections::HashMap;

/// Seconds a request to the engine may take. Listing and inspecting are quick; a stuck engine
/// must not stall a watcher for bollard's default two minutes.
const REQUEST_TIMEOUT_SECS: u64 = 30;

#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    /// The engine could not be reached at all: wrong socket, engine down, TLS refused.
    #[error("cannot reach the Docker engine of watcher `{watcher}` at {endpoint}: {reason}")]
    Unreachable {
        watcher: String,
        endpoint: String,
        reason: String,
    },
    /// The engine answered with an error.
    #[error("Docker engine of watcher `{watcher}`: {reason}")]
    Api { watcher: String, reason: String },
}

impl DockerError {
    /// The watcher whose engine this is about.
    pub fn watcher(&self) -> &str {
        match self {
            DockerError::Unreachable { watcher, .. } | DockerError::Api { watcher, .. } => watcher,
        }
    }
}

/// Image details by image ID, so containers sharing an image cost one inspect.
type ImageCache = HashMap<String, (Vec<String>, Platform)>;

/// Engine events tidewatch acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineEvent {
    /// A container started: its ID.
    ContainerStarted(String),
    /// An image was tagged (pulled or built under a tag a container may use).
    ImageTagged,
    /// A container was removed: its ID and name.
    ContainerDestroyed { id: String, name: String },
}

/// A connection to one watcher's engine.
#[derive(Debug, Clone)]
pub struct Engine {
    docker: Docker,
    watcher: String,
    endpoint: Endpoint,
}

impl Engine {
    /// Connects and agrees on an API version: tidewatch speaks to engines as old as API 1.41
    /// (Docker 20.10, still Debian 12's), which rejects the newer version bollard defaults to.
    pub async fn connect(watcher: &str, config: &WatcherConfig) -> Result<Engine, DockerError> {
        let endpoint = config.endpoint();
        let unreachable = |err: BollardError| DockerError::Unreachable {
            watcher: watcher.to_string(),
            endpoint: endpoint.to_string(),
            reason: root_cause(&err),
        };
        let version = bollard::API_DEFAULT_VERSION;
        let docker = match &endpoint {
            Endpoint::Socket(path) => {
                Docker::connect_with_socket(path, REQUEST_TIMEOUT_SECS, version)
            }
            Endpoint::Tcp { host, port } => Docker::connect_with_http(
                &format!("tcp://{host}:{port}"),
                REQUEST_TIMEOUT_SECS,
                version,
            ),
            Endpoint::Tls {
                host,
                port,
                cafile,
                certfile,
                keyfile,
            } => Docker::connect_with_ssl(
                &format!("tcp://{host}:{port}"),
                keyfile,
                certfile,
                cafile,
                REQUEST_TIMEOUT_SECS,
                version,
            ),
        }
        .map_err(unreachable)?;
        let docker = docker.negotiate_version().await.map_err(unreachable)?;
        Ok(Engine {
            docker,
            watcher: watcher.to_string(),
            endpoint,
        })
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The containers of this engine, running ones only unless `include_stopped`.
    pub async fn containers(
        &self,
        include_stopped: bool,
    ) -> Result<Vec<ContainerInfo>, DockerError> {
        let options = ListContainersOptions {
            all: include_stopped,
            ..Default::default()
        };
        let summaries = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|err| self.api_error(&err))?;
        let mut images = ImageCache::new();
        let mut containers = Vec::with_capacity(summaries.len());
        for summary in summaries {
            let Some(id) = summary.id else { continue };
            match self.inspect(&id, &mut images).await? {
                Some(container) => containers.push(container),
                None => tracing::debug!(container = %id, "Container vanished while listing."),
            }
        }
        containers.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(containers)
    }

    /// One container, by ID or name; `None` when it no longer exists.
    pub async fn container(&self, id: &str) -> Result<Option<ContainerInfo>, DockerError> {
        self.inspect(id, &mut ImageCache::new()).await
    }

    /// What tidewatch needs of a container. The list shows an image ID instead of the name once
    /// the tag moved on; only inspect has the reference the container was created with.
    async fn inspect(
        &self,
        id: &str,
        images: &mut ImageCache,
    ) -> Result<Option<ContainerInfo>, DockerError> {
        let inspect = match self.docker.inspect_container(id, None).await {
            Ok(inspect) => inspect,
            Err(err) if is_not_found(&err) => return Ok(None),
            Err(err) => return Err(self.api_error(&err)),
        };
        let config = inspect.config.unwrap_or_default();
        let image_id = inspect.image.unwrap_or_default();
        // An engine that reports no image for a container leaves nothing to inspect.
        if image_id.is_empty() {
            images.entry(String::new()).or_default();
        } else if !images.contains_key(&image_id) {
            let image = match self.docker.inspect_image(&image_id).await {
                Ok(image) => (
                    image.repo_digests.unwrap_or_default(),
                    Platform {
                        os: image.os.unwrap_or_default(),
                        architecture: image.architecture.unwrap_or_default(),
                        variant: image.variant.filter(|v| !v.is_empty()),
                    },
                ),
                // The image can be gone while a container still runs it (`rmi -f`).
                Err(err) if is_not_found(&err) => (Vec::new(), Platform::default()),
                Err(err) => return Err(self.api_error(&err)),
            };
            images.insert(image_id.clone(), image);
        }
        let (repo_digests, platform) = images[&image_id].clone();
        Ok(Some(ContainerInfo {
            watcher: self.watcher.clone(),
            kind: Kind::Container,
            id: inspect.id.unwrap_or_else(|| id.to_string()),
            name: inspect
                .name
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_string(),
            state: inspect
                .state
                .and_then(|s| s.status)
                .map(|s| s.to_string())
                .unwrap_or_default(),
            image: config.image.unwrap_or_default(),
            repo_digests,
            platform,
            image_id,
            labels: config.labels.unwrap_or_default().into_iter().collect(),
        }))
    }

    /// What the engine reports that is worth acting on now rather than at the next cron: a
    /// container started (new, re-created or restarted), an image tagged, a container removed.
    /// The stream ends when the connection does (engine restart); the caller reconnects.
    pub fn events(&self) -> impl Stream<Item = Result<EngineEvent, DockerError>> + '_ {
        let filters = HashMap::from([
            (
                "type".to_string(),
                vec!["container".to_string(), "image".to_string()],
            ),
            (
                "event".to_string(),
                vec![
                    "start".to_string(),
                    "tag".to_string(),
                    "destroy".to_string(),
                ],
            ),
        ]);
        let options = EventsOptions {
            filters: Some(filters),
            ..Default::default()
        };
        self.docker.events(Some(options)).filter_map(move |event| {
            let event = match event {
                Ok(event) => event,
                Err(err) => return std::future::ready(Some(Err(self.api_error(&err)))),
            };
            let (id, name) = match event.actor {
                Some(actor) => (
                    actor.id.unwrap_or_default(),
                    actor
                        .attributes
                        .and_then(|mut a| a.remove("name"))
                        .unwrap_or_default(),
                ),
                None => Default::default(),
            };
            let mapped = match (
                event.typ.map(|t| t.to_string()).as_deref(),
                event.action.as_deref(),
            ) {
                (Some("container"), Some("start")) => Some(Ok(EngineEvent::ContainerStarted(id))),
                (Some("image"), Some("tag")) => Some(Ok(EngineEvent::ImageTagged)),
                (Some("container"), Some("destroy")) => {
                    Some(Ok(EngineEvent::ContainerDestroyed { id, name }))
                }
                _ => None,
            };
            std::future::ready(mapped)
        })
    }

    fn api_error(&self, err: &BollardError) -> DockerError {
        match err {
            BollardError::DockerResponseServerError { .. } => DockerError::Api {
                watcher: self.watcher.clone(),
                reason: root_cause(err),
            },
            _ => DockerError::Unreachable {
                watcher: self.watcher.clone(),
                endpoint: self.endpoint.to_string(),
                reason: root_cause(err),
            },
        }
    }
}

fn is_not_found(err: &BollardError) -> bool {
    matches!(
        err,
        BollardError::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// The engine's own message, or else the innermost cause: "No such file or directory (os error
/// 2)" says more to a user than the chain of wrappers above it.
fn root_cause(err: &BollardError) -> String {
    if let BollardError::DockerResponseServerError {
        status_code,
        message,
    } = err
    {
        return format!("{message} (HTTP {status_code})");
    }
    let mut cause: &dyn std::error::Error = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
