//! The shared runner of every notifier: subscribes to the bus, filters, groups updates per cycle
//! in batch mode, honours `once` through the store, renders the templates, and hands messages
//! to a delivery worker that applies the timeout, retries with backoff and the rate limit.
//!
//! Two tasks per trigger, so a slow or dead channel never holds up the bus: the listener only
//! filters and queues; the worker does the waiting. A full queue drops the message (counted and
//! logged) rather than blocking, and since nothing was marked sent, the next cycle offers the
//! update again.

use super::template::{self, Notice, Templates};
use super::{Message, Notifier, TriggerError};
use crate::bus::{Event, Subscriber, WeakBus};
use crate::config::{CommonConfig, Mode};
use crate::model::{ContainerKey, Report, UpdateCandidate};
use crate::store::Store;
use crate::trigger::TriggerId;
use crate::trigger::filter::Filter;
use std::collections::{BTreeMap, HashSet};
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
            once: common.once.unwrap_or(true),
            spacing: common
                .ratelimit
                .filter(|&n| n > 0)
                .map(|n| Duration::from_secs(60) / n),
            timeout: Duration::from_secs(common.timeout.unwrap_or(10).max(1)),
            retries: common.retries.unwrap_or(3),
            stats: Arc::new(Stats::default()),
        }
    }

    pub fn id(&self) -> &TriggerId {
        &self.id
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
                    continue;
                }
            };
            let Some(event) = event else { break };
            match event.as_ref() {
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
