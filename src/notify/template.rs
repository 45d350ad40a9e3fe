//! Message templates (handlebars) and the values they are rendered from.
//!
//! Each kind ships four defaults in `triggers/<kind>/` (compiled in, so the binary needs no
//! files); a trigger replaces any of them inline (`SIMPLETITLE`, `SIMPLEBODY`, `BATCHTITLE`,
//! `BATCHBODY`) or from a `templates` folder. Strict mode: a misspelt field is an error, and
//! every template is rendered once against sample values when the trigger is built, so the
//! error shows at start-up rather than at 3 a.m. when the first update is found. No HTML
//! escaping: the channels are text or markdown, and each kind escapes what its format needs.

use crate::config::CommonConfig;
use crate::model::{Report, UpdateCandidate, UpdateKind};
use crate::trigger::BuildProblem;
use handlebars::Handlebars;
use serde_json::{Value, json};
use std::path::Path;

/// The four shipped templates of a kind.
#[derive(Debug, Clone, Copy)]
pub struct Defaults {
    pub simple_title: &'static str,
    pub simple_body: &'static str,
    pub batch_title: &'static str,
    pub batch_body: &'static str,
}

/// The shipped templates of `triggers/<kind>/`.
macro_rules! shipped {
    ($kind:literal) => {
        $crate::notify::template::Defaults {
            simple_title: include_str!(concat!("../../triggers/", $kind, "/simple-title.hbs")),
            simple_body: include_str!(concat!("../../triggers/", $kind, "/simple-body.hbs")),
            batch_title: include_str!(concat!("../../triggers/", $kind, "/batch-title.hbs")),
            batch_body: include_str!(concat!("../../triggers/", $kind, "/batch-body.hbs")),
        }
    };
}
pub(crate) use shipped;

/// The four names, with the option that overrides each inline and its file in a folder.
const SLOTS: [(&str, &str, &str); 4] = [
    ("simple-title", "simpletitle", "simple-title.hbs"),
    ("simple-body", "simplebody", "simple-body.hbs"),
    ("batch-title", "batchtitle", "batch-title.hbs"),
    ("batch-body", "batchbody", "batch-body.hbs"),
];

#[derive(Debug)]
pub struct Templates {
    registry: Handlebars<'static>,
}

impl Templates {
    pub fn new(defaults: Defaults, common: &CommonConfig) -> Result<Templates, Vec<BuildProblem>> {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        registry.register_escape_fn(handlebars::no_escape);
        let shipped = [
            defaults.simple_title,
            defaults.simple_body,
            defaults.batch_title,
            defaults.batch_body,
        ];
        let inline = [
            &common.simpletitle,
            &common.simplebody,
            &common.batchtitle,
            &common.batchbody,
        ];
        let mut problems = Vec::new();
        for (((name, option, file), shipped), inline) in SLOTS.into_iter().zip(shipped).zip(inline)
        {
            let (source, key) = match (inline, &common.templates) {
                (Some(text), _) => (text.clone(), option.to_string()),
                (None, Some(folder)) => match read_override(folder, file) {
                    Ok(Some(text)) => (text, "templates".to_string()),
                    Ok(None) => (shipped.to_string(), option.to_string()),
                    Err(message) => {
                        problems.push(BuildProblem::new("templates", message));
                        continue;
                    }
                },
                (None, None) => (shipped.to_string(), option.to_string()),
            };
            // WUD's inline templates are JavaScript template literals; handlebars would send
            // `${container.name}` as it is written. The forms WUD documents are translated,
            // anything else refused.
            let source = if source.contains("${") {
                match translate_js(&source) {
                    Ok(translated) => translated,
                    Err(why) => {
                        problems.push(BuildProblem::new(key, format!("{name} template: {why}")));
                        continue;
                    }
                }
            } else {
                source
            };
            if let Err(err) = registry.register_template_string(name, source) {
                problems.push(BuildProblem::new(key, format!("{name} template: {err}")));
                continue;
            }
            let sample = if name.starts_with("simple") {
                sample_simple()
            } else {
                sample_batch()
            };
            if let Err(err) = registry.render(name, &sample) {
                problems.push(BuildProblem::new(
                    key,
                    format!("{name} template: {}", reason(&err)),
                ));
            }
        }
        if problems.is_empty() {
            Ok(Templates { registry })
        } else {
            Err(problems)
        }
    }

    /// Renders title and body for one notice (simple mode, and every applied/failed update).
    pub fn simple(&self, data: Data) -> Result<super::Message, String> {
        self.render("simple-title", "simple-body", data)
    }

