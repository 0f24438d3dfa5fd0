//! Behaviour tests on real log excerpts (see fixtures/logs/PROVENANCE.md)
//! and synthetic logs for categories the corpus lacks.

use std::collections::BTreeMap;
use std::io::{Cursor, Write};

use super::*;

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("../../fixtures/logs/", $name)).as_slice()
    };
}

fn analyze(name: &str, bytes: &[u8]) -> Vec<Failure> {
    analyze_job_log(name, None, None, bytes, &RuleSet::builtin()).unwrap()
}

/// 1-based number of the first line containing `needle`.
fn line_of(bytes: &[u8], needle: &str) -> u64 {
    let text = String::from_utf8_lossy(bytes);
    text.split('\n')
        .position(|l| l.contains(needle))
        .map(|i| i as u64 + 1)
        .unwrap()
}

/// A GitHub job log with one step, `Run <command>`, that prints `output`
/// (line 3 on) and fails.
fn one_step_log(command: &str, output: &[&str]) -> String {
    let mut log = format!(
        "2024-01-01T00:00:01.0Z ##[group]Run {command}\n2024-01-01T00:00:01.0Z ##[endgroup]\n"
    );
    for line in output {
        log.push_str(&format!("2024-01-01T00:00:02.0Z {line}\n"));
    }
    log.push_str("2024-01-01T00:00:03.0Z ##[error]Process completed with exit code 1.\n");
    log
}

#[track_caller]
fn expect_first(name: &str, bytes: &[u8], category: Category, rule: &str) -> Failure {
    assert_first(name, &analyze(name, bytes), category, rule)
}

/// The first failure, checked to have this category and rule.
#[track_caller]
fn assert_first(name: &str, failures: &[Failure], category: Category, rule: &str) -> Failure {
    let first = failures
        .first()
        .unwrap_or_else(|| panic!("{name}: nothing reported"));
    assert_eq!(
        (first.category, first.rule.as_str()),
        (category, rule),
        "{name}: first failure {first:#?}\nall: {:#?}",
        failures
            .iter()
            .map(|f| (&f.rule, &f.text))
            .collect::<Vec<_>>()
    );
    first.clone()
}

#[test]
fn real_excerpts_are_classified() {
    let f = expect_first(
        "tsc",
        fixture!("gha_tsc_compilation.txt"),
        Category::Compilation,
        "tsc-error",
    );
    assert_eq!(
        f.line,
        line_of(fixture!("gha_tsc_compilation.txt"), "error TS2322")
    );
    assert_eq!(f.step.as_deref(), Some("Run npm run build"));
    assert_eq!(f.captures["code"], "TS2322");
    assert!(
        f.text.starts_with("src/node/settings.ts(20,38)"),
        "{}",
        f.text
    );
    // The continuation line belongs to the block.
    assert_eq!(f.end_line, f.line + 1);

    let f = expect_first(
        "ruff",
        fixture!("gha_ruff_lint.txt"),
        Category::Lint,
        "py-lint-location",
    );
    assert_eq!(f.step.as_deref(), Some("Run source .venv/bin/activate"));
    expect_first(
        "certbot",
        fixture!("gha_input_required.txt"),
        Category::Configuration,
        "gha-input-required",
    );
    let f = expect_first(
        "jan",
        fixture!("gha_missing_command_windows.txt"),
        Category::MissingCommand,
        "win-not-recognized",
    );
    assert_eq!(f.captures["command"], "download.bat");
    assert!(f.fixable);
    let f = expect_first(
        "pytest",
        fixture!("gha_pytest_failed.txt"),
        Category::Test,
        "pytest-failed",
    );
    assert!(f.captures["test"].contains("embeddings-and-linear-layers.ipynb"));
    for (name, bytes, category, rule) in [
        (
            "eslint",
            fixture!("gha_eslint.txt"),
            Category::Lint,
            "eslint-error",
        ),
        (
            "surefire",
            fixture!("bump_surefire_test.txt"),
            Category::Test,
            "surefire-test-method",
        ),
        (
            "javac",
            fixture!("bump_javac_codeql.txt"),
            Category::Compilation,
            "maven-javac-error",
        ),
        (
            "hpi",
            fixture!("bump_hpi_dependency.txt"),
            Category::Dependency,
            "maven-hpi-dependency",
        ),
        (
            "cancel",
            fixture!("bump_cancelled.txt"),
            Category::Cancelled,
            "gha-cancelled",
        ),
    ] {
        expect_first(name, bytes, category, rule);
    }
}

#[test]
fn travis_logs() {
    let f = expect_first(
        "bulma",
        fixture!("travis_missing_file.log"),
        Category::MissingFile,
        "sh-no-such-file",
    );
    assert_eq!(f.captures["file"], "test/sass-compile-tester.sh");
    assert_eq!(f.step.as_deref(), Some("test/sass-compile-tester.sh"));
    let f = expect_first(
        "go",
        fixture!("travis_go_test.log"),
        Category::Test,
        "go-test-fail",
    );
    assert_eq!(f.captures["test"], "TestSeparator");
    for (name, bytes, category, rule) in [
        (
            "redox",
            fixture!("travis_rust_compile.log"),
            Category::Compilation,
            "rustc-error",
        ),
        (
            "elpa",
            fixture!("travis_network_elpa.log"),
            Category::Network,
            "net-unreachable",
        ),
    ] {
        expect_first(name, bytes, category, rule);
    }
}

#[test]
fn synthetic_categories() {
    let f = expect_first(
        "timeout",
        fixture!("synthetic_job_timeout.txt"),
        Category::Timeout,
        "gha-job-timeout",
    );
    assert_eq!(f.captures["minutes"], "60");
    let f = expect_first(
        "module",
        fixture!("synthetic_module_not_found.txt"),
        Category::Dependency,
        "py-module-not-found",
    );
    assert_eq!(f.captures["package"], "yaml");
    assert!(f.fixable);
    for (name, bytes, category, rule) in [
        (
            "oom",
            fixture!("synthetic_oom_killed.txt"),
            Category::Resource,
            "res-killed",
        ),
        (
            "disk",
            fixture!("synthetic_disk_full.txt"),
            Category::Resource,
            "res-no-space",
        ),
        (
            "lost",
            fixture!("synthetic_runner_lost.txt"),
            Category::Infrastructure,
            "gha-runner-shutdown",
        ),
        (
            "rate",
            fixture!("synthetic_rate_limit.txt"),
            Category::RateLimit,
            "gha-api-rate-limit",
        ),
        (
            "perm",
            fixture!("synthetic_permission.txt"),
            Category::Permission,
            "gha-push-denied",
        ),
        (
            "npm",
            fixture!("synthetic_network_npm.txt"),
            Category::Network,
            "net-reset",
        ),
        (
            "workflow",
            fixture!("synthetic_invalid_workflow.txt"),
            Category::WorkflowSyntax,
            "gha-invalid-workflow",
        ),
    ] {
        expect_first(name, bytes, category, rule);
    }
}

#[test]
fn env_dumps_and_timeout_minutes_are_not_reported() {
    let failures = analyze("env", fixture!("synthetic_env_dump_false_positive.txt"));
    let f = assert_first("env", &failures, Category::Test, "cargo-test-failed");
    assert_eq!(f.captures["test"], "parser::tests::rejects_bad_header");
    for f in &failures {
        assert!(
            !f.text.contains("timeout-minutes")
                && !f.text.contains("ETIMEDOUT")
                && !f.text.contains("FAIL_ON_ERROR"),
            "reported boilerplate: {f:?}"
        );
        assert_ne!(f.category, Category::Timeout);
        assert_ne!(f.category, Category::Network);
    }
}

