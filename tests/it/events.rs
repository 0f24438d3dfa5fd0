//! Event parsing and routing over every real payload example we handle, and
//! the `run` entry point's handling of unhandled, missing and malformed
//! payloads and of bad configs.

use std::path::{Path, PathBuf};

use ci_medic::config::Config;
use ci_medic::event::{self, Event};
use ci_medic::handlers::{Route, route};
use serde_json::json;

use crate::support::action::{Runner, workflow_run_payload};
use crate::support::fake_github::{
    CI_WORKFLOW_PATH, DEFAULT_BRANCH, FakeGithub, JobBuilder, RunBuilder,
};

fn examples(event: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/webhooks")
        .join(event);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no examples for {event}");
    files
}

fn load(event: &str, path: &Path) -> Event {
    event::load(event, path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The event names whose examples live under `fixtures/webhooks/<name>/`.
const HANDLED_EVENTS: [&str; 10] = [
    "workflow_run",
    "workflow_job",
    "issues",
    "issue_comment",
    "pull_request",
    "pull_request_review",
    "check_run",
    "workflow_dispatch",
    "schedule",
    "push",
];

fn nothing(why: &str) -> Route {
    Route::Nothing(why.to_owned())
}

/// Where each payload example goes under the default config, reason included.
/// A new example needs a row here; a routing change shows up as a failing row.
fn expected_routes() -> Vec<(&'static str, Route)> {
    vec![
        (
            "workflow_run/00-completed.json",
            nothing("run 1589141559 concluded without a conclusion"),
        ),
        (
            "workflow_run/01-completed.json",
            Route::PassedRun { run_id: 289782451 },
        ),
        (
            "workflow_run/02-completed.json",
            Route::PassedRun { run_id: 289782451 },
        ),
        (
            "workflow_run/03-requested.json",
            nothing("workflow_run requested (not completed)"),
        ),
        (
            "workflow_run/04-requested.json",
            nothing("workflow_run requested (not completed)"),
        ),
        (
            "workflow_job/00-in_progress.json",
            nothing("event workflow_job is not handled"),
        ),
        (
            "workflow_job/01-completed.json",
            nothing("event workflow_job is not handled"),
        ),
        (
            "workflow_job/02-completed.json",
            nothing("event workflow_job is not handled"),
        ),
        (
            "workflow_job/03-in_progress.json",
            nothing("event workflow_job is not handled"),
        ),
        (
            "workflow_job/04-in_progress.json",
            nothing("event workflow_job is not handled"),
        ),
        (
            "workflow_job/05-queued.json",
            nothing("event workflow_job is not handled"),
        ),
        (
            "workflow_job/06-queued.json",
            nothing("event workflow_job is not handled"),
        ),
        (
            "workflow_job/07-waiting.json",
            nothing("event workflow_job is not handled"),
        ),
        (
            "issues/00-edited.json",
            nothing("issues edited needs no action"),
        ),
        (
            "issues/01-assigned.json",
            nothing("issues assigned needs no action"),
        ),
        (
            "issues/02-assigned.json",
            nothing("issues assigned needs no action"),
        ),
        (
            "issues/03-assigned.json",
            nothing("issues assigned needs no action"),
        ),
        (
            "issues/04-deleted.json",
            nothing("issues deleted needs no action"),
        ),
        (
            "issues/05-demilestoned.json",
            nothing("a pull request, not an issue"),
        ),
        (
            "issues/06-demilestoned.json",
            nothing("a pull request, not an issue"),
        ),
        (
            "issues/07-edited.json",
            nothing("issues edited needs no action"),
        ),
        (
            "issues/08-edited.json",
            nothing("issues edited needs no action"),
        ),
        (
            "issues/09-labeled.json",
            nothing("issue #1 lacks the `auto-heal` and `workflow-failure` labels"),
        ),
        (
            "issues/10-labeled.json",
            nothing("issue #1 lacks the `auto-heal` and `workflow-failure` labels"),
        ),
        (
            "issues/11-locked.json",
            nothing("issues locked needs no action"),
        ),
        (
            "issues/12-locked.json",
            nothing("issues locked needs no action"),
        ),
        (
            "issues/13-milestoned.json",
            nothing("a pull request, not an issue"),
        ),
        (
            "issues/14-milestoned.json",
            nothing("a pull request, not an issue"),
        ),
        (
            "issues/15-opened.json",
            nothing("issue #1 lacks the `auto-heal` and `workflow-failure` labels"),
        ),
        (
            "issues/16-opened.json",
            nothing("issue #1 lacks the `auto-heal` and `workflow-failure` labels"),
        ),
        (
            "issues/17-opened.json",
            nothing("issue #1 lacks the `auto-heal` and `workflow-failure` labels"),
        ),
        (
            "issues/18-opened.json",
            nothing("issue #1 lacks the `auto-heal` and `workflow-failure` labels"),
        ),
        (
            "issues/19-pinned.json",
            nothing("issues pinned needs no action"),
        ),
        (
            "issues/20-reopened.json",
            nothing("issue #1 lacks the `auto-heal` and `workflow-failure` labels"),
        ),
        (
            "issues/21-transferred.json",
            nothing("issues transferred needs no action"),
        ),
        (
            "issues/22-unassigned.json",
            nothing("issues unassigned needs no action"),
        ),
        (
            "issues/23-unassigned.json",
            nothing("issues unassigned needs no action"),
        ),
        (
            "issues/24-unlabeled.json",
            nothing("issues unlabeled needs no action"),
        ),
        (
            "issues/25-unlabeled.json",
            nothing("issues unlabeled needs no action"),
        ),
        (
            "issues/26-unlocked.json",
            nothing("issues unlocked needs no action"),
        ),
        (
            "issues/27-unlocked.json",
            nothing("issues unlocked needs no action"),
        ),
        (
            "issues/28-unpinned.json",
            nothing("issues unpinned needs no action"),
        ),
        (
            "issue_comment/00-created.json",
            nothing("event issue_comment is not handled"),
        ),
        (
            "issue_comment/01-created.json",
            nothing("event issue_comment is not handled"),
        ),
        (
            "issue_comment/02-created.json",
            nothing("event issue_comment is not handled"),
        ),
        (
            "issue_comment/03-created.json",
            nothing("event issue_comment is not handled"),
        ),
        (
            "issue_comment/04-created.json",
            nothing("event issue_comment is not handled"),
        ),
        (
            "issue_comment/05-deleted.json",
            nothing("event issue_comment is not handled"),
        ),
        (
            "issue_comment/06-deleted.json",
            nothing("event issue_comment is not handled"),
        ),
        (
            "issue_comment/07-edited.json",
            nothing("event issue_comment is not handled"),
        ),
        (
            "issue_comment/08-edited.json",
            nothing("event issue_comment is not handled"),
        ),
        (
            "pull_request_review/00-submitted.json",
            nothing("event pull_request_review is not handled"),
        ),
        (
            "pull_request_review/01-dismissed.json",
            nothing("event pull_request_review is not handled"),
        ),
        (
            "pull_request_review/02-submitted.json",
            nothing("event pull_request_review is not handled"),
        ),
        (
            "pull_request_review/03-submitted.json",
            nothing("event pull_request_review is not handled"),
        ),
        (
            "pull_request/00-opened.json",
            nothing("event pull_request is not handled"),
        ),
        (
            "pull_request/01-assigned.json",
            nothing("event pull_request is not handled"),
        ),
        (
            "pull_request/02-assigned.json",
            nothing("event pull_request is not handled"),
        ),
        (
            "pull_request/03-closed.json",
            nothing("event pull_request is not handled"),
        ),
        (
            "pull_request/04-closed.json",
            nothing("event pull_request is not handled"),
        ),
        (
            "pull_request/05-converted_to_draft.json",
            nothing("event pull_request is not handled"),
        ),
        (
            "pull_request/06-converted_to_draft.json",
            nothing("event pull_request is not handled"),
        ),
        (
            "pull_request/07-converted_to_draft.json",
            nothing("event pull_request is not handled"),
        ),
        (
            "pull_request/08-labeled.json",
            nothing("event pull_request is not handled"),
        ),
        (
            "pull_request/09-labeled.json",
            nothing("event pull_request is not handled"),
        ),
        (
            "pull_request/10-locked.json",
            nothing("event pull_request is not handled"),
        ),
        (
            "pull_request/11-locked.json",
            nothing("event pull_request is not handled"),
        ),
        (
            "pull_request/12-opened.json",
            nothing("event pull_request is not handled"),
        ),
        (
            "pull_request/13-opened.json",
            nothing("event pull_request is not handled"),
        ),
        (
            "pull_request/14-opened.json",
            nothing("event pull_request is not handled"),
        ),
        (
            "pull_request/15-ready_for_review.json",
            nothing("event pull_request is not handled"),
        ),
        (
            "pull_request/16-ready_for_review.json",
            nothing("event pull_request is not handled"),
        ),
        (
            "pull_request/17-ready_for_review.json",
            nothing("event pull_request is not handled"),
        ),
        (
            "pull_request/18-reopened.json",
            nothing("event pull_request is not handled"),
        ),
        (
            "pull_request/19-reopened.json",
            nothing("event pull_request is not handled"),
        ),
        (
            "pull_request/20-review_request_removed.json",
            nothing("event pull_request is not handled"),
        ),
        (
            "pull_request/21-review_requested.json",
            nothing("event pull_request is not handled"),
        ),
        (
            "pull_request/22-synchronize.json",
            nothing("event pull_request is not handled"),
        ),
        (
            "pull_request/23-unassigned.json",
            nothing("event pull_request is not handled"),
        ),
        (
            "pull_request/24-unassigned.json",
            nothing("event pull_request is not handled"),
        ),
        (
            "pull_request/25-unlabeled.json",
            nothing("event pull_request is not handled"),
        ),
        (
            "pull_request/26-unlabeled.json",
            nothing("event pull_request is not handled"),
        ),
        (
            "pull_request/27-unlocked.json",
            nothing("event pull_request is not handled"),
        ),
        (
            "pull_request/28-unlocked.json",
            nothing("event pull_request is not handled"),
        ),
        (
            "check_run/00-created.json",
            nothing("event check_run is not handled"),
        ),
        (
            "check_run/01-completed.json",
            nothing("event check_run is not handled"),
        ),
        (
            "check_run/02-completed.json",
            nothing("event check_run is not handled"),
        ),
        (
            "check_run/03-completed.json",
            nothing("event check_run is not handled"),
        ),
        (
            "check_run/04-created.json",
            nothing("event check_run is not handled"),
        ),
        (
            "check_run/05-created.json",
            nothing("event check_run is not handled"),
        ),
        (
            "check_run/06-requested_action.json",
            nothing("event check_run is not handled"),
        ),
        (
            "check_run/07-rerequested.json",
            nothing("event check_run is not handled"),
        ),
        (
            "check_run/08-rerequested.json",
            nothing("event check_run is not handled"),
        ),
        (
            "workflow_dispatch/00-event.json",
            nothing("autorevert is not enabled (set `autorevert.enabled: true`)"),
        ),
        (
            "workflow_dispatch/01-event.json",
            nothing("autorevert is not enabled (set `autorevert.enabled: true`)"),
        ),
        (
            "schedule/00-event.json",
            nothing("autorevert is not enabled (set `autorevert.enabled: true`)"),
        ),
        ("push/00-event.json", nothing("event push is not handled")),
        ("push/01-event.json", nothing("event push is not handled")),
        ("push/02-event.json", nothing("event push is not handled")),
        ("push/03-event.json", nothing("event push is not handled")),
        ("push/04-event.json", nothing("event push is not handled")),
        ("push/05-event.json", nothing("event push is not handled")),
        ("push/06-event.json", nothing("event push is not handled")),
    ]
}

#[test]
fn every_example_of_every_handled_event_parses_and_routes() {
    let config = Config::default();
    let mut enabled = Config::default();
    enabled.autorevert.enabled = true;
    let expected = expected_routes();
    let mut seen = Vec::new();
    for name in HANDLED_EVENTS {
        for path in examples(name) {
            let file = format!(
                "{name}/{}",
                path.file_name()
                    .map(|f| f.to_string_lossy())
                    .unwrap_or_default()
            );
            let e = load(name, &path);
            assert_eq!(e.name(), name, "{file}");
            assert!(e.repository().is_some(), "{file}: no repository");
            let want = expected
                .iter()
                .find(|(f, _)| *f == file)
                .map(|(_, r)| r)
                .unwrap_or_else(|| panic!("{file}: no expected route in the table"));
            assert_eq!(&route(&e, None, &config), want, "{file}");
            // Scheduled and dispatched events reach autorevert once enabled;
            // enabling it changes nothing for the others.
            let with_autorevert = if matches!(e, Event::Schedule(_) | Event::WorkflowDispatch(_)) {
                Route::Autorevert
            } else {
                want.clone()
            };
            assert_eq!(
                route(&e, None, &enabled),
                with_autorevert,
                "{file} (autorevert enabled)"
            );
            // In autorevert's own workflow a completed run wakes it only as a
            // restart's result, which none of these real runs is.
            if matches!(e, Event::WorkflowRun(_)) {
                assert!(
                    matches!(route(&e, Some("autorevert"), &enabled), Route::Nothing(_)),
                    "{file} (autorevert's workflow)"
                );
            }
            seen.push(file);
        }
    }
    let stale: Vec<&str> = expected
        .iter()
        .map(|(f, _)| *f)
        .filter(|f| !seen.iter().any(|s| s == f))
        .collect();
    assert!(stale.is_empty(), "rows for missing examples: {stale:?}");
}

#[test]
fn the_examples_have_the_fields_we_read() {
    let e = load("workflow_run", &examples("workflow_run")[1]);
    let Event::WorkflowRun(w) = e else {
        panic!("not a workflow_run")
    };
    assert!(
        w.workflow_path()
            .is_some_and(|p| p.starts_with(".github/workflows/"))
    );
    assert_eq!(w.workflow_run.head_sha.len(), 40);

    let labeled = examples("issues")
        .into_iter()
        .find(|p| p.to_string_lossy().contains("labeled"))
        .expect("a labeled example");
    let Event::Issues(i) = load("issues", &labeled) else {
        panic!("not issues")
    };
    assert!(i.label.is_some());
    assert!(!i.sender.login.is_empty());

    let Event::Push(p) = load("push", &examples("push")[0]) else {
        panic!("not push")
    };
    assert!(p.ref_name.starts_with("refs/"));
}

#[test]
fn issues_with_both_labels_route_to_heal_unless_manual() {
    let path = examples("issues")
        .into_iter()
        .find(|p| p.to_string_lossy().contains("opened"))
        .expect("an opened example");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json");
    v["issue"]["labels"] = json!([{"name": "auto-heal"}, {"name": "workflow-failure"}]);
    let e = event::parse("issues", "x.json", v.to_string().as_bytes()).expect("parse");
    assert!(matches!(
        route(&e, None, &Config::default()),
        Route::Heal { .. }
    ));
    v["issue"]["labels"] =
        json!([{"name": "auto-heal"}, {"name": "workflow-failure"}, {"name": "needs-manual-fix"}]);
    let e = event::parse("issues", "x.json", v.to_string().as_bytes()).expect("parse");
    assert!(matches!(
        route(&e, None, &Config::default()),
        Route::Nothing(_)
    ));
}

#[tokio::test]
async fn unhandled_events_exit_zero_with_one_line() {
    let fake = FakeGithub::start().await;
    let out = Runner::new(&fake)
        .binary()
        .run_event("star", &json!({"action": "created"}))
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| !l.starts_with("::add-mask::"))
        .collect();
    assert_eq!(
        lines,
        vec!["ci-medic: event star is not handled; nothing to do"]
    );
    assert!(
        fake.requests().is_empty(),
        "no API call for an unhandled event"
    );
    fake.assert_clean();
}

#[tokio::test]
async fn a_malformed_payload_names_the_file_and_the_field() {
    let fake = FakeGithub::start().await;
    let out = Runner::new(&fake)
        .binary()
        .run_event(
            "workflow_run",
            &json!({"action": "completed", "workflow_run": {"id": "not a number"}}),
        )
        .await;
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("event.json"), "{}", out.stderr);
    assert!(out.stderr.contains("workflow_run.id"), "{}", out.stderr);

    let runner = Runner::new(&fake);
    let missing = runner.path("nope.json");
    let out = runner.exec(&["run"], Some(("push", &missing))).await;
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("nope.json"), "{}", out.stderr);
    fake.assert_clean();
}

