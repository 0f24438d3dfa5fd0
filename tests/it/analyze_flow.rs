//! The issue flow end to end: the real binary, a real `workflow_run` payload,
//! the stateful fake GitHub checking every request against the OpenAPI
//! description.

use serde_json::Value;

use crate::support::action::{Runner, workflow_run_payload};
use crate::support::fake_github::{
    ACTIONS_BOT, CI_WORKFLOW_PATH, DEFAULT_BRANCH, FakeGithub, Fault, IssueBuilder, JobBuilder,
    RunBuilder,
};

/// A job log in the Actions format; `minute` varies the timestamps the way
/// two runs of the same failure differ.
pub fn gha_log(minute: u32, command: &str, output: &[&str]) -> String {
    let ts = |s: u32| format!("2024-05-01T10:{minute:02}:{s:02}.1234567Z");
    let mut lines = vec![
        format!("{} Current runner version: '2.316.0'", ts(0)),
        format!("{} ##[group]Operating System", ts(0)),
        format!("{} Ubuntu", ts(0)),
        format!("{} ##[endgroup]", ts(0)),
        format!("{} ##[group]Run actions/checkout@v4", ts(1)),
        format!("{} with:", ts(1)),
        format!("{}   timeout-minutes: 10", ts(1)),
        format!("{} ##[endgroup]", ts(1)),
        format!("{} Syncing repository: octo-org/octo-repo", ts(2)),
        format!("{} ##[group]Run {command}", ts(3)),
        format!("{} {command}", ts(3)),
        format!("{} shell: /usr/bin/bash -e {{0}}", ts(3)),
        format!("{} ##[endgroup]", ts(3)),
    ];
    for (i, l) in output.iter().enumerate() {
        lines.push(format!("{} {l}", ts(4 + (i as u32 % 50))));
    }
    lines.push(format!(
        "{} ##[error]Process completed with exit code 1.",
        ts(59)
    ));
    lines.push(format!("{} Post job cleanup.", ts(59)));
    lines.join("\n") + "\n"
}

pub fn missing_module_log(minute: u32, tmp: &str) -> String {
    gha_log(
        minute,
        "pytest -q",
        &[
            "============================= test session starts ==============================",
            &format!("rootdir: /tmp/{tmp}/octo-repo"),
            "collected 0 items / 1 error",
            "==================================== ERRORS ====================================",
            "___________________ ERROR collecting tests/test_config.py ____________________",
            "tests/test_config.py:1: in <module>",
            "    import yaml",
            "E   ModuleNotFoundError: No module named 'yaml'",
            "=========================== short test summary info ============================",
            "ERROR tests/test_config.py",
            "!!!!!!!!!!!!!!!!!!!! Interrupted: 1 error during collection !!!!!!!!!!!!!!!!!!!!",
        ],
    )
}

fn compile_error_log(minute: u32) -> String {
    gha_log(
        minute,
        "cargo build --locked",
        &[
            "   Compiling octo v0.1.0 (/home/runner/work/octo-repo/octo-repo)",
            "error[E0425]: cannot find value `conifg` in this scope",
            "  --> src/main.rs:4:13",
            "   |",
            "4  |     let c = conifg;",
            "   |             ^^^^^^ help: a local variable with a similar name exists: `config`",
            "error: could not compile `octo` (bin \"octo\") due to 1 previous error",
        ],
    )
}

/// Retry is off here: these tests are about the issue; retry has its own.
pub fn without_retry(fake: &FakeGithub) {
    if fake.file(DEFAULT_BRANCH, ".github/ci-medic.yml").is_none() {
        fake.commit_files(
            DEFAULT_BRANCH,
            &[(".github/ci-medic.yml", "retry:\n  enabled: false\n")],
            "Configure ci-medic",
        );
    }
}

fn failed_run(fake: &FakeGithub, log: String) -> u64 {
    without_retry(fake);
    fake.add_run(
        RunBuilder::new("CI")
            .path(CI_WORKFLOW_PATH)
            .job(JobBuilder::new("lint"))
            .job(JobBuilder::failed("test (3.12)").log(log)),
    )
    .id
}

