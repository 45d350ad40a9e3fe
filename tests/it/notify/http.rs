//! The http notifier against a real peer (being written).
