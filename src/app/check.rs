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
    let bus = Bus::default();
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return Ok(watcher::cycle(&loaded.config.watcher, &client, &bus, &holds).await);
    }
    let events = bus.subscribe("progress");
    let cycle = watcher::cycle(&loaded.config.watcher, &client, &bus, &holds);
    let outcome = progress(cycle, events, &client).await;
    Ok(outcome)
}

/// A check that runs for a while says so on a terminal, on one line of stderr rewritten each
/// second: the containers done, and the registries it waits for, with how long (a registry
/// that hangs costs every try's timeout before its containers are reported failed).
async fn progress(
    cycle: impl Future<Output = Outcome>,
    mut events: crate::bus::Subscriber,
    client: &RegistryClient,
) -> Outcome {
    use std::time::Duration;
    const QUIET: Duration = Duration::from_secs(2);
    let started = tokio::time::Instant::now();
    let mut cycle = std::pin::pin!(cycle);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let (mut done, mut shown) = (0usize, false);
    let outcome = loop {
        tokio::select! {
            outcome = &mut cycle => break outcome,
            Some(event) = events.recv() => {
                if let crate::bus::Event::ContainerChecked(_) = event.as_ref() {
                    done += 1;
                }
            }
            _ = tick.tick() => {
                let waiting = client.waiting();
                if started.elapsed() < QUIET || waiting.is_empty() {
                    continue;
                }
                let (tries, timeout) = client.budget();
                let hosts: Vec<String> = waiting
                    .iter()
                    .map(|(host, waited)| format!("{host} ({} s)", waited.as_secs()))
                    .collect();
                eprint!(
                    "\r\x1b[2KChecking: {done} containers done; waiting on {} (at most {tries} tries of {} s)",
                    hosts.join(", "),
                    timeout.as_secs()
                );
                shown = true;
            }
        }
    };
    if shown {
        eprint!("\r\x1b[2K");
    }
    outcome
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
