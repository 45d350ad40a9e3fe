//! PLACEHOLDER: the gotify notifier is being written.

use super::template::{Defaults, shipped};
use super::{BuildProblem, Message, Notifier, TriggerError};
use crate::config::GotifyConfig;
use async_trait::async_trait;

pub const TEMPLATES: Defaults = shipped!("gotify");

pub struct Gotify;

impl Gotify {
    pub fn new(_config: &GotifyConfig) -> Result<Self, Vec<BuildProblem>> {
        Ok(Gotify)
    }
}

#[async_trait]
impl Notifier for Gotify {
    async fn send(&self, _message: &Message) -> Result<(), TriggerError> {
        Err(TriggerError::Permanent("not written yet".into()))
    }
}
