//! `ingest`: write `workflow_job`, `workflow_run` and `push` webhook payloads
//! into ClickHouse, so a repository can feed its own store from a workflow
//! (`on: [push, workflow_run]`) or from a webhook relay (`workflow_job`).
//!
//! - `workflow_job`: one job row. The payload lacks the run's event, which
//!   restart detection needs: it is read from the ingested `workflow_run`
//!   row, else from the API, else inferred (a `trunk/{sha}` branch is a
//!   restart). A failed job's log is analyzed when a token is at hand, so the
//!   row carries the failure's rule and fingerprint.
//! - `workflow_run`: one run row; when the run completed and a token is at
//!   hand, the jobs of that attempt too (Actions cannot trigger a workflow on
//!   `workflow_job`, so this is how a repository's own workflow feeds jobs).
//! - `push`: one push row with its commits (ghstack pushes carry several).
//!
//! Rows are versioned by `updated_at` (the latest timestamp of the payload,
//! plus a few milliseconds by status), so a late `in_progress` never
//! replaces a `completed`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::Value;

use clickhouse::Row;

use crate::analyze::RuleSet;
use crate::app::Ctx;
use crate::autorevert::{RESTART_EVENT, is_restart_branch};
use crate::cli::{Context, IngestArgs};
use crate::config::Config;
use crate::event::status::{conclusion_str, status_str};
use crate::event::{Conclusion, Status};
use crate::github::Client;
use crate::github::types::JobInfo;
use crate::handlers::{Delivery, Request};
use crate::plan::{self, Outcome, Plan, StepOptions, Write};
use crate::store::{
    JobFailure, JobRow, JobStep, PushCommit, PushRow, Store, TableRows, WorkflowRunRow,
};

#[derive(Debug, Deserialize)]
struct Repository {
    full_name: String,
    #[serde(default)]
    pushed_at: Option<PushedAt>,
}

/// `repository.pushed_at`: seconds since the epoch in `push` payloads, a
/// timestamp elsewhere.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum PushedAt {
    Epoch(i64),
    Time(DateTime<Utc>),
}

#[derive(Debug, Deserialize)]
struct WorkflowJobPayload {
    workflow_job: WebhookJob,
    repository: Repository,
}

#[derive(Debug, Clone, Deserialize)]
struct WebhookStep {
    #[serde(default)]
    number: i64,
    #[serde(default)]
    name: String,
    #[serde(default)]
    status: Option<Status>,
    #[serde(default)]
    conclusion: Option<Conclusion>,
    #[serde(default)]
    started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    completed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Deserialize)]
struct WebhookJob {
    id: i64,
    run_id: i64,
    #[serde(default = "one")]
    run_attempt: i64,
    #[serde(default)]
    workflow_name: Option<String>,
    head_sha: String,
    #[serde(default)]
    head_branch: Option<String>,
    name: String,
    #[serde(default)]
    labels: Vec<String>,
    #[serde(default)]
    runner_name: Option<String>,
    status: Status,
    #[serde(default)]
    conclusion: Option<Conclusion>,
    #[serde(default)]
    created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    completed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    steps: Vec<WebhookStep>,
    #[serde(default)]
    html_url: Option<String>,
}

fn one() -> i64 {
    1
}

#[derive(Debug, Deserialize)]
struct WorkflowRunPayload {
    workflow_run: WebhookRun,
    #[serde(default)]
    workflow: Option<WebhookWorkflow>,
    repository: Repository,
}

