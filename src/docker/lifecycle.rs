//! What an update does to containers and images on one engine: pull, inspect, rename, stop,
//! create from the old container's configuration, start, watch the health, remove. Each is one
//! engine call (or one stream), with the engine's error kept as the reason; the order and the
//! rollback live in `crate::update`, which sees none of bollard's types.

use super::spec;
use super::{DockerError, Engine};
use crate::registry::credentials::Credential;
use bollard::auth::DockerCredentials;
use bollard::models::{ContainerInspectResponse, ImageInspect, NetworkConnectRequest};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, InspectContainerOptions, KillContainerOptions,
    RemoveContainerOptions, RemoveImageOptions, RenameContainerOptions, StartContainerOptions,
    StopContainerOptions, TagImageOptions,
};
use futures_util::StreamExt;

/// A container as it was before an update: everything needed to create it again.
#[derive(Debug, Clone)]
pub struct Snapshot {
    container: ContainerInspectResponse,
    image: ImageInspect,
    /// `Config.MacAddress`: the MAC address the user set, which bollard's types drop (see
    /// `raw`).
    configured_mac: Option<String>,
}

impl Snapshot {
    pub fn id(&self) -> &str {
        self.container.id.as_deref().unwrap_or_default()
    }

    /// Without Docker's leading `/`.
    pub fn name(&self) -> String {
        self.container
            .name
            .as_deref()
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string()
    }

    pub fn running(&self) -> bool {
        self.container
            .state
            .as_ref()
            .and_then(|s| s.running)
            .unwrap_or(false)
    }

    /// The value of the environment variable `name` in its configuration, if set.
    pub fn env_var(&self, name: &str) -> Option<&str> {
        self.container
            .config
            .as_ref()?
            .env
            .as_ref()?
            .iter()
            .find_map(|entry| entry.strip_prefix(name)?.strip_prefix('='))
    }

    /// Whether it publishes a port on the host: then two instances cannot run at once.
    pub fn publishes_ports(&self) -> bool {
        self.container
            .host_config
            .as_ref()
            .and_then(|h| h.port_bindings.as_ref())
            .is_some_and(|bindings| {
                bindings
                    .values()
                    .any(|b| b.as_ref().is_some_and(|b| !b.is_empty()))
            })
    }

    /// The image as the container was created with it (`Config.Image`).
    pub fn configured_image(&self) -> String {
        self.container
            .config
            .as_ref()
            .and_then(|c| c.image.clone())
            .unwrap_or_else(|| self.image_id().to_string())
    }

    /// The ID of the image it runs.
    pub fn image_id(&self) -> &str {
        self.image.id.as_deref().unwrap_or_default()
    }

    /// The signal to stop it with: the `stop-signal` label, else its own, else the engine's
    /// default (SIGTERM).
    pub fn stop_signal(&self) -> Option<String> {
        spec::stop_signal(&self.container, &self.image)
    }

    /// Seconds to wait after the stop signal: its own `StopTimeout`, else `default`.
    pub fn stop_timeout(&self, default: u64) -> u64 {
        spec::stop_timeout(&self.container)
            .map(|t| t.as_secs())
            .unwrap_or(default)
    }
}

/// Where a started container stands, for the health gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    pub running: bool,
    pub restarting: bool,
    pub exit_code: Option<i64>,
    /// `starting`, `healthy`, `unhealthy`, or `None` without a health check.
    pub health: Option<String>,
    pub restart_count: i64,
}

fn docker_credentials(credential: &Credential) -> DockerCredentials {
    match credential {
        Credential::Basic { username, password } => DockerCredentials {
            username: Some(username.clone()),
            password: Some(password.expose().to_string()),
            ..Default::default()
        },
        Credential::IdentityToken(token) => DockerCredentials {
            identitytoken: Some(token.expose().to_string()),
            ..Default::default()
        },
    }
}

/// What ties a container to others, as the engine stored it: the update's order
/// (`update::order`) is planned from these.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wiring {
    pub id: String,
    /// Without Docker's leading `/`.
    pub name: String,
    /// `HostConfig.Links`, as stored (`/db:/web/db`).
    pub links: Vec<String>,
    /// `HostConfig.NetworkMode` (`container:<x>` shares another's network stack).
    pub network_mode: String,
    pub labels: std::collections::BTreeMap<String, String>,
}

/// A container an update replaced: containers sharing its network stack follow it to the new
/// ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaced {
    pub old_id: String,
    pub old_name: String,
    pub new_id: String,
}

