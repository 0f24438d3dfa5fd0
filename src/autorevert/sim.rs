//! A closed-loop trunk simulator: autorevert tried as a user would run it.
//!
//! Commits land on a schedule, some in stacked pushes where only the head
//! runs CI. Each job of each run fails at random: at the job's own flake rate,
//! and at a break's rate once a breaking commit is in (1.0 for a break that
//! always fails, 0.3/0.6/0.9 for intermittent ones). Failed jobs are retried
//! once, half the time, as a retry bot would. Autorevert looks at the window
//! as its source would show it (running jobs pending) on its schedule and,
//! as its example workflow runs it, whenever one of its restarts' runs
//! completes; its restarts are dispatched and run, and its reverts land as
//! revert commits.
//! A person reverts a break autorevert has not caught after
//! [`SimSpec::human_revert_hours`].
//!
//! The outcome says, per kind of break, what was caught and how fast, every
//! wrong revert, and how many restarts it cost. Seeded: the same spec gives
//! the same figures. Every random draw comes from a stream of its own,
//! keyed by what it decides (a push by its change number, a run's jobs by the
//! commit, the workflow and which run of them it is), so two versions of
//! autorevert on one seed meet the same trunk and the same job outcomes
//! wherever their actions agree: a change in one restart does not reshuffle
//! every run after it, and their figures differ by what they did.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::detect::{Detection, Params, Verdict};
use super::signal::Signals;
use super::synth::Rng;
use super::{RESTART_EVENT, analyze, restart_branch};
use crate::history::snapshot::{Commit, JobResult, RestartRequest, Snapshot};

/// What kind of break a culprit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BreakKind {
    /// The job fails on every run.
    Always,
    /// The job fails on this share of runs (per mille).
    Intermittent(u32),
    /// Always fails, but the culprit is inside a stacked push: only the
    /// push's head ran CI.
    Stacked,
}

impl BreakKind {
    pub fn label(self) -> String {
        match self {
            BreakKind::Always => "always failing".into(),
            BreakKind::Intermittent(r) => format!("intermittent {}%", r / 10),
            BreakKind::Stacked => "stacked push".into(),
        }
    }

    fn rate(self) -> u32 {
        match self {
            BreakKind::Intermittent(r) => r,
            BreakKind::Always | BreakKind::Stacked => 1000,
        }
    }
}

/// Which completed push runs start a look of their own (the example
/// workflow wakes autorevert on its restarts' runs only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushWake {
    Never,
    /// Runs with a failed job.
    Failed,
    Every,
}

/// What to simulate.
#[derive(Debug, Clone)]
pub struct SimSpec {
    pub seed: u64,
    /// Simulated time.
    pub hours: u32,
    pub commit_every_minutes: u32,
    pub workflows: usize,
    pub jobs_per_workflow: usize,
    /// Flake rate (per mille) of each job, cycled over the jobs.
    pub flake_per_mille: Vec<u32>,
    /// The breaks, spread evenly over the time, each in a job of its own.
    pub breaks: Vec<BreakKind>,
    /// Chance (per mille) that a push carries 2 to 4 commits.
    pub stacked_per_mille: u32,
    /// Minutes between two scheduled looks of autorevert.
    pub tick_minutes: u32,
    /// Also look when an attempt of a restart's run completes.
    pub tick_on_restarts: bool,
    /// Which completed push runs also start a look.
    pub tick_on_push_runs: PushWake,
    /// Minutes from a run's completion to the look it starts (the event,
    /// a runner, the reads).
    pub react_minutes: u32,
    /// Minutes a run takes.
    pub run_minutes: u32,
    /// Chance (per mille) that a failed job is retried once.
    pub retry_per_mille: u32,
    /// A person reverts a break still in trunk this long after it landed.
    pub human_revert_hours: u32,
    /// The window autorevert reads.
    pub lookback_hours: u32,
}

impl Default for SimSpec {
    fn default() -> Self {
        SimSpec {
            seed: 1,
            hours: 72,
            commit_every_minutes: 12,
            workflows: 2,
            jobs_per_workflow: 4,
            flake_per_mille: vec![5, 2, 50, 5, 150, 2, 10, 300],
            breaks: vec![
                BreakKind::Always,
                BreakKind::Intermittent(600),
                BreakKind::Stacked,
                BreakKind::Intermittent(900),
                BreakKind::Intermittent(300),
                BreakKind::Intermittent(600),
            ],
            stacked_per_mille: 100,
            tick_minutes: 20,
            tick_on_restarts: true,
            tick_on_push_runs: PushWake::Never,
            react_minutes: 2,
            run_minutes: 40,
            retry_per_mille: 500,
            human_revert_hours: 8,
            lookback_hours: 24,
        }
    }
}

/// What happened to one break.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakOutcome {
    pub kind: BreakKind,
    pub sha: String,
    /// Time from the culprit landing to autorevert reverting it.
    pub caught_after: Option<Duration>,
    /// How often (per mille) the job it breaks flakes on its own.
    pub job_flake_per_mille: u32,
    /// Where the time went, and what autorevert last said of it.
    pub trace: BreakTrace,
}

/// One break as autorevert saw it, tick by tick: times from the culprit
/// landing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BreakTrace {
    /// The first tick that saw a failure of the break's job on a commit
    /// carrying the break (waiting for CI and for the tick).
    pub seen: Option<Duration>,
    /// The first restart of the break's workflow on the culprit or the
    /// commit below it.
    pub restarted: Option<Duration>,
    /// The first tick whose rate test on the break's job was decisive.
    pub decisive: Option<Duration>,
    /// Restarts of the break's workflow while the break was in trunk.
    pub restarts: usize,
    /// The last finding on the break's job: verdict, suspect (is it the
    /// culprit?) and reason.
    pub last: String,
    /// Every finding on the break's job that changed, with its time.
    pub log: Vec<String>,
}

