//! The store against a real ClickHouse engine, through the `clickhouse` crate
//! with its defaults (LZ4-compressed inserts, schema-validated rows).
//!
//! The server is the one `CLICKHOUSE_URL` names, or else one the harness
//! starts for the test run (see `support::clickhouse`); a server that cannot
//! be started fails these tests. Each test works in a database of its own and
//! drops it at the end.

use chrono::{DateTime, Utc};
use ci_medic::history::{self, snapshot::JobResult};
use ci_medic::store::{
    AutorevertAction, AutorevertEvent, FlakyJob, JobFailure, JobRow, JobStep, PushCommit, PushRow,
    Store, WorkflowRunRow, exception_code,
};

use crate::autorevert_flow::json_of;
use crate::support::action::{ActionRun, Runner};
use crate::support::clickhouse::{self as test_clickhouse, drop_database, fetch_one};
use crate::support::fake_github::FakeGithub;

const REPO: &str = "pytorch/pytorch";

/// A store on a database of its own (not created yet: `migrate` does that).
async fn fresh_store(test: &str) -> Store {
    let url = test_clickhouse::url();
    test_clickhouse::connect(&url, &test_clickhouse::database(test)).await
}

async fn migrated_store(test: &str) -> Store {
    let store = fresh_store(test).await;
    store.migrate().await.expect("migrate");
    store
}

/// A fixed instant plus `seconds`.
fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(1_700_000_000_123 + seconds * 1000).expect("valid time")
}

fn job(id: i64, sha: &str, workflow: &str, name: &str, conclusion: &str) -> JobRow {
    JobRow {
        id,
        run_id: id * 10,
        run_attempt: 1,
        repository_full_name: REPO.to_owned(),
        workflow_name: workflow.to_owned(),
        workflow_event: "push".to_owned(),
        head_sha: sha.to_owned(),
        head_branch: "main".to_owned(),
        name: name.to_owned(),
        labels: vec!["linux.2xlarge".to_owned()],
        runner_name: format!("runner-{id}"),
        status: "completed".to_owned(),
        conclusion: conclusion.to_owned(),
        created_at: at(0),
        started_at: Some(at(5)),
        completed_at: Some(at(65)),
        steps: Vec::new(),
        failure: JobFailure::default(),
        html_url: format!(
            "https://github.com/{REPO}/actions/runs/{}/job/{id}",
            id * 10
        ),
        updated_at: at(65),
    }
}

#[tokio::test]
async fn clickhouse_migrations_create_the_tables_once() {
    let store = fresh_store("migrate").await;

    let applied = store.migrate().await.expect("first migrate");
    assert_eq!(applied, vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    let again = store.migrate().await.expect("second migrate");
    assert!(again.is_empty(), "second run applied {again:?}");

    let tables = store
        .client()
        .query(
            "SELECT name FROM system.tables \
             WHERE database = {db:String} AND NOT startsWith(name, '.inner') ORDER BY name",
        )
        .param("db", store.database())
        .fetch_all::<String>()
        .await
        .expect("list tables");
    assert_eq!(
        tables,
        [
            "actions",
            "autorevert_events",
            "bot_audit",
            "crcr_workflow_job",
            "push",
            "push_input",
            "push_input_mv",
            "schema_migrations",
            "workflow_job",
            "workflow_job_by_head_sha",
            "workflow_job_input",
            "workflow_job_input_mv",
            "workflow_run",
        ]
    );

    // The tables the crate writes through mirror the tables they feed.
    for (table, input) in [
        ("workflow_job", "workflow_job_input"),
        ("push", "push_input"),
    ] {
        let columns = |table: &'static str| {
            store
                .client()
                .query(
                    "SELECT name FROM system.columns \
                     WHERE database = {db:String} AND table = {table:String} ORDER BY position",
                )
                .param("db", store.database())
                .param("table", table)
                .fetch_all::<String>()
        };
        let fed = columns(table).await.expect("columns");
        assert!(!fed.is_empty());
        assert_eq!(fed, columns(input).await.expect("columns"), "{input}");
    }
    drop_database(&store).await;
}

