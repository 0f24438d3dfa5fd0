//! `clickhouse migrate`: create or upgrade the tables.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{ClickhouseCommand, Context};

pub async fn command(cx: &Context, command: &ClickhouseCommand) -> Result<ExitCode> {
    let config = cx.load_config(None).await?;
    let ctx = cx.ctx(None, config);
    match command {
        ClickhouseCommand::Migrate => {
            let store = ctx.store().await?;
            let applied = store.migrate().await?;
            if applied.is_empty() {
                ctx.env.out("ci-medic: the ClickHouse schema is up to date");
            } else {
                ctx.env
                    .out(&format!("ci-medic: applied migrations {applied:?}"));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
