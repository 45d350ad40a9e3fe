//! `tidewatch check`: the containers of the engine, with the reference each was created from,
//! normalised, the image it runs and the digests the engine recorded for it.
//!
//! The JSON is a contract for scripts (README), so these tests read it as a script would: by
//! field name, with no help from the crate's own types. Other tests share the engine, so each
//! test looks only at rows of its own containers.

use crate::support::{Container, ImageSpec, Output, RegistryOptions, TestRun, tidewatch};
use serde::Deserialize;

/// One entry of `containers`, as README documents it.
#[derive(Debug, Clone, Deserialize)]
struct Row {
    watcher: String,
    id: String,
    name: String,
    state: String,
    image: String,
    reference: Option<String>,
    reference_error: Option<String>,
    image_id: String,
    repo_digests: Vec<String>,
    display_name: Option<String>,
    /// `update-available`, `up-to-date`, `skipped` or `failed`.
    status: String,
    reason: Option<String>,
    update: Option<UpdateRow>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
struct UpdateRow {
    kind: String,
    tag: String,
    digest: Option<String>,
    #[serde(default)]
    link: Option<String>,
}

/// Every row has all of these, `null` included: a script must not have to guess.
const FIELDS: [&str; 13] = [
    "watcher",
    "id",
    "name",
    "state",
    "image",
    "reference",
    "reference_error",
    "image_id",
    "repo_digests",
    "display_name",
    "status",
    "reason",
    "update",
];

/// Every `update` object has all of these.
const UPDATE_FIELDS: [&str; 4] = ["kind", "tag", "digest", "link"];

/// What one `tidewatch check --json` printed.
struct Listing {
    rows: Vec<Row>,
    out: Output,
}

impl Listing {
    /// The row of `container`; panics if it is listed twice.
    fn get(&self, container: &Container) -> Option<&Row> {
        let mut rows = self.rows.iter().filter(|r| r.id == container.id);
        let row = rows.next();
        assert!(
            rows.next().is_none(),
            "{} listed twice:\n{}",
            container.name,
            self.out
        );
        row
    }

    #[track_caller]
    fn row(&self, container: &Container) -> &Row {
        self.get(container)
            .unwrap_or_else(|| panic!("{} not listed:\n{}", container.name, self.out))
    }
}

/// Runs `tidewatch check --json` with `env`; it must succeed and print the documented shape.
#[track_caller]
fn check(env: &[(&str, &str)]) -> Listing {
    let out = tidewatch(&["check", "--json"], env);
    out.assert_success();
    parse(out)
}

/// Reads a JSON report (`check --json`, `run --once --json`): every row has every documented
/// field, with the documented types.
#[track_caller]
fn parse(out: Output) -> Listing {
    let json: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|err| panic!("stdout is not JSON ({err}):\n{out}"));
    let containers = json
        .get("containers")
        .and_then(|c| c.as_array())
        .unwrap_or_else(|| panic!("no `containers` array:\n{out}"));
    assert!(
        json.get("errors").is_some_and(|e| e.is_array()),
        "no `errors` array:\n{out}"
    );
    for entry in containers {
        for field in FIELDS {
            assert!(entry.get(field).is_some(), "`{field}` missing in {entry}");
        }
        if let Some(update) = entry.get("update").filter(|u| !u.is_null()) {
            for field in UPDATE_FIELDS {
                assert!(
                    update.get(field).is_some(),
                    "`update.{field}` missing in {entry}"
                );
            }
        }
    }
    let rows = serde_json::from_value(serde_json::Value::Array(containers.clone()))
        .unwrap_or_else(|err| panic!("a row does not match the documented types ({err}):\n{out}"));
    Listing { rows, out }
}

/// The row agrees with what `docker inspect` says of the container.
#[track_caller]
fn assert_matches_engine(run: &TestRun, row: &Row, container: &Container) {
    assert_eq!(row.watcher, "local");
    assert_eq!(row.name, container.name);
    assert_eq!(row.id, container.id);
    assert_eq!(row.image, run.inspect(&container.id, "{{.Config.Image}}"));
    assert_eq!(row.image_id, run.inspect(&container.id, "{{.Image}}"));
    assert!(is_image_id(&row.image_id), "{:?}", row.image_id);
}

