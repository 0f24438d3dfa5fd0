//! Look at trunk: on `schedule` and `workflow_dispatch`, and when a watched
//! trunk workflow completes (so a new result is looked at at once).

use anyhow::Result;

use super::{Delivery, Handler, Route, Verdict, route, watches_trunk_run};
use crate::app::Ctx;
use crate::config::Config;
use crate::plan::{Plan, Report};

pub struct Autorevert;

impl Handler for Autorevert {
    const NAME: &'static str = "autorevert";
    type Facts = Verdict;
    type Input = ();

    fn subscribe(delivery: &Delivery, config: &Config) -> Option<()> {
        let Delivery::Event { event, command } = delivery else {
            return None;
        };
        (route(event, command.as_deref(), config) == Route::Autorevert
            || watches_trunk_run(event, config))
        .then_some(())
    }

    /// Still acts while gathering: the snapshot, detection, decision,
    /// restarts and the audit rows in ClickHouse happen in one pass, so
    /// `decide` adds nothing.
    async fn gather(ctx: &Ctx, (): ()) -> Result<Verdict> {
        crate::jobs::autorevert::scheduled(ctx).await
    }

    fn decide(_: &Verdict, _: &Config) -> Plan {
        Plan::new(Self::NAME)
    }

    fn report(_: &Ctx, verdict: &Verdict, _: &Plan, _: &Report) -> Result<Verdict> {
        Ok(*verdict)
    }
}
