//! Detection and decision on hand-built snapshots: one test per rule.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::decide::{self, Decided, Facts, PullFacts, RevertFacts, SuspectFacts};
use super::detect::{Detection, Finding, Params, Pattern, Verdict};
use super::rate::BREAK_LN;
use super::revert::RevertChanges;
use super::{analyze, restart_branch, signal, synth};
use crate::config::AutorevertMode;
use crate::history::snapshot::{Commit, JobResult, RestartRequest, Snapshot};
use crate::plan::{FileChange, Write};

const FP: &str = "0123456789abcdef";
const FP2: &str = "fedcba9876543210";
const JOB: &str = "linux / test (default, 1, 3)";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

fn sha(i: usize) -> String {
    format!("c{i:02}{}", "0".repeat(37))
}

/// A trunk of `n` commits, `c00` oldest; jobs added per commit.
struct Trunk {
    commits: Vec<Commit>,
    jobs: Vec<JobResult>,
    requests: Vec<RestartRequest>,
    now: DateTime<Utc>,
}

impl Trunk {
    fn new(n: usize) -> Trunk {
        let commits: Vec<Commit> = (0..n)
            .map(|i| Commit {
                sha: sha(i),
                time: t0() + Duration::minutes(10 * i as i64),
                message: format!("Change {i} (#{})", 100 + i),
            })
            .collect();
        let now = t0() + Duration::minutes(10 * n as i64) + Duration::hours(3);
        Trunk {
            commits,
            jobs: Vec::new(),
            requests: Vec::new(),
            now,
        }
    }

    fn base(
        &self,
        i: usize,
        workflow: &str,
        name: &str,
        conclusion: Option<&str>,
        fp: Option<&str>,
    ) -> JobResult {
        let started = self.commits[i].time + Duration::minutes(5);
        JobResult {
            sha: sha(i),
            workflow: workflow.into(),
            name: name.into(),
            run_id: 1000 + i as u64 * 10 + u64::from(workflow.len() as u8),
            run_attempt: 1,
            event: "push".into(),
            head_branch: "main".into(),
            status: if conclusion.is_some() {
                "completed"
            } else {
                "in_progress"
            }
            .into(),
            conclusion: conclusion.map(Into::into),
            started_at: Some(started),
            completed_at: conclusion.map(|_| started + Duration::minutes(30)),
            rule: fp.map(|_| "pytest failure".to_string()),
            fingerprint: fp.map(str::to_string),
            id: None,
            url: None,
        }
    }

    /// `n` commits where `culprit` broke the job: it passes below, fails
    /// from there on.
    fn broken(n: usize, culprit: usize) -> Trunk {
        (0..n).fold(Trunk::new(n), |t, i| {
            if i < culprit { t.pass(i) } else { t.fail(i) }
        })
    }

    fn pass(mut self, i: usize) -> Trunk {
        let j = self.base(i, "trunk", JOB, Some("success"), None);
        self.jobs.push(j);
        self
    }

    fn fail(mut self, i: usize) -> Trunk {
        let j = self.base(i, "trunk", JOB, Some("failure"), Some(FP));
        self.jobs.push(j);
        self
    }

    fn job(mut self, j: JobResult) -> Trunk {
        self.jobs.push(j);
        self
    }

    /// A restart of `trunk` on commit `i`, `minutes` after the commit.
    fn restart(
        mut self,
        i: usize,
        conclusion: Option<&str>,
        fp: Option<&str>,
        minutes: i64,
    ) -> Trunk {
        let mut j = self.base(i, "trunk", JOB, conclusion, fp);
        j.event = "workflow_dispatch".into();
        j.head_branch = restart_branch(&sha(i));
        j.run_id = 90_000 + self.jobs.len() as u64;
        j.started_at = Some(self.commits[i].time + Duration::minutes(minutes));
        self.jobs.push(j);
        self
    }

    fn snapshot(&self) -> Snapshot {
        let mut commits = self.commits.clone();
        commits.reverse();
        Snapshot {
            repo: "octo-org/octo-repo".into(),
            now: self.now,
            commits,
            jobs: self.jobs.clone(),
            restart_requests: self.requests.clone(),
            workflow_files: [(
                "trunk".to_string(),
                ".github/workflows/trunk.yml".to_string(),
            )]
            .into_iter()
            .collect(),
        }
    }
}

fn detect_with(s: &Snapshot, params: &Params) -> Detection {
    analyze(s, params).1
}

fn run(s: &Snapshot) -> Detection {
    detect_with(s, &Params::default())
}

fn decided(s: &Snapshot, facts: &Facts) -> Decided {
    let (signals, d) = analyze(s, &Params::default());
    decide::decide(s, &signals, &d, facts)
}

/// The first pattern, which must have `verdict` and a reason naming `why`.
#[track_caller]
fn first<'a>(d: &'a Detection, verdict: Verdict, why: &str) -> &'a Pattern {
    let p = d
        .patterns
        .first()
        .unwrap_or_else(|| panic!("no pattern: {d:#?}"));
    assert_eq!(p.verdict, verdict, "{}", p.reason);
    assert!(p.reason.contains(why), "{}", p.reason);
    p
}

/// The pattern on `suspect`, which must have `verdict`.
#[track_caller]
fn pattern_on(d: &Detection, suspect: usize, verdict: Verdict) -> &Pattern {
    let p = d
        .patterns
        .iter()
        .find(|p| p.suspect == suspect)
        .unwrap_or_else(|| panic!("no pattern on {suspect}: {d:#?}"));
    assert_eq!(p.verdict, verdict, "{}", p.reason);
    p
}

/// Index of commit `i` in a snapshot of `n` (newest first).
fn at(n: usize, i: usize) -> usize {
    n - 1 - i
}

fn restarts(s: &Snapshot, d: &Detection) -> Vec<(String, String)> {
    d.restarts
        .iter()
        .map(|r| (r.workflow.clone(), s.commits[r.commit].sha.clone()))
        .collect()
}

#[test]
fn base_pattern_asks_for_a_confirming_restart() {
    let s = Trunk::broken(5, 2).snapshot();
    let d = run(&s);
    assert_eq!(d.patterns.len(), 1, "{d:#?}");
    let p = first(&d, Verdict::Restart, "to confirm");
    assert_eq!(p.suspect, at(5, 2));
    assert_eq!(p.older_success, at(5, 1));
    assert_eq!(p.newer_failures, vec![at(5, 4), at(5, 3)]);
    assert_eq!(restarts(&s, &d), vec![("trunk".to_string(), sha(2))]);
}