fn is_image_id(id: &str) -> bool {
    id.strip_prefix("sha256:")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[test]
fn lists_running_containers_with_reference_image_and_pushed_digest() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "app", "1.0.0");
    let v2 = run.push(&registry, "app", "1.1.0");
    let latest = run.push(&registry, "tools/other", "latest");
    assert_ne!(v1.digest, v2.digest, "each version is its own image");
    let untagged = format!("{}/tools/other", registry.addr());
    let cases = [
        (
            run.run("one", &v1.reference, &[]),
            &v1,
            v1.reference.clone(),
        ),
        (
            run.run("two", &v2.reference, &[]),
            &v2,
            v2.reference.clone(),
        ),
        // No tag: listed as created, normalised to `:latest`.
        (
            run.run("three", &untagged, &[]),
            &latest,
            latest.reference.clone(),
        ),
    ];

    let listing = check(&[]);

    for (container, pushed, reference) in &cases {
        let row = listing.row(container);
        assert_matches_engine(&run, row, container);
        assert_eq!(row.state, "running");
        assert_eq!(row.reference.as_deref(), Some(reference.as_str()));
        assert_eq!(row.reference_error, None);
        assert_eq!(row.image_id, pushed.id);
        assert!(
            row.repo_digests.contains(&pushed.repo_digest),
            "{:?} lacks {}",
            row.repo_digests,
            pushed.repo_digest
        );
    }
    assert_eq!(listing.row(&cases[2].0).image, untagged);
}

#[test]
fn container_created_from_an_image_id_has_no_reference_and_says_why() {
    let run = TestRun::new();
    let image = run.image(&run.name("byid:1"), "1");
    let container = run.run("byid", &image.id, &[]);

    let listing = check(&[]);

    let row = listing.row(&container);
    assert_matches_engine(&run, row, &container);
    assert_eq!(row.image, image.id);
    assert_eq!(row.reference, None);
    let why = row.reference_error.as_deref().unwrap_or_default();
    assert!(!why.trim().is_empty(), "reference_error is empty: {row:?}");
    assert_eq!(row.status, "skipped");
    assert!(
        row.reason
            .as_deref()
            .unwrap_or_default()
            .contains("image ID"),
        "{row:?}"
    );
}

#[test]
fn local_short_name_normalises_to_docker_hub_and_has_no_repo_digests() {
    let run = TestRun::new();
    let image = run.image(&format!("{}:1", run.name("local")), "1");
    let container = run.run("local", &image.reference, &[]);

    let listing = check(&[]);

    let row = listing.row(&container);
    assert_matches_engine(&run, row, &container);
    let expected = format!("docker.io/library/{}", image.reference);
    assert_eq!(row.reference.as_deref(), Some(expected.as_str()));
    assert_eq!(row.reference_error, None);
    assert_eq!(row.image_id, image.id);
    assert_eq!(
        row.repo_digests,
        Vec::<String>::new(),
        "never pushed or pulled"
    );
    // Nothing to compare with, so Docker Hub is not asked.
    assert_eq!(row.status, "skipped");
    assert!(
        row.reason
            .as_deref()
            .unwrap_or_default()
            .contains("no digest"),
        "{row:?}"
    );
}

#[test]
fn a_new_image_behind_a_non_version_tag_is_an_update_and_a_dead_registry_a_failure() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "app", "stable");
    let container = run.run("app", &v1.reference, &[]);

    let row = check(&[])
        .rows
        .into_iter()
        .find(|r| r.id == container.id)
        .expect("listed");
    assert_eq!(
        (row.status.as_str(), &row.reason, &row.update),
        ("up-to-date", &None, &None)
    );

    let rebuilt = run.push_spec(&registry, "app", "stable", &ImageSpec::version("rebuilt"));
    assert_ne!(rebuilt.digest, v1.digest);
    let listing = check(&[]);
    let row = listing.row(&container);
    assert_eq!(row.status, "update-available", "{}", listing.out);
    assert_eq!(row.reason, None);
    assert_eq!(
        row.update,
        Some(UpdateRow {
            kind: "digest".into(),
            tag: "stable".into(),
            digest: Some(rebuilt.digest.clone()),
            link: None
        })
    );
    assert_eq!(
        row.image_id, v1.id,
        "the container still runs the old image"
    );

    let address = registry.addr().to_string();
    drop(registry);
    let listing = check(&[]);
    let row = listing.row(&container);
    assert_eq!(row.status, "failed", "{}", listing.out);
    let reason = row.reason.as_deref().unwrap_or_default();
    assert!(reason.contains(&address), "{reason:?}");
}

