//! Coming from Diun with a private registry: its registry options (`DIUN_REGOPTS_*`, or
//! `regopts:` in diun.yml) are the logins tidewatch checks with, end to end on the real engine
//! and two loopback registries that want a login. An image regopt logs in to its registry for
//! every container on it; a name regopt only for the containers whose `diun.regopt` label names
//! it. Without them the same check fails to authenticate.

use crate::support::{Output, RegistryOptions, TestRun, tidewatch};

const PASSWORD_A: &str = "regA-S3CRET-pw";
const PASSWORD_B: &str = "regB-S3CRET-pw";

/// The `check --json` row of the container named `name`.
#[track_caller]
fn row<'a>(report: &'a serde_json::Value, name: &str, out: &Output) -> &'a serde_json::Value {
    report["containers"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["name"] == name))
        .unwrap_or_else(|| panic!("no row for {name}:\n{out}"))
}

/// `tidewatch check --json` with `env`: it must succeed, print no secret, and give JSON.
#[track_caller]
fn check(env: &[(&str, &str)]) -> (serde_json::Value, Output) {
    let out = tidewatch(&["check", "--json"], env);
    assert!(out.status.success(), "{out}");
    for text in [&out.stdout, &out.stderr] {
        assert!(!text.contains("S3CRET"), "a password leaked:\n{out}");
    }
    let report = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|err| panic!("stdout is not JSON ({err}):\n{out}"));
    (report, out)
}

