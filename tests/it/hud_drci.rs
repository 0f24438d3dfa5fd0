//! The HUD's pull request pages from ClickHouse classify as the Dr. CI
//! comment does: the same rows, read by the comment's handler for one pull
//! request and by `hud build --source clickhouse` for every open one at
//! once, give the same class to every failed job.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, Utc};
use ci_medic::drci::clickhouse::{Batch, NO_MERGE_BASE, OpenPull, Reader};
use ci_medic::drci::{Class, DrciSection};
use ci_medic::store::JobRow;

use crate::drci_flow::{check_on, on_run, pr_run, test_log, the_comment};
use crate::support::action::Runner;
use crate::support::clickhouse::{self as test_clickhouse, drop_database};
use crate::support::fake_github::{
    DEFAULT_BRANCH, FakeGithub, IssueBuilder, JobBuilder, OWNER, PullBuilder, REPO,
};
use crate::support::stored_job::{BROKEN, FLAKY, Stored, row};

const DOCS: (&str, &str) = (
    "FAILED tests/test_docs.py::test_links - AssertionError",
    "fp-docs",
);
const SLOW: (&str, &str) = (
    "FAILED tests/test_slow.py::test_big - TimeoutError",
    "fp-slow",
);
const EXTRA: (&str, &str) = (
    "FAILED tests/test_extra.py::test_new - AssertionError",
    "fp-extra",
);

/// The page's words for a class (`JobClass::as_str`).
fn page_word(class: Class) -> &'static str {
    ci_medic::hud::model::JobClass::from(class).as_str()
}

/// `CI / job` → class, from the comment's collapsible sections.
fn comment_classes(body: &str) -> BTreeMap<String, &'static str> {
    let mut out = BTreeMap::new();
    for class in Class::ALL {
        let title = match class {
            Class::New => "NEW FAILURES:",
            Class::Unclassified => "UNCLASSIFIED:",
            Class::Flaky => "FLAKY:",
            Class::BrokenTrunk => "BROKEN TRUNK:",
            Class::Unstable => "UNSTABLE:",
            Class::Pending => "PENDING:",
            Class::AwaitingApproval => "AWAITING APPROVAL:",
            Class::Cancelled => "CANCELLED:",
        };
        let Some(at) = body.find(title) else { continue };
        let rest = &body[at..];
        let section = &rest[..rest.find("</details>").unwrap_or(rest.len())];
        for line in section.lines().filter(|l| l.starts_with("* ")) {
            let Some(start) = line.find("`CI / ") else {
                continue;
            };
            let name = &line[start + 1..];
            let name = &name[..name.find('`').expect("closing backtick")];
            out.insert(name.to_string(), page_word(class));
        }
    }
    out
}

/// `CI / job` → class, from the rows of the page's Dr. CI table (passed
/// jobs left out, as the comment leaves them out).
fn page_classes(html: &str) -> BTreeMap<String, String> {
    let table = &html[html.find("<table id=\"jobs\"").expect("the jobs table")..];
    let table = &table[..table.find("</table>").expect("table end")];
    let mut out = BTreeMap::new();
    for tr in table.split("<tr>").skip(2) {
        let cells: Vec<&str> = tr.split("<td").skip(1).collect();
        let strip = |cell: &str| -> String {
            let mut text = String::new();
            let mut tag = false;
            for c in cell.chars() {
                match c {
                    '<' => tag = true,
                    '>' => tag = false,
                    _ if !tag => text.push(c),
                    _ => {}
                }
            }
            // The template escapes `/` too.
            text.replace("&#x2f;", "/").trim().to_string()
        };
        let class = strip(&format!("<td{}", cells[0]));
        // The chip's icon comes first: the class is its words.
        let class = class
            .split_once(' ')
            .map(|(_, w)| w.trim().to_string())
            .unwrap_or(class);
        let name = strip(&format!("<td{}", cells[1]));
        if class != "passed" {
            out.insert(name, class);
        }
    }
    out
}

