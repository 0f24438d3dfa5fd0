//! Disabled and unstable jobs against the fake GitHub: a writer's issue is
//! confirmed with what it matches and labelled, once; anyone else's is
//! closed; a marked job's failure is neither re-run nor filed (the marking
//! issue hears of it instead) and gives autorevert no signal; closing the
//! issue restores normal handling.

use serde_json::{Value, json};

use crate::analyze_flow::gha_log;
use crate::support::action::{ActionRun, Runner, workflow_run_payload};
use crate::support::fake_github::{
    CI_WORKFLOW_PATH, DEFAULT_BRANCH, FakeGithub, IssueBuilder, JobBuilder, MAINTAINER, OWNER,
    REPO, RunBuilder,
};

const CONFIG_PATH: &str = ".github/ci-medic.yml";

fn configure(fake: &FakeGithub, text: &str) {
    fake.commit_files(DEFAULT_BRANCH, &[(CONFIG_PATH, text)], "Configure ci-medic");
}

fn network_log(minute: u32) -> String {
    gha_log(
        minute,
        "npm ci",
        &[
            "npm ERR! code ECONNRESET",
            "npm ERR! network request to https://registry.npmjs.org/left-pad failed, reason: read ECONNRESET",
            "npm ERR! network This is a problem related to network connectivity.",
        ],
    )
}

fn compile_log(minute: u32) -> String {
    gha_log(
        minute,
        "cargo build",
        &[
            "error[E0425]: cannot find value `conifg` in this scope",
            "  --> src/main.rs:4:13",
            "error: could not compile `octo` (bin \"octo\") due to 1 previous error",
        ],
    )
}

