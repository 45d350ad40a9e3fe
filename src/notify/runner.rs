//! The shared runner of every notifier: subscribes to the bus, filters, groups updates per cycle
//! in batch mode, honours `once` through the store, renders the templates, and hands messages
//! to a delivery worker that applies the timeout, retries with backoff and the rate limit.
//!
//! With `when=updated` the runner speaks after the docker triggers acted, as Watchtower's session
//! report does: in batch mode a watcher's cycle is a [`Session`] that collects what the check
//! found, what it listed, and what became of each update the docker triggers took on (the
//! `Claims` of each, handed in when the triggers are built), and closes when every docker trigger
//! that took one on has reported its `UpdatesCompleted`. What no docker trigger takes on
//! (monitor-only, `auto=false`) is stale, and told when the check is done. In simple mode an
//! update a docker trigger takes on is told once, by its outcome, rather than also when found.
//!
//! Two tasks per trigger, so a slow or dead channel never holds up the bus: the listener only
//! filters and queues; the worker does the waiting. A full queue drops the message (counted and
//! logged) rather than blocking, and since nothing was marked sent, the next cycle offers the
//! update again.

use super::template::{self, Entry, Notice, State, Templates};
use super::{Message, Notifier, TriggerError};
use crate::bus::{Event, Subscriber, WeakBus};
use crate::config::{CommonConfig, Mode, When};
use crate::model::finding::ListedContainer;
use crate::model::{ContainerKey, Report, UpdateCandidate};
use crate::store::Store;
use crate::trigger::filter::Filter;
use crate::trigger::{Claims, TriggerId};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Messages waiting for the worker, per trigger.
const QUEUE: usize = 256;
/// A batch update found outside a cycle (a Docker event) is sent after this long if no cycle
/// report comes to close the batch.
const BATCH_WAIT: Duration = Duration::from_secs(10);
/// With `when=updated`, how long a checked session waits for the docker triggers that took its
/// updates on: a health gate takes a minute at most, an update of many linked containers a few;
/// past this the session is told as it stands rather than never.
const SESSION_WAIT: Duration = Duration::from_secs(30 * 60);
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Counts of one trigger's deliveries, for logs, tests and metrics.
#[derive(Debug, Default)]
pub struct Stats {
    pub sent: AtomicU64,
    pub failed: AtomicU64,
    pub dropped: AtomicU64,
}

pub struct NotifierTrigger {
    id: TriggerId,
    filter: Filter,
    templates: Templates,
    notifier: Arc<dyn Notifier>,
    mode: Mode,
    when: When,
    /// The docker triggers, by id (`docker.<name>`), and which updates each takes on: with
    /// `when=updated`, what they take on is told by its outcome.
    acting: Vec<(String, Arc<dyn Claims>)>,
    once: bool,
    /// Least time between two messages, from `ratelimit` (messages a minute).
    spacing: Option<Duration>,
    timeout: Duration,
    retries: u32,
    stats: Arc<Stats>,
}

impl std::fmt::Debug for NotifierTrigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifierTrigger")
            .field("id", &self.id)
            .finish()
    }
}

/// A message on its way, with what to record once it is delivered.
struct Outgoing {
    message: Message,
    containers: Vec<ContainerKey>,
    /// (container, target) pairs to mark sent, for `once`.
    once: Vec<(ContainerKey, String)>,
}

/// What the runner records into and reports on.
#[derive(Debug, Clone)]
pub struct Context {
    pub store: Option<Store>,
    pub bus: WeakBus,
}

/// What `once` remembers: the new image, by tag and digest.
fn target_key(c: &UpdateCandidate) -> String {
    format!(
        "{}@{}",
        c.target.normalized(),
        c.digest.as_deref().unwrap_or("-")
    )
}

/// What `once` remembers of a failed or rolled-back update: the docker trigger tries a failing
/// update again every cycle (the cause may pass), but telling the same failure every hour is
/// spam; a failure of another target, or a later success, is told again.
fn outcome_key(outcome: &str, c: &UpdateCandidate) -> String {
    format!("{outcome}:{}", target_key(c))
}

