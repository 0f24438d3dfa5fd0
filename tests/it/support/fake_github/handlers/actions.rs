//! Actions: workflows, runs, jobs, logs, re-runs, dispatches.

use std::io::Write as _;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};

use super::{Ctx, Handled, Reply, repo_of, wrote};
use crate::support::fake_github::model::{Dispatch, Job, Logs, Rerun, Run, is_failure};
use crate::support::fake_github::pagination;
use crate::support::fake_github::recorder::{Recorder, WriteKind};
use crate::support::fake_github::repo::Repo;
use crate::support::fake_github::shapes::actions as shapes;
use crate::support::fake_github::world::{Env, World};

/// GitHub's answer for logs past retention.
fn logs_gone() -> Reply {
    Reply::error(
        410,
        "The logs for this run have expired and are no longer available.",
    )
}

fn run_of(repo: &Repo, ctx: &Ctx<'_>) -> Result<u64, Reply> {
    ctx.existing("run_id", &repo.runs)
}

/// Whether `t` passes a `created` filter (`>=2024-01-01`, `a..b`, a date).
fn created_matches(filter: &str, t: DateTime<Utc>) -> bool {
    let parse = |s: &str| -> Option<DateTime<Utc>> {
        let s = s.trim();
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .ok()
            .or_else(|| {
                NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .ok()
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .map(|d| d.and_utc())
            })
    };
    if let Some((a, b)) = filter.split_once("..") {
        let lo = if a == "*" { None } else { parse(a) };
        let hi = if b == "*" { None } else { parse(b) };
        return lo.is_none_or(|lo| t >= lo)
            && hi.is_none_or(|hi| t <= hi + chrono::Duration::days(1));
    }
    for (op, f) in [
        (
            ">=",
            (|t, x| t >= x) as fn(DateTime<Utc>, DateTime<Utc>) -> bool,
        ),
        ("<=", |t, x| t <= x),
        (">", |t, x| t > x),
        ("<", |t, x| t < x),
    ] {
        if let Some(rest) = filter.strip_prefix(op) {
            return parse(rest).is_none_or(|x| f(t, x));
        }
    }
    parse(filter).is_none_or(|x| t.date_naive() == x.date_naive())
}

fn run_json(env: &Env, repo: &Repo, run: &Run, exclude_prs: bool) -> Value {
    let mut v = shapes::run(env, repo, run);
    if exclude_prs {
        v["pull_requests"] = json!([]);
    }
    v
}

/// `GET .../actions/runs` and `GET .../actions/workflows/{workflow_id}/runs`.
pub fn list_runs(world: &mut World, ctx: &Ctx<'_>, workflow: Option<&str>) -> Handled {
    let (env, repo, _) = repo_of(world, ctx)?;
    let workflow_id = match workflow {
        Some(w) => Some(repo.workflow(w).ok_or_else(Reply::not_found)?.id),
        None => None,
    };
    let exclude_prs = ctx.query("exclude_pull_requests") == Some("true");
    let mut runs: Vec<&Run> = repo
        .runs
        .values()
        .filter(|r| workflow_id.is_none_or(|w| r.workflow_id == w))
        .filter(|r| ctx.query("actor").is_none_or(|a| r.actor == a))
        .filter(|r| {
            ctx.query("branch")
                .is_none_or(|b| r.head_branch.as_deref() == Some(b))
        })
        .filter(|r| ctx.query("event").is_none_or(|e| r.event == e))
        .filter(|r| ctx.query("head_sha").is_none_or(|s| r.head_sha == s))
        .filter(|r| {
            ctx.query("status")
                .is_none_or(|s| r.status == s || r.conclusion.as_deref() == Some(s))
        })
        .filter(|r| {
            ctx.query("created")
                .is_none_or(|c| created_matches(c, r.created_at))
        })
        .filter(|r| {
            ctx.query("check_suite_id")
                .is_none_or(|c| c == (r.id * 10 + 7).to_string())
        })
        .collect();
    runs.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    let items = runs
        .into_iter()
        .map(|r| run_json(env, repo, r, exclude_prs))
        .collect();
    Ok(pagination::wrapped_reply(env, ctx, "workflow_runs", items))
}

/// `GET .../actions/runs/{run_id}`.
pub fn get_run(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, _) = repo_of(world, ctx)?;
    let id = run_of(repo, ctx)?;
    let exclude_prs = ctx.query("exclude_pull_requests") == Some("true");
    Ok(Reply::ok(run_json(env, repo, &repo.runs[&id], exclude_prs)))
}

