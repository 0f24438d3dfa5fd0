//! Comment commands end to end: a real `issue_comment` (or
//! `pull_request_review`) payload through `ci-medic run` against the fake
//! GitHub, reading back replies, reactions, labels, re-runs and merges.

use serde_json::{Value, json};

use crate::support::action::{ActionRun, Runner};
use crate::support::fake_github::{
    ACTIONS_BOT, CheckRun, DEFAULT_BRANCH, FakeGithub, Fault, IssueBuilder, JobBuilder, MAINTAINER,
    OWNER, PullBuilder, REPO, RunBuilder,
};

/// The login of a contributor without access to the repository.
pub const STRANGER: &str = "mallory";
/// The login of a contributor with write access.
pub const WRITER: &str = "hubot";

/// A real `issue_comment` `created` payload for a comment `comment_id` by
/// `login` on issue or pull request `number`.
pub fn comment_payload(
    fake: &FakeGithub,
    number: u64,
    comment_id: u64,
    login: &str,
    body: &str,
) -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/webhooks/issue_comment/00-created.json"
    ))
    .expect("fixture");
    let mut v: Value = serde_json::from_str(&text).expect("fixture json");
    let issue = fake.issue(number).expect("issue");
    v["issue"]["number"] = number.into();
    v["issue"]["title"] = issue.title.into();
    v["issue"]["user"]["login"] = issue.user.into();
    v["issue"]["pull_request"] = if issue.is_pull_request {
        json!({"url": format!("https://api.github.com/repos/{OWNER}/{REPO}/pulls/{number}")})
    } else {
        Value::Null
    };
    v["comment"]["id"] = comment_id.into();
    v["comment"]["body"] = body.into();
    v["comment"]["user"]["login"] = login.into();
    v["comment"]["user"]["type"] = if login.ends_with("[bot]") {
        "Bot"
    } else {
        "User"
    }
    .into();
    v["sender"]["login"] = login.into();
    v["repository"]["full_name"] = format!("{OWNER}/{REPO}").into();
    v
}

/// The fake with the command handlers on (`commands: {}` on the default
/// branch).
pub async fn start() -> FakeGithub {
    let fake = FakeGithub::start().await;
    fake.commit_files(
        DEFAULT_BRANCH,
        &[(".github/ci-medic.yml", "commands: {}\n")],
        "ci-medic: answer comment commands",
    );
    fake
}

/// Seed `login`'s comment on `number` and deliver it; the comment's id and
/// the run.
pub async fn say(fake: &FakeGithub, number: u64, login: &str, body: &str) -> (u64, ActionRun) {
    let id = fake.add_comment(number, login, body);
    let payload = comment_payload(fake, number, id, login, body);
    let out = Runner::new(fake).run_event("issue_comment", &payload).await;
    (id, out)
}

/// An open pull request from `feature` by `author`; its number and head.
pub fn pull_by(fake: &FakeGithub, author: &str) -> (u64, String) {
    let head = fake.commit_files("feature", &[("src/lib.rs", "pub fn f() {}\n")], "feat: f");
    let n = fake.add_pull(PullBuilder::new("feature", "Add f").user(author));
    (n, head)
}

/// The replies ci-medic wrote on `number`.
pub fn replies(fake: &FakeGithub, number: u64) -> Vec<String> {
    fake.comments(number)
        .into_iter()
        .filter(|c| c.user == ACTIONS_BOT)
        .map(|c| c.body)
        .collect()
}

/// API requests made by the last runs, writes and reads alike, as `METHOD path`.
fn calls(fake: &FakeGithub) -> Vec<String> {
    fake.requests().iter().map(|r| r.line()).collect()
}

#[tokio::test]
async fn help_is_one_reply_listing_every_command_and_nothing_else() {
    let fake = start().await;
    fake.set_permission(STRANGER, "read");
    let n = fake.add_issue(IssueBuilder::new("Question"));
    let (id, out) = say(&fake, n, STRANGER, "@ci-medic help").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let r = replies(&fake, n);
    assert_eq!(r.len(), 1, "{r:?}");
    for c in [
        "merge",
        "revert",
        "rebase",
        "cherry-pick",
        "label",
        "retest",
        "drci",
    ] {
        assert!(r[0].contains(&format!("@ci-medic {c}")), "{c}: {}", r[0]);
    }
    assert!(fake.reaction_contents(id).is_empty());
    // Help needs nobody's permission.
    assert!(!calls(&fake).iter().any(|c| c.contains("/permission")));
    fake.assert_clean();
}

#[tokio::test]
async fn a_parse_error_is_one_reply_with_the_message_and_the_usage() {
    let fake = start().await;
    let (n, _) = pull_by(&fake, STRANGER);
    let (id, out) = say(&fake, n, MAINTAINER, "@ci-medic merge -f").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let r = replies(&fake, n);
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(
        r[0].contains("@ci-medic merge: error: argument -f/--force: expected one argument"),
        "{}",
        r[0]
    );
    assert!(r[0].contains("usage: @ci-medic merge"), "{}", r[0]);
    assert!(fake.reaction_contents(id).is_empty());
    assert!(fake.merge_commit(n).is_none());
    // Reads the comments once (to update rather than repeat), writes one.
    let writes: Vec<String> = calls(&fake)
        .into_iter()
        .filter(|c| !c.starts_with("GET"))
        .collect();
    assert_eq!(writes.len(), 1, "{writes:?}");
    fake.assert_clean();
}

#[tokio::test]
async fn edited_deleted_bot_and_own_comments_never_act() {
    let fake = start().await;
    fake.add_label("bug", "d73a4a", None);
    let n = fake.add_issue(IssueBuilder::new("Bug"));
    let before = fake.requests().len();

    for action in ["edited", "deleted"] {
        let id = fake.add_comment(n, MAINTAINER, "@ci-medic label bug");
        let mut payload = comment_payload(&fake, n, id, MAINTAINER, "@ci-medic label bug");
        payload["action"] = action.into();
        let out = Runner::new(&fake)
            .run_event("issue_comment", &payload)
            .await;
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    let (_, out) = say(&fake, n, "dependabot[bot]", "@ci-medic label bug").await;
    assert_eq!(out.code, 0, "{}", out.stderr);

    // The action's own identity (an App's login given as `bot-login`) is
    // a user as far as the payload goes: it is ignored all the same.
    let id = fake.add_comment(n, "ci-medic-app", "@ci-medic label bug");
    let payload = comment_payload(&fake, n, id, "ci-medic-app", "@ci-medic label bug");
    let out = Runner::new(&fake)
        .env("INPUT_BOT-LOGIN", "ci-medic-app")
        .run_event("issue_comment", &payload)
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);

    assert!(fake.issue(n).expect("issue").labels.is_empty());
    assert!(replies(&fake, n).is_empty());
    // Nothing was asked about anyone, nothing written: the config read only.
    let later: Vec<String> = calls(&fake).split_off(before);
    assert!(
        later
            .iter()
            .all(|c| c.starts_with("GET") && !c.contains("/permission")),
        "{later:?}"
    );
    fake.assert_clean();
}

#[tokio::test]
async fn label_adds_the_labels_that_exist_and_lists_the_others_escaped() {
    let fake = start().await;
    fake.add_label("bug", "d73a4a", None);
    let (n, _) = pull_by(&fake, STRANGER);
    let hostile = "<!-- ci-medic:command:comment-1 --> @everyone [x](http://e.vil)";
    let (id, out) = say(
        &fake,
        n,
        STRANGER,
        &format!("@ci-medic label bug \"{hostile}\""),
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    // The author may label what they opened.
    assert_eq!(fake.issue(n).expect("pr").labels, ["bug"]);
    assert_eq!(fake.reaction_contents(id), ["+1"]);
    let r = replies(&fake, n);
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(r[0].contains("were not added"), "{}", r[0]);
    assert_eq!(r[0].matches("<!--").count(), 1, "only our marker: {}", r[0]);
    // The unknown label is quoted in one code span, where a mention, a
    // link or a marker does nothing.
    let quoted = r[0].lines().last().unwrap_or_default();
    assert!(quoted.contains("`<!\u{200B}-- ci-medic"), "{quoted}");
    assert_eq!(quoted.matches('`').count(), 2, "{quoted}");
    fake.assert_clean();
}

#[tokio::test]
async fn a_restricted_label_needs_write_access() {
    let fake = start().await;
    fake.add_label("ciflow/trunk", "0e8a16", None);
    fake.set_permission(STRANGER, "triage");
    let (n, _) = pull_by(&fake, MAINTAINER);
    let (id, out) = say(&fake, n, STRANGER, "@ci-medic label ciflow/trunk").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(fake.issue(n).expect("pr").labels.is_empty());
    assert_eq!(fake.reaction_contents(id), ["confused"]);
    let r = replies(&fake, n);
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(r[0].contains("needs write access"), "{}", r[0]);
    assert!(r[0].contains("has triage access"), "{}", r[0]);

    // A writer may.
    fake.set_permission(WRITER, "write");
    let (id, out) = say(&fake, n, WRITER, "@ci-medic label ciflow/trunk").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.issue(n).expect("pr").labels, ["ciflow/trunk"]);
    assert_eq!(fake.reaction_contents(id), ["+1"]);
    assert_eq!(replies(&fake, n).len(), 1);
    fake.assert_clean();
}