#[test]
fn passing_log_reports_nothing() {
    let failures = analyze("pass", fixture!("gha_ruff_lint_passing.txt"));
    assert!(failures.is_empty(), "{failures:#?}");
    let a = Analysis::from_failures(failures);
    assert_eq!(a.category, Category::Unknown);
    assert!(a.to_text().contains("No line"));
}

#[test]
fn fingerprints_stable_across_runs_and_distinct_across_failures() {
    let fp = |bytes: &[u8]| analyze("x", bytes)[0].fingerprint.clone();
    let ruff1 = fp(fixture!("gha_ruff_lint.txt"));
    let ruff2 = fp(fixture!("gha_ruff_lint_rerun.txt"));
    assert_eq!(ruff1, ruff2, "same ruff failure, other run");
    let cert1 = fp(fixture!("gha_input_required.txt"));
    let cert2 = fp(fixture!("gha_input_required_rerun.txt"));
    assert_eq!(cert1, cert2, "same missing input, other run");
    let tsc = fp(fixture!("gha_tsc_compilation.txt"));
    assert_ne!(ruff1, cert1);
    assert_ne!(ruff1, tsc);
    assert_ne!(cert1, tsc);
    assert_eq!(ruff1.len(), 16);
    // Temp paths, durations and timestamps do not change a fingerprint.
    let log = |tmp: &str, secs: &str| {
        format!(
            "2024-01-01T00:00:0{secs}.0000000Z ##[group]Run ./t.sh\n2024-01-01T00:00:01.0000000Z ##[endgroup]\n\
             2024-01-01T00:00:02.0000000Z Error: unable to open {tmp}/cache.db after {secs}.5s\n\
             2024-01-01T00:00:03.0000000Z ##[error]Process completed with exit code 1.\n"
        )
    };
    let a = analyze("a", log("/home/runner/work/_temp/3f1a", "4").as_bytes());
    let b = analyze("b", log("/home/runner/work/_temp/99c0e1", "7").as_bytes());
    assert_eq!(a[0].fingerprint, b[0].fingerprint);
    let c = analyze(
        "c",
        log("/home/runner/work/_temp/3f1a", "4")
            .replace("unable to open", "cannot lock")
            .as_bytes(),
    );
    assert_ne!(a[0].fingerprint, c[0].fingerprint);
}

/// A zip archive of these entries (a name ending in `/` is a folder).
fn build_zip<N: AsRef<str>, D: AsRef<[u8]>>(files: &[(N, D)]) -> Vec<u8> {
    let mut buf = Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in files {
            let name = name.as_ref();
            if let Some(dir) = name.strip_suffix('/') {
                w.add_directory(dir, opts).unwrap();
            } else {
                w.start_file(name, opts).unwrap();
                w.write_all(data.as_ref()).unwrap();
            }
        }
        w.finish().unwrap();
    }
    buf.into_inner()
}

/// Analyses a run archive of these entries as `run.zip`, without hints.
fn analyze_run_zip<N: AsRef<str>, D: AsRef<[u8]>>(files: &[(N, D)]) -> Vec<Failure> {
    let zip = Cursor::new(build_zip(files));
    analyze_zip(
        "run.zip",
        zip,
        &BTreeMap::new(),
        &RuleSet::builtin(),
        ArchiveLimits::default(),
    )
    .unwrap()
}

/// The step file (as made by [`step_files`]) holding `needle`.
fn step_file_with<'a>(steps: &'a [(String, Vec<u8>)], needle: &str) -> &'a (String, Vec<u8>) {
    steps
        .iter()
        .find(|(_, d)| String::from_utf8_lossy(d).contains(needle))
        .unwrap()
}

/// The step name of a step file: `3_Run tests.txt` -> `Run tests`.
fn step_name(file: &str) -> &str {
    file.split_once('_').unwrap().1.trim_end_matches(".txt")
}

/// Splits a job log into per-step files as GitHub's archive does.
fn step_files(log: &[u8]) -> Vec<(String, Vec<u8>)> {
    let text = String::from_utf8_lossy(log);
    let mut files: Vec<(String, Vec<u8>)> = vec![("1_Set up job.txt".into(), Vec::new())];
    for line in text.split_inclusive('\n') {
        if let Some(i) = line.find("##[group]Run ") {
            let name = line[i + "##[group]".len()..].trim().replace('/', "");
            files.push((format!("{}_{name}.txt", files.len() + 1), Vec::new()));
        } else if line.contains("Post job cleanup.") {
            files.push((format!("{}_Post job.txt", files.len() + 1), Vec::new()));
        }
        if let Some(last) = files.last_mut() {
            last.1.extend_from_slice(line.as_bytes());
        }
    }
    files
}

#[test]
fn zip_with_job_logs_and_step_folders() {
    let tsc = fixture!("gha_tsc_compilation.txt");
    let steps = step_files(tsc);
    let mut files: Vec<(String, Vec<u8>)> = vec![
        ("1_build.txt".into(), tsc.to_vec()),
        (
            "1_build (1).txt".into(),
            b"2023-07-19T04:19:15.5471042Z ##[section]Starting: Prepare job build\n".to_vec(),
        ),
        (
            "2_lint.txt".into(),
            fixture!("gha_ruff_lint_passing.txt").to_vec(),
        ),
        ("build/".into(), Vec::new()),
    ];
    for (name, data) in &steps {
        files.push((format!("build/{name}"), data.clone()));
    }
    let failures = analyze_run_zip(&files);
    let f = &failures[0];
    assert_eq!(f.source, "run.zip!1_build.txt");
    assert_eq!(f.job.as_deref(), Some("build"));
    assert_eq!(f.rule, "tsc-error");
    assert_eq!(f.line, line_of(tsc, "error TS2322"));
    // The step name comes from the step file that starts there.
    let (file, _) = step_file_with(&steps, "error TS2322");
    assert_eq!(f.step.as_deref(), Some(step_name(file)));
    assert!(failures.iter().all(|f| f.job.as_deref() == Some("build")));
}

#[test]
fn zip_with_step_folders_only() {
    let steps = step_files(fixture!("gha_ruff_lint.txt"));
    let files: Vec<(String, &[u8])> = steps
        .iter()
        .map(|(name, data)| (format!("flake8/{name}"), data.as_slice()))
        .collect();
    let failures = analyze_run_zip(&files);
    let f = &failures[0];
    assert_eq!(f.job.as_deref(), Some("flake8"));
    assert_eq!(f.rule, "py-lint-location");
    let (file, data) = step_file_with(&steps, "Expected a Jupyter");
    assert_eq!(f.source, format!("run.zip!flake8/{file}"));
    assert_eq!(f.line, line_of(data, "Expected a Jupyter"));
    assert_eq!(f.step.as_deref(), Some(step_name(file)));
}

#[test]
fn analyze_paths_reads_zips_and_text() {
    let dir = tempfile::tempdir().unwrap();
    let zip_path = dir.path().join("logs_1.zip");
    std::fs::write(
        &zip_path,
        build_zip(&[("1_build.txt", fixture!("gha_tsc_compilation.txt"))]),
    )
    .unwrap();
    let txt = dir.path().join("job.txt");
    std::fs::write(&txt, fixture!("synthetic_module_not_found.txt")).unwrap();
    let a = analyze_paths(
        &[zip_path.clone(), txt.clone()],
        &RuleSet::builtin(),
        ArchiveLimits::default(),
    )
    .unwrap();
    assert!(
        a.failures
            .iter()
            .any(|f| f.source == format!("{}!1_build.txt", zip_path.display()))
    );
    assert!(
        a.failures
            .iter()
            .any(|f| f.source == txt.display().to_string())
    );
    // Dependency (78) outranks the compilation error (72).
    assert_eq!(a.category, Category::Dependency);
}

