//! Downstream CI results in ClickHouse: how fast they go in, and how long
//! the `crcr summary`, `crcr matrix` and `crcr pr` queries take over a
//! large table.
//!
//! ```text
//! CLICKHOUSE_URL=http://localhost:8123 cargo bench --bench crcr -- [--rows N] [--singles N]
//! ```
//!
//! In a fresh database: first `--singles` results (default 2,000) inserted
//! one per request, as `crcr report` delivers them (one result per run of
//! the receiving workflow); then `--rows` results (default 1,000,000: 50
//! backends, 8 jobs each, over 2,500 pull requests, with re-runs and older
//! heads) inserted in batches of 10,000, as a bulk import does. Each prints
//! results per second. Then each view's query runs five times and the
//! median time is printed. The database is dropped after. Without
//! `CLICKHOUSE_URL` it says so and does nothing.
// Benches, examples and tests read their own settings from the environment.
#![allow(clippy::disallowed_methods)]

#[path = "support/scratch_store.rs"]
mod scratch_store;

use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, TimeZone, Utc};
use ci_medic::crcr::queries;
use ci_medic::crcr::row::CrcrJobRow;
use ci_medic::store::{Store, TableRows};

const REPO: &str = "bench/upstream";
const BACKENDS: u64 = 50;
const JOBS: u64 = 8;
const BATCH: usize = 10_000;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Result `i` of the synthetic history: backend, pull request and job from
/// `i`; every fifth pull request also has results on an older head, and
/// one job in six was re-run.
fn row(i: u64, now: DateTime<Utc>) -> CrcrJobRow {
    let job = i % JOBS;
    let backend = (i / JOBS) % BACKENDS;
    let pr = i / (JOBS * BACKENDS) + 1;
    let old_head = pr.is_multiple_of(5) && backend.is_multiple_of(2);
    let attempt = if (i / 7).is_multiple_of(6) { 2 } else { 1 };
    let at = now - Duration::seconds((i % 86_400) as i64);
    let downstream_repo = format!(
        "backend-{backend:02}/torch-{}",
        ["npu", "xpu", "mps"][(backend % 3) as usize]
    );
    let conclusion = if (i + pr).is_multiple_of(9) {
        "failure"
    } else {
        "success"
    };
    CrcrJobRow {
        log_url: format!("https://github.com/{downstream_repo}/actions/runs/{i}"),
        downstream_repo,
        level: format!("L{}", 2 + backend % 3),
        upstream_repo: REPO.into(),
        pr_number: pr,
        head_sha: format!("{:040x}", pr * 2 + u64::from(old_head)),
        workflow_name: "downstream".into(),
        job_name: format!("test-{job}"),
        run_id: (i / JOBS) as i64,
        run_attempt: attempt,
        check_run_id: 0,
        status: "completed".into(),
        conclusion: conclusion.into(),
        started_at: Some(at - Duration::seconds(300)),
        completed_at: Some(at),
        received_at: at,
        queue_time_s: Some(20),
        execution_time_s: Some(300),
        tests_total: 100,
        tests_passed: 100 - i64::from(conclusion == "failure"),
        tests_failed: i64::from(conclusion == "failure"),
        tests_skipped: 0,
        artifact_url: String::new(),
        environment: String::new(),
        trusted: true,
        updated_at: at,
    }
}

fn per_second(n: u64, took: StdDuration) -> f64 {
    n as f64 / took.as_secs_f64().max(f64::EPSILON)
}

/// The median of five runs of `query`.
async fn median<F, Fut>(mut query: F) -> anyhow::Result<(StdDuration, usize)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<usize>>,
{
    let mut times = Vec::new();
    let mut rows = 0;
    for _ in 0..5 {
        let t = Instant::now();
        rows = query().await?;
        times.push(t.elapsed());
    }
    times.sort();
    Ok((times[times.len() / 2], rows))
}

async fn run(store: &Store, rows: u64, singles: u64) -> anyhow::Result<Vec<String>> {
    let now = Utc
        .with_ymd_and_hms(2026, 11, 20, 12, 0, 0)
        .single()
        .unwrap_or_default();
    let mut lines = Vec::new();

    // One result per request, as results arrive.
    let t = Instant::now();
    for i in 0..singles {
        store
            .insert(&TableRows::CrcrJobs(vec![row(rows + i, now)]))
            .await?;
    }
    lines.push(format!(
        "ingest, one result per insert: {singles} results in {:.2?}, {:.0} results/s",
        t.elapsed(),
        per_second(singles, t.elapsed())
    ));

    // Batches, as a bulk import does.
    let t = Instant::now();
    let mut batch = Vec::with_capacity(BATCH);
    for i in 0..rows {
        batch.push(row(i, now));
        if batch.len() == BATCH {
            store
                .insert(&TableRows::CrcrJobs(std::mem::take(&mut batch)))
                .await?;
        }
    }
    if !batch.is_empty() {
        store.insert(&TableRows::CrcrJobs(batch)).await?;
    }
    lines.push(format!(
        "ingest, batches of {BATCH}: {rows} results in {:.2?}, {:.0} results/s",
        t.elapsed(),
        per_second(rows, t.elapsed())
    ));

    let since = now - Duration::days(30);
    let (took, n) =
        median(|| async { Ok(queries::backends(store, REPO, since).await?.len()) }).await?;
    lines.push(format!(
        "crcr summary: 1 query, median {took:.2?} ({n} backends over {} rows)",
        rows + singles
    ));
    let (took, n) = median(|| async {
        Ok(queries::jobs_at_heads(store, REPO, since, 0, "", 50)
            .await?
            .len())
    })
    .await?;
    lines.push(format!(
        "crcr matrix (50 pull requests): 1 query, median {took:.2?} ({n} jobs)"
    ));
    let pr = rows / (JOBS * BACKENDS) / 2 + 1;
    let (took, n) = median(|| async {
        Ok(queries::jobs_at_heads(store, REPO, since, pr, "", 1)
            .await?
            .len())
    })
    .await?;
    lines.push(format!(
        "crcr pr {pr}: 1 query, median {took:.2?} ({n} jobs)"
    ));
    Ok(lines)
}

async fn bench(url: String) -> anyhow::Result<()> {
    let (rows, singles) = (arg("--rows", 1_000_000), arg("--singles", 2_000));
    let lines = scratch_store::with_scratch_store("crcr", url, async |store| {
        run(store, rows, singles).await
    })
    .await?;
    for line in lines {
        println!("crcr: {line}");
    }
    Ok(())
}

fn main() {
    let Some(url) = std::env::var("CLICKHOUSE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
    else {
        println!("crcr: CLICKHOUSE_URL is not set; nothing to measure");
        return;
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("crcr: no runtime: {e}");
            return;
        }
    };
    if let Err(e) = rt.block_on(bench(url)) {
        eprintln!("crcr: {e:#}");
        std::process::exit(1);
    }
}
