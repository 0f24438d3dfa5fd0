//! `history`: what the default branch and its jobs did lately, for the
//! handlers that judge the present by the past.
//!
//! It answers two questions:
//!
//! - the **trunk snapshot** ([`Snapshot`]): the default branch's commits,
//!   newest first, and the result of every attempt of every job on them.
//!   Autorevert reads it to find the commit that broke trunk;
//! - the **flaky memory** ([`FlakyJob`]): jobs that failed and then passed on
//!   one commit. Retry reads it to re-run a job known to be flaky; a report
//!   that tells flaky failures from real ones can read it too.
//!
//! Each is read from one of three sources ([`HistorySource`]): the GitHub API
//! ([`github`], needs only the token), ClickHouse ([`clickhouse`], the tables
//! `ci-medic ingest` fills), or a snapshot file ([`Snapshot::load`], offline).
//! [`History`] picks the source's reader; the models ([`snapshot`]) and the
//! flaky rule ([`flaky`]) are pure.

use std::path::PathBuf;

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::app::Ctx;

pub mod clickhouse;
pub mod flaky;
pub mod github;
pub mod snapshot;

pub use flaky::FlakyJob;
pub use snapshot::Snapshot;

/// A source a running action reads history from: what the config's
/// `retry.history` and `autorevert.source` say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum OnlineSource {
    #[default]
    Github,
    Clickhouse,
}

/// Where history is read from: an [`OnlineSource`], or a snapshot file (the
/// command line's `--source file:SNAPSHOT.json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistorySource {
    Github,
    Clickhouse,
    File(PathBuf),
}

impl From<OnlineSource> for HistorySource {
    fn from(source: OnlineSource) -> HistorySource {
        match source {
            OnlineSource::Github => HistorySource::Github,
            OnlineSource::Clickhouse => HistorySource::Clickhouse,
        }
    }
}

impl HistorySource {
    /// `github`, `clickhouse` or `file:PATH`; `None` (or blank) takes
    /// `default`.
    pub fn parse(text: Option<&str>, default: OnlineSource) -> Result<HistorySource> {
        match text.map(str::trim) {
            None | Some("") => Ok(default.into()),
            Some("github") => Ok(HistorySource::Github),
            Some("clickhouse") => Ok(HistorySource::Clickhouse),
            Some(other) => match other.strip_prefix("file:") {
                Some(path) if !path.is_empty() => Ok(HistorySource::File(PathBuf::from(path))),
                _ => anyhow::bail!(
                    "--source must be github, clickhouse or file:SNAPSHOT.json, got {other:?}"
                ),
            },
        }
    }
}

/// Which flaky jobs are asked for. Each source reads what it can filter on.
#[derive(Debug, Clone, Copy)]
pub struct FlakyScope<'a> {
    /// `owner/name`: ClickHouse reads every job of the repository (every
    /// branch, every workflow).
    pub repo: &'a str,
    /// The default branch: the API reads the runs of this branch.
    pub branch: &'a str,
    /// The workflow's id: the API reads this workflow's runs.
    pub workflow_id: u64,
    /// The workflow's name: a snapshot file's jobs of this workflow (every
    /// workflow's when empty).
    pub workflow: &'a str,
    /// Jobs from before this moment are forgotten.
    pub since: DateTime<Utc>,
}

/// The history service over one source, for one run of ci-medic.
pub struct History<'a> {
    ctx: &'a Ctx,
    source: HistorySource,
}