#[tokio::test]
async fn a_pull_requests_own_config_never_judges_its_commands() {
    let fake = start().await;
    fake.add_label("ciflow/trunk", "0e8a16", None);
    fake.set_permission(STRANGER, "triage");
    // The pull request lifts the label restriction and adds a handle on its
    // own branch; the rules come from the default branch only.
    fake.commit_files(
        "feature",
        &[(
            ".github/ci-medic.yml",
            "commands:\n  handles: ['@ci-medic', '@sneaky']\n  label:\n    restricted: []\n",
        )],
        "ci: my own rules",
    );
    let (n, _) = pull_by(&fake, STRANGER);
    let (id, out) = say(&fake, n, STRANGER, "@ci-medic label ciflow/trunk").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.reaction_contents(id), ["confused"]);
    assert!(fake.issue(n).expect("pr").labels.is_empty());
    let r = replies(&fake, n);
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(r[0].contains("needs write access"), "{}", r[0]);
    // The pull request's handle is no handle.
    let (id, out) = say(&fake, n, MAINTAINER, "@sneaky help").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(fake.reaction_contents(id).is_empty());
    assert_eq!(replies(&fake, n).len(), 1);
    fake.assert_clean();
}

/// A failed run of the pull request's head.
fn failed_run(fake: &FakeGithub, n: u64, head: &str, attempt: u32) -> u64 {
    fake.add_run(
        RunBuilder::new("CI")
            .event("pull_request")
            .head_sha(head)
            .head_branch("feature")
            .pull_request(n)
            .attempt(attempt)
            .job(JobBuilder::failed("test").log("boom")),
    )
    .id
}

#[tokio::test]
async fn retest_reruns_the_failed_runs_of_the_head_once_however_often_delivered() {
    let fake = start().await;
    let (n, head) = pull_by(&fake, STRANGER);
    let run = failed_run(&fake, n, &head, 1);
    let id = fake.add_comment(n, STRANGER, "@ci-medic retest");
    let payload = comment_payload(&fake, n, id, STRANGER, "@ci-medic retest");
    let before = fake.requests().len();
    let out = Runner::new(&fake)
        .run_event("issue_comment", &payload)
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    fake.expect_rerun_of_failed_jobs(run);
    assert_eq!(fake.reaction_contents(id), ["+1"]);
    let r = replies(&fake, n);
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(r[0].contains(&format!("run {run}")), "{}", r[0]);
    // API calls of one retest: the repository and the config, comments
    // (answered already?), permission, pull request, runs of the head; then
    // the reply (a look for it and a post), the re-run and the reaction.
    let mine: Vec<String> = calls(&fake).split_off(before);
    assert_eq!(mine.len(), 10, "{mine:#?}");

    // The same delivery again writes nothing.
    let out = Runner::new(&fake)
        .run_event("issue_comment", &payload)
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.reruns().len(), 1);
    assert_eq!(replies(&fake, n).len(), 1);
    fake.assert_clean();
}

#[tokio::test]
async fn retest_is_the_authors_or_a_writers_and_respects_the_attempt_limit() {
    let fake = start().await;
    let (n, head) = pull_by(&fake, MAINTAINER);
    failed_run(&fake, n, &head, 1);
    let (id, out) = say(&fake, n, STRANGER, "@ci-medic retest").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    fake.expect_no_reruns();
    assert_eq!(fake.reaction_contents(id), ["confused"]);
    let r = replies(&fake, n);
    assert!(r[0].contains("needs write access"), "{}", r[0]);

    // A run already re-run as often as `retry.max-attempts` allows is left.
    let fake = start().await;
    let (n, head) = pull_by(&fake, STRANGER);
    failed_run(&fake, n, &head, 2);
    let (id, out) = say(&fake, n, STRANGER, "@ci-medic retest").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    fake.expect_no_reruns();
    assert_eq!(fake.reaction_contents(id), ["confused"]);
    let r = replies(&fake, n);
    assert!(r[0].contains("already at attempt 2"), "{}", r[0]);
    fake.assert_clean();
}

/// A real `pull_request_review` `submitted` payload for pull request
/// `number`, by `login`.
pub fn review_payload(fake: &FakeGithub, number: u64, login: &str, body: &str) -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/webhooks/pull_request_review/00-submitted.json"
    ))
    .expect("fixture");
    let mut v: Value = serde_json::from_str(&text).expect("fixture json");
    let pr = fake.pull(number).expect("pull request");
    v["pull_request"]["number"] = number.into();
    v["pull_request"]["user"]["login"] = pr.user.into();
    v["pull_request"]["head"]["sha"] = pr.head_sha.into();
    v["review"]["body"] = body.into();
    v["review"]["user"]["login"] = login.into();
    v["sender"]["login"] = login.into();
    v["repository"]["full_name"] = format!("{OWNER}/{REPO}").into();
    v
}

#[tokio::test]
async fn a_command_in_a_review_is_answered_by_a_comment() {
    let fake = start().await;
    fake.add_label("bug", "d73a4a", None);
    let (n, _) = pull_by(&fake, STRANGER);
    let payload = review_payload(&fake, n, MAINTAINER, "Looks right.\n\n@ci-medic label bug");
    let out = Runner::new(&fake)
        .run_event("pull_request_review", &payload)
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.issue(n).expect("pr").labels, ["bug"]);
    let r = replies(&fake, n);
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(r[0].contains("accepted"), "{}", r[0]);
    // The reviewer's permission counts, not the author's.
    assert!(
        calls(&fake)
            .iter()
            .any(|c| c.ends_with(&format!("/collaborators/{MAINTAINER}/permission")))
    );
    fake.assert_clean();
}

// ---------------------------------------------------------------------------
// merge

/// A run of `workflow` on the pull request's head: `status` `completed`
/// with `conclusion`, or still running.
pub fn head_run(
    fake: &FakeGithub,
    n: u64,
    head: &str,
    workflow: &str,
    conclusion: Option<&str>,
) -> u64 {
    let mut run = RunBuilder::new(workflow)
        .event("pull_request")
        .head_sha(head)
        .head_branch("feature")
        .pull_request(n);
    run = match conclusion {
        Some(c) => run.conclusion(c),
        None => run.status("in_progress"),
    };
    fake.add_run(run).id
}

/// A pull request by STRANGER approved by WRITER; its number and head.
pub fn approved_pull(fake: &FakeGithub) -> (u64, String) {
    fake.set_permission(WRITER, "write");
    let (n, head) = pull_by(fake, STRANGER);
    fake.add_review(n, WRITER, "APPROVED");
    (n, head)
}

/// The bodies of the merge calls made.
/// Whether pull request `n` carries the `merging` label of a waiting merge.
fn merging(fake: &FakeGithub, n: u64) -> bool {
    fake.issue(n)
        .expect("pr")
        .labels
        .contains(&"merging".to_string())
}

fn merge_calls(fake: &FakeGithub, n: u64) -> Vec<Value> {
    fake.requests_to("PUT", &format!(r"^/repos/{OWNER}/{REPO}/pulls/{n}/merge$"))
        .iter()
        .filter_map(|r| r.json())
        .collect()
}

