//! The `telegram` trigger: a message from a bot (the Bot API's `sendMessage`).
//!
//! ```sh
//! TIDEWATCH_TRIGGER_TELEGRAM_OPS_BOTTOKEN__FILE=/run/secrets/telegram_bot_token
//! TIDEWATCH_TRIGGER_TELEGRAM_OPS_CHATID=-1001234567890
//! # Optional: a topic of a forum group
//! TIDEWATCH_TRIGGER_TELEGRAM_OPS_MESSAGETHREADID=42
//! ```
//!
//! `bottoken` is the token @BotFather gives (`123456:ABC…`), a secret never logged; the bot must
//! be a member of the chat. `chatid` is a numeric chat ID (`-100…` for groups and channels) or
//! `@channelusername`; `messagethreadid` posts in a forum topic. `api` replaces
//! `https://api.telegram.org` for a local Bot API server.
//!
//! The message is the title in bold, a blank line, then the body. The templates write plain
//! text: tidewatch sends it in Telegram's HTML mode with every `<`, `>` and `&` escaped, and adds
//! only the bold itself, so no container name, tag or link can break the parsing (Telegram
//! refuses a whole message it cannot parse). Telegram makes links clickable by itself; their
//! previews are turned off. A message longer than Telegram's 4096 characters is cut at a line
//! end and marked `…` rather than split: one notification is one message, and a retry can never
//! send half of one twice.
//!
//! Telegram answers `{"ok": false, "error_code": …, "description": …}` when it refuses: a 429
//! (with its `retry_after`) or a 5xx is retried, anything else (`chat not found`, a bot blocked
//! or removed, a bad token) is not, and the error quotes Telegram's description. The token is
//! part of the URL path, so no error ever carries the URL.

use super::template::{Defaults, shipped};
use super::webhook::{self, Measure, Problems};
use super::{Message, Notifier, TriggerError};
use crate::config::{Secret, TelegramConfig};
use crate::trigger::BuildProblem;
use async_trait::async_trait;
use reqwest::{StatusCode, Url};
use serde_json::{Value, json};

pub const TEMPLATES: Defaults = shipped!("telegram");

const DEFAULT_API: &str = "https://api.telegram.org";

/// The longest message, in UTF-16 code units of the text as shown (after entities are parsed).
const TEXT_MAX: usize = 4096;
/// The title is cut first, so that a runaway title cannot crowd out the body.
const TITLE_MAX: usize = 256;

pub struct Telegram {
    client: reqwest::Client,
    /// `{api}/bot<token>/sendMessage`: a secret, like the token in it.
    endpoint: Url,
    /// The token, to keep it out of what a refusal quotes.
    token: Secret,
    chat: Value,
    thread: Option<i64>,
}

/// Never the token or the chat.
impl std::fmt::Debug for Telegram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telegram")
            .field("thread", &self.thread)
            .finish_non_exhaustive()
    }
}

impl Telegram {
    pub fn new(config: &TelegramConfig) -> Result<Self, Vec<BuildProblem>> {
        let mut problems = Problems::default();
        let token = problems.required("bottoken", config.bottoken.as_ref(), bot_token);
        let chat = problems.required("chatid", config.chatid.as_deref(), chat_id);
        if config.messagethreadid.is_some_and(|id| id <= 0) {
            problems.push(BuildProblem::new(
                "messagethreadid",
                "must be a positive number",
            ));
        }
        let base = problems.take(webhook::url(
            "api",
            &Secret::new(config.api.as_deref().unwrap_or(DEFAULT_API)),
        ));
        let client = problems.client(config.timeout);
        problems.finish(|| {
            let token = token?;
            Some(Telegram {
                client: client?,
                endpoint: endpoint(&base?, &token),
                token,
                chat: chat?,
                thread: config.messagethreadid,
            })
        })
    }
}

#[async_trait]
impl Notifier for Telegram {
    async fn send(&self, message: &Message) -> Result<(), TriggerError> {
        let what = "POST to Telegram's sendMessage";
        let body = payload(message, &self.chat, self.thread);
        let request = self.client.post(self.endpoint.clone()).json(&body);
        let reply = webhook::exchange(request, what).await?;
        api_result(what, reply.status, &reply.body, self.token.expose())
    }
}

