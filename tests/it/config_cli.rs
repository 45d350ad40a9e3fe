//! Configuration errors and `tidewatch config`, driven through the binary as a user would: the
//! exit status, the one line per problem on stderr, and secrets that never show.

use crate::support::{Output, tidewatch};
use std::io::Write;

/// Runs `tidewatch config` with `env`.
fn check(env: &[(&str, &str)]) -> Output {
    tidewatch(&["config"], env)
}

fn stderr_lines(out: &Output) -> Vec<&str> {
    out.stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect()
}

#[test]
fn a_misspelt_variable_exits_2_naming_it_and_the_close_key() {
    let out = check(&[("TIDEWATCH_WATCHER_LOCAL_CRONN", "0 * * * *")]);
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert_eq!(
        stderr_lines(&out),
        [
            "tidewatch: configuration error: TIDEWATCH_WATCHER_LOCAL_CRONN: unknown key `cronn`, did you mean `cron`?"
        ],
        "{out}"
    );
    assert!(out.stdout.is_empty(), "{out}");
}

#[test]
fn every_problem_is_reported_in_one_run() {
    let out = check(&[
        ("TIDEWATCH_WATCHER_LOCAL_CRONN", "0 * * * *"),
        ("TIDEWATCH_WATCHER_LOCAL_PORT", "not-a-port"),
        ("TIDEWATCH_LOG_FORMAT", "jsn"),
    ]);
    assert_eq!(out.status.code(), Some(2), "{out}");
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 3, "{out}");
    for variable in [
        "TIDEWATCH_WATCHER_LOCAL_CRONN",
        "TIDEWATCH_WATCHER_LOCAL_PORT",
        "TIDEWATCH_LOG_FORMAT",
    ] {
        assert!(
            lines.iter().any(|l| l.contains(&format!(": {variable}: "))),
            "{variable} not named:\n{out}"
        );
    }
}

#[test]
fn secrets_from_the_environment_or_a_file_never_show() {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    writeln!(file, "file-s3cret-value").expect("write secret");
    let path = file.path().to_str().expect("utf-8 path").to_string();
    let env = [
        ("TIDEWATCH_REGISTRY_HUB_MAIN_LOGIN", "me"),
        ("TIDEWATCH_REGISTRY_HUB_MAIN_PASSWORD__FILE", path.as_str()),
        ("TIDEWATCH_REGISTRY_GHCR_MAIN_TOKEN", "env-s3cret-value"),
        ("TIDEWATCH_LOG_LEVEL", "trace"),
    ];
    let out = check(&env);
    assert!(out.success(), "{out}");
    assert!(
        !out.stdout.contains("s3cret") && !out.stderr.contains("s3cret"),
        "{out}"
    );
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("registry.hub.main.password = \"***\"")
                && l.contains("TIDEWATCH_REGISTRY_HUB_MAIN_PASSWORD__FILE")),
        "{out}"
    );
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("registry.ghcr.main.token = \"***\"")
                && l.ends_with("# TIDEWATCH_REGISTRY_GHCR_MAIN_TOKEN")),
        "{out}"
    );

    // In an error run too: a typo next to the secrets, at the most verbose log level.
    let mut with_error = env.to_vec();
    with_error.push(("TIDEWATCH_REGISTRY_HUB_MAIN_PASWORD", "env-s3cret-value"));
    let out = check(&with_error);
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(
        !out.stdout.contains("s3cret") && !out.stderr.contains("s3cret"),
        "{out}"
    );
    assert!(out.stderr.contains("did you mean `password`?"), "{out}");
}