async fn report(
    fake: &FakeGithub,
    run_id: u64,
    conclusion: &str,
) -> crate::support::action::ActionRun {
    let sha = fake.run(run_id).map(|r| r.head_sha).unwrap_or_default();
    let payload = workflow_run_payload(
        run_id,
        "CI",
        CI_WORKFLOW_PATH,
        conclusion,
        DEFAULT_BRANCH,
        &sha,
    );
    Runner::new(fake).run_event("workflow_run", &payload).await
}

fn analysis_block(body: &str) -> Value {
    let start = body
        .rfind("<!-- ci-medic:analysis ")
        .expect("analysis block")
        + 23;
    let end = body[start..].find(" -->").expect("block end") + start;
    serde_json::from_str(&body[start..end]).expect("block is JSON")
}

#[tokio::test]
async fn first_failure_opens_one_labelled_issue() {
    let fake = FakeGithub::start().await;
    let run = failed_run(&fake, missing_module_log(1, "tmpa1b2c3"));
    let out = report(&fake, run, "failure").await;
    assert_eq!(
        out.code, 0,
        "stderr: {}\nstdout: {}",
        out.stderr, out.stdout
    );

    let issues = fake.issues();
    assert_eq!(issues.len(), 1, "{issues:?}");
    let issue = &issues[0];
    assert!(
        issue.title.starts_with("CI: dependency in test (3.12): "),
        "{}",
        issue.title
    );
    assert!(
        issue.title.contains("No module named 'yaml'"),
        "{}",
        issue.title
    );
    let labels: Vec<&str> = issue.labels.iter().map(String::as_str).collect();
    for l in ["auto-heal", "workflow-failure", "ci-medic:dependency"] {
        assert!(labels.contains(&l), "missing label {l}: {labels:?}");
    }
    let body = issue.body.as_deref().unwrap_or_default();
    assert!(body.starts_with("<!-- ci-medic:failure:"), "{body}");
    assert!(body.contains(&format!("[{run}](")), "run link: {body}");
    assert_snap!("first_failure_issue_body", body);
    let block = analysis_block(body);
    assert_eq!(block["category"], "dependency");
    assert_eq!(block["workflow_path"], CI_WORKFLOW_PATH);
    assert_eq!(block["failures"][0]["captures"]["package"], "yaml");
    assert_eq!(block["jobs"][0]["name"], "test (3.12)");

    assert_eq!(
        out.outputs.get("category").map(String::as_str),
        Some("dependency")
    );
    assert_eq!(
        out.outputs.get("issue-number"),
        Some(&issue.number.to_string())
    );
    assert_eq!(out.outputs.get("fingerprint").map(String::len), Some(16));
    assert_snap!("first_failure_step_summary", out.summary);
    fake.expect_labels_created(&["auto-heal", "workflow-failure", "ci-medic:dependency"]);
    fake.assert_clean();
}

