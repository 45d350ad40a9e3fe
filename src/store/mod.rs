//! The store: one SQLite file holding the current state of every container, an append-only
//! audit log, and what each trigger has already sent (so `once` holds across restarts).
//!
//! It learns everything from the bus, like any other subscriber, through [`record`]. Writes are
//! transactions in WAL mode: a SIGKILL at any moment leaves the file as of the last finished
//! write, never half of one. Containers are keyed by watcher and name, not ID, because an update
//! re-creates a container under the same name with a new ID.
//!
//! rusqlite is synchronous; the async side calls in through [`Store::blocking`], on tokio's
//! blocking pool, so a slow disk never stalls the event loop.

mod schema;
mod view;
pub use view::ContainerView;

use crate::bus::{Event, Subscriber};
pub use crate::model::ContainerKey;
use crate::model::finding::ListedContainer;
use crate::model::finding::Status;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store {path}: {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("store {path}: cannot create its folder: {source}")]
    Folder {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "store {path}: written by a newer tidewatch (schema {found}, this version knows {known}); \
         refusing to touch it"
    )]
    TooNew {
        path: PathBuf,
        found: usize,
        known: usize,
    },
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    /// RFC 3339, UTC.
    pub at: String,
    pub watcher: Option<String>,
    pub container: Option<String>,
    /// `update-available`, `up-to-date`, `skipped`, `failed`, `removed`, `notified`,
    /// `notify-failed`, `update-applied`, `update-failed`, `rolled-back`; and what recovery at
    /// start-up did with an interrupted update (`update-finished`, `update-undone`,
    /// `recovery-incomplete`, `dependent-restarted`, …, see `update::journal::Recovered`).
    pub event: String,
    pub detail: String,
    /// For `update-applied` and `rollback-applied`: the image the container ran before, by
    /// reference, ID and digest (what a rollback goes back to). `null` otherwise, and for lines
    /// written before tidewatch recorded them.
    pub from_image: Option<String>,
    pub from_image_id: Option<String>,
    pub from_digest: Option<String>,
    /// When this line's `from_image` is one `tidewatch rollback NAME --to` can go back to: the
    /// `-N` that names it (`-1` is the default target).
    pub rollback: Option<String>,
}

/// An image a container ran before an update, which a rollback can go back to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RollbackTarget {
    /// The audit line of the update that left it.
    pub seq: i64,
    pub at: String,
    pub watcher: String,
    /// The reference it was run as (`registry/app:1.4.2`).
    pub image: String,
    pub image_id: String,
    pub digest: Option<String>,
}

/// What the audit log records of the images of an applied update or rollback.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Images {
    pub from_image: Option<String>,
    pub from_image_id: Option<String>,
    pub from_digest: Option<String>,
    pub to_image_id: Option<String>,
}

/// What the store remembers of one container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredContainer {
    pub watcher: String,
    pub name: String,
    pub id: String,
    pub image: String,
    pub status: String,
    pub reason: Option<String>,
    pub update_kind: Option<String>,
    pub update_tag: Option<String>,
    pub update_digest: Option<String>,
    pub checked_at: String,
}

