//! One Rust type per table row, as the `clickhouse` crate reads and writes
//! them (`RowBinary`, checked against the table's schema by the crate).
//!
//! Column types and their Rust side:
//! - `DateTime64(3, 'UTC')` is milliseconds since the epoch on the wire and a
//!   `DateTime<Utc>` here; where a timestamp may be unset (a job not started
//!   yet) the column holds the epoch and the field is `None`;
//! - a named `Tuple(...)` is a struct that travels as a tuple;
//! - `Enum8` is a Rust enum that travels as its `i8` value.

use chrono::{DateTime, Utc};
use clickhouse::Row;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One attempt of one job: a row of `workflow_job`.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct JobRow {
    pub id: i64,
    pub run_id: i64,
    pub run_attempt: i64,
    /// `owner/name`.
    pub repository_full_name: String,
    pub workflow_name: String,
    /// `push`, `pull_request`, `workflow_dispatch`, `schedule`...
    pub workflow_event: String,
    pub head_sha: String,
    /// `main` for pushes, `trunk/<sha>` for autorevert restarts.
    pub head_branch: String,
    pub name: String,
    pub labels: Vec<String>,
    pub runner_name: String,
    /// `queued`, `in_progress`, `completed`...
    pub status: String,
    /// `success`, `failure`, `cancelled`, `skipped`...; empty while running.
    pub conclusion: String,
    #[serde(with = "millis")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "optional_millis")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(with = "optional_millis")]
    pub completed_at: Option<DateTime<Utc>>,
    pub steps: Vec<JobStep>,
    /// The analyser's verdict; all empty for a job that did not fail.
    pub failure: JobFailure,
    pub html_url: String,
    /// The version: of two rows for one job, the newer `updated_at` wins.
    #[serde(with = "millis")]
    pub updated_at: DateTime<Utc>,
}

/// One step of a job (an element of `workflow_job.steps`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobStep {
    pub number: i64,
    pub name: String,
    pub status: String,
    pub conclusion: String,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

type JobStepTuple = (i64, String, String, String, i64, i64);

impl Serialize for JobStep {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (
            self.number,
            &self.name,
            &self.status,
            &self.conclusion,
            optional_millis::to_millis(self.started_at),
            optional_millis::to_millis(self.completed_at),
        )
            .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for JobStep {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (number, name, status, conclusion, started_at, completed_at) =
            JobStepTuple::deserialize(deserializer)?;
        Ok(JobStep {
            number,
            name,
            status,
            conclusion,
            started_at: optional_millis::from_millis(started_at).map_err(D::Error::custom)?,
            completed_at: optional_millis::from_millis(completed_at).map_err(D::Error::custom)?,
        })
    }
}

/// Why a job failed, as the analyser classified it (`workflow_job.failure`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFailure {
    /// The rule that matched.
    pub rule: String,
    pub category: String,
    /// The log line that matched.
    pub line: String,
    pub line_num: i64,
    pub captures: Vec<String>,
    pub fingerprint: String,
}

impl JobFailure {
    /// True when the analyser has said nothing about the job.
    pub fn is_empty(&self) -> bool {
        *self == JobFailure::default()
    }
}

type JobFailureTuple = (String, String, String, i64, Vec<String>, String);

impl Serialize for JobFailure {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (
            &self.rule,
            &self.category,
            &self.line,
            self.line_num,
            &self.captures,
            &self.fingerprint,
        )
            .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for JobFailure {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (rule, category, line, line_num, captures, fingerprint) =
            JobFailureTuple::deserialize(deserializer)?;
        Ok(JobFailure {
            rule,
            category,
            line,
            line_num,
            captures,
            fingerprint,
        })
    }
}

/// One attempt of one workflow run: a row of `workflow_run`.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct WorkflowRunRow {
    pub id: i64,
    pub run_attempt: i64,
    pub repository_full_name: String,
    pub name: String,
    /// The workflow file, e.g. `.github/workflows/trunk.yml`.
    pub path: String,
    pub event: String,
    pub head_sha: String,
    pub head_branch: String,
    pub status: String,
    pub conclusion: String,
    #[serde(with = "millis")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "millis")]
    pub updated_at: DateTime<Utc>,
    pub html_url: String,
}

