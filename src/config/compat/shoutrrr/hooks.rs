//! Shoutrrr's services that are one JSON post to an incoming webhook: Mattermost, Rocket.Chat,
//! Google Chat and IFTTT. Each becomes an `http` trigger with the service's URL and a body
//! template in the shape the service reads, so a Watchtower user's URL keeps working without a
//! notifier of its own here. The URL carries the webhook's token: it is the trigger's `url`,
//! which `tidewatch config` masks.

use super::{Mapped, host_port, path_segments, query, yes};
use crate::config::compat::json_literal;
use reqwest::Url;

/// `https://host` of `url`, or `http://` with `disabletls=yes`.
fn base(url: &Url, disabletls: bool) -> Result<String, String> {
    let host = host_port(url).ok_or("no host")?;
    Ok(match disabletls {
        true => format!("http://{host}"),
        false => format!("https://{host}"),
    })
}

/// The http trigger `name` posting `body` as JSON to `target`.
fn post(m: &mut Mapped, name: &str, target: String, body: String) {
    m.set("http", name, "url", target);
    m.set("http", name, "method", "POST");
    m.set("http", name, "contenttype", "application/json");
    m.set("http", name, "body", body);
}

/// `mattermost://[username@]host[:port]/token[/channel][?icon=…&disabletls=yes]`: posts
/// `{"text": …}` to `/hooks/token`, with the user name, channel and icon when given.
pub(super) fn mattermost(url: &Url, name: &str) -> Result<Mapped, String> {
    let mut m = Mapped::new();
    let mut path = path_segments(url).into_iter();
    let token = path.next().ok_or("the webhook token is missing")?;
    let channel = path.next();
    let (mut disabletls, mut icon) = (false, None);
    for (key, value) in query(url) {
        match key.as_str() {
            "icon" | "icon_emoji" | "icon_url" => icon = Some(value),
            "disabletls" => disabletls = yes(&value),
            // Mattermost shows no title: the message is the text.
            "title" => {}
            _ => m.ignored.push(key),
        }
    }
    let mut body = "{\"text\": {{json body}}".to_string();
    let user = super::decode(url.username());
    if !user.is_empty() {
        body.push_str(&format!(", \"username\": {}", json_literal(&user)));
    }
    if let Some(channel) = channel {
        body.push_str(&format!(", \"channel\": {}", json_literal(&channel)));
    }
    if let Some(icon) = icon {
        let field = match icon.starts_with("http://") || icon.starts_with("https://") {
            true => "icon_url",
            false => "icon_emoji",
        };
        body.push_str(&format!(", \"{field}\": {}", json_literal(&icon)));
    }
    body.push('}');
    post(
        &mut m,
        name,
        format!("{}/hooks/{token}", base(url, disabletls)?),
        body,
    );
    Ok(m)
}

/// `rocketchat://[username@]host[:port]/tokenA/tokenB[/channel|/@user]`: posts
/// `{"text": …}` to `/hooks/tokenA/tokenB`; a channel without `@` gets its `#`.
pub(super) fn rocketchat(url: &Url, name: &str) -> Result<Mapped, String> {
    let mut m = Mapped::new();
    let path = path_segments(url);
    let [a, b, rest @ ..] = path.as_slice() else {
        return Err("expected rocketchat://host/tokenA/tokenB[/channel]".into());
    };
    let mut disabletls = false;
    for (key, value) in query(url) {
        match key.as_str() {
            "disabletls" => disabletls = yes(&value),
            "title" => {}
            _ => m.ignored.push(key),
        }
    }
    let mut body = "{\"text\": {{json body}}".to_string();
    let user = super::decode(url.username());
    if !user.is_empty() {
        body.push_str(&format!(", \"alias\": {}", json_literal(&user)));
    }
    if let Some(channel) = rest.first() {
        let channel = super::decode(channel);
        let channel = match channel.starts_with('@') || channel.starts_with('#') {
            true => channel,
            false => format!("#{channel}"),
        };
        body.push_str(&format!(", \"channel\": {}", json_literal(&channel)));
    }
    body.push('}');
    post(
        &mut m,
        name,
        format!("{}/hooks/{a}/{b}", base(url, disabletls)?),
        body,
    );
    Ok(m)
}

/// `googlechat://chat.googleapis.com/v1/spaces/SPACE/messages?key=…&token=…` (or `hangouts://`):
/// posts `{"text": …}` to the same address over HTTPS, key and token kept.
pub(super) fn googlechat(url: &Url, name: &str) -> Result<Mapped, String> {
    let mut m = Mapped::new();
    let mut disabletls = false;
    let mut kept: Vec<(String, String)> = Vec::new();
    for (key, value) in query(url) {
        match key.as_str() {
            "key" | "token" => kept.push((key, value)),
            "disabletls" => disabletls = yes(&value),
            "title" => {}
            _ => m.ignored.push(key),
        }
    }
    if !kept.iter().any(|(k, _)| k == "key") || !kept.iter().any(|(k, _)| k == "token") {
        return Err("the `key` and `token` parameters of the space's webhook are missing".into());
    }
    let mut target =
        Url::parse(&base(url, disabletls)?).map_err(|err| format!("not a valid target: {err}"))?;
    target.set_path(url.path());
    target.query_pairs_mut().extend_pairs(kept);
    post(
        &mut m,
        name,
        target.to_string(),
        "{\"text\": {{json body}}}".into(),
    );
    Ok(m)
}

