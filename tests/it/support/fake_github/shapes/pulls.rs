//! Pull requests (`pull-request`, `pull-request-simple`, `pull-request-minimal`).

use std::collections::HashSet;

use serde_json::{Value, json};

use super::issues::issue_labels;
use super::{association, full_repo, node_id, repo_api, repo_html, ts, ts_opt, user};
use crate::support::fake_github::model::{Issue, PullData};
use crate::support::fake_github::repo::Repo;
use crate::support::fake_github::world::Env;

/// Current head commit: the branch tip while the branch exists.
pub fn head_sha(repo: &Repo, p: &PullData) -> String {
    repo.branch_sha(&p.head_ref)
        .unwrap_or_else(|| p.head_sha.clone())
}

fn branch(env: &Env, repo: &Repo, name: &str, sha: String) -> Value {
    json!({
        "label": format!("{}:{name}", repo.owner),
        "ref": name,
        "sha": sha,
        "user": user(env, &repo.owner),
        "repo": full_repo(env, repo)
    })
}

/// A pull request; `full` adds what only `GET /pulls/{n}` (and create/update)
/// return: merge state, counts.
pub fn pull(env: &Env, repo: &Repo, i: &Issue, p: &PullData, full: bool) -> Value {
    let api = format!("{}/pulls/{}", repo_api(env, repo), i.number);
    let issue_api = format!("{}/issues/{}", repo_api(env, repo), i.number);
    let html = format!("{}/pull/{}", repo_html(repo), i.number);
    let head = head_sha(repo, p);
    let base = repo.branch_sha(&p.base_ref).unwrap_or_default();
    let merged_at = if p.merged { i.closed_at } else { None };
    let mut labels = issue_labels(env, repo, &i.labels);
    if !full {
        // `pull-request-simple` documents label descriptions as plain strings.
        for l in &mut labels {
            if l.get("description").is_some_and(Value::is_null) {
                l["description"] = json!("");
            }
        }
    }
    let links = json!({
        "self": { "href": api },
        "html": { "href": html },
        "issue": { "href": issue_api },
        "comments": { "href": format!("{issue_api}/comments") },
        "review_comments": { "href": format!("{api}/comments") },
        "review_comment": { "href": format!("{}/pulls/comments{{/number}}", repo_api(env, repo)) },
        "commits": { "href": format!("{api}/commits") },
        "statuses": { "href": format!("{}/statuses/{head}", repo_api(env, repo)) }
    });
    let mut v = json!({
        "url": api,
        "id": p.id,
        "node_id": node_id("PR", p.id),
        "html_url": html,
        "diff_url": format!("{html}.diff"),
        "patch_url": format!("{html}.patch"),
        "issue_url": issue_api,
        "commits_url": format!("{api}/commits"),
        "review_comments_url": format!("{api}/comments"),
        "review_comment_url": format!("{}/pulls/comments{{/number}}", repo_api(env, repo)),
        "comments_url": format!("{issue_api}/comments"),
        "statuses_url": format!("{}/statuses/{head}", repo_api(env, repo)),
        "number": i.number,
        "state": i.state,
        "locked": i.locked,
        "title": i.title,
        "user": user(env, &i.user),
        "body": i.body,
        "labels": labels,
        "milestone": null,
        "active_lock_reason": null,
        "created_at": ts(i.created_at),
        "updated_at": ts(i.updated_at),
        "closed_at": ts_opt(i.closed_at),
        "merged_at": ts_opt(merged_at),
        "merge_commit_sha": p.merge_commit_sha,
        "assignee": i.assignees.first().map(|a| user(env, a)),
        "assignees": i.assignees.iter().map(|a| user(env, a)).collect::<Vec<_>>(),
        "requested_reviewers": [],
        "requested_teams": [],
        "head": branch(env, repo, &p.head_ref, head.clone()),
        "base": branch(env, repo, &p.base_ref, base.clone()),
        "_links": links,
        "author_association": association(repo, &i.user),
        "auto_merge": null,
        "draft": p.draft
    });
    if let Some(owner) = &p.fork_owner {
        let head = &mut v["head"];
        head["label"] = json!(format!("{owner}:{}", p.head_ref));
        head["user"] = user(env, owner);
        head["repo"]["full_name"] = json!(format!("{owner}/{}", repo.name));
        head["repo"]["owner"] = user(env, owner);
        head["repo"]["fork"] = json!(true);
    }
    if full && let Some(obj) = v.as_object_mut() {
        let in_base: HashSet<&str> = repo
            .git
            .history(&base)
            .iter()
            .map(|c| c.sha.as_str())
            .collect();
        let commits = repo
            .git
            .history(&head)
            .iter()
            .filter(|c| !in_base.contains(c.sha.as_str()))
            .count();
        let tree = |sha: &str| repo.git.commits.get(sha).map(|c| c.tree.clone());
        let changes = match (tree(&base), tree(&head)) {
            (before, Some(after)) => repo.git.diff_trees(before.as_deref(), &after),
            _ => Vec::new(),
        };
        let extra = json!({
            "merged": p.merged,
            "mergeable": if i.state == "open" { json!(true) } else { json!(null) },
            "rebaseable": if i.state == "open" { json!(true) } else { json!(null) },
            "mergeable_state": if i.state == "open" { "clean" } else { "unknown" },
            "merged_by": null,
            "comments": repo.comments.iter().filter(|c| c.issue_number == i.number).count(),
            "review_comments": 0,
            "maintainer_can_modify": p.maintainer_can_modify,
            "commits": commits,
            "additions": changes.iter().map(|c| c.additions).sum::<usize>(),
            "deletions": changes.iter().map(|c| c.deletions).sum::<usize>(),
            "changed_files": changes.len()
        });
        if let Value::Object(extra) = extra {
            obj.extend(extra);
        }
    }
    v
}

/// A `pull-request-minimal` (as listed in a workflow run).
pub fn minimal(env: &Env, repo: &Repo, p: &PullData) -> Value {
    let repo_ref = json!({
        "id": repo.id,
        "url": repo_api(env, repo),
        "name": repo.name
    });
    json!({
        "id": p.id,
        "number": p.number,
        "url": format!("{}/pulls/{}", repo_api(env, repo), p.number),
        "head": { "ref": p.head_ref, "sha": head_sha(repo, p), "repo": repo_ref },
        "base": {
            "ref": p.base_ref,
            "sha": repo.branch_sha(&p.base_ref).unwrap_or_default(),
            "repo": repo_ref
        }
    })
}
