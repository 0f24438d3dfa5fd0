//! Check runs: create, update, and list those of a commit.
//!
//! Every token of the fake acts for the `github-actions` app, so every check
//! run the client creates is that app's; tests may seed others' directly in
//! the world (another app's run of the same name must not be updated).

use serde_json::{Value, json};

use super::{Ctx, Handled, Reply, repo_of, wrote};
use crate::support::fake_github::model::CheckRun;
use crate::support::fake_github::recorder::WriteKind;
use crate::support::fake_github::repo::Repo;
use crate::support::fake_github::shapes::{self, HTML, node_id, repo_api, repo_html, ts, ts_opt};
use crate::support::fake_github::world::{Env, World};

/// The app every token of the fake acts for.
pub const ACTIONS_APP: &str = "github-actions";

/// GitHub's limit on `output.summary` and `output.text`, in characters.
const OUTPUT_LIMIT: usize = 65_535;

fn app(env: &Env, slug: &str) -> Value {
    json!({
        "id": 15_368,
        "slug": slug,
        "node_id": node_id("A", 15_368),
        "owner": shapes::user(env, "github"),
        "name": if slug == ACTIONS_APP { "GitHub Actions" } else { slug },
        "description": "",
        "external_url": format!("{HTML}/features/actions"),
        "html_url": format!("{HTML}/apps/{slug}"),
        "created_at": "2018-07-30T09:30:17Z",
        "updated_at": "2019-12-10T19:04:12Z",
        "permissions": {"checks": "write", "metadata": "read"},
        "events": ["check_run", "check_suite"]
    })
}

/// A `check-run`.
pub fn shape(env: &Env, repo: &Repo, c: &CheckRun) -> Value {
    let api = repo_api(env, repo);
    json!({
        "id": c.id,
        "head_sha": c.head_sha,
        "node_id": node_id("CR", c.id),
        "external_id": c.external_id.clone().unwrap_or_default(),
        "url": format!("{api}/check-runs/{}", c.id),
        "html_url": format!("{}/runs/{}", repo_html(repo), c.id),
        "details_url": c.details_url,
        "status": c.status,
        "conclusion": c.conclusion,
        "started_at": ts(c.started_at),
        "completed_at": ts_opt(c.completed_at),
        "output": {
            "title": c.title,
            "summary": c.summary,
            "text": c.text,
            "annotations_count": 0,
            "annotations_url": format!("{api}/check-runs/{}/annotations", c.id)
        },
        "name": c.name,
        "check_suite": {"id": c.id + 1},
        "app": app(env, &c.app),
        "pull_requests": []
    })
}

const STATUSES: &[&str] = &["queued", "in_progress", "completed"];
const CONCLUSIONS: &[&str] = &[
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "success",
    "skipped",
    "timed_out",
];

/// Apply the fields of a create or update body; 422 as GitHub answers.
fn apply(env: &mut Env, c: &mut CheckRun, ctx: &Ctx<'_>) -> Result<(), Reply> {
    if let Some(name) = ctx.str_field("name") {
        c.name = name.to_owned();
    }
    if let Some(u) = ctx.str_field("details_url") {
        c.details_url = Some(u.to_owned());
    }
    if let Some(x) = ctx.str_field("external_id") {
        c.external_id = Some(x.to_owned());
    }
    if let Some(s) = ctx.str_field("status") {
        if !STATUSES.contains(&s) {
            return Err(Reply::invalid("CheckRun", "status", "invalid", None));
        }
        c.status = s.to_owned();
        if s != "completed" {
            c.conclusion = None;
            c.completed_at = None;
        }
    }
    if let Some(concl) = ctx.str_field("conclusion") {
        if !CONCLUSIONS.contains(&concl) {
            return Err(Reply::invalid("CheckRun", "conclusion", "invalid", None));
        }
        // Providing a conclusion completes the run.
        c.conclusion = Some(concl.to_owned());
        c.status = "completed".to_owned();
    }
    if c.status == "completed" {
        if c.conclusion.is_none() {
            return Err(Reply::invalid(
                "CheckRun",
                "conclusion",
                "missing_field",
                Some("conclusion is required when status is completed"),
            ));
        }
        c.completed_at.get_or_insert_with(|| env.tick());
    }
    if let Some(out) = ctx.field("output") {
        let text = |k: &str| out.get(k).and_then(Value::as_str).map(str::to_owned);
        let (Some(title), Some(summary)) = (text("title"), text("summary")) else {
            return Err(Reply::invalid("CheckRun", "output", "missing_field", None));
        };
        let body_text = text("text");
        let too_long = |s: &str| s.chars().count() > OUTPUT_LIMIT;
        if too_long(&summary) || body_text.as_deref().is_some_and(too_long) {
            return Err(Reply::invalid(
                "CheckRun",
                "output",
                "too_long",
                Some("Only 65535 characters are allowed"),
            ));
        }
        c.title = Some(title);
        c.summary = Some(summary);
        c.text = body_text;
    }
    Ok(())
}

