//! Coming from Diun: its `diun.yml` as Diun's documentation writes it, given as `--config` (or
//! Diun's `CONFIG`), read by `tidewatch config` with each value naming its file key and secrets
//! masked, refused with exit 2 when a key is wrong; and end to end on the real engine and
//! registry, where Diun's `diun.watch_repo` decides whether a new tag is news: without it a
//! container follows only its own tag (a new image behind it), as in Diun.

use crate::support::receiver::{Answer, Receiver};
use crate::support::{ImageSpec, Output, TestRun, tidewatch};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Writes `text` as `diun.yml` in a folder of its own.
fn diun_yml(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("diun.yml");
    std::fs::write(&path, text).expect("diun.yml written");
    (dir, path)
}

/// The `tidewatch config` line of `key`, which must exist.
#[track_caller]
fn line<'a>(out: &'a Output, key: &str) -> &'a str {
    out.stdout
        .lines()
        .find(|l| l.starts_with(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("no line for {key}:\n{out}"))
}

/// What `line` says the value came from: `<path>: key <key>`.
#[track_caller]
fn assert_from(out: &Output, key: &str, path: &Path, file_key: &str) {
    let line = line(out, key);
    assert!(
        line.ends_with(&format!("# {}: key {file_key}", path.display())),
        "{key} should come from {file_key}: {line}\n{out}"
    );
}

/// Diun's documented configuration file (docs/config/index.md and the Docker provider's page),
/// with the notifiers tidewatch and Diun share.
const DOCUMENTED: &str = r#"
db:
  path: diun.db

watch:
  workers: 20
  schedule: "0 */6 * * *"
  jitter: 30s
  firstCheckNotif: false
  runOnStartup: true

defaults:
  watchRepo: false
  notifyOn:
    - new
    - update
  sortTags: reverse

notif:
  mail:
    host: localhost
    port: 25
    ssl: false
    insecureSkipVerify: false
    username: diun
    password: mailS3CRET
    from: diun@example.com
    to:
      - webmaster@example.com
      - me@example.com
  telegram:
    token: 123456:tgS3CRET-ab
    chatIDs:
      - 123456789
      - 987654321
  webhook:
    endpoint: http://127.0.0.1:9/sd54qad89azd5a
    method: POST
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
    watchByDefault: false
    watchStopped: true
"#;

#[test]
fn a_diun_yml_as_diuns_documentation_writes_it_is_mapped_naming_its_keys_with_secrets_masked() {
    let (_dir, path) = diun_yml(DOCUMENTED);
    let file = path.to_str().expect("a UTF-8 path");
    let out = tidewatch(&["config", "--config", file], &[]);
    out.assert_success();
    assert!(!out.stdout.contains("S3CRET"), "{out}");
    assert!(!out.stderr.contains("S3CRET"), "{out}");
    for (key, file_key) in [
        ("watcher.local.cron", "watch.schedule"),
        ("watcher.local.jitter", "watch.jitter"),
        (
            "watcher.local.watchbydefault",
            "providers.docker.watchByDefault",
        ),
        ("watcher.local.watchall", "providers.docker.watchStopped"),
        ("watcher.local.diun.watchrepo", "defaults.watchRepo"),
        ("watcher.local.diun.notifyon", "defaults.notifyOn"),
        ("trigger.smtp.diun.host", "notif.mail.host"),
        ("trigger.smtp.diun.pass", "notif.mail.password"),
        ("trigger.smtp.diun.to", "notif.mail.to"),
        ("trigger.telegram.diun1.bottoken", "notif.telegram.token"),
        ("trigger.telegram.diun2.chatid", "notif.telegram.chatIDs"),
        ("trigger.http.diun.url", "notif.webhook.endpoint"),
        ("registry.hub.diun0.login", "regopts[0].username"),
        ("registry.hub.diun0.password", "regopts[0].password"),
    ] {
        assert_from(&out, key, &path, file_key);
    }
    assert!(
        line(&out, "watcher.local.cron").contains("\"0 */6 * * *\""),
        "{out}"
    );
    assert!(
        line(&out, "trigger.smtp.diun.pass").contains("\"***\""),
        "{out}"
    );
    assert!(
        !out.stdout.contains("trigger.docker"),
        "Diun only notifies: {out}"
    );
    // Diun's settings with no meaning here are warned about by the key that holds them.
    for key in ["watch.workers", "db.path"] {
        assert!(
            out.stderr
                .contains(&format!("{}: key {key}: ignored", path.display())),
            "{key}: {out}"
        );
    }

    // Diun's own `CONFIG` names the same file; its variables override the file, as in Diun.
    let out = tidewatch(
        &["config"],
        &[("CONFIG", file), ("DIUN_WATCH_SCHEDULE", "*/5 * * * *")],
    );
    out.assert_success();
    assert_from(&out, "trigger.smtp.diun.host", &path, "notif.mail.host");
    assert!(
        line(&out, "watcher.local.cron").starts_with("watcher.local.cron = \"*/5 * * * *\""),
        "{out}"
    );
    assert!(
        line(&out, "watcher.local.cron").ends_with("# DIUN_WATCH_SCHEDULE"),
        "{out}"
    );
}

