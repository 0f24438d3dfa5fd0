//! `--source clickhouse`: the site from the tables `ingest`, autorevert and
//! the downstream relay write, for histories the API cannot serve. The
//! server does the counting; the build reads only what a page shows and
//! writes each page as soon as its rows are read, so it never holds every
//! row: a million job rows become one row per day, the 50 most frequent
//! fingerprints and the 50 flakiest jobs, and a backend's matrix is read
//! one page of pull requests at a time.
//!
//! Queries per page (each counted in [`BuildStats`]):
//! - index: 6 to 9 — jobs and failures per day, fingerprints, flaky jobs,
//!   autorevert's actions, ci-medic's actions counted per kind; the pull requests with downstream results when
//!   GitHub did not list the open ones; and Dr. CI's reads for every open
//!   pull request at once (the jobs of all heads and merge bases; when some
//!   failure has a real cause, the recent failures elsewhere and retry's
//!   flaky memory), which also serve every pull request page;
//! - trunk: 4 — the trunk history autorevert reads (pushes, jobs of their
//!   commits, recorded restarts, workflow files);
//! - downstream summary: 1 — every backend's totals and matrix columns;
//! - each page of a backend's matrix: 1;
//! - each pull request page: 1 — its downstream jobs.
//!
//! A pull request page shows the verdicts its Dr. CI comment gives, by the
//! same rules over the same rows ([`crate::drci::clickhouse::Reader::classify_pulls`]);
//! the merge base is GitHub's (read when the build has a token), and
//! without one a failure is UNCLASSIFIED, never a guessed FLAKY.
//!
//! Downstream results count as autorevert's and Dr. CI's do: the latest
//! attempt of each job on the pull request's current head, which is the
//! newest head any backend reported on.
//!
//! The failure issues are GitHub's, not ClickHouse's: they are listed when
//! the build has a token (one API call), and the index says none otherwise.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use clickhouse::Row;
use serde::Deserialize;

use crate::autorevert::detect::Params as DetectParams;
use crate::config::AutorevertConfig;
use crate::crcr::row::CrcrJobRow;
use crate::drci::DrciSection;
use crate::drci::clickhouse::{Batch, Classified, OpenPull, PullAuthor};
use crate::drci::snapshot::IssueRef;
use crate::event::{Conclusion, Status};
use crate::hud::downstream::{self, Backend};
use crate::hud::model::{
    Action, ActionKind, DayCount, DownstreamJob, FailureIssue, FingerprintCount, FlakyJob,
    HudSnapshot, JobClass, PullJob, PullView,
};
use crate::hud::pages::{self, MATRIX_ROWS_PER_PAGE, MAX_MATRIX_COLUMNS, Page, Renderer};
use crate::store::Store;

/// Fingerprints and flaky jobs read (what the index shows).
pub const MAX_FINGERPRINTS: u64 = pages::MAX_FINGERPRINTS as u64;
pub const MAX_FLAKY: u64 = pages::MAX_FLAKY as u64;
/// Autorevert decisions read, newest first (the index counts these).
pub const MAX_ACTIONS: u64 = 1000;
/// Pull requests that get a page: those with the newest downstream results.
pub const MAX_PRS: u64 = 100;

/// Conclusions that count as a failure or a pass (as [`Outcome::of`]).
macro_rules! failed {
    () => {
        "('failure', 'timed_out', 'startup_failure', 'action_required')"
    };
}
macro_rules! passed {
    () => {
        "('success', 'skipped', 'neutral')"
    };
}

/// Jobs of the window: created in `[since, until)`.
macro_rules! job_window {
    () => {
        "repository_full_name = {repo:String}
  AND created_at >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')
  AND created_at < fromUnixTimestamp64Milli({until:Int64}, 'UTC')"
    };
}

