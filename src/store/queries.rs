//! Inserts and lookups.
//!
//! The shape that scales on large histories:
//! - values travel as server-side parameters (`{name:Type}`), never spliced
//!   into the SQL text;
//! - replaced tables are read with `FINAL`, so the newest version of a row is
//!   the one seen;
//! - a lookup by commit goes through `workflow_job_by_head_sha` and then
//!   fetches the rows by `(id, run_id)`;
//! - "is there any" is `SELECT 1 ... LIMIT 1`, not a count;
//! - one query answers for all commits and workflows at once
//!   (`head_sha IN {shas:Array(String)}`), and no query joins jobs to runs:
//!   the columns a decision needs are on `workflow_job`.
//!
//! Times are passed as Int64 milliseconds and turned into `DateTime64(3)` by
//! the server, so they do not depend on the server's time zone.
//!
//! The `clickhouse` crate (0.15) checks rows against the schema but cannot
//! parse named tuple types, so tables with named tuples are written through
//! their `*_input` twins (migrations 006 and 007) and read with their tuple
//! columns cast to unnamed tuples.

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clickhouse::{Row, RowOwned, RowWrite};
use serde::{Deserialize, Serialize};

use super::Store;
use super::rows::{AutorevertEvent, JobRow, PushRow, TableRows, WorkflowRunRow};
use crate::autorevert::{RESTART_EVENT, restart_branch};

/// The columns of [`JobRow`], in order, tuples unnamed.
macro_rules! job_columns {
    () => {
        "id, run_id, run_attempt, repository_full_name, workflow_name, workflow_event, \
         head_sha, head_branch, name, labels, runner_name, status, conclusion, \
         created_at, started_at, completed_at, \
         CAST(steps AS Array(Tuple(Int64, String, String, String, \
             DateTime64(3, 'UTC'), DateTime64(3, 'UTC')))) AS steps, \
         CAST(failure AS Tuple(String, String, String, Int64, Array(String), String)) AS failure, \
         html_url, updated_at"
    };
}

/// The columns of [`PushRow`], in order, tuples unnamed.
macro_rules! push_columns {
    () => {
        "repository_full_name, ref, after, pushed_at, \
         CAST(commits AS Array(Tuple(String, DateTime64(3, 'UTC'), String, String))) AS commits"
    };
}

/// Where the crate writes rows of tables that have named tuples.
const JOB_INPUT_TABLE: &str = "workflow_job_input";
const PUSH_INPUT_TABLE: &str = "push_input";

const JOBS_FOR_SHAS: &str = concat!(
    "SELECT ",
    job_columns!(),
    "
FROM workflow_job FINAL
WHERE repository_full_name = {repo:String}
  AND (id, run_id) IN (
    SELECT id, run_id FROM workflow_job_by_head_sha
    WHERE repository_full_name = {repo:String} AND head_sha IN {shas:Array(String)})
ORDER BY head_sha, workflow_name, name, run_attempt, id"
);

const JOBS_IN_WINDOW: &str = concat!(
    "SELECT ",
    job_columns!(),
    "
FROM workflow_job FINAL
WHERE repository_full_name = {repo:String}
  AND (empty({workflows:Array(String)}) OR workflow_name IN {workflows:Array(String)})
  AND created_at >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')
  AND created_at < fromUnixTimestamp64Milli({until:Int64}, 'UTC')
ORDER BY created_at, id, run_id"
);

const PUSHES_IN_WINDOW: &str = concat!(
    "SELECT ",
    push_columns!(),
    "
FROM push FINAL
WHERE repository_full_name = {repo:String}
  AND ref = {ref:String}
  AND pushed_at >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')
  AND pushed_at < fromUnixTimestamp64Milli({until:Int64}, 'UTC')
ORDER BY pushed_at, after"
);

