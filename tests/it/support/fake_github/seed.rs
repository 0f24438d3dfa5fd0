//! Seeding the world: repositories, commits, issues, pull requests, workflow
//! runs with jobs and logs. Seeded things are not client writes: nothing here
//! needs to be "read" by the test.

use chrono::{DateTime, Duration, Utc};

use super::model::{Comment, Job, Label, Logs, PullData, Run, Step, is_failure};
use super::repo::Repo;
use super::world::{Env, World};
use super::{FakeGithub, MAINTAINER, REPO};

/// A job to seed into a run.
#[derive(Clone, Debug)]
pub struct JobBuilder {
    name: String,
    status: String,
    conclusion: Option<String>,
    steps: Vec<(String, Option<String>)>,
    logs: Logs,
    labels: Vec<String>,
    runner: Option<String>,
}

impl JobBuilder {
    /// A completed, successful job (no logs until [`JobBuilder::log`]).
    pub fn new(name: &str) -> JobBuilder {
        JobBuilder {
            name: name.to_owned(),
            status: "completed".to_owned(),
            conclusion: Some("success".to_owned()),
            steps: Vec::new(),
            logs: Logs::Missing,
            labels: vec!["ubuntu-latest".to_owned()],
            runner: Some("GitHub Actions 2".to_owned()),
        }
    }

    /// A completed job that failed.
    pub fn failed(name: &str) -> JobBuilder {
        JobBuilder::new(name).conclusion("failure")
    }

    /// Completed with this conclusion (`success`, `failure`, `cancelled`,
    /// `timed_out`, `skipped`...).
    pub fn conclusion(mut self, conclusion: &str) -> JobBuilder {
        self.status = "completed".to_owned();
        self.conclusion = Some(conclusion.to_owned());
        self
    }

    /// Not completed (`queued`, `in_progress`...): no conclusion.
    pub fn status(mut self, status: &str) -> JobBuilder {
        self.status = status.to_owned();
        if status != "completed" {
            self.conclusion = None;
            self.runner = None;
        }
        self
    }

    /// Adds a step with its conclusion (`None`: not finished). Without any,
    /// the job gets "Set up job", "Run <name>" (with the job's conclusion) and
    /// "Complete job".
    pub fn step(mut self, name: &str, conclusion: Option<&str>) -> JobBuilder {
        self.steps
            .push((name.to_owned(), conclusion.map(str::to_owned)));
        self
    }

    /// The job's log, served after the 302 of `GET .../jobs/{id}/logs`.
    pub fn log(mut self, log: impl Into<Vec<u8>>) -> JobBuilder {
        self.logs = Logs::Available(log.into());
        self
    }

    /// Logs past retention: downloads answer 410.
    pub fn logs_expired(mut self) -> JobBuilder {
        self.logs = Logs::Expired;
        self
    }

    /// Runner labels (`runs-on`).
    pub fn labels(mut self, labels: &[&str]) -> JobBuilder {
        self.labels = labels.iter().map(|l| (*l).to_owned()).collect();
        self
    }

    fn failing(&self) -> bool {
        is_failure(self.conclusion.as_deref())
    }

    fn build(self, env: &mut Env, run_id: u64, attempt: u32, start: DateTime<Utc>) -> Job {
        let id = env.next_id();
        let done = self.status == "completed";
        let steps: Vec<(String, Option<String>)> = if self.steps.is_empty() {
            let run_step = self.conclusion.clone();
            vec![
                ("Set up job".to_owned(), done.then(|| "success".to_owned())),
                (format!("Run {}", self.name), run_step),
                (
                    "Complete job".to_owned(),
                    done.then(|| "success".to_owned()),
                ),
            ]
        } else {
            self.steps
        };
        let steps = steps
            .into_iter()
            .zip(1_u32..)
            .map(|((name, conclusion), number)| {
                let t = start + Duration::seconds(i64::from(number));
                Step {
                    number,
                    name,
                    status: if conclusion.is_some() || done {
                        "completed"
                    } else {
                        "queued"
                    }
                    .to_owned(),
                    completed_at: conclusion.as_ref().map(|_| t + Duration::seconds(1)),
                    started_at: (conclusion.is_some() || done).then_some(t),
                    conclusion: conclusion.or_else(|| done.then(|| "skipped".to_owned())),
                }
            })
            .collect();
        Job {
            id,
            run_id,
            run_attempt: attempt,
            name: self.name,
            status: self.status,
            conclusion: self.conclusion,
            created_at: start,
            started_at: start,
            completed_at: done.then(|| start + Duration::seconds(60)),
            steps,
            logs: self.logs,
            labels: self.labels,
            runner_name: self.runner,
        }
    }
}

