//! `autorevert`: find the commit that broke trunk, confirm it, revert or notify.
//!
//! In three parts, as every handler: [`gather`] reads (the trunk snapshot
//! from the source, what detection makes of it, and what GitHub knows about
//! the suspects), [`decide()`] turns that into one plan (restarts, the revert
//! pull request or the notification, and the audit rows for ClickHouse's
//! `autorevert_events`), and the executor carries the plan out (or prints
//! it, under `--dry-run`) before [`report_run`] tells what happened: stdout
//! (text or the stable JSON), the step summary and the step outputs.
//!
//! `command` is the CLI (`ci-medic autorevert [--source github|clickhouse|
//! file:SNAPSHOT.json] [--as-of TIME] [--dump FILE]`); the handler in
//! `handlers::autorevert` is what `run` calls on `schedule`,
//! `workflow_dispatch` and a completed trunk run. A replay (`--as-of`) and
//! the file source decide without writing anything.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::Result;
use chrono::{DateTime, Utc};

use crate::app::Ctx;
use crate::autorevert::decide::{self, Decided, Facts, PullFacts, RevertFacts, SuspectFacts};
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
use crate::plan::{self, Outcome, Report, StepOptions, Write};
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
        let gathered = gather_offline(&ctx.config, snapshot);
        let decided = decide(&gathered);
        let report = Report {
            job: decided.plan.job.clone(),
            dry_run: true,
            results: Vec::new(),
        };
        return report_run(&ctx, &gathered, &decided, &report);
    }
    let client = cx.client()?;
    let config = cx.load_config(Some(&client)).await?;
    let source = HistorySource::parse(args.source.as_deref(), config.autorevert.source)?;
    let ctx = cx.ctx(Some(client), config);
    let gathered = gather(&ctx, &source, as_of).await?;
    if let Some(path) = &args.dump {
        gathered.snapshot.save(path)?;
    }
    let decided = decide(&gathered);
    // A replay never acts on the present (its plan holds no write anyway).
    let dry_run = ctx.dry_run() || as_of.is_some();
    let sinks = ctx.sinks(&decided.plan).await;
    let report = plan::execute(&decided.plan, &sinks, dry_run).await;
    report_run(&ctx, &gathered, &decided, &report)
}

/// What `run` reads on `schedule`, `workflow_dispatch` and a completed
/// trunk run: the source the `autorevert-source` input or the config names.
pub async fn gather_scheduled(cx: &Ctx) -> Result<Gathered> {
    let source = HistorySource::parse(
        cx.env.input("autorevert-source").as_deref(),
        cx.config.autorevert.source,
    )?;
    if let HistorySource::File(_) = source {
        anyhow::bail!(
            "the file source is for the command line; the action reads github or clickhouse"
        );
    }
    gather(cx, &source, None).await
}

/// Everything autorevert decides from.
pub struct Gathered {
    /// The trunk as the decision sees it (window applied, marked jobs out).
    pub snapshot: Snapshot,
    pub signals: signal::Signals,
    pub detection: Detection,
    /// What GitHub knows about the suspects.
    pub facts: Facts,
    /// How to record the decisions in `autorevert_events`; `None` when they
    /// are not recorded (no ClickHouse configured, a replay, a file).
    pub audit: Option<Audit>,
}

/// How the audit rows are stamped.
#[derive(Debug, Clone, Copy)]
pub struct Audit {
    /// When the decisions were made (the clock read while gathering).
    pub at: DateTime<Utc>,
    /// The run is a dry run: the rows a plan shows say so.
    pub dry_run: bool,
}

/// Decide from a snapshot file: nothing is ever written.
fn gather_offline(config: &Config, snapshot: Snapshot) -> Gathered {
    let (signals, detection) =
        autorevert::analyze(&snapshot, &Params::from_config(&config.autorevert));
    Gathered {
        snapshot,
        signals,
        detection,
        facts: Facts::offline(config.autorevert.mode),
        audit: None,
    }
}