#[test]
fn a_misspelt_key_or_a_bad_value_in_diun_yml_is_exit_2_naming_the_key_never_the_value() {
    let (_dir, path) = diun_yml(
        r#"
watch:
  schedule: "0 */6 * * *"
  firstCheckNotf: true
providers:
  docker:
    watchByDefault: maybeS3CRET
notif:
  telegram:
    token: 123456:tgS3CRET-ab
"#,
    );
    let file = path.to_str().expect("a UTF-8 path");
    let out = tidewatch(&["config", "--config", file], &[]);
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(!out.stderr.contains("S3CRET"), "{out}");
    let shown = path.display().to_string();
    for expected in [
        format!(
            "{shown}: key watch.firstCheckNotf: unknown key, did you mean `watch.firstCheckNotif`?"
        ),
        format!("{shown}: key providers.docker.watchByDefault: expected true or false"),
        format!("{shown}: key notif.telegram.chatIDs: required with notif.telegram.token"),
    ] {
        assert!(out.stderr.contains(&expected), "{expected}\n{out}");
    }
    // A file that is not YAML at all.
    let (_dir, path) = diun_yml("watch: [schedule\n");
    let out = tidewatch(&["config", "--config", path.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(out.stderr.contains("not valid YAML"), "{out}");
}

/// The row of `name` in a `run --once --json` report.
#[track_caller]
fn row<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["containers"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["name"] == name))
        .unwrap_or_else(|| panic!("no row for {name}: {report:#}"))
}

