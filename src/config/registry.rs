//! Registry credentials and endpoints, one map per provider kind. Key names are WUD's
//! (`WUD_REGISTRY_{KIND}_{NAME}_{KEY}`); `username` is accepted for `login`, and WUD's
//! kind-specific keys (acr `clientid`/`clientsecret`, quay `namespace`/`account`, gitlab
//! `authurl`) keep WUD's meaning.
//!
//! Everything about a registry entry is checked here, at load: a mistake is a configuration
//! error naming its variable (exit 2), not a failed check later.

use super::secret::Secret;
use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

/// Tags read per repository at most, unless a registry says otherwise. Projects with years of
/// nightly tags have tens of thousands; the newest are what matter.
pub const DEFAULT_MAX_TAGS: usize = 10_000;
/// Requests in flight to one registry host at once, unless a registry says otherwise.
pub const DEFAULT_CONCURRENCY: usize = 4;
/// More than this many requests at once to one registry is no longer polite.
pub const MAX_CONCURRENCY: usize = 64;

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
    /// Logins a container picks by name with its `tidewatch.login` label (Diun's
    /// `diun.regopt`), whatever registry its image is on; for that container they replace the
    /// registry's own, so two containers on one registry can read it as two accounts.
    pub login: BTreeMap<String, NamedLogin>,
}

/// The key of a named login: its name with every character but letters, digits, `-` and `_`
/// made a `-`, so that a name such as Diun's `docker.io` is one key of the configuration (a `.`
/// would nest) and the label naming it still finds it.
pub fn login_key(name: &str) -> String {
    name.trim()
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' => c,
            _ => '-',
        })
        .collect()
}

/// A login not tied to a host: used for the containers whose label names it. Without a
/// `login` it names the registry's own (Diun's regopt without a username), so the label still
/// reads; a `login` without a password sends an empty one, as Docker does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NamedLogin {
    pub login: Option<String>,
    pub password: Option<Secret>,
}

impl NamedLogin {
    /// Every problem of this entry, each with the key to point the user at.
    pub fn problems(&self) -> Vec<Problem> {
        match (&self.login, &self.password) {
            (None, Some(_)) => vec![("login", "required with password".into())],
            _ => Vec::new(),
        }
    }
}

impl RegistriesConfig {
    /// The kinds that take a login and a password or token, with their instances: the one list
    /// that validation and the providers both walk.
    pub fn basic(&self) -> [(&'static str, &BTreeMap<String, RegistryConfig>); 7] {
        [
            ("hub", &self.hub),
            ("ghcr", &self.ghcr),
            ("quay", &self.quay),
            ("lscr", &self.lscr),
            ("gitlab", &self.gitlab),
            ("acr", &self.acr),
            ("custom", &self.custom),
        ]
    }
}

/// Credentials for registries that take a login and a password or token.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistryConfig {
    /// Registry address; required for `custom`, preset for the others (`gitlab`:
    /// registry.gitlab.com; `acr` without it serves every `*.azurecr.io`). Without a scheme,
    /// `https://`, except on loopback (127.0.0.0/8, ::1, localhost): plain HTTP, as Docker.
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
    /// `acr` (WUD): the service principal's application ID, the login.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clientid: Option<String>,
    /// `acr` (WUD): the service principal's secret, the password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clientsecret: Option<Secret>,
    /// `quay` (WUD): a robot account's namespace; the login is `namespace+account`, the
    /// password is `token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `quay` (WUD): a robot account's name within `namespace`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// `gitlab` (WUD): the GitLab instance that issues registry tokens (`https://gitlab.com`);
    /// tokens are fetched from its `/jwt/auth` instead of the realm the registry names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authurl: Option<String>,
    /// Tags read per repository at most.
    pub maxtags: usize,
    /// Requests in flight to this registry at once.
    pub concurrency: usize,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            url: None,
            login: None,
            username: None,
            password: None,
            token: None,
            auth: None,
            cafile: None,
            insecure: false,
            clientid: None,
            clientsecret: None,
            namespace: None,
            account: None,
            authurl: None,
            maxtags: DEFAULT_MAX_TAGS,
            concurrency: DEFAULT_CONCURRENCY,
        }
    }
}

/// Google registries authenticate with a service account's key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GcrConfig {
    /// Preset to gcr.io for `gcr`; required for `gar` (`europe-docker.pkg.dev`).
    pub url: Option<String>,
    pub clientemail: Option<String>,
    pub privatekey: Option<Secret>,
    /// Tags read per repository at most.
    pub maxtags: usize,
    /// Requests in flight to this registry at once.
    pub concurrency: usize,
}

