//! Which updates a trigger acts on: its `threshold`, its `include`/`exclude` lists, and the
//! container's `trigger.include`/`trigger.exclude` labels. Pure, so every rule is unit-tested.

use super::{BuildProblem, TriggerId};
use crate::config::CommonConfig;
use crate::model::{ContainerInfo, UpdateKind};
use crate::tags::Threshold;
use crate::watch::labels::{self, TriggerRule};
use regex::Regex;

/// One entry of `include`/`exclude`: a container-name regex, or a label equal to a value.
#[derive(Debug, Clone)]
enum Matcher {
    Name(Regex),
    Label { key: String, value: String },
}

impl Matcher {
    fn matches(&self, container: &ContainerInfo) -> bool {
        match self {
            Matcher::Name(regex) => regex.is_match(&container.name),
            Matcher::Label { key, value } => container.labels.get(key) == Some(value),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    threshold: Threshold,
    include: Vec<Matcher>,
    exclude: Vec<Matcher>,
}

fn matchers(option: &str, value: &Option<String>) -> Result<Vec<Matcher>, BuildProblem> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    value
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| match entry.split_once('=') {
            Some((key, value)) => Ok(Matcher::Label {
                key: key.trim().to_string(),
                value: value.trim().to_string(),
            }),
            None => Regex::new(&format!("^(?:{entry})$"))
                .map(Matcher::Name)
                .map_err(|err| {
                    let reason = err.to_string();
                    let last = reason.lines().last().unwrap_or_default().to_string();
                    BuildProblem::new(option, format!("not a regular expression: {last}"))
                }),
        })
        .collect()
}

impl Filter {
    pub fn new(common: &CommonConfig) -> Result<Filter, Vec<BuildProblem>> {
        let include = matchers("include", &common.include);
        let exclude = matchers("exclude", &common.exclude);
        match (include, exclude) {
            (Ok(include), Ok(exclude)) => Ok(Filter {
                threshold: common.threshold,
                include,
                exclude,
            }),
            (include, exclude) => Err([include.err(), exclude.err()]
                .into_iter()
                .flatten()
                .collect()),
        }
    }

    /// The filter of a trigger that acts (docker, compose): threshold and include/exclude only.
    pub fn of(
        threshold: crate::tags::Threshold,
        include: &Option<String>,
        exclude: &Option<String>,
    ) -> Result<Filter, Vec<BuildProblem>> {
        Filter::new(&CommonConfig {
            threshold,
            include: include.clone(),
            exclude: exclude.clone(),
            ..CommonConfig::default()
        })
    }

    /// Whether `container` is among those the trigger's `include`/`exclude` name: for a trigger
    /// that shows every container (MQTT's mirror), not only updates.
    pub fn covers(&self, container: &ContainerInfo) -> bool {
        (self.include.is_empty() || self.include.iter().any(|m| m.matches(container)))
            && !self.exclude.iter().any(|m| m.matches(container))
    }

    /// Whether trigger `id` acts on an update of `kind` of `container`.
    pub fn allows(&self, id: &TriggerId, container: &ContainerInfo, kind: UpdateKind) -> bool {
        if !self.threshold.allows(kind) {
            return false;
        }
        if !self.covers(container) {
            return false;
        }
        // A container with a bad label was skipped at check time and never gets here; the
        // fallback only guards against a label changed since.
        let Ok(labels) = labels::read(&container.labels) else {
            return false;
        };
        let id = id.to_string();
        let names = |rule: &TriggerRule| rule.trigger == id;
        let reaches = |rule: &TriggerRule| rule.threshold.is_none_or(|t| t.allows(kind));
        if let Some(include) = &labels.trigger_include
            && !include.iter().any(|r| names(r) && reaches(r))
        {
            return false;
        }
        !labels
            .trigger_exclude
            .iter()
            .any(|r| names(r) && reaches(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> TriggerId {
        TriggerId {
            kind: "smtp",
            name: "ops".into(),
        }
    }

    fn container(name: &str, labels: &[(&str, &str)]) -> ContainerInfo {
        ContainerInfo {
            name: name.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..ContainerInfo::example("nginx:1.25")
        }
    }

    fn filter(threshold: &str, include: Option<&str>, exclude: Option<&str>) -> Filter {
        Filter::new(&CommonConfig {
            threshold: threshold.parse().unwrap(),
            include: include.map(str::to_string),
            exclude: exclude.map(str::to_string),
            ..CommonConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn the_threshold_filters_tag_updates() {
        let f = filter("minor", None, None);
        let c = container("web", &[]);
        assert!(f.allows(&id(), &c, UpdateKind::Minor));
        assert!(f.allows(&id(), &c, UpdateKind::Digest));
        assert!(!f.allows(&id(), &c, UpdateKind::Major));
    }

    #[test]
    fn include_and_exclude_match_whole_names_or_labels() {
        let f = filter("all", Some("web.*, team=ops"), Some("web-test"));
        let kind = UpdateKind::Patch;
        assert!(f.allows(&id(), &container("web-1", &[]), kind));
        assert!(!f.allows(&id(), &container("web-test", &[]), kind));
        assert!(!f.allows(&id(), &container("db", &[]), kind));
        assert!(!f.allows(&id(), &container("myweb", &[]), kind), "anchored");
        assert!(f.allows(&id(), &container("db", &[("team", "ops")]), kind));
        assert!(!f.allows(&id(), &container("db", &[("team", "dev")]), kind));
    }

    #[test]
    fn container_labels_name_triggers_with_an_optional_threshold() {
        let f = filter("all", None, None);
        let only_minor = container("web", &[("wud.trigger.include", "smtp.ops:minor,slack.x")]);
        assert!(f.allows(&id(), &only_minor, UpdateKind::Patch));
        assert!(!f.allows(&id(), &only_minor, UpdateKind::Major));
        let other = container("web", &[("tidewatch.trigger.include", "slack.x")]);
        assert!(!f.allows(&id(), &other, UpdateKind::Patch));
        let excluded = container("web", &[("tidewatch.trigger.exclude", "SMTP.ops")]);
        assert!(!f.allows(&id(), &excluded, UpdateKind::Patch));
        let excluded_major = container(
            "web",
            &[("tidewatch.trigger.exclude", "smtp.ops:major-only")],
        );
        assert!(!f.allows(&id(), &excluded_major, UpdateKind::Major));
        assert!(f.allows(&id(), &excluded_major, UpdateKind::Minor));
    }

    #[test]
    fn a_bad_regex_is_a_build_problem_naming_the_option() {
        let problems = Filter::new(&CommonConfig {
            exclude: Some("web(".into()),
            ..CommonConfig::default()
        })
        .unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].key, "exclude");
    }
}
