//! What every trigger kind shares, whether it notifies (`notify/`), updates a container
//! (`update/`) or rewrites a compose file (`compose/`): its name, the problems its
//! configuration can have, and the filter that decides which updates it acts on. Kinds never
//! import each other; what they must share lives here.

pub mod filter;

use crate::model::UpdateCandidate;

/// An acting trigger that takes some updates for itself (the compose trigger takes the
/// services of the compose files it may write), so that the docker trigger leaves those to it
/// without either knowing the other.
pub trait Claims: Send + Sync {
    fn claims(&self, candidate: &UpdateCandidate) -> bool;
}

/// Names one configured trigger, as `kind.name` (`smtp.ops`), the form labels use.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TriggerId {
    pub kind: &'static str,
    pub name: String,
}

impl std::fmt::Display for TriggerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.kind, self.name)
    }
}

/// A problem with one key of one trigger's configuration, found when it is built. `key` is the
/// path below the instance (`tls.cafile`), so the caller can name the exact variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildProblem {
    pub key: String,
    pub message: String,
}

impl BuildProblem {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        BuildProblem {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// A problem of a whole load: which trigger, which key, what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerProblem {
    pub kind: &'static str,
    pub name: String,
    pub problem: BuildProblem,
}

impl TriggerProblem {
    /// The configuration path (`trigger.smtp.ops.tls.cafile`), to look up where it was set.
    pub fn path(&self) -> Vec<String> {
        let mut path = vec![
            "trigger".to_string(),
            self.kind.to_string(),
            self.name.clone(),
        ];
        path.extend(self.problem.key.split('.').map(str::to_string));
        path
    }
}
