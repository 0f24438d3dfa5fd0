//! Job rows as `ci-medic ingest` stores them, for tests that seed the
//! Dr. CI tables directly.

use chrono::{DateTime, Duration, Utc};
use ci_medic::store::{JobFailure, JobRow};

use crate::support::fake_github::{OWNER, REPO};

/// One stored attempt of a `CI` job, as `ci-medic ingest` writes it: a
/// failed one carries the analysis (cause line and fingerprint).
pub struct Stored<'a> {
    pub id: u64,
    pub attempt: i64,
    pub event: &'a str,
    pub branch: &'a str,
    pub sha: &'a str,
    pub name: &'a str,
    pub conclusion: &'a str,
    pub cause: Option<(&'a str, &'a str)>,
    pub at: DateTime<Utc>,
}

/// The stored row of `s`.
pub fn row(s: Stored<'_>) -> JobRow {
    let id = i64::try_from(s.id).expect("job id");
    JobRow {
        id,
        run_id: 5000 + id,
        run_attempt: s.attempt,
        repository_full_name: format!("{OWNER}/{REPO}"),
        workflow_name: "CI".into(),
        workflow_event: s.event.into(),
        head_sha: s.sha.into(),
        head_branch: s.branch.into(),
        name: s.name.into(),
        labels: Vec::new(),
        runner_name: String::new(),
        status: "completed".into(),
        conclusion: s.conclusion.into(),
        created_at: s.at,
        started_at: Some(s.at),
        completed_at: Some(s.at + Duration::minutes(5)),
        steps: Vec::new(),
        failure: s
            .cause
            .map(|(line, fingerprint)| JobFailure {
                rule: "pytest-failure".into(),
                category: "test".into(),
                line: line.into(),
                line_num: 12,
                captures: Vec::new(),
                fingerprint: fingerprint.into(),
            })
            .unwrap_or_default(),
        html_url: format!("https://github.com/{OWNER}/{REPO}/actions/runs/1/job/{id}"),
        updated_at: s.at + Duration::minutes(5),
    }
}

/// A cause that fails on the merge base too.
pub const BROKEN: (&str, &str) = ("error: linker `cc` not found", "fp-broken-trunk");
/// A cause that failed elsewhere and passed on a re-run.
pub const FLAKY: (&str, &str) = (
    "FAILED tests/test_net.py::test_fetch - ConnectionResetError",
    "fp-flaky-elsewhere",
);
