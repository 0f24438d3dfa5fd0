//! `retry` end to end: which failed jobs are re-run, and what `analyze` then
//! files, with the real binary against the fake GitHub.

use std::time::Duration;

use ci_medic::github::{Client, RepoName, RetryPolicy};
use serde_json::json;

use crate::analyze_flow::gha_log;
use crate::support::action::{ActionRun, Runner, workflow_run_payload};
use crate::support::fake_github::{
    CI_WORKFLOW_PATH, DEFAULT_BRANCH, FakeGithub, Fault, JobBuilder, OWNER, REPO, RunBuilder,
};

fn network_log(minute: u32) -> String {
    gha_log(
        minute,
        "npm ci",
        &[
            "npm ERR! code ECONNRESET",
            "npm ERR! network request to https://registry.npmjs.org/left-pad failed, reason: read ECONNRESET",
            "npm ERR! network This is a problem related to network connectivity.",
        ],
    )
}

fn compile_log(minute: u32) -> String {
    gha_log(
        minute,
        "cargo build",
        &[
            "error[E0425]: cannot find value `conifg` in this scope",
            "  --> src/main.rs:4:13",
            "error: could not compile `octo` (bin \"octo\") due to 1 previous error",
        ],
    )
}

fn test_log(minute: u32) -> String {
    gha_log(
        minute,
        "pytest",
        &[
            "FAILED tests/test_api.py::test_upload - AssertionError: assert 500 == 200",
            "========================= 1 failed, 41 passed in 3.20s =========================",
        ],
    )
}

fn config(fake: &FakeGithub, text: &str) {
    fake.commit_files(
        DEFAULT_BRANCH,
        &[(".github/ci-medic.yml", text)],
        "Configure ci-medic",
    );
}

async fn on_failure(fake: &FakeGithub, run_id: u64) -> ActionRun {
    let run = fake.run(run_id).expect("run");
    let payload = workflow_run_payload(
        run_id,
        &run.name,
        &run.path,
        "failure",
        run.head_branch.as_deref().unwrap_or(DEFAULT_BRANCH),
        &run.head_sha,
    );
    Runner::new(fake).run_event("workflow_run", &payload).await
}

#[tokio::test]
async fn a_network_failure_is_re_run_and_not_filed() {
    let fake = FakeGithub::start().await;
    let run = fake.add_run(
        RunBuilder::new("CI")
            .path(CI_WORKFLOW_PATH)
            .job(JobBuilder::new("lint"))
            .job(JobBuilder::failed("build").log(network_log(1))),
    );
    let out = on_failure(&fake, run.id).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let reruns = fake.reruns();
    assert_eq!(reruns.len(), 1, "{reruns:?}");
    assert_eq!(reruns[0].job_id, Some(run.jobs[1]));
    assert!(
        fake.issues().is_empty(),
        "no issue while the re-run is pending"
    );
    assert_eq!(
        out.outputs.get("retried-jobs").map(String::as_str),
        Some("build")
    );
    assert!(
        out.summary.contains("| build | network | yes |"),
        "{}",
        out.summary
    );
    assert_snap!("network_failure_step_summary", out.summary);
    fake.assert_clean();
}

#[tokio::test]
async fn a_compilation_failure_is_not_re_run_but_filed() {
    let fake = FakeGithub::start().await;
    let run = fake.add_run(
        RunBuilder::new("CI")
            .path(CI_WORKFLOW_PATH)
            .job(JobBuilder::failed("build").log(compile_log(1))),
    );
    let out = on_failure(&fake, run.id).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(fake.reruns().is_empty());
    assert_eq!(fake.issues().len(), 1);
    assert!(
        out.summary.contains("is not fixed by re-running"),
        "{}",
        out.summary
    );
    fake.expect_labels_created(&["auto-heal", "workflow-failure", "ci-medic:compilation"]);
    fake.assert_clean();
}

