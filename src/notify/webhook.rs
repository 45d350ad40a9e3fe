//! What the HTTP notifiers (`http`, `slack`, `teams`, `discord`, `telegram`, `ntfy`, `gotify`)
//! share: how their client is set up, how their URLs are checked, one bounded exchange, what an
//! answer's status means, and how a message is cut to a channel's limit.
//!
//! Webhook URLs are credentials (whoever holds one can post), so nothing made here quotes one:
//! reqwest's errors carry the URL, so they are stripped of it (`without_url`) and reduced to
//! their innermost cause before they become text. Answers are read up to [`MAX_REPLY`] and no
//! further, so a peer that streams forever can neither hold a delivery nor grow our memory.
//!
//! What a status means, for all kinds alike (those with an API that answers `200` with an error
//! of its own, Slack's and Telegram's, read that too):
//!
//! | answer                                   | outcome                        |
//! |------------------------------------------|--------------------------------|
//! | 2xx (Teams Workflows answers 202)         | delivered                      |
//! | 408, 425, 429, 5xx                       | `Transient`: the runner retries |
//! | no connection, time-out, connection lost | `Transient`                    |
//! | any other status (3xx, 4xx)              | `Permanent`                    |
//!
//! Redirects are not followed: a webhook that moved is a configuration to fix, and following a
//! 302 would turn the POST into a GET that "succeeds" without delivering anything.
//!
//! Building: every kind reads its configuration through [`Problems`], which collects every
//! problem (each kind's own checks, [`url`], [`credential`], the [`client`]) so that all of them
//! are reported at once, and hands out the notifier only when there were none.

use super::TriggerError;
use crate::config::Secret;
use crate::trigger::BuildProblem;
use base64::Engine as _;
use reqwest::header::HeaderValue;
use reqwest::{RequestBuilder, StatusCode, Url};
use serde_json::Value;
use std::time::Duration;

/// The most of an answer that is read. Webhooks answer `ok`, `1` or nothing; Slack's API
/// answers a JSON object whose first field is `ok`.
pub(super) const MAX_REPLY: usize = 64 * 1024;

/// Reaching a webhook host takes milliseconds; this only bounds a black-holed address within
/// the attempt's own time-out.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// One attempt's time-out: the trigger's `timeout` (default 10 s), as the runner reads it.
pub(super) fn attempt_timeout(configured: Option<u64>) -> Duration {
    Duration::from_secs(configured.unwrap_or(10).max(1))
}

/// The client of one notifier: rustls, a time-out on every request, no redirects.
pub(super) fn client(timeout: Duration) -> Result<reqwest::Client, BuildProblem> {
    client_via(timeout, None)
}

