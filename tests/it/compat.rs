//! Coming from Watchtower: its flags as a compose file's `command:` passes them, its variables
//! and notification URLs as its users write them (shapes from Watchtower's and shoutrrr's
//! documentation), read by `tidewatch config`, refused with exit 2 when broken, and end to end:
//! an update found on the real engine and registry, applied, and reported to real receivers.

use crate::support::receiver::{Answer, Receiver};
use crate::support::smtp::SmtpSink;
use crate::support::{ImageSpec, Output, TestRun, fresh_store_dir, tidewatch};
use serde_json::json;
use std::time::Duration;

fn stderr_lines(out: &Output) -> Vec<&str> {
    out.stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect()
}

/// The `tidewatch config` line of `key`, which must exist.
#[track_caller]
fn line<'a>(out: &'a Output, key: &str) -> &'a str {
    out.stdout
        .lines()
        .find(|l| l.starts_with(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("no line for {key}:\n{out}"))
}

#[test]
fn watchtower_flags_and_variables_as_users_write_them_are_mapped_with_their_origin() {
    // A compose file's `command: --interval 300 --cleanup --label-enable --include-stopped`,
    // with the notification settings of Watchtower's documentation in `environment:`.
    let out = tidewatch(
        &[
            "config",
            "--interval",
            "300",
            "--cleanup",
            "--label-enable",
            "-S",
            "--stop-timeout=30s",
            // Container names after the command, as `tidewatch config` users add them.
            "web",
            "db",
        ],
        &[
            (
                "WATCHTOWER_NOTIFICATION_URL",
                "discord://discordS3CRET@1234567890 telegram://110201543:telegramS3CRET@telegram?chats=@wtchannel",
            ),
            ("WATCHTOWER_NOTIFICATIONS_HOSTNAME", "nas"),
            ("WATCHTOWER_NOTIFICATION_TITLE_TAG", "home"),
            ("WATCHTOWER_POLL_INTERVAL", "86400"),
            ("WATCHTOWER_ROLLING_RESTART", "true"),
            ("WATCHTOWER_NOTIFICATION_SPLIT_BY_CONTAINER", "true"),
            ("TZ", "Europe/Berlin"),
        ],
    );
    assert!(out.success(), "{out}");
    assert!(
        !out.stdout.contains("S3CRET") && !out.stderr.contains("S3CRET"),
        "{out}"
    );
    for (key, value, origin) in [
        ("watcher.local.interval", "300", "command line (--interval)"),
        ("watcher.local.jitter", "0", "default"),
        (
            "watcher.local.include",
            "\"web,db\"",
            "command line (container names)",
        ),
        (
            "watcher.local.watchbydefault",
            "false",
            "command line (--label-enable)",
        ),
        (
            "watcher.local.watchall",
            "true",
            "command line (--include-stopped)",
        ),
        (
            "trigger.docker.watchtower.prune",
            "true",
            "command line (--cleanup)",
        ),
        (
            "trigger.docker.watchtower.stoptimeout",
            "30",
            "command line (--stop-timeout)",
        ),
        (
            "trigger.discord.watchtower1.url",
            "\"***\"",
            "WATCHTOWER_NOTIFICATION_URL",
        ),
        (
            "trigger.telegram.watchtower2.bottoken",
            "\"***\"",
            "WATCHTOWER_NOTIFICATION_URL",
        ),
        (
            "trigger.telegram.watchtower2.chatid",
            "\"@wtchannel\"",
            "WATCHTOWER_NOTIFICATION_URL",
        ),
        (
            "trigger.discord.watchtower1.batchtitle",
            "\"[home] Watchtower updates on nas\"",
            "WATCHTOWER_NOTIFICATION_URL",
        ),
        // Watchtower's report comes after the updates, split by container: a message each.
        (
            "trigger.discord.watchtower1.when",
            "\"updated\"",
            "WATCHTOWER_NOTIFICATION_URL",
        ),
        (
            "trigger.telegram.watchtower2.mode",
            "\"simple\"",
            "WATCHTOWER_NOTIFICATION_SPLIT_BY_CONTAINER",
        ),
    ] {
        let got = line(&out, key);
        assert!(
            got.starts_with(&format!("{key} = {value} ")) && got.ends_with(&format!("# {origin}")),
            "{key}: {got}\n{out}"
        );
    }
}

