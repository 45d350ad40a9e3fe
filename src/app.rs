//! What each command does with a loaded configuration. Like `main.rs`, this is the edge where
//! typed errors become one line for a person.

use crate::config::{Config, Loaded, Origin};
use crate::docker::{DockerError, Engine};
use crate::listing::{ListedContainer, Listing};
use std::io::Write;

/// Lists the containers of every watcher. Engines that cannot be reached are returned as errors
/// beside the containers of those that could, so one bad host does not hide the others.
pub async fn check(config: &Config) -> (Listing, Vec<DockerError>) {
    let lists = config.watcher.iter().map(|(name, watcher)| async move {
        let engine = Engine::connect(name, watcher).await?;
        engine.containers(watcher.watchall).await
    });
    let mut listing = Listing {
        containers: Vec::new(),
    };
    let mut errors = Vec::new();
    for result in futures_util::future::join_all(lists).await {
        match result {
            Ok(containers) => listing
                .containers
                .extend(containers.iter().map(ListedContainer::from)),
            Err(err) => errors.push(err),
        }
    }
    (listing, errors)
}

/// `tidewatch config`: every effective value, secrets masked, with where it came from.
pub fn print_config(loaded: &Loaded, out: &mut impl Write) -> std::io::Result<()> {
    let entries = loaded.entries();
    let lines: Vec<(String, &Origin)> = entries
        .iter()
        .map(|(key, value, origin)| match value {
            serde_json::Value::Null => (format!("{key} = (unset)"), origin),
            value => (format!("{key} = {value}"), origin),
        })
        .collect();
    let width = lines.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    for (line, origin) in lines {
        writeln!(out, "{line:<width$}  # {origin}")?;
    }
    Ok(())
}
