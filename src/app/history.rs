//! `tidewatch history`: the audit log, with the entries a rollback can go back to marked.

use crate::config::Loaded;
use crate::store::Store;

use std::io::Write;

/// `tidewatch history [NAME]`: the audit log, oldest first. Reads the store the daemon writes
/// (WAL lets both work at once); a store that does not exist yet is an empty history, not an
/// error, and is not created.
pub fn history(
    loaded: &Loaded,
    name: Option<&str>,
    limit: usize,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let location = loaded.config.store.location();
    let entries = if location.exists() {
        Store::open(&location)?.history(name, limit)?
    } else {
        Vec::new()
    };
    if json {
        serde_json::to_writer_pretty(&mut *out, &entries)?;
        writeln!(out)?;
        return Ok(());
    }
    if entries.is_empty() {
        match name {
            Some(name) => writeln!(out, "No history for {name} ({}).", location.display())?,
            None => writeln!(out, "No history yet ({}).", location.display())?,
        }
        return Ok(());
    }
    for e in &entries {
        let who = match (&e.watcher, &e.container) {
            (Some(w), Some(c)) => format!("{w}/{c}"),
            (None, Some(c)) => c.clone(),
            _ => "-".into(),
        };
        // `↩ -1`: the image this update left, which `tidewatch rollback NAME --to -1` runs.
        let mark = match (&e.rollback, &e.from_image_id) {
            (Some(n), Some(id)) => format!(
                "  [rollback --to {n}: {} {}]",
                e.from_image.as_deref().unwrap_or("?"),
                crate::store::short_digest(id)
            ),
            _ => String::new(),
        };
        writeln!(
            out,
            "{}  {:<24}  {:<16}  {}{mark}",
            e.at, who, e.event, e.detail
        )?;
    }
    Ok(())
}
