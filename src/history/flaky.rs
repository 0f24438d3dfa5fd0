//! The flaky memory, as pure functions: a job that failed and then passed on
//! the same commit is flaky. The sources hand over job results (a
//! [`Snapshot`]'s, or the attempts of runs read from GitHub) and these
//! functions say which jobs were flaky.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::snapshot::{JobResult, Outcome, Snapshot};

/// A job seen failing and then passing on one commit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FlakyJob {
    /// The commit it ran on.
    pub sha: String,
    /// The workflow's name.
    pub workflow: String,
    /// The job's name.
    pub name: String,
}

/// Where an attempt stands among the attempts of one job on one commit: a
/// re-run keeps its run's id with a higher attempt number; a newer run (a
/// restart) has a higher id; the start time separates what the ids do not.
type Order = (u64, u64, Option<DateTime<Utc>>);

fn order(j: &JobResult) -> Order {
    (j.run_id, j.run_attempt, j.started_at)
}

/// What the attempts of one job on one commit showed.
#[derive(Default)]
struct Attempts {
    first_failure: Option<Order>,
    last_success: Option<Order>,
}

/// The jobs among `jobs` that failed in one attempt and passed in a later
/// one on the same commit (same workflow, same job name), sorted and each
/// listed once. Cancelled, skipped and unfinished attempts say nothing.
pub fn failed_then_passed<'a>(jobs: impl IntoIterator<Item = &'a JobResult>) -> Vec<FlakyJob> {
    // Per (commit, workflow, job name).
    let mut seen: BTreeMap<(&str, &str, &str), Attempts> = BTreeMap::new();
    for j in jobs {
        let outcome = j.outcome();
        if !matches!(outcome, Some(Outcome::Failure | Outcome::Success)) {
            continue;
        }
        let entry = seen
            .entry((j.sha.as_str(), j.workflow.as_str(), j.name.as_str()))
            .or_default();
        let at = order(j);
        if outcome == Some(Outcome::Failure) {
            entry.first_failure = Some(entry.first_failure.map_or(at, |first| first.min(at)));
        } else {
            entry.last_success = Some(entry.last_success.map_or(at, |last| last.max(at)));
        }
    }
    seen.into_iter()
        .filter(|(_, a)| match (a.first_failure, a.last_success) {
            (Some(failed), Some(passed)) => failed < passed,
            _ => false,
        })
        .map(|((sha, workflow, name), _)| FlakyJob {
            sha: sha.to_string(),
            workflow: workflow.to_string(),
            name: name.to_string(),
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The flaky jobs of a trunk snapshot: jobs of `workflow` (every workflow
/// when empty) started since `since` (or with no start time) that failed and
/// then passed on one commit.
pub fn in_snapshot(snapshot: &Snapshot, workflow: &str, since: DateTime<Utc>) -> Vec<FlakyJob> {
    failed_then_passed(snapshot.jobs.iter().filter(|j| {
        (workflow.is_empty() || j.workflow == workflow) && j.started_at.is_none_or(|t| t >= since)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + minutes * 60, 0).unwrap_or_default()
    }

    fn job(sha: &str, name: &str, run_id: u64, attempt: u64, conclusion: &str) -> JobResult {
        JobResult {
            sha: sha.into(),
            workflow: "CI".into(),
            name: name.into(),
            run_id,
            run_attempt: attempt,
            event: "push".into(),
            head_branch: "main".into(),
            status: "completed".into(),
            conclusion: Some(conclusion.into()),
            started_at: Some(at(i64::try_from(run_id * 10 + attempt).unwrap_or_default())),
            completed_at: None,
            rule: None,
            fingerprint: None,
            id: None,
            url: None,
        }
    }

    fn names(found: &[FlakyJob]) -> Vec<(&str, &str)> {
        found
            .iter()
            .map(|f| (f.sha.as_str(), f.name.as_str()))
            .collect()
    }

    #[test]
    fn a_failure_then_a_pass_on_one_commit_is_flaky() {
        let jobs = [
            job("a", "test", 1, 1, "failure"),
            job("a", "test", 1, 2, "success"),
            // Passed first, failed on the re-run: a failure, not a flake.
            job("a", "lint", 1, 1, "success"),
            job("a", "lint", 1, 2, "failure"),
            // Failed on one commit, passed on another: the code changed.
            job("b", "build", 2, 1, "failure"),
            job("c", "build", 3, 1, "success"),
            // Timed out, then passed in a newer run (a restart).
            job("d", "gpu", 4, 1, "timed_out"),
            job("d", "gpu", 5, 1, "success"),
        ];
        let found = failed_then_passed(&jobs);
        assert_eq!(names(&found), [("a", "test"), ("d", "gpu")]);
        assert_eq!(found[0].workflow, "CI");
    }

    #[test]
    fn attempts_that_say_nothing_are_not_flakes() {
        let mut running = job("a", "test", 1, 2, "success");
        running.status = "in_progress".into();
        let jobs = [
            job("a", "test", 1, 1, "failure"),
            running,
            job("a", "test", 1, 3, "cancelled"),
            job("b", "test", 2, 1, "cancelled"),
            job("b", "test", 2, 2, "success"),
        ];
        assert!(failed_then_passed(&jobs).is_empty());
    }

    #[test]
    fn one_job_is_listed_once_and_other_workflows_are_apart() {
        let mut other = job("a", "test", 9, 2, "success");
        other.workflow = "nightly".into();
        let jobs = [
            job("a", "test", 1, 1, "failure"),
            job("a", "test", 1, 2, "success"),
            job("a", "test", 1, 3, "failure"),
            job("a", "test", 1, 4, "success"),
            other,
        ];
        assert_eq!(names(&failed_then_passed(&jobs)), [("a", "test")]);
    }

    #[test]
    fn a_snapshot_answers_for_a_workflow_and_a_window() {
        let mut nightly = [
            job("a", "test", 1, 1, "failure"),
            job("a", "test", 1, 2, "success"),
        ];
        for j in &mut nightly {
            j.workflow = "nightly".into();
        }
        let snapshot = Snapshot {
            repo: "o/r".into(),
            now: at(1000),
            commits: Vec::new(),
            jobs: [
                job("a", "test", 1, 1, "failure"),
                job("a", "test", 1, 2, "success"),
                job("b", "old", 0, 1, "failure"),
                job("b", "old", 0, 2, "success"),
            ]
            .into_iter()
            .chain(nightly)
            .collect(),
            restart_requests: Vec::new(),
            workflow_files: BTreeMap::new(),
        };
        assert_eq!(names(&in_snapshot(&snapshot, "CI", at(5))), [("a", "test")]);
        assert_eq!(
            names(&in_snapshot(&snapshot, "CI", at(0))),
            [("a", "test"), ("b", "old")]
        );
        assert_eq!(in_snapshot(&snapshot, "", at(5)).len(), 2);
        assert!(in_snapshot(&snapshot, "CI", at(100)).is_empty());
    }
}
