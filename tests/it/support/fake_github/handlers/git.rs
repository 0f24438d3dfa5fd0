//! The git database (refs, commits, trees, blobs) and REST commits.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{Ctx, Handled, Reply, repo_of, wrote};
use crate::support::fake_github::git::{EntryKind, MODE_FILE, Signature, TreeEntry};
use crate::support::fake_github::pagination;
use crate::support::fake_github::recorder::WriteKind;
use crate::support::fake_github::shapes::git as shapes;
use crate::support::fake_github::world::{Env, World};

/// `GET /repos/{owner}/{repo}/commits`.
pub fn list_commits(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, _) = repo_of(world, ctx)?;
    if repo.git.commits.is_empty() {
        return Err(Reply::error(409, "Git Repository is empty."));
    }
    let start = ctx.query("sha").unwrap_or(&repo.default_branch).to_owned();
    let Some(head) = repo.git.resolve(&start) else {
        return Err(Reply::error(
            404,
            &format!("No commit found for SHA: {start}"),
        ));
    };
    let path = ctx.query("path").map(|p| p.trim_matches('/').to_owned());
    let (since, until) = (ctx.time_query("since"), ctx.time_query("until"));
    let author = ctx.query("author");
    let items = repo
        .git
        .history(&head)
        .into_iter()
        .filter(|c| since.is_none_or(|s| c.committer.date >= s))
        .filter(|c| until.is_none_or(|u| c.committer.date <= u))
        .filter(|c| author.is_none_or(|a| c.author.name == a || c.author.email == a))
        .filter(|c| {
            path.as_ref().is_none_or(|p| {
                repo.git
                    .changes(&c.sha)
                    .iter()
                    .any(|f| f.path == *p || f.path.starts_with(&format!("{p}/")))
            })
        })
        .map(|c| shapes::commit(env, repo, c, false))
        .collect();
    Ok(pagination::array_reply(env, ctx, items))
}

/// `GET /repos/{owner}/{repo}/commits/{ref}`.
pub fn get_commit(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, _) = repo_of(world, ctx)?;
    let rev = ctx.param("ref");
    let Some(sha) = repo.git.resolve(rev) else {
        return Err(Reply::error(
            422,
            &format!("No commit found for SHA: {rev}"),
        ));
    };
    Ok(Reply::ok(shapes::commit(
        env,
        repo,
        &repo.git.commits[&sha],
        true,
    )))
}

/// `heads/x` from the path to `refs/heads/x`.
fn full_ref(ctx: &Ctx<'_>) -> String {
    format!("refs/{}", ctx.param("ref").trim_start_matches("refs/"))
}

/// `GET /repos/{owner}/{repo}/git/ref/{ref}`.
pub fn get_ref(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, _) = repo_of(world, ctx)?;
    let name = full_ref(ctx);
    let sha = repo.git.refs.get(&name).ok_or_else(Reply::not_found)?;
    Ok(Reply::ok(shapes::git_ref(env, repo, &name, sha)))
}

/// `POST /repos/{owner}/{repo}/git/refs`.
pub fn create_ref(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, log) = repo_of(world, ctx)?;
    let name = ctx.str_field("ref").unwrap_or_default().to_owned();
    let sha = ctx.str_field("sha").unwrap_or_default().to_owned();
    if !name.starts_with("refs/") || name.matches('/').count() < 2 {
        return Err(Reply::error(422, "Reference name is invalid"));
    }
    if !repo.git.commits.contains_key(&sha) {
        return Err(Reply::error(422, "Object does not exist"));
    }
    if repo.git.refs.contains_key(&name) {
        return Err(Reply::error(422, "Reference already exists"));
    }
    repo.git.refs.insert(name.clone(), sha.clone());
    wrote(log, ctx, WriteKind::Ref(name.clone()));
    Ok(Reply::created(shapes::git_ref(env, repo, &name, &sha)))
}

