//! Unit tests of the runner with an in-memory notifier: what is sent, how often, in what shape.
//! The channels themselves are tested against real peers in `tests/it/notify`.

use super::*;
use crate::bus::Bus;
use crate::config::CommonConfig;
use crate::model::UpdateKind;
use crate::notify::template::{Defaults, sample_candidate};
use async_trait::async_trait;

const PLAIN: Defaults = Defaults {
    simple_title: "{{verb}} {{name}} {{new_tag}}",
    simple_body: "{{from}} -> {{to}}",
    batch_title: "{{count}} on {{watcher}}",
    batch_body: "{{#each updates}}{{name}} {{/each}}",
};

/// Records what it is given; answers from a script (then `Ok` once the script runs out).
#[derive(Default)]
struct Recorder {
    sent: Mutex<Vec<Message>>,
    script: Mutex<Vec<Result<(), TriggerError>>>,
    attempts: AtomicU64,
    hang: bool,
}

#[async_trait]
impl Notifier for Recorder {
    async fn send(&self, message: &Message) -> Result<(), TriggerError> {
        self.attempts.fetch_add(1, Ordering::Relaxed);
        if self.hang {
            std::future::pending::<()>().await;
        }
        let next = {
            let mut script = self.script.lock().unwrap();
            if script.is_empty() {
                Ok(())
            } else {
                script.remove(0)
            }
        };
        if next.is_ok() {
            self.sent.lock().unwrap().push(message.clone());
        }
        next
    }
}

fn trigger(common: CommonConfig, notifier: Arc<Recorder>) -> NotifierTrigger {
    let id = TriggerId {
        kind: "test",
        name: "one".into(),
    };
    let filter = Filter::new(&common).unwrap();
    let templates = Templates::new(PLAIN, &common).unwrap();
    NotifierTrigger::new(id, &common, filter, templates, notifier)
}

fn candidate(name: &str, tag: &str, kind: UpdateKind) -> UpdateCandidate {
    let mut c = sample_candidate();
    c.container.name = name.into();
    c.display_name = name.into();
    c.target.tag = Some(tag.into());
    c.kind = kind;
    c
}

/// Runs `trigger` over `events` on a fresh bus, to the end.
async fn run(trigger: NotifierTrigger, store: Option<Store>, events: Vec<Event>) -> Arc<Stats> {
    let stats = trigger.stats();
    let bus = Bus::default();
    let context = Context {
        store,
        bus: bus.weak(),
    };
    let task = tokio::spawn(trigger.run(bus.subscribe("test"), context));
    for event in events {
        bus.publish(event);
    }
    drop(bus);
    task.await.unwrap();
    stats
}

fn titles(recorder: &Recorder) -> Vec<String> {
    recorder
        .sent
        .lock()
        .unwrap()
        .iter()
        .map(|m| m.title.clone())
        .collect()
}

#[tokio::test]
async fn simple_mode_sends_one_message_per_update_and_once_holds_across_runs() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.db")).unwrap();
    let recorder = Arc::new(Recorder::default());
    let web = candidate("web", "1.25.4", UpdateKind::Patch);
    let db = candidate("db", "16.3", UpdateKind::Minor);
    let events = vec![
        Event::UpdateAvailable(web.clone()),
        Event::UpdateAvailable(db.clone()),
        // Found again in the same run before the first was delivered: not sent twice.
        Event::UpdateAvailable(web.clone()),
    ];
    let common = CommonConfig::default();
    run(
        trigger(common.clone(), recorder.clone()),
        Some(store.clone()),
        events,
    )
    .await;
    assert_eq!(
        titles(&recorder),
        ["Update available web 1.25.4", "Update available db 16.3"]
    );
    // A later run (a restart) on the same store: the same versions are not sent again, a new
    // one is.
    let newer = candidate("web", "1.25.5", UpdateKind::Patch);
    let events = vec![
        Event::UpdateAvailable(web),
        Event::UpdateAvailable(db),
        Event::UpdateAvailable(newer),
    ];
    run(
        trigger(common, recorder.clone()),
        Some(store.clone()),
        events,
    )
    .await;
    assert_eq!(titles(&recorder).len(), 3);
    assert_eq!(titles(&recorder)[2], "Update available web 1.25.5");
    let history = store.history(Some("web"), 10).unwrap();
    assert_eq!(
        history.iter().filter(|e| e.event == "notified").count(),
        2,
        "{history:?}"
    );
}

