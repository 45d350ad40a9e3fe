//! The compose trigger end to end, with Debian's docker-compose: a project brought up from the
//! loopback registry, a newer tag pushed, `tidewatch run --once`: the compose file says the new
//! tag (and nothing else changed) and the service runs it — through the compose command, or
//! without one through the executor; a new image that does not stay up is rolled back, file
//! included.

use crate::support::update::{foreign_lease, lease_exists};
use crate::support::{ImageSpec, Output, TestRun, fresh_store_dir, tidewatch};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A compose project of the test's, taken down at the end.
struct Project {
    name: String,
    files: Vec<PathBuf>,
}

/// The stack's main file: comments, an anchor, quotes and CRLF line ends, labelled as the
/// test's. `image` is written as given (quotes included).
fn stack_file(run: &TestRun, image: &str) -> String {
    let label = run.label();
    format!(
        "# The stack, by hand.\r\nversion: \"3.7\"\r\n\r\nx-common: &common\r\n  labels:\r\n    - \"{label}\"\r\n\r\nservices:\r\n  web:\r\n    <<: *common\r\n    image: {image}   # pinned on purpose\r\n    stop_grace_period: 1s\r\n\r\nnetworks:\r\n  default:\r\n    labels:\r\n      - \"{label}\"\r\n"
    )
}

impl Project {
    fn up(run: &TestRun, dir: &Path, image: &str) -> Project {
        let text = stack_file(run, &format!("'{image}'"));
        Project::up_with(run, "stack", dir, &[("docker-compose.yml", &text)], &[])
    }

    /// Writes `files` into `dir` and runs `docker-compose -p <id>WHAT -f … up -d UP_ARGS`.
    fn up_with(
        run: &TestRun,
        what: &str,
        dir: &Path,
        files: &[(&str, &str)],
        up_args: &[&str],
    ) -> Project {
        std::fs::create_dir_all(dir).unwrap();
        let files = files
            .iter()
            .map(|(name, text)| {
                std::fs::write(dir.join(name), text).unwrap();
                dir.join(name)
            })
            .collect();
        let project = Project {
            name: run.name(what).replace('-', ""),
            files,
        };
        project.compose(&[&["up", "-d"], up_args].concat());
        project
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new("docker-compose");
        cmd.args(["-p", &self.name]);
        for file in &self.files {
            cmd.arg("-f").arg(file);
        }
        cmd
    }

    fn compose(&self, args: &[&str]) -> String {
        let out = self
            .command()
            .args(args)
            .output()
            .expect("docker-compose runs");
        assert!(
            out.status.success(),
            "docker-compose {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The IDs of the web service's containers as compose sees them, sorted.
    fn web_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .compose(&["ps", "-q", "web"])
            .lines()
            .map(str::to_string)
            .collect();
        ids.sort();
        ids
    }

    fn web_image(&self, run: &TestRun) -> String {
        let ids = self.web_ids();
        assert_eq!(ids.len(), 1, "one web container: {ids:?}");
        run.inspect(&ids[0], "{{.Config.Image}}")
    }

    fn file(&self) -> String {
        std::fs::read_to_string(&self.files[0]).unwrap()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = self.command().args(["down", "-t", "0"]).output();
    }
}

/// `tidewatch run --once` with the compose trigger `stack` on `project`'s services, allowed
/// to write below `allowed`, the store at `store`, and `extra` variables.
fn run_once(project: &Project, allowed: &Path, store: &Path, extra: &[(&str, &str)]) -> Output {
    let selector = format!("com.docker.compose.project={}", project.name);
    let mut env = vec![
        (
            "TIDEWATCH_TRIGGER_DOCKERCOMPOSE_STACK_ALLOWED",
            allowed.to_str().expect("a UTF-8 path"),
        ),
        ("TIDEWATCH_TRIGGER_DOCKERCOMPOSE_STACK_INCLUDE", &selector),
        (
            "TIDEWATCH_STORE_PATH",
            store.to_str().expect("a UTF-8 path"),
        ),
    ];
    env.extend_from_slice(extra);
    tidewatch(&["run", "--once"], &env)
}

/// The updates the store recorded (`update-applied`, `rolled-back`, …) with their details.
fn actions(store: &Path) -> Vec<(String, String)> {
    let out = tidewatch(
        &["history", "--json", "--limit", "1000"],
        &[("TIDEWATCH_STORE_PATH", store.to_str().unwrap())],
    );
    let history: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).expect("JSON");
    let text = |e: &serde_json::Value, key: &str| e[key].as_str().unwrap_or_default().to_string();
    history
        .iter()
        .map(|e| (text(e, "event"), text(e, "detail")))
        .filter(|(event, _)| {
            ["update-applied", "update-failed", "rolled-back"].contains(&event.as_str())
        })
        .collect()
}