/// Everything one simulation measured.
#[derive(Debug, Clone, Default)]
pub struct SimOutcome {
    pub breaks: Vec<BreakOutcome>,
    /// Commits autorevert reverted that broke nothing.
    pub false_reverts: Vec<String>,
    /// The reason of every revert autorevert made.
    pub reasons: Vec<String>,
    pub restarts: usize,
    /// Restarts wanted that the budget (`max-restarts-per-tick`,
    /// `max-restarts-per-day`) put off, counted at every tick that wanted
    /// them.
    pub deferred: usize,
    pub hours: u32,
    pub ticks: usize,
}

struct SimCommit {
    commit: Commit,
    /// What keys this commit's random streams: its change number, or for a
    /// revert, the reverted commit's key marked as a revert.
    key: u64,
    /// Breaks (indexes into the spec's) in this commit's tree.
    active: BTreeSet<usize>,
}

struct World<'a> {
    spec: &'a SimSpec,
    commits: Vec<SimCommit>,
    jobs: Vec<JobResult>,
    requests: Vec<RestartRequest>,
    run_id: u64,
    /// Runs so far of each commit key and workflow.
    runs_of: BTreeMap<(u64, usize), u64>,
    /// Times of the looks runs' completions start.
    wakes: BTreeSet<DateTime<Utc>>,
    workflow_names: Vec<String>,
    /// Job index of each break.
    break_job: Vec<usize>,
    /// Culprit commit (index into `commits`) of each break, once landed.
    culprit: Vec<Option<usize>>,
    /// When each break left trunk, and whether autorevert took it out.
    removed: Vec<Option<(DateTime<Utc>, bool)>>,
}

// What each random stream decides.
const STREAM_JOBS: u64 = 1;
const STREAM_PUSH: u64 = 2;
const STREAM_SHA: u64 = 3;
const STREAM_RUN: u64 = 4;

/// Marks a revert's commit key (change numbers stay far below it).
const REVERT_KEY: u64 = 1 << 40;

