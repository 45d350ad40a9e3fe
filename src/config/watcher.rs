//! One watcher per Docker host. Key names are WUD's (`WUD_WATCHER_{NAME}_{KEY}`), so a WUD setup
//! works by changing the prefix.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The socket Docker listens on unless told otherwise.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WatcherConfig {
    /// Unix socket of the engine; used when `host` is not set.
    pub socket: String,
    /// Remote engine host name or address (TCP); takes precedence over `socket`.
    pub host: Option<String>,
    /// Remote engine port (2375 plain, 2376 by convention with TLS).
    pub port: u16,
    /// CA certificate that signed the remote engine's certificate; with `certfile` and `keyfile`
    /// turns on TLS with client authentication, as `docker --tlsverify` does.
    pub cafile: Option<PathBuf>,
    /// Client certificate presented to the remote engine.
    pub certfile: Option<PathBuf>,
    /// Private key of `certfile`.
    pub keyfile: Option<PathBuf>,
    /// When to check, as a 5-field cron expression (6 with seconds). Hourly by default, as WUD:
    /// frequent enough to matter, rare enough for Docker Hub's anonymous limits.
    pub cron: String,
    /// Check every this many seconds from start instead of on `cron` (Watchtower's
    /// `--interval`): any number, whatever it divides.
    pub interval: Option<u64>,
    /// Up to this many milliseconds of random delay before each scheduled check, so that many
    /// instances do not hit a registry at the same second (WUD's default is one minute).
    pub jitter: u64,
    /// Watch containers that carry no watch label; false makes watching opt-in per container.
    pub watchbydefault: bool,
    /// Include stopped containers, not only running ones.
    pub watchall: bool,
    /// Check a container as soon as Docker reports it started or re-created, besides the cron.
    pub watchevents: bool,
    /// Only containers whose `scope` label (Watchtower's too) has this value; for several
    /// tidewatch instances on one host.
    pub scope: Option<String>,
    /// Only containers whose name matches one of these: comma-separated regular expressions,
    /// each matching the whole name (so a plain name is just that container).
    pub include: Option<String>,
    /// No container whose name matches one of these (same form as `include`); wins over it.
    pub exclude: Option<String>,
    /// Defaults for the tag labels of every container this watcher sees (`tag.include`, …);
    /// a container's own label wins.
    pub tag: WatcherTagConfig,
    /// Default of the `watch.digest` label: also watch the digest behind a version tag.
    pub watchdigest: Option<bool>,
    /// Watch the Swarm services of this engine, a Swarm manager, and update them through
    /// Swarm. Unset: decided by asking the engine whether it is a manager. A task container
    /// of a service is never watched on its own, whatever this says.
    pub swarm: Option<bool>,
    /// Defaults of Diun's labels `diun.watch_repo`, `diun.notify_on` and `diun.max_tags` for
    /// this watcher's containers (Diun's `defaults`); a container's own label wins.
    pub diun: WatcherDiunConfig,
}

/// Diun's `defaults.watchRepo`, `notifyOn` and `maxTags`, set from `DIUN_DEFAULTS_*` or
/// `diun.yml`. A Diun setup sets `watchrepo=false` when Diun's is unset, as Diun follows only a
/// container's own tag by default; elsewhere all three stay unset and mean nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WatcherDiunConfig {
    /// `true`: newer tags of the repository are offered as well as a new image behind the
    /// container's tag; `false`: only the latter.
    pub watchrepo: Option<bool>,
    /// `new`, `update` or both (`new;update`): which of the two is offered.
    pub notifyon: Option<String>,
    /// Only the last this many tags the registry lists compete (`0`: all).
    pub maxtags: Option<u32>,
}

/// The watcher-wide form of the container labels `tag.include`, `tag.exclude`,
/// `tag.transform`, `tag.prerelease` and `tag.morenumbers`, with the same syntax: one place to
/// say "never offer release candidates" or "ignore `-windows` tags" for a whole host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WatcherTagConfig {
    /// Only tags matching this regex compete.
    pub include: Option<String>,
    /// No tag matching this regex competes.
    pub exclude: Option<String>,
    /// `regex => replacement` applied to tags before they are compared (WUD's syntax).
    pub transform: Option<String>,
    /// Pre-releases compete even when the current tag is a release.
    pub prerelease: Option<bool>,
    /// Tags with more numbers than the current one compete (`1.25` → `1.25.3`).
    pub morenumbers: Option<bool>,
}