#[test]
fn a_diun_yml_setup_offers_new_tags_only_with_watch_repo_and_new_images_behind_a_tag_without() {
    let run = TestRun::new();
    let registry = run.registry();
    let app = run.push(&registry, "app", "1.0.0");
    let lib = run.push(&registry, "lib", "2.0.0");
    // Diun's labels as its users set them: one container watches its repository.
    let repo = run.run_with(
        "repo",
        &[
            "--label",
            "diun.enable=true",
            "--label",
            "diun.watch_repo=true",
        ],
        &app.reference,
        &[],
    );
    let own = run.run_with("own", &["--label", "diun.enable=true"], &app.reference, &[]);
    let rebuilt = run.run_with(
        "rebuilt",
        &["--label", "diun.enable=true"],
        &lib.reference,
        &[],
    );
    let bad = run.run_with(
        "bad",
        &[
            "--label",
            "diun.enable=true",
            "--label",
            "diun.max_tags=abc",
        ],
        &app.reference,
        &[],
    );
    let cap = run.push(&registry, "cap", "1.0.0");
    let capped = run.run_with(
        "capped",
        &[
            "--label",
            "diun.enable=true",
            "--label",
            "diun.watch_repo=true",
            "--label",
            "diun.max_tags=1",
        ],
        &cap.reference,
        &[],
    );
    // News: a new tag of `app`, a new image behind `lib:2.0.0`, and four tags of `cap`.
    run.push(&registry, "app", "1.1.0");
    for tag in ["1.11.0", "latest", "stable", "edge"] {
        run.push(&registry, "cap", tag);
    }
    // `diun.max_tags=1`: only the last tag the registry lists competes (Diun's `reverse` order).
    // The order is the registry's (this one lists as its files come): ask it. Most often the
    // last is one of the names, not `1.11.0`, which the cap then hides.
    let listed =
        crate::support::http_request("GET", registry.addr(), "/v2/cap/tags/list", &[], b"")
            .expect("the registry lists cap's tags");
    let listed: serde_json::Value = serde_json::from_slice(&listed.body).expect("a JSON tag list");
    let listed: Vec<&str> = listed["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .filter_map(|t| t.as_str())
        .collect();
    assert_eq!(listed.len(), 5, "{listed:?}");
    let minor = |tag: &str| tag.split('.').nth(1).and_then(|m| m.parse::<u32>().ok());
    let capped_to = listed[4..]
        .iter()
        .copied()
        .filter(|t| minor(t).is_some_and(|m| m > 0))
        .max_by_key(|t| minor(t));
    let lib2 = run.push_spec(
        &registry,
        "lib",
        "2.0.0",
        &ImageSpec::version("2.0.0-rebuilt"),
    );
    assert_ne!(lib2.digest, lib.digest);

    let hook = Receiver::always(Answer::status(200));
    let (_dir, path) = diun_yml(&format!(
        r#"
watch:
  schedule: "0 */6 * * *"
  jitter: 30s
  firstCheckNotif: false
notif:
  webhook:
    endpoint: {}
    method: POST
    headers:
      content-type: application/json
      authorization: Bearer hookS3CRET
    timeout: 10s
providers:
  docker:
    watchStopped: false
"#,
        hook.url("/diun")
    ));
    let only = [&repo, &own, &rebuilt, &bad, &capped]
        .iter()
        .map(|c| c.name.as_str())
        .collect::<Vec<_>>()
        .join(",");
    let out = tidewatch(
        &[
            "run",
            "--once",
            "--json",
            "--config",
            path.to_str().unwrap(),
        ],
        // Only this test's containers, on the shared engine.
        &[("TIDEWATCH_WATCHER_LOCAL_INCLUDE", only.as_str())],
    );
    assert!(out.status.success(), "{out}");
    assert!(!out.stderr.contains("S3CRET"), "{out}");
    let report: serde_json::Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|err| panic!("not JSON ({err}): {out}"));

    let r = row(&report, &repo.name);
    assert_eq!(r["status"], "update-available", "{r:#}");
    assert_eq!(r["update"]["tag"], "1.1.0", "{r:#}");
    let r = row(&report, &own.name);
    assert_eq!(
        r["status"], "up-to-date",
        "without watch_repo a new tag is not news: {r:#}"
    );
    let r = row(&report, &rebuilt.name);
    assert_eq!(r["status"], "update-available", "{r:#}");
    assert_eq!(r["update"]["kind"], "digest", "{r:#}");
    assert_eq!(r["update"]["tag"], "2.0.0", "{r:#}");
    let r = row(&report, &capped.name);
    match capped_to {
        Some(tag) => assert_eq!(
            (&r["status"], r["update"]["tag"].as_str()),
            (&serde_json::json!("update-available"), Some(tag)),
            "diun.max_tags=1 of {listed:?}: {r:#}"
        ),
        None => assert_eq!(r["status"], "up-to-date", "{listed:?}: {r:#}"),
    }
    let r = row(&report, &bad.name);
    assert_eq!(r["status"], "skipped", "{r:#}");
    let reason = r["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("diun.max_tags"), "{r:#}");
    assert!(
        out.stderr.contains("diun.max_tags"),
        "the bad label is in the log: {out}"
    );

    // The webhook hears of each update, of nothing else, and nothing is applied.
    let requests = hook.wait_for(
        2 + usize::from(capped_to.is_some()),
        Duration::from_secs(30),
    );
    let texts: Vec<String> = requests.iter().map(|r| r.text()).collect();
    assert!(
        texts
            .iter()
            .any(|t| t.contains(&repo.name) && t.contains("1.1.0")),
        "{texts:#?}"
    );
    assert!(
        texts.iter().any(|t| t.contains(&rebuilt.name)),
        "{texts:#?}"
    );
    if let Some(tag) = capped_to {
        assert!(
            texts
                .iter()
                .any(|t| t.contains(&capped.name) && t.contains(tag)),
            "{texts:#?}"
        );
    }
    assert!(!texts.iter().any(|t| t.contains(&own.name)), "{texts:#?}");
    assert_eq!(
        requests[0].header("Authorization"),
        Some("Bearer hookS3CRET")
    );
    for (container, image) in [
        (&repo, &app),
        (&own, &app),
        (&rebuilt, &lib),
        (&capped, &cap),
    ] {
        assert_eq!(
            run.inspect(&container.name, "{{.Id}} {{.Config.Image}}"),
            format!("{} {}", container.id, image.reference),
            "Diun only notifies: {out}"
        );
    }
}

#[test]
fn diuns_compose_file_works_unchanged_its_serve_command_and_a_diun_yml_where_diun_looks() {
    // Diun's documented compose: `command: serve`, `./diun.yml` mounted where Diun finds it
    // without being told (here `$HOME/.config/diun.yml`, one of Diun's places).
    let run = TestRun::new();
    let image = run.image(&format!("{}:1.0.0", run.name("plain")), "1.0.0");
    // A scope of this test's own: only its container is seen on the shared engine.
    let scope = format!("diun-{}", run.id());
    let label = format!("tidewatch.scope={scope}");
    let plain = run.run_with("plain", &["--label", &label], &image.reference, &[]);
    let home = tempfile::tempdir().expect("a temporary folder");
    std::fs::create_dir_all(home.path().join(".config")).unwrap();
    let path = home.path().join(".config/diun.yml");
    std::fs::write(
        &path,
        "watch:\n  schedule: \"0 */6 * * *\"\nproviders:\n  docker:\n    watchByDefault: true\n",
    )
    .unwrap();
    let home_dir = home.path().to_str().unwrap();
    let out = tidewatch(
        &["serve", "--run-once"],
        &[
            ("HOME", home_dir),
            ("XDG_CONFIG_HOME", ""),
            ("TIDEWATCH_WATCHER_LOCAL_SCOPE", scope.as_str()),
        ],
    );
    out.assert_success();
    assert!(
        out.stderr.contains(&format!(
            "{}: read as Diun's configuration file",
            path.display()
        )),
        "{out}"
    );
    // `serve` is Diun's command, not the name of the only container to watch.
    assert!(out.stdout.contains(&plain.name), "{out}");
    let out = tidewatch(&["config"], &[("HOME", home_dir), ("XDG_CONFIG_HOME", "")]);
    out.assert_success();
    assert_from(
        &out,
        "watcher.local.watchbydefault",
        &path,
        "providers.docker.watchByDefault",
    );
}

#[test]
fn diuns_log_variables_set_the_log_in_a_diun_setup_only() {
    // Diun's compose examples set `LOG_LEVEL` and `LOG_JSON` beside its `DIUN_*` variables.
    let diun = [
        ("DIUN_PROVIDERS_DOCKER", "true"),
        ("LOG_LEVEL", "debug"),
        ("LOG_JSON", "true"),
    ];
    let out = tidewatch(&["config"], &diun);
    out.assert_success();
    assert!(
        line(&out, "log.level").starts_with("log.level = \"debug\""),
        "{out}"
    );
    assert!(line(&out, "log.level").ends_with("# LOG_LEVEL"), "{out}");
    assert!(
        line(&out, "log.format").starts_with("log.format = \"json\""),
        "{out}"
    );
    // Outside a Diun setup these plain names are someone else's.
    let out = tidewatch(&["config"], &diun[1..]);
    out.assert_success();
    assert!(line(&out, "log.level").ends_with("# default"), "{out}");
    // A level Diun does not have: exit 2, the variable named.
    let out = tidewatch(
        &["config"],
        &[("DIUN_PROVIDERS_DOCKER", "true"), ("LOG_LEVEL", "loud")],
    );
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(out.stderr.contains("LOG_LEVEL: expected trace"), "{out}");
}
