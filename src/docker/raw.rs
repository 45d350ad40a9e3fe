//! The engine requests bollard's types cannot make (and `swarm.rs`'s service update, which
//! must send a spec back verbatim): its models follow the newest API and
//! drop `Config.MacAddress`, which engines before API 1.44 (Docker 20.10, Debian 12's) still
//! use for a user's MAC address, in the inspect and at create. Plain HTTP to the same endpoint,
//! at the version bollard negotiated, through reqwest (already here for the registries).

use super::{DockerError, Engine};
use crate::config::Endpoint;
use serde_json::Value;
use std::time::Duration;

/// As bollard's requests to the engine.
const TIMEOUT: Duration = Duration::from_secs(30);

impl Engine {
    /// `GET /containers/{id}/json`, as the engine sent it.
    pub(super) async fn raw_inspect(&self, id: &str) -> Result<Value, DockerError> {
        let (client, base) = self.raw_client()?;
        let url = format!("{base}{}/containers/{id}/json", self.api_prefix());
        let response = client
            .get(url)
            .send()
            .await
            .map_err(|err| self.raw_failed(&err))?;
        self.raw_answer(response).await
    }

    /// `POST /containers/create?name=…` with `body` as is; the new container's ID.
    pub(super) async fn raw_create(&self, name: &str, body: &Value) -> Result<String, DockerError> {
        let (client, base) = self.raw_client()?;
        // Container names are `[a-zA-Z0-9][a-zA-Z0-9_.-]*`: nothing to escape in a query.
        let url = format!("{base}{}/containers/create?name={name}", self.api_prefix());
        let response = client
            .post(url)
            .json(body)
            .send()
            .await
            .map_err(|err| self.raw_failed(&err))?;
        let created = self.raw_answer(response).await?;
        created["Id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| DockerError::Api {
                watcher: self.watcher.clone(),
                reason: "the engine created a container without telling its ID".into(),
            })
    }

    /// Whether the negotiated API is older than 1.44: then a MAC address is set through
    /// `Config.MacAddress`, not on the endpoint.
    pub(super) fn api_before_1_44(&self) -> bool {
        let v = self.docker.client_version();
        (v.major_version, v.minor_version) < (1, 44)
    }

    /// Whether the negotiated API is older than 1.42, which added a stop request's `signal`.
    pub(super) fn api_before_1_42(&self) -> bool {
        let v = self.docker.client_version();
        (v.major_version, v.minor_version) < (1, 42)
    }

    pub(super) fn api_prefix(&self) -> String {
        let v = self.docker.client_version();
        format!("/v{}.{}", v.major_version, v.minor_version)
    }

    /// A client for this engine's endpoint and the base of its URLs. Built per request: these
    /// are rare (one per update), and a cached client would hold TLS files read once.
    pub(super) fn raw_client(&self) -> Result<(reqwest::Client, String), DockerError> {
        let failed = |reason: String| DockerError::Api {
            watcher: self.watcher.clone(),
            reason,
        };
        let builder = reqwest::Client::builder().timeout(TIMEOUT);
        let (builder, base) = match &self.endpoint {
            Endpoint::Socket(path) => (
                builder.unix_socket(path.trim_start_matches("unix://")),
                "http://docker".to_string(),
            ),
            Endpoint::Tcp { host, port } => (builder, format!("http://{host}:{port}")),
            Endpoint::Tls {
                host,
                port,
                cafile,
                certfile,
                keyfile,
            } => {
                let read = |path: &std::path::Path| {
                    crate::config::file::read(path, crate::config::file::FILE_LIMIT)
                        .map_err(|err| failed(err.to_string()))
                };
                let ca = reqwest::Certificate::from_pem(&read(cafile)?)
                    .map_err(|err| failed(format!("the CA file: {err}")))?;
                let mut pem = read(certfile)?;
                pem.push(b'\n');
                pem.extend(read(keyfile)?);
                let identity = reqwest::Identity::from_pem(&pem)
                    .map_err(|err| failed(format!("the client certificate: {err}")))?;
                (
                    builder.tls_certs_only([ca]).identity(identity),
                    format!("https://{host}:{port}"),
                )
            }
        };
        let client = builder
            .build()
            .map_err(|err| failed(format!("cannot set up a client: {err}")))?;
        Ok((client, base))
    }

    /// The JSON body of a 2xx answer; otherwise the engine's `message` as the reason.
    pub(super) async fn raw_answer(
        &self,
        response: reqwest::Response,
    ) -> Result<Value, DockerError> {
        let status = response.status();
        let body: Value = response.json().await.map_err(|err| self.raw_failed(&err))?;
        if status.is_success() {
            return Ok(body);
        }
        let message = body["message"].as_str().unwrap_or("no message");
        Err(DockerError::Api {
            watcher: self.watcher.clone(),
            reason: format!("{message} (HTTP {})", status.as_u16()),
        })
    }

    pub(super) fn raw_failed(&self, err: &reqwest::Error) -> DockerError {
        DockerError::Api {
            watcher: self.watcher.clone(),
            reason: err.to_string(),
        }
    }
}
