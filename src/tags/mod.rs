//! Which tag to offer a container instead of the one it runs. Users pin `postgres:16.2`,
//! `nginx:1.25-alpine` or `linuxserver/sonarr:4.0.2.1183-ls221` and want the next release of the
//! same kind — never `latest`, never another flavour, never a pre-release they did not ask for.
//! README.md ("Tag updates") states the rules for users, with examples the tests check.
//!
//! - `version`: reads a tag as prefix, numbers, pre-release, flavour and build; decides what is
//!   not a version (watched by digest only).
//! - `policy`: the user's `tag.include`, `tag.exclude`, `tag.transform` and switches.
//! - `select`: which tags compete with the current one, which wins, and the kind of the move.
//! - `threshold`: WUD's trigger thresholds over [`UpdateKind`](crate::model::UpdateKind).
//!
//! Pure functions over strings, no I/O: the watcher fetches the tag list and calls [`newest`].
//! Numbers are compared as `u64` lists rather than through the `semver` crate, which has exactly
//! three numbers and ranks `1.2.3-alpine` below `1.2.3`.

mod policy;
mod select;
mod threshold;
mod version;

#[cfg(test)]
mod rng;
#[cfg(test)]
mod tests;

pub use policy::{PolicyError, TagPolicy, Transform};
pub use select::{Newer, newest};
pub use threshold::{Threshold, ThresholdError};
pub use version::{Pre, Stage, Version, parse};
