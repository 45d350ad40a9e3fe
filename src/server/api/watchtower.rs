//! Watchtower's HTTP API: `POST /v1/update` checks and updates everything now, or with
//! `?image=repo1,repo2` only the containers of those repositories, as a CI job does after a
//! push. Behind a token (`Authorization: Bearer`), as in Watchtower: `server.token` or
//! Watchtower's own `WATCHTOWER_HTTP_API_TOKEN`. Answers once the updates are done; a second
//! request waits for the first, as Watchtower's lock makes it.

use super::error;
use crate::server::auth::WatchtowerActor;
use crate::server::{AppState, ControlError};
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/update", post(update))
}

/// The repositories of `?image=a,b&image=c`, as Watchtower reads them; `None` for all.
fn images(query: Option<&str>) -> Option<Vec<String>> {
    let images: Vec<String> = query?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(key, _)| *key == "image")
        .flat_map(|(_, value)| {
            percent_decode(value)
                .split(',')
                .map(|s| s.trim().to_string())
                .collect::<Vec<_>>()
        })
        .filter(|s| !s.is_empty())
        .collect();
    (!images.is_empty()).then_some(images)
}

/// `%XX` and `+` as a query string carries them.
pub(super) fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match value.get(i + 1..i + 3).map(|h| u8::from_str_radix(h, 16)) {
                    Some(Ok(b)) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn update(
    _: WatchtowerActor,
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Response {
    let images = images(query.as_deref());
    tracing::info!(images = ?images, "Update asked over HTTP.");
    let result = state.control.update_images(images).await;
    state.view.invalidate().await;
    match result {
        Ok(()) => (StatusCode::OK, axum::Json(serde_json::json!({}))).into_response(),
        Err(ControlError::NotFound(why)) => error(StatusCode::NOT_FOUND, why),
        Err(ControlError::Refused(why)) => error(StatusCode::BAD_REQUEST, why),
        Err(ControlError::Failed(why)) => error(StatusCode::INTERNAL_SERVER_ERROR, why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_read_as_watchtower_reads_them() {
        assert_eq!(images(None), None);
        assert_eq!(images(Some("")), None);
        assert_eq!(
            images(Some("image=a%2Fb,c&image=d&other=x")),
            Some(vec!["a/b".to_string(), "c".into(), "d".into()])
        );
        assert_eq!(percent_decode("%zz%41"), "%zzA");
    }
}
