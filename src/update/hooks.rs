//! Lifecycle hooks, as Watchtower has them: a shell command from a container label, run with
//! `sh -c` inside the container at four moments — before and after a check, before and after
//! an update. The executor decides when to call [`run`] and what a result means for the update;
//! this module reads the labels, runs the command and says how it went.
//!
//! Labels, each `tidewatch.lifecycle.<hook>` or Watchtower's
//! `com.centurylinklabs.watchtower.lifecycle.<hook>` (the native name wins when both are set; a
//! native label set to the empty string turns off a Watchtower hook an image brings along):
//! - `pre-check`, `post-check`: the commands around a check; limit 1 minute;
//! - `pre-update`, `post-update`: the commands around an update; limit from
//!   `pre-update-timeout`, `post-update-timeout` (minutes).
//!
//! The names live here rather than in `crate::watch::labels`: that module reads what a *check* needs
//! once per container, while these are read only when a hook is about to run.
//!
//! How a hook ends:
//! - exit 0: [`HookResult::Passed`];
//! - exit 75 (`EX_TEMPFAIL`) from pre-update: [`HookResult::SkipUpdate`], this container is
//!   left alone this time. From any other hook 75 counts as passed, as in Watchtower;
//! - any other exit, the time limit passing, or a command that cannot run:
//!   [`HookResult::Failed`] with the reason and the end of what the command printed. For
//!   pre-update the executor then changes nothing; post-* failures are only reported.
//!
//! Time limits, in whole minutes as Watchtower reads them: 1 by default; pre-update and
//! post-update take theirs from the `-timeout` labels. Watchtower reads `0` as "no limit";
//! tidewatch never waits without one, so `0`, like any limit over an hour, is [`MAX_TIMEOUT`]
//! (one hour). A limit label that is not a whole number fails the hook, as any label that cannot be
//! understood is an error for its container. A command still running at its limit is not
//! killed (the engine cannot kill an exec; see `crate::docker::exec`), only no longer waited for.
//!
//! A container that is not running (stopped, or restarting) cannot run a command. Watchtower
//! then quietly skips its hooks and updates anyway. [`before_update`] does the same when the
//! successor is left stopped too (nothing runs, so there is nothing for the hook to guard), but
//! not when the update would start it (`revivestopped`, or a restarting container, which the
//! engine counts as running): a pre-update hook that guards data (a dump, a flush) is never
//! bypassed by tidewatch itself starting the new version. That update fails with the reason
//! and waits until the container runs, or until the label is removed.

use crate::docker::Engine;
use crate::docker::exec::ExecOutcome;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

pub const PRE_CHECK: &str = "tidewatch.lifecycle.pre-check";
pub const POST_CHECK: &str = "tidewatch.lifecycle.post-check";
pub const PRE_UPDATE: &str = "tidewatch.lifecycle.pre-update";
pub const POST_UPDATE: &str = "tidewatch.lifecycle.post-update";
pub const PRE_UPDATE_TIMEOUT: &str = "tidewatch.lifecycle.pre-update-timeout";
pub const POST_UPDATE_TIMEOUT: &str = "tidewatch.lifecycle.post-update-timeout";

pub const WATCHTOWER_PRE_CHECK: &str = "com.centurylinklabs.watchtower.lifecycle.pre-check";
pub const WATCHTOWER_POST_CHECK: &str = "com.centurylinklabs.watchtower.lifecycle.post-check";
pub const WATCHTOWER_PRE_UPDATE: &str = "com.centurylinklabs.watchtower.lifecycle.pre-update";
pub const WATCHTOWER_POST_UPDATE: &str = "com.centurylinklabs.watchtower.lifecycle.post-update";
pub const WATCHTOWER_PRE_UPDATE_TIMEOUT: &str =
    "com.centurylinklabs.watchtower.lifecycle.pre-update-timeout";
pub const WATCHTOWER_POST_UPDATE_TIMEOUT: &str =
    "com.centurylinklabs.watchtower.lifecycle.post-update-timeout";

/// A hook's limit when no label sets one (Watchtower's 1 minute).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The longest a hook is waited for: what `0` (Watchtower's "no limit") means here, and the
/// most any label can ask. An update waits for its pre-update hook, and a hung hook must not
/// hold it, and the containers after it, for ever.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// Exit code of a pre-update hook that asks to skip this update (`EX_TEMPFAIL`, sysexits.h).
pub const EX_TEMPFAIL: i64 = 75;