impl NotifierTrigger {
    pub fn new(
        id: TriggerId,
        common: &CommonConfig,
        filter: Filter,
        templates: Templates,
        notifier: Arc<dyn Notifier>,
    ) -> Self {
        NotifierTrigger {
            id,
            filter,
            templates,
            notifier,
            mode: common.mode,
            when: common.when,
            acting: Vec::new(),
            once: common.once.unwrap_or(true),
            spacing: common
                .ratelimit
                .filter(|&n| n > 0)
                .map(|n| Duration::from_secs(60) / n),
            timeout: common.send_timeout(),
            retries: common.retries.unwrap_or(3),
            stats: Arc::new(Stats::default()),
        }
    }

    pub fn id(&self) -> &TriggerId {
        &self.id
    }

    /// The docker triggers and what each takes on, for `when=updated`. Once, when the triggers
    /// are built.
    pub fn act_through(&mut self, acting: Vec<(String, Arc<dyn Claims>)>) {
        self.acting = acting;
    }

    /// The docker triggers that will act on `c`, by id.
    fn claimed_by(&self, c: &UpdateCandidate) -> BTreeSet<String> {
        self.acting
            .iter()
            .filter(|(_, t)| t.claims(c))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Reports come as a session, after the updates.
    fn sessions(&self) -> bool {
        self.when == When::Updated && self.mode == Mode::Batch
    }

    pub fn stats(&self) -> Arc<Stats> {
        self.stats.clone()
    }

    /// `tidewatch notify-test`: a sample update through the templates and the channel, with
    /// the timeout and retries, and none of the filters.
    pub async fn send_test(&self) -> Result<Message, TriggerError> {
        let candidate = template::sample_candidate();
        let message = self
            .templates
            .simple(template::simple_data(Notice::Available(&candidate)))
            .map_err(TriggerError::Permanent)?;
        deliver(&*self.notifier, &message, self.timeout, self.retries).await?;
        Ok(message)
    }

    /// Listens until the bus closes, then sends what is pending and waits for the worker: at
    /// shutdown (and after `run --once`) nothing already found is lost.
    pub async fn run(self, mut events: Subscriber, context: Context) {
        let this = Arc::new(self);
        let in_flight: Arc<Mutex<HashSet<(ContainerKey, String)>>> = Arc::default();
        let (queue, receiver) = mpsc::channel(QUEUE);
        let worker = tokio::spawn(
            this.clone()
                .work(receiver, context.clone(), in_flight.clone()),
        );
        let mut batches: BTreeMap<String, (Instant, Vec<UpdateCandidate>)> = BTreeMap::new();
        let mut sessions = Sessions::default();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let listener = Listener {
            trigger: &this,
            queue: &queue,
            in_flight: &in_flight,
            store: context.store.as_ref(),
        };
        loop {
            let event = tokio::select! {
                event = events.recv() => event,
                _ = tick.tick() => {
                    let stale: Vec<String> = batches
                        .iter()
                        .filter(|(_, (since, _))| since.elapsed() >= BATCH_WAIT)
                        .map(|(watcher, _)| watcher.clone())
                        .collect();
                    for watcher in stale {
                        if let Some((_, updates)) = batches.remove(&watcher) {
                            listener.batch(&watcher, updates, None);
                        }
                    }
                    for (watcher, session) in sessions.ready(false) {
                        listener.session(&watcher, session);
                    }
                    continue;
                }
            };
            let Some(event) = event else { break };
            if this.sessions() {
                listener.record(&mut sessions, &event).await;
                for (watcher, session) in sessions.ready(false) {
                    listener.session(&watcher, session);
                }
                if !matches!(event.as_ref(), Event::RollbackApplied { .. }) {
                    continue;
                }
            }
            match event.as_ref() {
                // With `when=updated`, an update a docker trigger takes on is told by its
                // outcome.
                Event::UpdateAvailable(c)
                    if this.when == When::Updated && !this.claimed_by(c).is_empty() => {}
                Event::UpdateAvailable(c) => {
                    if !listener.wanted(c, target_key(c)).await {
                        continue;
                    }
                    match this.mode {
                        Mode::Simple => listener.simple(Notice::Available(c), Some(target_key(c))),
                        Mode::Batch => {
                            let (_, updates) = batches
                                .entry(c.container.watcher.clone())
                                .or_insert_with(|| (Instant::now(), Vec::new()));
                            // A container found twice before the batch closes is listed once,
                            // with the newest finding.
                            updates.retain(|u| u.container.name != c.container.name);
                            updates.push(c.clone());
                        }
                    }
                }
                Event::CheckCompleted(report) => {
                    if let Some((_, updates)) = batches.remove(&report.watcher) {
                        listener.batch(&report.watcher, updates, Some(report));
                    }
                }
                // What the docker trigger did is told at once, in either mode: an update applied
                // every time, a failure once per target (with `once`).
                Event::UpdateApplied { candidate, .. }
                    if this
                        .filter
                        .allows(&this.id, &candidate.container, candidate.kind) =>
                {
                    listener.simple(Notice::Applied(candidate), None);
                }
                // A rollback by hand is told every time, as an applied update is.
                Event::RollbackApplied { candidate, by, .. }
                    if this
                        .filter
                        .allows(&this.id, &candidate.container, candidate.kind) =>
                {
                    let who = format!("by {by}");
                    listener.simple(Notice::RolledBackByUser(candidate, &who), None);
                }
                Event::UpdateFailed { candidate, reason } => {
                    let key = outcome_key("failed", candidate);
                    if listener.wanted(candidate, key.clone()).await {
                        listener.simple(Notice::Failed(candidate, reason), Some(key));
                    }
                }
                Event::RolledBack { candidate, reason } => {
                    let key = outcome_key("rolled-back", candidate);
                    if listener.wanted(candidate, key.clone()).await {
                        listener.simple(Notice::RolledBack(candidate, reason), Some(key));
                    }
                }
                _ => {}
            }
        }
        for (watcher, (_, updates)) in std::mem::take(&mut batches) {
            listener.batch(&watcher, updates, None);
        }
        for (watcher, session) in sessions.ready(true) {
            listener.session(&watcher, session);
        }
        drop(queue);
        let _ = worker.await;
    }

    /// Delivers queued messages one at a time, in order, spaced by the rate limit.
    async fn work(
        self: Arc<Self>,
        mut queue: mpsc::Receiver<Outgoing>,
        context: Context,
        in_flight: Arc<Mutex<HashSet<(ContainerKey, String)>>>,
    ) {
        let mut last: Option<Instant> = None;
        while let Some(out) = queue.recv().await {
            if let (Some(spacing), Some(last)) = (self.spacing, last) {
                tokio::time::sleep_until(last + spacing).await;
            }
            last = Some(Instant::now());
            let result = deliver(&*self.notifier, &out.message, self.timeout, self.retries).await;
            let failure = match &result {
                Ok(()) => {
                    self.stats.sent.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(trigger = %self.id, title = %out.message.title, "Notification sent.");
                    None
                }
                Err(err) => {
                    self.stats.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(trigger = %self.id, error = %err, "Notification not sent.");
                    Some(err.to_string())
                }
            };
            if let Some(store) = &context.store {
                let (id, out_once, containers, failure) = (
                    self.id.to_string(),
                    if failure.is_none() {
                        out.once.clone()
                    } else {
                        Vec::new()
                    },
                    out.containers.clone(),
                    failure.clone(),
                );
                let recorded = store
                    .blocking(move |s| {
                        s.mark_sent(&id, &out_once)?;
                        let (event, detail) = match &failure {
                            None => ("notified", id.clone()),
                            Some(reason) => ("notify-failed", format!("{id}: {reason}")),
                        };
                        for c in &containers {
                            s.log(Some(c), event, &detail)?;
                        }
                        Ok(())
                    })
                    .await;
                if let Err(err) = recorded {
                    tracing::error!(trigger = %self.id, error = %err, "Could not record the notification.");
                }
            }
            {
                let mut in_flight = in_flight.lock().unwrap_or_else(|p| p.into_inner());
                for key in &out.once {
                    in_flight.remove(key);
                }
            }
            context.bus.publish(Event::Notified {
                trigger: self.id.to_string(),
                containers: out.containers,
                failure,
            });
        }
    }
}

/// One update of a session, with what telling it depends on.
#[derive(Debug)]
struct Tracked {
    entry: Entry,
    /// A docker trigger took it on and has not said what became of it.
    pending: bool,
    /// Worth a message: an update applied; a failure, or an update nothing acts on, not told
    /// before (with `once`).
    news: bool,
    /// Marked sent once the message is delivered, for `once`.
    once_key: Option<String>,
}

/// One watcher's cycle, told after the docker triggers acted (`when=updated`, batch mode).
#[derive(Debug)]
struct Session {
    /// When its first update came: a session outside a cycle (a Docker event's finding) is
    /// told after [`BATCH_WAIT`].
    started: Option<Instant>,
    /// The check's report, and when it came: from then on the session waits only for the
    /// docker triggers.
    checked: Option<(Instant, Report)>,
    /// What the check listed, for Watchtower's `Fresh` and `Scanned`.
    listed: Vec<ListedContainer>,
    entries: Vec<Tracked>,
    /// Docker triggers that took updates of this session on and have not reported yet.
    awaiting: BTreeSet<String>,
}

impl Session {
    fn new() -> Session {
        Session {
            started: None,
            checked: None,
            listed: Vec::new(),
            entries: Vec::new(),
            awaiting: BTreeSet::new(),
        }
    }