#[tokio::test]
async fn same_failure_comments_different_failure_opens_green_closes_rerun_is_quiet() {
    let fake = FakeGithub::start().await;
    let first = failed_run(&fake, missing_module_log(1, "tmpa1b2c3"));
    assert_eq!(report(&fake, first, "failure").await.code, 0);
    let n = fake.issues()[0].number;

    // The same failure in another run (other timestamps, other temp dir).
    let second = failed_run(&fake, missing_module_log(7, "tmpz9y8x7"));
    let out = report(&fake, second, "failure").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        fake.issues().len(),
        1,
        "no second issue for the same failure"
    );
    let comments = fake.comments(n);
    assert_eq!(comments.len(), 1);
    assert!(
        comments[0]
            .body
            .contains(&format!("Seen again in run [{second}]")),
        "{}",
        comments[0].body
    );
    assert_snap!("seen_again_comment", comments[0].body);
    let block = analysis_block(
        fake.issue(n)
            .and_then(|i| i.body)
            .as_deref()
            .unwrap_or_default(),
    );
    let runs: Vec<u64> = block["occurrences"]
        .as_array()
        .expect("occurrences")
        .iter()
        .filter_map(|o| o["run_id"].as_u64())
        .collect();
    assert_eq!(runs, vec![first, second]);

    // Re-running the action on the same run creates nothing new.
    let again = report(&fake, second, "failure").await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(fake.issues().len(), 1);
    assert_eq!(
        fake.comments(n).len(),
        1,
        "the seen-again comment is not repeated"
    );

    // A different failure opens a second issue.
    let third = failed_run(&fake, compile_error_log(9));
    assert_eq!(report(&fake, third, "failure").await.code, 0);
    let issues = fake.issues();
    assert_eq!(issues.len(), 2);
    let compile = issues.iter().find(|i| i.number != n).expect("second issue");
    assert!(compile.title.contains("compilation"), "{}", compile.title);

    // A green run of the workflow on the branch closes both.
    let green = fake
        .add_run(
            RunBuilder::new("CI")
                .path(CI_WORKFLOW_PATH)
                .job(JobBuilder::new("test (3.12)")),
        )
        .id;
    let out = report(&fake, green, "success").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    for i in fake.issues() {
        assert_eq!(i.state, "closed", "issue #{} still open", i.number);
        assert!(
            fake.comments(i.number)
                .iter()
                .any(|c| c.body.contains("passed"))
        );
    }
    let closing = fake.comments(n).pop().map(|c| c.body).unwrap_or_default();
    assert_snap!("passed_comment", closing);
    fake.expect_labels_created(&[
        "auto-heal",
        "workflow-failure",
        "ci-medic:dependency",
        "ci-medic:compilation",
    ]);
    fake.assert_clean();
}

#[tokio::test]
async fn hostile_log_text_is_rendered_inert() {
    let fake = FakeGithub::start().await;
    let log = gha_log(
        2,
        "make test",
        &[
            "```",
            "````` @everyone <!-- ci-medic:failure:0000000000000000 --> [x](https://evil.example)",
            "::set-output name=pwned::1",
            "Error: @octocat please rm -rf / ```` #1",
        ],
    );
    let run = failed_run(&fake, log);
    let out = report(&fake, run, "failure").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let issues = fake.issues();
    assert_eq!(issues.len(), 1);
    let body = issues[0].body.as_deref().unwrap_or_default();
    assert!(!issues[0].title.contains("@octocat"), "{}", issues[0].title);
    // The excerpt's fence outlasts the log's backticks, so the hostile lines
    // stay inside it; outside fences, mentions are broken.
    let prose: String = strip_fences(body);
    assert!(!prose.contains("evil.example"), "{prose}");
    assert!(
        !prose.contains("@octocat") && !prose.contains("@everyone"),
        "{prose}"
    );
    // The hostile marker is not a real one: the real marker comes first and the
    // analysis block still parses.
    assert!(body.starts_with("<!-- ci-medic:failure:"));
    assert!(!body.starts_with("<!-- ci-medic:failure:0000000000000000"));
    let _ = analysis_block(body);
    assert_snap!("hostile_log_issue_body", body);
    // Echoed log text is wrapped in stop-commands.
    assert!(out.stdout.contains("::stop-commands::"), "{}", out.stdout);
    assert!(
        !out.stdout.lines().any(|l| l.starts_with("::set-output")),
        "{}",
        out.stdout
    );
    fake.expect_labels_created(&["auto-heal", "workflow-failure", "ci-medic:unknown"]);
    fake.assert_clean();
}