#[test]
fn a_retry_still_running_does_not_hold_the_confirming_restart_back() {
    let t = Trunk::broken(5, 2);
    let mut retry = t.base(2, "trunk", JOB, None, None);
    retry.run_attempt = 2;
    retry.started_at = retry.started_at.map(|s| s + Duration::minutes(32));
    let s = t.job(retry).snapshot();
    let d = run(&s);
    first(&d, Verdict::Restart, "to confirm");
    assert!(
        restarts(&s, &d).contains(&("trunk".to_string(), sha(2))),
        "{d:#?}"
    );
    // A first attempt still running is a result on its way: wait for it.
    let t = Trunk::broken(5, 2);
    let mut pending = t.base(2, "trunk", "linux / build", None, None);
    pending.run_id += 7;
    let s = t.job(pending).snapshot();
    let d = run(&s);
    first(&d, Verdict::Restart, "still running");
    assert!(
        !restarts(&s, &d).contains(&("trunk".to_string(), sha(2))),
        "{d:#?}"
    );
}

#[test]
fn a_restart_being_re_run_does_not_hold_the_next_restart_back() {
    // c01..c03 pushed together, only c03 ran; the restart of c02 failed
    // (and is being re-run), the one of c01 passed: c02 is the suspect and
    // needs a second failure of its own.
    let t = Trunk::new(4)
        .pass(0)
        .fail(3)
        .restart(1, Some("success"), None, 60)
        .restart(2, Some("failure"), Some(FP), 60);
    let mut rerun = t.jobs[t.jobs.len() - 1].clone();
    rerun.run_attempt = 2;
    rerun.status = "in_progress".into();
    rerun.conclusion = None;
    rerun.rule = None;
    rerun.fingerprint = None;
    rerun.completed_at = None;
    rerun.started_at = rerun.started_at.map(|s| s + Duration::minutes(35));
    let s = t.job(rerun).snapshot();
    let d = run(&s);
    pattern_on(&d, at(4, 2), Verdict::Restart);
    assert!(
        restarts(&s, &d).contains(&("trunk".to_string(), sha(2))),
        "{d:#?}"
    );
}

#[test]
fn one_failing_commit_is_not_a_pattern() {
    let s = Trunk::broken(3, 2).snapshot();
    let d = run(&s);
    assert!(d.patterns.is_empty() && d.restarts.is_empty(), "{d:#?}");
}

#[test]
fn a_failing_restart_confirms_and_reverts() {
    let s = Trunk::broken(4, 2)
        .restart(2, Some("failure"), Some(FP), 60)
        .snapshot();
    let d = run(&s);
    let p = &d.patterns[0];
    assert_eq!(p.verdict, Verdict::Revert, "{}", p.reason);
    assert!(
        p.reason
            .starts_with("trunk / linux / test (default): confirmed"),
        "{}",
        p.reason
    );
    assert!(d.restarts.is_empty());
}

#[test]
fn a_passing_restart_makes_it_flaky() {
    let s = Trunk::broken(4, 2)
        .restart(2, Some("success"), None, 60)
        .snapshot();
    let d = run(&s);
    let p = first(&d, Verdict::Ineligible, "flaky");
    assert!(p.reason.contains("a restart passed"), "{}", p.reason);
}

#[test]
fn failed_and_passed_on_one_commit_is_flaky() {
    let t = Trunk::broken(5, 2);
    let mut retry = t.base(3, "trunk", JOB, Some("success"), None);
    retry.run_attempt = 2;
    let s = t.job(retry).snapshot();
    let d = run(&s);
    first(&d, Verdict::Ineligible, "flaky");
    assert!(d.restarts.is_empty());
}

#[test]
fn other_shards_passing_is_not_flakiness() {
    let t = Trunk::broken(4, 2);
    let shard2 = t.base(
        2,
        "trunk",
        "linux / test (default, 2, 3)",
        Some("success"),
        None,
    );
    let shard2b = t.base(
        3,
        "trunk",
        "linux / test (default, 2, 3)",
        Some("success"),
        None,
    );
    let s = t.job(shard2).job(shard2b).snapshot();
    assert_eq!(run(&s).patterns[0].verdict, Verdict::Restart);
}

#[test]
fn shards_are_one_signal() {
    let t = Trunk::new(4).pass(0).pass(1).fail(2);
    let other_shard = t.base(
        3,
        "trunk",
        "linux / test (default, 3, 3)",
        Some("failure"),
        Some(FP),
    );
    let s = t.job(other_shard).snapshot();
    let d = run(&s);
    assert_eq!(d.patterns.len(), 1);
    let signals = signal::build(&s, &[]);
    assert_eq!(signals.columns[0].job, "linux / test (default)");
}

#[test]
fn the_same_failure_on_an_older_commit_is_infrastructure() {
    let t = Trunk::broken(5, 2);
    let build = t.base(1, "trunk", "build", Some("failure"), Some(FP));
    let s = t.job(build).snapshot();
    let d = run(&s);
    first(&d, Verdict::Ineligible, "infrastructure");
    assert!(d.restarts.is_empty());
}

#[test]
fn an_outage_that_started_before_the_suspect_is_infrastructure() {
    // Every job fails from 00:25 on: the suspect c03 landed at 00:30, but a
    // job elsewhere had already failed the same way at 00:26.
    let mut t = Trunk::broken(6, 3);
    let mut early = t.base(4, "pull", "lint", Some("failure"), Some(FP));
    early.started_at = Some(t.commits[2].time + Duration::minutes(6));
    t = t.job(early);
    let s = t.snapshot();
    let d = run(&s);
    let p = pattern_on(&d, at(6, 3), Verdict::Ineligible);
    assert!(p.reason.contains("before the suspect"), "{}", p.reason);
}

#[test]
fn an_older_success_that_failed_differently_is_no_baseline() {
    let t = Trunk::new(4).pass(0).fail(2).fail(3);
    let other = t.base(1, "trunk", JOB, Some("failure"), Some(FP2));
    let s = t.job(other).snapshot();
    let d = run(&s);
    assert!(d.patterns.is_empty(), "{d:#?}");
}

