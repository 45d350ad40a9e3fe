//! The `discord` trigger: a message through a Discord channel webhook.
//!
//! ```sh
//! TIDEWATCH_TRIGGER_DISCORD_OPS_URL__FILE=/run/secrets/discord_webhook
//! TIDEWATCH_TRIGGER_DISCORD_OPS_BOTUSERNAME=tidewatch
//! TIDEWATCH_TRIGGER_DISCORD_OPS_CARDCOLOR=#2f81f7
//! TIDEWATCH_TRIGGER_DISCORD_OPS_MODE=batch
//! ```
//!
//! `url` is a channel webhook (Server Settings → Integrations → Webhooks → Copy Webhook URL); it
//! is a credential, never logged. Each message is one embed: the title, the body (Discord
//! markdown) as its description, `cardcolor` (`#rrggbb` or a decimal number, default WUD's green
//! `#00ff00`) as its colour, the release-notes link on the title, the time, and the host in the
//! footer. In batch mode each update is also a field (`display name` over `from → to (kind)` and
//! its link), which is why the shipped batch body is only the cycle's summary. `botusername`
//! replaces the webhook's own name (at most 80 characters, without `discord` or `clyde`, which
//! Discord refuses). Mentions are never expanded, so a container called `@everyone` pings no one.
//!
//! Discord's embed limits are kept by cutting, never by failing: title 256 characters,
//! description 4096 (at a line end when one is near), 25 fields of 256 + 1024, and 6000 in all;
//! updates that do not fit end in a field `and N more`. Discord answers `204 No Content`. A `429`
//! is retried (its `retry_after` is in the error); other refusals quote Discord's code and
//! message (`10015: Unknown Webhook`), never the URL.

use super::template::{Defaults, shipped};
use super::webhook::{self, Measure, Problems};
use super::{Message, Notifier, TriggerError};
use crate::config::DiscordConfig;
use crate::trigger::BuildProblem;
use async_trait::async_trait;
use reqwest::{StatusCode, Url};
use serde_json::{Value, json};

pub const TEMPLATES: Defaults = shipped!("discord");

/// WUD's default `cardcolor` (65280).
pub const DEFAULT_COLOR: u32 = 0x00ff00;

/// Discord's limits on one embed, in characters.
const TITLE_MAX: usize = 256;
const DESCRIPTION_MAX: usize = 4096;
const FIELDS_MAX: usize = 25;
const FIELD_NAME_MAX: usize = 256;
const FIELD_VALUE_MAX: usize = 1024;
const FOOTER_MAX: usize = 2048;
/// Title, description, field names and values, footer and author together.
const TOTAL_MAX: usize = 6000;
const USERNAME_MAX: usize = 80;

pub struct Discord {
    client: reqwest::Client,
    url: Url,
    username: Option<String>,
    color: u32,
}

/// Never the URL.
impl std::fmt::Debug for Discord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Discord")
            .field("username", &self.username)
            .field("color", &format_args!("#{:06x}", self.color))
            .finish_non_exhaustive()
    }
}

impl Discord {
    pub fn new(config: &DiscordConfig) -> Result<Self, Vec<BuildProblem>> {
        let mut problems = Problems::default();
        let url = problems.required("url", config.url.as_ref(), |url| webhook::url("url", url));
        let username = problems
            .take(config.botusername.as_deref().map(username).transpose())
            .flatten();
        let color = match config.cardcolor.as_deref() {
            None => Some(DEFAULT_COLOR),
            Some(text) => problems.take(color(text)),
        };
        let client = problems.client(config.timeout);
        problems.finish(|| {
            Some(Discord {
                client: client?,
                url: url?,
                username,
                color: color?,
            })
        })
    }
}

#[async_trait]
impl Notifier for Discord {
    async fn send(&self, message: &Message) -> Result<(), TriggerError> {
        let what = "POST to the Discord webhook";
        let body = payload(message, self.username.as_deref(), self.color);
        let request = self.client.post(self.url.clone()).json(&body);
        webhook::deliver(request, what, |reply| {
            refusal(reply.status, &reply.body, &self.url)
        })
        .await
    }
}

