//! Unit tests of the store, on a temporary file.

use super::*;
use crate::model::UpdateKind;
use crate::model::finding::Update;

fn listed(name: &str, status: Status, update: Option<(&str, UpdateKind)>) -> ListedContainer {
    ListedContainer {
        watcher: "local".into(),
        kind: crate::model::Kind::Container,
        id: format!("id-{name}"),
        name: name.into(),
        state: "running".into(),
        image: "nginx:1.25.3".into(),
        reference: Some("docker.io/library/nginx:1.25.3".into()),
        reference_error: None,
        image_id: "sha256:00".into(),
        repo_digests: Vec::new(),
        display_name: None,
        status,
        reason: match status {
            Status::Skipped => Some("watch label is false".into()),
            _ => None,
        },
        update: update.map(|(tag, kind)| Update {
            kind,
            tag: tag.into(),
            digest: Some(format!("sha256:{}", "a".repeat(64))),
            link: None,
        }),
        hold: None,
    }
}

fn key(name: &str) -> ContainerKey {
    ContainerKey {
        watcher: "local".into(),
        name: name.into(),
    }
}

#[test]
fn a_new_store_is_created_with_its_folder_and_reopened_without_migrating_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/data/tidewatch.db");
    let store = Store::open(&path).unwrap();
    store
        .record_finding(&listed("web", Status::UpToDate, None))
        .unwrap();
    drop(store);
    let again = Store::open(&path).unwrap();
    assert_eq!(again.containers().unwrap().len(), 1);
    let version: i64 = again
        .with(|c| c.pragma_query_value(None, "user_version", |r| r.get(0)))
        .unwrap();
    assert_eq!(version as usize, schema::MIGRATIONS.len());
}

#[test]
fn a_store_from_a_newer_version_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tidewatch.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::TooNew { found: 99, .. }), "{err}");
    assert!(err.to_string().contains("newer tidewatch"));
}

#[test]
fn the_audit_log_gets_a_line_only_when_a_finding_changes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.db")).unwrap();
    let up = listed("web", Status::UpToDate, None);
    let update = listed(
        "web",
        Status::UpdateAvailable,
        Some(("1.25.4", UpdateKind::Patch)),
    );
    let newer = listed(
        "web",
        Status::UpdateAvailable,
        Some(("1.26.0", UpdateKind::Minor)),
    );
    assert!(store.record_finding(&up).unwrap());
    assert!(!store.record_finding(&up).unwrap());
    assert!(store.record_finding(&update).unwrap());
    assert!(!store.record_finding(&update).unwrap());
    assert!(store.record_finding(&newer).unwrap());
    assert!(store.record_finding(&up).unwrap());
    let events: Vec<String> = store
        .history(None, 100)
        .unwrap()
        .into_iter()
        .map(|e| format!("{} {}", e.event, e.detail))
        .collect();
    assert_eq!(
        events,
        [
            "up-to-date nginx:1.25.3".to_string(),
            format!(
                "update-available nginx:1.25.3 → 1.25.4 (patch), sha256:{}",
                "a".repeat(12)
            ),
            format!(
                "update-available nginx:1.25.3 → 1.26.0 (minor), sha256:{}",
                "a".repeat(12)
            ),
            "up-to-date nginx:1.25.3".to_string(),
        ]
    );
    let state = &store.containers().unwrap()[0];
    assert_eq!(state.status, "up-to-date");
    assert_eq!(state.update_tag, None);
}

#[test]
fn containers_missing_from_a_full_listing_are_forgotten_and_logged() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.db")).unwrap();
    for name in ["a", "b", "c"] {
        store
            .record_finding(&listed(name, Status::UpToDate, None))
            .unwrap();
    }
    let gone = store.forget_missing("local", &["b".to_string()]).unwrap();
    assert_eq!(gone, ["a", "c"]);
    let names: Vec<String> = store
        .containers()
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["b"]);
    assert_eq!(
        store.history(Some("a"), 10).unwrap().last().unwrap().event,
        "removed"
    );
    // Another watcher's containers are not touched by this one's listing.
    assert!(store.forget_missing("edge", &[]).unwrap().is_empty());
}