/// `bottoken`, as @BotFather gives it: the bot's number, `:`, then the secret. Only these
/// characters, since it becomes part of a URL path.
fn bot_token(token: &Secret) -> Result<Secret, BuildProblem> {
    let token = token.expose().trim();
    let shaped = token.split_once(':').is_some_and(|(bot, secret)| {
        !bot.is_empty()
            && bot.bytes().all(|b| b.is_ascii_digit())
            && !secret.is_empty()
            && secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    });
    if shaped {
        Ok(Secret::new(token))
    } else {
        Err(BuildProblem::new(
            "bottoken",
            "not a bot token (digits, `:`, then letters, digits, `_` and `-`, as @BotFather gives it)",
        ))
    }
}

/// `chatid`: a number (sent as one), or `@channelusername`.
fn chat_id(text: &str) -> Result<Value, BuildProblem> {
    let text = text.trim();
    if let Ok(id) = text.parse::<i64>() {
        return Ok(json!(id));
    }
    let username = text.strip_prefix('@').is_some_and(|name| {
        name.len() >= 4 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    });
    if username {
        Ok(json!(text))
    } else {
        Err(BuildProblem::new(
            "chatid",
            "must be a numeric chat ID (-100… for a group or channel) or @channelusername",
        ))
    }
}

/// `{api}/bot<token>/sendMessage`. `base` is a valid URL and the token only holds characters a
/// path may, so the result is always valid.
fn endpoint(base: &Url, token: &Secret) -> Url {
    let mut url = base.clone();
    let path = format!(
        "{}/bot{}/sendMessage",
        base.path().trim_end_matches('/'),
        token.expose()
    );
    url.set_path(&path);
    url
}

/// The JSON sent: the text in HTML mode, no link previews, and the forum topic when set.
pub fn payload(message: &Message, chat: &Value, thread: Option<i64>) -> Value {
    let mut payload = json!({
        "chat_id": chat,
        "text": text(message),
        "parse_mode": "HTML",
        // The Bot API's current form, and the older one that local Bot API servers before
        // 7.0 read; Telegram reads the first when both are given.
        "link_preview_options": { "is_disabled": true },
        "disable_web_page_preview": true,
    });
    if let Some(thread) = thread {
        payload["message_thread_id"] = json!(thread);
    }
    payload
}

/// `<b>title</b>`, a blank line, the body: escaped for HTML mode, within [`TEXT_MAX`] as
/// Telegram counts it (the shown text, in UTF-16 units).
fn text(message: &Message) -> String {
    let title = webhook::shorten(message.title.trim(), TITLE_MAX, Measure::Utf16);
    let body = message.body.trim();
    if title.is_empty() {
        return escape(&webhook::shorten(body, TEXT_MAX, Measure::Utf16));
    }
    if body.is_empty() {
        return format!("<b>{}</b>", escape(&title));
    }
    let room = TEXT_MAX - Measure::Utf16.len(&title) - 2;
    let body = webhook::shorten(body, room, Measure::Utf16);
    format!("<b>{}</b>\n\n{}", escape(&title), escape(&body))
}

