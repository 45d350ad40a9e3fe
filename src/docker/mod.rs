//! The Docker engine, through bollard. The only module that imports bollard: everything else
//! sees [`ContainerInfo`], so the engine's API version and wire types stay in here.

use crate::config::{Endpoint, WatcherConfig};
use crate::model::{ContainerInfo, Platform};
use bollard::Docker;
use bollard::errors::Error as BollardError;
use bollard::query_parameters::ListContainersOptions;
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
        let mut images: HashMap<String, (Vec<String>, Platform)> = HashMap::new();
        let mut containers = Vec::with_capacity(summaries.len());
        for summary in summaries {
            let Some(id) = summary.id else { continue };
            // The list shows an image ID instead of the name once the tag moved on; only
            // inspect has the reference the container was created with.
            let inspect = match self.docker.inspect_container(&id, None).await {
                Ok(inspect) => inspect,
                Err(err) if is_not_found(&err) => {
                    tracing::debug!(container = %id, "Container vanished while listing.");
                    continue;
                }
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
            let name = inspect
                .name
                .as_deref()
                .or(summary
                    .names
                    .as_ref()
                    .and_then(|n| n.first())
                    .map(String::as_str))
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_string();
            containers.push(ContainerInfo {
                watcher: self.watcher.clone(),
                id,
                name,
                state: summary.state.map(|s| s.to_string()).unwrap_or_default(),
                image: config.image.unwrap_or_default(),
                repo_digests,
                platform,
                image_id,
                labels: config.labels.unwrap_or_default().into_iter().collect(),
            });
        }
        containers.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(containers)
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
