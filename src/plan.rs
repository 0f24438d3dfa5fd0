//! Plans: the writes a job intends, and the executor that performs them.
//!
//! Jobs decide; the executor acts. `--dry-run` prints the plan and writes
//! nothing, so what a dry run shows is exactly what a real run would do.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::github::Client;
pub use crate::github::checks::CheckRunSpec;
use crate::github::checks::Upserted;
pub use crate::github::git::FileChange;
use crate::github::marker::has_marker;
use crate::store::{Store, TableRows};

/// One intended write.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Write {
    /// Create the label if the repository lacks it.
    EnsureLabel {
        name: String,
        color: String,
        description: String,
    },
    /// Open an issue carrying marker (`marker_kind`, `marker_key`), or update
    /// the open one that already carries it.
    OpenIssue {
        title: String,
        body: String,
        labels: Vec<String>,
        marker_kind: String,
        marker_key: String,
    },
    UpdateIssueBody {
        number: u64,
        body: String,
    },
    CloseIssue {
        number: u64,
    },
    /// Comment; with a marker, update the comment that carries it instead.
    Comment {
        number: u64,
        body: String,
        marker: Option<(String, String)>,
    },
    AddLabels {
        number: u64,
        labels: Vec<String>,
    },
    RemoveLabel {
        number: u64,
        label: String,
    },
    RerunJob {
        job_id: u64,
        job_name: String,
    },
    RerunFailedJobs {
        run_id: u64,
    },
    DispatchWorkflow {
        workflow: String,
        git_ref: String,
        inputs: serde_json::Map<String, serde_json::Value>,
    },
    /// Create `refs/...` at `sha` (an existing ref is left alone).
    CreateRef {
        git_ref: String,
        sha: String,
    },
    /// One commit on `base_sha` writing `changes`, with `refs/heads/<branch>`
    /// pointed at it (created, or moved when `force`).
    CommitFiles {
        branch: String,
        base_sha: String,
        message: String,
        changes: Vec<FileChange>,
        force: bool,
    },
    /// Open a pull request from `head`, or update the open one from `head`.
    OpenPullRequest {
        head: String,
        base: String,
        title: String,
        body: String,
        labels: Vec<String>,
        marker_kind: String,
        marker_key: String,
    },
    /// Insert rows into a ClickHouse table (in JSON, `table` and `rows`
    /// beside the kind).
    InsertRows {
        #[serde(flatten)]
        rows: TableRows,
    },
    /// Create the store's database if needed and apply `migrations` (their
    /// labels, `001_workflow_job`), the ones not applied when planned.
    Migrate {
        database: String,
        migrations: Vec<String>,
    },
    /// Create the check run of this name on this head SHA, or update ours
    /// (in JSON, the check run's fields beside the kind). Nothing is written
    /// when ours already says the same.
    CheckRun {
        #[serde(flatten)]
        check: CheckRunSpec,
    },
    /// Delete comment `comment_id` of issue or pull request `number` (one
    /// already gone counts as deleted).
    DeleteComment {
        number: u64,
        comment_id: u64,
    },
    /// Cancel a queued or in-progress workflow run (one already finished
    /// counts as done).
    CancelRun {
        run_id: u64,
        name: String,
    },
    /// React to an issue comment (`+1`, `confused`, `rocket`...).
    React {
        comment_id: u64,
        content: String,
    },
    /// Merge pull request `number` only if its head is still `sha`. When
    /// GitHub refuses (the head moved, branch protection), the refusal is
    /// explained in `on_refusal`: a comment carrying that marker, headed
    /// `## Merge failed`, with GitHub's own reason.
    MergePull {
        number: u64,
        sha: String,
        method: String,
        title: String,
        message: String,
        on_refusal: Option<crate::bot::reply::ReplyTo>,
    },
    /// Send a `repository_dispatch` of `event_type` to another repository
    /// (`owner/name`), with the cross-repository token (the `crcr-token`
    /// input), never the workflow's.
    RepositoryDispatch {
        repo: String,
        event_type: String,
        client_payload: serde_json::Value,
    },
    /// Point `refs/...` at `sha`: created, or moved there (forced) when it
    /// points elsewhere.
    SetRef {
        git_ref: String,
        sha: String,
    },
    /// Delete `refs/...` (one already gone counts as deleted).
    DeleteRef {
        git_ref: String,
    },
    /// Dismiss review `review_id` of pull request `number` with `message`
    /// (one no longer approving or requesting changes is left alone).
    DismissReview {
        number: u64,
        review_id: u64,
        reviewer: String,
        message: String,
    },
    /// [`Write::CheckRun`] for a caller that already looked for ours:
    /// update check run `existing`, or create one when it is `None`.
    PutCheckRun {
        #[serde(flatten)]
        check: CheckRunSpec,
        existing: Option<u64>,
    },
    /// The one comment of ours carrying `marker` on pull request `number`
    /// says `body`, written only while the pull request's head is still
    /// `head_sha` (a stale update never overwrites a newer head's comment).
    /// Should two updates at once each create one, the oldest is kept and
    /// the others deleted.
    PullComment {
        number: u64,
        head_sha: String,
        body: String,
        marker: (String, String),
    },
    /// Update pull request `number`'s branch with its base if its head is
    /// still `expected_head_sha`, read back the head that update made, and
    /// pin it: `state` (with that head) is sealed into the reply `to`, where
    /// the pending merge finds it (`merge -r`).
    UpdateBranchAndPin {
        number: u64,
        expected_head_sha: String,
        to: crate::bot::reply::ReplyTo,
        state: crate::bot::merge::PendingMerge,
    },
    /// One commit on `base_sha` writing `changes`, then `refs/heads/<branch>`
    /// moved to it only as a fast-forward, so only while the branch still
    /// points at `base_sha` (the commit is built on the scratch branch
    /// `scratch`, deleted afterwards).
    CommitOnto {
        branch: String,
        base_sha: String,
        message: String,
        changes: Vec<FileChange>,
        scratch: String,
    },
    /// [`Write::Comment`] with a marker, for a caller that already looked
    /// for ours: edit comment `existing`, or create one when it is `None`.
    PutComment {
        number: u64,
        existing: Option<u64>,
        body: String,
        marker: (String, String),
    },
    /// `rebase -b`: make `commits` one by one on `onto_sha` (whose tree is
    /// `onto_tree`), then point `refs/heads/<branch>` (pull request
    /// `number`'s head) at the last one, forced, only if the branch still
    /// points at `expected_head_sha`; otherwise nothing moves and the reply
    /// `to` says why.
    RebaseBranch {
        number: u64,
        branch: String,
        expected_head_sha: String,
        onto: String,
        onto_sha: String,
        onto_tree: String,
        commits: Vec<crate::bot::rebase::Replayed>,
        to: crate::bot::reply::ReplyTo,
        /// `owner/name` of the fork the branch lives in, whose git data the
        /// new commits and the ref update go to; `None`: this repository.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        head_repo: Option<String>,
    },
    /// `merge -r -f`: [`Write::UpdateBranchAndPin`] without the wait: update
    /// the branch if its head is still `expected_head_sha`, read back the
    /// head that update made, and merge exactly that head at once (GitHub's
    /// refusal is explained in the reply `to`).
    UpdateBranchAndMerge {
        number: u64,
        expected_head_sha: String,
        method: String,
        title: String,
        message: String,
        to: crate::bot::reply::ReplyTo,
    },
    /// [`Write::InsertRows`] of rows that each record earlier steps of the
    /// plan (in JSON, `table` and `rows` beside the kind): row `i` is marked
    /// failed before the insert when a step of `outcome_of[i]` failed or was
    /// skipped, so one insert at the end of a plan records how every action
    /// went. Under `--dry-run` nothing is inserted.
    InsertRecords {
        #[serde(flatten)]
        rows: TableRows,
        outcome_of: Vec<Vec<String>>,
    },
    /// A `bot_audit` row recording what the step this one depends on (its
    /// first dependency) did to a merge: `row` as planned once it landed
    /// (for `merge -r -f`, with the head the update made and merged), or
    /// with `result: failed` and GitHub's or ci-medic's reason when it
    /// failed. A skipped merge records nothing. Written to the store.
    AuditOutcome {
        row: crate::store::bot_audit::BotAuditRow,
    },
    /// `rebase`: merge the base into pull request `number`'s branch, if its
    /// head is still `expected_head_sha`. The branch lives in the fork
    /// `fork` when there is one. A refusal is explained in the reply `to`
    /// (`## Rebase failed` with GitHub's reason; from a fork, a 403 or 404
    /// says the token cannot push there).
    UpdateHeadBranch {
        number: u64,
        expected_head_sha: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fork: Option<String>,
        to: crate::bot::reply::ReplyTo,
    },
}

