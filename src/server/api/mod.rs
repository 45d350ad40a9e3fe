//! The API's routes, one file per family: WUD's (`wud.rs`), Watchtower's (`watchtower.rs`),
//! Prometheus metrics (`metrics.rs`), registry push webhooks (`webhooks.rs`), and tidewatch's own
//! rollback, hold and release (`rollback.rs`).

pub mod metrics;
pub mod rollback;
pub mod watchtower;
pub mod webhooks;
pub mod wud;

use crate::server::AppState;
use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .merge(wud::routes())
        .merge(rollback::routes())
        .merge(metrics::routes())
        .merge(watchtower::routes())
        .merge(webhooks::routes())
}

/// `GET /health`: the process serves (Docker's HEALTHCHECK, load balancers). Open to all, as
/// WUD's: it says nothing but "up".
async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok", "uptime": uptime_seconds() }))
}

fn uptime_seconds() -> u64 {
    static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    STARTED
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_secs()
}

/// Any route no one serves: 404 with a JSON line, as WUD's API answers.
pub async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such route")
}

/// An error answer in WUD's shape: `{"error": "…"}`.
pub fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": message.into() }))).into_response()
}