/// Read the trunk from `source`, detect, and read what GitHub knows about
/// the suspects (only what the mode could act on). Writes nothing.
pub async fn gather(
    cx: &Ctx,
    source: &HistorySource,
    as_of: Option<DateTime<Utc>>,
) -> Result<Gathered> {
    let client = cx.github()?;
    let config = &cx.config;
    let ar = &config.autorevert;
    let clock = Utc::now();
    let now = as_of.unwrap_or(clock);
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
    let (signals, detection) = autorevert::analyze(&snapshot, &Params::from_config(ar));

    // A replay never acts on the present, nor records anything.
    let replay = as_of.is_some();
    let facts = gather_facts(cx, client, config, &snapshot, &detection, &branch, !replay).await;
    let audit = (!replay && cx.store_config().is_ok()).then_some(Audit {
        at: clock,
        dry_run: cx.dry_run(),
    });
    Ok(Gathered {
        snapshot,
        signals,
        detection,
        facts,
        audit,
    })
}

/// The plan: the decision core's writes, then the audit rows. Pure.
pub fn decide(g: &Gathered) -> Decided {
    let mut decided = decide::decide(&g.snapshot, &g.signals, &g.detection, &g.facts);
    if let Some(audit) = g.audit {
        record(&mut decided, g, audit);
    }
    decided
}

