//! The HUD's data: what every source fills and every page reads. It is also
//! the `--source file:SNAPSHOT.json` format (versioned: a file of another
//! version is refused, not misread).
//!
//! Sources hand over what the pages show, already aggregated (failures per
//! day, fingerprint counts, flaky jobs), so a repository with a million job
//! rows never has them all in memory: ClickHouse aggregates them, the API
//! source reads a bounded window. Every string in it came from outside
//! (titles, job names, log lines, downstream payloads) and is untrusted.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::event::{Conclusion, Status};

/// The snapshot format's version.
pub const VERSION: u32 = 1;

/// Largest snapshot file read, in bytes: the bounded source for offline
/// demos and tests, not for a whole history.
pub const MAX_SNAPSHOT_BYTES: u64 = 64 * 1024 * 1024;

/// Everything the site shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HudSnapshot {
    pub version: u32,
    /// `owner/name`.
    pub repo: String,
    /// When the data was read.
    pub generated_at: DateTime<Utc>,
    /// The GitHub web host links point to.
    #[serde(default = "default_server_url")]
    pub server_url: String,
    /// Days of history the snapshot covers.
    #[serde(default)]
    pub since_days: u32,
    /// Open failure issues ci-medic filed.
    #[serde(default)]
    pub issues: Vec<FailureIssue>,
    /// Jobs and failed jobs per day, oldest first.
    #[serde(default)]
    pub daily: Vec<DayCount>,
    /// Failure fingerprints, most frequent first.
    #[serde(default)]
    pub fingerprints: Vec<FingerprintCount>,
    /// Jobs that failed and then passed on the same commit, flakiest first.
    #[serde(default)]
    pub flaky: Vec<FlakyJob>,
    /// What ci-medic did: re-runs, heals, restarts, reverts, notifications.
    #[serde(default)]
    pub actions: Vec<Action>,
    /// How many of each kind ci-medic did in the window, when the source
    /// counts them (ClickHouse's `actions`, `bot_audit` and
    /// `autorevert_events`); otherwise the index counts `actions`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub action_totals: BTreeMap<ActionKind, u64>,
    /// How many of each kind were decided under dry run in the window,
    /// counted by the same rules as `action_totals`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub action_dry_totals: BTreeMap<ActionKind, u64>,
    /// The autorevert grid of each watched workflow.
    #[serde(default)]
    pub trunk: Vec<TrunkGrid>,
    /// Open pull requests with their Dr. CI verdicts.
    #[serde(default)]
    pub prs: Vec<PullView>,
    /// Downstream (out-of-tree) job results, latest attempt per job on each
    /// pull request's current head; `None` when there is no downstream data
    /// at all (no table, or a source that has none).
    #[serde(default)]
    pub downstream: Option<Vec<DownstreamJob>>,
}

pub fn default_server_url() -> String {
    "https://github.com".to_string()
}

/// One open failure issue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailureIssue {
    pub number: u64,
    pub title: String,
    #[serde(default)]
    pub url: String,
    /// The analyser's category (`test`, `network`, ...).
    pub category: String,
    #[serde(default)]
    pub fingerprint: Option<String>,
    #[serde(default)]
    pub workflow: Option<String>,
    #[serde(default)]
    pub opened_at: Option<DateTime<Utc>>,
    /// Runs the failure was seen in.
    #[serde(default)]
    pub occurrences: u64,
}

/// Jobs finished on one day (UTC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DayCount {
    pub day: NaiveDate,
    pub jobs: u64,
    pub failed: u64,
}

/// How often one failure fingerprint was seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FingerprintCount {
    pub fingerprint: String,
    #[serde(default)]
    pub category: String,
    /// The rule that matched.
    #[serde(default)]
    pub rule: Option<String>,
    /// A log line that shows it.
    #[serde(default)]
    pub line: Option<String>,
    pub count: u64,
    #[serde(default)]
    pub last_seen: Option<DateTime<Utc>>,
    /// A job that failed this way.
    #[serde(default)]
    pub example_url: Option<String>,
    /// The failure issue that tracks it.
    #[serde(default)]
    pub issue: Option<u64>,
}

