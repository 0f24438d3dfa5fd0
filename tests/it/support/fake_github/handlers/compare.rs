//! `GET /repos/{owner}/{repo}/compare/{base}...{head}`: the merge base of two
//! commits and the commits between them.

use std::collections::HashSet;

use serde_json::{Value, json};

use super::{Ctx, Handled, Reply, repo_of};
use crate::support::fake_github::shapes::{git as shapes, repo_api, repo_html};
use crate::support::fake_github::world::World;

/// `GET .../compare/{basehead}`. The merge base is the newest commit of
/// `head`'s history that `base`'s history holds; `commits` are those of
/// `head` not in `base` (oldest first, as GitHub lists them), paged by
/// `per_page` and `page`.
pub fn compare(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, _) = repo_of(world, ctx)?;
    let basehead = ctx.param("basehead");
    let Some((base_rev, head_rev)) = basehead.split_once("...") else {
        return Err(Reply::not_found());
    };
    let (Some(base), Some(head)) = (repo.git.resolve(base_rev), repo.git.resolve(head_rev)) else {
        return Err(Reply::not_found());
    };
    let in_base: HashSet<String> = repo
        .git
        .history(&base)
        .into_iter()
        .map(|c| c.sha.clone())
        .collect();
    let head_history = repo.git.history(&head);
    let Some(merge_base) = head_history
        .iter()
        .find(|c| in_base.contains(&c.sha))
        .map(|c| c.sha.clone())
    else {
        return Err(Reply::not_found());
    };
    let in_head: HashSet<&str> = head_history.iter().map(|c| c.sha.as_str()).collect();
    let mut ahead: Vec<Value> = head_history
        .iter()
        .filter(|c| !in_base.contains(&c.sha))
        .map(|c| shapes::commit(env, repo, c, false))
        .collect();
    ahead.reverse();
    let behind_by = in_base
        .iter()
        .filter(|s| !in_head.contains(s.as_str()))
        .count();
    let ahead_by = ahead.len();
    let status = match (ahead_by, behind_by) {
        (0, 0) => "identical",
        (_, 0) => "ahead",
        (0, _) => "behind",
        _ => "diverged",
    };
    let per_page: usize = ctx
        .query("per_page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(250)
        .clamp(1, 250);
    let page: usize = ctx
        .query("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
    let commits: Vec<Value> = ahead
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let api = repo_api(env, repo);
    let html = repo_html(repo);
    Ok(Reply::ok(json!({
        "url": format!("{api}/compare/{basehead}"),
        "html_url": format!("{html}/compare/{basehead}"),
        "permalink_url": format!("{html}/compare/{base}...{head}"),
        "diff_url": format!("{html}/compare/{basehead}.diff"),
        "patch_url": format!("{html}/compare/{basehead}.patch"),
        "base_commit": shapes::commit(env, repo, &repo.git.commits[&base], false),
        "merge_base_commit": shapes::commit(env, repo, &repo.git.commits[&merge_base], false),
        "status": status,
        "ahead_by": ahead_by,
        "behind_by": behind_by,
        "total_commits": ahead_by,
        "commits": commits,
    })))
}
