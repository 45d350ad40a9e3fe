//! Swarm services, through a manager's engine: whether the engine is one, the services it
//! manages (as [`ContainerInfo`] of [`Kind::Service`], so a check treats them as containers),
//! and the two requests of a service update: the update itself and its progress.
//!
//! Swarm pins a service's image as `repo:tag@sha256:…`, resolved when the service was created
//! or last updated: the digest is what its tasks run. So the listing splits it the way a
//! container reads: the tag reference as the image to follow, the digest as what runs
//! (`repo_digests`). The update sends the service's spec back *verbatim* but for that one
//! image (a raw request, not bollard's `ServiceSpec`, whose models would drop whatever field a
//! newer engine adds): networks, secrets, configs, mounts, placement and the service's own
//! `UpdateConfig` stay exactly as the user set them.

use super::{DockerError, Engine};
use crate::model::{ContainerInfo, Kind, Platform};
use crate::registry::credentials::Credential;
use base64::Engine as _;
use bollard::models::TaskState;
use bollard::query_parameters::ListTasksOptions;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// The label Swarm puts on every task container: it names the service the task belongs to.
pub const SERVICE_ID_LABEL: &str = "com.docker.swarm.service.id";

/// Where a service's rolling update stands, as Swarm reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateStatus {
    pub state: UpdateState,
    /// When this update (or its rollback) started, as the engine wrote it: tells a new update
    /// from the one before.
    pub started_at: Option<String>,
    /// Swarm's own words: `update completed`, `update paused due to failure or early
    /// termination of task …`, `rollback completed`.
    pub message: String,
}

/// The states of a Swarm service update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateState {
    Updating,
    /// Stopped on a failure (`FailureAction=pause`); the service runs a mix of old and new.
    Paused,
    Completed,
    RollbackStarted,
    /// The rollback itself stopped on a failure.
    RollbackPaused,
    /// Swarm put every task back on the previous spec (`FailureAction=rollback`).
    RollbackCompleted,
}

impl UpdateState {
    /// Swarm's word for the state, as `docker service inspect` shows it.
    pub fn word(self) -> &'static str {
        match self {
            UpdateState::Updating => "updating",
            UpdateState::Paused => "paused",
            UpdateState::Completed => "completed",
            UpdateState::RollbackStarted => "rollback_started",
            UpdateState::RollbackPaused => "rollback_paused",
            UpdateState::RollbackCompleted => "rollback_completed",
        }
    }

    /// Whether Swarm is done with the update, one way or the other.
    pub fn finished(self) -> bool {
        !matches!(self, UpdateState::Updating | UpdateState::RollbackStarted)
    }
}

/// What a service update request left behind: the spec version and the previous update's
/// status, to know when Swarm has taken it up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateStarted {
    /// The service's `UpdateConfig` as it is used: parallelism, delay, monitor, failure action.
    pub config: RollingUpdate,
    /// The tasks the service wants (replicas; for a global service, the running tasks).
    pub tasks: u64,
    /// The update status before the request, if the service had been updated before.
    pub before: Option<UpdateStatus>,
}

/// What a service update request asks of Swarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    /// A new spec, rolled out under `UpdateConfig`.
    Update,
    /// Back to the previous spec, rolled out under `RollbackConfig`.
    Rollback,
}

/// A service's `UpdateConfig` (or `RollbackConfig`), with Docker's defaults where it sets nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollingUpdate {
    /// Tasks updated at once; 0 is all of them.
    pub parallelism: u64,
    pub delay: std::time::Duration,
    /// How long Swarm watches each new task before it counts as updated.
    pub monitor: std::time::Duration,
    /// `pause` (Docker's default), `continue` or `rollback`.
    pub failure_action: String,
}

impl Engine {
    /// Whether this engine is a Swarm manager, the only kind of node that lists services.
    pub async fn is_swarm_manager(&self) -> Result<bool, DockerError> {
        let info = self
            .docker
            .info()
            .await
            .map_err(|err| self.api_error(&err))?;
        Ok(info
            .swarm
            .and_then(|swarm| swarm.control_available)
            .unwrap_or(false))
    }

