//! The internal event bus. Watchers publish what they find; triggers, the store and the API
//! subscribe. Nothing flows the other way: a trigger that changes a container reports it as a
//! new event.
//!
//! A tokio broadcast channel, because every subscriber must see every event and a publisher must
//! never wait for a slow one. The price is that a subscriber that falls behind by more than the
//! capacity loses the oldest events; that is logged and counted, and is safe because a check is
//! idempotent: the next cycle finds the same update again.

use crate::model::finding::ListedContainer;
use crate::model::{ContainerInfo, ContainerKey, Hold, Report, UpdateCandidate, UpdateReport};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::broadcast;

/// Room for one cycle of a large host (hundreds of containers) without lag.
pub const DEFAULT_CAPACITY: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A watcher listed this container (on its schedule or after a Docker event).
    ContainerSeen(ContainerInfo),
    /// What checking a container found, as `check` reports it.
    ContainerChecked(Box<ListedContainer>),
    /// A container the watcher knew is gone.
    ContainerRemoved {
        watcher: String,
        id: String,
        name: String,
    },
    /// A newer image exists for this container.
    UpdateAvailable(UpdateCandidate),
    /// The container was re-created on the new image and passed its health gate.
    UpdateApplied {
        candidate: UpdateCandidate,
        new_container_id: String,
    },
    /// The update could not be done; the old container is still what runs.
    UpdateFailed {
        candidate: UpdateCandidate,
        reason: String,
    },
    /// The new container was started but failed its health gate; the old one is back.
    RolledBack {
        candidate: UpdateCandidate,
        reason: String,
    },
    /// The update was left out on purpose (a pre-update hook exited 75): not a failure, so
    /// notifiers do not tell it as one; the next cycle offers it again.
    UpdateSkipped {
        candidate: UpdateCandidate,
        reason: String,
    },
    /// A user rolled a container back (`tidewatch rollback`): it ran `candidate.current`
    /// (image `from_image_id`) and now runs `candidate.target` (image `to_image_id`), which
    /// passed the health gate.
    RollbackApplied {
        candidate: UpdateCandidate,
        new_container_id: String,
        from_image_id: String,
        to_image_id: String,
        /// Who asked (the user running the command).
        by: String,
    },
    /// A container's updates are held back from now on (see [`Hold`]).
    Held(Hold),
    /// A container's hold was lifted.
    Released {
        watcher: String,
        name: String,
        by: String,
        reason: String,
    },
    /// A docker trigger finished one watcher's updates of a cycle: how many of each outcome.
    UpdatesCompleted(UpdateReport),
    /// A trigger sent a message about these containers, or gave up (`failure`).
    Notified {
        trigger: String,
        containers: Vec<ContainerKey>,
        failure: Option<String>,
    },
    /// Sent after a cycle when its consequences must finish before going on (`run --once`,
    /// shutdown): a trigger that acts inline has finished everything before it once it sees
    /// this.
    Barrier(u64),
    /// One watcher began a cycle (not a check the engine's events started).
    CheckStarted { watcher: String },
    /// One watcher finished a cycle.
    CheckCompleted(Report),
}

#[derive(Debug, Clone)]
pub struct Bus {
    sender: broadcast::Sender<Arc<Event>>,
    /// Shared with every subscriber, so the total is known in one place for metrics.
    lagged: Arc<AtomicU64>,
}

impl Bus {
    pub fn new(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity);
        Bus {
            sender,
            lagged: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Never blocks. Returns how many subscribers will see the event; none is not an error.
    pub fn publish(&self, event: Event) -> usize {
        self.sender.send(Arc::new(event)).unwrap_or(0)
    }

    /// `name` identifies the subscriber in lag warnings.
    pub fn subscribe(&self, name: impl Into<String>) -> Subscriber {
        Subscriber {
            name: name.into(),
            receiver: self.sender.subscribe(),
            lagged: self.lagged.clone(),
        }
    }

    /// A handle that publishes without keeping the bus open: subscribers still see the end
    /// when every `Bus` is dropped. For triggers, which report on the bus they listen to.
    pub fn weak(&self) -> WeakBus {
        WeakBus(self.sender.downgrade())
    }

    /// The lag counter itself, for a reader that must not keep the bus open (metrics).
    pub fn weak_lag(&self) -> Arc<AtomicU64> {
        self.lagged.clone()
    }

    /// Events dropped across all subscribers because they fell behind.
    pub fn lagged_total(&self) -> u64 {
        self.lagged.load(Ordering::Relaxed)
    }
}

impl Default for Bus {
    fn default() -> Self {
        Bus::new(DEFAULT_CAPACITY)
    }
}

#[derive(Debug, Clone)]
pub struct WeakBus(broadcast::WeakSender<Arc<Event>>);

impl WeakBus {
    /// Publishes when the bus is still open; after shutdown the event goes nowhere.
    pub fn publish(&self, event: Event) -> usize {
        match self.0.upgrade() {
            Some(sender) => sender.send(Arc::new(event)).unwrap_or(0),
            None => 0,
        }
    }
}

#[derive(Debug)]
pub struct Subscriber {
    name: String,
    receiver: broadcast::Receiver<Arc<Event>>,
    lagged: Arc<AtomicU64>,
}

impl Subscriber {
    /// The next event; `None` once every publisher is gone. Lag is reported and skipped over.
    pub async fn recv(&mut self) -> Option<Arc<Event>> {
        loop {
            match self.receiver.recv().await {
                Ok(event) => return Some(event),
                Err(broadcast::error::RecvError::Lagged(skipped)) => {
                    self.lagged.fetch_add(skipped, Ordering::Relaxed);
                    tracing::warn!(
                        subscriber = %self.name,
                        skipped,
                        "Subscriber fell behind; oldest events dropped."
                    );
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(scanned: usize) -> Event {
        Event::CheckCompleted(Report {
            watcher: "local".into(),
            scanned,
            ..Report::default()
        })
    }

    #[tokio::test]
    async fn every_subscriber_sees_every_event() {
        let bus = Bus::new(8);
        let mut a = bus.subscribe("a");
        let mut b = bus.subscribe("b");
        assert_eq!(bus.publish(report(1)), 2);
        assert_eq!(*a.recv().await.unwrap(), report(1));
        assert_eq!(*b.recv().await.unwrap(), report(1));
    }

    #[tokio::test]
    async fn a_slow_subscriber_never_blocks_the_publisher_and_its_lag_is_counted() {
        let bus = Bus::new(4);
        let mut slow = bus.subscribe("slow");
        for i in 0..10 {
            bus.publish(report(i));
        }
        // The four newest survive; the six before them are counted as lost.
        assert_eq!(*slow.recv().await.unwrap(), report(6));
        assert_eq!(bus.lagged_total(), 6);
        for i in 7..10 {
            assert_eq!(*slow.recv().await.unwrap(), report(i));
        }
    }

    #[tokio::test]
    async fn publishing_without_subscribers_is_fine_and_closing_ends_them() {
        let bus = Bus::new(4);
        assert_eq!(bus.publish(report(0)), 0);
        let mut sub = bus.subscribe("late");
        drop(bus);
        assert!(sub.recv().await.is_none());
    }
}
