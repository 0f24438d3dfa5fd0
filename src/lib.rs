//! ci-medic: keeps a repository's CI healthy.
//!
//! Every job is a pure function from facts (event, logs, job results, config)
//! to a [`plan::Plan`]; the executor carries a plan out through the GitHub
//! client, or prints it under `--dry-run`.

pub mod action;
pub mod analyze;
pub mod app;
pub mod automations;
pub mod autorevert;
pub mod bot;
pub mod cli;
pub mod config;
pub mod crcr;
pub mod drci;
pub mod event;
pub mod github;
pub mod handlers;
pub mod heal;
pub mod history;
pub mod hud;
pub mod job_logs;
pub mod jobs;
pub mod logs;
pub mod permissions;
pub mod plan;
pub mod report;
pub mod runtime;
pub mod store;
