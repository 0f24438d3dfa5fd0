//! Acting on a command: gather (reads only) and decide (pure).
//!
//! Whose permission counts is always the commenter's (the reviewer's for a
//! command in a review), read from the collaborator-permission endpoint. A
//! refused command gets a `confused` reaction and one reply saying why; an
//! accepted one a `+1` reaction (a reply when it came in a review, which
//! cannot take reactions). Parse errors and `help` are answered with one
//! reply and nothing else.

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::config::CommandsConfig;
use super::merge::{self, MergeFacts};
use super::parse::Command;
use super::reply::{self, Refusal, ReplyTo};
use super::trigger::{Source, Trigger};
use crate::app::Ctx;
use crate::config::Config;
use crate::github::pulls::PullDetail;
use crate::github::types::RunInfo;
use crate::permissions::{Access, Action, may};
use crate::plan::{Plan, StepOptions, Write};
use crate::report::markdown::code;

/// Runs of a head commit read for `retest` and `merge`, at most.
pub const MAX_HEAD_RUNS: usize = 300;

/// What a command is decided from.
#[derive(Debug, Clone)]
pub struct Facts {
    pub trigger: Trigger,
    /// The command was written by the action's own identity: never acted on.
    pub ours: bool,
    /// A reply to this command exists: it was handled already (the event
    /// was delivered again).
    pub answered: bool,
    /// The commenter's access; `None` when the command needs none.
    pub access: Option<Access>,
    /// The pull request, for commands on one.
    pub pull: Option<PullDetail>,
    /// `label`: each label and whether the repository has it.
    pub labels: Vec<(String, bool)>,
    /// Runs of the pull request's head commit.
    pub runs: Vec<RunInfo>,
    /// `merge`: check runs of the head commit.
    pub check_runs: Vec<crate::github::checks::CheckRunInfo>,
    /// `merge`: approvals and the pending-merge state.
    pub merge: Option<MergeFacts>,
    /// `revert`: the default branch's head and the exact revert of the
    /// merge commit onto it (or why there is none).
    pub revert: Option<(String, crate::autorevert::revert::RevertChanges)>,
    /// `cherry-pick`: the target branch's head and the pick onto it; `None`
    /// inside when the branch does not exist.
    pub pick: Option<Option<(String, super::cherry_pick::Pick)>>,
    /// `rebase -b BRANCH` onto another branch than the base: the rebase
    /// worked out; `None` inside when the branch does not exist.
    pub rebase: Option<Option<super::rebase::Gathered>>,
    /// `rebase`: the commenter without write access authored the pull
    /// request and a commit on the default branch.
    pub author_with_commit: bool,
    /// A ClickHouse store is configured: merges and reverts are recorded.
    pub audit: bool,
    pub default_branch: String,
    pub repo: String,
    pub now: DateTime<Utc>,
}

impl Facts {
    pub fn reply_to(&self) -> ReplyTo {
        ReplyTo {
            number: self.trigger.number,
            key: self.trigger.source.key(),
        }
    }
}

/// Commands whose writes are not idempotent: answered once, whatever the
/// deliveries.
fn once_only(c: &Command) -> bool {
    matches!(
        c,
        Command::Merge { .. }
            | Command::Retest
            | Command::Rebase { .. }
            | Command::Revert { .. }
            | Command::CherryPick { .. }
    )
}