#[tokio::test]
async fn a_payload_larger_than_github_sends_is_refused_unread() {
    let fake = FakeGithub::start().await;
    let runner = Runner::new(&fake);
    let path = runner.path("event.json");
    // Valid JSON, one byte over the cap.
    let cap = usize::try_from(event::MAX_PAYLOAD_BYTES).expect("cap fits");
    let mut payload = br#"{"action":"completed","pad":""#.to_vec();
    payload.resize(cap - 1, b'x');
    payload.extend_from_slice(b"\"}");
    assert_eq!(payload.len(), cap + 1);
    std::fs::write(&path, &payload).expect("write");
    let out = runner.exec(&["run"], Some(("workflow_run", &path))).await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("larger than"), "{}", out.stderr);
    assert!(fake.requests().is_empty(), "nothing read from GitHub");
    fake.assert_clean();
}

#[tokio::test]
async fn a_dry_run_input_that_is_not_a_boolean_refuses_to_run() {
    let fake = FakeGithub::start().await;
    let run = fake.add_run(
        RunBuilder::new("CI")
            .path(CI_WORKFLOW_PATH)
            .job(JobBuilder::failed("test").log("error: boom\n")),
    );
    let payload = workflow_run_payload(
        run.id,
        "CI",
        CI_WORKFLOW_PATH,
        "failure",
        DEFAULT_BRANCH,
        &fake.head_sha(DEFAULT_BRANCH),
    );
    for value in ["yes", "True ", "1", "on"] {
        let out = Runner::new(&fake)
            .env("INPUT_DRY-RUN", value)
            .run_event("workflow_run", &payload)
            .await;
        assert_eq!(out.code, 1, "{value:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("input `dry-run` must be true or false"),
            "{value:?}: {}",
            out.stderr
        );
        assert!(out.stderr.contains("refusing to run"), "{}", out.stderr);
    }
    assert!(
        fake.requests().is_empty(),
        "nothing was read or written: {:?}",
        fake.requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect::<Vec<_>>()
    );
    assert!(fake.issues().is_empty());
    assert!(fake.reruns().is_empty());
    fake.assert_clean();
}

