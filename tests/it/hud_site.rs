//! `hud build` offline: the demo snapshot in `fixtures/hud/` (built here
//! from the repository's own fixtures), every page it gives, and hostile
//! strings that must come out as text.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{Duration, NaiveDate};
use ci_medic::analyze::{self, RuleSet};
use ci_medic::autorevert::detect::Params;
use ci_medic::event::{Conclusion, Status};
use ci_medic::history::snapshot::Snapshot as TrunkSnapshot;
use ci_medic::hud::aggregate::{Aggregate, JobRow};
use ci_medic::hud::model::{
    Action, ActionKind, DayCount, DownstreamJob, FailureIssue, FingerprintCount, FlakyJob,
    HudSnapshot, JobClass, Outcome, PullJob, PullView, TrunkCell, TrunkGrid, TrunkRow,
};
use ci_medic::hud::pages::MAX_PAGE_BYTES;

use crate::support::action::Runner;
use crate::support::fake_github::FakeGithub;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn demo_path() -> PathBuf {
    root().join("fixtures/hud/demo.json")
}

/// A small deterministic generator (the demo must not change between runs).
struct Lcg(u64);
impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n.max(1)
    }
}

/// The demo snapshot, from the repository's fixtures (see
/// `fixtures/hud/PROVENANCE.md`).
pub fn build_demo() -> HudSnapshot {
    let trunk_text = std::fs::read_to_string(root().join("fixtures/autorevert/confirmed.json"))
        .expect("hud test data");
    let trunk: TrunkSnapshot = serde_json::from_str(&trunk_text).expect("hud test data");
    let now = trunk.now;
    let mut snap = HudSnapshot::empty(&trunk.repo, now, 14);
    let server = snap.server_url.clone();
    snap.trunk = ci_medic::hud::trunk::grids(&trunk, &Params::default(), &server);

    // Real job logs, analysed: the failures the issues and fingerprints show.
    let rules = RuleSet::builtin();
    let logs = [
        (
            "trunk",
            "linux-jammy / test (default, 1, 2)",
            "fixtures/logs/gha_pytest_failed.txt",
        ),
        ("lint", "lint / ruff", "fixtures/logs/gha_ruff_lint.txt"),
        (
            "trunk",
            "linux-jammy / build",
            "fixtures/logs/travis_rust_compile.log",
        ),
        (
            "docs",
            "docs / build",
            "fixtures/logs/synthetic_network_npm.txt",
        ),
        (
            "trunk",
            "win / test (default, 1, 1)",
            "fixtures/logs/synthetic_disk_full.txt",
        ),
        (
            "nightly",
            "nightly / upload",
            "fixtures/logs/synthetic_rate_limit.txt",
        ),
        ("pull", "pull / tsc", "fixtures/drci/logs/pixijs-tsc.txt"),
        (
            "pull",
            "pull / codespell",
            "fixtures/drci/logs/gpt4all-codespell.txt",
        ),
    ];
    let mut agg = Aggregate::default();
    let mut rng = Lcg(42);
    for (i, (workflow, job, log)) in logs.iter().enumerate() {
        let failure = analyze::analyze_file(&root().join(log), &rules)
            .expect("hud test data")
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("{log} explains no failure"));
        let n = 1 + (i as u64 * 7) % 11;
        let category = failure.category.as_str().to_string();
        for k in 0..n {
            let run = 9_000 + i as u64 * 100 + k;
            let url = format!(
                "https://github.com/{}/actions/runs/{run}/job/{}",
                snap.repo,
                run * 10
            );
            agg.add(&JobRow {
                workflow,
                name: job,
                sha: &format!("{:040x}", run),
                status: Some(&Status::Completed),
                conclusion: Some(&Conclusion::Failure),
                completed_at: Some(now - Duration::hours(rng.below(24 * 13) as i64)),
                url: Some(&url),
                fingerprint: Some(&failure.fingerprint),
                category: Some(&category),
                rule: Some(&failure.rule),
                line: Some(&failure.text),
            });
        }
        if i < 6 {
            let number = 310 + i as u64;
            snap.issues.push(FailureIssue {
                number,
                title: format!("{workflow}: {category} in {job}: {}", failure.rule),
                url: format!("https://github.com/{}/issues/{number}", snap.repo),
                category: category.clone(),
                fingerprint: Some(failure.fingerprint.clone()),
                workflow: Some(workflow.to_string()),
                opened_at: Some(now - Duration::days(12 - i as i64)),
                occurrences: n,
            });
        }
    }
    // The flaky fixture's jobs: a job that failed and passed on one commit.
    let flaky: TrunkSnapshot = serde_json::from_str(
        &std::fs::read_to_string(root().join("fixtures/autorevert/flaky.json"))
            .expect("hud test data"),
    )
    .expect("hud test data");
    for j in flaky.jobs.iter().chain(trunk.jobs.iter()) {
        agg.add(&JobRow {
            workflow: &j.workflow,
            name: &j.name,
            sha: &j.sha,
            status: Some(&j.status),
            conclusion: j.conclusion.as_ref(),
            completed_at: None,
            url: j.url.as_deref(),
            fingerprint: None,
            ..JobRow::default()
        });
    }
    snap.fingerprints = agg.fingerprints();
    for f in &mut snap.fingerprints {
        f.issue = snap
            .issues
            .iter()
            .find(|i| i.fingerprint.as_deref() == Some(f.fingerprint.as_str()))
            .map(|i| i.number);
    }
    snap.flaky = agg.flaky();
    // Jobs per day over the window, with the failures above spread in.
    let failed: BTreeMap<NaiveDate, u64> =
        agg.daily().into_iter().map(|d| (d.day, d.failed)).collect();
    snap.daily = (0..14)
        .rev()
        .map(|d| {
            let day = (now - Duration::days(d)).date_naive();
            let f = failed.get(&day).copied().unwrap_or(0);
            DayCount {
                day,
                jobs: 120 + rng.below(80) + f,
                failed: f,
            }
        })
        .collect();

    // Dr. CI on the two example pull requests (real logs, classified).
    for (file, title) in [
        ("fixtures/drci/mixed.json", "Speed up the tensor printer"),
        ("fixtures/drci/green.json", "Fix a typo in the README"),
    ] {
        let dsnap = ci_medic::drci::load(&root().join(file), &rules).expect("hud test data");
        let verdicts = ci_medic::drci::classify::classify(&dsnap).expect("hud test data");
        let number = dsnap.pr.expect("hud test data");
        snap.prs.push(PullView::from_drci(
            number,
            title,
            Some(format!("https://github.com/{}/pull/{number}", snap.repo)),
            &dsnap.head_sha,
            &verdicts,
        ));
    }

    // What ci-medic did.
    snap.actions = vec![
        Action {
            ts: now - Duration::hours(3),
            kind: ActionKind::Revert,
            subject: "Change 2 (#202)".into(),
            reason: "the restart failed again with the same failure".into(),
            url: Some(format!("https://github.com/{}/pull/205", snap.repo)),
            dry_run: false,
        },
        Action {
            ts: now - Duration::hours(4),
            kind: ActionKind::Restart,
            subject: "trunk on 3333333".into(),
            reason: "confirm the suspect".into(),
            url: None,
            dry_run: false,
        },
        Action {
            ts: now - Duration::hours(20),
            kind: ActionKind::Rerun,
            subject: "docs / build".into(),
            reason: "network failure".into(),
            url: Some(format!(
                "https://github.com/{}/actions/runs/9300",
                snap.repo
            )),
            dry_run: false,
        },
        Action {
            ts: now - Duration::days(2),
            kind: ActionKind::Heal,
            subject: "issue 313".into(),
            reason: "setup-node: cache npm downloads".into(),
            url: Some(format!("https://github.com/{}/pull/290", snap.repo)),
            dry_run: false,
        },
        Action {
            ts: now - Duration::days(3),
            kind: ActionKind::Notify,
            subject: "Change 0 (#200)".into(),
            reason: "restarts could not confirm the pattern".into(),
            url: None,
            dry_run: true,
        },
    ];

    // Downstream: the backends of the allowlist fixture, on both pull requests.
    let backends = [
        (
            "Ascend/pytorch",
            "L2",
            ["build", "test-npu (1, 2)", "test-npu (2, 2)"],
        ),
        (
            "TorchedHat/pytorch-redhat-ci",
            "L2",
            ["ubi9 / build", "ubi9 / smoke", "ubi9 / test"],
        ),
        (
            "torch-spyre/torch-spyre",
            "L2",
            ["spyre / compile", "spyre / unit", "spyre / e2e"],
        ),
        (
            "vllm-project/vllm",
            "L2",
            ["vllm / build", "vllm / basic-correctness", "vllm / models"],
        ),
        (
            "pytorch/crcr-test",
            "L3",
            ["echo", "fail-on-purpose", "report"],
        ),
    ];
    let mut jobs = Vec::new();
    for (b, (repo, level, names)) in backends.iter().enumerate() {
        for pr in &snap.prs {
            for (k, name) in names.iter().enumerate() {
                let run_id = 70_000 + b as u64 * 100 + pr.number % 100 * 3 + k as u64;
                let fail =
                    (b + k + pr.number as usize).is_multiple_of(4) || *name == "fail-on-purpose";
                let started = now - Duration::minutes(30 + rng.below(600) as i64);
                let secs = 120 + rng.below(3000) as i64;
                jobs.push(DownstreamJob {
                    downstream_repo: repo.to_string(),
                    level: level.to_string(),
                    pr_number: pr.number,
                    head_sha: pr.head_sha.clone(),
                    workflow_name: "crcr".into(),
                    job_name: name.to_string(),
                    run_id,
                    run_attempt: 1,
                    status: Some(Status::Completed),
                    conclusion: Some(if fail { "failure" } else { "success" }.into()),
                    started_at: Some(started),
                    completed_at: Some(started + Duration::seconds(secs)),
                    execution_time_s: Some(secs as f64),
                    tests_total: Some(200 + rng.below(800)),
                    tests_failed: Some(if fail { 1 + rng.below(5) } else { 0 }),
                    log_url: Some(format!("https://github.com/{repo}/actions/runs/{run_id}")),
                    trusted: b != 3,
                });
            }
        }
    }
    snap.downstream = Some(jobs);
    snap
}