/// Read what the command needs. Writes nothing.
pub async fn gather(ctx: &Ctx, trigger: Trigger) -> Result<Facts> {
    let gh = ctx.github()?;
    let mut facts = Facts {
        ours: ctx.identity().is_ours(&trigger.author),
        answered: false,
        access: None,
        pull: None,
        labels: Vec::new(),
        runs: Vec::new(),
        check_runs: Vec::new(),
        merge: None,
        revert: None,
        pick: None,
        rebase: None,
        author_with_commit: false,
        audit: ctx.store_config().is_ok(),
        default_branch: String::new(),
        repo: gh.repo().full(),
        now: Utc::now(),
        trigger,
    };
    let command = match &facts.trigger.parsed {
        Ok(c) if !facts.ours => c.clone(),
        _ => return Ok(facts),
    };
    if command == Command::Help {
        return Ok(facts);
    }
    if once_only(&command) {
        let to = facts.reply_to();
        facts.answered = gh.comments(to.number).await?.iter().any(|c| {
            gh.identity().is_ours(&c.user.login)
                && c.body.as_deref().is_some_and(|b| to.is_reply(b))
        });
        if facts.answered {
            return Ok(facts);
        }
    }
    facts.access = Some(ctx.permissions()?.access(&facts.trigger.author).await?);
    match &command {
        Command::Label { labels } => {
            for l in labels {
                facts.labels.push((l.clone(), gh.label_exists(l).await?));
            }
        }
        Command::Retest if facts.trigger.is_pull => {
            let pull = gh.pull_detail(facts.trigger.number).await?;
            facts.runs = gh
                .runs(&format!("head_sha={}", pull.head.sha), MAX_HEAD_RUNS)
                .await?;
            facts.pull = Some(pull);
        }
        Command::Revert { .. } if facts.trigger.is_pull => {
            let pull = gh.pull_detail(facts.trigger.number).await?;
            if let (true, Some(sha)) = (pull.merged, pull.merge_commit_sha.as_deref()) {
                facts.default_branch = gh.default_branch().await?;
                if let Some(head) = gh.branch_sha(&facts.default_branch).await? {
                    let changes = crate::autorevert::revert::gather(gh, sha, &head).await?;
                    facts.revert = Some((head, changes));
                }
            }
            facts.pull = Some(pull);
        }
        Command::CherryPick { onto, .. } if facts.trigger.is_pull => {
            let pull = gh.pull_detail(facts.trigger.number).await?;
            if let (true, Some(sha)) = (pull.merged, pull.merge_commit_sha.as_deref()) {
                facts.pick = Some(match gh.branch_sha(onto).await? {
                    Some(head) => {
                        let pick = super::cherry_pick::gather(gh, sha, &head).await?;
                        Some((head, pick))
                    }
                    None => None,
                });
            }
            facts.pull = Some(pull);
        }
        Command::Rebase { branch } if facts.trigger.is_pull => {
            let pull = gh.pull_detail(facts.trigger.number).await?;
            let access = facts.access.unwrap_or(Access::None);
            if !access.can_write() && pull.author().eq_ignore_ascii_case(&facts.trigger.author) {
                facts.default_branch = gh.default_branch().await?;
                facts.author_with_commit =
                    super::rebase::has_commit_on(gh, &facts.default_branch, &facts.trigger.author)
                        .await?;
            }
            let may = access.can_write() || facts.author_with_commit;
            let onto = branch.as_deref().filter(|b| *b != pull.base.name);
            // A fork's branch is rebased only where maintainers may edit it.
            let writable = !pull.from_fork(&facts.repo)
                || (pull.maintainer_can_modify && pull.head.repo.is_some());
            if let (true, Some(onto), "open", true) = (may, onto, pull.state.as_str(), writable) {
                facts.rebase =
                    Some(super::rebase::gather(gh, &pull.base.name, &pull.head.sha, onto).await?);
            }
            facts.pull = Some(pull);
        }
        Command::Merge {
            ignore_current,
            rebase,
            ..
        } if facts.trigger.is_pull => {
            facts.default_branch = gh.default_branch().await?;
            let pull = gh.pull_detail(facts.trigger.number).await?;
            facts.merge =
                Some(merge::gather(ctx, &pull, &ctx.config, &facts.default_branch).await?);
            facts.runs = gh
                .runs(&format!("head_sha={}", pull.head.sha), MAX_HEAD_RUNS)
                .await?;
            facts.check_runs = gh.check_runs_of(&pull.head.sha).await?;
            if let Some(m) = facts.merge.as_mut() {
                let failing = merge::checks(&facts.runs, &facts.check_runs).failing;
                m.tolerance = super::tolerance::gather(
                    gh,
                    &ctx.config,
                    &facts.runs,
                    &facts.check_runs,
                    &failing,
                )
                .await?;
                if *ignore_current && rebase.is_some() {
                    m.failed_jobs = merge::failed_jobs(gh, &facts.runs, &failing).await?;
                }
            }
            facts.pull = Some(pull);
        }
        _ => {}
    }
    Ok(facts)
}

