//! What people read, snapshot-tested: the offline outputs of the bundled
//! examples (`analyze` text and JSON, the autorevert grid), and the dry-run
//! plans (text and JSON) of the jobs against the fake GitHub.
//!
//! Bodies written to GitHub (issues, comments, pull requests) and step
//! summaries are snapshot-tested in the flow tests that produce them.

use std::path::Path;

use crate::analyze_flow::{gha_log, missing_module_log, without_retry};
use crate::autorevert_flow::{Setup, confirm, json_of, trunk};
use crate::heal_flow::analysed_issue;
use crate::support::action::{Runner, workflow_run_payload};
use crate::support::fake_github::{
    CI_WORKFLOW_PATH, DEFAULT_BRANCH, FakeGithub, JobBuilder, RunBuilder,
};
use crate::support::snap;

/// What one offline run of the binary printed.
struct Offline {
    code: i32,
    stdout: String,
    stderr: String,
    summary: String,
}

/// Runs the binary outside Actions, from the repository root (so paths in
/// the output are the relative ones given), with a step summary file.
async fn offline(args: &[&str]) -> Offline {
    let tmp = tempfile::tempdir().expect("temp dir");
    let summary = tmp.path().join("summary.md");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_ci-medic"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GITHUB_STEP_SUMMARY", &summary)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .kill_on_drop(true)
        .output()
        .await
        .expect("ci-medic runs");
    Offline {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        summary: std::fs::read_to_string(&summary).unwrap_or_default(),
    }
}

const EXAMPLE: &str = "fixtures/example/run-logs.zip";

#[tokio::test]
async fn analyze_text_of_the_bundled_example() {
    let out = offline(&["analyze", "--log", EXAMPLE]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.starts_with("Failure category: compilation"),
        "{}",
        out.stdout
    );
    assert_snap!("analyze_example_text", out.stdout);
}

#[tokio::test]
async fn analyze_json_of_the_bundled_example() {
    let out = offline(&["analyze", "--log", EXAMPLE, "--format", "json"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON on stdout");
    assert_eq!(json["category"], "compilation");
    // The text itself is the contract (field order, layout), not only its value.
    assert_snap!("analyze_example_json", out.stdout);
}

/// Each autorevert fixture's decisions as text, and its step summary with
/// the grid of every pattern.
#[tokio::test]
async fn autorevert_text_and_grid_of_each_fixture() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/autorevert");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json") && !n.ends_with(".expected.json"))
        .map(|n| n.trim_end_matches(".json").to_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 8, "only {names:?}");
    for name in names {
        let source = format!("file:fixtures/autorevert/{name}.json");
        let out = offline(&["autorevert", "--source", &source]).await;
        assert_eq!(out.code, 0, "{name}: {}", out.stderr);
        assert!(
            out.summary.starts_with("## ci-medic autorevert"),
            "{name}: {}",
            out.summary
        );
        let text = format!(
            "--- stdout ---\n{}\n--- step summary ---\n{}",
            out.stdout, out.summary
        );
        assert_snap!(format!("autorevert_{name}"), text);
    }
}

