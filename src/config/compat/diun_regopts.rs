//! Diun's registry options (`regopts:` in its file, `DIUN_REGOPTS_<KEY>_<FIELD>` as variables),
//! made into tidewatch's registry logins so a private registry, or a Docker Hub login against
//! its rate limit, keeps working after the switch.
//!
//! - `selector: image`: `name` is a registry (`docker.io`, `registry.lan:5000`), optionally
//!   with a path (`docker.io/crazymax`). It becomes a registry entry named `diun<KEY>`: the
//!   `hub` kind for Docker Hub's hosts, else `custom` with that host as `url`. tidewatch's
//!   registry logins are per host, so a path widens the login to the whole host (warned, by
//!   the variable), and two image regopts giving one host different logins are refused.
//! - `selector: name` (Diun's default): a named login, `registry.login.<name>`, which the
//!   containers labelled `diun.regopt=<name>` are checked with, whatever their registry. One
//!   without a username leaves those containers to the registry's own login, as in Diun.
//!
//! `username`/`password` or their `…File` variants (read as Diun reads them: the value when
//! set, else the file's content, trimmed); `insecureTLS` is the entry's `insecure`. `timeout`
//! has no per-registry equivalent (every registry request is bounded already): warned.

use super::Setting;
use crate::config::error::{ConfigError, did_you_mean};
use figment::value::{Dict, Value};
use std::collections::BTreeMap;

const PREFIX: &str = "DIUN_REGOPTS_";

/// The fields of one regopt, as Diun's variables spell them.
const FIELDS: &[&str] = &[
    "NAME",
    "SELECTOR",
    "USERNAME",
    "USERNAMEFILE",
    "PASSWORD",
    "PASSWORDFILE",
    "TIMEOUT",
    "INSECURETLS",
];

/// Docker Hub's hosts, as a regopt may name them: the `hub` kind.
const HUB_HOSTS: &[&str] = &["docker.io", "registry-1.docker.io", "index.docker.io"];

/// One regopt's fields: field → (variable, value).
type Fields = BTreeMap<&'static str, (String, String)>;

/// A value read from a field or from the file its `…FILE` field names: (origin, value).
type Read = Option<(String, String)>;

