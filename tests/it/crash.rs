//! Never lose a container. tidewatch is SIGKILLed at each step of an update (the test-only
//! `TIDEWATCH_TEST_HALTAT` makes the update halt right there, and the test kills the process),
//! then started again: the update is either finished or undone — the old container back under
//! its name, running, the same ID — with nothing left aside and the journal empty. Also the
//! rollbacks that must restore exactly the state before the update, and a leftover
//! `-tidewatch-old` that must be reported, never removed.
//!
//! Each test limits the trigger to its own container (`INCLUDE`): the engine is shared with
//! every other test running in parallel.

use crate::support::update::{assert_untouched, docker_trigger_env, lease_exists};
use crate::support::{Container, ImageSpec, Output, Registry, TestRun, fresh_store_dir, tidewatch};
use std::path::PathBuf;

/// tidewatch as these tests run it: one store kept across the kill and the restart, the
/// docker trigger limited to `include`, `auto` off so that the restart recovers and does not
/// update again.
struct Daemon {
    store: PathBuf,
    env: Vec<(String, String)>,
}

impl Daemon {
    fn new(include: &str, extra: &[(&str, &str)]) -> Daemon {
        let store = fresh_store_dir();
        // Later entries win: the command sets them in order.
        let env: Vec<(String, String)> =
            docker_trigger_env(include, store.to_str().expect("UTF-8 path"))
                .iter()
                .chain(&[("TIDEWATCH_TRIGGER_DOCKER_LOCAL_AUTO", "false")])
                .chain(extra)
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        Daemon { store, env }
    }

