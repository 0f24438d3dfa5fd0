//! Look at trunk: on `schedule` and `workflow_dispatch`, and when a watched
//! trunk workflow completes (so a new result is looked at at once).

use anyhow::Result;

use super::{Delivery, Handler, Route, Verdict, route, watches_trunk_run};
use crate::app::Ctx;
use crate::config::Config;

pub struct Autorevert;

impl Handler for Autorevert {
    const NAME: &'static str = "autorevert";
    type Input = ();

    fn subscribe(delivery: &Delivery, config: &Config) -> Option<()> {
        let Delivery::Event { event, command } = delivery else {
            return None;
        };
        (route(event, command.as_deref(), config) == Route::Autorevert
            || watches_trunk_run(event, config))
        .then_some(())
    }

    async fn handle(ctx: &Ctx, (): ()) -> Result<Verdict> {
        crate::jobs::autorevert::scheduled(ctx).await
    }
}
