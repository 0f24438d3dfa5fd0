//! `analyze`: explain a failed run and tell the repository once.
//!
//! Facts (the run, its failed jobs, their logs, the open issues) are gathered
//! first; [`decide`] turns them into a plan without touching the network.

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result};

use crate::analyze::{self, Category, Failure, RuleSet};
use crate::app::Ctx;
use crate::automations::disabled;
use crate::cli::{AnalyzeArgs, Context};
use crate::config::{self, Config};
use crate::github::Client;
use crate::github::marker::has_marker;
use crate::github::types::{IssueInfo, JobInfo, RunInfo};
use crate::handlers::retry::Retry;
use crate::handlers::{Delivery, Handler, Request};
pub use crate::job_logs::{JobFacts, read_job};
use crate::plan::{self, Plan, StepOptions, When, Write};
use crate::report::issue::{self, IssueAnalysis, KIND_FAILURE};

/// Distinct failures of one run that get their own issue; the rest are
/// listed in the first issue, so one broken run cannot flood the tracker.
pub const MAX_ISSUES_PER_RUN: usize = 3;

/// Label colours (GitHub wants 6 hex digits, no `#`).
const LABEL_COLORS: &[(&str, &str, &str)] = &[
    (
        config::LABEL_AUTO_HEAL,
        "0e8a16",
        "ci-medic may open a pull request that fixes this",
    ),
    (
        config::LABEL_WORKFLOW_FAILURE,
        "d93f0b",
        "A CI workflow failure filed by ci-medic",
    ),
];

/// Everything `decide` needs.
#[derive(Debug, Clone)]
pub struct RunFacts {
    pub repo: String,
    pub run: RunInfo,
    pub jobs: Vec<JobFacts>,
    /// Open issues labelled `workflow-failure` that ci-medic filed (another
    /// author's issue is never taken for one, whatever its body says).
    pub open_issues: Vec<IssueInfo>,
    /// Jobs a re-run is planned for, with the id of the step that requests
    /// it: their issue is filed only if that step fails.
    pub reruns: BTreeMap<u64, String>,
    /// Fingerprints of failures the previous attempt of this run had too.
    pub failed_before: BTreeSet<String>,
    /// Open `DISABLED`/`UNSTABLE` issues (`disabled-jobs`): their jobs'
    /// failures are neither re-run nor filed.
    pub markings: Vec<crate::automations::disabled::Marking>,
}