#[test]
fn diuns_regopts_log_in_by_image_and_by_the_diun_regopt_label() {
    let run = TestRun::new();
    let a = run.registry_with(RegistryOptions::default().basic_auth("alice", PASSWORD_A));
    let b = run.registry_with(RegistryOptions::default().basic_auth("bob", PASSWORD_B));
    let app = run.push(&a, "team/app", "1.0.0");
    let lib = run.push(&b, "lib", "2.0.0");
    // Diun's labels: watched, offered newer tags (Diun's `watch_repo`), and for `lib` the
    // regopt to log in with; `stray` names a regopt that does not exist.
    let watched = [
        "--label",
        "diun.enable=true",
        "--label",
        "diun.watch_repo=true",
    ];
    let on_a = run.run_with("on-a", &watched, &app.reference, &[]);
    let mut labelled = watched.to_vec();
    labelled.extend(["--label", "diun.regopt=bobs-registry"]);
    let on_b = run.run_with("on-b", &labelled, &lib.reference, &[]);
    let mut stray = watched.to_vec();
    stray.extend(["--label", "diun.regopt=nobody"]);
    let stray = run.run_with("stray", &stray, &lib.reference, &[]);
    // The news each registry has only for those who log in.
    run.push(&a, "team/app", "1.1.0");
    run.push(&b, "lib", "2.1.0");

    let secrets = tempfile::tempdir().expect("a temporary folder");
    let password_file = secrets.path().join("bob");
    std::fs::write(&password_file, format!("{PASSWORD_B}\n")).expect("password file written");
    let password_file = password_file.to_str().expect("a UTF-8 path");
    let own = run.own_names();
    let image_name = format!("{}/team", a.addr());
    // Only this test's containers on the shared engine, as a Diun setup (watched by label).
    let base = [
        ("TIDEWATCH_WATCHER_LOCAL_INCLUDE", own.as_str()),
        ("DIUN_WATCH_SCHEDULE", "0 */6 * * *"),
        ("DIUN_PROVIDERS_DOCKER_WATCHBYDEFAULT", "false"),
    ];
    let mut env = base.to_vec();
    env.extend([
        ("DIUN_REGOPTS_0_NAME", image_name.as_str()),
        ("DIUN_REGOPTS_0_SELECTOR", "image"),
        ("DIUN_REGOPTS_0_USERNAME", "alice"),
        ("DIUN_REGOPTS_0_PASSWORD", PASSWORD_A),
        ("DIUN_REGOPTS_1_NAME", "bobs-registry"),
        ("DIUN_REGOPTS_1_USERNAME", "bob"),
        ("DIUN_REGOPTS_1_PASSWORDFILE", password_file),
    ]);

    // `tidewatch config`: the logins, each value naming its variable, passwords masked.
    let out = tidewatch(&["config"], &env);
    out.assert_success();
    assert!(!out.stdout.contains("S3CRET") && !out.stderr.contains("S3CRET"));
    for expected in [
        format!(
            "registry.custom.diun0.url = \"{}\"  # DIUN_REGOPTS_0_NAME",
            a.addr()
        ),
        "registry.custom.diun0.login = \"alice\"  # DIUN_REGOPTS_0_USERNAME".to_string(),
        "registry.custom.diun0.password = \"***\"  # DIUN_REGOPTS_0_PASSWORD".to_string(),
        "registry.login.bobs-registry.login = \"bob\"  # DIUN_REGOPTS_1_USERNAME".to_string(),
        "registry.login.bobs-registry.password = \"***\"  # DIUN_REGOPTS_1_PASSWORDFILE"
            .to_string(),
    ] {
        // The columns are aligned: compared word by word.
        let words = |l: &str| l.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            out.stdout.lines().any(|l| words(l) == words(&expected)),
            "{expected}\n{out}"
        );
    }
    // The path in the image regopt's name is wider here: said once, by the variable.
    assert!(
        out.stderr
            .contains("DIUN_REGOPTS_0_NAME: the login applies to every image on"),
        "{out}"
    );

    // The check logs in: the image regopt for `a`, the labelled one for `b`.
    let (report, out) = check(&env);
    // Each finds its newer tag, through the login meant for it.
    let both_found = |report: &serde_json::Value, out: &Output| {
        for (container, tag) in [(&on_a, "1.1.0"), (&on_b, "2.1.0")] {
            let row = row(report, &container.name, out);
            assert_eq!(
                row["status"], "update-available",
                "{}:\n{out}",
                container.name
            );
            assert_eq!(row["update"]["tag"], tag, "{}:\n{out}", container.name);
        }
    };
    both_found(&report, &out);
    let stray = row(&report, &stray.name, &out);
    assert_eq!(stray["status"], "failed", "{out}");
    assert!(
        stray["reason"]
            .as_str()
            .is_some_and(|r| r.contains("`nobody`")),
        "{out}"
    );

    // The same regopts in diun.yml, as Diun's documentation writes them.
    let dir = tempfile::tempdir().expect("a temporary folder");
    let yml = dir.path().join("diun.yml");
    std::fs::write(
        &yml,
        format!(
            r#"
watch:
  schedule: "0 */6 * * *"
providers:
  docker:
    watchByDefault: false
regopts:
  - name: "{image_name}"
    selector: image
    username: alice
    password: {PASSWORD_A}
  - name: "bobs-registry"
    username: bob
    passwordFile: {password_file}
"#
        ),
    )
    .expect("diun.yml written");
    let (report, out) = check(&[
        ("TIDEWATCH_WATCHER_LOCAL_INCLUDE", own.as_str()),
        ("CONFIG", yml.to_str().expect("a UTF-8 path")),
    ]);
    both_found(&report, &out);

    // Without the regopts, neither registry lets the check in.
    let (report, out) = check(&base);
    for container in [&on_a, &on_b] {
        let row = row(&report, &container.name, &out);
        assert_eq!(row["status"], "failed", "{}:\n{out}", container.name);
        assert!(
            row["reason"]
                .as_str()
                .is_some_and(|r| r.contains("unauthorized")),
            "{}:\n{out}",
            container.name
        );
    }
    // bob's login serves only the containers that name it: `a`'s stays locked out.
    let mut unlabelled = base.to_vec();
    unlabelled.extend([
        ("DIUN_REGOPTS_0_NAME", "bobs-registry"),
        ("DIUN_REGOPTS_0_USERNAME", "bob"),
        ("DIUN_REGOPTS_0_PASSWORD", PASSWORD_B),
    ]);
    let (report, out) = check(&unlabelled);
    assert_eq!(row(&report, &on_b.name, &out)["status"], "update-available");
    assert_eq!(row(&report, &on_a.name, &out)["status"], "failed", "{out}");
}