const RESTART_EXISTS: &str = "\
SELECT 1 FROM workflow_job FINAL
WHERE repository_full_name = {repo:String}
  AND (id, run_id) IN (
    SELECT id, run_id FROM workflow_job_by_head_sha
    WHERE repository_full_name = {repo:String} AND head_sha = {sha:String})
  AND workflow_event = {event:String}
  AND head_branch = {branch:String}
  AND workflow_name = {workflow:String}
LIMIT 1";

const FLAKY_JOBS: &str = "\
SELECT head_sha, workflow_name, name FROM workflow_job FINAL
WHERE repository_full_name = {repo:String}
  AND created_at >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')
  AND conclusion IN ('failure', 'success')
GROUP BY head_sha, workflow_name, name
HAVING countIf(conclusion = 'failure') > 0 AND countIf(conclusion = 'success') > 0
ORDER BY head_sha, workflow_name, name";

/// Dr. CI's evidence: per commit and job of the given workflows, created
/// since `since`, on the default branch's pushes or on other branches' pull
/// requests, the conclusion of the latest attempt and the analyser's verdict
/// on the latest failed one. Only jobs that failed with a fingerprint
/// somewhere in the window on that branch are returned (with their passing
/// commits, which say whether a failure went away later).
const DRCI_RECENT: &str = "\
SELECT workflow_name, name, workflow_event, head_branch, head_sha,
  toUnixTimestamp64Milli(min(created_at)) AS first_at,
  argMax(conclusion, (run_id, run_attempt, id)) AS latest,
  argMaxIf(tupleElement(failure, 'rule'), (run_id, run_attempt, id), failed) AS rule,
  argMaxIf(tupleElement(failure, 'category'), (run_id, run_attempt, id), failed) AS category,
  argMaxIf(tupleElement(failure, 'line'), (run_id, run_attempt, id), failed) AS line,
  argMaxIf(tupleElement(failure, 'fingerprint'), (run_id, run_attempt, id), failed) AS fingerprint,
  argMaxIf(html_url, (run_id, run_attempt, id), failed) AS html_url,
  toUnixTimestamp64Milli(argMaxIf(completed_at, (run_id, run_attempt, id), failed)) AS failed_at
FROM (
  SELECT *, conclusion IN ('failure', 'timed_out') AS failed
  FROM workflow_job FINAL
  WHERE repository_full_name = {repo:String}
    AND created_at >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')
    AND status = 'completed'
    AND workflow_name IN {workflows:Array(String)}
    AND ((workflow_event = 'push' AND head_branch = {branch:String})
      OR (workflow_event = 'pull_request' AND head_branch != {own:String}))
    AND (workflow_name, name, head_branch) IN (
      SELECT workflow_name, name, head_branch FROM workflow_job FINAL
      WHERE repository_full_name = {repo:String}
        AND created_at >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')
        AND workflow_name IN {workflows:Array(String)}
        AND conclusion IN ('failure', 'timed_out')
        AND tupleElement(failure, 'fingerprint') != ''))
GROUP BY workflow_name, name, workflow_event, head_branch, head_sha
ORDER BY head_branch, workflow_name, name, first_at, head_sha";

/// One row of [`Store::drci_recent`].
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct DrciRecentRow {
    pub workflow_name: String,
    pub name: String,
    pub workflow_event: String,
    pub head_branch: String,
    pub head_sha: String,
    /// When the job first ran on this commit (Unix milliseconds).
    pub first_at: i64,
    /// The conclusion of the latest attempt.
    pub latest: String,
    /// The analyser's verdict on the latest failed attempt; empty when no
    /// attempt failed.
    pub rule: String,
    pub category: String,
    pub line: String,
    pub fingerprint: String,
    pub html_url: String,
    /// When the latest failed attempt completed (Unix milliseconds).
    pub failed_at: i64,
}

/// A job that both failed and succeeded on one commit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Row, Serialize, Deserialize)]
pub struct FlakyJob {
    pub head_sha: String,
    pub workflow_name: String,
    pub name: String,
}

