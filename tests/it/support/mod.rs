//! Test support: the fake GitHub and friends.
//!
//! Shared by every test module of the `it` binary; not every test uses every
//! helper.
#![allow(dead_code)]

pub mod action;
pub mod clickhouse;
pub mod fake_github;
pub mod oidc;
pub mod openapi;
pub mod snap;
pub mod stored_job;
pub mod webdriver;
