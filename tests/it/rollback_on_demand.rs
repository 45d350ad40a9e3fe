//! `tidewatch rollback`, `hold` and `release`, and the hold an automatic rollback leaves: one
//! command undoes an update (every setting kept, through the update's careful path), and
//! tidewatch does not apply what was rolled back again until a newer version appears or the
//! user says so. Also what the docker trigger's cleanup keeps for it (`rollback.keep`), a
//! rollback whose image was removed meanwhile, and a SIGKILL in the middle of one.

use crate::support::events::EventLog;
use crate::support::receiver::Receiver;
use crate::support::update::{assert_untouched, docker_trigger_env, history};
use crate::support::{Container, ImageSpec, Output, TestRun, fresh_store_dir, tidewatch};
use std::path::PathBuf;

/// One container's tidewatch: the docker trigger limited to it, one store kept across runs.
struct Tidewatch {
    _dir: PathBuf,
    store: String,
    include: String,
}

impl Tidewatch {
    fn new(container: &Container) -> Tidewatch {
        let dir = fresh_store_dir();
        Tidewatch {
            store: dir.to_str().expect("a UTF-8 path").to_string(),
            _dir: dir,
            include: container.name.clone(),
        }
    }

    fn env<'a>(&'a self, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut env = docker_trigger_env(&self.include, &self.store);
        env.extend_from_slice(extra);
        env
    }

    fn cmd(&self, args: &[&str], extra: &[(&str, &str)]) -> Output {
        tidewatch(args, &self.env(extra))
    }

    /// `run --once --json`: the report's row of the container, and the whole output.
    fn run_once(&self, extra: &[(&str, &str)]) -> (serde_json::Value, Output) {
        let out = self.cmd(&["run", "--once", "--json"], extra);
        let report: serde_json::Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|err| panic!("not JSON ({err}):\n{out}"));
        let row = report["containers"]
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["name"] == self.include.as_str()))
            .cloned()
            .unwrap_or_else(|| panic!("no row for {}:\n{out}", self.include));
        (row, out)
    }
}

/// The image ID the container runs.
fn image_of(run: &TestRun, container: &Container) -> String {
    run.inspect(&container.name, "{{.Image}}")
}

fn exists(run: &TestRun, image: &str) -> bool {
    run.docker_output(&["image", "inspect", image]).success()
}

