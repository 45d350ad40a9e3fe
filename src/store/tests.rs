//! Unit tests of the store, on a temporary file.