impl Default for GcrConfig {
    fn default() -> Self {
        GcrConfig {
            url: None,
            clientemail: None,
            privatekey: None,
            maxtags: DEFAULT_MAX_TAGS,
            concurrency: DEFAULT_CONCURRENCY,
        }
    }
}

/// Amazon ECR trades an access key for a short-lived token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EcrConfig {
    pub accesskeyid: Option<String>,
    pub secretaccesskey: Option<Secret>,
    pub region: Option<String>,
}

/// A problem with one key of a registry entry: the key, and what is wrong, never the value.
pub type Problem = (&'static str, String);

impl RegistryConfig {
    /// Every problem of this entry of `kind`, each with the key to point the user at.
    pub fn problems(&self, kind: &str) -> Vec<Problem> {
        let mut problems = Vec::new();
        if self.login.is_some() && self.username.is_some() {
            problems.push(("username", "set either login or username, not both".into()));
        }
        match &self.url {
            Some(url) => {
                if let Err(why) = RegistryUrl::parse(url) {
                    problems.push(("url", why));
                }
            }
            None if kind == "custom" => {
                problems.push(("url", format!("required for a `{kind}` registry")));
            }
            None => {}
        }
        if let Some(auth) = &self.auth {
            if let Err(reason) = decode_auth(auth.expose()) {
                problems.push((
                    "auth",
                    format!(
                        "invalid docker auth value: {reason} (base64 of login:password expected)"
                    ),
                ));
            }
        }
        let login_set = self.login.is_some() || self.username.is_some();
        let only_for = |key: &'static str, owner: &str| {
            (key, format!("only `{owner}` registries take this key"))
        };
        // WUD's kind-specific keys: refused on other kinds, so a misplaced one is not silently
        // ignored; paired keys must come together.
        if kind == "acr" && self.url.is_none() {
            // Without a url the entry serves every *.azurecr.io; TLS settings are per host.
            if self.cafile.is_some() {
                problems.push((
                    "cafile",
                    "needs the registry's url on an `acr` entry".into(),
                ));
            }
            if self.insecure {
                problems.push((
                    "insecure",
                    "needs the registry's url on an `acr` entry".into(),
                ));
            }
        }
        if kind == "acr" {
            pair(
                &mut problems,
                ("clientid", &self.clientid),
                ("clientsecret", &self.clientsecret),
            );
            if self.clientid.is_some() && login_set {
                problems.push(("clientid", "set either login or clientid, not both".into()));
            }
        } else {
            if self.clientid.is_some() {
                problems.push(only_for("clientid", "acr"));
            }
            if self.clientsecret.is_some() {
                problems.push(only_for("clientsecret", "acr"));
            }
        }
        if kind == "quay" {
            pair(
                &mut problems,
                ("namespace", &self.namespace),
                ("account", &self.account),
            );
            if self.namespace.is_some() && login_set {
                problems.push((
                    "namespace",
                    "set either login or namespace and account, not both".into(),
                ));
            }
        } else {
            if self.namespace.is_some() {
                problems.push(only_for("namespace", "quay"));
            }
            if self.account.is_some() {
                problems.push(only_for("account", "quay"));
            }
        }
        match (&self.authurl, kind) {
            (Some(url), "gitlab") => {
                if let Err(why) = RegistryUrl::parse(url) {
                    problems.push(("authurl", why));
                }
            }
            (Some(_), _) => problems.push(only_for("authurl", "gitlab")),
            (None, _) => {}
        }
        limits(&mut problems, self.maxtags, self.concurrency);
        problems
    }

    /// The login: `login`, `username`, acr's `clientid`, or quay's `namespace+account`.
    pub fn effective_login(&self) -> Option<String> {
        self.login
            .clone()
            .or_else(|| self.username.clone())
            .or_else(|| self.clientid.clone())
            .or_else(|| match (&self.namespace, &self.account) {
                (Some(namespace), Some(account)) => Some(format!("{namespace}+{account}")),
                _ => None,
            })
    }

    /// The password: `password`, `token` (a password to the registries that issue them), or
    /// acr's `clientsecret`.
    pub fn effective_password(&self) -> Option<Secret> {
        self.password
            .clone()
            .or_else(|| self.token.clone())
            .or_else(|| self.clientsecret.clone())
    }
}