#[test]
fn the_compose_file_gets_the_new_tag_and_the_service_runs_it() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "stackweb", "1.0.0");
    let v2 = run.push(&registry, "stackweb", "1.1.0");
    let dir = fresh_store_dir();
    let folder = dir.join("project");
    let project = Project::up(&run, &folder, &v1.reference);
    let before = project.file();
    let store = dir.join("store");

    let out = run_once(&project, &folder, &store, &[]);
    let after = project.file();
    assert_eq!(
        after,
        before.replace(&v1.reference, &v2.reference),
        "only the image changes, quotes, comment and CRLF kept:\n{out}"
    );
    assert_ne!(after, before, "{out}");
    assert!(out.stderr.contains("Compose file rewritten."), "{out}");
    assert_eq!(project.web_image(&run), v2.reference, "{out}");
}

#[test]
fn a_file_outside_the_allowed_folders_is_never_written() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "fenced", "1.0.0");
    run.push(&registry, "fenced", "1.1.0");
    let dir = fresh_store_dir();
    let folder = dir.join("project");
    let elsewhere = dir.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let project = Project::up(&run, &folder, &v1.reference);
    let before = project.file();
    let store = dir.join("store");

    let out = run_once(&project, &elsewhere, &store, &[]);
    assert_eq!(project.file(), before, "{out}");
    assert_eq!(project.web_image(&run), v1.reference);
    let actions = actions(&store);
    assert!(
        actions
            .iter()
            .any(|(_, detail)| detail.contains("outside the allowed folders")),
        "{actions:?}\n{out}"
    );
}

/// Issue 14, point 5: the refusal is said, not only recorded: a WARN line naming the
/// container and the reason, and `plan` shows it before anything runs. Point 8: `plan` shows
/// a compose trigger's plan (the file it would rewrite), not "no docker trigger: only reports".
#[test]
fn a_refused_compose_file_is_said_in_the_log_and_in_the_plan_and_an_allowed_one_is_planned() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "planned", "1.0.0");
    run.push(&registry, "planned", "1.1.0");
    let dir = fresh_store_dir();
    let folder = dir.join("project");
    let elsewhere = dir.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let project = Project::up(&run, &folder, &v1.reference);
    let selector = format!("com.docker.compose.project={}", project.name);
    let plan = |allowed: &Path| {
        tidewatch(
            &["plan"],
            &[
                (
                    "TIDEWATCH_TRIGGER_DOCKERCOMPOSE_STACK_ALLOWED",
                    allowed.to_str().expect("a UTF-8 path"),
                ),
                ("TIDEWATCH_TRIGGER_DOCKERCOMPOSE_STACK_INCLUDE", &selector),
            ],
        )
    };
    let web = project.web_ids()[0].clone();
    let web_name = run.inspect(&web, "{{.Name}}");
    let web_name = web_name.trim_start_matches('/');

    let allowed = plan(&folder);
    assert!(allowed.success(), "{allowed}");
    assert!(
        !allowed.stdout.contains("No docker"),
        "a compose trigger acts: {allowed}"
    );
    let line = allowed
        .stdout
        .lines()
        .find(|l| l.contains(web_name))
        .unwrap_or_else(|| panic!("{web_name} not planned:\n{allowed}"));
    assert!(
        line.contains("update by compose.stack (rewrites ") && line.contains("docker-compose.yml"),
        "{line}"
    );

    let refused = plan(&elsewhere);
    let line = refused
        .stdout
        .lines()
        .find(|l| l.contains(web_name))
        .unwrap_or_else(|| panic!("{web_name} not planned:\n{refused}"));
    assert!(
        line.contains("compose.stack: not updated") && line.contains("outside the allowed folders"),
        "{line}"
    );

    let store = dir.join("store");
    let out = run_once(&project, &elsewhere, &store, &[]);
    assert!(
        out.stderr.lines().any(|l| l.contains("WARN")
            && l.contains(web_name)
            && l.contains("outside the allowed folders")),
        "{out}"
    );
}

