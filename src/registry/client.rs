//! The registry client: asks whether an image changed, as cheaply as the protocol allows.
//!
//! Per check, one HEAD per unique reference ([`Session`] shares answers between containers).
//! Per host, one ping for the life of the client to learn how it authenticates; per repository,
//! one token for as long as the registry says it lives. A multi-arch image whose index changed
//! is looked into (two GETs) only the first time that index digest is seen.

use super::challenge::{self, Challenge};
use super::credentials::{Credential, DockerConfig};
use super::ecr;
use super::error::RegistryError;
use super::manifest::{self, ACCEPT, MAX_MANIFEST_BYTES};
use super::providers::{self, EcrKey, Provider};
use super::tag_list;
use super::transport::{Limits, Reply, Request, RequestCounts, RequestKind, TlsOptions, Transport};
use crate::config::{DEFAULT_MAX_TAGS, RegistriesConfig, Secret};
use crate::model::reference;
use crate::model::{ContainerInfo, ImageRef};
use base64::Engine as _;
use reqwest::header::{
    ACCEPT as ACCEPT_HEADER, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, LINK,
    WWW_AUTHENTICATE,
};
use reqwest::{Method, StatusCode};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

/// Renew an ECR token this long before AWS says it expires (it lives 12 hours).
const ECR_REFRESH_MARGIN: Duration = Duration::from_secs(30 * 60);

/// Token responses are a few KiB at most.
const MAX_TOKEN_BYTES: usize = 64 * 1024;
/// The longest a token is trusted, whatever the registry says.
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// Tokens without `expires_in` live 60 s, as the token spec says.
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct ClientSettings {
    pub limits: Limits,
    /// Tags read per repository at most, for registries whose entry does not say (`maxtags`);
    /// projects with years of nightly tags have tens of thousands, and the newest are what
    /// matter.
    pub max_tags: usize,
    /// Folder of Docker's `config.json`, for its credentials and helpers.
    pub docker_config_dir: Option<std::path::PathBuf>,
    /// `REPO_USER`/`REPO_PASS`, tried last.
    pub fallback: Option<Credential>,
}

impl Default for ClientSettings {
    fn default() -> Self {
        ClientSettings {
            limits: Limits::default(),
            max_tags: DEFAULT_MAX_TAGS,
            docker_config_dir: None,
            fallback: None,
        }
    }
}

/// How a host wants to be authenticated, learnt from its `/v2/` ping or a 401.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostAuth {
    Anonymous,
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

/// What a request carried, so that a 401 tells what is worth renewing.
enum Sent {
    Nothing,
    Login { renewable: bool },
    Bearer(Secret),
}

/// Who asks: the registry's own login (`None`), or the named login (`registry.login.<name>`) a
/// container's label picks.
pub type Login<'a> = Option<&'a str>;

/// A token is for one scope and one login: two logins on one registry may see different
/// repositories, so their tokens never mix.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct TokenKey {
    realm: String,
    service: Option<String>,
    scope: String,
    login: Option<String>,
}

#[derive(Debug, Clone)]
struct Token {
    value: Secret,
    expires: Instant,
}

/// The digest a reference points to in the registry now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteDigest {
    pub digest: String,
    pub media_type: Option<String>,
}

/// Whether a container's image is what its reference points to now.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum DigestCheck {
    UpToDate {
        remote: String,
    },
    Changed {
        remote: String,
    },
    /// The image has no digest for this repository (built locally, or never pushed or pulled),
    /// so there is nothing to compare with.
    NoLocalDigest,
}

pub struct RegistryClient {
    transport: Transport,
    providers: Vec<Provider>,
    docker_config: Option<DockerConfig>,
    fallback: Option<Credential>,
    max_tags: usize,
    credentials: OnceMap<String, Option<Credential>>,
    /// `registry.login.<name>`: the logins containers pick by label.
    logins: HashMap<String, Option<Credential>>,
    ecr_keys: Vec<EcrKey>,
    /// ECR passwords by (access key ID, region), with when to renew them.
    ecr_tokens: Mutex<HashMap<(String, String), (Credential, Instant)>>,
    ecr_fetches: Gates<(String, String)>,
    host_auth: Mutex<HashMap<String, HostAuth>>,
    pings: OnceMap<String, HostAuth>,
    tokens: Mutex<HashMap<TokenKey, Token>>,
    token_fetches: Gates<TokenKey>,
    /// (repository, remote index digest, local image ID) → our platform unchanged?
    verdicts: Mutex<HashMap<(String, String, String), bool>>,
}

