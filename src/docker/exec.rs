//! A shell command run inside a running container (`docker exec … sh -c COMMAND`), for the
//! lifecycle hooks in `crate::update::hooks`. What it printed is kept, bounded; the exit code
//! comes from the engine's inspect of the exec once the output has ended.
//!
//! A time limit covers starting the command, reading its output and learning its exit code.
//! When it passes, tidewatch stops waiting, but the command keeps running inside the container:
//! the engine has no API to kill an exec, and its `Pid` is a host PID that cannot be signalled
//! from inside the container. Closing the attach stream only closes the command's stdout and
//! stderr (a later write may kill it with SIGPIPE). Watchtower leaves it running too.

use super::{DockerError, Engine};
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use futures_util::StreamExt;
use std::collections::VecDeque;
use std::time::Duration;

/// The most of a command's output that is kept: its end, where the error usually is. A hook
/// that prints a database dump to stdout must not fill tidewatch's memory.
pub const OUTPUT_LIMIT: usize = 4096;

/// Between two looks at whether a command has exited.
const EXIT_POLL: Duration = Duration::from_millis(100);

/// How long output is still read after the command exited, for what was in flight; output of
/// a process it left behind in the background is not waited for beyond this.
const EXIT_GRACE: Duration = Duration::from_millis(200);

/// How a command run with [`Engine::exec`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutcome {
    /// `None` when it did not finish in time (or the engine did not say).
    pub exit_code: Option<i64>,
    /// The end of stdout and stderr as they arrived, at most [`OUTPUT_LIMIT`] bytes, starting
    /// with `…` when the beginning was dropped. Invalid UTF-8 is replaced. The engine copies
    /// the two streams separately, so a line on stderr may come before a stdout line that was
    /// written first.
    pub output: String,
    /// The time limit passed before the command finished; it may still be running.
    pub timed_out: bool,
}

impl Engine {
    /// Runs `sh -c COMMAND` in running container `id` and waits at most `timeout` for it to end.
    /// An error means it could not be run at all: the container is gone, is not running (the
    /// engine answers 409), or the engine is unreachable. A command that ran and failed is an
    /// `Ok` with its exit code.
    pub async fn exec(
        &self,
        id: &str,
        command: &str,
        timeout: Duration,
    ) -> Result<ExecOutcome, DockerError> {
        let options = CreateExecOptions {
            cmd: Some(vec!["sh", "-c", command]),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            // No TTY: stdout and stderr arrive framed, and a command does not behave as if a
            // user were typing at it.
            tty: Some(false),
            ..Default::default()
        };
        let created = self
            .docker
            .create_exec(id, options)
            .await
            .map_err(|err| self.api_error(&err))?;
        let mut tail = Tail::default();
        // The output read so far stays in `tail` when the time runs out.
        let finished = tokio::time::timeout(timeout, self.follow(&created.id, &mut tail)).await;
        match finished {
            Ok(Ok(exit_code)) => Ok(ExecOutcome {
                exit_code,
                output: tail.text(),
                timed_out: false,
            }),
            Ok(Err(err)) => Err(err),
            Err(_elapsed) => Ok(ExecOutcome {
                exit_code: None,
                output: tail.text(),
                timed_out: true,
            }),
        }
    }

