//! Downstream CI wakes the merges waiting for it: when a `crcr-result`
//! shows an L4 repository's result on a pull request's head, the merges
//! waiting on that head are looked at again in the same run. A check run
//! written with the workflow token starts no workflow, so no later
//! `check_run` event would ever wake them.
//!
//! The result is the one `crcr-result` verified (read once per delivery);
//! it is laid over the check runs read before it is written, and every
//! write here waits for that check run to land (`crcr-result/check-run`):
//! the pinned head is merged only if every gate passes with the result as
//! shown; an L4 failure ends the wait.

use anyhow::Result;

use super::pending_merge::{self, PendingFacts};
use super::{Delivery, Handler, Verdict};
use crate::app::Ctx;
use crate::bot::config::CommandsConfig;
use crate::bot::pending::{Facts, Wake};
use crate::config::Config;
use crate::crcr::config::CrcrConfig;
use crate::crcr::receive::{self, CHECK_RUN_STEP, ResultFacts};
use crate::crcr::result::EVENT_RESULT;
use crate::event::Event;
use crate::plan::{Plan, Report};

pub struct CrcrWake;

/// The step every write of a wake waits for: `crcr-result` showing the
/// result on the head.
fn shown_step() -> String {
    format!("{}/{CHECK_RUN_STEP}", super::crcr_result::CrcrResult::NAME)
}

impl Handler for CrcrWake {
    const NAME: &'static str = "crcr-wake";
    type Input = serde_json::Value;
    type Facts = PendingFacts;

    fn subscribe(delivery: &Delivery, config: &Config) -> Option<serde_json::Value> {
        CommandsConfig::enabled_in(config)?;
        CrcrConfig::of(config)?;
        match delivery {
            Delivery::Event {
                event: Event::RepositoryDispatch(e),
                ..
            } if e.action == EVENT_RESULT => Some(e.client_payload.clone()),
            _ => None,
        }
    }

    async fn gather(ctx: &Ctx, payload: serde_json::Value) -> Result<PendingFacts> {
        let facts = receive::gather_once(ctx, &payload).await?;
        let nothing = || PendingFacts {
            pending: Facts {
                waiting: Vec::new(),
                default_branch: String::new(),
                now: chrono::Utc::now(),
                audit: false,
                repo: String::new(),
            },
            gate: None,
        };
        let ResultFacts::Accepted(f) = facts.as_ref() else {
            return Ok(nothing());
        };
        // Only a result shown on the current head, of a repository whose
        // results gate merges, wakes anything.
        if !(f.current_head && f.shown_on_pr && f.accepted.level.blocks_merge()) {
            return Ok(nothing());
        }
        let content = crate::crcr::result::check_run(&f.accepted);
        let spec = content.spec();
        let shown = crate::github::checks::CheckRunInfo {
            id: u64::MAX,
            name: spec.name,
            head_sha: spec.head_sha,
            status: spec.status,
            conclusion: spec.conclusion,
            output: Default::default(),
            app: None,
            details_url: spec.details_url,
            external_id: None,
            html_url: None,
        };
        let wake = Wake::Completed {
            sha: f.accepted.head_sha.clone(),
        };
        pending_merge::gather_with(ctx, wake, Some(&shown)).await
    }

    fn decide(facts: &PendingFacts, config: &Config) -> Plan {
        let mut plan = pending_merge::decide(facts, config);
        let after = shown_step();
        for step in &mut plan.steps {
            if step.depends_on.is_empty() {
                step.depends_on.push(after.clone());
            }
        }
        plan
    }

    fn report(ctx: &Ctx, facts: &PendingFacts, plan: &Plan, report: &Report) -> Result<Verdict> {
        pending_merge::report_waits(ctx, facts, plan, report)
    }
}