#[test]
fn stopped_containers_are_listed_only_with_watchall() {
    let run = TestRun::new();
    let image = run.image(&format!("{}:1", run.name("app")), "1");
    let running = run.run("running", &image.reference, &[]);
    let stopped = run.run("stopped", &image.reference, &[]);
    run.stop(&stopped);

    let default = check(&[]);
    assert_eq!(default.row(&running).state, "running");
    assert!(
        default.get(&stopped).is_none(),
        "stopped container listed:\n{}",
        default.out
    );

    let all = check(&[("TIDEWATCH_WATCHER_LOCAL_WATCHALL", "true")]);
    assert_eq!(all.row(&running).state, "running");
    let row = all.row(&stopped);
    assert_matches_engine(&run, row, &stopped);
    assert_eq!(row.state, "exited");
}

#[test]
fn table_has_a_header_and_one_line_per_container() {
    let run = TestRun::new();
    let image = run.image(&format!("{}:2.0", run.name("table")), "2.0");
    let containers = [
        run.run("alpha", &image.reference, &[]),
        run.run("beta", &image.id, &[]),
    ];

    let out = tidewatch(&["check"], &[]);

    out.assert_success();
    let mut lines = out.stdout.lines();
    let header = lines.next().unwrap_or_default().to_lowercase();
    assert!(
        header.contains("name") && header.contains("reference"),
        "no header:\n{out}"
    );
    let lines: Vec<&str> = lines.collect();
    let line_of = |c: &Container| {
        let mine: Vec<&&str> = lines
            .iter()
            .filter(|l| l.split_whitespace().any(|cell| cell == c.name))
            .collect();
        assert_eq!(mine.len(), 1, "one line for {}:\n{out}", c.name);
        mine[0].to_string()
    };
    let alpha = line_of(&containers[0]);
    let normalised = format!("docker.io/library/{}", image.reference);
    assert!(
        alpha.split_whitespace().any(|cell| cell == normalised),
        "no {normalised} in {alpha:?}"
    );
    let beta = line_of(&containers[1]);
    assert!(
        !beta.contains("docker.io/"),
        "an image ID has no reference: {beta:?}"
    );
}

#[test]
fn unreachable_engine_is_one_clear_line_and_a_failure() {
    let socket = "/nonexistent/docker.sock";
    let host = format!("unix://{socket}");

    let out = tidewatch(&["check"], &[("DOCKER_HOST", &host)]);

    assert!(!out.success(), "succeeded without an engine:\n{out}");
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "stderr is not one line:\n{out}");
    let line = lines[0];
    assert!(
        line.contains(socket) || line.to_lowercase().contains("engine"),
        "names neither socket nor engine: {line}"
    );
    for noise in ["panicked", "backtrace", "RUST_BACKTRACE"] {
        assert!(!out.stderr.contains(noise), "{noise}:\n{out}");
    }

    // For scripts, the JSON says which engine did not answer: not an empty host.
    let out = tidewatch(&["check", "--json"], &[("DOCKER_HOST", &host)]);
    assert!(!out.success(), "{out}");
    let json: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|err| panic!("stdout is not JSON ({err}):\n{out}"));
    assert_eq!(json["containers"], serde_json::json!([]), "{out}");
    assert_eq!(json["errors"][0]["watcher"], "local", "{out}");
    assert!(
        json["errors"][0]["error"]
            .as_str()
            .is_some_and(|e| e.contains(socket)),
        "{out}"
    );
}

