//! The slack notifier against a real peer (being written).
