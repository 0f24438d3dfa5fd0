//! Record `workflow_run`, `workflow_job` and `push` events in ClickHouse:
//! every such event when the config has a `clickhouse` section, and the
//! payload the `ingest` command names. The plan inserts only the rows the
//! store lacks, so `--dry-run` writes none and a redelivered event writes
//! nothing twice.

use anyhow::Result;

use super::{Delivery, Handler, Request, Verdict};
use crate::app::Ctx;
use crate::config::Config;
use crate::event::Event;
use crate::jobs::ingest::{self, IngestFacts};
use crate::plan::{Plan, Report};

pub struct Ingest;

impl Handler for Ingest {
    const NAME: &'static str = "ingest";
    /// The event's name, and the payload's text when the command line gave
    /// one (else the runner's event file is read).
    type Input = (String, Option<String>);
    type Facts = IngestFacts;

    fn subscribe(delivery: &Delivery, config: &Config) -> Option<Self::Input> {
        match delivery {
            Delivery::Request(Request::Ingest { event, payload }) => {
                Some((event.clone(), Some(payload.clone())))
            }
            Delivery::Event { event, .. } if config.clickhouse.is_some() => match event {
                Event::WorkflowRun(_) | Event::WorkflowJob(_) | Event::Push(_) => {
                    Some((event.name().to_string(), None))
                }
                _ => None,
            },
            _ => None,
        }
    }

    async fn gather(ctx: &Ctx, (event, payload): Self::Input) -> Result<IngestFacts> {
        ingest::gather(ctx, &event, payload.as_deref()).await
    }

    fn decide(facts: &IngestFacts, _: &Config) -> Plan {
        ingest::decide(facts)
    }

    fn report(ctx: &Ctx, facts: &IngestFacts, plan: &Plan, report: &Report) -> Result<Verdict> {
        ingest::report(ctx, facts, plan, report)
    }
}
