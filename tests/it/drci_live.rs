//! Dr. CI live, end to end against the fake GitHub: downstream results,
//! the triggers of CI that is not GitHub Actions and the schedule's sweep,
//! other authors' pull requests as evidence, the analyses the comment
//! keeps, two updates at once, and `drci --dump`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::drci_flow::{
    CONFIG, base_run, check_on, drci_comments, fixture, generic_log, on_comment, on_push, on_run,
    other_test_log, pr_run, setup, test_log, the_comment,
};
use crate::support::action::Runner;
use crate::support::fake_github::{
    CI_WORKFLOW_PATH, CheckRun, DEFAULT_BRANCH, FakeGithub, Fault, Host, JobBuilder, OWNER,
    PullBuilder, REPO, RunBuilder,
};

const ALLOWLIST: &str = "\
L2:
  - org/two
L3:
  npu:
    org/three: [carol]
L4:
  - org/four: [bob]
";

/// A check run on `sha` as `app` created it.
fn check_run(id: u64, name: &str, sha: &str, app: &str, conclusion: Option<&str>) -> CheckRun {
    CheckRun {
        id,
        name: name.into(),
        head_sha: sha.into(),
        status: if conclusion.is_some() {
            "completed"
        } else {
            "in_progress"
        }
        .into(),
        conclusion: conclusion.map(str::to_string),
        title: None,
        summary: None,
        text: None,
        details_url: None,
        external_id: None,
        app: app.into(),
        started_at: chrono::Utc::now(),
        completed_at: None,
    }
}

fn seed_check(fake: &FakeGithub, c: CheckRun) {
    let repo = fake.repo_name().to_owned();
    fake.with_world(|w| {
        if let Some((_, r, _)) = w.split(&repo) {
            r.check_runs.retain(|x| x.id != c.id);
            r.check_runs.push(c);
        }
    });
}

/// A repository whose config has `extra` after Dr. CI's, with `files` on
/// the default branch, and a pull request by `alice`.
async fn setup_with(extra: &str, files: &[(&str, &str)]) -> (FakeGithub, u64, String, String) {
    let fake = FakeGithub::start().await;
    let config = format!("{CONFIG}{extra}");
    let mut all = vec![(".github/ci-medic.yml", config.as_str())];
    all.extend_from_slice(files);
    let merge_base = fake.commit_files(DEFAULT_BRANCH, &all, "Configure ci-medic");
    let head = fake.commit_files("feature", &[("src/lib.rs", "fn f() {}\n")], "Add f");
    let pr = fake.add_pull(PullBuilder::new("feature", "Add f").user("alice"));
    (fake, pr, merge_base, head)
}

fn event_with_repo(mut v: Value) -> Value {
    let mut repo = fixture("check_run/01-completed.json")["repository"].clone();
    repo["full_name"] = format!("{OWNER}/{REPO}").into();
    repo["name"] = REPO.into();
    v["repository"] = repo;
    v
}

async fn deliver(fake: &FakeGithub, name: &str, payload: &Value) {
    let out = Runner::new(fake).run_event(name, payload).await;
    assert_eq!(out.code, 0, "{}\n{}", out.stderr, out.stdout);
}

#[tokio::test]
async fn a_failed_l4_downstream_job_blocks_and_an_l3_one_is_shown_as_non_blocking() {
    let (fake, pr, merge_base, head) =
        setup_with("crcr: {}\n", &[(".github/crcr-allowlist.yml", ALLOWLIST)]).await;
    fake.add_run(base_run(&merge_base).job(JobBuilder::new("test")));
    seed_check(
        &fake,
        check_run(
            901,
            "crcr/org/four / build",
            &head,
            "github-actions",
            Some("failure"),
        ),
    );
    seed_check(
        &fake,
        check_run(
            902,
            "crcr/org/three / test (npu)",
            &head,
            "github-actions",
            Some("failure"),
        ),
    );
    // L2 results never show on a pull request, even if a check run says so.
    seed_check(
        &fake,
        check_run(
            903,
            "crcr/org/two / x",
            &head,
            "github-actions",
            Some("failure"),
        ),
    );
    let run = fake.add_run(pr_run(&head, pr).job(JobBuilder::new("test")));
    on_run(&fake, run.id).await;
    let body = the_comment(&fake, pr);
    assert!(
        body.contains("## ❌ 1 New Failure, 0 Pending, 0 Unrelated Failures"),
        "{body}"
    );
    assert!(body.contains("`crcr/org/four / build`"), "{body}");
    assert!(
        body.contains("failed downstream, in a repository whose failures block merging"),
        "{body}"
    );
    assert!(body.contains("DOWNSTREAM (non-blocking)"), "{body}");
    assert!(body.contains("`crcr/org/three / test (npu)`]("), "{body}");
    assert!(body.contains(": failed (`L3`, non-blocking)"), "{body}");
    assert!(!body.contains("no cause found"), "{body}");
    assert!(!body.contains("org/two"), "{body}");
    assert_eq!(
        check_on(&fake, &head).conclusion.as_deref(),
        Some("failure")
    );

    // The L4 job passes on a re-run: only the non-blocking one is left.
    seed_check(
        &fake,
        check_run(
            901,
            "crcr/org/four / build",
            &head,
            "github-actions",
            Some("success"),
        ),
    );
    on_comment(&fake, pr, "created", "@ci-medic drci").await;
    let body = the_comment(&fake, pr);
    assert!(
        body.contains("## ✅ 0 New Failures, 0 Pending, 0 Unrelated Failures"),
        "{body}"
    );
    assert!(body.contains("DOWNSTREAM (non-blocking)"), "{body}");
    assert_eq!(
        check_on(&fake, &head).conclusion.as_deref(),
        Some("success")
    );
    fake.assert_clean();
}