#[test]
fn pending_results_below_the_suspect_are_unknown() {
    let t = Trunk::new(5).pass(0).fail(2).fail(3).fail(4);
    let running = t.base(1, "trunk", JOB, None, None);
    let s = t.job(running).snapshot();
    let d = run(&s);
    let p = first(&d, Verdict::Restart, "unknown");
    assert!(
        p.reason
            .starts_with("trunk / linux / test (default): unknown"),
        "{}",
        p.reason
    );
    assert!(d.restarts.is_empty(), "a pending commit needs no restart");
}

#[test]
fn ghstack_push_where_only_the_head_ran_is_bisected() {
    // c01..c03 were pushed together; only c03 ran CI. The culprit is c03,
    // c02 or c01: one restart of c02 rules out half of them, whatever it
    // shows.
    let s = Trunk::new(4).pass(0).fail(3).snapshot();
    let d = run(&s);
    assert!(d.patterns.is_empty());
    assert_eq!(d.unknown.len(), 1);
    assert_eq!(restarts(&s, &d), vec![("trunk".to_string(), sha(2))]);
    assert!(
        d.unknown[0].reason.contains(
            "bisecting 2 commit(s) no CI tested between the failing c03000000000 and the passing c00000000000"
        ),
        "{}",
        d.unknown[0].reason
    );
    // While that restart runs, nothing more is restarted.
    let s = Trunk::new(4)
        .pass(0)
        .fail(3)
        .restart(2, None, None, 60)
        .snapshot();
    let d = run(&s);
    assert!(restarts(&s, &d).is_empty(), "{d:#?}");
    assert!(d.unknown[0].reason.contains("waiting for"), "{d:#?}");
    // c02 failed: c01 is the last candidate untested, and the passing c00
    // below it runs with it, for a fresh pass on the culprit's other side
    // in the same round.
    let failed = || {
        Trunk::new(4)
            .pass(0)
            .fail(3)
            .restart(2, Some("failure"), Some(FP), 60)
    };
    let s = failed().snapshot();
    let d = run(&s);
    assert_eq!(
        restarts(&s, &d),
        vec![("trunk".to_string(), sha(1)), ("trunk".to_string(), sha(0))]
    );
    // Once restarted, c00 is not restarted again for the gap.
    let mut t = failed();
    t.requests.push(RestartRequest {
        workflow: "trunk".into(),
        sha: sha(0),
        at: t.now - Duration::hours(2),
    });
    let s = t.snapshot();
    assert_eq!(restarts(&s, &run(&s)), vec![("trunk".to_string(), sha(1))]);
    // c02 passed: it and c01 are ruled out, nothing is left to bisect.
    let s = Trunk::new(4)
        .pass(0)
        .fail(3)
        .restart(2, Some("success"), None, 60)
        .snapshot();
    let d = run(&s);
    assert!(
        !restarts(&s, &d).contains(&("trunk".to_string(), sha(1))),
        "{d:#?}"
    );
    // With two failing pushes it is a pattern, bisected below the same way.
    let s = Trunk::new(5).pass(0).fail(3).fail(4).snapshot();
    let d = run(&s);
    assert_eq!(d.patterns[0].verdict, Verdict::Restart);
    assert_eq!(d.patterns[0].suspect, at(5, 3));
    assert_eq!(restarts(&s, &d), vec![("trunk".to_string(), sha(2))]);
}

#[test]
fn ghstack_restarts_move_the_suspect() {
    // Restarts showed c01 passes and c02 fails: c02 is the suspect.
    let t = Trunk::new(5)
        .pass(0)
        .fail(3)
        .fail(4)
        .restart(1, Some("success"), None, 60)
        .restart(2, Some("failure"), Some(FP), 60);
    let d = run(&t.snapshot());
    let p = &d.patterns[0];
    assert_eq!(p.suspect, at(5, 2));
    assert_eq!(p.older_success, at(5, 1));
    // One failing run on c02 is not yet a confirmation: restart it again.
    assert_eq!(p.verdict, Verdict::Restart, "{}", p.reason);
    assert_eq!(
        restarts(&t.snapshot(), &d),
        vec![("trunk".to_string(), sha(2))]
    );
    let d = run(&t.restart(2, Some("failure"), Some(FP), 100).snapshot());
    first(&d, Verdict::Revert, "confirmed");
}

#[test]
fn a_broad_failure_needs_the_older_commit_to_pass_again() {
    // The same failure on four jobs from c02 on, as an outage starting with
    // c02 would look; the restart of c02 failed too.
    let mut t = Trunk::new(4).pass(0).pass(1);
    for name in ["a (1, 2)", "b", "c", "d"] {
        for i in 0..4 {
            let (c, fp) = if i >= 2 {
                (Some("failure"), Some(FP))
            } else {
                (Some("success"), None)
            };
            let j = t.base(i, "trunk", name, c, fp);
            t = t.job(j);
        }
    }
    // One restart run of the workflow, every job failing again.
    let restart = |mut t: Trunk, i: usize, conclusion: &str, fp: Option<&str>, run: u64| {
        for name in ["a (1, 2)", "b", "c", "d"] {
            let mut j = t.base(i, "trunk", name, Some(conclusion), fp);
            j.event = "workflow_dispatch".into();
            j.head_branch = restart_branch(&sha(i));
            j.run_id = run;
            j.started_at = Some(t.commits[3].time + Duration::minutes(60 + run as i64 % 100));
            t = t.job(j);
        }
        t
    };
    let t = restart(t, 2, "failure", Some(FP), 70_001);
    let s = t.snapshot();
    let d = run(&s);
    first(&d, Verdict::Restart, "must pass again");
    assert_eq!(restarts(&s, &d), vec![("trunk".to_string(), sha(1))]);
    // The older commit passed again after the suspect failed: revert.
    let s = restart(t, 1, "success", None, 70_010).snapshot();
    let d = run(&s);
    first(&d, Verdict::Revert, "confirmed");
}

