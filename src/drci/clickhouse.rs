//! Dr. CI's evidence from ClickHouse, for repositories whose history the
//! tables `ci-medic ingest` fills hold: at most three queries per update of
//! a pull request, whatever the size of the history.
//!
//! 1. the merge base's jobs (every attempt, through
//!    `workflow_job_by_head_sha`), with the analyser's verdict stored on
//!    each failed one, so no log of the merge base is downloaded;
//! 2. the recent failures of the failing jobs' workflows on the default
//!    branch and on other branches' pull requests, per commit and job: the
//!    latest attempt's conclusion and the latest failed attempt's
//!    fingerprint ([`crate::store::Store::drci_recent`]);
//! 3. retry's flaky memory (jobs that failed and passed on one commit), when
//!    it is on, for every failing workflow at once.
//!
//! A failure counts as evidence when its fingerprint is not generic and it
//! went away: the latest attempt on that commit passed (a re-run), or the
//! job passed on a later commit of the same branch. A pull request's
//! failure counts only when that pull request's author is known and is
//! someone else, and the failing or passing commit is its head now (its
//! authors come from the caller: the tables do not hold them).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::classify::{Normaliser, is_generic};
use super::snapshot::{Job, JobFailure, Place, RecentFailure, Recovery};
use crate::store::queries::DrciRecentRow;
use crate::store::{JobRow, Store};

/// Queries sent for one update, at most (the bound the README states):
/// the merge base's jobs, the recent failures, and retry's flaky memory.
pub const MAX_QUERIES: usize = 3;

/// The store, counting the queries Dr. CI sends through it.
pub struct Reader<'a> {
    store: &'a Store,
    repo: String,
    sent: AtomicUsize,
}

/// The stored jobs of a pull request's head and of its merge base.
#[derive(Debug, Clone, Default)]
pub struct HeadAndBase {
    pub head: Vec<Job>,
    pub base: Vec<Job>,
}

/// The analysed failure stored for the job attempt `id`, when the failure
/// analysis wrote one (a non-empty fingerprint) for a failed attempt.
pub fn stored_failure(stored: &[Job], id: u64) -> Option<&JobFailure> {
    stored
        .iter()
        .find(|j| j.id == Some(id))
        .and_then(|j| j.failure.as_ref())
}

/// An open pull request, as the evidence of its failures needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullAuthor {
    pub number: u64,
    pub author: String,
    /// Its head now: a row of its branch counts only when the failing or
    /// the passing commit is this one (a fork may name its branch like
    /// anyone's, but cannot run on another pull request's head).
    pub head_sha: String,
}

/// What the recent-failures query looks for.
#[derive(Debug, Clone)]
pub struct RecentScope<'a> {
    /// The workflows of the failed jobs with a real cause.
    pub workflows: &'a [String],
    /// Their names, normalised (shards folded).
    pub wanted: &'a BTreeSet<String>,
    pub default_branch: &'a str,
    /// The pull request's own head branch.
    pub own_branch: &'a str,
    pub since: DateTime<Utc>,
    /// Head branch → the open pull request of that branch.
    pub authors: &'a BTreeMap<String, PullAuthor>,
}

