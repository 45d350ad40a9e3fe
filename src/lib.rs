//! tidewatch keeps Docker containers current. ARCHITECTURE.md has the map: start there.
pub mod app;
pub mod bus;
pub mod config;
pub mod docker;
pub mod finding;
pub mod labels;
pub mod listing;
pub mod memory;
pub mod model;
pub mod registry;
pub mod schedule;
pub mod store;
pub mod tags;
pub mod telemetry;
pub mod trigger;
pub mod update;
pub mod watcher;