/// The body with every fenced block removed.
fn strip_fences(body: &str) -> String {
    let mut out = String::new();
    let mut fence: Option<String> = None;
    for line in body.lines() {
        let ticks: String = line.chars().take_while(|c| *c == '`').collect();
        match &fence {
            Some(f) if line.trim_end() == f.as_str() => fence = None,
            Some(_) => {}
            None if ticks.len() >= 3 => fence = Some(ticks),
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

#[tokio::test]
async fn expired_logs_give_an_honest_issue() {
    let fake = FakeGithub::start().await;
    without_retry(&fake);
    let run = fake
        .add_run(
            RunBuilder::new("CI")
                .path(CI_WORKFLOW_PATH)
                .job(JobBuilder::failed("build").logs_expired()),
        )
        .id;
    let out = report(&fake, run, "failure").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let issues = fake.issues();
    assert_eq!(issues.len(), 1);
    let body = issues[0].body.clone().unwrap_or_default();
    assert!(body.contains("logs expired"), "{body}");
    assert_snap!("expired_logs_issue_body", body);
    assert!(issues[0].title.contains("unknown"), "{}", issues[0].title);
    fake.expect_labels_created(&["auto-heal", "workflow-failure", "ci-medic:unknown"]);
    fake.assert_clean();
}

#[tokio::test]
async fn a_502_after_the_issue_landed_does_not_duplicate_it() {
    let fake = FakeGithub::start().await;
    let run = failed_run(&fake, missing_module_log(1, "tmpq"));
    fake.inject(
        "POST",
        r"/repos/[^/]+/[^/]+/issues$",
        Fault::after_apply(502),
    );
    let out = report(&fake, run, "failure").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.issues().len(), 1, "exactly one issue despite the 502");
    fake.expect_labels_created(&["auto-heal", "workflow-failure", "ci-medic:dependency"]);
    fake.assert_clean();
}

#[tokio::test]
async fn rate_limits_are_waited_out_without_duplicates() {
    let fake = FakeGithub::start().await;
    let run = failed_run(&fake, missing_module_log(1, "tmpq"));
    fake.inject(
        "GET",
        r"/actions/runs/\d+$",
        Fault::status(429).header("retry-after", "1"),
    );
    fake.inject(
        "POST",
        r"/repos/[^/]+/[^/]+/issues$",
        Fault::secondary_rate_limit(1),
    );
    fake.inject("GET", r"/issues$", Fault::status(502));
    let out = report(&fake, run, "failure").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.issues().len(), 1);
    fake.expect_labels_created(&["auto-heal", "workflow-failure", "ci-medic:dependency"]);
    fake.assert_clean();
}

#[tokio::test]
async fn dry_run_writes_nothing_and_prints_the_plan() {
    let fake = FakeGithub::start().await;
    let run = failed_run(&fake, missing_module_log(1, "tmpq"));
    let sha = fake.run(run).map(|r| r.head_sha).unwrap_or_default();
    let payload =
        workflow_run_payload(run, "CI", CI_WORKFLOW_PATH, "failure", DEFAULT_BRANCH, &sha);
    let out = Runner::new(&fake)
        .env("INPUT_DRY-RUN", "true")
        .run_event("workflow_run", &payload)
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("open issue"), "{}", out.stdout);
    assert!(
        out.stdout.contains("dry run: not written"),
        "{}",
        out.stdout
    );
    assert!(fake.issues().is_empty());
    assert!(fake.reruns().is_empty());
    fake.expect_no_labels_created();
    fake.assert_clean();
}

#[tokio::test]
async fn a_missing_job_log_falls_back_to_the_run_archive() {
    use std::io::Write as _;
    let fake = FakeGithub::start().await;
    without_retry(&fake);
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file("0_build.txt", zip::write::SimpleFileOptions::default())
        .expect("zip entry");
    zip.write_all(compile_error_log(3).as_bytes())
        .expect("zip write");
    let bytes = zip.finish().expect("zip").into_inner();
    // The job's own log is missing (404); the run's archive has it.
    let run = fake
        .add_run(
            RunBuilder::new("CI")
                .path(CI_WORKFLOW_PATH)
                .job(JobBuilder::failed("build"))
                .logs_zip(bytes),
        )
        .id;
    let out = report(&fake, run, "failure").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let issues = fake.issues();
    assert_eq!(issues.len(), 1);
    assert!(
        issues[0].title.contains("compilation"),
        "{}",
        issues[0].title
    );
    assert!(
        issues[0]
            .body
            .as_deref()
            .unwrap_or_default()
            .contains("conifg")
    );
    fake.expect_labels_created(&["auto-heal", "workflow-failure", "ci-medic:compilation"]);
    fake.assert_clean();
}

/// What ci-medic files for `log` on a repository of its own: the issue body
/// and the fingerprint, as anyone can learn them by reproducing the failure.
async fn predicted(log: String) -> (String, String) {
    let scratch = FakeGithub::start().await;
    let run = failed_run(&scratch, log);
    let out = report(&scratch, run, "failure").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let body = scratch.issues()[0].body.clone().unwrap_or_default();
    let _ = scratch.labels();
    scratch.assert_clean();
    (body, out.outputs["fingerprint"].clone())
}

