//! Pull requests.

use serde_json::{Value, json};

use super::issues::{edit_text, set_state};
use super::{Ctx, Handled, Reply, repo_of, wrote};
use crate::support::fake_github::model::PullData;
use crate::support::fake_github::pagination;
use crate::support::fake_github::recorder::WriteKind;
use crate::support::fake_github::repo::Repo;
use crate::support::fake_github::shapes::pulls as shapes;
use crate::support::fake_github::world::{Env, World};

fn pull_number(repo: &Repo, ctx: &Ctx<'_>) -> Result<u64, Reply> {
    ctx.existing("pull_number", &repo.pulls)
}

fn render(env: &Env, repo: &Repo, n: u64, full: bool) -> Value {
    shapes::pull(env, repo, &repo.issues[&n], &repo.pulls[&n], full)
}

/// `owner:branch` or `branch` to the branch name, if the owner is the
/// repository's (forks are not modelled).
fn head_branch<'a>(repo: &Repo, head: &'a str) -> Option<&'a str> {
    match head.split_once(':') {
        Some((owner, branch)) if owner.eq_ignore_ascii_case(&repo.owner) => Some(branch),
        Some(_) => None,
        None => Some(head),
    }
}

/// `GET /repos/{owner}/{repo}/pulls`.
pub fn list(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, _) = repo_of(world, ctx)?;
    let state = ctx.query("state").unwrap_or("open");
    let head = ctx.query("head").map(|h| head_branch(repo, h));
    let mut numbers: Vec<u64> = repo
        .pulls
        .values()
        .filter(|p| {
            let issue = &repo.issues[&p.number];
            (state == "all" || issue.state == state)
                && head.is_none_or(|h| h == Some(p.head_ref.as_str()))
                && ctx.query("base").is_none_or(|b| p.base_ref == b)
        })
        .map(|p| p.number)
        .collect();
    let sort = ctx.query("sort").unwrap_or("created");
    match sort {
        "updated" => numbers.sort_by_key(|n| (repo.issues[n].updated_at, *n)),
        _ => numbers.sort_by_key(|n| (repo.issues[n].created_at, *n)),
    }
    let default_desc = sort == "created";
    let desc = match ctx.query("direction") {
        Some(d) => d == "desc",
        None => default_desc,
    };
    if desc {
        numbers.reverse();
    }
    let items = numbers
        .into_iter()
        .map(|n| render(env, repo, n, false))
        .collect();
    Ok(pagination::array_reply(env, ctx, items))
}

fn custom_error(message: &str) -> Reply {
    Reply::json(
        422,
        json!({
            "message": "Validation Failed",
            "errors": [{ "resource": "PullRequest", "code": "custom", "message": message }],
            "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request",
            "status": "422"
        }),
    )
}

/// `POST /repos/{owner}/{repo}/pulls`.
pub fn create(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, log) = repo_of(world, ctx)?;
    let head_raw = ctx.str_field("head").unwrap_or_default();
    let base = ctx.str_field("base").unwrap_or_default().to_owned();
    let Some(base_sha) = repo.branch_sha(&base) else {
        return Err(Reply::invalid("PullRequest", "base", "invalid", None));
    };
    let Some(head) = head_branch(repo, head_raw).map(str::to_owned) else {
        return Err(Reply::invalid("PullRequest", "head", "invalid", None));
    };
    let Some(head_sha) = repo.branch_sha(&head) else {
        return Err(Reply::invalid("PullRequest", "head", "invalid", None));
    };
    let Some(title) = ctx.str_field("title").map(str::to_owned) else {
        return Err(Reply::invalid(
            "PullRequest",
            "title",
            "missing_field",
            None,
        ));
    };
    let duplicate = repo.pulls.values().any(|p| {
        p.head_ref == head && p.base_ref == base && repo.issues[&p.number].state == "open"
    });
    if duplicate {
        return Err(custom_error(&format!(
            "A pull request already exists for {}:{head}.",
            repo.owner
        )));
    }
    if repo.git.is_ancestor(&head_sha, &base_sha) {
        return Err(custom_error(&format!(
            "No commits between {base} and {head}"
        )));
    }
    let body = ctx.str_field("body").map(str::to_owned);
    let number = repo.open_issue(env, title, body, &ctx.actor, true);
    repo.pulls.insert(
        number,
        PullData {
            id: env.next_id(),
            number,
            head_ref: head,
            head_sha,
            base_ref: base,
            draft: ctx.field("draft").and_then(Value::as_bool).unwrap_or(false),
            maintainer_can_modify: ctx
                .field("maintainer_can_modify")
                .and_then(Value::as_bool)
                .unwrap_or(true),
            merged: false,
            merge_commit_sha: None,
            fork_owner: None,
        },
    );
    wrote(log, ctx, WriteKind::Pull(number));
    Ok(Reply::created(render(env, repo, number, true)))
}

/// `GET /repos/{owner}/{repo}/pulls/{pull_number}`.
pub fn get(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, _) = repo_of(world, ctx)?;
    let n = pull_number(repo, ctx)?;
    Ok(Reply::ok(render(env, repo, n, true)))
}

/// `PATCH /repos/{owner}/{repo}/pulls/{pull_number}`.
pub fn update(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, log) = repo_of(world, ctx)?;
    let n = pull_number(repo, ctx)?;
    if let Some(base) = ctx.str_field("base") {
        if repo.branch_sha(base).is_none() {
            return Err(Reply::invalid("PullRequest", "base", "invalid", None));
        }
        if let Some(p) = repo.pulls.get_mut(&n) {
            p.base_ref = base.to_owned();
        }
    }
    if let Some(m) = ctx.field("maintainer_can_modify").and_then(Value::as_bool)
        && let Some(p) = repo.pulls.get_mut(&n)
    {
        p.maintainer_can_modify = m;
    }
    edit_text(env, repo, n, ctx);
    if let Some(state) = ctx.str_field("state") {
        let reason = (state == "open").then_some("reopened");
        set_state(env, repo, n, state, reason);
        if let Some(issue) = repo.issues.get_mut(&n)
            && state == "closed"
        {
            issue.state_reason = None;
        }
    }
    wrote(log, ctx, WriteKind::Pull(n));
    Ok(Reply::ok(render(env, repo, n, true)))
}

/// `GET /repos/{owner}/{repo}/commits/{commit_sha}/pulls`: open pull requests
/// that contain the commit, and the one that merged it.
pub fn for_commit(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, _) = repo_of(world, ctx)?;
    let rev = ctx.param("commit_sha");
    let Some(sha) = repo.git.resolve(rev) else {
        return Err(Reply::error(
            422,
            &format!("No commit found for SHA: {rev}"),
        ));
    };
    let numbers: Vec<u64> = repo
        .pulls
        .values()
        .filter(|p| {
            if p.merge_commit_sha.as_deref() == Some(sha.as_str()) {
                return true;
            }
            let head = shapes::head_sha(repo, p);
            let base = repo.branch_sha(&p.base_ref).unwrap_or_default();
            repo.issues[&p.number].state == "open"
                && repo.git.is_ancestor(&sha, &head)
                && !repo.git.is_ancestor(&sha, &base)
        })
        .map(|p| p.number)
        .collect();
    let items = numbers
        .into_iter()
        .map(|n| render(env, repo, n, false))
        .collect();
    Ok(pagination::array_reply(env, ctx, items))
}
