//! The daemon's HTTP server (issue 12, built beside this branch); here only the page so far.

pub mod page;
