//! `clickhouse migrate`: create or upgrade the tables.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{ClickhouseCommand, Context};

pub async fn command(cx: &Context, command: &ClickhouseCommand) -> Result<ExitCode> {
    let _ = (cx, command);
    anyhow::bail!("clickhouse: not configured")
}
