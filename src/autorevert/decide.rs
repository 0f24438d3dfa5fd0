//! Verdicts into actions: the plan of writes, and a record of every decision,
//! acted on or not, with its reason. Pure: what GitHub knows about the
//! suspects (their pull requests, whether a revert is possible, the kill
//! switch) arrives as [`Facts`].
//!
//! What each `mode` allows, on top of the one before: `log` nothing;
//! `restart` restarts (tag `trunk/{sha}`, dispatch the workflow on it);
//! `notify` comments on the suspect's pull request (or the tracking issue)
//! for confirmed and unconfirmed patterns; `revert` opens a revert pull
//! request for confirmed ones, falling back to a comment when the revert is
//! not exact.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use serde::Serialize;

use super::detect::{Detection, Finding, Pattern, Verdict, signal_name};
use super::grid;
use super::revert::{self, RevertChanges};
use super::signal::Signals;
use super::{
    LABEL_KILL_SWITCH, LABEL_NO_REVERT, LABEL_REVERT, MARKER_KIND, restart_branch, restart_tag_ref,
    revert_branch, short,
};
use crate::config::AutorevertMode;
use crate::github::marker::marker;
use crate::history::snapshot::{Commit, Snapshot};
use crate::plan::{Plan, StepOptions, Write};
use crate::report::markdown::{code, inline, title as flat_title};
use crate::store::AutorevertAction;

/// GitHub refuses issue comments and pull request bodies longer than this
/// (65,536 characters).
pub const BODY_LIMIT: usize = 65_536;

/// What GitHub says about the world, beyond the snapshot.
#[derive(Debug, Clone)]
pub struct Facts {
    pub mode: AutorevertMode,
    /// False when nothing may be written at all (a file source, a replay).
    pub can_act: bool,
    /// Why nothing may be written, when the kill switch is on.
    pub kill_switch: Option<String>,
    pub default_branch: String,
    pub tracking_issue: Option<u64>,
    /// `https://github.com` or the Enterprise Server's URL, for links.
    pub server_url: String,
    /// By suspect sha.
    pub suspects: BTreeMap<String, SuspectFacts>,
}

impl Facts {
    /// Facts for deciding without GitHub: nothing is written.
    pub fn offline(mode: AutorevertMode) -> Facts {
        Facts {
            mode,
            can_act: false,
            kill_switch: None,
            default_branch: "main".into(),
            tracking_issue: None,
            server_url: "https://github.com".into(),
            suspects: BTreeMap::new(),
        }
    }
}

/// What GitHub says about one suspect.
#[derive(Debug, Clone, Default)]
pub struct SuspectFacts {
    pub pull: Option<PullFacts>,
    /// Looked at only when a revert is planned.
    pub revert: Option<RevertFacts>,
}

/// The pull request that brought the suspect in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullFacts {
    pub number: u64,
    pub labels: Vec<String>,
}

/// Whether and how the suspect can be reverted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevertFacts {
    pub changes: RevertChanges,
    /// Trunk's head now: the base of the revert commit.
    pub head_sha: String,
    /// The revert branch exists (an earlier run pushed it).
    pub branch_exists: bool,
    /// A revert pull request from the branch was closed without merging:
    /// a person said no.
    pub closed_pull: Option<u64>,
}

/// The stable JSON output (`--format json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub patterns: Vec<PatternOut>,
    pub restarts: Vec<RestartOut>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PatternOut {
    pub suspect: String,
    pub older_success: String,
    pub newer_failures: Vec<String>,
    pub workflows: Vec<String>,
    pub signals: Vec<SignalOut>,
    pub already_reverted: bool,
    pub verdict: Verdict,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignalOut {
    pub workflow: String,
    pub job: String,
    pub fingerprint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestartOut {
    pub workflow: String,
    pub sha: String,
}

/// One decision, acted on or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The suspect (or, for an unknown gap, the failing commit above it).
    pub sha: String,
    pub workflows: Vec<String>,
    /// `workflow / job: fingerprint` of each signal.
    pub signals: Vec<String>,
    pub verdict: Verdict,
    pub reason: String,
    pub action: AutorevertAction,
    /// Indexes of the plan's steps that carry the action out.
    pub steps: Vec<usize>,
    pub notes: Vec<String>,
}

/// The plan's steps of each restart carried out (tag, then dispatch), by
/// workflow and commit.
pub type RestartSteps = BTreeMap<(String, usize), Vec<usize>>;

/// Everything [`decide`] produces.
#[derive(Debug, Clone)]
pub struct Decided {
    pub plan: Plan,
    pub report: Report,
    pub decisions: Vec<Decision>,
    /// The steps of every restart in the plan.
    pub restart_steps: RestartSteps,
}

fn rank(mode: AutorevertMode) -> u8 {
    match mode {
        AutorevertMode::Log => 0,
        AutorevertMode::Restart => 1,
        AutorevertMode::Notify => 2,
        AutorevertMode::Revert => 3,
    }
}

/// What the decisions and their writes read.
struct Cx<'a> {
    snapshot: &'a Snapshot,
    signals: &'a Signals,
    facts: &'a Facts,
    restart_steps: &'a RestartSteps,
}