pub async fn command(cx: &Context, args: &AnalyzeArgs) -> Result<ExitCode> {
    if !args.log.is_empty() {
        let config = match &cx.cli.config {
            Some(_) => cx.load_config(None).await?,
            None => Config::default(),
        };
        let analysis =
            analyze::analyze_paths(&args.log, &config.rules()?, config.analyze.archive_limits())?;
        if cx.json() {
            cx.env.print_json(&analysis)?;
        } else {
            cx.env.echo_untrusted(&analysis.to_text());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let run_id = args
        .run_id
        .context("give --log PATH to analyze local logs, or --run-id N with --repo")?;
    let client = cx.client()?;
    let config = cx.load_config(Some(&client)).await?;
    let ctx = cx.ctx(Some(client), config);
    crate::app::offer(&ctx, &Delivery::Request(Request::FailedRun(run_id))).await
}

/// The failed run and its analyzed jobs, read once per run of ci-medic.
pub async fn run_facts(cx: &Ctx, run_id: u64) -> Result<Arc<RunFacts>> {
    cx.memo
        .run
        .get_or_try_init(|| async {
            let config = &cx.config;
            let client = cx.github()?;
            let mut facts = gather(client, config, &config.rules()?, run_id).await?;
            if !facts.jobs.is_empty() {
                // Unreadable, the marks are missed: a marked job is then
                // re-run or filed as any other, which is only noise.
                facts.markings =
                    match crate::handlers::disabled_jobs::open_markings(client, config).await {
                        Ok(m) => m,
                        Err(e) => {
                            tracing::warn!("DISABLED/UNSTABLE issues unavailable: {e:#}");
                            Vec::new()
                        }
                    };
            }
            Ok(Arc::new(facts))
        })
        .await
        .cloned()
}

/// Everything the failure issue decides from: the analyzed run, the open
/// issues, what the previous attempt failed with, and which jobs retry
/// plans to re-run.
pub async fn gather_failed(cx: &Ctx, run_id: u64) -> Result<RunFacts> {
    let client = cx.github()?;
    let config = &cx.config;
    let mut facts = (*run_facts(cx, run_id).await?).clone();
    if config.retry.enabled {
        let retry = super::retry::gather(cx, run_id).await?;
        facts.reruns = super::retry::rerun_steps(&retry, config)
            .into_iter()
            .map(|(job, step)| (job, format!("{}/{step}", <Retry as Handler>::NAME)))
            .collect();
    }
    if facts.run.run_attempt > 1 {
        let rules = config.rules()?;
        facts.failed_before = previous_fingerprints(client, config, &rules, &facts).await;
    }
    facts.open_issues = client
        .own_issues_with_label(config::LABEL_WORKFLOW_FAILURE)
        .await?;
    Ok(facts)
}

/// The run (latest attempt) and the analysis of each of its failed jobs.
pub async fn gather(
    client: &Client,
    config: &Config,
    rules: &RuleSet,
    run_id: u64,
) -> Result<RunFacts> {
    let run = client.run(run_id).await?;
    let jobs = client.run_jobs(run_id, run.run_attempt).await?;
    let mut facts = RunFacts {
        repo: client.repo().full(),
        run,
        jobs: Vec::new(),
        open_issues: Vec::new(),
        reruns: BTreeMap::new(),
        failed_before: BTreeSet::new(),
        markings: Vec::new(),
    };
    for job in jobs.into_iter().filter(JobInfo::failed) {
        facts.jobs.push(read_job(client, config, rules, job).await);
    }
    Ok(facts)
}

/// Fingerprints of the failures of the previous attempt, to say "failed twice".
async fn previous_fingerprints(
    client: &Client,
    config: &Config,
    rules: &RuleSet,
    facts: &RunFacts,
) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let prev = facts.run.run_attempt - 1;
    let Ok(jobs) = client.run_jobs(facts.run.id, prev).await else {
        return out;
    };
    let names: BTreeSet<&str> = facts.jobs.iter().map(|j| j.job.name.as_str()).collect();
    for job in jobs
        .into_iter()
        .filter(|j| j.failed() && names.contains(j.name.as_str()))
    {
        let jf = read_job(client, config, rules, job).await;
        if let Some(f) = jf.failures.first() {
            out.insert(f.fingerprint.clone());
        }
    }
    out
}

/// The fingerprint that identifies a job's failure: its primary failure's,
/// or, when the log explained nothing, one derived from the job and status
/// so that "logs expired" on two jobs are still two issues.
fn job_key(j: &JobFacts) -> String {
    match j.failures.first() {
        Some(f) => f.fingerprint.clone(),
        None => {
            analyze::fingerprint_of(&format!("no-analysis:{}", j.finding.status), &[&j.job.name])
        }
    }
}

/// Turn the facts into a plan. Pure.
pub fn decide(facts: &RunFacts, config: &Config) -> Plan {
    let mut plan = Plan::new("analyze");
    let run = &facts.run;
    let workflow = run
        .name
        .clone()
        .unwrap_or_else(|| format!("workflow {}", run.workflow_id));
    if !config::workflow_selected(&config.analyze.workflows, &workflow, run.path.as_deref()) {
        plan.note(format!("workflow {workflow} is not in `analyze.workflows`"));
        return plan;
    }
    if !config.analyze.branches.is_empty()
        && !run
            .head_branch
            .as_ref()
            .is_some_and(|b| config.analyze.branches.contains(b))
    {
        plan.note("branch is not in `analyze.branches`");
        return plan;
    }
    let unmarked = quiet_failures(&mut plan, facts);
    // Jobs a re-run is planned for get their issue only if the re-run is
    // refused; the others are filed now.
    let (retried, now): (Vec<&JobFacts>, Vec<&JobFacts>) = unmarked
        .into_iter()
        .partition(|j| facts.reruns.contains_key(&j.job.id));
    for j in &retried {
        plan.note(format!(
            "job {}: a re-run was requested; no issue unless it fails again",
            j.job.name
        ));
    }
    if now.is_empty() && retried.is_empty() {
        plan.note(format!("run {} has no failed job to report", run.id));
        return plan;
    }
    let mut issues = Issues {
        facts,
        config,
        workflow: &workflow,
        labels_ensured: BTreeSet::new(),
        filed: 0,
    };
    issues.file(&mut plan, &now, false);
    issues.file(&mut plan, &retried, true);
    plan
}

/// Jobs an open `DISABLED`/`UNSTABLE` issue marks get no issue of their
/// own: one comment per marking issue and run attempt says they failed
/// again. The other jobs are returned.
fn quiet_failures<'a>(plan: &mut Plan, facts: &'a RunFacts) -> Vec<&'a JobFacts> {
    let run = &facts.run;
    let workflow = run.name.as_deref().unwrap_or_default();
    let mut quiet: BTreeMap<u64, Vec<disabled::QuietFailure>> = BTreeMap::new();
    let mut rest = Vec::new();
    for j in &facts.jobs {
        let Some(m) = disabled::find(&facts.markings, workflow, &j.job.name) else {
            rest.push(j);
            continue;
        };
        plan.note(format!(
            "job {}: {}; no issue of its own",
            j.job.name,
            disabled::why_quiet(m)
        ));
        quiet
            .entry(m.number)
            .or_default()
            .push(disabled::QuietFailure {
                job: j.job.name.clone(),
                url: j.job.html_url.clone(),
                cause: j.failures.first().map(|f| {
                    format!(
                        "{}: {}",
                        f.category,
                        f.text.lines().next().unwrap_or("").trim()
                    )
                }),
            });
    }
    for (number, failures) in quiet {
        plan.push(
            Write::Comment {
                number,
                body: disabled::seen_body(
                    run.id,
                    run.run_attempt,
                    &run.html_url,
                    workflow,
                    run.head_branch.as_deref().unwrap_or_default(),
                    &failures,
                ),
                marker: Some((
                    disabled::SEEN_KIND.into(),
                    disabled::seen_key(run.id, run.run_attempt),
                )),
            },
            format!("the failing jobs are marked by #{number}"),
        );
    }
    rest
}

