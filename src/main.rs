//! The command line: parse, load configuration, set up logging, hand over to the library.

use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use tidewatch::{app, config, telemetry};

/// Exit status for a configuration a user must fix, as promised in the README.
const EXIT_CONFIG: u8 = 2;

#[derive(Parser)]
#[command(version, about = "Keeps Docker containers current.")]
struct Cli {
    /// TOML configuration file; environment variables override it. Also TIDEWATCH_CONFIG.
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check every watched container once: its image, its digests, and whether the registry has
    /// a newer image behind its tag.
    Check {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print the effective configuration, secrets masked, and where each value came from.
    Config,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let loaded = match config::load_from_process(cli.config) {
        Ok(loaded) => loaded,
        Err(errors) => {
            for error in &errors.0 {
                eprintln!("tidewatch: configuration error: {error}");
            }
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    telemetry::init(&loaded.config.log);
    match cli.command {
        Command::Config => finish(app::print_config(&loaded, &mut std::io::stdout().lock())),
        Command::Check { json } => {
            let (listing, errors) = match app::check(&loaded).await {
                Ok(result) => result,
                Err(err) => {
                    eprintln!("tidewatch: {err:#}");
                    return ExitCode::FAILURE;
                }
            };
            let mut out = std::io::stdout().lock();
            let written = if json {
                listing.write_json(&mut out)
            } else if listing.containers.is_empty() && !errors.is_empty() {
                // Nothing answered: a bare table header would only look like an empty host.
                Ok(())
            } else {
                listing.write_table(&mut out)
            };
            let _ = out.flush();
            for error in &errors {
                eprintln!("tidewatch: {error}");
            }
            match (finish(written), errors.is_empty()) {
                (code, true) => code,
                (_, false) => ExitCode::FAILURE,
            }
        }
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
