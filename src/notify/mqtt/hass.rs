//! WUD's Home Assistant entities, published by MQTT discovery: the update entity of each
//! container, and the counts of containers and of updates.

use serde_json::{Value, json};

/// Home Assistant's templates, WUD's: the running version, and the one offered.
const HASS_VALUE_TEMPLATE: &str = "{{ value_json.image_tag_value }}";
const HASS_LATEST_VERSION_TEMPLATE: &str = "{% if value_json.update_kind_kind == \"digest\" %}{{ value_json.result_digest[:15] }}{% elif value_json.result_tag is defined %}{{ value_json.result_tag }}{% elif value_json.result_digest is defined %}{{ value_json.result_digest[:15] }}{% else %}{{ value_json.image_tag_value }}{% endif %}";
/// WUD's default Home Assistant discovery prefix.
pub const DEFAULT_HASS_PREFIX: &str = "homeassistant";

/// An entity's discovery topic and the config every one of them shares: WUD's unique ID (the
/// state topic with `/` as `_`) and WUD's device, so entities WUD made are taken over, not
/// duplicated.
fn entity(prefix: &str, kind: &str, state: &str, name: Value, icon: &str) -> (String, Value) {
    let entity = state.replace('/', "_");
    let config = json!({
        "unique_id": entity,
        "default_entity_id": format!("{kind}.{entity}"),
        "name": name,
        "device": {
            "identifiers": ["wud"],
            "manufacturer": "wud",
            "model": "wud",
            "name": "wud",
            "sw_version": concat!("tidewatch ", env!("CARGO_PKG_VERSION")),
        },
        "icon": hass_icon(icon),
        "state_topic": state,
    });
    (format!("{prefix}/{kind}/{entity}/config"), config)
}

/// WUD's Home Assistant `update` entity of the container whose state is at `state`, as WUD's
/// `Hass.addContainerSensor` publishes it.
pub fn discovery(prefix: &str, state: &str, flat: &Value) -> (String, Value) {
    let name = flat
        .get("display_name")
        .cloned()
        .unwrap_or_else(|| json!(state.replace('/', "_")));
    let icon = flat
        .get("display_icon")
        .and_then(Value::as_str)
        .unwrap_or("mdi:docker");
    let (at, mut config) = entity(prefix, "update", state, name, icon);
    config["force_update"] = json!(true);
    config["value_template"] = json!(HASS_VALUE_TEMPLATE);
    config["latest_version_topic"] = json!(state);
    config["latest_version_template"] = json!(HASS_LATEST_VERSION_TEMPLATE);
    config["json_attributes_topic"] = json!(state);
    if let Some(link) = flat.get("result_link") {
        config["release_url"] = link.clone();
    }
    (at, config)
}

/// How many containers are watched and how many have an update, over all watchers or one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub total: usize,
    pub updates: usize,
}

/// One count sensor: its state topic, its value as published, and its discovery entity.
pub struct Sensor {
    pub state: String,
    pub value: String,
    pub discovery: (String, Value),
}

/// WUD's aggregate sensors: `<topic>/total_count`, `update_count` and `update_status` over every
/// watcher, and the same under `<topic>/<watcher>/` for each watcher in `watchers`; names and
/// kinds (`sensor`, `binary_sensor` with `true`/`false` payloads) are WUD's.
pub fn sensors(
    prefix: &str,
    topic: &str,
    all: Counts,
    watchers: &[(String, Counts)],
) -> Vec<Sensor> {
    let mut out = Vec::new();
    let mut three = |base: String, counts: Counts, label: &str| {
        let count = |state: String, name: String, value: usize| Sensor {
            discovery: entity(prefix, "sensor", &state, json!(name), "mdi:docker"),
            value: value.to_string(),
            state,
        };
        out.push(count(
            format!("{base}/total_count"),
            format!("{label} count"),
            counts.total,
        ));
        out.push(count(
            format!("{base}/update_count"),
            format!("{label} update count"),
            counts.updates,
        ));
        out.push(flag(
            prefix,
            format!("{base}/update_status"),
            &format!("{label} update status"),
            counts.updates > 0,
        ));
    };
    three(topic.to_string(), all, "Total container");
    for (watcher, counts) in watchers {
        three(
            format!("{topic}/{watcher}"),
            *counts,
            &format!("Watcher {watcher} container"),
        );
    }
    out
}

/// Home Assistant wants `mdi:docker`; WUD's labels also take `mdi-docker` (and `fa-`, `si-`, …).
fn hass_icon(icon: &str) -> String {
    ["mdi", "fa", "fab", "far", "fas", "si"]
        .iter()
        .find_map(|set| {
            icon.strip_prefix(&format!("{set}-"))
                .map(|rest| format!("{set}:{rest}"))
        })
        .unwrap_or_else(|| icon.to_string())
}

