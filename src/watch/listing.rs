//! The report that `tidewatch check` prints, as a table or as JSON: each container, the image
//! it runs, and what the check found.
//!
//! The JSON shape is a contract scripts depend on: fields are only ever added.

use crate::model::UpdateKind;
use crate::model::finding::Status;
pub use crate::model::finding::{EngineError, ListedContainer, Listing};
use serde::Serialize;
use std::io::{self, Write};

impl Listing {
    /// `{"containers": [...], "errors": [...]}`; `errors` names each engine that could not be
    /// listed (empty when all answered).
    pub fn write_json(&self, errors: &[EngineError], out: &mut impl Write) -> io::Result<()> {
        #[derive(Serialize)]
        struct Report<'a> {
            containers: &'a [ListedContainer],
            errors: &'a [EngineError],
        }
        let report = Report {
            containers: &self.containers,
            errors,
        };
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)
    }

    /// Columns sized to their content; IDs and digests shortened as `docker ps` does, since the
    /// JSON has them whole.
    pub fn write_table(&self, out: &mut impl Write) -> io::Result<()> {
        let header = [
            "WATCHER",
            "NAME",
            "STATE",
            "IMAGE",
            "REFERENCE",
            "IMAGE ID",
            "DIGEST",
            "STATUS",
        ];
        let rows: Vec<[String; 8]> = self
            .containers
            .iter()
            .map(|c| {
                let digest =
                    checked_digest(c).map(|d| short_hash(d.rsplit_once('@').map_or(d, |(_, h)| h)));
                [
                    c.watcher.clone(),
                    c.name.clone(),
                    c.state.clone(),
                    // A container created by image ID shows the short ID, as `docker ps`.
                    match c.image.strip_prefix("sha256:") {
                        Some(_) => short_hash(&c.image).to_string(),
                        None => c.image.clone(),
                    },
                    c.reference.clone().unwrap_or_else(|| "-".to_string()),
                    short_hash(&c.image_id).to_string(),
                    digest.unwrap_or("-").to_string(),
                    status_cell(c),
                ]
            })
            .collect();
        let mut widths = header.map(str::len);
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut line = |cells: &[&str]| -> io::Result<()> {
            let mut text = String::new();
            for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
                if i + 1 == cells.len() {
                    text.push_str(cell);
                } else {
                    text.push_str(&format!("{cell:<w$}  "));
                }
            }
            writeln!(out, "{}", text.trim_end())
        };
        line(&header)?;
        for row in &rows {
            line(&row.each_ref().map(String::as_str))?;
        }
        Ok(())
    }
}

/// The one repo digest the check compared: the image's digest in the repository of the
/// container's reference (an image pulled from several repositories, or a mirror, has one per
/// repository, and the table showed them all). The JSON keeps every one.
fn checked_digest(c: &ListedContainer) -> Option<&str> {
    let repository = |reference: &str| {
        crate::model::ImageRef::parse(reference)
            .ok()
            .map(|r| r.name())
    };
    let wanted = c.reference.as_deref().and_then(repository);
    c.repo_digests
        .iter()
        .find(|d| wanted.is_some() && repository(d) == wanted)
        .or_else(|| (c.repo_digests.len() == 1).then(|| &c.repo_digests[0]))
        .map(String::as_str)
}

/// The status, with what a person needs next to it: the new digest, or the reason.
fn status_cell(c: &ListedContainer) -> String {
    match (c.status, &c.update, &c.reason) {
        (Status::UpdateAvailable, Some(update), _) => match update.kind {
            UpdateKind::Digest => format!(
                "update available ({})",
                short_hash(update.digest.as_deref().unwrap_or("?"))
            ),
            kind => format!(
                "{} update: {}",
                format!("{kind:?}").to_lowercase(),
                update.tag
            ),
        },
        (Status::Held, Some(update), Some(reason)) => format!("{}: {reason}", update.tag),
        (Status::UpToDate, ..) => "up to date".into(),
        (Status::Skipped, _, Some(reason)) => format!("skipped: {reason}"),
        (Status::Failed, _, Some(reason)) => format!("failed: {reason}"),
        (status, ..) => format!("{status:?}").to_lowercase(),
    }
}

/// `sha256:0123456789abcdef…` → `0123456789ab`.
fn short_hash(hash: &str) -> &str {
    let hex = hash.split_once(':').map_or(hash, |(_, h)| h);
    &hex[..hex.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ContainerInfo;
    use crate::model::finding::{Finding, Update};

    fn up_to_date() -> Finding {
        Finding {
            status: Status::UpToDate,
            reason: None,
            update: None,
            display_name: None,
        }
    }

    fn container(image: &str, digests: &[&str]) -> ContainerInfo {
        ContainerInfo {
            repo_digests: digests.iter().map(|d| d.to_string()).collect(),
            ..ContainerInfo::example(image)
        }
    }

    #[test]
    fn rows_carry_the_normalised_reference_or_why_not() {
        let ok = ListedContainer::new(&container("nginx", &[]), up_to_date());
        assert_eq!(
            ok.reference.as_deref(),
            Some("docker.io/library/nginx:latest")
        );
        assert_eq!(ok.reference_error, None);
        let by_id = ListedContainer::new(
            &container(&format!("sha256:{}", "cd".repeat(32)), &[]),
            up_to_date(),
        );
        assert_eq!(by_id.reference, None);
        assert!(by_id.reference_error.is_some());
    }

    #[test]
    fn table_shortens_hashes() {
        let digest = format!("nginx@sha256:{}", "ef".repeat(32));
        let listing = Listing {
            containers: vec![ListedContainer::new(
                &container("nginx:1.25", &[&digest]),
                Finding {
                    status: Status::UpdateAvailable,
                    reason: None,
                    update: Some(Update {
                        kind: crate::model::UpdateKind::Digest,
                        tag: "1.25".into(),
                        digest: Some(format!("sha256:{}", "12".repeat(32))),
                        link: None,
                    }),
                    display_name: None,
                },
            )],
        };
        let mut out = Vec::new();
        listing.write_table(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("WATCHER  NAME  STATE"), "{text}");
        assert!(lines[1].contains("docker.io/library/nginx:1.25"), "{text}");
        assert!(lines[1].contains("abababababab"), "{text}");
        assert!(lines[1].contains("efefefefefef"), "{text}");
        assert!(
            lines[1].ends_with("update available (121212121212)"),
            "{text}"
        );
    }
}