#[tokio::test]
async fn clickhouse_newest_job_version_wins_under_final() {
    let store = migrated_store("final").await;
    // The crate's default compression is what goes over the wire.
    assert!(format!("{:?}", store.client()).contains("Lz4"));

    let running = JobRow {
        status: "in_progress".to_owned(),
        conclusion: String::new(),
        completed_at: None,
        updated_at: at(10),
        ..job(1, "abc", "trunk", "test (default, 1)", "")
    };
    let other = job(2, "abc", "trunk", "build", "success");
    store
        .insert_jobs(&[running.clone(), other.clone()])
        .await
        .expect("insert");

    let failed = JobRow {
        status: "completed".to_owned(),
        conclusion: "failure".to_owned(),
        completed_at: Some(at(70)),
        updated_at: at(70),
        steps: vec![
            JobStep {
                number: 1,
                name: "Set up job".to_owned(),
                status: "completed".to_owned(),
                conclusion: "success".to_owned(),
                started_at: Some(at(5)),
                completed_at: Some(at(6)),
            },
            JobStep {
                number: 2,
                name: "Test".to_owned(),
                status: "completed".to_owned(),
                conclusion: "failure".to_owned(),
                started_at: Some(at(6)),
                completed_at: None,
            },
        ],
        failure: JobFailure {
            rule: "pytest failure".to_owned(),
            category: "test".to_owned(),
            line: "FAILED test_ops.py::test_add - AssertionError".to_owned(),
            line_num: 1234,
            captures: vec!["test_ops.py::test_add".to_owned()],
            fingerprint: "f00d".to_owned(),
        },
        ..running.clone()
    };
    store
        .insert_jobs(std::slice::from_ref(&failed))
        .await
        .expect("insert the update");
    // A late, older version must not win either.
    let stale = JobRow {
        status: "queued".to_owned(),
        updated_at: at(1),
        ..running.clone()
    };
    store
        .insert_jobs(&[stale])
        .await
        .expect("insert a stale row");

    let jobs = store
        .jobs_for_shas(REPO, &["abc".to_owned()])
        .await
        .expect("read back");
    assert_eq!(jobs, vec![other, failed]);

    // The tuples keep their element names in the table.
    let rule: String = fetch_one(
        &store,
        "SELECT failure.rule FROM workflow_job FINAL WHERE id = 1",
    )
    .await;
    assert_eq!(rule, "pytest failure");
    let steps: Vec<String> = fetch_one(
        &store,
        "SELECT steps.name FROM workflow_job FINAL WHERE id = 1",
    )
    .await;
    assert_eq!(steps, ["Set up job", "Test"]);
    drop_database(&store).await;
}

#[tokio::test]
async fn clickhouse_parameters_are_values_never_sql() {
    let store = migrated_store("params").await;
    let tricky = "it's a \"sha\" with \\ backslash, `tick`, tab\t and\nnewline";
    let repo = r"o'rg\x/re`po";
    let stored = JobRow {
        repository_full_name: repo.to_owned(),
        ..job(7, tricky, "trunk", "x", "success")
    };
    store
        .insert_jobs(std::slice::from_ref(&stored))
        .await
        .expect("insert");

    // String and Array(String) parameters arrive byte for byte.
    #[derive(clickhouse::Row, serde::Deserialize)]
    struct Echo {
        s: String,
        a: Vec<String>,
    }
    let echoed = store
        .client()
        .query("SELECT {s:String} AS s, {a:Array(String)} AS a")
        .param("s", tricky)
        .param("a", vec![repo, tricky, "'); DROP TABLE workflow_job; --"])
        .fetch_one::<Echo>()
        .await
        .expect("echo parameters");
    assert_eq!(echoed.s, tricky);
    assert_eq!(echoed.a, [repo, tricky, "'); DROP TABLE workflow_job; --"]);

    let found = store
        .jobs_for_shas(repo, &[tricky.to_owned(), "x' OR '1'='1".to_owned()])
        .await
        .expect("query with quotes");
    assert_eq!(found, vec![stored.clone()]);

    // Injection attempts match nothing, and break nothing.
    for (repo_try, sha_try) in [
        ("x' OR 1=1 --", tricky),
        (repo, "' OR 1=1 --"),
        (repo, "abc') OR ('1'='1"),
    ] {
        let none = store
            .jobs_for_shas(repo_try, &[sha_try.to_owned()])
            .await
            .expect("query");
        assert!(none.is_empty(), "{repo_try} / {sha_try} matched {none:?}");
    }
    let still = store
        .jobs_for_shas(repo, &[tricky.to_owned()])
        .await
        .expect("query");
    assert_eq!(still, vec![stored]);
    drop_database(&store).await;
}

