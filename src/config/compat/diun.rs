//! Diun's environment variables, read so a Diun setup switches by changing the image: its
//! schedule and Docker provider go to the `local` watcher, its notifiers to triggers named
//! `diun` (one per Telegram chat: `diunN`). Diun only notifies, so nothing here creates a
//! docker trigger. Diun sends a message per new image, as tidewatch's simple mode does.
//!
//! Its registry options (`DIUN_REGOPTS_*`) are registry logins, read by `diun_regopts`.
//!
//! Settings with no meaning here are warned about once, by name; a `DIUN_*` variable Diun does
//! not have, or a value that does not read, is an error naming it. Secrets given through
//! Diun's `…FILE` variables are read from their files.

use super::Setting;
use crate::config::error::{ConfigError, did_you_mean};
use figment::value::Value;

/// Every variable this reads, for the did-you-mean of a misspelt one.
const KNOWN: &[&str] = &[
    "DIUN_WATCH_SCHEDULE",
    "DIUN_WATCH_JITTER",
    "DIUN_WATCH_WORKERS",
    "DIUN_WATCH_FIRSTCHECKNOTIF",
    "DIUN_WATCH_RUNONSTARTUP",
    "DIUN_WATCH_COMPAREDIGEST",
    "DIUN_PROVIDERS_DOCKER",
    "DIUN_PROVIDERS_DOCKER_ENDPOINT",
    "DIUN_PROVIDERS_DOCKER_APIVERSION",
    "DIUN_PROVIDERS_DOCKER_TLSCERTSPATH",
    "DIUN_PROVIDERS_DOCKER_TLSVERIFY",
    "DIUN_PROVIDERS_DOCKER_WATCHBYDEFAULT",
    "DIUN_PROVIDERS_DOCKER_WATCHSTOPPED",
    "DIUN_DEFAULTS_INCLUDETAGS",
    "DIUN_DEFAULTS_EXCLUDETAGS",
    "DIUN_DEFAULTS_WATCHREPO",
    "DIUN_DEFAULTS_NOTIFYON",
    "DIUN_DEFAULTS_MAXTAGS",
    "DIUN_DEFAULTS_SORTTAGS",
    "DIUN_NOTIF_MAIL_HOST",
    "DIUN_NOTIF_MAIL_PORT",
    "DIUN_NOTIF_MAIL_SSL",
    "DIUN_NOTIF_MAIL_INSECURESKIPVERIFY",
    "DIUN_NOTIF_MAIL_USERNAME",
    "DIUN_NOTIF_MAIL_USERNAMEFILE",
    "DIUN_NOTIF_MAIL_PASSWORD",
    "DIUN_NOTIF_MAIL_PASSWORDFILE",
    "DIUN_NOTIF_MAIL_FROM",
    "DIUN_NOTIF_MAIL_TO",
    "DIUN_NOTIF_MAIL_LOCALNAME",
    "DIUN_NOTIF_MAIL_TEMPLATETITLE",
    "DIUN_NOTIF_MAIL_TEMPLATEBODY",
    "DIUN_NOTIF_SLACK_WEBHOOKURL",
    "DIUN_NOTIF_SLACK_WEBHOOKURLFILE",
    "DIUN_NOTIF_SLACK_RENDERFIELDS",
    "DIUN_NOTIF_SLACK_TEMPLATEBODY",
    "DIUN_NOTIF_TEAMS_WEBHOOKURL",
    "DIUN_NOTIF_TEAMS_WEBHOOKURLFILE",
    "DIUN_NOTIF_TEAMS_RENDERFACTS",
    "DIUN_NOTIF_TEAMS_TEMPLATEBODY",
    "DIUN_NOTIF_DISCORD_WEBHOOKURL",
    "DIUN_NOTIF_DISCORD_WEBHOOKURLFILE",
    "DIUN_NOTIF_DISCORD_MENTIONS",
    "DIUN_NOTIF_DISCORD_RENDERFIELDS",
    "DIUN_NOTIF_DISCORD_TIMEOUT",
    "DIUN_NOTIF_DISCORD_TEMPLATEBODY",
    "DIUN_NOTIF_TELEGRAM_TOKEN",
    "DIUN_NOTIF_TELEGRAM_TOKENFILE",
    "DIUN_NOTIF_TELEGRAM_CHATIDS",
    "DIUN_NOTIF_TELEGRAM_CHATIDSFILE",
    "DIUN_NOTIF_TELEGRAM_TEMPLATEBODY",
    "DIUN_NOTIF_TELEGRAM_DISABLENOTIFICATION",
    "DIUN_NOTIF_GOTIFY_ENDPOINT",
    "DIUN_NOTIF_GOTIFY_TOKEN",
    "DIUN_NOTIF_GOTIFY_TOKENFILE",
    "DIUN_NOTIF_GOTIFY_PRIORITY",
    "DIUN_NOTIF_GOTIFY_TIMEOUT",
    "DIUN_NOTIF_GOTIFY_TEMPLATETITLE",
    "DIUN_NOTIF_GOTIFY_TEMPLATEBODY",
    "DIUN_NOTIF_NTFY_ENDPOINT",
    "DIUN_NOTIF_NTFY_TOPIC",
    "DIUN_NOTIF_NTFY_PRIORITY",
    "DIUN_NOTIF_NTFY_TOKEN",
    "DIUN_NOTIF_NTFY_TOKENFILE",
    "DIUN_NOTIF_NTFY_TAGS",
    "DIUN_NOTIF_NTFY_TIMEOUT",
    "DIUN_NOTIF_NTFY_TEMPLATETITLE",
    "DIUN_NOTIF_NTFY_TEMPLATEBODY",
    "DIUN_NOTIF_WEBHOOK_ENDPOINT",
    "DIUN_NOTIF_WEBHOOK_METHOD",
    "DIUN_NOTIF_WEBHOOK_TIMEOUT",
    "DIUN_NOTIF_WEBHOOK_PROXY",
    "DIUN_DB_PATH",
    // Diun's keys with no meaning here, warned like the others.
    "DIUN_NOTIF_SLACK_PROXY",
    "DIUN_NOTIF_TEAMS_CARDTYPE",
    "DIUN_NOTIF_TEAMS_TIMEOUT",
    "DIUN_NOTIF_TEAMS_PROXY",
    "DIUN_NOTIF_TEAMS_TLSSKIPVERIFY",
    "DIUN_NOTIF_TEAMS_TLSCACERTFILES",
    "DIUN_NOTIF_DISCORD_RENDEREMBEDS",
    "DIUN_NOTIF_DISCORD_PROXY",
    "DIUN_NOTIF_TELEGRAM_APIURL",
    "DIUN_NOTIF_TELEGRAM_PROXY",
    "DIUN_NOTIF_GOTIFY_PROXY",
    "DIUN_NOTIF_GOTIFY_TLSSKIPVERIFY",
    "DIUN_NOTIF_GOTIFY_TLSCACERTFILES",
    "DIUN_NOTIF_NTFY_ICON",
    "DIUN_NOTIF_NTFY_CLICK",
    "DIUN_NOTIF_NTFY_PROXY",
    "DIUN_NOTIF_NTFY_TLSSKIPVERIFY",
    "DIUN_NOTIF_NTFY_TLSCACERTFILES",
    "DIUN_NOTIF_WEBHOOK_TLSSKIPVERIFY",
    "DIUN_NOTIF_WEBHOOK_TLSCACERTFILES",
    "DIUN_NOTIF_PUSHOVER_TOKEN",
    "DIUN_NOTIF_PUSHOVER_TOKENFILE",
    "DIUN_NOTIF_PUSHOVER_RECIPIENT",
    "DIUN_NOTIF_PUSHOVER_RECIPIENTFILE",
    "DIUN_NOTIF_PUSHOVER_PRIORITY",
    "DIUN_NOTIF_PUSHOVER_SOUND",
    "DIUN_NOTIF_PUSHOVER_TIMEOUT",
    "DIUN_NOTIF_PUSHOVER_TEMPLATETITLE",
    "DIUN_NOTIF_PUSHOVER_TEMPLATEBODY",
    "DIUN_NOTIF_MATRIX_HOMESERVERURL",
    "DIUN_NOTIF_MATRIX_USER",
    "DIUN_NOTIF_MATRIX_PASSWORD",
    "DIUN_NOTIF_MATRIX_PASSWORDFILE",
    "DIUN_NOTIF_MATRIX_ROOMID",
    "DIUN_NOTIF_MATRIX_MSGTYPE",
    "DIUN_NOTIF_MATRIX_TEMPLATEBODY",
];

