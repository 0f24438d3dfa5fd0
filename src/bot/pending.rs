//! Merges waiting for checks: looked at again when a run on their head
//! completes and by a scheduled sweep, cancelled by a push. The request lives in the merge command's
//! reply (see [`super::merge`]); each look either waits, merges the pinned
//! SHA, or ends the wait with `## Merge failed` (or `## Merge cancelled`)
//! and removes the `merging` label. A merged or closed pull request only
//! loses the label, so a completion delivered twice merges once.

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::config::LABEL_MERGING;
use super::merge::{self, MergeFacts, PendingMerge, checks, read_pending};
use super::reply::{self, ReplyTo};
use super::{merge_rules, tolerance};
use crate::app::Ctx;
use crate::config::Config;
use crate::github::marker::find_key;
use crate::github::pulls::PullDetail;
use crate::github::types::RunInfo;
use crate::plan::{Plan, StepOptions, Write};
use crate::report::markdown::code;

/// What woke the pending merges up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wake {
    /// A run on this commit completed.
    Completed { sha: String },
    /// Commits were pushed to this pull request.
    Pushed { number: u64 },
    /// A sweep that needs no event (`schedule`, `workflow_dispatch`): every
    /// waiting merge is looked at, its deadline enforced, its checks and
    /// gates read again. It wakes what no event woke: results written in
    /// runs that each saw the other still in progress, a deadline passed
    /// with nothing completing.
    Sweep,
}

/// One pending merge with what it is decided from.
#[derive(Debug, Clone)]
pub struct Waiting {
    pub state: PendingMerge,
    pub reply: ReplyTo,
    pub pull: PullDetail,
    pub runs: Vec<RunInfo>,
    /// Check runs of the pending head (other CI, Dr. CI, downstream CI).
    pub check_runs: Vec<crate::github::checks::CheckRunInfo>,
    /// Read again once nothing is left to wait for: the reviews and merge
    /// rules as they are now (an approval dismissed while the merge waited
    /// ends it), and what tolerating unrelated failures is decided from.
    pub merge: Option<MergeFacts>,
}

#[derive(Debug, Clone)]
pub struct Facts {
    pub waiting: Vec<Waiting>,
    pub default_branch: String,
    pub now: DateTime<Utc>,
    /// A ClickHouse store is configured: merges are recorded.
    pub audit: bool,
    /// `owner/name`.
    pub repo: String,
}

/// Read the pending merges `wake` concerns. Writes nothing.
pub async fn gather(ctx: &Ctx, wake: Wake) -> Result<Facts> {
    let gh = ctx.github()?;
    let mut waiting = Vec::new();
    let mut default_branch = String::new();
    let labelled = gh.open_pulls_with_label(LABEL_MERGING).await?;
    for issue in labelled {
        if let Wake::Pushed { number } = wake
            && issue.number != number
        {
            continue;
        }
        // The latest sealed request in a reply of ours.
        let found = gh
            .comments(issue.number)
            .await?
            .into_iter()
            .rev()
            .filter(|c| gh.identity().is_ours(&c.user.login))
            .filter_map(|c| {
                let body = c.body?;
                let key = find_key(&body, reply::KIND)?.to_string();
                let state = read_pending(&body)?;
                Some((key, state))
            })
            .find(|(_, s)| s.pr == issue.number);
        let Some((key, state)) = found else { continue };
        if let Wake::Completed { sha } = &wake
            && *sha != state.sha
        {
            continue;
        }
        let pull = gh.pull_detail(issue.number).await?;
        let runs = gh
            .runs(
                &format!("head_sha={}", state.sha),
                super::act::MAX_HEAD_RUNS,
            )
            .await?;
        let check_runs = gh.check_runs_of(&state.sha).await?;
        if default_branch.is_empty() {
            default_branch = gh.default_branch().await?;
        }
        // About to land (or fail): read the approvals again, and the jobs
        // of failing runs when Dr. CI may tolerate them.
        let c = checks(&runs, &check_runs);
        let merge = if pull.head.sha == state.sha && !pull.merged && pull.state == "open" {
            // `-r -i`: what failed in each failing run, to tell the failures
            // seen before the update from new ones.
            let failed_jobs = if state.ignored_failures.is_empty() {
                Default::default()
            } else {
                merge::failed_jobs(gh, &runs, &c.failing).await?
            };
            let now = merge::failures(&c.failing, &check_runs, &failed_jobs);
            let failing = merge::unignored(&state, &c.failing, &now);
            let tolerance = if state.tolerate > 0 {
                super::tolerance::gather(gh, &ctx.config, &runs, &check_runs, &failing).await?
            } else {
                super::tolerance::Inputs::default()
            };
            let gate = super::tolerance::gate(
                &failing,
                &tolerance,
                state.tolerate,
                &super::tolerance::check_name(&ctx.config),
            );
            if gate.blocking.is_empty() && c.pending.is_empty() {
                let mut m = merge::gather(ctx, &pull, &ctx.config, &default_branch).await?;
                m.tolerance = tolerance;
                m.failed_jobs = failed_jobs;
                Some(m)
            } else {
                Some(MergeFacts {
                    tolerance,
                    failed_jobs,
                    ..MergeFacts::default()
                })
            }
        } else {
            None
        };
        waiting.push(Waiting {
            reply: ReplyTo {
                number: issue.number,
                key,
            },
            state,
            pull,
            runs,
            check_runs,
            merge,
        });
    }
    Ok(Facts {
        waiting,
        default_branch,
        now: Utc::now(),
        audit: ctx.store_config().is_ok(),
        repo: gh.repo().full(),
    })
}

