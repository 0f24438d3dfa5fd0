//! The fields of each webhook payload that ci-medic depends on.
//!
//! Payloads are parsed into small typed structs of only the fields we read, so
//! GitHub adding fields never breaks us, and a field we need that is missing or
//! malformed is reported with its path in the payload.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Deserialize;

pub mod status;
pub use status::{Conclusion, Status};

/// Why a payload could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("cannot read event payload {file}: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("event payload {file} is larger than {max} bytes; refused")]
    TooLarge { file: String, max: u64 },
    #[error("malformed {event} payload in {file}: at `{path}`: {message}")]
    Malformed {
        event: String,
        file: String,
        path: String,
        message: String,
    },
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct User {
    pub login: String,
    #[serde(default)]
    pub id: u64,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Label {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Repository {
    pub full_name: String,
    #[serde(default)]
    pub default_branch: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Workflow {
    #[serde(default)]
    pub id: u64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
}

/// The `workflow_run` object of the payload has the REST run's shape.
pub use crate::github::types::RunInfo as WorkflowRun;

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct WorkflowRunEvent {
    pub action: String,
    pub workflow_run: WorkflowRun,
    #[serde(default)]
    pub workflow: Option<Workflow>,
    pub repository: Repository,
}

impl WorkflowRunEvent {
    /// The workflow file of the run, from the run or from the workflow object.
    pub fn workflow_path(&self) -> Option<&str> {
        self.workflow_run
            .path
            .as_deref()
            .or_else(|| self.workflow.as_ref().and_then(|w| w.path.as_deref()))
    }

    /// True for a completed run that failed (what `analyze` and `retry` act on).
    pub fn is_failure(&self) -> bool {
        self.action == "completed"
            && self
                .workflow_run
                .conclusion
                .as_ref()
                .is_some_and(Conclusion::is_failure)
    }
}

/// The `workflow_job` object of the payload has the REST job's shape.
pub use crate::github::types::{JobInfo as WorkflowJob, StepInfo as Step};

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct WorkflowJobEvent {
    pub action: String,
    pub workflow_job: WorkflowJob,
    pub repository: Repository,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Issue {
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    pub state: Option<String>,
    #[serde(default)]
    pub labels: Vec<Label>,
    pub user: User,
    /// Present when the issue is a pull request.
    #[serde(default)]
    pub pull_request: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct IssuesEvent {
    pub action: String,
    pub issue: Issue,
    #[serde(default)]
    pub label: Option<Label>,
    pub sender: User,
    pub repository: Repository,
    /// `edited`: what the edit changed (each part only when it changed).
    #[serde(default)]
    pub changes: Option<IssueChanges>,
}

/// The `changes` of an `issues.edited` payload: the previous title and
/// body, each present only when the edit changed it.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct IssueChanges {
    #[serde(default)]
    pub title: Option<Previous>,
    #[serde(default)]
    pub body: Option<Previous>,
}

/// A value before an edit.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Previous {
    /// Absent from some payloads (a body that was empty).
    #[serde(default)]
    pub from: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Comment {
    pub id: u64,
    pub body: Option<String>,
    pub user: User,
    #[serde(default)]
    pub author_association: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct IssueCommentEvent {
    pub action: String,
    pub issue: Issue,
    pub comment: Comment,
    pub sender: User,
    pub repository: Repository,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Branch {
    #[serde(rename = "ref")]
    pub ref_name: String,
    pub sha: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct PullRequest {
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    pub state: String,
    #[serde(default)]
    pub labels: Vec<Label>,
    pub user: User,
    pub head: Branch,
    pub base: Branch,
    #[serde(default)]
    pub merged: Option<bool>,
    #[serde(default)]
    pub draft: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct PullRequestEvent {
    pub action: String,
    pub number: u64,
    pub pull_request: PullRequest,
    #[serde(default)]
    pub label: Option<Label>,
    pub sender: User,
    pub repository: Repository,
}

/// A review of a pull request, as `pull_request_review` sends it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Review {
    pub id: u64,
    pub body: Option<String>,
    pub user: User,
    /// `approved`, `changes_requested`, `commented`, `dismissed` (lower
    /// case in webhooks, upper case in REST answers).
    pub state: String,
    /// The commit the review was made on.
    #[serde(default)]
    pub commit_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct PullRequestReviewEvent {
    pub action: String,
    pub review: Review,
    pub pull_request: PullRequest,
    pub sender: User,
    pub repository: Repository,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct CheckRun {
    pub id: u64,
    pub name: String,
    pub head_sha: String,
    pub status: Status,
    pub conclusion: Option<Conclusion>,
    /// The app that created it.
    #[serde(default)]
    pub app: Option<CheckApp>,
}

/// The app behind a check run or check suite.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct CheckApp {
    #[serde(default)]
    pub slug: Option<String>,
}

/// A check suite: one app's checks of one commit.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct CheckSuite {
    pub id: u64,
    pub head_sha: String,
    #[serde(default)]
    pub status: Option<Status>,
    #[serde(default)]
    pub conclusion: Option<Conclusion>,
    #[serde(default)]
    pub app: Option<CheckApp>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct CheckSuiteEvent {
    pub action: String,
    pub check_suite: CheckSuite,
    pub repository: Repository,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct CheckRunEvent {
    pub action: String,
    pub check_run: CheckRun,
    pub repository: Repository,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct WorkflowDispatchEvent {
    #[serde(default)]
    pub inputs: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(rename = "ref")]
    pub ref_name: String,
    #[serde(default)]
    pub workflow: Option<String>,
    pub repository: Repository,
}

impl WorkflowDispatchEvent {
    /// A dispatch input as text (inputs may be strings, numbers or booleans).
    pub fn input(&self, name: &str) -> Option<String> {
        let v = self.inputs.as_ref()?.get(name)?;
        let s = match v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => return None,
            other => other.to_string(),
        };
        (!s.trim().is_empty()).then(|| s.trim().to_string())
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ScheduleEvent {
    pub schedule: String,
    #[serde(default)]
    pub repository: Option<Repository>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct PushCommit {
    pub id: String,
    pub message: String,
    #[serde(default)]
    pub timestamp: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct PushEvent {
    #[serde(rename = "ref")]
    pub ref_name: String,
    pub before: String,
    pub after: String,
    #[serde(default)]
    pub commits: Vec<PushCommit>,
    pub repository: Repository,
}

/// A `repository_dispatch`: `action` is the sender's `event_type`, and
/// `client_payload` whatever it sent (untrusted: each reader checks it).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct RepositoryDispatchEvent {
    pub action: String,
    #[serde(default)]
    pub client_payload: serde_json::Value,
    #[serde(default)]
    pub sender: Option<User>,
    pub repository: Repository,
}

/// One parsed event. Events ci-medic has no use for are `Unhandled`.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    WorkflowRun(Box<WorkflowRunEvent>),
    WorkflowJob(Box<WorkflowJobEvent>),
    Issues(Box<IssuesEvent>),
    IssueComment(Box<IssueCommentEvent>),
    PullRequest(Box<PullRequestEvent>),
    PullRequestReview(Box<PullRequestReviewEvent>),
    CheckRun(Box<CheckRunEvent>),
    WorkflowDispatch(Box<WorkflowDispatchEvent>),
    Schedule(Box<ScheduleEvent>),
    Push(Box<PushEvent>),
    RepositoryDispatch(Box<RepositoryDispatchEvent>),
    CheckSuite(Box<CheckSuiteEvent>),
    Unhandled(String),
}

impl Event {
    /// The event's name as GitHub spells it in `GITHUB_EVENT_NAME`.
    pub fn name(&self) -> &str {
        match self {
            Event::WorkflowRun(_) => "workflow_run",
            Event::WorkflowJob(_) => "workflow_job",
            Event::Issues(_) => "issues",
            Event::IssueComment(_) => "issue_comment",
            Event::PullRequest(_) => "pull_request",
            Event::PullRequestReview(_) => "pull_request_review",
            Event::CheckRun(_) => "check_run",
            Event::WorkflowDispatch(_) => "workflow_dispatch",
            Event::Schedule(_) => "schedule",
            Event::Push(_) => "push",
            Event::RepositoryDispatch(_) => "repository_dispatch",
            Event::CheckSuite(_) => "check_suite",
            Event::Unhandled(name) => name,
        }
    }

    /// The repository the payload names, when it names one.
    pub fn repository(&self) -> Option<&str> {
        let repo = match self {
            Event::WorkflowRun(e) => &e.repository,
            Event::WorkflowJob(e) => &e.repository,
            Event::Issues(e) => &e.repository,
            Event::IssueComment(e) => &e.repository,
            Event::PullRequest(e) => &e.repository,
            Event::PullRequestReview(e) => &e.repository,
            Event::CheckRun(e) => &e.repository,
            Event::WorkflowDispatch(e) => &e.repository,
            Event::Schedule(e) => e.repository.as_ref()?,
            Event::Push(e) => &e.repository,
            Event::RepositoryDispatch(e) => &e.repository,
            Event::CheckSuite(e) => &e.repository,
            Event::Unhandled(_) => return None,
        };
        Some(&repo.full_name)
    }
}

fn typed<T: serde::de::DeserializeOwned>(
    name: &str,
    file: &str,
    bytes: &[u8],
) -> Result<T, EventError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        EventError::Malformed {
            event: name.to_string(),
            file: file.to_string(),
            path: if path.is_empty() { ".".into() } else { path },
            message: e.into_inner().to_string(),
        }
    })
}

/// Parse a payload of event `name`; `file` names it in errors.
pub fn parse(name: &str, file: &str, bytes: &[u8]) -> Result<Event, EventError> {
    Ok(match name {
        "workflow_run" => Event::WorkflowRun(Box::new(typed(name, file, bytes)?)),
        "workflow_job" => Event::WorkflowJob(Box::new(typed(name, file, bytes)?)),
        "issues" => Event::Issues(Box::new(typed(name, file, bytes)?)),
        "issue_comment" => Event::IssueComment(Box::new(typed(name, file, bytes)?)),
        "pull_request" | "pull_request_target" => {
            Event::PullRequest(Box::new(typed(name, file, bytes)?))
        }
        "pull_request_review" => Event::PullRequestReview(Box::new(typed(name, file, bytes)?)),
        "check_run" => Event::CheckRun(Box::new(typed(name, file, bytes)?)),
        "check_suite" => Event::CheckSuite(Box::new(typed(name, file, bytes)?)),
        "workflow_dispatch" => Event::WorkflowDispatch(Box::new(typed(name, file, bytes)?)),
        "schedule" => Event::Schedule(Box::new(typed(name, file, bytes)?)),
        "push" => Event::Push(Box::new(typed(name, file, bytes)?)),
        "repository_dispatch" => Event::RepositoryDispatch(Box::new(typed(name, file, bytes)?)),
        other => Event::Unhandled(other.to_string()),
    })
}

/// Largest event payload read, in bytes: GitHub caps webhook payloads at
/// 25 MB (docs: "Webhook events and payloads", payload cap), so a larger file
/// is not an event GitHub sent.
pub const MAX_PAYLOAD_BYTES: u64 = 25 * 1024 * 1024;

/// Read a payload file, refusing one larger than `max` bytes without reading
/// more than `max + 1` of it.
pub fn read_payload(path: &Path, max: u64) -> Result<Vec<u8>, EventError> {
    use std::io::Read as _;
    let file = path.display().to_string();
    let read_err = |source| EventError::Read {
        file: file.clone(),
        source,
    };
    let f = std::fs::File::open(path).map_err(read_err)?;
    let mut bytes = Vec::new();
    f.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > max {
        return Err(EventError::TooLarge { file, max });
    }
    Ok(bytes)
}

/// Read and parse the payload file the runner names in `GITHUB_EVENT_PATH`.
pub fn load(name: &str, path: &Path) -> Result<Event, EventError> {
    let file = path.display().to_string();
    // An event we do not handle needs no payload at all.
    if matches!(parse(name, &file, b"{}"), Ok(Event::Unhandled(_))) {
        return Ok(Event::Unhandled(name.to_string()));
    }
    let bytes = read_payload(path, MAX_PAYLOAD_BYTES)?;
    parse(name, &file, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_payload_names_the_field() {
        let err = parse(
            "issues",
            "event.json",
            br#"{"action":"opened","issue":{"number":"seven"}}"#,
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(err.contains("event.json"), "{err}");
        assert!(err.contains("issue.number"), "{err}");
    }

    #[test]
    fn not_json_is_an_error_not_a_panic() {
        let err = parse("push", "p.json", b"\x00\xffnot json").err();
        assert!(matches!(err, Some(EventError::Malformed { .. })));
    }

    #[test]
    fn payloads_over_the_cap_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("event.json");
        std::fs::write(&path, br#"{"ref":"refs/heads/main"}"#).unwrap();
        assert_eq!(read_payload(&path, 25).unwrap().len(), 25);
        assert!(matches!(
            read_payload(&path, 24),
            Err(EventError::TooLarge { max: 24, .. })
        ));
    }

    fn run_payload(conclusion: &str, created_at: &str) -> Vec<u8> {
        format!(
            r#"{{"action":"completed","repository":{{"full_name":"o/r"}},
              "workflow_run":{{"id":7,"event":"push","head_sha":"abc","status":"completed",
              "conclusion":{conclusion},"created_at":{created_at}}}}}"#
        )
        .into_bytes()
    }

    fn run_of(event: Event) -> WorkflowRunEvent {
        match event {
            Event::WorkflowRun(e) => *e,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn conclusions_and_times_are_typed_once_at_parse() {
        let e = run_of(
            parse(
                "workflow_run",
                "e.json",
                &run_payload(r#""timed_out""#, r#""2024-05-01T13:30:00+02:00""#),
            )
            .unwrap(),
        );
        assert_eq!(e.workflow_run.conclusion, Some(Conclusion::TimedOut));
        assert_eq!(e.workflow_run.status, Some(Status::Completed));
        assert!(e.is_failure());
        // Any offset is read as the same instant in UTC.
        let at = DateTime::parse_from_rfc3339("2024-05-01T11:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(e.workflow_run.created_at, Some(at));

        let e = run_of(parse("workflow_run", "e.json", &run_payload("null", "null")).unwrap());
        assert_eq!(e.workflow_run.conclusion, None);
        assert_eq!(e.workflow_run.created_at, None);
        assert!(!e.is_failure());
    }

    #[test]
    fn a_conclusion_github_adds_later_is_kept_not_refused() {
        let e = run_of(
            parse(
                "workflow_run",
                "e.json",
                &run_payload(r#""superseded""#, "null"),
            )
            .unwrap(),
        );
        assert_eq!(
            e.workflow_run.conclusion,
            Some(Conclusion::Other("superseded".into()))
        );
        assert!(!e.is_failure());
    }

    #[test]
    fn a_malformed_timestamp_fails_the_event_and_names_the_field() {
        for bad in [r#""yesterday""#, r#""""#, r#""2024-13-01T00:00:00Z""#, "17"] {
            let err = parse("workflow_run", "e.json", &run_payload(r#""failure""#, bad)).err();
            let Some(EventError::Malformed { path, .. }) = &err else {
                panic!("{bad}: {err:?}");
            };
            assert_eq!(path, "workflow_run.created_at", "{bad}");
        }
    }

    #[test]
    fn unknown_events_are_unhandled() {
        assert_eq!(
            parse("star", "x", b"garbage").ok(),
            Some(Event::Unhandled("star".into()))
        );
    }
}
