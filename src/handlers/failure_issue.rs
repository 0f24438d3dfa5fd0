//! A failed run: file or update one issue per distinct failure.

use std::process::ExitCode;

use anyhow::Result;

use super::{Delivery, Handler, Request, Route, Verdict, route};
use crate::app::Ctx;
use crate::config::Config;
use crate::jobs::analyze::{self, RunFacts};
use crate::plan::{Plan, Report};

pub struct FailureIssue;

impl Handler for FailureIssue {
    const NAME: &'static str = "analyze";
    type Input = u64;
    type Facts = RunFacts;

    fn subscribe(delivery: &Delivery, config: &Config) -> Option<u64> {
        if !config.analyze.enabled {
            return None;
        }
        match delivery {
            Delivery::Request(Request::FailedRun(run_id)) => Some(*run_id),
            Delivery::Event { event, command } => match route(event, command.as_deref(), config) {
                Route::FailedRun { run_id } => Some(run_id),
                _ => None,
            },
            Delivery::Request(_) => None,
        }
    }

    async fn gather(ctx: &Ctx, run_id: u64) -> Result<RunFacts> {
        analyze::gather_failed(ctx, run_id).await
    }

    fn decide(facts: &RunFacts, config: &Config) -> Plan {
        analyze::decide(facts, config)
    }

    fn report(ctx: &Ctx, facts: &RunFacts, plan: &Plan, report: &Report) -> Result<Verdict> {
        analyze::publish(ctx, facts, plan, report)?;
        Ok(if report.failed() {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        })
    }
}
