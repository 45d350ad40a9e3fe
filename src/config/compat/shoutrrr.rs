//! Watchtower's notification URLs (shoutrrr's format: `discord://token@id`,
//! `telegram://token@telegram?chats=@channel`, …) turned into tidewatch triggers, so a switched
//! Watchtower user keeps getting messages. shoutrrr's documentation of each service is the spec
//! of its URL. The URL at position N (from 1) becomes the trigger `<kind>.watchtowerN`, sending
//! one message per check cycle as Watchtower does per session; a setting made the tidewatch way
//! for that trigger (`TIDEWATCH_TRIGGER_DISCORD_WATCHTOWER1_…`) wins over the URL's.
//!
//! A URL carries credentials: no message here ever quotes one, only the variable and the
//! service.

use super::{Setting, json_literal, literal};
use crate::config::error::ConfigError;
use figment::value::Value;
use reqwest::Url;

mod hooks;

/// The services this maps, for the error about any other.
const SERVICES: &str = "smtp, slack, teams, discord, telegram, gotify, ntfy, pushover, matrix, mattermost, rocketchat, googlechat, ifttt, generic, generic+http, generic+https";

/// Splits a `WATCHTOWER_NOTIFICATION_URL` value into URLs: separated by white space, or by
/// commas where a comma is followed by a new `scheme://` (a comma inside a URL, as in
/// `chats=@a,@b`, stays).
pub fn split_urls(value: &str) -> Vec<String> {
    let mut urls: Vec<String> = Vec::new();
    for word in value.split_whitespace() {
        for (i, part) in word.split(',').enumerate() {
            if part.is_empty() {
                continue;
            }
            let starts_url = part
                .split_once("://")
                .is_some_and(|(scheme, _)| is_scheme(scheme));
            match urls.last_mut() {
                Some(last) if i > 0 && !starts_url => {
                    last.push(',');
                    last.push_str(part);
                }
                _ => urls.push(part.to_string()),
            }
        }
    }
    urls
}

fn is_scheme(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.')
}

/// `%40` → `@`: URL parts hold percent-encoded user names, passwords and tokens.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((high * 16 + low) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What one URL maps to: the settings of its trigger(s), and the query parameters it ignored.
struct Mapped {
    settings: Vec<(String, String, &'static str, Value)>,
    ignored: Vec<String>,
}

impl Mapped {
    fn new() -> Mapped {
        Mapped {
            settings: Vec::new(),
            ignored: Vec::new(),
        }
    }

    fn set(&mut self, kind: &str, name: &str, key: &'static str, value: impl Into<Value>) {
        self.settings
            .push((kind.to_string(), name.to_string(), key, value.into()));
    }
}

/// The settings the URLs make. `urls` are (origin, URL); `index` numbers them across every
/// source so trigger names stay unique.
pub fn map(
    urls: &[(String, String)],
    errors: &mut Vec<ConfigError>,
    warnings: &mut Vec<String>,
) -> Vec<Setting> {
    let mut settings = Vec::new();
    for (index, (origin, raw)) in urls.iter().enumerate() {
        let name = format!("watchtower{}", index + 1);
        let url = match Url::parse(raw.trim()) {
            Ok(url) => url,
            Err(err) => {
                errors.push(ConfigError::new(
                    origin,
                    format!("notification URL {}: not a URL ({err})", index + 1),
                ));
                continue;
            }
        };
        let scheme = url.scheme().to_string();
        let mapped = match scheme.as_str() {
            "smtp" => smtp(&url, &name),
            "slack" => slack(&url, &name),
            "teams" => teams(&url, &name),
            "discord" => discord(&url, &name),
            "telegram" => telegram(&url, &name),
            "gotify" => gotify(&url, &name),
            "ntfy" => ntfy(&url, &name),
            "generic" | "generic+http" | "generic+https" => generic(&url, &name),
            "pushover" => pushover(&url, &name),
            "matrix" => matrix(&url, &name),
            "mattermost" => hooks::mattermost(&url, &name),
            "rocketchat" => hooks::rocketchat(&url, &name),
            "googlechat" | "hangouts" => hooks::googlechat(&url, &name),
            "ifttt" => hooks::ifttt(&url, &name),
            _ => Err(format!(
                "unknown notification service `{scheme}`, expected one of: {SERVICES}"
            )),
        };
        let mapped = match mapped {
            Ok(mapped) => mapped,
            Err(message) => {
                errors.push(ConfigError::new(
                    origin,
                    format!("notification URL {} ({scheme}): {message}", index + 1),
                ));
                continue;
            }
        };
        if !mapped.ignored.is_empty() {
            warnings.push(format!(
                "{origin}: notification URL {} ({scheme}): ignored, no equivalent here: {}",
                index + 1,
                mapped.ignored.join(", ")
            ));
        }
        let mut kinds: Vec<(String, String)> = Vec::new();
        for (kind, name, key, value) in mapped.settings {
            let path: Vec<&str> = std::iter::once("trigger")
                .chain([kind.as_str(), name.as_str()])
                .chain(key.split('.'))
                .collect();
            settings.push(Setting::new(origin.clone(), &path, value));
            if !kinds.contains(&(kind.clone(), name.clone())) {
                kinds.push((kind, name));
            }
        }
        // Watchtower sends one message per session: here, one per check cycle.
        for (kind, name) in kinds {
            settings.push(Setting::new(
                origin.clone(),
                &["trigger", &kind, &name, "mode"],
                "batch",
            ));
        }
    }
    settings
}

/// The query parameters, lowercased names, decoded values.
fn query(url: &Url) -> Vec<(String, String)> {
    url.query_pairs()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.into_owned()))
        .collect()
}