    /// The services of the Swarm this engine manages, replicated and global. Jobs are left
    /// out: they run to completion, and re-running one is not an image update.
    pub async fn services(&self) -> Result<Vec<ContainerInfo>, DockerError> {
        let services = self
            .docker
            .list_services(None)
            .await
            .map_err(|err| self.api_error(&err))?;
        let mut listed = Vec::with_capacity(services.len());
        for service in services {
            let (Some(id), Some(spec)) = (service.id, service.spec) else {
                continue;
            };
            let name = spec.name.unwrap_or_else(|| id.clone());
            let mode = spec.mode.unwrap_or_default();
            if mode.replicated_job.is_some() || mode.global_job.is_some() {
                tracing::debug!(service = %name, "Swarm job not watched.");
                continue;
            }
            let task = spec.task_template.unwrap_or_default();
            let container = task.container_spec.unwrap_or_default();
            let pinned = container.image.unwrap_or_default();
            let (image, repo_digests) = split_pin(&pinned);
            // The container spec's labels (a stack file's `labels`) under the service's own
            // (its `deploy.labels`): users put tidewatch's labels on either.
            let mut labels: BTreeMap<String, String> =
                container.labels.unwrap_or_default().into_iter().collect();
            labels.extend(spec.labels.unwrap_or_default());
            let platform = task
                .placement
                .and_then(|p| p.platforms)
                .filter(|platforms| platforms.len() == 1)
                .and_then(|mut platforms| platforms.pop())
                .map(|p| Platform {
                    os: p.os.unwrap_or_default(),
                    architecture: p.architecture.unwrap_or_default(),
                    variant: None,
                })
                .unwrap_or_default();
            let state = match mode.replicated.and_then(|r| r.replicas) {
                Some(0) => "scaled-to-zero",
                _ => "running",
            };
            listed.push(ContainerInfo {
                watcher: self.watcher.clone(),
                kind: Kind::Service,
                id,
                name,
                state: state.to_string(),
                image,
                image_id: String::new(),
                repo_digests,
                platform,
                labels,
            });
        }
        listed.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(listed)
    }

    /// Asks Swarm to move service `id` to `image` (`repo:tag@sha256:…`), its spec otherwise
    /// sent back as the engine gave it, at the version read, so that a change made meanwhile
    /// by someone else is refused rather than overwritten. `credential` goes along as
    /// `X-Registry-Auth`: Swarm hands it to every node that pulls the image for a task.
    pub async fn update_service_image(
        &self,
        id: &str,
        image: &str,
        credential: Option<&Credential>,
    ) -> Result<UpdateStarted, DockerError> {
        let service = self.raw_service(id).await?;
        let mut spec = service["Spec"].clone();
        let slot = spec
            .pointer_mut("/TaskTemplate/ContainerSpec/Image")
            .ok_or_else(|| self.swarm_error("the service has no container image"))?;
        *slot = Value::String(image.to_string());
        let auth = credential.map(|credential| registry_auth(credential, image));
        self.post_update(id, &service, &spec, auth, Change::Update)
            .await
    }

    /// Asks Swarm to put service `id` back on its previous spec (`docker service rollback`),
    /// under the service's `RollbackConfig`. Swarm keeps one previous spec: a service never
    /// updated has none, and the engine says so.
    pub async fn rollback_service(&self, id: &str) -> Result<UpdateStarted, DockerError> {
        let service = self.raw_service(id).await?;
        let spec = service["Spec"].clone();
        self.post_update(id, &service, &spec, None, Change::Rollback)
            .await
    }

