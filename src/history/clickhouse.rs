//! The `clickhouse` source, for histories the GitHub API cannot serve
//! quickly: the tables `ci-medic ingest` (or pytorch-style replicators) fill.
//!
//! One query per kind of data for the whole window: the pushes to the
//! default branch (their commits, in push order, ghstack pushes included),
//! the jobs of those commits for every watched workflow, the restarts
//! autorevert recorded itself, and the workflow files. The flaky memory is
//! one more query ([`flaky_jobs`]).

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Duration, Utc};

use super::flaky::FlakyJob;
use super::snapshot::{Commit, JobResult, RestartRequest, Snapshot};
use crate::config::AutorevertConfig;
use crate::store::Store;
use crate::store::autorevert::AutorevertJob;

/// The trunk snapshot of `branch` of `repo` for the window ending at `now`.
pub async fn trunk_snapshot(
    store: &Store,
    repo: &str,
    branch: &str,
    config: &AutorevertConfig,
    now: DateTime<Utc>,
) -> anyhow::Result<Snapshot> {
    let since = now - Duration::hours(i64::from(config.lookback_hours));
    // A push is recorded when it lands; include the present moment.
    let until = now + Duration::milliseconds(1);
    let pushes = store
        .pushes_in_window(repo, &format!("refs/heads/{branch}"), since, until)
        .await?;
    let commits = commits_of(&pushes);
    let shas: Vec<String> = commits.iter().map(|c| c.sha.clone()).collect();
    let rows = store
        .autorevert_jobs(repo, &shas, &config.workflows)
        .await?;
    let recorded = store.autorevert_restarts(repo, since).await?;
    let files = store.workflow_files(repo, &config.workflows).await?;
    let jobs = rows.into_iter().map(job_of).collect();
    let restart_requests = recorded
        .into_iter()
        .flat_map(|r| {
            let at = r.ts.unwrap_or(now);
            let sha = r.commit_sha;
            r.workflows.into_iter().map(move |workflow| RestartRequest {
                workflow,
                sha: sha.clone(),
                at,
            })
        })
        .collect();
    Ok(Snapshot {
        repo: repo.to_string(),
        now,
        commits,
        jobs,
        restart_requests,
        workflow_files: files.into_iter().collect::<BTreeMap<_, _>>(),
    })
}

/// The flaky memory from ClickHouse: jobs of `repo` created since `since`
/// that both failed and passed on one commit, on any branch and in any
/// workflow.
pub async fn flaky_jobs(
    store: &Store,
    repo: &str,
    since: DateTime<Utc>,
) -> anyhow::Result<Vec<FlakyJob>> {
    Ok(store
        .flaky_jobs(repo, since)
        .await?
        .into_iter()
        .map(|row| FlakyJob {
            sha: row.head_sha,
            workflow: row.workflow_name,
            name: row.name,
        })
        .collect())
}

/// Trunk's commits from its pushes (oldest push first, each push's commits
/// oldest first), newest first; a commit pushed twice keeps its first push.
/// A push that lists no commits (GitHub omits them past 2048, or for a
/// force push to an old commit) still contributes its head.
pub fn commits_of(pushes: &[crate::store::PushRow]) -> Vec<Commit> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for push in pushes {
        let mut listed = false;
        for c in &push.commits {
            listed |= c.id == push.after;
            if seen.insert(c.id.clone()) {
                out.push(Commit {
                    sha: c.id.clone(),
                    time: push.pushed_at,
                    message: c.message.clone(),
                });
            }
        }
        if !listed && !push.after.is_empty() && seen.insert(push.after.clone()) {
            out.push(Commit {
                sha: push.after.clone(),
                time: push.pushed_at,
                message: String::new(),
            });
        }
    }
    out.reverse();
    out
}

fn job_of(r: AutorevertJob) -> JobResult {
    let text = |s: String| Some(s).filter(|s| !s.is_empty());
    JobResult {
        sha: r.head_sha,
        workflow: r.workflow_name,
        name: r.name,
        run_id: u64::try_from(r.run_id).unwrap_or_default(),
        run_attempt: u64::try_from(r.run_attempt).unwrap_or(1),
        event: r.workflow_event,
        head_branch: r.head_branch,
        status: r.status.as_str().into(),
        conclusion: text(r.conclusion).as_deref().map(Into::into),
        started_at: r.started_at,
        completed_at: r.completed_at,
        rule: text(r.rule),
        fingerprint: text(r.fingerprint),
        id: u64::try_from(r.id).ok(),
        url: text(r.html_url),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{PushCommit, PushRow};

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap_or_default()
    }

    fn push(after: &str, t: i64, ids: &[&str]) -> PushRow {
        PushRow {
            repository_full_name: "o/r".into(),
            git_ref: "refs/heads/main".into(),
            after: after.into(),
            pushed_at: at(t),
            commits: ids
                .iter()
                .map(|id| PushCommit {
                    id: (*id).into(),
                    timestamp: at(t - 100),
                    message: format!("commit {id}"),
                    author: "a@example.com".into(),
                })
                .collect(),
        }
    }

    #[test]
    fn pushes_become_trunk_order() {
        let commits = commits_of(&[
            push("b", 10, &["a", "b"]),
            push("e", 20, &["c", "d", "e"]),
            push("f", 30, &[]),
            push("e", 40, &["e"]),
        ]);
        let shas: Vec<&str> = commits.iter().map(|c| c.sha.as_str()).collect();
        assert_eq!(shas, ["f", "e", "d", "c", "b", "a"]);
        assert_eq!(commits[1].time, at(20));
        assert_eq!(commits[1].message, "commit e");
    }
}
