//! The `docker` CLI, which is how tests set the scene. It is independent of the code under test
//! (which talks to the engine through bollard), so a bug there cannot hide itself here.

use super::process::{self, Output};
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// Imports and pushes on a busy two-core machine with a dozen tests in parallel can take a while;
/// anything beyond this is a wedged engine.
pub const DOCKER_TIMEOUT: Duration = Duration::from_secs(180);

/// Runs `docker ARGS` with its client configuration in `config_dir`, so logins of one test
/// never leak into another or into the user's `~/.docker`.
pub fn docker(config_dir: &Path, args: &[&str], input: Option<&[u8]>) -> Output {
    let mut cmd = Command::new("docker");
    cmd.args(args).env("DOCKER_CONFIG", config_dir);
    process::run(&mut cmd, input, DOCKER_TIMEOUT).unwrap_or_else(|why| panic!("{why}"))
}

/// Panics with one clear message unless the engine answers. Asked once per process: every test
/// would give the same answer.
#[track_caller]
pub fn require_engine() {
    static ANSWER: OnceLock<Result<(), String>> = OnceLock::new();
    let answer = ANSWER.get_or_init(|| {
        let mut cmd = Command::new("docker");
        cmd.args(["info", "--format", "{{.ServerVersion}}"]);
        match process::run(&mut cmd, None, Duration::from_secs(30)) {
            Ok(out) if out.success() && !out.stdout.trim().is_empty() => Ok(()),
            Ok(out) => Err(first_line(&out.stderr)
                .unwrap_or("`docker info` failed without saying why")
                .to_string()),
            Err(why) => Err(why),
        }
    });
    if let Err(why) = answer {
        let why = why.trim_end_matches(['.', '?', '!']);
        panic!("Docker engine not reachable: {why}. Start dockerd (see TESTING.md / .ci/run)");
    }
}

fn first_line(text: &str) -> Option<&str> {
    text.lines().map(str::trim).find(|l| !l.is_empty())
}