/// What the shipped image does (it has no compose CLI): the file is rewritten, each replica
/// re-created by the executor with its compose labels, so compose still lists it. The project
/// has an override file that names the service without an image: the base file is the one
/// edited.
#[test]
fn without_a_compose_command_every_replica_is_recreated_and_compose_still_owns_them() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "bare", "1.0.0");
    let v2 = run.push(&registry, "bare", "1.1.0");
    let dir = fresh_store_dir();
    let folder = dir.join("project");
    let base = stack_file(&run, &format!("'{}'", v1.reference));
    let over = "version: \"3.7\"\nservices:\n  web:\n    environment:\n      - FROM_OVERRIDE=1\n";
    let project = Project::up_with(
        &run,
        "stack",
        &folder,
        &[
            ("docker-compose.yml", &base),
            ("docker-compose.override.yml", over),
        ],
        &["--scale", "web=2"],
    );
    let old_ids = project.web_ids();
    assert_eq!(old_ids.len(), 2, "{old_ids:?}");
    let store = dir.join("store");

    let out = run_once(
        &project,
        &folder,
        &store,
        &[("TIDEWATCH_TRIGGER_DOCKERCOMPOSE_STACK_COMMAND", "none")],
    );
    assert_eq!(
        project.file(),
        base.replace(&v1.reference, &v2.reference),
        "{out}"
    );
    assert_eq!(std::fs::read_to_string(&project.files[1]).unwrap(), over);
    let new_ids = project.web_ids();
    assert_eq!(new_ids.len(), 2, "compose lists both replicas: {out}");
    for id in &new_ids {
        assert!(!old_ids.contains(id), "re-created: {out}");
        assert_eq!(run.inspect(id, "{{.Config.Image}}"), v2.reference, "{out}");
        assert!(
            run.inspect(id, "{{.Config.Env}}")
                .contains("FROM_OVERRIDE=1"),
            "the override's setting kept"
        );
    }
    let actions = actions(&store);
    assert!(
        matches!(actions.as_slice(), [(event, _)] if event == "update-applied"),
        "the replicas are one update: {actions:?}\n{out}"
    );
}

/// A project on v1 whose v2 runs `cmd`; tidewatch run once with the compose command.
fn roll_back_with(repo: &str, cmd: &[&str]) {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, repo, "1.0.0");
    run.push_spec(
        &registry,
        repo,
        "1.1.0",
        &ImageSpec::version("1.1.0").cmd(cmd),
    );
    let dir = fresh_store_dir();
    let folder = dir.join("project");
    let project = Project::up(&run, &folder, &v1.reference);
    let before = project.file();
    let store = dir.join("store");

    let out = run_once(&project, &folder, &store, &[]);
    assert_eq!(project.file(), before, "the file is put back:\n{out}");
    assert_eq!(project.web_image(&run), v1.reference, "{out}");
    let id = &project.web_ids()[0];
    assert_eq!(run.inspect(id, "{{.State.Running}}"), "true", "{out}");
    let actions = actions(&store);
    assert!(
        matches!(actions.as_slice(), [(event, _)] if event == "rolled-back"),
        "{actions:?}\n{out}"
    );
}

#[test]
fn a_new_image_that_exits_at_once_is_rolled_back_file_and_service() {
    roll_back_with("quitter", &["false"]);
}

#[test]
fn a_new_image_that_cannot_start_is_rolled_back_file_and_service() {
    roll_back_with("nostart", &["/no/such/program"]);
}

#[test]
fn a_dry_run_prints_the_diff_and_changes_nothing() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "dry", "1.0.0");
    let v2 = run.push(&registry, "dry", "1.1.0");
    let dir = fresh_store_dir();
    let folder = dir.join("project");
    let project = Project::up(&run, &folder, &v1.reference);
    let before = project.file();
    let ids = project.web_ids();
    let store = dir.join("store");

    let out = run_once(
        &project,
        &folder,
        &store,
        &[("TIDEWATCH_TRIGGER_DOCKERCOMPOSE_STACK_DRYRUN", "true")],
    );
    assert_eq!(project.file(), before, "{out}");
    assert_eq!(project.web_ids(), ids, "nothing re-created: {out}");
    assert!(out.stderr.contains("Dry run: would rewrite."), "{out}");
    for line in [
        format!("-    image: '{}'   # pinned on purpose", v1.reference),
        format!("+    image: '{}'   # pinned on purpose", v2.reference),
    ] {
        assert!(out.stderr.contains(&line), "{line}\n{out}");
    }
}

