//! The trunk snapshot every source fills: the trunk's commits, newest first,
//! and the results of the jobs that ran on them. It is also the `--source file:`
//! format and what `--dump` writes:
//!
//! ```json
//! {"repo": "o/r", "now": "2024-05-01T12:00:00Z",
//!  "commits": [{"sha": "...", "time": "...", "message": "..."}],
//!  "jobs": [{"sha": "...", "workflow": "trunk", "name": "linux / test (default, 1, 3)",
//!            "run_id": 1, "run_attempt": 1, "event": "push", "head_branch": "main",
//!            "status": "completed", "conclusion": "failure", "started_at": "...",
//!            "rule": "pytest failure", "fingerprint": "0123456789abcdef"}]}
//! ```
//!
//! Optional extras a source may add: per job `completed_at`, `id` and `url`;
//! at the top `restart_requests` (restarts autorevert asked for whose runs the
//! source may not show yet) and `workflow_files` (workflow name to file, which
//! a dispatch needs).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use anyhow::Context as _;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::autorevert::{RESTART_EVENT, is_restart_branch};
use crate::config::workflow_selected;
use crate::event::{Conclusion, Status};

/// What a source saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub repo: String,
    /// The moment the snapshot describes.
    pub now: DateTime<Utc>,
    /// Trunk commits, newest first.
    pub commits: Vec<Commit>,
    pub jobs: Vec<JobResult>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restart_requests: Vec<RestartRequest>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub workflow_files: BTreeMap<String, String>,
}

/// One trunk commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commit {
    pub sha: String,
    /// When it reached trunk (near enough: the committer date or the push).
    pub time: DateTime<Utc>,
    #[serde(default)]
    pub message: String,
}

impl Commit {
    /// The first line of the message.
    pub fn title(&self) -> &str {
        self.message.lines().next().unwrap_or_default().trim()
    }
}

/// One attempt of one job on one commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobResult {
    pub sha: String,
    pub workflow: String,
    pub name: String,
    #[serde(default)]
    pub run_id: u64,
    #[serde(default = "one")]
    pub run_attempt: u64,
    /// The run's event: `push`, `schedule`, `workflow_dispatch`...
    #[serde(default)]
    pub event: String,
    #[serde(default)]
    pub head_branch: String,
    /// `queued`, `in_progress`, `completed`...
    pub status: Status,
    pub conclusion: Option<Conclusion>,
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
    /// The analyser's rule and fingerprint, for failed jobs it explained.
    #[serde(default)]
    pub rule: Option<String>,
    #[serde(default)]
    pub fingerprint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

fn one() -> u64 {
    1
}

/// A job's result as detection reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    Success,
    Failure,
    Pending,
}

impl JobResult {
    /// A job of a restart: dispatched on the `trunk/{sha}` tag.
    pub fn is_restart(&self) -> bool {
        self.event == RESTART_EVENT && is_restart_branch(&self.head_branch, &self.sha)
    }

    /// Success, failure, still running, or `None` for results that say
    /// nothing about the code (cancelled, skipped, neutral...).
    pub fn outcome(&self) -> Option<Outcome> {
        if !self.status.is_completed() {
            return Some(Outcome::Pending);
        }
        match &self.conclusion {
            Some(Conclusion::Success) => Some(Outcome::Success),
            Some(c) if c.is_failure_or_startup() => Some(Outcome::Failure),
            // Completed without a conclusion yet: GitHub fills it shortly.
            None => Some(Outcome::Pending),
            Some(Conclusion::Other(c)) if c.is_empty() => Some(Outcome::Pending),
            Some(_) => None,
        }
    }
}

/// A restart autorevert asked for (recorded in its audit log), which the job
/// results may not show yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartRequest {
    pub workflow: String,
    pub sha: String,
    pub at: DateTime<Utc>,
}