/// Where the old container waits while its successor is tried.
pub fn aside_name(name: &str) -> String {
    format!("{name}-tidewatch-old")
}

/// The temporary name of a new container started beside the old one (start-first).
pub fn new_name(name: &str) -> String {
    format!("{name}-tidewatch-new")
}

impl Engine {
    fn failed(&self, err: &bollard::errors::Error) -> DockerError {
        self.api_error(err)
    }

    /// Pulls `reference` (`name:tag`), with registry credentials when there are some. The
    /// stream reports errors as messages in it (a 404 tag, a denied pull), not as HTTP errors.
    pub async fn pull(
        &self,
        reference: &str,
        credential: Option<&Credential>,
    ) -> Result<(), DockerError> {
        let options = CreateImageOptions {
            from_image: Some(reference.to_string()),
            ..Default::default()
        };
        let mut stream =
            self.docker
                .create_image(Some(options), None, credential.map(docker_credentials));
        while let Some(item) = stream.next().await {
            let info = item.map_err(|err| self.failed(&err))?;
            if let Some(detail) = info.error_detail.and_then(|d| d.message) {
                return Err(DockerError::Api {
                    watcher: self.watcher.clone(),
                    reason: format!("pull {reference}: {detail}"),
                });
            }
        }
        Ok(())
    }

    /// The container and the image it runs, as they are now.
    pub async fn snapshot(&self, id: &str) -> Result<Snapshot, DockerError> {
        let container = self
            .docker
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
            .map_err(|err| self.failed(&err))?;
        let image_id = container.image.clone().unwrap_or_default();
        let image = self
            .docker
            .inspect_image(&image_id)
            .await
            .map_err(|err| self.failed(&err))?;
        let configured_mac = self.configured_mac(id).await;
        Ok(Snapshot {
            container,
            image,
            configured_mac,
        })
    }

    /// The MAC address the user gave container `id` (`docker run --mac-address`), or `None`.
    /// Engines fill `Config.MacAddress` only for a configured MAC (moby#47233), while an
    /// endpoint's MAC may be one they generated, which must not be copied (moby#48168). Not
    /// readable, it is `None` and the successor gets a generated MAC: logged, not fatal.
    async fn configured_mac(&self, id: &str) -> Option<String> {
        match self.raw_inspect(id).await {
            Ok(inspect) => inspect["Config"]["MacAddress"]
                .as_str()
                .filter(|mac| !mac.is_empty())
                .map(str::to_string),
            Err(err) => {
                tracing::warn!(container = %id, error = %err, "Cannot read the container's configured MAC address; its successor gets a new one.");
                None
            }
        }
    }

    pub async fn rename(&self, id: &str, name: &str) -> Result<(), DockerError> {
        let options = RenameContainerOptions {
            name: name.to_string(),
        };
        self.docker
            .rename_container(id, options)
            .await
            .map_err(|err| self.failed(&err))
    }

    /// Stops container `id`: `signal` (its own stop signal when `None`), then SIGKILL after
    /// `timeout_s` seconds; returns once it has stopped.
    pub async fn stop(
        &self,
        id: &str,
        signal: Option<String>,
        timeout_s: u64,
    ) -> Result<(), DockerError> {
        let timeout = i32::try_from(timeout_s).unwrap_or(i32::MAX);
        match signal {
            // Engines before API 1.42 ignore a stop request's `signal` and send the
            // container's own: send ours as a kill, give it the timeout, then stop what is left
            // at once (Watchtower's way).
            Some(signal) if self.api_before_1_42() => {
                self.signal_and_wait(id, &signal, timeout_s).await?;
                self.stop_with(id, None, 0).await
            }
            signal => self.stop_with(id, signal, timeout).await,
        }
    }

