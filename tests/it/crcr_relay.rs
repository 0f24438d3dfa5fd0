//! Downstream CI end to end, against the fake GitHub, a local OIDC issuer
//! and the real ClickHouse: a pull request is dispatched downstream, the
//! downstream job reports back with its OIDC token, the upstream verifies
//! it, records one row however often it is delivered, and pings the
//! on-calls once. Forged, expired and misaddressed results write nothing.

use serde_json::{Value, json};

use crate::support::action::{ActionRun, Runner};
use crate::support::clickhouse;
use crate::support::fake_github::{DEFAULT_BRANCH, FakeGithub, OWNER, PullBuilder, REPO};
use crate::support::oidc::{self, Issuer};

const DOWNSTREAM: &str = "npu-org/npu-backend";
const L2_REPO: &str = "quiet-org/recorder";
const ALLOWLIST: &str = "\
L1:
  - l1-org/just-dispatch
L2:
  - quiet-org/recorder
L4:
  - NPU-Org/NPU-Backend: [npu-oncall, npu-org/npu-team]
";

struct World {
    fake: FakeGithub,
    issuer: Issuer,
    pr: u64,
    head: String,
    database: Option<String>,
}

async fn world(with_clickhouse: bool) -> World {
    let fake = FakeGithub::start().await;
    fake.add_repo("npu-org", "npu-backend", DEFAULT_BRANCH);
    fake.add_repo("quiet-org", "recorder", DEFAULT_BRANCH);
    fake.add_repo("l1-org", "just-dispatch", DEFAULT_BRANCH);
    let issuer = Issuer::start(DOWNSTREAM).await;
    let database = if with_clickhouse {
        let url = clickhouse::url();
        let db = clickhouse::database("crcr");
        let store = clickhouse::connect(&url, &db).await;
        store.migrate().await.expect("migrate");
        Some(db)
    } else {
        None
    };
    let mut config = format!(
        "analyze:\n  enabled: false\nretry:\n  enabled: false\ncrcr:\n  oidc-issuer: {}\n",
        issuer.uri()
    );
    if let Some(db) = &database {
        config.push_str(&format!(
            "clickhouse:\n  url: {}\n  database: {db}\n",
            clickhouse::url()
        ));
    }
    fake.commit_files(
        DEFAULT_BRANCH,
        &[
            (".github/ci-medic.yml", config.as_str()),
            (".github/crcr-allowlist.yml", ALLOWLIST),
        ],
        "Configure downstream CI",
    );
    let head = fake.commit_files("feature", &[("src/a.rs", "fn a() {}\n")], "Add a");
    let pr = fake.add_pull(PullBuilder::new("feature", "Add a"));
    World {
        fake,
        issuer,
        pr,
        head,
        database,
    }
}

fn pull_request_event(w: &World, action: &str) -> Value {
    json!({
        "action": action,
        "number": w.pr,
        "pull_request": {
            "number": w.pr, "title": "Add a", "body": null, "state": "open", "labels": [],
            "user": {"login": "contributor"},
            "head": {"ref": "feature", "sha": w.head},
            "base": {"ref": DEFAULT_BRANCH, "sha": "0".repeat(40)},
        },
        "sender": {"login": "contributor"},
        "repository": {"full_name": format!("{OWNER}/{REPO}")},
    })
}

fn result_event(client_payload: &Value) -> Value {
    json!({
        "action": "crcr-result",
        "branch": DEFAULT_BRANCH,
        "client_payload": client_payload,
        "sender": {"login": "npu-bot"},
        "repository": {"full_name": format!("{OWNER}/{REPO}")},
    })
}

/// The downstream job: `crcr report` on the dispatched event.
async fn downstream_report(w: &World, dispatched: &Value, conclusion: &str) -> ActionRun {
    downstream_report_as(w, dispatched, &["--conclusion", conclusion]).await
}

/// [`downstream_report`] with the status flags given.
async fn downstream_report_as(w: &World, dispatched: &Value, status: &[&str]) -> ActionRun {
    let runner = Runner::new(&w.fake)
        .env("GITHUB_REPOSITORY", DOWNSTREAM)
        .env("GITHUB_RUN_ID", "9001")
        .env("GITHUB_RUN_ATTEMPT", "1")
        .env("GITHUB_WORKFLOW", "npu-ci")
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", &w.issuer.request_url())
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", oidc::REQUEST_TOKEN);
    let path = runner.path("dispatch.json");
    std::fs::write(&path, serde_json::to_vec(dispatched).expect("json")).expect("write");
    let mut args = vec!["crcr", "report", "--job-name", "test (npu, 1/2)"];
    args.extend_from_slice(status);
    runner
        .exec(
            &[
                args.as_slice(),
                &[
                    "--tests-total",
                    "10",
                    "--tests-failed",
                    "2",
                    "--tests-passed",
                    "8",
                ],
            ]
            .concat(),
            Some(("repository_dispatch", &path)),
        )
        .await
}

