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

/// The fake with the commands on and `bot_audit` in a fresh database.
async fn audited(test: &str) -> (FakeGithub, ci_medic::store::Store) {
    let url = test_clickhouse::url();
    let db = test_clickhouse::database(test);
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
    (fake, store)
}

const ROW: &str = "SELECT ts, repository_full_name, pr_number, action, sha, actor, reason, classification, flags, result FROM bot_audit";

async fn count(store: &ci_medic::store::Store) -> u64 {
    fetch_one(store, "SELECT count() FROM bot_audit").await
}

#[tokio::test]
async fn a_merge_github_refuses_writes_one_failed_row_with_its_reason() {
    let (fake, store) = audited("bot_audit_refused").await;
    let (n, head) = approved_pull(&fake);
    head_run(&fake, n, &head, "CI", Some("success"));
    let why = "Required status check \"lint\" is expected.";
    fake.block_merges(why);
    let body = "@ci-medic merge";
    let id = fake.add_comment(n, MAINTAINER, body);
    let payload = comment_payload(&fake, n, id, MAINTAINER, body);

    // A dry run plans the record and writes none.
    let out = runner(&fake)
        .env("INPUT_DRY-RUN", "true")
        .run_event("issue_comment", &payload)
        .await;
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("bot_audit"), "{}", out.stdout);
    assert_eq!(count(&store).await, 0);
    assert!(replies(&fake, n).is_empty());

    let out = runner(&fake).run_event("issue_comment", &payload).await;
    assert_ne!(out.code, 0, "a merge that did not land fails the run");
    assert!(fake.merge_commit(n).is_none());
    assert_eq!(
        fake.reaction_contents(id),
        ["rocket"],
        "the merge was started before GitHub refused it"
    );
    assert_eq!(count(&store).await, 1);
    let row: BotAuditRow = fetch_one(&store, ROW).await;
    assert_eq!(
        (
            row.pr_number,
            row.action.as_str(),
            row.sha.as_str(),
            row.actor.as_str(),
            row.result.as_str()
        ),
        (n, "merge", head.as_str(), MAINTAINER, "failed")
    );
    assert!(row.reason.contains("405"), "{}", row.reason);
    assert!(row.reason.contains(why), "{}", row.reason);

    // Delivered again: answered already, no second row.
    let out = runner(&fake).run_event("issue_comment", &payload).await;
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(count(&store).await, 1);
    assert_eq!(replies(&fake, n).len(), 1);
    fake.assert_clean();
    drop_database(&store).await;
}

#[tokio::test]
async fn a_wait_that_ends_in_failure_writes_one_failed_row_however_often_told() {
    let (fake, store) = audited("bot_audit_wait").await;
    let (n, head) = approved_pull(&fake);
    let run = head_run(&fake, n, &head, "CI", None);
    let body = "@ci-medic merge -i";
    let id = fake.add_comment(n, MAINTAINER, body);
    let payload = comment_payload(&fake, n, id, MAINTAINER, body);
    let out = runner(&fake).run_event("issue_comment", &payload).await;
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(fake.reaction_contents(id), ["+1"]);
    assert_eq!(count(&store).await, 0, "nothing is recorded while it waits");

    fake.update_run(run, |r, _| {
        r.status = "completed".into();
        r.conclusion = Some("failure".into());
    });
    let completed = crate::support::action::workflow_run_payload(
        run,
        "CI",
        crate::support::fake_github::CI_WORKFLOW_PATH,
        "failure",
        "feature",
        &head,
    );
    for _ in 0..2 {
        let out = runner(&fake).run_event("workflow_run", &completed).await;
        assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    }
    assert!(fake.merge_commit(n).is_none());
    let r = replies(&fake, n);
    assert!(r[0].contains("## Merge failed"), "{}", r[0]);
    assert_eq!(count(&store).await, 1);
    let row: BotAuditRow = fetch_one(&store, ROW).await;
    assert_eq!(
        (row.sha.as_str(), row.result.as_str(), row.actor.as_str()),
        (head.as_str(), "failed", MAINTAINER)
    );
    assert_eq!(row.flags, ["ignore-current"]);
    assert!(
        row.reason.starts_with("Merge failed: Checks failed on"),
        "{}",
        row.reason
    );
    assert!(!row.reason.contains('`'), "{}", row.reason);
    let labels = fake.issue(n).expect("pr").labels;
    assert!(!labels.contains(&"merging".to_string()), "{labels:?}");
    fake.assert_clean();
    drop_database(&store).await;
}