impl GcrConfig {
    pub fn problems(&self, kind: &str) -> Vec<Problem> {
        let mut problems = Vec::new();
        match &self.url {
            Some(url) => {
                if let Err(why) = RegistryUrl::parse(url) {
                    problems.push(("url", why));
                }
            }
            None if kind == "gar" => problems.push((
                "url",
                "required for a `gar` registry (its host, such as europe-docker.pkg.dev)".into(),
            )),
            None => {}
        }
        pair(
            &mut problems,
            ("clientemail", &self.clientemail),
            ("privatekey", &self.privatekey),
        );
        limits(&mut problems, self.maxtags, self.concurrency);
        problems
    }
}

impl EcrConfig {
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        pair(
            &mut problems,
            ("accesskeyid", &self.accesskeyid),
            ("secretaccesskey", &self.secretaccesskey),
        );
        if self.region.is_none() {
            problems.push(("region", "required for an `ecr` registry".into()));
        }
        problems
    }
}

/// Two keys that only work together: the missing one is the key to point at.
/// Go's `base64.StdEncoding`, as Docker uses, but also accepting the value without its `=`
/// padding, which hand-written configs sometimes lack.
const AUTH_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Docker's `config.json` `auth` value (base64 of `login:password`), read here so that a
/// configured one is checked at start-up. The split on the first `:` and the trimmed NULs are Docker's (`decodeAuth`): a password may
/// contain `:`, and some tools pad the value with NULs.
pub fn decode_auth(auth_b64: &str) -> Result<(String, Secret), &'static str> {
    let decoded = AUTH_BASE64
        .decode(auth_b64.trim())
        .map_err(|_| "auth is not valid base64")?;
    let decoded = String::from_utf8(decoded).map_err(|_| "auth does not decode to utf-8 text")?;
    let (username, password) = decoded
        .split_once(':')
        .ok_or("auth does not decode to login:password")?;
    if username.is_empty() {
        return Err("auth decodes to an empty login");
    }
    Ok((
        username.to_owned(),
        Secret::new(password.trim_matches('\0')),
    ))
}