/// The writes that answer a command. Pure.
pub fn decide(facts: &Facts, config: &Config) -> Plan {
    let mut plan = Plan::new("commands");
    let t = &facts.trigger;
    if facts.ours {
        plan.note(format!(
            "#{}: a command written by ci-medic itself is not acted on",
            t.number
        ));
        return plan;
    }
    if facts.answered {
        plan.note(format!("#{}: this command was answered already", t.number));
        return plan;
    }
    let to = facts.reply_to();
    let command = match &t.parsed {
        Err(e) => {
            answer(
                &mut plan,
                &to,
                &reply::parse_error(e),
                "the command could not be parsed",
            );
            return plan;
        }
        Ok(Command::Help) => {
            answer(
                &mut plan,
                &to,
                &reply::help(&t.handle),
                "help was asked for",
            );
            return plan;
        }
        Ok(c) => c,
    };
    let access = facts.access.unwrap_or(Access::None);
    let outcome = match command {
        Command::Label { .. } => label(facts, config, access),
        Command::Retest => retest(facts, config, access),
        Command::Merge { .. } => match &facts.pull {
            Some(pull) => crate::crcr::gate::decide_merge(facts, pull, command, access, config),
            None => Err(not_a_pull(command.name())),
        },
        Command::Rebase { branch } => rebase(facts, branch.as_deref(), access),
        Command::Revert {
            message,
            classification,
        } => revert(facts, message, classification, access, config),
        Command::CherryPick {
            onto,
            classification,
            fixes,
        } => cherry_pick(facts, onto, classification, fixes.as_deref(), access),
        other => Err(Refusal::new(format!(
            "{} is not available yet.",
            code(other.name())
        ))),
    };
    match outcome {
        Ok(accepted) => {
            let reaction = accepted.reaction;
            // The reply says what is being done: it goes first, so a
            // second delivery finds it (see `Facts::answered`).
            if let Some(text) = &accepted.reply {
                answer(&mut plan, &to, text, "the command was accepted");
            }
            for (w, why, options) in accepted.writes {
                plan.push_with(w, why, options);
            }
            match t.source.comment_id() {
                Some(id) => {
                    plan.push_best_effort(
                        Write::React {
                            comment_id: id,
                            content: reaction.to_string(),
                        },
                        "the command was accepted",
                    );
                }
                None if accepted.reply.is_none() => {
                    answer(
                        &mut plan,
                        &to,
                        &format!("{} accepted.", code(command.name())),
                        "a review cannot take a reaction",
                    );
                }
                None => {}
            }
        }
        Err(why) => refuse(&mut plan, &to, t.source, command.name(), &why),
    }
    plan
}

/// What an accepted command writes.
#[derive(Debug, Default)]
pub struct Accepted {
    /// The reaction to the command's comment.
    pub reaction: &'static str,
    /// A reply, when there is more to say than the reaction.
    pub reply: Option<String>,
    pub writes: Vec<(Write, String, StepOptions)>,
}

impl Accepted {
    pub fn new(writes: Vec<(Write, String)>) -> Accepted {
        Accepted {
            reaction: "+1",
            reply: None,
            writes: writes
                .into_iter()
                .map(|(w, why)| (w, why, StepOptions::default()))
                .collect(),
        }
    }
}

/// One reply (created, or updated when the event is delivered again).
fn answer(plan: &mut Plan, to: &ReplyTo, text: &str, why: &str) -> String {
    plan.push(
        Write::Comment {
            number: to.number,
            body: merge::seal_reply(to.body(text)),
            marker: Some(to.marker()),
        },
        why,
    )
}

/// A `confused` reaction (when the command has a comment) and one reply.
fn refuse(plan: &mut Plan, to: &ReplyTo, source: Source, command: &str, why: &Refusal) {
    if let Some(id) = source.comment_id() {
        plan.push_best_effort(
            Write::React {
                comment_id: id,
                content: "confused".into(),
            },
            "the command was refused",
        );
    }
    answer(
        plan,
        to,
        &reply::refused(command, why),
        "the command was refused",
    );
}

pub fn not_a_pull(command: &str) -> Refusal {
    Refusal::new(format!(
        "{} works on pull requests; this is an issue.",
        code(command)
    ))
}

