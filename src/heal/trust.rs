//! Who may make ci-medic open a pull request, and which runs it may act on.
//!
//! The analysis block steers what gets edited, so it is acted on only when
//! the action itself wrote it (the issue's author is the action's identity
//! and the body carries the action's own failure marker), or when someone
//! with write access vouched for it by applying the `auto-heal` label.
//!
//! The failed run itself must be one whose code and workflow file only
//! people with write access chose: a `push`, `schedule` or
//! `workflow_dispatch` run of the base repository on its default branch (or
//! a configured trusted branch). A pull request's run, above all a fork's,
//! prints whatever its author wants, including the name of a package.

use serde::Deserialize;

use crate::github::Identity;
use crate::github::marker::marker;
use crate::github::types::UserInfo;
use crate::permissions::{Access, Action, may};
use crate::report::issue::{IssueAnalysis, KIND_FAILURE};

/// Events whose runs only people with write access can start, on code
/// they pushed: the only runs heal acts on.
pub const TRUSTED_EVENTS: &[&str] = &["push", "schedule", "workflow_dispatch"];

/// A repository as a run names it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RepoRef {
    pub full_name: String,
}

/// The fields of `GET /repos/{o}/{r}/actions/runs/{id}` that decide whether
/// a run can be trusted. Read from the API, never from an issue body.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RunFacts {
    pub id: u64,
    pub event: String,
    pub head_sha: String,
    #[serde(default)]
    pub head_branch: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub conclusion: Option<String>,
    #[serde(default)]
    pub html_url: String,
    /// The repository the run belongs to.
    #[serde(default)]
    pub repository: Option<RepoRef>,
    /// The repository of the code the run ran (a fork's for a fork's pull request).
    #[serde(default)]
    pub head_repository: Option<RepoRef>,
    #[serde(default)]
    pub actor: Option<UserInfo>,
    #[serde(default)]
    pub triggering_actor: Option<UserInfo>,
}

impl RunFacts {
    fn repository_is(&self, repo: &str) -> bool {
        self.repository
            .as_ref()
            .is_some_and(|r| r.full_name.eq_ignore_ascii_case(repo))
    }

    fn head_repository_is(&self, repo: &str) -> bool {
        self.head_repository
            .as_ref()
            .is_some_and(|r| r.full_name.eq_ignore_ascii_case(repo))
    }
}

/// Proof that a failed run may be acted on: only [`check_run`] makes one,
/// and what needs a trusted run (the fix, its verification dispatch) takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedRun {
    id: u64,
    event: String,
    branch: String,
}

impl TrustedRun {
    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn event(&self) -> &str {
        &self.event
    }

    pub fn branch(&self) -> &str {
        &self.branch
    }
}

/// Whether heal may act on the failure of `run` (as the API tells it),
/// which the issue's analysis block `block` says it is about. `repo` is
/// the repository the action works on; `trusted_branches` are branches
/// besides `default_branch` whose pushes are trusted. The reason, when not,
/// is shown to users.
pub fn check_run(
    run: &RunFacts,
    block: &IssueAnalysis,
    repo: &str,
    default_branch: &str,
    trusted_branches: &[String],
) -> Result<TrustedRun, String> {
    let shown = |s: &str| crate::heal::pr::code(s);
    if run.id != block.run_id {
        return Err(format!("run {} is not the run the issue names", run.id));
    }
    if !TRUSTED_EVENTS.contains(&run.event.as_str()) {
        return Err(format!(
            "run {} was started by a {} event; ci-medic fixes only failures of {} runs, whose code and workflow people with write access chose (a pull request's run prints whatever its author wants)",
            run.id,
            shown(&run.event),
            TRUSTED_EVENTS.join(", ")
        ));
    }
    if !run.repository_is(repo) || !run.head_repository_is(repo) {
        let head = run
            .head_repository
            .as_ref()
            .map_or("an unknown repository", |r| r.full_name.as_str());
        return Err(format!(
            "run {} ran code from {}, not from {}",
            run.id,
            shown(head),
            shown(repo)
        ));
    }
    let branch = run.head_branch.clone().unwrap_or_default();
    if branch != default_branch && !trusted_branches.contains(&branch) {
        return Err(format!(
            "run {} ran on branch {}, which is neither the default branch {} nor one of `heal.trusted-branches`",
            run.id,
            shown(&branch),
            shown(default_branch)
        ));
    }
    // The issue body must agree with what the API says about the run.
    let block_head_repo_ok = block
        .head_repository
        .as_deref()
        .is_none_or(|h| h.eq_ignore_ascii_case(repo));
    if block.event != run.event
        || block.head_sha != run.head_sha
        || block.workflow_path != run.path
        || !block_head_repo_ok
    {
        return Err(format!(
            "the issue's analysis does not match run {} as GitHub reports it (event, commit, workflow file or repository differ)",
            run.id
        ));
    }
    Ok(TrustedRun {
        id: run.id,
        event: run.event.clone(),
        branch,
    })
}

