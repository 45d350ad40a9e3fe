//! Watchtower's settings, read so a Watchtower setup switches by changing the image and nothing
//! else: its `WATCHTOWER_*` variables and, with the same meaning, its command-line flags (most
//! Watchtower users pass `command: --interval 300 --cleanup`). A flag wins over its variable,
//! as in Watchtower. The schedule and container selection go to the `local` watcher, the
//! update options to a docker trigger named `watchtower`, created whenever any Watchtower
//! setting is given (Watchtower always updates, unless told `--monitor-only`). A setting made
//! the tidewatch way (variable, WUD variable or file) wins over Watchtower's. Settings with no
//! meaning here are warned about once, by name; Watchtower's HTTP API settings configure the
//! server's `/v1/update`; a value that cannot be read, or a
//! `WATCHTOWER_*` variable Watchtower does not have, is an error naming it.

use crate::config::Origin;
use crate::config::error::{ConfigError, did_you_mean};

/// One Watchtower option as its `flags.go` declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag {
    /// The long flag, without its dashes.
    pub long: &'static str,
    pub short: Option<char>,
    /// The variable with the same meaning (Watchtower binds each flag to one).
    pub var: &'static str,
    /// Takes a value; otherwise a switch (`--cleanup`, or `--cleanup=false`).
    pub takes_value: bool,
    /// May be given several times (`--notification-url a --notification-url b`).
    pub repeated: bool,
}

const fn switch(long: &'static str, short: Option<char>, var: &'static str) -> Flag {
    Flag {
        long,
        short,
        var,
        takes_value: false,
        repeated: false,
    }
}

const fn value(long: &'static str, short: Option<char>, var: &'static str) -> Flag {
    Flag {
        long,
        short,
        var,
        takes_value: true,
        repeated: false,
    }
}

const fn values(long: &'static str, short: Option<char>, var: &'static str) -> Flag {
    Flag {
        long,
        short,
        var,
        takes_value: true,
        repeated: true,
    }
}

