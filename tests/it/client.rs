//! The GitHub client against the fake: the retry policy, idempotent writes,
//! pagination and the git data API, through the executor where it applies.

use std::time::Duration;

use ci_medic::github::git::FileChange;
use ci_medic::github::{Client, GithubError, Identity, RepoName, RetryPolicy};
use ci_medic::plan::{self, Outcome, Plan, Write};
use serde_json::Map;

use crate::support::fake_github::{
    ACTIONS_BOT, DEFAULT_BRANCH, FakeGithub, Fault, IssueBuilder, OWNER, PullBuilder, REPO,
};

fn client(fake: &FakeGithub) -> Client {
    let policy = RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_secs(5),
    };
    Client::new(
        &fake.uri(),
        fake.token(),
        RepoName::parse(&format!("{OWNER}/{REPO}")).expect("repo"),
        policy,
    )
    .expect("client")
}

#[tokio::test]
async fn server_errors_and_rate_limits_are_retried() {
    let fake = FakeGithub::start().await;
    let c = client(&fake);
    fake.inject("GET", r"/repos/[^/]+/[^/]+$", Fault::status(502));
    fake.inject(
        "GET",
        r"/repos/[^/]+/[^/]+$",
        Fault::status(429).header("retry-after", "0"),
    );
    fake.inject(
        "GET",
        r"/repos/[^/]+/[^/]+$",
        Fault::secondary_rate_limit(0),
    );
    fake.inject(
        "GET",
        r"/repos/[^/]+/[^/]+$",
        Fault::rate_limit_exhausted(Duration::from_secs(0)),
    );
    // Four faults, four attempts allowed: the last one must still fail.
    let err = c.repo_info().await.err();
    assert!(
        err.is_some(),
        "the fourth fault is the last attempt's answer"
    );
    let info = c.repo_info().await.expect("fifth call succeeds");
    assert_eq!(info.default_branch, DEFAULT_BRANCH);
    assert_eq!(fake.requests_to("GET", r"/repos/[^/]+/[^/]+$").len(), 5);
    fake.assert_clean();
}

#[tokio::test]
async fn a_long_rate_limit_is_reported_not_slept_through() {
    let fake = FakeGithub::start().await;
    let c = client(&fake);
    fake.inject(
        "GET",
        r"/repos/[^/]+/[^/]+$",
        Fault::status(429).header("retry-after", "3600"),
    );
    match c.repo_info().await {
        Err(GithubError::RateLimited { wait_secs, .. }) => assert_eq!(wait_secs, 3600),
        other => panic!("expected a rate-limit error, got {other:?}"),
    }
    fake.assert_clean();
}

#[tokio::test]
async fn a_lost_post_is_checked_before_it_is_sent_again() {
    let fake = FakeGithub::start().await;
    let c = client(&fake);
    fake.inject("POST", r"/issues$", Fault::after_apply(502));
    let marker = ci_medic::github::marker::marker("failure", "abc");
    let issue = c
        .create_issue(
            "t",
            &format!("{marker}\nbody"),
            &["workflow-failure".to_string()],
            ("failure", "abc"),
        )
        .await
        .expect("issue");
    assert_eq!(fake.issues().len(), 1);
    assert_eq!(issue.number, fake.issues()[0].number);
    assert_eq!(
        fake.requests_to("POST", r"/issues$").len(),
        1,
        "never re-sent"
    );
    fake.assert_clean();
}

#[tokio::test]
async fn a_dispatch_is_never_repeated_after_a_server_error() {
    let fake = FakeGithub::start().await;
    let c = client(&fake);
    fake.inject("POST", r"/dispatches$", Fault::after_apply(502));
    let err = c
        .dispatch_workflow("ci.yml", DEFAULT_BRANCH, &Map::new())
        .await
        .err();
    assert!(
        matches!(err, Some(GithubError::Unconfirmed { status: 502, .. })),
        "{err:?}"
    );
    assert_eq!(fake.dispatches().len(), 1);
    assert_eq!(fake.requests_to("POST", r"/dispatches$").len(), 1);
    fake.assert_clean();
}

#[tokio::test]
async fn pagination_follows_link_headers() {
    let fake = FakeGithub::start().await;
    for i in 0..130 {
        fake.add_issue(IssueBuilder::new(&format!("issue {i}")).label("workflow-failure"));
    }
    let c = client(&fake);
    let all = c
        .open_issues_with_label("workflow-failure")
        .await
        .expect("list");
    assert_eq!(all.len(), 130);
    assert_eq!(fake.requests_to("GET", r"/issues$").len(), 2);
    fake.assert_clean();
}