/// `POST /repos/{owner}/{repo}/check-runs`.
pub fn create(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, log) = repo_of(world, ctx)?;
    let (Some(name), Some(head)) = (ctx.str_field("name"), ctx.str_field("head_sha")) else {
        return Err(Reply::invalid("CheckRun", "name", "missing_field", None));
    };
    let Some(head_sha) = repo.git.resolve(head) else {
        return Err(Reply::invalid(
            "CheckRun",
            "head_sha",
            "invalid",
            Some("No commit found for SHA"),
        ));
    };
    let now = env.tick();
    let mut c = CheckRun {
        id: env.next_id(),
        name: name.to_owned(),
        head_sha,
        status: "queued".to_owned(),
        conclusion: None,
        title: None,
        summary: None,
        text: None,
        details_url: None,
        external_id: None,
        app: ACTIONS_APP.to_owned(),
        started_at: now,
        completed_at: None,
    };
    apply(env, &mut c, ctx)?;
    let id = c.id;
    repo.check_runs.push(c);
    wrote(log, ctx, WriteKind::CheckRun(id));
    let last = repo.check_runs.last().ok_or_else(Reply::not_found)?;
    Ok(Reply::created(shape(env, repo, last)))
}

/// `PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}`: only the app
/// that created a check run may change it.
pub fn update(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, log) = repo_of(world, ctx)?;
    let id = ctx.id("check_run_id")?;
    let Some(i) = repo.check_runs.iter().position(|c| c.id == id) else {
        return Err(Reply::not_found());
    };
    if repo.check_runs[i].app != ACTIONS_APP {
        return Err(Reply::error(
            403,
            "Invalid app_id `15368` - check run can only be modified by its creator",
        ));
    }
    let mut c = repo.check_runs[i].clone();
    apply(env, &mut c, ctx)?;
    repo.check_runs[i] = c;
    wrote(log, ctx, WriteKind::CheckRun(id));
    Ok(Reply::ok(shape(env, repo, &repo.check_runs[i])))
}

/// `GET /repos/{owner}/{repo}/commits/{ref}/check-runs`: newest first;
/// `check_name` filters by name, `filter=latest` (the default) keeps the
/// newest run of each name and app.
pub fn list_for_ref(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, _) = repo_of(world, ctx)?;
    let rev = ctx.param("ref");
    let Some(sha) = repo.git.resolve(rev) else {
        return Err(Reply::error(
            422,
            &format!("No commit found for SHA: {rev}"),
        ));
    };
    let latest = ctx.query("filter") != Some("all");
    let mut seen = std::collections::BTreeSet::new();
    let items: Vec<Value> = repo
        .check_runs
        .iter()
        .rev()
        .filter(|c| c.head_sha == sha)
        .filter(|c| ctx.query("check_name").is_none_or(|n| c.name == n))
        .filter(|c| ctx.query("status").is_none_or(|s| c.status == s))
        .filter(|c| !latest || seen.insert((c.name.clone(), c.app.clone())))
        .map(|c| shape(env, repo, c))
        .collect();
    Ok(super::super::pagination::wrapped_reply(
        env,
        ctx,
        "check_runs",
        items,
    ))
}
