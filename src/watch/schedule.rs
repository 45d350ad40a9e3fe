//! When a watcher checks next: its cron expression in the local time zone (`TZ`, as WUD), plus
//! a random delay up to its jitter so that many instances do not hit a registry at once; or
//! every N seconds from start (Watchtower's `--interval`), which no cron expression can say
//! when N does not divide a minute, an hour or a day.

use chrono::Local;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone)]
pub struct Schedule {
    kind: Kind,
    jitter: Duration,
}

#[derive(Debug, Clone)]
enum Kind {
    Cron(Box<croner::Cron>),
    /// Every `period` from `start`: the checks keep to that grid even when one runs long.
    Every {
        start: Instant,
        period: Duration,
    },
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
            kind: Kind::Cron(Box::new(cron)),
            jitter: Duration::from_millis(jitter_ms),
        })
    }

    /// Every `seconds` (at least one) from now.
    pub fn every(seconds: u64, jitter_ms: u64) -> Schedule {
        Schedule {
            kind: Kind::Every {
                start: Instant::now(),
                period: Duration::from_secs(seconds.max(1)),
            },
            jitter: Duration::from_millis(jitter_ms),
        }
    }

    /// The next moment to check, or `None` when the expression never matches again.
    pub fn next(&self) -> Option<Instant> {
        self.next_after(Local::now())
    }

    fn next_after(&self, now: chrono::DateTime<Local>) -> Option<Instant> {
        match &self.kind {
            Kind::Cron(cron) => {
                let next = cron.find_next_occurrence(&now, false).ok()?;
                let wait = (next - now).to_std().unwrap_or_default();
                Some(Instant::now() + wait + self.random_jitter())
            }
            Kind::Every { start, period } => {
                Some(next_tick(*start, *period, Instant::now()) + self.random_jitter())
            }
        }
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

/// The first `start + k * period` after `now`: a check that overran a tick skips it rather
/// than running twice in a row.
fn next_tick(start: Instant, period: Duration, now: Instant) -> Instant {
    let elapsed = now.saturating_duration_since(start).as_millis();
    let period_ms = period.as_millis().max(1);
    let ticks = elapsed / period_ms + 1;
    start + Duration::from_millis((ticks * period_ms) as u64)
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

    #[test]
    fn an_interval_keeps_to_its_grid_from_start_whatever_it_divides() {
        let start = Instant::now();
        let seven = Duration::from_secs(7);
        assert_eq!(next_tick(start, seven, start), start + seven);
        assert_eq!(
            next_tick(start, seven, start + Duration::from_secs(3)),
            start + seven
        );
        // A check that ran over a tick waits for the next one, on the grid.
        assert_eq!(
            next_tick(start, seven, start + Duration::from_secs(15)),
            start + Duration::from_secs(21)
        );
        let every = Schedule::every(420, 0);
        let wait = every.next().unwrap() - Instant::now();
        assert!(
            wait <= Duration::from_secs(420) && wait > Duration::from_secs(400),
            "{wait:?}"
        );
    }
}