#[tokio::test]
async fn merge_r_f_records_the_head_it_merged() {
    let (fake, store) = audited("bot_audit_rebase").await;
    let (n, head) = approved_pull(&fake);
    fake.commit_files(DEFAULT_BRANCH, &[("NEWS", "1.0\n")], "news");
    let body = "@ci-medic merge -r -f \"release blocker\"";
    let id = fake.add_comment(n, MAINTAINER, body);
    let payload = comment_payload(&fake, n, id, MAINTAINER, body);
    let out = runner(&fake).run_event("issue_comment", &payload).await;
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(fake.reaction_contents(id), ["rocket"]);
    let merges = fake.requests_to("PUT", &format!("^/repos/{OWNER}/{REPO}/pulls/{n}/merge$"));
    assert_eq!(merges.len(), 1);
    let merged = merges[0]
        .json()
        .and_then(|b| b["sha"].as_str().map(str::to_string))
        .expect("sha");
    assert_ne!(merged, head);
    assert!(fake.merge_commit(n).is_some());
    let _ = (fake.pull(n), fake.issue(n), replies(&fake, n));
    assert_eq!(count(&store).await, 1);
    let row: BotAuditRow = fetch_one(&store, ROW).await;
    assert_eq!(row.sha, merged, "the row names the head merged, not {head}");
    assert_eq!(row.result, "merged");
    assert_eq!(row.reason, "release blocker");
    assert_eq!(row.flags, ["rebase", "force"]);
    fake.assert_clean();
    drop_database(&store).await;
}

#[tokio::test]
async fn a_merge_another_wake_landed_first_records_and_replies_nothing() {
    use crate::support::fake_github::Fault;
    let (fake, store) = audited("bot_audit_race").await;
    let (n, head) = approved_pull(&fake);
    let run = head_run(&fake, n, &head, "CI", None);
    let body = "@ci-medic merge";
    let id = fake.add_comment(n, MAINTAINER, body);
    let payload = comment_payload(&fake, n, id, MAINTAINER, body);
    let out = runner(&fake).run_event("issue_comment", &payload).await;
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(fake.reaction_contents(id), ["+1"]);
    let waiting = replies(&fake, n);

    fake.update_run(run, |r, _| {
        r.status = "completed".into();
        r.conclusion = Some("success".into());
    });
    // Two wakes of the one waiting merge: the other one merged the pinned
    // head a moment before this one's call, which GitHub refuses (405).
    fake.inject(
        "PUT",
        &format!("^/repos/{OWNER}/{REPO}/pulls/{n}/merge$"),
        Fault::after_apply(405).body(serde_json::json!({
            "message": "Pull Request is not mergeable",
            "documentation_url": "https://docs.github.com/rest/pulls/pulls#merge-a-pull-request",
            "status": "405"
        })),
    );
    let completed = crate::support::action::workflow_run_payload(
        run,
        "CI",
        crate::support::fake_github::CI_WORKFLOW_PATH,
        "success",
        "feature",
        &head,
    );
    let out = runner(&fake).run_event("workflow_run", &completed).await;
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(fake.merge_commit(n).is_some());
    assert_eq!(
        count(&store).await,
        0,
        "no `failed` row to replace the other run's `merged` one"
    );
    let r = replies(&fake, n);
    assert_eq!(r, waiting, "the other run's reply is not overwritten");
    assert!(!r[0].contains("## Merge failed"), "{}", r[0]);
    let _ = (fake.pull(n), fake.issue(n));
    fake.assert_clean();
    drop_database(&store).await;
}

#[tokio::test]
async fn a_revert_writes_one_audit_row_and_a_redelivery_none() {
    let (fake, store) = audited("bot_audit_revert").await;
    let head = fake.commit_files("landed", &[("src/new.rs", "pub fn n() {}\n")], "feat: n");
    let n = fake.add_pull(
        crate::support::fake_github::PullBuilder::new("landed", "Add n")
            .user(crate::bot_commands::STRANGER)
            .merged(),
    );
    fake.set_branch(DEFAULT_BRANCH, &head);

    let body = "@ci-medic revert -m \"breaks trunk\" -c nosignal";
    let id = fake.add_comment(n, MAINTAINER, body);
    let payload = comment_payload(&fake, n, id, MAINTAINER, body);
    let out = runner(&fake).run_event("issue_comment", &payload).await;
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(fake.reaction_contents(id), ["+1"]);
    assert!(
        fake.pulls()
            .iter()
            .any(|p| p.head_ref == format!("ci-medic/revert-{n}"))
    );
    assert_eq!(count(&store).await, 1);
    let row: BotAuditRow = fetch_one(&store, ROW).await;
    assert_eq!(
        (
            row.pr_number,
            row.action.as_str(),
            row.sha.as_str(),
            row.actor.as_str(),
            row.reason.as_str(),
            row.classification.as_str(),
        ),
        (
            n,
            "revert",
            head.as_str(),
            MAINTAINER,
            "breaks trunk",
            "nosignal"
        )
    );
    assert!(
        out.summary.contains("### Merges and reverts"),
        "{}",
        out.summary
    );

    // The same delivery again: answered already, nothing written.
    let out = runner(&fake).run_event("issue_comment", &payload).await;
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(count(&store).await, 1);
    assert_eq!(replies(&fake, n).len(), 1);
    assert!(
        fake.issue(n)
            .expect("pr")
            .labels
            .contains(&"reverted".to_string())
    );
    // One revert branch, at the head of the one revert pull request.
    let reverts: Vec<_> = fake
        .pulls()
        .into_iter()
        .filter(|p| p.head_ref.starts_with("ci-medic/revert-"))
        .collect();
    assert_eq!(reverts.len(), 1);
    let refs = fake.refs();
    assert_eq!(
        refs.get(&format!("refs/heads/{}", reverts[0].head_ref)),
        Some(&reverts[0].head_sha)
    );
    fake.assert_clean();
    drop_database(&store).await;
}
