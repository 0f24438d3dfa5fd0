//! The classification rules, one by one, and the comment's safety.

use chrono::{DateTime, Utc};

use super::classify::{Class, Normaliser, classify, is_generic};
use super::comment::{COMMENT_LIMIT, render, render_within};
use super::snapshot::{
    DEFAULT_SHARD_PATTERN, IssueRef, Job, JobFailure, Place, RecentFailure, Recovery, Snapshot,
};
use crate::analyze::Category;
use crate::github::marker;

const FP: &str = "0123456789abcdef";

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn cause(text: &str, fp: &str) -> JobFailure {
    JobFailure {
        category: Category::Test,
        rule: "pytest-failed".into(),
        text: text.into(),
        fingerprint: fp.into(),
    }
}

fn failed(name: &str, f: Option<JobFailure>) -> Job {
    Job {
        name: name.into(),
        conclusion: Some("failure".into()),
        attempt: 1,
        url: Some(format!(
            "https://github.com/o/r/actions/runs/1/job/{}",
            name.len()
        )),
        failure: f,
        ..Job::default()
    }
}

fn passed(name: &str) -> Job {
    Job {
        name: name.into(),
        conclusion: Some("success".into()),
        attempt: 1,
        ..Job::default()
    }
}

fn generic() -> JobFailure {
    JobFailure {
        category: Category::Unknown,
        rule: "fallback-error-line".into(),
        text: "##[error]Process completed with exit code 1.".into(),
        fingerprint: "ffffffffffffffff".into(),
    }
}

fn snap(jobs: Vec<Job>, base: Vec<Job>) -> Snapshot {
    Snapshot {
        pr: Some(7),
        author: Some("alice".into()),
        head_sha: "a".repeat(40),
        merge_base: "b".repeat(40),
        as_of: Some(at("2025-01-10T00:00:00Z")),
        jobs,
        base_jobs: base,
        ..Snapshot::default()
    }
}

fn recent(fp: &str, place: Place, author: Option<&str>, when: &str) -> RecentFailure {
    RecentFailure {
        job: "test".into(),
        fingerprint: fp.into(),
        place,
        pr: (place == Place::Pr).then_some(99),
        author: author.map(str::to_string),
        sha: Some("c".repeat(40)),
        url: None,
        at: Some(at(when)),
        recovered: Some(Recovery::Rerun),
    }
}

fn class_of(s: &Snapshot, name: &str) -> Class {
    classify(s)
        .unwrap()
        .into_iter()
        .find(|v| v.name == name)
        .map(|v| v.class)
        .unwrap_or_else(|| panic!("no verdict for {name}"))
}

#[test]
fn the_same_failure_on_the_merge_base_is_broken_trunk() {
    let s = snap(
        vec![failed("test", Some(cause("FAILED test_a", FP)))],
        vec![failed("test", Some(cause("FAILED test_a", FP)))],
    );
    let v = classify(&s).unwrap();
    assert_eq!(v[0].class, Class::BrokenTrunk);
    let ev = v[0].evidence.as_ref().unwrap();
    assert_eq!(
        (ev.kind, ev.sha.as_deref()),
        ("merge_base", Some(&*"b".repeat(40)))
    );
}

#[test]
fn the_same_job_failing_differently_on_the_base_is_new() {
    let s = snap(
        vec![failed("test", Some(cause("FAILED test_a", FP)))],
        vec![failed(
            "test",
            Some(cause("FAILED test_b", "fedcba9876543210")),
        )],
    );
    let v = classify(&s).unwrap();
    assert_eq!(v[0].class, Class::New);
    assert_eq!(v[0].reason, "failed differently on the merge base");
}

#[test]
fn a_job_that_passed_on_the_base_is_new() {
    let s = snap(
        vec![failed("test", Some(cause("FAILED test_a", FP)))],
        vec![passed("test")],
    );
    assert_eq!(class_of(&s, "test"), Class::New);
}

