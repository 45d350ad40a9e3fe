//! The smtp notifier against a real peer (being written).
