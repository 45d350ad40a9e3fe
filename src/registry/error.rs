//! What can go wrong asking a registry, with variants only where a caller branches.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// Credentials are missing or rejected.
    #[error("{host}: unauthorized: {detail}")]
    Unauthorized { host: String, detail: String },
    /// The repository or the tag does not exist (or is hidden without credentials).
    #[error("{image}: not found in the registry")]
    NotFound { image: String },
    /// The registry asked us to slow down; no request goes to it before `retry_after`.
    #[error("{host}: rate limited{}", retry_after.map(|d| format!(", retry after {}s", d.as_secs())).unwrap_or_default())]
    RateLimited {
        host: String,
        retry_after: Option<Duration>,
    },
    /// The registry could not be reached or kept failing: refused, timed out, 5xx.
    #[error("{host}: {detail}")]
    Transport { host: String, detail: String },
    /// The registry answered something we cannot use: garbage, too large, missing headers.
    #[error("{host}: {detail}")]
    Protocol { host: String, detail: String },
}
