//! Leases: one update of a container at a time, across processes and hosts.
//!
//! Two tidewatch instances on one engine (a daemon and a `tidewatch update` by hand, two
//! daemons, two hosts watching one engine over TCP) would otherwise both rename, stop and
//! re-create the same container, and leave it running twice. So an update first takes a lease
//! held in the engine itself: a volume named for the container (`tidewatch-lease-NAME`), which
//! the engine creates under a lock of its name and never twice (see `docker::lease`). It is
//! taken before the first step that touches the container and released after the last; an
//! instance that finds it held skips the container, saying who holds it, and the next check
//! looks again.
//!
//! A holder killed mid-update leaves its lease behind. It is taken over when it is stale: its
//! holder is a process of this very machine (same host name and boot) that no longer runs, or
//! it is older than [`TTL`], for a holder elsewhere that cannot be asked. The recovery at the
//! next start takes over its predecessor's lease that way. A volume of that name without
//! tidewatch's label is someone else's, and never removed.

use crate::docker::Engine;
use crate::docker::lifecycle::{aside_name, new_name};
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

/// On every lease: the name of the container it is for.
pub const LEASE_LABEL: &str = "tidewatch.lease";
/// Who holds it: `host/boot-id/pid/start-time`.
const HOLDER_LABEL: &str = "tidewatch.lease.holder";
/// Unique per lease taken, so a holder tells its own lease from one it took earlier.
const TOKEN_LABEL: &str = "tidewatch.lease.token";
/// Unix seconds after which a holder that cannot be asked is presumed gone.
const EXPIRES_LABEL: &str = "tidewatch.lease.expires";

/// How long a lease holds against a holder on another machine: longer than any update takes
/// (pull, stop timeout, health gate, hooks), short enough that a holder that died there
/// blocks the container for one hour at most.
pub const TTL: Duration = Duration::from_secs(3600);

/// The volume that is the lease of container `name`. A container renamed aside by an update
/// (`NAME-tidewatch-old`, or `-new` for start-first) shares its lease: another instance sees it
/// as a container of its own with the same update, and must not act on it while the update
/// that renamed it is under way.
pub fn volume_name(name: &str) -> String {
    let base = [aside_name(""), new_name("")]
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix.as_str()))
        .unwrap_or(name);
    format!("tidewatch-lease-{base}")
}

/// A lease held by this process; [`Lease::release`] gives it back.
#[derive(Debug)]
#[must_use = "a lease must be released"]
pub struct Lease {
    volume: String,
}

/// Why a lease was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// Another instance holds it: skip the container, for now.
    Busy(String),
    /// The engine refused, or the name is taken by a volume that is not a lease.
    Failed(String),
}

impl Lease {
    /// Releases the lease; a failure is logged (the lease then goes stale, and is taken over).
    pub async fn release(self, engine: &Engine) {
        if let Err(err) = engine.remove_volume(&self.volume).await {
            tracing::warn!(lease = %self.volume, error = %err, "Lease not released; it is taken over once stale.");
        }
    }
}

/// Takes the lease of container `name` on `engine`, taking over a stale one.
pub async fn take(engine: &Engine, name: &str) -> Result<Lease, Refused> {
    let volume = volume_name(name);
    let me = Holder::me();
    for attempt in 0..2 {
        let token = token();
        let expires = unix_now() + TTL.as_secs();
        let labels = HashMap::from([
            (LEASE_LABEL.to_string(), name.to_string()),
            (HOLDER_LABEL.to_string(), me.to_string()),
            (TOKEN_LABEL.to_string(), token.clone()),
            (EXPIRES_LABEL.to_string(), expires.to_string()),
        ]);
        let found = engine
            .claim_volume(&volume, labels)
            .await
            .map_err(|err| Refused::Failed(format!("its lease {volume} cannot be taken: {err}")))?;
        if found.get(TOKEN_LABEL) == Some(&token) {
            return Ok(Lease { volume });
        }
        if !found.contains_key(LEASE_LABEL) {
            return Err(Refused::Failed(format!(
                "a volume named {volume} exists and is not a tidewatch lease: it is left alone, \
                 and the container is not updated while it exists"
            )));
        }
        let holder = found.get(HOLDER_LABEL).map_or("?", String::as_str);
        match stale(&found, unix_now()) {
            Some(why) if attempt == 0 => {
                tracing::warn!(container = %name, holder = %holder, why = %why, "Taking over a stale update lease.");
                engine.remove_volume(&volume).await.map_err(|err| {
                    Refused::Failed(format!("its stale lease {volume} cannot be removed: {err}"))
                })?;
            }
            _ => {
                return Err(Refused::Busy(format!(
                    "another tidewatch instance is updating it (lease {volume}, held by \
                     {holder}); left to it, and looked at again at the next check"
                )));
            }
        }
    }
    Err(Refused::Busy(format!(
        "its lease {volume} was taken by another tidewatch instance at the same moment"
    )))
}

