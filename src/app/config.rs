//! `tidewatch config`: the effective configuration, secrets masked, with where each value
//! came from.

use crate::config::{Loaded, Origin};

use std::io::Write;

/// `tidewatch config`: every effective value, secrets masked, with where it came from.
pub fn print_config(loaded: &Loaded, out: &mut impl Write) -> std::io::Result<()> {
    let entries = loaded.entries();
    let lines: Vec<(String, &Origin)> = entries
        .iter()
        .map(|(key, value, origin)| match value {
            serde_json::Value::Null => (format!("{key} = (unset)"), origin),
            value => (format!("{key} = {value}"), origin),
        })
        .collect();
    let width = lines.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    for (line, origin) in lines {
        writeln!(out, "{line:<width$}  # {origin}")?;
    }
    Ok(())
}
