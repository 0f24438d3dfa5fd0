//! Re-run the jobs of a failed run that a re-run fixes (`retry --run-id`).
//! On events, retry runs inside the failure-issue handler, before the
//! issue is filed, from the same downloaded logs.

use anyhow::Result;

use super::{Delivery, Handler, Request, Verdict};
use crate::app::Ctx;
use crate::config::Config;

pub struct Retry;

impl Handler for Retry {
    const NAME: &'static str = "retry";
    type Input = u64;

    fn subscribe(delivery: &Delivery, config: &Config) -> Option<u64> {
        match delivery {
            Delivery::Request(Request::Retry(run_id)) if config.retry.enabled => Some(*run_id),
            _ => None,
        }
    }

    async fn handle(ctx: &Ctx, run_id: u64) -> Result<Verdict> {
        crate::jobs::retry::retry_only(ctx, run_id).await
    }
}
