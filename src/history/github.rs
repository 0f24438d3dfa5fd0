//! The `github` source: needs only the token.
//!
//! The trunk snapshot ([`trunk_snapshot`]):
//!
//! - the default branch's commits of the window (`GET /commits?since=`);
//! - the runs of the window on that branch (push, schedule...), and the
//!   `workflow_dispatch` runs on `trunk/{sha}` tags (restarts), two paginated
//!   lists rather than one query per commit;
//! - the jobs of every attempt of those runs;
//! - for each failed job, its log analyzed once (`job_logs::read_job`) for the
//!   failure's rule and fingerprint, kept in a JSON cache keyed by job id so a
//!   re-run downloads nothing again (the workflow can keep the file with
//!   `actions/cache`).
//!
//! A run that has no jobs yet is kept as one pending placeholder job, so its
//! commit counts as "running" (and a restart on it as under way).
//!
//! The flaky memory ([`flaky_jobs`]): the recent runs of one workflow on the
//! default branch that were re-run, and the jobs of their last two attempts.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::flaky::{self, FlakyJob};
use super::snapshot::{Commit, JobResult, Snapshot};
use crate::analyze::RuleSet;
use crate::autorevert::{RESTART_EVENT, RESTART_PREFIX};
use crate::config::{Config, workflow_selected};
use crate::event::{Conclusion, Status};
use crate::github::Client;
use crate::github::api::encode_segment;
use crate::github::types::{JobInfo, RunInfo};

/// Commits read from the default branch (GitHub pages them 100 at a time).
pub const MAX_COMMITS: usize = 1000;
/// Runs read per list (push/schedule on the branch, and restarts).
pub const MAX_RUNS: usize = 3000;
/// Job logs downloaded and analyzed per invocation; the rest wait for the
/// next run (their failures count as unclassified meanwhile).
pub const MAX_LOGS: usize = 200;
/// Where the fingerprint cache lives unless the `autorevert-cache` input or
/// `CI_MEDIC_AUTOREVERT_CACHE` says otherwise (relative to the workspace).
pub const DEFAULT_CACHE: &str = ".ci-medic/autorevert-cache.json";
/// The name of the placeholder job of a run whose jobs are not listed yet.
pub const QUEUED_RUN_JOB: &str = "(run without jobs yet)";
/// Re-run runs scanned for the flaky memory: enough for a busy week,
/// bounded in API calls (two job lists per run).
pub const FLAKY_RUNS_SCANNED: usize = 20;

/// What the log of one failed job said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedFailure {
    pub rule: Option<String>,
    pub fingerprint: Option<String>,
    /// `analyzed`, `logs-expired`, `logs-missing`...
    pub status: String,
}

/// The fingerprint cache file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cache {
    pub jobs: BTreeMap<u64, CachedFailure>,
}

impl Cache {
    /// The cache at `path`; empty when absent or unreadable (it is a cache).
    pub fn load(path: &Path) -> Cache {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).unwrap_or_else(|e| {
                tracing::warn!("ignoring the unreadable cache {}: {e}", path.display());
                Cache::default()
            }),
            Err(_) => Cache::default(),
        }
    }

    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        std::fs::write(path, serde_json::to_string(self)?)
            .with_context(|| format!("cannot write {}", path.display()))
    }
}

/// The cache path: the `autorevert-cache` input, `CI_MEDIC_AUTOREVERT_CACHE`,
/// or [`DEFAULT_CACHE`]; an empty value turns the cache off.
pub fn cache_path(env: &crate::runtime::Env) -> Option<PathBuf> {
    let configured = env
        .input("autorevert-cache")
        .or_else(|| env.raw("CI_MEDIC_AUTOREVERT_CACHE").map(str::to_string));
    match configured {
        Some(p) if p.trim().is_empty() => None,
        Some(p) => Some(PathBuf::from(p.trim())),
        None => Some(PathBuf::from(DEFAULT_CACHE)),
    }
}

