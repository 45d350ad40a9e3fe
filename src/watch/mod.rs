//! The watch side: list each engine's containers, read their labels, ask the registries, and
//! publish what was found on the bus. Watchers never call triggers.
//!
//! `watcher` runs a cycle over the watchers; `finding` checks one container; `labels` is the
//! one place that knows label names and their WUD and Watchtower aliases; `schedule` is the
//! cron with jitter; `listing` prints a cycle's report as a table or JSON.
pub mod finding;
pub mod hold;
pub mod labels;
pub mod listing;
pub mod schedule;
pub mod watcher;