/// A workflow run to seed.
#[derive(Clone, Debug)]
pub struct RunBuilder {
    workflow: String,
    path: Option<String>,
    event: String,
    head_sha: Option<String>,
    head_branch: Option<String>,
    status: String,
    conclusion: Option<String>,
    attempt: u32,
    created_at: Option<DateTime<Utc>>,
    actor: String,
    display_title: Option<String>,
    jobs: Vec<JobBuilder>,
    logs_zip: Option<Logs>,
    pull_requests: Vec<u64>,
    head_repository: Option<String>,
}

impl RunBuilder {
    /// A completed `push` run of the workflow named `workflow` on the default
    /// branch's head. Its conclusion follows its jobs unless set.
    pub fn new(workflow: &str) -> RunBuilder {
        RunBuilder {
            workflow: workflow.to_owned(),
            path: None,
            event: "push".to_owned(),
            head_sha: None,
            head_branch: None,
            status: "completed".to_owned(),
            conclusion: None,
            attempt: 1,
            created_at: None,
            actor: MAINTAINER.to_owned(),
            display_title: None,
            jobs: Vec::new(),
            logs_zip: None,
            pull_requests: Vec::new(),
            head_repository: None,
        }
    }

    /// Workflow file (default: the registered workflow of that name, else
    /// `.github/workflows/<name>.yml`).
    pub fn path(mut self, path: &str) -> RunBuilder {
        self.path = Some(path.to_owned());
        self
    }

    pub fn event(mut self, event: &str) -> RunBuilder {
        self.event = event.to_owned();
        self
    }

    pub fn head_sha(mut self, sha: &str) -> RunBuilder {
        self.head_sha = Some(sha.to_owned());
        self
    }

    /// Branch of the run (its head defaults to the branch's tip).
    pub fn head_branch(mut self, branch: &str) -> RunBuilder {
        self.head_branch = Some(branch.to_owned());
        self
    }

    /// Not completed (`queued`, `in_progress`...): no conclusion.
    pub fn status(mut self, status: &str) -> RunBuilder {
        self.status = status.to_owned();
        if status != "completed" {
            self.conclusion = None;
        }
        self
    }

    pub fn conclusion(mut self, conclusion: &str) -> RunBuilder {
        self.status = "completed".to_owned();
        self.conclusion = Some(conclusion.to_owned());
        self
    }

    /// The attempt number of the run (its jobs belong to this attempt).
    pub fn attempt(mut self, attempt: u32) -> RunBuilder {
        self.attempt = attempt.max(1);
        self
    }

    pub fn created_at(mut self, at: DateTime<Utc>) -> RunBuilder {
        self.created_at = Some(at);
        self
    }

    /// Login that triggered the run.
    pub fn actor(mut self, login: &str) -> RunBuilder {
        self.actor = login.to_owned();
        self
    }

    pub fn display_title(mut self, title: &str) -> RunBuilder {
        self.display_title = Some(title.to_owned());
        self
    }

    pub fn job(mut self, job: JobBuilder) -> RunBuilder {
        self.jobs.push(job);
        self
    }

    /// A specific log archive (default: built from the jobs' logs).
    pub fn logs_zip(mut self, zip: Vec<u8>) -> RunBuilder {
        self.logs_zip = Some(Logs::Available(zip));
        self
    }

    /// The run's log archive is past retention: 410.
    pub fn logs_expired(mut self) -> RunBuilder {
        self.logs_zip = Some(Logs::Expired);
        self
    }

