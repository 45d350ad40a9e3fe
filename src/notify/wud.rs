//! WUD's container JSON (WUD 8's `app/model/container.ts`): what WUD's API answers for a
//! container (`server::api::wud`) and what WUD's http trigger posts (the `http` trigger's
//! `format = "wud"`). One shape, built here from what either side knows — the API from the
//! store's view, a notifier from an update's [`Entry`] — so that the two cannot drift apart.
//!
//! Where WUD's own JSON leaves a field undefined, this one has `null`, as WUD's API does.

use super::template::{Entry, State};
use crate::model::finding::{ListedContainer, Status, Update};
use crate::model::{ContainerInfo, ImageRef, UpdateKind};
use serde::Serialize;
use std::collections::BTreeMap;

/// One container, WUD's field names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub display_icon: String,
    /// Docker's state word (`running`, `exited`, …), `unknown` when not known.
    pub status: String,
    pub watcher: String,
    pub include_tags: Option<String>,
    pub exclude_tags: Option<String>,
    pub transform_tags: Option<String>,
    pub link_template: Option<String>,
    /// WUD's link for the running tag; tidewatch fills the link template for the new one only
    /// (`result.link`).
    pub link: Option<String>,
    pub trigger_include: Option<String>,
    pub trigger_exclude: Option<String>,
    pub image: Image,
    pub result: Option<Outcome>,
    pub error: Option<Error>,
    pub update_available: bool,
    pub update_kind: Kind,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Image {
    pub id: Option<String>,
    pub registry: Registry,
    /// The repository, without registry and tag (`library/nginx`).
    pub name: String,
    pub tag: Tag,
    pub digest: Digest,
    pub architecture: Option<String>,
    pub os: Option<String>,
    pub variant: Option<String>,
    pub created: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Registry {
    /// WUD's provider kind (`hub`, `ghcr`, …, `custom`).
    pub name: String,
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tag {
    pub value: String,
    pub semver: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Digest {
    pub watch: bool,
    pub value: Option<String>,
    pub repo: Option<String>,
}

/// WUD's `result`: what the registry offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub tag: Option<String>,
    pub digest: Option<String>,
    pub created: Option<String>,
    pub link: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Error {
    pub message: String,
}

/// WUD's `updateKind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Kind {
    /// `tag`, `digest` or `unknown` (no update).
    pub kind: &'static str,
    pub local_value: Option<String>,
    pub remote_value: Option<String>,
    /// `major`, `minor`, `patch`, `prerelease` for a tag update.
    pub semver_diff: Option<UpdateKind>,
}

/// What a check last said of the container.
#[derive(Debug, Clone, Copy)]
pub enum Finding<'a> {
    /// This update is available.
    Available(&'a Update),
    /// The registry offers nothing newer than what runs.
    UpToDate,
    /// Not checked, skipped, held or failed: WUD has no `result` then.
    Unknown,
}

/// What the shape is made of: what the API and a notifier both know of a container.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub watcher: &'a str,
    /// The image as the container was created with it.
    pub image: &'a str,
    /// As the engine listed it: labels, state, image ID, platform, digests.
    pub info: Option<&'a ContainerInfo>,
    /// The `display.name` label as the check read it; else the label, else the name.
    pub display_name: Option<&'a str>,
    pub finding: Finding<'a>,
    /// WUD's `error.message`.
    pub error: Option<&'a str>,
}

/// WUD's name for the registry a reference lives on (its provider kinds).
pub fn registry_name(image: &ImageRef) -> &'static str {
    let host = image.registry.as_str();
    if image.is_docker_hub() {
        "hub"
    } else if host == "ghcr.io" {
        "ghcr"
    } else if host == "quay.io" {
        "quay"
    } else if host == "lscr.io" {
        "lscr"
    } else if host == "registry.gitlab.com" {
        "gitlab"
    } else if host.ends_with("gcr.io") {
        "gcr"
    } else if host.ends_with("-docker.pkg.dev") {
        "gar"
    } else if host.ends_with(".amazonaws.com") {
        "ecr"
    } else if host.ends_with(".azurecr.io") {
        "acr"
    } else {
        "custom"
    }
}

