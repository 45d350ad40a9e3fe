//! The one integration-test crate. Every area is a module here rather than a file of its own
//! under `tests/`: each such file would be a separate binary linked against the whole crate, and
//! on two cores linking dominates the build.
//!
//! Everything runs against the real thing: the Docker engine of this machine, a registry on
//! loopback and images built from a static busybox (see `support`). Tests run in parallel on one
//! engine, so each one names and labels what it creates and looks only at its own objects.

mod check;
mod compat;
mod compose;
mod config_cli;
mod crash;
mod diun;
mod diun_regopts;
mod faults;
mod fidelity;
mod hooks;
mod image;
mod layout;
mod modes;
mod mqtt;
mod notify;
mod page;
mod readme;
mod registry;
mod rollback;
mod rollback_on_demand;
mod run;
mod self_update;
mod server;
mod shoutrrr_hooks;
mod spec;
mod store;
mod support;
mod swarm;
mod update;
mod wud_http;
mod wud_kinds;