/// The three characters Telegram's HTML mode wants as entities.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// What the Bot API's answer means: `{"ok": true, …}` is delivered; `{"ok": false,
/// "error_code": n, "description": …}` is transient for a 429 or 5xx, else permanent.
fn api_result(
    what: &str,
    status: StatusCode,
    body: &[u8],
    token: &str,
) -> Result<(), TriggerError> {
    let answer: Option<Value> = serde_json::from_slice(body).ok();
    let ok = answer.as_ref().and_then(|a| a["ok"].as_bool());
    let answer = match (ok, answer) {
        (Some(true), _) if status.is_success() => return Ok(()),
        (Some(_), Some(answer)) => answer,
        // Not the Bot API's answer (a proxy's page, say): the status tells what it can.
        _ if !status.is_success() => return webhook::check(what, status, None),
        // A 2xx that is not Telegram's: the message may have gone, so it is not sent again.
        _ => {
            return Err(TriggerError::Permanent(format!(
                "{what} failed: the answer is not Telegram's"
            )));
        }
    };
    let code = answer["error_code"]
        .as_u64()
        .and_then(|c| u16::try_from(c).ok())
        .and_then(|c| StatusCode::from_u16(c).ok())
        .unwrap_or(status);
    let secret = token.split_once(':').map_or(token, |(_, secret)| secret);
    let description = answer["description"]
        .as_str()
        .and_then(|d| webhook::error_text(d, &[token, secret]));
    let mut text = match description {
        Some(description) => format!("{what} failed: {} {description}", code.as_u16()),
        None => format!("{what} failed: {code}"),
    };
    let parameters = &answer["parameters"];
    if let Some(seconds) = parameters["retry_after"].as_u64() {
        text.push_str(&format!(" (retry after {seconds} s)"));
    } else if let Some(chat) = parameters["migrate_to_chat_id"].as_i64() {
        text.push_str(&format!(
            " (the group is now a supergroup: set chatid to {chat})"
        ));
    } else if matches!(code.as_u16(), 401 | 404) {
        text.push_str(" (check bottoken)");
    }
    match webhook::classify(code) {
        webhook::Class::Transient => Err(TriggerError::Transient(text)),
        _ => Err(TriggerError::Permanent(text)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CommonConfig;
    use crate::notify::Templates;
    use crate::notify::template::{self, Notice};

    const TOKEN: &str = "123456:SECRET-abc_DEF";
    const WHAT: &str = "POST to Telegram's sendMessage";

    fn config() -> TelegramConfig {
        TelegramConfig {
            bottoken: Some(Secret::new(TOKEN)),
            chatid: Some("-1001234567890".into()),
            ..TelegramConfig::default()
        }
    }

    fn keys(config: TelegramConfig) -> Vec<String> {
        webhook::problem_keys(Telegram::new(&config))
    }

    fn message(title: &str, body: &str) -> Message {
        Message {
            title: title.into(),
            body: body.into(),
            data: json!({ "event": "update-available" }),
            updates: Vec::new(),
        }
    }

    fn result(status: u16, answer: Value) -> Result<(), TriggerError> {
        let body = answer.to_string();
        api_result(
            WHAT,
            StatusCode::from_u16(status).unwrap(),
            body.as_bytes(),
            TOKEN,
        )
    }

    #[test]
    fn every_problem_is_reported_by_key_and_never_quotes_the_token() {
        assert_eq!(keys(TelegramConfig::default()), ["bottoken", "chatid"]);
        let problems = Telegram::new(&TelegramConfig {
            bottoken: Some(Secret::new("SECRET without a colon")),
            chatid: Some("my group".into()),
            messagethreadid: Some(0),
            api: Some("api.example.com".into()),
            ..TelegramConfig::default()
        })
        .unwrap_err();
        let found: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(found, ["bottoken", "chatid", "messagethreadid", "api"]);
        assert!(problems.iter().all(|p| !p.message.contains("SECRET")));
        let telegram = Telegram::new(&config()).unwrap();
        assert!(!format!("{telegram:?}").contains("SECRET"));
        assert!(!format!("{telegram:?}").contains("100123"));
    }

    #[test]
    fn tokens_are_shaped_as_botfather_gives_them() {
        assert!(bot_token(&Secret::new(TOKEN)).is_ok());
        assert_eq!(bot_token(&Secret::new(" 1:a \n")).unwrap().expose(), "1:a");
        for bad in [
            "", "123456", ":abc", "12a:abc", "1:", "1:a/b", "1:a?b", "1:a b",
        ] {
            assert!(bot_token(&Secret::new(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn chat_ids_are_numbers_or_channel_usernames() {
        assert_eq!(
            chat_id("-1001234567890").unwrap(),
            json!(-1001234567890_i64)
        );
        assert_eq!(chat_id(" 42 ").unwrap(), json!(42));
        assert_eq!(chat_id("@my_channel").unwrap(), json!("@my_channel"));
        for bad in ["", "@abc", "my_channel", "@my channel", "12.5"] {
            assert!(chat_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_endpoint_is_send_message_under_the_bot_path() {
        let token = Secret::new(TOKEN);
        let at = |api: &str| endpoint(&Url::parse(api).unwrap(), &token).to_string();
        assert_eq!(
            at(DEFAULT_API),
            format!("https://api.telegram.org/bot{TOKEN}/sendMessage")
        );
        assert_eq!(
            at("http://127.0.0.1:8081/tg/"),
            format!("http://127.0.0.1:8081/tg/bot{TOKEN}/sendMessage")
        );
    }

    #[test]
    fn the_text_is_an_escaped_bold_title_and_body() {
        let sent = payload(
            &message(
                "Update <b>available</b>: a&b",
                "x < y > z & w\nhttps://e.com/?a=1&b=2",
            ),
            &json!(-100),
            None,
        );
        assert_eq!(
            sent,
            json!({
                "chat_id": -100,
                "text": "<b>Update &lt;b&gt;available&lt;/b&gt;: a&amp;b</b>\n\n\
                         x &lt; y &gt; z &amp; w\nhttps://e.com/?a=1&amp;b=2",
                "parse_mode": "HTML",
                "link_preview_options": { "is_disabled": true },
                "disable_web_page_preview": true,
            })
        );
        let threaded = payload(&message("t", "b"), &json!("@chan"), Some(7));
        assert_eq!(threaded["message_thread_id"], 7);
        assert_eq!(threaded["chat_id"], "@chan");
        assert_eq!(text(&message("", "only <body>")), "only &lt;body&gt;");
        assert_eq!(text(&message("only title", "  ")), "<b>only title</b>");
    }

    #[test]
    fn the_shipped_templates_give_a_readable_message() {
        let templates = Templates::new(TEMPLATES, &CommonConfig::default()).unwrap();
        let simple = templates
            .simple(template::simple_data(Notice::Available(
                &template::sample_candidate(),
            )))
            .unwrap();
        assert_eq!(
            text(&simple),
            "<b>Update available: web 1.25.3 → 1.25.4</b>\n\n\
             web on local: 1.25.3 → 1.25.4 (patch)\n\
             Image: nginx:1.25.3\n\
             Release notes: https://example.com/releases/1.25.4"
        );
    }

    #[test]
    fn long_messages_are_cut_to_4096_utf16_units_at_a_line_end() {
        // Each line: 1 rocket (2 units) + 97 characters + a new line = 100 units.
        let line = format!("🚀{}\n", "x".repeat(97));
        let body = line.repeat(60);
        let sent = text(&message("Title & more", &body));
        let shown = sent
            .replace("<b>", "")
            .replace("</b>", "")
            .replace("&amp;", "&");
        assert!(
            Measure::Utf16.len(&shown) <= TEXT_MAX,
            "{}",
            Measure::Utf16.len(&shown)
        );
        assert!(shown.ends_with("x\n…"), "cut at a line end");
        assert!(shown.starts_with("Title & more\n\n🚀"));
        // More than the character count alone would allow: the units are what count.
        assert!(shown.chars().count() < TEXT_MAX - 40);
    }

    #[test]
    fn answers_are_ok_or_refusals_some_of_which_are_transient() {
        assert_eq!(result(200, json!({ "ok": true, "result": {} })), Ok(()));
        assert_eq!(
            result(
                400,
                json!({ "ok": false, "error_code": 400,
                        "description": "Bad Request: chat not found" })
            ),
            Err(TriggerError::Permanent(format!(
                "{WHAT} failed: 400 Bad Request: chat not found"
            )))
        );
        assert_eq!(
            result(
                429,
                json!({ "ok": false, "error_code": 429,
                        "description": "Too Many Requests: retry after 3",
                        "parameters": { "retry_after": 3 } })
            ),
            Err(TriggerError::Transient(format!(
                "{WHAT} failed: 429 Too Many Requests: retry after 3 (retry after 3 s)"
            )))
        );
        assert!(matches!(
            result(
                502,
                json!({ "ok": false, "error_code": 502, "description": "Bad Gateway" })
            ),
            Err(TriggerError::Transient(_))
        ));
        assert_eq!(
            result(
                400,
                json!({ "ok": false, "error_code": 400,
                        "description": "Bad Request: group chat was upgraded to a supergroup chat",
                        "parameters": { "migrate_to_chat_id": -1009876 } })
            ),
            Err(TriggerError::Permanent(format!(
                "{WHAT} failed: 400 Bad Request: group chat was upgraded to a supergroup chat \
                 (the group is now a supergroup: set chatid to -1009876)"
            )))
        );
        assert_eq!(
            result(
                401,
                json!({ "ok": false, "error_code": 401, "description": "Unauthorized" })
            ),
            Err(TriggerError::Permanent(format!(
                "{WHAT} failed: 401 Unauthorized (check bottoken)"
            )))
        );
        // A description echoing the token, whole or its secret part, is left out.
        for echo in [TOKEN, "SECRET-abc_DEF"] {
            let answer = json!({ "ok": false, "error_code": 403,
                                 "description": format!("Forbidden: {echo}") });
            let Err(TriggerError::Permanent(text)) = result(403, answer) else {
                panic!("permanent");
            };
            assert_eq!(text, format!("{WHAT} failed: 403 Forbidden"));
        }
        assert_eq!(
            api_result(WHAT, StatusCode::BAD_GATEWAY, b"<html>", TOKEN),
            Err(TriggerError::Transient(format!(
                "{WHAT} failed: 502 Bad Gateway"
            )))
        );
        assert!(matches!(
            api_result(WHAT, StatusCode::OK, b"<html>", TOKEN),
            Err(TriggerError::Permanent(e)) if e.contains("not Telegram's")
        ));
    }
}