    fn env(&self) -> Vec<(&str, &str)> {
        self.env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// `tidewatch update NAME`, halted at `halt` and SIGKILLed there. Returns what it logged.
    fn kill_at(&self, name: &str, halt: &str) -> String {
        crate::support::update::kill_when_halted(&["update", name], &self.env(), halt)
    }

    /// `tidewatch run --once`; after a kill, the start that recovers what was interrupted.
    fn run_once(&self) -> Output {
        tidewatch(&["run", "--once"], &self.env())
    }

    /// The entries the journal still holds.
    fn journal(&self) -> Vec<String> {
        let db = rusqlite::Connection::open_with_flags(
            self.store.join("tidewatch.db"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .expect("open the store");
        let mut query = db
            .prepare("SELECT entry FROM journal")
            .expect("a journal table");
        query
            .query_map([], |r| r.get(0))
            .expect("read the journal")
            .collect::<Result<_, _>>()
            .expect("read the journal")
    }
}

/// How an interrupted update must have ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ends {
    /// The old container is back: same ID, running, the old image, its name.
    Undone,
    /// The new container runs under the name, on the new image; the old one is gone.
    Finished,
}

/// A container on `repo:1.0.0` with `options`, and `repo:1.1.0` waiting in the registry.
struct Scene {
    run: TestRun,
    registry: Registry,
    old: Container,
    v1: String,
    v2: String,
}

impl Scene {
    fn new(repo: &str, options: &[&str]) -> Scene {
        let run = TestRun::new();
        let registry = run.registry();
        let v1 = run.push(&registry, repo, "1.0.0").reference;
        let v2 = run.push(&registry, repo, "1.1.0").reference;
        let old = run.run_with(repo, options, &v1, &[]);
        Scene {
            run,
            registry,
            old,
            v1,
            v2,
        }
    }

    /// The update of the scene's container killed at `halt`, tidewatch started again, and
    /// everything checked.
    fn crash(&self, halt: &str, ends: Ends) {
        let daemon = Daemon::new(&self.old.name, &[]);
        daemon.kill_at(&self.old.name, halt);
        let out = daemon.run_once();
        let said = match ends {
            Ends::Undone => "interrupted update undone; the old container is back",
            Ends::Finished => "interrupted update finished",
        };
        assert!(out.stderr.contains(said), "{out}");
        self.assert_settled(&daemon, ends, &out);
    }

    fn assert_settled(&self, daemon: &Daemon, ends: Ends, out: &Output) {
        let (run, old) = (&self.run, &self.old);
        match ends {
            Ends::Undone => assert_untouched(run, old, &self.v1, out),
            Ends::Finished => {
                let now = run.inspect(&old.name, "{{.Id}} {{.State.Running}} {{.Config.Image}}");
                let fields: Vec<&str> = now.split_whitespace().collect();
                assert_ne!(fields[0], old.id, "{out}");
                assert_eq!(fields[1..], ["true", self.v2.as_str()], "{out}");
                assert!(
                    !run.docker_output(&["inspect", &old.id]).success(),
                    "the old container is removed\n{out}"
                );
            }
        }
        assert_no_leftovers(run, &old.name, out);
        assert_eq!(daemon.journal(), Vec::<String>::new(), "{out}");
    }
}

/// No `NAME-tidewatch-old` nor `NAME-tidewatch-new` left behind.
fn assert_no_leftovers(run: &TestRun, name: &str, out: &Output) {
    let leftovers = run.docker(&[
        "ps",
        "--all",
        "--format",
        "{{.Names}}",
        "--filter",
        &format!("name={name}-tidewatch"),
    ]);
    assert_eq!(leftovers, "", "{out}");
    // Nor its lease: the killed instance's, stale, was taken over and given back.
    assert!(!lease_exists(run, name), "its lease is left behind\n{out}");
}

const START_FIRST: [&str; 2] = ["--label", "tidewatch.update.order=start-first"];

// Stop-first, the default order: rename aside, stop, create, start, gate, remove.

#[test]
fn killed_before_the_rename_the_old_container_runs_on() {
    Scene::new("renaming", &[]).crash("renaming", Ends::Undone);
}

#[test]
fn killed_once_renamed_aside_the_old_container_gets_its_name_back() {
    Scene::new("stopping", &[]).crash("stopping", Ends::Undone);
}

#[test]
fn killed_once_stopped_the_old_container_is_started_again() {
    Scene::new("creating", &[]).crash("creating", Ends::Undone);
}

#[test]
fn killed_after_the_create_before_the_journal_knew_the_new_id_the_orphan_goes() {
    Scene::new("orphan", &[]).crash("before-starting", Ends::Undone);
}

#[test]
fn killed_once_the_new_container_exists_it_is_removed_and_the_old_one_is_back() {
    Scene::new("starting", &[]).crash("starting", Ends::Undone);
}

#[test]
fn killed_during_the_health_gate_the_update_is_undone() {
    Scene::new("gating", &[]).crash("gating", Ends::Undone);
}

#[test]
fn killed_after_the_gate_passed_the_update_is_finished() {
    Scene::new("removing", &[]).crash("removing", Ends::Finished);
}

// Start-first: create beside, start, gate, then stop and remove the old, hand over the name.

#[test]
fn start_first_killed_before_the_create_leaves_the_old_one_running() {
    Scene::new("sf-creating", &START_FIRST).crash("creating", Ends::Undone);
}

#[test]
fn start_first_killed_after_the_create_before_the_journal_knew_it_the_orphan_goes() {
    Scene::new("sf-orphan", &START_FIRST).crash("before-starting", Ends::Undone);
}

#[test]
fn start_first_killed_once_the_new_container_exists_it_is_removed() {
    Scene::new("sf-starting", &START_FIRST).crash("starting", Ends::Undone);
}

#[test]
fn start_first_killed_during_the_health_gate_the_update_is_undone() {
    Scene::new("sf-gating", &START_FIRST).crash("gating", Ends::Undone);
}

#[test]
fn start_first_killed_after_the_gate_passed_the_new_one_gets_the_name() {
    Scene::new("sf-removing", &START_FIRST).crash("removing", Ends::Finished);
}

// Dependents: stopped before their dependency is updated, each journaled first.

/// db 1.0.0 (1.1.0 waiting) and app linked to it, app stopped by the trigger around the update
/// of db that is killed at `halt`; then the restart. Returns the scene, app and the restart's
/// output.
fn linked_crash(halt: &str, ends: Ends) -> (Scene, Container, Output) {
    let scene = Scene::new("db", &[]);
    let run = &scene.run;
    let app_image = run.push(&scene.registry, "app", "1.0.0");
    let app = run.run_with(
        "app",
        &["--link", &format!("{}:db", scene.old.name)],
        &app_image.reference,
        &[],
    );
    let daemon = Daemon::new(&scene.old.name, &[]);
    daemon.kill_at(&scene.old.name, halt);
    assert_eq!(
        run.inspect(&app.name, "{{.State.Running}}"),
        "false",
        "the dependent was stopped for the update"
    );
    let out = daemon.run_once();
    scene.assert_settled(&daemon, ends, &out);
    assert_eq!(
        run.inspect(&app.name, "{{.State.Running}}"),
        "true",
        "{out}"
    );
    assert_no_leftovers(run, &app.name, &out);
    (scene, app, out)
}

#[test]
fn a_dependent_stopped_before_the_update_began_is_started_again() {
    let (scene, app, out) = linked_crash("renaming", Ends::Undone);
    assert_eq!(scene.run.inspect(&app.name, "{{.Id}}"), app.id, "{out}");
}

#[test]
fn a_dependent_stopped_for_an_update_killed_at_its_gate_is_started_again() {
    let (scene, app, out) = linked_crash("gating", Ends::Undone);
    assert_eq!(
        scene.run.inspect(&app.name, "{{.Id}}"),
        app.id,
        "started again, not re-created: its link still holds\n{out}"
    );
}

#[test]
fn a_linked_dependent_of_an_update_finished_at_the_restart_is_re_created_to_follow_it() {
    let (scene, app, out) = linked_crash("removing", Ends::Finished);
    let run = &scene.run;
    assert_ne!(run.inspect(&app.name, "{{.Id}}"), app.id, "{out}");
    let links = run.inspect(&app.name, "{{json .HostConfig.Links}}");
    assert!(
        links.contains(&format!("/{}:/{}/db", scene.old.name, app.name)),
        "{links}\n{out}"
    );
}

// Rollbacks restore the state before the update, exactly.

#[test]
fn a_rolled_back_update_of_a_stopped_container_with_revivestopped_leaves_it_stopped() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "revived", "1.0.0");
    run.push_spec(
        &registry,
        "revived",
        "1.1.0",
        &ImageSpec::version("1.1.0").cmd(&["sh", "-c", "exit 3"]),
    );
    let old = run.run("revived", &v1.reference, &[]);
    run.stop(&old);
    let daemon = Daemon::new(
        &old.name,
        &[
            ("TIDEWATCH_WATCHER_LOCAL_WATCHALL", "true"),
            ("TIDEWATCH_TRIGGER_DOCKER_LOCAL_AUTO", "true"),
            ("TIDEWATCH_TRIGGER_DOCKER_LOCAL_REVIVESTOPPED", "true"),
        ],
    );
    let out = daemon.run_once();
    assert!(out.stderr.contains("exit code 3"), "{out}");
    assert_eq!(
        run.inspect(&old.name, "{{.Id}} {{.State.Running}}"),
        format!("{} false", old.id),
        "the same container, stopped as it was\n{out}"
    );
    assert_no_leftovers(&run, &old.name, &out);
}

