//! Provider presets: which registry host each configured `registry.<kind>.<name>` stands for,
//! and the credential it carries. Users pick a kind; the kind knows the host.
//!
//! The configuration was validated when it was loaded (`config::RegistryConfig::problems`), so
//! the errors here only guard a configuration built by hand, as tests do.

use super::credentials::Credential;
use crate::config::{GcrConfig, RegistriesConfig, RegistryConfig, RegistryUrl, Secret};

/// Azure registries are `<name>.azurecr.io`; an `acr` entry without a url serves all of them,
/// as in WUD, which has no url for `acr`.
const ACR_SUFFIX: &str = ".azurecr.io";

/// One configured registry, resolved.
#[derive(Debug, Clone)]
pub struct Provider {
    /// Registry host as image references name it (`docker.io`, `ghcr.io`, `registry.lan:5000`),
    /// or, when `any_subdomain`, the domain whose subdomains it serves (`.azurecr.io`).
    pub host: String,
    /// `host` is a domain suffix: the provider serves every host under it.
    pub any_subdomain: bool,
    /// Base URL with scheme, when the configuration gave one.
    pub url: Option<String>,
    pub credential: Option<Credential>,
    /// Extra CA bundle for a registry with a private certificate authority.
    pub cafile: Option<std::path::PathBuf>,
    /// Skip certificate verification, by the user's explicit choice.
    pub insecure: bool,
    /// GitLab's token service (WUD's `authurl`), used instead of the realm the registry names.
    pub token_realm: Option<String>,
    /// Tags read per repository at most.
    pub max_tags: usize,
    /// Requests in flight to this registry at once.
    pub concurrency: usize,
}

impl Provider {
    /// Whether this provider is the one for the registry host `registry` (as references name
    /// it, port included).
    pub fn serves(&self, registry: &str) -> bool {
        if self.any_subdomain {
            let registry = registry.to_ascii_lowercase();
            registry.ends_with(&self.host) && registry.len() > self.host.len()
        } else {
            self.host.eq_ignore_ascii_case(registry)
        }
    }
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

/// `registry.login.<name>` entries, by name: the credential each stands for, or `None` for one
/// without a login, which leaves its containers to the registry's own.
pub fn named_logins(
    config: &RegistriesConfig,
) -> std::collections::HashMap<String, Option<Credential>> {
    config
        .login
        .iter()
        .map(|(name, entry)| {
            let credential = entry.login.clone().map(|username| Credential::Basic {
                username,
                password: entry.password.clone().unwrap_or_else(|| Secret::new("")),
            });
            (crate::config::login_key(name), credential)
        })
        .collect()
}

/// The host each kind stands for when its entry gives no url.
fn preset_host(kind: &str) -> Option<&'static str> {
    match kind {
        "hub" => Some("docker.io"),
        "ghcr" => Some("ghcr.io"),
        "quay" => Some("quay.io"),
        "lscr" => Some("lscr.io"),
        "gitlab" => Some("registry.gitlab.com"),
        "gcr" => Some("gcr.io"),
        _ => None,
    }
}

/// Builds the providers; an error names the `kind.name` and what is wrong.
pub fn from_config(config: &RegistriesConfig) -> Result<Vec<Provider>, String> {
    let mut providers = Vec::new();
    for (kind, instances) in config.basic() {
        for (name, registry) in instances {
            let id = format!("{kind}.{name}");
            if let Some((key, why)) = registry.problems(kind).into_iter().next() {
                return Err(format!("{id}.{key}: {why}"));
            }
            let (host, url, any_subdomain) = match (registry.url.as_deref(), kind) {
                (None, "acr") => (ACR_SUFFIX.to_string(), None, true),
                (url, _) => {
                    let (host, url) = host_and_url(&id, url, preset_host(kind))?;
                    (host, url, false)
                }
            };
            let token_realm = registry
                .authurl
                .as_deref()
                .map(|url| format!("{}/jwt/auth", url.trim().trim_end_matches('/')));
            providers.push(Provider {
                host,
                any_subdomain,
                url,
                credential: basic_credential(registry)?,
                cafile: registry.cafile.clone(),
                insecure: registry.insecure,
                token_realm,
                max_tags: registry.maxtags,
                concurrency: registry.concurrency,
            });
        }
    }
    for (kind, instances) in [("gcr", &config.gcr), ("gar", &config.gar)] {
        for (name, gcr) in instances {
            let id = format!("{kind}.{name}");
            if let Some((key, why)) = gcr.problems(kind).into_iter().next() {
                return Err(format!("{id}.{key}: {why}"));
            }
            let (host, url) = host_and_url(&id, gcr.url.as_deref(), preset_host(kind))?;
            providers.push(Provider {
                host,
                any_subdomain: false,
                url,
                credential: google_credential(gcr),
                cafile: None,
                insecure: false,
                token_realm: None,
                max_tags: gcr.maxtags,
                concurrency: gcr.concurrency,
            });
        }
    }
    Ok(providers)
}

