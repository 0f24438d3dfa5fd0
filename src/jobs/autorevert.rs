//! `autorevert`: find the commit that broke trunk, confirm it, revert or notify.
//!
//! `command` is the CLI (`ci-medic autorevert [--source github|clickhouse|
//! file:SNAPSHOT.json] [--as-of TIME] [--dump FILE]`); `scheduled` is what
//! `run` calls on `schedule` and `workflow_dispatch`. Both read a snapshot
//! from the source, detect, gather what GitHub knows about the suspects,
//! decide, act (unless `--dry-run`, a replay, or the file source), and record
//! every decision: stdout (text or the stable JSON), the step summary, step
//! outputs, and ClickHouse's `autorevert_events` when ClickHouse is
//! configured.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use chrono::{DateTime, Utc};

use crate::app::Ctx;
use crate::autorevert::decide::{
    self, Decided, Decision, Facts, PullFacts, RevertFacts, SuspectFacts,
};
use crate::autorevert::detect::{Detection, Params, Verdict};
use crate::autorevert::revert::{self, RevertChanges};
use crate::autorevert::{
    self, LABEL_KILL_SWITCH, LABEL_NO_REVERT, grid, revert_branch, short, signal,
};
use crate::cli::{AutorevertArgs, Context};
use crate::config::{AutorevertMode, Config};
use crate::github::Client;
use crate::github::api::encode_segment;
use crate::github::types::PullInfo;
use crate::history::{History, HistorySource, OnlineSource, Snapshot};
use crate::permissions::{Action, Permissions};
use crate::plan::{self, Outcome, Plan, Report, Write};
use crate::report::markdown::inline;
use crate::store::{AutorevertAction, AutorevertEvent, TableRows};

pub async fn command(cx: &Context, args: &AutorevertArgs) -> Result<ExitCode> {
    let as_of = args.as_of;
    let requested = HistorySource::parse(args.source.as_deref(), OnlineSource::Github);
    if let Ok(HistorySource::File(path)) = &requested {
        let config = cx.load_config(None).await?;
        let mut snapshot = Snapshot::load(path)?;
        if let Some(t) = as_of {
            snapshot = snapshot.as_of(t);
        }
        if let Some(dump) = &args.dump {
            snapshot.save(dump)?;
        }
        let ctx = cx.ctx(None, config);
        return offline(&ctx, &snapshot);
    }
    let client = cx.client()?;
    let config = cx.load_config(Some(&client)).await?;
    let source = HistorySource::parse(args.source.as_deref(), config.autorevert.source)?;
    let ctx = cx.ctx(Some(client), config);
    online(&ctx, &source, as_of, args.dump.as_deref()).await
}

pub async fn scheduled(cx: &Ctx) -> Result<ExitCode> {
    let config = &cx.config;
    if !config.autorevert.enabled {
        crate::outln!(
            cx.env,
            "ci-medic: autorevert is not enabled (set `autorevert.enabled: true`)"
        );
        return Ok(ExitCode::SUCCESS);
    }
    let source = HistorySource::parse(
        cx.env.input("autorevert-source").as_deref(),
        config.autorevert.source,
    )?;
    if let HistorySource::File(_) = source {
        anyhow::bail!(
            "the file source is for the command line; the action reads github or clickhouse"
        );
    }
    online(cx, &source, None, None).await
}

/// Decide from a snapshot file: nothing is written anywhere.
fn offline(cx: &Ctx, snapshot: &Snapshot) -> Result<ExitCode> {
    let config = &cx.config;
    let (signals, detection) =
        autorevert::analyze(snapshot, &Params::from_config(&config.autorevert));
    let facts = Facts::offline(config.autorevert.mode);
    let decided = decide::decide(snapshot, &signals, &detection, &facts);
    let report = Report {
        job: decided.plan.job.clone(),
        dry_run: true,
        results: Vec::new(),
    };
    publish(
        cx, snapshot, &signals, &detection, &decided, &report, &facts,
    )?;
    Ok(ExitCode::SUCCESS)
}

