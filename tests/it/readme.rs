//! The documented examples work: every shell block of `TIDEWATCH_*` settings in the README, and
//! the example files in `config/`, are loaded by `tidewatch config` as a user would use them, and
//! each of their settings is taken.

use crate::support::tidewatch;

const README: &str = include_str!("../../README.md");

/// The README's ```sh blocks made only of `NAME=value` lines (comments allowed): the ones a user
/// pastes as they are. Blocks with quoting or commands are prose examples, not settings.
fn settings_blocks() -> Vec<Vec<(String, String)>> {
    let mut blocks = Vec::new();
    let mut lines = README.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "```sh" {
            continue;
        }
        let mut block = Vec::new();
        let mut only_settings = true;
        for line in lines.by_ref() {
            let line = line.trim();
            if line == "```" {
                break;
            }
            // A comment after a value is separated by spaces, as a shell reads it.
            let line = line.split(" #").next().unwrap_or("").trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match line.split_once('=') {
                Some((name, value))
                    if name.starts_with("TIDEWATCH_") && !value.contains(['\'', '"', '$', ' ']) =>
                {
                    block.push((name.to_string(), value.to_string()));
                }
                _ => only_settings = false,
            }
        }
        if only_settings && !block.is_empty() {
            blocks.push(block);
        }
    }
    blocks
}

#[test]
fn every_settings_block_of_the_readme_is_a_valid_configuration() {
    let blocks = settings_blocks();
    // smtp, slack, teams, http, discord, telegram, ntfy, gotify and the docker trigger at least.
    assert!(
        blocks.len() >= 9,
        "found only {} settings blocks",
        blocks.len()
    );
    let dir = tempfile::tempdir().expect("temp dir");
    for (n, block) in blocks.iter().enumerate() {
        // A `__FILE` variable points at a Docker secret: give it a file with a made-up value.
        let mut env: Vec<(String, String)> = Vec::new();
        for (i, (name, value)) in block.iter().enumerate() {
            if name.ends_with("__FILE") {
                let value = secret_file(dir.path(), name, n * 100 + i);
                env.push((name.clone(), value));
            } else {
                env.push((name.clone(), value.clone()));
            }
        }
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let out = tidewatch(&["config"], &pairs);
        assert_eq!(
            out.status.code(),
            Some(0),
            "README block {block:?} is refused:\n{out}"
        );
        for (name, _) in block {
            assert!(
                out.stdout.contains(name.as_str()),
                "{name} is not in the effective configuration:\n{out}"
            );
        }
        assert!(
            !out.stdout.contains("made-up-secret") && !out.stderr.contains("made-up-secret"),
            "a secret shows:\n{out}"
        );
    }
}

/// `value` for a `__FILE` variable: a file in `dir` holding a made-up secret shaped as `name`
/// wants it.
fn secret_file(dir: &std::path::Path, name: &str, n: usize) -> String {
    let path = dir.join(format!("secret-{n}"));
    let secret = format!("made-up-secret-{n}");
    let value = if name.ends_with("_URL__FILE") {
        format!("https://hooks.example.com/{secret}")
    } else if name.ends_with("_BOTTOKEN__FILE") {
        format!("123456:{secret}")
    } else {
        secret
    };
    std::fs::write(&path, format!("{value}\n")).expect("secret file");
    path.to_string_lossy().into_owned()
}

#[test]
fn the_shipped_example_configuration_loads_from_the_file_and_the_env_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let env_file = std::fs::read_to_string(examples.join("tidewatch.env")).expect("tidewatch.env");
    let mut env: Vec<(String, String)> = Vec::new();
    for (n, line) in env_file.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, value) = line.split_once('=').expect("NAME=value lines");
        let value = if name.ends_with("__FILE") {
            secret_file(dir.path(), name, n)
        } else {
            value.to_string()
        };
        env.push((name.to_string(), value));
    }
    assert!(env.len() >= 10, "the env file lost its examples");
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let out = tidewatch(&["config"], &pairs);
    assert_eq!(
        out.status.code(),
        Some(0),
        "tidewatch.env is refused:\n{out}"
    );
    for (name, _) in &env {
        assert!(
            out.stdout.contains(name.as_str()),
            "{name} not taken:\n{out}"
        );
    }

    let toml = examples.join("tidewatch.toml");
    let out = tidewatch(
        &["--config", toml.to_str().expect("utf-8 path"), "config"],
        &[],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "tidewatch.toml is refused:\n{out}"
    );
    for key in [
        "watcher.edge.cafile",
        "trigger.smtp.ops.to",
        "trigger.docker.local.prune",
    ] {
        assert!(out.stdout.contains(key), "{key} not taken:\n{out}");
    }
    assert!(!out.stdout.contains("made-up-secret") && !out.stderr.contains("made-up-secret"));
}
