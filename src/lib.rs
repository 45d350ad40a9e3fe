//! tidewatch keeps Docker containers current. ARCHITECTURE.md has the map: start there.
//!
//! The modules follow the data flow, bottom to top: plain data (`model`), the tag policy
//! (`tags`), configuration (`config`), the outside world (`registry`, `docker`), the watch
//! side (`watch`) that publishes on the `bus`, what every trigger shares (`trigger`), the
//! triggers that act (`update`, `compose`) and tell (`notify`), the `store` that records it
//! all, and `app`, which wires a command to them. A module imports only from those before it;
//! `tests/it/layout.rs` checks this.
pub mod app;
pub mod bus;
pub mod compose;
pub mod config;
pub mod docker;
pub mod memory;
pub mod model;
pub mod notify;
pub mod registry;
pub mod server;
pub mod store;
pub mod tags;
pub mod telemetry;
pub mod trigger;
pub mod update;
pub mod watch;