#[test]
fn already_reverted_suspects_are_ineligible() {
    let mut t = Trunk::new(5).pass(0).pass(1).fail(2).fail(3);
    t.commits[4].message = "Revert \"Change 2 (#102)\"\n\nbroke trunk".into();
    let s = t.snapshot();
    let d = run(&s);
    let p = first(&d, Verdict::Ineligible, "already reverted by");
    assert_eq!(p.reverted_by, Some(at(5, 4)));
    assert!(p.reason.starts_with("already reverted by"), "{}", p.reason);
    let report = decided(&s, &Facts::offline(AutorevertMode::Revert)).report;
    assert!(report.patterns[0].already_reverted);

    let mut t = Trunk::new(5).pass(0).pass(1).fail(2).fail(3);
    t.commits[4].message = format!("Back out\n\nThis reverts commit {}.", sha(2));
    assert_eq!(run(&t.snapshot()).patterns[0].verdict, Verdict::Ineligible);

    let params = Params {
        revert_patterns: vec![regex::Regex::new(r"^unland (?P<sha>[0-9a-f]+)").expect("re")],
        ..Params::default()
    };
    let mut t = Trunk::new(5).pass(0).pass(1).fail(2).fail(3);
    t.commits[4].message = format!("unland {}", &sha(2)[..10]);
    assert_eq!(
        detect_with(&t.snapshot(), &params).patterns[0].verdict,
        Verdict::Ineligible
    );
    t.commits[4].message = format!("unland {}", &sha(3)[..10]);
    assert_eq!(
        detect_with(&t.snapshot(), &params).patterns[0].verdict,
        Verdict::Restart
    );
}

#[test]
fn a_newer_pass_means_recovered() {
    let s = Trunk::new(5)
        .pass(0)
        .pass(1)
        .fail(2)
        .fail(3)
        .pass(4)
        .snapshot();
    first(&run(&s), Verdict::Ineligible, "recovered");
}

#[test]
fn one_suspect_across_workflows_is_one_pattern() {
    let mut t = Trunk::broken(4, 2);
    for i in 0..4 {
        let (c, fp) = if i >= 2 {
            (Some("failure"), Some(FP2))
        } else {
            (Some("success"), None)
        };
        let j = t.base(i, "inductor", "inductor / test (aot, 2, 2)", c, fp);
        t = t.job(j);
    }
    let s = t.snapshot();
    let d = run(&s);
    assert_eq!(d.patterns.len(), 1, "{d:#?}");
    let p = &d.patterns[0];
    assert_eq!(p.workflows, ["inductor", "trunk"]);
    assert_eq!(p.findings.len(), 2);
    assert!(p.reason.ends_with("(2 signals)"), "{}", p.reason);
    assert_eq!(
        restarts(&s, &d),
        vec![
            ("inductor".to_string(), sha(2)),
            ("trunk".to_string(), sha(2))
        ]
    );
    let out = decided(&s, &Facts::offline(AutorevertMode::Log)).report;
    let json = serde_json::to_value(&out).expect("json");
    assert_eq!(
        json["patterns"][0]["workflows"],
        serde_json::json!(["inductor", "trunk"])
    );
    assert_eq!(
        json["patterns"][0]["signals"][0]["job"],
        "inductor / test (aot)"
    );
    assert_eq!(json["patterns"][0]["signals"][1]["fingerprint"], FP);
}

#[test]
fn the_workflow_filter_applies() {
    let s = Trunk::broken(4, 2).snapshot();
    let params = Params {
        workflows: vec!["pull".into()],
        ..Params::default()
    };
    assert!(detect_with(&s, &params).patterns.is_empty());
}

#[test]
fn min_failures_and_min_successes() {
    let s = Trunk::broken(4, 2).snapshot();
    let strict = Params {
        min_failures: 3,
        ..Params::default()
    };
    first(
        &detect_with(&s, &strict),
        Verdict::Ineligible,
        "min-failures",
    );
    let strict = Params {
        min_successes: 3,
        ..Params::default()
    };
    let p = &detect_with(&s, &strict).patterns[0];
    assert!(p.reason.contains("min-successes"), "{}", p.reason);
    let lenient = Params {
        min_successes: 2,
        ..Params::default()
    };
    assert_eq!(
        detect_with(&s, &lenient).patterns[0].verdict,
        Verdict::Restart
    );
}

#[test]
fn restarts_wait_for_runs_and_backoff_then_stop() {
    // Restart under way: wait.
    let s = Trunk::broken(4, 2).restart(2, None, None, 60).snapshot();
    let d = run(&s);
    first(&d, Verdict::Restart, "waiting");
    assert!(d.restarts.is_empty());

    // Cancelled restart 10 minutes before now: back off.
    let mut t = Trunk::broken(4, 2);
    let minutes = (t.now - t.commits[2].time).num_minutes() - 10;
    t = t.restart(2, Some("cancelled"), None, minutes);
    let d = run(&t.snapshot());
    assert!(d.restarts.is_empty());
    first(&d, Verdict::Restart, "next restart is due");

    // Long ago: restart again.
    let s = Trunk::broken(4, 2)
        .restart(2, Some("cancelled"), None, 30)
        .snapshot();
    assert_eq!(run(&s).restarts.len(), 1);

    // Two restarts spent (`max-restarts` 2): a person should look.
    let s = Trunk::broken(4, 2)
        .restart(2, Some("cancelled"), None, 30)
        .restart(2, Some("failure"), Some(FP2), 70)
        .snapshot();
    let two = Params {
        max_restarts: 2,
        ..Params::default()
    };
    let d = detect_with(&s, &two);
    first(&d, Verdict::Notify, "a person should look");
    assert!(d.restarts.is_empty());
}

#[test]
fn recorded_restart_requests_count() {
    let mut t = Trunk::broken(4, 2);
    t.requests.push(RestartRequest {
        workflow: "trunk".into(),
        sha: sha(2),
        at: t.now - Duration::minutes(5),
    });
    let d = run(&t.snapshot());
    assert!(d.restarts.is_empty(), "a recent request is waited for");
    for m in [200, 100] {
        t.requests.push(RestartRequest {
            workflow: "trunk".into(),
            sha: sha(2),
            at: t.now - Duration::minutes(m),
        });
    }
    t.requests.remove(0);
    let two = Params {
        max_restarts: 2,
        ..Params::default()
    };
    assert_eq!(
        detect_with(&t.snapshot(), &two).patterns[0].verdict,
        Verdict::Notify
    );
}

#[test]
fn as_of_replays_the_past() {
    let t = Trunk::broken(4, 2).restart(2, Some("failure"), Some(FP), 120);
    let s = t.snapshot();
    assert_eq!(run(&s).patterns[0].verdict, Verdict::Revert);
    // Before the restart started it was still to be confirmed.
    let before = s.as_of(t.commits[2].time + Duration::minutes(100));
    let d = run(&before);
    assert_eq!(d.patterns[0].verdict, Verdict::Restart);
    // Before c03 landed there was no pattern.
    let earlier = s.as_of(t.commits[2].time + Duration::minutes(9));
    assert!(run(&earlier).patterns.is_empty());
}

