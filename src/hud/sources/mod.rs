//! Where a HUD snapshot comes from.

pub mod clickhouse;
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
            "hud: the clickhouse source writes its pages as it reads them (see `build_from_clickhouse`)"
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

/// `--source clickhouse`: read and write the site into `out` page by page;
/// the snapshot returned holds what the index, trunk and pull request pages
/// showed (no downstream rows).
pub async fn build_from_clickhouse(
    cx: &Context,
    since_days: u32,
    now: chrono::DateTime<chrono::Utc>,
    out: &std::path::Path,
) -> Result<(HudSnapshot, clickhouse::BuildStats)> {
    // GitHub is optional here: with a token it names the default branch and
    // lists the failure issues; without one the trunk is `main`'s.
    let client = cx.client().ok();
    let config = cx.load_config(client.as_ref()).await?;
    let ctx = cx.ctx(client, config);
    let repo = cx.repo()?.full();
    let drci = ctx.config.drci.clone().unwrap_or_default();
    let (branch, issues, pulls, unstable) = match ctx.github() {
        Ok(client) => {
            let (pulls, unstable) = open_pulls(client, &drci).await?;
            cx.env.out(&format!(
                "ci-medic hud: {} open pull requests and their merge bases read from GitHub",
                pulls.len()
            ));
            (
                client.default_branch().await?,
                github::failure_issues(&ctx).await?.0,
                Some(pulls),
                unstable,
            )
        }
        Err(_) => ("main".to_string(), Vec::new(), None, Vec::new()),
    };
    let server = ctx
        .env
        .var("GITHUB_SERVER_URL")
        .filter(|s| s.starts_with("https://"))
        .map(str::to_string)
        .unwrap_or_else(super::model::default_server_url);
    let store = ctx.store().await?;
    clickhouse::build(
        store,
        clickhouse::Params {
            repo: &repo,
            branch: &branch,
            autorevert: &ctx.config.autorevert,
            since_days,
            now,
            server_url: &server,
            issues,
            drci: &drci,
            pulls,
            unstable,
        },
        out,
    )
    .await
}

/// The open pull requests (the most recently updated
/// [`clickhouse::MAX_PRS`]), each with the merge base its Dr. CI comment
/// compares with (GitHub's compare endpoint: one call each; one that
/// cannot be read stays unknown, and its page says UNCLASSIFIED), and the
/// open unstable issues: the facts of the comment that the tables do not
/// hold.
async fn open_pulls(
    client: &crate::github::Client,
    drci: &crate::drci::DrciSection,
) -> Result<(
    Vec<crate::drci::clickhouse::OpenPull>,
    Vec<crate::drci::snapshot::IssueRef>,
)> {
    use anyhow::Context as _;
    let open = client
        .open_pulls(clickhouse::MAX_PRS as usize)
        .await
        .context("listing the open pull requests")?;
    let mut pulls = Vec::with_capacity(open.len());
    for pr in open {
        let merge_base = match client.merge_base(&pr.base_ref, &pr.head_sha).await {
            Ok(sha) => Some(sha),
            Err(e) => {
                tracing::warn!("the merge base of #{} not read: {e}", pr.number);
                None
            }
        };
        pulls.push(crate::drci::clickhouse::OpenPull {
            number: pr.number,
            title: pr.title,
            author: pr.user.map(|u| u.login),
            head_sha: pr.head_sha,
            head_ref: pr.head_ref,
            merge_base,
        });
    }
    let label = drci.unstable_label.trim();
    let unstable = if label.is_empty() {
        Vec::new()
    } else {
        client
            .open_issues_with_label(label)
            .await
            .context("listing the open unstable issues")?
            .into_iter()
            .filter(|i| {
                matches!(
                    crate::automations::disabled::parse_title(&i.title),
                    Some(Ok(_))
                )
            })
            .map(|i| crate::drci::snapshot::IssueRef {
                number: Some(i.number),
                title: i.title,
            })
            .collect()
    };
    Ok((pulls, unstable))
}