impl RegistryClient {
    pub fn new(config: &RegistriesConfig, settings: ClientSettings) -> Result<Self, RegistryError> {
        let setup = |detail: String| RegistryError::Protocol {
            host: "registry configuration".into(),
            detail,
        };
        let providers = providers::from_config(config).map_err(setup)?;
        let docker_config = match &settings.docker_config_dir {
            Some(dir) => DockerConfig::load(dir).map_err(|err| setup(err.to_string()))?,
            None => None,
        };
        let mut transport = Transport::new(settings.limits.clone())?;
        for provider in providers
            .iter()
            .filter(|p| p.cafile.is_some() || p.insecure)
        {
            let roots = match &provider.cafile {
                Some(file) => read_roots(file).map_err(setup)?,
                None => Vec::new(),
            };
            let tls = TlsOptions {
                roots,
                insecure: provider.insecure,
            };
            transport.set_tls(&provider.host, &tls)?;
        }
        for provider in &providers {
            // Requests go to the API host, which for Docker Hub is not the host references name.
            let host = match provider.host.as_str() {
                reference::DOCKER_HUB => reference::DOCKER_HUB_API,
                host => host,
            };
            transport.set_concurrency(host, provider.any_subdomain, provider.concurrency);
        }
        Ok(RegistryClient {
            transport,
            providers,
            docker_config,
            fallback: settings.fallback,
            max_tags: settings.max_tags,
            credentials: OnceMap::default(),
            logins: providers::named_logins(config),
            ecr_keys: providers::ecr_keys(config),
            ecr_tokens: Mutex::new(HashMap::new()),
            ecr_fetches: Gates::default(),
            host_auth: Mutex::new(HashMap::new()),
            pings: OnceMap::default(),
            tokens: Mutex::new(HashMap::new()),
            token_fetches: Gates::default(),
            verdicts: Mutex::new(HashMap::new()),
        })
    }

    /// Requests made so far, by host, kind and status.
    pub fn counts(&self) -> RequestCounts {
        self.transport.counts()
    }

    /// Each registry host with requests under way, and how long the oldest has waited.
    pub fn waiting(&self) -> std::collections::BTreeMap<String, std::time::Duration> {
        self.transport.waiting()
    }

    /// Tries per request, and the timeout of each.
    pub fn budget(&self) -> (u32, std::time::Duration) {
        self.transport.budget()
    }

