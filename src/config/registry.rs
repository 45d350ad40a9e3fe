//! Registry credentials and endpoints, one map per provider kind. Key names are WUD's
//! (`WUD_REGISTRY_{KIND}_{NAME}_{KEY}`); `username` is accepted for `login`.

use super::secret::Secret;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The provider kinds. A closed set: each kind knows its host and how it authenticates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistriesConfig {
    pub hub: BTreeMap<String, RegistryConfig>,
    pub ghcr: BTreeMap<String, RegistryConfig>,
    pub quay: BTreeMap<String, RegistryConfig>,
    pub gitlab: BTreeMap<String, RegistryConfig>,
    pub lscr: BTreeMap<String, RegistryConfig>,
    pub acr: BTreeMap<String, RegistryConfig>,
    pub gcr: BTreeMap<String, GcrConfig>,
    pub gar: BTreeMap<String, GcrConfig>,
    pub ecr: BTreeMap<String, EcrConfig>,
    pub custom: BTreeMap<String, RegistryConfig>,
}

/// Credentials for registries that take a login and a password or token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistryConfig {
    /// Registry address; required for `custom`, `gitlab` and `acr`, preset for the others.
    pub url: Option<String>,
    pub login: Option<String>,
    /// WUD's older spelling of `login`.
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub token: Option<Secret>,
    /// `base64(login:password)`, as in Docker's config.json.
    pub auth: Option<Secret>,
    /// Extra CA bundle for a registry with a private certificate authority.
    pub cafile: Option<PathBuf>,
    /// Opt-in plain HTTP or unverified TLS; loopback registries never need it.
    pub insecure: bool,
}

/// Google registries authenticate with a service account's key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GcrConfig {
    pub url: Option<String>,
    pub clientemail: Option<String>,
    pub privatekey: Option<Secret>,
}

/// Amazon ECR trades an access key for a short-lived token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EcrConfig {
    pub accesskeyid: Option<String>,
    pub secretaccesskey: Option<Secret>,
    pub region: Option<String>,
}

impl RegistryConfig {
    pub fn problems(&self, kind: &str) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if self.login.is_some() && self.username.is_some() {
            problems.push(("username", "set either login or username, not both".into()));
        }
        if matches!(kind, "custom" | "gitlab" | "acr") && self.url.is_none() {
            problems.push(("url", format!("required for a `{kind}` registry")));
        }
        problems
    }
}

impl EcrConfig {
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if self.accesskeyid.is_some() != self.secretaccesskey.is_some() {
            problems.push((
                "accesskeyid",
                "accesskeyid and secretaccesskey go together".into(),
            ));
        }
        if self.region.is_none() {
            problems.push(("region", "required for an `ecr` registry".into()));
        }
        problems
    }
}