/// The notifier variables read; Diun's others (its templates, mentions, fields) are warned
/// about.
const NOTIF_READ: &[&str] = &[
    "DIUN_NOTIF_MAIL_HOST",
    "DIUN_NOTIF_MAIL_PORT",
    "DIUN_NOTIF_MAIL_SSL",
    "DIUN_NOTIF_MAIL_INSECURESKIPVERIFY",
    "DIUN_NOTIF_MAIL_USERNAME",
    "DIUN_NOTIF_MAIL_USERNAMEFILE",
    "DIUN_NOTIF_MAIL_PASSWORD",
    "DIUN_NOTIF_MAIL_PASSWORDFILE",
    "DIUN_NOTIF_MAIL_FROM",
    "DIUN_NOTIF_MAIL_TO",
    "DIUN_NOTIF_SLACK_WEBHOOKURL",
    "DIUN_NOTIF_SLACK_WEBHOOKURLFILE",
    "DIUN_NOTIF_TEAMS_WEBHOOKURL",
    "DIUN_NOTIF_TEAMS_WEBHOOKURLFILE",
    "DIUN_NOTIF_DISCORD_WEBHOOKURL",
    "DIUN_NOTIF_DISCORD_WEBHOOKURLFILE",
    "DIUN_NOTIF_DISCORD_TIMEOUT",
    "DIUN_NOTIF_TELEGRAM_TOKEN",
    "DIUN_NOTIF_TELEGRAM_TOKENFILE",
    "DIUN_NOTIF_TELEGRAM_CHATIDS",
    "DIUN_NOTIF_TELEGRAM_CHATIDSFILE",
    "DIUN_NOTIF_GOTIFY_ENDPOINT",
    "DIUN_NOTIF_GOTIFY_TOKEN",
    "DIUN_NOTIF_GOTIFY_TOKENFILE",
    "DIUN_NOTIF_GOTIFY_PRIORITY",
    "DIUN_NOTIF_GOTIFY_TIMEOUT",
    "DIUN_NOTIF_NTFY_ENDPOINT",
    "DIUN_NOTIF_NTFY_TOPIC",
    "DIUN_NOTIF_NTFY_PRIORITY",
    "DIUN_NOTIF_NTFY_TOKEN",
    "DIUN_NOTIF_NTFY_TOKENFILE",
    "DIUN_NOTIF_NTFY_TIMEOUT",
    "DIUN_NOTIF_WEBHOOK_ENDPOINT",
    "DIUN_NOTIF_WEBHOOK_METHOD",
    "DIUN_NOTIF_WEBHOOK_TIMEOUT",
    "DIUN_NOTIF_WEBHOOK_PROXY",
    "DIUN_NOTIF_PUSHOVER_TOKEN",
    "DIUN_NOTIF_PUSHOVER_TOKENFILE",
    "DIUN_NOTIF_PUSHOVER_RECIPIENT",
    "DIUN_NOTIF_PUSHOVER_RECIPIENTFILE",
    "DIUN_NOTIF_PUSHOVER_PRIORITY",
    "DIUN_NOTIF_MATRIX_HOMESERVERURL",
    "DIUN_NOTIF_MATRIX_USER",
    "DIUN_NOTIF_MATRIX_PASSWORD",
    "DIUN_NOTIF_MATRIX_PASSWORDFILE",
    "DIUN_NOTIF_MATRIX_ROOMID",
];