    /// The run ran a fork's code (`owner/name`), as a fork's pull request's does.
    pub fn head_repository(mut self, full_name: &str) -> RunBuilder {
        self.head_repository = Some(full_name.to_owned());
        self
    }

    /// Links the run to a pull request (listed in `pull_requests`).
    pub fn pull_request(mut self, number: u64) -> RunBuilder {
        self.pull_requests.push(number);
        self
    }

    fn build(self, env: &mut Env, repo: &mut Repo) -> SeededRun {
        let path = self.path.clone().unwrap_or_else(|| {
            repo.workflows
                .iter()
                .find(|w| w.name == self.workflow)
                .map_or_else(
                    || {
                        let slug: String = self
                            .workflow
                            .to_lowercase()
                            .chars()
                            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                            .collect();
                        format!(".github/workflows/{slug}.yml")
                    },
                    |w| w.path.clone(),
                )
        });
        let workflow_id = repo.ensure_workflow(env, &self.workflow, &path);
        let head_branch = self
            .head_branch
            .clone()
            .or_else(|| self.head_sha.is_none().then(|| repo.default_branch.clone()));
        let head_sha = self
            .head_sha
            .clone()
            .or_else(|| head_branch.as_deref().and_then(|b| repo.branch_sha(b)))
            .unwrap_or_else(|| "0".repeat(40));
        let created = self.created_at.unwrap_or_else(|| env.tick());
        let id = env.next_id();
        let conclusion = match (&self.conclusion, self.status.as_str()) {
            (Some(c), _) => Some(c.clone()),
            (None, "completed") => Some(
                if self.jobs.iter().any(JobBuilder::failing) {
                    "failure"
                } else {
                    "success"
                }
                .to_owned(),
            ),
            (None, _) => None,
        };
        let title = self.display_title.clone().unwrap_or_else(|| {
            repo.git
                .commits
                .get(&head_sha)
                .and_then(|c| c.message.lines().next().map(str::to_owned))
                .unwrap_or_else(|| self.workflow.clone())
        });
        let jobs: Vec<Job> = self
            .jobs
            .into_iter()
            .map(|j| j.build(env, id, self.attempt, created))
            .collect();
        let job_ids = jobs.iter().map(|j| j.id).collect();
        for job in jobs {
            repo.jobs.insert(job.id, job);
        }
        let run_number = repo.next_run_number();
        repo.runs.insert(
            id,
            Run {
                id,
                workflow_id,
                name: self.workflow,
                path,
                event: self.event,
                head_sha,
                head_branch,
                display_title: title,
                status: self.status,
                conclusion,
                run_attempt: self.attempt,
                run_number,
                actor: self.actor,
                created_at: created,
                updated_at: created + Duration::seconds(120),
                run_started_at: created,
                logs_zip: self.logs_zip,
                pull_requests: self.pull_requests,
                head_repository: self.head_repository,
            },
        );
        SeededRun {
            id,
            workflow_id,
            jobs: job_ids,
            run_attempt: self.attempt,
        }
    }
}

/// Ids of a seeded run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeededRun {
    pub id: u64,
    pub workflow_id: u64,
    /// Job ids, in the order the jobs were added.
    pub jobs: Vec<u64>,
    pub run_attempt: u32,
}

/// An issue to seed.
#[derive(Clone, Debug)]
pub struct IssueBuilder {
    title: String,
    body: Option<String>,
    labels: Vec<String>,
    user: String,
    closed: bool,
}

impl IssueBuilder {
    /// An open issue by [`MAINTAINER`].
    pub fn new(title: &str) -> IssueBuilder {
        IssueBuilder {
            title: title.to_owned(),
            body: None,
            labels: Vec::new(),
            user: MAINTAINER.to_owned(),
            closed: false,
        }
    }

    pub fn body(mut self, body: &str) -> IssueBuilder {
        self.body = Some(body.to_owned());
        self
    }

    /// Adds a label (created with the default colour if missing).
    pub fn label(mut self, name: &str) -> IssueBuilder {
        self.labels.push(name.to_owned());
        self
    }