#[test]
fn a_job_absent_on_the_base_is_unclassified() {
    let s = snap(
        vec![failed("new-job", Some(cause("FAILED test_a", FP)))],
        vec![passed("other")],
    );
    assert_eq!(class_of(&s, "new-job"), Class::Unclassified);
    // A base job that never finished is no result either.
    let mut running = passed("new-job");
    running.status = Some("in_progress".into());
    running.conclusion = None;
    let s = snap(
        vec![failed("new-job", Some(cause("FAILED test_a", FP)))],
        vec![running],
    );
    assert_eq!(class_of(&s, "new-job"), Class::Unclassified);
}

#[test]
fn a_generic_failure_is_never_flaky_nor_broken_trunk() {
    let g = generic();
    assert!(is_generic(Some(&g)));
    assert!(is_generic(None));
    let mut s = snap(
        vec![
            failed("test", Some(g.clone())),
            failed("nolog", None),
            failed(
                "step",
                Some(JobFailure {
                    rule: "fallback-step-command".into(),
                    text: "Run false".into(),
                    ..g.clone()
                }),
            ),
        ],
        vec![
            failed("test", Some(g.clone())),
            passed("nolog"),
            passed("step"),
        ],
    );
    // Every kind of evidence at once, all for the generic fingerprint.
    s.recent_failures = vec![recent(
        &g.fingerprint,
        Place::Trunk,
        None,
        "2025-01-09T00:00:00Z",
    )];
    s.known_flaky = vec!["test".into(), "nolog".into(), "step".into()];
    s.issues = vec![IssueRef {
        number: Some(1),
        title: "DISABLED Process".into(),
    }];
    for v in classify(&s).unwrap() {
        assert_eq!(v.class, Class::New, "{}: {}", v.name, v.reason);
        assert!(v.reason.contains("generic"), "{}", v.reason);
    }
    // ...and with no result on the base, UNCLASSIFIED, never FLAKY.
    s.base_jobs.clear();
    for v in classify(&s).unwrap() {
        assert_eq!(v.class, Class::Unclassified, "{}", v.name);
    }
}

#[test]
fn exit_code_137_is_a_cause_not_a_generic_failure() {
    let oom = JobFailure {
        category: Category::Resource,
        rule: "exit-137".into(),
        text: "Process completed with exit code 137.".into(),
        fingerprint: FP.into(),
    };
    assert!(!is_generic(Some(&oom)));
}

#[test]
fn flaky_needs_a_recovered_failure_elsewhere_within_the_window() {
    let job = || vec![failed("test", Some(cause("ConnectionResetError", FP)))];
    let base = || vec![passed("test")];
    // On trunk, two days ago, passed on a re-run: FLAKY.
    let mut s = snap(job(), base());
    s.recent_failures = vec![recent(FP, Place::Trunk, None, "2025-01-08T00:00:00Z")];
    assert_eq!(class_of(&s, "test"), Class::Flaky);
    // Outside the 3-day window: NEW.
    s.recent_failures = vec![recent(FP, Place::Trunk, None, "2025-01-06T00:00:00Z")];
    assert_eq!(class_of(&s, "test"), Class::New);
    // A wider window takes it in.
    s.config.flaky_window_days = 5;
    assert_eq!(class_of(&s, "test"), Class::Flaky);
    s.config.flaky_window_days = 3;
    // Never recovered: no evidence.
    let mut r = recent(FP, Place::Trunk, None, "2025-01-09T00:00:00Z");
    r.recovered = None;
    s.recent_failures = vec![r];
    assert_eq!(class_of(&s, "test"), Class::New);
    // Another fingerprint: no evidence.
    s.recent_failures = vec![recent(
        "1111111111111111",
        Place::Trunk,
        None,
        "2025-01-09T00:00:00Z",
    )];
    assert_eq!(class_of(&s, "test"), Class::New);
    // Another author's pull request: FLAKY; the same author's, or unknown: NEW.
    s.recent_failures = vec![recent(FP, Place::Pr, Some("bob"), "2025-01-09T00:00:00Z")];
    assert_eq!(class_of(&s, "test"), Class::Flaky);
    s.recent_failures = vec![recent(FP, Place::Pr, Some("Alice"), "2025-01-09T00:00:00Z")];
    assert_eq!(class_of(&s, "test"), Class::New);
    s.recent_failures = vec![recent(FP, Place::Pr, None, "2025-01-09T00:00:00Z")];
    assert_eq!(class_of(&s, "test"), Class::New);
    // A failure after the snapshot was taken does not count.
    s.recent_failures = vec![recent(FP, Place::Trunk, None, "2025-01-11T00:00:00Z")];
    assert_eq!(class_of(&s, "test"), Class::New);
}