impl Snapshot {
    /// Read a snapshot file; errors name the place in the JSON.
    pub fn load(path: &Path) -> anyhow::Result<Snapshot> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read snapshot {}", path.display()))?;
        Snapshot::parse(&text).with_context(|| format!("snapshot {}", path.display()))
    }

    /// Parse snapshot JSON.
    pub fn parse(text: &str) -> anyhow::Result<Snapshot> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let mut snapshot: Snapshot = serde_path_to_error::deserialize(de)
            .map_err(|e| anyhow::anyhow!("at `{}`: {}", e.path(), e.inner()))?;
        snapshot.dedupe_commits();
        Ok(snapshot)
    }

    /// Write the snapshot as pretty JSON.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write snapshot {}", path.display()))
    }

    /// A commit listed twice keeps its first (newest) place.
    fn dedupe_commits(&mut self) {
        let mut seen = HashSet::new();
        self.commits.retain(|c| seen.insert(c.sha.clone()));
    }

    /// The snapshot as it was at `t`: later commits, jobs, and requests are
    /// gone; jobs that completed after `t` are still running.
    pub fn as_of(&self, t: DateTime<Utc>) -> Snapshot {
        let commits: Vec<Commit> = self
            .commits
            .iter()
            .filter(|c| c.time <= t)
            .cloned()
            .collect();
        let kept: HashSet<&str> = commits.iter().map(|c| c.sha.as_str()).collect();
        let jobs = self
            .jobs
            .iter()
            .filter(|j| kept.contains(j.sha.as_str()))
            .filter(|j| j.started_at.is_none_or(|s| s <= t))
            .map(|j| {
                let mut j = j.clone();
                if j.completed_at.is_some_and(|c| c > t) {
                    j.status = "in_progress".into();
                    j.conclusion = None;
                    j.completed_at = None;
                    j.rule = None;
                    j.fingerprint = None;
                }
                j
            })
            .collect();
        Snapshot {
            repo: self.repo.clone(),
            now: t,
            restart_requests: self
                .restart_requests
                .iter()
                .filter(|r| r.at <= t && kept.contains(r.sha.as_str()))
                .cloned()
                .collect(),
            workflow_files: self.workflow_files.clone(),
            commits,
            jobs,
        }
    }

    /// Only the commits of the last `hours` before `now`, and their jobs.
    pub fn window(self, hours: u32) -> Snapshot {
        let since = self.now - Duration::hours(i64::from(hours));
        let Snapshot {
            repo,
            now,
            commits,
            jobs,
            restart_requests,
            workflow_files,
        } = self;
        let commits: Vec<Commit> = commits.into_iter().filter(|c| c.time >= since).collect();
        let kept: HashSet<String> = commits.iter().map(|c| c.sha.clone()).collect();
        Snapshot {
            repo,
            now,
            jobs: jobs.into_iter().filter(|j| kept.contains(&j.sha)).collect(),
            restart_requests: restart_requests
                .into_iter()
                .filter(|r| kept.contains(&r.sha))
                .collect(),
            workflow_files,
            commits,
        }
    }

    /// Each commit's index in [`Snapshot::commits`], by sha.
    pub fn commit_index(&self) -> HashMap<&str, usize> {
        self.commits
            .iter()
            .enumerate()
            .map(|(i, c)| (c.sha.as_str(), i))
            .collect()
    }

    /// Whether `filter` (workflow names or files; empty: all) selects
    /// `workflow`, known by its name or, when the source knows it, its file.
    pub fn workflow_selected(&self, filter: &[String], workflow: &str) -> bool {
        workflow_selected(
            filter,
            workflow,
            self.workflow_files.get(workflow).map(String::as_str),
        )
    }

    /// The workflow file to dispatch for a workflow name (the file name, as
    /// the dispatch API takes it), if the source knows it.
    pub fn workflow_file(&self, workflow: &str) -> Option<&str> {
        self.workflow_files
            .get(workflow)
            .map(|p| p.rsplit('/').next().unwrap_or(p))
            .filter(|f| !f.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"{"repo": "o/r", "now": "2024-05-01T12:00:00Z",
     "commits": [{"sha": "b", "time": "2024-05-01T11:00:00Z", "message": "B\n\nbody"},
                 {"sha": "a", "time": "2024-05-01T10:00:00+02:00", "message": "A"}],
     "jobs": [{"sha": "b", "workflow": "trunk", "name": "linux / test (default, 1, 3)", "run_id": 1, "run_attempt": 1,
               "event": "push", "head_branch": "main", "status": "completed", "conclusion": "failure",
               "started_at": "2024-05-01T11:05:00Z", "completed_at": "2024-05-01T11:50:00Z",
               "rule": "pytest failure", "fingerprint": "0123456789abcdef"},
              {"sha": "b", "workflow": "trunk", "name": "build", "run_id": 2, "run_attempt": 1,
               "event": "workflow_dispatch", "head_branch": "trunk/b", "status": "queued", "conclusion": null,
               "started_at": null, "rule": null, "fingerprint": null}]}"#;

    #[test]
    fn parses_the_documented_format() {
        let s = Snapshot::parse(EXAMPLE).expect("parses");
        assert_eq!(s.commits.len(), 2);
        assert_eq!(s.commits[0].title(), "B");
        assert_eq!(s.commits[1].time.to_rfc3339(), "2024-05-01T08:00:00+00:00");
        assert_eq!(s.jobs[0].outcome(), Some(Outcome::Failure));
        assert!(!s.jobs[0].is_restart());
        assert!(s.jobs[1].is_restart());
        assert_eq!(s.jobs[1].outcome(), Some(Outcome::Pending));
        // Round trip.
        let text = serde_json::to_string(&s).expect("serialises");
        assert_eq!(Snapshot::parse(&text).expect("parses"), s);
    }

    #[test]
    fn errors_are_located() {
        let bad = EXAMPLE.replace("\"run_id\": 2", "\"run_id\": \"two\"");
        let e = Snapshot::parse(&bad).expect_err("fails").to_string();
        assert!(e.contains("jobs[1].run_id"), "{e}");
        assert!(Snapshot::parse("[]").is_err());
        assert!(Snapshot::parse("").is_err());
    }

    #[test]
    fn as_of_forgets_the_future() {
        let s = Snapshot::parse(EXAMPLE).expect("parses");
        let t = DateTime::parse_from_rfc3339("2024-05-01T11:30:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let past = s.as_of(t);
        assert_eq!(past.now, t);
        assert_eq!(past.commits.len(), 2);
        assert_eq!(past.jobs[0].status, Status::InProgress);
        assert_eq!(past.jobs[0].fingerprint, None);
        let earlier = s.as_of(t - Duration::hours(1));
        assert_eq!(earlier.commits.len(), 1);
        assert!(earlier.jobs.is_empty());
    }

    #[test]
    fn window_keeps_recent_commits() {
        let s = Snapshot::parse(EXAMPLE).expect("parses");
        let w = s.clone().window(2);
        assert_eq!(w.commits.len(), 1);
        assert_eq!(w.jobs.len(), 2);
        assert_eq!(s.window(48).commits.len(), 2);
    }

    #[test]
    fn outcomes() {
        let mut j = Snapshot::parse(EXAMPLE).expect("parses").jobs[0].clone();
        for (c, o) in [
            ("success", Some(Outcome::Success)),
            ("timed_out", Some(Outcome::Failure)),
            ("cancelled", None),
            ("skipped", None),
            ("", Some(Outcome::Pending)),
            ("superseded", None),
        ] {
            j.conclusion = Some(c.into());
            assert_eq!(j.outcome(), o, "{c}");
        }
        j.conclusion = None;
        assert_eq!(j.outcome(), Some(Outcome::Pending));
    }
}
