//! A private registry per test, on a free loopback port: Debian's `docker-registry` (CNCF
//! distribution) with its storage in a temporary folder, or the `registry:2` image when only that
//! is at hand. A registry of its own lets a test push, re-push and delete tags without racing
//! other tests, and is gone, storage included, when the test ends.
//!
//! Besides anonymous access it can ask for htpasswd Basic auth or for a bearer token from a
//! [`super::token_server::TokenServer`] (distribution's `silly` and `token` modes); the test's
//! own requests ([`Registry::request`]) then authenticate as any client would.

use super::docker::docker;
use super::http::{self, Response};
use super::process;
use super::server::percent_encode;
use sha2::{Digest as _, Sha256};
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// What the manifest endpoints are asked for: the two single-platform formats an engine pushes.
pub const MANIFEST_ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json";

/// A registry answers within a second or two; a loaded CI machine gets more.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Port picking races other tests between probing and binding; a clash just means another try.
const ATTEMPTS: usize = 5;

/// Header the registry is configured to send with a value only this instance knows, so that a
/// registry of another test that grabbed the port in between is never mistaken for ours.
const IDENTITY_HEADER: &str = "X-Tidewatch-Registry";

/// How a registry is set up. A builder so that later tests can ask for token auth, TLS or a
/// proxy cache without touching the tests that need none of it.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    auth: Auth,
    /// distribution's access log on (one line per request, with the client's User-Agent).
    access_log: bool,
    /// Where the registry sends its notifications (`notifications.endpoints`): URL and the
    /// `Authorization` header it sends.
    notify: Option<(String, String)>,
}

/// Who may push and pull.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Auth {
    #[default]
    Anonymous,
    /// htpasswd (bcrypt, the only hash distribution accepts).
    Basic { user: String, password: String },
    /// A bearer token from a token service; see [`TokenAuth`].
    Token(TokenAuth),
}

/// distribution's bearer-token modes: its 401 names `realm` (the token service) and `service`.
/// With a `rootcertbundle` it is `auth: token` and verifies each JWT's signature, issuer,
/// audience, expiry and access list; without, it is `auth: silly` and lets any `Authorization`
/// header through, so only the challenge is real.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenAuth {
    pub realm: String,
    pub service: String,
    pub issuer: String,
    /// PEM certificate of the key that signs the tokens.
    pub rootcertbundle: Option<PathBuf>,
    /// What `docker login` and the test's own requests present to the token service.
    pub login: Option<(String, String)>,
}

impl RegistryOptions {
    pub fn basic_auth(mut self, user: &str, password: &str) -> RegistryOptions {
        self.auth = Auth::Basic {
            user: user.to_string(),
            password: password.to_string(),
        };
        self
    }

    /// Logs every request (Apache combined format, on the registry's output; see
    /// [`Registry::access_log`]).
    pub fn access_log(mut self) -> RegistryOptions {
        self.access_log = true;
        self
    }

    /// Sends push and pull notifications to `url` with `Authorization: <authorization>`.
    pub fn notify(mut self, url: &str, authorization: &str) -> RegistryOptions {
        self.notify = Some((url.to_string(), authorization.to_string()));
        self
    }

    /// Bearer tokens; [`super::token_server::TokenServer::registry_options`] fills this in.
    pub fn token_auth(mut self, auth: TokenAuth) -> RegistryOptions {
        self.auth = Auth::Token(auth);
        self
    }
}

/// A running registry; stopped and its storage removed on drop.
pub struct Registry {
    addr: String,
    auth: Auth,
    backend: Backend,
    docker_config: PathBuf,
    logged_in: OnceLock<()>,
    /// Configuration, htpasswd, storage and log. Declared last: removed after the process is gone.
    _dir: TempDir,
}

impl Registry {
    /// Starts one for test run `run_id`, whose docker client configuration is `docker_config`.
    pub(super) fn start(run_id: &str, docker_config: &Path, options: &RegistryOptions) -> Registry {
        let dir = tempfile::Builder::new()
            .prefix("tidewatch-registry-")
            .tempdir()
            .expect("create registry temp dir");
        let token = format!("{run_id}-{}", dir_suffix(dir.path()));
        let basic = write_htpasswd(dir.path(), &options.auth);
        let bearer = write_token_auth(dir.path(), &options.auth);
        let kind = backend_kind();
        for _ in 0..ATTEMPTS {
            let port = free_port();
            let addr = format!("127.0.0.1:{port}");
            let started = match &kind {
                Kind::Binary(binary) => start_process(
                    binary,
                    dir.path(),
                    &addr,
                    &token,
                    basic,
                    bearer.as_ref(),
                    options,
                ),
                Kind::Image => start_container(
                    run_id,
                    docker_config,
                    dir.path(),
                    port,
                    &token,
                    basic,
                    bearer.as_ref(),
                    options,
                ),
            };
            let Ok(mut backend) = started else { continue };
            match backend.wait_ready(&addr, &token) {
                Ok(()) => {
                    return Registry {
                        addr,
                        auth: options.auth.clone(),
                        backend,
                        docker_config: docker_config.to_path_buf(),
                        logged_in: OnceLock::new(),
                        _dir: dir,
                    };
                }
                Err(Clash) => backend.stop(),
            }
        }
        panic!("registry: no free port after {ATTEMPTS} attempts");
    }