#[derive(Debug, Deserialize)]
struct WebhookWorkflow {
    #[serde(default)]
    path: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct WebhookRun {
    id: i64,
    #[serde(default = "one")]
    run_attempt: i64,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    event: String,
    head_sha: String,
    #[serde(default)]
    head_branch: Option<String>,
    #[serde(default)]
    status: Option<Status>,
    #[serde(default)]
    conclusion: Option<Conclusion>,
    #[serde(default)]
    created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    updated_at: Option<DateTime<Utc>>,
    #[serde(default)]
    html_url: String,
}

#[derive(Debug, Deserialize)]
struct PushPayload {
    #[serde(rename = "ref")]
    git_ref: String,
    after: String,
    #[serde(default)]
    deleted: bool,
    #[serde(default)]
    commits: Vec<PushCommitPayload>,
    #[serde(default)]
    head_commit: Option<PushCommitPayload>,
    repository: Repository,
}

#[derive(Debug, Clone, Deserialize)]
struct PushCommitPayload {
    id: String,
    #[serde(default)]
    timestamp: Option<DateTime<Utc>>,
    #[serde(default)]
    message: String,
    #[serde(default)]
    author: Option<PushAuthor>,
}

#[derive(Debug, Clone, Deserialize)]
struct PushAuthor {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

/// The rows one payload gives.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    pub jobs: Vec<JobRow>,
    pub runs: Vec<WorkflowRunRow>,
    pub pushes: Vec<PushRow>,
}

/// A later status must win over an earlier one with the same timestamp.
fn status_rank(status: Option<&Status>) -> i64 {
    match status {
        Some(Status::Waiting) => 1,
        Some(Status::InProgress) => 2,
        Some(Status::Completed) => 3,
        _ => 0,
    }
}

fn parse<T: serde::de::DeserializeOwned>(event: &str, payload: &Value) -> Result<T> {
    serde_path_to_error::deserialize(payload)
        .map_err(|e| anyhow::anyhow!("malformed {event} payload at `{}`: {}", e.path(), e.inner()))
}

/// The event of a job's run, when the job row alone does not say: a
/// `trunk/{sha}` branch is an autorevert restart.
pub fn inferred_event(head_branch: &str, head_sha: &str) -> &'static str {
    if is_restart_branch(head_branch, head_sha) {
        RESTART_EVENT
    } else {
        ""
    }
}

/// The rows of one payload, without looking anything up.
pub fn rows(event: &str, payload: &Value, now: DateTime<Utc>) -> Result<Rows> {
    let mut out = Rows::default();
    match event {
        "workflow_job" => {
            let p: WorkflowJobPayload = parse(event, payload)?;
            out.jobs
                .push(job_row(&p.workflow_job, &p.repository.full_name, now));
        }
        "workflow_run" => {
            let p: WorkflowRunPayload = parse(event, payload)?;
            let path = p
                .workflow_run
                .path
                .clone()
                .or_else(|| p.workflow.and_then(|w| w.path))
                .unwrap_or_default();
            out.runs.push(run_row(
                &p.workflow_run,
                &path,
                &p.repository.full_name,
                now,
            ));
        }
        "push" => {
            let p: PushPayload = parse(event, payload)?;
            if let Some(row) = push_row(&p, now) {
                out.pushes.push(row);
            }
        }
        _ => {}
    }
    Ok(out)
}

fn job_row(j: &WebhookJob, repo: &str, now: DateTime<Utc>) -> JobRow {
    let (created, started, completed) = (j.created_at, j.started_at, j.completed_at);
    let latest = [created, started, completed]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(now);
    let head_branch = j.head_branch.clone().unwrap_or_default();
    JobRow {
        id: j.id,
        run_id: j.run_id,
        run_attempt: j.run_attempt,
        repository_full_name: repo.to_string(),
        workflow_name: j.workflow_name.clone().unwrap_or_default(),
        workflow_event: inferred_event(&head_branch, &j.head_sha).to_string(),
        head_sha: j.head_sha.clone(),
        head_branch,
        name: j.name.clone(),
        labels: j.labels.clone(),
        runner_name: j.runner_name.clone().unwrap_or_default(),
        status: j.status.to_string(),
        conclusion: conclusion_str(j.conclusion.as_ref()).to_string(),
        created_at: created.or(started).unwrap_or(now),
        started_at: started,
        completed_at: completed,
        steps: j
            .steps
            .iter()
            .map(|s| JobStep {
                number: s.number,
                name: s.name.clone(),
                status: status_str(s.status.as_ref()).to_string(),
                conclusion: conclusion_str(s.conclusion.as_ref()).to_string(),
                started_at: s.started_at,
                completed_at: s.completed_at,
            })
            .collect(),
        failure: JobFailure::default(),
        html_url: j.html_url.clone().unwrap_or_default(),
        updated_at: latest + Duration::milliseconds(status_rank(Some(&j.status))),
    }
}

