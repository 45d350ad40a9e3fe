//! The web page at `/`: every container, its update, its history; the plan of an update, then
//! the update itself, followed live.
//!
//! The page is three static files (HTML, CSS, plain JavaScript) and an icon, compiled into the
//! binary with `include_str!`: no template crate, no build step, nothing fetched from outside
//! (the Content-Security-Policy says `'self'` only). It adds about 85 KB to a release binary:
//! 35 KB of files, 50 KB of code. The
//! JavaScript draws from JSON:
//! - WUD's API (the server's): `/api/containers/{id}/triggers`, `POST /api/containers/{id}/watch`,
//!   `POST /api/containers/{id}/triggers/{type}/{name}`, which carry the server's auth;
//! - what WUD's API lacks, served here: `/api/overview` (the list as the page shows it),
//!   `/api/containers/{id}/history`, `/api/containers/{id}/labels`, `/api/containers/{id}/plan`,
//!   `/api/config` and `/api/events` (server-sent events when something changes). All of them
//!   only read: each takes a [`Reader`], so it follows the server's read policy; nothing here
//!   acts. The page itself and its assets are open: it must load to ask for the token.
//!
//! `app` starts the [`Page`] beside the server and hands it to the routes as an
//! `Extension`, since the server's state is built before the bus has a page to feed.

mod board;
mod labels;
mod plan;

pub use board::{Board, Change, ContainerView};

use crate::bus::Bus;
use crate::config::{Loaded, WatcherConfig};
use crate::server::{AppState, Reader};
use crate::store::Store;
use crate::update::trigger::DockerTrigger;
use axum::extract::{Path, Query};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{self, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

const INDEX: &str = include_str!("index.html");
const CSS: &str = include_str!("page.css");
const JS: &str = include_str!("page.js");
const ICON: &str = include_str!("icon.svg");

/// Nothing but the daemon itself: no CDN, no inline script, no framing by another site.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The audit log lines a container's page shows, newest last.
const HISTORY_LIMIT: usize = 200;

/// What the page's own endpoints read.
pub struct Page {
    board: Board,
    store: Option<Store>,
    config: Vec<ConfigEntry>,
    watchers: BTreeMap<String, WatcherConfig>,
    docker: Vec<Arc<DockerTrigger>>,
}

impl std::fmt::Debug for Page {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Page").finish_non_exhaustive()
    }
}

/// One line of `GET /api/config`: what `tidewatch config` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigEntry {
    pub key: String,
    /// As JSON, secrets already `***`; `(unset)` for nothing.
    pub value: String,
    /// The variable or file key that set it, or `default`.
    pub origin: String,
}

impl Page {
    /// Seeds the view from the store and follows `bus` from now on. Call before the watchers
    /// start, so the first check is seen.
    pub async fn start(
        bus: &Bus,
        store: Option<Store>,
        loaded: &Loaded,
        docker: Vec<Arc<DockerTrigger>>,
    ) -> Arc<Page> {
        let events = bus.subscribe("page");
        let stored = match &store {
            Some(store) => store
                .blocking(|s| s.containers())
                .await
                .unwrap_or_else(|err| {
                    tracing::warn!(error = %err, "The page starts without the store's containers.");
                    Vec::new()
                }),
            None => Vec::new(),
        };
        let board = Board::seeded(stored);
        tokio::spawn(board.clone().follow(events));
        Arc::new(Page {
            board,
            store,
            config: config_entries(loaded),
            watchers: loaded.config.watcher.clone(),
            docker,
        })
    }

    pub fn board(&self) -> &Board {
        &self.board
    }
}

fn config_entries(loaded: &Loaded) -> Vec<ConfigEntry> {
    loaded
        .entries()
        .into_iter()
        .map(|(key, value, origin)| ConfigEntry {
            key,
            value: match value {
                serde_json::Value::Null => "(unset)".into(),
                value => value.to_string(),
            },
            origin: origin.to_string(),
        })
        .collect()
}

/// The page and its endpoints, merged into the server's routes; they need the [`Page`] as an
/// `Extension` layer.
pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/", get(index))
        .route("/config", get(index))
        .route("/containers/{watcher}/{name}", get(index))
        .route("/assets/page.css", get(css))
        .route("/assets/page.js", get(js))
        .route("/assets/icon.svg", get(icon))
        .route("/api/overview", get(overview))
        .route("/api/config", get(config))
        .route("/api/events", get(events))
        .route("/api/containers/{id}/history", get(history))
        .route("/api/containers/{id}/labels", get(labels))
        .route("/api/containers/{id}/plan", get(plan))
}

