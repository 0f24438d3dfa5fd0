//! Dr. CI on pull requests: one comment per pull request, kept up to date,
//! saying which failed jobs the pull request caused, and a check run on the
//! head SHA whose conclusion follows the NEW failures.
//!
//! Triggers: a `workflow_run` of a pull request completed (a fork's run
//! names no pull request: the pull requests are found from the head SHA),
//! another app's `check_suite` or `check_run` completed (CI that is not
//! GitHub Actions; ours never), a pull request opened, pushed to or
//! reopened (the comment says "waiting" at once), the `@ci-medic drci`
//! comment command on a pull request, and `schedule` (the sweep of open
//! pull requests whose comment still says pending).
//!
//! The cost of one update of a pull request whose head has `R` runs, in API
//! calls: `6 + R` reads when nothing failed (the pull requests of the head,
//! our comment, its runs, `R` job lists, its check runs, the merge base,
//! our check run), and 2 more (the allowlist) when downstream check runs
//! are on the head. With `F` failed jobs, add `2 + R_b` (the merge base's
//! runs, their jobs and its check runs), `1` (the open `UNSTABLE` issues),
//! `F + F_b` log downloads less those cached in our comment (`F_b` the
//! merge base's failed jobs of the same name, at most `F`; with ClickHouse,
//! `F_b` is 0 and the head's failed jobs whose analysis the store holds
//! are not downloaded either: one query reads the head's and the merge
//! base's jobs together, so the three queries stay three), retry's flaky
//! memory per failed workflow (one list, plus two job lists per re-run run
//! with the `github` source; one query with ClickHouse), the default
//! branch's recent failures (`1 + B + L`: one run list, `B` ≤
//! [`history::github::RECENT_RUNS_READ`] job lists, `L` ≤ [`RECENT_LOGS`]
//! logs) and other authors' pull requests' (`1 + B' + L'`, the same
//! bounds); none of the last two when every failure is generic. The
//! comment costs 4 (the pull request's head, a list, a write, a list for
//! duplicates), the check run 2 (a list and a write); each is left out
//! when nothing changed.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context as _, Result};
use chrono::Utc;

use super::{Delivery, Handler, Verdict};
use crate::analyze::RuleSet;
use crate::app::Ctx;
use crate::bot::normalize_handle;
use crate::bot::parse::{Command, Parsed, parse_comment};
use crate::config::Config;
use crate::drci::classify::{self, Normaliser, is_generic};
use crate::drci::comment::{self, AnalysisCache, COMMENT_LIMIT, MARKER_KIND};
use crate::drci::snapshot::{
    Downstream, IssueRef, Job, JobFailure, Place, RecentFailure, Recovery, Snapshot,
};
use crate::drci::{Counts, DrciSection, Verdict as JobVerdict};
use crate::event::{Conclusion, Event, Status};
use crate::github::Client;
use crate::github::checks::{CheckRunInfo, CheckRunSpec};
use crate::github::marker::has_marker;
use crate::github::types::{JobInfo, PullInfo, RunInfo};
use crate::history::github::RecoveredBy;
use crate::history::{self, FlakyScope, History};
use crate::plan::{Plan, Report, StepOptions, Write};
use crate::report::markdown::inline;

/// Pull requests updated for one head SHA, at most (a commit in more open
/// pull requests than this is a stack being rebased; the rest wait).
pub const MAX_PULLS: usize = 5;
/// Runs read for one commit.
pub const MAX_RUNS: usize = 500;
/// Jobs read for one run (every attempt).
pub const MAX_JOBS: usize = 2000;
/// Failed jobs whose logs are read for one update (GitHub's matrix limit is
/// 256 jobs per workflow; more failures than this are NEW or UNCLASSIFIED
/// unread, which errs on the safe side).
pub const MAX_LOGS: usize = 100;
/// Logs of the default branch's recovered failures read for one update (the
/// newest first): the fingerprints that make a failure here FLAKY.
pub const RECENT_LOGS: usize = 5;
/// The name of the placeholder job of a run that has no jobs yet.
pub const QUEUED_RUN_JOB: &str = "(run without jobs yet)";

pub struct Drci;

/// What an event asks Dr. CI to look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A run at this head SHA finished: the open pull requests whose head it
    /// is.
    HeadSha { sha: String, trigger: String },
    /// One pull request; `sha` is the head the event saw (a newer head
    /// makes the event stale), `None` for a command.
    Pull {
        number: u64,
        sha: Option<String>,
        trigger: String,
    },
    /// The schedule: open pull requests whose comment still says pending.
    Sweep { trigger: String },
}

/// One pull request as gathered.
#[derive(Debug, Clone)]
pub struct PullFacts {
    pub number: u64,
    pub head_sha: String,
    /// No run at the head SHA has started yet.
    pub waiting: bool,
    /// The snapshot the verdicts were made from (`--dump`-shaped).
    pub snapshot: Snapshot,
    pub verdicts: Vec<JobVerdict>,
    /// The body of our comment, if there is one.
    pub comment: Option<String>,
    /// Our check run on the head SHA, if there is one.
    pub check: Option<CheckRunInfo>,
    /// The analyses of failed jobs' logs, kept in the comment.
    pub cache: AnalysisCache,
}

/// What `decide` decides from.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub trigger: String,
    pub pulls: Vec<PullFacts>,
    /// Pull requests left alone, and why (closed, moved on).
    pub skipped: Vec<String>,
    /// What was read from ClickHouse, per pull request (for the summary).
    pub read: Vec<String>,
}

impl Handler for Drci {
    const NAME: &'static str = "drci";
    type Input = Input;
    type Facts = Facts;