    pub fn user(mut self, login: &str) -> IssueBuilder {
        self.user = login.to_owned();
        self
    }

    pub fn closed(mut self) -> IssueBuilder {
        self.closed = true;
        self
    }

    fn insert(self, env: &mut Env, repo: &mut Repo, is_pull_request: bool) -> u64 {
        let number = repo.open_issue(env, self.title, self.body, &self.user, is_pull_request);
        if self.closed
            && let Some(issue) = repo.issues.get_mut(&number)
        {
            issue.state = "closed".to_owned();
            issue.state_reason = Some("completed".to_owned());
            issue.closed_at = Some(issue.created_at);
        }
        repo.add_issue_labels(env, number, &self.labels, &self.user);
        number
    }
}

/// A pull request to seed (its head branch must exist).
#[derive(Clone, Debug)]
pub struct PullBuilder {
    head: String,
    base: Option<String>,
    issue: IssueBuilder,
    draft: bool,
    merged: bool,
    fork: Option<(String, bool)>,
}

impl PullBuilder {
    /// An open pull request from `head` into the default branch.
    pub fn new(head: &str, title: &str) -> PullBuilder {
        PullBuilder {
            head: head.to_owned(),
            base: None,
            issue: IssueBuilder::new(title),
            draft: false,
            merged: false,
            fork: None,
        }
    }

    /// From `owner`'s fork, allowing edits by maintainers or not.
    pub fn fork(mut self, owner: &str, maintainer_can_modify: bool) -> PullBuilder {
        self.fork = Some((owner.to_owned(), maintainer_can_modify));
        self
    }

    pub fn base(mut self, base: &str) -> PullBuilder {
        self.base = Some(base.to_owned());
        self
    }

    pub fn body(mut self, body: &str) -> PullBuilder {
        self.issue = self.issue.body(body);
        self
    }

    pub fn label(mut self, name: &str) -> PullBuilder {
        self.issue = self.issue.label(name);
        self
    }

    pub fn user(mut self, login: &str) -> PullBuilder {
        self.issue = self.issue.user(login);
        self
    }

    pub fn draft(mut self) -> PullBuilder {
        self.draft = true;
        self
    }

    /// Closed and merged; its merge commit is the head commit.
    pub fn merged(mut self) -> PullBuilder {
        self.merged = true;
        self.issue = self.issue.closed();
        self
    }
}

impl FakeGithub {
    /// Adds a repository with an empty history; returns `owner/name`.
    pub fn add_repo(&self, owner: &str, name: &str, default_branch: &str) -> String {
        self.with_world(|w| {
            w.add_repo(owner, name, default_branch);
        });
        format!("{owner}/{name}")
    }

    fn seed<R>(&self, f: impl FnOnce(&mut Env, &mut Repo) -> R) -> R {
        let name = self.repo_name().to_owned();
        self.with_world(|w: &mut World| {
            let (env, repo, _) = w
                .split(&name)
                .unwrap_or_else(|| panic!("the fake has no repository {name}"));
            f(env, repo)
        })
    }

    /// Commits files on a branch of the default repository (creating the
    /// branch if needed); returns the commit id.
    pub fn commit_files(&self, branch: &str, files: &[(&str, &str)], message: &str) -> String {
        self.seed(|env, repo| repo.commit_files(env, branch, files, message, MAINTAINER))
    }

    /// [`FakeGithub::commit_files`] authored by `author` (a login).
    pub fn commit_files_as(
        &self,
        branch: &str,
        files: &[(&str, &str)],
        message: &str,
        author: &str,
    ) -> String {
        self.seed(|env, repo| repo.commit_files(env, branch, files, message, author))
    }

    /// Creates (or moves) a branch to a commit.
    pub fn set_branch(&self, branch: &str, sha: &str) {
        self.seed(|_, repo| {
            repo.git
                .refs
                .insert(format!("refs/heads/{branch}"), sha.to_owned());
        });
    }

    /// Creates (or moves) a lightweight tag to a commit.
    pub fn set_tag(&self, tag: &str, sha: &str) {
        self.seed(|_, repo| {
            repo.git
                .refs
                .insert(format!("refs/tags/{tag}"), sha.to_owned());
        });
    }

