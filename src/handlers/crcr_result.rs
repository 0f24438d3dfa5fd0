//! Downstream CI, upstream side: a downstream job's result comes back
//! (`repository_dispatch` `crcr-result`). Its OIDC token is verified; an
//! accepted result is recorded in ClickHouse and, on a failure shown on the
//! PR, pings the on-calls. A refused result writes nothing and fails the run
//! with the reason.

use std::process::ExitCode;

use anyhow::Result;

use super::{Delivery, Handler, Verdict};
use crate::app::Ctx;
use crate::config::Config;
use crate::crcr::config::CrcrConfig;
use crate::crcr::receive::{self, ResultFacts};
use crate::crcr::result::EVENT_RESULT;
use crate::event::Event;
use crate::plan::{Plan, Report};

pub struct CrcrResult;

impl Handler for CrcrResult {
    const NAME: &'static str = "crcr-result";
    type Input = serde_json::Value;
    type Facts = ResultFacts;

    fn subscribe(delivery: &Delivery, config: &Config) -> Option<serde_json::Value> {
        CrcrConfig::of(config)?;
        match delivery {
            Delivery::Event {
                event: Event::RepositoryDispatch(e),
                ..
            } if e.action == EVENT_RESULT => Some(e.client_payload.clone()),
            _ => None,
        }
    }

    async fn gather(ctx: &Ctx, payload: serde_json::Value) -> Result<ResultFacts> {
        Ok(receive::gather_once(ctx, &payload).await?.as_ref().clone())
    }

    fn decide(facts: &ResultFacts, _: &Config) -> Plan {
        receive::decide(facts, Self::NAME).plan
    }

    fn report(ctx: &Ctx, facts: &ResultFacts, plan: &Plan, report: &Report) -> Result<Verdict> {
        if let ResultFacts::Rejected(why) = facts {
            anyhow::bail!("downstream result refused, nothing written: {why}");
        }
        crate::jobs::analyze::emit(ctx, plan, report)?;
        Ok(if report.failed() {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        })
    }
}