/// Where a write lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    Github,
    /// The ClickHouse store.
    Store,
    /// Other repositories, through the cross-repository client.
    Relay,
}

impl Write {
    /// The write's kind, as in the JSON form (`open-issue`).
    pub fn kind(&self) -> &'static str {
        match self {
            Write::EnsureLabel { .. } => "ensure-label",
            Write::OpenIssue { .. } => "open-issue",
            Write::UpdateIssueBody { .. } => "update-issue-body",
            Write::CloseIssue { .. } => "close-issue",
            Write::Comment { .. } => "comment",
            Write::AddLabels { .. } => "add-labels",
            Write::RemoveLabel { .. } => "remove-label",
            Write::RerunJob { .. } => "rerun-job",
            Write::RerunFailedJobs { .. } => "rerun-failed-jobs",
            Write::DispatchWorkflow { .. } => "dispatch-workflow",
            Write::CreateRef { .. } => "create-ref",
            Write::CommitFiles { .. } => "commit-files",
            Write::OpenPullRequest { .. } => "open-pull-request",
            Write::InsertRows { .. } => "insert-rows",
            Write::Migrate { .. } => "migrate",
            Write::CheckRun { .. } => "check-run",
            Write::DeleteComment { .. } => "delete-comment",
            Write::CancelRun { .. } => "cancel-run",
            Write::React { .. } => "react",
            Write::MergePull { .. } => "merge-pull",
            Write::RepositoryDispatch { .. } => "repository-dispatch",
            Write::SetRef { .. } => "set-ref",
            Write::DeleteRef { .. } => "delete-ref",
            Write::DismissReview { .. } => "dismiss-review",
            Write::PutCheckRun { .. } => "put-check-run",
            Write::PullComment { .. } => "pull-comment",
            Write::UpdateBranchAndPin { .. } => "update-branch-and-pin",
            Write::CommitOnto { .. } => "commit-onto",
            Write::PutComment { .. } => "put-comment",
            Write::RebaseBranch { .. } => "rebase-branch",
            Write::UpdateBranchAndMerge { .. } => "update-branch-and-merge",
            Write::InsertRecords { .. } => "insert-records",
            Write::AuditOutcome { .. } => "audit-outcome",
            Write::UpdateHeadBranch { .. } => "update-head-branch",
        }
    }

    /// Where the write lands.
    pub fn sink(&self) -> Sink {
        match self {
            Write::InsertRows { .. } | Write::Migrate { .. } => Sink::Store,
            Write::AuditOutcome { .. } => Sink::Store,
            Write::RepositoryDispatch { .. } => Sink::Relay,
            Write::InsertRecords { .. } => Sink::Store,
            _ => Sink::Github,
        }
    }

    /// Point a write that acts on an issue or pull request at `number`.
    fn retarget(&mut self, to: u64) {
        match self {
            Write::UpdateIssueBody { number, .. }
            | Write::CloseIssue { number }
            | Write::Comment { number, .. }
            | Write::AddLabels { number, .. }
            | Write::RemoveLabel { number, .. } => *number = to,
            _ => {}
        }
    }

    /// Replace the body of a write that has one.
    fn rebody(&mut self, text: String) {
        match self {
            Write::UpdateIssueBody { body, .. }
            | Write::Comment { body, .. }
            | Write::PullComment { body, .. } => *body = text,
            _ => {}
        }
    }

    /// One line for humans (titles and bodies are untrusted; callers echo
    /// this through `action::echo_untrusted`).
    pub fn describe(&self) -> String {
        match self {
            Write::EnsureLabel { name, .. } => format!("ensure label `{name}` exists"),
            Write::OpenIssue {
                title,
                labels,
                marker_key,
                ..
            } => format!(
                "open issue \"{title}\" (labels: {}; or update the open issue with fingerprint {marker_key})",
                labels.join(", ")
            ),
            Write::UpdateIssueBody { number, .. } => format!("update the body of #{number}"),
            Write::CloseIssue { number } => format!("close #{number}"),
            Write::Comment { number, body, .. } => {
                // The first line is often our hidden marker; show the text.
                let first = body
                    .lines()
                    .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with("<!--"))
                    .unwrap_or_default();
                format!("comment on #{number}: {first}")
            }
            Write::AddLabels { number, labels } => {
                format!("add labels {} to #{number}", labels.join(", "))
            }
            Write::RemoveLabel { number, label } => format!("remove label {label} from #{number}"),
            Write::RerunJob { job_id, job_name } => format!("re-run job {job_name} ({job_id})"),
            Write::RerunFailedJobs { run_id } => format!("re-run the failed jobs of run {run_id}"),
            Write::DispatchWorkflow {
                workflow, git_ref, ..
            } => {
                format!("dispatch workflow {workflow} on {git_ref}")
            }
            Write::CreateRef { git_ref, sha } => format!("create {git_ref} at {sha}"),
            Write::CommitFiles {
                branch, changes, ..
            } => {
                let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
                format!("commit {} to branch {branch}", paths.join(", "))
            }
            Write::OpenPullRequest {
                head, base, title, ..
            } => format!("open pull request \"{title}\" ({head} -> {base}), or update it"),
            Write::InsertRows { rows } => {
                format!(
                    "insert {} row(s) into ClickHouse table {}",
                    rows.len(),
                    rows.table()
                )
            }
            Write::Migrate {
                database,
                migrations,
            } => format!(
                "apply ClickHouse migrations {} to database {database}",
                migrations.join(", ")
            ),
            Write::CheckRun { check } => check_run_text(check),
            Write::DeleteComment { number, comment_id } => {
                format!("delete comment {comment_id} on #{number}")
            }
            Write::CancelRun { run_id, name } => format!("cancel run {run_id} ({name})"),
            Write::React {
                comment_id,
                content,
            } => format!("react {content} to comment {comment_id}"),
            Write::MergePull {
                number,
                sha,
                method,
                ..
            } => format!("merge #{number} at {sha} ({method})"),
            Write::RepositoryDispatch {
                repo, event_type, ..
            } => format!("send {event_type} to {repo} (repository_dispatch)"),
            Write::SetRef { git_ref, sha } => format!("point {git_ref} at {sha}"),
            Write::DeleteRef { git_ref } => format!("delete {git_ref}"),
            Write::DismissReview {
                number,
                review_id,
                reviewer,
                ..
            } => format!("dismiss the review {review_id} by {reviewer} on #{number}"),
            Write::PutCheckRun { check, existing } => format!(
                "{} {}",
                if existing.is_some() {
                    "update"
                } else {
                    "create"
                },
                check_run_text(check)
            ),
            Write::PullComment {
                number, head_sha, ..
            } => format!(
                "comment on #{number} while its head is {}",
                head_sha.chars().take(12).collect::<String>()
            ),
            Write::UpdateBranchAndPin {
                number,
                expected_head_sha,
                ..
            } => format!(
                "update the branch of #{number} (head {expected_head_sha}) and pin the updated head for merging"
            ),
            Write::CommitOnto {
                branch,
                base_sha,
                changes,
                ..
            } => {
                let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
                format!(
                    "commit {} onto branch {branch} if it is still at {base_sha}",
                    paths.join(", ")
                )
            }
            Write::PutComment {
                number, existing, ..
            } => match existing {
                Some(id) => format!("edit comment {id} on #{number}"),
                None => format!("comment on #{number}"),
            },
            Write::RebaseBranch {
                number,
                branch,
                expected_head_sha,
                onto,
                commits,
                head_repo,
                ..
            } => format!(
                "rebase {} commit(s) of #{number} ({branch}{} at {expected_head_sha}) onto {onto}, if the branch has not moved",
                commits.len(),
                head_repo
                    .as_ref()
                    .map(|r| format!(" in {r}"))
                    .unwrap_or_default()
            ),
            Write::UpdateBranchAndMerge {
                number,
                expected_head_sha,
                method,
                ..
            } => format!(
                "update the branch of #{number} (head {expected_head_sha}), then merge the updated head ({method})"
            ),
            Write::InsertRecords { rows, .. } => format!(
                "insert {} row(s) into ClickHouse table {}, each saying whether the writes it records landed",
                rows.len(),
                rows.table()
            ),
            Write::AuditOutcome { row } => format!(
                "record in bot_audit how the {} of #{} ended",
                row.action, row.pr_number
            ),
            Write::UpdateHeadBranch {
                number,
                expected_head_sha,
                fork,
                ..
            } => format!(
                "update the branch of #{number}{} (head {expected_head_sha}), explaining a refusal",
                fork.as_ref()
                    .map(|r| format!(" in {r}"))
                    .unwrap_or_default()
            ),
        }
    }
}