#[tokio::test]
async fn several_retryable_jobs_re_run_the_failed_jobs_of_the_run() {
    let fake = FakeGithub::start().await;
    let run = fake.add_run(
        RunBuilder::new("CI")
            .path(CI_WORKFLOW_PATH)
            .job(JobBuilder::failed("build (linux)").log(network_log(1)))
            .job(JobBuilder::failed("build (macos)").log(network_log(2))),
    );
    let out = on_failure(&fake, run.id).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let reruns = fake.reruns();
    assert_eq!(reruns.len(), 1);
    assert_eq!(reruns[0].job_id, None, "one rerun-failed-jobs request");
    assert!(fake.issues().is_empty());
    fake.assert_clean();
}

#[tokio::test]
async fn a_job_is_re_run_once_then_filed_as_failing_twice() {
    let fake = FakeGithub::start().await;
    let run = fake.add_run(
        RunBuilder::new("CI")
            .path(CI_WORKFLOW_PATH)
            .job(JobBuilder::failed("build").log(network_log(1))),
    );
    assert_eq!(on_failure(&fake, run.id).await.code, 0);
    assert_eq!(fake.reruns().len(), 1);
    // The re-run (attempt 2) fails the same way.
    fake.update_run(run.id, |r, jobs| {
        r.status = "completed".into();
        r.conclusion = Some("failure".into());
        for j in jobs {
            j.status = "completed".into();
            j.conclusion = Some("failure".into());
            j.logs = crate::support::fake_github::Logs::Available(network_log(9).into_bytes());
        }
    });
    let out = on_failure(&fake, run.id).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.reruns().len(), 1, "no second automatic re-run");
    let issues = fake.issues();
    assert_eq!(issues.len(), 1);
    let body = issues[0].body.clone().unwrap_or_default();
    assert!(body.contains("failed twice"), "{body}");
    assert!(
        out.summary.contains("already at attempt 2"),
        "{}",
        out.summary
    );
    fake.expect_labels_created(&["auto-heal", "workflow-failure", "ci-medic:network"]);
    fake.assert_clean();
}

#[tokio::test]
async fn a_broad_failure_is_not_re_run() {
    let fake = FakeGithub::start().await;
    let mut b = RunBuilder::new("CI").path(CI_WORKFLOW_PATH);
    for i in 0..6 {
        b = b.job(JobBuilder::failed(&format!("shard {i}")).log(network_log(i)));
    }
    let run = fake.add_run(b);
    let out = on_failure(&fake, run.id).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(fake.reruns().is_empty());
    assert!(
        out.summary.contains("max-failed-jobs: 5"),
        "{}",
        out.summary
    );
    // Six shards with one failure make one issue, not six.
    assert_eq!(fake.issues().len(), 1);
    fake.expect_labels_created(&["auto-heal", "workflow-failure", "ci-medic:network"]);
    fake.assert_clean();
}

#[tokio::test]
async fn a_refused_re_run_is_explained_and_the_issue_is_still_filed() {
    let fake = FakeGithub::start().await;
    let run = fake.add_run(
        RunBuilder::new("CI")
            .path(CI_WORKFLOW_PATH)
            .job(JobBuilder::failed("build").log(network_log(1))),
    );
    fake.inject(
        "POST",
        r"/rerun$",
        Fault::status(403).body(json!({"message": "Resource not accessible by integration"})),
    );
    let out = on_failure(&fake, run.id).await;
    assert_eq!(
        out.code, 0,
        "a refused re-run does not fail the job: {}",
        out.stderr
    );
    assert!(fake.reruns().is_empty());
    assert!(out.stdout.contains("::warning::"), "{}", out.stdout);
    assert!(out.stdout.contains("actions: write"), "{}", out.stdout);
    assert_eq!(fake.issues().len(), 1, "analyze still files the failure");
    fake.expect_labels_created(&["auto-heal", "workflow-failure", "ci-medic:network"]);
    fake.assert_clean();
}

