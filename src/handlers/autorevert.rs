//! Look at trunk: on `schedule` and `workflow_dispatch`, and when a watched
//! trunk workflow completes (so a new result is looked at at once).
//!
//! `gather` reads the trunk snapshot, detects, and reads what GitHub knows
//! about the suspects; `decide` plans the restarts, the revert or the
//! notification and the audit rows; the merged plan carries them out.

use anyhow::Result;

use super::{Delivery, Handler, Route, Verdict, route, watches_trunk_run};
use crate::app::Ctx;
use crate::config::Config;
use crate::jobs::autorevert::{self as job, Gathered};
use crate::plan::{Plan, Report};

pub struct Autorevert;

impl Handler for Autorevert {
    const NAME: &'static str = "autorevert";
    type Facts = Gathered;
    type Input = ();

    fn subscribe(delivery: &Delivery, config: &Config) -> Option<()> {
        let Delivery::Event { event, command } = delivery else {
            return None;
        };
        (route(event, command.as_deref(), config) == Route::Autorevert
            || watches_trunk_run(event, config))
        .then_some(())
    }

    async fn gather(ctx: &Ctx, (): ()) -> Result<Gathered> {
        job::gather_scheduled(ctx).await
    }

    fn decide(facts: &Gathered, _: &Config) -> Plan {
        job::decide(facts).plan
    }

    fn report(ctx: &Ctx, facts: &Gathered, _: &Plan, report: &Report) -> Result<Verdict> {
        // Deciding again is pure: the same decisions as the plan that ran.
        job::report_run(ctx, facts, &job::decide(facts), report)
    }
}
