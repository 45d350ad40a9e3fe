//! PLACEHOLDER: the discord notifier is being written.

use super::template::{Defaults, shipped};
use super::{BuildProblem, Message, Notifier, TriggerError};
use crate::config::DiscordConfig;
use async_trait::async_trait;

pub const TEMPLATES: Defaults = shipped!("discord");

pub struct Discord;

impl Discord {
    pub fn new(_config: &DiscordConfig) -> Result<Self, Vec<BuildProblem>> {
        Ok(Discord)
    }
}

#[async_trait]
impl Notifier for Discord {
    async fn send(&self, _message: &Message) -> Result<(), TriggerError> {
        Err(TriggerError::Permanent("not written yet".into()))
    }
}