/// A write and why it is planned.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// Unique within a plan; a merged plan prefixes each handler's ids with
    /// the handler's name (`retry/rerun-42`).
    pub id: String,
    #[serde(flatten)]
    pub write: Write,
    pub reason: String,
    /// A failure of this write is reported but does not fail the job
    /// (a re-run refused for lack of permission must not stop the issue).
    pub best_effort: bool,
    /// Steps that must have run before this one; see [`When`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    #[serde(skip_serializing_if = "When::is_default")]
    pub when: When,
    /// Take the issue or pull request number this write acts on from the
    /// outcome of that earlier step (a comment on the PR a step opened).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number_from: Option<String>,
    /// Take the body from these texts, naming the issue or pull request an
    /// earlier step opened or updated (the write's own body stands in a dry
    /// run, when that step wrote nothing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text_from: Option<TextFrom>,
}

/// A body that names the issue or pull request an earlier step produced:
/// the number goes between the two parts of `created` (the step opened it)
/// or `updated` (it found one and updated it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TextFrom {
    pub step: String,
    pub created: (String, String),
    pub updated: (String, String),
}

impl TextFrom {
    /// A stand-in number no issue or pull request has.
    const STAND_IN: u64 = u64::MAX;

    /// The texts `render(number, created)` gives for the number `step`
    /// produces. `render` must name the number once as `#N` ahead of any
    /// untrusted text (the first `#N` is where the number goes); `None`
    /// when it does not name it.
    pub fn rendered(step: &str, render: impl Fn(u64, bool) -> String) -> Option<TextFrom> {
        let split = |created: bool| {
            let text = render(Self::STAND_IN, created);
            let slot = format!("#{}", Self::STAND_IN);
            let at = text.find(&slot)?;
            Some((
                text[..at + 1].to_string(),
                text[at + slot.len()..].to_string(),
            ))
        };
        Some(TextFrom {
            step: step.to_string(),
            created: split(true)?,
            updated: split(false)?,
        })
    }

    /// The text for what the step produced.
    fn text(&self, number: u64, created: bool) -> String {
        let (before, after) = if created {
            &self.created
        } else {
            &self.updated
        };
        format!("{before}{number}{after}")
    }
}

/// When a step with dependencies runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum When {
    /// Only when every dependency was carried out (or would be, in a dry
    /// run); a failed or skipped dependency skips this step.
    #[default]
    AllDone,
    /// Only when a dependency failed: the fallback for a write that did not
    /// land (file the issue when the re-run was refused).
    AnyFailed,
}

impl When {
    fn is_default(&self) -> bool {
        *self == When::AllDone
    }
}

/// Options of a step beyond its write and reason.
#[derive(Debug, Clone, Default)]
pub struct StepOptions {
    pub id: Option<String>,
    pub best_effort: bool,
    pub depends_on: Vec<String>,
    pub when: When,
    pub number_from: Option<String>,
    pub text_from: Option<TextFrom>,
}

/// What one job intends.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Plan {
    pub job: String,
    pub steps: Vec<Step>,
    /// Decisions that write nothing, with their reasons (shown in the summary).
    pub notes: Vec<String>,
    /// Step outputs known before acting.
    pub outputs: BTreeMap<String, String>,
}

impl Plan {
    pub fn new(job: &str) -> Plan {
        Plan {
            job: job.to_string(),
            ..Plan::default()
        }
    }

    /// Add a write; returns its id (for later steps' `depends_on`).
    pub fn push(&mut self, write: Write, reason: impl Into<String>) -> String {
        self.push_with(write, reason, StepOptions::default())
    }

    pub fn push_best_effort(&mut self, write: Write, reason: impl Into<String>) -> String {
        self.push_with(
            write,
            reason,
            StepOptions {
                best_effort: true,
                ..StepOptions::default()
            },
        )
    }

    /// Add a write with options; returns its id.
    pub fn push_with(
        &mut self,
        write: Write,
        reason: impl Into<String>,
        options: StepOptions,
    ) -> String {
        let id = options
            .id
            .unwrap_or_else(|| format!("{}-{}", write.kind(), self.steps.len() + 1));
        self.steps.push(Step {
            id: id.clone(),
            write,
            reason: reason.into(),
            best_effort: options.best_effort,
            depends_on: options.depends_on,
            when: options.when,
            number_from: options.number_from,
            text_from: options.text_from,
        });
        id
    }

    pub fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }

    /// Append `other`'s steps, notes and outputs, its step ids (and the
    /// references to them) prefixed with `prefix/`, so two handlers' plans
    /// never collide. References to ids `other` does not have (a dependency
    /// on another handler's step, already prefixed) are kept.
    pub fn merge_as(&mut self, prefix: &str, other: &Plan) {
        let local: std::collections::BTreeSet<&str> =
            other.steps.iter().map(|s| s.id.as_str()).collect();
        let scoped = |id: &str| {
            if local.contains(id) {
                format!("{prefix}/{id}")
            } else {
                id.to_string()
            }
        };
        for s in &other.steps {
            let mut s = s.clone();
            s.id = scoped(&s.id);
            s.depends_on = s.depends_on.iter().map(|d| scoped(d)).collect();
            s.number_from = s.number_from.as_deref().map(scoped);
            if let Some(t) = &mut s.text_from {
                t.step = scoped(&t.step);
            }
            if let Write::InsertRecords { outcome_of, .. } = &mut s.write {
                for id in outcome_of.iter_mut().flatten() {
                    *id = scoped(id);
                }
            }
            self.steps.push(s);
        }
        self.notes.extend(other.notes.iter().cloned());
        for (k, v) in &other.outputs {
            self.outputs.insert(k.clone(), v.clone());
        }
    }

    /// The plan as text, one line per write.
    pub fn to_text(&self) -> String {
        let mut out = format!("{}: {} write(s) planned\n", self.job, self.steps.len());
        for (i, s) in self.steps.iter().enumerate() {
            out.push_str(&format!(
                "  {}. {}\n     because {}\n",
                i + 1,
                s.write.describe(),
                s.reason
            ));
            if !s.depends_on.is_empty() {
                let deps = s.depends_on.join(", ");
                out.push_str(&match s.when {
                    When::AllDone => format!("     after {deps}\n"),
                    When::AnyFailed => format!("     only if {deps} fails\n"),
                });
            }
            if let Some(t) = &s.text_from {
                out.push_str(&format!("     naming what {} opens or updates\n", t.step));
            }
        }
        for n in &self.notes {
            out.push_str(&format!("  - {n}\n"));
        }
        out
    }
}

