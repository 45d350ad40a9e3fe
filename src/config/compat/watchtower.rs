//! Watchtower's environment variables, read so a Watchtower setup switches without rewriting:
//! the schedule and container selection go to the `local` watcher, the update options to a
//! docker trigger named `watchtower`, created when any of them is set. A setting made the
//! tidewatch way (variable, WUD variable or file) wins over Watchtower's. Watchtower's
//! settings with no equivalent here (its notifications) are reported as ignored;
//! a value that cannot be read is an error naming the variable, as everywhere.

use crate::config::error::ConfigError;

/// What the Watchtower variables ask for, parsed; `None` where unset.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct WatchtowerEnv {
    /// (variable, cron with seconds)
    pub cron: Option<(String, String)>,
    pub label_enable: Option<bool>,
    pub include_stopped: Option<bool>,
    pub scope: Option<String>,
    /// Options of the `watchtower` docker trigger, by its key, with the variable they came from.
    pub trigger: Vec<(&'static str, String, serde_json::Value)>,
    /// `WATCHTOWER_HTTP_API_UPDATE`: CI calls `/v1/update`; Watchtower then stops polling.
    pub api_update: Option<(String, bool)>,
    pub api_token: Option<(String, String)>,
    pub api_periodic_polls: Option<bool>,
    /// `WATCHTOWER_HTTP_API_METRICS`: served at `/v1/metrics` either way.
    pub api_metrics: bool,
}

impl WatchtowerEnv {
    /// Whether any of Watchtower's HTTP API variables is set: its clients expect port 8080.
    pub fn uses_api(&self) -> bool {
        self.api_update.as_ref().is_some_and(|(_, on)| *on)
            || self.api_token.is_some()
            || self.api_metrics
    }
}

/// Variables that change nothing here: updates are always rolling, restarting containers are
/// always included.
const ACCEPTED: &[&str] = &[
    "WATCHTOWER_ROLLING_RESTART",
    "WATCHTOWER_INCLUDE_RESTARTING",
];

fn boolean(name: &str, value: &str, errors: &mut Vec<ConfigError>) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "t" | "yes" => Some(true),
        "false" | "0" | "f" | "no" | "" => Some(false),
        _ => {
            errors.push(ConfigError::new(name, "expected true or false"));
            None
        }
    }
}