/// One push to a branch: a row of `push`.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct PushRow {
    pub repository_full_name: String,
    /// The pushed ref, e.g. `refs/heads/main`.
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// The sha the ref points to after the push.
    pub after: String,
    #[serde(with = "millis")]
    pub pushed_at: DateTime<Utc>,
    pub commits: Vec<PushCommit>,
}

/// One commit of a push (an element of `push.commits`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushCommit {
    pub id: String,
    pub timestamp: DateTime<Utc>,
    pub message: String,
    pub author: String,
}

type PushCommitTuple = (String, i64, String, String);

impl Serialize for PushCommit {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (
            &self.id,
            self.timestamp.timestamp_millis(),
            &self.message,
            &self.author,
        )
            .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for PushCommit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (id, timestamp, message, author) = PushCommitTuple::deserialize(deserializer)?;
        Ok(PushCommit {
            id,
            timestamp: millis::from_millis(timestamp).map_err(D::Error::custom)?,
            message,
            author,
        })
    }
}

/// What autorevert decided to do (`autorevert_events.action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AutorevertAction {
    None,
    Restart,
    Revert,
    Notify,
}

impl AutorevertAction {
    /// The value of the `Enum8` column; must match the migration.
    fn code(self) -> i8 {
        match self {
            AutorevertAction::None => 0,
            AutorevertAction::Restart => 1,
            AutorevertAction::Revert => 2,
            AutorevertAction::Notify => 3,
        }
    }

    fn from_code(code: i8) -> Option<Self> {
        Some(match code {
            0 => AutorevertAction::None,
            1 => AutorevertAction::Restart,
            2 => AutorevertAction::Revert,
            3 => AutorevertAction::Notify,
            _ => return None,
        })
    }

    /// The enum's name in ClickHouse.
    pub fn as_str(self) -> &'static str {
        match self {
            AutorevertAction::None => "none",
            AutorevertAction::Restart => "restart",
            AutorevertAction::Revert => "revert",
            AutorevertAction::Notify => "notify",
        }
    }
}

impl Serialize for AutorevertAction {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i8(self.code())
    }
}

impl<'de> Deserialize<'de> for AutorevertAction {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = i8::deserialize(deserializer)?;
        AutorevertAction::from_code(code)
            .ok_or_else(|| D::Error::custom(format!("unknown autorevert action {code}")))
    }
}

/// One autorevert decision: a row of `autorevert_events`.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct AutorevertEvent {
    #[serde(with = "millis")]
    pub ts: DateTime<Utc>,
    pub repository_full_name: String,
    pub action: AutorevertAction,
    pub commit_sha: String,
    pub workflows: Vec<String>,
    pub signals: Vec<String>,
    pub verdict: String,
    pub reason: String,
    pub dry_run: bool,
    pub failed: bool,
    pub notes: String,
}

/// The rows of one insert: one table's rows, as a plan's store write
/// carries them. In JSON, `{"table": "workflow_job", "rows": [...]}`, each
/// row in its wire form (timestamps in milliseconds since the epoch, steps
/// and commits as tuples, an autorevert action as its `Enum8` code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "table", content = "rows")]
pub enum TableRows {
    /// Written through `workflow_job_input`, which feeds `workflow_job`.
    #[serde(rename = "workflow_job")]
    Jobs(Vec<JobRow>),
    #[serde(rename = "workflow_run")]
    Runs(Vec<WorkflowRunRow>),
    /// Written through `push_input`, which feeds `push`.
    #[serde(rename = "push")]
    Pushes(Vec<PushRow>),
    #[serde(rename = "autorevert_events")]
    AutorevertEvents(Vec<AutorevertEvent>),
    /// Downstream CI results.
    #[serde(rename = "crcr_workflow_job")]
    CrcrJobs(Vec<crate::crcr::row::CrcrJobRow>),
    /// The comment commands' merges and reverts.
    #[serde(rename = "bot_audit")]
    BotAudit(Vec<super::bot_audit::BotAuditRow>),
    /// Re-runs and heals that landed.
    #[serde(rename = "actions")]
    Actions(Vec<super::actions::ActionRow>),
}