impl<'a> Reader<'a> {
    pub fn new(store: &'a Store, repo: &str) -> Reader<'a> {
        Reader {
            store,
            repo: repo.to_string(),
            sent: AtomicUsize::new(0),
        }
    }

    /// Queries sent so far.
    pub fn queries(&self) -> usize {
        self.sent.load(Ordering::Relaxed)
    }

    /// Every attempt of every job at `sha`, named `workflow / job`, with the
    /// stored verdict of each failed attempt.
    pub async fn jobs_at(&self, sha: &str) -> Result<Vec<Job>> {
        self.sent.fetch_add(1, Ordering::Relaxed);
        let rows = self
            .store
            .jobs_for_shas(&self.repo, &[sha.to_string()])
            .await?;
        Ok(rows.into_iter().map(job_of).collect())
    }

    /// Every attempt of every job at the head `head` and at the merge base
    /// `base`, in one query (the merge base's jobs are query 1 either way):
    /// the head's stored verdicts spare downloading their logs.
    pub async fn jobs_at_head_and_base(&self, head: &str, base: &str) -> Result<HeadAndBase> {
        self.sent.fetch_add(1, Ordering::Relaxed);
        let rows = self
            .store
            .jobs_for_shas(&self.repo, &[head.to_string(), base.to_string()])
            .await?;
        let mut out = HeadAndBase::default();
        for r in rows {
            let at_head = r.head_sha == head;
            let at_base = r.head_sha == base;
            let job = job_of(r);
            if at_base {
                out.base.push(job.clone());
            }
            if at_head {
                out.head.push(job);
            }
        }
        Ok(out)
    }

    /// The rows of the recent-failures query for the wanted jobs (none,
    /// and no query, when nothing is wanted); [`recent_of`] reads them.
    pub async fn recent_rows(&self, scope: &RecentScope<'_>) -> Result<Vec<DrciRecentRow>> {
        if scope.wanted.is_empty() || scope.workflows.is_empty() {
            return Ok(Vec::new());
        }
        self.sent.fetch_add(1, Ordering::Relaxed);
        self.store
            .drci_recent(
                &self.repo,
                scope.workflows,
                scope.default_branch,
                scope.own_branch,
                scope.since,
            )
            .await
    }
}

impl Reader<'_> {
    /// Retry's flaky memory, in one query for every workflow: the jobs of
    /// `workflows` that failed and passed on one commit since `since`, as
    /// `workflow / job` names.
    pub async fn flaky_memory(
        &self,
        workflows: &BTreeSet<String>,
        since: DateTime<Utc>,
    ) -> Result<Vec<String>> {
        if workflows.is_empty() {
            return Ok(Vec::new());
        }
        self.sent.fetch_add(1, Ordering::Relaxed);
        let found = self.store.flaky_jobs(&self.repo, since).await?;
        Ok(found
            .into_iter()
            .filter(|f| workflows.contains(&f.workflow_name))
            .map(|f| format!("{} / {}", f.workflow_name, f.name))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect())
    }
}

/// The head branches of other pull requests among `rows` whose failures
/// could count (the caller finds their authors).
pub fn pull_branches(rows: &[DrciRecentRow], own_branch: &str) -> BTreeSet<String> {
    rows.iter()
        .filter(|r| r.workflow_event != "push" && r.head_branch != own_branch)
        .filter(|r| !r.fingerprint.is_empty())
        .map(|r| r.head_branch.clone())
        .collect()
}

fn text(s: String) -> Option<String> {
    Some(s).filter(|s| !s.is_empty())
}

/// A stored job attempt as Dr. CI sees it.
pub fn job_of(r: JobRow) -> Job {
    let failure = (!r.failure.fingerprint.is_empty()).then(|| JobFailure {
        category: r.failure.category.parse().unwrap_or_default(),
        rule: r.failure.rule.clone(),
        text: r.failure.line.clone(),
        fingerprint: r.failure.fingerprint.clone(),
    });
    Job {
        name: format!("{} / {}", r.workflow_name, r.name),
        id: u64::try_from(r.id).ok(),
        status: text(r.status).map(|s| s.as_str().into()),
        conclusion: text(r.conclusion).map(|c| c.as_str().into()),
        attempt: u32::try_from(r.run_attempt).unwrap_or(1),
        url: text(r.html_url),
        failure,
        ..Job::default()
    }
}

fn passed(conclusion: &str) -> bool {
    conclusion == "success"
}

/// The evidence in the rows of the recent-failures query (ordered by
/// branch, job and time).
pub fn recent_of(
    rows: &[DrciRecentRow],
    norm: &Normaliser,
    scope: &RecentScope<'_>,
) -> Vec<RecentFailure> {
    let mut out = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let name = format!("{} / {}", r.workflow_name, r.name);
        if r.fingerprint.is_empty() || !scope.wanted.contains(&norm.normalise(&name)) {
            continue;
        }
        let failure = JobFailure {
            category: r.category.parse().unwrap_or_default(),
            rule: r.rule.clone(),
            text: r.line.clone(),
            fingerprint: r.fingerprint.clone(),
        };
        // A generic failure elsewhere says nothing about this one.
        if is_generic(Some(&failure)) {
            continue;
        }
        let later = rows[i + 1..]
            .iter()
            .take_while(|l| {
                l.head_branch == r.head_branch
                    && l.workflow_name == r.workflow_name
                    && l.name == r.name
            })
            .find(|l| l.first_at > r.first_at && passed(&l.latest));
        let (recovered, passing_sha) = if passed(&r.latest) {
            (Recovery::Rerun, r.head_sha.as_str())
        } else if let Some(l) = later {
            (Recovery::LaterCommit, l.head_sha.as_str())
        } else {
            continue;
        };
        let (place, pr, author) = if r.workflow_event == "push" {
            if r.head_branch != scope.default_branch {
                continue;
            }
            (Place::Trunk, None, None)
        } else {
            if r.head_branch == scope.own_branch {
                continue;
            }
            let known = scope
                .authors
                .get(&r.head_branch)
                .filter(|p| p.head_sha == r.head_sha || p.head_sha == passing_sha);
            (
                Place::Pr,
                known.map(|p| p.number),
                known.map(|p| p.author.clone()),
            )
        };
        out.push(RecentFailure {
            job: name,
            fingerprint: failure.fingerprint,
            place,
            pr,
            author,
            sha: Some(r.head_sha.clone()),
            url: text(r.html_url.clone()),
            at: DateTime::from_timestamp_millis(r.failed_at).filter(|_| r.failed_at > 0),
            recovered: Some(recovered),
        });
    }
    out
}

