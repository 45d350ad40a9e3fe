//! The `http` trigger: a generic webhook, for anything that takes an HTTP request.
//!
//! **Body.** By default a JSON object: every value the templates were rendered from (the fields in
//! the README's Templates section: `event`, `name`, `from`, `to`, … for one update; `event:
//! "batch"`, `count`, `updates`, `report` for a cycle) plus the rendered `title` and `body`,
//! sent as `application/json`. With `body` set, the body is that handlebars template rendered
//! against the same values (title and body included) — strict, without escaping, checked
//! against sample values at start-up like every template — and sent as `contenttype` (default
//! `text/plain; charset=utf-8`). The `json` helper writes a value as JSON, quotes included, for
//! templated JSON bodies: `{"text": {{json title}}}`. `contenttype` also replaces
//! `application/json` for the default body.
//!
//! **Format.** `format` picks whose JSON the default body is: `tidewatch` (the document above),
//! `wud` (WUD's container JSON, [`super::wud`]; an array of them for a batch) or `diun` (Diun's
//! webhook message, [`super::diun`]; one image per message, so simple mode only). A trigger set
//! up through `WUD_TRIGGER_HTTP_*` defaults to `wud`, Diun's webhook to `diun`. A `body`
//! template is tidewatch's values rendered, so it goes with `tidewatch` only.
//!
//! **Method.** `POST` (default), `PUT`, `PATCH`, or `GET` as WUD and Diun send it: WUD's GET
//! carries the body's fields in the query string (`image[tag][value]=1.2.3`, as WUD's axios
//! writes them; tidewatch's document likewise), Diun's GET carries its JSON as the body.
//!
//! **Proxy.** With `proxy`, every request goes through that HTTP proxy (credentials in its URL
//! are sent as `Proxy-Authorization`). It is a secret like the URL: never shown.
//!
//! **Headers.** `X-Tidewatch-Event` carries `event` (`update-available`, `update-applied`,
//! `update-failed`, `rolled-back`, `batch`), so a receiver can route before parsing. `headers`
//! adds `Name: value` entries separated by `;` or new lines (so a value cannot contain `;`);
//! the headers tidewatch sets itself cannot be given there. `auth.type` `basic` (`auth.user`,
//! `auth.password`) or `bearer` (`auth.bearer`) sets `Authorization`; without `auth.type`, the
//! kind follows from which of them is set.
//!
//! **Signature.** With `secret`, `X-Tidewatch-Signature: sha256=<hex>` is HMAC-SHA256 under the
//! secret of the exact body bytes sent (for WUD's GET, of the query string), as GitHub's
//! `X-Hub-Signature-256`. A receiver computes it over the raw body, before parsing it, and
//! compares in constant time.

use super::template::{self, Defaults, Notice, shipped};
use super::webhook::{self, Problems};
use super::{Message, Notifier, TriggerError};
use super::{diun, wud};
use crate::config::{HttpAuthConfig, HttpConfig, HttpFormat, Mode, Secret};
use crate::trigger::BuildProblem;
use async_trait::async_trait;
use handlebars::Handlebars;
use hmac::{Hmac, Mac};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use serde_json::{Value, json};
use sha2::Sha256;

pub const TEMPLATES: Defaults = shipped!("http");

/// The header carrying the body's signature.
pub const SIGNATURE_HEADER: &str = "x-tidewatch-signature";
/// The header carrying the message's `event`.
pub const EVENT_HEADER: &str = "x-tidewatch-event";

const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";
/// The name the `body` template is registered under.
const BODY: &str = "body";

/// Headers a `headers` entry may not set: tidewatch sets them, or HTTP itself does.
const RESERVED: [&str; 7] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "content-type",
    SIGNATURE_HEADER,
    EVENT_HEADER,
];

