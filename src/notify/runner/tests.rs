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

/// A docker trigger as `when=updated` sees it: takes on the containers named.
struct Takes(&'static [&'static str]);

impl Claims for Takes {
    fn claims(&self, candidate: &UpdateCandidate) -> bool {
        self.0.contains(&candidate.container.name.as_str())
    }
}

/// The handlebars that Watchtower's documented report template translates to (see
/// `config::compat::gotemplate`).
const WATCHTOWER_REPORT: &str = "{{#if (or updated failed)}}{{counts.scanned}} Scanned, {{counts.updated}} Updated, {{counts.failed}} Failed\
     {{#each updated}}\n- {{name}} ({{image}}): {{from}} updated to {{to}}{{/each}}\
     {{#each fresh}}\n- {{name}} ({{image}}): {{state}}{{/each}}\
     {{#each failed}}\n- {{name}} ({{image}}): {{state}}: {{error}}{{/each}}{{/if}}";

fn reporting(mode: Mode, body: Option<&str>) -> CommonConfig {
    CommonConfig {
        mode,
        when: When::Updated,
        batchbody: body.map(str::to_string),
        simplebody: body.map(str::to_string),
        ..CommonConfig::default()
    }
}

fn acting(
    common: CommonConfig,
    takes: &'static [&'static str],
    recorder: Arc<Recorder>,
) -> NotifierTrigger {
    let mut t = trigger(common, recorder);
    t.act_through(vec![("docker.watchtower".into(), Arc::new(Takes(takes)))]);
    t
}

fn checked(name: &str, status: crate::model::finding::Status) -> Event {
    let c = candidate(name, "1.0", UpdateKind::Patch);
    let finding = crate::model::finding::Finding {
        status,
        reason: None,
        update: None,
        display_name: None,
    };
    Event::ContainerChecked(Box::new(ListedContainer::new(&c.container, finding)))
}

fn check_done(scanned: usize) -> Event {
    Event::CheckCompleted(Report {
        watcher: "local".into(),
        scanned,
        ..Report::default()
    })
}

fn updates_done(updated: usize, rolled_back: usize) -> Event {
    Event::UpdatesCompleted(crate::model::UpdateReport {
        watcher: "local".into(),
        trigger: "docker.watchtower".into(),
        updated,
        rolled_back,
        ..Default::default()
    })
}

/// Runs `trigger`, publishing `before`, letting (virtual) time pass, taking what was sent by
/// then, then publishing `after` to the end of the bus.
async fn in_two_parts(
    trigger: NotifierTrigger,
    recorder: &Recorder,
    before: Vec<Event>,
    after: Vec<Event>,
) -> Vec<Message> {
    let bus = Bus::default();
    let context = Context {
        store: None,
        bus: bus.weak(),
    };
    let task = tokio::spawn(trigger.run(bus.subscribe("test"), context));
    for event in before {
        bus.publish(event);
    }
    tokio::time::sleep(Duration::from_secs(60)).await;
    let early = recorder.sent.lock().unwrap().clone();
    for event in after {
        bus.publish(event);
    }
    drop(bus);
    task.await.unwrap();
    early
}

#[tokio::test(start_paused = true)]
async fn when_updated_the_report_waits_for_the_docker_trigger_and_tells_what_became_of_each() {
    use crate::model::finding::Status;
    let recorder = Arc::new(Recorder::default());
    let common = reporting(
        Mode::Batch,
        Some(
            "{{#each updates}}{{name}}={{state}}{{#if error}} ({{error}}){{/if}}; {{/each}}{{counts.scanned}} scanned, {{counts.fresh}} fresh",
        ),
    );
    let web = candidate("web", "1.25.4", UpdateKind::Patch);
    let db = candidate("db", "16.3", UpdateKind::Minor);
    let cache = candidate("cache", "7.2", UpdateKind::Minor);
    let before = vec![
        checked("web", Status::UpdateAvailable),
        checked("db", Status::UpdateAvailable),
        checked("cache", Status::UpdateAvailable),
        checked("proxy", Status::UpToDate),
        Event::UpdateAvailable(web.clone()),
        Event::UpdateAvailable(db.clone()),
        // Not taken on by the docker trigger (monitor-only): stale.
        Event::UpdateAvailable(cache),
        check_done(4),
    ];
    let after = vec![
        Event::UpdateApplied {
            candidate: web,
            new_container_id: "new".into(),
        },
        Event::RolledBack {
            candidate: db,
            reason: "exited at once".into(),
        },
        updates_done(1, 1),
    ];
    let trigger = acting(common, &["web", "db"], recorder.clone());
    let early = in_two_parts(trigger, &recorder, before, after).await;
    // The check is done, the updates are not: nothing is told yet.
    assert!(early.is_empty(), "{early:?}");
    let sent = recorder.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        sent[0].body,
        "web=Updated; db=Failed (exited at once); cache=Stale; 4 scanned, 1 fresh"
    );
    assert_eq!(sent[0].data["counts"]["updated"], 1);
    assert_eq!(sent[0].data["counts"]["failed"], 1);
    assert_eq!(sent[0].data["failed"][0]["rolled_back"], true);
}