impl Cx<'_> {
    fn sha(&self, i: usize) -> String {
        commit_sha(self.snapshot, i)
    }

    /// `workflow / job: fingerprint` of a finding's signal.
    fn signal_label(&self, f: &Finding) -> String {
        let name = self
            .signals
            .columns
            .get(f.column)
            .map(signal_name)
            .unwrap_or_default();
        let mut label = format!(
            "{name}: {}",
            self.signals.fingerprint(f.fp).unwrap_or("unclassified")
        );
        if let Some(rate) = &f.rate {
            label = format!("{label} ({rate})");
        }
        label
    }

    /// The plan's steps that carry out a finding's restarts.
    fn restart_steps(&self, f: &Finding) -> Vec<usize> {
        let Some(column) = self.signals.columns.get(f.column) else {
            return Vec::new();
        };
        let commits: BTreeSet<usize> = f.restarts.iter().copied().collect();
        commits
            .iter()
            .filter_map(|&c| self.restart_steps.get(&(column.workflow.clone(), c)))
            .flatten()
            .copied()
            .collect()
    }
}

fn commit_sha(snapshot: &Snapshot, i: usize) -> String {
    snapshot
        .commits
        .get(i)
        .map(|c| c.sha.clone())
        .unwrap_or_default()
}

/// Turn a detection into a plan and decisions.
pub fn decide(
    snapshot: &Snapshot,
    signals: &Signals,
    detection: &Detection,
    facts: &Facts,
) -> Decided {
    let mut plan = Plan::new("autorevert");
    let acting = facts.can_act && facts.mode != AutorevertMode::Log && facts.kill_switch.is_none();
    if let Some(why) = &facts.kill_switch {
        plan.note(format!(
            "kill switch: {why}; no restart, comment or revert is made (remove the `{LABEL_KILL_SWITCH}` label to resume)"
        ));
    } else if !facts.can_act {
        plan.note("decisions only: this source never writes to GitHub");
    } else if facts.mode == AutorevertMode::Log {
        plan.note("mode `log`: decisions are recorded, nothing is written");
    }

    // Restarts first: they are what the other decisions wait for.
    let restart_steps = if acting && rank(facts.mode) >= rank(AutorevertMode::Restart) {
        plan_restarts(&mut plan, snapshot, detection)
    } else {
        RestartSteps::new()
    };
    let cx = Cx {
        snapshot,
        signals,
        facts,
        restart_steps: &restart_steps,
    };

    let mut decisions = Vec::new();
    let mut patterns = Vec::new();
    for p in &detection.patterns {
        let suspect = cx.sha(p.suspect);
        let sf = facts.suspects.get(&suspect).cloned().unwrap_or_default();
        let (verdict, reason) = final_verdict(p, &sf);
        let mut d = Decision {
            sha: suspect.clone(),
            workflows: p.workflows.clone(),
            signals: p.findings.iter().map(|f| cx.signal_label(f)).collect(),
            verdict,
            reason: reason.clone(),
            action: AutorevertAction::None,
            steps: Vec::new(),
            notes: Vec::new(),
        };
        if acting {
            act(&mut plan, &mut d, &cx, p, &sf);
        }
        patterns.push(PatternOut {
            suspect,
            older_success: cx.sha(p.older_success),
            newer_failures: p.newer_failures.iter().map(|&c| cx.sha(c)).collect(),
            workflows: p.workflows.clone(),
            signals: p
                .findings
                .iter()
                .filter_map(|f| {
                    let c = signals.columns.get(f.column)?;
                    Some(SignalOut {
                        workflow: c.workflow.clone(),
                        job: c.job.clone(),
                        fingerprint: signals.fingerprint(f.fp).map(str::to_string),
                    })
                })
                .collect(),
            already_reverted: p.reverted_by.is_some(),
            verdict,
            reason,
        });
        decisions.push(d);
    }
    for f in &detection.unknown {
        let Some(column) = signals.columns.get(f.column) else {
            continue;
        };
        let steps = cx.restart_steps(f);
        decisions.push(Decision {
            sha: cx.sha(f.suspect),
            workflows: vec![column.workflow.clone()],
            signals: vec![cx.signal_label(f)],
            verdict: f.verdict,
            reason: f.reason.clone(),
            action: if steps.is_empty() {
                AutorevertAction::None
            } else {
                AutorevertAction::Restart
            },
            steps,
            notes: Vec::new(),
        });
    }
    plan.outputs
        .insert("patterns".into(), detection.patterns.len().to_string());
    plan.outputs
        .insert("restarts".into(), detection.restarts.len().to_string());
    let reverts = decisions
        .iter()
        .filter(|d| d.action == AutorevertAction::Revert)
        .count();
    plan.outputs.insert("reverts".into(), reverts.to_string());
    let report = Report {
        patterns,
        restarts: detection
            .restarts
            .iter()
            .map(|r| RestartOut {
                workflow: r.workflow.clone(),
                sha: cx.sha(r.commit),
            })
            .collect(),
    };
    Decided {
        plan,
        report,
        decisions,
        restart_steps,
    }
}

