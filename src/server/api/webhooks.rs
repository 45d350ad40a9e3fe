//! Registry push webhooks: `POST /api/webhooks/{source}` turns a push into a check of the
//! containers that run the pushed repository, within a second, instead of at the next cron.
//! With the docker trigger on `auto`, a push updates the container with no poll at all.
//!
//! Sources and how each proves itself (`server.webhook.<source>.secret`):
//! - `distribution` — the CNCF registry's notifications (`notifications.endpoints`): a header
//!   the endpoint sends, `Authorization: Bearer <secret>` (or the bare secret), or `?token=`.
//! - `dockerhub` — Docker Hub signs nothing: `?token=<secret>` in the URL.
//! - `github` — `registry_package` / `package` events, signed: `X-Hub-Signature-256`.
//! - `gitlab` — `X-Gitlab-Token: <secret>`; the registry's notifications (distribution's shape).
//! - `harbor` — the policy's auth header, sent as `Authorization`.
//!
//! Without a secret for the source, the API token is asked for (`Authorization: Bearer` or
//! `?token=`), unless actions are open. A push of an image no container runs is answered 200
//! and ignored; a payload that is not what the source sends is a 400.

use super::error;
use super::metrics::webhook as count;
use super::watchtower::percent_decode;
use crate::config::WebhookConfig;
use crate::server::AppState;
use crate::server::auth::{Need, Proof, same_secret};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hmac::Mac;
use serde_json::Value;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/webhooks/{source}", post(receive))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Distribution,
    DockerHub,
    GitHub,
    GitLab,
    Harbor,
}

