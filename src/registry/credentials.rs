//! Registry credentials the way the Docker CLI finds them: `config.json`'s `auths`, and the
//! credential helpers named by `credsStore` and `credHelpers`.
//!
//! Users already ran `docker login`; reading the same file lets tidewatch check private images
//! without its own copy of every password, and asking the same helpers means a keychain, `pass`
//! or the ECR/GCR helpers work unchanged.
//!
//! Our own implementation rather than the `docker_credential` crate: that one blocks, and it reads
//! `DOCKER_CONFIG` from the environment itself, while in tidewatch only `config/` reads the
//! environment, so the directory is passed in. Helpers run under [`tokio::process`] with a
//! timeout and bounded output, since a hung or chatty helper must not stall a watch cycle.
//!
//! Nothing here prints a secret: credentials hold them as [`Secret`], and errors name the file,
//! the registry key or the helper, never a value or a helper's output (it may echo a password).

use crate::config::Secret;
use serde_json::{Map, Value};
use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use tokio::process::Command;

/// A real config.json is a few KiB; the bound keeps a wrong path (a log, a disk image) from
/// being read into memory.
pub const MAX_CONFIG_LEN: u64 = 1024 * 1024;

/// How long a helper may take by default. Keychain helpers answer in milliseconds; cloud helpers
/// (ecr-login, gcloud) make one HTTPS call, which 10 s covers.
pub const DEFAULT_HELPER_TIMEOUT: Duration = Duration::from_secs(10);

/// Per stream. A helper's answer is one small JSON object; more means something is wrong.
pub const MAX_HELPER_OUTPUT: usize = 64 * 1024;

/// The key Docker files Docker Hub under, in config.json and when asking helpers.
pub const DOCKER_HUB_SERVER: &str = "https://index.docker.io/v1/";

/// How [`normalize_host`] names Docker Hub, matching [`super::reference::ImageRef::registry`].
const DOCKER_HUB: &str = "docker.io";

/// Every host that means Docker Hub: references say docker.io, config.json says
/// index.docker.io, and the API lives on registry-1.docker.io.
const DOCKER_HUB_ALIASES: [&str; 3] = ["docker.io", "index.docker.io", "registry-1.docker.io"];

/// What helpers built on docker-credential-helpers print ("credentials not found in native
/// keychain"); Docker treats it as "no credential", not as a failure.
const NOT_FOUND_MESSAGE: &str = "credentials not found";

/// The `Username` a helper returns when `Secret` is an identity token rather than a password.
const TOKEN_USERNAME: &str = "<token>";

/// What to authenticate with against one registry.
///
/// `Debug` is derived: every secret field is a [`Secret`], which prints as `***`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// Login and password (or a personal access token used as password).
    Basic { username: String, password: Secret },
    /// An OAuth2 refresh token ("identitytoken" in config.json, or a helper's Username
    /// "<token>"), exchanged at the token realm with grant_type=refresh_token.
    IdentityToken(Secret),
}

impl Credential {
    /// Decodes config.json's `auth` value, base64 of `login:password`.
    pub fn from_auth(auth_b64: &str) -> Result<Credential, CredentialsError> {
        crate::config::decode_auth(auth_b64)
            .map(|(username, password)| Credential::Basic { username, password })
            .map_err(|reason| CredentialsError::InvalidAuth { reason })
    }
}

/// Why no credential could be determined. Messages name the file, the registry key or the
/// helper, never a secret or what a helper printed.
///
/// Not `Clone`/`PartialEq`: it carries the `io::Error` of an unreadable file.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("cannot read docker config {}: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("docker config {} is larger than {max} bytes", path.display())]
    TooLarge { path: PathBuf, max: u64 },
    /// Where the JSON breaks, without the text around it (it may be a password).
    #[error("docker config {} is not valid json: {problem}", path.display())]
    InvalidJson { path: PathBuf, problem: String },
    /// Valid JSON with a value Docker would also reject: a wrong type, an `auth` that does not
    /// decode, a helper name that is not a plain name.
    #[error("docker config {}: {problem}", path.display())]
    InvalidConfig { path: PathBuf, problem: String },
    /// From [`Credential::from_auth`].
    #[error("invalid docker auth value: {reason}")]
    InvalidAuth { reason: &'static str },
    #[error("credential helper docker-credential-{helper} is not installed (not found on PATH)")]
    HelperNotFound { helper: String },
    #[error("credential helper docker-credential-{helper} did not answer within {timeout:?}")]
    HelperTimeout { helper: String, timeout: Duration },
    /// `reason` says what went wrong (exit status, too much output, not JSON) without quoting
    /// the output.
    #[error("credential helper docker-credential-{helper} failed: {reason}")]
    HelperFailed { helper: String, reason: String },
}