/// A real `issues` payload for issue `number` as the fake has it now.
fn issue_payload(fake: &FakeGithub, number: u64, action: &str) -> Value {
    let text = std::fs::read_to_string(format!(
        "{}/fixtures/webhooks/issues/15-opened.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture");
    let mut v: Value = serde_json::from_str(&text).expect("fixture json");
    let issue = fake.issue(number).expect("issue");
    v["action"] = action.into();
    v["issue"]["number"] = number.into();
    v["issue"]["title"] = issue.title.clone().into();
    v["issue"]["state"] = issue.state.clone().into();
    v["issue"]["user"]["login"] = issue.user.clone().into();
    v["issue"]["labels"] = issue
        .labels
        .iter()
        .map(|l| json!({"name": l}))
        .collect::<Vec<_>>()
        .into();
    v["repository"]["full_name"] = format!("{OWNER}/{REPO}").into();
    v
}

/// Requests made since `from`, as `METHOD operation` lines.
fn calls(fake: &FakeGithub, from: usize) -> Vec<String> {
    fake.requests()
        .into_iter()
        .skip(from)
        .map(|r| format!("{} {}", r.method, r.operation.unwrap_or(r.path)))
        .collect()
}

async fn on_issue(fake: &FakeGithub, number: u64, action: &str) -> ActionRun {
    let payload = issue_payload(fake, number, action);
    let out = Runner::new(fake).run_event("issues", &payload).await;
    assert_eq!(out.code, 0, "{}\n{}", out.stderr, out.stdout);
    out
}

/// An `issues.edited` delivery with `changes` as GitHub sends them: the
/// previous title when the edit changed it, else the previous body.
async fn on_edit(fake: &FakeGithub, number: u64, title_from: Option<&str>) -> ActionRun {
    let mut payload = issue_payload(fake, number, "edited");
    payload["changes"] = match title_from {
        Some(from) => json!({"title": {"from": from}}),
        None => json!({"body": {"from": "The body before the edit."}}),
    };
    let out = Runner::new(fake).run_event("issues", &payload).await;
    assert_eq!(out.code, 0, "{}\n{}", out.stderr, out.stdout);
    out
}

/// Edit the title of issue `n` on the fake and deliver the edit.
async fn edit_title(fake: &FakeGithub, n: u64, title: &str) -> ActionRun {
    let from = fake.issue(n).expect("issue").title;
    retitle(fake, n, title);
    on_edit(fake, n, Some(&from)).await
}

/// The requests of a run that only loaded the config: what every delivery
/// costs before any handler looks at it.
fn config_reads_only(calls: &[String]) -> bool {
    calls
        .iter()
        .all(|c| matches!(c.as_str(), "GET repos/get" | "GET repos/get-content"))
}

async fn on_failure(fake: &FakeGithub, run_id: u64) -> ActionRun {
    let run = fake.run(run_id).expect("run");
    let payload = workflow_run_payload(
        run_id,
        &run.name,
        &run.path,
        "failure",
        run.head_branch.as_deref().unwrap_or(DEFAULT_BRANCH),
        &run.head_sha,
    );
    let out = Runner::new(fake).run_event("workflow_run", &payload).await;
    assert_eq!(out.code, 0, "{}\n{}", out.stderr, out.stdout);
    out
}

#[tokio::test]
async fn a_writers_unstable_issue_is_confirmed_and_labelled_once() {
    let fake = FakeGithub::start().await;
    configure(&fake, "disabled-jobs: {}\n");
    fake.add_run(
        RunBuilder::new("CI")
            .path(CI_WORKFLOW_PATH)
            .job(JobBuilder::new("build"))
            .job(JobBuilder::new("test (windows-latest, 3.12)"))
            .job(JobBuilder::new("test (ubuntu-latest, 3.12)")),
    );
    let n =
        fake.add_issue(IssueBuilder::new("UNSTABLE  CI / test (windows-latest").user(MAINTAINER));
    let out = on_issue(&fake, n, "opened").await;
    let comment = fake.expect_comment(n, |b| {
        b.starts_with(&format!("<!-- ci-medic:disabled-jobs:{n} -->"))
            && b.contains("It matches 1 job of the latest runs")
            && b.contains("`CI` / `test (windows-latest, 3.12)`")
            && !b.contains("ubuntu")
    });
    assert_eq!(fake.issue(n).expect("issue").labels, ["unstable"]);
    fake.expect_labels_created(&["unstable"]);
    assert!(out.summary.contains("disabled-jobs"), "{}", out.summary);

    // Delivered again: reads only.
    let before = fake.requests().len();
    on_issue(&fake, n, "opened").await;
    let again = calls(&fake, before);
    assert!(again.iter().all(|c| c.starts_with("GET ")), "{again:?}");
    assert_eq!(fake.comments(n), [comment]);

    // The title edited into an invalid one: explained, and unlabelled so it
    // marks nothing.
    edit_title(&fake, n, "UNSTABLE CI / *").await;
    fake.expect_comment(n, |b| {
        b.contains("`UNSTABLE CI / *`") && b.contains("not wildcards")
    });
    assert!(fake.issue(n).expect("issue").labels.is_empty());
    fake.assert_clean();
}

fn retitle(fake: &FakeGithub, n: u64, title: &str) {
    fake.with_world(|w| {
        let (_, repo, _) = w.split(&format!("{OWNER}/{REPO}")).expect("repo");
        repo.issues.get_mut(&n).expect("issue").title = title.into();
    });
}

#[tokio::test]
async fn a_title_edited_away_from_the_keyword_loses_the_label_and_edited_back_regains_it() {
    let fake = FakeGithub::start().await;
    configure(&fake, "disabled-jobs: {}\n");
    fake.add_run(
        RunBuilder::new("CI")
            .path(CI_WORKFLOW_PATH)
            .job(JobBuilder::new("build")),
    );
    let n = fake.add_issue(IssueBuilder::new("DISABLED CI / build").user(MAINTAINER));
    on_issue(&fake, n, "opened").await;
    let first = fake.expect_comment(n, |b| b.contains("It matches 1 job"));
    assert_eq!(fake.issue(n).expect("issue").labels, ["unstable"]);
    fake.expect_labels_created(&["unstable"]);

    // No keyword any more: the label goes, the same comment says why.
    edit_title(&fake, n, "CI / build fails on <b>Windows</b> @everyone").await;
    assert!(fake.issue(n).expect("issue").labels.is_empty());
    let retired = fake.expect_comment(n, |b| {
        b.contains("no longer names a job")
            && b.contains("`CI / build fails on <b>Windows</b> @everyone`")
            && !b.contains("It matches")
    });
    assert_eq!(retired.id, first.id);
    // The same edit delivered again: no label to remove, the comment says
    // it already, nothing is written (and unlabelled, nothing is read).
    let before = fake.requests().len();
    on_edit(&fake, n, Some("DISABLED CI / build")).await;
    let again = calls(&fake, before);
    assert!(again.iter().all(|c| c.starts_with("GET ")), "{again:?}");

    // Edited back: confirmed and labelled again, in the same comment.
    edit_title(&fake, n, "DISABLED CI / build").await;
    let back = fake.expect_comment(n, |b| b.contains("It matches 1 job"));
    assert_eq!(back.id, first.id);
    assert_eq!(fake.issue(n).expect("issue").labels, ["unstable"]);
    fake.assert_clean();
}

#[tokio::test]
async fn an_issue_never_labelled_is_validated_when_its_title_is_edited_into_the_grammar() {
    let fake = FakeGithub::start().await;
    configure(&fake, "disabled-jobs: {}\n");
    fake.add_run(
        RunBuilder::new("CI")
            .path(CI_WORKFLOW_PATH)
            .job(JobBuilder::new("build")),
    );
    fake.set_permission("drive-by", "triage");
    let mine = fake.add_issue(IssueBuilder::new("CI / build keeps failing").user(MAINTAINER));
    let theirs = fake.add_issue(IssueBuilder::new("CI / build keeps failing").user("drive-by"));
    // Opened with another title: nothing to validate, nothing read.
    let before = fake.requests().len();
    on_issue(&fake, mine, "opened").await;
    let opened = calls(&fake, before);
    assert!(config_reads_only(&opened), "{opened:?}");

    // A writer's issue edited into the grammar: confirmed and labelled.
    edit_title(&fake, mine, "DISABLED CI / build").await;
    fake.expect_comment(mine, |b| {
        b.starts_with(&format!("<!-- ci-medic:disabled-jobs:{mine} -->"))
            && b.contains("It matches 1 job of the latest runs")
            && b.contains("`CI` / `build`")
    });
    assert_eq!(fake.issue(mine).expect("issue").labels, ["unstable"]);
    fake.expect_labels_created(&["unstable"]);

    // Someone else's: closed with the reason, never labelled.
    edit_title(&fake, theirs, "DISABLED CI / build").await;
    let issue = fake.issue(theirs).expect("issue");
    assert_eq!(issue.state, "closed");
    assert!(issue.labels.is_empty(), "{issue:?}");
    fake.expect_comment(theirs, |b| {
        b.contains("Only people with write access") && b.contains("drive-by")
    });

    // The body edited, the title as it was: no request beyond the config.
    for n in [mine, theirs] {
        let before = fake.requests().len();
        on_edit(&fake, n, None).await;
        let body_only = calls(&fake, before);
        assert!(config_reads_only(&body_only), "{body_only:?}");
    }
    fake.assert_clean();
}

#[tokio::test]
async fn someone_elses_disabled_issue_is_closed_with_a_reason() {
    let fake = FakeGithub::start().await;
    configure(&fake, "disabled-jobs: {}\n");
    fake.set_permission("drive-by", "triage");
    let n = fake.add_issue(
        IssueBuilder::new("DISABLED CI / build")
            .user("drive-by")
            .label("unstable"),
    );
    on_issue(&fake, n, "opened").await;
    let issue = fake.issue(n).expect("issue");
    assert_eq!(issue.state, "closed");
    assert!(issue.labels.is_empty(), "{issue:?}");
    fake.expect_comment(n, |b| {
        b.contains("Only people with write access") && b.contains("drive-by")
    });
    // No run was read for someone who may not mark jobs.
    assert!(fake.requests_to("GET", r"/actions/runs").is_empty());

    // Delivered again: the issue is closed, nothing more is written.
    let before = fake.requests().len();
    on_issue(&fake, n, "opened").await;
    let again = calls(&fake, before);
    assert!(again.iter().all(|c| c.starts_with("GET ")), "{again:?}");
    fake.assert_clean();
}

#[tokio::test]
async fn marked_jobs_are_not_re_run_nor_filed_until_the_issue_closes() {
    let fake = FakeGithub::start().await;
    configure(&fake, "disabled-jobs: {}\n");
    let unstable = fake.add_issue(IssueBuilder::new("UNSTABLE CI / build").label("unstable"));
    let disabled = fake.add_issue(IssueBuilder::new("DISABLED fetch").label("unstable"));
    // The same title without the label counts for nothing.
    fake.add_issue(IssueBuilder::new("UNSTABLE CI / lint").user("drive-by"));
    let failing = || {
        RunBuilder::new("CI")
            .path(CI_WORKFLOW_PATH)
            .job(JobBuilder::failed("build (ubuntu)").log(compile_log(1)))
            .job(JobBuilder::failed("fetch").log(network_log(2)))
            .job(JobBuilder::new("lint"))
    };
    let run = fake.add_run(failing());
    let out = on_failure(&fake, run.id).await;
    // The network failure of `fetch` would be re-run, the compilation
    // failure of `build` filed: both are marked.
    assert!(fake.reruns().is_empty());
    assert_eq!(fake.issues().len(), 3, "no failure issue");
    assert!(
        out.summary.contains("marked disabled by #"),
        "{}",
        out.summary
    );
    let seen = format!("<!-- ci-medic:disabled-jobs-seen:{}-1 -->", run.id);
    fake.expect_comment(unstable, |b| {
        b.starts_with(&seen)
            && b.contains(r"[build \(ubuntu\)](https://")
            && b.contains("`compilation: error[E0425]")
    });
    fake.expect_comment(disabled, |b| b.starts_with(&seen) && b.contains("fetch"));
    // One request for the marking issues, shared by retry and analyze.
    assert_eq!(
        fake.requests_to("GET", r"/issues$")
            .iter()
            .filter(|r| r.query.as_deref().unwrap_or("").contains("labels=unstable"))
            .count(),
        1
    );

    // Closed: the next failure is handled as usual.
    for n in [unstable, disabled] {
        fake.with_world(|w| {
            let (_, repo, _) = w.split(&format!("{OWNER}/{REPO}")).expect("repo");
            repo.issues.get_mut(&n).expect("issue").state = "closed".into();
        });
    }
    let run = fake.add_run(failing());
    on_failure(&fake, run.id).await;
    let reruns = fake.reruns();
    assert_eq!(reruns.len(), 1, "{reruns:?}");
    assert_eq!(reruns[0].job_id, Some(run.jobs[1]));
    let filed: Vec<_> = fake
        .issues()
        .into_iter()
        .filter(|i| i.labels.iter().any(|l| l == "workflow-failure"))
        .collect();
    assert_eq!(filed.len(), 1, "{filed:?}");
    assert!(filed[0].title.contains("compilation"), "{filed:?}");
    fake.expect_labels_created(&["auto-heal", "workflow-failure", "ci-medic:compilation"]);
    assert_eq!(fake.comments(unstable).len(), 1);
    fake.assert_clean();
}

#[tokio::test]
async fn autorevert_ignores_the_signals_of_a_marked_job() {
    use crate::autorevert_flow::{Setup, config, trunk};
    let t = trunk(Setup {
        mode: "restart",
        ..Setup::default()
    })
    .await;
    configure(&t.fake, &config("restart", "disabled-jobs: {}\n"));
    let issue = t
        .fake
        .add_issue(IssueBuilder::new("UNSTABLE linux / test").label("unstable"));
    let runner = Runner::new(&t.fake);
    let out = runner.exec(&["autorevert", "--format", "json"], None).await;
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let json = crate::autorevert_flow::json_of(&out);
    assert_eq!(json["patterns"], json!([]), "{json}");
    assert!(t.fake.dispatches().is_empty());

    // Closed: the broken signal is seen again, and restarted.
    t.fake.with_world(|w| {
        let (_, repo, _) = w.split(&format!("{OWNER}/{REPO}")).expect("repo");
        repo.issues.get_mut(&issue).expect("issue").state = "closed".into();
    });
    let out = runner.exec(&["autorevert", "--format", "json"], None).await;
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let json = crate::autorevert_flow::json_of(&out);
    assert_eq!(json["patterns"][0]["suspect"], t.suspect.as_str(), "{json}");
    assert_eq!(t.fake.dispatches().len(), 1);
    assert!(
        t.fake
            .refs()
            .contains_key(&format!("refs/tags/trunk/{}", t.suspect))
    );
    t.fake.assert_clean();
}
