//! Message templates (handlebars) and the values they are rendered from.
//!
//! Each kind ships four defaults in `triggers/<kind>/` (compiled in, so the binary needs no
//! files); a trigger replaces any of them inline (`SIMPLETITLE`, `SIMPLEBODY`, `BATCHTITLE`,
//! `BATCHBODY`) or from a `templates` folder. Strict mode: a misspelt field is an error, and
//! every template is rendered once against sample values when the trigger is built, so the
//! error shows at start-up rather than at 3 a.m. when the first update is found. No HTML
//! escaping: the channels are text or markdown, and each kind escapes what its format needs.

use crate::config::CommonConfig;
use crate::model::finding::{ListedContainer, Status};
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
    /// The batch body is the user's, not the kind's shipped one: with `when=updated`, a session
    /// with nothing to tell is still rendered through it, and sent if it says something
    /// (Watchtower's templates decide for themselves whether an empty session is worth a word).
    custom_batch_body: bool,
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
        let mut custom_batch_body = false;
        for (((name, option, file), shipped), inline) in SLOTS.into_iter().zip(shipped).zip(inline)
        {
            let custom = &mut custom_batch_body;
            let mut mark = || *custom |= name == "batch-body";
            let (source, key) = match (inline, &common.templates) {
                (Some(text), _) => {
                    mark();
                    (text.clone(), option.to_string())
                }
                (None, Some(folder)) => match read_override(folder, file) {
                    Ok(Some(text)) => {
                        mark();
                        (text, "templates".to_string())
                    }
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
            Ok(Templates {
                registry,
                custom_batch_body,
            })
        } else {
            Err(problems)
        }
    }

    /// Renders title and body for one notice (simple mode, and every applied/failed update).
    pub fn simple(&self, data: Value) -> Result<super::Message, String> {
        self.render("simple-title", "simple-body", data)
    }

    /// Whether the batch body is the user's own rather than the kind's shipped one.
    pub fn custom_batch_body(&self) -> bool {
        self.custom_batch_body
    }

    /// Renders title and body for a cycle's updates.
    pub fn batch(&self, data: Value) -> Result<super::Message, String> {
        self.render("batch-title", "batch-body", data)
    }

    fn render(&self, title: &str, body: &str, data: Value) -> Result<super::Message, String> {
        let title = self
            .registry
            .render(title, &data)
            .map_err(|err| reason(&err))?;
        let body = self
            .registry
            .render(body, &data)
            .map_err(|err| reason(&err))?;
        Ok(super::Message {
            title: title.trim().to_string(),
            body: body.trim_end().to_string(),
            data,
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

/// What became of one update by the time its message is sent, in Watchtower's words (the
/// `.State` of its report).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Found, and nothing acts on it (monitor-only, or told as soon as found).
    Stale,
    /// Re-created on the new image; the health gate passed.
    Updated,
    /// Not updated: the update failed, or was rolled back.
    Failed,
    /// Left alone on purpose (a pre-update hook's exit 75).
    Skipped,
}

impl State {
    pub fn word(self) -> &'static str {
        match self {
            State::Stale => "Stale",
            State::Updated => "Updated",
            State::Failed => "Failed",
            State::Skipped => "Skipped",
        }
    }
}

/// One update of a message: the candidate, what became of it, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub candidate: UpdateCandidate,
    pub state: State,
    /// Why it failed, was rolled back or skipped.
    pub reason: Option<String>,
    /// Failed because the new container did not pass the health gate; the old one is back.
    pub rolled_back: bool,
}

impl Entry {
    pub fn new(candidate: UpdateCandidate, state: State) -> Entry {
        Entry {
            candidate,
            state,
            reason: None,
            rolled_back: false,
        }
    }
}

/// The values of one entry: the update's, with its `state`, a one-line `message`, the
/// `error` (empty unless it failed or was skipped) and a log `level`, which is what a
/// Watchtower template reads of a container or a log entry.
pub fn entry_data(entry: &Entry) -> Value {
    let c = &entry.candidate;
    let mut data = update_data(c);
    let (image, to) = (&c.container.image, data["to"].as_str().unwrap_or_default());
    let (from, name) = (data["from"].as_str().unwrap_or_default(), &c.container.name);
    let reason = entry.reason.as_deref().unwrap_or_default();
    let message = match entry.state {
        State::Stale => format!("Found new {image} image ({to}) for {name}"),
        State::Updated => format!("Updated {name} ({image}): {from} updated to {to}"),
        State::Failed if entry.rolled_back => {
            format!("Rolled back {name} ({image}): {to} failed: {reason}")
        }
        State::Failed => format!("Could not update {name} ({image}) to {to}: {reason}"),
        State::Skipped => format!("Skipped {name} ({image}): {reason}"),
    };
    let level = match entry.state {
        State::Failed => "error",
        State::Skipped => "warning",
        _ => "info",
    };
    let error = match entry.state {
        State::Failed | State::Skipped => reason,
        _ => "",
    };
    if let Value::Object(map) = &mut data {
        map.insert("state".into(), json!(entry.state.word()));
        map.insert("message".into(), json!(message));
        map.insert("error".into(), json!(error));
        map.insert("level".into(), json!(level));
        map.insert("rolled_back".into(), json!(entry.rolled_back));
    }
    data
}

/// A container a check listed with no update to tell (Watchtower's `Fresh`), or whose check
/// failed (its `Skipped`), with the keys of [`entry_data`] so one template reads both.
fn listed_data(l: &ListedContainer, state: &str) -> Value {
    let reference = l
        .reference
        .as_deref()
        .and_then(|r| crate::model::ImageRef::parse(r).ok());
    let tag = reference
        .as_ref()
        .and_then(|r| r.tag.clone())
        .unwrap_or_else(|| "latest".into());
    let error = l.reason.clone().unwrap_or_default();
    let message = match state {
        "Fresh" => format!("{} ({}) is up to date", l.name, l.image),
        _ => format!("Skipped {} ({}): {error}", l.name, l.image),
    };
    json!({
        "name": l.name,
        "display_name": l.display_name.clone().unwrap_or_else(|| l.name.clone()),
        "watcher": l.watcher,
        "id": l.id,
        "image": l.image,
        "registry": reference.as_ref().map(|r| r.registry.clone()),
        "repository": reference.as_ref().map(|r| r.repository.clone()),
        "kind": null,
        "current_tag": tag,
        "new_tag": tag,
        "current_digest": null,
        "new_digest": null,
        "new_image": l.image,
        "from": tag,
        "to": tag,
        "link": null,
        "state": state,
        "message": message,
        "error": error,
        "level": if state == "Fresh" { "info" } else { "warning" },
        "rolled_back": false,
        "reason": l.reason,
    })
}

/// The values of a simple message. It also carries the fields of a batch message about its
/// one update (`count`, `updates`, `updated`, `failed`, …), so one template (Watchtower's,
/// split by container) reads either.
pub fn simple_data(notice: Notice<'_>) -> Value {
    let (event, verb, reason) = match notice {
        Notice::Available(_) => ("update-available", "Update available", None),
        Notice::Applied(_) => ("update-applied", "Updated", None),
        Notice::Failed(_, r) => ("update-failed", "Update failed", Some(r)),
        Notice::RolledBack(_, r) => ("rolled-back", "Update rolled back", Some(r)),
        Notice::RolledBackByUser(_, r) => ("rollback-applied", "Rolled back", Some(r)),
    };
    let candidate = notice.candidate();
    let entry = Entry {
        candidate: candidate.clone(),
        state: match notice {
            Notice::Available(_) => State::Stale,
            Notice::Applied(_) | Notice::RolledBackByUser(..) => State::Updated,
            Notice::Failed(..) | Notice::RolledBack(..) => State::Failed,
        },
        reason: reason.map(str::to_string),
        rolled_back: matches!(notice, Notice::RolledBack(..)),
    };
    let mut data = session_data(
        &candidate.container.watcher,
        std::slice::from_ref(&entry),
        &[],
        None,
    );
    if let (Value::Object(map), Value::Object(update)) = (&mut data, update_data(candidate)) {
        map.extend(update);
        map.insert("event".into(), json!(event));
        map.insert("verb".into(), json!(verb));
        map.insert("reason".into(), json!(reason));
    }
    data
}

/// The values of a batch message: the updates of one watcher's cycle, with its counts.
pub fn batch_data(watcher: &str, updates: &[UpdateCandidate], report: Option<&Report>) -> Value {
    let entries: Vec<Entry> = updates
        .iter()
        .map(|c| Entry::new(c.clone(), State::Stale))
        .collect();
    session_data(watcher, &entries, &[], report)
}

/// The values of a batch message about a session: the entries of one watcher's cycle, the
/// containers its check listed (for Watchtower's `Fresh` and `Scanned`), and its counts.
/// `updates` is every entry; `updated`, `failed`, `skipped`, `stale` split them by state;
/// `fresh` and `scanned` come from the listing (`scanned`: every container checked, each
/// with its state).
pub fn session_data(
    watcher: &str,
    entries: &[Entry],
    listed: &[ListedContainer],
    report: Option<&Report>,
) -> Value {
    let report = report.cloned().unwrap_or_else(|| Report {
        watcher: watcher.to_string(),
        updates: entries.len(),
        ..Report::default()
    });
    let of = |state: State| -> Vec<Value> {
        entries
            .iter()
            .filter(|e| e.state == state)
            .map(entry_data)
            .collect()
    };
    let (updated, failed, skipped, stale) = (
        of(State::Updated),
        of(State::Failed),
        of(State::Skipped),
        of(State::Stale),
    );
    let entry_of = |name: &str| entries.iter().find(|e| e.candidate.container.name == name);
    let mut fresh = Vec::new();
    let mut check_skipped = Vec::new();
    let mut scanned = Vec::new();
    for l in listed {
        if entry_of(&l.name).is_some() {
            continue;
        }
        match l.status {
            Status::UpToDate | Status::Held => {
                let data = listed_data(l, "Fresh");
                fresh.push(data.clone());
                scanned.push(data);
            }
            Status::Failed => check_skipped.push(listed_data(l, "Skipped")),
            Status::Skipped | Status::UpdateAvailable => {}
        }
    }
    scanned.extend(entries.iter().map(entry_data));
    let skipped: Vec<Value> = skipped.into_iter().chain(check_skipped).collect();
    json!({
        "event": "batch",
        "watcher": watcher,
        "count": entries.len(),
        "updates": entries.iter().map(entry_data).collect::<Vec<_>>(),
        "counts": {
            "scanned": scanned.len(),
            "updated": updated.len(),
            "failed": failed.len(),
            "skipped": skipped.len(),
            "stale": stale.len(),
            "fresh": fresh.len(),
        },
        "updated": updated,
        "failed": failed,
        "skipped": skipped,
        "stale": stale,
        "fresh": fresh,
        "scanned": scanned,
        "report": {
            "scanned": report.scanned,
            "updates": report.updates,
            "up_to_date": report.up_to_date,
            "skipped": report.skipped,
            "failed": report.failed,
        },
        "host": crate::config::host::hostname(),
        "time": now(),
    })
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
    simple_data(Notice::Failed(&sample_candidate(), "sample reason"))
}

fn sample_batch() -> Value {
    batch_data("local", &[sample_candidate()], None)
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
        let batch = templates.batch(sample_batch()).unwrap();
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
            let batch = templates.batch(sample_batch()).unwrap();
            assert!(batch.body.contains("web"), "{batch:?}");
        }
    }
}
