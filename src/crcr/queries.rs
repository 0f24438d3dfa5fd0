//! The ClickHouse reads of downstream CI: each view is one query.
//!
//! A downstream job is (downstream repository, PR, head, workflow, job); of
//! its attempts and re-dispatches only the latest counts (highest run id,
//! then attempt, then version), so a re-run never counts twice. The matrix
//! and the PR view read each PR at its head: the head given, else the head
//! last reported for it.

use anyhow::Context as _;
use chrono::{DateTime, Duration, Utc};
use clickhouse::Row;
use serde::{Deserialize, Serialize};

use super::row::CrcrJobRow;
use crate::store::Store;
use crate::store::rows::millis;

/// The latest attempt of each downstream job of `{repo}` reported since
/// `{since}`.
macro_rules! latest_jobs {
    () => {
        "SELECT downstream_repo, pr_number, head_sha, workflow_name, job_name,
       argMax(toString(level), (run_id, run_attempt, updated_at)) AS j_level,
       argMax(run_id, (run_id, run_attempt, updated_at)) AS j_run_id,
       argMax(run_attempt, (run_id, run_attempt, updated_at)) AS j_run_attempt,
       argMax(toString(status), (run_id, run_attempt, updated_at)) AS j_status,
       argMax(toString(conclusion), (run_id, run_attempt, updated_at)) AS j_conclusion,
       argMax(tuple(execution_time_s), (run_id, run_attempt, updated_at)).1 AS j_duration,
       argMax(log_url, (run_id, run_attempt, updated_at)) AS j_log_url,
       max(received_at) AS j_received
FROM crcr_workflow_job FINAL
WHERE upstream_repo = {repo:String}
  AND received_at >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')
GROUP BY downstream_repo, pr_number, head_sha, workflow_name, job_name"
    };
}

/// Every backend's totals over the latest attempt of each job at each PR's
/// last reported head. Read without `FINAL`: the latest attempt is chosen
/// by (run id, attempt, version), so a replaced version of a row never
/// wins, and a replaced row's `received_at` is older than its
/// replacement's; the heads are applied before grouping, and only the
/// columns the totals need are read. Same results as grouping the
/// deduplicated table by head, in under half the time over 1M rows.
const BACKENDS: &str = "WITH heads AS (
    SELECT pr_number, argMax(head_sha, received_at) AS head
    FROM crcr_workflow_job
    WHERE upstream_repo = {repo:String}
      AND received_at >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')
    GROUP BY pr_number)
SELECT downstream_repo, argMax(j.1, j_received) AS level, count() AS jobs,
       countIf(j.3 = 'success') AS passed,
       countIf(j.3 IN ('failure', 'timed_out')) AS failed,
       countIf(j.2 != 'completed') AS pending,
       avgOrNull(j.4) AS avg_duration_s,
       max(j_received) AS last_run
FROM (
    SELECT downstream_repo,
           argMax((toString(level), toString(status), toString(conclusion), execution_time_s),
                  (run_id, run_attempt, updated_at)) AS j,
           max(received_at) AS j_received
    FROM crcr_workflow_job
    WHERE upstream_repo = {repo:String}
      AND received_at >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')
      AND (pr_number, head_sha) IN (SELECT pr_number, head FROM heads)
    GROUP BY downstream_repo, pr_number, workflow_name, job_name)
GROUP BY downstream_repo
ORDER BY downstream_repo";

const JOBS_AT_HEADS: &str = concat!(
    "WITH heads AS (
    SELECT pr_number, argMax(head_sha, received_at) AS head
    FROM crcr_workflow_job FINAL
    WHERE upstream_repo = {repo:String}
      AND received_at >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')
      AND ({pr:UInt64} = 0 OR pr_number = {pr:UInt64})
    GROUP BY pr_number
    ORDER BY max(received_at) DESC, pr_number DESC
    LIMIT {limit:UInt32})
SELECT pr_number, head_sha, downstream_repo, j_level AS level, workflow_name, job_name,
       j_run_id AS run_id, j_run_attempt AS run_attempt, j_status AS status,
       j_conclusion AS conclusion, j_duration AS duration_s, j_log_url AS log_url,
       j_received AS received_at