/// Diun's sections tidewatch has no equivalent for: warned, not refused, so the setup starts.
const OTHER_SECTIONS: &[&str] = &[
    "DIUN_PROVIDERS_SWARM",
    "DIUN_PROVIDERS_KUBERNETES",
    "DIUN_PROVIDERS_NOMAD",
    "DIUN_PROVIDERS_FILE",
    "DIUN_PROVIDERS_DOCKERFILE",
    "DIUN_PROVIDERS_CONTAINERD",
    "DIUN_METRICS_",
    "DIUN_DEFAULTS_METADATA_",
    "DIUN_WATCH_HEALTHCHECKS_",
    "DIUN_NOTIF_AMQP_",
    "DIUN_NOTIF_APPRISE_",
    "DIUN_NOTIF_ELASTICSEARCH_",
    "DIUN_NOTIF_MQTT_",
    "DIUN_NOTIF_ROCKETCHAT_",
    "DIUN_NOTIF_SCRIPT_",
    "DIUN_NOTIF_SIGNALREST_",
];

fn boolean(name: &str, value: &str, errors: &mut Vec<ConfigError>) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" | "" => Some(false),
        _ => {
            errors.push(ConfigError::new(name, "expected true or false"));
            None
        }
    }
}

/// Diun's regular-expression lists (`;`-separated) as one expression: its variables' and its
/// labels' (`diun.include_tags`) alike.
pub fn regex_list(value: &str) -> String {
    let parts: Vec<&str> = value
        .split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    match parts.as_slice() {
        [one] => one.to_string(),
        many => many
            .iter()
            .map(|p| format!("(?:{p})"))
            .collect::<Vec<_>>()
            .join("|"),
    }
}