#[tokio::test]
async fn merge_of_an_approved_green_pull_request_merges_the_pinned_head() {
    let fake = start().await;
    let (n, head) = approved_pull(&fake);
    head_run(&fake, n, &head, "CI", Some("success"));
    let before = fake.requests().len();
    let (id, out) = say(&fake, n, MAINTAINER, "@ci-medic merge").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(fake.merge_commit(n).is_some());
    let calls_made: Vec<String> = calls(&fake).split_off(before);
    let merges = merge_calls(&fake, n);
    assert_eq!(merges.len(), 1);
    assert_eq!(merges[0]["sha"], head.as_str());
    assert_eq!(merges[0]["merge_method"], "squash");
    assert_eq!(merges[0]["commit_title"], format!("Add f (#{n})"));
    let message = merges[0]["commit_message"].as_str().unwrap_or_default();
    assert!(message.contains("Pull Request resolved: "), "{message}");
    assert!(
        message.ends_with(&format!("Approved by: {WRITER}")),
        "{message}"
    );
    assert!(
        fake.issue(n)
            .expect("pr")
            .labels
            .contains(&"merged".to_string())
    );
    assert_eq!(fake.reaction_contents(id), ["rocket"]);
    let r = replies(&fake, n);
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(r[0].contains(&head), "{}", r[0]);
    // Accepted to merged: repository and config, comments (answered?),
    // permission, default branch is known already, pull request, reviews,
    // the approver's permission, a look for `.github/merge_rules.yaml`, runs
    // and check runs of the head; the reply (look, post), the merge, the
    // `merged` label and the reaction.
    assert_eq!(calls_made.len(), 15, "{calls_made:#?}");
    fake.assert_clean();
}

/// PyTorch-format rules on the default branch: `src/**` needs WRITER's
/// approval and a passing `Lint`.
const RULES: &str = "- name: Sources\n  patterns:\n  - src/**\n  approved_by:\n  - org/team\n  - WRITER\n  mandatory_checks_name:\n  - Lint\n";

fn with_rules(fake: &FakeGithub, text: &str) {
    fake.commit_files(
        DEFAULT_BRANCH,
        &[(".github/merge_rules.yaml", text)],
        "merge rules",
    );
}

#[tokio::test]
async fn a_merge_rule_with_a_failed_mandatory_check_refuses_a_satisfied_one_merges() {
    let fake = start().await;
    with_rules(&fake, &RULES.replace("WRITER", WRITER));
    let (n, head) = approved_pull(&fake);
    head_run(&fake, n, &head, "Lint", Some("failure"));
    let (id, out) = say(&fake, n, MAINTAINER, "@ci-medic merge").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.reaction_contents(id), ["confused"]);
    let r = replies(&fake, n);
    assert!(r[0].contains("Merge rule Sources needs"), "{}", r[0]);
    assert!(r[0].contains("`Lint`"), "{}", r[0]);
    assert!(merge_calls(&fake, n).is_empty());

    let fake = start().await;
    with_rules(&fake, &RULES.replace("WRITER", WRITER));
    let (n, head) = approved_pull(&fake);
    head_run(&fake, n, &head, "Lint", Some("success"));
    let (id, out) = say(&fake, n, MAINTAINER, "@ci-medic merge").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.reaction_contents(id), ["rocket"]);
    assert_eq!(merge_calls(&fake, n).len(), 1);
    assert!(fake.merge_commit(n).is_some());
    assert!(
        fake.issue(n)
            .expect("pr")
            .labels
            .contains(&"merged".to_string())
    );
    assert_eq!(replies(&fake, n).len(), 1);
    fake.assert_clean();

    // The listed approver is missing: the team entry approves no one.
    let fake = start().await;
    with_rules(&fake, &RULES.replace("WRITER", "someone-else"));
    let (n, head) = approved_pull(&fake);
    head_run(&fake, n, &head, "Lint", Some("success"));
    let (id, _) = say(&fake, n, MAINTAINER, "@ci-medic merge").await;
    assert_eq!(fake.reaction_contents(id), ["confused"]);
    assert!(
        replies(&fake, n)[0].contains("No approval"),
        "{:?}",
        replies(&fake, n)
    );
    assert!(merge_calls(&fake, n).is_empty());
}

#[tokio::test]
async fn a_malformed_rules_file_refuses_every_merge_naming_file_and_line() {
    let fake = start().await;
    with_rules(
        &fake,
        "- name: Sources\n  patterns: ['src/**']\n  aproved_by: [x]\n",
    );
    let (n, head) = approved_pull(&fake);
    head_run(&fake, n, &head, "Lint", Some("success"));
    let (id, out) = say(&fake, n, MAINTAINER, "@ci-medic merge").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.reaction_contents(id), ["confused"]);
    let r = replies(&fake, n);
    assert!(r[0].contains("merge rules cannot be read"), "{}", r[0]);
    assert!(
        r[0].contains(".github/merge\\_rules.yaml:3:")
            || r[0].contains(".github/merge_rules.yaml:3:"),
        "{}",
        r[0]
    );
    assert!(merge_calls(&fake, n).is_empty());
    fake.assert_clean();
}

#[tokio::test]
async fn a_failing_check_run_from_other_ci_holds_a_merge() {
    let fake = start().await;
    let (n, head) = approved_pull(&fake);
    head_run(&fake, n, &head, "CI", Some("success"));
    // A downstream (L4) check run on the head failed.
    fake.with_world(|w| {
        let (env, repo, _) = w.split(&format!("{OWNER}/{REPO}")).expect("repo");
        let now = env.tick();
        repo.check_runs.push(CheckRun {
            id: 900_001,
            name: "crcr/npu-org/npu / test".into(),
            head_sha: head.clone(),
            status: "completed".into(),
            conclusion: Some("failure".into()),
            title: Some("test: failure".into()),
            summary: Some("s".into()),
            text: None,
            details_url: None,
            external_id: None,
            app: "github-actions".into(),
            started_at: now,
            completed_at: Some(now),
        });
    });
    let (id, out) = say(&fake, n, MAINTAINER, "@ci-medic merge").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.reaction_contents(id), ["confused"]);
    assert!(
        fake.merge_commit(n).is_none(),
        "a failing check run must hold the merge"
    );
    assert!(merge_calls(&fake, n).is_empty());
    let r = replies(&fake, n);
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(r[0].contains("crcr/npu-org/npu / test"), "{}", r[0]);
}

#[tokio::test]
async fn merge_needs_a_writers_approval_and_green_or_ignored_checks() {
    let fake = start().await;
    fake.set_permission(WRITER, "write");
    let (n, head) = pull_by(&fake, STRANGER);
    head_run(&fake, n, &head, "CI", Some("failure"));

    // No approval (a reader's does not count).
    fake.set_permission("reader", "read");
    fake.add_review(n, "reader", "APPROVED");
    let (id, out) = say(&fake, n, MAINTAINER, "@ci-medic merge").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.reaction_contents(id), ["confused"]);
    let r = replies(&fake, n);
    assert!(
        r[0].contains("approving review from someone with write access"),
        "{}",
        r[0]
    );

    // Approved, but CI fails.
    fake.add_review(n, WRITER, "APPROVED");
    let (id, out) = say(&fake, n, MAINTAINER, "@ci-medic merge").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.reaction_contents(id), ["confused"]);
    let r = replies(&fake, n);
    assert!(r[1].contains("Checks are failing"), "{}", r[1]);
    assert!(fake.merge_commit(n).is_none());

    // A reader may not merge, whatever the flags.
    fake.set_permission(STRANGER, "read");
    let (id, _) = say(
        &fake,
        n,
        STRANGER,
        "@ci-medic merge -f \"CI is broken elsewhere\"",
    )
    .await;
    assert_eq!(fake.reaction_contents(id), ["confused"]);
    assert!(replies(&fake, n)[2].contains("needs write access"));

    // `-i` ignores the checks failing now.
    let (id, out) = say(&fake, n, MAINTAINER, "@ci-medic merge -i").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.reaction_contents(id), ["rocket"]);
    assert!(fake.merge_commit(n).is_some());
    assert_eq!(merge_calls(&fake, n).len(), 1);
    assert!(replies(&fake, n)[3].contains("Ignoring the checks failing"));
    assert!(
        fake.issue(n)
            .expect("pr")
            .labels
            .contains(&"merged".to_string())
    );
    fake.assert_clean();
}

#[tokio::test]
async fn a_merge_github_refuses_is_explained_with_githubs_reason() {
    let fake = start().await;
    let (n, head) = approved_pull(&fake);
    head_run(&fake, n, &head, "CI", Some("success"));
    let why = "At least 2 approving reviews are required by reviewers with write access.";
    fake.block_merges(why);
    let (id, out) = say(&fake, n, MAINTAINER, "@ci-medic merge").await;
    assert_ne!(out.code, 0, "a merge that did not land fails the run");
    assert_eq!(fake.reaction_contents(id), ["rocket"]);
    assert!(fake.merge_commit(n).is_none());
    let r = replies(&fake, n);
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(r[0].contains("## Merge failed"), "{}", r[0]);
    assert!(r[0].contains("405"), "{}", r[0]);
    assert!(r[0].contains("At least 2 approving reviews"), "{}", r[0]);
    assert!(
        !fake
            .issue(n)
            .expect("pr")
            .labels
            .contains(&"merged".to_string())
    );
    fake.assert_clean();
}

