//! The compose trigger: keeps `docker-compose.yml` the truth. For an update of a container that
//! compose manages, it rewrites the service's `image:` in the compose file (or the variable in
//! the project's `.env` it comes from), then brings the service up on the new image, so the
//! next `docker compose up` does not undo the update.
//!
//! Where the file is comes from the container's compose labels (or an explicit `file`), seen
//! through `pathmap` when tidewatch runs in a container; it is only ever written under the
//! `allowed` folders, whatever a label says. The edit itself (`crate::compose`) changes the
//! image value and nothing else, byte for byte; the write is atomic (temporary file, fsync,
//! rename) with the original's permissions and owner. The service is brought up with the
//! compose command (`pull`, then `up -d --no-deps SERVICE`, then the docker trigger's health
//! gate on its containers, since compose calls a container that exits at once a success);
//! without one, through the docker trigger's executor, which keeps the compose labels. If
//! bringing it up fails, the file is put back and the service brought up on it again.
//!
//! A service's replicas are one update: a cycle's findings are grouped by project and service.
//! With `file` set, only the services of that file's project are the trigger's.

use crate::bus::{Event, Subscriber};
use crate::compose::file::{self as compose, Rewrite};
use crate::config::ComposeTriggerConfig;
use crate::docker::Engine;
use crate::model::{ContainerInfo, Kind, UpdateCandidate};
use crate::trigger::filter::Filter;
use crate::trigger::{BuildProblem, TriggerId};
use crate::update::Context;
use crate::update::{self, lease};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

const SERVICE: &str = "com.docker.compose.service";
const PROJECT: &str = "com.docker.compose.project";
const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
const CONFIG_FILES: &str = "com.docker.compose.project.config_files";
/// The stack a Swarm service was deployed in by `docker stack deploy`.
const STACK: &str = "com.docker.stack.namespace";

/// How long the compose command may take for `pull` or `up`.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(600);

pub struct ComposeTrigger {
    id: TriggerId,
    filter: Filter,
    file: Option<PathBuf>,
    allowed: Vec<PathBuf>,
    /// (host prefix, local prefix)
    pathmap: Vec<(PathBuf, PathBuf)>,
    backup: bool,
    dryrun: bool,
    command: Option<Vec<String>>,
    /// The Swarm stack `file` was deployed as: its services are this trigger's.
    stack: Option<String>,
    /// How replicas are re-created without a compose command, and the gate after `up`. The
    /// compose trigger has no settings of its own for these yet: the docker trigger's defaults.
    options: update::Options,
    passed: watch::Sender<u64>,
}

impl std::fmt::Debug for ComposeTrigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComposeTrigger")
            .field("id", &self.id)
            .finish()
    }
}

