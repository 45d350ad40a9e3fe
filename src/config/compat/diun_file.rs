//! Diun's YAML file (`diun.yml`), read as the `DIUN_*` variables it stands for: Diun itself
//! says every key of the file "can be transposed into environment variables" (`notif.mail.host`
//! is `DIUN_NOTIF_MAIL_HOST`), so the file is flattened into those names and goes through the
//! one mapping of [`super::diun`]. Each variable keeps the file key it came from, so errors and
//! `tidewatch config` name the key a user wrote, never a variable they did not set.
//!
//! The flattening, as Diun's: a key's segments upper-cased and joined by `_`; a list of plain
//! values joined (by `,`, or `;` for the tag expressions, as the labels write them); a list of
//! tables (`regopts`) numbered (`DIUN_REGOPTS_0_NAME`); a table of headers or metadata one
//! variable per entry. A provider given with no options (`providers: {docker: {}}`) is
//! `DIUN_PROVIDERS_DOCKER=true`, as Diun enables it.

use super::Setting;
use crate::config::error::ConfigError;
use saphyr_parser::{Event, Parser};
use std::collections::HashMap;
use std::path::Path;

/// Bound on nesting: Diun's deepest key (`notif.webhook.headers.<name>`, `regopts[0].name`) is
/// four levels; anything far deeper is not a Diun file, and must not exhaust the stack.
const MAX_DEPTH: usize = 16;

/// One value of the file, as the variable it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileVar {
    /// `DIUN_NOTIF_MAIL_HOST`.
    pub name: String,
    /// `notif.mail.host`, as written in the file (`regopts[0].name` in a list).
    pub key: String,
    pub value: String,
}

/// A node of the file, enough of YAML for a configuration.
#[derive(Debug, Clone)]
enum Node {
    Null,
    Scalar(String),
    Map(Vec<(String, Node)>),
    Seq(Vec<Node>),
}

/// Whether `path` names a YAML file, which tidewatch reads as Diun's (its own file is TOML).
pub fn is_yaml(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yml") || e.eq_ignore_ascii_case("yaml"))
}

