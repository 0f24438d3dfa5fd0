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

/// What heal read, and the event that asked for it (its key: `delivery_key`).
pub struct Healing {
    facts: HealFacts,
    delivery: String,
}

impl Handler for Heal {
    const NAME: &'static str = "heal";
    type Facts = Healing;
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
    async fn gather(ctx: &Ctx, (issue, sender): (u64, Option<String>)) -> Result<Healing> {
        let facts = heal::gather_heal(ctx, issue, sender).await?;
        let delivery = delivery_key(
            facts.number,
            ctx.env.var("GITHUB_RUN_ID"),
            facts
                .run
                .as_ref()
                .and_then(|r| r.run.as_ref())
                .map(|r| r.id),
        );
        Ok(Healing { facts, delivery })
    }

    /// One plan: the fix's branch, commit and pull request, then the issue
    /// comment naming that pull request and the verification dispatch; or
    /// the refusal or the manual-fix comment.
    fn decide(healing: &Healing, config: &Config) -> Plan {
        let facts = &healing.facts;
        let mut plan = heal::decide_heal(facts, config);
        crate::store::actions::record(&mut plan, config, &facts.repo, &healing.delivery, |w| {
            matches!(w, Write::OpenPullRequest { .. }).then_some(ActionKind::Heal)
        });
        plan
    }

    fn report(ctx: &Ctx, healing: &Healing, plan: &Plan, report: &Report) -> Result<Verdict> {
        heal::report_heal(ctx, &healing.facts, plan, report)
    }
}

/// The event a heal's `actions` row is keyed by. In a workflow, the run
/// the event started (`GITHUB_RUN_ID`): one run per delivery, and a re-run
/// of it (how a delivery is repeated) keeps its id, so a repeated delivery
/// records nothing again while a later heal of the same issue (a new label,
/// a dispatch) is recorded. Outside a workflow, the failed run healed.
fn delivery_key(issue: u64, own_run: Option<&str>, failed_run: Option<u64>) -> String {
    match (own_run.map(str::trim).filter(|r| !r.is_empty()), failed_run) {
        (Some(run), _) => format!("heal/{issue}/run/{run}"),
        (None, Some(failed)) => format!("heal/{issue}/failed-run/{failed}"),
        (None, None) => format!("heal/{issue}"),
    }
}

#[cfg(test)]
mod tests {
    use super::delivery_key;

    #[test]
    fn each_delivery_of_a_heal_has_its_own_key() {
        let first = delivery_key(7, Some("100"), Some(5));
        assert_eq!(first, delivery_key(7, Some("100"), Some(5)));
        assert_ne!(first, delivery_key(7, Some("101"), Some(5)));
        assert_ne!(first, delivery_key(8, Some("100"), Some(5)));
        assert_eq!(delivery_key(7, None, Some(5)), "heal/7/failed-run/5");
        assert_eq!(delivery_key(7, Some(" "), None), "heal/7");
    }
}