/// Whether the commenter has `action`'s access; the refusal otherwise.
pub fn require(
    facts: &Facts,
    access: Access,
    action: Action,
    command: &str,
) -> Result<(), Refusal> {
    if may(access, action) {
        Ok(())
    } else {
        Err(reply::needs_access(
            &facts.trigger.author,
            command,
            action.needs().name(),
            access.name(),
        ))
    }
}

fn label(facts: &Facts, config: &Config, access: Access) -> Result<Accepted, Refusal> {
    let t = &facts.trigger;
    let (known, unknown): (Vec<_>, Vec<_>) = facts.labels.iter().partition(|(_, exists)| *exists);
    let known: Vec<String> = known.into_iter().map(|(l, _)| l.clone()).collect();
    let unknown: Vec<String> = unknown.into_iter().map(|(l, _)| l.clone()).collect();
    let restricted: Vec<String> = known
        .iter()
        .filter(|l| CommandsConfig::of(config).label.is_restricted(l))
        .cloned()
        .collect();
    if !restricted.is_empty() {
        require(facts, access, Action::AddRestrictedLabel, "label").map_err(|r| {
            Refusal::new(format!(
                "{} (restricted: {})",
                r.0,
                reply::names(&restricted)
            ))
        })?;
    } else if !t.author.eq_ignore_ascii_case(&t.issue_author) {
        // Anyone may label what they opened; others need triage access.
        require(facts, access, Action::AddLabel, "label")?;
    }
    if known.is_empty() {
        return Err(Refusal::new(format!(
            "None of these labels exist in the repository: {}.",
            reply::names(&unknown)
        )));
    }
    let mut accepted = Accepted::new(vec![(
        Write::AddLabels {
            number: t.number,
            labels: known,
        },
        format!("{} asked for these labels", t.author),
    )]);
    if !unknown.is_empty() {
        accepted.reply = Some(format!(
            "Added the labels that exist. These do not, and were not added: {}.",
            reply::names(&unknown)
        ));
    }
    Ok(accepted)
}

/// Conclusions a re-run of failed jobs picks up.
fn failed(run: &RunInfo) -> bool {
    use crate::event::{Conclusion, Status};
    run.status == Some(Status::Completed)
        && run
            .conclusion
            .as_ref()
            .is_some_and(|c| c.is_failure_or_startup() || *c == Conclusion::Cancelled)
}

fn retest(facts: &Facts, config: &Config, access: Access) -> Result<Accepted, Refusal> {
    let t = &facts.trigger;
    let Some(pull) = &facts.pull else {
        return Err(not_a_pull("retest"));
    };
    if !t.author.eq_ignore_ascii_case(pull.author()) {
        require(facts, access, Action::Retest, "retest").map_err(|r| {
            Refusal::new(format!(
                "{} (the pull request's author may retest it too)",
                r.0
            ))
        })?;
    }
    let max = config.retry.max_attempts;
    let mut writes = Vec::new();
    let mut lines = Vec::new();
    for run in facts.runs.iter().filter(|r| failed(r)) {
        let name = code(run.name.as_deref().unwrap_or("workflow"));
        if run.run_attempt > max {
            lines.push(format!(
                "- {name} (run {}): not re-run, already at attempt {} (at most {max} re-run{})",
                run.id,
                run.run_attempt,
                if max == 1 { "" } else { "s" }
            ));
            continue;
        }
        lines.push(format!(
            "- {name} (run {}): re-running its failed jobs",
            run.id
        ));
        writes.push((
            Write::RerunFailedJobs { run_id: run.id },
            format!("{} asked to retest", t.author),
        ));
    }
    if writes.is_empty() {
        let mut why = format!(
            "No failed run of the head commit {} can be re-run.",
            code(&pull.head.sha)
        );
        if !lines.is_empty() {
            why.push_str("\n\n");
            why.push_str(&lines.join("\n"));
        }
        return Err(Refusal::new(why));
    }
    let mut accepted = Accepted::new(writes);
    accepted.reply = Some(format!(
        "Retesting {}:\n\n{}",
        code(&pull.head.sha),
        lines.join("\n")
    ));
    Ok(accepted)
}