    /// A scope for one check: identical questions within it are asked once.
    pub fn session(&self) -> Session<'_> {
        Session {
            client: self,
            digests: OnceMap::default(),
            tags: OnceMap::default(),
        }
    }

    fn provider(&self, image: &ImageRef) -> Option<&Provider> {
        self.providers.iter().find(|p| p.serves(&image.registry))
    }

    /// `http://` for loopback registries (as Docker does) and configured `http://` URLs.
    fn base_url(&self, image: &ImageRef) -> String {
        if let Some(url) = self.provider(image).and_then(|p| p.url.clone()) {
            return url;
        }
        let scheme = if image.is_loopback_registry() {
            "http"
        } else {
            "https"
        };
        format!("{scheme}://{}", image.api_host())
    }

    /// The digest `image` (its tag, or its digest) points to. HEAD, so Docker Hub does not
    /// count a pull; GET only where HEAD is refused or leaves the digest out.
    /// As `login`, when a container's label names one (`registry.login.<name>`).
    pub async fn manifest_digest(
        &self,
        image: &ImageRef,
        login: Login<'_>,
    ) -> Result<RemoteDigest, RegistryError> {
        let url = self.manifest_url(image, reference_of(image));
        let reply = self
            .repo_request(image, login, RequestKind::Head, Method::HEAD, &url, 0)
            .await?;
        match reply.status {
            StatusCode::OK => {
                if let Some(digest) = header(&reply.headers, "docker-content-digest") {
                    return Ok(RemoteDigest {
                        digest,
                        media_type: header(&reply.headers, CONTENT_TYPE.as_str()),
                    });
                }
            }
            StatusCode::NOT_FOUND => return Err(not_found(image)),
            StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_IMPLEMENTED => {}
            status => return Err(unexpected(image, "HEAD manifest", status)),
        }
        let reply = self.get_manifest(image, login, reference_of(image)).await?;
        let digest = header(&reply.headers, "docker-content-digest")
            .unwrap_or_else(|| manifest::sha256_digest(&reply.body));
        Ok(RemoteDigest {
            digest,
            media_type: header(&reply.headers, CONTENT_TYPE.as_str()),
        })
    }

    async fn get_manifest(
        &self,
        image: &ImageRef,
        login: Login<'_>,
        reference: &str,
    ) -> Result<Reply, RegistryError> {
        let url = self.manifest_url(image, reference);
        let reply = self
            .repo_request(
                image,
                login,
                RequestKind::Get,
                Method::GET,
                &url,
                MAX_MANIFEST_BYTES,
            )
            .await?;
        match reply.status {
            StatusCode::OK => Ok(reply),
            StatusCode::NOT_FOUND => Err(not_found(image)),
            status => Err(unexpected(image, "GET manifest", status)),
        }
    }

    fn manifest_url(&self, image: &ImageRef, reference: &str) -> String {
        format!(
            "{}/v2/{}/manifests/{reference}",
            self.base_url(image),
            image.repository
        )
    }

    /// Compares a container's image with what its reference points to now.
    pub async fn compare(
        &self,
        image: &ImageRef,
        login: Login<'_>,
        remote: &RemoteDigest,
        container: &ContainerInfo,
    ) -> Result<DigestCheck, RegistryError> {
        let local = local_digests(image, container);
        let remote_digest = remote.digest.clone();
        if local.is_empty() {
            return Ok(DigestCheck::NoLocalDigest);
        }
        if local.contains(&remote_digest.as_str()) {
            return Ok(DigestCheck::UpToDate {
                remote: remote_digest,
            });
        }
        let is_index = remote.media_type.as_deref().is_some_and(manifest::is_index);
        if !is_index {
            return Ok(DigestCheck::Changed {
                remote: remote_digest,
            });
        }
        // The index moved. Our platform's manifest may not have: the engine recorded the index
        // digest, so compare the platform manifest's config (the image ID) instead.
        let key = (
            image.name(),
            remote_digest.clone(),
            container.image_id.clone(),
        );
        let known = lock(&self.verdicts).get(&key).copied();
        let unchanged = match known {
            Some(unchanged) => unchanged,
            None => {
                let unchanged = self
                    .platform_unchanged(image, login, &remote_digest, container, &local)
                    .await?;
                lock(&self.verdicts).insert(key, unchanged);
                unchanged
            }
        };
        Ok(if unchanged {
            DigestCheck::UpToDate {
                remote: remote_digest,
            }
        } else {
            DigestCheck::Changed {
                remote: remote_digest,
            }
        })
    }

    async fn platform_unchanged(
        &self,
        image: &ImageRef,
        login: Login<'_>,
        index_digest: &str,
        container: &ContainerInfo,
        local: &[&str],
    ) -> Result<bool, RegistryError> {
        let protocol = |detail: String| RegistryError::Protocol {
            host: image.api_host().to_string(),
            detail: format!("{}: {detail}", image.familiar()),
        };
        let index = self.get_manifest(image, login, index_digest).await?;
        let Some(platform_digest) =
            manifest::platform_digest(&index.body, &container.platform).map_err(protocol)?
        else {
            // Our platform left the index: that is a change worth reporting.
            return Ok(false);
        };
        if local.contains(&platform_digest.as_str()) {
            return Ok(true);
        }
        let platform_manifest = self.get_manifest(image, login, &platform_digest).await?;
        let config = manifest::config_digest(&platform_manifest.body).map_err(protocol)?;
        Ok(config == container.image_id)
    }

    /// Every tag of the repository, following pagination, at most its registry's `maxtags`.
    /// As `login`, when a container's label names one (`registry.login.<name>`).
    pub async fn tags(
        &self,
        image: &ImageRef,
        login: Login<'_>,
    ) -> Result<Vec<String>, RegistryError> {
        let max_tags = self.provider(image).map_or(self.max_tags, |p| p.max_tags);
        let base = self.base_url(image);
        let mut url = format!("{base}/v2/{}/tags/list", image.repository);
        let mut tags = Vec::new();
        let mut visited = std::collections::HashSet::new();
        loop {
            let reply = self
                .repo_request(
                    image,
                    login,
                    RequestKind::Tags,
                    Method::GET,
                    &url,
                    tag_list::MAX_PAGE_BYTES,
                )
                .await?;
            match reply.status {
                StatusCode::OK => {}
                StatusCode::NOT_FOUND => return Err(not_found(image)),
                status => return Err(unexpected(image, "GET tags", status)),
            }
            let page =
                tag_list::parse_page(&reply.body).map_err(|detail| RegistryError::Protocol {
                    host: image.api_host().to_string(),
                    detail,
                })?;
            tags.extend(page);
            if tags.len() >= max_tags {
                tracing::warn!(image = %image.familiar(), max = max_tags, "Tag list truncated.");
                tags.truncate(max_tags);
                return Ok(tags);
            }
            visited.insert(url.clone());
            let next = header(&reply.headers, LINK.as_str())
                .and_then(|link| tag_list::next_page(&link, &base));
            match next {
                // Our credentials go to this registry only; and pages that link back to one
                // already read (to itself, or in a circle) end the list.
                Some(next) if next.starts_with(&format!("{base}/")) && !visited.contains(&next) => {
                    url = next
                }
                Some(next) if !visited.contains(&next) => {
                    tracing::warn!(image = %image.familiar(), "Tag list links to another host; stopping there.");
                    return Ok(tags);
                }
                _ => return Ok(tags),
            }
        }
    }

    /// A request to a repository, authenticated as its host asks. A 401 gets one more try
    /// only when trying again can change something: a bearer token the registry stopped
    /// accepting is renewed, an ECR password is renewed, or the host now asks for another kind
    /// of authentication. A rejected login is not sent twice (accounts lock after failures).
    async fn repo_request(
        &self,
        image: &ImageRef,
        login: Login<'_>,
        kind: RequestKind,
        method: Method,
        url: &str,
        body_limit: usize,
    ) -> Result<Reply, RegistryError> {
        let host = image.api_host().to_string();
        // A label naming a login that is not configured would otherwise ask anonymously.
        if let Some(name) = login
            && !self.logins.contains_key(&crate::config::login_key(name))
        {
            return Err(RegistryError::Unauthorized {
                host,
                detail: format!(
                    "the container's label names the login `{name}`, and no registry.login.{name} is configured"
                ),
            });
        }
        let scope = format!("repository:{}:pull", image.repository);
        let mut rejected: Option<Secret> = None;
        let mut renew_login = false;
        for _ in 0..2 {
            let mut headers = HeaderMap::new();
            headers.insert(ACCEPT_HEADER, HeaderValue::from_static(ACCEPT));
            let (value, sent) = self
                .authorization(image, login, &scope, rejected.take(), renew_login)
                .await?;
            if let Some(value) = value {
                headers.insert(AUTHORIZATION, value);
            }
            let request = Request {
                kind,
                method: method.clone(),
                url,
                headers,
                body_limit,
                form: None,
            };
            let reply = self.transport.send(&host, &request).await?;
            if reply.status != StatusCode::UNAUTHORIZED {
                return Ok(reply);
            }
            let before = lock(&self.host_auth).get(&host).cloned();
            let learnt = match header_lossy(&reply.headers, WWW_AUTHENTICATE.as_str()) {
                Some(auth) => Some(host_auth_from(&host, &auth)?),
                None => None,
            };
            let changed = learnt.is_some() && learnt != before;
            if let Some(learnt) = learnt {
                lock(&self.host_auth).insert(host.clone(), learnt);
            }
            match sent {
                Sent::Bearer(token) => rejected = Some(token),
                Sent::Login { renewable: true } => renew_login = true,
                _ if changed => {}
                _ => break,
            }
        }
        Err(RegistryError::Unauthorized {
            host,
            detail: "credentials rejected".into(),
        })
    }

    /// The `Authorization` header for a request, and what it carried. `rejected` is a token the
    /// registry just refused; `renew_login` asks for a fresh ECR password.
    async fn authorization(
        &self,
        image: &ImageRef,
        login: Login<'_>,
        scope: &str,
        rejected: Option<Secret>,
        renew_login: bool,
    ) -> Result<(Option<HeaderValue>, Sent), RegistryError> {
        let host = image.api_host().to_string();
        let known = lock(&self.host_auth).get(&host).cloned();
        let mode = match known {
            Some(mode) => mode,
            None => {
                // Only a successful ping is remembered: an outage is asked about again next time.
                let mode = self
                    .pings
                    .get_or_try_init(host.clone(), self.ping(image))
                    .await?;
                lock(&self.host_auth)
                    .entry(host.clone())
                    .or_insert(mode)
                    .clone()
            }
        };
        let renewable = ecr::ecr_region(&image.registry).is_some();
        // Credentials are looked up only when the registry asks for them: a broken
        // `credsStore` must not fail registries that need no login.
        match mode {
            HostAuth::Anonymous => Ok((None, Sent::Nothing)),
            HostAuth::Basic => match self.credential(image, login, renew_login).await? {
                Some(Credential::Basic { username, password }) => Ok((
                    Some(basic_header(&username, &password)),
                    Sent::Login { renewable },
                )),
                _ => Err(RegistryError::Unauthorized {
                    host,
                    detail:
                        "the registry wants a login and password, and none is configured for it"
                            .into(),
                }),
            },
            HostAuth::Bearer { realm, service } => {
                // A bearer registry may serve public images anonymously: a credential that
                // cannot be read is worth a warning and an anonymous token, and the error
                // only if the registry then refuses.
                let credential = match self.credential(image, login, renew_login).await {
                    Ok(credential) => credential,
                    Err(err) => {
                        tracing::warn!(host = %host, error = %err, "Cannot read credentials; asking for an anonymous token.");
                        None
                    }
                };
                let realm = self
                    .provider(image)
                    .and_then(|p| p.token_realm.clone())
                    .unwrap_or(realm);
                let key = TokenKey {
                    realm,
                    service,
                    scope: scope.to_string(),
                    login: login.map(str::to_string),
                };
                let token = self
                    .token(&key, credential.as_ref(), rejected.as_ref())
                    .await?;
                let value =
                    HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
                        RegistryError::Protocol {
                            host,
                            detail: "token is not a valid header value".into(),
                        }
                    })?;
                Ok((Some(sensitive(value)), Sent::Bearer(token)))
            }
        }
    }

    async fn ping(&self, image: &ImageRef) -> Result<HostAuth, RegistryError> {
        let host = image.api_host().to_string();
        let url = format!("{}/v2/", self.base_url(image));
        let request = Request {
            kind: RequestKind::Ping,
            method: Method::GET,
            url: &url,
            headers: HeaderMap::new(),
            body_limit: MAX_TOKEN_BYTES,
            form: None,
        };
        let reply = self.transport.send(&host, &request).await?;
        tracing::debug!(
            host = %host,
            status = reply.status.as_u16(),
            "Registry answered the ping."
        );
        match reply.status {
            StatusCode::OK => Ok(HostAuth::Anonymous),
            StatusCode::UNAUTHORIZED => {
                match header_lossy(&reply.headers, WWW_AUTHENTICATE.as_str()) {
                    Some(auth) => host_auth_from(&host, &auth),
                    None => Err(RegistryError::Protocol {
                        host,
                        detail: "401 without a WWW-Authenticate challenge".into(),
                    }),
                }
            }
            status => Err(RegistryError::Protocol {
                host,
                detail: format!("not a registry: GET /v2/ answered {}", status.as_u16()),
            }),
        }
    }

    /// A cached token, or a new one. Concurrent callers for one scope wait for one fetch; a
    /// `rejected` token is dropped only if it is still the cached one, so callers that were
    /// refused together renew it once.
    async fn token(
        &self,
        key: &TokenKey,
        credential: Option<&Credential>,
        rejected: Option<&Secret>,
    ) -> Result<Secret, RegistryError> {
        let gate = self.token_fetches.gate(key);
        let _guard = gate.lock().await;
        if let Some(rejected) = rejected {
            let mut tokens = lock(&self.tokens);
            if tokens.get(key).is_some_and(|t| &t.value == rejected) {
                tokens.remove(key);
            }
        }
        if let Some(token) = lock(&self.tokens).get(key) {
            if token.expires > Instant::now() {
                return Ok(token.value.clone());
            }
        }
        let token = self.fetch_token(key, credential).await?;
        let value = token.value.clone();
        lock(&self.tokens).insert(key.clone(), token);
        Ok(value)
    }

    async fn fetch_token(
        &self,
        key: &TokenKey,
        credential: Option<&Credential>,
    ) -> Result<Token, RegistryError> {
        let realm = reqwest::Url::parse(&key.realm).map_err(|_| RegistryError::Protocol {
            host: "token realm".into(),
            detail: "realm is not a URL".into(),
        })?;
        let realm_host = match realm.port() {
            Some(port) => format!("{}:{port}", realm.host_str().unwrap_or_default()),
            None => realm.host_str().unwrap_or_default().to_string(),
        };
        let mut query = vec![("scope", key.scope.clone())];
        if let Some(service) = &key.service {
            query.push(("service", service.clone()));
        }
        let mut headers = HeaderMap::new();
        let (method, url, form) = match credential {
            Some(Credential::IdentityToken(refresh_token)) => {
                query.push(("grant_type", "refresh_token".into()));
                query.push(("refresh_token", refresh_token.expose().to_string()));
                query.push(("client_id", "tidewatch".into()));
                (Method::POST, key.realm.clone(), Some(query))
            }
            other => {
                if let Some(Credential::Basic { username, password }) = other {
                    headers.insert(AUTHORIZATION, basic_header(username, password));
                }
                let mut url = realm.clone();
                url.query_pairs_mut()
                    .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
                (Method::GET, url.to_string(), None)
            }
        };
        let request = Request {
            kind: RequestKind::Token,
            method,
            url: &url,
            headers,
            body_limit: MAX_TOKEN_BYTES,
            form,
        };
        let reply = self.transport.send(&realm_host, &request).await?;
        match reply.status {
            StatusCode::OK => {}
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(RegistryError::Unauthorized {
                    host: realm_host,
                    detail: "the token service rejected the credentials".into(),
                });
            }
            status => {
                return Err(RegistryError::Protocol {
                    host: realm_host,
                    detail: format!("token request answered {}", status.as_u16()),
                });
            }
        }
        #[derive(serde::Deserialize)]
        struct TokenReply {
            token: Option<String>,
            access_token: Option<String>,
            expires_in: Option<u64>,
        }
        let parsed: TokenReply =
            serde_json::from_slice(&reply.body).map_err(|_| RegistryError::Protocol {
                host: realm_host.clone(),
                detail: "token response is not valid JSON".into(),
            })?;
        let value = parsed
            .token
            .or(parsed.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| RegistryError::Protocol {
                host: realm_host,
                detail: "token response has no token".into(),
            })?;
        // A registry's word on lifetime is capped: a day is plenty, and u64::MAX seconds would
        // overflow the clock.
        let lifetime = parsed
            .expires_in
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_TOKEN_LIFETIME)
            .min(MAX_TOKEN_LIFETIME);
        // Renew a little early so a token does not expire between cache and registry.
        let margin = (lifetime / 10).min(Duration::from_secs(30));
        Ok(Token {
            value: Secret::new(value),
            expires: Instant::now() + (lifetime - margin),
        })
    }

    /// The login the engine needs to pull `image` (the same the checks use), or `None` for an
    /// anonymous pull.
    /// As `login`, when a container's label names one (`registry.login.<name>`).
    pub async fn pull_credential(
        &self,
        image: &ImageRef,
        login: Login<'_>,
    ) -> Result<Option<Credential>, RegistryError> {
        self.credential(image, login, false).await
    }

    /// The named login a container's label picks, else: configured registry first (for ECR,
    /// a password from the ECR API), then Docker's config.json, then `REPO_USER`/`REPO_PASS`.
    async fn credential(
        &self,
        image: &ImageRef,
        login: Login<'_>,
        refresh: bool,
    ) -> Result<Option<Credential>, RegistryError> {
        match login.map(|name| (name, self.logins.get(&crate::config::login_key(name)))) {
            Some((_, Some(Some(credential)))) => return Ok(Some(credential.clone())),
            // A named login without one: the registry's own, below.
            Some((_, Some(None))) | None => {}
            Some((name, None)) => {
                return Err(RegistryError::Unauthorized {
                    host: image.registry.clone(),
                    detail: format!("no registry.login.{name} is configured"),
                });
            }
        }
        let ecr_key = ecr::ecr_region(&image.registry)
            .and_then(|region| self.ecr_keys.iter().find(|k| k.region == region));
        if let Some(key) = ecr_key {
            return self.ecr_credential(image, key, refresh).await.map(Some);
        }
        let host = image.registry.clone();
        // A helper that failed once is asked again next time; an answer is kept.
        self.credentials
            .get_or_try_init(host.clone(), async {
                if let Some(credential) = self.provider(image).and_then(|p| p.credential.clone()) {
                    return Ok(Some(credential));
                }
                if let Some(docker) = &self.docker_config {
                    let found = docker.credential_for(&host).await.map_err(|err| {
                        RegistryError::Unauthorized {
                            host: host.clone(),
                            detail: err.to_string(),
                        }
                    })?;
                    if found.is_some() {
                        return Ok(found);
                    }
                }
                Ok(self.fallback.clone())
            })
            .await
    }

    /// An ECR password, cached until shortly before it expires; `refresh` (after a 401) drops it.
    async fn ecr_credential(
        &self,
        image: &ImageRef,
        key: &EcrKey,
        refresh: bool,
    ) -> Result<Credential, RegistryError> {
        let id = (key.access_key_id.clone(), key.region.clone());
        let gate = self.ecr_fetches.gate(&id);
        let _guard = gate.lock().await;
        if refresh {
            lock(&self.ecr_tokens).remove(&id);
        }
        if let Some((credential, renew_at)) = lock(&self.ecr_tokens).get(&id) {
            if *renew_at > Instant::now() {
                return Ok(credential.clone());
            }
        }
        let now = std::time::SystemTime::now();
        let endpoint = ecr::api_endpoint(&key.region);
        let token = ecr::authorization_token(
            self.transport.http(),
            &endpoint,
            &key.region,
            &key.access_key_id,
            &key.secret,
            now,
        )
        .await
        .map_err(|err| match err {
            ecr::EcrError::Rejected { .. } => RegistryError::Unauthorized {
                host: image.registry.clone(),
                detail: err.to_string(),
            },
            ecr::EcrError::Transport { detail } => RegistryError::Transport {
                host: "ecr api".into(),
                detail,
            },
            ecr::EcrError::Protocol { detail } => RegistryError::Protocol {
                host: "ecr api".into(),
                detail,
            },
        })?;
        let lifetime = token
            .expires_at
            .duration_since(now)
            .unwrap_or_default()
            .min(ecr::TOKEN_LIFETIME);
        let renew_at = Instant::now() + lifetime.saturating_sub(ECR_REFRESH_MARGIN);
        lock(&self.ecr_tokens).insert(id, (token.credential.clone(), renew_at));
        Ok(token.credential)
    }
}