/// A job that failed and passed on the same commit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlakyJob {
    pub workflow: String,
    pub name: String,
    /// Commits on which it failed and then passed.
    pub flaky: u64,
    /// Commits it ran on.
    pub runs: u64,
    #[serde(default)]
    pub last_url: Option<String>,
}

/// What ci-medic did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    Rerun,
    Heal,
    Restart,
    Revert,
    Notify,
}

impl ActionKind {
    pub const ALL: [ActionKind; 5] = [
        ActionKind::Rerun,
        ActionKind::Heal,
        ActionKind::Restart,
        ActionKind::Revert,
        ActionKind::Notify,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Rerun => "re-run",
            ActionKind::Heal => "heal",
            ActionKind::Restart => "restart",
            ActionKind::Revert => "revert",
            ActionKind::Notify => "notify",
        }
    }
}

/// One action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    pub ts: DateTime<Utc>,
    pub kind: ActionKind,
    /// What it acted on: a commit, a job, an issue.
    pub subject: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub url: Option<String>,
    /// Decided under dry run: nothing was written.
    #[serde(default)]
    pub dry_run: bool,
}

/// One cell of the trunk grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure,
    Pending,
    Cancelled,
    /// No result on this commit.
    Missing,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Pending => "pending",
            Outcome::Cancelled => "cancelled",
            Outcome::Missing => "missing",
        }
    }

    /// From a job's status and conclusion as GitHub reports them (an
    /// unknown conclusion is no result: pending until completed).
    pub fn of(status: Option<&Status>, conclusion: Option<&Conclusion>) -> Outcome {
        match conclusion {
            Some(Conclusion::Success | Conclusion::Skipped | Conclusion::Neutral) => {
                Outcome::Success
            }
            Some(
                Conclusion::Failure
                | Conclusion::TimedOut
                | Conclusion::StartupFailure
                | Conclusion::ActionRequired,
            ) => Outcome::Failure,
            Some(Conclusion::Cancelled | Conclusion::Stale) => Outcome::Cancelled,
            _ if status != Some(&Status::Completed) => Outcome::Pending,
            _ => Outcome::Missing,
        }
    }
}

/// The autorevert grid of one workflow: commits (newest first) by signals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkGrid {
    pub workflow: String,
    pub signals: Vec<String>,
    pub commits: Vec<TrunkRow>,
}

/// One commit of a grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkRow {
    pub sha: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub time: Option<DateTime<Utc>>,
    /// One per signal, in the grid's order (missing ones count as no result).
    #[serde(default)]
    pub cells: Vec<TrunkCell>,
    /// Autorevert's decision about this commit, when it made one.
    #[serde(default)]
    pub decision: Option<Decision>,
}

/// One signal's result on one commit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkCell {
    pub outcome: Outcome,
    /// Includes a restart autorevert asked for.
    #[serde(default)]
    pub restarted: bool,
    #[serde(default)]
    pub url: Option<String>,
}

/// An autorevert decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// `restart`, `revert`, `notify` or `none`.
    pub action: String,
    #[serde(default)]
    pub verdict: String,
    #[serde(default)]
    pub reason: String,
}

/// Dr. CI's classes (the comment's, most urgent first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobClass {
    New,
    Unclassified,
    Flaky,
    BrokenTrunk,
    Unstable,
    Pending,
    AwaitingApproval,
    Cancelled,
    Success,
}

impl JobClass {
    pub fn as_str(self) -> &'static str {
        match self {
            JobClass::New => "new failure",
            JobClass::Unclassified => "unclassified",
            JobClass::Flaky => "flaky",
            JobClass::BrokenTrunk => "broken trunk",
            JobClass::Unstable => "unstable",
            JobClass::Pending => "pending",
            JobClass::AwaitingApproval => "awaiting approval",
            JobClass::Cancelled => "cancelled",
            JobClass::Success => "passed",
        }
    }
}

