//! Which failed jobs of a pull request did the pull request cause? A pure
//! function of a [`Snapshot`] whose logs were analysed already.
//!
//! The costly error is a false FLAKY (or BROKEN TRUNK): it lets a breaking
//! change merge. So a failure is unrelated only on evidence, and a generic
//! failure (no analysed cause, or only the runner's `Process completed with
//! exit code N`) is never unrelated: every failing job prints that line.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use chrono::Duration;
use regex::Regex;
use serde::Serialize;

use super::snapshot::{Downstream, IssueRef, Job, JobFailure, Place, Recovery, Snapshot};
use crate::analyze::Category;
use crate::automations::disabled;
use crate::event::{Conclusion, Status};

/// A job's class, most urgent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    New,
    Unclassified,
    Flaky,
    BrokenTrunk,
    Unstable,
    Pending,
    AwaitingApproval,
    Cancelled,
}

impl Class {
    pub const ALL: [Class; 8] = [
        Class::New,
        Class::Unclassified,
        Class::Flaky,
        Class::BrokenTrunk,
        Class::Unstable,
        Class::Pending,
        Class::AwaitingApproval,
        Class::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Class::New => "new",
            Class::Unclassified => "unclassified",
            Class::Flaky => "flaky",
            Class::BrokenTrunk => "broken_trunk",
            Class::Unstable => "unstable",
            Class::Pending => "pending",
            Class::AwaitingApproval => "awaiting_approval",
            Class::Cancelled => "cancelled",
        }
    }

    /// Failures the pull request did not cause.
    pub fn is_unrelated(self) -> bool {
        matches!(self, Class::Flaky | Class::BrokenTrunk | Class::Unstable)
    }
}

/// What a class rests on: the job, run or issue it matched.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// `merge_base`, `trunk`, `pr`, `known_flaky`, `category`, `issue`,
    /// `pattern` or `same_pr`.
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pr: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issue: Option<u64>,
    /// The issue title, pattern or recovery it matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// One job's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub name: String,
    pub class: Class,
    /// Why, in ci-medic's words (no text from outside).
    pub reason: String,
    pub fingerprint: Option<String>,
    pub evidence: Option<Evidence>,
    /// Not in the JSON (the comment shows them).
    #[serde(skip)]
    pub url: Option<String>,
    #[serde(skip)]
    pub cause: Option<String>,
    #[serde(skip)]
    pub attempt: u32,
}

/// Jobs per class.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub new: usize,
    pub unclassified: usize,
    pub flaky: usize,
    pub broken_trunk: usize,
    pub unstable: usize,
    pub pending: usize,
    pub awaiting_approval: usize,
    pub cancelled: usize,
    /// flaky + broken_trunk + unstable.
    pub unrelated: usize,
}

impl Counts {
    pub fn of(verdicts: &[Verdict]) -> Counts {
        let mut c = Counts::default();
        for v in verdicts {
            match v.class {
                Class::New => c.new += 1,
                Class::Unclassified => c.unclassified += 1,
                Class::Flaky => c.flaky += 1,
                Class::BrokenTrunk => c.broken_trunk += 1,
                Class::Unstable => c.unstable += 1,
                Class::Pending => c.pending += 1,
                Class::AwaitingApproval => c.awaiting_approval += 1,
                Class::Cancelled => c.cancelled += 1,
            }
        }
        c.unrelated = c.flaky + c.broken_trunk + c.unstable;
        c
    }
}

/// Is this failure generic: nothing but an exit status explains it?
pub fn is_generic(failure: Option<&JobFailure>) -> bool {
    let Some(f) = failure else { return true };
    let text = f.text.trim();
    let text = text.strip_prefix("##[error]").unwrap_or(text).trim();
    if text.is_empty() || f.fingerprint.trim().is_empty() {
        return true;
    }
    // Rules that say only that something exited non-zero, and the
    // analyser's fallbacks that quote the failed step's command or its last
    // line because nothing explained it.
    if matches!(
        f.rule.as_str(),
        "generic-wrapper" | "fallback-step-command" | "fallback-last-line"
    ) {
        return true;
    }
    // The runner's closing line says only that a command failed (137, the
    // OOM killer's signal, is a cause and has its own rule).
    static EXIT: std::sync::OnceLock<Option<Regex>> = std::sync::OnceLock::new();
    let exit = EXIT.get_or_init(|| {
        Regex::new(r"^(?i)(?:error:\s*)?process completed with exit code \d+\.?$").ok()
    });
    let only_exit = exit.as_ref().is_some_and(|re| re.is_match(text));
    only_exit && f.category != Category::Resource
}

