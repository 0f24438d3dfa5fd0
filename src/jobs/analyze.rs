//! `analyze`: explain a failed run and file one deduplicated issue.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{AnalyzeArgs, Context};

pub async fn command(cx: &Context, args: &AnalyzeArgs) -> Result<ExitCode> {
    let _ = (cx, args);
    anyhow::bail!("todo")
}
