//! `heal`: turn a workflow-failure issue into a pull request that fixes the workflow.
//!
//! Facts are gathered in order, each step deciding whether the next is worth
//! a request: the issue and its labels, who vouched for it (author, label
//! events, permission), the analysis block, the workflow file at the failing
//! commit and on the default branch. The fix itself is planned by the pure
//! [`crate::heal::propose`]; this module turns it into writes (one commit on a
//! branch from the default branch, a pull request, a comment on the issue,
//! an optional verification dispatch) and hands them to the executor.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use regex::Regex;

use crate::app::Ctx;
use crate::cli::{Context, EXIT_UNFIXABLE, Format, HealArgs};
use crate::config::{self, Config};
use crate::github::api::encode_segment;
use crate::github::marker::{find_key, has_marker};
use crate::github::types::{IssueInfo, UserInfo};
use crate::github::{Client, Identity};
use crate::handlers::{Delivery, Request};
use crate::heal::pr::{self, Verify};
use crate::heal::trust::{self, IssueFacts, RunFacts, Trust, TrustedRun};
use crate::heal::{self, Facts, Fix, Input, Unfixable, diff, locate, python};
use crate::permissions::{Access, Permissions};
use crate::plan::{self, FileChange, Plan, StepOptions, TextFrom, Write};
use crate::report::issue::{self, IssueAnalysis};
use crate::report::markdown;

/// Requirements files fetched per fix, at most.
const MAX_EXTRA_FILES: usize = 10;
/// Dependency files read per fix, at most (all of [`python::DEPENDENCY_FILES`]).
const MAX_DEPENDENCY_FILES: usize = 20;
/// Largest file read offline as a requirements file.
const MAX_LOCAL_FILE: u64 = 1024 * 1024;

/// Label colours (6 hex digits).
const LABEL_AUTO_HEAL: (&str, &str) =
    ("0e8a16", "ci-medic may open a pull request that fixes this");
const LABEL_MANUAL: (&str, &str) = ("fbca04", "ci-medic could not fix this automatically");

pub async fn command(cx: &Context, args: &HealArgs) -> Result<ExitCode> {
    if let (Some(workflow), Some(analysis)) = (&args.workflow, &args.analysis) {
        return offline(cx, args, workflow, analysis).await;
    }
    let issue = args.issue.context(
        "give --issue N (with --repo) to heal an issue, or --workflow FILE --analysis FILE to work offline",
    )?;
    let client = cx.client()?;
    let config = cx.load_config(Some(&client)).await?;
    let ctx = cx.ctx(Some(client), config);
    crate::app::offer(&ctx, &Delivery::Request(Request::Heal(issue))).await
}

// --- offline ---------------------------------------------------------------

/// The repository path of a local workflow file, and the repository root
/// (the directory above `.github/workflows`, else the working directory).
fn local_layout(workflow: &Path) -> (String, PathBuf) {
    let shown = workflow.display().to_string().replace('\\', "/");
    if let Some(i) = shown.find(".github/workflows/") {
        let root = PathBuf::from(&shown[..i]);
        let root = if root.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            root
        };
        return (shown[i..].to_string(), root);
    }
    // Diff headers want a relative path; an absolute one is shown by its name.
    let relative = match workflow.is_absolute() {
        true => workflow
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or(shown),
        false => shown.trim_start_matches("./").to_string(),
    };
    (relative, PathBuf::from("."))
}

fn read_local_files(root: &Path, paths: &[String], max: usize) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for p in paths.iter().take(max) {
        let file = root.join(p);
        let small =
            std::fs::metadata(&file).is_ok_and(|m| m.is_file() && m.len() <= MAX_LOCAL_FILE);
        if small && let Ok(text) = std::fs::read_to_string(&file) {
            out.insert(p.clone(), text);
        }
    }
    out
}