/// The settings Diun's regopts make; every `DIUN_REGOPTS_*` variable in `vars` is read here.
pub fn map(
    vars: &[&(String, String)],
    errors: &mut Vec<ConfigError>,
    warnings: &mut Vec<String>,
) -> Vec<Setting> {
    let mut regopts: BTreeMap<(u64, String), Fields> = BTreeMap::new();
    for (name, value) in vars {
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let Some((key, field)) = rest.split_once('_').filter(|(k, _)| !k.is_empty()) else {
            errors.push(ConfigError::new(
                name.as_str(),
                "expected DIUN_REGOPTS_<KEY>_<FIELD>, such as DIUN_REGOPTS_0_NAME",
            ));
            continue;
        };
        let Some(field) = FIELDS.iter().find(|f| **f == field) else {
            let candidates: Vec<String> = FIELDS
                .iter()
                .map(|f| format!("{PREFIX}{key}_{f}").to_ascii_lowercase())
                .collect();
            let candidates: Vec<&str> = candidates.iter().map(String::as_str).collect();
            let mut message = "not a Diun setting this version reads".to_string();
            if let Some(close) = did_you_mean(&name.to_ascii_lowercase(), &candidates) {
                message.push_str(&format!(", did you mean `{}`?", close.to_ascii_uppercase()));
            }
            errors.push(ConfigError::new(name.as_str(), message));
            continue;
        };
        // Diun's list order, which its selection follows: numbered keys by number.
        let order = key.parse::<u64>().unwrap_or(u64::MAX);
        regopts
            .entry((order, key.to_string()))
            .or_default()
            .insert(field, (name.to_string(), value.trim().to_string()));
    }
    let mut out = Vec::new();
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    // The login key of each name regopt → its NAME variable.
    let mut keys: BTreeMap<String, String> = BTreeMap::new();
    // Host → (the NAME variable of the regopt that set it, its login, its password).
    let mut hosts: BTreeMap<String, (String, Option<String>, Option<String>)> = BTreeMap::new();
    for ((_, key), fields) in regopts {
        let var = |field: &str| format!("{PREFIX}{key}_{field}");
        let Some((name_var, name)) = fields.get("NAME").filter(|(_, n)| !n.is_empty()) else {
            errors.push(ConfigError::new(
                var("NAME"),
                "required: the name of these registry options",
            ));
            continue;
        };
        if let Some(first) = names.insert(name.clone(), name_var.clone()) {
            errors.push(ConfigError::new(
                name_var.as_str(),
                format!("another regopt has this name ({first}): names are unique"),
            ));
            continue;
        }
        let image_selector = match fields.get("SELECTOR").map(|(_, s)| s.to_ascii_lowercase()) {
            None => false,
            Some(s) if s.is_empty() || s == "name" => false,
            Some(s) if s == "image" => true,
            Some(_) => {
                errors.push(ConfigError::new(var("SELECTOR"), "expected name or image"));
                continue;
            }
        };
        let username = read(&fields, "USERNAME", errors);
        let password = read(&fields, "PASSWORD", errors);
        let insecure = match fields.get("INSECURETLS") {
            None => false,
            Some((v, value)) => match value.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" | "" => false,
                _ => {
                    errors.push(ConfigError::new(v.as_str(), "expected true or false"));
                    continue;
                }
            },
        };
        if let Some((v, value)) = fields.get("TIMEOUT") {
            match super::watchtower::seconds(value) {
                Some(_) => warnings.push(format!(
                    "{v}: ignored, tidewatch bounds every registry request itself \
                     (30 s a try, 10 s to connect)"
                )),
                None => errors.push(ConfigError::new(
                    v.as_str(),
                    "expected a duration such as 30s",
                )),
            }
        }
        if username.is_none()
            && let Some((v, _)) = &password
        {
            warnings.push(format!(
                "{v}: ignored without a username, as in Diun (Docker's credentials apply)"
            ));
        }
        let password = password.filter(|_| username.is_some());
        if image_selector {
            let (host, path) = match name.split_once('/') {
                Some((host, path)) => (host, Some(path)),
                None => (name.as_str(), None),
            };
            let host = host.to_ascii_lowercase();
            let hub = HUB_HOSTS.contains(&host.as_str());
            if !hub && let Err(why) = crate::config::RegistryUrl::parse(&host) {
                errors.push(ConfigError::new(
                    name_var.as_str(),
                    format!("not a registry: {why}"),
                ));
                continue;
            }
            let host = if hub { "docker.io".to_string() } else { host };
            let login = username.as_ref().map(|(_, u)| u.clone());
            let secret = password.as_ref().map(|(_, p)| p.clone());
            if let Some((first, first_login, first_secret)) = hosts.get(&host) {
                if (first_login, first_secret) != (&login, &secret) {
                    errors.push(ConfigError::new(
                        name_var.as_str(),
                        format!(
                            "{first} already gives {host} another login, and tidewatch's \
                             registry logins are per host, not per repository: keep one, or \
                             pick the other for its containers with `selector: name` and \
                             their label diun.regopt"
                        ),
                    ));
                }
                // The same login twice: the first entry serves both.
                continue;
            }
            hosts.insert(host.clone(), (name_var.clone(), login, secret));
            if let Some(path) = path.filter(|p| !p.is_empty()) {
                warnings.push(format!(
                    "{name_var}: the login applies to every image on {host}, not only under \
                     `{path}`: tidewatch's registry logins are per host"
                ));
            }
            if username.is_none() && !insecure {
                // Nothing to change: Docker's credentials apply, as in Diun.
                continue;
            }
            let entry = format!("diun{}", key.to_ascii_lowercase());
            let kind = if hub { "hub" } else { "custom" };
            let path = |k: &'static str| ["registry", kind, entry.as_str(), k];
            if !hub {
                out.push(Setting::new(name_var.as_str(), &path("url"), host.as_str()));
            }
            if let Some((origin, user)) = username {
                out.push(Setting::new(origin, &path("login"), user));
            }
            if let Some((origin, pass)) = password {
                out.push(Setting::new(origin, &path("password"), pass));
            }
            if insecure {
                out.push(Setting::new(var("INSECURETLS"), &path("insecure"), true));
            }
        } else {
            if insecure {
                warnings.push(format!(
                    "{}: ignored on a `selector: name` regopt, tidewatch sets TLS per registry \
                     host (an image regopt naming the host, or registry.custom.<name>.insecure)",
                    var("INSECURETLS")
                ));
            }
            let key = crate::config::login_key(name);
            if let Some(first) = keys.insert(key.clone(), name_var.clone()) {
                errors.push(ConfigError::new(
                    name_var.as_str(),
                    format!("is registry.login.{key} here, as {first} is: rename one"),
                ));
                continue;
            }
            if key != *name {
                warnings.push(format!(
                    "{name_var}: a `selector: name` regopt, used only for the containers \
                     labelled diun.regopt with its name (as in Diun), kept as \
                     registry.login.{key}; for every image on a registry, add `selector: image`"
                ));
            }
            let path = |k: &'static str| ["registry", "login", key.as_str(), k];
            match username {
                Some((origin, user)) => {
                    out.push(Setting::new(origin, &path("login"), user));
                    if let Some((origin, pass)) = password {
                        out.push(Setting::new(origin, &path("password"), pass));
                    }
                }
                // Named, so that its label reads, and empty: the registry's own login applies.
                None => out.push(Setting::new(
                    name_var.as_str(),
                    &["registry", "login", key.as_str()],
                    Value::from(Dict::new()),
                )),
            }
        }
    }
    out
}