/// End a wait: the reply says why, the label goes, and the audit log (when
/// there is one) records the merge as failed with that reason.
pub fn end(plan: &mut Plan, facts: &Facts, w: &Waiting, heading: &str, why: &str) {
    let (kind, key) = w.reply.marker();
    let said = plan.push(
        Write::Comment {
            number: w.reply.number,
            body: w.reply.body(&format!("## {heading}\n\n{why}")),
            marker: Some((kind, key)),
        },
        format!("the merge of #{} ended", w.reply.number),
    );
    if facts.audit {
        let s = &w.state;
        let (write, reason, options) = super::audit::refused_step(
            audit_entry(w.reply.number, s),
            &facts.repo,
            facts.now,
            &format!("{heading}: {}", plain(why)),
            &said,
        );
        plan.push_with(write, reason, options);
    }
    plan.push_best_effort(
        Write::RemoveLabel {
            number: w.reply.number,
            label: LABEL_MERGING.to_string(),
        },
        "the merge no longer waits",
    );
}

/// Wait, merge, or end each pending merge. Pure.
pub fn decide(facts: &Facts, config: &Config) -> Plan {
    let mut plan = Plan::new("pending-merge");
    for w in &facts.waiting {
        let n = w.reply.number;
        let s = &w.state;
        if w.pull.merged || w.pull.state != "open" {
            plan.push_best_effort(
                Write::RemoveLabel {
                    number: n,
                    label: LABEL_MERGING.to_string(),
                },
                "the pull request is no longer open",
            );
            continue;
        }
        if w.pull.head.sha != s.sha {
            end(
                &mut plan,
                facts,
                w,
                "Merge cancelled",
                &format!(
                    "Commits were pushed after the merge command (head {} is now {}); re-issue the merge command to merge the new head.",
                    code(&s.sha),
                    code(&w.pull.head.sha)
                ),
            );
            continue;
        }
        if let Err(r) = merge::refuse_state(&w.pull, &facts.default_branch, config) {
            end(&mut plan, facts, w, "Merge failed", &r.0);
            continue;
        }
        let c = checks(&w.runs, &w.check_runs);
        let merge_facts = w.merge.clone().unwrap_or_default();
        let now = merge::failures(&c.failing, &w.check_runs, &merge_facts.failed_jobs);
        let failing = merge::unignored(s, &c.failing, &now);
        let gate = tolerance::gate(
            &failing,
            &merge_facts.tolerance,
            s.tolerate,
            &tolerance::check_name(config),
        );
        if !gate.blocking.is_empty() {
            let mut why = format!(
                "Checks failed on {}: {}.",
                code(&s.sha),
                reply::names(&gate.blocking)
            );
            if let Some(over) = &gate.over {
                why.push_str("\n\n");
                why.push_str(over);
            }
            end(&mut plan, facts, w, "Merge failed", &why);
            continue;
        }
        if !c.pending.is_empty() {
            if facts.now > s.deadline {
                end(
                    &mut plan,
                    facts,
                    w,
                    "Merge failed",
                    &format!(
                        "Checks did not finish by the deadline ({} UTC): {}.",
                        s.deadline.format("%Y-%m-%d %H:%M"),
                        reply::names(&c.pending)
                    ),
                );
            } else {
                plan.note(format!(
                    "#{n}: the merge waits for {}",
                    c.pending.join(", ")
                ));
            }
            continue;
        }
        // The approvals as they are now, by the rules as they are now.
        let approved = match &merge_facts.rules {
            Some(rules) => {
                merge::rule_approvals(&merge_facts, rules, &w.pull).map(|(a, rule)| (a, Some(rule)))
            }
            None => merge::approvals(&merge_facts, &w.pull).map(|a| (a, None)),
        };
        let approvers = match approved {
            Ok((approvers, rule)) => {
                let refusal = rule
                    .filter(|_| s.mode != merge::Mode::Force)
                    .and_then(|rule| {
                        let all = merge::check_names(&w.runs, &w.check_runs);
                        let m = merge_rules::mandatory(rule, &all, &gate.blocking);
                        merge_rules::refuse_mandatory(rule, &m, &s.sha)
                    });
                if let Some(r) = refusal {
                    end(&mut plan, facts, w, "Merge failed", &r.0);
                    continue;
                }
                approvers
            }
            Err(r) => {
                end(
                    &mut plan,
                    facts,
                    w,
                    "Merge failed",
                    &format!("The approvals changed while the merge waited: {}", r.0),
                );
                continue;
            }
        };
        let merge_id = format!("merge-{n}");
        for (write, why, options) in merge::merge_writes(
            &w.pull,
            &s.sha,
            &approvers,
            &w.reply,
            config,
            &format!("the checks of {} passed", s.sha),
        ) {
            plan.push_with(write, why, options);
        }
        if facts.audit {
            for (write, why, options) in super::audit::merge_steps(
                audit_entry(n, s),
                &facts.repo,
                facts.now,
                "merged",
                &merge_id,
            ) {
                plan.push_with(write, why, options);
            }
        }
        let after_merge = StepOptions {
            depends_on: vec![merge_id],
            ..StepOptions::default()
        };
        let (kind, key) = w.reply.marker();
        let mut text = format!(
            "Merged {} once its checks passed (asked for by {}).",
            code(&s.sha),
            crate::report::markdown::inline(&s.requester)
        );
        if !gate.tolerated.is_empty() {
            text.push_str(&format!("\n\n{}", merge::tolerated_line(&gate.tolerated)));
        }
        plan.push_with(
            Write::Comment {
                number: n,
                body: w.reply.body(&text),
                marker: Some((kind, key)),
            },
            "the merge landed",
            after_merge.clone(),
        );
        plan.push_with(
            Write::RemoveLabel {
                number: n,
                label: LABEL_MERGING.to_string(),
            },
            "the merge landed",
            StepOptions {
                best_effort: true,
                ..after_merge
            },
        );
    }
    plan
}

