//! What the HTTP notifiers' tests share: the one place that builds a trigger of a kind from its
//! configuration and sends the sample update through it, one check cycle through the real
//! runner (the fixed three-update cycle every kind's batch test sends, or any updates), and
//! reading a failure.

use crate::support::receiver::{Receiver, Recorded};
use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;
use tidewatch::app::triggers::build_all;
use tidewatch::bus::{Bus, Event};
use tidewatch::config::{
    DiscordConfig, GotifyConfig, HttpConfig, Mode, NtfyConfig, SlackConfig, SmtpConfig,
    TeamsConfig, TelegramConfig, TriggersConfig,
};
use tidewatch::model::{ImageRef, Report, UpdateCandidate};
use tidewatch::notify::{NotifierTrigger, TriggerError, runner, template};
use tidewatch::store::Store;

/// Long enough for any exchange on loopback, retries and backoff included.
const WAIT: Duration = Duration::from_secs(30);

/// A notifier's configuration, and where `build_all` finds it.
pub trait Kind: Sized {
    /// A whole trigger configuration holding this one instance.
    fn alone(self) -> TriggersConfig;
    /// The same in batch mode.
    fn batched(self) -> Self;
}

macro_rules! kind {
    ($config:ty, $field:ident, $name:literal) => {
        impl Kind for $config {
            fn alone(self) -> TriggersConfig {
                TriggersConfig {
                    $field: BTreeMap::from([($name.to_string(), self)]),
                    ..TriggersConfig::default()
                }
            }

            fn batched(self) -> Self {
                Self {
                    mode: Mode::Batch,
                    ..self
                }
            }
        }
    };
}

kind!(HttpConfig, http, "hook");
kind!(SlackConfig, slack, "team");
kind!(DiscordConfig, discord, "ops");
kind!(TelegramConfig, telegram, "ops");
kind!(NtfyConfig, ntfy, "phone");
kind!(GotifyConfig, gotify, "home");
kind!(TeamsConfig, teams, "ops");
kind!(SmtpConfig, smtp, "ops");

/// The one place that builds a trigger: `config` through `build_all`, as at start-up.
#[track_caller]
pub fn trigger(config: impl Kind) -> NotifierTrigger {
    let mut built = build_all(&config.alone())
        .unwrap_or_else(|p| panic!("not built: {p:?}"))
        .notifiers;
    assert_eq!(built.len(), 1);
    built.remove(0)
}

/// The sample update, as `notify-test` sends it, through `config`; what `peer` got.
pub async fn send(config: impl Kind, peer: &Receiver) -> (Result<(), TriggerError>, Vec<Recorded>) {
    let result = trigger(config).send_test().await.map(|_| ());
    (result, peer.requests())
}

/// The sample candidate for container `name`, moving to tag `to`.
pub fn candidate(name: &str, to: &str) -> UpdateCandidate {
    let mut c = template::sample_candidate();
    c.container.name = name.to_string();
    c.display_name = name.to_string();
    c.target = ImageRef::parse(&format!("nginx:{to}")).expect("a valid reference");
    c
}

/// One check cycle of the `local` watcher that found `updates` (and nothing else), through the
/// real runner; returns once the runner has delivered what is pending and stopped.
pub async fn cycle(trigger: NotifierTrigger, updates: &[UpdateCandidate], store: Option<Store>) {
    let report = Report {
        watcher: "local".into(),
        scanned: updates.len(),
        updates: updates.len(),
        ..Report::default()
    };
    run(trigger, updates, report, store).await;
}

/// One cycle of the `local` watcher finding `web`, `api` and `db` among five containers, through
/// the real runner with `config` in batch mode; returns once the runner has delivered and
/// stopped.
pub async fn batch(config: impl Kind) {
    let updates = [
        candidate("web", "1.25.4"),
        candidate("api", "1.26.0"),
        candidate("db", "2.0.0"),
    ];
    let report = Report {
        watcher: "local".into(),
        scanned: 5,
        updates: 3,
        up_to_date: 2,
        ..Report::default()
    };
    run(trigger(config.batched()), &updates, report, None).await;
}

/// The updates, the cycle's report, then the bus closes and the runner delivers what is
/// pending before it returns.
async fn run(
    trigger: NotifierTrigger,
    updates: &[UpdateCandidate],
    report: Report,
    store: Option<Store>,
) {
    let bus = Bus::default();
    let events = bus.subscribe("t");
    let context = runner::Context {
        store,
        bus: bus.weak(),
    };
    let task = tokio::spawn(trigger.run(events, context));
    for c in updates {
        bus.publish(Event::UpdateAvailable(c.clone()));
    }
    bus.publish(Event::CheckCompleted(report));
    drop(bus);
    tokio::time::timeout(WAIT, task)
        .await
        .expect("the runner finishes once the bus closes")
        .expect("the runner does not panic");
}

/// The text of a permanent failure; panics on anything else.
#[track_caller]
pub fn permanent(result: Result<(), TriggerError>) -> String {
    let Err(TriggerError::Permanent(text)) = result else {
        panic!("permanent: {result:?}");
    };
    text
}

/// The text of a transient failure; panics on anything else.
#[track_caller]
pub fn transient(result: Result<(), TriggerError>) -> String {
    let Err(TriggerError::Transient(text)) = result else {
        panic!("transient: {result:?}");
    };
    text
}

/// A failure's text and whether it was transient; `says` names the failure expected, for the
/// panic when the delivery succeeded.
#[track_caller]
pub fn failure(result: Result<(), TriggerError>, says: &str) -> (String, bool) {
    match result {
        Err(TriggerError::Transient(text)) => (text, true),
        Err(TriggerError::Permanent(text)) => (text, false),
        Ok(()) => panic!("expected a failure ({says})"),
    }
}

/// A loopback address nothing listens on: a connection to it is refused.
pub fn closed_address() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}