/// `GET .../runs/{run_id}/jobs` (`attempt` none) and
/// `GET .../runs/{run_id}/attempts/{attempt_number}/jobs`.
pub fn list_jobs(world: &mut World, ctx: &Ctx<'_>, attempt: Option<u32>) -> Handled {
    let (env, repo, _) = repo_of(world, ctx)?;
    let id = run_of(repo, ctx)?;
    let latest = repo.runs[&id].run_attempt;
    let jobs: Vec<&Job> = match attempt {
        Some(a) if a == 0 || a > latest => return Err(Reply::not_found()),
        Some(a) => repo.jobs_of(id, a),
        None if ctx.query("filter") == Some("all") => {
            repo.jobs.values().filter(|j| j.run_id == id).collect()
        }
        None => repo.jobs_of(id, latest),
    };
    let items = jobs
        .into_iter()
        .map(|j| shapes::job(env, repo, j))
        .collect();
    Ok(pagination::wrapped_reply(env, ctx, "jobs", items))
}

/// `GET .../actions/jobs/{job_id}`.
pub fn get_job(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, _) = repo_of(world, ctx)?;
    let id = ctx.id("job_id")?;
    let job = repo.jobs.get(&id).ok_or_else(Reply::not_found)?;
    Ok(Reply::ok(shapes::job(env, repo, job)))
}

/// `GET .../actions/jobs/{job_id}/logs`: 302 to the blob host.
pub fn job_logs(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, _) = repo_of(world, ctx)?;
    let id = ctx.id("job_id")?;
    let job = repo.jobs.get(&id).ok_or_else(Reply::not_found)?;
    match &job.logs {
        Logs::Available(bytes) => Ok(Reply::redirect(
            env.put_blob(bytes.clone(), "text/plain; charset=utf-8"),
        )),
        Logs::Expired => Err(logs_gone()),
        Logs::Missing => Err(Reply::not_found()),
    }
}

/// The log archive of a run's latest attempt: one `{n}_{job}.txt` per job.
fn build_zip(repo: &Repo, run: &Run) -> Result<Vec<u8>, Reply> {
    let jobs = repo.jobs_of(run.id, run.run_attempt);
    if jobs.iter().any(|j| j.logs == Logs::Expired) {
        return Err(logs_gone());
    }
    let with_logs: Vec<&Job> = jobs
        .into_iter()
        .filter(|j| matches!(j.logs, Logs::Available(_)))
        .collect();
    if with_logs.is_empty() {
        return Err(Reply::not_found());
    }
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (i, job) in with_logs.iter().enumerate() {
        let Logs::Available(bytes) = &job.logs else {
            continue;
        };
        let name = format!("{i}_{}.txt", job.name.replace(['/', ':'], "_"));
        let written = zip
            .start_file(name, options)
            .and_then(|()| zip.write_all(bytes).map_err(Into::into));
        if let Err(e) = written {
            return Err(Reply::error(
                500,
                &format!("fake could not build the zip: {e}"),
            ));
        }
    }
    zip.finish()
        .map(std::io::Cursor::into_inner)
        .map_err(|e| Reply::error(500, &format!("fake could not build the zip: {e}")))
}

/// `GET .../actions/runs/{run_id}/logs`: 302 to a zip on the blob host.
pub fn run_logs(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, _) = repo_of(world, ctx)?;
    let id = run_of(repo, ctx)?;
    let run = &repo.runs[&id];
    let bytes = match &run.logs_zip {
        Some(Logs::Available(bytes)) => bytes.clone(),
        Some(Logs::Expired) => return Err(logs_gone()),
        Some(Logs::Missing) => return Err(Reply::not_found()),
        None => build_zip(repo, run)?,
    };
    Ok(Reply::redirect(env.put_blob(bytes, "application/zip")))
}

/// 403 unless the run is completed: GitHub re-runs nothing while it runs.
fn not_running(run: &Run) -> Result<(), Reply> {
    if run.status == "completed" {
        Ok(())
    } else {
        Err(Reply::error(403, "This workflow is already running"))
    }
}

/// Starts a new attempt of a run (the jobs `pick` selects are queued afresh,
/// the others carry their results over) and records the re-run request.
fn rerun(
    env: &mut Env,
    repo: &mut Repo,
    log: &mut Recorder,
    ctx: &Ctx<'_>,
    run_id: u64,
    job_id: Option<u64>,
    pick: impl Fn(&Job) -> bool,
) -> Handled {
    let now = env.tick();
    let run = repo.runs.get_mut(&run_id).ok_or_else(Reply::not_found)?;
    let previous = run.run_attempt;
    run.run_attempt += 1;
    run.status = "queued".to_owned();
    run.conclusion = None;
    run.updated_at = now;
    run.run_started_at = now;
    let attempt = run.run_attempt;
    let old: Vec<Job> = repo
        .jobs_of(run_id, previous)
        .into_iter()
        .cloned()
        .collect();
    for job in old {
        let id = env.next_id();
        let fresh = if pick(&job) {
            Job {
                id,
                run_attempt: attempt,
                status: "queued".to_owned(),
                conclusion: None,
                created_at: now,
                started_at: now,
                completed_at: None,
                steps: Vec::new(),
                logs: Logs::Missing,
                runner_name: None,
                ..job
            }
        } else {
            Job {
                id,
                run_attempt: attempt,
                ..job
            }
        };
        repo.jobs.insert(id, fresh);
    }
    repo.reruns.push(Rerun {
        run_id,
        job_id,
        enable_debug_logging: ctx
            .field("enable_debug_logging")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        new_attempt: attempt,
        actor: ctx.actor.clone(),
    });
    wrote(log, ctx, WriteKind::Rerun(run_id));
    Ok(Reply::created(json!({})))
}

