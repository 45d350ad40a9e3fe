//! Configuration: built-in defaults, then a TOML file (`--config PATH` or `TIDEWATCH_CONFIG`),
//! then `TIDEWATCH_*` environment variables; each later source overrides the earlier. A `--config`
//! named `.yml`/`.yaml` is Diun's file instead, read as the `DIUN_*` variables it stands for.
//!
//! This module is the only one that reads the environment. It hands the rest of the program
//! typed, validated structs, and keeps figment's record of where every value came from for
//! `tidewatch config` and for error messages.

mod compat;
pub use compat::diun::regex_list as diun_regex_list;
pub use compat::diun::{NotifyOn as DiunNotifyOn, notify_on as diun_notify_on};
mod env;
mod error;
pub mod file;
pub mod host;
mod load;
mod registry;
mod secret;
mod server;
mod trigger;
mod watcher;

pub use compat::watchtower::{
    CommandLine as WatchtowerCommandLine, FLAGS as WATCHTOWER_FLAGS, Flag as WatchtowerFlag,
};
pub use env::PREFIX as ENV_PREFIX;
pub use env::SUCCEEDS as SUCCEEDS_VAR;
pub use error::{ConfigError, ConfigErrors};
pub use load::{Loaded, Origin, load, load_from_process, load_with};
pub use registry::{
    DEFAULT_CONCURRENCY, DEFAULT_MAX_TAGS, EcrConfig, GcrConfig, NamedLogin, RegistriesConfig,
    RegistryConfig, RegistryUrl, decode_auth, login_key,
};
pub use secret::Secret;
pub use server::{
    Access, AuthConfig, BasicLogin, DEFAULT_PORT as DEFAULT_SERVER_PORT, ServerConfig,
    ServerTlsConfig, WebhookConfig, WebhooksConfig, known_hash,
};
pub use trigger::{
    CommonConfig, ComposeTriggerConfig, DiscordConfig, DockerTriggerConfig, GotifyConfig,
    HttpAuthConfig, HttpConfig, HttpFormat, MatrixConfig, Mode, MqttConfig, MqttHassConfig,
    MqttTlsConfig, NtfyAuthConfig, NtfyConfig, PushoverConfig, SlackConfig, SmtpConfig,
    SmtpTlsConfig, TeamsCard, TeamsConfig, TelegramConfig, TriggersConfig, When,
};
pub use watcher::{DEFAULT_SOCKET, Endpoint, WatcherConfig, WatcherDiunConfig, name_patterns};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Name of the watcher that exists when none is configured.
pub const DEFAULT_WATCHER: &str = "local";

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub log: LogConfig,
    /// Docker hosts to watch, by instance name.
    pub watcher: BTreeMap<String, WatcherConfig>,
    pub registry: RegistriesConfig,
    pub trigger: TriggersConfig,
    pub store: StoreConfig,
    /// The HTTP server of `tidewatch run`: WUD's API, Watchtower's, metrics, webhooks.
    pub server: ServerConfig,
    /// WUD's logins for the server.
    pub auth: AuthConfig,
}

/// Where the state and audit log live, as WUD's `STORE_PATH` (a folder) and `STORE_FILE`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// The folder; `/store` in the container image.
    pub path: std::path::PathBuf,
    pub file: String,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            path: "./data".into(),
            file: "tidewatch.db".into(),
        }
    }
}

impl StoreConfig {
    pub fn location(&self) -> std::path::PathBuf {
        self.path.join(&self.file)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A level (`error`, `warn`, `info`, `debug`, `trace`) or a tracing filter directive such as
    /// `info,tidewatch::registry=debug`.
    pub level: String,
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: LogFormat::Pretty,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[serde(alias = "text")]
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}
