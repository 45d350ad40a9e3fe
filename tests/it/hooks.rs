//! Lifecycle hooks against the real engine: the command of a container's label runs inside it
//! with `sh -c`, and its exit code, output and time limit decide the result the update
//! executor acts on. Also `Engine::exec`, which runs them.
//!
//! Each test starts its own busybox container with the labels it needs; the labels the hook
//! functions read are the ones the engine reports, read with the `docker` CLI.

use crate::support::{Container, TestRun};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tidewatch::config::WatcherConfig;
use tidewatch::docker::Engine;
use tidewatch::update::hooks::{self, Hook, HookResult};

const PRE_UPDATE: &str = "com.centurylinklabs.watchtower.lifecycle.pre-update";

async fn engine() -> Engine {
    Engine::connect("local", &WatcherConfig::default())
        .await
        .expect("connect to the local engine")
}

/// A running busybox container named `name` with `labels` (`key=value`), and its labels as the
/// engine reports them.
fn container(run: &TestRun, name: &str, labels: &[&str]) -> (Container, BTreeMap<String, String>) {
    let image = run.image(&format!("{}:1", run.name(name)), "1");
    let mut options = Vec::new();
    for label in labels {
        options.extend(["--label", label]);
    }
    let container = run.run_with(name, &options, &image.reference, &[]);
    let json = run.inspect(&container.id, "{{json .Config.Labels}}");
    let labels = serde_json::from_str(&json).expect("labels are a JSON object of strings");
    (container, labels)
}

/// The one place that runs a hook with the limit its labels give.
async fn check(run: &TestRun, labels: &[&str], hook: Hook) -> (Container, HookResult) {
    let (container, labels) = container(run, "hooked", labels);
    let result = hooks::run(&engine().await, &container.id, &labels, hook).await;
    (container, result)
}

