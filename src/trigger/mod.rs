//! Triggers act on events: notify, rewrite a compose file, update a container.
//!
//! A notifier does one thing, in [`Notifier::send`]: deliver a rendered [`Message`]. What
//! surrounds it — the subscription, the filters (threshold, include/exclude, the container's
//! `trigger.include`/`exclude` labels, once), simple or batch mode, templates, timeouts, retries
//! of transient errors, the rate limit, recording in the store — belongs to the shared
//! [`runner`], so every kind behaves alike.
//!
//! [`build_all`] is the one place that maps a configured kind to its constructor. Adding a kind
//! is a file in this folder, a field in `config::TriggersConfig`, and a line there.

pub mod compose;
pub mod discord;
pub mod docker;
pub mod filter;
pub mod gotify;
pub mod http;
pub mod ntfy;
pub mod runner;
pub mod slack;
pub mod smtp;
pub mod teams;
pub mod telegram;
pub mod template;
mod webhook;

use crate::config::{CommonConfig, TriggersConfig};
use async_trait::async_trait;
use std::sync::Arc;

pub use runner::NotifierTrigger;
pub use template::Templates;

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

/// Why a delivery failed. The text is shown to users and written to logs and the store, so it
/// must never contain a secret: no webhook URL, token or password, not even in part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TriggerError {
    /// Worth retrying: a timeout, a 5xx, a 429, a refused connection.
    #[error("{0}")]
    Transient(String),
    /// Retrying cannot help: rejected credentials, a 4xx, a bad template.
    #[error("{0}")]
    Permanent(String),
}

/// A message rendered from the templates, ready for one notifier.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub title: String,
    /// Plain text (Slack and Teams read it as their markdown).
    pub body: String,
    /// The values the templates were rendered from (documented in the README): the webhook
    /// sends it as its JSON body, Slack and Teams build their blocks and cards from it.
    pub data: serde_json::Value,
}

/// One kind of notification channel. Implementations only deliver; they keep no state about
/// what was sent, and classify failures so the runner knows whether to retry.
#[async_trait]
pub trait Notifier: Send + Sync {
    async fn send(&self, message: &Message) -> Result<(), TriggerError>;
}

/// A problem with one key of one trigger's configuration, found when it is built. `key` is the
/// path below the instance (`tls.cafile`), so the caller can name the exact variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildProblem {
    pub key: String,
    pub message: String,
}

