//! WUD's trigger kinds that are one HTTP request to a service — Apprise, IFTTT and Rocket.Chat —
//! made into `http` triggers of the same name, so a WUD setup that uses them starts and sends
//! what the service reads. Everything else of WUD is read by `config::env` with tidewatch's
//! grammar.
//!
//! The options every trigger has (`THRESHOLD`, `MODE`, `ONCE`, `SIMPLETITLE`, …) stay
//! variables: they are handed on under the `http` kind's name, and [`Renamed::restore`] gives
//! them back the name the user wrote, which errors and `tidewatch config` show. The kind's own
//! keys (`URL`, `KEY`, `AUTH_TOKEN`, …) become the trigger's `url`, `headers` and `body`.

use super::Setting;
use super::json_literal;
use crate::config::env::EnvVar;
use crate::config::error::ConfigError;
use std::collections::BTreeMap;

const PREFIX: &str = "WUD_TRIGGER_";

/// The kinds, each with its own keys; any other key of theirs is a common option.
const KINDS: &[(&str, &[&str])] = &[
    ("APPRISE", &["URL", "URLS", "CONFIG"]),
    ("IFTTT", &["KEY", "EVENT"]),
    (
        "ROCKETCHAT",
        &[
            "URL",
            "USER_ID",
            "AUTH_TOKEN",
            "CHANNEL_ID",
            "ALIAS",
            "AVATAR",
            "EMOJI",
            "PARSEURLS",
        ],
    ),
];

/// Variables handed on under another name: the new name → the one the user wrote.
#[derive(Debug, Default)]
pub struct Renamed(BTreeMap<String, String>);

impl Renamed {
    /// Gives the variables their own names back, after `config::env` read them.
    pub fn restore(&self, vars: &mut [EnvVar]) {
        for var in vars {
            if let Some(name) = self.0.get(&var.name) {
                var.name = name.clone();
            }
        }
    }