#[test]
fn registry_credentials_from_the_environment_are_used_and_never_shown() {
    let run = TestRun::new();
    let password = "pw-s3cret-7f3a";
    let registry = run.registry_with(RegistryOptions::default().basic_auth("ci", password));
    let v1 = run.push(&registry, "private/app", "2.0.0");
    let container = run.run("private", &v1.reference, &[]);
    let url = format!("http://{}", registry.addr());
    let env = |password: &'static str| {
        vec![
            ("TIDEWATCH_REGISTRY_CUSTOM_CI_URL", url.clone()),
            ("TIDEWATCH_REGISTRY_CUSTOM_CI_LOGIN", "ci".to_string()),
            (
                "TIDEWATCH_REGISTRY_CUSTOM_CI_PASSWORD",
                password.to_string(),
            ),
            ("TIDEWATCH_LOG_LEVEL", "trace".to_string()),
        ]
    };
    let as_refs = |env: &[(&'static str, String)]| -> Vec<(&'static str, String)> { env.to_vec() };

    for (given, expected) in [(password, "up-to-date"), ("wrong-s3cret", "failed")] {
        let env = as_refs(&env(given));
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let listing = check(&env);
        let row = listing.row(&container);
        assert_eq!(row.status, expected, "{}", listing.out);
        if expected == "failed" {
            let reason = row.reason.as_deref().unwrap_or_default();
            assert!(reason.contains("unauthorized"), "{reason:?}");
        }
        for text in [&listing.out.stdout, &listing.out.stderr] {
            assert!(
                !text.contains("s3cret"),
                "a password leaked:\n{}",
                listing.out
            );
        }
    }
}

/// The row of `container` after one `check`, with `env`.
#[track_caller]
fn row_of(container: &Container, env: &[(&str, &str)]) -> Row {
    check(env).row(container).clone()
}

#[test]
fn a_newer_version_tag_of_the_same_kind_is_an_update_with_its_kind_and_digest() {
    let run = TestRun::new();
    let registry = run.registry();
    let current = run.push(&registry, "web", "1.4.2");
    let patch = run.push(&registry, "web", "1.4.3");
    let minor = run.push(&registry, "web", "1.5.0");
    for noise in ["2.0.0-rc1", "1.5.0-alpine", "latest", "1.6"] {
        run.push(&registry, "web", noise);
    }
    let plain = run.run_with(
        "plain",
        &[
            "--label",
            "tidewatch.display.name=Web front",
            "--label",
            "wud.link.template=https://example.com/releases/v${major}.${minor}.${patch}",
        ],
        &current.reference,
        &[],
    );
    let patches_only = run.run_with(
        "patches",
        &["--label", r"tidewatch.tag.include=^1\.4\."],
        &current.reference,
        &[],
    );
    // A newer tag wins over a digest check; an up-to-date version tag is not digest-watched.
    let newest = run.run("newest", &minor.reference, &[]);

    let listing = check(&[]);
    let expect =
        |container: &Container, kind: &str, pushed: &crate::support::Pushed, link: Option<&str>| {
            let row = listing.row(container);
            assert_eq!(row.status, "update-available", "{}", listing.out);
            assert_eq!(
                row.update,
                Some(UpdateRow {
                    kind: kind.into(),
                    tag: pushed
                        .reference
                        .rsplit(':')
                        .next()
                        .unwrap_or_default()
                        .into(),
                    digest: Some(pushed.digest.clone()),
                    link: link.map(String::from),
                }),
                "{}",
                listing.out
            );
        };
    expect(
        &plain,
        "minor",
        &minor,
        Some("https://example.com/releases/v1.5.0"),
    );
    assert_eq!(
        listing.row(&plain).display_name.as_deref(),
        Some("Web front")
    );
    expect(&patches_only, "patch", &patch, None);
    assert_eq!(listing.row(&newest).status, "up-to-date", "{}", listing.out);
}

