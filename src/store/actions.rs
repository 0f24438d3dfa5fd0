//! `actions`: what ci-medic did (re-runs and heals), one row per write that
//! landed, so the HUD can count them. The revert commands' reverts are
//! counted from `bot_audit` and autorevert's restarts, reverts and
//! notifications from `autorevert_events`, which record them already.
//!
//! A handler adds the rows with [`record`]: after each step of its plan
//! that is an action, a store step carrying its row that runs only once
//! that step landed (a dry run writes none; a refused re-run records
//! nothing). Each row names the event that caused it (`delivery`); the
//! store writes no row whose event, kind and target it holds already, so a
//! redelivered event records nothing twice.

use std::collections::BTreeSet;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clickhouse::Row;
use serde::{Deserialize, Serialize};

use super::rows::millis;
use super::{Store, TableRows};
use crate::config::Config;
use crate::plan::{Plan, StepOptions, Write};

/// What was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ActionKind {
    /// Retry re-ran failed jobs.
    Rerun,
    /// Heal opened (or updated) the pull request that fixes a workflow.
    Heal,
}

impl ActionKind {
    pub const ALL: [ActionKind; 2] = [ActionKind::Rerun, ActionKind::Heal];

    /// The `kind` column's value.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Rerun => "rerun",
            ActionKind::Heal => "heal",
        }
    }

    pub fn parse(s: &str) -> Option<ActionKind> {
        ActionKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One action that landed: a row of `actions`.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct ActionRow {
    /// When it was recorded: stamped by the store as the row is written,
    /// just after the action landed (the epoch in a plan).
    #[serde(with = "millis")]
    pub ts: DateTime<Utc>,
    pub repository_full_name: String,
    /// [`ActionKind::as_str`].
    pub kind: String,
    /// What it acted on: a job or run id, a branch, a ref.
    pub target: String,
    /// The commit, when the write names one.
    pub sha: String,
    /// The run re-run, when the write names one (0 otherwise).
    pub run_id: i64,
    /// The event that caused it (the same event delivered again has the
    /// same key).
    pub delivery: String,
    /// The plan step's write kind (`rerun-job`, `open-pull-request`...).
    pub step: String,
}

/// What `write` acted on: its target, commit and run (`None` for writes
/// that are no action).
fn target_of(write: &Write) -> Option<(String, String, i64)> {
    Some(match write {
        Write::RerunJob { job_id, .. } => (job_id.to_string(), String::new(), 0),
        Write::RerunFailedJobs { run_id } => (
            run_id.to_string(),
            String::new(),
            i64::try_from(*run_id).unwrap_or_default(),
        ),
        Write::OpenPullRequest { head, .. } => (head.clone(), String::new(), 0),
        Write::DispatchWorkflow { git_ref, .. } => {
            let sha = git_ref
                .rsplit_once('/')
                .map(|(_, s)| s)
                .filter(|s| s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit()))
                .unwrap_or_default();
            (git_ref.clone(), sha.to_string(), 0)
        }
        Write::CreateRef { git_ref, sha } | Write::SetRef { git_ref, sha } => {
            (git_ref.clone(), sha.clone(), 0)
        }
        Write::CommitFiles {
            branch, base_sha, ..
        }
        | Write::CommitOnto {
            branch, base_sha, ..
        } => (branch.clone(), base_sha.clone(), 0),
        Write::MergePull { number, sha, .. } => (number.to_string(), sha.clone(), 0),
        _ => return None,
    })
}

/// The row recording `write` as an action of `kind`.
pub fn row_of(write: &Write, kind: ActionKind, repo: &str, delivery: &str) -> Option<ActionRow> {
    let (target, sha, run_id) = target_of(write)?;
    Some(ActionRow {
        ts: DateTime::<Utc>::UNIX_EPOCH,
        repository_full_name: repo.to_string(),
        kind: kind.as_str().to_string(),
        target,
        sha,
        run_id,
        delivery: delivery.to_string(),
        step: write.kind().to_string(),
    })
}

/// With a store configured, add to `plan` after each step whose write
/// `kind_of` calls an action a store step recording it, run only once that
/// step landed. `delivery` names the event the plan answers. Returns the
/// steps added.
pub fn record(
    plan: &mut Plan,
    config: &Config,
    repo: &str,
    delivery: &str,
    kind_of: impl Fn(&Write) -> Option<ActionKind>,
) -> usize {
    if config.clickhouse.is_none() {
        return 0;
    }
    let found: Vec<(String, ActionRow)> = plan
        .steps
        .iter()
        .filter_map(|s| {
            let kind = kind_of(&s.write)?;
            Some((s.id.clone(), row_of(&s.write, kind, repo, delivery)?))
        })
        .collect();
    let added = found.len();
    for (id, row) in found {
        let reason = format!("ci-medic's record of its {}", row.kind);
        plan.push_with(
            Write::InsertRows {
                rows: TableRows::Actions(vec![row]),
            },
            reason,
            StepOptions {
                id: Some(format!("record-{id}")),
                depends_on: vec![id],
                best_effort: true,
                ..StepOptions::default()
            },
        );
    }
    added
}

