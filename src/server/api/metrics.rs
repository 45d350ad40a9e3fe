//! `GET /metrics`: Prometheus text, rendered by `metrics-exporter-prometheus` from what the
//! daemon counts through the `metrics` facade.

use crate::server::AppState;
use crate::server::auth::MetricsReader;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// Installs the process-wide recorder; `None` when one is already installed.
pub fn install() -> Option<metrics_exporter_prometheus::PrometheusHandle> {
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .ok()
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

async fn metrics(_: MetricsReader, State(state): State<AppState>) -> Response {
    match &state.metrics {
        Some(handle) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            handle.render(),
        )
            .into_response(),
        None => super::error(StatusCode::SERVICE_UNAVAILABLE, "metrics are not recorded"),
    }
}