#[test]
fn broken_watchtower_settings_exit_2_naming_the_variable_and_never_the_secret() {
    /// (arguments, environment, the error line expected)
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 7] = [
        (
            &["config"],
            &[(
                "WATCHTOWER_NOTIFICATION_TEMPLATE",
                "{{.Host}} {{range .}}{{.Message}}{{end}}",
            )],
            "WATCHTOWER_NOTIFICATION_TEMPLATE: the Go template cannot be translated: `{{.Host}}` has no translation",
        ),
        (
            &["config"],
            &[("WATCHTOWER_POLL_INTERVALL", "300")],
            "WATCHTOWER_POLL_INTERVALL: not a Watchtower setting, did you mean `WATCHTOWER_POLL_INTERVAL`?",
        ),
        (
            &["config"],
            &[(
                "WATCHTOWER_NOTIFICATION_URL",
                "pushbullet://pbS3CRET@device",
            )],
            "WATCHTOWER_NOTIFICATION_URL: notification URL 1 (pushbullet): unknown notification service `pushbullet`",
        ),
        (
            &[
                "config",
                "--notification-url",
                "smtp://u:smtpS3CRET@mail.lan:587/?to=a@lan",
            ],
            &[],
            "command line (--notification-url): notification URL 1 (smtp): the `from` parameter is missing",
        ),
        (
            &["config", "--interval", "often"],
            &[],
            "command line (--interval): expected a number of seconds, 1 or more",
        ),
        (
            &["config"],
            &[
                ("WATCHTOWER_NOTIFICATIONS", "email"),
                ("WATCHTOWER_NOTIFICATION_EMAIL_SERVER", "mail.lan"),
                ("WATCHTOWER_NOTIFICATION_EMAIL_TO", "ops@lan"),
            ],
            "WATCHTOWER_NOTIFICATION_EMAIL_FROM: required by WATCHTOWER_NOTIFICATIONS=email",
        ),
        (
            &["config", "--schedule", "0 0 4 * * *"],
            &[("WATCHTOWER_POLL_INTERVAL", "300")],
            "WATCHTOWER_POLL_INTERVAL: set either this or command line (--schedule), not both",
        ),
    ];
    for (args, env, expected) in cases {
        let out = tidewatch(args, env);
        assert_eq!(out.status.code(), Some(2), "{out}");
        let lines = stderr_lines(&out);
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("tidewatch: configuration error: {expected}"))),
            "{expected}\n{out}"
        );
        assert!(!out.stderr.contains("S3CRET"), "{out}");
        assert!(out.stdout.is_empty(), "{out}");
    }
    // An unknown flag is clap's usage error: exit 2 too.
    let out = tidewatch(&["config", "--intervall", "300"], &[]);
    assert_eq!(out.status.code(), Some(2), "{out}");
}

/// Answers as Telegram's, Slack's, Gotify's, ntfy's, Pushover's and Matrix's APIs all accept
/// (Matrix reads a login's token and a join's room from it).
fn accepted() -> Answer {
    Answer::json(
        200,
        json!({ "ok": true, "id": 1, "status": 1, "result": { "message_id": 7 },
                "access_token": "mxTOKEN", "room_id": "!room:lan" }),
    )
}

/// Watchtower's documented template for its session report.
const REPORT_TEMPLATE: &str = r#"{{- if .Report -}}
  {{- with .Report -}}
    {{- if ( or .Updated .Failed ) -}}
{{len .Scanned}} Scanned, {{len .Updated}} Updated, {{len .Failed}} Failed
      {{- range .Updated}}
- {{.Name}} ({{.ImageName}}): {{.CurrentImageID.ShortID}} updated to {{.LatestImageID.ShortID}}
      {{- end -}}
      {{- range .Fresh}}
- {{.Name}} ({{.ImageName}}): {{.State}}
      {{- end -}}
      {{- range .Skipped}}
- {{.Name}} ({{.ImageName}}): {{.State}}: {{.Error}}
      {{- end -}}
      {{- range .Failed}}
- {{.Name}} ({{.ImageName}}): {{.State}}: {{.Error}}
      {{- end -}}
    {{- end -}}
  {{- end -}}
{{- else -}}
  {{range .Entries -}}{{.Message}}{{"\n"}}{{- end -}}
{{- end -}}"#;