#[test]
fn a_rollback_runs_the_old_image_with_every_setting_and_holds_the_new_version() {
    let run = TestRun::new();
    let registry = run.registry();
    let v142 = run.push(&registry, "web", "1.4.2");
    let v150 = run.push(&registry, "web", "1.5.0");
    let web = run.run_with(
        "web",
        &[
            "-e",
            "USER_SETTING=kept",
            "--label",
            "user.label=kept",
            "-p",
            "127.0.0.1::8080",
            "--restart",
            "on-failure:3",
            "--hostname",
            "custom-host",
            "--memory",
            "64m",
            "--stop-timeout",
            "3",
        ],
        &v142.reference,
        &["sleep", "1234"],
    );
    let before_config = run.inspect_json(&web.id, ".Config");
    let before_host = run.inspect_json(&web.id, ".HostConfig");
    let tw = Tidewatch::new(&web);

    let (_, out) = tw.run_once(&[]);
    assert!(out.stderr.contains("Updated."), "{out}");
    assert_eq!(image_of(&run, &web), v150.id, "updated to 1.5.0: {out}");

    // `history` marks the entry a rollback goes back to.
    let entries = history(&tw.store, &web.name);
    let applied = entries
        .iter()
        .find(|e| e["event"] == "update-applied")
        .expect("the update is in the history");
    assert_eq!(applied["from_image_id"], v142.id.as_str(), "{entries:?}");
    assert_eq!(applied["from_digest"], v142.digest.as_str(), "{entries:?}");
    assert_eq!(applied["rollback"], "-1", "{entries:?}");
    let table = tw.cmd(&["history", &web.name], &[]);
    assert!(table.stdout.contains("[rollback --to -1"), "{table}");

    // Told through the notifiers, with who did it.
    let hook = Receiver::start();
    let url = hook.url("/told");
    let out = tw.cmd(
        &["rollback", &web.name, "--reason", "500s on /login"],
        &[
            ("USER", "alice"),
            ("TIDEWATCH_TRIGGER_HTTP_HOOK_URL", url.as_str()),
            ("TIDEWATCH_TRIGGER_HTTP_HOOK_INCLUDE", web.name.as_str()),
        ],
    );
    assert!(out.status.success(), "{out}");
    let told: Vec<serde_json::Value> = hook.requests().iter().map(|r| r.json()).collect();
    assert_eq!(told.len(), 1, "{told:?}\n{out}");
    assert_eq!(told[0]["event"], "rollback-applied", "{told:?}");
    assert_eq!(told[0]["from"], "1.5.0", "{told:?}");
    assert_eq!(told[0]["to"], "1.4.2", "{told:?}");
    assert_eq!(told[0]["reason"], "by alice", "{told:?}");
    assert!(
        out.stdout
            .contains("rolled back from 1.5.0 to 1.4.2 by alice"),
        "{out}"
    );
    let new_id = run.inspect(&web.name, "{{.Id}}");
    assert_ne!(new_id, web.id, "re-created: {out}");
    assert_eq!(image_of(&run, &web), v142.id, "runs 1.4.2's image: {out}");
    assert_eq!(
        run.inspect(&web.name, "{{.State.Running}}"),
        "true",
        "{out}"
    );
    assert_eq!(run.inspect_json(&new_id, ".Config"), before_config, "{out}");
    assert_eq!(
        run.inspect_json(&new_id, ".HostConfig"),
        before_host,
        "{out}"
    );
    let aside = run.docker_output(&["inspect", &format!("{}-tidewatch-old", web.name)]);
    assert!(!aside.success(), "nothing left aside: {out}");

    // The next check finds 1.5.0 again, and neither offers nor applies it: held, with why.
    let (row, out) = tw.run_once(&[]);
    assert_eq!(row["status"], "held", "{out}");
    assert_eq!(row["update"]["tag"], "1.5.0", "{out}");
    assert_eq!(row["hold"]["by"], "alice", "{out}");
    assert_eq!(row["hold"]["tag"], "1.5.0", "{out}");
    let reason = row["hold"]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("rolled back from 1.5.0 to 1.4.2") && reason.contains("500s on /login"),
        "{out}"
    );
    assert!(row["hold"]["at"].as_str().is_some_and(|at| !at.is_empty()));
    assert!(!out.stderr.contains("Updated."), "{out}");
    assert_eq!(
        run.inspect(&web.name, "{{.Id}}"),
        new_id,
        "not touched: {out}"
    );
    let plan = tw.cmd(&["plan"], &[]);
    assert!(plan.stdout.contains("not updated, held by alice"), "{plan}");
    let events: Vec<String> = history(&tw.store, &web.name)
        .iter()
        .map(|e| e["event"].as_str().unwrap_or_default().to_string())
        .collect();
    for event in ["update-applied", "rollback-applied", "held"] {
        assert!(events.iter().any(|e| e == event), "{event}: {events:?}");
    }

    // A newer version is offered (and applied) again.
    let v151 = run.push(&registry, "web", "1.5.1");
    // (The report shows the container as it runs after the update.)
    let (row, out) = tw.run_once(&[]);
    assert_eq!(row["status"], "up-to-date", "{out}");
    assert!(out.stderr.contains("Updated."), "{out}");
    assert_eq!(image_of(&run, &web), v151.id, "{out}");
}

#[test]
fn a_hold_by_hand_skips_a_release_until_released() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "skip", "1.0.0");
    run.push(&registry, "skip", "1.1.0");
    let app = run.run("skip", &v1.reference, &[]);
    let tw = Tidewatch::new(&app);

    let out = tw.cmd(
        &["hold", &app.name, "--until-newer-than", "1.1.0"],
        &[("USER", "bob")],
    );
    assert!(out.status.success(), "{out}");
    let (row, out) = tw.run_once(&[]);
    assert_eq!(row["status"], "held", "{out}");
    assert_eq!(row["hold"]["by"], "bob", "{out}");
    assert_untouched(&run, &app, &v1.reference, &out);

    let check = tw.cmd(&["check", "--json"], &[]);
    assert!(check.stdout.contains("\"held\""), "{check}");

    let out = tw.cmd(&["release", &app.name], &[]);
    assert!(out.stdout.contains("released"), "{out}");
    let (row, out) = tw.run_once(&[]);
    assert_eq!(
        row["status"], "up-to-date",
        "updated, as it runs now: {out}"
    );
    assert!(out.stderr.contains("Updated."), "{out}");
}

