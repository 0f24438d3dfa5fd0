//! autorevert on ClickHouse, end to end: the real binary migrates the
//! schema, ingests GitHub's webhook examples and the payloads of a trunk
//! (runs whose jobs it reads and analyzes through the fake GitHub), and
//! detects with the batched queries; restarts it asked for are remembered in
//! `autorevert_events` even before their runs reach ClickHouse.
//!
//! The server is the one `CLICKHOUSE_URL` names, or else one the harness
//! starts for the test run (see `support::clickhouse`).

use std::path::{Path, PathBuf};

use chrono::{Duration, Utc};
use ci_medic::autorevert;
use ci_medic::config::AutorevertConfig;
use ci_medic::history;
use serde_json::Value;

use crate::autorevert_flow::{Setup, TRUNK_PATH, Trunk, confirm, json_of, trunk};
use crate::support::action::{ActionRun, Runner, workflow_run_payload};
use crate::support::clickhouse::{self as test_clickhouse, drop_database, fetch_one};
use crate::support::fake_github::{DEFAULT_BRANCH, OWNER, REPO};

/// A runner whose config points at the test database.
fn runner(t: &Trunk, url: &str, db: &str, mode: &str) -> (Runner, PathBuf) {
    let mut r = Runner::new(&t.fake);
    for var in ["CLICKHOUSE_USER", "CLICKHOUSE_PASSWORD"] {
        if let Ok(v) = std::env::var(var) {
            r = r.env(var, &v);
        }
    }
    let path = r.path("ci-medic.yml");
    let user = std::env::var("CLICKHOUSE_USER").unwrap_or_else(|_| "default".into());
    let text = crate::autorevert_flow::config(
        mode,
        &format!(
            "  source: clickhouse\nclickhouse:\n  url: {url}\n  user: {user}\n  database: {db}\n"
        ),
    );
    std::fs::write(&path, text).expect("config");
    (r, path)
}

async fn exec(runner: &Runner, config: &Path, args: &[&str]) -> ActionRun {
    let config = config.display().to_string();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--config", config.as_str()]);
    let out = runner.exec(&all, None).await;
    assert_eq!(
        out.code, 0,
        "{args:?}\nstdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    out
}

async fn ingest(runner: &Runner, config: &Path, event: &str, payload: &Path) -> ActionRun {
    let p = payload.display().to_string();
    exec(
        runner,
        config,
        &["ingest", "--event", event, "--payload", &p],
    )
    .await
}

fn write_json(runner: &Runner, name: &str, v: &Value) -> PathBuf {
    let path = runner.path(name);
    std::fs::write(&path, serde_json::to_vec(v).expect("json")).expect("write");
    path
}

/// The push of one commit to main, from GitHub's example.
fn push_payload(t: &Trunk, sha: &str) -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/webhooks/push/04-event.json"
    ))
    .expect("fixture");
    let mut v: Value = serde_json::from_str(&text).expect("json");
    let commit = t.fake.commit(sha).expect("commit");
    v["ref"] = format!("refs/heads/{DEFAULT_BRANCH}").into();
    v["after"] = sha.into();
    v["repository"]["full_name"] = format!("{OWNER}/{REPO}").into();
    v["repository"]["pushed_at"] = commit.committer.date.timestamp().into();
    let mut c = v["commits"][0].clone();
    c["id"] = sha.into();
    c["message"] = commit.message.clone().into();
    c["timestamp"] = commit.committer.date.to_rfc3339().into();
    v["commits"] = Value::Array(vec![c.clone()]);
    v["head_commit"] = c;
    v
}

/// A `workflow_run` completed payload for a seeded run.
fn run_payload(t: &Trunk, run_id: u64) -> Value {
    let run = t.fake.run(run_id).expect("run");
    let mut v = workflow_run_payload(
        run_id,
        "trunk",
        TRUNK_PATH,
        run.conclusion.as_deref().unwrap_or("success"),
        run.head_branch.as_deref().unwrap_or_default(),
        &run.head_sha,
    );
    let r = &mut v["workflow_run"];
    r["event"] = run.event.clone().into();
    r["run_attempt"] = run.run_attempt.into();
    r["created_at"] = run.created_at.to_rfc3339().into();
    r["updated_at"] = run.updated_at.to_rfc3339().into();
    v
}