/// What happened to one planned write.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Outcome {
    Done {
        detail: String,
        /// The head commit a merge merged, where only the write knows it
        /// (`UpdateBranchAndMerge` merges the head its update makes).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        merged_head: Option<String>,
    },
    /// The write produced an issue (opened or updated).
    Issue {
        number: u64,
        created: bool,
    },
    /// The write produced a pull request (opened or updated).
    Pull {
        number: u64,
        created: bool,
    },
    Failed {
        error: String,
    },
    /// Not attempted: a dependency failed or was skipped (or, for a
    /// fallback, every dependency landed).
    Skipped {
        why: String,
    },
    DryRun,
}

impl Outcome {
    /// The write landed (or would have, in a dry run).
    fn landed(&self) -> bool {
        matches!(
            self,
            Outcome::Done { .. } | Outcome::Issue { .. } | Outcome::Pull { .. } | Outcome::DryRun
        )
    }

    /// The issue or pull request number the write produced.
    fn number(&self) -> Option<u64> {
        match self {
            Outcome::Issue { number, .. } | Outcome::Pull { number, .. } => Some(*number),
            _ => None,
        }
    }
}

/// The result of carrying out a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub job: String,
    pub dry_run: bool,
    pub results: Vec<(Step, Outcome)>,
}

impl Report {
    /// True when a write that matters failed.
    pub fn failed(&self) -> bool {
        self.results
            .iter()
            .any(|(s, o)| !s.best_effort && matches!(o, Outcome::Failed { .. }))
    }

    /// The part of a merged plan's report that belongs to `job`'s steps
    /// (ids `job/...`), with the prefix removed.
    pub fn for_job(&self, job: &str) -> Report {
        let prefix = format!("{job}/");
        Report {
            job: job.to_string(),
            dry_run: self.dry_run,
            results: self
                .results
                .iter()
                .filter(|(s, _)| s.id.starts_with(&prefix))
                .map(|(s, o)| {
                    let mut s = s.clone();
                    s.id = s.id[prefix.len()..].to_string();
                    (s, o.clone())
                })
                .collect(),
        }
    }

    /// The issue the plan opened or updated, if any.
    pub fn issue_number(&self) -> Option<u64> {
        self.results.iter().find_map(|(_, o)| match o {
            Outcome::Issue { number, .. } => Some(*number),
            _ => None,
        })
    }

    /// The pull request the plan opened or updated, if any.
    pub fn pull_number(&self) -> Option<u64> {
        self.results.iter().find_map(|(_, o)| match o {
            Outcome::Pull { number, .. } => Some(*number),
            _ => None,
        })
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for (s, o) in &self.results {
            let status = match o {
                Outcome::Done { detail, .. } => format!("done: {detail}"),
                Outcome::Issue {
                    number,
                    created: true,
                } => format!("opened #{number}"),
                Outcome::Issue {
                    number,
                    created: false,
                } => format!("updated #{number}"),
                Outcome::Pull {
                    number,
                    created: true,
                } => format!("opened pull request #{number}"),
                Outcome::Pull {
                    number,
                    created: false,
                } => format!("updated pull request #{number}"),
                Outcome::Failed { error } if s.best_effort => format!("failed (ignored): {error}"),
                Outcome::Failed { error } => format!("FAILED: {error}"),
                Outcome::Skipped { why } => format!("skipped: {why}"),
                Outcome::DryRun => "dry run: not written".into(),
            };
            out.push_str(&format!("- {} — {status}\n", s.write.describe()));
        }
        out
    }
}

/// Why a store write found no store, unless the caller knows better.
pub const NO_STORE: &str = "no ClickHouse store to write to: set `clickhouse.url` in the config or the `clickhouse-url` input";

/// Where writes go. A GitHub write without a client is only shown (offline);
/// a store write without a store fails, saying why.
#[derive(Default)]
pub struct Sinks<'a> {
    pub github: Option<&'a Client>,
    pub store: Option<&'a Store>,
    /// Why `store` is `None` (the connection error); [`NO_STORE`] otherwise.
    pub store_error: Option<String>,
    /// The client for writes to other repositories (the `crcr-token` input).
    pub relay: Option<&'a Client>,
}

