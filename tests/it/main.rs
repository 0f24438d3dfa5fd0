//! End-to-end tests: one test binary, so linking happens once.
// Benches, examples and tests read their own settings from the environment.
#![allow(clippy::disallowed_methods)]

mod analyze_flow;
mod autorevert_clickhouse;
mod autorevert_flow;
mod clickhouse;
mod client;
mod events;
mod fake_github_selftest;
mod heal_flow;
mod heal_offline;
mod retry_flow;
mod support;
