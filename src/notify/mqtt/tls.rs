//! The TLS client of `mqtts://`.

use crate::config::MqttTlsConfig;
use crate::trigger::BuildProblem;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use std::path::Path;
use std::sync::Arc;

/// The TLS client of `mqtts://`, WUD's keys: `cachain` (PEM) trusted instead of the system's
/// CAs, `clientcert` with `clientkey` (PEM) for mutual TLS, `rejectunauthorized=false` to accept
/// any server certificate (WUD's escape hatch for self-signed brokers; the handshake's
/// signatures are still checked).
pub(super) fn tls_config(tls: &MqttTlsConfig) -> Result<Arc<ClientConfig>, Vec<BuildProblem>> {
    let mut problems = Vec::new();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = RootCertStore::empty();
    match &tls.cachain {
        Some(path) => match certificates("tls.cachain", path) {
            Ok(certs) => {
                let (_, ignored) = roots.add_parsable_certificates(certs);
                if roots.is_empty() || ignored > 0 {
                    problems.push(BuildProblem::new(
                        "tls.cachain",
                        format!("{}: not a CA certificate rustls accepts", path.display()),
                    ));
                }
            }
            Err(p) => problems.push(p),
        },
        None => {
            // Unreadable system certificates are skipped; a broker they cannot verify fails
            // its handshake, said then.
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
        }
    }
    let client = match (&tls.clientcert, &tls.clientkey) {
        (None, None) => None,
        (Some(cert), Some(key)) => {
            let certs = certificates("tls.clientcert", cert).map_err(|p| problems.push(p));
            let key = PrivateKeyDer::from_pem_file(key).map_err(|err| {
                problems.push(BuildProblem::new(
                    "tls.clientkey",
                    format!("{}: {err}", key.display()),
                ))
            });
            certs.ok().zip(key.ok())
        }
        (Some(_), None) => {
            problems.push(BuildProblem::new(
                "tls.clientkey",
                "required with tls.clientcert",
            ));
            None
        }
        (None, Some(_)) => {
            problems.push(BuildProblem::new(
                "tls.clientcert",
                "required with tls.clientkey",
            ));
            None
        }
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|err| {
            vec![BuildProblem::new(
                "url",
                format!("cannot set up TLS: {err}"),
            )]
        })?;
    let builder = if tls.rejectunauthorized == Some(false) {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
    } else {
        builder.with_root_certificates(roots)
    };
    let config = match client {
        Some((certs, key)) => builder
            .with_client_auth_cert(certs, key)
            .map_err(|err| vec![BuildProblem::new("tls.clientkey", err.to_string())])?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// Every certificate of a PEM file; none is a problem at `key`.
fn certificates(key: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, BuildProblem> {
    let problem =
        |message: String| BuildProblem::new(key, format!("{}: {message}", path.display()));
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|err| problem(err.to_string()))?;
    if certs.is_empty() {
        return Err(problem("no certificate in it".into()));
    }
    Ok(certs)
}

/// `rejectunauthorized=false`: any server certificate is taken; the handshake's signatures are
/// still verified, so the session is encrypted to whoever holds the certificate's key.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
