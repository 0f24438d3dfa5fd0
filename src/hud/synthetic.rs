//! Synthetic CI history in ClickHouse, at any scale, for measuring the
//! `clickhouse` source (`benches/hud.rs`) and testing it small: job rows
//! over a window of trunk commits (with failures that carry fingerprints,
//! some retried to a pass), the pushes of those commits, autorevert's
//! decisions, and downstream results from many backends on many pull
//! requests (retried attempts, results on an older head, jobs still running,
//! results whose origin was not verified). Rows are generated and inserted
//! a batch at a time, never all at once. The data is the same on every run.

use anyhow::Result;
use chrono::{DateTime, Duration, Utc};

use crate::crcr::row::CrcrJobRow;
use crate::store::{
    AutorevertAction, AutorevertEvent, JobFailure, JobRow, PushCommit, PushRow, Store, TableRows,
};

/// Rows inserted per batch.
pub const BATCH: usize = 10_000;

/// How much to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scale {
    /// Job rows (retries included).
    pub jobs: usize,
    /// Failed job rows, each with a fingerprint (at most `jobs`).
    pub failures: usize,
    /// Distinct fingerprints the failures share.
    pub fingerprints: usize,
    /// Jobs per trunk commit.
    pub jobs_per_commit: usize,
    /// Downstream backends.
    pub backends: usize,
    /// Pull requests with downstream results.
    pub prs: usize,
    /// Jobs each backend runs on a pull request.
    pub downstream_jobs: usize,
    /// Autorevert decisions.
    pub decisions: usize,
}

impl Scale {
    /// The scale the HUD is measured at: 1M job rows, 10k failure
    /// occurrences, 50 downstream backends.
    pub const BENCH: Scale = Scale {
        jobs: 1_000_000,
        failures: 10_000,
        fingerprints: 500,
        jobs_per_commit: 100,
        backends: 50,
        prs: 400,
        downstream_jobs: 8,
        decisions: 200,
    };

    /// A few hundred rows: the same shapes, fast enough for a test.
    pub const TINY: Scale = Scale {
        jobs: 600,
        failures: 60,
        fingerprints: 7,
        jobs_per_commit: 12,
        backends: 3,
        prs: 60,
        downstream_jobs: 3,
        decisions: 6,
    };
}

/// What was written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    pub jobs: usize,
    pub failures: usize,
    pub pushes: usize,
    pub decisions: usize,
    pub downstream: usize,
}

pub const WORKFLOWS: [&str; 4] = ["pull", "trunk", "inductor", "lint"];