    /// Registers a workflow; returns its id.
    pub fn add_workflow(&self, name: &str, path: &str) -> u64 {
        self.seed(|env, repo| repo.ensure_workflow(env, name, path))
    }

    /// Seeds a workflow run with its jobs.
    pub fn add_run(&self, run: RunBuilder) -> SeededRun {
        self.seed(|env, repo| run.build(env, repo))
    }

    /// Changes a run or its jobs in place (to move a run along: queued,
    /// in progress, completed).
    pub fn update_run(&self, run_id: u64, f: impl FnOnce(&mut Run, Vec<&mut Job>)) {
        self.seed(|_, repo| {
            let Some(run) = repo.runs.get_mut(&run_id) else {
                panic!("no run {run_id}");
            };
            let jobs = repo
                .jobs
                .values_mut()
                .filter(|j| j.run_id == run_id && j.run_attempt == run.run_attempt)
                .collect();
            f(run, jobs);
        });
    }

    /// Seeds an issue; returns its number.
    pub fn add_issue(&self, issue: IssueBuilder) -> u64 {
        self.seed(|env, repo| issue.insert(env, repo, false))
    }

    /// Seeds a comment; returns its id.
    pub fn add_comment(&self, issue_number: u64, user: &str, body: &str) -> u64 {
        self.seed(|env, repo| {
            let now = env.tick();
            let id = env.next_id();
            repo.comments.push(Comment {
                id,
                issue_number,
                body: body.to_owned(),
                user: user.to_owned(),
                created_at: now,
                updated_at: now,
            });
            id
        })
    }

    /// Seeds a repository label.
    pub fn add_label(&self, name: &str, color: &str, description: Option<&str>) -> Label {
        self.seed(|env, repo| {
            let label = Label {
                id: env.next_id(),
                name: name.to_owned(),
                color: color.trim_start_matches('#').to_owned(),
                description: description.map(str::to_owned),
            };
            repo.labels.retain(|l| !l.name.eq_ignore_ascii_case(name));
            repo.labels.push(label.clone());
            label
        })
    }

    /// Seeds a pull request; returns its number.
    pub fn add_pull(&self, pull: PullBuilder) -> u64 {
        // From a fork the fake models (see `FakeGithub::add_fork`): the head
        // is the fork's branch.
        let in_fork = pull.fork.as_ref().and_then(|(owner, _)| {
            let fork = format!("{owner}/{REPO}");
            self.with_world(|w| w.repo(&fork).is_some())
                .then(|| self.branch_in(&fork, &pull.head))
        });
        self.seed(|env, repo| {
            let head_sha = in_fork
                .flatten()
                .or_else(|| repo.branch_sha(&pull.head))
                .unwrap_or_else(|| panic!("seed the branch {} first", pull.head));
            let base = pull.base.unwrap_or_else(|| repo.default_branch.clone());
            let number = pull.issue.insert(env, repo, true);
            repo.pulls.insert(
                number,
                PullData {
                    id: env.next_id(),
                    number,
                    head_ref: pull.head,
                    head_sha: head_sha.clone(),
                    base_ref: base,
                    draft: pull.draft,
                    maintainer_can_modify: pull.fork.as_ref().is_none_or(|(_, m)| *m),
                    merged: pull.merged,
                    merge_commit_sha: pull.merged.then_some(head_sha),
                    fork_owner: pull.fork.map(|(owner, _)| owner),
                },
            );
            number
        })
    }

    /// Sets a collaborator's role: `admin`, `maintain`, `write`, `triage`,
    /// `read` or `none`.
    pub fn set_permission(&self, login: &str, role: &str) {
        self.seed(|_, repo| {
            repo.permissions.insert(login.to_owned(), role.to_owned());
        });
    }

    /// Whether a workflow dispatch also creates a queued run (default: yes).
    pub fn set_dispatch_creates_runs(&self, yes: bool) {
        self.with_world(|w| w.env.dispatch_creates_runs = yes);
    }
}
