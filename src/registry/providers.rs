//! Provider presets: which registry host each configured `registry.<kind>.<name>` stands for,
//! and the credential it carries. Users pick a kind; the kind knows the host.

use super::credentials::Credential;
use crate::config::{RegistriesConfig, RegistryConfig, Secret};

/// One configured registry, resolved.
#[derive(Debug, Clone)]
pub struct Provider {
    /// Registry host as image references name it (`docker.io`, `ghcr.io`, `registry.lan:5000`).
    pub host: String,
    /// Base URL with scheme, when the configuration gave one.
    pub url: Option<String>,
    pub credential: Option<Credential>,
    /// Extra CA bundle for a registry with a private certificate authority.
    pub cafile: Option<std::path::PathBuf>,
    /// Skip certificate verification, by the user's explicit choice.
    pub insecure: bool,
}

/// Access keys for Amazon ECR. ECR hosts carry the account ID, which the configuration does not
/// name, so a key serves every ECR registry of its region.
#[derive(Debug, Clone)]
pub struct EcrKey {
    pub access_key_id: String,
    pub secret: Secret,
    pub region: String,
}

/// ECR entries with both keys; one with a region only leaves Docker's credential helper in
/// charge (`docker-credential-ecr-login` through `config.json`).
pub fn ecr_keys(config: &RegistriesConfig) -> Vec<EcrKey> {
    config
        .ecr
        .values()
        .filter_map(|ecr| {
            Some(EcrKey {
                access_key_id: ecr.accesskeyid.clone()?,
                secret: ecr.secretaccesskey.clone()?,
                region: ecr.region.clone()?,
            })
        })
        .collect()
}

/// Builds the providers; an error names the `kind.name` and what is wrong.
pub fn from_config(config: &RegistriesConfig) -> Result<Vec<Provider>, String> {
    let mut providers = Vec::new();
    let presets: [(
        &str,
        &std::collections::BTreeMap<String, RegistryConfig>,
        Option<&str>,
    ); 7] = [
        ("hub", &config.hub, Some("docker.io")),
        ("ghcr", &config.ghcr, Some("ghcr.io")),
        ("quay", &config.quay, Some("quay.io")),
        ("lscr", &config.lscr, Some("lscr.io")),
        ("gitlab", &config.gitlab, Some("registry.gitlab.com")),
        ("acr", &config.acr, None),
        ("custom", &config.custom, None),
    ];
    for (kind, instances, default_host) in presets {
        for (name, registry) in instances {
            let id = format!("{kind}.{name}");
            let (host, url) = host_and_url(&id, registry.url.as_deref(), default_host)?;
            providers.push(Provider {
                host,
                url,
                credential: basic_credential(registry)?,
                cafile: registry.cafile.clone(),
                insecure: registry.insecure,
            });
        }
    }
    for (kind, instances) in [("gcr", &config.gcr), ("gar", &config.gar)] {
        for (name, gcr) in instances {
            let id = format!("{kind}.{name}");
            let default_host = (kind == "gcr").then_some("gcr.io");
            let (host, url) = host_and_url(&id, gcr.url.as_deref(), default_host)?;
            // Google accepts a service account key as the password of the user `_json_key`.
            let credential = match (&gcr.clientemail, &gcr.privatekey) {
                (Some(email), Some(key)) => {
                    let json = serde_json::json!({
                        "type": "service_account",
                        "client_email": email,
                        "private_key": key.expose(),
                    });
                    Some(Credential::Basic {
                        username: "_json_key".into(),
                        password: Secret::new(json.to_string()),
                    })
                }
                (None, None) => None,
                _ => return Err(format!("{id}: clientemail and privatekey go together")),
            };
            providers.push(Provider {
                host,
                url,
                credential,
                cafile: None,
                insecure: false,
            });
        }
    }
    Ok(providers)
}

fn host_and_url(
    id: &str,
    url: Option<&str>,
    default_host: Option<&str>,
) -> Result<(String, Option<String>), String> {
    match (url, default_host) {
        (Some(url), _) => {
            let with_scheme = if url.contains("://") {
                url.trim_end_matches('/').to_string()
            } else {
                format!("https://{}", url.trim_end_matches('/'))
            };
            let parsed = reqwest::Url::parse(&with_scheme)
                .map_err(|err| format!("{id}: url is not a valid URL: {err}"))?;
            let host = parsed
                .host_str()
                .ok_or_else(|| format!("{id}: url has no host"))?;
            let host = match parsed.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_string(),
            };
            let base = format!("{}://{host}", parsed.scheme());
            Ok((host, Some(base)))
        }
        (None, Some(host)) => Ok((host.to_string(), None)),
        (None, None) => Err(format!("{id}: url is required")),
    }
}

fn basic_credential(registry: &RegistryConfig) -> Result<Option<Credential>, String> {
    if let Some(auth) = &registry.auth {
        return Credential::from_auth(auth.expose())
            .map(Some)
            .map_err(|err| err.to_string());
    }
    let login = registry.login.clone().or_else(|| registry.username.clone());
    // A token is a password to the registries that issue them (GHCR, GitLab, Quay robots).
    let password = registry.password.clone().or_else(|| registry.token.clone());
    Ok(match (login, password) {
        (Some(username), Some(password)) => Some(Credential::Basic { username, password }),
        (None, Some(password)) => Some(Credential::Basic {
            username: "tidewatch".into(),
            password,
        }),
        (_, None) => None,
    })
}