/// Read the trunk snapshot of `branch` for the window ending at `now`.
pub async fn trunk_snapshot(
    client: &Client,
    config: &Config,
    branch: &str,
    now: DateTime<Utc>,
    cache: Option<&Path>,
) -> anyhow::Result<Snapshot> {
    let ar = &config.autorevert;
    let since = now - Duration::hours(i64::from(ar.lookback_hours));
    let since_text = since.format("%Y-%m-%dT%H:%M:%SZ").to_string();

    let listed = client
        .list_commits(branch, Some(&since_text), MAX_COMMITS)
        .await
        .with_context(|| format!("listing the commits of {branch}"))?;
    let commits: Vec<Commit> = listed
        .into_iter()
        .map(|c| Commit {
            time: c.date.unwrap_or(now),
            sha: c.sha,
            message: c.message,
        })
        .collect();
    let shas: HashSet<&str> = commits.iter().map(|c| c.sha.as_str()).collect();

    let created = encode_segment(&format!(">={since_text}"), false);
    let mut runs: Vec<RunInfo> = client
        .runs(
            &format!("branch={}&created={created}", encode_segment(branch, false)),
            MAX_RUNS,
        )
        .await
        .context("listing the runs of the default branch")?;
    runs.extend(
        client
            .runs(
                &format!("event={RESTART_EVENT}&created={created}"),
                MAX_RUNS,
            )
            .await
            .context("listing the restarts")?
            .into_iter()
            .filter(|r| {
                r.head_branch
                    .as_deref()
                    .is_some_and(|b| b.starts_with(RESTART_PREFIX))
            }),
    );
    let mut seen = BTreeSet::new();
    runs.retain(|r| seen.insert(r.id));
    runs.retain(|r| {
        shas.contains(r.head_sha.as_str())
            && workflow_selected(
                &ar.workflows,
                r.name.as_deref().unwrap_or_default(),
                r.path.as_deref(),
            )
    });

    let mut workflow_files = BTreeMap::new();
    let mut jobs: Vec<(JobResult, Option<JobInfo>)> = Vec::new();
    for run in &runs {
        let workflow = run.name.clone().unwrap_or_default();
        if let Some(path) = run.path.as_deref().filter(|p| !p.is_empty()) {
            workflow_files
                .entry(workflow)
                .or_insert_with(|| path.to_string());
        }
        let base = run_result(run);
        let mut any = false;
        for attempt in 1..=run.run_attempt.max(1) {
            let listed = client
                .run_jobs(run.id, attempt)
                .await
                .with_context(|| format!("listing the jobs of run {} attempt {attempt}", run.id))?;
            for job in listed {
                any = true;
                let result = job_result(&base, &job);
                let failed = job.failed();
                jobs.push((result, failed.then_some(job)));
            }
        }
        if !any && !base.status.is_completed() {
            // Jobs not created yet: the commit's workflow is under way.
            jobs.push((base, None));
        }
    }

    classify_failures(client, config, &mut jobs, cache).await;
    Ok(Snapshot {
        repo: client.repo().full(),
        now,
        commits,
        jobs: jobs.into_iter().map(|(j, _)| j).collect(),
        restart_requests: Vec::new(),
        workflow_files,
    })
}

/// A run as a job result: the placeholder of a run without jobs, and what
/// its jobs' results share.
fn run_result(run: &RunInfo) -> JobResult {
    JobResult {
        sha: run.head_sha.clone(),
        workflow: run.name.clone().unwrap_or_default(),
        name: QUEUED_RUN_JOB.into(),
        run_id: run.id,
        run_attempt: run.run_attempt,
        event: run.event.clone(),
        head_branch: run.head_branch.clone().unwrap_or_default(),
        status: run.status.clone().unwrap_or(Status::Queued),
        conclusion: None,
        started_at: run.created_at,
        completed_at: None,
        rule: None,
        fingerprint: None,
        id: None,
        url: Some(run.html_url.clone()).filter(|u| !u.is_empty()),
    }
}

/// One job of a run (given as [`run_result`]) as a job result.
fn job_result(run: &JobResult, job: &JobInfo) -> JobResult {
    JobResult {
        name: job.name.clone(),
        run_attempt: job.run_attempt,
        status: job
            .status
            .clone()
            .unwrap_or_else(|| Status::Other(String::new())),
        conclusion: job.conclusion.clone(),
        started_at: job.started_at,
        completed_at: job.completed_at,
        id: Some(job.id),
        url: job.html_url.clone().or_else(|| run.url.clone()),
        ..run.clone()
    }
}