/// [`client`], its requests sent through `proxy` when given.
pub(super) fn client_via(
    timeout: Duration,
    proxy: Option<reqwest::Proxy>,
) -> Result<reqwest::Client, BuildProblem> {
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(CONNECT_TIMEOUT.min(timeout))
        .user_agent(concat!("tidewatch/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none());
    if let Some(proxy) = proxy {
        builder = builder.proxy(proxy);
    }
    builder
        .build()
        .map_err(|err| BuildProblem::new("url", format!("cannot set up HTTP: {err}")))
}

/// Every problem found while one notifier is built, in the order found.
#[derive(Debug, Default)]
pub(super) struct Problems(Vec<BuildProblem>);

impl Problems {
    pub(super) fn push(&mut self, problem: BuildProblem) {
        self.0.push(problem);
    }

    /// The value when `result` is one, else `None` with its problem recorded.
    pub(super) fn take<T>(&mut self, result: Result<T, BuildProblem>) -> Option<T> {
        result.map_err(|p| self.push(p)).ok()
    }

    /// [`take`](Self::take) for a check that reports several problems at once.
    pub(super) fn take_all<T>(&mut self, result: Result<T, Vec<BuildProblem>>) -> Option<T> {
        result.map_err(|p| self.0.extend(p)).ok()
    }

    /// `check` of a value that must be set: without it, the problem "required" at `key`.
    pub(super) fn required<V, T>(
        &mut self,
        key: &str,
        value: Option<V>,
        check: impl FnOnce(V) -> Result<T, BuildProblem>,
    ) -> Option<T> {
        match value {
            None => {
                self.push(BuildProblem::new(key, "required"));
                None
            }
            Some(value) => self.take(check(value)),
        }
    }

    /// The notifier's [`client`], with the trigger's `timeout`.
    pub(super) fn client(&mut self, timeout: Option<u64>) -> Option<reqwest::Client> {
        self.take(client(attempt_timeout(timeout)))
    }

    /// What `build` makes of the values read, when no problem was found; else every problem.
    /// `build` is only called then, so it may take each value out of its `Option` with `?`.
    pub(super) fn finish<T>(
        self,
        build: impl FnOnce() -> Option<T>,
    ) -> Result<T, Vec<BuildProblem>> {
        if !self.0.is_empty() {
            return Err(self.0);
        }
        // A value is missing only with its problem recorded; were one not, nothing is built.
        build().ok_or(self.0)
    }
}

/// An `http` or `https` URL with a host. The message names what is wrong, never the value.
pub(super) fn url(key: &str, value: &Secret) -> Result<Url, BuildProblem> {
    let parsed = Url::parse(value.expose().trim())
        // ParseError's texts are fixed phrases ("relative URL without a base"), never the input.
        .map_err(|err| BuildProblem::new(key, format!("not a valid URL ({err})")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(BuildProblem::new(key, "must be an http or https URL"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(BuildProblem::new(key, "has no host"));
    }
    Ok(parsed)
}

/// A status and the first [`MAX_REPLY`] bytes of what came with it.
#[derive(Debug)]
pub(super) struct Reply {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

/// Sends `request` and reads at most [`MAX_REPLY`] of the answer. `what` names the exchange in
/// errors (`POST to the webhook`), since the URL may not. Only a failure to get a status at all
/// is an error here; what the status means is [`check`]'s.
pub(super) async fn exchange(request: RequestBuilder, what: &str) -> Result<Reply, TriggerError> {
    let mut response = request
        .send()
        .await
        .map_err(|err| transport_error(what, err))?;
    let status = response.status();
    let mut body = Vec::new();
    while body.len() < MAX_REPLY {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_REPLY - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) => break,
            // The status is the answer; a body cut short after it does not undo a delivery.
            Err(_) => break,
        }
    }
    Ok(Reply { status, body })
}

/// What a status means; see the table in the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Class {
    Delivered,
    Transient,
    Permanent,
}

pub(super) fn classify(status: StatusCode) -> Class {
    match status.as_u16() {
        200..=299 => Class::Delivered,
        408 | 425 | 429 | 500..=599 => Class::Transient,
        _ => Class::Permanent,
    }
}

/// `Ok` for a 2xx, else the error its class calls for: `POST to the webhook failed: 500
/// Internal Server Error`, with `detail` (a peer's error code) appended when there is one.
pub(super) fn check(
    what: &str,
    status: StatusCode,
    detail: Option<&str>,
) -> Result<(), TriggerError> {
    let text = || match detail {
        Some(detail) => format!("{what} failed: {status} ({detail})"),
        None => format!("{what} failed: {status}"),
    };
    match classify(status) {
        Class::Delivered => Ok(()),
        Class::Transient => Err(TriggerError::Transient(text())),
        Class::Permanent if status.is_redirection() => Err(TriggerError::Permanent(format!(
            "{} (redirects are not followed: configure the final URL)",
            text()
        ))),
        Class::Permanent => Err(TriggerError::Permanent(text())),
    }
}

/// A failure before any status: no connection, a time-out, a connection lost mid-exchange are
/// worth retrying; anything else (a request reqwest could not even build) is not.
fn transport_error(what: &str, err: reqwest::Error) -> TriggerError {
    let err = err.without_url();
    let detail = if err.is_timeout() {
        "timed out".to_string()
    } else if err.is_connect() {
        format!("cannot connect: {}", root_cause(&err))
    } else {
        root_cause(&err)
    };
    let text = format!("{what} failed: {detail}");
    if err.is_timeout() || err.is_connect() || err.is_request() || err.is_body() {
        TriggerError::Transient(text)
    } else {
        TriggerError::Permanent(text)
    }
}

/// The innermost cause (`Connection refused (os error 111)`): what a user can act on, and free
/// of the URL that reqwest's outer layers mention.
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// A peer's error code (Slack's `channel_not_found`), only when it is a plain identifier, so a
/// hostile or chatty answer cannot put arbitrary text (or an echoed secret) in our messages.
pub(super) fn error_code(text: &str) -> Option<&str> {
    let code = text.trim();
    let plain = !code.is_empty()
        && code.len() <= 64
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    plain.then_some(code)
}

/// At most `max` characters of `text`, the last one `…` when it was cut.
pub(super) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// A peer's error sentence (Telegram's `Bad Request: chat not found`, Gotify's
/// `errorDescription`), only when it is one short line of plain ASCII words and punctuation —
/// nothing that can spell a URL, markup or a header — and contains none of `secrets`, so an
/// answer can neither put arbitrary text in our messages nor echo a credential into them.
pub(super) fn error_text<'a>(text: &'a str, secrets: &[&str]) -> Option<&'a str> {
    let text = text.trim();
    let plain = !text.is_empty()
        && text.len() <= 160
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b" .,:;'\"_-()!?#".contains(&b));
    let echoes = secrets
        .iter()
        .map(|s| s.trim())
        .any(|secret| !secret.is_empty() && text.contains(secret));
    (plain && !echoes).then_some(text)
}

