//! What forks change in the handlers: a fork that refuses writes, and
//! bringing a fork's pull request up to date, which writes the fork's
//! branch (see `forks.rs` for the model).

use super::{Ctx, Handled, Reply, wrote};
use crate::support::fake_github::recorder::WriteKind;
use crate::support::fake_github::world::World;

/// GitHub's answer to a write a token may not make.
fn not_accessible() -> Reply {
    Reply::error(403, "Resource not accessible by integration")
}

/// 403 for a write to a repository that refuses writes.
pub fn refused(world: &World, ctx: &Ctx<'_>) -> Option<Reply> {
    if ctx.line.starts_with("GET ") {
        return None;
    }
    let full = format!("{}/{}", ctx.param("owner"), ctx.param("repo"));
    world
        .repo(&full)
        .is_some_and(|r| r.refuses_writes)
        .then(not_accessible)
}

/// `PUT /repos/{owner}/{repo}/pulls/{pull_number}/update-branch` of a pull
/// request whose head is in a fork the fake models: the merge commit goes
/// to the fork's branch. 403 when the fork does not allow edits by
/// maintainers or refuses writes; 422 when `expected_head_sha` is not the
/// head. `None` for every other pull request.
pub fn update_branch(world: &mut World, ctx: &Ctx<'_>) -> Option<Handled> {
    let full = format!("{}/{}", ctx.param("owner"), ctx.param("repo"));
    let n: u64 = ctx.param("pull_number").parse().ok()?;
    let parent = world.repo(&full)?;
    let pull = parent.pulls.get(&n)?.clone();
    let fork_name = format!("{}/{}", pull.fork_owner.as_deref()?, parent.name);
    let base = parent.branch_sha(&pull.base_ref);
    let parent_name = parent.full_name();
    let fork = world.repo(&fork_name)?;
    if !fork
        .fork_of
        .as_deref()
        .is_some_and(|p| p.eq_ignore_ascii_case(&parent_name))
    {
        return None;
    }
    if !pull.maintainer_can_modify || fork.refuses_writes {
        return Some(Err(not_accessible()));
    }
    let head_ref = format!("refs/heads/{}", pull.head_ref);
    let Some(head) = fork.git.refs.get(&head_ref).cloned() else {
        return Some(Err(Reply::error(422, "Head branch does not exist")));
    };
    if ctx
        .str_field("expected_head_sha")
        .is_some_and(|s| s != head)
    {
        return Some(Err(Reply::error(
            422,
            "expected head sha didn't match current head ref.",
        )));
    }
    let Some(base) = base else {
        return Some(Err(Reply::error(422, "Base branch does not exist")));
    };
    let (env, fork, log) = world.split(&fork_name)?;
    super::merging::merge_base_into(env, fork, &pull, head, base, &ctx.actor);
    wrote(log, ctx, WriteKind::Merge(n));
    Some(Ok(super::merging::updating(&format!(
        "https://github.com/{parent_name}/pull/{n}"
    ))))
}