/// The flaky memory from the API: jobs of workflow `workflow_id` that failed
/// in one attempt of a run on `branch` created since `since` and passed in
/// the next attempt (the last two attempts of at most
/// [`FLAKY_RUNS_SCANNED`] re-run runs).
pub async fn flaky_jobs(
    client: &Client,
    workflow_id: u64,
    branch: &str,
    since: DateTime<Utc>,
) -> anyhow::Result<Vec<FlakyJob>> {
    let query = format!(
        "branch={}&created={}",
        encode_segment(branch, false),
        encode_segment(&format!(">={}", since.format("%Y-%m-%d")), false)
    );
    let runs = client
        .workflow_runs(&workflow_id.to_string(), &query, FLAKY_RUNS_SCANNED * 5)
        .await?;
    let mut found = BTreeSet::new();
    for run in runs
        .iter()
        .filter(|r| r.run_attempt > 1)
        .take(FLAKY_RUNS_SCANNED)
    {
        let latest = client.run_jobs(run.id, run.run_attempt).await?;
        let previous = client.run_jobs(run.id, run.run_attempt - 1).await?;
        found.extend(flaky_in_run(run, &previous, &latest));
    }
    Ok(found.into_iter().collect())
}

/// The jobs of one run that failed in the `previous` attempt and passed in
/// the `latest` one. Pure.
pub fn flaky_in_run(run: &RunInfo, previous: &[JobInfo], latest: &[JobInfo]) -> Vec<FlakyJob> {
    let base = run_result(run);
    // The attempt is the list's, whatever each job says.
    let attempt = |jobs: &[JobInfo], n: u64| -> Vec<JobResult> {
        jobs.iter()
            .map(|job| JobResult {
                run_attempt: n,
                ..job_result(&base, job)
            })
            .collect()
    };
    let latest_attempt = run.run_attempt.max(2);
    let mut results = attempt(previous, latest_attempt - 1);
    results.extend(attempt(latest, latest_attempt));
    flaky::failed_then_passed(&results)
}

/// Fill in the rule and fingerprint of failed jobs, from the cache or by
/// analyzing their logs (newest commits first, at most [`MAX_LOGS`]).
async fn classify_failures(
    client: &Client,
    config: &Config,
    jobs: &mut [(JobResult, Option<JobInfo>)],
    cache_path: Option<&Path>,
) {
    let mut cache = cache_path.map(Cache::load).unwrap_or_default();
    let rules = match RuleSet::with_extra(config.analyze.rules.clone()) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!("analyze.rules: {e}; using the built-in rules");
            RuleSet::builtin()
        }
    };
    let mut downloads = 0usize;
    let mut kept = BTreeMap::new();
    for (result, info) in jobs.iter_mut() {
        let Some(job) = info.take() else {
            continue;
        };
        let id = job.id;
        let found = match cache.jobs.get(&id) {
            Some(hit) => Some(hit.clone()),
            None if downloads < MAX_LOGS => {
                downloads += 1;
                let facts = crate::job_logs::read_job(client, config, &rules, job).await;
                let primary = facts.failures.first();
                let entry = CachedFailure {
                    rule: primary.map(|f| f.rule.clone()),
                    fingerprint: primary.map(|f| f.fingerprint.clone()),
                    status: facts.finding.status.clone(),
                };
                // A transient error is tried again next time.
                (entry.status != "log-error").then_some(entry)
            }
            None => None,
        };
        if let Some(f) = found {
            result.rule = f.rule.clone();
            result.fingerprint = f.fingerprint.clone();
            kept.insert(id, f);
        }
    }
    if downloads >= MAX_LOGS {
        tracing::warn!(
            "analyzed {MAX_LOGS} job logs; the other failures are analyzed on the next run"
        );
    }
    cache.jobs = kept;
    if let Some(path) = cache_path
        && let Err(e) = cache.save(path)
    {
        tracing::warn!("fingerprint cache not saved: {e:#}");
    }
}