/// How a channel counts the length of a text: Discord in characters, Telegram in UTF-16 code
/// units (as JavaScript does), ntfy in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Measure {
    Chars,
    Utf16,
    Utf8,
}

impl Measure {
    fn of(self, c: char) -> usize {
        match self {
            Measure::Chars => 1,
            Measure::Utf16 => c.len_utf16(),
            Measure::Utf8 => c.len_utf8(),
        }
    }

    pub(super) fn len(self, text: &str) -> usize {
        match self {
            Measure::Chars => text.chars().count(),
            Measure::Utf8 => text.len(),
            Measure::Utf16 => text.chars().map(char::len_utf16).sum(),
        }
    }
}

/// At most `max` of `text` as `measure` counts it. A cut is made after the last whole line that
/// fits, marked by `…` on a line of its own, when that keeps at least half of what would fit;
/// else after the last character that fits, marked by `…`. A list of updates so loses whole
/// entries rather than ending in half a link.
pub(super) fn shorten(text: &str, max: usize, measure: Measure) -> String {
    if measure.len(text) <= max {
        return text.to_string();
    }
    const MARK: char = '…';
    let room = max.saturating_sub(measure.of(MARK));
    if room == 0 {
        return String::new();
    }
    let (mut used, mut end) = (0, 0);
    for (at, c) in text.char_indices() {
        if used + measure.of(c) > room {
            break;
        }
        used += measure.of(c);
        end = at + c.len_utf8();
    }
    let fits = &text[..end];
    match fits.rfind('\n') {
        // `fits` keeps the new line itself, so the line and the new line fit in `room`.
        Some(line_end) if 2 * measure.len(&fits[..line_end]) >= room => {
            format!("{}\n{MARK}", fits[..line_end].trim_end())
        }
        _ => format!("{}{MARK}", fits.trim_end()),
    }
}

/// A header value marked sensitive, so no debug output of a request shows it; `None` when the
/// text cannot be one (a control character).
pub(super) fn sensitive(text: &str) -> Option<HeaderValue> {
    let mut value = HeaderValue::from_str(text).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// `{scheme}{token}` (`Bearer tk_…`, or the token alone for `scheme` `""`), sensitive, from a
/// configured token (trimmed); the problem at `key` when it is empty or holds what a header
/// cannot carry. The problem never quotes the token.
pub(super) fn credential(
    key: &str,
    scheme: &str,
    token: &str,
) -> Result<HeaderValue, BuildProblem> {
    let token = token.trim();
    if token.is_empty() {
        return Err(BuildProblem::new(key, "is empty"));
    }
    sensitive(&format!("{scheme}{token}"))
        .ok_or_else(|| BuildProblem::new(key, "contains characters a header cannot carry"))
}

/// One delivery: `request` sent through [`exchange`] and its status judged by [`check`], with
/// the detail `refusal` reads from the answer (a peer's error code or sentence) when it has one.
pub(super) async fn deliver(
    request: RequestBuilder,
    what: &str,
    refusal: impl FnOnce(&Reply) -> Option<String>,
) -> Result<(), TriggerError> {
    let reply = exchange(request, what).await?;
    let detail = refusal(&reply);
    check(what, reply.status, detail.as_deref())
}

/// `Authorization: Basic base64(user:password)`, sensitive.
pub(super) fn basic(user: &str, password: &str) -> Option<HeaderValue> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    sensitive(&format!("Basic {encoded}"))
}

