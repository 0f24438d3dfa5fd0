//! A run passed: close the issues its earlier failures opened.

use anyhow::Result;

use super::{Delivery, Handler, Route, Verdict, route};
use crate::app::Ctx;
use crate::config::Config;

pub struct PassedRun;

impl Handler for PassedRun {
    const NAME: &'static str = "close-on-success";
    type Input = u64;

    fn subscribe(delivery: &Delivery, config: &Config) -> Option<u64> {
        let Delivery::Event { event, command } = delivery else {
            return None;
        };
        match route(event, command.as_deref(), config) {
            Route::PassedRun { run_id } => Some(run_id),
            _ => None,
        }
    }

    async fn handle(ctx: &Ctx, run_id: u64) -> Result<Verdict> {
        crate::jobs::analyze::passed_run(ctx, run_id).await
    }
}
