//! A configuration value that must never be shown: registry passwords, tokens, SMTP passwords,
//! webhook URLs.
//!
//! The only way to read it is [`Secret::expose`], so every place that needs the value is easy to
//! find, and `Debug`, `Display` and `Serialize` (used by `tidewatch config`, logs, errors and the
//! API) print a mask instead.

use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// What every printed secret looks like.
pub const MASK: &str = "***";

#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The real value, for the one call that sends it (an auth header, an SMTP login).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(MASK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_printed_form_is_masked() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret}"), MASK);
        assert_eq!(format!("{secret:?}"), MASK);
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"***\"");
        assert_eq!(secret.expose(), "hunter2");
    }
}
