//! `ci-medic crcr ingest` (the offline contract of a result: the row it
//! makes, or why it is rejected) and the views `crcr summary`, `crcr matrix`
//! and `crcr pr N`, from the real ClickHouse and, without it, from the
//! fake GitHub's check runs.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::support::action::{ActionRun, Runner};
use crate::support::clickhouse;
use crate::support::fake_github::{CheckRun, FakeGithub, OWNER, PullBuilder, REPO};
use crate::support::oidc::{self, Issuer};
use crate::support::snap;

const ALLOWLIST: &str = "\
L1:
  - l1-org/just-dispatch
L2:
  - quiet-org/recorder
L4:
  - NPU-Org/NPU-Backend: [npu-oncall]
";
const NPU: &str = "npu-org/npu-backend";

struct Offline {
    _fake: FakeGithub,
    runner: Runner,
}

impl Offline {
    async fn new(config: &str) -> Offline {
        let fake = FakeGithub::start().await;
        let runner = Runner::new(&fake).env("GITHUB_ACTIONS", "");
        let o = Offline {
            _fake: fake,
            runner,
        };
        o.write("ci-medic.yml", config);
        o.write("allowlist.yml", ALLOWLIST);
        o
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.runner.path(name);
        std::fs::write(&p, text).expect("write");
        p
    }

    fn path(&self, name: &str) -> String {
        self.runner.path(name).display().to_string()
    }

    /// `crcr ingest` of `payload` (JSON text), then `extra`.
    async fn ingest(&self, payload: &str, extra: &[&str]) -> ActionRun {
        self.write("payload.json", payload);
        let (config, payload, allowlist) = (
            self.path("ci-medic.yml"),
            self.path("payload.json"),
            self.path("allowlist.yml"),
        );
        let mut args = vec![
            "--config",
            &config,
            "crcr",
            "ingest",
            "--payload",
            &payload,
            "--allowlist",
            &allowlist,
        ];
        args.extend_from_slice(extra);
        self.runner.exec(&args, None).await
    }
}

fn result(repository: &str, head: &str, job: &str, attempt: i64, conclusion: &str) -> Value {
    json!({
        "repository": repository,
        "upstream_repo": format!("{OWNER}/{REPO}"),
        "pr_number": 7,
        "head_sha": head,
        "workflow_name": "npu-ci",
        "job_name": job,
        "run_id": 9001,
        "run_attempt": attempt,
        "status": "completed",
        "conclusion": conclusion,
        "started_at": "2026-03-01T10:00:00Z",
        "completed_at": "2026-03-01T10:12:30Z",
        "tests": {"total": 10, "passed": 8, "failed": 2, "skipped": 0},
        "log_url": "https://ci.npu.example/runs/9001",
        "environment": "npu-910b",
    })
}

fn payload(result: Value) -> String {
    json!({"crcr": 1, "token": "not-checked-with-verified-repo", "result": result}).to_string()
}

fn printed(run: &ActionRun) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", run.stdout, run.stderr))
}

#[tokio::test]
async fn ingest_dry_run_prints_the_row_it_would_write() {
    let o = Offline::new("analyze:\n  enabled: false\n").await;
    let head = "a".repeat(40);
    let run = o
        .ingest(
            &payload(result(
                "NPU-Org/NPU-Backend",
                &head,
                "test (npu, 1/2)",
                2,
                "failure",
            )),
            &["--verified-repo", NPU, "--dry-run", "--format", "json"],
        )
        .await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let mut row = printed(&run);
    // Ours, not reported: the time it was received.
    for key in ["received_at", "updated_at"] {
        let t = row[key].as_str().expect(key).to_string();
        assert!(chrono::DateTime::parse_from_rfc3339(&t).is_ok(), "{t}");
        row[key] = json!("[received]");
    }
    assert_json_snap!(row);

    // The same, as a whole repository_dispatch event.
    let event = json!({"action": "crcr-result", "client_payload": serde_json::from_str::<Value>(&payload(result(NPU, &head, "t", 1, "success"))).expect("json")});
    let run = o
        .ingest(
            &event.to_string(),
            &["--verified-repo", NPU, "--dry-run", "--format", "json"],
        )
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(printed(&run)["conclusion"], json!("success"));
}