/// Runs of the default branch read for recent failures: one page.
pub const RECENT_RUNS_SCANNED: usize = 100;
/// Of those, the failed or re-run runs whose jobs are listed (newest
/// first): one call each.
pub const RECENT_RUNS_READ: usize = 5;
/// Jobs read for one of those runs, every attempt (GitHub's matrix limit is
/// 256 jobs per workflow).
pub const RECENT_JOBS_READ: usize = 2000;

/// How a failed job of the default branch recovered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoveredBy {
    /// A later attempt of the same run passed.
    Rerun,
    /// A later run of the same workflow, on another commit, passed.
    LaterCommit,
}

/// A job of the default branch that failed and then passed.
#[derive(Debug, Clone)]
pub struct RecoveredFailure {
    /// The workflow's name.
    pub workflow: String,
    /// The failed attempt (its log holds the fingerprint).
    pub job: JobInfo,
    pub sha: String,
    pub recovered: RecoveredBy,
}

/// The jobs of the default branch `branch` that failed since `since` and
/// passed again, newest first, of the workflows `wanted` accepts (by name).
/// Costs one list of runs and at most [`RECENT_RUNS_READ`] job lists; reads
/// no log.
pub async fn recovered_failures(
    client: &Client,
    branch: &str,
    since: DateTime<Utc>,
    wanted: impl Fn(&str) -> bool,
) -> anyhow::Result<Vec<RecoveredFailure>> {
    let query = format!(
        "branch={}&created={}",
        encode_segment(branch, false),
        encode_segment(&format!(">={}", since.format("%Y-%m-%dT%H:%M:%SZ")), false)
    );
    let mut runs = client
        .runs(&query, RECENT_RUNS_SCANNED)
        .await
        .context("listing the recent runs of the default branch")?;
    // A fork's pull request from its own default branch carries the same
    // branch name: only the branch's own runs count.
    runs.retain(|r| {
        !matches!(r.event.as_str(), "pull_request" | "pull_request_target")
            && wanted(r.name.as_deref().unwrap_or_default())
    });
    let suspects: Vec<&RunInfo> = runs
        .iter()
        .filter(|r| r.run_attempt > 1 || r.conclusion.as_ref().is_some_and(Conclusion::is_failure))
        .take(RECENT_RUNS_READ)
        .collect();
    let mut out = Vec::new();
    for run in suspects {
        let jobs: Vec<JobInfo> = client
            .get_all(
                &client.repo_path(&format!("/actions/runs/{}/jobs?filter=all", run.id)),
                Some("jobs"),
                RECENT_JOBS_READ,
            )
            .await
            .with_context(|| format!("listing the jobs of run {}", run.id))?;
        out.extend(recovered_in_run(&runs, run, &jobs));
    }
    Ok(out)
}

/// A job of another author's pull request that failed and then passed.
#[derive(Debug, Clone)]
pub struct RecoveredPrFailure {
    pub failure: RecoveredFailure,
    /// Who pushed the failed run.
    pub author: String,
    /// The pull request, when the run names it (a fork's names none).
    pub pr: Option<u64>,
}

