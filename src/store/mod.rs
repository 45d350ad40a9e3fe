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
    /// `notify-failed`, `update-applied`, `update-failed`, `rolled-back`.
    pub event: String,
    pub detail: String,
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
        self.with(|conn| {
            let mut statement = conn.prepare(
                "SELECT seq, at, watcher, container, event, detail FROM audit
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
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            entries.reverse();
            Ok(entries)
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
                log_action(&store, candidate, "update-applied", String::new()).await
            }
            Event::UpdateFailed { candidate, reason } => {
                log_action(&store, candidate, "update-failed", reason.clone()).await
            }
            Event::RolledBack { candidate, reason } => {
                log_action(&store, candidate, "rolled-back", reason.clone()).await
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
            Event::UpdateAvailable(_) | Event::Barrier(_) => Ok(()),
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
    let detail = format!(
        "{} → {}{}",
        candidate.current.familiar(),
        candidate.target.familiar(),
        if reason.is_empty() {
            String::new()
        } else {
            format!(": {reason}")
        }
    );
    store
        .blocking(move |s| s.log(Some(&key), event, &detail))
        .await
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
