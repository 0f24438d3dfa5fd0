//! `merge`: merge exactly the head commit that was approved, once CI allows.
//!
//! The head SHA is pinned when the command is accepted, and every later
//! step merges that SHA (`sha` on the merge call), so a push after the
//! command can never be merged by it. When checks are still running, the
//! request is kept in the command's reply as sealed hidden state (PR, SHA,
//! requester, mode, ignored checks, deadline) and the pull request is
//! labelled `merging`; each later completion of a run on that SHA looks
//! again ([`crate::handlers::pending_merge`]). Nothing waits in a job.

use std::collections::BTreeMap;

use anyhow::Result;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::act::{Accepted, Facts, require};
use super::config::{CommandsConfig, LABEL_MERGED, LABEL_MERGING};
use super::merge_rules::{self, MergeRule};
use super::parse::{Command, RebaseOnto};
use super::reply::{Refusal, ReplyTo};
use crate::app::Ctx;
use crate::config::Config;
use crate::event::{Conclusion, Status};
use crate::github::checks::CheckRunInfo;
use crate::github::pulls::PullDetail;
use crate::github::types::RunInfo;
use crate::permissions::{Access, Action};
use crate::plan::{StepOptions, Write};
use crate::report::hidden;
use crate::report::markdown::{code, inline};

/// The kind of the hidden state of a pending merge.
pub const STATE_KIND: &str = "merge";

/// One reviewer's latest word on the pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reviewer {
    pub login: String,
    /// `APPROVED` or `CHANGES_REQUESTED`.
    pub state: String,
    pub access: Access,
}

/// What `merge` reads beyond the pull request and its runs.
#[derive(Debug, Clone, Default)]
pub struct MergeFacts {
    pub reviewers: Vec<Reviewer>,
    /// The merge rules from the default branch: `None` without rules, an
    /// error naming file and line when the rules cannot be read.
    pub rules: Option<Result<Vec<MergeRule>, String>>,
    /// The changed files, read only when there are rules.
    pub files: Vec<String>,
    /// What tolerating unrelated failures of the head is decided from.
    pub tolerance: super::tolerance::Inputs,
    /// The downstream CI gate (`crcr`), when downstream CI is on.
    pub crcr: Option<crate::crcr::gate::GateFacts>,
    /// `merge -r -i`: the failed jobs of each failing workflow run of the
    /// head, by run name (see [`failed_jobs`]).
    pub failed_jobs: BTreeMap<String, Vec<Failure>>,
}

/// The latest approving or change-requesting review of each reviewer
/// (comments do not change a reviewer's verdict; a dismissal ends it).
pub fn verdicts(reviews: &[crate::github::pulls::ReviewInfo]) -> BTreeMap<String, String> {
    let mut latest: BTreeMap<String, String> = BTreeMap::new();
    for r in reviews {
        let Some(user) = &r.user else { continue };
        let key = user.login.clone();
        match r.state.to_ascii_uppercase().as_str() {
            s @ ("APPROVED" | "CHANGES_REQUESTED") => {
                latest.insert(key, s.to_string());
            }
            "DISMISSED" => {
                latest.remove(&key);
            }
            _ => {}
        }
    }
    latest
}

/// Read the reviews, the access of each reviewer with a verdict, and the
/// merge rules with the changed files when there are rules: those of
/// `commands.merge.rules`, or else PyTorch's `.github/merge_rules.yaml` on
/// the default branch (never the pull request's copy).
pub async fn gather(
    ctx: &Ctx,
    pull: &PullDetail,
    config: &Config,
    default_branch: &str,
) -> Result<MergeFacts> {
    let gh = ctx.github()?;
    let reviews = gh.reviews(pull.number).await?;
    let permissions = ctx.permissions()?;
    let mut reviewers = Vec::new();
    for (login, state) in verdicts(&reviews) {
        let access = permissions.access(&login).await?;
        reviewers.push(Reviewer {
            login,
            state,
            access,
        });
    }
    let configured = CommandsConfig::of(config).merge.rules;
    let rules = if !configured.is_empty() {
        Some(Ok(configured))
    } else {
        gh.file_text(merge_rules::PYTORCH_RULES_PATH, default_branch)
            .await?
            .map(|text| {
                merge_rules::parse_pytorch(merge_rules::PYTORCH_RULES_PATH, &text)
                    .map_err(|e| e.to_string())
            })
    };
    let files = if rules.is_some() {
        gh.pull_files(pull.number).await?
    } else {
        Vec::new()
    };
    Ok(MergeFacts {
        reviewers,
        rules,
        files,
        tolerance: Default::default(),
        crcr: crate::crcr::gate::gather(ctx).await,
        failed_jobs: BTreeMap::new(),
    })
}

/// How a merge treats checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Wait for every check to pass.
    Normal,
    /// `-i`: ignore the checks failing when the command was given.
    IgnoreCurrent,
    /// `-f`: merge without waiting for checks.
    Force,
}

/// A merge waiting for checks, hidden in the command's reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingMerge {
    pub pr: u64,
    pub sha: String,
    pub requester: String,
    pub mode: Mode,
    /// Names of the runs failing when the command was given (`-i`).
    pub ignored: Vec<String>,
    /// Who approved, for the merge commit's message.
    pub approvers: Vec<String>,
    /// Unrelated failures (per Dr. CI) the merge tolerates, at most.
    #[serde(default)]
    pub tolerate: u32,
    /// `-r`: the branch was updated with its base before the wait.
    #[serde(default)]
    pub rebase: bool,
    pub deadline: DateTime<Utc>,
    /// The seal: the SHA-256 of the reply as written.
    pub body_sha256: String,
    /// `-r -i`: the failures seen on the head before the update, ignored on
    /// the updated head only where they happen again (see [`unignored`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignored_failures: Vec<Failure>,
}

