//! Reading the world back: what the client wrote, and every request it made.
//!
//! Readers of written things (issues, comments, pull requests, refs, re-runs,
//! dispatches) mark the matching writes as read; a write no reader looked at
//! fails [`FakeGithub::assert_clean`].

use std::collections::BTreeMap;

use regex::Regex;

use super::FakeGithub;
use super::git::Commit;
use super::model::{
    CheckRun, Comment, Dispatch, Issue, IssueEvent, Job, Label, PullRequest, Rerun, Run, Workflow,
};
use super::recorder::{RecordedRequest, WriteKind};
use super::repo::Repo;
use super::world::World;

impl FakeGithub {
    fn read<R>(&self, mark: impl Fn(&WriteKind) -> bool, f: impl FnOnce(&Repo) -> R) -> R {
        let name = self.repo_name().to_owned();
        self.with_world(|w: &mut World| {
            w.log.mark_read(mark);
            let repo = w
                .repo(&name)
                .unwrap_or_else(|| panic!("the fake has no repository {name}"));
            f(repo)
        })
    }

    /// Issues (not pull requests), by number.
    pub fn issues(&self) -> Vec<Issue> {
        self.read(
            |k| matches!(k, WriteKind::Issue(_)),
            |r| {
                r.issues
                    .values()
                    .filter(|i| !i.is_pull_request)
                    .cloned()
                    .collect()
            },
        )
    }

    /// One issue or pull request's issue half.
    pub fn issue(&self, number: u64) -> Option<Issue> {
        self.read(
            |k| *k == WriteKind::Issue(number),
            |r| r.issues.get(&number).cloned(),
        )
    }

    /// Comments on an issue or pull request, oldest first.
    pub fn comments(&self, issue_number: u64) -> Vec<Comment> {
        self.read(
            |k| *k == WriteKind::Comment(issue_number),
            |r| {
                r.comments
                    .iter()
                    .filter(|c| c.issue_number == issue_number)
                    .cloned()
                    .collect()
            },
        )
    }

    /// Check runs, oldest first.
    pub fn check_runs(&self) -> Vec<CheckRun> {
        self.read(
            |k| matches!(k, WriteKind::CheckRun(_)),
            |r| r.check_runs.clone(),
        )
    }

    /// Repository labels.
    pub fn labels(&self) -> Vec<Label> {
        self.read(|k| matches!(k, WriteKind::Label(_)), |r| r.labels.clone())
    }

    /// `labeled` / `unlabeled` events of an issue, oldest first.
    pub fn issue_events(&self, issue_number: u64) -> Vec<IssueEvent> {
        self.read(
            |k| *k == WriteKind::Issue(issue_number),
            |r| {
                r.events
                    .iter()
                    .filter(|e| e.issue_number == issue_number)
                    .cloned()
                    .collect()
            },
        )
    }

    /// Pull requests, by number.
    pub fn pulls(&self) -> Vec<PullRequest> {
        let name = self.repo_name().to_owned();
        self.with_world(|w: &mut World| {
            let pulls: Vec<PullRequest> = w
                .repo(&name)
                .map(|r| {
                    r.pulls
                        .values()
                        .map(|p| PullRequest::from_parts(&r.issues[&p.number], p))
                        .collect()
                })
                .unwrap_or_default();
            let numbers: Vec<u64> = pulls.iter().map(|p| p.number).collect();
            w.log.mark_read(|k| match k {
                WriteKind::Pull(_) => true,
                WriteKind::Issue(n) => numbers.contains(n),
                _ => false,
            });
            pulls
        })
    }

    /// One pull request.
    pub fn pull(&self, number: u64) -> Option<PullRequest> {
        self.read(
            |k| *k == WriteKind::Pull(number) || *k == WriteKind::Issue(number),
            |r| {
                r.pulls
                    .get(&number)
                    .map(|p| PullRequest::from_parts(&r.issues[&number], p))
            },
        )
    }

    /// Re-runs requested, in order.
    pub fn reruns(&self) -> Vec<Rerun> {
        self.read(|k| matches!(k, WriteKind::Rerun(_)), |r| r.reruns.clone())
    }

    /// Workflow dispatches requested, in order.
    pub fn dispatches(&self) -> Vec<Dispatch> {
        self.read(
            |k| matches!(k, WriteKind::Dispatch(_)),
            |r| r.dispatches.clone(),
        )
    }

    /// Registered workflows.
    pub fn workflows(&self) -> Vec<Workflow> {
        self.read(|_| false, |r| r.workflows.clone())
    }

    /// Workflow runs, by id.
    pub fn runs(&self) -> Vec<Run> {
        self.read(
            |k| matches!(k, WriteKind::Rerun(_) | WriteKind::Cancel(_)),
            |r| r.runs.values().cloned().collect(),
        )
    }