#[test]
fn cancelled_and_unclassified_failures() {
    // Cancelled jobs say nothing: the older success is the commit below.
    let t = Trunk::new(5).pass(0).fail(2).fail(3).fail(4);
    let cancelled = t.base(1, "trunk", JOB, Some("cancelled"), None);
    let s = t.job(cancelled).snapshot();
    let p = &run(&s).patterns[0];
    assert_eq!(p.older_success, at(5, 0));
    // Failures the analyser did not explain match each other within a job.
    let mut t = Trunk::new(4).pass(0).pass(1);
    for i in 2..4 {
        let j = t.base(i, "trunk", JOB, Some("failure"), None);
        t = t.job(j);
    }
    let s = t.snapshot();
    let d = run(&s);
    assert_eq!(d.patterns.len(), 1);
    let out = decided(&s, &Facts::offline(AutorevertMode::Log)).report;
    assert_eq!(out.patterns[0].signals[0].fingerprint, None);
}

fn online(mode: AutorevertMode) -> Facts {
    Facts {
        can_act: true,
        ..Facts::offline(mode)
    }
}

fn confirmed() -> Snapshot {
    Trunk::broken(4, 2)
        .restart(2, Some("failure"), Some(FP), 60)
        .snapshot()
}

#[test]
fn modes_limit_the_writes() {
    let s = Trunk::broken(4, 2).snapshot();
    assert!(
        decided(&s, &online(AutorevertMode::Log))
            .plan
            .steps
            .is_empty()
    );
    let d = decided(&s, &online(AutorevertMode::Restart));
    let kinds: Vec<&Write> = d.plan.steps.iter().map(|s| &s.write).collect();
    assert!(
        matches!(kinds[0], Write::CreateRef { git_ref, .. } if *git_ref == format!("refs/tags/trunk/{}", sha(2)))
    );
    assert!(
        matches!(kinds[1], Write::DispatchWorkflow { workflow, git_ref, .. }
        if workflow == "trunk.yml" && *git_ref == format!("trunk/{}", sha(2)))
    );
    assert_eq!(
        d.decisions[0].action,
        crate::store::AutorevertAction::Restart
    );
    // Offline never writes, whatever the mode.
    assert!(
        decided(&s, &Facts::offline(AutorevertMode::Revert))
            .plan
            .steps
            .is_empty()
    );
}

#[test]
fn the_kill_switch_stops_everything() {
    let facts = Facts {
        kill_switch: Some("issue #9".into()),
        ..online(AutorevertMode::Revert)
    };
    let d = decided(&confirmed(), &facts);
    assert!(d.plan.steps.is_empty());
    assert!(d.plan.notes[0].contains("kill switch"));
    assert_eq!(d.report.patterns[0].verdict, Verdict::Revert);
}

fn with_suspect(mode: AutorevertMode, sf: SuspectFacts) -> Facts {
    let mut f = online(mode);
    f.suspects.insert(sha(2), sf);
    f
}

fn ready(changes: Vec<FileChange>) -> Option<RevertFacts> {
    Some(RevertFacts {
        changes: RevertChanges::Changes(changes),
        head_sha: sha(3),
        branch_exists: false,
        closed_pull: None,
    })
}

#[test]
fn revert_mode_opens_a_revert_pull_request() {
    let change = FileChange {
        path: "src/lib.rs".into(),
        content: Some("old".into()),
    };
    let facts = with_suspect(
        AutorevertMode::Revert,
        SuspectFacts {
            pull: Some(PullFacts {
                number: 7,
                labels: Vec::new(),
            }),
            revert: ready(vec![change.clone()]),
        },
    );
    let d = decided(&confirmed(), &facts);
    let steps: Vec<&Write> = d.plan.steps.iter().map(|s| &s.write).collect();
    assert_eq!(steps.len(), 3, "{steps:#?}");
    match steps[0] {
        Write::CommitFiles {
            branch,
            base_sha,
            changes,
            message,
            ..
        } => {
            assert_eq!(branch, "ci-medic/autorevert/c02000000000");
            assert_eq!(*base_sha, sha(3));
            assert_eq!(changes, &vec![change]);
            assert!(message.starts_with("Revert \"Change 2 (#102)\"\n\nThis reverts commit c02"));
        }
        other => panic!("{other:?}"),
    }
    match steps[1] {
        Write::OpenPullRequest {
            head,
            base,
            title,
            body,
            labels,
            marker_key,
            ..
        } => {
            assert_eq!(head, "ci-medic/autorevert/c02000000000");
            assert_eq!(base, "main");
            assert_eq!(title, "Revert \"Change 2 (#102)\"");
            assert!(body.starts_with("<!-- ci-medic:autorevert:c02"), "{body}");
            insta::assert_snapshot!("revert_pull_request_body", body);
            assert_eq!(labels, &vec!["autorevert".to_string()]);
            assert_eq!(*marker_key, sha(2));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        steps[2],
        Write::Comment {
            number: 7,
            marker: Some(_),
            ..
        }
    ));
    assert_eq!(
        d.decisions[0].action,
        crate::store::AutorevertAction::Revert
    );
    assert_eq!(d.plan.outputs.get("reverts").map(String::as_str), Some("1"));

    // An existing branch is not pushed again.
    let mut sf = facts.suspects[&sha(2)].clone();
    if let Some(r) = sf.revert.as_mut() {
        r.branch_exists = true;
    }
    let d = decided(&confirmed(), &with_suspect(AutorevertMode::Revert, sf));
    assert!(
        !d.plan
            .steps
            .iter()
            .any(|s| matches!(s.write, Write::CommitFiles { .. }))
    );
    assert!(
        d.plan
            .steps
            .iter()
            .any(|s| matches!(s.write, Write::OpenPullRequest { .. }))
    );
}