#[test]
fn run_once_cleanup_web_updates_web_only_and_every_notification_url_gets_the_report() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "web", "1.0.0");
    let v2 = run.push(&registry, "web", "1.1.0");
    let web = run.run("web", &v1.reference, &[]);
    let other = run.run("other", &v1.reference, &[]);
    let apis = Receiver::always(accepted());
    let sink = SmtpSink::plain();
    let urls = [
        format!("generic+http://{}/hook?template=json", apis.addr()),
        format!(
            "smtp://{}:{}/?from=watchtower@lan&to=ops@lan&encryption=None",
            "127.0.0.1",
            sink.port()
        ),
        "telegram://110201543:tgS3CRET@telegram?chats=@opschannel".to_string(),
        format!("gotify://{}/AgotifyS3CRET?disabletls=yes", apis.addr()),
        format!("ntfy://{}/updates?scheme=http", apis.addr()),
        "slack://xoxb:1-2-slackS3CRET@C0CHANNEL".to_string(),
        "pushover://shoutrrr:poS3CRET@uQiRzpo4DXghDmr9QzzfQu27cmVRsG/?devices=phone".to_string(),
        format!(
            "matrix://bot:mxS3CRET@{}/?rooms=ops:lan&disabletls=yes",
            apis.addr()
        ),
    ]
    .join(" ");
    let api = apis.url("/api");
    let store = fresh_store_dir();
    let out = tidewatch(
        &["--run-once", "--cleanup", "--stop-timeout", "1s", &web.name],
        &[
            ("WATCHTOWER_NOTIFICATION_URL", urls.as_str()),
            ("WATCHTOWER_NOTIFICATIONS_HOSTNAME", "testhost"),
            // The report template of Watchtower's documentation.
            ("WATCHTOWER_NOTIFICATION_TEMPLATE", REPORT_TEMPLATE),
            // The APIs with a fixed address, pointed at the test's server the tidewatch way.
            ("TIDEWATCH_TRIGGER_TELEGRAM_WATCHTOWER3_API", api.as_str()),
            ("TIDEWATCH_TRIGGER_SLACK_WATCHTOWER6_API", api.as_str()),
            ("TIDEWATCH_TRIGGER_PUSHOVER_WATCHTOWER7_API", api.as_str()),
            ("TIDEWATCH_TRIGGER_DOCKER_WATCHTOWER_SETTLE", "1"),
            ("TIDEWATCH_STORE_PATH", store.to_str().unwrap()),
        ],
    );
    assert!(out.status.success(), "{out}");
    assert!(!out.stderr.contains("S3CRET"), "{out}");
    assert_eq!(
        run.inspect(&web.name, "{{.Config.Image}}"),
        v2.reference,
        "web updated: {out}"
    );
    assert_eq!(
        run.inspect(&other.name, "{{.Id}} {{.Config.Image}}"),
        format!("{} {}", other.id, v1.reference),
        "the container not named is untouched: {out}"
    );
    let requests = apis.wait_for(9, Duration::from_secs(30));
    let by_path = |prefix: &str| {
        requests
            .iter()
            .find(|r| r.path().starts_with(prefix))
            .unwrap_or_else(|| panic!("nothing on {prefix}: {requests:#?}\n{out}"))
    };
    let hook = by_path("/hook").json();
    assert_eq!(hook["title"], "Watchtower updates on testhost", "{hook}");
    let message = hook["message"].as_str().unwrap_or_default();
    assert_eq!(
        message,
        format!(
            "1 Scanned, 1 Updated, 0 Failed\n- {} ({}): 1.0.0 updated to 1.1.0",
            web.name, v1.reference
        ),
        "{hook}"
    );
    let telegram = by_path("/api/bot110201543:tgS3CRET/sendMessage").json();
    assert_eq!(telegram["chat_id"], "@opschannel", "{telegram}");
    assert!(
        telegram["text"]
            .as_str()
            .unwrap_or_default()
            .contains(&web.name),
        "{telegram}"
    );
    let gotify = by_path("/message");
    assert_eq!(
        gotify.header("X-Gotify-Key"),
        Some("AgotifyS3CRET"),
        "{gotify:?}"
    );
    assert_eq!(gotify.json()["title"], "Watchtower updates on testhost");
    // ntfy takes the topic in the JSON it is posted at its root.
    let ntfy = requests
        .iter()
        .filter_map(|r| serde_json::from_str::<serde_json::Value>(&r.text()).ok())
        .find(|body| body["topic"] == "updates")
        .unwrap_or_else(|| panic!("nothing for ntfy: {requests:#?}"));
    assert!(
        ntfy["message"]
            .as_str()
            .unwrap_or_default()
            .contains(&web.name),
        "{ntfy}"
    );
    let slack = by_path("/api/chat.postMessage");
    assert_eq!(
        slack.header("Authorization"),
        Some("Bearer xoxb-1-2-slackS3CRET")
    );
    assert_eq!(slack.json()["channel"], "C0CHANNEL");
    let pushover = by_path("/api/1/messages.json").text();
    for field in [
        "token=poS3CRET",
        "user=uQiRzpo4DXghDmr9QzzfQu27cmVRsG",
        "device=phone",
        "title=Watchtower+updates+on+testhost",
    ] {
        assert!(pushover.contains(field), "{field} in {pushover}");
    }
    assert!(pushover.contains(&web.name), "{pushover}");
    let login = by_path("/_matrix/client/v3/login").json();
    assert_eq!(login["identifier"]["user"], "bot", "{login}");
    assert_eq!(login["password"], "mxS3CRET");
    by_path("/_matrix/client/v3/join/%23ops:lan");
    let posted = by_path("/_matrix/client/v3/rooms/!room:lan/send/m.room.message/");
    assert_eq!(posted.header("Authorization"), Some("Bearer mxTOKEN"));
    let text = posted.json()["body"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(text.starts_with("Watchtower updates on testhost"), "{text}");
    assert!(text.contains(&web.name), "{text}");
    let mail = sink.wait_for(1, Duration::from_secs(30));
    assert_eq!(
        mail[0].subject, "Watchtower updates on testhost",
        "{mail:#?}"
    );
    assert_eq!(mail[0].rcpt_tos, ["ops@lan"]);
    assert!(mail[0].text().contains(&web.name), "{mail:#?}");
}