pub struct Http {
    client: reqwest::Client,
    url: Url,
    method: Method,
    /// From `auth`, marked sensitive so that no debug output of a request shows it.
    authorization: Option<HeaderValue>,
    /// From `headers`, every value marked sensitive.
    headers: HeaderMap,
    /// The HMAC key, keyed once; each message signs with a clone.
    signer: Option<Hmac<Sha256>>,
    body: Option<Handlebars<'static>>,
    content_type: HeaderValue,
    format: HttpFormat,
}

/// Never the URL, the headers or the keys.
impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http")
            .field("method", &self.method)
            .field("url", &Secret::new(""))
            .field("signed", &self.signer.is_some())
            .field("templated", &self.body.is_some())
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl Http {
    pub fn new(config: &HttpConfig) -> Result<Self, Vec<BuildProblem>> {
        let mut problems = Problems::default();
        let url = problems.required("url", config.url.as_ref(), |url| webhook::url("url", url));
        let method = match config
            .method
            .as_deref()
            .map(str::to_ascii_uppercase)
            .as_deref()
        {
            None | Some("POST") => Some(Method::POST),
            Some("PUT") => Some(Method::PUT),
            Some("PATCH") => Some(Method::PATCH),
            Some("GET") => Some(Method::GET),
            Some(_) => {
                problems.push(BuildProblem::new(
                    "method",
                    "must be POST, PUT, PATCH or GET",
                ));
                None
            }
        };
        let format = config.format;
        if format != HttpFormat::Tidewatch && config.body.is_some() {
            problems.push(BuildProblem::new(
                "format",
                "a body template is rendered from tidewatch's values: set format tidewatch, or no body",
            ));
        }
        if method == Some(Method::GET) && config.body.is_some() {
            problems.push(BuildProblem::new(
                "method",
                "GET sends the message in the query string: a body template needs POST, PUT or PATCH",
            ));
        }
        if format == HttpFormat::Diun && config.mode == Mode::Batch {
            problems.push(BuildProblem::new(
                "format",
                "Diun's message tells one image: format diun needs mode simple",
            ));
        }
        let proxy = config.proxy.as_ref().and_then(|proxy| {
            let url = problems.take(webhook::url("proxy", proxy))?;
            problems.take(
                reqwest::Proxy::all(url.as_str())
                    .map_err(|_| BuildProblem::new("proxy", "not a usable proxy URL")),
            )
        });
        let authorization = problems.take_all(authorization(&config.auth));
        let mut headers = HeaderMap::new();
        if let Some(text) = &config.headers {
            match parse_headers(text.expose()) {
                Ok(parsed) => headers = parsed,
                Err(found) => {
                    for message in found {
                        problems.push(BuildProblem::new("headers", message));
                    }
                }
            }
        }
        if matches!(authorization, Some(Some(_))) && headers.contains_key(AUTHORIZATION) {
            problems.push(BuildProblem::new(
                "headers",
                "Authorization is set by auth; give it in one place",
            ));
        }
        let signer = match &config.secret {
            None => None,
            Some(secret) if secret.expose().is_empty() => {
                problems.push(BuildProblem::new("secret", "is empty"));
                None
            }
            // HMAC takes a key of any length.
            Some(secret) => Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()).ok(),
        };
        let body = match &config.body {
            None => None,
            Some(source) => problems.take(
                compile_body(source.expose(), config.mode)
                    .map_err(|message| BuildProblem::new("body", message)),
            ),
        };
        let content_type = match &config.contenttype {
            None if body.is_some() => Some(HeaderValue::from_static(TEXT)),
            None => Some(HeaderValue::from_static(JSON)),
            Some(value) => problems.take(
                HeaderValue::from_str(value.trim())
                    .map_err(|_| BuildProblem::new("contenttype", "not a valid header value")),
            ),
        };
        let client = problems.take(webhook::client_via(
            webhook::attempt_timeout(config.timeout),
            proxy,
        ));
        problems.finish(|| {
            Some(Http {
                client: client?,
                url: url?,
                method: method?,
                authorization: authorization?,
                headers,
                signer,
                body,
                content_type: content_type?,
                format,
            })
        })
    }

    /// The bytes to send: the rendered `body` template, or the JSON of the format.
    fn render(&self, message: &Message) -> Result<Vec<u8>, TriggerError> {
        if let Some(registry) = &self.body {
            return registry
                .render(BODY, &payload(message))
                .map(String::into_bytes)
                .map_err(|err| {
                    TriggerError::Permanent(format!("body template: {}", reason(&err)))
                });
        }
        serde_json::to_vec(&self.document(message)?)
            .map_err(|err| TriggerError::Permanent(format!("cannot write JSON: {err}")))
    }

    /// The JSON of the format, for a message without a `body` template.
    fn document(&self, message: &Message) -> Result<Value, TriggerError> {
        let text = |key: &str| message.data.get(key).and_then(Value::as_str);
        let event = text("event").unwrap_or_default();
        let to_json = |value: Result<Value, serde_json::Error>| {
            value.map_err(|err| TriggerError::Permanent(format!("cannot write JSON: {err}")))
        };
        match (self.format, message.updates.as_slice()) {
            (HttpFormat::Tidewatch, _) => Ok(payload(message)),
            (HttpFormat::Wud, [one]) if event != "batch" => {
                to_json(serde_json::to_value(wud::of_entry(one)))
            }
            (HttpFormat::Wud, all) if !all.is_empty() => to_json(serde_json::to_value(
                all.iter().map(wud::of_entry).collect::<Vec<_>>(),
            )),
            (HttpFormat::Diun, [one]) => to_json(serde_json::to_value(diun::entry(
                &one.candidate,
                &crate::config::host::hostname(),
            ))),
            (format, updates) => Err(TriggerError::Permanent(format!(
                "{format:?} format: a message about {} updates has no such shape",
                updates.len()
            ))),
        }
    }

    /// WUD's GET: the body's fields in the query string, none in the body. Diun's GET sends
    /// its JSON as the body, as Diun does.
    fn query_instead_of_body(&self) -> bool {
        self.method == Method::GET && self.format != HttpFormat::Diun
    }
}