#[test]
fn a_pull_request_labelled_autorevert_disable_is_never_reverted() {
    let facts = with_suspect(
        AutorevertMode::Revert,
        SuspectFacts {
            pull: Some(PullFacts {
                number: 7,
                labels: vec!["autorevert: disable".into()],
            }),
            revert: None,
        },
    );
    let d = decided(&confirmed(), &facts);
    assert_eq!(d.report.patterns[0].verdict, Verdict::Notify);
    assert!(d.report.patterns[0].reason.contains("autorevert: disable"));
    let steps: Vec<&Write> = d.plan.steps.iter().map(|s| &s.write).collect();
    assert_eq!(steps.len(), 1);
    assert!(matches!(steps[0], Write::Comment { number: 7, .. }));
}

#[test]
fn a_revert_that_is_not_exact_falls_back_to_notify() {
    for revert in [
        Some(RevertFacts {
            changes: RevertChanges::Fallback("`a.rs` changed after the suspect".into()),
            head_sha: sha(3),
            branch_exists: false,
            closed_pull: None,
        }),
        Some(RevertFacts {
            changes: RevertChanges::Changes(Vec::new()),
            head_sha: sha(3),
            branch_exists: true,
            closed_pull: Some(12),
        }),
    ] {
        let facts = with_suspect(AutorevertMode::Revert, SuspectFacts { pull: None, revert });
        let facts = Facts {
            tracking_issue: Some(3),
            ..facts
        };
        let d = decided(&confirmed(), &facts);
        assert_eq!(d.report.patterns[0].verdict, Verdict::Notify);
        let steps: Vec<&Write> = d.plan.steps.iter().map(|s| &s.write).collect();
        assert!(
            matches!(steps.as_slice(), [Write::Comment { number: 3, .. }]),
            "{steps:#?}"
        );
    }
    // Nobody to notify: recorded, nothing written.
    let d = decided(&confirmed(), &online(AutorevertMode::Notify));
    assert!(d.plan.steps.is_empty());
    assert!(d.decisions[0].notes[0].contains("nobody to notify"));
}

#[test]
fn notify_comments_carry_the_grid_and_escape_titles() {
    let mut t = Trunk::broken(4, 2).restart(2, Some("failure"), Some(FP), 60);
    t.commits[2].message = "Break @everyone | [x](javascript:y) `code`".into();
    let s = t.snapshot();
    let facts = with_suspect(
        AutorevertMode::Notify,
        SuspectFacts {
            pull: Some(PullFacts {
                number: 5,
                labels: Vec::new(),
            }),
            revert: None,
        },
    );
    let d = decided(&s, &facts);
    let Write::Comment { body, marker, .. } = &d.plan.steps[0].write else {
        panic!("{:?}", d.plan.steps);
    };
    assert_eq!(marker.as_ref().map(|m| m.0.as_str()), Some("autorevert"));
    assert!(body.contains("a restart confirmed it"), "{body}");
    assert!(!body.contains("@everyone"), "{body}");
    assert!(body.contains("\\| \\[x\\]"), "{body}");
    assert!(body.len() < decide::BODY_LIMIT);
    // The grid: the suspect marked, its restart shown, the title escaped.
    insta::assert_snapshot!("notify_comment_with_a_hostile_title", body);
}

#[test]
fn the_json_contract() {
    let s = Trunk::broken(4, 2).snapshot();
    let out = decided(&s, &Facts::offline(AutorevertMode::Log)).report;
    let v = serde_json::to_value(&out).expect("json");
    let keys: Vec<&str> = v
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["patterns", "restarts"]);
    let p = &v["patterns"][0];
    let mut keys: Vec<&str> = p
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "already_reverted",
            "newer_failures",
            "older_success",
            "reason",
            "signals",
            "suspect",
            "verdict",
            "workflows"
        ]
    );
    assert_eq!(p["suspect"], sha(2));
    assert_eq!(p["older_success"], sha(1));
    assert_eq!(p["newer_failures"], serde_json::json!([sha(3)]));
    assert_eq!(p["verdict"], "restart");
    assert_eq!(
        p["signals"],
        serde_json::json!([{"workflow": "trunk", "job": "linux / test (default)", "fingerprint": FP}])
    );
    assert_eq!(
        v["restarts"],
        serde_json::json!([{"workflow": "trunk", "sha": sha(2)}])
    );
}

#[test]
fn synthetic_histories_precision_and_recall() {
    for seed in 1..=12 {
        let spec = synth::Spec {
            seed,
            commits: 120,
            jobs_per_commit: 48,
            breakages: 4,
            flaky_per_mille: 5,
            ghstack_per_mille: 80,
            outage: (seed % 3 == 0).then_some((40, 43)),
            ..synth::Spec::default()
        };
        let g = synth::generate(&spec);
        let s = &g.snapshot;
        let d = run(s);
        let reverts: Vec<&str> = d
            .patterns
            .iter()
            .filter(|p| p.verdict == Verdict::Revert)
            .map(|p| s.commits[p.suspect].sha.as_str())
            .collect();
        for r in &reverts {
            assert!(
                g.culprits.iter().any(|c| c == r),
                "seed {seed}: wrong revert {r}"
            );
        }
        for c in &g.culprits {
            assert!(
                reverts.contains(&c.as_str()),
                "seed {seed}: missed {c}: {:#?}",
                d.patterns
            );
        }
        for p in &d.patterns {
            let sha = &s.commits[p.suspect].sha;
            if g.reverted.contains(sha) {
                assert_eq!(p.verdict, Verdict::Ineligible, "seed {seed}: {}", p.reason);
            }
        }
    }
}

#[test]
fn the_restart_budget_puts_restarts_off_with_a_reason() {
    // A ghstack gap of one untested commit wants two restarts (it, and
    // the commit below for a fresh pass); one run may dispatch one.
    let s = Trunk::new(3).pass(0).fail(2).snapshot();
    let params = Params {
        max_restarts_per_tick: 1,
        ..Params::default()
    };
    let d = detect_with(&s, &params);
    assert_eq!(d.restarts.len(), 1, "{d:#?}");
    assert_eq!(d.deferred.len(), 1, "{d:#?}");
    assert!(
        d.deferred[0].reason.contains("`max-restarts-per-tick` 1"),
        "{}",
        d.deferred[0].reason
    );
    // A day's budget already spent (on the commit below): nothing is
    // dispatched.
    let mut t = Trunk::new(3).pass(0).fail(2);
    t.requests = (0..3)
        .map(|k| RestartRequest {
            workflow: "trunk".into(),
            sha: sha(0),
            at: t.now - Duration::hours(k + 1),
        })
        .collect();
    let params = Params {
        max_restarts_per_day: 3,
        ..Params::default()
    };
    let d = detect_with(&t.snapshot(), &params);
    assert!(d.restarts.is_empty(), "{d:#?}");
    assert_eq!(d.deferred.len(), 1, "{d:#?}");
    assert!(d.deferred[0].reason.contains("3 used in the last 24 hours"));
}