/// Every flag of Watchtower 1.7 (containrrr) and of the maintained nicholas-fedor fork.
pub const FLAGS: &[Flag] = &[
    value("host", Some('H'), "DOCKER_HOST"),
    switch("tlsverify", Some('v'), "DOCKER_TLS_VERIFY"),
    value("api-version", Some('a'), "DOCKER_API_VERSION"),
    value("interval", Some('i'), "WATCHTOWER_POLL_INTERVAL"),
    value("schedule", Some('s'), "WATCHTOWER_SCHEDULE"),
    value("stop-timeout", Some('t'), "WATCHTOWER_TIMEOUT"),
    switch("no-pull", None, "WATCHTOWER_NO_PULL"),
    switch("no-restart", None, "WATCHTOWER_NO_RESTART"),
    switch("no-startup-message", None, "WATCHTOWER_NO_STARTUP_MESSAGE"),
    switch("cleanup", Some('c'), "WATCHTOWER_CLEANUP"),
    switch("remove-volumes", None, "WATCHTOWER_REMOVE_VOLUMES"),
    switch("label-enable", Some('e'), "WATCHTOWER_LABEL_ENABLE"),
    values(
        "disable-containers",
        Some('x'),
        "WATCHTOWER_DISABLE_CONTAINERS",
    ),
    switch("debug", Some('d'), "WATCHTOWER_DEBUG"),
    switch("trace", None, "WATCHTOWER_TRACE"),
    switch("monitor-only", Some('m'), "WATCHTOWER_MONITOR_ONLY"),
    switch("run-once", Some('R'), "WATCHTOWER_RUN_ONCE"),
    switch("include-restarting", None, "WATCHTOWER_INCLUDE_RESTARTING"),
    switch("include-stopped", Some('S'), "WATCHTOWER_INCLUDE_STOPPED"),
    switch("revive-stopped", None, "WATCHTOWER_REVIVE_STOPPED"),
    switch("enable-lifecycle-hooks", None, "WATCHTOWER_LIFECYCLE_HOOKS"),
    switch("rolling-restart", None, "WATCHTOWER_ROLLING_RESTART"),
    switch(
        "label-take-precedence",
        None,
        "WATCHTOWER_LABEL_TAKE_PRECEDENCE",
    ),
    switch("http-api-update", None, "WATCHTOWER_HTTP_API_UPDATE"),
    switch("http-api-metrics", None, "WATCHTOWER_HTTP_API_METRICS"),
    value("http-api-token", None, "WATCHTOWER_HTTP_API_TOKEN"),
    switch(
        "http-api-periodic-polls",
        None,
        "WATCHTOWER_HTTP_API_PERIODIC_POLLS",
    ),
    switch("no-color", None, "NO_COLOR"),
    value("scope", None, "WATCHTOWER_SCOPE"),
    value("porcelain", Some('P'), "WATCHTOWER_PORCELAIN"),
    value("log-format", Some('l'), "WATCHTOWER_LOG_FORMAT"),
    value("log-level", None, "WATCHTOWER_LOG_LEVEL"),
    value(
        "warn-on-head-failure",
        None,
        "WATCHTOWER_WARN_ON_HEAD_FAILURE",
    ),
    switch("health-check", None, "WATCHTOWER_HEALTH_CHECK"),
    switch("update-on-start", None, "WATCHTOWER_UPDATE_ON_START"),
    switch(
        "disable-memory-swappiness",
        None,
        "WATCHTOWER_DISABLE_MEMORY_SWAPPINESS",
    ),
    value("cpu-copy-mode", None, "WATCHTOWER_CPU_COPY_MODE"),
    values("notifications", Some('n'), "WATCHTOWER_NOTIFICATIONS"),
    value(
        "notifications-level",
        None,
        "WATCHTOWER_NOTIFICATIONS_LEVEL",
    ),
    value(
        "notifications-delay",
        None,
        "WATCHTOWER_NOTIFICATIONS_DELAY",
    ),
    value(
        "notifications-hostname",
        None,
        "WATCHTOWER_NOTIFICATIONS_HOSTNAME",
    ),
    value(
        "notification-email-from",
        None,
        "WATCHTOWER_NOTIFICATION_EMAIL_FROM",
    ),
    value(
        "notification-email-to",
        None,
        "WATCHTOWER_NOTIFICATION_EMAIL_TO",
    ),
    value(
        "notification-email-delay",
        None,
        "WATCHTOWER_NOTIFICATION_EMAIL_DELAY",
    ),
    value(
        "notification-email-server",
        None,
        "WATCHTOWER_NOTIFICATION_EMAIL_SERVER",
    ),
    value(
        "notification-email-server-port",
        None,
        "WATCHTOWER_NOTIFICATION_EMAIL_SERVER_PORT",
    ),
    switch(
        "notification-email-server-tls-skip-verify",
        None,
        "WATCHTOWER_NOTIFICATION_EMAIL_SERVER_TLS_SKIP_VERIFY",
    ),
    value(
        "notification-email-server-user",
        None,
        "WATCHTOWER_NOTIFICATION_EMAIL_SERVER_USER",
    ),
    value(
        "notification-email-server-password",
        None,
        "WATCHTOWER_NOTIFICATION_EMAIL_SERVER_PASSWORD",
    ),
    value(
        "notification-email-subjecttag",
        None,
        "WATCHTOWER_NOTIFICATION_EMAIL_SUBJECTTAG",
    ),
    value(
        "notification-slack-hook-url",
        None,
        "WATCHTOWER_NOTIFICATION_SLACK_HOOK_URL",
    ),
    value(
        "notification-slack-identifier",
        None,
        "WATCHTOWER_NOTIFICATION_SLACK_IDENTIFIER",
    ),
    value(
        "notification-slack-channel",
        None,
        "WATCHTOWER_NOTIFICATION_SLACK_CHANNEL",
    ),
    value(
        "notification-slack-icon-emoji",
        None,
        "WATCHTOWER_NOTIFICATION_SLACK_ICON_EMOJI",
    ),
    value(
        "notification-slack-icon-url",
        None,
        "WATCHTOWER_NOTIFICATION_SLACK_ICON_URL",
    ),
    value(
        "notification-msteams-hook",
        None,
        "WATCHTOWER_NOTIFICATION_MSTEAMS_HOOK_URL",
    ),
    switch(
        "notification-msteams-data",
        None,
        "WATCHTOWER_NOTIFICATION_MSTEAMS_USE_LOG_DATA",
    ),
    value(
        "notification-gotify-url",
        None,
        "WATCHTOWER_NOTIFICATION_GOTIFY_URL",
    ),
    value(
        "notification-gotify-token",
        None,
        "WATCHTOWER_NOTIFICATION_GOTIFY_TOKEN",
    ),
    switch(
        "notification-gotify-tls-skip-verify",
        None,
        "WATCHTOWER_NOTIFICATION_GOTIFY_TLS_SKIP_VERIFY",
    ),
    value(
        "notification-template",
        None,
        "WATCHTOWER_NOTIFICATION_TEMPLATE",
    ),
    switch(
        "notification-report",
        None,
        "WATCHTOWER_NOTIFICATION_REPORT",
    ),
    values("notification-url", None, "WATCHTOWER_NOTIFICATION_URL"),
    value(
        "notification-title-tag",
        None,
        "WATCHTOWER_NOTIFICATION_TITLE_TAG",
    ),
    switch(
        "notification-skip-title",
        None,
        "WATCHTOWER_NOTIFICATION_SKIP_TITLE",
    ),
    switch(
        "notification-log-stdout",
        None,
        "WATCHTOWER_NOTIFICATION_LOG_STDOUT",
    ),
    switch(
        "notification-split-by-container",
        None,
        "WATCHTOWER_NOTIFICATION_SPLIT_BY_CONTAINER",
    ),
];

/// What Watchtower's command line said: each flag given, with its value (`true` for a bare
/// switch; a repeated flag once per occurrence), and the positional container names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandLine {
    /// (long flag without dashes, value)
    pub flags: Vec<(String, String)>,
    /// Only these containers are watched (Watchtower's positional arguments).
    pub containers: Vec<String>,
}

