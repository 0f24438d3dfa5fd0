//! What ci-medic did, counted on the HUD: a re-run that landed writes one
//! `actions` row through the retry plan's store step, the same event
//! delivered again writes none, and the index built from ClickHouse counts
//! re-runs, heals and reverts per kind, and autorevert's restarts, reverts
//! and notifications once each.

use ci_medic::store::actions::ActionRow;
use ci_medic::store::bot_audit::BotAuditRow;
use ci_medic::store::{AutorevertAction, AutorevertEvent, TableRows};

use crate::analyze_flow::gha_log;
use crate::support::action::{Runner, workflow_run_payload};
use crate::support::clickhouse::{self as test_clickhouse, drop_database, fetch_one};
use crate::support::fake_github::{
    CI_WORKFLOW_PATH, DEFAULT_BRANCH, FakeGithub, JobBuilder, OWNER, REPO, RunBuilder,
};

fn runner(fake: &FakeGithub) -> Runner {
    let mut r = Runner::new(fake);
    for var in ["CLICKHOUSE_USER", "CLICKHOUSE_PASSWORD"] {
        if let Ok(v) = std::env::var(var) {
            r = r.env(var, &v);
        }
    }
    r
}

fn network_log(minute: u32) -> String {
    gha_log(
        minute,
        "npm ci",
        &[
            "npm ERR! code ECONNRESET",
            "npm ERR! network request to https://registry.npmjs.org/left-pad failed, reason: read ECONNRESET",
            "npm ERR! network This is a problem related to network connectivity.",
        ],
    )
}

/// The HUD's index page, built from ClickHouse.
async fn index_from_clickhouse(fake: &FakeGithub) -> String {
    let builder = runner(fake).env("GITHUB_ACTIONS", "");
    let site = builder.path("site");
    let built = builder
        .exec(
            &[
                "hud",
                "build",
                "--source",
                "clickhouse",
                "--out",
                &site.display().to_string(),
            ],
            None,
        )
        .await;
    assert_eq!(built.code, 0, "{}{}", built.stdout, built.stderr);
    std::fs::read_to_string(site.join("index.html")).expect("index")
}

/// The `<li>` of the index's "At a glance" list that counts `kind`.
fn glance(index: &str, kind: &str) -> Option<u64> {
    let at = index.find("id=\"h-summary\"")?;
    let list = &index[at..];
    let list = &list[..list.find("</ul>")?];
    list.split("<li>").find_map(|li| {
        let li = li.trim_end_matches("</li>\n").trim_end_matches("</li>");
        let rest = li.strip_prefix("<strong>")?;
        let (n, words) = rest.split_once("</strong>")?;
        // Decisions under dry run are shown apart: "restart (+1 dry run)".
        let words = words.split(" (+").next().unwrap_or_default();
        (words.trim() == kind).then(|| n.parse().ok())?
    })
}

#[tokio::test]
async fn hud_actions_a_rerun_is_recorded_once_and_counted_on_the_index() {
    let url = test_clickhouse::url();
    let db = test_clickhouse::database("hud_actions");
    let store = test_clickhouse::connect(&url, &db).await;
    store.migrate().await.expect("migrate");

    let fake = FakeGithub::start().await;
    let user = std::env::var("CLICKHOUSE_USER").unwrap_or_else(|_| "default".into());
    fake.commit_files(
        DEFAULT_BRANCH,
        &[(
            ".github/ci-medic.yml",
            &format!("clickhouse:\n  url: {url}\n  user: {user}\n  database: {db}\n"),
        )],
        "ci-medic: a store",
    );
    let run = fake.add_run(
        RunBuilder::new("CI")
            .path(CI_WORKFLOW_PATH)
            .job(JobBuilder::new("lint"))
            .job(JobBuilder::failed("build").log(network_log(1))),
    );
    let sha = fake.run(run.id).expect("run").head_sha;
    let payload = workflow_run_payload(
        run.id,
        "CI",
        CI_WORKFLOW_PATH,
        "failure",
        DEFAULT_BRANCH,
        &sha,
    );
    let out = runner(&fake).run_event("workflow_run", &payload).await;
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(fake.reruns().len(), 1);
    let rows: u64 = fetch_one(&store, "SELECT count() FROM actions").await;
    assert_eq!(rows, 1);
    let row: ActionRow = fetch_one(
        &store,
        "SELECT ts, repository_full_name, kind, target, sha, run_id, delivery, step FROM actions",
    )
    .await;
    assert_eq!(row.repository_full_name, format!("{OWNER}/{REPO}"));
    assert_eq!(
        (row.kind.as_str(), row.target.clone(), row.step.as_str()),
        ("rerun", run.jobs[1].to_string(), "rerun-job")
    );
    assert_eq!(row.delivery, format!("workflow_run/{}/1", run.id));
    assert!(row.ts.timestamp_millis() > 0, "stamped when written");

    // The same event again: recorded already, nothing written.
    let again = runner(&fake).run_event("workflow_run", &payload).await;
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    assert_eq!(fake.reruns().len(), 1, "a redelivery re-runs nothing");
    let rows: u64 = fetch_one(&store, "SELECT count() FROM actions").await;
    assert_eq!(rows, 1, "a redelivery records nothing");

    // A heal and a revert command, as their steps record them.
    let mut heal = row.clone();
    heal.kind = "heal".into();
    heal.target = "ci-medic/heal-7".into();
    heal.delivery = "issue/7".into();
    heal.step = "open-pull-request".into();
    store
        .insert(&TableRows::Actions(vec![heal]))
        .await
        .expect("heal row");
    store
        .insert(&TableRows::BotAudit(vec![BotAuditRow {
            ts: row.ts,
            repository_full_name: format!("{OWNER}/{REPO}"),
            pr_number: 3,
            action: "revert".into(),
            sha: "c".repeat(40),
            actor: "maintainer".into(),
            reason: "broke trunk".into(),
            classification: "nosignal".into(),
            flags: Vec::new(),
            result: "reverted".into(),
        }]))
        .await
        .expect("revert row");

    // The index from ClickHouse counts them.
    let index = index_from_clickhouse(&fake).await;
    assert_eq!(glance(&index, "re-run"), Some(1), "{index}");
    assert_eq!(glance(&index, "heal"), Some(1), "{index}");
    assert_eq!(glance(&index, "revert"), Some(1), "{index}");
    assert_eq!(glance(&index, "restart"), Some(0), "{index}");
    fake.assert_clean();
    drop_database(&store).await;
}

