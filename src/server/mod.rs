//! The daemon's HTTP server: WUD's API (`api/wud.rs`), Watchtower's (`api/watchtower.rs`),
//! Prometheus metrics (`api/metrics.rs`), registry push webhooks (`api/webhooks.rs`), the
//! health check, and the web page (`page/`), all on one port.
//!
//! The server sits above the triggers and below `app`: it answers from the store (never from
//! the engines or registries, so a slow client or a flood of requests cannot hold up a check),
//! and asks for work through [`Control`], which `app` implements. Every handler that acts takes
//! an [`auth::Actor`], every one that reads a [`auth::Reader`]: access is decided in one place.

pub mod api;
pub mod auth;
pub mod listen;
pub mod page;
pub mod view;

use crate::config::{Config, ServerConfig};
use crate::store::Store;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use std::sync::Arc;

pub use auth::{Actor, Auth, Reader};
pub use listen::{Listening, ServerError};

/// The largest request body accepted. Webhook payloads and API calls are a few kilobytes; this
/// keeps a client from making the daemon buffer anything big.
pub const MAX_BODY: usize = 1024 * 1024;

/// What went wrong with work asked through [`Control`], as the API reports it.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// No such container, trigger or watcher: 404.
    #[error("{0}")]
    NotFound(String),
    /// The request cannot be done as asked: 400.
    #[error("{0}")]
    Refused(String),
    /// It was tried and failed (an engine down, an update rolled back): 500.
    #[error("{0}")]
    Failed(String),
}

/// A container as the API names it: the watcher (host) it runs on and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub watcher: String,
    pub name: String,
    pub id: String,
}

/// The work the API can ask of the daemon. `app` implements it over the running watchers and
/// triggers; the server cannot reach them otherwise (it sits below `app`). Each call returns
/// when the work is done, and runs beside the schedule, never holding it up.
#[async_trait::async_trait]
pub trait Control: Send + Sync + 'static {
    /// Checks every watcher now (WUD's `POST /api/containers/watch`).
    async fn check_all(&self) -> Result<(), ControlError>;
    /// Checks one container now (WUD's `POST /api/containers/:id/watch`).
    async fn check_container(&self, target: &Target) -> Result<(), ControlError>;
    /// Runs trigger `kind.name` for one container now (WUD's
    /// `POST /api/containers/:id/triggers/:type/:name`): for the docker trigger, the update is
    /// applied whatever its `auto`.
    async fn run_trigger(
        &self,
        kind: &str,
        name: &str,
        target: &Target,
    ) -> Result<(), ControlError>;
    /// Checks every watcher and updates the containers running one of `images` (repositories,
    /// as Watchtower's `?image=`), or every container with an update when `None`.
    async fn update_images(&self, images: Option<Vec<String>>) -> Result<(), ControlError>;
    /// Checks, soon and in the background, the containers that run `repository` (normalised,
    /// e.g. `127.0.0.1:5000/app`); returns how many there are. For registry push webhooks,
    /// which must answer quickly.
    async fn check_repository(&self, repository: &str) -> Result<usize, ControlError>;
    /// Re-creates the container from an image it ran before an update (`to`: a tag, a digest
    /// or `-N`; the last one when `None`) and holds the version rolled back from, as
    /// `tidewatch rollback`. Returns what was done, in lines.
    async fn rollback(&self, target: &Target, asked: &Asked) -> Result<Vec<String>, ControlError>;
    /// Holds the container's updates back (`to`: only those up to this tag), as
    /// `tidewatch hold`.
    async fn hold(&self, target: &Target, asked: &Asked) -> Result<Vec<String>, ControlError>;
    /// Lifts the container's hold, as `tidewatch release`.
    async fn release(&self, target: &Target, asked: &Asked) -> Result<Vec<String>, ControlError>;
}

/// Who asks the API for a rollback, hold or release, and with what.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Asked {
    /// For the history and the hold: `api`, or the WUD login that asked.
    pub by: String,
    pub reason: Option<String>,
    /// The rollback's target, or the hold's `until-newer-than` tag.
    pub to: Option<String>,
}

/// Everything a handler reaches: cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub store: Store,
    pub control: Arc<dyn Control>,
    pub auth: Auth,
    /// The configuration, for `/api/watchers`, `/api/triggers` and `/api/registries` (secrets
    /// print masked).
    pub config: Arc<Config>,
    /// Renders `/metrics`; `None` when another recorder was installed first (tests).
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// The store's answers, read at most once a second however many clients ask.
    pub view: view::Cache,
    /// The registry client, whose request counters `/metrics` reports.
    pub registry: Option<Arc<crate::registry::RegistryClient>>,
    /// Events lost by slow subscribers of the bus, for `/metrics`.
    pub lagged: Option<Box<dyn Fn() -> u64 + Send + Sync>>,
}

impl AppState {
    pub fn new(
        store: Store,
        control: Arc<dyn Control>,
        config: Arc<Config>,
        metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    ) -> Self {
        let auth = Auth::new(&config.server, &config.auth);
        AppState(Arc::new(Shared {
            view: view::Cache::new(store.clone()),
            store,
            control,
            auth,
            config,
            metrics,
            registry: None,
            lagged: None,
        }))
    }

    /// Adds what `/metrics` reads beyond the store: the registry client's counters and the
    /// bus's lag. Before the state is shared.
    pub fn with_sources(
        mut self,
        registry: Arc<crate::registry::RegistryClient>,
        lagged: impl Fn() -> u64 + Send + Sync + 'static,
    ) -> Self {
        if let Some(shared) = Arc::get_mut(&mut self.0) {
            shared.registry = Some(registry);
            shared.lagged = Some(Box::new(lagged));
        }
        self
    }

    pub fn server_config(&self) -> &ServerConfig {
        &self.0.config.server
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// A declared body this much over [`MAX_BODY`] is not read: the connection is closed instead.
const DRAIN_MAX: u64 = 32 * 1024 * 1024;

/// Every route: the API's and the page's (`page::routes`), with the body limit.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(api::routes())
        .merge(page::routes())
        .fallback(api::not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn(too_large))
        .with_state(state)
}

/// A body declared larger than [`MAX_BODY`] gets 413 before any handler runs. It is read and
/// dropped first (up to [`DRAIN_MAX`], within a time limit): a client still sending when the
/// server closes sees a broken connection instead of the answer.
async fn too_large(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use futures_util::StreamExt;
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(length) if length > MAX_BODY as u64 => {
            if length <= DRAIN_MAX {
                let mut body = request.into_body().into_data_stream();
                let drain = async { while let Some(Ok(_)) = body.next().await {} };
                let _ = tokio::time::timeout(std::time::Duration::from_secs(30), drain).await;
            }
            api::error(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body over {MAX_BODY} bytes"),
            )
        }
        _ => next.run(request).await,
    }
}
