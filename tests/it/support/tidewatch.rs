//! Running the binary under test as a user would, in an environment the test controls.

use super::process::{self, Output};
use std::process::Command;
use std::time::Duration;

/// `check` and `config` finish in a second; a minute means it hangs.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Prefixes of the variables tidewatch reads. The developer's or CI's own settings must not leak
/// into a test, which states every variable it means.
const OWN_PREFIXES: [&str; 3] = ["TIDEWATCH_", "WUD_", "WATCHTOWER_"];

/// Runs `tidewatch ARGS` with `env` on top of an environment cleaned of every `TIDEWATCH_*`,
/// `WUD_*` and `WATCHTOWER_*` variable, and waits at most a minute. `DOCKER_HOST` and the like
/// stay, so the binary talks to the same engine as the tests' `docker` CLI.
pub fn tidewatch(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = command(args, env);
    process::run(&mut cmd, None, TIMEOUT).unwrap_or_else(|why| panic!("{why}"))
}

/// The same command, not started: for tests that run the daemon and stop it themselves.
pub fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tidewatch"));
    cmd.args(args);
    for (key, _) in std::env::vars_os() {
        let name = key.to_string_lossy();
        if OWN_PREFIXES.iter().any(|p| name.starts_with(p)) {
            cmd.env_remove(&key);
        }
    }
    // The store goes to a folder of its own under target/tmp, never into the checkout, unless
    // the test chooses one (to run twice on the same store).
    if !env.iter().any(|(k, _)| *k == "TIDEWATCH_STORE_PATH") {
        cmd.env("TIDEWATCH_STORE_PATH", fresh_store_dir());
    }
    // The daemon serves HTTP on port 3000 by default; parallel tests would fight over it.
    // Tests of the server turn it on with a free port of their own.
    if !env
        .iter()
        .any(|(k, _)| k.starts_with("TIDEWATCH_SERVER_") || k.starts_with("WATCHTOWER_HTTP_API"))
    {
        cmd.env("TIDEWATCH_SERVER_ENABLED", "false");
    }
    if let Some(scope) = scope_for(args, env) {
        cmd.env("TIDEWATCH_WATCHER_LOCAL_INCLUDE", scope);
    }
    cmd.envs(env.iter().copied());
    cmd
}

/// The test's own containers as the default watcher's `include`, for a command that checks
/// (see [`super::own_scope`]), unless the test chooses its watchers itself: any watcher setting,
/// another engine, a Watchtower, WUD or Diun setup (whose own selection it tests), or a
/// configuration file.
fn scope_for(args: &[&str], env: &[(&str, &str)]) -> Option<String> {
    let checks = matches!(args.first(), Some(&("check" | "run" | "plan" | "update")));
    let chosen = env.iter().any(|(k, _)| {
        k.contains("_WATCHER_")
            || k.starts_with("WATCHTOWER_")
            || k.starts_with("DIUN_")
            || *k == "DOCKER_HOST"
    });
    if !checks || chosen || args.contains(&"--config") {
        return None;
    }
    super::own_scope()
}

/// A folder no other run uses, under cargo's scratch space for integration tests; not created.
/// The process ID alone is not enough: nextest runs each test in a process of its own, and a
/// suite of hundreds (with their engines and registries) sees PIDs come round again, so an
/// earlier test's store could be found there.
pub fn fresh_store_dir() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("store-{}-{nanos:x}-{n}", std::process::id()));
        if !dir.exists() {
            return dir;
        }
    }
}