/// The identity of the workflow token: the client's, not a copy of it.
pub use crate::github::ACTIONS_BOT;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// The issue (and its block) was written by the action.
    OwnIssue,
    /// `auto-heal` was applied by this user, who has write access.
    LabeledBy(String),
    /// Not acted on, and why (shown to users).
    Untrusted(String),
}

impl Trust {
    pub fn trusted(&self) -> bool {
        !matches!(self, Trust::Untrusted(_))
    }
}

/// Someone who acted on the issue, with their access when it was looked
/// up (the action's own logins need none).
pub type Actor<'a> = (&'a str, Access);

/// What heal knows about an issue before trusting its analysis block.
#[derive(Debug, Clone, Copy)]
pub struct IssueFacts<'a> {
    pub author: &'a str,
    pub body: &'a str,
    /// The fingerprint the block names.
    pub fingerprint: Option<&'a str>,
    /// Whether the body is byte for byte the one ci-medic last wrote
    /// ([`crate::report::issue::body_is_as_written`]).
    pub as_written: Option<bool>,
    /// Who applied `auto-heal` last.
    pub labeler: Option<Actor<'a>>,
    /// Who sent the event that woke heal (`issues` events; a dispatch
    /// already needs write access).
    pub sender: Option<Actor<'a>>,
}