#[test]
fn known_flaky_and_infrastructure_are_flaky() {
    let mut s = snap(
        vec![
            failed(
                "test (default, 2, 4, linux)",
                Some(cause("AssertionError", FP)),
            ),
            failed(
                "smoke",
                Some(JobFailure {
                    category: Category::Infrastructure,
                    rule: "runner-lost".into(),
                    text: "The runner has received a shutdown signal.".into(),
                    fingerprint: "2222222222222222".into(),
                }),
            ),
        ],
        vec![passed("test (default, 1, 4, linux)"), passed("smoke")],
    );
    s.known_flaky = vec!["test (default, 3, 4, linux)".into()];
    assert_eq!(class_of(&s, "test (default, 2, 4, linux)"), Class::Flaky);
    assert_eq!(class_of(&s, "smoke"), Class::Flaky);
}

#[test]
fn shards_and_matrix_cells_compare_by_normalised_name() {
    let n = Normaliser::new(DEFAULT_SHARD_PATTERN).unwrap();
    for (name, want) in [
        (
            "linux / test (default, 1, 5, linux.2xlarge)",
            "linux / test (default)",
        ),
        ("test (default, 5, 5)", "test (default)"),
        ("tests (shard 2/4)", "tests"),
        ("tests (shard-3)", "tests"),
        ("test (ubuntu, 1/2)", "test (ubuntu)"),
        ("test (3 of 4)", "test"),
        ("test (ubuntu, py3.11)", "test (ubuntu, py3.11)"),
        ("build", "build"),
    ] {
        assert_eq!(n.normalise(name), want, "{name}");
    }
    let s = snap(
        vec![failed("test (default, 2, 3, linux)", Some(cause("E1", FP)))],
        vec![failed("test (default, 1, 3, linux)", Some(cause("E1", FP)))],
    );
    assert_eq!(
        class_of(&s, "test (default, 2, 3, linux)"),
        Class::BrokenTrunk
    );
    // Without normalisation the shards are different jobs: UNCLASSIFIED.
    let mut s = s;
    s.config.shard_pattern = "^$".into();
    assert_eq!(
        class_of(&s, "test (default, 2, 3, linux)"),
        Class::Unclassified
    );
    // A bad pattern is an error, not a panic.
    s.config.shard_pattern = "(".into();
    assert!(classify(&s).is_err());
}

#[test]
fn lint_like_jobs_are_always_new() {
    let mut s = snap(
        vec![failed("lint", Some(cause("E501 line too long", FP)))],
        vec![failed("lint", Some(cause("E501 line too long", FP)))],
    );
    s.known_flaky = vec!["lint".into()];
    s.recent_failures = vec![recent(FP, Place::Trunk, None, "2025-01-09T00:00:00Z")];
    let v = classify(&s).unwrap();
    assert_eq!(v[0].class, Class::New);
    assert!(v[0].reason.contains("lint"));
    // A configured pattern makes a job lint-like; absent on the base, still NEW.
    let mut s = snap(
        vec![failed("check-headers", Some(cause("bad header", FP)))],
        vec![],
    );
    s.config.lint = vec!["^check-".into()];
    assert_eq!(class_of(&s, "check-headers"), Class::New);
}