/// The random stream of `parts` under `seed`: each part stirred into the
/// state through one SplitMix64 step.
fn stream(seed: u64, parts: &[u64]) -> Rng {
    let state = parts.iter().fold(seed, |h, &p| {
        Rng::new(h ^ p.wrapping_mul(0x9e37_79b9_7f4a_7c15)).next_u64()
    });
    Rng::new(state)
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 3, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

impl World<'_> {
    fn new(spec: &SimSpec) -> World<'_> {
        let workflow_names: Vec<String> = (0..spec.workflows.max(1))
            .map(|w| format!("trunk-{w}"))
            .collect();
        let total_jobs = spec.workflows.max(1) * spec.jobs_per_workflow.max(1);
        // Each break in a job of its own when there are enough jobs.
        let offset = stream(spec.seed, &[STREAM_JOBS]).below(total_jobs as u64) as usize;
        let break_job: Vec<usize> = (0..spec.breaks.len())
            .map(|b| (offset + b * 3) % total_jobs)
            .collect();
        World {
            spec,
            commits: Vec::new(),
            jobs: Vec::new(),
            requests: Vec::new(),
            run_id: 10_000,
            runs_of: BTreeMap::new(),
            wakes: BTreeSet::new(),
            workflow_names,
            break_job,
            culprit: vec![None; spec.breaks.len()],
            removed: vec![None; spec.breaks.len()],
        }
    }

    fn jobs_total(&self) -> usize {
        self.spec.workflows.max(1) * self.spec.jobs_per_workflow.max(1)
    }

    fn job_name(&self, j: usize) -> String {
        format!("job-{j:02} / test")
    }

    /// The random stream keyed by `parts`, under the spec's seed.
    fn stream(&self, parts: &[u64]) -> Rng {
        stream(self.spec.seed, parts)
    }

    fn flake(&self, j: usize) -> u32 {
        if self.spec.flake_per_mille.is_empty() {
            0
        } else {
            self.spec.flake_per_mille[j % self.spec.flake_per_mille.len()]
        }
    }

    /// One run of `workflow` on commit `c`, starting at `at`.
    fn run(&mut self, c: usize, wi: usize, at: DateTime<Utc>, restart: bool) {
        self.run_id += 1;
        let run_id = self.run_id;
        let total = self.jobs_total();
        let sha = self.commits[c].commit.sha.clone();
        let workflow = self.workflow_names[wi].clone();
        let key = self.commits[c].key;
        let nth = self.runs_of.entry((key, wi)).or_default();
        *nth += 1;
        let nth = *nth;
        // When each attempt of the run completes, and whether it failed.
        let mut attempts: BTreeMap<u64, (DateTime<Utc>, bool)> = BTreeMap::new();
        for j in (0..total).filter(|j| j % self.workflow_names.len() == wi) {
            // The same draws in the same order whatever the job's state,
            // so that a break changes only what it makes fail.
            let mut rng = self.stream(&[STREAM_RUN, key, wi as u64, nth, j as u64]);
            let flake = self.flake(j);
            let broken: Option<usize> = self.commits[c]
                .active
                .iter()
                .copied()
                .find(|&b| self.break_job[b] == j);
            // A racy test made likelier fails like its flakes; a test that
            // always fails now is a new failure.
            let break_fp = broken.and_then(|b| match self.spec.breaks[b] {
                BreakKind::Intermittent(_) => None,
                BreakKind::Always | BreakKind::Stacked => Some(format!("fp-break-{b:02}")),
            });
            let mut attempt = 1;
            let mut started = at + Duration::seconds(rng.below(120) as i64);
            loop {
                let rate = broken.map_or(0, |b| self.spec.breaks[b].rate());
                let by_break = rng.below(1000) < u64::from(rate);
                let flaked = rng.chance(flake);
                let retried = rng.chance(self.spec.retry_per_mille);
                let failed = by_break || flaked;
                let fingerprint = match &break_fp {
                    Some(fp) if by_break => fp.clone(),
                    _ => format!("fp-job-{j:02}"),
                };
                let completed = started + Duration::minutes(i64::from(self.spec.run_minutes));
                let job = JobResult {
                    sha: sha.clone(),
                    workflow: workflow.clone(),
                    name: self.job_name(j),
                    run_id,
                    run_attempt: attempt,
                    event: if restart { RESTART_EVENT } else { "push" }.into(),
                    head_branch: if restart {
                        restart_branch(&sha)
                    } else {
                        "main".into()
                    },
                    status: "completed".into(),
                    conclusion: Some(if failed { "failure" } else { "success" }.into()),
                    started_at: Some(started),
                    completed_at: Some(completed),
                    rule: failed.then(|| "pytest failure".to_string()),
                    fingerprint: failed.then_some(fingerprint),
                    id: None,
                    url: None,
                };
                self.jobs.push(job);
                let a = attempts.entry(attempt).or_insert((completed, false));
                a.0 = a.0.max(completed);
                a.1 |= failed;
                if !failed || attempt > 1 || !retried {
                    break;
                }
                attempt += 1;
                started = completed + Duration::minutes(2);
            }
        }
        // A retry's attempt runs once the first has completed.
        let first_done = attempts.get(&1).map(|a| a.0);
        for (_, (done, failed)) in attempts {
            let done = first_done.map_or(done, |f| done.max(f));
            let push_wakes = match self.spec.tick_on_push_runs {
                PushWake::Never => false,
                PushWake::Failed => failed,
                PushWake::Every => true,
            };
            if (restart && self.spec.tick_on_restarts) || (!restart && push_wakes) {
                self.wakes
                    .insert(done + Duration::minutes(i64::from(self.spec.react_minutes)));
            }
        }
    }

    fn land(
        &mut self,
        key: u64,
        message: String,
        time: DateTime<Utc>,
        ran: bool,
        breaks: &[usize],
    ) {
        let mut active: BTreeSet<usize> = self
            .commits
            .last()
            .map(|c| c.active.clone())
            .unwrap_or_default();
        for (b, r) in self.removed.iter().enumerate() {
            if r.is_some() {
                active.remove(&b);
            }
        }
        let i = self.commits.len();
        for &b in breaks {
            active.insert(b);
            self.culprit[b] = Some(i);
        }
        let commit = Commit {
            sha: self.stream(&[STREAM_SHA, key]).hex(40),
            time,
            message,
        };
        self.commits.push(SimCommit {
            commit,
            key,
            active,
        });
        if ran {
            for wi in 0..self.workflow_names.len() {
                self.run(i, wi, time + Duration::minutes(3), false);
            }
        }
    }

    fn revert(&mut self, target: usize, at: DateTime<Utc>, by_autorevert: bool) {
        let title = self.commits[target].commit.title().to_string();
        let sha = self.commits[target].commit.sha.clone();
        let mut fixed = Vec::new();
        for (b, c) in self.culprit.iter().enumerate() {
            if *c == Some(target) && self.removed[b].is_none() {
                fixed.push(b);
            }
        }
        for &b in &fixed {
            self.removed[b] = Some((at, by_autorevert));
        }
        let key = self.commits[target].key | REVERT_KEY;
        self.land(
            key,
            format!("Revert \"{title}\"\n\nThis reverts commit {sha}."),
            at,
            true,
            &[],
        );
    }

    /// What the source shows at `now`: newest first, running jobs pending.
    fn snapshot(&self, now: DateTime<Utc>) -> Snapshot {
        let since = now - Duration::hours(i64::from(self.spec.lookback_hours));
        let commits: Vec<Commit> = self
            .commits
            .iter()
            .rev()
            .map(|c| &c.commit)
            .filter(|c| c.time <= now && c.time >= since)
            .cloned()
            .collect();
        let kept: BTreeSet<&str> = commits.iter().map(|c| c.sha.as_str()).collect();
        let jobs = self
            .jobs
            .iter()
            .filter(|j| kept.contains(j.sha.as_str()) && j.started_at.is_some_and(|s| s <= now))
            .map(|j| {
                let mut j = j.clone();
                if j.completed_at.is_some_and(|t| t > now) {
                    j.status = "in_progress".into();
                    j.conclusion = None;
                    j.rule = None;
                    j.fingerprint = None;
                    j.completed_at = None;
                }
                j
            })
            .collect();
        Snapshot {
            repo: "simulated/trunk".into(),
            now,
            commits,
            jobs,
            restart_requests: self
                .requests
                .iter()
                .filter(|r| r.at >= since && r.at <= now)
                .cloned()
                .collect(),
            workflow_files: self
                .workflow_names
                .iter()
                .map(|w| (w.clone(), format!(".github/workflows/{w}.yml")))
                .collect(),
        }
    }
}

