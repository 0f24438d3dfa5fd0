//! Patterns and the guards that keep precision. Pure.
//!
//! For one signal (a column failing with one fingerprint), walking the
//! commits from the newest failure to older ones: the failing commits, then
//! perhaps commits with no result yet (pending or missing: the gap), then the
//! nearest older commit that ran the job and passed. The suspect is the
//! oldest failing commit. With two failing commits or more that is the
//! pattern; with one and a gap below it (a ghstack push where only the head
//! ran CI), the gap is bisected to find out.
//!
//! Guards, each a reason not to act:
//! - flaky: the signal failed and passed on one commit (a passing restart of
//!   the suspect is exactly that);
//! - infrastructure: the same failure happened on a commit older than the
//!   suspect, or started before the suspect landed, so the suspect cannot
//!   have caused it;
//! - recovered: a newer commit passes again;
//! - already reverted: a newer commit reverts the suspect;
//! - unknown: pending or missing results between the suspect and the older
//!   success: restart, no verdict;
//! - too little evidence: fewer failing commits than `min-failures`, fewer
//!   passing ones than `min-successes`, and no revert before a restart of the
//!   suspect has failed again with the same failure (and, when that failure
//!   hit many jobs, before the older commit passed again after it).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;

use chrono::{DateTime, Duration, Utc};
use regex::Regex;
use serde::Serialize;

use super::bisect;
use super::rate::{self, BREAK_LN, Counts, LIKELY_LN, LOCALIZE_LN, RateTest};
use super::short;
use super::signal::{Column, Event, FpId, Signals, UNCLASSIFIED};
use crate::config::AutorevertConfig;
use crate::history::snapshot::{Commit, Outcome, Snapshot};

/// A failure hitting this many jobs on the suspect may be an outage that
/// began with it: before a revert, the older commit must pass again after
/// the suspect failed.
pub const BROAD_JOBS: usize = 3;

/// Commits named in one reason; the grid shows them all.
const LISTED_COMMITS: usize = 5;

/// Restarts of a suspect dispatched at once for more samples.
pub const SUSPECT_BATCH: u32 = 3;

/// Restarts of the commit below a first failure dispatched at once, with
/// the suspect's, before a break is likely (once the signal has failed
/// twice: a lone failure gets one run of each).
pub const PARENT_BATCH: u32 = 2;

/// The least chance that an older commit carries the break for its runs to
/// be worth restarts even when its passes alone could not settle the place
/// within `max-restarts`: its failures would.
pub const SPLIT_WORTH: f64 = 0.25;

/// What detection needs from the config.
#[derive(Debug, Clone)]
pub struct Params {
    /// Workflows to watch; empty means all.
    pub workflows: Vec<String>,
    pub min_failures: usize,
    pub min_successes: usize,
    pub max_restarts: u32,
    /// Restarts dispatched by one run at most.
    pub max_restarts_per_tick: u32,
    /// Restarts dispatched in any 24 hours at most.
    pub max_restarts_per_day: u32,
    pub backoff: Duration,
    pub revert_patterns: Vec<Regex>,
}

impl Params {
    pub fn from_config(c: &AutorevertConfig) -> Params {
        Params {
            workflows: c.workflows.clone(),
            min_failures: c.min_failures.max(2),
            min_successes: c.min_successes,
            max_restarts: c.max_restarts,
            max_restarts_per_tick: c.max_restarts_per_tick,
            max_restarts_per_day: c.max_restarts_per_day,
            backoff: Duration::minutes(i64::from(c.restart_backoff_minutes)),
            // Validated when the config was read; an invalid one is skipped.
            revert_patterns: c
                .revert_patterns
                .iter()
                .filter_map(|p| Regex::new(p).ok())
                .collect(),
        }
    }
}

impl Default for Params {
    fn default() -> Self {
        Params::from_config(&AutorevertConfig::default())
    }
}

/// What the evidence supports, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// A guard says no (flaky, infrastructure, reverted, too little evidence).
    Ineligible,
    /// Not known yet: restart to find out, or wait for a restart.
    Restart,
    /// A pattern restarts could not confirm: a person should look.
    Notify,
    /// Confirmed: revert.
    Revert,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ineligible => "ineligible",
            Verdict::Restart => "restart",
            Verdict::Notify => "notify",
            Verdict::Revert => "revert",
        }
    }
}

/// What one signal shows on one commit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cell {
    /// Failed with the signal's fingerprint.
    pub fail: bool,
    pub pass: bool,
    pub pending: bool,
    /// Failed, but with other fingerprints only.
    pub other: bool,
    /// Some of it comes from a restart.
    pub restart: bool,
}

/// The one-word reading of a cell that the walk uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellKind {
    Fail,
    Pass,
    Pending,
    Other,
    Missing,
}

impl Cell {
    pub fn of(events: &[Event], fp: FpId) -> Cell {
        let mut cell = Cell::default();
        for e in events {
            cell.restart |= e.restart;
            match e.outcome {
                Outcome::Failure if e.fails_with(fp) => cell.fail = true,
                Outcome::Failure => cell.other = true,
                Outcome::Success => cell.pass = true,
                Outcome::Pending => cell.pending = true,
            }
        }
        cell
    }

    pub fn kind(&self) -> CellKind {
        if self.fail {
            CellKind::Fail
        } else if self.pass {
            CellKind::Pass
        } else if self.pending {
            CellKind::Pending
        } else if self.other {
            CellKind::Other
        } else {
            CellKind::Missing
        }
    }
}

/// One signal's view of one suspect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Index into [`Signals::columns`].
    pub column: usize,
    pub fp: FpId,
    /// Indexes into the snapshot's commits (0 is the newest).
    pub suspect: usize,
    pub older_success: usize,
    /// Failing commits, newest first; the last is the suspect.
    pub failing: Vec<usize>,
    /// Commits without a result between the suspect and the older success.
    pub gap: Vec<usize>,
    pub verdict: Verdict,
    pub reason: String,
    /// Commits to restart the signal's workflow on, now.
    pub restarts: Vec<usize>,
    /// The signal's failure rate before and after the suspect, the test
    /// statistic and its thresholds.
    pub rate: Option<RateTest>,
}

/// One suspect, every signal that points at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    pub suspect: usize,
    pub older_success: usize,
    /// Newest first.
    pub newer_failures: Vec<usize>,
    pub workflows: Vec<String>,
    pub findings: Vec<Finding>,
    /// The newer commit that reverts the suspect.
    pub reverted_by: Option<usize>,
    pub verdict: Verdict,
    pub reason: String,
}

/// A restart wanted now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restart {
    pub workflow: String,
    pub commit: usize,
    pub reason: String,
}

/// Everything detection found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Detection {
    /// Newest suspect first.
    pub patterns: Vec<Pattern>,
    /// Signals with one failing commit and unknown commits below it.
    pub unknown: Vec<Finding>,
    /// Every restart wanted now, deduplicated, within the budget.
    pub restarts: Vec<Restart>,
    /// Restarts wanted now that the budget (`max-restarts-per-tick`,
    /// `max-restarts-per-day`) put off.
    pub deferred: Vec<Restart>,
}