impl Default for WatcherConfig {
    fn default() -> Self {
        WatcherConfig {
            socket: DEFAULT_SOCKET.into(),
            host: None,
            port: 2375,
            cafile: None,
            certfile: None,
            keyfile: None,
            cron: "0 * * * *".into(),
            interval: None,
            jitter: 60_000,
            watchbydefault: true,
            watchall: false,
            watchevents: true,
            scope: None,
            include: None,
            exclude: None,
            tag: WatcherTagConfig::default(),
            watchdigest: None,
            swarm: None,
            diun: WatcherDiunConfig::default(),
        }
    }
}

/// How to reach the engine, decided once from the options above.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Socket(String),
    Tcp {
        host: String,
        port: u16,
    },
    Tls {
        host: String,
        port: u16,
        cafile: PathBuf,
        certfile: PathBuf,
        keyfile: PathBuf,
    },
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Socket(path) => write!(f, "unix://{path}"),
            Endpoint::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
            Endpoint::Tls { host, port, .. } => write!(f, "tcp://{host}:{port} (TLS)"),
        }
    }
}

/// Parses a comma-separated list of name patterns, each anchored to the whole name: `web`
/// means the container `web`, not `webhook`; `web-.*` means every `web-` container. Empty items
/// (a trailing comma) are ignored.
pub fn name_patterns(list: &str) -> Result<Vec<regex::Regex>, regex::Error> {
    list.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| regex::Regex::new(&format!("^(?:{p})$")))
        .collect()
}

