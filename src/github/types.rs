//! The fields of REST answers that ci-medic reads. Everything else GitHub
//! sends is ignored, so new or renamed fields elsewhere cannot break us.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::event::{Conclusion, Status};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserInfo {
    pub login: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelInfo {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepoInfo {
    pub full_name: String,
    pub default_branch: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub id: u64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    pub event: String,
    pub head_sha: String,
    #[serde(default)]
    pub head_branch: Option<String>,
    #[serde(default)]
    pub status: Option<Status>,
    #[serde(default)]
    pub conclusion: Option<Conclusion>,
    #[serde(default = "one")]
    pub run_attempt: u64,
    #[serde(default)]
    pub run_number: u64,
    #[serde(default)]
    pub workflow_id: u64,
    #[serde(default)]
    pub html_url: String,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
    /// The repository whose code the run ran (a fork's for a fork's pull request).
    #[serde(default)]
    pub head_repository: Option<RunRepository>,
    /// Who started the run (for a pull request's run, who pushed).
    #[serde(default)]
    pub actor: Option<UserInfo>,
    /// The pull requests of the run (none for a fork's).
    #[serde(default)]
    pub pull_requests: Vec<RunPull>,
}

/// A pull request as a run names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunPull {
    pub number: u64,
}

/// A repository as a run names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRepository {
    pub full_name: String,
}

fn one() -> u64 {
    1
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepInfo {
    pub name: String,
    pub number: u64,
    #[serde(default)]
    pub status: Option<Status>,
    #[serde(default)]
    pub conclusion: Option<Conclusion>,
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub completed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobInfo {
    pub id: u64,
    pub run_id: u64,
    #[serde(default = "one")]
    pub run_attempt: u64,
    pub name: String,
    #[serde(default)]
    pub head_sha: String,
    #[serde(default)]
    pub status: Option<Status>,
    #[serde(default)]
    pub conclusion: Option<Conclusion>,
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub completed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub html_url: Option<String>,
    #[serde(default)]
    pub steps: Vec<StepInfo>,
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default)]
    pub runner_name: Option<String>,
}

impl JobInfo {
    /// A job that failed in a way worth explaining.
    pub fn failed(&self) -> bool {
        self.conclusion
            .as_ref()
            .is_some_and(Conclusion::is_failure_or_startup)
    }

    /// The first step that failed, if the API says which.
    pub fn failed_step(&self) -> Option<&StepInfo> {
        self.steps
            .iter()
            .find(|s| s.conclusion.as_ref().is_some_and(Conclusion::is_failure))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssueInfo {
    pub number: u64,
    pub title: String,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub labels: Vec<LabelInfo>,
    pub user: UserInfo,
    #[serde(default)]
    pub html_url: String,
    /// Present when the "issue" is a pull request.
    #[serde(default)]
    pub pull_request: Option<serde_json::Value>,
}

impl IssueInfo {
    pub fn has_label(&self, name: &str) -> bool {
        self.labels.iter().any(|l| l.name == name)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommentInfo {
    pub id: u64,
    #[serde(default)]
    pub body: Option<String>,
    pub user: UserInfo,
    #[serde(default)]
    pub html_url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PermissionInfo {
    /// `admin`, `maintain`, `write`, `triage`, `read` or `none`: kept as text,
    /// since typed wrappers have rejected the newer values
    /// ([`crate::permissions::Access`] reads it).
    pub permission: String,
    #[serde(default)]
    pub role_name: Option<String>,
}

/// A commit as `GET /repos/{o}/{r}/commits` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommitSummary {
    pub sha: String,
    pub message: String,
    /// Committer date: when it reached the branch, near enough.
    pub date: Option<DateTime<Utc>>,
    pub parents: Vec<String>,
}

/// A file a commit changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangedFile {
    pub filename: String,
    /// `added`, `removed`, `modified`, `renamed`, `copied`, `changed`, `unchanged`.
    pub status: String,
    #[serde(default)]
    pub previous_filename: Option<String>,
}

/// A commit with the files it changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommitDetail {
    pub sha: String,
    pub parents: Vec<String>,
    pub message: String,
    pub files: Vec<ChangedFile>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullInfo {
    pub number: u64,
    pub state: String,
    pub title: String,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub labels: Vec<LabelInfo>,
    pub head_ref: String,
    pub base_ref: String,
    /// The head commit (empty when the answer did not say).
    #[serde(default)]
    pub head_sha: String,
    #[serde(default)]
    pub merged: bool,
    #[serde(default)]
    pub html_url: String,
    #[serde(default)]
    pub user: Option<UserInfo>,
}

impl PullInfo {
    pub fn has_label(&self, name: &str) -> bool {
        self.labels.iter().any(|l| l.name == name)
    }
}

/// An entry of an issue's event list (`labeled`, `unlabeled`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssueEvent {
    pub event: String,
    #[serde(default)]
    pub actor: Option<UserInfo>,
    #[serde(default)]
    pub label: Option<LabelInfo>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
}