/// Tag each restarted commit once and dispatch each restart on its tag.
fn plan_restarts(plan: &mut Plan, snapshot: &Snapshot, detection: &Detection) -> RestartSteps {
    let mut restart_steps = RestartSteps::new();
    // The tag step of each commit: its dispatches run only once it landed.
    let mut tagged: HashMap<String, String> = HashMap::new();
    for r in &detection.restarts {
        let target = commit_sha(snapshot, r.commit);
        let mut steps = Vec::new();
        if !tagged.contains_key(&target) {
            steps.push(plan.steps.len());
            let tag = plan.push(
                Write::CreateRef {
                    git_ref: restart_tag_ref(&target),
                    sha: target.clone(),
                },
                format!("restarts of {} run on this tag", short(&target)),
            );
            tagged.insert(target.clone(), tag);
        }
        let workflow = match snapshot.workflow_file(&r.workflow) {
            Some(file) => file.to_string(),
            None => {
                plan.note(format!(
                    "the file of workflow {} is not known; dispatching it by name",
                    r.workflow
                ));
                r.workflow.clone()
            }
        };
        steps.push(plan.steps.len());
        plan.push_with(
            Write::DispatchWorkflow {
                workflow,
                git_ref: restart_branch(&target),
                inputs: serde_json::Map::new(),
            },
            r.reason.clone(),
            after(tagged.get(&target)),
        );
        // Several runs of one pair at once share its entry.
        restart_steps
            .entry((r.workflow.clone(), r.commit))
            .or_default()
            .extend(steps);
    }
    restart_steps
}

/// A step that runs only once step `id` (when there is one) landed.
fn after(id: Option<&String>) -> StepOptions {
    StepOptions {
        depends_on: id.into_iter().cloned().collect(),
        ..StepOptions::default()
    }
}

/// The verdict once what GitHub knows is taken into account.
fn final_verdict(p: &Pattern, sf: &SuspectFacts) -> (Verdict, String) {
    if p.verdict != Verdict::Revert {
        return (p.verdict, p.reason.clone());
    }
    if let Some(pull) = &sf.pull
        && pull.labels.iter().any(|l| l == LABEL_NO_REVERT)
    {
        return (
            Verdict::Notify,
            format!(
                "pull request #{} is labelled `{LABEL_NO_REVERT}`, so it is never reverted; {}",
                pull.number, p.reason
            ),
        );
    }
    if let Some(rf) = &sf.revert {
        if let Some(n) = rf.closed_pull {
            return (
                Verdict::Notify,
                format!(
                    "the revert pull request #{n} was closed without merging; {}",
                    p.reason
                ),
            );
        }
        if let RevertChanges::Fallback(why) = &rf.changes {
            return (
                Verdict::Notify,
                format!("no exact revert: {why}; {}", p.reason),
            );
        }
    }
    (p.verdict, p.reason.clone())
}

