//! Unit tests of the runner with an in-memory notifier.