/// Why the lease with `labels` is stale, or `None` when its holder may still be at work.
fn stale(labels: &HashMap<String, String>, now: u64) -> Option<String> {
    let holder = labels
        .get(HOLDER_LABEL)
        .and_then(|h| h.parse::<Holder>().ok());
    if let Some(holder) = &holder {
        let me = Holder::me();
        if holder.host == me.host && holder.boot == me.boot {
            if holder == me {
                // This very process: another of its own updates of the name, not stale.
                return None;
            }
            return match Holder::start_of(holder.pid) {
                Some(start) if start == holder.start => None,
                _ => Some(format!(
                    "its holder, process {} of this machine, is gone",
                    holder.pid
                )),
            };
        }
    }
    let expires = labels
        .get(EXPIRES_LABEL)
        .and_then(|e| e.parse::<u64>().ok());
    match expires {
        Some(expires) if expires > now => None,
        _ => Some("it expired".to_string()),
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Unique within this process, and with the holder unique across them.
fn token() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{}#{n}", Holder::me())
}

/// A process, as another on the same machine can tell whether it still runs: the host name
/// and the kernel's boot ID say which machine (a container keeps both across a restart, which
/// is why the PID alone is not enough: the new process may have the old PID, 1), the PID and
/// its start time which process.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Holder {
    host: String,
    boot: String,
    pid: u32,
    start: u64,
}

impl Holder {
    fn me() -> &'static Holder {
        static ME: OnceLock<Holder> = OnceLock::new();
        ME.get_or_init(|| {
            let read = |path: &str| {
                std::fs::read_to_string(path)
                    .map(|s| s.trim().to_string())
                    .unwrap_or_default()
            };
            let pid = std::process::id();
            Holder {
                host: read("/proc/sys/kernel/hostname"),
                boot: read("/proc/sys/kernel/random/boot_id"),
                pid,
                start: Holder::start_of(pid).unwrap_or_default(),
            }
        })
    }

    /// When process `pid` started (clock ticks after boot), if it runs.
    fn start_of(pid: u32) -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // After the command, in parentheses that may hold anything: the state is field 3, and
        // the start time field 22.
        let rest = &stat[stat.rfind(')')? + 1..];
        rest.split_whitespace().nth(19)?.parse().ok()
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}/{}", self.host, self.boot, self.pid, self.start)
    }
}

impl std::str::FromStr for Holder {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.rsplitn(4, '/');
        let start = parts.next().ok_or(())?.parse().map_err(|_| ())?;
        let pid = parts.next().ok_or(())?.parse().map_err(|_| ())?;
        let boot = parts.next().ok_or(())?.to_string();
        let host = parts.next().ok_or(())?.to_string();
        Ok(Holder {
            host,
            boot,
            pid,
            start,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(holder: &str, expires: u64) -> HashMap<String, String> {
        HashMap::from([
            (LEASE_LABEL.to_string(), "web".to_string()),
            (HOLDER_LABEL.to_string(), holder.to_string()),
            (EXPIRES_LABEL.to_string(), expires.to_string()),
        ])
    }

    #[test]
    fn a_container_renamed_aside_shares_the_lease_of_its_name() {
        assert_eq!(volume_name("web"), "tidewatch-lease-web");
        assert_eq!(volume_name("web-tidewatch-old"), "tidewatch-lease-web");
        assert_eq!(volume_name("web-tidewatch-new"), "tidewatch-lease-web");
    }

    #[test]
    fn a_holder_reads_back_as_written() {
        let me = Holder::me();
        assert!(me.start > 0, "{me}");
        assert_eq!(me.to_string().parse::<Holder>(), Ok(me.clone()));
    }

    #[test]
    fn a_lease_of_a_gone_process_here_is_stale_at_once_and_one_elsewhere_when_it_expires() {
        let me = Holder::me();
        let now = unix_now();
        let later = now + 600;
        // This process holds it: not stale.
        assert_eq!(stale(&labels(&me.to_string(), later), now), None);
        // A process of this machine that is gone (same PID, another start: a restart).
        let gone = Holder {
            start: me.start + 1,
            ..me.clone()
        };
        assert!(stale(&labels(&gone.to_string(), later), now).is_some());
        // Another machine: only its expiry says.
        let elsewhere = Holder {
            host: "elsewhere".into(),
            ..me.clone()
        };
        assert_eq!(stale(&labels(&elsewhere.to_string(), later), now), None);
        assert!(stale(&labels(&elsewhere.to_string(), now - 1), now).is_some());
        // Unreadable: its expiry, too.
        assert_eq!(stale(&labels("garbage", later), now), None);
    }
}
