//! The jobs: each gathers facts, decides a plan, and hands it to the executor.

pub mod analyze;
pub mod autorevert;
pub mod clickhouse;
pub mod heal;
pub mod ingest;
pub mod retry;
