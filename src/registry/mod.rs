//! The OCI distribution client: asks registries what a reference points to now, and which tags
//! exist, cheaply and politely — Docker Hub allows anonymous users 100 manifest GETs per six
//! hours, so unchanged images cost one HEAD and never a GET.
//!
//! `reference` names images as Docker does; `challenge` and `credentials` decide how to
//! authenticate; `transport` bounds every exchange; `client` puts it together.

pub mod challenge;
mod client;
pub mod credentials;
pub mod ecr;
mod error;
pub mod manifest;
mod providers;

pub mod tag_list;
mod transport;

pub use client::{ClientSettings, DigestCheck, Login, RegistryClient, RemoteDigest, Session};
pub use error::RegistryError;
pub use transport::{Limits, RequestCounts, RequestKind};