/// Go's duration syntax as Watchtower takes it (`30s`, `1m30s`, `500ms`), in whole seconds
/// rounded up; a bare number is seconds.
fn seconds(value: &str) -> Option<u64> {
    let value = value.trim();
    if let Ok(n) = value.parse::<u64>() {
        return Some(n);
    }
    let mut total_ms: u64 = 0;
    let mut rest = value;
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

/// An interval in seconds as a cron schedule (with seconds), where one says the same.
fn interval_cron(seconds: u64) -> Option<String> {
    match seconds {
        0 => None,
        s if s < 60 && 60 % s == 0 => Some(format!("*/{s} * * * * *")),
        s if s % 60 == 0 && s < 3600 && 60 % (s / 60) == 0 => {
            Some(format!("0 */{} * * * *", s / 60))
        }
        s if s % 3600 == 0 && s < 86_400 && 24 % (s / 3600) == 0 => {
            Some(format!("0 0 */{} * * *", s / 3600))
        }
        86_400 => Some("0 0 0 * * *".into()),
        _ => None,
    }
}

impl WatchtowerEnv {
    pub fn from_vars(
        vars: &[(String, String)],
        errors: &mut Vec<ConfigError>,
        warnings: &mut Vec<String>,
    ) -> WatchtowerEnv {
        let mut env = WatchtowerEnv::default();
        let mut poll: Option<(String, String)> = None;
        for (name, value) in vars.iter().filter(|(n, _)| n.starts_with("WATCHTOWER_")) {
            let mut option = |key: &'static str, json: serde_json::Value| {
                env.trigger.push((key, name.clone(), json));
            };
            match name.as_str() {
                "WATCHTOWER_SCHEDULE" => env.cron = Some((name.clone(), value.trim().to_string())),
                "WATCHTOWER_POLL_INTERVAL" => match value.trim().parse::<u64>().ok().and_then(interval_cron) {
                    Some(cron) => poll = Some((name.clone(), cron)),
                    None => errors.push(ConfigError::new(
                        name,
                        "an interval tidewatch can only run as a schedule that divides a minute, an hour or a day evenly; set WATCHTOWER_SCHEDULE or TIDEWATCH_WATCHER_LOCAL_CRON instead",
                    )),
                },
                "WATCHTOWER_LABEL_ENABLE" => env.label_enable = boolean(name, value, errors),
                "WATCHTOWER_INCLUDE_STOPPED" => env.include_stopped = boolean(name, value, errors),
                "WATCHTOWER_SCOPE" => env.scope = Some(value.trim().to_string()),
                "WATCHTOWER_CLEANUP" => {
                    if let Some(b) = boolean(name, value, errors) {
                        option("prune", b.into());
                    }
                }
                "WATCHTOWER_MONITOR_ONLY" => {
                    if let Some(b) = boolean(name, value, errors) {
                        option("monitoronly", b.into());
                    }
                }
                "WATCHTOWER_LABEL_TAKE_PRECEDENCE" => {
                    if let Some(b) = boolean(name, value, errors) {
                        option("labelprecedence", b.into());
                    }
                }
                "WATCHTOWER_REVIVE_STOPPED" => {
                    if let Some(b) = boolean(name, value, errors) {
                        option("revivestopped", b.into());
                    }
                }
                "WATCHTOWER_NO_RESTART" => {
                    if let Some(b) = boolean(name, value, errors) {
                        option("norestart", b.into());
                    }
                }
                "WATCHTOWER_NO_PULL" => {
                    if let Some(b) = boolean(name, value, errors) {
                        option("nopull", b.into());
                    }
                }
                "WATCHTOWER_LIFECYCLE_HOOKS" => {
                    if let Some(b) = boolean(name, value, errors) {
                        option("lifecyclehooks", b.into());
                    }
                }
                "WATCHTOWER_REMOVE_VOLUMES" => {
                    if let Some(b) = boolean(name, value, errors) {
                        option("removevolumes", b.into());
                    }
                }
                "WATCHTOWER_TIMEOUT" => match seconds(value) {
                    Some(s) => option("stoptimeout", s.into()),
                    None => errors.push(ConfigError::new(
                        name,
                        "expected a duration such as 10s or 1m30s",
                    )),
                },
                "WATCHTOWER_HTTP_API_UPDATE" => {
                    if let Some(on) = boolean(name, value, errors) {
                        env.api_update = Some((name.clone(), on));
                    }
                }
                "WATCHTOWER_HTTP_API_TOKEN" => {
                    env.api_token = Some((name.clone(), value.trim().to_string()));
                }
                "WATCHTOWER_HTTP_API_PERIODIC_POLLS" => {
                    env.api_periodic_polls = boolean(name, value, errors);
                }
                "WATCHTOWER_HTTP_API_METRICS" => {
                    env.api_metrics = boolean(name, value, errors).unwrap_or(false);
                }
                n if ACCEPTED.contains(&n) => {}
                _ => warnings.push(format!(
                    "{name}: ignored, Watchtower's setting has no equivalent here (notifications: see TIDEWATCH_TRIGGER_*)"
                )),
            }
        }
        if env.cron.is_none() {
            env.cron = poll;
        } else if let Some((name, _)) = poll {
            errors.push(ConfigError::new(
                name,
                "set either WATCHTOWER_POLL_INTERVAL or WATCHTOWER_SCHEDULE, not both",
            ));
        }
        env
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_and_intervals_read_as_watchtower_means_them() {
        assert_eq!(seconds("30s"), Some(30));
        assert_eq!(seconds("1m30s"), Some(90));
        assert_eq!(seconds("1500ms"), Some(2));
        assert_eq!(seconds("45"), Some(45));
        assert_eq!(seconds("soon"), None);
        assert_eq!(interval_cron(300).as_deref(), Some("0 */5 * * * *"));
        assert_eq!(interval_cron(86_400).as_deref(), Some("0 0 0 * * *"));
        assert_eq!(interval_cron(21_600).as_deref(), Some("0 0 */6 * * *"));
        assert_eq!(interval_cron(30).as_deref(), Some("*/30 * * * * *"));
        assert_eq!(interval_cron(7), None);
        assert_eq!(interval_cron(420), None);
    }
}