    /// Lines of the access log (see [`RegistryOptions::access_log`]) whose client is
    /// `user_agent` (a prefix: `tidewatch/`).
    pub fn access_log(&self, user_agent: &str) -> Vec<String> {
        self.backend
            .log()
            .lines()
            .filter(|line| {
                line.contains("\"GET ") || line.contains("\"HEAD ") || line.contains("\"POST ")
            })
            .filter(|line| line.contains(&format!("\"{user_agent}")))
            .map(str::to_string)
            .collect()
    }

    /// `127.0.0.1:PORT`, which is also the registry part of image references.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Where a `docker-registry` process keeps its blobs, so a second instance (over TLS, say)
    /// can serve the same content; `None` for the `registry:2` container fallback.
    pub fn storage_dir(&self) -> Option<PathBuf> {
        match &self.backend {
            Backend::Process { .. } => Some(self._dir.path().join("storage")),
            Backend::Container { .. } => None,
        }
    }

    pub fn port(&self) -> u16 {
        self.addr
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse().ok())
            .expect("addr ends in a port")
    }

    /// `127.0.0.1:PORT/repo:tag`.
    pub fn reference(&self, repo: &str, tag: &str) -> String {
        format!("{}/{repo}:{tag}", self.addr)
    }

    /// User and password when the registry wants them: for basic auth, or for the token service
    /// of a token-auth registry that wants a login.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        match &self.auth {
            Auth::Anonymous => None,
            Auth::Basic { user, password } => Some((user, password)),
            Auth::Token(TokenAuth { login, .. }) => {
                login.as_ref().map(|(u, p)| (u.as_str(), p.as_str()))
            }
        }
    }

    /// A request to the registry API with the registry's credentials; `path` starts with `/v2/`.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Response {
        self.request_with_body(method, path, headers, &[])
    }

    /// As [`Registry::request`], with a body. A bearer challenge is answered as a client would:
    /// a token for the challenge's scope from its realm, then the request again.
    pub fn request_with_body(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        let basic = self.credentials().map(|(u, p)| http::basic_auth(u, p));
        let send = |authorization: Option<&str>| {
            let mut all: Vec<(&str, &str)> = headers.to_vec();
            if let Some(authorization) = authorization {
                all.push(("Authorization", authorization));
            }
            http::request(method, &self.addr, path, &all, body)
                .unwrap_or_else(|err| panic!("registry {}: {method} {path}: {err}", self.addr))
        };
        let direct = matches!(self.auth, Auth::Basic { .. }).then_some(basic.as_deref());
        let response = send(direct.flatten());
        if response.status != 401 || !matches!(self.auth, Auth::Token(_)) {
            return response;
        }
        let challenge = response
            .header("WWW-Authenticate")
            .unwrap_or_else(|| panic!("{method} {path}: 401 without a challenge"))
            .to_string();
        let token = self.token(&challenge, basic.as_deref());
        send(Some(&format!("Bearer {token}")))
    }

    /// A token for a `Bearer realm="…",service="…",scope="…"` challenge.
    fn token(&self, challenge: &str, basic: Option<&str>) -> String {
        let param = |name: &str| {
            let start = challenge.find(&format!("{name}=\""))? + name.len() + 2;
            let len = challenge[start..].find('"')?;
            Some(challenge[start..start + len].to_string())
        };
        let realm = param("realm").unwrap_or_else(|| panic!("no realm in {challenge:?}"));
        let rest = realm
            .strip_prefix("http://")
            .unwrap_or_else(|| panic!("realm {realm:?} is not on loopback http"));
        let (addr, realm_path) = rest.split_once('/').unwrap_or((rest, ""));
        let mut query = Vec::new();
        for name in ["service", "scope"] {
            if let Some(value) = param(name) {
                query.push(format!("{name}={}", percent_encode(&value)));
            }
        }
        let target = format!("/{realm_path}?{}", query.join("&"));
        let headers: Vec<(&str, &str)> = basic.map(|b| ("Authorization", b)).into_iter().collect();
        let response = http::request("GET", addr, &target, &headers, &[])
            .unwrap_or_else(|err| panic!("token service {addr}: {err}"));
        assert_eq!(
            response.status,
            200,
            "token for {challenge:?}: {}",
            response.text()
        );
        let json: serde_json::Value =
            serde_json::from_slice(&response.body).expect("token response is JSON");
        json["token"]
            .as_str()
            .or(json["access_token"].as_str())
            .expect("token response has a token")
            .to_string()
    }

    /// The manifest `repo:reference` as stored: its media type and exact bytes.
    pub fn manifest(&self, repo: &str, reference: &str) -> (String, Vec<u8>) {
        let path = format!("/v2/{repo}/manifests/{reference}");
        let accept = format!("{MANIFEST_ACCEPT}, {INDEX_ACCEPT}");
        let response = self.request("GET", &path, &[("Accept", &accept)]);
        assert_eq!(response.status, 200, "GET {path}: {}", response.text());
        let media_type = response
            .header("Content-Type")
            .unwrap_or_else(|| panic!("GET {path}: no Content-Type"))
            .to_string();
        (media_type, response.body)
    }

    /// Uploads a blob to `repo` (a POST that opens the upload, a PUT that closes it) and returns
    /// its digest.
    pub fn put_blob(&self, repo: &str, content: &[u8]) -> String {
        let digest = sha256_digest(content);
        let start = format!("/v2/{repo}/blobs/uploads/");
        let response = self.request("POST", &start, &[]);
        assert_eq!(response.status, 202, "POST {start}: {}", response.text());
        let location = response
            .header("Location")
            .unwrap_or_else(|| panic!("POST {start}: no Location"));
        // Absolute (`http://127.0.0.1:PORT/v2/…`) or a path.
        let location = match location.find("/v2/") {
            Some(at) => &location[at..],
            None => panic!("upload location {location:?}"),
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        let finish = format!("{location}{separator}digest={}", percent_encode(&digest));
        let response = self.request_with_body(
            "PUT",
            &finish,
            &[("Content-Type", "application/octet-stream")],
            content,
        );
        assert_eq!(
            response.status,
            201,
            "PUT blob {digest}: {}",
            response.text()
        );
        digest
    }

    /// Stores a manifest (or an index) under `reference`; returns the digest the registry gives
    /// it, checked to be the SHA-256 of `content`.
    pub fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        content: &[u8],
    ) -> String {
        let path = format!("/v2/{repo}/manifests/{reference}");
        let response =
            self.request_with_body("PUT", &path, &[("Content-Type", media_type)], content);
        assert_eq!(response.status, 201, "PUT {path}: {}", response.text());
        let digest = response
            .header("Docker-Content-Digest")
            .unwrap_or_else(|| panic!("PUT {path}: no Docker-Content-Digest"))
            .to_string();
        assert_eq!(digest, sha256_digest(content), "PUT {path}");
        digest
    }

    /// The digest the registry serves for `repo:reference` (a tag or a digest), or `None` when
    /// it has no such manifest.
    pub fn manifest_digest(&self, repo: &str, reference: &str) -> Option<String> {
        let path = format!("/v2/{repo}/manifests/{reference}");
        let response = self.request("HEAD", &path, &[("Accept", MANIFEST_ACCEPT)]);
        match response.status {
            200 => Some(
                response
                    .header("Docker-Content-Digest")
                    .unwrap_or_else(|| panic!("HEAD {path}: no Docker-Content-Digest"))
                    .to_string(),
            ),
            404 => None,
            status => panic!("HEAD {path} on registry {}: HTTP {status}", self.addr),
        }
    }

    /// `docker login` once, in the test run's own client configuration.
    pub(super) fn login(&self) {
        let Some((user, password)) = self.credentials() else {
            return;
        };
        self.logged_in.get_or_init(|| {
            docker(
                &self.docker_config,
                &["login", "--username", user, "--password-stdin", &self.addr],
                Some(password.as_bytes()),
            )
            .assert_success();
        });
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.backend.stop();
    }
}

