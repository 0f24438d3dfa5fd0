//! Downstream CI, upstream side: forward a pull request to the allowlisted
//! repositories that test it (`repository_dispatch` `crcr-pull-request`).

use std::process::ExitCode;

use anyhow::Result;

use super::{Delivery, Handler, Verdict};
use crate::app::Ctx;
use crate::config::Config;
use crate::crcr::allowlist::Allowlist;
use crate::crcr::config::CrcrConfig;
use crate::crcr::dispatch::{self, PullRequestFacts};
use crate::event::Event;
use crate::plan::{Plan, Report};

pub struct CrcrDispatch;

pub struct DispatchFacts {
    pub pr: PullRequestFacts,
    pub allowlist: Allowlist,
}

impl Handler for CrcrDispatch {
    const NAME: &'static str = "crcr-dispatch";
    type Input = PullRequestFacts;
    type Facts = DispatchFacts;

    fn subscribe(delivery: &Delivery, config: &Config) -> Option<PullRequestFacts> {
        CrcrConfig::of(config)?;
        let Delivery::Event {
            event: Event::PullRequest(e),
            ..
        } = delivery
        else {
            return None;
        };
        let label = e.label.as_ref().map(|l| l.name.as_str());
        if e.pull_request.state != "open" || !dispatch::concerns(&e.action, label) {
            return None;
        }
        Some(PullRequestFacts {
            upstream_repo: e.repository.full_name.clone(),
            number: e.number,
            head_sha: e.pull_request.head.sha.clone(),
            base_ref: e.pull_request.base.ref_name.clone(),
            labels: e
                .pull_request
                .labels
                .iter()
                .map(|l| l.name.clone())
                .collect(),
            action: e.action.clone(),
            label: label.map(str::to_string),
        })
    }

    async fn gather(ctx: &Ctx, pr: PullRequestFacts) -> Result<DispatchFacts> {
        let config = CrcrConfig::of(&ctx.config).cloned().unwrap_or_default();
        let allowlist = crate::crcr::receive::load_allowlist(ctx, &config).await?;
        Ok(DispatchFacts { pr, allowlist })
    }

    fn decide(facts: &DispatchFacts, _: &Config) -> Plan {
        let mut plan = dispatch::decide(&facts.pr, &facts.allowlist);
        plan.job = Self::NAME.into();
        plan
    }

    fn report(ctx: &Ctx, _: &DispatchFacts, plan: &Plan, report: &Report) -> Result<Verdict> {
        crate::jobs::analyze::emit(ctx, plan, report)?;
        // A downstream repository that refused the dispatch is reported, and
        // fails the run: its results will not come.
        let refused = report
            .results
            .iter()
            .any(|(_, o)| matches!(o, crate::plan::Outcome::Failed { .. }));
        Ok(if refused {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        })
    }
}