fn run_row(r: &WebhookRun, path: &str, repo: &str, now: DateTime<Utc>) -> WorkflowRunRow {
    let created = r.created_at.unwrap_or(now);
    let updated = r.updated_at.unwrap_or(created);
    WorkflowRunRow {
        id: r.id,
        run_attempt: r.run_attempt,
        repository_full_name: repo.to_string(),
        name: r.name.clone().unwrap_or_default(),
        path: path.to_string(),
        event: r.event.clone(),
        head_sha: r.head_sha.clone(),
        head_branch: r.head_branch.clone().unwrap_or_default(),
        status: status_str(r.status.as_ref()).to_string(),
        conclusion: conclusion_str(r.conclusion.as_ref()).to_string(),
        created_at: created,
        updated_at: updated + Duration::milliseconds(status_rank(r.status.as_ref())),
        html_url: r.html_url.clone(),
    }
}

fn push_row(p: &PushPayload, now: DateTime<Utc>) -> Option<PushRow> {
    if p.deleted || p.after.bytes().all(|b| b == b'0') {
        return None;
    }
    let pushed_at = match &p.repository.pushed_at {
        Some(PushedAt::Epoch(s)) => DateTime::from_timestamp(*s, 0),
        Some(PushedAt::Time(t)) => Some(*t),
        None => None,
    }
    .or_else(|| p.head_commit.as_ref().and_then(|c| c.timestamp))
    .unwrap_or(now);
    let mut commits: Vec<&PushCommitPayload> = p.commits.iter().collect();
    if commits.is_empty()
        && let Some(head) = &p.head_commit
    {
        commits.push(head);
    }
    Some(PushRow {
        repository_full_name: p.repository.full_name.clone(),
        git_ref: p.git_ref.clone(),
        after: p.after.clone(),
        pushed_at,
        commits: commits
            .into_iter()
            .map(|c| PushCommit {
                id: c.id.clone(),
                timestamp: c.timestamp.unwrap_or(pushed_at),
                message: c.message.clone(),
                author: c
                    .author
                    .as_ref()
                    .and_then(|a| a.email.clone().or_else(|| a.name.clone()))
                    .unwrap_or_default(),
            })
            .collect(),
    })
}

/// A job the API listed, as a row of its run.
fn api_job_row(job: &JobInfo, run: &WorkflowRunRow, now: DateTime<Utc>) -> JobRow {
    let webhook = WebhookJob {
        id: i64::try_from(job.id).unwrap_or_default(),
        run_id: i64::try_from(job.run_id).unwrap_or_default(),
        run_attempt: i64::try_from(job.run_attempt).unwrap_or(1),
        workflow_name: Some(run.name.clone()),
        head_sha: if job.head_sha.is_empty() {
            run.head_sha.clone()
        } else {
            job.head_sha.clone()
        },
        head_branch: Some(run.head_branch.clone()),
        name: job.name.clone(),
        labels: job.labels.clone(),
        runner_name: job.runner_name.clone(),
        // A job the API listed without a status keeps the empty one.
        status: job
            .status
            .clone()
            .unwrap_or_else(|| Status::Other(String::new())),
        conclusion: job.conclusion.clone(),
        created_at: job.started_at,
        started_at: job.started_at,
        completed_at: job.completed_at,
        steps: job
            .steps
            .iter()
            .map(|s| WebhookStep {
                number: i64::try_from(s.number).unwrap_or_default(),
                name: s.name.clone(),
                status: s.status.clone(),
                conclusion: s.conclusion.clone(),
                started_at: s.started_at,
                completed_at: s.completed_at,
            })
            .collect(),
        html_url: job.html_url.clone(),
    };
    let mut row = job_row(&webhook, &run.repository_full_name, now);
    row.workflow_event = run.event.clone();
    row
}