#[tokio::test]
async fn another_apps_check_suite_updates_the_comment_and_our_own_check_run_does_not() {
    let s = setup().await;
    let fake = &s.fake;
    fake.add_run(base_run(&s.merge_base).job(JobBuilder::new("test")));
    fake.add_run(pr_run(&s.head, s.pr).job(JobBuilder::new("test")));
    seed_check(
        fake,
        check_run(950, "style", &s.head, "other-ci", Some("failure")),
    );
    // Our own check run finishing is no reason to update it.
    let own = event_with_repo(json!({
        "action": "completed",
        "check_run": {"id": 1, "name": "Dr. CI", "head_sha": s.head, "status": "completed",
                      "conclusion": "success", "app": {"slug": "some-app"}}
    }));
    deliver(fake, "check_run", &own).await;
    // Nor is an Actions check suite (workflow_run covers it).
    let actions = event_with_repo(json!({
        "action": "completed",
        "check_suite": {"id": 2, "head_sha": s.head, "status": "completed",
                        "conclusion": "failure", "app": {"slug": "github-actions"}}
    }));
    deliver(fake, "check_suite", &actions).await;
    assert!(drci_comments(fake, s.pr).is_empty());
    let suite = event_with_repo(json!({
        "action": "completed",
        "check_suite": {"id": 3, "head_sha": s.head, "status": "completed",
                        "conclusion": "failure", "app": {"slug": "other-ci"}}
    }));
    deliver(fake, "check_suite", &suite).await;
    let body = the_comment(fake, s.pr);
    // No log and no result on the merge base: it cannot be classified.
    assert!(body.contains("`other-ci / style`"), "{body}");
    assert!(body.contains("UNCLASSIFIED"), "{body}");
    assert_eq!(
        check_on(fake, &s.head).conclusion.as_deref(),
        Some("failure")
    );
    fake.assert_clean();
}

#[tokio::test]
async fn the_schedule_sweeps_a_comment_left_pending_and_only_that_one() {
    let (fake, pr, merge_base, head) = setup_with("", &[]).await;
    let fake = &fake;
    fake.commit_files("other", &[("o.txt", "o\n")], "Other");
    let quiet = fake.add_pull(PullBuilder::new("other", "Other").user("bob"));
    fake.add_run(base_run(&merge_base).job(JobBuilder::new("test")));
    on_push(fake, pr, &head).await;
    assert!(the_comment(fake, pr).contains("Waiting for CI"));
    // The run finishes, but its event never reaches Dr. CI.
    fake.add_run(pr_run(&head, pr).job(JobBuilder::failed("test").log(test_log(1))));
    let schedule = event_with_repo(json!({"schedule": "*/15 * * * *"}));
    deliver(fake, "schedule", &schedule).await;
    let body = the_comment(fake, pr);
    assert!(
        body.contains("## ❌ 1 New Failure, 0 Pending, 0 Unrelated Failures"),
        "{body}"
    );
    // A pull request without a pending comment is left alone.
    assert!(drci_comments(fake, quiet).is_empty());
    assert_eq!(check_on(fake, &head).conclusion.as_deref(), Some("failure"));
    fake.assert_clean();
}

