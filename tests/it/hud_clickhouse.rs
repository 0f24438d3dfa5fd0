//! `hud build --source clickhouse` against the real engine: synthetic
//! history (the bench's generator, at a small scale) goes into ClickHouse,
//! the site is built page by page from the queries, and every page must be
//! the very page the same rows give when rendered from a snapshot (where
//! the Rust code, not SQL, picks the current head, the latest attempts and
//! each backend's figures).

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{DateTime, Utc};
use ci_medic::config::AutorevertConfig;
use ci_medic::crcr::row::CrcrJobRow;
use ci_medic::hud::model::{DownstreamJob, FailureIssue};
use ci_medic::hud::pages::{self, MAX_PAGE_BYTES};
use ci_medic::hud::sources::clickhouse::{self as hud_clickhouse, BuildStats, Params};
use ci_medic::hud::synthetic::{self, Scale};
use ci_medic::store::Store;

use crate::support::clickhouse::{self as test_clickhouse, drop_database};

const REPO: &str = "octo-org/widgets";

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-20T12:00:00Z")
        .expect("time")
        .with_timezone(&Utc)
}

async fn store(test: &str) -> Store {
    let url = test_clickhouse::url();
    let db = test_clickhouse::database(test);
    let store = test_clickhouse::connect(&url, &db).await;
    store.migrate().await.expect("migrate");
    store
}

fn files(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).expect("under").display().to_string();
                out.insert(rel);
            }
        }
    }
    out
}

async fn build(
    store: &Store,
    out: &Path,
    issues: Vec<FailureIssue>,
) -> (ci_medic::hud::HudSnapshot, BuildStats) {
    let autorevert = AutorevertConfig::default();
    let drci = ci_medic::drci::DrciSection::default();
    hud_clickhouse::build(
        store,
        Params {
            repo: REPO,
            branch: "main",
            autorevert: &autorevert,
            since_days: 14,
            now: now(),
            server_url: "https://github.com",
            issues,
            drci: &drci,
            pulls: None,
            unstable: Vec::new(),
        },
        out,
    )
    .await
    .expect("hud build from clickhouse")
}

#[tokio::test]
async fn hud_clickhouse_site_is_the_site_the_same_rows_give_from_a_snapshot() {
    let store = store("hud").await;
    let written = synthetic::generate(&store, REPO, Scale::TINY, now(), 14)
        .await
        .expect("synthetic rows");
    assert_eq!(written.jobs, Scale::TINY.jobs);
    assert_eq!(written.failures, Scale::TINY.failures);

    let dir = tempfile::tempdir().expect("dir");
    // An issue that tracks one of the fingerprints: the index links it.
    let fp0 = format!("{:016x}", 0u64);
    let issue = FailureIssue {
        number: 42,
        title: "<script>alert(1)</script> test failure".into(),
        url: format!("https://github.com/{REPO}/issues/42"),
        category: "test".into(),
        fingerprint: Some(fp0.clone()),
        workflow: Some("trunk".into()),
        opened_at: None,
        occurrences: 3,
    };
    let (snap, stats) = build(&store, dir.path(), vec![issue]).await;

    // The index's numbers are the rows' numbers.
    let jobs: u64 = snap.daily.iter().map(|d| d.jobs).sum();
    let failed: u64 = snap.daily.iter().map(|d| d.failed).sum();
    assert_eq!(jobs, written.jobs as u64);
    assert_eq!(failed, written.failures as u64);
    assert_eq!(snap.fingerprints.len(), Scale::TINY.fingerprints);
    assert_eq!(
        snap.fingerprints.iter().map(|f| f.count).sum::<u64>(),
        written.failures as u64
    );
    let tracked = snap
        .fingerprints
        .iter()
        .find(|f| f.fingerprint == fp0)
        .expect("fingerprint 0");
    assert_eq!(tracked.issue, Some(42));
    assert!(!snap.flaky.is_empty(), "retried failures are flaky");
    assert!(snap.flaky.iter().all(|f| f.flaky > 0 && f.flaky <= f.runs));
    assert_eq!(snap.actions.len(), written.decisions);
    assert!(
        !snap.trunk.is_empty(),
        "the trunk grid of the pushed commits"
    );
    assert_eq!(snap.prs.len(), Scale::TINY.prs);
    assert!(snap.downstream.is_some());

    // A handful of queries per page, as the README says.
    let q = |k: &str| stats.queries.get(k).copied().unwrap_or_default();
    let p = |k: &str| stats.pages.get(k).copied().unwrap_or_default();
    assert_eq!((q("index"), p("index")), (7, 1));
    assert_eq!((q("trunk"), p("trunk")), (4, 1));
    assert_eq!((q("downstream"), p("downstream")), (1, 1));
    // Every backend has more pull requests than one page holds.
    assert_eq!(p("backend"), 2 * Scale::TINY.backends);
    assert_eq!(q("backend"), p("backend"));
    assert_eq!((q("pr"), p("pr")), (Scale::TINY.prs, Scale::TINY.prs));

    // The same rows, rendered the snapshot way, give the same site.
    let rows: Vec<CrcrJobRow> = store
        .client()
        .query(
            "SELECT downstream_repo, level, upstream_repo, pr_number, head_sha, workflow_name,
               job_name, run_id, run_attempt, check_run_id, status, conclusion, started_at,
               completed_at, received_at, queue_time_s, execution_time_s, tests_total,
               tests_passed, tests_failed, tests_skipped, log_url, artifact_url, environment,
               trusted, updated_at
             FROM crcr_workflow_job FINAL",
        )
        .fetch_all()
        .await
        .expect("downstream rows");
    assert_eq!(rows.len(), written.downstream);
    let mut whole = snap.clone();
    whole.downstream = Some(rows.into_iter().map(DownstreamJob::from).collect());
    let expected = pages::render(&whole).expect("render");
    let built = files(dir.path());
    let names: BTreeSet<String> = expected.iter().map(|p| p.path.clone()).collect();
    assert_eq!(built, names);
    assert_eq!(stats.files, names.len());
    for page in &expected {
        let got = std::fs::read_to_string(dir.path().join(&page.path)).expect("page");
        assert!(
            got == page.body,
            "{} differs from the snapshot's rendering",
            page.path
        );
        assert!(
            got.len() < MAX_PAGE_BYTES,
            "{} is {} bytes",
            page.path,
            got.len()
        );
    }
    let (largest, size) = stats.largest.clone().expect("largest");
    assert!(names.contains(&largest) && size < MAX_PAGE_BYTES);
    let index = std::fs::read_to_string(dir.path().join("index.html")).expect("index");
    assert!(!index.contains("<script>alert"), "titles are escaped");
    assert!(index.contains("&lt;script&gt;alert(1)"));

    drop_database(&store).await;
}