/// Analyse a failed job's log and, when the analyser explains it, put its
/// verdict on the job's row (as a newer version of the row).
async fn analyze(
    client: &Client,
    config: &Config,
    rules: &RuleSet,
    job: JobInfo,
    row: &mut JobRow,
) {
    if !job.failed() {
        return;
    }
    let facts = crate::job_logs::read_job(client, config, rules, job).await;
    let Some(f) = facts.failures.into_iter().next() else {
        return;
    };
    row.failure = JobFailure {
        rule: f.rule,
        category: f.category.as_str().to_string(),
        line: f.text,
        line_num: i64::try_from(f.line).unwrap_or_default(),
        captures: f.captures.into_values().collect(),
        fingerprint: f.fingerprint,
    };
    row.updated_at += Duration::milliseconds(8);
}

/// `ingest`: the payload of `--event`/`--payload` (or the runner's event),
/// through the ingest handler like a delivered event.
pub async fn command(cx: &Context, args: &IngestArgs) -> Result<ExitCode> {
    let event = args
        .event
        .clone()
        .or_else(|| cx.env.var("GITHUB_EVENT_NAME").map(str::to_string))
        .filter(|e| !e.is_empty())
        .context("no event: pass --event NAME or set GITHUB_EVENT_NAME")?;
    let path = args
        .payload
        .clone()
        .or_else(|| cx.env.var("GITHUB_EVENT_PATH").map(PathBuf::from))
        .context("no payload: pass --payload FILE or set GITHUB_EVENT_PATH")?;
    let (payload, text) = read(&path)?;
    // The API is optional: without a token (or for another repository than
    // the token's), rows carry what the payload says.
    let client = cx.client().ok().filter(|c| {
        c.repo()
            .full()
            .eq_ignore_ascii_case(&payload_repo(&payload))
    });
    let config = cx.load_config(client.as_ref()).await?;
    let ctx = cx.ctx(client, config);
    let request = Request::Ingest {
        event,
        payload: text,
    };
    crate::app::offer(&ctx, &Delivery::Request(request)).await
}

/// A payload file, parsed, and its text.
fn read(path: &std::path::Path) -> Result<(Value, String)> {
    let bytes = crate::event::read_payload(path, crate::event::MAX_PAYLOAD_BYTES)?;
    let payload: Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("payload {} is not JSON", path.display()))?;
    let text = String::from_utf8(bytes)
        .with_context(|| format!("payload {} is not UTF-8", path.display()))?;
    Ok((payload, text))
}