fn failure(result: HookResult) -> String {
    match result {
        HookResult::Failed(reason) => reason,
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn a_pre_update_hook_exiting_0_passes_having_run_inside_the_container() {
    let run = TestRun::new();
    let label = format!("{PRE_UPDATE}=echo \"ran in $(cat /version)\" > /tmp/hook; echo done");
    let (container, result) = check(&run, &[&label], Hook::PreUpdate).await;
    assert_eq!(result, HookResult::Passed);
    let written = run.docker(&["exec", &container.id, "cat", "/tmp/hook"]);
    assert_eq!(written, "ran in 1");
}

#[tokio::test]
async fn a_pre_update_hook_exiting_1_fails_with_its_output_in_the_reason() {
    let run = TestRun::new();
    let label =
        format!("{PRE_UPDATE}=echo 'pg_dump: connection refused' >&2; echo 'no dump'; exit 1");
    let (_, result) = check(&run, &[&label], Hook::PreUpdate).await;
    let reason = failure(result);
    // The engine copies stdout and stderr separately: their order is not kept.
    let quoted = [
        "pg_dump: connection refused | no dump",
        "no dump | pg_dump: connection refused",
    ];
    assert!(
        quoted
            .map(|q| format!("the pre-update hook exited with code 1: {q}"))
            .contains(&reason),
        "{reason}"
    );
}

#[tokio::test]
async fn a_pre_update_hook_exiting_75_skips_the_update() {
    let run = TestRun::new();
    let label = format!("{PRE_UPDATE}=echo busy; exit 75");
    let (_, result) = check(&run, &[&label], Hook::PreUpdate).await;
    assert_eq!(result, HookResult::SkipUpdate);
}

#[tokio::test]
async fn hooks_of_the_native_label_win_over_watchtowers() {
    let run = TestRun::new();
    let (container, labels) = container(
        &run,
        "both",
        &[
            &format!("{}=echo native > /tmp/which", hooks::POST_UPDATE),
            &format!(
                "{}=echo watchtower > /tmp/which",
                hooks::WATCHTOWER_POST_UPDATE
            ),
            &format!("{}=echo checked > /tmp/check", hooks::WATCHTOWER_PRE_CHECK),
        ],
    );
    let engine = engine().await;
    let result = hooks::run(&engine, &container.id, &labels, Hook::PostUpdate).await;
    assert_eq!(result, HookResult::Passed);
    assert_eq!(
        run.docker(&["exec", &container.id, "cat", "/tmp/which"]),
        "native"
    );
    let result = hooks::run(&engine, &container.id, &labels, Hook::PreCheck).await;
    assert_eq!(result, HookResult::Passed);
    assert_eq!(
        run.docker(&["exec", &container.id, "cat", "/tmp/check"]),
        "checked"
    );
    let result = hooks::run(&engine, &container.id, &labels, Hook::PostCheck).await;
    assert_eq!(result, HookResult::NotSet);
}

#[tokio::test]
async fn hooks_not_set_run_nothing() {
    let run = TestRun::new();
    // A limit label alone, even one that cannot be read, is no hook.
    let limit = format!("{}=soon", hooks::WATCHTOWER_PRE_UPDATE_TIMEOUT);
    let (_, result) = check(&run, &[&limit], Hook::PreUpdate).await;
    assert_eq!(result, HookResult::NotSet);
}

#[tokio::test]
async fn hooks_with_an_unreadable_limit_fail_naming_the_label() {
    let run = TestRun::new();
    let command = format!("{PRE_UPDATE}=touch /tmp/ran");
    let limit = format!("{}=1.5", hooks::WATCHTOWER_PRE_UPDATE_TIMEOUT);
    let (_, result) = check(&run, &[&command, &limit], Hook::PreUpdate).await;
    assert_eq!(
        failure(result),
        format!(
            "label {}: expected a whole number of minutes",
            hooks::WATCHTOWER_PRE_UPDATE_TIMEOUT
        )
    );
}

#[tokio::test]
async fn hooks_past_their_limit_fail_quickly_with_what_they_printed() {
    let run = TestRun::new();
    let label = format!("{PRE_UPDATE}=echo started; sleep 60");
    let (container, labels) = container(&run, "slow", &[&label]);
    let engine = engine().await;
    let start = Instant::now();
    let limit = Duration::from_secs(1);
    let result =
        hooks::run_with_timeout(&engine, &container.id, &labels, Hook::PreUpdate, limit).await;
    let took = start.elapsed();
    assert_eq!(
        failure(result),
        "the pre-update hook did not finish within 1 s and may still be running in the \
         container: started"
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[tokio::test]
async fn hooks_of_a_stopped_container_fail_saying_it_is_not_running() {
    let run = TestRun::new();
    let label = format!("{PRE_UPDATE}=true");
    let (container, labels) = container(&run, "stopped", &[&label]);
    run.stop(&container);
    let result = hooks::run(&engine().await, &container.id, &labels, Hook::PreUpdate).await;
    assert_eq!(
        failure(result),
        "the container is not running, so its pre-update hook cannot run"
    );
}

#[tokio::test]
async fn hooks_with_a_long_output_quote_only_its_end() {
    let run = TestRun::new();
    // About 60 KiB before the line that matters.
    let label = format!(
        "{PRE_UPDATE}=i=0; while [ $i -lt 4000 ]; do echo \"noise line $i\"; i=$((i+1)); done; \
         echo 'the real error'; exit 3"
    );
    let (_, result) = check(&run, &[&label], Hook::PreUpdate).await;
    let reason = failure(result);
    assert!(
        reason.starts_with("the pre-update hook exited with code 3: …"),
        "{reason:.80}"
    );
    assert!(
        reason.ends_with("noise line 3999 | the real error"),
        "{reason}"
    );
    assert!(reason.len() < 600, "{} bytes", reason.len());
}

#[tokio::test]
async fn hooks_exec_keeps_the_end_of_stdout_and_stderr_and_the_exit_code() {
    let run = TestRun::new();
    let (container, _) = container(&run, "exec", &[]);
    let engine = engine().await;
    let outcome = engine
        .exec(
            &container.id,
            "i=0; while [ $i -lt 2000 ]; do echo \"line $i\"; \
             i=$((i+1)); done; exit 3",
            Duration::from_secs(30),
        )
        .await
        .expect("exec runs");
    assert_eq!(outcome.exit_code, Some(3));
    assert!(!outcome.timed_out);
    assert!(
        outcome.output.ends_with("line 1999\n"),
        "{}",
        outcome.output
    );
    assert!(outcome.output.starts_with('…'), "{:.40}", outcome.output);
    assert!(outcome.output.len() <= tidewatch::docker::exec::OUTPUT_LIMIT + 3);

    let outcome = engine
        .exec(
            &container.id,
            "echo out; echo err >&2",
            Duration::from_secs(30),
        )
        .await
        .expect("exec runs");
    assert_eq!(outcome.exit_code, Some(0));
    // Both streams, each line whole; the engine does not keep their order.
    let mut lines: Vec<&str> = outcome.output.lines().collect();
    lines.sort();
    assert_eq!(lines, ["err", "out"], "{:?}", outcome.output);
}

#[tokio::test]
async fn hooks_end_with_their_shell_even_when_they_leave_a_process_behind() {
    let run = TestRun::new();
    let (container, _) = container(&run, "daemon", &[]);
    let start = Instant::now();
    // The background `sleep` keeps the output open long after `sh` exited.
    let outcome = engine()
        .await
        .exec(
            &container.id,
            "sleep 60 & echo started",
            Duration::from_secs(30),
        )
        .await
        .expect("exec runs");
    assert_eq!(outcome.exit_code, Some(0), "{outcome:?}");
    assert_eq!(outcome.output, "started\n");
    assert!(start.elapsed() < Duration::from_secs(10), "{outcome:?}");
}

#[tokio::test]
async fn hooks_exec_in_a_container_that_is_gone_is_an_error() {
    let run = TestRun::new();
    let missing = run.name("never-created");
    let err = engine()
        .await
        .exec(&missing, "true", Duration::from_secs(5))
        .await
        .expect_err("no such container");
    assert!(err.to_string().contains("No such container"), "{err}");
}
