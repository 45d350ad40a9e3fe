//! The container labels tidewatch reads, and the one place that knows their names: native
//! `tidewatch.*`, with WUD's `wud.*` and Watchtower's `com.centurylinklabs.watchtower.*` as
//! aliases so a container labelled for those tools needs no change. Where two are set, the
//! native name wins, then WUD's, then Watchtower's.
//!
//! A label that cannot be understood is an error for that container only: it is skipped with
//! the reason, and every other container is checked as usual.

use crate::tags::{PolicyError, TagPolicy, Threshold};
use std::collections::BTreeMap;

const NATIVE: &str = "tidewatch.";
const WUD: &str = "wud.";
const WATCHTOWER: &str = "com.centurylinklabs.watchtower.";

/// Diun's labels with a meaning here, by tidewatch's key: the last alias, after Watchtower's.
/// `diun.watch_repo`, `diun.max_tags` and `diun.notify_on` have no native equivalent and are
/// read under their own names (see [`ContainerLabels::watch_repo`]); `diun.sort_tags` is not
/// read (tidewatch orders tags by version).
const DIUN: &[(&str, &str)] = &[
    ("watch", "diun.enable"),
    ("tag.include", "diun.include_tags"),
    ("tag.exclude", "diun.exclude_tags"),
    ("login", "diun.regopt"),
];

/// `labels` with Diun's labels added under tidewatch's names, where the container sets none of
/// the other spellings of that key.
fn with_diun(labels: &BTreeMap<String, String>) -> std::borrow::Cow<'_, BTreeMap<String, String>> {
    if !labels.keys().any(|k| k.starts_with("diun.")) {
        return std::borrow::Cow::Borrowed(labels);
    }
    let mut merged = labels.clone();
    for (key, diun) in DIUN {
        let Some(value) = labels.get(*diun) else {
            continue;
        };
        let watchtower = (*key == "watch").then_some("enable");
        let taken = [
            Some(format!("{NATIVE}{key}")),
            Some(format!("{WUD}{key}")),
            watchtower.map(|w| format!("{WATCHTOWER}{w}")),
        ]
        .into_iter()
        .flatten()
        .any(|name| labels.contains_key(&name));
        if !taken {
            let value = match *key {
                "watch" | "login" => value.clone(),
                _ => crate::config::diun_regex_list(value),
            };
            merged.insert(format!("{NATIVE}{key}"), value);
        }
    }
    std::borrow::Cow::Owned(merged)
}

/// What the labels of one container ask for.
#[derive(Debug, Clone, Default)]
pub struct ContainerLabels {
    /// `watch` (WUD), `enable` (Watchtower): overrides the watcher's `watchbydefault`.
    pub watch: Option<bool>,
    /// `watch.digest`: also watch the digest of a version tag (non-version tags always are).
    pub watch_digest: Option<bool>,
    /// `display.name`: how reports and notifications call the container.
    pub display_name: Option<String>,
    /// `link.template`: where to read about a version, e.g. release notes (see [`render_link`]).
    pub link_template: Option<String>,
    /// `tag.include`, `tag.exclude`, `tag.transform`, compiled, with `tag.prerelease` (offer
    /// pre-releases to a release) and `tag.morenumbers` (let `1.25` move to `1.25.3`).
    pub tags: TagPolicy,
    /// `monitor-only` (Watchtower's name too): notify, never update this container.
    pub monitor_only: Option<bool>,
    /// `no-pull` (Watchtower's name too): update this container to the image the engine has,
    /// never pulling; combined with the docker trigger's `nopull` as `monitor_only` is.
    pub no_pull: Option<bool>,
    /// `update.order`: `start-first` starts the new container before the old one stops.
    pub start_first: bool,
    /// `trigger.include`: only these triggers act on the container (WUD's
    /// `smtp.ops:minor,slack.team`); `None` when unset, meaning every trigger.
    pub trigger_include: Option<Vec<TriggerRule>>,
    /// `trigger.exclude`: these triggers do not act on it (for the kinds their threshold
    /// allows, when one is given).
    pub trigger_exclude: Vec<TriggerRule>,
    /// Diun's `diun.watch_repo`: `Some(false)` follows the container's own tag only (a new
    /// image behind it, whatever the tag), `Some(true)` also the repository's newer tags, with
    /// the own tag's digest as well. `None` (no label, no Diun setup) is tidewatch's way: a
    /// version tag by newer tags, any other tag by digest.
    pub watch_repo: Option<bool>,
    /// Diun's `diun.notify_on`: which of a newer tag (`new`) and a new image behind the tag
    /// (`update`) are offered; both when unset.
    pub notify_on: Option<crate::config::DiunNotifyOn>,
    /// Diun's `diun.max_tags`: only the last this many tags the registry lists compete (Diun's
    /// default order, `reverse`, takes them from the end of the list); `0` or unset, all.
    pub max_tags: Option<usize>,
    /// `login` (Diun's `diun.regopt`): the named login (`registry.login.<name>`) the registry
    /// is asked with for this container's image, instead of the registry's own.
    pub login: Option<String>,
}