/// The jobs of pull requests by others than `author` that failed since
/// `since` and passed again (a re-run, or a later run of the same workflow
/// on the same branch), newest first, of the workflows `wanted` accepts.
/// Costs one list of runs and at most [`RECENT_RUNS_READ`] job lists; reads
/// no log. A run whose author is unknown, or of the branch `own_branch`
/// (the pull request's own), is left out.
pub async fn recovered_pr_failures(
    client: &Client,
    since: DateTime<Utc>,
    author: &str,
    own_branch: &str,
    wanted: impl Fn(&str) -> bool,
) -> anyhow::Result<Vec<RecoveredPrFailure>> {
    let query = format!(
        "event=pull_request&created={}",
        encode_segment(&format!(">={}", since.format("%Y-%m-%dT%H:%M:%SZ")), false)
    );
    let mut runs = client
        .runs(&query, RECENT_RUNS_SCANNED)
        .await
        .context("listing the recent runs of pull requests")?;
    let others = |r: &RunInfo| {
        r.actor
            .as_ref()
            .is_some_and(|a| !a.login.trim().is_empty() && !a.login.eq_ignore_ascii_case(author))
    };
    runs.retain(|r| {
        r.event == "pull_request"
            && others(r)
            && r.head_branch.as_deref() != Some(own_branch)
            && wanted(r.name.as_deref().unwrap_or_default())
    });
    let suspects: Vec<&RunInfo> = runs
        .iter()
        .filter(|r| r.run_attempt > 1 || r.conclusion.as_ref().is_some_and(Conclusion::is_failure))
        .take(RECENT_RUNS_READ)
        .collect();
    let head_repo = |r: &RunInfo| r.head_repository.as_ref().map(|h| h.full_name.clone());
    let mut out = Vec::new();
    for run in suspects {
        let jobs: Vec<JobInfo> = client
            .get_all(
                &client.repo_path(&format!("/actions/runs/{}/jobs?filter=all", run.id)),
                Some("jobs"),
                RECENT_JOBS_READ,
            )
            .await
            .with_context(|| format!("listing the jobs of run {}", run.id))?;
        // A later commit counts only on the same branch of the same
        // repository: the same pull request.
        let same_branch: Vec<RunInfo> = runs
            .iter()
            .filter(|r| r.head_branch == run.head_branch && head_repo(r) == head_repo(run))
            .cloned()
            .collect();
        let author = run
            .actor
            .as_ref()
            .map(|a| a.login.clone())
            .unwrap_or_default();
        let pr = run.pull_requests.first().map(|p| p.number);
        out.extend(
            recovered_in_run(&same_branch, run, &jobs)
                .into_iter()
                .map(|failure| RecoveredPrFailure {
                    failure,
                    author: author.clone(),
                    pr,
                }),
        );
    }
    Ok(out)
}

