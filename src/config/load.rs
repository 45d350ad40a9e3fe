//! Assembling the sources, extracting the typed [`Config`] while collecting *every* error, and
//! answering "where did this value come from?".

use super::compat::watchtower::{CommandLine, WatchtowerEnv};
use super::compat::{Setting, diun_file, shoutrrr, wud};
use super::env;
use super::error::{ConfigError, ConfigErrors, did_you_mean};
use super::{Config, DEFAULT_WATCHER, Secret, WatcherConfig};
use figment::error::{Actual, Kind};
use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Value};
use figment::{Figment, Profile, Provider, Source};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Bound on the extract-and-retry loop; far more errors than anyone reads at once.
const MAX_ERRORS: usize = 50;

/// A loaded configuration and the provenance of its values.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    /// Where Docker's `config.json` lives (`DOCKER_CONFIG`, else `~/.docker`).
    pub docker_config_dir: Option<PathBuf>,
    /// `REPO_USER` and `REPO_PASS`, when both are set.
    pub repo_credentials: Option<(String, Secret)>,
    figment: Figment,
    /// Values that came from outside figment's sources (`DOCKER_HOST`, Watchtower's settings),
    /// by key path.
    extra: BTreeMap<String, Origin>,
    /// Variables read but ignored (WUD settings with no equivalent), to log once logging runs.
    pub warnings: Vec<String>,
    /// The container this instance replaces after a self-update (`TIDEWATCH_SUCCEEDS`).
    pub succeeds: Option<String>,
    /// For crash tests: the update step to halt at (`TIDEWATCH_TEST_HALTAT`).
    pub halt_at: Option<String>,
    /// Watchtower's `--run-once` / `WATCHTOWER_RUN_ONCE`: without a command, `run --once`.
    pub run_once: bool,
    /// Watchtower's `--health-check`: without a command, `health`.
    pub health_check: bool,
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Default,
    File {
        path: PathBuf,
        key: String,
    },
    Env(String),
    /// A flag (`--interval`) or the positional container names.
    CommandLine(String),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File { path, key } => write!(f, "{}: key {key}", path.display()),
            Origin::Env(name) => f.write_str(name),
            Origin::CommandLine(what) => write!(f, "command line ({what})"),
        }
    }
}

/// Loads from the real process environment and Watchtower's flags of the command line; `file`
/// is the `--config` argument, which wins over `TIDEWATCH_CONFIG`.
pub fn load_from_process(file: Option<PathBuf>, cli: &CommandLine) -> Result<Loaded, ConfigErrors> {
    let mut vars: Vec<(String, String)> = Vec::new();
    // A value that is not UTF-8 in a variable meant for tidewatch is a mistake to report, not
    // a variable to drop: dropped, its default would apply without a word.
    let mut not_utf8 = Vec::new();
    for (key, value) in std::env::vars_os() {
        let Ok(key) = key.into_string() else { continue };
        match value.into_string() {
            Ok(value) => vars.push((key, value)),
            Err(_) if is_own(&key) => {
                not_utf8.push(ConfigError::new(key, "the value is not UTF-8 text"));
            }
            Err(_) => {}
        }
    }
    if !not_utf8.is_empty() {
        if let Err(ConfigErrors(errors)) = load_vars(file, vars, cli) {
            not_utf8.extend(errors);
        }
        return Err(ConfigErrors(not_utf8));
    }
    load_vars(file, vars, cli)
}

/// Whether tidewatch reads variable `key` as its configuration.
fn is_own(key: &str) -> bool {
    ["TIDEWATCH_", "WUD_", "WATCHTOWER_", "DIUN_"]
        .iter()
        .any(|prefix| key.starts_with(prefix))
        || [
            "DOCKER_HOST",
            "DOCKER_CERT_PATH",
            "DOCKER_TLS_VERIFY",
            "DOCKER_CONFIG",
        ]
        .contains(&key)
}

fn load_vars(
    file: Option<PathBuf>,
    vars: Vec<(String, String)>,
    cli: &CommandLine,
) -> Result<Loaded, ConfigErrors> {
    let var = |name: &str| {
        vars.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| PathBuf::from(v))
    };
    // Diun's `CONFIG` names its file; read only when it is one (a YAML file), as another
    // program's `CONFIG` may be set in the same environment.
    let file = file
        .or_else(|| var("TIDEWATCH_CONFIG"))
        .or_else(|| var("CONFIG").filter(|p| diun_file::is_yaml(p)));
    // None named: Diun's file where Diun would find it, said in the log.
    let found = file
        .is_none()
        .then(|| diun_file::default_path(&vars))
        .flatten();
    let mut loaded = load_with(file.or(found.clone()).as_deref(), vars, cli)?;
    if let Some(found) = found {
        loaded.warnings.push(format!(
            "{}: read as Diun's configuration file, found where Diun looks for it (--config names another)",
            found.display()
        ));
    }
    Ok(loaded)
}

/// Loads from an explicit file and environment, so tests need not touch the process's.
pub fn load(file: Option<&Path>, vars: Vec<(String, String)>) -> Result<Loaded, ConfigErrors> {
    load_with(file, vars, &CommandLine::default())
}

/// As [`load`], with Watchtower's flags from a command line.
pub fn load_with(
    file: Option<&Path>,
    vars: Vec<(String, String)>,
    cli: &CommandLine,
) -> Result<Loaded, ConfigErrors> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    // WUD's Apprise, IFTTT and Rocket.Chat triggers: http triggers, their options handed on.
    let mut vars = vars;
    let (wud_settings, wud_renamed) = wud::take_http_kinds(&mut vars, &mut errors);
    let watchtower_env = WatchtowerEnv::from_sources(&vars, cli, &mut errors, &mut warnings);
    // A YAML file is Diun's (tidewatch's own is TOML): read as its `DIUN_*` variables.
    let diun_yaml = file.filter(|f| diun_file::is_yaml(f));
    let file = file.filter(|f| !diun_file::is_yaml(f));
    let diun_settings = diun_file::map(diun_yaml, &vars, &mut errors, &mut warnings);
    let mut docker_env = DockerEnv::from_vars(&vars);
    if let Some((origin, host)) = &watchtower_env.docker_host {
        docker_env.host = Some(host.clone());
        docker_env.host_origin = origin.clone();
    }
    if let Some((_, tls)) = watchtower_env.docker_tls {
        docker_env.tls |= tls;
    }
    let mut env_vars = env::collect(vars, &mut errors, &mut warnings);
    wud_renamed.restore(&mut env_vars);
    for error in &mut errors {
        if let Some(original) = wud_renamed.original(&error.origin) {
            error.origin = original.to_string();
        }
    }
    let urls = watchtower_env.notification_urls(&mut errors);
    let mut compat = shoutrrr::map(&urls, &mut errors, &mut warnings);
    let mut compat_after: Vec<(String, Vec<String>)> = Vec::new();
    compat.extend(watchtower_env.legacy_notifications(&mut errors, &mut warnings));
    // Watchtower's title and body on every trigger made from its settings, unless a URL set
    // its own; its report comes after the updates, and, split by container, a message each.
    let title = watchtower_env.title(&mut errors);
    let (body_origin, body) = watchtower_env.body(&mut errors);
    let split = watchtower_env.split(&mut errors);
    let mut titled: Vec<Vec<String>> = Vec::new();
    let mut titles = Vec::new();
    for setting in &compat {
        let trigger = setting.path[..3].to_vec();
        if setting.path.len() > 3 && !titled.contains(&trigger) {
            let path = |key: &str| -> Vec<String> {
                let mut path = trigger.clone();
                path.push(key.to_string());
                path
            };
            let mut set = |origin: &str, key: &str, value: &str| {
                let path = path(key);
                let path: Vec<&str> = path.iter().map(String::as_str).collect();
                titles.push(Setting::new(origin.to_string(), &path, value.to_string()));
            };
            let body_origin = body_origin.as_deref().unwrap_or(&setting.origin);
            set(&setting.origin, "batchtitle", &title);
            set(body_origin, "batchbody", &body);
            set(&setting.origin, "when", "updated");
            if let Some(split) = &split {
                set(split, "simpletitle", &title);
                set(body_origin, "simplebody", &body);
                // After the URL's own `mode=batch`.
                compat_after.push((split.clone(), path("mode")));
            }
            titled.push(trigger);
        }
    }
    for (origin, path) in compat_after {
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        compat.push(Setting::new(origin, &path, "simple"));
    }
    titles.extend(compat);
    let mut compat = titles;
    compat.extend(diun_settings);
    compat.extend(wud_settings);
    compat.extend(wud_http_formats(&env_vars));

    // Mapped settings first: the file and tidewatch's variables override them.
    let mut figment = Figment::new();
    for setting in compat {
        figment = figment.merge(setting);
    }
    if let Some(file) = file {
        // Bounded, and only a regular file (see `config::file`); figment reads it after.
        match super::file::read(file, super::file::FILE_LIMIT) {
            Err(err) if !err.is_not_found() => {
                errors.push(ConfigError::new(
                    "TIDEWATCH_CONFIG (--config)",
                    err.to_string(),
                ));
            }
            _ => figment = figment.merge(Toml::file_exact(file)),
        }
    }
    for var in env_vars {
        figment = figment.merge(var);
    }

    let Some(config) = extract(&figment, file, &mut errors) else {
        return Err(ConfigErrors(errors));
    };
    if docker_env.repo_user.is_some() != docker_env.repo_pass.is_some() {
        errors.push(ConfigError::new(
            "REPO_USER",
            "REPO_USER and REPO_PASS go together",
        ));
    }
    let repo_credentials = docker_env
        .repo_user
        .clone()
        .zip(docker_env.repo_pass.clone());
    let mut loaded = Loaded {
        config,
        docker_config_dir: docker_env.config_dir.clone(),
        repo_credentials,
        figment,
        extra: BTreeMap::new(),
        warnings,
        succeeds: docker_env.succeeds.clone(),
        halt_at: docker_env.halt_at.clone(),
        run_once: watchtower_env.run_once,
        health_check: watchtower_env.health_check,
    };
    // Keys that failed to extract hold their defaults now, so these checks of what remains
    // report nothing twice and no false problem.
    loaded.apply_docker_env(&docker_env, &mut errors);
    loaded.apply_watchtower_env(watchtower_env, &mut errors);
    loaded.validate(&mut errors);
    if errors.is_empty() {
        Ok(loaded)
    } else {
        Err(ConfigErrors(errors))
    }
}

