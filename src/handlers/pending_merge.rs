//! Merges waiting for checks (`merge` with checks still running): a
//! completed `workflow_run`, `check_suite` or `check_run` on their head
//! looks again; a push cancels them.
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

impl Handler for PendingMerge {
    const NAME: &'static str = "pending-merge";
    type Input = Wake;
    type Facts = Facts;

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

    async fn gather(ctx: &Ctx, wake: Wake) -> Result<Facts> {
        pending::gather(ctx, wake).await
    }

    fn decide(facts: &Facts, config: &Config) -> Plan {
        pending::decide(facts, config)
    }

    fn report(ctx: &Ctx, facts: &Facts, plan: &Plan, report: &Report) -> Result<Verdict> {
        if facts.waiting.is_empty() {
            return Ok(Verdict::SUCCESS);
        }
        crate::bot::act::report(ctx, "pending merges", plan, report)
    }
}