impl From<crate::drci::classify::Class> for JobClass {
    fn from(c: crate::drci::classify::Class) -> JobClass {
        use crate::drci::classify::Class;
        match c {
            Class::New => JobClass::New,
            Class::Unclassified => JobClass::Unclassified,
            Class::Flaky => JobClass::Flaky,
            Class::BrokenTrunk => JobClass::BrokenTrunk,
            Class::Unstable => JobClass::Unstable,
            Class::Pending => JobClass::Pending,
            Class::AwaitingApproval => JobClass::AwaitingApproval,
            Class::Cancelled => JobClass::Cancelled,
        }
    }
}

/// An open pull request and Dr. CI's view of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullView {
    pub number: u64,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub head_sha: String,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub jobs: Vec<PullJob>,
}

/// One job's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullJob {
    pub name: String,
    pub class: JobClass,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub cause: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
}

/// One downstream job result (the `crcr_workflow_job` table's columns).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DownstreamJob {
    pub downstream_repo: String,
    #[serde(default)]
    pub level: String,
    pub pr_number: u64,
    #[serde(default)]
    pub head_sha: String,
    #[serde(default)]
    pub workflow_name: String,
    pub job_name: String,
    #[serde(default)]
    pub run_id: u64,
    #[serde(default = "one")]
    pub run_attempt: u64,
    /// `None` when the source said nothing (an empty string in a file).
    #[serde(default, with = "blank_status")]
    pub status: Option<Status>,
    #[serde(default)]
    pub conclusion: Option<Conclusion>,
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub completed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub execution_time_s: Option<f64>,
    #[serde(default)]
    pub tests_total: Option<u64>,
    #[serde(default)]
    pub tests_failed: Option<u64>,
    #[serde(default)]
    pub log_url: Option<String>,
    /// The result's origin was verified.
    #[serde(default)]
    pub trusted: bool,
}

fn one() -> u64 {
    1
}

/// A status in a snapshot file: a string, empty for none (the format of
/// version 1), read once into a [`Status`].
mod blank_status {
    use serde::{Deserialize as _, Deserializer, Serializer};

    use crate::event::Status;