/// WUD's `<topic>/<watcher>/running` binary sensor: whether the watcher is running a check.
pub fn running(prefix: &str, topic: &str, watcher: &str, running: bool) -> Sensor {
    flag(
        prefix,
        format!("{topic}/{watcher}/running"),
        &format!("Watcher {watcher} running status"),
        running,
    )
}

/// A WUD `binary_sensor` at `state`: its value `true` or `false`, as its entity reads them.
fn flag(prefix: &str, state: String, name: &str, on: bool) -> Sensor {
    let (at, mut config) = entity(prefix, "binary_sensor", &state, json!(name), "mdi:docker");
    config["payload_on"] = json!("true");
    config["payload_off"] = json!("false");
    Sensor {
        discovery: (at, config),
        value: on.to_string(),
        state,
    }
}

#[cfg(test)]
mod tests {
    use super::super::Mqtt;
    use super::super::payload::payload;
    use super::super::tests::url;
    use super::*;
    use crate::config::MqttConfig;
    use crate::notify::template::{self, Entry, State};
    use serde_json::json;

    #[test]
    fn home_assistant_gets_wuds_update_entity() {
        let entry = Entry::new(template::sample_candidate(), State::Stale);
        let flat = payload(&entry);
        let (at, config) = discovery("homeassistant", "wud/container/local/web", &flat);
        assert_eq!(at, "homeassistant/update/wud_container_local_web/config");
        assert_eq!(config["unique_id"], "wud_container_local_web");
        assert_eq!(
            config["default_entity_id"],
            "update.wud_container_local_web"
        );
        assert_eq!(config["name"], "web");
        assert_eq!(config["state_topic"], "wud/container/local/web");
        assert_eq!(config["latest_version_topic"], "wud/container/local/web");
        assert_eq!(config["device"]["identifiers"], json!(["wud"]));
        assert_eq!(config["icon"], "mdi:docker");
        assert_eq!(config["release_url"], "https://example.com/releases/1.25.4");
        assert_eq!(hass_icon("si-nginx"), "si:nginx");
        assert_eq!(hass_icon("mdi:web"), "mdi:web");
        let on = |enabled, discovery| {
            Mqtt::new(&MqttConfig {
                hass: crate::config::MqttHassConfig {
                    enabled,
                    discovery,
                    prefix: None,
                },
                ..url("mqtt://b")
            })
            .unwrap()
            .discovery
        };
        assert_eq!(on(true, None).as_deref(), Some("homeassistant"));
        assert_eq!(on(true, Some(false)), None);
        assert_eq!(on(false, Some(true)), None);
    }

    #[test]
    fn the_counts_are_wuds_sensors() {
        let counts = |total, updates| Counts { total, updates };
        let made = sensors(
            "homeassistant",
            "wud/container",
            counts(3, 1),
            &[("local".into(), counts(3, 1)), ("nas".into(), counts(0, 0))],
        );
        let states: Vec<(&str, &str)> = made
            .iter()
            .map(|s| (s.state.as_str(), s.value.as_str()))
            .collect();
        assert_eq!(
            states,
            [
                ("wud/container/total_count", "3"),
                ("wud/container/update_count", "1"),
                ("wud/container/update_status", "true"),
                ("wud/container/local/total_count", "3"),
                ("wud/container/local/update_count", "1"),
                ("wud/container/local/update_status", "true"),
                ("wud/container/nas/total_count", "0"),
                ("wud/container/nas/update_count", "0"),
                ("wud/container/nas/update_status", "false"),
            ]
        );
        let (at, config) = &made[2].discovery;
        assert_eq!(
            at,
            "homeassistant/binary_sensor/wud_container_update_status/config"
        );
        assert_eq!(config["unique_id"], "wud_container_update_status");
        assert_eq!(config["name"], "Total container update status");
        assert_eq!(config["payload_on"], "true");
        assert_eq!(config["state_topic"], "wud/container/update_status");
        let (at, config) = &made[3].discovery;
        assert_eq!(
            at,
            "homeassistant/sensor/wud_container_local_total_count/config"
        );
        assert_eq!(config["name"], "Watcher local container count");
        assert_eq!(config["device"]["identifiers"], json!(["wud"]));

        let running = running("homeassistant", "wud/container", "local", true);
        assert_eq!(
            (running.state.as_str(), running.value.as_str()),
            ("wud/container/local/running", "true")
        );
        assert_eq!(
            running.discovery.0,
            "homeassistant/binary_sensor/wud_container_local_running/config"
        );
        assert_eq!(running.discovery.1["name"], "Watcher local running status");
    }
}
