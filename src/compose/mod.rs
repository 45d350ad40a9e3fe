//! The compose trigger (`trigger`) and the surgery on compose files it relies on (`file`):
//! find the one scalar that names a service's image, change it, keep every comment and format.
pub mod file;
pub mod trigger;
