//! One downstream job's result as a row of `crcr_workflow_job`.

use chrono::{DateTime, Utc};
use clickhouse::Row;
use serde::{Deserialize, Serialize};

use crate::store::rows::{millis, optional_millis};

/// A row of `crcr_workflow_job` (migration `008_crcr_workflow_job`): one
/// attempt of one downstream job. The table is keyed by
/// (downstream_repo, run_id, job_name, run_attempt), so a result delivered
/// twice replaces itself; `updated_at` is the version.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct CrcrJobRow {
    /// `owner/name`, as the allowlist spells it (verified by OIDC).
    pub downstream_repo: String,
    /// `L2`..`L4`.
    pub level: String,
    pub upstream_repo: String,
    pub pr_number: u64,
    /// The upstream head the result is about.
    pub head_sha: String,
    pub workflow_name: String,
    pub job_name: String,
    pub run_id: i64,
    pub run_attempt: i64,
    /// 0: results arrive by `repository_dispatch`, not as check runs.
    pub check_run_id: i64,
    pub status: String,
    /// `''` while the job runs.
    pub conclusion: String,
    #[serde(with = "optional_millis")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(with = "optional_millis")]
    pub completed_at: Option<DateTime<Utc>>,
    #[serde(with = "millis")]
    pub received_at: DateTime<Utc>,
    /// Seconds from `created_at` to `started_at`, when both were reported.
    pub queue_time_s: Option<i64>,
    /// Seconds from `started_at` to `completed_at`, when both were reported.
    pub execution_time_s: Option<i64>,
    pub tests_total: i64,
    pub tests_passed: i64,
    pub tests_failed: i64,
    pub tests_skipped: i64,
    pub log_url: String,
    pub artifact_url: String,
    pub environment: String,
    /// The origin was verified (an OIDC token of the downstream repository).
    pub trusted: bool,
    #[serde(with = "millis")]
    pub updated_at: DateTime<Utc>,
}

impl CrcrJobRow {
    /// The row as JSON for people and scripts: times in RFC 3339 (the
    /// ClickHouse form is milliseconds).
    pub fn to_json(&self) -> serde_json::Value {
        let time = |t: &DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        serde_json::json!({
            "downstream_repo": self.downstream_repo,
            "level": self.level,
            "upstream_repo": self.upstream_repo,
            "pr_number": self.pr_number,
            "head_sha": self.head_sha,
            "workflow_name": self.workflow_name,
            "job_name": self.job_name,
            "run_id": self.run_id,
            "run_attempt": self.run_attempt,
            "check_run_id": self.check_run_id,
            "status": self.status,
            "conclusion": self.conclusion,
            "started_at": self.started_at.as_ref().map(time),
            "completed_at": self.completed_at.as_ref().map(time),
            "received_at": time(&self.received_at),
            "queue_time_s": self.queue_time_s,
            "execution_time_s": self.execution_time_s,
            "tests_total": self.tests_total,
            "tests_passed": self.tests_passed,
            "tests_failed": self.tests_failed,
            "tests_skipped": self.tests_skipped,
            "log_url": self.log_url,
            "artifact_url": self.artifact_url,
            "environment": self.environment,
            "trusted": self.trusted,
            "updated_at": time(&self.updated_at),
        })
    }
}
