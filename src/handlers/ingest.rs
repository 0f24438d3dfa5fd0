//! Record `workflow_run`, `workflow_job` and `push` events in ClickHouse:
//! every such event when `clickhouse.record-events` is on, and the
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
            Delivery::Event { event, .. }
                if config.clickhouse.as_ref().is_some_and(|c| c.record_events) =>
            {
                match event {
                    Event::WorkflowRun(_) | Event::WorkflowJob(_) | Event::Push(_) => {
                        Some((event.name().to_string(), None))
                    }
                    _ => None,
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery() -> Delivery {
        let path = format!(
            "{}/fixtures/webhooks/workflow_run/{}",
            env!("CARGO_MANIFEST_DIR"),
            "00-completed.json"
        );
        let bytes = std::fs::read(&path).expect("fixture");
        Delivery::Event {
            event: crate::event::parse("workflow_run", &path, &bytes).expect("event"),
            command: None,
        }
    }

    #[test]
    fn events_are_recorded_only_when_the_config_asks() {
        let section = "clickhouse:\n  url: https://ch.example:8443\n";
        let off = Config::parse("c.yml", section).expect("config");
        assert!(Ingest::subscribe(&delivery(), &off).is_none());
        let on =
            Config::parse("c.yml", &format!("{section}  record-events: true\n")).expect("config");
        assert_eq!(
            Ingest::subscribe(&delivery(), &on),
            Some(("workflow_run".to_string(), None))
        );
        assert!(Ingest::subscribe(&delivery(), &Config::default()).is_none());
    }
}