/// Settings that change nothing here, and why, for the warning.
const NO_MEANING: &[(&str, &str)] = &[
    ("WATCHTOWER_ROLLING_RESTART", ""),
    ("WATCHTOWER_INCLUDE_RESTARTING", ""),
    (
        "DOCKER_API_VERSION",
        "the version is negotiated with the engine",
    ),
    (
        "WATCHTOWER_NO_STARTUP_MESSAGE",
        "tidewatch sends no start-up message",
    ),
    ("NO_COLOR", "use TIDEWATCH_LOG_FORMAT=json for plain lines"),
    (
        "WATCHTOWER_PORCELAIN",
        "`tidewatch run --once --json` prints the report as JSON",
    ),
    (
        "WATCHTOWER_WARN_ON_HEAD_FAILURE",
        "registry failures are always reported",
    ),
    (
        "WATCHTOWER_UPDATE_ON_START",
        "tidewatch always checks at start",
    ),
    (
        "WATCHTOWER_DISABLE_MEMORY_SWAPPINESS",
        "a successor keeps its predecessor's settings",
    ),
    (
        "WATCHTOWER_CPU_COPY_MODE",
        "a successor keeps its predecessor's settings",
    ),
    (
        "WATCHTOWER_NOTIFICATIONS_LEVEL",
        "notifications are about updates, not log lines",
    ),
    (
        "WATCHTOWER_NOTIFICATION_LOG_STDOUT",
        "notifications are about updates, not log lines",
    ),
    (
        "WATCHTOWER_NOTIFICATIONS_DELAY",
        "messages are sent when a cycle's updates are done",
    ),
    (
        "WATCHTOWER_NOTIFICATION_EMAIL_DELAY",
        "messages are sent when a cycle's updates are done",
    ),
];

/// One Watchtower setting as given: where (variable or flag), and its value.
#[derive(Debug, Clone)]
pub struct Given {
    pub origin: Origin,
    pub value: String,
}

/// What the Watchtower settings ask for, parsed; `None` where unset.
#[derive(Debug, Default)]
pub struct WatchtowerEnv {
    /// A 6-field cron.
    pub cron: Option<(Origin, String)>,
    /// Every N seconds from start.
    pub interval: Option<(Origin, u64)>,
    pub label_enable: Option<(Origin, bool)>,
    pub include_stopped: Option<(Origin, bool)>,
    pub scope: Option<(Origin, String)>,
    /// Only these container names (positional arguments).
    pub include: Option<(Origin, String)>,
    /// Never these (`--disable-containers`).
    pub exclude: Option<(Origin, String)>,
    pub log_level: Option<(Origin, String)>,
    pub log_format: Option<(Origin, String)>,
    /// `--host` / `--tlsverify`, which Watchtower hands to the Docker client as `DOCKER_HOST`
    /// and `DOCKER_TLS_VERIFY`: from the command line they replace those variables.
    pub docker_host: Option<(Origin, String)>,
    pub docker_tls: Option<(Origin, bool)>,
    pub run_once: bool,
    /// `--health-check`: the process is a health check of the daemon, not a daemon.
    pub health_check: bool,
    /// Any Watchtower setting was given: the `watchtower` docker trigger exists.
    pub present: bool,
    /// Options of the `watchtower` docker trigger, by its key, with where they came from.
    pub trigger: Vec<(&'static str, Origin, serde_json::Value)>,
    /// Every setting read, by variable name, for the notification mapping.
    pub given: Vec<(&'static str, Given)>,
    /// `WATCHTOWER_HTTP_API_UPDATE`: CI calls `/v1/update`; Watchtower then stops polling.
    pub api_update: Option<(Origin, bool)>,
    pub api_token: Option<(Origin, String)>,
    pub api_periodic_polls: Option<bool>,
    /// `WATCHTOWER_HTTP_API_METRICS`: served at `/v1/metrics` either way.
    pub api_metrics: bool,
}

impl WatchtowerEnv {
    /// Whether any of Watchtower's HTTP API settings is given: its clients expect port 8080.
    pub fn uses_api(&self) -> bool {
        self.api_update.as_ref().is_some_and(|(_, on)| *on)
            || self.api_token.is_some()
            || self.api_metrics
    }
}

fn boolean(origin: &Origin, value: &str, errors: &mut Vec<ConfigError>) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "t" | "yes" => Some(true),
        "false" | "0" | "f" | "no" | "" => Some(false),
        _ => {
            errors.push(ConfigError::new(
                origin.to_string(),
                "expected true or false",
            ));
            None
        }
    }
}

/// Go's duration syntax as Watchtower takes it (`30s`, `1m30s`, `500ms`), in whole seconds
/// rounded up; a bare number is seconds.
pub fn seconds(value: &str) -> Option<u64> {
    let value = value.trim();
    if let Ok(n) = value.parse::<u64>() {
        return Some(n);
    }
    let mut total_ms: u64 = 0;
    let mut rest = value;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let number: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "h" => 3_600_000,
            "m" => 60_000,
            "s" => 1_000,
            "ms" => 1,
            _ => return None,
        };
        total_ms = total_ms.checked_add(number.checked_mul(factor)?)?;
        rest = &rest[unit_len..];
    }
    Some(total_ms.div_ceil(1000))
}