/// An open pull request classified in a batch with others (the HUD's
/// pages): what the comment's update knows of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenPull {
    pub number: u64,
    pub title: String,
    pub author: Option<String>,
    pub head_sha: String,
    /// Its head branch; empty: the branch its head's stored jobs ran on.
    pub head_ref: String,
    /// The merge base the comment compares with (GitHub's compare
    /// endpoint); `None` when unknown, and then no failure is called
    /// unrelated on the strength of a comparison never made.
    pub merge_base: Option<String>,
}

/// What a batch classification takes besides the tables.
#[derive(Debug, Clone)]
pub struct Batch<'a> {
    pub section: &'a super::DrciSection,
    pub default_branch: &'a str,
    /// The open `UNSTABLE …` and `DISABLED …` issues.
    pub issues: &'a [super::snapshot::IssueRef],
    /// Head branch → open pull request, for other pull requests' failures
    /// (the comment reads the `sweep_max_pulls` most recently updated).
    pub authors: &'a BTreeMap<String, PullAuthor>,
    /// The classification's clock: the flaky window ends here.
    pub now: DateTime<Utc>,
}

/// One pull request of a batch: the snapshot the comment would classify,
/// and its verdicts.
#[derive(Debug, Clone)]
pub struct Classified {
    pub pull: OpenPull,
    pub snapshot: super::Snapshot,
    pub verdicts: Vec<super::Verdict>,
}

/// The reason an unknown merge base gives.
pub const NO_MERGE_BASE: &str = "merge base unknown: not compared with the default branch";

fn failed_conclusion(j: &Job) -> bool {
    j.status
        .as_ref()
        .is_none_or(crate::event::Status::is_completed)
        && j.conclusion
            .as_ref()
            .is_some_and(crate::event::Conclusion::is_failure)
}

