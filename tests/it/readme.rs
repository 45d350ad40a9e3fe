//! The README's copy-paste examples work: every shell block of `TIDEWATCH_*` settings is loaded
//! by `tidewatch config` as a user would paste it, and each of its variables is taken.

use crate::support::tidewatch;
use std::io::Write;

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
                let path = dir.path().join(format!("secret-{n}-{i}"));
                let mut file = std::fs::File::create(&path).expect("secret file");
                // Shaped as the key wants it: a URL (webhook URLs are secrets too), a bot token.
                let secret = format!("made-up-secret-{n}-{i}");
                let value = if name.ends_with("_URL__FILE") {
                    format!("https://hooks.example.com/{secret}")
                } else if name.ends_with("_BOTTOKEN__FILE") {
                    format!("123456:{secret}")
                } else {
                    secret
                };
                writeln!(file, "{value}").expect("write secret");
                env.push((name.clone(), path.to_string_lossy().into_owned()));
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
