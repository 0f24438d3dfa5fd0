//! A seeded generator of synthetic snapshots, for tests and the benchmark.
//!
//! The same [`Spec`] always gives the same snapshot. Into a history of
//! passing commits it injects what trunk really sees: breakages (a job
//! failing from one commit on, some reverted later, some confirmed by a
//! failing restart), flaky failures that pass on retry, an outage where every
//! job fails for a while, ghstack pushes where only the head ran CI, and
//! newest commits still running. It returns the culprits a correct detector
//! should want to revert, so tests can measure precision.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::{RESTART_EVENT, restart_branch};
use crate::history::snapshot::{Commit, JobResult, Snapshot};

/// Shards per job (names end in `(default, i, SHARDS)`).
const SHARDS: usize = 4;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    pub seed: u64,
    pub commits: usize,
    pub jobs_per_commit: usize,
    pub workflows: Vec<String>,
    /// Real breakages injected; every other one is reverted later.
    pub breakages: usize,
    /// Chance per job, in thousandths, of a flaky failure that passes on retry.
    pub flaky_per_mille: u32,
    /// Chance per commit, in thousandths, that it ran no CI (inside a push).
    pub ghstack_per_mille: u32,
    /// Newest commits whose jobs are still running.
    pub pending_newest: usize,
    /// Commits (oldest-first positions) during which every job fails with an
    /// infrastructure failure.
    pub outage: Option<(usize, usize)>,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            seed: 1,
            commits: 100,
            jobs_per_commit: 40,
            workflows: vec!["pull".into(), "trunk".into(), "inductor".into()],
            breakages: 3,
            flaky_per_mille: 2,
            ghstack_per_mille: 50,
            pending_newest: 2,
            outage: None,
        }
    }
}

/// A generated snapshot and the truth about it.
#[derive(Debug, Clone)]
pub struct Synthetic {
    pub snapshot: Snapshot,
    /// Shas of the breakages left in trunk and confirmed by a failing
    /// restart (and their parents by passing ones): what a detector should
    /// revert.
    pub culprits: Vec<String>,
    /// Shas of the breakages that were reverted in the history.
    pub reverted: Vec<String>,
}

/// splitmix64: small, fast, and good enough for test data.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    pub fn chance(&mut self, per_mille: u32) -> bool {
        self.below(1000) < u64::from(per_mille)
    }

    pub fn hex(&mut self, len: usize) -> String {
        let mut s = String::with_capacity(len + 16);
        while s.len() < len {
            s.push_str(&format!("{:016x}", self.next_u64()));
        }
        s.truncate(len);
        s
    }
}

struct Breakage {
    culprit: usize,
    /// First commit (oldest-first position) that no longer fails.
    fixed_at: Option<usize>,
    base: usize,
    shard: usize,
    fingerprint: String,
    confirm: bool,
}