#[test]
fn what_was_sent_is_remembered_across_a_reopen_per_trigger_and_target() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store = Store::open(&path).unwrap();
    let target = "docker.io/library/nginx:1.25.4@sha256:aa".to_string();
    assert!(
        !store
            .already_sent("smtp.ops", &key("web"), &target)
            .unwrap()
    );
    store
        .mark_sent("smtp.ops", &[(key("web"), target.clone())])
        .unwrap();
    // Marking twice is harmless.
    store
        .mark_sent("smtp.ops", &[(key("web"), target.clone())])
        .unwrap();
    drop(store);
    let store = Store::open(&path).unwrap();
    assert!(
        store
            .already_sent("smtp.ops", &key("web"), &target)
            .unwrap()
    );
    assert!(
        !store
            .already_sent("slack.team", &key("web"), &target)
            .unwrap()
    );
    assert!(!store.already_sent("smtp.ops", &key("db"), &target).unwrap());
    assert!(
        !store
            .already_sent("smtp.ops", &key("web"), "other")
            .unwrap()
    );
}

#[test]
fn history_is_oldest_first_limited_to_the_newest_and_filtered_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.db")).unwrap();
    for i in 0..5 {
        store
            .log(Some(&key("web")), "notified", &format!("n{i}"))
            .unwrap();
        store
            .log(Some(&key("db")), "notified", &format!("d{i}"))
            .unwrap();
    }
    let details: Vec<String> = store
        .history(Some("web"), 3)
        .unwrap()
        .into_iter()
        .map(|e| e.detail)
        .collect();
    assert_eq!(details, ["n2", "n3", "n4"]);
    assert_eq!(store.history(None, 100).unwrap().len(), 10);
}

#[test]
fn short_digests_keep_the_algorithm_and_twelve_digits() {
    assert_eq!(
        short_digest(&format!("sha256:{}", "0123456789abcdef".repeat(4))),
        "sha256:0123456789ab"
    );
    assert_eq!(short_digest("sha256:abc"), "sha256:abc");
}

fn journal_entry(name: &str, step: crate::update::journal::Step) -> crate::update::journal::Entry {
    crate::update::journal::Entry {
        watcher: "local".into(),
        name: name.into(),
        old_id: format!("id-{name}"),
        was_running: true,
        new_id: None,
        new_name: None,
        bound: false,
        step,
    }
}

#[tokio::test]
async fn journal_entries_come_back_in_the_order_written_and_the_sync_is_relaxed_after() {
    use crate::update::journal::{Journal, Step};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.db")).unwrap();
    for name in ["outer", "inner", "web"] {
        store
            .record(&journal_entry(name, Step::Dependent))
            .await
            .unwrap();
    }
    store
        .record(&journal_entry("web", Step::Renaming))
        .await
        .unwrap();
    let names: Vec<(String, Step)> = store
        .journal()
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.step))
        .collect();
    assert_eq!(
        names,
        [
            ("outer".to_string(), Step::Dependent),
            ("inner".to_string(), Step::Dependent),
            ("web".to_string(), Step::Renaming)
        ]
    );
    // FULL (2) only for the journal's own writes; NORMAL (1) for the rest of the store.
    let sync: i64 = store
        .with(|c| c.pragma_query_value(None, "synchronous", |r| r.get(0)))
        .unwrap();
    assert_eq!(sync, 1);
    store.clear("local", "web").await;
    assert_eq!(store.journal().unwrap().len(), 2);
}

#[tokio::test]
async fn a_journal_entry_that_cannot_be_written_is_an_error_for_the_update() {
    use crate::update::journal::{Journal, Step};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.db")).unwrap();
    store
        .with(|c| c.execute_batch("DROP TABLE journal"))
        .unwrap();
    let err = store
        .record(&journal_entry("web", Step::Renaming))
        .await
        .expect_err("no table to write to");
    assert!(err.to_string().contains("journal"), "{err}");
}