#[tokio::test]
async fn clickhouse_restart_exists_only_for_dispatch_on_the_trunk_tag() {
    let store = migrated_store("restart").await;
    let sha = "1111111111111111111111111111111111111111";
    let restart = JobRow {
        workflow_event: "workflow_dispatch".to_owned(),
        head_branch: format!("trunk/{sha}"),
        ..job(1, sha, "trunk", "test", "success")
    };
    let push = job(2, sha, "pull", "test", "failure");
    store.insert_jobs(&[restart, push]).await.expect("insert");

    assert!(
        store
            .restart_exists(REPO, sha, "trunk")
            .await
            .expect("query")
    );
    assert!(
        !store
            .restart_exists(REPO, sha, "pull")
            .await
            .expect("query")
    );
    assert!(
        !store
            .restart_exists(REPO, "2222222222222222222222222222222222222222", "trunk")
            .await
            .expect("query")
    );
    assert!(
        !store
            .restart_exists("someone/else", sha, "trunk")
            .await
            .expect("query")
    );
    drop_database(&store).await;
}

#[tokio::test]
async fn clickhouse_flaky_jobs_failed_and_passed_on_one_commit() {
    let store = migrated_store("flaky").await;
    let old = JobRow {
        created_at: at(-3600),
        ..job(1, "old", "trunk", "test", "failure")
    };
    let old_retry = JobRow {
        created_at: at(-3500),
        ..job(2, "old", "trunk", "test", "success")
    };
    let failed = job(3, "abc", "trunk", "test (1)", "failure");
    let retried = JobRow {
        run_attempt: 2,
        ..job(4, "abc", "trunk", "test (1)", "success")
    };
    let lint = job(5, "abc", "lint", "lint", "failure");
    let build = job(6, "abc", "trunk", "build", "success");
    // First seen failing, then corrected to success: one job, not flaky.
    let corrected_first = job(7, "abc", "trunk", "docs", "failure");
    store
        .insert_jobs(&[
            old,
            old_retry,
            failed,
            retried,
            lint,
            build,
            corrected_first,
        ])
        .await
        .expect("insert");
    let corrected = JobRow {
        updated_at: at(100),
        ..job(7, "abc", "trunk", "docs", "success")
    };
    store.insert_jobs(&[corrected]).await.expect("insert");

    let flaky = store.flaky_jobs(REPO, at(-60)).await.expect("query");
    assert_eq!(
        flaky,
        vec![FlakyJob {
            head_sha: "abc".to_owned(),
            workflow_name: "trunk".to_owned(),
            name: "test (1)".to_owned(),
        }]
    );
    drop_database(&store).await;
}

/// The history service reads the same flaky memory from ClickHouse as its
/// rule finds in those jobs' results.
#[tokio::test]
async fn clickhouse_history_flaky_memory_matches_the_rule() {
    let store = migrated_store("history_flaky").await;
    let failed = job(1, "abc", "trunk", "test", "failure");
    let passed = JobRow {
        run_id: 10,
        run_attempt: 2,
        ..job(2, "abc", "trunk", "test", "success")
    };
    let lint = job(3, "abc", "trunk", "lint", "failure");
    store
        .insert_jobs(&[failed.clone(), passed.clone(), lint.clone()])
        .await
        .expect("insert");

    let read = history::clickhouse::flaky_jobs(&store, REPO, at(-60))
        .await
        .expect("query");
    let expected = vec![history::FlakyJob {
        sha: "abc".into(),
        workflow: "trunk".into(),
        name: "test".into(),
    }];
    assert_eq!(read, expected);

    let results: Vec<JobResult> = [failed, passed, lint]
        .iter()
        .map(|r| JobResult {
            sha: r.head_sha.clone(),
            workflow: r.workflow_name.clone(),
            name: r.name.clone(),
            run_id: u64::try_from(r.run_id).expect("id"),
            run_attempt: u64::try_from(r.run_attempt).expect("attempt"),
            event: r.workflow_event.clone(),
            head_branch: r.head_branch.clone(),
            status: r.status.as_str().into(),
            conclusion: Some(r.conclusion.as_str().into()),
            started_at: r.started_at,
            completed_at: r.completed_at,
            rule: None,
            fingerprint: None,
            id: None,
            url: None,
        })
        .collect();
    assert_eq!(history::flaky::failed_then_passed(&results), expected);
    drop_database(&store).await;
}

