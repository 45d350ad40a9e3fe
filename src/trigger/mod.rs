//! Triggers act on events: notify, rewrite a compose file, update a container.
//!
//! A trigger does one thing, in [`Trigger::handle`]. What surrounds it — the subscription, the
//! filters (threshold, include/exclude, once), retries of transient errors, the tracing span,
//! metrics, catching a panic — belongs to the shared runner, so every kind behaves alike.
//!
//! [`build_all`] is the one place that maps a configured kind to its constructor. Adding a kind
//! is a file in this folder, a field in `config::TriggersConfig`, and a line here.

use crate::bus::Event;
use crate::config::TriggersConfig;
use async_trait::async_trait;

/// Names one configured trigger, as `kind.name` (`smtp.ops`), the form labels use.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TriggerId {
    pub kind: &'static str,
    pub name: String,
}

impl std::fmt::Display for TriggerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.kind, self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TriggerError {
    /// Worth retrying: a timeout, a 5xx, a refused connection.
    #[error("{0}")]
    Transient(String),
    /// Retrying cannot help: rejected credentials, a 4xx, a bad template.
    #[error("{0}")]
    Permanent(String),
}

#[async_trait]
pub trait Trigger: Send + Sync {
    fn id(&self) -> &TriggerId;

    /// Acts on one event the runner has already filtered for this trigger.
    async fn handle(&self, event: &Event) -> Result<(), TriggerError>;
}

/// Every configured trigger, built from its typed configuration.
pub fn build_all(config: &TriggersConfig) -> Result<Vec<Box<dyn Trigger>>, TriggerError> {
    // Destructured so that adding a kind's field to the config fails to compile until it is
    // built here too.
    let TriggersConfig {} = config;
    Ok(Vec::new())
}
