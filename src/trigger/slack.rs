//! PLACEHOLDER: the slack notifier is being written.

use super::template::{Defaults, shipped};
use super::{BuildProblem, Message, Notifier, TriggerError};
use crate::config::SlackConfig;
use async_trait::async_trait;

pub const TEMPLATES: Defaults = shipped!("slack");

pub struct Slack;

impl Slack {
    pub fn new(_config: &SlackConfig) -> Result<Self, Vec<BuildProblem>> {
        Ok(Slack)
    }
}

#[async_trait]
impl Notifier for Slack {
    async fn send(&self, _message: &Message) -> Result<(), TriggerError> {
        Err(TriggerError::Permanent("not written yet".into()))
    }
}
