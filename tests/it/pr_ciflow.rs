//! ciflow triggers against the fake GitHub: an allowed label on a writer's
//! pull request becomes a tag at its head, follows new commits, and goes
//! with the label or the close; an outsider's pull request gets one comment
//! and no tag, whoever applied the label; an unknown label gets no tag.

use std::time::Duration;

use ci_medic::app::Ctx;
use ci_medic::cli::Format;
use ci_medic::config::Config;
use ci_medic::github::{Client, RepoName, RetryPolicy};
use ci_medic::handlers::ciflow::Ciflow;
use ci_medic::handlers::{Delivery, Handler};
use ci_medic::plan;
use ci_medic::runtime::Env;
use serde_json::{Value, json};

use crate::support::action::{ActionRun, Runner};
use crate::support::fake_github::{
    DEFAULT_BRANCH, FakeGithub, OWNER, PullBuilder, REPO, RunBuilder,
};

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
    let event = if payload.get("workflow_run").is_some() {
        "workflow_run"
    } else {
        "pull_request_target"
    };
    let out = Runner::new(fake).run_event(event, payload).await;
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

/// Change pull request `n` on the fake the way the event being delivered
/// did: GitHub sends `unlabeled` once the label is gone, `closed` once it is
/// closed.
fn change_pull(fake: &FakeGithub, n: u64, f: impl FnOnce(&mut Vec<String>, &mut String)) {
    fake.with_world(|w| {
        let (_, repo, _) = w.split(&format!("{OWNER}/{REPO}")).expect("repo");
        let issue = repo.issues.get_mut(&n).expect("pull");
        f(&mut issue.labels, &mut issue.state);
    });
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
    // One access lookup, one read of the tag and one ref write for a label.
    assert_eq!(fake.requests_to("GET", r"/permission$").len(), 1);
    assert_eq!(fake.requests_to("GET", r"/git/ref/").len(), 1);
    assert_eq!(ref_writes(&fake), 1);
    assert!(fake.comments(n).is_empty());

    // The same event again: the tag already points there, nothing is written.
    run(&fake, &labeled).await;
    assert_eq!(fake.refs().get(&tag), Some(&sha));
    assert_eq!(fake.requests_to("GET", r"/git/ref/").len(), 2);
    assert_eq!(ref_writes(&fake), 1);

    // New commits: the tag moves to the new head.
    let new_sha = fake.commit_files("feature", &[("src/a.rs", "y\n")], "more");
    run(&fake, &payload(&fake, n, "synchronize", None, &new_sha)).await;
    assert_eq!(fake.refs().get(&tag), Some(&new_sha));

    // The label goes: so does the tag, and twice is no error.
    change_pull(&fake, n, |labels, _| labels.retain(|l| l != "ciflow/trunk"));
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
    change_pull(&fake, n, |_, state| *state = "closed".into());
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

fn run_payload(run_id: u64, sha: &str) -> Value {
    let mut v = crate::support::action::workflow_run_payload(
        run_id,
        "pull",
        ".github/workflows/pull.yml",
        "success",
        "feature",
        sha,
    );
    v["workflow_run"]["event"] = "pull_request".into();
    v
}

#[tokio::test]
async fn an_outsiders_label_waits_for_approval_then_tags_the_approved_commit_not_a_newer_one() {
    let (fake, n, sha) = setup("mallory", &["ciflow/trunk"]).await;
    fake.set_permission("mallory", "read");
    let waiting = fake.add_run(
        RunBuilder::new("pull")
            .event("pull_request")
            .head_sha(&sha)
            .head_branch("feature")
            .conclusion("action_required"),
    );
    run(
        &fake,
        &payload(&fake, n, "labeled", Some("ciflow/trunk"), &sha),
    )
    .await;
    assert_eq!(ref_writes(&fake), 0);
    let comments = fake.comments(n);
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(
        comments[0].body.contains("waits for approval"),
        "{}",
        comments[0].body
    );
    // The run waiting for approval says nothing by itself.
    let mut pending = run_payload(waiting.id, &sha);
    pending["workflow_run"]["conclusion"] = "action_required".into();
    run(&fake, &pending).await;
    assert_eq!(ref_writes(&fake), 0);

    // A maintainer approves the run; meanwhile the author pushed again.
    fake.update_run(waiting.id, |r, _| {
        r.conclusion = Some("success".to_owned());
    });
    let newer = fake.commit_files("feature", &[("src/a.rs", "evil\n")], "more");
    run(&fake, &run_payload(waiting.id, &sha)).await;
    let tag = format!("refs/tags/ciflow/trunk/{n}");
    assert_eq!(fake.refs().get(&tag), Some(&sha));
    assert_eq!(ref_writes(&fake), 1);

    // Delivered again: the tag is there, nothing written. The newer head,
    // not approved, moves nothing.
    run(&fake, &run_payload(waiting.id, &sha)).await;
    run(&fake, &payload(&fake, n, "synchronize", None, &newer)).await;
    assert_eq!(fake.refs().get(&tag), Some(&sha));
    assert_eq!(ref_writes(&fake), 1);
    assert_eq!(fake.comments(n).len(), 1);
}

#[tokio::test]
async fn an_approved_run_never_moves_a_writers_tag() {
    let (fake, n, sha) = setup("alice", &["ciflow/trunk"]).await;
    fake.set_permission("alice", "write");
    let old = fake.add_run(
        RunBuilder::new("pull")
            .event("pull_request")
            .head_sha(&sha)
            .head_branch("feature")
            .conclusion("success"),
    );
    let newer = fake.commit_files("feature", &[("src/a.rs", "y\n")], "more");
    run(&fake, &payload(&fake, n, "synchronize", None, &newer)).await;
    let tag = format!("refs/tags/ciflow/trunk/{n}");
    assert_eq!(fake.refs().get(&tag), Some(&newer));
    run(&fake, &run_payload(old.id, &sha)).await;
    assert_eq!(fake.refs().get(&tag), Some(&newer));
    assert_eq!(ref_writes(&fake), 1);
}

#[tokio::test]
async fn dispatch_mode_starts_the_workflows_with_the_head_sha_and_pushes_no_tag() {
    let fake = FakeGithub::start().await;
    fake.commit_files(
        DEFAULT_BRANCH,
        &[(
            ".github/ci-medic.yml",
            "ciflow:\n  labels: [ciflow/trunk]\n  mode: dispatch\n  workflows: [trunk.yml]\n  sha-input: pr-sha\n",
        )],
        "config",
    );
    fake.add_workflow("trunk", ".github/workflows/trunk.yml");
    let sha = fake.commit_files("feature", &[("src/a.rs", "x\n")], "change");
    let n = fake.add_pull(
        PullBuilder::new("feature", "Change")
            .user("alice")
            .label("ciflow/trunk"),
    );
    fake.set_permission("alice", "write");
    let labeled = payload(&fake, n, "labeled", Some("ciflow/trunk"), &sha);
    run(&fake, &labeled).await;
    let dispatches = fake.dispatches();
    assert_eq!(dispatches.len(), 1, "{dispatches:?}");
    assert_eq!(dispatches[0].workflow, "trunk.yml");
    assert_eq!(dispatches[0].git_ref, DEFAULT_BRANCH);
    assert_eq!(dispatches[0].inputs["pr-sha"], sha.as_str());
    assert_eq!(ref_writes(&fake), 0);
    // The dispatch is recorded in one comment, which says what started.
    let comments = fake.comments(n);
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(
        comments[0].body.contains("Started `trunk.yml` for commit"),
        "{}",
        comments[0].body
    );

    // The same delivery again (a redelivery, a re-run of the action): the
    // comment says it was started, nothing is dispatched or written.
    let calls = fake.requests_to("GET", r"/comments$").len();
    run(&fake, &labeled).await;
    assert_eq!(fake.dispatches().len(), 1);
    assert_eq!(fake.requests_to("GET", r"/comments$").len(), calls + 1);
    assert!(fake.requests_to("PATCH", r"/issues/comments/").is_empty());
    assert_eq!(fake.comments(n).len(), 1);

    // A new head is started once more, the record edited in place.
    let newer = fake.commit_files("feature", &[("src/a.rs", "y\n")], "more");
    let sync = payload(&fake, n, "synchronize", None, &newer);
    run(&fake, &sync).await;
    run(&fake, &sync).await;
    let dispatches = fake.dispatches();
    assert_eq!(dispatches.len(), 2, "{dispatches:?}");
    assert_eq!(dispatches[1].inputs["pr-sha"], newer.as_str());
    assert_eq!(fake.requests_to("PATCH", r"/issues/comments/").len(), 1);
    assert_eq!(fake.comments(n).len(), 1);
    // Closing deletes nothing: there is no tag.
    run(&fake, &payload(&fake, n, "closed", None, &sha)).await;
    assert_eq!(ref_writes(&fake), 0);
}

/// One run of the action, built the way the CLI builds it, so a test can
/// interleave the reads and writes of two deliveries.
fn action_ctx(fake: &FakeGithub) -> Ctx {
    let client = Client::new(
        &fake.uri(),
        fake.token(),
        RepoName::parse(&format!("{OWNER}/{REPO}")).expect("repo"),
        RetryPolicy {
            max_attempts: 2,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_secs(1),
        },
    )
    .expect("client");
    Ctx::new(
        Some(client),
        Config::parse("ci-medic.yml", CONFIG).expect("config"),
        Env::from_pairs(Vec::<(String, String)>::new()),
        false,
        Format::Text,
    )
}

fn delivery(payload: &Value) -> Delivery {
    let bytes = serde_json::to_vec(payload).expect("json");
    Delivery::Event {
        event: ci_medic::event::parse("pull_request_target", "event.json", &bytes).expect("event"),
        command: None,
    }
}

#[tokio::test]
async fn two_deliveries_at_once_set_the_tag_once() {
    let (fake, n, sha) = setup("alice", &["ciflow/trunk"]).await;
    fake.set_permission("alice", "write");
    let tag = format!("refs/tags/ciflow/trunk/{n}");
    // The same label event handled by two runs at the same moment: the
    // second reads before the first writes, so both find no tag.
    let d = delivery(&payload(&fake, n, "labeled", Some("ciflow/trunk"), &sha));
    let (first, second) = (action_ctx(&fake), action_ctx(&fake));
    let input = Ciflow::subscribe(&d, &first.config).expect("concerns ciflow");
    let a = Ciflow::gather(&first, input.clone()).await.expect("gather");
    let b = Ciflow::gather(&second, input).await.expect("gather");
    assert_eq!(a.tags.get(&format!("tags/ciflow/trunk/{n}")), Some(&None));
    assert_eq!(b.tags, a.tags);
    for (ctx, facts) in [(&first, &a), (&second, &b)] {
        let plan = Ciflow::decide(facts, &ctx.config);
        let report = plan::execute(&plan, &ctx.sinks(&plan).await, false).await;
        assert!(!report.failed(), "{report:?}");
    }
    assert_eq!(fake.refs().get(&tag), Some(&sha));
    // Both asked to create it; GitHub created it once and refused the
    // other with 422, which wrote nothing more.
    let creates: Vec<u16> = fake
        .requests_to("POST", r"/git/refs$")
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(creates, [201, 422]);
    assert!(fake.requests_to("PATCH", r"/git/refs/").is_empty());
    assert!(fake.requests_to("DELETE", r"/git/refs/").is_empty());
    assert!(fake.comments(n).is_empty());
}

#[tokio::test]
async fn a_late_or_repeated_delivery_never_undoes_a_newer_one() {
    let (fake, n, sha) = setup("alice", &["ciflow/trunk"]).await;
    fake.set_permission("alice", "write");
    let tag = format!("refs/tags/ciflow/trunk/{n}");
    let labeled = payload(&fake, n, "labeled", Some("ciflow/trunk"), &sha);
    run(&fake, &labeled).await;
    let newer = fake.commit_files("feature", &[("src/a.rs", "y\n")], "more");
    run(&fake, &payload(&fake, n, "synchronize", None, &newer)).await;
    assert_eq!(fake.refs().get(&tag), Some(&newer));
    let writes = ref_writes(&fake);

    // The first label event delivered again after the push: the tag stays
    // at the new head.
    run(&fake, &labeled).await;
    assert_eq!(fake.refs().get(&tag), Some(&newer));
    assert_eq!(ref_writes(&fake), writes);

    // Unlabelled, then labelled again: a late `unlabeled` deletes nothing,
    // and after the label went for good a late `labeled` sets nothing.
    change_pull(&fake, n, |labels, _| labels.retain(|l| l != "ciflow/trunk"));
    let unlabeled = payload(&fake, n, "unlabeled", Some("ciflow/trunk"), &newer);
    run(&fake, &unlabeled).await;
    assert!(!fake.refs().contains_key(&tag));
    change_pull(&fake, n, |labels, _| labels.push("ciflow/trunk".into()));
    run(
        &fake,
        &payload(&fake, n, "labeled", Some("ciflow/trunk"), &newer),
    )
    .await;
    assert_eq!(fake.refs().get(&tag), Some(&newer));
    let writes = ref_writes(&fake);
    run(&fake, &unlabeled).await;
    assert_eq!(fake.refs().get(&tag), Some(&newer));
    assert_eq!(ref_writes(&fake), writes);
}

/// `dispatch` mode has no atomic claim without `contents: write` (a
/// dispatch cannot be made conditional): the example workflow serialises
/// the deliveries of one pull request instead, and queues rather than
/// cancels, so a running delivery always finishes and records what it
/// dispatched before the next one reads it.
#[test]
fn the_example_workflow_runs_one_delivery_per_pull_request_at_a_time() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/.github/workflows/examples/pull-requests.yml"
    ))
    .expect("example workflow");
    let wf: serde_yaml::Value = serde_yaml::from_str(&text).expect("yaml");
    let c = &wf["concurrency"];
    let group = c["group"].as_str().expect("a concurrency group");
    assert!(
        group.contains("github.event.pull_request.number")
            && group.contains("github.event.issue.number"),
        "{group}"
    );
    assert_eq!(c["cancel-in-progress"].as_bool(), Some(false), "{c:?}");
}