/// The digest a container runs, as the repository of `reference` knows it (from the engine's
/// `RepoDigests`).
pub fn running_digest(info: &ContainerInfo, reference: &ImageRef) -> Option<String> {
    let name = reference.name();
    let familiar = reference.familiar();
    let familiar_repo = familiar.split(':').next().unwrap_or("");
    info.repo_digests.iter().find_map(|d| {
        let (repo, digest) = d.split_once('@')?;
        let same = ImageRef::parse(repo).is_ok_and(|r| r.name() == name) || repo == familiar_repo;
        same.then(|| digest.to_string())
    })
}

/// The container in WUD's shape.
pub fn container(s: &Subject<'_>) -> Container {
    let no_labels = BTreeMap::new();
    let labels = s.info.map(|i| &i.labels).unwrap_or(&no_labels);
    let label = |key: &str| {
        labels
            .get(&format!("tidewatch.{key}"))
            .or_else(|| labels.get(&format!("wud.{key}")))
            .cloned()
    };
    let reference = ImageRef::parse(s.image).ok();
    let tag = reference
        .as_ref()
        .and_then(|r| r.tag.clone())
        .unwrap_or_else(|| "latest".into());
    let semver = crate::tags::parse(&tag).is_some();
    let digest = reference
        .as_ref()
        .zip(s.info)
        .and_then(|(r, info)| running_digest(info, r));
    let watch_digest = match label("watch.digest").as_deref() {
        Some(v) => v.eq_ignore_ascii_case("true"),
        None => !semver,
    };
    let result = match s.finding {
        Finding::Available(u) => Some(Outcome {
            tag: Some(u.tag.clone()),
            digest: u.digest.clone(),
            created: None,
            link: u.link.clone(),
        }),
        Finding::UpToDate => Some(Outcome {
            tag: Some(tag.clone()),
            digest: digest.clone(),
            created: None,
            link: None,
        }),
        Finding::Unknown => None,
    };
    let update_kind = match s.finding {
        Finding::Available(u) if u.kind == UpdateKind::Digest => Kind {
            kind: "digest",
            local_value: digest.clone(),
            remote_value: u.digest.clone(),
            semver_diff: None,
        },
        Finding::Available(u) => Kind {
            kind: "tag",
            local_value: Some(tag.clone()),
            remote_value: Some(u.tag.clone()),
            semver_diff: Some(u.kind),
        },
        _ => Kind {
            kind: "unknown",
            local_value: None,
            remote_value: None,
            semver_diff: None,
        },
    };
    let platform = s.info.map(|i| &i.platform);
    let known = |v: &String| (!v.is_empty()).then(|| v.clone());
    Container {
        id: s.id.to_string(),
        name: s.name.to_string(),
        display_name: s
            .display_name
            .map(str::to_string)
            .or_else(|| label("display.name"))
            .unwrap_or_else(|| s.name.to_string()),
        display_icon: label("display.icon").unwrap_or_else(|| "mdi:docker".into()),
        status: s
            .info
            .map(|i| i.state.clone())
            .unwrap_or_else(|| "unknown".into()),
        watcher: s.watcher.to_string(),
        include_tags: label("tag.include"),
        exclude_tags: label("tag.exclude"),
        transform_tags: label("tag.transform"),
        link_template: label("link.template"),
        link: None,
        trigger_include: label("trigger.include"),
        trigger_exclude: label("trigger.exclude"),
        image: Image {
            id: s.info.and_then(|i| known(&i.image_id)),
            registry: Registry {
                name: reference
                    .as_ref()
                    .map_or("custom", registry_name)
                    .to_string(),
                url: reference
                    .as_ref()
                    .map(|r| format!("https://{}/v2", r.api_host())),
            },
            name: reference
                .as_ref()
                .map_or_else(|| s.image.to_string(), |r| r.repository.clone()),
            tag: Tag { value: tag, semver },
            digest: Digest {
                watch: watch_digest,
                value: digest.clone(),
                repo: digest,
            },
            architecture: platform.and_then(|p| known(&p.architecture)),
            os: platform.and_then(|p| known(&p.os)),
            variant: platform.and_then(|p| p.variant.clone()),
            created: None,
        },
        update_available: matches!(s.finding, Finding::Available(_)),
        result,
        error: s.error.map(|message| Error {
            message: message.to_string(),
        }),
        update_kind,
        labels: labels.clone(),
    }
}