/// One check's view of the client: the first caller for a key does the work, the others share
/// its answer, so 300 containers on 50 references make 50 HEADs.
pub struct Session<'c> {
    client: &'c RegistryClient,
    digests: OnceMap<String, Result<RemoteDigest, RegistryError>>,
    tags: OnceMap<String, Result<Arc<Vec<String>>, RegistryError>>,
}

/// A session's key for an answer about `name` as `login`: two logins may get two answers.
fn session_key(name: String, login: Login<'_>) -> String {
    match login {
        Some(login) => format!("{name} as {login}"),
        None => name,
    }
}

impl Session<'_> {
    /// [`RegistryClient::manifest_digest`], asked once per session for each reference and
    /// login.
    pub async fn manifest_digest(
        &self,
        image: &ImageRef,
        login: Login<'_>,
    ) -> Result<RemoteDigest, RegistryError> {
        let key = session_key(format!("{}@{}", image.name(), reference_of(image)), login);
        self.digests
            .get_or_init(key, self.client.manifest_digest(image, login))
            .await
    }

    /// [`RegistryClient::tags`], asked once per session for each repository and login.
    pub async fn tags(
        &self,
        image: &ImageRef,
        login: Login<'_>,
    ) -> Result<Arc<Vec<String>>, RegistryError> {
        self.tags
            .get_or_init(session_key(image.name(), login), async {
                self.client.tags(image, login).await.map(Arc::new)
            })
            .await
    }

    /// The digest check for one container, sharing the HEAD with every other container on the
    /// same reference.
    /// As `login`, when a container's label names one (`registry.login.<name>`).
    pub async fn check_digest(
        &self,
        image: &ImageRef,
        login: Login<'_>,
        container: &ContainerInfo,
    ) -> Result<DigestCheck, RegistryError> {
        // Nothing local to compare with (a local build): no need to ask the registry.
        if local_digests(image, container).is_empty() {
            return Ok(DigestCheck::NoLocalDigest);
        }
        let remote = self.manifest_digest(image, login).await?;
        self.client.compare(image, login, &remote, container).await
    }
}