enum Backend {
    Process {
        child: Child,
        log: PathBuf,
    },
    /// A labelled `registry:2` container.
    Container {
        name: String,
        docker_config: PathBuf,
    },
}

impl Backend {
    fn wait_ready(&mut self, addr: &str, token: &str) -> Result<(), Clash> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(response) = http::request("GET", addr, "/v2/", &[], &[]) {
                let ours = response.header(IDENTITY_HEADER) == Some(token);
                if ours && matches!(response.status, 200 | 401) {
                    return Ok(());
                }
            }
            if let Some(log) = self.exited() {
                if is_clash(&log) {
                    return Err(Clash);
                }
                panic!("registry on {addr} exited at start:\n{log}");
            }
            if Instant::now() > deadline {
                let log = self.log();
                self.stop();
                panic!("registry on {addr} not ready within {READY_TIMEOUT:?}:\n{log}");
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// The log if the registry is no longer running.
    fn exited(&mut self) -> Option<String> {
        let gone = match self {
            Backend::Process { child, .. } => !matches!(child.try_wait(), Ok(None)),
            Backend::Container {
                name,
                docker_config,
            } => {
                let format = "{{.State.Running}}";
                let out = docker(docker_config, &["inspect", "--format", format, name], None);
                out.stdout.trim() != "true"
            }
        };
        gone.then(|| self.log())
    }

    fn log(&self) -> String {
        match self {
            Backend::Process { log, .. } => {
                fs::read_to_string(log).unwrap_or_else(|err| format!("(no log: {err})"))
            }
            Backend::Container {
                name,
                docker_config,
            } => {
                let out = docker(docker_config, &["logs", "--tail", "50", name], None);
                format!("{}{}", out.stdout, out.stderr)
            }
        }
    }

    fn stop(&mut self) {
        match self {
            Backend::Process { child, .. } => {
                let _ = child.kill();
                let _ = child.wait();
            }
            Backend::Container {
                name,
                docker_config,
            } => {
                let out = docker(docker_config, &["rm", "-f", "-v", name], None);
                if !out.success() {
                    eprintln!("warning: cannot remove registry container:\n{out}");
                }
            }
        }
    }
}

/// The registry could not bind its port because someone else took it first.
struct Clash;

enum Kind {
    Binary(PathBuf),
    Image,
}

fn backend_kind() -> Kind {
    if let Some(binary) = on_path("docker-registry") {
        return Kind::Binary(binary);
    }
    let mut cmd = Command::new("docker");
    cmd.args(["image", "inspect", "--format", "{{.Id}}", "registry:2"]);
    match process::run(&mut cmd, None, Duration::from_secs(30)) {
        Ok(out) if out.success() => Kind::Image,
        _ => panic!(
            "no registry to test against: neither `docker-registry` on PATH nor the image \
             `registry:2`. Install Debian's docker-registry (see TESTING.md / .ci/run)"
        ),
    }
}

fn on_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    })
}