    fn subscribe(delivery: &Delivery, config: &Config) -> Option<Input> {
        let section = config.drci.as_ref().filter(|s| s.enabled)?;
        let Delivery::Event { event, .. } = delivery else {
            return None;
        };
        match event {
            Event::WorkflowRun(e) => {
                let run = &e.workflow_run;
                (e.action == "completed"
                    && matches!(run.event.as_str(), "pull_request" | "pull_request_target"))
                .then(|| Input::HeadSha {
                    sha: run.head_sha.clone(),
                    trigger: format!("workflow_run of {}", run.name.as_deref().unwrap_or("?")),
                })
            }
            // CI that is not GitHub Actions finished. Actions' check runs
            // are covered by `workflow_run`, and our own check run is never
            // a reason to update it (no loop).
            Event::CheckRun(e) => {
                let run = &e.check_run;
                let actions =
                    run.app.as_ref().and_then(|a| a.slug.as_deref()) == Some("github-actions");
                (e.action == "completed"
                    && !actions
                    && run.name.trim() != section.check_name.trim())
                .then(|| Input::HeadSha {
                    sha: run.head_sha.clone(),
                    trigger: format!("check_run {}", run.name),
                })
            }
            Event::CheckSuite(e) => {
                let suite = &e.check_suite;
                let app = suite.app.as_ref().and_then(|a| a.slug.as_deref());
                (e.action == "completed" && app != Some("github-actions")).then(|| Input::HeadSha {
                    sha: suite.head_sha.clone(),
                    trigger: format!("check_suite of {}", app.unwrap_or("an app")),
                })
            }
            Event::Schedule(_) => (section.sweep_max_pulls > 0).then(|| Input::Sweep {
                trigger: "schedule".into(),
            }),
            Event::PullRequest(e) => {
                let pr = &e.pull_request;
                (matches!(e.action.as_str(), "opened" | "synchronize" | "reopened")
                    && pr.state == "open")
                    .then(|| Input::Pull {
                        number: pr.number,
                        sha: Some(pr.head.sha.clone()),
                        trigger: format!("pull_request {}", e.action),
                    })
            }
            Event::IssueComment(e) => {
                // Only new comments act; an edit never does. Bots (ours
                // included) do not command.
                if e.action != "created"
                    || e.issue.pull_request.is_none()
                    || e.comment.user.kind.as_deref() == Some("Bot")
                {
                    return None;
                }
                let mut handles: Vec<String> = section
                    .handles
                    .iter()
                    .filter_map(|h| normalize_handle(h))
                    .collect();
                // Without handles of its own, Dr. CI answers to the comment
                // commands' handles, so `@pytorchbot drci` works when
                // `commands.handles` names it.
                if handles.is_empty()
                    && let Some(commands) = &config.commands
                {
                    handles = commands.handles();
                }
                let body = e.comment.body.as_deref().unwrap_or_default();
                (parse_comment(body, &handles) == Parsed::Command(Command::Drci)).then(|| {
                    Input::Pull {
                        number: e.issue.number,
                        sha: None,
                        trigger: "the drci command".into(),
                    }
                })
            }
            _ => None,
        }
    }

    async fn gather(ctx: &Ctx, input: Input) -> Result<Facts> {
        gather(ctx, input).await
    }

    fn decide(facts: &Facts, config: &Config) -> Plan {
        decide(facts, &config.drci.clone().unwrap_or_default())
    }

    fn report(ctx: &Ctx, facts: &Facts, plan: &Plan, report: &Report) -> Result<Verdict> {
        let mut md = format!("## ci-medic Dr. CI ({})\n\n", inline(&facts.trigger));
        for p in &facts.pulls {
            let c = Counts::of(&p.verdicts);
            md.push_str(&format!(
                "- #{} at `{}`: {}\n",
                p.number,
                p.head_sha.chars().take(12).collect::<String>(),
                if p.waiting {
                    "waiting for CI".to_string()
                } else {
                    comment::headline(&c)
                }
            ));
        }
        for s in &facts.skipped {
            md.push_str(&format!("- {}\n", inline(s)));
        }
        for s in &facts.read {
            md.push_str(&format!("- {}\n", inline(s)));
        }
        for n in &plan.notes {
            md.push_str(&format!("- {}\n", inline(n)));
        }
        if !report.results.is_empty() {
            md.push_str(&format!(
                "\n{}\n",
                crate::report::markdown::fenced(&report.to_text(), "text")
            ));
        }
        ctx.env.append_summary(&md)?;
        if let Some(p) = facts.pulls.first() {
            let c = Counts::of(&p.verdicts);
            ctx.env.set_output("drci-new", &c.new.to_string())?;
            ctx.env
                .set_output("drci-unrelated", &c.unrelated.to_string())?;
        }
        Ok(if report.failed() {
            std::process::ExitCode::FAILURE
        } else {
            std::process::ExitCode::SUCCESS
        })
    }
}

/// The comment and check run of each gathered pull request. Pure.
pub fn decide(facts: &Facts, section: &DrciSection) -> Plan {
    let mut plan = Plan::new("drci");
    for s in &facts.skipped {
        plan.note(s.clone());
    }
    for p in &facts.pulls {
        let visible = if p.waiting {
            comment::render_waiting(Some(p.number), &p.head_sha, &p.snapshot.merge_base)
        } else {
            comment::render_with(
                Some(p.number),
                &p.head_sha,
                &p.snapshot.merge_base,
                &p.verdicts,
                &classify::non_blocking(&p.snapshot),
                COMMENT_LIMIT - comment::CACHE_MAX_CHARS - 2,
            )
        };
        let body = comment::with_cache(&visible, &p.cache);
        if p.comment.as_deref() == Some(body.as_str()) {
            plan.note(format!("#{}: the comment is up to date", p.number));
        } else {
            plan.push_with(
                Write::PullComment {
                    number: p.number,
                    head_sha: p.head_sha.clone(),
                    body: body.clone(),
                    marker: (MARKER_KIND.to_string(), p.number.to_string()),
                },
                format!(
                    "Dr. CI's verdict on #{} at {}",
                    p.number,
                    short(&p.head_sha)
                ),
                StepOptions {
                    id: Some(format!("comment-{}", p.number)),
                    ..StepOptions::default()
                },
            );
        }
        if section.check_name.trim().is_empty() {
            continue;
        }
        let spec = check_run(section, p, &visible);
        if p.check.as_ref().is_some_and(|c| c.matches(&spec)) {
            plan.note(format!("#{}: the check run is up to date", p.number));
        } else {
            plan.push_with(
                Write::CheckRun { check: spec },
                format!(
                    "Dr. CI's verdict on #{} at {}",
                    p.number,
                    short(&p.head_sha)
                ),
                StepOptions {
                    id: Some(format!("check-run-{}", p.number)),
                    ..StepOptions::default()
                },
            );
        }
    }
    plan
}

fn short(sha: &str) -> String {
    sha.chars().take(12).collect()
}