/// Restarts of one workflow on one commit, as the data shows them.
#[derive(Debug, Clone, Default)]
struct RestartState {
    runs: BTreeSet<u64>,
    requested: usize,
    /// Restart runs whose first attempt is still running.
    in_flight: BTreeSet<u64>,
    /// A push run's first attempt is still running.
    push_running: bool,
    last: Option<DateTime<Utc>>,
}

impl RestartState {
    /// A first attempt of the workflow on the commit is still running
    /// (a push run or a restart).
    fn running(&self) -> bool {
        self.push_running || !self.in_flight.is_empty()
    }

    /// Restart runs on their way: running, or asked for and not seen yet.
    fn on_the_way(&self) -> usize {
        self.in_flight.len() + self.requested.saturating_sub(self.runs.len())
    }
}

/// Whether a restart may be dispatched now.
enum RestartNow {
    Go,
    Wait(String),
    Exhausted(usize),
}

/// Where a failure was seen: (column, commit, start).
type Seen = (usize, usize, Option<DateTime<Utc>>);

struct Detector<'a> {
    snapshot: &'a Snapshot,
    signals: &'a Signals,
    params: &'a Params,
    restarts: HashMap<(&'a str, usize), RestartState>,
    /// Failure events by fingerprint: (column, commit, started).
    failures: HashMap<FpId, Vec<Seen>>,
    /// By fingerprint: the oldest commit (highest index) and the earliest
    /// start of its failures.
    spans: HashMap<FpId, (usize, Option<DateTime<Utc>>)>,
    reverted: HashMap<usize, Option<usize>>,
}

/// Find the patterns of `snapshot`, whose jobs `signals` grouped.
pub fn detect(snapshot: &Snapshot, signals: &Signals, params: &Params) -> Detection {
    let mut d = Detector::new(snapshot, signals, params);
    let mut findings = Vec::new();
    for (ci, column) in signals.columns.iter().enumerate() {
        let fps: BTreeSet<FpId> = column
            .events
            .iter()
            .filter(|e| e.outcome == Outcome::Failure)
            .flat_map(|e| e.fingerprints.iter().copied())
            .collect();
        for fp in fps {
            let pattern = d.examine(ci, fp);
            if let Some(f) = d.combine(ci, fp, pattern) {
                findings.push(f);
            }
        }
    }
    d.assemble(findings)
}

impl<'a> Detector<'a> {
    fn new(snapshot: &'a Snapshot, signals: &'a Signals, params: &'a Params) -> Detector<'a> {
        let commit_of = snapshot.commit_index();
        // Every workflow's restarts: only the signals' (selected) workflows
        // are ever asked about.
        let mut restarts: HashMap<(&str, usize), RestartState> = HashMap::new();
        for job in &snapshot.jobs {
            let restart = job.is_restart();
            // A re-run attempt still running (of a push run or of a
            // restart) is a sample on its way, not a reason to hold a
            // restart back: its first attempt already said what it says. A
            // first attempt still running is.
            let running = job.outcome() == Some(Outcome::Pending) && job.run_attempt <= 1;
            if !restart && !running {
                continue;
            }
            let Some(&commit) = commit_of.get(job.sha.as_str()) else {
                continue;
            };
            let state = restarts.entry((job.workflow.as_str(), commit)).or_default();
            if restart {
                state.runs.insert(job.run_id);
                if running {
                    state.in_flight.insert(job.run_id);
                }
                if let Some(t) = job.started_at {
                    state.last = state.last.max(Some(t));
                }
            } else {
                state.push_running |= running;
            }
        }
        for r in &snapshot.restart_requests {
            if let Some(&commit) = commit_of.get(r.sha.as_str()) {
                let state = restarts.entry((r.workflow.as_str(), commit)).or_default();
                state.requested += 1;
                state.last = state.last.max(Some(r.at));
            }
        }
        let mut failures: HashMap<FpId, Vec<Seen>> = HashMap::new();
        for (ci, column) in signals.columns.iter().enumerate() {
            for e in column
                .events
                .iter()
                .filter(|e| e.outcome == Outcome::Failure)
            {
                for &fp in &e.fingerprints {
                    failures
                        .entry(fp)
                        .or_default()
                        .push((ci, e.commit, e.started_at));
                }
            }
        }
        let spans = failures
            .iter()
            .map(|(fp, seen)| {
                let oldest = seen.iter().map(|s| s.1).max().unwrap_or(0);
                let earliest = seen.iter().filter_map(|s| s.2).min();
                (*fp, (oldest, earliest))
            })
            .collect();
        Detector {
            snapshot,
            signals,
            params,
            restarts,
            failures,
            spans,
            reverted: HashMap::new(),
        }
    }

    fn commit(&self, i: usize) -> &'a Commit {
        &self.snapshot.commits[i]
    }

