//! ClickHouse-backed commands and history look-ups.

use std::collections::BTreeSet;
use std::process::ExitCode;

use anyhow::{Context as _, Result};

use crate::action;
use crate::cli::{ClickhouseCommand, Context};
use crate::config::Config;
use crate::store::{Store, StoreConfig};

/// The store settings: the config's `clickhouse` section, overridden by the
/// `clickhouse-url` / `clickhouse-user` inputs; the password only ever comes
/// from the `clickhouse-password` input (a secret) or `CLICKHOUSE_PASSWORD`.
pub fn store_config(config: &Config) -> Result<StoreConfig> {
    let section = config.clickhouse.clone().unwrap_or_default();
    let url = action::input("clickhouse-url")
        .or_else(|| (!section.url.is_empty()).then(|| section.url.clone()))
        .context("ClickHouse is not configured: set `clickhouse.url` in the config or the `clickhouse-url` input")?;
    let password = action::input("clickhouse-password").or_else(|| {
        std::env::var("CLICKHOUSE_PASSWORD")
            .ok()
            .filter(|p| !p.is_empty())
    });
    if let Some(p) = &password {
        action::mask(p);
    }
    Ok(StoreConfig {
        url,
        user: action::input("clickhouse-user").or(Some(section.user)),
        password,
        database: section.database,
    })
}

pub async fn connect(config: &Config) -> Result<Store> {
    Store::connect(&store_config(config)?).await
}

pub async fn command(cx: &Context, command: &ClickhouseCommand) -> Result<ExitCode> {
    let config = super::run::load_config(cx, None).await?;
    match command {
        ClickhouseCommand::Migrate => {
            let store = connect(&config).await?;
            let applied = store.migrate().await?;
            if applied.is_empty() {
                println!("ci-medic: the ClickHouse schema is up to date");
            } else {
                println!("ci-medic: applied migrations {applied:?}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Job names that failed and passed on one commit since `since`.
pub async fn flaky_jobs(
    config: &Config,
    repo: &str,
    since: chrono::DateTime<chrono::Utc>,
) -> Result<BTreeSet<String>> {
    let store = connect(config).await?;
    Ok(store
        .flaky_jobs(repo, since)
        .await?
        .into_iter()
        .map(|f| f.name)
        .collect())
}