/// Tell what happened: a warning when the decisions were not recorded, then
/// stdout, the step summary and the outputs. Fails when a write failed.
pub fn report_run(cx: &Ctx, g: &Gathered, decided: &Decided, report: &Report) -> Result<ExitCode> {
    for (step, outcome) in &report.results {
        if let (Write::InsertRecords { .. }, Outcome::Failed { error }) = (&step.write, outcome) {
            let msg = format!("autorevert decisions not recorded in ClickHouse: {error}");
            tracing::warn!("{msg}");
            cx.env.annotate_warning(&msg);
        }
    }
    publish(
        cx,
        &g.snapshot,
        &g.signals,
        &g.detection,
        decided,
        report,
        &g.facts,
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

/// The audit rows, as the plan's last step: one per decision, and one per
/// restart dispatched (which the ClickHouse source counts against
/// `max-restarts`). Each row names the steps that carry its action out, and
/// is marked failed when one of them did not land.
///
/// Every record of autorevert's actions is planned here: a row for another
/// table is one more store step pushed beside this one.
fn record(decided: &mut Decided, g: &Gathered, audit: Audit) {
    let ids = |steps: &[usize]| -> Vec<String> {
        steps
            .iter()
            .filter_map(|&i| decided.plan.steps.get(i).map(|s| s.id.clone()))
            .collect()
    };
    let mut rows = Vec::new();
    let mut outcome_of = Vec::new();
    for d in &decided.decisions {
        rows.push(AutorevertEvent {
            ts: audit.at,
            repository_full_name: g.snapshot.repo.clone(),
            action: d.action,
            commit_sha: d.sha.clone(),
            workflows: d.workflows.clone(),
            signals: d.signals.clone(),
            verdict: d.verdict.as_str().into(),
            reason: d.reason.clone(),
            dry_run: audit.dry_run,
            failed: false,
            notes: d.notes.join("\n"),
        });
        outcome_of.push(ids(&d.steps));
    }
    for r in &g.detection.restarts {
        let Some(commit) = g.snapshot.commits.get(r.commit) else {
            continue;
        };
        let Some(steps) = decided.restart_steps.get(&(r.workflow.clone(), r.commit)) else {
            continue;
        };
        rows.push(AutorevertEvent {
            ts: audit.at,
            repository_full_name: g.snapshot.repo.clone(),
            action: AutorevertAction::Restart,
            commit_sha: commit.sha.clone(),
            workflows: vec![r.workflow.clone()],
            signals: Vec::new(),
            verdict: "dispatch".into(),
            reason: r.reason.clone(),
            dry_run: audit.dry_run,
            failed: false,
            notes: String::new(),
        });
        outcome_of.push(ids(steps));
    }
    if rows.is_empty() {
        return;
    }
    decided.plan.push_with(
        Write::InsertRecords {
            rows: TableRows::AutorevertEvents(rows),
            outcome_of,
        },
        "the audit log of autorevert's decisions",
        StepOptions {
            id: Some("audit".into()),
            best_effort: true,
            ..StepOptions::default()
        },
    );
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::autorevert::decide::{PullFacts, RevertFacts, SuspectFacts};
    use crate::plan::{Step, When};

    fn fixture(name: &str, mode: AutorevertMode, audit: Option<Audit>) -> Gathered {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/autorevert")
            .join(format!("{name}.json"));
        let snapshot = Snapshot::load(&path).expect("fixture");
        let mut g = gather_offline(&Config::default(), snapshot);
        g.facts.mode = mode;
        g.facts.can_act = true;
        g.audit = audit;
        g
    }

    fn audit() -> Option<Audit> {
        Some(Audit {
            at: DateTime::from_timestamp_millis(1_700_000_000_000).expect("test value"),
            dry_run: false,
        })
    }

    fn kinds(steps: &[Step]) -> Vec<&str> {
        steps.iter().map(|s| s.write.kind()).collect()
    }

    /// The restarts, the dispatches waiting for their tags, and the audit
    /// rows naming the steps they record: all in one plan, the audit last.
    #[test]
    fn restarts_and_their_audit_rows_are_one_plan() {
        let g = fixture("base-pattern", AutorevertMode::Restart, audit());
        let plan = decide(&g).plan;
        // Two restarts of the suspect: one tag, two dispatches waiting for it.
        assert_eq!(
            kinds(&plan.steps),
            [
                "create-ref",
                "dispatch-workflow",
                "dispatch-workflow",
                "insert-records"
            ]
        );
        let tag = plan.steps[0].id.clone();
        assert_eq!(plan.steps[1].depends_on, vec![tag.clone()]);
        assert_eq!(plan.steps[2].depends_on, vec![tag]);
        let audit = plan.steps.last().expect("audit");
        assert!(audit.best_effort && audit.depends_on.is_empty() && audit.when == When::AllDone);
        let Write::InsertRecords {
            rows: TableRows::AutorevertEvents(rows),
            outcome_of,
        } = &audit.write
        else {
            panic!("{:?}", audit.write);
        };
        assert_eq!(rows.len(), outcome_of.len());
        let dispatches: Vec<_> = rows
            .iter()
            .zip(outcome_of)
            .filter(|(r, _)| r.verdict == "dispatch")
            .collect();
        assert_eq!(dispatches.len(), 2);
        for (row, ids) in dispatches {
            assert_eq!(row.action, AutorevertAction::Restart);
            assert!(!row.failed && !row.dry_run);
            // Its dispatch, and the tag when this restart made it.
            assert!(
                ids.iter().any(|id| id.starts_with("dispatch-workflow")),
                "{ids:?}"
            );
        }
        let decision = &outcome_of[0];
        assert_eq!(rows[0].verdict, "restart");
        assert_eq!(
            decision,
            &plan.steps[..3]
                .iter()
                .map(|s| s.id.clone())
                .collect::<Vec<_>>()
        );

        // Not recorded (no ClickHouse, a replay): the same writes, no rows.
        let unrecorded = decide(&fixture("base-pattern", AutorevertMode::Restart, None)).plan;
        assert_eq!(unrecorded.steps[..], plan.steps[..3]);
    }

    /// The revert chain: the pull request waits for its branch, and the
    /// comment saying it is being reverted waits for the pull request.
    #[test]
    fn the_revert_comment_waits_for_the_revert_pull_request() {
        let mut g = fixture("confirmed", AutorevertMode::Revert, audit());
        let suspect = g.snapshot.commits[g.detection.patterns[0].suspect]
            .sha
            .clone();
        g.facts.suspects.insert(
            suspect,
            SuspectFacts {
                pull: Some(PullFacts {
                    number: 12,
                    labels: Vec::new(),
                }),
                revert: Some(RevertFacts {
                    changes: RevertChanges::Changes(vec![crate::plan::FileChange {
                        path: "src/lib.rs".into(),
                        content: Some("pub fn answer() -> u32 {\n    42\n}\n".into()),
                    }]),
                    head_sha: "f".repeat(40),
                    branch_exists: false,
                    closed_pull: None,
                }),
            },
        );
        let plan = decide(&g).plan;
        assert_eq!(
            kinds(&plan.steps),
            [
                "commit-files",
                "open-pull-request",
                "comment",
                "insert-records"
            ]
        );
        assert_eq!(plan.steps[1].depends_on, [plan.steps[0].id.clone()]);
        assert_eq!(plan.steps[2].depends_on, [plan.steps[1].id.clone()]);
        let Write::InsertRecords { rows, outcome_of } = &plan.steps[3].write else {
            panic!("{:?}", plan.steps[3].write);
        };
        assert_eq!(rows.len(), 1);
        assert_eq!(outcome_of[0].len(), 3);
    }
}
