//! autorevert end to end: the real binary against the stateful fake GitHub
//! (every request checked against GitHub's OpenAPI description), and the
//! offline contract on the snapshots in `fixtures/autorevert/`.

use chrono::{Duration, Utc};
use serde_json::Value;

use crate::analyze_flow::missing_module_log;
use crate::support::action::{ActionRun, Runner, workflow_run_payload};
use crate::support::fake_github::{
    DEFAULT_BRANCH, FakeGithub, IssueBuilder, JobBuilder, PullBuilder, RunBuilder,
};
use crate::support::snap;

pub const TRUNK_PATH: &str = ".github/workflows/trunk.yml";
const TRUNK_YML: &str = "\
name: trunk
on:
  push:
    branches: [main]
  workflow_dispatch:
jobs:
  test:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        shard: [1, 2]
    steps:
      - run: pytest
";
const SHARD1: &str = "linux / test (default, 1, 2)";
const SHARD2: &str = "linux / test (default, 2, 2)";
const LIB_BEFORE: &str = "pub fn answer() -> u32 {\n    42\n}\n";
const LIB_AFTER: &str = "pub fn answer() -> u32 {\n    41\n}\n";
const README_AFTER: &str = "# octo-repo\n\nMore words.\n";
const TITLE: &str = "Tweak the answer (#12)";

/// A trunk where `suspect` broke `linux / test` and the next commit kept
/// failing: `c1`, `c2` pass; `suspect` changes `src/lib.rs` and adds
/// `src/extra.rs`; `c4` changes the README.
pub struct Trunk {
    pub fake: FakeGithub,
    pub commits: Vec<String>,
    pub suspect: String,
    pub c4: String,
    pub pull: u64,
}

pub fn config(mode: &str, extra: &str) -> String {
    format!(
        "retry:\n  enabled: false\nanalyze:\n  enabled: false\nautorevert:\n  enabled: true\n  workflows: [trunk]\n  mode: {mode}\n{extra}"
    )
}

pub struct Setup<'a> {
    pub mode: &'a str,
    pub pull_labels: &'a [&'a str],
    pub c4_touches_lib: bool,
}

impl Default for Setup<'_> {
    fn default() -> Self {
        Setup {
            mode: "revert",
            pull_labels: &[],
            c4_touches_lib: false,
        }
    }
}

pub async fn trunk(setup: Setup<'_>) -> Trunk {
    let fake = FakeGithub::start().await;
    // Data "now": the binary reads the last 48 hours of real time.
    fake.with_world(|w| w.env.clock = Utc::now() - Duration::minutes(30));
    let cfg = config(setup.mode, "");
    fake.commit_files(
        DEFAULT_BRANCH,
        &[
            (TRUNK_PATH, TRUNK_YML),
            (".github/ci-medic.yml", cfg.as_str()),
            ("src/lib.rs", LIB_BEFORE),
        ],
        "Set up trunk CI (#9)",
    );
    fake.add_workflow("trunk", TRUNK_PATH);
    let c1 = fake.commit_files(DEFAULT_BRANCH, &[("docs/a.md", "a\n")], "Document a (#10)");
    let c2 = fake.commit_files(DEFAULT_BRANCH, &[("docs/b.md", "b\n")], "Document b (#11)");
    let suspect = fake.commit_files(
        DEFAULT_BRANCH,
        &[
            ("src/lib.rs", LIB_AFTER),
            ("src/extra.rs", "pub fn extra() {}\n"),
        ],
        TITLE,
    );
    fake.set_branch("tweak-answer", &suspect);
    let mut pull = PullBuilder::new("tweak-answer", "Tweak the answer").merged();
    for l in setup.pull_labels {
        pull = pull.label(l);
    }
    let pull = fake.add_pull(pull);
    let mut c4_files = vec![("README.md", README_AFTER)];
    if setup.c4_touches_lib {
        c4_files.push(("src/lib.rs", "pub fn answer() -> u32 {\n    40\n}\n"));
    }
    let c4 = fake.commit_files(DEFAULT_BRANCH, &c4_files, "Expand the README (#13)");
    for (i, sha) in [&c1, &c2, &suspect, &c4].into_iter().enumerate() {
        let shard1 = if i >= 2 {
            JobBuilder::failed(SHARD1).log(missing_module_log(i as u32, &format!("tmp{i}x")))
        } else {
            JobBuilder::new(SHARD1)
        };
        fake.add_run(
            RunBuilder::new("trunk")
                .path(TRUNK_PATH)
                .head_sha(sha)
                .head_branch(DEFAULT_BRANCH)
                .job(shard1)
                .job(JobBuilder::new(SHARD2)),
        );
    }
    Trunk {
        fake,
        commits: vec![c1, c2, suspect.clone(), c4.clone()],
        suspect,
        c4,
        pull,
    }
}