/// The job names compared across shards and matrix cells.
pub struct Normaliser {
    shard: Regex,
}

impl Normaliser {
    pub fn new(pattern: &str) -> Result<Normaliser> {
        Ok(Normaliser {
            shard: Regex::new(pattern)
                .with_context(|| format!("drci.shard-pattern is not a valid regex: {pattern}"))?,
        })
    }

    /// `name` without its shard: matches removed, then the empty brackets
    /// and dangling commas they leave, and runs of spaces.
    pub fn normalise(&self, name: &str) -> String {
        let stripped = self.shard.replace_all(name, "");
        let mut s = stripped.split_whitespace().collect::<Vec<_>>().join(" ");
        loop {
            let before = s.clone();
            s = s
                .replace("( ", "(")
                .replace(" )", ")")
                .replace(",)", ")")
                .replace("(,", "(")
                .replace("()", "");
            s = s.split_whitespace().collect::<Vec<_>>().join(" ");
            if s == before {
                break;
            }
        }
        s.trim().to_string()
    }
}

fn regexes(what: &str, patterns: &[String]) -> Result<Vec<Regex>> {
    patterns
        .iter()
        .map(|p| Regex::new(p).with_context(|| format!("drci.{what}: not a valid regex: {p}")))
        .collect()
}

/// The latest attempt of each job, by name, in first-seen order.
pub fn latest_attempts(jobs: &[Job]) -> Vec<&Job> {
    let mut order: Vec<&str> = Vec::new();
    let mut latest: BTreeMap<&str, &Job> = BTreeMap::new();
    for j in jobs {
        match latest.get(j.name.as_str()) {
            None => {
                order.push(&j.name);
                latest.insert(&j.name, j);
            }
            // A tie keeps the later entry (listed after: reported later).
            Some(prev) if j.attempt >= prev.attempt => {
                latest.insert(&j.name, j);
            }
            Some(_) => {}
        }
    }
    order
        .iter()
        .filter_map(|n| latest.get(n).copied())
        .collect()
}

/// How a completed job's conclusion files it.
enum Outcome {
    Passed,
    Failed,
    Pending,
    Cancelled,
    AwaitingApproval,
}

fn outcome(job: &Job) -> Outcome {
    if job.status.as_ref().is_some_and(|s| *s != Status::Completed) {
        return Outcome::Pending;
    }
    match &job.conclusion {
        None => Outcome::Pending,
        Some(c) if c.is_passing() || *c == Conclusion::Stale => Outcome::Passed,
        Some(Conclusion::Cancelled) => Outcome::Cancelled,
        Some(Conclusion::ActionRequired | Conclusion::StartupFailure) => Outcome::AwaitingApproval,
        // `failure`, `timed_out`, and anything unknown: a failure.
        Some(_) => Outcome::Failed,
    }
}

/// The evidence an open `UNSTABLE` or `DISABLED` issue gives.
fn issue_evidence(issue: &IssueRef) -> Evidence {
    Evidence {
        kind: "issue",
        issue: issue.number,
        detail: Some(issue.title.clone()),
        ..Evidence::default()
    }
}

/// The open `UNSTABLE` or `DISABLED` issue whose title names the job
/// `name` (or its normalised form `normalised`), in the one title grammar
/// of `automations::disabled`: a job name prefix ending on a word boundary,
/// `workflow / job` or the job alone. Both keywords mark a job, never a
/// test: a `DISABLED` job still running is listed like an unstable one.
fn marking_issue<'a>(
    issues: &'a [IssueRef],
    name: &str,
    normalised: &str,
) -> Option<(&'a IssueRef, disabled::Kind)> {
    issues.iter().find_map(|issue| {
        let parsed = disabled::parse_title(&issue.title)?.ok()?;
        (disabled::matches_qualified(&parsed.pattern, name)
            || disabled::matches_qualified(&parsed.pattern, normalised))
        .then_some((issue, parsed.kind))
    })
}

