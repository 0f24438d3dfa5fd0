//! End-to-end tests: one test binary, so linking happens once.
// Benches, examples and tests read their own settings from the environment.
#![allow(clippy::disallowed_methods)]

/// `insta::assert_snapshot!` with the shared filters of `support::snap`.
macro_rules! assert_snap {
    ($($arg:tt)*) => {
        crate::support::snap::settings().bind(|| insta::assert_snapshot!($($arg)*))
    };
}

/// `insta::assert_json_snapshot!` with the shared filters of `support::snap`.
macro_rules! assert_json_snap {
    ($($arg:tt)*) => {
        crate::support::snap::settings().bind(|| insta::assert_json_snapshot!($($arg)*))
    };
}

mod analyze_flow;
mod autorevert_clickhouse;
mod autorevert_flow;
mod bot_audit;
mod bot_commands;
mod bot_parse;
mod bot_rebase;
mod clickhouse;
mod client;
mod crcr_allowlist;
mod crcr_relay;
mod crcr_views;
mod drci_clickhouse;
mod drci_flow;
mod drci_live;
mod drci_offline;
mod events;
mod fake_github_selftest;
mod heal_flow;
mod heal_offline;
mod hud_actions;
mod hud_browser;
mod hud_clickhouse;
mod hud_drci;
mod hud_github;
mod hud_site;
mod permissions_flow;
mod pr_cancel;
mod pr_cc;
mod pr_ciflow;
mod pr_disabled;
mod pr_labeled;
mod pr_labels;
mod pr_stale;
mod rendered;
mod retry_flow;
mod support;