/// The suspect's restart failed again the same way.
pub fn confirm(t: &Trunk) -> u64 {
    t.fake
        .add_run(
            RunBuilder::new("trunk")
                .path(TRUNK_PATH)
                .event("workflow_dispatch")
                .head_sha(&t.suspect)
                .head_branch(&format!("trunk/{}", t.suspect))
                .job(JobBuilder::failed(SHARD1).log(missing_module_log(30, "tmp30x")))
                .job(JobBuilder::new(SHARD2)),
        )
        .id
}

/// The JSON the binary printed (stdout also carries `::add-mask::`).
pub fn json_of(out: &ActionRun) -> Value {
    let start = out
        .stdout
        .find("\n{")
        .map(|i| i + 1)
        .or_else(|| out.stdout.starts_with('{').then_some(0))
        .unwrap_or_else(|| {
            panic!(
                "no JSON on stdout:\n{}\nstderr:\n{}",
                out.stdout, out.stderr
            )
        });
    serde_json::from_str(&out.stdout[start..])
        .unwrap_or_else(|e| panic!("{e}: {}\nstderr: {}", out.stdout, out.stderr))
}

async fn autorevert(runner: &Runner, args: &[&str]) -> (ActionRun, Value) {
    let mut all = vec!["autorevert", "--format", "json"];
    all.extend_from_slice(args);
    let out = runner.exec(&all, None).await;
    assert_eq!(
        out.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    let json = json_of(&out);
    (out, json)
}

fn revert_branch(sha: &str) -> String {
    format!("ci-medic/autorevert/{}", &sha[..12])
}

#[tokio::test]
async fn autorevert_restart_is_dispatched_on_the_trunk_tag_once() {
    let t = trunk(Setup {
        mode: "restart",
        ..Setup::default()
    })
    .await;
    let runner = Runner::new(&t.fake);
    let (out, json) = autorevert(&runner, &[]).await;
    let p = &json["patterns"][0];
    assert_eq!(p["suspect"], t.suspect.as_str());
    assert_eq!(p["newer_failures"], serde_json::json!([t.c4]));
    assert_eq!(p["verdict"], "restart");
    assert_eq!(p["signals"][0]["job"], "linux / test (default)");
    assert_eq!(
        json["restarts"],
        serde_json::json!([{"workflow": "trunk", "sha": t.suspect}])
    );
    let tag = format!("refs/tags/trunk/{}", t.suspect);
    assert_eq!(t.fake.refs().get(&tag), Some(&t.suspect));
    let dispatches = t.fake.dispatches();
    assert_eq!(dispatches.len(), 1);
    assert_eq!(dispatches[0].workflow, "trunk.yml");
    assert_eq!(dispatches[0].git_ref, format!("trunk/{}", t.suspect));
    assert_eq!(
        out.outputs.get("autorevert-restarts").map(String::as_str),
        Some("1")
    );
    assert!(out.summary.contains("**← suspect**"), "{}", out.summary);

    // Again: the restart is queued, so nothing new is dispatched.
    let (_, json) = autorevert(&runner, &[]).await;
    assert_eq!(json["patterns"][0]["verdict"], "restart");
    assert!(
        json["patterns"][0]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("waiting")
    );
    assert_eq!(json["restarts"], serde_json::json!([]));
    assert_eq!(t.fake.dispatches().len(), 1);

    // The restart ran and failed the same way: confirmed. Mode `restart`
    // never reverts, and nothing more is restarted.
    let run = dispatches[0].run_id.expect("the dispatch made a run");
    t.fake.update_run(run, |r, _| {
        r.status = "completed".into();
        r.conclusion = Some("failure".into());
    });
    confirm(&t);
    let (_, json) = autorevert(&runner, &[]).await;
    assert_eq!(json["patterns"][0]["verdict"], "revert");
    assert_eq!(t.fake.dispatches().len(), 1);
    assert!(t.fake.pulls().iter().all(|p| p.number == t.pull));
    t.fake.assert_clean();
}

#[tokio::test]
async fn autorevert_opens_a_revert_pull_request_with_the_reverting_tree() {
    let t = trunk(Setup::default()).await;
    confirm(&t);
    let runner = Runner::new(&t.fake);
    let (out, json) = autorevert(&runner, &[]).await;
    assert_eq!(json["patterns"][0]["verdict"], "revert", "{json}");
    assert_eq!(
        out.outputs.get("autorevert-reverts").map(String::as_str),
        Some("1")
    );

    let branch = revert_branch(&t.suspect);
    let pulls = t.fake.pulls();
    let revert = pulls
        .iter()
        .find(|p| p.head_ref == branch)
        .unwrap_or_else(|| panic!("no revert pull request: {pulls:#?}"));
    assert_eq!(revert.base_ref, DEFAULT_BRANCH);
    assert_eq!(revert.title, format!("Revert \"{TITLE}\""));
    assert!(revert.labels.iter().any(|l| l == "autorevert"));
    let body = revert.body.clone().unwrap_or_default();
    assert!(body.contains(&format!("<!-- ci-medic:autorevert:{} -->", t.suspect)));
    assert!(body.contains(&format!("This reverts commit {}", t.suspect)));
    assert!(body.contains("| commit |"), "{body}");
    // The trunk is built on the real clock: its commits differ every run.
    snap::with_shas_and_times(&t.commits)
        .bind(|| insta::assert_snapshot!("revert_pull_request_body", body));

    // The tree: trunk's head with the suspect's files as its parent had them.
    assert_eq!(
        t.fake.file(&branch, "src/lib.rs").as_deref(),
        Some(LIB_BEFORE)
    );
    assert_eq!(t.fake.file(&branch, "src/extra.rs"), None);
    assert_eq!(
        t.fake.file(&branch, "README.md").as_deref(),
        Some(README_AFTER)
    );
    let tip = t.fake.branch(&branch).expect("revert branch");
    let commit = t.fake.commit(&tip).expect("revert commit");
    assert_eq!(commit.parents, vec![t.c4.clone()]);
    assert!(commit.message.starts_with(&format!(
        "Revert \"{TITLE}\"\n\nThis reverts commit {}.",
        t.suspect
    )));

    // The original pull request hears about it, once.
    let comments = t.fake.comments(t.pull);
    assert_eq!(comments.len(), 1);
    assert!(
        comments[0]
            .body
            .contains("ci-medic is reverting this commit"),
        "{}",
        comments[0].body
    );
    snap::with_shas_and_times(&t.commits)
        .bind(|| insta::assert_snapshot!("reverting_comment", comments[0].body));

    // Again: nothing new.
    let (_, json) = autorevert(&runner, &[]).await;
    assert_eq!(json["patterns"][0]["verdict"], "revert");
    assert_eq!(t.fake.pulls().len(), pulls.len());
    assert_eq!(t.fake.branch(&branch), Some(tip));
    assert_eq!(t.fake.comments(t.pull).len(), 1);
    assert!(t.fake.dispatches().is_empty());
    assert!(t.fake.labels().iter().any(|l| l.name == "autorevert"));
    t.fake.assert_clean();
}

#[tokio::test]
async fn autorevert_kill_switch_by_a_writer_stops_every_action() {
    let t = trunk(Setup::default()).await;
    confirm(&t);
    let issue = t.fake.add_issue(
        IssueBuilder::new("Stop autorevert during the release").label("ci: disable-autorevert"),
    );
    let runner = Runner::new(&t.fake);
    let (out, json) = autorevert(&runner, &[]).await;
    // The decision is still made and recorded...
    assert_eq!(json["patterns"][0]["verdict"], "revert");
    assert!(out.summary.contains("kill switch"), "{}", out.summary);
    assert!(
        out.summary.contains(&format!("issue #\u{200b}{issue}")),
        "{}",
        out.summary
    );
    // ...but nothing is written.
    assert!(t.fake.pulls().iter().all(|p| p.number == t.pull));
    assert!(t.fake.comments(t.pull).is_empty());
    assert!(
        t.fake
            .refs()
            .keys()
            .all(|r| !r.contains("autorevert") && !r.contains("trunk/"))
    );
    assert!(t.fake.dispatches().is_empty());
    t.fake.assert_clean();
}

#[tokio::test]
async fn autorevert_kill_switch_by_a_reader_is_ignored() {
    let t = trunk(Setup::default()).await;
    confirm(&t);
    t.fake.set_permission("passer-by", "read");
    t.fake.add_issue(
        IssueBuilder::new("please stop")
            .label("ci: disable-autorevert")
            .user("passer-by"),
    );
    let runner = Runner::new(&t.fake);
    let (_, json) = autorevert(&runner, &[]).await;
    assert_eq!(json["patterns"][0]["verdict"], "revert");
    let branch = revert_branch(&t.suspect);
    assert!(t.fake.pulls().iter().any(|p| p.head_ref == branch));
    assert!(t.fake.branch(&branch).is_some());
    assert_eq!(t.fake.comments(t.pull).len(), 1);
    assert!(t.fake.labels().iter().any(|l| l.name == "autorevert"));
    t.fake.assert_clean();
}

/// A confirmed suspect in mode `revert` that `setup` keeps from being
/// reverted: the decision is `notify`, for a reason that names `why`, and no
/// revert branch is pushed.
async fn notified_instead_of_reverted(setup: Setup<'_>, why: &str) -> Trunk {
    let t = trunk(setup).await;
    confirm(&t);
    let runner = Runner::new(&t.fake);
    let (_, json) = autorevert(&runner, &[]).await;
    let p = &json["patterns"][0];
    assert_eq!(p["verdict"], "notify", "{p}");
    assert!(
        p["reason"].as_str().unwrap_or_default().contains(why),
        "{p}"
    );
    assert!(t.fake.branch(&revert_branch(&t.suspect)).is_none());
    t
}

#[tokio::test]
async fn autorevert_never_reverts_a_pull_request_labelled_autorevert_disable() {
    let t = notified_instead_of_reverted(
        Setup {
            pull_labels: &["autorevert: disable"],
            ..Setup::default()
        },
        "autorevert: disable",
    )
    .await;
    assert!(t.fake.pulls().iter().all(|p| p.number == t.pull));
    let comments = t.fake.comments(t.pull);
    assert_eq!(comments.len(), 1);
    assert!(
        comments[0].body.contains("a restart confirmed it"),
        "{}",
        comments[0].body
    );
    t.fake.assert_clean();
}

#[tokio::test]
async fn autorevert_notifies_when_the_files_changed_since() {
    let t = notified_instead_of_reverted(
        Setup {
            c4_touches_lib: true,
            ..Setup::default()
        },
        "src/lib.rs",
    )
    .await;
    assert_eq!(t.fake.comments(t.pull).len(), 1);
    t.fake.assert_clean();
}

#[tokio::test]
async fn autorevert_caches_fingerprints_and_replays_its_dump() {
    let t = trunk(Setup {
        mode: "log",
        ..Setup::default()
    })
    .await;
    let runner = Runner::new(&t.fake);
    let dump = runner.path("snapshot.json");
    let dump_arg = dump.display().to_string();
    let (_, online) = autorevert(&runner, &["--dump", &dump_arg]).await;
    let logs = || t.fake.requests_to("GET", r"/actions/jobs/\d+/logs$").len();
    assert_eq!(logs(), 2, "one log per failed job");
    assert_eq!(online["patterns"][0]["suspect"], t.suspect.as_str());
    // Mode `log` writes nothing.
    assert!(t.fake.dispatches().is_empty());

    // A second run reads the fingerprints from the cache.
    let (_, again) = autorevert(&runner, &[]).await;
    assert_eq!(logs(), 2);
    assert_eq!(again["patterns"], online["patterns"]);

    // The dump replays offline to the same decision.
    let source = format!("file:{dump_arg}");
    let (_, offline) = autorevert(&runner, &["--source", &source]).await;
    assert_eq!(offline, online);
    t.fake.assert_clean();
}

#[tokio::test]
async fn autorevert_runs_from_a_schedule_event() {
    let t = trunk(Setup {
        mode: "restart",
        ..Setup::default()
    })
    .await;
    let payload: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/webhooks/schedule/00-event.json"
        ))
        .expect("fixture"),
    )
    .expect("json");
    let runner = Runner::new(&t.fake);
    let out = runner.run_event("schedule", &payload).await;
    assert_eq!(
        out.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    let dispatches = t.fake.dispatches();
    assert_eq!(dispatches.len(), 1);
    assert_eq!(dispatches[0].git_ref, format!("trunk/{}", t.suspect));
    let tag = format!("refs/tags/trunk/{}", t.suspect);
    assert_eq!(t.fake.refs().get(&tag), Some(&t.suspect));
    let again = runner.run_event("schedule", &payload).await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(t.fake.dispatches().len(), 1);
    t.fake.assert_clean();
}