#[test]
fn an_intermittent_break_is_read_as_a_rate_and_restarted() {
    // A job that never failed in 120 commits fails on c120, passes on
    // c121 and fails on c122: no pattern (a pass in between), but a rate.
    let n = 123;
    let mut t = Trunk::new(n);
    for i in 0..120 {
        t = t.pass(i);
    }
    let t = t.fail(120).pass(121).fail(122);
    let s = t.snapshot();
    let d = run(&s);
    let p = pattern_on(&d, at(n, 120), Verdict::Restart);
    let rate = p.findings[0].rate.as_ref().expect("a rate");
    assert_eq!((rate.before.fail, rate.before.samples()), (0, 120));
    assert_eq!((rate.after.fail, rate.after.samples()), (2, 3));
    assert!(p.reason.contains("Λ"), "{}", p.reason);
    // The suspect is restarted at once, not left to the flaky guard.
    let wanted = restarts(&s, &d);
    assert!(
        wanted.contains(&("trunk".to_string(), sha(120))),
        "{wanted:?}"
    );
}

/// Trunk with `clean` passing commits, then failures on the commits
/// `failing` (counted from the first one after them).
fn passes_then(clean: usize, failing: &[usize]) -> Trunk {
    let n = clean + failing.iter().max().map_or(0, |m| m + 1);
    (0..n).fold(Trunk::new(n), |t, i| {
        if i >= clean && failing.contains(&(i - clean)) {
            t.fail(i)
        } else {
            t.pass(i)
        }
    })
}

fn times(s: &Snapshot, d: &Detection, i: usize) -> usize {
    restarts(s, d).iter().filter(|(_, c)| *c == sha(i)).count()
}

/// The first finding, over every pattern, that `is` picks out.
fn finding(d: &Detection, is: impl Fn(&Finding) -> bool) -> &Finding {
    d.patterns
        .iter()
        .flat_map(|p| p.findings.iter())
        .find(|f| is(f))
        .unwrap_or_else(|| panic!("{d:#?}"))
}

#[test]
fn a_lone_failure_gets_one_run_of_its_suspect_and_one_of_its_parent() {
    // 120 clean runs, then one failure: most often a flake, so one run of
    // each side tells before a batch is paid for.
    let s = passes_then(120, &[0]).snapshot();
    let d = run(&s);
    let f = finding(&d, |f| f.rate.is_some());
    assert_eq!(f.verdict, Verdict::Restart, "{}", f.reason);
    assert_eq!((times(&s, &d, 120), times(&s, &d, 119)), (1, 1), "{d:#?}");
}

#[test]
fn every_run_the_rate_asks_for_is_dispatched() {
    // Two failing commits above a pass: the pattern asks for one run of
    // the suspect; the rate may ask for several of it and of its parent in
    // the same round, and each is dispatched.
    let s = passes_then(120, &[0, 1]).snapshot();
    let d = run(&s);
    let p = pattern_on(&d, at(122, 120), Verdict::Restart);
    let f = &p.findings[0];
    let asked: Vec<(usize, usize)> = [120, 119]
        .into_iter()
        .map(|i| {
            let named = format!("restarting trunk on {}", &sha(i)[..12]);
            let n = f.reason.split(&named).nth(1).map_or(0, |rest| {
                rest.strip_prefix(' ')
                    .and_then(|r| r.split(' ').next())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1)
            });
            (i, n)
        })
        .collect();
    assert!(asked.iter().any(|&(_, n)| n > 1), "{}", f.reason);
    for (i, n) in asked {
        assert_eq!(times(&s, &d, i), n, "{i}: {}", f.reason);
    }
}

#[test]
fn a_second_failure_tops_up_the_round_on_its_way() {
    // A lone failure on c120: one run of it and of its parent, still
    // running, is all the round holds.
    let n = 121;
    let minutes = (3 * 60) - 20;
    let lone = passes_then(120, &[0])
        .restart(120, None, None, minutes)
        .restart(119, None, None, minutes + 10);
    let d = run(&lone.snapshot());
    assert!(d.restarts.is_empty(), "{d:#?}");
    // The next commit fails too: a break is likelier, and the runs the
    // round now wants are added to those on their way, not a round later.
    let mut t = passes_then(120, &[0, 1]);
    t = t
        .restart(120, None, None, minutes)
        .restart(119, None, None, minutes + 10);
    let s = t.snapshot();
    let d = run(&s);
    let p = pattern_on(&d, at(n + 1, 120), Verdict::Restart);
    assert!(
        p.reason.contains("with the run(s) on their way"),
        "{}",
        p.reason
    );
    assert!(times(&s, &d, 119) >= 1, "{d:#?}");
    // A push run still running holds the commit back: its own result
    // comes first.
    let mut t = passes_then(120, &[0, 1]);
    t.jobs.retain(|j| j.sha != sha(119));
    let pushed = t.base(119, "trunk", JOB, None, None);
    let t = t.job(pushed).restart(119, None, None, minutes + 10);
    let s = t.snapshot();
    let d = run(&s);
    assert_eq!(times(&s, &d, 119), 0);
    let p = pattern_on(&d, at(n + 1, 120), Verdict::Restart);
    let held = format!("waiting: trunk is still running on {}", &sha(119)[..12]);
    assert!(
        p.reason.contains(&held) && !p.reason.contains("on their way"),
        "{}",
        p.reason
    );
}

#[test]
fn the_suspect_confirms_in_the_round_that_places_the_break() {
    // c120 broke the job, which then failed 4 of 5 times: a rate, no
    // pattern. Only the place is in doubt, so the parent is restarted,
    // and the failing run of the suspect a revert needs comes in the same
    // round.
    let s = passes_then(120, &[0, 1, 2, 4, 5]).snapshot();
    let d = run(&s);
    let f = finding(&d, |f| {
        f.rate.as_ref().is_some_and(|r| r.statistic >= BREAK_LN)
    });
    assert!(
        f.reason
            .contains("a revert will need a failing restart of the suspect"),
        "{}",
        f.reason
    );
    assert!(times(&s, &d, 120) >= 1, "{d:#?}");
    assert!(times(&s, &d, 119) >= 1, "{d:#?}");
}