    fn sha(&self, i: usize) -> &'a str {
        short(&self.snapshot.commits[i].sha)
    }

    /// Short shas for messages, at most [`LISTED_COMMITS`] of them.
    fn shas(&self, commits: &[usize]) -> String {
        let list: Vec<&str> = commits
            .iter()
            .take(LISTED_COMMITS)
            .map(|&c| self.sha(c))
            .collect();
        let mut out = list.join(", ");
        if commits.len() > LISTED_COMMITS {
            let _ = write!(out, " and {} more", commits.len() - LISTED_COMMITS);
        }
        out
    }

    fn column(&self, ci: usize) -> &'a Column {
        &self.signals.columns[ci]
    }

    fn cell(&self, ci: usize, commit: usize, fp: FpId) -> Cell {
        Cell::of(self.column(ci).events_on(commit), fp)
    }

    /// One signal: the walk, then the guards, then the verdict.
    fn examine(&mut self, ci: usize, fp: FpId) -> Option<Finding> {
        let column = self.column(ci);
        let n = self.snapshot.commits.len();
        // Events are sorted by commit, newest first.
        let top = column.events.iter().find(|e| e.fails_with(fp))?.commit;
        let mut failing = vec![top];
        let mut gap: Vec<(usize, CellKind)> = Vec::new();
        let mut older = None;
        for c in top + 1..n {
            match self.cell(ci, c, fp).kind() {
                CellKind::Fail => {
                    failing.push(c);
                    gap.clear();
                }
                CellKind::Pass => {
                    older = Some(c);
                    break;
                }
                kind => gap.push((c, kind)),
            }
        }
        // No older success in the window, or the nearest older commit that
        // ran the job failed differently: nothing to say about a suspect.
        let older = older?;
        if gap.iter().any(|(_, k)| *k == CellKind::Other) {
            return None;
        }
        let suspect = *failing.last()?;
        let mut finding = Finding {
            column: ci,
            fp,
            suspect,
            older_success: older,
            failing,
            gap: gap.iter().map(|(c, _)| *c).collect(),
            verdict: Verdict::Ineligible,
            reason: String::new(),
            restarts: Vec::new(),
            rate: None,
        };
        if let Some(why) = self.guard(&finding, top) {
            finding.reason = why;
            return Some(finding);
        }
        if !gap.is_empty() {
            self.cover_gap(&mut finding, &gap);
            return Some(finding);
        }
        if finding.failing.len() < 2 {
            // One failing commit right above a passing one: wait for the next.
            return None;
        }
        if finding.failing.len() < self.params.min_failures {
            finding.reason = format!(
                "{} failing commits; `min-failures` is {}",
                finding.failing.len(),
                self.params.min_failures
            );
            return Some(finding);
        }
        let successes = self.successes_below(ci, fp, older);
        if successes < self.params.min_successes {
            finding.reason = format!(
                "{successes} passing commit(s) below the suspect; `min-successes` is {}",
                self.params.min_successes
            );
            return Some(finding);
        }
        self.confirm(&mut finding);
        Some(finding)
    }

    /// The reasons not to trust this signal at all.
    fn guard(&mut self, f: &Finding, top: usize) -> Option<String> {
        let column = self.column(f.column);
        let name = signal_name(column);
        // Flaky: one job (the same shard) failed this way and passed on one
        // commit, in two attempts or runs.
        if let Some((c, restarted)) = self.flaky(column, f.fp) {
            return Some(format!(
                "flaky: {name} both failed and passed on {}{}",
                self.sha(c),
                if restarted { " (a restart passed)" } else { "" }
            ));
        }
        if let Some(why) = self.infrastructure(f) {
            return Some(why);
        }
        if let Some(c) = (0..top).find(|&c| self.cell(f.column, c, f.fp).kind() == CellKind::Pass) {
            return Some(format!(
                "recovered: {name} passes again on newer commit {}",
                self.sha(c)
            ));
        }
        if let Some(r) = self.reverted_by(f.suspect) {
            return Some(format!(
                "already reverted by {} ({})",
                self.sha(r),
                self.commit(r).title()
            ));
        }
        None
    }

    /// The newest commit where one job of the column failed with `fp` and
    /// also passed, and whether the pass was a restart.
    fn flaky(&self, column: &Column, fp: FpId) -> Option<(usize, bool)> {
        let text = self.signals.fingerprint(fp);
        let mut i = 0;
        while i < column.events.len() {
            let commit = column.events[i].commit;
            let end = i + column.events[i..]
                .iter()
                .take_while(|e| e.commit == commit)
                .count();
            let events = &column.events[i..end];
            i = end;
            if !events.iter().any(|e| e.fails_with(fp)) {
                continue;
            }
            let mut failed: HashSet<&str> = HashSet::new();
            let mut passed: HashMap<&str, bool> = HashMap::new();
            for e in events {
                for &j in &e.jobs {
                    let Some(job) = self.snapshot.jobs.get(j) else {
                        continue;
                    };
                    match job.outcome() {
                        Some(Outcome::Failure)
                            if job.fingerprint.as_deref().filter(|f| !f.is_empty()) == text =>
                        {
                            failed.insert(job.name.as_str());
                        }
                        Some(Outcome::Success) => {
                            *passed.entry(job.name.as_str()).or_default() |= e.restart;
                        }
                        _ => {}
                    }
                }
            }
            let both: Vec<bool> = failed
                .iter()
                .filter_map(|n| passed.get(n).copied())
                .collect();
            if !both.is_empty() {
                return Some((commit, both.contains(&true)));
            }
        }
        None
    }

    /// The same failure where the suspect cannot have caused it.
    fn infrastructure(&self, f: &Finding) -> Option<String> {
        let landed = self.commit(f.suspect).time;
        let place = |ci: usize| {
            if ci == f.column {
                "the same job".to_string()
            } else {
                signal_name(self.column(ci))
            }
        };
        let own: Vec<Seen>;
        let seen: &[Seen] = if f.fp == UNCLASSIFIED {
            // Unexplained failures are only alike within one job.
            own = self
                .column(f.column)
                .events
                .iter()
                .filter(|e| e.fails_with(UNCLASSIFIED))
                .map(|e| (f.column, e.commit, e.started_at))
                .collect();
            &own
        } else {
            // Most signals are clear at a glance: nothing older, nothing early.
            if let Some(&(oldest, earliest)) = self.spans.get(&f.fp)
                && oldest <= f.suspect
                && earliest.is_none_or(|t| t >= landed)
            {
                return None;
            }
            self.failures.get(&f.fp).map_or(&[], Vec::as_slice)
        };
        // Commits above the suspect are newer: they all contain it.
        if let Some(&(ci, commit, _)) = seen.iter().find(|(_, commit, _)| *commit > f.suspect) {
            return Some(format!(
                "infrastructure or older cause: the same failure hit {} on {}, which is older than the suspect {}",
                place(ci),
                self.sha(commit),
                self.sha(f.suspect)
            ));
        }
        if let Some(&(ci, commit, Some(at))) = seen
            .iter()
            .find(|(_, _, started)| started.is_some_and(|s| s < landed))
        {
            return Some(format!(
                "infrastructure: the same failure hit {} on {} at {}, before the suspect {} landed",
                place(ci),
                self.sha(commit),
                at.to_rfc3339(),
                self.sha(f.suspect)
            ));
        }
        None
    }

    /// The newer commit that reverts `suspect`, if any (memoised).
    fn reverted_by(&mut self, suspect: usize) -> Option<usize> {
        if let Some(r) = self.reverted.get(&suspect) {
            return *r;
        }
        let target = self.commit(suspect);
        let found = (0..suspect).rev().find(|&c| {
            reverts(
                &self.commit(c).message,
                target,
                &self.params.revert_patterns,
            )
        });
        self.reverted.insert(suspect, found);
        found
    }

    /// Passing commits from the older success down, up to the next failure.
    fn successes_below(&self, ci: usize, fp: FpId, older: usize) -> usize {
        let mut count = 0;
        for c in older..self.snapshot.commits.len() {
            match self.cell(ci, c, fp).kind() {
                CellKind::Pass => count += 1,
                CellKind::Missing | CellKind::Pending => {}
                CellKind::Fail | CellKind::Other => break,
            }
        }
        count
    }

    fn restart_now(&self, workflow: &str, commit: usize) -> RestartNow {
        let state = self.restarts.get(&(workflow, commit));
        let Some(state) = state else {
            return if self.params.max_restarts == 0 {
                RestartNow::Exhausted(0)
            } else {
                RestartNow::Go
            };
        };
        if state.running() {
            return RestartNow::Wait(format!(
                "{workflow} is still running on {}",
                self.sha(commit)
            ));
        }
        let count = state.runs.len().max(state.requested);
        if count >= self.params.max_restarts as usize {
            return RestartNow::Exhausted(count);
        }
        if let Some(last) = state.last {
            let next = last + self.params.backoff;
            if self.snapshot.now < next {
                return RestartNow::Wait(format!(
                    "{workflow} was restarted on {} at {}; the next restart is due after {}",
                    self.sha(commit),
                    last.to_rfc3339(),
                    next.to_rfc3339()
                ));
            }
        }
        RestartNow::Go
    }

    /// Restarts to add to a round still on its way when the evidence now
    /// asks for `want` samples of `commit`: the runs on their way count
    /// towards them, so a second failure that calls for a batch need not
    /// wait a whole round for the first run to finish. `None` when the
    /// runs on their way suffice, when a push run is what is running, or
    /// when `max-restarts` is spent.
    fn top_up(&self, workflow: &str, commit: usize, want: u32) -> Option<u32> {
        let state = self.restarts.get(&(workflow, commit))?;
        let on_the_way = state.on_the_way();
        if state.push_running || on_the_way == 0 {
            return None;
        }
        let more = (want as usize).saturating_sub(on_the_way);
        let more = u32::try_from(more)
            .ok()?
            .min(self.restarts_left(workflow, commit));
        (more > 0).then_some(more)
    }

    /// Unknown commits between the suspect and the older success: bisected,
    /// one restart per round (see [`bisect`]), after any result on its way.
    fn cover_gap(&self, f: &mut Finding, gap: &[(usize, CellKind)]) {
        let workflow = self.column(f.column).workflow.clone();
        // A result on its way is waited for; the rest were never run.
        let mut waiting = Vec::new();
        let mut untested = Vec::new();
        for &(c, kind) in gap {
            if kind == CellKind::Pending {
                waiting.push(c);
            } else {
                untested.push(c);
            }
        }
        let mut reason = format!(
            "unknown: no result yet on {} between the suspect {} and {} (passing)",
            self.shas(&f.gap),
            self.sha(f.suspect),
            self.sha(f.older_success)
        );
        let mut restart = Vec::new();
        let mut chosen = None;
        let mut stuck = Vec::new();
        // A result on its way may settle half the run: wait for it.
        if waiting.is_empty() {
            for split in bisect::by_worth(&untested) {
                match self.restart_now(&workflow, split.commit) {
                    RestartNow::Go => {
                        chosen = Some(split);
                        break;
                    }
                    RestartNow::Wait(_) => {
                        waiting.push(split.commit);
                        break;
                    }
                    RestartNow::Exhausted(_) => stuck.push(split.commit),
                }
            }
        }
        if let Some(split) = chosen {
            let c = split.commit;
            restart.push(c);
            let _ = write!(
                reason,
                "; restarting {workflow} on {} ({})",
                self.sha(c),
                self.bisecting(untested.len(), split, f.suspect, f.older_success)
            );
            // A revert needs a fresh pass below the culprit too: when the
            // run reaches the oldest untested commit, the commit below it
            // runs with it, once, so that the round that finds the culprit
            // can also confirm it.
            let below = f.older_success;
            let fresh_below = self
                .restarts
                .get(&(workflow.as_str(), below))
                .is_none_or(|r| r.runs.is_empty() && r.requested == 0 && !r.running());
            if untested.last() == Some(&c)
                && fresh_below
                && matches!(self.restart_now(&workflow, below), RestartNow::Go)
            {
                restart.push(below);
                let _ = write!(
                    reason,
                    "; and on {} once (a fresh pass below {} confirms it as the culprit if it fails)",
                    self.sha(below),
                    self.sha(c)
                );
            }
        }
        if !waiting.is_empty() {
            let _ = write!(reason, "; waiting for {}", self.shas(&waiting));
        }
        if restart.is_empty() && waiting.is_empty() {
            f.verdict = Verdict::Ineligible;
            let _ = write!(
                reason,
                "; restarts ({} allowed per commit) gave no result on {}",
                self.params.max_restarts,
                self.shas(&stuck)
            );
        } else {
            f.verdict = Verdict::Restart;
        }
        f.reason = reason;
        f.restarts = restart;
    }

    /// Why a run of `split`, one of `untested` commits between the failing
    /// `above` and the passing `below`, is worth it.
    fn bisecting(
        &self,
        untested: usize,
        split: bisect::Split,
        above: usize,
        below: usize,
    ) -> String {
        format!(
            "bisecting {untested} commit(s) no CI tested between the failing {} and the passing {}: a failure rules out {} newer candidate(s), a pass {}",
            self.sha(above),
            self.sha(below),
            split.newer,
            split.older,
        )
    }

    /// A pattern with enough evidence: has a restart of the suspect failed
    /// again the same way?
    fn confirm(&self, f: &mut Finding) {
        let column = self.column(f.column);
        let workflow = column.workflow.as_str();
        let base = format!(
            "{} failing commits ({}) above {} (passing)",
            f.failing.len(),
            self.shas(&f.failing),
            self.sha(f.older_success)
        );
        let failures_on_suspect: Vec<&Event> = column
            .events_on(f.suspect)
            .iter()
            .filter(|e| e.fails_with(f.fp))
            .collect();
        // A restart failing again, on top of another failure of the suspect
        // (a suspect found by restarting a ghstack gap needs two restarts).
        let confirmed =
            failures_on_suspect.iter().any(|e| e.restart) && failures_on_suspect.len() >= 2;
        if confirmed {
            let first_failure = failures_on_suspect
                .iter()
                .filter_map(|e| e.started_at)
                .min();
            let broad = self.broad(f);
            let sandwiched = column.events_on(f.older_success).iter().any(|e| {
                e.outcome == Outcome::Success
                    && e.started_at
                        .is_some_and(|s| first_failure.is_some_and(|t| s > t))
            });
            if broad >= BROAD_JOBS && !sandwiched {
                // Many jobs failing the same way may be an outage that began
                // with the suspect: the older commit must pass again after
                // the suspect failed.
                let older = f.older_success;
                let why = format!(
                    "{base}; the same failure hit {broad} jobs on the suspect, so {} must pass again after it failed before a revert",
                    self.sha(older)
                );
                match self.restart_now(workflow, older) {
                    RestartNow::Go => {
                        f.verdict = Verdict::Restart;
                        f.reason = format!("{why}: restarting {workflow} on {}", self.sha(older));
                        f.restarts = vec![older];
                    }
                    RestartNow::Wait(wait) => {
                        f.verdict = Verdict::Restart;
                        f.reason = format!("{why}: waiting ({wait})");
                    }
                    RestartNow::Exhausted(n) => {
                        f.verdict = Verdict::Notify;
                        f.reason = format!(
                            "{why}, and {n} restart(s) of {workflow} on {} did not show it: a person should look",
                            self.sha(older)
                        );
                    }
                }
                return;
            }
            f.verdict = Verdict::Revert;
            f.reason = format!(
                "confirmed: {base}, and a restart of {workflow} on the suspect {} failed again the same way",
                self.sha(f.suspect)
            );
            return;
        }
        match self.restart_now(workflow, f.suspect) {
            RestartNow::Go => {
                f.verdict = Verdict::Restart;
                f.reason = format!(
                    "{base}; restarting {workflow} on the suspect {} to confirm before acting",
                    self.sha(f.suspect)
                );
                f.restarts = vec![f.suspect];
            }
            RestartNow::Wait(why) => {
                f.verdict = Verdict::Restart;
                f.reason = format!("{base}; waiting to confirm: {why}");
            }
            RestartNow::Exhausted(n) => {
                f.verdict = Verdict::Notify;
                f.reason = format!(
                    "{base}, but {n} restart(s) of {workflow} on the suspect {} (`max-restarts`: {}) did not reproduce it: a person should look",
                    self.sha(f.suspect),
                    self.params.max_restarts
                );
            }
        }
    }

    /// How many jobs (columns) fail with the finding's fingerprint on its
    /// suspect; unexplained failures count only their own job.
    fn broad(&self, f: &Finding) -> usize {
        if f.fp == UNCLASSIFIED {
            return 1;
        }
        self.failures
            .get(&f.fp)
            .map(|seen| {
                seen.iter()
                    .filter(|(_, commit, _)| *commit == f.suspect)
                    .map(|(ci, _, _)| *ci)
                    .collect::<BTreeSet<usize>>()
                    .len()
            })
            .unwrap_or(0)
    }

    /// Findings into patterns (by suspect) and the restarts wanted.
    fn assemble(&mut self, findings: Vec<Finding>) -> Detection {
        let mut by_suspect: BTreeMap<usize, Vec<Finding>> = BTreeMap::new();
        let mut unknown = Vec::new();
        for f in findings {
            if f.failing.len() >= 2 || (f.rate.is_some() && f.verdict != Verdict::Ineligible) {
                by_suspect.entry(f.suspect).or_default().push(f);
            } else if f.verdict == Verdict::Restart {
                unknown.push(f);
            }
        }
        let mut patterns = Vec::new();
        for (suspect, mut findings) in by_suspect {
            findings.sort_by(|a, b| {
                let (ca, cb) = (self.column(a.column), self.column(b.column));
                (&ca.workflow, &ca.job, a.fp).cmp(&(&cb.workflow, &cb.job, b.fp))
            });
            let reverted_by = self.reverted_by(suspect);
            let best = findings
                .iter()
                .map(|f| f.verdict)
                .max()
                .unwrap_or(Verdict::Ineligible);
            let leading: Vec<&Finding> = findings.iter().filter(|f| f.verdict == best).collect();
            let older_success = leading
                .iter()
                .map(|f| f.older_success)
                .min()
                .unwrap_or(suspect);
            let newer: BTreeSet<usize> = leading
                .iter()
                .flat_map(|f| f.failing.iter().copied())
                .filter(|&c| c != suspect)
                .collect();
            let workflows: BTreeSet<String> = findings
                .iter()
                .map(|f| self.column(f.column).workflow.clone())
                .collect();
            let (verdict, reason) = match reverted_by {
                Some(r) => (
                    Verdict::Ineligible,
                    format!(
                        "already reverted by {} ({})",
                        self.sha(r),
                        self.commit(r).title()
                    ),
                ),
                None => {
                    let mut reason = leading
                        .first()
                        .map(|f| format!("{}: {}", signal_name(self.column(f.column)), f.reason))
                        .unwrap_or_default();
                    if findings.len() > 1 {
                        let _ = write!(reason, " ({} signals)", findings.len());
                    }
                    (best, reason)
                }
            };
            patterns.push(Pattern {
                suspect,
                older_success,
                newer_failures: newer.into_iter().collect(),
                workflows: workflows.into_iter().collect(),
                findings,
                reverted_by,
                verdict,
                reason,
            });
        }

        // Each restart with the weight of the evidence that asked for it:
        // a pattern of failing commits or a gap under a failure (a break
        // that fails every time) first, then by the rate test's `Λ`, so
        // that a streak of flakes is what the budget puts off.
        let mut restarts: Vec<(usize, f64, Restart)> = Vec::new();
        let weight = |f: &Finding| {
            f.rate
                .as_ref()
                .filter(|_| f.failing.len() < 2 || f.verdict != Verdict::Restart)
                .map_or(f64::INFINITY, |r| r.statistic)
        };
        // Runs of each (workflow, commit) wanted so far: a finding may ask
        // for several at once (its commit listed as often), and findings
        // sharing a commit share its runs.
        let mut seen: HashMap<(String, usize), usize> = HashMap::new();
        let mut want = |workflow: &str, wanted: &[usize], reason: &str, weight: f64| {
            let mut asked: HashMap<usize, usize> = HashMap::new();
            let mut rank = 0;
            for &commit in wanted {
                let n = asked.entry(commit).or_default();
                *n += 1;
                let have = seen.entry((workflow.to_string(), commit)).or_default();
                if *n > *have {
                    *have += 1;
                    restarts.push((
                        rank,
                        weight,
                        Restart {
                            workflow: workflow.to_string(),
                            commit,
                            reason: reason.to_string(),
                        },
                    ));
                    rank += 1;
                }
            }
        };
        for p in &patterns {
            if p.verdict != Verdict::Restart {
                continue;
            }
            for f in p.findings.iter().filter(|f| f.verdict == Verdict::Restart) {
                want(
                    &self.signals.columns[f.column].workflow,
                    &f.restarts,
                    &f.reason,
                    weight(f),
                );
            }
        }
        let settled: HashSet<usize> = patterns
            .iter()
            .filter(|p| p.verdict != Verdict::Restart)
            .map(|p| p.suspect)
            .collect();
        unknown.retain(|f| !settled.contains(&f.suspect));
        for f in &unknown {
            want(
                &self.signals.columns[f.column].workflow,
                &f.restarts,
                &f.reason,
                f64::INFINITY,
            );
        }
        // The budget: every signal's first restart before any signal's
        // second (a batch of one cannot eat a tick's budget), then the
        // strongest evidence first; patterns before gaps at equal weight
        // (they are nearer a verdict), in order.
        restarts.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
        let mut left = self.restart_budget();
        let (mut kept, mut deferred) = (Vec::new(), Vec::new());
        for (_, weight, r) in restarts {
            // Weak evidence, most often a streak of flakes.
            let tier = usize::from(weight < LIKELY_LN);
            if left[tier] > 0 {
                for l in &mut left {
                    *l = l.saturating_sub(1);
                }
                kept.push(r);
            } else {
                deferred.push(r);
            }
        }
        let mut restarts = kept;
        if !deferred.is_empty() {
            let why = format!(
                "over the restart budget (`max-restarts-per-tick` {}, `max-restarts-per-day` {}, {} used in the last 24 hours; the day's last quarter is kept for evidence at Λ ≥ ln 100)",
                self.params.max_restarts_per_tick,
                self.params.max_restarts_per_day,
                self.restarts_last_day()
            );
            for r in &mut deferred {
                r.reason = format!("{}; put off: {why}", r.reason);
            }
        }
        restarts.sort_by(|a, b| (a.commit, &a.workflow).cmp(&(b.commit, &b.workflow)));
        Detection {
            patterns,
            unknown,
            restarts,
            deferred,
        }
    }
}

