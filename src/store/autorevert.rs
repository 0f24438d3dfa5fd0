//! The queries autorevert reads ClickHouse with: one batched query per kind
//! of data, for every workflow and commit of the window at once.
//!
//! - jobs: the columns a decision needs, straight from `workflow_job`
//!   (`FINAL`, through `workflow_job_by_head_sha`, `head_sha IN
//!   {shas:Array(String)}`, no JOIN);
//! - restarts autorevert asked for (its own audit log), which may not have
//!   reached `workflow_job` yet;
//! - the workflow files, which a dispatch needs;
//! - the event of a run, which a `workflow_job` payload lacks.

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clickhouse::Row;
use serde::{Deserialize, Serialize};

use super::Store;
use super::rows::optional_millis;

const AUTOREVERT_JOBS: &str = "\
SELECT id, run_id, run_attempt, workflow_name, workflow_event, head_sha, head_branch, name,
       status, conclusion, started_at, completed_at,
       tupleElement(failure, 'rule') AS rule,
       tupleElement(failure, 'fingerprint') AS fingerprint,
       html_url
FROM workflow_job FINAL
WHERE repository_full_name = {repo:String}
  AND (id, run_id) IN (
    SELECT id, run_id FROM workflow_job_by_head_sha
    WHERE repository_full_name = {repo:String} AND head_sha IN {shas:Array(String)})
  AND (empty({workflows:Array(String)}) OR workflow_name IN {workflows:Array(String)})";

const AUTOREVERT_RESTARTS: &str = "\
SELECT commit_sha, workflows, ts
FROM autorevert_events
WHERE repository_full_name = {repo:String}
  AND action = 'restart' AND verdict = 'dispatch' AND NOT dry_run AND NOT failed
  AND ts >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')
ORDER BY ts";

const WORKFLOW_FILES: &str = "\
SELECT name, argMax(path, updated_at) AS file
FROM workflow_run FINAL
WHERE repository_full_name = {repo:String}
  AND (empty({workflows:Array(String)}) OR name IN {workflows:Array(String)})
  AND path != ''
GROUP BY name
ORDER BY name";

const RUN_EVENT: &str = "\
SELECT name, event, path FROM workflow_run FINAL
WHERE repository_full_name = {repo:String} AND id = {run_id:Int64}
ORDER BY run_attempt DESC
LIMIT 1";

/// One job as autorevert reads it.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct AutorevertJob {
    pub id: i64,
    pub run_id: i64,
    pub run_attempt: i64,
    pub workflow_name: String,
    pub workflow_event: String,
    pub head_sha: String,
    pub head_branch: String,
    pub name: String,
    pub status: String,
    pub conclusion: String,
    #[serde(with = "optional_millis")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(with = "optional_millis")]
    pub completed_at: Option<DateTime<Utc>>,
    pub rule: String,
    pub fingerprint: String,
    pub html_url: String,
}

/// A restart autorevert recorded.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct RecordedRestart {
    pub commit_sha: String,
    pub workflows: Vec<String>,
    /// `None` for the epoch (unset).
    #[serde(with = "optional_millis")]
    pub ts: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
struct WorkflowFile {
    name: String,
    file: String,
}

/// A run's workflow, event and workflow file.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct RunEvent {
    pub name: String,
    pub event: String,
    pub path: String,
}

impl Store {
    /// Every job of the given commits and workflows (all workflows when
    /// empty), latest version of each, in one query.
    pub async fn autorevert_jobs(
        &self,
        repo: &str,
        shas: &[String],
        workflows: &[String],
    ) -> anyhow::Result<Vec<AutorevertJob>> {
        if shas.is_empty() {
            return Ok(Vec::new());
        }
        self.client()
            .query_raw(AUTOREVERT_JOBS)
            .param("repo", repo)
            .param("shas", shas)
            .param("workflows", workflows)
            .fetch_all::<AutorevertJob>()
            .await
            .with_context(|| format!("reading the jobs of {} commits of {repo}", shas.len()))
    }

    /// Restarts dispatched since `since`, as recorded (one row per dispatch,
    /// verdict `dispatch`; not dry runs, not failed ones).
    pub async fn autorevert_restarts(
        &self,
        repo: &str,
        since: DateTime<Utc>,
    ) -> anyhow::Result<Vec<RecordedRestart>> {
        self.client()
            .query_raw(AUTOREVERT_RESTARTS)
            .param("repo", repo)
            .param("since", since.timestamp_millis())
            .fetch_all::<RecordedRestart>()
            .await
            .with_context(|| format!("reading the recorded restarts of {repo}"))
    }

    /// Workflow name to workflow file, from the runs seen.
    pub async fn workflow_files(
        &self,
        repo: &str,
        workflows: &[String],
    ) -> anyhow::Result<Vec<(String, String)>> {
        let rows = self
            .client()
            .query_raw(WORKFLOW_FILES)
            .param("repo", repo)
            .param("workflows", workflows)
            .fetch_all::<WorkflowFile>()
            .await
            .with_context(|| format!("reading the workflow files of {repo}"))?;
        Ok(rows.into_iter().map(|r| (r.name, r.file)).collect())
    }

    /// The event and file of a run, if its `workflow_run` row was ingested.
    pub async fn run_event(&self, repo: &str, run_id: i64) -> anyhow::Result<Option<RunEvent>> {
        self.client()
            .query_raw(RUN_EVENT)
            .param("repo", repo)
            .param("run_id", run_id)
            .fetch_optional::<RunEvent>()
            .await
            .with_context(|| format!("reading run {run_id} of {repo}"))
    }
}

impl super::TableRows {
    /// Mark row `i` as recording a write that did not land. Only tables
    /// with a `failed` column have such rows; the others are left alone.
    pub fn mark_failed(&mut self, i: usize) {
        if let super::TableRows::AutorevertEvents(rows) = self
            && let Some(row) = rows.get_mut(i)
        {
            row.failed = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_have_the_scalable_shape() {
        for sql in [AUTOREVERT_JOBS, WORKFLOW_FILES, RUN_EVENT] {
            assert!(sql.contains("FINAL"), "{sql}");
        }
        for sql in [
            AUTOREVERT_JOBS,
            AUTOREVERT_RESTARTS,
            WORKFLOW_FILES,
            RUN_EVENT,
        ] {
            assert!(!sql.contains('?'), "{sql}");
            assert!(!sql.to_uppercase().contains("JOIN"), "{sql}");
        }
        assert!(AUTOREVERT_JOBS.contains("head_sha IN {shas:Array(String)}"));
    }
}