    /// Renders title and body for a cycle's updates.
    pub fn batch(&self, data: Data) -> Result<super::Message, String> {
        self.render("batch-title", "batch-body", data)
    }

    fn render(&self, title: &str, body: &str, data: Data) -> Result<super::Message, String> {
        let title = self
            .registry
            .render(title, &data.values)
            .map_err(|err| reason(&err))?;
        let body = self
            .registry
            .render(body, &data.values)
            .map_err(|err| reason(&err))?;
        Ok(super::Message {
            title: title.trim().to_string(),
            body: body.trim_end().to_string(),
            data: data.values,
            updates: data.updates,
        })
    }
}

/// WUD's JavaScript template literal placeholders and the handlebars field each means.
const JS_FIELDS: &[(&str, &str)] = &[
    ("container.name", "name"),
    ("container.displayName", "display_name"),
    ("container.id", "id"),
    ("container.watcher", "watcher"),
    ("container.image.name", "repository"),
    ("container.image.registry.name", "registry"),
    ("container.image.tag.value", "current_tag"),
    ("container.updateKind.kind", "kind"),
    ("container.updateKind.semverDiff", "kind"),
    ("container.updateKind.localValue", "current_tag"),
    ("container.updateKind.remoteValue", "new_tag"),
    ("container.result.tag", "new_tag"),
    ("container.result.link", "link"),
    ("container.link", "link"),
    ("containers.length", "count"),
];