/// The check run for one pull request: in progress while jobs run, then a
/// failure when the pull request caused a failure (or one could not be
/// classified, unless `fail-on-unclassified: false`), a success otherwise.
pub fn check_run(section: &DrciSection, p: &PullFacts, body: &str) -> CheckRunSpec {
    let counts = Counts::of(&p.verdicts);
    let failing = counts.new > 0 || (section.fail_on_unclassified && counts.unclassified > 0);
    let (status, conclusion) = if p.waiting || (counts.pending > 0 && !failing) {
        (Status::InProgress, None)
    } else if failing {
        (Status::Completed, Some(Conclusion::Failure))
    } else {
        (Status::Completed, Some(Conclusion::Success))
    };
    // The summary is the comment without its marker line.
    let summary = body.split_once('\n').map_or(body, |(_, rest)| rest);
    CheckRunSpec {
        name: section.check_name.trim().to_string(),
        head_sha: p.head_sha.clone(),
        status,
        conclusion,
        title: if p.waiting {
            "waiting for CI".into()
        } else {
            comment::headline(&counts)
        },
        summary: summary.trim_start().to_string(),
        details_url: None,
        external_id: None,
    }
}

/// A pull request as the API gave it: open, with this head?
fn stale(pr: &PullInfo, sha: Option<&str>) -> Option<String> {
    if pr.state != "open" {
        return Some(format!("#{} is {}; left alone", pr.number, pr.state));
    }
    match sha {
        Some(s) if !pr.head_sha.is_empty() && pr.head_sha != s => Some(format!(
            "#{} has moved on to {} since {}; a newer update will cover it",
            pr.number,
            short(&pr.head_sha),
            short(s)
        )),
        _ => None,
    }
}

/// Our Dr. CI comment on `number`: by the action's identity, with the
/// marker (another user's comment quoting the marker is not it).
async fn our_comment(client: &Client, number: u64) -> Result<Option<String>> {
    Ok(client
        .comments(number)
        .await
        .with_context(|| format!("reading the comments of #{number}"))?
        .into_iter()
        .find(|c| {
            client.identity().is_ours(&c.user.login)
                && c.body
                    .as_deref()
                    .is_some_and(|b| has_marker(b, MARKER_KIND, &number.to_string()))
        })
        .and_then(|c| c.body))
}

/// Does our comment say that jobs are still pending (or that none has
/// reported yet)?
pub fn says_pending(body: &str) -> bool {
    comment::visible(body)
        .lines()
        .nth(1)
        .is_some_and(|l| l.starts_with("## ⏳"))
}

/// What one head SHA has: its runs, jobs (analysed), downstream check runs
/// and the analyses made or reused for it.
#[derive(Debug, Clone, Default)]
struct Head {
    runs: Vec<RunInfo>,
    jobs: Vec<Job>,
    /// Other apps' check runs (CI that is not GitHub Actions).
    external: usize,
    downstream: Vec<CheckRunInfo>,
    analysed: AnalysisCache,
    /// Failed jobs whose analysis came from ClickHouse (no log read).
    from_store: usize,
}

