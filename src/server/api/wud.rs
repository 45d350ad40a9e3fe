//! WUD's API: the same paths and JSON shapes (WUD 8's `app/api/` and `app/model/container.ts`),
//! so WUD's clients (Homepage's widget, the Home Assistant integration, scripts) work unchanged.
//! Answers come from the store; `watch` and trigger runs go through [`crate::server::Control`].

use super::error;
use crate::notify::wud;
use crate::server::auth::{Actor, Reader};
use crate::server::{AppState, ControlError, Target};
use crate::store::ContainerView;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/app", get(app))
        .route("/api/containers", get(containers))
        .route("/api/containers/watch", post(watch_all))
        .route("/api/containers/{id}", get(container))
        .route("/api/containers/{id}/watch", post(watch_one))
        .route("/api/containers/{id}/triggers", get(container_triggers))
        .route(
            "/api/containers/{id}/triggers/{kind}/{name}",
            post(run_trigger),
        )
        .route("/api/watchers", get(watchers))
        .route("/api/watchers/{kind}/{name}", get(watcher))
        .route("/api/triggers", get(triggers))
        .route("/api/triggers/{kind}/{name}", get(trigger))
        .route("/api/registries", get(registries))
        .route("/api/registries/{kind}/{name}", get(registry))
}

/// `GET /api/app`: WUD's `{name, version}`.
async fn app(_: Reader) -> Json<Value> {
    Json(json!({ "name": "tidewatch", "version": env!("CARGO_PKG_VERSION") }))
}

fn store_failed(err: impl std::fmt::Display) -> Response {
    error(StatusCode::INTERNAL_SERVER_ERROR, format!("store: {err}"))
}

pub(super) fn control_failed(err: ControlError) -> Response {
    let status = match err {
        ControlError::NotFound(_) => StatusCode::NOT_FOUND,
        ControlError::Refused(_) => StatusCode::BAD_REQUEST,
        ControlError::Failed(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(status, err.to_string())
}

/// `GET /api/containers`: every container, in WUD's shape.
async fn containers(_: Reader, State(state): State<AppState>) -> Response {
    match state.view.containers().await {
        Ok(views) => Json(views.iter().map(wud_container).collect::<Vec<_>>()).into_response(),
        Err(err) => store_failed(err),
    }
}

/// The container with this ID (WUD's key); its name is accepted too.
pub(super) async fn find(state: &AppState, id: &str) -> Result<ContainerView, Response> {
    let views = state.view.containers().await.map_err(store_failed)?;
    views
        .iter()
        .find(|v| v.stored.id == id)
        .or_else(|| views.iter().find(|v| v.stored.name == id))
        .cloned()
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "Container not found"))
}

pub(super) fn target(view: &ContainerView) -> Target {
    Target {
        watcher: view.stored.watcher.clone(),
        name: view.stored.name.clone(),
        id: view.stored.id.clone(),
    }
}

async fn container(_: Reader, State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match find(&state, &id).await {
        Ok(view) => Json(wud_container(&view)).into_response(),
        Err(response) => response,
    }
}

/// `POST /api/containers/watch`: checks everything now, then answers the containers, as WUD.
async fn watch_all(_: Actor, State(state): State<AppState>) -> Response {
    if let Err(err) = state.control.check_all().await {
        return control_failed(err);
    }
    state.view.invalidate().await;
    containers(Reader, State(state)).await
}

/// `POST /api/containers/{id}/watch`: checks one container now and answers it.
async fn watch_one(_: Actor, State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let view = match find(&state, &id).await {
        Ok(view) => view,
        Err(response) => return response,
    };
    if let Err(err) = state.control.check_container(&target(&view)).await {
        return control_failed(err);
    }
    state.view.invalidate().await;
    // The check's findings reach the store through the bus; by name, since an update may
    // have given the container a new ID.
    match find(&state, &view.stored.name).await {
        Ok(view) => Json(wud_container(&view)).into_response(),
        Err(response) => response,
    }
}

