//! tidewatch's own actions beyond WUD's API: roll a container back, hold its updates, release
//! the hold. The same work as `tidewatch rollback`, `hold` and `release`, done by the running
//! daemon, so that the page and scripts need no shell on the host. Each needs the token.

use super::wud::{control_failed, find, target};
use crate::server::auth::Actor;
use crate::server::{AppState, Asked};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, body::Bytes};
use serde::Deserialize;
use serde_json::json;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/containers/{id}/rollback", post(rollback))
        .route("/api/containers/{id}/hold", post(hold))
        .route("/api/containers/{id}/release", post(release))
}

/// The optional JSON body: `{"to": "1.4.2", "reason": "…"}` (`to` is the rollback's target or
/// the hold's `until-newer-than` tag). An empty body asks for the defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    to: Option<String>,
    reason: Option<String>,
}

fn asked(body: &Bytes) -> Result<Asked, String> {
    let body: Body = if body.iter().all(u8::is_ascii_whitespace) {
        Body::default()
    } else {
        serde_json::from_slice(body)
            .map_err(|err| format!("the body is not what this route takes: {err}"))?
    };
    Ok(Asked {
        by: "api".into(),
        reason: body.reason,
        to: body.to,
    })
}

/// What the three routes share: read the body, find the container, ask the daemon, answer
/// `{"lines": [...]}` as the command would print them.
async fn act(state: AppState, id: String, body: Bytes, action: Action) -> Response {
    let asked = match asked(&body) {
        Ok(asked) => asked,
        Err(error) => {
            return (StatusCode::BAD_REQUEST, Json(json!({ "error": error }))).into_response();
        }
    };
    let view = match find(&state, &id).await {
        Ok(view) => view,
        Err(response) => return response,
    };
    let target = target(&view);
    let done = match action {
        Action::Rollback => state.control.rollback(&target, &asked).await,
        Action::Hold => state.control.hold(&target, &asked).await,
        Action::Release => state.control.release(&target, &asked).await,
    };
    state.view.invalidate().await;
    match done {
        Ok(lines) => Json(json!({ "lines": lines })).into_response(),
        Err(err) => control_failed(err),
    }
}

enum Action {
    Rollback,
    Hold,
    Release,
}

async fn rollback(
    _: Actor,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    act(state, id, body, Action::Rollback).await
}

async fn hold(
    _: Actor,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    act(state, id, body, Action::Hold).await
}

async fn release(
    _: Actor,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    act(state, id, body, Action::Release).await
}
