//! Configuration errors a user can act on: each names where the bad value came from (the exact
//! environment variable, or the file and key), what was expected, and a close match when one
//! exists. All errors of a load are collected and reported together.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Where the value came from: `TIDEWATCH_WATCHER_LOCAL_CRON`, or
    /// `tidewatch.toml: key watcher.local.cron`.
    pub origin: String,
    /// What is wrong, lowercase, never containing the value itself (it may be a secret).
    pub message: String,
}

impl ConfigError {
    pub fn new(origin: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            origin: origin.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.origin, self.message)
    }
}

/// Every problem found in one load, in a stable order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

/// The closest of `candidates` to `input`, when it is close enough to be a likely typo.
pub fn did_you_mean<'a>(input: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let input = input.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| (edit_distance(&input, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3) && *d < c.len().max(input.len()))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance; the inputs are short key names, so the quadratic table is fine.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = prev[j] + usize::from(ca != cb);
            cur[j + 1] = substitution.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_only_close_names() {
        let keys = ["cron", "jitter", "socket", "watchall", "watchbydefault"];
        assert_eq!(did_you_mean("cronn", &keys), Some("cron"));
        assert_eq!(did_you_mean("sockett", &keys), Some("socket"));
        assert_eq!(did_you_mean("watchal", &keys), Some("watchall"));
        assert_eq!(did_you_mean("WATCHBYDEFAUL", &keys), Some("watchbydefault"));
        assert_eq!(did_you_mean("password", &keys), None);
        assert_eq!(did_you_mean("x", &keys), None);
    }

    #[test]
    fn distance_counts_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