#[test]
fn gh_run_view_output() {
    let failures = analyze("run.log", fixture!("synthetic_gh_run_view.txt"));
    let f = &failures[0];
    assert_eq!(f.job.as_deref(), Some("test (3.12)"));
    assert_eq!(f.step.as_deref(), Some("Run tests"));
    assert_eq!(f.category, Category::Test);
    assert!(
        failures
            .iter()
            .all(|f| f.job.as_deref() == Some("test (3.12)"))
    );
}

const TWO_FAILING_STEPS: &str = "2024-01-01T00:00:00.0Z Current runner version: '2.3'\n\
2024-01-01T00:00:01.0Z ##[group]Run ./a.sh\n\
2024-01-01T00:00:01.0Z ./a.sh\n\
2024-01-01T00:00:01.0Z ##[endgroup]\n\
2024-01-01T00:00:02.0Z error: alpha broke\n\
2024-01-01T00:00:02.0Z ##[error]Process completed with exit code 1.\n\
2024-01-01T00:00:03.0Z ##[group]Run ./b.sh\n\
2024-01-01T00:00:03.0Z ./b.sh\n\
2024-01-01T00:00:03.0Z ##[endgroup]\n\
2024-01-01T00:00:04.0Z error: beta broke\n\
2024-01-01T00:00:04.0Z ##[error]Process completed with exit code 1.\n";

#[test]
fn step_hints_pick_the_segment() {
    let rules = RuleSet::builtin();
    let run = |hint: Option<StepHint>| {
        analyze_job_log("j", Some("job"), hint, TWO_FAILING_STEPS.as_bytes(), &rules).unwrap()[0]
            .clone()
    };
    // Without a hint: the first failed step (later ones often fail because of it).
    let f = run(None);
    assert_eq!(
        (f.text.as_str(), f.step.as_deref()),
        ("error: alpha broke", Some("Run ./a.sh"))
    );
    // Step 2 is the first `Run` step (step 1 is "Set up job").
    let f = run(Some(StepHint {
        number: Some(2),
        name: Some("Alpha".into()),
    }));
    assert_eq!(
        (f.text.as_str(), f.step.as_deref()),
        ("error: alpha broke", Some("Alpha"))
    );
    // Unnamed steps are called `Run <command>` by the API.
    let f = run(Some(StepHint {
        number: None,
        name: Some("Run ./a.sh".into()),
    }));
    assert_eq!(f.text, "error: alpha broke");
    // A hint that maps nowhere falls back to the first failed step.
    let f = run(Some(StepHint {
        number: Some(9),
        name: Some("Deploy".into()),
    }));
    assert_eq!(f.text, "error: alpha broke");
    assert_eq!(f.job.as_deref(), Some("job"));
}

#[test]
fn fallback_reports_error_looking_lines_then_last_line() {
    let log = one_step_log(
        "./release.sh",
        &[
            "Preparing release 1.2.3",
            "Release for version 1.2.3 already exists. Exiting.",
        ],
    );
    let f = analyze("r", log.as_bytes());
    assert_eq!(f[0].rule, "fallback-error-line");
    assert_eq!(f[0].line, 4);
    assert_eq!(f[0].category, Category::Unknown);
    let log = one_step_log("./check.sh", &["42"]);
    let f = analyze("r", log.as_bytes());
    assert_eq!((f[0].rule.as_str(), f[0].line), ("fallback-last-line", 3));
}

#[test]
fn huge_binary_and_invalid_utf8_input_do_not_panic() {
    let rules = RuleSet::builtin();
    // A 20 MB line without a newline, then a real error.
    let mut log = Vec::new();
    log.extend_from_slice(
        b"2024-01-01T00:00:01.0Z ##[group]Run make\n2024-01-01T00:00:01.0Z ##[endgroup]\n",
    );
    log.extend(std::iter::repeat_n(b'x', 20 << 20));
    log.extend_from_slice(b" error: inside the huge line\n");
    log.extend_from_slice(b"2024-01-01T00:00:02.0Z src/a.c:1:2: error: expected ';'\n");
    log.extend_from_slice(b"2024-01-01T00:00:03.0Z ##[error]Process completed with exit code 2.\n");
    let f = analyze_job_log("big", None, None, log.as_slice(), &rules).unwrap();
    assert_eq!((f[0].rule.as_str(), f[0].line), ("cc-error", 4));
    // Every byte value, invalid UTF-8, truncated escapes, NULs and CRs.
    let mut junk: Vec<u8> = (0..=255u8).cycle().take(200_000).collect();
    junk.extend_from_slice(b"\xff\xfe\x1b[31\x1b]0;\x00\r\r\n\xc3\x28 error: \xe2\x82 boom\n\x1b");
    let f = analyze_job_log("junk", None, None, junk.as_slice(), &rules).unwrap();
    for x in &f {
        assert!(x.line >= 1 && x.end_line >= x.line);
    }
    // The same junk inside a GitHub log.
    let mut gha =
        b"2024-01-01T00:00:01.0Z ##[group]Run x\n2024-01-01T00:00:01.0Z ##[endgroup]\n".to_vec();
    gha.extend_from_slice(&junk);
    gha.extend_from_slice(
        b"\n2024-01-01T00:00:03.0Z ##[error]Process completed with exit code 1.\n",
    );
    analyze_job_log("junk", None, None, gha.as_slice(), &rules).unwrap();
    // Empty input.
    assert!(
        analyze_job_log("empty", None, None, &b""[..], &rules)
            .unwrap()
            .is_empty()
    );
    // Not a zip.
    assert!(
        analyze_zip(
            "bad.zip",
            Cursor::new(b"PK\x03\x04garbage".to_vec()),
            &BTreeMap::new(),
            &rules,
            ArchiveLimits::default(),
        )
        .is_err()
    );
}

#[test]
fn line_numbers_count_lf_only_and_bom_belongs_to_line_one() {
    let log = "\u{feff}2024-01-01T00:00:01.0Z ##[group]Run t\r\n2024-01-01T00:00:01.0Z ##[endgroup]\r\n\
2024-01-01T00:00:02.0Z progress 10%\rprogress 100%\r\n\
2024-01-01T00:00:02.0Z \x1b[31mFAILED tests/test_a.py::test_b - assert 0\x1b[0m\r\n\
2024-01-01T00:00:03.0Z ##[error]Process completed with exit code 1.\r\n";
    let f = analyze("crlf", log.as_bytes());
    assert_eq!(f[0].line, 4);
    assert_eq!(f[0].text, "FAILED tests/test_a.py::test_b - assert 0");
}

#[test]
fn failures_are_capped_and_deduplicated() {
    let errors: Vec<String> = (0..200)
        .map(|i| format!("src/f{i}.c:1:2: error: broken thing {i}"))
        .collect();
    // Every error twice.
    let output: Vec<&str> = errors.iter().flat_map(|e| [e.as_str(); 2]).collect();
    let f = analyze("many", one_step_log("cc", &output).as_bytes());
    assert_eq!(f.len(), MAX_FAILURES);
    let mut fps: Vec<&str> = f.iter().map(|x| x.fingerprint.as_str()).collect();
    fps.sort();
    fps.dedup();
    assert_eq!(fps.len(), f.len());
    // Earliest first at equal priority.
    assert!(f[0].text.contains("src/f0.c"));
}