#[test]
fn the_effective_configuration_says_where_each_value_came_from() {
    let mut file = tempfile::Builder::new()
        .suffix(".toml")
        .tempfile()
        .expect("temp file");
    writeln!(
        file,
        "[watcher.edge]\nhost = \"10.0.0.9\"\ncron = \"0 3 * * *\""
    )
    .expect("write");
    let path = file.path().to_str().expect("utf-8 path").to_string();
    let out = tidewatch(
        &["--config", &path, "config"],
        &[("TIDEWATCH_WATCHER_EDGE_CRON", "*/10 * * * *")],
    );
    assert!(out.success(), "{out}");
    let line = |key: &str| {
        out.stdout
            .lines()
            .find(|l| l.starts_with(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("{key} not printed:\n{out}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(
        line("watcher.edge.host"),
        format!("watcher.edge.host = \"10.0.0.9\" # {path}: key watcher.edge.host")
    );
    assert_eq!(
        line("watcher.edge.cron"),
        "watcher.edge.cron = \"*/10 * * * *\" # TIDEWATCH_WATCHER_EDGE_CRON"
    );
    assert_eq!(
        line("watcher.edge.port"),
        "watcher.edge.port = 2375 # default"
    );
}

#[test]
fn trigger_mistakes_stop_start_up_naming_the_variable_before_anything_runs() {
    let env = [
        ("TIDEWATCH_TRIGGER_HTTP_HOOK_URL", "http://127.0.0.1:9/hook"),
        (
            "TIDEWATCH_TRIGGER_HTTP_HOOK_SIMPLETITLE",
            "{{contianer}} updated",
        ),
        ("TIDEWATCH_TRIGGER_HTTP_HOOK_INCLUDE", "web("),
    ];
    for args in [&["config"][..], &["run", "--once"][..]] {
        let out = crate::support::tidewatch(args, &env);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out}");
        let lines = stderr_lines(&out);
        assert_eq!(lines.len(), 2, "{out}");
        assert!(
            lines
                .iter()
                .any(|l| l.contains("TIDEWATCH_TRIGGER_HTTP_HOOK_SIMPLETITLE: ")
                    && l.contains("contianer")),
            "{out}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("TIDEWATCH_TRIGGER_HTTP_HOOK_INCLUDE: ")
                    && l.contains("not a regular expression")),
            "{out}"
        );
        assert!(
            !out.stderr.contains("127.0.0.1:9"),
            "the webhook URL is a secret:\n{out}"
        );
    }
}

/// Every line of stderr is a configuration error naming one of `variables`, each is named, and
/// nothing else is said.
#[track_caller]
fn assert_errors_name(out: &Output, variables: &[&str]) {
    assert_eq!(out.status.code(), Some(2), "{out}");
    let lines = stderr_lines(out);
    assert_eq!(lines.len(), variables.len(), "{out}");
    for variable in variables {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("tidewatch: configuration error: {variable}: "))),
            "{variable} not named:\n{out}"
        );
    }
}

#[test]
fn registry_mistakes_stop_every_command_naming_each_variable_and_no_value() {
    let env = [
        // A Google Artifact Registry has no preset host, and a key needs its email's partner.
        (
            "TIDEWATCH_REGISTRY_GAR_X_CLIENTEMAIL",
            "bot-s3cret@example.com",
        ),
        ("TIDEWATCH_REGISTRY_HUB_X_AUTH", "not-base64-s3cret"),
        (
            "TIDEWATCH_REGISTRY_GCR_Y_CLIENTEMAIL",
            "bot-s3cret@example.com",
        ),
        (
            "TIDEWATCH_REGISTRY_CUSTOM_X_URL",
            "https://user:s3cret@reg istry/",
        ),
        ("TIDEWATCH_REGISTRY_CUSTOM_Z_LOGIN", "me"),
        ("TIDEWATCH_REGISTRY_LSCR_X_MAXTAGS", "0"),
        ("TIDEWATCH_REGISTRY_CUSTOM_Z_CONCURRENCY", "500"),
    ];
    let named = [
        "TIDEWATCH_REGISTRY_GAR_X_URL",
        "TIDEWATCH_REGISTRY_GAR_X_PRIVATEKEY",
        "TIDEWATCH_REGISTRY_HUB_X_AUTH",
        "TIDEWATCH_REGISTRY_GCR_Y_PRIVATEKEY",
        "TIDEWATCH_REGISTRY_CUSTOM_X_URL",
        "TIDEWATCH_REGISTRY_CUSTOM_Z_URL",
        "TIDEWATCH_REGISTRY_LSCR_X_MAXTAGS",
        "TIDEWATCH_REGISTRY_CUSTOM_Z_CONCURRENCY",
    ];
    for args in [&["config"][..], &["check"][..], &["run", "--once"][..]] {
        let out = tidewatch(args, &env);
        assert_errors_name(&out, &named);
        assert!(
            !out.stderr.contains("s3cret") && !out.stdout.contains("s3cret"),
            "{args:?}: a value was quoted:\n{out}"
        );
    }

    // The same mistake in the file names the file and its key.
    let mut file = tempfile::Builder::new()
        .suffix(".toml")
        .tempfile()
        .expect("temp file");
    writeln!(file, "[registry.custom.lan]\nurl = \"ftp://registry.lan\"").expect("write");
    let path = file.path().to_str().expect("utf-8 path").to_string();
    let out = tidewatch(&["--config", &path, "config"], &[]);
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert_eq!(
        stderr_lines(&out),
        [format!(
            "tidewatch: configuration error: {path}: key registry.custom.lan.url: the scheme must be http:// or https://"
        )],
        "{out}"
    );
}

