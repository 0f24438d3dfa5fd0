//! `POST /repos/{owner}/{repo}/dispatches`: a `repository_dispatch` sent to
//! a repository, kept on that repository for the test to read.

use serde_json::Value;

use super::{Ctx, Handled, Reply, repo_of, wrote};
use crate::support::fake_github::FakeGithub;
use crate::support::fake_github::recorder::WriteKind;

/// A `repository_dispatch` the fake received.
#[derive(Clone, Debug, PartialEq)]
pub struct RepositoryDispatch {
    pub event_type: String,
    pub client_payload: Value,
    pub actor: String,
}

/// GitHub's rules: `event_type` of 1 to 100 characters, `client_payload`
/// an object of at most 10 top-level properties; 204 on success.
pub fn create(world: &mut crate::support::fake_github::world::World, ctx: &Ctx<'_>) -> Handled {
    let (_, repo, log) = repo_of(world, ctx)?;
    let event_type = ctx.str_field("event_type").unwrap_or_default().to_owned();
    if event_type.is_empty() || event_type.chars().count() > 100 {
        return Err(Reply::invalid(
            "Repository",
            "event_type",
            "invalid",
            Some("event_type must be 1 to 100 characters"),
        ));
    }
    let client_payload = ctx.field("client_payload").cloned().unwrap_or(Value::Null);
    if client_payload.as_object().is_some_and(|o| o.len() > 10) {
        return Err(Reply::error(
            422,
            "No more than 10 properties are allowed; 11 were supplied.",
        ));
    }
    let full = format!("{}/{}", repo.owner, repo.name);
    repo.repository_dispatches.push(RepositoryDispatch {
        event_type,
        client_payload,
        actor: ctx.actor.clone(),
    });
    wrote(log, ctx, WriteKind::RepositoryDispatch(full));
    Ok(Reply::no_content())
}

impl FakeGithub {
    /// The `repository_dispatch`es `full_name` received, marked read.
    pub fn repository_dispatches(&self, full_name: &str) -> Vec<RepositoryDispatch> {
        let key = full_name.to_lowercase();
        self.with_world(|w| {
            w.log.mark_read(
                |k| matches!(k, WriteKind::RepositoryDispatch(r) if r.to_lowercase() == key),
            );
            w.repo(full_name)
                .map(|r| r.repository_dispatches.clone())
                .unwrap_or_default()
        })
    }
}
