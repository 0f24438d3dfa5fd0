//! Operation handlers: one function per REST operation, grouped by area.
//!
//! The router has already matched the request to an operation of the
//! description, so handlers get decoded path parameters and a parsed body and
//! only implement GitHub's behaviour.

mod actions;
mod checks;
mod compare;
mod dismissals;
mod forks;
mod git;
mod issues;
mod merging;
mod pr_automations;
mod pulls;
mod reactions;
mod repos;
pub mod repository_dispatch;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::recorder::{Recorder, WriteKind};
use super::repo::Repo;
use super::world::{Env, World};

/// The body of a reply.
#[derive(Clone, Debug)]
pub enum Body {
    None,
    Json(Value),
    Bytes {
        bytes: Vec<u8>,
        content_type: String,
    },
}

/// What a handler answers.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

/// `Err` carries an error reply, so handlers can use `?`.
pub type Handled = Result<Reply, Reply>;

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Body::Json(body),
        }
    }

    pub fn ok(body: Value) -> Reply {
        Reply::json(200, body)
    }

    pub fn created(body: Value) -> Reply {
        Reply::json(201, body)
    }

    pub fn no_content() -> Reply {
        Reply {
            status: 204,
            headers: Vec::new(),
            body: Body::None,
        }
    }

    pub fn redirect(location: String) -> Reply {
        Reply {
            status: 302,
            headers: vec![("location".to_owned(), location)],
            body: Body::None,
        }
    }

    pub fn with_header(mut self, name: &str, value: String) -> Reply {
        self.headers.push((name.to_owned(), value));
        self
    }

    /// GitHub's error shape.
    pub fn error(status: u16, message: &str) -> Reply {
        Reply::json(
            status,
            json!({
                "message": message,
                "documentation_url": "https://docs.github.com/rest",
                "status": status.to_string()
            }),
        )
    }

    pub fn not_found() -> Reply {
        Reply::error(404, "Not Found")
    }

    /// 422 with GitHub's `errors` list.
    pub fn invalid(resource: &str, field: &str, code: &str, message: Option<&str>) -> Reply {
        let mut e = json!({ "resource": resource, "field": field, "code": code });
        if let Some(m) = message {
            e["message"] = json!(m);
        }
        Reply::json(
            422,
            json!({
                "message": "Validation Failed",
                "errors": [e],
                "documentation_url": "https://docs.github.com/rest",
                "status": "422"
            }),
        )
    }
}

/// A request, as handlers see it.
pub struct Ctx<'a> {
    /// `operationId`.
    pub op: &'a str,
    pub params: &'a BTreeMap<String, String>,
    pub query: Vec<(String, String)>,
    /// Parsed JSON body; `Null` when none.
    pub body: Value,
    /// Login the request acts as (every token acts as
    /// [`super::world::ACTIONS_BOT`]).
    pub actor: String,
    /// `METHOD /path`, for write records.
    pub line: String,
    /// Raw request path, for `Link` headers.
    pub path: String,
}

impl Ctx<'_> {
    pub fn param(&self, name: &str) -> &str {
        self.params.get(name).map_or("", String::as_str)
    }

    /// A numeric path parameter; 404 when it is not a number, as GitHub does.
    pub fn id(&self, name: &str) -> Result<u64, Reply> {
        self.param(name).parse().map_err(|_| Reply::not_found())
    }

    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A timestamp query parameter (`since`, `until`); `None` when absent or
    /// not RFC 3339.
    pub fn time_query(&self, name: &str) -> Option<DateTime<Utc>> {
        self.query(name)
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|d| d.with_timezone(&Utc))
    }

    /// A numeric path parameter naming an existing entry of `map` (an issue, a
    /// pull request, a run); 404 otherwise.
    pub fn existing<V>(&self, name: &str, map: &BTreeMap<u64, V>) -> Result<u64, Reply> {
        let id = self.id(name)?;
        if map.contains_key(&id) {
            Ok(id)
        } else {
            Err(Reply::not_found())
        }
    }

    pub fn field(&self, name: &str) -> Option<&Value> {
        self.body.get(name).filter(|v| !v.is_null())
    }

    pub fn str_field(&self, name: &str) -> Option<&str> {
        self.field(name).and_then(Value::as_str)
    }

    /// The strings of an array field (`assignees`, `parents`); `None` when the
    /// field is absent or not an array.
    pub fn string_list(&self, name: &str) -> Option<Vec<String>> {
        let list = self.field(name)?.as_array()?;
        Some(
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        )
    }

    /// A string field that GitHub also accepts as a number (`title`).
    pub fn text_field(&self, name: &str) -> Option<String> {
        match self.field(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// Label names from `["a", {"name": "b"}]`.
    pub fn label_names(value: Option<&Value>) -> Vec<String> {
        value
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|l| match l {
                Value::String(s) => Some(s.clone()),
                other => other.get("name").and_then(Value::as_str).map(str::to_owned),
            })
            .collect()
    }
}

/// The repository of the request and the shared parts of the world.
pub fn repo_of<'w>(
    world: &'w mut World,
    ctx: &Ctx<'_>,
) -> Result<(&'w mut Env, &'w mut Repo, &'w mut Recorder), Reply> {
    let full = format!("{}/{}", ctx.param("owner"), ctx.param("repo"));
    world.split(&full).ok_or_else(Reply::not_found)
}

