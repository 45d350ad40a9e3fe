//! Every configured trigger, built together: the notifiers, the docker triggers and the
//! compose triggers, with every problem of every one reported at once.

use crate::compose::trigger::ComposeTrigger;
use crate::config::TriggersConfig;
use crate::notify::{self, NotifierTrigger};
use crate::trigger::{Claims, TriggerProblem};
use crate::update::trigger::DockerTrigger;
use std::sync::Arc;

/// Every configured trigger, ready to run.
#[derive(Debug, Default)]
pub struct Triggers {
    pub notifiers: Vec<NotifierTrigger>,
    /// The `mqtt` triggers' mirrors of every container's state, beside their notifiers.
    pub mirrors: Vec<notify::mqtt::Mirror>,
    pub docker: Vec<Arc<DockerTrigger>>,
    pub compose: Vec<Arc<ComposeTrigger>>,
}

impl Triggers {
    /// The compose triggers, as what the docker triggers leave to them.
    pub fn claims(&self) -> Vec<Arc<dyn Claims>> {
        self.compose
            .iter()
            .map(|t| Arc::clone(t) as Arc<dyn Claims>)
            .collect()
    }

    /// Hands the docker triggers to the notifiers: with `when=updated`, what a docker trigger
    /// takes on is told by its outcome. Again whenever a docker trigger is added.
    pub fn tell_outcomes(&mut self) {
        let acting: Vec<(String, Arc<dyn Claims>)> = self
            .docker
            .iter()
            .map(|t| (t.id().to_string(), Arc::clone(t) as Arc<dyn Claims>))
            .collect();
        for notifier in &mut self.notifiers {
            notifier.act_through(acting.clone());
        }
    }

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
    let mut problems = Vec::new();
    let mut mirrors = Vec::new();
    let built = notify::build_all(config, &mut problems, &mut mirrors);
    let mut docker_triggers = Vec::new();
    for (name, c) in &config.docker {
        match DockerTrigger::new(name, c) {
            Ok(trigger) => docker_triggers.push(Arc::new(trigger)),
            Err(found) => problems.extend(found.into_iter().map(|problem| TriggerProblem {
                kind: "docker",
                name: name.clone(),
                problem,
            })),
        }
    }
    let mut compose_triggers = Vec::new();
    for (name, c) in &config.compose {
        match ComposeTrigger::new(name, c) {
            Ok(trigger) => compose_triggers.push(Arc::new(trigger)),
            Err(found) => problems.extend(found.into_iter().map(|problem| TriggerProblem {
                kind: "compose",
                name: name.clone(),
                problem,
            })),
        }
    }
    if problems.is_empty() {
        let mut triggers = Triggers {
            notifiers: built,
            mirrors,
            docker: docker_triggers,
            compose: compose_triggers,
        };
        for trigger in &triggers.docker {
            trigger.leave_to(triggers.claims());
        }
        triggers.tell_outcomes();
        Ok(triggers)
    } else {
        Err(problems)
    }
}