#[test]
fn labels_opt_out_watch_the_digest_of_a_version_tag_or_skip_with_the_reason() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "api", "3.1.0");
    let digest_watched = run.run_with(
        "digest",
        &[
            "--label",
            "wud.watch.digest=true",
            "--label",
            "tidewatch.watch=true",
        ],
        &v1.reference,
        &[],
    );
    let tags_only = run.run("tags", &v1.reference, &[]);
    let opted_out = run.run_with(
        "optout",
        &["--label", "com.centurylinklabs.watchtower.enable=false"],
        &v1.reference,
        &[],
    );
    let bad = run.run_with(
        "bad",
        &["--label", "tidewatch.tag.include=^(3"],
        &v1.reference,
        &[],
    );
    let rebuilt = run.push_spec(
        &registry,
        "api",
        "3.1.0",
        &ImageSpec::version("3.1.0-rebuilt"),
    );

    let row = row_of(&digest_watched, &[]);
    assert_eq!(row.status, "update-available");
    assert_eq!(
        row.update,
        Some(UpdateRow {
            kind: "digest".into(),
            tag: "3.1.0".into(),
            digest: Some(rebuilt.digest.clone()),
            link: None
        })
    );
    assert_eq!(row_of(&tags_only, &[]).status, "up-to-date");
    let row = row_of(&opted_out, &[]);
    assert_eq!(
        (
            row.status.as_str(),
            row.reason.as_deref().map(|r| r.starts_with("not watched"))
        ),
        ("skipped", Some(true))
    );
    let row = row_of(&bad, &[]);
    assert_eq!(row.status, "skipped");
    assert!(
        row.reason
            .as_deref()
            .unwrap_or_default()
            .starts_with("label tidewatch.tag.include: "),
        "{row:?}"
    );

    // Watching is opt-in when the watcher says so: only the container labelled watch=true is.
    let opt_in = [("TIDEWATCH_WATCHER_LOCAL_WATCHBYDEFAULT", "false")];
    assert_eq!(row_of(&tags_only, &opt_in).status, "skipped");
    assert_eq!(row_of(&digest_watched, &opt_in).status, "update-available");
}

#[test]
fn a_watcher_with_a_scope_sees_only_the_containers_of_its_scope() {
    let run = TestRun::new();
    let image = run.image("scoped", "1");
    let scope = run.id().to_string();
    let ours = run.run_with(
        "ours",
        &[
            "--label",
            &format!("com.centurylinklabs.watchtower.scope={scope}"),
        ],
        &image.reference,
        &[],
    );
    let other = run.run("other", &image.reference, &[]);
    let scoped = check(&[("TIDEWATCH_WATCHER_LOCAL_SCOPE", &scope)]);
    assert!(scoped.get(&ours).is_some(), "{}", scoped.out);
    assert!(scoped.get(&other).is_none(), "{}", scoped.out);
    assert_eq!(scoped.rows.len(), 1, "{}", scoped.out);
    let all = check(&[]);
    assert!(all.get(&ours).is_some() && all.get(&other).is_some());
}

#[test]
fn a_watcher_includes_and_excludes_containers_by_name() {
    let run = TestRun::new();
    let image = run.image(&format!("{}:1", run.name("named")), "1");
    let web = run.run("web-1", &image.reference, &[]);
    let web_old = run.run("web-old", &image.reference, &[]);
    let db = run.run("db", &image.reference, &[]);
    let include = format!("{}, {}-web-.*", db.name, run.id());
    let listing = check(&[
        ("TIDEWATCH_WATCHER_LOCAL_INCLUDE", &include),
        (
            "TIDEWATCH_WATCHER_LOCAL_EXCLUDE",
            &format!(".*-old,{}", run.name("nothing")),
        ),
    ]);
    assert!(listing.get(&web).is_some(), "{}", listing.out);
    assert!(listing.get(&db).is_some(), "{}", listing.out);
    assert!(
        listing.get(&web_old).is_none(),
        "excluded:\n{}",
        listing.out
    );
    // Nobody else's containers: each pattern matches a whole name, and only ours do.
    assert_eq!(listing.rows.len(), 2, "{}", listing.out);

    let out = tidewatch(
        &["check"],
        &[("TIDEWATCH_WATCHER_LOCAL_EXCLUDE", "web,(db")],
    );
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(
        out.stderr
            .contains("TIDEWATCH_WATCHER_LOCAL_EXCLUDE: item 2 is not a valid"),
        "{out}"
    );
    assert!(!out.stderr.contains("(db"), "the value is quoted:\n{out}");
}

#[test]
fn a_container_pinned_by_digest_is_skipped_with_the_reason() {
    let run = TestRun::new();
    let registry = run.registry();
    let pushed = run.push(&registry, "pinned", "1.0.0");
    run.push(&registry, "pinned", "1.1.0");
    let by_digest = run.run("digest", &pushed.repo_digest, &[]);
    let tag_and_digest = format!("{}@{}", pushed.reference, pushed.digest);
    let by_both = run.run("both", &tag_and_digest, &[]);

    let listing = check(&[]);
    for (container, image) in [
        (&by_digest, &pushed.repo_digest),
        (&by_both, &tag_and_digest),
    ] {
        let row = listing.row(container);
        assert_eq!(&row.image, image, "{}", listing.out);
        assert_eq!(
            (row.status.as_str(), row.reason.as_deref(), &row.update),
            ("skipped", Some("pinned by digest"), &None),
            "{}",
            listing.out
        );
    }
}