#[tokio::test]
async fn a_merge_whose_head_moved_before_the_call_asks_for_the_command_again() {
    let fake = start().await;
    let (n, head) = approved_pull(&fake);
    head_run(&fake, n, &head, "CI", Some("success"));
    // The command reads the pull request at `head`; a push lands before the
    // merge call, which carries the head it read: GitHub answers 409.
    let stale = fake.pull_json(n);
    let pushed = fake.commit_files("feature", &[("src/late.rs", "x\n")], "a late push");
    fake.inject(
        "GET",
        &format!(r"^/repos/{OWNER}/{REPO}/pulls/{n}$"),
        Fault::status(200).body(stale),
    );
    let (id, out) = say(&fake, n, MAINTAINER, "@ci-medic merge").await;
    assert_ne!(out.code, 0, "a merge that did not land fails the run");
    assert_eq!(fake.reaction_contents(id), ["rocket"]);
    assert!(fake.merge_commit(n).is_none());
    let merges = merge_calls(&fake, n);
    assert_eq!(merges.len(), 1);
    assert_eq!(merges[0]["sha"], head.as_str());
    let answered: Vec<u16> = fake
        .requests_to("PUT", &format!(r"^/repos/{OWNER}/{REPO}/pulls/{n}/merge$"))
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(answered, [409]);
    let r = replies(&fake, n);
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(r[0].contains("## Merge failed"), "{}", r[0]);
    assert!(r[0].contains("re-issue the merge command"), "{}", r[0]);
    assert!(r[0].contains("Head branch was modified"), "{}", r[0]);
    assert_eq!(fake.head_sha("feature"), pushed);
    assert!(
        !fake
            .issue(n)
            .expect("pr")
            .labels
            .contains(&"merged".to_string())
    );
    fake.assert_clean();
}

/// A `workflow_run` `completed` payload for run `run_id` on `head`.
fn completed(run_id: u64, head: &str, conclusion: &str) -> Value {
    crate::support::action::workflow_run_payload(
        run_id,
        "CI",
        crate::support::fake_github::CI_WORKFLOW_PATH,
        conclusion,
        "feature",
        head,
    )
}

#[tokio::test]
async fn a_pending_merge_merges_when_the_checks_pass_once_however_often_told() {
    let fake = start().await;
    let (n, head) = approved_pull(&fake);
    let run = head_run(&fake, n, &head, "CI", None);
    let (id, out) = say(&fake, n, MAINTAINER, "@ci-medic merge").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(fake.merge_commit(n).is_none());
    assert_eq!(fake.reaction_contents(id), ["+1"]);
    assert!(merging(&fake, n));
    let r = replies(&fake, n);
    assert!(r[0].contains("once its checks pass"), "{}", r[0]);
    assert!(r[0].contains("<!-- ci-medic:merge {"), "{}", r[0]);

    // The run completes green: the pinned head is merged, once.
    fake.update_run(run, |r, _| {
        r.status = "completed".into();
        r.conclusion = Some("success".into());
    });
    let payload = completed(run, &head, "success");
    for _ in 0..2 {
        let out = Runner::new(&fake).run_event("workflow_run", &payload).await;
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    assert!(fake.merge_commit(n).is_some());
    let merges = merge_calls(&fake, n);
    assert_eq!(merges.len(), 1);
    assert_eq!(merges[0]["sha"], head.as_str());
    let labels = fake.issue(n).expect("pr").labels;
    assert!(labels.contains(&"merged".to_string()), "{labels:?}");
    assert!(!labels.contains(&"merging".to_string()), "{labels:?}");
    let r = replies(&fake, n);
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(r[0].contains("Merged"), "{}", r[0]);
    fake.assert_clean();
}

#[tokio::test]
async fn a_push_cancels_a_pending_merge_and_a_failure_ends_one() {
    let fake = start().await;
    let (n, head) = approved_pull(&fake);
    let run = head_run(&fake, n, &head, "CI", None);
    let (id, out) = say(&fake, n, MAINTAINER, "@ci-medic merge").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.reaction_contents(id), ["+1"]);
    let new_head = fake.commit_files("feature", &[("src/lib.rs", "pub fn g() {}\n")], "more");
    fake.update_run(run, |r, _| {
        r.status = "completed".into();
        r.conclusion = Some("success".into());
    });
    let out = Runner::new(&fake)
        .run_event("workflow_run", &completed(run, &head, "success"))
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(fake.merge_commit(n).is_none());
    let r = replies(&fake, n);
    assert!(r[0].contains("## Merge cancelled"), "{}", r[0]);
    assert!(r[0].contains(&new_head), "{}", r[0]);
    assert!(!merging(&fake, n));

    // Failing checks end a wait with `## Merge failed`.
    let run = head_run(&fake, n, &new_head, "CI", None);
    let (id, out) = say(&fake, n, MAINTAINER, "@ci-medic merge").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.reaction_contents(id), ["+1"]);
    fake.update_run(run, |r, _| {
        r.status = "completed".into();
        r.conclusion = Some("failure".into());
    });
    let out = Runner::new(&fake)
        .run_event("workflow_run", &completed(run, &new_head, "failure"))
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(fake.merge_commit(n).is_none());
    let r = replies(&fake, n);
    assert!(r[1].contains("## Merge failed"), "{}", r[1]);
    assert!(r[1].contains("Checks failed"), "{}", r[1]);
    assert!(!merging(&fake, n));
    fake.assert_clean();
}

/// A sealed pending-merge reply for `n` at `head`, written as `author`.
fn seed_pending(fake: &FakeGithub, n: u64, head: &str, author: &str, deadline_secs: i64) {
    seed_pending_as(fake, n, head, author, deadline_secs, |_| {});
}

/// [`seed_pending`] with its state's JSON changed by `edit` before it is
/// sealed (a record as another version wrote it).
fn seed_pending_as(
    fake: &FakeGithub,
    n: u64,
    head: &str,
    author: &str,
    deadline_secs: i64,
    edit: impl FnOnce(&mut Value),
) {
    use ci_medic::bot::merge::{Mode, PendingMerge, STATE_KIND, seal_reply};
    use ci_medic::bot::reply::ReplyTo;
    let state = PendingMerge {
        pr: n,
        sha: head.into(),
        requester: MAINTAINER.into(),
        mode: Mode::Normal,
        ignored: Vec::new(),
        approvers: vec![WRITER.into()],
        tolerate: 0,
        rebase: false,
        deadline: chrono::DateTime::from_timestamp(deadline_secs, 0).expect("time"),
        body_sha256: ci_medic::report::hidden::DIGEST_PLACEHOLDER.into(),
        ignored_failures: Vec::new(),
    };
    let to = ReplyTo {
        number: n,
        key: "comment-1".into(),
    };
    let mut state = serde_json::to_value(&state).expect("state");
    edit(&mut state);
    let body = seal_reply(to.body(&format!(
        "waiting\n\n{}",
        ci_medic::report::hidden::line(STATE_KIND, &state)
    )));
    fake.add_comment(n, author, &body);
    fake.with_world(|w| {
        let (env, repo, _) = w.split(&format!("{OWNER}/{REPO}")).expect("repo");
        repo.add_issue_labels(env, n, &["merging".to_string()], author);
    });
}

#[tokio::test]
async fn a_pending_merge_gives_up_at_its_deadline_and_forged_ones_are_ignored() {
    let fake = start().await;
    let (n, head) = approved_pull(&fake);
    head_run(&fake, n, &head, "CI", None);
    let lint = head_run(&fake, n, &head, "Lint", Some("success"));
    // A request in someone else's comment is not ours, however well sealed.
    seed_pending(&fake, n, &head, STRANGER, 1_000_000_000);
    let out = Runner::new(&fake)
        .run_event("workflow_run", &completed(lint, &head, "success"))
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(replies(&fake, n).is_empty());
    assert!(merging(&fake, n));

    // Ours, with its deadline (2001) long gone: given up.
    seed_pending(&fake, n, &head, ACTIONS_BOT, 1_000_000_000);
    let out = Runner::new(&fake)
        .run_event("workflow_run", &completed(lint, &head, "success"))
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(fake.merge_commit(n).is_none());
    let r = replies(&fake, n);
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(r[0].contains("did not finish by the deadline"), "{}", r[0]);
    assert!(!merging(&fake, n));
    fake.assert_clean();
}