/// Two logins on one bearer registry: each gets a token of its own for the same repository,
/// fetched with its own credentials, and each is reused only for its own login.
#[tokio::test]
async fn a_named_login_gets_tokens_of_its_own_on_a_shared_registry() {
    use crate::support::rogue::{Reply, Rogue};
    use crate::support::token_server::{TokenPolicy, TokenServer};
    use base64::Engine as _;
    use tidewatch::config::{NamedLogin, RegistriesConfig, Secret};
    use tidewatch::model::reference::ImageRef;
    use tidewatch::registry::{ClientSettings, RegistryClient};

    let tokens = TokenServer::opaque(TokenPolicy::default());
    let rogue = Rogue::start();
    let challenge = format!("Bearer realm=\"{}\",service=\"rogue\"", tokens.realm());
    rogue.route(
        "GET",
        "/v2/",
        vec![Reply::status(401).header("WWW-Authenticate", &challenge)],
    );
    let digest = format!("sha256:{}", "cd".repeat(32));
    rogue.route(
        "HEAD",
        "/v2/app/manifests/1.0.0",
        vec![
            Reply::status(200)
                .header("Docker-Content-Digest", &digest)
                .header(
                    "Content-Type",
                    "application/vnd.docker.distribution.manifest.v2+json",
                ),
        ],
    );
    let mut config = RegistriesConfig::default();
    config.login.insert(
        "ci".into(),
        NamedLogin {
            login: Some("ci".into()),
            password: Some(Secret::new("ci-S3CRET")),
        },
    );
    let client = RegistryClient::new(&config, ClientSettings::default()).expect("a client");
    let image = ImageRef::parse(&format!("{}/app:1.0.0", rogue.addr())).expect("a reference");

    // Twice each, in two sessions: the second time, each login's token is reused.
    for _ in 0..2 {
        let session = client.session();
        for login in [None, Some("ci")] {
            let got = session.manifest_digest(&image, login).await;
            assert_eq!(got.map(|r| r.digest), Ok(digest.clone()), "{login:?}");
        }
    }

    let requests = tokens.tidewatch_requests();
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("ci:ci-S3CRET")
    );
    let shown: Vec<Option<&str>> = requests
        .iter()
        .map(|r| r.authorization.as_deref())
        .collect();
    assert_eq!(shown, [None, Some(basic.as_str())], "one token per login");
    let issued: Vec<String> = requests
        .iter()
        .map(|r| format!("Bearer {}", r.token.clone().expect("issued")))
        .collect();
    let heads: Vec<String> = rogue
        .hits()
        .iter()
        .filter(|h| h.method == "HEAD")
        .map(|h| h.header("authorization").unwrap_or_default().to_string())
        .collect();
    assert_ne!(issued[0], issued[1]);
    assert_eq!(
        heads,
        [issued[0].as_str(), &issued[1], &issued[0], &issued[1]],
        "each login shows its own token"
    );
}

/// The named login also pulls: a docker trigger (tidewatch's own setup; Diun's never updates)
/// re-creates a container labelled `tidewatch.login` on the new image of a registry that
/// wants that login, which the engine itself does not have.
#[test]
fn a_named_login_pulls_the_new_image_of_the_container_that_names_it() {
    let run = TestRun::new();
    let registry = run.registry_with(RegistryOptions::default().basic_auth("ci", PASSWORD_A));
    let v1 = run.push(&registry, "app", "1.0.0");
    let v2 = run.push(&registry, "app", "1.1.0");
    // Only the registry has 1.1.0: the update must pull it, and the pull must log in.
    run.docker(&["rmi", &v2.reference]);
    let old = run.run_with(
        "pulled",
        &["--label", "tidewatch.login=ci"],
        &v1.reference,
        &[],
    );
    let store = crate::support::fresh_store_dir();
    let store = store.to_str().expect("a UTF-8 path");
    let own = run.own_names();
    let mut env = crate::support::update::docker_trigger_env(&old.name, store);
    env.extend([
        ("TIDEWATCH_WATCHER_LOCAL_INCLUDE", own.as_str()),
        ("TIDEWATCH_REGISTRY_LOGIN_CI_LOGIN", "ci"),
        ("TIDEWATCH_REGISTRY_LOGIN_CI_PASSWORD", PASSWORD_A),
    ]);

    let out = tidewatch(&["run", "--once"], &env);

    assert!(out.stderr.contains("Updated."), "{out}");
    assert!(!out.stdout.contains("S3CRET") && !out.stderr.contains("S3CRET"));
    assert_eq!(run.inspect(&old.name, "{{.Config.Image}}"), v2.reference);
    let version = run.docker(&["exec", &old.name, "cat", "/version"]);
    assert_eq!(version.trim(), "1.1.0");
}