/// One entry of a `trigger.include`/`trigger.exclude` label: `kind.name[:threshold]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerRule {
    /// Lowercase `kind.name`.
    pub trigger: String,
    pub threshold: Option<Threshold>,
}

fn trigger_rules(label: &str, value: &str) -> Result<Vec<TriggerRule>, LabelError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (trigger, threshold) = match entry.split_once(':') {
                Some((trigger, threshold)) => {
                    let threshold = threshold.trim().parse::<Threshold>().map_err(|err| {
                        LabelError::Invalid {
                            label: label.to_string(),
                            reason: err.to_string(),
                        }
                    })?;
                    (trigger, Some(threshold))
                }
                None => (entry, None),
            };
            let trigger = trigger.trim().to_ascii_lowercase();
            // Matched by exact name: anything else would be matched by nothing, silently.
            let named = trigger.split_once('.').is_some_and(|(kind, name)| {
                !kind.is_empty()
                    && kind.bytes().all(|b| b.is_ascii_lowercase())
                    && !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            });
            if !named {
                return Err(LabelError::Invalid {
                    label: label.to_string(),
                    reason: format!(
                        "`{trigger}` is not a trigger: expected kind.name, such as smtp.ops"
                    ),
                });
            }
            Ok(TriggerRule { trigger, threshold })
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    #[error("label {label}: expected true or false")]
    NotABool { label: String },
    #[error("label {label}: {reason}")]
    Invalid { label: String, reason: String },
}

/// The `scope` label of a container, read on its own: it decides whether a watcher sees the
/// container at all, before any other label is read.
pub fn scope(labels: &BTreeMap<String, String>) -> Option<&str> {
    [format!("{NATIVE}scope"), format!("{WATCHTOWER}scope")]
        .iter()
        .find_map(|name| labels.get(name))
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
}

/// The named login a container's labels pick (`login`, Diun's `diun.regopt`), read on its own
/// for what acts on the container after its check: the pull of its new image.
pub fn login(labels: &BTreeMap<String, String>) -> Option<&str> {
    [
        format!("{NATIVE}login"),
        format!("{WUD}login"),
        "diun.regopt".into(),
    ]
    .iter()
    .find_map(|name| labels.get(name))
    .map(|v| v.trim())
    .filter(|v| !v.is_empty())
}

/// `labels` with the watcher's defaults (keys after the prefix, `tag.include`, values as a
/// label spells them) added under tidewatch's own names, wherever the container sets none of
/// that key's names itself: the container's label wins, in any spelling.
pub fn with_defaults<'a>(
    labels: &'a BTreeMap<String, String>,
    defaults: &[(&str, String)],
) -> std::borrow::Cow<'a, BTreeMap<String, String>> {
    let missing: Vec<&(&str, String)> = defaults
        .iter()
        .filter(|(key, _)| {
            // Diun's own defaults (`diun.watch_repo`) have Diun's name only.
            if key.starts_with("diun.") {
                return !labels.contains_key(*key);
            }
            ![NATIVE, WUD, WATCHTOWER]
                .iter()
                .any(|prefix| labels.contains_key(&format!("{prefix}{key}")))
                && !DIUN
                    .iter()
                    .any(|(k, diun)| k == key && labels.contains_key(*diun))
        })
        .collect();
    if missing.is_empty() {
        return std::borrow::Cow::Borrowed(labels);
    }
    let mut merged = labels.clone();
    for (key, value) in missing {
        let name = match key.starts_with("diun.") {
            true => key.to_string(),
            false => format!("{NATIVE}{key}"),
        };
        merged.insert(name, value.clone());
    }
    std::borrow::Cow::Owned(merged)
}

