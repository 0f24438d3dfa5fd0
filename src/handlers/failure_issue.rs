//! A failed run: re-run what a re-run fixes, then file or update one issue
//! per distinct failure.

use anyhow::Result;

use super::{Delivery, Handler, Request, Route, Verdict, route};
use crate::app::Ctx;
use crate::config::Config;

pub struct FailureIssue;

impl Handler for FailureIssue {
    const NAME: &'static str = "analyze";
    type Input = u64;

    fn subscribe(delivery: &Delivery, config: &Config) -> Option<u64> {
        match delivery {
            Delivery::Request(Request::FailedRun(run_id)) => Some(*run_id),
            Delivery::Event { event, command } => match route(event, command.as_deref(), config) {
                Route::FailedRun { run_id } => Some(run_id),
                _ => None,
            },
            Delivery::Request(_) => None,
        }
    }

    async fn handle(ctx: &Ctx, run_id: u64) -> Result<Verdict> {
        crate::jobs::analyze::failed_run(ctx, run_id).await
    }
}
