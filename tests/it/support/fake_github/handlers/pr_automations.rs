//! What the pull-request automations need: a pull request's files, the
//! repository's labels, comment deletion and run cancel.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::{Ctx, Handled, Reply, repo_of, wrote};
use crate::support::fake_github::git::{EntryKind, TreeEntry};
use crate::support::fake_github::pagination;
use crate::support::fake_github::recorder::WriteKind;
use crate::support::fake_github::repo::Repo;
use crate::support::fake_github::shapes::issues as issue_shapes;
use crate::support::fake_github::shapes::{enc, repo_api, repo_html};
use crate::support::fake_github::world::World;

/// Every commit reachable from `sha`.
fn ancestors(repo: &Repo, sha: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![sha.to_owned()];
    while let Some(s) = todo.pop() {
        if !seen.insert(s.clone()) {
            continue;
        }
        if let Some(c) = repo.git.commits.get(&s) {
            todo.extend(c.parents.iter().cloned());
        }
    }
    seen
}

/// The files of a commit, by path (blobs only).
fn files_at(repo: &Repo, sha: &str) -> BTreeMap<String, TreeEntry> {
    repo.git
        .commits
        .get(sha)
        .map(|c| repo.git.flatten(&c.tree))
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, e)| e.kind == EntryKind::Blob)
        .collect()
}

/// `GET /repos/{owner}/{repo}/pulls/{pull_number}/files`: the files that
/// differ between the merge base and the head, as GitHub compares.
pub fn list_files(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, _) = repo_of(world, ctx)?;
    let n = ctx.existing("pull_number", &repo.pulls)?;
    let pull = &repo.pulls[&n];
    let base_tip = repo.branch_sha(&pull.base_ref).unwrap_or_default();
    let base_side = ancestors(repo, &base_tip);
    // The merge base: the first commit on the head's first-parent chain
    // that the base branch also has.
    let mut base = String::new();
    let mut at = Some(pull.head_sha.clone());
    while let Some(sha) = at {
        if base_side.contains(&sha) {
            base = sha;
            break;
        }
        at = repo
            .git
            .commits
            .get(&sha)
            .and_then(|c| c.parents.first().cloned());
    }
    let before = files_at(repo, &base);
    let after = files_at(repo, &pull.head_sha);
    let paths: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    let html = repo_html(repo);
    let api = repo_api(env, repo);
    let items = paths
        .into_iter()
        .filter_map(|p| {
            let (status, sha) = match (before.get(p), after.get(p)) {
                (None, Some(a)) => ("added", a.sha.clone()),
                (Some(b), None) => ("removed", b.sha.clone()),
                (Some(b), Some(a)) if a.sha != b.sha => ("modified", a.sha.clone()),
                _ => return None,
            };
            Some(json!({
                "sha": sha,
                "filename": p,
                "status": status,
                "additions": 1,
                "deletions": 1,
                "changes": 2,
                "blob_url": format!("{html}/blob/{}/{}", pull.head_sha, enc(p)),
                "raw_url": format!("{html}/raw/{}/{}", pull.head_sha, enc(p)),
                "contents_url": format!("{api}/contents/{}?ref={}", enc(p), pull.head_sha),
            }))
        })
        .collect();
    Ok(pagination::array_reply(env, ctx, items))
}

/// `GET /repos/{owner}/{repo}/labels`.
pub fn list_labels(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, _) = repo_of(world, ctx)?;
    let items = repo
        .labels
        .iter()
        .map(|l| issue_shapes::label(env, repo, l))
        .collect();
    Ok(pagination::array_reply(env, ctx, items))
}

/// `DELETE /repos/{owner}/{repo}/issues/comments/{comment_id}`.
pub fn delete_comment(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (_, repo, log) = repo_of(world, ctx)?;
    let id = ctx.id("comment_id")?;
    let at = repo
        .comments
        .iter()
        .position(|c| c.id == id)
        .ok_or_else(Reply::not_found)?;
    let gone = repo.comments.remove(at);
    wrote(log, ctx, WriteKind::Comment(gone.issue_number));
    Ok(Reply::no_content())
}

/// `POST /repos/{owner}/{repo}/actions/runs/{run_id}/cancel`: a run not
/// yet completed is cancelled with its unfinished jobs; a completed one
/// answers 409, as GitHub does.
pub fn cancel_run(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, log) = repo_of(world, ctx)?;
    let run_id = ctx.existing("run_id", &repo.runs)?;
    let now = env.tick();
    let Some(run) = repo.runs.get_mut(&run_id) else {
        return Err(Reply::not_found());
    };
    if run.status == "completed" {
        return Err(Reply::error(
            409,
            "Cannot cancel a workflow run that is completed.",
        ));
    }
    run.status = "completed".to_owned();
    run.conclusion = Some("cancelled".to_owned());
    run.updated_at = now;
    let attempt = run.run_attempt;
    for j in repo
        .jobs
        .values_mut()
        .filter(|j| j.run_id == run_id && j.run_attempt == attempt && j.status != "completed")
    {
        j.status = "completed".to_owned();
        j.conclusion = Some("cancelled".to_owned());
    }
    wrote(log, ctx, WriteKind::Cancel(run_id));
    Ok(Reply::json(202, json!({})))
}