/// An `http` trigger set up through `WUD_TRIGGER_HTTP_<NAME>_*` sends WUD's container JSON, which
/// is what a receiver written for WUD reads; a mapped setting, so that `tidewatch config` shows
/// where it came from and an explicit `FORMAT` (WUD's or tidewatch's variable, or the file)
/// wins.
fn wud_http_formats(vars: &[env::EnvVar]) -> Vec<Setting> {
    let mut named: BTreeMap<&str, Setting> = BTreeMap::new();
    for var in vars {
        // Only WUD's own http triggers: its Apprise, IFTTT and Rocket.Chat ones are http
        // triggers too here, with their service's body (`compat::wud`).
        if !var.name.starts_with("WUD_TRIGGER_HTTP_") {
            continue;
        }
        if let [section, kind, name, ..] = var.path.as_slice() {
            if section == "trigger" && kind == "http" {
                named.entry(name).or_insert_with(|| {
                    Setting::new(
                        format!(
                            "WUD_TRIGGER_HTTP_{}_* (WUD's body)",
                            name.to_ascii_uppercase()
                        ),
                        &["trigger", "http", name, "format"],
                        "wud",
                    )
                });
            }
        }
    }
    named.into_values().collect()
}

/// Deserialising stops at the first error, so to report them all: extract, record the error,
/// remove the offending key (its default takes its place), and extract again.
fn extract(
    figment: &Figment,
    file: Option<&Path>,
    errors: &mut Vec<ConfigError>,
) -> Option<Config> {
    let mut dict = match figment.data() {
        Ok(mut data) => data.remove(&Profile::Default).unwrap_or_default(),
        // Only the file can fail here: each variable's provider always yields its value.
        Err(err) => {
            let origin = file.map_or("configuration".into(), |f| f.display().to_string());
            errors.push(ConfigError::new(origin, file_error(&err)));
            return None;
        }
    };
    for _ in 0..MAX_ERRORS {
        let attempt = Figment::from(Serialized::defaults(&dict));
        let err = match attempt.extract_lossy::<Config>() {
            Ok(config) => return Some(config),
            Err(err) => err,
        };
        let mut progressed = false;
        for err in err {
            let (path, message, removable) = describe(&err);
            errors.push(ConfigError::new(origin_for(figment, &path), message));
            progressed |= removable && remove(&mut dict, &path);
        }
        if !progressed {
            return None;
        }
    }
    None
}

/// The file is missing or does not parse. TOML's message quotes the offending line under a
/// caret; that line may hold a secret, so only the message lines are kept, on one line.
fn file_error(err: &figment::Error) -> String {
    let text = err.kind.to_string().trim().to_string();
    let is_snippet = |line: &str| {
        let line = line.trim_start();
        line.is_empty()
            || line.starts_with('|')
            || line
                .split_once(" |")
                .is_some_and(|(n, _)| n.trim().parse::<u32>().is_ok())
    };
    let message: Vec<&str> = text
        .lines()
        .filter(|l| !is_snippet(l))
        .map(str::trim)
        .collect();
    match err.kind {
        Kind::Message(_) if text.contains("os error") => format!("cannot read file: {text}"),
        _ => message.join(": "),
    }
}

/// The full key path an error is about, a message that never quotes the value (it may be a
/// secret), and whether removing that key lets extraction go on.
fn describe(err: &figment::Error) -> (Vec<String>, String, bool) {
    let mut path = err.path.clone();
    match &err.kind {
        Kind::UnknownField(field, expected) => {
            if path.last() != Some(field) {
                path.push(field.clone());
            }
            (path.clone(), unknown_key(&path, field, expected), true)
        }
        Kind::UnknownVariant(value, expected) => {
            let mut message = format!("unknown value `{value}`");
            match did_you_mean(value, expected) {
                Some(close) => message.push_str(&format!(", did you mean `{close}`?")),
                None => message.push_str(&format!(", expected one of: {}", expected.join(", "))),
            }
            (path, message, true)
        }
        Kind::InvalidType(actual, expected) | Kind::InvalidValue(actual, expected) => {
            let message = format!("expected {}, found {}", plain(expected), kind_of(actual));
            (path, message, true)
        }
        Kind::MissingField(field) => {
            path.push(field.to_string());
            (path, "required value missing".into(), false)
        }
        Kind::Message(message) => (path, message.clone(), true),
        Kind::Unsupported(actual) | Kind::UnsupportedKey(actual, _) => {
            (path, format!("unsupported {}", kind_of(actual)), true)
        }
        other => (path, other.to_string(), true),
    }
}

fn unknown_key(path: &[String], field: &str, expected: &[&str]) -> String {
    let what = match path {
        [section, _] if section == "trigger" => "unknown trigger kind",
        [section, _] if section == "registry" => "unknown registry kind",
        _ => "unknown key",
    };
    let mut message = format!("{what} `{field}`");
    if let Some(close) = did_you_mean(field, expected) {
        message.push_str(&format!(", did you mean `{close}`?"));
    } else if expected.is_empty() {
        message.push_str(" (this version has none)");
    } else {
        message.push_str(&format!(", expected one of: {}", expected.join(", ")));
    }
    message
}

/// serde names expected types as Rust does; say it as a user would.
fn plain(expected: &str) -> String {
    match expected {
        "u8" => "a whole number from 0 to 255".into(),
        "u16" => "a whole number from 0 to 65535".into(),
        "u32" | "u64" | "usize" => "a whole number, 0 or more".into(),
        "i32" | "i64" | "isize" => "a whole number".into(),
        "a boolean" | "bool" => "true or false".into(),
        other => other.into(),
    }
}

/// What sort of value was found, without the value.
fn kind_of(actual: &Actual) -> &'static str {
    match actual {
        Actual::Bool(_) => "a boolean",
        Actual::Unsigned(_) | Actual::Signed(_) => "an integer",
        Actual::Float(_) => "a number",
        Actual::Char(_) | Actual::Str(_) => "a string",
        Actual::Bytes(_) => "bytes",
        Actual::Unit | Actual::Option => "nothing",
        Actual::Seq => "a list",
        Actual::Map => "a table",
        _ => "another kind of value",
    }
}