async fn online(
    cx: &Ctx,
    source: &HistorySource,
    as_of: Option<DateTime<Utc>>,
    dump: Option<&Path>,
) -> Result<ExitCode> {
    let client = cx.github()?;
    let config = &cx.config;
    let ar = &config.autorevert;
    let now = as_of.unwrap_or_else(Utc::now);
    let branch = client.default_branch().await?;
    let snapshot = History::new(cx, source.clone())
        .trunk_snapshot(&branch, now)
        .await?;
    // Only a replay forgets what came after `now` (the present keeps what a
    // clock a few seconds ahead of ours reported).
    let snapshot = match as_of {
        Some(t) => snapshot.as_of(t),
        None => snapshot,
    }
    .window(ar.lookback_hours);
    // Jobs an open DISABLED/UNSTABLE issue marks give no signal.
    let markings = crate::handlers::disabled_jobs::open_markings(client, config).await?;
    let mut snapshot = snapshot;
    snapshot
        .jobs
        .retain(|j| crate::automations::disabled::find(&markings, &j.workflow, &j.name).is_none());
    if let Some(path) = dump {
        snapshot.save(path)?;
    }
    let (signals, detection) = autorevert::analyze(&snapshot, &Params::from_config(ar));

    // A replay never acts on the present.
    let replay = as_of.is_some();
    let facts = gather_facts(cx, client, config, &snapshot, &detection, &branch, !replay).await;
    let decided = decide::decide(&snapshot, &signals, &detection, &facts);
    let dry_run = cx.dry_run() || replay;
    let report = plan::execute(&decided.plan, &plan::Sinks::github(Some(client)), dry_run).await;

    // The audit log, when ClickHouse is configured: one insert, which a
    // dry run shows and does not write.
    let rows = events(&snapshot, &detection, &decided, &report, dry_run);
    if !replay && cx.store_config().is_ok() && !rows.is_empty() {
        let mut audit = Plan::new("autorevert-audit");
        audit.push_best_effort(
            Write::InsertRows {
                rows: TableRows::AutorevertEvents(rows),
            },
            "the audit log of autorevert's decisions",
        );
        let recorded = plan::execute(&audit, &cx.sinks(&audit).await, dry_run).await;
        for (_, outcome) in &recorded.results {
            if let Outcome::Failed { error } = outcome {
                let msg = format!("autorevert decisions not recorded in ClickHouse: {error}");
                tracing::warn!("{msg}");
                cx.env.annotate_warning(&msg);
            }
        }
        if recorded.dry_run && !cx.json() {
            cx.env.echo_untrusted(&audit.to_text());
        }
    }
    publish(
        cx, &snapshot, &signals, &detection, &decided, &report, &facts,
    )?;
    Ok(if report.failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The server's web URL, for links.
fn server_url(env: &crate::runtime::Env) -> String {
    env.var("GITHUB_SERVER_URL")
        .map(str::to_string)
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .unwrap_or_else(|| "https://github.com".into())
}

/// What GitHub knows that the decision needs; read only when the mode could
/// act on it.
async fn gather_facts(
    cx: &Ctx,
    client: &Client,
    config: &Config,
    snapshot: &Snapshot,
    detection: &Detection,
    branch: &str,
    can_act: bool,
) -> Facts {
    let ar = &config.autorevert;
    let mut facts = Facts {
        mode: ar.mode,
        can_act,
        kill_switch: None,
        default_branch: branch.to_string(),
        tracking_issue: ar.tracking_issue,
        server_url: server_url(&cx.env),
        suspects: BTreeMap::new(),
    };
    if !can_act || ar.mode == AutorevertMode::Log {
        return facts;
    }
    let speaks = |v: Verdict| matches!(v, Verdict::Revert | Verdict::Notify);
    let wants = !detection.restarts.is_empty()
        || (ar.mode != AutorevertMode::Restart
            && detection.patterns.iter().any(|p| speaks(p.verdict)));
    if !wants {
        return facts;
    }
    facts.kill_switch = match cx.permissions() {
        Ok(perms) => kill_switch(client, &perms).await,
        Err(e) => Some(format!("permissions could not be read ({e:#})")),
    };
    if facts.kill_switch.is_some() || ar.mode == AutorevertMode::Restart {
        return facts;
    }
    for p in detection.patterns.iter().filter(|p| speaks(p.verdict)) {
        let Some(commit) = snapshot.commits.get(p.suspect) else {
            continue;
        };
        let mut sf = SuspectFacts::default();
        match client.commit_pulls(&commit.sha).await {
            Ok(pulls) => sf.pull = pick_pull(&pulls, branch),
            Err(e) => tracing::warn!("pull requests of {} not read: {e}", commit.sha),
        }
        let no_revert = sf
            .pull
            .as_ref()
            .is_some_and(|p| p.labels.iter().any(|l| l == LABEL_NO_REVERT));
        if p.verdict == Verdict::Revert && ar.mode == AutorevertMode::Revert && !no_revert {
            sf.revert = Some(revert_facts(client, &commit.sha, branch).await);
        }
        facts.suspects.insert(commit.sha.clone(), sf);
    }
    facts
}

/// The pull request that brought a commit into `branch`.
fn pick_pull(pulls: &[PullInfo], branch: &str) -> Option<PullFacts> {
    let best = pulls
        .iter()
        .find(|p| p.merged && p.base_ref == branch)
        .or_else(|| pulls.iter().find(|p| p.merged))
        .or_else(|| pulls.first())?;
    Some(PullFacts {
        number: best.number,
        labels: best.labels.iter().map(|l| l.name.clone()).collect(),
    })
}

/// Is the kill switch on? When it cannot be read, autorevert does not act.
async fn kill_switch(client: &Client, perms: &Permissions<'_>) -> Option<String> {
    let issues = match client.open_issues_with_label(LABEL_KILL_SWITCH).await {
        Ok(i) => i,
        Err(e) => {
            return Some(format!(
                "the `{LABEL_KILL_SWITCH}` issues could not be read ({e})"
            ));
        }
    };
    for issue in issues {
        // Without a `labeled` event, the issue's author stands for who applied it.
        let labeler = match perms.labeler(issue.number, LABEL_KILL_SWITCH).await {
            Ok(who) => who,
            Err(e) => {
                return Some(format!(
                    "who labelled issue #{} could not be read ({e})",
                    issue.number
                ));
            }
        }
        .unwrap_or_else(|| issue.user.login.clone());
        match perms.may(&labeler, Action::KillAutorevert).await {
            Ok(true) => {
                return Some(format!(
                    "issue #{} is labelled `{LABEL_KILL_SWITCH}` by {labeler}, who has write access",
                    issue.number
                ));
            }
            Ok(false) => tracing::info!(
                "issue #{} labelled `{LABEL_KILL_SWITCH}` by {labeler}, who lacks write access: ignored",
                issue.number
            ),
            Err(e) => {
                return Some(format!(
                    "the permission of {labeler} (who labelled #{}) could not be read ({e})",
                    issue.number
                ));
            }
        }
    }
    None
}

/// Whether and how `sha` can be reverted on `branch` now.
async fn revert_facts(client: &Client, sha: &str, branch: &str) -> RevertFacts {
    let head = match client.branch_sha(branch).await {
        Ok(Some(h)) => h,
        Ok(None) => {
            return fallback(format!("the branch {branch} was not found"));
        }
        Err(e) => return fallback(format!("the head of {branch} could not be read ({e})")),
    };
    let rb = revert_branch(sha);
    let branch_exists = matches!(client.branch_sha(&rb).await, Ok(Some(_)));
    let closed_pull = match closed_revert_pull(client, &rb).await {
        Ok(n) => n,
        Err(e) => return fallback(format!("the pull requests of {rb} could not be read ({e})")),
    };
    let changes = match revert::gather(client, sha, &head).await {
        Ok(c) => c,
        Err(e) => RevertChanges::Fallback(format!("the commit could not be read ({e})")),
    };
    RevertFacts {
        changes,
        head_sha: head,
        branch_exists,
        closed_pull,
    }
}

fn fallback(why: String) -> RevertFacts {
    RevertFacts {
        changes: RevertChanges::Fallback(why),
        head_sha: String::new(),
        branch_exists: false,
        closed_pull: None,
    }
}

/// A pull request from the revert branch that a person closed unmerged.
async fn closed_revert_pull(
    client: &Client,
    branch: &str,
) -> Result<Option<u64>, crate::github::GithubError> {
    #[derive(serde::Deserialize)]
    struct Pull {
        number: u64,
        state: String,
        #[serde(default)]
        merged_at: Option<String>,
    }
    let head = format!("{}:{branch}", client.repo().owner);
    let pulls: Vec<Pull> = client
        .get_all(
            &client.repo_path(&format!(
                "/pulls?state=closed&head={}",
                encode_segment(&head, false)
            )),
            None,
            20,
        )
        .await?;
    Ok(pulls
        .into_iter()
        .find(|p| p.state == "closed" && p.merged_at.is_none())
        .map(|p| p.number))
}

/// The audit rows: one per decision, and one per restart dispatched (which
/// the ClickHouse source counts against `max-restarts`).
fn events(
    snapshot: &Snapshot,
    detection: &Detection,
    decided: &Decided,
    report: &Report,
    dry_run: bool,
) -> Vec<AutorevertEvent> {
    let now = Utc::now();
    let failed = |steps: &[usize]| {
        steps.iter().any(|&i| {
            report
                .results
                .get(i)
                .is_some_and(|(_, o)| matches!(o, Outcome::Failed { .. }))
        })
    };
    let mut rows: Vec<AutorevertEvent> = decided
        .decisions
        .iter()
        .map(|d: &Decision| AutorevertEvent {
            ts: now,
            repository_full_name: snapshot.repo.clone(),
            action: d.action,
            commit_sha: d.sha.clone(),
            workflows: d.workflows.clone(),
            signals: d.signals.clone(),
            verdict: d.verdict.as_str().into(),
            reason: d.reason.clone(),
            dry_run,
            failed: failed(&d.steps),
            notes: d.notes.join("\n"),
        })
        .collect();
    for r in &detection.restarts {
        let Some(commit) = snapshot.commits.get(r.commit) else {
            continue;
        };
        let Some(steps) = decided.restart_steps.get(&(r.workflow.clone(), r.commit)) else {
            continue;
        };
        rows.push(AutorevertEvent {
            ts: now,
            repository_full_name: snapshot.repo.clone(),
            action: AutorevertAction::Restart,
            commit_sha: commit.sha.clone(),
            workflows: vec![r.workflow.clone()],
            signals: Vec::new(),
            verdict: "dispatch".into(),
            reason: r.reason.clone(),
            dry_run,
            failed: failed(steps),
            notes: String::new(),
        });
    }
    rows
}

/// Everything the run tells: stdout (text or JSON), summary, outputs.
fn publish(
    cx: &Ctx,
    snapshot: &Snapshot,
    signals: &signal::Signals,
    detection: &Detection,
    decided: &Decided,
    report: &Report,
    facts: &Facts,
) -> Result<()> {
    if cx.json() {
        cx.env.print_json(&decided.report)?;
    } else {
        cx.env
            .echo_untrusted(&text(snapshot, signals, decided, report));
    }
    cx.env.append_summary(&summary(
        snapshot, signals, detection, decided, report, facts,
    ))?;
    for (k, v) in &decided.plan.outputs {
        cx.env.set_output(&format!("autorevert-{k}"), v)?;
    }
    cx.env
        .set_output("autorevert", &serde_json::to_string(&decided.report)?)?;
    Ok(())
}

fn text(
    snapshot: &Snapshot,
    signals: &signal::Signals,
    decided: &Decided,
    report: &Report,
) -> String {
    let mut out = format!(
        "autorevert: {} commits, {} signals, as of {}\n",
        snapshot.commits.len(),
        signals.columns.len(),
        snapshot.now.to_rfc3339()
    );
    if decided.report.patterns.is_empty() {
        out.push_str("no pattern: trunk has no commit that broke a signal\n");
    }
    for p in &decided.report.patterns {
        let _ = writeln!(
            out,
            "- {} [{}] {}",
            short(&p.suspect),
            p.verdict.as_str(),
            p.reason
        );
    }
    for r in &decided.report.restarts {
        let _ = writeln!(out, "- restart {} on {}", r.workflow, short(&r.sha));
    }
    out.push_str(&decided.plan.to_text());
    if !report.results.is_empty() {
        out.push_str(&report.to_text());
    }
    out
}

fn summary(
    snapshot: &Snapshot,
    signals: &signal::Signals,
    detection: &Detection,
    decided: &Decided,
    report: &Report,
    facts: &Facts,
) -> String {
    let mut out = format!(
        "## ci-medic autorevert\n\n{} commits of {} as of {}, {} signals, mode `{:?}`.\n\n",
        snapshot.commits.len(),
        inline(&snapshot.repo),
        snapshot.now.to_rfc3339(),
        signals.columns.len(),
        facts.mode
    );
    for n in &decided.plan.notes {
        let _ = writeln!(out, "> {}\n", inline(n));
    }
    if detection.patterns.is_empty() {
        out.push_str("No commit broke a signal.\n\n");
    } else {
        out.push_str("| suspect | verdict | action | reason |\n|---|---|---|---|\n");
        for (p, d) in decided.report.patterns.iter().zip(&decided.decisions) {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} |",
                short(&p.suspect),
                grid::verdict_badge(p.verdict),
                d.action.as_str(),
                inline(&p.reason)
            );
        }
        out.push('\n');
    }
    for (p, d) in detection.patterns.iter().zip(&decided.decisions) {
        let _ = writeln!(
            out,
            "### `{}` — {}\n\n{}\n",
            short(&d.sha),
            grid::verdict_badge(d.verdict),
            inline(&d.reason)
        );
        out.push_str(&grid::pattern_grid(snapshot, signals, p, &facts.server_url));
        for n in &d.notes {
            let _ = writeln!(out, "\n- {}", inline(n));
        }
        out.push('\n');
    }
    if !detection.restarts.is_empty() {
        out.push_str("### Restarts wanted\n\n");
        out.push_str(&grid::restarts_list(snapshot, detection));
        out.push('\n');
    }
    if !detection.deferred.is_empty() {
        out.push_str("### Restarts put off\n\n");
        for r in &detection.deferred {
            let sha = snapshot
                .commits
                .get(r.commit)
                .map(|c| short(&c.sha))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "- {} on `{sha}`: {}",
                inline(&r.workflow),
                inline(&r.reason)
            );
        }
        out.push('\n');
    }
    if !report.results.is_empty() {
        out.push_str("### Writes\n\n");
        out.push_str(&inline_lines(&report.to_text()));
    }
    out
}

fn inline_lines(text: &str) -> String {
    text.lines()
        .map(|l| format!("- {}\n", inline(l.trim_start_matches("- "))))
        .collect()
}