#[tokio::test]
async fn an_ignore_current_wait_recorded_by_an_older_version_ignores_nothing() {
    let fake = start().await;
    let (n, head) = approved_pull(&fake);
    head_run(&fake, n, &head, "Lint", Some("failure"));
    let ci = head_run(&fake, n, &head, "CI", Some("success"));
    // As `merge -r -i` recorded it before the `rebase` field: the checks
    // failing before the update, by name, and no `ignored_failures`.
    seed_pending_as(&fake, n, &head, ACTIONS_BOT, 4_000_000_000, |state| {
        state["mode"] = json!("ignore-current");
        state["ignored"] = json!(["Lint"]);
        if let Some(o) = state.as_object_mut() {
            o.remove("rebase");
            o.remove("ignored_failures");
        }
    });
    let out = Runner::new(&fake)
        .run_event("workflow_run", &completed(ci, &head, "success"))
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(fake.merge_commit(n).is_none());
    let r = replies(&fake, n);
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(r[0].contains("## Merge failed"), "{}", r[0]);
    assert!(r[0].contains("`Lint`"), "{}", r[0]);
    assert!(!merging(&fake, n));
    fake.assert_clean();
}

// ---------------------------------------------------------------------------
// rebase

#[tokio::test]
async fn rebase_updates_the_branch_pinned_to_the_head_it_saw() {
    let fake = start().await;
    let (n, head) = pull_by(&fake, STRANGER);
    let base = fake.commit_files(DEFAULT_BRANCH, &[("NEWS", "1.0\n")], "news");

    // A reader may not.
    fake.set_permission(STRANGER, "read");
    let (id, _) = say(&fake, n, STRANGER, "@ci-medic rebase").await;
    assert_eq!(fake.reaction_contents(id), ["confused"]);
    assert_eq!(fake.head_sha("feature"), head);

    // A branch that does not exist is refused, escaped.
    let (id, _) = say(&fake, n, MAINTAINER, "@ci-medic rebase -b '@team/`x`'").await;
    assert_eq!(fake.reaction_contents(id), ["confused"]);
    let r = replies(&fake, n);
    assert!(r[1].contains("There is no branch"), "{}", r[1]);
    assert!(!r[1].contains(" @team"), "{}", r[1]);

    let (id, out) = say(&fake, n, MAINTAINER, "@ci-medic rebase").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.reaction_contents(id), ["+1"]);
    let calls = fake.requests_to(
        "PUT",
        &format!(r"^/repos/{OWNER}/{REPO}/pulls/{n}/update-branch$"),
    );
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].json().map(|b| b["expected_head_sha"].clone()),
        Some(Value::from(head.as_str()))
    );
    let updated = fake.commit(&fake.head_sha("feature")).expect("commit");
    assert_eq!(updated.parents, [head, base]);
    assert!(fake.merge_commit(n).is_none());
    let r = replies(&fake, n);
    assert!(r[2].contains("up to date with `main`"), "{}", r[2]);
    fake.assert_clean();
}

// ---------------------------------------------------------------------------
// revert

#[tokio::test]
async fn revert_opens_the_exact_revert_of_a_merged_pull_request() {
    let fake = start().await;
    let (open, _) = pull_by(&fake, STRANGER);
    let (id, _) = say(
        &fake,
        open,
        MAINTAINER,
        "@ci-medic revert -m \"x y\" -c weird",
    )
    .await;
    assert_eq!(fake.reaction_contents(id), ["confused"]);
    assert!(replies(&fake, open)[0].contains("not merged"));

    let head = fake.commit_files("landed", &[("src/new.rs", "pub fn n() {}\n")], "feat: n");
    let n = fake.add_pull(PullBuilder::new("landed", "Add n").user(STRANGER).merged());
    fake.set_branch(DEFAULT_BRANCH, &head);

    fake.set_permission("reader", "read");
    let (id, _) = say(&fake, n, "reader", "@ci-medic revert -m \"x y\" -c weird").await;
    assert_eq!(fake.reaction_contents(id), ["confused"]);

    let (id, out) = say(
        &fake,
        n,
        MAINTAINER,
        "@ci-medic revert -m \"breaks trunk <!-- x --> @everyone\" -c nosignal",
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.reaction_contents(id), ["+1"]);
    let pulls = fake.pulls();
    let revert = pulls
        .iter()
        .find(|p| p.head_ref == format!("ci-medic/revert-{n}"))
        .expect("a revert pull request");
    assert_eq!(revert.base_ref, DEFAULT_BRANCH);
    assert_eq!(revert.title, "Revert \"Add n\" (#2)");
    let body = revert.body.clone().unwrap_or_default();
    assert!(body.contains("nosignal"), "{body}");
    assert_eq!(body.matches("<!--").count(), 1, "{body}");
    // The revert removes what the pull request added, and only that.
    assert_eq!(
        fake.file(&format!("ci-medic/revert-{n}"), "src/new.rs"),
        None
    );
    assert!(
        fake.file(&format!("ci-medic/revert-{n}"), "README.md")
            .is_some()
    );
    assert!(
        fake.issue(n)
            .expect("pr")
            .labels
            .contains(&"reverted".to_string())
    );
    let r = replies(&fake, n);
    assert!(r[1].contains("Reverting"), "{}", r[1]);
    assert_eq!(r[1].matches("<!--").count(), 1, "{}", r[1]);
    fake.refs();
    fake.assert_clean();
}

// ---------------------------------------------------------------------------
// cherry-pick

#[tokio::test]
async fn cherry_pick_opens_a_pull_request_into_the_release_branch_or_names_conflicts() {
    let fake = start().await;
    let base = fake.head_sha(DEFAULT_BRANCH);
    fake.set_branch("release/1.0", &base);
    fake.set_branch("release/0.9", &base);
    fake.commit_files("release/0.9", &[("README.md", "# old\n")], "0.9 readme");
    let head = fake.commit_files(
        "landed",
        &[
            ("src/new.rs", "pub fn n() {}\n"),
            ("README.md", "# octo-repo, now with n\n"),
        ],
        "feat: n",
    );
    let n = fake.add_pull(PullBuilder::new("landed", "Add n").user(STRANGER).merged());
    fake.set_branch(DEFAULT_BRANCH, &head);

    // README.md differs on release/0.9 from what the change was made on.
    let (id, out) = say(
        &fake,
        n,
        MAINTAINER,
        "@ci-medic cherry-pick --onto release/0.9 -c regression",
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.reaction_contents(id), ["confused"]);
    let r = replies(&fake, n);
    assert!(r[0].contains("does not apply"), "{}", r[0]);
    assert!(r[0].contains("`README.md`"), "{}", r[0]);
    assert!(!r[0].contains("src/new.rs"), "{}", r[0]);

    let (id, out) = say(
        &fake,
        n,
        MAINTAINER,
        "@ci-medic cherry-pick --onto release/1.0 -c critical --fixes https://github.com/octo-org/octo-repo/issues/9",
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.reaction_contents(id), ["+1"]);
    let pulls = fake.pulls();
    let pick = pulls
        .iter()
        .find(|p| p.base_ref == "release/1.0")
        .expect("a cherry-pick pull request");
    assert_eq!(
        pick.head_ref,
        format!("ci-medic/cherry-pick-{n}-release-1.0")
    );
    let body = pick.body.clone().unwrap_or_default();
    assert!(body.contains("critical"), "{body}");
    assert!(body.contains("issues/9"), "{body}");
    assert_eq!(
        fake.file(&pick.head_ref, "src/new.rs").as_deref(),
        Some("pub fn n() {}\n")
    );
    assert!(replies(&fake, n)[1].contains("Cherry-picking"));
    fake.refs();
    fake.assert_clean();
}

