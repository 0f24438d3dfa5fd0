//! `ci-medic crcr summary`, `crcr matrix` and `crcr pr N`: what downstream
//! CI says, as text, JSON or markdown.
//!
//! From ClickHouse when it is configured (one query each, see
//! [`super::queries`]); otherwise from ci-medic's own `crcr/...` check runs
//! on the heads of the open pull requests (small setups: only what is shown
//! on PRs, L3 with its label and L4, and no history).

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::queries::{self, BackendRow, JobAtHead};
use crate::cli::{Context, CrcrPrArgs, CrcrViewArgs, Format};
use crate::github::Client;
use crate::github::checks::CheckRunInfo;
use crate::report::markdown::{code, table_code};

/// Open pull requests read without ClickHouse, at most.
const MAX_API_PULLS: usize = 100;
/// Check runs read per head commit without ClickHouse, at most.
const MAX_API_CHECK_RUNS: usize = 300;

/// Where a view's data came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    Clickhouse,
    CheckRuns,
}

/// One downstream job at a pull request's head (its latest attempt).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    pub pr: u64,
    pub head_sha: String,
    pub repo: String,
    /// `L2`..`L4`; unknown from a check run.
    pub level: Option<String>,
    pub workflow: String,
    pub job: String,
    pub run_id: Option<i64>,
    pub run_attempt: Option<i64>,
    pub status: String,
    pub conclusion: Option<String>,
    pub duration_s: Option<i64>,
    pub log_url: Option<String>,
    #[serde(skip)]
    pub last: Option<DateTime<Utc>>,
}

impl Job {
    /// The conclusion, else the status.
    pub fn verdict(&self) -> &str {
        self.conclusion.as_deref().unwrap_or(&self.status)
    }

    fn from_row(r: JobAtHead) -> Job {
        Job {
            pr: r.pr_number,
            head_sha: r.head_sha,
            repo: r.downstream_repo,
            level: Some(r.level),
            workflow: r.workflow_name,
            job: r.job_name,
            run_id: Some(r.run_id),
            run_attempt: Some(r.run_attempt),
            status: r.status,
            conclusion: (!r.conclusion.is_empty()).then_some(r.conclusion),
            duration_s: r.duration_s,
            log_url: (!r.log_url.is_empty()).then_some(r.log_url),
            last: Some(r.received_at),
        }
    }
}

/// One downstream repository, over its jobs' latest attempts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Backend {
    pub repo: String,
    pub level: Option<String>,
    pub jobs: u64,
    pub passed: u64,
    pub failed: u64,
    pub pending: u64,
    /// Passed of those that passed or failed, in percent.
    pub pass_rate: Option<f64>,
    pub avg_duration_s: Option<f64>,
    pub last_run: Option<String>,
}

fn rate(passed: u64, failed: u64) -> Option<f64> {
    let decided = passed + failed;
    // Counts are far below 2^52: exact as f64.
    (decided > 0).then(|| (passed as f64 * 1000.0 / decided as f64).round() / 10.0)
}