impl Reader<'_> {
    /// Dr. CI's verdicts on many pull requests from the same rows and by the
    /// same rules as each one's comment, in at most [`MAX_QUERIES`]
    /// queries for all of them: every attempt of every job of their heads
    /// and merge bases in one, the recent failures of every workflow that
    /// failed with a real cause in one (each pull request's own branch is
    /// left out when its evidence is read), retry's flaky memory in one.
    pub async fn classify_pulls(
        &self,
        pulls: &[OpenPull],
        b: &Batch<'_>,
    ) -> Result<Vec<Classified>> {
        let norm = Normaliser::new(&b.section.shard_pattern)?;
        let cls = b.section.classification();
        let lint: Vec<regex::Regex> = cls
            .lint
            .iter()
            .filter_map(|p| regex::Regex::new(p).ok())
            .collect();
        let mut shas: BTreeSet<String> = BTreeSet::new();
        for p in pulls {
            shas.insert(p.head_sha.clone());
            shas.extend(p.merge_base.clone());
        }
        let shas: Vec<String> = shas.into_iter().filter(|s| !s.is_empty()).collect();
        let rows = if shas.is_empty() {
            Vec::new()
        } else {
            self.sent.fetch_add(1, Ordering::Relaxed);
            self.store.jobs_for_shas(&self.repo, &shas).await?
        };
        let mut by_sha: BTreeMap<String, Vec<Job>> = BTreeMap::new();
        let mut branch_of: BTreeMap<String, String> = BTreeMap::new();
        for r in rows {
            if r.workflow_event != "push" && !r.head_branch.is_empty() {
                branch_of
                    .entry(r.head_sha.clone())
                    .or_insert_with(|| r.head_branch.clone());
            }
            by_sha
                .entry(r.head_sha.clone())
                .or_default()
                .push(job_of(r));
        }
        // What each pull request's failures need, and the union the two
        // evidence queries read.
        struct Need {
            wanted: BTreeSet<String>,
            memory_workflows: BTreeSet<String>,
            worth: bool,
            any_failed: bool,
        }
        let mut needs = Vec::with_capacity(pulls.len());
        let mut all_workflows: BTreeSet<String> = BTreeSet::new();
        for p in pulls {
            let jobs = by_sha
                .get(&p.head_sha)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let failed: Vec<&Job> = super::classify::latest_attempts(jobs)
                .into_iter()
                .filter(|j| failed_conclusion(j))
                .collect();
            let real: Vec<&&Job> = failed
                .iter()
                .filter(|j| !is_generic(j.failure.as_ref()))
                .collect();
            all_workflows.extend(
                real.iter()
                    .filter_map(|j| j.name.split_once(" / ").map(|(w, _)| w.to_string())),
            );
            needs.push(Need {
                wanted: real.iter().map(|j| norm.normalise(&j.name)).collect(),
                memory_workflows: failed
                    .iter()
                    .filter_map(|j| j.name.split_once(" / ").map(|(w, _)| w.to_string()))
                    .collect(),
                worth: !real.is_empty(),
                any_failed: !failed.is_empty(),
            });
        }
        let since = b.now - chrono::Duration::days(i64::from(b.section.flaky_window_days));
        let workflows: Vec<String> = all_workflows.into_iter().collect();
        let all_wanted: BTreeSet<String> = needs
            .iter()
            .flat_map(|n| n.wanted.iter().cloned())
            .collect();
        // Every branch's rows (none is a pull request's own here); each
        // pull request's own are left out below, as its comment's query
        // leaves them out.
        let recent = self
            .recent_rows(&RecentScope {
                workflows: &workflows,
                wanted: &all_wanted,
                default_branch: b.default_branch,
                own_branch: "",
                since,
                authors: b.authors,
            })
            .await?;
        let memory: Vec<crate::store::queries::FlakyJob> =
            if b.section.flaky_memory && needs.iter().any(|n| n.worth) {
                self.sent.fetch_add(1, Ordering::Relaxed);
                self.store.flaky_jobs(&self.repo, since).await?
            } else {
                Vec::new()
            };
        let mut out = Vec::with_capacity(pulls.len());
        for (p, need) in pulls.iter().zip(needs) {
            let head_ref = if p.head_ref.is_empty() {
                branch_of.get(&p.head_sha).cloned().unwrap_or_default()
            } else {
                p.head_ref.clone()
            };
            let mut snapshot = super::Snapshot {
                pr: Some(p.number),
                author: p.author.clone(),
                head_sha: p.head_sha.clone(),
                merge_base: p.merge_base.clone().unwrap_or_default(),
                as_of: Some(b.now),
                jobs: by_sha.get(&p.head_sha).cloned().unwrap_or_default(),
                config: cls.clone(),
                ..super::Snapshot::default()
            };
            if need.any_failed {
                if let Some(base) = &p.merge_base {
                    snapshot.base_jobs = by_sha.get(base).cloned().unwrap_or_default();
                }
                snapshot.issues = b.issues.to_vec();
                if need.worth {
                    if b.section.flaky_memory {
                        snapshot.known_flaky = memory
                            .iter()
                            .filter(|f| need.memory_workflows.contains(&f.workflow_name))
                            .map(|f| format!("{} / {}", f.workflow_name, f.name))
                            .collect::<BTreeSet<_>>()
                            .into_iter()
                            .collect();
                    }
                    let scope = RecentScope {
                        workflows: &workflows,
                        wanted: &need.wanted,
                        default_branch: b.default_branch,
                        own_branch: &head_ref,
                        since,
                        authors: b.authors,
                    };
                    snapshot.recent_failures = recent_of(&recent, &norm, &scope);
                }
            }
            let mut verdicts = super::classify::classify(&snapshot)?;
            if p.merge_base.is_none() {
                unknown_base(&mut verdicts, &lint);
            }
            out.push(Classified {
                pull: OpenPull {
                    head_ref,
                    ..p.clone()
                },
                snapshot,
                verdicts,
            });
        }
        Ok(out)
    }
}

/// Without a merge base nothing was compared: a failure is UNCLASSIFIED
/// unless an open issue or a pattern marks its job unstable, or it is a
/// lint-like job's (always the change's). Never a guessed FLAKY.
pub fn unknown_base(verdicts: &mut [super::Verdict], lint: &[regex::Regex]) {
    use super::Class;
    for v in verdicts.iter_mut() {
        let demote = match v.class {
            Class::Flaky | Class::BrokenTrunk => true,
            Class::New => {
                !lint.iter().any(|re| re.is_match(&v.name))
                    && v.evidence.as_ref().is_none_or(|e| e.kind != "downstream")
            }
            _ => false,
        };
        if demote {
            v.class = Class::Unclassified;
            v.reason = NO_MERGE_BASE.into();
            v.evidence = None;
        }
    }
}
