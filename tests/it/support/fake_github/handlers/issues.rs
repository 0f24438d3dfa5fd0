//! Issues, comments, labels and issue events.

use serde_json::Value;

use super::{Ctx, Handled, Reply, repo_of, wrote};
use crate::support::fake_github::model::{Comment, Issue, Label};
use crate::support::fake_github::pagination;
use crate::support::fake_github::recorder::WriteKind;
use crate::support::fake_github::repo::{DEFAULT_LABEL_COLOR, Repo};
use crate::support::fake_github::shapes::issues as shapes;
use crate::support::fake_github::world::{Env, World};

fn issue_number(repo: &Repo, ctx: &Ctx<'_>) -> Result<u64, Reply> {
    ctx.existing("issue_number", &repo.issues)
}

/// `GET /repos/{owner}/{repo}/issues` (pull requests included, as on GitHub).
pub fn list(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, _) = repo_of(world, ctx)?;
    let state = ctx.query("state").unwrap_or("open");
    let wanted: Vec<String> = ctx
        .query("labels")
        .map(|l| {
            l.split(',')
                .map(|s| s.trim().to_lowercase())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let since = ctx.time_query("since");
    let mut issues: Vec<&Issue> = repo
        .issues
        .values()
        .filter(|i| state == "all" || i.state == state)
        .filter(|i| {
            wanted
                .iter()
                .all(|w| i.labels.iter().any(|l| l.to_lowercase() == *w))
        })
        .filter(|i| ctx.query("creator").is_none_or(|c| i.user == c))
        .filter(|i| match ctx.query("assignee") {
            None => true,
            Some("none") => i.assignees.is_empty(),
            Some("*") => !i.assignees.is_empty(),
            Some(a) => i.assignees.iter().any(|x| x == a),
        })
        .filter(|i| since.is_none_or(|s| i.updated_at >= s))
        .collect();
    let comments = |i: &Issue| {
        repo.comments
            .iter()
            .filter(|c| c.issue_number == i.number)
            .count()
    };
    match ctx.query("sort").unwrap_or("created") {
        "updated" => issues.sort_by_key(|i| (i.updated_at, i.number)),
        "comments" => issues.sort_by_key(|i| (comments(i), i.number)),
        _ => issues.sort_by_key(|i| (i.created_at, i.number)),
    }
    if ctx.query("direction") != Some("asc") {
        issues.reverse();
    }
    let items = issues
        .into_iter()
        .map(|i| shapes::issue(env, repo, i))
        .collect();
    Ok(pagination::array_reply(env, ctx, items))
}

/// `POST /repos/{owner}/{repo}/issues`.
pub fn create(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, log) = repo_of(world, ctx)?;
    let Some(title) = ctx.text_field("title").filter(|t| !t.trim().is_empty()) else {
        return Err(Reply::invalid("Issue", "title", "missing_field", None));
    };
    let mut assignees = ctx.string_list("assignees").unwrap_or_default();
    if let Some(a) = ctx.str_field("assignee") {
        assignees.insert(0, a.to_owned());
    }
    let body = ctx.str_field("body").map(str::to_owned);
    let number = repo.open_issue(env, title, body, &ctx.actor, false);
    if let Some(issue) = repo.issues.get_mut(&number) {
        issue.assignees = assignees;
    }
    let labels = Ctx::label_names(ctx.field("labels"));
    repo.add_issue_labels(env, number, &labels, &ctx.actor);
    wrote(log, ctx, WriteKind::Issue(number));
    Ok(Reply::created(shapes::issue(
        env,
        repo,
        &repo.issues[&number],
    )))
}

/// `GET /repos/{owner}/{repo}/issues/{issue_number}`.
pub fn get(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, _) = repo_of(world, ctx)?;
    let n = issue_number(repo, ctx)?;
    Ok(Reply::ok(shapes::issue(env, repo, &repo.issues[&n])))
}

/// Closes or reopens an issue.
pub fn set_state(env: &mut Env, repo: &mut Repo, n: u64, state: &str, reason: Option<&str>) {
    let now = env.tick();
    let Some(issue) = repo.issues.get_mut(&n) else {
        return;
    };
    if issue.state == state {
        if let Some(r) = reason {
            issue.state_reason = Some(r.to_owned());
        }
        return;
    }
    issue.state = state.to_owned();
    issue.updated_at = now;
    if state == "closed" {
        issue.closed_at = Some(now);
        issue.state_reason = Some(reason.unwrap_or("completed").to_owned());
    } else {
        issue.closed_at = None;
        issue.state_reason = Some(reason.unwrap_or("reopened").to_owned());
    }
}

/// Applies the `title` and `body` of an update (issue or pull request); an
/// explicit `"body": null` clears the body.
pub fn edit_text(env: &mut Env, repo: &mut Repo, n: u64, ctx: &Ctx<'_>) {
    let now = env.tick();
    let Some(issue) = repo.issues.get_mut(&n) else {
        return;
    };
    if let Some(title) = ctx.text_field("title") {
        issue.title = title;
    }
    if ctx.body.get("body").is_some() {
        issue.body = ctx.str_field("body").map(str::to_owned);
    }
    issue.updated_at = now;
}