/// Tell what happened: the plan and its outcome in the step summary and on
/// stdout (the command is untrusted text: echoed inert). Every audit of a
/// merge ends up here too.
pub fn report(
    ctx: &Ctx,
    title: &str,
    plan: &Plan,
    report: &crate::plan::Report,
) -> Result<std::process::ExitCode> {
    use crate::report::markdown::fenced;
    let mut md = format!("## ci-medic {title}\n\n");
    md.push_str(&fenced(&plan.to_text(), "text"));
    md.push_str("\n\n");
    md.push_str(&fenced(&report.to_text(), "text"));
    md.push('\n');
    md.push_str(&super::audit::summary(report));
    ctx.env.append_summary(&md)?;
    if ctx.json() {
        ctx.env
            .print_json(&serde_json::json!({"plan": plan, "report": report}))?;
    } else {
        ctx.env.echo_untrusted(&plan.to_text());
        ctx.env.echo_untrusted(&report.to_text());
    }
    Ok(if report.failed() {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    })
}

/// `rebase`: bring the branch up to date with its base through GitHub's
/// update-branch, pinned to the head seen now (`expected_head_sha`); with
/// `-b` another branch than the base, replay the pull request's commits
/// onto that branch (see [`super::rebase`]). Writers may, and the pull
/// request's author when they have a commit on the default branch.
fn rebase(facts: &Facts, branch: Option<&str>, access: Access) -> Result<Accepted, Refusal> {
    let Some(pull) = &facts.pull else {
        return Err(not_a_pull("rebase"));
    };
    if !facts.author_with_commit {
        require(facts, access, Action::Rebase, "rebase").map_err(|r| {
            Refusal::new(format!(
                "{} (The pull request's author may also rebase it once they have a commit on the default branch.)",
                r.0
            ))
        })?;
    }
    if pull.state != "open" {
        return Err(Refusal::new("The pull request is closed."));
    }
    // The fork the branch lives in, when it is not this repository.
    let fork = if pull.from_fork(&facts.repo) {
        // A deleted fork says it allows no edits too: say what is true.
        let Some(r) = &pull.head.repo else {
            return Err(Refusal::new(
                "The fork the branch lived in was deleted; there is no branch to rebase.",
            ));
        };
        if !pull.maintainer_can_modify {
            return Err(Refusal::new(
                "The branch is in a fork that does not allow edits by maintainers; its author can allow them, or update the branch.",
            ));
        }
        Some(r.full_name.clone())
    } else {
        None
    };
    if let Some(b) = branch
        && b != pull.base.name
    {
        return rebase_onto(facts, pull, b, fork);
    }
    let mut accepted = Accepted::new(vec![(
        Write::UpdateHeadBranch {
            number: pull.number,
            expected_head_sha: pull.head.sha.clone(),
            fork,
            to: facts.reply_to(),
        },
        format!("{} asked to rebase", facts.trigger.author),
    )]);
    accepted.reply = Some(format!(
        "Bringing {} up to date with {}.",
        code(&pull.head.sha),
        code(&pull.base.name)
    ));
    Ok(accepted)
}

/// `rebase -b BRANCH`: the pull request's own commits replayed onto
/// `onto`, or the refusal naming the conflicting files.
fn rebase_onto(
    facts: &Facts,
    pull: &PullDetail,
    onto: &str,
    head_repo: Option<String>,
) -> Result<Accepted, Refusal> {
    use super::rebase::Plan as Rebase;
    use crate::report::markdown::inline;
    let gathered = match &facts.rebase {
        Some(Some(g)) => g,
        Some(None) | None => {
            return Err(Refusal::new(format!("There is no branch {}.", code(onto))));
        }
    };
    let (commits, merges, empty) = match &gathered.plan {
        Rebase::Commits {
            commits,
            merges_dropped,
            empty_dropped,
        } => (commits, *merges_dropped, *empty_dropped),
        Rebase::Conflicts {
            commit,
            subject,
            paths,
        } => {
            return Err(Refusal::new(format!(
                "The commits do not apply to {}: commit {} ({}) changes files that {} changed differently: {}. Nothing was changed; rebase by hand, or merge {} in.",
                code(onto),
                code(commit),
                inline(subject),
                code(onto),
                reply::names(paths),
                code(onto)
            )));
        }
        Rebase::Refused(why) => {
            return Err(Refusal::new(format!(
                "No rebase onto {} is possible: {}.",
                code(onto),
                inline(why)
            )));
        }
    };
    let mut accepted = Accepted::new(vec![(
        Write::RebaseBranch {
            number: pull.number,
            branch: pull.head.name.clone(),
            expected_head_sha: pull.head.sha.clone(),
            onto: onto.to_string(),
            onto_sha: gathered.onto_sha.clone(),
            onto_tree: gathered.onto_tree.clone(),
            commits: commits.clone(),
            to: facts.reply_to(),
            head_repo: head_repo.clone(),
        },
        format!("{} asked to rebase onto {onto}", facts.trigger.author),
    )]);
    let mut text = format!(
        "Rebasing {} commit{} of {} onto {} ({}).",
        commits.len(),
        if commits.len() == 1 { "" } else { "s" },
        code(&pull.head.sha),
        code(onto),
        code(&gathered.onto_sha)
    );
    if merges > 0 {
        text.push_str(&format!(
            " {merges} merge commit{} dropped, as `git rebase` drops them.",
            if merges == 1 { "" } else { "s" }
        ));
    }
    if empty > 0 {
        text.push_str(&format!(
            " {empty} commit{} already on {} dropped.",
            if empty == 1 { "" } else { "s" },
            code(onto)
        ));
    }
    if let Some(fork) = &head_repo {
        text.push_str(&format!(" The branch is moved in the fork {}.", code(fork)));
    }
    accepted.reply = Some(text);
    Ok(accepted)
}

