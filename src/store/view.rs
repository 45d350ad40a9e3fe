//! What the API shows of each container beyond its finding: the container as its engine listed
//! it and the finding as the check reported it, kept as JSON beside the `containers` row (the
//! row is the source of truth for the state; a view without a row is never shown).

use super::{Store, StoreError, StoredContainer};
use crate::model::ContainerInfo;
use crate::model::finding::ListedContainer;
use rusqlite::params;

/// One container as the API answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerView {
    pub stored: StoredContainer,
    /// As the engine listed it; `None` for a container stored by an older tidewatch and not
    /// checked since.
    pub info: Option<ContainerInfo>,
    pub listed: Option<ListedContainer>,
}

impl Store {
    /// Keeps the container as the engine listed it (labels, platform, digests).
    pub fn record_seen(&self, info: &ContainerInfo) -> Result<(), StoreError> {
        let json = serde_json::to_string(info).unwrap_or_default();
        self.with(|conn| {
            conn.execute(
                "INSERT INTO views (watcher, name, info) VALUES (?1, ?2, ?3)
                 ON CONFLICT (watcher, name) DO UPDATE SET info = excluded.info",
                params![info.watcher, info.name, json],
            )
            .map(|_| ())
        })
    }

    /// Keeps the finding as the check reported it.
    pub fn record_listed(&self, c: &ListedContainer) -> Result<(), StoreError> {
        let json = serde_json::to_string(c).unwrap_or_default();
        self.with(|conn| {
            conn.execute(
                "INSERT INTO views (watcher, name, listed) VALUES (?1, ?2, ?3)
                 ON CONFLICT (watcher, name) DO UPDATE SET listed = excluded.listed",
                params![c.watcher, c.name, json],
            )?;
            // Views of containers the store forgot.
            conn.execute(
                "DELETE FROM views WHERE NOT EXISTS (SELECT 1 FROM containers c
                   WHERE c.watcher = views.watcher AND c.name = views.name)
                   AND NOT (views.watcher = ?1 AND views.name = ?2)",
                params![c.watcher, c.name],
            )
            .map(|_| ())
        })
    }

    /// Every container the store knows, with its view, by watcher and name.
    pub fn views(&self) -> Result<Vec<ContainerView>, StoreError> {
        let containers = self.containers()?;
        let mut views: std::collections::BTreeMap<
            (String, String),
            (Option<String>, Option<String>),
        > = self.with(|conn| {
            let mut statement = conn.prepare("SELECT watcher, name, info, listed FROM views")?;
            statement
                .query_map([], |r| Ok(((r.get(0)?, r.get(1)?), (r.get(2)?, r.get(3)?))))?
                .collect()
        })?;
        Ok(containers
            .into_iter()
            .map(|stored| {
                let (info, listed) = views
                    .remove(&(stored.watcher.clone(), stored.name.clone()))
                    .unwrap_or_default();
                ContainerView {
                    info: info.and_then(|j| serde_json::from_str(&j).ok()),
                    listed: listed.and_then(|j| serde_json::from_str(&j).ok()),
                    stored,
                }
            })
            .collect())
    }
}
