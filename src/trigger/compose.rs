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
//! compose command (`pull`, then `up -d --no-deps SERVICE`); without one, through the docker
//! trigger's executor, which keeps the compose labels. If bringing it up fails, the file is put
//! back and the service brought up on it again.
//!
//! A service's replicas are one update: a cycle's findings are grouped by project and service.

use super::docker::Context;
use super::filter::Filter;
use super::{BuildProblem, TriggerId};
use crate::bus::{Event, Subscriber};
use crate::compose::{self, Rewrite};
use crate::config::ComposeTriggerConfig;
use crate::docker::Engine;
use crate::model::UpdateCandidate;
use crate::update;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

const SERVICE: &str = "com.docker.compose.service";
const PROJECT: &str = "com.docker.compose.project";
const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
const CONFIG_FILES: &str = "com.docker.compose.project.config_files";

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

/// The compose command: an explicit one, else `docker-compose`, else `docker compose`, as found
/// on the PATH; `None` when there is none (the executor re-creates instead).
fn find_command(configured: Option<&str>) -> Option<Vec<String>> {
    match configured.map(str::trim) {
        Some("none") => None,
        Some(command) if !command.is_empty() => {
            Some(command.split_whitespace().map(str::to_string).collect())
        }
        _ => {
            let on_path = |name: &str| {
                std::env::var_os("PATH").is_some_and(|paths| {
                    std::env::split_paths(&paths).any(|dir| dir.join(name).is_file())
                })
            };
            if on_path("docker-compose") {
                Some(vec!["docker-compose".into()])
            } else if on_path("docker") {
                // `docker compose` only where the plugin is installed; checked when used.
                Some(vec!["docker".into(), "compose".into()])
            } else {
                None
            }
        }
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
        match (filter, problems.is_empty()) {
            (Some(filter), true) => Ok(ComposeTrigger {
                id: TriggerId {
                    kind: "compose",
                    name: name.to_string(),
                },
                filter,
                file: config.file.clone(),
                allowed,
                pathmap,
                backup: config.backup,
                dryrun: config.dryrun,
                command: find_command(config.command.as_deref()),
                passed: watch::Sender::new(0),
            }),
            _ => Err(problems),
        }
    }

    pub fn id(&self) -> &TriggerId {
        &self.id
    }

    /// Resolves once the listener has passed barrier `n`.
    pub fn barrier(&self, n: u64) -> impl Future<Output = ()> + use<> {
        let mut passed = self.passed.subscribe();
        async move {
            let _ = passed.wait_for(|&seen| seen >= n).await;
        }
    }

    fn wants(&self, c: &UpdateCandidate) -> bool {
        self.filter.allows(&self.id, &c.container, c.kind)
            && (self.file.is_some() || c.container.labels.contains_key(SERVICE))
            && crate::labels::read(&c.container.labels).is_ok_and(|l| l.monitor_only != Some(true))
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
            let key = (c.container.watcher.clone(), label(PROJECT), label(SERVICE));
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
                Err(Failure::Failed(reason)) => Event::UpdateFailed {
                    candidate: first.clone(),
                    reason,
                },
                Err(Failure::RolledBack(reason)) => Event::RolledBack {
                    candidate: first.clone(),
                    reason,
                },
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
        let labels = &candidate.container.labels;
        let service = labels
            .get(SERVICE)
            .cloned()
            .ok_or_else(|| Failure::Failed("the container has no compose service label".into()))?;
        let project = labels.get(PROJECT).cloned();
        let working_dir = labels.get(WORKING_DIR).map(|d| self.local(Path::new(d)));
        let files: Vec<PathBuf> = match &self.file {
            Some(file) => vec![file.clone()],
            None => labels
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
                .unwrap_or_default(),
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
        for edit in &edits {
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
        match &self.command {
            Some(command) => {
                let run = |args: Vec<String>| {
                    compose_command(
                        command,
                        project.as_deref(),
                        &files,
                        working_dir.as_deref(),
                        args,
                    )
                };
                if let Err(reason) = run(vec!["pull".into(), service.clone()]).await {
                    undo(&edits);
                    return Err(Failure::Failed(format!("pull failed: {reason}")));
                }
                let up = || {
                    vec![
                        "up".into(),
                        "-d".into(),
                        "--no-deps".into(),
                        service.clone(),
                    ]
                };
                if let Err(reason) = run(up()).await {
                    undo(&edits);
                    let restored = run(up()).await;
                    return Err(match restored {
                        Ok(()) => Failure::RolledBack(format!("up failed: {reason}")),
                        Err(again) => Failure::Failed(format!(
                            "up failed: {reason}; bringing the old definition up failed too: {again}"
                        )),
                    });
                }
                Ok(Some(
                    self.running_id(candidate, context, &service, project.as_deref())
                        .await,
                ))
            }
            None => {
                // No compose command: our executor, which keeps the compose labels.
                let config = context.watchers.get(&candidate.container.watcher);
                let engine = match config {
                    Some(config) => Engine::connect(&candidate.container.watcher, config)
                        .await
                        .map_err(|err| Failure::Failed(err.to_string()))?,
                    None => return Err(Failure::Failed("no such watcher".into())),
                };
                let credential = context
                    .registry
                    .pull_credential(&candidate.target)
                    .await
                    .ok()
                    .flatten();
                let mut last = String::new();
                for replica in replicas {
                    match update::update(
                        &engine,
                        replica,
                        credential.as_ref(),
                        &update::Options::default(),
                        context.journal.as_ref(),
                        &[],
                    )
                    .await
                    {
                        update::Outcome::Applied { new_id } => last = new_id,
                        update::Outcome::RolledBack { reason } => {
                            undo(&edits);
                            return Err(Failure::RolledBack(reason));
                        }
                        update::Outcome::Failed { reason } | update::Outcome::Broken { reason } => {
                            undo(&edits);
                            return Err(Failure::Failed(reason));
                        }
                    }
                }
                Ok(Some(last))
            }
        }
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
        for path in files.iter().rev() {
            let real = self.check_allowed(path)?;
            let text = std::fs::read_to_string(&real).map_err(io(&real))?;
            // The full reference: the file's own form decides whether the digest is written.
            let wanted = match digest {
                Some(digest) => format!("{new_image}@{digest}"),
                None => new_image.to_string(),
            };
            let rewrite = match compose::rewrite_image(&text, service, &wanted) {
                Ok(rewrite) => rewrite,
                Err(err) if err.is_missing_service() && files.len() > 1 => continue,
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
                    let before = std::fs::read_to_string(&env).map_err(io(&env))?;
                    let after = compose::rewrite_env(&before, &vars)?;
                    Ok(vec![Edit {
                        path: env,
                        before,
                        after,
                    }])
                }
            };
        }
        Err(ComposeTriggerError::Refused(format!(
            "no compose file of the project sets an image for service {service}"
        )))
    }

    /// The ID of the service's container now (for the event), or empty when it cannot be told.
    async fn running_id(
        &self,
        candidate: &UpdateCandidate,
        context: &Context,
        service: &str,
        project: Option<&str>,
    ) -> String {
        let Some(config) = context.watchers.get(&candidate.container.watcher) else {
            return String::new();
        };
        let Ok(engine) = Engine::connect(&candidate.container.watcher, config).await else {
            return String::new();
        };
        let Ok(containers) = engine.containers(false).await else {
            return String::new();
        };
        containers
            .into_iter()
            .find(|c| {
                c.labels.get(SERVICE).map(String::as_str) == Some(service)
                    && c.labels.get(PROJECT).map(String::as_str) == project
            })
            .map(|c| c.id)
            .unwrap_or_default()
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

/// Runs the compose command for the project; the error is the end of what it printed.
async fn compose_command(
    command: &[String],
    project: Option<&str>,
    files: &[PathBuf],
    working_dir: Option<&Path>,
    args: Vec<String>,
) -> Result<(), String> {
    let mut cmd = tokio::process::Command::new(&command[0]);
    cmd.args(&command[1..]);
    if let Some(project) = project {
        cmd.args(["-p", project]);
    }
    for file in files {
        cmd.arg("-f").arg(file);
    }
    cmd.args(&args);
    if let Some(dir) = working_dir.filter(|d| d.is_dir()) {
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

/// The lines that differ, for a dry run's log.
fn diff(before: &str, after: &str) -> String {
    let mut out = Vec::new();
    for (old, new) in before.lines().zip(after.lines()) {
        if old != new {
            out.push(format!("- {old}\n+ {new}"));
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

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
}