    /// One workflow run (its latest attempt).
    pub fn run(&self, run_id: u64) -> Option<Run> {
        self.read(
            |k| *k == WriteKind::Rerun(run_id) || *k == WriteKind::Cancel(run_id),
            |r| r.runs.get(&run_id).cloned(),
        )
    }

    /// Jobs of the latest attempt of a run.
    pub fn jobs(&self, run_id: u64) -> Vec<Job> {
        self.read(
            |k| *k == WriteKind::Rerun(run_id),
            |r| {
                let attempt = r.runs.get(&run_id).map_or(0, |run| run.run_attempt);
                r.jobs_of(run_id, attempt).into_iter().cloned().collect()
            },
        )
    }

    /// Every ref (`refs/heads/main`, `refs/tags/v1`) and its commit.
    pub fn refs(&self) -> BTreeMap<String, String> {
        self.read(|k| matches!(k, WriteKind::Ref(_)), |r| r.git.refs.clone())
    }

    /// Head commit of a branch.
    pub fn branch(&self, branch: &str) -> Option<String> {
        let name = format!("refs/heads/{branch}");
        self.read(
            |k| *k == WriteKind::Ref(name.clone()),
            |r| r.git.refs.get(&name).cloned(),
        )
    }

    /// Head commit of a branch; panics if there is no such branch.
    #[track_caller]
    pub fn head_sha(&self, branch: &str) -> String {
        self.branch(branch)
            .unwrap_or_else(|| panic!("the fake has no branch {branch}"))
    }

    /// A commit by id.
    pub fn commit(&self, sha: &str) -> Option<Commit> {
        self.read(|_| false, |r| r.git.commits.get(sha).cloned())
    }

    /// A file's content (UTF-8, lossy) at a branch, tag or commit.
    pub fn file(&self, git_ref: &str, path: &str) -> Option<String> {
        let refs = [
            format!("refs/heads/{git_ref}"),
            format!("refs/tags/{git_ref}"),
            git_ref.to_owned(),
        ];
        self.read(
            |k| matches!(k, WriteKind::Ref(r) if refs.contains(r)),
            |r| {
                let commit = r.git.resolve(git_ref)?;
                r.git
                    .file_at(&commit, path)
                    .map(|b| String::from_utf8_lossy(b).into_owned())
            },
        )
    }

    /// Every file (UTF-8, lossy) at a branch, tag or commit, by path.
    pub fn files(&self, git_ref: &str) -> BTreeMap<String, String> {
        let refs = [
            format!("refs/heads/{git_ref}"),
            format!("refs/tags/{git_ref}"),
            git_ref.to_owned(),
        ];
        self.read(
            |k| matches!(k, WriteKind::Ref(r) if refs.contains(r)),
            |r| files_at(r, git_ref),
        )
    }

    /// Every request received (API and blob host), in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.with_world(|w| w.log.requests.clone())
    }

    /// Requests whose method matches (`"*"` for any) and whose path matches
    /// `path_regex`.
    pub fn requests_to(&self, method: &str, path_regex: &str) -> Vec<RecordedRequest> {
        let re =
            Regex::new(path_regex).unwrap_or_else(|e| panic!("bad path regex {path_regex:?}: {e}"));
        self.requests()
            .into_iter()
            .filter(|r| {
                (method == "*" || r.method.eq_ignore_ascii_case(method)) && re.is_match(&r.path)
            })
            .collect()
    }

    /// Tokens seen in `Authorization` headers, in order of first use.
    pub fn tokens(&self) -> Vec<String> {
        self.with_world(|w| w.log.tokens.clone())
    }
}

/// Expectations: a test states what the client should have written, and the
/// write is marked read only when it matches. "New" writes are those no reader
/// has looked at yet, so a test checks each step's writes as it goes.
impl FakeGithub {
    /// Marks the new writes matching `kind` read; returns how many there were.
    fn take_new(&self, kind: impl Fn(&WriteKind) -> bool) -> usize {
        self.with_world(|w| {
            let mut n = 0;
            for write in w.log.writes.iter_mut().filter(|x| !x.read && kind(&x.kind)) {
                write.read = true;
                n += 1;
            }
            n
        })
    }

    /// Asserts the repository labels the client created since the last look
    /// are exactly `names` (in any order).
    #[track_caller]
    pub fn expect_labels_created(&self, names: &[&str]) {
        let mut created: Vec<String> = self.with_world(|w| {
            w.log
                .writes
                .iter()
                .filter(|x| !x.read)
                .filter_map(|x| match &x.kind {
                    WriteKind::Label(name) => Some(name.clone()),
                    _ => None,
                })
                .collect()
        });
        self.take_new(|k| matches!(k, WriteKind::Label(_)));
        let mut want: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        created.sort();
        want.sort();
        assert_eq!(created, want, "repository labels created");
    }

