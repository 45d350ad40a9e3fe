//! Shoutrrr's webhook services (Mattermost, Rocket.Chat, Google Chat, IFTTT) from a Watchtower
//! user's `WATCHTOWER_NOTIFICATION_URL`, sent by the real binary (`tidewatch notify-test`) to a
//! real HTTP receiver standing in for the service: the path and JSON each service reads.

use crate::support::receiver::Receiver;
use crate::support::tidewatch;
use std::time::Duration;

#[test]
fn mattermost_rocketchat_googlechat_and_ifttt_urls_post_what_each_service_reads() {
    let hook = Receiver::start();
    let addr = hook.addr();

    let mattermost = format!("mattermost://watchtower@{addr}/tokS3CRET/ops?disabletls=yes");
    let rocketchat = format!("rocketchat://{addr}/AS3CRET/BS3CRET/@alice?disabletls=yes");
    let googlechat = format!(
        "googlechat://{addr}/v1/spaces/SP/messages?key=kS3CRET&token=tS3CRET&disabletls=yes"
    );
    for url in [&mattermost, &rocketchat, &googlechat] {
        let out = tidewatch(
            &["notify-test", "http.watchtower1"],
            &[("WATCHTOWER_NOTIFICATION_URL", url.as_str())],
        );
        assert!(out.success(), "{url}: {out}");
        assert!(
            !out.stderr.contains("S3CRET") && !out.stdout.contains("S3CRET"),
            "{out}"
        );
    }
    // IFTTT's host is fixed: the user's URL, with its address pointed at the receiver the
    // tidewatch way.
    let ifttt_target = hook.url("/trigger/updated/with/key/kS3CRET");
    let out = tidewatch(
        &["notify-test", "http.watchtower1"],
        &[
            (
                "WATCHTOWER_NOTIFICATION_URL",
                "ifttt://kS3CRET/?events=updated&value1=wt",
            ),
            (
                "TIDEWATCH_TRIGGER_HTTP_WATCHTOWER1_URL",
                ifttt_target.as_str(),
            ),
        ],
    );
    assert!(out.success(), "{out}");

    let requests = hook.wait_for(4, Duration::from_secs(30));
    let on = |path: &str| {
        requests
            .iter()
            .find(|r| r.path().starts_with(path))
            .unwrap_or_else(|| panic!("nothing on {path}: {requests:#?}"))
            .json()
    };
    let posted = on("/hooks/tokS3CRET");
    assert_eq!(posted["username"], "watchtower", "{posted}");
    assert_eq!(posted["channel"], "ops");
    assert!(
        posted["text"].as_str().is_some_and(|t| !t.is_empty()),
        "{posted}"
    );
    let posted = on("/hooks/AS3CRET/BS3CRET");
    assert_eq!(posted["channel"], "@alice", "{posted}");
    assert!(
        posted["text"].as_str().is_some_and(|t| !t.is_empty()),
        "{posted}"
    );
    let chat = requests
        .iter()
        .find(|r| r.path().starts_with("/v1/spaces/SP/messages"))
        .unwrap_or_else(|| panic!("nothing for Google Chat: {requests:#?}"));
    assert_eq!(
        chat.target,
        "/v1/spaces/SP/messages?key=kS3CRET&token=tS3CRET"
    );
    assert!(chat.json()["text"].as_str().is_some_and(|t| !t.is_empty()));
    let posted = on("/trigger/updated/with/key/kS3CRET");
    assert_eq!(posted["value1"], "wt", "{posted}");
    assert!(
        posted["value2"].as_str().is_some_and(|t| !t.is_empty()),
        "{posted}"
    );
    assert_eq!(posted["value3"], "", "{posted}");
}
