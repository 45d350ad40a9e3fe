//! The token service of Docker's token authentication, played by the tests: the registry's 401
//! names it as `realm`, clients (tidewatch, the Docker engine, [`super::Registry::request`]) get
//! a token from it and show that token to the registry.
//!
//! Two flavours, matching distribution's two bearer modes:
//! - [`TokenServer::opaque`] for `auth: silly`, where the registry accepts any `Authorization`
//!   header, so the token is an opaque string that only this server's log gives meaning to;
//! - [`TokenServer::jwt`] for `auth: token`, where the registry verifies an RS256 JWT against
//!   the certificate in its `rootcertbundle`. Each server makes its own key and self-signed
//!   certificate with the `openssl` CLI and signs with `openssl dgst`: a few milliseconds per
//!   token, and no crypto crate to build.
//!
//! Every request is recorded ([`TokenServer::requests`]) with the token it got, so tests can
//! count token fetches per scope and see which client made them.

use super::process;
use super::registry::{RegistryOptions, TokenAuth};
use super::server::{Request, Server, respond};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use std::fs;
use std::io::Write as _;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tempfile::TempDir;

/// The `service` the registry names in its challenge and the JWT's audience.
pub const SERVICE: &str = "tidewatch-test-registry";
/// The JWT `iss` the registry trusts.
pub const ISSUER: &str = "tidewatch-test-issuer";
/// distribution accepts a JWT until 60 s after its `exp` (and from 60 s before its `nbf`) for
/// clock skew; [`TokenPolicy::valid_for`] is what the registry really honours, so the server
/// subtracts this.
pub const REGISTRY_LEEWAY: Duration = Duration::from_secs(60);

/// How the service hands out tokens. Changeable while it runs ([`TokenServer::set_policy`]).
#[derive(Debug, Clone)]
pub struct TokenPolicy {
    /// What the response's `expires_in` says; `None` leaves it out.
    pub expires_in: Option<u64>,
    /// How long the registry accepts a JWT after it is issued, whatever `expires_in` claims
    /// (whole seconds; the registry compares in seconds).
    pub valid_for: Duration,
    /// The login and password a client must present (HTTP Basic); `None`: anyone gets a token.
    pub login: Option<(String, String)>,
}

impl Default for TokenPolicy {
    fn default() -> Self {
        TokenPolicy {
            expires_in: Some(300),
            valid_for: Duration::from_secs(300),
            login: None,
        }
    }
}

/// One request to the service, and what it answered.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub query: Vec<(String, String)>,
    pub authorization: Option<String>,
    pub user_agent: Option<String>,
    /// 200 with a token, 401 for missing or wrong credentials, 404 for another path.
    pub status: u16,
    pub token: Option<String>,
    /// Unix second after which the registry refuses the token (JWT only).
    pub refused_after: Option<u64>,
}

impl TokenRequest {
    /// Every value of a query parameter (`scope` may repeat).
    pub fn param(&self, name: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// True for requests tidewatch made (its User-Agent), as opposed to the Docker engine's
    /// or the test support's.
    pub fn by_tidewatch(&self) -> bool {
        self.user_agent
            .as_deref()
            .is_some_and(|ua| ua.starts_with("tidewatch/"))
    }
}

enum Signing {
    Opaque,
    Jwt {
        key: PathBuf,
        /// The certificate in DER, standard base64, as the JWT header's `x5c` wants it.
        x5c: String,
        /// PEM, for the registry's `rootcertbundle`.
        cert: PathBuf,
    },
}

struct State {
    policy: Mutex<TokenPolicy>,
    signing: Signing,
    log: Mutex<Vec<TokenRequest>>,
    issued: AtomicU64,
}

/// A running token service on a loopback port; stopped on drop.
pub struct TokenServer {
    state: Arc<State>,
    server: Server,
    /// Key and certificate; removed after the server is stopped.
    _dir: TempDir,
}

impl TokenServer {
    /// Tokens are opaque strings, for a registry in `silly` mode.
    pub fn opaque(policy: TokenPolicy) -> TokenServer {
        let dir = temp_dir();
        TokenServer::start(policy, Signing::Opaque, dir)
    }

    /// Tokens are JWTs signed with a fresh key, for a registry in `token` mode.
    pub fn jwt(policy: TokenPolicy) -> TokenServer {
        let dir = temp_dir();
        let key = dir.path().join("token.key");
        let cert = dir.path().join("token.crt");
        let mut cmd = Command::new("openssl");
        cmd.args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=tidewatch-test-token-service", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert);
        process::run(&mut cmd, None, Duration::from_secs(60))
            .unwrap_or_else(|why| {
                panic!("{why}: install Debian's openssl for the token tests (see .ci/run)")
            })
            .assert_success();
        let pem = fs::read_to_string(&cert).expect("read the certificate");
        let x5c: String = pem
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();
        assert!(
            STANDARD.decode(&x5c).is_ok(),
            "certificate body is not base64"
        );
        TokenServer::start(policy, Signing::Jwt { key, x5c, cert }, dir)
    }

    fn start(policy: TokenPolicy, signing: Signing, dir: TempDir) -> TokenServer {
        let state = Arc::new(State {
            policy: Mutex::new(policy),
            signing,
            log: Mutex::new(Vec::new()),
            issued: AtomicU64::new(0),
        });
        let handler = {
            let state = state.clone();
            Arc::new(move |request: Request, stream: &mut TcpStream| {
                handle(&state, &request, stream);
            })
        };
        TokenServer {
            state,
            server: Server::start(handler),
            _dir: dir,
        }
    }

    /// `http://127.0.0.1:PORT/token`.
    pub fn realm(&self) -> String {
        format!("http://{}/token", self.server.addr())
    }

