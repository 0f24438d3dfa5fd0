//! End-to-end tests: one test binary, so linking happens once.

mod clickhouse;
mod fake_github_selftest;
mod support;
mod analyze_flow;