    /// `POST /services/{id}/update` of `spec`, at the version `service` was read at, so that
    /// a change made meanwhile by someone else is refused rather than overwritten.
    async fn post_update(
        &self,
        id: &str,
        service: &Value,
        spec: &Value,
        auth: Option<String>,
        change: Change,
    ) -> Result<UpdateStarted, DockerError> {
        let version = service["Version"]["Index"]
            .as_u64()
            .ok_or_else(|| self.swarm_error("the service has no version"))?;
        let before = update_status(&service["UpdateStatus"]);
        let config = rolling_update(match change {
            Change::Update => &service["Spec"]["UpdateConfig"],
            Change::Rollback => &service["Spec"]["RollbackConfig"],
        });
        let tasks = match service["Spec"]["Mode"]["Replicated"]["Replicas"].as_u64() {
            Some(replicas) => replicas,
            None => self.running_tasks(id).await?.max(1),
        };
        let (client, base) = self.raw_client()?;
        let rollback = match change {
            Change::Update => "",
            Change::Rollback => "&rollback=previous",
        };
        let url = format!(
            "{base}{}/services/{id}/update?version={version}{rollback}",
            self.api_prefix()
        );
        let mut request = client.post(url).json(spec);
        if let Some(auth) = auth {
            request = request.header("X-Registry-Auth", auth);
        }
        let response = request.send().await.map_err(|err| self.raw_failed(&err))?;
        let answer = self.raw_answer(response).await?;
        if let Some(warnings) = answer["Warnings"].as_array() {
            for warning in warnings.iter().filter_map(Value::as_str) {
                tracing::warn!(service = %id, warning, "Swarm warns about the update.");
            }
        }
        Ok(UpdateStarted {
            config,
            tasks,
            before,
        })
    }

    /// The service's update status now; `None` before its first update. Read raw, as the
    /// status before the update was, so that their start times compare as the engine wrote
    /// them.
    pub async fn service_update_status(
        &self,
        id: &str,
    ) -> Result<Option<UpdateStatus>, DockerError> {
        let service = self.raw_service(id).await?;
        Ok(update_status(&service["UpdateStatus"]))
    }

    /// `GET /services/{id}`, as the engine sent it.
    async fn raw_service(&self, id: &str) -> Result<Value, DockerError> {
        let (client, base) = self.raw_client()?;
        let url = format!("{base}{}/services/{id}", self.api_prefix());
        let response = client
            .get(url)
            .send()
            .await
            .map_err(|err| self.raw_failed(&err))?;
        self.raw_answer(response).await
    }

    /// The image every running task of service `id` was created from, one entry per task:
    /// what a finished update left running.
    pub async fn running_task_images(&self, id: &str) -> Result<Vec<String>, DockerError> {
        Ok(self
            .service_tasks(id)
            .await?
            .into_iter()
            .filter(|(state, _)| *state == Some(TaskState::RUNNING))
            .map(|(_, image)| image)
            .collect())
    }

    async fn running_tasks(&self, id: &str) -> Result<u64, DockerError> {
        Ok(self.running_task_images(id).await?.len() as u64)
    }

    async fn service_tasks(
        &self,
        id: &str,
    ) -> Result<Vec<(Option<TaskState>, String)>, DockerError> {
        let options = ListTasksOptions {
            filters: Some(HashMap::from([(
                "service".to_string(),
                vec![id.to_string()],
            )])),
        };
        let tasks = self
            .docker
            .list_tasks(Some(options))
            .await
            .map_err(|err| self.api_error(&err))?;
        Ok(tasks
            .into_iter()
            .map(|task| {
                let state = task.status.and_then(|s| s.state);
                let image = task
                    .spec
                    .and_then(|s| s.container_spec)
                    .and_then(|c| c.image)
                    .unwrap_or_default();
                (state, image)
            })
            .collect())
    }

    fn swarm_error(&self, reason: &str) -> DockerError {
        DockerError::Api {
            watcher: self.watcher.clone(),
            reason: reason.to_string(),
        }
    }
}

/// `repo:tag@sha256:…` → (`repo:tag`, [`repo@sha256:…`]): the tag to follow, the digest that
/// runs. A reference without both parts stays as it is: a digest alone is a pin the user chose
/// (and the check says so), a tag alone (`--no-resolve-image`) has no known digest.
fn split_pin(pinned: &str) -> (String, Vec<String>) {
    let Some((named, digest)) = pinned.split_once('@') else {
        return (pinned.to_string(), Vec::new());
    };
    let last = named.rsplit('/').next().unwrap_or(named);
    let Some((repo_last, _tag)) = last.rsplit_once(':') else {
        return (pinned.to_string(), Vec::new());
    };
    let repo = format!("{}{repo_last}", &named[..named.len() - last.len()]);
    (named.to_string(), vec![format!("{repo}@{digest}")])
}