/// A parsed config.json: the parts that say where credentials come from.
///
/// Entries are resolved when the file is loaded, as Docker does, so a broken `auth` is reported
/// at startup rather than at the first check of that registry. `Debug` shows no secret.
#[derive(Debug, Clone)]
pub struct DockerConfig {
    /// For error messages.
    path: PathBuf,
    /// `auths`, in key order so that a lookup matching several keys is deterministic (Docker
    /// iterates a Go map there, in random order).
    auths: Vec<Entry<Option<Credential>>>,
    /// Docker treats an empty `credsStore` as unset; so does this.
    creds_store: Option<String>,
    /// An empty helper name is kept: Docker reads it as "use `auths` for this host", overriding
    /// `credsStore`.
    cred_helpers: Vec<Entry<String>>,
    /// Where helpers are run from; `None` lets the OS search PATH.
    helper_dir: Option<PathBuf>,
    helper_timeout: Duration,
}

/// One `auths` or `credHelpers` entry under the key as written and as a host.
#[derive(Debug, Clone)]
struct Entry<T> {
    key: String,
    host: String,
    value: T,
}

impl DockerConfig {
    /// Reads `<dir>/config.json`; Ok(None) when the file does not exist; a clear error (naming
    /// the file, never its content) when unreadable or not JSON. Bounded to [`MAX_CONFIG_LEN`].
    pub fn load(dir: &Path) -> Result<Option<DockerConfig>, CredentialsError> {
        let path = dir.join("config.json");
        let bytes = match read_bounded(&path) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => {
                return Err(CredentialsError::TooLarge {
                    path,
                    max: MAX_CONFIG_LEN,
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(CredentialsError::Unreadable { path, source }),
        };
        let parsed = parse_config(&bytes);
        match parsed {
            Ok((auths, creds_store, cred_helpers)) => Ok(Some(DockerConfig {
                path,
                auths,
                creds_store,
                cred_helpers,
                helper_dir: None,
                helper_timeout: DEFAULT_HELPER_TIMEOUT,
            })),
            Err(ParseError::Json(problem)) => Err(CredentialsError::InvalidJson { path, problem }),
            Err(ParseError::Config(problem)) => {
                Err(CredentialsError::InvalidConfig { path, problem })
            }
        }
    }

    /// Runs helpers from `dir` instead of searching PATH: tests use it to run a real helper
    /// script without touching the environment.
    pub fn with_helper_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.helper_dir = Some(dir.into());
        self
    }

    /// Replaces [`DEFAULT_HELPER_TIMEOUT`].
    pub fn with_helper_timeout(mut self, timeout: Duration) -> Self {
        self.helper_timeout = timeout;
        self
    }

    /// The file this was loaded from, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The credential Docker would use for this registry host ("docker.io" for Docker Hub,
    /// "ghcr.io", "127.0.0.1:5000").
    ///
    /// Order as Docker: credHelpers[host] → credsStore → auths entry (auth base64 or
    /// username/password, identitytoken). As in Docker the first source that applies is the only
    /// one asked: a helper that has no credential means anonymous access, not a fall back to
    /// `auths` (whose entries are empty placeholders when a store is in use).
    pub async fn credential_for(
        &self,
        registry: &str,
    ) -> Result<Option<Credential>, CredentialsError> {
        let host = normalize_host(registry);
        if host.is_empty() {
            return Ok(None);
        }
        let server = server_address(&host);
        let helper = match lookup(&self.cred_helpers, &host, server) {
            Some(helper) if helper.is_empty() => None,
            Some(helper) => Some(helper.as_str()),
            None => self.creds_store.as_deref(),
        };
        match helper {
            Some(helper) => self.ask_helper(helper, server).await,
            None => Ok(lookup(&self.auths, &host, server).cloned().flatten()),
        }
    }

    async fn ask_helper(
        &self,
        helper: &str,
        server: &str,
    ) -> Result<Option<Credential>, CredentialsError> {
        let program = format!("docker-credential-{helper}");
        let program = match &self.helper_dir {
            Some(dir) => dir.join(program),
            None => PathBuf::from(program),
        };
        let failed = |reason: String| CredentialsError::HelperFailed {
            helper: helper.to_owned(),
            reason,
        };
        let exchange = tokio::time::timeout(self.helper_timeout, run_helper(&program, server));
        // On timeout the future is dropped, and with it the child, which kill_on_drop kills.
        let output = match exchange.await {
            Err(_) => {
                return Err(CredentialsError::HelperTimeout {
                    helper: helper.to_owned(),
                    timeout: self.helper_timeout,
                });
            }
            Ok(Err(HelperProblem::NotFound)) => {
                return Err(CredentialsError::HelperNotFound {
                    helper: helper.to_owned(),
                });
            }
            Ok(Err(HelperProblem::Spawn(e))) => return Err(failed(format!("cannot run it: {e}"))),
            Ok(Err(HelperProblem::Io(e))) => {
                return Err(failed(format!("cannot talk to it: {e}")));
            }
            Ok(Err(HelperProblem::TooMuchOutput)) => {
                return Err(failed(format!(
                    "it printed more than {MAX_HELPER_OUTPUT} bytes"
                )));
            }
            Ok(Ok(output)) => output,
        };
        if !output.status.success() {
            if mentions_not_found(&output.stdout) || mentions_not_found(&output.stderr) {
                return Ok(None);
            }
            return Err(failed(format!("it exited with {}", output.status)));
        }
        parse_helper_answer(&output.stdout).map_err(|reason| failed(reason.to_owned()))
    }
}

/// Reads at most [`MAX_CONFIG_LEN`] bytes; `Ok(None)` when the file is longer.
/// Only a regular file: a FIFO or a device there is refused at once (see `config::file`).
fn read_bounded(path: &Path) -> io::Result<Option<Vec<u8>>> {
    use crate::config::file::{FileError, read};
    match read(path, MAX_CONFIG_LEN) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(FileError::TooLarge { .. }) => Ok(None),
        Err(FileError::Io { source, .. }) => Err(source),
        Err(FileError::NotRegular { kind, .. }) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a regular file (it is {kind})"),
        )),
    }
}

