//! `--source github`: the site from the REST API, for repositories without
//! ClickHouse. Reads the open failure issues ci-medic filed, the runs of the
//! window (the newest [`MAX_RUNS`]) and the jobs of each completed one, and
//! the trunk snapshot autorevert reads; the calls it makes are counted
//! against [`CALL_BUDGET`] and printed. It has no Dr. CI verdicts and no
//! downstream data (those pages say so).

use anyhow::Result;
use chrono::{DateTime, Duration, Utc};

use crate::app::Ctx;
use crate::autorevert::detect::Params;
use crate::github::api::encode_segment;
use crate::history::{History, HistorySource};
use crate::hud::aggregate::{Aggregate, JobRow};
use crate::hud::model::{FailureIssue, HudSnapshot};
use crate::report::issue::parse_block;

/// Runs of the window read, newest first.
pub const MAX_RUNS: usize = 300;
/// Calls one build may make for runs and jobs; runs past it are left out.
pub const CALL_BUDGET: usize = 400;
/// Runs per page of the runs list (GitHub's largest page).
const PER_PAGE: usize = 100;

/// What the build cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Calls {
    pub made: usize,
    pub budget: usize,
    /// Completed runs whose jobs were not read for want of budget.
    pub runs_skipped: usize,
}

/// The open failure issues ci-medic filed (those with its analysis block),
/// from the issues with the config's failure label; and how many issues
/// were read.
pub async fn failure_issues(ctx: &Ctx) -> Result<(Vec<FailureIssue>, usize)> {
    let client = ctx.github()?;
    let label = ctx
        .config
        .analyze
        .labels
        .iter()
        .find(|l| *l == crate::config::LABEL_WORKFLOW_FAILURE)
        .or_else(|| ctx.config.analyze.labels.first())
        .cloned()
        .unwrap_or_else(|| crate::config::LABEL_WORKFLOW_FAILURE.to_string());
    let issues = client.own_issues_with_label(&label).await?;
    let read = issues.len();
    let mut out = Vec::new();
    for i in issues {
        // Only what ci-medic wrote is read as its analysis.
        let block = i.body.as_deref().and_then(parse_block);
        let Some(a) = block else { continue };
        out.push(FailureIssue {
            number: i.number,
            title: i.title.clone(),
            url: i.html_url.clone(),
            category: a.category.as_str().to_string(),
            fingerprint: Some(a.fingerprint.clone()),
            workflow: Some(a.workflow.clone()),
            opened_at: None,
            occurrences: a.occurrences.len().max(1) as u64,
        });
    }
    Ok((out, read))
}

/// The snapshot of the last `since_days` days as of `now`.
pub async fn read(ctx: &Ctx, since_days: u32, now: DateTime<Utc>) -> Result<(HudSnapshot, Calls)> {
    let client = ctx.github()?;
    let repo = client.repo().full();
    let mut snap = HudSnapshot::empty(&repo, now, since_days);
    if let Some(server) = ctx
        .env
        .var("GITHUB_SERVER_URL")
        .filter(|s| s.starts_with("https://"))
    {
        snap.server_url = server.trim_end_matches('/').to_string();
    }
    let mut calls = Calls {
        budget: CALL_BUDGET,
        ..Calls::default()
    };

    let (issues, read) = failure_issues(ctx).await?;
    calls.made += read / PER_PAGE + 1;
    snap.issues = issues;

    let since = now - Duration::days(i64::from(since_days));
    let created = encode_segment(&format!(">={}", since.format("%Y-%m-%dT%H:%M:%SZ")), false);
    let runs = client
        .runs(&format!("created={created}&per_page={PER_PAGE}"), MAX_RUNS)
        .await?;
    calls.made += runs.len() / PER_PAGE + 1;
    let mut agg = Aggregate::default();
    for run in &runs {
        if run.status != Some(crate::event::Status::Completed) {
            continue;
        }
        if calls.made >= calls.budget {
            calls.runs_skipped += 1;
            continue;
        }
        let jobs = client.run_jobs(run.id, run.run_attempt).await?;
        calls.made += 1;
        let workflow = run.name.clone().unwrap_or_default();
        for j in &jobs {
            agg.add(&JobRow {
                workflow: &workflow,
                name: &j.name,
                sha: &j.head_sha,
                status: j.status.as_ref(),
                conclusion: j.conclusion.as_ref(),
                completed_at: j.completed_at,
                url: j.html_url.as_deref(),
                ..JobRow::default()
            });
        }
    }
    snap.daily = agg.daily();
    snap.flaky = agg.flaky();
    // Fingerprints come from the issues: the API source reads no logs.
    for i in &snap.issues {
        if let Some(fp) = &i.fingerprint {
            snap.fingerprints.push(crate::hud::model::FingerprintCount {
                fingerprint: fp.clone(),
                category: i.category.clone(),
                rule: None,
                line: None,
                count: i.occurrences,
                last_seen: None,
                example_url: None,
                issue: Some(i.number),
            });
        }
    }
    snap.fingerprints
        .sort_by_key(|f| std::cmp::Reverse(f.count));

    let branch = client.default_branch().await?;
    let trunk = History::new(ctx, HistorySource::Github)
        .trunk_snapshot(&branch, now)
        .await?;
    snap.trunk = crate::hud::trunk::grids(
        &trunk,
        &Params::from_config(&ctx.config.autorevert),
        &snap.server_url,
    );
    Ok((snap, calls))
}
