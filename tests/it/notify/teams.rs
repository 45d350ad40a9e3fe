//! The teams notifier against a real peer (being written).