enum ParseError {
    Json(String),
    Config(String),
}

type Parsed = (
    Vec<Entry<Option<Credential>>>,
    Option<String>,
    Vec<Entry<String>>,
);

fn parse_config(bytes: &[u8]) -> Result<Parsed, ParseError> {
    // Windows editors save a byte-order mark that Go's decoder would trip over; skipping it
    // costs nothing.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if std::str::from_utf8(bytes).is_err() {
        return Err(ParseError::Json("it is not utf-8 text".into()));
    }
    // Only the position: serde_json's message can quote the offending value.
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ParseError::Json(format!("error at line {} column {}", e.line(), e.column()))
    })?;
    let Value::Object(root) = value else {
        return Err(ParseError::Config(
            "the top level is not a json object".into(),
        ));
    };
    let config = ParseError::Config;

    let mut auths = Vec::new();
    for (key, entry) in object_field(&root, "auths")
        .map_err(config)?
        .into_iter()
        .flatten()
    {
        let Value::Object(entry) = entry else {
            return Err(config(format!("`auths` entry {key:?} is not an object")));
        };
        let value = entry_credential(entry)
            .map_err(|problem| config(format!("`auths` entry {key:?}: {problem}")))?;
        auths.push(Entry {
            key: key.clone(),
            host: normalize_host(key),
            value,
        });
    }

    let creds_store = string_field(&root, "credsStore")
        .map_err(config)?
        .filter(|name| !name.is_empty());
    if creds_store.is_some_and(|name| !is_helper_name(name)) {
        return Err(config(format!("`credsStore`: {HELPER_NAME_RULE}")));
    }

    let mut cred_helpers = Vec::new();
    for (key, helper) in object_field(&root, "credHelpers")
        .map_err(config)?
        .into_iter()
        .flatten()
    {
        let Value::String(helper) = helper else {
            return Err(config(format!(
                "`credHelpers` entry {key:?} is not a string"
            )));
        };
        if !helper.is_empty() && !is_helper_name(helper) {
            return Err(config(format!(
                "`credHelpers` entry {key:?}: {HELPER_NAME_RULE}"
            )));
        }
        cred_helpers.push(Entry {
            key: key.clone(),
            host: normalize_host(key),
            value: helper.clone(),
        });
    }
    // serde_json's map is ordered by key (no `preserve_order`), so `lookup` is deterministic.
    Ok((auths, creds_store.map(str::to_owned), cred_helpers))
}

/// One `auths` value. As in Docker, a non-empty `auth` overrides `username`/`password`, and an
/// identity token, when present, is what gets used (Docker's token fetch prefers it).
fn entry_credential(entry: &Map<String, Value>) -> Result<Option<Credential>, String> {
    let basic = match string_field(entry, "auth")?.filter(|a| !a.is_empty()) {
        Some(auth) => Some(Credential::from_auth(auth).map_err(|err| match err {
            CredentialsError::InvalidAuth { reason } => reason.to_string(),
            other => other.to_string(),
        })?),
        None => match string_field(entry, "username")?.filter(|u| !u.is_empty()) {
            Some(username) => Some(Credential::Basic {
                username: username.to_owned(),
                password: Secret::new(string_field(entry, "password")?.unwrap_or_default()),
            }),
            // A password without a login: nothing a registry would accept.
            None => {
                string_field(entry, "password")?;
                None
            }
        },
    };
    match string_field(entry, "identitytoken")?.filter(|t| !t.is_empty()) {
        Some(token) => Ok(Some(Credential::IdentityToken(Secret::new(token)))),
        None => Ok(basic),
    }
}

/// Go's encoding/json, which Docker uses, matches field names case-insensitively (preferring an
/// exact match); config files written by hand or by other tools rely on it.
fn field<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object
        .get(name)
        .or_else(|| {
            object
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value)
        })
        .filter(|value| !value.is_null())
}

