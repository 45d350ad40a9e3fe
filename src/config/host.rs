//! The facts of the process that are not settings but that tidewatch needs: the search path
//! (to find a compose command), the machine's name (for messages) and the user's (for the
//! record of who rolled back or held a container). Read here because
//! only `config/` reads the environment.

use std::ffi::OsString;

/// The `PATH` of the process, as it is now.
pub fn search_path() -> Option<OsString> {
    std::env::var_os("PATH")
}

/// Who runs a command, for the record of a rollback or hold: `$USER`, else `$LOGNAME`, else
/// `unknown user`.
pub fn user() -> String {
    ["USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "unknown user".into())
}

/// The machine tidewatch runs on (in a container: the container's hostname).
pub fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .unwrap_or_else(|| "localhost".into())
}