FROM (",
    latest_jobs!(),
    ")
WHERE (pr_number, head_sha) IN (
    SELECT pr_number, if({head:String} = '', head, {head:String}) FROM heads)
ORDER BY pr_number DESC, downstream_repo, workflow_name, job_name"
);

const RESULTS_IN_HOUR: &str = "SELECT count() FROM crcr_workflow_job FINAL
WHERE downstream_repo = {repo:String}
  AND received_at > fromUnixTimestamp64Milli({since:Int64}, 'UTC')
  AND received_at <= fromUnixTimestamp64Milli({until:Int64}, 'UTC')";

/// One downstream repository over the window.
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct BackendRow {
    pub downstream_repo: String,
    pub level: String,
    pub jobs: u64,
    pub passed: u64,
    pub failed: u64,
    pub pending: u64,
    pub avg_duration_s: Option<f64>,
    #[serde(with = "millis")]
    pub last_run: DateTime<Utc>,
}

/// The latest attempt of one downstream job on a PR's head.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct JobAtHead {
    pub pr_number: u64,
    pub head_sha: String,
    pub downstream_repo: String,
    pub level: String,
    pub workflow_name: String,
    pub job_name: String,
    pub run_id: i64,
    pub run_attempt: i64,
    pub status: String,
    pub conclusion: String,
    pub duration_s: Option<i64>,
    pub log_url: String,
    #[serde(with = "millis")]
    pub received_at: DateTime<Utc>,
}

/// Every downstream repository of `repo` since `since`, over the jobs at
/// each PR's last reported head: one query.
pub async fn backends(
    store: &Store,
    repo: &str,
    since: DateTime<Utc>,
) -> anyhow::Result<Vec<BackendRow>> {
    store
        .client()
        .query_raw(BACKENDS)
        .param("repo", repo)
        .param("since", since.timestamp_millis())
        .fetch_all::<BackendRow>()
        .await
        .with_context(|| format!("reading the downstream CI summary of {repo}"))
}

/// The jobs of the `limit` PRs last reported on (only `pr` when not 0), at
/// `head` (when not empty) or each PR's last reported head: one query.
pub async fn jobs_at_heads(
    store: &Store,
    repo: &str,
    since: DateTime<Utc>,
    pr: u64,
    head: &str,
    limit: u32,
) -> anyhow::Result<Vec<JobAtHead>> {
    store
        .client()
        .query_raw(JOBS_AT_HEADS)
        .param("repo", repo)
        .param("since", since.timestamp_millis())
        .param("pr", pr)
        .param("head", head)
        .param("limit", limit)
        .fetch_all::<JobAtHead>()
        .await
        .with_context(|| format!("reading downstream CI jobs of {repo}"))
}

/// The row stored for one attempt of one downstream job (its key), to lay
/// a partial update over: one point query on the table's sorting key.
pub async fn stored_row(store: &Store, row: &CrcrJobRow) -> anyhow::Result<Option<CrcrJobRow>> {
    store
        .client()
        .query(
            "SELECT ?fields FROM crcr_workflow_job FINAL
WHERE downstream_repo = ? AND run_id = ? AND job_name = ? AND run_attempt = ?
LIMIT 1",
        )
        .bind(row.downstream_repo.as_str())
        .bind(row.run_id)
        .bind(row.job_name.as_str())
        .bind(row.run_attempt)
        .fetch_optional::<CrcrJobRow>()
        .await
        .with_context(|| {
            format!(
                "reading the stored result of {} run {} job {}",
                row.downstream_repo, row.run_id, row.job_name
            )
        })
}

/// How many results of `downstream` arrived in the hour up to `now`.
pub async fn results_in_hour(
    store: &Store,
    downstream: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<u64> {
    let since = now - Duration::hours(1);
    store
        .client()
        .query_raw(RESULTS_IN_HOUR)
        .param("repo", downstream)
        .param("since", since.timestamp_millis())
        .param("until", now.timestamp_millis())
        .fetch_one::<u64>()
        .await
        .with_context(|| format!("counting the recent results of {downstream}"))
}