#[test]
fn json_shape_and_round_trip() {
    let failures = analyze("tsc.txt", fixture!("gha_tsc_compilation.txt"));
    let a = Analysis::from_failures(failures);
    let v = serde_json::to_value(&a).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["category", "failures"]);
    assert_eq!(v["category"], "compilation");
    let f = v["failures"][0].as_object().unwrap();
    let mut keys: Vec<&str> = f.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "captures",
            "category",
            "end_line",
            "fingerprint",
            "fixable",
            "job",
            "line",
            "rule",
            "source",
            "step",
            "text"
        ]
    );
    assert!(f["job"].is_null());
    let back: Analysis = serde_json::from_value(v).unwrap();
    assert_eq!(back.failures[0].fingerprint, a.failures[0].fingerprint);
    assert!(back.failures[0].context.is_empty());
    // The text report shows the excerpt with the failing line marked.
    let text = a.to_text();
    assert!(text.contains("> "), "{text}");
    assert!(text.contains("error TS2322"), "{text}");
}

#[test]
fn categories_round_trip() {
    for c in Category::ALL {
        let s = serde_json::to_string(&c).unwrap();
        assert_eq!(s, format!("\"{c}\""));
        assert_eq!(c.as_str().parse::<Category>().unwrap(), c);
    }
    assert_eq!(Category::MissingCommand.to_string(), "missing-command");
}

#[test]
fn repository_rules_take_part() {
    let spec: RuleSpec = serde_yaml::from_str(
        "id: flaky-db\ncategory: infrastructure\npattern: 'could not connect to db-(?P<host>\\w+)'\npriority: 85\ncaptures: [host]\nkeywords: ['could not connect to db-']\n",
    )
    .unwrap();
    let rules = RuleSet::with_extra(vec![spec]).unwrap();
    let log = one_step_log(
        "t",
        &[
            "FAILED tests/test_a.py::test_b - OperationalError",
            "could not connect to db-primary",
        ],
    );
    let f = analyze_job_log("x", None, None, log.as_bytes(), &rules).unwrap();
    assert_eq!(f[0].rule, "flaky-db");
    assert_eq!(f[0].captures["host"], "primary");
    assert_eq!(f[1].rule, "pytest-failed");
}

#[test]
fn failed_job_without_error_marker_presumes_its_last_step() {
    // A Docker action that exits non-zero prints no `##[error]`.
    let log = "2024-01-01T00:00:00.0Z Current runner version: '2.3'\n\
2024-01-01T00:00:01.0Z ##[group]Run acme/rebase@v1\n\
2024-01-01T00:00:01.0Z env:\n\
2024-01-01T00:00:01.0Z   GITHUB_TOKEN: ***\n\
2024-01-01T00:00:01.0Z ##[endgroup]\n\
2024-01-01T00:00:02.0Z Error: test error\n\
2024-01-01T00:00:02.0Z CONFLICT (content): Merge conflict in src/main.rs\n\
2024-01-01T00:00:03.0Z Post job cleanup.\n";
    let f = analyze("docker", log.as_bytes());
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!((f[0].rule.as_str(), f[0].line), ("git-merge-conflict", 7));
    // Generic lines alone in a log without failure markers are not reported.
    let passing = log.replace("CONFLICT (content): Merge conflict in src/main.rs", "done");
    assert!(analyze("pass", passing.as_bytes()).is_empty());
}

#[test]
fn silent_failed_step_reports_its_command() {
    let log = "2024-01-01T00:00:00.0Z Current runner version: '2.3'\n\
2024-01-01T00:00:01.0Z ##[group]Run false\n\
2024-01-01T00:00:01.0Z \x1b[36;1mfalse\x1b[0m\n\
2024-01-01T00:00:01.0Z shell: /usr/bin/bash -e {0}\n\
2024-01-01T00:00:01.0Z ##[endgroup]\n\
2024-01-01T00:00:02.0Z ##[error]Process completed with exit code 1.\n";
    let f = analyze("false", log.as_bytes());
    assert_eq!(
        (f[0].rule.as_str(), f[0].line, f[0].text.as_str()),
        ("fallback-step-command", 2, "Run false")
    );
}

#[test]
fn travis_folds_printed_by_a_command_stay_in_that_command() {
    let log = "travis_fold:start:worker_info\r\x1b[0KWorker information\n\
travis_time:start:1\r\x1b[0K$ ci/script.sh\n\
travis_fold:start:-tests-unit\r\x1b[0K+run unit\n\
==1==ERROR: AddressSanitizer: SEGV on unknown address 0x0\n\
travis_fold:end:-tests-unit\r\x1b[0K\n\
travis_fold:start:-tests-install\r\x1b[0K+make install\n\
installing\n\
travis_time:end:1\r\x1b[0K\x1b[31;1mThe command \"ci/script.sh\n\
  --all\" exited with 1.\x1b[0m\n\
travis_fold:start:cache.2\r\x1b[0Kstore build cache\n\
cache uploaded\n";
    let f = analyze("travis", log.as_bytes());
    assert_eq!((f[0].rule.as_str(), f[0].line), ("sanitizer", 4));
    assert_eq!(f[0].step.as_deref(), Some("ci/script.sh"));
    assert!(f.iter().all(|x| x.text != "cache uploaded"));
}

#[test]
fn run_archives_over_their_limits_are_not_analysed() {
    let zip = build_zip(&[("1_build.txt", fixture!("gha_tsc_compilation.txt"))]);
    let analyze = |limits| {
        analyze_zip(
            "run.zip",
            Cursor::new(zip.clone()),
            &BTreeMap::new(),
            &RuleSet::builtin(),
            limits,
        )
        .map_err(|e| format!("{e:#}"))
    };
    assert!(analyze(ArchiveLimits::default()).is_ok());
    let err = analyze(ArchiveLimits {
        max_entries: 0,
        ..ArchiveLimits::default()
    })
    .unwrap_err();
    assert!(err.contains("analyze.max-archive-entries"), "{err}");
    let err = analyze(ArchiveLimits {
        max_bytes: 100,
        ..ArchiveLimits::default()
    })
    .unwrap_err();
    assert!(err.contains("analyze.max-archive-bytes"), "{err}");
}

/// A job log excerpt, a log of another CI system or plain build output has
/// no step markers: it is one step, and its errors are reported.
#[test]
fn logs_without_step_markers_are_one_step() {
    // An excerpt of a GitHub job log: timestamps, no preamble, no group.
    let excerpt = "2024-05-06T07:08:09.1000000Z [ 41%] Building CXX object src/CMakeFiles/core.dir/io.cpp.o\n\
2024-05-06T07:08:09.2000000Z /home/runner/work/proj/proj/src/io.cpp:88:12: error: 'span' is not a member of 'std'\n\
2024-05-06T07:08:09.3000000Z    88 |   std::span<const char> buf;\n\
2024-05-06T07:08:09.4000000Z make[2]: *** [src/CMakeFiles/core.dir/build.make:76: src/CMakeFiles/core.dir/io.cpp.o] Error 1\n";
    let f = expect_first(
        "excerpt",
        excerpt.as_bytes(),
        Category::Compilation,
        "cc-error",
    );
    assert_eq!(f.line, 2);
    assert_eq!(f.step, None);

    // A Jenkins console log and Buildkite output: no timestamps GitHub's way.
    let jenkins = "[Pipeline] sh\n+ python -m pytest tests/unit\n\
ImportError while loading conftest '/var/lib/jenkins/ws/tests/conftest.py'.\n\
tests/conftest.py:3: in <module>\n    import yaml\n\
E   ModuleNotFoundError: No module named 'yaml'\n[Pipeline] }\nERROR: script returned exit code 4\nFinished: FAILURE\n";
    let f = expect_first(
        "jenkins",
        jenkins.as_bytes(),
        Category::Dependency,
        "py-module-not-found",
    );
    assert_eq!(f.captures["package"], "yaml");
    let buildkite = "~~~ Running tests\n$ python train.py --steps 10\n\
Traceback (most recent call last):\n  File \"train.py\", line 40, in <module>\n    loss.backward()\n\
RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 15.78 GiB total capacity)\n\
\u{1b}[31m🚨 Error: The command exited with status 1\u{1b}[0m\n";
    expect_first(
        "buildkite",
        buildkite.as_bytes(),
        Category::Resource,
        "res-memory",
    );
    let plain = "  File \"setup.py\", line 7\n    print 'hello'\n          ^\nSyntaxError: Missing parentheses in call to 'print'\n";
    expect_first(
        "plain",
        plain.as_bytes(),
        Category::Compilation,
        "py-syntax-error",
    );
}