/// `${container.name}` → `{{name}}`, for the placeholders WUD documents; an expression (a
/// ternary, `containers.map(…)`) is refused rather than sent as written.
fn translate_js(source: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = source;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or("`${` is not closed with `}`")?;
        let expression = after[..end].trim();
        match JS_FIELDS.iter().find(|(js, _)| *js == expression) {
            Some((_, field)) => out.push_str(&format!("{{{{{field}}}}}")),
            None => {
                return Err(format!(
                    "`${{{expression}}}` is a JavaScript expression (WUD's form) with no \
                     translation; write it as handlebars, `{{{{name}}}}`"
                ));
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// handlebars' errors can quote the template; only the reason is kept, in one line.
fn reason(err: &handlebars::RenderError) -> String {
    err.to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

fn read_override(folder: &Path, file: &str) -> Result<Option<String>, String> {
    if !folder.is_dir() {
        return Err(format!("{} is not a folder", folder.display()));
    }
    let path = folder.join(file);
    match crate::config::file::read_to_string(&path, crate::config::file::FILE_LIMIT) {
        Ok(text) => Ok(Some(text)),
        Err(err) if err.is_not_found() => Ok(None),
        Err(err) => Err(err.to_string()),
    }
}

/// What a simple message is about.
#[derive(Debug, Clone, Copy)]
pub enum Notice<'a> {
    Available(&'a UpdateCandidate),
    Applied(&'a UpdateCandidate),
    Failed(&'a UpdateCandidate, &'a str),
    RolledBack(&'a UpdateCandidate, &'a str),
    /// A rollback a user asked for: `from` is what ran, `to` what runs now; the reason names
    /// who.
    RolledBackByUser(&'a UpdateCandidate, &'a str),
}

impl Notice<'_> {
    pub fn candidate(&self) -> &UpdateCandidate {
        match self {
            Notice::Available(c) | Notice::Applied(c) => c,
            Notice::Failed(c, _) | Notice::RolledBack(c, _) | Notice::RolledBackByUser(c, _) => c,
        }
    }
}

fn kind_word(kind: UpdateKind) -> &'static str {
    match kind {
        UpdateKind::Digest => "digest",
        UpdateKind::Prerelease => "prerelease",
        UpdateKind::Patch => "patch",
        UpdateKind::Minor => "minor",
        UpdateKind::Major => "major",
    }
}

/// The values describing one update, shared by simple messages and each entry of a batch.
pub fn update_data(c: &UpdateCandidate) -> Value {
    let current_tag = c.current.tag.clone().unwrap_or_else(|| "latest".into());
    let new_tag = c.target.tag.clone().unwrap_or_else(|| "latest".into());
    let repository = c.current.repository.clone();
    let current_digest = c
        .container
        .repo_digests
        .iter()
        .find_map(|d| d.split_once('@').map(|(_, digest)| digest.to_string()));
    let short = |d: &Option<String>| {
        d.as_deref()
            .map(crate::store::short_digest)
            .map(str::to_string)
    };
    // A digest update keeps its tag, so the digests are what tell the two images apart.
    let (from, to) = if c.kind == UpdateKind::Digest {
        (
            format!(
                "{current_tag}@{}",
                short(&current_digest).unwrap_or_default()
            ),
            format!("{new_tag}@{}", short(&c.digest).unwrap_or_default()),
        )
    } else {
        (current_tag.clone(), new_tag.clone())
    };
    json!({
        "name": c.container.name,
        "display_name": c.display_name,
        "watcher": c.container.watcher,
        "id": c.container.id,
        "image": c.container.image,
        "registry": c.current.registry,
        "repository": repository,
        "kind": kind_word(c.kind),
        "current_tag": current_tag,
        "new_tag": new_tag,
        "current_digest": current_digest,
        "new_digest": c.digest,
        "new_image": c.target.familiar(),
        "from": from,
        "to": to,
        "link": c.link,
    })
}

/// What a message is rendered from: the template values, and the updates they tell of, kept
/// typed for the bodies that are another tool's shape (see [`super::Message::updates`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Data {
    pub values: Value,
    pub updates: Vec<UpdateCandidate>,
}

/// The values of a simple message.
pub fn simple_data(notice: Notice<'_>) -> Data {
    let (event, verb, reason) = match notice {
        Notice::Available(_) => ("update-available", "Update available", None),
        Notice::Applied(_) => ("update-applied", "Updated", None),
        Notice::Failed(_, r) => ("update-failed", "Update failed", Some(r)),
        Notice::RolledBack(_, r) => ("rolled-back", "Update rolled back", Some(r)),
        Notice::RolledBackByUser(_, r) => ("rollback-applied", "Rolled back", Some(r)),
    };
    let mut data = update_data(notice.candidate());
    if let Value::Object(map) = &mut data {
        map.insert("event".into(), json!(event));
        map.insert("verb".into(), json!(verb));
        map.insert("reason".into(), json!(reason));
        map.insert("host".into(), json!(crate::config::host::hostname()));
        map.insert("time".into(), json!(now()));
    }
    Data {
        values: data,
        updates: vec![notice.candidate().clone()],
    }
}

/// The values of a batch message: the updates of one watcher's cycle, with its counts.
pub fn batch_data(watcher: &str, updates: &[UpdateCandidate], report: Option<&Report>) -> Data {
    let report = report.cloned().unwrap_or_else(|| Report {
        watcher: watcher.to_string(),
        updates: updates.len(),
        ..Report::default()
    });
    let values = json!({
        "event": "batch",
        "watcher": watcher,
        "count": updates.len(),
        "updates": updates.iter().map(update_data).collect::<Vec<_>>(),
        "report": {
            "scanned": report.scanned,
            "updates": report.updates,
            "up_to_date": report.up_to_date,
            "skipped": report.skipped,
            "failed": report.failed,
        },
        "host": crate::config::host::hostname(),
        "time": now(),
    });
    Data {
        values,
        updates: updates.to_vec(),
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A candidate with every field filled, to check templates against at start-up.
pub fn sample_candidate() -> UpdateCandidate {
    use crate::model::{ContainerInfo, ImageRef, Platform};
    let current = ImageRef::parse("nginx:1.25.3").expect("a valid sample reference");
    let target = ImageRef::parse("nginx:1.25.4").expect("a valid sample reference");
    UpdateCandidate {
        container: ContainerInfo {
            watcher: "local".into(),
            kind: Default::default(),
            id: "0123456789ab".into(),
            name: "web".into(),
            state: "running".into(),
            image: "nginx:1.25.3".into(),
            image_id: format!("sha256:{}", "1".repeat(64)),
            repo_digests: vec![format!("nginx@sha256:{}", "2".repeat(64))],
            platform: Platform::default(),
            labels: Default::default(),
        },
        current,
        target,
        digest: Some(format!("sha256:{}", "3".repeat(64))),
        kind: UpdateKind::Patch,
        display_name: "web".into(),
        link: Some("https://example.com/releases/1.25.4".into()),
    }
}

fn sample_simple() -> Value {
    simple_data(Notice::Failed(&sample_candidate(), "sample reason")).values
}

fn sample_batch() -> Value {
    batch_data("local", &[sample_candidate()], None).values
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: Defaults = Defaults {
        simple_title: "{{verb}}: {{display_name}}",
        simple_body: "{{from}} -> {{to}}",
        batch_title: "{{count}} updates",
        batch_body: "{{#each updates}}{{name}} {{/each}}",
    };

    #[test]
    fn a_misspelt_field_is_an_error_at_build_time_naming_the_option() {
        let common = CommonConfig {
            simplebody: Some("{{contianer}}".into()),
            ..CommonConfig::default()
        };
        let problems = Templates::new(PLAIN, &common).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].key, "simplebody");
        assert!(problems[0].message.contains("contianer"), "{problems:?}");
    }

    #[test]
    fn wuds_javascript_template_literals_are_translated_or_refused_naming_the_option() {
        let common = CommonConfig {
            simpletitle: Some("New ${container.updateKind.kind} for ${container.name}".into()),
            simplebody: Some(
                "${container.name}: ${container.updateKind.localValue} -> ${container.updateKind.remoteValue}"
                    .into(),
            ),
            batchtitle: Some("${containers.length} updates".into()),
            ..CommonConfig::default()
        };
        let templates = Templates::new(PLAIN, &common).unwrap();
        let message = templates
            .simple(simple_data(Notice::Available(&sample_candidate())))
            .unwrap();
        assert_eq!(message.title, "New patch for web");
        assert_eq!(message.body, "web: 1.25.3 -> 1.25.4");
        let common = CommonConfig {
            simplebody: Some(
                "${container.name}${container.result ? ' ' + container.result.link : ''}".into(),
            ),
            ..CommonConfig::default()
        };
        let problems = Templates::new(PLAIN, &common).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].key, "simplebody");
        assert!(
            problems[0].message.contains("JavaScript expression"),
            "{problems:?}"
        );
    }

    #[test]
    fn a_syntax_error_is_an_error_at_build_time() {
        let common = CommonConfig {
            batchtitle: Some("{{#each updates}".into()),
            ..CommonConfig::default()
        };
        let problems = Templates::new(PLAIN, &common).unwrap_err();
        assert_eq!(problems[0].key, "batchtitle");
    }

    #[test]
    fn inline_beats_folder_beats_shipped() {
        let folder = tempfile::tempdir().unwrap();
        std::fs::write(folder.path().join("simple-title.hbs"), "folder {{name}}").unwrap();
        std::fs::write(folder.path().join("simple-body.hbs"), "folder body").unwrap();
        let common = CommonConfig {
            templates: Some(folder.path().to_path_buf()),
            simplebody: Some("inline {{kind}}".into()),
            ..CommonConfig::default()
        };
        let templates = Templates::new(PLAIN, &common).unwrap();
        let message = templates
            .simple(simple_data(Notice::Available(&sample_candidate())))
            .unwrap();
        assert_eq!(message.title, "folder web");
        assert_eq!(message.body, "inline patch");
        let batch = templates
            .batch(batch_data("local", &[sample_candidate()], None))
            .unwrap();
        assert_eq!(batch.title, "1 updates");
    }

    #[test]
    fn a_missing_templates_folder_is_reported() {
        let common = CommonConfig {
            templates: Some("/nonexistent/tidewatch-templates".into()),
            ..CommonConfig::default()
        };
        let problems = Templates::new(PLAIN, &common).unwrap_err();
        assert!(problems.iter().all(|p| p.key == "templates"));
    }

    #[test]
    fn digest_updates_show_the_digests_since_the_tag_is_the_same() {
        let mut candidate = sample_candidate();
        candidate.kind = UpdateKind::Digest;
        candidate.target = candidate.current.clone();
        let data = update_data(&candidate);
        assert_eq!(data["from"], format!("1.25.3@sha256:{}", "2".repeat(12)));
        assert_eq!(data["to"], format!("1.25.3@sha256:{}", "3".repeat(12)));
        assert_eq!(data["kind"], "digest");
    }

    #[test]
    fn every_shipped_template_renders_the_samples() {
        for defaults in [
            super::super::smtp::TEMPLATES,
            super::super::slack::TEMPLATES,
            super::super::teams::TEMPLATES,
            super::super::http::TEMPLATES,
        ] {
            let templates = Templates::new(defaults, &CommonConfig::default()).unwrap();
            let simple = templates
                .simple(simple_data(Notice::Available(&sample_candidate())))
                .unwrap();
            assert!(simple.title.contains("web"), "{simple:?}");
            assert!(simple.body.contains("1.25.4"), "{simple:?}");
            let batch = templates
                .batch(batch_data("local", &[sample_candidate()], None))
                .unwrap();
            assert!(batch.body.contains("web"), "{batch:?}");
        }
    }
}