impl World<'_> {
    /// Note what this tick saw of each break still in trunk.
    fn trace(
        &self,
        now: DateTime<Utc>,
        snapshot: &Snapshot,
        signals: &Signals,
        detection: &Detection,
        index: &BTreeMap<&str, usize>,
        traces: &mut [BreakTrace],
    ) {
        for (b, t) in traces.iter_mut().enumerate() {
            let Some(culprit) = self.culprit[b] else {
                continue;
            };
            if self.removed[b].is_some() {
                continue;
            }
            let since = now - self.commits[culprit].commit.time;
            let job = self.job_name(self.break_job[b]);
            let broken = |sha: &str| {
                index
                    .get(sha)
                    .is_some_and(|&c| self.commits[c].active.contains(&b))
            };
            if t.seen.is_none()
                && snapshot.jobs.iter().any(|j| {
                    j.name == job
                        && j.conclusion == Some(crate::event::status::Conclusion::Failure)
                        && broken(j.sha.as_str())
                })
            {
                t.seen = Some(since);
            }
            let findings = detection
                .patterns
                .iter()
                .flat_map(|p| p.findings.iter())
                .chain(detection.unknown.iter());
            let put_off = detection
                .deferred
                .iter()
                .filter(|r| {
                    r.workflow == self.workflow_names[self.break_job[b] % self.workflow_names.len()]
                })
                .filter_map(|r| snapshot.commits.get(r.commit))
                .filter(|c| {
                    index
                        .get(c.sha.as_str())
                        .is_some_and(|&i| (i + 1 >= culprit && i <= culprit + 4) || broken(&c.sha))
                })
                .count();
            if put_off > 0 {
                t.log.push(format!(
                    "{}m {put_off} restart(s) near it put off by the budget",
                    since.num_minutes()
                ));
            }
            for f in findings {
                if signals.columns.get(f.column).is_none_or(|c| c.job != job) {
                    continue;
                }
                let suspect = snapshot
                    .commits
                    .get(f.suspect)
                    .and_then(|c| index.get(c.sha.as_str()))
                    .copied();
                if t.decisive.is_none() && f.rate.as_ref().is_some_and(|r| r.decides()) {
                    t.decisive = Some(since);
                }
                let last = format!(
                    "{} {} suspect: {}",
                    f.verdict.as_str(),
                    match suspect {
                        Some(s) if s == culprit => "culprit".to_string(),
                        Some(s) if s > culprit => format!("{} newer", s - culprit),
                        Some(s) => format!("{} older", culprit - s),
                        None => "?".into(),
                    },
                    f.reason
                );
                if last != t.last {
                    // Samples of the job per commit around the culprit
                    // (newest first, `*` the culprit), and the runner-up.
                    let around: Vec<String> = (culprit.saturating_sub(3)..=culprit + 6)
                        .rev()
                        .filter_map(|i| self.commits.get(i).map(|c| (i, c)))
                        .map(|(i, c)| {
                            let (mut fail, mut pass) = (0, 0);
                            for j in snapshot
                                .jobs
                                .iter()
                                .filter(|j| j.sha == c.commit.sha && j.name == job)
                            {
                                match j.conclusion {
                                    Some(crate::event::status::Conclusion::Failure) => fail += 1,
                                    Some(crate::event::status::Conclusion::Success) => pass += 1,
                                    _ => {}
                                }
                            }
                            format!("{}{fail}/{pass}", if i == culprit { "*" } else { "" })
                        })
                        .collect();
                    let runner = f
                        .rate
                        .as_ref()
                        .and_then(|r| r.runner_up())
                        .and_then(|r| snapshot.commits.get(r))
                        .and_then(|c| index.get(c.sha.as_str()))
                        .map_or("-".to_string(), |&r| {
                            format!("{}", r as i64 - culprit as i64)
                        });
                    t.log.push(format!(
                        "{}m {last} [around {} runner-up {runner}]",
                        since.num_minutes(),
                        around.join(" ")
                    ));
                    t.last = last;
                }
            }
        }
    }
}

