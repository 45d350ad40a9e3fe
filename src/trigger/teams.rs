//! PLACEHOLDER: the teams notifier is being written.

use super::template::{Defaults, shipped};
use super::{BuildProblem, Message, Notifier, TriggerError};
use crate::config::TeamsConfig;
use async_trait::async_trait;

pub const TEMPLATES: Defaults = shipped!("teams");

pub struct Teams;

impl Teams {
    pub fn new(_config: &TeamsConfig) -> Result<Self, Vec<BuildProblem>> {
        Ok(Teams)
    }
}

#[async_trait]
impl Notifier for Teams {
    async fn send(&self, _message: &Message) -> Result<(), TriggerError> {
        Err(TriggerError::Permanent("not written yet".into()))
    }
}
