//! Issues, comments, labels and issue events.

use serde_json::{Value, json};

use super::{association, enc, node_id, repo_api, repo_html, ts, ts_opt, user};
use crate::support::fake_github::model::{Comment, Issue, IssueEvent, Label};
use crate::support::fake_github::repo::{DEFAULT_LABEL_COLOR, Repo};
use crate::support::fake_github::world::Env;

/// A `label`.
pub fn label(env: &Env, repo: &Repo, l: &Label) -> Value {
    json!({
        "id": l.id,
        "node_id": node_id("LA", l.id),
        "url": format!("{}/labels/{}", repo_api(env, repo), enc(&l.name)),
        "name": l.name,
        "description": l.description,
        "color": l.color,
        "default": false
    })
}

/// The label objects of an issue, in order.
pub fn issue_labels(env: &Env, repo: &Repo, names: &[String]) -> Vec<Value> {
    names
        .iter()
        .map(|name| match repo.label(name) {
            Some(l) => label(env, repo, l),
            None => label(
                env,
                repo,
                &Label {
                    id: 0,
                    name: name.clone(),
                    color: DEFAULT_LABEL_COLOR.to_owned(),
                    description: None,
                },
            ),
        })
        .collect()
}

/// An `issue` (a pull request's issue carries a `pull_request` object).
pub fn issue(env: &Env, repo: &Repo, i: &Issue) -> Value {
    let api = format!("{}/issues/{}", repo_api(env, repo), i.number);
    let kind = if i.is_pull_request { "pull" } else { "issues" };
    let comments = repo
        .comments
        .iter()
        .filter(|c| c.issue_number == i.number)
        .count();
    let mut v = json!({
        "id": i.id,
        "node_id": node_id("I", i.id),
        "url": api,
        "repository_url": repo_api(env, repo),
        "labels_url": format!("{api}/labels{{/name}}"),
        "comments_url": format!("{api}/comments"),
        "events_url": format!("{api}/events"),
        "html_url": format!("{}/{kind}/{}", repo_html(repo), i.number),
        "number": i.number,
        "state": i.state,
        "state_reason": i.state_reason,
        "title": i.title,
        "body": i.body,
        "user": user(env, &i.user),
        "labels": issue_labels(env, repo, &i.labels),
        "assignee": i.assignees.first().map(|a| user(env, a)),
        "assignees": i.assignees.iter().map(|a| user(env, a)).collect::<Vec<_>>(),
        "milestone": null,
        "locked": i.locked,
        "active_lock_reason": null,
        "comments": comments,
        "created_at": ts(i.created_at),
        "updated_at": ts(i.updated_at),
        "closed_at": ts_opt(i.closed_at),
        "closed_by": null,
        "author_association": association(repo, &i.user),
        "performed_via_github_app": null,
        "timeline_url": format!("{api}/timeline"),
        "reactions": reactions(&api)
    });
    if i.is_pull_request
        && let Some(obj) = v.as_object_mut()
    {
        let pulls = format!("{}/pulls/{}", repo_api(env, repo), i.number);
        let html = format!("{}/pull/{}", repo_html(repo), i.number);
        let merged_at = repo
            .pulls
            .get(&i.number)
            .filter(|p| p.merged)
            .and(i.closed_at);
        obj.insert(
            "pull_request".into(),
            json!({
                "url": pulls,
                "html_url": html,
                "diff_url": format!("{html}.diff"),
                "patch_url": format!("{html}.patch"),
                "merged_at": ts_opt(merged_at)
            }),
        );
    }
    v
}

/// An `issue-comment`.
pub fn comment(env: &Env, repo: &Repo, c: &Comment) -> Value {
    let api = format!("{}/issues/comments/{}", repo_api(env, repo), c.id);
    let kind = match repo.issues.get(&c.issue_number) {
        Some(i) if i.is_pull_request => "pull",
        _ => "issues",
    };
    json!({
        "id": c.id,
        "node_id": node_id("IC", c.id),
        "url": api,
        "html_url": format!(
            "{}/{kind}/{}#issuecomment-{}",
            repo_html(repo),
            c.issue_number,
            c.id
        ),
        "issue_url": format!("{}/issues/{}", repo_api(env, repo), c.issue_number),
        "body": c.body,
        "user": user(env, &c.user),
        "created_at": ts(c.created_at),
        "updated_at": ts(c.updated_at),
        "author_association": association(repo, &c.user),
        "performed_via_github_app": null,
        "reactions": reactions(&api)
    })
}

/// A `labeled-issue-event` or `unlabeled-issue-event`.
pub fn event(env: &Env, repo: &Repo, e: &IssueEvent) -> Value {
    let color = e
        .label
        .as_deref()
        .and_then(|n| repo.label(n))
        .map_or(DEFAULT_LABEL_COLOR, |l| l.color.as_str());
    let mut v = json!({
        "id": e.id,
        "node_id": node_id("LE", e.id),
        "url": format!("{}/issues/events/{}", repo_api(env, repo), e.id),
        "actor": user(env, &e.actor),
        "event": e.event,
        "commit_id": null,
        "commit_url": null,
        "created_at": ts(e.created_at),
        "performed_via_github_app": null
    });
    if let (Some(name), Some(obj)) = (&e.label, v.as_object_mut()) {
        obj.insert("label".into(), json!({ "name": name, "color": color }));
    }
    v
}

fn reactions(api: &str) -> Value {
    json!({
        "url": format!("{api}/reactions"),
        "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0,
        "confused": 0, "heart": 0, "rocket": 0, "eyes": 0
    })
}
