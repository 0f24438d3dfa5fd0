//! `autorevert`: find the commit that broke trunk, confirm it, revert or notify.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{AutorevertArgs, Context};
use crate::config::Config;
use crate::github::Client;

pub async fn command(cx: &Context, args: &AutorevertArgs) -> Result<ExitCode> {
    let _ = (cx, args);
    anyhow::bail!("autorevert is not available in this version of ci-medic")
}

pub async fn scheduled(cx: &Context, client: &Client, config: &Config) -> Result<ExitCode> {
    let _ = (cx, client, config);
    anyhow::bail!("autorevert is not available in this version of ci-medic")
}