/// `PATCH /repos/{owner}/{repo}/git/refs/{ref}`.
pub fn update_ref(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, log) = repo_of(world, ctx)?;
    let name = full_ref(ctx);
    let sha = ctx.str_field("sha").unwrap_or_default().to_owned();
    let force = ctx.field("force").and_then(Value::as_bool).unwrap_or(false);
    let Some(old) = repo.git.refs.get(&name).cloned() else {
        return Err(Reply::error(422, "Reference does not exist"));
    };
    if !repo.git.commits.contains_key(&sha) {
        return Err(Reply::error(422, "Object does not exist"));
    }
    if !force && !repo.git.is_ancestor(&old, &sha) {
        return Err(Reply::error(422, "Update is not a fast forward"));
    }
    repo.git.refs.insert(name.clone(), sha.clone());
    wrote(log, ctx, WriteKind::Ref(name.clone()));
    Ok(Reply::ok(shapes::git_ref(env, repo, &name, &sha)))
}

/// `DELETE /repos/{owner}/{repo}/git/refs/{ref}`: 204, or 422 when the ref
/// does not exist (GitHub's answer).
pub fn delete_ref(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (_, repo, log) = repo_of(world, ctx)?;
    let name = full_ref(ctx);
    if repo.git.refs.remove(&name).is_none() {
        return Err(Reply::error(422, "Reference does not exist"));
    }
    wrote(log, ctx, WriteKind::Ref(name));
    Ok(Reply::no_content())
}

/// `GET /repos/{owner}/{repo}/git/commits/{commit_sha}`.
pub fn get_git_commit(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, _) = repo_of(world, ctx)?;
    let commit = repo
        .git
        .commits
        .get(ctx.param("commit_sha"))
        .ok_or_else(Reply::not_found)?;
    Ok(Reply::ok(shapes::git_commit(env, repo, commit)))
}

fn signature(env: &Env, value: Option<&Value>, actor: &str, now: DateTime<Utc>) -> Signature {
    let text = |k: &str| value.and_then(|v| v.get(k)).and_then(Value::as_str);
    let login = actor.replace(['[', ']'], "");
    Signature {
        name: text("name").map_or_else(|| actor.to_owned(), str::to_owned),
        email: text("email").map_or_else(
            || format!("{}+{login}@users.noreply.github.com", env.user(actor).id),
            str::to_owned,
        ),
        date: text("date")
            .and_then(|d| DateTime::parse_from_rfc3339(d).ok())
            .map_or(now, |d| d.with_timezone(&Utc)),
    }
}

/// `POST /repos/{owner}/{repo}/git/commits`.
pub fn create_git_commit(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, _) = repo_of(world, ctx)?;
    let tree = ctx.str_field("tree").unwrap_or_default().to_owned();
    if !repo.git.trees.contains_key(&tree) {
        return Err(Reply::error(422, "Tree SHA does not exist"));
    }
    let parents = ctx.string_list("parents").unwrap_or_default();
    if parents.iter().any(|p| !repo.git.commits.contains_key(p)) {
        return Err(Reply::error(
            422,
            "Parent SHA does not exist or is not a commit object",
        ));
    }
    let now = env.tick();
    let author = signature(env, ctx.field("author"), &ctx.actor, now);
    let committer = match ctx.field("committer") {
        Some(c) => signature(env, Some(c), &ctx.actor, now),
        None => author.clone(),
    };
    let message = ctx.str_field("message").unwrap_or_default().to_owned();
    let sha = repo
        .git
        .put_commit(tree, parents, message, author, committer);
    Ok(Reply::created(shapes::git_commit(
        env,
        repo,
        &repo.git.commits[&sha],
    )))
}