/// A port nobody listened on a moment ago. Binding port 0 lets the kernel choose.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

fn is_clash(log: &str) -> bool {
    log.contains("address already in use") || log.contains("port is already allocated")
}

fn dir_suffix(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().replace("tidewatch-registry-", ""))
        .unwrap_or_default()
}

/// The media types of multi-platform images, for [`Registry::manifest`].
pub const INDEX_ACCEPT: &str = "application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.index.v1+json";

/// `sha256:<hex>` of `content`, as registries name blobs and manifests.
pub fn sha256_digest(content: &[u8]) -> String {
    let hex: String = Sha256::digest(content)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// Copies the token certificate to `auth/token.crt` (the folder a registry container mounts)
/// when the registry wants bearer tokens.
fn write_token_auth(dir: &Path, auth: &Auth) -> Option<TokenAuth> {
    let Auth::Token(token) = auth else {
        return None;
    };
    if let Some(cert) = &token.rootcertbundle {
        let auth_dir = dir.join("auth");
        fs::create_dir_all(&auth_dir).expect("create auth dir");
        fs::copy(cert, auth_dir.join("token.crt")).expect("copy token certificate");
    }
    Some(token.clone())
}

/// Writes `auth/htpasswd` when the registry wants basic auth; true if it does.
fn write_htpasswd(dir: &Path, auth: &Auth) -> bool {
    let Auth::Basic { user, password } = auth else {
        return false;
    };
    let mut cmd = Command::new("htpasswd");
    cmd.args(["-Bbn", user, password]);
    let out = process::run(&mut cmd, None, Duration::from_secs(30)).unwrap_or_else(|why| {
        panic!("{why}: install Debian's apache2-utils for htpasswd (see .ci/run)")
    });
    out.assert_success();
    let auth_dir = dir.join("auth");
    fs::create_dir_all(&auth_dir).expect("create auth dir");
    fs::write(auth_dir.join("htpasswd"), out.stdout.trim()).expect("write htpasswd");
    true
}

/// distribution's configuration; paths are as the registry sees them (inside its container, when
/// it runs in one). `bearer` comes with the certificate's path as the registry sees it.
fn config(
    addr: &str,
    storage: &str,
    token: &str,
    htpasswd: Option<&str>,
    bearer: Option<(&TokenAuth, &str)>,
    options: &RegistryOptions,
) -> String {
    let quote = |s: &str| serde_json::to_string(s).expect("a string is JSON");
    let mut yml = format!(
        "version: 0.1\n\
         log:\n  level: warn\n  accesslog:\n    disabled: {}\n\
         storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
         http:\n  addr: {}\n  secret: {}\n  headers:\n    {IDENTITY_HEADER}: [{}]\n",
        !options.access_log,
        quote(storage),
        quote(addr),
        quote(token),
        quote(token),
    );
    if let Some((url, authorization)) = &options.notify {
        yml.push_str(&format!(
            "notifications:\n  endpoints:\n    - name: tidewatch\n      url: {}\n      headers:\n        Authorization: [{}]\n      timeout: 2s\n      threshold: 3\n      backoff: 1s\n",
            quote(url),
            quote(authorization)
        ));
    }
    if let Some(path) = htpasswd {
        yml.push_str(&format!(
            "auth:\n  htpasswd:\n    realm: tidewatch-test\n    path: {}\n",
            quote(path)
        ));
    }
    if let Some((auth, cert)) = bearer {
        let realm = quote(&auth.realm);
        let service = quote(&auth.service);
        if auth.rootcertbundle.is_some() {
            yml.push_str(&format!(
                "auth:\n  token:\n    realm: {realm}\n    service: {service}\n    issuer: {}\n    rootcertbundle: {}\n",
                quote(&auth.issuer),
                quote(cert)
            ));
        } else {
            yml.push_str(&format!(
                "auth:\n  silly:\n    realm: {realm}\n    service: {service}\n"
            ));
        }
    }
    yml
}

fn start_process(
    binary: &Path,
    dir: &Path,
    addr: &str,
    token: &str,
    basic: bool,
    bearer: Option<&TokenAuth>,
    options: &RegistryOptions,
) -> Result<Backend, Clash> {
    let storage = dir.join("storage");
    let htpasswd = dir.join("auth/htpasswd");
    let cert = dir.join("auth/token.crt");
    let cert = cert.to_string_lossy();
    let yml = config(
        addr,
        &storage.to_string_lossy(),
        token,
        basic.then(|| htpasswd.to_string_lossy()).as_deref(),
        bearer.map(|auth| (auth, cert.as_ref())),
        options,
    );
    let config_path = dir.join("config.yml");
    fs::write(&config_path, yml).expect("write registry config");
    let log = dir.join("registry.log");
    let file = fs::File::create(&log).expect("create registry log");
    let child = Command::new(binary)
        .arg("serve")
        .arg(&config_path)
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("clone log handle"))
        .stderr(file)
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {}: {err}", binary.display()));
    Ok(Backend::Process { child, log })
}