    /// The name the user wrote for `name`, when it was handed on.
    pub fn original(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// One trigger's own keys, as given: key → (variable, value).
type Own = BTreeMap<String, (String, String)>;

/// Takes WUD's Apprise, IFTTT and Rocket.Chat variables out of `vars`: their own keys become the
/// settings returned, their common options stay in `vars` as `WUD_TRIGGER_HTTP_<NAME>_…`.
pub fn take_http_kinds(
    vars: &mut Vec<(String, String)>,
    errors: &mut Vec<ConfigError>,
) -> (Vec<Setting>, Renamed) {
    let mut renamed = Renamed::default();
    let mut own: BTreeMap<(&'static str, String), Own> = BTreeMap::new();
    let mut kept = Vec::with_capacity(vars.len());
    for (name, value) in vars.drain(..) {
        let Some((kind, keys, rest)) = KINDS.iter().find_map(|(kind, keys)| {
            let rest = name
                .strip_prefix(PREFIX)?
                .strip_prefix(kind)?
                .strip_prefix('_')?;
            Some((*kind, *keys, rest))
        }) else {
            kept.push((name, value));
            continue;
        };
        let Some((trigger, key)) = rest.split_once('_') else {
            errors.push(ConfigError::new(
                &name,
                format!("expected {PREFIX}{kind}_<NAME>_<KEY>"),
            ));
            continue;
        };
        let (bare, from_file) = match key.strip_suffix("__FILE") {
            Some(bare) => (bare, true),
            None => (key, false),
        };
        if keys.contains(&bare) {
            let value = match from_file {
                false => value,
                true => match crate::config::file::read_to_string(
                    std::path::Path::new(value.trim()),
                    crate::config::file::SECRET_LIMIT,
                ) {
                    Ok(text) => text.trim_end_matches(['\r', '\n']).to_string(),
                    Err(err) => {
                        errors.push(ConfigError::new(&name, err.to_string()));
                        continue;
                    }
                },
            };
            own.entry((kind, trigger.to_string()))
                .or_default()
                .insert(bare.to_string(), (name, value));
        } else {
            let handed = format!("{PREFIX}HTTP_{trigger}_{key}");
            renamed.0.insert(handed.clone(), name);
            kept.push((handed, value));
        }
    }
    *vars = kept;
    let mut settings = Vec::new();
    for ((kind, trigger), keys) in own {
        let name = trigger.to_ascii_lowercase();
        let prefix = format!("{PREFIX}{kind}_{trigger}");
        let made = match kind {
            "APPRISE" => apprise(&keys, &prefix),
            "IFTTT" => ifttt(&keys, &prefix),
            _ => rocketchat(&keys, &prefix),
        };
        match made {
            Ok(made) => {
                for (origin, key, value) in made {
                    settings.push(Setting::new(
                        origin,
                        &["trigger", "http", &name, key],
                        value,
                    ));
                }
                // The body is the service's, made from tidewatch's values.
                settings.push(Setting::new(
                    format!("{PREFIX}{kind}_{trigger}_* (the service's body)"),
                    &["trigger", "http", &name, "format"],
                    "tidewatch",
                ));
            }
            Err((var, message)) => errors.push(ConfigError::new(var, message)),
        }
    }
    (settings, renamed)
}

/// A setting made: (origin, key, value).
type Made = Vec<(String, &'static str, String)>;

/// A problem: (the variable to name, what is wrong).
type Problem = (String, String);

fn required<'k>(keys: &'k Own, prefix: &str, key: &str) -> Result<&'k (String, String), Problem> {
    keys.get(key)
        .ok_or_else(|| (format!("{prefix}_{key}"), "required".to_string()))
}

/// Apprise's API: `POST URL/notify/CONFIG` with `{"title", "body"}` for a stored configuration,
/// else `POST URL/notify` with the Apprise URLs in `urls`, as WUD posts.
fn apprise(keys: &Own, prefix: &str) -> Result<Made, Problem> {
    let (url_var, url) = required(keys, prefix, "URL")?;
    let base = url.trim().trim_end_matches('/');
    let fields = "\"title\": {{json title}}, \"body\": {{json body}}";
    Ok(match (keys.get("CONFIG"), keys.get("URLS")) {
        (Some((var, config)), _) => vec![
            (
                var.clone(),
                "url",
                format!("{base}/notify/{}", config.trim()),
            ),
            (var.clone(), "body", format!("{{{fields}}}")),
        ],
        (None, Some((var, urls))) => vec![
            (url_var.clone(), "url", format!("{base}/notify")),
            (
                var.clone(),
                "body",
                format!("{{{fields}, \"urls\": {}}}", json_literal(urls.trim())),
            ),
        ],
        (None, None) => {
            return Err((
                format!("{prefix}_URLS"),
                "required (or CONFIG): the Apprise URLs to notify".into(),
            ));
        }
    })
}

/// IFTTT's Maker webhooks: `POST …/trigger/EVENT/with/key/KEY` with WUD's values: the
/// container's name, its new version, and the message.
fn ifttt(keys: &Own, prefix: &str) -> Result<Made, Problem> {
    let (key_var, key) = required(keys, prefix, "KEY")?;
    let event = keys
        .get("EVENT")
        .map_or("wud-image", |(_, e)| e.trim())
        .to_string();
    let mut target = reqwest::Url::parse("https://maker.ifttt.com/").expect("a valid URL");
    target.path_segments_mut().expect("a base URL").extend([
        "trigger",
        &event,
        "with",
        "key",
        key.trim(),
    ]);
    Ok(vec![
        (key_var.clone(), "url", target.to_string()),
        (
            key_var.clone(),
            "body",
            "{\"value1\": {{#if name}}{{json name}}{{else}}{{json title}}{{/if}}, \
             \"value2\": {{#if new_tag}}{{json new_tag}}{{else}}\"\"{{/if}}, \
             \"value3\": {{json body}}}"
                .into(),
        ),
    ])
}

/// Rocket.Chat's REST API: `POST URL/api/v1/chat.postMessage` as the user `USER_ID` with its
/// `AUTH_TOKEN`, to `CHANNEL_ID`.
fn rocketchat(keys: &Own, prefix: &str) -> Result<Made, Problem> {
    let (url_var, url) = required(keys, prefix, "URL")?;
    let (user_var, user) = required(keys, prefix, "USER_ID")?;
    let (_, token) = required(keys, prefix, "AUTH_TOKEN")?;
    let (channel_var, channel) = required(keys, prefix, "CHANNEL_ID")?;
    let base = url.trim().trim_end_matches('/');
    let mut body = format!(
        "{{\"channel\": {}, \"text\": {{{{json body}}}}",
        json_literal(channel.trim())
    );
    for (key, field) in [("ALIAS", "alias"), ("AVATAR", "avatar"), ("EMOJI", "emoji")] {
        if let Some((_, value)) = keys.get(key) {
            body.push_str(&format!(", \"{field}\": {}", json_literal(value.trim())));
        }
    }
    if let Some((var, value)) = keys.get("PARSEURLS") {
        let on = match value.trim().to_ascii_lowercase().as_str() {
            "true" => true,
            "false" => false,
            _ => return Err((var.clone(), "expected true or false".into())),
        };
        body.push_str(&format!(", \"parseUrls\": {on}"));
    }
    body.push('}');
    Ok(vec![
        (
            url_var.clone(),
            "url",
            format!("{base}/api/v1/chat.postMessage"),
        ),
        (
            user_var.clone(),
            "headers",
            format!("X-User-Id: {}; X-Auth-Token: {}", user.trim(), token.trim()),
        ),
        (channel_var.clone(), "body", body),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(vars: &[(&str, &str)]) -> (Vec<String>, Vec<(String, String)>, Vec<String>) {
        let mut vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut errors = Vec::new();
        let (settings, _) = take_http_kinds(&mut vars, &mut errors);
        let settings = settings
            .iter()
            .map(|s| {
                format!(
                    "{} = {:?} # {}",
                    s.path.join("."),
                    s.value.as_str().unwrap_or("?"),
                    s.origin
                )
            })
            .collect();
        (
            settings,
            vars,
            errors.iter().map(|e| e.to_string()).collect(),
        )
    }

    #[test]
    fn apprise_posts_to_its_stored_config_or_with_the_urls() {
        let (settings, rest, errors) = take(&[
            ("WUD_TRIGGER_APPRISE_LOCAL_URL", "http://apprise:8000/"),
            ("WUD_TRIGGER_APPRISE_LOCAL_URLS", "mailto://u:p@gmail.com"),
            ("WUD_TRIGGER_APPRISE_LOCAL_MODE", "batch"),
            ("WUD_WATCHER_LOCAL_CRON", "0 * * * *"),
        ]);
        assert!(errors.is_empty(), "{errors:?}");
        assert!(settings.contains(&"trigger.http.local.url = \"http://apprise:8000/notify\" # WUD_TRIGGER_APPRISE_LOCAL_URL".to_string()), "{settings:#?}");
        assert!(settings.iter().any(|s| s.starts_with("trigger.http.local.body = \"{\\\"title\\\": {{json title}}, \\\"body\\\": {{json body}}, \\\"urls\\\": \\\"mailto://u:p@gmail.com\\\"}\"")), "{settings:#?}");
        assert_eq!(
            rest,
            [
                (
                    "WUD_TRIGGER_HTTP_LOCAL_MODE".to_string(),
                    "batch".to_string()
                ),
                (
                    "WUD_WATCHER_LOCAL_CRON".to_string(),
                    "0 * * * *".to_string()
                )
            ]
        );
        let (settings, _, _) = take(&[
            ("WUD_TRIGGER_APPRISE_LOCAL_URL", "http://apprise:8000"),
            ("WUD_TRIGGER_APPRISE_LOCAL_CONFIG", "ops"),
        ]);
        assert!(
            settings
                .iter()
                .any(|s| s
                    .starts_with("trigger.http.local.url = \"http://apprise:8000/notify/ops\"")),
            "{settings:#?}"
        );
        let (_, _, errors) = take(&[("WUD_TRIGGER_APPRISE_LOCAL_URL", "http://apprise:8000")]);
        assert_eq!(
            errors,
            ["WUD_TRIGGER_APPRISE_LOCAL_URLS: required (or CONFIG): the Apprise URLs to notify"]
        );
    }

    #[test]
    fn ifttt_posts_wuds_three_values_to_its_event() {
        let (settings, _, errors) = take(&[("WUD_TRIGGER_IFTTT_HOME_KEY", "k3y")]);
        assert!(errors.is_empty(), "{errors:?}");
        assert!(
            settings.iter().any(|s| s.starts_with(
                "trigger.http.home.url = \"https://maker.ifttt.com/trigger/wud-image/with/key/k3y\""
            )),
            "{settings:#?}"
        );
        let (_, _, errors) = take(&[("WUD_TRIGGER_IFTTT_HOME_EVENT", "x")]);
        assert_eq!(errors, ["WUD_TRIGGER_IFTTT_HOME_KEY: required"]);
    }

    #[test]
    fn rocketchat_posts_as_its_user_to_its_channel() {
        let (settings, _, errors) = take(&[
            ("WUD_TRIGGER_ROCKETCHAT_RC_URL", "https://chat.lan"),
            ("WUD_TRIGGER_ROCKETCHAT_RC_USER_ID", "uid"),
            ("WUD_TRIGGER_ROCKETCHAT_RC_AUTH_TOKEN", "tok"),
            ("WUD_TRIGGER_ROCKETCHAT_RC_CHANNEL_ID", "#ops"),
            ("WUD_TRIGGER_ROCKETCHAT_RC_PARSEURLS", "false"),
        ]);
        assert!(errors.is_empty(), "{errors:?}");
        assert!(
            settings.iter().any(|s| s
                .starts_with("trigger.http.rc.url = \"https://chat.lan/api/v1/chat.postMessage\"")),
            "{settings:#?}"
        );
        assert!(
            settings.iter().any(|s| s
                .starts_with("trigger.http.rc.headers = \"X-User-Id: uid; X-Auth-Token: tok\"")),
            "{settings:#?}"
        );
        assert!(
            settings
                .iter()
                .any(|s| s.contains("\\\"parseUrls\\\": false")),
            "{settings:#?}"
        );
        let (_, _, errors) = take(&[("WUD_TRIGGER_ROCKETCHAT_RC_URL", "https://chat.lan")]);
        assert_eq!(errors, ["WUD_TRIGGER_ROCKETCHAT_RC_USER_ID: required"]);
    }
}