#[tokio::test]
async fn hud_drci_pull_request_page_from_clickhouse_says_what_the_comment_says() {
    let url = test_clickhouse::url();
    let db = test_clickhouse::database("hud_drci");
    let store = test_clickhouse::connect(&url, &db).await;
    store.migrate().await.expect("migrate");

    let fake = FakeGithub::start().await;
    let user = std::env::var("CLICKHOUSE_USER").unwrap_or_else(|_| "default".into());
    let config = format!(
        "analyze:\n  enabled: false\nretry:\n  enabled: false\ndrci: {{}}\n\
         clickhouse:\n  url: {url}\n  user: {user}\n  database: {db}\n"
    );
    let merge_base = fake.commit_files(
        DEFAULT_BRANCH,
        &[(".github/ci-medic.yml", config.as_str())],
        "Configure ci-medic",
    );
    let head = fake.commit_files("feature", &[("src/lib.rs", "fn f() {}\n")], "Add f");
    let pr = fake.add_pull(PullBuilder::new("feature", "Add f").user("alice"));
    let other = fake.commit_files("other", &[("src/net.rs", "fn g() {}\n")], "Add g");
    let other_pr = fake.add_pull(PullBuilder::new("other", "Add g").user("bob"));
    fake.commit_files(DEFAULT_BRANCH, &[("NEWS.md", "news\n")], "News");
    fake.add_issue(IssueBuilder::new("UNSTABLE CI / slow").label("unstable"));

    let run = fake.add_run(
        pr_run(&head, pr)
            .job(JobBuilder::failed("build").log(test_log(1)))
            .job(JobBuilder::failed("test").log(test_log(2)))
            .job(JobBuilder::failed("docs").log(test_log(3)))
            .job(JobBuilder::failed("slow").log(test_log(4)))
            .job(JobBuilder::failed("extra").log(test_log(5)))
            .job(JobBuilder::new("lint")),
    );
    let [build, test, docs, slow, extra, lint] = run.jobs[..] else {
        panic!("six jobs: {run:?}");
    };
    let now = Utc::now();
    let h = |hours: i64| now - Duration::hours(hours);
    let at_head = |id, name, conclusion, cause| Stored {
        id,
        attempt: 1,
        event: "pull_request",
        branch: "feature",
        sha: &head,
        name,
        conclusion,
        cause,
        at: h(1),
    };
    let at_base = |id, name, conclusion, cause| Stored {
        id,
        attempt: 1,
        event: "push",
        branch: DEFAULT_BRANCH,
        sha: &merge_base,
        name,
        conclusion,
        cause,
        at: h(20),
    };
    let rows = [
        at_head(build, "build", "failure", Some(BROKEN)),
        at_head(test, "test", "failure", Some(FLAKY)),
        at_head(docs, "docs", "failure", Some(DOCS)),
        at_head(slow, "slow", "failure", Some(SLOW)),
        at_head(extra, "extra", "failure", Some(EXTRA)),
        at_head(lint, "lint", "success", None),
        // The merge base: `build` failed the same way, `extra` never ran.
        at_base(900_001, "build", "failure", Some(BROKEN)),
        at_base(900_002, "test", "success", None),
        at_base(900_003, "docs", "success", None),
        at_base(900_004, "slow", "success", None),
        at_base(900_005, "lint", "success", None),
        // Bob's pull request: `test` failed the same way, then passed on a
        // re-run of that commit.
        Stored {
            id: 900_010,
            attempt: 1,
            event: "pull_request",
            branch: "other",
            sha: &other,
            name: "test",
            conclusion: "failure",
            cause: Some(FLAKY),
            at: h(10),
        },
        Stored {
            id: 900_011,
            attempt: 2,
            event: "pull_request",
            branch: "other",
            sha: &other,
            name: "test",
            conclusion: "success",
            cause: None,
            at: h(9),
        },
        // Bob's head also has a stored job: it passed.
        Stored {
            id: 900_012,
            attempt: 1,
            event: "pull_request",
            branch: "other",
            sha: &other,
            name: "build",
            conclusion: "success",
            cause: None,
            at: h(9),
        },
    ];
    let rows: Vec<JobRow> = rows.into_iter().map(row).collect();
    store.insert_jobs(&rows).await.expect("insert");

    // The comment, by the Dr. CI handler.
    on_run(&fake, run.id).await;
    let body = the_comment(&fake, pr);
    let from_comment = comment_classes(&body);
    let expected: BTreeMap<String, &str> = [
        ("CI / build", "broken trunk"),
        ("CI / test", "flaky"),
        ("CI / docs", "new failure"),
        ("CI / slow", "unstable"),
        ("CI / extra", "unclassified"),
    ]
    .into_iter()
    .map(|(n, c)| (n.to_string(), c))
    .collect();
    assert_eq!(from_comment, expected, "{body}");
    assert_eq!(
        check_on(&fake, &head).conclusion.as_deref(),
        Some("failure")
    );

    // The site, from ClickHouse, with GitHub naming the open pull requests
    // and their merge bases.
    let runner = Runner::new(&fake).env("GITHUB_ACTIONS", "");
    let out = runner.path("site");
    let built = runner
        .exec(
            &[
                "hud",
                "build",
                "--source",
                "clickhouse",
                "--as-of",
                &now.to_rfc3339(),
                "--out",
                &out.display().to_string(),
            ],
            None,
        )
        .await;
    assert_eq!(built.code, 0, "{}{}", built.stdout, built.stderr);
    assert!(
        built.stdout.contains("2 open pull requests"),
        "{}",
        built.stdout
    );
    // The index's five of its own, and Dr. CI's reads: the jobs of both
    // heads and the merge base, the recent failures, retry's memory — for
    // every pull request at once.
    assert!(
        built.stdout.contains("index: 1 pages, 8 queries"),
        "{}",
        built.stdout
    );
    let page = std::fs::read_to_string(out.join(format!("pr/{pr}.html"))).expect("pr page");
    let from_page = page_classes(&page);
    let from_comment: BTreeMap<String, String> = from_comment
        .into_iter()
        .map(|(n, c)| (n, c.to_string()))
        .collect();
    assert_eq!(from_page, from_comment, "{page}");
    assert!(page.contains("Add f"), "the title from GitHub");
    // Bob's pull request passed: a page without failures.
    let bob = std::fs::read_to_string(out.join(format!("pr/{other_pr}.html"))).expect("page");
    assert!(page_classes(&bob).is_empty(), "{bob}");

    drop_database(&store).await;
}