#[test]
fn unstable_by_issue_or_pattern() {
    let mut s = snap(
        vec![
            failed("trunk / macos-test (default, 1, 2)", Some(cause("E", FP))),
            failed("nightly-docs", Some(cause("E2", "3333333333333333"))),
            failed("macos-other", Some(cause("E3", "4444444444444444"))),
        ],
        vec![passed("macos-other")],
    );
    s.issues = vec![
        IssueRef {
            number: Some(5),
            title: "UNSTABLE trunk / macos-test".into(),
        },
        // Not the keyword: ignored.
        IssueRef {
            number: Some(6),
            title: "UNSTABLEmacos-other".into(),
        },
    ];
    s.config.unstable = vec!["^nightly-".into()];
    assert_eq!(
        class_of(&s, "trunk / macos-test (default, 1, 2)"),
        Class::Unstable
    );
    assert_eq!(class_of(&s, "nightly-docs"), Class::Unstable);
    assert_eq!(class_of(&s, "macos-other"), Class::New);
}

#[test]
fn a_disabled_job_is_listed_unstable_and_a_title_naming_a_test_hides_no_job() {
    let mut s = snap(
        vec![
            failed(
                "test",
                Some(cause("FAILED test_ops.py::test_add - AssertionError", FP)),
            ),
            failed(
                "trunk / build (linux, 1, 2)",
                Some(cause("E", "6666666666666666")),
            ),
            failed("trunk / builder", Some(cause("E", "7777777777777777"))),
        ],
        vec![
            passed("test"),
            passed("trunk / build"),
            passed("trunk / builder"),
        ],
    );
    s.issues = vec![
        // A test, not a job: the failing job stays the change's.
        IssueRef {
            number: Some(9),
            title: "DISABLED test_ops.py::test_add".into(),
        },
        // A job, by the job name alone, ending on a word boundary.
        IssueRef {
            number: Some(10),
            title: "disabled  build".into(),
        },
    ];
    let v = classify(&s).unwrap();
    let get = |n: &str| v.iter().find(|x| x.name == n).unwrap();
    assert_eq!(get("test").class, Class::New, "{}", get("test").reason);
    let build = get("trunk / build (linux, 1, 2)");
    assert_eq!(build.class, Class::Unstable);
    assert_eq!(build.reason, "marked disabled by an open issue");
    assert_eq!(build.evidence.as_ref().unwrap().issue, Some(10));
    assert_eq!(get("trunk / builder").class, Class::New);
    // The same words after UNSTABLE: the same jobs.
    s.issues[1].title = "UNSTABLE trunk / build".into();
    let v = classify(&s).unwrap();
    let build = v
        .iter()
        .find(|x| x.name.starts_with("trunk / build ("))
        .unwrap();
    assert_eq!(build.reason, "marked unstable by an open issue");
    assert_eq!(class_of(&s, "trunk / builder"), Class::New);
    assert_eq!(class_of(&s, "test"), Class::New);
}

#[test]
fn the_second_pass_spreads_flaky_and_unstable_by_fingerprint() {
    let mut s = snap(
        vec![
            failed(
                "unstable-job",
                Some(cause("Timeout talking to registry", FP)),
            ),
            failed("other-job", Some(cause("Timeout talking to registry", FP))),
            failed("lint", Some(cause("Timeout talking to registry", FP))),
            failed("unrelated", Some(cause("different", "5555555555555555"))),
        ],
        vec![
            passed("unstable-job"),
            passed("other-job"),
            passed("lint"),
            passed("unrelated"),
        ],
    );
    s.issues = vec![IssueRef {
        number: Some(3),
        title: "UNSTABLE unstable-job".into(),
    }];
    let v = classify(&s).unwrap();
    let get = |n: &str| v.iter().find(|x| x.name == n).unwrap();
    assert_eq!(get("other-job").class, Class::Unstable);
    assert_eq!(get("other-job").evidence.as_ref().unwrap().kind, "same_pr");
    assert_eq!(get("lint").class, Class::New);
    assert_eq!(get("unrelated").class, Class::New);
}

