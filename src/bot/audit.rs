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
    let action = entry.action;
    (
        Write::InsertRows {
            rows: TableRows::BotAudit(vec![row(entry, repo, now, result)]),
        },
        format!("the audit log of the {action}"),
        StepOptions {
            depends_on: vec![after.to_string()],
            best_effort: true,
            ..StepOptions::default()
        },
    )
}

/// The result of a merge that did not land.
pub const FAILED: &str = "failed";

/// The row of `entry`, at `now`, with `result`.
fn row(entry: Entry, repo: &str, now: DateTime<Utc>, result: &str) -> BotAuditRow {
    BotAuditRow {
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
    }
}

/// The store steps recording how merge step `merge_id` ended: one row
/// with `result` once it landed (with the head it merged, when it reports
/// one: `merge -r -f`), or one row with `result: failed` and the reason when
/// GitHub refused it or the head moved. Only one of the two runs; a dry
/// run writes neither.
pub fn merge_steps(
    entry: Entry,
    repo: &str,
    now: DateTime<Utc>,
    result: &str,
    merge_id: &str,
) -> [(Write, String, StepOptions); 2] {
    let pr = entry.pr;
    let landed = row(entry.clone(), repo, now, result);
    let failed = row(entry, repo, now, FAILED);
    [
        (
            Write::AuditOutcome { row: landed },
            format!("the audit log of the merge of #{pr}"),
            StepOptions {
                depends_on: vec![merge_id.to_string()],
                best_effort: true,
                ..StepOptions::default()
            },
        ),
        (
            Write::AuditOutcome { row: failed },
            format!("the audit log of the failed merge of #{pr}"),
            StepOptions {
                depends_on: vec![merge_id.to_string()],
                when: crate::plan::When::AnyFailed,
                best_effort: true,
                ..StepOptions::default()
            },
        ),
    ]
}

/// The store step recording a merge ci-medic gave up on after waiting
/// (`why`), once step `after` (the reply saying so) landed: a redelivery
/// finds no waiting merge, so it records nothing again.
pub fn refused_step(
    entry: Entry,
    repo: &str,
    now: DateTime<Utc>,
    why: &str,
    after: &str,
) -> (Write, String, StepOptions) {
    let pr = entry.pr;
    let mut row = row(entry, repo, now, FAILED);
    row.reason = why.to_string();
    (
        Write::InsertRows {
            rows: TableRows::BotAudit(vec![row]),
        },
        format!("the audit log of the failed merge of #{pr}"),
        StepOptions {
            depends_on: vec![after.to_string()],
            best_effort: true,
            ..StepOptions::default()
        },
    )
}

/// Characters of a failure's reason kept in its row, at most (GitHub's
/// messages are short; this bounds whatever else comes back).
const MAX_REASON_CHARS: usize = 2000;

/// The row an [`Write::AuditOutcome`] writes, from what its merge step did
/// (`None` when that step is unknown); `Err` (the step is skipped) when
/// there is nothing to record: the merge itself was skipped.
pub fn resolve(planned: &BotAuditRow, outcome: Option<&Outcome>) -> Result<Write, String> {
    let mut row = planned.clone();
    match outcome {
        Some(Outcome::Failed { error }) => {
            let error: String = error.chars().take(MAX_REASON_CHARS).collect();
            row.result = FAILED.to_string();
            row.reason = if planned.reason.is_empty() {
                error
            } else {
                format!("{error} (forced: {})", planned.reason)
            };
        }
        Some(Outcome::Done { merged_head, .. }) => {
            if let Some(head) = merged_head {
                row.sha = head.clone();
            }
        }
        Some(Outcome::Skipped { why }) => {
            return Err(format!("no merge was attempted: {why}"));
        }
        None => return Err("no merge was attempted".to_string()),
        Some(Outcome::DryRun | Outcome::Issue { .. } | Outcome::Pull { .. }) => {}
    }
    Ok(Write::InsertRows {
        rows: TableRows::BotAudit(vec![row]),
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn planned() -> BotAuditRow {
        row(
            Entry {
                pr: 3,
                action: "merge",
                sha: "aaa".into(),
                actor: "octocat".into(),
                reason: "two words".into(),
                classification: String::new(),
                flags: vec!["rebase".into(), "force".into()],
            },
            "o/r",
            DateTime::from_timestamp(1_800_000_000, 0).expect("time"),
            "merged",
        )
    }

    fn resolved(outcome: Option<&Outcome>) -> Result<BotAuditRow, String> {
        match resolve(&planned(), outcome)? {
            Write::InsertRows {
                rows: TableRows::BotAudit(mut rows),
            } if rows.len() == 1 => Ok(rows.remove(0)),
            other => Err(format!("{other:?}")),
        }
    }

    #[test]
    fn a_landed_merge_records_the_head_it_reports_merging() {
        let row = resolved(Some(&Outcome::Done {
            detail: "merged".into(),
            merged_head: Some("bbb".into()),
        }))
        .expect("row");
        assert_eq!((row.sha.as_str(), row.result.as_str()), ("bbb", "merged"));
        // The head comes from the outcome's field, never from its text.
        let row = resolved(Some(&Outcome::Done {
            detail: "updated #3 to fff; merged fff as ccc".into(),
            merged_head: None,
        }))
        .expect("row");
        assert_eq!(row.sha, "aaa");
    }

    #[test]
    fn a_failed_merge_records_why_and_a_skipped_one_nothing() {
        let row = resolved(Some(&Outcome::Failed {
            error: "405: protected".into(),
        }))
        .expect("row");
        assert_eq!(row.result, FAILED);
        assert_eq!(row.reason, "405: protected (forced: two words)");
        assert!(
            resolved(Some(&Outcome::Skipped {
                why: "x did not land".into()
            }))
            .is_err()
        );
        assert!(resolved(None).is_err());
    }
}
