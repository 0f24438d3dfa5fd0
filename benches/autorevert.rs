//! How fast autorevert decides, and how fast ClickHouse answers it.
//!
//! ```text
//! cargo bench --bench autorevert -- [--commits N] [--jobs N] [--rows N] [--runs N]
//!     [--first-seed N] [--last-seed N] [--no-detection]
//!     [--max-restarts N] [--max-restarts-per-day N] [--budgets]
//!     [--tick-minutes N] [--no-restart-wakes]
//!     [--wake-on-failed-pushes | --wake-on-pushes]
//! ```
//!
//! 1. Detection: a synthetic snapshot (seeded, `autorevert::synth`) of
//!    1,000 commits x 2,000 jobs each, with breakages, flaky jobs, an outage
//!    and ghstack pushes; times grouping the jobs into signals and detecting,
//!    best and median of a few runs (`--no-detection` skips it).
//! 2. Simulation: autorevert run tick by tick over simulated trunks
//!    (`autorevert::sim`): precision, recall by kind of break, latency from
//!    break to revert, restarts per 48 hours; seeds 1 to 8 unless
//!    `--first-seed` and `--last-seed` say otherwise (precision on seeds
//!    the thresholds were not tuned on), with the default configuration
//!    unless `--max-restarts` or `--max-restarts-per-day` say otherwise.
//!    `--budgets` adds the main figures at smaller and larger restart
//!    budgets (what less or more CI money buys). Autorevert looks every
//!    20 minutes and when a restart's run completes, as the example
//!    workflow runs it; `--tick-minutes`, `--no-restart-wakes` and the
//!    `--wake-on-*` flags measure other ways of running it.
//! 3. When `CLICKHOUSE_URL` is set: 1,000,000 job rows (and their pushes)
//!    generated inside ClickHouse over 96 hours (`INSERT ... SELECT FROM
//!    numbers()`, so the rows do not travel through the client), then the
//!    `clickhouse` source reads a 48-hour window with its batched queries;
//!    prints the rows read and the time. The database is dropped after.
// Benches, examples and tests read their own settings from the environment.
#![allow(clippy::disallowed_methods)]

#[path = "support/scratch_store.rs"]
mod scratch_store;

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use ci_medic::autorevert::{self, synth};
use ci_medic::config::AutorevertConfig;
use ci_medic::history;
use ci_medic::store::Store;

struct Options {
    commits: usize,
    jobs: usize,
    rows: u64,
    runs: usize,
    seeds: std::ops::RangeInclusive<u64>,
    detection: bool,
    max_restarts: Option<u32>,
    max_restarts_per_day: Option<u32>,
    budgets: bool,
    tick_minutes: Option<u32>,
    restart_wakes: bool,
    on_push_runs: Option<autorevert::sim::PushWake>,
}