#[tokio::test]
async fn a_cherry_picks_hostile_branch_and_fixes_link_stay_inert() {
    let fake = start().await;
    let base = fake.head_sha(DEFAULT_BRANCH);
    fake.set_branch("release/1.0", &base);
    let head = fake.commit_files("landed", &[("src/new.rs", "pub fn n() {}\n")], "feat: n");
    let n = fake.add_pull(PullBuilder::new("landed", "Add n").user(STRANGER).merged());
    fake.set_branch(DEFAULT_BRANCH, &head);

    // A branch that does not exist, named with a comment and a mention.
    let (id, out) = say(
        &fake,
        n,
        MAINTAINER,
        "@ci-medic cherry-pick --onto '<!-- x --> @everyone' -c critical",
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.reaction_contents(id), ["confused"]);
    let r = replies(&fake, n);
    assert_eq!(r[0].matches("<!--").count(), 1, "only our marker: {}", r[0]);
    assert!(!r[0].contains("<!-- x"), "{}", r[0]);

    // A `--fixes` link that is no link: one code span in the pull
    // request's body, its comment broken.
    let (id, out) = say(
        &fake,
        n,
        MAINTAINER,
        "@ci-medic cherry-pick --onto release/1.0 -c docs --fixes '<!-- y --> @everyone [x](http://e.vil)'",
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.reaction_contents(id), ["+1"]);
    let r = replies(&fake, n);
    assert!(r[1].contains("Cherry-picking"), "{}", r[1]);
    assert_eq!(r[1].matches("<!--").count(), 1, "only our marker: {}", r[1]);
    let pulls = fake.pulls();
    let pick = pulls
        .iter()
        .find(|p| p.base_ref == "release/1.0")
        .expect("a cherry-pick pull request");
    let body = pick.body.clone().unwrap_or_default();
    assert_eq!(body.matches("<!--").count(), 1, "only our marker: {body}");
    let fixes = body
        .lines()
        .find(|l| l.starts_with("Fixes: "))
        .expect("the fixes line");
    assert!(
        fixes.starts_with("Fixes: `") && fixes.ends_with('`'),
        "{fixes}"
    );
    // The branch the pull request comes from holds the cherry-picked commit.
    assert_eq!(
        fake.refs().get(&format!("refs/heads/{}", pick.head_ref)),
        Some(&pick.head_sha)
    );
    fake.assert_clean();
}

// ---------------------------------------------------------------------------
// merge: failures Dr. CI says the pull request did not cause

/// A check run on `head` written by `app`, returning its id.
fn add_check_run(
    fake: &FakeGithub,
    head: &str,
    name: &str,
    app: &str,
    conclusion: Option<&str>,
    summary: Option<String>,
) -> u64 {
    fake.with_world(|w| {
        let (env, repo, _) = w.split(&format!("{OWNER}/{REPO}")).expect("repo");
        let now = env.tick();
        let id = env.next_id();
        repo.check_runs.push(CheckRun {
            id,
            name: name.into(),
            head_sha: head.into(),
            status: if conclusion.is_some() {
                "completed"
            } else {
                "in_progress"
            }
            .into(),
            conclusion: conclusion.map(str::to_string),
            title: Some(name.into()),
            summary,
            text: None,
            details_url: None,
            external_id: None,
            app: app.into(),
            started_at: now,
            completed_at: conclusion.map(|_| now),
        });
        id
    })
}

/// Our `Dr. CI` check run on `head` classifying `jobs`, as the Dr. CI
/// handler renders it.
fn drci_check(fake: &FakeGithub, n: u64, head: &str, jobs: &[(String, ci_medic::drci::Class)]) {
    use ci_medic::drci::{Class, Verdict};
    let verdicts: Vec<Verdict> = jobs
        .iter()
        .map(|(name, class)| Verdict {
            name: name.clone(),
            class: *class,
            reason: "classified".into(),
            fingerprint: None,
            evidence: None,
            url: None,
            cause: None,
            attempt: 1,
        })
        .collect();
    let body = ci_medic::drci::comment::render(Some(n), head, head, &verdicts);
    let summary = body.split_once('\n').map(|(_, s)| s.to_string());
    let new = jobs
        .iter()
        .any(|(_, c)| matches!(c, Class::New | Class::Unclassified));
    add_check_run(
        fake,
        head,
        "Dr. CI",
        "github-actions",
        Some(if new { "failure" } else { "success" }),
        summary,
    );
}

/// A completed `CI` run on the head whose jobs `failed` failed.
fn failed_ci(fake: &FakeGithub, n: u64, head: &str, failed: &[String]) -> u64 {
    let mut run = RunBuilder::new("CI")
        .event("pull_request")
        .head_sha(head)
        .head_branch("feature")
        .pull_request(n)
        .job(JobBuilder::new("build").conclusion("success"));
    for j in failed {
        run = run.job(JobBuilder::failed(j));
    }
    fake.add_run(run).id
}

#[tokio::test]
async fn a_failure_dr_ci_calls_flaky_is_tolerated_a_new_one_is_not() {
    use ci_medic::drci::Class;
    let fake = start().await;
    let (n, head) = approved_pull(&fake);
    failed_ci(&fake, n, &head, &["test".into()]);
    drci_check(&fake, n, &head, &[("CI / test".into(), Class::Flaky)]);
    let (id, out) = say(&fake, n, MAINTAINER, "@ci-medic merge").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.reaction_contents(id), ["rocket"]);
    let merges = merge_calls(&fake, n);
    assert_eq!(merges.len(), 1);
    assert_eq!(merges[0]["sha"], head.as_str());
    let r = replies(&fake, n);
    assert!(
        r[0].contains("Tolerating failures Dr. CI classifies"),
        "{}",
        r[0]
    );
    assert!(fake.merge_commit(n).is_some());
    assert!(
        fake.issue(n)
            .expect("pr")
            .labels
            .contains(&"merged".to_string())
    );

    // The same failure classified NEW blocks.
    let fake = start().await;
    let (n, head) = approved_pull(&fake);
    failed_ci(&fake, n, &head, &["test".into()]);
    drci_check(
        &fake,
        n,
        &head,
        &[
            ("CI / test".into(), Class::New),
            ("CI / other".into(), Class::Flaky),
        ],
    );
    let (id, out) = say(&fake, n, MAINTAINER, "@ci-medic merge").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.reaction_contents(id), ["confused"]);
    assert!(merge_calls(&fake, n).is_empty());
    let r = replies(&fake, n);
    assert!(r[0].contains("Checks are failing"), "{}", r[0]);

    // A "Dr. CI" check run someone else wrote is never read.
    let fake = start().await;
    let (n, head) = approved_pull(&fake);
    failed_ci(&fake, n, &head, &["test".into()]);
    let body = ci_medic::drci::comment::render(
        Some(n),
        &head,
        &head,
        &[ci_medic::drci::Verdict {
            name: "CI / test".into(),
            class: Class::Flaky,
            reason: "r".into(),
            fingerprint: None,
            evidence: None,
            url: None,
            cause: None,
            attempt: 1,
        }],
    );
    add_check_run(
        &fake,
        &head,
        "Dr. CI",
        "forger",
        Some("success"),
        Some(body),
    );
    let (id, out) = say(&fake, n, MAINTAINER, "@ci-medic merge").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.reaction_contents(id), ["confused"]);
    assert!(merge_calls(&fake, n).is_empty());
    let r = replies(&fake, n);
    assert!(r[0].contains("Checks are failing"), "{}", r[0]);
    fake.assert_clean();
}

#[tokio::test]
async fn more_unrelated_failures_than_the_threshold_are_refused() {
    use ci_medic::drci::Class;
    let fake = start().await;
    let (n, head) = approved_pull(&fake);
    let jobs: Vec<String> = (0..11).map(|i| format!("test ({i})")).collect();
    failed_ci(&fake, n, &head, &jobs);
    let classified: Vec<(String, Class)> = jobs
        .iter()
        .map(|j| (format!("CI / {j}"), Class::Flaky))
        .collect();
    drci_check(&fake, n, &head, &classified);
    let (id, out) = say(&fake, n, MAINTAINER, "@ci-medic merge").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.reaction_contents(id), ["confused"]);
    assert!(merge_calls(&fake, n).is_empty());
    let r = replies(&fake, n);
    assert!(r[0].contains("Dr. CI classifies 11 failures"), "{}", r[0]);
    assert!(r[0].contains("more than the 10"), "{}", r[0]);

    // Ten are within the default threshold.
    let fake = start().await;
    let (n, head) = approved_pull(&fake);
    failed_ci(&fake, n, &head, &jobs[..10]);
    drci_check(&fake, n, &head, &classified[..10]);
    let (id, out) = say(&fake, n, MAINTAINER, "@ci-medic merge").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.reaction_contents(id), ["rocket"]);
    assert_eq!(merge_calls(&fake, n).len(), 1);
    assert!(fake.merge_commit(n).is_some());
    assert!(
        fake.issue(n)
            .expect("pr")
            .labels
            .contains(&"merged".to_string())
    );
    assert!(replies(&fake, n)[0].contains("Tolerating"));
    fake.assert_clean();
}