#[tokio::test]
async fn autorevert_clickhouse_ingests_and_detects_with_batched_queries() {
    let url = test_clickhouse::url();
    let db = test_clickhouse::database("autorevert");
    let t = trunk(Setup {
        mode: "restart",
        ..Setup::default()
    })
    .await;
    let (runner, cfg) = runner(&t, &url, &db, "restart");
    exec(&runner, &cfg, &["clickhouse", "migrate"]).await;

    // GitHub's own examples go in as they are.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/webhooks");
    for event in ["workflow_job", "workflow_run", "push"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join(event))
            .expect("fixtures")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        files.sort();
        for f in files {
            ingest(&runner, &cfg, event, &f).await;
        }
    }
    let store = test_clickhouse::connect(&url, &db).await;
    let hello: String = fetch_one(
        &store,
        "SELECT status FROM workflow_job FINAL WHERE id = 289782451",
    )
    .await;
    // The examples for job 289782451 are a completed one from August and an
    // in-progress and a queued one from September with equal timestamps,
    // ingested in that order: the newest timestamp wins, and at equal
    // timestamps the later status, whatever the order of arrival.
    assert_eq!(hello, "in_progress");
    let pushes: u64 = fetch_one(&store, "SELECT count() FROM push FINAL").await;
    // A tag push, and one branch push sent twice; deleted refs are skipped.
    assert_eq!(pushes, 2);

    // The trunk: pushes, then every run (its jobs read and analyzed).
    for sha in &t.commits {
        let p = write_json(&runner, "push.json", &push_payload(&t, sha));
        ingest(&runner, &cfg, "push", &p).await;
    }
    let runs: Vec<u64> = t.fake.runs().iter().map(|r| r.id).collect();
    for id in &runs {
        let p = write_json(&runner, "run.json", &run_payload(&t, *id));
        ingest(&runner, &cfg, "workflow_run", &p).await;
    }

    // A dry run shows the audit rows it would insert and writes nothing:
    // no dispatch, no tag, no row.
    let out = exec(&runner, &cfg, &["--dry-run", "autorevert"]).await;
    assert!(
        out.stdout
            .contains("row(s) into ClickHouse table autorevert_events"),
        "{}",
        out.stdout
    );
    let audited: u64 = fetch_one(&store, "SELECT count() FROM autorevert_events").await;
    assert_eq!(audited, 0, "a dry run wrote to the audit log");
    assert!(t.fake.dispatches().is_empty());

    let out = exec(&runner, &cfg, &["autorevert", "--format", "json"]).await;
    let json = json_of(&out);
    let p = &json["patterns"][0];
    assert_eq!(p["suspect"], t.suspect.as_str(), "{json}");
    assert_eq!(p["verdict"], "restart");
    assert_eq!(
        json["restarts"],
        serde_json::json!([{"workflow": "trunk", "sha": t.suspect}])
    );
    assert_eq!(t.fake.dispatches().len(), 1);
    let tag = format!("refs/tags/trunk/{}", t.suspect);
    assert_eq!(t.fake.refs().get(&tag), Some(&t.suspect));

    // The decisions and the dispatch are in the audit log.
    let actions = store
        .client()
        .query(
            "SELECT toString(action), verdict, commit_sha FROM autorevert_events \
             ORDER BY verdict",
        )
        .fetch_all::<(String, String, String)>()
        .await
        .expect("events");
    assert!(
        actions.contains(&("restart".into(), "dispatch".into(), t.suspect.clone())),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("restart".into(), "restart".into(), t.suspect.clone())),
        "{actions:?}"
    );

    // The dispatched run has not reached ClickHouse, but the recorded
    // restart keeps the next run from dispatching again.
    let out = exec(&runner, &cfg, &["autorevert", "--format", "json"]).await;
    let json = json_of(&out);
    assert_eq!(json["restarts"], serde_json::json!([]), "{json}");
    assert_eq!(t.fake.dispatches().len(), 1);

    // The restart ran and failed again: confirmed once ingested.
    let restart = confirm(&t);
    let p = write_json(&runner, "run.json", &run_payload(&t, restart));
    ingest(&runner, &cfg, "workflow_run", &p).await;
    assert!(
        store
            .restart_exists(&format!("{OWNER}/{REPO}"), &t.suspect, "trunk")
            .await
            .expect("query")
    );
    let out = exec(&runner, &cfg, &["autorevert", "--format", "json"]).await;
    let json = json_of(&out);
    assert_eq!(json["patterns"][0]["verdict"], "revert", "{json}");

    // The library source reads the same snapshot in four queries.
    let cfg = AutorevertConfig {
        workflows: vec!["trunk".into()],
        ..AutorevertConfig::default()
    };
    let snap = history::clickhouse::trunk_snapshot(
        &store,
        &format!("{OWNER}/{REPO}"),
        DEFAULT_BRANCH,
        &cfg,
        Utc::now() + Duration::minutes(1),
    )
    .await
    .expect("snapshot");
    assert_eq!(snap.commits.len(), 4);
    assert_eq!(snap.commits[1].sha, t.suspect);
    assert_eq!(snap.workflow_file("trunk"), Some("trunk.yml"));
    assert_eq!(snap.restart_requests.len(), 1);
    assert!(snap.jobs.iter().any(|j| j.is_restart()));
    assert!(
        snap.jobs
            .iter()
            .filter(|j| j.conclusion == Some(ci_medic::event::Conclusion::Failure))
            .all(|j| j.fingerprint.is_some())
    );
    let (_, d) = autorevert::analyze(&snap, &autorevert::Params::from_config(&cfg));
    assert_eq!(d.patterns[0].verdict, autorevert::Verdict::Revert);

    drop_database(&store).await;
    t.fake.assert_clean();
}