async fn upstream(w: &World, event: &str, payload: &Value) -> ActionRun {
    Runner::new(&w.fake)
        .env("INPUT_CRCR-TOKEN", w.fake.token())
        .run_event(event, payload)
        .await
}

#[tokio::test]
async fn dispatch_result_row_and_one_ping() {
    let w = world(true).await;

    // Upstream: the PR goes to every allowlisted repository.
    let run = upstream(&w, "pull_request", &pull_request_event(&w, "opened")).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let sent = w.fake.repository_dispatches(DOWNSTREAM);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].event_type, "crcr-pull-request");
    let pr = &sent[0].client_payload["pull_request"];
    assert_eq!(pr["number"], json!(w.pr));
    assert_eq!(pr["head_sha"], json!(w.head));
    assert_eq!(pr["upstream_repo"], json!(format!("{OWNER}/{REPO}")));
    assert_eq!(pr["level"], json!("L4"));
    assert_eq!(w.fake.repository_dispatches(L2_REPO).len(), 1);
    assert_eq!(
        w.fake.repository_dispatches("l1-org/just-dispatch").len(),
        1
    );

    // Downstream: the job fails and reports back with its OIDC token.
    let dispatched = json!({
        "action": "crcr-pull-request",
        "client_payload": sent[0].client_payload,
        "repository": {"full_name": DOWNSTREAM},
    });
    let report = downstream_report(&w, &dispatched, "failure").await;
    assert_eq!(report.code, 0, "{}\n{}", report.stdout, report.stderr);
    // Secrets appear only in the runner's mask commands.
    for secret in [oidc::REQUEST_TOKEN, sent_token(&w).as_str()] {
        assert!(
            report
                .stdout
                .lines()
                .all(|l| !l.contains(secret) || l.starts_with("::add-mask::")),
            "{}",
            report.stdout
        );
    }
    let back = w.fake.repository_dispatches(&format!("{OWNER}/{REPO}"));
    assert_eq!(back.len(), 1, "{back:?}");
    assert_eq!(back[0].event_type, "crcr-result");
    let result = back[0].client_payload.clone();
    assert_eq!(result["result"]["repository"], json!(DOWNSTREAM));
    assert_eq!(result["result"]["conclusion"], json!("failure"));

    // Upstream: verified, recorded, the on-calls pinged, the check run computed.
    let before = w.fake.requests().len();
    let run = upstream(&w, "repository_dispatch", &result_event(&result)).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let made: Vec<String> = w
        .fake
        .requests()
        .into_iter()
        .skip(before)
        .map(|r| format!("{} {}", r.method, r.operation.unwrap_or(r.path)))
        .collect();
    // A failing L4 result, accepted to shown, costs 9 calls: the repository,
    // the config and the allowlist from the default branch (3), the pull
    // request (is it still the head?), our ping comment (1), the check run
    // (look, create), the ping (look, post).
    assert_eq!(made.len(), 9, "{made:#?}");
    let ping = w.fake.expect_comment(w.pr, |b| {
        b.starts_with(&format!("<!-- ci-medic:crcr-oncall:{} -->", w.pr))
    });
    assert!(
        ping.body.contains("@npu-oncall @npu-org/npu-team"),
        "{}",
        ping.body
    );
    assert!(ping.body.contains("`test (npu, 1/2)`"), "{}", ping.body);
    let checks = w.fake.check_runs();
    assert_eq!(checks.len(), 1, "{checks:?}");
    assert_eq!(checks[0].name, "crcr/NPU-Org/NPU-Backend / test (npu, 1/2)");
    assert_eq!(checks[0].head_sha, w.head);
    assert_eq!(checks[0].conclusion.as_deref(), Some("failure"));

    // Delivered again (a re-run failing again): one row, no new ping.
    let again = upstream(&w, "repository_dispatch", &result_event(&result)).await;
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    let comments = w.fake.comments(w.pr);
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert_eq!(comments[0].body, ping.body);
    assert_eq!(
        w.fake.check_runs().len(),
        1,
        "the check run is not duplicated"
    );

    let db = w.database.as_deref().expect("database");
    let store = clickhouse::connect(&clickhouse::url(), db).await;
    let (rows, failed): (u64, i64) = clickhouse::fetch_one(
        &store,
        "SELECT count(), sum(tests_failed) FROM crcr_workflow_job FINAL WHERE downstream_repo = 'NPU-Org/NPU-Backend' AND run_id = 9001",
    )
    .await;
    assert_eq!((rows, failed), (1, 2));
    let (level, trusted, conclusion): (String, bool, String) = clickhouse::fetch_one(
        &store,
        "SELECT level, trusted, conclusion FROM crcr_workflow_job FINAL",
    )
    .await;
    assert_eq!(
        (level.as_str(), trusted, conclusion.as_str()),
        ("L4", true, "failure")
    );
    clickhouse::drop_database(&store).await;
    w.fake.assert_clean();
}