/// Classify every job of the head SHA (latest attempt per job).
pub fn classify(snap: &Snapshot) -> Result<Vec<Verdict>> {
    let cfg = &snap.config;
    let norm = Normaliser::new(&cfg.shard_pattern)?;
    let lint = regexes("lint", &cfg.lint)?;
    let unstable = regexes("unstable", &cfg.unstable)?;
    let window = Duration::days(i64::from(cfg.flaky_window_days));
    let as_of = snap
        .as_of
        .or_else(|| snap.recent_failures.iter().filter_map(|r| r.at).max());

    let base: Vec<&Job> = latest_attempts(&snap.base_jobs);
    let known_flaky: Vec<String> = snap.known_flaky.iter().map(|n| norm.normalise(n)).collect();

    let mut out = Vec::new();
    for job in latest_attempts(&snap.jobs) {
        let mut v = Verdict {
            name: job.name.clone(),
            class: Class::New,
            reason: String::new(),
            fingerprint: job.failure.as_ref().map(|f| f.fingerprint.clone()),
            evidence: None,
            url: job.url.clone(),
            cause: job.failure.as_ref().map(|f| f.text.clone()),
            attempt: job.attempt,
        };
        match outcome(job) {
            Outcome::Passed => continue,
            Outcome::Pending => {
                v.class = Class::Pending;
                v.reason = "not finished".into();
                v.fingerprint = None;
                v.cause = None;
            }
            Outcome::Cancelled => {
                v.class = Class::Cancelled;
                v.reason = "cancelled".into();
            }
            Outcome::AwaitingApproval => {
                v.class = Class::AwaitingApproval;
                v.reason = match job.conclusion {
                    Some(Conclusion::StartupFailure) => "the workflow failed to start".into(),
                    _ => "waiting for a maintainer to approve the run".into(),
                };
            }
            Outcome::Failed => {
                let (class, reason, evidence) = failed(
                    snap,
                    job,
                    &norm,
                    &lint,
                    &unstable,
                    &base,
                    &known_flaky,
                    as_of,
                    window,
                );
                v.class = class;
                v.reason = reason;
                v.evidence = evidence;
            }
        }
        out.push(v);
    }
    second_pass(&mut out, snap, &lint);
    out.extend(
        snap.downstream
            .iter()
            .filter(|d| d.blocks())
            .filter_map(blocking),
    );
    Ok(out)
}

/// The job a downstream result is, for its outcome.
fn downstream_job(d: &Downstream) -> Job {
    Job {
        name: d.name.clone(),
        status: d.status.clone(),
        conclusion: d.conclusion.clone(),
        url: d.url.clone(),
        ..Job::default()
    }
}

fn downstream_evidence(d: &Downstream) -> Evidence {
    Evidence {
        kind: "downstream",
        detail: Some(format!("{} ({})", d.repo, d.level)),
        ..Evidence::default()
    }
}

/// The verdict on an L4 downstream job: its failure blocks merging, as a
/// NEW failure does (no log of another repository is read, so nothing
/// makes it unrelated).
fn blocking(d: &Downstream) -> Option<Verdict> {
    let (class, reason) = match outcome(&downstream_job(d)) {
        Outcome::Passed => return None,
        Outcome::Pending => (Class::Pending, "downstream: not finished"),
        Outcome::Cancelled => (Class::Cancelled, "downstream: cancelled"),
        Outcome::AwaitingApproval | Outcome::Failed => (
            Class::New,
            "failed downstream, in a repository whose failures block merging",
        ),
    };
    Some(Verdict {
        name: d.name.clone(),
        class,
        reason: reason.into(),
        fingerprint: None,
        evidence: Some(downstream_evidence(d)),
        url: d.url.clone(),
        cause: None,
        attempt: 1,
    })
}