#[tokio::test]
async fn a_config_with_an_unknown_key_fails_with_file_line_and_key() {
    let fake = FakeGithub::start().await;
    fake.commit_files(
        DEFAULT_BRANCH,
        &[(
            ".github/ci-medic.yml",
            "analyze:\n  enabled: true\nretry:\n  max-failed-jobz: 3\n",
        )],
        "Configure ci-medic",
    );
    let run = fake.add_run(
        RunBuilder::new("CI")
            .path(CI_WORKFLOW_PATH)
            .job(JobBuilder::failed("test").log("boom\n")),
    );
    let payload = workflow_run_payload(
        run.id,
        "CI",
        CI_WORKFLOW_PATH,
        "failure",
        DEFAULT_BRANCH,
        &fake.head_sha(DEFAULT_BRANCH),
    );
    let out = Runner::new(&fake)
        .binary()
        .run_event("workflow_run", &payload)
        .await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(".github/ci-medic.yml:4:"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("max-failed-jobz"), "{}", out.stderr);
    assert!(
        out.stdout.contains("::error title=ci-medic::"),
        "{}",
        out.stdout
    );
    assert!(fake.issues().is_empty());
    fake.assert_clean();
}

#[tokio::test]
async fn the_token_is_masked_and_never_printed() {
    let fake = FakeGithub::start().await;
    let run = fake.add_run(
        RunBuilder::new("CI")
            .path(CI_WORKFLOW_PATH)
            .job(JobBuilder::failed("test").log("error: boom\n")),
    );
    let payload = workflow_run_payload(
        run.id,
        "CI",
        CI_WORKFLOW_PATH,
        "failure",
        DEFAULT_BRANCH,
        &fake.head_sha(DEFAULT_BRANCH),
    );
    let out = Runner::new(&fake)
        .binary()
        .env("CI_MEDIC_LOG", "trace")
        .run_event("workflow_run", &payload)
        .await;
    let token = fake.token();
    assert!(
        out.stdout.starts_with(&format!("::add-mask::{token}\n")),
        "{}",
        &out.stdout[..80.min(out.stdout.len())]
    );
    assert_eq!(
        out.stdout.matches(token).count(),
        1,
        "only in the mask command"
    );
    assert!(
        !out.stderr.contains(token),
        "the token leaked into the logs"
    );
    // The run did its usual work: one issue, its labels, no re-run.
    fake.expect_issue(1, |i| i.state == "open" && i.title.contains("compilation"));
    fake.expect_labels_created(&["auto-heal", "workflow-failure", "ci-medic:compilation"]);
    fake.expect_no_reruns();
    fake.assert_clean();
}