#[test]
fn wud_registry_keys_are_accepted_with_their_secrets_masked() {
    let env = [
        ("WUD_REGISTRY_ACR_CORP_CLIENTID", "app-id"),
        ("WUD_REGISTRY_ACR_CORP_CLIENTSECRET", "sp-s3cret"),
        ("TIDEWATCH_REGISTRY_QUAY_ROBOT_NAMESPACE", "acme"),
        ("TIDEWATCH_REGISTRY_QUAY_ROBOT_ACCOUNT", "ci"),
        ("TIDEWATCH_REGISTRY_QUAY_ROBOT_TOKEN", "robot-s3cret"),
        ("TIDEWATCH_REGISTRY_GITLAB_MINE_TOKEN", "glpat-s3cret"),
        (
            "TIDEWATCH_REGISTRY_GITLAB_MINE_AUTHURL",
            "https://gitlab.example.com",
        ),
        ("TIDEWATCH_REGISTRY_CUSTOM_LAN_URL", "127.0.0.1:5000"),
        ("TIDEWATCH_REGISTRY_CUSTOM_LAN_MAXTAGS", "500"),
        ("TIDEWATCH_REGISTRY_CUSTOM_LAN_CONCURRENCY", "2"),
    ];
    let out = check(&env);
    assert!(out.success(), "{out}");
    assert!(!out.stdout.contains("s3cret"), "{out}");
    for expected in [
        "registry.acr.corp.clientid = \"app-id\" # WUD_REGISTRY_ACR_CORP_CLIENTID",
        "registry.acr.corp.clientsecret = \"***\" # WUD_REGISTRY_ACR_CORP_CLIENTSECRET",
        "registry.quay.robot.namespace = \"acme\" # TIDEWATCH_REGISTRY_QUAY_ROBOT_NAMESPACE",
        "registry.quay.robot.account = \"ci\" # TIDEWATCH_REGISTRY_QUAY_ROBOT_ACCOUNT",
        "registry.gitlab.mine.authurl = \"https://gitlab.example.com\" # TIDEWATCH_REGISTRY_GITLAB_MINE_AUTHURL",
        "registry.custom.lan.maxtags = 500 # TIDEWATCH_REGISTRY_CUSTOM_LAN_MAXTAGS",
        "registry.custom.lan.concurrency = 2 # TIDEWATCH_REGISTRY_CUSTOM_LAN_CONCURRENCY",
        "registry.acr.corp.maxtags = 10000 # default",
        "registry.acr.corp.concurrency = 4 # default",
    ] {
        assert!(
            out.stdout
                .lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") == expected),
            "missing {expected:?}:\n{out}"
        );
    }

    // Each kind-specific key belongs to its kind, and paired keys come together.
    let out = check(&[
        ("TIDEWATCH_REGISTRY_HUB_X_CLIENTID", "app-id"),
        ("TIDEWATCH_REGISTRY_GHCR_X_AUTHURL", "https://gitlab.com"),
        ("TIDEWATCH_REGISTRY_QUAY_X_ACCOUNT", "ci"),
        ("TIDEWATCH_REGISTRY_ACR_X_CLIENTSECRET", "sp-s3cret"),
    ]);
    assert_errors_name(
        &out,
        &[
            "TIDEWATCH_REGISTRY_HUB_X_CLIENTID",
            "TIDEWATCH_REGISTRY_GHCR_X_AUTHURL",
            "TIDEWATCH_REGISTRY_QUAY_X_NAMESPACE",
            "TIDEWATCH_REGISTRY_ACR_X_CLIENTID",
        ],
    );
    assert!(!out.stderr.contains("s3cret"), "{out}");
}