/// The marker kind of revert pull requests opened by `revert`.
pub const REVERT_KIND: &str = "revert-pr";
/// The label put on a pull request `revert` reverted.
pub const LABEL_REVERTED: &str = "reverted";

/// `revert` (writers): open a pull request with the exact revert of the
/// merged pull request's merge commit onto the default branch's head (the
/// tree machinery autorevert uses: every touched file must be as the merge
/// left it), then tell the original pull request why and label it.
fn revert(
    facts: &Facts,
    message: &str,
    classification: &str,
    access: Access,
    config: &Config,
) -> Result<Accepted, Refusal> {
    use crate::autorevert::revert::RevertChanges;
    use crate::report::markdown::inline;
    let Some(pull) = &facts.pull else {
        return Err(not_a_pull("revert"));
    };
    require(facts, access, Action::Revert, "revert")?;
    let (Some(sha), true) = (pull.merge_commit_sha.as_deref(), pull.merged) else {
        return Err(Refusal::new(
            "The pull request is not merged; there is nothing to revert.",
        ));
    };
    let (head, changes) = match &facts.revert {
        Some((head, RevertChanges::Changes(c))) => (head, c),
        Some((_, RevertChanges::Fallback(why))) => {
            return Err(Refusal::new(format!("No exact revert is possible: {why}.")));
        }
        None => {
            return Err(Refusal::new("The default branch could not be read."));
        }
    };
    let n = pull.number;
    let who = &facts.trigger.author;
    let branch = format!("ci-medic/revert-{n}");
    let commit_id = format!("revert-commit-{n}");
    let open_id = format!("revert-pull-{n}");
    let title = format!("Revert \"{}\" (#{n})", pull.title.trim());
    let body = format!(
        "{}\nReverts #{n} (merge commit {}).\n\nAsked for by {}: {}\n\nClassification: {}\n",
        crate::github::marker::marker(REVERT_KIND, &n.to_string()),
        code(sha),
        inline(who),
        inline(message),
        code(classification)
    );
    let commit_message = format!(
        "{title}\n\nThis reverts commit {sha}.\n\nReason: {}\nClassification: {classification}\n",
        message.lines().next().unwrap_or_default()
    );
    if CommandsConfig::of(config).revert.mode == super::config::RevertMode::Direct {
        return Ok(revert_direct(
            facts,
            pull,
            sha,
            head,
            changes,
            commit_message,
            message,
            classification,
        ));
    }
    let mut accepted = Accepted::new(Vec::new());
    accepted.writes = vec![
        (
            Write::CommitFiles {
                branch: branch.clone(),
                base_sha: head.clone(),
                message: commit_message,
                changes: changes.clone(),
                force: true,
            },
            format!("{who} asked to revert #{n}"),
            StepOptions {
                id: Some(commit_id.clone()),
                ..StepOptions::default()
            },
        ),
        (
            Write::OpenPullRequest {
                head: branch,
                base: facts.default_branch.clone(),
                title: crate::report::markdown::title(&title, 256),
                body,
                labels: Vec::new(),
                marker_kind: REVERT_KIND.into(),
                marker_key: n.to_string(),
            },
            format!("{who} asked to revert #{n}"),
            StepOptions {
                id: Some(open_id.clone()),
                depends_on: vec![commit_id],
                ..StepOptions::default()
            },
        ),
        (
            Write::AddLabels {
                number: n,
                labels: vec![LABEL_REVERTED.into()],
            },
            format!("#{n} is being reverted"),
            StepOptions {
                depends_on: vec![open_id.clone()],
                best_effort: true,
                ..StepOptions::default()
            },
        ),
    ];
    if facts.audit {
        accepted.writes.push(super::audit::step(
            revert_entry(facts, n, sha, message, classification, Vec::new()),
            &facts.repo,
            facts.now,
            "revert-pull-request",
            &open_id,
        ));
    }
    accepted.reply = Some(format!(
        "Reverting {} in a pull request from `ci-medic/revert-{n}`.\n\nReason: {}\n\nClassification: {}",
        code(sha),
        inline(message),
        code(classification)
    ));
    Ok(accepted)
}