/// Reads the labels tidewatch understands; others are ignored.
pub fn read(labels: &BTreeMap<String, String>) -> Result<ContainerLabels, LabelError> {
    let labels = &*with_diun(labels);
    let find = |key: &str, watchtower: Option<&str>| -> Option<(String, String)> {
        let names = [
            Some(format!("{NATIVE}{key}")),
            Some(format!("{WUD}{key}")),
            watchtower.map(|w| format!("{WATCHTOWER}{w}")),
        ];
        names
            .into_iter()
            .flatten()
            .find_map(|name| labels.get(&name).map(|v| (name, v.trim().to_string())))
    };
    let boolean = |key: &str, watchtower: Option<&str>| -> Result<Option<bool>, LabelError> {
        match find(key, watchtower) {
            None => Ok(None),
            Some((label, value)) => match value.to_ascii_lowercase().as_str() {
                "true" => Ok(Some(true)),
                "false" => Ok(Some(false)),
                _ => Err(LabelError::NotABool { label }),
            },
        }
    };
    let include = find("tag.include", None);
    let exclude = find("tag.exclude", None);
    let transform = find("tag.transform", None);
    let tags = TagPolicy::new(
        include.as_ref().map(|(_, v)| v.as_str()),
        exclude.as_ref().map(|(_, v)| v.as_str()),
        transform.as_ref().map(|(_, v)| v.as_str()),
    )
    .map_err(|err: PolicyError| {
        // Name the label as the user wrote it, not the option.
        let label = [&include, &exclude, &transform]
            .into_iter()
            .flatten()
            .find(|(name, _)| name.ends_with(err.option))
            .map(|(name, _)| name.clone())
            .unwrap_or_else(|| format!("{NATIVE}{}", err.option));
        LabelError::Invalid {
            label,
            reason: err.reason.clone(),
        }
    })?;
    // tidewatch's own switches (no WUD equivalent); the aliases are harmless.
    let tags = tags
        .with_prerelease(boolean("tag.prerelease", None)?.unwrap_or(false))
        .with_more_parts(boolean("tag.morenumbers", None)?.unwrap_or(false));
    Ok(ContainerLabels {
        watch: boolean("watch", Some("enable"))?,
        watch_digest: boolean("watch.digest", None)?,
        display_name: find("display.name", None)
            .map(|(_, v)| v)
            .filter(|v| !v.is_empty()),
        link_template: find("link.template", None)
            .map(|(_, v)| v)
            .filter(|v| !v.is_empty()),
        tags,
        monitor_only: boolean("monitor-only", Some("monitor-only"))?,
        no_pull: boolean("no-pull", Some("no-pull"))?,
        start_first: match find("update.order", None) {
            None => false,
            Some((_, value)) if value.eq_ignore_ascii_case("stop-first") => false,
            Some((_, value)) if value.eq_ignore_ascii_case("start-first") => true,
            Some((label, _)) => {
                return Err(LabelError::Invalid {
                    label,
                    reason: "expected start-first or stop-first".into(),
                });
            }
        },
        trigger_include: find("trigger.include", None)
            .map(|(label, value)| trigger_rules(&label, &value))
            .transpose()?,
        trigger_exclude: find("trigger.exclude", None)
            .map(|(label, value)| trigger_rules(&label, &value))
            .transpose()?
            .unwrap_or_default(),
        watch_repo: diun_label(labels, "diun.watch_repo", |v| {
            match v.to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err("expected true or false".into()),
            }
        })?,
        notify_on: diun_label(labels, "diun.notify_on", crate::config::diun_notify_on)?,
        max_tags: diun_label(labels, "diun.max_tags", |v| {
            v.parse::<usize>()
                .map_err(|_| "expected a whole number, 0 or more".to_string())
        })?
        .filter(|n| *n > 0),
        login: find("login", None)
            .map(|(_, v)| v)
            .filter(|v| !v.is_empty()),
    })
}

