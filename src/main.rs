//! The command line: parse, load configuration, set up logging, hand over to the library.

use clap::{Arg, ArgAction, CommandFactory, FromArgMatches, Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use tidewatch::app::{self, Outcome};
use tidewatch::{config, telemetry};

/// Exit status for a configuration a user must fix, as promised in the README.
const EXIT_CONFIG: u8 = 2;
/// `run --once`: an update failed or was rolled back (README, "Exit status").
const EXIT_UPDATE_FAILED: u8 = 3;

#[derive(Parser)]
#[command(version, about = "Keeps Docker containers current.")]
struct Cli {
    /// TOML configuration file, or Diun's diun.yml (by its .yml/.yaml name); environment
    /// variables override it. Also TIDEWATCH_CONFIG (and Diun's CONFIG for a .yml file).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Watch only these containers, as Watchtower's arguments do.
    #[arg(value_name = "CONTAINER")]
    containers: Vec<String>,
    /// What to do; `run` when none is given.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Watch: check every watcher on its cron schedule (and once at start) until SIGTERM or
    /// SIGINT.
    Run {
        /// One cycle across all watchers, print the report, exit: 0 when every check worked,
        /// 1 when one failed.
        #[arg(long)]
        once: bool,
        /// With --once: print the report as JSON (logs stay on stderr).
        #[arg(long, requires = "once")]
        json: bool,
        /// Only these containers (Watchtower's positional arguments, also taken here).
        #[arg(value_name = "CONTAINER")]
        containers: Vec<String>,
    },
    /// Check every watched container once: its image, its digests, and whether the registry has
    /// a newer image behind its tag.
    Check {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Only these containers (Watchtower's positional arguments, also taken here).
        #[arg(value_name = "CONTAINER")]
        containers: Vec<String>,
    },
    /// Print the effective configuration, secrets masked, and where each value came from.
    Config {
        /// Only these containers (Watchtower's positional arguments, also taken here).
        #[arg(value_name = "CONTAINER")]
        containers: Vec<String>,
    },
    /// Print the audit log: findings as they changed, notifications, updates.
    History {
        /// Only this container.
        name: Option<String>,
        /// At most this many entries, the newest.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Send a sample update through one trigger (`kind.name`, e.g. smtp.ops).
    NotifyTest { trigger: String },
    /// Update these containers now (every container with an update when none is named),
    /// through the docker trigger, whatever its `auto`. Exit 1 when an update failed.
    Update { names: Vec<String> },
    /// Show what would be updated now, and why the others would not; change nothing.
    Plan {
        /// Only these containers (Watchtower's positional arguments, also taken here).
        #[arg(value_name = "CONTAINER")]
        containers: Vec<String>,
    },
    /// Exit 0 when the daemon's last check per watcher is recent (its cron, jitter and a grace
    /// period), 1 when it is late or none is recorded: the image's HEALTHCHECK.
    Health,
    /// Re-create a container from the image it ran before its last update (or an older one),
    /// keeping every setting, then hold the version rolled back from. Exit 1 when not done.
    Rollback {
        name: String,
        /// An older image of `tidewatch history NAME`: a tag, a digest or image ID
        /// (`sha256:…`), or `-N` (the Nth before, `-1` by default).
        #[arg(long, value_name = "REF", allow_hyphen_values = true)]
        to: Option<String>,
        /// Why, for the history and the hold.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Hold a container's updates back (not offered, notified or applied) until
    /// `tidewatch release NAME`.
    Hold {
        name: String,
        /// Hold only the versions up to this tag: a newer one is offered again.
        #[arg(long, value_name = "TAG")]
        until_newer_than: Option<String>,
        /// Why, for the history and the report.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Lift a container's hold (set by a rollback, the health gate or `tidewatch hold`).
    Release { name: String },
}

/// The command line, with every Watchtower flag accepted where Watchtower takes it (before or
/// after a command): the flags are a configuration source like the variables they stand for.
fn parse() -> (Cli, config::WatchtowerCommandLine) {
    let mut command = Cli::command();
    for flag in config::WATCHTOWER_FLAGS {
        let mut arg = Arg::new(flag.long)
            .long(flag.long)
            .global(true)
            .action(ArgAction::Append)
            .help_heading("Watchtower's flags")
            .help(format!("As Watchtower's {}", flag.var));
        if let Some(short) = flag.short {
            arg = arg.short(short);
        }
        arg = match flag.takes_value {
            true => arg.num_args(1).value_name("VALUE"),
            // `--cleanup`, or `--cleanup=false` as Go's flags allow.
            false => arg
                .num_args(0..=1)
                .require_equals(true)
                .default_missing_value("true")
                .value_name("BOOL"),
        };
        command = command.arg(arg);
    }
    let matches = command.get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|err| err.exit());
    // Names may come before the command (Watchtower's place) or after it.
    let mut containers = cli.containers.clone();
    if let Some(
        Command::Run {
            containers: more, ..
        }
        | Command::Check {
            containers: more, ..
        }
        | Command::Config { containers: more }
        | Command::Plan { containers: more },
    ) = &cli.command
    {
        containers.extend(more.iter().cloned());
    }
    // Diun's compose files start it with `command: serve`: that is `run`, not a container.
    if cli.command.is_none() && cli.containers.first().is_some_and(|c| c == "serve") {
        containers.remove(0);
    }
    let mut watchtower = config::WatchtowerCommandLine {
        containers,
        ..Default::default()
    };
    // Global flags given after a command are recorded on it; look where the user put them.
    let mut levels = vec![&matches];
    if let Some((_, sub)) = matches.subcommand() {
        levels.push(sub);
    }
    for flag in config::WATCHTOWER_FLAGS {
        let given = levels.iter().rev().find_map(|m| {
            (m.value_source(flag.long) == Some(clap::parser::ValueSource::CommandLine))
                .then(|| m.get_many::<String>(flag.long))
                .flatten()
        });
        for value in given.into_iter().flatten() {
            watchtower
                .flags
                .push((flag.long.to_string(), value.clone()));
        }
    }
    (cli, watchtower)
}

#[tokio::main]
async fn main() -> ExitCode {
    // Called as `sh`, `wget` or `curl` (the image's links): a health probe, not tidewatch.
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if let Some(tool) = argv.first().and_then(|a| app::probe::called_as(a)) {
        return probe(tool, &argv[1..]).await;
    }
    let (cli, watchtower) = parse();
    let loaded = match config::load_from_process(cli.config, &watchtower) {
        Ok(loaded) => loaded,
        Err(errors) => {
            for error in &errors.0 {
                eprintln!("tidewatch: configuration error: {error}");
            }
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    telemetry::init(&loaded.config.log);
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    // Watchtower's `--run-once`: one cycle, then exit.
    // Watchtower's `--health-check` (`/watchtower --health-check` in a compose file's health
    // check): this process checks on the daemon; as the container's main process it would be
    // a daemon that never runs, as Watchtower refuses it.
    if cli.command.is_none() && loaded.health_check && std::process::id() == 1 {
        eprintln!(
            "tidewatch: configuration error: --health-check: only for a health check command, \
             never the container's main process"
        );
        return ExitCode::from(EXIT_CONFIG);
    }
    let command = match cli.command {
        None if loaded.health_check => Command::Health,
        None | Some(Command::Run { once: false, .. }) if loaded.run_once => Command::Run {
            once: true,
            json: false,
            containers: Vec::new(),
        },
        command => command.unwrap_or(Command::Run {
            once: false,
            json: false,
            containers: Vec::new(),
        }),
    };
    // Triggers are built (templates compiled, settings checked) before anything runs, so a
    // mistake in one is a configuration error now, not a failed send at the first update.
    // `config` builds them too, to check them, and drops them.
    let needs_triggers = matches!(
        command,
        Command::Run { .. }
            | Command::NotifyTest { .. }
            | Command::Config { .. }
            | Command::Update { .. }
            | Command::Plan { .. }
            | Command::Rollback { .. }
            | Command::Hold { .. }
            | Command::Release { .. }
    );
    let triggers = if needs_triggers {
        match app::triggers(&loaded) {
            Ok(triggers) => triggers,
            Err(errors) => {
                for error in &errors.0 {
                    eprintln!("tidewatch: configuration error: {error}");
                }
                return ExitCode::from(EXIT_CONFIG);
            }
        }
    } else {
        Default::default()
    };
    match command {
        Command::Config { .. } => finish(app::print_config(&loaded, &mut std::io::stdout().lock())),
        Command::Check { json, .. } => report(app::check(&loaded).await, json, false),
        Command::Run {
            once: true, json, ..
        } => report(app::run_once(&loaded, triggers).await, json, true),
        Command::Run { once: false, .. } => {
            failure_line(app::run(&loaded, triggers, shutdown_signal()).await)
        }
        Command::History { name, limit, json } => failure_line(app::history(
            &loaded,
            name.as_deref(),
            limit,
            json,
            &mut std::io::stdout().lock(),
        )),
        Command::NotifyTest { trigger } => failure_line(
            app::notify_test(triggers, &trigger)
                .await
                .map(|line| println!("{line}")),
        ),
        Command::Update { names } => match app::update(&loaded, triggers, names).await {
            Ok((lines, ok)) => {
                for line in lines {
                    println!("{line}");
                }
                if ok {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                }
            }
            Err(err) => failure_line(Err(err)),
        },
        Command::Health => match app::health::health(&loaded) {
            Ok(verdict) => {
                println!("{}", verdict.line);
                if verdict.healthy {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                }
            }
            Err(err) => failure_line(Err(err)),
        },
        Command::Plan { .. } => failure_line(app::plan(&loaded, &triggers).await.map(|lines| {
            for line in lines {
                println!("{line}");
            }
        })),
        Command::Rollback { name, to, reason } => {
            let by = config::host::user();
            let asked = app::Asked {
                name: &name,
                by: &by,
                why: reason.as_deref(),
            };
            print_lines(app::rollback(&loaded, triggers, asked, to.as_deref()).await)
        }
        Command::Hold {
            name,
            until_newer_than,
            reason,
        } => {
            let by = config::host::user();
            let asked = app::Asked {
                name: &name,
                by: &by,
                why: reason.as_deref(),
            };
            print_lines(app::hold(&loaded, triggers, asked, until_newer_than.as_deref()).await)
        }
        Command::Release { name } => {
            let by = config::host::user();
            let asked = app::Asked {
                name: &name,
                by: &by,
                why: None,
            };
            print_lines(app::release(&loaded, triggers, asked).await)
        }
    }
}

fn print_lines(result: anyhow::Result<Vec<String>>) -> ExitCode {
    failure_line(result.map(|lines| {
        for line in lines {
            println!("{line}");
        }
    }))
}

fn failure_line(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("tidewatch: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Prints a cycle's report. Exit 1 when an engine could not be reached, and, when
/// `failed_checks_fail`, also when a container's check failed; exit 3 when an update failed or
/// was rolled back, which says more than either.
fn report(outcome: anyhow::Result<Outcome>, json: bool, failed_checks_fail: bool) -> ExitCode {
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(err) => {
            eprintln!("tidewatch: {err:#}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    let written = app::write_report(&outcome, json, &mut out);
    let _ = out.flush();
    for error in &outcome.errors {
        eprintln!("tidewatch: {error}");
    }
    let failed = if failed_checks_fail {
        outcome.failed()
    } else {
        !outcome.errors.is_empty()
    };
    if outcome.updates_failed > 0 {
        let _ = finish(written);
        return ExitCode::from(EXIT_UPDATE_FAILED);
    }
    match (finish(written), failed) {
        (code, false) => code,
        (_, true) => ExitCode::FAILURE,
    }
}

/// Resolves on SIGTERM (`docker stop`) or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            // Without SIGTERM handling, Ctrl-C still works.
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
}

/// A closed stdout (`tidewatch check | head`) is not worth a panic.
fn finish(result: std::io::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("tidewatch: cannot write output: {err}");
            ExitCode::FAILURE
        }
    }
}

/// A compose file's health probe (`wget …`, `curl …`, through `sh -c`): exit 0 when the address
/// answers 2xx, 1 when not (unhealthy), 127 for a command that is not a probe.
async fn probe(tool: &str, args: &[String]) -> ExitCode {
    let probe = match app::probe::parse(tool, args) {
        Ok(probe) => probe,
        Err(why) => {
            eprintln!("{tool}: {why} (tidewatch's image has no shell)");
            return ExitCode::from(app::probe::NOT_FOUND);
        }
    };
    match app::probe::run(&probe).await {
        Ok(answered) => {
            println!("{answered}");
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("{tool}: {why}");
            ExitCode::FAILURE
        }
    }
}
