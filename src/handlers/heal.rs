//! Heal a workflow-failure issue: a pull request that fixes the workflow,
//! or a comment saying why no safe fix exists.

use anyhow::Result;

use super::{Delivery, Handler, Request, Route, Verdict, route};
use crate::app::Ctx;
use crate::config::Config;
use crate::event::Event;
use crate::jobs::heal::{self, HealFacts};
use crate::plan::{Plan, Report, Write};
use crate::store::actions::ActionKind;

pub struct Heal;

impl Handler for Heal {
    const NAME: &'static str = "heal";
    type Facts = HealFacts;
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

    /// The issue, who vouched for it, the failed run, the workflow and the
    /// fix branch, each read only when the facts before it leave the
    /// decision open.
    async fn gather(ctx: &Ctx, (issue, sender): (u64, Option<String>)) -> Result<HealFacts> {
        heal::gather_heal(ctx, issue, sender).await
    }

    /// One plan: the fix's branch, commit and pull request, then the issue
    /// comment naming that pull request and the verification dispatch; or
    /// the refusal or the manual-fix comment.
    fn decide(facts: &HealFacts, config: &Config) -> Plan {
        let mut plan = heal::decide_heal(facts, config);
        let delivery = format!("issue/{}", facts.number);
        crate::store::actions::record(&mut plan, config, &facts.repo, &delivery, |w| {
            matches!(w, Write::OpenPullRequest { .. }).then_some(ActionKind::Heal)
        });
        plan
    }

    fn report(ctx: &Ctx, facts: &HealFacts, plan: &Plan, report: &Report) -> Result<Verdict> {
        heal::report_heal(ctx, facts, plan, report)
    }
}
