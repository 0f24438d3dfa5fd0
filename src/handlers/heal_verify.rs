//! A run on a heal branch finished: report it on the fix's pull request.

use anyhow::Result;

use super::{Delivery, Handler, Route, Verdict, route};
use crate::app::Ctx;
use crate::config::Config;
use crate::jobs::heal::{self, VerifyFacts};
use crate::plan::{Plan, Report};

pub struct HealVerify;

impl Handler for HealVerify {
    const NAME: &'static str = "heal-verify";
    type Facts = Option<VerifyFacts>;
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

    async fn gather(ctx: &Ctx, run_id: u64) -> Result<Option<VerifyFacts>> {
        heal::gather_verify(ctx, run_id).await
    }

    fn decide(facts: &Option<VerifyFacts>, _: &Config) -> Plan {
        heal::decide_verification(facts.as_ref())
    }

    fn report(ctx: &Ctx, _: &Option<VerifyFacts>, plan: &Plan, report: &Report) -> Result<Verdict> {
        heal::report_verification(ctx, plan, report)
    }
}