#[tokio::test]
async fn clickhouse_jobs_in_window_filters_time_and_workflows() {
    let store = migrated_store("window").await;
    let at_time = |id: i64, workflow: &str, seconds: i64| JobRow {
        created_at: at(seconds),
        ..job(id, "abc", workflow, "test", "success")
    };
    let rows = [
        at_time(1, "trunk", -10),
        at_time(2, "trunk", 0),
        at_time(3, "pull", 10),
        at_time(4, "trunk", 20),
        at_time(5, "trunk", 30),
    ];
    store.insert_jobs(&rows).await.expect("insert");

    let trunk = store
        .jobs_in_window(REPO, &["trunk".to_owned()], at(0), at(30))
        .await
        .expect("query");
    assert_eq!(trunk, vec![rows[1].clone(), rows[3].clone()]);
    let all = store
        .jobs_in_window(REPO, &[], at(0), at(30))
        .await
        .expect("query");
    assert_eq!(all, rows[1..4].to_vec());
    drop_database(&store).await;
}

#[tokio::test]
async fn clickhouse_runs_pushes_and_events_round_trip() {
    let store = migrated_store("rows").await;
    let run = WorkflowRunRow {
        id: 99,
        run_attempt: 2,
        repository_full_name: REPO.to_owned(),
        name: "trunk".to_owned(),
        path: ".github/workflows/trunk.yml".to_owned(),
        event: "push".to_owned(),
        head_sha: "abc".to_owned(),
        head_branch: "main".to_owned(),
        status: "completed".to_owned(),
        conclusion: "failure".to_owned(),
        created_at: at(0),
        updated_at: at(600),
        html_url: format!("https://github.com/{REPO}/actions/runs/99"),
    };
    let push = PushRow {
        repository_full_name: REPO.to_owned(),
        git_ref: "refs/heads/main".to_owned(),
        after: "abc".to_owned(),
        pushed_at: at(-5),
        commits: vec![
            PushCommit {
                id: "abb".to_owned(),
                timestamp: at(-100),
                message: "first\n\nbody".to_owned(),
                author: "a@example.com".to_owned(),
            },
            PushCommit {
                id: "abc".to_owned(),
                timestamp: at(-50),
                message: "second".to_owned(),
                author: "b@example.com".to_owned(),
            },
        ],
    };
    let event = AutorevertEvent {
        ts: at(700),
        repository_full_name: REPO.to_owned(),
        action: AutorevertAction::Revert,
        commit_sha: "abc".to_owned(),
        workflows: vec!["trunk".to_owned()],
        signals: vec!["test (1): failure on abc, success on abb".to_owned()],
        verdict: "revert".to_owned(),
        reason: "new failure persisted after restart".to_owned(),
        dry_run: true,
        failed: false,
        notes: String::new(),
    };
    store
        .insert_runs(std::slice::from_ref(&run))
        .await
        .expect("insert run");
    store
        .insert_pushes(std::slice::from_ref(&push))
        .await
        .expect("insert push");
    store
        .insert_autorevert_events(std::slice::from_ref(&event))
        .await
        .expect("insert event");

    let client = store.client();
    let runs = client
        .query("SELECT ?fields FROM workflow_run FINAL")
        .fetch_all::<WorkflowRunRow>()
        .await
        .expect("read runs");
    assert_eq!(runs, vec![run]);
    let pushes = store
        .pushes_in_window(REPO, "refs/heads/main", at(-5), at(0))
        .await
        .expect("read pushes");
    assert_eq!(pushes, vec![push]);
    let elsewhere = store
        .pushes_in_window(REPO, "refs/heads/other", at(-5), at(0))
        .await
        .expect("read pushes");
    assert!(elsewhere.is_empty());
    // The named tuple elements are there for queries written by hand.
    let authors: Vec<String> = fetch_one(&store, "SELECT commits.author FROM push").await;
    assert_eq!(authors, ["a@example.com", "b@example.com"]);
    let events = client
        .query("SELECT ?fields FROM autorevert_events")
        .fetch_all::<AutorevertEvent>()
        .await
        .expect("read events");
    assert_eq!(events, vec![event]);
    let action: String = fetch_one(&store, "SELECT toString(action) FROM autorevert_events").await;
    assert_eq!(action, "revert");
    drop_database(&store).await;
}