/// A commit's sha: 40 hex digits from its index.
pub fn sha(i: usize) -> String {
    format!("{:040x}", (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

/// A pull request's head (`version` 0 is the current one).
pub fn pr_head(pr: u64, version: u64) -> String {
    format!(
        "{:040x}",
        (1u128 << 100) | (u128::from(pr) << 32) | u128::from(version)
    )
}

/// Write `scale`'s rows for `repo` into `store`: commits spread over the
/// `since_days` days before `now`, the newest at `now`.
pub async fn generate(
    store: &Store,
    repo: &str,
    scale: Scale,
    now: DateTime<Utc>,
    since_days: u32,
) -> Result<Written> {
    let mut written = Written::default();
    let per_commit = scale.jobs_per_commit.max(1);
    let commits = scale.jobs.div_ceil(per_commit).max(1);
    let window_ms = i64::from(since_days.max(1)) * 86_400_000 - 3_600_000;
    let commit_time = |c: usize| {
        // Commit 0 is the oldest.
        let back = window_ms * (commits - 1 - c) as i64 / commits.max(2) as i64;
        now - Duration::milliseconds(back + 60_000)
    };
    let stride = if scale.failures == 0 {
        usize::MAX
    } else {
        // Every third failure is retried: those rows come out of the total.
        let retries = scale.failures.div_ceil(3);
        (scale.jobs.saturating_sub(retries) / scale.failures).max(1)
    };

    // Jobs, a batch at a time; every third failure is retried to a pass.
    let mut batch: Vec<JobRow> = Vec::with_capacity(BATCH);
    let mut id: i64 = 1;
    let mut i = 0usize;
    while written.jobs < scale.jobs {
        let c = (i / per_commit).min(commits - 1);
        let slot = i % per_commit;
        let failed = i.is_multiple_of(stride) && written.failures < scale.failures;
        let workflow = WORKFLOWS[slot % WORKFLOWS.len()];
        let created = commit_time(c) + Duration::seconds(slot as i64);
        let run_id = (c * WORKFLOWS.len() + slot % WORKFLOWS.len()) as i64 + 1;
        let mut row = JobRow {
            id,
            run_id,
            run_attempt: 1,
            repository_full_name: repo.to_string(),
            workflow_name: workflow.to_string(),
            workflow_event: "push".into(),
            head_sha: sha(c),
            head_branch: "main".into(),
            name: format!(
                "{workflow} / test ({}, {per_commit})",
                slot / WORKFLOWS.len()
            ),
            labels: vec!["linux.2xlarge".into()],
            runner_name: format!("runner-{}", slot % 7),
            status: "completed".into(),
            conclusion: if failed { "failure" } else { "success" }.into(),
            created_at: created,
            started_at: Some(created + Duration::seconds(30)),
            completed_at: Some(created + Duration::seconds(600)),
            steps: Vec::new(),
            failure: JobFailure::default(),
            html_url: format!("https://github.com/{repo}/actions/runs/{run_id}/job/{id}"),
            updated_at: created + Duration::seconds(601),
        };
        if failed {
            let fp = (i / stride) % scale.fingerprints.max(1);
            row.failure = JobFailure {
                rule: "pytest-failed".into(),
                category: ["test", "infra", "build", "network"][fp % 4].into(),
                line: format!("FAILED test/test_ops.py::TestCase{fp}::test_case - AssertionError"),
                line_num: 100 + fp as i64,
                captures: vec![format!("TestCase{fp}")],
                fingerprint: format!("{:016x}", (fp as u64).wrapping_mul(0x2545_f491_4f6c_dd1d)),
            };
            written.failures += 1;
        }
        let retry = failed && (i / stride).is_multiple_of(3) && written.jobs + 1 < scale.jobs;
        batch.push(row.clone());
        written.jobs += 1;
        id += 1;
        if retry {
            let mut again = row;
            again.id = id;
            again.run_attempt = 2;
            again.conclusion = "success".into();
            again.failure = JobFailure::default();
            again.html_url = format!("https://github.com/{repo}/actions/runs/{run_id}/job/{id}");
            again.updated_at += Duration::seconds(900);
            batch.push(again);
            written.jobs += 1;
            id += 1;
        }
        i += 1;
        if batch.len() >= BATCH {
            store.insert_jobs(&batch).await?;
            batch.clear();
        }
    }
    store.insert_jobs(&batch).await?;
    drop(batch);

    // One push per commit to the default branch.
    let mut pushes: Vec<PushRow> = Vec::with_capacity(BATCH.min(commits));
    for c in 0..commits {
        let at = commit_time(c);
        pushes.push(PushRow {
            repository_full_name: repo.to_string(),
            git_ref: "refs/heads/main".into(),
            after: sha(c),
            pushed_at: at,
            commits: vec![PushCommit {
                id: sha(c),
                timestamp: at,
                message: format!("Change {c} (#{})", 1000 + c),
                author: "octocat".into(),
            }],
        });
        if pushes.len() >= BATCH {
            written.pushes += pushes.len();
            store.insert_pushes(&pushes).await?;
            pushes.clear();
        }
    }
    written.pushes += pushes.len();
    store.insert_pushes(&pushes).await?;

    // Autorevert's decisions on the newest commits.
    let events: Vec<AutorevertEvent> = (0..scale.decisions)
        .map(|d| {
            let c = commits.saturating_sub(1 + d);
            let action = [
                AutorevertAction::Restart,
                AutorevertAction::Revert,
                AutorevertAction::Notify,
            ][d % 3];
            AutorevertEvent {
                ts: commit_time(c) + Duration::seconds(30),
                repository_full_name: repo.to_string(),
                action,
                commit_sha: sha(c),
                workflows: vec!["trunk".into()],
                signals: vec!["trunk / test (0, 12)".into()],
                verdict: "confirmed".into(),
                reason: format!("failed on {} and passed before", sha(c)),
                dry_run: d % 4 == 0,
                failed: false,
                notes: String::new(),
            }
        })
        .collect();
    written.decisions = events.len();
    store.insert_autorevert_events(&events).await?;

    // Downstream results: each backend on most pull requests.
    let mut rows: Vec<CrcrJobRow> = Vec::with_capacity(BATCH);
    let mut run_id: i64 = 1;
    for b in 0..scale.backends {
        let downstream_repo = format!("backend-{b:02}/torch-{}", ["npu", "xpu", "mps"][b % 3]);
        for pr in 1..=scale.prs as u64 {
            if (pr + b as u64).is_multiple_of(7) {
                continue;
            }
            let received = now - Duration::minutes(((scale.prs as u64 - pr) * 5 + b as u64) as i64);
            let mut push =
                |head: String, run: i64, attempt: i64, j: usize, concl: &str, at: DateTime<Utc>| {
                    let (status, conclusion) = if concl.is_empty() {
                        ("in_progress", "")
                    } else {
                        ("completed", concl)
                    };
                    rows.push(CrcrJobRow {
                        downstream_repo: downstream_repo.clone(),
                        level: format!("L{}", 2 + (b % 3)),
                        upstream_repo: repo.to_string(),
                        pr_number: pr,
                        head_sha: head,
                        workflow_name: "downstream".into(),
                        job_name: format!("test-{j}"),
                        run_id: run,
                        run_attempt: attempt,
                        check_run_id: 0,
                        status: status.into(),
                        conclusion: conclusion.into(),
                        started_at: Some(at - Duration::seconds(300 + 10 * j as i64)),
                        completed_at: (!concl.is_empty()).then_some(at),
                        received_at: at,
                        queue_time_s: Some(20),
                        execution_time_s: (!concl.is_empty()).then_some(300 + 10 * j as i64),
                        tests_total: 100 + j as i64,
                        tests_passed: 100 + j as i64,
                        tests_failed: i64::from(concl == "failure"),
                        tests_skipped: 0,
                        log_url: format!("https://github.com/{downstream_repo}/actions/runs/{run}"),
                        artifact_url: String::new(),
                        environment: String::new(),
                        trusted: !(pr + b as u64).is_multiple_of(11),
                        updated_at: at,
                    });
                };
            for j in 0..scale.downstream_jobs {
                let k = pr as usize + b + j;
                // An older head, whose results no longer count.
                if pr.is_multiple_of(5) {
                    push(
                        pr_head(pr, 1),
                        run_id + 1_000_000_000,
                        1,
                        j,
                        "failure",
                        received - Duration::hours(3),
                    );
                }
                match k % 6 {
                    0 => {
                        push(
                            pr_head(pr, 0),
                            run_id,
                            1,
                            j,
                            "failure",
                            received - Duration::minutes(30),
                        );
                        push(pr_head(pr, 0), run_id, 2, j, "success", received);
                    }
                    1 => push(pr_head(pr, 0), run_id, 1, j, "failure", received),
                    2 if pr.is_multiple_of(3) => push(pr_head(pr, 0), run_id, 1, j, "", received),
                    _ => push(pr_head(pr, 0), run_id, 1, j, "success", received),
                }
                run_id += 1;
            }
            if rows.len() >= BATCH {
                written.downstream += rows.len();
                store
                    .insert(&TableRows::CrcrJobs(std::mem::take(&mut rows)))
                    .await?;
            }
        }
    }
    written.downstream += rows.len();
    store.insert(&TableRows::CrcrJobs(rows)).await?;
    Ok(written)
}