/// One failure of a head: a failed job of a failing workflow run, or a
/// failing check run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The check it counts under: the workflow run's name, or the check
    /// run's.
    pub check: String,
    /// The failed job of that workflow run; `None` for a check run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// How it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conclusion: Option<Conclusion>,
    /// The first step that failed, when the job lists its steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
}

impl Failure {
    /// The same failure as `other`: the same check and job, ending the same
    /// way, in the same step where both know their steps.
    pub fn same_as(&self, other: &Failure) -> bool {
        self.check == other.check
            && self.job == other.job
            && self.conclusion == other.conclusion
            && match (&self.step, &other.step) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }

    /// How a reply names it: `check / job`.
    pub fn name(&self) -> String {
        match &self.job {
            Some(job) => format!("{} / {job}", self.check),
            None => self.check.clone(),
        }
    }
}

/// Read the failed jobs of the latest run of each workflow among `failing`
/// (check names, as [`checks`] gives them), by run name.
pub async fn failed_jobs(
    client: &crate::github::Client,
    runs: &[RunInfo],
    failing: &[String],
) -> Result<BTreeMap<String, Vec<Failure>>, crate::github::GithubError> {
    let latest = latest_runs(runs);
    let mut out = BTreeMap::new();
    for name in failing {
        let Some(run) = latest.get(name) else {
            continue;
        };
        let jobs = client.run_jobs(run.id, run.run_attempt).await?;
        let failed = jobs
            .into_iter()
            .filter(|j| {
                j.status.as_ref().is_some_and(Status::is_completed)
                    && !passes(j.conclusion.as_ref())
            })
            .map(|j| Failure {
                check: name.clone(),
                step: j
                    .steps
                    .iter()
                    .find(|s| s.conclusion.as_ref().is_some_and(|c| !c.is_passing()))
                    .map(|s| s.name.clone()),
                job: Some(j.name),
                conclusion: j.conclusion,
            })
            .collect();
        out.insert(name.clone(), failed);
    }
    Ok(out)
}

/// Every failure behind the failing checks `failing` of a head: the failed
/// jobs read by [`failed_jobs`] for workflow runs, the check run itself
/// otherwise. A failing workflow run whose failed jobs are unknown has
/// none: nothing of it can be ignored. Pure.
pub fn failures(
    failing: &[String],
    check_runs: &[CheckRunInfo],
    jobs: &BTreeMap<String, Vec<Failure>>,
) -> Vec<Failure> {
    let mut out = Vec::new();
    for name in failing {
        if let Some(failed) = jobs.get(name) {
            out.extend(failed.iter().cloned());
        } else if let Some(run) = check_runs
            .iter()
            .filter(|r| r.name == *name)
            .max_by_key(|r| r.id)
        {
            out.push(Failure {
                check: name.clone(),
                job: None,
                conclusion: run.conclusion.clone(),
                step: None,
            });
        }
    }
    out
}

/// The failing checks a pending merge does not ignore. Plain `-i` ignores
/// by name the checks that were failing on the same head; `-r -i` ignores a
/// check of the updated head only when every failure in it (`now`, from
/// [`failures`]) is one of those seen before the update, so a job that
/// newly fails in a workflow that was failing ends the merge. Pure.
pub fn unignored(state: &PendingMerge, failing: &[String], now: &[Failure]) -> Vec<String> {
    failing
        .iter()
        .filter(|f| !state.ignored.contains(f))
        .filter(|f| {
            let mut of_check = now.iter().filter(|x| x.check == **f).peekable();
            of_check.peek().is_none()
                || !of_check.all(|x| state.ignored_failures.iter().any(|i| i.same_as(x)))
        })
        .cloned()
        .collect()
}

/// The latest run of each workflow name (as [`checks`] counts them).
fn latest_runs(runs: &[RunInfo]) -> BTreeMap<String, &RunInfo> {
    let mut latest: BTreeMap<String, &RunInfo> = BTreeMap::new();
    for r in runs {
        let name = r
            .name
            .clone()
            .or_else(|| r.path.clone())
            .unwrap_or_else(|| r.workflow_id.to_string());
        let newer = latest
            .get(&name)
            .is_none_or(|old| (old.created_at, old.id) <= (r.created_at, r.id));
        if newer {
            latest.insert(name, r);
        }
    }
    latest
}

/// The checks of a head commit, by run (workflow) name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checks {
    pub failing: Vec<String>,
    pub pending: Vec<String>,
}

