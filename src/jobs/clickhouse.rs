//! `clickhouse migrate`: create or upgrade the tables. The pending
//! migrations are read, then applied through the plan's executor, so
//! `--dry-run` lists them and changes nothing.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{ClickhouseCommand, Context};
use crate::plan::{self, Outcome, Plan, Sinks, Write};
use crate::store::Migration;

/// The plan that applies `pending` to `database`.
pub fn plan(database: &str, pending: &[&Migration]) -> Plan {
    let mut plan = Plan::new("clickhouse-migrate");
    if pending.is_empty() {
        plan.note("the ClickHouse schema is up to date");
    } else {
        plan.push(
            Write::Migrate {
                database: database.to_string(),
                migrations: pending.iter().map(|m| m.label()).collect(),
            },
            "these migrations are not applied yet",
        );
    }
    plan
}

pub async fn command(cx: &Context, command: &ClickhouseCommand) -> Result<ExitCode> {
    let config = cx.load_config(None).await?;
    let ctx = cx.ctx(None, config);
    match command {
        ClickhouseCommand::Migrate => {
            let store = ctx.store().await?;
            let pending = store.pending_migrations().await?;
            let plan = plan(store.database(), &pending);
            let report = plan::execute(&plan, &Sinks::store(Some(store)), ctx.dry_run()).await;
            if ctx.json() {
                crate::outln!(
                    ctx.env,
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({"plan": plan, "report": report})
                    )?
                );
            } else if ctx.dry_run() {
                ctx.env.echo_untrusted(&plan.to_text());
                ctx.env.echo_untrusted(&report.to_text());
            }
            for (_, outcome) in &report.results {
                match outcome {
                    Outcome::Failed { error } => anyhow::bail!("{error}"),
                    Outcome::Done { detail, .. } if !ctx.json() => {
                        ctx.env.out(&format!("ci-medic: {detail}"));
                    }
                    _ => {}
                }
            }
            if report.results.is_empty() && !ctx.json() && !ctx.dry_run() {
                ctx.env.out("ci-medic: the ClickHouse schema is up to date");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MIGRATIONS;

    #[test]
    fn the_plan_lists_the_pending_migrations_or_notes_there_are_none() {
        let pending: Vec<&Migration> = MIGRATIONS.iter().skip(5).take(2).collect();
        let p = plan("ci_medic", &pending);
        assert_eq!(p.steps.len(), 1);
        assert_eq!(
            p.steps[0].write,
            Write::Migrate {
                database: "ci_medic".into(),
                migrations: vec!["006_workflow_job_input".into(), "007_push_input".into()],
            }
        );
        let current = plan("ci_medic", &[]);
        assert!(current.steps.is_empty());
        assert_eq!(current.notes, ["the ClickHouse schema is up to date"]);
    }
}