    /// Asserts the client created no repository label since the last look.
    #[track_caller]
    pub fn expect_no_labels_created(&self) {
        self.expect_labels_created(&[]);
    }

    /// Asserts issue (or pull request) `number` has exactly one comment and
    /// that `check` accepts its body; returns the comment.
    #[track_caller]
    pub fn expect_comment(&self, number: u64, check: impl FnOnce(&str) -> bool) -> Comment {
        let mut comments = self.comments(number);
        assert_eq!(comments.len(), 1, "comments on #{number}: {comments:?}");
        let comment = comments.remove(0);
        assert!(
            check(&comment.body),
            "unexpected comment on #{number}:\n{}",
            comment.body
        );
        comment
    }

    /// Asserts comments were written on issue (or pull request) `number`
    /// since the last look and that `check` accepts the newest; returns it.
    #[track_caller]
    pub fn expect_latest_comment(&self, number: u64, check: impl FnOnce(&str) -> bool) -> Comment {
        let new = self.take_new(|k| *k == WriteKind::Comment(number));
        assert!(new > 0, "no new comment on #{number}");
        let comment = self
            .read(
                |_| false,
                |r| {
                    r.comments
                        .iter()
                        .rfind(|c| c.issue_number == number)
                        .cloned()
                },
            )
            .unwrap_or_else(|| panic!("no comment on #{number}"));
        assert!(
            check(&comment.body),
            "unexpected comment on #{number}:\n{}",
            comment.body
        );
        comment
    }

    /// Asserts no workflow was dispatched since the last look.
    #[track_caller]
    pub fn expect_no_dispatches(&self) {
        self.expect_dispatches(&[]);
    }

    /// Asserts the workflow dispatches made since the last look ran on
    /// exactly `git_refs`, in order.
    #[track_caller]
    pub fn expect_dispatches(&self, git_refs: &[&str]) {
        let new = self.take_new(|k| matches!(k, WriteKind::Dispatch(_)));
        let all = self.read(|_| false, |r| r.dispatches.clone());
        let refs: Vec<&str> = all[all.len().saturating_sub(new)..]
            .iter()
            .map(|d| d.git_ref.as_str())
            .collect();
        assert_eq!(refs, git_refs, "new workflow dispatches: {all:?}");
    }

    /// The re-runs requested since the last look, marked read.
    fn new_reruns(&self) -> Vec<Rerun> {
        let new = self.take_new(|k| matches!(k, WriteKind::Rerun(_)));
        let all = self.read(|_| false, |r| r.reruns.clone());
        all[all.len().saturating_sub(new)..].to_vec()
    }

    /// Asserts no re-run was requested since the last look.
    #[track_caller]
    pub fn expect_no_reruns(&self) {
        let reruns = self.new_reruns();
        assert!(reruns.is_empty(), "unexpected re-runs: {reruns:?}");
    }

    /// Asserts the one re-run requested since the last look re-ran the
    /// failed jobs of run `run_id`.
    #[track_caller]
    pub fn expect_rerun_of_failed_jobs(&self, run_id: u64) {
        let reruns = self.new_reruns();
        assert!(
            matches!(reruns.as_slice(), [r] if r.run_id == run_id && r.job_id.is_none()),
            "expected one rerun-failed-jobs of run {run_id}: {reruns:?}"
        );
    }

    /// Asserts issue `number` exists and `check` accepts it; returns it.
    #[track_caller]
    pub fn expect_issue(&self, number: u64, check: impl FnOnce(&Issue) -> bool) -> Issue {
        let issue = self
            .issue(number)
            .unwrap_or_else(|| panic!("no issue #{number}"));
        assert!(check(&issue), "unexpected issue #{number}: {issue:?}");
        issue
    }

    /// Asserts the client never changed issue `number` (title, body, state,
    /// labels), whether or not a reader looked since.
    #[track_caller]
    pub fn expect_issue_untouched(&self, number: u64) {
        let writes: Vec<String> = self.with_world(|w| {
            w.log
                .writes
                .iter()
                .filter(|x| x.kind == WriteKind::Issue(number))
                .map(|x| x.by.clone())
                .collect()
        });
        assert!(
            writes.is_empty(),
            "issue #{number} was changed by {writes:?}"
        );
    }
}

/// Every file (UTF-8, lossy) of `repo` at a branch, tag or commit, by path.
pub(super) fn files_at(repo: &Repo, git_ref: &str) -> BTreeMap<String, String> {
    let Some(commit) = repo.git.resolve(git_ref) else {
        return BTreeMap::new();
    };
    let tree = repo.git.commits[&commit].tree.clone();
    repo.git
        .flatten(&tree)
        .into_iter()
        .filter_map(|(path, e)| {
            let bytes = repo.git.blobs.get(&e.sha)?;
            Some((path, String::from_utf8_lossy(bytes).into_owned()))
        })
        .collect()
}