#[test]
fn views_keep_what_the_api_shows_and_go_with_their_container() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s.db")).unwrap();
    let web = listed(
        "web",
        Status::UpdateAvailable,
        Some(("1.26.0", UpdateKind::Minor)),
    );
    let info = crate::model::ContainerInfo {
        watcher: "local".into(),
        kind: Default::default(),
        id: "id-web".into(),
        name: "web".into(),
        state: "running".into(),
        image: "nginx:1.25.3".into(),
        image_id: "sha256:00".into(),
        repo_digests: vec!["nginx@sha256:11".into()],
        platform: Default::default(),
        labels: [("wud.display.icon".to_string(), "mdi:web".to_string())].into(),
    };
    store.record_seen(&info).unwrap();
    store.record_finding(&web).unwrap();
    store.record_listed(&web).unwrap();
    let views = store.views().unwrap();
    assert_eq!(views.len(), 1);
    assert_eq!(views[0].info.as_ref(), Some(&info));
    assert_eq!(views[0].listed.as_ref(), Some(&web));
    assert_eq!(views[0].stored.update_tag.as_deref(), Some("1.26.0"));

    // Forgotten with its container; another container's record sweeps the leftover view.
    store.forget_missing("local", &[]).unwrap();
    assert!(store.views().unwrap().is_empty());
    let db = listed("db", Status::UpToDate, None);
    store.record_finding(&db).unwrap();
    store.record_listed(&db).unwrap();
    let views = store.views().unwrap();
    assert_eq!(views.len(), 1);
    assert_eq!(views[0].stored.name, "db");
    assert!(views[0].info.is_none());
}

fn applied(store: &Store, event: &str, from: &str, id: &str, to_id: Option<&str>) {
    let images = Images {
        from_image: Some(format!("app:{from}")),
        from_image_id: Some(format!("sha256:{id}")),
        from_digest: Some(format!("sha256:d{id}")),
        to_image_id: to_id.map(|t| format!("sha256:{t}")),
    };
    store.log_applied(&key("web"), event, "", &images).unwrap();
}

#[test]
fn rollback_targets_are_the_images_updates_left_newest_first_without_the_running_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.db")).unwrap();
    // 1.0 → 1.1 → 1.2, each update leaving the image before it.
    applied(&store, "update-applied", "1.0", "a", None);
    applied(&store, "update-applied", "1.1", "b", None);
    let ids = |targets: Vec<RollbackTarget>| -> Vec<String> {
        targets.into_iter().map(|t| t.image_id).collect()
    };
    let targets = store
        .rollback_targets("local", "web", Some("sha256:c"))
        .unwrap();
    assert_eq!(ids(targets), ["sha256:b", "sha256:a"]);
    assert_eq!(
        store.earlier_images("local", "web").unwrap(),
        ["sha256:b", "sha256:a"]
    );
    // Rolled back to 1.1: its image is no target while it runs, and the rollback left none.
    applied(&store, "rollback-applied", "1.2", "c", Some("b"));
    let targets = store.rollback_targets("local", "web", None).unwrap();
    assert_eq!(ids(targets), ["sha256:a"], "the store knows what runs");
    let history = store.history(Some("web"), 10).unwrap();
    let marks: Vec<Option<&str>> = history.iter().map(|e| e.rollback.as_deref()).collect();
    assert_eq!(marks, [Some("-1"), None, None]);
    assert!(
        store
            .rollback_targets("local", "db", None)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_hold_is_set_replaced_and_released_with_lines_in_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.db")).unwrap();
    let hold = crate::model::Hold {
        watcher: "local".into(),
        name: "web".into(),
        tag: Some("1.5.0".into()),
        digest: None,
        by: "alice".into(),
        at: "2026-01-01T00:00:00Z".into(),
        reason: "rolled back".into(),
    };
    store.hold(&hold).unwrap();
    let again = crate::model::Hold {
        tag: Some("1.6.0".into()),
        ..hold.clone()
    };
    store.hold(&again).unwrap();
    assert_eq!(store.holds().unwrap().0, [again]);
    assert!(store.release("local", "web", "bob", "fixed").unwrap());
    assert!(!store.release("local", "web", "bob", "fixed").unwrap());
    assert!(store.holds().unwrap().0.is_empty());
    let events: Vec<String> = store
        .history(Some("web"), 10)
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(events, ["held", "held", "released"]);
}

#[test]
fn a_store_of_schema_2_is_upgraded_and_its_old_lines_read_without_images() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(schema::MIGRATIONS[0]).unwrap();
        conn.execute_batch(schema::MIGRATIONS[1]).unwrap();
        conn.pragma_update(None, "user_version", 2).unwrap();
        conn.execute(
            "INSERT INTO audit (at, watcher, container, event, detail)
             VALUES ('2026-01-01T00:00:00Z', 'local', 'web', 'update-applied', 'a → b')",
            [],
        )
        .unwrap();
    }
    let store = Store::open(&path).unwrap();
    let history = store.history(Some("web"), 10).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].from_image_id, None);
    assert_eq!(history[0].rollback, None);
    assert!(store.holds().unwrap().0.is_empty());
}