/// A lone `##[error]` right after a `##[group]Run` whose `##[endgroup]`
/// never came (the runner failed the step before it printed anything).
#[test]
fn lone_error_after_an_unclosed_group_is_reported() {
    let log = "2024-05-06T07:08:09.1000000Z ##[group]Run ./scripts/deploy.sh staging\n\
2024-05-06T07:08:09.1000000Z \u{1b}[36;1m./scripts/deploy.sh staging\u{1b}[0m\n\
2024-05-06T07:08:09.1000000Z shell: /usr/bin/bash -e {0}\n\
2024-05-06T07:08:09.2000000Z ##[error]Unable to locate executable file: ./scripts/deploy.sh. Please verify either the file path exists or the file can be found within a directory specified by the PATH environment variable.\n";
    let failures = analyze("unclosed", log.as_bytes());
    let first = failures.first().expect("the error line is reported");
    assert_eq!(first.line, 4);
    assert_eq!(
        first.step.as_deref(),
        Some("Run ./scripts/deploy.sh staging")
    );
}

/// The first failed step holds the cause; a later step that runs anyway
/// (`if: always()` artifact upload) and fails because of it comes after.
#[test]
fn first_failed_step_outranks_later_post_job_errors() {
    let log = "2024-05-06T07:08:09.1Z ##[group]Run pytest -q\n\
2024-05-06T07:08:09.1Z ##[endgroup]\n\
2024-05-06T07:08:10.1Z FAILED tests/test_io.py::test_roundtrip - AssertionError: assert b'' == b'x'\n\
2024-05-06T07:08:10.2Z ========= 1 failed, 41 passed in 3.20s =========\n\
2024-05-06T07:08:10.3Z ##[error]Process completed with exit code 1.\n\
2024-05-06T07:08:11.1Z ##[group]Run actions/upload-artifact@v4\n\
2024-05-06T07:08:11.1Z with:\n\
2024-05-06T07:08:11.1Z   path: reports/\n\
2024-05-06T07:08:11.1Z ##[endgroup]\n\
2024-05-06T07:08:11.2Z ##[error]No files were found with the provided path: reports/. No artifacts will be uploaded.\n\
2024-05-06T07:08:12.1Z ##[group]Run rm -rf build/\n\
2024-05-06T07:08:12.1Z ##[endgroup]\n\
2024-05-06T07:08:12.2Z rm: cannot remove 'build/cache': Permission denied\n\
2024-05-06T07:08:12.3Z ##[error]Process completed with exit code 1.\n";
    let failures = analyze("post", log.as_bytes());
    let f = assert_first("post", &failures, Category::Test, "pytest-failed");
    assert_eq!(f.line, 3);
    assert_eq!(f.step.as_deref(), Some("Run pytest -q"));
    // The later errors are still listed, after it.
    assert!(failures.iter().any(|f| f.rule == "gha-no-artifact-files"));
}

/// Lines that only say that something else failed never come before a
/// line that says what failed, wherever each is.
#[test]
fn wrapper_lines_never_outrank_a_specific_error() {
    // A self-hosted runner's container hook wraps the step's own error.
    let log = "2024-05-06T07:08:09.1Z ##[group]Run cargo build --locked\n\
2024-05-06T07:08:09.1Z ##[endgroup]\n\
2024-05-06T07:08:10.1Z error: the lock file /__w/app/app/Cargo.lock needs to be updated but --locked was passed to prevent this\n\
2024-05-06T07:08:10.2Z ##[error][OSDC] Step script exited with code 101\n\
2024-05-06T07:08:10.3Z ##[error]Executing the custom container implementation failed. Please contact your self hosted runner administrator.\n\
2024-05-06T07:08:10.4Z ##[error]Process completed with exit code 101.\n";
    let failures = analyze("container", log.as_bytes());
    let f = failures.first().expect("reported");
    assert_eq!(f.line, 3, "{failures:#?}");
    for wrapper in [4, 5] {
        let pos = failures.iter().position(|f| f.line == wrapper);
        assert!(pos.is_none_or(|p| p > 0), "wrapper line {wrapper} first");
    }
    // A wrapper in the failed step does not outrank a specific error in a
    // step that failed with it (a composite action's inner step).
    let log = "2024-05-06T07:08:09.1Z ##[group]Run ./ci/test.sh\n\
2024-05-06T07:08:09.1Z ##[endgroup]\n\
2024-05-06T07:08:10.1Z [OSDC] Step script exited with code 1\n\
2024-05-06T07:08:10.4Z ##[error]Process completed with exit code 1.\n\
2024-05-06T07:08:11.1Z ##[group]Run ./ci/collect.sh\n\
2024-05-06T07:08:11.1Z ##[endgroup]\n\
2024-05-06T07:08:11.2Z ./ci/collect.sh: line 3: junit2html: command not found\n\
2024-05-06T07:08:11.3Z ##[error]Process completed with exit code 127.\n";
    let failures = analyze("wrapped", log.as_bytes());
    assert_eq!(failures.first().map(|f| f.line), Some(7), "{failures:#?}");
}

/// Build-policy checks of a Maven build are lint: the enforcer's rules, a
/// lock file that no longer matches, warnings made errors.
#[test]
fn maven_policy_failures_are_lint() {
    let enforcer = one_step_log(
        "mvn -B verify",
        &[
            "[INFO] --- maven-enforcer-plugin:3.4.1:enforce (enforce) @ app ---",
            "[WARNING] Rule 2: org.apache.maven.enforcer.rules.dependency.RequireUpperBoundDeps failed with message:",
            "Require upper bound dependencies error for org.slf4j:slf4j-api:2.0.9 paths to dependency are:",
            "+-com.example:app:1.0-SNAPSHOT",
            "[ERROR] Failed to execute goal org.apache.maven.plugins:maven-enforcer-plugin:3.4.1:enforce (enforce) on project app: Some Enforcer rules have failed. Look above for specific messages explaining why the rule failed.",
        ],
    );
    let failures = analyze("enforcer", enforcer.as_bytes());
    assert_eq!(Analysis::from_failures(failures).category, Category::Lint);
    let lock = one_step_log(
        "mvn -B verify",
        &[
            "[INFO] --- maven-lockfile:5.3.0:validate (default) @ app ---",
            "[ERROR] Failed to execute goal io.github.chains-project:maven-lockfile:5.3.0:validate (default) on project app: Failed verifying lock file. Pom checksum mismatch.",
        ],
    );
    expect_first("lock", lock.as_bytes(), Category::Lint, "maven-lockfile");
    let werror = one_step_log(
        "mvn -B compile",
        &[
            "[WARNING] /home/runner/work/app/app/src/main/java/a/B.java:[12,8] [deprecation] Date(int,int,int) in Date has been deprecated",
            "[ERROR] warnings found and -Werror specified",
            "[ERROR] Failed to execute goal org.apache.maven.plugins:maven-compiler-plugin:3.11.0:compile (default-compile) on project app: Compilation failure",
        ],
    );
    expect_first("werror", werror.as_bytes(), Category::Lint, "javac-werror");
}

