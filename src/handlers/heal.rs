//! Heal a workflow-failure issue: a pull request that fixes the workflow,
//! or a comment saying why no safe fix exists.

use anyhow::Result;

use super::{Delivery, Handler, Request, Route, Verdict, route};
use crate::app::Ctx;
use crate::config::Config;
use crate::event::Event;
use crate::plan::{Plan, Report};

pub struct Heal;

impl Handler for Heal {
    const NAME: &'static str = "heal";
    type Facts = Verdict;
    /// The issue, and who sent the `issues` event (re-triggers re-check
    /// who acted).
    type Input = (u64, Option<String>);

    fn subscribe(delivery: &Delivery, config: &Config) -> Option<(u64, Option<String>)> {
        if !config.heal.enabled {
            return None;
        }
        match delivery {
            Delivery::Request(Request::Heal(issue)) => Some((*issue, None)),
            Delivery::Event { event, command } => match route(event, command.as_deref(), config) {
                Route::Heal { issue } => {
                    let sender = match event {
                        Event::Issues(e) => Some(e.sender.login.clone()),
                        _ => None,
                    };
                    Some((issue, sender))
                }
                _ => None,
            },
            Delivery::Request(_) => None,
        }
    }

    /// Acts while gathering: its plans depend on each other's outcomes
    /// (the pull request a comment names), so it executes them itself.
    async fn gather(ctx: &Ctx, (issue, sender): (u64, Option<String>)) -> Result<Verdict> {
        crate::jobs::heal::heal_issue(ctx, issue, sender.as_deref()).await
    }

    fn decide(_: &Verdict, _: &Config) -> Plan {
        Plan::new(Self::NAME)
    }

    fn report(_: &Ctx, verdict: &Verdict, _: &Plan, _: &Report) -> Result<Verdict> {
        Ok(*verdict)
    }
}