fn remove(dict: &mut Dict, path: &[String]) -> bool {
    match path {
        [] => false,
        [last] => dict.remove(last).is_some(),
        [first, rest @ ..] => match dict.get_mut(first) {
            Some(Value::Dict(_, inner)) => remove(inner, rest),
            _ => false,
        },
    }
}

/// Where the value at `path` came from, as a user should be pointed at it. For a key no source
/// set (a missing value), the nearest ancestor tells whether to name a variable or a file key.
fn origin_for(figment: &Figment, path: &[String]) -> String {
    match find_origin(figment, path) {
        Origin::Default => format!("key {}", path.join(".")),
        Origin::Env(name) => name,
        other => other.to_string(),
    }
}

fn find_origin(figment: &Figment, path: &[String]) -> Origin {
    for len in (1..=path.len()).rev() {
        let key = path[..len].join(".");
        let Some(meta) = figment.find_metadata(&key) else {
            continue;
        };
        let full_key = path.join(".");
        return match &meta.source {
            Some(Source::File(file)) => Origin::File {
                path: file.clone(),
                key: full_key,
            },
            _ if len == path.len() => Origin::Env(meta.name.to_string()),
            _ => Origin::Env(format!(
                "{}{}",
                env::PREFIX,
                path.join("_").to_ascii_uppercase()
            )),
        };
    }
    Origin::Default
}

impl Loaded {
    /// Where the value at the dotted `key` came from.
    pub fn origin(&self, key: &str) -> Origin {
        if let Some(origin) = self.extra.get(key) {
            return origin.clone();
        }
        let path: Vec<String> = key.split('.').map(String::from).collect();
        match find_origin(&self.figment, &path) {
            // A parent set by a source does not make a defaulted child come from it.
            Origin::Env(_) if self.figment.find_metadata(key).is_none() => Origin::Default,
            Origin::File { .. } if self.figment.find_metadata(key).is_none() => Origin::Default,
            origin => origin,
        }
    }

    /// Every effective value as `(key, value, origin)`, secrets masked, in key order.
    pub fn entries(&self) -> Vec<(String, serde_json::Value, Origin)> {
        let mut leaves = Vec::new();
        match serde_json::to_value(&self.config) {
            Ok(tree) => flatten(String::new(), tree, &mut leaves),
            Err(err) => unreachable!("config always serialises: {err}"),
        }
        leaves
            .into_iter()
            .map(|(key, value)| {
                let origin = self.origin(&key);
                (key, value, origin)
            })
            .collect()
    }

    /// Watchtower's settings, where nothing native or from WUD set the same key.
    fn apply_watchtower_env(&mut self, env: WatchtowerEnv, errors: &mut Vec<ConfigError>) {
        let unset = |this: &Self, key: &str| this.figment.find_metadata(key).is_none();
        if env.uses_api() && unset(self, "server.port") {
            self.config.server.port = super::server::WATCHTOWER_PORT;
            self.extra.insert(
                "server.port".into(),
                Origin::Env("WATCHTOWER_HTTP_API_*".into()),
            );
        }
        if let Some((name, token)) = env.api_token.clone()
            && unset(self, "server.watchtower.token")
        {
            self.config.server.watchtower.token = Some(Secret::new(token));
            self.extra.insert("server.watchtower.token".into(), name);
        }
        if let Some((name, true)) = env.api_update.clone()
            && env.api_periodic_polls != Some(true)
            && unset(self, "server.watchtower.polls")
        {
            self.config.server.watchtower.polls = false;
            self.extra.insert("server.watchtower.polls".into(), name);
        }
        let watcher_key = |k: &str| format!("watcher.{DEFAULT_WATCHER}.{k}");
        // A native `cron` or `interval` is the schedule; Watchtower's applies only without one.
        let native_schedule =
            !unset(self, &watcher_key("cron")) || !unset(self, &watcher_key("interval"));
        let jitter_unset = unset(self, &watcher_key("jitter"));
        if !native_schedule && let Some(local) = self.config.watcher.get_mut(DEFAULT_WATCHER) {
            let mut scheduled = false;
            if let Some((origin, cron)) = env.cron {
                local.cron = cron;
                self.extra.insert(watcher_key("cron"), origin);
                scheduled = true;
            }
            if let Some((origin, seconds)) = env.interval {
                local.interval = Some(seconds);
                self.extra.insert(watcher_key("interval"), origin);
                scheduled = true;
            }
            // A Watchtower schedule means exactly then: no jitter unless asked for.
            if scheduled && jitter_unset {
                local.jitter = 0;
            }
        }
        let flags = [
            (
                "watchbydefault",
                env.label_enable.map(|(o, enable)| (o, !enable)),
            ),
            ("watchall", env.include_stopped),
        ];
        for (key, value) in flags {
            let Some((origin, value)) = value else {
                continue;
            };
            if !unset(self, &watcher_key(key)) {
                continue;
            }
            if let Some(local) = self.config.watcher.get_mut(DEFAULT_WATCHER) {
                match key {
                    "watchbydefault" => local.watchbydefault = value,
                    _ => local.watchall = value,
                }
                self.extra.insert(watcher_key(key), origin);
            }
        }
        let texts = [
            ("scope", env.scope),
            ("include", env.include),
            ("exclude", env.exclude),
        ];
        for (key, value) in texts {
            let Some((origin, value)) = value else {
                continue;
            };
            if !unset(self, &watcher_key(key)) {
                continue;
            }
            if let Some(local) = self.config.watcher.get_mut(DEFAULT_WATCHER) {
                match key {
                    "scope" => local.scope = Some(value),
                    "include" => local.include = Some(value),
                    _ => local.exclude = Some(value),
                }
                self.extra.insert(watcher_key(key), origin);
            }
        }
        if let Some((origin, level)) = env.log_level
            && unset(self, "log.level")
        {
            self.config.log.level = level;
            self.extra.insert("log.level".into(), origin);
        }
        if let Some((origin, format)) = env.log_format
            && unset(self, "log.format")
        {
            self.config.log.format = match format.as_str() {
                "json" => super::LogFormat::Json,
                _ => super::LogFormat::Pretty,
            };
            self.extra.insert("log.format".into(), origin);
        }
        if !env.present {
            return;
        }
        let name = "watchtower";
        let current = self
            .config
            .trigger
            .docker
            .get(name)
            .cloned()
            .unwrap_or_default();
        let mut json = serde_json::to_value(&current).unwrap_or_default();
        for (key, origin, value) in env.trigger {
            let path = format!("trigger.docker.{name}.{key}");
            if unset(self, &path) {
                json[key] = value;
                self.extra.insert(path, origin);
            }
        }
        match serde_json::from_value(json) {
            Ok(trigger) => {
                self.config.trigger.docker.insert(name.into(), trigger);
            }
            Err(err) => errors.push(ConfigError::new("WATCHTOWER_*", err.to_string())),
        }
    }

