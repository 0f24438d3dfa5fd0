//! Stale approvals against the fake GitHub: an outsider's reopened pull
//! request loses its approvals, with one comment however often the event
//! comes; a writer's keeps them; new commits count only with the config.

use serde_json::{Value, json};

use crate::support::action::{ActionRun, Runner};
use crate::support::fake_github::{DEFAULT_BRANCH, FakeGithub, OWNER, PullBuilder, REPO};

fn payload(fake: &FakeGithub, number: u64, action: &str) -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/webhooks/pull_request/18-reopened.json"
    ))
    .expect("fixture");
    let mut v: Value = serde_json::from_str(&text).expect("fixture json");
    let pr = fake.pull(number).expect("pull");
    v["action"] = action.into();
    v["number"] = number.into();
    let p = &mut v["pull_request"];
    p["number"] = number.into();
    p["user"]["login"] = pr.user.clone().into();
    p["head"]["ref"] = pr.head_ref.clone().into();
    p["base"]["ref"] = pr.base_ref.clone().into();
    p["labels"] = json!([]);
    v["repository"]["full_name"] = format!("{OWNER}/{REPO}").into();
    v
}

async fn run(fake: &FakeGithub, payload: &Value) -> ActionRun {
    let out = Runner::new(fake)
        .run_event("pull_request_target", payload)
        .await;
    assert_eq!(out.code, 0, "{}\n{}", out.stderr, out.stdout);
    out
}

async fn setup(config: &str, author: &str) -> (FakeGithub, u64) {
    let fake = FakeGithub::start().await;
    fake.commit_files(
        DEFAULT_BRANCH,
        &[(".github/ci-medic.yml", config)],
        "config",
    );
    fake.commit_files("feature", &[("src/a.rs", "x\n")], "change");
    let n = fake.add_pull(PullBuilder::new("feature", "Change").user(author));
    (fake, n)
}

fn states(fake: &FakeGithub, n: u64) -> Vec<(String, String)> {
    fake.reviews(n)
        .into_iter()
        .map(|r| (r.user, r.state))
        .collect()
}

#[tokio::test]
async fn an_outsiders_reopened_pull_request_loses_its_approvals_with_one_comment() {
    let (fake, n) = setup("stale-approvals: {}\n", "outsider").await;
    fake.set_permission("outsider", "read");
    fake.add_review(n, "alice", "APPROVED");
    fake.add_review(n, "bob", "COMMENTED");
    fake.add_review(n, "carol", "APPROVED");
    fake.add_review(n, "carol", "CHANGES_REQUESTED");

    let reopened = payload(&fake, n, "reopened");
    run(&fake, &reopened).await;
    assert_eq!(
        states(&fake, n),
        [
            ("alice".into(), "DISMISSED".into()),
            ("bob".into(), "COMMENTED".into()),
            ("carol".into(), "APPROVED".into()),
            ("carol".into(), "CHANGES_REQUESTED".into()),
        ]
    );
    let dismissals = fake.requests_to("PUT", r"/reviews/\d+/dismissals$");
    assert_eq!(dismissals.len(), 1);
    let body = dismissals[0].json().expect("json");
    assert_eq!(body["event"], "DISMISS");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("write access")),
        "{body}"
    );
    let comments = fake.comments(n);
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(comments[0].body.contains("`alice`"), "{}", comments[0].body);
    assert!(!comments[0].body.contains("carol"), "{}", comments[0].body);

    // Delivered again: nothing is left to dismiss, and no second comment.
    run(&fake, &reopened).await;
    assert_eq!(fake.requests_to("PUT", r"/dismissals$").len(), 1);
    assert_eq!(fake.comments(n).len(), 1);

    // New commits without `on-synchronize`: not looked at.
    fake.add_review(n, "dave", "APPROVED");
    run(&fake, &payload(&fake, n, "synchronize")).await;
    assert_eq!(states(&fake, n)[4], ("dave".into(), "APPROVED".into()));
}

#[tokio::test]
async fn a_writers_approvals_stand_and_new_commits_count_with_the_config() {
    let (fake, n) = setup("stale-approvals:\n  on-synchronize: true\n", "alice").await;
    fake.set_permission("alice", "write");
    fake.add_review(n, "bob", "APPROVED");
    run(&fake, &payload(&fake, n, "reopened")).await;
    run(&fake, &payload(&fake, n, "synchronize")).await;
    assert_eq!(states(&fake, n), [("bob".into(), "APPROVED".into())]);
    // The author's access is all it read: no reviews, no writes.
    assert!(fake.requests_to("GET", r"/reviews$").is_empty());
    assert!(fake.comments(n).is_empty());

    let (fake, n) = setup("stale-approvals:\n  on-synchronize: true\n", "outsider").await;
    fake.add_review(n, "bob", "APPROVED");
    fake.commit_files("feature", &[("src/a.rs", "y\n")], "more");
    let pushed = payload(&fake, n, "synchronize");
    run(&fake, &pushed).await;
    assert_eq!(states(&fake, n), [("bob".into(), "DISMISSED".into())]);
    let comments = fake.comments(n);
    assert_eq!(comments.len(), 1);
    assert!(
        comments[0].body.contains("received new commits"),
        "{}",
        comments[0].body
    );

    // Bob approves the new head; the push event delivered again (or late)
    // leaves that approval alone and writes nothing.
    fake.add_review(n, "bob", "APPROVED");
    let dismissals = fake.requests_to("PUT", r"/dismissals$").len();
    run(&fake, &pushed).await;
    assert_eq!(
        states(&fake, n),
        [
            ("bob".into(), "DISMISSED".into()),
            ("bob".into(), "APPROVED".into())
        ]
    );
    assert_eq!(fake.requests_to("PUT", r"/dismissals$").len(), dismissals);
    assert_eq!(fake.comments(n).len(), 1);
}