/// Hostile strings in every field that reaches a page.
pub const XSS_SCRIPT: &str = "<script>window.__pwned=1</script>";
pub const XSS_IMG: &str = "\"><img src=x onerror=\"window.__pwned=2\">";
pub const XSS_JS_URL: &str = "javascript:window.__pwned=3";

pub fn hostile_snapshot() -> HudSnapshot {
    let mut s = build_demo();
    let long = "A".repeat(5000);
    s.repo = format!("o/r{XSS_IMG}");
    s.issues.push(FailureIssue {
        number: 666,
        title: format!("{XSS_SCRIPT} @octocat {long}"),
        url: XSS_JS_URL.into(),
        category: XSS_IMG.into(),
        fingerprint: Some(XSS_SCRIPT.into()),
        workflow: Some(format!("{XSS_IMG}\u{202E}evil")),
        opened_at: None,
        occurrences: 1,
    });
    s.fingerprints.insert(
        0,
        FingerprintCount {
            fingerprint: XSS_IMG.into(),
            category: XSS_SCRIPT.into(),
            rule: Some(XSS_SCRIPT.into()),
            line: Some(format!("{XSS_IMG}{long}")),
            count: 1_000_000,
            last_seen: None,
            example_url: Some("data:text/html,<script>window.__pwned=4</script>".into()),
            issue: Some(666),
        },
    );
    s.flaky.insert(
        0,
        FlakyJob {
            workflow: XSS_SCRIPT.into(),
            name: XSS_IMG.into(),
            flaky: 99,
            runs: 100,
            last_url: Some("https://evil.example/x".into()),
        },
    );
    s.actions.push(Action {
        ts: s.generated_at,
        kind: ActionKind::Rerun,
        subject: XSS_SCRIPT.into(),
        reason: XSS_IMG.into(),
        url: Some(XSS_JS_URL.into()),
        dry_run: false,
    });
    s.trunk.push(TrunkGrid {
        workflow: XSS_SCRIPT.into(),
        signals: vec![XSS_IMG.into(), long.clone()],
        commits: vec![TrunkRow {
            sha: XSS_IMG.into(),
            title: XSS_SCRIPT.into(),
            time: None,
            cells: vec![TrunkCell {
                outcome: Outcome::Failure,
                restarted: true,
                url: Some(XSS_JS_URL.into()),
            }],
            decision: None,
        }],
    });
    s.prs.push(PullView {
        number: 667,
        title: format!("{XSS_SCRIPT}{long}"),
        head_sha: "abc".into(),
        url: Some(XSS_JS_URL.into()),
        jobs: vec![PullJob {
            name: XSS_IMG.into(),
            class: JobClass::New,
            reason: XSS_SCRIPT.into(),
            cause: Some(XSS_IMG.into()),
            url: Some("https://github.com.evil.example/x".into()),
        }],
    });
    if let Some(d) = &mut s.downstream {
        d.push(DownstreamJob {
            downstream_repo: format!("{XSS_IMG}/../../x"),
            level: XSS_SCRIPT.into(),
            pr_number: 667,
            head_sha: "abc".into(),
            workflow_name: XSS_SCRIPT.into(),
            job_name: format!("{XSS_SCRIPT}{long}"),
            run_id: 1,
            run_attempt: 1,
            status: Some(Status::Completed),
            conclusion: Some("failure".into()),
            started_at: None,
            completed_at: None,
            execution_time_s: Some(f64::NAN),
            tests_total: None,
            tests_failed: None,
            log_url: Some(XSS_JS_URL.into()),
            trusted: false,
        });
    }
    s
}

