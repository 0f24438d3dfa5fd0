//! `autorevert`: find the commit that broke trunk, confirm it, revert or notify.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{AutorevertArgs, Context};

pub async fn command(cx: &Context, args: &AutorevertArgs) -> Result<ExitCode> {
    let _ = (cx, args);
    anyhow::bail!("autorevert is not available in this version of ci-medic")
}