impl Store {
    /// Writes job rows. A row for a job already stored replaces it when its
    /// `updated_at` is newer.
    pub async fn insert_jobs(&self, rows: &[JobRow]) -> anyhow::Result<()> {
        self.insert_rows(JOB_INPUT_TABLE, rows).await
    }

    /// Writes workflow run rows (replacing older versions, as for jobs).
    pub async fn insert_runs(&self, rows: &[WorkflowRunRow]) -> anyhow::Result<()> {
        self.insert_rows("workflow_run", rows).await
    }

    /// Writes push rows.
    pub async fn insert_pushes(&self, rows: &[PushRow]) -> anyhow::Result<()> {
        self.insert_rows(PUSH_INPUT_TABLE, rows).await
    }

    /// Records autorevert decisions in the audit log.
    pub async fn insert_autorevert_events(&self, rows: &[AutorevertEvent]) -> anyhow::Result<()> {
        self.insert_rows("autorevert_events", rows).await
    }

    /// Writes one table's rows (what a plan's `insert-rows` step carries).
    pub async fn insert(&self, rows: &TableRows) -> anyhow::Result<()> {
        match rows {
            TableRows::Jobs(r) => self.insert_jobs(r).await,
            TableRows::Runs(r) => self.insert_runs(r).await,
            TableRows::Pushes(r) => self.insert_pushes(r).await,
            TableRows::AutorevertEvents(r) => self.insert_autorevert_events(r).await,
            TableRows::CrcrJobs(r) => self.insert_rows("crcr_workflow_job", r).await,
            TableRows::BotAudit(r) => self.insert_rows("bot_audit", r).await,
            TableRows::Actions(r) => self.insert_actions(r).await,
        }
    }

    async fn insert_rows<T>(&self, table: &str, rows: &[T]) -> anyhow::Result<()>
    where
        T: RowOwned + RowWrite,
    {
        if rows.is_empty() {
            return Ok(());
        }
        let context = || format!("inserting {} rows into {table}", rows.len());
        let mut insert = self.client.insert::<T>(table).await.with_context(context)?;
        for row in rows {
            insert.write(row).await.with_context(context)?;
        }
        insert.end().await.with_context(context)
    }

    /// Dr. CI's recent failures elsewhere, in one query: see `DRCI_RECENT`.
    /// `branch` is the default branch, `own` the pull request's head branch
    /// (its own failures are no evidence).
    pub async fn drci_recent(
        &self,
        repo: &str,
        workflows: &[String],
        branch: &str,
        own: &str,
        since: DateTime<Utc>,
    ) -> anyhow::Result<Vec<DrciRecentRow>> {
        if workflows.is_empty() {
            return Ok(Vec::new());
        }
        self.client
            .query_raw(DRCI_RECENT)
            .param("repo", repo)
            .param("workflows", workflows)
            .param("branch", branch)
            .param("own", own)
            .param("since", since.timestamp_millis())
            .fetch_all::<DrciRecentRow>()
            .await
            .with_context(|| format!("reading the recent failures of {repo}"))
    }

    /// Every job (latest version of each attempt) of the given commits, in
    /// one query. Ordered by commit, workflow, job name, attempt.
    pub async fn jobs_for_shas(&self, repo: &str, shas: &[String]) -> anyhow::Result<Vec<JobRow>> {
        if shas.is_empty() {
            return Ok(Vec::new());
        }
        self.client
            .query_raw(JOBS_FOR_SHAS)
            .param("repo", repo)
            .param("shas", shas)
            .fetch_all::<JobRow>()
            .await
            .with_context(|| format!("reading jobs of {} commits of {repo}", shas.len()))
    }