impl Source {
    fn parse(name: &str) -> Option<Source> {
        Some(match name.to_ascii_lowercase().as_str() {
            "distribution" | "registry" => Source::Distribution,
            "dockerhub" | "hub" => Source::DockerHub,
            "github" | "ghcr" => Source::GitHub,
            "gitlab" => Source::GitLab,
            "harbor" => Source::Harbor,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Source::Distribution => "distribution",
            Source::DockerHub => "dockerhub",
            Source::GitHub => "github",
            Source::GitLab => "gitlab",
            Source::Harbor => "harbor",
        }
    }
}

/// `?token=…` of a query string.
fn query_token(query: Option<&str>) -> Option<String> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == "token")
        .map(|(_, value)| percent_decode(value))
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Whether the request proves itself with the source's own secret.
fn source_proof(
    source: Source,
    secret: &str,
    headers: &HeaderMap,
    token: Option<&str>,
    body: &[u8],
) -> bool {
    let bearer = |value: &str| {
        let value = value.trim();
        let bare = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .unwrap_or(value);
        same_secret(bare.trim().as_bytes(), secret.as_bytes())
    };
    let by_token = token.is_some_and(|t| same_secret(t.as_bytes(), secret.as_bytes()));
    match source {
        Source::GitHub => header(headers, "x-hub-signature-256")
            .and_then(|sig| sig.strip_prefix("sha256="))
            .and_then(decode_hex)
            .is_some_and(|sig| {
                let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
                else {
                    return false;
                };
                mac.update(body);
                mac.verify_slice(&sig).is_ok()
            }),
        Source::GitLab => {
            header(headers, "x-gitlab-token")
                .is_some_and(|t| same_secret(t.as_bytes(), secret.as_bytes()))
                || by_token
        }
        Source::DockerHub => by_token,
        Source::Distribution | Source::Harbor => {
            header(headers, "authorization").is_some_and(bearer) || by_token
        }
    }
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

fn secret_of(state: &AppState, source: Source) -> &WebhookConfig {
    let hooks = &state.server_config().webhook;
    match source {
        Source::Distribution => &hooks.distribution,
        Source::DockerHub => &hooks.dockerhub,
        Source::GitHub => &hooks.github,
        Source::GitLab => &hooks.gitlab,
        Source::Harbor => &hooks.harbor,
    }
}

async fn receive(
    State(state): State<AppState>,
    Path(source): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(source) = Source::parse(&source) else {
        return error(StatusCode::NOT_FOUND, "no such webhook source");
    };
    if !state.server_config().webhook.enabled {
        return error(StatusCode::NOT_FOUND, "webhooks are off");
    }
    let token = query_token(query.as_deref());
    let allowed = match &secret_of(&state, source).secret {
        Some(secret)
            if source_proof(source, secret.expose(), &headers, token.as_deref(), &body) =>
        {
            true
        }
        secret => {
            // The API token, in the header or the URL (for sources that cannot send headers).
            let by_query = token
                .as_deref()
                .is_some_and(|t| state.auth.token_valid(t, Need::Act));
            let by_header = state.auth.prove(&headers, Need::Act).await == Proof::Valid;
            // A source with its own secret must prove it (or the API token); without one,
            // open actions let anyone push.
            by_query
                || by_header
                || (secret.is_none()
                    && headers.get("authorization").is_none()
                    && token.is_none()
                    && state.auth.open(Need::Act))
        }
    };
    if !allowed {
        count(source.name(), "unauthorized");
        tracing::warn!(
            source = source.name(),
            "Webhook refused: bad or missing signature or token."
        );
        return state.auth.refuse(Need::Act);
    }
    let payload: Value = match serde_json::from_slice(&body) {
        Ok(payload) => payload,
        Err(err) => {
            count(source.name(), "malformed");
            return error(StatusCode::BAD_REQUEST, format!("not JSON: {err}"));
        }
    };
    let repositories = match repositories(source, &payload, &headers) {
        Ok(repositories) => repositories,
        Err(why) => {
            count(source.name(), "malformed");
            return error(StatusCode::BAD_REQUEST, why);
        }
    };
    let mut containers = 0;
    for repository in &repositories {
        match state.control.check_repository(repository).await {
            Ok(n) => containers += n,
            Err(err) => return error(StatusCode::INTERNAL_SERVER_ERROR, err.to_string()),
        }
    }
    let outcome = if containers == 0 {
        "ignored"
    } else {
        "accepted"
    };
    count(source.name(), outcome);
    tracing::info!(source = source.name(), repositories = ?repositories, containers, "Registry push received.");
    let status = if containers == 0 {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    (
        status,
        axum::Json(serde_json::json!({
            "repositories": repositories,
            "containers": containers,
            "ignored": containers == 0,
        })),
    )
        .into_response()
}

/// The repositories a payload says were pushed, with their registry host
/// (`127.0.0.1:5000/app`, `docker.io/user/app`, `ghcr.io/owner/app`), without duplicates.
fn repositories(
    source: Source,
    payload: &Value,
    headers: &HeaderMap,
) -> Result<Vec<String>, String> {
    let text = |v: &Value| v.as_str().map(str::to_string);
    let mut found: Vec<String> = Vec::new();
    match source {
        Source::Distribution | Source::GitLab => {
            let events = payload["events"]
                .as_array()
                .ok_or("expected the registry's {\"events\": [...]}")?;
            for event in events {
                if event["action"].as_str() != Some("push") {
                    continue;
                }
                let target = &event["target"];
                // Blob pushes come before the manifest's; only a manifest makes a new image.
                let media = target["mediaType"].as_str().unwrap_or("");
                if !(media.contains("manifest")
                    || media.contains("index")
                    || target["tag"].is_string())
                {
                    continue;
                }
                let Some(repository) = text(&target["repository"]) else {
                    continue;
                };
                // The host clients push to: from the target's URL, else the request's host.
                let host = target["url"]
                    .as_str()
                    .and_then(|u| u.split("://").nth(1))
                    .and_then(|rest| rest.split('/').next())
                    .map(str::to_string)
                    .or_else(|| text(&event["request"]["host"]));
                match host {
                    Some(host) => found.push(format!("{host}/{repository}")),
                    None => found.push(repository),
                }
            }
        }
        Source::DockerHub => {
            let name = text(&payload["repository"]["repo_name"])
                .ok_or("expected Docker Hub's {\"repository\": {\"repo_name\": ...}}")?;
            found.push(format!("docker.io/{name}"));
        }
        Source::GitHub => {
            let event = header(headers, "x-github-event").unwrap_or("");
            if event == "ping" {
                return Ok(Vec::new());
            }
            let package = if payload["registry_package"].is_object() {
                &payload["registry_package"]
            } else {
                &payload["package"]
            };
            if !package.is_object() {
                return Err("expected GitHub's registry_package or package event".into());
            }
            let kind = package["package_type"]
                .as_str()
                .unwrap_or("")
                .to_ascii_lowercase();
            if kind != "container" && kind != "docker" {
                return Ok(Vec::new());
            }
            let from_url = package["package_version"]["package_url"]
                .as_str()
                .map(|url| url.split(['@']).next().unwrap_or(url))
                .map(|url| match url.rsplit_once(':') {
                    Some((repo, tag)) if !tag.contains('/') => repo.to_string(),
                    _ => url.to_string(),
                });
            let built = || {
                let owner = package["owner"]["login"]
                    .as_str()
                    .or(package["namespace"].as_str())?;
                let name = package["name"].as_str()?;
                Some(format!(
                    "ghcr.io/{}/{}",
                    owner.to_ascii_lowercase(),
                    name.to_ascii_lowercase()
                ))
            };
            match from_url.filter(|u| !u.is_empty()).or_else(built) {
                Some(repository) => found.push(repository),
                None => return Err("the package names no repository".into()),
            }
        }
        Source::Harbor => {
            let kind = payload["type"].as_str().unwrap_or("");
            if !kind.eq_ignore_ascii_case("PUSH_ARTIFACT")
                && !kind.eq_ignore_ascii_case("pushImage")
            {
                return Ok(Vec::new());
            }
            let resources = payload["event_data"]["resources"]
                .as_array()
                .ok_or("expected Harbor's {\"event_data\": {\"resources\": [...]}}")?;
            for resource in resources {
                let Some(url) = resource["resource_url"].as_str() else {
                    continue;
                };
                let repository = url.split('@').next().unwrap_or(url);
                let repository = match repository.rsplit_once(':') {
                    Some((repo, tag)) if !tag.contains('/') => repo,
                    _ => repository,
                };
                found.push(repository.to_string());
            }
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(
        source: Source,
        payload: Value,
        headers: &[(&str, &str)],
    ) -> Result<Vec<String>, String> {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        repositories(source, &payload, &map)
    }

    #[test]
    fn each_source_names_the_pushed_repository_with_its_host() {
        let distribution = json!({"events": [
            {"action": "pull", "target": {"repository": "other", "tag": "1"}},
            {"action": "push", "target": {"mediaType": "application/octet-stream", "repository": "app"}},
            {"action": "push", "target": {"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
              "repository": "team/app", "tag": "1.2", "url": "http://127.0.0.1:5000/v2/team/app/manifests/sha256:ab"},
             "request": {"host": "registry.lan"}},
            {"action": "push", "target": {"mediaType": "application/vnd.oci.image.index.v1+json",
              "repository": "team/app"}, "request": {"host": "127.0.0.1:5000"}}
        ]});
        assert_eq!(
            check(Source::Distribution, distribution, &[]).unwrap(),
            ["127.0.0.1:5000/team/app"]
        );
        let hub = json!({"push_data": {"tag": "latest"}, "repository": {"repo_name": "me/app"}});
        assert_eq!(
            check(Source::DockerHub, hub, &[]).unwrap(),
            ["docker.io/me/app"]
        );
        let github = json!({"action": "published", "registry_package": {
            "name": "App", "package_type": "CONTAINER", "owner": {"login": "Me"},
            "package_version": {"package_url": "ghcr.io/me/app:1.2.3"}}});
        assert_eq!(
            check(
                Source::GitHub,
                github,
                &[("x-github-event", "registry_package")]
            )
            .unwrap(),
            ["ghcr.io/me/app"]
        );
        let github_npm = json!({"package": {"name": "lib", "package_type": "npm"}});
        assert!(check(Source::GitHub, github_npm, &[]).unwrap().is_empty());
        let harbor = json!({"type": "PUSH_ARTIFACT", "event_data": {"resources": [
            {"resource_url": "harbor.lan/library/app:1.2", "tag": "1.2"}]}});
        assert_eq!(
            check(Source::Harbor, harbor, &[]).unwrap(),
            ["harbor.lan/library/app"]
        );
        assert!(check(Source::Distribution, json!({"nope": 1}), &[]).is_err());
        assert!(check(Source::DockerHub, json!([]), &[]).is_err());
    }

    #[test]
    fn github_signatures_are_checked_over_the_exact_body() {
        let body = br#"{"zen": "x"}"#;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"s3cret").unwrap();
        mac.update(body);
        let sig: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-hub-signature-256",
            format!("sha256={sig}").parse().unwrap(),
        );
        assert!(source_proof(Source::GitHub, "s3cret", &headers, None, body));
        assert!(!source_proof(
            Source::GitHub,
            "s3cret",
            &headers,
            None,
            b"{}"
        ));
        assert!(!source_proof(Source::GitHub, "other", &headers, None, body));
        // A token in the URL is not a signature.
        assert!(!source_proof(
            Source::GitHub,
            "s3cret",
            &HeaderMap::new(),
            Some("s3cret"),
            body
        ));
        assert!(source_proof(
            Source::DockerHub,
            "s3cret",
            &HeaderMap::new(),
            Some("s3cret"),
            body
        ));
    }
}
