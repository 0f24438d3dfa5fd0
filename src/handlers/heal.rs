//! Heal a workflow-failure issue: a pull request that fixes the workflow,
//! or a comment saying why no safe fix exists.

use anyhow::Result;

use super::{Delivery, Handler, Request, Route, Verdict, route};
use crate::app::Ctx;
use crate::config::Config;
use crate::plan::{Plan, Report};

pub struct Heal;

impl Handler for Heal {
    const NAME: &'static str = "heal";
    type Facts = Verdict;
    type Input = u64;

    fn subscribe(delivery: &Delivery, config: &Config) -> Option<u64> {
        if !config.heal.enabled {
            return None;
        }
        match delivery {
            Delivery::Request(Request::Heal(issue)) => Some(*issue),
            Delivery::Event { event, command } => match route(event, command.as_deref(), config) {
                Route::Heal { issue } => Some(issue),
                _ => None,
            },
            Delivery::Request(_) => None,
        }
    }

    /// Acts while gathering: its plans depend on each other's outcomes
    /// (the pull request a comment names), so it executes them itself.
    async fn gather(ctx: &Ctx, issue: u64) -> Result<Verdict> {
        crate::jobs::heal::heal_issue(ctx, issue).await
    }

    fn decide(_: &Verdict, _: &Config) -> Plan {
        Plan::new(Self::NAME)
    }

    fn report(_: &Ctx, verdict: &Verdict, _: &Plan, _: &Report) -> Result<Verdict> {
        Ok(*verdict)
    }
}
