//! Notifiers: tell people about updates (email, Slack, Teams, webhooks, …).
//!
//! A notifier does one thing, in [`Notifier::send`]: deliver a rendered [`Message`]. What
//! surrounds it — the subscription, the filters (threshold, include/exclude, the container's
//! `trigger.include`/`exclude` labels, once), simple or batch mode, templates, timeouts, retries
//! of transient errors, the rate limit, recording in the store — belongs to the shared
//! [`runner`], so every kind behaves alike.
//!
//! [`build_all`] is the one place that maps a configured notifier kind to its constructor.
//! Adding a kind is a file in this folder, a field in `config::TriggersConfig`, and a line there.

pub mod discord;
pub mod diun;
pub mod gotify;
pub mod http;
pub mod matrix;
pub mod mqtt;
pub mod ntfy;
pub mod pushover;
pub mod runner;
pub mod slack;
pub mod smtp;
pub mod teams;
pub mod telegram;
pub mod template;
mod webhook;
pub mod wud;

use crate::config::{CommonConfig, TriggersConfig};
use crate::trigger::{BuildProblem, TriggerId, TriggerProblem, filter};
use async_trait::async_trait;
use std::sync::Arc;

pub use runner::NotifierTrigger;
pub use template::Templates;

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
    /// The updates it tells of (one for a simple message, the batch's for a batch), each with
    /// what became of it, for the bodies that are another tool's shape (the `http` trigger's
    /// `wud` and `diun` formats).
    pub updates: Vec<template::Entry>,
}

/// One kind of notification channel. Implementations only deliver; they keep no state about
/// what was sent, and classify failures so the runner knows whether to retry.
#[async_trait]
pub trait Notifier: Send + Sync {
    async fn send(&self, message: &Message) -> Result<(), TriggerError>;
}

/// Every configured notifier, built from its typed configuration; the problems of every one
/// (templates included) are added to `problems`, so a mistake stops start-up, not a send.
///
/// An `mqtt` trigger is two parts: its notifier, which the runner drives like any other, and a
/// [`mqtt::Mirror`] of every container's state, added to `mirrors`.
pub fn build_all(
    config: &TriggersConfig,
    problems: &mut Vec<TriggerProblem>,
    mirrors: &mut Vec<mqtt::Mirror>,
) -> Vec<NotifierTrigger> {
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
        pushover,
        matrix,
        mqtt,
        docker: _,
        compose: _,
    } = config;
    let mut built = Vec::new();
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
    for (name, c) in pushover {
        let notifier = pushover::Pushover::new(c).map(|n| Arc::new(n) as Arc<dyn Notifier>);
        add("pushover", name, c.common(), pushover::TEMPLATES, notifier);
    }
    for (name, c) in matrix {
        let notifier = matrix::Matrix::new(c).map(|n| Arc::new(n) as Arc<dyn Notifier>);
        add("matrix", name, c.common(), matrix::TEMPLATES, notifier);
    }
    for (name, c) in mqtt {
        let built = mqtt::Mqtt::new(c).map(Arc::new);
        if let (Ok(mqtt), Ok(filter)) = (&built, filter::Filter::new(&c.common())) {
            let id = TriggerId {
                kind: "mqtt",
                name: name.clone(),
            };
            let timeout = c.common().send_timeout();
            mirrors.push(mqtt::Mirror::new(id, mqtt.clone(), filter, timeout));
        }
        let notifier = built.map(|n| n as Arc<dyn Notifier>);
        add("mqtt", name, c.common(), mqtt::TEMPLATES, notifier);
    }
    built
}
