//! The permissions service against the fake GitHub: a login's access is
//! asked once per run, however many questions about it the run's handlers
//! put.

use std::time::Duration;

use ci_medic::app::Ctx;
use ci_medic::cli::Format;
use ci_medic::config::Config;
use ci_medic::github::{Client, RepoName, RetryPolicy};
use ci_medic::permissions::{Access, Action};
use ci_medic::runtime::Env;
use serde_json::{Value, json};

use crate::analyze_flow::missing_module_log;
use crate::heal_flow::analysed_issue;
use crate::support::action::Runner;
use crate::support::fake_github::{ACTIONS_BOT, FakeGithub, IssueBuilder, MAINTAINER, OWNER, REPO};

/// Requests for `login`'s permission on the repository (the path carries
/// it percent-encoded).
fn permission_requests(fake: &FakeGithub, login: &str) -> usize {
    let segment = login.replace('[', "%5B").replace(']', "%5D");
    let path = format!(
        r"^/repos/{OWNER}/{REPO}/collaborators/{}/permission$",
        regex::escape(&segment)
    );
    fake.requests_to("GET", &path).len()
}

fn ctx(fake: &FakeGithub) -> Ctx {
    let policy = RetryPolicy {
        max_attempts: 2,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_secs(1),
    };
    let client = Client::new(
        &fake.uri(),
        fake.token(),
        RepoName::parse(&format!("{OWNER}/{REPO}")).expect("repo"),
        policy,
    )
    .expect("client");
    Ctx::new(
        Some(client),
        Config::default(),
        Env::from_pairs(Vec::<(String, String)>::new()),
        false,
        Format::Text,
    )
}

#[tokio::test]
async fn a_run_asks_for_one_logins_access_once() {
    let fake = FakeGithub::start().await;
    fake.set_permission("mallory", "triage");
    let n = fake.add_issue(IssueBuilder::new("Stop autorevert").user("mallory"));
    fake.with_world(|w| {
        let (env, repo, _) = w.split(&format!("{OWNER}/{REPO}")).expect("repo");
        repo.add_issue_labels(env, n, &["ci: disable-autorevert".to_string()], MAINTAINER);
    });
    let ctx = ctx(&fake);

    // Two handlers of one run, each with its own view of the service.
    let first = ctx.permissions().expect("service");
    assert_eq!(
        first.access(MAINTAINER).await.expect("access"),
        Access::Admin
    );
    let second = ctx.permissions().expect("service");
    assert!(
        second
            .may(&MAINTAINER.to_uppercase(), Action::KillAutorevert)
            .await
            .expect("may")
    );
    let (labeler, allowed) = second
        .labeled_by_one_who_may(n, "ci: disable-autorevert", Action::KillAutorevert)
        .await
        .expect("labeler");
    assert_eq!(labeler.as_deref(), Some(MAINTAINER));
    assert!(allowed);
    assert_eq!(permission_requests(&fake, MAINTAINER), 1);

    // Someone else is asked about on their own, and a reader may not.
    assert!(
        !first
            .may("mallory", Action::TriggerHeal)
            .await
            .expect("may")
    );
    assert!(
        !second
            .may("mallory", Action::VouchByLabel)
            .await
            .expect("may")
    );
    assert_eq!(permission_requests(&fake, "mallory"), 1);

    // The action's own login vouches for heal without a lookup; the kill
    // switch asks even about it.
    assert!(
        first
            .may(ACTIONS_BOT, Action::TriggerHeal)
            .await
            .expect("may")
    );
    assert_eq!(permission_requests(&fake, ACTIONS_BOT), 0);
    assert!(
        !first
            .may(ACTIONS_BOT, Action::KillAutorevert)
            .await
            .expect("may")
    );
    assert_eq!(permission_requests(&fake, ACTIONS_BOT), 1);

    // No `labeled` event: no labeler, and no permission asked.
    let (labeler, allowed) = first
        .labeled_by_one_who_may(n, "auto-heal", Action::VouchByLabel)
        .await
        .expect("labeler");
    assert_eq!((labeler, allowed), (None, false));
    fake.assert_clean();
}

/// A real `issues` `labeled` payload for issue `n`, sent by `sender`.
fn labeled_payload(fake: &FakeGithub, n: u64, sender: &str) -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/webhooks/issues/09-labeled.json"
    ))
    .expect("fixture");
    let mut v: Value = serde_json::from_str(&text).expect("fixture json");
    let issue = fake.issue(n).expect("issue");
    v["action"] = "labeled".into();
    v["issue"]["number"] = n.into();
    v["issue"]["title"] = issue.title.into();
    v["issue"]["body"] = issue.body.into();
    v["issue"]["state"] = issue.state.into();
    v["issue"]["user"]["login"] = issue.user.into();
    v["issue"]["labels"] = issue
        .labels
        .iter()
        .map(|l| json!({"name": l}))
        .collect::<Vec<_>>()
        .into();
    v["label"] = json!({"name": "auto-heal"});
    v["sender"]["login"] = sender.into();
    v["repository"]["full_name"] = format!("{OWNER}/{REPO}").into();
    v
}

#[tokio::test]
async fn heal_asks_once_about_whoever_both_labelled_and_triggered() {
    let fake = FakeGithub::start().await;
    let n = analysed_issue(&fake, missing_module_log(1, "tmpa1b2c3")).await;
    fake.set_permission("mallory", "triage");
    // mallory takes `auto-heal` off and puts it back: the labeller and the
    // sender are one person, asked about once.
    fake.with_world(|w| {
        let (env, repo, _) = w.split(&format!("{OWNER}/{REPO}")).expect("repo");
        repo.remove_issue_label(env, n, "auto-heal", "mallory");
        repo.add_issue_labels(env, n, &["auto-heal".to_string()], "mallory");
    });
    let payload = labeled_payload(&fake, n, "mallory");
    let out = Runner::new(&fake).run_event("issues", &payload).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(fake.pulls().is_empty());
    let comments = fake.comments(n);
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(
        comments[0]
            .body
            .contains("who triggered this, has triage access"),
        "{}",
        comments[0].body
    );
    assert_eq!(permission_requests(&fake, "mallory"), 1);
    fake.assert_clean();
}