#[tokio::test]
async fn without_once_every_finding_is_sent() {
    let recorder = Arc::new(Recorder::default());
    let web = candidate("web", "1.25.4", UpdateKind::Patch);
    let common = CommonConfig {
        once: Some(false),
        ..CommonConfig::default()
    };
    let events = vec![
        Event::UpdateAvailable(web.clone()),
        Event::UpdateAvailable(web),
    ];
    run(trigger(common, recorder.clone()), None, events).await;
    assert_eq!(titles(&recorder).len(), 2);
}

#[tokio::test]
async fn batch_mode_sends_one_message_per_cycle() {
    let recorder = Arc::new(Recorder::default());
    let common = CommonConfig {
        mode: Mode::Batch,
        ..CommonConfig::default()
    };
    let report = Report {
        watcher: "local".into(),
        scanned: 5,
        updates: 3,
        ..Report::default()
    };
    let events = vec![
        Event::UpdateAvailable(candidate("a", "2.0", UpdateKind::Major)),
        Event::UpdateAvailable(candidate("b", "1.1", UpdateKind::Minor)),
        Event::UpdateAvailable(candidate("c", "1.0.1", UpdateKind::Patch)),
        Event::CheckCompleted(report),
    ];
    run(trigger(common, recorder.clone()), None, events).await;
    let sent = recorder.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].title, "3 on local");
    assert_eq!(sent[0].body, "a b c");
    assert_eq!(sent[0].data["report"]["scanned"], 5);
}

#[tokio::test]
async fn the_threshold_keeps_out_larger_updates() {
    let recorder = Arc::new(Recorder::default());
    let common = CommonConfig {
        threshold: "minor".parse().unwrap(),
        ..CommonConfig::default()
    };
    let events = vec![
        Event::UpdateAvailable(candidate("a", "2.0", UpdateKind::Major)),
        Event::UpdateAvailable(candidate("b", "1.1", UpdateKind::Minor)),
    ];
    run(trigger(common, recorder.clone()), None, events).await;
    assert_eq!(titles(&recorder), ["Update available b 1.1"]);
}

#[tokio::test]
async fn what_the_docker_trigger_did_is_told_at_once_even_in_batch_mode() {
    let recorder = Arc::new(Recorder::default());
    let common = CommonConfig {
        mode: Mode::Batch,
        ..CommonConfig::default()
    };
    let web = candidate("web", "1.25.4", UpdateKind::Patch);
    let events = vec![
        Event::UpdateApplied {
            candidate: web.clone(),
            new_container_id: "new".into(),
        },
        Event::RolledBack {
            candidate: web,
            reason: "health check failed".into(),
        },
    ];
    run(trigger(common, recorder.clone()), None, events).await;
    assert_eq!(
        titles(&recorder),
        ["Updated web 1.25.4", "Update rolled back web 1.25.4"]
    );
}

#[tokio::test]
async fn a_skipped_update_and_the_docker_triggers_report_are_not_told_as_failures() {
    let recorder = Arc::new(Recorder::default());
    let web = candidate("web", "1.25.4", UpdateKind::Patch);
    let db = candidate("db", "16.3", UpdateKind::Minor);
    let events = vec![
        Event::UpdateSkipped {
            candidate: web,
            reason: "the pre-update hook asked to skip this update (exit 75)".into(),
        },
        Event::UpdateApplied {
            candidate: db,
            new_container_id: "new".into(),
        },
        Event::UpdatesCompleted(crate::model::UpdateReport {
            watcher: "local".into(),
            trigger: "docker.local".into(),
            updated: 1,
            skipped: 1,
            ..Default::default()
        }),
    ];
    run(
        trigger(CommonConfig::default(), recorder.clone()),
        None,
        events,
    )
    .await;
    assert_eq!(titles(&recorder), ["Updated db 16.3"]);
}