fn update_status(status: &Value) -> Option<UpdateStatus> {
    let state = match status["State"].as_str()? {
        "updating" => UpdateState::Updating,
        "paused" => UpdateState::Paused,
        "completed" => UpdateState::Completed,
        "rollback_started" => UpdateState::RollbackStarted,
        "rollback_paused" => UpdateState::RollbackPaused,
        "rollback_completed" => UpdateState::RollbackCompleted,
        _ => return None,
    };
    Some(UpdateStatus {
        state,
        started_at: status["StartedAt"].as_str().map(str::to_string),
        message: status["Message"].as_str().unwrap_or_default().to_string(),
    })
}

/// Docker's defaults for what the service does not set: one task at a time, no delay, five
/// seconds of monitoring, pause on failure.
fn rolling_update(config: &Value) -> RollingUpdate {
    let nanos = |key: &str, default: u64| {
        std::time::Duration::from_nanos(config[key].as_u64().unwrap_or(default))
    };
    RollingUpdate {
        parallelism: config["Parallelism"].as_u64().unwrap_or(1),
        delay: nanos("Delay", 0),
        monitor: match nanos("Monitor", 0) {
            zero if zero.is_zero() => std::time::Duration::from_secs(5),
            monitor => monitor,
        },
        failure_action: config["FailureAction"]
            .as_str()
            .filter(|a| !a.is_empty())
            .unwrap_or("pause")
            .to_string(),
    }
}

/// `X-Registry-Auth`: base64url of Docker's auth JSON, with the registry the image is on.
fn registry_auth(credential: &Credential, image: &str) -> String {
    let server = crate::model::ImageRef::parse(image)
        .map(|r| r.registry.clone())
        .unwrap_or_default();
    let json = match credential {
        Credential::Basic { username, password } => serde_json::json!({
            "username": username,
            "password": password.expose(),
            "serveraddress": server,
        }),
        Credential::IdentityToken(token) => serde_json::json!({
            "identitytoken": token.expose(),
            "serveraddress": server,
        }),
    };
    base64::engine::general_purpose::URL_SAFE.encode(json.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swarms_pin_splits_into_the_tag_to_follow_and_the_digest_that_runs() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let (image, digests) = split_pin(&format!("127.0.0.1:5000/team/app:1.2.3@{digest}"));
        assert_eq!(image, "127.0.0.1:5000/team/app:1.2.3");
        assert_eq!(digests, [format!("127.0.0.1:5000/team/app@{digest}")]);
        let (image, digests) = split_pin(&format!("nginx:latest@{digest}"));
        assert_eq!(image, "nginx:latest");
        assert_eq!(digests, [format!("nginx@{digest}")]);
        // The user's own pin, without a tag, stays one.
        let pinned = format!("127.0.0.1:5000/app@{digest}");
        assert_eq!(split_pin(&pinned), (pinned.clone(), Vec::new()));
        // Not resolved (`--no-resolve-image`): a tag and nothing known to run.
        assert_eq!(split_pin("app:1.0"), ("app:1.0".to_string(), Vec::new()));
    }

    #[test]
    fn an_update_config_left_empty_means_dockers_defaults() {
        let config = rolling_update(&Value::Null);
        assert_eq!(config.parallelism, 1);
        assert_eq!(config.monitor, std::time::Duration::from_secs(5));
        assert_eq!(config.failure_action, "pause");
        let config = rolling_update(&serde_json::json!({
            "Parallelism": 2, "Delay": 1_000_000_000u64, "FailureAction": "rollback",
            "Monitor": 3_000_000_000u64,
        }));
        assert_eq!(config.parallelism, 2);
        assert_eq!(config.delay, std::time::Duration::from_secs(1));
        assert_eq!(config.monitor, std::time::Duration::from_secs(3));
        assert_eq!(config.failure_action, "rollback");
    }
}
