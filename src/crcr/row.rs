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

/// How far a status has come: a result never moves a job back.
fn status_rank(status: &str) -> u8 {
    match status {
        "completed" => 2,
        "in_progress" => 1,
        _ => 0,
    }
}

impl CrcrJobRow {
    /// This result laid over the row already stored for the same attempt
    /// (same downstream repository, run, job and attempt): what it reports
    /// wins, what it leaves out (a later `completed` that omits the
    /// `started_at` or log URL an earlier `in_progress` sent) is kept from
    /// the stored row, and the status never goes back (an `in_progress`
    /// delivered after `completed` changes neither status nor conclusion).
    /// The version is after the stored one, so the merged row replaces it.
    pub fn merged_onto(self, stored: Option<&CrcrJobRow>) -> CrcrJobRow {
        let Some(old) = stored else { return self };
        let keep = |new: String, old: &str| {
            if new.is_empty() { old.to_string() } else { new }
        };
        let older_status = status_rank(&old.status) > status_rank(&self.status);
        let (status, conclusion) = if older_status {
            (old.status.clone(), old.conclusion.clone())
        } else {
            (self.status, keep(self.conclusion, &old.conclusion))
        };
        let started_at = self.started_at.or(old.started_at);
        let completed_at = self.completed_at.or(old.completed_at);
        let execution_time_s = match (started_at, completed_at) {
            (Some(a), Some(b)) if b >= a => Some((b - a).num_seconds()),
            _ => self.execution_time_s.or(old.execution_time_s),
        };
        let no_tests = self.tests_total == 0
            && self.tests_passed == 0
            && self.tests_failed == 0
            && self.tests_skipped == 0;
        let tests = if no_tests {
            (
                old.tests_total,
                old.tests_passed,
                old.tests_failed,
                old.tests_skipped,
            )
        } else {
            (
                self.tests_total,
                self.tests_passed,
                self.tests_failed,
                self.tests_skipped,
            )
        };
        let version = self
            .updated_at
            .max(old.updated_at + chrono::Duration::milliseconds(1));
        CrcrJobRow {
            workflow_name: keep(self.workflow_name, &old.workflow_name),
            check_run_id: if self.check_run_id == 0 {
                old.check_run_id
            } else {
                self.check_run_id
            },
            status,
            conclusion,
            started_at,
            completed_at,
            queue_time_s: self.queue_time_s.or(old.queue_time_s),
            execution_time_s,
            tests_total: tests.0,
            tests_passed: tests.1,
            tests_failed: tests.2,
            tests_skipped: tests.3,
            log_url: keep(self.log_url, &old.log_url),
            artifact_url: keep(self.artifact_url, &old.artifact_url),
            environment: keep(self.environment, &old.environment),
            updated_at: version,
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_772_000_000 + secs, 0).expect("time")
    }

    fn row(status: &str, conclusion: &str, received: i64) -> CrcrJobRow {
        CrcrJobRow {
            downstream_repo: "org/npu".into(),
            level: "L4".into(),
            upstream_repo: "up/stream".into(),
            pr_number: 7,
            head_sha: "a".repeat(40),
            workflow_name: String::new(),
            job_name: "test".into(),
            run_id: 9,
            run_attempt: 1,
            check_run_id: 0,
            status: status.into(),
            conclusion: conclusion.into(),
            started_at: None,
            completed_at: None,
            received_at: at(received),
            queue_time_s: None,
            execution_time_s: None,
            tests_total: 0,
            tests_passed: 0,
            tests_failed: 0,
            tests_skipped: 0,
            log_url: String::new(),
            artifact_url: String::new(),
            environment: String::new(),
            trusted: true,
            updated_at: at(received),
        }
    }

    #[test]
    fn a_partial_update_keeps_what_earlier_results_reported() {
        let queued = CrcrJobRow {
            log_url: "https://ci.example/1".into(),
            workflow_name: "npu-ci".into(),
            ..row("queued", "", 0)
        };
        let running = CrcrJobRow {
            started_at: Some(at(60)),
            environment: "npu-910b".into(),
            ..row("in_progress", "", 60)
        }
        .merged_onto(Some(&queued));
        let done = CrcrJobRow {
            completed_at: Some(at(660)),
            tests_total: 3,
            tests_passed: 3,
            ..row("completed", "success", 660)
        }
        .merged_onto(Some(&running));
        assert_eq!(done.status, "completed");
        assert_eq!(done.conclusion, "success");
        assert_eq!(done.log_url, "https://ci.example/1");
        assert_eq!(done.workflow_name, "npu-ci");
        assert_eq!(done.environment, "npu-910b");
        assert_eq!(done.started_at, Some(at(60)));
        assert_eq!(done.completed_at, Some(at(660)));
        assert_eq!(done.execution_time_s, Some(600));
        assert_eq!(done.tests_total, 3);
        assert_eq!(done.received_at, at(660));
        assert!(done.updated_at > running.updated_at);
    }

    #[test]
    fn a_late_in_progress_does_not_undo_a_completion() {
        let done = CrcrJobRow {
            tests_total: 4,
            tests_failed: 1,
            ..row("completed", "failure", 100)
        };
        // Delivered out of order, stamped with the same millisecond.
        let late = CrcrJobRow {
            started_at: Some(at(10)),
            log_url: "https://ci.example/2".into(),
            ..row("in_progress", "", 100)
        }
        .merged_onto(Some(&done));
        assert_eq!(
            (late.status.as_str(), late.conclusion.as_str()),
            ("completed", "failure")
        );
        assert_eq!((late.tests_total, late.tests_failed), (4, 1));
        assert_eq!(late.started_at, Some(at(10)));
        assert_eq!(late.log_url, "https://ci.example/2");
        assert!(
            late.updated_at > done.updated_at,
            "the merged row replaces the stored one"
        );
        // Nothing stored: the result as it is.
        let alone = row("queued", "", 5);
        assert_eq!(alone.clone().merged_onto(None), alone);
    }
}
