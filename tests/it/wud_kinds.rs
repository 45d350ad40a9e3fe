//! WUD's Apprise, IFTTT and Rocket.Chat triggers, configured only through `WUD_TRIGGER_*`
//! variables as WUD's documentation writes them, sent by the real binary (`tidewatch
//! notify-test`) to a real HTTP receiver standing in for each service: the path, headers and
//! JSON the service reads, the trigger's options still applied, nothing of a secret printed.

use crate::support::receiver::Receiver;
use crate::support::tidewatch;
use std::time::Duration;

#[test]
fn wuds_apprise_ifttt_and_rocketchat_triggers_post_what_each_service_reads() {
    let hook = Receiver::start();
    let base = hook.url("");
    let base = base.trim_end_matches('/');
    let ifttt = hook.url("/trigger/wud-image/with/key/kS3CRET");
    let env = [
        ("WUD_TRIGGER_APPRISE_LOCAL_URL", base),
        (
            "WUD_TRIGGER_APPRISE_LOCAL_URLS",
            "mailto://me:mailS3CRET@gmail.com",
        ),
        ("WUD_TRIGGER_APPRISE_LOCAL_SIMPLETITLE", "New {{name}}"),
        ("WUD_TRIGGER_IFTTT_HOME_KEY", "kS3CRET"),
        // IFTTT's host is fixed: pointed at the receiver the tidewatch way.
        ("TIDEWATCH_TRIGGER_HTTP_HOME_URL", ifttt.as_str()),
        ("WUD_TRIGGER_ROCKETCHAT_RC_URL", base),
        ("WUD_TRIGGER_ROCKETCHAT_RC_USER_ID", "u1"),
        ("WUD_TRIGGER_ROCKETCHAT_RC_AUTH_TOKEN", "rcS3CRET"),
        ("WUD_TRIGGER_ROCKETCHAT_RC_CHANNEL_ID", "#ops"),
        ("WUD_TRIGGER_ROCKETCHAT_RC_ALIAS", "wud"),
    ];
    let config = tidewatch(&["config"], &env);
    assert!(config.success(), "{config}");
    assert!(!config.stdout.contains("S3CRET") && !config.stderr.contains("S3CRET"));
    for (key, origin) in [
        ("trigger.http.local.url", "WUD_TRIGGER_APPRISE_LOCAL_URL"),
        (
            "trigger.http.local.simpletitle",
            "WUD_TRIGGER_APPRISE_LOCAL_SIMPLETITLE",
        ),
        (
            "trigger.http.rc.headers",
            "WUD_TRIGGER_ROCKETCHAT_RC_USER_ID",
        ),
    ] {
        let line = config
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("no {key}: {config}"));
        assert!(line.ends_with(&format!("# {origin}")), "{line}");
    }
    for trigger in ["http.local", "http.home", "http.rc"] {
        let out = tidewatch(&["notify-test", trigger], &env);
        assert!(out.success(), "{trigger}: {out}");
        assert!(
            !out.stdout.contains("S3CRET") && !out.stderr.contains("S3CRET"),
            "{out}"
        );
    }

    let requests = hook.wait_for(3, Duration::from_secs(30));
    let on = |path: &str| {
        requests
            .iter()
            .find(|r| r.path() == path)
            .unwrap_or_else(|| panic!("nothing on {path}: {requests:#?}"))
    };
    let apprise = on("/notify").json();
    assert_eq!(
        apprise["urls"], "mailto://me:mailS3CRET@gmail.com",
        "{apprise}"
    );
    assert!(
        apprise["title"]
            .as_str()
            .is_some_and(|t| t.starts_with("New ")),
        "the trigger's own title: {apprise}"
    );
    assert!(
        apprise["body"].as_str().is_some_and(|b| !b.is_empty()),
        "{apprise}"
    );
    let posted = on("/trigger/wud-image/with/key/kS3CRET").json();
    assert!(
        posted["value1"].as_str().is_some_and(|v| !v.is_empty()),
        "{posted}"
    );
    assert!(
        posted["value2"].as_str().is_some_and(|v| !v.is_empty()),
        "{posted}"
    );
    assert!(
        posted["value3"].as_str().is_some_and(|v| !v.is_empty()),
        "{posted}"
    );
    let rocket = on("/api/v1/chat.postMessage");
    assert_eq!(rocket.header("X-User-Id"), Some("u1"));
    assert_eq!(rocket.header("X-Auth-Token"), Some("rcS3CRET"));
    let message = rocket.json();
    assert_eq!(message["channel"], "#ops", "{message}");
    assert_eq!(message["alias"], "wud", "{message}");
    assert!(
        message["text"].as_str().is_some_and(|t| !t.is_empty()),
        "{message}"
    );

    // A misspelt option of one of them names the variable the user wrote.
    let out = tidewatch(
        &["config"],
        &[
            ("WUD_TRIGGER_APPRISE_LOCAL_URL", base),
            ("WUD_TRIGGER_APPRISE_LOCAL_CONFIG", "ops"),
            ("WUD_TRIGGER_APPRISE_LOCAL_THRESHOLDD", "minor"),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(
        out.stderr.contains("WUD_TRIGGER_APPRISE_LOCAL_THRESHOLDD"),
        "{out}"
    );
}
