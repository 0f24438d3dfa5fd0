//! Cancel on close: a pull request closed without merging has its queued
//! and in-progress runs cancelled. Pure selection of the runs.

use serde::{Deserialize, Serialize};

use crate::config::workflow_selected;
use crate::event::Status;
use crate::github::types::RunInfo;

/// `.github/ci-medic.yml` `cancel-on-close:`; the section being present
/// turns the handler on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct CancelOnCloseConfig {
    /// Workflow names or files whose runs are cancelled; empty means all.
    pub workflows: Vec<String>,
    /// Leave pull requests by bots alone (their runs often feed automation).
    pub skip_bots: bool,
    /// Logins whose pull requests are left alone.
    pub skip_authors: Vec<String>,
}

impl Default for CancelOnCloseConfig {
    fn default() -> Self {
        CancelOnCloseConfig {
            workflows: Vec::new(),
            skip_bots: true,
            skip_authors: Vec::new(),
        }
    }
}

/// Run states that can still be cancelled.
const ACTIVE: &[Status] = &[
    Status::Queued,
    Status::InProgress,
    Status::Waiting,
    Status::Requested,
    Status::Pending,
];

/// Events whose runs belong to a pull request.
const PR_EVENTS: &[&str] = &["pull_request", "pull_request_target"];

/// Is this author's pull request left alone?
pub fn skips_author(config: &CancelOnCloseConfig, login: &str, kind: Option<&str>) -> bool {
    (config.skip_bots && (kind == Some("Bot") || login.ends_with("[bot]")))
        || config
            .skip_authors
            .iter()
            .any(|a| a.eq_ignore_ascii_case(login))
}

/// The runs to cancel: still active, started by a pull-request event on
/// the closed pull request's head commit and branch (a push run on the same
/// commit elsewhere is not the pull request's), of a selected workflow.
pub fn runs_to_cancel<'a>(
    config: &CancelOnCloseConfig,
    runs: &'a [RunInfo],
    head_sha: &str,
    head_branch: &str,
) -> Vec<&'a RunInfo> {
    runs.iter()
        .filter(|r| r.head_sha == head_sha)
        .filter(|r| r.head_branch.as_deref() == Some(head_branch))
        .filter(|r| PR_EVENTS.contains(&r.event.as_str()))
        .filter(|r| r.status.as_ref().is_some_and(|s| ACTIVE.contains(s)))
        .filter(|r| {
            workflow_selected(
                &config.workflows,
                r.name.as_deref().unwrap_or_default(),
                r.path.as_deref(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: u64, event: &str, status: &str, branch: &str, name: &str) -> RunInfo {
        serde_json::from_value(serde_json::json!({
            "id": id, "name": name, "path": format!(".github/workflows/{}.yml", name.to_lowercase()),
            "event": event, "head_sha": "abc", "head_branch": branch, "status": status,
        }))
        .expect("run")
    }

    #[test]
    fn only_active_pull_request_runs_of_the_head_are_cancelled() {
        let runs = [
            run(1, "pull_request", "in_progress", "feature", "CI"),
            run(2, "pull_request", "queued", "feature", "Lint"),
            run(3, "pull_request", "completed", "feature", "CI"),
            run(4, "push", "in_progress", "feature", "CI"),
            run(5, "pull_request", "in_progress", "other", "CI"),
        ];
        let c = CancelOnCloseConfig::default();
        let ids: Vec<u64> = runs_to_cancel(&c, &runs, "abc", "feature")
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, [1, 2]);
        let c = CancelOnCloseConfig {
            workflows: vec!["lint.yml".into()],
            ..CancelOnCloseConfig::default()
        };
        let ids: Vec<u64> = runs_to_cancel(&c, &runs, "abc", "feature")
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, [2]);
        assert!(runs_to_cancel(&c, &runs, "def", "feature").is_empty());
    }

    #[test]
    fn bots_and_listed_authors_are_skipped() {
        let c = CancelOnCloseConfig {
            skip_authors: vec!["Release-Bot".into()],
            ..CancelOnCloseConfig::default()
        };
        assert!(skips_author(&c, "dependabot[bot]", Some("Bot")));
        assert!(skips_author(&c, "release-bot", Some("User")));
        assert!(!skips_author(&c, "alice", Some("User")));
        let c = CancelOnCloseConfig {
            skip_bots: false,
            ..CancelOnCloseConfig::default()
        };
        assert!(!skips_author(&c, "dependabot[bot]", Some("Bot")));
    }
}
