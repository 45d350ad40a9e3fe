//! The page's live view of every container: seeded from the store at start, then kept by the
//! bus like any other subscriber. It holds what the page shows that neither the store nor
//! WUD's shape has in one place (the `display.name` and `link.template` results, the labels,
//! the time of the last check, skipped and failed reasons), and it tells `/api/events`
//! listeners what changed.
//!
//! Reads take a std `RwLock` briefly (no await while held): a page refresh never waits on a
//! check, and the bus task never waits on a browser.

use crate::bus::{Event, Subscriber};
use crate::model::finding::{ListedContainer, Status};
use crate::model::{ContainerKey, ImageRef, UpdateCandidate};
use crate::store::StoredContainer;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use tokio::sync::broadcast;

/// One container as the page lists it (`GET /api/overview`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerView {
    pub id: String,
    pub watcher: String,
    pub name: String,
    pub display_name: Option<String>,
    /// As the container was created with it.
    pub image: String,
    /// The image without its tag, `null` when `image` is not a reference.
    pub image_name: Option<String>,
    pub current_tag: Option<String>,
    /// Docker's state word, once the watcher listed it in this process.
    pub state: Option<String>,
    /// `up-to-date`, `update-available`, `skipped`, `failed`.
    pub status: String,
    pub reason: Option<String>,
    pub update: Option<UpdateView>,
    /// RFC 3339, UTC.
    pub checked_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpdateView {
    /// `major`, `minor`, `patch`, `prerelease`, `digest`.
    pub kind: String,
    pub tag: String,
    pub digest: Option<String>,
    pub link: Option<String>,
}

/// What `/api/events` sends: an SSE event named `kind` with this as its JSON data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    #[serde(skip)]
    pub kind: &'static str,
    pub watcher: Option<String>,
    pub name: Option<String>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone)]
struct Entry {
    view: ContainerView,
    labels: BTreeMap<String, String>,
    candidate: Option<UpdateCandidate>,
}

/// Cheap to clone: every clone is the same view.
#[derive(Debug, Clone)]
pub struct Board {
    entries: Arc<RwLock<BTreeMap<ContainerKey, Entry>>>,
    changes: broadcast::Sender<Change>,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn word<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn split_image(image: &str) -> (Option<String>, Option<String>) {
    match ImageRef::parse(image) {
        Ok(r) => {
            let tag = r.tag.clone();
            let name = ImageRef {
                tag: None,
                digest: None,
                ..r
            }
            .familiar();
            (Some(name), tag)
        }
        Err(_) => (None, None),
    }
}

impl ContainerView {
    fn from_stored(s: &StoredContainer) -> Self {
        let (image_name, current_tag) = split_image(&s.image);
        ContainerView {
            id: s.id.clone(),
            watcher: s.watcher.clone(),
            name: s.name.clone(),
            display_name: None,
            image: s.image.clone(),
            image_name,
            current_tag,
            state: None,
            status: s.status.clone(),
            reason: s.reason.clone(),
            update: match (&s.update_kind, &s.update_tag) {
                (Some(kind), Some(tag)) => Some(UpdateView {
                    kind: kind.clone(),
                    tag: tag.clone(),
                    digest: s.update_digest.clone(),
                    link: None,
                }),
                _ => None,
            },
            checked_at: Some(s.checked_at.clone()),
        }
    }