/// The token the issuer hands the downstream job.
fn sent_token(w: &World) -> String {
    w.fake
        .with_world(|world| {
            world
                .repo(&format!("{OWNER}/{REPO}"))
                .and_then(|r| r.repository_dispatches.last().cloned())
        })
        .and_then(|d| d.client_payload["token"].as_str().map(str::to_string))
        .expect("a result was sent")
}

/// A result payload as `crcr report` sends it, with `token`.
fn payload(w: &World, token: &str, repository: &str) -> Value {
    json!({
        "crcr": 1,
        "token": token,
        "result": {
            "repository": repository,
            "upstream_repo": format!("{OWNER}/{REPO}"),
            "pr_number": w.pr,
            "head_sha": w.head,
            "workflow_name": "npu-ci",
            "job_name": "test",
            "run_id": 9001,
            "run_attempt": 1,
            "status": "completed",
            "conclusion": "failure",
        },
    })
}

#[tokio::test]
async fn results_without_valid_proof_write_nothing() {
    let w = world(false).await;
    let good = w.issuer.claims(DOWNSTREAM, 600);
    let mut wrong_audience = good.clone();
    wrong_audience["aud"] = json!("someone-else");
    let cases = [
        (
            "forged",
            payload(&w, &w.issuer.token(oidc::OTHER_KEY, &good), DOWNSTREAM),
            "signature",
        ),
        (
            "expired",
            payload(
                &w,
                &w.issuer
                    .token(oidc::KEY, &w.issuer.claims(DOWNSTREAM, -3600)),
                DOWNSTREAM,
            ),
            "expired",
        ),
        (
            "wrong audience",
            payload(&w, &w.issuer.token(oidc::KEY, &wrong_audience), DOWNSTREAM),
            "audience",
        ),
        (
            "token of another repository",
            payload(
                &w,
                &w.issuer.token(oidc::KEY, &w.issuer.claims(L2_REPO, 600)),
                DOWNSTREAM,
            ),
            "claims to be from",
        ),
        (
            "not allowlisted",
            payload(
                &w,
                &w.issuer
                    .token(oidc::KEY, &w.issuer.claims("evil/repo", 600)),
                "evil/repo",
            ),
            "not in the downstream CI allowlist",
        ),
        (
            "L1 repository",
            payload(
                &w,
                &w.issuer
                    .token(oidc::KEY, &w.issuer.claims("l1-org/just-dispatch", 600)),
                "l1-org/just-dispatch",
            ),
            "L1",
        ),
        (
            "oversized",
            payload(&w, &"x".repeat(3 * 1024 * 1024), DOWNSTREAM),
            "larger than",
        ),
    ];
    for (what, client_payload, why) in cases {
        let run = upstream(&w, "repository_dispatch", &result_event(&client_payload)).await;
        assert_ne!(run.code, 0, "{what}: {}", run.stdout);
        let said = format!("{}{}", run.stdout, run.stderr);
        assert!(said.contains("refused"), "{what}: {said}");
        assert!(said.contains(why), "{what}: expected {why:?} in {said}");
    }
    assert!(w.fake.comments(w.pr).is_empty());
    w.fake.assert_clean();
}

#[tokio::test]
async fn dry_run_report_prints_the_payload_without_a_token() {
    let w = world(false).await;
    let runner = Runner::new(&w.fake)
        .env("GITHUB_REPOSITORY", DOWNSTREAM)
        .env("GITHUB_RUN_ID", "77")
        .env("GITHUB_JOB", "build");
    let run = runner
        .exec(
            &[
                "--dry-run",
                "--format",
                "json",
                "crcr",
                "report",
                "--upstream",
                &format!("{OWNER}/{REPO}"),
                "--pr",
                "3",
                "--head-sha",
                &w.head,
                "--conclusion",
                "success",
            ],
            None,
        )
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json: String = run
        .stdout
        .lines()
        .filter(|l| !l.starts_with("::"))
        .collect::<Vec<_>>()
        .join("\n");
    let printed: Value = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", run.stdout, run.stderr));
    assert_eq!(printed["event_type"], json!("crcr-result"));
    assert_eq!(printed["client_payload"]["token"], json!("<redacted>"));
    assert_eq!(
        printed["client_payload"]["result"]["job_name"],
        json!("build")
    );
    assert_eq!(
        printed["client_payload"]["result"]["log_url"],
        json!(format!("https://github.com/{DOWNSTREAM}/actions/runs/77"))
    );
    assert!(
        w.fake
            .repository_dispatches(&format!("{OWNER}/{REPO}"))
            .is_empty()
    );
}

