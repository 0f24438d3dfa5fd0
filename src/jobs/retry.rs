//! `retry`: re-run the jobs that failed for reasons a re-run fixes, and only
//! those. Runs before `analyze`, from the same log analysis.

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use serde::Serialize;

use crate::analyze::Category;
use crate::app::Ctx;
use crate::automations::disabled;
use crate::cli::{Context, RetryArgs};
use crate::config::{self, Config};
use crate::handlers::{Delivery, Request};
use crate::history::{FlakyScope, History};
use crate::plan::{self, Plan, StepOptions, Write};
use crate::report::markdown::inline;

use super::analyze::{JobFacts, RunFacts};

/// The decision for one failed job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobDecision {
    pub job: String,
    pub job_id: u64,
    pub category: Option<Category>,
    pub rerun: bool,
    pub flaky: bool,
    pub reason: String,
}

pub async fn command(cx: &Context, args: &RetryArgs) -> Result<ExitCode> {
    let run_id = args.run_id.context("give --run-id N (and --repo)")?;
    let client = cx.client()?;
    let config = cx.load_config(Some(&client)).await?;
    let ctx = cx.ctx(Some(client), config);
    crate::app::offer(&ctx, &Delivery::Request(Request::Retry(run_id))).await
}

/// What retry decides from: the failed run with its analyzed jobs, the
/// default branch, and the jobs known to be flaky there.
#[derive(Debug, Clone)]
pub struct RetryFacts {
    pub run: Arc<RunFacts>,
    pub default_branch: String,
    pub flaky: BTreeSet<String>,
}

/// Gather once per run of ci-medic (analyze reads the same facts to know
/// which jobs a re-run stands for).
pub async fn gather(cx: &Ctx, run_id: u64) -> Result<Arc<RetryFacts>> {
    cx.memo
        .retry
        .get_or_try_init(|| async {
            let facts = super::analyze::run_facts(cx, run_id).await?;
            let default_branch = cx.github()?.default_branch().await?;
            let flaky = match flaky_jobs(cx, &facts, &default_branch).await {
                Ok(f) => f,
                Err(e) => {
                    tracing::warn!("flakiness history unavailable: {e:#}");
                    BTreeSet::new()
                }
            };
            Ok(Arc::new(RetryFacts {
                run: facts,
                default_branch,
                flaky,
            }))
        })
        .await
        .cloned()
}

/// The plan and the per-job decisions. Pure.
pub fn decide_all(facts: &RetryFacts, config: &Config) -> (Plan, Vec<JobDecision>) {
    decide(&facts.run, config, &facts.default_branch, &facts.flaky)
}

/// For each job a re-run is planned for, the id of the step that requests
/// it (analyze files the job's issue only if that step fails). Pure.
pub fn rerun_steps(facts: &RetryFacts, config: &Config) -> BTreeMap<u64, String> {
    let (plan, decisions) = decide_all(facts, config);
    let mut out = BTreeMap::new();
    for s in &plan.steps {
        match &s.write {
            Write::RerunJob { job_id, .. } => {
                out.insert(*job_id, s.id.clone());
            }
            Write::RerunFailedJobs { .. } => {
                for d in decisions.iter().filter(|d| d.rerun) {
                    out.insert(d.job_id, s.id.clone());
                }
            }
            _ => {}
        }
    }
    out
}

