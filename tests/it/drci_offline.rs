//! The offline contract of `ci-medic drci --snapshot FILE`: the verdicts as
//! JSON, or the pull request's comment as markdown, from the example
//! snapshots in `fixtures/drci/` (real job logs, analysed on load).

use std::path::PathBuf;

use serde_json::Value;

use crate::support::action::{ActionRun, Runner};
use crate::support::fake_github::FakeGithub;

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/drci")
        .join(name)
        .display()
        .to_string()
}

/// On someone's machine, outside a runner.
async fn drci(args: &[&str]) -> ActionRun {
    let fake = FakeGithub::start().await;
    let runner = Runner::new(&fake).env("GITHUB_ACTIONS", "");
    let mut all = vec!["drci"];
    all.extend_from_slice(args);
    runner.exec(&all, None).await
}

fn classes(out: &Value) -> Vec<(String, String)> {
    out["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .map(|j| {
            (
                j["name"].as_str().unwrap_or_default().to_string(),
                j["class"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn mixed_snapshot_json_covers_every_class() {
    let run = drci(&["--snapshot", &fixture("mixed.json"), "--format", "json"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out: Value = serde_json::from_str(&run.stdout).expect("json");
    let got = classes(&out);
    let want = [
        ("build / tsc", "new"),
        ("types / tsc", "new"),
        ("lint / codespell", "new"),
        ("package (default, 2, 3, linux)", "broken_trunk"),
        ("publish-preview", "flaky"),
        // The log says only that `false` failed: never unrelated, though a
        // failure with its fingerprint recovered on another pull request.
        ("milestone-check", "new"),
        ("notify", "unclassified"),
        ("changelog", "unstable"),
        ("docs / changelog-check", "unstable"),
        ("e2e (windows)", "pending"),
        ("deploy-preview", "awaiting_approval"),
        ("bench", "cancelled"),
        ("runner-smoke", "flaky"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(got, want);
    // The retried shard that passed is not listed.
    assert!(!run.stdout.contains("test (ubuntu, 1/2)"));
    assert_eq!(out["counts"]["new"], 4);
    assert_eq!(out["counts"]["unrelated"], 5);
    assert!(
        out["comment"]
            .as_str()
            .unwrap()
            .starts_with("<!-- ci-medic:drci:4242 -->\n")
    );
    assert_json_snap!("drci_mixed_json", out);
}

#[tokio::test]
async fn mixed_snapshot_markdown() {
    let run = drci(&["--snapshot", &fixture("mixed.json"), "--format", "markdown"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("## ❌ 4 New Failures, 1 Pending, 5 Unrelated Failures")
    );
    // `text` (the default) prints the same comment.
    let text = drci(&["--snapshot", &fixture("mixed.json")]).await;
    assert_eq!(text.stdout, run.stdout);
    assert_snap!("drci_mixed_markdown", run.stdout);
}

#[tokio::test]
async fn green_snapshot_says_merge_normally() {
    let run = drci(&["--snapshot", &fixture("green.json"), "--format", "json"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out: Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(out["counts"]["new"], 0);
    assert_eq!(out["counts"]["broken_trunk"], 1);
    assert_eq!(out["counts"]["flaky"], 1);
    let comment = out["comment"].as_str().unwrap();
    assert!(comment.contains("## ✅ 0 New Failures, 0 Pending, 2 Unrelated Failures"));
    assert!(comment.contains("You can merge normally."));
    assert_snap!("drci_green_markdown", comment);
}

#[tokio::test]
async fn hostile_snapshot_is_inert_in_a_runner() {
    let fake = FakeGithub::start().await;
    let runner = Runner::new(&fake);
    let snap = serde_json::json!({
        "pr": 1,
        "head_sha": "h",
        "merge_base": "b",
        "jobs": [{"name": "x <!-- ci-medic:drci:1 --> @admin\n::error::pwned",
                  "conclusion": "failure",
                  "url": "javascript:alert(1)",
                  "failure": {"text": "##[error]--> `` </details> @team", "fingerprint": "0123456789abcdef"}}],
    });
    let path = runner.path("snap.json");
    std::fs::write(&path, snap.to_string()).expect("write");
    let run = runner
        .exec(&["drci", "--snapshot", path.to_str().unwrap()], None)
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    // Inside a runner the comment is echoed inside a stop-commands block.
    assert!(run.stdout.contains("\n::stop-commands::"), "{}", run.stdout);
    assert_eq!(run.stdout.matches("<!--").count(), 1, "{}", run.stdout);
    assert!(!run.stdout.contains("javascript:"));
    let json = runner
        .exec(
            &[
                "drci",
                "--snapshot",
                path.to_str().unwrap(),
                "--format",
                "json",
            ],
            None,
        )
        .await;
    assert!(!json.stdout.contains("##["), "{}", json.stdout);
}

#[tokio::test]
async fn a_bad_snapshot_or_missing_log_is_an_error() {
    let fake = FakeGithub::start().await;
    let runner = Runner::new(&fake).env("GITHUB_ACTIONS", "");
    let bad = runner.path("bad.json");
    std::fs::write(&bad, r#"{"head_sha": "h", "merge_base": "b", "jobz": []}"#).expect("write");
    let run = runner
        .exec(&["drci", "--snapshot", bad.to_str().unwrap()], None)
        .await;
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("jobz"), "{}", run.stderr);
    let missing = runner.path("missing.json");
    std::fs::write(
        &missing,
        r#"{"head_sha": "h", "merge_base": "b", "jobs": [{"name": "t", "conclusion": "failure", "log": "nope.txt"}]}"#,
    )
    .expect("write");
    let run = runner
        .exec(&["drci", "--snapshot", missing.to_str().unwrap()], None)
        .await;
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("analysing the log of job"),
        "{}",
        run.stderr
    );
}