/// The jobs of `run` (every attempt in `jobs`) whose last failed attempt was
/// followed by a passing attempt, or by a passing later run of the same
/// workflow on another commit (among `runs`). Pure.
pub fn recovered_in_run(
    runs: &[RunInfo],
    run: &RunInfo,
    jobs: &[JobInfo],
) -> Vec<RecoveredFailure> {
    let created = |r: &RunInfo| r.created_at;
    let later_pass = created(run).is_some_and(|at| {
        runs.iter().any(|r| {
            r.workflow_id == run.workflow_id
                && r.head_sha != run.head_sha
                && created(r).is_some_and(|t| t > at)
                && r.status == Some(Status::Completed)
                && r.conclusion == Some(Conclusion::Success)
        })
    });
    let mut last_failed: BTreeMap<&str, &JobInfo> = BTreeMap::new();
    for job in jobs.iter().filter(|j| j.failed()) {
        let slot = last_failed.entry(job.name.as_str()).or_insert(job);
        if job.run_attempt > slot.run_attempt {
            *slot = job;
        }
    }
    last_failed
        .into_values()
        .filter_map(|failed| {
            let rerun = jobs.iter().any(|j| {
                j.name == failed.name
                    && j.run_attempt > failed.run_attempt
                    && j.conclusion == Some(Conclusion::Success)
            });
            let recovered = if rerun {
                RecoveredBy::Rerun
            } else if later_pass {
                RecoveredBy::LaterCommit
            } else {
                return None;
            };
            Some(RecoveredFailure {
                workflow: run.name.clone().unwrap_or_default(),
                job: failed.clone(),
                sha: run.head_sha.clone(),
                recovered,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_round_trip_and_tolerance() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("sub/cache.json");
        assert_eq!(Cache::load(&path), Cache::default());
        let mut c = Cache::default();
        c.jobs.insert(
            7,
            CachedFailure {
                rule: Some("r".into()),
                fingerprint: Some("f".into()),
                status: "analysed".into(),
            },
        );
        c.save(&path).expect("save");
        assert_eq!(Cache::load(&path), c);
        std::fs::write(&path, "not json").expect("write");
        assert_eq!(Cache::load(&path), Cache::default());
    }

    fn run(attempt: u64) -> RunInfo {
        serde_json::from_value(serde_json::json!({
            "id": 7, "name": "CI", "event": "push", "head_sha": "abc",
            "head_branch": "main", "status": "completed", "conclusion": "success",
            "run_attempt": attempt, "workflow_id": 3
        }))
        .expect("run")
    }

    fn job(name: &str, conclusion: &str) -> JobInfo {
        // The attempt a job says it belongs to is not trusted: the list's is.
        serde_json::from_value(serde_json::json!({
            "id": 1, "run_id": 7, "run_attempt": 1, "name": name,
            "status": "completed", "conclusion": conclusion
        }))
        .expect("job")
    }

    #[test]
    fn a_job_that_failed_then_passed_on_the_re_run_is_flaky() {
        let previous = [
            job("test", "failure"),
            job("lint", "success"),
            job("gpu", "timed_out"),
            job("docs", "cancelled"),
        ];
        let latest = [
            job("test", "success"),
            job("lint", "failure"),
            job("gpu", "success"),
            job("docs", "success"),
        ];
        let found = flaky_in_run(&run(3), &previous, &latest);
        let names: Vec<&str> = found.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["gpu", "test"]);
        assert!(found.iter().all(|f| f.sha == "abc" && f.workflow == "CI"));
        // Failed in both attempts: broken, not flaky.
        let failed = [job("test", "failure")];
        assert!(flaky_in_run(&run(2), &failed, &failed).is_empty());
    }

    fn at_run(id: u64, sha: &str, created: &str, conclusion: &str, attempt: u64) -> RunInfo {
        serde_json::from_value(serde_json::json!({
            "id": id, "name": "CI", "event": "push", "head_sha": sha,
            "head_branch": "main", "status": "completed", "conclusion": conclusion,
            "run_attempt": attempt, "workflow_id": 3, "created_at": created
        }))
        .expect("run")
    }

    fn attempt_job(name: &str, attempt: u64, conclusion: &str) -> JobInfo {
        serde_json::from_value(serde_json::json!({
            "id": attempt * 10, "run_id": 7, "run_attempt": attempt, "name": name,
            "status": "completed", "conclusion": conclusion
        }))
        .expect("job")
    }

    #[test]
    fn a_failure_recovers_on_a_re_run_or_a_later_passing_commit_only() {
        let failed = at_run(7, "a", "2025-01-01T10:00:00Z", "success", 2);
        let jobs = [
            attempt_job("test", 1, "failure"),
            attempt_job("test", 2, "success"),
            attempt_job("lint", 1, "failure"),
            attempt_job("lint", 2, "failure"),
        ];
        // Alone: only the re-run recovery of `test`.
        let found = recovered_in_run(std::slice::from_ref(&failed), &failed, &jobs);
        let got: Vec<(&str, u64, RecoveredBy)> = found
            .iter()
            .map(|f| (f.job.name.as_str(), f.job.run_attempt, f.recovered))
            .collect();
        assert_eq!(got, [("test", 1, RecoveredBy::Rerun)]);
        // A passing run of the same commit, or an earlier one, is no later
        // commit; a failed later one neither.
        let runs = [
            failed.clone(),
            at_run(8, "a", "2025-01-01T11:00:00Z", "success", 1),
            at_run(9, "z", "2025-01-01T09:00:00Z", "success", 1),
            at_run(10, "b", "2025-01-01T12:00:00Z", "failure", 1),
        ];
        assert_eq!(recovered_in_run(&runs, &failed, &jobs).len(), 1);
        // A later commit's passing run recovers `lint` too, from its last
        // failed attempt.
        let mut runs = runs.to_vec();
        runs.push(at_run(11, "c", "2025-01-01T13:00:00Z", "success", 1));
        let found = recovered_in_run(&runs, &failed, &jobs);
        let got: Vec<(&str, u64, RecoveredBy)> = found
            .iter()
            .map(|f| (f.job.name.as_str(), f.job.run_attempt, f.recovered))
            .collect();
        assert_eq!(
            got,
            [
                ("lint", 2, RecoveredBy::LaterCommit),
                ("test", 1, RecoveredBy::Rerun)
            ]
        );
    }
}
