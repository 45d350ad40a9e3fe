//! Who may read and who may act. An API token (`Authorization: Bearer <token>`) or one of WUD's
//! basic logins (htpasswd hashes: bcrypt, Apache MD5, SHA-1) proves a caller; handlers take a
//! [`Reader`] or an [`Actor`] and so cannot forget the check. Tokens are compared in constant
//! time, and neither they nor passwords appear in a log line or an answer.

use crate::config::{Access, AuthConfig, Secret, ServerConfig};
use crate::server::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::sync::Mutex;
use subtle::ConstantTimeEq;

/// How many proven basic logins are remembered, so that a browser sending its login with every
/// request costs one bcrypt (tens of milliseconds of CPU) per session, not per request.
const REMEMBERED_LOGINS: usize = 64;

/// The credentials the server accepts, and what each access needs.
pub struct Auth {
    tokens: Vec<Secret>,
    /// Accepted on Watchtower's `/v1/*` only, beside `tokens`.
    watchtower_token: Option<Secret>,
    logins: Vec<(String, Secret)>,
    read: Access,
    actions: Access,
    metrics_open: bool,
    /// SHA-256 of `user:password` pairs already proven.
    proven: Mutex<HashSet<[u8; 32]>>,
}

/// What a request proved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    None,
    /// The API token, or a basic login.
    Valid,
    /// Credentials were given and are wrong.
    Wrong,
}

/// Where a route sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Read,
    Act,
    Metrics,
    /// Watchtower's `/v1/*`: actions, and Watchtower's token is accepted too.
    Watchtower,
}

/// Constant-time equality of two secrets of any length: their digests are compared, so neither
/// the content nor the length leaks through timing.
pub fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    let a = Sha256::digest(given);
    let b = Sha256::digest(expected);
    a.ct_eq(&b).into()
}

impl Auth {
    pub fn new(server: &ServerConfig, auth: &AuthConfig) -> Self {
        Auth {
            tokens: server.token.iter().cloned().collect(),
            watchtower_token: server.watchtower.token.clone(),
            logins: auth
                .basic
                .values()
                .map(|l| (l.user.clone(), l.hash.clone()))
                .collect(),
            read: server.read.unwrap_or(if auth.basic.is_empty() {
                Access::Open
            } else {
                Access::Token
            }),
            actions: server.actions,
            metrics_open: server.metrics.auth == Some(false),
            proven: Mutex::new(HashSet::new()),
        }
    }

    /// Whether `need` is open to anyone.
    pub fn open(&self, need: Need) -> bool {
        match need {
            Need::Read => self.read == Access::Open,
            Need::Metrics => self.metrics_open || self.read == Access::Open,
            Need::Act | Need::Watchtower => self.actions == Access::Open,
        }
    }

    /// Whether `token` is a valid API token (for `need`).
    pub fn token_valid(&self, token: &str, need: Need) -> bool {
        let extra = match need {
            Need::Watchtower => self.watchtower_token.as_ref(),
            _ => None,
        };
        // Every candidate is compared, so timing does not say which one matched.
        self.tokens.iter().chain(extra).fold(false, |ok, t| {
            same_secret(token.as_bytes(), t.expose().as_bytes()) | ok
        })
    }