/// Where Diun looks for its file when none is named, in its order: `/etc/diun/`,
/// `$XDG_CONFIG_HOME/`, `$HOME/.config/`, the working directory; `diun.yaml`, then `diun.yml`.
/// Diun's documented compose file mounts `./diun.yml:/diun.yml` and names nothing, so a switched
/// setup finds it here as Diun did (the image's working directory is `/`).
pub fn default_path(vars: &[(String, String)]) -> Option<std::path::PathBuf> {
    let var = |name: &str| {
        vars.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let mut folders = vec![std::path::PathBuf::from("/etc/diun")];
    if let Some(xdg) = var("XDG_CONFIG_HOME") {
        folders.push(xdg.into());
    }
    if let Some(home) = var("HOME") {
        folders.push(Path::new(home).join(".config"));
    }
    folders.push(".".into());
    folders
        .into_iter()
        .flat_map(|folder| ["diun.yaml", "diun.yml"].map(|name| folder.join(name)))
        .find(|path| path.is_file())
}

/// Reads and flattens the file at `path`, bounded as every file a user names.
pub fn read(path: &Path) -> Result<Vec<FileVar>, ConfigError> {
    let origin = path.display().to_string();
    let text = crate::config::file::read_to_string(path, crate::config::file::FILE_LIMIT)
        .map_err(|err| ConfigError::new("--config, TIDEWATCH_CONFIG or CONFIG", err.to_string()))?;
    flatten_text(&text).map_err(|message| ConfigError::new(origin, message))
}

/// The variables a file's text stands for, or what is wrong with it (never quoting a value).
pub fn flatten_text(text: &str) -> Result<Vec<FileVar>, String> {
    let mut out = Vec::new();
    match parse(text)? {
        Node::Null => {}
        Node::Map(entries) => {
            for (key, node) in entries {
                let name = format!("DIUN_{}", segment(&key));
                flatten(&name, &key, &[key.as_str()], node, &mut out)?;
            }
        }
        _ => return Err("expected Diun's settings (a mapping such as `watch:`) at the top".into()),
    }
    Ok(out)
}

/// A key as a variable's segment: `watchByDefault` → `WATCHBYDEFAULT`.
fn segment(key: &str) -> String {
    key.trim().to_ascii_uppercase()
}

fn flatten(
    name: &str,
    key: &str,
    path: &[&str],
    node: Node,
    out: &mut Vec<FileVar>,
) -> Result<(), String> {
    let mut push = |value: String| {
        out.push(FileVar {
            name: name.to_string(),
            key: key.to_string(),
            value,
        })
    };
    let provider = path.len() == 2 && path[0].eq_ignore_ascii_case("providers");
    match node {
        Node::Scalar(value) => push(value),
        Node::Null if provider => push("true".into()),
        Node::Null => {}
        Node::Map(entries) if entries.is_empty() && provider => push("true".into()),
        Node::Map(entries) => {
            for (child, node) in entries {
                let mut deeper = path.to_vec();
                deeper.push(&child);
                flatten(
                    &format!("{name}_{}", segment(&child)),
                    &format!("{key}.{child}"),
                    &deeper,
                    node,
                    out,
                )?;
            }
        }
        Node::Seq(items)
            if items
                .iter()
                .all(|i| matches!(i, Node::Scalar(_) | Node::Null)) =>
        {
            let last = path
                .last()
                .copied()
                .unwrap_or_default()
                .to_ascii_lowercase();
            // Tag expressions may hold commas (`\d{1,3}`); the labels' `;` is Diun's list.
            let separator = match last.as_str() {
                "includetags" | "excludetags" => ";",
                _ => ",",
            };
            let values: Vec<String> = items
                .into_iter()
                .filter_map(|i| match i {
                    Node::Scalar(v) => Some(v),
                    _ => None,
                })
                .collect();
            push(values.join(separator));
        }
        Node::Seq(items) => {
            for (i, node) in items.into_iter().enumerate() {
                let index = i.to_string();
                let mut deeper = path.to_vec();
                deeper.push(&index);
                flatten(
                    &format!("{name}_{i}"),
                    &format!("{key}[{i}]"),
                    &deeper,
                    node,
                    out,
                )?;
            }
        }
    }
    Ok(())
}

/// An open collection while its events arrive.
enum Open {
    Map {
        entries: Vec<(String, Node)>,
        key: Option<String>,
        anchor: usize,
    },
    Seq {
        items: Vec<Node>,
        anchor: usize,
    },
}

/// Builds the file's one document from saphyr-parser's events (the parser compose uses).
fn parse(text: &str) -> Result<Node, String> {
    let mut parser = Parser::new_from_str(text);
    let mut open: Vec<Open> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut root: Option<Node> = None;
    let mut documents = 0usize;
    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|err| format!("not valid YAML: {err}"))?;
        let line = span.start.line();
        let node = match event {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {
                continue;
            }
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err("the file holds several YAML documents (`---`)".into());
                }
                continue;
            }
            Event::MappingStart(anchor, _) => {
                if open.len() >= MAX_DEPTH {
                    return Err(format!(
                        "nested deeper than {MAX_DEPTH} levels (line {line})"
                    ));
                }
                open.push(Open::Map {
                    entries: Vec::new(),
                    key: None,
                    anchor,
                });
                continue;
            }
            Event::SequenceStart(anchor, _) => {
                if open.len() >= MAX_DEPTH {
                    return Err(format!(
                        "nested deeper than {MAX_DEPTH} levels (line {line})"
                    ));
                }
                open.push(Open::Seq {
                    items: Vec::new(),
                    anchor,
                });
                continue;
            }
            Event::MappingEnd | Event::SequenceEnd => {
                let (node, anchor) = match open.pop() {
                    Some(Open::Map {
                        entries, anchor, ..
                    }) => (Node::Map(entries), anchor),
                    Some(Open::Seq { items, anchor }) => (Node::Seq(items), anchor),
                    None => return Err("unbalanced YAML".into()),
                };
                if anchor != 0 {
                    anchors.insert(anchor, node.clone());
                }
                node
            }
            Event::Scalar(value, style, anchor, _) => {
                let plain = matches!(style, saphyr_parser::ScalarStyle::Plain);
                let node = if plain && matches!(value.as_ref(), "" | "~" | "null" | "Null" | "NULL")
                {
                    Node::Null
                } else {
                    Node::Scalar(value.into_owned())
                };
                if anchor != 0 {
                    anchors.insert(anchor, node.clone());
                }
                node
            }
            Event::Alias(anchor) => anchors
                .get(&anchor)
                .cloned()
                .ok_or_else(|| format!("an alias names no anchor (line {line})"))?,
        };
        match open.last_mut() {
            None => root = Some(node),
            Some(Open::Seq { items, .. }) => items.push(node),
            Some(Open::Map { entries, key, .. }) => match key.take() {
                None => match node {
                    Node::Scalar(k) => {
                        if entries.iter().any(|(e, _)| e.eq_ignore_ascii_case(&k)) {
                            return Err(format!("key `{k}` is given twice (line {line})"));
                        }
                        *key = Some(k);
                    }
                    _ => return Err(format!("a key is not a plain name (line {line})")),
                },
                Some(k) => entries.push((k, node)),
            },
        }
    }
    Ok(root.unwrap_or(Node::Null))
}