/// `GET /repos/{owner}/{repo}/git/trees/{tree_sha}` (a tree id, or a commit
/// or branch whose tree is meant). Any `recursive` value recurses, as on
/// GitHub.
pub fn get_tree(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, _) = repo_of(world, ctx)?;
    let wanted = ctx.param("tree_sha");
    let tree = if repo.git.trees.contains_key(wanted) {
        wanted.to_owned()
    } else {
        let commit = repo.git.resolve(wanted).ok_or_else(Reply::not_found)?;
        repo.git.commits[&commit].tree.clone()
    };
    let recursive = ctx.query("recursive").is_some();
    Ok(Reply::ok(shapes::git_tree(env, repo, &tree, recursive)))
}

/// `POST /repos/{owner}/{repo}/git/trees`.
pub fn create_tree(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, _) = repo_of(world, ctx)?;
    let mut files: BTreeMap<String, TreeEntry> = match ctx.str_field("base_tree") {
        Some(base) if repo.git.trees.contains_key(base) => repo.git.flatten(base),
        Some(base) => {
            return Err(Reply::error(
                422,
                &format!("base_tree {base} is not a valid tree oid"),
            ));
        }
        None => BTreeMap::new(),
    };
    let entries = ctx
        .field("tree")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for e in &entries {
        let path = e.get("path").and_then(Value::as_str).unwrap_or_default();
        let path = path.trim_matches('/').to_owned();
        let mode = e.get("mode").and_then(Value::as_str).unwrap_or(MODE_FILE);
        let kind = e.get("type").and_then(Value::as_str).unwrap_or("blob");
        let content = e.get("content").and_then(Value::as_str);
        let sha = e.get("sha");
        if path.is_empty() {
            return Err(Reply::error(422, "tree.path is missing"));
        }
        match (kind, sha, content) {
            (_, Some(Value::Null), _) => {
                files.retain(|p, _| *p != path && !p.starts_with(&format!("{path}/")));
            }
            ("blob", _, Some(text)) => {
                let blob = repo.git.put_blob(text.as_bytes().to_vec());
                files.insert(
                    path,
                    TreeEntry {
                        mode: mode.to_owned(),
                        kind: EntryKind::Blob,
                        sha: blob,
                    },
                );
            }
            ("blob", Some(Value::String(sha)), None) => {
                if !repo.git.blobs.contains_key(sha) {
                    return Err(Reply::error(
                        422,
                        &format!("tree.sha {sha} is not a valid blob"),
                    ));
                }
                files.insert(
                    path,
                    TreeEntry {
                        mode: mode.to_owned(),
                        kind: EntryKind::Blob,
                        sha: sha.clone(),
                    },
                );
            }
            ("tree", Some(Value::String(sha)), None) => {
                if !repo.git.trees.contains_key(sha) {
                    return Err(Reply::error(
                        422,
                        &format!("tree.sha {sha} is not a valid tree"),
                    ));
                }
                files.retain(|p, _| !p.starts_with(&format!("{path}/")));
                for (sub, entry) in repo.git.flatten(sha) {
                    files.insert(format!("{path}/{sub}"), entry);
                }
            }
            _ => {
                return Err(Reply::error(
                    422,
                    &format!("tree entry for {path} needs either sha or content"),
                ));
            }
        }
    }
    let sha = repo.git.build_tree(&files);
    Ok(Reply::created(shapes::git_tree(env, repo, &sha, false)))
}

/// `POST /repos/{owner}/{repo}/git/blobs`.
pub fn create_blob(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, _) = repo_of(world, ctx)?;
    let content = ctx.str_field("content").unwrap_or_default();
    let bytes = match ctx.str_field("encoding").unwrap_or("utf-8") {
        "utf-8" | "utf8" => content.as_bytes().to_vec(),
        "base64" => {
            let compact: String = content.split_whitespace().collect();
            STANDARD
                .decode(compact)
                .map_err(|_| Reply::error(422, "content is not valid Base64"))?
        }
        other => {
            return Err(Reply::error(
                422,
                &format!("encoding {other} is not supported"),
            ));
        }
    };
    let sha = repo.git.put_blob(bytes);
    Ok(Reply::created(shapes::short_blob(env, repo, &sha)))
}
