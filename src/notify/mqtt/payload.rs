//! What is published for a container: WUD's container JSON, flattened, at WUD's topic.

use crate::notify::template::Entry;
use crate::notify::wud;
use serde_json::{Map, Value};

/// WUD's topic for a container: `<base>/<watcher>/<name>`, dots in the name made `-`.
pub fn topic(base: &str, watcher: &str, name: &str) -> String {
    format!("{base}/{watcher}/{}", name.replace('.', "-"))
}

/// What is published for the container an update message is about.
pub fn payload(entry: &Entry) -> Value {
    flat(&wud::of_entry(entry))
}

/// WUD's JSON of a container, flattened as WUD's `flatten` does.
pub fn flat(container: &wud::Container) -> Value {
    let container = serde_json::to_value(container).unwrap_or(Value::Null);
    let mut flat = Map::new();
    flatten("", container, &mut flat);
    Value::Object(flat)
}

/// The `flat` package with lodash's `snakeCase` on every key, as WUD calls it: nested keys
/// joined with `_`. An undefined value is absent from WUD's JSON; WUD's shape here has `null`
/// for it, so a `null` is left out. An empty object stays, as `flat` keeps it.
fn flatten(prefix: &str, value: Value, out: &mut Map<String, Value>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, value) in map {
                let key = snake_case(&key);
                let key = if prefix.is_empty() {
                    key
                } else {
                    format!("{prefix}_{key}")
                };
                flatten(&key, value, out);
            }
        }
        Value::Null => {}
        value => {
            out.insert(prefix.to_string(), value);
        }
    }
}

/// lodash's `snakeCase`: the words of `key` (split at anything not a letter or digit, between a
/// lower-case letter and an upper-case one, before the last capital of a run followed by a
/// lower-case letter, and around digits), lower-cased, joined with `_`.
fn snake_case(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            continue;
        }
        if let Some(&prev) = word.chars().last().as_ref() {
            let next = chars.get(i + 1).copied();
            let boundary = (prev.is_lowercase() && c.is_uppercase())
                || (prev.is_numeric() != c.is_numeric())
                || (prev.is_uppercase()
                    && c.is_uppercase()
                    && next.is_some_and(char::is_lowercase));
            if boundary {
                words.push(std::mem::take(&mut word));
            }
        }
        word.push(c);
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
        .iter()
        .map(|w| w.to_lowercase())
        .collect::<Vec<_>>()
        .join("_")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::template::{self, State};
    use serde_json::json;

    #[test]
    fn topics_are_wuds() {
        assert_eq!(
            topic("wud/container", "local", "my.app.1"),
            "wud/container/local/my-app-1"
        );
        assert_eq!(topic("t", "docker2", "web"), "t/docker2/web");
    }

    #[test]
    fn keys_are_snake_cased_as_lodash_does() {
        for (key, snake) in [
            ("updateKind", "update_kind"),
            ("semverDiff", "semver_diff"),
            ("displayIcon", "display_icon"),
            ("wud.display.name", "wud_display_name"),
            ("com.docker.compose.project", "com_docker_compose_project"),
            ("XMLHttp", "xml_http"),
            ("v2Api", "v_2_api"),
            ("already_snake", "already_snake"),
        ] {
            assert_eq!(snake_case(key), snake, "{key}");
        }
    }

    #[test]
    fn the_payload_is_wuds_flattened_container() {
        let entry = Entry::new(template::sample_candidate(), State::Stale);
        let sent = payload(&entry);
        let whole = serde_json::to_value(wud::of_entry(&entry)).unwrap();
        assert_eq!(sent["name"], whole["name"]);
        assert_eq!(sent["watcher"], "local");
        assert_eq!(sent["image_tag_value"], "1.25.3");
        assert_eq!(sent["image_registry_name"], "hub");
        assert_eq!(sent["result_tag"], "1.25.4");
        assert_eq!(sent["update_available"], true);
        assert_eq!(sent["update_kind_kind"], "tag");
        assert_eq!(sent["update_kind_local_value"], "1.25.3");
        assert_eq!(sent["update_kind_remote_value"], "1.25.4");
        assert_eq!(sent["update_kind_semver_diff"], "patch");
        assert_eq!(sent["display_icon"], "mdi:docker");
        let object = sent.as_object().unwrap();
        assert!(object.values().all(|v| !v.is_null() && !v.is_array()));
        assert!(object.keys().all(|k| !k.contains(char::is_uppercase)));
        assert!(!object.contains_key("error"), "undefined in WUD: absent");
        let mut nested = Map::new();
        flatten(
            "",
            json!({"labels": {"wud.watch": "true"}, "empty": {}, "none": null}),
            &mut nested,
        );
        assert_eq!(
            Value::Object(nested),
            json!({"labels_wud_watch": "true", "empty": {}})
        );
    }
}
