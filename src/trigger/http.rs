//! PLACEHOLDER: the http notifier is being written.

use super::template::{Defaults, shipped};
use super::{BuildProblem, Message, Notifier, TriggerError};
use crate::config::HttpConfig;
use async_trait::async_trait;

pub const TEMPLATES: Defaults = shipped!("http");

pub struct Http;

impl Http {
    pub fn new(_config: &HttpConfig) -> Result<Self, Vec<BuildProblem>> {
        Ok(Http)
    }
}

#[async_trait]
impl Notifier for Http {
    async fn send(&self, _message: &Message) -> Result<(), TriggerError> {
        Err(TriggerError::Permanent("not written yet".into()))
    }
}
