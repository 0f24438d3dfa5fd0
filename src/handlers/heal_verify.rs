//! A run on a heal branch finished: report it on the fix's pull request.

use std::process::ExitCode;

use anyhow::Result;

use super::{Delivery, Handler, Route, Verdict, route};
use crate::app::Ctx;
use crate::config::Config;
use crate::plan::{Plan, Report};

pub struct HealVerify;

impl Handler for HealVerify {
    const NAME: &'static str = "heal-verify";
    type Facts = Verdict;
    type Input = u64;

    fn subscribe(delivery: &Delivery, config: &Config) -> Option<u64> {
        let Delivery::Event { event, command } = delivery else {
            return None;
        };
        match route(event, command.as_deref(), config) {
            Route::HealVerify { run_id } => Some(run_id),
            _ => None,
        }
    }

    /// Still acts while gathering (reads the run and the fix's pull
    /// request, decides, executes); `decide` adds nothing.
    async fn gather(ctx: &Ctx, run_id: u64) -> Result<Verdict> {
        Ok(crate::jobs::heal::verify_report(ctx, run_id)
            .await?
            .unwrap_or(ExitCode::SUCCESS))
    }

    fn decide(_: &Verdict, _: &Config) -> Plan {
        Plan::new(Self::NAME)
    }

    fn report(_: &Ctx, verdict: &Verdict, _: &Plan, _: &Report) -> Result<Verdict> {
        Ok(*verdict)
    }
}