#[tokio::test]
async fn the_sweep_reads_at_most_its_bound_of_pull_requests() {
    let (fake, pr, _, head) = setup_with("", &[]).await;
    let fake = &fake;
    on_push(fake, pr, &head).await;
    // Config bound by the same file: rewrite it with a zero bound.
    fake.commit_files(
        DEFAULT_BRANCH,
        &[(
            ".github/ci-medic.yml",
            &CONFIG.replace("drci: {}", "drci:\n  sweep-max-pulls: 0"),
        )],
        "No sweep",
    );
    fake.add_run(pr_run(&head, pr).job(JobBuilder::failed("test").log(test_log(1))));
    let before = fake.requests().len();
    let schedule = event_with_repo(json!({"schedule": "*/15 * * * *"}));
    deliver(fake, "schedule", &schedule).await;
    let after: Vec<String> = fake.requests()[before..]
        .iter()
        .filter(|r| r.host == Host::Api && r.path.contains("/pulls"))
        .map(|r| r.line())
        .collect();
    assert!(after.is_empty(), "no sweep: {after:#?}");
    assert!(the_comment(fake, pr).contains("Waiting for CI"));
    check_on(fake, &head);
    fake.assert_clean();
}

fn their_run(sha: &str) -> RunBuilder {
    RunBuilder::new("CI")
        .path(CI_WORKFLOW_PATH)
        .event("pull_request")
        .head_sha(sha)
        .head_branch("theirs")
}

/// Another author's pull request failed `test` the same way ten hours ago
/// and passed on its next commit five hours ago.
fn seed_other_pull(fake: &FakeGithub, author: &str, log: String) {
    let now = chrono::Utc::now();
    let broke = fake.commit_files("theirs", &[("t.txt", "t\n")], "Theirs");
    fake.add_run(
        their_run(&broke)
            .actor(author)
            .created_at(now - chrono::Duration::hours(10))
            .conclusion("failure")
            .job(JobBuilder::failed("test").log(log)),
    );
    let fixed = fake.commit_files("theirs", &[("t.txt", "fixed\n")], "Fix");
    fake.add_run(
        their_run(&fixed)
            .actor(author)
            .created_at(now - chrono::Duration::hours(5))
            .conclusion("success")
            .job(JobBuilder::new("test")),
    );
}

#[tokio::test]
async fn the_same_failure_on_another_authors_pull_request_that_then_passed_is_flaky() {
    let s = setup().await;
    let fake = &s.fake;
    fake.add_run(base_run(&s.merge_base).job(JobBuilder::new("test")));
    seed_other_pull(fake, "bob", test_log(1));
    let run = fake.add_run(
        pr_run(&s.head, s.pr)
            .actor("alice")
            .job(JobBuilder::failed("test").log(test_log(4))),
    );
    on_run(fake, run.id).await;
    let body = the_comment(fake, s.pr);
    assert!(
        body.contains("## ✅ 0 New Failures, 0 Pending, 1 Unrelated Failure"),
        "{body}"
    );
    assert!(
        body.contains("failed the same way on another pull request, then passed"),
        "{body}"
    );
    assert_eq!(
        check_on(fake, &s.head).conclusion.as_deref(),
        Some("success")
    );
    fake.assert_clean();
}

/// The costly error: the author's own other pull request, a different
/// failure, or a generic one elsewhere is no evidence.
#[tokio::test]
async fn own_pull_requests_other_failures_and_generic_ones_elsewhere_stay_new() {
    for (author, theirs, ours) in [
        ("alice", test_log(1), test_log(4)),
        ("bob", other_test_log(1), test_log(4)),
        ("bob", generic_log(1), generic_log(4)),
    ] {
        let s = setup().await;
        let fake = &s.fake;
        fake.add_run(base_run(&s.merge_base).job(JobBuilder::new("test")));
        seed_other_pull(fake, author, theirs);
        let run = fake.add_run(
            pr_run(&s.head, s.pr)
                .actor("alice")
                .job(JobBuilder::failed("test").log(ours)),
        );
        on_run(fake, run.id).await;
        let body = the_comment(fake, s.pr);
        assert!(
            body.contains("## ❌ 1 New Failure, 0 Pending, 0 Unrelated Failures"),
            "{author}: {body}"
        );
        assert!(!body.contains("FLAKY"), "{body}");
        check_on(fake, &s.head);
        fake.assert_clean();
    }
}

fn log_downloads(fake: &FakeGithub, from: usize) -> Vec<String> {
    fake.requests()[from..]
        .iter()
        .filter(|r| r.host == Host::Api && r.path.ends_with("/logs"))
        .map(|r| r.line())
        .collect()
}

#[tokio::test]
async fn a_second_update_of_the_same_head_downloads_no_log_again() {
    let s = setup().await;
    let fake = &s.fake;
    fake.add_run(base_run(&s.merge_base).job(JobBuilder::failed("test").log(other_test_log(1))));
    let run = fake.add_run(pr_run(&s.head, s.pr).job(JobBuilder::failed("test").log(test_log(2))));
    on_run(fake, run.id).await;
    let first = the_comment(fake, s.pr);
    assert_eq!(log_downloads(fake, 0).len(), 2, "the head's and the base's");
    assert!(first.contains("<!-- ci-medic:drci-cache "), "{first}");
    assert!(
        first.contains("failed differently on the merge base"),
        "{first}"
    );
    let before = fake.requests().len();
    on_comment(fake, s.pr, "created", "@ci-medic drci").await;
    assert_eq!(log_downloads(fake, before), Vec::<String>::new());
    // The same verdict from the cached analyses: nothing to write.
    assert_eq!(the_comment(fake, s.pr), first);
    check_on(fake, &s.head);
    fake.assert_clean();
}

