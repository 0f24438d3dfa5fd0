//! The merge gate of downstream CI: the merge command refuses while an L4
//! repository's check run on the pinned head failed, and waits while one is
//! pending (or there is none yet), woken by its result. Cancelled and
//! timed-out runs do not block; `-f` bypasses.
//! L2/L3 check runs never hold a merge. When the allowlist cannot be read
//! the gate follows `crcr.on-error` and the reply says so.
//!
//! Only ci-medic's own `crcr/...` check runs count: a check run of another
//! app bearing that name proves nothing.

use crate::app::Ctx;
use crate::bot::act::{Accepted, Facts};
use crate::bot::merge;
use crate::bot::parse::Command;
use crate::bot::pending;
use crate::bot::reply::Refusal;
use crate::config::Config;
use crate::event::Conclusion;
use crate::github::checks::CheckRunInfo;
use crate::github::pulls::PullDetail;
use crate::permissions::Access;
use crate::report::markdown::code;

use super::allowlist::Level;
use super::config::{CrcrConfig, OnError};
use super::receive::load_allowlist;

/// What the gate knows, read with the merge's facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateFacts {
    /// Each allowlisted repository with its level, or why it is unknown.
    pub repos: Result<Vec<(String, Level)>, String>,
    pub on_error: OnError,
    /// The app slugs ci-medic writes check runs as.
    pub own_apps: Vec<String>,
}

/// Read the allowlist for the gate; `None` when downstream CI is off.
pub async fn gather(ctx: &Ctx) -> Option<GateFacts> {
    let config = CrcrConfig::of(&ctx.config)?.clone();
    let repos = load_allowlist(ctx, &config)
        .await
        .map(|list| {
            list.entries()
                .iter()
                .map(|e| (e.repo.clone(), e.level))
                .collect()
        })
        .map_err(|e| format!("{e:#}"));
    let own_apps = ctx
        .github()
        .map(|gh| {
            gh.identity()
                .logins()
                .iter()
                .filter_map(|l| l.strip_suffix("[bot]"))
                .map(str::to_ascii_lowercase)
                .collect()
        })
        .unwrap_or_default();
    Some(GateFacts {
        repos,
        on_error: config.on_error,
        own_apps,
    })
}

/// The downstream repository a check run of ours reports, from its name
/// `crcr/<owner>/<repo> / <job>`.
fn downstream_of<'a>(gate: &GateFacts, run: &'a CheckRunInfo) -> Option<&'a str> {
    let ours = run
        .app
        .as_ref()
        .and_then(|a| a.slug.as_deref())
        .is_some_and(|s| gate.own_apps.iter().any(|o| o.eq_ignore_ascii_case(s)));
    if !ours {
        return None;
    }
    run.name
        .strip_prefix("crcr/")
        .and_then(|n| n.split_once(" / "))
        .map(|(repo, _)| repo)
}

/// Why each L4 repository holds the merge at `sha`, in allowlist order.
pub fn blocking(
    gate: &GateFacts,
    l4: &[String],
    runs: &[CheckRunInfo],
    sha: &str,
) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    for repo in l4 {
        let mine: Vec<&CheckRunInfo> = runs
            .iter()
            .filter(|r| r.head_sha.eq_ignore_ascii_case(sha))
            .filter(|r| downstream_of(gate, r).is_some_and(|d| d.eq_ignore_ascii_case(repo)))
            .collect();
        let failed = mine.iter().any(|r| {
            r.status.is_completed()
                && !r.conclusion.as_ref().is_some_and(|c| {
                    c.is_passing() || matches!(c, Conclusion::Cancelled | Conclusion::TimedOut)
                })
        });
        let why = if failed {
            Some("failed")
        } else if mine.is_empty() {
            Some("no result yet")
        } else if mine.iter().any(|r| !r.status.is_completed()) {
            Some("pending")
        } else {
            None
        };
        if let Some(why) = why {
            out.push((repo.clone(), why));
        }
    }
    out
}