/// Cheap to clone: every clone is the same connection.
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Store {
    /// Opens (creating it and its folder if needed) and migrates the store at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::Folder {
                path: path.to_path_buf(),
                source,
            })?;
        }
        let sqlite = |source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let mut conn = Connection::open(path).map_err(sqlite)?;
        // WAL: readers (`tidewatch history` beside the daemon) never block the writer, and a
        // crash leaves the last committed state. NORMAL sync is durable at checkpoints and
        // never corrupt, which is the trade SQLite recommends for WAL.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sqlite)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sqlite)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sqlite)?;
        migrate(&mut conn, path)?;
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on tokio's blocking pool.
    pub async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.clone();
        match tokio::task::spawn_blocking(move || f(&store)).await {
            Ok(result) => result,
            Err(join) => std::panic::resume_unwind(join.into_panic()),
        }
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        // A panic while holding the lock cannot leave a half-written transaction (it rolls
        // back on drop), so the connection is still good.
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn).map_err(|source| StoreError::Sqlite {
            path: self.path.clone(),
            source,
        })
    }

    /// Saves what a check found. The audit log gets a line only when the finding differs from
    /// the one before (a new update, a new reason, back to up to date): an hourly "still up to
    /// date" for every container would bury what matters. Returns whether it changed.
    pub fn record_finding(&self, c: &ListedContainer) -> Result<bool, StoreError> {
        let status = status_word(c.status);
        let (kind, tag, digest) = match &c.update {
            Some(u) => (
                Some(kind_word(u.kind)),
                Some(u.tag.clone()),
                u.digest.clone(),
            ),
            None => (None, None, None),
        };
        let at = now();
        self.with(|conn| {
            let tx = conn.transaction()?;
            type Row = (
                String,
                Option<String>,
                Option<String>,
                Option<String>,
                Option<String>,
            );
            let before: Option<Row> = tx
                .query_row(
                    "SELECT status, reason, update_kind, update_tag, update_digest
                     FROM containers WHERE watcher = ?1 AND name = ?2",
                    params![c.watcher, c.name],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )
                .optional()?;
            let after: Row = (
                status.to_string(),
                c.reason.clone(),
                kind.map(str::to_string),
                tag.clone(),
                digest.clone(),
            );
            let changed = before.as_ref() != Some(&after);
            tx.execute(
                "INSERT INTO containers
                   (watcher, name, id, image, status, reason, update_kind, update_tag,
                    update_digest, checked_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT (watcher, name) DO UPDATE SET
                   id = excluded.id, image = excluded.image, status = excluded.status,
                   reason = excluded.reason, update_kind = excluded.update_kind,
                   update_tag = excluded.update_tag, update_digest = excluded.update_digest,
                   checked_at = excluded.checked_at",
                params![
                    c.watcher, c.name, c.id, c.image, status, c.reason, kind, tag, digest, at
                ],
            )?;
            if changed {
                let detail = match (&c.update, &c.reason) {
                    (Some(u), Some(reason)) if c.status == Status::Held => {
                        format!("{} → {}: {reason}", c.image, u.tag)
                    }
                    (Some(u), _) => format!(
                        "{} → {} ({}){}",
                        c.image,
                        u.tag,
                        kind_word(u.kind),
                        u.digest
                            .as_deref()
                            .map(|d| format!(", {}", short_digest(d)))
                            .unwrap_or_default()
                    ),
                    (None, Some(reason)) => reason.clone(),
                    (None, None) => c.image.clone(),
                };
                append(&tx, &at, Some(&c.watcher), Some(&c.name), status, &detail)?;
            }
            tx.commit()?;
            Ok(changed)
        })
    }

    /// Forgets the containers of `watcher` that are not in `present` (a full listing of it),
    /// logging each as removed. Returns their names.
    pub fn forget_missing(
        &self,
        watcher: &str,
        present: &[String],
    ) -> Result<Vec<String>, StoreError> {
        let at = now();
        self.with(|conn| {
            let tx = conn.transaction()?;
            let known: Vec<String> = tx
                .prepare("SELECT name FROM containers WHERE watcher = ?1")?
                .query_map(params![watcher], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let gone: Vec<String> = known
                .into_iter()
                .filter(|name| !present.contains(name))
                .collect();
            for name in &gone {
                tx.execute(
                    "DELETE FROM containers WHERE watcher = ?1 AND name = ?2",
                    params![watcher, name],
                )?;
                append(
                    &tx,
                    &at,
                    Some(watcher),
                    Some(name),
                    "removed",
                    "no longer listed",
                )?;
            }
            tx.commit()?;
            Ok(gone)
        })
    }

    /// Appends a line to the audit log.
    pub fn log(
        &self,
        container: Option<&ContainerKey>,
        event: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        let at = now();
        self.with(|conn| {
            append(
                conn,
                &at,
                container.map(|c| c.watcher.as_str()),
                container.map(|c| c.name.as_str()),
                event,
                detail,
            )
        })
    }

    /// Whether `trigger` already sent `target` (a reference with its digest) for `container`.
    pub fn already_sent(
        &self,
        trigger: &str,
        container: &ContainerKey,
        target: &str,
    ) -> Result<bool, StoreError> {
        self.with(|conn| {
            conn.query_row(
                "SELECT 1 FROM notified
                 WHERE trigger = ?1 AND watcher = ?2 AND container = ?3 AND target = ?4",
                params![trigger, container.watcher, container.name, target],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
        })
    }

    /// Remembers that `trigger` sent these (container, target) pairs.
    pub fn mark_sent(
        &self,
        trigger: &str,
        sent: &[(ContainerKey, String)],
    ) -> Result<(), StoreError> {
        let at = now();
        self.with(|conn| {
            let tx = conn.transaction()?;
            for (container, target) in sent {
                tx.execute(
                    "INSERT OR IGNORE INTO notified (trigger, watcher, container, target, at)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![trigger, container.watcher, container.name, target, at],
                )?;
            }
            tx.commit()
        })
    }

    /// The audit log, oldest first: the last `limit` entries, of containers named `name` when
    /// given.
    pub fn history(&self, name: Option<&str>, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut entries: Vec<AuditEntry> = self.with(|conn| {
            let mut statement = conn.prepare(
                "SELECT seq, at, watcher, container, event, detail, from_image, from_image_id,
                        from_digest FROM audit
                 WHERE ?1 IS NULL OR container = ?1
                 ORDER BY seq DESC LIMIT ?2",
            )?;
            let mut entries: Vec<AuditEntry> = statement
                .query_map(params![name, limit], |r| {
                    Ok(AuditEntry {
                        seq: r.get(0)?,
                        at: r.get(1)?,
                        watcher: r.get(2)?,
                        container: r.get(3)?,
                        event: r.get(4)?,
                        detail: r.get(5)?,
                        from_image: r.get(6)?,
                        from_image_id: r.get(7)?,
                        from_digest: r.get(8)?,
                        rollback: None,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            entries.reverse();
            Ok(entries)
        })?;
        // Which lines name an image `rollback --to -N` goes back to.
        let mut containers: Vec<(String, String)> = entries
            .iter()
            .filter_map(|e| Some((e.watcher.clone()?, e.container.clone()?)))
            .collect();
        containers.sort();
        containers.dedup();
        for (watcher, container) in containers {
            for (i, target) in self
                .rollback_targets(&watcher, &container, None)?
                .iter()
                .enumerate()
            {
                if let Some(e) = entries.iter_mut().find(|e| e.seq == target.seq) {
                    e.rollback = Some(format!("-{}", i + 1));
                }
            }
        }
        Ok(entries)
    }

    /// The images container `name` of `watcher` ran before its updates, newest first, each
    /// once: what `tidewatch rollback` can go back to (`-1` first). `running` is the image it
    /// runs now, which is no target; when not given, the store's last rollback says it.
    pub fn rollback_targets(
        &self,
        watcher: &str,
        name: &str,
        running: Option<&str>,
    ) -> Result<Vec<RollbackTarget>, StoreError> {
        type Row = (
            i64,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let rows: Vec<Row> = self.with(|conn| {
            conn.prepare(
                "SELECT seq, at, event, from_image, from_image_id, from_digest, to_image_id
                 FROM audit
                 WHERE watcher = ?1 AND container = ?2
                   AND event IN ('update-applied', 'rollback-applied')
                 ORDER BY seq DESC",
            )?
            .query_map(params![watcher, name], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            })?
            .collect()
        })?;
        let running = running.map(str::to_string).or_else(|| {
            rows.first()
                .filter(|(_, _, event, ..)| event == "rollback-applied")
                .and_then(|row| row.6.clone())
        });
        let mut targets: Vec<RollbackTarget> = Vec::new();
        // Only updates leave a target: rolling back twice goes further back, not forth.
        for (seq, at, event, image, image_id, digest, _) in rows {
            let (Some(image), Some(image_id)) = (image, image_id) else {
                continue;
            };
            if event != "update-applied"
                || running.as_deref() == Some(image_id.as_str())
                || targets.iter().any(|t| t.image_id == image_id)
            {
                continue;
            }
            targets.push(RollbackTarget {
                seq,
                at,
                watcher: watcher.to_string(),
                image,
                image_id,
                digest,
            });
        }
        Ok(targets)
    }

    /// The image IDs container `name` of `watcher` ran before its updates, newest first: what
    /// the docker trigger's cleanup keeps the last `rollback.keep` of.
    pub fn earlier_images(&self, watcher: &str, name: &str) -> Result<Vec<String>, StoreError> {
        let mut ids: Vec<String> = self.with(|conn| {
            conn.prepare(
                "SELECT from_image_id FROM audit
                 WHERE watcher = ?1 AND container = ?2 AND event = 'update-applied'
                   AND from_image_id IS NOT NULL
                 ORDER BY seq DESC",
            )?
            .query_map(params![watcher, name], |r| r.get(0))?
            .collect()
        })?;
        let mut seen = std::collections::HashSet::new();
        ids.retain(|id| seen.insert(id.clone()));
        Ok(ids)
    }

    /// Appends an applied update's or rollback's line, with its images.
    pub fn log_applied(
        &self,
        container: &ContainerKey,
        event: &str,
        detail: &str,
        images: &Images,
    ) -> Result<(), StoreError> {
        let at = now();
        self.with(|conn| {
            conn.execute(
                "INSERT INTO audit (at, watcher, container, event, detail, from_image,
                                    from_image_id, from_digest, to_image_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    at,
                    container.watcher,
                    container.name,
                    event,
                    detail,
                    images.from_image,
                    images.from_image_id,
                    images.from_digest,
                    images.to_image_id
                ],
            )
            .map(|_| ())
        })
    }

    /// Every hold, by watcher and name.
    pub fn holds(&self) -> Result<crate::model::Holds, StoreError> {
        self.with(|conn| {
            conn.prepare(
                "SELECT watcher, name, tag, digest, by, at, reason FROM holds
                 ORDER BY watcher, name",
            )?
            .query_map([], |r| {
                Ok(crate::model::Hold {
                    watcher: r.get(0)?,
                    name: r.get(1)?,
                    tag: r.get(2)?,
                    digest: r.get(3)?,
                    by: r.get(4)?,
                    at: r.get(5)?,
                    reason: r.get(6)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map(crate::model::Holds)
        })
    }

    /// Sets (or replaces) a container's hold, with a line in the audit log.
    pub fn hold(&self, hold: &crate::model::Hold) -> Result<(), StoreError> {
        self.with(|conn| {
            let tx = conn.transaction()?;
            tx.execute(
                "INSERT INTO holds (watcher, name, tag, digest, by, at, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (watcher, name) DO UPDATE SET
                   tag = excluded.tag, digest = excluded.digest, by = excluded.by,
                   at = excluded.at, reason = excluded.reason",
                params![
                    hold.watcher,
                    hold.name,
                    hold.tag,
                    hold.digest,
                    hold.by,
                    hold.at,
                    hold.reason
                ],
            )?;
            let detail = format!("{} held by {}: {}", hold.what(), hold.by, hold.reason);
            append(
                &tx,
                &hold.at,
                Some(&hold.watcher),
                Some(&hold.name),
                "held",
                &detail,
            )?;
            tx.commit()
        })
    }

    /// Lifts a container's hold, with a line in the audit log. Returns whether there was one.
    pub fn release(
        &self,
        watcher: &str,
        name: &str,
        by: &str,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let at = now();
        self.with(|conn| {
            let tx = conn.transaction()?;
            let deleted = tx.execute(
                "DELETE FROM holds WHERE watcher = ?1 AND name = ?2",
                params![watcher, name],
            )?;
            if deleted > 0 {
                let detail = format!("by {by}: {reason}");
                append(&tx, &at, Some(watcher), Some(name), "released", &detail)?;
            }
            tx.commit()?;
            Ok(deleted > 0)
        })
    }

    /// Every container the store knows, by watcher and name.
    pub fn containers(&self) -> Result<Vec<StoredContainer>, StoreError> {
        self.with(|conn| {
            let mut statement = conn.prepare(
                "SELECT watcher, name, id, image, status, reason, update_kind, update_tag,
                        update_digest, checked_at
                 FROM containers ORDER BY watcher, name",
            )?;
            statement
                .query_map([], |r| {
                    Ok(StoredContainer {
                        watcher: r.get(0)?,
                        name: r.get(1)?,
                        id: r.get(2)?,
                        image: r.get(3)?,
                        status: r.get(4)?,
                        reason: r.get(5)?,
                        update_kind: r.get(6)?,
                        update_tag: r.get(7)?,
                        update_digest: r.get(8)?,
                        checked_at: r.get(9)?,
                    })
                })?
                .collect()
        })
    }
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let sqlite = |source| StoreError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let version: usize = conn
        .pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))
        .map_err(sqlite)?
        .try_into()
        .unwrap_or(0);
    let known = schema::MIGRATIONS.len();
    if version > known {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found: version,
            known,
        });
    }
    for (index, migration) in schema::MIGRATIONS.iter().enumerate().skip(version) {
        // Each step and its version bump commit together, so a crash mid-upgrade resumes at
        // the step that did not finish.
        let tx = conn.transaction().map_err(sqlite)?;
        tx.execute_batch(migration).map_err(sqlite)?;
        tx.pragma_update(None, "user_version", (index + 1) as i64)
            .map_err(sqlite)?;
        tx.commit().map_err(sqlite)?;
    }
    Ok(())
}

fn append(
    conn: &Connection,
    at: &str,
    watcher: Option<&str>,
    container: Option<&str>,
    event: &str,
    detail: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO audit (at, watcher, container, event, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![at, watcher, container, event, detail],
    )
    .map(|_| ())
}

fn status_word(status: Status) -> &'static str {
    match status {
        Status::UpdateAvailable => "update-available",
        Status::UpToDate => "up-to-date",
        Status::Skipped => "skipped",
        Status::Failed => "failed",
        Status::Held => "held",
    }
}

fn kind_word(kind: crate::model::UpdateKind) -> &'static str {
    use crate::model::UpdateKind::*;
    match kind {
        Digest => "digest",
        Prerelease => "prerelease",
        Patch => "patch",
        Minor => "minor",
        Major => "major",
    }
}

/// `sha256:` and the first 12 hex digits, as `docker images` shows them.
pub fn short_digest(digest: &str) -> &str {
    let end = digest.find(':').map(|i| i + 1 + 12).unwrap_or(12);
    &digest[..end.min(digest.len())]
}

/// Keeps the store current from the bus until every publisher is gone. A write that fails is
/// logged and skipped: the store is a record, and losing one line must not stop the daemon.
pub async fn record(store: Store, mut events: Subscriber) {
    while let Some(event) = events.recv().await {
        let result = match event.as_ref() {
            Event::ContainerChecked(c) => {
                let c = (**c).clone();
                store
                    .blocking(move |s| {
                        s.record_finding(&c)?;
                        s.record_listed(&c)
                    })
                    .await
            }
            Event::ContainerSeen(info) => {
                let info = info.clone();
                store.blocking(move |s| s.record_seen(&info)).await
            }
            Event::CheckCompleted(report) => match &report.listed {
                Some(names) => {
                    let (watcher, names) = (report.watcher.clone(), names.clone());
                    store
                        .blocking(move |s| s.forget_missing(&watcher, &names).map(|_| ()))
                        .await
                }
                None => Ok(()),
            },
            Event::ContainerRemoved { watcher, name, .. } => {
                let (watcher, name) = (watcher.clone(), name.clone());
                store
                    .blocking(move |s| s.forget_missing_one(&watcher, &name))
                    .await
            }
            // Triggers write their own lines (see `trigger::runner`): they still report
            // after the bus has closed at shutdown.
            Event::Notified { .. } => Ok(()),
            Event::UpdateApplied { candidate, .. } => {
                let images = Images {
                    from_image: Some(candidate.current.familiar()),
                    from_image_id: Some(candidate.container.image_id.clone()),
                    from_digest: running_digest(candidate),
                    to_image_id: None,
                };
                let key = candidate.container.key();
                let detail = action_detail(candidate, "");
                // It moved on: whatever held it back is over.
                store
                    .blocking(move |s| {
                        s.log_applied(&key, "update-applied", &detail, &images)?;
                        s.release(
                            &key.watcher,
                            &key.name,
                            "tidewatch",
                            "an update was applied",
                        )
                        .map(|_| ())
                    })
                    .await
            }
            Event::RollbackApplied {
                candidate,
                from_image_id,
                to_image_id,
                by,
                ..
            } => {
                let images = Images {
                    from_image: Some(candidate.current.familiar()),
                    from_image_id: Some(from_image_id.clone()),
                    from_digest: running_digest(candidate),
                    to_image_id: Some(to_image_id.clone()),
                };
                let key = candidate.container.key();
                let detail = action_detail(candidate, &format!("by {by}"));
                store
                    .blocking(move |s| s.log_applied(&key, "rollback-applied", &detail, &images))
                    .await
            }
            Event::Held(hold) => {
                let hold = hold.clone();
                store.blocking(move |s| s.hold(&hold)).await
            }
            Event::Released {
                watcher,
                name,
                by,
                reason,
            } => {
                let (watcher, name, by, reason) =
                    (watcher.clone(), name.clone(), by.clone(), reason.clone());
                store
                    .blocking(move |s| s.release(&watcher, &name, &by, &reason).map(|_| ()))
                    .await
            }
            Event::UpdateFailed { candidate, reason } => {
                log_action(&store, candidate, "update-failed", reason.clone()).await
            }
            // The version that failed is not tried again every cycle (with a stop of the
            // container each time): held until a newer one, `tidewatch update NAME` or
            // `tidewatch release NAME`.
            Event::RolledBack { candidate, reason } => {
                let logged = log_action(&store, candidate, "rolled-back", reason.clone()).await;
                let hold = crate::model::Hold {
                    watcher: candidate.container.watcher.clone(),
                    name: candidate.container.name.clone(),
                    tag: candidate.target.tag.clone(),
                    digest: candidate.digest.clone(),
                    by: "health gate".into(),
                    at: now(),
                    reason: format!(
                        "{} was rolled back: {reason}",
                        candidate.target.tag.as_deref().unwrap_or("latest")
                    ),
                };
                let held = store.blocking(move |s| s.hold(&hold)).await;
                logged.and(held)
            }
            Event::UpdateSkipped { candidate, reason } => {
                log_action(&store, candidate, "update-skipped", reason.clone()).await
            }
            Event::UpdatesCompleted(report) => {
                let detail = format!(
                    "{} on {}: {} updated, {} failed, {} skipped, {} rolled back",
                    report.trigger,
                    report.watcher,
                    report.updated,
                    report.failed,
                    report.skipped,
                    report.rolled_back
                );
                store
                    .blocking(move |s| s.log(None, "updates-completed", &detail))
                    .await
            }
            Event::UpdateAvailable(_) | Event::Barrier(_) | Event::CheckStarted { .. } => Ok(()),
        };
        if let Err(err) = result {
            tracing::error!(error = %err, "Store write failed; the event is not recorded.");
        }
    }
}

async fn log_action(
    store: &Store,
    candidate: &crate::model::UpdateCandidate,
    event: &'static str,
    reason: String,
) -> Result<(), StoreError> {
    let key = ContainerKey {
        watcher: candidate.container.watcher.clone(),
        name: candidate.container.name.clone(),
    };
    let detail = action_detail(candidate, &reason);
    store
        .blocking(move |s| s.log(Some(&key), event, &detail))
        .await
}

/// `from → to`, and `: reason` when there is one.
fn action_detail(candidate: &crate::model::UpdateCandidate, reason: &str) -> String {
    format!(
        "{} → {}{}",
        candidate.current.familiar(),
        candidate.target.familiar(),
        if reason.is_empty() {
            String::new()
        } else {
            format!(": {reason}")
        }
    )
}

/// The digest of the image the candidate's container runs, from the repository it was pulled
/// from (an image pulled from two places has a digest for each).
pub fn running_digest(candidate: &crate::model::UpdateCandidate) -> Option<String> {
    let repository = candidate.current.name();
    let digests = &candidate.container.repo_digests;
    digests
        .iter()
        .find_map(|d| {
            let (repo, digest) = d.split_once('@')?;
            let same = crate::model::ImageRef::parse(repo).is_ok_and(|r| r.name() == repository);
            same.then(|| digest.to_string())
        })
        .or_else(|| {
            digests
                .first()
                .and_then(|d| d.split_once('@'))
                .map(|(_, digest)| digest.to_string())
        })
}

impl Store {
    /// Forgets one container the engine reported destroyed.
    fn forget_missing_one(&self, watcher: &str, name: &str) -> Result<(), StoreError> {
        let at = now();
        self.with(|conn| {
            let tx = conn.transaction()?;
            let deleted = tx.execute(
                "DELETE FROM containers WHERE watcher = ?1 AND name = ?2",
                params![watcher, name],
            )?;
            if deleted > 0 {
                append(&tx, &at, Some(watcher), Some(name), "removed", "destroyed")?;
            }
            tx.commit()
        })
    }
}

/// The update journal lives in the store: a row per update under way.
///
/// The rest of the store syncs lazily (`synchronous=NORMAL`: a power cut may lose the last
/// writes, never corrupt the file), but an entry announces a step about to be taken, and a
/// lost one is a container nobody comes back for. So each journal write is made with
/// `synchronous=FULL`, which syncs the WAL at its commit, before `record` returns.
#[async_trait::async_trait]
impl crate::update::journal::Journal for Store {
    async fn record(
        &self,
        entry: &crate::update::journal::Entry,
    ) -> Result<(), crate::update::journal::JournalError> {
        let json = serde_json::to_string(entry)
            .map_err(|err| crate::update::journal::JournalError(err.to_string()))?;
        let (watcher, name) = (entry.watcher.clone(), entry.name.clone());
        let written = self
            .blocking(move |s| {
                let at = now();
                s.with(|conn| {
                    conn.pragma_update(None, "synchronous", "FULL")?;
                    let written = conn.execute(
                        "INSERT INTO journal (watcher, name, entry, at) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (watcher, name) DO UPDATE SET
                           entry = excluded.entry, at = excluded.at",
                        params![watcher, name, json, at],
                    );
                    let relaxed = conn.pragma_update(None, "synchronous", "NORMAL");
                    written.and(relaxed)
                })
            })
            .await;
        written.map_err(|err| {
            tracing::error!(error = %err, "Update journal not written; the update stops here.");
            crate::update::journal::JournalError(err.to_string())
        })
    }

    async fn clear(&self, watcher: &str, name: &str) {
        let (watcher, name) = (watcher.to_string(), name.to_string());
        let cleared = self
            .blocking(move |s| {
                s.with(|conn| {
                    conn.execute(
                        "DELETE FROM journal WHERE watcher = ?1 AND name = ?2",
                        params![watcher, name],
                    )
                    .map(|_| ())
                })
            })
            .await;
        if let Err(err) = cleared {
            tracing::error!(error = %err, "Update journal entry not cleared.");
        }
    }

    async fn earlier_images(&self, watcher: &str, name: &str) -> Vec<String> {
        let (watcher, name) = (watcher.to_string(), name.to_string());
        match self
            .blocking(move |s| s.earlier_images(&watcher, &name))
            .await
        {
            Ok(ids) => ids,
            Err(err) => {
                // Keeping every image is the safe side of a failed read.
                tracing::warn!(error = %err, "Earlier images not read; cleanup keeps them.");
                Vec::new()
            }
        }
    }
}

impl Store {
    /// Every update the journal says is under way: after a crash, the ones to recover.
    pub fn journal(&self) -> Result<Vec<crate::update::journal::Entry>, StoreError> {
        let rows: Vec<String> = self.with(|conn| {
            conn.prepare("SELECT entry FROM journal ORDER BY at, rowid")?
                .query_map([], |r| r.get(0))?
                .collect()
        })?;
        Ok(rows
            .iter()
            .filter_map(|row| match serde_json::from_str(row) {
                Ok(entry) => Some(entry),
                Err(err) => {
                    tracing::error!(error = %err, "Unreadable update journal entry skipped.");
                    None
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests;
