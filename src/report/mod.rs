//! Issue, comment and PR bodies: pure, sanitised.

pub mod markdown;