/// `botusername`: what Discord accepts as a webhook's name.
fn username(text: &str) -> Result<String, BuildProblem> {
    let name = text.trim();
    let lower = name.to_lowercase();
    let problem = |message: &str| Err(BuildProblem::new("botusername", message));
    if name.is_empty() {
        problem("is empty")
    } else if name.chars().count() > USERNAME_MAX {
        problem("at most 80 characters")
    } else if lower.contains("discord") || lower.contains("clyde") {
        problem("Discord refuses a name containing \"discord\" or \"clyde\"")
    } else if lower == "everyone" || lower == "here" {
        problem("Discord refuses \"everyone\" and \"here\"")
    } else {
        Ok(name.to_string())
    }
}

/// `cardcolor`: `#rrggbb` or a decimal number up to `16777215` (`#ffffff`).
fn color(text: &str) -> Result<u32, BuildProblem> {
    let text = text.trim();
    let parsed = match text.strip_prefix('#') {
        Some(hex) if hex.len() == 6 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            u32::from_str_radix(hex, 16).ok()
        }
        Some(_) => None,
        None => text.parse::<u32>().ok().filter(|&n| n <= 0xff_ffff),
    };
    parsed.ok_or_else(|| {
        BuildProblem::new(
            "cardcolor",
            "must be #rrggbb or a decimal number up to 16777215",
        )
    })
}

/// What a refusal says, for the error: `retry after 1.5 s` for a 429, else Discord's code and
/// message (`10015: Unknown Webhook`) when they are plain and do not echo the webhook.
fn refusal(status: StatusCode, body: &[u8], url: &Url) -> Option<String> {
    if status.is_success() {
        return None;
    }
    let answer: Value = serde_json::from_slice(body).ok()?;
    if status == StatusCode::TOO_MANY_REQUESTS {
        let seconds = answer["retry_after"].as_f64()?;
        return Some(format!("retry after {seconds} s"));
    }
    let token = url.path_segments().and_then(|mut s| s.next_back());
    let secrets = [url.as_str(), token.unwrap_or_default()];
    let message = answer["message"]
        .as_str()
        .and_then(|m| webhook::error_text(m, &secrets));
    match (answer["code"].as_u64(), message) {
        (Some(code), Some(message)) => Some(format!("{code}: {message}")),
        (Some(code), None) => Some(format!("code {code}")),
        (None, Some(message)) => Some(message.to_string()),
        (None, None) => None,
    }
}

/// The JSON sent: one embed within Discord's limits, no mentions, and `username` when set.
pub fn payload(message: &Message, username: Option<&str>, color: u32) -> Value {
    let chars = |text: &str| Measure::Chars.len(text);
    let title = webhook::truncate(message.title.trim(), TITLE_MAX);
    let footer = message.data["host"]
        .as_str()
        .map(|host| webhook::truncate(&format!("tidewatch on {host}"), FOOTER_MAX));
    let mut used = chars(&title) + footer.as_deref().map_or(0, chars);
    let description = webhook::shorten(
        message.body.trim(),
        DESCRIPTION_MAX.min(TOTAL_MAX.saturating_sub(used)),
        Measure::Chars,
    );
    used += chars(&description);
    let fields = fields(&message.data, TOTAL_MAX.saturating_sub(used));

    let mut embed = json!({ "color": color });
    if !title.is_empty() {
        embed["title"] = json!(title);
    }
    if let Some(link) = webhook::link(&message.data) {
        embed["url"] = json!(link);
    }
    if !description.is_empty() {
        embed["description"] = json!(description);
    }
    if !fields.is_empty() {
        embed["fields"] = json!(fields);
    }
    if let Some(footer) = footer {
        embed["footer"] = json!({ "text": footer });
    }
    if let Some(time) = message.data["time"].as_str() {
        embed["timestamp"] = json!(time);
    }
    let mut payload = json!({
        "embeds": [embed],
        // Names come from containers and templates: none of them may ping anyone.
        "allowed_mentions": { "parse": [] },
    });
    if let Some(username) = username {
        payload["username"] = json!(username);
    }
    payload
}

