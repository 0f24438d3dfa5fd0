//! One repository of the fake world, with the operations handlers and seeding
//! share (labels, commits on a branch, workflows).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::git::{EntryKind, GitStore, MODE_FILE, Signature, TreeEntry};
use super::model::{
    CheckRun, Comment, Dispatch, Issue, IssueEvent, Job, Label, PullData, Reaction, Rerun, Review,
    Run, Workflow,
};
use super::world::Env;

/// Colour GitHub gives a label created implicitly (by adding it to an issue).
pub const DEFAULT_LABEL_COLOR: &str = "ededed";

#[derive(Debug)]
pub struct Repo {
    pub id: u64,
    pub owner: String,
    pub name: String,
    pub default_branch: String,
    pub private: bool,
    pub description: Option<String>,
    pub git: GitStore,
    pub issues: BTreeMap<u64, Issue>,
    pub pulls: BTreeMap<u64, PullData>,
    pub comments: Vec<Comment>,
    pub labels: Vec<Label>,
    pub events: Vec<IssueEvent>,
    /// Collaborator login to `admin`, `maintain`, `write`, `triage`, `read` or
    /// `none`.
    pub permissions: BTreeMap<String, String>,
    pub workflows: Vec<Workflow>,
    pub runs: BTreeMap<u64, Run>,
    pub jobs: BTreeMap<u64, Job>,
    pub reruns: Vec<Rerun>,
    pub dispatches: Vec<Dispatch>,
    pub check_runs: Vec<CheckRun>,
    /// Reactions to issue comments.
    pub reactions: Vec<Reaction>,
    /// Reviews of pull requests, in submission order.
    pub reviews: Vec<Review>,
    /// Why branch protection refuses every merge (405), when it does.
    pub merge_blocked: Option<String>,
    pub repository_dispatches:
        Vec<crate::support::fake_github::handlers::repository_dispatch::RepositoryDispatch>,
    /// `owner/name` of the repository this one is a fork of (see `forks.rs`).
    pub fork_of: Option<String>,
    /// Every write to this repository is refused (403), as a fork refuses
    /// a token that cannot push to it.
    pub refuses_writes: bool,
    next_number: u64,
    next_run_number: u64,
}

impl Repo {
    pub fn new(id: u64, owner: &str, name: &str, default_branch: &str) -> Repo {
        Repo {
            id,
            owner: owner.to_owned(),
            name: name.to_owned(),
            default_branch: default_branch.to_owned(),
            private: false,
            description: None,
            git: GitStore::default(),
            issues: BTreeMap::new(),
            pulls: BTreeMap::new(),
            comments: Vec::new(),
            labels: Vec::new(),
            events: Vec::new(),
            permissions: BTreeMap::new(),
            workflows: Vec::new(),
            runs: BTreeMap::new(),
            jobs: BTreeMap::new(),
            reruns: Vec::new(),
            dispatches: Vec::new(),
            check_runs: Vec::new(),
            reactions: Vec::new(),
            reviews: Vec::new(),
            merge_blocked: None,
            repository_dispatches: Vec::new(),
            fork_of: None,
            refuses_writes: false,
            next_number: 1,
            next_run_number: 1,
        }
    }

    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    /// Next issue or pull request number (shared, as on GitHub).
    pub fn next_number(&mut self) -> u64 {
        let n = self.next_number;
        self.next_number += 1;
        n
    }

    /// Opens an issue, or the issue half of a pull request; returns its number.
    pub fn open_issue(
        &mut self,
        env: &mut Env,
        title: String,
        body: Option<String>,
        user: &str,
        is_pull_request: bool,
    ) -> u64 {
        let now = env.tick();
        let number = self.next_number();
        self.issues.insert(
            number,
            Issue {
                id: env.next_id(),
                number,
                title,
                body,
                state: "open".to_owned(),
                state_reason: None,
                labels: Vec::new(),
                user: user.to_owned(),
                assignees: Vec::new(),
                locked: false,
                is_pull_request,
                created_at: now,
                updated_at: now,
                closed_at: None,
            },
        );
        number
    }

    pub fn next_run_number(&mut self) -> u64 {
        let n = self.next_run_number;
        self.next_run_number += 1;
        n
    }

    pub fn label(&self, name: &str) -> Option<&Label> {
        self.labels
            .iter()
            .find(|l| l.name.eq_ignore_ascii_case(name))
    }

    /// The label, created with the default colour if missing (as adding an
    /// unknown label to an issue does on GitHub).
    pub fn ensure_label(&mut self, env: &mut Env, name: &str) -> Label {
        if let Some(l) = self.label(name) {
            return l.clone();
        }
        let label = Label {
            id: env.next_id(),
            name: name.to_owned(),
            color: DEFAULT_LABEL_COLOR.to_owned(),
            description: None,
        };
        self.labels.push(label.clone());
        label
    }

