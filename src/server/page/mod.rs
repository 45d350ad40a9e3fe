//! The web page: `/` and its static assets. Its routes are merged into the server's by
//! [`crate::server::router`]; it reads through [`crate::server::AppState`] and acts only
//! through handlers that take an [`crate::server::Actor`].

use crate::server::AppState;
use axum::Router;

/// The page's routes (none yet: the API's own answer `/health`, `/api/*`, `/v1/*`, `/metrics`).
pub fn routes() -> Router<AppState> {
    Router::new()
}