impl Detector<'_> {
    /// Restarts dispatched in the 24 hours before the snapshot: the
    /// recorded requests or the restart runs seen, whichever says more.
    fn restarts_last_day(&self) -> usize {
        let since = self.snapshot.now - Duration::hours(24);
        let requested = self
            .snapshot
            .restart_requests
            .iter()
            .filter(|r| r.at >= since)
            .count();
        let runs: BTreeSet<u64> = self
            .snapshot
            .jobs
            .iter()
            .filter(|j| j.is_restart() && j.started_at.is_some_and(|t| t >= since))
            .map(|j| j.run_id)
            .collect();
        requested.max(runs.len())
    }

    /// Restarts this run may still dispatch: for evidence of a break, and
    /// for weak evidence (a `Λ` below ln 100, most often a streak of
    /// flakes), which may not use the last quarter of the day's budget, so
    /// that flakes earlier in the day do not starve a break that comes
    /// later.
    fn restart_budget(&self) -> [usize; 2] {
        let per_day = self.params.max_restarts_per_day as usize;
        let day = per_day.saturating_sub(self.restarts_last_day());
        let tick = self.params.max_restarts_per_tick as usize;
        [0, per_day / 4].map(|kept| day.saturating_sub(kept).min(tick))
    }

    /// Samples of a signal per commit (index 0 the newest): each run
    /// attempt that failed with `fp` or passed.
    fn counts(&self, ci: usize, fp: FpId) -> Vec<Counts> {
        let mut counts = vec![Counts::default(); self.snapshot.commits.len()];
        for e in &self.column(ci).events {
            let Some(c) = counts.get_mut(e.commit) else {
                continue;
            };
            if e.fails_with(fp) {
                c.fail += 1;
            } else if e.outcome == Outcome::Success {
                c.pass += 1;
            }
        }
        counts
    }

    /// The pattern's finding and the rate test's, made one.
    fn combine(&mut self, ci: usize, fp: FpId, pattern: Option<Finding>) -> Option<Finding> {
        // A failure shared with other jobs is an outage or infrastructure
        // until the pattern's guards say otherwise: the rate of one job
        // does not speak for it.
        let shared = fp != UNCLASSIFIED
            && self
                .failures
                .get(&fp)
                .is_some_and(|seen| seen.iter().any(|(c, _, _)| *c != ci));
        if shared {
            return pattern;
        }
        let counts = self.counts(ci, fp);
        let Some(test) = rate::test(&counts) else {
            return pattern;
        };
        match pattern {
            Some(mut p) if p.verdict == Verdict::Revert => {
                // Confirmed by a failing restart; but when the signal has a
                // flake history to judge by, a break that sometimes passes
                // may have started below the suspect: place it first.
                let margin = test.margin_of(p.suspect);
                if test.before.samples() < rate::MIN_HISTORY || margin >= LOCALIZE_LN {
                    p.rate = Some(test);
                    return Some(p);
                }
                let why = format!(
                    "a restart confirmed the failure on {}, but its margin over the other commits is {margin:.2} (needs {LOCALIZE_LN:.2})",
                    self.sha(p.suspect)
                );
                match self.examine_rate(ci, fp, &counts, test) {
                    Some(mut r) if r.verdict == Verdict::Revert => {
                        r.reason = format!("{}; {why}", r.reason);
                        Some(r)
                    }
                    Some(mut r) if r.verdict == Verdict::Restart => {
                        r.reason = format!("{why}; {}", r.reason);
                        Some(r)
                    }
                    other => {
                        p.verdict = Verdict::Notify;
                        p.reason = format!("{}; {why}", p.reason);
                        p.rate = other.and_then(|o| o.rate);
                        Some(p)
                    }
                }
            }
            Some(mut p) if p.verdict != Verdict::Ineligible => {
                match self.examine_rate(ci, fp, &counts, test) {
                    Some(r) if r.verdict == Verdict::Revert => Some(r),
                    Some(r) => {
                        // Sooner: the parent is restarted with the suspect.
                        // The rate may ask for a commit more than once in a
                        // round (samples of a rare failure): keep its count.
                        if p.verdict == Verdict::Restart && r.verdict == Verdict::Restart {
                            for &c in &r.restarts {
                                let asked = r.restarts.iter().filter(|&&x| x == c).count();
                                let have = p.restarts.iter().filter(|&&x| x == c).count();
                                if have < asked {
                                    p.restarts.push(c);
                                }
                            }
                            // Each restart says why it is worth it.
                            p.reason = format!("{}; {}", p.reason, r.reason);
                        }
                        p.rate = r.rate;
                        Some(p)
                    }
                    None => Some(p),
                }
            }
            other => self.examine_rate(ci, fp, &counts, test).or(other),
        }
    }

    /// The rate's verdict on one signal: revert, restart for more samples,
    /// or nothing worth a look.
    fn examine_rate(
        &mut self,
        ci: usize,
        fp: FpId,
        counts: &[Counts],
        test: RateTest,
    ) -> Option<Finding> {
        if !test.worth_a_look() {
            return None;
        }
        let s = test.suspect;
        let mut failing: Vec<usize> = (0..=s)
            .filter(|&c| counts.get(c).is_some_and(|n| n.fail > 0))
            .collect();
        if failing.last() != Some(&s) {
            failing.push(s);
        }
        let older_success = (s + 1..counts.len())
            .find(|&c| counts[c].pass > 0)
            .unwrap_or(s);
        let gap = (s + 1..older_success)
            .filter(|&c| counts[c].samples() == 0)
            .collect();
        let workflow = self.column(ci).workflow.clone();
        let mut f = Finding {
            column: ci,
            fp,
            suspect: s,
            older_success,
            failing,
            gap,
            verdict: Verdict::Ineligible,
            reason: String::new(),
            restarts: Vec::new(),
            rate: None,
        };
        if let Some(r) = self.reverted_by(s) {
            f.reason = format!(
                "already reverted by {} ({})",
                self.sha(r),
                self.commit(r).title()
            );
            f.rate = Some(test);
            return Some(f);
        }
        let column = self.column(ci);
        let restarted = |c: usize, failed: bool| {
            column.events_on(c).iter().any(|e| {
                e.restart
                    && if failed {
                        e.fails_with(fp)
                    } else {
                        e.outcome == Outcome::Success
                    }
            })
        };
        // What to restart, how many times at once, and why it is worth it.
        let mut want: Vec<(usize, u32, String)> = Vec::new();
        if test.decides() {
            // A revert also needs fresh runs on both sides: a restart of the
            // suspect that failed and one of the commit below that passed.
            let confirmed = restarted(s, true) && restarted(older_success, false);
            if confirmed {
                f.verdict = Verdict::Revert;
                f.reason = format!(
                    "rate: {test}: {} broke it, and no other commit explains the failures; restarts of it failed and of the commit below passed",
                    self.sha(s)
                );
                f.rate = Some(test);
                return Some(f);
            }
            if !restarted(s, true) {
                want.push(confirm_suspect(
                    &test,
                    "the rate is decisive, but a revert needs",
                ));
            }
            if !restarted(older_success, false) {
                want.push((
                    older_success,
                    1,
                    "the rate is decisive, but a revert needs a passing restart of the commit below".into(),
                ));
            }
        } else {
            // Runs of the job on their way on the suspect's side: samples
            // the restarts' results will meet.
            let expected = self
                .column(ci)
                .events
                .iter()
                .filter(|e| e.commit <= s && e.outcome == Outcome::Pending)
                .count();
            let to_come = rate::ToCome {
                after: u32::try_from(expected).unwrap_or(u32::MAX),
                suspect_fails: u32::from(!restarted(s, true)),
            };
            self.plan_samples(&workflow, &test, counts, to_come, &mut want);
            // Only the place is in doubt and the commits around it are
            // being restarted: the revert will need a failing restart of
            // the suspect too, so it runs in the same round rather than in
            // one of its own after the place is settled.
            if test.statistic >= BREAK_LN
                && !restarted(s, true)
                && want.iter().all(|w| w.0 != s)
                && want.iter().any(|w| w.1 > 0)
            {
                want.push(confirm_suspect(&test, "a revert will need"));
            }
        }
        let (mut go, mut waiting, mut spent) = (Vec::new(), Vec::new(), Vec::new());
        let mut notes = Vec::new();
        for (c, n, why) in want {
            if n == 0 {
                notes.push(why);
                continue;
            }
            match self.restart_now(&workflow, c) {
                RestartNow::Go => {
                    let n = n.clamp(1, self.restarts_left(&workflow, c));
                    go.push((c, n, why));
                }
                RestartNow::Wait(w) => match self.top_up(&workflow, c, n) {
                    Some(more) => {
                        go.push((c, more, format!("{why}; with the run(s) on their way")))
                    }
                    None => waiting.push(w),
                },
                RestartNow::Exhausted(_) => spent.push(c),
            }
        }
        let mut reason = format!("rate: {test}");
        for n in &notes {
            let _ = write!(reason, "; {n}");
        }
        if go.is_empty() && waiting.is_empty() {
            if test.decides() {
                f.verdict = Verdict::Notify;
                let _ = write!(
                    reason,
                    ": {} broke it, and no other commit explains the failures; no restart of it failed and of the commit below passed (`max-restarts` {} per commit): a person should look",
                    self.sha(s),
                    self.params.max_restarts
                );
            } else if spent.is_empty() {
                let _ = write!(
                    reason,
                    "; no restart would settle it within `max-restarts` ({} per commit): inconclusive",
                    self.params.max_restarts
                );
            } else {
                let _ = write!(
                    reason,
                    "; restarts (`max-restarts` {} per commit) are spent: inconclusive",
                    self.params.max_restarts
                );
            }
        } else {
            f.verdict = Verdict::Restart;
            for (c, n, why) in &go {
                let _ = write!(
                    reason,
                    "; restarting {workflow} on {}{} ({why})",
                    self.sha(*c),
                    if *n > 1 {
                        format!(" {n} times")
                    } else {
                        String::new()
                    }
                );
            }
            for w in &waiting {
                let _ = write!(reason, "; waiting: {w}");
            }
        }
        f.reason = reason;
        f.restarts = go
            .into_iter()
            .flat_map(|(c, n, _)| std::iter::repeat_n(c, n as usize))
            .collect();
        f.rate = Some(test);
        Some(f)
    }
}

