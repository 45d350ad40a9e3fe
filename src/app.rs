//! What each command does with a loaded configuration. Like `main.rs`, this is the edge where
//! typed errors become one line for a person.

use crate::config::{Loaded, Origin};
use crate::docker::{DockerError, Engine};
use crate::finding;
use crate::listing::{ListedContainer, Listing};
use crate::registry::credentials::Credential;
use crate::registry::{ClientSettings, RegistryClient};
use std::io::Write;

/// One pass: lists the containers of every watcher and asks the registries about each. Engines
/// that cannot be reached are returned as errors beside the containers of those that could, so
/// one bad host does not hide the others; a registry problem is a finding of its containers.
pub async fn check(loaded: &Loaded) -> anyhow::Result<(Listing, Vec<DockerError>)> {
    let config = &loaded.config;
    let lists = config.watcher.iter().map(|(name, watcher)| async move {
        let engine = Engine::connect(name, watcher).await?;
        let containers = engine.containers(watcher.watchall).await?;
        Ok::<_, DockerError>(containers.into_iter().map(|c| (c, watcher.watchbydefault)))
    });
    let mut containers = Vec::new();
    let mut errors = Vec::new();
    for result in futures_util::future::join_all(lists).await {
        match result {
            Ok(found) => containers.extend(found),
            Err(err) => errors.push(err),
        }
    }
    let client = RegistryClient::new(&config.registry, client_settings(loaded))?;
    let session = client.session();
    let findings = futures_util::future::join_all(
        containers
            .iter()
            .map(|(c, watch_by_default)| finding::check(&session, c, *watch_by_default)),
    )
    .await;
    let listing = Listing {
        containers: containers
            .iter()
            .zip(findings)
            .map(|((c, _), f)| ListedContainer::new(c, f))
            .collect(),
    };
    Ok((listing, errors))
}

fn client_settings(loaded: &Loaded) -> ClientSettings {
    ClientSettings {
        docker_config_dir: loaded.docker_config_dir.clone(),
        fallback: loaded
            .repo_credentials
            .clone()
            .map(|(username, password)| Credential::Basic { username, password }),
        ..ClientSettings::default()
    }
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