impl<'a> History<'a> {
    /// The service over `source`; the client and the store it needs are
    /// `ctx`'s (the store is connected on first use).
    pub fn new(ctx: &'a Ctx, source: HistorySource) -> History<'a> {
        History { ctx, source }
    }

    /// The trunk snapshot of `branch` for the window of the config's
    /// `autorevert` section (its `lookback-hours` and `workflows`) ending at
    /// `now`. A snapshot file is read as it is.
    pub async fn trunk_snapshot(&self, branch: &str, now: DateTime<Utc>) -> Result<Snapshot> {
        let ctx = self.ctx;
        match &self.source {
            HistorySource::Github => {
                let cache = github::cache_path(&ctx.env);
                github::trunk_snapshot(ctx.github()?, &ctx.config, branch, now, cache.as_deref())
                    .await
            }
            HistorySource::Clickhouse => {
                let repo = ctx.github()?.repo().full();
                let store = ctx.store().await?;
                clickhouse::trunk_snapshot(store, &repo, branch, &ctx.config.autorevert, now).await
            }
            HistorySource::File(path) => Snapshot::load(path),
        }
    }

    /// The jobs in `scope` that failed and then passed on one commit.
    pub async fn flaky_jobs(&self, scope: &FlakyScope<'_>) -> Result<Vec<FlakyJob>> {
        match &self.source {
            HistorySource::Github => {
                github::flaky_jobs(
                    self.ctx.github()?,
                    scope.workflow_id,
                    scope.branch,
                    scope.since,
                )
                .await
            }
            HistorySource::Clickhouse => {
                clickhouse::flaky_jobs(self.ctx.store().await?, scope.repo, scope.since).await
            }
            HistorySource::File(path) => Ok(flaky::in_snapshot(
                &Snapshot::load(path)?,
                scope.workflow,
                scope.since,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_parse() {
        assert_eq!(
            HistorySource::parse(None, OnlineSource::Clickhouse).expect("ok"),
            HistorySource::Clickhouse
        );
        assert_eq!(
            HistorySource::parse(Some("github"), OnlineSource::Clickhouse).expect("ok"),
            HistorySource::Github
        );
        assert_eq!(
            HistorySource::parse(Some("file:snap.json"), OnlineSource::Github).expect("ok"),
            HistorySource::File(PathBuf::from("snap.json"))
        );
        assert!(HistorySource::parse(Some("file:"), OnlineSource::Github).is_err());
        assert!(HistorySource::parse(Some("s3"), OnlineSource::Github).is_err());
    }

    /// A snapshot file answers both questions offline, with no client and
    /// no ClickHouse.
    #[tokio::test(flavor = "current_thread")]
    async fn a_snapshot_file_answers_offline() {
        let text = r#"{"repo": "o/r", "now": "2024-05-01T12:00:00Z",
         "commits": [{"sha": "b", "time": "2024-05-01T11:00:00Z"},
                     {"sha": "a", "time": "2024-05-01T10:00:00Z"}],
         "jobs": [
          {"sha": "a", "workflow": "trunk", "name": "test", "run_id": 1, "run_attempt": 1,
           "status": "completed", "conclusion": "failure", "started_at": "2024-05-01T10:05:00Z"},
          {"sha": "a", "workflow": "trunk", "name": "test", "run_id": 1, "run_attempt": 2,
           "status": "completed", "conclusion": "success", "started_at": "2024-05-01T10:40:00Z"},
          {"sha": "b", "workflow": "trunk", "name": "build", "run_id": 2,
           "status": "completed", "conclusion": "failure", "started_at": "2024-05-01T11:05:00Z"}]}"#;
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("snapshot.json");
        std::fs::write(&path, text).expect("write");
        let ctx = Ctx::new(
            None,
            crate::config::Config::default(),
            crate::runtime::Env::default(),
            true,
            crate::cli::Format::Text,
        );
        let history = History::new(&ctx, HistorySource::File(path));
        let now = DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let snapshot = history.trunk_snapshot("main", now).await.expect("snapshot");
        assert_eq!(snapshot.commits.len(), 2);
        assert_eq!(snapshot.jobs.len(), 3);
        let scope = FlakyScope {
            repo: "o/r",
            branch: "main",
            workflow_id: 0,
            workflow: "trunk",
            since: now - chrono::Duration::days(7),
        };
        let flaky = history.flaky_jobs(&scope).await.expect("flaky");
        assert_eq!(
            flaky,
            [FlakyJob {
                sha: "a".into(),
                workflow: "trunk".into(),
                name: "test".into(),
            }]
        );
        let elsewhere = FlakyScope {
            workflow: "nightly",
            ..scope
        };
        assert!(
            history
                .flaky_jobs(&elsewhere)
                .await
                .expect("flaky")
                .is_empty()
        );
        // The online sources need what an offline run lacks, and say so.
        let online = History::new(&ctx, HistorySource::Github);
        assert!(online.flaky_jobs(&scope).await.is_err());
        assert!(online.trunk_snapshot("main", now).await.is_err());
    }
}
