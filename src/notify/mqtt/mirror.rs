//! WUD's MQTT trigger is less a notifier than a mirror: it publishes every container it watches
//! after every check, up to date or not, so that a Home Assistant update entity (or a Node-RED
//! flow) shows each container's current state, including "up to date" once an update is done.
//! The runner only hands a notifier the updates it should tell; this task reads the bus itself
//! for the rest.
//!
//! What it publishes, all retained:
//! - each checked container's flattened WUD JSON at `<topic>/<watcher>/<name>`, and with Home
//!   Assistant its `update` entity (the discovery config only when it changed);
//! - with Home Assistant, WUD's counts (`<topic>/total_count`, `update_count`, `update_status`,
//!   and the same per watcher), and whether each watcher is running a check
//!   (`<topic>/<watcher>/running`, sent as the check starts and ends), with their entities;
//! - for a container that is gone (removed, or no longer listed by its watcher's check), an
//!   empty discovery config, which makes Home Assistant delete its entity.
//!
//! Publications are gathered and sent together when a watcher's check completes, or shortly
//! after a check the engine's events started, so a cycle costs one connection, not one per
//! container. What a broker refused is kept (the newest body per topic) and sent with the next.

use super::Mqtt;
use super::hass::{self, Counts};
use super::payload;
use crate::bus::{Event, Subscriber};
use crate::model::finding::{ListedContainer, Status};
use crate::model::{ContainerInfo, UpdateCandidate};
use crate::notify::template::{Entry, State as EntryState};
use crate::notify::wud;
use crate::trigger::TriggerId;
use crate::trigger::filter::Filter;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// A check started by the engine's events has no cycle report to close it: what it found is
/// sent this long after it.
const SETTLE: Duration = Duration::from_secs(2);

pub struct Mirror {
    id: TriggerId,
    mqtt: Arc<Mqtt>,
    /// The trigger's `include`/`exclude`: which containers are published. Its threshold and the
    /// containers' trigger labels decide what is told, not what is shown, so they do not apply.
    filter: Filter,
    /// Bounds one exchange with the broker, the trigger's `timeout`.
    timeout: Duration,
}

impl std::fmt::Debug for Mirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mirror").field("id", &self.id).finish()
    }
}

/// A container the mirror published: which one holds the name now, and whether it has an
/// update, for the counts.
#[derive(Debug, Clone)]
struct Shown {
    id: String,
    update: bool,
}

/// Publications waiting to go out, in order (an entity's config before its state), the newest
/// body per topic.
#[derive(Debug, Default)]
struct Pending(Vec<(String, Vec<u8>)>);

impl Pending {
    fn put(&mut self, topic: String, body: Vec<u8>) {
        match self.0.iter_mut().find(|(t, _)| *t == topic) {
            Some(slot) => slot.1 = body,
            None => self.0.push((topic, body)),
        }
    }
}

impl Mirror {
    pub fn new(id: TriggerId, mqtt: Arc<Mqtt>, filter: Filter, timeout: Duration) -> Mirror {
        Mirror {
            id,
            mqtt,
            filter,
            timeout,
        }
    }

    pub fn id(&self) -> &TriggerId {
        &self.id
    }