#[test]
fn a_diun_setup_notifies_its_webhook_and_mail_of_an_update_and_never_applies_it() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "app", "1.0.0");
    run.push(&registry, "app", "1.1.0");
    // A new tag is Diun's news only for a container watching its repository.
    let labels = [
        "--label",
        "diun.enable=true",
        "--label",
        "diun.watch_repo=true",
    ];
    let app = run.run_with("app", &labels, &v1.reference, &[]);
    let hook = Receiver::always(Answer::status(200));
    let sink = SmtpSink::plain();
    let endpoint = hook.url("/diun");
    let port = sink.port().to_string();
    // Diun's documented docker-compose environment.
    let out = tidewatch(
        &["run", "--once"],
        &[
            ("TZ", "Europe/Paris"),
            ("DIUN_WATCH_WORKERS", "20"),
            ("DIUN_WATCH_SCHEDULE", "0 */6 * * *"),
            ("DIUN_WATCH_JITTER", "30s"),
            ("DIUN_PROVIDERS_DOCKER", "true"),
            ("DIUN_NOTIF_WEBHOOK_ENDPOINT", endpoint.as_str()),
            ("DIUN_NOTIF_WEBHOOK_METHOD", "POST"),
            (
                "DIUN_NOTIF_WEBHOOK_HEADERS_AUTHORIZATION",
                "Bearer hookS3CRET",
            ),
            ("DIUN_NOTIF_MAIL_HOST", "127.0.0.1"),
            ("DIUN_NOTIF_MAIL_PORT", port.as_str()),
            ("DIUN_NOTIF_MAIL_FROM", "diun@lan"),
            ("DIUN_NOTIF_MAIL_TO", "ops@lan"),
            // Only this test's container, on the shared engine.
            ("TIDEWATCH_WATCHER_LOCAL_INCLUDE", app.name.as_str()),
        ],
    );
    assert!(out.status.success(), "{out}");
    assert!(!out.stderr.contains("S3CRET"), "{out}");
    let requests = hook.wait_for(1, Duration::from_secs(30));
    let request = &requests[0];
    assert_eq!(request.path(), "/diun");
    assert_eq!(request.header("Authorization"), Some("Bearer hookS3CRET"));
    assert!(request.text().contains(&app.name), "{}", request.text());
    assert!(request.text().contains("1.1.0"), "{}", request.text());
    let mail = sink.wait_for(1, Duration::from_secs(30));
    assert_eq!(mail[0].rcpt_tos, ["ops@lan"]);
    assert!(mail[0].text().contains(&app.name), "{mail:#?}");
    assert_eq!(
        run.inspect(&app.name, "{{.Id}} {{.Config.Image}}"),
        format!("{} {}", app.id, v1.reference),
        "Diun only notifies: {out}"
    );
}