/// Diun's `GetSecret`: the field's value when set, else the content of the file its `…FILE`
/// field names, trimmed.
fn read(fields: &Fields, field: &'static str, errors: &mut Vec<ConfigError>) -> Read {
    if let Some((var, value)) = fields.get(field).filter(|(_, v)| !v.is_empty()) {
        return Some((var.clone(), value.clone()));
    }
    let file_field = match field {
        "USERNAME" => "USERNAMEFILE",
        _ => "PASSWORDFILE",
    };
    let (var, path) = fields.get(file_field).filter(|(_, p)| !p.is_empty())?;
    match crate::config::file::read_to_string(
        std::path::Path::new(path),
        crate::config::file::SECRET_LIMIT,
    ) {
        Ok(text) => Some((var.clone(), text.trim().to_string())),
        Err(err) => {
            errors.push(ConfigError::new(var.as_str(), err.to_string()));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::diun_file::tests::load_setup;
    use crate::config::load;

    /// `tidewatch config`'s `registry.*` lines (`key = value  # origin`) and the warnings, or
    /// the errors, of a Diun setup: `yaml` as its diun.yml (shown as `diun.yml`), when given,
    /// and `env`.
    fn check(
        yaml: Option<&str>,
        env: &[(&str, &str)],
    ) -> Result<(Vec<String>, Vec<String>), Vec<String>> {
        load_setup(yaml, env).map(|(lines, warnings)| {
            let registry = lines
                .into_iter()
                .filter(|l| l.starts_with("registry."))
                .collect();
            (registry, warnings)
        })
    }

    #[track_caller]
    fn has(lines: &[String], expected: &str) {
        assert!(
            lines.iter().any(|l| l == expected),
            "{expected}\n{lines:#?}"
        );
    }

    #[test]
    fn image_regopts_become_registry_logins_by_host() {
        let dir = tempfile::tempdir().unwrap();
        let user_file = dir.path().join("user");
        let pass_file = dir.path().join("pass");
        std::fs::write(&user_file, "ci\n").unwrap();
        std::fs::write(&pass_file, "fileS3CRET\n").unwrap();
        let (lines, warnings) = check(
            None,
            &[
                ("DIUN_REGOPTS_0_NAME", "docker.io"),
                ("DIUN_REGOPTS_0_SELECTOR", "image"),
                ("DIUN_REGOPTS_0_USERNAME", "foo"),
                ("DIUN_REGOPTS_0_PASSWORD", "hubS3CRET"),
                ("DIUN_REGOPTS_1_NAME", "registry.lan:5000/team"),
                ("DIUN_REGOPTS_1_SELECTOR", "image"),
                ("DIUN_REGOPTS_1_USERNAMEFILE", user_file.to_str().unwrap()),
                ("DIUN_REGOPTS_1_PASSWORDFILE", pass_file.to_str().unwrap()),
                ("DIUN_REGOPTS_1_INSECURETLS", "true"),
                ("DIUN_REGOPTS_1_TIMEOUT", "30s"),
            ],
        )
        .unwrap();
        let all = format!("{lines:?}{warnings:?}");
        assert!(!all.contains("S3CRET"), "{all}");
        has(
            &lines,
            "registry.hub.diun0.login = \"foo\"  # DIUN_REGOPTS_0_USERNAME",
        );
        has(
            &lines,
            "registry.hub.diun0.password = \"***\"  # DIUN_REGOPTS_0_PASSWORD",
        );
        has(
            &lines,
            "registry.custom.diun1.url = \"registry.lan:5000\"  # DIUN_REGOPTS_1_NAME",
        );
        has(
            &lines,
            "registry.custom.diun1.login = \"ci\"  # DIUN_REGOPTS_1_USERNAMEFILE",
        );
        has(
            &lines,
            "registry.custom.diun1.password = \"***\"  # DIUN_REGOPTS_1_PASSWORDFILE",
        );
        has(
            &lines,
            "registry.custom.diun1.insecure = true  # DIUN_REGOPTS_1_INSECURETLS",
        );
        assert!(
            warnings.iter().any(|w| w.starts_with(
                "DIUN_REGOPTS_1_NAME: the login applies to every image on registry.lan:5000"
            )),
            "{warnings:?}"
        );
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with("DIUN_REGOPTS_1_TIMEOUT: ignored")),
            "{warnings:?}"
        );
        // Docker Hub's other host names are Docker Hub too; the same login twice is one.
        let (lines, _) = check(
            None,
            &[
                ("DIUN_REGOPTS_0_NAME", "registry-1.docker.io"),
                ("DIUN_REGOPTS_0_SELECTOR", "image"),
                ("DIUN_REGOPTS_0_USERNAME", "foo"),
                ("DIUN_REGOPTS_1_NAME", "docker.io/crazymax"),
                ("DIUN_REGOPTS_1_SELECTOR", "image"),
                ("DIUN_REGOPTS_1_USERNAME", "foo"),
            ],
        )
        .unwrap();
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.starts_with("registry.hub.") && !l.ends_with("# default"))
                .collect::<Vec<_>>(),
            ["registry.hub.diun0.login = \"foo\"  # DIUN_REGOPTS_0_USERNAME"]
        );
    }

    #[test]
    fn name_regopts_become_named_logins_for_the_label() {
        let (lines, warnings) = check(
            None,
            &[
                ("DIUN_REGOPTS_0_NAME", "myregistry"),
                ("DIUN_REGOPTS_0_USERNAME", "fii"),
                ("DIUN_REGOPTS_0_PASSWORD", "borS3CRET"),
                ("DIUN_REGOPTS_0_INSECURETLS", "true"),
                ("DIUN_REGOPTS_1_NAME", "docker-creds"),
                ("DIUN_REGOPTS_1_SELECTOR", "name"),
                ("DIUN_REGOPTS_1_PASSWORD", "lonelyS3CRET"),
            ],
        )
        .unwrap();
        assert!(!format!("{lines:?}{warnings:?}").contains("S3CRET"));
        has(
            &lines,
            "registry.login.myregistry.login = \"fii\"  # DIUN_REGOPTS_0_USERNAME",
        );
        has(
            &lines,
            "registry.login.myregistry.password = \"***\"  # DIUN_REGOPTS_0_PASSWORD",
        );
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with("DIUN_REGOPTS_0_INSECURETLS: ignored")),
            "{warnings:?}"
        );
        // No username: Docker's credentials, as in Diun; the name still reads.
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with("DIUN_REGOPTS_1_PASSWORD: ignored without a username")),
            "{warnings:?}"
        );
        // A name regopt named like a registry: Diun's meaning (the label), and a hint.
        let (lines, warnings) = check(
            None,
            &[
                ("DIUN_REGOPTS_0_NAME", "docker.io"),
                ("DIUN_REGOPTS_0_USERNAME", "foo"),
                ("DIUN_REGOPTS_0_PASSWORD", "hubS3CRET"),
            ],
        )
        .unwrap();
        has(
            &lines,
            "registry.login.docker-io.login = \"foo\"  # DIUN_REGOPTS_0_USERNAME",
        );
        assert!(
            warnings.iter().any(|w| w
                .starts_with("DIUN_REGOPTS_0_NAME: a `selector: name` regopt")
                && w.contains("add `selector: image`")),
            "{warnings:?}"
        );
        let errors = check(
            None,
            &[
                ("DIUN_REGOPTS_0_NAME", "a.b"),
                ("DIUN_REGOPTS_1_NAME", "a-b"),
            ],
        )
        .unwrap_err();
        assert_eq!(
            errors,
            [
                "DIUN_REGOPTS_1_NAME: is registry.login.a-b here, as DIUN_REGOPTS_0_NAME is: rename one"
            ]
        );
        let env: Vec<(String, String)> = [
            ("DIUN_REGOPTS_0_NAME", "docker-creds"),
            ("DIUN_REGOPTS_0_SELECTOR", "name"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let loaded = load(None, env).unwrap();
        assert_eq!(
            loaded.config.registry.login["docker-creds"],
            crate::config::NamedLogin::default()
        );
    }

    #[test]
    fn diun_yml_regopts_name_their_file_keys() {
        let (lines, warnings) = check(
            Some(
                r#"
regopts:
  - name: "myregistry"
    username: fii
    password: borS3CRET
    timeout: 30s
  - name: "docker.io"
    selector: image
    username: foo
    password: barS3CRET
  - name: "127.0.0.1:5000/crazymax"
    selector: image
    username: bar
    password: bazS3CRET
    insecureTLS: true
"#,
            ),
            &[],
        )
        .unwrap();
        assert!(!format!("{lines:?}{warnings:?}").contains("S3CRET"));
        for expected in [
            "registry.login.myregistry.login = \"fii\"  # diun.yml: key regopts[0].username",
            "registry.login.myregistry.password = \"***\"  # diun.yml: key regopts[0].password",
            "registry.hub.diun1.login = \"foo\"  # diun.yml: key regopts[1].username",
            "registry.hub.diun1.password = \"***\"  # diun.yml: key regopts[1].password",
            "registry.custom.diun2.url = \"127.0.0.1:5000\"  # diun.yml: key regopts[2].name",
            "registry.custom.diun2.insecure = true  # diun.yml: key regopts[2].insecureTLS",
        ] {
            has(&lines, expected);
        }
        for key in ["regopts[0].timeout", "regopts[2].name"] {
            assert!(
                warnings
                    .iter()
                    .any(|w| w.starts_with(&format!("diun.yml: key {key}: "))),
                "{key}: {warnings:?}"
            );
        }
    }

    #[test]
    fn broken_regopts_are_errors_naming_the_variable_never_the_value() {
        let errors = check(
            None,
            &[
                ("DIUN_REGOPTS_0_NAME", "docker.io"),
                ("DIUN_REGOPTS_0_SELECTOR", "image"),
                ("DIUN_REGOPTS_0_USERNAME", "foo"),
                ("DIUN_REGOPTS_0_PASWORD", "typoS3CRET"),
                ("DIUN_REGOPTS_1_NAME", "docker.io/crazymax"),
                ("DIUN_REGOPTS_1_SELECTOR", "image"),
                ("DIUN_REGOPTS_1_USERNAME", "crazymax"),
                ("DIUN_REGOPTS_1_PASSWORD", "otherS3CRET"),
                ("DIUN_REGOPTS_2_NAME", "docker.io"),
                ("DIUN_REGOPTS_3_NAME", "x"),
                ("DIUN_REGOPTS_3_SELECTOR", "regexS3CRET"),
                ("DIUN_REGOPTS_4_USERNAME", "nameless"),
                ("DIUN_REGOPTS_5_NAME", "y"),
                ("DIUN_REGOPTS_5_INSECURETLS", "maybeS3CRET"),
                ("DIUN_REGOPTS_6_NAME", "z"),
                ("DIUN_REGOPTS_6_USERNAME", "z"),
                ("DIUN_REGOPTS_6_PASSWORDFILE", "/nonexistent/S3CRET"),
                ("DIUN_REGOPTS_7_NAME", "w"),
                ("DIUN_REGOPTS_7_TIMEOUT", "soonS3CRET"),
                ("DIUN_REGOPTS_NAME", "v"),
            ],
        )
        .unwrap_err();
        let all = errors.join("\n");
        assert!(!all.contains("typoS3CRET"), "{all}");
        assert!(!all.contains("otherS3CRET") && !all.contains("regexS3CRET"));
        assert!(!all.contains("maybeS3CRET") && !all.contains("soonS3CRET"));
        for expected in [
            "DIUN_REGOPTS_0_PASWORD: not a Diun setting this version reads, did you mean `DIUN_REGOPTS_0_PASSWORD`?",
            "DIUN_REGOPTS_1_NAME: DIUN_REGOPTS_0_NAME already gives docker.io another login",
            "DIUN_REGOPTS_2_NAME: another regopt has this name (DIUN_REGOPTS_0_NAME)",
            "DIUN_REGOPTS_3_SELECTOR: expected name or image",
            "DIUN_REGOPTS_4_NAME: required",
            "DIUN_REGOPTS_5_INSECURETLS: expected true or false",
            "DIUN_REGOPTS_6_PASSWORDFILE: ",
            "DIUN_REGOPTS_7_TIMEOUT: expected a duration",
            "DIUN_REGOPTS_NAME: expected DIUN_REGOPTS_<KEY>_<FIELD>",
        ] {
            assert!(
                errors.iter().any(|e| e.starts_with(expected)),
                "{expected}\n{all}"
            );
        }
        // In diun.yml, the key as the file writes it.
        let errors = check(
            Some("regopts:\n  - name: docker.io\n    pasword: typoS3CRET\n"),
            &[],
        )
        .unwrap_err();
        assert_eq!(
            errors,
            ["diun.yml: key regopts[0].pasword: unknown key, did you mean `regopts[0].password`?"]
        );
    }
}