#[test]
fn the_second_pass_spreads_flaky_from_a_known_flaky_job() {
    let mut s = snap(
        vec![
            failed("flaky-job", Some(cause("Connection reset by peer", FP))),
            failed("other-job", Some(cause("Connection reset by peer", FP))),
        ],
        vec![passed("flaky-job"), passed("other-job")],
    );
    assert_eq!(class_of(&s, "other-job"), Class::New);
    s.known_flaky = vec!["flaky-job".into()];
    let v = classify(&s).unwrap();
    let other = v.iter().find(|x| x.name == "other-job").unwrap();
    assert_eq!(other.class, Class::Flaky);
    let ev = other.evidence.as_ref().unwrap();
    assert_eq!((ev.kind, ev.job.as_deref()), ("same_pr", Some("flaky-job")));
}

#[test]
fn the_second_pass_never_spreads_a_generic_fingerprint() {
    let g = generic();
    let mut s = snap(
        vec![
            failed("unstable-job", Some(g.clone())),
            failed("other", Some(g)),
        ],
        vec![passed("unstable-job"), passed("other")],
    );
    s.issues = vec![IssueRef {
        number: Some(3),
        title: "UNSTABLE unstable-job".into(),
    }];
    assert_eq!(class_of(&s, "unstable-job"), Class::Unstable);
    assert_eq!(class_of(&s, "other"), Class::New);
}

#[test]
fn the_latest_attempt_counts() {
    let mut retried = passed("test");
    retried.attempt = 2;
    let mut again = failed("build", Some(cause("E", FP)));
    again.attempt = 3;
    let s = snap(
        vec![
            failed("test", Some(cause("E", FP))),
            retried,
            again,
            passed("build"),
        ],
        vec![passed("test"), passed("build")],
    );
    let v = classify(&s).unwrap();
    assert_eq!(v.len(), 1);
    assert_eq!(
        (v[0].name.as_str(), v[0].class, v[0].attempt),
        ("build", Class::New, 3)
    );
}

#[test]
fn pending_cancelled_and_awaiting_approval() {
    let job = |name: &str, status: Option<&str>, conclusion: Option<&str>| Job {
        name: name.into(),
        status: status.map(Into::into),
        conclusion: conclusion.map(Into::into),
        attempt: 1,
        ..Job::default()
    };
    let s = snap(
        vec![
            job("queued", Some("queued"), None),
            job("running", Some("in_progress"), None),
            job("cancelled", None, Some("cancelled")),
            job("approval", None, Some("action_required")),
            job("startup", None, Some("startup_failure")),
            job("skipped", None, Some("skipped")),
            job("timed-out", None, Some("timed_out")),
        ],
        vec![],
    );
    let v = classify(&s).unwrap();
    let classes: Vec<(&str, Class)> = v.iter().map(|x| (x.name.as_str(), x.class)).collect();
    assert_eq!(
        classes,
        [
            ("queued", Class::Pending),
            ("running", Class::Pending),
            ("cancelled", Class::Cancelled),
            ("approval", Class::AwaitingApproval),
            ("startup", Class::AwaitingApproval),
            ("timed-out", Class::Unclassified),
        ]
    );
}