/// Why an update through compose could not be done; becomes the `UpdateFailed` reason.
#[derive(Debug, thiserror::Error)]
pub enum ComposeTriggerError {
    #[error("{0}")]
    Refused(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Compose(#[from] compose::ComposeError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ComposeTriggerError + '_ {
    move |source| ComposeTriggerError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A compose file or `.env` the trigger edits: a regular file, bounded (see `config::file`).
fn read_text(path: &Path) -> Result<String, ComposeTriggerError> {
    crate::config::file::read_to_string(path, crate::config::file::FILE_LIMIT)
        .map_err(|err| ComposeTriggerError::Refused(err.to_string()))
}

/// The compose command: an explicit one, else `docker-compose`, else `docker compose`, as found
/// on `path` (the PATH); `None` when there is none (the executor re-creates instead).
fn find_command(configured: Option<&str>, path: Option<&OsStr>) -> Option<Vec<String>> {
    match configured.map(str::trim) {
        Some("none") => None,
        Some(command) if !command.is_empty() => {
            Some(command.split_whitespace().map(str::to_string).collect())
        }
        _ => {
            let find = |name: &str| {
                path.and_then(|paths| {
                    std::env::split_paths(paths)
                        .map(|dir| dir.join(name))
                        .find(|file| file.is_file())
                })
            };
            if find("docker-compose").is_some() {
                Some(vec!["docker-compose".into()])
            } else if find("docker").is_some_and(|docker| compose_plugin(&docker)) {
                Some(vec!["docker".into(), "compose".into()])
            } else {
                None
            }
        }
    }
}

/// Whether `docker compose` works: the `docker` CLI is often installed without its compose
/// plugin, and would then fail every update instead of leaving it to the executor.
fn compose_plugin(docker: &Path) -> bool {
    std::process::Command::new(docker)
        .args(["compose", "version"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

impl crate::trigger::Claims for ComposeTrigger {
    fn claims(&self, candidate: &UpdateCandidate) -> bool {
        self.wants(candidate)
    }
}

impl ComposeTrigger {
    pub fn new(name: &str, config: &ComposeTriggerConfig) -> Result<Self, Vec<BuildProblem>> {
        let mut problems = Vec::new();
        let filter = Filter::of(config.threshold, &config.include, &config.exclude)
            .map_err(|p| problems.extend(p))
            .ok();
        let mut allowed: Vec<PathBuf> = config
            .allowed
            .iter()
            .flat_map(|a| a.split(','))
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(PathBuf::from)
            .collect();
        if allowed.is_empty()
            && let Some(parent) = config.file.as_deref().and_then(Path::parent)
        {
            allowed.push(parent.to_path_buf());
        }
        if allowed.is_empty() {
            problems.push(BuildProblem::new(
                "allowed",
                "required: the folders whose compose files tidewatch may rewrite",
            ));
        }
        for folder in &allowed {
            if !folder.is_absolute() {
                problems.push(BuildProblem::new(
                    "allowed",
                    format!("{} is not an absolute path", folder.display()),
                ));
            }
        }
        if config.stack.is_some() && config.file.is_none() {
            problems.push(BuildProblem::new(
                "stack",
                "requires `file`: the stack's file, which Swarm keeps no record of",
            ));
        }
        let mut pathmap = Vec::new();
        for entry in config
            .pathmap
            .iter()
            .flat_map(|p| p.split(','))
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            match entry.split_once('=') {
                Some((host, local)) => pathmap.push((PathBuf::from(host), PathBuf::from(local))),
                None => problems.push(BuildProblem::new(
                    "pathmap",
                    format!("`{entry}`: expected host-path=local-path"),
                )),
            }
        }
        let id = TriggerId {
            kind: "compose",
            name: name.to_string(),
        };
        let command = find_command(
            config.command.as_deref(),
            crate::config::host::search_path().as_deref(),
        );
        match &command {
            Some(command) => {
                tracing::debug!(trigger = %id, command = %command.join(" "), "Services are brought up with the compose command.");
            }
            None => {
                tracing::info!(trigger = %id, "No compose command: services are re-created by the executor, keeping compose's labels.");
            }
        }
        match (filter, problems.is_empty()) {
            (Some(filter), true) => Ok(ComposeTrigger {
                id,
                filter,
                file: config.file.clone(),
                allowed,
                pathmap,
                backup: config.backup,
                dryrun: config.dryrun,
                command,
                stack: config.stack.clone(),
                options: options(config),
                passed: watch::Sender::new(0),
            }),
            _ => Err(problems),
        }
    }

    pub fn id(&self) -> &TriggerId {
        &self.id
    }

    /// What this trigger would do for `candidate`, for `tidewatch plan`: the files it would
    /// rewrite, or why it would not (a file outside `allowed`, no file naming the image).
    /// Reads the files, writes nothing.
    pub fn plan(&self, candidate: &UpdateCandidate) -> Result<String, String> {
        let labels = &candidate.container.labels;
        let (service, working_dir, files) = if candidate.container.kind == Kind::Service {
            // A service of this trigger's Swarm stack: `<stack>_<key in the file>`.
            let (Some(file), Some(stack)) = (&self.file, &self.stack) else {
                return Err("no stack file configured".into());
            };
            let name = &candidate.container.name;
            let key = name
                .strip_prefix(&format!("{stack}_"))
                .ok_or_else(|| format!("service {name} is not named after stack {stack}"))?;
            (key.to_string(), None, vec![file.clone()])
        } else {
            let service = labels
                .get(SERVICE)
                .ok_or("the container has no compose service label")?;
            let working_dir = labels.get(WORKING_DIR).map(|d| self.local(Path::new(d)));
            let files: Vec<PathBuf> = match &self.file {
                Some(file) => vec![file.clone()],
                None => self.project_files(labels),
            };
            (service.clone(), working_dir, files)
        };
        let service = &service;
        if files.is_empty() {
            return Err(
                "no compose file: the container has no config_files label and no `file` is set"
                    .into(),
            );
        }
        let edits = self
            .plan_edits(
                &files,
                service,
                &update::new_image(candidate),
                candidate.digest.as_deref(),
                working_dir.as_deref(),
            )
            .map_err(|err| err.to_string())?;
        if edits.is_empty() {
            return Ok("its compose file already names the new image".into());
        }
        let paths: Vec<String> = edits.iter().map(|e| e.path.display().to_string()).collect();
        Ok(format!("rewrites {}", paths.join(", ")))
    }

    /// Resolves once the listener has passed barrier `n`.
    pub fn barrier(&self, n: u64) -> impl Future<Output = ()> + use<> {
        let mut passed = self.passed.subscribe();
        async move {
            let _ = passed.wait_for(|&seen| seen >= n).await;
        }
    }

    /// Whether this trigger acts on `c`: its filters, a compose service it owns, not
    /// monitor-only. The docker triggers ask too, and leave such a container to it.
    pub(crate) fn wants(&self, c: &UpdateCandidate) -> bool {
        self.filter.allows(&self.id, &c.container, c.kind)
            && self.owns(&c.container)
            && crate::watch::labels::read(&c.container.labels)
                .is_ok_and(|l| l.monitor_only != Some(true))
    }

    /// Whether the container is a compose service this trigger updates. Without `file`, any
    /// service; with it, only a service of that file's project — the file among the project's
    /// config files, or the project named after the file's folder as compose names it — so
    /// that other containers are neither reported failed every cycle nor, with the same
    /// service name, updated through a file that is not theirs.
    fn owns(&self, container: &ContainerInfo) -> bool {
        // A Swarm service is updated through Swarm, never through `docker compose`: it is
        // this trigger's only as a service of its stack.
        if container.kind == Kind::Service {
            return self.stack.is_some()
                && container
                    .labels
                    .get(STACK)
                    .is_some_and(|s| Some(s) == self.stack.as_ref());
        }
        let labels = &container.labels;
        if !labels.contains_key(SERVICE) {
            if self.file.is_some() {
                tracing::debug!(trigger = %self.id, container = %container.name, "Not a compose service; ignored.");
            }
            return false;
        }
        let Some(file) = &self.file else {
            return true;
        };
        let same = |a: &Path, b: &Path| {
            a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b)
        };
        let listed = self.project_files(labels).iter().any(|f| same(f, file));
        let named = labels.get(PROJECT).is_some_and(|project| {
            file.parent()
                .and_then(Path::file_name)
                .is_some_and(|folder| project_names(&folder.to_string_lossy()).contains(project))
        });
        if !(listed || named) {
            tracing::debug!(trigger = %self.id, container = %container.name, file = %file.display(), "Of another compose project than the file's; ignored.");
        }
        listed || named
    }

    /// The project's compose files from its labels, as tidewatch sees them.
    fn project_files(&self, labels: &BTreeMap<String, String>) -> Vec<PathBuf> {
        let working_dir = labels.get(WORKING_DIR).map(|d| self.local(Path::new(d)));
        labels
            .get(CONFIG_FILES)
            .map(|files| {
                files
                    .split(',')
                    .filter(|f| !f.trim().is_empty())
                    .map(|f| {
                        let f = Path::new(f.trim());
                        match (&working_dir, f.is_relative()) {
                            (Some(dir), true) => dir.join(f),
                            _ => self.local(f),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub async fn run(self: Arc<Self>, mut events: Subscriber, context: Context) {
        let mut pending: Vec<UpdateCandidate> = Vec::new();
        while let Some(event) = events.recv().await {
            match event.as_ref() {
                Event::UpdateAvailable(c) if self.wants(c) => pending.push(c.clone()),
                Event::CheckCompleted(report) => {
                    let (now, later): (Vec<_>, Vec<_>) = std::mem::take(&mut pending)
                        .into_iter()
                        .partition(|c| c.container.watcher == report.watcher);
                    pending = later;
                    self.apply(now, &context).await;
                }
                Event::Barrier(n) => {
                    self.apply(std::mem::take(&mut pending), &context).await;
                    self.passed.send_replace(*n);
                }
                _ => {}
            }
        }
        self.apply(pending, &context).await;
    }

    /// One update per (watcher, project, service): replicas share the file and the `up`.
    async fn apply(&self, batch: Vec<UpdateCandidate>, context: &Context) {
        let mut services: BTreeMap<(String, String, String), Vec<UpdateCandidate>> =
            BTreeMap::new();
        for c in batch {
            let label = |key: &str| c.container.labels.get(key).cloned().unwrap_or_default();
            // A stack's services carry no compose labels: each is one service, by name.
            let key = match c.container.kind {
                Kind::Service => (
                    c.container.watcher.clone(),
                    String::new(),
                    c.container.name.clone(),
                ),
                Kind::Container => (c.container.watcher.clone(), label(PROJECT), label(SERVICE)),
            };
            services.entry(key).or_default().push(c);
        }
        for replicas in services.into_values() {
            let first = &replicas[0];
            let event = match self.update_service(first, &replicas, context).await {
                Ok(Some(new_id)) => Event::UpdateApplied {
                    candidate: first.clone(),
                    new_container_id: new_id,
                },
                Ok(None) => continue,
                // Logged here too: the bus's subscribers record and notify, none of them logs,
                // and a refused file (outside `allowed`) must not pass without a word.
                Err(Failure::Failed(reason)) => {
                    tracing::warn!(trigger = %self.id, container = %first.container.name, reason = %reason, "Update failed.");
                    Event::UpdateFailed {
                        candidate: first.clone(),
                        reason,
                    }
                }
                Err(Failure::RolledBack(reason)) => {
                    tracing::warn!(trigger = %self.id, container = %first.container.name, reason = %reason, "Update rolled back.");
                    Event::RolledBack {
                        candidate: first.clone(),
                        reason,
                    }
                }
            };
            context.bus.publish(event);
        }
    }

    /// A host path from a label, as tidewatch sees it.
    fn local(&self, path: &Path) -> PathBuf {
        for (host, local) in &self.pathmap {
            if let Ok(rest) = path.strip_prefix(host) {
                return local.join(rest);
            }
        }
        path.to_path_buf()
    }

    /// Refuses a path outside the allowed folders, symbolic links resolved.
    fn check_allowed(&self, path: &Path) -> Result<PathBuf, ComposeTriggerError> {
        let real = path.canonicalize().map_err(io(path))?;
        let inside = self.allowed.iter().any(|folder| {
            folder
                .canonicalize()
                .is_ok_and(|folder| real.starts_with(&folder))
        });
        if inside {
            Ok(real)
        } else {
            Err(ComposeTriggerError::Refused(format!(
                "{} is outside the allowed folders ({}); not rewritten",
                path.display(),
                self.allowed
                    .iter()
                    .map(|a| a.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
    }

    async fn update_service(
        &self,
        candidate: &UpdateCandidate,
        replicas: &[UpdateCandidate],
        context: &Context,
    ) -> Result<Option<String>, Failure> {
        if candidate.container.kind == Kind::Service {
            return self.update_stack_service(candidate, context).await;
        }
        let labels = &candidate.container.labels;
        let service = labels
            .get(SERVICE)
            .cloned()
            .ok_or_else(|| Failure::Failed("the container has no compose service label".into()))?;
        let project = labels.get(PROJECT).cloned();
        let working_dir = labels.get(WORKING_DIR).map(|d| self.local(Path::new(d)));
        let files: Vec<PathBuf> = match &self.file {
            Some(file) => vec![file.clone()],
            None => self.project_files(labels),
        };
        if files.is_empty() {
            return Err(Failure::Failed(
                "no compose file: the container has no config_files label and no `file` is set"
                    .into(),
            ));
        }
        let new_image = update::new_image(candidate);
        let edits = self
            .plan_edits(
                &files,
                &service,
                &new_image,
                candidate.digest.as_deref(),
                working_dir.as_deref(),
            )
            .map_err(|err| Failure::Failed(err.to_string()))?;
        if self.dryrun {
            for edit in &edits {
                tracing::info!(trigger = %self.id, file = %edit.path.display(), diff = %diff(&edit.before, &edit.after), "Dry run: would rewrite.");
            }
            return Ok(None);
        }
        // `compose up` replaces the service's containers: under their leases, as the docker
        // trigger's updates are, so two instances never act on them at once. Without a command
        // the containers are re-created through `update::`, which takes the leases itself.
        let mut leases = Vec::new();
        let engine = match &self.command {
            Some(_) => {
                let engine = self
                    .engine(candidate, context)
                    .await
                    .map_err(Failure::Failed)?;
                for replica in replicas {
                    match lease::take(&engine, &replica.container.name).await {
                        Ok(lease) => leases.push(lease),
                        Err(refused) => {
                            for lease in leases {
                                lease.release(&engine).await;
                            }
                            return match refused {
                                lease::Refused::Busy(reason) => {
                                    tracing::warn!(trigger = %self.id, container = %replica.container.name, reason = %reason, "Not updated: another tidewatch instance is updating it.");
                                    Ok(None)
                                }
                                lease::Refused::Failed(reason) => Err(Failure::Failed(reason)),
                            };
                        }
                    }
                }
                Some(engine)
            }
            None => None,
        };
        let outcome = self
            .rewrite_and_apply(
                &edits,
                &files,
                &service,
                project,
                working_dir,
                candidate,
                replicas,
                context,
            )
            .await;
        if let Some(engine) = &engine {
            for lease in leases {
                lease.release(engine).await;
            }
        }
        outcome
    }

    /// The files rewritten and the service brought up on them (or its containers re-created),
    /// the files put back when that fails.
    #[allow(clippy::too_many_arguments)]
    async fn rewrite_and_apply(
        &self,
        edits: &[Edit],
        files: &[PathBuf],
        service: &str,
        project: Option<String>,
        working_dir: Option<PathBuf>,
        candidate: &UpdateCandidate,
        replicas: &[UpdateCandidate],
        context: &Context,
    ) -> Result<Option<String>, Failure> {
        for edit in edits {
            write_atomic(&edit.path, &edit.after, self.backup)
                .map_err(|err| Failure::Failed(err.to_string()))?;
            tracing::info!(trigger = %self.id, file = %edit.path.display(), "Compose file rewritten.");
        }
        let undo = |edits: &[Edit]| {
            for edit in edits {
                if let Err(err) = write_atomic(&edit.path, &edit.before, false) {
                    tracing::error!(trigger = %self.id, file = %edit.path.display(), error = %err, "Could not put the file back.");
                }
            }
        };
        let outcome = match &self.command {
            Some(command) => {
                let target = Project {
                    command,
                    name: project.as_deref(),
                    files,
                    working_dir: working_dir.as_deref(),
                    service,
                    replicas: replicas.len(),
                };
                self.bring_up(&target, candidate, context, || undo(edits))
                    .await
            }
            None => self.recreate(replicas, context).await,
        };
        if outcome.is_err() && self.command.is_none() {
            undo(edits);
        }
        outcome.map(Some)
    }

    /// A service of the stack: `file` rewritten as for compose, then the service moved to the
    /// new image through Swarm, as `docker stack deploy` of the rewritten file would for an
    /// image change, without deploying whatever else in the file changed since the last
    /// deploy, and without needing the docker CLI. If Swarm does not complete the update, the
    /// file is put back.
    async fn update_stack_service(
        &self,
        candidate: &UpdateCandidate,
        context: &Context,
    ) -> Result<Option<String>, Failure> {
        let (Some(file), Some(stack)) = (&self.file, &self.stack) else {
            return Err(Failure::Failed("no stack file configured".into()));
        };
        // `docker stack deploy` names a service `<stack>_<key in the file>`.
        let name = &candidate.container.name;
        let Some(key) = name.strip_prefix(&format!("{stack}_")) else {
            return Err(Failure::Failed(format!(
                "service {name} is not named after stack {stack}"
            )));
        };
        let new_image = update::new_image(candidate);
        let edits = self
            .plan_edits(
                std::slice::from_ref(file),
                key,
                &new_image,
                candidate.digest.as_deref(),
                None,
            )
            .map_err(|err| Failure::Failed(err.to_string()))?;
        if edits
            .iter()
            .any(|e| e.path.file_name() == Some(OsStr::new(".env")))
        {
            return Err(Failure::Failed(
                "the image comes from a variable, and `docker stack deploy` reads no .env: \
                 not rewritten"
                    .into(),
            ));
        }
        if self.dryrun {
            for edit in &edits {
                tracing::info!(trigger = %self.id, file = %edit.path.display(), diff = %diff(&edit.before, &edit.after), "Dry run: would rewrite.");
            }
            return Ok(None);
        }
        for edit in &edits {
            write_atomic(&edit.path, &edit.after, self.backup)
                .map_err(|err| Failure::Failed(err.to_string()))?;
            tracing::info!(trigger = %self.id, file = %edit.path.display(), "Stack file rewritten.");
        }
        let undo = || {
            for edit in &edits {
                if let Err(err) = write_atomic(&edit.path, &edit.before, false) {
                    tracing::error!(trigger = %self.id, file = %edit.path.display(), error = %err, "Could not put the file back.");
                }
            }
        };
        let engine = match self.engine(candidate, context).await {
            Ok(engine) => engine,
            Err(reason) => {
                undo();
                return Err(Failure::Failed(reason));
            }
        };
        let credential = context
            .registry
            .pull_credential(
                &candidate.target,
                crate::watch::labels::login(&candidate.container.labels),
            )
            .await
            .unwrap_or_else(|err| {
                tracing::warn!(trigger = %self.id, error = %err, "No registry login for the pull; trying anonymously.");
                None
            });
        let outcome =
            update::service::update(&engine, candidate, credential.as_ref(), &self.options.gate)
                .await;
        match outcome {
            update::Outcome::Applied { new_id } => Ok(Some(new_id)),
            update::Outcome::RolledBack { reason } => {
                undo();
                Err(Failure::RolledBack(reason))
            }
            update::Outcome::Failed { reason }
            | update::Outcome::Broken { reason }
            | update::Outcome::Skipped { reason } => {
                undo();
                Err(Failure::Failed(reason))
            }
        }
    }

    /// Pulls and brings the service up with the compose command, then gates its containers;
    /// if `up` or the gate fails, `undo` puts the files back and the service is brought up on
    /// them again.
    async fn bring_up(
        &self,
        project: &Project<'_>,
        candidate: &UpdateCandidate,
        context: &Context,
        undo: impl Fn(),
    ) -> Result<String, Failure> {
        if let Err(reason) = project.run(&["pull"]).await {
            undo();
            return Err(Failure::Failed(format!("pull failed: {reason}")));
        }
        // `up` scales the service to the file's count: one scaled by hand (`--scale`) keeps
        // the replicas it has.
        let scale = format!("{}={}", project.service, project.replicas);
        let mut up = vec!["up", "-d", "--no-deps"];
        if project.replicas > 1 {
            up.extend(["--scale", &scale]);
        }
        let failed = match project.run(&up).await {
            Err(reason) => format!("up failed: {reason}"),
            Ok(()) => match self.gate(project, candidate, context).await {
                Ok(id) => return Ok(id),
                Err(reason) => reason,
            },
        };
        tracing::warn!(trigger = %self.id, service = %project.service, reason = %failed, "The service did not come up on the new image; putting the file back.");
        undo();
        match project.run(&up).await {
            Ok(()) => Err(Failure::RolledBack(failed)),
            Err(again) => Err(Failure::Failed(format!(
                "{failed}; bringing the old definition up failed too: {again}"
            ))),
        }
    }

    /// The health gate of the docker trigger, on each of the service's containers after `up`:
    /// compose reports success as soon as a container is started, even one that exits at once.
    /// The ID of the first for the event.
    async fn gate(
        &self,
        project: &Project<'_>,
        candidate: &UpdateCandidate,
        context: &Context,
    ) -> Result<String, String> {
        let engine = self.engine(candidate, context).await?;
        let containers = engine
            .containers(true)
            .await
            .map_err(|err| format!("cannot list the service's containers: {err}"))?;
        let mut ids: Vec<String> = containers
            .into_iter()
            .filter(|c| {
                c.labels.get(SERVICE).map(String::as_str) == Some(project.service)
                    && c.labels.get(PROJECT).map(String::as_str) == project.name
            })
            .map(|c| c.id)
            .collect();
        if ids.is_empty() {
            return Err("no container of the service after up".into());
        }
        // Replicas side by side: each settles in the same few seconds.
        futures_util::future::try_join_all(ids.iter().map(|id| {
            let engine = &engine;
            async move {
                let health_check = engine
                    .has_healthcheck(id)
                    .await
                    .map_err(|err| format!("cannot watch the new container: {err}"))?;
                self.options.gate.pass(engine, id, health_check).await
            }
        }))
        .await?;
        Ok(ids.swap_remove(0))
    }

    async fn engine(
        &self,
        candidate: &UpdateCandidate,
        context: &Context,
    ) -> Result<Engine, String> {
        let watcher = &candidate.container.watcher;
        let config = context
            .watchers
            .get(watcher)
            .ok_or_else(|| format!("no watcher {watcher}"))?;
        Engine::connect(watcher, config)
            .await
            .map_err(|err| err.to_string())
    }

    /// Without a compose command: each replica re-created by the docker trigger's executor,
    /// which keeps the compose labels. If one cannot be, those already done go back to the old
    /// image, so that no replica is left on an image the file no longer names.
    async fn recreate(
        &self,
        replicas: &[UpdateCandidate],
        context: &Context,
    ) -> Result<String, Failure> {
        let first = &replicas[0];
        let engine = self.engine(first, context).await.map_err(Failure::Failed)?;
        let credential = context
            .registry
            .pull_credential(
                &first.target,
                crate::watch::labels::login(&first.container.labels),
            )
            .await
            .ok()
            .flatten();
        let mut done: Vec<(&UpdateCandidate, String)> = Vec::new();
        for replica in replicas {
            let failure = match update::update(
                &engine,
                replica,
                credential.as_ref(),
                &self.options,
                context.journal.as_ref(),
                &[],
            )
            .await
            {
                update::Outcome::Applied { new_id } => {
                    done.push((replica, new_id));
                    continue;
                }
                update::Outcome::RolledBack { reason } => Failure::RolledBack(reason),
                update::Outcome::Failed { reason } | update::Outcome::Skipped { reason }
                    if done.is_empty() =>
                {
                    Failure::Failed(reason)
                }
                update::Outcome::Failed { reason } | update::Outcome::Skipped { reason } => {
                    Failure::RolledBack(reason)
                }
                update::Outcome::Broken { reason } => Failure::Failed(reason),
            };
            return Err(self.put_back(&engine, done, context, failure).await);
        }
        Ok(done.swap_remove(0).1)
    }

    /// Moves replicas already updated back to the image they ran; a replica that cannot be
    /// moved turns the failure into one that says so.
    async fn put_back(
        &self,
        engine: &Engine,
        done: Vec<(&UpdateCandidate, String)>,
        context: &Context,
        failure: Failure,
    ) -> Failure {
        let mut stuck = Vec::new();
        for (replica, new_id) in done {
            let name = replica.container.name.clone();
            // The same update the other way round, on the image the engine still has.
            let back = UpdateCandidate {
                container: ContainerInfo {
                    id: new_id,
                    image: update::new_image(replica),
                    ..replica.container.clone()
                },
                current: replica.target.clone(),
                target: replica.current.clone(),
                digest: None,
                ..replica.clone()
            };
            let outcome = if replica.current.tag == replica.target.tag {
                // A digest update: the tag now names the new image; the old has no name.
                update::Outcome::Failed {
                    reason: "the old image has no tag of its own".into(),
                }
            } else {
                let options = update::Options {
                    no_pull: true,
                    ..self.options.clone()
                };
                update::update(engine, &back, None, &options, context.journal.as_ref(), &[]).await
            };
            if let update::Outcome::Applied { .. } = outcome {
                tracing::info!(trigger = %self.id, container = %name, "Replica put back on the old image.");
            } else {
                tracing::error!(trigger = %self.id, container = %name, outcome = ?outcome, "Replica left on the new image, which the file no longer names.");
                stuck.push(name);
            }
        }
        if stuck.is_empty() {
            return failure;
        }
        let reason = match failure {
            Failure::Failed(reason) | Failure::RolledBack(reason) => reason,
        };
        Failure::Failed(format!(
            "{reason}; replicas left on the new image: {}",
            stuck.join(", ")
        ))
    }

    /// Reads every file, and works out which one (and which `.env`) changes and how.
    fn plan_edits(
        &self,
        files: &[PathBuf],
        service: &str,
        new_image: &str,
        digest: Option<&str>,
        working_dir: Option<&Path>,
    ) -> Result<Vec<Edit>, ComposeTriggerError> {
        // Later files override earlier ones: the last that sets the image is the one to edit.
        // An override file that names the service only for its ports or variables is passed
        // over; if no file sets the image, the error of the last such file says why.
        let mut passed_over: Option<compose::ComposeError> = None;
        for path in files.iter().rev() {
            let real = self.check_allowed(path)?;
            let text = read_text(&real)?;
            // The full reference: the file's own form decides whether the digest is written.
            let wanted = match digest {
                Some(digest) => format!("{new_image}@{digest}"),
                None => new_image.to_string(),
            };
            let rewrite = match compose::rewrite_image(&text, service, &wanted) {
                Ok(rewrite) => rewrite,
                Err(err) if err.is_missing_service() && files.len() > 1 => continue,
                Err(err) if err.is_missing_image() && files.len() > 1 => {
                    tracing::debug!(trigger = %self.id, file = %real.display(), service, "The service sets no image in this file; looking in the earlier ones.");
                    passed_over.get_or_insert(err);
                    continue;
                }
                Err(err) => return Err(err.into()),
            };
            return match rewrite {
                Rewrite::Unchanged => Ok(Vec::new()),
                Rewrite::File(after) => Ok(vec![Edit {
                    path: real,
                    before: text,
                    after,
                }]),
                Rewrite::Variables(vars) => {
                    let folder = working_dir
                        .map(Path::to_path_buf)
                        .or_else(|| real.parent().map(Path::to_path_buf))
                        .unwrap_or_default();
                    let env = self.check_allowed(&folder.join(".env"))?;
                    let before = read_text(&env)?;
                    let after = compose::rewrite_env(&before, &vars)?;
                    Ok(vec![Edit {
                        path: env,
                        before,
                        after,
                    }])
                }
            };
        }
        Err(match passed_over {
            Some(err) => err.into(),
            None => ComposeTriggerError::Refused(format!(
                "no compose file of the project sets an image for service {service}"
            )),
        })
    }
}

enum Failure {
    Failed(String),
    RolledBack(String),
}

struct Edit {
    path: PathBuf,
    before: String,
    after: String,
}

/// A service of a compose project, as the compose command is told about it.
struct Project<'a> {
    command: &'a [String],
    name: Option<&'a str>,
    files: &'a [PathBuf],
    working_dir: Option<&'a Path>,
    service: &'a str,
    /// How many containers the service has.
    replicas: usize,
}

impl Project<'_> {
    /// Runs the compose command for the service (`args` then the service's name); the error
    /// is the end of what it printed.
    async fn run(&self, args: &[&str]) -> Result<(), String> {
        let command = self.command;
        let mut cmd = tokio::process::Command::new(&command[0]);
        cmd.args(&command[1..]);
        if let Some(project) = self.name {
            cmd.args(["-p", project]);
        }
        for file in self.files {
            cmd.arg("-f").arg(file);
        }
        cmd.args(args).arg(self.service);
        if let Some(dir) = self.working_dir.filter(|d| d.is_dir()) {
            cmd.current_dir(dir);
        }
        cmd.kill_on_drop(true);
        let output = match tokio::time::timeout(COMMAND_TIMEOUT, cmd.output()).await {
            Ok(Ok(output)) => output,
            Ok(Err(err)) => return Err(format!("cannot run {}: {err}", command.join(" "))),
            Err(_) => return Err(format!("no end within {} s", COMMAND_TIMEOUT.as_secs())),
        };
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(3).collect();
        Err(format!(
            "{} {}: {}",
            command.join(" "),
            output.status,
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        ))
    }
}

/// The names compose gives a project in `folder`: lowercased, other characters than letters,
/// digits, `-` and `_` dropped (compose v2 and docker-compose 1.21+); older docker-compose
/// dropped `-` and `_` too.
fn project_names(folder: &str) -> [String; 2] {
    let lower = folder.to_lowercase();
    let keep = |allowed: &dyn Fn(char) -> bool| lower.chars().filter(|c| allowed(*c)).collect();
    [
        keep(&|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'),
        keep(&|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
    ]
}

/// A dry run's diff, unified style without context: the lines from the first that differs to
/// the last, `-` as they were and `+` as they would be, under an `@@` header with their
/// numbers. The rewrite changes one value, so one hunk is all there is.
fn diff(before: &str, after: &str) -> String {
    let old: Vec<&str> = before.lines().collect();
    let new: Vec<&str> = after.lines().collect();
    let prefix = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
    let suffix = old[prefix..]
        .iter()
        .rev()
        .zip(new[prefix..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let removed = &old[prefix..old.len() - suffix];
    let added = &new[prefix..new.len() - suffix];
    if removed.is_empty() && added.is_empty() {
        return String::new();
    }
    // As `diff -U0`: an empty side is numbered by the line before it.
    let start = |len: usize| if len == 0 { prefix } else { prefix + 1 };
    let mut out = vec![format!(
        "@@ -{},{} +{},{} @@",
        start(removed.len()),
        removed.len(),
        start(added.len()),
        added.len()
    )];
    out.extend(removed.iter().map(|line| format!("-{line}")));
    out.extend(added.iter().map(|line| format!("+{line}")));
    out.join("\n")
}

/// Replaces `path` with `text` so that a crash leaves either the old or the new file, never a
/// mix: a temporary file in the same folder, written and synced, given the original's
/// permissions and owner, then renamed over it. With `backup`, the original is first copied to
/// `<file>.<UTC time>.bak`.
pub fn write_atomic(path: &Path, text: &str, backup: bool) -> Result<(), ComposeTriggerError> {
    use std::io::Write;
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).map_err(io(path))?;
    let folder = path.parent().unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if backup {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        let copy = folder.join(format!("{file_name}.{stamp}.bak"));
        std::fs::copy(path, &copy).map_err(io(&copy))?;
    }
    let temporary = folder.join(format!(".{file_name}.tidewatch-{}", std::process::id()));
    let written = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::set_permissions(&temporary, meta.permissions())?;
        // Only root may give a file away; as the owner already, this is a no-op.
        let _ = std::os::unix::fs::chown(&temporary, Some(meta.uid()), Some(meta.gid()));
        std::fs::rename(&temporary, path)?;
        std::fs::File::open(folder)?.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written.map_err(io(path))
}

/// The executor's options for this trigger: the gate and stop timeout as configured, the rest
/// as the docker trigger's defaults.
fn options(config: &ComposeTriggerConfig) -> update::Options {
    let defaults = update::Options::default();
    update::Options {
        stop_timeout: config.stoptimeout.unwrap_or(defaults.stop_timeout),
        gate: update::Gate {
            health_timeout: config
                .healthtimeout
                .map_or(defaults.gate.health_timeout, |s| {
                    Duration::from_secs(s.max(1))
                }),
            settle: config
                .settle
                .map_or(defaults.gate.settle, Duration::from_secs),
        },
        ..defaults
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_gate_and_stop_timeout_are_configurable_and_default_as_the_docker_triggers() {
        let defaults = options(&ComposeTriggerConfig::default());
        let docker = update::Options::default();
        assert_eq!(
            (defaults.stop_timeout, &defaults.gate),
            (docker.stop_timeout, &docker.gate)
        );
        let set = options(&ComposeTriggerConfig {
            stoptimeout: Some(3),
            healthtimeout: Some(0),
            settle: Some(1),
            ..ComposeTriggerConfig::default()
        });
        assert_eq!(set.stop_timeout, 3);
        assert_eq!(
            set.gate.health_timeout,
            Duration::from_secs(1),
            "at least a second"
        );
        assert_eq!(set.gate.settle, Duration::from_secs(1));
        assert_eq!(set.cleanup, defaults.cleanup);
    }

    #[test]
    fn an_atomic_write_keeps_permissions_and_can_back_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("docker-compose.yml");
        std::fs::write(&path, "old\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&path, "new\n", true).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let backup = names
            .iter()
            .find(|n| n.starts_with("docker-compose.yml.") && n.ends_with(".bak"))
            .unwrap_or_else(|| panic!("{names:?}"));
        assert_eq!(
            std::fs::read_to_string(dir.path().join(backup)).unwrap(),
            "old\n"
        );
        assert_eq!(names.len(), 2, "no temporary file left: {names:?}");
    }

    #[test]
    fn paths_outside_the_allowed_folders_are_refused_even_through_a_symlink() {
        let allowed = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let secret = outside.path().join("passwd");
        std::fs::write(&secret, "x").unwrap();
        let link = allowed.path().join("sneaky.yml");
        std::os::unix::fs::symlink(&secret, &link).unwrap();
        let inside = allowed.path().join("compose.yml");
        std::fs::write(&inside, "x").unwrap();
        let trigger = ComposeTrigger::new(
            "t",
            &ComposeTriggerConfig {
                allowed: Some(allowed.path().display().to_string()),
                ..ComposeTriggerConfig::default()
            },
        )
        .unwrap();
        assert!(trigger.check_allowed(&inside).is_ok());
        for path in [&secret, &link] {
            let err = trigger.check_allowed(path).unwrap_err().to_string();
            assert!(err.contains("outside the allowed folders"), "{err}");
        }
    }

    #[test]
    fn host_paths_are_seen_through_the_path_map() {
        let trigger = ComposeTrigger::new(
            "t",
            &ComposeTriggerConfig {
                allowed: Some("/compose".into()),
                pathmap: Some("/srv/stacks=/compose".into()),
                ..ComposeTriggerConfig::default()
            },
        )
        .unwrap();
        assert_eq!(
            trigger.local(Path::new("/srv/stacks/web/docker-compose.yml")),
            Path::new("/compose/web/docker-compose.yml")
        );
        assert_eq!(trigger.local(Path::new("/etc/x")), Path::new("/etc/x"));
    }

    #[test]
    fn configuration_mistakes_are_all_reported() {
        let problems = ComposeTrigger::new(
            "t",
            &ComposeTriggerConfig {
                pathmap: Some("nonsense".into()),
                ..ComposeTriggerConfig::default()
            },
        )
        .unwrap_err();
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["allowed", "pathmap"]);
    }

    #[test]
    fn a_swarm_service_is_wanted_only_as_a_service_of_the_configured_stack() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("stack.yml");
        std::fs::write(&file, BASE).unwrap();
        let in_stack = |stack: &str| {
            let mut c = ContainerInfo {
                kind: Kind::Service,
                name: format!("{stack}_web"),
                ..ContainerInfo::example("app:1.0")
            };
            c.labels.insert(STACK.into(), stack.into());
            c
        };
        let stacked = ComposeTrigger::new(
            "t",
            &ComposeTriggerConfig {
                file: Some(file.clone()),
                stack: Some("shop".into()),
                ..ComposeTriggerConfig::default()
            },
        )
        .unwrap();
        assert!(stacked.owns(&in_stack("shop")));
        assert!(!stacked.owns(&in_stack("blog")));
        // A compose trigger without `stack` never takes a Swarm service.
        assert!(!trigger_in(dir.path(), Some(file)).owns(&in_stack("shop")));
        // And `stack` needs the file.
        let problems = ComposeTrigger::new(
            "t",
            &ComposeTriggerConfig {
                allowed: Some(dir.path().display().to_string()),
                stack: Some("shop".into()),
                ..ComposeTriggerConfig::default()
            },
        )
        .unwrap_err();
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["stack"]);
    }

    fn trigger_in(folder: &Path, file: Option<PathBuf>) -> ComposeTrigger {
        ComposeTrigger::new(
            "t",
            &ComposeTriggerConfig {
                allowed: Some(folder.display().to_string()),
                file,
                ..ComposeTriggerConfig::default()
            },
        )
        .unwrap()
    }

    /// The edits `plan_edits` makes for `web` to `app:1.1`, as (file name, text after).
    fn planned(dir: &Path, files: &[(&str, &str)]) -> Result<Vec<(String, String)>, String> {
        let paths: Vec<PathBuf> = files
            .iter()
            .map(|(name, text)| {
                std::fs::write(dir.join(name), text).unwrap();
                dir.join(name)
            })
            .filter(|path| path.extension().is_some_and(|e| e == "yml"))
            .collect();
        let edits = trigger_in(dir, None)
            .plan_edits(&paths, "web", "app:1.1", None, Some(dir))
            .map_err(|err| err.to_string())?;
        Ok(edits
            .into_iter()
            .map(|e| {
                let name = e.path.file_name().unwrap().to_string_lossy().into_owned();
                (name, e.after)
            })
            .collect())
    }

    const BASE: &str = "services:\n  web:\n    image: app:1.0 # ours\n  db:\n    image: db:1\n";
    const OVERRIDE: &str = "services:\n  web:\n    ports:\n      - \"8080:80\"\n";

    #[test]
    fn an_override_file_without_the_image_is_passed_over_for_the_one_that_sets_it() {
        let dir = tempfile::tempdir().unwrap();
        let edits = planned(
            dir.path(),
            &[
                ("docker-compose.yml", BASE),
                ("docker-compose.override.yml", OVERRIDE),
            ],
        )
        .unwrap();
        assert_eq!(
            edits,
            [(
                "docker-compose.yml".to_string(),
                BASE.replace("app:1.0", "app:1.1")
            )]
        );
    }

    #[test]
    fn an_override_file_that_sets_the_image_is_the_one_edited() {
        let dir = tempfile::tempdir().unwrap();
        let over = "services:\n  web:\n    image: app:1.0\n";
        let edits = planned(
            dir.path(),
            &[
                ("docker-compose.yml", BASE),
                ("docker-compose.override.yml", over),
            ],
        )
        .unwrap();
        assert_eq!(
            edits,
            [(
                "docker-compose.override.yml".to_string(),
                over.replace("app:1.0", "app:1.1")
            )]
        );
    }

    #[test]
    fn when_no_file_sets_the_image_the_error_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let build = "services:\n  web:\n    build: .\n";
        let err = planned(dir.path(), &[("a.yml", build), ("b.yml", OVERRIDE)]).unwrap_err();
        assert!(
            err.contains("service web: has no image of its own"),
            "{err}"
        );
    }

    #[test]
    fn an_image_from_a_variable_is_updated_in_the_projects_env_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = "services:\n  web:\n    image: app:${TAG}\n";
        let env = "# versions\nTAG=1.0\nOTHER=1.0\n";
        let edits = planned(dir.path(), &[("docker-compose.yml", file), (".env", env)]).unwrap();
        assert_eq!(
            edits,
            [(
                ".env".to_string(),
                "# versions\nTAG=1.1\nOTHER=1.0\n".to_string()
            )]
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("docker-compose.yml")).unwrap(),
            file,
            "planning writes nothing"
        );
    }

    fn service(project: &str, folder: &Path, files: &str) -> ContainerInfo {
        let mut c = ContainerInfo::example("app:1.0");
        for (key, value) in [
            (SERVICE, "web"),
            (PROJECT, project),
            (WORKING_DIR, &*folder.display().to_string()),
            (CONFIG_FILES, files),
        ] {
            c.labels.insert(key.into(), value.into());
        }
        c
    }

    #[test]
    fn with_a_file_only_the_services_of_its_project_are_wanted() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("My-Stack");
        std::fs::create_dir(&folder).unwrap();
        let file = folder.join("docker-compose.yml");
        std::fs::write(&file, BASE).unwrap();
        let trigger = trigger_in(dir.path(), Some(file.clone()));
        let elsewhere = dir.path().join("other");

        let listed = service("custom", &folder, "docker-compose.yml");
        let listed_absolute = service("custom", &elsewhere, &file.display().to_string());
        let named_v2 = service("my-stack", &elsewhere, "x.yml");
        let named_v1 = service("mystack", &elsewhere, "x.yml");
        for c in [&listed, &listed_absolute, &named_v2, &named_v1] {
            assert!(trigger.owns(c), "{:?}", c.labels);
        }
        let other_project = service("other", &elsewhere, "docker-compose.yml");
        let not_compose = ContainerInfo::example("app:1.0");
        for c in [&other_project, &not_compose] {
            assert!(!trigger.owns(c), "{:?}", c.labels);
        }
        let without_file = trigger_in(dir.path(), None);
        assert!(without_file.owns(&other_project));
        assert!(!without_file.owns(&not_compose));
    }

    #[test]
    fn the_dry_run_diff_is_unified() {
        let before = "a\nimage: app:1.0\nb\n";
        assert_eq!(
            diff(before, &before.replace("1.0", "1.1")),
            "@@ -2,1 +2,1 @@\n-image: app:1.0\n+image: app:1.1"
        );
        assert_eq!(
            diff("a\nb\nc\nd\n", "a\nB\nC\nd\n"),
            "@@ -2,2 +2,2 @@\n-b\n-c\n+B\n+C"
        );
        assert_eq!(diff("a\nb\n", "a\nx\nb\n"), "@@ -1,0 +2,1 @@\n+x");
        assert_eq!(diff("a\n", "a\n"), "");
    }

    #[test]
    fn docker_compose_is_chosen_only_where_its_plugin_answers() {
        let dir = tempfile::tempdir().unwrap();
        let folder = |name: &str, programs: &[(&str, &str)]| {
            let folder = dir.path().join(name);
            std::fs::create_dir(&folder).unwrap();
            for (program, script) in programs {
                let file = folder.join(program);
                std::fs::write(&file, format!("#!/bin/sh\n{script}\n")).unwrap();
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
            folder.into_os_string()
        };
        // As Docker's CLI without the plugin: `docker: unknown command: docker compose`.
        let bare = folder("bare", &[("docker", "exit 1")]);
        let plugin = folder(
            "plugin",
            &[("docker", "[ \"$1 $2\" = \"compose version\" ]")],
        );
        let both = folder(
            "both",
            &[("docker", "exit 0"), ("docker-compose", "exit 0")],
        );
        let find = |path: &OsStr| find_command(None, Some(path));
        assert_eq!(find(&bare), None);
        assert_eq!(find(&plugin), Some(vec!["docker".into(), "compose".into()]));
        assert_eq!(find(&both), Some(vec!["docker-compose".into()]));
        assert_eq!(find_command(Some("none"), Some(&both)), None);
        assert_eq!(
            find_command(Some("podman compose"), None),
            Some(vec!["podman".into(), "compose".into()])
        );
    }
}