/// A restart's result wakes autorevert in its own workflow only: a
/// completed `workflow_dispatch` run of a watched workflow on the restart
/// tag of its own commit. Push runs, runs on other tags and branches, and
/// the same event in a workflow without `command: autorevert` do not.
#[test]
fn a_restarts_result_wakes_autorevert_in_its_own_workflow_only() {
    let path = examples("workflow_run")[1].clone();
    let base: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json");
    let sha = base["workflow_run"]["head_sha"]
        .as_str()
        .expect("head_sha")
        .to_string();
    let with = |event: &str, branch: &str, action: &str| {
        let mut v = base.clone();
        v["action"] = action.into();
        v["workflow_run"]["event"] = event.into();
        v["workflow_run"]["head_branch"] = branch.into();
        event::parse("workflow_run", "x.json", v.to_string().as_bytes()).expect("parse")
    };
    let restart = with("workflow_dispatch", &format!("trunk/{sha}"), "completed");
    let trunk = base["repository"]["default_branch"]
        .as_str()
        .unwrap_or("main")
        .to_string();
    let push = with("push", &trunk, "completed");
    let other_commit = with(
        "workflow_dispatch",
        &format!("trunk/{}", "0".repeat(40)),
        "completed",
    );
    let other_tag = with("workflow_dispatch", "v1.0", "completed");
    let running = with("workflow_dispatch", &format!("trunk/{sha}"), "requested");

    let mut config = Config::default();
    let own = Some("autorevert");
    assert!(
        matches!(route(&restart, own, &config), Route::Nothing(ref why) if why.contains("not enabled")),
        "disabled by default"
    );
    config.autorevert.enabled = true;
    assert_eq!(route(&restart, own, &config), Route::Autorevert);
    assert!(ci_medic::handlers::is_restart_result(&restart, &config));
    for (what, e) in [
        ("a push run", &push),
        ("a restart tag of another commit", &other_commit),
        ("another tag", &other_tag),
        ("a run not completed", &running),
    ] {
        assert!(
            matches!(route(e, own, &config), Route::Nothing(ref why) if why.contains("the schedule reads it")),
            "{what}: {:?}",
            route(e, own, &config)
        );
    }
    // Without `command: autorevert` (the failure monitor) the run is routed
    // as any other completed run, never to autorevert.
    assert_ne!(route(&restart, None, &config), Route::Autorevert);
    assert_ne!(route(&push, None, &config), Route::Autorevert);
    config.autorevert.workflows = vec!["inductor".into()];
    assert!(
        !ci_medic::handlers::is_restart_result(&restart, &config),
        "not a watched workflow"
    );
    assert_ne!(route(&restart, own, &config), Route::Autorevert);
}