    /// Everything it waits for has come: the check (or, for a finding outside a cycle, a
    /// moment), then every docker trigger that took an update on.
    fn ready(&self) -> bool {
        let waited = match &self.checked {
            Some((since, _)) => {
                return self.awaiting.is_empty()
                    || !self.entries.iter().any(|t| t.pending)
                    || since.elapsed() >= SESSION_WAIT;
            }
            None => self.started.is_some_and(|s| s.elapsed() >= BATCH_WAIT),
        };
        waited && (self.awaiting.is_empty() || !self.entries.iter().any(|t| t.pending))
    }
}

/// The sessions under way, per watcher, oldest first; the last one may still be checking.
#[derive(Debug, Default)]
struct Sessions(BTreeMap<String, Vec<Session>>);

impl Sessions {
    /// The session a check of `watcher` adds to now.
    fn open(&mut self, watcher: &str) -> &mut Session {
        let list = self.0.entry(watcher.to_string()).or_default();
        if list.last().is_none_or(|s| s.checked.is_some()) {
            list.push(Session::new());
        }
        list.last_mut().expect("just pushed")
    }

    /// The oldest session of `watcher` waiting for an outcome of `c`.
    fn waiting_for(&mut self, c: &UpdateCandidate) -> Option<&mut Tracked> {
        self.0
            .get_mut(&c.container.watcher)?
            .iter_mut()
            .flat_map(|s| s.entries.iter_mut())
            .find(|t| t.pending && t.entry.candidate.container.name == c.container.name)
    }

