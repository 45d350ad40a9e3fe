//! `tidewatch check`: one pass over every watcher, nothing else started.

use crate::bus::Bus;
use crate::config::Loaded;
use crate::registry::RegistryClient;

use crate::watch::watcher::{self, Outcome};

use super::*;
use crate::watch::listing::EngineError;
use std::io::Write;

/// `tidewatch check`: one pass over every watcher, nothing else started. Engines that cannot be
/// reached are reported beside the containers of those that could, so one bad host does not
/// hide the others; a registry problem is a finding of its containers.
pub async fn check(loaded: &Loaded) -> anyhow::Result<Outcome> {
    let client = RegistryClient::new(&loaded.config.registry, client_settings(loaded))?;
    let holds = stored_holds(loaded).await;
    Ok(watcher::cycle(&loaded.config.watcher, &client, &Bus::default(), &holds).await)
}

/// Writes a cycle's report: the JSON of `--json` (with the engines that could not be listed),
/// or the table; nothing when no engine answered, since a bare table header would only look
/// like an empty host.
pub fn write_report(outcome: &Outcome, json: bool, out: &mut impl Write) -> std::io::Result<()> {
    if json {
        let errors: Vec<EngineError> = outcome
            .errors
            .iter()
            .map(|err| EngineError {
                watcher: err.watcher().to_string(),
                error: err.to_string(),
            })
            .collect();
        outcome.listing.write_json(&errors, out)
    } else if outcome.listing.containers.is_empty() && !outcome.errors.is_empty() {
        Ok(())
    } else {
        outcome.listing.write_table(out)
    }
}