#[tokio::test]
async fn clickhouse_server_errors_carry_code_and_message() {
    let store = fresh_store("errors").await;
    // Before `migrate`, the database does not exist.
    let err = store
        .jobs_for_shas(REPO, &["abc".to_owned()])
        .await
        .expect_err("no database yet");
    assert_eq!(exception_code(&err), Some(81), "{err:#}");
    assert!(format!("{err:#}").contains("UNKNOWN_DATABASE"), "{err:#}");

    store.migrate().await.expect("migrate");
    let err = anyhow::Error::new(
        store
            .client()
            .query("SELEC 1")
            .execute()
            .await
            .expect_err("bad SQL"),
    );
    assert_eq!(exception_code(&err), Some(62), "{err:#}");
    let message = format!("{err:#}");
    assert!(message.contains("SYNTAX_ERROR"), "{message}");

    let err = anyhow::Error::new(
        store
            .client()
            .query("SELECT ?fields FROM no_such_table")
            .fetch_all::<FlakyJob>()
            .await
            .expect_err("unknown table"),
    );
    assert_eq!(exception_code(&err), Some(60), "{err:#}");
    drop_database(&store).await;
}

/// A runner of the action whose config points at `database` (or at no
/// store when `url` is `None`), and the config's path.
fn cli_runner(fake: &FakeGithub, url: Option<&str>, database: &str) -> (Runner, String) {
    let mut runner = Runner::new(fake);
    for var in ["CLICKHOUSE_USER", "CLICKHOUSE_PASSWORD"] {
        if let Ok(v) = std::env::var(var) {
            runner = runner.env(var, &v);
        }
    }
    let path = runner.path("ci-medic.yml");
    let text = match url {
        Some(url) => {
            let user = std::env::var("CLICKHOUSE_USER").unwrap_or_else(|_| "default".into());
            format!("clickhouse:\n  url: {url}\n  user: {user}\n  database: {database}\n")
        }
        None => String::new(),
    };
    std::fs::write(&path, text).expect("config");
    (runner, path.display().to_string())
}

async fn cli(runner: &Runner, config: &str, args: &[&str]) -> ActionRun {
    let mut all = args.to_vec();
    all.extend(["--config", config]);
    runner.exec(&all, None).await
}

