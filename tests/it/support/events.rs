//! Engine events recorded while a test acts. Asking afterwards (`docker events --since T
//! --until U`) reads the engine's memory of past events, which holds only the last 256: with
//! tests running in parallel, one update's events are pushed out within seconds, and a test
//! would see none (or, asserting that nothing happened, pass for the wrong reason). So a test
//! starts an [`EventLog`] before it acts and reads it after.

use super::TestRun;
pub use super::update::engine_time;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// After the last action, how long events already sent may take to arrive through the CLI.
const SETTLE: Duration = Duration::from_millis(500);

/// A running `docker events`, one line per event in the test's format.
pub struct EventLog {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<JoinHandle<()>>,
}

impl EventLog {
    /// `name action` of every container start and stop from now on.
    pub fn starts_and_stops(run: &TestRun) -> EventLog {
        EventLog::start(
            run,
            &["type=container", "event=stop", "event=start"],
            "{{.Actor.Attributes.name}} {{.Action}}",
        )
    }

    /// Records the events matching every filter (`type=container`, `event=stop`, …) from now
    /// on, each as `format` renders it. Starting at the engine's time now, the events between
    /// this call and the subscription are replayed, so nothing the test does next is missed.
    pub fn start(run: &TestRun, filters: &[&str], format: &str) -> EventLog {
        let since = engine_time(run);
        let mut cmd = Command::new("docker");
        cmd.env("DOCKER_CONFIG", run.docker_config())
            .args(["events", "--since", &since, "--format", format]);
        for filter in filters {
            cmd.args(["--filter", filter]);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker events starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let lines: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink = lines.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
        });
        EventLog {
            child,
            lines,
            reader: Some(reader),
        }
    }

    /// Stops recording once what the engine already sent has arrived; the lines, in order.
    pub fn stop(mut self) -> Vec<String> {
        std::thread::sleep(SETTLE);
        self.end();
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn end(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

impl Drop for EventLog {
    /// A test that panicked before `stop` leaves no `docker events` behind.
    fn drop(&mut self) {
        self.end();
    }
}
