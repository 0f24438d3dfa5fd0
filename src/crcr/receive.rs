//! The upstream side of a `crcr-result`: gather (keys, allowlist, the PR's
//! real head, our own on-call comment) and decide (row, ping, check run).

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::allowlist::Allowlist;
use super::config::CrcrConfig;
use super::oidc::{self, Expect};
use super::result::{
    self, Accepted, CheckRunContent, PING_MARKER, PingState, Rejection, check_run,
};
use super::row::CrcrJobRow;
use crate::app::Ctx;
use crate::github::checks::CheckRunInfo;
use crate::github::marker::has_marker;
use crate::plan::{Plan, Write};
use crate::store::TableRows;

/// Check runs read on one head to count a repository's recent results
/// without ClickHouse, at most (GitHub lists 100 a page).
const MAX_COUNTED_CHECK_RUNS: usize = 1000;
/// Open pull requests whose heads are read to count a repository's recent
/// results without ClickHouse, at most: one page, and one call per head
/// after it. With more, results are refused until ClickHouse counts them.
const MAX_COUNTED_PULLS: usize = 100;

/// The id of the step showing a result on the PR: the merges it wakes
/// wait for it (`crcr-result/check-run` in the run's plan).
pub const CHECK_RUN_STEP: &str = "check-run";

/// [`gather`] once per delivery, shared by the handlers that act on a
/// result (recording it, and waking the merges waiting for it): the
/// token is verified and the facts read once.
pub async fn gather_once(
    ctx: &Ctx,
    payload: &serde_json::Value,
) -> Result<std::sync::Arc<ResultFacts>> {
    ctx.memo
        .crcr_result
        .get_or_try_init(|| async {
            let config = CrcrConfig::of(&ctx.config).cloned().unwrap_or_default();
            gather(ctx, &config, payload, Utc::now())
                .await
                .map(std::sync::Arc::new)
        })
        .await
        .cloned()
}

