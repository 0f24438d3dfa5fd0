//! The GitHub client against the fake: the retry policy, idempotent writes,
//! pagination and the git data API, through the executor where it applies.

use std::time::Duration;

use ci_medic::github::git::FileChange;
use ci_medic::github::{Client, GithubError, RepoName, RetryPolicy};
use ci_medic::plan::{self, Outcome, Plan, Write};
use serde_json::Map;

use crate::support::fake_github::{DEFAULT_BRANCH, FakeGithub, Fault, IssueBuilder, OWNER, REPO};

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