impl BuildProblem {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        BuildProblem {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// A problem of a whole load: which trigger, which key, what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerProblem {
    pub kind: &'static str,
    pub name: String,
    pub problem: BuildProblem,
}

impl TriggerProblem {
    /// The configuration path (`trigger.smtp.ops.tls.cafile`), to look up where it was set.
    pub fn path(&self) -> Vec<String> {
        let mut path = vec![
            "trigger".to_string(),
            self.kind.to_string(),
            self.name.clone(),
        ];
        path.extend(self.problem.key.split('.').map(str::to_string));
        path
    }
}

/// Every configured trigger, ready to run.
#[derive(Debug, Default)]
pub struct Triggers {
    pub notifiers: Vec<NotifierTrigger>,
    pub docker: Vec<Arc<docker::DockerTrigger>>,
    pub compose: Vec<Arc<compose::ComposeTrigger>>,
}

impl Triggers {
    pub fn ids(&self) -> Vec<String> {
        let notifiers = self.notifiers.iter().map(|t| t.id().to_string());
        notifiers
            .chain(self.docker.iter().map(|t| t.id().to_string()))
            .chain(self.compose.iter().map(|t| t.id().to_string()))
            .collect()
    }
}

/// Every configured trigger, built from its typed configuration, with every problem of every
/// trigger reported together (templates included), so a mistake stops start-up, not a send.
pub fn build_all(config: &TriggersConfig) -> Result<Triggers, Vec<TriggerProblem>> {
    // Destructured so that adding a kind's field to the config fails to compile until it is
    // built here too.
    let TriggersConfig {
        smtp,
        slack,
        teams,
        http,
        discord,
        telegram,
        ntfy,
        gotify,
        docker,
        compose,
    } = config;
    let mut built = Vec::new();
    let mut problems = Vec::new();
    let mut add = |kind: &'static str,
                   name: &String,
                   common: CommonConfig,
                   defaults: template::Defaults,
                   notifier: Result<Arc<dyn Notifier>, Vec<BuildProblem>>| {
        let id = TriggerId {
            kind,
            name: name.clone(),
        };
        let mut found = Vec::new();
        let templates = Templates::new(defaults, &common).map_err(|p| found.extend(p));
        let filter = filter::Filter::new(&common).map_err(|p| found.extend(p));
        let notifier = notifier.map_err(|p| found.extend(p));
        match (templates, filter, notifier) {
            (Ok(templates), Ok(filter), Ok(notifier)) if found.is_empty() => {
                built.push(NotifierTrigger::new(
                    id, &common, filter, templates, notifier,
                ));
            }
            _ => problems.extend(found.into_iter().map(|problem| TriggerProblem {
                kind,
                name: name.clone(),
                problem,
            })),
        }
    };
    for (name, c) in smtp {
        let notifier = smtp::Smtp::new(c).map(|n| Arc::new(n) as Arc<dyn Notifier>);
        add("smtp", name, c.common(), smtp::TEMPLATES, notifier);
    }
    for (name, c) in slack {
        let notifier = slack::Slack::new(c).map(|n| Arc::new(n) as Arc<dyn Notifier>);
        add("slack", name, c.common(), slack::TEMPLATES, notifier);
    }
    for (name, c) in teams {
        let notifier = teams::Teams::new(c).map(|n| Arc::new(n) as Arc<dyn Notifier>);
        add("teams", name, c.common(), teams::TEMPLATES, notifier);
    }
    for (name, c) in http {
        let notifier = http::Http::new(c).map(|n| Arc::new(n) as Arc<dyn Notifier>);
        add("http", name, c.common(), http::TEMPLATES, notifier);
    }
    for (name, c) in discord {
        let notifier = discord::Discord::new(c).map(|n| Arc::new(n) as Arc<dyn Notifier>);
        add("discord", name, c.common(), discord::TEMPLATES, notifier);
    }
    for (name, c) in telegram {
        let notifier = telegram::Telegram::new(c).map(|n| Arc::new(n) as Arc<dyn Notifier>);
        add("telegram", name, c.common(), telegram::TEMPLATES, notifier);
    }
    for (name, c) in ntfy {
        let notifier = ntfy::Ntfy::new(c).map(|n| Arc::new(n) as Arc<dyn Notifier>);
        add("ntfy", name, c.common(), ntfy::TEMPLATES, notifier);
    }
    for (name, c) in gotify {
        let notifier = gotify::Gotify::new(c).map(|n| Arc::new(n) as Arc<dyn Notifier>);
        add("gotify", name, c.common(), gotify::TEMPLATES, notifier);
    }
    let mut docker_triggers = Vec::new();
    for (name, c) in docker {
        match docker::DockerTrigger::new(name, c) {
            Ok(trigger) => docker_triggers.push(Arc::new(trigger)),
            Err(found) => problems.extend(found.into_iter().map(|problem| TriggerProblem {
                kind: "docker",
                name: name.clone(),
                problem,
            })),
        }
    }
    let mut compose_triggers = Vec::new();
    for (name, c) in compose {
        match compose::ComposeTrigger::new(name, c) {
            Ok(trigger) => compose_triggers.push(Arc::new(trigger)),
            Err(found) => problems.extend(found.into_iter().map(|problem| TriggerProblem {
                kind: "compose",
                name: name.clone(),
                problem,
            })),
        }
    }
    for trigger in &docker_triggers {
        trigger.leave_to(compose_triggers.clone());
    }
    if problems.is_empty() {
        Ok(Triggers {
            notifiers: built,
            docker: docker_triggers,
            compose: compose_triggers,
        })
    } else {
        Err(problems)
    }
}
