//! Binding the port (so a port in use stops start-up with a clear error) and serving until
//! shutdown, over plain TCP or TLS. A TLS handshake runs in its own task with a deadline, so a
//! client that connects and says nothing never holds up the next one.

use crate::config::ServerConfig;
use axum::Router;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

/// How long a client has to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("TLS file {path}: {message}")]
    Tls { path: PathBuf, message: String },
    #[error("server stopped: {0}")]
    Serve(#[source] std::io::Error),
}

/// A bound port, ready to serve.
pub struct Listening {
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    addr: SocketAddr,
}

impl Listening {
    /// Binds `server.address:server.port` and reads the TLS files, so that every problem is
    /// known before the daemon starts.
    pub async fn bind(config: &ServerConfig) -> Result<Listening, ServerError> {
        let ip: std::net::IpAddr = config
            .address
            .parse()
            .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into());
        let addr = SocketAddr::new(ip, config.port);
        let tls = match config.tls.files() {
            Some((cert, key)) => Some(acceptor(cert, key)?),
            None => None,
        };
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServerError::Bind { addr, source })?;
        let addr = listener.local_addr().unwrap_or(addr);
        Ok(Listening {
            listener,
            tls,
            addr,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Serves `router` until `shutdown` resolves; requests under way then finish.
    pub async fn serve(
        self,
        router: Router,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        match self.tls {
            None => axum::serve(self.listener, router)
                .with_graceful_shutdown(shutdown)
                .await
                .map_err(ServerError::Serve),
            Some(acceptor) => {
                let listener = TlsListener::start(self.listener, acceptor, self.addr);
                axum::serve(listener, router)
                    .with_graceful_shutdown(shutdown)
                    .await
                    .map_err(ServerError::Serve)
            }
        }
    }
}

fn acceptor(cert: &PathBuf, key: &PathBuf) -> Result<tokio_rustls::TlsAcceptor, ServerError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|iter| iter.collect::<Result<_, _>>())
        .map_err(|err| ServerError::Tls {
            path: cert.clone(),
            message: err.to_string(),
        })?;
    if certs.is_empty() {
        return Err(ServerError::Tls {
            path: cert.clone(),
            message: "no certificate in it".into(),
        });
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|err| ServerError::Tls {
        path: key.clone(),
        message: err.to_string(),
    })?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(certs, key_der))
        .map_err(|err| ServerError::Tls {
            path: key.clone(),
            message: err.to_string(),
        })?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Accepts TCP connections in a task of its own and hands over those whose handshake finished.
struct TlsListener {
    ready: tokio::sync::mpsc::Receiver<(tokio_rustls::server::TlsStream<TcpStream>, SocketAddr)>,
    addr: SocketAddr,
    _accepting: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    fn start(listener: TcpListener, acceptor: tokio_rustls::TlsAcceptor, addr: SocketAddr) -> Self {
        let (tx, ready) = tokio::sync::mpsc::channel(64);
        let accepting = tokio::spawn(async move {
            loop {
                let (stream, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        tracing::debug!(error = %err, "Connection not accepted.");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(err)) => {
                            tracing::debug!(peer = %peer, error = %err, "TLS handshake failed.")
                        }
                        Err(_) => tracing::debug!(peer = %peer, "TLS handshake timed out."),
                    }
                });
            }
        });
        TlsListener {
            ready,
            addr,
            _accepting: accepting,
        }
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self._accepting.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(ready) => ready,
            // The accepting task ended only if aborted; nothing more will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.addr)
    }
}