/// The settings of a Diun setup: its file's (when `file` is one) and its `DIUN_*` variables'.
/// A variable wins over the same key of the file, as in Diun; what came from the file is named
/// by its key (`diun.yml: key notif.mail.host`) in the settings, the errors and the warnings.
pub fn map(
    file: Option<&Path>,
    vars: &[(String, String)],
    errors: &mut Vec<ConfigError>,
    warnings: &mut Vec<String>,
) -> Vec<Setting> {
    let Some(file) = file else {
        return super::diun::map(vars, errors, warnings);
    };
    let entries = match read(file) {
        Ok(entries) => entries,
        Err(err) => {
            errors.push(err);
            return super::diun::map(vars, errors, warnings);
        }
    };
    let shown = |key: &str| format!("{}: key {key}", file.display());
    let mut from_file: HashMap<String, String> = HashMap::new();
    let mut combined: Vec<(String, String)> = Vec::new();
    for entry in entries {
        if vars.iter().any(|(n, _)| *n == entry.name) {
            continue;
        }
        from_file.insert(entry.name.clone(), shown(&entry.key));
        combined.push((entry.name, entry.value));
    }
    combined.extend(vars.iter().cloned());
    let mut own_errors = Vec::new();
    let mut own_warnings = Vec::new();
    let mut settings = super::diun::map(&combined, &mut own_errors, &mut own_warnings);
    let rename = |origin: &str| -> Option<String> {
        if let Some(key) = from_file.get(origin) {
            return Some(key.clone());
        }
        // The headers are one setting made of every `HEADERS_<NAME>`.
        let prefix = origin.strip_suffix('*')?;
        from_file
            .keys()
            .any(|n| n.starts_with(prefix))
            .then(|| shown("notif.webhook.headers"))
    };
    for setting in &mut settings {
        if let Some(origin) = rename(&setting.origin) {
            setting.origin = origin;
        }
    }
    // A variable named in a message (`required with DIUN_NOTIF_MAIL_HOST`) said as its key.
    let keyed = |message: &str| {
        let mut message = message.to_string();
        for name in from_file.keys() {
            message = message.replace(name.as_str(), &key_of(name));
        }
        message
    };
    for mut error in own_errors {
        let set_in_env = vars.iter().any(|(n, _)| *n == error.origin);
        if !set_in_env
            && !from_file.contains_key(&error.origin)
            && error.origin.starts_with("DIUN_")
            && keyed(&error.message) != error.message
        {
            // A key the file lacks, required by one it has.
            error.message = keyed(&error.message);
            error.origin = shown(&key_of(&error.origin));
        } else if let Some(origin) = from_file.get(&error.origin) {
            if error.message.starts_with("not a Diun setting") {
                error.message = match error.message.split_once("did you mean `") {
                    Some((_, close)) => format!(
                        "unknown key, did you mean `{}`?",
                        key_of(close.trim_end_matches(['`', '?']))
                    ),
                    None => "unknown key: not a Diun setting this version reads".into(),
                };
            } else {
                error.message = keyed(&error.message);
            }
            error.origin = origin.clone();
        }
        errors.push(error);
    }
    for warning in own_warnings {
        let renamed = warning
            .split_once(':')
            .and_then(|(name, rest)| from_file.get(name).map(|o| format!("{o}:{rest}")));
        warnings.push(renamed.unwrap_or(warning));
    }
    settings
}