#[test]
fn a_release_the_gate_rolled_back_is_not_tried_again_every_cycle() {
    let run = TestRun::new();
    let registry = run.registry();
    let good = run.push(&registry, "gated", "1.5.1");
    run.push_spec(
        &registry,
        "gated",
        "1.6.0",
        &ImageSpec::version("1.6.0").cmd(&["sh", "-c", "exit 3"]),
    );
    let app = run.run("gated", &good.reference, &[]);
    let tw = Tidewatch::new(&app);

    let (_, out) = tw.run_once(&[]);
    assert!(
        out.stderr.contains("putting the old container back"),
        "{out}"
    );
    assert_untouched(&run, &app, &good.reference, &out);

    // The next cycles leave it alone: no pull, no stop, no rename; reported held, with why.
    for _ in 0..2 {
        let container = format!("container={}", app.id);
        let recording = EventLog::start(&run, &[&container], "{{.Action}}");
        let (row, out) = tw.run_once(&[]);
        let events = recording.stop();
        assert_eq!(events, Vec::<String>::new(), "not touched: {out}");
        assert_eq!(row["status"], "held", "{out}");
        assert_eq!(row["hold"]["by"], "health gate", "{out}");
        assert!(
            row["reason"]
                .as_str()
                .is_some_and(|r| r.contains("exit code 3")),
            "{out}"
        );
        assert_untouched(&run, &app, &good.reference, &out);
    }

    // The user can still ask for it: `tidewatch update NAME` tries again.
    let out = tw.cmd(&["update", &app.name], &[]);
    assert!(
        out.stderr.contains("putting the old container back"),
        "{out}"
    );
    assert_untouched(&run, &app, &good.reference, &out);
}

#[test]
fn the_daemon_rolls_a_broken_release_back_once_not_every_cycle() {
    use crate::run::{Daemon, daemon_wait};
    let run = TestRun::new();
    let registry = run.registry();
    let good = run.push(&registry, "looped", "1.5.1");
    run.push_spec(
        &registry,
        "looped",
        "1.6.0",
        &ImageSpec::version("1.6.0").cmd(&["sh", "-c", "exit 3"]),
    );
    let app = run.run("looped", &good.reference, &[]);
    let tw = Tidewatch::new(&app);
    // A check every two seconds, and the engine's events followed: the old container's start
    // after the rollback is checked at once too.
    let mut daemon = Daemon::start(&tw.env(&[
        ("TIDEWATCH_WATCHER_LOCAL_CRON", "*/2 * * * * *"),
        ("TIDEWATCH_WATCHER_LOCAL_JITTER", "0"),
    ]));
    daemon_wait(&mut daemon, "putting the old container back", 1);
    let checks = daemon
        .seen
        .iter()
        .filter(|l| l.contains("Check completed."))
        .count();
    daemon_wait(&mut daemon, "Check completed.", checks + 6);
    let status = daemon.terminate();
    assert!(status.success(), "{status:?}");
    let log = daemon.seen.join("\n");
    assert_eq!(
        log.matches("putting the old container back").count(),
        1,
        "tried once:\n{log}"
    );
    assert_eq!(
        log.matches("Updating: pulling the new image.").count(),
        1,
        "pulled once:\n{log}"
    );
    assert_eq!(
        run.inspect(&app.name, "{{.Id}} {{.State.Running}}"),
        format!("{} true", app.id),
        "{log}"
    );
}