/// A container as a check last listed it (`listed`), with what the engine said of it (`info`,
/// for its labels, digests and platform): what WUD's API answers, and what WUD's MQTT trigger
/// publishes for every container it watches. `stored` names it when the check did not.
pub fn of_listed(
    id: &str,
    name: &str,
    watcher: &str,
    image: &str,
    listed: Option<&ListedContainer>,
    info: Option<&ContainerInfo>,
) -> Container {
    let status = listed.map(|l| l.status);
    let finding = match (listed.and_then(|l| l.update.as_ref()), status) {
        (Some(update), Some(Status::UpdateAvailable)) => Finding::Available(update),
        (_, Some(Status::UpToDate)) => Finding::UpToDate,
        _ => Finding::Unknown,
    };
    let error = (status == Some(Status::Failed)).then(|| {
        listed
            .and_then(|l| l.reason.as_deref())
            .unwrap_or("check failed")
    });
    container(&Subject {
        id,
        name,
        watcher,
        image,
        info,
        display_name: listed.and_then(|l| l.display_name.as_deref()),
        finding,
        error,
    })
}

/// What a message says of a container, in WUD's shape. An update found, failed, rolled back
/// or skipped leaves it with the update available (a failure's or skip's reason as `error`);
/// an update applied, or a rollback by hand, leaves it running the candidate's target with
/// nothing newer known, which is how WUD would list it on its next check.
pub fn of_entry(entry: &Entry) -> Container {
    let c = &entry.candidate;
    let update = Update {
        kind: c.kind,
        tag: c.target.tag.clone().unwrap_or_else(|| "latest".into()),
        digest: c.digest.clone(),
        link: c.link.clone(),
    };
    if entry.state == State::Updated {
        // The container now runs the target; its new ID and image ID are not known here.
        let image = c.target.familiar();
        let info = ContainerInfo {
            image: image.clone(),
            image_id: String::new(),
            repo_digests: c
                .digest
                .iter()
                .map(|d| format!("{}@{d}", c.target.name()))
                .collect(),
            ..c.container.clone()
        };
        return container(&Subject {
            id: &c.container.id,
            name: &c.container.name,
            watcher: &c.container.watcher,
            image: &image,
            info: Some(&info),
            display_name: Some(&c.display_name),
            finding: Finding::UpToDate,
            error: None,
        });
    }
    container(&Subject {
        id: &c.container.id,
        name: &c.container.name,
        watcher: &c.container.watcher,
        image: &c.container.image,
        info: Some(&c.container),
        display_name: Some(&c.display_name),
        finding: Finding::Available(&update),
        error: entry
            .reason
            .as_deref()
            .filter(|_| entry.state != State::Stale),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::template::sample_candidate;
    use serde_json::{Value, json};

    fn json_of(c: &Container) -> Value {
        serde_json::to_value(c).unwrap()
    }

    fn candidate() -> crate::model::UpdateCandidate {
        let mut c = sample_candidate();
        c.container.platform = crate::model::Platform {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        };
        c.container.labels = BTreeMap::from([
            ("wud.tag.include".into(), r"^\d+\.\d+\.\d+$".into()),
            ("wud.display.icon".into(), "si:nginx".into()),
        ]);
        c.display_name = "Web".into();
        c
    }

    #[test]
    fn a_tag_update_is_wuds_container_with_its_result_and_update_kind() {
        let c = candidate();
        let sent = json_of(&of_entry(&Entry::new(c.clone(), State::Stale)));
        let running = format!("sha256:{}", "2".repeat(64));
        let new = format!("sha256:{}", "3".repeat(64));
        assert_eq!(
            sent,
            json!({
                "id": "0123456789ab",
                "name": "web",
                "displayName": "Web",
                "displayIcon": "si:nginx",
                "status": "running",
                "watcher": "local",
                "includeTags": r"^\d+\.\d+\.\d+$",
                "excludeTags": null,
                "transformTags": null,
                "linkTemplate": null,
                "link": null,
                "triggerInclude": null,
                "triggerExclude": null,
                "image": {
                    "id": format!("sha256:{}", "1".repeat(64)),
                    "registry": {"name": "hub", "url": "https://registry-1.docker.io/v2"},
                    "name": "library/nginx",
                    "tag": {"value": "1.25.3", "semver": true},
                    "digest": {"watch": false, "value": running, "repo": running},
                    "architecture": "amd64",
                    "os": "linux",
                    "variant": null,
                    "created": null,
                },
                "result": {
                    "tag": "1.25.4",
                    "digest": new,
                    "created": null,
                    "link": "https://example.com/releases/1.25.4",
                },
                "error": null,
                "updateAvailable": true,
                "updateKind": {
                    "kind": "tag",
                    "localValue": "1.25.3",
                    "remoteValue": "1.25.4",
                    "semverDiff": "patch",
                },
                "labels": {
                    "wud.display.icon": "si:nginx",
                    "wud.tag.include": r"^\d+\.\d+\.\d+$",
                },
            })
        );
    }

    #[test]
    fn a_digest_update_compares_digests() {
        let mut c = candidate();
        c.container.image = "nginx:latest".into();
        c.container.repo_digests = vec![format!("nginx@sha256:{}", "2".repeat(64))];
        c.current = ImageRef::parse("nginx:latest").unwrap();
        c.target = c.current.clone();
        c.kind = UpdateKind::Digest;
        let sent = json_of(&of_entry(&Entry::new(c.clone(), State::Stale)));
        let running = format!("sha256:{}", "2".repeat(64));
        let new = format!("sha256:{}", "3".repeat(64));
        assert_eq!(
            sent["image"]["tag"],
            json!({"value": "latest", "semver": false})
        );
        assert_eq!(
            sent["image"]["digest"],
            json!({"watch": true, "value": running, "repo": running})
        );
        assert_eq!(sent["result"]["tag"], "latest");
        assert_eq!(sent["result"]["digest"], new.as_str());
        assert_eq!(sent["updateAvailable"], true);
        assert_eq!(
            sent["updateKind"],
            json!({"kind": "digest", "localValue": running, "remoteValue": new, "semverDiff": null})
        );
    }

    #[test]
    fn a_failure_carries_its_reason_and_an_applied_update_leaves_nothing_available() {
        let c = candidate();
        let failed = json_of(&of_entry(&Entry {
            reason: Some("pull refused".into()),
            ..Entry::new(c.clone(), State::Failed)
        }));
        assert_eq!(failed["error"], json!({"message": "pull refused"}));
        assert_eq!(failed["updateAvailable"], true);
        let applied = json_of(&of_entry(&Entry::new(c.clone(), State::Updated)));
        let new = format!("sha256:{}", "3".repeat(64));
        assert_eq!(applied["updateAvailable"], false);
        assert_eq!(applied["image"]["tag"]["value"], "1.25.4");
        assert_eq!(applied["image"]["digest"]["value"], new.as_str());
        assert_eq!(applied["image"]["id"], Value::Null);
        assert_eq!(applied["result"]["tag"], "1.25.4");
        assert_eq!(applied["updateKind"]["kind"], "unknown");
        assert_eq!(applied["error"], Value::Null);
    }
}
