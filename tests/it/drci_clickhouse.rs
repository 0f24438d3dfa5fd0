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

/// The Dr. CI handler itself, run on a `workflow_run` against the fake
/// GitHub with its store on the test ClickHouse: the head's analyses, the
/// merge base's jobs and other pull requests' failures come from the
/// tables, and the comment classifies by them.
mod end_to_end {
    use chrono::{Duration, Utc};
    use ci_medic::store::JobRow;

    use crate::drci_flow::{check_on, on_run, pr_run, test_log, the_comment};
    use crate::support::clickhouse::{self as test_clickhouse, drop_database};
    use crate::support::fake_github::{DEFAULT_BRANCH, FakeGithub, Host, JobBuilder, PullBuilder};

    use crate::support::stored_job::{BROKEN, FLAKY, Stored, row};

    #[tokio::test]
    async fn drci_handler_on_clickhouse_classifies_from_the_tables_and_downloads_only_unanalysed_logs()
     {
        let url = test_clickhouse::url();
        let db = test_clickhouse::database("drci_flow");
        let store = test_clickhouse::connect(&url, &db).await;
        store.migrate().await.expect("migrate");

        let fake = FakeGithub::start().await;
        let user = std::env::var("CLICKHOUSE_USER").unwrap_or_else(|_| "default".into());
        let config = format!(
            "analyze:\n  enabled: false\nretry:\n  enabled: false\ndrci: {{}}\n\
             clickhouse:\n  url: {url}\n  user: {user}\n  database: {db}\n"
        );
        let merge_base = fake.commit_files(
            DEFAULT_BRANCH,
            &[(".github/ci-medic.yml", config.as_str())],
            "Configure ci-medic",
        );
        let head = fake.commit_files("feature", &[("src/lib.rs", "fn f() {}\n")], "Add f");
        let pr = fake.add_pull(PullBuilder::new("feature", "Add f").user("alice"));
        // Another author's open pull request, whose failure went away on a
        // re-run of its head.
        let other = fake.commit_files("other", &[("src/net.rs", "fn g() {}\n")], "Add g");
        fake.add_pull(PullBuilder::new("other", "Add g").user("bob"));
        fake.commit_files(DEFAULT_BRANCH, &[("NEWS.md", "news\n")], "News");

        let run = fake.add_run(
            pr_run(&head, pr)
                .job(JobBuilder::failed("build").log(test_log(1)))
                .job(JobBuilder::failed("test").log(test_log(2)))
                .job(JobBuilder::failed("docs").log(test_log(3))),
        );
        let [build_id, test_id, _docs_id] = run.jobs[..] else {
            panic!("three jobs: {run:?}");
        };
        let now = Utc::now();
        let h = |hours: i64| now - Duration::hours(hours);
        let rows = [
            // The head: the analysis of `build` and `test` is stored; that
            // of `docs` is not (ingested before its log was read).
            Stored {
                id: build_id,
                attempt: 1,
                event: "pull_request",
                branch: "feature",
                sha: &head,
                name: "build",
                conclusion: "failure",
                cause: Some(BROKEN),
                at: h(1),
            },
            Stored {
                id: test_id,
                attempt: 1,
                event: "pull_request",
                branch: "feature",
                sha: &head,
                name: "test",
                conclusion: "failure",
                cause: Some(FLAKY),
                at: h(1),
            },
            // The merge base: `build` failed the same way, the rest passed.
            Stored {
                id: 900_001,
                attempt: 1,
                event: "push",
                branch: DEFAULT_BRANCH,
                sha: &merge_base,
                name: "build",
                conclusion: "failure",
                cause: Some(BROKEN),
                at: h(20),
            },
            Stored {
                id: 900_002,
                attempt: 1,
                event: "push",
                branch: DEFAULT_BRANCH,
                sha: &merge_base,
                name: "test",
                conclusion: "success",
                cause: None,
                at: h(20),
            },
            Stored {
                id: 900_003,
                attempt: 1,
                event: "push",
                branch: DEFAULT_BRANCH,
                sha: &merge_base,
                name: "docs",
                conclusion: "success",
                cause: None,
                at: h(20),
            },
            // Bob's pull request: `test` failed with the same cause, then
            // passed on a re-run of that commit.
            Stored {
                id: 900_010,
                attempt: 1,
                event: "pull_request",
                branch: "other",
                sha: &other,
                name: "test",
                conclusion: "failure",
                cause: Some(FLAKY),
                at: h(10),
            },
            Stored {
                id: 900_011,
                attempt: 2,
                event: "pull_request",
                branch: "other",
                sha: &other,
                name: "test",
                conclusion: "success",
                cause: None,
                at: h(9),
            },
        ];
        let rows: Vec<JobRow> = rows.into_iter().map(row).collect();
        store.insert_jobs(&rows).await.expect("insert");

        let before = fake.requests().len();
        let out = on_run(&fake, run.id).await;
        let calls: Vec<String> = fake.requests()[before..]
            .iter()
            .filter(|r| r.host == Host::Api)
            .map(|r| r.line())
            .collect();

        let body = the_comment(&fake, pr);
        assert!(
            body.contains("## ❌ 1 New Failure, 0 Pending, 2 Unrelated Failures"),
            "{body}"
        );
        let section = |title: &str| -> String {
            let at = body
                .find(title)
                .unwrap_or_else(|| panic!("no {title} section:\n{body}"));
            let rest = &body[at..];
            rest[..rest.find("</details>").unwrap_or(rest.len())].to_string()
        };
        let broken = section("BROKEN TRUNK:");
        assert!(broken.contains("`CI / build`"), "{broken}");
        assert!(broken.contains("linker"), "{broken}");
        let flaky = section("FLAKY:");
        assert!(flaky.contains("`CI / test`"), "{flaky}");
        assert!(flaky.contains("test_fetch"), "{flaky}");
        let new = section("NEW FAILURES");
        assert!(new.contains("`CI / docs`"), "{new}");
        assert!(
            !new.contains("`CI / build`") && !new.contains("`CI / test`"),
            "{new}"
        );
        assert_eq!(
            check_on(&fake, &head).conclusion.as_deref(),
            Some("failure")
        );

        // Logs: only `docs`, whose analysis the store lacks.
        let logs: Vec<&String> = calls.iter().filter(|c| c.contains("/logs")).collect();
        assert_eq!(logs.len(), 1, "{calls:#?}");
        // ClickHouse: the head and the merge base in one query, the recent
        // failures in one, retry's flaky memory in one.
        assert!(
            out.summary.contains("ClickHouse read in 3 queries")
                && out
                    .summary
                    .contains("the analyses of 2 failed jobs of the head taken from it"),
            "{}",
            out.summary
        );
        // API: the config (2); the head's pull requests, our comment, the
        // runs at the head, R=1 job list, the merge base, F=1 log (`docs`),
        // the head's check runs, the merge base's check runs, the unstable
        // issues, the open pull requests (Bob's branch is among the
        // failures), our check run (11); the comment (4) and the check run
        // (2). Without the store: the merge base's runs and jobs, two more
        // logs, and the recent runs of the default branch and of pull
        // requests on top.
        assert_eq!(calls.len(), 2 + 11 + 4 + 2, "{calls:#?}");
        fake.assert_clean();
        drop_database(&store).await;
    }
}