    /// Takes out the sessions ready to be told (every one with `all`, at the end).
    fn ready(&mut self, all: bool) -> Vec<(String, Session)> {
        let mut out = Vec::new();
        for (watcher, list) in self.0.iter_mut() {
            let (ready, waiting): (Vec<Session>, Vec<Session>) = std::mem::take(list)
                .into_iter()
                .partition(|s| all || s.ready());
            *list = waiting;
            out.extend(ready.into_iter().map(|s| (watcher.clone(), s)));
        }
        self.0.retain(|_, list| !list.is_empty());
        out
    }
}

/// The listener's half: decides and queues, never waits on the channel.
struct Listener<'a> {
    trigger: &'a NotifierTrigger,
    queue: &'a mpsc::Sender<Outgoing>,
    in_flight: &'a Mutex<HashSet<(ContainerKey, String)>>,
    store: Option<&'a Store>,
}

impl Listener<'_> {
    /// Passes the filters and, with `once`, `target` was neither sent before for this container
    /// nor is on its way.
    async fn wanted(&self, c: &UpdateCandidate, target: String) -> bool {
        let t = self.trigger;
        if !t.filter.allows(&t.id, &c.container, c.kind) {
            return false;
        }
        if !t.once {
            return true;
        }
        let key = (c.container.key(), target);
        if self
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&key)
        {
            return false;
        }
        let Some(store) = self.store else {
            return true;
        };
        let (id, (container, target)) = (t.id.to_string(), key);
        match store
            .blocking(move |s| s.already_sent(&id, &container, &target))
            .await
        {
            Ok(sent) => !sent,
            Err(err) => {
                // Better a repeated message than a lost one.
                tracing::warn!(trigger = %t.id, error = %err, "Store not readable; sending anyway.");
                true
            }
        }
    }

    /// One message for `notice`; `once_key`, when given and `once` is on, is marked sent after
    /// delivery.
    fn simple(&self, notice: Notice<'_>, once_key: Option<String>) {
        let c = notice.candidate();
        let message = match self.trigger.templates.simple(template::simple_data(notice)) {
            Ok(message) => message,
            Err(err) => {
                tracing::error!(trigger = %self.trigger.id, error = %err, "Template failed.");
                return;
            }
        };
        let once = match once_key {
            Some(key) if self.trigger.once => vec![(c.container.key(), key)],
            _ => Vec::new(),
        };
        self.enqueue(Outgoing {
            message,
            containers: vec![c.container.key()],
            once,
        });
    }

    /// Adds what `event` says to the sessions (`when=updated`, batch mode).
    async fn record(&self, sessions: &mut Sessions, event: &Event) {
        let t = self.trigger;
        let allowed = |c: &UpdateCandidate| t.filter.allows(&t.id, &c.container, c.kind);
        match event {
            Event::ContainerChecked(l) => {
                let session = sessions.open(&l.watcher);
                session.listed.retain(|x| x.name != l.name);
                session.listed.push((**l).clone());
            }
            Event::UpdateAvailable(c) if allowed(c) => {
                let claimed = t.claimed_by(c);
                let tracked = if claimed.is_empty() {
                    let key = target_key(c);
                    let news = self.wanted(c, key.clone()).await;
                    Tracked {
                        entry: Entry::new(c.clone(), State::Stale),
                        pending: false,
                        news,
                        once_key: (news && t.once).then_some(key),
                    }
                } else {
                    Tracked {
                        entry: Entry::new(c.clone(), State::Stale),
                        pending: true,
                        news: false,
                        once_key: None,
                    }
                };
                let session = sessions.open(&c.container.watcher);
                session.started.get_or_insert_with(Instant::now);
                session.awaiting.extend(claimed);
                session
                    .entries
                    .retain(|x| x.entry.candidate.container.name != c.container.name);
                session.entries.push(tracked);
            }
            Event::UpdateApplied { candidate, .. } if allowed(candidate) => {
                self.outcome(sessions, candidate, State::Updated, None, false)
                    .await;
            }
            Event::UpdateFailed { candidate, reason } if allowed(candidate) => {
                self.outcome(sessions, candidate, State::Failed, Some(reason), false)
                    .await;
            }
            Event::RolledBack { candidate, reason } if allowed(candidate) => {
                self.outcome(sessions, candidate, State::Failed, Some(reason), true)
                    .await;
            }
            Event::UpdateSkipped { candidate, reason } if allowed(candidate) => {
                self.outcome(sessions, candidate, State::Skipped, Some(reason), false)
                    .await;
            }
            Event::UpdatesCompleted(r) => {
                if let Some(session) = sessions
                    .0
                    .get_mut(&r.watcher)
                    .and_then(|list| list.iter_mut().find(|s| s.awaiting.contains(&r.trigger)))
                {
                    session.awaiting.remove(&r.trigger);
                }
            }
            Event::CheckCompleted(report) => {
                sessions.open(&report.watcher).checked = Some((Instant::now(), report.clone()));
            }
            _ => {}
        }
    }

    /// What became of `c`, into the session that waits for it (or, for an update nobody
    /// announced, such as one asked for by hand, the one checking now).
    async fn outcome(
        &self,
        sessions: &mut Sessions,
        c: &UpdateCandidate,
        state: State,
        reason: Option<&str>,
        rolled_back: bool,
    ) {
        let t = self.trigger;
        let (news, once_key) = match state {
            State::Updated => (true, None),
            State::Failed => {
                let key = outcome_key(if rolled_back { "rolled-back" } else { "failed" }, c);
                let news = self.wanted(c, key.clone()).await;
                (news, (news && t.once).then_some(key))
            }
            State::Skipped | State::Stale => (false, None),
        };
        let entry = Entry {
            candidate: c.clone(),
            state,
            reason: reason.map(str::to_string),
            rolled_back,
        };
        let tracked = Tracked {
            entry,
            pending: false,
            news,
            once_key,
        };
        match sessions.waiting_for(c) {
            Some(waiting) => *waiting = tracked,
            None => {
                let session = sessions.open(&c.container.watcher);
                session.started.get_or_insert_with(Instant::now);
                session.entries.push(tracked);
            }
        }
    }

    /// Tells a session: when it has news (an update applied, a failure or a stale update not
    /// told before), or, through a batch body of the user's, when it is a whole cycle with no
    /// update at all (Watchtower's templates decide whether that is worth a word). A message
    /// whose body renders empty is not sent, as in Watchtower.
    fn session(&self, watcher: &str, session: Session) {
        let news = session.entries.iter().any(|t| t.news);
        let quiet_cycle = session.entries.is_empty()
            && session.checked.is_some()
            && self.trigger.templates.custom_batch_body();
        if !news && !quiet_cycle {
            return;
        }
        let entries: Vec<Entry> = session.entries.iter().map(|t| t.entry.clone()).collect();
        let report = session.checked.as_ref().map(|(_, r)| r);
        let data = template::session_data(watcher, &entries, &session.listed, report);
        let message = match self.trigger.templates.batch(data) {
            Ok(message) => message,
            Err(err) => {
                tracing::error!(trigger = %self.trigger.id, error = %err, "Template failed.");
                return;
            }
        };
        if message.body.trim().is_empty() {
            tracing::debug!(trigger = %self.trigger.id, watcher, "Nothing to tell: the template rendered an empty message.");
            return;
        }
        self.enqueue(Outgoing {
            message,
            containers: entries
                .iter()
                .map(|e| e.candidate.container.key())
                .collect(),
            once: session
                .entries
                .iter()
                .filter_map(|t| {
                    t.once_key
                        .clone()
                        .map(|k| (t.entry.candidate.container.key(), k))
                })
                .collect(),
        });
    }

    fn batch(&self, watcher: &str, updates: Vec<UpdateCandidate>, report: Option<&Report>) {
        if updates.is_empty() {
            return;
        }
        let data = template::batch_data(watcher, &updates, report);
        let message = match self.trigger.templates.batch(data) {
            Ok(message) => message,
            Err(err) => {
                tracing::error!(trigger = %self.trigger.id, error = %err, "Template failed.");
                return;
            }
        };
        let once = if self.trigger.once {
            updates
                .iter()
                .map(|c| (c.container.key(), target_key(c)))
                .collect()
        } else {
            Vec::new()
        };
        self.enqueue(Outgoing {
            message,
            containers: updates.iter().map(|c| c.container.key()).collect(),
            once,
        });
    }

    fn enqueue(&self, out: Outgoing) {
        let keys = out.once.clone();
        self.in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(keys.iter().cloned());
        if self.queue.try_send(out).is_err() {
            self.trigger.stats.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(trigger = %self.trigger.id, "Delivery queue full; message dropped, the next cycle offers it again.");
            let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
            for key in &keys {
                in_flight.remove(key);
            }
        }
    }
}

/// One message through one channel: each attempt under `timeout`, transient failures retried
/// `retries` times with doubling backoff.
async fn deliver(
    notifier: &dyn Notifier,
    message: &Message,
    timeout: Duration,
    retries: u32,
) -> Result<(), TriggerError> {
    let mut backoff = FIRST_BACKOFF;
    let mut attempt = 0;
    loop {
        let result = match tokio::time::timeout(timeout, notifier.send(message)).await {
            Ok(result) => result,
            Err(_) => Err(TriggerError::Transient(format!(
                "no answer within {} s",
                timeout.as_secs()
            ))),
        };
        match result {
            Err(TriggerError::Transient(reason)) if attempt < retries => {
                tracing::debug!(attempt, reason = %reason, "Transient delivery failure; retrying.");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                attempt += 1;
            }
            Err(TriggerError::Transient(reason)) => {
                return Err(TriggerError::Transient(format!(
                    "{reason} (gave up after {} attempts)",
                    attempt + 1
                )));
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests;