fn payload_repo(payload: &Value) -> String {
    payload
        .pointer("/repository/full_name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// What ingesting one payload decides from: its rows, completed from the
/// store and the API, and the versions of those rows already stored.
#[derive(Debug, Clone, Default)]
pub struct IngestFacts {
    pub event: String,
    pub rows: Rows,
    pub stored: Stored,
}

/// The versions of a payload's rows the store already holds: runs by
/// (id, attempt) and jobs by (id, run), with their latest `updated_at` in
/// milliseconds; pushes by (ref, after, pushed_at in milliseconds).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stored {
    pub runs: BTreeMap<(i64, i64), i64>,
    pub jobs: BTreeMap<(i64, i64), i64>,
    pub pushes: BTreeSet<(String, String, i64)>,
}

/// Read the rows of `event`'s payload (`text`, or else the runner's event
/// file), complete them, and read which of them the store already has.
/// Writes nothing: under `--dry-run` without a store, nothing is read from
/// one either.
pub async fn gather(cx: &Ctx, event: &str, text: Option<&str>) -> Result<IngestFacts> {
    let payload: Value = match text {
        Some(t) => serde_json::from_str(t).context("the payload is not JSON")?,
        None => {
            let path = cx
                .env
                .var("GITHUB_EVENT_PATH")
                .map(PathBuf::from)
                .context("GITHUB_EVENT_PATH is not set")?;
            read(&path)?.0
        }
    };
    let now = Utc::now();
    let mut rows = rows(event, &payload, now)?;
    let mut facts = IngestFacts {
        event: event.to_string(),
        ..IngestFacts::default()
    };
    if rows == Rows::default() {
        return Ok(facts);
    }
    let repo = payload_repo(&payload);
    let client = cx
        .github
        .as_ref()
        .filter(|c| c.repo().full().eq_ignore_ascii_case(&repo));
    let config = &cx.config;
    // Reading is fine under --dry-run, and a dry run needs no store at all.
    let store = if cx.dry_run() && cx.store_config().is_err() {
        None
    } else {
        Some(cx.store().await?)
    };
    let rules = config.rules()?;

    if event == "workflow_job" {
        for row in &mut rows.jobs {
            complete_job(store, client, config, &rules, row, &payload).await?;
        }
    }
    if event == "workflow_run"
        && let Some(client) = client
        && payload.get("action").and_then(Value::as_str) == Some("completed")
        && let Some(run) = rows.runs.first().cloned()
    {
        let attempt = u64::try_from(run.run_attempt).unwrap_or(1);
        let run_id = u64::try_from(run.id).unwrap_or_default();
        let jobs = match client.run_jobs(run_id, attempt).await {
            Ok(jobs) => jobs,
            Err(e) => {
                let msg = format!("the jobs of run {run_id} were not read: {e}");
                tracing::warn!("{msg}");
                cx.env.annotate_warning(&msg);
                Vec::new()
            }
        };
        for job in jobs {
            let mut row = api_job_row(&job, &run, now);
            analyze(client, config, &rules, job, &mut row).await;
            rows.jobs.push(row);
        }
    }
    if let Some(store) = store {
        facts.stored = stored(store, &repo, &rows).await?;
    }
    facts.rows = rows;
    Ok(facts)
}

#[derive(Debug, Row, Deserialize)]
struct Version {
    id: i64,
    other: i64,
    version: i64,
}

#[derive(Debug, Row, Deserialize)]
struct PushKey {
    git_ref: String,
    after: String,
    at: i64,
}

const STORED_RUNS: &str = "\
SELECT id, run_attempt AS other, toUnixTimestamp64Milli(max(updated_at)) AS version
FROM workflow_run
WHERE repository_full_name = {repo:String} AND id IN {ids:Array(Int64)}
GROUP BY id, run_attempt";

const STORED_JOBS: &str = "\
SELECT id, run_id AS other, toUnixTimestamp64Milli(max(updated_at)) AS version
FROM workflow_job
WHERE repository_full_name = {repo:String} AND id IN {ids:Array(Int64)}
GROUP BY id, run_id";

const STORED_PUSHES: &str = "\
SELECT ref AS git_ref, after, toUnixTimestamp64Milli(pushed_at) AS at
FROM push
WHERE repository_full_name = {repo:String} AND after IN {afters:Array(String)}";

/// The versions the store holds of `rows` (one query per table with rows).
async fn stored(store: &Store, repo: &str, rows: &Rows) -> Result<Stored> {
    let mut out = Stored::default();
    let versions = |sql: &'static str, ids: Vec<i64>| async move {
        store
            .client()
            .query_raw(sql)
            .param("repo", repo)
            .param("ids", ids)
            .fetch_all::<Version>()
            .await
            .context("reading the rows already stored")
    };
    if !rows.runs.is_empty() {
        let ids = rows.runs.iter().map(|r| r.id).collect();
        for v in versions(STORED_RUNS, ids).await? {
            out.runs.insert((v.id, v.other), v.version);
        }
    }
    if !rows.jobs.is_empty() {
        let ids = rows.jobs.iter().map(|r| r.id).collect();
        for v in versions(STORED_JOBS, ids).await? {
            out.jobs.insert((v.id, v.other), v.version);
        }
    }
    if !rows.pushes.is_empty() {
        let afters: Vec<String> = rows.pushes.iter().map(|p| p.after.clone()).collect();
        let keys = store
            .client()
            .query_raw(STORED_PUSHES)
            .param("repo", repo)
            .param("afters", afters)
            .fetch_all::<PushKey>()
            .await
            .context("reading the pushes already stored")?;
        out.pushes = keys
            .into_iter()
            .map(|k| (k.git_ref, k.after, k.at))
            .collect();
    }
    Ok(out)
}