    /// Listens until the bus closes, then sends what is still pending.
    pub async fn run(self, mut events: Subscriber) {
        let mut state = State::default();
        let mut due: Option<Instant> = None;
        loop {
            let event = match due {
                Some(at) => tokio::select! {
                    event = events.recv() => event,
                    _ = tokio::time::sleep_until(at) => {
                        due = None;
                        self.flush(&mut state).await;
                        continue;
                    }
                },
                None => events.recv().await,
            };
            let Some(event) = event else { break };
            let queued = match event.as_ref() {
                Event::ContainerSeen(info) => {
                    state.infos.insert(info.id.clone(), info.clone());
                    false
                }
                Event::ContainerChecked(listed) => self.checked(&mut state, listed),
                Event::ContainerRemoved { watcher, id, name } => {
                    self.removed(&mut state, watcher, name, Some(id))
                }
                // The container now runs the update (or the version a user rolled back to):
                // shown at once, not after the next check.
                Event::UpdateApplied {
                    candidate,
                    new_container_id,
                }
                | Event::RollbackApplied {
                    candidate,
                    new_container_id,
                    ..
                } => self.updated(&mut state, candidate, new_container_id),
                // WUD's "watcher running" sensor: true while a cycle runs, told at once.
                Event::CheckStarted { watcher } => {
                    if self.mqtt.hass {
                        self.running(&mut state, watcher, true);
                        self.flush(&mut state).await;
                    }
                    false
                }
                Event::CheckCompleted(report) => {
                    if self.mqtt.hass {
                        self.running(&mut state, &report.watcher, false);
                    }
                    // What the watcher no longer lists is gone, as WUD prunes its store.
                    if let Some(listed) = &report.listed {
                        let gone: Vec<String> = state
                            .shown
                            .keys()
                            .filter(|(w, name)| *w == report.watcher && !listed.contains(name))
                            .map(|(_, name)| name.clone())
                            .collect();
                        for name in gone {
                            self.removed(&mut state, &report.watcher, &name, None);
                        }
                    }
                    due = None;
                    self.flush(&mut state).await;
                    false
                }
                _ => false,
            };
            if queued {
                due.get_or_insert_with(|| Instant::now() + SETTLE);
            }
        }
        self.flush(&mut state).await;
    }

    /// Queues what a check found of a container; whether anything was queued.
    fn checked(&self, state: &mut State, listed: &ListedContainer) -> bool {
        // A container the watcher does not watch (a label opts it out, a label is broken) is
        // not in WUD's store either.
        if listed.status == Status::Skipped {
            return false;
        }
        let info = state.infos.get(&listed.id);
        if let Some(info) = info
            && !self.filter.covers(info)
        {
            return false;
        }
        let container = wud::of_listed(
            &listed.id,
            &listed.name,
            &listed.watcher,
            &listed.image,
            Some(listed),
            info,
        );
        let flat = payload::flat(&container);
        let topic = super::topic(&self.mqtt.topic, &listed.watcher, &listed.name);
        if let Some(prefix) = &self.mqtt.discovery {
            let (at, config) = hass::discovery(prefix, &topic, &flat);
            state.announce(at, serde_json::to_vec(&config).unwrap_or_default());
        }
        state
            .pending
            .put(topic, serde_json::to_vec(&flat).unwrap_or_default());
        state.shown.insert(
            (listed.watcher.clone(), listed.name.clone()),
            Shown {
                id: listed.id.clone(),
                update: container.update_available,
            },
        );
        state.counts_changed = true;
        true
    }

    /// Queues the state of a container an update (or a rollback by hand) was applied to.
    fn updated(&self, state: &mut State, candidate: &UpdateCandidate, new_id: &str) -> bool {
        let c = &candidate.container;
        if !self.filter.covers(c) {
            return false;
        }
        // Counted when shown; `tidewatch rollback` shows nothing else, and counts nothing.
        if let Some(shown) = state.shown.get_mut(&(c.watcher.clone(), c.name.clone())) {
            shown.id = new_id.to_string();
            shown.update = false;
            state.counts_changed = true;
        }
        let entry = Entry::new(candidate.clone(), EntryState::Updated);
        let topic = super::topic(&self.mqtt.topic, &c.watcher, &c.name);
        let mut flat = payload::payload(&entry);
        // The message knows the container it replaced; the mirror knows the new one's ID.
        if let Some(fields) = flat.as_object_mut() {
            fields.insert("id".into(), new_id.into());
        }
        state
            .pending
            .put(topic, serde_json::to_vec(&flat).unwrap_or_default());
        true
    }

    /// Forgets a container that is gone, unless the name is another container's by now (an
    /// update's successor was checked before the old container's removal was seen); with Home
    /// Assistant, its entity is deleted. Whether anything was queued.
    fn removed(&self, state: &mut State, watcher: &str, name: &str, id: Option<&str>) -> bool {
        let key = (watcher.to_string(), name.to_string());
        match (state.shown.get(&key), id) {
            (None, _) => return false,
            (Some(shown), Some(id)) if shown.id != id => return false,
            _ => {}
        }
        state.shown.remove(&key);
        state.infos.retain(|_, info| info.name != name);
        if let Some(prefix) = &self.mqtt.discovery {
            let topic = super::topic(&self.mqtt.topic, watcher, name);
            let (at, _) = hass::discovery(prefix, &topic, &serde_json::Value::Null);
            state.announce(at, Vec::new());
        }
        state.counts_changed = true;
        true
    }