/// Files issues for groups of failed jobs, sharing the per-run bounds.
struct Issues<'a> {
    facts: &'a RunFacts,
    config: &'a Config,
    workflow: &'a str,
    labels_ensured: BTreeSet<String>,
    /// Distinct failures given an issue so far (bounded per run).
    filed: usize,
}

impl Issues<'_> {
    /// Plan the issues of `jobs`, grouped by the failure that explains them.
    /// As a `fallback`, a group's writes run only if a re-run standing for
    /// one of its jobs fails.
    fn file(&mut self, plan: &mut Plan, jobs: &[&JobFacts], fallback: bool) {
        let facts = self.facts;
        let run = &facts.run;
        let mut groups: BTreeMap<String, Vec<&JobFacts>> = BTreeMap::new();
        let mut order: Vec<String> = Vec::new();
        for j in jobs {
            let key = job_key(j);
            if !groups.contains_key(&key) {
                order.push(key.clone());
            }
            groups.entry(key).or_default().push(j);
        }
        let summaries: Vec<String> = order
            .iter()
            .map(|k| {
                let jobs = &groups[k];
                let what = jobs
                    .first()
                    .and_then(|j| j.failures.first())
                    .map(|f| format!("{}: {}", f.category, f.text.trim()))
                    .unwrap_or_else(|| {
                        jobs.first()
                            .map(|j| j.finding.status.clone())
                            .unwrap_or_default()
                    });
                let names: Vec<&str> = jobs.iter().map(|j| j.job.name.as_str()).collect();
                format!("{} — {}", names.join(", "), what)
            })
            .collect();
        let first_of_run = self.filed == 0 && !fallback;
        for (idx, key) in order.iter().enumerate() {
            let jobs = &groups[key];
            let deps: Vec<String> = jobs
                .iter()
                .filter_map(|j| facts.reruns.get(&j.job.id).cloned())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let push = |plan: &mut Plan, write: Write, reason: String| {
                let options = if fallback {
                    StepOptions {
                        depends_on: deps.clone(),
                        when: When::AnyFailed,
                        ..StepOptions::default()
                    }
                } else {
                    StepOptions::default()
                };
                plan.push_with(write, reason, options);
            };
            if self.filed >= MAX_ISSUES_PER_RUN {
                plan.note(format!("failure {key} is listed in the first issue (at most {MAX_ISSUES_PER_RUN} issues per run)"));
                continue;
            }
            self.filed += 1;
            let lead = first_of_run && idx == 0;
            let mut failures: Vec<Failure> = jobs
                .iter()
                .flat_map(|j| j.failures.iter().cloned())
                .collect();
            failures.dedup_by(|a, b| a.fingerprint == b.fingerprint && a.text == b.text);
            failures.truncate(5);
            let category = failures.first().map(|f| f.category).unwrap_or_else(|| {
                if jobs.iter().all(|j| j.finding.status == "cancelled") {
                    Category::Cancelled
                } else {
                    Category::Unknown
                }
            });
            let mut analysis = IssueAnalysis {
                version: 1,
                fingerprint: key.clone(),
                category,
                repo: facts.repo.clone(),
                workflow: self.workflow.to_string(),
                workflow_path: run.path.clone(),
                branch: run.head_branch.clone(),
                event: run.event.clone(),
                head_repository: run.head_repository.as_ref().map(|r| r.full_name.clone()),
                head_sha: run.head_sha.clone(),
                run_id: run.id,
                run_attempt: run.run_attempt,
                run_url: run.html_url.clone(),
                jobs: jobs.iter().map(|j| j.finding.clone()).collect(),
                failures,
                occurrences: Vec::new(),
                failed_twice: facts.failed_before.contains(key),
                body_sha256: None,
                others: if lead {
                    summaries.iter().skip(MAX_ISSUES_PER_RUN).cloned().collect()
                } else {
                    Vec::new()
                },
            };
            analysis.occurrences.push(analysis.occurrence());
            if lead {
                plan.outputs.insert("category".into(), category.to_string());
                plan.outputs.insert("fingerprint".into(), key.clone());
            }

            let existing = facts.open_issues.iter().find(|i| {
                i.pull_request.is_none()
                    && i.body
                        .as_deref()
                        .is_some_and(|b| has_marker(b, KIND_FAILURE, key))
            });
            if let Some(existing) = existing {
                if let Some(earlier) = existing.body.as_deref().and_then(issue::parse_block) {
                    analysis.merge_occurrences(&earlier);
                }
                let body = issue::body(&analysis);
                if existing.body.as_deref() != Some(body.as_str()) {
                    push(
                        plan,
                        Write::UpdateIssueBody {
                            number: existing.number,
                            body,
                        },
                        format!(
                            "the same failure ({key}) is already open as #{}; record this run",
                            existing.number
                        ),
                    );
                }
                let (seen_key, comment) = issue::seen_again_comment(&analysis);
                push(
                    plan,
                    Write::Comment {
                        number: existing.number,
                        body: comment,
                        marker: Some((issue::KIND_SEEN.into(), seen_key)),
                    },
                    "say the failure was seen again".into(),
                );
                if lead {
                    plan.outputs
                        .insert("issue-number".into(), existing.number.to_string());
                }
                continue;
            }
            let mut labels = self.config.analyze.labels.clone();
            labels.push(format!("ci-medic:{category}"));
            for l in &labels {
                if self.labels_ensured.insert(l.clone()) {
                    let (color, description) = LABEL_COLORS
                        .iter()
                        .find(|(n, _, _)| n == l)
                        .map(|(_, c, d)| (*c, *d))
                        .unwrap_or(("c5def5", "Failure category assigned by ci-medic"));
                    push(
                        plan,
                        Write::EnsureLabel {
                            name: l.clone(),
                            color: color.into(),
                            description: description.into(),
                        },
                        "labels must exist before they are applied".into(),
                    );
                }
            }
            push(
                plan,
                Write::OpenIssue {
                    title: issue::title(&analysis),
                    body: issue::body(&analysis),
                    labels,
                    marker_kind: KIND_FAILURE.into(),
                    marker_key: key.clone(),
                },
                format!("no open issue carries failure {key}"),
            );
        }
    }
}

