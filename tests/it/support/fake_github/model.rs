//! The entities of the fake GitHub's world, as tests seed and read them.
//!
//! These are plain data: handlers render them into GitHub's JSON shapes
//! (`shapes/`), and readers on [`super::FakeGithub`] hand out clones.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// A GitHub account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub login: String,
    pub id: u64,
    /// `User`, `Bot` or `Organization`.
    pub kind: String,
}

/// An issue, or the issue half of a pull request (numbers are shared, as on
/// GitHub).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    pub id: u64,
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    /// `open` or `closed`.
    pub state: String,
    /// `completed`, `not_planned`, `duplicate`, `reopened` or none.
    pub state_reason: Option<String>,
    /// Label names, in the order they were added.
    pub labels: Vec<String>,
    /// Login of the author.
    pub user: String,
    pub assignees: Vec<String>,
    pub locked: bool,
    /// Whether this number belongs to a pull request.
    pub is_pull_request: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// The pull-request half of a pull request; title, body, state and labels live
/// on its [`Issue`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PullData {
    pub id: u64,
    pub number: u64,
    /// Branch name (without `refs/heads/`).
    pub head_ref: String,
    /// Head commit when the pull request was opened or last updated.
    pub head_sha: String,
    pub base_ref: String,
    pub draft: bool,
    pub maintainer_can_modify: bool,
    pub merged: bool,
    pub merge_commit_sha: Option<String>,
    /// The owner of the fork the head branch lives in (`None`: this
    /// repository). The fake keeps the fork's commits in this repository,
    /// as GitHub shows a fork's pull request's commits in its base.
    pub fork_owner: Option<String>,
}

/// A pull request as tests read it: issue and pull-request halves together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PullRequest {
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    pub state: String,
    pub labels: Vec<String>,
    pub user: String,
    pub head_ref: String,
    pub head_sha: String,
    pub base_ref: String,
    pub draft: bool,
    pub merged: bool,
}

impl PullRequest {
    pub(crate) fn from_parts(issue: &Issue, pull: &PullData) -> PullRequest {
        PullRequest {
            number: issue.number,
            title: issue.title.clone(),
            body: issue.body.clone(),
            state: issue.state.clone(),
            labels: issue.labels.clone(),
            user: issue.user.clone(),
            head_ref: pull.head_ref.clone(),
            head_sha: pull.head_sha.clone(),
            base_ref: pull.base_ref.clone(),
            draft: pull.draft,
            merged: pull.merged,
        }
    }
}

/// A comment on an issue or pull request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment {
    pub id: u64,
    pub issue_number: u64,
    pub body: String,
    /// Login of the author.
    pub user: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A repository label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub id: u64,
    pub name: String,
    /// Six hex digits, without `#`.
    pub color: String,
    pub description: Option<String>,
}

/// An entry of an issue's timeline of events (`labeled`, `unlabeled`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssueEvent {
    pub id: u64,
    pub issue_number: u64,
    pub event: String,
    /// Login of whoever caused the event.
    pub actor: String,
    pub label: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A workflow file registered with Actions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workflow {
    pub id: u64,
    pub name: String,
    /// `.github/workflows/ci.yml`.
    pub path: String,
    /// `active`, `disabled_manually`...
    pub state: String,
}

/// Availability of logs (per job, or the zip of a whole run).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Logs {
    /// No logs were ever produced: 404.
    #[default]
    Missing,
    /// The bytes the blob host serves after the 302.
    Available(Vec<u8>),
    /// Retention passed: 410.
    Expired,
}

/// A workflow run (its latest attempt; jobs keep their own attempt number).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub id: u64,
    pub workflow_id: u64,
    pub name: String,
    pub path: String,
    pub event: String,
    pub head_sha: String,
    pub head_branch: Option<String>,
    pub display_title: String,
    /// `queued`, `in_progress`, `completed`...
    pub status: String,
    /// `success`, `failure`, `cancelled`... once completed.
    pub conclusion: Option<String>,
    pub run_attempt: u32,
    pub run_number: u64,
    /// Login of the user who triggered the run.
    pub actor: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub run_started_at: DateTime<Utc>,
    /// The run's log archive. `None`: built from the jobs' logs on request.
    pub logs_zip: Option<Logs>,
    /// Numbers of the pull requests the run belongs to.
    pub pull_requests: Vec<u64>,
    /// `owner/name` of the fork whose code the run ran (`None`: the
    /// repository's own code).
    pub head_repository: Option<String>,
}

/// Whether a job's conclusion is a failure: what makes its run fail, and what
/// "re-run failed jobs" picks up.
pub fn is_failure(conclusion: Option<&str>) -> bool {
    matches!(
        conclusion,
        Some("failure" | "cancelled" | "timed_out" | "startup_failure")
    )
}

/// A step of a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub number: u32,
    pub name: String,
    pub status: String,
    pub conclusion: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// A job of one attempt of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    pub id: u64,
    pub run_id: u64,
    pub run_attempt: u32,
    pub name: String,
    pub status: String,
    pub conclusion: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub steps: Vec<Step>,
    pub logs: Logs,
    pub labels: Vec<String>,
    pub runner_name: Option<String>,
}

/// A re-run request the fake received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rerun {
    pub run_id: u64,
    /// `Some` for `POST .../jobs/{job_id}/rerun`, `None` for
    /// `POST .../runs/{run_id}/rerun-failed-jobs`.
    pub job_id: Option<u64>,
    pub enable_debug_logging: bool,
    /// The attempt the re-run created.
    pub new_attempt: u32,
    /// Login of whoever asked.
    pub actor: String,
}

/// A `workflow_dispatch` the fake received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dispatch {
    pub workflow_id: u64,
    /// The `{workflow_id}` as the client wrote it (an id or a file name).
    pub workflow: String,
    /// The `ref` of the request body.
    pub git_ref: String,
    pub inputs: Map<String, Value>,
    /// The run the dispatch started, when the fake creates runs for dispatches.
    pub run_id: Option<u64>,
    pub actor: String,
}

/// A check run (the fake's own app, `github-actions`, creates them all).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckRun {
    pub id: u64,
    pub name: String,
    pub head_sha: String,
    /// `queued`, `in_progress` or `completed`.
    pub status: String,
    pub conclusion: Option<String>,
    pub title: Option<String>,
    pub summary: Option<String>,
    pub text: Option<String>,
    pub details_url: Option<String>,
    pub external_id: Option<String>,
    /// Slug of the app that created it.
    pub app: String,
    pub started_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// A reaction to an issue comment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reaction {
    pub id: u64,
    pub comment_id: u64,
    /// `+1`, `-1`, `laugh`, `confused`, `heart`, `hooray`, `rocket`, `eyes`.
    pub content: String,
    /// Login of whoever reacted.
    pub user: String,
    pub created_at: DateTime<Utc>,
}

/// A submitted review of a pull request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Review {
    pub id: u64,
    pub pull_number: u64,
    pub user: String,
    /// `APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, `DISMISSED`.
    pub state: String,
    pub body: String,
    pub commit_id: String,
    pub submitted_at: DateTime<Utc>,
}