impl WatcherConfig {
    /// The container labels this watcher sets by default, by their key after the label
    /// prefix (`tag.include`), as a label would spell the value.
    pub fn label_defaults(&self) -> Vec<(&'static str, String)> {
        let t = &self.tag;
        let text = [
            ("tag.include", &t.include),
            ("tag.exclude", &t.exclude),
            ("tag.transform", &t.transform),
        ];
        let switch = [
            ("tag.prerelease", t.prerelease),
            ("tag.morenumbers", t.morenumbers),
            ("watch.digest", self.watchdigest),
        ];
        let d = &self.diun;
        let diun = [
            ("diun.watch_repo", d.watchrepo.map(|b| b.to_string())),
            ("diun.notify_on", d.notifyon.clone()),
            ("diun.max_tags", d.maxtags.map(|n| n.to_string())),
        ];
        text.into_iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
            .chain(diun.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))))
            .chain(
                switch
                    .into_iter()
                    .filter_map(|(k, v)| v.map(|v| (k, v.to_string()))),
            )
            .collect()
    }

    /// Assumes [`WatcherConfig::problems`] found nothing.
    pub fn endpoint(&self) -> Endpoint {
        match (&self.host, &self.cafile, &self.certfile, &self.keyfile) {
            (Some(host), Some(ca), Some(cert), Some(key)) => Endpoint::Tls {
                host: host.clone(),
                port: self.port,
                cafile: ca.clone(),
                certfile: cert.clone(),
                keyfile: key.clone(),
            },
            (Some(host), ..) => Endpoint::Tcp {
                host: host.clone(),
                port: self.port,
            },
            _ => Endpoint::Socket(self.socket.clone()),
        }
    }

    /// Problems the types cannot express, as (key, message) pairs.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if let Err(err) = self.cron.parse::<croner::Cron>() {
            problems.push(("cron", format!("not a valid cron expression: {err}")));
        }
        if self.interval == Some(0) {
            problems.push(("interval", "must be at least 1 second".into()));
        }
        let tls = [
            ("cafile", &self.cafile),
            ("certfile", &self.certfile),
            ("keyfile", &self.keyfile),
        ];
        let set: Vec<&str> = tls
            .iter()
            .filter(|(_, v)| v.is_some())
            .map(|(k, _)| *k)
            .collect();
        if !set.is_empty() && set.len() < tls.len() {
            let missing: Vec<&str> = tls
                .iter()
                .filter(|(_, v)| v.is_none())
                .map(|(k, _)| *k)
                .collect();
            problems.push((
                set[0],
                format!(
                    "TLS needs cafile, certfile and keyfile together; missing {}",
                    missing.join(", ")
                ),
            ));
        }
        if !set.is_empty() && self.host.is_none() {
            problems.push((
                set[0],
                "TLS files are for a remote engine: set host too".into(),
            ));
        }
        for (key, list) in [("include", &self.include), ("exclude", &self.exclude)] {
            // Which item, not the regex error: that quotes the value, and messages never do.
            let bad = list.as_deref().and_then(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .position(|p| name_patterns(p).is_err())
            });
            if let Some(n) = bad {
                problems.push((
                    key,
                    format!(
                        "item {} is not a valid regular expression (comma-separated regexes)",
                        n + 1
                    ),
                ));
            }
        }
        let tag = &self.tag;
        if let Err(err) = crate::tags::TagPolicy::new(
            tag.include.as_deref(),
            tag.exclude.as_deref(),
            tag.transform.as_deref(),
        ) {
            // `option` is `tag.include` and the like: the key under this watcher. The reason
            // says what is wrong without the value.
            problems.push((err.option, err.reason));
        }
        if matches!(&self.host, Some(h) if h.trim().is_empty()) {
            problems.push(("host", "must not be empty".into()));
        }
        if let Some(Err(message)) = self.diun.notifyon.as_deref().map(super::diun_notify_on) {
            problems.push(("diun.notifyon", message));
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_prefers_host_and_needs_all_tls_files() {
        let mut w = WatcherConfig::default();
        assert_eq!(w.endpoint(), Endpoint::Socket(DEFAULT_SOCKET.into()));
        w.host = Some("10.0.0.5".into());
        assert_eq!(w.endpoint().to_string(), "tcp://10.0.0.5:2375");
        w.cafile = Some("/ca.pem".into());
        assert_eq!(w.problems().len(), 1, "{:?}", w.problems());
        w.certfile = Some("/cert.pem".into());
        w.keyfile = Some("/key.pem".into());
        w.port = 2376;
        assert!(w.problems().is_empty());
        assert_eq!(w.endpoint().to_string(), "tcp://10.0.0.5:2376 (TLS)");
    }

    #[test]
    fn name_patterns_match_whole_names_and_bad_ones_are_problems() {
        let patterns = name_patterns("web, db-.*,").unwrap();
        let matches = |name: &str| patterns.iter().any(|p| p.is_match(name));
        assert!(matches("web") && matches("db-1"));
        assert!(!matches("webhook") && !matches("my-web") && !matches("db"));
        let w = WatcherConfig {
            exclude: Some("(unclosed".into()),
            ..WatcherConfig::default()
        };
        assert_eq!(w.problems()[0].0, "exclude");
    }

    #[test]
    fn tag_defaults_become_labels_and_bad_ones_are_problems() {
        let w = WatcherConfig {
            tag: WatcherTagConfig {
                exclude: Some("-rc".into()),
                prerelease: Some(false),
                ..WatcherTagConfig::default()
            },
            watchdigest: Some(true),
            ..WatcherConfig::default()
        };
        assert_eq!(
            w.label_defaults(),
            [
                ("tag.exclude", "-rc".to_string()),
                ("tag.prerelease", "false".to_string()),
                ("watch.digest", "true".to_string())
            ]
        );
        assert!(w.problems().is_empty());
        assert!(WatcherConfig::default().label_defaults().is_empty());
        let bad = WatcherConfig {
            tag: WatcherTagConfig {
                transform: Some("no arrow here".into()),
                ..WatcherTagConfig::default()
            },
            ..WatcherConfig::default()
        };
        let problems = bad.problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].0, "tag.transform");
        assert!(!problems[0].1.contains("no arrow here"), "{problems:?}");
    }

    #[test]
    fn cron_is_checked() {
        let mut w = WatcherConfig {
            cron: "*/5 * * * *".into(),
            ..WatcherConfig::default()
        };
        assert!(w.problems().is_empty());
        w.cron = "0 */6 * * * *".into();
        assert!(
            w.problems().is_empty(),
            "6 fields with seconds are accepted"
        );
        w.cron = "every hour".into();
        assert_eq!(w.problems()[0].0, "cron");
    }
}
