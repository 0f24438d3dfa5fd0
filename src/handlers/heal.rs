//! Heal a workflow-failure issue: a pull request that fixes the workflow,
//! or a comment saying why no safe fix exists.

use anyhow::Result;

use super::{Delivery, Handler, Request, Route, Verdict, route};
use crate::app::Ctx;
use crate::config::Config;

pub struct Heal;

impl Handler for Heal {
    const NAME: &'static str = "heal";
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

    async fn handle(ctx: &Ctx, issue: u64) -> Result<Verdict> {
        crate::jobs::heal::heal_issue(ctx, issue).await
    }
}