    /// `127.0.0.1:PORT`, as the client's counters name the token host.
    pub fn addr(&self) -> String {
        self.server.addr()
    }

    /// Options for a registry that sends its clients here: `silly` for opaque tokens, `token`
    /// with this server's certificate for JWTs. The registry's users log in with the policy's
    /// login, if any.
    pub fn registry_options(&self) -> RegistryOptions {
        let login = lock(&self.state.policy).login.clone();
        let auth = TokenAuth {
            realm: self.realm(),
            service: SERVICE.to_string(),
            issuer: ISSUER.to_string(),
            rootcertbundle: match &self.state.signing {
                Signing::Opaque => None,
                Signing::Jwt { cert, .. } => Some(cert.clone()),
            },
            login,
        };
        RegistryOptions::default().token_auth(auth)
    }

    pub fn set_policy(&self, policy: TokenPolicy) {
        *lock(&self.state.policy) = policy;
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<TokenRequest> {
        lock(&self.state.log).clone()
    }

    /// The requests tidewatch made.
    pub fn tidewatch_requests(&self) -> Vec<TokenRequest> {
        self.requests()
            .into_iter()
            .filter(TokenRequest::by_tidewatch)
            .collect()
    }
}

fn temp_dir() -> TempDir {
    tempfile::Builder::new()
        .prefix("tidewatch-token-")
        .tempdir()
        .expect("create token service temp dir")
}

fn handle(state: &State, request: &Request, stream: &mut TcpStream) {
    let policy = lock(&state.policy).clone();
    let mut record = TokenRequest {
        query: request.query(),
        authorization: request.header("authorization").map(str::to_string),
        user_agent: request.header("user-agent").map(str::to_string),
        status: 200,
        token: None,
        refused_after: None,
    };
    let json = |value: serde_json::Value| {
        (
            vec![("Content-Type".to_string(), "application/json".to_string())],
            value.to_string().into_bytes(),
        )
    };
    let (headers, body) = if request.path() != "/token" || request.method != "GET" {
        record.status = 404;
        json(serde_json::json!({"error": "not found"}))
    } else if let Some(subject) = authenticate(&policy, record.authorization.as_deref()) {
        let n = state.issued.fetch_add(1, Ordering::SeqCst);
        let (token, refused_after) = match &state.signing {
            Signing::Opaque => (format!("opaque-token-{n}-{}", nonce()), None),
            Signing::Jwt { key, x5c, .. } => {
                let (token, refused_after) = jwt(key, x5c, &policy, &subject, &record, n);
                (token, Some(refused_after))
            }
        };
        record.token = Some(token.clone());
        record.refused_after = refused_after;
        let mut body = serde_json::json!({ "token": token });
        if let Some(expires_in) = policy.expires_in {
            body["expires_in"] = expires_in.into();
        }
        json(body)
    } else {
        record.status = 401;
        let (mut headers, body) = json(serde_json::json!({"details": "bad credentials"}));
        headers.push((
            "WWW-Authenticate".to_string(),
            "Basic realm=\"tidewatch-test-token-service\"".to_string(),
        ));
        (headers, body)
    };
    let status = record.status;
    lock(&state.log).push(record);
    let _ = respond(stream, request, status, &headers, &body);
}

/// The subject a token is for (`""` for anonymous), or `None` when the policy wants a login
/// that was not given.
fn authenticate(policy: &TokenPolicy, authorization: Option<&str>) -> Option<String> {
    let given = authorization
        .and_then(|value| value.strip_prefix("Basic "))
        .and_then(|b64| STANDARD.decode(b64.trim()).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok());
    match &policy.login {
        None => Some(
            given
                .and_then(|pair| pair.split_once(':').map(|(user, _)| user.to_string()))
                .unwrap_or_default(),
        ),
        Some((user, password)) => {
            (given.as_deref() == Some(&format!("{user}:{password}"))).then(|| user.clone())
        }
    }
}

/// An RS256 JWT granting each requested scope's `pull` and `push`, and the Unix second after
/// which the registry refuses it.
fn jwt(
    key: &PathBuf,
    x5c: &str,
    policy: &TokenPolicy,
    subject: &str,
    request: &TokenRequest,
    n: u64,
) -> (String, u64) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let refused_after = now + policy.valid_for.as_secs();
    let leeway = REGISTRY_LEEWAY.as_secs();
    let access: Vec<serde_json::Value> = request
        .param("scope")
        .iter()
        .flat_map(|scopes| scopes.split(' '))
        .filter_map(|scope| {
            let (kind, rest) = scope.split_once(':')?;
            let (name, actions) = rest.rsplit_once(':')?;
            let granted: Vec<&str> = actions
                .split(',')
                .filter(|a| matches!(*a, "pull" | "push"))
                .collect();
            Some(serde_json::json!({"type": kind, "name": name, "actions": granted}))
        })
        .collect();
    let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [x5c]});
    let claims = serde_json::json!({
        "iss": ISSUER,
        "sub": subject,
        "aud": SERVICE,
        "exp": refused_after - leeway,
        "nbf": now - 1,
        "iat": now,
        "jti": format!("jti-{n}-{}", nonce()),
        "access": access,
    });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = sign(key, input.as_bytes());
    (
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)),
        refused_after,
    )
}

/// RSASSA-PKCS1-v1_5 with SHA-256 (RS256) by `openssl dgst`, which reads all of stdin, signs
/// and exits: it cannot hang.
fn sign(key: &PathBuf, input: &[u8]) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run openssl dgst");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input)
        .expect("write to openssl");
    let output = child.wait_with_output().expect("wait for openssl");
    assert!(
        output.status.success() && output.stdout.len() == 256,
        "openssl dgst failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// Makes tokens of different servers and runs differ.
fn nonce() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos().into())
        .unwrap_or_default()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
