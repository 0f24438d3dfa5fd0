//! Cancel on close against the fake GitHub: closing a pull request without
//! merging cancels its queued and running runs, and nothing else.

use serde_json::Value;

use crate::support::action::Runner;
use crate::support::fake_github::{
    DEFAULT_BRANCH, FakeGithub, OWNER, PullBuilder, REPO, RunBuilder,
};

fn closed_payload(fake: &FakeGithub, number: u64, merged: bool, author: &str) -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/webhooks/pull_request/03-closed.json"
    ))
    .expect("fixture");
    let mut v: Value = serde_json::from_str(&text).expect("fixture json");
    let pr = fake.pull(number).expect("pull");
    v["number"] = number.into();
    let p = &mut v["pull_request"];
    p["number"] = number.into();
    p["merged"] = merged.into();
    p["user"]["login"] = author.into();
    p["user"]["type"] = if author.ends_with("[bot]") {
        "Bot"
    } else {
        "User"
    }
    .into();
    p["head"]["ref"] = pr.head_ref.clone().into();
    p["head"]["sha"] = pr.head_sha.clone().into();
    p["base"]["ref"] = pr.base_ref.clone().into();
    v["repository"]["full_name"] = format!("{OWNER}/{REPO}").into();
    v
}

fn run_on(fake: &FakeGithub, event: &str, status: &str, sha: &str, workflow: &str) -> u64 {
    fake.add_run(
        RunBuilder::new(workflow)
            .path(&format!(
                ".github/workflows/{}.yml",
                workflow.to_lowercase()
            ))
            .event(event)
            .head_branch("feature")
            .head_sha(sha)
            .status(status),
    )
    .id
}

#[tokio::test]
async fn closing_unmerged_cancels_its_active_runs_once_and_nothing_else() {
    let fake = FakeGithub::start().await;
    fake.commit_files(
        DEFAULT_BRANCH,
        &[(
            ".github/ci-medic.yml",
            "cancel-on-close:\n  workflows: [ci.yml, Lint]\n",
        )],
        "config",
    );
    let sha = fake.commit_files("feature", &[("src/a.rs", "x\n")], "change");
    let n = fake.add_pull(PullBuilder::new("feature", "Change").user("alice"));
    let running = run_on(&fake, "pull_request", "in_progress", &sha, "CI");
    let queued = run_on(&fake, "pull_request", "queued", &sha, "Lint");
    let other_workflow = run_on(&fake, "pull_request", "in_progress", &sha, "Docs");
    let push = run_on(&fake, "push", "in_progress", &sha, "CI");
    let done = run_on(&fake, "pull_request", "completed", &sha, "CI");

    set_state(&fake, n, "closed");
    let payload = closed_payload(&fake, n, false, "alice");
    let out = Runner::new(&fake)
        .run_event("pull_request_target", &payload)
        .await;
    assert_eq!(out.code, 0, "{}\n{}", out.stderr, out.stdout);
    for id in [running, queued] {
        let r = fake.run(id).expect("run");
        assert_eq!(r.conclusion.as_deref(), Some("cancelled"), "run {id}");
    }
    for id in [other_workflow, push] {
        assert_eq!(fake.run(id).expect("run").status, "in_progress", "run {id}");
    }
    assert_eq!(fake.run(done).expect("run").status, "completed");
    assert_eq!(fake.requests_to("POST", r"/cancel$").len(), 2);

    // Delivered again: nothing left to cancel.
    let out = Runner::new(&fake)
        .run_event("pull_request_target", &payload)
        .await;
    assert_eq!(out.code, 0, "{}\n{}", out.stderr, out.stdout);
    assert_eq!(fake.requests_to("POST", r"/cancel$").len(), 2);

    // Reopened, CI runs again on the same head: the `closed` event delivered
    // late (or again) leaves those runs alone.
    set_state(&fake, n, "open");
    let rerun = run_on(&fake, "pull_request", "in_progress", &sha, "CI");
    let out = Runner::new(&fake)
        .run_event("pull_request_target", &payload)
        .await;
    assert_eq!(out.code, 0, "{}\n{}", out.stderr, out.stdout);
    assert_eq!(fake.run(rerun).expect("run").status, "in_progress");
    assert_eq!(fake.requests_to("POST", r"/cancel$").len(), 2);
}

/// Close or reopen pull request `n` on the fake, as the delivered event did.
fn set_state(fake: &FakeGithub, n: u64, state: &str) {
    fake.with_world(|w| {
        let (_, repo, _) = w.split(&format!("{OWNER}/{REPO}")).expect("repo");
        repo.issues.get_mut(&n).expect("pull").state = state.into();
    });
}

#[tokio::test]
async fn merged_and_bot_pull_requests_are_left_alone() {
    let fake = FakeGithub::start().await;
    fake.commit_files(
        DEFAULT_BRANCH,
        &[(".github/ci-medic.yml", "cancel-on-close: {}\n")],
        "config",
    );
    let sha = fake.commit_files("feature", &[("src/a.rs", "x\n")], "change");
    let n = fake.add_pull(PullBuilder::new("feature", "Change").user("alice"));
    let running = run_on(&fake, "pull_request", "in_progress", &sha, "CI");
    for (merged, author) in [(true, "alice"), (false, "dependabot[bot]")] {
        let out = Runner::new(&fake)
            .run_event(
                "pull_request_target",
                &closed_payload(&fake, n, merged, author),
            )
            .await;
        assert_eq!(out.code, 0, "{}\n{}", out.stderr, out.stdout);
    }
    assert_eq!(fake.run(running).expect("run").status, "in_progress");
    assert!(fake.requests_to("POST", r"/cancel$").is_empty());
    assert!(fake.requests_to("GET", r"/actions/runs$").is_empty());
}