/// Records a write the test should read.
pub fn wrote(log: &mut Recorder, ctx: &Ctx<'_>, kind: WriteKind) {
    log.wrote(kind, &ctx.line);
}

/// Runs the handler of an operation. A fork network shares its objects
/// before and after every request (see `forks.rs`), and a fork that refuses
/// writes answers every write with 403.
pub fn handle(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    world.share_fork_objects();
    if let Some(refused) = forks::refused(world, ctx) {
        return Err(refused);
    }
    let handled = dispatch(world, ctx);
    world.share_fork_objects();
    handled
}

fn dispatch(world: &mut World, ctx: &Ctx<'_>) -> Handled {
    match ctx.op {
        "rate-limit/get" => repos::rate_limit(world, ctx),
        "repos/get" => repos::get(world, ctx),
        "repos/get-content" => repos::get_content(world, ctx),
        "repos/get-collaborator-permission-level" => repos::permission(world, ctx),
        "repos/list-commits" => git::list_commits(world, ctx),
        "repos/get-commit" => git::get_commit(world, ctx),
        "repos/list-pull-requests-associated-with-commit" => pulls::for_commit(world, ctx),

        "actions/list-workflow-runs-for-repo" => actions::list_runs(world, ctx, None),
        "actions/list-workflow-runs" => {
            let workflow = ctx.param("workflow_id").to_owned();
            actions::list_runs(world, ctx, Some(&workflow))
        }
        "actions/get-workflow-run" => actions::get_run(world, ctx),
        "actions/list-jobs-for-workflow-run" => actions::list_jobs(world, ctx, None),
        "actions/list-jobs-for-workflow-run-attempt" => {
            let attempt = ctx.id("attempt_number")?;
            let attempt = u32::try_from(attempt).map_err(|_| Reply::not_found())?;
            actions::list_jobs(world, ctx, Some(attempt))
        }
        "actions/get-job-for-workflow-run" => actions::get_job(world, ctx),
        "actions/download-job-logs-for-workflow-run" => actions::job_logs(world, ctx),
        "actions/download-workflow-run-logs" => actions::run_logs(world, ctx),
        "actions/re-run-job-for-workflow-run" => actions::rerun_job(world, ctx),
        "actions/re-run-workflow-failed-jobs" => actions::rerun_failed(world, ctx),
        "actions/list-repo-workflows" => actions::list_workflows(world, ctx),
        "actions/create-workflow-dispatch" => actions::dispatch(world, ctx),

        "issues/list-for-repo" => issues::list(world, ctx),
        "issues/create" => issues::create(world, ctx),
        "issues/get" => issues::get(world, ctx),
        "issues/update" => issues::update(world, ctx),
        "issues/list-comments" => issues::list_comments(world, ctx),
        "issues/create-comment" => issues::create_comment(world, ctx),
        "issues/update-comment" => issues::update_comment(world, ctx),
        "issues/add-labels" => issues::add_labels(world, ctx),
        "issues/remove-label" => issues::remove_label(world, ctx),
        "issues/list-events" => issues::list_events(world, ctx),
        "issues/get-label" => issues::get_label(world, ctx),
        "issues/create-label" => issues::create_label(world, ctx),

        "git/get-ref" => git::get_ref(world, ctx),
        "git/create-ref" => git::create_ref(world, ctx),
        "git/update-ref" => git::update_ref(world, ctx),
        "git/delete-ref" => git::delete_ref(world, ctx),
        "git/get-commit" => git::get_git_commit(world, ctx),
        "git/create-commit" => git::create_git_commit(world, ctx),
        "git/get-tree" => git::get_tree(world, ctx),
        "git/create-tree" => git::create_tree(world, ctx),
        "git/create-blob" => git::create_blob(world, ctx),

        "pulls/list" => pulls::list(world, ctx),
        "pulls/create" => pulls::create(world, ctx),
        "pulls/get" => pulls::get(world, ctx),
        "pulls/update" => pulls::update(world, ctx),
        "repos/create-dispatch-event" => repository_dispatch::create(world, ctx),

        "repos/compare-commits-with-basehead" => compare::compare(world, ctx),
        "checks/create" => checks::create(world, ctx),
        "checks/update" => checks::update(world, ctx),
        "checks/list-for-ref" => checks::list_for_ref(world, ctx),
        "pulls/list-files" => pr_automations::list_files(world, ctx),
        "issues/list-labels-for-repo" => pr_automations::list_labels(world, ctx),
        "issues/delete-comment" => pr_automations::delete_comment(world, ctx),
        "actions/cancel-workflow-run" => pr_automations::cancel_run(world, ctx),
        "reactions/create-for-issue-comment" => reactions::create_for_comment(world, ctx),
        "pulls/list-reviews" => merging::list_reviews(world, ctx),
        "pulls/merge" => merging::merge(world, ctx),
        "pulls/update-branch" => {
            forks::update_branch(world, ctx).unwrap_or_else(|| merging::update_branch(world, ctx))
        }
        "pulls/dismiss-review" => dismissals::dismiss(world, ctx),

        other => Err(Reply::error(
            501,
            &format!("the fake GitHub does not implement {other}"),
        )),
    }
}
