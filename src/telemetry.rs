//! Logging: tracing to stderr, human-readable or JSON, so stdout stays clean for `--json`
//! output. bollard logs through the `log` crate; tracing-subscriber's log bridge picks it up.
//!
//! The user's level applies to tidewatch, not to the libraries under it: at debug, bollard
//! prints every inspected container whole (its environment, with whatever passwords it holds),
//! hyper and h2 print frames, lettre prints the SMTP dialogue. Those are capped at `info`
//! unless the user names them in the filter (`debug,bollard=debug`): seeing their inside is
//! then a deliberate choice, not a side effect of asking tidewatch for more detail.

use crate::config::{LogConfig, LogFormat};
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// Libraries whose debug and trace output can carry secrets or drown ours. A target is matched
/// by prefix by tracing, so `hyper` covers `hyper::proto::h1`, but not `hyper_util`.
pub const NOISY: &[&str] = &[
    "bollard",
    "hyper",
    "hyper_util",
    "h2",
    "reqwest",
    "rustls",
    "tokio_rustls",
    "lettre",
    "tower",
    "want",
    "mio",
    "handlebars",
    "rusqlite",
];

/// The level the libraries in [`NOISY`] get unless the user names them.
const NOISY_CAP: &str = "info";

/// The filter directives for the user's `level`: theirs, then a cap for every noisy library
/// they did not name. A cap only lowers a library below the user's default; it never raises
/// one (`warn` stays `warn` for everyone).
pub fn directives(level: &str) -> String {
    let named: Vec<&str> = level
        .split(',')
        .filter_map(|d| d.split_once('=').map(|(target, _)| target))
        .map(|target| target.split('[').next().unwrap_or(target).trim())
        .collect();
    let mut out = level.trim().to_string();
    let Some(cap) = cap_for(level) else {
        return out;
    };
    for noisy in NOISY {
        let mentioned = named
            .iter()
            .any(|t| t == noisy || t.starts_with(&format!("{noisy}::")));
        if !mentioned {
            if !out.is_empty() {
                out.push(',');
            }
            out.push_str(&format!("{noisy}={cap}"));
        }
    }
    out
}

/// `info`, or the user's default level when that is quieter. Without a default level (only
/// `target=level` directives) unnamed targets are already off, so nothing needs a cap.
fn cap_for(level: &str) -> Option<&'static str> {
    let default = level
        .split(',')
        .map(str::trim)
        .find(|d| !d.is_empty() && !d.contains('='))?;
    Some(match default.to_ascii_lowercase().as_str() {
        "off" => "off",
        "error" => "error",
        "warn" => "warn",
        _ => NOISY_CAP,
    })
}

/// Installs the global subscriber. The level was validated with the configuration.
pub fn init(config: &LogConfig) {
    let filter = EnvFilter::try_new(directives(&config.level))
        .unwrap_or_else(|_| EnvFilter::new(directives("info")));
    // Colours only for a person at a terminal, never into a log file or collector.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    // A second init (tests calling `run` twice in one process) keeps the first subscriber.
    let _ = match config.format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(level: &str) -> Vec<String> {
        directives(level)
            .split(',')
            .skip(level.split(',').count())
            .map(String::from)
            .collect()
    }

    #[test]
    fn a_bare_level_caps_every_noisy_library() {
        let got = directives("debug");
        assert!(got.starts_with("debug,bollard=info,hyper=info,"), "{got}");
        assert_eq!(caps("trace").len(), NOISY.len());
        assert!(caps("trace").iter().all(|c| c.ends_with("=info")));
        assert!(EnvFilter::try_new(got).is_ok());
    }

    #[test]
    fn a_library_the_user_names_is_left_as_they_say() {
        let got = directives("debug,bollard=trace,hyper::proto=debug");
        assert!(!got.contains("bollard=info"), "{got}");
        assert!(!got.contains(",hyper=info"), "{got}");
        assert!(got.contains("hyper_util=info"), "{got}");
        assert!(got.contains("h2=info"), "{got}");
        let got = directives("info,bollard[container]=debug");
        assert!(!got.contains("bollard=info"), "{got}");
    }

    #[test]
    fn a_quieter_default_is_never_raised() {
        assert!(caps("warn").iter().all(|c| c.ends_with("=warn")));
        assert!(caps("error").iter().all(|c| c.ends_with("=error")));
        assert!(caps("off").iter().all(|c| c.ends_with("=off")));
        assert_eq!(directives("tidewatch=debug"), "tidewatch=debug");
    }
}