/// Gather the facts of the pull requests `input` names (pub for
/// `ci-medic drci --dump`).
pub async fn gather(ctx: &Ctx, input: Input) -> Result<Facts> {
    let client = ctx.github()?;
    let section = ctx.config.drci.clone().unwrap_or_default();
    let mut facts = Facts::default();
    let mut pulls: Vec<PullInfo> = Vec::new();
    // Comments read already (by the sweep).
    let mut read: BTreeMap<u64, Option<String>> = BTreeMap::new();
    match input {
        Input::HeadSha { sha, trigger } => {
            facts.trigger = trigger;
            let found = client
                .commit_pulls(&sha)
                .await
                .context("finding the pull requests of the head SHA")?;
            for pr in found {
                match stale(&pr, Some(&sha)) {
                    Some(why) => facts.skipped.push(why),
                    // A merged pull request that introduced the commit is
                    // listed too; only open ones whose head this is count.
                    None if pr.head_sha == sha => pulls.push(pr),
                    None => {}
                }
            }
        }
        Input::Pull {
            number,
            sha,
            trigger,
        } => {
            facts.trigger = trigger;
            let pr = client
                .pull(number)
                .await
                .with_context(|| format!("reading pull request #{number}"))?;
            match stale(&pr, sha.as_deref()) {
                Some(why) => facts.skipped.push(why),
                None => pulls.push(pr),
            }
        }
        Input::Sweep { trigger } => {
            facts.trigger = trigger;
            let max = section.sweep_max_pulls;
            let open = client
                .open_pulls(max)
                .await
                .context("listing the open pull requests")?;
            for pr in open {
                let body = our_comment(client, pr.number).await?;
                if body.as_deref().is_some_and(says_pending) {
                    read.insert(pr.number, body);
                    pulls.push(pr);
                }
            }
            if pulls.is_empty() {
                facts
                    .skipped
                    .push("no open pull request's comment says pending".into());
            }
        }
    }
    // The sweep updates every pull request it found pending (each is
    // bounded by its own head); other triggers share one head.
    let cap = if read.is_empty() {
        MAX_PULLS
    } else {
        usize::MAX
    };
    if pulls.len() > cap {
        facts.skipped.push(format!(
            "{} more pull requests share this head; only the first {MAX_PULLS} are updated",
            pulls.len() - cap
        ));
        pulls.truncate(cap);
    }
    let own_run: Option<u64> = ctx.env.var("GITHUB_RUN_ID").and_then(|s| s.parse().ok());
    let rules = ctx.config.rules()?;
    let norm = Normaliser::new(&section.shard_pattern)?;
    let cls = section.classification();
    // Pull requests of one head share its runs and logs.
    let mut heads: BTreeMap<String, Head> = BTreeMap::new();
    for pr in pulls {
        let sha = pr.head_sha.clone();
        let comment = match read.remove(&pr.number) {
            Some(body) => body,
            None => our_comment(client, pr.number).await?,
        };
        // The analyses our comment keeps: no log is read twice.
        let cached = comment
            .as_deref()
            .and_then(comment::read_cache)
            .unwrap_or_default();
        let merge_base = client
            .merge_base(&pr.base_ref, &sha)
            .await
            .with_context(|| format!("finding the merge base of #{}", pr.number))?;
        // With ClickHouse, the head's failures the analysis stored there
        // and the merge base's jobs come in one query (made only when the
        // head has failures).
        let mut reader = None;
        let mut base_stored: Option<Vec<Job>> = None;
        if !heads.contains_key(&sha) {
            let (runs, mut jobs) = jobs_at(client, &sha, own_run).await?;
            let mut analysed = AnalysisCache::default();
            let mut from_store = 0;
            if any_failed(&jobs) {
                reader = store_reader(ctx, client).await;
                if let Some(r) = &reader {
                    match r.jobs_at_head_and_base(&sha, &merge_base).await {
                        Ok(stored) => {
                            from_store = use_stored(&mut jobs, &stored.head, &mut analysed);
                            base_stored = Some(stored.base);
                        }
                        Err(e) => {
                            tracing::warn!("the head's jobs not read from ClickHouse: {e:#}");
                        }
                    }
                }
            }
            analyse_failed(ctx, client, &rules, &mut jobs, None, &cached, &mut analysed).await;
            let (external, downstream) = checks_at(client, &sha).await?;
            let mut jobs: Vec<Job> = jobs.into_iter().map(|(j, _)| j).collect();
            let n_external = external.len();
            jobs.extend(external);
            heads.insert(
                sha.clone(),
                Head {
                    runs,
                    jobs,
                    external: n_external,
                    downstream,
                    analysed,
                    from_store,
                },
            );
        }
        let head = heads.get(&sha).cloned().unwrap_or_default();
        let mut fresh = head.analysed.clone();
        let waiting = head.runs.is_empty() && head.external == 0;
        let failed: Vec<&Job> = classify::latest_attempts(&head.jobs)
            .into_iter()
            .filter(|j| failed_conclusion(j))
            .collect();
        let author = pr.user.as_ref().map(|u| u.login.clone());
        let mut snapshot = Snapshot {
            pr: Some(pr.number),
            author: author.clone(),
            head_sha: sha.clone(),
            merge_base: merge_base.clone(),
            as_of: Some(Utc::now()),
            jobs: head.jobs.clone(),
            config: cls.clone(),
            downstream: downstream(ctx, &head.downstream).await,
            ..Snapshot::default()
        };
        if !failed.is_empty() {
            let wanted: BTreeSet<String> = failed.iter().map(|j| norm.normalise(&j.name)).collect();
            let reader = match reader {
                Some(r) => Some(r),
                None => store_reader(ctx, client).await,
            };
            let stored = match (&reader, base_stored) {
                (_, Some(jobs)) => Some(jobs),
                (Some(r), None) => match r.jobs_at(&merge_base).await {
                    Ok(jobs) => Some(jobs),
                    Err(e) => {
                        tracing::warn!("merge base jobs not read from ClickHouse: {e:#}");
                        None
                    }
                },
                (None, None) => None,
            };
            if let Some(jobs) = stored {
                snapshot.base_jobs = jobs;
            } else {
                let (_, mut base_jobs) = jobs_at(client, &merge_base, None).await?;
                analyse_failed(
                    ctx,
                    client,
                    &rules,
                    &mut base_jobs,
                    Some((&norm, &wanted)),
                    &cached,
                    &mut fresh,
                )
                .await;
                snapshot.base_jobs = base_jobs.into_iter().map(|(j, _)| j).collect();
            }
            let (external, _) = checks_at(client, &merge_base).await?;
            snapshot.base_jobs.extend(external);
            snapshot.issues = unstable_issues(client, &section).await?;
            let worth_memory = failed.iter().any(|j| !is_generic(j.failure.as_ref()));
            if section.flaky_memory
                && worth_memory
                && let Some(reader) = &reader
            {
                let workflows: BTreeSet<String> = failed
                    .iter()
                    .filter_map(|j| j.name.split_once(" / ").map(|(w, _)| w.to_string()))
                    .collect();
                let since =
                    Utc::now() - chrono::Duration::days(i64::from(section.flaky_window_days));
                snapshot.known_flaky = match reader.flaky_memory(&workflows, since).await {
                    Ok(names) => names,
                    Err(e) => {
                        tracing::warn!("flaky memory not read from ClickHouse: {e:#}");
                        Vec::new()
                    }
                };
            } else if section.flaky_memory && worth_memory {
                snapshot.known_flaky =
                    flaky_memory(ctx, client, &section, &head.runs, &failed).await;
            }
            if worth_memory && let Some(reader) = &reader {
                snapshot.recent_failures =
                    stored_recent(reader, client, &section, &norm, &failed, &pr.head_ref).await;
                tracing::info!(
                    "Dr. CI read ClickHouse with {} queries for #{}",
                    reader.queries(),
                    pr.number
                );
            } else if worth_memory {
                let mut lookup = Lookup {
                    ctx,
                    client,
                    rules: &rules,
                    cached: &cached,
                    fresh: &mut fresh,
                };
                snapshot.recent_failures =
                    recent_failures(&mut lookup, &section, &norm, &failed).await;
                snapshot.recent_failures.extend(
                    other_pulls(
                        &mut lookup,
                        &section,
                        &norm,
                        &failed,
                        author.as_deref(),
                        &pr.head_ref,
                    )
                    .await,
                );
            }
            if let Some(r) = &reader {
                facts.read.push(format!(
                    "#{}: ClickHouse read in {} queries; the analyses of {} failed jobs of the head taken from it, their logs not downloaded",
                    pr.number,
                    r.queries(),
                    head.from_store
                ));
            }
        }
        let verdicts = classify::classify(&snapshot)?;
        let check = if section.check_name.trim().is_empty() {
            None
        } else {
            client
                .own_check_run(&sha, section.check_name.trim())
                .await
                .context("reading the check run")?
        };
        facts.pulls.push(PullFacts {
            number: pr.number,
            head_sha: sha,
            waiting,
            snapshot,
            verdicts,
            comment,
            check,
            cache: fresh,
        });
    }
    Ok(facts)
}

/// The check runs on `sha` that are not GitHub Actions': other apps' (CI
/// elsewhere) as jobs named `<app> / <check run>`, and our downstream ones
/// (`crcr/<owner>/<repo> / <job>`). Our other check runs (this one) and
/// Actions' jobs (read from the runs) are left out.
async fn checks_at(client: &Client, sha: &str) -> Result<(Vec<Job>, Vec<CheckRunInfo>)> {
    let runs = client
        .check_runs_of(sha)
        .await
        .with_context(|| format!("listing the check runs of {}", short(sha)))?;
    let mut external = Vec::new();
    let mut downstream = Vec::new();
    for r in runs {
        let slug = r
            .app
            .as_ref()
            .and_then(|a| a.slug.clone())
            .unwrap_or_default();
        if slug == "github-actions" || client.is_own_check_run(&r) {
            if r.name.starts_with(DOWNSTREAM_PREFIX) {
                downstream.push(r);
            }
            continue;
        }
        external.push(Job {
            name: format!(
                "{} / {}",
                if slug.is_empty() { "checks" } else { &slug },
                r.name
            ),
            status: Some(r.status.clone()).filter(|s| !s.as_str().is_empty()),
            conclusion: r.conclusion.clone(),
            url: r.html_url.clone(),
            ..Job::default()
        });
    }
    Ok((external, downstream))
}