/// What a result's decision rests on.
#[derive(Debug, Clone, PartialEq)]
pub enum ResultFacts {
    /// Refused: nothing is written.
    Rejected(Rejection),
    Accepted(Box<AcceptedFacts>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct AcceptedFacts {
    pub accepted: Accepted,
    /// The PR's head is the one the result is about.
    pub current_head: bool,
    /// A check run goes on the PR (L4, or L3 with its label).
    pub shown_on_pr: bool,
    /// What ci-medic's own on-call comment on the PR already lists.
    pub ping_state: PingState,
    /// ClickHouse is configured, so the row is written.
    pub store: bool,
    /// The row already stored for this attempt: a partial update is laid
    /// over it, so nothing it knew is lost.
    pub stored: Option<CrcrJobRow>,
}

/// The writes for a result, and the check run it calls for.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultDecision {
    pub plan: Plan,
    /// The check run `crcr/<owner>/<repo> / <job>` the plan creates or
    /// updates on the PR head; branch protection (and the merge command)
    /// read it, so an L4 failure blocks merging.
    pub check_run: Option<CheckRunContent>,
}

/// Decide what an accepted result writes. Pure.
pub fn decide(facts: &ResultFacts, job: &str) -> ResultDecision {
    let mut plan = Plan::new(job);
    let f = match facts {
        ResultFacts::Rejected(why) => {
            plan.note(format!("result refused: {why}"));
            return ResultDecision {
                plan,
                check_run: None,
            };
        }
        ResultFacts::Accepted(f) => f,
    };
    let a = &f.accepted;
    if f.store {
        plan.push(
            Write::InsertRows {
                rows: TableRows::CrcrJobs(vec![a.row().merged_onto(f.stored.as_ref())]),
            },
            format!(
                "{} ({}) reported job {} of run {} (attempt {})",
                a.repo, a.level, a.reported.job_name, a.reported.run_id, a.reported.run_attempt
            ),
        );
    } else {
        plan.note("ClickHouse is not configured: the result is not recorded");
    }
    if !f.current_head {
        plan.note(format!(
            "the result is about {}, no longer the head of #{}: not shown on the PR",
            a.head_sha, a.pr_number
        ));
        return ResultDecision {
            plan,
            check_run: None,
        };
    }
    let check = f.shown_on_pr.then(|| check_run(a));
    if let Some(c) = &check {
        plan.push_with(
            Write::CheckRun { check: c.spec() },
            format!(
                "show {} ({}) on #{}: {}",
                a.repo,
                a.level,
                a.pr_number,
                c.conclusion.as_deref().unwrap_or(&c.status)
            ),
            crate::plan::StepOptions {
                id: Some(CHECK_RUN_STEP.to_string()),
                ..crate::plan::StepOptions::default()
            },
        );
    }
    if let Some((body, _)) = result::ping(a, f.shown_on_pr, &f.ping_state) {
        plan.push_best_effort(
            Write::Comment {
                number: a.pr_number,
                body,
                marker: Some((PING_MARKER.into(), a.pr_number.to_string())),
            },
            format!(
                "{} ({}) failed on #{}: tell its on-calls",
                a.repo, a.level, a.pr_number
            ),
        );
    }
    ResultDecision {
        plan,
        check_run: check,
    }
}

/// The allowlist from the default branch (an absent file is empty).
pub async fn load_allowlist(ctx: &Ctx, config: &CrcrConfig) -> Result<Allowlist> {
    let client = ctx.github()?;
    let branch = client.default_branch().await?;
    let text = client
        .file_text(&config.allowlist, &branch)
        .await?
        .unwrap_or_default();
    Allowlist::parse(&config.allowlist, &text).map_err(|e| anyhow::anyhow!("{e}"))
}

#[derive(Deserialize)]
struct PullHead {
    head: Head,
    #[serde(default)]
    labels: Vec<crate::event::Label>,
}

#[derive(Deserialize)]
struct Head {
    sha: String,
}

/// Gather a result's facts: a payload that fails a check is `Rejected`;
/// a failure to read what the check needs is an error.
pub async fn gather(
    ctx: &Ctx,
    config: &CrcrConfig,
    payload: &serde_json::Value,
    received_at: DateTime<Utc>,
) -> Result<ResultFacts> {
    let rejected = |r| Ok(ResultFacts::Rejected(r));
    let parsed = match result::screen(payload) {
        Ok(p) => p,
        Err(r) => return rejected(r),
    };
    let client = ctx.github()?;
    let list = load_allowlist(ctx, config).await?;
    let keys = oidc::fetch_jwks(&config.oidc_issuer)
        .await
        .context("cannot read the OIDC issuer's keys")?;
    let claims = oidc::verify(
        &parsed.token,
        &keys,
        &Expect {
            issuer: &config.oidc_issuer,
            audience: &config.audience,
        },
    );
    let this_repo = client.repo().full();
    let accepted = match result::accept(
        &parsed.result,
        claims.as_ref(),
        &list,
        &this_repo,
        received_at,
    ) {
        Ok(a) => a,
        Err(r) => return rejected(r),
    };
    // The hourly cap, counted in ClickHouse when it is configured.
    // Then the row stored for this attempt, if any, to merge with: two
    // ClickHouse queries per result.
    let store = ctx.store_config().is_ok();
    let mut stored = None;
    if store {
        let db = ctx.store().await?;
        let count = super::queries::results_in_hour(db, &accepted.repo, received_at).await?;
        if let Err(r) = result::check_rate(&accepted.repo, count, config.max_results_per_hour) {
            return rejected(r);
        }
        stored = super::queries::stored_row(db, &accepted.row()).await?;
    }
    let pr: PullHead = client
        .get_json(&client.repo_path(&format!("/pulls/{}", accepted.pr_number)))
        .await
        .with_context(|| format!("cannot read pull request #{}", accepted.pr_number))?;
    let labels: Vec<String> = pr.labels.into_iter().map(|l| l.name).collect();
    let shown_on_pr = list
        .targets_for_pr(&labels)
        .iter()
        .any(|t| t.repo.eq_ignore_ascii_case(&accepted.repo) && t.on_pr);
    let current_head = pr.head.sha.eq_ignore_ascii_case(&accepted.head_sha);
    if !store && shown_on_pr && current_head {
        // Without ClickHouse, the cap counts the repository's check runs
        // of ours started in the last hour on the heads of every open pull
        // request (a result updates its job's check run in place; new jobs
        // add check runs). Only such results write anything here.
        let count = match recent_check_runs(ctx, &accepted, received_at).await? {
            Ok(count) => count,
            Err(r) => return rejected(r),
        };
        if let Err(r) = result::check_rate(&accepted.repo, count, config.max_results_per_hour) {
            return rejected(r);
        }
    }
    let failed = accepted
        .reported
        .conclusion
        .is_some_and(result::Conclusion::is_failure);
    let mut ping_state = PingState::default();
    if failed && shown_on_pr && current_head {
        let key = accepted.pr_number.to_string();
        let identity = client.identity();
        // Only the action's own comment counts: a marker pasted by anyone
        // else mutes nothing.
        if let Some(own) = client
            .comments(accepted.pr_number)
            .await?
            .into_iter()
            .find(|c| {
                identity.is_ours(&c.user.login)
                    && c.body
                        .as_deref()
                        .is_some_and(|b| has_marker(b, PING_MARKER, &key))
            })
        {
            ping_state = result::read_ping_state(own.body.as_deref().unwrap_or_default());
        }
    }
    Ok(ResultFacts::Accepted(Box::new(AcceptedFacts {
        accepted,
        current_head,
        shown_on_pr,
        ping_state,
        store,
        stored,
    })))
}

/// Our `crcr/<repo> / ...` check runs started within the hour before
/// `now` on the heads of all open pull requests (other than the one this
/// result updates): without ClickHouse, what the repository's results of
/// the last hour left. `Err` when there are too many open pull requests to
/// read them all: the result is then refused, never let through uncounted.
async fn recent_check_runs(
    ctx: &Ctx,
    a: &Accepted,
    now: DateTime<Utc>,
) -> Result<Result<u64, Rejection>> {
    #[derive(Deserialize)]
    struct Started {
        #[serde(default)]
        started_at: Option<DateTime<Utc>>,
    }
    #[derive(Deserialize)]
    struct OpenPull {
        head: Head,
    }
    let client = ctx.github()?;
    let own = check_run(a).name;
    let prefix = format!("crcr/{} / ", a.repo).to_ascii_lowercase();
    let since = now - chrono::Duration::hours(1);
    let pulls: Vec<OpenPull> = client
        .get_all(
            &client.repo_path("/pulls?state=open"),
            None,
            MAX_COUNTED_PULLS + 1,
        )
        .await?;
    if pulls.len() > MAX_COUNTED_PULLS {
        return Ok(Err(Rejection::Uncounted {
            repo: a.repo.clone(),
            max: MAX_COUNTED_PULLS,
        }));
    }
    let mut heads: Vec<String> = pulls
        .into_iter()
        .map(|p| p.head.sha.to_ascii_lowercase())
        .collect();
    heads.sort();
    heads.dedup();
    let mut count = 0;
    for head in heads {
        let runs: Vec<serde_json::Value> = client
            .get_all(
                &client.repo_path(&format!(
                    "/commits/{}/check-runs?filter=latest",
                    percent_encoding::utf8_percent_encode(
                        &head,
                        percent_encoding::NON_ALPHANUMERIC
                    )
                )),
                Some("check_runs"),
                MAX_COUNTED_CHECK_RUNS,
            )
            .await?;
        for v in runs {
            let Ok(info) = serde_json::from_value::<CheckRunInfo>(v.clone()) else {
                continue;
            };
            let recent = serde_json::from_value::<Started>(v)
                .ok()
                .and_then(|s| s.started_at)
                .is_some_and(|t| t > since);
            let updated_by_this =
                info.name == own && info.head_sha.eq_ignore_ascii_case(&a.head_sha);
            if recent
                && !updated_by_this
                && info.name.to_ascii_lowercase().starts_with(&prefix)
                && client.is_own_check_run(&info)
            {
                count += 1;
            }
        }
    }
    Ok(Ok(count))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crcr::oidc::Claims;
    use crate::crcr::result::{ReportedResult, accept};

    fn facts(current_head: bool, shown_on_pr: bool, store: bool) -> ResultFacts {
        let list = Allowlist::parse("a.yml", "L4:\n  - org/four: [bob]\n").expect("allowlist");
        let reported = ReportedResult {
            repository: "org/four".into(),
            upstream_repo: "up/stream".into(),
            pr_number: 3,
            head_sha: "c".repeat(40),
            workflow_name: "ci".into(),
            job_name: "test".into(),
            run_id: 1,
            run_attempt: 1,
            status: "completed".into(),
            conclusion: Some("failure".into()),
            ..ReportedResult::default()
        };
        let claims = Claims {
            repository: "org/four".into(),
            repository_owner: None,
            run_id: None,
            run_attempt: None,
            workflow: None,
            sub: None,
            iss: "i".into(),
            exp: 0,
        };
        let at = DateTime::from_timestamp(1_700_000_000, 0).expect("time");
        let accepted = accept(&reported, Ok(&claims), &list, "up/stream", at).expect("accepted");
        ResultFacts::Accepted(Box::new(AcceptedFacts {
            accepted,
            current_head,
            shown_on_pr,
            ping_state: PingState::default(),
            store,
            stored: None,
        }))
    }

    fn kinds(d: &ResultDecision) -> Vec<&'static str> {
        d.plan.steps.iter().map(|s| s.write.kind()).collect()
    }

