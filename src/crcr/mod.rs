//! Downstream (out-of-tree) CI: repositories the project does not own that
//! test its pull requests, each at a level of an allowlist.
//!
//! [`allowlist`] is pure.

pub mod allowlist;

pub use allowlist::{Allowlist, AllowlistError, AllowlistErrors, Entry, Level, Target};
