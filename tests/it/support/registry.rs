//! A private registry per test, on a free loopback port: Debian's `docker-registry` (CNCF
//! distribution) with its storage in a temporary folder, or the `registry:2` image when only that
//! is at hand. A registry of its own lets a test push, re-push and delete tags without racing
//! other tests, and is gone, storage included, when the test ends.

use super::docker::docker;
use super::http::{self, Response};
use super::process;
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
}

/// Who may push and pull. Token auth (a bearer-token realm) is meant to become a variant here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Auth {
    #[default]
    Anonymous,
    /// htpasswd (bcrypt, the only hash distribution accepts).
    Basic { user: String, password: String },
}

impl RegistryOptions {
    pub fn basic_auth(mut self, user: &str, password: &str) -> RegistryOptions {
        self.auth = Auth::Basic {
            user: user.to_string(),
            password: password.to_string(),
        };
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
        let kind = backend_kind();
        for _ in 0..ATTEMPTS {
            let port = free_port();
            let addr = format!("127.0.0.1:{port}");
            let started = match &kind {
                Kind::Binary(binary) => start_process(binary, dir.path(), &addr, &token, basic),
                Kind::Image => {
                    start_container(run_id, docker_config, dir.path(), port, &token, basic)
                }
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

    /// `127.0.0.1:PORT`, which is also the registry part of image references.
    pub fn addr(&self) -> &str {
        &self.addr
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

    /// User and password when the registry wants basic auth.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        match &self.auth {
            Auth::Anonymous => None,
            Auth::Basic { user, password } => Some((user, password)),
        }
    }

    /// A request to the registry API with the registry's credentials; `path` starts with `/v2/`.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Response {
        let auth = self.credentials().map(|(u, p)| http::basic_auth(u, p));
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        if let Some(auth) = &auth {
            all.push(("Authorization", auth));
        }
        http::request(method, &self.addr, path, &all, &[])
            .unwrap_or_else(|err| panic!("registry {}: {method} {path}: {err}", self.addr))
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
/// it runs in one).
fn config(addr: &str, storage: &str, token: &str, htpasswd: Option<&str>) -> String {
    let quote = |s: &str| serde_json::to_string(s).expect("a string is JSON");
    let mut yml = format!(
        "version: 0.1\n\
         log:\n  level: warn\n  accesslog:\n    disabled: true\n\
         storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
         http:\n  addr: {}\n  secret: {}\n  headers:\n    {IDENTITY_HEADER}: [{}]\n",
        quote(storage),
        quote(addr),
        quote(token),
        quote(token),
    );
    if let Some(path) = htpasswd {
        yml.push_str(&format!(
            "auth:\n  htpasswd:\n    realm: tidewatch-test\n    path: {}\n",
            quote(path)
        ));
    }
    yml
}

fn start_process(
    binary: &Path,
    dir: &Path,
    addr: &str,
    token: &str,
    basic: bool,
) -> Result<Backend, Clash> {
    let storage = dir.join("storage");
    let htpasswd = dir.join("auth/htpasswd");
    let yml = config(
        addr,
        &storage.to_string_lossy(),
        token,
        basic.then(|| htpasswd.to_string_lossy()).as_deref(),
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

fn start_container(
    run_id: &str,
    docker_config: &Path,
    dir: &Path,
    port: u16,
    token: &str,
    basic: bool,
) -> Result<Backend, Clash> {
    let yml = config(
        ":5000",
        "/var/lib/registry",
        token,
        basic.then_some("/auth/htpasswd"),
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