/// The problem names the field only: its value may be a secret.
fn string_field<'a>(object: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, String> {
    match field(object, name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("`{name}` is not a string")),
    }
}

fn object_field<'a>(
    object: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a Map<String, Value>>, String> {
    match field(object, name) {
        None => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(format!("`{name}` is not an object")),
    }
}

const HELPER_NAME_RULE: &str = "a helper name may only contain letters, digits, '.', '_' and '-'";

/// Helper names become part of a program name; a `/` would turn `docker-credential-<name>` into
/// a path to anywhere.
fn is_helper_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A config key or a registry as a bare lowercase host[:port], Docker Hub's spellings folded into
/// "docker.io". Docker's `ConvertToHostname` strips the scheme and path the same way; the case
/// folding is ours, since hosts are case-insensitive.
fn normalize_host(key: &str) -> String {
    let key = key.trim();
    let without_scheme = ["https://", "http://"]
        .iter()
        .find_map(|scheme| {
            key.get(..scheme.len())
                .filter(|prefix| prefix.eq_ignore_ascii_case(scheme))
                .map(|_| &key[scheme.len()..])
        })
        .unwrap_or(key);
    let host = match without_scheme.find('/') {
        Some(slash) => &without_scheme[..slash],
        None => without_scheme,
    }
    .to_ascii_lowercase();
    if DOCKER_HUB_ALIASES.contains(&host.as_str()) {
        DOCKER_HUB.to_owned()
    } else {
        host
    }
}

/// The server address Docker would look up and hand to a helper: Docker Hub's legacy URL, the
/// bare host for everything else.
fn server_address(host: &str) -> &str {
    if host == DOCKER_HUB {
        DOCKER_HUB_SERVER
    } else {
        host
    }
}

/// Docker looks the server address up as written first, then any key naming the same host.
fn lookup<'a, T>(entries: &'a [Entry<T>], host: &str, server: &str) -> Option<&'a T> {
    entries
        .iter()
        .find(|entry| entry.key == server)
        .or_else(|| entries.iter().find(|entry| entry.host == host))
        .map(|entry| &entry.value)
}

enum HelperProblem {
    NotFound,
    Spawn(io::Error),
    Io(io::Error),
    TooMuchOutput,
}

struct HelperOutput {
    status: std::process::ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// `<program> get` with the server address on stdin, as docker-credential-helpers' client does
/// (no trailing newline).
async fn run_helper(program: &Path, server: &str) -> Result<HelperOutput, HelperProblem> {
    let mut child = Command::new(program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => HelperProblem::NotFound,
            _ => HelperProblem::Spawn(e),
        })?;
    let stdin = child.stdin.take();
    let write = async move {
        if let Some(mut stdin) = stdin {
            // A helper that exits without reading closes the pipe; its exit status, not the
            // broken pipe, is what to report.
            let _ = stdin.write_all(server.as_bytes()).await;
        }
        Ok::<(), HelperProblem>(())
    };
    let (_, stdout, stderr) = tokio::try_join!(
        write,
        read_limited(child.stdout.take()),
        read_limited(child.stderr.take()),
    )?;
    let status = child.wait().await.map_err(HelperProblem::Io)?;
    Ok(HelperOutput {
        status,
        stdout,
        stderr,
    })
}

/// Reads to the end, failing as soon as the stream passes [`MAX_HELPER_OUTPUT`] (which drops,
/// and so kills, the helper instead of waiting for the timeout).
async fn read_limited(stream: Option<impl AsyncRead + Unpin>) -> Result<Vec<u8>, HelperProblem> {
    let mut bytes = Vec::new();
    if let Some(stream) = stream {
        stream
            .take(MAX_HELPER_OUTPUT as u64 + 1)
            .read_to_end(&mut bytes)
            .await
            .map_err(HelperProblem::Io)?;
    }
    if bytes.len() > MAX_HELPER_OUTPUT {
        return Err(HelperProblem::TooMuchOutput);
    }
    Ok(bytes)
}

fn mentions_not_found(output: &[u8]) -> bool {
    String::from_utf8_lossy(output)
        .to_ascii_lowercase()
        .contains(NOT_FOUND_MESSAGE)
}

