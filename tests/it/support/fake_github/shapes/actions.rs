//! Workflows, workflow runs and jobs.

use serde_json::{Value, json};

use super::{enc, minimal_repo, node_id, repo_api, repo_html, ts, ts_opt, user};
use crate::support::fake_github::model::{Job, Run, Workflow};
use crate::support::fake_github::repo::Repo;
use crate::support::fake_github::world::Env;

/// A `workflow`.
pub fn workflow(env: &Env, repo: &Repo, w: &Workflow) -> Value {
    json!({
        "id": w.id,
        "node_id": node_id("W", w.id),
        "name": w.name,
        "path": w.path,
        "state": w.state,
        "created_at": "2020-01-01T00:00:00Z",
        "updated_at": "2020-01-01T00:00:00Z",
        "url": format!("{}/actions/workflows/{}", repo_api(env, repo), w.id),
        "html_url": format!("{}/blob/{}/{}", repo_html(repo), enc(&repo.default_branch), enc(&w.path)),
        "badge_url": format!("{}/workflows/{}/badge.svg", repo_html(repo), enc(&w.name))
    })
}

/// A `workflow-run`.
pub fn run(env: &Env, repo: &Repo, r: &Run) -> Value {
    let api = format!("{}/actions/runs/{}", repo_api(env, repo), r.id);
    let head_commit = repo.git.commits.get(&r.head_sha).map(|c| {
        json!({
            "id": c.sha,
            "tree_id": c.tree,
            "message": c.message,
            "timestamp": ts(c.committer.date),
            "author": { "name": c.author.name, "email": c.author.email },
            "committer": { "name": c.committer.name, "email": c.committer.email }
        })
    });
    let pull_requests: Vec<Value> = r
        .pull_requests
        .iter()
        .filter_map(|n| repo.pulls.get(n))
        .map(|p| super::pulls::minimal(env, repo, p))
        .collect();
    let previous = (r.run_attempt > 1).then(|| format!("{api}/attempts/{}", r.run_attempt - 1));
    // Check suites are not modelled; derive a stable id.
    let check_suite_id = r.id * 10 + 7;
    json!({
        "id": r.id,
        "name": r.name,
        "node_id": node_id("WFR", r.id),
        "head_branch": r.head_branch,
        "head_sha": r.head_sha,
        "path": r.path,
        "display_title": r.display_title,
        "run_number": r.run_number,
        "event": r.event,
        "status": r.status,
        "conclusion": r.conclusion,
        "workflow_id": r.workflow_id,
        "check_suite_id": check_suite_id,
        "check_suite_node_id": node_id("CS", check_suite_id),
        "url": api,
        "html_url": format!("{}/actions/runs/{}", repo_html(repo), r.id),
        "pull_requests": pull_requests,
        "created_at": ts(r.created_at),
        "updated_at": ts(r.updated_at),
        "actor": user(env, &r.actor),
        "triggering_actor": user(env, &r.actor),
        "run_attempt": r.run_attempt,
        "referenced_workflows": [],
        "run_started_at": ts(r.run_started_at),
        "jobs_url": format!("{api}/jobs"),
        "logs_url": format!("{api}/logs"),
        "check_suite_url": format!("{}/check-suites/{check_suite_id}", repo_api(env, repo)),
        "artifacts_url": format!("{api}/artifacts"),
        "cancel_url": format!("{api}/cancel"),
        "rerun_url": format!("{api}/rerun"),
        "previous_attempt_url": previous,
        "workflow_url": format!("{}/actions/workflows/{}", repo_api(env, repo), r.workflow_id),
        "head_commit": head_commit,
        "repository": minimal_repo(env, repo),
        "head_repository": head_repository(env, repo, r)
    })
}

/// The repository whose code a run ran: the repository itself, or a fork
/// of it (shaped like it, under the fork's name).
fn head_repository(env: &Env, repo: &Repo, r: &Run) -> Value {
    let mut v = minimal_repo(env, repo);
    if let Some(fork) = &r.head_repository {
        let (owner, name) = fork
            .split_once('/')
            .unwrap_or((fork.as_str(), repo.name.as_str()));
        v["id"] = json!(repo.id + 1_000_000);
        v["name"] = json!(name);
        v["full_name"] = json!(fork);
        v["owner"] = user(env, owner);
        v["fork"] = json!(true);
        v["html_url"] = json!(format!("https://github.com/{fork}"));
        v["url"] = json!(format!("{}/repos/{fork}", env.api_url));
    }
    v
}

/// A `job`.
pub fn job(env: &Env, repo: &Repo, j: &Job) -> Value {
    let run = repo.runs.get(&j.run_id);
    let steps: Vec<Value> = j
        .steps
        .iter()
        .map(|s| {
            json!({
                "name": s.name,
                "status": s.status,
                "conclusion": s.conclusion,
                "number": s.number,
                "started_at": ts_opt(s.started_at),
                "completed_at": ts_opt(s.completed_at)
            })
        })
        .collect();
    let runner = j.runner_name.as_ref();
    json!({
        "id": j.id,
        "run_id": j.run_id,
        "run_url": format!("{}/actions/runs/{}", repo_api(env, repo), j.run_id),
        "run_attempt": j.run_attempt,
        "node_id": node_id("CR", j.id),
        "head_sha": run.map(|r| r.head_sha.clone()).unwrap_or_default(),
        "head_branch": run.and_then(|r| r.head_branch.clone()),
        "workflow_name": run.map(|r| r.name.clone()),
        "url": format!("{}/actions/jobs/{}", repo_api(env, repo), j.id),
        "html_url": format!("{}/actions/runs/{}/job/{}", repo_html(repo), j.run_id, j.id),
        "status": j.status,
        "conclusion": j.conclusion,
        "created_at": ts(j.created_at),
        "started_at": ts(j.started_at),
        "completed_at": ts_opt(j.completed_at),
        "name": j.name,
        "steps": steps,
        "check_run_url": format!("{}/check-runs/{}", repo_api(env, repo), j.id),
        "labels": j.labels,
        "runner_id": runner.map(|_| 1),
        "runner_name": runner,
        "runner_group_id": runner.map(|_| 2),
        "runner_group_name": runner.map(|_| "GitHub Actions")
    })
}
