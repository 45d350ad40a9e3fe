//! The only file that knows how environment variable names map to configuration keys.
//!
//! The grammar is WUD's: after the prefix every `_` nests one level, so
//! `TIDEWATCH_TRIGGER_SMTP_OPS_TLS_VERIFY` is the key `trigger.smtp.ops.tls.verify`. Field names
//! are therefore single lowercase words. A name ending in `__FILE` (two underscores) reads its
//! value from that file, as WUD and Docker secrets do. figment's own `Env::split("_")` cannot
//! express the `__FILE` suffix or report a bad name, hence this small mapper.

use super::error::ConfigError;
use figment::value::{Dict, Map, Value};
use figment::{Metadata, Profile, Provider};
use std::collections::BTreeMap;
use std::path::PathBuf;

pub const PREFIX: &str = "TIDEWATCH_";
/// WUD's prefix, read with the same grammar so a WUD setup works unchanged; where both name
/// the same key, `TIDEWATCH_` wins.
pub const WUD_PREFIX: &str = "WUD_";
/// The sections of WUD's variables that mean the same here; WUD's others (its web server, its
/// authentication, …) are reported as ignored rather than refused, so a WUD setup still starts.
const WUD_SECTIONS: &[&str] = &["watcher", "registry", "trigger", "log", "store"];
const FILE_SUFFIX: &str = "__FILE";

/// Variables under the prefix that select how to load, rather than being configuration keys.
pub const RESERVED: &[&str] = &["TIDEWATCH_CONFIG", SUCCEEDS, HALT_AT];

/// Set by tidewatch on the successor it starts when it updates its own container: the ID of
/// the container it replaces, which the successor stops and removes.
pub const SUCCEEDS: &str = "TIDEWATCH_SUCCEEDS";

/// For crash tests only, and undocumented for users: an update step (`gating`,
/// `before-starting`, …) at which the docker trigger halts and waits to be killed.
pub const HALT_AT: &str = "TIDEWATCH_TEST_HALTAT";

/// One configuration variable, resolved to its key path and value.
#[derive(Debug, Clone)]
pub struct EnvVar {
    /// The variable as the user wrote it; this is what errors and `tidewatch config` name.
    pub name: String,
    pub path: Vec<String>,
    value: String,
    /// Set when the value was read from a file through `NAME__FILE`.
    pub file: Option<PathBuf>,
}

impl EnvVar {
    /// How to point the user at this variable.
    pub fn origin(&self) -> String {
        match &self.file {
            Some(file) => format!("{} (file {})", self.name, file.display()),
            None => self.name.clone(),
        }
    }
}

/// Minimum number of segments (section word included) before the key, per section: a watcher
/// is `WATCHER_<NAME>_<KEY>`, a registry `REGISTRY_<KIND>_<NAME>_<KEY>`.
fn structural_segments(section: &str) -> Option<(usize, &'static str)> {
    match section {
        "watcher" => Some((2, "TIDEWATCH_WATCHER_<NAME>_<KEY>")),
        "registry" => Some((3, "TIDEWATCH_REGISTRY_<KIND>_<NAME>_<KEY>")),
        "trigger" => Some((3, "TIDEWATCH_TRIGGER_<KIND>_<NAME>_<KEY>")),
        _ => None,
    }
}

/// Picks the configuration variables out of an environment and maps each to its key path.
/// Problems with a variable's *name* or its `__FILE` are pushed to `errors` and the variable is
/// dropped; problems with its *value* are found later, against the typed structs.
pub fn collect(
    vars: impl IntoIterator<Item = (String, String)>,
    errors: &mut Vec<ConfigError>,
    warnings: &mut Vec<String>,
) -> Vec<EnvVar> {
    let vars: Vec<(String, String)> = vars.into_iter().collect();
    let mut by_key: BTreeMap<Vec<String>, EnvVar> = BTreeMap::new();
    let native = vars.iter().filter(|(n, _)| n.starts_with(PREFIX));
    let wud = vars.iter().filter(|(n, _)| n.starts_with(WUD_PREFIX));
    for (name, raw) in native.chain(wud).cloned() {
        let is_wud = name.starts_with(WUD_PREFIX);
        let Some(rest) = name
            .strip_prefix(PREFIX)
            .or_else(|| name.strip_prefix(WUD_PREFIX))
        else {
            continue;
        };
        if RESERVED.contains(&name.as_str()) {
            continue;
        }
        let (key, from_file) = match rest.strip_suffix(FILE_SUFFIX) {
            Some(key) => (key, true),
            None => (rest, false),
        };
        let path = match key_path(key) {
            Ok(path) => path,
            Err(message) => {
                errors.push(ConfigError::new(&name, message));
                continue;
            }
        };
        if is_wud {
            if !WUD_SECTIONS.contains(&path[0].as_str()) {
                warnings.push(format!(
                    "{name}: ignored, WUD's setting has no equivalent here"
                ));
                continue;
            }
            // Set natively too: the native variable wins, quietly.
            if by_key
                .get(&path)
                .is_some_and(|v| v.name.starts_with(PREFIX))
            {
                continue;
            }
        }
        let (value, file) = if from_file {
            let file = PathBuf::from(&raw);
            match super::file::read_to_string(&file, super::file::SECRET_LIMIT) {
                // Secret files usually end with a newline that is not part of the secret.
                Ok(content) => (
                    content.trim_end_matches(['\r', '\n']).to_string(),
                    Some(file),
                ),
                Err(err) => {
                    let message = err.to_string();
                    errors.push(ConfigError::new(&name, message));
                    continue;
                }
            }
        } else {
            (raw, None)
        };
        let var = EnvVar {
            name,
            path,
            value,
            file,
        };
        if let Some(other) = by_key.get(&var.path) {
            let (plain, file) = if other.file.is_some() {
                (&var.name, &other.name)
            } else {
                (&other.name, &var.name)
            };
            errors.push(ConfigError::new(
                plain.clone(),
                format!("set either {plain} or {file}, not both"),
            ));
            continue;
        }
        by_key.insert(var.path.clone(), var);
    }
    by_key.into_values().collect()
}