/// The writes for one pattern.
fn act(plan: &mut Plan, d: &mut Decision, cx: &Cx, p: &Pattern, sf: &SuspectFacts) {
    let mode = rank(cx.facts.mode);
    let Some(commit) = cx.snapshot.commits.get(p.suspect) else {
        return;
    };
    let target = sf
        .pull
        .as_ref()
        .map(|p| p.number)
        .or(cx.facts.tracking_issue);
    match d.verdict {
        Verdict::Restart => {
            d.steps = p
                .findings
                .iter()
                .filter(|f| f.verdict == Verdict::Restart)
                .flat_map(|f| cx.restart_steps(f))
                .collect();
            d.steps.sort_unstable();
            d.steps.dedup();
            if !d.steps.is_empty() {
                d.action = AutorevertAction::Restart;
            }
        }
        Verdict::Revert if mode >= rank(AutorevertMode::Revert) => {
            let ready = sf.revert.as_ref().and_then(|rf| match &rf.changes {
                RevertChanges::Changes(changes) => Some((rf, changes)),
                RevertChanges::Fallback(_) => None,
            });
            let Some((rf, changes)) = ready else {
                d.notes
                    .push("the revert could not be prepared; notifying instead".into());
                notify(plan, d, cx, p, commit, target);
                return;
            };
            let branch = revert_branch(&commit.sha);
            let mut pushed = None;
            if rf.branch_exists {
                d.notes.push(format!(
                    "branch {branch} exists from an earlier run; its pull request is updated"
                ));
            } else {
                d.steps.push(plan.steps.len());
                pushed = Some(plan.push(
                    Write::CommitFiles {
                        branch: branch.clone(),
                        base_sha: rf.head_sha.clone(),
                        message: revert::message(commit, &d.reason),
                        changes: changes.clone(),
                        force: true,
                    },
                    format!("revert {}: {}", short(&commit.sha), d.reason),
                ));
            }
            d.steps.push(plan.steps.len());
            let opened = plan.push_with(
                Write::OpenPullRequest {
                    head: branch.clone(),
                    base: cx.facts.default_branch.clone(),
                    title: flat_title(&format!("Revert \"{}\"", commit.title()), 256),
                    body: revert_body(cx, p, d, commit, sf),
                    labels: vec![LABEL_REVERT.into()],
                    marker_kind: MARKER_KIND.into(),
                    marker_key: commit.sha.clone(),
                },
                format!("revert {}: {}", short(&commit.sha), d.reason),
                after(pushed.as_ref()),
            );
            d.action = AutorevertAction::Revert;
            if let Some(number) = target {
                d.steps.push(plan.steps.len());
                plan.push_with(
                    Write::Comment {
                        number,
                        body: comment_body(cx, p, d, commit, Some(&branch)),
                        marker: Some((MARKER_KIND.into(), commit.sha.clone())),
                    },
                    format!(
                        "tell #{number} that {} is being reverted",
                        short(&commit.sha)
                    ),
                    after(Some(&opened)),
                );
            }
        }
        Verdict::Revert | Verdict::Notify if mode >= rank(AutorevertMode::Notify) => {
            notify(plan, d, cx, p, commit, target);
        }
        _ => {}
    }
}

fn notify(
    plan: &mut Plan,
    d: &mut Decision,
    cx: &Cx,
    p: &Pattern,
    commit: &Commit,
    target: Option<u64>,
) {
    let Some(number) = target else {
        d.notes.push(format!(
            "no pull request found for {} and no `tracking-issue` configured: nobody to notify",
            short(&commit.sha)
        ));
        return;
    };
    d.steps.push(plan.steps.len());
    plan.push(
        Write::Comment {
            number,
            body: comment_body(cx, p, d, commit, None),
            marker: Some((MARKER_KIND.into(), commit.sha.clone())),
        },
        format!(
            "notify #{number} about {}: {}",
            short(&commit.sha),
            d.reason
        ),
    );
    d.action = AutorevertAction::Notify;
}