#[test]
fn the_header_counts_and_says_when_to_merge() {
    let s = snap(
        vec![
            failed("test", Some(cause("E", FP))),
            failed("flaky", Some(cause("E9", "6666666666666666"))),
        ],
        vec![passed("test"), passed("flaky")],
    );
    let mut s = s;
    s.known_flaky = vec!["flaky".into()];
    let v = classify(&s).unwrap();
    let body = render(Some(7), &s.head_sha, &s.merge_base, &v);
    assert_eq!(marker::find_key(&body, "drci"), Some("7"));
    assert!(
        body.contains("## ❌ 1 New Failure, 0 Pending, 1 Unrelated Failure\n"),
        "{body}"
    );
    assert!(!body.contains("merge normally"));
    let only_flaky: Vec<_> = v.into_iter().filter(|x| x.class == Class::Flaky).collect();
    let body = render(Some(7), &s.head_sha, &s.merge_base, &only_flaky);
    assert!(
        body.contains("## ✅ 0 New Failures, 0 Pending, 1 Unrelated Failure\n"),
        "{body}"
    );
    assert!(body.contains("You can merge normally."));
    assert!(body.contains(&format!("`{}`", "a".repeat(12))));
}

#[test]
fn hostile_job_names_and_log_lines_are_inert() {
    let evil_name =
        "x` <!-- ci-medic:drci:7 --> @admin #1 [link](https://evil.example) </details>\n## Boom";
    let evil_line = "--> <!-- ci-medic:drci:8 --> `` @team </summary> \u{202E}";
    let mut j = failed(evil_name, Some(cause(evil_line, FP)));
    j.url = Some("https://evil.example/x) [y](javascript:alert(1)".into());
    let mut s = snap(vec![j], vec![failed(evil_name, Some(cause(evil_line, FP)))]);
    s.issues = vec![IssueRef {
        number: Some(1),
        title: "DISABLED nothing <!-- ci-medic:drci:9 -->".into(),
    }];
    let v = classify(&s).unwrap();
    let body = render(Some(7), &s.head_sha, &s.merge_base, &v);
    // One marker, ours, on the first line; no other comment opener or closer.
    assert_eq!(body.matches("<!--").count(), 1, "{body}");
    assert_eq!(body.matches("-->").count(), 1, "{body}");
    assert_eq!(marker::find_key(&body, "drci"), Some("7"));
    // Names and lines sit in one-line code spans: no heading, no closing tag
    // from outside, no bidi control, and the bad URL is not linked.
    assert!(!body.contains("\n## Boom"));
    assert_eq!(
        body.lines().filter(|l| l.starts_with("</details>")).count(),
        1,
        "{body}"
    );
    for line in body.lines().filter(|l| l.contains("ci-medic:drci:8")) {
        assert!(line.trim_start().starts_with('`'), "{line}");
    }
    assert!(!body.contains('\u{202E}'));
    assert!(!body.contains("](https://evil.example/x"));
    assert!(!body.contains("javascript:"), "{body}");
}

#[test]
fn a_long_comment_is_truncated_with_a_count() {
    let jobs: Vec<Job> = (0..2000)
        .map(|i| {
            failed(
                &format!("job-{i:04}-{}", "n".repeat(150)),
                Some(cause(&"x".repeat(300), FP)),
            )
        })
        .collect();
    let s = snap(jobs, vec![]);
    let v = classify(&s).unwrap();
    let body = render(Some(7), &s.head_sha, &s.merge_base, &v);
    assert!(body.chars().count() <= COMMENT_LIMIT);
    assert!(body.contains("more not shown"), "{}", &body[..500]);
    assert!(body.contains("job-0000"));
    assert!(!body.contains("job-1999"));
    // Even a tiny limit gives a body with the marker and the header.
    let small = render_within(Some(7), &s.head_sha, &s.merge_base, &v, 1500);
    assert!(small.chars().count() <= 1500, "{}", small.len());
    assert!(small.contains("more not shown"), "{small}");
    assert!(small.contains("(2000)"), "{small}");
    assert_eq!(marker::find_key(&small, "drci"), Some("7"));
}