/// The rows the store lacks: a row whose version (or, for a push, whose
/// key) is already stored is not written again, so the same event
/// delivered twice writes once.
pub fn unstored(rows: &Rows, stored: &Stored) -> Rows {
    let newer = |have: Option<&i64>, version: DateTime<Utc>| {
        have.is_none_or(|&v| v < version.timestamp_millis())
    };
    Rows {
        runs: rows
            .runs
            .iter()
            .filter(|r| newer(stored.runs.get(&(r.id, r.run_attempt)), r.updated_at))
            .cloned()
            .collect(),
        jobs: rows
            .jobs
            .iter()
            .filter(|j| newer(stored.jobs.get(&(j.id, j.run_id)), j.updated_at))
            .cloned()
            .collect(),
        pushes: rows
            .pushes
            .iter()
            .filter(|p| {
                !stored.pushes.contains(&(
                    p.git_ref.clone(),
                    p.after.clone(),
                    p.pushed_at.timestamp_millis(),
                ))
            })
            .cloned()
            .collect(),
    }
}

/// The inserts for the rows the store lacks. Pure.
pub fn decide(f: &IngestFacts) -> Plan {
    let fresh = unstored(&f.rows, &f.stored);
    let known = |all: usize, new: usize, table: &str| {
        (all > new).then(|| format!("{} {table} row(s) already stored", all - new))
    };
    let notes: Vec<String> = [
        known(f.rows.runs.len(), fresh.runs.len(), "workflow_run"),
        known(f.rows.pushes.len(), fresh.pushes.len(), "push"),
        known(f.rows.jobs.len(), fresh.jobs.len(), "workflow_job"),
    ]
    .into_iter()
    .flatten()
    .collect();
    let mut plan = plan(&f.event, fresh);
    for n in notes {
        plan.note(n);
    }
    plan
}