/// `ifttt://KEY/?events=a,b&value1=…&messagevalue=2&titlevalue=1`: one trigger per event
/// (`NAMEeventK` for several), each posting `{"value1": …, "value2": …, "value3": …}` to
/// Maker's `/trigger/EVENT/with/key/KEY`, the message in value `messagevalue` (2 by default)
/// and the title in `titlevalue` (none by default).
pub(super) fn ifttt(url: &Url, name: &str) -> Result<Mapped, String> {
    let mut m = Mapped::new();
    let key = host_port(url)
        .map(|k| super::decode(&k))
        .filter(|k| !k.is_empty())
        .ok_or("the webhook key is missing: ifttt://KEY/?events=…")?;
    let mut events: Vec<String> = Vec::new();
    let mut values: [Option<String>; 3] = [None, None, None];
    let (mut message_at, mut title_at) = (2usize, 0usize);
    let slot = |value: &str, what: &str| -> Result<usize, String> {
        match value.parse::<usize>() {
            Ok(n @ 0..=3) => Ok(n),
            _ => Err(format!("`{what}` is 1, 2 or 3 (0: not sent)")),
        }
    };
    for (k, value) in query(url) {
        match k.as_str() {
            "events" => events.extend(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|e| !e.is_empty())
                    .map(str::to_string),
            ),
            "value1" => values[0] = Some(value),
            "value2" => values[1] = Some(value),
            "value3" => values[2] = Some(value),
            "messagevalue" => message_at = slot(&value, "messagevalue")?,
            "titlevalue" => title_at = slot(&value, "titlevalue")?,
            "title" => {}
            _ => m.ignored.push(k),
        }
    }
    if events.is_empty() {
        return Err("the `events` parameter is missing".into());
    }
    if message_at != 0 && message_at == title_at {
        return Err("`messagevalue` and `titlevalue` name the same value".into());
    }
    let fields: Vec<String> = (1..=3)
        .map(|n| {
            let value = if n == message_at {
                "{{json body}}".to_string()
            } else if n == title_at {
                "{{json title}}".to_string()
            } else {
                json_literal(values[n - 1].as_deref().unwrap_or(""))
            };
            format!("\"value{n}\": {value}")
        })
        .collect();
    let body = format!("{{{}}}", fields.join(", "));
    let several = events.len() > 1;
    for (k, event) in events.iter().enumerate() {
        let name = match several {
            true => format!("{name}event{}", k + 1),
            false => name.to_string(),
        };
        let mut target = Url::parse("https://maker.ifttt.com/").expect("a valid URL");
        target
            .path_segments_mut()
            .expect("a base URL")
            .extend(["trigger", event, "with", "key", &key]);
        post(&mut m, &name, target.to_string(), body.clone());
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::super::tests::check;

    #[test]
    fn mattermost_posts_its_text_to_the_hook_with_user_channel_and_icon() {
        let lines =
            check("mattermost://watchtower@chat.lan:8065/tok3n/ops?icon=whale&disabletls=yes")
                .unwrap();
        assert!(
            lines.contains(
                &"trigger.http.watchtower1.url = http://chat.lan:8065/hooks/tok3n".into()
            ),
            "{lines:?}"
        );
        assert!(lines.contains(
            &"trigger.http.watchtower1.body = {\"text\": {{json body}}, \"username\": \"watchtower\", \"channel\": \"ops\", \"icon_emoji\": \"whale\"}"
                .into()
        ), "{lines:?}");
        assert!(check("mattermost://chat.lan").is_err());
    }

    #[test]
    fn rocketchat_posts_to_both_tokens_and_gives_a_channel_its_hash() {
        let lines = check("rocketchat://bot@rc.lan/AAA/BBB/general").unwrap();
        assert!(
            lines.contains(&"trigger.http.watchtower1.url = https://rc.lan/hooks/AAA/BBB".into())
        );
        assert!(lines.contains(
            &"trigger.http.watchtower1.body = {\"text\": {{json body}}, \"alias\": \"bot\", \"channel\": \"#general\"}".into()
        ), "{lines:?}");
        let lines = check("rocketchat://rc.lan/AAA/BBB/@alice").unwrap();
        assert!(
            lines.iter().any(|l| l.contains("\"channel\": \"@alice\"")),
            "{lines:?}"
        );
        assert!(check("rocketchat://rc.lan/AAA").is_err());
    }

    #[test]
    fn googlechat_keeps_its_key_and_token() {
        let lines =
            check("googlechat://chat.googleapis.com/v1/spaces/FOO/messages?key=k1&token=t1")
                .unwrap();
        assert!(lines.contains(
            &"trigger.http.watchtower1.url = https://chat.googleapis.com/v1/spaces/FOO/messages?key=k1&token=t1".into()
        ), "{lines:?}");
        assert!(
            lines.contains(&"trigger.http.watchtower1.body = {\"text\": {{json body}}}".into())
        );
        assert!(
            check("hangouts://chat.googleapis.com/v1/spaces/FOO/messages?key=k1&token=t1").is_ok()
        );
        assert!(check("googlechat://chat.googleapis.com/v1/spaces/FOO/messages?key=k1").is_err());
    }

    #[test]
    fn ifttt_posts_each_event_with_the_message_in_its_value() {
        let lines = check("ifttt://k3y/?events=updated,other&value1=wt&titlevalue=3").unwrap();
        assert!(lines.contains(
            &"trigger.http.watchtower1event1.url = https://maker.ifttt.com/trigger/updated/with/key/k3y".into()
        ), "{lines:?}");
        assert!(lines.contains(
            &"trigger.http.watchtower1event2.body = {\"value1\": \"wt\", \"value2\": {{json body}}, \"value3\": {{json title}}}".into()
        ), "{lines:?}");
        assert!(check("ifttt://k3y/").is_err());
        assert!(check("ifttt://k3y/?events=a&messagevalue=4").is_err());
        assert!(check("ifttt://k3y/?events=a&messagevalue=1&titlevalue=1").is_err());
    }
}