#[tokio::test]
async fn commits_branches_tags_and_pull_requests_are_idempotent() {
    let fake = FakeGithub::start().await;
    let c = client(&fake);
    let base = fake.head_sha(DEFAULT_BRANCH);
    let mut p = Plan::new("test");
    p.push(
        Write::CommitFiles {
            branch: "ci-medic/heal-1".into(),
            base_sha: base.clone(),
            message: "Fix CI".into(),
            changes: vec![FileChange {
                path: "requirements.txt".into(),
                content: Some("PyYAML\n".into()),
            }],
            force: true,
        },
        "test",
    );
    let marker = ci_medic::github::marker::marker("heal", "1");
    p.push(
        Write::OpenPullRequest {
            head: "ci-medic/heal-1".into(),
            base: DEFAULT_BRANCH.into(),
            title: "Fix CI".into(),
            body: format!("{marker}\nFixes #1"),
            labels: vec!["auto-heal".into()],
            marker_kind: "heal".into(),
            marker_key: "1".into(),
        },
        "test",
    );
    p.push(
        Write::CreateRef {
            git_ref: format!("refs/tags/trunk/{base}"),
            sha: base.clone(),
        },
        "test",
    );
    for round in 0..2 {
        let report = plan::execute(&p, &plan::Sinks::github(Some(&c)), false).await;
        assert!(!report.failed(), "round {round}: {}", report.to_text());
        assert!(
            matches!(report.results[1].1, Outcome::Pull { created, .. } if created == (round == 0))
        );
    }
    assert_eq!(
        fake.file("ci-medic/heal-1", "requirements.txt").as_deref(),
        Some("PyYAML\n")
    );
    let pulls = fake.pulls();
    assert_eq!(pulls.len(), 1, "one pull request after two rounds");
    assert_eq!(
        fake.refs().get(&format!("refs/tags/trunk/{base}")),
        Some(&base)
    );
    fake.expect_no_labels_created();
    fake.assert_clean();
}

#[tokio::test]
async fn an_answer_larger_than_the_reply_cap_is_refused() {
    let fake = FakeGithub::start().await;
    let c = client(&fake);
    let pad = "x".repeat(ci_medic::github::MAX_REPLY_BYTES);
    fake.inject(
        "GET",
        r"/repos/[^/]+/[^/]+$",
        Fault::status(200).body(serde_json::json!({"default_branch": "main", "pad": pad})),
    );
    match c.repo_info().await {
        Err(GithubError::Decode { message, .. }) => {
            assert!(message.contains("larger than"), "{message}")
        }
        other => panic!("expected the answer to be refused, got {other:?}"),
    }
    // Refused, not retried: one request.
    assert_eq!(fake.requests_to("GET", r"/repos/[^/]+/[^/]+$").len(), 1);
    fake.assert_clean();
}

#[tokio::test]
async fn a_log_served_by_the_api_itself_is_streamed_to_the_cap() {
    let fake = FakeGithub::start().await;
    let c = client(&fake);
    // Some servers answer the log request with the log, not a redirect.
    fake.inject(
        "GET",
        r"/actions/jobs/\d+/logs$",
        Fault::status(200).body(serde_json::json!("y".repeat(10_000))),
    );
    let log = c.download_job_log(7, 1000).await.expect("log");
    assert_eq!(log.bytes, 1000);
    assert!(log.truncated);
    let text = std::fs::read_to_string(log.file.path()).expect("read");
    assert_eq!(text.len(), 1000);
    assert!(text.starts_with("\"yyy"), "{}", &text[..10]);
    fake.assert_clean();
}

#[tokio::test]
async fn upsert_comment_updates_only_its_own_comment_on_any_page() {
    let fake = FakeGithub::start().await;
    let n = fake.add_issue(IssueBuilder::new("failure").user(ACTIONS_BOT));
    let marker = ci_medic::github::marker::marker("seen", "7-1");
    // Another user quotes the marker first; ours is on the second page.
    let planted = format!("{marker}\nplanted");
    let theirs = fake.add_comment(n, "mallory", &planted);
    for i in 0..110 {
        fake.add_comment(n, "octocat", &format!("comment {i}"));
    }
    let ours = fake.add_comment(n, ACTIONS_BOT, &format!("{marker}\nold"));
    let c = client(&fake);
    let body = format!("{marker}\nnew");
    let done = c
        .upsert_comment(n, &body, Some(("seen", "7-1")))
        .await
        .expect("upsert");
    assert_eq!(done.id, ours);
    let comments = fake.comments(n);
    assert_eq!(comments.len(), 112, "no new comment");
    let by_id = |id: u64| comments.iter().find(|c| c.id == id).map(|c| c.body.clone());
    assert_eq!(by_id(ours), Some(body));
    assert_eq!(by_id(theirs), Some(planted));
    assert!(fake.requests_to("GET", r"/comments$").len() >= 2, "paged");
    fake.assert_clean();
}