#[allow(clippy::too_many_arguments)]
fn start_container(
    run_id: &str,
    docker_config: &Path,
    dir: &Path,
    port: u16,
    token: &str,
    basic: bool,
    bearer: Option<&TokenAuth>,
    options: &RegistryOptions,
) -> Result<Backend, Clash> {
    let yml = config(
        ":5000",
        "/var/lib/registry",
        token,
        basic.then_some("/auth/htpasswd"),
        bearer.map(|auth| (auth, "/auth/token.crt")),
        options,
    );
    let config_path = dir.join("config.yml");
    fs::write(&config_path, yml).expect("write registry config");
    fs::create_dir_all(dir.join("auth")).expect("create auth dir");
    let name = format!("{run_id}-registry-{port}");
    let label = format!("{}={run_id}", super::RUN_LABEL);
    let publish = format!("127.0.0.1:{port}:5000");
    let config_mount = format!(
        "{}:/etc/docker/registry/config.yml:ro",
        config_path.display()
    );
    let auth_mount = format!("{}:/auth:ro", dir.join("auth").display());
    let out = docker(
        docker_config,
        &[
            "run",
            "-d",
            "--name",
            &name,
            "--label",
            &label,
            "-p",
            &publish,
            "-v",
            &config_mount,
            "-v",
            &auth_mount,
            "registry:2",
        ],
        None,
    );
    if out.success() {
        return Ok(Backend::Container {
            name,
            docker_config: docker_config.to_path_buf(),
        });
    }
    // A failed start leaves the created container behind.
    let _ = docker(docker_config, &["rm", "-f", "-v", &name], None);
    if is_clash(&out.stderr) {
        return Err(Clash);
    }
    panic!("cannot start registry:2:\n{out}");
}