/// A test framework's summary decides the category when an exception line
/// it printed comes first; a test runner's wrapper names the test.
#[test]
fn test_summaries_make_the_category_and_wrappers_name_the_test() {
    let log = one_step_log(
        "mvn -B test",
        &[
            "java.lang.IllegalStateException: connection pool closed",
            "\tat com.example.db.Pool.get(Pool.java:41)",
            "[INFO] ",
            "[ERROR] Tests run: 14, Failures: 1, Errors: 0, Skipped: 0",
        ],
    );
    let failures = analyze("summary", log.as_bytes());
    assert_eq!(Analysis::from_failures(failures).category, Category::Test);
    let log = one_step_log(
        "python test/run_test.py --shard 2 3",
        &[
            "Running test_linalg ... [2024-05-06 07:08:09]",
            "test_linalg 1/1 failed!",
            "Traceback (most recent call last):",
            "  File \"test/run_test.py\", line 1510, in main",
            "RuntimeError: test_linalg failed!",
        ],
    );
    let f = expect_first(
        "shard",
        log.as_bytes(),
        Category::Test,
        "test-runner-wrapper",
    );
    assert_eq!(f.captures["test"], "test_linalg");
}

/// Near-identical failures (one rule, one file) are one entry with a count
/// in the text; the list keeps every line.
#[test]
fn near_identical_failures_are_grouped() {
    let mut lines = vec!["[INFO] Compiling 40 source files".to_string()];
    for n in 0..6 {
        lines.push(format!(
            "[ERROR] /home/runner/work/app/app/src/main/java/a/Api.java:[{},9] method get{n}() is already defined in class a.Api",
            10 + n
        ));
        lines.push("[ERROR]   location: class a.Api".to_string());
    }
    lines.push(
        "[ERROR] /home/runner/work/app/app/src/main/java/a/Other.java:[3,1] package b does not exist"
            .to_string(),
    );
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let log = one_step_log("mvn -B compile", &refs);
    let failures = analyze("javac", log.as_bytes());
    let javac: Vec<&Failure> = failures
        .iter()
        .filter(|f| f.rule == "maven-javac-error")
        .collect();
    assert_eq!(javac.len(), 7, "{failures:#?}");
    let groups = group_failures(&failures);
    assert_eq!(groups[0].len(), 6);
    assert_eq!(groups[0][0], 0);
    let text = Analysis::from_failures(failures.clone()).to_text();
    assert!(text.contains("maven-javac-error (x6)"), "{text}");
    assert!(text.contains("and 5 more like it:"), "{text}");
    // One excerpt per group, not one per line.
    assert_eq!(text.matches("\n1. ").count(), 1, "{text}");
    assert!(!text.contains("\n8. "), "{text}");
}

#[test]
fn expected_errors_of_a_passing_test_run_are_not_the_failure() {
    // Tests of error handling log the errors they provoke; the run passes.
    let tests = [
        "ERROR: could not connect to db (expected by test_retry)",
        "ValueError: bad input",
        "============ 12 passed, 1 warning in 3.21s ============",
    ];
    // Then the step fails for another reason.
    let mut output = tests.to_vec();
    output.push("Coverage failure: total of 71 is less than fail-under=80");
    let log = one_step_log("pytest --cov", &output);
    let failures = analyze("cov", log.as_bytes());
    assert!(
        failures
            .first()
            .is_some_and(|f| f.text.starts_with("Coverage failure")),
        "{failures:#?}"
    );
    // A generic error line of the passing test run is not reported: another
    // line of the step says what failed.
    assert!(
        !failures.iter().any(|f| f.text.contains("ValueError")),
        "{failures:#?}"
    );
    // When nothing else says what failed, it is all there is: reported.
    let mut output = tests[1..].to_vec();
    output.push("make: *** [Makefile:12: test] Error 1");
    let log = one_step_log("make test", &output);
    let failures = analyze("wrapped", log.as_bytes());
    assert!(
        failures.iter().any(|f| f.text.contains("ValueError")),
        "{failures:#?}"
    );

    // The same lines in a step that did not fail are nothing at all, even
    // when the job's last step is presumed to be the failed one.
    let mut log = String::from(
        "2024-01-01T00:00:01.0Z ##[group]Run pytest\n2024-01-01T00:00:01.0Z ##[endgroup]\n",
    );
    for line in tests {
        log.push_str(&format!("2024-01-01T00:00:02.0Z {line}\n"));
    }
    log.push_str(
        "2024-01-01T00:00:03.0Z ##[group]Run ./deploy.sh\n2024-01-01T00:00:03.0Z ##[endgroup]\n",
    );
    log.push_str("2024-01-01T00:00:04.0Z ##[error]Process completed with exit code 3.\n");
    let failures = analyze("deploy", log.as_bytes());
    assert!(
        failures
            .iter()
            .all(|f| f.step.as_deref() == Some("Run ./deploy.sh")),
        "{failures:#?}"
    );

    // When the test run itself fails, its error lines count in full.
    let failing = one_step_log(
        "pytest",
        &[
            "ValueError: bad input",
            "============ 1 failed, 11 passed in 3.21s ============",
        ],
    );
    let failures = analyze("fail", failing.as_bytes());
    assert_eq!(failures[0].text, "ValueError: bad input", "{failures:#?}");
}

#[test]
fn vitest_unhandled_error_fails_a_run_whose_tests_all_passed() {
    // Real excerpt: every test passed, then vitest's `Errors  1 error` line
    // says an unhandled error failed the run; that error is the failure.
    let log = fixture!("gha_vitest_unhandled_error.txt");
    let failures = analyze("vitest", log);
    let line = line_of(log, "runTests is not a function");
    assert!(
        failures.iter().take(3).any(|f| f.line == line),
        "{failures:#?}"
    );
}

/// A monorepo tool runs one project per `##[group]` inside a step: a test
/// summary speaks for its own group, so the error lines a passing
/// project's tests print are not reported when another project fails.
#[test]
fn test_summaries_speak_for_their_own_group() {
    let log = one_step_log(
        "yarn nx affected -t test",
        &[
            "##[group]✅ > nx run members:test",
            "BadRequestError: Cannot subscribe to archived newsletters",
            "  42 passing (3s)",
            "##[endgroup]",
            "##[group]❌ > nx run web:test",
            "FAIL src/app.test.ts",
            "Tests:       1 failed, 12 passed, 13 total",
            "##[endgroup]",
        ],
    );
    let failures = analyze("nx", log.as_bytes());
    assert_eq!(failures[0].category, Category::Test, "{failures:#?}");
    assert!(
        !failures.iter().any(|f| f.text.contains("BadRequestError")),
        "{failures:#?}"
    );
}

/// A test runner that lists its failures after its summary (mocha): the
/// generic error lines above the summary were printed by tests that
/// passed; the failure is in the list.
#[test]
fn error_lines_above_a_summary_that_lists_failures_after_it_are_test_output() {
    let log = one_step_log(
        "yarn test:unit",
        &[
            "Error: test error",
            "    at Context.<anonymous> (test/unit/api.test.js:12:19)",
            "InternalServerError: URL empty or invalid.",
            "  3506 passing (26s)",
            "  1 failing",
            "",
            "  1) Helpers",
            "     AssertionError: expected Array [ 'threads_url' ] to have property length of 0 (got 1)",
        ],
    );
    let failures = analyze("mocha", log.as_bytes());
    assert!(
        !failures
            .iter()
            .any(|f| f.text.contains("test error") || f.text.contains("InternalServerError")),
        "{failures:#?}"
    );
    assert!(
        failures
            .iter()
            .take(3)
            .any(|f| f.text.contains("AssertionError")),
        "{failures:#?}"
    );
}

