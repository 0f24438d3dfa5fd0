//! Auto-label and required labels against the fake GitHub: one call adds
//! only labels the repository has, reserved labels leave the other kind
//! with one line, the required-labels comment comes and goes, the same
//! event twice writes once, and one handler's failure leaves the other's
//! writes standing.

use serde_json::{Value, json};

use crate::support::action::{ActionRun, Runner};
use crate::support::fake_github::{
    DEFAULT_BRANCH, FakeGithub, Fault, IssueBuilder, MAINTAINER, OWNER, PullBuilder, REPO,
};

const CONFIG_PATH: &str = ".github/ci-medic.yml";

const CONFIG: &str = r#"labels:
  pr-only: ["ciflow/"]
  rules:
    - label: "module: ci"
      files: [".github/**", "!.github/ISSUE_TEMPLATE/**"]
    - label: "module: docs"
      files: ["docs/*.md"]
    - label: "module: missing"
      files: ["**/*.rs"]
    - label: "wip"
      files: ["**"]
      draft: true
    - any: ["module: ci"]
      then: ["ci-owner-review"]
"#;

const REQUIRED: &str = r#"labels:
  required: ["release notes: *", "topic: not user facing"]
"#;

fn fixture(path: &str) -> Value {
    let text = std::fs::read_to_string(format!(
        "{}/fixtures/webhooks/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture");
    serde_json::from_str(&text).expect("fixture json")
}

/// A real `pull_request` payload (GitHub's example) for pull request
/// `number` as the fake has it now.
fn pr_payload(fake: &FakeGithub, number: u64, action: &str) -> Value {
    let mut v = fixture("pull_request/00-opened.json");
    let pr = fake.pull(number).expect("pull");
    v["action"] = action.into();
    v["number"] = number.into();
    let p = &mut v["pull_request"];
    p["number"] = number.into();
    p["title"] = pr.title.clone().into();
    p["body"] = pr.body.clone().into();
    p["draft"] = pr.draft.into();
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

fn issue_payload(fake: &FakeGithub, number: u64, action: &str, label: &str) -> Value {
    let mut v = fixture("issues/09-labeled.json");
    let issue = fake.issue(number).expect("issue");
    v["action"] = action.into();
    v["issue"]["number"] = number.into();
    v["issue"]["title"] = issue.title.clone().into();
    v["issue"]["user"]["login"] = issue.user.clone().into();
    v["issue"]["labels"] = issue
        .labels
        .iter()
        .map(|l| json!({"name": l}))
        .collect::<Vec<_>>()
        .into();
    v["label"] = json!({"name": label});
    v["repository"]["full_name"] = format!("{OWNER}/{REPO}").into();
    v
}

async fn run(fake: &FakeGithub, event: &str, payload: &Value) -> ActionRun {
    Runner::new(fake).run_event(event, payload).await
}

/// Requests the run made, as `METHOD operation` lines.
fn calls(fake: &FakeGithub, from: usize) -> Vec<String> {
    fake.requests()
        .into_iter()
        .skip(from)
        .map(|r| format!("{} {}", r.method, r.operation.unwrap_or(r.path)))
        .collect()
}

fn seed_labels(fake: &FakeGithub, names: &[&str]) {
    for n in names {
        fake.add_label(n, "ededed", None);
    }
}

/// A pull request from `branch` changing `files`.
fn pull(fake: &FakeGithub, branch: &str, files: &[(&str, &str)], draft: bool) -> u64 {
    fake.commit_files(branch, files, "change");
    let mut b = PullBuilder::new(branch, "Change things").user("contributor");
    if draft {
        b = b.draft();
    }
    fake.add_pull(b)
}

#[tokio::test]
async fn pr_opened_gets_the_existing_matching_labels_in_one_call_and_once() {
    let fake = FakeGithub::start().await;
    fake.commit_files(DEFAULT_BRANCH, &[(CONFIG_PATH, CONFIG)], "config");
    seed_labels(
        &fake,
        &["Module: CI", "module: docs", "ci-owner-review", "wip"],
    );
    let n = pull(
        &fake,
        "feature",
        &[
            (".github/workflows/lint.yml", "on: push\n"),
            (".github/ISSUE_TEMPLATE/bug.md", "x\n"),
            ("docs/deep/nested.md", "x\n"),
            ("src/main.rs", "fn main() {}\n"),
        ],
        false,
    );
    let payload = pr_payload(&fake, n, "opened");
    let out = run(&fake, "pull_request_target", &payload).await;
    assert_eq!(out.code, 0, "{}\n{}", out.stderr, out.stdout);
    let pr = fake.pull(n).expect("pull");
    // `docs/*.md` does not reach into `docs/deep/`; `module: missing` does
    // not exist in the repository; `wip` is only for drafts; the
    // label-to-label rule follows `module: ci`.
    assert_eq!(pr.labels, ["Module: CI", "ci-owner-review"]);
    assert_eq!(fake.requests_to("POST", r"/issues/\d+/labels$").len(), 1);
    assert!(out.summary.contains("module: missing"), "{}", out.summary);

    // The same event again writes nothing.
    let before = fake.requests().len();
    let out = run(&fake, "pull_request_target", &payload).await;
    assert_eq!(out.code, 0, "{}\n{}", out.stderr, out.stdout);
    let again = calls(&fake, before);
    assert!(
        again.iter().all(|c| c.starts_with("GET ")),
        "no writes the second time: {again:?}"
    );
    assert_eq!(fake.pull(n).expect("pull").labels, pr.labels);
}

#[tokio::test]
async fn a_draft_label_comes_and_goes_with_the_draft_state() {
    let fake = FakeGithub::start().await;
    fake.commit_files(DEFAULT_BRANCH, &[(CONFIG_PATH, CONFIG)], "config");
    seed_labels(&fake, &["wip"]);
    let n = pull(&fake, "draft", &[("README.md", "more\n")], true);
    let out = run(&fake, "pull_request", &pr_payload(&fake, n, "opened")).await;
    assert_eq!(out.code, 0, "{}\n{}", out.stderr, out.stdout);
    assert_eq!(fake.pull(n).expect("pull").labels, ["wip"]);

    fake.with_world(|w| {
        let (_, repo, _) = w.split(&format!("{OWNER}/{REPO}")).expect("repo");
        repo.pulls.get_mut(&n).expect("pull").draft = false;
    });
    let out = run(
        &fake,
        "pull_request",
        &pr_payload(&fake, n, "ready_for_review"),
    )
    .await;
    assert_eq!(out.code, 0, "{}\n{}", out.stderr, out.stdout);
    assert!(fake.pull(n).expect("pull").labels.is_empty());
}

#[tokio::test]
async fn a_pr_only_label_leaves_an_issue_with_one_line_once() {
    let fake = FakeGithub::start().await;
    fake.commit_files(DEFAULT_BRANCH, &[(CONFIG_PATH, CONFIG)], "config");
    let n = fake.add_issue(
        IssueBuilder::new("Flaky test")
            .user("reporter")
            .label("ciflow/@trunk"),
    );
    let payload = issue_payload(&fake, n, "labeled", "ciflow/@trunk");
    let out = run(&fake, "issues", &payload).await;
    assert_eq!(out.code, 0, "{}\n{}", out.stderr, out.stdout);
    assert!(fake.issue(n).expect("issue").labels.is_empty());
    let comments = fake.comments(n);
    assert_eq!(comments.len(), 1, "{comments:?}");
    let body = &comments[0].body;
    assert!(
        body.starts_with("<!-- ci-medic:misplaced-labels:"),
        "{body}"
    );
    let text: Vec<&str> = body.lines().skip(1).collect();
    assert_eq!(text.len(), 1, "{body}");
    // The label is untrusted: in a code span, no live mention.
    assert!(text[0].contains("`ciflow/@trunk`"), "{body}");
    assert!(text[0].contains("for pull requests only"), "{body}");

    // Delivered twice: nothing more.
    let before = fake.requests().len();
    let out = run(&fake, "issues", &payload).await;
    assert_eq!(out.code, 0, "{}\n{}", out.stderr, out.stdout);
    let again = calls(&fake, before);
    assert!(again.iter().all(|c| c.starts_with("GET ")), "{again:?}");
    assert_eq!(fake.comments(n).len(), 1);
}

#[tokio::test]
async fn a_missing_required_label_gets_one_comment_and_a_failing_check_until_added() {
    let fake = FakeGithub::start().await;
    fake.commit_files(DEFAULT_BRANCH, &[(CONFIG_PATH, REQUIRED)], "config");
    let n = pull(&fake, "feature", &[("src/a.rs", "x\n")], false);
    let head = fake.pull(n).expect("pull").head_sha;
    let opened = pr_payload(&fake, n, "opened");
    let out = run(&fake, "pull_request_target", &opened).await;
    assert_eq!(out.code, 0, "{}\n{}", out.stderr, out.stdout);
    let comment = fake.expect_comment(n, |b| {
        b.starts_with("<!-- ci-medic:required-labels:")
            && b.contains("`release notes: *`")
            && b.contains("`@ci-medic label \"topic: not user facing\"`")
    });
    let checks = fake.check_runs();
    assert_eq!(checks.len(), 1, "{checks:?}");
    assert_eq!(checks[0].name, "ci-medic / labels");
    assert_eq!(checks[0].head_sha, head);
    assert_eq!(checks[0].conclusion.as_deref(), Some("failure"));

    // A push (synchronize) with the label still missing: nothing new.
    let before = fake.requests().len();
    let out = run(
        &fake,
        "pull_request_target",
        &pr_payload(&fake, n, "synchronize"),
    )
    .await;
    assert_eq!(out.code, 0, "{}\n{}", out.stderr, out.stdout);
    let again = calls(&fake, before);
    assert!(again.iter().all(|c| c.starts_with("GET ")), "{again:?}");
    assert_eq!(fake.comments(n), [comment]);

    // The label arrives: the comment goes, the check passes.
    fake.with_world(|w| {
        let (env, repo, _) = w.split(&format!("{OWNER}/{REPO}")).expect("repo");
        repo.add_issue_labels(env, n, &["Release notes: JIT".to_string()], MAINTAINER);
    });
    let out = run(
        &fake,
        "pull_request_target",
        &pr_payload(&fake, n, "labeled"),
    )
    .await;
    assert_eq!(out.code, 0, "{}\n{}", out.stderr, out.stdout);
    assert!(fake.comments(n).is_empty());
    // The same check run is updated in place, not a second one created.
    let checks = fake.check_runs();
    assert_eq!(checks.len(), 1, "{checks:?}");
    assert_eq!(checks[0].conclusion.as_deref(), Some("success"));
}

#[tokio::test]
async fn a_label_event_reaches_both_handlers_and_one_failing_does_not_stop_the_other() {
    let fake = FakeGithub::start().await;
    let both = format!("{CONFIG}  required: [\"release notes: *\"]\n  required-check: false\n");
    fake.commit_files(DEFAULT_BRANCH, &[(CONFIG_PATH, &both)], "config");
    seed_labels(&fake, &["Module: CI"]);
    let n = pull(&fake, "feature", &[(".github/x.yml", "x\n")], false);
    // Reading the files fails for good: auto-label cannot decide.
    fake.inject("GET", r"/pulls/\d+/files$", Fault::status(404));
    let out = run(
        &fake,
        "pull_request_target",
        &pr_payload(&fake, n, "labeled"),
    )
    .await;
    assert_ne!(out.code, 0, "{}\n{}", out.stderr, out.stdout);
    assert!(out.summary.contains("auto-label"), "{}", out.summary);
    // Required labels went on.
    fake.expect_comment(n, |b| b.starts_with("<!-- ci-medic:required-labels:"));
    assert!(fake.pull(n).expect("pull").labels.is_empty());

    // Delivered again once GitHub answers: auto-label catches up, and the
    // required-labels comment is not posted twice.
    let out = run(
        &fake,
        "pull_request_target",
        &pr_payload(&fake, n, "labeled"),
    )
    .await;
    assert_eq!(out.code, 0, "{}\n{}", out.stderr, out.stdout);
    // (`ci-owner-review` does not exist in this repository.)
    assert_eq!(fake.pull(n).expect("pull").labels, ["Module: CI"]);
    assert_eq!(fake.comments(n).len(), 1);
}

#[tokio::test]
async fn api_calls_per_event_for_a_pr_of_300_files_and_for_a_label() {
    let fake = FakeGithub::start().await;
    let both = format!("{CONFIG}  required: [\"release notes: *\"]\n");
    fake.commit_files(DEFAULT_BRANCH, &[(CONFIG_PATH, &both)], "config");
    seed_labels(
        &fake,
        &["Module: CI", "ci-owner-review", "release notes: ci"],
    );
    let paths: Vec<String> = (0..300)
        .map(|i| format!(".github/gen/{i:03}.yml"))
        .collect();
    let files: Vec<(&str, &str)> = paths.iter().map(|p| (p.as_str(), "x\n")).collect();
    let n = pull(&fake, "big", &files, false);

    let before = fake.requests().len();
    let out = run(
        &fake,
        "pull_request_target",
        &pr_payload(&fake, n, "opened"),
    )
    .await;
    assert_eq!(out.code, 0, "{}\n{}", out.stderr, out.stdout);
    let opened = calls(&fake, before);
    let count = |list: &[String], what: &str| list.iter().filter(|c| *c == what).count();
    assert_eq!(count(&opened, "GET pulls/list-files"), 3, "{opened:?}");
    assert_eq!(count(&opened, "GET issues/list-labels-for-repo"), 1);
    assert_eq!(count(&opened, "POST issues/add-labels"), 1);
    assert_eq!(count(&opened, "POST issues/create-comment"), 1);
    assert_eq!(count(&opened, "POST checks/create"), 1);
    let handlers: usize = [
        "GET issues/get",
        "GET pulls/list-files",
        "GET issues/list-labels-for-repo",
        "POST issues/add-labels",
        "GET issues/list-comments",
        "POST issues/create-comment",
        "GET checks/list-for-ref",
        "POST checks/create",
    ]
    .iter()
    .map(|w| count(&opened, w))
    .sum();
    // Auto-label: issue, 3 pages of files, labels, add = 6. Required
    // labels: issue, comments (marker lookup), comment, check runs, and
    // the check-run write (creating it: its lookup was the one before) = 5.
    // Loading the config from the default branch: 2.
    assert_eq!(count(&opened, "GET checks/list-for-ref"), 1, "{opened:?}");
    assert_eq!(handlers, 11, "{opened:?}");
    assert_eq!(opened.len(), 13, "{opened:?}");
    fake.expect_comment(n, |b| b.contains("release notes"));
    let checks = fake.check_runs();
    assert_eq!(checks.len(), 1, "{checks:?}");
    assert_eq!(checks[0].name, "ci-medic / labels");
    assert_eq!(checks[0].conclusion.as_deref(), Some("failure"));

    // A maintainer adds the required label.
    fake.with_world(|w| {
        let (env, repo, _) = w.split(&format!("{OWNER}/{REPO}")).expect("repo");
        repo.add_issue_labels(env, n, &["release notes: ci".to_string()], MAINTAINER);
    });
    let before = fake.requests().len();
    let out = run(
        &fake,
        "pull_request_target",
        &pr_payload(&fake, n, "labeled"),
    )
    .await;
    assert_eq!(out.code, 0, "{}\n{}", out.stderr, out.stdout);
    let labeled = calls(&fake, before);
    // Auto-label: issue and 3 pages of files, nothing to add. Required
    // labels: issue, comments, delete, check runs, and the update of the
    // check run found there = 5. The config: 2.
    assert_eq!(
        count(&labeled, "DELETE issues/delete-comment"),
        1,
        "{labeled:?}"
    );
    assert_eq!(count(&labeled, "PATCH checks/update"), 1);
    assert_eq!(count(&labeled, "GET issues/list-labels-for-repo"), 0);
    assert_eq!(count(&labeled, "GET checks/list-for-ref"), 1, "{labeled:?}");
    assert_eq!(labeled.len(), 4 + 5 + 2, "{labeled:?}");
    assert!(fake.comments(n).is_empty());
    assert_eq!(fake.check_runs().len(), 1);
}