#[tokio::test]
async fn results_past_the_hourly_cap_are_refused() {
    let w = world(false).await;
    w.fake.commit_files(
        DEFAULT_BRANCH,
        &[(
            ".github/ci-medic.yml",
            format!(
                "analyze:\n  enabled: false\nretry:\n  enabled: false\ncrcr:\n  oidc-issuer: {}\n  max-results-per-hour: 1\n",
                w.issuer.uri()
            )
            .as_str(),
        )],
        "Cap downstream results",
    );
    // Check runs are started on the fake's clock: make it now.
    w.fake
        .with_world(|world| world.env.clock = chrono::Utc::now() - chrono::Duration::minutes(5));
    let token = w.issuer.token(oidc::KEY, &w.issuer.claims(DOWNSTREAM, 600));
    let first = payload(&w, &token, DOWNSTREAM);
    let run = upstream(&w, "repository_dispatch", &result_event(&first)).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    // The same job again updates its check run: not a new result to cap.
    let run = upstream(&w, "repository_dispatch", &result_event(&first)).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let mut second = first.clone();
    second["result"]["job_name"] = json!("another job");
    let run = upstream(&w, "repository_dispatch", &result_event(&second)).await;
    assert_ne!(run.code, 0, "{}", run.stdout);
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(
        said.contains("at most 1 are accepted (crcr.max-results-per-hour)"),
        "{said}"
    );
    assert_eq!(w.fake.check_runs().len(), 1, "{:?}", w.fake.check_runs());
    w.fake.expect_comment(w.pr, |b| b.contains("crcr-oncall"));
    w.fake.assert_clean();
}

#[tokio::test]
async fn without_clickhouse_the_hourly_cap_counts_every_pull_request() {
    let w = world(false).await;
    w.fake.commit_files(
        DEFAULT_BRANCH,
        &[(
            ".github/ci-medic.yml",
            format!(
                "analyze:\n  enabled: false\nretry:\n  enabled: false\ncrcr:\n  oidc-issuer: {}\n  max-results-per-hour: 1\n",
                w.issuer.uri()
            )
            .as_str(),
        )],
        "Cap downstream results",
    );
    let other_head = w
        .fake
        .commit_files("other", &[("src/b.rs", "fn b() {}\n")], "Add b");
    let other_pr = w.fake.add_pull(PullBuilder::new("other", "Add b"));
    w.fake
        .with_world(|world| world.env.clock = chrono::Utc::now() - chrono::Duration::minutes(5));
    let token = w.issuer.token(oidc::KEY, &w.issuer.claims(DOWNSTREAM, 600));
    let first = payload(&w, &token, DOWNSTREAM);
    let run = upstream(&w, "repository_dispatch", &result_event(&first)).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    // The same job on another pull request: the repository's second
    // result of the hour, refused although that head has none yet.
    let mut second = first.clone();
    second["result"]["pr_number"] = json!(other_pr);
    second["result"]["head_sha"] = json!(other_head);
    let run = upstream(&w, "repository_dispatch", &result_event(&second)).await;
    assert_ne!(run.code, 0, "{}", run.stdout);
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(
        said.contains("reported 1 results in the last hour; at most 1 are accepted"),
        "{said}"
    );
    let checks = w.fake.check_runs();
    assert_eq!(checks.len(), 1, "{checks:?}");
    assert_eq!(checks[0].head_sha, w.head);
    w.fake.expect_comment(w.pr, |b| b.contains("crcr-oncall"));
    // Past 100 open pull requests they cannot all be read: refused, not
    // let through uncounted.
    for n in 0..100 {
        let branch = format!("many-{n}");
        w.fake
            .commit_files(&branch, &[("src/c.rs", "fn c() {}\n")], "Add c");
        w.fake.add_pull(PullBuilder::new(&branch, "Add c"));
    }
    let run = upstream(&w, "repository_dispatch", &result_event(&first)).await;
    assert_ne!(run.code, 0, "{}", run.stdout);
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(
        said.contains("cannot be counted without ClickHouse over more than 100 open pull requests"),
        "{said}"
    );
    assert_eq!(w.fake.check_runs().len(), 1);
    w.fake.assert_clean();
}

