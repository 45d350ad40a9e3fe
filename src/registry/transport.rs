//! HTTP to registries, with every bound a misbehaving registry needs: a timeout on the whole
//! exchange, a size limit on every body, a bounded number of retries with backoff for 5xx and
//! timeouts, a concurrency limit per host, and a host that answered 429 is left alone until its
//! `Retry-After` has passed. Every request is counted by host, kind and status, which is what the
//! bench and the metrics report.

use super::error::RegistryError;
use bytes::Bytes;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Limits that keep one registry from hurting the daemon. Tests shorten them.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The whole exchange, connect to last body byte: a response that never ends is cut here.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Extra attempts after a 5xx or a timeout.
    pub retries: u32,
    /// First backoff; doubled each retry.
    pub backoff: Duration,
    /// Requests in flight to one host at once, for hosts whose registry entry does not say
    /// (`concurrency`).
    pub per_host_concurrency: usize,
    /// When a 429 carries no `Retry-After`.
    pub default_retry_after: Duration,
    /// Never wait longer than this, whatever a registry says.
    pub max_retry_after: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            retries: 2,
            backoff: Duration::from_millis(500),
            per_host_concurrency: crate::config::DEFAULT_CONCURRENCY,
            default_retry_after: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(3600),
        }
    }
}

/// What a request is for, as the counters report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestKind {
    Ping,
    Token,
    Head,
    Get,
    Tags,
}

/// Requests by (host, kind, status); status 0 is a request that got no HTTP answer.
pub type RequestCounts = BTreeMap<(String, RequestKind, u16), u64>;

pub struct Request<'a> {
    pub kind: RequestKind,
    pub method: Method,
    pub url: &'a str,
    pub headers: HeaderMap,
    /// Largest body accepted; larger is a protocol error, and the rest is never read.
    pub body_limit: usize,
    pub form: Option<Vec<(&'a str, String)>>,
}

/// An HTTP answer; the body is read only for 2xx.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

struct HostState {
    blocked_until: Mutex<Option<Instant>>,
    permits: Arc<Semaphore>,
}

/// TLS settings for one registry host.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// PEM certificates trusted besides the system's roots.
    pub roots: Vec<reqwest::Certificate>,
    /// Accept any certificate: only where the user opted in for that registry.
    pub insecure: bool,
}

fn build_client(
    limits: &Limits,
    tls: &TlsOptions,
    host: &str,
) -> Result<reqwest::Client, RegistryError> {
    let mut builder = reqwest::Client::builder()
        .timeout(limits.timeout)
        .connect_timeout(limits.connect_timeout)
        .user_agent(concat!("tidewatch/", env!("CARGO_PKG_VERSION")))
        // Registries redirect blob and token requests to CDNs; a few hops are normal.
        .redirect(reqwest::redirect::Policy::limited(5))
        .tls_danger_accept_invalid_certs(tls.insecure);
    for root in &tls.roots {
        builder = builder.add_root_certificate(root.clone());
    }
    builder.build().map_err(|err| {
        // reqwest says only "builder error"; the cause (often: no CA certificates on this
        // system, in a minimal image) is what a user can act on.
        let mut detail = format!("cannot set up HTTP: {err}");
        let mut source = std::error::Error::source(&err);
        while let Some(cause) = source {
            detail.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        RegistryError::Transport {
            host: host.to_string(),
            detail,
        }
    })
}

pub struct Transport {
    client: reqwest::Client,
    /// Hosts with their own TLS settings; the rest use `client`.
    tls_clients: HashMap<String, reqwest::Client>,
    limits: Limits,
    hosts: Mutex<HashMap<String, Arc<HostState>>>,
    /// Configured concurrency per host (or, when the flag is set, per domain suffix).
    concurrency: Vec<(String, bool, usize)>,
    counts: Mutex<RequestCounts>,
    /// Requests under way (retries included): their host and when they began, for a progress
    /// line that names the registry a slow check waits for.
    under_way: Mutex<BTreeMap<u64, (String, Instant)>>,
    next_request: std::sync::atomic::AtomicU64,
}

/// Removes a request from `under_way` however it ends (answered, failed, or dropped).
struct UnderWay<'a> {
    transport: &'a Transport,
    id: u64,
}

impl Drop for UnderWay<'_> {
    fn drop(&mut self) {
        lock(&self.transport.under_way).remove(&self.id);
    }
}

