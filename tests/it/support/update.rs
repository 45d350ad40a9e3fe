//! What the docker trigger's tests share: tidewatch's environment for a trigger limited to a
//! test's own containers, the store's history of a container, the engine's events since a
//! moment, and the check that an update which must not happen left the old container as it was.
//! One copy each, so that every test asks and judges the same way.

use super::{Container, Output, TestRun, fresh_store_dir, tidewatch};

/// The docker trigger on the local engine, limited to `include` (a regex of names), with a
/// short settle time and stop timeout, and the store at `store`.
pub fn docker_trigger_env<'a>(include: &'a str, store: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("TIDEWATCH_TRIGGER_DOCKER_LOCAL_INCLUDE", include),
        ("TIDEWATCH_TRIGGER_DOCKER_LOCAL_SETTLE", "2"),
        ("TIDEWATCH_TRIGGER_DOCKER_LOCAL_STOPTIMEOUT", "1"),
        ("TIDEWATCH_STORE_PATH", store),
    ]
}

/// `tidewatch run --once` with the docker trigger limited to `include`, and `extra` variables,
/// on a fresh store.
pub fn update_once(include: &str, extra: &[(&str, &str)]) -> Output {
    let dir = fresh_store_dir();
    let store = dir.to_str().expect("a UTF-8 path");
    let mut env = docker_trigger_env(include, store);
    env.extend_from_slice(extra);
    tidewatch(&["run", "--once"], &env)
}

/// The entries of `tidewatch history NAME --json` in the store at `store`; the command must
/// succeed and print JSON.
pub fn history(store: &str, name: &str) -> Vec<serde_json::Value> {
    let out = tidewatch(
        &["history", name, "--json"],
        &[("TIDEWATCH_STORE_PATH", store)],
    );
    assert!(out.status.success(), "{out}");
    serde_json::from_str(&out.stdout).unwrap_or_else(|err| panic!("not JSON ({err}):\n{out}"))
}

/// `(event, detail)` of every entry of `tidewatch history NAME` in the store at `store`.
pub fn history_events(store: &str, name: &str) -> Vec<(String, String)> {
    history(store, name)
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap_or_default().to_string(),
                e["detail"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The engine's clock now, for `docker events --since`: the test's clock may differ.
pub fn engine_time(run: &TestRun) -> String {
    run.docker(&["system", "info", "--format", "{{.SystemTime}}"])
}

/// `docker events` from `since` until now with `filters` (`event=stop`…), one line each in
/// `format`, in order.
pub fn events_since(run: &TestRun, since: &str, filters: &[&str], format: &str) -> Vec<String> {
    let until = engine_time(run);
    let mut args = vec!["events", "--since", since, "--until", &until];
    for filter in filters {
        args.extend(["--filter", filter]);
    }
    args.extend(["--format", format]);
    run.docker(&args).lines().map(str::to_string).collect()
}

/// `name action` of every container start and stop since `since`, in order.
pub fn starts_and_stops(run: &TestRun, since: &str) -> Vec<String> {
    events_since(
        run,
        since,
        &["type=container", "event=stop", "event=start"],
        "{{.Actor.Attributes.name}} {{.Action}}",
    )
}

/// The container under `old.name` is `old` (same ID), running, on `image`, and alone: nothing
/// renamed aside (`-tidewatch-old`) and no other container whose name holds it.
#[track_caller]
pub fn assert_untouched(run: &TestRun, old: &Container, image: &str, out: &Output) {
    assert_eq!(
        run.inspect(&old.name, "{{.Id}} {{.State.Running}} {{.Config.Image}}"),
        format!("{} true {image}", old.id),
        "the same container, running, on the old image: {out}"
    );
    let aside = run.docker_output(&["inspect", &format!("{}-tidewatch-old", old.name)]);
    assert!(!aside.success(), "nothing left aside: {out}");
    let leftovers = run.docker(&[
        "ps",
        "--all",
        "--quiet",
        "--filter",
        &format!("name={}", old.name),
    ]);
    assert_eq!(
        leftovers.lines().count(),
        1,
        "only the old container: {leftovers}\n{out}"
    );
}