/// Decide. `identity` is the logins the action acts as.
///
/// The analysis is read only from an issue ci-medic filed, whose body is
/// still exactly as ci-medic wrote it: a writer's `auto-heal` label vouches
/// for that body, not for what someone wrote into it later. Whoever applied
/// the label last, and whoever re-triggered heal (re-labelled, reopened),
/// must be the action itself or have write access.
pub fn decide(i: &IssueFacts<'_>, identity: &Identity) -> Trust {
    let bot = |login: &str| identity.is_ours(login);
    let author = i.author;
    if !bot(author) {
        return Trust::Untrusted(format!(
            "ci-medic reads its analysis only from issues it filed itself; this one was opened by {author}"
        ));
    }
    // The action's issues open with their failure marker.
    let own_marker = i
        .fingerprint
        .is_some_and(|fp| i.body.trim_start().starts_with(&marker(KIND_FAILURE, fp)));
    if !own_marker {
        return Trust::Untrusted(
            "the issue body does not carry ci-medic's own failure marker for its analysis".into(),
        );
    }
    match i.as_written {
        Some(true) => {}
        Some(false) => {
            return Trust::Untrusted(
                "the issue body was edited after ci-medic wrote it; ci-medic acts only on its own analysis, unchanged (the next failure of the workflow rewrites it)".into(),
            );
        }
        None => {
            return Trust::Untrusted(
                "the issue's analysis carries no digest of the body (it was written by an older ci-medic), so ci-medic cannot tell whether it was edited; the next failure of the workflow rewrites it".into(),
            );
        }
    }
    if let Some((who, p)) = i.sender
        && !(bot(who) || may(p, Action::TriggerHeal))
    {
        return Trust::Untrusted(format!(
            "{who}, who triggered this, has {} access; write access is needed",
            p.name()
        ));
    }
    match i.labeler {
        Some((who, _)) if bot(who) => Trust::OwnIssue,
        Some((who, p)) if may(p, Action::VouchByLabel) => Trust::LabeledBy(who.to_string()),
        Some((who, p)) => Trust::Untrusted(format!(
            "{who}, who applied the `auto-heal` label, has {} access; write access is needed",
            p.name()
        )),
        None => Trust::Untrusted("no `auto-heal` label event shows who applied the label".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bots() -> Identity {
        Identity::default()
    }

    const BODY: &str = "<!-- ci-medic:failure:0123456789abcdef -->\n## x";

    fn own<'a>() -> IssueFacts<'a> {
        IssueFacts {
            author: ACTIONS_BOT,
            body: BODY,
            fingerprint: Some("0123456789abcdef"),
            as_written: Some(true),
            labeler: Some((ACTIONS_BOT, Access::None)),
            sender: Some((ACTIONS_BOT, Access::None)),
        }
    }

    #[test]
    fn own_issues_are_trusted_with_their_marker_and_unedited_body() {
        assert_eq!(decide(&own(), &bots()), Trust::OwnIssue);
        // Another fingerprint's marker, or none, does not do.
        let other = IssueFacts {
            fingerprint: Some("ffffffffffffffff"),
            ..own()
        };
        assert!(!decide(&other, &bots()).trusted());
        let bare = IssueFacts {
            body: "## x",
            ..own()
        };
        assert!(!decide(&bare, &bots()).trusted());
        // An edited body, or one that cannot tell, does not do either.
        for as_written in [Some(false), None] {
            let edited = IssueFacts {
                as_written,
                ..own()
            };
            let t = decide(&edited, &bots());
            assert!(!t.trusted(), "{t:?}");
        }
    }

    #[test]
    fn only_issues_ci_medic_filed_are_read() {
        // Even a maintainer's label does not vouch for someone else's issue.
        let copied = IssueFacts {
            author: "mallory",
            labeler: Some(("octocat", Access::Admin)),
            ..own()
        };
        match decide(&copied, &bots()) {
            Trust::Untrusted(why) => assert!(why.contains("issues it filed"), "{why}"),
            t => panic!("{t:?}"),
        }
    }

    #[test]
    fn writers_vouch_readers_do_not() {
        let labeled = |who, p| IssueFacts {
            labeler: Some((who, p)),
            sender: Some((who, p)),
            ..own()
        };
        assert_eq!(
            decide(&labeled("octocat", Access::Admin), &bots()),
            Trust::LabeledBy("octocat".into())
        );
        assert!(!decide(&labeled("mallory", Access::Triage), &bots()).trusted());
        let unknown = IssueFacts {
            labeler: None,
            ..own()
        };
        assert!(!decide(&unknown, &bots()).trusted());
    }

    #[test]
    fn whoever_re_triggers_needs_write_access() {
        // A triager reopens the action's issue, which the action labelled.
        let reopened = IssueFacts {
            sender: Some(("mallory", Access::Triage)),
            ..own()
        };
        match decide(&reopened, &bots()) {
            Trust::Untrusted(why) => assert!(why.contains("mallory, who triggered"), "{why}"),
            t => panic!("{t:?}"),
        }
        let by_writer = IssueFacts {
            sender: Some(("octocat", Access::Write)),
            ..own()
        };
        assert_eq!(decide(&by_writer, &bots()), Trust::OwnIssue);
        let dispatched = IssueFacts {
            sender: None,
            ..own()
        };
        assert_eq!(decide(&dispatched, &bots()), Trust::OwnIssue);
    }

    fn run(event: &str, branch: &str, head_repo: &str) -> RunFacts {
        serde_json::from_value(serde_json::json!({
            "id": 7, "event": event, "head_sha": "a".repeat(40), "head_branch": branch,
            "path": ".github/workflows/ci.yml",
            "repository": {"full_name": "o/r"}, "head_repository": {"full_name": head_repo}
        }))
        .expect("run")
    }

    fn block(event: &str) -> IssueAnalysis {
        serde_json::from_value(serde_json::json!({
            "version": 1, "fingerprint": "0123456789abcdef", "category": "dependency",
            "repo": "o/r", "workflow": "CI", "workflow_path": ".github/workflows/ci.yml",
            "branch": "main", "event": event, "head_sha": "a".repeat(40), "run_id": 7,
            "run_attempt": 1, "jobs": [], "failures": []
        }))
        .expect("block")
    }

    #[test]
    fn only_runs_of_trusted_events_branches_and_repositories_are_acted_on() {
        let check = |r: &RunFacts, b: &IssueAnalysis| {
            check_run(r, b, "o/r", "main", &["release".to_string()])
        };
        for event in TRUSTED_EVENTS {
            assert!(
                check(&run(event, "main", "o/r"), &block(event)).is_ok(),
                "{event}"
            );
        }
        assert!(check(&run("push", "release", "o/r"), &block("push")).is_ok());
        for (r, b) in [
            (run("pull_request", "main", "o/r"), block("pull_request")),
            (
                run("pull_request_target", "main", "o/r"),
                block("pull_request_target"),
            ),
            (run("workflow_run", "main", "o/r"), block("workflow_run")),
            (run("push", "main", "mallory/r"), block("push")),
            (run("push", "feature", "o/r"), block("push")),
            // The body disagrees with the API.
            (run("push", "main", "o/r"), block("workflow_dispatch")),
        ] {
            assert!(check(&r, &b).is_err(), "{r:?}");
        }
        let mut no_head = run("push", "main", "o/r");
        no_head.head_repository = None;
        assert!(check(&no_head, &block("push")).is_err());
        let mut other_commit = block("push");
        other_commit.head_sha = "b".repeat(40);
        assert!(check(&run("push", "main", "o/r"), &other_commit).is_err());
    }
}