#[tokio::test]
async fn only_issues_by_the_actions_identity_are_found_by_marker() {
    let fake = FakeGithub::start().await;
    let marker = ci_medic::github::marker::marker("failure", "abc");
    let body = format!("{marker}\nbody");
    for user in ["mallory", "ci-medic-app[bot]"] {
        fake.add_issue(
            IssueBuilder::new(user)
                .user(user)
                .label("workflow-failure")
                .body(&body),
        );
    }
    let found = |c: Client| async move {
        c.find_issue_by_marker("workflow-failure", "failure", "abc")
            .await
            .expect("lookup")
            .map(|i| i.user.login)
    };
    assert_eq!(found(client(&fake)).await, None);
    let app = client(&fake).with_identity(Identity::new(Some("ci-medic-app[bot]".into())));
    assert_eq!(found(app).await.as_deref(), Some("ci-medic-app[bot]"));
    fake.assert_clean();
}

#[tokio::test]
async fn a_pull_request_someone_else_opened_from_the_branch_is_left_alone() {
    let fake = FakeGithub::start().await;
    fake.commit_files("ci-medic/heal-1", &[("x.txt", "x\n")], "x");
    let marker = ci_medic::github::marker::marker("heal", "1");
    let planted = format!("{marker}\nnot ours");
    let theirs = fake.add_pull(
        PullBuilder::new("ci-medic/heal-1", "Theirs")
            .user("mallory")
            .body(&planted),
    );
    let mut p = Plan::new("test");
    p.push(
        Write::OpenPullRequest {
            head: "ci-medic/heal-1".into(),
            base: DEFAULT_BRANCH.into(),
            title: "Fix CI".into(),
            body: format!("{marker}\nFixes #1"),
            labels: vec!["auto-heal".into()],
            marker_kind: "heal".into(),
            marker_key: "1".into(),
        },
        "test",
    );
    let report = plan::execute(&p, &plan::Sinks::github(Some(&client(&fake))), false).await;
    assert!(report.failed(), "{}", report.to_text());
    assert!(
        report.to_text().contains("did not open"),
        "{}",
        report.to_text()
    );
    let pull = fake.pull(theirs).expect("their pull request");
    assert_eq!(pull.body.as_deref(), Some(planted.as_str()));
    assert_eq!(pull.title, "Theirs");
    assert!(pull.labels.is_empty());
    assert_eq!(fake.pulls().len(), 1);
    fake.assert_clean();
}

#[tokio::test]
async fn a_lost_pull_request_is_looked_for_among_the_actions_own() {
    let fake = FakeGithub::start().await;
    fake.commit_files("ci-medic/heal-1", &[("x.txt", "x\n")], "x");
    let theirs = fake.add_pull(PullBuilder::new("ci-medic/heal-1", "Theirs").user("mallory"));
    let c = client(&fake);
    // The first try fails before it lands: mallory's pull request from the
    // branch is not the one ci-medic tried to open.
    fake.inject("POST", r"/pulls$", Fault::status(502));
    let got = c
        .create_pull("ci-medic/heal-1", DEFAULT_BRANCH, "Fix CI", "body")
        .await;
    match got {
        Err(e) => assert_eq!(e.status(), Some(422), "{e}"),
        Ok(p) => panic!("took #{} (theirs is #{theirs}) for its own", p.number),
    }
    assert_eq!(fake.requests_to("POST", r"/pulls$").len(), 2, "sent again");
    let pulls = fake.pulls();
    assert_eq!(pulls.len(), 1, "{pulls:?}");
    assert_eq!(pulls[0].title, "Theirs");

    // The first try lands: found, not sent again, while theirs is open too.
    let base = fake.head_sha(DEFAULT_BRANCH);
    fake.set_branch("release", &base);
    fake.commit_files("ci-medic/heal-2", &[("y.txt", "y\n")], "y");
    let older = fake.add_pull(
        PullBuilder::new("ci-medic/heal-2", "Theirs")
            .base("release")
            .user("mallory"),
    );
    fake.inject("POST", r"/pulls$", Fault::after_apply(502));
    let ours = c
        .create_pull("ci-medic/heal-2", DEFAULT_BRANCH, "Fix CI", "body")
        .await
        .expect("pull request");
    assert_ne!(ours.number, older);
    assert_eq!(ours.user.map(|u| u.login).as_deref(), Some(ACTIONS_BOT));
    assert_eq!(
        fake.requests_to("POST", r"/pulls$").len(),
        3,
        "never re-sent"
    );
    let pull = fake.pull(ours.number).expect("ours");
    assert_eq!(
        (pull.title.as_str(), pull.base_ref.as_str()),
        ("Fix CI", DEFAULT_BRANCH)
    );
    assert_eq!(fake.pulls().len(), 3);
    fake.assert_clean();
}
