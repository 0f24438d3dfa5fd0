//! Dr. CI on ClickHouse: the merge base's jobs and the recent failures
//! elsewhere and retry's flaky memory come from the tables (three queries), and the verdicts follow
//! the fingerprints stored there.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use ci_medic::drci::classify::{self, Normaliser};
use ci_medic::drci::clickhouse::{
    MAX_QUERIES, PullAuthor, Reader, RecentScope, pull_branches, recent_of,
};
use ci_medic::drci::snapshot::{DEFAULT_SHARD_PATTERN, Job, JobFailure as Found, Place};
use ci_medic::drci::{Class, Snapshot};
use ci_medic::store::{JobFailure, JobRow};

use crate::support::clickhouse::{self as test_clickhouse, drop_database};

const REPO: &str = "o/r";
const TEST: &str = "pull / test (default, 1, 2)";

struct Row<'a> {
    id: i64,
    attempt: i64,
    event: &'a str,
    branch: &'a str,
    sha: &'a str,
    name: &'a str,
    conclusion: &'a str,
    fingerprint: &'a str,
    rule: &'a str,
    at: DateTime<Utc>,
}

fn row(r: Row<'_>) -> JobRow {
    let failure = if r.fingerprint.is_empty() {
        JobFailure::default()
    } else {
        JobFailure {
            rule: r.rule.into(),
            category: "test".into(),
            line: format!(
                "FAILED test_ops.py::test_{} - AssertionError",
                r.fingerprint
            ),
            line_num: 10,
            captures: Vec::new(),
            fingerprint: r.fingerprint.into(),
        }
    };
    JobRow {
        id: r.id,
        run_id: 1000 + r.id / 10,
        run_attempt: r.attempt,
        repository_full_name: REPO.into(),
        workflow_name: "pull".into(),
        workflow_event: r.event.into(),
        head_sha: r.sha.into(),
        head_branch: r.branch.into(),
        name: r.name.into(),
        labels: Vec::new(),
        runner_name: String::new(),
        status: "completed".into(),
        conclusion: r.conclusion.into(),
        created_at: r.at,
        started_at: Some(r.at),
        completed_at: Some(r.at + Duration::minutes(10)),
        steps: Vec::new(),
        failure,
        html_url: format!("https://github.com/{REPO}/actions/runs/1/job/{}", r.id),
        updated_at: r.at + Duration::minutes(10),
    }
}

fn head_job(name: &str, fingerprint: &str) -> Job {
    Job {
        name: name.into(),
        id: Some(1),
        status: Some("completed".into()),
        conclusion: Some("failure".into()),
        attempt: 1,
        failure: Some(Found {
            category: ci_medic::analyze::Category::Test,
            rule: "pytest-failure".into(),
            text: format!("FAILED test_ops.py::test_{fingerprint} - AssertionError"),
            fingerprint: fingerprint.into(),
        }),
        ..Job::default()
    }
}