/// Run the simulation `spec` describes with autorevert's `params`.
pub fn simulate(spec: &SimSpec, params: &Params) -> SimOutcome {
    let mut world = World::new(spec);
    let t0 = start();
    let end = t0 + Duration::hours(i64::from(spec.hours));
    let every = Duration::minutes(i64::from(spec.commit_every_minutes.max(1)));
    let tick = Duration::minutes(i64::from(spec.tick_minutes.max(1)));
    // Breaks land evenly, after a day of history to learn flake rates from.
    let warmup = Duration::hours(i64::from(spec.lookback_hours.min(spec.hours / 3)));
    let span = end - t0 - warmup - Duration::hours(i64::from(spec.human_revert_hours));
    let slot = span / (spec.breaks.len().max(1) as i32);
    let mut due: Vec<(DateTime<Utc>, usize)> = (0..spec.breaks.len())
        .map(|b| (t0 + warmup + slot * (b as i32), b))
        .collect();
    due.reverse();

    let mut next_commit = t0;
    let mut next_tick = t0 + tick;
    let mut number = 0u64;
    let mut outcome = SimOutcome {
        hours: spec.hours,
        ..SimOutcome::default()
    };
    let mut reverted: BTreeSet<usize> = BTreeSet::new();
    let mut traces = vec![BreakTrace::default(); spec.breaks.len()];
    while next_commit < end || next_tick < end {
        // The next look: the schedule's, or a run's completion before it.
        let woken = world.wakes.range(..next_tick).next().copied();
        let look = woken.unwrap_or(next_tick);
        if next_commit <= look && next_commit < end {
            // A push: one commit, or a stack of 2 to 4 where only the head
            // runs CI.
            let mut rng = stream(spec.seed, &[STREAM_PUSH, number]);
            let size = if rng.chance(spec.stacked_per_mille) {
                2 + rng.below(3) as usize
            } else {
                1
            };
            let mut kinds: Vec<usize> = Vec::new();
            if let Some(&(at, b)) = due.last()
                && at <= next_commit
            {
                due.pop();
                kinds.push(b);
            }
            // A stacked break goes into a stack, below its head.
            let size = match kinds.first() {
                Some(&b) if spec.breaks[b] == BreakKind::Stacked => size.max(3),
                Some(_) => 1,
                None => size,
            };
            for k in 0..size {
                number += 1;
                let head = k + 1 == size;
                let breaks: Vec<usize> = if k == 0 { kinds.clone() } else { Vec::new() };
                let t = next_commit + Duration::seconds(k as i64);
                world.land(
                    number,
                    format!("Change number {number} (#{})", 5000 + number),
                    t,
                    head,
                    &breaks,
                );
            }
            next_commit += every;
            continue;
        }
        let now = look;
        match woken {
            Some(w) => {
                world.wakes.remove(&w);
            }
            None => next_tick += tick,
        }
        // Looks that would start while this one runs wait for it and
        // become one.
        let within = now + Duration::minutes(1);
        let merged: Vec<_> = world.wakes.range(..within).copied().collect();
        for w in merged {
            world.wakes.remove(&w);
        }
        outcome.ticks += 1;
        // A person reverts what autorevert left in too long.
        for b in 0..spec.breaks.len() {
            if let (Some(c), None) = (world.culprit[b], world.removed[b])
                && now - world.commits[c].commit.time
                    >= Duration::hours(i64::from(spec.human_revert_hours))
            {
                world.revert(c, now, false);
            }
        }
        let snapshot = world.snapshot(now);
        let (signals, detection) = analyze(&snapshot, params);
        let index: BTreeMap<&str, usize> = world
            .commits
            .iter()
            .enumerate()
            .map(|(i, c)| (c.commit.sha.as_str(), i))
            .collect();
        world.trace(now, &snapshot, &signals, &detection, &index, &mut traces);
        outcome.deferred += detection.deferred.len();
        let mut to_revert = Vec::new();
        for p in &detection.patterns {
            if p.verdict != Verdict::Revert {
                continue;
            }
            let Some(&c) = snapshot
                .commits
                .get(p.suspect)
                .and_then(|s| index.get(s.sha.as_str()))
            else {
                continue;
            };
            to_revert.push((c, p.reason.clone()));
        }
        let mut runs = Vec::new();
        for r in &detection.restarts {
            let Some(&c) = snapshot
                .commits
                .get(r.commit)
                .and_then(|s| index.get(s.sha.as_str()))
            else {
                continue;
            };
            if let Some(wi) = world.workflow_names.iter().position(|w| *w == r.workflow) {
                runs.push((c, wi, r.workflow.clone()));
            }
        }
        for (c, wi, workflow) in runs {
            outcome.restarts += 1;
            for (b, t) in traces.iter_mut().enumerate() {
                let Some(culprit) = world.culprit[b] else {
                    continue;
                };
                let job_wf = world.break_job[b] % world.workflow_names.len();
                if world.removed[b].is_some() || job_wf != wi {
                    continue;
                }
                t.restarts += 1;
                if t.restarted.is_none() && (c == culprit || c + 1 == culprit) {
                    t.restarted = Some(now - world.commits[culprit].commit.time);
                }
            }
            world.requests.push(RestartRequest {
                workflow,
                sha: world.commits[c].commit.sha.clone(),
                at: now,
            });
            world.run(c, wi, now + Duration::minutes(2), true);
        }
        for (c, reason) in to_revert {
            if !reverted.insert(c) {
                continue;
            }
            let culprit_of = (0..spec.breaks.len()).any(|b| world.culprit[b] == Some(c));
            outcome.reasons.push(format!(
                "{} {}: {reason}",
                if culprit_of { "right" } else { "WRONG" },
                world.commits[c].commit.title()
            ));
            if !culprit_of {
                outcome
                    .false_reverts
                    .push(world.commits[c].commit.sha.clone());
            }
            world.revert(c, now + Duration::minutes(1), true);
        }
    }
    for (b, kind) in spec.breaks.iter().enumerate() {
        let Some(c) = world.culprit[b] else { continue };
        let landed = world.commits[c].commit.time;
        outcome.breaks.push(BreakOutcome {
            kind: *kind,
            sha: world.commits[c].commit.sha.clone(),
            caught_after: match world.removed[b] {
                Some((at, true)) => Some(at - landed),
                _ => None,
            },
            job_flake_per_mille: world.flake(world.break_job[b]),
            trace: traces[b].clone(),
        });
    }
    outcome
}

/// Where the time to one revert went: minutes from the culprit landing to
/// the first failure seen, the first restart near it, the first decisive
/// rate test, and the revert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Steps {
    pub seen: Option<i64>,
    pub restarted: Option<i64>,
    pub decisive: Option<i64>,
    pub reverted: i64,
}

/// The `q` quantile (0..=1) of sorted `values`: the value at the rounded
/// position, `None` without values.
fn quantile(sorted: &[i64], q: f64) -> Option<i64> {
    let last = sorted.len().checked_sub(1)?;
    sorted.get((last as f64 * q).round() as usize).copied()
}