#[tokio::test]
async fn a_failing_l4_result_blocks_the_merge_until_forced() {
    use crate::bot_commands::{replies, say};
    use crate::support::fake_github::MAINTAINER;
    let w = world(false).await;
    w.fake.commit_files(
        DEFAULT_BRANCH,
        &[(
            ".github/ci-medic.yml",
            format!(
                "analyze:\n  enabled: false\nretry:\n  enabled: false\ncommands: {{}}\ncrcr:\n  oidc-issuer: {}\n",
                w.issuer.uri()
            )
            .as_str(),
        )],
        "Answer comment commands",
    );
    w.fake.set_permission("hubot", "write");
    w.fake.add_review(w.pr, "hubot", "APPROVED");

    // Dispatch, the downstream job fails, its result comes back.
    let run = upstream(&w, "pull_request", &pull_request_event(&w, "opened")).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let sent = w.fake.repository_dispatches(DOWNSTREAM);
    let dispatched = json!({
        "action": "crcr-pull-request",
        "client_payload": sent[0].client_payload,
        "repository": {"full_name": DOWNSTREAM},
    });
    let report = downstream_report(&w, &dispatched, "failure").await;
    assert_eq!(report.code, 0, "{}\n{}", report.stdout, report.stderr);
    let back = w.fake.repository_dispatches(&format!("{OWNER}/{REPO}"));
    let run = upstream(
        &w,
        "repository_dispatch",
        &result_event(&back[0].client_payload),
    )
    .await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(w.fake.check_runs().len(), 1);
    w.fake.expect_comment(w.pr, |b| b.contains("@npu-oncall"));

    // The merge is refused, naming the repository.
    let (id, out) = say(&w.fake, w.pr, MAINTAINER, "@ci-medic merge").await;
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        w.fake.merge_commit(w.pr).is_none(),
        "an L4 failure holds the merge"
    );
    let _ = w.fake.reaction_contents(id);
    let r = replies(&w.fake, w.pr);
    let refusal = r.last().expect("a reply");
    assert!(
        refusal.contains("Downstream CI (L4) blocks merging")
            && refusal.contains("`NPU-Org/NPU-Backend` (failed)"),
        "{refusal}"
    );

    // Forced, it merges.
    let (id, out) = say(
        &w.fake,
        w.pr,
        MAINTAINER,
        "@ci-medic merge -f \"two words\"",
    )
    .await;
    let _ = (w.fake.reaction_contents(id), w.fake.pull(w.pr));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        w.fake.merge_commit(w.pr).is_some(),
        "{:?}",
        replies(&w.fake, w.pr)
    );
    let _ = (
        w.fake.repository_dispatches(L2_REPO),
        w.fake.repository_dispatches("l1-org/just-dispatch"),
    );
    let forced = replies(&w.fake, w.pr);
    assert!(
        forced.last().is_some_and(|r| r.contains("two words")),
        "{forced:?}"
    );
    let _ = w.fake.comments(w.pr);
}

#[tokio::test]
async fn the_merge_gate_follows_on_error_when_the_allowlist_is_broken() {
    use crate::bot_commands::{replies, say};
    use crate::support::fake_github::MAINTAINER;
    for (on_error, merges) in [("open", true), ("closed", false)] {
        let w = world(false).await;
        w.fake.commit_files(
            DEFAULT_BRANCH,
            &[
                (
                    ".github/ci-medic.yml",
                    format!(
                        "analyze:\n  enabled: false\nretry:\n  enabled: false\ncommands: {{}}\ncrcr:\n  oidc-issuer: {}\n  on-error: {on_error}\n",
                        w.issuer.uri()
                    )
                    .as_str(),
                ),
                (".github/crcr-allowlist.yml", "L5:\n  - not/a-level\n"),
            ],
            "Break the allowlist",
        );
        w.fake.set_permission("hubot", "write");
        w.fake.add_review(w.pr, "hubot", "APPROVED");
        let (id, out) = say(&w.fake, w.pr, MAINTAINER, "@ci-medic merge").await;
        assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
        assert_eq!(w.fake.merge_commit(w.pr).is_some(), merges, "{on_error}");
        let _ = (w.fake.reaction_contents(id), w.fake.pull(w.pr));
        let r = replies(&w.fake, w.pr);
        let reply = r.last().expect("a reply");
        assert!(
            reply.contains(&format!("`crcr.on-error` is `{on_error}`")),
            "{on_error}: {reply}"
        );
    }
}

/// The merge command's reply on the pull request (not the on-call ping).
fn command_reply(w: &World) -> Vec<String> {
    crate::bot_commands::replies(&w.fake, w.pr)
        .into_iter()
        .filter(|b| b.contains("<!-- ci-medic:command:"))
        .collect()
}