/// The prefix of downstream CI's check runs.
pub const DOWNSTREAM_PREFIX: &str = "crcr/";

/// Our downstream check runs, each at its repository's level in the
/// allowlist (read only when there is one): L4 and L3 only (L1 and L2
/// results never show on a pull request). An allowlist that cannot be
/// read shows none (their own check runs still say it).
async fn downstream(ctx: &Ctx, runs: &[CheckRunInfo]) -> Vec<Downstream> {
    if runs.is_empty() {
        return Vec::new();
    }
    let Some(config) = crate::crcr::config::CrcrConfig::of(&ctx.config) else {
        return Vec::new();
    };
    let list = match crate::crcr::receive::load_allowlist(ctx, config).await {
        Ok(list) => list,
        Err(e) => {
            tracing::warn!("the downstream allowlist is not read: {e:#}");
            return Vec::new();
        }
    };
    runs.iter()
        .filter_map(|r| {
            let rest = r.name.strip_prefix(DOWNSTREAM_PREFIX)?;
            let (repo, _) = rest.split_once(" / ")?;
            let level = list.level_of(repo)?;
            (level >= crate::crcr::Level::L3).then(|| Downstream {
                name: r.name.clone(),
                repo: repo.to_string(),
                level: level.as_str().to_string(),
                status: Some(r.status.clone()),
                conclusion: r.conclusion.clone(),
                url: r.html_url.clone(),
            })
        })
        .collect()
}

fn failed_conclusion(j: &Job) -> bool {
    j.status.as_ref().is_none_or(Status::is_completed)
        && j.conclusion.as_ref().is_some_and(Conclusion::is_failure)
}

/// The runs at `sha` (ours left out) and every attempt of their jobs, named
/// `workflow / job`; a run without jobs yet is one pending placeholder job.
async fn jobs_at(
    client: &Client,
    sha: &str,
    own_run: Option<u64>,
) -> Result<(Vec<RunInfo>, Vec<(Job, Option<JobInfo>)>)> {
    let mut runs = client
        .runs(&format!("head_sha={sha}"), MAX_RUNS)
        .await
        .with_context(|| format!("listing the runs at {}", short(sha)))?;
    runs.retain(|r| Some(r.id) != own_run);
    let mut jobs = Vec::new();
    for run in &runs {
        let workflow = run.name.clone().unwrap_or_default();
        let listed: Vec<JobInfo> = client
            .get_all(
                &client.repo_path(&format!("/actions/runs/{}/jobs?filter=all", run.id)),
                Some("jobs"),
                MAX_JOBS,
            )
            .await
            .with_context(|| format!("listing the jobs of run {}", run.id))?;
        if listed.is_empty() {
            let status = run.status.clone().unwrap_or(Status::Queued);
            jobs.push((
                Job {
                    name: format!("{workflow} / {QUEUED_RUN_JOB}"),
                    conclusion: status
                        .is_completed()
                        .then(|| run.conclusion.clone())
                        .flatten(),
                    status: Some(status),
                    attempt: u32::try_from(run.run_attempt).unwrap_or(u32::MAX),
                    url: Some(run.html_url.clone()).filter(|u| !u.is_empty()),
                    ..Job::default()
                },
                None,
            ));
            continue;
        }
        for info in listed {
            let job = Job {
                name: format!("{workflow} / {}", info.name),
                id: Some(info.id),
                status: info.status.clone().filter(|s| !s.as_str().is_empty()),
                conclusion: info.conclusion.clone(),
                attempt: u32::try_from(info.run_attempt).unwrap_or(u32::MAX),
                url: info.html_url.clone(),
                ..Job::default()
            };
            jobs.push((job, Some(info)));
        }
    }
    Ok((runs, jobs))
}

/// Whether the latest attempt of some job failed.
fn any_failed(jobs: &[(Job, Option<JobInfo>)]) -> bool {
    let plain: Vec<Job> = jobs.iter().map(|(j, _)| j.clone()).collect();
    classify::latest_attempts(&plain)
        .into_iter()
        .any(failed_conclusion)
}

/// The failed jobs whose analysis ClickHouse holds (the failure analysis
/// stores its cause line and fingerprint on each failed `workflow_job`
/// row) take it from there, and their logs are not downloaded; the rest
/// are left to [`analyse_failed`].
fn use_stored(
    jobs: &mut [(Job, Option<JobInfo>)],
    stored: &[Job],
    analysed: &mut AnalysisCache,
) -> usize {
    let mut used = 0;
    for (job, info) in jobs.iter_mut() {
        if !failed_conclusion(job) {
            continue;
        }
        let Some(id) = info.as_ref().map(|i| i.id) else {
            continue;
        };
        if let Some(found) = crate::drci::clickhouse::stored_failure(stored, id) {
            job.failure = Some(found.clone());
            analysed.insert(id, Some(found));
            *info = None;
            used += 1;
        }
    }
    used
}

/// Reads each log once: the analyses our comment keeps, and those made in
/// this update (kept in the next comment).
struct Lookup<'a> {
    ctx: &'a Ctx,
    client: &'a Client,
    rules: &'a RuleSet,
    cached: &'a AnalysisCache,
    fresh: &'a mut AnalysisCache,
}

impl Lookup<'_> {
    fn has(&self, id: u64) -> bool {
        self.cached.jobs.contains_key(&id) || self.fresh.jobs.contains_key(&id)
    }

    /// The most likely cause in a job's log: cached, or read and analysed
    /// (and then cached, unless the log could not be read this time).
    async fn failure(&mut self, info: JobInfo) -> Option<JobFailure> {
        let id = info.id;
        if let Some(hit) = self
            .cached
            .jobs
            .get(&id)
            .or_else(|| self.fresh.jobs.get(&id))
            .cloned()
        {
            self.fresh.insert(id, hit.as_ref());
            return hit;
        }
        let facts =
            crate::job_logs::read_job(self.client, &self.ctx.config, self.rules, info).await;
        let lasting = matches!(
            facts.finding.status.as_str(),
            "analysed" | "no-failed-step" | "logs-expired"
        );
        let failure = facts.failures.into_iter().next().map(|f| JobFailure {
            category: f.category,
            rule: f.rule,
            text: f.text,
            fingerprint: f.fingerprint,
        });
        if lasting {
            self.fresh.insert(id, failure.as_ref());
        }
        failure
    }
}