/// The handle the routes take.
type PageHandle = Extension<Arc<Page>>;

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            // The binary is the version: a new one may serve new files under the same names.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
        ],
        body,
    )
        .into_response()
}

async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX)
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

async fn js() -> Response {
    asset("text/javascript; charset=utf-8", JS)
}

async fn icon() -> Response {
    asset("image/svg+xml", ICON)
}

fn not_found(id: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({ "error": format!("no container {id}") })),
    )
        .into_response()
}

#[derive(Serialize)]
struct Overview {
    containers: Vec<ContainerView>,
}

async fn overview(_: Reader, Extension(page): PageHandle) -> Json<Overview> {
    Json(Overview {
        containers: page.board.containers(),
    })
}

#[derive(Serialize)]
struct ConfigView<'a> {
    entries: &'a [ConfigEntry],
}

async fn config(_: Reader, Extension(page): PageHandle) -> Response {
    Json(ConfigView {
        entries: &page.config,
    })
    .into_response()
}

async fn history(_: Reader, Extension(page): PageHandle, Path(id): Path<String>) -> Response {
    let Some(view) = page.board.view(&id) else {
        return not_found(&id);
    };
    let Some(store) = page.store.clone() else {
        return Json(Vec::<crate::store::AuditEntry>::new()).into_response();
    };
    let name = view.name.clone();
    match store
        .blocking(move |s| s.history(Some(&name), HISTORY_LIMIT))
        .await
    {
        Ok(mut entries) => {
            // Names are unique per host only.
            entries.retain(|e| e.watcher.as_deref().is_none_or(|w| w == view.watcher));
            Json(entries).into_response()
        }
        Err(err) => {
            tracing::warn!(error = %err, "The store could not be read for a container's history.");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "error": "the store could not be read" })),
            )
                .into_response()
        }
    }
}

async fn labels(_: Reader, Extension(page): PageHandle, Path(id): Path<String>) -> Response {
    match page.board.labels(&id) {
        Some(labels) => Json(labels::explain(&labels)).into_response(),
        None => not_found(&id),
    }
}

#[derive(Deserialize)]
struct PlanQuery {
    /// `docker.NAME`; the first docker trigger when absent.
    trigger: Option<String>,
}

async fn plan(
    _: Reader,
    Extension(page): PageHandle,
    Path(id): Path<String>,
    Query(query): Query<PlanQuery>,
) -> Response {
    let (Some(view), Some(candidate)) = (page.board.view(&id), page.board.candidate(&id)) else {
        return not_found(&id);
    };
    Json(
        plan::plan(
            &view.name,
            &view.status,
            candidate,
            &page.docker,
            query.trigger.as_deref(),
            &page.watchers,
        )
        .await,
    )
    .into_response()
}

/// Server-sent events: `hello` at once, then one event per change (`changed`, `checked`,
/// `removed`, `check-completed`, `update-applied`, `update-failed`, `rolled-back`,
/// `update-skipped`) with `{watcher, name, detail}`. A browser that fell behind gets `changed`
/// with no container: refresh everything.
async fn events(_: Reader, Extension(page): PageHandle) -> impl IntoResponse {
    let receiver = page.board.subscribe();
    let hello = futures_util::stream::once(async {
        Ok::<_, Infallible>(sse::Event::default().event("hello").data("{}"))
    });
    let changes = futures_util::stream::unfold(receiver, |mut receiver| async move {
        use tokio::sync::broadcast::error::RecvError;
        let change = match receiver.recv().await {
            Ok(change) => change,
            Err(RecvError::Lagged(_)) => Change {
                kind: "changed",
                watcher: None,
                name: None,
                detail: None,
            },
            Err(RecvError::Closed) => return None,
        };
        let data = serde_json::to_string(&change).unwrap_or_else(|_| "{}".into());
        Some((
            Ok::<_, Infallible>(sse::Event::default().event(change.kind).data(data)),
            receiver,
        ))
    });
    Sse::new(futures_util::StreamExt::chain(hello, changes))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