#[test]
fn the_tested_commit_below_an_untested_run_runs_with_its_bisection() {
    // c120 and c121 never ran (a stacked push); c122 and every commit
    // after fail. The bisection of the run and a pass of c119 below it
    // are one round: the failure found in the run is then placed.
    let n = 127;
    let mut t = Trunk::new(n);
    for i in 0..120 {
        t = t.pass(i);
    }
    for i in 122..n {
        t = t.fail(i);
    }
    let s = t.snapshot();
    let d = run(&s);
    let f = finding(&d, |f| {
        f.reason.contains("is the tested commit below the run")
    });
    assert_eq!(f.verdict, Verdict::Restart, "{}", f.reason);
    assert!(times(&s, &d, 119) >= 1, "{d:#?}");
    assert!(times(&s, &d, 120) + times(&s, &d, 121) >= 1, "{d:#?}");
}

#[test]
fn weak_evidence_leaves_the_last_quarter_of_the_days_budget() {
    // 48 of 56 restarts used in the last day: 8 left, fewer than the
    // quarter (14) kept for evidence of a break.
    let used = |mut t: Trunk| {
        t.requests = (0..48)
            .map(|k| RestartRequest {
                workflow: "trunk".into(),
                sha: sha(0),
                at: t.now - Duration::minutes(20 * (k + 1)),
            })
            .collect();
        t
    };
    // A lone failure after 120 passes (Λ below ln 100): put off.
    let s = used(passes_then(120, &[0])).snapshot();
    let d = run(&s);
    assert!(d.restarts.is_empty(), "{d:#?}");
    assert!(
        d.deferred
            .iter()
            .all(|r| r.reason.contains("the day's last quarter is kept")),
        "{d:#?}"
    );
    assert!(!d.deferred.is_empty());
    // Failing commits in a row: dispatched from what is left.
    let s = used(Trunk::broken(5, 2)).snapshot();
    let d = run(&s);
    assert!(!d.restarts.is_empty(), "{d:#?}");
}

/// The parent's restarts a finding asks for: how many passes would place
/// the break, as its reason says, and how many runs went out.
fn parent_batch(s: &Snapshot, d: &Detection, parent: usize) -> (u32, usize) {
    let f = finding(d, |f| {
        f.reason.contains("pass(es) of it would place the break")
    });
    let needed = f
        .reason
        .split(&format!("short against {}: ", &sha(parent)[..12]))
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{}", f.reason));
    (needed, times(s, d, parent))
}

#[test]
fn a_parents_first_batch_carries_a_spare_pass() {
    // c120 broke the job, which then failed every time: the place is in
    // doubt while the parent has one pass. Its first batch is one more
    // than the passes the test counts (the round's own results may lower
    // the break's rate, and the last pass missing would cost a round).
    let params = Params {
        max_restarts: 8,
        ..Params::default()
    };
    let t = passes_then(120, &[0, 1, 2, 3, 4, 5, 6]);
    let s = t.snapshot();
    let d = detect_with(&s, &params);
    let (needed, sent) = parent_batch(&s, &d, 119);
    assert!(2 * (needed + 1) <= 8, "needed {needed}");
    assert_eq!(sent, needed as usize + 1, "{d:#?}");
    // Once the parent has been restarted, the next batch is what the
    // count says.
    let s = t.restart(119, Some("success"), None, 60).snapshot();
    let d = detect_with(&s, &params);
    let (needed, sent) = parent_batch(&s, &d, 119);
    assert_eq!(sent, needed as usize, "{d:#?}");
    // No spare where it would take more than half of `max-restarts`: 4
    // of 5 failing needs more passes, and a flaky parent may need all 8.
    let s = passes_then(120, &[0, 1, 2, 4, 5]).snapshot();
    let d = detect_with(&s, &params);
    let (needed, sent) = parent_batch(&s, &d, 119);
    assert!(2 * (needed + 1) > 8, "needed {needed}");
    assert_eq!(sent, needed as usize, "{d:#?}");
    // At the default budget (12) the same break leaves half of it with a
    // spare: the spare goes out.
    let d = run(&s);
    let (needed, sent) = parent_batch(&s, &d, 119);
    assert!(
        2 * (needed + 1) <= Params::default().max_restarts,
        "needed {needed}"
    );
    assert_eq!(sent, needed as usize + 1, "{d:#?}");
}

#[test]
fn a_streak_on_a_job_that_flakes_often_waits_for_a_likely_break() {
    // 120 commits on which the job failed one run in five, then `streak`
    // failures in a row: three happen by chance about once a day there.
    let noisy = |streak: usize| {
        let n = 120 + streak;
        (0..n).fold(Trunk::new(n), |t, i| {
            if i >= 120 || i % 5 == 2 {
                t.fail(i)
            } else {
                t.pass(i)
            }
        })
    };
    let s = noisy(3).snapshot();
    let d = run(&s);
    assert!(d.restarts.is_empty(), "{d:#?}");
    // The same three on a job that never failed are restarted at once.
    let s = passes_then(120, &[0, 1, 2]).snapshot();
    let d = run(&s);
    assert!(times(&s, &d, 120) >= 1, "{d:#?}");
    // Five in a row are a likely break, flaky job or not.
    let s = noisy(5).snapshot();
    let d = run(&s);
    assert!(times(&s, &d, 120) >= 1, "{d:#?}");
}

#[test]
fn a_hunt_starts_only_where_two_thirds_of_the_budget_could_end_it() {
    // 35%: 6 of 17 runs fail over 120 clean ones. All 12 runs of the parent
    // `max-restarts` allows might place it at the upper bound of its rate;
    // 8 could not, and the hunts that needed the last third were the ones
    // a parent's flake or the break's own passes left short.
    let s = passes_then(120, &[0, 3, 6, 10, 13, 16]).snapshot();
    let d = run(&s);
    let f = finding(&d, |f| f.rate.is_some());
    let t = f.rate.as_ref().expect("a rate");
    assert!(t.placeable(12) && !t.placeable(8), "{t}");
    assert!(
        f.reason.contains(
            "even 8 runs of its parent (two thirds of `max-restarts` 12) could not place the break"
        ),
        "{}",
        f.reason
    );
    assert!(d.restarts.is_empty(), "{d:#?}");
}
