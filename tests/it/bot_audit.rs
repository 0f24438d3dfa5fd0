//! The audit of merges in ClickHouse, end to end on the real engine: a
//! merge by comment command writes one `bot_audit` row, and the same event
//! delivered again writes no second one.

use ci_medic::store::bot_audit::BotAuditRow;

use crate::bot_commands::{approved_pull, comment_payload, head_run, replies, start};
use crate::support::action::Runner;
use crate::support::clickhouse::{self as test_clickhouse, drop_database, fetch_one};
use crate::support::fake_github::{DEFAULT_BRANCH, FakeGithub, MAINTAINER, OWNER, REPO};

fn runner(fake: &FakeGithub) -> Runner {
    let mut r = Runner::new(fake);
    for var in ["CLICKHOUSE_USER", "CLICKHOUSE_PASSWORD"] {
        if let Ok(v) = std::env::var(var) {
            r = r.env(var, &v);
        }
    }
    r
}

#[tokio::test]
async fn a_merge_writes_one_audit_row_and_a_redelivery_none() {
    let url = test_clickhouse::url();
    let db = test_clickhouse::database("bot_audit");
    let store = test_clickhouse::connect(&url, &db).await;
    store.migrate().await.expect("migrate");

    let fake = start().await;
    let user = std::env::var("CLICKHOUSE_USER").unwrap_or_else(|_| "default".into());
    fake.commit_files(
        DEFAULT_BRANCH,
        &[(
            ".github/ci-medic.yml",
            &format!(
                "commands: {{}}\nclickhouse:\n  url: {url}\n  user: {user}\n  database: {db}\n"
            ),
        )],
        "ci-medic: record merges",
    );
    let (n, head) = approved_pull(&fake);
    head_run(&fake, n, &head, "CI", Some("success"));

    let body = "@ci-medic merge";
    let id = fake.add_comment(n, MAINTAINER, body);
    let payload = comment_payload(&fake, n, id, MAINTAINER, body);
    let out = runner(&fake).run_event("issue_comment", &payload).await;
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(fake.merge_commit(n).is_some());
    assert_eq!(fake.reaction_contents(id), ["rocket"]);
    assert!(
        fake.issue(n)
            .expect("pr")
            .labels
            .contains(&"merged".to_string())
    );
    let rows: u64 = fetch_one(&store, "SELECT count() FROM bot_audit").await;
    assert_eq!(rows, 1);
    let row: BotAuditRow = fetch_one(
        &store,
        "SELECT ts, repository_full_name, pr_number, action, sha, actor, reason, classification, flags, result FROM bot_audit",
    )
    .await;
    assert_eq!(row.repository_full_name, format!("{OWNER}/{REPO}"));
    assert_eq!(
        (
            row.pr_number,
            row.action.as_str(),
            row.sha.as_str(),
            row.actor.as_str(),
            row.result.as_str()
        ),
        (n, "merge", head.as_str(), MAINTAINER, "merged")
    );
    assert!(row.flags.is_empty(), "{:?}", row.flags);
    assert!(
        out.summary.contains("### Merges and reverts"),
        "{}",
        out.summary
    );
    assert!(
        out.summary.contains(&format!("merge #{n} at `{head}`")),
        "{}",
        out.summary
    );

    // The same delivery again: answered already, nothing written.
    let out = runner(&fake).run_event("issue_comment", &payload).await;
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let rows: u64 = fetch_one(&store, "SELECT count() FROM bot_audit").await;
    assert_eq!(rows, 1);
    assert_eq!(replies(&fake, n).len(), 1);
    fake.assert_clean();
    drop_database(&store).await;
}