/// Every JSON document on stdout, past the workflow commands.
fn json_documents(stdout: &str) -> Vec<serde_json::Value> {
    let start = stdout.find('{').unwrap_or(stdout.len());
    serde_json::Deserializer::from_str(&stdout[start..])
        .into_iter::<serde_json::Value>()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// A failed run of CI whose `test (3.12)` job misses a Python module, with
/// retry off.
fn failed_run(fake: &FakeGithub) -> u64 {
    without_retry(fake);
    fake.add_run(
        RunBuilder::new("CI")
            .path(CI_WORKFLOW_PATH)
            .job(JobBuilder::new("lint"))
            .job(JobBuilder::failed("test (3.12)").log(missing_module_log(1, "tmpa1b2c3"))),
    )
    .id
}

#[tokio::test]
async fn dry_run_plan_of_a_failed_run_as_text() {
    let fake = FakeGithub::start().await;
    let run = failed_run(&fake);
    let sha = fake.run(run).map(|r| r.head_sha).unwrap_or_default();
    let payload =
        workflow_run_payload(run, "CI", CI_WORKFLOW_PATH, "failure", DEFAULT_BRANCH, &sha);
    let out = Runner::new(&fake)
        .env("INPUT_DRY-RUN", "true")
        .run_event("workflow_run", &payload)
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_snap!("dry_run_failed_run_stdout", out.stdout);
    assert_snap!("dry_run_failed_run_summary", out.summary);
    assert!(fake.issues().is_empty());
    fake.expect_no_labels_created();
    fake.assert_clean();
}

#[tokio::test]
async fn dry_run_plan_of_a_failed_run_as_json() {
    let fake = FakeGithub::start().await;
    let run = failed_run(&fake);
    let out = Runner::new(&fake)
        .exec(
            &[
                "analyze",
                "--run-id",
                &run.to_string(),
                "--dry-run",
                "--format",
                "json",
            ],
            None,
        )
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let json = json_of(&out);
    assert_eq!(json["report"]["dry_run"], true, "{json}");
    assert_json_snap!("dry_run_failed_run_json", json);
    assert!(fake.issues().is_empty());
    fake.expect_no_labels_created();
    fake.assert_clean();
}

/// A run whose `build` job lost its network: retry's business.
fn network_failure(fake: &FakeGithub) -> u64 {
    let log = gha_log(
        1,
        "npm ci",
        &[
            "npm ERR! code ECONNRESET",
            "npm ERR! network request to https://registry.npmjs.org/left-pad failed, reason: read ECONNRESET",
        ],
    );
    fake.add_run(
        RunBuilder::new("CI")
            .path(CI_WORKFLOW_PATH)
            .job(JobBuilder::new("lint"))
            .job(JobBuilder::failed("build").log(log)),
    )
    .id
}

#[tokio::test]
async fn dry_run_plan_of_retry_as_text_and_json() {
    let fake = FakeGithub::start().await;
    let run = network_failure(&fake);
    let id = run.to_string();
    let runner = Runner::new(&fake);
    let text = runner
        .exec(&["retry", "--run-id", &id, "--dry-run"], None)
        .await;
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert_snap!("dry_run_retry_stdout", text.stdout);
    assert_snap!("dry_run_retry_summary", text.summary);
    let json = runner
        .exec(
            &["retry", "--run-id", &id, "--dry-run", "--format", "json"],
            None,
        )
        .await;
    assert_eq!(json.code, 0, "{}", json.stderr);
    assert_json_snap!("dry_run_retry_json", json_of(&json));
    fake.expect_no_reruns();
    fake.assert_clean();
}

#[tokio::test]
async fn dry_run_plan_of_heal_as_text_and_json() {
    let fake = FakeGithub::start().await;
    let n = analysed_issue(&fake, missing_module_log(1, "tmpa1b2c3")).await;
    let issue = n.to_string();
    let runner = Runner::new(&fake);
    let text = runner
        .exec(&["heal", "--issue", &issue, "--dry-run"], None)
        .await;
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert_snap!("dry_run_heal_stdout", text.stdout);
    assert_snap!("dry_run_heal_summary", text.summary);
    let json = runner
        .exec(
            &["heal", "--issue", &issue, "--dry-run", "--format", "json"],
            None,
        )
        .await;
    assert_eq!(json.code, 0, "{}", json.stderr);
    // One plan: what needs the pull request's number takes it from the
    // step that opens it.
    let docs = json_documents(&json.stdout);
    assert_eq!(docs.len(), 1, "{}", json.stdout);
    assert_json_snap!("dry_run_heal_json", docs);
    assert!(fake.pulls().is_empty());
    assert!(fake.comments(n).is_empty());
    fake.assert_clean();
}

#[tokio::test]
async fn dry_run_plan_of_autorevert_as_text_and_json() {
    let t = trunk(Setup::default()).await;
    confirm(&t);
    let runner = Runner::new(&t.fake);
    let text = runner.exec(&["autorevert", "--dry-run"], None).await;
    assert_eq!(text.code, 0, "{}", text.stderr);
    let json = runner
        .exec(&["autorevert", "--dry-run", "--format", "json"], None)
        .await;
    assert_eq!(json.code, 0, "{}", json.stderr);
    // The trunk is built on the real clock: its commits differ every run.
    snap::with_shas_and_times(&t.commits).bind(|| {
        insta::assert_snapshot!("dry_run_autorevert_stdout", text.stdout);
        insta::assert_snapshot!("dry_run_autorevert_summary", text.summary);
        insta::assert_json_snapshot!("dry_run_autorevert_json", json_of(&json));
    });
    assert!(t.fake.pulls().iter().all(|p| p.number == t.pull));
    assert!(t.fake.dispatches().is_empty());
    t.fake.assert_clean();
}