#[tokio::test]
async fn ingest_rejects_hostile_and_unproven_payloads() {
    let o = Offline::new("analyze:\n  enabled: false\n").await;
    let head = "b".repeat(40);
    let good = || result(NPU, &head, "test", 1, "failure");
    let mut bad_sha = good();
    bad_sha["head_sha"] = json!("$(rm -rf /)");
    let mut other_upstream = good();
    other_upstream["upstream_repo"] = json!("someone/else");
    let mut bad_conclusion = good();
    bad_conclusion["conclusion"] = json!("greenish");
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let huge = payload(json!({"job_name": "x".repeat(3 * 1024 * 1024)}));
    let cases: Vec<(&str, String, &[&str], &str)> = vec![
        (
            "not allowlisted",
            payload(result("evil/repo", &head, "t", 1, "success")),
            &["--verified-repo", "evil/repo"],
            "not in the downstream CI allowlist",
        ),
        (
            "L1",
            payload(result("l1-org/just-dispatch", &head, "t", 1, "success")),
            &["--verified-repo", "l1-org/just-dispatch"],
            "L1",
        ),
        (
            "claims another repository",
            payload(good()),
            &["--verified-repo", "quiet-org/recorder"],
            "claims to be from",
        ),
        (
            "bad head",
            payload(bad_sha),
            &["--verified-repo", NPU],
            "head_sha",
        ),
        (
            "other upstream",
            payload(other_upstream),
            &["--verified-repo", NPU],
            "not this repository",
        ),
        (
            "bad conclusion",
            payload(bad_conclusion),
            &["--verified-repo", NPU],
            "conclusion",
        ),
        ("oversized", huge, &["--verified-repo", NPU], "larger than"),
        (
            "not JSON",
            "{\"crcr\": 1, ".to_string(),
            &["--verified-repo", NPU],
            "not JSON",
        ),
        (
            "nested too deep",
            nested,
            &["--verified-repo", NPU],
            "not JSON",
        ),
        (
            "wrong version",
            json!({"crcr": 2, "token": "t", "result": good()}).to_string(),
            &["--verified-repo", NPU],
            "version",
        ),
    ];
    for (what, text, extra, why) in cases {
        let mut args = extra.to_vec();
        args.extend(["--dry-run", "--format", "json"]);
        let run = o.ingest(&text, &args).await;
        assert_eq!(run.code, 1, "{what}: {}\n{}", run.stdout, run.stderr);
        let said = printed(&run);
        let reason = said["rejected"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: {said}"));
        assert!(reason.contains(why), "{what}: expected {why:?} in {reason}");
        assert_eq!(said.as_object().map(|o| o.len()), Some(1), "{what}: {said}");
    }

    // Hostile text is accepted only made safe: one line, no controls, no
    // script URL, no bidi override.
    let mut hostile = good();
    hostile["job_name"] = json!("test\n::set-output name=x::y\u{202e}\u{0007} @everyone");
    hostile["log_url"] = json!("javascript:alert(1)");
    hostile["artifact_url"] = json!("https://user:pw@example.com/a");
    let run = o
        .ingest(
            &payload(hostile),
            &["--verified-repo", NPU, "--dry-run", "--format", "json"],
        )
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let row = printed(&run);
    assert_eq!(
        row["job_name"],
        json!("test ::set-output name=x::y @everyone")
    );
    assert_eq!(row["log_url"], json!(""));
    assert_eq!(row["artifact_url"], json!(""));

    // Text: one line saying why.
    let run = o
        .ingest(
            &payload(result("evil/repo", &head, "t", 1, "success")),
            &["--verified-repo", "evil/repo", "--dry-run"],
        )
        .await;
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stdout.trim(),
        "rejected: evil/repo is not in the downstream CI allowlist"
    );
}