fn yes(value: &str) -> bool {
    matches!(
        value.to_ascii_lowercase().as_str(),
        "yes" | "true" | "1" | "on"
    )
}

fn path_segments(url: &Url) -> Vec<String> {
    url.path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(decode)
        .collect()
}

fn host_port(url: &Url) -> Option<String> {
    let host = url.host_str().filter(|h| !h.is_empty())?;
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    })
}

/// `smtp://user:password@host:port/?from=a@b&to=c@d,e@f&encryption=Auto&usestarttls=yes`
fn smtp(url: &Url, name: &str) -> Result<Mapped, String> {
    let mut m = Mapped::new();
    let host = url.host_str().filter(|h| !h.is_empty()).ok_or("no host")?;
    m.set("smtp", name, "host", host);
    let port = url.port().unwrap_or(25);
    m.set("smtp", name, "port", port);
    if !url.username().is_empty() {
        m.set("smtp", name, "user", decode(url.username()));
    }
    if let Some(password) = url.password() {
        m.set("smtp", name, "pass", decode(password));
    }
    let (mut from, mut fromname, mut to) = (None, None, None);
    let mut encryption = "auto".to_string();
    for (key, value) in query(url) {
        match key.as_str() {
            "from" | "fromaddress" => from = Some(value),
            "fromname" => fromname = Some(value),
            "to" | "toaddresses" => to = Some(value),
            "encryption" => encryption = value.to_ascii_lowercase(),
            "usestarttls" => m.set("smtp", name, "tls.starttls", yes(&value)),
            "subject" | "title" => {
                m.set("smtp", name, "batchtitle", literal(&value));
                m.set("smtp", name, "simpletitle", literal(&value));
            }
            "auth" | "clienthost" | "usehtml" => {
                if key != "auth" || value.eq_ignore_ascii_case("none") {
                    m.ignored.push(key);
                }
            }
            _ => m.ignored.push(key),
        }
    }
    let from = from.ok_or("the `from` parameter is missing")?;
    let to = to.ok_or("the `to` parameter is missing")?;
    m.set(
        "smtp",
        name,
        "from",
        match fromname {
            Some(display) => format!("{display} <{from}>"),
            None => from,
        },
    );
    m.set("smtp", name, "to", to);
    match encryption.as_str() {
        "implicittls" => m.set("smtp", name, "tls.enabled", true),
        "auto" => m.set("smtp", name, "tls.enabled", port == 465),
        "explicittls" => m.set("smtp", name, "tls.enabled", false),
        "none" => {
            m.set("smtp", name, "tls.enabled", false);
            m.set("smtp", name, "tls.starttls", false);
        }
        _ => return Err("`encryption` is one of None, ExplicitTLS, ImplicitTLS, Auto".into()),
    }
    Ok(m)
}

