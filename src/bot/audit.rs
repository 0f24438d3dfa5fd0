//! The audit of merges and reverts: a `bot_audit` row in ClickHouse when a
//! store is configured (a store step that runs only once the merge or
//! revert landed, so `--dry-run` writes none), and always a table in the
//! step summary.

use chrono::{DateTime, Utc};

use crate::plan::{Outcome, Report, StepOptions, Write};
use crate::report::markdown::code;
use crate::store::TableRows;
use crate::store::bot_audit::BotAuditRow;

/// What a merge or revert is recorded with; the time, repository and
/// result are added by [`step`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub pr: u64,
    pub action: &'static str,
    pub sha: String,
    pub actor: String,
    pub reason: String,
    pub classification: String,
    pub flags: Vec<String>,
}

/// The store step recording `entry` once step `after` landed.
pub fn step(
    entry: Entry,
    repo: &str,
    now: DateTime<Utc>,
    result: &str,
    after: &str,
) -> (Write, String, StepOptions) {
    let row = BotAuditRow {
        ts: now,
        repository_full_name: repo.to_string(),
        pr_number: entry.pr,
        action: entry.action.to_string(),
        sha: entry.sha,
        actor: entry.actor,
        reason: entry.reason,
        classification: entry.classification,
        flags: entry.flags,
        result: result.to_string(),
    };
    (
        Write::InsertRows {
            rows: TableRows::BotAudit(vec![row]),
        },
        format!("the audit log of the {}", entry.action),
        StepOptions {
            depends_on: vec![after.to_string()],
            best_effort: true,
            ..StepOptions::default()
        },
    )
}

/// The step summary's table of the merges and reverts a run carried out
/// (or would have, in a dry run); empty when there were none.
pub fn summary(report: &Report) -> String {
    let mut rows = Vec::new();
    for (step, outcome) in &report.results {
        let what = match &step.write {
            Write::MergePull { number, sha, .. } => format!("merge #{number} at {}", code(sha)),
            Write::UpdateBranchAndMerge {
                number,
                expected_head_sha,
                ..
            } => format!("merge #{number}, updated from {}", code(expected_head_sha)),
            Write::OpenPullRequest {
                marker_kind,
                marker_key,
                ..
            } if marker_kind == super::act::REVERT_KIND => {
                format!("revert #{} in a pull request", code(marker_key))
            }
            Write::CommitOnto {
                branch, base_sha, ..
            } => format!("revert onto {} at {}", code(branch), code(base_sha)),
            _ => continue,
        };
        let result = match outcome {
            Outcome::Done { .. } | Outcome::Pull { .. } | Outcome::Issue { .. } => "done",
            Outcome::DryRun => "dry run",
            Outcome::Failed { .. } => "failed",
            Outcome::Skipped { .. } => "skipped",
        };
        rows.push(format!(
            "| {what} | {} | {result} |",
            crate::report::markdown::inline(&step.reason).replace('|', "\\|")
        ));
    }
    if rows.is_empty() {
        return String::new();
    }
    format!(
        "### Merges and reverts\n\n| what | asked | result |\n|---|---|---|\n{}\n\n",
        rows.join("\n")
    )
}