/// The restarts of the suspect that a revert's confirmation needs, each
/// failing at the break's rate, with why (`lead` opens the reason).
fn confirm_suspect(test: &RateTest, lead: &str) -> (usize, u32, String) {
    let n = confirm_batch(test.break_rate());
    let why = format!(
        "{lead} a failing restart of the suspect ({n} at a failure rate of {:.0}%)",
        test.break_rate() * 100.0
    );
    (test.suspect, n, why)
}

/// Restarts of the suspect that make a failing one likely (90%) at the
/// break's failure rate `q`, at most 3.
fn confirm_batch(q: f64) -> u32 {
    if q >= 0.9 {
        return 1;
    }
    let n = (0.1f64.ln() / (1.0 - q).ln()).ceil();
    if n.is_finite() {
        n.clamp(1.0, 3.0) as u32
    } else {
        1
    }
}

impl Detector<'_> {
    /// Restarts of `workflow` on `commit` that `max-restarts` still allows.
    fn restarts_left(&self, workflow: &str, commit: usize) -> u32 {
        let used = self
            .restarts
            .get(&(workflow, commit))
            .map_or(0, |s| s.runs.len().max(s.requested));
        u32::try_from((self.params.max_restarts as usize).saturating_sub(used)).unwrap_or(0)
    }

    /// The restarts that would move an undecided rate test most, each with
    /// how many runs at once and why: the suspect while `Λ` is short (as
    /// many samples as the break's rate says are needed), and while the
    /// margin is short the commit that best tells the plausible culprits
    /// apart (the middle of an untested run, or the suspect against newer
    /// commits, or the nearest older candidate against it). A commit whose
    /// restarts could not close the gap within `max-restarts`, or a break
    /// two thirds of them could not place, is not restarted at all (`n` 0:
    /// only the reason is kept).
    fn plan_samples(
        &self,
        workflow: &str,
        test: &RateTest,
        counts: &[Counts],
        to_come: rate::ToCome,
        want: &mut Vec<(usize, u32, String)>,
    ) {
        let s = test.suspect;
        let mut add = |c: usize, n: u32, why: String| match want.iter_mut().find(|w| w.0 == c) {
            Some(w) if n > w.1 => *w = (c, n, why),
            Some(_) => {}
            None => want.push((c, n, why)),
        };
        let untested = |c: usize| counts.get(c).is_some_and(|n| n.samples() == 0);
        // A break failing this rarely could not be placed within two thirds
        // of `max-restarts` runs of its parent: no revert would likely come
        // of the restarts, whatever they showed. The last third is for the
        // luck of the draw (a flake of the parent takes back one to four
        // passes' worth, and the break's own passes lower its rate): hunts
        // that needed all of it were the ones that ended short.
        let runs = u32::try_from((u64::from(self.params.max_restarts) * 2).div_ceil(3))
            .unwrap_or(u32::MAX);
        if !untested(s) && !test.placeable(runs) {
            add(
                s,
                0,
                format!(
                    "at a failure rate of {:.0}% on the suspect and after, even {runs} runs of its parent (two thirds of `max-restarts` {}) could not place the break",
                    test.break_rate() * 100.0,
                    self.params.max_restarts
                ),
            );
            return;
        }
        // One failure is most often a flake: one run of the suspect tells,
        // before a batch is paid for.
        let batch = if test.after.fail <= 1 {
            1
        } else {
            SUSPECT_BATCH
        };
        if test.statistic < BREAK_LN {
            let gain = test.gain_per_suspect_sample();
            if let Some(n) = RateTest::samples_for(BREAK_LN - test.statistic, gain) {
                add(
                    s,
                    n.min(batch),
                    format!(
                        "Λ is {:.2} short: about {n} more sample(s) of the suspect at {gain:.2} each",
                        BREAK_LN - test.statistic
                    ),
                );
            }
        }
        if test.margin >= LOCALIZE_LN {
            return;
        }
        // An untested suspect ties with the untested commits above it (a
        // stacked push where only the head ran): bisect that run.
        if untested(s) {
            // Newest first, as `bisect` takes a run.
            let mut run: Vec<usize> = (0..=s).rev().take_while(|&c| untested(c)).collect();
            run.reverse();
            let Some(split) = bisect::split(&run) else {
                return;
            };
            add(
                split.commit,
                1,
                format!(
                    "the middle of {} commit(s) no CI tested (bisecting)",
                    run.len()
                ),
            );
            // Once a break is likely, the tested commit below the run runs
            // in the same round: the bisection finds the culprit, and the
            // passes below it are what place the break there.
            let below = s + 1;
            if test.statistic >= LIKELY_LN
                && counts.get(below).is_some_and(|n| n.samples() > 0)
                && test.carries_break(below) < SPLIT_WORTH / 2.0
            {
                add(
                    below,
                    1,
                    format!(
                        "{} is the tested commit below the run: its passes place the break above it",
                        self.sha(below)
                    ),
                );
            }
            return;
        }
        let deficit = LOCALIZE_LN - test.margin;
        // The competitor: newer commits compete when the suspect's own
        // failures are few (restart the suspect), older ones when its
        // parent's passes are (restart the nearest older candidate).
        if test.runner_up().is_some_and(|r| r < s) {
            let gain = test.gain_per_suspect_sample();
            if let Some(n) = RateTest::samples_for(deficit, gain) {
                add(
                    s,
                    n.min(SUSPECT_BATCH),
                    format!(
                        "the margin is {deficit:.2} short against newer commits: about {n} more sample(s) of the suspect"
                    ),
                );
            }
            return;
        }
        // The older commit whose runs split the posterior best: the parent
        // while the suspect holds half of it (its passes clear every older
        // commit at once, an untested run below included), lower when the
        // evidence points lower.
        let Some(c) = test.split_older() else {
            return;
        };
        let gain = test.gain_per_parent_sample();
        let left = self.restarts_left(workflow, c);
        let carries = test.carries_break(c);
        let passes = rate::passes_to_place(
            counts,
            s,
            c,
            to_come,
            test.break_rate(),
            self.params.max_restarts,
        );
        // The exact count, or the expected gain's where that is fewer (it
        // assumes the rate is known) or where the exact count finds none
        // yet (too few samples): whether passes are worth starting on.
        let estimate = RateTest::samples_for(deficit, gain);
        let passes = match (passes, estimate) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match passes {
            // Worth it while all of `max-restarts` could settle it: the runs
            // speak either way (a culprit found below fails them).
            Some(needed) if needed <= self.params.max_restarts && left > 0 => {
                // Several at once only once a break is likely: a streak of
                // flakes gets one.
                let n = if test.statistic < LIKELY_LN {
                    needed.min(batch.min(PARENT_BATCH)).min(left)
                } else {
                    // A spare pass with a commit's first batch, while it
                    // leaves half of `max-restarts`: the round's own
                    // results may lower the break's rate (a pass on the
                    // suspect's side), each pass is then worth less, and
                    // the last one missing would cost a round.
                    let first = left == self.params.max_restarts;
                    let spare = u32::from(first && 2 * (needed + 1) <= self.params.max_restarts);
                    (needed + spare).min(left)
                };
                add(
                    c,
                    n,
                    format!(
                        "the margin is {deficit:.2} short against {}: {needed} pass(es) of it would place the break",
                        self.sha(c)
                    ),
                );
            }
            // Too many passes to clear it, but as likely as not broken
            // itself: its runs fail at the break's rate if so, and move the
            // suspect to it.
            _ if left > 0 && carries >= SPLIT_WORTH && test.statistic >= LIKELY_LN => {
                let n = PARENT_BATCH.min(left);
                add(
                    c,
                    n,
                    format!(
                        "{} carries the break with probability {:.0}%: {n} run(s) of it tell which side it is on (bisecting)",
                        self.sha(c),
                        carries * 100.0
                    ),
                );
            }
            need => add(
                c,
                0,
                format!(
                    "the margin is {deficit:.2} short against {}, and {} pass(es) of it at {gain:.2} each would be needed, {left} restart(s) left",
                    self.sha(c),
                    need.map_or("more".to_string(), |n| n.to_string())
                ),
            ),
        }
    }
}