    pub fn serialize<S: Serializer>(v: &Option<Status>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(crate::event::status::status_str(v.as_ref()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Status>, D::Error> {
        let text = Option::<String>::deserialize(d)?;
        Ok(text.filter(|t| !t.is_empty()).map(|t| Status::parse(&t)))
    }
}

impl DownstreamJob {
    pub fn outcome(&self) -> Outcome {
        Outcome::of(self.status.as_ref(), self.conclusion.as_ref())
    }

    /// Seconds it ran: the reported execution time, else its timestamps.
    pub fn duration_s(&self) -> Option<f64> {
        self.execution_time_s
            .filter(|s| s.is_finite() && *s >= 0.0)
            .or_else(|| {
                let (s, c) = (self.started_at?, self.completed_at?);
                let ms = (c - s).num_milliseconds();
                (ms >= 0).then(|| ms as f64 / 1000.0)
            })
    }
}

impl HudSnapshot {
    /// An empty snapshot of `repo` as of `now`.
    pub fn empty(repo: &str, now: DateTime<Utc>, since_days: u32) -> HudSnapshot {
        HudSnapshot {
            version: VERSION,
            repo: repo.to_string(),
            generated_at: now,
            server_url: default_server_url(),
            since_days,
            issues: Vec::new(),
            daily: Vec::new(),
            fingerprints: Vec::new(),
            flaky: Vec::new(),
            actions: Vec::new(),
            action_totals: BTreeMap::new(),
            action_dry_totals: BTreeMap::new(),
            trunk: Vec::new(),
            prs: Vec::new(),
            downstream: None,
        }
    }

    /// Parse a snapshot, refusing another version.
    pub fn parse(text: &str) -> Result<HudSnapshot> {
        #[derive(Deserialize)]
        struct Head {
            version: Option<u32>,
        }
        let head: Head = serde_json::from_str(text).context("not a HUD snapshot (JSON object)")?;
        match head.version {
            Some(VERSION) => {}
            Some(v) => {
                bail!("HUD snapshot version {v} is not supported (this build reads {VERSION})")
            }
            None => bail!("not a HUD snapshot: no `version`"),
        }
        let de = &mut serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de).map_err(|e| anyhow::anyhow!("HUD snapshot: {e}"))
    }

    /// Read a snapshot file (at most [`MAX_SNAPSHOT_BYTES`]).
    pub fn load(path: &Path) -> Result<HudSnapshot> {
        use std::io::Read as _;
        let file = std::fs::File::open(path)
            .with_context(|| format!("cannot read HUD snapshot {}", path.display()))?;
        let mut text = String::new();
        file.take(MAX_SNAPSHOT_BYTES + 1)
            .read_to_string(&mut text)
            .with_context(|| format!("cannot read HUD snapshot {}", path.display()))?;
        if text.len() as u64 > MAX_SNAPSHOT_BYTES {
            bail!(
                "HUD snapshot {} is larger than {MAX_SNAPSHOT_BYTES} bytes",
                path.display()
            );
        }
        HudSnapshot::parse(&text).with_context(|| format!("in {}", path.display()))
    }
}

impl PullView {
    /// Dr. CI's verdicts on a pull request's head.
    pub fn from_drci(
        number: u64,
        title: &str,
        url: Option<String>,
        head_sha: &str,
        verdicts: &[crate::drci::Verdict],
    ) -> PullView {
        PullView {
            number,
            title: title.to_string(),
            head_sha: head_sha.to_string(),
            url,
            jobs: verdicts
                .iter()
                .map(|v| PullJob {
                    name: v.name.clone(),
                    class: v.class.into(),
                    reason: v.reason.clone(),
                    cause: v.cause.clone(),
                    url: v.url.clone(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_job(job: &str) -> String {
        format!(
            r#"{{"version": 1, "repo": "o/r", "generated_at": "2026-11-20T12:00:00Z",
               "downstream": [{job}]}}"#
        )
    }

    #[test]
    fn statuses_and_conclusions_are_read_once_and_unknown_ones_kept_as_other() {
        let snap = HudSnapshot::parse(&with_job(
            r#"{"downstream_repo": "d/r", "pr_number": 1, "job_name": "j",
                "status": "", "conclusion": "exploded"}"#,
        ))
        .unwrap();
        let job = &snap.downstream.as_ref().unwrap()[0];
        assert_eq!(job.status, None);
        assert_eq!(job.conclusion, Some(Conclusion::Other("exploded".into())));
        // Unknown: no result yet, never a pass or a failure.
        assert_eq!(job.outcome(), Outcome::Pending);
        // Written back as it was read.
        let json = serde_json::to_value(job).unwrap();
        assert_eq!(json["status"], "");
        assert_eq!(json["conclusion"], "exploded");

        let snap = HudSnapshot::parse(&with_job(
            r#"{"downstream_repo": "d/r", "pr_number": 1, "job_name": "j",
                "status": "completed", "conclusion": "timed_out"}"#,
        ))
        .unwrap();
        let job = &snap.downstream.as_ref().unwrap()[0];
        assert_eq!(job.status, Some(Status::Completed));
        assert_eq!(job.outcome(), Outcome::Failure);
        assert_eq!(
            Outcome::of(
                Some(&Status::Completed),
                Some(&Conclusion::Other("x".into()))
            ),
            Outcome::Missing
        );
        assert_eq!(
            Outcome::of(Some(&Status::Completed), Some(&Conclusion::Stale)),
            Outcome::Cancelled
        );
    }

    #[test]
    fn a_malformed_time_is_an_error_naming_the_row() {
        let err = HudSnapshot::parse(&with_job(
            r#"{"downstream_repo": "d/r", "pr_number": 1, "job_name": "j",
                "started_at": "yesterday"}"#,
        ))
        .unwrap_err();
        assert!(
            err.to_string().contains("downstream[0].started_at"),
            "{err}"
        );
    }
}