fn options() -> Options {
    let mut o = Options {
        commits: 1000,
        jobs: 2000,
        rows: 1_000_000,
        runs: 5,
        seeds: 1..=8,
        detection: true,
        max_restarts: None,
        max_restarts_per_day: None,
        budgets: false,
        tick_minutes: None,
        restart_wakes: true,
        on_push_runs: None,
    };
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        let value = args.get(i + 1).and_then(|v| v.parse::<u64>().ok());
        match (args[i].as_str(), value) {
            ("--commits", Some(v)) => o.commits = v as usize,
            ("--jobs", Some(v)) => o.jobs = v as usize,
            ("--rows", Some(v)) => o.rows = v,
            ("--runs", Some(v)) => o.runs = (v as usize).max(1),
            ("--first-seed", Some(v)) => o.seeds = v..=*o.seeds.end(),
            ("--last-seed", Some(v)) => o.seeds = *o.seeds.start()..=v,
            ("--max-restarts", Some(v)) => o.max_restarts = u32::try_from(v).ok(),
            ("--max-restarts-per-day", Some(v)) => o.max_restarts_per_day = u32::try_from(v).ok(),
            ("--no-detection", _) => {
                o.detection = false;
                i += 1;
                continue;
            }
            ("--budgets", _) => {
                o.budgets = true;
                i += 1;
                continue;
            }
            ("--no-restart-wakes", _) => {
                o.restart_wakes = false;
                i += 1;
                continue;
            }
            ("--wake-on-failed-pushes", _) => {
                o.on_push_runs = Some(autorevert::sim::PushWake::Failed);
                i += 1;
                continue;
            }
            ("--wake-on-pushes", _) => {
                o.on_push_runs = Some(autorevert::sim::PushWake::Every);
                i += 1;
                continue;
            }
            ("--tick-minutes", Some(v)) => o.tick_minutes = u32::try_from(v).ok(),
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

fn stats(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let best = samples.first().copied().unwrap_or_default();
    let median = samples.get(samples.len() / 2).copied().unwrap_or_default();
    (best, median)
}

fn detection(o: &Options) {
    let spec = synth::Spec {
        seed: 2024,
        commits: o.commits,
        jobs_per_commit: o.jobs,
        breakages: 12,
        flaky_per_mille: 2,
        ghstack_per_mille: 50,
        pending_newest: 3,
        outage: Some((o.commits / 3, o.commits / 3 + 4)),
        workflows: vec!["pull".into(), "trunk".into(), "inductor".into()],
    };
    let t = Instant::now();
    let g = synth::generate(&spec);
    let generated = t.elapsed();
    let s = &g.snapshot;
    println!(
        "detection: synthetic snapshot of {} commits x {} jobs = {} job results (generated in {})",
        s.commits.len(),
        o.jobs,
        s.jobs.len(),
        ms(generated)
    );
    let params = autorevert::Params::from_config(&AutorevertConfig::default());
    let (mut build, mut detect) = (Vec::new(), Vec::new());
    let mut found = None;
    for _ in 0..o.runs {
        let t = Instant::now();
        let signals = autorevert::signal::build(s, &params.workflows);
        build.push(t.elapsed());
        let t = Instant::now();
        let d = autorevert::detect(s, &signals, &params);
        detect.push(t.elapsed());
        found = Some((signals.columns.len(), d));
    }
    let (b_best, b_med) = stats(build);
    let (d_best, d_med) = stats(detect);
    if let Some((columns, d)) = found {
        let reverts = d
            .patterns
            .iter()
            .filter(|p| p.verdict == autorevert::Verdict::Revert)
            .count();
        println!(
            "detection: {columns} signals, {} patterns ({reverts} revert, {} culprits injected), {} restarts wanted",
            d.patterns.len(),
            g.culprits.len(),
            d.restarts.len()
        );
    }
    println!(
        "detection: group into signals best {} median {}; detect best {} median {}; total median {}",
        ms(b_best),
        ms(b_med),
        ms(d_best),
        ms(d_med),
        ms(b_med + d_med)
    );
}

/// 1M job rows over `commits` commits in 96 hours, generated server-side.
const GENERATE_JOBS: &str = "
INSERT INTO workflow_job
SELECT
    toInt64(number) AS id,
    toInt64(intDiv(number, {jobs:UInt64}) * 10 + number % 3) AS run_id,
    toInt64(1) AS run_attempt,
    {repo:String} AS repository_full_name,
    ['pull', 'trunk', 'inductor'][number % 3 + 1] AS workflow_name,
    'push' AS workflow_event,
    lower(hex(sipHash128(intDiv(number, {jobs:UInt64})))) || '00000000' AS head_sha,
    'main' AS head_branch,
    concat('job-', toString(intDiv(number % {jobs:UInt64}, 4)), ' / test (default, ',
           toString(number % 4 + 1), ', 4)') AS name,
    ['linux.2xlarge'] AS labels,
    concat('runner-', toString(number % 97)) AS runner_name,
    'completed' AS status,
    if(number % 97 = 0, 'failure', 'success') AS conclusion,
    fromUnixTimestamp64Milli({start:Int64} + intDiv(number, {jobs:UInt64}) * {step:Int64} + 300000, 'UTC') AS created_at,
    created_at AS started_at,
    created_at + toIntervalMinute(30) AS completed_at,
    CAST([] AS Array(Tuple(Int64, String, String, String, DateTime64(3, 'UTC'), DateTime64(3, 'UTC')))) AS steps,
    if(number % 97 = 0,
       tuple('pytest failure', 'test', 'FAILED', toInt64(1), ['t'], lower(hex(sipHash64(number % 13)))),
       tuple('', '', '', toInt64(0), CAST([] AS Array(String)), '')) AS failure,
    '' AS html_url,
    completed_at AS updated_at
FROM numbers({rows:UInt64})";

const GENERATE_PUSHES: &str = "
INSERT INTO push
SELECT
    {repo:String} AS repository_full_name,
    'refs/heads/main' AS ref,
    lower(hex(sipHash128(number))) || '00000000' AS after,
    fromUnixTimestamp64Milli({start:Int64} + number * {step:Int64}, 'UTC') AS pushed_at,
    [tuple(after, pushed_at, concat('Change ', toString(number)), 'dev@example.com')] AS commits
FROM numbers({commits:UInt64})";

async fn clickhouse(o: &Options, url: String) -> anyhow::Result<()> {
    scratch_store::with_scratch_store("autorevert", url, async |store| {
        clickhouse_in(o, store).await
    })
    .await
}

async fn clickhouse_in(o: &Options, store: &Store) -> anyhow::Result<()> {
    let repo = "bench/trunk";
    let jobs_per_commit = o.jobs.max(1) as u64;
    let commits = o.rows.div_ceil(jobs_per_commit);
    let now = Utc
        .with_ymd_and_hms(2024, 5, 5, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let span_ms: i64 = 96 * 3600 * 1000;
    let step = span_ms / commits.max(1) as i64;
    let start = now.timestamp_millis() - span_ms;

    let t = Instant::now();
    store
        .client()
        .query(GENERATE_PUSHES)
        .param("repo", repo)
        .param("start", start)
        .param("step", step)
        .param("commits", commits)
        .execute()
        .await?;
    store
        .client()
        .query(GENERATE_JOBS)
        .param("repo", repo)
        .param("jobs", jobs_per_commit)
        .param("start", start)
        .param("step", step)
        .param("rows", o.rows)
        .execute()
        .await?;
    let generated = t.elapsed();
    let stored: u64 = store
        .client()
        .query("SELECT count() FROM workflow_job")
        .fetch_one()
        .await?;
    println!(
        "clickhouse: generated {stored} job rows over {commits} commits and 96 hours in {}",
        ms(generated)
    );

    let config = AutorevertConfig {
        workflows: vec!["pull".into(), "trunk".into(), "inductor".into()],
        lookback_hours: 48,
        ..AutorevertConfig::default()
    };
    let mut samples = Vec::new();
    let mut last = None;
    for _ in 0..o.runs.min(3) {
        let t = Instant::now();
        let snap = history::clickhouse::trunk_snapshot(store, repo, "main", &config, now).await?;
        samples.push(t.elapsed());
        last = Some(snap);
    }
    let (best, median) = stats(samples);
    if let Some(snap) = last {
        let t = Instant::now();
        let (_, d) = autorevert::analyze(&snap, &autorevert::Params::from_config(&config));
        println!(
            "clickhouse: 48-hour window over {stored} job rows: {} commits, {} jobs read; \
             batched queries best {} median {}; then detection {} ({} patterns)",
            snap.commits.len(),
            snap.jobs.len(),
            ms(best),
            ms(median),
            ms(t.elapsed()),
            d.patterns.len()
        );
    }
    Ok(())
}

/// autorevert in a closed loop over the simulator's fixed scenario set:
/// precision, recall by kind of break, latency, restarts.
fn simulation(o: &Options) {
    let mut params = autorevert::Params::from_config(&AutorevertConfig::default());
    params.max_restarts = o.max_restarts.unwrap_or(params.max_restarts);
    params.max_restarts_per_day = o
        .max_restarts_per_day
        .unwrap_or(params.max_restarts_per_day);
    let mut scenarios = autorevert::sim::scenario_set(o.seeds.clone());
    for s in &mut scenarios {
        s.tick_minutes = o.tick_minutes.unwrap_or(s.tick_minutes);
        s.tick_on_restarts &= o.restart_wakes;
        s.tick_on_push_runs = o.on_push_runs.unwrap_or(s.tick_on_push_runs);
    }
    let looks = scenarios.first().map_or(String::new(), |s| {
        format!(
            "looks every {} minutes{}{}",
            s.tick_minutes,
            if s.tick_on_restarts {
                " and on restart results"
            } else {
                ""
            },
            match s.tick_on_push_runs {
                autorevert::sim::PushWake::Never => "",
                autorevert::sim::PushWake::Failed => " and on failed push runs",
                autorevert::sim::PushWake::Every => " and on every push run",
            }
        )
    });
    println!(
        "simulation: seeds {} to {}, `max-restarts` {}, `max-restarts-per-day` {}, {looks}",
        o.seeds.start(),
        o.seeds.end(),
        params.max_restarts,
        params.max_restarts_per_day
    );
    let figures = autorevert::sim::measure(&scenarios, &params);
    for line in figures.render().lines() {
        println!("simulation: {line}");
    }
    // What other restart budgets buy: restarts are what places a break
    // that fails only some of the time.
    if !o.budgets {
        return;
    }
    for (max, per_day) in [(8, 48), (16, 96), (32, 192)] {
        let more = autorevert::Params {
            max_restarts: max,
            max_restarts_per_day: per_day,
            ..params.clone()
        };
        let f = autorevert::sim::measure(&scenarios, &more);
        let (c, n) = f.caught_failing_at_least(600);
        println!(
            "simulation (`max-restarts` {max}, `max-restarts-per-day` {per_day}): precision {:.3}, recall of breaks failing 60% or more {c}/{n} ({:.3}), median to revert {}, {:.1} restarts per 48 h",
            f.precision(),
            c as f64 / n.max(1) as f64,
            f.latency(0.5)
                .map_or("-".to_string(), |m| format!("{:.1} h", m as f64 / 60.0)),
            f.restarts_per_48h()
        );
    }
}

fn main() {
    let o = options();
    simulation(&o);
    if o.detection {
        detection(&o);
    }
    match std::env::var("CLICKHOUSE_URL") {
        Ok(url) if !url.trim().is_empty() => {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("clickhouse: no runtime: {e}");
                    return;
                }
            };
            if let Err(e) = rt.block_on(clickhouse(&o, url)) {
                eprintln!("clickhouse: {e:#}");
            }
        }
        _ => println!("clickhouse: skipped (set CLICKHOUSE_URL to measure the window query)"),
    }
}