    /// Sends what is pending, with the counts first brought up to date.
    async fn flush(&self, state: &mut State) {
        if self.mqtt.hass && std::mem::take(&mut state.counts_changed) {
            self.count(state);
        }
        if state.pending.0.is_empty() {
            return;
        }
        let publications = std::mem::take(&mut state.pending.0);
        let sent = publications.len();
        let result = tokio::time::timeout(self.timeout, self.mqtt.publish(publications.clone()))
            .await
            .unwrap_or_else(|_| {
                Err(super::TriggerError::Transient(format!(
                    "no answer from the broker within {:?}",
                    self.timeout
                )))
            });
        match result {
            Ok(()) => {
                tracing::debug!(trigger = %self.id, messages = sent, "Containers published.");
            }
            Err(err) => {
                tracing::warn!(
                    trigger = %self.id,
                    error = %err,
                    "Containers not published; sent again with the next check."
                );
                // Anything queued since is newer and wins.
                let mut kept = Pending(publications);
                for (topic, body) in std::mem::take(&mut state.pending.0) {
                    kept.put(topic, body);
                }
                state.pending = kept;
                // Unsure whether the configs arrived: announce them again next time.
                state.announced.clear();
            }
        }
    }

    /// Queues whether `watcher` is running a check, with its entity when discovery is on.
    fn running(&self, state: &mut State, watcher: &str, running: bool) {
        let sensor = hass::running(
            self.mqtt.discovery.as_deref().unwrap_or_default(),
            &self.mqtt.topic,
            watcher,
            running,
        );
        if self.mqtt.discovery.is_some() {
            let (at, config) = sensor.discovery;
            state.announce(at, serde_json::to_vec(&config).unwrap_or_default());
        }
        state.pending.put(sensor.state, sensor.value.into_bytes());
    }

    /// Queues WUD's count sensors from what is shown, and their entities when discovery is on.
    fn count(&self, state: &mut State) {
        let mut all = Counts::default();
        let mut watchers: BTreeMap<String, Counts> = BTreeMap::new();
        for ((watcher, _), shown) in &state.shown {
            for counts in [&mut all, watchers.entry(watcher.clone()).or_default()] {
                counts.total += 1;
                counts.updates += usize::from(shown.update);
            }
        }
        // A watcher whose containers are all gone is counted at zero, as WUD does (it keeps
        // publishing them).
        for watcher in &state.watchers {
            watchers.entry(watcher.clone()).or_default();
        }
        state.watchers.extend(watchers.keys().cloned());
        let watchers: Vec<(String, Counts)> = watchers.into_iter().collect();
        let prefix = self.mqtt.discovery.as_deref().unwrap_or_default();
        for sensor in hass::sensors(prefix, &self.mqtt.topic, all, &watchers) {
            if self.mqtt.discovery.is_some() {
                let (at, config) = sensor.discovery;
                state.announce(at, serde_json::to_vec(&config).unwrap_or_default());
            }
            state.pending.put(sensor.state, sensor.value.into_bytes());
        }
    }
}

#[derive(Debug, Default)]
struct State {
    /// As the watchers last listed each container, by ID: labels for the filter and the JSON.
    infos: HashMap<String, ContainerInfo>,
    /// What is published, by watcher and name.
    shown: BTreeMap<(String, String), Shown>,
    /// Every watcher counted so far.
    watchers: std::collections::BTreeSet<String>,
    /// Discovery configs as last sent, so that an unchanged one is not sent again.
    announced: HashMap<String, Vec<u8>>,
    pending: Pending,
    counts_changed: bool,
}

impl State {
    /// Queues a discovery config unless it was sent as it is.
    fn announce(&mut self, at: String, body: Vec<u8>) {
        if self.announced.get(&at) == Some(&body) {
            return;
        }
        self.announced.insert(at.clone(), body.clone());
        self.pending.put(at, body);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CommonConfig, MqttConfig, MqttHassConfig};
    use crate::model::finding::Finding;