fn pair<A, B>(
    problems: &mut Vec<Problem>,
    (a, a_value): (&'static str, &Option<A>),
    (b, b_value): (&'static str, &Option<B>),
) {
    match (a_value.is_some(), b_value.is_some()) {
        (true, false) => problems.push((b, format!("required with {a}"))),
        (false, true) => problems.push((a, format!("required with {b}"))),
        _ => {}
    }
}

fn limits(problems: &mut Vec<Problem>, maxtags: usize, concurrency: usize) {
    if maxtags == 0 {
        problems.push(("maxtags", "must be at least 1".into()));
    }
    if !(1..=MAX_CONCURRENCY).contains(&concurrency) {
        problems.push((
            "concurrency",
            format!("must be from 1 to {MAX_CONCURRENCY}"),
        ));
    }
}

/// A registry's configured `url`, read as Docker reads a registry address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryUrl {
    /// As image references name it: `registry.lan:5000`, `[::1]:5000`.
    pub host: String,
    /// Scheme and host: `https://registry.lan:5000`.
    pub base: String,
}

impl RegistryUrl {
    /// `https://` unless a scheme is given, except for loopback hosts, which Docker reaches over
    /// plain HTTP with no configuration. Errors never quote the URL (it may hold a login).
    pub fn parse(url: &str) -> Result<RegistryUrl, String> {
        let url = url.trim();
        let with_scheme = if url.contains("://") {
            url.to_string()
        } else {
            let scheme = if is_loopback(url) { "http" } else { "https" };
            format!("{scheme}://{url}")
        };
        let parsed =
            reqwest::Url::parse(&with_scheme).map_err(|err| format!("not a valid URL: {err}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err("the scheme must be http:// or https://".into());
        }
        let host = parsed.host_str().ok_or("the URL has no host")?;
        if host.is_empty() {
            return Err("the URL has no host".into());
        }
        let host = match parsed.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        Ok(RegistryUrl {
            base: format!("{}://{host}", parsed.scheme()),
            host,
        })
    }
}

/// `127.0.0.1:5000`, `localhost`, `[::1]:5000`: the host part of a scheme-less address is on
/// loopback.
fn is_loopback(address: &str) -> bool {
    let authority = address.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_get_docker_s_scheme_and_host() {
        for (url, host, base) in [
            ("127.0.0.1:5000", "127.0.0.1:5000", "http://127.0.0.1:5000"),
            ("127.9.8.7:5000/", "127.9.8.7:5000", "http://127.9.8.7:5000"),
            ("localhost:5000", "localhost:5000", "http://localhost:5000"),
            ("[::1]:5000", "[::1]:5000", "http://[::1]:5000"),
            (
                "registry.lan:5000",
                "registry.lan:5000",
                "https://registry.lan:5000",
            ),
            ("10.0.0.5", "10.0.0.5", "https://10.0.0.5"),
            (
                "https://127.0.0.1:5000",
                "127.0.0.1:5000",
                "https://127.0.0.1:5000",
            ),
            (
                "http://registry.lan/v2/",
                "registry.lan",
                "http://registry.lan",
            ),
        ] {
            let parsed = RegistryUrl::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(
                (parsed.host.as_str(), parsed.base.as_str()),
                (host, base),
                "{url}"
            );
        }
        for bad in [
            "https://",
            "ftp://registry.lan",
            "https://reg istry",
            "http://host:99999",
        ] {
            let err = RegistryUrl::parse(bad).expect_err(bad);
            assert!(!err.contains(bad), "{err}");
        }
    }

    #[test]
    fn problems_name_the_key_and_never_the_value() {
        let entry = RegistryConfig {
            clientid: Some("app-id".into()),
            namespace: Some("org".into()),
            authurl: Some("https://gitlab.example.com".into()),
            auth: Some(Secret::new("not-base64-s3cret")),
            maxtags: 0,
            concurrency: 65,
            ..RegistryConfig::default()
        };
        let keys: Vec<&str> = entry.problems("hub").iter().map(|(k, _)| *k).collect();
        assert_eq!(
            keys,
            [
                "auth",
                "clientid",
                "namespace",
                "authurl",
                "maxtags",
                "concurrency"
            ]
        );
        assert!(!format!("{:?}", entry.problems("hub")).contains("s3cret"));
        let keys: Vec<&str> = entry.problems("acr").iter().map(|(k, _)| *k).collect();
        assert_eq!(
            keys,
            [
                "auth",
                "clientsecret",
                "namespace",
                "authurl",
                "maxtags",
                "concurrency"
            ]
        );
        let custom = RegistryConfig::default().problems("custom");
        assert_eq!(
            custom,
            [("url", "required for a `custom` registry".to_string())]
        );
        assert!(RegistryConfig::default().problems("gitlab").is_empty());
        assert!(RegistryConfig::default().problems("acr").is_empty());
        let wildcard_tls = RegistryConfig {
            cafile: Some("/etc/ca.pem".into()),
            insecure: true,
            ..RegistryConfig::default()
        };
        let keys: Vec<&str> = wildcard_tls
            .problems("acr")
            .iter()
            .map(|(k, _)| *k)
            .collect();
        assert_eq!(keys, ["cafile", "insecure"]);
        let one_host = RegistryConfig {
            url: Some("corp.azurecr.io".into()),
            ..wildcard_tls
        };
        assert!(one_host.problems("acr").is_empty());
    }

    #[test]
    fn wud_keys_make_the_login() {
        let acr = RegistryConfig {
            clientid: Some("app-id".into()),
            clientsecret: Some(Secret::new("sp-secret")),
            ..RegistryConfig::default()
        };
        assert!(acr.problems("acr").is_empty());
        assert_eq!(acr.effective_login().as_deref(), Some("app-id"));
        assert_eq!(acr.effective_password().unwrap().expose(), "sp-secret");
        let quay = RegistryConfig {
            namespace: Some("acme".into()),
            account: Some("ci".into()),
            token: Some(Secret::new("robot-token")),
            ..RegistryConfig::default()
        };
        assert!(quay.problems("quay").is_empty());
        assert_eq!(quay.effective_login().as_deref(), Some("acme+ci"));
        assert_eq!(quay.effective_password().unwrap().expose(), "robot-token");
        let half = RegistryConfig {
            account: Some("ci".into()),
            ..RegistryConfig::default()
        };
        assert_eq!(
            half.problems("quay"),
            [("namespace", "required with account".to_string())]
        );
    }

    #[test]
    fn google_keys_go_together_and_gar_needs_a_url() {
        let gar = GcrConfig {
            clientemail: Some("a@b".into()),
            ..GcrConfig::default()
        };
        let keys: Vec<&str> = gar.problems("gar").iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, ["url", "privatekey"]);
        let keys: Vec<&str> = gar.problems("gcr").iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, ["privatekey"]);
    }
}