#[tokio::test]
async fn an_l4_result_wakes_the_merge_waiting_for_it_in_the_same_run() {
    use crate::bot_commands::say;
    use crate::support::fake_github::MAINTAINER;
    for (conclusion, merges) in [("success", true), ("failure", false)] {
        let w = world(false).await;
        w.fake.commit_files(
            DEFAULT_BRANCH,
            &[(
                ".github/ci-medic.yml",
                format!(
                    "analyze:\n  enabled: false\nretry:\n  enabled: false\ncommands: {{}}\ncrcr:\n  oidc-issuer: {}\n",
                    w.issuer.uri()
                )
                .as_str(),
            )],
            "Answer comment commands",
        );
        w.fake.set_permission("hubot", "write");
        w.fake.add_review(w.pr, "hubot", "APPROVED");

        // Dispatched; the downstream job starts and says so.
        let run = upstream(&w, "pull_request", &pull_request_event(&w, "opened")).await;
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
        let sent = w.fake.repository_dispatches(DOWNSTREAM);
        let dispatched = json!({
            "action": "crcr-pull-request",
            "client_payload": sent[0].client_payload,
            "repository": {"full_name": DOWNSTREAM},
        });
        let _ = (
            w.fake.repository_dispatches(L2_REPO),
            w.fake.repository_dispatches("l1-org/just-dispatch"),
        );
        let report = downstream_report_as(&w, &dispatched, &["--status", "in_progress"]).await;
        assert_eq!(report.code, 0, "{}\n{}", report.stdout, report.stderr);
        let back = w.fake.repository_dispatches(&format!("{OWNER}/{REPO}"));
        let started = back.last().expect("a result").client_payload.clone();
        let run = upstream(&w, "repository_dispatch", &result_event(&started)).await;
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
        let checks = w.fake.check_runs();
        assert_eq!(checks.len(), 1, "{checks:?}");
        assert_eq!(checks[0].status, "in_progress");

        // The merge waits for the pending L4 check.
        let (id, out) = say(&w.fake, w.pr, MAINTAINER, "@ci-medic merge").await;
        assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
        assert_eq!(w.fake.reaction_contents(id), ["+1"]);
        assert!(w.fake.merge_commit(w.pr).is_none());
        let r = command_reply(&w);
        assert!(
            r[0].contains("once its checks pass") && r[0].contains("`crcr/NPU-Org/NPU-Backend`"),
            "{}",
            r[0]
        );
        let labels = w.fake.issue(w.pr).expect("pr").labels;
        assert!(labels.contains(&"merging".to_string()), "{labels:?}");

        // The job ends; its result alone, through the relay, decides the wait.
        let report = downstream_report(&w, &dispatched, conclusion).await;
        assert_eq!(report.code, 0, "{}\n{}", report.stdout, report.stderr);
        let back = w.fake.repository_dispatches(&format!("{OWNER}/{REPO}"));
        let done = back.last().expect("a result").client_payload.clone();
        let before = w.fake.requests().len();
        let run = upstream(&w, "repository_dispatch", &result_event(&done)).await;
        let calls: Vec<_> = w.fake.requests().into_iter().skip(before).collect();
        // The upstream example workflow's token may make every one of them.
        assert_workflow_grants("crcr-upstream.yml", "relay", &calls);
        let made: Vec<String> = calls
            .into_iter()
            .map(|r| format!("{} {}", r.method, r.operation.unwrap_or(r.path)))
            .collect();
        // Accepted to merged: the result's own calls (no ping on a
        // success) and the wake's; a failure pings and ends the wait.
        let expected = if merges { 23 } else { 20 };
        assert_eq!(made.len(), expected, "{conclusion}: {made:#?}");
        assert_eq!(run.code, 0, "{conclusion}: {}\n{}", run.stdout, run.stderr);
        let checks = w.fake.check_runs();
        assert_eq!(checks.len(), 1, "{checks:?}");
        assert_eq!(checks[0].conclusion.as_deref(), Some(conclusion));
        let merge_calls = w.fake.requests_to(
            "PUT",
            &format!("^/repos/{OWNER}/{REPO}/pulls/{}/merge$", w.pr),
        );
        let r = command_reply(&w);
        assert_eq!(r.len(), 1, "{r:?}");
        let labels = w.fake.issue(w.pr).expect("pr").labels;
        assert!(!labels.contains(&"merging".to_string()), "{labels:?}");
        if merges {
            assert_eq!(merge_calls.len(), 1);
            assert_eq!(
                merge_calls[0].json().map(|b| b["sha"].clone()),
                Some(Value::from(w.head.as_str())),
                "the approved head, pinned"
            );
            assert!(w.fake.merge_commit(w.pr).is_some());
            assert!(r[0].contains("Merged"), "{}", r[0]);
            assert!(labels.contains(&"merged".to_string()), "{labels:?}");
        } else {
            assert!(merge_calls.is_empty(), "an L4 failure merges nothing");
            assert!(w.fake.merge_commit(w.pr).is_none());
            assert!(
                r[0].contains("## Merge failed")
                    && r[0].contains("Downstream CI (L4) blocks merging")
                    && r[0].contains("`NPU-Org/NPU-Backend` (failed)"),
                "{}",
                r[0]
            );
            let pings = w
                .fake
                .comments(w.pr)
                .into_iter()
                .filter(|c| c.body.contains("@npu-oncall"))
                .count();
            assert_eq!(pings, 1, "the on-calls are told once");
        }
        let _ = (w.fake.comments(w.pr), w.fake.pull(w.pr));
        w.fake.assert_clean();
    }
}

