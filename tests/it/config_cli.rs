//! Configuration errors and `tidewatch config`, driven through the binary.