/// One handler's failure is reported and does not stop the others: on a
/// failed trunk run, recording the event cannot reach ClickHouse (nothing
/// listens where the config says it is), yet the failure issue is filed; the run exits 1 and the
/// summary names the handler that failed.
#[tokio::test]
async fn a_failing_handler_does_not_stop_the_others() {
    let fake = FakeGithub::start().await;
    fake.commit_files(
        DEFAULT_BRANCH,
        &[(
            ".github/ci-medic.yml",
            "retry:\n  enabled: false\nclickhouse:\n  url: http://127.0.0.1:9\n  record-events: true\n",
        )],
        "Record events in ClickHouse",
    );
    let run = fake.add_run(
        RunBuilder::new("CI")
            .path(CI_WORKFLOW_PATH)
            .job(JobBuilder::failed("test").log("error: boom\n")),
    );
    let mut payload = workflow_run_payload(
        run.id,
        "CI",
        CI_WORKFLOW_PATH,
        "failure",
        DEFAULT_BRANCH,
        &fake.head_sha(DEFAULT_BRANCH),
    );
    payload["repository"]["default_branch"] = DEFAULT_BRANCH.into();
    let out = Runner::new(&fake).run_event("workflow_run", &payload).await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(
        fake.issues().len(),
        1,
        "the failure issue is still filed: {}",
        out.stderr
    );
    fake.expect_labels_created(&["auto-heal", "ci-medic:compilation", "workflow-failure"]);
    assert!(
        out.summary.contains("## ci-medic: handlers that failed"),
        "{}",
        out.summary
    );
    assert!(out.summary.contains("ingest"), "{}", out.summary);
    assert!(out.stderr.contains("127.0.0.1:9"), "{}", out.stderr);
    fake.assert_clean();
}