/// Google accepts a service account key as the password of the user `_json_key`.
fn google_credential(gcr: &GcrConfig) -> Option<Credential> {
    let (email, key) = (gcr.clientemail.as_ref()?, gcr.privatekey.as_ref()?);
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

fn host_and_url(
    id: &str,
    url: Option<&str>,
    default_host: Option<&str>,
) -> Result<(String, Option<String>), String> {
    match (url, default_host) {
        (Some(url), _) => {
            let parsed = RegistryUrl::parse(url).map_err(|why| format!("{id}.url: {why}"))?;
            Ok((parsed.host, Some(parsed.base)))
        }
        (None, Some(host)) => Ok((host.to_string(), None)),
        (None, None) => Err(format!("{id}.url: required")),
    }
}

fn basic_credential(registry: &RegistryConfig) -> Result<Option<Credential>, String> {
    if let Some(auth) = &registry.auth {
        return Credential::from_auth(auth.expose())
            .map(Some)
            .map_err(|err| err.to_string());
    }
    Ok(
        match (registry.effective_login(), registry.effective_password()) {
            (Some(username), Some(password)) => Some(Credential::Basic { username, password }),
            (None, Some(password)) => Some(Credential::Basic {
                username: "tidewatch".into(),
                password,
            }),
            (_, None) => None,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use std::collections::BTreeMap;

    fn entry(pairs: &[(&str, &str)]) -> RegistryConfig {
        let mut json = serde_json::Map::new();
        for (key, value) in pairs {
            json.insert(
                key.to_string(),
                serde_json::Value::String(value.to_string()),
            );
        }
        serde_json::from_value(serde_json::Value::Object(json)).expect("a valid entry")
    }

    fn one(kind: &str, registry: RegistryConfig) -> Provider {
        let mut config = RegistriesConfig::default();
        let map = BTreeMap::from([("x".to_string(), registry)]);
        match kind {
            "hub" => config.hub = map,
            "ghcr" => config.ghcr = map,
            "quay" => config.quay = map,
            "lscr" => config.lscr = map,
            "gitlab" => config.gitlab = map,
            "acr" => config.acr = map,
            "custom" => config.custom = map,
            other => panic!("{other}"),
        }
        let mut providers = from_config(&config).expect("providers");
        assert_eq!(providers.len(), 1);
        providers.remove(0)
    }

    fn basic(provider: &Provider) -> (String, String) {
        match &provider.credential {
            Some(Credential::Basic { username, password }) => {
                (username.clone(), password.expose().to_string())
            }
            other => panic!("not a login: {other:?}"),
        }
    }

    #[test]
    fn each_kind_maps_to_its_host() {
        for (kind, host) in [
            ("hub", "docker.io"),
            ("ghcr", "ghcr.io"),
            ("quay", "quay.io"),
            ("lscr", "lscr.io"),
            ("gitlab", "registry.gitlab.com"),
        ] {
            let provider = one(kind, RegistryConfig::default());
            assert_eq!(provider.host, host, "{kind}");
            assert!(provider.url.is_none(), "{kind}: the preset's own https");
            assert!(provider.credential.is_none(), "{kind}: anonymous");
            assert!(provider.serves(host) && !provider.serves("example.com"));
        }
        let acr = one("acr", RegistryConfig::default());
        assert!(acr.serves("myreg.azurecr.io") && acr.serves("Other.AzureCR.io"));
        assert!(!acr.serves("azurecr.io") && !acr.serves("evil-azurecr.io"));
        let acr = one("acr", entry(&[("url", "myreg.azurecr.io")]));
        assert!(acr.serves("myreg.azurecr.io") && !acr.serves("other.azurecr.io"));
        let custom = one("custom", entry(&[("url", "registry.lan:5000")]));
        assert_eq!(custom.host, "registry.lan:5000");
        assert_eq!(custom.url.as_deref(), Some("https://registry.lan:5000"));
        let loopback = one("custom", entry(&[("url", "127.0.0.1:5000")]));
        assert_eq!(loopback.url.as_deref(), Some("http://127.0.0.1:5000"));
        let mut config = RegistriesConfig::default();
        config.gcr.insert("x".into(), GcrConfig::default());
        config.gar.insert(
            "y".into(),
            GcrConfig {
                url: Some("europe-docker.pkg.dev".into()),
                ..GcrConfig::default()
            },
        );
        let hosts: Vec<String> = from_config(&config)
            .unwrap()
            .into_iter()
            .map(|p| p.host)
            .collect();
        assert_eq!(hosts, ["gcr.io", "europe-docker.pkg.dev"]);
    }

    #[test]
    fn logins_tokens_and_auth_become_one_credential() {
        let hub = one("hub", entry(&[("login", "me"), ("password", "pw")]));
        assert_eq!(basic(&hub), ("me".into(), "pw".into()));
        let hub = one("hub", entry(&[("username", "me"), ("password", "pw")]));
        assert_eq!(basic(&hub), ("me".into(), "pw".into()));
        // A token is the password to the registries that issue them.
        let ghcr = one("ghcr", entry(&[("login", "me"), ("token", "ghp_x")]));
        assert_eq!(basic(&ghcr), ("me".into(), "ghp_x".into()));
        let gitlab = one("gitlab", entry(&[("token", "glpat")]));
        assert_eq!(basic(&gitlab), ("tidewatch".into(), "glpat".into()));
        let auth = base64::engine::general_purpose::STANDARD.encode("me:pa:ss");
        let hub = one("hub", entry(&[("auth", &auth)]));
        assert_eq!(basic(&hub), ("me".into(), "pa:ss".into()));
        let acr = one("acr", entry(&[("clientid", "app"), ("clientsecret", "sp")]));
        assert_eq!(basic(&acr), ("app".into(), "sp".into()));
        let quay = one(
            "quay",
            entry(&[("namespace", "acme"), ("account", "ci"), ("token", "t")]),
        );
        assert_eq!(basic(&quay), ("acme+ci".into(), "t".into()));
        let gitlab = one(
            "gitlab",
            entry(&[("token", "t"), ("authurl", "https://gitlab.example.com/")]),
        );
        assert_eq!(
            gitlab.token_realm.as_deref(),
            Some("https://gitlab.example.com/jwt/auth")
        );
    }

    #[test]
    fn google_keys_log_in_as_json_key() {
        let mut config = RegistriesConfig::default();
        config.gcr.insert(
            "x".into(),
            GcrConfig {
                clientemail: Some("bot@project.iam.gserviceaccount.com".into()),
                privatekey: Some(Secret::new("-----BEGIN PRIVATE KEY-----\nabc\n")),
                ..GcrConfig::default()
            },
        );
        let providers = from_config(&config).unwrap();
        let (username, password) = basic(&providers[0]);
        assert_eq!(username, "_json_key");
        let json: serde_json::Value = serde_json::from_str(&password).unwrap();
        assert_eq!(json["type"], "service_account");
        assert_eq!(json["client_email"], "bot@project.iam.gserviceaccount.com");
        assert_eq!(json["private_key"], "-----BEGIN PRIVATE KEY-----\nabc\n");
    }

    #[test]
    fn a_hand_built_bad_entry_is_an_error_naming_it() {
        let mut config = RegistriesConfig::default();
        config.custom.insert("x".into(), RegistryConfig::default());
        let err = from_config(&config).unwrap_err();
        assert_eq!(err, "custom.x.url: required for a `custom` registry");
    }
}
