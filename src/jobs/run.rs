//! `run`: the action's entry point.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::Context;

pub async fn run(cx: &Context) -> Result<ExitCode> {
    let _ = cx;
    anyhow::bail!("todo")
}
