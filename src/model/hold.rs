//! Holds: a container whose updates are not offered, notified or applied for a while. Set by a
//! rollback (the version rolled back from), by the health gate (the version that failed it), or
//! by hand (`tidewatch hold`), and lifted by a newer version or `tidewatch release`. The store
//! keeps them; `app` hands them to the check as data, which is where they take effect
//! (`watch::hold`), so that nothing downstream ever sees a held update as available.

use serde::Serialize;

/// One container's hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Hold {
    pub watcher: String,
    pub name: String,
    /// The version held back: it and every version not newer than it. `None` holds every
    /// update until the hold is released.
    pub tag: Option<String>,
    /// The digest held back, when a rollback or the gate named one: the same tag pushed again
    /// under another digest is a newer image, and is offered.
    pub digest: Option<String>,
    /// Who set it: `health gate`, or the user (`$USER`) who ran the command.
    pub by: String,
    /// RFC 3339, UTC.
    pub at: String,
    /// Why, in a sentence: "rolled back from 1.5.0 to 1.4.2", the gate's reason, the user's.
    pub reason: String,
}

impl Hold {
    /// What the hold holds back, for reports: `1.5.0`, `1.5.0@sha256:…`, or `every update`.
    pub fn what(&self) -> String {
        match (&self.tag, &self.digest) {
            (Some(tag), Some(digest)) => format!("{tag}@{}", short(digest)),
            (Some(tag), None) => format!("{tag} and older"),
            (None, _) => "every update".to_string(),
        }
    }
}

fn short(digest: &str) -> &str {
    let end = digest.find(':').map(|i| i + 1 + 12).unwrap_or(12);
    &digest[..end.min(digest.len())]
}

/// Every hold the store knows, looked up by container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holds(pub Vec<Hold>);

impl Holds {
    pub fn get(&self, watcher: &str, name: &str) -> Option<&Hold> {
        self.0
            .iter()
            .find(|h| h.watcher == watcher && h.name == name)
    }

    /// Without the holds of containers named in `names`: `tidewatch update NAME` overrides
    /// them for that run.
    pub fn without(mut self, names: &[String]) -> Holds {
        self.0.retain(|h| !names.contains(&h.name));
        self
    }
}