    fn apply_docker_env(&mut self, docker: &DockerEnv, errors: &mut Vec<ConfigError>) {
        let config = &mut self.config;
        if config.watcher.is_empty() {
            config
                .watcher
                .insert(DEFAULT_WATCHER.into(), WatcherConfig::default());
        }
        let Some(host) = &docker.host else { return };
        let socket_key = format!("watcher.{DEFAULT_WATCHER}.socket");
        let host_key = format!("watcher.{DEFAULT_WATCHER}.host");
        let explicit = [&socket_key, &host_key]
            .iter()
            .any(|k| self.figment.find_metadata(k).is_some());
        let Some(local) = config.watcher.get_mut(DEFAULT_WATCHER) else {
            return;
        };
        if explicit {
            return;
        }
        if let Some(path) = host.strip_prefix("unix://") {
            local.socket = path.to_string();
            self.extra.insert(socket_key, docker.host_origin.clone());
        } else if let Some(addr) = host.strip_prefix("tcp://") {
            let addr = addr.trim_end_matches('/');
            let (h, p) = match addr.rsplit_once(':') {
                Some((h, p)) => match p.parse::<u16>() {
                    Ok(p) => (h.to_string(), p),
                    Err(_) => {
                        errors.push(ConfigError::new(
                            docker.host_origin.to_string(),
                            "port is not a number",
                        ));
                        return;
                    }
                },
                None => (addr.to_string(), if docker.tls { 2376 } else { 2375 }),
            };
            local.host = Some(h);
            local.port = p;
            self.extra.insert(host_key, docker.host_origin.clone());
            self.extra.insert(
                format!("watcher.{DEFAULT_WATCHER}.port"),
                docker.host_origin.clone(),
            );
            if docker.tls {
                let Some(dir) = &docker.cert_path else {
                    errors.push(ConfigError::new(
                        "DOCKER_TLS_VERIFY",
                        "needs DOCKER_CERT_PATH, or HOME for the docker CLI's ~/.docker",
                    ));
                    return;
                };
                local.cafile = Some(dir.join("ca.pem"));
                local.certfile = Some(dir.join("cert.pem"));
                local.keyfile = Some(dir.join("key.pem"));
                let origin = match docker.cert_path_set {
                    true => "DOCKER_CERT_PATH",
                    false => "DOCKER_TLS_VERIFY (HOME/.docker)",
                };
                for key in ["cafile", "certfile", "keyfile"] {
                    let key = format!("watcher.{DEFAULT_WATCHER}.{key}");
                    self.extra.insert(key, Origin::Env(origin.into()));
                }
            }
        } else {
            errors.push(ConfigError::new(
                docker.host_origin.to_string(),
                "expected unix:///path/to/docker.sock or tcp://host:port",
            ));
        }
    }

    fn validate(&self, errors: &mut Vec<ConfigError>) {
        let mut report = |path: Vec<String>, message: String| {
            // A key no source set (a missing url) is named as the variable or file key that
            // would set it, after the source of its section.
            let origin = match self.origin(&path.join(".")) {
                Origin::Default => origin_for(&self.figment, &path),
                origin => origin.to_string(),
            };
            errors.push(ConfigError::new(origin, message));
        };
        let config = &self.config;
        let name_ok = |n: &str| {
            !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        };
        if let Some(message) = log_level_problem(&config.log.level) {
            report(vec!["log".into(), "level".into()], message);
        }
        for (key, message) in config.server.problems(&config.auth) {
            report(key.split('.').map(str::to_string).collect(), message);
        }
        for (name, watcher) in &config.watcher {
            let path = |key: &str| {
                let mut path = vec!["watcher".to_string(), name.clone()];
                path.extend(key.split('.').map(str::to_string));
                path
            };
            if !name_ok(name) {
                report(
                    path("")[..2].to_vec(),
                    "instance names use lowercase letters and digits only".into(),
                );
            }
            for (key, message) in watcher.problems() {
                report(path(key), message);
            }
            let set = |key: &str| self.origin(&format!("watcher.{name}.{key}")) != Origin::Default;
            if watcher.interval.is_some() && set("cron") && set("interval") {
                report(
                    path("interval"),
                    "set either cron or interval, not both".into(),
                );
            }
        }
        let r = &config.registry;
        for (kind, instances) in r.basic() {
            for (name, registry) in instances {
                for (key, message) in registry.problems(kind) {
                    report(
                        vec!["registry".into(), kind.into(), name.clone(), key.into()],
                        message,
                    );
                }
            }
        }
        for (kind, instances) in [("gcr", &r.gcr), ("gar", &r.gar)] {
            for (name, gcr) in instances {
                for (key, message) in gcr.problems(kind) {
                    report(
                        vec!["registry".into(), kind.into(), name.clone(), key.into()],
                        message,
                    );
                }
            }
        }
        for (name, ecr) in &r.ecr {
            for (key, message) in ecr.problems() {
                report(
                    vec!["registry".into(), "ecr".into(), name.clone(), key.into()],
                    message,
                );
            }
        }
        for (name, login) in &r.login {
            for (key, message) in login.problems() {
                report(
                    vec!["registry".into(), "login".into(), name.clone(), key.into()],
                    message,
                );
            }
        }
    }
}

const LOG_LEVELS: [&str; 6] = ["error", "warn", "info", "debug", "trace", "off"];

/// tracing reads a bare word as a target to show at every level, so a misspelt level (`loud`,
/// `degub`) would silently hide every log line. Bare words must be levels; a target takes a
/// `=level` or a `::` path.
fn log_level_problem(level: &str) -> Option<String> {
    for directive in level.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let is_level = LOG_LEVELS.contains(&directive.to_ascii_lowercase().as_str());
        if !is_level && !directive.contains('=') && !directive.contains("::") {
            let mut message = format!("unknown log level `{directive}`");
            match did_you_mean(directive, &LOG_LEVELS) {
                Some(close) => message.push_str(&format!(", did you mean `{close}`?")),
                None => message.push_str(
                    ", expected error, warn, info, debug, trace or off, \
                     or a filter such as `info,tidewatch::registry=debug`",
                ),
            }
            return Some(message);
        }
    }
    match level.parse::<tracing_subscriber::EnvFilter>() {
        Ok(_) => None,
        Err(err) => Some(format!("not a log level or filter: {err}")),
    }
}

/// Docker's own client variables, honoured as the docker CLI does: the engine for the default
/// watcher, and the folder of `config.json` for registry credentials. Also Watchtower's
/// `REPO_USER`/`REPO_PASS`, the registry login of last resort.
#[derive(Debug)]
struct DockerEnv {
    host: Option<String>,
    /// `DOCKER_HOST`, or Watchtower's `--host` flag.
    host_origin: Origin,
    tls: bool,
    /// `DOCKER_CERT_PATH`, else `$HOME/.docker` as the docker CLI does (a literal `~` would
    /// be a folder named `~`: nothing expands it).
    cert_path: Option<PathBuf>,
    /// Whether `cert_path` came from `DOCKER_CERT_PATH` rather than `HOME`.
    cert_path_set: bool,
    config_dir: Option<PathBuf>,
    repo_user: Option<String>,
    repo_pass: Option<Secret>,
    succeeds: Option<String>,
    halt_at: Option<String>,
}

impl DockerEnv {
    fn from_vars(vars: &[(String, String)]) -> Self {
        let get = |name: &str| {
            vars.iter()
                .find(|(k, v)| k == name && !v.is_empty())
                .map(|(_, v)| v.clone())
        };
        let config_dir = get("DOCKER_CONFIG")
            .map(PathBuf::from)
            .or_else(|| get("HOME").map(|home| PathBuf::from(home).join(".docker")));
        DockerEnv {
            host: get("DOCKER_HOST"),
            host_origin: Origin::Env("DOCKER_HOST".into()),
            tls: get("DOCKER_TLS_VERIFY").is_some_and(|v| v != "0"),
            cert_path: get("DOCKER_CERT_PATH")
                .map(PathBuf::from)
                .or_else(|| get("HOME").map(|home| PathBuf::from(home).join(".docker"))),
            cert_path_set: get("DOCKER_CERT_PATH").is_some(),
            config_dir,
            repo_user: get("REPO_USER"),
            repo_pass: get("REPO_PASS").map(Secret::new),
            succeeds: get(env::SUCCEEDS),
            halt_at: get(env::HALT_AT),
        }
    }
}

