//! What one Dr. CI update costs on ClickHouse.
//!
//! ```text
//! CLICKHOUSE_URL=http://localhost:8123 cargo bench --bench drci -- [--rows N] [--runs N]
//! ```
//!
//! Generates `--rows` (default 1,000,000) `workflow_job` rows inside
//! ClickHouse (`INSERT ... SELECT FROM numbers()`): pushes to the default
//! branch and pull requests of 200 branches over 7 days, one job in 50
//! failing on two commits in three with one of 13 fingerprints (the SQL is
//! `benches/drci_rows.sql`). Then times one update's reads (the merge
//! base's jobs, the recent failures of the failing jobs' workflows, retry's
//! flaky memory) and prints milliseconds and queries per update.
//! The database is dropped after. Without `CLICKHOUSE_URL` it says so and
//! stops.
// Benches, examples and tests read their own settings from the environment.
#![allow(clippy::disallowed_methods)]

#[path = "support/scratch_store.rs"]
mod scratch_store;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use ci_medic::drci::classify::Normaliser;
use ci_medic::drci::clickhouse::{Reader, RecentScope, recent_of};
use ci_medic::drci::snapshot::DEFAULT_SHARD_PATTERN;
use ci_medic::store::Store;

const JOBS_PER_COMMIT: u64 = 200;

/// The synthetic history (shared with the tiny-scale test in
/// `tests/it/drci_clickhouse.rs`).
const GENERATE_JOBS: &str = include_str!("drci_rows.sql");

struct Options {
    rows: u64,
    runs: usize,
}

fn options() -> Options {
    let mut o = Options {
        rows: 1_000_000,
        runs: 5,
    };
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        let value = args.get(i + 1).and_then(|v| v.parse::<u64>().ok());
        match (args[i].as_str(), value) {
            ("--rows", Some(v)) => o.rows = v,
            ("--runs", Some(v)) => o.runs = usize::try_from(v).unwrap_or(1).max(1),
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    o
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

async fn bench(o: &Options, url: String) -> anyhow::Result<()> {
    scratch_store::with_scratch_store("drci", url, async |store| bench_in(o, store).await).await
}

async fn bench_in(o: &Options, store: &Store) -> anyhow::Result<()> {
    let repo = "bench/drci";
    let now = Utc
        .with_ymd_and_hms(2024, 5, 5, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let commits = o.rows.div_ceil(JOBS_PER_COMMIT).max(1);
    let span_ms: i64 = 7 * 24 * 3600 * 1000;
    let step = span_ms / i64::try_from(commits).unwrap_or(i64::MAX);
    let start = now.timestamp_millis() - span_ms;
    let t = Instant::now();
    store
        .client()
        .query(GENERATE_JOBS)
        .param("repo", repo)
        .param("jobs", JOBS_PER_COMMIT)
        .param("start", start)
        .param("step", step)
        .param("rows", o.rows)
        .execute()
        .await?;
    let stored: u64 = store
        .client()
        .query("SELECT count() FROM workflow_job")
        .fetch_one()
        .await?;
    println!("drci: generated {stored} job rows in {}", ms(t.elapsed()));
    // A merge base in the middle of the history (a push commit).
    let base: String = store
        .client()
        .query(
            "SELECT head_sha FROM workflow_job WHERE workflow_event = 'push' \
             ORDER BY created_at DESC LIMIT 1",
        )
        .fetch_one()
        .await?;
    let norm = Normaliser::new(DEFAULT_SHARD_PATTERN)?;
    let wanted: BTreeSet<String> = ["pull / job-0 / test (default, 1, 4)"]
        .iter()
        .map(|n| norm.normalise(n))
        .collect();
    let workflows = vec!["pull".to_string()];
    let authors = BTreeMap::new();
    let scope = RecentScope {
        workflows: &workflows,
        wanted: &wanted,
        default_branch: "main",
        own_branch: "pr-0",
        since: now - chrono::Duration::days(3),
        authors: &authors,
    };
    let mut samples = Vec::new();
    let mut queries = 0;
    let mut found = (0, 0);
    for _ in 0..o.runs {
        let reader = Reader::new(store, repo);
        let t = Instant::now();
        let base_jobs = reader.jobs_at(&base).await?;
        let rows = reader.recent_rows(&scope).await?;
        let recent = recent_of(&rows, &norm, &scope);
        reader
            .flaky_memory(&BTreeSet::from(["pull".to_string()]), scope.since)
            .await?;
        samples.push(t.elapsed());
        queries = reader.queries();
        found = (base_jobs.len(), recent.len());
    }
    samples.sort();
    let best = samples.first().copied().unwrap_or_default();
    let median = samples.get(samples.len() / 2).copied().unwrap_or_default();
    println!(
        "drci: one update over {stored} job rows: {queries} queries per update, \
         best {} median {} per update; {} merge-base jobs, {} pieces of evidence",
        ms(best),
        ms(median),
        found.0,
        found.1
    );
    Ok(())
}

fn main() {
    let o = options();
    match std::env::var("CLICKHOUSE_URL") {
        Ok(url) if !url.trim().is_empty() => {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("drci: no runtime: {e}");
                    return;
                }
            };
            if let Err(e) = rt.block_on(bench(&o, url)) {
                eprintln!("drci: {e:#}");
            }
        }
        _ => println!("drci: skipped (set CLICKHOUSE_URL to measure one update's queries)"),
    }
}