/// The merge command with the downstream gate: the generic checks see no
/// check run of an allowlisted repository; then a merge the rest accepts
/// is refused while an L4 repository's result on the head failed, and
/// waits (like for any running check, until its deadline) while one is
/// pending or has no result yet; cancelled and timed out do not block.
/// `-f` passes the gate.
pub fn decide_merge(
    facts: &Facts,
    pull: &PullDetail,
    command: &Command,
    access: Access,
    config: &Config,
) -> Result<Accepted, Refusal> {
    let Some(gate) = facts.merge.as_ref().and_then(|m| m.crcr.as_ref()) else {
        return merge::decide(facts, pull, command, access, config);
    };
    let forced = matches!(command, Command::Merge { force: Some(_), .. });
    let repos = match &gate.repos {
        Ok(repos) => repos,
        Err(why) => {
            let mut accepted = merge::decide(facts, pull, command, access, config)?;
            if forced {
                return Ok(accepted);
            }
            return match gate.on_error {
                OnError::Closed => Err(Refusal::new(format!(
                    "The downstream CI gate could not be checked ({}), and `crcr.on-error` is `closed`: not merging. Fix the allowlist, or give `-f \"REASON\"` to merge anyway.",
                    code(why)
                ))),
                OnError::Open => {
                    let note = format!(
                        "The downstream CI gate could not be checked ({}); `crcr.on-error` is `open`, so it does not hold this merge.",
                        code(why)
                    );
                    accepted.reply = Some(match accepted.reply.take() {
                        Some(text) => format!("{text}\n\n{note}"),
                        None => note,
                    });
                    Ok(accepted)
                }
            };
        }
    };
    let level_of = |repo: &str| {
        repos
            .iter()
            .find(|(r, _)| r.eq_ignore_ascii_case(repo))
            .map(|(_, l)| *l)
    };
    // Allowlisted repositories' check runs are this gate's: L4 ones are
    // judged below (so `-i` does not pass them), the others never block.
    // One of a repository no longer allowlisted is held like any check.
    let mut filtered = facts.clone();
    filtered
        .check_runs
        .retain(|r| match downstream_of(gate, r) {
            None => true,
            Some(repo) => level_of(repo).is_none(),
        });
    let l4: Vec<String> = repos
        .iter()
        .filter(|(_, l)| l.blocks_merge())
        .map(|(r, _)| r.clone())
        .collect();
    let blocked = blocking(gate, &l4, &facts.check_runs, &pull.head.sha);
    let failed = blocked.iter().any(|(_, why)| *why == "failed");
    if !forced && !failed {
        // Pending, or no result yet: the merge waits for them as for any
        // running check, and their result wakes it (`crcr-wake`).
        filtered.check_runs.extend(
            blocked
                .iter()
                .map(|(repo, _)| awaited(gate, repo, &pull.head.sha)),
        );
    }
    let accepted = merge::decide(&filtered, pull, command, access, config)?;
    if forced || !failed {
        return Ok(accepted);
    }
    let list: Vec<String> = blocked
        .iter()
        .map(|(repo, why)| format!("{} ({why})", code(repo)))
        .collect();
    Err(Refusal::new(format!(
        "Downstream CI (L4) blocks merging {}: {}. Wait for their results, or give `-f \"REASON\"` to merge anyway.",
        code(&pull.head.sha),
        list.join(", ")
    )))
}

/// A stand-in for the result of L4 repository `repo` the merge waits for:
/// an unfinished check run of ours named after the repository.
fn awaited(gate: &GateFacts, repo: &str, sha: &str) -> CheckRunInfo {
    CheckRunInfo {
        id: 0,
        name: format!("crcr/{repo}"),
        head_sha: sha.to_string(),
        status: crate::event::Status::InProgress,
        conclusion: None,
        output: Default::default(),
        app: Some(crate::github::checks::AppInfo {
            slug: gate.own_apps.first().cloned(),
        }),
        details_url: None,
        external_id: None,
        html_url: None,
    }
}