fn ok(out: &ActionRun) {
    assert_eq!(
        out.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
}

fn webhook(path: &str) -> String {
    format!("{}/fixtures/webhooks/{path}", env!("CARGO_MANIFEST_DIR"))
}

/// Whether the server has `database`, asked through its `default` database.
async fn database_exists(url: &str, database: &str) -> bool {
    let server = test_clickhouse::connect(url, "default").await;
    server
        .client()
        .query("SELECT count() FROM system.databases WHERE name = ?")
        .bind(database)
        .fetch_one::<u64>()
        .await
        .expect("system.databases")
        == 1
}

#[tokio::test]
async fn clickhouse_migrate_dry_run_lists_the_pending_migrations_and_writes_nothing() {
    let url = test_clickhouse::url();
    let db = test_clickhouse::database("migrate_dry");
    let fake = FakeGithub::start().await;
    let (runner, cfg) = cli_runner(&fake, Some(&url), &db);

    let out = cli(&runner, &cfg, &["--dry-run", "clickhouse", "migrate"]).await;
    ok(&out);
    assert!(
        out.stdout.contains(&format!(
            "apply ClickHouse migrations 001_workflow_job, 002_workflow_job_by_head_sha, \
             003_workflow_run, 004_push, 005_autorevert_events, 006_workflow_job_input, \
             007_push_input, 008_crcr_workflow_job, 009_bot_audit, 010_actions to database {db}"
        )),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("dry run: not written"),
        "{}",
        out.stdout
    );
    assert!(!database_exists(&url, &db).await, "a dry run created {db}");

    let out = cli(
        &runner,
        &cfg,
        &["--dry-run", "--format", "json", "clickhouse", "migrate"],
    )
    .await;
    ok(&out);
    let json = json_of(&out);
    let step = &json["plan"]["steps"][0];
    assert_eq!(step["kind"], "migrate", "{json}");
    assert_eq!(step["database"], db.as_str());
    assert_eq!(step["migrations"].as_array().map(Vec::len), Some(10));
    assert_eq!(json["report"]["dry_run"], true);
    assert!(!database_exists(&url, &db).await);

    // For real: applied once; a dry run then has nothing to plan.
    let out = cli(&runner, &cfg, &["clickhouse", "migrate"]).await;
    ok(&out);
    assert!(
        out.stdout
            .contains("ci-medic: applied migrations [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]"),
        "{}",
        out.stdout
    );
    let store = test_clickhouse::connect(&url, &db).await;
    let applied: u64 = fetch_one(&store, "SELECT count() FROM schema_migrations FINAL").await;
    assert_eq!(applied, 10);
    let out = cli(&runner, &cfg, &["--dry-run", "clickhouse", "migrate"]).await;
    ok(&out);
    assert!(out.stdout.contains("0 write(s) planned"), "{}", out.stdout);
    assert!(
        out.stdout.contains("the ClickHouse schema is up to date"),
        "{}",
        out.stdout
    );
    let out = cli(&runner, &cfg, &["clickhouse", "migrate"]).await;
    ok(&out);
    assert!(
        out.stdout
            .contains("ci-medic: the ClickHouse schema is up to date"),
        "{}",
        out.stdout
    );
    drop_database(&store).await;
    fake.assert_clean();
}

#[tokio::test]
async fn clickhouse_ingest_dry_run_prints_the_rows_and_writes_nothing() {
    let store = migrated_store("ingest_dry").await;
    let url = test_clickhouse::url();
    let fake = FakeGithub::start().await;
    let (runner, cfg) = cli_runner(&fake, Some(&url), store.database());
    let push = webhook("push/04-event.json");
    let job = webhook("workflow_job/01-completed.json");
    let count = |table: &'static str| {
        let store = store.clone();
        async move { fetch_one::<u64>(&store, &format!("SELECT count() FROM {table} FINAL")).await }
    };

    let out = cli(
        &runner,
        &cfg,
        &["--dry-run", "ingest", "--event", "push", "--payload", &push],
    )
    .await;
    ok(&out);
    assert!(
        out.stdout
            .contains("insert 1 row(s) into ClickHouse table push"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("dry run: not written"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("ingested"), "{}", out.stdout);

    let out = cli(
        &runner,
        &cfg,
        &[
            "--dry-run",
            "--format",
            "json",
            "ingest",
            "--event",
            "workflow_job",
            "--payload",
            &job,
        ],
    )
    .await;
    ok(&out);
    let json = json_of(&out);
    let step = &json["plan"]["steps"][0];
    assert_eq!(step["kind"], "insert-rows", "{json}");
    assert_eq!(step["table"], "workflow_job");
    assert_eq!(step["rows"][0]["id"], 289_782_451);
    assert_eq!(step["rows"][0]["status"], "completed");
    assert_eq!(json["report"]["results"][0][1]["status"], "dry-run");

    assert_eq!(count("push").await, 0);
    assert_eq!(count("workflow_job").await, 0);

    // The same payloads for real.
    for (event, payload) in [("push", &push), ("workflow_job", &job)] {
        let out = cli(
            &runner,
            &cfg,
            &["ingest", "--event", event, "--payload", payload],
        )
        .await;
        ok(&out);
        assert!(out.stdout.contains("ci-medic: ingested"), "{}", out.stdout);
    }
    assert_eq!(count("push").await, 1);
    assert_eq!(count("workflow_job").await, 1);
    drop_database(&store).await;
    fake.assert_clean();
}

#[tokio::test]
async fn ingest_dry_run_needs_no_store_and_a_real_run_names_the_missing_setting() {
    let fake = FakeGithub::start().await;
    let (runner, cfg) = cli_runner(&fake, None, "");
    let push = webhook("push/04-event.json");
    let out = cli(
        &runner,
        &cfg,
        &["--dry-run", "ingest", "--event", "push", "--payload", &push],
    )
    .await;
    ok(&out);
    assert!(
        out.stdout
            .contains("insert 1 row(s) into ClickHouse table push"),
        "{}",
        out.stdout
    );
    let out = cli(
        &runner,
        &cfg,
        &["ingest", "--event", "push", "--payload", &push],
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stderr.contains("clickhouse.url"), "{}", out.stderr);
    fake.assert_clean();
}

/// `run` with a `clickhouse` section in the repository's config records
/// the events it is given; the same delivery twice writes its rows once,
/// and a dry run writes none.
#[tokio::test]
async fn ingest_handler_writes_a_redelivered_event_once() {
    let store = migrated_store("ingest_twice").await;
    let url = test_clickhouse::url();
    let fake = FakeGithub::start().await;
    let user = std::env::var("CLICKHOUSE_USER").unwrap_or_else(|_| "default".into());
    // Only ingest acts on these events: the runs they name are not the
    // fake's, so the failure issue and its closing are off.
    let config = format!(
        "analyze:\n  enabled: false\n  close-on-success: false\nclickhouse:\n  url: {url}\n  user: {user}\n  database: {}\n  record-events: true\n",
        store.database()
    );
    fake.commit_files(
        crate::support::fake_github::DEFAULT_BRANCH,
        &[(".github/ci-medic.yml", config.as_str())],
        "Record CI in ClickHouse",
    );
    let runner = || {
        let mut r = Runner::new(&fake);
        for var in ["CLICKHOUSE_USER", "CLICKHOUSE_PASSWORD"] {
            if let Ok(v) = std::env::var(var) {
                r = r.env(var, &v);
            }
        }
        r
    };
    let payload = |path: &str| -> serde_json::Value {
        let text = std::fs::read_to_string(webhook(path)).expect("fixture");
        serde_json::from_str(&text).expect("json")
    };
    // Every row written, not only the latest version of each.
    let count = |table: &'static str| {
        let store = store.clone();
        async move { fetch_one::<u64>(&store, &format!("SELECT count() FROM {table}")).await }
    };
    let events = [
        ("push", payload("push/04-event.json")),
        ("workflow_job", payload("workflow_job/01-completed.json")),
        ("workflow_run", payload("workflow_run/01-completed.json")),
    ];
    for (event, p) in &events {
        let out = runner()
            .env("INPUT_DRY-RUN", "true")
            .run_event(event, p)
            .await;
        ok(&out);
        assert!(out.stdout.contains("insert 1 row(s)"), "{}", out.stdout);
    }
    for table in ["push", "workflow_job", "workflow_run"] {
        assert_eq!(count(table).await, 0, "a dry run wrote to {table}");
    }
    for (event, p) in &events {
        let out = runner().run_event(event, p).await;
        ok(&out);
        assert!(out.stdout.contains("ci-medic: ingested"), "{}", out.stdout);
        let again = runner().run_event(event, p).await;
        ok(&again);
        assert!(again.stdout.contains("already stored"), "{}", again.stdout);
    }
    for table in ["push", "workflow_job", "workflow_run"] {
        assert_eq!(count(table).await, 1, "{table}");
    }
    drop_database(&store).await;
    fake.assert_clean();
}