/// `slack://hook:AAA-BBB-CCC@webhook` (or the older `slack://AAA/BBB/CCC`) for a webhook,
/// `slack://xoxb:123-456-abc@C0123CHANNEL` for a bot token.
fn slack(url: &Url, name: &str) -> Result<Mapped, String> {
    let mut m = Mapped::new();
    let user = decode(url.username());
    let password = url.password().map(decode);
    let host = url.host_str().unwrap_or_default().to_string();
    match (user.as_str(), password) {
        ("hook", Some(token)) => {
            let parts: Vec<&str> = token.split(['-', '/']).collect();
            if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
                return Err("a webhook token has three parts, AAA-BBB-CCC".into());
            }
            m.set(
                "slack",
                name,
                "url",
                format!("https://hooks.slack.com/services/{}", parts.join("/")),
            );
        }
        (kind @ ("xoxb" | "xoxp"), Some(token)) => {
            m.set("slack", name, "token", format!("{kind}-{token}"));
            if host.is_empty() {
                return Err("the channel is missing".into());
            }
            m.set("slack", name, "channel", host);
        }
        _ => {
            // The older form: slack://[botname@]AAA/BBB/CCC
            let mut parts = vec![host];
            parts.extend(path_segments(url));
            if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
                return Err(
                    "expected slack://hook:TOKEN@webhook or slack://xoxb:TOKEN@CHANNEL".into(),
                );
            }
            m.set(
                "slack",
                name,
                "url",
                format!("https://hooks.slack.com/services/{}", parts.join("/")),
            );
        }
    }
    for (key, value) in query(url) {
        match key.as_str() {
            "channel" => m.set("slack", name, "channel", value),
            "title" => {
                m.set("slack", name, "batchtitle", literal(&value));
                m.set("slack", name, "simpletitle", literal(&value));
            }
            _ => m.ignored.push(key),
        }
    }
    Ok(m)
}

/// `teams://group@tenant/altId/groupOwner[/extraId]?host=example.webhook.office.com`: the
/// parts of the connector's webhook URL.
fn teams(url: &Url, name: &str) -> Result<Mapped, String> {
    let mut m = Mapped::new();
    let group = decode(url.username());
    let tenant = url.host_str().unwrap_or_default().to_string();
    let path = path_segments(url);
    if group.is_empty() || tenant.is_empty() || !(2..=3).contains(&path.len()) {
        return Err("expected teams://group@tenant/altId/groupOwner?host=…".into());
    }
    let mut host = "outlook.office.com".to_string();
    for (key, value) in query(url) {
        match key.as_str() {
            "host" => host = value,
            "title" => {
                m.set("teams", name, "batchtitle", literal(&value));
                m.set("teams", name, "simpletitle", literal(&value));
            }
            _ => m.ignored.push(key),
        }
    }
    let mut webhook = format!(
        "https://{host}/webhookb2/{group}@{tenant}/IncomingWebhook/{}/{}",
        path[0], path[1]
    );
    if let Some(extra) = path.get(2) {
        webhook.push('/');
        webhook.push_str(extra);
    }
    m.set("teams", name, "url", webhook);
    // shoutrrr posts the legacy connector card.
    m.set("teams", name, "card", "messagecard");
    Ok(m)
}

/// `discord://token@id?username=…&color=…`
fn discord(url: &Url, name: &str) -> Result<Mapped, String> {
    let mut m = Mapped::new();
    let token = decode(url.username());
    let id = url.host_str().unwrap_or_default();
    if token.is_empty() || id.is_empty() {
        return Err("expected discord://token@webhookid".into());
    }
    m.set(
        "discord",
        name,
        "url",
        format!("https://discord.com/api/webhooks/{id}/{token}"),
    );
    for (key, value) in query(url) {
        match key.as_str() {
            "username" => m.set("discord", name, "botusername", value),
            "color" => {
                let color = match value.strip_prefix("0x") {
                    Some(hex) => format!("#{hex}"),
                    None => value,
                };
                m.set("discord", name, "cardcolor", color);
            }
            "title" => {
                m.set("discord", name, "batchtitle", literal(&value));
                m.set("discord", name, "simpletitle", literal(&value));
            }
            _ => m.ignored.push(key),
        }
    }
    Ok(m)
}