fn rfc3339(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl Backend {
    fn from_row(r: BackendRow) -> Backend {
        Backend {
            pass_rate: rate(r.passed, r.failed),
            repo: r.downstream_repo,
            level: Some(r.level),
            jobs: r.jobs,
            passed: r.passed,
            failed: r.failed,
            pending: r.pending,
            avg_duration_s: r.avg_duration_s.map(|d| (d * 10.0).round() / 10.0),
            last_run: Some(rfc3339(&r.last_run)),
        }
    }
}

/// The summary, from jobs (the check-run source). Pure.
pub fn backends_of(jobs: &[Job]) -> Vec<Backend> {
    let mut by: BTreeMap<String, Vec<&Job>> = BTreeMap::new();
    for j in jobs {
        by.entry(j.repo.to_ascii_lowercase()).or_default().push(j);
    }
    by.into_values()
        .filter_map(|js| {
            let first = js.first()?;
            let passed = js.iter().filter(|j| j.verdict() == "success").count() as u64;
            let failed = js
                .iter()
                .filter(|j| matches!(j.verdict(), "failure" | "timed_out"))
                .count() as u64;
            let pending = js.iter().filter(|j| j.status != "completed").count() as u64;
            let durations: Vec<i64> = js.iter().filter_map(|j| j.duration_s).collect();
            let avg = (!durations.is_empty()).then(|| {
                let sum: i64 = durations.iter().sum();
                (sum as f64 / durations.len() as f64 * 10.0).round() / 10.0
            });
            Some(Backend {
                repo: first.repo.clone(),
                level: first.level.clone(),
                jobs: js.len() as u64,
                passed,
                failed,
                pending,
                pass_rate: rate(passed, failed),
                avg_duration_s: avg,
                last_run: js.iter().filter_map(|j| j.last).max().map(|t| rfc3339(&t)),
            })
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub repo: String,
    pub source: Source,
    pub backends: Vec<Backend>,
}

/// A matrix column: one downstream job.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Column {
    pub repo: String,
    pub workflow: String,
    pub job: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatrixRow {
    pub pr: u64,
    pub head_sha: String,
    /// One per column: the conclusion (else the status), or `null`.
    pub cells: Vec<Option<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Matrix {
    pub repo: String,
    pub source: Source,
    pub columns: Vec<Column>,
    pub rows: Vec<MatrixRow>,
}

/// PRs (newest number first) by downstream jobs. Pure.
pub fn matrix_of(repo: &str, source: Source, jobs: &[Job]) -> Matrix {
    let column = |j: &Job| Column {
        repo: j.repo.clone(),
        workflow: j.workflow.clone(),
        job: j.job.clone(),
    };
    let mut columns: Vec<Column> = jobs.iter().map(column).collect();
    columns.sort();
    columns.dedup();
    let mut prs: BTreeMap<std::cmp::Reverse<u64>, (String, Vec<Option<String>>)> = BTreeMap::new();
    for j in jobs {
        let row = prs
            .entry(std::cmp::Reverse(j.pr))
            .or_insert_with(|| (j.head_sha.clone(), vec![None; columns.len()]));
        if let Ok(i) = columns.binary_search(&column(j))
            && let Some(cell) = row.1.get_mut(i)
        {
            *cell = Some(j.verdict().to_string());
        }
    }
    Matrix {
        repo: repo.to_string(),
        source,
        columns,
        rows: prs
            .into_iter()
            .map(|(pr, (head_sha, cells))| MatrixRow {
                pr: pr.0,
                head_sha,
                cells,
            })
            .collect(),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrView {
    pub repo: String,
    pub source: Source,
    pub pr: u64,
    /// The head shown (`null`: nothing reported).
    pub head_sha: Option<String>,
    pub jobs: Vec<Job>,
}

/// Where the data is read from (one per command: size does not matter).
#[allow(clippy::large_enum_variant)]
enum Reader {
    Store(crate::store::Store),
    Api(Client),
}

struct Opened {
    repo: String,
    reader: Reader,
    client: Option<Client>,
}

async fn open(cx: &Context) -> Result<Opened> {
    let client = cx.client().ok();
    let config = cx.load_config(client.as_ref()).await?;
    let repo = cx.repo()?.full();
    let ctx = cx.ctx(client.clone(), config);
    let reader =
        if ctx.store_config().is_ok() {
            Reader::Store(ctx.store().await?.clone())
        } else {
            Reader::Api(client.clone().context(
                "neither ClickHouse (`clickhouse.url`) nor a token to read check runs with",
            )?)
        };
    Ok(Opened {
        repo,
        reader,
        client,
    })
}

fn since(days: u32) -> DateTime<Utc> {
    Utc::now() - Duration::days(i64::from(days))
}

pub async fn summary(cx: &Context, args: &CrcrViewArgs) -> Result<ExitCode> {
    let o = open(cx).await?;
    let view = match &o.reader {
        Reader::Store(store) => Summary {
            backends: queries::backends(store, &o.repo, since(args.days))
                .await?
                .into_iter()
                .map(Backend::from_row)
                .collect(),
            repo: o.repo,
            source: Source::Clickhouse,
        },
        Reader::Api(gh) => Summary {
            backends: backends_of(&open_pull_jobs(gh, args.limit).await?),
            repo: o.repo,
            source: Source::CheckRuns,
        },
    };
    show(cx, &view, &summary_text(&view), &summary_markdown(&view))
}

pub async fn matrix(cx: &Context, args: &CrcrViewArgs) -> Result<ExitCode> {
    let o = open(cx).await?;
    let (jobs, source) = match &o.reader {
        Reader::Store(store) => (
            queries::jobs_at_heads(store, &o.repo, since(args.days), 0, "", args.limit)
                .await?
                .into_iter()
                .map(Job::from_row)
                .collect(),
            Source::Clickhouse,
        ),
        Reader::Api(gh) => (open_pull_jobs(gh, args.limit).await?, Source::CheckRuns),
    };
    let view = matrix_of(&o.repo, source, &jobs);
    show(cx, &view, &matrix_text(&view), &matrix_markdown(&view))
}

#[derive(Deserialize)]
struct PullHead {
    number: u64,
    head: Sha,
}

#[derive(Deserialize)]
struct Sha {
    sha: String,
}

pub async fn pr(cx: &Context, args: &CrcrPrArgs) -> Result<ExitCode> {
    let o = open(cx).await?;
    let number = args.number;
    // The PR's real head when GitHub can be asked; else the last reported.
    let head = match &o.client {
        Some(gh) => Some(
            gh.get_json::<PullHead>(&gh.repo_path(&format!("/pulls/{number}")))
                .await
                .with_context(|| format!("cannot read pull request #{number}"))?
                .head
                .sha,
        ),
        None => None,
    };
    let (jobs, source) = match &o.reader {
        Reader::Store(store) => (
            queries::jobs_at_heads(
                store,
                &o.repo,
                since(365),
                number,
                head.as_deref().unwrap_or_default(),
                1,
            )
            .await?
            .into_iter()
            .map(Job::from_row)
            .collect::<Vec<_>>(),
            Source::Clickhouse,
        ),
        Reader::Api(gh) => {
            let head = head.clone().context("no head commit")?;
            (jobs_at(gh, number, &head).await?, Source::CheckRuns)
        }
    };
    let view = PrView {
        head_sha: head.or_else(|| jobs.first().map(|j| j.head_sha.clone())),
        repo: o.repo,
        source,
        pr: number,
        jobs,
    };
    show(cx, &view, &pr_text(&view), &pr_markdown(&view))
}

/// The jobs shown by ci-medic's own check runs on the heads of the
/// `limit` most recently updated open pull requests.
async fn open_pull_jobs(gh: &Client, limit: u32) -> Result<Vec<Job>> {
    let max = usize::try_from(limit)
        .unwrap_or(MAX_API_PULLS)
        .min(MAX_API_PULLS);
    let pulls: Vec<PullHead> = gh
        .get_all(
            &gh.repo_path("/pulls?state=open&sort=updated&direction=desc"),
            None,
            max,
        )
        .await?;
    let mut jobs = Vec::new();
    for p in pulls {
        jobs.extend(jobs_at(gh, p.number, &p.head.sha).await?);
    }
    Ok(jobs)
}

#[derive(Deserialize)]
struct Times {
    #[serde(default)]
    started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    completed_at: Option<DateTime<Utc>>,
}

/// ci-medic's own `crcr/<owner>/<repo> / <job>` check runs on `head` (a
/// check run of another app with such a name is not believed).
async fn jobs_at(gh: &Client, pr: u64, head: &str) -> Result<Vec<Job>> {
    let path = gh.repo_path(&format!(
        "/commits/{}/check-runs?filter=latest",
        percent_encoding::utf8_percent_encode(head, percent_encoding::NON_ALPHANUMERIC)
    ));
    let runs: Vec<serde_json::Value> = gh
        .get_all(&path, Some("check_runs"), MAX_API_CHECK_RUNS)
        .await?;
    let mut jobs = Vec::new();
    for value in runs {
        let Ok(info) = serde_json::from_value::<CheckRunInfo>(value.clone()) else {
            continue;
        };
        if !gh.is_own_check_run(&info) {
            continue;
        }
        let Some((repo, job)) = info
            .name
            .strip_prefix("crcr/")
            .and_then(|n| n.split_once(" / "))
        else {
            continue;
        };
        let times: Times = serde_json::from_value(value).unwrap_or(Times {
            started_at: None,
            completed_at: None,
        });
        let duration_s = match (times.started_at, times.completed_at) {
            (Some(a), Some(b)) if b >= a => Some((b - a).num_seconds()),
            _ => None,
        };
        jobs.push(Job {
            pr,
            head_sha: info.head_sha.clone(),
            repo: repo.to_string(),
            level: None,
            workflow: String::new(),
            job: job.to_string(),
            run_id: None,
            run_attempt: None,
            status: info.status.to_string(),
            conclusion: info.conclusion.as_ref().map(ToString::to_string),
            duration_s,
            log_url: info.details_url.clone(),
            last: times.completed_at.or(times.started_at),
        });
    }
    jobs.sort_by(|a, b| (&a.repo, &a.job).cmp(&(&b.repo, &b.job)));
    Ok(jobs)
}

/// Print the view in the chosen format. Text and markdown quote reported
/// names: inert inside a runner.
fn show(cx: &Context, json: &impl Serialize, text: &str, markdown: &str) -> Result<ExitCode> {
    match cx.cli.format {
        Format::Json => cx.env.print_json(json)?,
        Format::Markdown => cx.env.echo_untrusted(markdown),
        Format::Text | Format::Diff => cx.env.echo_untrusted(text),
    }
    Ok(ExitCode::SUCCESS)
}

fn source_text(s: Source) -> &'static str {
    match s {
        Source::Clickhouse => "ClickHouse",
        Source::CheckRuns => "check runs of open pull requests",
    }
}

fn duration(secs: Option<f64>) -> String {
    match secs {
        // Whole seconds are enough to read.
        Some(s) if s.is_finite() && s >= 0.0 => {
            let s = s.round() as u64;
            if s >= 60 {
                format!("{}m {:02}s", s / 60, s % 60)
            } else {
                format!("{s}s")
            }
        }
        _ => "-".into(),
    }
}

fn percent(p: Option<f64>) -> String {
    p.map_or("-".into(), |p| format!("{p:.1}%"))
}

/// Columns padded to their widest cell.
fn table(rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = Vec::new();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            let w = c.chars().count();
            match widths.get_mut(i) {
                Some(x) => *x = (*x).max(w),
                None => widths.push(w),
            }
        }
    }
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let w = widths.get(i).copied().unwrap_or(0);
                format!("{c:<w$}")
            })
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn md_row(cells: &[String]) -> String {
    format!("| {} |\n", cells.join(" | "))
}

fn summary_cells(b: &Backend) -> [String; 8] {
    [
        b.repo.clone(),
        b.level.clone().unwrap_or_else(|| "-".into()),
        b.jobs.to_string(),
        percent(b.pass_rate),
        b.failed.to_string(),
        b.pending.to_string(),
        duration(b.avg_duration_s),
        b.last_run.clone().unwrap_or_else(|| "-".into()),
    ]
}

const SUMMARY_HEAD: [&str; 8] = [
    "repository",
    "level",
    "jobs",
    "pass rate",
    "failed",
    "pending",
    "avg duration",
    "last run",
];

fn summary_text(v: &Summary) -> String {
    let mut out = format!(
        "Downstream CI of {} ({}): {}\n",
        v.repo,
        source_text(v.source),
        count(v.backends.len(), "repository", "repositories")
    );
    if v.backends.is_empty() {
        return out;
    }
    let mut rows = vec![SUMMARY_HEAD.iter().map(|s| s.to_string()).collect()];
    rows.extend(v.backends.iter().map(|b| summary_cells(b).to_vec()));
    out.push_str(&table(&rows));
    out
}

fn summary_markdown(v: &Summary) -> String {
    let mut out = format!(
        "### Downstream CI of {}\n\nFrom {}; each job's latest attempt.\n\n",
        code(&v.repo),
        source_text(v.source)
    );
    if v.backends.is_empty() {
        out.push_str("No downstream results.\n");
        return out;
    }
    out.push_str(&md_row(&SUMMARY_HEAD.map(String::from)));
    out.push_str(&md_row(&vec!["---".to_string(); 8]));
    for b in &v.backends {
        let mut cells = summary_cells(b);
        cells[0] = table_code(&b.repo);
        out.push_str(&md_row(&cells));
    }
    out
}

fn column_name(c: &Column) -> String {
    if c.workflow.is_empty() {
        format!("{} / {}", c.repo, c.job)
    } else {
        format!("{} / {} / {}", c.repo, c.workflow, c.job)
    }
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

fn matrix_text(v: &Matrix) -> String {
    let mut out = format!(
        "Downstream CI of {} by pull request ({}): {}, {}\n",
        v.repo,
        source_text(v.source),
        count(v.rows.len(), "pull request", "pull requests"),
        count(v.columns.len(), "job", "jobs")
    );
    for (i, c) in v.columns.iter().enumerate() {
        out.push_str(&format!("  [{}] {}\n", i + 1, column_name(c)));
    }
    if v.rows.is_empty() {
        return out;
    }
    let mut rows: Vec<Vec<String>> = vec![
        ["PR".to_string(), "head".to_string()]
            .into_iter()
            .chain((1..=v.columns.len()).map(|i| format!("[{i}]")))
            .collect(),
    ];
    for r in &v.rows {
        rows.push(
            [format!("#{}", r.pr), short(&r.head_sha).to_string()]
                .into_iter()
                .chain(
                    r.cells
                        .iter()
                        .map(|c| c.clone().unwrap_or_else(|| "-".into())),
                )
                .collect(),
        );
    }
    out.push_str(&table(&rows));
    out
}

fn matrix_markdown(v: &Matrix) -> String {
    let mut out = format!(
        "### Downstream CI of {} by pull request\n\nFrom {}; each job's latest attempt at the pull request's head.\n\n",
        code(&v.repo),
        source_text(v.source)
    );
    if v.rows.is_empty() {
        out.push_str("No downstream results.\n");
        return out;
    }
    let head: Vec<String> = ["PR".to_string(), "head".to_string()]
        .into_iter()
        .chain(v.columns.iter().map(|c| table_code(&column_name(c))))
        .collect();
    out.push_str(&md_row(&head));
    out.push_str(&md_row(&vec!["---".to_string(); head.len()]));
    for r in &v.rows {
        let cells: Vec<String> = [format!("#{}", r.pr), code(short(&r.head_sha))]
            .into_iter()
            .chain(
                r.cells
                    .iter()
                    .map(|c| c.as_deref().map_or("-".into(), table_code)),
            )
            .collect();
        out.push_str(&md_row(&cells));
    }
    out
}

fn pr_cells(j: &Job) -> Vec<String> {
    vec![
        j.repo.clone(),
        j.level.clone().unwrap_or_else(|| "-".into()),
        if j.workflow.is_empty() {
            j.job.clone()
        } else {
            format!("{} / {}", j.workflow, j.job)
        },
        j.run_attempt.map_or("-".into(), |a| a.to_string()),
        j.verdict().to_string(),
        duration(j.duration_s.map(|d| d as f64)),
    ]
}

const PR_HEAD: [&str; 6] = [
    "repository",
    "level",
    "job",
    "attempt",
    "result",
    "duration",
];

fn pr_text(v: &PrView) -> String {
    let mut out = format!(
        "Downstream CI of {}#{} at {} ({}): {}\n",
        v.repo,
        v.pr,
        v.head_sha.as_deref().unwrap_or("-"),
        source_text(v.source),
        count(v.jobs.len(), "job", "jobs")
    );
    if v.jobs.is_empty() {
        return out;
    }
    let mut rows = vec![PR_HEAD.iter().map(|s| s.to_string()).collect()];
    rows.extend(v.jobs.iter().map(pr_cells));
    out.push_str(&table(&rows));
    out
}

fn pr_markdown(v: &PrView) -> String {
    let mut out = format!(
        "### Downstream CI of #{} at {}\n\nFrom {}; each job's latest attempt.\n\n",
        v.pr,
        code(v.head_sha.as_deref().unwrap_or("-")),
        source_text(v.source)
    );
    if v.jobs.is_empty() {
        out.push_str("No downstream results.\n");
        return out;
    }
    out.push_str(&md_row(&PR_HEAD.map(String::from)));
    out.push_str(&md_row(&vec!["---".to_string(); 6]));
    for j in &v.jobs {
        let mut cells = pr_cells(j);
        cells[0] = table_code(&j.repo);
        cells[2] = table_code(&cells[2].clone());
        cells[4] = match &j.log_url {
            Some(url) => format!(
                "[{}](<{}>)",
                table_code(j.verdict()),
                url.replace(['<', '>', '|', ' '], "")
            ),
            None => table_code(j.verdict()),
        };
        out.push_str(&md_row(&cells));
    }
    out
}