#[test]
fn an_unknown_log_level_is_refused_and_filters_are_allowed() {
    let out = check(&[("TIDEWATCH_LOG_LEVEL", "loud")]);
    assert_errors_name(&out, &["TIDEWATCH_LOG_LEVEL"]);
    assert!(out.stderr.contains("unknown log level `loud`"), "{out}");
    let out = check(&[("TIDEWATCH_LOG_LEVEL", "info,degub")]);
    assert_errors_name(&out, &["TIDEWATCH_LOG_LEVEL"]);
    assert!(out.stderr.contains("did you mean `debug`?"), "{out}");
    for fine in [
        "WARN",
        "info,tidewatch::registry=debug",
        "warn,bollard=debug",
        "tidewatch::docker",
        "off",
    ] {
        let out = check(&[("TIDEWATCH_LOG_LEVEL", fine)]);
        assert!(out.success(), "{fine}: {out}");
    }
}

/// At debug and trace, the libraries under tidewatch stay at info: bollard would otherwise
/// print every inspected container whole, its environment with it. Neither that environment
/// nor the registry password tidewatch was given (directly or through a file) shows anywhere.
#[test]
fn debug_and_trace_logs_never_show_environments_or_registry_secrets() {
    let run = crate::support::TestRun::new();
    let password = "pw-marker-s3cret-c0nfig";
    let registry =
        run.registry_with(crate::support::RegistryOptions::default().basic_auth("ci", password));
    let pushed = run.push(&registry, "private/app", "1.0.0");
    let env_marker = "env-marker-s3cret-c0nfig";
    let container = run.run_with(
        "secretive",
        &[
            "--label",
            "tidewatch.watch=true",
            "-e",
            &format!("TIDEWATCH_REGISTRY_HUB_MAIN_PASSWORD={env_marker}"),
            "-e",
            &format!("APP_TOKEN={env_marker}"),
        ],
        &pushed.reference,
        &[],
    );
    let mut secret_file = tempfile::NamedTempFile::new().expect("temp file");
    writeln!(secret_file, "{password}").expect("write secret");
    let file = secret_file.path().to_str().expect("utf-8 path").to_string();
    let url = format!("http://{}", registry.addr());
    for level in ["debug", "trace"] {
        for from_file in [false, true] {
            let mut env = vec![
                ("TIDEWATCH_LOG_LEVEL", level),
                ("TIDEWATCH_WATCHER_LOCAL_WATCHBYDEFAULT", "false"),
                ("TIDEWATCH_REGISTRY_CUSTOM_CI_URL", url.as_str()),
                ("TIDEWATCH_REGISTRY_CUSTOM_CI_LOGIN", "ci"),
            ];
            if from_file {
                env.push(("TIDEWATCH_REGISTRY_CUSTOM_CI_PASSWORD__FILE", file.as_str()));
            } else {
                env.push(("TIDEWATCH_REGISTRY_CUSTOM_CI_PASSWORD", password));
            }

            let out = tidewatch(&["check", "--json"], &env);

            assert!(out.success(), "{level}: {out}");
            let json: serde_json::Value = serde_json::from_str(&out.stdout)
                .unwrap_or_else(|err| panic!("not JSON ({err}):\n{out}"));
            let row = json["containers"]
                .as_array()
                .and_then(|rows| rows.iter().find(|r| r["id"] == container.id.as_str()))
                .unwrap_or_else(|| panic!("container not listed:\n{out}"));
            assert_eq!(row["status"], "up-to-date", "the login was used: {out}");
            assert!(
                out.stderr.contains("DEBUG"),
                "{level}: no debug line at all, so this proves nothing:\n{out}"
            );
            for text in [&out.stdout, &out.stderr] {
                assert!(
                    !text.contains("s3cret"),
                    "{level}, password from file {from_file}: a secret leaked:\n{out}"
                );
            }
        }
    }
}