/// One field per update of a cycle's message, as many as fit in `budget` characters and
/// Discord's 25, the last one then saying how many were left out; none for one update.
fn fields(data: &Value, budget: usize) -> Vec<Value> {
    if data["event"] != "batch" {
        return Vec::new();
    }
    let all: Vec<(String, String)> = data["updates"]
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .map(field)
        .collect();
    let size =
        |(name, value): &(String, String)| Measure::Chars.len(name) + Measure::Chars.len(value);
    let more = |left: usize| ("…".to_string(), format!("and {left} more"));
    let mut kept: Vec<&(String, String)> = Vec::new();
    let mut used = 0;
    for (i, one) in all.iter().enumerate() {
        let after = all.len() - i - 1;
        // Room for the `and N more` field whenever some would be left out.
        let (slots, reserve) = if after > 0 {
            (2, size(&more(all.len())))
        } else {
            (1, 0)
        };
        if kept.len() + slots > FIELDS_MAX || used + size(one) + reserve > budget {
            break;
        }
        used += size(one);
        kept.push(one);
    }
    let mut fields: Vec<Value> = kept
        .into_iter()
        .map(|(name, value)| json!({ "name": name, "value": value, "inline": false }))
        .collect();
    let left = all.len() - fields.len();
    if left > 0 {
        let extra = more(left);
        if used + size(&extra) <= budget {
            let (name, value) = extra;
            fields.push(json!({ "name": name, "value": value, "inline": false }));
        }
    }
    fields
}