/// The release-notes link of a message about one update, when it is an http(s) URL: channels
/// refuse or mis-render anything else (`javascript:`), and a cycle's message has no single one.
pub(super) fn link(data: &Value) -> Option<&str> {
    if data["event"] == "batch" {
        return None;
    }
    data["link"]
        .as_str()
        .filter(|link| Url::parse(link).is_ok_and(|url| matches!(url.scheme(), "http" | "https")))
}

/// For the kinds' tests: the keys of a build's problems, in the order found; panics when it
/// built.
#[cfg(test)]
pub(super) fn problem_keys<T: std::fmt::Debug>(built: Result<T, Vec<BuildProblem>>) -> Vec<String> {
    built.unwrap_err().into_iter().map(|p| p.key).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified_as_the_table_says() {
        let cases = [
            (200, Class::Delivered),
            (201, Class::Delivered),
            (202, Class::Delivered),
            (204, Class::Delivered),
            (301, Class::Permanent),
            (302, Class::Permanent),
            (400, Class::Permanent),
            (401, Class::Permanent),
            (403, Class::Permanent),
            (404, Class::Permanent),
            (408, Class::Transient),
            (410, Class::Permanent),
            (413, Class::Permanent),
            (425, Class::Transient),
            (429, Class::Transient),
            (500, Class::Transient),
            (502, Class::Transient),
            (503, Class::Transient),
            (599, Class::Transient),
        ];
        for (status, class) in cases {
            assert_eq!(
                classify(StatusCode::from_u16(status).unwrap()),
                class,
                "{status}"
            );
        }
    }

    #[test]
    fn check_names_the_exchange_and_status_and_says_why_redirects_fail() {
        let what = "POST to the webhook";
        assert_eq!(check(what, StatusCode::ACCEPTED, None), Ok(()));
        assert_eq!(
            check(what, StatusCode::INTERNAL_SERVER_ERROR, None),
            Err(TriggerError::Transient(
                "POST to the webhook failed: 500 Internal Server Error".into()
            ))
        );
        assert_eq!(
            check(what, StatusCode::NOT_FOUND, Some("channel_not_found")),
            Err(TriggerError::Permanent(
                "POST to the webhook failed: 404 Not Found (channel_not_found)".into()
            ))
        );
        let Err(TriggerError::Permanent(moved)) = check(what, StatusCode::FOUND, None) else {
            panic!("a redirect is permanent");
        };
        assert!(moved.contains("redirects are not followed"), "{moved}");
    }

    #[test]
    fn urls_must_be_http_with_a_host_and_problems_never_quote_them() {
        let secret = "https://hooks.example.com/services/T0/B0/SECRETPART";
        assert!(url("url", &Secret::new(secret)).is_ok());
        assert!(url("url", &Secret::new(format!("  {secret}\n"))).is_ok());
        for bad in [
            "hooks.example.com/SECRETPART",
            "ftp://hooks.example.com/SECRETPART",
            "file:///SECRETPART",
            "",
        ] {
            let problem = url("url", &Secret::new(bad)).unwrap_err();
            assert_eq!(problem.key, "url");
            assert!(!problem.message.contains("SECRETPART"), "{problem:?}");
        }
    }

    #[test]
    fn error_codes_are_plain_identifiers_or_nothing() {
        assert_eq!(error_code("invalid_payload\n"), Some("invalid_payload"));
        assert_eq!(
            error_code("channel_is_archived"),
            Some("channel_is_archived")
        );
        assert_eq!(error_code(""), None);
        assert_eq!(error_code("<html>nope</html>"), None);
        assert_eq!(error_code("bad token xoxb-123"), None);
        assert_eq!(error_code(&"a".repeat(65)), None);
    }

    #[test]
    fn truncate_counts_characters_and_marks_the_cut() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("ééééé", 5), "ééééé");
        assert_eq!(truncate("éééééé", 5), "éééé…");
        assert_eq!(truncate("abcdef", 5).chars().count(), 5);
    }

    #[test]
    fn error_texts_are_plain_sentences_without_secrets() {
        assert_eq!(
            error_text(" Bad Request: chat not found\n", &[]),
            Some("Bad Request: chat not found")
        );
        assert_eq!(
            error_text("Bad Request: can't parse entities: \"b\"", &[]),
            Some("Bad Request: can't parse entities: \"b\"")
        );
        assert_eq!(error_text("", &[]), None);
        assert_eq!(error_text("see https://example.com/x", &[]), None);
        assert_eq!(error_text("<html>busy</html>", &[]), None);
        assert_eq!(error_text("two\nlines", &[]), None);
        assert_eq!(error_text(&"a".repeat(161), &[]), None);
        assert_eq!(
            error_text("Unauthorized: 123:SECRET-token", &["123:SECRET-token"]),
            None
        );
        assert_eq!(
            error_text("Unauthorized", &["", "  "]),
            Some("Unauthorized")
        );
    }

    #[test]
    fn measures_count_characters_utf16_units_or_bytes() {
        let text = "a→🚀";
        assert_eq!(Measure::Chars.len(text), 3);
        assert_eq!(Measure::Utf16.len(text), 4);
        assert_eq!(Measure::Utf8.len(text), 1 + 3 + 4);
    }

    #[test]
    fn shorten_keeps_whole_lines_and_marks_the_cut() {
        assert_eq!(shorten("short", 10, Measure::Chars), "short");
        let lines = "one line\ntwo line\nthree line";
        assert_eq!(shorten(lines, 20, Measure::Chars), "one line\ntwo line\n…");
        // No line end late enough: cut inside the line.
        assert_eq!(shorten("abcdefghij\nk", 8, Measure::Chars), "abcdefg…");
        assert_eq!(shorten("a\nbcdefghijkl", 8, Measure::Chars), "a\nbcdef…");
        for measure in [Measure::Chars, Measure::Utf16, Measure::Utf8] {
            let long = "🚀 ééé\n".repeat(100);
            for max in [1, 2, 5, 13, 64, 333] {
                let cut = shorten(&long, max, measure);
                assert!(measure.len(&cut) <= max, "{measure:?} {max}: {cut:?}");
                assert!(cut.is_empty() || cut.ends_with('…'), "{cut:?}");
            }
        }
        assert_eq!(shorten("abc", 0, Measure::Chars), "");
    }

    #[test]
    fn credentials_are_trimmed_sensitive_and_problems_never_quote_them() {
        let bearer = credential("token", "Bearer ", " tok \n").unwrap();
        assert_eq!(bearer, "Bearer tok");
        assert!(bearer.is_sensitive());
        assert_eq!(credential("token", "", "tok").unwrap(), "tok");
        let empty = credential("auth.token", "Bearer ", "  ").unwrap_err();
        assert_eq!(empty, BuildProblem::new("auth.token", "is empty"));
        let bad = credential("token", "", "SECRET\u{7}x").unwrap_err();
        assert_eq!(bad.key, "token");
        assert!(!bad.message.contains("SECRET"), "{bad:?}");
    }

    #[test]
    fn problems_are_all_kept_in_order_and_nothing_is_built_with_one() {
        let mut problems = Problems::default();
        assert_eq!(problems.required("url", None::<&str>, |_| Ok(1)), None);
        assert_eq!(problems.required("a", Some("x"), |v| Ok(v.len())), Some(1));
        assert_eq!(
            problems.take::<u8>(Err(BuildProblem::new("b", "bad"))),
            None
        );
        problems.take_all::<u8>(Err(vec![
            BuildProblem::new("c", "1"),
            BuildProblem::new("d", "2"),
        ]));
        let keys: Vec<String> = problems
            .finish(|| Some(()))
            .unwrap_err()
            .into_iter()
            .map(|p| p.key)
            .collect();
        assert_eq!(keys, ["url", "b", "c", "d"]);
        assert_eq!(Problems::default().finish(|| Some(7)), Ok(7));
    }

    #[test]
    fn auth_headers_are_sensitive() {
        let basic = basic("tide", "s3cret:pass").unwrap();
        assert_eq!(basic, "Basic dGlkZTpzM2NyZXQ6cGFzcw==");
        assert!(basic.is_sensitive());
        assert!(sensitive("tok").unwrap().is_sensitive());
        assert_eq!(sensitive("bad\nvalue"), None);
    }

    #[test]
    fn only_http_links_of_single_updates_count() {
        use serde_json::json;
        let one = |link: Value| json!({ "event": "update-available", "link": link });
        assert_eq!(
            link(&one(json!("https://example.com/r"))),
            Some("https://example.com/r")
        );
        assert_eq!(
            link(&one(json!("http://example.com/r"))),
            Some("http://example.com/r")
        );
        assert_eq!(link(&one(json!("javascript:alert(1)"))), None);
        assert_eq!(link(&one(json!("not a url"))), None);
        assert_eq!(link(&one(Value::Null)), None);
        assert_eq!(
            link(&json!({ "event": "batch", "link": "https://example.com" })),
            None
        );
    }
}
