//! Dr. CI live, end to end against the fake GitHub: one comment per pull
//! request kept up to date, the check run on the head, and what must never
//! happen (a generic failure called FLAKY, a forged marker believed, a
//! hostile job name or log line rendered live).

use std::time::Duration;

use ci_medic::github::{Client, RepoName, RetryPolicy};
use serde_json::{Value, json};

use crate::analyze_flow::gha_log;
use crate::support::action::{ActionRun, Runner, workflow_run_payload};
use crate::support::fake_github::{
    CI_WORKFLOW_PATH, CheckRun, DEFAULT_BRANCH, FakeGithub, Host, JobBuilder, OWNER, PullBuilder,
    REPO, RunBuilder,
};

pub(crate) const CONFIG: &str = "\
analyze:
  enabled: false
retry:
  enabled: false
drci: {}
";

pub(crate) fn test_log(minute: u32) -> String {
    gha_log(
        minute,
        "pytest",
        &[
            "FAILED tests/test_api.py::test_upload - AssertionError: assert 500 == 200",
            "========================= 1 failed, 41 passed in 3.20s =========================",
        ],
    )
}

/// A log that says nothing but that a command failed.
pub(crate) fn generic_log(minute: u32) -> String {
    gha_log(minute, "./run-tests.sh", &["running the suite", "done"])
}

/// The repository configured for Dr. CI, with a pull request from
/// `feature` (one commit on the default branch's tip) by `alice`.
pub(crate) struct Setup {
    pub(crate) fake: FakeGithub,
    pub(crate) pr: u64,
    pub(crate) merge_base: String,
    pub(crate) head: String,
}

pub(crate) async fn setup() -> Setup {
    let fake = FakeGithub::start().await;
    let merge_base = fake.commit_files(
        DEFAULT_BRANCH,
        &[(".github/ci-medic.yml", CONFIG)],
        "Configure ci-medic",
    );
    let head = fake.commit_files("feature", &[("src/lib.rs", "fn f() {}\n")], "Add f");
    let pr = fake.add_pull(PullBuilder::new("feature", "Add f").user("alice"));
    // The default branch moves on after the branch was cut: the merge base
    // is not the base branch's tip.
    fake.commit_files(DEFAULT_BRANCH, &[("NEWS.md", "news\n")], "News");
    Setup {
        fake,
        pr,
        merge_base,
        head,
    }
}

/// A completed CI run of the pull request at `sha`.
pub(crate) fn pr_run(sha: &str, pr: u64) -> RunBuilder {
    RunBuilder::new("CI")
        .path(CI_WORKFLOW_PATH)
        .event("pull_request")
        .head_sha(sha)
        .head_branch("feature")
        .pull_request(pr)
}

/// A completed CI run on the default branch at `sha`.
pub(crate) fn base_run(sha: &str) -> RunBuilder {
    RunBuilder::new("CI")
        .path(CI_WORKFLOW_PATH)
        .event("push")
        .head_sha(sha)
        .head_branch(DEFAULT_BRANCH)
}

pub(crate) async fn on_run(fake: &FakeGithub, run_id: u64) -> ActionRun {
    let run = fake.run(run_id).expect("run");
    let mut payload = workflow_run_payload(
        run_id,
        &run.name,
        &run.path,
        run.conclusion.as_deref().unwrap_or("failure"),
        run.head_branch.as_deref().unwrap_or("feature"),
        &run.head_sha,
    );
    payload["workflow_run"]["event"] = run.event.clone().into();
    // A fork's run names no pull request; Dr. CI finds it from the SHA.
    payload["workflow_run"]["pull_requests"] = json!([]);
    let out = Runner::new(fake).run_event("workflow_run", &payload).await;
    assert_eq!(out.code, 0, "{}\n{}", out.stderr, out.stdout);
    out
}

