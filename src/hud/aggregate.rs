//! The index's numbers from job rows, one row at a time: jobs and failures
//! per day, fingerprint counts and jobs that failed then passed on one
//! commit. The API source feeds it a bounded window; ClickHouse computes
//! the same numbers in its queries instead.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};

use super::model::{DayCount, FingerprintCount, FlakyJob, Outcome};
use crate::event::{Conclusion, Status};

/// Fingerprints kept (the most frequent).
pub const MAX_FINGERPRINTS: usize = 50;
/// Flaky jobs kept (the flakiest).
pub const MAX_FLAKY: usize = 50;

/// One job attempt, as the aggregation reads it.
#[derive(Debug, Clone, Default)]
pub struct JobRow<'a> {
    pub workflow: &'a str,
    pub name: &'a str,
    pub sha: &'a str,
    pub status: Option<&'a Status>,
    pub conclusion: Option<&'a Conclusion>,
    pub completed_at: Option<DateTime<Utc>>,
    pub url: Option<&'a str>,
    pub fingerprint: Option<&'a str>,
    pub category: Option<&'a str>,
    pub rule: Option<&'a str>,
    pub line: Option<&'a str>,
}

#[derive(Debug, Default)]
struct Seen {
    failed: bool,
    passed: bool,
    url: Option<String>,
}

/// The running totals.
#[derive(Debug, Default)]
pub struct Aggregate {
    daily: BTreeMap<NaiveDate, (u64, u64)>,
    fingerprints: HashMap<String, FingerprintCount>,
    commits: HashMap<(String, String, String), Seen>,
}

impl Aggregate {
    pub fn add(&mut self, row: &JobRow) {
        let outcome = Outcome::of(row.status, row.conclusion);
        if let Some(done) = row.completed_at {
            let day = self.daily.entry(done.date_naive()).or_default();
            day.0 += 1;
            if outcome == Outcome::Failure {
                day.1 += 1;
            }
        }
        if outcome == Outcome::Failure
            && let Some(fp) = row.fingerprint.filter(|f| !f.is_empty())
        {
            let e = self
                .fingerprints
                .entry(fp.to_string())
                .or_insert_with(|| FingerprintCount {
                    fingerprint: fp.to_string(),
                    category: row.category.unwrap_or_default().to_string(),
                    rule: row.rule.map(str::to_string),
                    line: row.line.map(str::to_string),
                    count: 0,
                    last_seen: None,
                    example_url: row.url.map(str::to_string),
                    issue: None,
                });
            e.count += 1;
            if row.completed_at > e.last_seen {
                e.last_seen = row.completed_at;
                e.example_url = row.url.map(str::to_string);
            }
        }
        if matches!(outcome, Outcome::Success | Outcome::Failure) {
            let seen = self
                .commits
                .entry((row.workflow.into(), row.name.into(), row.sha.into()))
                .or_default();
            seen.failed |= outcome == Outcome::Failure;
            seen.passed |= outcome == Outcome::Success;
            if outcome == Outcome::Failure {
                seen.url = row.url.map(str::to_string);
            }
        }
    }

    pub fn daily(&self) -> Vec<DayCount> {
        self.daily
            .iter()
            .map(|(day, (jobs, failed))| DayCount {
                day: *day,
                jobs: *jobs,
                failed: *failed,
            })
            .collect()
    }

    pub fn fingerprints(&self) -> Vec<FingerprintCount> {
        let mut all: Vec<FingerprintCount> = self.fingerprints.values().cloned().collect();
        all.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.fingerprint.cmp(&b.fingerprint))
        });
        all.truncate(MAX_FINGERPRINTS);
        all
    }

    pub fn flaky(&self) -> Vec<FlakyJob> {
        let mut by_job: BTreeMap<(&str, &str), FlakyJob> = BTreeMap::new();
        for ((workflow, name, _), seen) in &self.commits {
            let e = by_job
                .entry((workflow.as_str(), name.as_str()))
                .or_insert_with(|| FlakyJob {
                    workflow: workflow.clone(),
                    name: name.clone(),
                    flaky: 0,
                    runs: 0,
                    last_url: None,
                });
            e.runs += 1;
            if seen.failed && seen.passed {
                e.flaky += 1;
                if e.last_url.is_none() {
                    e.last_url = seen.url.clone();
                }
            }
        }
        let mut all: Vec<FlakyJob> = by_job.into_values().filter(|f| f.flaky > 0).collect();
        all.sort_by(|a, b| {
            b.flaky
                .cmp(&a.flaky)
                .then_with(|| (&a.workflow, &a.name).cmp(&(&b.workflow, &b.name)))
        });
        all.truncate(MAX_FLAKY);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: u32) -> Option<DateTime<Utc>> {
        Some(
            DateTime::parse_from_rfc3339(&format!("2026-11-0{}T10:00:00Z", 1 + h / 24))
                .unwrap()
                .with_timezone(&Utc),
        )
    }

    #[test]
    fn a_job_that_failed_then_passed_on_one_commit_is_flaky() {
        let mut a = Aggregate::default();
        for (sha, concl, h) in [
            ("a", "failure", 0),
            ("a", "success", 1),
            ("b", "failure", 30),
        ] {
            let conclusion = Conclusion::parse(concl);
            a.add(&JobRow {
                workflow: "ci",
                name: "test",
                sha,
                status: Some(&Status::Completed),
                conclusion: Some(&conclusion),
                completed_at: at(h),
                fingerprint: (concl == "failure").then_some("f1"),
                ..JobRow::default()
            });
        }
        let flaky = a.flaky();
        assert_eq!(flaky.len(), 1);
        assert_eq!((flaky[0].flaky, flaky[0].runs), (1, 2));
        assert_eq!(a.fingerprints()[0].count, 2);
        let daily = a.daily();
        assert_eq!(daily.len(), 2);
        assert_eq!((daily[0].jobs, daily[0].failed), (2, 1));
    }
}