/// Read the logs of the failed latest attempts (of the jobs whose
/// normalised name is `wanted`, when given), at most [`MAX_LOGS`] not
/// cached already.
async fn analyse_failed(
    ctx: &Ctx,
    client: &Client,
    rules: &RuleSet,
    jobs: &mut [(Job, Option<JobInfo>)],
    wanted: Option<(&Normaliser, &BTreeSet<String>)>,
    cached: &AnalysisCache,
    fresh: &mut AnalysisCache,
) {
    let mut lookup = Lookup {
        ctx,
        client,
        rules,
        cached,
        fresh,
    };
    let plain: Vec<Job> = jobs.iter().map(|(j, _)| j.clone()).collect();
    let latest: BTreeSet<(String, u32)> = classify::latest_attempts(&plain)
        .into_iter()
        .map(|j| (j.name.clone(), j.attempt))
        .collect();
    let mut read = 0usize;
    for (job, info) in jobs.iter_mut() {
        if !failed_conclusion(job) || !latest.contains(&(job.name.clone(), job.attempt)) {
            continue;
        }
        if let Some((norm, names)) = wanted
            && !names.contains(&norm.normalise(&job.name))
        {
            continue;
        }
        let Some(info) = info.take() else { continue };
        if !lookup.has(info.id) {
            if read >= MAX_LOGS {
                tracing::warn!("more than {MAX_LOGS} failed jobs; the rest are read unanalysed");
                continue;
            }
            read += 1;
        }
        job.failure = lookup.failure(info).await;
    }
}

/// The open issues with the unstable label whose titles mark a job unstable
/// or disabled (the title grammar of `automations::disabled`).
async fn unstable_issues(client: &Client, section: &DrciSection) -> Result<Vec<IssueRef>> {
    let label = section.unstable_label.trim();
    if label.is_empty() {
        return Ok(Vec::new());
    }
    let issues = client
        .open_issues_with_label(label)
        .await
        .context("listing the open unstable issues")?;
    Ok(issues
        .into_iter()
        .filter(|i| {
            matches!(
                crate::automations::disabled::parse_title(&i.title),
                Some(Ok(_))
            )
        })
        .map(|i| IssueRef {
            number: Some(i.number),
            title: i.title,
        })
        .collect())
}

/// The normalised names and the workflows of the failed jobs with a real
/// cause (only those can be FLAKY on evidence from elsewhere).
fn worth_looking(norm: &Normaliser, failed: &[&Job]) -> (BTreeSet<String>, BTreeSet<String>) {
    let real: Vec<&&Job> = failed
        .iter()
        .filter(|j| !is_generic(j.failure.as_ref()))
        .collect();
    let wanted = real.iter().map(|j| norm.normalise(&j.name)).collect();
    let workflows = real
        .iter()
        .filter_map(|j| j.name.split_once(" / ").map(|(w, _)| w.to_string()))
        .collect();
    (wanted, workflows)
}

/// A failure elsewhere that recovered, before its log is read.
struct Candidate {
    failure: history::github::RecoveredFailure,
    place: Place,
    pr: Option<u64>,
    author: Option<String>,
}

/// The candidates of the wanted jobs, their logs read (at most
/// [`RECENT_LOGS`]): each with its fingerprint; generic ones left out.
async fn fingerprinted(
    lookup: &mut Lookup<'_>,
    norm: &Normaliser,
    wanted: &BTreeSet<String>,
    found: Vec<Candidate>,
) -> Vec<RecentFailure> {
    let mut out = Vec::new();
    let mut read = 0usize;
    for c in found {
        let f = c.failure;
        let name = format!("{} / {}", f.workflow, f.job.name);
        if !wanted.contains(&norm.normalise(&name)) {
            continue;
        }
        if read >= RECENT_LOGS {
            break;
        }
        read += 1;
        let at = f.job.completed_at;
        let url = f.job.html_url.clone();
        let Some(failure) = lookup.failure(f.job).await else {
            continue;
        };
        // A generic failure elsewhere says nothing about this one.
        if is_generic(Some(&failure)) {
            continue;
        }
        out.push(RecentFailure {
            job: name,
            fingerprint: failure.fingerprint,
            place: c.place,
            pr: c.pr,
            author: c.author,
            sha: Some(f.sha),
            url,
            at,
            recovered: Some(match f.recovered {
                RecoveredBy::Rerun => Recovery::Rerun,
                RecoveredBy::LaterCommit => Recovery::LaterCommit,
            }),
        });
    }
    out
}

/// The recent failures of the default branch, of jobs failing here with a
/// real cause, that passed again (on a re-run or a later commit), each with
/// its fingerprint: one list of runs, at most
/// [`history::github::RECENT_RUNS_READ`] job lists and [`RECENT_LOGS`] log
/// downloads. A source that cannot be read gives no evidence (fewer FLAKY
/// verdicts, never more).
async fn recent_failures(
    lookup: &mut Lookup<'_>,
    section: &DrciSection,
    norm: &Normaliser,
    failed: &[&Job],
) -> Vec<RecentFailure> {
    let (wanted, workflows) = worth_looking(norm, failed);
    if wanted.is_empty() {
        return Vec::new();
    }
    let Ok(branch) = lookup.client.default_branch().await else {
        return Vec::new();
    };
    let since = Utc::now() - chrono::Duration::days(i64::from(section.flaky_window_days));
    let found = match history::github::recovered_failures(lookup.client, &branch, since, |w| {
        workflows.contains(w)
    })
    .await
    {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!("recent failures of {branch} not read: {e:#}");
            return Vec::new();
        }
    };
    let found = found
        .into_iter()
        .map(|failure| Candidate {
            failure,
            place: Place::Trunk,
            pr: None,
            author: None,
        })
        .collect();
    fingerprinted(lookup, norm, &wanted, found).await
}