/// In autorevert's own workflow (`command: autorevert`) a restart's
/// completed run wakes it at once: the result is decided on without
/// waiting for the schedule, and nothing else runs on the event (no
/// failure issue, no re-run). A push run's completion is left to the
/// schedule: trunk is not read. In the failure monitor (no `command`) the
/// same restart result never runs autorevert.
#[tokio::test]
async fn a_restarts_result_wakes_autorevert_in_its_own_workflow() {
    let t = trunk(Setup {
        mode: "restart",
        ..Setup::default()
    })
    .await;
    let own = Runner::new(&t.fake).env("INPUT_COMMAND", "autorevert");

    let mut push = workflow_run_payload(1, "trunk", TRUNK_PATH, "failure", DEFAULT_BRANCH, &t.c4);
    push["workflow_run"]["event"] = "push".into();
    let before = t.fake.requests().len();
    let out = own.run_event("workflow_run", &push).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let read: Vec<String> = t.fake.requests()[before..]
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(
        read.iter()
            .all(|r| r.starts_with("GET ") && !r.contains("/actions/")),
        "a push run's completion reads only the config: {read:#?}"
    );
    assert!(!out.outputs.contains_key("autorevert-patterns"));
    assert!(t.fake.dispatches().is_empty());

    let restart = confirm(&t);
    let restart_branch = format!("trunk/{}", t.suspect);
    let mut result = workflow_run_payload(
        restart,
        "trunk",
        TRUNK_PATH,
        "failure",
        &restart_branch,
        &t.suspect,
    );
    result["workflow_run"]["event"] = "workflow_dispatch".into();
    let out = own.run_event("workflow_run", &result).await;
    assert_eq!(
        out.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    assert!(
        out.outputs.contains_key("autorevert-patterns"),
        "{:?}",
        out.outputs
    );
    assert!(out.summary.contains("**← suspect**"), "{}", out.summary);
    let decisions: Value =
        serde_json::from_str(out.outputs.get("autorevert").map_or("null", String::as_str))
            .expect("decisions JSON");
    assert_eq!(decisions["patterns"][0]["suspect"], t.suspect.as_str());
    assert_eq!(decisions["patterns"][0]["verdict"], "revert", "{decisions}");
    assert!(
        t.fake.issues().is_empty(),
        "no failure issue from autorevert's workflow"
    );
    t.fake.expect_no_reruns();

    let monitor = Runner::new(&t.fake);
    let out = monitor.run_event("workflow_run", &result).await;
    assert!(
        !out.outputs.contains_key("autorevert-patterns"),
        "the failure monitor does not run autorevert: {:?}",
        out.outputs
    );
    t.fake.assert_clean();
}

/// The example workflow wakes autorevert on its restarts' results only
/// (the event and tag it dispatches them with), with `command: autorevert`
/// so that nothing else acts on them, in the group that keeps two
/// decisions from running at once.
#[test]
fn the_example_workflow_wakes_on_restarts_results_only() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/.github/workflows/examples/autorevert.yml"
    ))
    .expect("example workflow");
    let wf: serde_yaml::Value = serde_yaml::from_str(&text).expect("yaml");
    assert_eq!(
        wf["on"]["workflow_run"]["types"],
        serde_yaml::Value::from(vec!["completed"])
    );
    let job = &wf["jobs"]["autorevert"];
    let condition = job["if"].as_str().expect("the job's `if`");
    for part in [
        "github.event_name != 'workflow_run'".to_string(),
        format!(
            "github.event.workflow_run.event == '{}'",
            ci_medic::autorevert::RESTART_EVENT
        ),
        format!(
            "startsWith(github.event.workflow_run.head_branch, '{}')",
            ci_medic::autorevert::RESTART_PREFIX
        ),
    ] {
        assert!(condition.contains(&part), "{part} not in {condition}");
    }
    assert_eq!(
        job["steps"][0]["with"]["command"].as_str(),
        Some("autorevert")
    );
    assert_eq!(
        wf["concurrency"]["group"].as_str(),
        Some("ci-medic-autorevert")
    );
    assert_eq!(
        wf["concurrency"]["cancel-in-progress"].as_bool(),
        Some(false)
    );
}

/// The stable offline contract, one fixture per rule, no token needed.
#[tokio::test]
async fn autorevert_file_snapshots_give_the_expected_json() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/autorevert");
    let mut checked = 0;
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && !p.to_string_lossy().ends_with(".expected.json")
        })
        .collect();
    names.sort();
    for snapshot in names {
        let expected_path = snapshot.with_extension("expected.json");
        let expected: Value = serde_json::from_str(
            &std::fs::read_to_string(&expected_path).expect("expected output"),
        )
        .expect("expected JSON");
        let tmp = tempfile::tempdir().expect("dir");
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_ci-medic"))
            .args([
                "autorevert",
                "--source",
                &format!("file:{}", snapshot.display()),
                "--format",
                "json",
            ])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .current_dir(tmp.path())
            .output()
            .await
            .expect("runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
        assert_eq!(got, expected, "{}", snapshot.display());
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} snapshots");
}