impl Transport {
    pub fn new(limits: Limits) -> Result<Self, RegistryError> {
        let client = build_client(&limits, &TlsOptions::default(), "registry client")?;
        Ok(Transport {
            client,
            tls_clients: HashMap::new(),
            limits,
            hosts: Mutex::new(HashMap::new()),
            concurrency: Vec::new(),
            counts: Mutex::new(BTreeMap::new()),
            under_way: Mutex::new(BTreeMap::new()),
            next_request: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Each host with requests under way, and how long the oldest has waited.
    pub fn waiting(&self) -> BTreeMap<String, Duration> {
        let now = Instant::now();
        let mut hosts = BTreeMap::new();
        for (host, since) in lock(&self.under_way).values() {
            let waited = now.saturating_duration_since(*since);
            let longest: &mut Duration = hosts.entry(host.clone()).or_default();
            *longest = (*longest).max(waited);
        }
        hosts
    }

    /// The longest a request may take: every try's timeout, the backoffs between them.
    pub fn budget(&self) -> (u32, Duration) {
        (self.limits.retries + 1, self.limits.timeout)
    }

    /// Requests to `host` use their own TLS settings (a private CA, or no verification).
    pub fn set_tls(&mut self, host: &str, tls: &TlsOptions) -> Result<(), RegistryError> {
        let client = build_client(&self.limits, tls, host)?;
        self.tls_clients.insert(host.to_ascii_lowercase(), client);
        Ok(())
    }

    /// At most `limit` requests in flight to `host` at once; with `any_subdomain`, to each host
    /// under the domain suffix `host` (`.azurecr.io`).
    pub fn set_concurrency(&mut self, host: &str, any_subdomain: bool, limit: usize) {
        self.concurrency
            .push((host.to_ascii_lowercase(), any_subdomain, limit.max(1)));
    }

    fn concurrency_for(&self, host: &str) -> usize {
        let host = host.to_ascii_lowercase();
        self.concurrency
            .iter()
            .find(|(pattern, suffix, _)| match suffix {
                true => host.ends_with(pattern.as_str()) && host.len() > pattern.len(),
                false => *pattern == host,
            })
            .map_or(self.limits.per_host_concurrency, |(_, _, limit)| *limit)
    }

    /// The shared HTTP client, with this transport's timeouts, for calls that are not registry
    /// requests (the ECR API).
    pub fn http(&self) -> &reqwest::Client {
        &self.client
    }

    pub fn counts(&self) -> RequestCounts {
        lock(&self.counts).clone()
    }

    fn host(&self, host: &str) -> Arc<HostState> {
        lock(&self.hosts)
            .entry(host.to_string())
            .or_insert_with(|| {
                Arc::new(HostState {
                    blocked_until: Mutex::new(None),
                    permits: Arc::new(Semaphore::new(self.concurrency_for(host))),
                })
            })
            .clone()
    }

    fn count(&self, host: &str, kind: RequestKind, status: u16) {
        *lock(&self.counts)
            .entry((host.to_string(), kind, status))
            .or_default() += 1;
    }

    /// Sends with retries. 401, 404 and other 4xx come back as replies for the caller to read;
    /// 429, and 5xx or timeouts that outlast the retries, come back as errors.
    pub async fn send(&self, host: &str, request: &Request<'_>) -> Result<Reply, RegistryError> {
        let state = self.host(host);
        let id = self
            .next_request
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        lock(&self.under_way).insert(id, (host.to_string(), Instant::now()));
        let _under_way = UnderWay {
            transport: self,
            id,
        };
        let mut attempt = 0;
        loop {
            if let Some(until) = *lock(&state.blocked_until) {
                let now = Instant::now();
                if until > now {
                    return Err(RegistryError::RateLimited {
                        host: host.to_string(),
                        retry_after: Some(until - now),
                    });
                }
            }
            let outcome = {
                // The semaphore is never closed, so acquiring only waits.
                let _permit = state.permits.acquire().await.ok();
                self.once(host, request).await
            };
            let retryable = match &outcome {
                Ok(reply) if reply.status == StatusCode::TOO_MANY_REQUESTS => {
                    let wait = retry_after(&reply.headers)
                        .unwrap_or(self.limits.default_retry_after)
                        .min(self.limits.max_retry_after);
                    *lock(&state.blocked_until) = Some(Instant::now() + wait);
                    tracing::warn!(
                        host,
                        retry_after_s = wait.as_secs(),
                        "Registry rate limit hit; pausing requests to it."
                    );
                    return Err(RegistryError::RateLimited {
                        host: host.to_string(),
                        retry_after: Some(wait),
                    });
                }
                Ok(reply) => reply.status.is_server_error(),
                Err(Attempt::Retryable(_)) => true,
                Err(Attempt::Final(_)) => false,
            };
            if !retryable || attempt >= self.limits.retries {
                return match outcome {
                    Ok(reply) if reply.status.is_server_error() => Err(RegistryError::Transport {
                        host: host.to_string(),
                        detail: format!(
                            "server error {} after {} attempts",
                            reply.status.as_u16(),
                            attempt + 1
                        ),
                    }),
                    Ok(reply) => Ok(reply),
                    Err(Attempt::Retryable(err) | Attempt::Final(err)) => Err(err),
                };
            }
            let backoff = self.limits.backoff * 2u32.saturating_pow(attempt);
            tracing::debug!(
                host,
                attempt,
                backoff_ms = backoff.as_millis() as u64,
                "Retrying registry request."
            );
            tokio::time::sleep(backoff).await;
            attempt += 1;
        }
    }

    async fn once(&self, host: &str, request: &Request<'_>) -> Result<Reply, Attempt> {
        let client = self
            .tls_clients
            .get(&host.to_ascii_lowercase())
            .unwrap_or(&self.client);
        let mut builder = client
            .request(request.method.clone(), request.url)
            .headers(request.headers.clone());
        if let Some(form) = &request.form {
            builder = builder.form(form);
        }
        let mut response = match builder.send().await {
            Ok(response) => response,
            Err(err) => {
                self.count(host, request.kind, 0);
                return Err(transport_error(host, &err));
            }
        };
        let status = response.status();
        self.count(host, request.kind, status.as_u16());
        let headers = response.headers().clone();
        // A HEAD reply has no body, whatever its Content-Length says (over HTTP/2 that header
        // is reported as-is: the size of the manifest a GET would return).
        if !status.is_success() || request.method == reqwest::Method::HEAD {
            return Ok(Reply {
                status,
                headers,
                body: Bytes::new(),
            });
        }
        let too_large = || {
            Attempt::Final(RegistryError::Protocol {
                host: host.to_string(),
                detail: format!("response larger than {} bytes", request.body_limit),
            })
        };
        if response
            .content_length()
            .is_some_and(|n| n > request.body_limit as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > request.body_limit {
                        return Err(too_large());
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(err) => return Err(transport_error(host, &err)),
            }
        }
        Ok(Reply {
            status,
            headers,
            body: body.into(),
        })
    }
}

enum Attempt {
    Retryable(RegistryError),
    Final(RegistryError),
}

fn transport_error(host: &str, err: &reqwest::Error) -> Attempt {
    let detail = if err.is_timeout() {
        "timed out".to_string()
    } else if err.is_connect() {
        format!("cannot connect: {}", root_cause(err))
    } else {
        root_cause(err)
    };
    let error = RegistryError::Transport {
        host: host.to_string(),
        detail,
    };
    if err.is_timeout() || err.is_connect() || err.is_request() || err.is_body() {
        Attempt::Retryable(error)
    } else {
        Attempt::Final(error)
    }
}

/// reqwest's outer messages include the URL; the innermost cause is what a user can act on,
/// and it carries no query string (where a token could be).
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// `Retry-After` as seconds or as an HTTP date (RFC 9110 allows both; a date in the past
/// means now). Anything else is treated as absent.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    retry_after_at(headers, std::time::SystemTime::now())
}

fn retry_after_at(headers: &HeaderMap, now: std::time::SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or_default())
}

/// A poisoned lock only means another task panicked mid-update of a counter or a map of
/// plain values; the data is still usable.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        let at = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(RETRY_AFTER, value.parse().unwrap());
            retry_after_at(&headers, now)
        };
        assert_eq!(retry_after_at(&HeaderMap::new(), now), None);
        assert_eq!(at("7"), Some(Duration::from_secs(7)));
        assert_eq!(at(" 120 "), Some(Duration::from_secs(120)));
        // The three date forms HTTP allows: IMF-fixdate, RFC 850, asctime.
        assert_eq!(
            at("Wed, 21 Oct 2015 07:30:00 GMT"),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            at("Wednesday, 21-Oct-15 07:29:00 GMT"),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            at("Wed Oct 21 07:28:30 2015"),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            at("Tue, 20 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO),
            "past: now"
        );
        assert_eq!(at("soon"), None);
        assert_eq!(at("-5"), None);
    }

    #[test]
    fn configured_concurrency_applies_to_its_host_or_domain() {
        let mut transport = Transport::new(Limits::default()).unwrap();
        transport.set_concurrency("registry.lan:5000", false, 1);
        transport.set_concurrency(".azurecr.io", true, 9);
        assert_eq!(transport.concurrency_for("Registry.lan:5000"), 1);
        assert_eq!(transport.concurrency_for("registry.lan"), 4);
        assert_eq!(transport.concurrency_for("x.azurecr.io"), 9);
        assert_eq!(transport.concurrency_for("azurecr.io"), 4);
    }
}