/// What Diun's `notify_on` (`diun.notify_on`, `DIUN_DEFAULTS_NOTIFYON`) asks for: whether a new
/// tag (`new`) and a new image behind the tag (`update`) are reported. A list separated by `;`
/// (the label's) or `,` (the variable's); empty is Diun's default, both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotifyOn {
    pub new: bool,
    pub update: bool,
}

impl Default for NotifyOn {
    fn default() -> Self {
        NotifyOn {
            new: true,
            update: true,
        }
    }
}

/// Reads a `notify_on` list; the message never quotes the value.
pub fn notify_on(value: &str) -> Result<NotifyOn, String> {
    let parts: Vec<String> = value
        .split([';', ','])
        .map(|p| p.trim().to_ascii_lowercase())
        .filter(|p| !p.is_empty())
        .collect();
    if parts.is_empty() {
        return Ok(NotifyOn::default());
    }
    let mut on = NotifyOn {
        new: false,
        update: false,
    };
    for part in parts {
        match part.as_str() {
            "new" => on.new = true,
            "update" => on.update = true,
            _ => return Err("expected new, update, or both (`new;update`)".into()),
        }
    }
    Ok(on)
}

/// The settings Diun's variables make.
pub fn map(
    vars: &[(String, String)],
    errors: &mut Vec<ConfigError>,
    warnings: &mut Vec<String>,
) -> Vec<Setting> {
    let mut out = Vec::new();
    let get = |name: &str| vars.iter().find(|(n, _)| n == name).map(|(_, v)| v.trim());
    let diun: Vec<&(String, String)> = vars
        .iter()
        .filter(|(n, _)| n.starts_with("DIUN_"))
        .collect();
    if diun.is_empty() {
        return out;
    }
    let known: Vec<String> = KNOWN.iter().map(|k| k.to_ascii_lowercase()).collect();
    let known: Vec<&str> = known.iter().map(String::as_str).collect();
    // A secret, from `NAME` or from the file `NAMEFILE` names.
    let secret = |name: &str, errors: &mut Vec<ConfigError>| -> Option<(String, String)> {
        if let Some(value) = get(name) {
            return Some((name.to_string(), value.to_string()));
        }
        let file_var = format!("{name}FILE");
        let path = get(&file_var)?;
        let read = crate::config::file::read_to_string(
            std::path::Path::new(path),
            crate::config::file::SECRET_LIMIT,
        );
        match read {
            Ok(text) => Some((file_var, text.trim().to_string())),
            Err(err) => {
                errors.push(ConfigError::new(&file_var, err.to_string()));
                None
            }
        }
    };
    let mut set = |origin: &str, path: &[&str], value: Value| {
        out.push(Setting::new(origin, path, value));
    };
    for (name, value) in &diun {
        let name = name.as_str();
        if KNOWN.contains(&name) {
            match name {
                "DIUN_WATCH_SCHEDULE" => {
                    set(name, &["watcher", "local", "cron"], value.trim().into());
                }
                "DIUN_WATCH_JITTER" => match super::watchtower::seconds(value) {
                    Some(s) => set(name, &["watcher", "local", "jitter"], (s * 1000).into()),
                    None => errors.push(ConfigError::new(
                        name,
                        "expected a duration such as 30s or 1m",
                    )),
                },
                "DIUN_PROVIDERS_DOCKER" => {
                    boolean(name, value, errors);
                }
                "DIUN_PROVIDERS_DOCKER_WATCHBYDEFAULT" => {
                    if let Some(b) = boolean(name, value, errors) {
                        set(name, &["watcher", "local", "watchbydefault"], b.into());
                    }
                }
                "DIUN_PROVIDERS_DOCKER_WATCHSTOPPED" => {
                    if let Some(b) = boolean(name, value, errors) {
                        set(name, &["watcher", "local", "watchall"], b.into());
                    }
                }
                "DIUN_PROVIDERS_DOCKER_ENDPOINT" => {
                    let value = value.trim();
                    if let Some(path) = value.strip_prefix("unix://") {
                        set(name, &["watcher", "local", "socket"], path.into());
                    } else if let Some(addr) = value.strip_prefix("tcp://") {
                        let addr = addr.trim_end_matches('/');
                        match addr.rsplit_once(':').map(|(h, p)| (h, p.parse::<u16>())) {
                            Some((host, Ok(port))) => {
                                set(name, &["watcher", "local", "host"], host.into());
                                set(name, &["watcher", "local", "port"], port.into());
                            }
                            Some((_, Err(_))) => {
                                errors.push(ConfigError::new(name, "port is not a number"))
                            }
                            None => set(name, &["watcher", "local", "host"], addr.into()),
                        }
                    } else {
                        errors.push(ConfigError::new(
                            name,
                            "expected unix:///path/to/docker.sock or tcp://host:port",
                        ));
                    }
                }
                "DIUN_PROVIDERS_DOCKER_TLSCERTSPATH" => {
                    let dir = std::path::Path::new(value.trim());
                    for (key, file) in [
                        ("cafile", "ca.pem"),
                        ("certfile", "cert.pem"),
                        ("keyfile", "key.pem"),
                    ] {
                        let path = dir.join(file).display().to_string();
                        set(name, &["watcher", "local", key], path.into());
                    }
                }
                "DIUN_DEFAULTS_INCLUDETAGS" => {
                    set(
                        name,
                        &["watcher", "local", "tag", "include"],
                        regex_list(value).into(),
                    );
                }
                "DIUN_DEFAULTS_EXCLUDETAGS" => {
                    set(
                        name,
                        &["watcher", "local", "tag", "exclude"],
                        regex_list(value).into(),
                    );
                }
                "DIUN_DEFAULTS_WATCHREPO" => {
                    if let Some(b) = boolean(name, value, errors) {
                        set(name, &["watcher", "local", "diun", "watchrepo"], b.into());
                    }
                }
                "DIUN_DEFAULTS_NOTIFYON" => match notify_on(value) {
                    Ok(_) => set(
                        name,
                        &["watcher", "local", "diun", "notifyon"],
                        value.trim().into(),
                    ),
                    Err(message) => errors.push(ConfigError::new(name, message)),
                },
                "DIUN_DEFAULTS_MAXTAGS" => match value.trim().parse::<u32>() {
                    Ok(n) => set(name, &["watcher", "local", "diun", "maxtags"], n.into()),
                    Err(_) => {
                        errors.push(ConfigError::new(name, "expected a whole number, 0 or more"))
                    }
                },
                // Read with their notifier below.
                n if NOTIF_READ.contains(&n) => {}
                _ => warnings.push(format!(
                    "{name}: ignored, Diun's setting has no equivalent here"
                )),
            }
        } else if name.starts_with("DIUN_NOTIF_WEBHOOK_HEADERS_") {
            // Read with the webhook below.
        } else if name.starts_with("DIUN_REGOPTS_") {
            // Read by `diun_regopts` below.
        } else if OTHER_SECTIONS.iter().any(|s| name.starts_with(s)) {
            warnings.push(format!(
                "{name}: ignored, Diun's setting has no equivalent here"
            ));
        } else {
            let mut message = "not a Diun setting this version reads".to_string();
            if let Some(close) = did_you_mean(&name.to_ascii_lowercase(), &known) {
                message.push_str(&format!(", did you mean `{}`?", close.to_ascii_uppercase()));
            }
            errors.push(ConfigError::new(name, message));
        }
    }
    // Diun watches no container by default; its `diun.enable` label opts one in.
    if get("DIUN_PROVIDERS_DOCKER_WATCHBYDEFAULT").is_none() {
        set(
            "DIUN_PROVIDERS_DOCKER_WATCHBYDEFAULT (Diun's default)",
            &["watcher", "local", "watchbydefault"],
            false.into(),
        );
    }
    // Diun follows a container's own tag only (a new image behind it) unless told to watch
    // the repository: so does a Diun setup here, where tidewatch would offer newer tags.
    if get("DIUN_DEFAULTS_WATCHREPO").is_none() {
        set(
            "DIUN_DEFAULTS_WATCHREPO (Diun's default)",
            &["watcher", "local", "diun", "watchrepo"],
            false.into(),
        );
    }
    // Diun's command-line settings, which its compose examples set as `LOG_LEVEL` and
    // `LOG_JSON`: read in a Diun setup only, where these plain names are Diun's.
    if let Some(level) = get("LOG_LEVEL") {
        match level.to_ascii_lowercase().as_str() {
            l @ ("trace" | "debug" | "info" | "warn" | "error") => {
                set("LOG_LEVEL", &["log", "level"], l.into());
            }
            // Diun's levels past `error` mean "only what stops it": errors here.
            "fatal" | "panic" | "disabled" => {
                set("LOG_LEVEL", &["log", "level"], "error".into());
            }
            _ => errors.push(ConfigError::new(
                "LOG_LEVEL",
                "expected trace, debug, info, warn, error, fatal, panic or disabled (Diun's levels)",
            )),
        }
    }
    if let Some(json) = get("LOG_JSON")
        && boolean("LOG_JSON", json, errors) == Some(true)
    {
        set("LOG_JSON", &["log", "format"], "json".into());
    }
    for name in ["LOG_CALLER", "LOG_NOCOLOR"] {
        if get(name).is_some() {
            warnings.push(format!(
                "{name}: ignored, Diun's setting has no equivalent here"
            ));
        }
    }
    // Notifiers: present when their address is set.
    if let Some(host) = get("DIUN_NOTIF_MAIL_HOST") {
        let t = ["trigger", "smtp", "diun"];
        let key = |k: &'static str| [t[0], t[1], t[2], k];
        set("DIUN_NOTIF_MAIL_HOST", &key("host"), host.into());
        let port = match get("DIUN_NOTIF_MAIL_PORT") {
            None => Some(25u16),
            Some(p) => match p.parse::<u16>() {
                Ok(p) => Some(p),
                Err(_) => {
                    errors.push(ConfigError::new(
                        "DIUN_NOTIF_MAIL_PORT",
                        "expected a port number",
                    ));
                    None
                }
            },
        };
        if let Some(port) = port {
            set("DIUN_NOTIF_MAIL_PORT", &key("port"), port.into());
        }
        if let Some(ssl) = get("DIUN_NOTIF_MAIL_SSL")
            && let Some(b) = boolean("DIUN_NOTIF_MAIL_SSL", ssl, errors)
        {
            set(
                "DIUN_NOTIF_MAIL_SSL",
                &["trigger", "smtp", "diun", "tls", "enabled"],
                b.into(),
            );
        }
        if let Some(v) = get("DIUN_NOTIF_MAIL_INSECURESKIPVERIFY")
            && boolean("DIUN_NOTIF_MAIL_INSECURESKIPVERIFY", v, errors) == Some(true)
        {
            set(
                "DIUN_NOTIF_MAIL_INSECURESKIPVERIFY",
                &["trigger", "smtp", "diun", "tls", "verify"],
                false.into(),
            );
        }
        if let Some((origin, user)) = secret("DIUN_NOTIF_MAIL_USERNAME", errors) {
            set(&origin, &key("user"), user.into());
        }
        if let Some((origin, pass)) = secret("DIUN_NOTIF_MAIL_PASSWORD", errors) {
            set(&origin, &key("pass"), pass.into());
        }
        for (var, k) in [
            ("DIUN_NOTIF_MAIL_FROM", "from"),
            ("DIUN_NOTIF_MAIL_TO", "to"),
        ] {
            match get(var) {
                Some(v) => set(var, &key(k), v.into()),
                None => errors.push(ConfigError::new(var, "required with DIUN_NOTIF_MAIL_HOST")),
            }
        }
    }
    for (kind, var, trigger) in [
        ("SLACK", "DIUN_NOTIF_SLACK_WEBHOOKURL", "slack"),
        ("TEAMS", "DIUN_NOTIF_TEAMS_WEBHOOKURL", "teams"),
        ("DISCORD", "DIUN_NOTIF_DISCORD_WEBHOOKURL", "discord"),
    ] {
        if let Some((origin, url)) = secret(var, errors) {
            set(&origin, &["trigger", trigger, "diun", "url"], url.into());
            if kind == "TEAMS" {
                set(
                    &origin,
                    &["trigger", "teams", "diun", "card"],
                    "messagecard".into(),
                );
            }
        }
    }
    if let Some((origin, token)) = secret("DIUN_NOTIF_TELEGRAM_TOKEN", errors) {
        let chats = match secret("DIUN_NOTIF_TELEGRAM_CHATIDS", errors) {
            Some((_, chats)) => chats,
            None => {
                errors.push(ConfigError::new(
                    "DIUN_NOTIF_TELEGRAM_CHATIDS",
                    "required with DIUN_NOTIF_TELEGRAM_TOKEN",
                ));
                String::new()
            }
        };
        let chats: Vec<&str> = chats
            .split(',')
            .map(|c| c.trim().trim_matches(['[', ']', '"']))
            .filter(|c| !c.is_empty())
            .collect();
        for (i, chat) in chats.iter().enumerate() {
            let name = match chats.len() {
                1 => "diun".to_string(),
                _ => format!("diun{}", i + 1),
            };
            // Diun's `chatid:topic` posts in a forum topic.
            let (chat, topic) = match chat.split_once(':') {
                Some((chat, topic)) => (chat, Some(topic)),
                None => (*chat, None),
            };
            let t = |k: &'static str| ["trigger", "telegram", "", k];
            let path = |k: &'static str| {
                let mut p = t(k).map(str::to_string).to_vec();
                p[2] = name.clone();
                p
            };
            let push = |out: &mut Vec<Setting>, k: &'static str, o: &str, v: Value| {
                let p = path(k);
                let p: Vec<&str> = p.iter().map(String::as_str).collect();
                out.push(Setting::new(o, &p, v));
            };
            push(&mut out, "bottoken", &origin, token.clone().into());
            push(
                &mut out,
                "chatid",
                "DIUN_NOTIF_TELEGRAM_CHATIDS",
                chat.into(),
            );
            if let Some(topic) = topic {
                match topic.parse::<i64>() {
                    Ok(t) => push(
                        &mut out,
                        "messagethreadid",
                        "DIUN_NOTIF_TELEGRAM_CHATIDS",
                        t.into(),
                    ),
                    Err(_) => errors.push(ConfigError::new(
                        "DIUN_NOTIF_TELEGRAM_CHATIDS",
                        "a topic after `:` is a number",
                    )),
                }
            }
        }
    }
    let mut set = |origin: &str, path: &[&str], value: Value| {
        out.push(Setting::new(origin, path, value));
    };
    if let Some(endpoint) = get("DIUN_NOTIF_GOTIFY_ENDPOINT") {
        set(
            "DIUN_NOTIF_GOTIFY_ENDPOINT",
            &["trigger", "gotify", "diun", "url"],
            endpoint.into(),
        );
        if let Some((origin, token)) = secret("DIUN_NOTIF_GOTIFY_TOKEN", errors) {
            set(
                &origin,
                &["trigger", "gotify", "diun", "token"],
                token.into(),
            );
        }
        if let Some(p) = get("DIUN_NOTIF_GOTIFY_PRIORITY") {
            match p.parse::<u8>() {
                Ok(p) => set(
                    "DIUN_NOTIF_GOTIFY_PRIORITY",
                    &["trigger", "gotify", "diun", "priority"],
                    p.into(),
                ),
                Err(_) => errors.push(ConfigError::new(
                    "DIUN_NOTIF_GOTIFY_PRIORITY",
                    "expected a number",
                )),
            }
        }
    }
    if let Some((origin, token)) = secret("DIUN_NOTIF_PUSHOVER_TOKEN", errors) {
        set(
            &origin,
            &["trigger", "pushover", "diun", "token"],
            token.into(),
        );
        match secret("DIUN_NOTIF_PUSHOVER_RECIPIENT", errors) {
            Some((origin, user)) => set(
                &origin,
                &["trigger", "pushover", "diun", "user"],
                user.into(),
            ),
            None => errors.push(ConfigError::new(
                "DIUN_NOTIF_PUSHOVER_RECIPIENT",
                "required with DIUN_NOTIF_PUSHOVER_TOKEN",
            )),
        }
        if let Some(p) = get("DIUN_NOTIF_PUSHOVER_PRIORITY") {
            match p.parse::<i8>() {
                Ok(p @ -2..=2) => set(
                    "DIUN_NOTIF_PUSHOVER_PRIORITY",
                    &["trigger", "pushover", "diun", "priority"],
                    // Emergency (2) needs retry and expiry, which Diun does not send either;
                    // Pushover takes it as high.
                    p.min(1).into(),
                ),
                _ => errors.push(ConfigError::new(
                    "DIUN_NOTIF_PUSHOVER_PRIORITY",
                    "expected -2 to 2",
                )),
            }
        }
    }
    if let Some(room) = get("DIUN_NOTIF_MATRIX_ROOMID") {
        let url = get("DIUN_NOTIF_MATRIX_HOMESERVERURL").unwrap_or("https://matrix.org");
        set(
            "DIUN_NOTIF_MATRIX_HOMESERVERURL",
            &["trigger", "matrix", "diun", "url"],
            url.into(),
        );
        set(
            "DIUN_NOTIF_MATRIX_ROOMID",
            &["trigger", "matrix", "diun", "rooms"],
            room.into(),
        );
        match get("DIUN_NOTIF_MATRIX_USER") {
            Some(user) => set(
                "DIUN_NOTIF_MATRIX_USER",
                &["trigger", "matrix", "diun", "user"],
                user.into(),
            ),
            None => errors.push(ConfigError::new(
                "DIUN_NOTIF_MATRIX_USER",
                "required with DIUN_NOTIF_MATRIX_ROOMID",
            )),
        }
        match secret("DIUN_NOTIF_MATRIX_PASSWORD", errors) {
            Some((origin, password)) => set(
                &origin,
                &["trigger", "matrix", "diun", "password"],
                password.into(),
            ),
            None => errors.push(ConfigError::new(
                "DIUN_NOTIF_MATRIX_PASSWORD",
                "required with DIUN_NOTIF_MATRIX_ROOMID",
            )),
        }
    }
    if let Some(topic) = get("DIUN_NOTIF_NTFY_TOPIC") {
        let url = get("DIUN_NOTIF_NTFY_ENDPOINT").unwrap_or("https://ntfy.sh");
        set(
            "DIUN_NOTIF_NTFY_ENDPOINT",
            &["trigger", "ntfy", "diun", "url"],
            url.into(),
        );
        set(
            "DIUN_NOTIF_NTFY_TOPIC",
            &["trigger", "ntfy", "diun", "topic"],
            topic.into(),
        );
        if let Some(p) = get("DIUN_NOTIF_NTFY_PRIORITY") {
            match p.parse::<u8>() {
                Ok(p) => set(
                    "DIUN_NOTIF_NTFY_PRIORITY",
                    &["trigger", "ntfy", "diun", "priority"],
                    p.into(),
                ),
                Err(_) => errors.push(ConfigError::new(
                    "DIUN_NOTIF_NTFY_PRIORITY",
                    "expected 1 to 5",
                )),
            }
        }
        if let Some((origin, token)) = secret("DIUN_NOTIF_NTFY_TOKEN", errors) {
            set(
                &origin,
                &["trigger", "ntfy", "diun", "auth", "token"],
                token.into(),
            );
        }
    }
    if let Some(endpoint) = get("DIUN_NOTIF_WEBHOOK_ENDPOINT") {
        set(
            "DIUN_NOTIF_WEBHOOK_ENDPOINT",
            &["trigger", "http", "diun", "url"],
            endpoint.into(),
        );
        // Diun's receivers read Diun's JSON.
        set(
            "DIUN_NOTIF_WEBHOOK_ENDPOINT (Diun's body)",
            &["trigger", "http", "diun", "format"],
            "diun".into(),
        );
        if let Some(proxy) = get("DIUN_NOTIF_WEBHOOK_PROXY") {
            set(
                "DIUN_NOTIF_WEBHOOK_PROXY",
                &["trigger", "http", "diun", "proxy"],
                proxy.into(),
            );
        }
        // Diun's default method is GET, its JSON as the body.
        match get("DIUN_NOTIF_WEBHOOK_METHOD") {
            Some(method) => set(
                "DIUN_NOTIF_WEBHOOK_METHOD",
                &["trigger", "http", "diun", "method"],
                method.to_ascii_uppercase().into(),
            ),
            None => set(
                "DIUN_NOTIF_WEBHOOK_ENDPOINT (Diun's method)",
                &["trigger", "http", "diun", "method"],
                "GET".into(),
            ),
        }
        let mut headers: Vec<String> = Vec::new();
        for (n, v) in vars {
            let Some(header) = n.strip_prefix("DIUN_NOTIF_WEBHOOK_HEADERS_") else {
                continue;
            };
            let header = header.to_ascii_lowercase();
            // Diun's documented example sets `content-type: application/json`: here that is
            // the trigger's own key, not a header.
            if header == "content-type" || header == "content_type" {
                set(
                    n,
                    &["trigger", "http", "diun", "contenttype"],
                    v.trim().into(),
                );
            } else {
                headers.push(format!("{header}: {}", v.trim()));
            }
        }
        if !headers.is_empty() {
            set(
                "DIUN_NOTIF_WEBHOOK_HEADERS_*",
                &["trigger", "http", "diun", "headers"],
                headers.join("; ").into(),
            );
        }
    }
    for (var, trigger) in [
        ("DIUN_NOTIF_DISCORD_TIMEOUT", "discord"),
        ("DIUN_NOTIF_GOTIFY_TIMEOUT", "gotify"),
        ("DIUN_NOTIF_NTFY_TIMEOUT", "ntfy"),
        ("DIUN_NOTIF_WEBHOOK_TIMEOUT", "http"),
    ] {
        if let Some(value) = get(var) {
            match super::watchtower::seconds(value) {
                Some(s) => set(var, &["trigger", trigger, "diun", "timeout"], s.into()),
                None => errors.push(ConfigError::new(var, "expected a duration such as 10s")),
            }
        }
    }
    out.extend(super::diun_regopts::map(&diun, errors, warnings));
    out
}
