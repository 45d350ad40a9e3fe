//! The settings of the tools tidewatch replaces, mapped onto its own: Watchtower's variables and
//! flags (`watchtower`) and its notification URLs (`shoutrrr`), Diun's variables (`diun`) and its
//! YAML file (`diun_file`, flattened into those variables); WUD's share tidewatch's grammar and
//! are read by `config::env`.
//!
//! A mapped value is a figment source of its own ([`Setting`]), merged before the file and the
//! variables, so a value set the tidewatch way wins and every mapped value still names the
//! Watchtower variable or flag it came from, in `tidewatch config` and in errors.

pub mod diun;
pub mod diun_file;
pub mod diun_regopts;
pub mod gotemplate;
pub mod shoutrrr;
pub mod watchtower;
pub mod wud;

use figment::value::{Dict, Map, Value};

/// Text to show as is in a handlebars template: a mapped body or title is a template, and a
/// user's `{{` must not become a field.
pub(crate) fn literal(text: &str) -> String {
    text.replace("{{", "\\{{")
}

/// `text` as a JSON string inside a handlebars body template.
pub(crate) fn json_literal(text: &str) -> String {
    literal(&serde_json::to_string(text).unwrap_or_default())
}
use figment::{Metadata, Profile, Provider};

/// One configuration value made from another tool's setting.
#[derive(Debug, Clone)]
pub struct Setting {
    /// The variable or flag, as errors and `tidewatch config` name it.
    pub origin: String,
    /// The key path, `["trigger", "discord", "watchtower1", "url"]`.
    pub path: Vec<String>,
    pub value: Value,
}

impl Setting {
    pub fn new(origin: impl Into<String>, path: &[&str], value: impl Into<Value>) -> Setting {
        Setting {
            origin: origin.into(),
            path: path.iter().map(|s| s.to_string()).collect(),
            value: value.into(),
        }
    }
}

impl Provider for Setting {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.origin.clone())
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut value = self.value.clone();
        for segment in self.path.iter().skip(1).rev() {
            let mut dict = Dict::new();
            dict.insert(segment.clone(), value);
            value = Value::from(dict);
        }
        let mut root = Dict::new();
        if let Some(first) = self.path.first() {
            root.insert(first.clone(), value);
        }
        Ok(Map::from([(Profile::Default, root)]))
    }
}