    /// Adds labels to an issue, recording `labeled` events; returns whether
    /// anything changed.
    pub fn add_issue_labels(
        &mut self,
        env: &mut Env,
        number: u64,
        names: &[String],
        actor: &str,
    ) -> bool {
        let mut changed = false;
        for name in names {
            let label = self.ensure_label(env, name);
            let Some(issue) = self.issues.get_mut(&number) else {
                return changed;
            };
            if issue
                .labels
                .iter()
                .any(|l| l.eq_ignore_ascii_case(&label.name))
            {
                continue;
            }
            issue.labels.push(label.name.clone());
            let now = env.tick();
            issue.updated_at = now;
            let id = env.next_id();
            self.events.push(IssueEvent {
                id,
                issue_number: number,
                event: "labeled".to_owned(),
                actor: actor.to_owned(),
                label: Some(label.name),
                created_at: now,
            });
            changed = true;
        }
        changed
    }

    /// Removes a label from an issue, recording an `unlabeled` event; returns
    /// whether the issue had it.
    pub fn remove_issue_label(
        &mut self,
        env: &mut Env,
        number: u64,
        name: &str,
        actor: &str,
    ) -> bool {
        let Some(issue) = self.issues.get_mut(&number) else {
            return false;
        };
        let Some(at) = issue
            .labels
            .iter()
            .position(|l| l.eq_ignore_ascii_case(name))
        else {
            return false;
        };
        let removed = issue.labels.remove(at);
        let now = env.tick();
        issue.updated_at = now;
        let id = env.next_id();
        self.events.push(IssueEvent {
            id,
            issue_number: number,
            event: "unlabeled".to_owned(),
            actor: actor.to_owned(),
            label: Some(removed),
            created_at: now,
        });
        true
    }

    /// Head commit of a branch.
    pub fn branch_sha(&self, branch: &str) -> Option<String> {
        self.git.refs.get(&format!("refs/heads/{branch}")).cloned()
    }

    /// Commits files on a branch; a missing branch starts from the default
    /// branch (or from nothing in an empty repository). Returns the new commit
    /// id.
    pub fn commit_files(
        &mut self,
        env: &mut Env,
        branch: &str,
        files: &[(&str, &str)],
        message: &str,
        author: &str,
    ) -> String {
        let parent = self
            .branch_sha(branch)
            .or_else(|| self.branch_sha(&self.default_branch));
        let mut tree: BTreeMap<String, TreeEntry> = parent
            .as_ref()
            .and_then(|p| self.git.commits.get(p))
            .map(|c| self.git.flatten(&c.tree))
            .unwrap_or_default();
        for (path, content) in files {
            let blob = self.git.put_blob(content.as_bytes().to_vec());
            tree.insert(
                (*path).to_owned(),
                TreeEntry {
                    mode: MODE_FILE.to_owned(),
                    kind: EntryKind::Blob,
                    sha: blob,
                },
            );
        }
        let tree = self.git.build_tree(&tree);
        let sig = Signature {
            name: author.to_owned(),
            email: format!(
                "{}@users.noreply.example.com",
                author.replace(['[', ']'], "")
            ),
            date: env.tick(),
        };
        let sha = self.git.put_commit(
            tree,
            parent.into_iter().collect(),
            message.to_owned(),
            sig.clone(),
            sig,
        );
        self.git
            .refs
            .insert(format!("refs/heads/{branch}"), sha.clone());
        sha
    }

    /// A workflow by numeric id or by file name (`ci.yml`), as the
    /// `{workflow_id}` path parameter allows.
    pub fn workflow(&self, id_or_file: &str) -> Option<&Workflow> {
        self.workflows.iter().find(|w| {
            w.id.to_string() == id_or_file
                || w.path.rsplit('/').next() == Some(id_or_file)
                || w.path == id_or_file
        })
    }

    /// The workflow at `path`, registered under `name` if new; returns its id.
    pub fn ensure_workflow(&mut self, env: &mut Env, name: &str, path: &str) -> u64 {
        if let Some(w) = self.workflows.iter().find(|w| w.path == path) {
            return w.id;
        }
        let id = env.next_id();
        self.workflows.push(Workflow {
            id,
            name: name.to_owned(),
            path: path.to_owned(),
            state: "active".to_owned(),
        });
        id
    }

    /// Jobs of one attempt of a run, in creation order.
    pub fn jobs_of(&self, run_id: u64, attempt: u32) -> Vec<&Job> {
        self.jobs
            .values()
            .filter(|j| j.run_id == run_id && j.run_attempt == attempt)
            .collect()
    }

    /// Last time anything on the repository changed (for `pushed_at` and
    /// `updated_at`).
    pub fn last_push(&self) -> Option<DateTime<Utc>> {
        self.git.commits.values().map(|c| c.committer.date).max()
    }
}