/// The evidence shared by comments and pull requests: the verdict, the grid
/// and links to jobs, bounded to what GitHub accepts.
fn evidence(cx: &Cx, p: &Pattern, d: &Decision, budget: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "**Verdict:** {} — {}\n",
        grid::verdict_badge(d.verdict),
        inline(&d.reason)
    );
    let _ = writeln!(
        out,
        "**Workflows:** {}\n",
        p.workflows
            .iter()
            .map(|w| inline(w))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let server_url = &cx.facts.server_url;
    let table = grid::pattern_grid(cx.snapshot, cx.signals, p, server_url);
    let links = grid::evidence_links(cx.snapshot, cx.signals, p, server_url);
    if out.len() + table.len() + links.len() < budget {
        out.push_str(&table);
        out.push('\n');
        out.push_str(&links);
    } else if out.len() + links.len() < budget {
        out.push_str(
            "_(the grid is too large for a comment; see the autorevert run's summary)_\n\n",
        );
        out.push_str(&links);
    }
    out
}

/// `head`, then as much of the evidence as GitHub accepts, then the footer.
fn with_evidence(mut head: String, cx: &Cx, p: &Pattern, d: &Decision) -> String {
    let foot = format!(
        "\n---\n<sub>ci-medic autorevert. To keep this pull request from ever being reverted, label it `{LABEL_NO_REVERT}`; to stop every autorevert action, open an issue labelled `{LABEL_KILL_SWITCH}`.</sub>\n"
    );
    let budget = BODY_LIMIT.saturating_sub(head.len() + foot.len() + 64);
    head.push_str(&evidence(cx, p, d, budget));
    head.push_str(&foot);
    head
}

fn commit_line(cx: &Cx, commit: &Commit) -> String {
    format!(
        "[{}]({}) {}",
        code(short(&commit.sha)),
        grid::commit_url(&cx.snapshot.repo, &cx.facts.server_url, &commit.sha),
        inline(&grid::cut(commit.title(), 120))
    )
}

/// The comment on the suspect's pull request (or the tracking issue).
fn comment_body(
    cx: &Cx,
    p: &Pattern,
    d: &Decision,
    commit: &Commit,
    revert_branch: Option<&str>,
) -> String {
    // The evidence speaks in the headline; the reason says what is done.
    let headline = match (revert_branch, p.verdict) {
        (Some(_), _) => "ci-medic is reverting this commit: it broke trunk",
        (None, Verdict::Revert) => "ci-medic: this commit broke trunk (a restart confirmed it)",
        _ => "ci-medic: this commit may have broken trunk",
    };
    let mut head = format!(
        "{}\n### {headline}\n\n{}\n\n",
        marker(MARKER_KIND, &commit.sha),
        commit_line(cx, commit)
    );
    if let Some(branch) = revert_branch {
        let _ = writeln!(
            head,
            "A pull request reverting it is open from branch {} (labelled `{LABEL_REVERT}`).\n",
            code(branch)
        );
    }
    with_evidence(head, cx, p, d)
}

/// The body of the revert pull request.
fn revert_body(cx: &Cx, p: &Pattern, d: &Decision, commit: &Commit, sf: &SuspectFacts) -> String {
    let mut head = format!(
        "{}\nThis reverts commit {}, which broke trunk.\n\n{}\n\n",
        marker(MARKER_KIND, &commit.sha),
        commit.sha,
        commit_line(cx, commit)
    );
    if let Some(pull) = &sf.pull {
        let _ = writeln!(head, "It came in with #{}.\n", pull.number);
    }
    if let Some(RevertFacts {
        changes: RevertChanges::Changes(changes),
        ..
    }) = &sf.revert
    {
        head.push_str("Files restored to their state before the commit:\n");
        for c in changes.iter().take(50) {
            let what = if c.content.is_some() {
                "restored"
            } else {
                "deleted"
            };
            let _ = writeln!(head, "- {} ({what})", code(&c.path));
        }
        head.push('\n');
    }
    with_evidence(head, cx, p, d)
}