/// The kind by its own name (`compose`, not WUD's alias), a backup, and the file's owner kept
/// (the tests run as root, which may give files away).
#[test]
fn the_compose_kind_keeps_a_backup_and_the_files_owner() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "kept", "1.0.0");
    let v2 = run.push(&registry, "kept", "1.1.0");
    let dir = fresh_store_dir();
    let folder = dir.join("project");
    let project = Project::up(&run, &folder, &v1.reference);
    let before = project.file();
    std::os::unix::fs::chown(&project.files[0], Some(4321), Some(4322)).unwrap();
    let store = dir.join("store");
    let selector = format!("com.docker.compose.project={}", project.name);

    let out = tidewatch(
        &["run", "--once"],
        &[
            (
                "TIDEWATCH_TRIGGER_COMPOSE_STACK_ALLOWED",
                folder.to_str().unwrap(),
            ),
            ("TIDEWATCH_TRIGGER_COMPOSE_STACK_INCLUDE", &selector),
            ("TIDEWATCH_TRIGGER_COMPOSE_STACK_BACKUP", "true"),
            ("TIDEWATCH_STORE_PATH", store.to_str().unwrap()),
        ],
    );
    assert_eq!(
        project.file(),
        before.replace(&v1.reference, &v2.reference),
        "{out}"
    );
    assert_eq!(project.web_image(&run), v2.reference, "{out}");
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(&project.files[0]).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (4321, 4322));
    let backups: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".bak"))
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert_eq!(std::fs::read_to_string(&backups[0]).unwrap(), before);
}

/// With `file`, the trigger acts on that file's project only: a container of another project
/// with the same service name is not updated through it, and a container compose does not
/// manage is not reported failed.
#[test]
fn with_a_file_only_the_services_of_its_project_are_updated() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "owned", "1.0.0");
    let v2 = run.push(&registry, "owned", "1.1.0");
    let dir = fresh_store_dir();
    let text = stack_file(&run, &format!("'{}'", v1.reference));
    let file = [("docker-compose.yml", text.as_str())];
    let ours = Project::up_with(&run, "ours", &dir.join("ours"), &file, &[]);
    let theirs = Project::up_with(&run, "theirs", &dir.join("theirs"), &file, &[]);
    let plain = run.run("plain", &v1.reference, &["sleep", "3600"]);
    let store = dir.join("store");

    let out = tidewatch(
        &["run", "--once"],
        &[
            (
                "TIDEWATCH_TRIGGER_DOCKERCOMPOSE_STACK_FILE",
                ours.files[0].to_str().unwrap(),
            ),
            (
                "TIDEWATCH_TRIGGER_DOCKERCOMPOSE_STACK_INCLUDE",
                &run.label(),
            ),
            ("TIDEWATCH_STORE_PATH", store.to_str().unwrap()),
        ],
    );
    assert_eq!(
        ours.file(),
        text.replace(&v1.reference, &v2.reference),
        "{out}"
    );
    assert_eq!(ours.web_image(&run), v2.reference, "{out}");
    assert_eq!(theirs.file(), text, "{out}");
    assert_eq!(theirs.web_image(&run), v1.reference, "{out}");
    assert_eq!(
        run.inspect(&plain.id, "{{.Config.Image}}"),
        v1.reference,
        "{out}"
    );
    let actions = actions(&store);
    assert!(
        matches!(actions.as_slice(), [(event, _)] if event == "update-applied"),
        "one update, nothing failed: {actions:?}\n{out}"
    );
}

