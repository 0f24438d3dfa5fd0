//! Reactions to issue comments.

use serde_json::{Value, json};

use super::{Ctx, Handled, Reply, repo_of, wrote};
use crate::support::fake_github::model::Reaction;
use crate::support::fake_github::recorder::WriteKind;
use crate::support::fake_github::shapes::{node_id, ts, user};
use crate::support::fake_github::world::{Env, World};

fn render(env: &Env, r: &Reaction) -> Value {
    json!({
        "id": r.id,
        "node_id": node_id("REA", r.id),
        "user": user(env, &r.user),
        "content": r.content,
        "created_at": ts(r.created_at)
    })
}

/// `POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions`: 201
/// for a new reaction, 200 with the existing one when this user already
/// reacted with this content (GitHub keeps one).
pub fn create_for_comment(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    let (env, repo, log) = repo_of(world, ctx)?;
    let comment_id = ctx.id("comment_id")?;
    if !repo.comments.iter().any(|c| c.id == comment_id) {
        return Err(Reply::not_found());
    }
    let content = ctx.str_field("content").unwrap_or_default().to_owned();
    if let Some(existing) = repo
        .reactions
        .iter()
        .find(|r| r.comment_id == comment_id && r.content == content && r.user == ctx.actor)
    {
        return Ok(Reply::ok(render(env, existing)));
    }
    let reaction = Reaction {
        id: env.next_id(),
        comment_id,
        content,
        user: ctx.actor.clone(),
        created_at: env.tick(),
    };
    let body = render(env, &reaction);
    repo.reactions.push(reaction);
    wrote(log, ctx, WriteKind::Reaction(comment_id));
    Ok(Reply::created(body))
}