    async fn stop_with(&self, id: &str, signal: Option<String>, t: i32) -> Result<(), DockerError> {
        let options = StopContainerOptions { signal, t: Some(t) };
        match self.docker.stop_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            // 304: already stopped, which is what was asked.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            }) => Ok(()),
            Err(err) => Err(self.failed(&err)),
        }
    }

    /// Sends `signal` to container `id` and waits up to `timeout_s` seconds for it to stop.
    async fn signal_and_wait(
        &self,
        id: &str,
        signal: &str,
        timeout_s: u64,
    ) -> Result<(), DockerError> {
        let options = KillContainerOptions {
            signal: signal.to_string(),
        };
        match self.docker.kill_container(id, Some(options)).await {
            Ok(()) => {}
            // 409: not running, which is what was asked.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => return Ok(()),
            Err(err) => return Err(self.failed(&err)),
        }
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(timeout_s);
        while tokio::time::Instant::now() < deadline {
            if !self.health(id).await?.running {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Ok(())
    }

    pub async fn start(&self, id: &str) -> Result<(), DockerError> {
        match self
            .docker
            .start_container(id, None::<StartContainerOptions>)
            .await
        {
            Ok(()) => Ok(()),
            // 304: already running, which is what was asked.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            }) => Ok(()),
            Err(err) => Err(self.failed(&err)),
        }
    }

    /// Removes a container, running or not; with `volumes`, its anonymous volumes too.
    pub async fn remove(&self, id: &str, volumes: bool) -> Result<(), DockerError> {
        let options = RemoveContainerOptions {
            force: true,
            v: volumes,
            ..Default::default()
        };
        self.docker
            .remove_container(id, Some(options))
            .await
            .map_err(|err| self.failed(&err))
    }

    /// Creates `name` from `old`'s configuration on `image` (see `spec` for what is kept and
    /// what the new image decides), attached to every network `old` was on. Returns its ID.
    pub async fn create_like(
        &self,
        old: &Snapshot,
        image: &str,
        name: &str,
        follow: &[Replaced],
    ) -> Result<String, DockerError> {
        self.create_with_env(old, image, name, follow, None).await
    }

    /// As [`Engine::create_like`], with `env` (`NAME=value`) set in the new container, replacing
    /// an entry of the same name: how a self-update tells the successor whom it replaces.
    pub async fn create_with_env(
        &self,
        old: &Snapshot,
        image: &str,
        name: &str,
        follow: &[Replaced],
        env: Option<&str>,
    ) -> Result<String, DockerError> {
        let mac = old.configured_mac.as_deref();
        let mut plan = spec::recreate(&old.container, &old.image, image, mac).map_err(|err| {
            DockerError::Api {
                watcher: self.watcher.clone(),
                reason: err.to_string(),
            }
        })?;
        // Sharing the network stack of a container this round replaced: point at its successor.
        for replaced in follow {
            if plan.follow_network_container(&replaced.old_id, &replaced.old_name, &replaced.new_id)
            {
                break;
            }
        }
        // A legacy link followed its target when that was renamed aside for its update; point
        // it back at the name, which the target's successor now holds.
        if let Some(links) = plan
            .body
            .host_config
            .as_mut()
            .and_then(|h| h.links.as_mut())
        {
            for link in links.iter_mut() {
                let (target, alias) = link.split_once(':').unwrap_or((link.as_str(), ""));
                let target = target.trim_start_matches('/');
                if let Some(r) = follow.iter().find(|r| target == aside_name(&r.old_name)) {
                    let alias = if alias.is_empty() { &r.old_name } else { alias };
                    *link = format!("{}:{alias}", r.old_name);
                }
            }
        }
        if let Some(entry) = env {
            let variable = entry.split('=').next().unwrap_or(entry);
            let vars = plan.body.env.get_or_insert_with(Vec::new);
            vars.retain(|v| v.split('=').next() != Some(variable));
            vars.push(entry.to_string());
        }
        spec::carry_anonymous_volumes(
            &old.container,
            plan.body.host_config.get_or_insert_with(Default::default),
        );
        let created_id = match mac {
            // Before API 1.44 the engine reads a MAC only from `Config.MacAddress`, which
            // bollard's create body cannot carry (`spec` put it on the primary endpoint).
            Some(mac) if self.api_before_1_44() => {
                let mut body =
                    serde_json::to_value(&plan.body).map_err(|err| DockerError::Api {
                        watcher: self.watcher.clone(),
                        reason: format!("cannot write the create request: {err}"),
                    })?;
                body["MacAddress"] = serde_json::Value::from(mac);
                self.raw_create(name, &body).await?
            }
            _ => {
                let options = CreateContainerOptions {
                    name: Some(name.to_string()),
                    ..Default::default()
                };
                self.docker
                    .create_container(Some(options), plan.body)
                    .await
                    .map_err(|err| self.failed(&err))?
                    .id
            }
        };
        for attachment in plan.connect {
            let request = NetworkConnectRequest {
                container: created_id.clone(),
                endpoint_config: Some(attachment.endpoint),
            };
            if let Err(err) = self
                .docker
                .connect_network(&attachment.network, request)
                .await
            {
                let reason = self.failed(&err);
                // Half-made: the caller rolls back, and this one must not linger.
                let _ = self.remove(&created_id, false).await;
                return Err(reason);
            }
        }
        Ok(created_id)
    }

    /// The image `reference` as the engine has it now (after a pull), as a snapshot of no
    /// container, for its configuration.
    pub async fn image_snapshot(&self, reference: &str) -> Result<Snapshot, DockerError> {
        let image = self
            .docker
            .inspect_image(reference)
            .await
            .map_err(|err| self.failed(&err))?;
        Ok(Snapshot {
            container: ContainerInspectResponse::default(),
            image,
            configured_mac: None,
        })
    }

    /// Whether container `id` reports health, as it was created: the health gate waits for
    /// `healthy` only then. Its own config decides, not its image's nor its predecessor's: a
    /// new image may drop its `HEALTHCHECK`, a user may have run `--no-healthcheck`.
    pub async fn has_healthcheck(&self, id: &str) -> Result<bool, DockerError> {
        let c = self
            .docker
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
            .map_err(|err| self.failed(&err))?;
        let configured =
            spec::has_healthcheck(c.config.as_ref().and_then(|c| c.healthcheck.as_ref()));
        let reporting = c
            .state
            .and_then(|s| s.health)
            .and_then(|h| h.status)
            .is_some_and(|s| {
                matches!(s.to_string().as_str(), "starting" | "healthy" | "unhealthy")
            });
        Ok(configured || reporting)
    }

    pub async fn health(&self, id: &str) -> Result<Health, DockerError> {
        let c = self
            .docker
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
            .map_err(|err| self.failed(&err))?;
        let state = c.state.unwrap_or_default();
        Ok(Health {
            running: state.running.unwrap_or(false),
            restarting: state.restarting.unwrap_or(false),
            exit_code: state.exit_code,
            health: state
                .health
                .and_then(|h| h.status)
                .map(|s| s.to_string())
                .filter(|s| !s.is_empty() && s != "none"),
            restart_count: c.restart_count.unwrap_or(0),
        })
    }

    /// Every container of the engine, running or not, with what decides the order of an update:
    /// links, network mode, labels (see `update::order`).
    pub async fn nodes(&self) -> Result<Vec<Wiring>, DockerError> {
        let options = bollard::query_parameters::ListContainersOptions {
            all: true,
            ..Default::default()
        };
        let summaries = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|err| self.failed(&err))?;
        let mut nodes = Vec::with_capacity(summaries.len());
        for summary in summaries {
            let Some(id) = summary.id else { continue };
            let inspect = match self
                .docker
                .inspect_container(&id, None::<InspectContainerOptions>)
                .await
            {
                Ok(inspect) => inspect,
                // Gone while listing: nothing depends on it any more.
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => continue,
                Err(err) => return Err(self.failed(&err)),
            };
            let host = inspect.host_config.unwrap_or_default();
            let name = inspect.name.unwrap_or_default();
            let labels = inspect
                .config
                .and_then(|c| c.labels)
                .unwrap_or_default()
                .into_iter()
                .collect();
            nodes.push(Wiring {
                id,
                name: name.trim_start_matches('/').to_string(),
                links: host.links.unwrap_or_default(),
                network_mode: host.network_mode.unwrap_or_default(),
                labels,
            });
        }
        Ok(nodes)
    }

    /// Removes an image no container uses any more; one still in use is left, which is not an
    /// error (another container, or a tag that moved on).
    pub async fn remove_image_if_unused(&self, image_id: &str) -> Result<bool, DockerError> {
        let options = RemoveImageOptions {
            force: false,
            ..Default::default()
        };
        match self
            .docker
            .remove_image(image_id, Some(options), None)
            .await
        {
            Ok(_) => Ok(true),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => Ok(false),
            Err(err) => Err(self.failed(&err)),
        }
    }

    /// Tags image `image_id` as `reference` (`repo:tag`), moving the tag if it named another
    /// image: a rollback runs the exact image it goes back to under the name the user wrote.
    pub async fn tag(&self, image_id: &str, reference: &str) -> Result<(), DockerError> {
        let without_digest = reference.split('@').next().unwrap_or(reference);
        let (repo, tag) = match without_digest.rsplit_once(':') {
            Some((repo, tag)) if !tag.contains('/') => (repo, tag),
            _ => (without_digest, "latest"),
        };
        let options = TagImageOptions {
            repo: Some(repo.to_string()),
            tag: Some(tag.to_string()),
        };
        self.docker
            .tag_image(image_id, Some(options))
            .await
            .map_err(|err| self.failed(&err))
    }
}