/// The audit entry of a revert of merge commit `sha` of #`n`.
fn revert_entry(
    facts: &Facts,
    n: u64,
    sha: &str,
    message: &str,
    classification: &str,
    flags: Vec<String>,
) -> super::audit::Entry {
    super::audit::Entry {
        pr: n,
        action: "revert",
        sha: sha.to_string(),
        actor: facts.trigger.author.clone(),
        reason: message.to_string(),
        classification: classification.to_string(),
        flags,
    }
}

/// `revert` with `commands.revert.mode: direct`: the exact revert committed
/// onto the default branch, only while it still points at `head`; then the
/// `reverted` label. When the branch moved, the reply says so.
#[allow(clippy::too_many_arguments)]
fn revert_direct(
    facts: &Facts,
    pull: &PullDetail,
    sha: &str,
    head: &str,
    changes: &[crate::plan::FileChange],
    commit_message: String,
    message: &str,
    classification: &str,
) -> Accepted {
    use crate::report::markdown::inline;
    let n = pull.number;
    let who = &facts.trigger.author;
    let commit_id = format!("revert-commit-{n}");
    let to = facts.reply_to();
    let mut accepted = Accepted::new(Vec::new());
    accepted.writes = vec![
        (
            Write::CommitOnto {
                branch: facts.default_branch.clone(),
                base_sha: head.to_string(),
                message: commit_message,
                changes: changes.to_vec(),
                scratch: format!("ci-medic/revert-{n}-direct"),
            },
            format!("{who} asked to revert #{n}"),
            StepOptions {
                id: Some(commit_id.clone()),
                ..StepOptions::default()
            },
        ),
        (
            Write::AddLabels {
                number: n,
                labels: vec![LABEL_REVERTED.into()],
            },
            format!("#{n} was reverted"),
            StepOptions {
                depends_on: vec![commit_id.clone()],
                best_effort: true,
                ..StepOptions::default()
            },
        ),
        (
            Write::Comment {
                number: n,
                body: to.body(&format!(
                    "## Revert failed\n\n{} moved on from {} while the revert was being made (or the token may not push to it); nothing was committed. Re-issue the command.",
                    code(&facts.default_branch),
                    code(head)
                )),
                marker: Some(to.marker()),
            },
            "the revert did not land".to_string(),
            StepOptions {
                depends_on: vec![commit_id.clone()],
                when: crate::plan::When::AnyFailed,
                ..StepOptions::default()
            },
        ),
    ];
    if facts.audit {
        accepted.writes.push(super::audit::step(
            revert_entry(
                facts,
                n,
                sha,
                message,
                classification,
                vec!["direct".into()],
            ),
            &facts.repo,
            facts.now,
            "reverted",
            &commit_id,
        ));
    }
    accepted.reply = Some(format!(
        "Reverting {} with a commit straight onto {}.\n\nReason: {}\n\nClassification: {}",
        code(sha),
        code(&facts.default_branch),
        inline(message),
        code(classification)
    ));
    accepted
}