/// Only a line saying what failed makes a run one that lists its failures
/// after its summary: a generic epilogue after a runner's summary hides
/// none of the lines above it.
#[test]
fn a_generic_epilogue_after_a_summary_hides_nothing_above_it() {
    let log = one_step_log(
        "make check",
        &[
            "Error: the fixture server did not start",
            "  1 failing",
            "Error: cleanup left 2 containers",
        ],
    );
    let failures = analyze("epilogue", log.as_bytes());
    assert!(
        failures
            .iter()
            .any(|f| f.text.contains("fixture server did not start")),
        "{failures:#?}"
    );
}

/// A build script's own groups are sub-steps: a generic error line in one
/// where nothing says what failed (a configure phase that went on) is not
/// reported when a later group says what failed.
#[test]
fn generic_lines_of_a_sub_step_that_went_on_are_not_reported() {
    let log = one_step_log(
        "docker run -w /src test:alpine ./install.sh",
        &[
            "##[group]Configuring.",
            "-- Found Git: /usr/bin/git (found version \"2.45.3\")",
            "fatal: not a git repository (or any of the parent directories): .git",
            "-- Configuring done",
            "##[endgroup]",
            "##[group]Building.",
            "/src/eval/parser.c:480:19: error: inlining failed in call to 'always_inline' 'parse_rest': recursive inlining",
            "make: *** [Makefile:146: all] Error 2",
            "##[endgroup]",
        ],
    );
    let failures = analyze("groups", log.as_bytes());
    assert_first("groups", &failures, Category::Compilation, "cc-error");
    assert!(
        !failures
            .iter()
            .any(|f| f.text.contains("not a git repository")),
        "{failures:#?}"
    );
}

/// A step whose script lets a command fail (`|| true`): a generic error
/// line that command printed is not the failure when another line of the
/// step says what failed.
#[test]
fn error_lines_of_a_command_allowed_to_fail_are_not_the_failure() {
    let log = "2024-01-01T00:00:01.0Z ##[group]Run ./bin/editor --doctool --headless || true\n\
2024-01-01T00:00:01.0Z \u{1b}[36;1m./bin/editor --doctool --headless 2>&1 > /dev/null || true\u{1b}[0m\n\
2024-01-01T00:00:01.0Z \u{1b}[36;1mgit diff --color --exit-code\u{1b}[0m\n\
2024-01-01T00:00:01.0Z shell: /usr/bin/bash -e {0}\n\
2024-01-01T00:00:01.0Z ##[endgroup]\n\
2024-01-01T00:00:02.0Z ERROR: EditorSettings not instantiated yet.\n\
2024-01-01T00:00:02.0Z    at: _EDITOR_DEF (editor/editor_settings.cpp:1501)\n\
2024-01-01T00:00:03.0Z diff --git a/doc/classes/Object.xml b/doc/classes/Object.xml\n\
2024-01-01T00:00:03.0Z index f2650a1..74d7479 100644\n\
2024-01-01T00:00:04.0Z ##[error]Process completed with exit code 1.\n";
    let failures = analyze("or-true", log.as_bytes());
    assert_first("or-true", &failures, Category::Lint, "git-diff-shown");
    assert!(
        !failures.iter().any(|f| f.text.contains("EditorSettings")),
        "{failures:#?}"
    );
    // Without the `|| true`, the same line is reported.
    let strict = log.replace(" || true", "");
    let failures = analyze("strict", strict.as_bytes());
    assert!(
        failures.iter().any(|f| f.text.contains("EditorSettings")),
        "{failures:#?}"
    );
}

/// Each way a script lets a command fail hides that command's generic
/// lines; `set -e` after `set +e` takes it back.
#[test]
fn every_way_of_letting_a_command_fail_is_read_and_set_e_takes_it_back() {
    let log = |script: &str| {
        format!(
            "2024-01-01T00:00:01.0Z ##[group]Run ./bin/editor --doctool\n\
2024-01-01T00:00:01.0Z \x1b[36;1m{script}\x1b[0m\n\
2024-01-01T00:00:01.0Z \x1b[36;1mgit diff --color --exit-code\x1b[0m\n\
2024-01-01T00:00:01.0Z shell: /usr/bin/bash -e {{0}}\n\
2024-01-01T00:00:01.0Z ##[endgroup]\n\
2024-01-01T00:00:02.0Z ERROR: EditorSettings not instantiated yet.\n\
2024-01-01T00:00:03.0Z diff --git a/doc/classes/Object.xml b/doc/classes/Object.xml\n\
2024-01-01T00:00:03.0Z index f2650a1..74d7479 100644\n\
2024-01-01T00:00:04.0Z ##[error]Process completed with exit code 1.\n"
        )
    };
    let reported = |script: &str| {
        let failures = analyze(script, log(script).as_bytes());
        assert_first(script, &failures, Category::Lint, "git-diff-shown");
        failures.iter().any(|f| f.text.contains("EditorSettings"))
    };
    for lets_fail in [
        "./bin/editor --doctool || :",
        "./bin/editor --doctool || exit 0",
        "set +e\u{1b}[0m\n2024-01-01T00:00:01.0Z \u{1b}[36;1m./bin/editor --doctool",
    ] {
        assert!(!reported(lets_fail), "{lets_fail}");
    }
    for strict in [
        "./bin/editor --doctool",
        "set +e\u{1b}[0m\n2024-01-01T00:00:01.0Z \u{1b}[36;1mset -e\u{1b}[0m\n2024-01-01T00:00:01.0Z \u{1b}[36;1m./bin/editor --doctool",
    ] {
        assert!(reported(strict), "{strict}");
    }
}

/// Real excerpts, one per behaviour: a job log cut without its step
/// markers, a lone `##[error]` after a group that never closed, and a
/// wrapper line after the lines that say what failed.
#[test]
fn real_excerpts_of_each_reading_rule() {
    let log = fixture!("excerpt_cc_no_steps.txt");
    let f = expect_first("no-steps", log, Category::Compilation, "cc-error");
    assert_eq!(f.line, line_of(log, "error: inlining failed"));
    assert_eq!(f.step, None);

    let log = fixture!("gha_error_after_unclosed_group.txt");
    let failures = analyze("unclosed", log);
    // The action's own `The process '...' failed` line is a wrapper: the
    // line above it says what failed.
    let f = assert_first(
        "unclosed",
        &failures,
        Category::Unknown,
        "fallback-error-line",
    );
    assert_eq!(f.line, line_of(log, "The system cannot find the path"));
    assert_eq!(f.step.as_deref(), Some("Run msys2/setup-msys2@v2"));

    let log = fixture!("gha_markdownlint_wrapper.txt");
    let failures = analyze("wrapper", log);
    let f = assert_first("wrapper", &failures, Category::Lint, "markdownlint");
    assert_eq!(f.line, line_of(log, "MD041"));
    let wrapper = line_of(log, "Failed with exit code: 1");
    assert!(
        failures
            .iter()
            .position(|f| f.line == wrapper)
            .is_none_or(|p| p >= 2),
        "{failures:#?}"
    );
}

/// 1-based numbers of every line containing `needle`.
fn lines_of(bytes: &[u8], needle: &str) -> Vec<u64> {
    let text = String::from_utf8_lossy(bytes);
    text.split('\n')
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .map(|(i, _)| i as u64 + 1)
        .collect()
}