/// Print what was ingested (or, in a dry run, the plan); a failed insert
/// fails the handler.
pub fn report(cx: &Ctx, f: &IngestFacts, plan: &Plan, report: &plan::Report) -> Result<ExitCode> {
    let event = &f.event;
    if f.rows == Rows::default() {
        crate::outln!(cx.env, "ci-medic: nothing to ingest from a {event} event");
        return Ok(ExitCode::SUCCESS);
    }
    if cx.json() {
        crate::outln!(
            cx.env,
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"plan": plan, "report": report}))?
        );
    } else if report.dry_run {
        cx.env.echo_untrusted(&plan.to_text());
        cx.env.echo_untrusted(&report.to_text());
    }
    if let Some(error) = report.results.iter().find_map(|(_, o)| match o {
        Outcome::Failed { error } => Some(error),
        _ => None,
    }) {
        anyhow::bail!("{error}");
    }
    if !report.dry_run && !cx.json() {
        let count = |table: &str| {
            plan.steps
                .iter()
                .find_map(|s| match &s.write {
                    Write::InsertRows { rows } if rows.table() == table => Some(rows.len()),
                    _ => None,
                })
                .unwrap_or_default()
        };
        let known: String = plan.notes.iter().map(|n| format!("; {n}")).collect();
        crate::outln!(
            cx.env,
            "ci-medic: ingested {} job(s), {} run(s), {} push(es) from a {event} event{known}",
            count("workflow_job"),
            count("workflow_run"),
            count("push")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The inserts of one payload's rows: runs, pushes, then jobs (a job's
/// restart detection reads its run), each table's rows in one insert, each
/// insert only after the one before it landed.
pub fn plan(event: &str, rows: Rows) -> Plan {
    let mut plan = Plan::new("ingest");
    let why = format!("a {event} event");
    let mut previous: Option<String> = None;
    for rows in [
        TableRows::Runs(rows.runs),
        TableRows::Pushes(rows.pushes),
        TableRows::Jobs(rows.jobs),
    ] {
        if !rows.is_empty() {
            let options = StepOptions {
                depends_on: previous.take().into_iter().collect(),
                ..StepOptions::default()
            };
            previous = Some(plan.push_with(Write::InsertRows { rows }, why.clone(), options));
        }
    }
    plan
}

/// Fill in what a `workflow_job` payload lacks: the run's workflow and
/// event, and the failure's analysis.
async fn complete_job(
    store: Option<&Store>,
    client: Option<&Client>,
    config: &Config,
    rules: &RuleSet,
    row: &mut JobRow,
    payload: &Value,
) -> Result<()> {
    let stored = match store {
        Some(s) => s.run_event(&row.repository_full_name, row.run_id).await?,
        None => None,
    };
    match stored {
        Some(run) => {
            row.workflow_event = run.event;
            if row.workflow_name.is_empty() {
                row.workflow_name = run.name;
            }
        }
        None => {
            if let Some(c) = client
                && let Ok(run_id) = u64::try_from(row.run_id)
            {
                match c.run(run_id).await {
                    Ok(run) => {
                        row.workflow_event = run.event;
                        if row.workflow_name.is_empty() {
                            row.workflow_name = run.name.unwrap_or_default();
                        }
                    }
                    Err(e) => tracing::warn!("run {run_id} not read: {e}"),
                }
            }
        }
    }
    if let Some(c) = client
        && let Some(job) = payload.get("workflow_job")
        && let Ok(info) = serde_json::from_value::<JobInfo>(job.clone())
    {
        analyze(c, config, rules, info, row).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(path: &str) -> Value {
        let full = format!("{}/fixtures/webhooks/{path}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&full).expect("fixture");
        serde_json::from_str(&text).expect("json")
    }

    #[test]
    fn every_workflow_job_fixture_becomes_a_row() {
        let now = Utc::now();
        for name in [
            "00-in_progress.json",
            "01-completed.json",
            "02-completed.json",
            "03-in_progress.json",
            "04-in_progress.json",
            "05-queued.json",
            "06-queued.json",
            "07-waiting.json",
        ] {
            let rows = rows(
                "workflow_job",
                &fixture(&format!("workflow_job/{name}")),
                now,
            )
            .expect(name);
            assert_eq!(rows.jobs.len(), 1, "{name}");
            let j = &rows.jobs[0];
            assert!(j.id > 0 && j.run_id > 0, "{name}");
            assert!(!j.repository_full_name.is_empty(), "{name}");
        }
        let done = rows(
            "workflow_job",
            &fixture("workflow_job/01-completed.json"),
            now,
        )
        .expect("rows");
        let running = rows(
            "workflow_job",
            &fixture("workflow_job/00-in_progress.json"),
            now,
        )
        .expect("rows");
        assert_eq!(done.jobs[0].status, "completed");
        assert!(done.jobs[0].completed_at.is_some());
        assert!(running.jobs[0].updated_at > DateTime::<Utc>::default());
    }

    #[test]
    fn workflow_run_and_push_fixtures() {
        let now = Utc::now();
        let r = rows(
            "workflow_run",
            &fixture("workflow_run/01-completed.json"),
            now,
        )
        .expect("run");
        assert_eq!(r.runs.len(), 1);
        assert_eq!(r.runs[0].path, ".github/workflows/test.yml");
        assert_eq!(r.runs[0].event, "repository_dispatch");
        let p = rows("push", &fixture("push/04-event.json"), now).expect("push");
        assert_eq!(p.pushes.len(), 1);
        let push = &p.pushes[0];
        assert_eq!(push.git_ref, "refs/heads/master");
        assert_eq!(push.commits.len(), 1);
        assert_eq!(push.pushed_at.timestamp(), 1_557_933_657);
        // A deleted tag pushes nothing.
        let gone = rows("push", &fixture("push/01-event.json"), now).expect("push");
        assert!(gone.pushes.is_empty());
        assert_eq!(
            rows("issues", &fixture("issues/00-edited.json"), now).expect("ok"),
            Rows::default()
        );
        assert!(rows("push", &serde_json::json!({"ref": 1}), now).is_err());
    }

    #[test]
    fn the_plan_inserts_runs_and_pushes_before_jobs_and_skips_empty_tables() {
        let now = Utc::now();
        let mut r = rows(
            "workflow_run",
            &fixture("workflow_run/01-completed.json"),
            now,
        )
        .expect("run");
        r.jobs = rows(
            "workflow_job",
            &fixture("workflow_job/01-completed.json"),
            now,
        )
        .expect("job")
        .jobs;
        let plan = plan("workflow_run", r);
        let described: Vec<String> = plan.steps.iter().map(|s| s.write.describe()).collect();
        assert_eq!(
            described,
            [
                "insert 1 row(s) into ClickHouse table workflow_run",
                "insert 1 row(s) into ClickHouse table workflow_job",
            ]
        );
        assert!(plan.writes_to_store());
        assert_eq!(plan.steps[0].reason, "a workflow_run event");
        // A failed insert stops the ones after it.
        assert!(plan.steps[0].depends_on.is_empty());
        assert_eq!(plan.steps[1].depends_on, [plan.steps[0].id.clone()]);
    }

    #[test]
    fn rows_already_stored_are_not_planned_again() {
        let now = Utc::now();
        let mut r = rows(
            "workflow_run",
            &fixture("workflow_run/01-completed.json"),
            now,
        )
        .expect("run");
        r.jobs = rows(
            "workflow_job",
            &fixture("workflow_job/01-completed.json"),
            now,
        )
        .expect("job")
        .jobs;
        r.pushes = rows("push", &fixture("push/04-event.json"), now)
            .expect("push")
            .pushes;
        let (run, job, push) = (&r.runs[0], &r.jobs[0], &r.pushes[0]);
        let facts = |stored: Stored| IngestFacts {
            event: "workflow_run".into(),
            rows: r.clone(),
            stored,
        };
        assert_eq!(decide(&facts(Stored::default())).steps.len(), 3);
        // The same versions stored: nothing to write, and the plan says why.
        let same = Stored {
            runs: [((run.id, run.run_attempt), run.updated_at.timestamp_millis())].into(),
            jobs: [((job.id, job.run_id), job.updated_at.timestamp_millis())].into(),
            pushes: [(
                push.git_ref.clone(),
                push.after.clone(),
                push.pushed_at.timestamp_millis(),
            )]
            .into(),
        };
        let plan = decide(&facts(same.clone()));
        assert!(plan.steps.is_empty(), "{plan:?}");
        assert_eq!(plan.notes.len(), 3, "{plan:?}");
        // An older stored version of the job: the newer one is written.
        let mut older = same;
        older
            .jobs
            .insert((job.id, job.run_id), job.updated_at.timestamp_millis() - 1);
        let plan = decide(&facts(older));
        let described: Vec<String> = plan.steps.iter().map(|s| s.write.describe()).collect();
        assert_eq!(
            described,
            ["insert 1 row(s) into ClickHouse table workflow_job"]
        );
    }

    #[test]
    fn restarts_are_inferred_from_the_tag() {
        assert_eq!(inferred_event("trunk/abc", "abc"), "workflow_dispatch");
        assert_eq!(inferred_event("trunk/abd", "abc"), "");
        assert_eq!(inferred_event("main", "abc"), "");
        assert!(status_rank(Some(&Status::Completed)) > status_rank(Some(&Status::InProgress)));
    }
}