#[tokio::test]
async fn ingest_without_verified_repo_checks_the_token() {
    let issuer = Issuer::start(NPU).await;
    let o = Offline::new(&format!("crcr:\n  oidc-issuer: {}\n", issuer.uri())).await;
    let head = "c".repeat(40);
    let token = issuer.token(oidc::KEY, &issuer.claims(NPU, 600));
    let body = json!({"crcr": 1, "token": token, "result": result(NPU, &head, "t", 1, "success")});
    let run = o
        .ingest(&body.to_string(), &["--dry-run", "--format", "json"])
        .await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        printed(&run)["downstream_repo"],
        json!("NPU-Org/NPU-Backend")
    );

    let forged = issuer.token(oidc::OTHER_KEY, &issuer.claims(NPU, 600));
    let body = json!({"crcr": 1, "token": forged, "result": result(NPU, &head, "t", 1, "success")});
    let run = o
        .ingest(&body.to_string(), &["--dry-run", "--format", "json"])
        .await;
    assert_eq!(run.code, 1);
    assert!(
        printed(&run)["rejected"]
            .as_str()
            .is_some_and(|r| r.contains("signature")),
        "{}",
        run.stdout
    );
}

/// The view commands, each in three formats, in one snapshot.
async fn views(runner: &Runner, pre: &[&str], pr: &str) -> String {
    let mut out = String::new();
    for (view, extra) in [("summary", vec![]), ("matrix", vec![]), ("pr", vec![pr])] {
        for format in ["text", "markdown", "json"] {
            let mut args: Vec<&str> = pre.to_vec();
            args.extend(["--format", format, "crcr", view]);
            args.extend(extra.iter().copied());
            let run = runner.exec(&args, None).await;
            assert_eq!(
                run.code, 0,
                "{view} {format}: {}\n{}",
                run.stdout, run.stderr
            );
            out.push_str(&format!(
                "===== crcr {view} --format {format}\n{}\n",
                run.stdout
            ));
        }
    }
    out
}

