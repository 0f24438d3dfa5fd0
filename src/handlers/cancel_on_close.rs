//! Cancel on close (`cancel-on-close:`): a pull request closed without
//! merging has the queued and in-progress runs of its head commit
//! cancelled. Needs `pull_request_target` (closed) with `actions: write`.

use anyhow::{Context as _, Result};

use super::{Delivery, Handler};
use crate::app::Ctx;
use crate::automations::cancel::{runs_to_cancel, skips_author};
use crate::config::Config;
use crate::event::Event;
use crate::github::types::RunInfo;
use crate::plan::{Plan, Write};

/// Runs of one commit read, at most.
const MAX_RUNS: usize = 300;

pub struct CancelOnClose;

/// The closed pull request's head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    pub number: u64,
    pub head_sha: String,
    pub head_branch: String,
}

#[derive(Debug, Clone)]
pub struct CancelFacts {
    pub closed: Closed,
    pub runs: Vec<RunInfo>,
    /// The pull request is open again (read back only when a run would be
    /// cancelled): a late or repeated `closed` cancels nothing.
    pub reopened: bool,
}

impl Handler for CancelOnClose {
    const NAME: &'static str = "cancel-on-close";
    type Input = Closed;
    type Facts = CancelFacts;

    fn subscribe(delivery: &Delivery, config: &Config) -> Option<Closed> {
        let c = config.cancel_on_close.as_ref()?;
        let Delivery::Event {
            event: Event::PullRequest(e),
            ..
        } = delivery
        else {
            return None;
        };
        let pr = &e.pull_request;
        if e.action != "closed"
            || pr.merged == Some(true)
            || skips_author(c, &pr.user.login, pr.user.kind.as_deref())
        {
            return None;
        }
        Some(Closed {
            number: pr.number,
            head_sha: pr.head.sha.clone(),
            head_branch: pr.head.ref_name.clone(),
        })
    }

    async fn gather(ctx: &Ctx, closed: Closed) -> Result<CancelFacts> {
        let c = ctx.github()?;
        let query = format!(
            "head_sha={}",
            crate::github::api::encode_segment(&closed.head_sha, false)
        );
        let runs = c
            .runs(&query, MAX_RUNS)
            .await
            .with_context(|| format!("reading the runs of {}", closed.head_sha))?;
        let reopened = match &ctx.config.cancel_on_close {
            Some(cfg)
                if !runs_to_cancel(cfg, &runs, &closed.head_sha, &closed.head_branch)
                    .is_empty() =>
            {
                c.pull(closed.number)
                    .await
                    .with_context(|| format!("reading #{}", closed.number))?
                    .state
                    == "open"
            }
            _ => false,
        };
        Ok(CancelFacts {
            closed,
            runs,
            reopened,
        })
    }

    fn decide(facts: &CancelFacts, config: &Config) -> Plan {
        let mut plan = Plan::new(Self::NAME);
        let Some(c) = &config.cancel_on_close else {
            return plan;
        };
        let f = &facts.closed;
        if facts.reopened {
            plan.note(format!(
                "#{} was reopened since it closed: its runs stay",
                f.number
            ));
            return plan;
        }
        for r in runs_to_cancel(c, &facts.runs, &f.head_sha, &f.head_branch) {
            plan.push(
                Write::CancelRun {
                    run_id: r.id,
                    name: r.name.clone().unwrap_or_default(),
                },
                format!("pull request #{} was closed without merging", f.number),
            );
        }
        if plan.steps.is_empty() {
            plan.note(format!("#{}: no queued or running run to cancel", f.number));
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(file: &str) -> Delivery {
        crate::handlers::tests::recorded("pull_request", file)
    }

    #[test]
    fn only_unmerged_closes_concern_it_when_configured() {
        let on = Config::parse("c.yml", "cancel-on-close: {}\n").expect("config");
        let mut closed = 0;
        for file in ["03-closed.json", "04-closed.json"] {
            let d = delivery(file);
            assert!(CancelOnClose::subscribe(&d, &Config::default()).is_none());
            let Delivery::Event {
                event: Event::PullRequest(e),
                ..
            } = &d
            else {
                panic!("not a pull request event");
            };
            let merged = e.pull_request.merged == Some(true);
            assert_eq!(
                CancelOnClose::subscribe(&d, &on).is_some(),
                !merged,
                "{file}"
            );
            closed += 1;
        }
        assert_eq!(closed, 2);
        assert!(CancelOnClose::subscribe(&delivery("00-opened.json"), &on).is_none());
    }
}