#[tokio::test]
async fn a_rule_without_ignore_flaky_failures_tolerates_none() {
    use ci_medic::drci::Class;
    let fake = start().await;
    with_rules(
        &fake,
        &format!(
            "- name: Sources\n  patterns:\n  - src/**\n  approved_by:\n  - {WRITER}\n  ignore_flaky_failures: false\n"
        ),
    );
    let (n, head) = approved_pull(&fake);
    failed_ci(&fake, n, &head, &["test".into()]);
    drci_check(&fake, n, &head, &[("CI / test".into(), Class::Flaky)]);
    let (id, out) = say(&fake, n, MAINTAINER, "@ci-medic merge").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.reaction_contents(id), ["confused"]);
    assert!(merge_calls(&fake, n).is_empty());
    let r = replies(&fake, n);
    assert!(r[0].contains("Checks are failing"), "{}", r[0]);
    fake.assert_clean();
}

// ---------------------------------------------------------------------------
// pending merges: woken by check suites and check runs, approvals read again

/// A `check_suite` (or `check_run`) `completed` payload for `head`, from
/// GitHub's example payload.
fn check_completed(event: &str, head: &str, check_run_id: u64) -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/webhooks/check_run/01-completed.json"
    ))
    .expect("fixture");
    let mut v: Value = serde_json::from_str(&text).expect("fixture json");
    v["check_run"]["id"] = check_run_id.into();
    v["check_run"]["head_sha"] = head.into();
    v["check_run"]["conclusion"] = "success".into();
    v["check_run"]["check_suite"]["head_sha"] = head.into();
    v["check_run"]["check_suite"]["status"] = "completed".into();
    v["check_run"]["check_suite"]["conclusion"] = "success".into();
    v["repository"]["full_name"] = format!("{OWNER}/{REPO}").into();
    if event == "check_suite" {
        let suite = v["check_run"]["check_suite"].clone();
        v = json!({
            "action": "completed",
            "check_suite": suite,
            "repository": v["repository"].clone(),
            "sender": v["sender"].clone(),
        });
    }
    v
}

/// Complete check run `id` green.
fn pass_check_run(fake: &FakeGithub, id: u64) {
    fake.with_world(|w| {
        let (env, repo, _) = w.split(&format!("{OWNER}/{REPO}")).expect("repo");
        let now = env.tick();
        if let Some(c) = repo.check_runs.iter_mut().find(|c| c.id == id) {
            c.status = "completed".into();
            c.conclusion = Some("success".into());
            c.completed_at = Some(now);
        }
    });
}

#[tokio::test]
async fn a_pending_merge_wakes_on_a_completed_check_suite_or_check_run() {
    for event in ["check_suite", "check_run"] {
        let fake = start().await;
        let (n, head) = approved_pull(&fake);
        head_run(&fake, n, &head, "CI", Some("success"));
        let ext = add_check_run(&fake, &head, "ext-ci / build", "ext-ci", None, None);
        let (id, out) = say(&fake, n, MAINTAINER, "@ci-medic merge").await;
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(fake.reaction_contents(id), ["+1"]);
        assert!(fake.merge_commit(n).is_none());
        // Another commit's suite completing does not merge this one.
        let other = Runner::new(&fake)
            .run_event(event, &check_completed(event, &"0".repeat(40), ext))
            .await;
        assert_eq!(other.code, 0, "{}", other.stderr);
        assert!(merge_calls(&fake, n).is_empty());

        pass_check_run(&fake, ext);
        let out = Runner::new(&fake)
            .run_event(event, &check_completed(event, &head, ext))
            .await;
        assert_eq!(out.code, 0, "{event}: {}", out.stderr);
        let merges = merge_calls(&fake, n);
        assert_eq!(merges.len(), 1, "{event}");
        assert_eq!(merges[0]["sha"], head.as_str());
        assert!(fake.merge_commit(n).is_some());
        let labels = fake.issue(n).expect("pr").labels;
        assert!(labels.contains(&"merged".to_string()), "{labels:?}");
        assert!(!labels.contains(&"merging".to_string()), "{labels:?}");
        assert!(replies(&fake, n)[0].contains("Merged"));
        fake.assert_clean();
    }
}

#[tokio::test]
async fn an_approval_dismissed_while_a_merge_waits_ends_it() {
    let fake = start().await;
    let (n, head) = approved_pull(&fake);
    let run = head_run(&fake, n, &head, "CI", None);
    let (id, out) = say(&fake, n, MAINTAINER, "@ci-medic merge").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.reaction_contents(id), ["+1"]);
    fake.add_review(n, WRITER, "DISMISSED");
    fake.update_run(run, |r, _| {
        r.status = "completed".into();
        r.conclusion = Some("success".into());
    });
    let out = Runner::new(&fake)
        .run_event("workflow_run", &completed(run, &head, "success"))
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(fake.merge_commit(n).is_none());
    assert!(merge_calls(&fake, n).is_empty());
    let r = replies(&fake, n);
    assert!(r[0].contains("## Merge failed"), "{}", r[0]);
    assert!(r[0].contains("approvals changed"), "{}", r[0]);
    assert!(r[0].contains("approving review"), "{}", r[0]);
    assert!(!merging(&fake, n));
    fake.assert_clean();
}

// ---------------------------------------------------------------------------
// merge -r: update the branch, then merge the head the update made

#[tokio::test]
async fn merge_r_updates_the_branch_then_merges_the_updated_head_once_green() {
    let fake = start().await;
    let (n, head) = approved_pull(&fake);
    head_run(&fake, n, &head, "CI", Some("success"));
    let base = fake.commit_files(DEFAULT_BRANCH, &[("NEWS", "1.0\n")], "news");

    // Onto another branch than the base: refused, escaped.
    let (id, out) = say(&fake, n, MAINTAINER, "@ci-medic merge -r '@team/`x`'").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.reaction_contents(id), ["confused"]);
    let r = replies(&fake, n);
    assert!(r[0].contains("not available with `merge`"), "{}", r[0]);
    assert!(!r[0].contains(" @team"), "{}", r[0]);

    let (id, out) = say(&fake, n, MAINTAINER, "@ci-medic merge -r").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.reaction_contents(id), ["+1"]);
    let calls = fake.requests_to(
        "PUT",
        &format!(r"^/repos/{OWNER}/{REPO}/pulls/{n}/update-branch$"),
    );
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].json().map(|b| b["expected_head_sha"].clone()),
        Some(Value::from(head.as_str()))
    );
    let updated = fake.head_sha("feature");
    assert_eq!(
        fake.commit(&updated).expect("commit").parents,
        [head.clone(), base]
    );
    // Nothing merged yet: the updated head has no checks.
    assert!(merge_calls(&fake, n).is_empty());
    let r = replies(&fake, n);
    assert!(r[1].contains("Updated the branch"), "{}", r[1]);
    assert!(r[1].contains(&updated), "{}", r[1]);
    assert!(merging(&fake, n));

    // The old head's completion does not merge; the updated head's does.
    let run = head_run(&fake, n, &updated, "CI", Some("success"));
    let out = Runner::new(&fake)
        .run_event("workflow_run", &completed(run, &head, "success"))
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(merge_calls(&fake, n).is_empty());
    let out = Runner::new(&fake)
        .run_event("workflow_run", &completed(run, &updated, "success"))
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let merges = merge_calls(&fake, n);
    assert_eq!(merges.len(), 1);
    assert_eq!(merges[0]["sha"], updated.as_str());
    assert!(fake.merge_commit(n).is_some());
    let labels = fake.issue(n).expect("pr").labels;
    assert!(labels.contains(&"merged".to_string()), "{labels:?}");
    assert!(!labels.contains(&"merging".to_string()), "{labels:?}");
    assert!(replies(&fake, n)[1].contains("Merged"));
    fake.assert_clean();
}

/// A `Lint` run on `head` of pull request `n` with a `fmt` job (failing in
/// `step` when given) and a `clippy` job (failing when `clippy_fails`).
fn lint_run(
    fake: &FakeGithub,
    n: u64,
    head: &str,
    fmt_step: Option<&str>,
    clippy_fails: bool,
) -> u64 {
    let fmt = match fmt_step {
        Some(step) => JobBuilder::failed("fmt")
            .step("checkout", Some("success"))
            .step(step, Some("failure")),
        None => JobBuilder::new("fmt"),
    };
    let clippy = if clippy_fails {
        JobBuilder::failed("clippy")
    } else {
        JobBuilder::new("clippy")
    };
    let run = RunBuilder::new("Lint")
        .event("pull_request")
        .head_sha(head)
        .head_branch("feature")
        .pull_request(n)
        .job(fmt)
        .job(clippy);
    fake.add_run(run).id
}