#[tokio::test]
async fn views_from_clickhouse_count_each_job_once_at_the_head() {
    let db = clickhouse::database("crcr_views");
    let store = clickhouse::connect(&clickhouse::url(), &db).await;
    store.migrate().await.expect("migrate");
    let fake = FakeGithub::start().await;
    let head = fake.commit_files("feature", &[("src/a.rs", "fn a() {}\n")], "Add a");
    let pr = fake.add_pull(PullBuilder::new("feature", "Add a"));
    let o = Offline {
        runner: Runner::new(&fake).env("GITHUB_ACTIONS", ""),
        _fake: fake,
    };
    o.write(
        "ci-medic.yml",
        &format!(
            "clickhouse:\n  url: {}\n  database: {db}\n",
            clickhouse::url()
        ),
    );
    o.write("allowlist.yml", ALLOWLIST);
    let old = "0".repeat(39) + "1";
    let pr_result = |repo: &str, sha: &str, job: &str, attempt: i64, conclusion: &str| {
        let mut r = result(repo, sha, job, attempt, conclusion);
        r["pr_number"] = json!(pr);
        r
    };
    let rows = [
        // An earlier head failed: not counted at the PR's head.
        (NPU, {
            let mut r = pr_result(NPU, &old, "test", 1, "failure");
            r["run_id"] = json!(8000);
            r
        }),
        // Attempt 1 failed, its re-run passed: counted once, as passed.
        (NPU, pr_result(NPU, &head, "test", 1, "failure")),
        (NPU, pr_result(NPU, &head, "test", 2, "success")),
        (NPU, pr_result(NPU, &head, "lint", 1, "failure")),
        // Delivered twice: one row.
        (
            "quiet-org/recorder",
            pr_result("quiet-org/recorder", &head, "build", 1, "success"),
        ),
        (
            "quiet-org/recorder",
            pr_result("quiet-org/recorder", &head, "build", 1, "success"),
        ),
    ];
    for (repo, r) in rows {
        let run = o.ingest(&payload(r), &["--verified-repo", repo]).await;
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
        // Results of one PR are told apart by when they arrived.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let config = o.path("ci-medic.yml");
    let out = views(&o.runner, &["--config", &config], &pr.to_string()).await;
    snap::with_shas_and_times(&[old.clone(), head.clone()]).bind(|| insta::assert_snapshot!(out));
    let all: u64 =
        clickhouse::fetch_one(&store, "SELECT count() FROM crcr_workflow_job FINAL").await;
    assert_eq!(all, 5, "the re-delivery replaced its row");
    clickhouse::drop_database(&store).await;
}

fn check_run(id: u64, name: &str, head: &str, conclusion: Option<&str>, app: &str) -> CheckRun {
    let at = chrono::DateTime::from_timestamp(1_772_000_000, 0).expect("time");
    CheckRun {
        id,
        name: name.into(),
        head_sha: head.into(),
        status: if conclusion.is_some() {
            "completed"
        } else {
            "in_progress"
        }
        .into(),
        conclusion: conclusion.map(str::to_string),
        title: None,
        summary: None,
        text: None,
        details_url: Some("https://ci.npu.example/runs/1".into()),
        external_id: None,
        app: app.into(),
        started_at: at,
        completed_at: conclusion.map(|_| at + chrono::Duration::seconds(95)),
    }
}

#[tokio::test]
async fn views_without_clickhouse_read_our_check_runs() {
    let fake = FakeGithub::start().await;
    let a = fake.commit_files("feature-a", &[("a.rs", "a\n")], "A");
    let b = fake.commit_files("feature-b", &[("b.rs", "b\n")], "B");
    let pr_a = fake.add_pull(PullBuilder::new("feature-a", "A"));
    let pr_b = fake.add_pull(PullBuilder::new("feature-b", "B"));
    fake.with_world(|w| {
        let (_, repo, _) = w.split(&format!("{OWNER}/{REPO}")).expect("repo");
        repo.check_runs.extend([
            check_run(
                1,
                "crcr/NPU-Org/NPU-Backend / test",
                &a,
                Some("failure"),
                "github-actions",
            ),
            check_run(
                2,
                "crcr/NPU-Org/NPU-Backend / test",
                &b,
                Some("success"),
                "github-actions",
            ),
            check_run(
                3,
                "crcr/NPU-Org/NPU-Backend / lint",
                &b,
                None,
                "github-actions",
            ),
            // Another app's check run of that name is not believed.
            check_run(
                4,
                "crcr/evil/forger / test",
                &a,
                Some("success"),
                "forger-app",
            ),
            check_run(5, "unit tests", &a, Some("success"), "github-actions"),
        ]);
    });
    let runner = Runner::new(&fake).env("GITHUB_ACTIONS", "");
    let out = views(&runner, &[], &pr_a.to_string()).await;
    assert!(!out.contains("forger"), "{out}");
    snap::with_shas_and_times(&[a.clone(), b.clone()]).bind(|| insta::assert_snapshot!(out));
    let _ = pr_b;
    fake.assert_clean();
}

#[tokio::test]
async fn ingest_refuses_results_past_the_hourly_cap() {
    let db = clickhouse::database("crcr_cap");
    let store = clickhouse::connect(&clickhouse::url(), &db).await;
    store.migrate().await.expect("migrate");
    let o = Offline::new(&format!(
        "clickhouse:\n  url: {}\n  database: {db}\ncrcr:\n  max-results-per-hour: 2\n",
        clickhouse::url()
    ))
    .await;
    let head = "d".repeat(40);
    for job in ["one", "two"] {
        let run = o
            .ingest(
                &payload(result(NPU, &head, job, 1, "success")),
                &["--verified-repo", NPU],
            )
            .await;
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    }
    let run = o
        .ingest(
            &payload(result(NPU, &head, "three", 1, "success")),
            &["--verified-repo", NPU, "--format", "json"],
        )
        .await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(
        printed(&run)["rejected"],
        json!(
            "NPU-Org/NPU-Backend reported 2 results in the last hour; at most 2 are accepted (crcr.max-results-per-hour)"
        )
    );
    // Another repository has its own budget.
    let run = o
        .ingest(
            &payload(result("quiet-org/recorder", &head, "one", 1, "success")),
            &["--verified-repo", "quiet-org/recorder"],
        )
        .await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    let rows: u64 =
        clickhouse::fetch_one(&store, "SELECT count() FROM crcr_workflow_job FINAL").await;
    assert_eq!(rows, 3);
    clickhouse::drop_database(&store).await;
}

#[tokio::test]
async fn a_partial_update_never_blanks_what_an_earlier_result_reported() {
    let db = clickhouse::database("crcr_partial");
    let store = clickhouse::connect(&clickhouse::url(), &db).await;
    store.migrate().await.expect("migrate");
    let o = Offline::new(&format!(
        "clickhouse:\n  url: {}\n  database: {db}\n",
        clickhouse::url()
    ))
    .await;
    let head = "e".repeat(40);
    let base = result(NPU, &head, "test", 1, "success");
    let drop = |r: &mut Value, keys: &[&str]| {
        for k in keys {
            r.as_object_mut().expect("object").remove(*k);
        }
    };
    // Queued, with the log URL and environment.
    let mut queued = base.clone();
    queued["status"] = json!("queued");
    drop(
        &mut queued,
        &["conclusion", "started_at", "completed_at", "tests"],
    );
    // Started: no URL this time.
    let mut started = base.clone();
    started["status"] = json!("in_progress");
    drop(
        &mut started,
        &[
            "conclusion",
            "completed_at",
            "tests",
            "log_url",
            "environment",
        ],
    );
    // Completed: neither the URL nor when it started.
    let mut completed = base.clone();
    drop(&mut completed, &["started_at", "log_url", "environment"]);
    for r in [queued, started, completed] {
        let run = o.ingest(&payload(r), &["--verified-repo", NPU]).await;
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let all: u64 =
        clickhouse::fetch_one(&store, "SELECT count() FROM crcr_workflow_job FINAL").await;
    assert_eq!(all, 1, "one row per attempt");
    let (status, conclusion, started, completed, execution, failed): (
        String,
        String,
        i64,
        i64,
        Option<i64>,
        i64,
    ) = clickhouse::fetch_one(
        &store,
        "SELECT toString(status), toString(conclusion), toInt64(toUnixTimestamp(started_at)),
                toInt64(toUnixTimestamp(completed_at)), execution_time_s, tests_failed
         FROM crcr_workflow_job FINAL",
    )
    .await;
    let (log_url, environment): (String, String) = clickhouse::fetch_one(
        &store,
        "SELECT log_url, environment FROM crcr_workflow_job FINAL",
    )
    .await;
    assert_eq!(
        (status.as_str(), conclusion.as_str()),
        ("completed", "success")
    );
    assert_eq!(log_url, "https://ci.npu.example/runs/9001");
    assert_eq!(environment, "npu-910b");
    // 2026-03-01T10:00:00Z and 10:12:30Z.
    assert_eq!((started, completed), (1_772_359_200, 1_772_359_950));
    assert_eq!(execution, Some(750));
    assert_eq!(failed, 2);
    clickhouse::drop_database(&store).await;
}

/// The summary query as it was (deduplicating every attempt in the window
/// with `FINAL`, then filtering by head): the faster one must agree.
const BACKENDS_BEFORE: &str = "WITH heads AS (
    SELECT pr_number, argMax(head_sha, received_at) AS head
    FROM crcr_workflow_job FINAL
    WHERE upstream_repo = {repo:String}
      AND received_at >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')
    GROUP BY pr_number)
SELECT downstream_repo, argMax(j_level, j_received) AS level, count() AS jobs,
       countIf(j_conclusion = 'success') AS passed,
       countIf(j_conclusion IN ('failure', 'timed_out')) AS failed,
       countIf(j_status != 'completed') AS pending,
       avgOrNull(j_duration) AS avg_duration_s,
       max(j_received) AS last_run
FROM (SELECT downstream_repo, pr_number, head_sha, workflow_name, job_name,
       argMax(toString(level), (run_id, run_attempt, updated_at)) AS j_level,
       argMax(run_id, (run_id, run_attempt, updated_at)) AS j_run_id,
       argMax(run_attempt, (run_id, run_attempt, updated_at)) AS j_run_attempt,
       argMax(toString(status), (run_id, run_attempt, updated_at)) AS j_status,
       argMax(toString(conclusion), (run_id, run_attempt, updated_at)) AS j_conclusion,
       argMax(tuple(execution_time_s), (run_id, run_attempt, updated_at)).1 AS j_duration,
       argMax(log_url, (run_id, run_attempt, updated_at)) AS j_log_url,
       max(received_at) AS j_received
FROM crcr_workflow_job FINAL
WHERE upstream_repo = {repo:String}
  AND received_at >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')
GROUP BY downstream_repo, pr_number, head_sha, workflow_name, job_name)
WHERE (pr_number, head_sha) IN (SELECT pr_number, head FROM heads)
GROUP BY downstream_repo
ORDER BY downstream_repo";

#[tokio::test]
async fn the_summary_query_agrees_with_the_deduplicating_one() {
    use ci_medic::crcr::queries::{self, BackendRow};
    use ci_medic::crcr::row::CrcrJobRow;
    use ci_medic::store::TableRows;

    let db = clickhouse::database("crcr_summary_same");
    let store = clickhouse::connect(&clickhouse::url(), &db).await;
    store.migrate().await.expect("migrate");
    let repo = format!("{OWNER}/{REPO}");
    let now = chrono::Utc::now();
    let row = |i: u64, version: i64| {
        let backend = i % 5;
        let pr = i / 20 + 1;
        let old_head = pr.is_multiple_of(3) && backend.is_multiple_of(2);
        let at = now - chrono::Duration::seconds((i * 37 % 5000) as i64 + 10 * version);
        let (status, conclusion) = match (i + pr + version as u64) % 7 {
            0 => ("in_progress", ""),
            1 | 2 => ("completed", "failure"),
            3 => ("completed", "timed_out"),
            _ => ("completed", "success"),
        };
        CrcrJobRow {
            downstream_repo: format!("org-{backend}/backend"),
            level: format!("L{}", 2 + backend % 3),
            upstream_repo: repo.clone(),
            pr_number: pr,
            head_sha: format!("{:040x}", pr * 2 + u64::from(old_head)),
            workflow_name: "ci".into(),
            job_name: format!("job-{}", (i / 5) % 4),
            run_id: (i / 5) as i64,
            run_attempt: if i.is_multiple_of(6) { 2 } else { 1 },
            check_run_id: 0,
            status: status.into(),
            conclusion: conclusion.into(),
            started_at: Some(at - chrono::Duration::seconds(60)),
            completed_at: (status == "completed").then_some(at),
            received_at: at,
            queue_time_s: None,
            execution_time_s: (status == "completed").then_some(60 + (i % 11) as i64),
            tests_total: 0,
            tests_passed: 0,
            tests_failed: 0,
            tests_skipped: 0,
            log_url: format!("https://ci.example/{i}"),
            artifact_url: String::new(),
            environment: String::new(),
            trusted: true,
            updated_at: at + chrono::Duration::milliseconds(version),
        }
    };
    // Two versions of some rows (the later replaces), in separate parts.
    let first: Vec<CrcrJobRow> = (0..200).map(|i| row(i, 0)).collect();
    let second: Vec<CrcrJobRow> = (0..200)
        .filter(|i: &u64| i.is_multiple_of(4))
        .map(|i| row(i, 1))
        .collect();
    store
        .insert(&TableRows::CrcrJobs(first))
        .await
        .expect("insert");
    store
        .insert(&TableRows::CrcrJobs(second))
        .await
        .expect("insert");
    let since = now - chrono::Duration::days(7);
    let before: Vec<BackendRow> = store
        .client()
        .query_raw(BACKENDS_BEFORE)
        .param("repo", repo.as_str())
        .param("since", since.timestamp_millis())
        .fetch_all()
        .await
        .expect("the deduplicating query");
    let now_rows = queries::backends(&store, &repo, since)
        .await
        .expect("summary");
    assert_eq!(before.len(), 5, "{before:?}");
    assert!(
        before.iter().any(|b| b.pending > 0 && b.failed > 0),
        "{before:?}"
    );
    assert_eq!(now_rows, before);
    clickhouse::drop_database(&store).await;
}