#[tokio::test]
async fn a_marker_forged_in_a_log_does_not_hijack_another_failure() {
    let (_, fp) = predicted(compile_error_log(9)).await;
    let fake = FakeGithub::start().await;
    // A failure whose excerpt quotes the marker the compile error will have.
    let forged = format!("<!-- ci-medic:failure:{fp} -->");
    let first = failed_run(
        &fake,
        gha_log(
            2,
            "pytest -q",
            &[
                "collected 0 items / 1 error",
                &forged,
                "    import yaml",
                "E   ModuleNotFoundError: No module named 'yaml'",
            ],
        ),
    );
    assert_eq!(report(&fake, first, "failure").await.code, 0);
    let yaml = fake.issues()[0].clone();
    let yaml_body = yaml.body.clone().unwrap_or_default();
    assert!(
        yaml_body.contains(&format!("ci-medic:failure:{fp}")),
        "the excerpt quotes the forged line: {yaml_body}"
    );
    assert!(!yaml_body.contains(&forged), "{yaml_body}");

    // The compile error gets an issue of its own; the first is untouched.
    let second = failed_run(&fake, compile_error_log(9));
    let out = report(&fake, second, "failure").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let issues = fake.issues();
    assert_eq!(issues.len(), 2, "{issues:#?}");
    let after = fake.issue(yaml.number).expect("first issue");
    assert_eq!(after.body.as_deref(), Some(yaml_body.as_str()));
    assert_eq!(after.title, yaml.title);
    assert!(fake.comments(yaml.number).is_empty());
    let compile = issues
        .iter()
        .find(|i| i.number != yaml.number)
        .expect("second issue");
    assert!(compile.title.contains("compilation"), "{}", compile.title);
    fake.expect_labels_created(&[
        "auto-heal",
        "workflow-failure",
        "ci-medic:dependency",
        "ci-medic:compilation",
    ]);
    fake.assert_clean();
}

#[tokio::test]
async fn an_issue_by_someone_else_is_never_taken_for_ours() {
    // A perfect copy of the issue ci-medic would file, marker and analysis
    // block included, opened by another user.
    let (copy, _) = predicted(missing_module_log(1, "tmpa1b2c3")).await;
    let fake = FakeGithub::start().await;
    let theirs = fake.add_issue(
        IssueBuilder::new("CI: dependency in test (3.12)")
            .user("mallory")
            .label("workflow-failure")
            .body(&copy),
    );
    let run = failed_run(&fake, missing_module_log(4, "tmpq"));
    let out = report(&fake, run, "failure").await;
    assert_eq!(out.code, 0, "{}", out.stderr);

    let issues = fake.issues();
    assert_eq!(issues.len(), 2, "ci-medic files its own issue: {issues:#?}");
    let ours = issues
        .iter()
        .find(|i| i.number != theirs)
        .expect("our issue");
    assert_eq!(ours.user, ACTIONS_BOT);
    assert_eq!(
        out.outputs.get("issue-number"),
        Some(&ours.number.to_string())
    );
    let other = fake.issue(theirs).expect("their issue");
    assert_eq!(other.body.as_deref(), Some(copy.as_str()));
    assert!(fake.comments(theirs).is_empty());

    // A green run closes ours and leaves theirs alone.
    let green = fake
        .add_run(
            RunBuilder::new("CI")
                .path(CI_WORKFLOW_PATH)
                .job(JobBuilder::new("test (3.12)")),
        )
        .id;
    assert_eq!(report(&fake, green, "success").await.code, 0);
    assert_eq!(
        fake.issue(ours.number).map(|i| i.state).as_deref(),
        Some("closed")
    );
    assert_eq!(fake.issue(theirs).map(|i| i.state).as_deref(), Some("open"));
    assert!(fake.comments(theirs).is_empty());
    fake.expect_comment(ours.number, |b| {
        b.contains("passed, so this failure looks fixed")
    });
    // `workflow-failure` came with their issue.
    fake.expect_labels_created(&["auto-heal", "ci-medic:dependency"]);
    fake.assert_clean();
}