#[tokio::test]
async fn drci_clickhouse_flaky_from_stored_failures_in_three_queries() {
    let url = test_clickhouse::url();
    let store = test_clickhouse::connect(&url, &test_clickhouse::database("drci")).await;
    store.migrate().await.expect("migrate");
    let now = Utc::now();
    let h = |hours: i64| now - Duration::hours(hours);
    let rows = [
        // The merge base: the test passed, lint failed generically.
        Row {
            id: 10,
            attempt: 1,
            event: "push",
            branch: "main",
            sha: "base",
            name: "test (default, 1, 2)",
            conclusion: "success",
            fingerprint: "",
            rule: "",
            at: h(30),
        },
        // Trunk: fp-a failed, then passed on a re-run of the same commit.
        Row {
            id: 20,
            attempt: 1,
            event: "push",
            branch: "main",
            sha: "t1",
            name: "test (default, 2, 2)",
            conclusion: "failure",
            fingerprint: "fp-a",
            rule: "pytest-failure",
            at: h(20),
        },
        Row {
            id: 21,
            attempt: 2,
            event: "push",
            branch: "main",
            sha: "t1",
            name: "test (default, 2, 2)",
            conclusion: "success",
            fingerprint: "",
            rule: "",
            at: h(19),
        },
        // Trunk: a generic failure that passed on a re-run is no evidence.
        Row {
            id: 30,
            attempt: 1,
            event: "push",
            branch: "main",
            sha: "t2",
            name: "lint",
            conclusion: "failure",
            fingerprint: "fp-g",
            rule: "generic-wrapper",
            at: h(18),
        },
        Row {
            id: 31,
            attempt: 2,
            event: "push",
            branch: "main",
            sha: "t2",
            name: "lint",
            conclusion: "success",
            fingerprint: "",
            rule: "",
            at: h(17),
        },
        // Trunk: fp-s failed and never passed again: no evidence.
        Row {
            id: 40,
            attempt: 1,
            event: "push",
            branch: "main",
            sha: "t3",
            name: "test (default, 1, 2)",
            conclusion: "failure",
            fingerprint: "fp-s",
            rule: "pytest-failure",
            at: h(16),
        },
        // Another author's pull request: fp-b failed, a later commit passed.
        Row {
            id: 50,
            attempt: 1,
            event: "pull_request",
            branch: "feature",
            sha: "p1",
            name: "build",
            conclusion: "failure",
            fingerprint: "fp-b",
            rule: "pytest-failure",
            at: h(10),
        },
        Row {
            id: 60,
            attempt: 1,
            event: "pull_request",
            branch: "feature",
            sha: "p2",
            name: "build",
            conclusion: "success",
            fingerprint: "",
            rule: "",
            at: h(9),
        },
        // This pull request's own branch is no evidence.
        Row {
            id: 70,
            attempt: 1,
            event: "pull_request",
            branch: "mine",
            sha: "m1",
            name: "test (default, 1, 2)",
            conclusion: "failure",
            fingerprint: "fp-z",
            rule: "pytest-failure",
            at: h(8),
        },
        Row {
            id: 71,
            attempt: 2,
            event: "pull_request",
            branch: "mine",
            sha: "m1",
            name: "test (default, 1, 2)",
            conclusion: "success",
            fingerprint: "",
            rule: "",
            at: h(7),
        },
    ];
    let rows: Vec<JobRow> = rows.into_iter().map(row).collect();
    store.insert_jobs(&rows).await.expect("insert");

    let norm = Normaliser::new(DEFAULT_SHARD_PATTERN).expect("pattern");
    let reader = Reader::new(&store, REPO);
    let base_jobs = reader.jobs_at("base").await.expect("base jobs");
    let wanted: BTreeSet<String> = [TEST, "pull / build", "pull / lint"]
        .iter()
        .map(|n| norm.normalise(n))
        .collect();
    let workflows = vec!["pull".to_string()];
    let mut scope = RecentScope {
        workflows: &workflows,
        wanted: &wanted,
        default_branch: "main",
        own_branch: "mine",
        since: now - Duration::days(3),
        authors: &BTreeMap::new(),
    };
    let found = reader.recent_rows(&scope).await.expect("recent");
    let memory = reader
        .flaky_memory(
            &BTreeSet::from(["pull".to_string()]),
            now - Duration::days(3),
        )
        .await
        .expect("flaky memory");
    assert_eq!(reader.queries(), 3);
    assert!(reader.queries() <= MAX_QUERIES);
    assert_eq!(
        pull_branches(&found, "mine"),
        BTreeSet::from(["feature".to_string()])
    );
    let pull = |head: &str| PullAuthor {
        number: 7,
        author: "alice".into(),
        head_sha: head.into(),
    };
    // A branch of that name whose pull request is at another head now (a
    // fork may name its branch like anyone's): no author, no evidence.
    let elsewhere = BTreeMap::from([("feature".to_string(), pull("other"))]);
    scope.authors = &elsewhere;
    let unknown = recent_of(&found, &norm, &scope);
    assert!(
        unknown
            .iter()
            .filter(|r| r.place == Place::Pr)
            .all(|r| r.author.is_none()),
        "{unknown:?}"
    );
    let authors = BTreeMap::from([("feature".to_string(), pull("p2"))]);
    scope.authors = &authors;
    let recent = recent_of(&found, &norm, &scope);
    // Failed and passed on one commit: the re-runs on t1, t2 and m1.
    assert!(memory.contains(&"pull / lint".to_string()), "{memory:?}");
    let mut seen: Vec<(&str, Place)> = recent
        .iter()
        .map(|r| (r.fingerprint.as_str(), r.place))
        .collect();
    seen.sort_by_key(|(f, _)| *f);
    assert_eq!(seen, [("fp-a", Place::Trunk), ("fp-b", Place::Pr)]);

    let snap = Snapshot {
        pr: Some(9),
        author: Some("bob".into()),
        head_sha: "head".into(),
        merge_base: "base".into(),
        as_of: Some(now),
        jobs: vec![
            head_job(TEST, "fp-a"),
            head_job("pull / build", "fp-b"),
            head_job("pull / test (default, 2, 2)", "fp-new"),
        ],
        base_jobs,
        recent_failures: recent,
        ..Snapshot::default()
    };
    let verdicts = classify::classify(&snap).expect("classify");
    let class = |name: &str| {
        verdicts
            .iter()
            .find(|v| v.name == name)
            .map(|v| v.class)
            .unwrap_or_else(|| panic!("no verdict for {name}: {verdicts:?}"))
    };
    assert_eq!(class(TEST), Class::Flaky, "{verdicts:?}");
    assert_eq!(class("pull / build"), Class::Flaky, "{verdicts:?}");
    assert_eq!(
        class("pull / test (default, 2, 2)"),
        Class::New,
        "{verdicts:?}"
    );
    drop_database(&store).await;
}