pub(crate) fn fixture(path: &str) -> Value {
    let text = std::fs::read_to_string(format!(
        "{}/fixtures/webhooks/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture");
    serde_json::from_str(&text).expect("fixture json")
}

pub(crate) async fn on_push(fake: &FakeGithub, pr: u64, sha: &str) -> ActionRun {
    let mut v = fixture("pull_request/22-synchronize.json");
    v["number"] = pr.into();
    v["pull_request"]["number"] = pr.into();
    v["pull_request"]["state"] = "open".into();
    v["pull_request"]["head"]["sha"] = sha.into();
    v["repository"]["full_name"] = format!("{OWNER}/{REPO}").into();
    let out = Runner::new(fake).run_event("pull_request", &v).await;
    assert_eq!(out.code, 0, "{}\n{}", out.stderr, out.stdout);
    out
}

pub(crate) async fn on_comment(fake: &FakeGithub, pr: u64, action: &str, body: &str) -> ActionRun {
    let mut v = fixture("issue_comment/00-created.json");
    v["action"] = action.into();
    v["issue"]["number"] = pr.into();
    v["issue"]["pull_request"] =
        json!({"url": format!("https://api.github.com/repos/{OWNER}/{REPO}/pulls/{pr}")});
    v["comment"]["body"] = body.into();
    v["repository"]["full_name"] = format!("{OWNER}/{REPO}").into();
    let out = Runner::new(fake).run_event("issue_comment", &v).await;
    assert_eq!(out.code, 0, "{}\n{}", out.stderr, out.stdout);
    out
}

/// Our Dr. CI comments on `pr` (all of them: there must be one).
pub(crate) fn drci_comments(fake: &FakeGithub, pr: u64) -> Vec<String> {
    fake.comments(pr)
        .into_iter()
        .filter(|c| c.user == "github-actions[bot]")
        .map(|c| c.body)
        .collect()
}

pub(crate) fn the_comment(fake: &FakeGithub, pr: u64) -> String {
    let mut ours = drci_comments(fake, pr);
    assert_eq!(ours.len(), 1, "one Dr. CI comment: {ours:#?}");
    ours.remove(0)
}

pub(crate) fn check_on(fake: &FakeGithub, sha: &str) -> CheckRun {
    let runs: Vec<CheckRun> = fake
        .check_runs()
        .into_iter()
        .filter(|c| c.head_sha == sha && c.name == "Dr. CI")
        .collect();
    assert_eq!(runs.len(), 1, "one Dr. CI check run on {sha}: {runs:#?}");
    runs.into_iter().next().expect("one")
}

/// Writes (not reads) the API saw.
pub(crate) fn writes(fake: &FakeGithub) -> Vec<String> {
    fake.requests()
        .into_iter()
        .filter(|r| r.host == Host::Api && r.method != "GET")
        .map(|r| r.line())
        .collect()
}

#[tokio::test]
async fn a_failure_the_pull_request_caused_is_new_and_fails_the_check() {
    let s = setup().await;
    let fake = &s.fake;
    fake.add_run(
        base_run(&s.merge_base)
            .job(JobBuilder::new("test"))
            .job(JobBuilder::new("build")),
    );
    let run = fake.add_run(
        pr_run(&s.head, s.pr)
            .job(JobBuilder::failed("test").log(test_log(1)))
            .job(JobBuilder::new("build")),
    );
    on_run(fake, run.id).await;
    let body = the_comment(fake, s.pr);
    assert!(
        body.starts_with(&format!("<!-- ci-medic:drci:{} -->\n", s.pr)),
        "{body}"
    );
    assert!(
        body.contains("## ❌ 1 New Failure, 0 Pending, 0 Unrelated Failures"),
        "{body}"
    );
    assert!(body.contains("`CI / test`"), "{body}");
    assert!(body.contains("passed on the merge base"), "{body}");
    assert!(body.contains("test_upload"), "{body}");
    // The merge base, not the base branch's tip.
    assert!(
        body.contains(&format!("merge base `{}`", &s.merge_base[..12])),
        "{body}"
    );
    let check = check_on(fake, &s.head);
    assert_eq!(check.status, "completed");
    assert_eq!(check.conclusion.as_deref(), Some("failure"));
    assert_eq!(
        check.title.as_deref(),
        Some("1 new failure, 0 pending, 0 unrelated failures")
    );
    assert!(
        check
            .summary
            .as_deref()
            .is_some_and(|s| s.contains("`CI / test`"))
    );
    fake.assert_clean();
}

#[tokio::test]
async fn the_same_event_twice_writes_once() {
    let s = setup().await;
    let fake = &s.fake;
    fake.add_run(base_run(&s.merge_base).job(JobBuilder::new("test")));
    let run = fake.add_run(pr_run(&s.head, s.pr).job(JobBuilder::failed("test").log(test_log(1))));
    on_run(fake, run.id).await;
    let first = the_comment(fake, s.pr);
    check_on(fake, &s.head);
    let before = writes(fake).len();
    assert_eq!(before, 2, "{:#?}", writes(fake));
    on_run(fake, run.id).await;
    assert_eq!(the_comment(fake, s.pr), first);
    assert_eq!(
        writes(fake).len(),
        before,
        "nothing changed, nothing written"
    );
    fake.assert_clean();
}

/// What one update costs: the formula of `handlers::drci`, measured.
#[tokio::test]
async fn one_update_costs_a_known_number_of_calls() {
    let s = setup().await;
    let fake = &s.fake;
    fake.add_run(base_run(&s.merge_base).job(JobBuilder::new("test")));
    let run = fake.add_run(pr_run(&s.head, s.pr).job(JobBuilder::failed("test").log(test_log(1))));
    let before = fake.requests().len();
    on_run(fake, run.id).await;
    let calls: Vec<String> = fake.requests()[before..]
        .iter()
        .filter(|r| r.host == Host::Api)
        .map(|r| r.line())
        .collect();
    // Config: the repository (default branch) and the config file. Dr. CI:
    // the head's pull requests, our comment, its runs, R=1 job list, F=1
    // log, its check runs (other CI, downstream), the merge base, its runs,
    // R_b=1 job list (its `test` passed: no log), its check runs, the
    // unstable issues, the flaky memory of CI (one run list, no re-run
    // runs), the default branch's recent runs (none failed: no job list,
    // no log), other pull requests' recent runs (none failed), our check
    // run; then the comment (the pull request's head, a list, a write, a
    // list for duplicates) and the check run (a list and a write).
    let expected = 2 + (1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1) + 4 + 2;
    assert_eq!(calls.len(), expected, "{calls:#?}");
    the_comment(fake, s.pr);
    check_on(fake, &s.head);
    fake.assert_clean();
}

#[tokio::test]
async fn a_re_run_that_passes_updates_the_comment_and_the_check() {
    let s = setup().await;
    let fake = &s.fake;
    fake.add_run(base_run(&s.merge_base).job(JobBuilder::new("test")));
    let run = fake.add_run(pr_run(&s.head, s.pr).job(JobBuilder::failed("test").log(test_log(1))));
    on_run(fake, run.id).await;
    assert!(the_comment(fake, s.pr).contains("❌ 1 New Failure"));
    let comment_id = fake.comments(s.pr)[0].id;
    fake.update_run(run.id, |r, jobs| {
        r.conclusion = Some("success".into());
        for j in jobs {
            j.conclusion = Some("success".into());
        }
    });
    on_run(fake, run.id).await;
    let body = the_comment(fake, s.pr);
    assert!(
        body.contains("## ✅ 0 New Failures, 0 Pending, 0 Unrelated Failures"),
        "{body}"
    );
    assert!(body.contains("You can merge normally"), "{body}");
    assert_eq!(fake.comments(s.pr)[0].id, comment_id, "edited in place");
    let check = check_on(fake, &s.head);
    assert_eq!(check.conclusion.as_deref(), Some("success"));
    fake.assert_clean();
}

#[tokio::test]
async fn a_new_push_shows_waiting_then_the_new_verdict_and_a_late_event_changes_nothing() {
    let s = setup().await;
    let fake = &s.fake;
    fake.add_run(base_run(&s.merge_base).job(JobBuilder::new("test")));
    let old = fake.add_run(pr_run(&s.head, s.pr).job(JobBuilder::failed("test").log(test_log(1))));
    on_run(fake, old.id).await;
    assert!(the_comment(fake, s.pr).contains("❌"));
    check_on(fake, &s.head);

    let new_head = fake.commit_files("feature", &[("src/lib.rs", "fn f() { }\n")], "Fix f");
    on_push(fake, s.pr, &new_head).await;
    let body = the_comment(fake, s.pr);
    assert!(body.contains("## ⏳ Waiting for CI"), "{body}");
    assert!(body.contains(&new_head[..12]), "{body}");
    let check = check_on(fake, &new_head);
    assert_eq!(check.status, "in_progress");
    assert_eq!(check.conclusion, None);

    // The old head's run reports late: the newer head's comment stays.
    let before = writes(fake).len();
    on_run(fake, old.id).await;
    assert_eq!(writes(fake).len(), before, "{:#?}", writes(fake));
    assert!(the_comment(fake, s.pr).contains("Waiting for CI"));

    let new = fake.add_run(pr_run(&new_head, s.pr).job(JobBuilder::new("test")));
    on_run(fake, new.id).await;
    let body = the_comment(fake, s.pr);
    assert!(body.contains("## ✅ 0 New Failures"), "{body}");
    assert_eq!(
        check_on(fake, &new_head).conclusion.as_deref(),
        Some("success")
    );
    fake.assert_clean();
}

/// Yesterday on the default branch, `test` failed and passed on a re-run:
/// retry's flaky memory knows it.
async fn seed_flaky_memory(fake: &FakeGithub, sha: &str) {
    let earlier = fake.add_run(
        base_run(sha)
            .created_at(chrono::Utc::now() - chrono::Duration::hours(20))
            .job(JobBuilder::failed("test").log(test_log(1))),
    );
    let c = Client::new(
        &fake.uri(),
        fake.token(),
        RepoName::parse(&format!("{OWNER}/{REPO}")).expect("repo"),
        RetryPolicy {
            base_delay: Duration::from_millis(10),
            ..RetryPolicy::default()
        },
    )
    .expect("client");
    c.rerun_failed_jobs(earlier.id).await.expect("rerun");
    fake.update_run(earlier.id, |r, jobs| {
        r.status = "completed".into();
        r.conclusion = Some("success".into());
        for j in jobs {
            j.status = "completed".into();
            j.conclusion = Some("success".into());
        }
    });
    fake.expect_rerun_of_failed_jobs(earlier.id);
}

/// The costly error: a generic failure (nothing but an exit code) is never
/// FLAKY, even of a job retry's memory knows as flaky.
#[tokio::test]
async fn a_generic_failure_is_never_flaky_end_to_end() {
    let s = setup().await;
    let fake = &s.fake;
    seed_flaky_memory(fake, &s.merge_base).await;
    let run =
        fake.add_run(pr_run(&s.head, s.pr).job(JobBuilder::failed("test").log(generic_log(2))));
    on_run(fake, run.id).await;
    let body = the_comment(fake, s.pr);
    assert!(
        body.contains("## ❌ 1 New Failure, 0 Pending, 0 Unrelated Failures"),
        "{body}"
    );
    assert!(!body.contains("FLAKY"), "{body}");
    assert!(
        body.contains("a generic failure is never unrelated"),
        "{body}"
    );
    assert_eq!(
        check_on(fake, &s.head).conclusion.as_deref(),
        Some("failure")
    );
    fake.assert_clean();
}

/// The same evidence with a real cause makes the job FLAKY: the test above
/// passes because the failure is generic, not because the evidence is lost.
#[tokio::test]
async fn a_known_flaky_job_with_a_real_cause_is_flaky() {
    let s = setup().await;
    let fake = &s.fake;
    seed_flaky_memory(fake, &s.merge_base).await;
    let run = fake.add_run(pr_run(&s.head, s.pr).job(JobBuilder::failed("test").log(test_log(2))));
    on_run(fake, run.id).await;
    let body = the_comment(fake, s.pr);
    assert!(
        body.contains("## ✅ 0 New Failures, 0 Pending, 1 Unrelated Failure"),
        "{body}"
    );
    assert!(body.contains("FLAKY"), "{body}");
    assert!(body.contains("known flaky in retry's memory"), "{body}");
    assert_eq!(
        check_on(fake, &s.head).conclusion.as_deref(),
        Some("success")
    );
    fake.assert_clean();
}

#[tokio::test]
async fn the_same_failure_on_the_merge_base_is_broken_trunk() {
    let s = setup().await;
    let fake = &s.fake;
    fake.add_run(base_run(&s.merge_base).job(JobBuilder::failed("test").log(test_log(1))));
    let run = fake.add_run(pr_run(&s.head, s.pr).job(JobBuilder::failed("test").log(test_log(3))));
    on_run(fake, run.id).await;
    let body = the_comment(fake, s.pr);
    assert!(body.contains("BROKEN TRUNK"), "{body}");
    assert!(body.contains("0 New Failures"), "{body}");
    assert_eq!(
        check_on(fake, &s.head).conclusion.as_deref(),
        Some("success")
    );
    fake.assert_clean();
}

#[tokio::test]
async fn a_forged_marker_in_another_users_comment_is_ignored() {
    let s = setup().await;
    let fake = &s.fake;
    let forged = format!(
        "<!-- ci-medic:drci:{} -->\n## ✅ 0 New Failures, 0 Pending, 0 Unrelated Failures\n",
        s.pr
    );
    let theirs = fake.add_comment(s.pr, "mallory", &forged);
    fake.add_run(base_run(&s.merge_base).job(JobBuilder::new("test")));
    let run = fake.add_run(pr_run(&s.head, s.pr).job(JobBuilder::failed("test").log(test_log(1))));
    on_run(fake, run.id).await;
    let all = fake.comments(s.pr);
    assert_eq!(all.len(), 2, "{all:#?}");
    let mallory = all.iter().find(|c| c.id == theirs).expect("theirs");
    assert_eq!(
        mallory.body, forged,
        "another user's comment is never edited"
    );
    assert!(the_comment(fake, s.pr).contains("❌ 1 New Failure"));
    check_on(fake, &s.head);
    fake.assert_clean();
}

/// The text of `body` outside inline code spans (the marker line left out).
fn outside_code(body: &str) -> String {
    body.lines()
        .skip(1)
        .flat_map(|line| {
            line.split('`')
                .enumerate()
                .filter(|(i, _)| i % 2 == 0)
                .map(|(_, part)| part.to_string())
                .collect::<Vec<_>>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn hostile_job_names_and_log_lines_are_inert() {
    let s = setup().await;
    let fake = &s.fake;
    let name = "test `@everyone` <!-- ci-medic:drci:1 --> [x](https://evil.example) ```";
    let log = gha_log(
        1,
        "pytest",
        &[
            "FAILED tests/t.py::t - @octocat <img src=x onerror=alert(1)> ``` -->",
            "========================= 1 failed in 0.20s =========================",
        ],
    );
    let run = fake.add_run(pr_run(&s.head, s.pr).job(JobBuilder::failed(name).log(log)));
    on_run(fake, run.id).await;
    let whole = the_comment(fake, s.pr);
    // The analyses kept on the last line: one HTML comment, closed only at
    // its end, nothing in it alive.
    let (body, cache) = whole.trim_end().rsplit_once('\n').expect("two parts");
    assert!(cache.starts_with("<!-- ci-medic:drci-cache {"), "{whole}");
    assert_eq!(cache.matches("-->").count(), 1, "{cache}");
    assert!(cache.ends_with(" -->"), "{cache}");
    assert!(!cache.contains('@') && !cache[4..].contains('<'), "{cache}");
    // One marker, where ci-medic writes it; no fence, link, tag or mention
    // lives: what the job name and the log say stays inside code spans.
    assert_eq!(body.matches("<!--").count(), 1, "{body}");
    assert!(
        body.lines()
            .next()
            .is_some_and(|l| l.starts_with("<!-- ci-medic:drci:"))
    );
    assert!(!body.contains("```"), "{body}");
    let outside = outside_code(body);
    for live in ["@everyone", "@octocat", "<img", "](https://evil", "-->"] {
        assert!(!outside.contains(live), "{live} outside code in:\n{body}");
    }
    assert!(body.contains("@octocat"), "the cause line is shown: {body}");
    check_on(fake, &s.head);
    fake.assert_clean();
}

#[tokio::test]
async fn the_drci_command_refreshes_and_an_edit_does_nothing() {
    let s = setup().await;
    let fake = &s.fake;
    fake.add_run(base_run(&s.merge_base).job(JobBuilder::new("test")));
    fake.add_run(pr_run(&s.head, s.pr).job(JobBuilder::failed("test").log(test_log(1))));
    let before = writes(fake).len();
    on_comment(fake, s.pr, "edited", "@ci-medic drci").await;
    assert_eq!(writes(fake).len(), before, "an edited comment never acts");
    on_comment(fake, s.pr, "created", "please @ci-medic merge").await;
    assert_eq!(
        writes(fake).len(),
        before,
        "another command is not Dr. CI's"
    );
    on_comment(fake, s.pr, "created", "@ci-medic drci").await;
    assert!(the_comment(fake, s.pr).contains("❌ 1 New Failure"));
    check_on(fake, &s.head);
    fake.assert_clean();
}

#[tokio::test]
async fn another_apps_check_run_of_the_same_name_is_left_alone() {
    let s = setup().await;
    let fake = &s.fake;
    let theirs = CheckRun {
        id: 4242,
        name: "Dr. CI".into(),
        head_sha: s.head.clone(),
        status: "queued".into(),
        conclusion: None,
        title: None,
        summary: None,
        text: None,
        details_url: None,
        external_id: None,
        app: "other-ci".into(),
        started_at: chrono::Utc::now(),
        completed_at: None,
    };
    let repo = fake.repo_name().to_owned();
    fake.with_world(|w| {
        if let Some((_, r, _)) = w.split(&repo) {
            r.check_runs.push(theirs.clone());
        }
    });
    fake.add_run(base_run(&s.merge_base).job(JobBuilder::new("test")));
    let run = fake.add_run(pr_run(&s.head, s.pr).job(JobBuilder::failed("test").log(test_log(1))));
    on_run(fake, run.id).await;
    let runs = fake.check_runs();
    assert_eq!(runs.len(), 2, "{runs:#?}");
    assert!(runs.contains(&theirs), "theirs untouched: {runs:#?}");
    let ours = runs.iter().find(|c| c.id != 4242).expect("ours");
    assert_eq!(ours.app, "github-actions");
    assert_eq!(ours.conclusion.as_deref(), Some("failure"));
    the_comment(fake, s.pr);
    fake.assert_clean();
}

/// Another test's failure: a different fingerprint for the same job.
pub(crate) fn other_test_log(minute: u32) -> String {
    gha_log(
        minute,
        "pytest",
        &[
            "FAILED tests/test_db.py::test_connect - ConnectionError: refused",
            "========================= 1 failed, 41 passed in 3.20s =========================",
        ],
    )
}

/// On the default branch, after the pull request's merge base (which
/// passed): `test` failed with `log` on one commit, ten hours ago, and
/// passed on the next commit, five hours ago (no re-run: retry's memory
/// knows nothing).
fn seed_trunk_failure_then_pass(s: &Setup, log: String) {
    let fake = &s.fake;
    fake.add_run(base_run(&s.merge_base).job(JobBuilder::new("test")));
    let now = chrono::Utc::now();
    let broke = fake.commit_files(DEFAULT_BRANCH, &[("a.txt", "a\n")], "A");
    fake.add_run(
        base_run(&broke)
            .created_at(now - chrono::Duration::hours(10))
            .conclusion("failure")
            .job(JobBuilder::failed("test").log(log)),
    );
    let fixed = fake.commit_files(DEFAULT_BRANCH, &[("b.txt", "b\n")], "B");
    fake.add_run(
        base_run(&fixed)
            .created_at(now - chrono::Duration::hours(5))
            .conclusion("success")
            .job(JobBuilder::new("test")),
    );
}

#[tokio::test]
async fn the_same_failure_on_trunk_that_then_passed_is_flaky() {
    let s = setup().await;
    let fake = &s.fake;
    seed_trunk_failure_then_pass(&s, test_log(1));
    let run = fake.add_run(pr_run(&s.head, s.pr).job(JobBuilder::failed("test").log(test_log(4))));
    on_run(fake, run.id).await;
    let body = the_comment(fake, s.pr);
    assert!(
        body.contains("## ✅ 0 New Failures, 0 Pending, 1 Unrelated Failure"),
        "{body}"
    );
    assert!(body.contains("FLAKY"), "{body}");
    assert!(
        body.contains("failed the same way on the default branch, then passed"),
        "{body}"
    );
    assert!(body.contains("passed on a later commit"), "{body}");
    assert_eq!(
        check_on(fake, &s.head).conclusion.as_deref(),
        Some("success")
    );
    fake.assert_clean();
}

/// The costly error: the same job failing on trunk for another reason is
/// no evidence that this failure is unrelated.
#[tokio::test]
async fn the_same_job_failing_differently_on_trunk_stays_new() {
    let s = setup().await;
    let fake = &s.fake;
    seed_trunk_failure_then_pass(&s, other_test_log(1));
    let run = fake.add_run(pr_run(&s.head, s.pr).job(JobBuilder::failed("test").log(test_log(4))));
    on_run(fake, run.id).await;
    let body = the_comment(fake, s.pr);
    assert!(
        body.contains("## ❌ 1 New Failure, 0 Pending, 0 Unrelated Failures"),
        "{body}"
    );
    assert!(!body.contains("FLAKY"), "{body}");
    assert_eq!(
        check_on(fake, &s.head).conclusion.as_deref(),
        Some("failure")
    );
    fake.assert_clean();
}

/// A generic failure seen failing and passing on trunk is never FLAKY.
#[tokio::test]
async fn a_generic_failure_seen_on_trunk_is_never_flaky() {
    let s = setup().await;
    let fake = &s.fake;
    seed_trunk_failure_then_pass(&s, generic_log(1));
    let run =
        fake.add_run(pr_run(&s.head, s.pr).job(JobBuilder::failed("test").log(generic_log(4))));
    on_run(fake, run.id).await;
    let body = the_comment(fake, s.pr);
    assert!(
        body.contains("## ❌ 1 New Failure, 0 Pending, 0 Unrelated Failures"),
        "{body}"
    );
    assert!(!body.contains("FLAKY"), "{body}");
    assert_eq!(
        check_on(fake, &s.head).conclusion.as_deref(),
        Some("failure")
    );
    fake.assert_clean();
}
