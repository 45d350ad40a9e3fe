//! The two facts of the process that are not settings but that tidewatch needs: the search
//! path (to find a compose command) and the machine's name (for messages). Read here because
//! only `config/` reads the environment.

use std::ffi::OsString;

/// The `PATH` of the process, as it is now.
pub fn search_path() -> Option<OsString> {
    std::env::var_os("PATH")
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