const RECORDED: &str = "\
SELECT kind, target FROM actions FINAL
WHERE repository_full_name = {repo:String} AND delivery IN {deliveries:Array(String)}";

#[derive(Debug, Row, Deserialize)]
struct Recorded {
    kind: String,
    target: String,
}

impl Store {
    /// Writes the action rows not recorded yet (by repository, event, kind
    /// and target), each stamped with the time it is written.
    pub async fn insert_actions(&self, rows: &[ActionRow]) -> anyhow::Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let now = Utc::now();
        let mut fresh = Vec::with_capacity(rows.len());
        let repos: BTreeSet<&str> = rows
            .iter()
            .map(|r| r.repository_full_name.as_str())
            .collect();
        for repo in repos {
            let deliveries: Vec<&str> = rows
                .iter()
                .filter(|r| r.repository_full_name == repo)
                .map(|r| r.delivery.as_str())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let seen: BTreeSet<(String, String)> = self
                .client()
                .query_raw(RECORDED)
                .param("repo", repo)
                .param("deliveries", &deliveries)
                .fetch_all::<Recorded>()
                .await
                .context("reading the actions recorded already")?
                .into_iter()
                .map(|r| (r.kind, r.target))
                .collect();
            for r in rows.iter().filter(|r| r.repository_full_name == repo) {
                if seen.contains(&(r.kind.clone(), r.target.clone())) {
                    tracing::info!("{} of {} recorded already for this event", r.kind, r.target);
                    continue;
                }
                fresh.push(ActionRow {
                    ts: now,
                    ..r.clone()
                });
            }
        }
        if fresh.is_empty() {
            return Ok(());
        }
        let context = || format!("inserting {} rows into actions", fresh.len());
        let mut insert = self
            .client()
            .insert::<ActionRow>("actions")
            .await
            .with_context(context)?;
        for row in &fresh {
            insert.write(row).await.with_context(context)?;
        }
        insert.end().await.with_context(context)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(store: bool) -> Config {
        let text = if store {
            "clickhouse:\n  url: http://localhost:8123\n"
        } else {
            ""
        };
        Config::parse("test", text).unwrap()
    }

    fn rerun_plan() -> Plan {
        let mut plan = Plan::new("retry");
        plan.push(
            Write::RerunFailedJobs { run_id: 42 },
            "flaky failures".to_string(),
        );
        plan.push(
            Write::Comment {
                number: 1,
                body: "x".into(),
                marker: None,
            },
            "a comment is no action".to_string(),
        );
        plan
    }

    fn is_rerun(w: &Write) -> Option<ActionKind> {
        matches!(w, Write::RerunJob { .. } | Write::RerunFailedJobs { .. })
            .then_some(ActionKind::Rerun)
    }

    #[test]
    fn an_action_is_recorded_after_it_lands_and_only_with_a_store() {
        let mut plan = rerun_plan();
        assert_eq!(record(&mut plan, &config(false), "o/r", "d", is_rerun), 0);
        assert_eq!(plan.steps.len(), 2);

        let mut plan = rerun_plan();
        assert_eq!(
            record(&mut plan, &config(true), "o/r", "run/42/1", is_rerun),
            1
        );
        let step = plan.steps.last().unwrap();
        assert_eq!(step.depends_on, [plan.steps[0].id.clone()]);
        assert!(step.best_effort);
        let Write::InsertRows {
            rows: TableRows::Actions(rows),
        } = &step.write
        else {
            panic!("{step:?}");
        };
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].kind, "rerun");
        assert_eq!(rows[0].target, "42");
        assert_eq!(rows[0].run_id, 42);
        assert_eq!(rows[0].delivery, "run/42/1");
        assert_eq!(rows[0].step, "rerun-failed-jobs");
    }

    #[test]
    fn a_restart_dispatch_names_its_commit() {
        let sha = "a".repeat(40);
        let row = row_of(
            &Write::DispatchWorkflow {
                workflow: "trunk.yml".into(),
                git_ref: format!("trunk/{sha}"),
                inputs: serde_json::Map::new(),
            },
            ActionKind::Rerun,
            "o/r",
            "d",
        )
        .unwrap();
        assert_eq!(row.sha, sha);
        for k in ActionKind::ALL {
            assert_eq!(ActionKind::parse(k.as_str()), Some(k));
        }
    }

    /// Every kind is one a handler writes, and README's `actions` table
    /// lists exactly those.
    #[test]
    fn the_kinds_are_those_written_and_documented() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut sources = String::new();
        for dir in ["src/handlers", "src/jobs"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "rs") {
                    sources.push_str(&std::fs::read_to_string(&path).unwrap());
                }
            }
        }
        for k in ActionKind::ALL {
            let used = format!("ActionKind::{k:?})");
            assert!(sources.contains(&used), "no handler writes {k:?}");
        }
        let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
        let readme = readme.split_whitespace().collect::<Vec<_>>().join(" ");
        let at = readme.find("`kind` (").expect("README documents `kind`") + 8;
        let listed = &readme[at..at + readme[at..].find(')').unwrap()];
        let listed: Vec<&str> = listed.split('`').skip(1).step_by(2).collect();
        let kinds: Vec<&str> = ActionKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(listed, kinds);
    }
}
