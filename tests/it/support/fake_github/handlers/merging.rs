//! Reviews, merging a pull request, and updating its branch.
//!
//! The fake's git store has no three-way merge: a merge takes the head's
//! tree (what a clean merge of a branch that contains its base gives), and
//! an update of a branch keeps the head's tree with the base as a second
//! parent. Tests that need conflicts seed them through `merge_blocked`.

use serde_json::json;

use super::{Ctx, Handled, Reply, repo_of, wrote};
use crate::support::fake_github::git::Signature;
use crate::support::fake_github::model::PullData;
use crate::support::fake_github::pagination;
use crate::support::fake_github::recorder::WriteKind;
use crate::support::fake_github::repo::Repo;
use crate::support::fake_github::shapes::pulls::head_sha;
use crate::support::fake_github::shapes::{association, node_id, repo_api, repo_html, ts, user};
use crate::support::fake_github::world::{Env, World};

fn pull_number(repo: &Repo, ctx: &Ctx<'_>) -> Result<u64, Reply> {
    ctx.existing("pull_number", &repo.pulls)
}

/// `GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews`.
pub fn list_reviews(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, _) = repo_of(world, ctx)?;
    let n = pull_number(repo, ctx)?;
    let items = repo
        .reviews
        .iter()
        .filter(|r| r.pull_number == n)
        .map(|r| {
            let html = format!("{}/pull/{n}#pullrequestreview-{}", repo_html(repo), r.id);
            let pr_api = format!("{}/pulls/{n}", repo_api(env, repo));
            json!({
                "id": r.id,
                "node_id": node_id("PRR", r.id),
                "user": user(env, &r.user),
                "body": r.body,
                "state": r.state,
                "html_url": html,
                "pull_request_url": pr_api,
                "_links": { "html": { "href": html }, "pull_request": { "href": pr_api } },
                "submitted_at": ts(r.submitted_at),
                "commit_id": r.commit_id,
                "author_association": association(repo, &r.user)
            })
        })
        .collect();
    Ok(pagination::array_reply(env, ctx, items))
}

fn signature(env: &mut Env, login: &str) -> Signature {
    Signature {
        name: login.to_owned(),
        email: format!(
            "{}@users.noreply.example.com",
            login.replace(['[', ']'], "")
        ),
        date: env.tick(),
    }
}

/// `PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge`: 409 when `sha` is
/// not the head any more, 405 when the pull request cannot be merged
/// (merged, closed, or refused by branch protection).
pub fn merge(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, log) = repo_of(world, ctx)?;
    let n = pull_number(repo, ctx)?;
    let pull = repo.pulls[&n].clone();
    let head = head_sha(repo, &pull);
    if pull.merged || repo.issues[&n].state != "open" {
        return Err(Reply::error(405, "Pull Request is not mergeable"));
    }
    if ctx.str_field("sha").is_some_and(|s| s != head) {
        return Err(Reply::error(
            409,
            "Head branch was modified. Review and try the merge again.",
        ));
    }
    if let Some(why) = &repo.merge_blocked {
        return Err(Reply::error(405, why));
    }
    let Some(base) = repo.branch_sha(&pull.base_ref) else {
        return Err(Reply::error(422, "Base branch does not exist"));
    };
    let tree = repo.git.commits[&head].tree.clone();
    let method = ctx.str_field("merge_method").unwrap_or("merge");
    let title = ctx
        .str_field("commit_title")
        .map(str::to_owned)
        .unwrap_or_else(|| format!("Merge pull request #{n}"));
    let message = match ctx.str_field("commit_message") {
        Some(m) => format!("{title}\n\n{m}"),
        None => title,
    };
    let parents = if method == "merge" {
        vec![base, head.clone()]
    } else {
        vec![base]
    };
    let author = signature(env, &ctx.actor);
    let sha = repo
        .git
        .put_commit(tree, parents, message, author.clone(), author);
    repo.git
        .refs
        .insert(format!("refs/heads/{}", pull.base_ref), sha.clone());
    if let Some(p) = repo.pulls.get_mut(&n) {
        p.merged = true;
        p.merge_commit_sha = Some(sha.clone());
        p.head_sha = head;
    }
    let now = env.tick();
    if let Some(issue) = repo.issues.get_mut(&n) {
        issue.state = "closed".to_owned();
        issue.closed_at = Some(now);
        issue.updated_at = now;
    }
    wrote(log, ctx, WriteKind::Merge(n));
    Ok(Reply::ok(json!({
        "sha": sha,
        "merged": true,
        "message": "Pull Request successfully merged"
    })))
}

/// `PUT /repos/{owner}/{repo}/pulls/{pull_number}/update-branch`: 422 when
/// `expected_head_sha` is not the head.
pub fn update_branch(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, log) = repo_of(world, ctx)?;
    let n = pull_number(repo, ctx)?;
    let pull = repo.pulls[&n].clone();
    let head = head_sha(repo, &pull);
    if ctx
        .str_field("expected_head_sha")
        .is_some_and(|s| s != head)
    {
        return Err(Reply::error(
            422,
            "expected head sha didn't match current head ref.",
        ));
    }
    let Some(base) = repo.branch_sha(&pull.base_ref) else {
        return Err(Reply::error(422, "Base branch does not exist"));
    };
    merge_base_into(env, repo, &pull, head, base, &ctx.actor);
    wrote(log, ctx, WriteKind::Merge(n));
    Ok(updating(&format!("{}/pull/{n}", repo_html(repo))))
}

/// Merge `base` into the pull request's branch `head` of `repo` (a fork's
/// for a fork's pull request), unless `head` has it already, as GitHub's
/// update-branch does.
pub fn merge_base_into(
    env: &mut Env,
    repo: &mut Repo,
    pull: &PullData,
    head: String,
    base: String,
    actor: &str,
) {
    if repo.git.is_ancestor(&base, &head) {
        return;
    }
    let Some(tree) = repo.git.commits.get(&head).map(|c| c.tree.clone()) else {
        return;
    };
    let author = signature(env, actor);
    let sha = repo.git.put_commit(
        tree,
        vec![head, base],
        format!("Merge branch '{}' into {}", pull.base_ref, pull.head_ref),
        author.clone(),
        author,
    );
    repo.git
        .refs
        .insert(format!("refs/heads/{}", pull.head_ref), sha);
}

/// update-branch's answer: accepted, the pull request at `url`.
pub fn updating(url: &str) -> Reply {
    Reply::json(
        202,
        json!({
            "message": "Updating pull request branch.",
            "url": url
        }),
    )
}