/// The recent failures of other authors' pull requests, of jobs failing
/// here with a real cause, that passed again: one list of runs, at most
/// [`history::github::RECENT_RUNS_READ`] job lists and [`RECENT_LOGS`] log
/// downloads. Without this pull request's author, none (a failure of the
/// author's own other pull request is no evidence).
async fn other_pulls(
    lookup: &mut Lookup<'_>,
    section: &DrciSection,
    norm: &Normaliser,
    failed: &[&Job],
    author: Option<&str>,
    own_branch: &str,
) -> Vec<RecentFailure> {
    let Some(author) = author.filter(|a| !a.trim().is_empty()) else {
        return Vec::new();
    };
    let (wanted, workflows) = worth_looking(norm, failed);
    if wanted.is_empty() {
        return Vec::new();
    }
    let since = Utc::now() - chrono::Duration::days(i64::from(section.flaky_window_days));
    let found = match history::github::recovered_pr_failures(
        lookup.client,
        since,
        author,
        own_branch,
        |w| workflows.contains(w),
    )
    .await
    {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!("recent failures of other pull requests not read: {e:#}");
            return Vec::new();
        }
    };
    let found = found
        .into_iter()
        .map(|f| Candidate {
            failure: f.failure,
            place: Place::Pr,
            pr: f.pr,
            author: Some(f.author),
        })
        .collect();
    fingerprinted(lookup, norm, &wanted, found).await
}

/// The ClickHouse reader, when ClickHouse is configured and answers (else
/// the API is read, as without it).
async fn store_reader<'a>(
    ctx: &'a Ctx,
    client: &Client,
) -> Option<crate::drci::clickhouse::Reader<'a>> {
    if ctx.store_config().is_err() {
        return None;
    }
    match ctx.store().await {
        Ok(store) => Some(crate::drci::clickhouse::Reader::new(
            store,
            &client.repo().full(),
        )),
        Err(e) => {
            tracing::warn!("ClickHouse not reached, Dr. CI reads the API: {e:#}");
            None
        }
    }
}

/// The recent failures of the default branch and of other authors' pull
/// requests from ClickHouse: one query, and one list of the open pull
/// requests (their authors) when other pull requests' failures are among
/// them. A source that cannot be read gives no evidence.
async fn stored_recent(
    reader: &crate::drci::clickhouse::Reader<'_>,
    client: &Client,
    section: &DrciSection,
    norm: &Normaliser,
    failed: &[&Job],
    own_branch: &str,
) -> Vec<RecentFailure> {
    use crate::drci::clickhouse::{RecentScope, pull_branches, recent_of};
    let (wanted, workflows) = worth_looking(norm, failed);
    let workflows: Vec<String> = workflows.into_iter().collect();
    let Ok(branch) = client.default_branch().await else {
        return Vec::new();
    };
    let mut authors = BTreeMap::new();
    let mut scope = RecentScope {
        workflows: &workflows,
        wanted: &wanted,
        default_branch: &branch,
        own_branch,
        since: Utc::now() - chrono::Duration::days(i64::from(section.flaky_window_days)),
        authors: &BTreeMap::new(),
    };
    let rows = match reader.recent_rows(&scope).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!("recent failures not read from ClickHouse: {e:#}");
            return Vec::new();
        }
    };
    let branches = pull_branches(&rows, own_branch);
    if !branches.is_empty() {
        match client.open_pulls(section.sweep_max_pulls).await {
            Ok(open) => {
                for p in open {
                    if let Some(user) = &p.user
                        && branches.contains(&p.head_ref)
                    {
                        authors.insert(
                            p.head_ref.clone(),
                            crate::drci::clickhouse::PullAuthor {
                                number: p.number,
                                author: user.login.clone(),
                                head_sha: p.head_sha.clone(),
                            },
                        );
                    }
                }
            }
            Err(e) => tracing::warn!("authors of other pull requests not read: {e}"),
        }
    }
    scope.authors = &authors;
    recent_of(&rows, norm, &scope)
}

