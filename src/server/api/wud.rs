//! WUD's API: the same paths and JSON shapes, so WUD's clients (Homepage's widget, the Home
//! Assistant integration, scripts) work unchanged.

use crate::server::AppState;
use axum::Router;

pub fn routes() -> Router<AppState> {
    Router::new()
}
