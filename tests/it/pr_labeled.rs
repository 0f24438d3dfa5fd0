//! One `pull_request.labeled` that concerns four handlers at once
//! (auto-label, required labels, auto-cc, ciflow): each one's writes land
//! from one run, and the same delivery again writes nothing more.

use serde_json::{Value, json};

use crate::support::action::Runner;
use crate::support::fake_github::{
    DEFAULT_BRANCH, FakeGithub, IssueBuilder, OWNER, PullBuilder, REPO,
};

fn payload(fake: &FakeGithub, number: u64, label: &str) -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/webhooks/pull_request/08-labeled.json"
    ))
    .expect("fixture");
    let mut v: Value = serde_json::from_str(&text).expect("fixture json");
    let pr = fake.pull(number).expect("pull");
    v["action"] = "labeled".into();
    v["number"] = number.into();
    v["label"] = json!({"name": label});
    let p = &mut v["pull_request"];
    p["number"] = number.into();
    p["title"] = pr.title.clone().into();
    p["body"] = pr.body.clone().into();
    p["draft"] = false.into();
    p["user"]["login"] = pr.user.clone().into();
    p["head"]["ref"] = pr.head_ref.clone().into();
    p["head"]["sha"] = pr.head_sha.clone().into();
    p["base"]["ref"] = pr.base_ref.clone().into();
    p["labels"] = pr
        .labels
        .iter()
        .map(|l| json!({"name": l}))
        .collect::<Vec<_>>()
        .into();
    v["repository"]["full_name"] = format!("{OWNER}/{REPO}").into();
    v
}

/// Requests that write, as `METHOD operation` lines.
fn writes(fake: &FakeGithub) -> Vec<String> {
    fake.requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.operation.unwrap_or(r.path)))
        .collect()
}

#[tokio::test]
async fn one_label_event_four_handlers_one_run_and_a_repeat_writes_nothing() {
    let fake = FakeGithub::start().await;
    let subs = fake
        .add_issue(IssueBuilder::new("Label subscriptions").body("* ciflow/trunk @ci-watcher\n"));
    let config = format!(
        r#"labels:
  rules:
    - any: ["ciflow/trunk"]
      then: ["ci: triggered"]
  required: ["release notes: *"]
  subscriptions-issue: {subs}
ciflow:
  labels: [ciflow/trunk]
"#
    );
    fake.commit_files(
        DEFAULT_BRANCH,
        &[(".github/ci-medic.yml", &config)],
        "config",
    );
    fake.add_label("ci: triggered", "ededed", None);
    let sha = fake.commit_files("feature", &[("src/a.rs", "x\n")], "change");
    let n = fake.add_pull(
        PullBuilder::new("feature", "Change")
            .user("alice")
            .body("Speeds things up.")
            .label("ciflow/trunk"),
    );
    fake.set_permission("alice", "write");
    let event = payload(&fake, n, "ciflow/trunk");

    let out = Runner::new(&fake)
        .run_event("pull_request_target", &event)
        .await;
    assert_eq!(out.code, 0, "{}\n{}", out.stderr, out.stdout);
    let pr = fake.pull(n).expect("pull");
    // auto-label: the label the rule implies.
    assert!(
        pr.labels.iter().any(|l| l == "ci: triggered"),
        "{:?}",
        pr.labels
    );
    // auto-cc: the label's subscriber.
    assert_eq!(
        pr.body.as_deref(),
        Some("Speeds things up.\n\ncc @ci-watcher")
    );
    // required labels: one comment and a failing check run.
    let comments = fake.comments(n);
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(comments[0].body.contains("release notes: *"));
    let checks = fake.check_runs();
    assert_eq!(checks.len(), 1);
    assert_eq!(checks[0].conclusion.as_deref(), Some("failure"));
    // ciflow: the tag at the head.
    assert_eq!(
        fake.refs().get(&format!("refs/tags/ciflow/trunk/{n}")),
        Some(&sha)
    );
    let first = writes(&fake);
    assert_eq!(
        first,
        [
            "POST issues/add-labels",
            "POST issues/create-comment",
            "POST checks/create",
            "PATCH issues/update",
            "POST git/create-ref",
        ],
        "{first:?}"
    );

    // The same delivery again: every handler finds its work done.
    let out = Runner::new(&fake)
        .run_event("pull_request_target", &event)
        .await;
    assert_eq!(out.code, 0, "{}\n{}", out.stderr, out.stdout);
    assert_eq!(writes(&fake), first);
}
