//! PLACEHOLDER: the telegram notifier is being written.

use super::template::{Defaults, shipped};
use super::{BuildProblem, Message, Notifier, TriggerError};
use crate::config::TelegramConfig;
use async_trait::async_trait;

pub const TEMPLATES: Defaults = shipped!("telegram");

pub struct Telegram;

impl Telegram {
    pub fn new(_config: &TelegramConfig) -> Result<Self, Vec<BuildProblem>> {
        Ok(Telegram)
    }
}

#[async_trait]
impl Notifier for Telegram {
    async fn send(&self, _message: &Message) -> Result<(), TriggerError> {
        Err(TriggerError::Permanent("not written yet".into()))
    }
}
