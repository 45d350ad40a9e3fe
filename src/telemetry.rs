//! Logging: tracing to stderr, human-readable or JSON, so stdout stays clean for `--json`
//! output. bollard logs through the `log` crate; tracing-subscriber's log bridge picks it up.

use crate::config::{LogConfig, LogFormat};
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. The level was validated with the configuration.
pub fn init(config: &LogConfig) {
    let filter = EnvFilter::try_new(&config.level).unwrap_or_else(|_| EnvFilter::new("info"));
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