/// One row of autorevert's audit log, as `record` writes it.
fn event(
    ts: chrono::DateTime<chrono::Utc>,
    action: AutorevertAction,
    sha: char,
    verdict: &str,
    failed: bool,
    dry_run: bool,
) -> AutorevertEvent {
    AutorevertEvent {
        ts,
        repository_full_name: format!("{OWNER}/{REPO}"),
        action,
        commit_sha: sha.to_string().repeat(40),
        workflows: vec!["CI".into()],
        signals: Vec::new(),
        verdict: verdict.into(),
        reason: "a reason".into(),
        dry_run,
        failed,
        notes: String::new(),
    }
}

/// autorevert writes one row per decision and one more per restart it
/// dispatched, and decides a revert or a notification again on every tick
/// until it lands: the index counts the restarts dispatched, the commits
/// reverted and the commits notified, none of them when a step failed;
/// decisions under dry run are counted apart by the same rules.
#[tokio::test]
async fn hud_actions_autorevert_totals_count_dispatches_and_commits_that_landed() {
    let url = test_clickhouse::url();
    let db = test_clickhouse::database("hud_actions_autorevert");
    let store = test_clickhouse::connect(&url, &db).await;
    store.migrate().await.expect("migrate");

    let fake = FakeGithub::start().await;
    let user = std::env::var("CLICKHOUSE_USER").unwrap_or_else(|_| "default".into());
    fake.commit_files(
        DEFAULT_BRANCH,
        &[(
            ".github/ci-medic.yml",
            &format!("clickhouse:\n  url: {url}\n  user: {user}\n  database: {db}\n"),
        )],
        "ci-medic: a store",
    );
    let tick = chrono::Utc::now() - chrono::Duration::hours(2);
    let next = tick + chrono::Duration::minutes(15);
    use AutorevertAction::{Notify, Restart, Revert};
    let rows = vec![
        // A restart decision and its two dispatches, one of which failed.
        event(tick, Restart, 'a', "restart", false, false),
        event(tick, Restart, 'a', "dispatch", false, false),
        event(tick, Restart, 'a', "dispatch", true, false),
        // A revert decided on two ticks: one pull request, updated.
        event(tick, Revert, 'b', "revert", false, false),
        event(next, Revert, 'b', "revert", false, false),
        // A revert whose pull request could not be opened.
        event(tick, Revert, 'c', "revert", true, false),
        // A notification, decided twice, and one that failed.
        event(tick, Notify, 'd', "notify", false, false),
        event(next, Notify, 'd', "notify", false, false),
        event(tick, Notify, 'e', "notify", true, false),
        // A restart under dry run, its decision and its dispatch: nothing
        // was dispatched, and it is one dry-run restart.
        event(next, Restart, 'f', "restart", false, true),
        event(next, Restart, 'f', "dispatch", false, true),
        // A revert under dry run, decided on two ticks: one commit.
        event(tick, Revert, 'g', "revert", false, true),
        event(next, Revert, 'g', "revert", false, true),
    ];
    store
        .insert(&TableRows::AutorevertEvents(rows))
        .await
        .expect("autorevert rows");

    let index = index_from_clickhouse(&fake).await;
    assert_eq!(glance(&index, "restart"), Some(1), "{index}");
    assert_eq!(glance(&index, "revert"), Some(1), "{index}");
    assert_eq!(glance(&index, "notify"), Some(1), "{index}");
    // Dry-run decisions are counted by the same rules, shown apart.
    assert!(
        index.contains("<strong>1</strong> restart (+1 dry run)"),
        "{index}"
    );
    assert!(
        index.contains("<strong>1</strong> revert (+1 dry run)"),
        "{index}"
    );
    assert!(index.contains("<strong>1</strong> notify</li>"), "{index}");
    fake.assert_clean();
    drop_database(&store).await;
}
