//! Dismissing a pull-request review.

use serde_json::json;

use super::{Ctx, Handled, Reply, repo_of, wrote};
use crate::support::fake_github::recorder::WriteKind;
use crate::support::fake_github::shapes::{association, node_id, repo_api, repo_html, ts, user};
use crate::support::fake_github::world::World;

/// `PUT /repos/{owner}/{repo}/pulls/{pull_number}/reviews/{review_id}/dismissals`:
/// only an approval or a request for changes can be dismissed; anything
/// else answers 422, as GitHub does. A `message` is required.
pub fn dismiss(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, log) = repo_of(world, ctx)?;
    let n = ctx.existing("pull_number", &repo.pulls)?;
    let id = ctx.id("review_id")?;
    if ctx.str_field("message").is_none_or(str::is_empty) {
        return Err(Reply::invalid(
            "PullRequestReview",
            "message",
            "missing_field",
            None,
        ));
    }
    let html = format!("{}/pull/{n}#pullrequestreview-{id}", repo_html(repo));
    let pr_api = format!("{}/pulls/{n}", repo_api(env, repo));
    let assoc_of = |login: &str| association(repo, login);
    let Some(at) = repo
        .reviews
        .iter()
        .position(|r| r.pull_number == n && r.id == id)
    else {
        return Err(Reply::not_found());
    };
    let state = repo.reviews[at].state.clone();
    if state != "APPROVED" && state != "CHANGES_REQUESTED" {
        return Err(Reply::error(
            422,
            "Can not dismiss a dismissed pull request review",
        ));
    }
    let r = repo.reviews[at].clone();
    let assoc = assoc_of(&r.user);
    repo.reviews[at].state = "DISMISSED".to_owned();
    wrote(log, ctx, WriteKind::Dismissal(id));
    Ok(Reply::ok(json!({
        "id": r.id,
        "node_id": node_id("PRR", r.id),
        "user": user(env, &r.user),
        "body": r.body,
        "state": "DISMISSED",
        "html_url": html,
        "pull_request_url": pr_api,
        "_links": { "html": { "href": html }, "pull_request": { "href": pr_api } },
        "submitted_at": ts(r.submitted_at),
        "commit_id": r.commit_id,
        "author_association": assoc
    })))
}