/// The median of `values`, as [`Figures::latency`] takes it.
fn median(mut values: Vec<i64>) -> Option<i64> {
    values.sort_unstable();
    quantile(&values, 0.5)
}

/// Figures over many simulations.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    /// Per kind: (injected, caught).
    pub by_kind: BTreeMap<BreakKind, (usize, usize)>,
    /// Breaks failing 60% of runs or more, by the flake rate (per mille)
    /// of the job they break: (injected, caught).
    pub by_job_flake: BTreeMap<u32, (usize, usize)>,
    pub caught: usize,
    pub injected: usize,
    pub false_reverts: usize,
    /// Minutes from a break landing to its revert, sorted.
    pub latencies: Vec<i64>,
    /// Per kind, for each break caught: minutes from landing to each step.
    pub steps: BTreeMap<BreakKind, Vec<Steps>>,
    pub restarts: usize,
    /// Times autorevert looked.
    pub looks: usize,
    pub hours: u64,
}

impl Figures {
    pub fn add(&mut self, o: &SimOutcome) {
        for b in &o.breaks {
            let e = self.by_kind.entry(b.kind).or_default();
            e.0 += 1;
            self.injected += 1;
            if b.kind.rate() >= 600 {
                let f = self.by_job_flake.entry(b.job_flake_per_mille).or_default();
                f.0 += 1;
                f.1 += usize::from(b.caught_after.is_some());
            }
            if let Some(d) = b.caught_after {
                e.1 += 1;
                self.caught += 1;
                self.latencies.push(d.num_minutes());
                let minutes = |d: Option<Duration>| d.map(|d| d.num_minutes());
                self.steps.entry(b.kind).or_default().push(Steps {
                    seen: minutes(b.trace.seen),
                    restarted: minutes(b.trace.restarted),
                    decisive: minutes(b.trace.decisive),
                    reverted: d.num_minutes(),
                });
            }
        }
        self.latencies.sort_unstable();
        self.false_reverts += o.false_reverts.len();
        self.restarts += o.restarts;
        self.looks += o.ticks;
        self.hours += u64::from(o.hours);
    }

    pub fn precision(&self) -> f64 {
        let all = self.caught + self.false_reverts;
        if all == 0 {
            1.0
        } else {
            self.caught as f64 / all as f64
        }
    }

    pub fn recall(&self) -> f64 {
        if self.injected == 0 {
            1.0
        } else {
            self.caught as f64 / self.injected as f64
        }
    }

    pub fn recall_of(&self, kind: BreakKind) -> f64 {
        match self.by_kind.get(&kind) {
            Some(&(n, c)) if n > 0 => c as f64 / n as f64,
            _ => 1.0,
        }
    }

    /// Breaks caught and injected among those failing at least `per_mille`
    /// of their runs (the target leaves out breaks too rare to place).
    pub fn caught_failing_at_least(&self, per_mille: u32) -> (usize, usize) {
        self.by_kind
            .iter()
            .filter(|(kind, _)| kind.rate() >= per_mille)
            .fold((0, 0), |(c, n), (_, &(kn, kc))| (c + kc, n + kn))
    }

    /// The `q` quantile (0..=1) of the latencies, in minutes.
    pub fn latency(&self, q: f64) -> Option<i64> {
        quantile(&self.latencies, q)
    }

    pub fn restarts_per_48h(&self) -> f64 {
        if self.hours == 0 {
            0.0
        } else {
            self.restarts as f64 * 48.0 / self.hours as f64
        }
    }

    /// A few lines for the benchmark and the notes.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let hours =
            |m: Option<i64>| m.map_or("-".to_string(), |m| format!("{:.1} h", m as f64 / 60.0));
        out.push_str(&format!(
            "precision {:.3} ({} right, {} wrong reverts); recall {:.3} ({}/{})\n",
            self.precision(),
            self.caught,
            self.false_reverts,
            self.recall(),
            self.caught,
            self.injected
        ));
        for (kind, (n, c)) in &self.by_kind {
            out.push_str(&format!("  recall {}: {c}/{n}\n", kind.label()));
        }
        let (c, n) = self.caught_failing_at_least(600);
        if n > 0 {
            out.push_str(&format!(
                "  recall of breaks failing 60% of runs or more: {c}/{n} ({:.3})\n",
                c as f64 / n as f64
            ));
            let by_flake: Vec<String> = self
                .by_job_flake
                .iter()
                .map(|(flake, (n, c))| format!("{:.1}% {c}/{n}", f64::from(*flake) / 10.0))
                .collect();
            out.push_str(&format!(
                "    by how often their job flakes: {}\n",
                by_flake.join(", ")
            ));
        }
        out.push_str(&format!(
            "latency from break to revert: median {} ({} min), p90 {}\n",
            hours(self.latency(0.5)),
            self.latency(0.5).map_or("-".to_string(), |m| m.to_string()),
            hours(self.latency(0.9))
        ));
        for (kind, steps) in &self.steps {
            let step =
                |f: fn(&Steps) -> Option<i64>| hours(median(steps.iter().filter_map(f).collect()));
            out.push_str(&format!(
                "  medians, {}: failure seen {}, first restart {}, decisive {}, revert {}\n",
                kind.label(),
                step(|s| s.seen),
                step(|s| s.restarted),
                step(|s| s.decisive),
                step(|s| Some(s.reverted)),
            ));
        }
        out.push_str(&format!(
            "restarts: {} in {} h ({:.1} per 48 h)\n",
            self.restarts,
            self.hours,
            self.restarts_per_48h()
        ));
        out.push_str(&format!(
            "looks: {} ({:.1} per hour)\n",
            self.looks,
            self.looks as f64 / self.hours.max(1) as f64
        ));
        out
    }
}

