//! Repository, contents, collaborator permission and rate limit.

use serde_json::{Value, json};

use super::{Ctx, Handled, Reply, repo_of};
use crate::support::fake_github::git::EntryKind;
use crate::support::fake_github::shapes::{self, git as git_shapes};
use crate::support::fake_github::world::{CORE_LIMIT, World, rate_reset};

/// `GET /rate_limit`.
pub fn rate_limit(world: &mut World, _ctx: &Ctx<'_>) -> Handled {
    let used = world.env.rate_used;
    let reset = rate_reset();
    let limit = |limit: u64, used: u64| {
        json!({
            "limit": limit,
            "used": used,
            "remaining": limit.saturating_sub(used),
            "reset": reset
        })
    };
    let core = limit(CORE_LIMIT, used);
    Ok(Reply::ok(json!({
        "resources": {
            "core": core,
            "search": limit(30, 0),
            "graphql": limit(5000, 0),
            "integration_manifest": limit(5000, 0),
            "code_search": limit(10, 0)
        },
        "rate": core
    })))
}

/// `GET /repos/{owner}/{repo}`.
pub fn get(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, _) = repo_of(world, ctx)?;
    Ok(Reply::ok(shapes::full_repo(env, repo)))
}

/// `GET /repos/{owner}/{repo}/contents/{path}`.
pub fn get_content(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, _) = repo_of(world, ctx)?;
    let git_ref = ctx
        .query("ref")
        .map_or_else(|| repo.default_branch.clone(), str::to_owned);
    let Some(commit) = repo.git.resolve(&git_ref) else {
        return Err(Reply::error(
            404,
            &format!("No commit found for the ref {git_ref}"),
        ));
    };
    let path = ctx.param("path").trim_matches('/');
    let entry = repo
        .git
        .entry_at(&commit, path)
        .ok_or_else(Reply::not_found)?;
    let body: Value = match entry.kind {
        EntryKind::Tree => git_shapes::content_dir(env, repo, path, &git_ref, &entry.sha),
        EntryKind::Blob => git_shapes::content_file(env, repo, path, &git_ref, &entry),
        EntryKind::Commit => return Err(Reply::not_found()),
    };
    Ok(Reply::ok(body))
}

/// `GET /repos/{owner}/{repo}/collaborators/{username}/permission`.
///
/// `permission` carries the legacy base role (maintain reads as `write`, triage
/// as `read`); `role_name` the full one, as GitHub documents.
pub fn permission(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, _) = repo_of(world, ctx)?;
    let login = ctx.param("username");
    let role = repo
        .permissions
        .get(login)
        .cloned()
        .unwrap_or_else(|| "none".to_owned());
    let legacy = match role.as_str() {
        "admin" => "admin",
        "maintain" | "write" => "write",
        "triage" | "read" => "read",
        _ => "none",
    };
    let rank = |r: &str| match r {
        "admin" => 5,
        "maintain" => 4,
        "write" => 3,
        "triage" => 2,
        "read" => 1,
        _ => 0,
    };
    let have = rank(&role);
    let mut user = shapes::user(env, login);
    user["permissions"] = json!({
        "admin": have >= 5,
        "maintain": have >= 4,
        "push": have >= 3,
        "triage": have >= 2,
        "pull": have >= 1
    });
    user["role_name"] = json!(role);
    Ok(Reply::ok(json!({
        "permission": legacy,
        "role_name": role,
        "user": user
    })))
}