#[test]
fn a_failed_create_with_norestart_leaves_the_old_container_running_as_it_was() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "uncreatable", "1.0.0");
    // No command at all: the engine refuses to create a container from it.
    run.push_spec(
        &registry,
        "uncreatable",
        "1.1.0",
        &ImageSpec::version("1.1.0").cmd(&[]),
    );
    let old = run.run("uncreatable", &v1.reference, &[]);
    let daemon = Daemon::new(
        &old.name,
        &[
            ("TIDEWATCH_TRIGGER_DOCKER_LOCAL_AUTO", "true"),
            ("TIDEWATCH_TRIGGER_DOCKER_LOCAL_NORESTART", "true"),
        ],
    );
    let out = daemon.run_once();
    assert!(
        out.stderr.contains("cannot create the new container"),
        "{out}"
    );
    assert_eq!(
        run.inspect(&old.name, "{{.Id}} {{.State.Running}}"),
        format!("{} true", old.id),
        "the same container, running again\n{out}"
    );
    assert_no_leftovers(&run, &old.name, &out);
}

#[test]
fn a_leftover_aside_container_is_reported_and_kept_and_the_update_changes_nothing() {
    let scene = Scene::new("blocked", &[]);
    let run = &scene.run;
    // What an earlier update left, perhaps the only copy of something: never removed.
    let aside = format!("{}-tidewatch-old", scene.old.name);
    let label = run.label();
    let leftover = run.docker(&["create", "--name", &aside, "--label", &label, &scene.v1]);
    let daemon = Daemon::new(
        &scene.old.name,
        &[("TIDEWATCH_TRIGGER_DOCKER_LOCAL_AUTO", "true")],
    );
    let out = daemon.run_once();
    assert!(
        out.stderr
            .contains(&format!("a container named {aside} already exists")),
        "{out}"
    );
    assert!(!out.stderr.contains("Rollback incomplete"), "{out}");
    assert_eq!(
        run.inspect(
            &scene.old.name,
            "{{.Id}} {{.State.Running}} {{.Config.Image}}"
        ),
        format!("{} true {}", scene.old.id, scene.v1),
        "{out}"
    );
    assert_eq!(run.inspect(&aside, "{{.Id}}"), leftover, "{out}");
    assert_eq!(daemon.journal(), Vec::<String>::new(), "{out}");
}

// The journal must be written before each step: a step it cannot record is not taken.

#[test]
fn a_step_the_journal_cannot_record_is_not_taken_and_the_update_is_undone() {
    let scene = Scene::new("unjournaled", &[]);
    // A first start makes the store (auto is off: nothing is updated). Its exit status speaks
    // for the checks of every container on the shared engine, not only this test's.
    let daemon = Daemon::new(&scene.old.name, &[]);
    daemon.run_once();
    // Then a disk that refuses the entry announcing the health gate: by then the old
    // container is aside and stopped, and the new one created.
    let db = rusqlite::Connection::open(daemon.store.join("tidewatch.db")).expect("open the store");
    db.execute_batch(
        r#"CREATE TRIGGER refuse_gating BEFORE UPDATE ON journal
           WHEN NEW.entry LIKE '%"step":"gating"%'
           BEGIN SELECT RAISE(FAIL, 'no space left (test)'); END;"#,
    )
    .expect("install the refusing trigger");
    drop(db);

    let mut env = daemon.env();
    env.push(("TIDEWATCH_TRIGGER_DOCKER_LOCAL_AUTO", "true"));
    let out = tidewatch(&["run", "--once"], &env);
    assert!(
        out.stderr.contains("the update journal cannot be written"),
        "{out}"
    );
    assert!(out.stderr.contains("no space left (test)"), "{out}");
    assert!(!out.stderr.contains("waiting for the health gate"), "{out}");
    assert_untouched(&scene.run, &scene.old, &scene.v1, &out);
    assert_no_leftovers(&scene.run, &scene.old.name, &out);
    assert_eq!(daemon.journal(), Vec::<String>::new(), "{out}");
}
