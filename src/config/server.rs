//! The daemon's HTTP server (`server.*`, WUD's `WUD_SERVER_*`) and WUD's basic logins
//! (`auth.basic.<name>`, WUD's `WUD_AUTH_BASIC_<NAME>_USER` / `_HASH`).

use super::Secret;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// WUD's port, so a WUD user's `-p 3000:3000`, Homepage widget and Home Assistant integration
/// keep pointing at the right place.
pub const DEFAULT_PORT: u16 = 3000;
/// Watchtower's HTTP API port, used when Watchtower's API variables are set and no port is.
pub const WATCHTOWER_PORT: u16 = 8080;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// On by default: in a container, the page and the API are what a user looks for first, and
    /// nothing is reachable unless the port is published (`-p 3000:3000`).
    pub enabled: bool,
    pub port: u16,
    /// The address to listen on; all of IPv4 by default (inside a container, the published
    /// port only reaches the container's own interface).
    pub address: String,
    pub tls: ServerTlsConfig,
    /// The API token (`Authorization: Bearer <token>`). Actions need it; reading too when
    /// `read = "token"`.
    pub token: Option<Secret>,
    /// Who may read (`/api/*` GETs, `/metrics`): `open` or `token`. Unset, reading is open
    /// unless basic logins are configured, as in WUD (a login protects everything).
    pub read: Option<Access>,
    /// Who may act (check now, run a trigger, update, webhooks): `token` (the default) or
    /// `open`, which lets anyone who reaches the port update containers.
    pub actions: Access,
    pub metrics: ServerMetricsConfig,
    pub webhook: WebhooksConfig,
    pub watchtower: WatchtowerApiConfig,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            enabled: true,
            port: DEFAULT_PORT,
            address: "0.0.0.0".into(),
            tls: ServerTlsConfig::default(),
            token: None,
            read: None,
            actions: Access::Token,
            metrics: ServerMetricsConfig::default(),
            webhook: WebhooksConfig::default(),
            watchtower: WatchtowerApiConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// Anyone who reaches the port.
    Open,
    /// A valid API token or basic login.
    Token,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerTlsConfig {
    /// WUD's `WUD_SERVER_TLS_ENABLED`; here the files alone turn TLS on, and `false` turns it off.
    pub enabled: Option<bool>,
    /// PEM certificate chain (WUD's `cert`).
    #[serde(alias = "cert")]
    pub certfile: Option<PathBuf>,
    /// PEM private key (WUD's `key`).
    #[serde(alias = "key")]
    pub keyfile: Option<PathBuf>,
}

impl ServerTlsConfig {
    /// The certificate and key files, when TLS is on.
    pub fn files(&self) -> Option<(&PathBuf, &PathBuf)> {
        if self.enabled == Some(false) {
            return None;
        }
        self.certfile.as_ref().zip(self.keyfile.as_ref())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerMetricsConfig {
    /// WUD's `WUD_SERVER_METRICS_AUTH`: `false` opens `/metrics` whatever `read` says (for a
    /// Prometheus that scrapes without credentials); unset, `/metrics` follows `read`.
    pub auth: Option<bool>,
}

/// Registry push webhooks, one entry per source. A source's `secret` is checked the way that
/// source can carry it (see README); without one, a webhook needs the API token like any action.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    pub enabled: bool,
    pub distribution: WebhookConfig,
    pub dockerhub: WebhookConfig,
    pub github: WebhookConfig,
    pub gitlab: WebhookConfig,
    pub harbor: WebhookConfig,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            enabled: true,
            distribution: WebhookConfig::default(),
            dockerhub: WebhookConfig::default(),
            github: WebhookConfig::default(),
            gitlab: WebhookConfig::default(),
            harbor: WebhookConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookConfig {
    pub secret: Option<Secret>,
}

/// Watchtower's HTTP API (`WATCHTOWER_HTTP_API_*`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WatchtowerApiConfig {
    /// Watchtower's `WATCHTOWER_HTTP_API_TOKEN`: accepted by `/v1/*` beside `server.token`.
    pub token: Option<Secret>,
    /// Checks on the watchers' schedules. Watchtower stops polling once its update API is on,
    /// unless `WATCHTOWER_HTTP_API_PERIODIC_POLLS`; set from those variables only.
    pub polls: bool,
}

impl Default for WatchtowerApiConfig {
    fn default() -> Self {
        WatchtowerApiConfig {
            token: None,
            polls: true,
        }
    }
}

/// WUD's authentications; only its basic logins have an equivalent here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    pub basic: BTreeMap<String, BasicLogin>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BasicLogin {
    pub user: String,
    /// An htpasswd hash: bcrypt (`$2y$…`), Apache MD5 (`$apr1$…`) or SHA-1 (`{SHA}…`).
    pub hash: Secret,
}

/// Whether an htpasswd hash is of a kind the server can check.
pub fn known_hash(hash: &str) -> bool {
    ["$2a$", "$2b$", "$2y$", "$2x$", "$apr1$", "{SHA}"]
        .iter()
        .any(|p| hash.starts_with(p))
}

impl ServerConfig {
    /// Problems no type can catch, named by the key (the caller maps it to its origin).
    pub(super) fn problems(&self, auth: &AuthConfig) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let tls = &self.tls;
        if tls.enabled != Some(false) && tls.certfile.is_some() != tls.keyfile.is_some() {
            let key = if tls.certfile.is_none() {
                "server.tls.certfile"
            } else {
                "server.tls.keyfile"
            };
            problems.push((key.into(), "a TLS certificate and key go together".into()));
        }
        if tls.enabled == Some(true) && tls.certfile.is_none() && tls.keyfile.is_none() {
            problems.push((
                "server.tls.enabled".into(),
                "TLS needs server.tls.certfile and server.tls.keyfile".into(),
            ));
        }
        for (key, secret) in [
            ("server.token", &self.token),
            ("server.watchtower.token", &self.watchtower.token),
        ] {
            if secret
                .as_ref()
                .is_some_and(|s| s.expose().trim().is_empty())
            {
                problems.push((key.into(), "a token cannot be empty".into()));
            }
        }
        if self.address.parse::<std::net::IpAddr>().is_err() {
            problems.push((
                "server.address".into(),
                "expected an IP address such as 0.0.0.0 or ::".into(),
            ));
        }
        for (name, login) in &auth.basic {
            if !known_hash(login.hash.expose()) {
                problems.push((
                    format!("auth.basic.{name}.hash"),
                    "expected an htpasswd hash: bcrypt ($2y$…), Apache MD5 ($apr1$…) or SHA-1 ({SHA}…)"
                        .into(),
                ));
            }
        }
        problems
    }
}