/// `{"ServerURL": …, "Username": …, "Secret": …}`. Empty answers mean no credential, as do a
/// `<token>` without a token and a secret without a login (nothing a registry would accept).
fn parse_helper_answer(stdout: &[u8]) -> Result<Option<Credential>, &'static str> {
    let Ok(Value::Object(answer)) = serde_json::from_slice::<Value>(stdout) else {
        return Err("it printed something other than a json object");
    };
    let text = |name| match field(&answer, name) {
        None => Ok(""),
        Some(Value::String(s)) => Ok(s.as_str()),
        Some(_) => Err("its answer has a field that is not a string"),
    };
    let (username, secret) = (text("Username")?, text("Secret")?);
    Ok(match (username, secret) {
        (_, "") | ("", _) => None,
        (TOKEN_USERNAME, token) => Some(Credential::IdentityToken(Secret::new(token))),
        (username, password) => Some(Credential::Basic {
            username: username.to_owned(),
            password: Secret::new(password),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use std::sync::OnceLock;
    use std::time::Instant;

    /// Every secret in the fixtures contains this, so one assertion shows none leaks into a
    /// `Debug` or an error message.
    const MARK: &str = "s3cret";

    /// Answers like a real helper, chosen by the server address it is asked about.
    const HELPER_SCRIPT: &str = r#"#!/bin/sh
[ "$1" = get ] || { echo "unexpected action" >&2; exit 3; }
url=$(cat)
case "$url" in
  https://index.docker.io/v1/)
    printf '{"ServerURL":"%s","Username":"hubuser","Secret":"hub-s3cret"}\n' "$url" ;;
  basic.example)
    echo '{"ServerURL":"basic.example","Username":"alice","Secret":"alice-s3cret"}' ;;
  127.0.0.1:5000)
    echo '{"ServerURL":"127.0.0.1:5000","Username":"local","Secret":"local-s3cret"}' ;;
  token.example)
    echo '{"ServerURL":"token.example","Username":"<token>","Secret":"refresh-s3cret"}' ;;
  lowercase.example)
    echo '{"serverurl":"lowercase.example","username":"bob","secret":"bob-s3cret"}' ;;
  empty.example)
    echo '{"ServerURL":"empty.example","Username":"","Secret":""}' ;;
  missing.example)
    echo 'credentials not found in native keychain'; exit 1 ;;
  missing-stderr.example)
    echo 'Credentials not found' >&2; exit 1 ;;
  broken.example)
    echo 'fatal: token s3cret rejected'; echo 'also s3cret' >&2; exit 1 ;;
  garbage.example)
    echo 'not json: s3cret' ;;
  numbers.example)
    echo '{"Username":1,"Secret":"s3cret"}' ;;
  hang.example)
    exec sleep 30 ;;
  flood.example)
    exec yes s3cret ;;
  *)
    echo "unexpected server address" >&2; exit 4 ;;