#[tokio::test]
async fn a_comment_by_someone_else_carrying_our_marker_is_not_edited() {
    let fake = FakeGithub::start().await;
    let first = failed_run(&fake, missing_module_log(1, "tmpa"));
    assert_eq!(report(&fake, first, "failure").await.code, 0);
    let n = fake.issues()[0].number;
    // The next run's id is predictable, and so is its seen-again marker.
    let second = failed_run(&fake, missing_module_log(5, "tmpb"));
    let planted = format!("<!-- ci-medic:seen:{second}-1 -->\nnot ci-medic's comment");
    let theirs = fake.add_comment(n, "mallory", &planted);

    let out = report(&fake, second, "failure").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.issues().len(), 1);
    let comments = fake.comments(n);
    let other = comments.iter().find(|c| c.id == theirs).expect("theirs");
    assert_eq!(other.body, planted, "another user's comment is not edited");
    let ours: Vec<_> = comments.iter().filter(|c| c.user == ACTIONS_BOT).collect();
    assert_eq!(ours.len(), 1, "{comments:#?}");
    assert!(
        ours[0]
            .body
            .contains(&format!("Seen again in run [{second}]")),
        "{}",
        ours[0].body
    );
    fake.expect_labels_created(&["auto-heal", "workflow-failure", "ci-medic:dependency"]);
    fake.assert_clean();
}

#[tokio::test]
async fn names_with_newlines_stay_inside_their_code_spans() {
    let fake = FakeGithub::start().await;
    without_retry(&fake);
    let run = fake
        .add_run(
            RunBuilder::new("CI")
                .path(".github/workflows/ci.yml\n# Path heading @octocat")
                .job(
                    JobBuilder::failed("test\n# Job heading @octocat")
                        .log(missing_module_log(1, "tmpa")),
                ),
        )
        .id;
    let out = report(&fake, run, "failure").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let issues = fake.issues();
    assert_eq!(issues.len(), 1);
    let body = issues[0].body.as_deref().unwrap_or_default();
    assert!(body.contains("Job heading"), "{body}");
    // Each span closes on its own line, and outside spans nothing is live.
    for line in strip_fences(body).lines() {
        assert!(!line.starts_with("# "), "a heading: {line:?}");
        assert_eq!(line.matches('`').count() % 2, 0, "open span: {line:?}");
        let outside: String = line.split('`').step_by(2).collect();
        assert!(!outside.contains("@octocat"), "live mention: {line:?}");
    }
    fake.expect_labels_created(&["auto-heal", "workflow-failure", "ci-medic:dependency"]);
    fake.assert_clean();
}

/// A log whose only error line carries bidi controls, a `www.` link and
/// runner commands.
fn trick_log() -> String {
    gha_log(
        3,
        "make check",
        &[
            "Error: \u{202E}txt.exe ##[set-output name=x;]y ##[add-mask]z ##[set-output name=x::y] see www.evil.example",
        ],
    )
}

#[tokio::test]
async fn bidi_controls_and_www_links_do_not_reach_the_issue() {
    let fake = FakeGithub::start().await;
    let run = failed_run(&fake, trick_log());
    let out = report(&fake, run, "failure").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let issue = fake.issues()[0].clone();
    let body = issue.body.unwrap_or_default();
    assert!(issue.title.contains("txt.exe"), "{}", issue.title);
    assert!(!issue.title.contains('\u{202E}'), "{:?}", issue.title);
    assert!(!body.contains('\u{202E}'), "{body:?}");
    // What GitHub renders: neither fences nor the hidden comments.
    let prose: String = strip_fences(&body)
        .lines()
        .filter(|l| !l.starts_with("<!-- "))
        .collect();
    assert!(prose.contains("evil.example"), "{prose}");
    assert!(!prose.contains("www.evil"), "{prose}");
    fake.expect_labels_created(&["auto-heal", "workflow-failure", "ci-medic:unknown"]);
    fake.assert_clean();
}

/// `stdout` from its first line that opens a JSON object.
fn json_of(stdout: &str) -> Value {
    let start = stdout.find("\n{").map(|i| i + 1).unwrap_or(0);
    serde_json::from_str(&stdout[start..]).expect("JSON output")
}

