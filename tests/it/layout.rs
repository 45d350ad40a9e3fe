//! The invariants of ARCHITECTURE.md, read from the source tree so that they cannot drift: the
//! stages of `src/` import only from the stages before them (so no circle between stages, a
//! trigger never imports another, watchers never call triggers), `main.rs` reaches the work only
//! through `app`, only `docker/` names bollard, only `config/` reads the environment, and
//! `model/` holds no wire types.
//!
//! Test code (`tests.rs`, `tests/` folders, and everything after a file's `#[cfg(test)]`) is
//! left out: a test may build what it checks from any stage. Comments are left out too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The stages of `src/`, in the order of the data flow: each may import from those before it.
const STAGES: &[&str] = &[
    "model",     // plain data
    "tags",      // the tag policy, pure
    "config",    // every setting; the only reader of the environment
    "telemetry", // logging, set up from config
    "memory",    // allocator housekeeping
    "registry",  // the OCI distribution client
    "docker",    // the engine (the only user of bollard)
    "bus",       // the events
    "watch",     // watchers: list, check, publish
    "trigger",   // what every trigger shares
    "update",    // the docker trigger and the update executor
    "compose",   // the compose trigger and the file rewrite
    "store",     // state, audit log, journal
    "notify",    // notifiers
    "server",    // the HTTP server: WUD's and Watchtower's APIs, metrics, webhooks, the page
    "app",       // one file per command, wiring
];

/// The code of every library file under `src/`, without comments and test code, keyed by its
/// path relative to `src/`.
fn sources() -> BTreeMap<PathBuf, String> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<PathBuf, String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("src/ is readable")
            .map(|e| e.expect("directory entry").path())
            .collect();
        entries.sort();
        for path in entries {
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if path.is_dir() {
                if name != "tests" {
                    walk(&path, root, out);
                }
            } else if name.ends_with(".rs") && name != "tests.rs" {
                let text = std::fs::read_to_string(&path).expect("source is readable");
                let code: Vec<&str> = text
                    .lines()
                    .take_while(|l| l.trim() != "#[cfg(test)]")
                    .filter(|l| !l.trim_start().starts_with("//"))
                    .collect();
                out.insert(
                    path.strip_prefix(root).unwrap().to_path_buf(),
                    code.join("\n"),
                );
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    walk(&root, &root, &mut out);
    assert!(out.len() > 50, "src/ was found: {} files", out.len());
    out
}

/// The stage a file belongs to: its first path component, without `.rs`.
fn stage_of(file: &Path) -> String {
    let first = file
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// Every top-level module a piece of code names through `crate::` (`crate::a::…` and the
/// grouped `crate::{a, b::…}`).
fn crate_references(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        // `tidewatch_crate::` or `my_crate::` are not ours.
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut item = String::new();
            let mut items = Vec::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => items.push(std::mem::take(&mut item)),
                    _ if depth == 1 => item.push(c),
                    _ => {}
                }
            }
            items.push(item);
            for item in items {
                let head: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !head.is_empty() && head != "self" {
                    found.push(head);
                }
            }
        } else {
            let head: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            found.push(head);
        }
    }
    found
}

#[test]
fn each_stage_imports_only_from_the_stages_before_it() {
    let sources = sources();
    let rank = |stage: &str| STAGES.iter().position(|s| *s == stage);
    let mut wrong = Vec::new();
    for (file, code) in &sources {
        let stage = stage_of(file);
        if stage == "lib" || stage == "main" {
            continue;
        }
        let Some(own) = rank(&stage) else {
            wrong.push(format!(
                "{}: stage `{stage}` is not in STAGES; place it in the flow",
                file.display()
            ));
            continue;
        };
        for name in crate_references(code) {
            match rank(&name) {
                Some(other) if other > own => wrong.push(format!(
                    "{}: `{stage}` imports `{name}`, a later stage",
                    file.display()
                )),
                Some(_) => {}
                None => wrong.push(format!(
                    "{}: `crate::{name}` is no stage in STAGES",
                    file.display()
                )),
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_library_declares_exactly_the_stages() {
    let lib = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs"))
        .expect("src/lib.rs");
    let declared: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';'))
        .collect();
    let mut all: Vec<&str> = STAGES.to_vec();
    all.sort();
    let mut have = declared.clone();
    have.sort();
    assert_eq!(have, all, "lib.rs declares exactly the stages of STAGES");
}

#[test]
fn the_command_line_reaches_the_work_only_through_app() {
    let sources = sources();
    let main = &sources[Path::new("main.rs")];
    let mut named: Vec<String> = main
        .match_indices("tidewatch::")
        .map(|(at, _)| {
            let rest = &main[at + "tidewatch::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                group[..group.find('}').unwrap_or(group.len())].to_string()
            } else {
                rest.chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect()
            }
        })
        .flat_map(|names| {
            names
                .split(',')
                .map(|n| n.trim().split("::").next().unwrap_or("").to_string())
                .collect::<Vec<_>>()
        })
        .filter(|n| !n.is_empty())
        .collect();
    named.sort();
    named.dedup();
    for name in &named {
        assert!(
            ["app", "config", "telemetry"].contains(&name.as_str()),
            "main.rs uses tidewatch::{name}; only app (and config, telemetry to start) may be named"
        );
    }
}

/// Lines of library code outside `allowed` (a path prefix under `src/`) that contain `needle`.
fn outside(allowed: &str, needles: &[&str]) -> Vec<String> {
    sources()
        .iter()
        .filter(|(file, _)| !file.starts_with(allowed))
        .flat_map(|(file, code)| {
            code.lines()
                .filter(|l| needles.iter().any(|n| l.contains(n)))
                .map(|l| format!("{}: {}", file.display(), l.trim()))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn only_docker_imports_bollard() {
    let found = outside("docker", &["bollard::", "use bollard"]);
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn only_config_reads_the_environment() {
    let found = outside(
        "config",
        &["env::var", "env::vars", "env::set_var", "env::remove_var"],
    );
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn model_holds_no_wire_types() {
    let found: Vec<String> = sources()
        .iter()
        .filter(|(file, _)| file.starts_with("model"))
        .flat_map(|(file, code)| {
            code.lines()
                .filter(|l| {
                    ["bollard::", "reqwest::", "oci_spec::"]
                        .iter()
                        .any(|n| l.contains(n))
                })
                .map(|l| format!("{}: {}", file.display(), l.trim()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn the_reference_parser_sees_grouped_and_plain_imports() {
    let code =
        "use crate::{bus::Bus, config::{A, B}, self};\nlet x = crate::watch::f();\nmy_crate::x";
    assert_eq!(crate_references(code), ["bus", "config", "watch"]);
}
