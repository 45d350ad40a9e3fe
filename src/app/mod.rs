//! What each command does with a loaded configuration: one file per command (`check`, `run`,
//! `plan`, `update`, `history`, `config`, `notify_test`, `rollback` with `hold` and `release`), `daemon` for what the long-running
//! ones share, `triggers` for building every trigger. Like `main.rs`, this is the edge where
//! typed errors become one line for a person: `main.rs` → `app` → the stages.

use crate::config::{ConfigError, ConfigErrors, Loaded, Origin};
use crate::registry::ClientSettings;
use crate::registry::credentials::Credential;

mod check;
mod config;
mod control;
mod daemon;
pub mod health;
mod history;
mod notify_test;
mod plan;
pub mod probe;
mod rollback;
mod run;
pub mod triggers;
mod update;

pub use crate::watch::watcher::Outcome;
pub use check::{check, write_report};
pub use config::print_config;
use daemon::*;
pub use history::history;
pub use notify_test::notify_test;
pub use plan::plan;
pub use rollback::{Asked, hold, hold_container, release, release_container, roll_back, rollback};
pub use run::{run, run_once};
pub use triggers::Triggers;
pub use update::update;

/// Every configured trigger, or every problem with them as configuration errors naming the
/// variable to fix (exit status 2, as any other configuration error).
pub fn triggers(loaded: &Loaded) -> Result<Triggers, ConfigErrors> {
    triggers::build_all(&loaded.config.trigger).map_err(|problems| {
        ConfigErrors(
            problems
                .iter()
                .map(|p| {
                    let path = p.path();
                    let origin = match loaded.origin(&path.join(".")) {
                        // Unset: name the variable that would set it.
                        Origin::Default => format!(
                            "{}{}",
                            crate::config::ENV_PREFIX,
                            path.join("_").to_ascii_uppercase()
                        ),
                        origin => origin.to_string(),
                    };
                    ConfigError::new(origin, p.problem.message.clone())
                })
                .collect(),
        )
    })
}

fn client_settings(loaded: &Loaded) -> ClientSettings {
    ClientSettings {
        docker_config_dir: loaded.docker_config_dir.clone(),
        fallback: loaded
            .repo_credentials
            .clone()
            .map(|(username, password)| Credential::Basic { username, password }),
        ..ClientSettings::default()
    }
}
