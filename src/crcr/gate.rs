//! The merge gate of downstream CI: the merge command refuses while an L4
//! repository's check run on the pinned head failed or is pending (or there
//! is none yet). Cancelled and timed-out runs do not block; `-f` bypasses.
//! L2/L3 check runs never hold a merge. When the allowlist cannot be read
//! the gate follows `crcr.on-error` and the reply says so.
//!
//! Only ci-medic's own `crcr/...` check runs count: a check run of another
//! app bearing that name proves nothing.

use crate::app::Ctx;
use crate::bot::act::{Accepted, Facts};
use crate::bot::merge;
use crate::bot::parse::Command;
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
/// is refused while an L4 repository blocks (failed, pending, or no result
/// on the head; cancelled and timed out do not block), unless forced.
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
    let accepted = merge::decide(&filtered, pull, command, access, config)?;
    if forced {
        return Ok(accepted);
    }
    let l4: Vec<String> = repos
        .iter()
        .filter(|(_, l)| l.blocks_merge())
        .map(|(r, _)| r.clone())
        .collect();
    let blocked = blocking(gate, &l4, &facts.check_runs, &pull.head.sha);
    if blocked.is_empty() {
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
}