/// The state of the latest run of each workflow on the commit (a re-run
/// that passed replaces the failure it re-ran), and of each check run
/// (other CI, Dr. CI, downstream CI): a failing or unfinished check run
/// holds a merge like a workflow run does.
pub fn checks(runs: &[RunInfo], check_runs: &[CheckRunInfo]) -> Checks {
    let mut c = Checks::default();
    for (name, r) in latest_runs(runs) {
        if r.status != Some(Status::Completed) {
            c.pending.push(name);
        } else if !passes(r.conclusion.as_ref()) {
            c.failing.push(name);
        }
    }
    let mut named: BTreeMap<&str, &CheckRunInfo> = BTreeMap::new();
    for r in check_runs {
        let newer = named.get(r.name.as_str()).is_none_or(|old| old.id <= r.id);
        if newer {
            named.insert(&r.name, r);
        }
    }
    for (name, r) in named {
        if c.failing.iter().chain(&c.pending).any(|n| n == name) {
            continue;
        }
        if r.status != Status::Completed {
            c.pending.push(name.to_string());
        } else if !passes(r.conclusion.as_ref()) {
            c.failing.push(name.to_string());
        }
    }
    c
}

/// Every name a check of the head goes by: workflow runs (name and path)
/// and check runs.
pub fn check_names(runs: &[RunInfo], check_runs: &[CheckRunInfo]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for r in runs {
        names.extend(r.name.iter().chain(r.path.iter()).cloned());
    }
    names.extend(check_runs.iter().map(|r| r.name.clone()));
    names
}

fn passes(conclusion: Option<&Conclusion>) -> bool {
    conclusion.is_some_and(Conclusion::is_passing)
}

/// The merge commit's title and message.
pub fn commit_text(pull: &PullDetail, approvers: &[String]) -> (String, String) {
    let title = format!("{} (#{})", pull.title.trim(), pull.number);
    let mut message = pull.body.clone().unwrap_or_default().trim().to_string();
    if !message.is_empty() {
        message.push_str("\n\n");
    }
    message.push_str(&format!("Pull Request resolved: {}\n", pull.html_url));
    message.push_str(&format!("Approved by: {}", approvers.join(", ")));
    (title, message)
}

/// With merge rules: the approvers the first rule covering every changed
/// file accepts, and that rule; the refusal when the rules cannot be read
/// (fail closed), a writer asked for changes, or no rule fits.
pub fn rule_approvals<'a>(
    merge: &'a MergeFacts,
    rules: &'a Result<Vec<MergeRule>, String>,
    pull: &PullDetail,
) -> Result<(Vec<String>, &'a MergeRule), Refusal> {
    let rules = rules.as_ref().map_err(|e| {
        Refusal::new(format!(
            "The merge rules cannot be read, so nothing is merged until they are fixed on the default branch: {}",
            inline(e)
        ))
    })?;
    if let Some(r) = merge
        .reviewers
        .iter()
        .find(|r| r.access.can_write() && r.state == "CHANGES_REQUESTED")
    {
        return Err(Refusal::new(format!(
            "{} requested changes; the request is still outstanding.",
            inline(&r.login)
        )));
    }
    let approved: Vec<String> = merge
        .reviewers
        .iter()
        .filter(|r| r.state == "APPROVED" && !r.login.eq_ignore_ascii_case(pull.author()))
        .map(|r| r.login.clone())
        .collect();
    let chosen = merge_rules::choose(rules, &merge.files, &approved)?;
    Ok((chosen.approvers, chosen.rule))
}

/// The approvers with write access; the refusal when approval is missing
/// or a writer asked for changes.
pub fn approvals(merge: &MergeFacts, pull: &PullDetail) -> Result<Vec<String>, Refusal> {
    let writers = merge.reviewers.iter().filter(|r| r.access.can_write());
    let mut approvers = Vec::new();
    for r in writers {
        if r.state == "CHANGES_REQUESTED" {
            return Err(Refusal::new(format!(
                "{} requested changes; the request is still outstanding.",
                inline(&r.login)
            )));
        }
        if !r.login.eq_ignore_ascii_case(pull.author()) {
            approvers.push(r.login.clone());
        }
    }
    if approvers.is_empty() {
        return Err(Refusal::new(
            "It needs an approving review from someone with write access to the repository.",
        ));
    }
    Ok(approvers)
}

/// The merge write of the pinned head, with its refusal explained in the
/// reply, and the `merged` label once it landed.
pub fn merge_writes(
    pull: &PullDetail,
    sha: &str,
    approvers: &[String],
    to: &ReplyTo,
    config: &Config,
    why: &str,
) -> Vec<(Write, String, StepOptions)> {
    let (title, message) = commit_text(pull, approvers);
    let merge_id = format!("merge-{}", pull.number);
    vec![
        (
            Write::MergePull {
                number: pull.number,
                sha: sha.to_string(),
                method: CommandsConfig::of(config).merge.method,
                title,
                message,
                on_refusal: Some(to.clone()),
            },
            why.to_string(),
            StepOptions {
                id: Some(merge_id.clone()),
                ..StepOptions::default()
            },
        ),
        merged_label(pull.number, merge_id),
    ]
}

/// The `merged` label, once step `merge_id` merged pull request `number`.
fn merged_label(number: u64, merge_id: String) -> (Write, String, StepOptions) {
    (
        Write::AddLabels {
            number,
            labels: vec![LABEL_MERGED.to_string()],
        },
        "the pull request was merged".to_string(),
        StepOptions {
            depends_on: vec![merge_id],
            best_effort: true,
            ..StepOptions::default()
        },
    )
}

