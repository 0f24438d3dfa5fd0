//! Merges waiting for checks (`merge` with checks still running): a
//! completed `workflow_run`, `check_suite` or `check_run` on their head
//! looks again, and so does a sweep on `schedule` or `workflow_dispatch`
//! (see `Wake::Sweep`); a push cancels them.
//! See `crate::bot::pending`.

use anyhow::Result;

use super::{Delivery, Handler, Verdict};
use crate::app::Ctx;
use crate::bot::config::{CommandsConfig, LABEL_MERGING};
use crate::bot::pending::{self, Facts, Wake};
use crate::config::Config;
use crate::event::Event;
use crate::plan::{Plan, Report};

pub struct PendingMerge;

/// The pending merges, and the downstream CI gate they pass through.
#[derive(Debug, Clone)]
pub struct PendingFacts {
    pub pending: Facts,
    pub gate: Option<crate::crcr::gate::GateFacts>,
}

impl Handler for PendingMerge {
    const NAME: &'static str = "pending-merge";
    type Input = Wake;
    type Facts = PendingFacts;

    fn subscribe(delivery: &Delivery, config: &Config) -> Option<Wake> {
        CommandsConfig::enabled_in(config)?;
        let Delivery::Event { event, .. } = delivery else {
            return None;
        };
        match event {
            Event::WorkflowRun(e) if e.action == "completed" => Some(Wake::Completed {
                sha: e.workflow_run.head_sha.clone(),
            }),
            Event::CheckSuite(e) if e.action == "completed" => Some(Wake::Completed {
                sha: e.check_suite.head_sha.clone(),
            }),
            Event::CheckRun(e) if e.action == "completed" => Some(Wake::Completed {
                sha: e.check_run.head_sha.clone(),
            }),
            Event::Schedule(_) | Event::WorkflowDispatch(_) => Some(Wake::Sweep),
            Event::PullRequest(e)
                if e.action == "synchronize"
                    && e.pull_request
                        .labels
                        .iter()
                        .any(|l| l.name == LABEL_MERGING) =>
            {
                Some(Wake::Pushed { number: e.number })
            }
            _ => None,
        }
    }

    async fn gather(ctx: &Ctx, wake: Wake) -> Result<PendingFacts> {
        gather_with(ctx, wake, None).await
    }

    fn decide(facts: &PendingFacts, config: &Config) -> Plan {
        decide(facts, config)
    }

    fn report(ctx: &Ctx, facts: &PendingFacts, plan: &Plan, report: &Report) -> Result<Verdict> {
        report_waits(ctx, facts, plan, report)
    }
}

/// Read the pending merges `wake` concerns and the downstream CI gate they
/// pass through. `shown`, when given, is a downstream result being shown
/// on the head in this same run: it is laid over the check runs read
/// before it was written.
pub async fn gather_with(
    ctx: &Ctx,
    wake: Wake,
    shown: Option<&crate::github::checks::CheckRunInfo>,
) -> Result<PendingFacts> {
    let mut pending = pending::gather(ctx, wake).await?;
    let gate = if pending.waiting.is_empty() {
        None
    } else {
        crate::crcr::gate::gather(ctx).await
    };
    if let (Some(gate), Some(shown)) = (&gate, shown) {
        for w in &mut pending.waiting {
            crate::crcr::gate::overlay(gate, &mut w.check_runs, shown);
        }
    }
    if gate.is_some() {
        // Downstream CI's check runs are the gate's, not ordinary
        // checks: what the merge reads is read for the waits they held.
        let (mut left, _) = crate::crcr::gate::hold_pending(&pending, gate.as_ref());
        crate::crcr::gate::regather_pending(ctx, &mut left).await?;
        for w in &mut pending.waiting {
            if let Some(l) = left.waiting.iter().find(|l| l.reply == w.reply) {
                w.merge = l.merge.clone();
            }
        }
    }
    Ok(PendingFacts { pending, gate })
}

/// Wait, merge or end each pending merge, through the downstream CI gate.
/// Pure.
pub fn decide(facts: &PendingFacts, config: &Config) -> Plan {
    let (left, held) = crate::crcr::gate::hold_pending(&facts.pending, facts.gate.as_ref());
    let mut plan = pending::decide(&left, config);
    plan.merge_as("crcr-gate", &held);
    plan
}

/// The step summary and stdout of the pending merges looked at.
pub fn report_waits(
    ctx: &Ctx,
    facts: &PendingFacts,
    plan: &Plan,
    report: &Report,
) -> Result<Verdict> {
    if facts.pending.waiting.is_empty() {
        return Ok(Verdict::SUCCESS);
    }
    crate::bot::act::report(ctx, "pending merges", plan, report)
}