/// What closing issues on success decides from.
#[derive(Debug, Clone)]
pub struct PassedFacts {
    pub repo: String,
    pub run: RunInfo,
    pub open_issues: Vec<IssueInfo>,
}

/// A run passed: read it and the open failure issues.
pub async fn gather_passed(cx: &Ctx, run_id: u64) -> Result<PassedFacts> {
    let client = cx.github()?;
    Ok(PassedFacts {
        repo: client.repo().full(),
        run: client.run(run_id).await?,
        open_issues: client
            .own_issues_with_label(config::LABEL_WORKFLOW_FAILURE)
            .await?,
    })
}

/// Which open issues a passing run closes. Pure.
pub fn decide_passed(repo: &str, run: &RunInfo, open: &[IssueInfo]) -> Plan {
    let mut plan = Plan::new("analyze");
    let name = run.name.clone().unwrap_or_default();
    let Some(branch) = run.head_branch.clone() else {
        plan.note("the passing run has no branch");
        return plan;
    };
    for i in open {
        let Some(a) = i.body.as_deref().and_then(issue::parse_block) else {
            continue;
        };
        let same_workflow = match (&a.workflow_path, &run.path) {
            (Some(p), Some(q)) => p == q,
            _ => a.workflow == name,
        };
        let newest_failure = a
            .occurrences
            .iter()
            .map(|o| o.run_id)
            .max()
            .unwrap_or(a.run_id);
        if a.repo == repo
            && same_workflow
            && a.branch.as_deref() == Some(branch.as_str())
            && run.id > newest_failure
        {
            let (key, body) = issue::passed_comment(&name, &branch, run.id, &run.html_url);
            plan.push(
                Write::Comment {
                    number: i.number,
                    body,
                    marker: Some((issue::KIND_CLOSED.into(), key)),
                },
                format!("run {} of the same workflow on {branch} passed", run.id),
            );
            plan.push(
                Write::CloseIssue { number: i.number },
                "the failure no longer reproduces",
            );
        }
    }
    if plan.steps.is_empty() {
        plan.note(format!(
            "run {} passed; no open issue of this workflow and branch",
            run.id
        ));
    }
    plan
}