#[tokio::test]
async fn json_output_carries_no_runner_command() {
    let fake = FakeGithub::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("job.log");
    std::fs::write(&log, trick_log()).expect("write log");
    let log = log.to_string_lossy().into_owned();

    // Offline, inside a runner.
    let runner = Runner::new(&fake);
    let out = runner
        .exec(&["--format", "json", "analyze", "--log", &log], None)
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stdout.contains("##["), "{}", out.stdout);
    let v = json_of(&out.stdout);
    let text = v["failures"][0]["text"].as_str().unwrap_or_default();
    assert!(text.contains("##[set-output name=x;]y"), "{text}");
    assert!(text.contains("##[add-mask]z"), "{text}");

    // The action's own run: plan and report as JSON.
    let run = failed_run(&fake, trick_log());
    let sha = fake.run(run).map(|r| r.head_sha).unwrap_or_default();
    let payload =
        workflow_run_payload(run, "CI", CI_WORKFLOW_PATH, "failure", DEFAULT_BRANCH, &sha);
    let event = runner.path("event.json");
    std::fs::write(&event, serde_json::to_vec(&payload).expect("json")).expect("write");
    let out = runner
        .exec(&["--format", "json", "run"], Some(("workflow_run", &event)))
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stdout.contains("##["), "{}", out.stdout);
    let v = json_of(&out.stdout);
    assert!(
        v["plan"].to_string().contains("##[set-output"),
        "the plan still says what the log says: {v}"
    );
    let issues = fake.issues();
    assert_eq!(issues.len(), 1, "{issues:#?}");
    // The issue quotes the log (the runner never reads it).
    assert!(
        issues[0]
            .body
            .as_deref()
            .is_some_and(|b| b.contains("##[add-mask]z")),
        "{issues:#?}"
    );
    fake.expect_labels_created(&["auto-heal", "workflow-failure", "ci-medic:unknown"]);
    fake.assert_clean();
}

#[tokio::test]
async fn error_chains_carry_no_runner_command() {
    let fake = FakeGithub::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("##[set-output name=x;]y\n::add-mask::z");
    let out = Runner::new(&fake)
        .exec(&["analyze", "--log", &missing.to_string_lossy()], None)
        .await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("set-output name=x;]y"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("##["), "{}", out.stderr);
    assert!(
        !out.stderr.lines().any(|l| l.trim_start().starts_with("::")),
        "{}",
        out.stderr
    );
    assert!(!out.stdout.contains("##["), "{}", out.stdout);
    fake.assert_clean();
}

#[tokio::test]
async fn event_text_echoed_back_carries_no_runner_command() {
    let fake = FakeGithub::start().await;
    fake.commit_files(
        DEFAULT_BRANCH,
        &[(
            ".github/ci-medic.yml",
            "retry:\n  enabled: false\n  workflows: [CI]\nanalyze:\n  workflows: [CI]\n",
        )],
        "Watch CI only",
    );
    let run = failed_run(&fake, missing_module_log(1, "tmpa"));
    let sha = fake.run(run).map(|r| r.head_sha).unwrap_or_default();
    let name = "x ##[set-output name=x;]y";
    let payload =
        workflow_run_payload(run, name, CI_WORKFLOW_PATH, "failure", DEFAULT_BRANCH, &sha);
    let out = Runner::new(&fake)
        .binary()
        .env("CI_MEDIC_LOG", "info")
        .run_event("workflow_run", &payload)
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("is not watched"), "{}", out.stdout);
    // The logs on stderr quote it too, inert.
    assert!(
        out.stderr.contains("set-output name=x;]y"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("##["), "{}", out.stderr);
    // Whatever quotes the name sits inside a stop-commands block.
    let mut stop: Option<String> = None;
    for line in out.stdout.lines() {
        match &stop {
            Some(t) if line == format!("::{t}::") => stop = None,
            Some(_) => {}
            None => match line.strip_prefix("::stop-commands::") {
                Some(t) => stop = Some(t.to_string()),
                None => assert!(!line.contains("##["), "live: {line}"),
            },
        }
    }
    assert!(fake.issues().is_empty());
    fake.assert_clean();
}