impl<'a> Sinks<'a> {
    /// GitHub only: a plan without store writes.
    pub fn github(client: Option<&'a Client>) -> Sinks<'a> {
        Sinks {
            github: client,
            ..Sinks::default()
        }
    }

    /// The store only: a plan without GitHub writes.
    pub fn store(store: Option<&'a Store>) -> Sinks<'a> {
        Sinks {
            store,
            ..Sinks::default()
        }
    }
}

impl Plan {
    /// True when some step writes to the store.
    pub fn writes_to_store(&self) -> bool {
        self.steps.iter().any(|s| s.write.sink() == Sink::Store)
    }
}

/// A check run as the plan's text shows it.
fn check_run_text(check: &CheckRunSpec) -> String {
    format!(
        "check run \"{}\" on {}: {}{} ({})",
        check.name,
        check.head_sha.chars().take(12).collect::<String>(),
        check.status,
        check
            .conclusion
            .as_ref()
            .map(|c| format!(", {c}"))
            .unwrap_or_default(),
        check.title
    )
}

/// Carry out `plan` in order. Every write is attempted unless its
/// dependencies say otherwise, so one failure (a re-run the token may not
/// request) does not stop unrelated writes (the issue). Under `dry_run`
/// nothing is written to any sink.
pub async fn execute(plan: &Plan, sinks: &Sinks<'_>, dry_run: bool) -> Report {
    let mut results: Vec<(Step, Outcome)> = Vec::new();
    let mut by_id: BTreeMap<String, Outcome> = BTreeMap::new();
    for step in &plan.steps {
        let outcome = match gate(step, &by_id) {
            Err(why) => Outcome::Skipped { why },
            Ok(_) if dry_run => Outcome::DryRun,
            Ok(write) => match (write.sink(), sinks.github, sinks.store) {
                (Sink::Github, Some(c), _) => perform(c, &write).await,
                (Sink::Github, None, _) => Outcome::DryRun,
                (Sink::Store, _, Some(store)) => perform_store(store, &write).await,
                (Sink::Store, _, None) => Outcome::Failed {
                    error: sinks
                        .store_error
                        .clone()
                        .unwrap_or_else(|| NO_STORE.to_string()),
                },
                (Sink::Relay, None, _) => Outcome::DryRun,
                (Sink::Relay, Some(_), _) => match sinks.relay {
                    Some(relay) => perform_relay(relay, &write).await,
                    None => Outcome::Failed {
                        error: NO_RELAY.to_string(),
                    },
                },
            },
        };
        if let Outcome::Failed { error } = &outcome {
            tracing::warn!(job = %plan.job, "write failed: {error}");
        }
        by_id.insert(step.id.clone(), outcome.clone());
        results.push((step.clone(), outcome));
    }
    // Without a client, GitHub writes are only shown: the report is a dry
    // run's unless the plan writes to the store alone.
    let store_only =
        !plan.steps.is_empty() && plan.steps.iter().all(|s| s.write.sink() == Sink::Store);
    Report {
        job: plan.job.clone(),
        dry_run: dry_run || (sinks.github.is_none() && !store_only),
        results,
    }
}

/// Whether `step` may run given what happened to the steps before it, and
/// the write with any number taken from an earlier step filled in.
fn gate(step: &Step, done: &BTreeMap<String, Outcome>) -> Result<Write, String> {
    let deps: Vec<(&str, Option<&Outcome>)> = step
        .depends_on
        .iter()
        .map(|d| (d.as_str(), done.get(d)))
        .collect();
    match step.when {
        When::AllDone => {
            if let Some((id, _)) = deps.iter().find(|(_, o)| !o.is_some_and(Outcome::landed)) {
                return Err(format!("{id} did not land"));
            }
        }
        When::AnyFailed => {
            let failed = deps
                .iter()
                .any(|(_, o)| matches!(o, Some(Outcome::Failed { .. } | Outcome::Skipped { .. })));
            if !failed {
                return Err(format!("not needed: {} landed", step.depends_on.join(", ")));
            }
        }
    }
    let mut write = step.write.clone();
    if let Some(from) = &step.number_from {
        match done.get(from) {
            Some(Outcome::DryRun) => {}
            Some(o) => match o.number() {
                Some(n) => write.retarget(n),
                None => return Err(format!("{from} produced no issue or pull request")),
            },
            None => return Err(format!("{from} has not run")),
        }
    }
    if let Some(t) = &step.text_from {
        match done.get(&t.step) {
            Some(Outcome::DryRun) => {}
            Some(Outcome::Issue { number, created } | Outcome::Pull { number, created }) => {
                write.rebody(t.text(*number, *created));
            }
            Some(_) => return Err(format!("{} produced no issue or pull request", t.step)),
            None => return Err(format!("{} has not run", t.step)),
        }
    }
    if let Write::InsertRecords { rows, outcome_of } = &mut write {
        for (row, ids) in outcome_of.iter().enumerate() {
            let missed = ids.iter().any(|id| {
                matches!(
                    done.get(id),
                    Some(Outcome::Failed { .. } | Outcome::Skipped { .. })
                )
            });
            if missed {
                rows.mark_failed(row);
            }
        }
    }
    if let Write::AuditOutcome { row } = &write {
        let of = step.depends_on.first().and_then(|d| done.get(d));
        write = crate::bot::audit::resolve(row, of)?;
    }
    Ok(write)
}

async fn perform(c: &Client, w: &Write) -> Outcome {
    let done = |d: String| Outcome::Done {
        detail: d,
        merged_head: None,
    };
    let result = match w {
        Write::EnsureLabel {
            name,
            color,
            description,
        } => c
            .ensure_label(name, color, description)
            .await
            .map(|_| done(format!("label {name}"))),
        Write::OpenIssue {
            title,
            body,
            labels,
            marker_kind,
            marker_key,
        } => open_or_update_issue(c, title, body, labels, marker_kind, marker_key).await,
        Write::UpdateIssueBody { number, body } => c
            .update_issue(*number, None, Some(body), None)
            .await
            .map(|i| Outcome::Issue {
                number: i.number,
                created: false,
            }),
        Write::CloseIssue { number } => c
            .update_issue(*number, None, None, Some("closed"))
            .await
            .map(|_| done(format!("closed #{number}"))),
        Write::Comment {
            number,
            body,
            marker,
        } => {
            // A marker elsewhere than where lookups read it would make every
            // re-run post a new comment.
            debug_assert!(marker.as_ref().is_none_or(|(k, v)| has_marker(body, k, v)));
            c.upsert_comment(
                *number,
                body,
                marker.as_ref().map(|(k, v)| (k.as_str(), v.as_str())),
            )
            .await
            .map(|cm| done(cm.html_url))
        }
        Write::AddLabels { number, labels } => c
            .add_labels(*number, labels)
            .await
            .map(|_| done(format!("labelled #{number}"))),
        Write::RemoveLabel { number, label } => c
            .remove_label(*number, label)
            .await
            .map(|_| done(format!("unlabelled #{number}"))),
        Write::RerunJob { job_id, .. } => c
            .rerun_job(*job_id)
            .await
            .map(|_| done(format!("re-run of job {job_id} requested"))),
        Write::RerunFailedJobs { run_id } => c
            .rerun_failed_jobs(*run_id)
            .await
            .map(|_| done(format!("re-run of run {run_id} requested"))),
        Write::DispatchWorkflow {
            workflow,
            git_ref,
            inputs,
        } => c
            .dispatch_workflow(workflow, git_ref, inputs)
            .await
            .map(|_| done(format!("dispatched {workflow} on {git_ref}"))),
        Write::CreateRef { git_ref, sha } => c.create_ref(git_ref, sha).await.map(|created| {
            done(if created {
                format!("created {git_ref}")
            } else {
                format!("{git_ref} already existed")
            })
        }),
        Write::CommitFiles {
            branch,
            base_sha,
            message,
            changes,
            force,
        } => c
            .commit_files(branch, base_sha, message, changes, *force)
            .await
            .map(|sha| done(format!("{branch} at {sha}"))),
        Write::OpenPullRequest {
            head,
            base,
            title,
            body,
            labels,
            marker_kind,
            marker_key,
        } => open_or_update_pull(c, head, base, title, body, labels, marker_kind, marker_key).await,
        Write::CheckRun { check } => c.upsert_check_run(check).await.map(|u| match u {
            Upserted::Created(id) => done(format!("created check run {id}")),
            Upserted::Updated(id) => done(format!("updated check run {id}")),
            Upserted::Unchanged(id) => done(format!("check run {id} already up to date")),
        }),
        Write::DeleteComment { number, comment_id } => c
            .delete_comment(*comment_id)
            .await
            .map(|_| done(format!("deleted comment {comment_id} on #{number}"))),
        Write::CancelRun { run_id, .. } => c
            .cancel_run(*run_id)
            .await
            .map(|_| done(format!("cancelled run {run_id}"))),
        Write::React {
            comment_id,
            content,
        } => c
            .react_to_comment(*comment_id, content)
            .await
            .map(|_| done(format!("reacted {content}"))),
        Write::MergePull {
            number,
            sha,
            method,
            title,
            message,
            on_refusal,
        } => match c.merge_pull(*number, sha, method, title, message).await {
            Ok(merged) => Ok(done(format!("merged #{number} as {merged}"))),
            Err(_) if crate::bot::merge::merged_as_pinned(c, *number, sha).await => {
                Ok(Outcome::Skipped {
                    why: format!("#{number} was already merged at {sha}"),
                })
            }
            Err(e) => {
                if let Some(r) = on_refusal {
                    crate::bot::reply::explain_merge_refusal(c, r, &e).await;
                }
                Err(e)
            }
        },
        Write::SetRef { git_ref, sha } => match c.create_ref(git_ref, sha).await {
            Ok(true) => Ok(done(format!("created {git_ref}"))),
            Ok(false) => c
                .update_ref(git_ref, sha, true)
                .await
                .map(|()| done(format!("moved {git_ref}"))),
            Err(e) => Err(e),
        },
        Write::DeleteRef { git_ref } => c.delete_ref(git_ref).await.map(|deleted| {
            done(if deleted {
                format!("deleted {git_ref}")
            } else {
                format!("{git_ref} was already gone")
            })
        }),
        Write::DismissReview {
            number,
            review_id,
            message,
            ..
        } => c
            .dismiss_review(*number, *review_id, message)
            .await
            .map(|dismissed| {
                done(if dismissed {
                    format!("dismissed review {review_id} on #{number}")
                } else {
                    format!("review {review_id} on #{number} approves no more")
                })
            }),
        Write::PutCheckRun { check, existing } => {
            c.put_check_run(check, *existing).await.map(|u| match u {
                Upserted::Created(id) => done(format!("created check run {id}")),
                Upserted::Updated(id) | Upserted::Unchanged(id) => {
                    done(format!("updated check run {id}"))
                }
            })
        }
        Write::PullComment {
            number,
            head_sha,
            body,
            marker,
        } => pull_comment(c, *number, head_sha, body, marker).await,
        Write::UpdateBranchAndPin {
            number,
            expected_head_sha,
            to,
            state,
        } => crate::bot::merge::update_and_pin(c, *number, expected_head_sha, to, state)
            .await
            .map(|pinned| match pinned {
                Ok(head) => done(format!("updated #{number}; pinned {head}")),
                Err(why) => Outcome::Failed { error: why },
            }),
        Write::CommitOnto {
            branch,
            base_sha,
            message,
            changes,
            scratch,
        } => crate::bot::act::commit_onto(c, branch, base_sha, message, changes, scratch)
            .await
            .map(|sha| done(format!("{branch} at {sha}"))),
        Write::PutComment {
            number,
            existing,
            body,
            marker: (kind, key),
        } => {
            debug_assert!(has_marker(body, kind, key));
            c.put_comment(*number, *existing, body, (kind, key))
                .await
                .map(|cm| done(cm.html_url))
        }
        Write::RebaseBranch {
            number,
            branch,
            expected_head_sha,
            onto_sha,
            onto_tree,
            commits,
            to,
            head_repo,
            ..
        } => crate::bot::rebase::carry_out(
            c,
            *number,
            branch,
            expected_head_sha,
            onto_sha,
            onto_tree,
            commits,
            to,
            head_repo.as_deref(),
        )
        .await
        .map(|moved| match moved {
            Ok(head) => done(format!("rebased #{number}: {branch} at {head}")),
            Err(why) => Outcome::Failed { error: why },
        }),
        Write::UpdateBranchAndMerge {
            number,
            expected_head_sha,
            method,
            title,
            message,
            to,
        } => crate::bot::merge::update_and_merge(
            c,
            *number,
            expected_head_sha,
            method,
            title,
            message,
            to,
        )
        .await
        .map(|merged| match merged {
            Ok((head, merged)) => Outcome::Done {
                detail: format!("updated #{number} to {head}; merged {head} as {merged}"),
                merged_head: Some(head),
            },
            Err(why) => Outcome::Failed { error: why },
        }),
        Write::UpdateHeadBranch {
            number,
            expected_head_sha,
            fork,
            to,
        } => crate::bot::rebase::update_head_branch(
            c,
            *number,
            expected_head_sha,
            fork.as_deref(),
            to,
        )
        .await
        .map(|updated| match updated {
            Ok(()) => done(format!("updated the branch of #{number}")),
            Err(why) => Outcome::Failed { error: why },
        }),
        Write::InsertRows { .. }
        | Write::Migrate { .. }
        | Write::InsertRecords { .. }
        | Write::AuditOutcome { .. } => {
            return Outcome::Failed {
                error: format!("{} is not a GitHub write", w.kind()),
            };
        }
        Write::RepositoryDispatch { .. } => {
            return Outcome::Failed {
                error: format!("{} is a cross-repository write", w.kind()),
            };
        }
    };
    result.unwrap_or_else(|e| Outcome::Failed {
        error: explain(&e, w),
    })
}

async fn perform_store(store: &Store, w: &Write) -> Outcome {
    let result = match w {
        Write::InsertRows { rows } | Write::InsertRecords { rows, .. } => store
            .insert(rows)
            .await
            .map(|()| format!("{} row(s) into {}", rows.len(), rows.table())),
        Write::Migrate { .. } => store.migrate().await.map(|applied| {
            if applied.is_empty() {
                "the ClickHouse schema is up to date".to_string()
            } else {
                format!("applied migrations {applied:?}")
            }
        }),
        other => Err(anyhow::anyhow!("{} is not a store write", other.kind())),
    };
    match result {
        Ok(detail) => Outcome::Done {
            detail,
            merged_head: None,
        },
        Err(e) => Outcome::Failed {
            error: format!("{e:#}"),
        },
    }
}

/// [`Write::PullComment`]: skipped when the head moved on; after writing,
/// any second comment of ours with the marker (two updates that both
/// found none) is deleted and the oldest holds `body`.
async fn pull_comment(
    c: &Client,
    number: u64,
    head_sha: &str,
    body: &str,
    (kind, key): &(String, String),
) -> Result<Outcome, crate::github::GithubError> {
    let pr = c.pull(number).await?;
    if !pr.head_sha.is_empty() && pr.head_sha != head_sha {
        return Ok(Outcome::Skipped {
            why: format!(
                "#{number} has moved on to {}",
                pr.head_sha.chars().take(12).collect::<String>()
            ),
        });
    }
    let written = c.upsert_comment(number, body, Some((kind, key))).await?;
    let ours: Vec<u64> = c
        .comments(number)
        .await?
        .into_iter()
        .filter(|cm| {
            c.identity().is_ours(&cm.user.login)
                && cm.body.as_deref().is_some_and(|b| has_marker(b, kind, key))
        })
        .map(|cm| cm.id)
        .collect();
    let Some(&oldest) = ours.iter().min() else {
        return Ok(Outcome::Done {
            detail: written.html_url,
            merged_head: None,
        });
    };
    if ours.len() == 1 {
        return Ok(Outcome::Done {
            detail: written.html_url,
            merged_head: None,
        });
    }
    for id in ours.iter().filter(|&&id| id != oldest) {
        c.delete_comment(*id).await?;
    }
    let kept = c.upsert_comment(number, body, Some((kind, key))).await?;
    Ok(Outcome::Done {
        detail: format!(
            "{} ({} duplicate(s) deleted)",
            kept.html_url,
            ours.len() - 1
        ),
        merged_head: None,
    })
}

/// The error, with what to do about the common causes.
/// Why a cross-repository write found no client.
pub const NO_RELAY: &str = "no cross-repository token: set the `crcr-token` input (a GitHub App installation token that may dispatch to the downstream repositories)";

async fn perform_relay(c: &Client, w: &Write) -> Outcome {
    match w {
        Write::RepositoryDispatch {
            repo,
            event_type,
            client_payload,
        } => match crate::crcr::dispatch::send(c, repo, event_type, client_payload).await {
            Ok(()) => Outcome::Done {
                detail: format!("sent {event_type} to {repo}"),
                merged_head: None,
            },
            Err(e) => Outcome::Failed {
                error: format!("{e}"),
            },
        },
        other => Outcome::Failed {
            error: format!("{} is not a cross-repository write", other.kind()),
        },
    }
}

fn explain(e: &crate::github::GithubError, w: &Write) -> String {
    let hint = match (e.status(), w) {
        (
            Some(403),
            Write::RerunJob { .. } | Write::RerunFailedJobs { .. } | Write::DispatchWorkflow { .. },
        ) => " (the token needs `actions: write`; add it to the workflow's `permissions:`)",
        (
            Some(403),
            Write::OpenIssue { .. }
            | Write::Comment { .. }
            | Write::AddLabels { .. }
            | Write::CloseIssue { .. },
        ) => " (the token needs `issues: write`)",
        (Some(403 | 404), Write::CommitFiles { changes, .. })
            if changes
                .iter()
                .any(|c| c.path.starts_with(".github/workflows/")) =>
        {
            " (changing workflow files needs a token with the `workflows` scope, which GITHUB_TOKEN cannot have: pass a token in the `token` input)"
        }
        (Some(403), Write::CommitFiles { .. } | Write::CreateRef { .. }) => {
            " (the token needs `contents: write`)"
        }
        (Some(403), Write::SetRef { .. } | Write::DeleteRef { .. }) => {
            " (the token needs `contents: write`)"
        }
        (Some(403), Write::CheckRun { .. }) => " (the token needs `checks: write`)",
        (Some(403), Write::OpenPullRequest { .. }) => {
            " (the token needs `pull-requests: write`, and the repository must allow Actions to create pull requests)"
        }
        _ => "",
    };
    format!("{e}{hint}")
}

async fn open_or_update_issue(
    c: &Client,
    title: &str,
    body: &str,
    labels: &[String],
    kind: &str,
    key: &str,
) -> Result<Outcome, crate::github::GithubError> {
    debug_assert!(has_marker(body, kind, key));
    let label = labels.first().map(String::as_str).unwrap_or_default();
    if let Some(existing) = c.find_issue_by_marker(label, kind, key).await? {
        if existing.body.as_deref() != Some(body) {
            c.update_issue(existing.number, None, Some(body), None)
                .await?;
        }
        return Ok(Outcome::Issue {
            number: existing.number,
            created: false,
        });
    }
    let issue = c.create_issue(title, body, labels, (kind, key)).await?;
    Ok(Outcome::Issue {
        number: issue.number,
        created: true,
    })
}

#[allow(clippy::too_many_arguments)]
async fn open_or_update_pull(
    c: &Client,
    head: &str,
    base: &str,
    title: &str,
    body: &str,
    labels: &[String],
    kind: &str,
    key: &str,
) -> Result<Outcome, crate::github::GithubError> {
    debug_assert!(has_marker(body, kind, key));
    // A pull request from `head` is updated only when ci-medic opened it with
    // this marker; one anybody else opened from that branch is left alone.
    let open = c.pulls_from(head).await?;
    let ours = |p: &crate::github::types::PullInfo| {
        p.user
            .as_ref()
            .is_some_and(|u| c.identity().is_ours(&u.login))
            && p.body.as_deref().is_some_and(|b| has_marker(b, kind, key))
    };
    if let Some(other) = open.iter().find(|p| !ours(p))
        && !open.iter().any(ours)
    {
        return Ok(Outcome::Failed {
            error: format!(
                "branch {head} already has pull request #{} that ci-medic did not open; it is left alone",
                other.number
            ),
        });
    }
    let existing = open.into_iter().find(ours);
    let (number, created) = match existing {
        Some(p) => {
            if p.title != title || p.body.as_deref() != Some(body) {
                c.update_pull(p.number, title, body).await?;
            }
            (p.number, false)
        }
        None => (c.create_pull(head, base, title, body).await?.number, true),
    };
    if !labels.is_empty() {
        c.add_labels(number, labels).await?;
    }
    Ok(Outcome::Pull { number, created })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comment(number: u64) -> Write {
        Write::Comment {
            number,
            body: "hi".into(),
            marker: None,
        }
    }

    fn done(pairs: &[(&str, Outcome)]) -> BTreeMap<String, Outcome> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.clone()))
            .collect()
    }

    fn step(plan: &Plan, id: &str) -> Step {
        plan.steps
            .iter()
            .find(|s| s.id == id)
            .cloned()
            .expect("step")
    }

    #[test]
    fn a_failed_dependency_skips_only_its_dependants() {
        let mut plan = Plan::new("t");
        let first = plan.push(Write::RerunFailedJobs { run_id: 1 }, "a");
        let after = plan.push_with(
            comment(5),
            "b",
            StepOptions {
                depends_on: vec![first.clone()],
                ..StepOptions::default()
            },
        );
        let free = plan.push(comment(6), "c");
        let failed = done(&[(
            first.as_str(),
            Outcome::Failed {
                error: "403".into(),
            },
        )]);
        assert!(gate(&step(&plan, &after), &failed).is_err());
        assert!(gate(&step(&plan, &free), &failed).is_ok());
        let landed = done(&[(first.as_str(), Outcome::DryRun)]);
        assert!(gate(&step(&plan, &after), &landed).is_ok());
    }

    #[test]
    fn a_fallback_runs_only_when_what_it_stands_for_failed() {
        let mut plan = Plan::new("t");
        let rerun = plan.push(Write::RerunFailedJobs { run_id: 1 }, "a");
        let issue = plan.push_with(
            comment(5),
            "b",
            StepOptions {
                depends_on: vec![rerun.clone()],
                when: When::AnyFailed,
                ..StepOptions::default()
            },
        );
        let s = step(&plan, &issue);
        let ok = done(&[(
            rerun.as_str(),
            Outcome::Done {
                detail: String::new(),
                merged_head: None,
            },
        )]);
        assert!(gate(&s, &ok).is_err());
        let refused = done(&[(
            rerun.as_str(),
            Outcome::Failed {
                error: "403".into(),
            },
        )]);
        assert!(gate(&s, &refused).is_ok());
    }

    #[test]
    fn numbers_come_from_earlier_steps() {
        let mut plan = Plan::new("t");
        let open = plan.push(
            Write::OpenPullRequest {
                head: "h".into(),
                base: "main".into(),
                title: "t".into(),
                body: "b".into(),
                labels: Vec::new(),
                marker_kind: "k".into(),
                marker_key: "1".into(),
            },
            "a",
        );
        let c = plan.push_with(
            comment(0),
            "b",
            StepOptions {
                number_from: Some(open.clone()),
                ..StepOptions::default()
            },
        );
        let pulled = done(&[(
            open.as_str(),
            Outcome::Pull {
                number: 42,
                created: true,
            },
        )]);
        assert_eq!(gate(&step(&plan, &c), &pulled).ok(), Some(comment(42)));
        let nothing = done(&[(
            open.as_str(),
            Outcome::Done {
                detail: String::new(),
                merged_head: None,
            },
        )]);
        assert!(gate(&step(&plan, &c), &nothing).is_err());
    }

    #[test]
    fn texts_name_what_an_earlier_step_opened_or_updated() {
        let render = |n: u64, created: bool| {
            let verb = if created { "Opened" } else { "Updated" };
            format!("<!-- m -->\n{verb} #{n}: fix `#{n}` @x\n")
        };
        let mut plan = Plan::new("t");
        let open = plan.push(Write::RerunFailedJobs { run_id: 1 }, "a");
        let text = TextFrom::rendered(&open, render).expect("names the number");
        let c = plan.push_with(
            Write::Comment {
                number: 7,
                body: "planned".into(),
                marker: None,
            },
            "b",
            StepOptions {
                text_from: Some(text),
                ..StepOptions::default()
            },
        );
        let body = |o: Outcome| match gate(&step(&plan, &c), &done(&[(open.as_str(), o)])) {
            Ok(Write::Comment { number, body, .. }) => Ok((number, body)),
            other => Err(format!("{other:?}")),
        };
        // Only the first `#N` is the slot: the rest of the text is kept.
        let stand_in = u64::MAX;
        assert_eq!(
            body(Outcome::Pull {
                number: 42,
                created: true
            }),
            Ok((7, format!("<!-- m -->\nOpened #42: fix `#{stand_in}` @x\n")))
        );
        assert_eq!(
            body(Outcome::Issue {
                number: 3,
                created: false
            }),
            Ok((7, format!("<!-- m -->\nUpdated #3: fix `#{stand_in}` @x\n")))
        );
        assert_eq!(body(Outcome::DryRun), Ok((7, "planned".into())));
        assert!(
            body(Outcome::Done {
                detail: String::new(),
                merged_head: None
            })
            .is_err()
        );
        assert!(TextFrom::rendered("a", |_, _| "no number".into()).is_none());
        let mut merged = Plan::new("run");
        merged.merge_as("heal", &plan);
        let step = &merged.steps[1];
        assert_eq!(
            step.text_from.as_ref().map(|t| t.step.as_str()),
            Some("heal/rerun-failed-jobs-1")
        );
        assert!(
            merged
                .to_text()
                .contains("naming what heal/rerun-failed-jobs-1 opens or updates")
        );
    }

    #[test]
    fn merged_plans_keep_ids_apart_and_cross_references_intact() {
        let mut retry = Plan::new("retry");
        retry.push_with(
            Write::RerunFailedJobs { run_id: 1 },
            "a",
            StepOptions {
                id: Some("rerun-failed".into()),
                ..StepOptions::default()
            },
        );
        let mut analyze = Plan::new("analyze");
        analyze.push_with(
            comment(3),
            "b",
            StepOptions {
                depends_on: vec!["retry/rerun-failed".into()],
                when: When::AnyFailed,
                ..StepOptions::default()
            },
        );
        let mut merged = Plan::new("run");
        merged.merge_as("retry", &retry);
        merged.merge_as("analyze", &analyze);
        let ids: Vec<&str> = merged.steps.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["retry/rerun-failed", "analyze/comment-1"]);
        assert_eq!(merged.steps[1].depends_on, ["retry/rerun-failed"]);
        let report = Report {
            job: "run".into(),
            dry_run: true,
            results: merged
                .steps
                .iter()
                .map(|s| (s.clone(), Outcome::DryRun))
                .collect(),
        };
        let mine = report.for_job("analyze");
        assert_eq!(mine.results.len(), 1);
        assert_eq!(mine.results[0].0.id, "comment-1");
    }

    fn push_rows() -> Write {
        let at = chrono::DateTime::from_timestamp_millis(1_700_000_000_123).expect("test value");
        Write::InsertRows {
            rows: TableRows::Pushes(vec![crate::store::PushRow {
                repository_full_name: "o/r".into(),
                git_ref: "refs/heads/main".into(),
                after: "abc".into(),
                pushed_at: at,
                commits: vec![crate::store::PushCommit {
                    id: "abc".into(),
                    timestamp: at,
                    message: "fix the build".into(),
                    author: "a@example.com".into(),
                }],
            }]),
        }
    }

    fn migrate() -> Write {
        Write::Migrate {
            database: "ci_medic".into(),
            migrations: vec!["006_workflow_job_input".into(), "007_push_input".into()],
        }
    }

    #[test]
    fn store_writes_say_table_and_count_and_show_their_rows_in_json() {
        let w = push_rows();
        assert_eq!(w.sink(), Sink::Store);
        assert_eq!(w.describe(), "insert 1 row(s) into ClickHouse table push");
        let mut plan = Plan::new("ingest");
        plan.push(w, "a push event");
        let json = serde_json::to_value(&plan).expect("json");
        assert_eq!(
            json["steps"][0],
            serde_json::json!({
                "id": "insert-rows-1",
                "kind": "insert-rows",
                "table": "push",
                "rows": [{
                    "repository_full_name": "o/r",
                    "ref": "refs/heads/main",
                    "after": "abc",
                    "pushed_at": 1_700_000_000_123_i64,
                    "commits": [["abc", 1_700_000_000_123_i64, "fix the build", "a@example.com"]],
                }],
                "reason": "a push event",
                "best_effort": false,
            })
        );

        let m = migrate();
        assert_eq!(m.sink(), Sink::Store);
        assert_eq!(
            m.describe(),
            "apply ClickHouse migrations 006_workflow_job_input, 007_push_input to database ci_medic"
        );
        let json = serde_json::to_value(&m).expect("json");
        assert_eq!(json["kind"], "migrate");
        assert_eq!(json["migrations"][1], "007_push_input");
        assert_eq!(comment(1).sink(), Sink::Github);
    }

    #[tokio::test]
    async fn a_store_write_without_a_store_fails_naming_the_setting() {
        let mut plan = Plan::new("ingest");
        plan.push(push_rows(), "a push event");
        plan.push(migrate(), "pending");
        let report = execute(&plan, &Sinks::default(), false).await;
        assert!(report.failed());
        assert!(!report.dry_run);
        for (_, o) in &report.results {
            let Outcome::Failed { error } = o else {
                panic!("{o:?}");
            };
            assert!(error.contains("clickhouse.url"), "{error}");
        }
        let refused = Sinks {
            store_error: Some("cannot reach clickhouse at http://h/".into()),
            ..Sinks::default()
        };
        let report = execute(&plan, &refused, false).await;
        assert_eq!(
            report.results[0].1,
            Outcome::Failed {
                error: "cannot reach clickhouse at http://h/".into()
            }
        );
        // A dry run needs no store and writes nothing.
        let report = execute(&plan, &Sinks::default(), true).await;
        assert!(!report.failed() && report.dry_run);
        assert!(report.results.iter().all(|(_, o)| *o == Outcome::DryRun));
    }

    fn audit_row(sha: &str) -> crate::store::AutorevertEvent {
        crate::store::AutorevertEvent {
            ts: chrono::DateTime::from_timestamp_millis(1_700_000_000_000).expect("test value"),
            repository_full_name: "o/r".into(),
            action: crate::store::AutorevertAction::Restart,
            commit_sha: sha.into(),
            workflows: vec!["trunk".into()],
            signals: Vec::new(),
            verdict: "dispatch".into(),
            reason: "r".into(),
            dry_run: false,
            failed: false,
            notes: String::new(),
        }
    }

    /// Rows that record earlier steps say whether those steps landed: one
    /// failed or skipped step marks its row failed, the others stay as
    /// planned, and a merged plan keeps the references pointing at its own
    /// steps.
    #[test]
    fn records_say_whether_the_steps_they_record_landed() {
        let mut plan = Plan::new("autorevert");
        let tag = plan.push(
            Write::CreateRef {
                git_ref: "refs/tags/trunk/a".into(),
                sha: "a".into(),
            },
            "tag",
        );
        let dispatch = plan.push(
            Write::DispatchWorkflow {
                workflow: "trunk.yml".into(),
                git_ref: "trunk/a".into(),
                inputs: serde_json::Map::new(),
            },
            "dispatch",
        );
        let record = Write::InsertRecords {
            rows: TableRows::AutorevertEvents(vec![audit_row("a"), audit_row("b"), audit_row("c")]),
            outcome_of: vec![
                vec![tag.clone(), dispatch.clone()],
                vec![tag.clone()],
                vec![],
            ],
        };
        assert_eq!(record.sink(), Sink::Store);
        assert!(
            record
                .describe()
                .starts_with("insert 3 row(s) into ClickHouse table autorevert_events")
        );
        let audit = plan.push_best_effort(record, "audit");
        let failed = |w: &Write| match w {
            Write::InsertRecords {
                rows: TableRows::AutorevertEvents(rows),
                ..
            } => rows.iter().map(|r| r.failed).collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        let landed = Outcome::Done {
            detail: String::new(),
            merged_head: None,
        };
        let refused = Outcome::Failed {
            error: "403".into(),
        };
        let all_landed = done(&[
            (tag.as_str(), landed.clone()),
            (dispatch.as_str(), landed.clone()),
        ]);
        let w = gate(&step(&plan, &audit), &all_landed).expect("runs");
        assert_eq!(failed(&w), [false, false, false]);
        let dispatch_refused = done(&[
            (tag.as_str(), landed.clone()),
            (dispatch.as_str(), refused.clone()),
        ]);
        let w = gate(&step(&plan, &audit), &dispatch_refused).expect("runs");
        assert_eq!(failed(&w), [true, false, false]);
        let skipped = Outcome::Skipped { why: "x".into() };
        let tag_skipped = done(&[(tag.as_str(), skipped), (dispatch.as_str(), landed)]);
        let w = gate(&step(&plan, &audit), &tag_skipped).expect("runs");
        assert_eq!(failed(&w), [true, true, false]);

        let mut merged = Plan::new("run");
        merged.merge_as("autorevert", &plan);
        match &merged.steps[2].write {
            Write::InsertRecords { outcome_of, .. } => assert_eq!(
                outcome_of[0],
                ["autorevert/create-ref-1", "autorevert/dispatch-workflow-2"]
            ),
            other => panic!("{other:?}"),
        }
    }
}
