//! `heal`: turn a workflow-failure issue into a pull request that fixes the workflow.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Context, HealArgs};

pub async fn command(cx: &Context, args: &HealArgs) -> Result<ExitCode> {
    let _ = (cx, args);
    anyhow::bail!("heal is not available in this version of ci-medic")
}
