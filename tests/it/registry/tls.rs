//! A registry served over HTTPS with a certificate from a private CA: the system's roots do not
//! trust it, a configured `cafile` does, and `insecure` opts out of verification.
//!
//! The TLS registry is a second `docker-registry` serving the storage of a plain one the test
//! pushed to, so images need no trust set up in the Docker engine.

use super::{assert_counts, image};
use crate::support::TestRun;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tidewatch::config::{RegistriesConfig, RegistryConfig};
use tidewatch::registry::{ClientSettings, RegistryClient, RegistryError, RequestKind};

/// A `docker-registry` over TLS; killed on drop.
struct TlsTwin {
    child: Child,
    addr: String,
    ca: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for TlsTwin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TlsTwin {
    /// Serves `storage` over HTTPS on a free loopback port, with a certificate for 127.0.0.1
    /// signed by a CA made for this test.
    fn start(storage: &Path) -> TlsTwin {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=tidewatch test CA",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
            ],
        );
        openssl(
            d,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=127.0.0.1",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
            ],
        );
        std::fs::write(d.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").expect("write ext");
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "1",
                "-extfile",
                "san.ext",
                "-out",
                "server.pem",
            ],
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let addr = format!("127.0.0.1:{port}");
        let config = format!(
            "version: 0.1\nlog: {{ level: warn }}\nstorage: {{ filesystem: {{ rootdirectory: {} }} }}\n\
             http: {{ addr: \"{addr}\", tls: {{ certificate: {}, key: {} }} }}\n",
            storage.display(),
            d.join("server.pem").display(),
            d.join("server.key").display(),
        );
        std::fs::write(d.join("config.yml"), config).expect("write config");
        let log = std::fs::File::create(d.join("registry.log")).expect("log file");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(d.join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("start docker-registry");
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(&addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "TLS registry on {addr} did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        TlsTwin {
            child,
            addr,
            ca: d.join("ca.pem"),
            _dir: dir,
        }
    }

    fn client(
        &self,
        cafile: Option<PathBuf>,
        insecure: bool,
    ) -> Result<RegistryClient, RegistryError> {
        let registry = RegistryConfig {
            url: Some(format!("https://{}", self.addr)),
            cafile,
            insecure,
            ..RegistryConfig::default()
        };
        let config = RegistriesConfig {
            custom: [("tls".to_string(), registry)].into(),
            ..RegistriesConfig::default()
        };
        RegistryClient::new(
            &config,
            ClientSettings {
                limits: super::limits(),
                ..ClientSettings::default()
            },
        )
    }
}

#[track_caller]
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (Debian's openssl package) runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_private_ca_is_trusted_through_cafile_or_insecure_only() {
    let run = TestRun::new();
    let registry = run.registry();
    let pushed = run.push(&registry, "secure/app", "1.0.0");
    let storage = registry
        .storage_dir()
        .expect("a docker-registry process, not the container fallback");
    let twin = TlsTwin::start(&storage);
    let reference = image(&format!("{}/secure/app:1.0.0", twin.addr));

    // With the CA: the same digest, over HTTPS.
    let trusted = twin.client(Some(twin.ca.clone()), false).expect("client");
    let remote = trusted
        .session()
        .manifest_digest(&reference, None)
        .await
        .expect("HEAD over TLS");
    assert_eq!(remote.digest, pushed.digest);
    assert_counts(
        &trusted,
        &[
            (&twin.addr, RequestKind::Ping, 200, 1),
            (&twin.addr, RequestKind::Head, 200, 1),
        ],
    );

    // Without it: the certificate is refused, and said so.
    let default = twin.client(None, false).expect("client");
    let err = default
        .session()
        .manifest_digest(&reference, None)
        .await
        .expect_err("untrusted CA");
    assert!(matches!(err, RegistryError::Transport { .. }), "{err:?}");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );

    // `insecure`, by the user's choice: accepted unverified.
    let insecure = twin.client(None, true).expect("client");
    let remote = insecure
        .session()
        .manifest_digest(&reference, None)
        .await
        .expect("HEAD, unverified");
    assert_eq!(remote.digest, pushed.digest);
}

#[test]
fn a_cafile_that_is_not_a_certificate_stops_the_client_naming_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bogus = dir.path().join("not-a-ca.pem");
    std::fs::write(&bogus, "hello").expect("write");
    let registry = RegistryConfig {
        url: Some("https://registry.example.lan".into()),
        cafile: Some(bogus.clone()),
        ..RegistryConfig::default()
    };
    let config = RegistriesConfig {
        custom: [("lan".to_string(), registry)].into(),
        ..RegistriesConfig::default()
    };
    let err = RegistryClient::new(&config, ClientSettings::default())
        .err()
        .expect("refused");
    assert!(
        err.to_string().contains(&bogus.display().to_string()),
        "{err}"
    );
    let missing = RegistryConfig {
        url: Some("https://registry.example.lan".into()),
        cafile: Some(dir.path().join("absent.pem")),
        ..RegistryConfig::default()
    };
    let config = RegistriesConfig {
        custom: [("lan".to_string(), missing)].into(),
        ..RegistriesConfig::default()
    };
    let err = RegistryClient::new(&config, ClientSettings::default())
        .err()
        .expect("refused");
    assert!(err.to_string().contains("absent.pem"), "{err}");
}
