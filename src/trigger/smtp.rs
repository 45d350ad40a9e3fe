//! PLACEHOLDER: the smtp notifier is being written.

use super::template::{Defaults, shipped};
use super::{BuildProblem, Message, Notifier, TriggerError};
use crate::config::SmtpConfig;
use async_trait::async_trait;

pub const TEMPLATES: Defaults = shipped!("smtp");

pub struct Smtp;

impl Smtp {
    pub fn new(_config: &SmtpConfig) -> Result<Self, Vec<BuildProblem>> {
        Ok(Smtp)
    }
}

#[async_trait]
impl Notifier for Smtp {
    async fn send(&self, _message: &Message) -> Result<(), TriggerError> {
        Err(TriggerError::Permanent("not written yet".into()))
    }
}