/// The bench's synthetic history at a tiny scale: one update reads it in
/// at most three queries and finds evidence on the default branch.
#[tokio::test]
async fn drci_clickhouse_bench_history_at_tiny_scale() {
    let url = test_clickhouse::url();
    let store = test_clickhouse::connect(&url, &test_clickhouse::database("drci_bench")).await;
    store.migrate().await.expect("migrate");
    let repo = "bench/drci";
    let now = Utc::now();
    let rows: u64 = 4000;
    let commits = rows / 200;
    let span_ms: i64 = 2 * 24 * 3600 * 1000;
    store
        .client()
        .query(include_str!("../../benches/drci_rows.sql"))
        .param("repo", repo)
        .param("jobs", 200u64)
        .param("start", now.timestamp_millis() - span_ms)
        .param("step", span_ms / i64::try_from(commits).expect("small"))
        .param("rows", rows)
        .execute()
        .await
        .expect("generate");
    let base: String = test_clickhouse::fetch_one(
        &store,
        "SELECT head_sha FROM workflow_job WHERE workflow_event = 'push' \
         ORDER BY created_at DESC LIMIT 1",
    )
    .await;
    let norm = Normaliser::new(DEFAULT_SHARD_PATTERN).expect("pattern");
    let wanted: BTreeSet<String> = ["pull / job-0 / test (default, 1, 4)"]
        .iter()
        .map(|n| norm.normalise(n))
        .collect();
    let workflows = vec!["pull".to_string()];
    let scope = RecentScope {
        workflows: &workflows,
        wanted: &wanted,
        default_branch: "main",
        own_branch: "pr-0",
        since: now - Duration::days(3),
        authors: &BTreeMap::new(),
    };
    let reader = Reader::new(&store, repo);
    let base_jobs = reader.jobs_at(&base).await.expect("base jobs");
    let found = reader.recent_rows(&scope).await.expect("recent");
    reader
        .flaky_memory(&BTreeSet::from(["pull".to_string()]), scope.since)
        .await
        .expect("memory");
    let recent = recent_of(&found, &norm, &scope);
    assert_eq!(reader.queries(), MAX_QUERIES);
    assert_eq!(base_jobs.len(), 200);
    assert!(
        recent.iter().any(|r| r.place == Place::Trunk),
        "{recent:?} from {found:?}"
    );
    drop_database(&store).await;
}