#[tokio::test]
async fn merge_r_i_ignores_on_the_updated_head_only_the_checks_failing_before() {
    // What fails on the updated head: `fmt` (in which step), `clippy`, `CI`.
    // Only `fmt` failing again the same way is ignored: `clippy` failing
    // newly in the same workflow, `fmt` failing elsewhere, or another
    // workflow failing ends the merge.
    for (fmt_step, clippy_fails, ci, lands) in [
        (Some("cargo fmt --check"), false, "success", true),
        (Some("cargo fmt --check"), true, "success", false),
        (Some("install rustfmt"), false, "success", false),
        (Some("cargo fmt --check"), false, "failure", false),
    ] {
        let fake = start().await;
        let (n, head) = approved_pull(&fake);
        head_run(&fake, n, &head, "CI", Some("success"));
        lint_run(&fake, n, &head, Some("cargo fmt --check"), false);
        fake.commit_files(DEFAULT_BRANCH, &[("NEWS", "1.0\n")], "news");

        let (id, out) = say(&fake, n, MAINTAINER, "@ci-medic merge -r -i").await;
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(fake.reaction_contents(id), ["+1"]);
        let updated = fake.head_sha("feature");
        assert_ne!(updated, head);
        assert!(merge_calls(&fake, n).is_empty());
        let r = replies(&fake, n);
        assert!(r[0].contains(&updated), "{}", r[0]);
        assert!(
            r[0].contains("Ignoring the checks that were failing"),
            "{}",
            r[0]
        );
        assert!(r[0].contains("`Lint / fmt`"), "{}", r[0]);
        assert!(!r[0].contains("clippy"), "{}", r[0]);

        lint_run(&fake, n, &updated, fmt_step, clippy_fails);
        let run = head_run(&fake, n, &updated, "CI", Some(ci));
        let out = Runner::new(&fake)
            .run_event("workflow_run", &completed(run, &updated, ci))
            .await;
        assert_eq!(out.code, 0, "{}", out.stderr);
        let merges = merge_calls(&fake, n);
        let r = replies(&fake, n);
        if lands {
            assert_eq!(merges.len(), 1, "{r:?}");
            assert_eq!(merges[0]["sha"], updated.as_str());
            assert!(fake.merge_commit(n).is_some());
            assert!(r[0].contains("Merged"), "{}", r[0]);
        } else {
            assert!(merges.is_empty(), "{r:?}");
            assert!(fake.merge_commit(n).is_none());
            assert!(r[0].contains("## Merge failed"), "{}", r[0]);
            let named = if ci == "failure" { "`CI`" } else { "`Lint`" };
            assert!(r[0].contains(named), "{}", r[0]);
        }
        let labels = fake.issue(n).expect("pr").labels;
        assert!(!labels.contains(&"merging".to_string()), "{labels:?}");
        fake.assert_clean();
    }
}

#[tokio::test]
async fn merge_r_f_updates_the_branch_then_merges_exactly_the_updated_head_at_once() {
    let fake = start().await;
    let (n, head) = approved_pull(&fake);
    // A failing check: `-f` does not wait for checks.
    head_run(&fake, n, &head, "CI", Some("failure"));
    let base = fake.commit_files(DEFAULT_BRANCH, &[("NEWS", "1.0\n")], "news");

    let (id, out) = say(
        &fake,
        n,
        MAINTAINER,
        "@ci-medic merge -r -f \"release blocker @everyone\"",
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.reaction_contents(id), ["rocket"]);
    let updates = fake.requests_to(
        "PUT",
        &format!(r"^/repos/{OWNER}/{REPO}/pulls/{n}/update-branch$"),
    );
    assert_eq!(updates.len(), 1);
    assert_eq!(
        updates[0].json().map(|b| b["expected_head_sha"].clone()),
        Some(Value::from(head.as_str()))
    );
    // The merge carries the head the update made, not the one seen.
    let merges = merge_calls(&fake, n);
    assert_eq!(merges.len(), 1);
    let updated = merges[0]["sha"].as_str().expect("sha").to_string();
    assert_ne!(updated, head);
    assert_eq!(
        fake.commit(&updated).expect("commit").parents,
        [head.clone(), base]
    );
    assert!(fake.merge_commit(n).is_some());
    let labels = fake.issue(n).expect("pr").labels;
    assert!(labels.contains(&"merged".to_string()), "{labels:?}");
    assert!(!labels.contains(&"merging".to_string()), "{labels:?}");
    let r = replies(&fake, n);
    assert!(r[0].contains("Forced by"), "{}", r[0]);
    assert!(!r[0].contains(" @everyone"), "{}", r[0]);
    fake.assert_clean();
}

// ---------------------------------------------------------------------------
// revert, mode direct

/// A merged pull request that added `src/new.rs`, with the default branch
/// at its head and `commands.revert.mode: direct`; its number and that head.
fn merged_for_direct_revert(fake: &FakeGithub) -> (u64, String) {
    fake.commit_files(
        DEFAULT_BRANCH,
        &[(
            ".github/ci-medic.yml",
            "commands:\n  revert:\n    mode: direct\n",
        )],
        "ci-medic: revert straight onto the default branch",
    );
    let head = fake.commit_files("landed", &[("src/new.rs", "pub fn n() {}\n")], "feat: n");
    let n = fake.add_pull(PullBuilder::new("landed", "Add n").user(STRANGER).merged());
    fake.set_branch(DEFAULT_BRANCH, &head);
    (n, head)
}

#[tokio::test]
async fn a_direct_revert_commits_onto_the_default_branch_only_where_it_was_read() {
    let fake = start().await;
    let (n, head) = merged_for_direct_revert(&fake);
    let (id, out) = say(
        &fake,
        n,
        MAINTAINER,
        "@ci-medic revert -m \"breaks trunk\" -c nosignal",
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.reaction_contents(id), ["+1"]);
    // No pull request: the revert is the default branch's new head, on top
    // of the head that was read, moved as a fast-forward.
    assert!(fake.pulls().iter().all(|p| !p.head_ref.contains("revert")));
    let new_head = fake.head_sha(DEFAULT_BRANCH);
    assert_eq!(fake.commit(&new_head).expect("commit").parents, [head]);
    assert_eq!(fake.file(DEFAULT_BRANCH, "src/new.rs"), None);
    assert!(fake.file(DEFAULT_BRANCH, "README.md").is_some());
    let moves = fake.requests_to(
        "PATCH",
        &format!(r"^/repos/{OWNER}/{REPO}/git/refs/heads/{DEFAULT_BRANCH}$"),
    );
    assert_eq!(moves.len(), 1);
    assert_eq!(
        moves[0].json().map(|b| b["force"].clone()),
        Some(Value::Bool(false))
    );
    // The scratch branch is gone.
    assert!(
        !fake
            .refs()
            .keys()
            .any(|r| r.contains(&format!("revert-{n}")))
    );
    assert!(
        fake.issue(n)
            .expect("pr")
            .labels
            .contains(&"reverted".to_string())
    );
    let r = replies(&fake, n);
    assert!(r[0].contains("straight onto `main`"), "{}", r[0]);

    // GitHub refusing the move (the branch moved on): nothing lands, the
    // reply says so, no label.
    let fake = start().await;
    let (n, head) = merged_for_direct_revert(&fake);
    fake.inject(
        "PATCH",
        &format!(r"^/repos/{OWNER}/{REPO}/git/refs/heads/{DEFAULT_BRANCH}$"),
        crate::support::fake_github::Fault::status(422),
    );
    let (id, out) = say(
        &fake,
        n,
        MAINTAINER,
        "@ci-medic revert -m \"breaks trunk\" -c nosignal",
    )
    .await;
    assert_ne!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.reaction_contents(id), ["+1"]);
    assert_eq!(fake.head_sha(DEFAULT_BRANCH), head);
    assert!(
        !fake
            .issue(n)
            .expect("pr")
            .labels
            .contains(&"reverted".to_string())
    );
    let r = replies(&fake, n);
    assert!(r[0].contains("## Revert failed"), "{}", r[0]);
    assert!(
        !fake
            .refs()
            .keys()
            .any(|r| r.contains(&format!("revert-{n}")))
    );
    fake.take_violations();
    fake.assert_clean();
}
