//! Look at trunk: on `schedule` and `workflow_dispatch`, and in
//! autorevert's own workflow when a restart's run completes (so its result
//! is looked at at once).
//!
//! `gather` reads the trunk snapshot, detects, and reads what GitHub knows
//! about the suspects; `decide` plans the restarts, the revert or the
//! notification and the audit rows; the merged plan carries them out, and
//! `report` tells it from the decisions `decide` made.

use std::sync::OnceLock;

use anyhow::Result;

use super::{Delivery, Handler, Route, Verdict, route};
use crate::app::Ctx;
use crate::autorevert::decide::Decided;
use crate::config::Config;
use crate::jobs::autorevert::{self as job, Gathered};
use crate::plan::{Plan, Report};

pub struct Autorevert;

/// What was gathered, and the decisions made from it once `decide` ran:
/// `report` tells what happened from those same decisions (the restarts,
/// revert and audit rows whose steps it looks up), not from a second
/// decision.
pub struct Facts {
    gathered: Gathered,
    decided: OnceLock<Decided>,
}

impl Facts {
    /// The decisions, made once.
    fn decided(&self) -> &Decided {
        self.decided.get_or_init(|| job::decide(&self.gathered))
    }
}

impl Handler for Autorevert {
    const NAME: &'static str = "autorevert";
    type Facts = Facts;
    type Input = ();

    fn subscribe(delivery: &Delivery, config: &Config) -> Option<()> {
        let Delivery::Event { event, command } = delivery else {
            return None;
        };
        (route(event, command.as_deref(), config) == Route::Autorevert).then_some(())
    }

    async fn gather(ctx: &Ctx, (): ()) -> Result<Facts> {
        Ok(Facts {
            gathered: job::gather_scheduled(ctx).await?,
            decided: OnceLock::new(),
        })
    }

    fn decide(facts: &Facts, _: &Config) -> Plan {
        facts.decided().plan.clone()
    }

    fn report(ctx: &Ctx, facts: &Facts, _: &Plan, report: &Report) -> Result<Verdict> {
        job::report_run(ctx, &facts.gathered, facts.decided(), report)
    }
}