    /// Checks the request's `Authorization` header.
    pub async fn prove(&self, headers: &HeaderMap, need: Need) -> Proof {
        let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return Proof::None;
        };
        let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value, ""));
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            return if self.token_valid(rest, need) {
                Proof::Valid
            } else {
                Proof::Wrong
            };
        }
        if scheme.eq_ignore_ascii_case("basic") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest)
                .ok()
                .and_then(|b| String::from_utf8(b).ok());
            let Some((user, password)) = decoded.as_deref().and_then(|d| d.split_once(':')) else {
                return Proof::Wrong;
            };
            return if self.login_valid(user, password).await {
                Proof::Valid
            } else {
                Proof::Wrong
            };
        }
        Proof::Wrong
    }

    async fn login_valid(&self, user: &str, password: &str) -> bool {
        let key: [u8; 32] = Sha256::digest(format!("{user}:{password}").as_bytes()).into();
        if self
            .proven
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&key)
        {
            return true;
        }
        let Some(hash) = self
            .logins
            .iter()
            .find(|(u, _)| same_secret(u.as_bytes(), user.as_bytes()))
            .map(|(_, h)| h.clone())
        else {
            return false;
        };
        let password = password.to_string();
        // bcrypt is slow by design: off the async threads.
        let ok = tokio::task::spawn_blocking(move || htpasswd_verify(hash.expose(), &password))
            .await
            .unwrap_or(false);
        if ok {
            let mut proven = self.proven.lock().unwrap_or_else(|p| p.into_inner());
            if proven.len() >= REMEMBERED_LOGINS {
                proven.clear();
            }
            proven.insert(key);
        }
        ok
    }

    /// Whether any credential is configured at all (else a 401 says how to set one).
    fn has_credentials(&self, need: Need) -> bool {
        !self.tokens.is_empty()
            || !self.logins.is_empty()
            || (need == Need::Watchtower && self.watchtower_token.is_some())
    }

    /// The answer to a request that may not pass: 401 with a challenge a browser or client
    /// understands, and a line saying what is missing (never what was sent).
    pub fn refuse(&self, need: Need) -> Response {
        let challenge = if self.logins.is_empty() {
            "Bearer realm=\"tidewatch\""
        } else {
            "Basic realm=\"tidewatch\", charset=\"UTF-8\""
        };
        let message = if self.has_credentials(need) {
            "a valid API token or login is required"
        } else {
            "no API token is configured: set TIDEWATCH_SERVER_TOKEN (or open this with TIDEWATCH_SERVER_ACTIONS=open)"
        };
        let mut response = (
            StatusCode::UNAUTHORIZED,
            axum::Json(serde_json::json!({ "error": message })),
        )
            .into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
        response
    }

    /// Whether a request with `headers` may do `need`.
    pub async fn allows(&self, headers: &HeaderMap, need: Need) -> bool {
        match self.prove(headers, need).await {
            Proof::Valid => true,
            // Wrong credentials are refused even where access is open: a client that sends
            // them expects them to matter, and should hear that they are wrong.
            Proof::Wrong => false,
            Proof::None => self.open(need),
        }
    }
}

/// Proof that the request may read. Take it as a handler argument.
#[derive(Debug, Clone, Copy)]
pub struct Reader;

/// Proof that the request may act (check now, run a trigger, update). Take it as a handler
/// argument; the page reuses it for its buttons.
#[derive(Debug, Clone, Copy)]
pub struct Actor;

/// Proof that the request may read `/metrics`.
#[derive(Debug, Clone, Copy)]
pub struct MetricsReader;

/// Proof that the request may use Watchtower's `/v1/*`.
#[derive(Debug, Clone, Copy)]
pub struct WatchtowerActor;

macro_rules! extractor {
    ($name:ident, $need:expr) => {
        impl FromRequestParts<AppState> for $name {
            type Rejection = Response;
            async fn from_request_parts(
                parts: &mut Parts,
                state: &AppState,
            ) -> Result<Self, Self::Rejection> {
                if state.auth.allows(&parts.headers, $need).await {
                    Ok($name)
                } else {
                    Err(state.auth.refuse($need))
                }
            }
        }
    };
}

extractor!(Reader, Need::Read);
extractor!(Actor, Need::Act);
extractor!(MetricsReader, Need::Metrics);
extractor!(WatchtowerActor, Need::Watchtower);

