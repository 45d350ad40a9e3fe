//! What each container label tidewatch reads means, for the container page. The names and
//! their precedence are `watch::labels`' and `update::hooks`'; this is only their explanation
//! for a person, keyed by the part after the prefix.

use serde::Serialize;
use std::collections::BTreeMap;

const PREFIXES: [&str; 3] = ["tidewatch.", "wud.", "com.centurylinklabs.watchtower."];

/// One label a container sets that tidewatch reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explained {
    pub label: String,
    pub value: String,
    pub meaning: &'static str,
}

fn meaning(key: &str) -> Option<&'static str> {
    Some(match key {
        "watch" | "enable" => {
            "Watch this container (true) or leave it alone (false), whatever the watcher's default."
        }
        "watch.digest" => {
            "Also watch the digest behind a version tag (non-version tags always are)."
        }
        "display.name" => "The name shown here and in notifications.",
        "display.icon" => "WUD's icon; tidewatch shows none.",
        "link.template" => {
            "Where to read about a version (release notes); ${major}, ${minor}, ${patch}, ${original} are filled in."
        }
        "tag.include" => "Only tags matching this regular expression are candidates.",
        "tag.exclude" => "Tags matching this regular expression are never candidates.",
        "tag.transform" => "Rewrites tags before they are compared (regex => replacement).",
        "tag.prerelease" => "Offer pre-releases (1.3-rc1) to a container on a release.",
        "tag.morenumbers" => "Let a tag move to one with more numbers (1.25 to 1.25.3).",
        "login" => {
            "The named registry login (registry.login.<name>) this image is checked and pulled with."
        }
        "monitor-only" => "Notify about updates, never apply them.",
        "no-pull" => "Update to the image the engine already has; never pull.",
        "update.order" => {
            "start-first starts the new container before the old one stops; stop-first (default) the reverse."
        }
        "trigger.include" => {
            "Only these triggers act on this container (kind.name[:threshold], comma-separated)."
        }
        "trigger.exclude" => "These triggers do not act on this container.",
        "scope" => "Only a watcher with the same scope sees this container.",
        "depends-on" => "Containers this one needs: stopped and started around their updates.",
        "lifecycle.pre-check" => "Command run in the container before each check.",
        "lifecycle.post-check" => "Command run in the container after each check.",
        "lifecycle.pre-update" => {
            "Command run in the container before an update; exit 75 skips the update."
        }
        "lifecycle.post-update" => "Command run in the new container after an update.",
        "lifecycle.pre-update-timeout" => "Minutes the pre-update command may take.",
        "lifecycle.post-update-timeout" => "Minutes the post-update command may take.",
        _ => return None,
    })
}

/// The labels of `labels` that tidewatch reads, with their meaning, in label order.
pub fn explain(labels: &BTreeMap<String, String>) -> Vec<Explained> {
    labels
        .iter()
        .filter_map(|(label, value)| {
            let meaning = match label.as_str() {
                "com.docker.compose.project" => {
                    "The compose project: the compose trigger finds its file from it."
                }
                "com.docker.compose.service" => {
                    "The compose service: the one entry the compose trigger rewrites."
                }
                _ => PREFIXES
                    .iter()
                    .find_map(|p| label.strip_prefix(p))
                    .and_then(meaning)?,
            };
            Some(Explained {
                label: label.clone(),
                value: value.clone(),
                meaning,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_alias_is_explained_and_other_labels_are_left_out() {
        let labels: BTreeMap<String, String> = [
            ("wud.tag.include", r"^\d+$"),
            ("com.centurylinklabs.watchtower.enable", "true"),
            ("tidewatch.display.name", "Web"),
            ("org.opencontainers.image.version", "1.2"),
            ("tidewatch.nonsense", "x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let explained = explain(&labels);
        let names: Vec<&str> = explained.iter().map(|e| e.label.as_str()).collect();
        assert_eq!(
            names,
            [
                "com.centurylinklabs.watchtower.enable",
                "tidewatch.display.name",
                "wud.tag.include"
            ]
        );
        assert!(explained[0].meaning.starts_with("Watch this container"));
    }
}