#[test]
fn cleanup_keeps_the_previous_image_and_removes_the_one_before() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "kept", "1.0.0");
    let v2 = run.push(&registry, "kept", "1.1.0");
    let app = run.run("kept", &v1.reference, &[]);
    let tw = Tidewatch::new(&app);
    let prune = [("TIDEWATCH_TRIGGER_DOCKER_LOCAL_PRUNE", "true")];

    let (_, out) = tw.run_once(&prune);
    assert!(out.stderr.contains("Updated."), "{out}");
    assert!(exists(&run, &v1.id), "the previous image is kept: {out}");

    let v3 = run.push(&registry, "kept", "1.2.0");
    let (_, out) = tw.run_once(&prune);
    assert!(out.stderr.contains("Updated."), "{out}");
    assert_eq!(image_of(&run, &app), v3.id, "{out}");
    assert!(exists(&run, &v2.id), "the previous image is kept: {out}");
    assert!(!exists(&run, &v1.id), "the one before it is removed: {out}");

    // And the rollback needs no pull.
    let out = tw.cmd(&["rollback", &app.name], &[]);
    assert!(out.status.success(), "{out}");
    assert!(!out.stdout.contains("pulled"), "{out}");
    assert_eq!(image_of(&run, &app), v2.id, "{out}");

    // A second rollback goes further back (its image was cleaned up: pulled by digest), and
    // both versions rolled back from stay held.
    let out = tw.cmd(&["rollback", &app.name], &[]);
    assert!(out.status.success(), "{out}");
    assert!(out.stdout.contains("pulled it by digest"), "{out}");
    assert!(out.stdout.contains("from 1.1.0 to 1.0.0"), "{out}");
    assert_eq!(image_of(&run, &app), v1.id, "{out}");
    let (row, out) = tw.run_once(&prune);
    assert_eq!(row["status"], "held", "{out}");
    assert_eq!(row["update"]["tag"], "1.2.0", "{out}");
    assert_eq!(image_of(&run, &app), v1.id, "{out}");
}

#[test]
fn a_rollback_whose_image_was_removed_pulls_it_by_digest() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "gone", "1.0.0");
    let v2 = run.push(&registry, "gone", "1.1.0");
    let app = run.run("gone", &v1.reference, &[]);
    let tw = Tidewatch::new(&app);
    let (_, out) = tw.run_once(&[]);
    assert_eq!(image_of(&run, &app), v2.id, "{out}");
    // The tag moves on in the registry too: only the digest still names the old image.
    run.docker(&["rmi", &v1.reference]);
    assert!(!exists(&run, &v1.id), "the scene: the old image is gone");
    run.push_spec(
        &registry,
        "gone",
        "1.0.0",
        &ImageSpec::version("1.0.0-rebuilt"),
    );
    run.docker(&["rmi", &v1.reference]);

    let out = tw.cmd(&["rollback", &app.name, "--to", "1.0.0"], &[]);
    assert!(out.status.success(), "{out}");
    assert!(out.stdout.contains("pulled it by digest"), "{out}");
    assert!(out.stdout.contains(&v1.digest), "{out}");
    assert_eq!(image_of(&run, &app), v1.id, "the very image it ran: {out}");
    assert_eq!(
        run.inspect(&app.name, "{{.Config.Image}} {{.State.Running}}"),
        format!("{} true", v1.reference),
        "{out}"
    );
}

/// `tidewatch rollback NAME` halted at `halt` and SIGKILLed there.
fn kill_rollback_at(tw: &Tidewatch, name: &str, halt: &str) -> String {
    crate::support::update::kill_when_halted(&["rollback", name], &tw.env(&[]), halt)
}

#[test]
fn a_rollback_killed_midway_is_undone_or_finished_at_the_next_start() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "killed", "1.0.0");
    let v2 = run.push(&registry, "killed", "1.1.0");
    let app = run.run("killed", &v1.reference, &[]);
    let tw = Tidewatch::new(&app);
    let (_, out) = tw.run_once(&[]);
    assert_eq!(image_of(&run, &app), v2.id, "{out}");
    let no_auto = [("TIDEWATCH_TRIGGER_DOCKER_LOCAL_AUTO", "false")];

    // Killed while the rolled-back container is on its gate: undone, 1.1.0 runs again.
    let on_v2 = run.inspect(&app.name, "{{.Id}}");
    let seen = kill_rollback_at(&tw, &app.name, "gating");
    let (_, out) = tw.run_once(&no_auto);
    let still = Container {
        name: app.name.clone(),
        id: on_v2,
    };
    assert_untouched(&run, &still, &v2.reference, &out);
    assert!(!seen.is_empty());

    // Killed once the gate passed: finished, 1.0.0 runs.
    kill_rollback_at(&tw, &app.name, "removing");
    let (_, out) = tw.run_once(&no_auto);
    assert_eq!(image_of(&run, &app), v1.id, "finished: {out}");
    assert_eq!(
        run.inspect(&app.name, "{{.State.Running}} {{.Config.Image}}"),
        format!("true {}", v1.reference),
        "{out}"
    );
    let aside = run.docker_output(&["inspect", &format!("{}-tidewatch-old", app.name)]);
    assert!(!aside.success(), "nothing left aside: {out}");
}