/// Build a site from `snapshot` with the command line; the site's directory.
pub async fn build_site(snapshot: &HudSnapshot, dir: &Path) -> PathBuf {
    let file = dir.join("snapshot.json");
    std::fs::write(
        &file,
        serde_json::to_string(snapshot).expect("hud test data"),
    )
    .expect("hud test data");
    let out = dir.join("site");
    let fake = FakeGithub::start().await;
    let runner = Runner::new(&fake).env("GITHUB_ACTIONS", "");
    let source = format!("file:{}", file.display());
    let run = runner
        .exec(
            &[
                "hud",
                "build",
                "--source",
                &source,
                "--out",
                &out.display().to_string(),
            ],
            None,
        )
        .await;
    assert_eq!(
        run.code, 0,
        "hud build failed: {}{}",
        run.stdout, run.stderr
    );
    out
}

/// The page as a reader sees its text: minijinja writes `/` as `&#x2f;`.
fn unslash(html: &str) -> String {
    html.replace("&#x2f;", "/")
}

fn pages(site: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![site.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("hud test data") {
            let p = e.expect("hud test data").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "html") {
                let rel = p
                    .strip_prefix(site)
                    .expect("hud test data")
                    .display()
                    .to_string();
                out.push((
                    rel,
                    unslash(&std::fs::read_to_string(&p).expect("hud test data")),
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn hud_demo_snapshot_is_built_from_the_fixtures() {
    let built = build_demo();
    let path = demo_path();
    let json = serde_json::to_string_pretty(&built).expect("hud test data") + "\n";
    if std::env::var("UPDATE_HUD_DEMO").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &json).expect("hud test data");
    }
    let shipped =
        HudSnapshot::load(&path).expect("fixtures/hud/demo.json (UPDATE_HUD_DEMO=1 writes it)");
    assert_eq!(
        shipped, built,
        "fixtures/hud/demo.json is stale: run this test with UPDATE_HUD_DEMO=1"
    );
}

#[tokio::test]
async fn hud_build_offline_writes_every_page_with_the_snapshots_rows() {
    let dir = tempfile::tempdir().expect("hud test data");
    let snap = HudSnapshot::load(&demo_path()).expect("hud test data");
    let site = build_site(&snap, dir.path()).await;
    let pages = pages(&site);
    let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
    for want in [
        "index.html",
        "trunk.html",
        "downstream/index.html",
        "pr/4242.html",
        "pr/4243.html",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    assert!(site.join("style.css").is_file() && site.join("sort.js").is_file());
    let page = |n: &str| {
        pages
            .iter()
            .find(|(p, _)| p == n)
            .map(|(_, b)| b.as_str())
            .expect("hud test data")
    };
    let rows = |html: &str, table: &str| {
        let start = html
            .find(&format!("<table id=\"{table}\""))
            .unwrap_or_else(|| panic!("no table {table}"));
        let body = &html[start..];
        let body = &body[..body.find("</table>").expect("hud test data")];
        body.matches("<tr").count() - 1
    };
    let index = page("index.html");
    assert_eq!(rows(index, "issues"), snap.issues.len());
    assert_eq!(rows(index, "fingerprints"), snap.fingerprints.len());
    assert_eq!(rows(index, "flaky"), snap.flaky.len());
    assert_eq!(rows(index, "actions"), snap.actions.len());
    assert_eq!(rows(index, "prs"), snap.prs.len());
    assert_eq!(rows(index, "daily"), snap.daily.len());
    assert_eq!(
        index.matches("class=\"bar-jobs\"").count(),
        snap.daily.len()
    );
    let backends = page("downstream/index.html");
    assert_eq!(rows(backends, "backends"), 5);
    // Best pass rate first; every backend has its matrix page.
    let order: Vec<usize> = [
        "Ascend/pytorch",
        "TorchedHat/pytorch-redhat-ci",
        "torch-spyre/torch-spyre",
        "vllm-project/vllm",
        "pytorch/crcr-test",
    ]
    .iter()
    .map(|b| backends.find(&format!(">{b}</a>")).expect("hud test data"))
    .collect();
    assert!(order.iter().all(|p| *p > 0));
    assert!(backends.find(">pytorch/crcr-test</a>") > backends.find(">Ascend/pytorch</a>"));
    assert_eq!(
        names
            .iter()
            .filter(|n| n.starts_with("downstream/") && **n != "downstream/index.html")
            .count(),
        5
    );
    let trunk = page("trunk.html");
    let grid_rows: usize = snap.trunk.iter().map(|g| g.commits.len()).sum();
    assert_eq!(trunk.matches("<th scope=\"row\"").count(), grid_rows);
    assert!(trunk.contains("<strong>revert</strong>"));
    let pr = page("pr/4242.html");
    assert_eq!(rows(pr, "jobs"), snap.prs[0].jobs.len());
    assert!(pr.contains("Ascend/pytorch"));
    // Every relative link resolves to a file of the site.
    for (name, html) in &pages {
        let base = site
            .join(name)
            .parent()
            .expect("hud test data")
            .to_path_buf();
        for href in html
            .split("href=\"")
            .skip(1)
            .map(|s| &s[..s.find('"').expect("hud test data")])
        {
            if href.starts_with("https://") {
                continue;
            }
            assert!(base.join(href).is_file(), "{name}: broken link {href}");
        }
        assert!(
            html.len() < MAX_PAGE_BYTES,
            "{name} is {} bytes",
            html.len()
        );
    }
}

#[tokio::test]
async fn hud_hostile_strings_render_as_text_and_bad_links_are_dropped() {
    let dir = tempfile::tempdir().expect("hud test data");
    let site = build_site(&hostile_snapshot(), dir.path()).await;
    for (name, html) in pages(&site) {
        // The only script is the site's own.
        assert_eq!(html.matches("<script").count(), 1, "{name}");
        assert!(html.contains("<script src=\""), "{name}");
        assert!(!html.contains("<img"), "{name}: live img");
        // The handler is text (its quotes escaped), never an attribute.
        assert!(!html.contains("onerror=\"window"), "{name}: live handler");
        assert!(!html.contains('\u{202E}'), "{name}: bidi override");
        for href in html
            .split("href=\"")
            .skip(1)
            .map(|s| &s[..s.find('"').expect("hud test data")])
        {
            assert!(
                href.starts_with("https://github.com/") || !href.contains(':'),
                "{name}: link {href}"
            );
        }
        assert!(
            !html.contains(&"A".repeat(300)),
            "{name}: a very long name was not cut"
        );
        if name == "index.html" {
            assert!(
                html.contains("&lt;script&gt;window.__pwned=1&lt;/script&gt;"),
                "escaped text shown"
            );
        }
    }
}

#[test]
fn hud_pages_stay_under_the_budget_with_big_tables() {
    let mut s = build_demo();
    let base = s.issues[0].clone();
    s.issues = (0..5_000)
        .map(|i| FailureIssue {
            number: i,
            ..base.clone()
        })
        .collect();
    let job = s.downstream.as_ref().expect("hud test data")[0].clone();
    s.downstream = Some(
        (0..2_000)
            .flat_map(|pr| {
                let job = job.clone();
                (0..60).map(move |k| DownstreamJob {
                    pr_number: pr,
                    head_sha: String::new(),
                    job_name: format!("job {k} with a fairly long name to weigh the page down"),
                    ..job.clone()
                })
            })
            .collect(),
    );
    let pages = ci_medic::hud::pages::render(&s).expect("hud test data");
    assert!(pages.len() > 40, "the matrix is paginated");
    for p in &pages {
        assert!(
            p.body.len() < MAX_PAGE_BYTES,
            "{} is {} bytes",
            p.path,
            p.body.len()
        );
    }
}

#[test]
fn hud_snapshot_of_another_version_is_refused() {
    let mut v: serde_json::Value = serde_json::to_value(build_demo()).expect("hud test data");
    v["version"] = 2.into();
    let err = HudSnapshot::parse(&v.to_string()).unwrap_err().to_string();
    assert!(err.contains("version 2"), "{err}");
    let _ = DayCount {
        day: NaiveDate::MIN,
        jobs: 0,
        failed: 0,
    };
}
