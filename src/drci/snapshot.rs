//! The snapshot Dr. CI classifies: everything it needs about one pull
//! request, as a JSON document (`ci-medic drci --snapshot FILE`).
//!
//! Every field from outside (job names, URLs, log lines, titles, authors) is
//! untrusted text; the renderer escapes it.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::analyze::Category;
use crate::event::{Conclusion, Status};

/// One pull request's CI as Dr. CI sees it.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// The pull request's number (keys the comment's marker).
    #[serde(default)]
    pub pr: Option<u64>,
    /// The pull request's author: failures on their own other pull requests
    /// are no evidence that a failure is unrelated.
    #[serde(default)]
    pub author: Option<String>,
    pub head_sha: String,
    /// The merge base of the head and the base branch (the compare
    /// endpoint's `merge_base_commit`, never the pull request's `base.sha`).
    pub merge_base: String,
    /// When the snapshot was taken; the flaky window ends here. Default: the
    /// latest `at` of `recent_failures`.
    #[serde(default)]
    pub as_of: Option<DateTime<Utc>>,
    /// The head SHA's jobs (every attempt; the latest counts).
    #[serde(default)]
    pub jobs: Vec<Job>,
    /// The merge base's jobs, same shape.
    #[serde(default)]
    pub base_jobs: Vec<Job>,
    /// Recent failures on the default branch and on other pull requests.
    #[serde(default)]
    pub recent_failures: Vec<RecentFailure>,
    /// Open `UNSTABLE …` and `DISABLED …` issues.
    #[serde(default)]
    pub issues: Vec<IssueRef>,
    /// Job names retry's memory holds as flaky (failed, then passed on one
    /// commit), as given or normalised.
    #[serde(default)]
    pub known_flaky: Vec<String>,
    /// The `drci` settings.
    #[serde(default)]
    pub config: DrciConfig,
    /// Downstream results on the head SHA (check runs
    /// `crcr/<owner>/<repo> / <job>`) of L3 and L4 repositories.
    #[serde(default)]
    pub downstream: Vec<Downstream>,
}

/// One downstream job's result on the head SHA, at its repository's level
/// of the allowlist: `L4` blocks merging, `L3` does not.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Downstream {
    /// The check run's name, `crcr/<owner>/<repo> / <job>`.
    pub name: String,
    /// `owner/repo`.
    pub repo: String,
    /// `L3` or `L4`.
    pub level: String,
    #[serde(default)]
    pub status: Option<Status>,
    #[serde(default)]
    pub conclusion: Option<Conclusion>,
    #[serde(default)]
    pub url: Option<String>,
}

impl Downstream {
    /// A failure of this repository blocks merging (L4).
    pub fn blocks(&self) -> bool {
        self.level.eq_ignore_ascii_case("L4")
    }
}

/// One attempt of one job.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Job {
    pub name: String,
    /// GitHub's job id (keys the cached analysis of its log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// `queued`, `in_progress`, `waiting`, `pending`, `requested` or
    /// `completed` (the default).
    #[serde(default)]
    pub status: Option<Status>,
    /// GitHub's conclusion: `success`, `failure`, `timed_out`, `cancelled`,
    /// `skipped`, `neutral`, `action_required`, `startup_failure`, `stale`.
    #[serde(default)]
    pub conclusion: Option<Conclusion>,
    /// The run attempt (1 for the first run).
    #[serde(default = "one")]
    pub attempt: u32,
    #[serde(default)]
    pub url: Option<String>,
    /// The job's log, relative to the snapshot file; analysed on load.
    #[serde(default)]
    pub log: Option<PathBuf>,
    /// The analysed failure, when the log was analysed already.
    #[serde(default)]
    pub failure: Option<JobFailure>,
}

fn one() -> u32 {
    1
}

/// What the analyser found in a job's log: its most likely cause.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JobFailure {
    #[serde(default)]
    pub category: Category,
    /// The rule that matched.
    #[serde(default)]
    pub rule: String,
    /// The cause line.
    pub text: String,
    pub fingerprint: String,
}

/// How a failed job elsewhere turned out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Recovery {
    /// A re-run of the same commit passed.
    Rerun,
    /// The job passed on a later commit of the same branch.
    LaterCommit,
}

/// Where a recent failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Place {
    /// The default branch.
    Trunk,
    /// Another pull request.
    Pr,
}

/// A failure of a job on the default branch or on another pull request.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RecentFailure {
    pub job: String,
    pub fingerprint: String,
    pub place: Place,
    #[serde(default)]
    pub pr: Option<u64>,
    #[serde(default)]
    pub author: Option<String>,
    #[serde(default)]
    pub sha: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    /// When it failed; a failure without a time is outside every window.
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
    /// How it recovered, if it did; a failure that never passed again is no
    /// evidence of flakiness.
    #[serde(default)]
    pub recovered: Option<Recovery>,
}

/// An open issue that marks jobs unstable or tests disabled.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IssueRef {
    #[serde(default)]
    pub number: Option<u64>,
    /// `UNSTABLE <job name prefix>` or `DISABLED <job name prefix>`.
    pub title: String,
}

/// The `drci` settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct DrciConfig {
    /// Job-name regexes of jobs that are unstable (besides `UNSTABLE` issues).
    pub unstable: Vec<String>,
    /// Job-name regexes of lint-like jobs: always NEW when failing.
    pub lint: Vec<String>,
    /// Regex whose matches are removed from a job name to compare jobs
    /// across shards and matrix cells.
    pub shard_pattern: String,
    /// How far back failures elsewhere count as evidence of flakiness.
    pub flaky_window_days: u32,
}

/// Default [`DrciConfig::shard_pattern`]: `, 1, 5, linux.2xlarge)`-style
/// shard tails, `shard 2`, `shard-2/4`, `(3 of 4)` and `2/4`.
pub const DEFAULT_SHARD_PATTERN: &str = r"(?i),\s*\d+\s*,\s*\d+\b[^)]*|\s*\bshard[-_ #]?\d+(?:\s*(?:/|of)\s*\d+)?|\s*\b\d+\s*(?:/|of)\s*\d+\b";

impl Default for DrciConfig {
    fn default() -> Self {
        DrciConfig {
            unstable: Vec::new(),
            lint: vec![
                r"(?i)\b(lint|format|fmt|clippy|eslint|flake8|ruff|mypy|pre-commit)\b".into(),
            ],
            shard_pattern: DEFAULT_SHARD_PATTERN.into(),
            flaky_window_days: 3,
        }
    }
}
