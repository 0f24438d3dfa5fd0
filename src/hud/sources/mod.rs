//! Where a HUD snapshot comes from.

pub mod file;
pub mod github;

use anyhow::{Result, bail};

use super::model::HudSnapshot;
use crate::cli::Context;

/// `--source`: `github`, `clickhouse` or `file:SNAPSHOT.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HudSource {
    Github,
    Clickhouse,
    File(std::path::PathBuf),
}

impl HudSource {
    /// `None` (or blank) means `github`.
    pub fn parse(text: Option<&str>) -> Result<HudSource> {
        let text = text.map(str::trim).unwrap_or_default();
        Ok(match text {
            "" | "github" => HudSource::Github,
            "clickhouse" => HudSource::Clickhouse,
            _ => match text.strip_prefix("file:") {
                Some(path) if !path.is_empty() => HudSource::File(path.into()),
                _ => {
                    bail!("--source must be github, clickhouse or file:SNAPSHOT.json, not {text:?}")
                }
            },
        })
    }
}

/// Read a snapshot covering the `since_days` days up to `now`.
pub async fn read(
    cx: &Context,
    source: &HudSource,
    since_days: u32,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<HudSnapshot> {
    match source {
        HudSource::File(path) => file::read(path),
        HudSource::Github => {
            let client = cx.client()?;
            let config = cx.load_config(Some(&client)).await?;
            let ctx = cx.ctx(Some(client), config);
            let (snap, calls) = github::read(&ctx, since_days, now).await?;
            cx.env.out(&format!(
                "ci-medic hud: {} API calls of a budget of {} for runs and jobs{}",
                calls.made,
                calls.budget,
                if calls.runs_skipped > 0 {
                    format!(" ({} completed runs left out)", calls.runs_skipped)
                } else {
                    String::new()
                }
            ));
            Ok(snap)
        }
        HudSource::Clickhouse => bail!(
            "hud: the clickhouse source is not built yet; use --source github or file:SNAPSHOT.json"
        ),
    }
    .map(|mut s| {
        if s.since_days == 0 {
            s.since_days = since_days;
        }
        let _ = cx;
        s
    })
}