/// `PATCH /repos/{owner}/{repo}/issues/{issue_number}`.
pub fn update(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, log) = repo_of(world, ctx)?;
    let n = issue_number(repo, ctx)?;
    edit_text(env, repo, n, ctx);
    if let Some(list) = ctx.string_list("assignees")
        && let Some(issue) = repo.issues.get_mut(&n)
    {
        issue.assignees = list;
    }
    if let Some(state) = ctx.str_field("state") {
        set_state(env, repo, n, state, ctx.str_field("state_reason"));
    }
    if ctx.field("labels").is_some() {
        let wanted = Ctx::label_names(ctx.field("labels"));
        let current = repo.issues[&n].labels.clone();
        for old in current {
            if !wanted.iter().any(|w| w.eq_ignore_ascii_case(&old)) {
                repo.remove_issue_label(env, n, &old, &ctx.actor);
            }
        }
        repo.add_issue_labels(env, n, &wanted, &ctx.actor);
    }
    wrote(log, ctx, WriteKind::Issue(n));
    Ok(Reply::ok(shapes::issue(env, repo, &repo.issues[&n])))
}

/// `GET /repos/{owner}/{repo}/issues/{issue_number}/comments`.
pub fn list_comments(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, _) = repo_of(world, ctx)?;
    let n = issue_number(repo, ctx)?;
    let since = ctx.time_query("since");
    let items = repo
        .comments
        .iter()
        .filter(|c| c.issue_number == n)
        .filter(|c| since.is_none_or(|s| c.updated_at >= s))
        .map(|c| shapes::comment(env, repo, c))
        .collect();
    Ok(pagination::array_reply(env, ctx, items))
}

/// `POST /repos/{owner}/{repo}/issues/{issue_number}/comments`.
pub fn create_comment(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, log) = repo_of(world, ctx)?;
    let n = issue_number(repo, ctx)?;
    let Some(body) = ctx.str_field("body") else {
        return Err(Reply::invalid(
            "IssueComment",
            "body",
            "missing_field",
            None,
        ));
    };
    let now = env.tick();
    let comment = Comment {
        id: env.next_id(),
        issue_number: n,
        body: body.to_owned(),
        user: ctx.actor.clone(),
        created_at: now,
        updated_at: now,
    };
    if let Some(issue) = repo.issues.get_mut(&n) {
        issue.updated_at = now;
    }
    repo.comments.push(comment.clone());
    wrote(log, ctx, WriteKind::Comment(n));
    Ok(Reply::created(shapes::comment(env, repo, &comment)))
}

/// `PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}`.
pub fn update_comment(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, log) = repo_of(world, ctx)?;
    let id = ctx.id("comment_id")?;
    let now = env.tick();
    let comment = repo
        .comments
        .iter_mut()
        .find(|c| c.id == id)
        .ok_or_else(Reply::not_found)?;
    if let Some(body) = ctx.str_field("body") {
        comment.body = body.to_owned();
    }
    comment.updated_at = now;
    let comment = comment.clone();
    wrote(log, ctx, WriteKind::Comment(comment.issue_number));
    Ok(Reply::ok(shapes::comment(env, repo, &comment)))
}

fn labels_of(env: &Env, repo: &Repo, n: u64) -> Value {
    Value::Array(shapes::issue_labels(env, repo, &repo.issues[&n].labels))
}

/// `POST /repos/{owner}/{repo}/issues/{issue_number}/labels`.
pub fn add_labels(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, log) = repo_of(world, ctx)?;
    let n = issue_number(repo, ctx)?;
    // The description documents `{"labels": [...]}`; GitHub also takes a bare
    // array (the validator reports that form).
    let names = match &ctx.body {
        Value::Array(_) => Ctx::label_names(Some(&ctx.body)),
        other => Ctx::label_names(other.get("labels")),
    };
    if repo.add_issue_labels(env, n, &names, &ctx.actor) {
        wrote(log, ctx, WriteKind::Issue(n));
    }
    Ok(Reply::ok(labels_of(env, repo, n)))
}

/// `DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels/{name}`.
pub fn remove_label(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, log) = repo_of(world, ctx)?;
    let n = issue_number(repo, ctx)?;
    if !repo.remove_issue_label(env, n, ctx.param("name"), &ctx.actor) {
        return Err(Reply::error(404, "Label does not exist"));
    }
    wrote(log, ctx, WriteKind::Issue(n));
    Ok(Reply::ok(labels_of(env, repo, n)))
}

/// `GET /repos/{owner}/{repo}/issues/{issue_number}/events`.
pub fn list_events(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, _) = repo_of(world, ctx)?;
    let n = issue_number(repo, ctx)?;
    let items = repo
        .events
        .iter()
        .filter(|e| e.issue_number == n)
        .map(|e| shapes::event(env, repo, e))
        .collect();
    Ok(pagination::array_reply(env, ctx, items))
}

/// `GET /repos/{owner}/{repo}/labels/{name}`.
pub fn get_label(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, _) = repo_of(world, ctx)?;
    let label = repo.label(ctx.param("name")).ok_or_else(Reply::not_found)?;
    Ok(Reply::ok(shapes::label(env, repo, label)))
}

/// `POST /repos/{owner}/{repo}/labels`.
pub fn create_label(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, log) = repo_of(world, ctx)?;
    let Some(name) = ctx.str_field("name") else {
        return Err(Reply::invalid("Label", "name", "missing_field", None));
    };
    if repo.label(name).is_some() {
        return Err(Reply::invalid("Label", "name", "already_exists", None));
    }
    let color = ctx
        .str_field("color")
        .map_or(DEFAULT_LABEL_COLOR, |c| c.trim_start_matches('#'))
        .to_lowercase();
    if color.len() != 6 || !color.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Reply::invalid("Label", "color", "invalid", None));
    }
    let label = Label {
        id: env.next_id(),
        name: name.to_owned(),
        color,
        description: ctx.str_field("description").map(str::to_owned),
    };
    repo.labels.push(label.clone());
    wrote(log, ctx, WriteKind::Label(label.name.clone()));
    Ok(Reply::created(shapes::label(env, repo, &label)))
}