/// `POST .../actions/jobs/{job_id}/rerun`.
pub fn rerun_job(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, log) = repo_of(world, ctx)?;
    let job_id = ctx.id("job_id")?;
    let job = repo.jobs.get(&job_id).ok_or_else(Reply::not_found)?;
    let (run_id, name) = (job.run_id, job.name.clone());
    let run = repo.runs.get(&run_id).ok_or_else(Reply::not_found)?;
    not_running(run)?;
    if job.run_attempt != run.run_attempt {
        return Err(Reply::error(
            403,
            "This job is not part of the latest attempt of its workflow run",
        ));
    }
    rerun(env, repo, log, ctx, run_id, Some(job_id), |j| {
        j.name == name
    })
}

/// `POST .../actions/runs/{run_id}/rerun-failed-jobs`.
pub fn rerun_failed(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, log) = repo_of(world, ctx)?;
    let run_id = run_of(repo, ctx)?;
    let run = &repo.runs[&run_id];
    not_running(run)?;
    let failed = |j: &Job| is_failure(j.conclusion.as_deref());
    if !repo
        .jobs_of(run_id, run.run_attempt)
        .into_iter()
        .any(failed)
    {
        return Err(Reply::error(403, "This workflow run cannot be retried"));
    }
    rerun(env, repo, log, ctx, run_id, None, failed)
}

/// `GET .../actions/workflows`.
pub fn list_workflows(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, _) = repo_of(world, ctx)?;
    let items = repo
        .workflows
        .iter()
        .map(|w| shapes::workflow(env, repo, w))
        .collect();
    Ok(pagination::wrapped_reply(env, ctx, "workflows", items))
}

/// `POST .../actions/workflows/{workflow_id}/dispatches`.
pub fn dispatch(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, log) = repo_of(world, ctx)?;
    let requested = ctx.param("workflow_id").to_owned();
    let workflow = repo
        .workflow(&requested)
        .cloned()
        .ok_or_else(Reply::not_found)?;
    let git_ref = ctx.str_field("ref").unwrap_or_default().to_owned();
    let Some(sha) = repo.git.resolve(&git_ref) else {
        return Err(Reply::error(422, &format!("No ref found for: {git_ref}")));
    };
    let inputs = ctx
        .field("inputs")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let details = ctx.field("return_run_details").and_then(Value::as_bool) == Some(true);

    let run_id = if env.dispatch_creates_runs || details {
        let now = env.tick();
        let id = env.next_id();
        let run_number = repo.next_run_number();
        let branch = git_ref
            .strip_prefix("refs/heads/")
            .or_else(|| git_ref.strip_prefix("refs/tags/"))
            .unwrap_or(&git_ref)
            .to_owned();
        repo.runs.insert(
            id,
            Run {
                id,
                workflow_id: workflow.id,
                name: workflow.name.clone(),
                path: workflow.path.clone(),
                event: "workflow_dispatch".to_owned(),
                head_sha: sha,
                head_branch: Some(branch),
                display_title: workflow.name.clone(),
                status: "queued".to_owned(),
                conclusion: None,
                run_attempt: 1,
                run_number,
                actor: ctx.actor.clone(),
                created_at: now,
                updated_at: now,
                run_started_at: now,
                logs_zip: None,
                pull_requests: Vec::new(),
                head_repository: None,
            },
        );
        Some(id)
    } else {
        None
    };
    repo.dispatches.push(Dispatch {
        workflow_id: workflow.id,
        workflow: requested,
        git_ref,
        inputs,
        run_id,
        actor: ctx.actor.clone(),
    });
    wrote(log, ctx, WriteKind::Dispatch(workflow.id));
    match (details, run_id) {
        (true, Some(id)) => {
            let api = format!(
                "{}/repos/{}/actions/runs/{id}",
                env.api_url,
                repo.full_name()
            );
            let html = format!("https://github.com/{}/actions/runs/{id}", repo.full_name());
            Ok(Reply::ok(json!({
                "workflow_run_id": id,
                "run_url": api,
                "html_url": html
            })))
        }
        _ => Ok(Reply::no_content()),
    }
}