    fn mirror(hass: bool) -> Mirror {
        let mqtt = Mqtt::new(&MqttConfig {
            hass: MqttHassConfig {
                enabled: hass,
                discovery: None,
                prefix: None,
            },
            ..super::super::tests::url("mqtt://127.0.0.1:1")
        })
        .unwrap();
        Mirror::new(
            TriggerId {
                kind: "mqtt",
                name: "ha".into(),
            },
            Arc::new(mqtt),
            Filter::new(&CommonConfig {
                exclude: Some("hidden".into()),
                ..CommonConfig::default()
            })
            .unwrap(),
            Duration::from_secs(1),
        )
    }

    fn info(id: &str, name: &str) -> ContainerInfo {
        ContainerInfo {
            watcher: "local".into(),
            kind: Default::default(),
            id: id.into(),
            name: name.into(),
            state: "running".into(),
            image: "nginx:1.25.3".into(),
            image_id: "sha256:1".into(),
            repo_digests: Vec::new(),
            platform: Default::default(),
            labels: BTreeMap::new(),
        }
    }

    fn listed(info: &ContainerInfo, status: Status) -> ListedContainer {
        ListedContainer::new(
            info,
            Finding {
                status,
                reason: None,
                update: None,
                display_name: None,
            },
        )
    }

    fn topics(state: &State) -> Vec<&str> {
        state.pending.0.iter().map(|(t, _)| t.as_str()).collect()
    }

    fn see(m: &Mirror, state: &mut State, info: &ContainerInfo, status: Status) -> bool {
        state.infos.insert(info.id.clone(), info.clone());
        m.checked(state, &listed(info, status))
    }

    #[test]
    fn every_checked_container_is_shown_with_its_entity_once_and_the_counts() {
        let m = mirror(true);
        let mut state = State::default();
        assert!(see(&m, &mut state, &info("a1", "web"), Status::UpToDate));
        assert!(!see(&m, &mut state, &info("b1", "cron"), Status::Skipped));
        assert!(!see(
            &m,
            &mut state,
            &info("c1", "hidden"),
            Status::UpToDate
        ));
        assert_eq!(
            topics(&state),
            [
                "homeassistant/update/wud_container_local_web/config",
                "wud/container/local/web"
            ]
        );
        m.count(&mut state);
        assert_eq!(state.pending.0.len(), 2 + 12, "{:?}", topics(&state));
        let value = |topic: &str| {
            let found = state.pending.0.iter().find(|(t, _)| t == topic);
            String::from_utf8(found.expect(topic).1.clone()).unwrap()
        };
        assert_eq!(value("wud/container/total_count"), "1");
        assert_eq!(value("wud/container/local/update_status"), "false");
        let flat: serde_json::Value =
            serde_json::from_str(&value("wud/container/local/web")).unwrap();
        assert_eq!(flat["update_available"], false);
        assert_eq!(flat["image_tag_value"], "1.25.3");

        // Sent: the same container checked again is its state only, its entity unchanged.
        state.pending.0.clear();
        assert!(see(&m, &mut state, &info("a1", "web"), Status::UpToDate));
        assert_eq!(topics(&state), ["wud/container/local/web"]);
    }

    #[test]
    fn a_removal_deletes_the_entity_unless_a_successor_holds_the_name() {
        let m = mirror(true);
        let mut state = State::default();
        see(&m, &mut state, &info("old", "web"), Status::UpdateAvailable);
        // The update's successor is checked before the old container's removal is seen.
        see(&m, &mut state, &info("new", "web"), Status::UpToDate);
        state.pending.0.clear();
        assert!(!m.removed(&mut state, "local", "web", Some("old")));
        assert!(state.pending.0.is_empty());
        assert!(m.removed(&mut state, "local", "web", Some("new")));
        assert_eq!(
            state.pending.0,
            [(
                "homeassistant/update/wud_container_local_web/config".to_string(),
                Vec::new()
            )]
        );
        assert!(state.shown.is_empty());
    }

    #[tokio::test]
    async fn what_the_broker_did_not_take_is_kept_newest_first_for_the_next_flush() {
        let m = mirror(false);
        let mut state = State::default();
        see(&m, &mut state, &info("a1", "web"), Status::UpToDate);
        // Nothing listens on port 1: the publish fails.
        m.flush(&mut state).await;
        assert_eq!(topics(&state), ["wud/container/local/web"]);
        // Without Home Assistant, no counts.
        assert!(!topics(&state).iter().any(|t| t.ends_with("total_count")));
    }
}
