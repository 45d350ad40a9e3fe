//! Running a command to completion with a deadline. A wedged engine or a hung binary must fail
//! the one test with what it printed so far, not stall the whole run until CI gives up.

use std::fmt;
use std::io::{Read, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// What a finished command did. Text rather than bytes: everything the tests run prints text,
/// and a lossy conversion beats a panic on a stray byte.
#[derive(Debug, Clone)]
pub struct Output {
    /// The command line, for failure messages.
    pub command: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// Panics with everything the command printed unless it exited 0, so a failing test shows
    /// why without a rerun.
    #[track_caller]
    pub fn assert_success(&self) -> &Output {
        assert!(self.success(), "command failed:\n{self}");
        self
    }
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "$ {}", self.command)?;
        writeln!(f, "exit: {}", self.status)?;
        writeln!(f, "--- stdout ---\n{}", self.stdout.trim_end())?;
        write!(f, "--- stderr ---\n{}", self.stderr.trim_end())
    }
}

/// Runs `cmd` with `input` on stdin (empty when `None`) and waits at most `timeout`.
///
/// Errors are strings because every caller turns them into a panic message anyway: the program
/// could not be started, or it was killed at the deadline (with what it printed until then).
pub fn run(cmd: &mut Command, input: Option<&[u8]>, timeout: Duration) -> Result<Output, String> {
    let command = describe(cmd);
    let mut child = cmd
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| format!("cannot start `{command}`: {err}"))?;
    if let (Some(mut stdin), Some(input)) = (child.stdin.take(), input) {
        let input = input.to_vec();
        // A thread, so a child that does not read its input cannot block us before the deadline.
        thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
    }
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            Ok(None) => break None,
            Err(err) => return Err(format!("cannot wait for `{command}`: {err}")),
        }
    };
    let Some(status) = status else {
        kill(&mut child);
        return Err(format!(
            "`{command}` did not finish within {timeout:?} and was killed\n--- stdout ---\n{}\n--- stderr ---\n{}",
            collect(&stdout, Duration::from_secs(1)),
            collect(&stderr, Duration::from_secs(1)),
        ));
    };
    // The pipes close when the child exits, unless it left a grandchild holding them.
    Ok(Output {
        command,
        status,
        stdout: collect(&stdout, Duration::from_secs(10)),
        stderr: collect(&stderr, Duration::from_secs(10)),
    })
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    if let Some(mut pipe) = pipe {
        thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            let _ = tx.send(buf);
        });
    }
    rx
}

fn collect(rx: &mpsc::Receiver<Vec<u8>>, wait: Duration) -> String {
    rx.recv_timeout(wait)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}

/// The command line as a shell user would type it, with the variables set for it, for messages
/// only.
pub fn describe(cmd: &Command) -> String {
    let quote = |text: &str| {
        if text.is_empty() || text.contains([' ', '"', '\'', '*', '$']) {
            format!("'{}'", text.replace('\'', r"'\''"))
        } else {
            text.to_string()
        }
    };
    let env = cmd.get_envs().filter_map(|(key, value)| {
        let value = value?;
        Some(format!(
            "{}={}",
            key.to_string_lossy(),
            quote(&value.to_string_lossy())
        ))
    });
    env.chain(
        std::iter::once(cmd.get_program())
            .chain(cmd.get_args())
            .map(|arg| quote(&arg.to_string_lossy())),
    )
    .collect::<Vec<_>>()
    .join(" ")
}