/// The result just recorded (`shown`, the check run written on the head)
/// laid over the check runs read before it was: the check run of that
/// name is replaced, as the write updates it in place.
pub fn overlay(gate: &GateFacts, runs: &mut Vec<CheckRunInfo>, shown: &CheckRunInfo) {
    runs.retain(|r| !(r.name == shown.name && r.head_sha.eq_ignore_ascii_case(&shown.head_sha)));
    let mut shown = shown.clone();
    shown.app = Some(crate::github::checks::AppInfo {
        slug: gate.own_apps.first().cloned(),
    });
    runs.push(shown);
}

/// A pending merge's wake-up through the same gate as the merge command:
/// allowlisted repositories' check runs are taken out of what the wait
/// judges as ordinary checks; while an L4 repository's run on the pinned
/// head failed, the wait ends (`## Merge failed`, listing them); while one
/// is pending or has no result, the wait goes on (until the deadline).
/// Cancelled and timed out do not block; a forced merge is not held.
/// Returns the waits left to the ordinary decision, and the plan of those
/// the gate decided. `None` (downstream CI off) changes nothing.
pub fn hold_pending(
    facts: &pending::Facts,
    gate: Option<&GateFacts>,
) -> (pending::Facts, crate::plan::Plan) {
    let mut plan = crate::plan::Plan::new("pending-merge");
    let Some(gate) = gate else {
        return (facts.clone(), plan);
    };
    let mut rest = facts.clone();
    rest.waiting.clear();
    for w in &facts.waiting {
        let s = &w.state;
        let live = !w.pull.merged && w.pull.state == "open" && w.pull.head.sha == s.sha;
        if !live || s.mode == merge::Mode::Force {
            rest.waiting.push(w.clone());
            continue;
        }
        let repos = match &gate.repos {
            Ok(repos) => repos,
            Err(why) => {
                if gate.on_error == OnError::Closed {
                    end_wait(
                        &mut plan,
                        facts,
                        w,
                        &format!(
                            "The downstream CI gate could not be checked ({}), and `crcr.on-error` is `closed`: not merging.",
                            code(why)
                        ),
                    );
                } else {
                    plan.note(format!(
                        "#{}: the downstream CI gate could not be checked; `crcr.on-error` is `open`",
                        w.reply.number
                    ));
                    rest.waiting.push(w.clone());
                }
                continue;
            }
        };
        let allowlisted = |repo: &str| repos.iter().any(|(r, _)| r.eq_ignore_ascii_case(repo));
        let l4: Vec<String> = repos
            .iter()
            .filter(|(_, l)| l.blocks_merge())
            .map(|(r, _)| r.clone())
            .collect();
        let blocked = blocking(gate, &l4, &w.check_runs, &s.sha);
        let list = || {
            blocked
                .iter()
                .map(|(repo, why)| format!("{} ({why})", code(repo)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if blocked.iter().any(|(_, why)| *why == "failed") {
            end_wait(
                &mut plan,
                facts,
                w,
                &format!(
                    "Downstream CI (L4) blocks merging {}: {}.",
                    code(&s.sha),
                    list()
                ),
            );
            continue;
        }
        if !blocked.is_empty() {
            if facts.now > s.deadline {
                end_wait(
                    &mut plan,
                    facts,
                    w,
                    &format!(
                        "Downstream CI (L4) did not report by the deadline ({} UTC): {}.",
                        s.deadline.format("%Y-%m-%d %H:%M"),
                        list()
                    ),
                );
            } else {
                plan.note(format!(
                    "#{}: the merge waits for downstream CI: {}",
                    w.reply.number,
                    list()
                ));
            }
            continue;
        }
        let mut judged = w.clone();
        judged
            .check_runs
            .retain(|r| downstream_of(gate, r).is_none_or(|repo| !allowlisted(repo)));
        rest.waiting.push(judged);
    }
    (rest, plan)
}

/// End a pending merge: the reply says why, the label goes, and the audit
/// log records the merge as failed.
fn end_wait(plan: &mut crate::plan::Plan, facts: &pending::Facts, w: &pending::Waiting, why: &str) {
    pending::end(plan, facts, w, "Merge failed", why);
}

/// The merge facts of the waits the gate left whose ordinary checks are
/// clear only without the downstream ones: the wait's own gathering skipped
/// them (it saw those check runs as failing or pending), so read them now.
pub async fn regather_pending(ctx: &Ctx, facts: &mut pending::Facts) -> anyhow::Result<()> {
    for w in &mut facts.waiting {
        let live = !w.pull.merged && w.pull.state == "open" && w.pull.head.sha == w.state.sha;
        // Gathered merge facts carry the gate's (downstream CI is on here).
        let gathered = w.merge.as_ref().is_some_and(|m| m.crcr.is_some());
        if !live || gathered {
            continue;
        }
        let c = merge::checks(&w.runs, &w.check_runs);
        let clear = c.pending.is_empty() && c.failing.iter().all(|f| w.state.ignored.contains(f));
        if clear {
            let tolerance = w.merge.take().unwrap_or_default().tolerance;
            let mut m = merge::gather(ctx, &w.pull, &ctx.config, &facts.default_branch).await?;
            m.tolerance = tolerance;
            w.merge = Some(m);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::checks::AppInfo;

    fn run(name: &str, status: &str, conclusion: Option<&str>, app: &str) -> CheckRunInfo {
        CheckRunInfo {
            id: 1,
            name: name.into(),
            head_sha: "a".repeat(40),
            status: status.into(),
            conclusion: conclusion.map(Conclusion::parse),
            output: Default::default(),
            app: Some(AppInfo {
                slug: Some(app.into()),
            }),
            details_url: None,
            external_id: None,
            html_url: None,
        }
    }

    #[test]
    fn l4_blocks_on_failure_pending_or_nothing_but_not_cancelled_or_timed_out() {
        let gate = GateFacts {
            repos: Ok(Vec::new()),
            on_error: OnError::Open,
            own_apps: vec!["github-actions".into()],
        };
        let l4: Vec<String> = [
            "o/failed",
            "o/pending",
            "o/none",
            "o/cancelled",
            "o/timed",
            "o/ok",
            "o/forged",
        ]
        .map(String::from)
        .to_vec();
        let runs = [
            run(
                "crcr/o/failed / a",
                "completed",
                Some("success"),
                "github-actions",
            ),
            run(
                "crcr/o/failed / b",
                "completed",
                Some("failure"),
                "github-actions",
            ),
            run("crcr/o/pending / a", "in_progress", None, "github-actions"),
            run(
                "crcr/o/cancelled / a",
                "completed",
                Some("cancelled"),
                "github-actions",
            ),
            run(
                "crcr/o/timed / a",
                "completed",
                Some("timed_out"),
                "github-actions",
            ),
            run(
                "crcr/O/OK / a",
                "completed",
                Some("success"),
                "github-actions",
            ),
            // Another app's success proves nothing.
            run("crcr/o/forged / a", "completed", Some("success"), "forger"),
        ];
        let b = blocking(&gate, &l4, &runs, &"A".repeat(40));
        assert_eq!(
            b,
            [
                ("o/failed".to_string(), "failed"),
                ("o/pending".to_string(), "pending"),
                ("o/none".to_string(), "no result yet"),
                ("o/forged".to_string(), "no result yet"),
            ]
        );
    }

    fn waiting(runs: Vec<CheckRunInfo>) -> pending::Facts {
        let sha = "a".repeat(40);
        let pull: PullDetail = serde_json::from_value(serde_json::json!({
            "number": 5, "state": "open", "title": "t",
            "head": {"ref": "f", "sha": sha}, "base": {"ref": "main", "sha": "b".repeat(40)},
        }))
        .expect("pull");
        let now = chrono::DateTime::from_timestamp(1_772_000_000, 0).expect("time");
        pending::Facts {
            waiting: vec![pending::Waiting {
                state: merge::PendingMerge {
                    pr: 5,
                    sha,
                    requester: "alice".into(),
                    mode: merge::Mode::Normal,
                    ignored: Vec::new(),
                    approvers: Vec::new(),
                    tolerate: 0,
                    rebase: false,
                    deadline: now + chrono::Duration::hours(1),
                    body_sha256: String::new(),
                    ignored_failures: Vec::new(),
                },
                reply: crate::bot::reply::ReplyTo {
                    number: 5,
                    key: "k".into(),
                },
                pull,
                runs: Vec::new(),
                check_runs: runs,
                merge: None,
            }],
            default_branch: "main".into(),
            now,
            audit: false,
            repo: "o/r".into(),
        }
    }

    fn gate() -> GateFacts {
        GateFacts {
            repos: Ok(vec![
                ("o/four".into(), Level::L4),
                ("o/three".into(), Level::L3),
            ]),
            on_error: OnError::Open,
            own_apps: vec!["github-actions".into()],
        }
    }

    #[test]
    fn a_waiting_merge_passes_the_l4_gate_when_it_wakes() {
        let l3_failed = run(
            "crcr/o/three / a",
            "completed",
            Some("failure"),
            "github-actions",
        );
        let unit = run("unit", "completed", Some("success"), "github-actions");
        // L4 failed: the wait ends, saying which repository.
        let facts = waiting(vec![
            run(
                "crcr/o/four / a",
                "completed",
                Some("failure"),
                "github-actions",
            ),
            unit.clone(),
        ]);
        let (left, plan) = hold_pending(&facts, Some(&gate()));
        assert!(left.waiting.is_empty());
        let crate::plan::Write::Comment { body, .. } = &plan.steps[0].write else {
            panic!("{plan:?}");
        };
        assert!(body.contains("## Merge failed"), "{body}");
        assert!(body.contains("`o/four` (failed)"), "{body}");
        // L4 timed out and L3 failed: neither holds it; the ordinary
        // decision no longer sees them as failing checks.
        let facts = waiting(vec![
            run(
                "crcr/o/four / a",
                "completed",
                Some("timed_out"),
                "github-actions",
            ),
            l3_failed.clone(),
            unit.clone(),
        ]);
        let (left, plan) = hold_pending(&facts, Some(&gate()));
        assert!(plan.steps.is_empty(), "{plan:?}");
        let names: Vec<&str> = left.waiting[0]
            .check_runs
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(names, ["unit"]);
        // No L4 result yet: it waits.
        let facts = waiting(vec![l3_failed, unit]);
        let (left, plan) = hold_pending(&facts, Some(&gate()));
        assert!(left.waiting.is_empty() && plan.steps.is_empty(), "{plan:?}");
        assert!(
            plan.notes[0].contains("waits for downstream CI"),
            "{plan:?}"
        );
        // Downstream CI off: nothing changes.
        let (left, plan) = hold_pending(&facts, None);
        assert_eq!(left.waiting.len(), 1);
        assert!(plan.steps.is_empty());
    }

    #[test]
    fn a_result_shown_in_the_same_run_replaces_the_pending_check_it_updates() {
        let mut facts = waiting(vec![run(
            "crcr/o/four / a",
            "in_progress",
            None,
            "github-actions",
        )]);
        let (left, plan) = hold_pending(&facts, Some(&gate()));
        assert!(left.waiting.is_empty() && plan.steps.is_empty(), "{plan:?}");
        // The result as written: no app known yet, the write's name.
        let mut shown = run("crcr/o/four / a", "completed", Some("success"), "");
        shown.app = None;
        overlay(&gate(), &mut facts.waiting[0].check_runs, &shown);
        assert_eq!(facts.waiting[0].check_runs.len(), 1);
        let (left, plan) = hold_pending(&facts, Some(&gate()));
        assert!(plan.steps.is_empty(), "{plan:?}");
        assert_eq!(left.waiting.len(), 1, "the wait goes on to the merge");
        // A failure shown ends the wait.
        let failed = run("crcr/o/four / a", "completed", Some("failure"), "");
        overlay(&gate(), &mut facts.waiting[0].check_runs, &failed);
        let (left, plan) = hold_pending(&facts, Some(&gate()));
        assert!(left.waiting.is_empty());
        assert!(
            plan.steps
                .iter()
                .any(|s| s.write.describe().contains("comment")),
            "{plan:?}"
        );
    }
}