/// `telegram://123456:ABC-token@telegram?chats=@channel,-100123`: one trigger per chat
/// (`watchtowerN`, or `watchtowerNchatK` for several).
fn telegram(url: &Url, name: &str) -> Result<Mapped, String> {
    let mut m = Mapped::new();
    let token = match url.password() {
        Some(secret) => format!("{}:{}", decode(url.username()), decode(secret)),
        None => decode(url.username()),
    };
    if token.is_empty() {
        return Err("expected telegram://TOKEN@telegram?chats=…".into());
    }
    let mut chats: Vec<String> = Vec::new();
    let mut title = None;
    for (key, value) in query(url) {
        match key.as_str() {
            "chats" | "channels" => chats.extend(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_string),
            ),
            "title" => title = Some(value),
            _ => m.ignored.push(key),
        }
    }
    if chats.is_empty() {
        return Err("the `chats` parameter is missing".into());
    }
    let several = chats.len() > 1;
    for (k, chat) in chats.iter().enumerate() {
        let name = match several {
            true => format!("{name}chat{}", k + 1),
            false => name.to_string(),
        };
        m.set("telegram", &name, "bottoken", token.clone());
        // `-100123:45`: a chat and a forum topic in it, as shoutrrr writes them.
        match chat.split_once(':') {
            Some((chat, thread)) => {
                let thread: u64 = thread.parse().map_err(|_| {
                    format!("chat {chat}: the topic after `:` must be a message thread number")
                })?;
                m.set("telegram", &name, "chatid", chat.to_string());
                m.set("telegram", &name, "messagethreadid", thread);
            }
            None => m.set("telegram", &name, "chatid", chat.clone()),
        }
        if let Some(title) = &title {
            m.set("telegram", &name, "batchtitle", literal(title));
            m.set("telegram", &name, "simpletitle", literal(title));
        }
    }
    Ok(m)
}

/// `gotify://host[:port][/path]/token?priority=N&disabletls=yes`
fn gotify(url: &Url, name: &str) -> Result<Mapped, String> {
    let mut m = Mapped::new();
    let host = host_port(url).ok_or("no host")?;
    let mut path = path_segments(url);
    let token = path.pop().ok_or("the token is missing")?;
    let mut scheme = "https";
    for (key, value) in query(url) {
        match key.as_str() {
            "disabletls" => {
                if yes(&value) {
                    scheme = "http";
                }
            }
            "priority" => match value.trim().parse::<u8>() {
                Ok(p) => m.set("gotify", name, "priority", p),
                Err(_) => return Err("`priority` is a number".into()),
            },
            "title" => {
                m.set("gotify", name, "batchtitle", literal(&value));
                m.set("gotify", name, "simpletitle", literal(&value));
            }
            _ => m.ignored.push(key),
        }
    }
    let mut base = format!("{scheme}://{host}");
    for segment in path {
        base.push('/');
        base.push_str(&segment);
    }
    m.set("gotify", name, "url", base);
    m.set("gotify", name, "token", token);
    Ok(m)
}

/// `pushover://shoutrrr:APP_TOKEN@USER_KEY/?devices=a,b&priority=1`
fn pushover(url: &Url, name: &str) -> Result<Mapped, String> {
    let mut m = Mapped::new();
    let token = url.password().map(decode).unwrap_or_default();
    let user = url.host_str().unwrap_or_default();
    if token.is_empty() || user.is_empty() {
        return Err("expected pushover://shoutrrr:TOKEN@USERKEY".into());
    }
    m.set("pushover", name, "token", token);
    m.set("pushover", name, "user", user);
    for (key, value) in query(url) {
        match key.as_str() {
            "devices" | "device" => m.set("pushover", name, "device", value),
            "priority" => match value.trim().parse::<i8>() {
                Ok(p) => m.set("pushover", name, "priority", p),
                Err(_) => return Err("`priority` is a number".into()),
            },
            "title" => {
                m.set("pushover", name, "batchtitle", literal(&value));
                m.set("pushover", name, "simpletitle", literal(&value));
            }
            _ => m.ignored.push(key),
        }
    }
    Ok(m)
}