/// `workflow / job` for messages.
pub fn signal_name(column: &Column) -> String {
    format!("{} / {}", column.workflow, column.job)
}

/// Whether a commit message reverts `target`: `Revert "<title>"`, `This
/// reverts commit <sha>`, or a configured pattern. A configured pattern with
/// a named group `sha` (or `title`) must capture the target's sha (or title);
/// one without must match a message that names the target's short sha.
pub fn reverts(message: &str, target: &Commit, patterns: &[Regex]) -> bool {
    let title = target.title();
    let first = message.lines().next().unwrap_or_default().trim();
    if !title.is_empty() && first.starts_with(&format!("Revert \"{title}\"")) {
        return true;
    }
    let names_sha = |hex: &str| hex.len() >= 7 && target.sha.starts_with(hex);
    for (at, _) in message.match_indices("This reverts commit ") {
        let rest = &message[at + "This reverts commit ".len()..];
        let hex: String = rest.chars().take_while(char::is_ascii_hexdigit).collect();
        if names_sha(&hex) {
            return true;
        }
    }
    for re in patterns {
        let named: Vec<&str> = re.capture_names().flatten().collect();
        for caps in re.captures_iter(message) {
            let sha_ok = caps.name("sha").map(|m| names_sha(m.as_str().trim()));
            let title_ok = caps
                .name("title")
                .map(|m| !title.is_empty() && m.as_str().trim() == title);
            match (sha_ok, title_ok) {
                (Some(true), _) | (_, Some(true)) => return true,
                (None, None)
                    if !named.contains(&"sha")
                        && !named.contains(&"title")
                        && target.sha.len() >= 7
                        && target.sha.get(..7).is_some_and(|s| message.contains(s)) =>
                {
                    return true;
                }
                _ => {}
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(sha: &str, message: &str) -> Commit {
        Commit {
            sha: sha.into(),
            time: Utc::now(),
            message: message.into(),
        }
    }

    #[test]
    fn revert_messages() {
        let target = commit(
            "0123456789abcdef0123456789abcdef01234567",
            "Add the thing (#12)\n\nbody",
        );
        let none: Vec<Regex> = Vec::new();
        assert!(reverts(
            "Revert \"Add the thing (#12)\"\n\nbecause",
            &target,
            &none
        ));
        assert!(reverts(
            "Undo\n\nThis reverts commit 0123456789abcdef0123456789abcdef01234567.",
            &target,
            &none
        ));
        assert!(reverts("x\nThis reverts commit 0123456.", &target, &none));
        assert!(!reverts("x\nThis reverts commit 01234.", &target, &none));
        assert!(!reverts("x\nThis reverts commit 0123457.", &target, &none));
        assert!(!reverts("Revert \"Add the thing\"", &target, &none));
        assert!(!reverts(
            "Revert \"Revert \"Add the thing (#12)\"\"",
            &target,
            &none
        ));
        assert!(!reverts("Add the thing (#12)", &target, &none));

        let with_sha = vec![Regex::new(r"^Back out (?P<sha>[0-9a-f]+)").expect("re")];
        assert!(reverts("Back out 0123456789", &target, &with_sha));
        assert!(!reverts("Back out 0123450000", &target, &with_sha));
        let with_title = vec![Regex::new(r#"^Unland "(?P<title>.*)""#).expect("re")];
        assert!(reverts(
            "Unland \"Add the thing (#12)\"",
            &target,
            &with_title
        ));
        assert!(!reverts("Unland \"Other\"", &target, &with_title));
        let plain = vec![Regex::new(r"^\[revert\]").expect("re")];
        assert!(reverts("[revert] 0123456 broke trunk", &target, &plain));
        assert!(!reverts("[revert] 7654321 broke trunk", &target, &plain));
    }

    #[test]
    fn cells_read_events() {
        let e = |outcome, fps: Vec<FpId>, restart| Event {
            commit: 0,
            run_id: 1,
            run_attempt: 1,
            restart,
            outcome,
            fingerprints: fps,
            started_at: None,
            jobs: Vec::new(),
        };
        assert_eq!(Cell::of(&[], 1).kind(), CellKind::Missing);
        assert_eq!(
            Cell::of(&[e(Outcome::Failure, vec![2], false)], 1).kind(),
            CellKind::Other
        );
        let mixed = Cell::of(
            &[
                e(Outcome::Failure, vec![1, 2], false),
                e(Outcome::Success, vec![], true),
            ],
            1,
        );
        assert!(mixed.fail && mixed.pass && mixed.restart);
        assert_eq!(mixed.kind(), CellKind::Fail);
        assert_eq!(
            Cell::of(&[e(Outcome::Pending, vec![], false)], 1).kind(),
            CellKind::Pending
        );
    }
}