/// A real job whose failed step (an artifact download) is followed by an
/// `if: always()` upload that fails for want of the files, a container
/// hook's wrapper lines after each: the download's error comes first.
#[test]
fn real_excerpt_of_a_later_step_failing_after_the_cause() {
    let log = fixture!("gha_post_step_after_failure.txt");
    let failures = analyze("post-step", log);
    let f = assert_first(
        "post-step",
        &failures,
        Category::MissingFile,
        "gha-artifact-not-found",
    );
    assert_eq!(f.line, line_of(log, "Unable to download artifact(s)"));
    assert_eq!(f.captures["name"], "manywheel-py3_10-cuda13_0");
    // The upload's error is listed next, as a cause of its own.
    let upload = &failures[1];
    assert_eq!(
        (upload.line, upload.rule.as_str()),
        (
            line_of(log, "No files were found with the provided path"),
            "gha-no-artifact-files"
        )
    );
    // In the upload step, named by its own header: the container hook's
    // `Run '<script>'` group printed after it is no step of its own.
    assert_eq!(
        upload.step.as_deref(),
        Some("Run actions/upload-artifact@v4.4.0"),
        "{failures:#?}"
    );
    let groups = group_failures(&failures);
    assert_eq!(&groups[..2], &[vec![0], vec![1]], "{failures:#?}");
    // Each wrapper line of the hook comes after both.
    let wrappers: Vec<u64> = [
        "Step script exited with code 1",
        "custom container implementation failed",
    ]
    .iter()
    .flat_map(|n| lines_of(log, n))
    .collect();
    assert_eq!(wrappers.len(), 4);
    for (i, f) in failures.iter().enumerate() {
        if wrappers.contains(&f.line) {
            assert!(i >= 2, "wrapper line {} ranked {i}", f.line);
        }
    }
    insta::assert_snapshot!(
        "post_step_after_failure_report",
        Analysis::from_failures(failures).to_text()
    );
}

/// Real output of build-policy checks: Maven enforcer rules, javac's and
/// gcc's `-Werror`. Each is `lint`, its first line first, its repeats one
/// entry.
#[test]
fn real_build_policy_failures_are_lint() {
    for (name, log, rule, needle, repeats) in [
        (
            "enforcer",
            fixture!("tool_maven_enforcer.txt"),
            "maven-enforcer",
            "Rule 0: org.apache.maven.plugins.enforcer.RequireJavaVersion",
            3,
        ),
        (
            "javac",
            fixture!("tool_maven_javac_werror.txt"),
            "javac-werror",
            "warnings found and -Werror specified",
            1,
        ),
        (
            "gcc",
            fixture!("tool_gcc_werror.txt"),
            "cc-werror",
            "[-Werror=unused-variable]",
            1,
        ),
    ] {
        let failures = analyze(name, log);
        let f = assert_first(name, &failures, Category::Lint, rule);
        assert_eq!(f.line, line_of(log, needle), "{name}");
        if name == "gcc" {
            assert_eq!(f.captures["file"], "src/parse.c");
        }
        let groups = group_failures(&failures);
        assert_eq!(groups[0].len(), repeats, "{name}: {failures:#?}");
        assert_eq!(
            Analysis::from_failures(failures).category,
            Category::Lint,
            "{name}"
        );
    }
}

/// Real test runners that run each test file as a shard and fail with
/// `RuntimeError: <test> 1/1 failed!`: the report names the test that
/// failed, before the cache statistics and the hook's wrapper lines; the
/// test's own message, printed with the shard's log, comes first.
#[test]
fn real_test_runner_wrappers_name_the_test() {
    let log = fixture!("gha_test_wrapper_shard.txt");
    let failures = analyze("shard", log);
    let f = assert_first("shard", &failures, Category::Test, "test-class-failed");
    assert_eq!(f.captures["test"], "TestC10dTorchCommsBackendConfig");
    assert_eq!(
        f.line,
        line_of(log, "TestC10dTorchCommsBackendConfig - failed.")
    );
    let wrapper = &failures[1];
    assert_eq!(wrapper.rule, "test-runner-wrapper", "{failures:#?}");
    assert_eq!(wrapper.captures["test"], "distributed/test_c10d_torchcomms");
    assert_eq!(
        wrapper.line,
        line_of(
            log,
            "RuntimeError: distributed/test_c10d_torchcomms 1/1 failed!"
        )
    );
    // A compiler cache's count of compilation failures is no failure.
    assert!(
        failures
            .iter()
            .all(|f| !f.text.starts_with("Compilation failures")),
        "{failures:#?}"
    );

    // When the test file's own error is in the log, it comes first and the
    // runner's line naming the test next; the category is the test's.
    let log = fixture!("gha_test_wrapper_import_error.txt");
    let failures = analyze("import", log);
    let f = assert_first("import", &failures, Category::Unknown, "py-exception");
    assert_eq!(f.line, line_of(log, "AttributeError: module 'torch._C'"));
    let wrapper = &failures[1];
    assert_eq!(wrapper.rule, "test-runner-wrapper", "{failures:#?}");
    assert_eq!(wrapper.captures["test"], "test_cuda");
    assert_eq!(Analysis::from_failures(failures).category, Category::Test);
}

/// A line that only heads a list of failures (`Failures:`) is reported at
/// the first line it heads, under its own rule; a better rule on that line
/// wins; a header with nothing below it in its step stays where it is.
#[test]
fn a_header_is_reported_at_the_first_failure_it_lists() {
    // The list below the header: its first line, after a blank one.
    let log = one_step_log(
        "make test",
        &[
            "Executed: 12 Tests",
            "Failures: ",
            "",
            "\tFrom test_popup.vim:",
            "\tFound errors in Test_popup_beval():",
            "TEST FAILURE",
        ],
    );
    let first = expect_first("list", log.as_bytes(), Category::Test, "ruby-test-header");
    assert_eq!(first.line, line_of(log.as_bytes(), "From test_popup.vim"));
    assert_eq!(first.text.trim(), "From test_popup.vim:");
    assert!(first.context.iter().any(|l| l.starts_with("Failures:")));

    // The first item is a failure a better rule reports: that is the report,
    // and the header is not reported as well.
    let log = one_step_log(
        "rails test",
        &[
            "Failure:",
            "UserTest#test_name_is_required [test/models/user_test.rb:12]:",
            "Expected false to be truthy.",
        ],
    );
    let failures = analyze("better", log.as_bytes());
    let first = assert_first("better", &failures, Category::Test, "minitest-test");
    assert_eq!(first.line, line_of(log.as_bytes(), "UserTest#"));
    assert!(
        failures.iter().all(|f| f.rule != "ruby-test-header"),
        "{failures:#?}"
    );

    // A header heading another header: the inner one is followed.
    let log = one_step_log(
        "rake test",
        &["Failures:", "  1) Failure:", "report_test_blank_line"],
    );
    let first = expect_first("nested", log.as_bytes(), Category::Test, "ruby-test-header");
    assert_eq!(first.line, line_of(log.as_bytes(), "report_test_blank"));

    // Nothing below the header in its step: the header is the report.
    let log = one_step_log("rake test", &["Failures:"]);
    let first = expect_first("alone", log.as_bytes(), Category::Test, "ruby-test-header");
    assert_eq!(first.line, line_of(log.as_bytes(), "Failures:"));
}

/// A list of failures the tool allows (awesome_bot's `> White listed:`)
/// reports nothing, up to the blank line that ends it; the failures it
/// lists after that are reported.
#[test]
fn a_list_of_allowed_failures_is_not_reported() {
    let log = one_step_log(
        "awesome_bot README.md --allow-redirect",
        &[
            "Checking white listed URLs: ✓✓x",
            "",
            "> White listed:",
            "  1. [L0043] 200 https://example.com/ok.png",
            "  2. [L1020] 404 https://example.com/allowed-to-fail.png",
            "",
            "Issues :-(",
            "> Links",
            "  1. [L0153] 404 https://example.com/broken.png",
        ],
    );
    let failures = analyze("allowed", log.as_bytes());
    let first = assert_first("allowed", &failures, Category::Test, "link-check-failed");
    assert_eq!(first.line, line_of(log.as_bytes(), "broken.png"));
    assert!(
        failures
            .iter()
            .all(|f| !f.text.contains("allowed-to-fail") && f.rule != "link-check-allowed"),
        "{failures:#?}"
    );
}