/// The token scopes (any one of them, as `scope:level`) that let the
/// workflow token make `call` in this repository, after GitHub's
/// "Permissions required for GitHub Apps" page; `None` when the metadata
/// every token has suffices.
fn scopes_for(method: &str, operation: &str) -> Option<&'static [&'static str]> {
    let read = method.eq_ignore_ascii_case("GET");
    let (group, _) = operation.split_once('/').unwrap_or((operation, ""));
    Some(match (group, operation, read) {
        (_, "repos/get" | "repos/get-collaborator-permission-level", _) => return None,
        (_, "pulls/merge", _) => &["contents:write"],
        ("actions", _, true) => &["actions:read"],
        ("actions", _, false) => &["actions:write"],
        ("checks", _, true) => &["checks:read"],
        ("checks", _, false) => &["checks:write"],
        ("pulls", _, true) => &["pull-requests:read"],
        ("pulls", _, false) => &["pull-requests:write"],
        ("issues" | "reactions", _, true) => &["issues:read", "pull-requests:read"],
        ("issues" | "reactions", _, false) => &["issues:write", "pull-requests:write"],
        ("repos" | "git", _, true) => &["contents:read"],
        ("repos" | "git", _, false) => &["contents:write"],
        _ => panic!("no scope known for {method} {operation}: add it here"),
    })
}