/// Container names as anchored patterns: a name is that container only, whatever it holds.
fn names_pattern(names: &[String]) -> String {
    names
        .iter()
        .map(|n| regex::escape(n.trim().trim_start_matches('/')))
        .collect::<Vec<_>>()
        .join(",")
}

impl WatchtowerEnv {
    /// The title of the messages, as Watchtower titles them: `[tag] Watchtower updates on
    /// host`, from `WATCHTOWER_NOTIFICATION_TITLE_TAG` (or the older `_EMAIL_SUBJECTTAG`) and
    /// `WATCHTOWER_NOTIFICATIONS_HOSTNAME`; empty with `WATCHTOWER_NOTIFICATION_SKIP_TITLE`.
    /// A handlebars template.
    pub fn title(&self, errors: &mut Vec<ConfigError>) -> String {
        if let Some(g) = self.get("WATCHTOWER_NOTIFICATION_SKIP_TITLE")
            && boolean(&g.origin, &g.value, errors) == Some(true)
        {
            return String::new();
        }
        let literal = |s: &str| s.trim().replace("{{", "\\{{");
        let host = match self.get("WATCHTOWER_NOTIFICATIONS_HOSTNAME") {
            Some(g) if !g.value.trim().is_empty() => literal(&g.value),
            _ => "{{host}}".to_string(),
        };
        let tag = self
            .get("WATCHTOWER_NOTIFICATION_TITLE_TAG")
            .or_else(|| self.get("WATCHTOWER_NOTIFICATION_EMAIL_SUBJECTTAG"))
            .map(|g| literal(&g.value))
            .filter(|t| !t.is_empty());
        match tag {
            Some(tag) => format!("[{tag}] Watchtower updates on {host}"),
            None => format!("Watchtower updates on {host}"),
        }
    }

    /// The body of the messages, from `WATCHTOWER_NOTIFICATION_TEMPLATE` translated to
    /// handlebars, else Watchtower's report template with `WATCHTOWER_NOTIFICATION_REPORT`,
    /// else Watchtower's default: a line per update. (origin when a setting chose it,
    /// template)
    pub fn body(&self, errors: &mut Vec<ConfigError>) -> (Option<String>, String) {
        /// Watchtower's default template in report mode: nothing unless something was updated
        /// or failed, then the counts and a line per container.
        const REPORT: &str = "{{- if .Report -}}{{- with .Report -}}{{- if ( or .Updated .Failed ) -}}\
            {{len .Scanned}} Scanned, {{len .Updated}} Updated, {{len .Failed}} Failed\
            {{- range .Updated}}\n- {{.Name}} ({{.ImageName}}): {{.CurrentImageID.ShortID}} updated to {{.LatestImageID.ShortID}}{{- end -}}\
            {{- range .Fresh}}\n- {{.Name}} ({{.ImageName}}): {{.State}}{{- end -}}\
            {{- range .Skipped}}\n- {{.Name}} ({{.ImageName}}): {{.State}}: {{.Error}}{{- end -}}\
            {{- range .Failed}}\n- {{.Name}} ({{.ImageName}}): {{.State}}: {{.Error}}{{- end -}}\
            {{- end -}}{{- end -}}{{- end -}}";
        /// Watchtower's default template otherwise: its log lines, here a line per update.
        const LINES: &str = "{{range .}}{{.Message}}{{println}}{{end}}";
        let translated = |template: &str| {
            super::gotemplate::translate(template).expect("Watchtower's own templates translate")
        };
        if let Some(g) = self.get("WATCHTOWER_NOTIFICATION_TEMPLATE") {
            return match super::gotemplate::translate(&g.value) {
                Ok(template) => (Some(g.origin.to_string()), template),
                Err(why) => {
                    errors.push(ConfigError::new(
                        g.origin.to_string(),
                        format!("the Go template cannot be translated: {why}"),
                    ));
                    (None, translated(LINES))
                }
            };
        }
        match self.get("WATCHTOWER_NOTIFICATION_REPORT") {
            Some(g) if boolean(&g.origin, &g.value, errors) == Some(true) => {
                (Some(g.origin.to_string()), translated(REPORT))
            }
            _ => (None, translated(LINES)),
        }
    }

    /// `WATCHTOWER_NOTIFICATION_SPLIT_BY_CONTAINER`: a message per container rather than per
    /// session; its origin when on.
    pub fn split(&self, errors: &mut Vec<ConfigError>) -> Option<String> {
        let g = self.get("WATCHTOWER_NOTIFICATION_SPLIT_BY_CONTAINER")?;
        (boolean(&g.origin, &g.value, errors) == Some(true)).then(|| g.origin.to_string())
    }

    /// The last value given for `var`, with its origin.
    fn get(&self, var: &str) -> Option<&Given> {
        self.given
            .iter()
            .rev()
            .find(|(v, _)| *v == var)
            .map(|(_, g)| g)
    }