/// Checks `password` against an htpasswd hash: bcrypt (`$2y$`, `$2a$`, `$2b$`), Apache MD5
/// (`$apr1$`) or SHA-1 (`{SHA}`), the kinds WUD accepts.
pub fn htpasswd_verify(hash: &str, password: &str) -> bool {
    if hash.starts_with("$2") {
        return bcrypt::verify(password, hash).unwrap_or(false);
    }
    if let Some(rest) = hash.strip_prefix("$apr1$") {
        let salt = rest.split('$').next().unwrap_or("");
        let computed = apr1(password.as_bytes(), salt.as_bytes());
        return same_secret(computed.as_bytes(), hash.as_bytes());
    }
    if let Some(expected) = hash.strip_prefix("{SHA}") {
        use sha1::Digest as _;
        let digest = sha1::Sha1::digest(password.as_bytes());
        let computed = base64::engine::general_purpose::STANDARD.encode(digest);
        return same_secret(computed.as_bytes(), expected.as_bytes());
    }
    false
}

/// Apache's MD5-crypt (`$apr1$salt$hash`), as `htpasswd -m` writes it.
fn apr1(password: &[u8], salt: &[u8]) -> String {
    use md5::{Digest as _, Md5};
    const MAGIC: &[u8] = b"$apr1$";
    const ITOA64: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let salt = &salt[..salt.len().min(8)];
    let mut ctx = Md5::new();
    ctx.update(password);
    ctx.update(MAGIC);
    ctx.update(salt);
    let mut alt = Md5::new();
    alt.update(password);
    alt.update(salt);
    alt.update(password);
    let alt = alt.finalize();
    let mut left = password.len();
    while left > 0 {
        let n = left.min(16);
        ctx.update(&alt[..n]);
        left -= n;
    }
    let mut i = password.len();
    while i != 0 {
        if i & 1 == 1 {
            ctx.update([0u8]);
        } else {
            ctx.update(&password[..1]);
        }
        i >>= 1;
    }
    let mut last = ctx.finalize();
    for round in 0..1000 {
        let mut next = Md5::new();
        if round & 1 == 1 {
            next.update(password);
        } else {
            next.update(last);
        }
        if round % 3 != 0 {
            next.update(salt);
        }
        if round % 7 != 0 {
            next.update(password);
        }
        if round & 1 == 1 {
            next.update(last);
        } else {
            next.update(password);
        }
        last = next.finalize();
    }
    let f = last;
    let mut out = String::from("$apr1$");
    out.push_str(&String::from_utf8_lossy(salt));
    out.push('$');
    let mut push = |mut v: u32, n: usize| {
        for _ in 0..n {
            out.push(ITOA64[(v & 0x3f) as usize] as char);
            v >>= 6;
        }
    };
    for (a, b, c) in [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)] {
        push(
            (u32::from(f[a]) << 16) | (u32::from(f[b]) << 8) | u32::from(f[c]),
            4,
        );
    }
    push(u32::from(f[11]), 2);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn htpasswd_hashes_of_every_kind_wud_accepts_are_checked() {
        // Written by `htpasswd -nbB`, `-nbm` and `-nbs` for user `admin`, password `s3cret`.
        for hash in [BCRYPT, APR1, SHA] {
            assert!(htpasswd_verify(hash, "s3cret"), "{hash}");
            assert!(!htpasswd_verify(hash, "s3cret "), "{hash}");
            assert!(!htpasswd_verify(hash, ""), "{hash}");
        }
        assert!(!htpasswd_verify("plain", "plain"));
    }

    const BCRYPT: &str = "$2y$05$Y3aaAJERHXFjy/Aw/cRL8OjTZOwftGTzWitfOhCUAZGtjx3WhmFsi";
    const APR1: &str = "$apr1$sx/2OXTW$UzyrJcybaFcdu.8l/nu2J/";
    const SHA: &str = "{SHA}/vNB+F2HQ559kaLUZbmHHvZrXpg=";

    #[test]
    fn secrets_compare_equal_only_when_equal() {
        assert!(same_secret(b"token", b"token"));
        assert!(!same_secret(b"token", b"token2"));
        assert!(!same_secret(b"", b"token"));
    }
}