/// Retry's flaky memory for the workflows of the failed jobs, as
/// `workflow / job` names. A source that cannot be read gives no evidence
/// (fewer FLAKY verdicts, never more).
async fn flaky_memory(
    ctx: &Ctx,
    client: &Client,
    section: &DrciSection,
    runs: &[RunInfo],
    failed: &[&Job],
) -> Vec<String> {
    let workflows: BTreeSet<&str> = failed
        .iter()
        .filter_map(|j| j.name.split_once(" / ").map(|(w, _)| w))
        .collect();
    let Ok(branch) = client.default_branch().await else {
        return Vec::new();
    };
    let repo = client.repo().full();
    let since = Utc::now() - chrono::Duration::days(i64::from(section.flaky_window_days));
    let history = History::new(ctx, ctx.config.retry.history.into());
    let mut names = Vec::new();
    let mut seen = BTreeSet::new();
    for run in runs {
        let workflow = run.name.clone().unwrap_or_default();
        if !workflows.contains(workflow.as_str()) || !seen.insert(run.workflow_id) {
            continue;
        }
        let scope = FlakyScope {
            repo: &repo,
            branch: &branch,
            workflow_id: run.workflow_id,
            workflow: &workflow,
            since,
        };
        match history.flaky_jobs(&scope).await {
            Ok(found) => names.extend(
                found
                    .into_iter()
                    .filter(|f| f.workflow == workflow || f.workflow.is_empty())
                    .map(|f| format!("{workflow} / {}", f.name)),
            ),
            Err(e) => tracing::warn!("flaky memory of {workflow} not read: {e:#}"),
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::drci::Class;

    fn config() -> Config {
        Config::parse("ci-medic.yml", "drci: {}\n").expect("config")
    }

    fn event(name: &str, fixture: &str, edit: impl FnOnce(&mut Value)) -> Delivery {
        let path = format!(
            "{}/fixtures/webhooks/{name}/{fixture}",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut v: Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json");
        edit(&mut v);
        let bytes = serde_json::to_vec(&v).expect("json");
        Delivery::Event {
            event: crate::event::parse(name, "test", &bytes).expect("event"),
            command: None,
        }
    }

    fn comment(action: &str, body: &str, on_pull: bool) -> Delivery {
        event("issue_comment", "00-created.json", |v| {
            v["action"] = action.into();
            v["comment"]["body"] = body.into();
            v["issue"]["number"] = 7.into();
            if on_pull {
                v["issue"]["pull_request"] = json!({"url": "https://api.github.com/x"});
            }
        })
    }

    #[test]
    fn subscribes_to_pull_request_runs_pushes_and_the_command_only() {
        let c = config();
        let run = |event: &str| event_run(event);
        fn event_run(e: &str) -> Delivery {
            event("workflow_run", "01-completed.json", |v| {
                v["workflow_run"]["event"] = e.into();
                v["workflow_run"]["head_sha"] = "abc".into();
            })
        }
        assert!(matches!(
            Drci::subscribe(&run("pull_request"), &c),
            Some(Input::HeadSha { sha, .. }) if sha == "abc"
        ));
        assert!(Drci::subscribe(&run("pull_request_target"), &c).is_some());
        assert_eq!(Drci::subscribe(&run("push"), &c), None);
        // Off without the section.
        assert_eq!(
            Drci::subscribe(&run("pull_request"), &Config::default()),
            None
        );
        let push = event("pull_request", "22-synchronize.json", |v| {
            v["pull_request"]["state"] = "open".into();
        });
        assert!(matches!(
            Drci::subscribe(&push, &c),
            Some(Input::Pull { sha: Some(_), .. })
        ));
        assert!(matches!(
            Drci::subscribe(&comment("created", "@ci-medic drci", true), &c),
            Some(Input::Pull {
                number: 7,
                sha: None,
                ..
            })
        ));
        assert_eq!(
            Drci::subscribe(&comment("edited", "@ci-medic drci", true), &c),
            None
        );
        assert_eq!(
            Drci::subscribe(&comment("created", "@ci-medic drci", false), &c),
            None
        );
        assert_eq!(
            Drci::subscribe(&comment("created", "@ci-medic merge", true), &c),
            None
        );
        assert_eq!(
            Drci::subscribe(&comment("created", "drci please", true), &c),
            None
        );
    }

    #[test]
    fn without_handles_of_its_own_the_command_handles_answer() {
        let c = Config::parse("c.yml", "drci: {}\ncommands:\n  handles: ['@pytorchbot']\n")
            .expect("config");
        assert!(Drci::subscribe(&comment("created", "@pytorchbot drci", true), &c).is_some());
        assert_eq!(
            Drci::subscribe(&comment("created", "@ci-medic drci", true), &c),
            None
        );
    }

    fn verdict(class: Class) -> JobVerdict {
        JobVerdict {
            name: "CI / test".into(),
            class,
            reason: "r".into(),
            fingerprint: None,
            evidence: None,
            url: None,
            cause: None,
            attempt: 1,
        }
    }

    fn pull(verdicts: Vec<JobVerdict>) -> PullFacts {
        PullFacts {
            number: 7,
            head_sha: "a".repeat(40),
            waiting: false,
            snapshot: Snapshot {
                merge_base: "b".repeat(40),
                ..Snapshot::default()
            },
            verdicts,
            comment: None,
            check: None,
            cache: AnalysisCache::default(),
        }
    }

    fn conclusion(section: &DrciSection, p: &PullFacts) -> (String, Option<String>) {
        let c = check_run(section, p, "<!-- m -->\nbody");
        (c.status.to_string(), c.conclusion.map(|c| c.to_string()))
    }

    #[test]
    fn the_check_fails_on_new_and_unclassified_failures_only() {
        let s = DrciSection::default();
        let done = |c: &str| ("completed".to_string(), Some(c.to_string()));
        assert_eq!(
            conclusion(&s, &pull(vec![verdict(Class::New)])),
            done("failure")
        );
        assert_eq!(
            conclusion(
                &s,
                &pull(vec![verdict(Class::New), verdict(Class::Pending)])
            ),
            done("failure")
        );
        assert_eq!(
            conclusion(&s, &pull(vec![verdict(Class::Unclassified)])),
            done("failure")
        );
        for unrelated in [
            Class::Flaky,
            Class::BrokenTrunk,
            Class::Unstable,
            Class::Cancelled,
        ] {
            assert_eq!(
                conclusion(&s, &pull(vec![verdict(unrelated)])),
                done("success")
            );
        }
        assert_eq!(
            conclusion(
                &s,
                &pull(vec![verdict(Class::Flaky), verdict(Class::Pending)])
            ),
            ("in_progress".to_string(), None)
        );
        let lenient = DrciSection {
            fail_on_unclassified: false,
            ..DrciSection::default()
        };
        assert_eq!(
            conclusion(&lenient, &pull(vec![verdict(Class::Unclassified)])),
            done("success")
        );
        let mut waiting = pull(Vec::new());
        waiting.waiting = true;
        assert_eq!(conclusion(&s, &waiting), ("in_progress".to_string(), None));
        // The summary is the comment without its marker.
        assert_eq!(check_run(&s, &waiting, "<!-- m -->\nbody").summary, "body");
    }

    #[test]
    fn nothing_is_written_when_the_comment_and_the_check_say_the_same() {
        let s = DrciSection::default();
        let facts = |p: PullFacts| Facts {
            trigger: "t".into(),
            pulls: vec![p],
            skipped: Vec::new(),
            read: Vec::new(),
        };
        let fresh = decide(&facts(pull(vec![verdict(Class::New)])), &s);
        let kinds: Vec<&str> = fresh.steps.iter().map(|st| st.write.kind()).collect();
        assert_eq!(kinds, ["pull-comment", "check-run"]);
        let Write::PullComment {
            body,
            marker,
            head_sha,
            ..
        } = &fresh.steps[0].write
        else {
            panic!("{:?}", fresh.steps[0]);
        };
        assert_eq!(marker, &("drci".to_string(), "7".to_string()));
        assert_eq!(head_sha, &"a".repeat(40));
        let Write::CheckRun { check } = &fresh.steps[1].write else {
            panic!("{:?}", fresh.steps[1]);
        };
        let mut same = pull(vec![verdict(Class::New)]);
        same.comment = Some(body.clone());
        same.check = Some(CheckRunInfo {
            id: 1,
            name: check.name.clone(),
            head_sha: check.head_sha.clone(),
            status: check.status.clone(),
            conclusion: check.conclusion.clone(),
            output: crate::github::checks::CheckOutput {
                title: Some(check.title.clone()),
                summary: Some(check.summary.clone()),
            },
            app: None,
            details_url: None,
            external_id: None,
            html_url: None,
        });
        let again = decide(&facts(same.clone()), &s);
        assert!(again.steps.is_empty(), "{:?}", again.steps);
        // A verdict that changed is written again.
        same.verdicts = vec![verdict(Class::Flaky)];
        assert_eq!(decide(&facts(same), &s).steps.len(), 2);
        // No check run when its name is empty.
        let no_check = DrciSection {
            check_name: String::new(),
            ..DrciSection::default()
        };
        let plan = decide(&facts(pull(vec![verdict(Class::New)])), &no_check);
        assert_eq!(plan.steps.len(), 1);
    }
}
