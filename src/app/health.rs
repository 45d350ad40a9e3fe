//! `tidewatch health`: whether the daemon beside it still checks on schedule, for the image's
//! `HEALTHCHECK` (`docker exec` of the same binary, with the same configuration).
//!
//! It reads the store, not the daemon: every check of a container stamps its row's
//! `checked_at`, so the newest stamp per watcher is when that watcher last ran. A watcher is
//! late when its cron (plus its jitter) should have fired since then and a grace period has
//! passed on top, which covers a cycle still under way over a slow registry. In the image
//! tidewatch's own container is always among the watched ones (the image carries
//! `tidewatch.watch=true`), so a running daemon always leaves a stamp; outside a container a
//! host with nothing to watch never turns healthy, which says the same thing: nothing is
//! being checked.

use crate::config::{Loaded, WatcherConfig};
use crate::store::Store;
use chrono::{DateTime, Local, Utc};
use std::collections::BTreeMap;
use std::time::Duration;

/// Time a cycle may still be running after its cron fired: hundreds of containers over a
/// registry that rate-limits take minutes, and an unhealthy flag for that would be noise.
pub const GRACE: Duration = Duration::from_secs(10 * 60);

/// What `tidewatch health` found: the exit status and one line for `docker inspect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub healthy: bool,
    pub line: String,
}

/// Reads the store of `loaded` (never creating it) and judges it at this moment.
pub fn health(loaded: &Loaded) -> anyhow::Result<Verdict> {
    let location = loaded.config.store.location();
    if !location.exists() {
        return Ok(Verdict {
            healthy: false,
            line: format!("no store yet at {}: no check has run", location.display()),
        });
    }
    let mut last: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    for container in Store::open(&location)?.containers()? {
        let Ok(at) = DateTime::parse_from_rfc3339(&container.checked_at) else {
            continue;
        };
        let at = at.with_timezone(&Utc);
        let newest = last.entry(container.watcher).or_insert(at);
        *newest = (*newest).max(at);
    }
    Ok(judge(&loaded.config.watcher, &last, Utc::now()))
}

/// The verdict for `watchers` whose newest checks were at `last`, at `now`. A watcher with no
/// check recorded is not judged (its filters may leave it nothing to watch); with none at all
/// the daemon has not completed anything yet.
pub fn judge(
    watchers: &BTreeMap<String, WatcherConfig>,
    last: &BTreeMap<String, DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Verdict {
    let mut fine = Vec::new();
    for (name, watcher) in watchers {
        let Some(&at) = last.get(name) else { continue };
        let ago = (now - at).num_seconds().max(0);
        // The expression was checked when the configuration loaded.
        let Ok(cron) = watcher.cron.parse::<croner::Cron>() else {
            continue;
        };
        let next = cron
            .find_next_occurrence(&at.with_timezone(&Local), false)
            .ok()
            .map(|next| next.with_timezone(&Utc));
        let slack = Duration::from_millis(watcher.jitter) + GRACE;
        let late = next
            .and_then(|next| chrono::Duration::from_std(slack).ok().map(|s| next + s))
            .is_some_and(|due| now > due);
        if late {
            return Verdict {
                healthy: false,
                line: format!(
                    "watcher {name}: last check {ago} s ago, at {}; the next was due at {} (cron `{}`)",
                    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    next.map(|n| n.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                        .unwrap_or_default(),
                    watcher.cron
                ),
            };
        }
        fine.push(format!("{name} {ago} s ago"));
    }
    if fine.is_empty() {
        return Verdict {
            healthy: false,
            line: "no check recorded yet".into(),
        };
    }
    Verdict {
        healthy: true,
        line: format!("healthy: last check of {}", fine.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watchers(cron: &str) -> BTreeMap<String, WatcherConfig> {
        BTreeMap::from([(
            "local".to_string(),
            WatcherConfig {
                cron: cron.into(),
                jitter: 60_000,
                ..WatcherConfig::default()
            },
        )])
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_check_within_its_schedule_and_grace_is_healthy_and_one_past_them_is_not() {
        // Every five minutes: the same instants in every time zone (offsets are multiples of
        // 15 minutes), so the test does not depend on the machine's TZ.
        let often = watchers("*/5 * * * *");
        let last = BTreeMap::from([("local".to_string(), at("2026-12-06T10:00:05Z"))]);
        // Next due at 10:05, plus a minute of jitter and ten of grace: 10:16.
        let verdict = judge(&often, &last, at("2026-12-06T10:15:00Z"));
        assert!(verdict.healthy, "{verdict:?}");
        assert!(verdict.line.contains("local 895 s ago"), "{verdict:?}");
        let verdict = judge(&often, &last, at("2026-12-06T10:17:00Z"));
        assert!(!verdict.healthy, "{verdict:?}");
        assert!(verdict.line.starts_with("watcher local:"), "{verdict:?}");
    }

    #[test]
    fn nothing_recorded_is_unhealthy_and_an_unrecorded_watcher_is_not_judged() {
        let mut two = watchers("0 * * * *");
        two.insert("remote".into(), WatcherConfig::default());
        let now = at("2026-12-06T10:30:00Z");
        assert!(!judge(&two, &BTreeMap::new(), now).healthy);
        let last = BTreeMap::from([("local".to_string(), at("2026-12-06T10:00:05Z"))]);
        let verdict = judge(&two, &last, now);
        assert!(verdict.healthy, "{verdict:?}");
        assert!(!verdict.line.contains("remote"), "{verdict:?}");
    }
}
