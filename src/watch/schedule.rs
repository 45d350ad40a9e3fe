//! When a watcher checks next: its cron expression in the local time zone (`TZ`, as WUD), plus
//! a random delay up to its jitter so that many instances do not hit a registry at once.

use chrono::Local;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone)]
pub struct Schedule {
    cron: croner::Cron,
    jitter: Duration,
}

#[derive(Debug, thiserror::Error)]
#[error("cron `{expression}`: {reason}")]
pub struct ScheduleError {
    expression: String,
    reason: String,
}

impl Schedule {
    /// `jitter_ms` is WUD's unit. The expression was validated with the configuration; this
    /// error is for callers that skip that.
    pub fn new(expression: &str, jitter_ms: u64) -> Result<Schedule, ScheduleError> {
        let cron = expression
            .parse::<croner::Cron>()
            .map_err(|err| ScheduleError {
                expression: expression.to_string(),
                reason: err.to_string(),
            })?;
        Ok(Schedule {
            cron,
            jitter: Duration::from_millis(jitter_ms),
        })
    }

    /// The next moment to check, or `None` when the expression never matches again.
    pub fn next(&self) -> Option<Instant> {
        self.next_after(Local::now())
    }

    fn next_after(&self, now: chrono::DateTime<Local>) -> Option<Instant> {
        let next = self.cron.find_next_occurrence(&now, false).ok()?;
        let wait = (next - now).to_std().unwrap_or_default();
        Some(Instant::now() + wait + self.random_jitter())
    }

    /// Spread, not secrecy: the clock's nanoseconds are random enough to decorrelate hosts.
    fn random_jitter(&self) -> Duration {
        let millis = self.jitter.as_millis() as u64;
        if millis == 0 {
            return Duration::ZERO;
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() as u64)
            .unwrap_or(0);
        Duration::from_millis(nanos % millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_next_check_follows_the_cron_and_stays_within_the_jitter() {
        let hourly = Schedule::new("0 * * * *", 0).unwrap();
        let now = Local.with_ymd_and_hms(2026, 11, 22, 10, 15, 0).unwrap();
        let before = Instant::now();
        let next = hourly.next_after(now).unwrap();
        let wait = next - before;
        // 45 minutes to 11:00; a little slack for the time the call itself takes.
        assert!(
            wait >= Duration::from_secs(45 * 60) && wait < Duration::from_secs(45 * 60 + 5),
            "{wait:?}"
        );

        let jittered = Schedule::new("0 * * * *", 60_000).unwrap();
        for _ in 0..20 {
            let wait = jittered.next_after(now).unwrap() - Instant::now();
            assert!(wait < Duration::from_secs(46 * 60 + 5), "{wait:?}");
        }
        assert!(Schedule::new("every hour", 0).is_err());
    }
}