/// `display name` over ``` `from` → `to` (kind) ``` and a markdown link to the release notes.
fn field(update: &Value) -> (String, String) {
    let text = |key: &str| update[key].as_str().unwrap_or_default().to_string();
    let mut name = text("display_name");
    if name.trim().is_empty() {
        name = text("name");
    }
    let mut value = format!("`{}` → `{}` ({})", text("from"), text("to"), text("kind"));
    // Told after the updates (`when=updated`): what became of it.
    if let Some(state) = update["state"].as_str().filter(|s| *s != "Stale") {
        value.push_str(&format!(": {state}"));
    }
    // An entry of `updates` has no `event`, so it reads as one update's data. A link too long
    // for the field is left out rather than cut into broken markdown.
    if let Some(link) = webhook::link(update) {
        let line = format!("\n[Release notes]({link})");
        if Measure::Chars.len(&value) + Measure::Chars.len(&line) <= FIELD_VALUE_MAX {
            value.push_str(&line);
        }
    }
    (
        webhook::truncate(name.trim(), FIELD_NAME_MAX),
        webhook::truncate(&value, FIELD_VALUE_MAX),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CommonConfig, Secret};
    use crate::model::UpdateCandidate;
    use crate::notify::Templates;
    use crate::notify::template::{self, Notice};

    const URL: &str = "https://discord.com/api/webhooks/123/SECRET-TOKEN";

    fn templates() -> Templates {
        Templates::new(TEMPLATES, &CommonConfig::default()).unwrap()
    }

    fn simple() -> Message {
        templates()
            .simple(template::simple_data(Notice::Available(
                &template::sample_candidate(),
            )))
            .unwrap()
    }

    fn named(name: &str) -> UpdateCandidate {
        let mut c = template::sample_candidate();
        c.container.name = name.into();
        c.display_name = name.into();
        c
    }

    fn batch(n: usize) -> Message {
        let updates: Vec<_> = (0..n).map(|i| named(&format!("app{i}"))).collect();
        templates()
            .batch(template::batch_data("local", &updates, None))
            .unwrap()
    }

    fn total(embed: &Value) -> usize {
        let len = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
        let fields = embed["fields"].as_array().map_or(&[][..], Vec::as_slice);
        len(&embed["title"])
            + len(&embed["description"])
            + len(&embed["footer"]["text"])
            + fields
                .iter()
                .map(|f| len(&f["name"]) + len(&f["value"]))
                .sum::<usize>()
    }

    fn keys(config: DiscordConfig) -> Vec<String> {
        webhook::problem_keys(Discord::new(&config))
    }

    #[test]
    fn every_problem_is_reported_by_key_and_never_quotes_the_url() {
        assert_eq!(keys(DiscordConfig::default()), ["url"]);
        let problems = Discord::new(&DiscordConfig {
            url: Some(Secret::new("discord.com/api/webhooks/123/SECRET-TOKEN")),
            botusername: Some("Discord bot".into()),
            cardcolor: Some("green".into()),
            ..DiscordConfig::default()
        })
        .unwrap_err();
        let found: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(found, ["url", "botusername", "cardcolor"]);
        assert!(problems.iter().all(|p| !p.message.contains("SECRET")));
        let discord = Discord::new(&DiscordConfig {
            url: Some(Secret::new(URL)),
            botusername: Some(" tidewatch ".into()),
            ..DiscordConfig::default()
        })
        .unwrap();
        assert!(!format!("{discord:?}").contains("SECRET"), "{discord:?}");
        assert_eq!(discord.username.as_deref(), Some("tidewatch"));
        assert_eq!(discord.color, DEFAULT_COLOR);
    }

    #[test]
    fn usernames_follow_discords_rules() {
        assert!(username("tidewatch").is_ok());
        assert!(username(&"x".repeat(80)).is_ok());
        for bad in ["", "  ", "My Discord", "CLYDE", "everyone", "Here"] {
            assert!(username(bad).is_err(), "{bad:?}");
        }
        assert!(username(&"x".repeat(81)).is_err());
    }

    #[test]
    fn colours_are_hex_with_a_hash_or_decimal() {
        assert_eq!(color("#2f81f7").unwrap(), 0x2f81f7);
        assert_eq!(color("#FFFFFF").unwrap(), 0xffffff);
        assert_eq!(color("65280").unwrap(), 65280);
        assert_eq!(color(" 0 ").unwrap(), 0);
        for bad in [
            "2f81f7", "#2f81f", "#2f81f7a", "16777216", "-1", "#gggggg", "",
        ] {
            assert!(color(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_simple_message_is_one_embed_with_its_link_and_no_fields() {
        let sent = payload(&simple(), Some("tidewatch"), 0x2f81f7);
        assert_eq!(sent["username"], "tidewatch");
        assert_eq!(sent["allowed_mentions"], json!({ "parse": [] }));
        let embeds = sent["embeds"].as_array().unwrap();
        assert_eq!(embeds.len(), 1);
        let embed = &embeds[0];
        assert_eq!(embed["title"], "Update available: web 1.25.3 → 1.25.4");
        assert_eq!(embed["url"], "https://example.com/releases/1.25.4");
        assert_eq!(embed["color"], 0x2f81f7);
        let description = embed["description"].as_str().unwrap();
        assert!(
            description.starts_with("**web** on `local`: `1.25.3` → `1.25.4` (patch)"),
            "{description}"
        );
        assert!(description.contains("[Release notes](https://example.com/releases/1.25.4)"));
        assert!(embed.get("fields").is_none());
        assert!(
            embed["footer"]["text"]
                .as_str()
                .unwrap()
                .starts_with("tidewatch on ")
        );
        assert!(embed["timestamp"].as_str().unwrap().ends_with('Z'));
        assert!(payload(&simple(), None, 0).get("username").is_none());
    }

    #[test]
    fn a_batch_lists_each_update_as_a_field_under_the_summary() {
        let mut db = named("db");
        db.display_name = "Database".into();
        db.link = Some("javascript:alert(1)".into());
        let message = templates()
            .batch(template::batch_data(
                "local",
                &[template::sample_candidate(), db],
                None,
            ))
            .unwrap();
        let embed = &payload(&message, None, 1)["embeds"][0];
        assert_eq!(embed["title"], "2 updates available on local");
        assert!(embed.get("url").is_none(), "no single link for a batch");
        assert!(
            embed["description"]
                .as_str()
                .unwrap()
                .starts_with("Checked 0 containers on `local`: 2 with updates"),
            "{embed}"
        );
        assert_eq!(
            embed["fields"],
            json!([
                { "name": "web", "inline": false,
                  "value": "`1.25.3` → `1.25.4` (patch)\n[Release notes](https://example.com/releases/1.25.4)" },
                { "name": "Database", "inline": false, "value": "`1.25.3` → `1.25.4` (patch)" },
            ])
        );
    }

    #[test]
    fn more_than_25_updates_end_in_a_count_of_the_rest() {
        let embed = &payload(&batch(30), None, 1)["embeds"][0];
        let fields = embed["fields"].as_array().unwrap();
        assert_eq!(fields.len(), FIELDS_MAX);
        assert_eq!(fields[23]["name"], "app23");
        assert_eq!(
            fields[24],
            json!({ "name": "…", "value": "and 6 more", "inline": false })
        );
        let exactly = &payload(&batch(25), None, 1)["embeds"][0];
        assert_eq!(exactly["fields"][24]["name"], "app24");
    }

    #[test]
    fn every_limit_holds_for_huge_messages() {
        let mut updates: Vec<UpdateCandidate> =
            (0..40).map(|i| named(&format!("app{i}"))).collect();
        for u in &mut updates {
            u.display_name = "n".repeat(300);
            u.link = Some(format!("https://example.com/{}", "x".repeat(900)));
        }
        let message = Message {
            title: "t".repeat(300),
            body: "line of the body\n".repeat(400),
            data: template::batch_data("local", &updates, None),
        };
        let embed = &payload(&message, None, 1)["embeds"][0];
        assert_eq!(embed["title"].as_str().unwrap().chars().count(), TITLE_MAX);
        let description = embed["description"].as_str().unwrap();
        assert!(description.chars().count() <= DESCRIPTION_MAX);
        assert!(description.ends_with("body\n…"), "cut at a line end");
        let fields = embed["fields"].as_array().unwrap();
        assert!(!fields.is_empty() && fields.len() <= FIELDS_MAX);
        for f in fields {
            assert!(f["name"].as_str().unwrap().chars().count() <= FIELD_NAME_MAX);
            assert!(f["value"].as_str().unwrap().chars().count() <= FIELD_VALUE_MAX);
        }
        assert!(total(embed) <= TOTAL_MAX, "{}", total(embed));
        let last = fields.last().unwrap();
        assert_eq!(last["name"], "…");
        assert_eq!(
            last["value"],
            format!("and {} more", 40 - (fields.len() - 1))
        );
    }

    #[test]
    fn refusals_say_discords_code_or_when_to_retry_never_the_url() {
        let url = Url::parse(URL).unwrap();
        let status = |n| StatusCode::from_u16(n).unwrap();
        assert_eq!(
            refusal(
                status(404),
                br#"{"message": "Unknown Webhook", "code": 10015}"#,
                &url
            ),
            Some("10015: Unknown Webhook".into())
        );
        assert_eq!(
            refusal(
                status(429),
                br#"{"message": "You are being rate limited.", "retry_after": 1.5, "global": false}"#,
                &url
            ),
            Some("retry after 1.5 s".into())
        );
        assert_eq!(
            refusal(
                status(401),
                br#"{"message": "bad SECRET-TOKEN", "code": 50027}"#,
                &url
            ),
            Some("code 50027".into())
        );
        assert_eq!(refusal(status(502), b"<html>", &url), None);
        assert_eq!(refusal(status(204), b"", &url), None);
    }
}
