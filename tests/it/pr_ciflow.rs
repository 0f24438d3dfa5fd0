//! ciflow triggers against the fake GitHub: an allowed label on a writer's
//! pull request becomes a tag at its head, follows new commits, and goes
//! with the label or the close; an outsider's pull request gets one comment
//! and no tag, whoever applied the label; an unknown label gets no tag.

use serde_json::{Value, json};

use crate::support::action::{ActionRun, Runner};
use crate::support::fake_github::{DEFAULT_BRANCH, FakeGithub, OWNER, PullBuilder, REPO};

const CONFIG: &str = "ciflow:\n  labels: [ciflow/trunk, ciflow/periodic]\n";

fn payload(fake: &FakeGithub, number: u64, action: &str, label: Option<&str>, sha: &str) -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/webhooks/pull_request/08-labeled.json"
    ))
    .expect("fixture");
    let mut v: Value = serde_json::from_str(&text).expect("fixture json");
    let pr = fake.pull(number).expect("pull");
    v["action"] = action.into();
    v["number"] = number.into();
    v["label"] = label.map_or(Value::Null, |l| json!({"name": l}));
    let p = &mut v["pull_request"];
    p["number"] = number.into();
    p["user"]["login"] = pr.user.clone().into();
    p["head"]["ref"] = pr.head_ref.clone().into();
    p["head"]["sha"] = sha.into();
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

async fn run(fake: &FakeGithub, payload: &Value) -> ActionRun {
    let out = Runner::new(fake)
        .run_event("pull_request_target", payload)
        .await;
    assert_eq!(out.code, 0, "{}\n{}", out.stderr, out.stdout);
    out
}

async fn setup(author: &str, labels: &[&str]) -> (FakeGithub, u64, String) {
    let fake = FakeGithub::start().await;
    fake.commit_files(
        DEFAULT_BRANCH,
        &[(".github/ci-medic.yml", CONFIG)],
        "config",
    );
    let sha = fake.commit_files("feature", &[("src/a.rs", "x\n")], "change");
    let mut b = PullBuilder::new("feature", "Change").user(author);
    for l in labels {
        b = b.label(l);
    }
    let n = fake.add_pull(b);
    (fake, n, sha)
}

fn ref_writes(fake: &FakeGithub) -> usize {
    fake.requests_to("POST", r"/git/refs$").len()
        + fake.requests_to("PATCH", r"/git/refs/").len()
        + fake.requests_to("DELETE", r"/git/refs/").len()
}

#[tokio::test]
async fn a_writers_label_tags_the_head_follows_it_and_goes_with_the_label() {
    let (fake, n, sha) = setup("alice", &["ciflow/trunk"]).await;
    fake.set_permission("alice", "write");
    let tag = format!("refs/tags/ciflow/trunk/{n}");

    let labeled = payload(&fake, n, "labeled", Some("ciflow/trunk"), &sha);
    run(&fake, &labeled).await;
    assert_eq!(fake.refs().get(&tag), Some(&sha));
    // One access lookup and one ref write for a label.
    assert_eq!(fake.requests_to("GET", r"/permission$").len(), 1);
    assert_eq!(ref_writes(&fake), 1);
    assert!(fake.comments(n).is_empty());

    // The same event again: the tag already points there, nothing moves.
    run(&fake, &labeled).await;
    assert_eq!(fake.refs().get(&tag), Some(&sha));
    // (Re-pointed at the same commit: one PATCH, no change.)
    assert_eq!(fake.requests_to("PATCH", r"/git/refs/").len(), 1);

    // New commits: the tag moves to the new head.
    let new_sha = fake.commit_files("feature", &[("src/a.rs", "y\n")], "more");
    run(&fake, &payload(&fake, n, "synchronize", None, &new_sha)).await;
    assert_eq!(fake.refs().get(&tag), Some(&new_sha));

    // The label goes: so does the tag, and twice is no error.
    let unlabeled = payload(&fake, n, "unlabeled", Some("ciflow/trunk"), &new_sha);
    run(&fake, &unlabeled).await;
    assert!(!fake.refs().contains_key(&tag));
    run(&fake, &unlabeled).await;
    assert!(!fake.refs().contains_key(&tag));
    assert!(fake.comments(n).is_empty());
}

#[tokio::test]
async fn closing_deletes_the_tags_of_its_labels() {
    let (fake, n, sha) = setup("alice", &["ciflow/trunk", "ciflow/periodic"]).await;
    fake.set_permission("alice", "admin");
    run(&fake, &payload(&fake, n, "synchronize", None, &sha)).await;
    let tags: Vec<String> = fake
        .refs()
        .into_keys()
        .filter(|r| r.starts_with("refs/tags/ciflow/"))
        .collect();
    assert_eq!(tags.len(), 2, "{tags:?}");
    run(&fake, &payload(&fake, n, "closed", None, &sha)).await;
    assert!(
        fake.refs()
            .keys()
            .all(|r| !r.starts_with("refs/tags/ciflow/")),
        "{:?}",
        fake.refs()
    );
}

#[tokio::test]
async fn an_outsiders_pull_request_gets_one_comment_and_no_tag_whoever_labels_it() {
    let (fake, n, sha) = setup("mallory", &["ciflow/trunk"]).await;
    fake.set_permission("mallory", "read");
    // Labelled by a maintainer: the author's access is what counts.
    let mut labeled = payload(&fake, n, "labeled", Some("ciflow/trunk"), &sha);
    labeled["sender"]["login"] = "maintainer".into();
    labeled["pull_request"]["author_association"] = "OWNER".into();
    run(&fake, &labeled).await;
    run(&fake, &labeled).await;
    run(&fake, &payload(&fake, n, "synchronize", None, &sha)).await;
    assert!(
        fake.refs()
            .keys()
            .all(|r| !r.starts_with("refs/tags/ciflow/")),
        "{:?}",
        fake.refs()
    );
    assert_eq!(ref_writes(&fake), 0);
    let comments = fake.comments(n);
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(
        comments[0].body.contains("`ciflow/trunk`"),
        "{}",
        comments[0].body
    );
    assert!(
        comments[0].body.contains("write access"),
        "{}",
        comments[0].body
    );
}

#[tokio::test]
async fn a_label_outside_the_allow_list_gets_a_comment_and_no_tag() {
    let (fake, n, sha) = setup("alice", &["ciflow/everything"]).await;
    fake.set_permission("alice", "write");
    run(
        &fake,
        &payload(&fake, n, "labeled", Some("ciflow/everything"), &sha),
    )
    .await;
    assert_eq!(ref_writes(&fake), 0);
    // Nothing to tag: no access lookup either.
    assert!(fake.requests_to("GET", r"/permission$").is_empty());
    let comments = fake.comments(n);
    assert_eq!(comments.len(), 1);
    assert!(
        comments[0]
            .body
            .contains("`ciflow/everything`: not a ciflow label"),
        "{}",
        comments[0].body
    );
}