/// After the plan ran: the analysis and the plan in the step summary,
/// outputs, and the plan and outcome on stdout.
pub fn publish(cx: &Ctx, facts: &RunFacts, plan: &Plan, report: &plan::Report) -> Result<()> {
    let mut summary = String::from("## ci-medic analysis\n\n");
    for j in &facts.jobs {
        summary.push_str(&format!(
            "### {}\n\n",
            crate::report::markdown::inline(&j.job.name)
        ));
        match j.failures.first() {
            Some(f) => summary.push_str(&format!(
                "**{}** ({}), line {}:\n\n{}\n\n",
                f.category,
                crate::report::markdown::code(&f.rule),
                f.line,
                crate::report::markdown::fenced(&f.context.join("\n"), "text")
            )),
            None => summary.push_str(&format!("{}\n\n", j.finding.status.replace('-', " "))),
        }
    }
    cx.env.append_summary(&summary)?;
    emit(cx, plan, report)
}

pub fn emit(cx: &Ctx, plan: &Plan, report: &plan::Report) -> Result<()> {
    let mut outputs = plan.outputs.clone();
    if let Some(n) = report.issue_number() {
        outputs.insert("issue-number".into(), n.to_string());
    }
    for (k, v) in &outputs {
        cx.env.set_output(k, v)?;
    }
    let mut md = format!("## ci-medic {}\n\n", plan.job);
    md.push_str(&crate::report::markdown::fenced(&plan.to_text(), "text"));
    md.push_str("\n\n");
    md.push_str(&crate::report::markdown::fenced(&report.to_text(), "text"));
    md.push('\n');
    cx.env.append_summary(&md)?;
    if cx.json() {
        cx.env
            .print_json(&serde_json::json!({"plan": plan, "report": report, "outputs": outputs}))?;
    } else {
        cx.env
            .group(&format!("ci-medic {}: plan and outcome", plan.job));
        cx.env.echo_untrusted(&plan.to_text());
        cx.env.echo_untrusted(&report.to_text());
        cx.env.end_group();
    }
    Ok(())
}