/// The pairs of a query string for `value`, nested keys in brackets as axios writes a GET's
/// `params` (`image[registry][name]`, `0[name]` for a batch's first container); `null` is left
/// out, as axios leaves out undefined.
fn query_pairs(value: &Value, key: String, out: &mut Vec<(String, String)>) {
    let child = |k: &str| {
        if key.is_empty() {
            k.to_string()
        } else {
            format!("{key}[{k}]")
        }
    };
    match value {
        Value::Null => {}
        Value::Object(map) => {
            for (k, v) in map {
                query_pairs(v, child(k), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                query_pairs(v, child(&i.to_string()), out);
            }
        }
        Value::String(s) => out.push((key, s.clone())),
        other => out.push((key, other.to_string())),
    }
}

#[async_trait]
impl Notifier for Http {
    async fn send(&self, message: &Message) -> Result<(), TriggerError> {
        // What carries the message, which is also what is signed: the body, or for WUD's GET
        // the query string.
        let (mut request, signed) = if self.query_instead_of_body() {
            let mut url = self.url.clone();
            let mut pairs = Vec::new();
            query_pairs(&self.document(message)?, String::new(), &mut pairs);
            url.query_pairs_mut().extend_pairs(pairs);
            let query = url.query().unwrap_or_default().as_bytes().to_vec();
            (self.client.get(url), query)
        } else {
            let body = self.render(message)?;
            let request = self
                .client
                .request(self.method.clone(), self.url.clone())
                .header(CONTENT_TYPE, self.content_type.clone())
                .body(body.clone());
            (request, body)
        };
        request = request.headers(self.headers.clone());
        if let Some(authorization) = &self.authorization {
            request = request.header(AUTHORIZATION, authorization.clone());
        }
        if let Some(event) = message
            .data
            .get("event")
            .and_then(Value::as_str)
            .and_then(|event| HeaderValue::from_str(event).ok())
        {
            request = request.header(EVENT_HEADER, event);
        }
        if let Some(signer) = &self.signer {
            request = request.header(SIGNATURE_HEADER, sign(signer.clone(), &signed));
        }
        let what = format!("{} to the webhook", self.method);
        let reply = webhook::exchange(request, &what).await?;
        webhook::check(&what, reply.status, None)
    }
}

/// What the body is made of: the template values with the rendered `title` and `body`.
pub fn payload(message: &Message) -> Value {
    let mut values = match &message.data {
        Value::Object(map) => map.clone(),
        // Always an object today; kept whole should that change.
        other => {
            let mut map = serde_json::Map::new();
            map.insert("data".into(), other.clone());
            map
        }
    };
    values.insert("title".into(), json!(message.title));
    values.insert("body".into(), json!(message.body));
    Value::Object(values)
}

/// `sha256=<lowercase hex of HMAC-SHA256(key, body)>`.
fn sign(mut signer: Hmac<Sha256>, body: &[u8]) -> String {
    signer.update(body);
    let digest = signer.finalize().into_bytes();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// The `Authorization` value `auth` asks for, if any; every problem with `auth.*`.
fn authorization(auth: &HttpAuthConfig) -> Result<Option<HeaderValue>, Vec<BuildProblem>> {
    enum Kind {
        Basic,
        Bearer,
    }
    let mut problems = Problems::default();
    let has_user = auth.user.is_some() || auth.password.is_some();
    let kind = match auth.kind.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("basic") => Some(Kind::Basic),
        Some("bearer") => Some(Kind::Bearer),
        Some(_) => {
            problems.push(BuildProblem::new("auth.type", "must be basic or bearer"));
            None
        }
        None if has_user && auth.bearer.is_some() => {
            problems.push(BuildProblem::new(
                "auth.type",
                "required when both auth.user and auth.bearer are set",
            ));
            None
        }
        None if auth.bearer.is_some() => Some(Kind::Bearer),
        None if has_user => Some(Kind::Basic),
        None => return Ok(None),
    };
    let value = match kind {
        Some(Kind::Basic) => {
            if auth.bearer.is_some() {
                problems.push(BuildProblem::new(
                    "auth.bearer",
                    "only used with auth.type bearer",
                ));
            }
            match &auth.user {
                None => {
                    problems.push(BuildProblem::new("auth.user", "required with basic auth"));
                    None
                }
                Some(user) if user.contains(':') => {
                    problems.push(BuildProblem::new(
                        "auth.user",
                        "cannot contain ':' (basic auth separates user and password with it)",
                    ));
                    None
                }
                Some(user) => {
                    let password = auth.password.as_ref().map(Secret::expose).unwrap_or("");
                    webhook::basic(user, password)
                }
            }
        }
        Some(Kind::Bearer) => {
            if has_user {
                problems.push(BuildProblem::new(
                    "auth.user",
                    "auth.user and auth.password are only used with auth.type basic",
                ));
            }
            match &auth.bearer {
                None => {
                    problems.push(BuildProblem::new(
                        "auth.bearer",
                        "required with bearer auth",
                    ));
                    None
                }
                Some(token) => problems.take(webhook::credential(
                    "auth.bearer",
                    "Bearer ",
                    token.expose(),
                )),
            }
        }
        None => None,
    };
    problems.finish(|| Some(value))
}

/// `headers`: `Name: value` entries separated by `;` or new lines; blank entries are skipped.
/// Problems name the entry by its position, never by its text (the whole option is a secret).
pub fn parse_headers(text: &str) -> Result<HeaderMap, Vec<String>> {
    let mut headers = HeaderMap::new();
    let mut problems = Vec::new();
    let entries = text
        .split([';', '\n'])
        .map(str::trim)
        .filter(|entry| !entry.is_empty());
    for (n, entry) in entries.enumerate() {
        let n = n + 1;
        let Some((name, value)) = entry.split_once(':') else {
            problems.push(format!("entry {n} is not `Name: value`"));
            continue;
        };
        let Ok(name) = HeaderName::from_bytes(name.trim().as_bytes()) else {
            problems.push(format!("entry {n}: not a valid header name"));
            continue;
        };
        if let Some(reserved) = RESERVED.iter().find(|r| **r == name.as_str()) {
            problems.push(format!(
                "entry {n}: {reserved} is set by tidewatch{}",
                if *reserved == "content-type" {
                    " (contenttype sets it)"
                } else {
                    ""
                }
            ));
            continue;
        }
        let Some(value) = webhook::sensitive(value.trim()) else {
            problems.push(format!("entry {n}: not a valid header value"));
            continue;
        };
        headers.append(name, value);
    }
    if problems.is_empty() {
        Ok(headers)
    } else {
        Err(problems)
    }
}

/// The `body` template, compiled and rendered once against sample values: against a simple
/// message's, and in batch mode a batch's too, since updates applied or failed are always told
/// one by one. A field that only one of them has is written inside `{{#if field}}`.
fn compile_body(source: &str, mode: Mode) -> Result<Handlebars<'static>, String> {
    let mut registry = Handlebars::new();
    registry.set_strict_mode(true);
    registry.register_escape_fn(handlebars::no_escape);
    registry.register_helper("json", Box::new(json_helper));
    registry
        .register_template_string(BODY, source)
        .map_err(|err| reason(&err))?;
    let candidate = template::sample_candidate();
    let mut samples = vec![template::simple_data(Notice::Failed(
        &candidate,
        "sample reason",
    ))];
    if mode == Mode::Batch {
        samples.push(template::batch_data(
            "local",
            std::slice::from_ref(&candidate),
            None,
        ));
    }
    for data in samples {
        let message = Message {
            title: "sample title".into(),
            body: "sample body".into(),
            data: data.values,
            updates: data.updates,
        };
        registry
            .render(BODY, &payload(&message))
            .map_err(|err| reason(&err))?;
    }
    Ok(registry)
}