/// A service scaled by hand (`up --scale web=2`) keeps its two replicas through the compose
/// command, which would otherwise bring it back to the file's one.
#[test]
fn the_compose_command_keeps_a_services_replicas() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "scaled", "1.0.0");
    let v2 = run.push(&registry, "scaled", "1.1.0");
    let dir = fresh_store_dir();
    let folder = dir.join("project");
    let text = stack_file(&run, &format!("'{}'", v1.reference));
    let project = Project::up_with(
        &run,
        "stack",
        &folder,
        &[("docker-compose.yml", &text)],
        &["--scale", "web=2"],
    );
    let store = dir.join("store");

    let out = run_once(&project, &folder, &store, &[]);
    assert_eq!(
        project.file(),
        text.replace(&v1.reference, &v2.reference),
        "{out}"
    );
    let ids = project.web_ids();
    assert_eq!(ids.len(), 2, "{out}");
    for id in &ids {
        assert_eq!(run.inspect(id, "{{.Config.Image}}"), v2.reference, "{out}");
    }
    let actions = actions(&store);
    assert!(
        matches!(actions.as_slice(), [(event, _)] if event == "update-applied"),
        "the replicas are one update: {actions:?}\n{out}"
    );
}

/// Without a compose command, when the second replica fails on the new image, the first one,
/// already updated, goes back to the old image with the file: the service never runs an image
/// its file does not name. The new image runs only where it takes a lock first (a folder both
/// replicas mount), so exactly one replica can start on it.
#[test]
fn without_a_compose_command_a_failing_replica_takes_the_others_back() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "halfway", "1.0.0");
    run.push_spec(
        &registry,
        "halfway",
        "1.1.0",
        &ImageSpec::version("1.1.0").cmd(&["sh", "-c", "mkdir /shared/lock && exec sleep 3600"]),
    );
    let dir = fresh_store_dir();
    let folder = dir.join("project");
    let text = stack_file(&run, &format!("'{}'", v1.reference)).replace(
        "    stop_grace_period: 1s\r\n",
        "    stop_grace_period: 1s\r\n    volumes:\r\n      - ./shared:/shared\r\n",
    );
    let project = Project::up_with(
        &run,
        "stack",
        &folder,
        &[("docker-compose.yml", &text)],
        &["--scale", "web=2"],
    );
    assert_eq!(project.web_ids().len(), 2);
    let store = dir.join("store");

    let out = run_once(
        &project,
        &folder,
        &store,
        &[("TIDEWATCH_TRIGGER_DOCKERCOMPOSE_STACK_COMMAND", "none")],
    );
    assert!(
        folder.join("shared/lock").is_dir(),
        "one replica ran the new image: {out}"
    );
    assert_eq!(project.file(), text, "the file is put back: {out}");
    let ids = project.web_ids();
    assert_eq!(ids.len(), 2, "{out}");
    for id in &ids {
        assert_eq!(run.inspect(id, "{{.Config.Image}}"), v1.reference, "{out}");
        assert_eq!(run.inspect(id, "{{.State.Running}}"), "true", "{out}");
    }
    let actions = actions(&store);
    assert!(
        matches!(actions.as_slice(), [(event, _)] if event == "rolled-back"),
        "{actions:?}\n{out}"
    );
}

/// `compose up` replaces the service's container under its update lease, as the docker
/// trigger does: while another instance (on another host, its lease fresh) holds it, the file
/// is not written and nothing is replaced; once it is released, the update goes through and
/// leaves no lease behind.
#[test]
fn the_compose_command_waits_for_a_lease_another_instance_holds() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "leasedweb", "1.0.0");
    let v2 = run.push(&registry, "leasedweb", "1.1.0");
    let dir = fresh_store_dir();
    let folder = dir.join("project");
    let project = Project::up(&run, &folder, &v1.reference);
    let before = project.file();
    let container = run.inspect(&project.web_ids()[0], "{{.Name}}");
    let container = container.trim_start_matches('/');
    let volume = foreign_lease(&run, container);
    let store = dir.join("store");

    let out = run_once(&project, &folder, &store, &[]);
    assert!(
        out.stderr
            .contains("Not updated: another tidewatch instance is updating it."),
        "{out}"
    );
    assert_eq!(project.file(), before, "not written: {out}");
    assert_eq!(project.web_image(&run), v1.reference, "{out}");

    run.docker(&["volume", "rm", &volume]);
    let out = run_once(&project, &folder, &store, &[]);
    assert_eq!(project.web_image(&run), v2.reference, "{out}");
    assert!(
        !lease_exists(&run, container),
        "the lease is released: {out}"
    );
}