/// `matrix://user:password@host[:port]/?rooms=!id,alias&disabletls=yes`; with no user, the
/// password is an access token. A room without `!` or `#` is an alias.
fn matrix(url: &Url, name: &str) -> Result<Mapped, String> {
    let mut m = Mapped::new();
    let host = host_port(url).ok_or("no host")?;
    let mut scheme = "https";
    for (key, value) in query(url) {
        match key.as_str() {
            "rooms" | "room" => {
                let rooms: Vec<String> = value
                    .split(',')
                    .map(str::trim)
                    .filter(|r| !r.is_empty())
                    .map(|r| match r.starts_with(['!', '#']) {
                        true => r.to_string(),
                        false => format!("#{r}"),
                    })
                    .collect();
                m.set("matrix", name, "rooms", rooms.join(","));
            }
            "disabletls" => {
                if yes(&value) {
                    scheme = "http";
                }
            }
            "title" => {
                m.set("matrix", name, "batchtitle", literal(&value));
                m.set("matrix", name, "simpletitle", literal(&value));
            }
            _ => m.ignored.push(key),
        }
    }
    m.set("matrix", name, "url", format!("{scheme}://{host}"));
    let user = decode(url.username());
    match (user.is_empty(), url.password().map(decode)) {
        (false, Some(password)) => {
            m.set("matrix", name, "user", user);
            m.set("matrix", name, "password", password);
        }
        (true, Some(token)) => m.set("matrix", name, "token", token),
        _ => return Err("expected matrix://user:password@host or matrix://:token@host".into()),
    }
    Ok(m)
}

/// `ntfy://[user:password@]host/topic?scheme=https&priority=high`
fn ntfy(url: &Url, name: &str) -> Result<Mapped, String> {
    let mut m = Mapped::new();
    let host = host_port(url).unwrap_or_else(|| "ntfy.sh".into());
    let topic = path_segments(url).join("/");
    if topic.is_empty() {
        return Err("the topic is missing".into());
    }
    let mut scheme = "https".to_string();
    for (key, value) in query(url) {
        match key.as_str() {
            "scheme" => match value.to_ascii_lowercase().as_str() {
                s @ ("http" | "https") => scheme = s.to_string(),
                _ => return Err("`scheme` is http or https".into()),
            },
            "priority" => {
                let p = match value.to_ascii_lowercase().as_str() {
                    "min" | "1" => 1u8,
                    "low" | "2" => 2,
                    "default" | "3" => 3,
                    "high" | "4" => 4,
                    "max" | "urgent" | "5" => 5,
                    _ => return Err("`priority` is min, low, default, high, max or 1 to 5".into()),
                };
                m.set("ntfy", name, "priority", p);
            }
            "title" => {
                m.set("ntfy", name, "batchtitle", literal(&value));
                m.set("ntfy", name, "simpletitle", literal(&value));
            }
            _ => m.ignored.push(key),
        }
    }
    m.set("ntfy", name, "url", format!("{scheme}://{host}"));
    m.set("ntfy", name, "topic", topic);
    let user = decode(url.username());
    match (user.is_empty(), url.password().map(decode)) {
        (false, Some(password)) => {
            m.set("ntfy", name, "auth.user", user);
            m.set("ntfy", name, "auth.password", password);
        }
        // ntfy's access tokens go as the password with no user.
        (true, Some(token)) => m.set("ntfy", name, "auth.token", token),
        _ => {}
    }
    Ok(m)
}