/// Diun's camelCase spelling of a variable's last segments, for a did-you-mean that points at
/// the key to write in the file (`DIUN_WATCH_FIRSTCHECKNOTIF` → `watch.firstCheckNotif`).
pub fn key_of(var: &str) -> String {
    const CAMEL: &[&str] = &[
        "firstCheckNotif",
        "runOnStartup",
        "compareDigest",
        "watchByDefault",
        "watchStopped",
        "tlsCertsPath",
        "tlsVerify",
        "apiVersion",
        "insecureSkipVerify",
        "localName",
        "usernameFile",
        "passwordFile",
        "templateTitle",
        "templateBody",
        "webhookURL",
        "webhookURLFile",
        "renderFields",
        "renderFacts",
        "renderEmbeds",
        "cardType",
        "chatIDs",
        "chatIDsFile",
        "tokenFile",
        "disableNotification",
        "watchRepo",
        "notifyOn",
        "maxTags",
        "sortTags",
        "includeTags",
        "excludeTags",
        "apiURL",
        "tlsSkipVerify",
        "tlsCaCertFiles",
        "homeserverURL",
        "roomID",
        "msgType",
        "recipientFile",
        "insecureTLS",
    ];
    let mut key = String::new();
    for s in var.trim_start_matches("DIUN_").split('_') {
        // A list's index, as the file writes it: `regopts[0].name`.
        if !key.is_empty() && !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            key.push_str(&format!("[{s}]"));
            continue;
        }
        if !key.is_empty() {
            key.push('.');
        }
        match CAMEL.iter().find(|c| c.eq_ignore_ascii_case(s)) {
            Some(c) => key.push_str(c),
            None => key.push_str(&s.to_ascii_lowercase()),
        }
    }
    key
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    fn vars(text: &str) -> Vec<(String, String, String)> {
        flatten_text(text)
            .unwrap()
            .into_iter()
            .map(|v| (v.name, v.key, v.value))
            .collect()
    }

    #[test]
    fn keys_become_diuns_variables_with_the_key_they_came_from() {
        let got = vars(
            r#"
watch:
  schedule: "0 */6 * * *"
  firstCheckNotif: false
notif:
  telegram:
    chatIDs:
      - 123456789
      - "-100123:7"
  webhook:
    headers:
      content-type: application/json
defaults:
  includeTags:
    - ^\d{1,3}\.\d+$
    - latest
regopts:
  - name: docker.io
    username: foo
providers:
  docker: {}
  swarm:
"#,
        );
        let want = [
            ("DIUN_WATCH_SCHEDULE", "watch.schedule", "0 */6 * * *"),
            (
                "DIUN_WATCH_FIRSTCHECKNOTIF",
                "watch.firstCheckNotif",
                "false",
            ),
            (
                "DIUN_NOTIF_TELEGRAM_CHATIDS",
                "notif.telegram.chatIDs",
                "123456789,-100123:7",
            ),
            (
                "DIUN_NOTIF_WEBHOOK_HEADERS_CONTENT-TYPE",
                "notif.webhook.headers.content-type",
                "application/json",
            ),
            (
                "DIUN_DEFAULTS_INCLUDETAGS",
                "defaults.includeTags",
                r"^\d{1,3}\.\d+$;latest",
            ),
            ("DIUN_REGOPTS_0_NAME", "regopts[0].name", "docker.io"),
            ("DIUN_REGOPTS_0_USERNAME", "regopts[0].username", "foo"),
            ("DIUN_PROVIDERS_DOCKER", "providers.docker", "true"),
            ("DIUN_PROVIDERS_SWARM", "providers.swarm", "true"),
        ];
        let want: Vec<(String, String, String)> = want
            .iter()
            .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn anchors_empty_files_and_broken_ones() {
        assert!(vars("# nothing yet\n").is_empty());
        let got = vars("x: &mail\n  host: smtp\nnotif:\n  mail: *mail\n");
        assert_eq!(got[1].0, "DIUN_NOTIF_MAIL_HOST");
        let err = flatten_text("watch:\n  schedule: a\n  schedule: b\n").unwrap_err();
        assert!(err.contains("given twice"), "{err}");
        let err = flatten_text("watch: [unclosed\n").unwrap_err();
        assert!(err.starts_with("not valid YAML"), "{err}");
        assert!(!err.contains("unclosed"), "{err}");
        let err = flatten_text("- a\n- b\n").unwrap_err();
        assert!(err.contains("at the top"), "{err}");
        let deep = "a:\n".to_string()
            + &(1..40)
                .map(|i| format!("{}b{i}:\n", " ".repeat(i * 2)))
                .collect::<String>();
        assert!(flatten_text(&deep).unwrap_err().contains("nested deeper"));
    }

    /// Loads `yaml` as `--config diun.yml` with `env`: every `key = value  # origin` line of
    /// `tidewatch config` (the file's path shown as `diun.yml`) and the warnings, or the errors.
    fn load(yaml: &str, env: &[(&str, &str)]) -> Result<(Vec<String>, Vec<String>), Vec<String>> {
        load_setup(Some(yaml), env)
    }

    /// [`load`] of a Diun setup with a diun.yml (`yaml`) or without one (`None`).
    pub(in crate::config::compat) fn load_setup(
        yaml: Option<&str>,
        env: &[(&str, &str)],
    ) -> Result<(Vec<String>, Vec<String>), Vec<String>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("diun.yml");
        if let Some(yaml) = yaml {
            std::fs::write(&path, yaml).unwrap();
        }
        let shown = path.display().to_string();
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        match crate::config::load(yaml.map(|_| path.as_path()), env) {
            Ok(loaded) => Ok((
                loaded
                    .entries()
                    .into_iter()
                    .map(|(k, v, o)| format!("{k} = {v}  # {o}").replace(&shown, "diun.yml"))
                    .collect(),
                loaded
                    .warnings
                    .iter()
                    .map(|w| w.replace(&shown, "diun.yml"))
                    .collect(),
            )),
            Err(errors) => Err(errors
                .0
                .iter()
                .map(|e| e.to_string().replace(&shown, "diun.yml"))
                .collect()),
        }
    }

    /// Diun's documented file (docs/config/index.md), cut to what a Docker host uses.
    const DOCUMENTED: &str = r#"