    /// Jobs created in `[since, until)` by the given workflows (all workflows
    /// when `workflows` is empty), oldest first.
    pub async fn jobs_in_window(
        &self,
        repo: &str,
        workflows: &[String],
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> anyhow::Result<Vec<JobRow>> {
        self.client
            .query_raw(JOBS_IN_WINDOW)
            .param("repo", repo)
            .param("workflows", workflows)
            .param("since", since.timestamp_millis())
            .param("until", until.timestamp_millis())
            .fetch_all::<JobRow>()
            .await
            .with_context(|| format!("reading jobs of {repo} from {since} to {until}"))
    }

    /// Pushes to `git_ref` (e.g. `refs/heads/main`) in `[since, until)`,
    /// oldest first.
    pub async fn pushes_in_window(
        &self,
        repo: &str,
        git_ref: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> anyhow::Result<Vec<PushRow>> {
        self.client
            .query_raw(PUSHES_IN_WINDOW)
            .param("repo", repo)
            .param("ref", git_ref)
            .param("since", since.timestamp_millis())
            .param("until", until.timestamp_millis())
            .fetch_all::<PushRow>()
            .await
            .with_context(|| format!("reading pushes to {git_ref} of {repo}"))
    }

    /// Whether autorevert already restarted `workflow` on `sha`: any job of
    /// that workflow dispatched on the `trunk/{sha}` tag.
    pub async fn restart_exists(
        &self,
        repo: &str,
        sha: &str,
        workflow: &str,
    ) -> anyhow::Result<bool> {
        let found = self
            .client
            .query_raw(RESTART_EXISTS)
            .param("repo", repo)
            .param("sha", sha)
            .param("event", RESTART_EVENT)
            .param("branch", restart_branch(sha))
            .param("workflow", workflow)
            .fetch_optional::<u8>()
            .await
            .with_context(|| format!("looking for a restart of {workflow} on {sha}"))?;
        Ok(found.is_some())
    }

    /// Jobs created since `since` that both failed and succeeded on one
    /// commit (a retry passed): the flakiness signal.
    pub async fn flaky_jobs(
        &self,
        repo: &str,
        since: DateTime<Utc>,
    ) -> anyhow::Result<Vec<FlakyJob>> {
        self.client
            .query_raw(FLAKY_JOBS)
            .param("repo", repo)
            .param("since", since.timestamp_millis())
            .fetch_all::<FlakyJob>()
            .await
            .with_context(|| format!("reading flaky jobs of {repo} since {since}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUERIES: [&str; 6] = [
        JOBS_FOR_SHAS,
        JOBS_IN_WINDOW,
        PUSHES_IN_WINDOW,
        RESTART_EXISTS,
        FLAKY_JOBS,
        DRCI_RECENT,
    ];

    /// Every value is a server-side parameter: no query has a `?` (they are
    /// sent raw, but a `?` would mean client-side binding was intended).
    #[test]
    fn queries_use_server_side_parameters_only() {
        for sql in QUERIES {
            assert!(!sql.contains('?'), "{sql}");
            assert!(sql.contains("FINAL"), "{sql}");
            assert!(!sql.to_uppercase().contains("JOIN"), "{sql}");
        }
        assert!(RESTART_EXISTS.starts_with("SELECT 1 ") && RESTART_EXISTS.ends_with("LIMIT 1"));
        assert!(JOBS_FOR_SHAS.contains("head_sha IN {shas:Array(String)}"));
    }

    fn column_names(list: &str) -> Vec<String> {
        // The name of each column is its last word (`... AS name` or `name`).
        let mut depth = 0;
        let mut items = vec![String::new()];
        for c in list.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                ',' if depth == 0 => {
                    items.push(String::new());
                    continue;
                }
                _ => {}
            }
            if let Some(item) = items.last_mut() {
                item.push(c);
            }
        }
        items
            .iter()
            .filter_map(|item| item.split_whitespace().last().map(str::to_owned))
            .collect()
    }

    #[test]
    fn column_lists_follow_the_row_types() {
        assert_eq!(
            column_names(job_columns!()),
            <JobRow as clickhouse::Row>::COLUMN_NAMES
        );
        assert_eq!(
            column_names(push_columns!()),
            <PushRow as clickhouse::Row>::COLUMN_NAMES
        );
    }
}