/// The most of a hook's output quoted in a failure's reason, which ends up in logs, the history
/// and notifications. The end is kept, where the error usually is.
const REASON_OUTPUT: usize = 512;

/// The moment a hook runs at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hook {
    /// Before a check of the container.
    PreCheck,
    /// After a check of the container.
    PostCheck,
    /// Before the container is touched by an update; can veto or skip it.
    PreUpdate,
    /// In the new container, once it passed the health gate.
    PostUpdate,
}

impl Hook {
    /// The command labels, in order of precedence.
    fn command_labels(self) -> [&'static str; 2] {
        match self {
            Hook::PreCheck => [PRE_CHECK, WATCHTOWER_PRE_CHECK],
            Hook::PostCheck => [POST_CHECK, WATCHTOWER_POST_CHECK],
            Hook::PreUpdate => [PRE_UPDATE, WATCHTOWER_PRE_UPDATE],
            Hook::PostUpdate => [POST_UPDATE, WATCHTOWER_POST_UPDATE],
        }
    }

    /// The limit labels, in order of precedence; none for the check hooks (as in Watchtower).
    fn timeout_labels(self) -> Option<[&'static str; 2]> {
        match self {
            Hook::PreCheck | Hook::PostCheck => None,
            Hook::PreUpdate => Some([PRE_UPDATE_TIMEOUT, WATCHTOWER_PRE_UPDATE_TIMEOUT]),
            Hook::PostUpdate => Some([POST_UPDATE_TIMEOUT, WATCHTOWER_POST_UPDATE_TIMEOUT]),
        }
    }
}

impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Hook::PreCheck => "pre-check",
            Hook::PostCheck => "post-check",
            Hook::PreUpdate => "pre-update",
            Hook::PostUpdate => "post-update",
        })
    }
}

/// How a hook went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookResult {
    /// The container has no command for this hook: nothing ran.
    NotSet,
    /// It ran and exited 0 (or 75 from a hook other than pre-update).
    Passed,
    /// A pre-update hook exited 75: leave the container as it is this time, not an error.
    SkipUpdate,
    /// It failed, did not finish in time, or could not run; why, in words for the history.
    Failed(String),
}

/// What the hooks before an update decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Before {
    /// Go on with the update.
    Proceed,
    /// Leave the container as it is this time (pre-update exit 75): not a failure.
    Skip(String),
    /// Do not update: the pre-update hook failed or could not run; nothing was changed.
    Abort(String),
}

/// Runs pre-check, then pre-update, in container `container_id` before its update. `running`:
/// the container runs now; `start`: the update starts its successor. See the module docs for a
/// container that is not running. A pre-check failure is only reported, as in Watchtower.
pub async fn before_update(
    engine: &Engine,
    container_id: &str,
    name: &str,
    labels: &BTreeMap<String, String>,
    running: bool,
    start: bool,
) -> Before {
    if !running && !start {
        tracing::debug!(container = %name, "Not running, and its successor is not started: updating without its hooks, as Watchtower does.");
        return Before::Proceed;
    }
    if let HookResult::Failed(reason) = run(engine, container_id, labels, Hook::PreCheck).await {
        tracing::warn!(container = %name, hook = %Hook::PreCheck, reason = %reason, "Hook failed; the update goes on.");
    }
    match run(engine, container_id, labels, Hook::PreUpdate).await {
        HookResult::NotSet | HookResult::Passed => Before::Proceed,
        HookResult::SkipUpdate => Before::Skip(format!(
            "the {} hook asked to skip this update (exit {EX_TEMPFAIL})",
            Hook::PreUpdate
        )),
        HookResult::Failed(reason) if !running => Before::Abort(format!(
            "{reason}; the update would start the new container without it: start the \
             container, or remove the hook's label"
        )),
        HookResult::Failed(reason) => {
            Before::Abort(format!("the pre-update hook failed: {reason}"))
        }
    }
}