fn downstream(name: &str, level: &str, conclusion: Option<&str>) -> super::snapshot::Downstream {
    super::snapshot::Downstream {
        name: name.into(),
        repo: name
            .trim_start_matches("crcr/")
            .split(" / ")
            .next()
            .unwrap_or_default()
            .into(),
        level: level.into(),
        status: Some(
            if conclusion.is_some() {
                "completed"
            } else {
                "in_progress"
            }
            .into(),
        ),
        conclusion: conclusion.map(Into::into),
        url: None,
    }
}

#[test]
fn an_l4_downstream_failure_is_new_and_an_l3_one_is_only_listed() {
    let mut s = snap(vec![passed("CI / test")], vec![passed("CI / test")]);
    s.downstream = vec![
        downstream("crcr/o/four / build", "L4", Some("failure")),
        downstream("crcr/o/four / docs", "L4", None),
        downstream("crcr/o/four / ok", "L4", Some("success")),
        downstream("crcr/o/three / test", "L3", Some("failure")),
        downstream("crcr/o/three / ok", "L3", Some("success")),
    ];
    let v = classify(&s).unwrap();
    let classes: Vec<(&str, Class)> = v.iter().map(|v| (v.name.as_str(), v.class)).collect();
    assert_eq!(
        classes,
        [
            ("crcr/o/four / build", Class::New),
            ("crcr/o/four / docs", Class::Pending)
        ]
    );
    assert_eq!(v[0].evidence.as_ref().map(|e| e.kind), Some("downstream"));
    let notes = super::classify::non_blocking(&s);
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].name, "crcr/o/three / test");
    assert_eq!(notes[0].state, "failed");
    let out = super::evaluate(&s).unwrap();
    assert!(
        out.comment.contains("DOWNSTREAM (non-blocking)"),
        "{}",
        out.comment
    );
    assert_eq!(out.counts.new, 1);
}

#[test]
fn the_cache_is_read_only_from_a_sealed_body() {
    use super::comment::{AnalysisCache, read_cache, visible, with_cache};
    let mut cache = AnalysisCache::default();
    cache.insert(7, Some(&cause("FAILED t.py::x - `--> @all", FP)));
    cache.insert(8, None);
    let body = with_cache("<!-- ci-medic:drci:1 -->\n## ✅ fine\n", &cache);
    let read = read_cache(&body).expect("sealed cache");
    assert_eq!(read.jobs, cache.jobs);
    assert_eq!(visible(&body), "<!-- ci-medic:drci:1 -->\n## ✅ fine");
    // Any edit breaks the seal.
    assert_eq!(read_cache(&body.replace("fine", "fine!")), None);
    // A block quoted from a log or a pull request's text: not the last
    // line, or not sealed, counts for nothing.
    let forged_line = body.lines().last().unwrap().to_string();
    assert_eq!(read_cache(&format!("{forged_line}\nmore text\n")), None);
    let unsealed = forged_line.replace(
        &read.body_sha256.clone().unwrap(),
        crate::report::hidden::DIGEST_PLACEHOLDER,
    );
    assert_eq!(read_cache(&format!("text\n{unsealed}\n")), None);
    // Nothing cached: no block.
    assert_eq!(with_cache("x\n", &AnalysisCache::default()), "x\n");
}

#[test]
fn the_cache_keeps_within_its_bounds() {
    use super::comment::{AnalysisCache, CACHE_MAX_CHARS, CACHE_MAX_JOBS, with_cache};
    let mut cache = AnalysisCache::default();
    for id in 0..(CACHE_MAX_JOBS as u64 + 50) {
        cache.insert(id, Some(&cause(&"x".repeat(900), FP)));
    }
    assert_eq!(cache.jobs.len(), CACHE_MAX_JOBS);
    // A cause longer than the bound is not kept.
    let mut small = AnalysisCache::default();
    small.insert(1, Some(&cause(&"y".repeat(5_000), FP)));
    assert!(small.jobs.is_empty());
    let body = with_cache("body\n", &cache);
    assert!(body.chars().count() <= "body\n\n".len() + CACHE_MAX_CHARS + 1);
    assert!(super::comment::read_cache(&body).is_some());
}
