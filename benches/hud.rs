//! How long `hud build --source clickhouse` takes on a large history, and
//! how heavy its pages are.
//!
//! ```text
//! CLICKHOUSE_URL=http://localhost:8123 cargo bench --bench hud -- \
//!     [--jobs N] [--failures N] [--backends N] [--prs N]
//! ```
//!
//! Generates synthetic history in a fresh ClickHouse database
//! (`hud::synthetic`, by default 1,000,000 job rows, 10,000 failure
//! occurrences, 50 downstream backends over 400 pull requests; inserted in
//! batches, never held whole), then builds the site from it as
//! `hud build --source clickhouse` does, and prints the build time, the
//! queries made for each kind of page, the largest page's size and the
//! whole site's size. The database is dropped after. Without
//! `CLICKHOUSE_URL` it says so and does nothing.
// Benches, examples and tests read their own settings from the environment.
#![allow(clippy::disallowed_methods)]

#[path = "support/scratch_store.rs"]
mod scratch_store;

use std::time::Instant;

use chrono::{TimeZone, Utc};
use ci_medic::config::AutorevertConfig;
use ci_medic::hud::pages::MAX_PAGE_BYTES;
use ci_medic::hud::sources::clickhouse::{self as hud_clickhouse, Params};
use ci_medic::hud::synthetic::{self, Scale};
use ci_medic::store::Store;

fn scale() -> Scale {
    let mut s = Scale::BENCH;
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        let value = args.get(i + 1).and_then(|v| v.parse::<usize>().ok());
        match (args[i].as_str(), value) {
            ("--jobs", Some(v)) => s.jobs = v.max(1),
            ("--failures", Some(v)) => s.failures = v,
            ("--backends", Some(v)) => s.backends = v,
            ("--prs", Some(v)) => s.prs = v,
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    s.failures = s.failures.min(s.jobs);
    s
}

/// Generate `scale`'s history into `store` and build the site from it;
/// returns the report's lines.
async fn run(store: &Store, scale: Scale, out: &std::path::Path) -> anyhow::Result<Vec<String>> {
    let repo = "bench/hud";
    let now = Utc
        .with_ymd_and_hms(2026, 11, 20, 12, 0, 0)
        .single()
        .unwrap_or_default();
    let mut lines = Vec::new();
    let t = Instant::now();
    let written = synthetic::generate(store, repo, scale, now, 14).await?;
    lines.push(format!(
        "generated {} job rows ({} failures), {} pushes, {} decisions, {} downstream rows from {} backends in {:.1?}",
        written.jobs,
        written.failures,
        written.pushes,
        written.decisions,
        written.downstream,
        scale.backends,
        t.elapsed()
    ));
    let autorevert = AutorevertConfig::default();
    let t = Instant::now();
    let drci = ci_medic::drci::DrciSection::default();
    let (_, stats) = hud_clickhouse::build(
        store,
        Params {
            repo,
            branch: "main",
            autorevert: &autorevert,
            since_days: 14,
            now,
            server_url: "https://github.com",
            issues: Vec::new(),
            drci: &drci,
            pulls: None,
            unstable: Vec::new(),
        },
        out,
    )
    .await?;
    lines.push(format!("build: {:.2?}", t.elapsed()));
    lines.extend(stats.summary().lines().map(str::to_string));
    if let Some((path, size)) = &stats.largest {
        lines.push(format!(
            "largest page: {path}, {:.1} KB (budget {} KB)",
            *size as f64 / 1024.0,
            MAX_PAGE_BYTES / 1024
        ));
    }
    lines.push(format!(
        "site: {} files, {:.1} MB",
        stats.files,
        stats.total_bytes as f64 / (1024.0 * 1024.0)
    ));
    Ok(lines)
}

async fn bench(url: String, scale: Scale) -> anyhow::Result<()> {
    let out = tempfile::tempdir()?;
    let lines = scratch_store::with_scratch_store("hud", url, async |store| {
        run(store, scale, out.path()).await
    })
    .await?;
    for line in lines {
        println!("hud: {line}");
    }
    Ok(())
}

fn main() {
    let scale = scale();
    let Some(url) = std::env::var("CLICKHOUSE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
    else {
        println!("hud: CLICKHOUSE_URL is not set; nothing to measure");
        return;
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hud: no runtime: {e}");
            return;
        }
    };
    if let Err(e) = rt.block_on(bench(url, scale)) {
        eprintln!("hud: {e:#}");
        std::process::exit(1);
    }
}