fn flatten(prefix: String, value: serde_json::Value, out: &mut Vec<(String, serde_json::Value)>) {
    match value {
        serde_json::Value::Object(map) if !map.is_empty() => {
            for (key, value) in map {
                let key = if prefix.is_empty() {
                    key
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(key, value, out);
            }
        }
        // An empty section (no registries) says nothing worth a line.
        serde_json::Value::Object(_) => {}
        leaf => out.push((prefix, leaf)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Loads from `toml` (if any) and `env`, and returns either the errors or every effective
    /// `key = value  # origin` line, the same text `tidewatch config` prints.
    fn check(toml: Option<&str>, env: &[(&str, &str)]) -> Result<Vec<String>, Vec<String>> {
        let file = toml.map(|text| {
            let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
            file.write_all(text.as_bytes()).unwrap();
            file
        });
        let path = file.as_ref().map(|f| f.path().to_path_buf());
        match load(path.as_deref(), vars(env)) {
            Ok(loaded) => Ok(loaded
                .entries()
                .into_iter()
                .map(|(k, v, o)| {
                    let o = o.to_string();
                    let o = match &path {
                        Some(p) => o.replace(&p.display().to_string(), "FILE"),
                        None => o,
                    };
                    format!("{k} = {v}  # {o}")
                })
                .collect()),
            Err(errors) => Err(errors
                .0
                .iter()
                .map(|e| match &path {
                    Some(p) => e.to_string().replace(&p.display().to_string(), "FILE"),
                    None => e.to_string(),
                })
                .collect()),
        }
    }

    fn lines_with(result: &Result<Vec<String>, Vec<String>>, needle: &str) -> Vec<String> {
        let lines = result.as_ref().expect("configuration should load");
        lines
            .iter()
            .filter(|l| l.contains(needle))
            .cloned()
            .collect()
    }

    #[test]
    fn no_configuration_gives_the_local_watcher_on_the_default_socket() {
        let result = check(None, &[]);
        assert_eq!(
            lines_with(&result, "watcher.local.socket"),
            ["watcher.local.socket = \"/var/run/docker.sock\"  # default"]
        );
        assert_eq!(
            lines_with(&result, "log.level"),
            ["log.level = \"info\"  # default"]
        );
    }

    #[test]
    fn a_misspelt_key_names_the_variable_and_the_close_key() {
        assert_eq!(
            check(None, &[("TIDEWATCH_WATCHER_LOCAL_CRONN", "0 * * * *")]),
            Err(vec![
                "TIDEWATCH_WATCHER_LOCAL_CRONN: unknown key `cronn`, did you mean `cron`?".into()
            ])
        );
    }

    #[test]
    fn wud_variables_work_unchanged_and_native_ones_win() {
        let loaded = load(
            None,
            vars(&[
                ("WUD_WATCHER_LOCAL_CRON", "0 3 * * *"),
                ("WUD_LOG_LEVEL", "debug"),
                ("TIDEWATCH_LOG_LEVEL", "warn"),
                ("WUD_SERVER_PORT", "3001"),
                ("WUD_SERVER_CORS_ENABLED", "true"),
                (
                    "WUD_TRIGGER_DOCKERCOMPOSE_STACK_FILE",
                    "/srv/stack/compose.yml",
                ),
            ]),
        )
        .unwrap();
        assert_eq!(loaded.config.watcher["local"].cron, "0 3 * * *");
        assert_eq!(loaded.config.log.level, "warn");
        assert_eq!(
            loaded.config.trigger.compose["stack"].file.as_deref(),
            Some(Path::new("/srv/stack/compose.yml"))
        );
        assert_eq!(loaded.config.server.port, 3001);
        assert_eq!(
            loaded.warnings,
            ["WUD_SERVER_CORS_ENABLED: ignored, WUD's setting has no equivalent here"]
        );
        assert_eq!(
            loaded.origin("watcher.local.cron").to_string(),
            "WUD_WATCHER_LOCAL_CRON"
        );
        let errors = check(None, &[("WUD_WATCHER_LOCAL_CRONN", "0 * * * *")]).unwrap_err();
        assert_eq!(
            errors,
            ["WUD_WATCHER_LOCAL_CRONN: unknown key `cronn`, did you mean `cron`?"]
        );
    }

    #[test]
    fn server_settings_come_from_tidewatch_wud_and_watchtower_names() {
        let loaded = load(None, vec![]).unwrap();
        assert!(loaded.config.server.enabled);
        assert_eq!(loaded.config.server.port, 3000);
        // Watchtower's API: its port, its token, and no polls unless asked.
        let loaded = load(
            None,
            vars(&[
                ("WATCHTOWER_HTTP_API_UPDATE", "true"),
                ("WATCHTOWER_HTTP_API_TOKEN", "ci-token"),
            ]),
        )
        .unwrap();
        let server = &loaded.config.server;
        assert_eq!(server.port, 8080);
        assert_eq!(
            server.watchtower.token.as_ref().unwrap().expose(),
            "ci-token"
        );
        assert!(!server.watchtower.polls);
        assert_eq!(
            loaded.origin("server.watchtower.polls").to_string(),
            "WATCHTOWER_HTTP_API_UPDATE"
        );
        let loaded = load(
            None,
            vars(&[
                ("WATCHTOWER_HTTP_API_UPDATE", "true"),
                ("WATCHTOWER_HTTP_API_PERIODIC_POLLS", "true"),
                ("TIDEWATCH_SERVER_PORT", "9000"),
            ]),
        )
        .unwrap();
        assert_eq!(loaded.config.server.port, 9000);
        assert!(loaded.config.server.watchtower.polls);
        // Mistakes name their variable, never a value.
        let errors = check(
            None,
            &[
                ("TIDEWATCH_SERVER_TLS_CERTFILE", "/tls/cert.pem"),
                ("TIDEWATCH_SERVER_ADDRESS", "everywhere"),
                ("WUD_AUTH_BASIC_JOHN_USER", "john"),
                ("WUD_AUTH_BASIC_JOHN_HASH", "plain-secret"),
            ],
        )
        .unwrap_err();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("TIDEWATCH_SERVER_TLS_KEYFILE")),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("TIDEWATCH_SERVER_ADDRESS")),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("WUD_AUTH_BASIC_JOHN_HASH")),
            "{errors:?}"
        );
        assert!(
            !errors.iter().any(|e| e.contains("plain-secret")),
            "{errors:?}"
        );
    }

    #[test]
    fn watchtower_variables_set_the_local_watcher_and_a_watchtower_docker_trigger() {
        let loaded = load(
            None,
            vars(&[
                ("WATCHTOWER_SCHEDULE", "0 0 4 * * *"),
                ("WATCHTOWER_LABEL_ENABLE", "true"),
                ("WATCHTOWER_CLEANUP", "true"),
                ("WATCHTOWER_TIMEOUT", "30s"),
                ("WATCHTOWER_NO_STARTUP_MESSAGE", "true"),
                ("WATCHTOWER_ROLLING_RESTART", "true"),
                ("TIDEWATCH_TRIGGER_DOCKER_WATCHTOWER_PRUNE", "false"),
            ]),
        )
        .unwrap();
        let local = &loaded.config.watcher["local"];
        assert_eq!(local.cron, "0 0 4 * * *");
        assert_eq!(local.jitter, 0);
        assert!(!local.watchbydefault);
        let trigger = &loaded.config.trigger.docker["watchtower"];
        assert_eq!(trigger.stoptimeout, 30);
        assert!(!trigger.prune, "the native variable wins");
        assert_eq!(
            loaded
                .origin("trigger.docker.watchtower.stoptimeout")
                .to_string(),
            "WATCHTOWER_TIMEOUT"
        );
        assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
        assert!(loaded.warnings[0].starts_with("WATCHTOWER_NO_STARTUP_MESSAGE: ignored"));
        let errors = check(
            None,
            &[
                ("WATCHTOWER_CLEANUP", "sometimes"),
                ("WATCHTOWER_POLL_INTERVAL", "soon"),
                ("WATCHTOWER_POLL_INTERVALL", "300"),
            ],
        )
        .unwrap_err();
        assert_eq!(
            errors,
            [
                "WATCHTOWER_POLL_INTERVALL: not a Watchtower setting, did you mean `WATCHTOWER_POLL_INTERVAL`?",
                "WATCHTOWER_CLEANUP: expected true or false",
                "WATCHTOWER_POLL_INTERVAL: expected a number of seconds, 1 or more",
            ]
        );
    }

    #[test]
    fn watchtower_flags_are_a_source_that_wins_over_its_variables() {
        let cli = CommandLine {
            flags: [
                ("interval", "7"),
                ("cleanup", "true"),
                ("run-once", "true"),
                ("host", "tcp://docker.lan:2375"),
                ("debug", "true"),
                ("disable-containers", "db,cache"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            containers: vec!["web".into(), "api.v2".into()],
        };
        let env = vars(&[
            ("WATCHTOWER_POLL_INTERVAL", "300"),
            ("WATCHTOWER_CLEANUP", "false"),
        ]);
        let loaded = load_with(None, env, &cli).unwrap();
        let local = &loaded.config.watcher["local"];
        assert_eq!(local.interval, Some(7));
        assert_eq!(local.include.as_deref(), Some(r"web,api\.v2"));
        assert_eq!(local.exclude.as_deref(), Some("db,cache"));
        assert_eq!(local.host.as_deref(), Some("docker.lan"));
        assert!(loaded.run_once);
        assert_eq!(loaded.config.log.level, "debug");
        assert!(loaded.config.trigger.docker["watchtower"].prune);
        for (key, origin) in [
            ("watcher.local.interval", "command line (--interval)"),
            ("watcher.local.include", "command line (container names)"),
            ("watcher.local.host", "command line (--host)"),
            (
                "trigger.docker.watchtower.prune",
                "command line (--cleanup)",
            ),
            ("log.level", "command line (--debug)"),
        ] {
            assert_eq!(loaded.origin(key).to_string(), origin, "{key}");
        }
        // Both kinds of schedule natively: refused; a native cron beats Watchtower's interval.
        let errors = check(
            None,
            &[
                ("TIDEWATCH_WATCHER_LOCAL_CRON", "0 * * * *"),
                ("TIDEWATCH_WATCHER_LOCAL_INTERVAL", "30"),
            ],
        )
        .unwrap_err();
        assert_eq!(
            errors,
            ["TIDEWATCH_WATCHER_LOCAL_INTERVAL: set either cron or interval, not both"]
        );
        let loaded = load(
            None,
            vars(&[
                ("TIDEWATCH_WATCHER_LOCAL_CRON", "0 * * * *"),
                ("WATCHTOWER_POLL_INTERVAL", "30"),
            ]),
        )
        .unwrap();
        assert_eq!(loaded.config.watcher["local"].interval, None);
    }

    #[test]
    fn watchtower_notification_urls_and_legacy_notifiers_become_triggers() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "# ops\ngotify://gotify.lan/Agotifys3cret\n").unwrap();
        let path = file.path().to_str().unwrap().to_string();
        let result = check(
            None,
            &[
                (
                    "WATCHTOWER_NOTIFICATION_URL",
                    "discord://discords3cret@123 telegram://1:telegrams3cret@telegram?chats=@ops",
                ),
                ("WATCHTOWER_NOTIFICATION_URL__FILE", &path),
                ("WATCHTOWER_NOTIFICATIONS", "email slack"),
                ("WATCHTOWER_NOTIFICATION_EMAIL_SERVER", "mail.lan"),
                ("WATCHTOWER_NOTIFICATION_EMAIL_FROM", "wt@lan"),
                ("WATCHTOWER_NOTIFICATION_EMAIL_TO", "ops@lan"),
                (
                    "WATCHTOWER_NOTIFICATION_EMAIL_SERVER_PASSWORD",
                    "mails3cret",
                ),
                (
                    "WATCHTOWER_NOTIFICATION_SLACK_HOOK_URL",
                    "https://hooks.slack.com/services/slacks3cret",
                ),
                ("WATCHTOWER_NOTIFICATION_TITLE_TAG", "prod"),
                (
                    "TIDEWATCH_TRIGGER_TELEGRAM_WATCHTOWER2_API",
                    "http://127.0.0.1:1",
                ),
            ],
        );
        let lines = result.clone().unwrap();
        let all = lines.join("\n");
        assert!(!all.contains("s3cret"), "{all}");
        for (needle, origin) in [
            (
                "trigger.discord.watchtower1.url = \"***\"",
                "WATCHTOWER_NOTIFICATION_URL",
            ),
            (
                "trigger.telegram.watchtower2.chatid = \"@ops\"",
                "WATCHTOWER_NOTIFICATION_URL",
            ),
            (
                "trigger.telegram.watchtower2.api = \"http://127.0.0.1:1\"",
                "TIDEWATCH_TRIGGER_TELEGRAM_WATCHTOWER2_API",
            ),
            (
                "trigger.telegram.watchtower2.mode = \"batch\"",
                "WATCHTOWER_NOTIFICATION_URL",
            ),
            (
                "trigger.gotify.watchtower3.token = \"***\"",
                "WATCHTOWER_NOTIFICATION_URL__FILE",
            ),
            (
                "trigger.smtp.watchtoweremail.pass = \"***\"",
                "WATCHTOWER_NOTIFICATION_EMAIL_SERVER_PASSWORD",
            ),
            (
                "trigger.smtp.watchtoweremail.host = \"mail.lan\"",
                "WATCHTOWER_NOTIFICATION_EMAIL_SERVER",
            ),
            (
                "trigger.slack.watchtowerslack.url = \"***\"",
                "WATCHTOWER_NOTIFICATION_SLACK_HOOK_URL",
            ),
            (
                "trigger.discord.watchtower1.batchtitle = \"[prod] Watchtower updates on {{host}}\"",
                "WATCHTOWER_NOTIFICATION_URL",
            ),
        ] {
            assert_eq!(
                lines_with(&result, needle),
                [format!("{needle}  # {origin}")],
                "{all}"
            );
        }
        let errors = check(
            None,
            &[
                ("WATCHTOWER_NOTIFICATION_URL", "pushbullet://s3cret@x"),
                ("WATCHTOWER_NOTIFICATIONS", "emial"),
            ],
        )
        .unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].starts_with("WATCHTOWER_NOTIFICATION_URL: notification URL 1 (pushbullet): unknown notification service"), "{errors:?}");
        assert_eq!(
            errors[1],
            "WATCHTOWER_NOTIFICATIONS: unknown notifier `emial`, did you mean `email`?"
        );
        assert!(!errors.join("").contains("s3cret"));
    }

    #[test]
    fn diun_variables_as_its_users_write_them_set_the_watcher_and_notifiers() {
        let mut token = tempfile::NamedTempFile::new().unwrap();
        writeln!(token, "tgS3CRET").unwrap();
        let token = token.path().to_str().unwrap().to_string();
        let result = check(
            None,
            &[
                ("DIUN_WATCH_SCHEDULE", "0 */6 * * *"),
                ("DIUN_WATCH_JITTER", "30s"),
                ("DIUN_WATCH_WORKERS", "20"),
                ("DIUN_PROVIDERS_DOCKER", "true"),
                ("DIUN_PROVIDERS_DOCKER_WATCHSTOPPED", "true"),
                ("DIUN_NOTIF_TELEGRAM_TOKENFILE", &token),
                ("DIUN_NOTIF_TELEGRAM_CHATIDS", "-1001,-1002:42"),
                ("DIUN_NOTIF_MAIL_HOST", "mail.lan"),
                ("DIUN_NOTIF_MAIL_PASSWORD", "mailS3CRET"),
                ("DIUN_NOTIF_MAIL_FROM", "diun@lan"),
                ("DIUN_NOTIF_MAIL_TO", "ops@lan"),
                ("DIUN_NOTIF_WEBHOOK_ENDPOINT", "http://n8n.lan/webhook"),
                (
                    "DIUN_NOTIF_WEBHOOK_HEADERS_AUTHORIZATION",
                    "Bearer hookS3CRET",
                ),
            ],
        );
        let all = result.clone().unwrap().join("\n");
        assert!(!all.contains("S3CRET"), "{all}");
        for (needle, origin) in [
            (
                "watcher.local.cron = \"0 */6 * * *\"",
                "DIUN_WATCH_SCHEDULE",
            ),
            ("watcher.local.jitter = 30000", "DIUN_WATCH_JITTER"),
            (
                "watcher.local.watchall = true",
                "DIUN_PROVIDERS_DOCKER_WATCHSTOPPED",
            ),
            (
                "watcher.local.watchbydefault = false",
                "DIUN_PROVIDERS_DOCKER_WATCHBYDEFAULT (Diun's default)",
            ),
            (
                "trigger.telegram.diun1.bottoken = \"***\"",
                "DIUN_NOTIF_TELEGRAM_TOKENFILE",
            ),
            (
                "trigger.telegram.diun2.messagethreadid = 42",
                "DIUN_NOTIF_TELEGRAM_CHATIDS",
            ),
            (
                "trigger.smtp.diun.pass = \"***\"",
                "DIUN_NOTIF_MAIL_PASSWORD",
            ),
            (
                "trigger.http.diun.headers = \"***\"",
                "DIUN_NOTIF_WEBHOOK_HEADERS_*",
            ),
        ] {
            assert_eq!(
                lines_with(&result, needle),
                [format!("{needle}  # {origin}")],
                "{all}"
            );
        }
        assert!(!all.contains("trigger.docker"), "Diun only notifies: {all}");
        let loaded = load(None, vars(&[("DIUN_WATCH_WORKERS", "20")])).unwrap();
        assert_eq!(
            loaded.warnings,
            ["DIUN_WATCH_WORKERS: ignored, Diun's setting has no equivalent here"]
        );
        let errors = check(
            None,
            &[
                ("DIUN_WATCH_SCHEDUL", "0 * * * *"),
                ("DIUN_NOTIF_MAIL_HOST", "mail.lan"),
                ("DIUN_NOTIF_MAIL_TO", "ops@lan"),
            ],
        )
        .unwrap_err();
        assert_eq!(
            errors,
            [
                "DIUN_WATCH_SCHEDUL: not a Diun setting this version reads, did you mean `DIUN_WATCH_SCHEDULE`?",
                "DIUN_NOTIF_MAIL_FROM: required with DIUN_NOTIF_MAIL_HOST",
            ]
        );
    }

    #[test]
    fn all_errors_are_reported_together() {
        let result = check(
            None,
            &[
                ("TIDEWATCH_WATCHER_LOCAL_CRONN", "0 * * * *"),
                ("TIDEWATCH_WATCHER_LOCAL_PORT", "abc"),
                ("TIDEWATCH_WATCHER_LOCAL_WATCHALL", "maybe"),
                ("TIDEWATCH_WATCHER_EDGE_CRON", "every hour"),
                ("TIDEWATCH_LOG_FORMAT", "jsn"),
                ("TIDEWATCH_TRIGGER_SMPT_OPS_HOST", "smtp.example.com"),
                ("TIDEWATCH_REGISTRY_DOCKERHUB_MAIN_LOGIN", "me"),
            ],
        );
        let errors = result.expect_err("seven mistakes");
        assert_eq!(errors.len(), 7, "{errors:#?}");
        for expected in [
            "TIDEWATCH_WATCHER_LOCAL_CRONN: unknown key `cronn`, did you mean `cron`?",
            "TIDEWATCH_WATCHER_LOCAL_PORT: expected a whole number from 0 to 65535, found a string",
            "TIDEWATCH_WATCHER_LOCAL_WATCHALL: expected true or false, found a string",
            "TIDEWATCH_LOG_FORMAT: unknown value `jsn`, did you mean `json`?",
            "TIDEWATCH_TRIGGER_SMPT_OPS_HOST: unknown trigger kind `smpt`, did you mean `smtp`?",
        ] {
            assert!(
                errors.iter().any(|e| e == expected),
                "missing {expected:?} in {errors:#?}"
            );
        }
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("TIDEWATCH_WATCHER_EDGE_CRON: not a valid cron expression"))
        );
        assert!(errors.iter().any(|e| e.starts_with("TIDEWATCH_REGISTRY_DOCKERHUB_MAIN_LOGIN: unknown registry kind `dockerhub`, expected one of: hub, ghcr")));
    }

    #[test]
    fn values_from_the_environment_are_typed_leniently() {
        let result = check(
            None,
            &[
                ("TIDEWATCH_WATCHER_LOCAL_PORT", "2376"),
                ("TIDEWATCH_WATCHER_LOCAL_WATCHALL", "true"),
                ("TIDEWATCH_WATCHER_LOCAL_HOST", "docker.lan"),
            ],
        );
        assert_eq!(
            lines_with(&result, "watcher.local.port"),
            ["watcher.local.port = 2376  # TIDEWATCH_WATCHER_LOCAL_PORT"]
        );
        assert_eq!(
            lines_with(&result, "watchall"),
            ["watcher.local.watchall = true  # TIDEWATCH_WATCHER_LOCAL_WATCHALL"]
        );
    }

    #[test]
    fn the_environment_overrides_the_file_and_each_value_knows_its_source() {
        let toml =
            "[log]\nlevel = \"debug\"\n[watcher.edge]\nhost = \"10.0.0.9\"\ncron = \"0 3 * * *\"\n";
        let result = check(
            Some(toml),
            &[("TIDEWATCH_WATCHER_EDGE_CRON", "*/10 * * * *")],
        );
        assert_eq!(
            lines_with(&result, "log.level"),
            ["log.level = \"debug\"  # FILE: key log.level"]
        );
        assert_eq!(
            lines_with(&result, "watcher.edge.cron"),
            ["watcher.edge.cron = \"*/10 * * * *\"  # TIDEWATCH_WATCHER_EDGE_CRON"]
        );
        assert_eq!(
            lines_with(&result, "watcher.edge.port"),
            ["watcher.edge.port = 2375  # default"]
        );
        assert!(
            lines_with(&result, "watcher.local").is_empty(),
            "a configured watcher replaces the implicit local one"
        );
    }

    #[test]
    fn file_errors_name_the_file_and_key_and_never_quote_a_line() {
        let toml =
            "[watcher.edge]\nhost = \"h\"\ncronn = \"x\"\n[registry.hub.main]\npassword = 12345\n";
        assert_eq!(
            check(Some(toml), &[]),
            Err(vec![
                "FILE: key registry.hub.main.password: expected a string, found an integer".into(),
                "FILE: key watcher.edge.cronn: unknown key `cronn`, did you mean `cron`?".into(),
            ])
        );
        let errors = check(Some("[registry.hub.main]\npassword = \"hunter2\n"), &[]).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with("FILE: TOML parse error at line 2"),
            "{errors:?}"
        );
        assert!(!errors[0].contains("hunter2"), "{errors:?}");
        let missing = load(Some(Path::new("/nonexistent/tidewatch.toml")), vec![]).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "/nonexistent/tidewatch.toml: cannot read file: No such file or directory (os error 2)"
        );
    }

    #[test]
    fn secrets_never_show_in_the_effective_configuration_or_errors() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "from-a-file-s3cret").unwrap();
        let path = file.path().to_str().unwrap();
        let result = check(
            None,
            &[
                ("TIDEWATCH_REGISTRY_HUB_MAIN_LOGIN", "me"),
                ("TIDEWATCH_REGISTRY_HUB_MAIN_PASSWORD__FILE", path),
                ("TIDEWATCH_REGISTRY_GHCR_MAIN_TOKEN", "ghp_env_s3cret"),
            ],
        );
        let all = result.as_ref().unwrap().join("\n");
        assert!(!all.contains("s3cret"), "{all}");
        assert_eq!(
            lines_with(&result, "hub.main.password"),
            [format!(
                "registry.hub.main.password = \"***\"  # TIDEWATCH_REGISTRY_HUB_MAIN_PASSWORD__FILE (file {path})"
            )]
        );
        assert_eq!(
            lines_with(&result, "ghcr.main.token"),
            ["registry.ghcr.main.token = \"***\"  # TIDEWATCH_REGISTRY_GHCR_MAIN_TOKEN"]
        );
        // A secret under a wrong key, or of the wrong type, is named but never shown.
        let errors = check(
            None,
            &[
                ("TIDEWATCH_REGISTRY_HUB_MAIN_PASSWRD__FILE", path),
                ("TIDEWATCH_WATCHER_LOCAL_PORT", "ghp_env_s3cret"),
            ],
        )
        .unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(!errors.join("\n").contains("s3cret"), "{errors:?}");
        let loaded = load(
            None,
            vars(&[("TIDEWATCH_REGISTRY_GHCR_MAIN_TOKEN", "ghp_env_s3cret")]),
        )
        .unwrap();
        assert!(!format!("{:?}", loaded.config).contains("s3cret"));
    }

    #[test]
    fn docker_host_sets_the_local_watcher_unless_configured() {
        let result = check(
            None,
            &[("DOCKER_HOST", "unix:///run/user/1000/docker.sock")],
        );
        assert_eq!(
            lines_with(&result, "socket"),
            ["watcher.local.socket = \"/run/user/1000/docker.sock\"  # DOCKER_HOST"]
        );
        let result = check(None, &[("DOCKER_HOST", "tcp://docker.lan:2375")]);
        assert_eq!(
            lines_with(&result, "watcher.local.host"),
            ["watcher.local.host = \"docker.lan\"  # DOCKER_HOST"]
        );
        let result = check(
            None,
            &[
                ("DOCKER_HOST", "tcp://docker.lan"),
                ("DOCKER_TLS_VERIFY", "1"),
                ("DOCKER_CERT_PATH", "/certs"),
            ],
        );
        assert_eq!(
            lines_with(&result, "watcher.local.port"),
            ["watcher.local.port = 2376  # DOCKER_HOST"]
        );
        assert_eq!(
            lines_with(&result, "cafile"),
            ["watcher.local.cafile = \"/certs/ca.pem\"  # DOCKER_CERT_PATH"]
        );
        // Without DOCKER_CERT_PATH, the docker CLI's ~/.docker, with HOME expanded.
        let tls_env = [
            ("DOCKER_HOST", "tcp://docker.lan"),
            ("DOCKER_TLS_VERIFY", "1"),
        ];
        let result = check(None, &[tls_env[0], tls_env[1], ("HOME", "/home/me")]);
        assert_eq!(
            lines_with(&result, "local.keyfile"),
            [
                "watcher.local.keyfile = \"/home/me/.docker/key.pem\"  # DOCKER_TLS_VERIFY (HOME/.docker)"
            ]
        );
        assert_eq!(
            check(None, &tls_env),
            Err(vec![
                "DOCKER_TLS_VERIFY: needs DOCKER_CERT_PATH, or HOME for the docker CLI's ~/.docker"
                    .into()
            ])
        );
        let result = check(
            None,
            &[
                ("DOCKER_HOST", "tcp://docker.lan:2375"),
                ("TIDEWATCH_WATCHER_LOCAL_SOCKET", "/srv/docker.sock"),
            ],
        );
        assert_eq!(
            lines_with(&result, "watcher.local.socket"),
            ["watcher.local.socket = \"/srv/docker.sock\"  # TIDEWATCH_WATCHER_LOCAL_SOCKET"]
        );
        assert_eq!(
            check(None, &[("DOCKER_HOST", "ssh://me@host")]),
            Err(vec![
                "DOCKER_HOST: expected unix:///path/to/docker.sock or tcp://host:port".into()
            ])
        );
    }

    #[test]
    fn instance_names_from_the_file_are_checked_too() {
        let errors = check(Some("[watcher.Edge-1]\nhost = \"h\"\n"), &[]).unwrap_err();
        assert_eq!(
            errors,
            ["FILE: key watcher.Edge-1: instance names use lowercase letters and digits only"]
        );
    }

    #[test]
    fn the_shipped_examples_load() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let example = load(Some(&root.join("tidewatch.toml")), vec![]);
        let loaded = example.expect("config/tidewatch.toml loads");
        assert_eq!(loaded.config.watcher.len(), 2);
        crate::app::triggers::build_all(&loaded.config.trigger).expect("its triggers build");
        let secret = tempfile::NamedTempFile::new().unwrap();
        let env: Vec<(String, String)> = std::fs::read_to_string(root.join("tidewatch.env"))
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| match k.ends_with("__FILE") {
                true => (k.to_string(), secret.path().display().to_string()),
                false => (k.to_string(), v.to_string()),
            })
            .collect();
        assert!(env.len() >= 6, "{env:?}");
        let loaded = load(None, env).expect("config/tidewatch.env loads");
        crate::app::triggers::build_all(&loaded.config.trigger).expect("its triggers build");
    }

    #[test]
    fn docker_config_and_watchtower_repo_credentials_are_picked_up() {
        let loaded = load(
            None,
            vars(&[
                ("HOME", "/home/me"),
                ("REPO_USER", "bot"),
                ("REPO_PASS", "s3cret"),
            ]),
        )
        .unwrap();
        assert_eq!(
            loaded.docker_config_dir,
            Some(PathBuf::from("/home/me/.docker"))
        );
        let (user, pass) = loaded.repo_credentials.clone().unwrap();
        assert_eq!((user.as_str(), pass.expose()), ("bot", "s3cret"));
        assert!(!format!("{loaded:?}").contains("s3cret"));
        let loaded = load(
            None,
            vars(&[("HOME", "/h"), ("DOCKER_CONFIG", "/etc/docker-cli")]),
        )
        .unwrap();
        assert_eq!(
            loaded.docker_config_dir,
            Some(PathBuf::from("/etc/docker-cli"))
        );
        assert_eq!(
            check(None, &[("REPO_USER", "bot")]),
            Err(vec![
                "REPO_USER: REPO_USER and REPO_PASS go together".into()
            ])
        );
    }

    #[test]
    fn an_http_trigger_from_wud_variables_sends_wuds_body_unless_told_otherwise() {
        use crate::config::HttpFormat;
        let url = "http://127.0.0.1:9/hook";
        let loaded = load(
            None,
            vars(&[
                ("WUD_TRIGGER_HTTP_HOOK_URL", url),
                (
                    "WUD_TRIGGER_HTTP_HOOK_PROXY",
                    "http://u:PROXYPASS@127.0.0.1:3128",
                ),
                ("TIDEWATCH_TRIGGER_HTTP_OWN_URL", url),
            ]),
        )
        .unwrap();
        let http = &loaded.config.trigger.http;
        assert_eq!(http["hook"].format, HttpFormat::Wud);
        assert_eq!(
            loaded.origin("trigger.http.hook.format").to_string(),
            "WUD_TRIGGER_HTTP_HOOK_* (WUD's body)"
        );
        assert_eq!(
            http["hook"].proxy.as_ref().map(Secret::expose),
            Some("http://u:PROXYPASS@127.0.0.1:3128")
        );
        assert!(!format!("{:?}", loaded.config).contains("PROXYPASS"));
        assert_eq!(http["own"].format, HttpFormat::Tidewatch);
        assert_eq!(
            loaded.origin("trigger.http.own.format").to_string(),
            "default"
        );
        // An explicit format wins, from either prefix.
        for (name, value, expected) in [
            (
                "WUD_TRIGGER_HTTP_HOOK_FORMAT",
                "tidewatch",
                HttpFormat::Tidewatch,
            ),
            (
                "TIDEWATCH_TRIGGER_HTTP_HOOK_FORMAT",
                "diun",
                HttpFormat::Diun,
            ),
        ] {
            let loaded = load(
                None,
                vars(&[("WUD_TRIGGER_HTTP_HOOK_URL", url), (name, value)]),
            )
            .unwrap();
            assert_eq!(loaded.config.trigger.http["hook"].format, expected);
            assert_eq!(loaded.origin("trigger.http.hook.format").to_string(), name);
        }
        let errors = check(
            None,
            &[
                ("WUD_TRIGGER_HTTP_HOOK_URL", url),
                ("WUD_TRIGGER_HTTP_HOOK_FORMAT", "json"),
            ],
        )
        .unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("WUD_TRIGGER_HTTP_HOOK_FORMAT: unknown value `json`"),
            "{errors:?}"
        );
    }

    #[test]
    fn diuns_webhook_sends_diuns_body_with_diuns_method() {
        use crate::config::HttpFormat;
        let loaded = load(
            None,
            vars(&[
                ("DIUN_NOTIF_WEBHOOK_ENDPOINT", "http://127.0.0.1:9/diun"),
                ("DIUN_NOTIF_WEBHOOK_PROXY", "http://127.0.0.1:3128"),
            ]),
        )
        .unwrap();
        let hook = &loaded.config.trigger.http["diun"];
        assert_eq!(hook.format, HttpFormat::Diun);
        assert_eq!(hook.method.as_deref(), Some("GET"));
        assert!(hook.proxy.is_some());
        assert_eq!(
            loaded.origin("trigger.http.diun.format").to_string(),
            "DIUN_NOTIF_WEBHOOK_ENDPOINT (Diun's body)"
        );
        let loaded = load(
            None,
            vars(&[
                ("DIUN_NOTIF_WEBHOOK_ENDPOINT", "http://127.0.0.1:9/diun"),
                ("DIUN_NOTIF_WEBHOOK_METHOD", "post"),
                ("TIDEWATCH_TRIGGER_HTTP_DIUN_FORMAT", "tidewatch"),
            ]),
        )
        .unwrap();
        let hook = &loaded.config.trigger.http["diun"];
        assert_eq!(hook.format, HttpFormat::Tidewatch);
        assert_eq!(hook.method.as_deref(), Some("POST"));
    }
}
