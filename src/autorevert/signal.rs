//! Signals: one column per workflow job, with shard and runner details
//! normalised away (`linux / test (default, 1, 3)` is `linux / test
//! (default)`), and its results on each commit grouped into events.
//!
//! An event is one run attempt of the job on one commit: every shard of that
//! attempt together. It failed if any shard failed (with the fingerprints of
//! the failed shards), passed if every shard that said something passed, and
//! is pending otherwise. A re-run attempt and a restart run are events of
//! their own, so "failed and passed on one commit" can be seen.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::history::snapshot::{Outcome, Snapshot};

/// A fingerprint, as an index into [`Signals::fingerprints`].
pub type FpId = u32;

/// The fingerprint of failures the analyser did not explain.
pub const UNCLASSIFIED: FpId = 0;

/// One run attempt of one job on one commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Index into the snapshot's commits.
    pub commit: usize,
    pub run_id: u64,
    pub run_attempt: u64,
    /// A run dispatched by autorevert on `trunk/{sha}`.
    pub restart: bool,
    pub outcome: Outcome,
    /// Fingerprints of the failed jobs, sorted, for a failure.
    pub fingerprints: Vec<FpId>,
    /// When the event started (its failed jobs, for a failure).
    pub started_at: Option<DateTime<Utc>>,
    /// Its jobs, as indexes into the snapshot's jobs; failed ones first.
    pub jobs: Vec<usize>,
}

impl Event {
    /// A failure with this fingerprint.
    pub fn fails_with(&self, fp: FpId) -> bool {
        self.outcome == Outcome::Failure && self.fingerprints.binary_search(&fp).is_ok()
    }
}

/// One signal column: a workflow's job, every commit's events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub workflow: String,
    /// The job name, normalised.
    pub job: String,
    /// Sorted by commit (newest first), then start time.
    pub events: Vec<Event>,
}

impl Column {
    /// The events on one commit.
    pub fn events_on(&self, commit: usize) -> &[Event] {
        let start = self.events.partition_point(|e| e.commit < commit);
        let end = self.events.partition_point(|e| e.commit <= commit);
        &self.events[start..end]
    }
}

/// Every column of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signals {
    pub columns: Vec<Column>,
    /// Fingerprint texts; `[UNCLASSIFIED]` is `None`.
    pub fingerprints: Vec<Option<String>>,
}

impl Signals {
    pub fn fingerprint(&self, fp: FpId) -> Option<&str> {
        self.fingerprints
            .get(fp as usize)
            .and_then(|f| f.as_deref())
    }

    /// The id of a fingerprint text, if any job failed with it.
    pub fn fp_id(&self, fingerprint: Option<&str>) -> Option<FpId> {
        self.fingerprints
            .iter()
            .position(|f| f.as_deref() == fingerprint)
            .and_then(|i| FpId::try_from(i).ok())
    }
}