    /// A secret Watchtower also reads from the file it names, when it names one.
    fn secret(given: &Given, errors: &mut Vec<ConfigError>) -> Option<String> {
        let value = given.value.trim();
        let from_file = given.origin.to_string().ends_with("__FILE")
            || (value.starts_with('/') && std::path::Path::new(value).is_file());
        if !from_file {
            return Some(value.to_string());
        }
        let read = crate::config::file::read_to_string(
            std::path::Path::new(value),
            crate::config::file::SECRET_LIMIT,
        );
        match read {
            Ok(text) => Some(text.trim().to_string()),
            Err(err) => {
                errors.push(ConfigError::new(given.origin.to_string(), err.to_string()));
                None
            }
        }
    }

    /// Watchtower's notifiers before shoutrrr (`WATCHTOWER_NOTIFICATIONS=email slack msteams
    /// gotify` with their `_EMAIL_*`, `_SLACK_*`, `_MSTEAMS_*`, `_GOTIFY_*` settings), as the
    /// triggers `smtp.watchtoweremail`, `slack.watchtowerslack`, `teams.watchtowermsteams` and
    /// `gotify.watchtowergotify`. Also warns about the notification settings with no meaning
    /// here.
    pub fn legacy_notifications(
        &self,
        errors: &mut Vec<ConfigError>,
        warnings: &mut Vec<String>,
    ) -> Vec<super::Setting> {
        let mut out = Vec::new();
        let Some(kinds) = self.get("WATCHTOWER_NOTIFICATIONS") else {
            for (var, given) in &self.given {
                let legacy = ["_EMAIL_", "_SLACK_", "_MSTEAMS_", "_GOTIFY_"];
                if legacy.iter().any(|l| var.contains(l))
                    && !NO_MEANING.iter().any(|(n, _)| n == var)
                {
                    warnings.push(format!(
                        "{}: ignored, WATCHTOWER_NOTIFICATIONS does not name its notifier",
                        given.origin
                    ));
                }
            }
            return out;
        };
        let kinds_origin = kinds.origin.to_string();
        let mut set = |origin: &Origin, path: &[&str], value: figment::value::Value| {
            out.push(super::Setting::new(origin.to_string(), path, value));
        };
        let names: Vec<String> = self
            .given
            .iter()
            .filter(|(v, _)| *v == "WATCHTOWER_NOTIFICATIONS")
            .flat_map(|(_, g)| {
                g.value
                    .split([',', ' '])
                    .map(|k| k.trim().to_ascii_lowercase())
                    .filter(|k| !k.is_empty())
                    .collect::<Vec<_>>()
            })
            .collect();
        for kind in names {
            let (trigger, name, needed): (&str, &str, &[(&str, &str)]) = match kind.as_str() {
                "email" => (
                    "smtp",
                    "watchtoweremail",
                    &[
                        ("WATCHTOWER_NOTIFICATION_EMAIL_SERVER", "host"),
                        ("WATCHTOWER_NOTIFICATION_EMAIL_FROM", "from"),
                        ("WATCHTOWER_NOTIFICATION_EMAIL_TO", "to"),
                    ],
                ),
                "slack" => (
                    "slack",
                    "watchtowerslack",
                    &[("WATCHTOWER_NOTIFICATION_SLACK_HOOK_URL", "url")],
                ),
                "msteams" => (
                    "teams",
                    "watchtowermsteams",
                    &[("WATCHTOWER_NOTIFICATION_MSTEAMS_HOOK_URL", "url")],
                ),
                "gotify" => (
                    "gotify",
                    "watchtowergotify",
                    &[
                        ("WATCHTOWER_NOTIFICATION_GOTIFY_URL", "url"),
                        ("WATCHTOWER_NOTIFICATION_GOTIFY_TOKEN", "token"),
                    ],
                ),
                // The URLs are read on their own.
                "shoutrrr" => continue,
                other => {
                    let mut message = format!("unknown notifier `{other}`");
                    match did_you_mean(other, &["email", "slack", "msteams", "gotify", "shoutrrr"])
                    {
                        Some(close) => message.push_str(&format!(", did you mean `{close}`?")),
                        None => {
                            message.push_str(", expected email, slack, msteams, gotify or shoutrrr")
                        }
                    }
                    errors.push(ConfigError::new(&kinds_origin, message));
                    continue;
                }
            };
            for (var, key) in needed {
                match self.get(var) {
                    Some(given) => {
                        let secret = matches!(*key, "url" | "token");
                        let value = match secret {
                            true => Self::secret(given, errors),
                            false => Some(given.value.trim().to_string()),
                        };
                        if let Some(value) = value {
                            set(
                                &given.origin,
                                &["trigger", trigger, name, key],
                                value.into(),
                            );
                        }
                    }
                    None => errors.push(ConfigError::new(
                        *var,
                        format!("required by {kinds_origin}={kind}"),
                    )),
                }
            }
            let origin = kinds.origin.clone();
            set(&origin, &["trigger", trigger, name, "mode"], "batch".into());
            match kind.as_str() {
                "email" => {
                    if let Some(g) = self.get("WATCHTOWER_NOTIFICATION_EMAIL_SERVER_PORT") {
                        match g.value.trim().parse::<u16>() {
                            Ok(port) => {
                                set(&g.origin, &["trigger", "smtp", name, "port"], port.into())
                            }
                            Err(_) => errors.push(ConfigError::new(
                                g.origin.to_string(),
                                "expected a port number",
                            )),
                        }
                    } else {
                        set(&origin, &["trigger", "smtp", name, "port"], 25u16.into());
                    }
                    if let Some(g) = self.get("WATCHTOWER_NOTIFICATION_EMAIL_SERVER_USER") {
                        set(
                            &g.origin,
                            &["trigger", "smtp", name, "user"],
                            g.value.trim().into(),
                        );
                    }
                    if let Some(g) = self.get("WATCHTOWER_NOTIFICATION_EMAIL_SERVER_PASSWORD")
                        && let Some(pass) = Self::secret(g, errors)
                    {
                        set(&g.origin, &["trigger", "smtp", name, "pass"], pass.into());
                    }
                    if let Some(g) =
                        self.get("WATCHTOWER_NOTIFICATION_EMAIL_SERVER_TLS_SKIP_VERIFY")
                        && boolean(&g.origin, &g.value, errors) == Some(true)
                    {
                        set(
                            &g.origin,
                            &["trigger", "smtp", name, "tls", "verify"],
                            false.into(),
                        );
                    }
                }
                "slack" => {
                    if let Some(g) = self.get("WATCHTOWER_NOTIFICATION_SLACK_CHANNEL") {
                        set(
                            &g.origin,
                            &["trigger", "slack", name, "channel"],
                            g.value.trim().into(),
                        );
                    }
                }
                "msteams" => {
                    set(
                        &origin,
                        &["trigger", "teams", name, "card"],
                        "messagecard".into(),
                    );
                }
                _ => {}
            }
        }
        for var in [
            "WATCHTOWER_NOTIFICATION_SLACK_IDENTIFIER",
            "WATCHTOWER_NOTIFICATION_SLACK_ICON_EMOJI",
            "WATCHTOWER_NOTIFICATION_SLACK_ICON_URL",
            "WATCHTOWER_NOTIFICATION_MSTEAMS_USE_LOG_DATA",
            "WATCHTOWER_NOTIFICATION_GOTIFY_TLS_SKIP_VERIFY",
        ] {
            if let Some(g) = self.get(var) {
                warnings.push(format!("{}: ignored, no equivalent here", g.origin));
            }
        }
        out
    }

