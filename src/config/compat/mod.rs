//! The settings of the tools tidewatch replaces, mapped onto its own: Watchtower's variables
//! here (WUD's share tidewatch's grammar and are read by `config::env`).
pub mod watchtower;