handlebars::handlebars_helper!(json_helper: |value: Json| {
    serde_json::to_string(value).unwrap_or_default()
});

/// handlebars' errors can quote the template; the reason alone, in one line.
fn reason(err: &impl std::fmt::Display) -> String {
    err.to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HttpAuthConfig;

    fn config(url: &str) -> HttpConfig {
        HttpConfig {
            url: Some(Secret::new(url)),
            ..HttpConfig::default()
        }
    }

    fn keys(problems: &[BuildProblem]) -> Vec<&str> {
        problems.iter().map(|p| p.key.as_str()).collect()
    }

    fn message() -> Message {
        Message {
            title: "Update available: web".into(),
            body: "1.25.3 -> 1.25.4".into(),
            data: template::simple_data(Notice::Available(&template::sample_candidate())).values,
            updates: Vec::new(),
        }
    }

    #[test]
    fn a_url_is_all_it_takes() {
        let http = Http::new(&config("http://127.0.0.1:9/hook")).unwrap();
        assert_eq!(http.method, Method::POST);
        assert_eq!(http.content_type, JSON);
        assert!(http.authorization.is_none() && http.signer.is_none());
    }

    #[test]
    fn every_problem_is_reported_at_once_by_key() {
        let bad = HttpConfig {
            url: None,
            method: Some("GET".into()),
            auth: HttpAuthConfig {
                kind: Some("digest".into()),
                ..HttpAuthConfig::default()
            },
            headers: Some(Secret::new("X-Ok: 1; broken; Content-Length: 3")),
            secret: Some(Secret::new("")),
            body: Some(Secret::new("{{nosuchfield}}")),
            contenttype: Some("text/plain\u{7}".into()),
            ..HttpConfig::default()
        };
        let problems = Http::new(&bad).unwrap_err();
        assert_eq!(
            keys(&problems),
            [
                "url",
                "method",
                "auth.type",
                "headers",
                "headers",
                "secret",
                "body",
                "contenttype"
            ],
            "{problems:?}"
        );
        let body = problems.iter().find(|p| p.key == "body").unwrap();
        assert!(body.message.contains("nosuchfield"), "{body:?}");
    }

    #[test]
    fn auth_kinds_follow_type_or_what_is_set() {
        let auth = |kind: Option<&str>,
                    user: Option<&str>,
                    password: Option<&str>,
                    bearer: Option<&str>| {
            authorization(&HttpAuthConfig {
                kind: kind.map(Into::into),
                user: user.map(Into::into),
                password: password.map(Secret::new),
                bearer: bearer.map(Secret::new),
            })
        };
        // "Aladdin:open sesame", RFC 7617's example.
        let basic = auth(Some("BASIC"), Some("Aladdin"), Some("open sesame"), None)
            .unwrap()
            .unwrap();
        assert_eq!(basic, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        assert!(basic.is_sensitive());
        assert_eq!(
            auth(None, Some("Aladdin"), Some("open sesame"), None).unwrap(),
            Some(basic)
        );
        assert_eq!(
            auth(None, None, None, Some("tok")).unwrap().unwrap(),
            "Bearer tok"
        );
        assert_eq!(auth(None, None, None, None).unwrap(), None);

        let keys_of = webhook::problem_keys::<Option<HeaderValue>>;
        assert_eq!(
            keys_of(auth(Some("basic"), None, None, None)),
            ["auth.user"]
        );
        assert_eq!(
            keys_of(auth(Some("bearer"), None, None, None)),
            ["auth.bearer"]
        );
        assert_eq!(
            keys_of(auth(None, Some("u"), None, Some("t"))),
            ["auth.type"]
        );
        assert_eq!(
            keys_of(auth(Some("bearer"), Some("u"), None, Some("t"))),
            ["auth.user"]
        );
        assert_eq!(
            keys_of(auth(Some("basic"), Some("u"), None, Some("t"))),
            ["auth.bearer"]
        );
        assert_eq!(
            keys_of(auth(Some("basic"), Some("a:b"), None, None)),
            ["auth.user"]
        );
    }

    #[test]
    fn headers_split_on_semicolons_and_new_lines_and_values_stay_secret() {
        let headers =
            parse_headers("X-One: 1; X-Two:two words \n\r\nX-One: again;;  \nX-Api-Key: SECRET")
                .unwrap();
        let ones: Vec<_> = headers.get_all("x-one").iter().collect();
        assert_eq!(ones, ["1", "again"]);
        assert_eq!(headers["x-two"], "two words");
        assert!(headers["x-api-key"].is_sensitive());
        assert!(!format!("{headers:?}").contains("SECRET"));
        assert!(parse_headers("").unwrap().is_empty());
    }

    #[test]
    fn header_problems_name_the_entry_not_its_text() {
        let problems = parse_headers(
            "X-Ok: 1; no colon SECRET; bad name SECRET: v; X-Tidewatch-Event: x; content-type: a",
        )
        .unwrap_err();
        assert_eq!(
            problems,
            [
                "entry 2 is not `Name: value`",
                "entry 3: not a valid header name",
                "entry 4: x-tidewatch-event is set by tidewatch",
                "entry 5: content-type is set by tidewatch (contenttype sets it)",
            ]
        );
    }

    #[test]
    fn authorization_in_headers_and_in_auth_at_once_is_a_problem() {
        let both = HttpConfig {
            headers: Some(Secret::new("Authorization: Token x")),
            auth: HttpAuthConfig {
                bearer: Some(Secret::new("y")),
                ..HttpAuthConfig::default()
            },
            ..config("http://127.0.0.1:9/")
        };
        assert_eq!(keys(&Http::new(&both).unwrap_err()), ["headers"]);
        // Alone, it is the user's to set.
        let alone = HttpConfig {
            headers: Some(Secret::new("Authorization: Token x")),
            ..config("http://127.0.0.1:9/")
        };
        assert!(Http::new(&alone).is_ok());
    }

    #[test]
    fn the_signature_is_hmac_sha256_in_hex() {
        // RFC 4231, test case 2.
        let signer = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        assert_eq!(
            sign(signer, b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn the_default_body_is_the_values_with_title_and_body() {
        let http = Http::new(&config("http://127.0.0.1:9/")).unwrap();
        let sent: Value = serde_json::from_slice(&http.render(&message()).unwrap()).unwrap();
        assert_eq!(sent["title"], "Update available: web");
        assert_eq!(sent["body"], "1.25.3 -> 1.25.4");
        assert_eq!(sent["event"], "update-available");
        assert_eq!(sent["name"], "web");
        assert_eq!(sent["new_tag"], "1.25.4");
    }

    #[test]
    fn a_body_template_renders_unescaped_with_the_json_helper() {
        let http = Http::new(&HttpConfig {
            body: Some(Secret::new(
                r#"{"text": {{json title}}, "raw": "<{{name}}> & {{to}}"}"#,
            )),
            ..config("http://127.0.0.1:9/")
        })
        .unwrap();
        assert_eq!(http.content_type, TEXT);
        let mut m = message();
        m.title = "say \"hi\"".into();
        let sent = String::from_utf8(http.render(&m).unwrap()).unwrap();
        assert_eq!(sent, r#"{"text": "say \"hi\"", "raw": "<web> & 1.25.4"}"#);
    }

    #[test]
    fn in_batch_mode_the_body_template_must_suit_both_shapes() {
        let simple_only = "{{display_name}} {{from}}";
        assert!(compile_body(simple_only, Mode::Simple).is_ok());
        let err = compile_body(simple_only, Mode::Batch).unwrap_err();
        assert!(err.contains("display_name"), "{err}");
        let both =
            "{{title}}{{#if updates}}{{#each updates}} {{name}}{{/each}}{{else}} {{name}}{{/if}}";
        assert!(compile_body(both, Mode::Batch).is_ok());
    }

    fn with_format(format: HttpFormat) -> Http {
        Http::new(&HttpConfig {
            format,
            ..config("http://127.0.0.1:9/")
        })
        .unwrap()
    }

    fn sent(http: &Http, message: &Message) -> Value {
        serde_json::from_slice(&http.render(message).unwrap()).unwrap()
    }

    fn rendered(data: template::Data) -> Message {
        Message {
            title: "t".into(),
            body: "b".into(),
            data: data.values,
            updates: data.updates,
        }
    }

    #[test]
    fn the_wud_format_is_wuds_container_and_an_array_for_a_batch() {
        let http = with_format(HttpFormat::Wud);
        let candidate = template::sample_candidate();
        let one = sent(
            &http,
            &rendered(template::simple_data(Notice::Available(&candidate))),
        );
        assert_eq!(one["name"], "web");
        assert_eq!(one["updateAvailable"], true);
        assert_eq!(one["updateKind"]["remoteValue"], "1.25.4");
        assert_eq!(one["result"]["tag"], "1.25.4");
        assert_eq!(one.get("title"), None, "WUD's shape only");
        let mut db = template::sample_candidate();
        db.container.name = "db".into();
        let both = sent(
            &http,
            &rendered(template::batch_data("local", &[candidate, db], None)),
        );
        let names: Vec<&str> = both
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["web", "db"]);
    }

    #[test]
    fn the_diun_format_is_diuns_message_in_simple_mode_only() {
        let http = with_format(HttpFormat::Diun);
        let candidate = template::sample_candidate();
        let one = sent(
            &http,
            &rendered(template::simple_data(Notice::Available(&candidate))),
        );
        assert_eq!(one["status"], "new");
        assert_eq!(one["image"], "docker.io/library/nginx:1.25.4");
        assert_eq!(one["metadata"]["ctn_names"], "web");
        let batch = HttpConfig {
            format: HttpFormat::Diun,
            mode: Mode::Batch,
            ..config("http://127.0.0.1:9/")
        };
        assert_eq!(keys(&Http::new(&batch).unwrap_err()), ["format"]);
    }

    #[test]
    fn a_body_template_goes_with_tidewatchs_format_and_a_body_method() {
        let both = HttpConfig {
            format: HttpFormat::Wud,
            method: Some("get".into()),
            body: Some(Secret::new("{{name}}")),
            ..config("http://127.0.0.1:9/")
        };
        assert_eq!(keys(&Http::new(&both).unwrap_err()), ["format", "method"]);
    }

    #[test]
    fn get_carries_the_fields_in_the_query_as_axios_writes_them() {
        let mut pairs = Vec::new();
        query_pairs(
            &json!([{"name": "web", "image": {"tag": {"value": "1.2", "semver": true}}, "error": null}]),
            String::new(),
            &mut pairs,
        );
        let pairs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("0[image][tag][semver]", "true"),
                ("0[image][tag][value]", "1.2"),
                ("0[name]", "web"),
            ]
        );
        let get = Http::new(&HttpConfig {
            method: Some("GET".into()),
            format: HttpFormat::Wud,
            ..config("http://127.0.0.1:9/")
        })
        .unwrap();
        assert!(get.query_instead_of_body());
        let diun = Http::new(&HttpConfig {
            method: Some("GET".into()),
            format: HttpFormat::Diun,
            ..config("http://127.0.0.1:9/")
        })
        .unwrap();
        assert!(!diun.query_instead_of_body(), "Diun's GET has a JSON body");
    }

    #[test]
    fn a_proxy_must_be_an_http_url_and_is_never_quoted() {
        let bad = HttpConfig {
            proxy: Some(Secret::new("socks9://SECRETP@x")),
            ..config("http://127.0.0.1:9/")
        };
        let problems = Http::new(&bad).unwrap_err();
        assert_eq!(keys(&problems), ["proxy"]);
        assert!(!format!("{problems:?}").contains("SECRETP"));
        let good = HttpConfig {
            proxy: Some(Secret::new("http://user:SECRETP@127.0.0.1:3128")),
            ..config("http://127.0.0.1:9/")
        };
        let http = Http::new(&good).unwrap();
        assert!(!format!("{http:?}").contains("SECRETP"));
    }

    #[tokio::test]
    async fn a_proxy_that_cannot_be_reached_is_transient_and_never_quoted() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let http = Http::new(&HttpConfig {
            proxy: Some(Secret::new(format!("http://u:SECRETP@127.0.0.1:{port}"))),
            ..config("http://127.0.0.1:9/SECRETU")
        })
        .unwrap();
        let err = http.send(&message()).await.unwrap_err();
        assert!(matches!(err, TriggerError::Transient(_)), "{err:?}");
        assert!(!err.to_string().contains("SECRET"), "{err}");
    }

    #[test]
    fn debug_output_shows_no_secret() {
        let http = Http::new(&HttpConfig {
            headers: Some(Secret::new("X-Key: SECRETH")),
            secret: Some(Secret::new("SECRETK")),
            auth: HttpAuthConfig {
                bearer: Some(Secret::new("SECRETB")),
                ..HttpAuthConfig::default()
            },
            ..config("http://127.0.0.1:9/SECRETU")
        })
        .unwrap();
        let shown = format!("{http:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
    }
}