#[tokio::test]
async fn always_retry_and_workflow_filters_come_from_the_config() {
    let fake = FakeGithub::start().await;
    config(&fake, "retry:\n  always-retry: ['^e2e']\n");
    let run = fake.add_run(
        RunBuilder::new("CI")
            .path(CI_WORKFLOW_PATH)
            .job(JobBuilder::failed("e2e (chrome)").log(test_log(1)))
            .job(JobBuilder::failed("unit").log(compile_log(2))),
    );
    let out = on_failure(&fake, run.id).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let reruns = fake.reruns();
    assert_eq!(reruns.len(), 1);
    assert_eq!(reruns[0].job_id, Some(run.jobs[0]));
    assert!(out.summary.contains("always-retry"), "{}", out.summary);
    assert_eq!(fake.issues().len(), 1, "the compile failure is filed");
    fake.expect_labels_created(&["auto-heal", "workflow-failure", "ci-medic:compilation"]);
    fake.assert_clean();

    let fake = FakeGithub::start().await;
    config(
        &fake,
        "retry:\n  workflows: [release.yml]\nanalyze:\n  enabled: false\n",
    );
    let run = fake.add_run(
        RunBuilder::new("CI")
            .path(CI_WORKFLOW_PATH)
            .job(JobBuilder::failed("build").log(network_log(1))),
    );
    let out = on_failure(&fake, run.id).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(fake.reruns().is_empty(), "CI is not in `retry.workflows`");
    assert!(fake.issues().is_empty(), "analyze is disabled");
    fake.assert_clean();
}

#[tokio::test]
async fn a_cancelled_run_off_the_default_branch_is_left_alone() {
    let fake = FakeGithub::start().await;
    fake.commit_files("feature", &[("README.md", "x\n")], "feature work");
    let run = fake.add_run(
        RunBuilder::new("CI")
            .path(CI_WORKFLOW_PATH)
            .head_branch("feature")
            .conclusion("cancelled")
            .job(JobBuilder::new("build").conclusion("cancelled")),
    );
    let out = Runner::new(&fake)
        .exec(&["retry", "--run-id", &run.id.to_string()], None)
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(fake.reruns().is_empty());
    assert!(
        out.summary.contains("cancelled off the default branch"),
        "{}",
        out.summary
    );
    fake.assert_clean();
}

#[tokio::test]
async fn a_job_known_to_be_flaky_on_the_default_branch_is_re_run() {
    let fake = FakeGithub::start().await;
    // Yesterday: `test` failed, was re-run, and passed on the same commit.
    let earlier = fake.add_run(
        RunBuilder::new("CI")
            .path(CI_WORKFLOW_PATH)
            .created_at(chrono::Utc::now() - chrono::Duration::hours(20))
            .job(JobBuilder::failed("test").log(test_log(1))),
    );
    let c = Client::new(
        &fake.uri(),
        fake.token(),
        RepoName::parse(&format!("{OWNER}/{REPO}")).expect("repo"),
        RetryPolicy {
            base_delay: Duration::from_millis(10),
            ..RetryPolicy::default()
        },
    )
    .expect("client");
    c.rerun_failed_jobs(earlier.id).await.expect("rerun");
    fake.update_run(earlier.id, |r, jobs| {
        r.status = "completed".into();
        r.conclusion = Some("success".into());
        for j in jobs {
            j.status = "completed".into();
            j.conclusion = Some("success".into());
        }
    });
    fake.expect_rerun_of_failed_jobs(earlier.id);

    // Today the same job fails with a test failure: flaky, so re-run.
    let run = fake.add_run(
        RunBuilder::new("CI")
            .path(CI_WORKFLOW_PATH)
            .job(JobBuilder::failed("test").log(test_log(5))),
    );
    let out = on_failure(&fake, run.id).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let reruns = fake.reruns();
    assert_eq!(reruns.len(), 2, "{reruns:?}");
    assert_eq!(reruns[1].run_id, run.id);
    assert!(out.summary.contains("test (flaky)"), "{}", out.summary);
    assert!(out.summary.contains("known flaky"), "{}", out.summary);
    fake.assert_clean();
}