/// `GET /api/containers/{id}/triggers`: the triggers that act on this container, as WUD's
/// component list.
async fn container_triggers(
    _: Reader,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Response {
    let view = match find(&state, &id).await {
        Ok(view) => view,
        Err(response) => return response,
    };
    let labels = view.info.as_ref().map(|i| &i.labels);
    let label = |names: &[&str]| labels.and_then(|l| names.iter().find_map(|n| l.get(*n)).cloned());
    let include = label(&["tidewatch.trigger.include", "wud.trigger.include"]);
    let exclude = label(&["tidewatch.trigger.exclude", "wud.trigger.exclude"]);
    let listed = |list: &Option<String>, id: &str| {
        list.as_deref().is_some_and(|l| {
            l.split(',')
                .map(|s| s.trim().split(':').next().unwrap_or(""))
                .any(|t| t.eq_ignore_ascii_case(id))
        })
    };
    let all = components(&state, Section::Trigger);
    let associated: Vec<Value> = all
        .into_iter()
        .filter(|c| {
            let id = c["id"].as_str().unwrap_or("");
            (include.is_none() || listed(&include, id)) && !listed(&exclude, id)
        })
        .collect();
    Json(associated).into_response()
}

/// `POST /api/containers/{id}/triggers/{kind}/{name}`: runs one trigger for one container now;
/// for a docker trigger, this applies its update. `{}` when done, as WUD.
async fn run_trigger(
    _: Actor,
    State(state): State<AppState>,
    Path((id, kind, name)): Path<(String, String, String)>,
) -> Response {
    let view = match find(&state, &id).await {
        Ok(view) => view,
        Err(response) => return response,
    };
    let result = state
        .control
        .run_trigger(
            &kind.to_ascii_lowercase(),
            &name.to_ascii_lowercase(),
            &target(&view),
        )
        .await;
    state.view.invalidate().await;
    match result {
        Ok(()) => Json(json!({})).into_response(),
        Err(err) => control_failed(err),
    }
}

#[derive(Clone, Copy)]
enum Section {
    Watcher,
    Trigger,
    Registry,
}

/// WUD's component list (`[{id, type, name, configuration}]`, by type then name) of one
/// section of the configuration; secrets print masked, as everywhere.
fn components(state: &AppState, section: Section) -> Vec<Value> {
    let config = &state.config;
    let mut list = Vec::new();
    let mut push = |kind: &str, name: &str, configuration: Value| {
        list.push(json!({
            "id": format!("{kind}.{name}"),
            "type": kind,
            "name": name,
            "configuration": configuration,
        }))
    };
    match section {
        Section::Watcher => {
            for (name, watcher) in &config.watcher {
                push(
                    "docker",
                    name,
                    serde_json::to_value(watcher).unwrap_or(Value::Null),
                );
            }
        }
        Section::Trigger | Section::Registry => {
            let tree = match section {
                Section::Trigger => serde_json::to_value(&config.trigger),
                _ => serde_json::to_value(&config.registry),
            }
            .unwrap_or(Value::Null);
            if let Value::Object(kinds) = tree {
                for (kind, instances) in kinds {
                    if let Value::Object(instances) = instances {
                        for (name, configuration) in instances {
                            push(&kind, &name, configuration);
                        }
                    }
                }
            }
        }
    }
    list.sort_by(|a, b| {
        (a["type"].as_str(), a["name"].as_str()).cmp(&(b["type"].as_str(), b["name"].as_str()))
    });
    list
}

fn component(state: &AppState, section: Section, kind: &str, name: &str) -> Response {
    let id = format!("{kind}.{name}");
    match components(state, section)
        .into_iter()
        .find(|c| c["id"] == id.as_str())
    {
        Some(c) => Json(c).into_response(),
        None => error(StatusCode::NOT_FOUND, "not found"),
    }
}

async fn watchers(_: Reader, State(state): State<AppState>) -> Json<Vec<Value>> {
    Json(components(&state, Section::Watcher))
}
async fn watcher(
    _: Reader,
    State(state): State<AppState>,
    Path((kind, name)): Path<(String, String)>,
) -> Response {
    component(&state, Section::Watcher, &kind, &name)
}
async fn triggers(_: Reader, State(state): State<AppState>) -> Json<Vec<Value>> {
    Json(components(&state, Section::Trigger))
}
async fn trigger(
    _: Reader,
    State(state): State<AppState>,
    Path((kind, name)): Path<(String, String)>,
) -> Response {
    component(&state, Section::Trigger, &kind, &name)
}
async fn registries(_: Reader, State(state): State<AppState>) -> Json<Vec<Value>> {
    Json(components(&state, Section::Registry))
}
async fn registry(
    _: Reader,
    State(state): State<AppState>,
    Path((kind, name)): Path<(String, String)>,
) -> Response {
    component(&state, Section::Registry, &kind, &name)
}

/// One container in WUD's shape, built by [`crate::notify::wud`] (which the `http` trigger's
/// `wud` format shares) from what the store knows of it.
pub fn wud_container(view: &ContainerView) -> Value {
    let stored = &view.stored;
    let container = wud::of_listed(
        &stored.id,
        &stored.name,
        &stored.watcher,
        &stored.image,
        view.listed.as_ref(),
        view.info.as_ref(),
    );
    serde_json::to_value(container).unwrap_or(Value::Null)
}