    /// The notification URLs given (`WATCHTOWER_NOTIFICATION_URL`, `--notification-url`), as
    /// (origin, URL): several per value, separated by spaces or commas, or a file of them, one
    /// per line, when the value names one (as Watchtower reads secrets from files).
    pub fn notification_urls(&self, errors: &mut Vec<ConfigError>) -> Vec<(String, String)> {
        let mut urls = Vec::new();
        for (var, given) in &self.given {
            if *var != "WATCHTOWER_NOTIFICATION_URL" {
                continue;
            }
            let origin = given.origin.to_string();
            let value = given.value.trim();
            let from_file =
                origin.ends_with("__FILE") || (value.starts_with('/') && !value.contains("://"));
            let text = if from_file {
                let read = crate::config::file::read_to_string(
                    std::path::Path::new(value),
                    crate::config::file::FILE_LIMIT,
                );
                match read {
                    Ok(text) => text,
                    Err(err) => {
                        errors.push(ConfigError::new(&origin, err.to_string()));
                        continue;
                    }
                }
            } else {
                value.to_string()
            };
            let lines = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'));
            for line in lines {
                for url in super::shoutrrr::split_urls(line) {
                    urls.push((origin.clone(), url));
                }
            }
        }
        urls
    }

    /// Reads the `WATCHTOWER_*` variables of `vars` and the flags of `cli`; a flag replaces its
    /// variable.
    pub fn from_sources(
        vars: &[(String, String)],
        cli: &CommandLine,
        errors: &mut Vec<ConfigError>,
        warnings: &mut Vec<String>,
    ) -> WatchtowerEnv {
        let mut env = WatchtowerEnv::default();
        let known: Vec<String> = FLAGS
            .iter()
            .filter(|f| f.var.starts_with("WATCHTOWER_"))
            .map(|f| f.var.to_ascii_lowercase())
            .collect();
        let known: Vec<&str> = known.iter().map(String::as_str).collect();
        let mut given: Vec<(&'static str, Given)> = Vec::new();
        for (name, value) in vars.iter().filter(|(n, _)| n.starts_with("WATCHTOWER_")) {
            // Watchtower reads a few secrets from a file named by the variable; the `__FILE`
            // form is tidewatch's own and handled with the notification settings.
            let base = name.strip_suffix("__FILE").unwrap_or(name);
            match FLAGS.iter().find(|f| f.var == base) {
                Some(flag) => given.push((
                    flag.var,
                    Given {
                        origin: Origin::Env(name.clone()),
                        value: value.clone(),
                    },
                )),
                None => {
                    let mut message = "not a Watchtower setting".to_string();
                    if let Some(close) = did_you_mean(&name.to_ascii_lowercase(), &known) {
                        message
                            .push_str(&format!(", did you mean `{}`?", close.to_ascii_uppercase()));
                    }
                    errors.push(ConfigError::new(name, message));
                }
            }
        }
        // Flags replace their variables; a repeated flag adds up.
        let mut replaced: Vec<&'static str> = Vec::new();
        for (long, value) in &cli.flags {
            let Some(flag) = FLAGS.iter().find(|f| f.long == long) else {
                errors.push(ConfigError::new(
                    format!("command line (--{long})"),
                    "not a Watchtower flag",
                ));
                continue;
            };
            if !replaced.contains(&flag.var) {
                given.retain(|(var, _)| *var != flag.var);
                replaced.push(flag.var);
            }
            given.push((
                flag.var,
                Given {
                    origin: Origin::CommandLine(format!("--{long}")),
                    value: value.clone(),
                },
            ));
        }
        env.present = !given.is_empty() || !cli.containers.is_empty();
        if !cli.containers.is_empty() {
            env.include = Some((
                Origin::CommandLine("container names".into()),
                names_pattern(&cli.containers),
            ));
        }
        let mut warned: Vec<&str> = Vec::new();
        let mut disabled: Vec<String> = Vec::new();
        let mut disabled_origin = None;
        for (var, setting) in &given {
            let (origin, value) = (&setting.origin, setting.value.as_str());
            let mut option = |key: &'static str, json: serde_json::Value| {
                env.trigger.push((key, origin.clone(), json));
            };
            match *var {
                "DOCKER_HOST" => {
                    // From the environment, `DOCKER_HOST` is read as the docker CLI reads it.
                    if let Origin::CommandLine(_) = origin {
                        env.docker_host = Some((origin.clone(), value.trim().to_string()));
                    }
                }
                "DOCKER_TLS_VERIFY" => {
                    if let Some(b) = boolean(origin, value, errors) {
                        env.docker_tls = Some((origin.clone(), b));
                    }
                }
                "WATCHTOWER_SCHEDULE" => {
                    env.cron = Some((origin.clone(), value.trim().to_string()));
                }
                "WATCHTOWER_POLL_INTERVAL" => match value.trim().parse::<u64>() {
                    Ok(n) if n > 0 => env.interval = Some((origin.clone(), n)),
                    _ => errors.push(ConfigError::new(
                        origin.to_string(),
                        "expected a number of seconds, 1 or more",
                    )),
                },
                "WATCHTOWER_LABEL_ENABLE" => {
                    env.label_enable = boolean(origin, value, errors).map(|b| (origin.clone(), b));
                }
                "WATCHTOWER_INCLUDE_STOPPED" => {
                    env.include_stopped =
                        boolean(origin, value, errors).map(|b| (origin.clone(), b));
                }
                "WATCHTOWER_SCOPE" => env.scope = Some((origin.clone(), value.trim().to_string())),
                "WATCHTOWER_DISABLE_CONTAINERS" => {
                    disabled.extend(
                        value
                            .split([',', ' '])
                            .filter(|n| !n.trim().is_empty())
                            .map(str::to_string),
                    );
                    disabled_origin = Some(origin.clone());
                }
                "WATCHTOWER_RUN_ONCE" => {
                    env.run_once = boolean(origin, value, errors).unwrap_or(false);
                }
                "WATCHTOWER_HEALTH_CHECK" => {
                    env.health_check = boolean(origin, value, errors).unwrap_or(false);
                }
                "WATCHTOWER_DEBUG" => {
                    if boolean(origin, value, errors) == Some(true) && env.log_level.is_none() {
                        env.log_level = Some((origin.clone(), "debug".into()));
                    }
                }
                "WATCHTOWER_TRACE" => {
                    if boolean(origin, value, errors) == Some(true) {
                        env.log_level = Some((origin.clone(), "trace".into()));
                    }
                }
                "WATCHTOWER_LOG_LEVEL" => {
                    let level = value.trim().to_ascii_lowercase();
                    let level = match level.as_str() {
                        "panic" | "fatal" => "error".to_string(),
                        "warning" => "warn".to_string(),
                        _ => level,
                    };
                    env.log_level = Some((origin.clone(), level));
                }
                "WATCHTOWER_LOG_FORMAT" => match value.trim().to_ascii_lowercase().as_str() {
                    "json" => env.log_format = Some((origin.clone(), "json".into())),
                    "auto" | "logfmt" | "pretty" | "text" => {
                        env.log_format = Some((origin.clone(), "pretty".into()))
                    }
                    _ => errors.push(ConfigError::new(
                        origin.to_string(),
                        "expected Auto, LogFmt, Pretty or JSON",
                    )),
                },
                "WATCHTOWER_CLEANUP" => {
                    if let Some(b) = boolean(origin, value, errors) {
                        option("prune", b.into());
                    }
                }
                "WATCHTOWER_MONITOR_ONLY" => {
                    if let Some(b) = boolean(origin, value, errors) {
                        option("monitoronly", b.into());
                    }
                }
                "WATCHTOWER_LABEL_TAKE_PRECEDENCE" => {
                    if let Some(b) = boolean(origin, value, errors) {
                        option("labelprecedence", b.into());
                    }
                }
                "WATCHTOWER_REVIVE_STOPPED" => {
                    if let Some(b) = boolean(origin, value, errors) {
                        option("revivestopped", b.into());
                    }
                }
                "WATCHTOWER_NO_RESTART" => {
                    if let Some(b) = boolean(origin, value, errors) {
                        option("norestart", b.into());
                    }
                }
                "WATCHTOWER_NO_PULL" => {
                    if let Some(b) = boolean(origin, value, errors) {
                        option("nopull", b.into());
                    }
                }
                "WATCHTOWER_LIFECYCLE_HOOKS" => {
                    if let Some(b) = boolean(origin, value, errors) {
                        option("lifecyclehooks", b.into());
                    }
                }
                "WATCHTOWER_REMOVE_VOLUMES" => {
                    if let Some(b) = boolean(origin, value, errors) {
                        option("removevolumes", b.into());
                    }
                }
                "WATCHTOWER_TIMEOUT" => match seconds(value) {
                    Some(s) => option("stoptimeout", s.into()),
                    None => errors.push(ConfigError::new(
                        origin.to_string(),
                        "expected a duration such as 10s or 1m30s",
                    )),
                },
                "WATCHTOWER_HTTP_API_UPDATE" => {
                    if let Some(on) = boolean(origin, value, errors) {
                        env.api_update = Some((origin.clone(), on));
                    }
                }
                "WATCHTOWER_HTTP_API_TOKEN" => {
                    env.api_token = Some((origin.clone(), value.trim().to_string()));
                }
                "WATCHTOWER_HTTP_API_PERIODIC_POLLS" => {
                    env.api_periodic_polls = boolean(origin, value, errors);
                }
                "WATCHTOWER_HTTP_API_METRICS" => {
                    env.api_metrics = boolean(origin, value, errors).unwrap_or(false);
                }
                v if v.starts_with("WATCHTOWER_NOTIFICATION")
                    && !NO_MEANING.iter().any(|(n, _)| *n == v) =>
                {
                    // Read by the notification mapping.
                }
                v => {
                    if let Some((_, why)) = NO_MEANING.iter().find(|(n, _)| *n == v)
                        && !why.is_empty()
                        && !warned.contains(&v)
                    {
                        warned.push(v);
                        warnings.push(format!("{origin}: ignored, {why}"));
                    }
                }
            }
        }
        if !disabled.is_empty()
            && let Some(origin) = disabled_origin
        {
            env.exclude = Some((origin, names_pattern(&disabled)));
        }
        if let (Some((interval_origin, _)), Some((cron_origin, _))) = (&env.interval, &env.cron) {
            errors.push(ConfigError::new(
                interval_origin.to_string(),
                format!("set either this or {cron_origin}, not both"),
            ));
        }
        env.given = given;
        env
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_read_as_watchtower_means_them() {
        assert_eq!(seconds("30s"), Some(30));
        assert_eq!(seconds("1m30s"), Some(90));
        assert_eq!(seconds("1500ms"), Some(2));
        assert_eq!(seconds("45"), Some(45));
        assert_eq!(seconds("soon"), None);
        assert_eq!(seconds(""), None);
    }

    #[test]
    fn every_flag_has_a_distinct_name_short_and_variable() {
        for (i, a) in FLAGS.iter().enumerate() {
            for b in &FLAGS[i + 1..] {
                assert_ne!(a.long, b.long);
                assert_ne!(a.var, b.var);
                if a.short.is_some() {
                    assert_ne!(a.short, b.short, "{} and {}", a.long, b.long);
                }
            }
        }
    }

    #[test]
    fn notification_settings_with_no_meaning_here_are_warned_once_by_name() {
        let vars: Vec<(String, String)> = [
            ("WATCHTOWER_NOTIFICATIONS_LEVEL", "info"),
            ("WATCHTOWER_NOTIFICATIONS_DELAY", "5"),
            ("WATCHTOWER_NOTIFICATION_EMAIL_DELAY", "2"),
            ("WATCHTOWER_NOTIFICATION_URL", "discord://t@1"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let (mut errors, mut warnings) = (Vec::new(), Vec::new());
        let env =
            WatchtowerEnv::from_sources(&vars, &CommandLine::default(), &mut errors, &mut warnings);
        env.legacy_notifications(&mut errors, &mut warnings);
        assert!(errors.is_empty(), "{errors:?}");
        for var in [
            "WATCHTOWER_NOTIFICATIONS_LEVEL",
            "WATCHTOWER_NOTIFICATIONS_DELAY",
            "WATCHTOWER_NOTIFICATION_EMAIL_DELAY",
        ] {
            assert_eq!(
                warnings.iter().filter(|w| w.starts_with(var)).count(),
                1,
                "{var}: {warnings:?}"
            );
        }
        assert!(
            !warnings.iter().any(|w| w.contains("NOTIFICATION_URL")),
            "{warnings:?}"
        );
    }

    #[test]
    fn container_names_are_matched_literally() {
        assert_eq!(names_pattern(&["web".into(), "/db.1".into()]), r"web,db\.1");
    }
}