/// Every call in `calls` to this repository is one the token of job `job`
/// in example workflow `file` may make: its `permissions` grant a scope the
/// call needs (`write` covers `read`).
fn assert_workflow_grants(
    file: &str,
    job: &str,
    calls: &[crate::support::fake_github::RecordedRequest],
) {
    let text = std::fs::read_to_string(format!(
        "{}/.github/workflows/examples/{file}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("example workflow");
    let wf: serde_yaml::Value = serde_yaml::from_str(&text).expect("yaml");
    let granted = &wf["jobs"][job]["permissions"];
    let grants = |want: &str| {
        let (scope, level) = want.split_once(':').expect("scope:level");
        match granted[scope].as_str() {
            Some("write") => true,
            Some("read") => level == "read",
            _ => false,
        }
    };
    let ours = format!("/repos/{OWNER}/{REPO}");
    let mut missing = Vec::new();
    for call in calls {
        if !(call.path == ours || call.path.starts_with(&format!("{ours}/"))) {
            continue;
        }
        let operation = call.operation.clone().unwrap_or_else(|| call.path.clone());
        if let Some(any) = scopes_for(&call.method, &operation)
            && !any.iter().any(|s| grants(s))
        {
            missing.push(format!(
                "{} {operation} needs {}",
                call.method,
                any.join(" or ")
            ));
        }
    }
    assert!(
        missing.is_empty(),
        "{file} grants {granted:?}: {missing:#?}"
    );
}

/// A world with the commands on, an approved pull request, and a merge
/// command waiting for the L4 repository (its job started and said so when
/// `started`, else no result at all).
async fn merge_waiting_for_l4(started: bool) -> World {
    use crate::support::fake_github::MAINTAINER;
    let w = world(false).await;
    w.fake.commit_files(
        DEFAULT_BRANCH,
        &[(
            ".github/ci-medic.yml",
            format!(
                "analyze:\n  enabled: false\nretry:\n  enabled: false\ncommands: {{}}\ncrcr:\n  oidc-issuer: {}\n",
                w.issuer.uri()
            )
            .as_str(),
        )],
        "Answer comment commands",
    );
    w.fake.set_permission("hubot", "write");
    w.fake.add_review(w.pr, "hubot", "APPROVED");
    if started {
        let run = upstream(&w, "pull_request", &pull_request_event(&w, "opened")).await;
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
        let sent = w.fake.repository_dispatches(DOWNSTREAM);
        let dispatched = json!({
            "action": "crcr-pull-request",
            "client_payload": sent[0].client_payload,
            "repository": {"full_name": DOWNSTREAM},
        });
        let _ = (
            w.fake.repository_dispatches(L2_REPO),
            w.fake.repository_dispatches("l1-org/just-dispatch"),
        );
        let report = downstream_report_as(&w, &dispatched, &["--status", "in_progress"]).await;
        assert_eq!(report.code, 0, "{}\n{}", report.stdout, report.stderr);
        let back = w.fake.repository_dispatches(&format!("{OWNER}/{REPO}"));
        let payload = back.last().expect("a result").client_payload.clone();
        let run = upstream(&w, "repository_dispatch", &result_event(&payload)).await;
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
        assert_eq!(w.fake.check_runs()[0].status, "in_progress");
    }
    let (id, out) = crate::bot_commands::say(&w.fake, w.pr, MAINTAINER, "@ci-medic merge").await;
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(w.fake.reaction_contents(id), ["+1"]);
    let r = command_reply(&w);
    assert!(r[0].contains("once its checks pass"), "{}", r[0]);
    w
}

/// The bot workflow's scheduled sweep.
async fn sweep(w: &World) -> ActionRun {
    let payload = json!({
        "schedule": "*/15 * * * *",
        "repository": {"full_name": format!("{OWNER}/{REPO}")},
    });
    Runner::new(&w.fake).run_event("schedule", &payload).await
}

fn labels(w: &World) -> Vec<String> {
    w.fake.issue(w.pr).expect("pr").labels
}

#[tokio::test]
async fn the_sweep_merges_what_a_result_written_in_another_run_left_waiting() {
    let w = merge_waiting_for_l4(true).await;
    // Another run wrote the result, and its wake saw another L4 job still
    // running (or lost the race): the check passed, nothing woke the merge.
    w.fake.with_world(|world| {
        let (env, repo, _) = world.split(&format!("{OWNER}/{REPO}")).expect("repo");
        let now = env.tick();
        let run = repo.check_runs.first_mut().expect("the L4 check run");
        run.status = "completed".into();
        run.conclusion = Some("success".into());
        run.completed_at = Some(now);
    });
    assert!(w.fake.merge_commit(w.pr).is_none());
    assert!(labels(&w).contains(&"merging".to_string()));

    let out = sweep(&w).await;
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let merges = w.fake.requests_to(
        "PUT",
        &format!("^/repos/{OWNER}/{REPO}/pulls/{}/merge$", w.pr),
    );
    assert_eq!(merges.len(), 1);
    assert_eq!(
        merges[0].json().map(|b| b["sha"].clone()),
        Some(Value::from(w.head.as_str())),
        "the approved head, pinned"
    );
    assert!(w.fake.merge_commit(w.pr).is_some());
    let r = command_reply(&w);
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(r[0].contains("Merged"), "{}", r[0]);
    let l = labels(&w);
    assert!(
        l.contains(&"merged".to_string()) && !l.contains(&"merging".to_string()),
        "{l:?}"
    );

    // The next sweep finds nothing waiting.
    let out = sweep(&w).await;
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        w.fake
            .requests_to(
                "PUT",
                &format!("^/repos/{OWNER}/{REPO}/pulls/{}/merge$", w.pr)
            )
            .len(),
        1
    );
    let _ = (w.fake.comments(w.pr), w.fake.pull(w.pr));
    w.fake.assert_clean();
}

#[tokio::test]
async fn the_sweep_ends_a_merge_past_its_deadline_with_one_comment() {
    use ci_medic::report::hidden::{DIGEST_PLACEHOLDER, seal};
    let w = merge_waiting_for_l4(false).await;
    // Its deadline passes with no result and no event.
    w.fake.with_world(|world| {
        let (_, repo, _) = world.split(&format!("{OWNER}/{REPO}")).expect("repo");
        let reply = repo
            .comments
            .iter_mut()
            .find(|c| c.body.contains("<!-- ci-medic:command:"))
            .expect("the reply");
        let state = ci_medic::bot::merge::read_pending(&reply.body).expect("sealed state");
        let json = |v: &chrono::DateTime<chrono::Utc>| serde_json::to_string(v).expect("json");
        let past = chrono::DateTime::from_timestamp(1_000_000_000, 0).expect("time");
        let body = reply
            .body
            .replace(&json(&state.deadline), &json(&past))
            .replace(&state.body_sha256, DIGEST_PLACEHOLDER);
        reply.body = seal(body);
        assert!(ci_medic::bot::merge::read_pending(&reply.body).is_some());
    });
    for _ in 0..2 {
        let out = sweep(&w).await;
        assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    }
    assert!(w.fake.merge_commit(w.pr).is_none());
    let r = command_reply(&w);
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(
        r[0].contains("## Merge failed")
            && r[0].contains("did not report by the deadline")
            && r[0].contains("`NPU-Org/NPU-Backend` (no result yet)"),
        "{}",
        r[0]
    );
    assert_eq!(
        crate::bot_commands::replies(&w.fake, w.pr).len(),
        1,
        "one comment: the reply, updated"
    );
    assert!(!labels(&w).contains(&"merging".to_string()));
    let _ = (w.fake.comments(w.pr), w.fake.pull(w.pr));
    w.fake.assert_clean();
}