/// One lock per key, so that concurrent callers needing the same token fetch it once and the
/// others find it cached.
struct Gates<K> {
    gates: Mutex<HashMap<K, Arc<tokio::sync::Mutex<()>>>>,
}

impl<K> Default for Gates<K> {
    fn default() -> Self {
        Gates {
            gates: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash + Clone> Gates<K> {
    fn gate(&self, key: &K) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.gates).entry(key.clone()).or_default().clone()
    }
}

/// Async memoisation: the first caller for a key runs the future, later ones await its result.
struct OnceMap<K, V> {
    cells: Mutex<HashMap<K, Arc<OnceCell<V>>>>,
}

impl<K, V> Default for OnceMap<K, V> {
    fn default() -> Self {
        OnceMap {
            cells: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash, V: Clone> OnceMap<K, V> {
    async fn get_or_init(&self, key: K, init: impl Future<Output = V>) -> V {
        let cell = lock(&self.cells).entry(key).or_default().clone();
        cell.get_or_init(|| init).await.clone()
    }

    /// Like `get_or_init`, but an error is returned and not kept: the next caller tries again.
    async fn get_or_try_init<E>(
        &self,
        key: K,
        init: impl Future<Output = Result<V, E>>,
    ) -> Result<V, E> {
        let cell = lock(&self.cells).entry(key).or_default().clone();
        cell.get_or_try_init(|| init).await.cloned()
    }
}

/// Certificates from a PEM bundle; an error names the file, never its content.
fn read_roots(file: &std::path::Path) -> Result<Vec<reqwest::Certificate>, String> {
    let pem = crate::config::file::read(file, crate::config::file::FILE_LIMIT)
        .map_err(|err| format!("CA file: {err}"))?;
    let roots = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|_| format!("CA file {} holds no PEM certificate", file.display()))?;
    if roots.is_empty() {
        return Err(format!(
            "CA file {} holds no PEM certificate",
            file.display()
        ));
    }
    Ok(roots)
}

/// The digests the engine recorded for this image in `image`'s repository.
fn local_digests<'c>(image: &ImageRef, container: &'c ContainerInfo) -> Vec<&'c str> {
    container
        .repo_digests
        .iter()
        .filter_map(|entry| {
            let (name, digest) = entry.rsplit_once('@')?;
            let same_repo = ImageRef::parse(name)
                .is_ok_and(|r| r.registry == image.registry && r.repository == image.repository);
            same_repo.then_some(digest)
        })
        .collect()
}

fn host_auth_from(host: &str, header: &str) -> Result<HostAuth, RegistryError> {
    let challenges = challenge::parse(header).map_err(|err| RegistryError::Protocol {
        host: host.to_string(),
        detail: format!("bad WWW-Authenticate: {err}"),
    })?;
    let bearer = challenges.iter().find_map(|c| match c {
        Challenge::Bearer { realm, service, .. } => Some(HostAuth::Bearer {
            realm: realm.clone(),
            service: service.clone(),
        }),
        _ => None,
    });
    let basic = challenges
        .iter()
        .any(|c| matches!(c, Challenge::Basic { .. }));
    match (bearer, basic) {
        (Some(bearer), _) => Ok(bearer),
        (None, true) => Ok(HostAuth::Basic),
        (None, false) => Err(RegistryError::Protocol {
            host: host.to_string(),
            detail: "no usable authentication challenge".into(),
        }),
    }
}

fn basic_header(username: &str, password: &Secret) -> HeaderValue {
    let encoded = base64::engine::general_purpose::STANDARD
        .encode(format!("{username}:{}", password.expose()));
    match HeaderValue::from_str(&format!("Basic {encoded}")) {
        Ok(value) => sensitive(value),
        Err(_) => HeaderValue::from_static(""),
    }
}

/// Marks a header so that reqwest and hyper never print it.
fn sensitive(mut value: HeaderValue) -> HeaderValue {
    value.set_sensitive(true);
    value
}

fn reference_of(image: &ImageRef) -> &str {
    image
        .digest
        .as_deref()
        .or(image.tag.as_deref())
        .unwrap_or("latest")
}

/// A header that may hold non-ASCII junk: its bytes, lossily, so that the parser can say what is
/// wrong with it instead of it seeming absent.
fn header_lossy(headers: &HeaderMap, name: &str) -> Option<String> {
    let value = headers.get(name)?;
    Some(String::from_utf8_lossy(value.as_bytes()).trim().to_string())
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)?
        .to_str()
        .ok()
        .map(|s| s.trim().to_string())
}

fn not_found(image: &ImageRef) -> RegistryError {
    RegistryError::NotFound {
        image: image.familiar(),
    }
}

fn unexpected(image: &ImageRef, what: &str, status: StatusCode) -> RegistryError {
    RegistryError::Protocol {
        host: image.api_host().to_string(),
        detail: format!("{what} {} answered {}", image.familiar(), status.as_u16()),
    }
}

/// Poisoning only means a task panicked while holding a map of plain values; it is still usable.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