    fn from_listed(c: &ListedContainer, checked_at: String) -> Self {
        // An image ID is no reference, though it may parse as one.
        let (image_name, current_tag) = match &c.reference {
            Some(_) => split_image(&c.image),
            None => (None, None),
        };
        ContainerView {
            id: c.id.clone(),
            watcher: c.watcher.clone(),
            name: c.name.clone(),
            display_name: c.display_name.clone(),
            image: c.image.clone(),
            image_name,
            current_tag,
            state: Some(c.state.clone()),
            status: word(&c.status),
            reason: c.reason.clone(),
            update: c.update.as_ref().map(|u| UpdateView {
                kind: word(&u.kind),
                tag: u.tag.clone(),
                digest: u.digest.clone(),
                link: u.link.clone(),
            }),
            checked_at: Some(checked_at),
        }
    }
}

impl Board {
    /// A board holding what the store remembers (empty without a store).
    pub fn seeded(stored: Vec<StoredContainer>) -> Board {
        let entries = stored
            .iter()
            .map(|s| {
                (
                    ContainerKey {
                        watcher: s.watcher.clone(),
                        name: s.name.clone(),
                    },
                    Entry {
                        view: ContainerView::from_stored(s),
                        labels: BTreeMap::new(),
                        candidate: None,
                    },
                )
            })
            .collect();
        // Room for a cycle's burst; a browser that falls behind just refreshes everything.
        let (changes, _) = broadcast::channel(256);
        Board {
            entries: Arc::new(RwLock::new(entries)),
            changes,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<ContainerKey, Entry>> {
        self.entries.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<ContainerKey, Entry>> {
        self.entries.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Every container, by watcher and name.
    pub fn containers(&self) -> Vec<ContainerView> {
        self.read().values().map(|e| e.view.clone()).collect()
    }

    /// The container with this ID (full or a prefix of at least 12), or this name when no ID
    /// matches (names are what survive an update; IDs are what WUD's API uses).
    fn find<T>(&self, id: &str, f: impl FnOnce(&Entry) -> T) -> Option<T> {
        let entries = self.read();
        let by_id = entries
            .values()
            .find(|e| e.view.id == id || (id.len() >= 12 && e.view.id.starts_with(id)));
        by_id
            .or_else(|| entries.values().find(|e| e.view.name == id))
            .map(f)
    }

    pub fn view(&self, id: &str) -> Option<ContainerView> {
        self.find(id, |e| e.view.clone())
    }

    pub fn labels(&self, id: &str) -> Option<BTreeMap<String, String>> {
        self.find(id, |e| e.labels.clone())
    }

    /// The update the last check offered this container, with everything a trigger needs.
    pub fn candidate(&self, id: &str) -> Option<Option<UpdateCandidate>> {
        self.find(id, |e| e.candidate.clone())
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    fn tell(&self, kind: &'static str, key: Option<&ContainerKey>, detail: Option<String>) {
        // No listener is fine: nobody has the page open.
        let _ = self.changes.send(Change {
            kind,
            watcher: key.map(|k| k.watcher.clone()),
            name: key.map(|k| k.name.clone()),
            detail,
        });
    }

    /// Applies one event of the bus.
    pub fn apply(&self, event: &Event) {
        match event {
            Event::ContainerSeen(info) => {
                let mut entries = self.write();
                if let Some(entry) = entries.get_mut(&info.key()) {
                    entry.labels = info.labels.clone();
                    entry.view.id = info.id.clone();
                    entry.view.state = Some(info.state.clone());
                } else {
                    // Listed, not yet checked: kept for its labels until the check lands.
                    let (image_name, current_tag) = split_image(&info.image);
                    entries.insert(
                        info.key(),
                        Entry {
                            view: ContainerView {
                                id: info.id.clone(),
                                watcher: info.watcher.clone(),
                                name: info.name.clone(),
                                display_name: None,
                                image: info.image.clone(),
                                image_name,
                                current_tag,
                                state: Some(info.state.clone()),
                                status: "unchecked".into(),
                                reason: None,
                                update: None,
                                checked_at: None,
                            },
                            labels: info.labels.clone(),
                            candidate: None,
                        },
                    );
                }
            }
            Event::ContainerChecked(listed) => {
                let key = ContainerKey {
                    watcher: listed.watcher.clone(),
                    name: listed.name.clone(),
                };
                let view = ContainerView::from_listed(listed, now());
                let changed = {
                    let mut entries = self.write();
                    let entry = entries.entry(key.clone()).or_insert_with(|| Entry {
                        view: view.clone(),
                        labels: BTreeMap::new(),
                        candidate: None,
                    });
                    let changed = entry.view.status != view.status
                        || entry.view.update != view.update
                        || entry.view.reason != view.reason
                        || entry.view.id != view.id;
                    if listed.status != Status::UpdateAvailable {
                        entry.candidate = None;
                    }
                    entry.view = view;
                    changed
                };
                self.tell(
                    if changed { "changed" } else { "checked" },
                    Some(&key),
                    None,
                );
            }
            Event::ContainerRemoved { watcher, name, .. } => {
                let key = ContainerKey {
                    watcher: watcher.clone(),
                    name: name.clone(),
                };
                self.write().remove(&key);
                self.tell("removed", Some(&key), None);
            }
            Event::UpdateAvailable(candidate) => {
                if let Some(entry) = self.write().get_mut(&candidate.container.key()) {
                    entry.candidate = Some(candidate.clone());
                }
            }
            Event::UpdateApplied {
                candidate,
                new_container_id,
            } => {
                let key = candidate.container.key();
                let target = candidate.target.familiar();
                if let Some(entry) = self.write().get_mut(&key) {
                    // What the next check will confirm; shown at once so the page need not wait
                    // for it.
                    entry.view.id = new_container_id.clone();
                    entry.view.current_tag = candidate.target.tag.clone();
                    entry.view.status = "up-to-date".into();
                    entry.view.reason = None;
                    entry.view.update = None;
                    entry.candidate = None;
                }
                self.tell("update-applied", Some(&key), Some(target));
            }
            Event::UpdateFailed { candidate, reason } => {
                self.tell(
                    "update-failed",
                    Some(&candidate.container.key()),
                    Some(reason.clone()),
                );
            }
            Event::RolledBack { candidate, reason } => {
                self.tell(
                    "rolled-back",
                    Some(&candidate.container.key()),
                    Some(reason.clone()),
                );
            }
            Event::UpdateSkipped { candidate, reason } => {
                self.tell(
                    "update-skipped",
                    Some(&candidate.container.key()),
                    Some(reason.clone()),
                );
            }
            Event::RollbackApplied {
                candidate,
                new_container_id,
                by,
                ..
            } => {
                let key = candidate.container.key();
                if let Some(entry) = self.write().get_mut(&key) {
                    entry.view.id = new_container_id.clone();
                    entry.candidate = None;
                }
                self.tell("rolled-back", Some(&key), Some(format!("by {by}")));
            }
            Event::Held(hold) => {
                let key = ContainerKey {
                    watcher: hold.watcher.clone(),
                    name: hold.name.clone(),
                };
                self.tell("held", Some(&key), Some(hold.reason.clone()));
            }
            Event::Released { watcher, name, .. } => {
                let key = ContainerKey {
                    watcher: watcher.clone(),
                    name: name.clone(),
                };
                self.tell("released", Some(&key), None);
            }
            Event::CheckCompleted(report) => {
                if let Some(names) = &report.listed {
                    self.write()
                        .retain(|k, _| k.watcher != report.watcher || names.contains(&k.name));
                }
                self.tell("check-completed", None, Some(report.watcher.clone()));
            }
            Event::Notified { .. }
            | Event::UpdatesCompleted(_)
            | Event::Barrier(_)
            | Event::CheckStarted { .. } => {}
        }
    }

    /// Follows the bus until it closes.
    pub async fn follow(self, mut events: Subscriber) {
        while let Some(event) = events.recv().await {
            self.apply(&event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::finding::{Finding, Update};
    use crate::model::{ContainerInfo, Report, UpdateKind};

    fn checked(info: &ContainerInfo, update: Option<(&str, UpdateKind)>) -> Event {
        let finding = Finding {
            status: match update {
                Some(_) => Status::UpdateAvailable,
                None => Status::UpToDate,
            },
            reason: None,
            update: update.map(|(tag, kind)| Update {
                kind,
                tag: tag.into(),
                digest: None,
                link: Some(format!("https://example.com/{tag}")),
            }),
            display_name: Some("Web".into()),
        };
        Event::ContainerChecked(Box::new(ListedContainer::new(info, finding)))
    }

    fn candidate(info: &ContainerInfo, tag: &str) -> UpdateCandidate {
        UpdateCandidate {
            container: info.clone(),
            current: ImageRef::parse(&info.image).unwrap(),
            target: ImageRef::parse(&format!("nginx:{tag}")).unwrap(),
            digest: None,
            kind: UpdateKind::Minor,
            display_name: "Web".into(),
            link: None,
        }
    }

    #[test]
    fn a_check_lists_the_container_and_tells_listeners_what_changed() {
        let board = Board::seeded(Vec::new());
        let mut changes = board.subscribe();
        let info = ContainerInfo::example("nginx:1.25");
        board.apply(&Event::ContainerSeen(info.clone()));
        board.apply(&checked(&info, Some(("1.26", UpdateKind::Minor))));
        let view = board.view("web").expect("found by name");
        assert_eq!(view.current_tag.as_deref(), Some("1.25"));
        assert_eq!(view.image_name.as_deref(), Some("nginx"));
        assert_eq!(view.display_name.as_deref(), Some("Web"));
        assert_eq!(view.status, "update-available");
        let update = view.update.expect("an update");
        assert_eq!(
            (update.kind.as_str(), update.tag.as_str()),
            ("minor", "1.26")
        );
        assert_eq!(changes.try_recv().unwrap().kind, "changed");
        // The same finding again is a check, not a change.
        board.apply(&checked(&info, Some(("1.26", UpdateKind::Minor))));
        assert_eq!(changes.try_recv().unwrap().kind, "checked");
        assert!(board.labels(&info.id).is_some(), "found by ID");
    }

    #[test]
    fn an_applied_update_shows_at_once_and_a_finished_listing_forgets_the_missing() {
        let board = Board::seeded(Vec::new());
        let info = ContainerInfo::example("nginx:1.25");
        board.apply(&checked(&info, Some(("1.26", UpdateKind::Minor))));
        board.apply(&Event::UpdateAvailable(candidate(&info, "1.26")));
        assert!(board.candidate("web").flatten().is_some());
        let mut changes = board.subscribe();
        board.apply(&Event::UpdateApplied {
            candidate: candidate(&info, "1.26"),
            new_container_id: "f00d".into(),
        });
        let view = board.view("f00d").expect("found by its new ID");
        assert_eq!(view.current_tag.as_deref(), Some("1.26"));
        assert_eq!((view.status.as_str(), view.update), ("up-to-date", None));
        let change = changes.try_recv().unwrap();
        assert_eq!(change.kind, "update-applied");
        assert_eq!(change.name.as_deref(), Some("web"));

        board.apply(&Event::CheckCompleted(Report {
            watcher: "local".into(),
            listed: Some(Vec::new()),
            ..Report::default()
        }));
        assert!(board.containers().is_empty());
    }
}