#[test]
fn wud_javascript_templates_are_translated_and_an_expression_is_refused_naming_its_variable() {
    let url = "http://127.0.0.1:9/hook";
    let out = tidewatch(
        &["config"],
        &[
            ("WUD_TRIGGER_HTTP_HOOK_URL", url),
            (
                "WUD_TRIGGER_HTTP_HOOK_SIMPLETITLE",
                "New version for ${container.name}: ${container.updateKind.remoteValue}",
            ),
        ],
    );
    assert!(out.success(), "{out}");
    let out = tidewatch(
        &["config"],
        &[
            ("WUD_TRIGGER_HTTP_HOOK_URL", url),
            (
                "WUD_TRIGGER_HTTP_HOOK_SIMPLEBODY",
                "${container.name}${container.result ? container.result.link : ''}",
            ),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(
        out.stderr.contains("WUD_TRIGGER_HTTP_HOOK_SIMPLEBODY")
            && out.stderr.contains("JavaScript expression"),
        "{out}"
    );
}

/// What a receiver got on `path` (every request, in order), as text.
fn posted(requests: &[crate::support::receiver::Recorded], path: &str) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.path().starts_with(path))
        .map(|r| r.text())
        .collect()
}

#[test]
fn watchtowers_report_comes_after_the_updates_and_says_failed_for_an_update_rolled_back() {
    let run = TestRun::new();
    let registry = run.registry();
    let web1 = run.push(&registry, "web", "1.0.0");
    run.push(&registry, "web", "1.1.0");
    let broken1 = run.push(&registry, "broken", "1.0.0");
    // Its new version exits at once: the settle gate rolls it back.
    run.push_spec(
        &registry,
        "broken",
        "1.1.0",
        &ImageSpec::version("1.1.0").cmd(&["sh", "-c", "exit 3"]),
    );
    let web = run.run("web", &web1.reference, &[]);
    let broken = run.run("broken", &broken1.reference, &[]);
    let apis = Receiver::always(Answer::status(204));
    // Discord's and Teams' URLs as Watchtower's users write them, delivered to the test's
    // receiver by setting the trigger's webhook the tidewatch way.
    let urls = [
        format!("generic+http://{}/hook?template=json", apis.addr()),
        "discord://discordS3CRET@1234567890".to_string(),
        "teams://group@tenant/altId/groupOwner?host=example.webhook.office.com".to_string(),
    ]
    .join(" ");
    let (discord, teams) = (apis.url("/discord"), apis.url("/teams"));
    let store = fresh_store_dir();
    let out = tidewatch(
        &[
            "--run-once",
            "--notification-report",
            "--stop-timeout",
            "1s",
            &web.name,
            &broken.name,
        ],
        &[
            ("WATCHTOWER_NOTIFICATION_URL", urls.as_str()),
            ("WATCHTOWER_NOTIFICATIONS_HOSTNAME", "testhost"),
            (
                "TIDEWATCH_TRIGGER_DISCORD_WATCHTOWER2_URL",
                discord.as_str(),
            ),
            ("TIDEWATCH_TRIGGER_TEAMS_WATCHTOWER3_URL", teams.as_str()),
            ("TIDEWATCH_TRIGGER_DOCKER_WATCHTOWER_SETTLE", "2"),
            ("TIDEWATCH_STORE_PATH", store.to_str().unwrap()),
        ],
    );
    assert!(!out.stderr.contains("S3CRET"), "{out}");
    assert_eq!(
        run.inspect(&broken.name, "{{.Id}} {{.Config.Image}}"),
        format!("{} {}", broken.id, broken1.reference),
        "broken rolled back: {out}"
    );
    let requests = apis.wait_for(3, Duration::from_secs(30));
    let hook = posted(&requests, "/hook");
    assert_eq!(hook.len(), 1, "one report per session: {hook:?}\n{out}");
    let hook: serde_json::Value = serde_json::from_str(&hook[0]).unwrap();
    let message = hook["message"].as_str().unwrap_or_default();
    let lines: Vec<&str> = message.lines().collect();
    assert_eq!(
        lines[0], "2 Scanned, 1 Updated, 1 Failed",
        "{message}\n{out}"
    );
    assert!(
        lines.contains(
            &format!(
                "- {} ({}): 1.0.0 updated to 1.1.0",
                web.name, web1.reference
            )
            .as_str()
        ),
        "{message}"
    );
    let failed = format!("- {} ({}): Failed: ", broken.name, broken1.reference);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&failed) && l.contains("exit code 3")),
        "the rollback's reason is the .Error: {message}"
    );
    assert!(
        !message.contains(&format!(
            "{} ({}): 1.0.0 updated",
            broken.name, broken1.reference
        )),
        "{message}"
    );
    // Discord and Teams get the same report, and their per-update parts say what became of each.
    for (path, what) in [("/discord", "Discord"), ("/teams", "Teams")] {
        let got = posted(&requests, path);
        assert_eq!(got.len(), 1, "{what}: {got:?}\n{out}");
        assert!(
            got[0].contains("2 Scanned, 1 Updated, 1 Failed"),
            "{what}: {}",
            got[0]
        );
        assert!(
            got[0].contains("Watchtower updates on testhost"),
            "{what}: {}",
            got[0]
        );
        assert!(got[0].contains(": Failed"), "{what}: {}", got[0]);
    }
}

