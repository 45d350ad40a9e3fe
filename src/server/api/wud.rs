//! WUD's API: the same paths and JSON shapes (WUD 8's `app/api/` and `app/model/container.ts`),
//! so WUD's clients (Homepage's widget, the Home Assistant integration, scripts) work unchanged.
//! Answers come from the store; `watch` and trigger runs go through [`crate::server::Control`].

use super::error;
use crate::model::ImageRef;
use crate::model::finding::{ListedContainer, Status};
use crate::server::auth::{Actor, Reader};
use crate::server::{AppState, ControlError, Target};
use crate::store::ContainerView;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::collections::BTreeMap;

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

/// WUD's name for the registry a reference lives on (its provider kinds).
fn registry_name(image: &ImageRef) -> &'static str {
    let host = image.registry.as_str();
    if image.is_docker_hub() {
        "hub"
    } else if host == "ghcr.io" {
        "ghcr"
    } else if host == "quay.io" {
        "quay"
    } else if host == "lscr.io" {
        "lscr"
    } else if host == "registry.gitlab.com" {
        "gitlab"
    } else if host.ends_with("gcr.io") {
        "gcr"
    } else if host.ends_with("-docker.pkg.dev") {
        "gar"
    } else if host.ends_with(".amazonaws.com") {
        "ecr"
    } else if host.ends_with(".azurecr.io") {
        "acr"
    } else {
        "custom"
    }
}

/// One container in WUD's shape (`app/model/container.ts`): every field WUD's clients read,
/// with `null` where WUD's own JSON would have it undefined (WUD replaces undefined by null).
pub fn wud_container(view: &ContainerView) -> Value {
    let stored = &view.stored;
    let labels: BTreeMap<String, String> = view
        .info
        .as_ref()
        .map(|i| i.labels.clone())
        .unwrap_or_default();
    let label = |key: &str| {
        labels
            .get(&format!("tidewatch.{key}"))
            .or_else(|| labels.get(&format!("wud.{key}")))
            .cloned()
    };
    let listed: Option<&ListedContainer> = view.listed.as_ref();
    let reference = ImageRef::parse(&stored.image).ok();
    let tag = reference
        .as_ref()
        .and_then(|r| r.tag.clone())
        .unwrap_or_else(|| "latest".into());
    let semver = crate::tags::parse(&tag).is_some();
    // The digest the container runs, as its repository knows it.
    let digest = reference.as_ref().and_then(|r| {
        let name = r.name();
        let familiar = r.familiar();
        view.info.as_ref().and_then(|i| {
            i.repo_digests.iter().find_map(|d| {
                let (repo, digest) = d.split_once('@')?;
                let repo_ref = ImageRef::parse(repo).ok();
                let same = repo_ref.is_some_and(|rr| rr.name() == name)
                    || repo == familiar.split(':').next().unwrap_or("");
                same.then(|| digest.to_string())
            })
        })
    });
    let watch_digest = match label("watch.digest").as_deref() {
        Some(v) => v.eq_ignore_ascii_case("true"),
        None => !semver,
    };
    let status = listed.map(|l| l.status);
    let update = listed.and_then(|l| l.update.as_ref());
    let update_available = status == Some(Status::UpdateAvailable) && update.is_some();
    let failed = status == Some(Status::Failed);
    let result = match (update, status) {
        (Some(u), Some(Status::UpdateAvailable)) => json!({
            "tag": u.tag,
            "digest": u.digest,
            "created": null,
            "link": u.link,
        }),
        (_, Some(Status::UpToDate)) => json!({
            "tag": tag,
            "digest": digest,
            "created": null,
            "link": null,
        }),
        _ => Value::Null,
    };
    let update_kind = match update.filter(|_| update_available) {
        Some(u) if u.kind == crate::model::UpdateKind::Digest => json!({
            "kind": "digest",
            "localValue": digest,
            "remoteValue": u.digest,
            "semverDiff": null,
        }),
        Some(u) => json!({
            "kind": "tag",
            "localValue": tag,
            "remoteValue": u.tag,
            "semverDiff": serde_json::to_value(u.kind).unwrap_or(Value::Null),
        }),
        None => json!({
            "kind": "unknown",
            "localValue": null,
            "remoteValue": null,
            "semverDiff": null,
        }),
    };
    let platform = view.info.as_ref().map(|i| &i.platform);
    json!({
        "id": stored.id,
        "name": stored.name,
        "displayName": listed
            .and_then(|l| l.display_name.clone())
            .or_else(|| label("display.name"))
            .unwrap_or_else(|| stored.name.clone()),
        "displayIcon": label("display.icon").unwrap_or_else(|| "mdi:docker".into()),
        "status": view.info.as_ref().map(|i| i.state.clone()).unwrap_or_else(|| "unknown".into()),
        "watcher": stored.watcher,
        "includeTags": label("tag.include"),
        "excludeTags": label("tag.exclude"),
        "transformTags": label("tag.transform"),
        "linkTemplate": label("link.template"),
        "link": null,
        "triggerInclude": label("trigger.include"),
        "triggerExclude": label("trigger.exclude"),
        "image": {
            "id": view.info.as_ref().map(|i| i.image_id.clone()),
            "registry": {
                "name": reference.as_ref().map(registry_name).unwrap_or("custom"),
                "url": reference
                    .as_ref()
                    .map(|r| format!("https://{}/v2", r.api_host())),
            },
            "name": reference.as_ref().map(|r| r.repository.clone()).unwrap_or_else(|| stored.image.clone()),
            "tag": { "value": tag, "semver": semver },
            "digest": { "watch": watch_digest, "value": digest, "repo": digest },
            "architecture": platform.map(|p| p.architecture.clone()),
            "os": platform.map(|p| p.os.clone()),
            "variant": platform.and_then(|p| p.variant.clone()),
            "created": null,
        },
        "result": result,
        "error": if failed {
            json!({ "message": listed.and_then(|l| l.reason.clone()).unwrap_or_else(|| "check failed".into()) })
        } else {
            Value::Null
        },
        "updateAvailable": update_available,
        "updateKind": update_kind,
        "labels": labels,
    })
}
