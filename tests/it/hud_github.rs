//! `hud build --source github` against the fake GitHub: the failure issue
//! `analyze` filed, the window's runs and jobs, and the trunk grid.

use ci_medic::hud::model::HudSnapshot;

use crate::analyze_flow::gha_log;
use crate::support::action::{Runner, workflow_run_payload};
use crate::support::fake_github::{
    CI_WORKFLOW_PATH, DEFAULT_BRANCH, FakeGithub, JobBuilder, RunBuilder,
};

const SHA: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";

fn compile_log() -> String {
    gha_log(
        1,
        "cargo build",
        &[
            "error[E0425]: cannot find value `conifg` in this scope",
            "  --> src/main.rs:4:13",
            "error: could not compile `octo` (bin \"octo\") due to 1 previous error",
        ],
    )
}

#[tokio::test]
async fn hud_github_source_reads_the_issue_the_runs_and_the_trunk() {
    let fake = FakeGithub::start().await;
    let run = fake.add_run(
        RunBuilder::new("CI")
            .path(CI_WORKFLOW_PATH)
            .head_sha(SHA)
            .job(JobBuilder::new("lint"))
            .job(JobBuilder::failed("build <script>x</script>").log(compile_log())),
    );
    let payload = workflow_run_payload(
        run.id,
        "CI",
        CI_WORKFLOW_PATH,
        "failure",
        DEFAULT_BRANCH,
        SHA,
    );
    let filed = Runner::new(&fake).run_event("workflow_run", &payload).await;
    assert_eq!(filed.code, 0, "{}", filed.stderr);
    assert_eq!(fake.issues().len(), 1, "analyze filed the issue");
    fake.expect_labels_created(&["auto-heal", "workflow-failure", "ci-medic:compilation"]);
    let before = fake.requests().len();

    let runner = Runner::new(&fake).env("GITHUB_ACTIONS", "");
    let out = runner.path("site");
    let dump = runner.path("snap.json");
    let built = runner
        .exec(
            &[
                "hud",
                "build",
                "--source",
                "github",
                "--since",
                "7",
                "--as-of",
                "2024-05-01T13:00:00Z",
                "--out",
                &out.display().to_string(),
                "--dump",
                &dump.display().to_string(),
            ],
            None,
        )
        .await;
    assert_eq!(built.code, 0, "{}{}", built.stdout, built.stderr);
    assert!(
        built.stdout.contains("API calls of a budget of 400"),
        "{}",
        built.stdout
    );
    let writes: Vec<String> = fake.requests()[before..]
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(writes.is_empty(), "hud build only reads: {writes:?}");

    let snap = HudSnapshot::load(&dump).unwrap();
    assert_eq!(snap.since_days, 7);
    assert_eq!(snap.issues.len(), 1, "{:?}", snap.issues);
    assert_eq!(snap.issues[0].category, "compilation");
    assert_eq!(snap.issues[0].workflow.as_deref(), Some("CI"));
    assert_eq!(snap.fingerprints.len(), 1);
    assert_eq!(snap.fingerprints[0].issue, Some(snap.issues[0].number));
    let jobs: u64 = snap.daily.iter().map(|d| d.jobs).sum();
    let failed: u64 = snap.daily.iter().map(|d| d.failed).sum();
    assert_eq!((jobs, failed), (2, 1), "{:?}", snap.daily);
    assert!(snap.downstream.is_none(), "the API has no downstream data");

    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(index.contains(&format!("#{}</a>", snap.issues[0].number)));
    assert!(!index.contains("<script>x"), "a job name is text");
    let downstream = std::fs::read_to_string(out.join("downstream/index.html")).unwrap();
    assert!(downstream.contains("No downstream data."));
    fake.assert_clean();
}
