//! Re-run the jobs of a failed run that failed for reasons a re-run fixes.
//! Its steps come first in the merged plan; the failure issue of a job
//! being re-run is filed only if the re-run is refused.

use std::sync::Arc;

use anyhow::Result;

use super::{Delivery, Handler, Request, Route, Verdict, route};
use crate::app::Ctx;
use crate::config::Config;
use crate::jobs::retry::{self, RetryFacts};
use crate::plan::{Plan, Report, Write};
use crate::store::actions::ActionKind;

pub struct Retry;

impl Handler for Retry {
    const NAME: &'static str = "retry";
    type Input = u64;
    type Facts = Arc<RetryFacts>;

    fn subscribe(delivery: &Delivery, config: &Config) -> Option<u64> {
        if !config.retry.enabled {
            return None;
        }
        match delivery {
            Delivery::Request(Request::Retry(run_id) | Request::FailedRun(run_id)) => Some(*run_id),
            Delivery::Event { event, command } => match route(event, command.as_deref(), config) {
                Route::FailedRun { run_id } => Some(run_id),
                _ => None,
            },
            Delivery::Request(_) => None,
        }
    }

    async fn gather(ctx: &Ctx, run_id: u64) -> Result<Arc<RetryFacts>> {
        retry::gather(ctx, run_id).await
    }

    fn decide(facts: &Arc<RetryFacts>, config: &Config) -> Plan {
        let mut plan = retry::decide_all(facts, config).0;
        let (run, repo) = (&facts.run.run, &facts.run.repo);
        let delivery = format!("workflow_run/{}/{}", run.id, run.run_attempt);
        crate::store::actions::record(&mut plan, config, repo, &delivery, |w| {
            matches!(w, Write::RerunJob { .. } | Write::RerunFailedJobs { .. })
                .then_some(ActionKind::Rerun)
        });
        plan
    }

    fn report(ctx: &Ctx, facts: &Arc<RetryFacts>, _: &Plan, report: &Report) -> Result<Verdict> {
        retry::report(ctx, facts, report)
    }
}