/// Runs `hook` of container `container_id` (its labels are `labels`) with the time limit its
/// labels give. See the module docs for what each result means.
pub async fn run(
    engine: &Engine,
    container_id: &str,
    labels: &BTreeMap<String, String>,
    hook: Hook,
) -> HookResult {
    match timeout(labels, hook) {
        Ok(limit) => run_with_timeout(engine, container_id, labels, hook, limit).await,
        // Only reported when there is a command to run.
        Err(reason) if command(labels, hook).is_some() => HookResult::Failed(reason),
        Err(_) => HookResult::NotSet,
    }
}

/// As [`run`], with time limit `limit` instead of the one the labels give (their limit labels
/// are not read). For tests: the smallest limit a label can set is a minute, too long to wait
/// for one to pass.
pub async fn run_with_timeout(
    engine: &Engine,
    container_id: &str,
    labels: &BTreeMap<String, String>,
    hook: Hook,
    limit: Duration,
) -> HookResult {
    let Some(command) = command(labels, hook) else {
        return HookResult::NotSet;
    };
    match engine.health(container_id).await {
        Ok(state) if state.running && !state.restarting => {}
        Ok(_) => {
            return HookResult::Failed(format!(
                "the container is not running, so its {hook} hook cannot run"
            ));
        }
        Err(err) => {
            return HookResult::Failed(format!(
                "cannot run the {hook} hook: cannot inspect the container: {err}"
            ));
        }
    }
    tracing::debug!(container = %container_id, hook = %hook, limit = ?limit, "Running lifecycle hook.");
    let result = match engine.exec(container_id, command, limit).await {
        Ok(outcome) => {
            tracing::debug!(container = %container_id, hook = %hook, exit_code = ?outcome.exit_code, timed_out = outcome.timed_out, output = %outcome.output, "Lifecycle hook ended.");
            interpret(hook, &outcome, limit)
        }
        Err(err) => HookResult::Failed(format!("cannot run the {hook} hook: {err}")),
    };
    tracing::debug!(container = %container_id, hook = %hook, result = ?result, "Lifecycle hook done.");
    result
}

/// The command `hook` runs for a container with `labels`: the first of its labels that is set,
/// native first; `None` when that one is empty or none is set.
pub fn command(labels: &BTreeMap<String, String>, hook: Hook) -> Option<&str> {
    hook.command_labels()
        .into_iter()
        .find_map(|name| labels.get(name))
        .map(|value| value.trim())
        .filter(|value| !value.is_empty())
}

/// The time limit of `hook` for a container with `labels`, or why its limit label cannot be
/// read. See the module docs for the units and the cap.
pub fn timeout(labels: &BTreeMap<String, String>, hook: Hook) -> Result<Duration, String> {
    let Some((label, value)) = hook.timeout_labels().and_then(|names| {
        names
            .into_iter()
            .find_map(|name| labels.get(name).map(|value| (name, value.trim())))
    }) else {
        return Ok(DEFAULT_TIMEOUT);
    };
    // Watchtower reads an empty value as the default.
    if value.is_empty() {
        return Ok(DEFAULT_TIMEOUT);
    }
    let minutes: u64 = value
        .parse()
        .map_err(|_| format!("label {label}: expected a whole number of minutes"))?;
    Ok(match minutes {
        0 => MAX_TIMEOUT,
        minutes => Duration::from_secs(minutes.saturating_mul(60)).min(MAX_TIMEOUT),
    })
}

/// What the end of a hook's command means, given it ran with time limit `limit`.
pub fn interpret(hook: Hook, outcome: &ExecOutcome, limit: Duration) -> HookResult {
    let output = excerpt(&outcome.output)
        .map(|text| format!(": {text}"))
        .unwrap_or_default();
    if outcome.timed_out {
        return HookResult::Failed(format!(
            "the {hook} hook did not finish within {} and may still be running in the container{output}",
            human(limit)
        ));
    }
    match outcome.exit_code {
        Some(0) => HookResult::Passed,
        Some(EX_TEMPFAIL) if hook == Hook::PreUpdate => HookResult::SkipUpdate,
        Some(EX_TEMPFAIL) => HookResult::Passed,
        Some(code) => {
            HookResult::Failed(format!("the {hook} hook exited with code {code}{output}"))
        }
        None => HookResult::Failed(format!(
            "the {hook} hook ended without an exit code{output}"
        )),
    }
}

