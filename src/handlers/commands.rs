//! Comment commands: `@ci-medic help|label|retest|merge|...` in a new
//! comment or a submitted review. See `crate::bot`.

use anyhow::Result;

use super::{Delivery, Handler, Verdict};
use crate::app::Ctx;
use crate::bot::act::{self, Facts};
use crate::bot::config::CommandsConfig;
use crate::bot::trigger::{self, Trigger};
use crate::config::Config;
use crate::plan::{Plan, Report};

pub struct Commands;

impl Handler for Commands {
    const NAME: &'static str = "commands";
    type Input = Trigger;
    type Facts = Facts;

    fn subscribe(delivery: &Delivery, config: &Config) -> Option<Trigger> {
        let section = CommandsConfig::enabled_in(config)?;
        match delivery {
            Delivery::Event { event, .. } => trigger::command_of(event, section),
            Delivery::Request(_) => None,
        }
    }

    async fn gather(ctx: &Ctx, input: Trigger) -> Result<Facts> {
        act::gather(ctx, input).await
    }

    fn decide(facts: &Facts, config: &Config) -> Plan {
        act::decide(facts, config)
    }

    fn report(ctx: &Ctx, _: &Facts, plan: &Plan, report: &Report) -> Result<Verdict> {
        act::report(ctx, "commands", plan, report)
    }
}