/// After the plan ran: the summary table, warnings for refused re-runs,
/// the `retried-jobs` output, and the decisions on stdout.
pub fn report(cx: &Ctx, facts: &RetryFacts, report: &plan::Report) -> Result<ExitCode> {
    let (plan, decisions) = decide_all(facts, &cx.config);
    let mut summary =
        String::from("## ci-medic retry\n\n| Job | Category | Re-run | Why |\n|---|---|---|---|\n");
    for d in &decisions {
        summary.push_str(&format!(
            "| {}{} | {} | {} | {} |\n",
            inline(&d.job),
            if d.flaky { " (flaky)" } else { "" },
            d.category
                .map(|c| c.to_string())
                .unwrap_or_else(|| "—".into()),
            if d.rerun { "yes" } else { "no" },
            inline(&d.reason)
        ));
    }
    for n in &plan.notes {
        summary.push_str(&format!("\n{}\n", inline(n)));
    }
    summary.push_str(&format!(
        "\n{}\n",
        crate::report::markdown::fenced(&report.to_text(), "text")
    ));
    cx.env.append_summary(&summary)?;
    let landed: BTreeSet<u64> = report
        .results
        .iter()
        .filter(|(_, o)| matches!(o, plan::Outcome::Done { .. } | plan::Outcome::DryRun))
        .flat_map(|(s, _)| match &s.write {
            Write::RerunJob { job_id, .. } => vec![*job_id],
            Write::RerunFailedJobs { .. } => decisions
                .iter()
                .filter(|d| d.rerun)
                .map(|d| d.job_id)
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    for (s, o) in &report.results {
        if let plan::Outcome::Failed { error } = o {
            cx.env.annotate_warning(&format!(
                "ci-medic could not {}: {error}",
                s.write.describe()
            ));
        }
    }
    let names: Vec<String> = decisions
        .iter()
        .filter(|d| landed.contains(&d.job_id))
        .map(|d| d.job.clone())
        .collect();
    cx.env.set_output("retried-jobs", &names.join("\n"))?;
    if cx.json() {
        cx.env.print_json(
            &serde_json::json!({"decisions": decisions, "plan": plan, "report": report}),
        )?;
    } else {
        cx.env.group("ci-medic retry: decisions");
        cx.env.echo_untrusted(&plan.to_text());
        cx.env.echo_untrusted(&report.to_text());
        cx.env.end_group();
    }
    Ok(if report.failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Categories a re-run fixes by itself.
fn transient(c: Category) -> bool {
    matches!(
        c,
        Category::Infrastructure | Category::Network | Category::RateLimit
    )
}

/// Categories that are the change's fault: a re-run only hides them.
fn never_retry(c: Category) -> bool {
    matches!(
        c,
        Category::Compilation
            | Category::Test
            | Category::Lint
            | Category::Dependency
            | Category::WorkflowSyntax
    )
}

/// What every job's decision shares: the config and its compiled patterns.
struct Rules<'a> {
    config: &'a Config,
    always_retry: Vec<regex::Regex>,
    retryable_steps: Vec<regex::Regex>,
}

fn decide_job(
    j: &JobFacts,
    rules: &Rules<'_>,
    on_default: bool,
    flaky: &BTreeSet<String>,
) -> JobDecision {
    let config = rules.config;
    let category = j
        .failures
        .first()
        .map(|f| f.category)
        .or_else(|| (j.finding.status == "cancelled").then_some(Category::Cancelled));
    let is_flaky = flaky.contains(&j.job.name);
    let mut d = JobDecision {
        job: j.job.name.clone(),
        job_id: j.job.id,
        category,
        rerun: false,
        flaky: is_flaky,
        reason: String::new(),
    };
    let max = config.retry.max_attempts;
    if j.job.run_attempt > max {
        d.reason = format!(
            "already at attempt {} (at most {max} automatic re-run{})",
            j.job.run_attempt,
            if max == 1 { "" } else { "s" }
        );
        return d;
    }
    let yes = |mut d: JobDecision, why: String| {
        d.rerun = true;
        d.reason = why;
        d
    };
    if rules.always_retry.iter().any(|r| r.is_match(&j.job.name)) {
        return yes(d, "the job matches `always-retry`".into());
    }
    if let Some(step) = &j.finding.step
        && rules.retryable_steps.iter().any(|r| r.is_match(step))
    {
        return yes(d, format!("step {step:?} matches `retryable-steps`"));
    }
    match category {
        Some(c) if transient(c) => yes(d, format!("{c} failures are usually transient")),
        Some(Category::Cancelled) if on_default => yes(d, "cancelled on the default branch".into()),
        Some(Category::Cancelled) => {
            d.reason = "cancelled off the default branch (someone meant it)".into();
            d
        }
        Some(Category::Timeout) if config.retry.retry_timeouts => {
            yes(d, "timeouts are retried (`retry-timeouts: true`)".into())
        }
        _ if is_flaky && on_default && config.retry.retry_flaky => yes(
            d,
            "known flaky: failed then passed on one commit recently".into(),
        ),
        Some(c) if never_retry(c) => {
            d.reason = format!("a {c} failure is not fixed by re-running");
            d
        }
        Some(c) => {
            d.reason = format!("{c} failures are not retried by default");
            d
        }
        None => {
            d.reason = format!("no cause found ({})", j.finding.status.replace('-', " "));
            d
        }
    }
}

/// Decide the re-runs of a failed run. Pure.
pub fn decide(
    facts: &RunFacts,
    config: &Config,
    default_branch: &str,
    flaky: &BTreeSet<String>,
) -> (Plan, Vec<JobDecision>) {
    let mut plan = Plan::new("retry");
    let run = &facts.run;
    let name = run.name.clone().unwrap_or_default();
    let on_default = run.head_branch.as_deref() == Some(default_branch);
    if !config::workflow_selected(&config.retry.workflows, &name, run.path.as_deref()) {
        plan.note(format!("workflow {name:?} is not in `retry.workflows`"));
        return (plan, Vec::new());
    }
    if run.conclusion == Some(crate::event::Conclusion::Cancelled) && !on_default {
        plan.note("the run was cancelled off the default branch: not re-run");
        return (plan, Vec::new());
    }
    let rules = Rules {
        config,
        always_retry: config.always_retry(),
        retryable_steps: config.retryable_steps(),
    };
    // A job an open DISABLED/UNSTABLE issue marks fails for a known reason:
    // re-running it would treat that failure as a new one.
    let marked = |j: &JobFacts| disabled::find(&facts.markings, &name, &j.job.name);
    let decisions: Vec<JobDecision> = facts
        .jobs
        .iter()
        .map(|j| {
            let mut d = decide_job(j, &rules, on_default, flaky);
            if let Some(m) = marked(j) {
                d.rerun = false;
                d.reason = format!("{}: a known failure", disabled::why_quiet(m));
            }
            d
        })
        .collect();
    let counted = facts.jobs.iter().filter(|j| marked(j).is_none()).count();
    if counted > config.retry.max_failed_jobs {
        plan.note(format!(
            "{} jobs failed (more than `max-failed-jobs: {}`): a broad failure is not fixed by re-running",
            counted,
            config.retry.max_failed_jobs
        ));
        let decisions = decisions
            .into_iter()
            .map(|mut d| {
                d.rerun = false;
                d.reason = "too many jobs failed in this run".into();
                d
            })
            .collect();
        return (plan, decisions);
    }
    let chosen: Vec<&JobDecision> = decisions.iter().filter(|d| d.rerun).collect();
    if chosen.len() > 1 && chosen.len() == decisions.len() {
        plan.push_with(
            Write::RerunFailedJobs { run_id: run.id },
            format!(
                "all {} failed jobs failed for reasons a re-run fixes",
                chosen.len()
            ),
            StepOptions {
                id: Some("rerun-failed".into()),
                best_effort: true,
                ..StepOptions::default()
            },
        );
    } else {
        for d in &chosen {
            plan.push_with(
                Write::RerunJob {
                    job_id: d.job_id,
                    job_name: d.job.clone(),
                },
                d.reason.clone(),
                StepOptions {
                    id: Some(format!("rerun-{}", d.job_id)),
                    best_effort: true,
                    ..StepOptions::default()
                },
            );
        }
    }
    if chosen.is_empty() {
        plan.note("no failed job qualifies for a re-run");
    }
    (plan, decisions)
}

/// Jobs of this workflow that failed and then passed on the same commit
/// within the lookback window, on the default branch, from the history
/// `retry.history` names.
async fn flaky_jobs(cx: &Ctx, facts: &RunFacts, default_branch: &str) -> Result<BTreeSet<String>> {
    let config = &cx.config;
    if !config.retry.retry_flaky {
        return Ok(BTreeSet::new());
    }
    let since =
        chrono::Utc::now() - chrono::Duration::days(i64::from(config.retry.flaky_lookback_days));
    let scope = FlakyScope {
        repo: &facts.repo,
        branch: default_branch,
        workflow_id: facts.run.workflow_id,
        workflow: facts.run.name.as_deref().unwrap_or_default(),
        since,
    };
    let found = History::new(cx, config.retry.history.into())
        .flaky_jobs(&scope)
        .await?;
    Ok(found.into_iter().map(|f| f.name).collect())
}