impl TableRows {
    /// The table readers query for these rows.
    pub fn table(&self) -> &'static str {
        match self {
            TableRows::Jobs(_) => "workflow_job",
            TableRows::Runs(_) => "workflow_run",
            TableRows::Pushes(_) => "push",
            TableRows::AutorevertEvents(_) => "autorevert_events",
            TableRows::CrcrJobs(_) => "crcr_workflow_job",
            TableRows::BotAudit(_) => "bot_audit",
            TableRows::Actions(_) => "actions",
        }
    }

    pub fn len(&self) -> usize {
        match self {
            TableRows::Jobs(r) => r.len(),
            TableRows::Runs(r) => r.len(),
            TableRows::Pushes(r) => r.len(),
            TableRows::AutorevertEvents(r) => r.len(),
            TableRows::CrcrJobs(r) => r.len(),
            TableRows::BotAudit(r) => r.len(),
            TableRows::Actions(r) => r.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `DateTime64(3)` as milliseconds since the epoch.
pub(crate) mod millis {
    use chrono::{DateTime, Utc};
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn from_millis(ms: i64) -> Result<DateTime<Utc>, String> {
        DateTime::from_timestamp_millis(ms)
            .ok_or_else(|| format!("timestamp {ms} ms is out of range"))
    }

    pub(crate) fn serialize<S: Serializer>(
        value: &DateTime<Utc>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(value.timestamp_millis())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<DateTime<Utc>, D::Error> {
        from_millis(i64::deserialize(deserializer)?).map_err(D::Error::custom)
    }
}

/// `DateTime64(3)` where the epoch stands for "not yet".
pub(crate) mod optional_millis {
    use chrono::{DateTime, Utc};
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn to_millis(value: Option<DateTime<Utc>>) -> i64 {
        value.map_or(0, |at| at.timestamp_millis())
    }

    pub(super) fn from_millis(ms: i64) -> Result<Option<DateTime<Utc>>, String> {
        if ms == 0 {
            return Ok(None);
        }
        super::millis::from_millis(ms).map(Some)
    }

    pub(crate) fn serialize<S: Serializer>(
        value: &Option<DateTime<Utc>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(to_millis(*value))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        from_millis(i64::deserialize(deserializer)?).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn autorevert_action_codes_round_trip() {
        for action in [
            AutorevertAction::None,
            AutorevertAction::Restart,
            AutorevertAction::Revert,
            AutorevertAction::Notify,
        ] {
            assert_eq!(AutorevertAction::from_code(action.code()), Some(action));
        }
        assert_eq!(AutorevertAction::from_code(4), None);
    }

    #[test]
    fn the_enum_in_the_migration_matches_the_rust_enum() {
        let sql = super::super::schema::MIGRATIONS
            .iter()
            .find(|m| m.name == "autorevert_events")
            .map(|m| m.sql)
            .expect("test value");
        for action in [
            AutorevertAction::None,
            AutorevertAction::Restart,
            AutorevertAction::Revert,
            AutorevertAction::Notify,
        ] {
            let item = format!("'{}' = {}", action.as_str(), action.code());
            assert!(sql.contains(&item), "{item} missing from the migration");
        }
    }

    #[test]
    fn unset_timestamps_are_the_epoch() {
        assert_eq!(optional_millis::to_millis(None), 0);
        assert_eq!(optional_millis::from_millis(0), Ok(None));
        let at = DateTime::from_timestamp_millis(1_700_000_000_123).expect("test value");
        assert_eq!(
            optional_millis::from_millis(1_700_000_000_123),
            Ok(Some(at))
        );
        assert!(millis::from_millis(i64::MAX).is_err());
    }
}