async fn offline(
    cx: &Context,
    args: &HealArgs,
    workflow: &Path,
    analysis: &Path,
) -> Result<ExitCode> {
    let text = std::fs::read_to_string(workflow)
        .with_context(|| format!("cannot read workflow {}", workflow.display()))?;
    let analysis_text = std::fs::read_to_string(analysis)
        .with_context(|| format!("cannot read analysis {}", analysis.display()))?;
    let facts =
        Facts::read(&analysis_text).map_err(|e| anyhow::anyhow!("{}: {e}", analysis.display()))?;
    let config = match &cx.cli.config {
        Some(_) => cx.load_config(None).await?,
        None => Config::default(),
    };
    let (repo_path, root) = local_layout(workflow);
    let mut files = read_local_files(&root, &python::requirement_files(&text), MAX_EXTRA_FILES);
    if python::wants_dependency_files(&facts) {
        let deps: Vec<String> = python::DEPENDENCY_FILES
            .iter()
            .map(|p| (*p).to_string())
            .collect();
        files.extend(read_local_files(&root, &deps, MAX_DEPENDENCY_FILES));
    }
    let input = Input {
        facts: &facts,
        workflow_path: &repo_path,
        workflow: &text,
        failing: None,
        job: args.job.as_deref(),
        config: &config.heal,
        files: &files,
    };
    match heal::propose(&input) {
        Ok(fix) => {
            if cx.cli.format == Format::Json {
                cx.env.print_json(&fix_json(&fix, &repo_path, &text))?;
            } else if cx.env.in_actions() {
                // The diff quotes the workflow, whose lines the runner would
                // read as workflow commands.
                cx.env
                    .echo_untrusted(diff::of_files(&fix.files).trim_end_matches('\n'));
            } else {
                // The offline contract: the diff, byte for byte.
                cx.env.out_raw(&diff::of_files(&fix.files));
            }
            if args.write {
                for f in &fix.files {
                    let target = if f.path == repo_path {
                        workflow.to_path_buf()
                    } else {
                        root.join(&f.path)
                    };
                    write_atomically(&target, &f.after)?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(why) => {
            if cx.cli.format == Format::Json {
                cx.env.print_json(&serde_json::json!({
                    "fixable": false,
                    "category": facts.category,
                    "reason": why.to_string(),
                    "changes": [],
                    "workflow": text,
                }))?;
            }
            // The reason quotes job names and the workflow.
            let why = why.to_string();
            let why = match cx.env.in_actions() {
                true => crate::action::inert(&why),
                false => why,
            };
            crate::errln!(cx.env, "ci-medic: no automatic fix: {why}");
            Ok(ExitCode::from(EXIT_UNFIXABLE))
        }
    }
}

fn fix_json(fix: &Fix, workflow_path: &str, original: &str) -> serde_json::Value {
    serde_json::json!({
        "fixable": true,
        "category": fix.category,
        "title": fix.title,
        "changes": fix.changes,
        "workflow": fix.new_text(workflow_path).unwrap_or(original),
        "files": fix.files.iter().map(|f| serde_json::json!({"path": f.path, "content": f.after})).collect::<Vec<_>>(),
        "notes": fix.notes,
    })
}

/// Write through a temporary file in the same directory, so a failure never
/// leaves a half-written workflow.
fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    std::io::Write::write_all(&mut tmp, text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| anyhow::anyhow!("cannot replace {}: {}", path.display(), e.error))?;
    Ok(())
}

// --- online ----------------------------------------------------------------

/// Values from the analysis block that reach API paths and branch names.
fn check_block(a: &IssueAnalysis, repo: &str) -> Result<(), Unfixable> {
    let path_ok = Regex::new(r"^\.github/workflows/[A-Za-z0-9._-]+\.ya?ml$")
        .is_ok_and(|re| a.workflow_path.as_deref().is_some_and(|p| re.is_match(p)));
    if !path_ok {
        return Err(Unfixable::Unsafe(format!(
            "the workflow path {} is not a file under .github/workflows",
            pr::code(a.workflow_path.as_deref().unwrap_or("(none)"))
        )));
    }
    let hex = |s: &str, lens: std::ops::RangeInclusive<usize>| {
        lens.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
    };
    if !hex(&a.head_sha, 40..=64) {
        return Err(Unfixable::Unsafe(
            "the failing commit is not a commit id".into(),
        ));
    }
    if !hex(&a.fingerprint, 8..=64) {
        return Err(Unfixable::Unsafe(
            "the fingerprint is not hexadecimal".into(),
        ));
    }
    if !a.repo.eq_ignore_ascii_case(repo) {
        return Err(Unfixable::Unsafe(format!(
            "the analysis is about another repository ({})",
            pr::code(&a.repo)
        )));
    }
    Ok(())
}

/// The fix branch: `<prefix>-<issue>-<first 8 of the fingerprint>`.
pub fn branch_name(prefix: &str, issue: u64, fingerprint: &str) -> Result<String> {
    let ok = !prefix.is_empty()
        && heal::path_chars(prefix)
        && !prefix.contains("..")
        && !prefix.contains("//")
        && !prefix.starts_with(['/', '.', '-'])
        && !prefix.ends_with(['/', '.']);
    anyhow::ensure!(
        ok,
        "`heal.branch-prefix` {prefix:?} is not a valid branch name prefix"
    );
    let short: String = fingerprint.chars().take(8).collect();
    Ok(format!("{prefix}-{issue}-{short}"))
}

/// Whether `branch` is one heal pushes fixes to.
pub fn is_heal_branch(config: &Config, branch: &str) -> bool {
    branch.starts_with(&format!("{}-", config.heal.branch_prefix))
}

fn ensure_label(plan: &mut Plan, name: &str, (color, description): (&str, &str)) {
    plan.push(
        Write::EnsureLabel {
            name: name.into(),
            color: color.into(),
            description: description.into(),
        },
        "labels must exist before they are applied",
    );
}

/// No automatic fix: say why on the issue and label it. Pure.
pub fn manual_plan(number: u64, facts: &Facts, reason: &Unfixable) -> Plan {
    let mut plan = Plan::new("heal");
    plan.push(
        Write::Comment {
            number,
            body: pr::manual_comment(number, facts, &reason.to_string()),
            marker: Some((pr::KIND_MANUAL.into(), number.to_string())),
        },
        format!("no automatic fix: {reason}"),
    );
    ensure_label(&mut plan, config::LABEL_NEEDS_MANUAL_FIX, LABEL_MANUAL);
    plan.push(
        Write::AddLabels {
            number,
            labels: vec![config::LABEL_NEEDS_MANUAL_FIX.into()],
        },
        "a person has to fix this",
    );
    plan.outputs.insert("fixable".into(), "false".into());
    plan
}

/// Not trusted: one explanatory comment, nothing else. Pure.
pub fn refused_plan(number: u64, reason: &str) -> Plan {
    let mut plan = Plan::new("heal");
    plan.push(
        Write::Comment {
            number,
            body: pr::refused_comment(number, reason),
            marker: Some((pr::KIND_REFUSED.into(), number.to_string())),
        },
        format!("not acted on: {reason}"),
    );
    plan
}

/// Where the fix goes and what is already there.
pub struct Target {
    pub default_branch: String,
    pub base_sha: String,
    pub branch: String,
    /// The branch already holds exactly these file contents.
    pub up_to_date: bool,
    pub verify: Verify,
}

/// The branch, commit and pull request for a fix. Pure.
pub fn fix_plan(number: u64, fix: &Fix, facts: &Facts, workflow_path: &str, t: &Target) -> Plan {
    let mut plan = Plan::new("heal");
    if t.up_to_date {
        plan.note(format!("branch {} already holds this fix", t.branch));
    } else {
        plan.push(
            Write::CommitFiles {
                branch: t.branch.clone(),
                base_sha: t.base_sha.clone(),
                message: pr::commit_message(Some(number), fix),
                changes: fix
                    .files
                    .iter()
                    .map(|f| FileChange {
                        path: f.path.clone(),
                        content: Some(f.after.clone()),
                    })
                    .collect(),
                force: true,
            },
            format!("one commit on {} with the fix", t.default_branch),
        );
    }
    ensure_label(&mut plan, config::LABEL_AUTO_HEAL, LABEL_AUTO_HEAL);
    plan.push(
        Write::OpenPullRequest {
            head: t.branch.clone(),
            base: t.default_branch.clone(),
            title: pr::title(fix),
            body: pr::body(number, fix, facts, workflow_path, &t.verify),
            labels: vec![config::LABEL_AUTO_HEAL.into()],
            marker_kind: pr::KIND_HEAL.into(),
            marker_key: number.to_string(),
        },
        format!("propose the fix for #{number}"),
    );
    plan.outputs.insert("fixable".into(), "true".into());
    plan
}

/// The whole heal of a fixable issue: the branch, commit and pull request,
/// then, once those landed, the issue comment naming the pull request (its
/// number taken from the step that opened or updated it) and the
/// verification dispatch. Pure.
pub fn heal_plan(number: u64, fix: &Fix, facts: &Facts, workflow_path: &str, t: &Target) -> Plan {
    let mut plan = fix_plan(number, fix, facts, workflow_path, t);
    let first: Vec<String> = plan.steps.iter().map(|s| s.id.clone()).collect();
    let pull = plan
        .steps
        .iter()
        .find(|s| matches!(s.write, Write::OpenPullRequest { .. }))
        .map(|s| s.id.clone());
    let after = || StepOptions {
        depends_on: first.clone(),
        ..StepOptions::default()
    };
    plan.push_with(
        Write::Comment {
            number,
            body: pr::opened_comment(number, None, false, fix),
            marker: Some((pr::KIND_HEAL.into(), number.to_string())),
        },
        "link the pull request from the issue",
        StepOptions {
            text_from: pull.and_then(|p| {
                TextFrom::rendered(&p, |n, created| {
                    pr::opened_comment(number, Some(n), created, fix)
                })
            }),
            ..after()
        },
    );
    match (&t.verify, t.up_to_date) {
        (Verify::Dispatch, false) => {
            plan.push_with(
                Write::DispatchWorkflow {
                    workflow: workflow_path
                        .rsplit('/')
                        .next()
                        .unwrap_or(workflow_path)
                        .to_string(),
                    git_ref: t.branch.clone(),
                    inputs: serde_json::Map::new(),
                },
                "run the fixed workflow on its branch to see whether it heals",
                StepOptions {
                    best_effort: true,
                    ..after()
                },
            );
        }
        (Verify::Dispatch, true) => plan.note("the branch did not change: no new verification run"),
        (Verify::Skip(why), _) => plan.note(format!("not verified by dispatch: {why}")),
    }
    plan
}

/// Who vouched for the issue: who applied `auto-heal` last and who sent the
/// event, each with their access (the action's own logins are not looked
/// up). Both are asked every time: a re-label or a reopening is a new
/// decision by someone.
#[derive(Debug, Clone, Default)]
pub struct Vouchers {
    pub labeler: Option<(String, Access)>,
    pub sender: Option<(String, Access)>,
}

/// The failed run as the API tells it (`None`: it no longer exists), and
/// the default branch.
#[derive(Debug, Clone)]
pub struct RunRead {
    pub run: Option<RunFacts>,
    pub default_branch: String,
}

/// The issue's workflow on the default branch, at the failing commit, and
/// the requirements and dependency files a fix may need.
#[derive(Debug, Clone)]
pub struct Workflow {
    pub path: String,
    pub default_branch: String,
    pub base_sha: String,
    /// `None`: the file no longer exists on the default branch.
    pub current: Option<String>,
    pub failing: Option<String>,
    pub files: BTreeMap<String, String>,
}

/// The fix branch as it is: whether a pull request from it is open, and
/// then its version of each file the fix writes (`None`: absent).
#[derive(Debug, Clone)]
pub struct BranchRead {
    pub open_pull: bool,
    pub files: BTreeMap<String, Option<String>>,
}

/// Everything heal decides from. Read in stages: each read is made only when
/// the facts before it leave the decision open (see [`gather_heal`]), so
/// nothing is fetched for an issue or a run that cannot be trusted.
#[derive(Debug, Clone)]
pub struct HealFacts {
    pub number: u64,
    /// The repository the action works on.
    pub repo: String,
    /// Who the action acts as.
    pub identity: Identity,
    /// Who sent the `issues` event (a dispatch needs write access already).
    pub sender: Option<String>,
    pub issue: IssueInfo,
    pub vouchers: Option<Vouchers>,
    pub run: Option<RunRead>,
    pub workflow: Option<Workflow>,
    pub branch: Option<BranchRead>,
}

/// Where the facts gathered so far lead.
enum Stage {
    /// Nothing to do (and why).
    Skip(String),
    /// Not trusted (and why, shown on the issue).
    Refuse(String),
    Manual(Facts, Unfixable),
    Fix(Box<Proposal>),
    /// The decision needs another read.
    Need(Need),
    /// The config cannot be acted on.
    Invalid(String),
}

/// The next read a decision needs.
enum Need {
    Vouchers,
    Run(u64),
    Workflow(Box<(IssueAnalysis, Facts)>),
    Branch { branch: String, paths: Vec<String> },
}

/// A fix and where it goes.
struct Proposal {
    fix: Fix,
    facts: Facts,
    workflow_path: String,
    target: Target,
}

/// Walk the decision as far as `f` allows. Pure; shared by [`gather_heal`]
/// (which reads what it [`Need`]s next) and [`decide_heal`].
fn stage(f: &HealFacts, config: &Config) -> Stage {
    fn actor(a: &Option<(String, Access)>) -> Option<trust::Actor<'_>> {
        a.as_ref().map(|(who, p)| (who.as_str(), *p))
    }
    let issue = &f.issue;
    let number = f.number;
    if issue.pull_request.is_some() {
        return Stage::Skip(format!("#{number} is a pull request"));
    }
    if issue.state != "open" {
        return Stage::Skip(format!("issue #{number} is closed"));
    }
    if !issue.has_label(config::LABEL_AUTO_HEAL) || !issue.has_label(config::LABEL_WORKFLOW_FAILURE)
    {
        return Stage::Skip(format!(
            "issue #{number} lacks the `{}` and `{}` labels",
            config::LABEL_AUTO_HEAL,
            config::LABEL_WORKFLOW_FAILURE
        ));
    }
    if issue.has_label(config::LABEL_NEEDS_MANUAL_FIX) {
        return Stage::Skip(format!("issue #{number} needs a manual fix"));
    }
    let body = issue.body.as_deref().unwrap_or_default();
    let analysis = issue::parse_block(body);
    let trust_facts = IssueFacts {
        author: &issue.user.login,
        body,
        fingerprint: analysis.as_ref().map(|a| a.fingerprint.as_str()),
        as_written: issue::body_is_as_written(body),
        labeler: None,
        sender: None,
    };
    // Whatever the labels say, only the action's own, unedited issue is read.
    if let Trust::Untrusted(why) = trust::decide(
        &IssueFacts {
            labeler: Some((trust::ACTIONS_BOT, Access::None)),
            ..trust_facts
        },
        &f.identity,
    ) {
        return Stage::Refuse(why);
    }
    let Some(v) = &f.vouchers else {
        return Stage::Need(Need::Vouchers);
    };
    if let Trust::Untrusted(why) = trust::decide(
        &IssueFacts {
            labeler: actor(&v.labeler),
            sender: actor(&v.sender),
            ..trust_facts
        },
        &f.identity,
    ) {
        return Stage::Refuse(why);
    }
    let Some(analysis) = analysis else {
        let why = Unfixable::NotApplicable("the issue has no ci-medic analysis block".into());
        return Stage::Manual(Facts::default(), why);
    };
    let facts = Facts::from_issue(&analysis);
    // Nothing is fetched for a block that fails its checks, nor for a run
    // that cannot be trusted.
    if let Err(why) = check_block(&analysis, &f.repo) {
        return Stage::Manual(facts, why);
    }
    let Some(read) = &f.run else {
        return Stage::Need(Need::Run(analysis.run_id));
    };
    let Some(run) = &read.run else {
        let why = Unfixable::Untrusted(format!(
            "run {} no longer exists, so ci-medic cannot check where it came from",
            analysis.run_id
        ));
        return Stage::Manual(facts, why);
    };
    let run = match trust::check_run(
        run,
        &analysis,
        &f.repo,
        &read.default_branch,
        &config.heal.trusted_branches,
    ) {
        Ok(run) => run,
        Err(why) => return Stage::Manual(facts, Unfixable::Untrusted(why)),
    };
    let Some(wf) = &f.workflow else {
        return Stage::Need(Need::Workflow(Box::new((analysis, facts))));
    };
    let Some(current) = &wf.current else {
        let why = Unfixable::NotApplicable(format!(
            "{} no longer exists on {}",
            pr::code(&wf.path),
            wf.default_branch
        ));
        return Stage::Manual(facts, why);
    };
    let fix = match heal::propose(&Input {
        facts: &facts,
        workflow_path: &wf.path,
        workflow: current,
        failing: wf.failing.as_deref(),
        job: None,
        config: &config.heal,
        files: &wf.files,
    }) {
        Ok(fix) => fix,
        Err(why) => return Stage::Manual(facts, why),
    };
    let branch = match branch_name(&config.heal.branch_prefix, number, &analysis.fingerprint) {
        Ok(b) => b,
        Err(e) => return Stage::Invalid(format!("{e:#}")),
    };
    let Some(b) = &f.branch else {
        let paths = fix.files.iter().map(|x| x.path.clone()).collect();
        return Stage::Need(Need::Branch { branch, paths });
    };
    let up_to_date = b.open_pull
        && fix
            .files
            .iter()
            .all(|x| b.files.get(&x.path).and_then(Option::as_deref) == Some(x.after.as_str()));
    let new_workflow = fix.new_text(&wf.path).unwrap_or(current);
    let verify = verification(config, new_workflow, &run);
    Stage::Fix(Box::new(Proposal {
        target: Target {
            default_branch: wf.default_branch.clone(),
            base_sha: wf.base_sha.clone(),
            branch,
            up_to_date,
            verify,
        },
        workflow_path: wf.path.clone(),
        fix,
        facts,
    }))
}

/// Reads a heal makes at most, a bound on [`gather_heal`]'s stages.
const MAX_STAGES: usize = 8;

/// Read what healing issue `number` needs, stage by stage, writing nothing.
/// `sender` is who sent an `issues` event.
pub async fn gather_heal(cx: &Ctx, number: u64, sender: Option<String>) -> Result<HealFacts> {
    let client = cx.github()?;
    let mut f = HealFacts {
        number,
        repo: client.repo().full(),
        identity: cx.identity(),
        sender,
        issue: client.issue(number).await?,
        vouchers: None,
        run: None,
        workflow: None,
        branch: None,
    };
    for _ in 0..MAX_STAGES {
        let need = match stage(&f, &cx.config) {
            Stage::Need(need) => need,
            Stage::Invalid(why) => anyhow::bail!(why),
            _ => return Ok(f),
        };
        match need {
            Need::Vouchers => {
                f.vouchers = Some(vouchers(&cx.permissions()?, number, f.sender.as_deref()).await?);
            }
            Need::Run(run_id) => f.run = Some(read_run(client, run_id).await?),
            Need::Workflow(a) => {
                let (analysis, facts) = *a;
                f.workflow = Some(fetch_workflow(client, &analysis, &facts).await?);
            }
            Need::Branch { branch, paths } => {
                f.branch = Some(read_branch(client, &branch, &paths).await?);
            }
        }
    }
    anyhow::bail!("heal of #{number} read more than {MAX_STAGES} times without deciding")
}

/// The plan for the gathered facts. Pure.
pub fn decide_heal(f: &HealFacts, config: &Config) -> Plan {
    match stage(f, config) {
        Stage::Refuse(why) => refused_plan(f.number, &why),
        Stage::Manual(facts, why) => manual_plan(f.number, &facts, &why),
        Stage::Fix(p) => heal_plan(f.number, &p.fix, &p.facts, &p.workflow_path, &p.target),
        Stage::Skip(why) | Stage::Invalid(why) => {
            let mut plan = Plan::new("heal");
            plan.note(format!("nothing to do: {why}"));
            plan
        }
        Stage::Need(_) => {
            let mut plan = Plan::new("heal");
            plan.note("the facts were not all read: nothing to do");
            plan
        }
    }
}

/// After the plan ran: outputs, summary and stdout; or, when there was
/// nothing to do, one line saying why.
pub fn report_heal(
    cx: &Ctx,
    f: &HealFacts,
    plan: &Plan,
    report: &plan::Report,
) -> Result<ExitCode> {
    if let Stage::Skip(why) = stage(f, &cx.config) {
        crate::outln!(cx.env, "ci-medic: nothing to do: {why}");
        return Ok(ExitCode::SUCCESS);
    }
    report_verification(cx, plan, report)
}

async fn vouchers(perms: &Permissions<'_>, number: u64, sender: Option<&str>) -> Result<Vouchers> {
    // The action's own logins need no lookup.
    let access = async |who: &str| -> Result<(String, Access)> {
        let p = if perms.is_ours(who) {
            Access::None
        } else {
            perms.access(who).await?
        };
        Ok((who.to_string(), p))
    };
    let labeler = match perms.labeler(number, config::LABEL_AUTO_HEAL).await? {
        Some(who) => Some(access(&who).await?),
        None => None,
    };
    let sender = match sender {
        Some(who) => Some(access(who).await?),
        None => None,
    };
    Ok(Vouchers { labeler, sender })
}

/// The failed run through the API: the issue body says which run, never
/// whether to trust it.
async fn read_run(client: &Client, run_id: u64) -> Result<RunRead> {
    let default_branch = client.default_branch().await?;
    let path = client.repo_path(&format!("/actions/runs/{run_id}"));
    let run = match client.get_json::<RunFacts>(&path).await {
        Ok(run) => Some(run),
        Err(e) if e.is_not_found() => None,
        Err(e) => return Err(e.into()),
    };
    Ok(RunRead {
        run,
        default_branch,
    })
}

/// How the fix is verified. A dispatch runs the fixed workflow with the
/// repository's secrets, so it needs a fix made for a trusted run.
fn verification(config: &Config, new_workflow: &str, _trusted: &TrustedRun) -> Verify {
    if !config.heal.verify {
        Verify::Skip("`heal.verify` is off".into())
    } else if crate::heal::yaml::Doc::parse(new_workflow).is_ok_and(|d| locate::dispatchable(&d)) {
        Verify::Dispatch
    } else {
        Verify::Skip(
            "the workflow has no `workflow_dispatch` trigger without required inputs".into(),
        )
    }
}

async fn fetch_workflow(client: &Client, a: &IssueAnalysis, facts: &Facts) -> Result<Workflow> {
    let path = a.workflow_path.clone().unwrap_or_default();
    let default_branch = client.default_branch().await?;
    let base_sha = client
        .branch_sha(&default_branch)
        .await?
        .with_context(|| format!("the default branch {default_branch} has no head"))?;
    let mut wf = Workflow {
        path,
        default_branch,
        base_sha,
        current: None,
        failing: None,
        files: BTreeMap::new(),
    };
    let Some(current) = client.file_text(&wf.path, &wf.base_sha).await? else {
        return Ok(wf);
    };
    // An unknown commit (force-pushed away) answers 404 or 422: fix the current version.
    wf.failing = client.file_text(&wf.path, &a.head_sha).await.ok().flatten();
    for p in python::requirement_files(&current)
        .into_iter()
        .take(MAX_EXTRA_FILES)
    {
        if let Some(text) = client.file_text(&p, &wf.base_sha).await? {
            wf.files.insert(p, text);
        }
    }
    // Only a module ci-medic's table does not know needs the repository to
    // name its distribution.
    if python::wants_dependency_files(facts) {
        for p in python::DEPENDENCY_FILES.iter().take(MAX_DEPENDENCY_FILES) {
            if !wf.files.contains_key(*p)
                && let Some(text) = client.file_text(p, &wf.base_sha).await?
            {
                wf.files.insert((*p).to_string(), text);
            }
        }
    }
    wf.current = Some(current);
    Ok(wf)
}

/// Whether a pull request from `branch` is open and, if so, the branch's
/// version of `paths`.
async fn read_branch(client: &Client, branch: &str, paths: &[String]) -> Result<BranchRead> {
    let open_pull = !client.pulls_from(branch).await?.is_empty();
    let mut files = BTreeMap::new();
    if open_pull {
        for p in paths {
            files.insert(p.clone(), client.file_text(p, branch).await?);
        }
    }
    Ok(BranchRead { open_pull, files })
}

// --- verification ------------------------------------------------------------

/// An open pull request from a heal branch, as verification reads it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct FixPull {
    pub number: u64,
    #[serde(default)]
    pub body: Option<String>,
    pub head: FixHead,
    #[serde(default)]
    pub user: Option<UserInfo>,
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct FixHead {
    pub sha: String,
}

/// Why a finished run on a heal branch is not the fix's verification, if
/// it is not: only a `workflow_dispatch` of the base repository's own code
/// that the action itself started counts. Anyone can name a fork's branch
/// like a heal branch.
fn not_a_verification(run: &RunFacts, repo: &str, identity: &Identity) -> Option<String> {
    let same = |r: &Option<trust::RepoRef>| {
        r.as_ref()
            .is_some_and(|r| r.full_name.eq_ignore_ascii_case(repo))
    };
    let by_bot = |u: &Option<UserInfo>| u.as_ref().is_some_and(|u| identity.is_ours(&u.login));
    if run.event != "workflow_dispatch" {
        return Some(format!("it was started by a {} event", run.event));
    }
    if !same(&run.repository) || !same(&run.head_repository) {
        return Some("it ran another repository's code".into());
    }
    let triggered = if run.triggering_actor.is_some() {
        &run.triggering_actor
    } else {
        &run.actor
    };
    if !by_bot(&run.actor) || !by_bot(triggered) {
        return Some("ci-medic did not dispatch it".into());
    }
    None
}

/// Report a finished run on a heal branch on its pull request. Pure.
/// `repo` is the repository the action works on, `identity` who it acts as.
pub fn decide_verify(run: &RunFacts, pulls: &[FixPull], repo: &str, identity: &Identity) -> Plan {
    let mut plan = Plan::new("heal");
    let Some(conclusion) = run.conclusion.as_deref() else {
        plan.note(format!("run {} has not finished", run.id));
        return plan;
    };
    if let Some(why) = not_a_verification(run, repo, identity) {
        plan.note(format!(
            "run {} is not a verification of a fix ({why}): ignored",
            run.id
        ));
        return plan;
    }
    let name = run.name.clone().unwrap_or_else(|| "the workflow".into());
    for p in pulls {
        let body = p.body.as_deref().unwrap_or_default();
        let by_bot = p.user.as_ref().is_some_and(|u| identity.is_ours(&u.login));
        let ours = by_bot && find_key(body, pr::KIND_HEAL).is_some();
        let same_workflow = match run.path.as_deref() {
            Some(path) => has_marker(body, pr::KIND_WORKFLOW, path),
            None => true,
        };
        if !(ours && same_workflow) {
            continue;
        }
        if p.head.sha != run.head_sha {
            plan.note(format!(
                "run {} ran commit {}, not the head of #{}: ignored",
                run.id, run.head_sha, p.number
            ));
            continue;
        }
        plan.push(
            Write::Comment {
                number: p.number,
                body: pr::verify_comment(run.id, &run.html_url, &name, conclusion),
                marker: Some((pr::KIND_VERIFY.into(), run.id.to_string())),
            },
            format!("run {} of the fixed workflow finished", run.id),
        );
    }
    if plan.steps.is_empty() && plan.notes.is_empty() {
        plan.note(format!(
            "no heal pull request of this workflow for run {}",
            run.id
        ));
    }
    plan
}

/// A run finished on a heal branch: say on the pull request whether the fix
/// healed the workflow. Returns `None` when the run is not on a heal branch
/// (the caller then handles it as usual).
pub async fn gather_verify(cx: &Ctx, run_id: u64) -> Result<Option<VerifyFacts>> {
    let client = cx.github()?;
    let config = &cx.config;
    // The run as the API tells it, not as the event payload does.
    let run: RunFacts = client
        .get_json(&client.repo_path(&format!("/actions/runs/{run_id}")))
        .await?;
    let Some(branch) = run
        .head_branch
        .clone()
        .filter(|b| is_heal_branch(config, b))
    else {
        return Ok(None);
    };
    let head = format!("{}:{branch}", client.repo().owner);
    let pulls: Vec<FixPull> = client
        .get_all(
            &client.repo_path(&format!(
                "/pulls?state=open&head={}",
                encode_segment(&head, false)
            )),
            None,
            100,
        )
        .await?;
    Ok(Some(VerifyFacts {
        run,
        pulls,
        repo: client.repo().full(),
        identity: cx.identity(),
    }))
}

/// What reporting a verification run decides from.
#[derive(Debug, Clone)]
pub struct VerifyFacts {
    pub run: RunFacts,
    pub pulls: Vec<FixPull>,
    pub repo: String,
    /// Who the action acts as.
    pub identity: Identity,
}

/// The verification report's plan, or nothing when the run is not on a
/// heal branch. Pure.
pub fn decide_verification(facts: Option<&VerifyFacts>) -> Plan {
    match facts {
        Some(f) => decide_verify(&f.run, &f.pulls, &f.repo, &f.identity),
        None => {
            let mut plan = Plan::new("heal");
            plan.note("the run is not on a heal branch");
            plan
        }
    }
}

/// After the plan ran: outputs, summary and stdout, as for a fix.
pub fn report_verification(cx: &Ctx, plan: &Plan, report: &plan::Report) -> Result<ExitCode> {
    emit(cx, plan, report)?;
    Ok(if report.failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn emit(cx: &Ctx, plan: &Plan, report: &plan::Report) -> Result<()> {
    let mut outputs = plan.outputs.clone();
    if let Some(n) = report.pull_number() {
        outputs.insert("pr-number".into(), n.to_string());
    }
    for (k, v) in &outputs {
        cx.env.set_output(k, v)?;
    }
    let mut md = String::from("## ci-medic heal\n\n");
    md.push_str(&markdown::fenced(&plan.to_text(), "text"));
    md.push_str("\n\n");
    md.push_str(&markdown::fenced(&report.to_text(), "text"));
    md.push('\n');
    cx.env.append_summary(&md)?;
    if cx.json() {
        cx.env
            .print_json(&serde_json::json!({"plan": plan, "report": report, "outputs": outputs}))?;
    } else {
        cx.env.echo_untrusted(&plan.to_text());
        cx.env.echo_untrusted(&report.to_text());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_names() {
        assert_eq!(
            branch_name("ci-medic/heal", 12, "0123abcdef012345").ok(),
            Some("ci-medic/heal-12-0123abcd".into())
        );
        assert!(branch_name("../x", 1, "00").is_err());
        assert!(branch_name("a b", 1, "00").is_err());
    }

    fn sample_fix() -> (Fix, Facts) {
        let wf = "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - run: pytest\n";
        let failure: crate::analyze::Failure = serde_json::from_value(serde_json::json!({
            "source": "log", "job": "test", "step": "Run pytest", "line": 1, "end_line": 1,
            "text": "FileNotFoundError: [Errno 2] No such file or directory: 'data/x.csv' @admin ``` #1",
            "category": "missing-file", "rule": "py-file-not-found",
            "captures": {"file": "data/x.csv"}, "fingerprint": "0123456789abcdef", "fixable": true
        }))
        .expect("failure");
        let facts = Facts {
            category: crate::analyze::Category::MissingFile,
            failures: vec![failure],
            job: Some("test".into()),
            step: Some("Run pytest".into()),
            run_url: Some("https://github.com/o/r/actions/runs/1".into()),
            ..Facts::default()
        };
        let config = Config::default();
        let files = BTreeMap::new();
        let fix = heal::propose(&Input {
            facts: &facts,
            workflow_path: ".github/workflows/ci.yml",
            workflow: wf,
            failing: None,
            job: None,
            config: &config.heal,
            files: &files,
        })
        .expect("fix");
        (fix, facts)
    }

    #[test]
    fn pull_request_body_explains_and_stays_inert() {
        let (fix, facts) = sample_fix();
        let body = pr::body(
            12,
            &fix,
            &facts,
            ".github/workflows/ci.yml",
            &Verify::Dispatch,
        );
        assert!(body.starts_with("<!-- ci-medic:heal:12 -->\n"), "{body}");
        assert!(body.contains("Fixes #12."));
        assert!(body.contains("[failed run](https://github.com/o/r/actions/runs/1)"));
        assert!(
            body.contains("+        if: hashFiles('data/x.csv') != ''"),
            "{body}"
        );
        assert!(body.contains("<!-- ci-medic:heal-workflow:.github/workflows/ci.yml -->"));
        // The log line sits in a fence its backticks cannot close.
        assert!(body.contains("````text\nFileNotFoundError"), "{body}");
        let plan = fix_plan(
            12,
            &fix,
            &facts,
            ".github/workflows/ci.yml",
            &Target {
                default_branch: "main".into(),
                base_sha: "b".repeat(40),
                branch: "ci-medic/heal-12-01234567".into(),
                up_to_date: false,
                verify: Verify::Dispatch,
            },
        );
        let kinds: Vec<String> = plan.steps.iter().map(|s| s.write.describe()).collect();
        assert!(
            kinds[0]
                .starts_with("commit .github/workflows/ci.yml to branch ci-medic/heal-12-01234567"),
            "{kinds:?}"
        );
        assert!(
            kinds.iter().any(|k| k.starts_with("open pull request")),
            "{kinds:?}"
        );
    }

    fn verify_run(event: &str, head_repo: &str, actor: &str, sha: &str) -> RunFacts {
        serde_json::from_value(serde_json::json!({
            "id": 9, "name": "CI", "path": ".github/workflows/ci.yml", "event": event,
            "head_sha": sha, "head_branch": "ci-medic/heal-12-01234567", "conclusion": "failure",
            "html_url": "https://github.com/o/r/actions/runs/9",
            "repository": {"full_name": "o/r"}, "head_repository": {"full_name": head_repo},
            "actor": {"login": actor}, "triggering_actor": {"login": actor}
        }))
        .expect("run")
    }

    fn fix_pull(n: u64, body: &str, author: &str, sha: &str) -> FixPull {
        serde_json::from_value(serde_json::json!({
            "number": n, "body": body, "head": {"sha": sha}, "user": {"login": author}
        }))
        .expect("pull")
    }

    #[test]
    fn verification_runs_are_reported_on_their_pull_request() {
        let bot = trust::ACTIONS_BOT;
        let identity = Identity::default();
        let ours = fix_pull(
            3,
            "<!-- ci-medic:heal:12 -->\n<!-- ci-medic:heal-workflow:.github/workflows/ci.yml -->",
            bot,
            "a",
        );
        let other = fix_pull(
            4,
            "<!-- ci-medic:heal:12 -->\n<!-- ci-medic:heal-workflow:.github/workflows/lint.yml -->",
            bot,
            "a",
        );
        let run = verify_run("workflow_dispatch", "o/r", bot, "a");
        let plan = decide_verify(&run, &[ours.clone(), other], "o/r", &identity);
        assert_eq!(plan.steps.len(), 1);
        match &plan.steps[0].write {
            Write::Comment { number, body, .. } => {
                assert_eq!(*number, 3);
                assert!(body.contains("failed: the fix did not heal"), "{body}");
            }
            w => panic!("{w:?}"),
        }
        let mut config = Config::default();
        assert!(is_heal_branch(&config, "ci-medic/heal-12-01234567"));
        assert!(!is_heal_branch(&config, "ci-medic/healthy"));
        config.heal.branch_prefix = "fix".into();
        assert!(!is_heal_branch(&config, "ci-medic/heal-12-01234567"));
    }

    #[test]
    fn spoofed_verification_runs_are_ignored() {
        let bot = trust::ACTIONS_BOT;
        let identity = Identity::default();
        let body =
            "<!-- ci-medic:heal:12 -->\n<!-- ci-medic:heal-workflow:.github/workflows/ci.yml -->";
        let ours = fix_pull(3, body, bot, "a");
        for (run, pulls) in [
            // A fork's pull request on a branch named like a heal branch.
            (
                verify_run("pull_request", "mallory/r", "mallory", "a"),
                vec![ours.clone()],
            ),
            (
                verify_run("pull_request", "o/r", bot, "a"),
                vec![ours.clone()],
            ),
            // Dispatched by a person, or on another commit than the fix's.
            (
                verify_run("workflow_dispatch", "o/r", "octocat", "a"),
                vec![ours.clone()],
            ),
            (
                verify_run("workflow_dispatch", "o/r", bot, "b"),
                vec![ours.clone()],
            ),
            // A pull request someone else opened with ci-medic's markers.
            (
                verify_run("workflow_dispatch", "o/r", bot, "a"),
                vec![fix_pull(5, body, "mallory", "a")],
            ),
        ] {
            let plan = decide_verify(&run, &pulls, "o/r", &identity);
            assert!(plan.steps.is_empty(), "{run:?}: {plan:?}");
            assert_eq!(plan.notes.len(), 1, "{plan:?}");
        }
    }

    #[test]
    fn refusals_and_manual_fixes_are_one_marked_comment() {
        let marked_comments = |plan: &Plan, kind: &str| {
            plan.steps
                .iter()
                .filter(|s| {
                    matches!(&s.write, Write::Comment { number: 7, marker: Some((k, key)), .. }
                        if k == kind && key == "7")
                })
                .count()
        };
        let plan = refused_plan(7, "mallory applied the label");
        assert_eq!(plan.steps.len(), 1);
        assert_eq!(marked_comments(&plan, pr::KIND_REFUSED), 1, "{plan:?}");
        let facts = Facts::default();
        let plan = manual_plan(7, &facts, &Unfixable::NoFix(crate::analyze::Category::Test));
        assert_eq!(marked_comments(&plan, pr::KIND_MANUAL), 1, "{plan:?}");
        let labels: Vec<&Write> = plan
            .steps
            .iter()
            .map(|s| &s.write)
            .filter(|w| matches!(w, Write::AddLabels { .. }))
            .collect();
        assert_eq!(labels.len(), 1);
    }

    #[test]
    fn local_layout_finds_the_repository_root() {
        let (p, root) = local_layout(Path::new("/tmp/r/.github/workflows/ci.yml"));
        assert_eq!(p, ".github/workflows/ci.yml");
        assert_eq!(root, PathBuf::from("/tmp/r/"));
        let (p, root) = local_layout(Path::new("ci.yml"));
        assert_eq!(p, "ci.yml");
        assert_eq!(root, PathBuf::from("."));
    }
}