/// A reply's text as a plain line for the audit log: code spans and
/// escapes undone, lines joined.
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '`' => {}
            '\\' if chars.peek().is_some_and(|n| n.is_ascii_punctuation()) => {}
            '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The audit entry of waiting merge `s` of pull request `pr`.
fn audit_entry(pr: u64, s: &PendingMerge) -> super::audit::Entry {
    super::audit::Entry {
        pr,
        action: "merge",
        sha: s.sha.clone(),
        actor: s.requester.clone(),
        reason: String::new(),
        classification: String::new(),
        flags: s.flags(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::TableRows;

    /// A merge waiting at `a…a` whose pull request's head moved to `c…c`.
    fn moved(rebase: bool, mode: merge::Mode) -> Facts {
        let pull: PullDetail = serde_json::from_value(serde_json::json!({
            "number": 5, "state": "open", "title": "t",
            "head": {"ref": "f", "sha": "c".repeat(40)},
            "base": {"ref": "main", "sha": "b".repeat(40)},
        }))
        .expect("pull");
        let now = DateTime::from_timestamp(1_772_000_000, 0).expect("time");
        Facts {
            waiting: vec![Waiting {
                state: PendingMerge {
                    pr: 5,
                    sha: "a".repeat(40),
                    requester: "alice".into(),
                    mode,
                    ignored: Vec::new(),
                    approvers: Vec::new(),
                    tolerate: 0,
                    rebase,
                    deadline: now + chrono::Duration::hours(1),
                    body_sha256: String::new(),
                    ignored_failures: Vec::new(),
                },
                reply: ReplyTo {
                    number: 5,
                    key: "k".into(),
                },
                pull,
                runs: Vec::new(),
                check_runs: Vec::new(),
                merge: None,
            }],
            default_branch: "main".into(),
            now,
            audit: true,
            repo: "o/r".into(),
        }
    }

    fn audited_flags(facts: &Facts) -> Vec<Vec<String>> {
        decide(facts, &Config::default())
            .steps
            .iter()
            .filter_map(|s| match &s.write {
                Write::InsertRows {
                    rows: TableRows::BotAudit(rows),
                } => Some(rows.iter().map(|r| r.flags.clone()).collect::<Vec<_>>()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    #[test]
    fn the_audit_row_of_a_merge_r_wait_carries_the_rebase_flag() {
        assert_eq!(
            audited_flags(&moved(true, merge::Mode::IgnoreCurrent)),
            [vec!["rebase".to_string(), "ignore-current".to_string()]]
        );
        assert_eq!(
            audited_flags(&moved(true, merge::Mode::Normal)),
            [vec!["rebase".to_string()]]
        );
        assert_eq!(
            audited_flags(&moved(false, merge::Mode::IgnoreCurrent)),
            [vec!["ignore-current".to_string()]]
        );
    }
}