/// Generate the snapshot `spec` describes.
pub fn generate(spec: &Spec) -> Synthetic {
    let mut rng = Rng::new(spec.seed);
    let n = spec.commits;
    let start: DateTime<Utc> = Utc
        .with_ymd_and_hms(2024, 5, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let workflows: Vec<String> = if spec.workflows.is_empty() {
        vec!["trunk".into()]
    } else {
        spec.workflows.clone()
    };
    let bases = spec.jobs_per_commit.div_ceil(SHARDS).max(1);

    // Commits, oldest first.
    let mut commits: Vec<Commit> = (0..n)
        .map(|i| Commit {
            sha: rng.hex(40),
            time: start + Duration::minutes(10 * i as i64),
            message: format!("Change number {i} (#{})", 1000 + i),
        })
        .collect();

    // Breakages: spread over the history, away from both ends.
    let mut breakages = Vec::new();
    let usable = n.saturating_sub(10);
    for b in 0..spec.breakages {
        if usable == 0 {
            break;
        }
        let culprit = 5 + (usable * (2 * b + 1)) / (2 * spec.breakages.max(1));
        let reverted = b % 2 == 1;
        let fixed_at = if reverted {
            let len = 3 + rng.below(6) as usize;
            Some((culprit + len).min(n.saturating_sub(1)))
        } else {
            None
        };
        // Each breakage in a job of its own (two in one job hide each other).
        let mut base = rng.below(bases as u64) as usize;
        for _ in 0..bases {
            if !breakages.iter().any(|o: &Breakage| o.base == base) {
                break;
            }
            base = (base + 1) % bases;
        }
        breakages.push(Breakage {
            culprit,
            fixed_at,
            base,
            shard: 1 + rng.below(SHARDS as u64) as usize,
            fingerprint: format!("{:016x}", rng.next_u64()),
            confirm: !reverted,
        });
    }
    for b in &breakages {
        if let Some(f) = b.fixed_at
            && f > b.culprit
        {
            let title = commits[b.culprit].title().to_string();
            let sha = commits[b.culprit].sha.clone();
            commits[f].message = format!("Revert \"{title}\"\n\nThis reverts commit {sha}.");
        }
    }

    // Which commits ran CI: a ghstack push runs only its head; breakage
    // culprits, reverts and the newest commit always run.
    let pinned: Vec<usize> = breakages
        .iter()
        .flat_map(|b| [Some(b.culprit), b.culprit.checked_sub(1), b.fixed_at])
        .flatten()
        .collect();
    let ran: Vec<bool> = (0..n)
        .map(|i| i + 1 == n || pinned.contains(&i) || !rng.chance(spec.ghstack_per_mille))
        .collect();

    let mut jobs: Vec<JobResult> = Vec::with_capacity(n * spec.jobs_per_commit + 64);
    let mut run_id: u64 = 1_000;
    let mut files = BTreeMap::new();
    for w in &workflows {
        files.insert(w.clone(), format!(".github/workflows/{w}.yml"));
    }
    for (i, commit) in commits.iter().enumerate() {
        if !ran[i] {
            continue;
        }
        let pending = i + spec.pending_newest >= n;
        let in_outage = spec.outage.is_some_and(|(a, b)| (a..=b).contains(&i));
        let mut runs: BTreeMap<usize, u64> = BTreeMap::new();
        for k in 0..spec.jobs_per_commit {
            let wi = k % workflows.len();
            let run = *runs.entry(wi).or_insert_with(|| {
                run_id += 1;
                run_id
            });
            let base = k / SHARDS;
            let shard = k % SHARDS + 1;
            let started =
                commit.time + Duration::minutes(5) + Duration::seconds(rng.below(600) as i64);
            let mut job = passed(commit, &workflows[wi], base, shard, run, started);
            if pending {
                job.status = "in_progress".into();
                job.conclusion = None;
                job.completed_at = None;
                jobs.push(job);
                continue;
            }
            let broken = breakages.iter().find(|b| {
                b.base == base
                    && b.shard == shard
                    && i >= b.culprit
                    && b.fixed_at.is_none_or(|f| i < f)
            });
            if in_outage {
                fail(&mut job, "runner lost communication", "00000000deadbeef");
            } else if let Some(b) = broken {
                fail(&mut job, "pytest failure", &b.fingerprint);
            } else if rng.chance(spec.flaky_per_mille) {
                let fp = format!("f1a4{base:012x}");
                let mut retry = job.clone();
                fail(&mut job, "pytest failure", &fp);
                retry.run_attempt = 2;
                retry.started_at = job.started_at.map(|t| t + Duration::hours(1));
                retry.completed_at = retry.started_at.map(|t| t + Duration::minutes(30));
                jobs.push(job);
                jobs.push(retry);
                continue;
            }
            jobs.push(job);
        }
    }
    // Confirming restarts of the culprits that stay in trunk.
    for b in breakages.iter().filter(|b| b.confirm) {
        let commit = &commits[b.culprit];
        if b.culprit + spec.pending_newest >= n {
            continue;
        }
        let k = b.base * SHARDS + (b.shard - 1);
        let wi = k % workflows.len();
        for r in 0..2 {
            run_id += 1;
            let started = commit.time + Duration::hours(2) + Duration::minutes(40 * r);
            let mut job = passed(commit, &workflows[wi], b.base, b.shard, run_id, started);
            job.event = RESTART_EVENT.into();
            job.head_branch = restart_branch(&commit.sha);
            fail(&mut job, "pytest failure", &b.fingerprint);
            jobs.push(job);
        }
        // And the parent restarted twice, passing: the break starts with
        // the culprit, not below it.
        if let Some(parent) = b.culprit.checked_sub(1) {
            let commit = &commits[parent];
            for k in 0..2 {
                run_id += 1;
                let started = commit.time + Duration::hours(2) + Duration::minutes(40 * k);
                let mut job = passed(commit, &workflows[wi], b.base, b.shard, run_id, started);
                job.event = RESTART_EVENT.into();
                job.head_branch = restart_branch(&commit.sha);
                jobs.push(job);
            }
        }
    }

    let now = commits
        .last()
        .map_or(start, |c| c.time + Duration::hours(1));
    let culprits = breakages
        .iter()
        .filter(|b| b.confirm && b.culprit + spec.pending_newest < n)
        .map(|b| commits[b.culprit].sha.clone())
        .collect();
    let reverted = breakages
        .iter()
        .filter(|b| b.fixed_at.is_some())
        .map(|b| commits[b.culprit].sha.clone())
        .collect();
    commits.reverse();
    Synthetic {
        snapshot: Snapshot {
            repo: "synthetic/trunk".into(),
            now,
            commits,
            jobs,
            restart_requests: Vec::new(),
            workflow_files: files,
        },
        culprits,
        reverted,
    }
}

/// Shard `shard` of job `base` of a push run, passed in 30 minutes.
fn passed(
    commit: &Commit,
    workflow: &str,
    base: usize,
    shard: usize,
    run_id: u64,
    started: DateTime<Utc>,
) -> JobResult {
    JobResult {
        sha: commit.sha.clone(),
        workflow: workflow.to_string(),
        name: format!("job-{base:04} / test (default, {shard}, {SHARDS})"),
        run_id,
        run_attempt: 1,
        event: "push".into(),
        head_branch: "main".into(),
        status: "completed".into(),
        conclusion: Some("success".into()),
        started_at: Some(started),
        completed_at: Some(started + Duration::minutes(30)),
        rule: None,
        fingerprint: None,
        id: None,
        url: None,
    }
}

fn fail(job: &mut JobResult, rule: &str, fingerprint: &str) {
    job.conclusion = Some("failure".into());
    job.rule = Some(rule.into());
    job.fingerprint = Some(fingerprint.into());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_snapshot() {
        let spec = Spec::default();
        let a = generate(&spec);
        let b = generate(&spec);
        assert_eq!(a.snapshot, b.snapshot);
        let c = generate(&Spec { seed: 2, ..spec });
        assert_ne!(a.snapshot, c.snapshot);
        assert_eq!(a.snapshot.commits.len(), 100);
        assert!(a.snapshot.jobs.len() > 3000);
    }

    #[test]
    fn rng_is_uniform_enough() {
        let mut r = Rng::new(7);
        let hits = (0..10_000).filter(|_| r.chance(100)).count();
        assert!((800..1200).contains(&hits), "{hits}");
        assert_eq!(r.below(0), 0);
        assert_eq!(r.hex(40).len(), 40);
    }
}