/// The refusals every merge checks, now and when it is looked at again.
pub fn refuse_state(
    pull: &PullDetail,
    default_branch: &str,
    config: &Config,
) -> Result<(), Refusal> {
    if pull.merged {
        return Err(Refusal::new("The pull request is merged already."));
    }
    if pull.state != "open" {
        return Err(Refusal::new("The pull request is closed."));
    }
    if pull.draft {
        return Err(Refusal::new(
            "The pull request is a draft; mark it ready for review first.",
        ));
    }
    if !CommandsConfig::of(config)
        .merge
        .allows_base(&pull.base.name, default_branch)
    {
        return Err(Refusal::new(format!(
            "Its base {} is not a branch merges go to (`commands.merge.branches`; the default branch when empty).",
            code(&pull.base.name)
        )));
    }
    Ok(())
}

/// Decide an accepted `merge` command.
pub fn decide(
    facts: &Facts,
    pull: &PullDetail,
    command: &Command,
    access: Access,
    config: &Config,
) -> Result<Accepted, Refusal> {
    let Command::Merge {
        force,
        ignore_current,
        rebase,
    } = command
    else {
        return Err(Refusal::new("not a merge command"));
    };
    require(facts, access, Action::Merge, "merge")?;
    refuse_state(pull, &facts.default_branch, config)?;
    if let Some(onto) = rebase {
        if let RebaseOnto::Branch(b) = onto
            && *b != pull.base.name
        {
            return Err(Refusal::new(format!(
                "`-r` updates the branch with its base {} first; rebasing onto another branch ({}) is not available with `merge`.",
                code(&pull.base.name),
                code(b)
            )));
        }
        if pull.from_fork(&facts.repo) && !pull.maintainer_can_modify {
            return Err(Refusal::new(
                "The branch is in a fork that does not allow edits by maintainers, so it cannot be updated; its author can allow them, or update the branch.",
            ));
        }
    }
    let merge = facts.merge.clone().unwrap_or_default();
    let sha = pull.head.sha.clone();
    let to = facts.reply_to();
    let c = checks(&facts.runs, &facts.check_runs);
    let mode = if force.is_some() {
        Mode::Force
    } else if *ignore_current {
        Mode::IgnoreCurrent
    } else {
        Mode::Normal
    };
    let (approvers, rule) = match &merge.rules {
        Some(rules) => {
            let (approvers, rule) = rule_approvals(&merge, rules, pull)?;
            (approvers, Some(rule))
        }
        None => (approvals(&merge, pull)?, None),
    };
    let tolerate = tolerance_of(rule, config);
    if let (Some(_), Some(reason)) = (rebase, force) {
        return Ok(update_then_merge(facts, pull, &approvers, reason, config));
    }
    if rebase.is_some() {
        // The checks that count are the updated head's, read when it is
        // looked at again; with `-i`, only the failures seen now (each
        // failed job, each failing check run) are ignored there, where they
        // happen again: the update may break other jobs of the same
        // workflow, and nothing has run on that head yet.
        let ignored = if mode == Mode::IgnoreCurrent {
            failures(&c.failing, &facts.check_runs, &merge.failed_jobs)
        } else {
            Vec::new()
        };
        return Ok(update_then_wait(
            facts,
            pull,
            Wait {
                approvers,
                tolerate,
                mode,
                ignored,
            },
            config,
        ));
    }
    let gate = super::tolerance::gate(
        &c.failing,
        &merge.tolerance,
        tolerate,
        &super::tolerance::check_name(config),
    );
    if let (Some(rule), false) = (rule, mode == Mode::Force) {
        let all: Vec<String> = check_names(&facts.runs, &facts.check_runs);
        let m = merge_rules::mandatory(rule, &all, &gate.blocking);
        let m = merge_rules::Mandatory {
            // Still running: the wait below covers them.
            missing: if c.pending.is_empty() {
                m.missing
            } else {
                Vec::new()
            },
            ..m
        };
        if let Some(refusal) = merge_rules::refuse_mandatory(rule, &m, &sha) {
            return Err(refusal);
        }
    }
    let ignored = if mode == Mode::IgnoreCurrent {
        c.failing.clone()
    } else {
        Vec::new()
    };
    if mode == Mode::Normal && !gate.blocking.is_empty() {
        let mut why = format!(
            "Checks are failing on {}: {}. Fix them, or give `-i` to ignore the checks failing now, or `-f \"REASON\"` to merge without waiting.",
            code(&sha),
            super::reply::names(&gate.blocking)
        );
        if let Some(over) = &gate.over {
            why.push_str("\n\n");
            why.push_str(over);
        }
        return Err(Refusal::new(why));
    }
    let tolerated = if mode == Mode::Normal {
        gate.tolerated.clone()
    } else {
        Vec::new()
    };
    let who = &facts.trigger.author;
    if mode == Mode::Force || c.pending.is_empty() {
        let mut accepted = Accepted::new(Vec::new());
        accepted.reaction = "rocket";
        let mut text = format!(
            "Merging {} (approved by {}).",
            code(&sha),
            inline(&approvers.join(", "))
        );
        if let Some(reason) = force {
            text.push_str(&format!(
                "\n\nForced by {}: {}",
                inline(who),
                inline(reason)
            ));
        }
        if !ignored.is_empty() {
            text.push_str(&format!(
                "\n\nIgnoring the checks failing when the command was given: {}",
                super::reply::names(&ignored)
            ));
        }
        if !tolerated.is_empty() {
            text.push_str(&format!("\n\n{}", tolerated_line(&tolerated)));
        }
        accepted.reply = Some(text);
        accepted.writes = merge_writes(
            pull,
            &sha,
            &approvers,
            &to,
            config,
            &format!("{who} asked to merge"),
        );
        if facts.audit {
            accepted.writes.extend(super::audit::merge_steps(
                super::audit::Entry {
                    pr: pull.number,
                    action: "merge",
                    sha: sha.clone(),
                    actor: who.clone(),
                    reason: force.clone().unwrap_or_default(),
                    classification: String::new(),
                    flags: flags(mode),
                },
                &facts.repo,
                facts.now,
                "merged",
                &format!("merge-{}", pull.number),
            ));
        }
        return Ok(accepted);
    }
    let hours = i64::try_from(CommandsConfig::of(config).merge.deadline_hours).unwrap_or(i64::MAX);
    let deadline = Duration::try_hours(hours)
        .and_then(|d| facts.now.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    let state = PendingMerge {
        pr: pull.number,
        sha: sha.clone(),
        requester: who.clone(),
        mode,
        ignored: ignored.clone(),
        approvers: approvers.clone(),
        tolerate,
        rebase: false,
        deadline,
        body_sha256: hidden::DIGEST_PLACEHOLDER.to_string(),
        ignored_failures: Vec::new(),
    };
    let mut text = format!(
        "Merging {} once its checks pass (waiting for {}; giving up at {} UTC).",
        code(&sha),
        super::reply::names(&c.pending),
        deadline.format("%Y-%m-%d %H:%M")
    );
    if !ignored.is_empty() {
        text.push_str(&format!(
            "\n\nIgnoring the checks failing now: {}",
            super::reply::names(&ignored)
        ));
    }
    text.push_str("\n\nA push to the pull request cancels this merge.\n\n");
    text.push_str(&hidden::line(STATE_KIND, &state));
    let mut accepted = Accepted::new(vec![(
        Write::AddLabels {
            number: pull.number,
            labels: vec![LABEL_MERGING.to_string()],
        },
        "the merge waits for checks".to_string(),
    )]);
    accepted.reply = Some(text);
    Ok(accepted)
}

/// The audit flags of a merge in `mode`.
pub fn flags(mode: Mode) -> Vec<String> {
    match mode {
        Mode::Normal => Vec::new(),
        Mode::IgnoreCurrent => vec!["ignore-current".into()],
        Mode::Force => vec!["force".into()],
    }
}

impl PendingMerge {
    /// The audit flags of this merge: `rebase` first when `-r` updated the
    /// branch, then those of its mode.
    pub fn flags(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.rebase {
            out.push("rebase".to_string());
        }
        out.extend(flags(self.mode));
        out
    }
}

/// The deadline of a merge asked for `now`.
fn deadline(now: DateTime<Utc>, config: &Config) -> DateTime<Utc> {
    let hours = i64::try_from(CommandsConfig::of(config).merge.deadline_hours).unwrap_or(i64::MAX);
    Duration::try_hours(hours)
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// What a `merge -r` waits with once the branch is updated.
struct Wait {
    approvers: Vec<String>,
    tolerate: u32,
    /// [`Mode::Normal`], or [`Mode::IgnoreCurrent`] for `-r -i`.
    mode: Mode,
    /// `-r -i`: the failures on the head seen when the command was given,
    /// ignored on the updated head where they happen again.
    ignored: Vec<Failure>,
}

/// `merge -r`: update the branch with its base pinned to the head seen now,
/// then pin the head the update made and wait for its checks like any
/// pending merge (the reply is rewritten with the new head).
fn update_then_wait(facts: &Facts, pull: &PullDetail, wait: Wait, config: &Config) -> Accepted {
    let Wait {
        approvers,
        tolerate,
        mode,
        ignored,
    } = wait;
    let ignoring = if ignored.is_empty() {
        String::new()
    } else {
        format!(
            "\n\nIgnoring on the updated head only these failures, where they happen again: {}",
            super::reply::names(&failure_names(&ignored))
        )
    };
    let state = PendingMerge {
        pr: pull.number,
        sha: pull.head.sha.clone(),
        requester: facts.trigger.author.clone(),
        mode,
        ignored: Vec::new(),
        approvers,
        tolerate,
        rebase: true,
        deadline: deadline(facts.now, config),
        body_sha256: hidden::DIGEST_PLACEHOLDER.to_string(),
        ignored_failures: ignored,
    };
    let pin_id = format!("update-pin-{}", pull.number);
    let mut accepted = Accepted::new(Vec::new());
    accepted.writes = vec![
        (
            Write::UpdateBranchAndPin {
                number: pull.number,
                expected_head_sha: pull.head.sha.clone(),
                to: facts.reply_to(),
                state,
            },
            format!(
                "{} asked to update the branch, then merge",
                facts.trigger.author
            ),
            StepOptions {
                id: Some(pin_id.clone()),
                ..StepOptions::default()
            },
        ),
        (
            Write::AddLabels {
                number: pull.number,
                labels: vec![LABEL_MERGING.to_string()],
            },
            "the merge waits for the updated head's checks".to_string(),
            StepOptions {
                depends_on: vec![pin_id],
                ..StepOptions::default()
            },
        ),
    ];
    accepted.reply = Some(format!(
        "Updating {} with {}, then merging the updated head once its checks pass.{ignoring}",
        code(&pull.head.sha),
        code(&pull.base.name)
    ));
    accepted
}

/// `merge -r -f`: update the branch with its base pinned to the head seen
/// now, then merge at once exactly the head that update made (approvals
/// still apply; checks are not waited for).
fn update_then_merge(
    facts: &Facts,
    pull: &PullDetail,
    approvers: &[String],
    reason: &str,
    config: &Config,
) -> Accepted {
    let (title, message) = commit_text(pull, approvers);
    let who = &facts.trigger.author;
    let id = format!("update-merge-{}", pull.number);
    let mut accepted = Accepted::new(Vec::new());
    accepted.reaction = "rocket";
    accepted.writes = vec![
        (
            Write::UpdateBranchAndMerge {
                number: pull.number,
                expected_head_sha: pull.head.sha.clone(),
                method: CommandsConfig::of(config).merge.method,
                title,
                message,
                to: facts.reply_to(),
            },
            format!("{who} asked to update the branch, then merge it (forced)"),
            StepOptions {
                id: Some(id.clone()),
                ..StepOptions::default()
            },
        ),
        merged_label(pull.number, id),
    ];
    if facts.audit {
        accepted.writes.extend(super::audit::merge_steps(
            super::audit::Entry {
                pr: pull.number,
                action: "merge",
                sha: pull.head.sha.clone(),
                actor: who.clone(),
                reason: reason.to_string(),
                classification: String::new(),
                flags: vec!["rebase".into(), "force".into()],
            },
            &facts.repo,
            facts.now,
            "merged",
            &format!("update-merge-{}", pull.number),
        ));
    }
    accepted.reply = Some(format!(
        "Updating {} with {}, then merging the head that update makes at once (approved by {}); nothing else pushed to the branch is merged.\n\nForced by {}: {}",
        code(&pull.head.sha),
        code(&pull.base.name),
        inline(&approvers.join(", ")),
        inline(who),
        inline(reason)
    ));
    accepted
}

/// The text of a pending merge's reply, its state sealed in it by
/// [`seal_reply`].
fn waiting_text(lead: &str, state: &PendingMerge) -> String {
    format!(
        "{lead}\n\nA push to the pull request cancels this merge.\n\n{}",
        hidden::line(STATE_KIND, state)
    )
}

/// Update pull request `number`'s branch with its base while its head is
/// `expected_head_sha`, and read back the head our update made (a commit
/// whose parents hold the head we saw; GitHub may take a moment).
/// `Ok(Err(why))` when anything else is on the branch; the reply `to` says
/// why the update failed either way.
async fn update_and_read_back(
    c: &crate::github::Client,
    number: u64,
    expected_head_sha: &str,
    to: &ReplyTo,
) -> Result<Result<String, String>, crate::github::GithubError> {
    let (kind, key) = to.marker();
    let (kind_ref, key_ref) = (kind.as_str(), key.as_str());
    let fail = |why: String| {
        let body = to.body(&format!("## Merge failed\n\n{why}"));
        async move {
            let _ = c
                .upsert_comment(number, &body, Some((kind_ref, key_ref)))
                .await;
        }
    };
    if let Err(e) = c.update_branch(number, expected_head_sha).await {
        fail(format!(
            "The branch could not be updated: {}",
            inline(&e.to_string())
        ))
        .await;
        return Err(e);
    }
    let mut head = expected_head_sha.to_string();
    for attempt in 0..UPDATE_READS {
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
        head = c.pull_detail(number).await?.head.sha;
        if head != expected_head_sha {
            break;
        }
    }
    if head != expected_head_sha {
        let parents = c.commit_detail(&head).await?.parents;
        if !parents.iter().any(|p| p == expected_head_sha) {
            let why = format!(
                "The branch moved to {} while it was being updated, and not by the update; re-issue the merge command.",
                code(&head)
            );
            fail(why.clone()).await;
            return Ok(Err(why));
        }
    }
    Ok(Ok(head))
}

/// Carry out [`Write::UpdateBranchAndPin`]: update the branch, read back the
/// head the update made, and rewrite the reply with that head pinned.
/// Anything else on the branch ends the merge: the reply says why.
pub async fn update_and_pin(
    c: &crate::github::Client,
    number: u64,
    expected_head_sha: &str,
    to: &ReplyTo,
    state: &PendingMerge,
) -> Result<Result<String, String>, crate::github::GithubError> {
    let head = match update_and_read_back(c, number, expected_head_sha, to).await? {
        Ok(head) => head,
        Err(why) => return Ok(Err(why)),
    };
    let (kind, key) = to.marker();
    let state = PendingMerge {
        sha: head.clone(),
        ..state.clone()
    };
    let mut lead = format!(
        "Updated the branch: merging {} once its checks pass (giving up at {} UTC).",
        code(&head),
        state.deadline.format("%Y-%m-%d %H:%M")
    );
    if !state.ignored_failures.is_empty() {
        lead.push_str(&format!(
            "\n\nIgnoring the checks that were failing on {} only where they fail the same way again: {}",
            code(expected_head_sha),
            super::reply::names(&failure_names(&state.ignored_failures))
        ));
    }
    let body = seal_reply(to.body(&waiting_text(&lead, &state)));
    c.upsert_comment(number, &body, Some((&kind, &key))).await?;
    Ok(Ok(head))
}

/// Carry out [`Write::UpdateBranchAndMerge`] (`merge -r -f`): update the
/// branch, read back the head the update made, and merge exactly that
/// head (the merge call carries its `sha`). `Ok(Ok((head merged, merge
/// commit)))`, or `Ok(Err(why))` when the branch moved otherwise; a
/// refused merge is explained in the reply.
pub async fn update_and_merge(
    c: &crate::github::Client,
    number: u64,
    expected_head_sha: &str,
    method: &str,
    title: &str,
    message: &str,
    to: &ReplyTo,
) -> Result<Result<(String, String), String>, crate::github::GithubError> {
    let head = match update_and_read_back(c, number, expected_head_sha, to).await? {
        Ok(head) => head,
        Err(why) => return Ok(Err(why)),
    };
    match c.merge_pull(number, &head, method, title, message).await {
        Ok(merged) => Ok(Ok((head, merged))),
        Err(e) => {
            super::reply::explain_merge_refusal(c, to, &e).await;
            Err(e)
        }
    }
}

/// Whether pull request `number` is merged with `sha`, the pinned head, as
/// its head: read back when GitHub refuses a merge, because a concurrent
/// wake of the same waiting merge may have landed it first (its 405 is then
/// no failure of ours: nothing is recorded and nothing replied). `false`
/// when the read fails.
pub async fn merged_as_pinned(c: &crate::github::Client, number: u64, sha: &str) -> bool {
    c.pull_detail(number)
        .await
        .is_ok_and(|p| p.merged && p.head.sha.eq_ignore_ascii_case(sha))
}

/// The names of `failures`, for a reply.
fn failure_names(failures: &[Failure]) -> Vec<String> {
    failures.iter().map(Failure::name).collect()
}

/// Reads of the pull request after an update, at most, waiting for its head
/// to move.
const UPDATE_READS: usize = 3;

/// Unrelated failures a merge going by `rule` tolerates, at most.
pub fn tolerance_of(rule: Option<&MergeRule>, config: &Config) -> u32 {
    match rule {
        Some(r) if !r.ignore_flaky_failures => 0,
        _ => CommandsConfig::of(config).merge.ignorable_failures,
    }
}

/// The reply's line naming the tolerated failures.
pub fn tolerated_line(tolerated: &[String]) -> String {
    format!(
        "Tolerating failures Dr. CI classifies as flaky, broken trunk or unstable: {}",
        super::reply::names(tolerated)
    )
}

/// Seal a reply body that carries a pending merge (the digest covers the
/// whole body, marker included).
pub fn seal_reply(body: String) -> String {
    if body.contains(&format!("<!-- ci-medic:{STATE_KIND} ")) {
        hidden::seal(body)
    } else {
        body
    }
}

/// The pending merge a reply of ours holds, if its seal is intact.
///
/// Versions before the `rebase` field (which every version since writes)
/// recorded `merge -r -i` as the names of the checks failing before the
/// update, ignored by name on the updated head, where any failure in them,
/// even one the update caused, passed. Such a record cannot be told from a
/// plain `-i` one, so neither ignores anything: it fails closed.
pub fn read_pending(body: &str) -> Option<PendingMerge> {
    let mut state: PendingMerge = hidden::read(body, STATE_KIND)?;
    if !hidden::is_as_sealed(body, &state.body_sha256) {
        return None;
    }
    let raw: serde_json::Value = hidden::read(body, STATE_KIND)?;
    if raw.get("rebase").is_none() {
        state.ignored.clear();
    }
    Some(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::pulls::ReviewInfo;
    use crate::github::types::UserInfo;

    fn review(login: &str, state: &str) -> ReviewInfo {
        ReviewInfo {
            id: 1,
            user: Some(UserInfo {
                login: login.into(),
                kind: None,
            }),
            state: state.into(),
            commit_id: None,
        }
    }

    fn run(id: u64, name: &str, status: &str, conclusion: Option<&str>) -> RunInfo {
        serde_json::from_value(serde_json::json!({
            "id": id, "name": name, "event": "pull_request", "head_sha": "abc",
            "status": status, "conclusion": conclusion,
            "created_at": format!("2026-01-01T00:00:{:02}Z", id % 60),
        }))
        .expect("run")
    }

    #[test]
    fn the_latest_verdict_of_each_reviewer_counts() {
        let v = verdicts(&[
            review("a", "CHANGES_REQUESTED"),
            review("a", "COMMENTED"),
            review("b", "APPROVED"),
            review("a", "APPROVED"),
            review("c", "APPROVED"),
            review("c", "DISMISSED"),
        ]);
        assert_eq!(v.get("a").map(String::as_str), Some("APPROVED"));
        assert_eq!(v.get("b").map(String::as_str), Some("APPROVED"));
        assert_eq!(v.get("c"), None);
    }

    #[test]
    fn a_rerun_that_passed_replaces_the_failure() {
        let c = checks(
            &[
                run(1, "CI", "completed", Some("failure")),
                run(2, "CI", "completed", Some("success")),
                run(3, "Lint", "in_progress", None),
                run(4, "Docs", "completed", Some("timed_out")),
            ],
            &[],
        );
        assert_eq!(c.failing, ["Docs"]);
        assert_eq!(c.pending, ["Lint"]);
    }

    fn check_run(id: u64, name: &str, status: &str, conclusion: Option<&str>) -> CheckRunInfo {
        serde_json::from_value(serde_json::json!({
            "id": id, "name": name, "head_sha": "abc", "status": status,
            "conclusion": conclusion,
        }))
        .expect("check run")
    }

    #[test]
    fn a_failing_or_unfinished_check_run_holds_a_merge() {
        let c = checks(
            &[run(1, "CI", "completed", Some("success"))],
            &[
                check_run(7, "crcr/org/npu / test", "completed", Some("failure")),
                check_run(8, "Dr. CI", "in_progress", None),
                check_run(9, "ci-medic / labels", "completed", Some("success")),
                // An older failure of a name whose newer run passed.
                check_run(3, "ext", "completed", Some("failure")),
                check_run(4, "ext", "completed", Some("success")),
            ],
        );
        assert_eq!(c.failing, ["crcr/org/npu / test"]);
        assert_eq!(c.pending, ["Dr. CI"]);
    }

    fn failure(check: &str, job: Option<&str>, step: Option<&str>) -> Failure {
        Failure {
            check: check.into(),
            job: job.map(Into::into),
            conclusion: Some(Conclusion::Failure),
            step: step.map(Into::into),
        }
    }

    #[test]
    fn after_an_update_only_the_same_failures_are_ignored() {
        let state = PendingMerge {
            pr: 4,
            sha: "new".into(),
            requester: "octocat".into(),
            mode: Mode::IgnoreCurrent,
            ignored: Vec::new(),
            approvers: Vec::new(),
            tolerate: 0,
            deadline: DateTime::from_timestamp(1_800_000_000, 0).expect("time"),
            body_sha256: String::new(),
            rebase: true,
            ignored_failures: vec![
                failure("Lint", Some("fmt"), Some("cargo fmt")),
                failure("ext", None, None),
            ],
        };
        let failing = vec!["Lint".to_string(), "ext".to_string()];
        // The same failures again: nothing blocks.
        let same = [
            failure("Lint", Some("fmt"), Some("cargo fmt")),
            failure("ext", None, None),
        ];
        assert!(unignored(&state, &failing, &same).is_empty());
        // Steps unknown on either side: the job and its conclusion decide.
        let unknown = [
            failure("Lint", Some("fmt"), None),
            failure("ext", None, None),
        ];
        assert!(unignored(&state, &failing, &unknown).is_empty());
        // A new job failing in the same workflow, or the same job in another
        // step, or ending otherwise, or no failed job known: it blocks.
        for lint in [
            vec![
                failure("Lint", Some("fmt"), Some("cargo fmt")),
                failure("Lint", Some("clippy"), None),
            ],
            vec![failure("Lint", Some("fmt"), Some("setup"))],
            vec![Failure {
                conclusion: Some(Conclusion::TimedOut),
                ..failure("Lint", Some("fmt"), None)
            }],
            vec![],
        ] {
            let mut now = lint.clone();
            now.push(failure("ext", None, None));
            assert_eq!(unignored(&state, &failing, &now), ["Lint"], "{lint:?}");
        }
        // Plain `-i` on the same head: by name.
        let plain = PendingMerge {
            ignored: vec!["Lint".into()],
            ignored_failures: Vec::new(),
            ..state
        };
        assert_eq!(unignored(&plain, &failing, &[]), ["ext"]);
    }

    /// A waiting `-i` merge of #4 ignoring `Docs`; `rebase` as recorded.
    fn waiting_ignore_current(rebase: bool) -> PendingMerge {
        PendingMerge {
            pr: 4,
            sha: "abc".into(),
            requester: "octocat".into(),
            mode: Mode::IgnoreCurrent,
            ignored: vec!["Docs".into()],
            approvers: vec!["hubot".into()],
            tolerate: 0,
            rebase,
            deadline: DateTime::from_timestamp(1_800_000_000, 0).expect("time"),
            body_sha256: hidden::DIGEST_PLACEHOLDER.into(),
            ignored_failures: Vec::new(),
        }
    }

    #[test]
    fn pending_state_survives_only_unedited() {
        let state = waiting_ignore_current(true);
        let body = seal_reply(format!(
            "<!-- ci-medic:command:comment-1 -->\nwaiting\n\n{}",
            hidden::line(STATE_KIND, &state)
        ));
        let read = read_pending(&body).expect("sealed state");
        assert_eq!(
            (read.pr, read.sha.as_str(), read.mode),
            (4, "abc", Mode::IgnoreCurrent)
        );
        let edited = body.replace("waiting", "waiting!");
        assert_eq!(read_pending(&edited), None);
    }

    #[test]
    fn an_ignore_current_wait_recorded_before_the_rebase_field_ignores_nothing() {
        let state = waiting_ignore_current(false);
        let sealed = |line: String| {
            seal_reply(format!(
                "<!-- ci-medic:command:comment-1 -->\nwaiting\n\n{line}"
            ))
        };
        // As the current version writes it: plain `-i` ignores `Docs`.
        let line = hidden::line(STATE_KIND, &state);
        let current = read_pending(&sealed(line.clone())).expect("current");
        assert_eq!(current.ignored, ["Docs"]);
        assert!(unignored(&current, &["Docs".into()], &[]).is_empty());
        // As an older `merge -r -i` wrote it: no `rebase`, no
        // `ignored_failures`. Read, but ignoring nothing.
        let old_line = line.replace("\"rebase\":false,", "");
        assert!(!old_line.contains("rebase") && !old_line.contains("ignored_failures"));
        let old = read_pending(&sealed(old_line)).expect("old but sealed");
        assert_eq!((old.pr, old.mode), (4, Mode::IgnoreCurrent));
        assert!(old.ignored.is_empty());
        assert_eq!(unignored(&old, &["Docs".into()], &[]), ["Docs"]);
    }
}