const DAILY: &str = concat!(
    "SELECT toString(toDate(completed_at)) AS day, count() AS jobs,
  countIf(conclusion IN ",
    failed!(),
    ") AS failed
FROM workflow_job FINAL
WHERE ",
    job_window!(),
    "
  AND toUnixTimestamp64Milli(completed_at) != 0
GROUP BY day
ORDER BY day"
);

const FINGERPRINTS: &str = concat!(
    "SELECT tupleElement(failure, 'fingerprint') AS fingerprint,
  any(tupleElement(failure, 'category')) AS category,
  any(tupleElement(failure, 'rule')) AS rule,
  any(tupleElement(failure, 'line')) AS line,
  count() AS count,
  toUnixTimestamp64Milli(max(completed_at)) AS last_seen,
  argMax(html_url, completed_at) AS example_url
FROM workflow_job FINAL
WHERE ",
    job_window!(),
    "
  AND conclusion IN ",
    failed!(),
    "
  AND tupleElement(failure, 'fingerprint') != ''
GROUP BY fingerprint
ORDER BY count DESC, fingerprint
LIMIT {limit:UInt64}"
);

const FLAKY: &str = concat!(
    "SELECT workflow_name, name, countIf(f > 0 AND p > 0) AS flaky, count() AS runs,
  argMaxIf(url, done, f > 0 AND p > 0) AS last_url
FROM (
  SELECT workflow_name, name, head_sha,
    countIf(conclusion IN ",
    failed!(),
    ") AS f,
    countIf(conclusion IN ",
    passed!(),
    ") AS p,
    argMaxIf(html_url, completed_at, conclusion IN ",
    failed!(),
    ") AS url,
    max(completed_at) AS done
  FROM workflow_job FINAL
  WHERE ",
    job_window!(),
    "
  GROUP BY workflow_name, name, head_sha)
GROUP BY workflow_name, name
HAVING flaky > 0
ORDER BY flaky DESC, workflow_name, name
LIMIT {limit:UInt64}"
);

const ACTIONS: &str = "\
SELECT toUnixTimestamp64Milli(ts) AS ts_ms, CAST(action AS String) AS kind, commit_sha,
  verdict, reason, dry_run, failed
FROM autorevert_events
WHERE repository_full_name = {repo:String}
  AND ts >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')
  AND ts < fromUnixTimestamp64Milli({until:Int64}, 'UTC')
  AND action != 'none'
ORDER BY ts DESC
LIMIT {limit:UInt64}";

/// What ci-medic did in the window, per kind: re-runs and heals from
/// `actions`, the revert commands' reverts from `bot_audit` (which records
/// every merge and revert), autorevert's restarts, reverts and
/// notifications from `autorevert_events`, never when a step of the action
/// failed; decisions under dry run (`dry`) are counted apart by the same
/// rules.
///
/// `autorevert_events` holds one row per decision and one more per restart
/// dispatched (`verdict = 'dispatch'`), so a restart is a dispatch row (its
/// decision row would count it again), and a revert or a notification is a
/// commit: every tick that decides it again updates the same pull request
/// or comment (found by its marker), which is no second revert.
const ACTION_TOTALS: &str = "\
SELECT kind, toUInt64(sum(n)) AS n, toUInt64(sum(dry)) AS dry FROM (
  SELECT CAST(kind AS String) AS kind, count() AS n, toUInt64(0) AS dry FROM actions FINAL
  WHERE repository_full_name = {repo:String}
    AND ts >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')
    AND ts < fromUnixTimestamp64Milli({until:Int64}, 'UTC')
    AND kind IN ('rerun', 'heal')
  GROUP BY kind
  UNION ALL
  SELECT 'revert' AS kind, count() AS n, toUInt64(0) AS dry FROM bot_audit FINAL
  WHERE repository_full_name = {repo:String}
    AND ts >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')
    AND ts < fromUnixTimestamp64Milli({until:Int64}, 'UTC')
    AND action = 'revert'
  UNION ALL
  SELECT 'restart' AS kind, countIf(NOT dry_run AND NOT failed) AS n, countIf(dry_run) AS dry
  FROM autorevert_events
  WHERE repository_full_name = {repo:String}
    AND ts >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')
    AND ts < fromUnixTimestamp64Milli({until:Int64}, 'UTC')
    AND action = 'restart' AND verdict = 'dispatch'
  UNION ALL
  SELECT CAST(action AS String) AS kind,
    uniqExactIf(commit_sha, NOT dry_run AND NOT failed) AS n,
    uniqExactIf(commit_sha, dry_run) AS dry
  FROM autorevert_events
  WHERE repository_full_name = {repo:String}
    AND ts >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')
    AND ts < fromUnixTimestamp64Milli({until:Int64}, 'UTC')
    AND action IN ('revert', 'notify')
  GROUP BY kind)
GROUP BY kind
ORDER BY kind";

#[derive(Debug, Row, Deserialize)]
struct TotalRow {
    kind: String,
    n: u64,
    dry: u64,
}

/// When a downstream job last did something.
macro_rules! when {
    () => {
        "if(toUnixTimestamp64Milli(completed_at) != 0, completed_at, started_at)"
    };
}

/// Downstream rows of the window.
macro_rules! crcr_window {
    () => {
        "upstream_repo = {repo:String}
  AND received_at >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')
  AND received_at < fromUnixTimestamp64Milli({until:Int64}, 'UTC')"
    };
}

/// Each pull request's current head: the newest any backend reported on.
macro_rules! heads {
    () => {
        concat!(
            "SELECT pr_number, argMax(head_sha, ",
            when!(),
            ") FROM crcr_workflow_job FINAL WHERE ",
            crcr_window!(),
            " GROUP BY pr_number"
        )
    };
}

/// The rows that count: the latest attempt of each job on each pull
/// request's current head, with `extra` conditions.
macro_rules! current {
    ($extra:expr) => {
        concat!(
            "SELECT downstream_repo, level, upstream_repo, pr_number, head_sha, workflow_name,
  job_name, run_id, run_attempt, check_run_id, status, conclusion, started_at, completed_at,
  received_at, queue_time_s, execution_time_s, tests_total, tests_passed, tests_failed,
  tests_skipped, log_url, artifact_url, environment, trusted, updated_at
FROM crcr_workflow_job FINAL
WHERE ",
            crcr_window!(),
            "
  AND (pr_number, head_sha) IN (",
            heads!(),
            ")",
            $extra,
            "
ORDER BY downstream_repo, pr_number DESC, workflow_name, job_name,
  run_attempt DESC, run_id DESC, ",
            when!(),
            " DESC
LIMIT 1 BY downstream_repo, pr_number, workflow_name, job_name"
        )
    };
}

const BACKENDS: &str = concat!(
    "SELECT CAST(downstream_repo AS String) AS repo,
  arraySort(arrayFilter(l -> l != '', groupUniqArray(CAST(level AS String)))) AS levels,
  uniqExact(pr_number) AS prs,
  count() AS jobs,
  countIf(conclusion IN ",
    passed!(),
    ") AS passed,
  countIf(conclusion IN ",
    failed!(),
    ") AS failed,
  avgOrNull(if(execution_time_s IS NOT NULL AND execution_time_s >= 0,
    toFloat64(execution_time_s),
    if(toUnixTimestamp64Milli(started_at) != 0 AND toUnixTimestamp64Milli(completed_at) != 0
         AND completed_at >= started_at,
       (toUnixTimestamp64Milli(completed_at) - toUnixTimestamp64Milli(started_at)) / 1000,
       NULL))) AS avg_duration_s,
  toUnixTimestamp64Milli(max(",
    when!(),
    ")) AS last_run,
  arraySlice(arrayDistinct(arrayMap(x -> x.3,
    arraySort(groupArray((pr_number, workflow_name, job_name))))), 1, {columns:UInt64}) AS columns
FROM (",
    current!(""),
    ")
GROUP BY repo
ORDER BY repo"
);

/// One page of a backend's matrix: the current jobs of its next
/// `{rows:UInt64}` pull requests below `{before:UInt64}`, newest first.
const MATRIX_PAGE: &str = current!(concat!(
    "
  AND downstream_repo = {backend:String}
  AND pr_number IN (
    SELECT DISTINCT pr_number FROM crcr_workflow_job FINAL
    WHERE ",
    crcr_window!(),
    " AND downstream_repo = {backend:String} AND pr_number < {before:UInt64}
      AND (pr_number, head_sha) IN (",
    heads!(),
    ")
    ORDER BY pr_number DESC
    LIMIT {rows:UInt64})"
));

const PR_DOWNSTREAM: &str = current!("\n  AND pr_number = {pr:UInt64}");

const PRS: &str = concat!(
    "SELECT pr_number, argMax(head_sha, ",
    when!(),
    ") AS head
FROM crcr_workflow_job FINAL
WHERE ",
    crcr_window!(),
    "
GROUP BY pr_number
ORDER BY max(received_at) DESC, pr_number DESC
LIMIT {limit:UInt64}"
);

#[derive(Debug, Row, Deserialize)]
struct DayRow {
    day: String,
    jobs: u64,
    failed: u64,
}

#[derive(Debug, Row, Deserialize)]
struct FingerprintRow {
    fingerprint: String,
    category: String,
    rule: String,
    line: String,
    count: u64,
    last_seen: i64,
    example_url: String,
}

#[derive(Debug, Row, Deserialize)]
struct FlakyRow {
    workflow_name: String,
    name: String,
    flaky: u64,
    runs: u64,
    last_url: String,
}

#[derive(Debug, Row, Deserialize)]
struct ActionRow {
    ts_ms: i64,
    kind: String,
    commit_sha: String,
    verdict: String,
    reason: String,
    dry_run: bool,
    failed: bool,
}

#[derive(Debug, Row, Deserialize)]
struct BackendRow {
    repo: String,
    levels: Vec<String>,
    prs: u64,
    jobs: u64,
    passed: u64,
    failed: u64,
    avg_duration_s: Option<f64>,
    last_run: i64,
    columns: Vec<String>,
}

#[derive(Debug, Row, Deserialize)]
struct PrRow {
    pr_number: u64,
    head: String,
}

/// What the build is about.
#[derive(Debug, Clone)]
pub struct Params<'a> {
    /// `owner/name`.
    pub repo: &'a str,
    /// The default branch, whose pushes make the trunk grid.
    pub branch: &'a str,
    /// The watched workflows and the trunk window.
    pub autorevert: &'a AutorevertConfig,
    pub since_days: u32,
    pub now: DateTime<Utc>,
    /// The GitHub web host links point to.
    pub server_url: &'a str,
    /// The open failure issues, when GitHub was asked.
    pub issues: Vec<FailureIssue>,
    /// Dr. CI's settings: the pull request pages classify as the comment.
    pub drci: &'a DrciSection,
    /// The open pull requests with their merge bases, when GitHub was
    /// asked; otherwise the pull requests with downstream results, whose
    /// merge bases are unknown.
    pub pulls: Option<Vec<OpenPull>>,
    /// The open `UNSTABLE …` and `DISABLED …` issues, when GitHub was asked.
    pub unstable: Vec<IssueRef>,
}

/// What a build cost and gave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildStats {
    /// Queries by the page (kind) they were made for.
    pub queries: BTreeMap<&'static str, usize>,
    /// Pages of each kind written.
    pub pages: BTreeMap<&'static str, usize>,
    /// Files written (pages, stylesheet, script).
    pub files: usize,
    pub total_bytes: u64,
    /// The largest page: its path and size.
    pub largest: Option<(String, usize)>,
}

impl BuildStats {
    pub fn total_queries(&self) -> usize {
        self.queries.values().sum()
    }

    /// One line per kind of page: its count and its queries.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        for (kind, n) in &self.pages {
            let q = self.queries.get(kind).copied().unwrap_or_default();
            out.push_str(&format!("{kind}: {n} pages, {q} queries\n"));
        }
        out.push_str(&format!(
            "{} files, {} bytes in all, {} queries",
            self.files,
            self.total_bytes,
            self.total_queries()
        ));
        if let Some((path, size)) = &self.largest {
            out.push_str(&format!("; largest page {path} ({size} bytes)"));
        }
        out
    }
}

/// Writes pages under a directory as they come, and keeps the figures.
struct SiteWriter {
    out: PathBuf,
    stats: BuildStats,
}

impl SiteWriter {
    fn write(&mut self, kind: &'static str, page: &Page) -> Result<()> {
        let path = self.out.join(&page.path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        std::fs::write(&path, page.body.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
        let s = &mut self.stats;
        s.files += 1;
        s.total_bytes += page.body.len() as u64;
        *s.pages.entry(kind).or_default() += 1;
        if page.path.ends_with(".html")
            && s.largest.as_ref().is_none_or(|(_, n)| page.body.len() > *n)
        {
            s.largest = Some((page.path.clone(), page.body.len()));
        }
        Ok(())
    }

    fn queried(&mut self, kind: &'static str, n: usize) {
        *self.stats.queries.entry(kind).or_default() += n;
    }
}

/// A time column read as Unix milliseconds: `None` for the epoch (unset),
/// an error naming `row` for one out of range.
fn time_of(ms: i64, row: impl FnOnce() -> String) -> Result<Option<DateTime<Utc>>> {
    if ms == 0 {
        return Ok(None);
    }
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(Some)
        .ok_or_else(|| anyhow::anyhow!("{}: time {ms} ms is out of range", row()))
}

fn some(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

impl From<CrcrJobRow> for DownstreamJob {
    fn from(r: CrcrJobRow) -> DownstreamJob {
        DownstreamJob {
            downstream_repo: r.downstream_repo,
            level: r.level,
            pr_number: r.pr_number,
            head_sha: r.head_sha,
            workflow_name: r.workflow_name,
            job_name: r.job_name,
            run_id: u64::try_from(r.run_id).unwrap_or_default(),
            run_attempt: u64::try_from(r.run_attempt).unwrap_or(1),
            status: some(r.status).map(|s| Status::parse(&s)),
            conclusion: some(r.conclusion).map(|c| Conclusion::parse(&c)),
            started_at: r.started_at,
            completed_at: r.completed_at,
            execution_time_s: r.execution_time_s.map(|s| s as f64),
            tests_total: u64::try_from(r.tests_total).ok().filter(|n| *n > 0),
            tests_failed: u64::try_from(r.tests_failed)
                .ok()
                .filter(|_| r.tests_total > 0),
            log_url: some(r.log_url),
            trusted: r.trusted,
        }
    }
}

/// A pull request's page: Dr. CI's verdicts (the comment's), then the
/// jobs of its head that passed (latest attempt).
fn pull_view(c: &Classified, server: &str, repo: &str) -> PullView {
    let mut view = PullView::from_drci(
        c.pull.number,
        &c.pull.title,
        Some(format!("{server}/{repo}/pull/{}", c.pull.number)),
        &c.pull.head_sha,
        &c.verdicts,
    );
    for j in crate::drci::classify::latest_attempts(&c.snapshot.jobs) {
        let done = j.status.as_ref().is_none_or(|s| s.is_completed());
        if done && j.conclusion.as_ref().is_some_and(|c| c.is_passing()) {
            view.jobs.push(PullJob {
                name: j.name.clone(),
                class: JobClass::Success,
                reason: String::new(),
                cause: None,
                url: j.url.clone(),
            });
        }
    }
    view
}

/// Build the whole site from `store` into `out`.
pub async fn build(store: &Store, p: Params<'_>, out: &Path) -> Result<(HudSnapshot, BuildStats)> {
    let client = store.client();
    let since = p.now - Duration::days(i64::from(p.since_days));
    let until = p.now + Duration::milliseconds(1);
    let (since_ms, until_ms) = (since.timestamp_millis(), until.timestamp_millis());
    let repo = p.repo;
    let mut w = SiteWriter {
        out: out.to_path_buf(),
        stats: BuildStats::default(),
    };
    let mut snap = HudSnapshot::empty(repo, p.now, p.since_days);
    snap.server_url = p.server_url.trim_end_matches('/').to_string();
    snap.issues = p.issues;

    // The index.
    let q = |sql: &'static str| {
        client
            .query_raw(sql)
            .param("repo", repo)
            .param("since", since_ms)
            .param("until", until_ms)
    };
    let days = q(DAILY)
        .fetch_all::<DayRow>()
        .await
        .context("reading jobs per day")?;
    snap.daily = days
        .into_iter()
        .map(|d| {
            Ok(DayCount {
                day: NaiveDate::parse_from_str(&d.day, "%Y-%m-%d")
                    .with_context(|| format!("jobs per day: the day {:?}", d.day))?,
                jobs: d.jobs,
                failed: d.failed,
            })
        })
        .collect::<Result<_>>()?;
    let issue_of: HashMap<&str, u64> = snap
        .issues
        .iter()
        .filter_map(|i| Some((i.fingerprint.as_deref()?, i.number)))
        .collect();
    let fingerprints = q(FINGERPRINTS)
        .param("limit", MAX_FINGERPRINTS)
        .fetch_all::<FingerprintRow>()
        .await
        .context("reading failure fingerprints")?;
    snap.fingerprints = fingerprints
        .into_iter()
        .map(|f| {
            Ok(FingerprintCount {
                issue: issue_of.get(f.fingerprint.as_str()).copied(),
                last_seen: time_of(f.last_seen, || {
                    format!("the fingerprint {:?}'s last failure", f.fingerprint)
                })?,
                fingerprint: f.fingerprint,
                category: f.category,
                rule: some(f.rule),
                line: some(f.line),
                count: f.count,
                example_url: some(f.example_url),
            })
        })
        .collect::<Result<_>>()?;
    let flaky = q(FLAKY)
        .param("limit", MAX_FLAKY)
        .fetch_all::<FlakyRow>()
        .await
        .context("reading flaky jobs")?;
    snap.flaky = flaky
        .into_iter()
        .map(|f| FlakyJob {
            workflow: f.workflow_name,
            name: f.name,
            flaky: f.flaky,
            runs: f.runs,
            last_url: some(f.last_url),
        })
        .collect();
    let actions = q(ACTIONS)
        .param("limit", MAX_ACTIONS)
        .fetch_all::<ActionRow>()
        .await
        .context("reading autorevert's decisions")?;
    let server = snap.server_url.clone();
    let commit_url = |sha: &str| format!("{server}/{repo}/commit/{sha}");
    snap.actions = actions
        .into_iter()
        .map(|a| {
            let kind = match a.kind.as_str() {
                "restart" => ActionKind::Restart,
                "revert" => ActionKind::Revert,
                "notify" => ActionKind::Notify,
                _ => return Ok(None),
            };
            let Some(ts) = time_of(a.ts_ms, || {
                format!("autorevert's {} decision on {:?}", a.kind, a.commit_sha)
            })?
            else {
                return Ok(None);
            };
            let mut reason = if a.reason.is_empty() {
                a.verdict
            } else {
                a.reason
            };
            if a.failed {
                reason = format!("failed: {reason}");
            }
            Ok(Some(Action {
                ts,
                kind,
                url: Some(commit_url(&a.commit_sha)),
                subject: a.commit_sha,
                reason,
                dry_run: a.dry_run,
            }))
        })
        .filter_map(Result::transpose)
        .collect::<Result<_>>()?;
    let totals = q(ACTION_TOTALS)
        .fetch_all::<TotalRow>()
        .await
        .context("counting ci-medic's actions")?;
    for t in totals {
        let kind = match t.kind.as_str() {
            "rerun" => ActionKind::Rerun,
            "heal" => ActionKind::Heal,
            "revert" => ActionKind::Revert,
            "restart" => ActionKind::Restart,
            "notify" => ActionKind::Notify,
            _ => continue,
        };
        *snap.action_totals.entry(kind).or_default() += t.n;
        *snap.action_dry_totals.entry(kind).or_default() += t.dry;
    }
    // Zero counts too: the index shows the counted figures, not the
    // decisions listed.
    for k in ActionKind::ALL {
        snap.action_totals.entry(k).or_default();
    }
    let pulls = match p.pulls {
        Some(pulls) => pulls,
        None => {
            let prs = q(PRS)
                .param("limit", MAX_PRS)
                .fetch_all::<PrRow>()
                .await
                .context("reading pull requests with downstream results")?;
            w.queried("index", 1);
            prs.into_iter()
                .map(|pr| OpenPull {
                    number: pr.pr_number,
                    head_sha: pr.head,
                    ..OpenPull::default()
                })
                .collect()
        }
    };
    // Dr. CI's verdicts on every pull request at once; the authors whose
    // failures count are those the comment reads.
    let authors: BTreeMap<String, PullAuthor> = pulls
        .iter()
        .take(p.drci.sweep_max_pulls)
        .filter_map(|pr| {
            Some((
                pr.head_ref.clone(),
                PullAuthor {
                    number: pr.number,
                    author: pr.author.clone()?,
                    head_sha: pr.head_sha.clone(),
                },
            ))
        })
        .filter(|(branch, _)| !branch.is_empty())
        .collect();
    let reader = crate::drci::clickhouse::Reader::new(store, repo);
    let classified = reader
        .classify_pulls(
            &pulls,
            &Batch {
                section: p.drci,
                default_branch: p.branch,
                issues: &p.unstable,
                authors: &authors,
                now: p.now,
            },
        )
        .await
        .context("classifying the open pull requests' failures")?;
    snap.prs = classified
        .iter()
        .map(|c| pull_view(c, &snap.server_url, repo))
        .collect();
    drop(classified);
    w.queried("index", 5 + reader.queries());

    // The trunk grid.
    let trunk =
        crate::history::clickhouse::trunk_snapshot(store, repo, p.branch, p.autorevert, p.now)
            .await?;
    snap.trunk = crate::hud::trunk::grids(
        &trunk,
        &DetectParams::from_config(p.autorevert),
        &snap.server_url,
    );
    drop(trunk);
    w.queried("trunk", 4);

    let backends = q(BACKENDS)
        .param("columns", (2 * MAX_MATRIX_COLUMNS) as u64)
        .fetch_all::<BackendRow>()
        .await
        .context("reading the downstream summary")?;
    w.queried("downstream", 1);
    snap.downstream = (!backends.is_empty()).then(Vec::new);
    let mut summary: Vec<(Backend, usize, Vec<String>)> = backends
        .into_iter()
        .map(|b| {
            let last_run = time_of(b.last_run, || {
                format!("the backend {:?}'s last run", b.repo)
            })?;
            let completed = b.passed + b.failed;
            let backend = Backend {
                slug: downstream::slug(&b.repo),
                repo: b.repo,
                levels: b.levels,
                prs: b.prs as usize,
                jobs: b.jobs as usize,
                passed: b.passed as usize,
                failed: b.failed as usize,
                pass_rate: (completed > 0).then(|| b.passed as f64 / completed as f64),
                avg_duration_s: b.avg_duration_s.filter(|s| s.is_finite()),
                last_run,
            };
            let columns = pages::matrix_columns(b.columns.iter().map(String::as_str));
            Ok((backend, b.prs as usize, columns))
        })
        .collect::<Result<_>>()?;
    let mut order: Vec<Backend> = summary.iter().map(|s| s.0.clone()).collect();
    downstream::sort(&mut order);
    let r = Renderer::new(&snap)?;
    for page in pages::assets() {
        w.write("assets", &page)?;
    }
    w.write("index", &r.index()?)?;
    w.write("trunk", &r.trunk()?)?;
    let has_downstream = snap.downstream.is_some();
    w.write(
        "downstream",
        &r.downstream_index(has_downstream.then_some(&order[..]))?,
    )?;

    // Each backend's matrix, a page of pull requests at a time.
    for (b, prs, columns) in &mut summary {
        let pages = prs.div_ceil(MATRIX_ROWS_PER_PAGE).max(1);
        let mut before = u64::MAX;
        for i in 0..pages {
            let rows: Vec<DownstreamJob> = q(MATRIX_PAGE)
                .param("backend", b.repo.as_str())
                .param("before", before)
                .param("rows", MATRIX_ROWS_PER_PAGE as u64)
                .fetch_all::<CrcrJobRow>()
                .await
                .with_context(|| format!("reading page {} of {}'s matrix", i + 1, b.repo))?
                .into_iter()
                .map(DownstreamJob::from)
                .collect();
            w.queried("backend", 1);
            if let Some(last) = rows.iter().map(|j| j.pr_number).min() {
                before = last;
            }
            w.write("backend", &r.backend_page(b, columns, &rows, i, pages)?)?;
        }
        columns.clear();
    }

    // A page per pull request.
    for pr in &snap.prs {
        let rows: Option<Vec<DownstreamJob>> = if has_downstream {
            let rows = q(PR_DOWNSTREAM)
                .param("pr", pr.number)
                .fetch_all::<CrcrJobRow>()
                .await
                .with_context(|| format!("reading the downstream jobs of #{}", pr.number))?;
            w.queried("pr", 1);
            Some(rows.into_iter().map(DownstreamJob::from).collect())
        } else {
            None
        };
        w.write("pr", &r.pr(pr.number, rows.as_deref())?)?;
    }
    drop(r);
    Ok((snap, w.stats))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_take_values_as_server_side_parameters() {
        for sql in [
            DAILY,
            FINGERPRINTS,
            FLAKY,
            ACTIONS,
            ACTION_TOTALS,
            BACKENDS,
            MATRIX_PAGE,
            PR_DOWNSTREAM,
            PRS,
        ] {
            assert!(!sql.contains('?'), "{sql}");
            assert!(!sql.to_uppercase().contains("JOIN"), "{sql}");
            assert!(sql.contains("{repo:String}"), "{sql}");
        }
        assert!(MATRIX_PAGE.contains("LIMIT {rows:UInt64}"));
        assert!(PR_DOWNSTREAM.contains("pr_number = {pr:UInt64}"));
    }

    #[test]
    fn a_time_out_of_range_is_an_error_naming_its_row() {
        assert_eq!(time_of(0, || "row".into()).unwrap(), None);
        assert_eq!(
            time_of(1_000, || "row".into()).unwrap(),
            DateTime::<Utc>::from_timestamp_millis(1_000)
        );
        let err = time_of(i64::MAX, || "the backend \"o/r\"'s last run".into()).unwrap_err();
        assert!(
            err.to_string().contains("the backend \"o/r\"'s last run"),
            "{err}"
        );
    }

    #[test]
    fn the_summary_of_figures_names_pages_and_queries() {
        let mut s = BuildStats::default();
        s.queries.insert("index", 6);
        s.pages.insert("index", 1);
        s.files = 3;
        s.total_bytes = 1000;
        s.largest = Some(("index.html".into(), 900));
        let text = s.summary();
        assert!(text.contains("index: 1 pages, 6 queries"), "{text}");
        assert!(
            text.contains("largest page index.html (900 bytes)"),
            "{text}"
        );
    }
}
