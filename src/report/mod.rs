//! Issue, comment and PR bodies: pure, sanitised.

pub mod advice;
pub mod hidden;
pub mod issue;
pub mod markdown;
