//! Trigger instances, one map per kind (`TIDEWATCH_TRIGGER_<KIND>_<NAME>_<KEY>`).
//!
//! Each kind adds a field here and a constructor in `crate::trigger::build_all`; the compiler
//! then shows every other place to edit. No kind ships yet: notifiers and the docker trigger
//! arrive with their issues, and until then a trigger variable is reported as an unknown kind
//! rather than silently ignored.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TriggersConfig {}