#[test]
fn run_once_json_has_every_documented_field() {
    let run = TestRun::new();
    let registry = run.registry();
    let old = run.push(&registry, "once", "1.0.0");
    let newer = run.push(&registry, "once", "1.1.0");
    let updatable = run.run("updatable", &old.reference, &[]);
    let current = run.run("current", &newer.reference, &[]);
    let by_id = run.run("byid", &old.id, &[]);

    // Exit status aside: other tests' containers on this engine may fail their checks.
    let listing = parse(tidewatch(&["run", "--once", "--json"], &[]));

    let row = listing.row(&updatable);
    assert_matches_engine(&run, row, &updatable);
    assert_eq!(row.status, "update-available", "{}", listing.out);
    assert_eq!(row.reason, None);
    assert_eq!(
        row.update,
        Some(UpdateRow {
            kind: "minor".into(),
            tag: "1.1.0".into(),
            digest: Some(newer.digest.clone()),
            link: None,
        })
    );
    let row = listing.row(&current);
    assert_eq!(
        (row.status.as_str(), &row.reason, &row.update),
        ("up-to-date", &None, &None)
    );
    let row = listing.row(&by_id);
    assert_eq!(row.status, "skipped");
    assert!(
        row.reason.as_deref().is_some_and(|r| !r.is_empty()),
        "{row:?}"
    );
    assert_eq!(row.update, None);
}

#[test]
fn a_watchers_tag_defaults_apply_to_its_containers_and_a_label_wins() {
    let run = TestRun::new();
    let registry = run.registry();
    let current = run.push(&registry, "defaults", "1.4.2");
    let patch = run.push(&registry, "defaults", "1.4.3");
    let minor = run.push(&registry, "defaults", "1.5.0");
    let rc = run.push(&registry, "defaults", "1.6.0-rc1");
    let plain = run.run("plain", &current.reference, &[]);
    // The container's own label (WUD's spelling) wins over the watcher's default.
    let own = run.run_with(
        "own",
        &["--label", r"wud.tag.include=^1\.5\."],
        &current.reference,
        &[],
    );
    let only_ours = run.own_names();
    let tag_of = |pushed: &crate::support::Pushed| {
        pushed
            .reference
            .rsplit(':')
            .next()
            .unwrap_or_default()
            .to_string()
    };
    let listing = check(&[
        ("TIDEWATCH_WATCHER_LOCAL_INCLUDE", &only_ours),
        // Only patches of 1.4, pre-releases allowed: the rc would win, were it not excluded.
        ("TIDEWATCH_WATCHER_LOCAL_TAG_INCLUDE", r"^1\.4\.|-rc"),
        ("TIDEWATCH_WATCHER_LOCAL_TAG_PRERELEASE", "true"),
    ]);
    let update = |c: &Container| {
        let row = listing.row(c);
        row.update.as_ref().map(|u| (u.kind.clone(), u.tag.clone()))
    };
    assert_eq!(
        update(&plain),
        Some(("minor".to_string(), tag_of(&rc))),
        "the watcher lets pre-releases compete:\n{}",
        listing.out
    );
    assert_eq!(
        update(&own),
        Some(("minor".to_string(), tag_of(&minor))),
        "the label's include replaces the watcher's:\n{}",
        listing.out
    );

    let listing = check(&[
        ("TIDEWATCH_WATCHER_LOCAL_INCLUDE", &only_ours),
        ("TIDEWATCH_WATCHER_LOCAL_TAG_INCLUDE", r"^1\.4\."),
    ]);
    assert_eq!(
        listing.row(&plain).update.as_ref().map(|u| u.tag.clone()),
        Some(tag_of(&patch)),
        "{}",
        listing.out
    );

    let out = tidewatch(
        &["check"],
        &[("TIDEWATCH_WATCHER_LOCAL_TAG_EXCLUDE", "(unclosed")],
    );
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(
        out.stderr.contains("TIDEWATCH_WATCHER_LOCAL_TAG_EXCLUDE"),
        "{out}"
    );
    assert!(
        !out.stderr.contains("(unclosed"),
        "the value is quoted:\n{out}"
    );
}
