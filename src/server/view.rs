//! The store's answers as the API serves them, read at most once a second: a thousand requests
//! a second then cost the store one read a second, and never queue behind (or ahead of) the
//! writes the watchers and triggers make.

use crate::store::{ContainerView, Store, StoreError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How old an answer may be. A check's findings reach the API within this of being stored.
const FRESH_FOR: Duration = Duration::from_secs(1);

pub struct Cache {
    store: Store,
    /// One reader refreshes while the others wait for its result (a tokio mutex: held across
    /// the read, which runs on the blocking pool).
    last: tokio::sync::Mutex<Option<(Instant, Arc<Vec<ContainerView>>)>>,
}

impl Cache {
    pub fn new(store: Store) -> Self {
        Cache {
            store,
            last: tokio::sync::Mutex::new(None),
        }
    }

    /// Every container the store knows, at most [`FRESH_FOR`] old.
    pub async fn containers(&self) -> Result<Arc<Vec<ContainerView>>, StoreError> {
        let mut last = self.last.lock().await;
        if let Some((at, containers)) = last.as_ref()
            && at.elapsed() < FRESH_FOR
        {
            return Ok(containers.clone());
        }
        let containers = Arc::new(self.store.blocking(|s| s.views()).await?);
        *last = Some((Instant::now(), containers.clone()));
        Ok(containers)
    }

    /// Forgets the cached answer, so the next read sees what was just done.
    pub async fn invalidate(&self) {
        *self.last.lock().await = None;
    }
}