#[tokio::test]
async fn an_edited_cache_is_not_believed() {
    let s = setup().await;
    let fake = &s.fake;
    fake.add_run(base_run(&s.merge_base).job(JobBuilder::new("test")));
    let run = fake.add_run(pr_run(&s.head, s.pr).job(JobBuilder::failed("test").log(test_log(2))));
    on_run(fake, run.id).await;
    let id = fake.comments(s.pr)[0].id;
    let repo = fake.repo_name().to_owned();
    // Someone with write access edits the comment's text: the seal breaks
    // and the log is read again.
    fake.with_world(|w| {
        if let Some((_, r, _)) = w.split(&repo)
            && let Some(c) = r.comments.iter_mut().find(|c| c.id == id)
        {
            c.body = c.body.replace("New Failure", "New failure");
        }
    });
    let before = fake.requests().len();
    on_comment(fake, s.pr, "created", "@ci-medic drci").await;
    assert_eq!(log_downloads(fake, before).len(), 1);
    assert!(the_comment(fake, s.pr).contains("1 New Failure"));
    check_on(fake, &s.head);
    fake.assert_clean();
}

#[tokio::test]
async fn two_updates_at_once_leave_one_comment_with_the_newest_heads_verdict() {
    let s = setup().await;
    let fake = &s.fake;
    fake.add_run(base_run(&s.merge_base).job(JobBuilder::new("test")));
    let old = fake.add_run(pr_run(&s.head, s.pr).job(JobBuilder::failed("test").log(test_log(1))));
    // A new push: the pull request's head moves on.
    let new_head = fake.commit_files("feature", &[("src/lib.rs", "fn g() {}\n")], "Add g");
    let a = fake.add_run(pr_run(&new_head, s.pr).job(JobBuilder::failed("test").log(test_log(2))));
    let b = fake.add_run(
        pr_run(&new_head, s.pr)
            .path(".github/workflows/lint.yml")
            .job(JobBuilder::new("lint")),
    );
    // Every update reads the comments late: each sees none when it looks.
    for _ in 0..4 {
        fake.inject(
            "GET",
            r"/issues/\d+/comments$",
            Fault::delay(Duration::from_millis(700)),
        );
    }
    tokio::join!(on_run(fake, a.id), on_run(fake, b.id), on_run(fake, old.id));
    let body = the_comment(fake, s.pr);
    assert!(body.contains(&new_head[..12]), "{body}");
    assert!(!body.contains(&s.head[..12]), "{body}");
    fake.allow_unread_writes();
    fake.assert_clean();
}

#[tokio::test]
async fn dump_writes_the_snapshot_of_a_live_pull_request() {
    let s = setup().await;
    let fake = &s.fake;
    fake.add_run(base_run(&s.merge_base).job(JobBuilder::new("test")));
    fake.add_run(pr_run(&s.head, s.pr).job(JobBuilder::failed("test").log(test_log(1))));
    let runner = Runner::new(fake);
    let file = runner.path("snap.json");
    let pr = s.pr.to_string();
    let file_arg = file.display().to_string();
    let out = runner
        .exec(&["drci", "--dump", &file_arg, "--pr", &pr], None)
        .await;
    assert_eq!(out.code, 0, "{}\n{}", out.stderr, out.stdout);
    let snap: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("snapshot")).expect("json");
    assert_eq!(snap["head_sha"], s.head);
    assert_eq!(snap["merge_base"], s.merge_base);
    assert_eq!(snap["author"], "alice");
    let job = &snap["jobs"][0];
    assert_eq!(job["name"], "CI / test");
    assert!(
        job["failure"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("test_upload")),
        "{snap:#}"
    );
    // Read back offline, it classifies as it did live.
    let again = runner
        .exec(&["drci", "--snapshot", &file_arg, "--format", "json"], None)
        .await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    // The runner's mask command comes first.
    let json_start = again.stdout.find('{').unwrap_or(0);
    let v: Value = serde_json::from_str(&again.stdout[json_start..])
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", again.stdout, again.stderr));
    assert_eq!(v["jobs"][0]["class"], "new", "{v:#}");
    assert!(
        drci_comments(fake, s.pr).is_empty(),
        "a dump writes nothing"
    );
    fake.assert_clean();
}