/// The fixed scenario set the tests and the benchmark measure.
pub fn scenario_set(seeds: std::ops::RangeInclusive<u64>) -> Vec<SimSpec> {
    seeds
        .map(|seed| SimSpec {
            seed,
            ..SimSpec::default()
        })
        .collect()
}

/// Run every scenario and sum up.
pub fn measure(specs: &[SimSpec], params: &Params) -> Figures {
    let mut f = Figures::default();
    for s in specs {
        f.add(&simulate(s, params));
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_figures() {
        let spec = SimSpec {
            hours: 36,
            breaks: vec![BreakKind::Always, BreakKind::Stacked],
            ..SimSpec::default()
        };
        let a = simulate(&spec, &Params::default());
        let b = simulate(&spec, &Params::default());
        assert_eq!(a.breaks, b.breaks);
        assert_eq!(a.restarts, b.restarts);
        assert_eq!(a.breaks.len(), 2);
    }

    /// A restart's run completing starts a look, so the next round of
    /// restarts (or the revert) waits for the run, not for the schedule.
    #[test]
    fn a_restarts_result_is_looked_at_when_it_arrives() {
        let spec = SimSpec {
            hours: 36,
            breaks: vec![BreakKind::Always],
            ..SimSpec::default()
        };
        let scheduled = SimSpec {
            tick_on_restarts: false,
            ..spec.clone()
        };
        let woken = simulate(&spec, &Params::default());
        let waited = simulate(&scheduled, &Params::default());
        assert!(
            woken.ticks > waited.ticks,
            "{} {}",
            woken.ticks,
            waited.ticks
        );
        let after = |o: &SimOutcome| o.breaks[0].caught_after.map(|d| d.num_minutes());
        let (Some(woken_after), Some(waited_after)) = (after(&woken), after(&waited)) else {
            panic!("not caught: {:?} {:?}", woken.breaks, waited.breaks);
        };
        assert!(woken_after < waited_after, "{woken_after} {waited_after}");
        // No look comes sooner than the run it waits for: a round is still
        // the run's 40 minutes and the event's 2.
        let restarted = woken.breaks[0].trace.restarted.expect("restarted");
        assert!(
            woken_after - restarted.num_minutes() >= 42,
            "{woken_after} {restarted}"
        );
    }

    #[test]
    fn recall_is_split_by_how_often_the_broken_job_flakes() {
        let outcome = |kind, flake, caught: bool| BreakOutcome {
            kind,
            sha: String::new(),
            caught_after: caught.then(|| Duration::minutes(120)),
            job_flake_per_mille: flake,
            trace: BreakTrace::default(),
        };
        let mut f = Figures::default();
        f.add(&SimOutcome {
            breaks: vec![
                outcome(BreakKind::Always, 5, true),
                outcome(BreakKind::Intermittent(600), 5, false),
                outcome(BreakKind::Intermittent(600), 300, false),
                outcome(BreakKind::Intermittent(900), 300, true),
                // Below 60%: not in the split.
                outcome(BreakKind::Intermittent(300), 2, false),
            ],
            hours: 72,
            ..SimOutcome::default()
        });
        assert_eq!(f.by_job_flake.get(&5), Some(&(2, 1)));
        assert_eq!(f.by_job_flake.get(&300), Some(&(2, 1)));
        assert_eq!(f.by_job_flake.get(&2), None);
        assert!(
            f.render()
                .contains("by how often their job flakes: 0.5% 1/2, 30.0% 1/2"),
            "{}",
            f.render()
        );
        // Every simulated break of 60% and up is in the split once.
        let spec = SimSpec {
            hours: 36,
            ..SimSpec::default()
        };
        let mut f = Figures::default();
        f.add(&simulate(&spec, &Params::default()));
        let (caught, injected) = f
            .by_job_flake
            .values()
            .fold((0, 0), |(c, n), &(bn, bc)| (c + bc, n + bn));
        assert_eq!((caught, injected), f.caught_failing_at_least(600));
        assert!(injected > 0);
    }

    #[test]
    fn steps_take_the_median_of_the_breaks_that_reached_them() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![40, 10, 30]), Some(30));
        // An even count takes the upper middle, as `latency(0.5)` rounds.
        assert_eq!(median(vec![40, 10, 30, 20]), Some(30));
        let sorted = Figures {
            latencies: vec![10, 20, 30, 40],
            ..Figures::default()
        };
        assert_eq!(median(vec![40, 10, 30, 20]), sorted.latency(0.5));
        let mut f = Figures::default();
        let caught = |minutes: i64, decisive: Option<i64>| BreakOutcome {
            kind: BreakKind::Always,
            sha: String::new(),
            caught_after: Some(Duration::minutes(minutes)),
            job_flake_per_mille: 5,
            trace: BreakTrace {
                seen: Some(Duration::minutes(60)),
                decisive: decisive.map(Duration::minutes),
                ..BreakTrace::default()
            },
        };
        f.add(&SimOutcome {
            breaks: vec![caught(120, Some(120)), caught(160, None)],
            hours: 72,
            ..SimOutcome::default()
        });
        let steps = &f.steps[&BreakKind::Always];
        assert_eq!(steps.len(), 2);
        assert_eq!(steps[1].decisive, None);
        // The revert median is the overall latency median of these breaks.
        assert!(
            f.render().contains("latency from break to revert: median 2.7 h")
                && f.render().contains(
                    "medians, always failing: failure seen 1.0 h, first restart -, decisive 2.0 h, revert 2.7 h"
                ),
            "{}",
            f.render()
        );
    }

    #[test]
    fn a_run_meets_the_same_luck_whatever_ran_before_it() {
        use crate::event::status::Conclusion;
        // Two worlds on one seed: in one, other runs (a restart, another
        // commit's) come between. The runs they share fail and pass alike.
        let spec = SimSpec {
            flake_per_mille: vec![500],
            ..SimSpec::default()
        };
        let outcomes = |extra: bool| {
            let mut w = World::new(&spec);
            let t = start();
            w.land(1, "one".into(), t, false, &[]);
            w.land(2, "two".into(), t, false, &[]);
            w.run(0, 0, t, false);
            if extra {
                w.run(1, 0, t, false);
                w.run(0, 1, t, true);
            }
            w.run(0, 0, t, true);
            let sha = w.commits[0].commit.sha.clone();
            let mut seen: Vec<(String, u64, bool)> = w
                .jobs
                .iter()
                .filter(|j| j.sha == sha && j.workflow == "trunk-0")
                .map(|j| {
                    (
                        j.name.clone(),
                        j.run_attempt,
                        j.conclusion == Some(Conclusion::Failure),
                    )
                })
                .collect();
            seen.sort();
            seen
        };
        let (plain, busy) = (outcomes(false), outcomes(true));
        assert_eq!(plain, busy);
        // Half the jobs flake: the two runs of commit one differ somewhere,
        // so the streams are not all one.
        assert!(
            plain.iter().any(|j| j.2) && plain.iter().any(|j| !j.2),
            "{plain:?}"
        );
    }

    /// The figures over the fixed scenario set (printed with `--nocapture`).
    #[test]
    fn scenario_set_figures() {
        let mut f = Figures::default();
        for spec in scenario_set(1..=8) {
            let o = simulate(&spec, &Params::default());
            for r in o.reasons.iter().filter(|r| r.starts_with("WRONG")) {
                println!("seed {}: {r}", spec.seed);
            }
            for b in &o.breaks {
                let m =
                    |d: Option<Duration>| d.map_or("-".into(), |d| format!("{}m", d.num_minutes()));
                println!(
                    "seed {} {}: caught {} seen {} restarted {} decisive {} restarts {}\n    {}",
                    spec.seed,
                    b.kind.label(),
                    m(b.caught_after),
                    m(b.trace.seen),
                    m(b.trace.restarted),
                    m(b.trace.decisive),
                    b.trace.restarts,
                    b.trace.last
                );
                if b.caught_after.is_none_or(|d| d > Duration::minutes(150)) {
                    for l in &b.trace.log {
                        println!("      {l}");
                    }
                }
            }
            println!(
                "seed {}: {} restarts, {} put off",
                spec.seed, o.restarts, o.deferred
            );
            f.add(&o);
        }
        println!("{}", f.render());
        assert_eq!(f.false_reverts, 0, "{}", f.render());
        assert_eq!(f.recall_of(BreakKind::Always), 1.0, "{}", f.render());
        assert_eq!(f.recall_of(BreakKind::Stacked), 1.0, "{}", f.render());
        assert!(
            f.recall_of(BreakKind::Intermittent(900)) >= 0.85,
            "{}",
            f.render()
        );
        assert!(
            f.recall_of(BreakKind::Intermittent(600)) >= 0.5,
            "{}",
            f.render()
        );
        // Simulated minutes from a break landing to its revert. Measured
        // at a margin of ln(199), with rounds topped up as failures come,
        // the suspect's confirming run and the commit below an untested
        // run in the first round, parent passes counted exactly with a
        // spare in a commit's first batch, and no restarts for a break its
        // rate's upper 90% bound could not place within two thirds of
        // `max-restarts` (12), a job flaking more than 5% waiting for a
        // likely break before any restart, and a look whenever a
        // restart's run completes (56 restarts a day): a median of 141
        // minutes, 584 restarts in 576 h (48.7 per 48 h), recall 37/48, of
        // breaks failing 60% or more 37/40 (looking on the schedule only,
        // with 64 a day: 141 minutes, 49.6, 35/48 and 35/40).
        assert!(f.latency(0.5).is_some_and(|m| m <= 145), "{}", f.render());
        assert!(f.restarts_per_48h() <= 49.0, "{}", f.render());
        assert!(f.recall() >= 0.77, "{}", f.render());
        let (caught, injected) = f.caught_failing_at_least(600);
        assert!(caught >= 37 && injected == 40, "{}", f.render());
        // A stacked break is reverted one round after its failure is seen:
        // the bisection, the commit below and the culprit run together.
        let stacked = f.steps[&BreakKind::Stacked].iter().map(|s| s.reverted);
        assert!(
            median(stacked.collect()).is_some_and(|m| m <= 140),
            "{}",
            f.render()
        );
        // An always failing break is reverted, most often, one round of
        // restarts after its first failure is seen: in that round its
        // suspect fails again and its parent passes again.
        let always = f.steps[&BreakKind::Always].iter().map(|s| s.reverted);
        assert!(
            median(always.collect()).is_some_and(|m| m <= 125),
            "{}",
            f.render()
        );
    }
}