/// `WATCHER_LOCAL_TLS_VERIFY` → `["watcher", "local", "tls", "verify"]`.
fn key_path(key: &str) -> Result<Vec<String>, String> {
    let path: Vec<String> = key.split('_').map(str::to_ascii_lowercase).collect();
    if path.iter().any(String::is_empty) {
        return Err("empty name segment (a doubled, leading or trailing `_`)".into());
    }
    if let Some(bad) = path.iter().find(|s| {
        !s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    }) {
        return Err(format!(
            "`{bad}` is not a valid name: use letters and digits only"
        ));
    }
    if let Some((names, shape)) = structural_segments(&path[0]) {
        if path.len() < names + 1 {
            return Err(format!("too short: the form is {shape}"));
        }
    }
    Ok(path)
}

/// Each variable is its own figment provider so that figment's per-key metadata names the exact
/// variable a value came from; `tidewatch config` and every error rely on that.
impl Provider for EnvVar {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.origin())
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut value = Value::from(self.value.clone());
        for segment in self.path.iter().skip(1).rev() {
            let mut dict = Dict::new();
            dict.insert(segment.clone(), value);
            value = Value::from(dict);
        }
        let mut root = Dict::new();
        root.insert(self.path[0].clone(), value);
        Ok(Map::from([(Profile::Default, root)]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn check(vars: &[(&str, &str)], expected_paths: &[&str], expected_errors: &[&str]) {
        let mut errors = Vec::new();
        let vars = vars.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        let got: Vec<String> = collect(vars, &mut errors, &mut Vec::new())
            .iter()
            .map(|v| format!("{}={}", v.path.join("."), v.value))
            .collect();
        assert_eq!(got, expected_paths);
        let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(errors, expected_errors);
    }

    #[test]
    fn every_underscore_nests_one_level() {
        check(
            &[
                ("TIDEWATCH_WATCHER_LOCAL_CRON", "0 * * * *"),
                ("TIDEWATCH_TRIGGER_SMTP_OPS_TLS_VERIFY", "false"),
                ("TIDEWATCH_LOG_LEVEL", "debug"),
                ("TIDEWATCH_CONFIG", "/etc/tidewatch.toml"),
                ("PATH", "/usr/bin"),
                ("WUD_WATCHER_LOCAL_CRON", "ignored here"),
            ],
            &[
                "log.level=debug",
                "trigger.smtp.ops.tls.verify=false",
                "watcher.local.cron=0 * * * *",
            ],
            &[],
        );
    }

    #[test]
    fn bad_names_are_reported_with_the_variable() {
        check(
            &[
                ("TIDEWATCH_WATCHER__CRON", "x"),
                ("TIDEWATCH_TRIGGER_SMTP_HOST", "x"),
                ("TIDEWATCH_WATCHER_LOCAL", "x"),
                ("TIDEWATCH_WATCHER_LO-CAL_CRON", "x"),
            ],
            &[],
            &[
                "TIDEWATCH_WATCHER__CRON: empty name segment (a doubled, leading or trailing `_`)",
                "TIDEWATCH_TRIGGER_SMTP_HOST: too short: the form is TIDEWATCH_TRIGGER_<KIND>_<NAME>_<KEY>",
                "TIDEWATCH_WATCHER_LOCAL: too short: the form is TIDEWATCH_WATCHER_<NAME>_<KEY>",
                "TIDEWATCH_WATCHER_LO-CAL_CRON: `lo-cal` is not a valid name: use letters and digits only",
            ],
        );
    }

    #[test]
    fn file_suffix_reads_the_file_and_never_its_content_into_errors() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "s3cr3t").unwrap();
        let path = file.path().to_str().unwrap().to_string();
        let mut errors = Vec::new();
        let vars = collect(
            [(
                "TIDEWATCH_REGISTRY_HUB_PRIVATE_PASSWORD__FILE".to_string(),
                path.clone(),
            )],
            &mut errors,
            &mut Vec::new(),
        );
        assert!(errors.is_empty());
        assert_eq!(vars[0].path, ["registry", "hub", "private", "password"]);
        assert_eq!(vars[0].value, "s3cr3t", "trailing newline is trimmed");
        assert_eq!(
            vars[0].origin(),
            format!("TIDEWATCH_REGISTRY_HUB_PRIVATE_PASSWORD__FILE (file {path})")
        );

        check(
            &[("TIDEWATCH_LOG_LEVEL__FILE", "/nonexistent/level")],
            &[],
            &[
                "TIDEWATCH_LOG_LEVEL__FILE: cannot read file /nonexistent/level: No such file or directory (os error 2)",
            ],
        );
    }

    #[test]
    fn plain_and_file_forms_of_one_key_conflict() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let path = file.path().to_str().unwrap();
        check(
            &[
                ("TIDEWATCH_LOG_LEVEL", "debug"),
                ("TIDEWATCH_LOG_LEVEL__FILE", path),
            ],
            &["log.level=debug"],
            &[
                "TIDEWATCH_LOG_LEVEL: set either TIDEWATCH_LOG_LEVEL or TIDEWATCH_LOG_LEVEL__FILE, not both",
            ],
        );
    }
}
