//! The tag list API: `GET /v2/<name>/tags/list`, paginated by `Link: <…>; rel="next"` headers.

use serde::Deserialize;

/// A tag list page is names only; thousands of tags fit in a few hundred KiB.
pub const MAX_PAGE_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, Deserialize)]
struct Page {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

pub fn parse_page(body: &[u8]) -> Result<Vec<String>, String> {
    let page: Page =
        serde_json::from_slice(body).map_err(|err| format!("tag list is not valid JSON: {err}"))?;
    Ok(page.tags.unwrap_or_default())
}

/// The next page's URL from a `Link` header, resolved against `base` (`http://host`), since
/// registries send it as a path (`</v2/app/tags/list?last=x&n=100>; rel="next"`).
pub fn next_page(link: &str, base: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.trim().split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let is_next = params.split(';').any(|p| {
            p.trim()
                .replace(' ', "")
                .eq_ignore_ascii_case("rel=\"next\"")
                || p.trim().eq_ignore_ascii_case("rel=next")
        });
        if !is_next {
            return None;
        }
        if target.starts_with("http://") || target.starts_with("https://") {
            Some(target.to_string())
        } else if target.starts_with('/') {
            Some(format!("{base}{target}"))
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_relative_and_absolute_next_links() {
        let base = "http://127.0.0.1:5000";
        assert_eq!(
            next_page(r#"</v2/app/tags/list?last=b&n=2>; rel="next""#, base).as_deref(),
            Some("http://127.0.0.1:5000/v2/app/tags/list?last=b&n=2")
        );
        assert_eq!(
            next_page(
                r#"<https://r.example/v2/a/tags/list?last=x>; rel="next""#,
                base
            )
            .as_deref(),
            Some("https://r.example/v2/a/tags/list?last=x")
        );
        assert_eq!(
            next_page(r#"</v2/a/tags/list?last=x>; rel="prev""#, base),
            None
        );
        assert_eq!(next_page("garbage", base), None);
    }

    #[test]
    fn pages_parse_or_fail_cleanly() {
        assert_eq!(
            parse_page(br#"{"name":"a","tags":["1","2"]}"#).unwrap(),
            ["1", "2"]
        );
        assert!(
            parse_page(br#"{"name":"a","tags":null}"#)
                .unwrap()
                .is_empty()
        );
        assert!(parse_page(b"\x00\x01").is_err());
    }
}