    /// Starts exec `exec_id` and reads its output into `tail` until the command has exited.
    ///
    /// The output stream ends when every holder of the command's stdout and stderr closed
    /// them, which is usually when it exits, but not always: `daemon &` keeps them open after
    /// `sh` exits, and `exec >&-` closes them before. So the exec is also inspected while the
    /// output streams, and its exit is what ends the wait.
    async fn follow(&self, exec_id: &str, tail: &mut Tail) -> Result<Option<i64>, DockerError> {
        let options = StartExecOptions {
            detach: false,
            tty: false,
            output_capacity: None,
        };
        let started = self
            .docker
            .start_exec(exec_id, Some(options))
            .await
            .map_err(|err| self.api_error(&err))?;
        let StartExecResults::Attached { mut output, .. } = started else {
            // Not asked for (`detach: false`); the exit is all there is to wait for.
            return self.exit_code(exec_id).await;
        };
        let mut poll = tokio::time::interval(EXIT_POLL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut exited: Option<Option<i64>> = None;
        loop {
            tokio::select! {
                frame = output.next() => match frame {
                    Some(frame) => tail.push(frame.map_err(|err| self.api_error(&err))?.as_ref()),
                    None => break,
                },
                _ = poll.tick() => {
                    if exited.is_some() {
                        break;
                    }
                    let inspect = self
                        .docker
                        .inspect_exec(exec_id)
                        .await
                        .map_err(|err| self.api_error(&err))?;
                    if inspect.running != Some(true) {
                        exited = Some(inspect.exit_code);
                        // What it printed just before exiting may still be in flight.
                        poll.reset_after(EXIT_GRACE);
                    }
                },
            }
        }
        match exited {
            Some(exit_code) => Ok(exit_code),
            None => self.exit_code(exec_id).await,
        }
    }

    /// Waits for the engine to record that exec `exec_id` exited, and returns its exit code.
    async fn exit_code(&self, exec_id: &str) -> Result<Option<i64>, DockerError> {
        loop {
            let inspect = self
                .docker
                .inspect_exec(exec_id)
                .await
                .map_err(|err| self.api_error(&err))?;
            if inspect.running != Some(true) {
                return Ok(inspect.exit_code);
            }
            tokio::time::sleep(EXIT_POLL).await;
        }
    }
}

/// The last [`OUTPUT_LIMIT`] bytes of a stream.
#[derive(Debug, Default)]
struct Tail {
    bytes: VecDeque<u8>,
    dropped: bool,
}

impl Tail {
    fn push(&mut self, chunk: &[u8]) {
        self.bytes.extend(chunk);
        let excess = self.bytes.len().saturating_sub(OUTPUT_LIMIT);
        if excess > 0 {
            self.bytes.drain(..excess);
            self.dropped = true;
        }
    }

    fn text(&self) -> String {
        let (front, back) = self.bytes.as_slices();
        let mut bytes = Vec::with_capacity(self.bytes.len());
        bytes.extend_from_slice(front);
        bytes.extend_from_slice(back);
        if !self.dropped {
            return String::from_utf8_lossy(&bytes).into_owned();
        }
        // A cut may land inside a character: skip its continuation bytes rather than show a
        // replacement character where the cut was.
        let start = bytes
            .iter()
            .position(|&b| b & 0b1100_0000 != 0b1000_0000)
            .unwrap_or(bytes.len());
        format!("…{}", String::from_utf8_lossy(&bytes[start..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_output_is_kept_whole() {
        let mut tail = Tail::default();
        tail.push(b"hello ");
        tail.push(b"world\n");
        assert_eq!(tail.text(), "hello world\n");
    }

    #[test]
    fn long_output_keeps_its_end() {
        let mut tail = Tail::default();
        for i in 0..2000 {
            tail.push(format!("line {i}\n").as_bytes());
        }
        let text = tail.text();
        assert!(text.starts_with('…'), "{text:.20}");
        assert!(text.ends_with("line 1999\n"));
        assert!(text.len() <= OUTPUT_LIMIT + '…'.len_utf8());
    }

    #[test]
    fn a_cut_inside_a_character_drops_the_rest_of_it() {
        let mut tail = Tail::default();
        // `é` is two bytes: an odd limit from here cuts the first one in half.
        tail.push("é".repeat(OUTPUT_LIMIT / 2 + 1).as_bytes());
        tail.push(b"x");
        let text = tail.text();
        assert!(!text.contains('\u{fffd}'), "{text:.20}");
        assert!(text.starts_with("…é") && text.ends_with("éx"));
    }
}