    #[test]
    fn a_failure_on_the_current_head_is_recorded_pinged_and_checked() {
        let d = decide(&facts(true, true, true), "crcr-result");
        assert_eq!(kinds(&d), ["insert-rows", "check-run", "comment"]);
        let check = d.check_run.expect("check run");
        assert!(check.name.starts_with("crcr/org/four / "), "{}", check.name);
        let Write::CheckRun { check: spec } = &d.plan.steps[1].write else {
            panic!("{:?}", d.plan);
        };
        assert_eq!(spec.conclusion, Some(crate::event::Conclusion::Failure));
    }

    #[test]
    fn a_stale_head_is_recorded_but_not_shown() {
        let d = decide(&facts(false, true, true), "crcr-result");
        assert_eq!(kinds(&d), ["insert-rows"]);
        assert!(d.check_run.is_none());
        assert!(d.plan.outputs.is_empty());
    }

    #[test]
    fn without_clickhouse_nothing_is_recorded_and_it_says_so() {
        let d = decide(&facts(true, true, false), "crcr-result");
        assert_eq!(kinds(&d), ["check-run", "comment"]);
        assert!(d.plan.notes.iter().any(|n| n.contains("not recorded")));
    }

    #[test]
    fn a_rejected_result_writes_nothing() {
        let d = decide(&ResultFacts::Rejected(Rejection::TooLarge), "crcr-result");
        assert!(d.plan.steps.is_empty());
        assert!(d.check_run.is_none());
    }
}