#[tokio::test]
async fn a_failure_that_repeats_every_cycle_is_told_once_even_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.db")).unwrap();
    let recorder = Arc::new(Recorder::default());
    let web = candidate("web", "1.25.4", UpdateKind::Patch);
    let newer = candidate("web", "1.25.5", UpdateKind::Patch);
    let failed = |c: &UpdateCandidate| Event::UpdateFailed {
        candidate: c.clone(),
        reason: "port 8080 is taken".into(),
    };
    let rolled_back = |c: &UpdateCandidate| Event::RolledBack {
        candidate: c.clone(),
        reason: "health check failed".into(),
    };
    let cycle = vec![
        failed(&web),
        failed(&web),
        rolled_back(&web),
        rolled_back(&web),
    ];
    run(
        trigger(CommonConfig::default(), recorder.clone()),
        Some(store.clone()),
        cycle.clone(),
    )
    .await;
    // The next start: the same failures of the same target are not told again; a failure of
    // a newer target is.
    let mut later = cycle;
    later.push(failed(&newer));
    run(
        trigger(CommonConfig::default(), recorder.clone()),
        Some(store),
        later,
    )
    .await;
    assert_eq!(
        titles(&recorder),
        [
            "Update failed web 1.25.4",
            "Update rolled back web 1.25.4",
            "Update failed web 1.25.5"
        ]
    );
}

#[tokio::test]
async fn without_once_every_failure_is_told() {
    let recorder = Arc::new(Recorder::default());
    let common = CommonConfig {
        once: Some(false),
        ..CommonConfig::default()
    };
    let web = candidate("web", "1.25.4", UpdateKind::Patch);
    let failed = Event::UpdateFailed {
        candidate: web,
        reason: "port 8080 is taken".into(),
    };
    run(
        trigger(common, recorder.clone()),
        None,
        vec![failed.clone(), failed],
    )
    .await;
    assert_eq!(titles(&recorder).len(), 2);
}

#[tokio::test(start_paused = true)]
async fn transient_failures_are_retried_and_permanent_ones_are_not() {
    let recorder = Arc::new(Recorder {
        script: Mutex::new(vec![
            Err(TriggerError::Transient("503".into())),
            Err(TriggerError::Transient("503".into())),
            Ok(()),
            Err(TriggerError::Permanent("401".into())),
        ]),
        ..Recorder::default()
    });
    let events = vec![
        Event::UpdateAvailable(candidate("a", "1.1", UpdateKind::Minor)),
        Event::UpdateAvailable(candidate("b", "1.1", UpdateKind::Minor)),
    ];
    let stats = run(
        trigger(CommonConfig::default(), recorder.clone()),
        None,
        events,
    )
    .await;
    assert_eq!(recorder.attempts.load(Ordering::Relaxed), 4);
    assert_eq!(titles(&recorder), ["Update available a 1.1"]);
    assert_eq!(stats.sent.load(Ordering::Relaxed), 1);
    assert_eq!(stats.failed.load(Ordering::Relaxed), 1);
}

#[tokio::test(start_paused = true)]
async fn a_channel_that_never_answers_times_out_and_gives_up_after_the_retries() {
    let recorder = Arc::new(Recorder {
        hang: true,
        ..Recorder::default()
    });
    let common = CommonConfig {
        retries: Some(2),
        timeout: Some(5),
        ..CommonConfig::default()
    };
    let events = vec![Event::UpdateAvailable(candidate(
        "a",
        "1.1",
        UpdateKind::Minor,
    ))];
    let stats = run(trigger(common, recorder.clone()), None, events).await;
    assert_eq!(recorder.attempts.load(Ordering::Relaxed), 3);
    assert_eq!(stats.failed.load(Ordering::Relaxed), 1);
}

#[tokio::test(start_paused = true)]
async fn the_rate_limit_spaces_messages() {
    let recorder = Arc::new(Recorder::default());
    let common = CommonConfig {
        ratelimit: Some(6),
        ..CommonConfig::default()
    };
    let events = (0..3)
        .map(|i| Event::UpdateAvailable(candidate(&format!("c{i}"), "1.1", UpdateKind::Minor)))
        .collect();
    let start = Instant::now();
    run(trigger(common, recorder.clone()), None, events).await;
    assert_eq!(titles(&recorder).len(), 3);
    // Six a minute: ten seconds between sends, on the paused (virtual) clock.
    assert!(
        start.elapsed() >= Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
}