#[tokio::test(start_paused = true)]
async fn watchtowers_report_says_updated_and_failed_truly_and_nothing_when_nothing_happened() {
    let recorder = Arc::new(Recorder::default());
    let web = candidate("web", "1.25.4", UpdateKind::Patch);
    let db = candidate("db", "16.3", UpdateKind::Minor);
    let cycle = vec![
        Event::UpdateAvailable(web.clone()),
        Event::UpdateAvailable(db.clone()),
        check_done(2),
        Event::UpdateApplied {
            candidate: web,
            new_container_id: "new".into(),
        },
        Event::UpdateFailed {
            candidate: db,
            reason: "pull denied".into(),
        },
        updates_done(1, 0),
        // The next cycle: nothing found. Watchtower's template says nothing, so nothing is sent.
        check_done(2),
    ];
    let common = reporting(Mode::Batch, Some(WATCHTOWER_REPORT));
    run(
        acting(common, &["web", "db"], recorder.clone()),
        None,
        cycle,
    )
    .await;
    let sent = recorder.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        sent[0].body,
        "2 Scanned, 1 Updated, 1 Failed\n- web (nginx:1.25.3): 1.25.3 updated to 1.25.4\n- db (nginx:1.25.3): Failed: pull denied"
    );
    // A template that speaks of every cycle is sent for an empty one; the shipped ones are not.
    let recorder = Arc::new(Recorder::default());
    let common = reporting(Mode::Batch, Some("{{counts.scanned}} scanned"));
    run(
        acting(common, &[], recorder.clone()),
        None,
        vec![check_done(0)],
    )
    .await;
    assert_eq!(titles(&recorder).len(), 1);
    let recorder = Arc::new(Recorder::default());
    let common = reporting(Mode::Batch, None);
    run(
        acting(common, &[], recorder.clone()),
        None,
        vec![check_done(3)],
    )
    .await;
    assert!(titles(&recorder).is_empty());
}

#[tokio::test(start_paused = true)]
async fn when_no_docker_trigger_acts_the_stale_updates_are_told_when_the_check_is_done() {
    let recorder = Arc::new(Recorder::default());
    let common = reporting(Mode::Batch, Some("{{#each stale}}{{message}}{{/each}}"));
    let before = vec![
        Event::UpdateAvailable(candidate("web", "1.25.4", UpdateKind::Patch)),
        check_done(1),
    ];
    let trigger = acting(common, &[], recorder.clone());
    let early = in_two_parts(trigger, &recorder, before, Vec::new()).await;
    assert_eq!(early.len(), 1, "{early:?}");
    assert_eq!(
        early[0].body,
        "Found new nginx:1.25.3 image (1.25.4) for web"
    );
}

#[tokio::test(start_paused = true)]
async fn split_by_container_tells_each_update_after_it_and_not_when_found() {
    let recorder = Arc::new(Recorder::default());
    let common = reporting(Mode::Simple, Some(WATCHTOWER_REPORT));
    let web = candidate("web", "1.25.4", UpdateKind::Patch);
    let db = candidate("db", "16.3", UpdateKind::Minor);
    let before = vec![
        Event::UpdateAvailable(web.clone()),
        Event::UpdateAvailable(db.clone()),
        check_done(2),
    ];
    let after = vec![
        Event::UpdateApplied {
            candidate: web,
            new_container_id: "new".into(),
        },
        Event::UpdateApplied {
            candidate: db,
            new_container_id: "new".into(),
        },
        updates_done(2, 0),
    ];
    let trigger = acting(common, &["web", "db"], recorder.clone());
    let early = in_two_parts(trigger, &recorder, before, after).await;
    assert!(early.is_empty(), "{early:?}");
    let bodies: Vec<String> = recorder
        .sent
        .lock()
        .unwrap()
        .iter()
        .map(|m| m.body.clone())
        .collect();
    assert_eq!(
        bodies,
        [
            "1 Scanned, 1 Updated, 0 Failed\n- web (nginx:1.25.3): 1.25.3 updated to 1.25.4",
            "1 Scanned, 1 Updated, 0 Failed\n- db (nginx:1.25.3): 1.25.3 updated to 16.3"
        ]
    );
}