/// The end of a command's output on one line, for a reason: its non-blank lines joined by
/// ` | `, at most [`REASON_OUTPUT`] bytes (a cut shows as `…`). `None` when it printed nothing.
fn excerpt(output: &str) -> Option<String> {
    let line = output
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" | ");
    if line.is_empty() {
        return None;
    }
    if line.len() <= REASON_OUTPUT {
        return Some(line);
    }
    let mut start = line.len() - REASON_OUTPUT;
    while !line.is_char_boundary(start) {
        start += 1;
    }
    let kept = line[start..].trim_start_matches('…');
    Some(format!("…{kept}"))
}

/// `1 min`, `90 s`, `250 ms`: a limit as a user set it, or as a test did.
fn human(limit: Duration) -> String {
    let secs = limit.as_secs();
    if limit.subsec_nanos() != 0 || secs == 0 {
        format!("{} ms", limit.as_millis())
    } else if secs % 60 == 0 {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn exited(code: i64, output: &str) -> ExecOutcome {
        ExecOutcome {
            exit_code: Some(code),
            output: output.to_string(),
            timed_out: false,
        }
    }

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn the_command_comes_from_the_native_label_then_watchtowers() {
        let both = labels(&[
            (PRE_UPDATE, "native"),
            (WATCHTOWER_PRE_UPDATE, "watchtower"),
        ]);
        assert_eq!(command(&both, Hook::PreUpdate), Some("native"));
        let watchtower = labels(&[(WATCHTOWER_POST_CHECK, "  /heartbeat.sh \n")]);
        assert_eq!(command(&watchtower, Hook::PostCheck), Some("/heartbeat.sh"));
        assert_eq!(command(&watchtower, Hook::PreCheck), None);
        assert_eq!(command(&watchtower, Hook::PostUpdate), None);
    }

    #[test]
    fn an_empty_native_label_turns_off_the_watchtower_hook() {
        let off = labels(&[(PRE_UPDATE, ""), (WATCHTOWER_PRE_UPDATE, "/dump.sh")]);
        assert_eq!(command(&off, Hook::PreUpdate), None);
        assert_eq!(command(&labels(&[(PRE_CHECK, " ")]), Hook::PreCheck), None);
    }

    #[test]
    fn every_hook_has_its_own_labels() {
        let all = labels(&[
            (WATCHTOWER_PRE_CHECK, "a"),
            (WATCHTOWER_POST_CHECK, "b"),
            (POST_UPDATE, "d"),
            (WATCHTOWER_PRE_UPDATE, "c"),
        ]);
        let commands: Vec<_> = [
            Hook::PreCheck,
            Hook::PostCheck,
            Hook::PreUpdate,
            Hook::PostUpdate,
        ]
        .into_iter()
        .map(|hook| command(&all, hook))
        .collect();
        assert_eq!(commands, [Some("a"), Some("b"), Some("c"), Some("d")]);
    }

    #[test]
    fn limits_are_minutes_one_by_default_and_never_more_than_an_hour() {
        let limit = |pairs: &[(&str, &str)], hook| timeout(&labels(pairs), hook);
        assert_eq!(limit(&[], Hook::PreUpdate), Ok(MINUTE));
        assert_eq!(
            limit(&[(WATCHTOWER_PRE_UPDATE_TIMEOUT, "5")], Hook::PreUpdate),
            Ok(5 * MINUTE)
        );
        assert_eq!(
            limit(&[(POST_UPDATE_TIMEOUT, " 2 ")], Hook::PostUpdate),
            Ok(2 * MINUTE)
        );
        // Watchtower's "no limit", and anything longer, is the cap.
        assert_eq!(
            limit(&[(PRE_UPDATE_TIMEOUT, "0")], Hook::PreUpdate),
            Ok(MAX_TIMEOUT)
        );
        assert_eq!(
            limit(&[(PRE_UPDATE_TIMEOUT, "600")], Hook::PreUpdate),
            Ok(MAX_TIMEOUT)
        );
        assert_eq!(
            limit(
                &[(PRE_UPDATE_TIMEOUT, "18446744073709551615")],
                Hook::PreUpdate
            ),
            Ok(MAX_TIMEOUT)
        );
        assert_eq!(
            limit(&[(PRE_UPDATE_TIMEOUT, "")], Hook::PreUpdate),
            Ok(MINUTE)
        );
    }

    #[test]
    fn the_native_limit_wins_and_each_update_hook_reads_its_own() {
        let both = labels(&[
            (PRE_UPDATE_TIMEOUT, "3"),
            (WATCHTOWER_PRE_UPDATE_TIMEOUT, "7"),
            (WATCHTOWER_POST_UPDATE_TIMEOUT, "9"),
        ]);
        assert_eq!(timeout(&both, Hook::PreUpdate), Ok(3 * MINUTE));
        assert_eq!(timeout(&both, Hook::PostUpdate), Ok(9 * MINUTE));
    }

    #[test]
    fn check_hooks_always_have_a_minute() {
        let set = labels(&[(PRE_UPDATE_TIMEOUT, "30"), (POST_UPDATE_TIMEOUT, "x")]);
        assert_eq!(timeout(&set, Hook::PreCheck), Ok(MINUTE));
        assert_eq!(timeout(&set, Hook::PostCheck), Ok(MINUTE));
    }

    #[test]
    fn a_limit_that_is_not_whole_minutes_names_its_label() {
        for value in ["1.5", "-1", "5m", "soon"] {
            let set = labels(&[(WATCHTOWER_POST_UPDATE_TIMEOUT, value)]);
            assert_eq!(
                timeout(&set, Hook::PostUpdate),
                Err(format!(
                    "label {WATCHTOWER_POST_UPDATE_TIMEOUT}: expected a whole number of minutes"
                )),
                "{value}"
            );
        }
    }

    #[test]
    fn exit_codes_mean_passed_skip_or_failed() {
        let check = |hook, code, expected: HookResult| {
            assert_eq!(
                interpret(hook, &exited(code, ""), MINUTE),
                expected,
                "{hook} {code}"
            );
        };
        check(Hook::PreUpdate, 0, HookResult::Passed);
        check(Hook::PreUpdate, 75, HookResult::SkipUpdate);
        check(
            Hook::PreUpdate,
            1,
            HookResult::Failed("the pre-update hook exited with code 1".into()),
        );
        check(
            Hook::PostUpdate,
            127,
            HookResult::Failed("the post-update hook exited with code 127".into()),
        );
        // Only a pre-update hook can skip; elsewhere 75 is not a failure (Watchtower).
        check(Hook::PostUpdate, 75, HookResult::Passed);
        check(Hook::PreCheck, 75, HookResult::Passed);
    }

    #[test]
    fn a_failure_quotes_the_output_on_one_line() {
        let result = interpret(
            Hook::PreUpdate,
            &exited(2, "dumping\n\n  pg_dump: connection refused  \n"),
            MINUTE,
        );
        assert_eq!(
            result,
            HookResult::Failed(
                "the pre-update hook exited with code 2: dumping | pg_dump: connection refused"
                    .into()
            )
        );
    }

    #[test]
    fn a_long_output_is_quoted_by_its_end() {
        let output = format!("{}\nthe real error", "noise ".repeat(500));
        let HookResult::Failed(reason) = interpret(Hook::PreUpdate, &exited(1, &output), MINUTE)
        else {
            panic!("failed");
        };
        assert!(reason.ends_with("the real error"), "{reason}");
        assert!(reason.contains("code 1: …"), "{reason}");
        assert!(reason.len() < 600, "{}", reason.len());
        // A cut inside a character moves to the next whole one.
        let wide = excerpt(&"é".repeat(REASON_OUTPUT)).unwrap();
        assert!(wide.starts_with("…é") && wide.len() <= REASON_OUTPUT + 3);
    }

    #[test]
    fn a_hook_past_its_limit_fails_saying_so() {
        let outcome = ExecOutcome {
            exit_code: None,
            output: "still dumping".into(),
            timed_out: true,
        };
        assert_eq!(
            interpret(Hook::PreUpdate, &outcome, 5 * MINUTE),
            HookResult::Failed(
                "the pre-update hook did not finish within 5 min and may still be running in \
                 the container: still dumping"
                    .into()
            )
        );
        assert_eq!(human(Duration::from_secs(90)), "90 s");
        assert_eq!(human(Duration::from_millis(1500)), "1500 ms");
    }

    #[test]
    fn no_exit_code_is_a_failure() {
        let outcome = ExecOutcome {
            exit_code: None,
            output: String::new(),
            timed_out: false,
        };
        assert_eq!(
            interpret(Hook::PostCheck, &outcome, MINUTE),
            HookResult::Failed("the post-check hook ended without an exit code".into())
        );
    }
}