db:
  path: diun.db

watch:
  workers: 10
  schedule: "0 */6 * * *"
  jitter: 30s
  firstCheckNotif: false
  runOnStartup: true

defaults:
  watchRepo: true
  notifyOn:
    - new
  maxTags: 10
  sortTags: reverse
  includeTags:
    - ^\d+\.\d+\.\d+$

notif:
  mail:
    host: localhost
    port: 25
    ssl: false
    insecureSkipVerify: false
    password: mailS3CRET
    from: diun@example.com
    to:
      - webmaster@example.com
      - me@example.com
  telegram:
    token: aabbccdd:tgS3CRET
    chatIDs:
      - 123456789
      - 987654321
  webhook:
    endpoint: http://webhook.foo.com/sd54qad89azd5a
    method: GET
    headers:
      content-type: application/json
      authorization: hookS3CRET
    timeout: 10s

regopts:
  - name: "docker.io"
    selector: image
    username: foo
    password: regS3CRET

providers:
  docker:
    watchByDefault: true
    watchStopped: true
"#;

    #[test]
    fn diuns_documented_file_maps_as_its_variables_and_names_its_keys() {
        let (lines, warnings) = load(DOCUMENTED, &[]).unwrap();
        let all = lines.join("\n");
        assert!(!all.contains("S3CRET"), "{all}");
        assert!(!warnings.join("").contains("S3CRET"), "{warnings:?}");
        for (needle, key) in [
            ("watcher.local.cron = \"0 */6 * * *\"", "watch.schedule"),
            ("watcher.local.jitter = 30000", "watch.jitter"),
            (
                "watcher.local.watchbydefault = true",
                "providers.docker.watchByDefault",
            ),
            (
                "watcher.local.watchall = true",
                "providers.docker.watchStopped",
            ),
            ("watcher.local.diun.watchrepo = true", "defaults.watchRepo"),
            ("watcher.local.diun.notifyon = \"new\"", "defaults.notifyOn"),
            ("watcher.local.diun.maxtags = 10", "defaults.maxTags"),
            (
                r#"watcher.local.tag.include = "^\\d+\\.\\d+\\.\\d+$""#,
                "defaults.includeTags",
            ),
            ("trigger.smtp.diun.host = \"localhost\"", "notif.mail.host"),
            ("trigger.smtp.diun.pass = \"***\"", "notif.mail.password"),
            (
                "trigger.smtp.diun.to = \"webmaster@example.com,me@example.com\"",
                "notif.mail.to",
            ),
            (
                "trigger.telegram.diun1.bottoken = \"***\"",
                "notif.telegram.token",
            ),
            (
                "trigger.telegram.diun2.chatid = \"987654321\"",
                "notif.telegram.chatIDs",
            ),
            ("trigger.http.diun.timeout = 10", "notif.webhook.timeout"),
            ("registry.hub.diun0.login = \"foo\"", "regopts[0].username"),
            (
                "registry.hub.diun0.password = \"***\"",
                "regopts[0].password",
            ),
            (
                "trigger.http.diun.contenttype = \"application/json\"",
                "notif.webhook.headers.content-type",
            ),
        ] {
            let found: Vec<&String> = lines.iter().filter(|l| l.starts_with(needle)).collect();
            assert_eq!(found.len(), 1, "{needle}: {all}");
            assert!(
                found[0].ends_with(&format!("  # diun.yml: key {key}")),
                "{needle}: {all}"
            );
        }
        assert!(!all.contains("trigger.docker"), "Diun only notifies: {all}");
        // Settings with no meaning here are warned about by their file key.
        for key in [
            "db.path",
            "watch.workers",
            "watch.firstCheckNotif",
            "defaults.sortTags",
        ] {
            assert!(
                warnings
                    .iter()
                    .any(|w| w.starts_with(&format!("diun.yml: key {key}: ignored"))),
                "{key}: {warnings:?}"
            );
        }
    }

    #[test]
    fn diuns_pushover_and_matrix_notifiers_map_to_tidewatchs() {
        let (lines, _) = load(
            "notif:\n  pushover:\n    token: poS3CRET\n    recipient: uS3CRET\n    priority: 2\n    sound: siren\n  matrix:\n    homeserverURL: https://matrix.lan\n    user: \"@diun:matrix.lan\"\n    password: mxS3CRET\n    roomID: \"!abc:matrix.lan\"\n    msgType: notice\n",
            &[],
        )
        .unwrap();
        for expected in [
            "trigger.pushover.diun.token = \"***\"  # diun.yml: key notif.pushover.token",
            "trigger.pushover.diun.user = \"***\"  # diun.yml: key notif.pushover.recipient",
            "trigger.pushover.diun.priority = 1  # diun.yml: key notif.pushover.priority",
            "trigger.matrix.diun.url = \"https://matrix.lan\"  # diun.yml: key notif.matrix.homeserverURL",
            "trigger.matrix.diun.rooms = \"!abc:matrix.lan\"  # diun.yml: key notif.matrix.roomID",
            "trigger.matrix.diun.password = \"***\"  # diun.yml: key notif.matrix.password",
        ] {
            assert!(
                lines
                    .iter()
                    .any(|l| l.split_whitespace().collect::<Vec<_>>()
                        == expected.split_whitespace().collect::<Vec<_>>()),
                "{expected}: {lines:#?}"
            );
        }
        assert!(!lines.iter().any(|l| l.contains("S3CRET")));
        let errors = load("notif:\n  matrix:\n    roomID: \"!abc:lan\"\n", &[]).unwrap_err();
        assert!(
            errors.iter().any(|e| e.contains("notif.matrix.user")),
            "{errors:?}"
        );
    }

    #[test]
    fn diuns_variables_override_its_file() {
        let (lines, _) = load(
            "watch:\n  schedule: \"0 */6 * * *\"\n",
            &[("DIUN_WATCH_SCHEDULE", "*/5 * * * *")],
        )
        .unwrap();
        let cron: Vec<&String> = lines.iter().filter(|l| l.contains(".cron =")).collect();
        assert_eq!(
            cron,
            ["watcher.local.cron = \"*/5 * * * *\"  # DIUN_WATCH_SCHEDULE"]
        );
        // A Diun setup follows each container's own tag only, as Diun does by default.
        assert!(
            lines.contains(
                &"watcher.local.diun.watchrepo = false  # DIUN_DEFAULTS_WATCHREPO (Diun's default)"
                    .to_string()
            ),
            "{lines:#?}"
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_name_their_file_key_and_never_the_value() {
        let errors = load(
            r#"
watch:
  schedul: "0 * * * *"
providers:
  docker:
    watchByDefault: maybeS3CRET
defaults:
  maxTags: lotsS3CRET
  notifyOn: [new, sometimesS3CRET]
notif:
  mail:
    host: localhost
    to: ops@lan
    pasword: S3CRET
"#,
            &[],
        )
        .unwrap_err();
        assert_eq!(
            errors,
            [
                "diun.yml: key watch.schedul: unknown key, did you mean `watch.schedule`?",
                "diun.yml: key providers.docker.watchByDefault: expected true or false",
                "diun.yml: key defaults.maxTags: expected a whole number, 0 or more",
                "diun.yml: key defaults.notifyOn: expected new, update, or both (`new;update`)",
                "diun.yml: key notif.mail.pasword: unknown key, did you mean `notif.mail.password`?",
                "diun.yml: key notif.mail.from: required with notif.mail.host",
            ]
        );
        let errors = load("watch: [broken\n", &[]).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("diun.yml: not valid YAML"),
            "{errors:?}"
        );
    }

    #[test]
    fn diuns_file_is_found_where_diun_looks_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let xdg = dir.path().join("xdg");
        std::fs::create_dir_all(home.join(".config")).unwrap();
        std::fs::create_dir_all(&xdg).unwrap();
        let vars = |pairs: &[(&str, &std::path::Path)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.display().to_string()))
                .collect()
        };
        let both = vars(&[("HOME", &home), ("XDG_CONFIG_HOME", &xdg)]);
        assert_eq!(default_path(&both), None);
        std::fs::write(home.join(".config/diun.yml"), "watch: {}\n").unwrap();
        assert_eq!(default_path(&both), Some(home.join(".config/diun.yml")));
        std::fs::write(xdg.join("diun.yaml"), "watch: {}\n").unwrap();
        assert_eq!(default_path(&both), Some(xdg.join("diun.yaml")));
    }

    #[test]
    fn a_variable_names_its_file_key_in_diuns_spelling() {
        assert_eq!(
            key_of("DIUN_PROVIDERS_DOCKER_WATCHBYDEFAULT"),
            "providers.docker.watchByDefault"
        );
        assert_eq!(key_of("DIUN_NOTIF_MAIL_HOST"), "notif.mail.host");
        assert_eq!(
            key_of("DIUN_REGOPTS_1_INSECURETLS"),
            "regopts[1].insecureTLS"
        );
    }
}