/// Without a merge base nothing was compared: a failure the default
/// branch's history would call FLAKY is UNCLASSIFIED on the page, and an
/// UNSTABLE or lint-like one keeps its class.
#[tokio::test]
async fn hud_drci_without_a_merge_base_never_guesses_flaky() {
    let url = test_clickhouse::url();
    let store = test_clickhouse::connect(&url, &test_clickhouse::database("hud_drci_nobase")).await;
    store.migrate().await.expect("migrate");
    let now = Utc::now();
    let h = |hours: i64| now - Duration::hours(hours);
    let stored = |id, branch, event, sha, name, conclusion, cause, at| Stored {
        id,
        attempt: 1,
        event,
        branch,
        sha,
        name,
        conclusion,
        cause,
        at,
    };
    let rows = [
        stored(
            1,
            "feature",
            "pull_request",
            "head",
            "test",
            "failure",
            Some(FLAKY),
            h(1),
        ),
        stored(
            2,
            "feature",
            "pull_request",
            "head",
            "lint",
            "failure",
            Some(DOCS),
            h(1),
        ),
        // The default branch: the same failure, then a pass on a later
        // commit (FLAKY evidence, had there been a merge base).
        stored(
            3,
            DEFAULT_BRANCH,
            "push",
            "t1",
            "test",
            "failure",
            Some(FLAKY),
            h(10),
        ),
        stored(
            4,
            DEFAULT_BRANCH,
            "push",
            "t2",
            "test",
            "success",
            None,
            h(8),
        ),
    ];
    let rows: Vec<JobRow> = rows.into_iter().map(row).collect();
    store.insert_jobs(&rows).await.expect("insert");
    let section = DrciSection::default();
    let reader = Reader::new(&store, &format!("{OWNER}/{REPO}"));
    let pull = OpenPull {
        number: 5,
        head_sha: "head".into(),
        ..OpenPull::default()
    };
    let batch = Batch {
        section: &section,
        default_branch: DEFAULT_BRANCH,
        issues: &[],
        authors: &BTreeMap::new(),
        now,
    };
    let known = OpenPull {
        merge_base: Some("t0".into()),
        ..pull.clone()
    };
    let out = reader
        .classify_pulls(&[pull, known], &batch)
        .await
        .expect("classify");
    let classes = |i: usize| -> BTreeSet<(String, Class)> {
        out[i]
            .verdicts
            .iter()
            .map(|v| (v.name.clone(), v.class))
            .collect()
    };
    assert_eq!(
        classes(0),
        BTreeSet::from([
            ("CI / test".to_string(), Class::Unclassified),
            ("CI / lint".to_string(), Class::New),
        ])
    );
    assert!(
        out[0]
            .verdicts
            .iter()
            .any(|v| v.class == Class::Unclassified && v.reason == NO_MERGE_BASE)
    );
    // With a merge base, the same rows give the comment's FLAKY.
    assert!(classes(1).contains(&("CI / test".to_string(), Class::Flaky)));
    assert!(reader.queries() <= ci_medic::drci::clickhouse::MAX_QUERIES);
    drop_database(&store).await;
}