/// The job name without shard and runner details: in each parenthesised
/// group, the items from the first plain number on are dropped (and the
/// group when nothing is left).
pub fn base_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(open) = rest.find('(') {
        let after = &rest[open + 1..];
        let Some(close) = after.find(')') else {
            break;
        };
        let inner = &after[..close];
        out.push_str(&rest[..open]);
        if inner.contains('(') {
            // Nested: not a matrix group we understand; keep it.
            out.push('(');
            out.push_str(inner);
            out.push(')');
        } else {
            let items: Vec<&str> = inner.split(',').map(str::trim).collect();
            let cut = items
                .iter()
                .position(|i| !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()));
            match cut {
                None => {
                    out.push('(');
                    out.push_str(inner);
                    out.push(')');
                }
                Some(0) => {
                    let trimmed = out.trim_end().len();
                    out.truncate(trimmed);
                }
                Some(k) => {
                    out.push('(');
                    out.push_str(&items[..k].join(", "));
                    out.push(')');
                }
            }
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Group the jobs of `snapshot` on its commits into signal columns, keeping
/// the workflows `filter` selects (all when empty).
pub fn build(snapshot: &Snapshot, filter: &[String]) -> Signals {
    let commit_of = snapshot.commit_index();
    let mut selected: HashMap<&str, bool> = HashMap::new();
    let mut column_of_name: HashMap<(&str, &str), usize> = HashMap::new();
    let mut column_of_key: HashMap<(String, String), usize> = HashMap::new();
    let mut columns: Vec<Column> = Vec::new();
    let mut fp_of: HashMap<&str, FpId> = HashMap::new();
    let mut fingerprints: Vec<Option<String>> = vec![None];

    // (column, commit, run, attempt, job)
    let mut entries: Vec<(usize, usize, u64, u64, usize)> = Vec::with_capacity(snapshot.jobs.len());
    for (j, job) in snapshot.jobs.iter().enumerate() {
        let Some(&commit) = commit_of.get(job.sha.as_str()) else {
            continue;
        };
        let wanted = *selected
            .entry(job.workflow.as_str())
            .or_insert_with(|| snapshot.workflow_selected(filter, &job.workflow));
        if !wanted {
            continue;
        }
        let column = match column_of_name.get(&(job.workflow.as_str(), job.name.as_str())) {
            Some(&c) => c,
            None => {
                let key = (job.workflow.clone(), base_name(&job.name));
                let c = *column_of_key.entry(key.clone()).or_insert_with(|| {
                    columns.push(Column {
                        workflow: key.0,
                        job: key.1,
                        events: Vec::new(),
                    });
                    columns.len() - 1
                });
                column_of_name.insert((job.workflow.as_str(), job.name.as_str()), c);
                c
            }
        };
        entries.push((column, commit, job.run_id, job.run_attempt, j));
    }
    entries.sort_unstable();

    // Buffers reused across events: two million jobs make a lot of events.
    let mut failed: Vec<usize> = Vec::new();
    let mut others: Vec<usize> = Vec::new();
    let mut fps: Vec<FpId> = Vec::new();
    let mut i = 0;
    while i < entries.len() {
        let (column, commit, run_id, run_attempt, _) = entries[i];
        let mut end = i;
        while end < entries.len()
            && entries[end].0 == column
            && entries[end].1 == commit
            && entries[end].2 == run_id
            && entries[end].3 == run_attempt
        {
            end += 1;
        }
        let group = &entries[i..end];
        i = end;

        failed.clear();
        others.clear();
        fps.clear();
        let (mut any_pending, mut any_success, mut restart) = (false, false, false);
        for &(_, _, _, _, j) in group {
            let job = &snapshot.jobs[j];
            restart |= job.is_restart();
            match job.outcome() {
                Some(Outcome::Failure) => {
                    let fp = match job.fingerprint.as_deref().filter(|f| !f.is_empty()) {
                        None => UNCLASSIFIED,
                        Some(f) => *fp_of.entry(f).or_insert_with(|| {
                            fingerprints.push(Some(f.to_string()));
                            FpId::try_from(fingerprints.len() - 1).unwrap_or(UNCLASSIFIED)
                        }),
                    };
                    fps.push(fp);
                    failed.push(j);
                }
                Some(Outcome::Pending) => {
                    any_pending = true;
                    others.push(j);
                }
                Some(Outcome::Success) => {
                    any_success = true;
                    others.push(j);
                }
                None => others.push(j),
            }
        }
        let outcome = if !failed.is_empty() {
            Outcome::Failure
        } else if any_pending {
            Outcome::Pending
        } else if any_success {
            Outcome::Success
        } else {
            continue;
        };
        fps.sort_unstable();
        fps.dedup();
        let timed: &[usize] = if failed.is_empty() { &others } else { &failed };
        let started_at = timed
            .iter()
            .filter_map(|&j| snapshot.jobs[j].started_at)
            .min();
        let mut jobs = Vec::with_capacity(failed.len() + others.len());
        jobs.extend_from_slice(&failed);
        jobs.extend_from_slice(&others);
        columns[column].events.push(Event {
            commit,
            run_id,
            run_attempt,
            restart,
            outcome,
            fingerprints: fps.clone(),
            started_at,
            jobs,
        });
    }
    for c in &mut columns {
        // Entries were sorted by run; order each commit's events by start.
        c.events.sort_by_key(|e| (e.commit, e.started_at, e.run_id));
    }
    Signals {
        columns,
        fingerprints,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::snapshot::{Commit, JobResult};

    #[test]
    fn shard_and_runner_details_are_dropped() {
        for (name, base) in [
            ("linux / test (default, 1, 3)", "linux / test (default)"),
            (
                "linux-jammy / test (default, 2, 5, linux.2xlarge)",
                "linux-jammy / test (default)",
            ),
            ("test (1, 3)", "test"),
            ("build (ubuntu-latest, 3.12)", "build (ubuntu-latest, 3.12)"),
            ("lint", "lint"),
            (
                "win / test (default, 1, 2) / shard",
                "win / test (default) / shard",
            ),
            ("odd (", "odd ("),
            ("odd )( x", "odd )( x"),
            ("nested (a (b), 1)", "nested (a (b), 1)"),
            ("", ""),
        ] {
            assert_eq!(base_name(name), base, "{name}");
        }
    }

    fn job(sha: &str, name: &str, run: u64, attempt: u64, conclusion: Option<&str>) -> JobResult {
        JobResult {
            sha: sha.into(),
            workflow: "trunk".into(),
            name: name.into(),
            run_id: run,
            run_attempt: attempt,
            event: "push".into(),
            head_branch: "main".into(),
            status: if conclusion.is_some() {
                "completed"
            } else {
                "in_progress"
            }
            .into(),
            conclusion: conclusion.map(Into::into),
            started_at: None,
            completed_at: None,
            rule: None,
            fingerprint: (conclusion == Some("failure")).then(|| "fp1".to_string()),
            id: None,
            url: None,
        }
    }

    #[test]
    fn shards_of_one_attempt_are_one_event() {
        let now = Utc::now();
        let snapshot = Snapshot {
            repo: "o/r".into(),
            now,
            commits: vec![Commit {
                sha: "a".into(),
                time: now,
                message: "A".into(),
            }],
            jobs: vec![
                job("a", "test (default, 1, 2)", 1, 1, Some("failure")),
                job("a", "test (default, 2, 2)", 1, 1, Some("success")),
                job("a", "test (default, 1, 2)", 1, 2, Some("success")),
                job("a", "test (default, 2, 2)", 1, 2, Some("success")),
                job("a", "build", 1, 1, None),
                job("a", "docs", 1, 1, Some("cancelled")),
                job("zz", "build", 1, 1, Some("failure")),
            ],
            restart_requests: Vec::new(),
            workflow_files: Default::default(),
        };
        let s = build(&snapshot, &[]);
        let names: Vec<&str> = s.columns.iter().map(|c| c.job.as_str()).collect();
        assert_eq!(names, ["test (default)", "build", "docs"]);
        let test = &s.columns[0];
        assert_eq!(test.events.len(), 2);
        let fp = s.fp_id(Some("fp1")).expect("fp");
        assert!(test.events[0].fails_with(fp) || test.events[1].fails_with(fp));
        assert_eq!(test.events_on(0).len(), 2);
        assert!(test.events_on(1).is_empty());
        assert_eq!(s.columns[1].events[0].outcome, Outcome::Pending);
        assert!(s.columns[2].events.is_empty());
        assert!(build(&snapshot, &["other".into()]).columns.is_empty());
    }
}
