//! Auto-cc against the fake GitHub: a label added to a pull request or an
//! issue cc's its subscribers (not its author) in one `cc` line, keeps
//! whoever was cc'd, writes nothing the second time, and a bad line of the
//! subscriptions issue is named in the step summary.

use serde_json::{Value, json};

use crate::support::action::{ActionRun, Runner};
use crate::support::fake_github::{
    DEFAULT_BRANCH, FakeGithub, IssueBuilder, OWNER, PullBuilder, REPO,
};

const SUBSCRIPTIONS: &str = "Add a line to be cc'd.\n\n* module: nn @alice @bob\n* oncall: jit @carol @bob\n* module: docs\n";

fn fixture(path: &str) -> Value {
    let text = std::fs::read_to_string(format!(
        "{}/fixtures/webhooks/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture");
    serde_json::from_str(&text).expect("fixture json")
}

fn names(labels: &[String]) -> Value {
    labels
        .iter()
        .map(|l| json!({"name": l}))
        .collect::<Vec<_>>()
        .into()
}

fn pr_payload(fake: &FakeGithub, number: u64, label: &str) -> Value {
    let mut v = fixture("pull_request/08-labeled.json");
    let pr = fake.pull(number).expect("pull");
    v["action"] = "labeled".into();
    v["number"] = number.into();
    v["label"] = json!({"name": label});
    let p = &mut v["pull_request"];
    p["number"] = number.into();
    p["body"] = pr.body.clone().into();
    p["user"]["login"] = pr.user.clone().into();
    p["head"]["ref"] = pr.head_ref.clone().into();
    p["head"]["sha"] = pr.head_sha.clone().into();
    p["base"]["ref"] = pr.base_ref.clone().into();
    p["labels"] = names(&pr.labels);
    v["repository"]["full_name"] = format!("{OWNER}/{REPO}").into();
    v
}

fn issue_payload(fake: &FakeGithub, number: u64, label: &str) -> Value {
    let mut v = fixture("issues/09-labeled.json");
    let issue = fake.issue(number).expect("issue");
    v["issue"]["number"] = number.into();
    v["issue"]["user"]["login"] = issue.user.clone().into();
    v["issue"]["labels"] = names(&issue.labels);
    v["label"] = json!({"name": label});
    v["repository"]["full_name"] = format!("{OWNER}/{REPO}").into();
    v
}

async fn run(fake: &FakeGithub, event: &str, payload: &Value) -> ActionRun {
    let out = Runner::new(fake).run_event(event, payload).await;
    assert_eq!(out.code, 0, "{}\n{}", out.stderr, out.stdout);
    out
}

async fn setup() -> FakeGithub {
    let fake = FakeGithub::start().await;
    let subs = fake.add_issue(IssueBuilder::new("Label subscriptions").body(SUBSCRIPTIONS));
    fake.commit_files(
        DEFAULT_BRANCH,
        &[(
            ".github/ci-medic.yml",
            &format!("labels:\n  subscriptions-issue: {subs}\n"),
        )],
        "config",
    );
    fake
}

fn body_writes(fake: &FakeGithub) -> usize {
    fake.requests_to("PATCH", r"/issues/\d+$").len()
}

#[tokio::test]
async fn a_label_cc_s_its_subscribers_once_keeping_who_was_cc_d() {
    let fake = setup().await;
    fake.commit_files("feature", &[("src/a.rs", "x\n")], "change");
    let n = fake.add_pull(
        PullBuilder::new("feature", "Change")
            .user("alice")
            .body("Fixes a bug.\n\ncc @zed")
            .label("module: nn")
            .label("oncall: jit"),
    );
    let out = run(
        &fake,
        "pull_request_target",
        &pr_payload(&fake, n, "oncall: jit"),
    )
    .await;
    assert_eq!(
        fake.pull(n).expect("pull").body.as_deref(),
        Some("Fixes a bug.\n\ncc @zed @bob @carol")
    );
    // The line without handles is an error that names it.
    assert!(
        out.summary
            .contains("line 5: no `@user` or `@org/team` after the label"),
        "{}",
        out.summary
    );

    run(
        &fake,
        "pull_request_target",
        &pr_payload(&fake, n, "oncall: jit"),
    )
    .await;
    assert_eq!(body_writes(&fake), 1);
}

#[tokio::test]
async fn an_issue_is_cc_d_too_and_labels_without_subscribers_write_nothing() {
    let fake = setup().await;
    let i = fake.add_issue(
        IssueBuilder::new("Crash")
            .user("dave")
            .body("It crashes.")
            .label("module: nn"),
    );
    run(&fake, "issues", &issue_payload(&fake, i, "module: nn")).await;
    assert_eq!(
        fake.issue(i).expect("issue").body.as_deref(),
        Some("It crashes.\n\ncc @alice @bob")
    );
    let j = fake.add_issue(IssueBuilder::new("Other").body("x").label("bug"));
    run(&fake, "issues", &issue_payload(&fake, j, "bug")).await;
    assert_eq!(fake.issue(j).expect("issue").body.as_deref(), Some("x"));
    assert_eq!(body_writes(&fake), 1);
}
