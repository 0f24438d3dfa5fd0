//! A run passed: close the issues its earlier failures opened.

use std::process::ExitCode;

use anyhow::Result;

use super::{Delivery, Handler, Route, Verdict, route};
use crate::app::Ctx;
use crate::config::Config;
use crate::jobs::analyze::{self, PassedFacts};
use crate::plan::{Plan, Report};

pub struct PassedRun;

impl Handler for PassedRun {
    const NAME: &'static str = "close-on-success";
    type Input = u64;
    type Facts = PassedFacts;

    fn subscribe(delivery: &Delivery, config: &Config) -> Option<u64> {
        if !config.analyze.enabled || !config.analyze.close_on_success {
            return None;
        }
        let Delivery::Event { event, command } = delivery else {
            return None;
        };
        match route(event, command.as_deref(), config) {
            Route::PassedRun { run_id } => Some(run_id),
            _ => None,
        }
    }

    async fn gather(ctx: &Ctx, run_id: u64) -> Result<PassedFacts> {
        analyze::gather_passed(ctx, run_id).await
    }

    fn decide(facts: &PassedFacts, _: &Config) -> Plan {
        analyze::decide_passed(&facts.repo, &facts.run, &facts.open_issues)
    }

    fn report(ctx: &Ctx, _: &PassedFacts, plan: &Plan, report: &Report) -> Result<Verdict> {
        analyze::emit(ctx, plan, report)?;
        Ok(if report.failed() {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        })
    }
}