esac
"#;

    /// Short so the hanging helper does not slow the suite; long enough for `sh` to start on a
    /// loaded CI machine.
    const TEST_TIMEOUT: Duration = Duration::from_secs(2);

    /// The directory holding `docker-credential-twtest`, written once before any test can run
    /// it: executing a file another thread still has open for writing fails with ETXTBSY.
    fn helper_dir() -> &'static Path {
        static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
        DIR.get_or_init(|| {
            use std::os::unix::fs::PermissionsExt as _;
            let dir = tempfile::tempdir().expect("temp dir");
            let script = dir.path().join("docker-credential-twtest");
            std::fs::write(&script, HELPER_SCRIPT).expect("write helper");
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
                .expect("chmod helper");
            dir
        })
        .path()
    }

    enum File<'a> {
        Missing,
        Text(&'a str),
        Bytes(Vec<u8>),
        Directory,
    }

    enum Want {
        Found(Credential),
        Nothing,
        /// A fragment the error message must contain.
        Fails(&'static str),
    }

    fn basic(username: &str, password: &str) -> Want {
        Want::Found(Credential::Basic {
            username: username.to_owned(),
            password: Secret::new(password),
        })
    }

    fn identity(token: &str) -> Want {
        Want::Found(Credential::IdentityToken(Secret::new(token)))
    }

    /// base64 of `text`, for fixtures.
    fn b64(text: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(text)
    }

    /// The only place the tests call the API: writes `file` as config.json in a fresh directory,
    /// loads it with the test helper, asks for `registry`'s credential, and checks that no secret
    /// shows in anything printable.
    async fn check(file: File<'_>, registry: &str, want: Want) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("config.json");
        match &file {
            File::Missing => {}
            File::Text(text) => std::fs::write(&path, text).expect("write config"),
            File::Bytes(bytes) => std::fs::write(&path, bytes).expect("write config"),
            File::Directory => std::fs::create_dir(&path).expect("mkdir"),
        }
        let label = match &file {
            File::Text(text) => format!("{text} for {registry}"),
            _ => format!("special file for {registry}"),
        };
        let started = Instant::now();
        let result = match DockerConfig::load(dir.path()) {
            Ok(Some(config)) => {
                assert_eq!(config.path(), path);
                let config = config
                    .with_helper_dir(helper_dir())
                    .with_helper_timeout(TEST_TIMEOUT);
                assert!(!format!("{config:?}").contains(MARK), "{config:?}");
                config.credential_for(registry).await
            }
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        };
        assert!(
            started.elapsed() < TEST_TIMEOUT + Duration::from_secs(3),
            "{label}: took {:?}",
            started.elapsed()
        );
        assert!(!format!("{result:?}").contains(MARK), "{label}: {result:?}");
        match (want, result) {
            (Want::Found(expected), Ok(Some(actual))) => assert_eq!(actual, expected, "{label}"),
            (Want::Nothing, Ok(None)) => {}
            (Want::Fails(fragment), Err(e)) => {
                let message = e.to_string();
                assert!(message.contains(fragment), "{label}: {message}");
                assert!(!message.contains(MARK), "{label}: {message}");
                assert!(!message.ends_with('.'), "{label}: {message}");
                assert!(!message.starts_with(char::is_uppercase), "{message}");
                if !matches!(e, CredentialsError::InvalidAuth { .. })
                    && !message.contains("credential helper")
                {
                    assert!(message.contains(&path.display().to_string()), "{message}");
                }
            }
            (want, result) => {
                let want = match want {
                    Want::Found(c) => format!("{c:?}"),
                    Want::Nothing => "nothing".into(),
                    Want::Fails(f) => format!("an error containing {f:?}"),
                };
                panic!("{label}: wanted {want}, got {result:?}");
            }
        }
    }

    #[tokio::test]
    async fn config_files() {
        let alice = format!(
            r#"{{"auths":{{"ghcr.io":{{"auth":"{}"}}}}}}"#,
            b64("alice:a-s3cret")
        );
        let hub = format!(
            r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{}"}}}}}}"#,
            b64("hubuser:hub-s3cret")
        );
        let key_forms = [
            "ghcr.io",
            "https://ghcr.io",
            "http://ghcr.io",
            "https://ghcr.io/v1/",
            "https://GHCR.io/v2/",
            "HTTPS://ghcr.io/",
        ]
        .map(|key| {
            format!(
                r#"{{"auths":{{"{key}":{{"auth":"{}"}}}}}}"#,
                b64("alice:a-s3cret")
            )
        });
        let both_forms = format!(
            r#"{{"auths":{{"https://ghcr.io/v2/":{{"auth":"{}"}},"ghcr.io":{{"auth":"{}"}}}}}}"#,
            b64("old:o-s3cret"),
            b64("new:n-s3cret")
        );
        let auth_over_fields = format!(
            r#"{{"auths":{{"ghcr.io":{{"auth":"{}","username":"x","password":"x-s3cret"}}}}}}"#,
            b64("alice:a-s3cret")
        );
        let colon_and_nul = format!(
            r#"{{"auths":{{"ghcr.io":{{"auth":"{}"}}}}}}"#,
            b64("alice:a:s3cret\0\0")
        );
        let unpadded = format!(
            r#"{{"auths":{{"ghcr.io":{{"auth":"{}"}}}}}}"#,
            b64("al:s3cret1").trim_end_matches('=')
        );
        let with_identity = format!(
            r#"{{"auths":{{"quay.io":{{"auth":"{}","identitytoken":"refresh-s3cret"}}}}}}"#,
            b64("alice:a-s3cret")
        );
        let go_case = format!(
            r#"{{"Auths":{{"ghcr.io":{{"Auth":"{}"}}}}}}"#,
            b64("alice:a-s3cret")
        );
        let no_colon = format!(
            r#"{{"auths":{{"ghcr.io":{{"auth":"{}"}}}}}}"#,
            b64("s3cret")
        );
        let no_login = format!(
            r#"{{"auths":{{"ghcr.io":{{"auth":"{}"}}}}}}"#,
            b64(":s3cret")
        );
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(alice.as_bytes());
        let mut huge = br#"{"auths":{},"pad":""#.to_vec();
        huge.resize(MAX_CONFIG_LEN as usize + 10, b'a');
        huge.extend_from_slice(br#""}"#);

        let cases: Vec<(File<'_>, &str, Want)> = vec![
            // The three ways an auths entry holds a credential.
            (File::Text(&alice), "ghcr.io", basic("alice", "a-s3cret")),
            (
                File::Text(r#"{"auths":{"ghcr.io":{"username":"bob","password":"b-s3cret"}}}"#),
                "ghcr.io",
                basic("bob", "b-s3cret"),
            ),
            (
                File::Text(&with_identity),
                "quay.io",
                identity("refresh-s3cret"),
            ),
            (
                File::Text(r#"{"auths":{"quay.io":{"identitytoken":"refresh-s3cret"}}}"#),
                "quay.io",
                identity("refresh-s3cret"),
            ),
            (
                File::Text(&auth_over_fields),
                "ghcr.io",
                basic("alice", "a-s3cret"),
            ),
            (
                File::Text(&colon_and_nul),
                "ghcr.io",
                basic("alice", "a:s3cret"),
            ),
            (File::Text(&unpadded), "ghcr.io", basic("al", "s3cret1")),
            (File::Text(&go_case), "ghcr.io", basic("alice", "a-s3cret")),
            (File::Bytes(bom), "ghcr.io", basic("alice", "a-s3cret")),
            // Key forms, and the registry asked for in any case or with a scheme.
            (
                File::Text(&key_forms[0]),
                "ghcr.io",
                basic("alice", "a-s3cret"),
            ),
            (
                File::Text(&key_forms[1]),
                "ghcr.io",
                basic("alice", "a-s3cret"),
            ),
            (
                File::Text(&key_forms[2]),
                "ghcr.io",
                basic("alice", "a-s3cret"),
            ),
            (
                File::Text(&key_forms[3]),
                "ghcr.io",
                basic("alice", "a-s3cret"),
            ),
            (
                File::Text(&key_forms[4]),
                "ghcr.io",
                basic("alice", "a-s3cret"),
            ),
            (
                File::Text(&key_forms[5]),
                "GHCR.IO",
                basic("alice", "a-s3cret"),
            ),
            (
                File::Text(&key_forms[0]),
                "https://ghcr.io/v2/",
                basic("alice", "a-s3cret"),
            ),
            (File::Text(&both_forms), "ghcr.io", basic("new", "n-s3cret")),
            (File::Text(&alice), "ghcr.io.evil.example", Want::Nothing),
            (File::Text(&alice), "quay.io", Want::Nothing),
            (File::Text(&alice), "", Want::Nothing),
            // Docker Hub under every name.
            (
                File::Text(&hub),
                "docker.io",
                basic("hubuser", "hub-s3cret"),
            ),
            (
                File::Text(&hub),
                "index.docker.io",
                basic("hubuser", "hub-s3cret"),
            ),
            (
                File::Text(&hub),
                "registry-1.docker.io",
                basic("hubuser", "hub-s3cret"),
            ),
            (
                File::Text(r#"{"auths":{"docker.io":{"username":"u","password":"p-s3cret"}}}"#),
                "docker.io",
                basic("u", "p-s3cret"),
            ),
            // Ports are part of the host.
            (
                File::Text(
                    r#"{"auths":{"http://127.0.0.1:5000":{"username":"u","password":"p-s3cret"}}}"#,
                ),
                "127.0.0.1:5000",
                basic("u", "p-s3cret"),
            ),
            (
                File::Text(
                    r#"{"auths":{"127.0.0.1:5000":{"username":"u","password":"p-s3cret"}}}"#,
                ),
                "127.0.0.1:5001",
                Want::Nothing,
            ),
            // Entries that hold nothing (placeholders left by a credsStore login).
            (
                File::Text(r#"{"auths":{"ghcr.io":{}}}"#),
                "ghcr.io",
                Want::Nothing,
            ),
            (
                File::Text(r#"{"auths":{"ghcr.io":{"auth":"","email":"a@b.c"}}}"#),
                "ghcr.io",
                Want::Nothing,
            ),
            (
                File::Text(r#"{"auths":{"ghcr.io":{"password":"p-s3cret"}}}"#),
                "ghcr.io",
                Want::Nothing,
            ),
            (File::Text("{}"), "ghcr.io", Want::Nothing),
            (
                File::Text(r#"{"auths":null,"credsStore":"","psFormat":"x"}"#),
                "ghcr.io",
                Want::Nothing,
            ),
            (File::Missing, "ghcr.io", Want::Nothing),
            // Broken files: named, never quoted.
            (
                File::Text(r#"{"auths":{"ghcr.io":{"auth":"s3cret"#),
                "ghcr.io",
                Want::Fails("is not valid json: error at line 1 column 35"),
            ),
            (
                File::Text(r#"{"auths":{"ghcr.io":{"auth":"s3cret!!"}}}"#),
                "ghcr.io",
                Want::Fails(r#"`auths` entry "ghcr.io": auth is not valid base64"#),
            ),
            (
                File::Text(&no_colon),
                "ghcr.io",
                Want::Fails("auth does not decode to login:password"),
            ),
            (
                File::Text(&no_login),
                "ghcr.io",
                Want::Fails("auth decodes to an empty login"),
            ),
            (
                File::Text(r#"{"auths":{"ghcr.io":{"password":["s3cret"]}}}"#),
                "ghcr.io",
                Want::Fails(r#"`auths` entry "ghcr.io": `password` is not a string"#),
            ),
            (
                File::Text(r#"{"auths":"s3cret"}"#),
                "ghcr.io",
                Want::Fails("`auths` is not an object"),
            ),
            (
                File::Text(r#"["s3cret"]"#),
                "ghcr.io",
                Want::Fails("the top level is not a json object"),
            ),
            (
                File::Bytes(b"{\"auths\":{\"x\":{\"auth\":\"s3cret\xff\xfe\"}}}".to_vec()),
                "ghcr.io",
                Want::Fails("is not valid json: it is not utf-8 text"),
            ),
            (
                File::Bytes(huge),
                "ghcr.io",
                Want::Fails("is larger than 1048576 bytes"),
            ),
            (
                File::Directory,
                "ghcr.io",
                Want::Fails("cannot read docker config"),
            ),
            (
                File::Text(r#"{"credsStore":"../../bin/s3cret"}"#),
                "ghcr.io",
                Want::Fails("`credsStore`: a helper name may only contain"),
            ),
            (
                File::Text(r#"{"credHelpers":{"ghcr.io":"a/s3cret"}}"#),
                "ghcr.io",
                Want::Fails(r#"`credHelpers` entry "ghcr.io": a helper name"#),
            ),
            (
                File::Text(r#"{"credHelpers":{"ghcr.io":1}}"#),
                "ghcr.io",
                Want::Fails(r#"`credHelpers` entry "ghcr.io" is not a string"#),
            ),
        ];
        for (file, registry, want) in cases {
            check(file, registry, want).await;
        }
    }

    #[tokio::test]
    async fn credential_helpers() {
        let store = r#"{"credsStore":"twtest"}"#;
        let by_host = format!(
            r#"{{"credHelpers":{{"basic.example":"twtest"}},"auths":{{"other.example":{{"auth":"{}"}}}}}}"#,
            b64("file:f-s3cret")
        );
        let opt_out = format!(
            r#"{{"credsStore":"twtest","credHelpers":{{"plain.example":""}},"auths":{{"plain.example":{{"auth":"{}"}},"missing.example":{{"auth":"{}"}}}}}}"#,
            b64("file:f-s3cret"),
            b64("file:f-s3cret")
        );
        let cases: Vec<(File<'_>, &str, Want)> = vec![
            (
                File::Text(store),
                "basic.example",
                basic("alice", "alice-s3cret"),
            ),
            (
                File::Text(store),
                "token.example",
                identity("refresh-s3cret"),
            ),
            (
                File::Text(store),
                "lowercase.example",
                basic("bob", "bob-s3cret"),
            ),
            (
                File::Text(store),
                "127.0.0.1:5000",
                basic("local", "local-s3cret"),
            ),
            // Docker Hub is asked for under Docker's legacy server address.
            (
                File::Text(store),
                "docker.io",
                basic("hubuser", "hub-s3cret"),
            ),
            (
                File::Text(store),
                "registry-1.docker.io",
                basic("hubuser", "hub-s3cret"),
            ),
            (File::Text(store), "empty.example", Want::Nothing),
            (File::Text(store), "missing.example", Want::Nothing),
            (File::Text(store), "missing-stderr.example", Want::Nothing),
            (
                File::Text(store),
                "broken.example",
                Want::Fails("docker-credential-twtest failed: it exited with exit status: 1"),
            ),
            (
                File::Text(store),
                "garbage.example",
                Want::Fails("it printed something other than a json object"),
            ),
            (
                File::Text(store),
                "numbers.example",
                Want::Fails("a field that is not a string"),
            ),
            (
                File::Text(store),
                "hang.example",
                Want::Fails("docker-credential-twtest did not answer within 2s"),
            ),
            (
                File::Text(store),
                "flood.example",
                Want::Fails("it printed more than 65536 bytes"),
            ),
            (
                File::Text(store),
                "unknown.example",
                Want::Fails("exited with exit status: 4"),
            ),
            (
                File::Text(r#"{"credsStore":"nosuchhelper"}"#),
                "ghcr.io",
                Want::Fails("docker-credential-nosuchhelper is not installed"),
            ),
            // credHelpers picks the helper per host; other hosts use auths.
            (
                File::Text(&by_host),
                "basic.example",
                basic("alice", "alice-s3cret"),
            ),
            (
                File::Text(&by_host),
                "other.example",
                basic("file", "f-s3cret"),
            ),
            (File::Text(&by_host), "third.example", Want::Nothing),
            // An empty credHelpers entry opts a host out of credsStore, back to auths.
            (
                File::Text(&opt_out),
                "plain.example",
                basic("file", "f-s3cret"),
            ),
            // A store that has nothing means anonymous, even if auths has an entry (as Docker).
            (File::Text(&opt_out), "missing.example", Want::Nothing),
        ];
        for (file, registry, want) in cases {
            check(file, registry, want).await;
        }
    }

    #[test]
    fn from_auth() {
        let cases = [
            (b64("alice:a-s3cret"), Ok(("alice", "a-s3cret"))),
            (format!(" {} ", b64("a:")), Ok(("a", ""))),
            (
                "%%%".to_owned(),
                Err("invalid docker auth value: auth is not valid base64"),
            ),
            (
                b64("s3cret"),
                Err("invalid docker auth value: auth does not decode to login:password"),
            ),
        ];
        for (input, want) in cases {
            let got = Credential::from_auth(&input);
            assert!(!format!("{got:?}").contains(MARK), "{got:?}");
            match (want, got) {
                (
                    Ok((username, password)),
                    Ok(Credential::Basic {
                        username: u,
                        password: p,
                    }),
                ) => {
                    assert_eq!((u.as_str(), p.expose()), (username, password));
                }
                (Err(message), Err(e)) => assert_eq!(e.to_string(), message),
                (want, got) => panic!("{input:?}: wanted {want:?}, got {got:?}"),
            }
        }
    }
}