#[test]
fn split_by_container_sends_a_message_per_updated_container_after_its_update() {
    let run = TestRun::new();
    let registry = run.registry();
    let web1 = run.push(&registry, "web", "1.0.0");
    run.push(&registry, "web", "1.1.0");
    let api1 = run.push(&registry, "api", "2.0.0");
    run.push(&registry, "api", "2.1.0");
    let web = run.run("web", &web1.reference, &[]);
    let api = run.run("api", &api1.reference, &[]);
    let apis = Receiver::always(Answer::status(204));
    let hook = format!("generic+http://{}/hook?template=json", apis.addr());
    let store = fresh_store_dir();
    let out = tidewatch(
        &["--run-once", "--stop-timeout", "1s", &web.name, &api.name],
        &[
            ("WATCHTOWER_NOTIFICATION_URL", hook.as_str()),
            ("WATCHTOWER_NOTIFICATION_REPORT", "true"),
            ("WATCHTOWER_NOTIFICATION_SPLIT_BY_CONTAINER", "true"),
            ("TIDEWATCH_TRIGGER_DOCKER_WATCHTOWER_SETTLE", "1"),
            ("TIDEWATCH_STORE_PATH", store.to_str().unwrap()),
        ],
    );
    assert!(out.status.success(), "{out}");
    let requests = apis.wait_for(2, Duration::from_secs(30));
    let mut messages: Vec<String> = posted(&requests, "/hook")
        .iter()
        .map(|text| {
            let body: serde_json::Value = serde_json::from_str(text).unwrap();
            body["message"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    messages.sort();
    let mut expected = vec![
        format!(
            "1 Scanned, 1 Updated, 0 Failed\n- {} ({}): 1.0.0 updated to 1.1.0",
            web.name, web1.reference
        ),
        format!(
            "1 Scanned, 1 Updated, 0 Failed\n- {} ({}): 2.0.0 updated to 2.1.0",
            api.name, api1.reference
        ),
    ];
    expected.sort();
    assert_eq!(messages, expected, "{out}");
}

/// Watchtower's `--health-check` is a health check, as in Watchtower: the daemon's verdict, and
/// never a second daemon.
#[test]
fn watchtowers_health_check_flag_is_the_daemons_health_not_a_daemon() {
    let run = TestRun::new();
    // A container for the daemon to check: its row's stamp is what the health check reads.
    let registry = run.registry();
    let image = run.push(&registry, "web", "1.0.0");
    run.run("web", &image.reference, &[]);
    let store = fresh_store_dir();
    let store = store.to_str().expect("UTF-8");
    let ours = run.own_names();
    let env = [
        ("TIDEWATCH_STORE_PATH", store),
        ("TIDEWATCH_WATCHER_LOCAL_INCLUDE", ours.as_str()),
    ];
    // Nothing checked yet: unhealthy, and it returns at once rather than watching.
    let out = tidewatch(&["--health-check"], &env);
    assert_eq!(out.status.code(), Some(1), "{out}");
    assert!(out.stdout.contains("no store yet"), "{out}");
    assert!(!out.stderr.contains("Watcher started."), "{out}");

    let mut daemon = crate::run::Daemon::start(&env);
    crate::run::daemon_wait(&mut daemon, "Check completed.", 1);
    for (args, extra) in [
        (&["--health-check"][..], None),
        (&[][..], Some(("WATCHTOWER_HEALTH_CHECK", "true"))),
    ] {
        let mut env = env.to_vec();
        env.extend(extra);
        // The store records the check a moment after it is logged.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let out = loop {
            let out = tidewatch(args, &env);
            if out.status.success() || std::time::Instant::now() > deadline {
                break out;
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        assert!(out.status.success(), "{out}");
        assert!(out.stdout.contains("healthy: last check of local"), "{out}");
        assert!(!out.stderr.contains("Watcher started."), "{out}");
    }
    let status = daemon.terminate();
    assert!(status.success(), "{status:?}");
}