/// Carry out [`Write::CommitOnto`]: the commit is made on `scratch`, then
/// `branch` is fast-forwarded to it (GitHub refuses when `branch` no longer
/// points at `base_sha`); `scratch` is deleted either way.
pub async fn commit_onto(
    c: &crate::github::Client,
    branch: &str,
    base_sha: &str,
    message: &str,
    changes: &[crate::plan::FileChange],
    scratch: &str,
) -> Result<String, crate::github::GithubError> {
    let sha = c
        .commit_files(scratch, base_sha, message, changes, true)
        .await?;
    let moved = c.update_ref(&format!("heads/{branch}"), &sha, false).await;
    let _ = c.delete_ref(&format!("heads/{scratch}")).await;
    moved.map(|()| sha)
}

/// The marker kind of pull requests opened by `cherry-pick`.
pub const PICK_KIND: &str = "cherry-pick-pr";

/// `cherry-pick` (writers): a pull request into `onto` applying the merged
/// pull request's change exactly, or a reply naming the conflicting files.
fn cherry_pick(
    facts: &Facts,
    onto: &str,
    classification: &str,
    fixes: Option<&str>,
    access: Access,
) -> Result<Accepted, Refusal> {
    use super::cherry_pick::Pick;
    use crate::report::markdown::inline;
    let Some(pull) = &facts.pull else {
        return Err(not_a_pull("cherry-pick"));
    };
    require(facts, access, Action::CherryPick, "cherry-pick")?;
    let (Some(sha), true) = (pull.merge_commit_sha.as_deref(), pull.merged) else {
        return Err(Refusal::new(
            "The pull request is not merged; only a merged change is picked.",
        ));
    };
    let (head, changes) = match &facts.pick {
        Some(Some((head, Pick::Changes(c)))) => (head, c),
        Some(Some((_, Pick::Conflicts(files)))) => {
            return Err(Refusal::new(format!(
                "The change does not apply to {}: these files differ there from what it was made on: {}.",
                code(onto),
                reply::names(files)
            )));
        }
        Some(Some((_, Pick::Refused(why)))) => {
            return Err(Refusal::new(format!(
                "No exact cherry-pick is possible: {}.",
                inline(why)
            )));
        }
        Some(None) | None => {
            return Err(Refusal::new(format!("There is no branch {}.", code(onto))));
        }
    };
    let n = pull.number;
    let who = &facts.trigger.author;
    // The branch name is ours: the number and a slug of the target.
    let slug: String = onto
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let branch = format!("ci-medic/cherry-pick-{n}-{slug}");
    let commit_id = format!("pick-commit-{n}");
    let title = format!("[{onto}] {} (#{n})", pull.title.trim());
    let mut body = format!(
        "{}\nCherry-picks #{n} (merge commit {}) onto {}.\n\nAsked for by {}. Classification: {}\n",
        crate::github::marker::marker(PICK_KIND, &format!("{n}-{slug}")),
        code(sha),
        code(onto),
        inline(who),
        code(classification)
    );
    if let Some(url) = fixes {
        body.push_str(&format!("\nFixes: {}\n", code(url)));
    }
    let mut accepted = Accepted::new(Vec::new());
    accepted.writes = vec![
        (
            Write::CommitFiles {
                branch: branch.clone(),
                base_sha: head.clone(),
                message: format!("{title}\n\nCherry-picked from {sha}.\n"),
                changes: changes.clone(),
                force: true,
            },
            format!("{who} asked to cherry-pick #{n} onto {onto}"),
            StepOptions {
                id: Some(commit_id.clone()),
                ..StepOptions::default()
            },
        ),
        (
            Write::OpenPullRequest {
                head: branch.clone(),
                base: onto.to_string(),
                title: crate::report::markdown::title(&title, 256),
                body,
                labels: Vec::new(),
                marker_kind: PICK_KIND.into(),
                marker_key: format!("{n}-{slug}"),
            },
            format!("{who} asked to cherry-pick #{n} onto {onto}"),
            StepOptions {
                depends_on: vec![commit_id],
                ..StepOptions::default()
            },
        ),
    ];
    accepted.reply = Some(format!(
        "Cherry-picking {} onto {} in a pull request from {}.",
        code(sha),
        code(onto),
        code(&branch)
    ));
    Ok(accepted)
}