/// `generic://host/path?template=json` (https), `generic+http://…` (http): a webhook.
/// shoutrrr's own parameters are taken out; the others stay on the target URL, as shoutrrr
/// forwards them. `@Name=value` parameters are headers; with `template=json` the body is
/// `{"title": …, "message": …}` (`titlekey`, `messagekey` rename them; `$key=value` adds
/// fields), otherwise the message text.
fn generic(url: &Url, name: &str) -> Result<Mapped, String> {
    let mut m = Mapped::new();
    let host = host_port(url).ok_or("no host")?;
    let mut scheme = match url.scheme() {
        "generic+http" => "http",
        _ => "https",
    };
    let mut forwarded: Vec<(String, String)> = Vec::new();
    let mut headers: Vec<String> = Vec::new();
    let mut extra: Vec<(String, String)> = Vec::new();
    let (mut json, mut titlekey, mut messagekey) =
        (false, "title".to_string(), "message".to_string());
    let mut contenttype = None;
    for (key, value) in url.query_pairs() {
        let (key, value) = (key.into_owned(), value.into_owned());
        if let Some(header) = key.strip_prefix('@') {
            headers.push(format!("{header}: {value}"));
            continue;
        }
        if let Some(field) = key.strip_prefix('$') {
            extra.push((field.to_string(), value));
            continue;
        }
        match key.to_ascii_lowercase().as_str() {
            "template" => match value.to_ascii_lowercase().as_str() {
                "json" => json = true,
                "" => {}
                _ => return Err("`template` is json or unset".into()),
            },
            "disabletls" => {
                if yes(&value) {
                    scheme = "http";
                }
            }
            "contenttype" => contenttype = Some(value),
            "titlekey" => titlekey = value,
            "messagekey" => messagekey = value,
            "method" => m.set("http", name, "method", value.to_ascii_uppercase()),
            "title" => {
                m.set("http", name, "batchtitle", literal(&value));
                m.set("http", name, "simpletitle", literal(&value));
            }
            _ => forwarded.push((key, value)),
        }
    }
    let mut target = Url::parse(&format!("{scheme}://{host}"))
        .map_err(|err| format!("not a valid target: {err}"))?;
    target.set_path(url.path());
    if let Some(user) = Some(url.username()).filter(|u| !u.is_empty()) {
        let _ = target.set_username(user);
        let _ = target.set_password(url.password());
    }
    if !forwarded.is_empty() {
        target.query_pairs_mut().extend_pairs(forwarded);
    }
    m.set("http", name, "url", target.to_string());
    if json {
        let mut body = format!(
            "{{{}: {{{{json title}}}}, {}: {{{{json body}}}}",
            json_literal(&titlekey),
            json_literal(&messagekey)
        );
        for (field, value) in extra {
            body.push_str(&format!(
                ", {}: {}",
                json_literal(&field),
                json_literal(&value)
            ));
        }
        body.push('}');
        m.set("http", name, "body", body);
    } else {
        m.set("http", name, "body", "{{body}}");
        m.ignored
            .extend(extra.into_iter().map(|(k, _)| format!("${k}")));
    }
    m.set(
        "http",
        name,
        "contenttype",
        contenttype.unwrap_or_else(|| "application/json".into()),
    );
    if !headers.is_empty() {
        m.set("http", name, "headers", headers.join("; "));
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The settings one URL makes, as `key = value` lines, or its error.
    pub(super) fn check(url: &str) -> Result<Vec<String>, String> {
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let settings = map(
            &[("WATCHTOWER_NOTIFICATION_URL".into(), url.into())],
            &mut errors,
            &mut warnings,
        );
        if let Some(err) = errors.first() {
            return Err(err.to_string());
        }
        Ok(settings
            .iter()
            .map(|s| format!("{} = {}", s.path.join("."), value_text(&s.value)))
            .collect())
    }

    fn value_text(value: &Value) -> String {
        match value {
            Value::String(_, s) => s.clone(),
            Value::Num(_, n) => format!("{:?}", n.to_u128().unwrap_or_default()),
            Value::Bool(_, b) => b.to_string(),
            _ => "?".into(),
        }
    }

    #[test]
    fn urls_split_on_spaces_and_on_commas_before_a_scheme() {
        assert_eq!(
            split_urls("discord://a@b telegram://t@telegram?chats=@x,@y,ntfy://h/t"),
            [
                "discord://a@b",
                "telegram://t@telegram?chats=@x,@y",
                "ntfy://h/t"
            ]
        );
        assert_eq!(split_urls(" gotify://h/t ,\n"), ["gotify://h/t"]);
    }

    #[test]
    fn each_service_maps_to_its_trigger() {
        assert_eq!(
            check("discord://tok3n@123456?username=bot&color=0xff0000").unwrap(),
            [
                "trigger.discord.watchtower1.url = https://discord.com/api/webhooks/123456/tok3n",
                "trigger.discord.watchtower1.botusername = bot",
                "trigger.discord.watchtower1.cardcolor = #ff0000",
                "trigger.discord.watchtower1.mode = batch",
            ]
        );
        let lines = check("telegram://110201543:AAHdqTcv@telegram?chats=@chan,-1001").unwrap();
        assert!(lines.contains(
            &"trigger.telegram.watchtower1chat1.bottoken = 110201543:AAHdqTcv".to_string()
        ));
        assert!(lines.contains(&"trigger.telegram.watchtower1chat2.chatid = -1001".to_string()));
        let lines = check("telegram://1:tok@telegram?chats=-1001234:42").unwrap();
        assert!(lines.contains(&"trigger.telegram.watchtower1.chatid = -1001234".to_string()));
        assert!(
            lines.contains(&"trigger.telegram.watchtower1.messagethreadid = 42".to_string()),
            "{lines:?}"
        );
        assert!(check("telegram://1:tok@telegram?chats=-1001234:general").is_err());
        assert_eq!(
            check("slack://hook:AAA-BBB-CCC@webhook").unwrap()[0],
            "trigger.slack.watchtower1.url = https://hooks.slack.com/services/AAA/BBB/CCC"
        );
        assert_eq!(
            check("slack://xoxb:123-456-abc@C01CHAN").unwrap()[..2],
            [
                "trigger.slack.watchtower1.token = xoxb-123-456-abc",
                "trigger.slack.watchtower1.channel = C01CHAN"
            ]
        );
        assert_eq!(
            check("slack://AAA/BBB/CCC").unwrap()[0],
            "trigger.slack.watchtower1.url = https://hooks.slack.com/services/AAA/BBB/CCC"
        );
        assert_eq!(
            check("gotify://gotify.lan:8080/sub/Atoken?priority=8&disabletls=yes").unwrap(),
            [
                "trigger.gotify.watchtower1.priority = 8",
                "trigger.gotify.watchtower1.url = http://gotify.lan:8080/sub",
                "trigger.gotify.watchtower1.token = Atoken",
                "trigger.gotify.watchtower1.mode = batch",
            ]
        );
        assert_eq!(
            check("ntfy://me:pw@ntfy.lan/updates?scheme=http&priority=high").unwrap(),
            [
                "trigger.ntfy.watchtower1.priority = 4",
                "trigger.ntfy.watchtower1.url = http://ntfy.lan",
                "trigger.ntfy.watchtower1.topic = updates",
                "trigger.ntfy.watchtower1.auth.user = me",
                "trigger.ntfy.watchtower1.auth.password = pw",
                "trigger.ntfy.watchtower1.mode = batch",
            ]
        );
        let smtp = check(
            "smtp://me%40x.org:p%40ss@mail.x.org:587/?from=wt@x.org&to=a@x.org,b@x.org&fromname=Watchtower",
        )
        .unwrap();
        for line in [
            "trigger.smtp.watchtower1.host = mail.x.org",
            "trigger.smtp.watchtower1.port = 587",
            "trigger.smtp.watchtower1.user = me@x.org",
            "trigger.smtp.watchtower1.pass = p@ss",
            "trigger.smtp.watchtower1.from = Watchtower <wt@x.org>",
            "trigger.smtp.watchtower1.to = a@x.org,b@x.org",
            "trigger.smtp.watchtower1.tls.enabled = false",
        ] {
            assert!(smtp.contains(&line.to_string()), "{line} in {smtp:#?}");
        }
        assert_eq!(
            check("matrix://:tok@m.lan:8448/?rooms=!a:x,ops").unwrap(),
            [
                "trigger.matrix.watchtower1.rooms = !a:x,#ops",
                "trigger.matrix.watchtower1.url = https://m.lan:8448",
                "trigger.matrix.watchtower1.token = tok",
                "trigger.matrix.watchtower1.mode = batch",
            ]
        );
        let teams = check("teams://g@t/a/o?host=org.webhook.office.com").unwrap();
        assert_eq!(
            teams[0],
            "trigger.teams.watchtower1.url = https://org.webhook.office.com/webhookb2/g@t/IncomingWebhook/a/o"
        );
        let generic =
            check("generic+http://127.0.0.1:9000/hook?template=json&@X-Key=k&$source=wt&keep=1")
                .unwrap();
        assert_eq!(
            generic[..2],
            [
                "trigger.http.watchtower1.url = http://127.0.0.1:9000/hook?keep=1",
                "trigger.http.watchtower1.body = {\"title\": {{json title}}, \"message\": {{json body}}, \"source\": \"wt\"}",
            ]
        );
        assert!(generic.contains(&"trigger.http.watchtower1.headers = X-Key: k".to_string()));
    }

    #[test]
    fn unknown_services_and_broken_urls_name_the_variable_never_the_url() {
        let err = check("pushbullet://s3cret@x").unwrap_err();
        assert!(err.starts_with("WATCHTOWER_NOTIFICATION_URL: notification URL 1 (pushbullet): unknown notification service `pushbullet`"), "{err}");
        assert!(!err.contains("s3cret"));
        let err = check("smtp://u:s3cret@host/?to=a@b").unwrap_err();
        assert!(err.contains("`from`") && !err.contains("s3cret"), "{err}");
        let err = check("discord://").unwrap_err();
        assert!(err.contains("discord"), "{err}");
    }
}