/// A downstream job that did not pass in a repository whose failures do
/// not block merging (L3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DownstreamNote {
    pub name: String,
    pub repo: String,
    pub level: String,
    /// `failed`, `pending` or `cancelled`.
    pub state: &'static str,
    #[serde(skip)]
    pub url: Option<String>,
}

/// The non-blocking (L3) downstream jobs that did not pass.
pub fn non_blocking(snap: &Snapshot) -> Vec<DownstreamNote> {
    snap.downstream
        .iter()
        .filter(|d| !d.blocks())
        .filter_map(|d| {
            let state = match outcome(&downstream_job(d)) {
                Outcome::Passed => return None,
                Outcome::Pending => "pending",
                Outcome::Cancelled => "cancelled",
                Outcome::AwaitingApproval | Outcome::Failed => "failed",
            };
            Some(DownstreamNote {
                name: d.name.clone(),
                repo: d.repo.clone(),
                level: d.level.clone(),
                state,
                url: d.url.clone(),
            })
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn failed(
    snap: &Snapshot,
    job: &Job,
    norm: &Normaliser,
    lint: &[Regex],
    unstable: &[Regex],
    base: &[&Job],
    known_flaky: &[String],
    as_of: Option<chrono::DateTime<chrono::Utc>>,
    window: Duration,
) -> (Class, String, Option<Evidence>) {
    let name = norm.normalise(&job.name);
    let failure = job.failure.as_ref();
    let generic = is_generic(failure);

    // Lint-like jobs check the change itself: a failure is the change's.
    if lint.iter().any(|re| re.is_match(&job.name)) {
        return (
            Class::New,
            "lint-like job: always the change's".into(),
            None,
        );
    }

    // UNSTABLE: an open UNSTABLE or DISABLED issue, or a configured pattern.
    if let Some((issue, kind)) = marking_issue(&snap.issues, &job.name, &name) {
        let reason = match kind {
            disabled::Kind::Unstable => "marked unstable by an open issue",
            disabled::Kind::Disabled => "marked disabled by an open issue",
        };
        return (Class::Unstable, reason.into(), Some(issue_evidence(issue)));
    }
    if let Some(re) = unstable.iter().find(|re| re.is_match(&job.name)) {
        let ev = Evidence {
            kind: "pattern",
            detail: Some(re.as_str().to_string()),
            ..Evidence::default()
        };
        return (Class::Unstable, "matches drci.unstable".into(), Some(ev));
    }

    let on_base: Vec<&&Job> = base
        .iter()
        .filter(|b| norm.normalise(&b.name) == name)
        .collect();
    let base_failed: Vec<&&Job> = on_base
        .iter()
        .copied()
        .filter(|b| matches!(outcome(b), Outcome::Failed))
        .collect();

    if !generic {
        let fp = failure.map(|f| f.fingerprint.as_str()).unwrap_or_default();
        // BROKEN TRUNK: the same job failed on the merge base the same way.
        if let Some(b) = base_failed.iter().find(|b| {
            !is_generic(b.failure.as_ref())
                && b.failure.as_ref().is_some_and(|f| f.fingerprint == fp)
        }) {
            let ev = Evidence {
                kind: "merge_base",
                job: Some(b.name.clone()),
                url: b.url.clone(),
                sha: Some(snap.merge_base.clone()),
                ..Evidence::default()
            };
            return (
                Class::BrokenTrunk,
                "failed the same way on the merge base".into(),
                Some(ev),
            );
        }
        // FLAKY: the analyser's category says the runner, not the code.
        if failure.is_some_and(|f| f.category == Category::Infrastructure) {
            let ev = Evidence {
                kind: "category",
                detail: Some(Category::Infrastructure.as_str().to_string()),
                ..Evidence::default()
            };
            return (
                Class::Flaky,
                "infrastructure or runner loss".into(),
                Some(ev),
            );
        }
        // ...retry's memory knows the job as flaky...
        if known_flaky.contains(&name) {
            let ev = Evidence {
                kind: "known_flaky",
                job: Some(name.clone()),
                ..Evidence::default()
            };
            return (Class::Flaky, "known flaky job".into(), Some(ev));
        }
        // ...or the same failure happened elsewhere, recently, and went away.
        if let Some(as_of) = as_of {
            let hit = snap.recent_failures.iter().find(|r| {
                r.fingerprint == fp
                    && r.recovered.is_some()
                    && r.at.is_some_and(|at| at <= as_of && as_of - at <= window)
                    && match r.place {
                        Place::Trunk => true,
                        Place::Pr => {
                            r.pr.is_none_or(|n| Some(n) != snap.pr)
                                && match (&r.author, &snap.author) {
                                    (Some(a), Some(b)) => !a.eq_ignore_ascii_case(b),
                                    // Whose it was is unknown: no evidence.
                                    _ => false,
                                }
                        }
                    }
            });
            if let Some(r) = hit {
                let ev = Evidence {
                    kind: match r.place {
                        Place::Trunk => "trunk",
                        Place::Pr => "pr",
                    },
                    job: Some(r.job.clone()),
                    url: r.url.clone(),
                    sha: r.sha.clone(),
                    pr: r.pr,
                    detail: r.recovered.map(|x| {
                        match x {
                            Recovery::Rerun => "passed on a re-run",
                            Recovery::LaterCommit => "passed on a later commit",
                        }
                        .to_string()
                    }),
                    ..Evidence::default()
                };
                let reason = match r.place {
                    Place::Trunk => "failed the same way on the default branch, then passed",
                    Place::Pr => "failed the same way on another pull request, then passed",
                };
                return (Class::Flaky, reason.into(), Some(ev));
            }
        }
    }

    // UNCLASSIFIED: CI never ran this job on the merge base.
    let base_done = on_base
        .iter()
        .any(|b| matches!(outcome(b), Outcome::Passed | Outcome::Failed));
    if !base_done {
        let reason = if generic {
            "no result on the merge base, and no cause in the log"
        } else {
            "no result on the merge base"
        };
        return (Class::Unclassified, reason.into(), None);
    }
    let reason = if generic {
        "no cause found in the log (a generic failure is never unrelated)"
    } else if base_failed.is_empty() {
        "passed on the merge base"
    } else {
        "failed differently on the merge base"
    };
    (Class::New, reason.into(), None)
}

/// A NEW failure whose fingerprint a FLAKY or UNSTABLE job of the same pull
/// request shares is that job's failure too (never for generic failures or
/// lint-like jobs).
fn second_pass(verdicts: &mut [Verdict], snap: &Snapshot, lint: &[Regex]) {
    let failures: BTreeMap<&str, Option<&JobFailure>> = latest_attempts(&snap.jobs)
        .into_iter()
        .map(|j| (j.name.as_str(), j.failure.as_ref()))
        .collect();
    let donors: Vec<(String, Class, String, Option<String>)> = verdicts
        .iter()
        .filter(|v| matches!(v.class, Class::Flaky | Class::Unstable))
        .filter(|v| !is_generic(failures.get(v.name.as_str()).copied().flatten()))
        .filter_map(|v| {
            Some((
                v.fingerprint.clone()?,
                v.class,
                v.name.clone(),
                v.url.clone(),
            ))
        })
        .collect();
    for v in verdicts.iter_mut() {
        if v.class != Class::New || lint.iter().any(|re| re.is_match(&v.name)) {
            continue;
        }
        if is_generic(failures.get(v.name.as_str()).copied().flatten()) {
            continue;
        }
        let Some(fp) = &v.fingerprint else { continue };
        if let Some((_, class, name, url)) = donors.iter().find(|d| &d.0 == fp) {
            v.class = *class;
            v.reason = format!(
                "failed the same way as {} job of this pull request",
                match class {
                    Class::Unstable => "an unstable",
                    _ => "a flaky",
                }
            );
            v.evidence = Some(Evidence {
                kind: "same_pr",
                job: Some(name.clone()),
                url: url.clone(),
                ..Evidence::default()
            });
        }
    }
}