/// One of Diun's own labels, read by `parse`; a bad value names the label.
fn diun_label<T>(
    labels: &BTreeMap<String, String>,
    label: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<T>, LabelError> {
    labels
        .get(label)
        .map(|value| {
            parse(value.trim()).map_err(|reason| LabelError::Invalid {
                label: label.to_string(),
                reason,
            })
        })
        .transpose()
}

/// A `link.template` for `tag`, with WUD's placeholders: `${original}` (the tag),
/// `${transformed}` (after `tag.transform`), and `${major}`, `${minor}`, `${patch}`,
/// `${prerelease}` read from it (empty when the tag has no such part).
pub fn render_link(template: &str, tag: &str, policy: &TagPolicy) -> String {
    let transformed = match policy.transform() {
        Some(transform) => transform.apply(tag).into_owned(),
        None => tag.to_string(),
    };
    let version = policy.version(tag);
    let number = |i: usize| {
        version
            .as_ref()
            .and_then(|v| v.numbers().get(i).map(u64::to_string))
            .unwrap_or_default()
    };
    let prerelease = version
        .as_ref()
        .filter(|v| v.is_prerelease())
        .map(|v| {
            // What follows the numbers, less the flavour: `rc1` of `1.2.0-rc1-alpine`.
            let numbers: Vec<String> = v.numbers().iter().map(u64::to_string).collect();
            let rest = v
                .raw()
                .split_once(numbers.join(".").as_str())
                .map(|(_, rest)| rest)
                .unwrap_or_default();
            rest.trim_end_matches(v.flavour())
                .trim_start_matches(['-', '.', '_'])
                .to_string()
        })
        .unwrap_or_default();
    template
        .replace("${original}", tag)
        .replace("${transformed}", &transformed)
        .replace("${major}", &number(0))
        .replace("${minor}", &number(1))
        .replace("${patch}", &number(2))
        .replace("${prerelease}", &prerelease)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(labels: &[(&str, &str)]) -> Result<ContainerLabels, LabelError> {
        read(
            &labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn native_wud_and_watchtower_names_are_read_in_that_order() {
        assert_eq!(check(&[]).unwrap().watch, None);
        assert_eq!(check(&[("wud.watch", "false")]).unwrap().watch, Some(false));
        let enable = "com.centurylinklabs.watchtower.enable";
        assert_eq!(check(&[(enable, "false")]).unwrap().watch, Some(false));
        let both = check(&[
            ("tidewatch.watch", "true"),
            ("wud.watch", "false"),
            (enable, "false"),
        ]);
        assert_eq!(both.unwrap().watch, Some(true));
        assert_eq!(
            check(&[("wud.watch.digest", "TRUE")]).unwrap().watch_digest,
            Some(true)
        );
    }

    #[test]
    fn diuns_labels_are_the_last_aliases() {
        assert_eq!(check(&[("diun.enable", "true")]).unwrap().watch, Some(true));
        assert_eq!(
            check(&[("diun.enable", "true"), ("wud.watch", "false")])
                .unwrap()
                .watch,
            Some(false)
        );
        let tags = check(&[
            ("diun.include_tags", r"^\d+\.\d+$;^latest$"),
            ("diun.exclude_tags", "-rc"),
        ])
        .unwrap()
        .tags;
        assert!(tags.admits("1.25") && tags.admits("latest"));
        // Diun's `diun.regopt` names the login, as `tidewatch.login` does; the native wins.
        let regopt = [("diun.regopt", "myregistry")];
        assert_eq!(check(&regopt).unwrap().login.as_deref(), Some("myregistry"));
        let both = [("diun.regopt", "myregistry"), ("tidewatch.login", "ci")];
        assert_eq!(check(&both).unwrap().login.as_deref(), Some("ci"));
        let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(login(&map(&regopt)), Some("myregistry"));
        assert_eq!(login(&map(&both)), Some("ci"));
        assert!(!tags.admits("1.25.3") && !tags.admits("1.26-rc"));
        let defaults = [("tag.exclude", "-beta".to_string())];
        let labels: BTreeMap<String, String> =
            [("diun.exclude_tags".to_string(), "-rc".to_string())].into();
        assert_eq!(
            *with_defaults(&labels, &defaults),
            labels,
            "the container's own wins"
        );
    }

    #[test]
    fn diuns_repo_labels_are_read_and_a_bad_one_names_itself() {
        let none = check(&[]).unwrap();
        assert_eq!(
            (none.watch_repo, none.notify_on, none.max_tags),
            (None, None, None)
        );
        let set = check(&[
            ("diun.watch_repo", "TRUE"),
            ("diun.notify_on", "update"),
            ("diun.max_tags", "5"),
            ("diun.sort_tags", "semver"),
        ])
        .unwrap();
        assert_eq!(set.watch_repo, Some(true));
        let on = set.notify_on.unwrap();
        assert!(!on.new && on.update);
        assert_eq!(set.max_tags, Some(5));
        assert_eq!(check(&[("diun.max_tags", "0")]).unwrap().max_tags, None);
        let both = check(&[("diun.notify_on", "new;update")]).unwrap();
        assert_eq!(both.notify_on, Some(crate::config::DiunNotifyOn::default()));
        for (label, value) in [
            ("diun.max_tags", "abc"),
            ("diun.watch_repo", "maybe"),
            ("diun.notify_on", "new;later"),
        ] {
            let err = check(&[(label, value)]).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("label {label}: expected")),
                "{err}"
            );
            assert!(!err.contains(value), "{err}");
        }
        // A Diun setup's defaults fill in under Diun's names; the container's own label wins.
        let defaults = [
            ("diun.watch_repo", "false".to_string()),
            ("diun.max_tags", "3".to_string()),
        ];
        let labels: BTreeMap<String, String> =
            [("diun.watch_repo".to_string(), "true".to_string())].into();
        let merged = with_defaults(&labels, &defaults);
        assert_eq!(merged.get("diun.watch_repo").unwrap(), "true");
        assert_eq!(merged.get("diun.max_tags").unwrap(), "3");
    }

    #[test]
    fn no_pull_is_read_under_its_native_and_watchtower_names() {
        let watchtower = "com.centurylinklabs.watchtower.no-pull";
        assert_eq!(check(&[]).unwrap().no_pull, None);
        assert_eq!(check(&[(watchtower, "true")]).unwrap().no_pull, Some(true));
        let both = check(&[("tidewatch.no-pull", "false"), (watchtower, "true")]);
        assert_eq!(both.unwrap().no_pull, Some(false));
        assert!(check(&[(watchtower, "maybe")]).is_err());
    }

    #[test]
    fn tag_labels_compile_into_the_policy() {
        let labels = check(&[
            ("wud.tag.include", r"^\d+\.\d+$"),
            ("tidewatch.tag.exclude", "^9"),
        ])
        .unwrap();
        assert!(labels.tags.admits("1.2"));
        assert!(!labels.tags.admits("1.2.3"));
        assert!(!labels.tags.admits("9.1"));
    }

    #[test]
    fn switches_widen_the_competition() {
        let tags = |labels: &[(&str, &str)]| {
            let policy = check(labels).unwrap().tags;
            let available = ["1.25.3", "1.26-rc1", "1.25"];
            crate::tags::newest("1.24", available, &policy).map(|n| n.tag)
        };
        assert_eq!(tags(&[]).as_deref(), Some("1.25"));
        assert_eq!(
            tags(&[("tidewatch.tag.prerelease", "true")]).as_deref(),
            Some("1.26-rc1")
        );
        assert_eq!(
            tags(&[("tidewatch.tag.morenumbers", "true")]).as_deref(),
            Some("1.25.3")
        );
    }

    #[test]
    fn link_templates_take_wuds_placeholders() {
        let labels = check(&[(
            "wud.link.template",
            "https://example.com/releases/v${major}.${minor}.${patch}?t=${original}",
        )])
        .unwrap();
        let template = labels.link_template.unwrap();
        let policy = TagPolicy::default();
        assert_eq!(
            render_link(&template, "1.25.3-alpine", &policy),
            "https://example.com/releases/v1.25.3?t=1.25.3-alpine"
        );
        assert_eq!(
            render_link("${major}|${minor}|${patch}", "16", &policy),
            "16||"
        );
        assert_eq!(render_link("${prerelease}", "3.0.0-rc1", &policy), "rc1");
        let transform =
            TagPolicy::new(None, None, Some(r"^(\d+\.\d+\.\d+)-ls(\d+)$ => $1.$2")).unwrap();
        assert_eq!(
            render_link("${transformed}", "4.0.2-ls221", &transform),
            "4.0.2.221"
        );
    }

    #[test]
    fn a_bad_label_names_itself() {
        assert_eq!(
            check(&[("tidewatch.watch", "yes please")])
                .unwrap_err()
                .to_string(),
            "label tidewatch.watch: expected true or false"
        );
        let err = check(&[("wud.tag.include", "^(1|2")]).unwrap_err();
        assert!(
            err.to_string().starts_with("label wud.tag.include: "),
            "{err}"
        );
    }

    #[test]
    fn watcher_defaults_fill_in_only_what_no_label_of_the_container_says() {
        let labels = BTreeMap::from([
            ("wud.tag.include".to_string(), "^1\\.".to_string()),
            ("other".to_string(), "x".to_string()),
        ]);
        let defaults = [
            ("tag.include", "^2\\.".to_string()),
            ("tag.exclude", "-rc".to_string()),
        ];
        let merged = with_defaults(&labels, &defaults);
        assert_eq!(
            merged.get("tidewatch.tag.include"),
            None,
            "the container's own wins"
        );
        assert_eq!(
            merged.get("tidewatch.tag.exclude").map(String::as_str),
            Some("-rc")
        );
        assert_eq!(merged.len(), 3);
        assert!(matches!(
            with_defaults(&labels, &[]),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
