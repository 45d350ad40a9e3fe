//! PLACEHOLDER: the ntfy notifier is being written.

use super::template::{Defaults, shipped};
use super::{BuildProblem, Message, Notifier, TriggerError};
use crate::config::NtfyConfig;
use async_trait::async_trait;

pub const TEMPLATES: Defaults = shipped!("ntfy");

pub struct Ntfy;

impl Ntfy {
    pub fn new(_config: &NtfyConfig) -> Result<Self, Vec<BuildProblem>> {
        Ok(Ntfy)
    }
}

#[async_trait]
impl Notifier for Ntfy {
    async fn send(&self, _message: &Message) -> Result<(), TriggerError> {
        Err(TriggerError::Permanent("not written yet".into()))
    }
}
