//! OCI distribution client.
pub mod reference;
