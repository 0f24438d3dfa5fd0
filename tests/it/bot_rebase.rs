//! `rebase -b BRANCH` end to end: the pull request's commits replayed onto
//! another branch through the git data API of the fake GitHub.

use serde_json::{Value, json};

use crate::bot_commands::{STRANGER, comment_payload, replies, say, start};
use crate::support::action::Runner;
use crate::support::fake_github::{
    DEFAULT_BRANCH, FakeGithub, Fault, MAINTAINER, OWNER, PullBuilder, REPO,
};

/// `release` branched from the default branch with one commit of its own;
/// a two-commit pull request from `feature` (and a commit on the default
/// branch after `feature` branched, which the rebase must not carry).
/// The pull request's number, its head and the head of `release`.
fn two_commit_pull(fake: &FakeGithub, release_readme: Option<&str>) -> (u64, String, String) {
    let fork_point = fake.head_sha(DEFAULT_BRANCH);
    fake.set_branch("release", &fork_point);
    let mut release_files = vec![("NEWS", "release 1.0\n")];
    if let Some(text) = release_readme {
        release_files.push(("README.md", text));
    }
    let release = fake.commit_files("release", &release_files, "release: news");
    fake.commit_files(
        "feature",
        &[("src/a.rs", "pub fn a() {}\n"), ("docs/a.md", "# a\n")],
        "feat: a\n\nThe first commit.",
    );
    let head = fake.commit_files(
        "feature",
        &[
            ("src/a.rs", "pub fn a() -> u8 { 1 }\n"),
            ("src/b.rs", "pub fn b() {}\n"),
            ("README.md", "# octo-repo, with a\n"),
        ],
        "feat: b",
    );
    fake.commit_files(DEFAULT_BRANCH, &[("MAIN_ONLY", "x\n")], "main moves on");
    let n = fake.add_pull(PullBuilder::new("feature", "Add a and b").user(STRANGER));
    (n, head, release)
}

fn ref_moves(fake: &FakeGithub) -> Vec<Value> {
    fake.requests_to(
        "PATCH",
        &format!(r"^/repos/{OWNER}/{REPO}/git/refs/heads/feature$"),
    )
    .iter()
    .filter_map(|r| r.json())
    .collect()
}

#[tokio::test]
async fn rebase_b_replays_each_commit_onto_the_other_branch_file_by_file() {
    let fake = start().await;
    let (n, head, release) = two_commit_pull(&fake, None);
    let release_files = fake.files("release");
    let before = fake.requests().len();

    let (id, out) = say(&fake, n, MAINTAINER, "@ci-medic rebase -b release").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.reaction_contents(id), ["+1"]);
    let r = replies(&fake, n);
    assert!(r[0].contains("Rebasing 2 commits"), "{}", r[0]);
    assert!(r[0].contains("onto `release`"), "{}", r[0]);

    // Two new commits on top of release, each keeping its message and author.
    let new_head = fake.head_sha("feature");
    assert_ne!(new_head, head);
    let second = fake.commit(&new_head).expect("second commit");
    let first = fake.commit(&second.parents[0]).expect("first commit");
    assert_eq!(second.parents.len(), 1);
    assert_eq!(first.parents, std::slice::from_ref(&release));
    assert_eq!(first.message, "feat: a\n\nThe first commit.");
    assert_eq!(second.message, "feat: b");
    assert_eq!(first.author.name, MAINTAINER);

    // The first commit's tree: release plus the first commit's files.
    let mut want = release_files.clone();
    want.insert("src/a.rs".into(), "pub fn a() {}\n".into());
    want.insert("docs/a.md".into(), "# a\n".into());
    assert_eq!(fake.files(&first.sha), want);
    // The head's tree: release plus every change of the pull request, and
    // nothing the default branch has that release lacks.
    want.insert("src/a.rs".into(), "pub fn a() -> u8 { 1 }\n".into());
    want.insert("src/b.rs".into(), "pub fn b() {}\n".into());
    want.insert("README.md".into(), "# octo-repo, with a\n".into());
    assert_eq!(fake.files("feature"), want);
    assert!(!fake.files("feature").contains_key("MAIN_ONLY"));

    // One forced move of the branch; release and the default branch untouched.
    let moves = ref_moves(&fake);
    assert_eq!(moves.len(), 1);
    assert_eq!(moves[0]["force"], json!(true));
    assert_eq!(moves[0]["sha"], json!(new_head));
    assert_eq!(fake.head_sha("release"), release);
    // What the README reports: 14 requests, and 3 more per commit.
    let calls: Vec<String> = fake.requests()[before..].iter().map(|r| r.line()).collect();
    assert_eq!(calls.len(), 14 + 3 * 2, "{calls:#?}");
    fake.assert_clean();
}

#[tokio::test]
async fn a_conflict_is_named_in_one_reply_and_nothing_moves() {
    let fake = start().await;
    let (n, head, release) = two_commit_pull(&fake, Some("# release <!-- x -->\n"));
    let (id, out) = say(&fake, n, MAINTAINER, "@ci-medic rebase -b release").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.reaction_contents(id), ["confused"]);
    let r = replies(&fake, n);
    assert_eq!(r.len(), 1);
    assert!(r[0].contains("do not apply to `release`"), "{}", r[0]);
    assert!(r[0].contains("`README.md`"), "{}", r[0]);
    assert!(r[0].contains("feat: b"), "{}", r[0]);
    assert!(!r[0].contains("src/a.rs"), "{}", r[0]);
    assert_eq!(fake.head_sha("feature"), head);
    assert_eq!(fake.head_sha("release"), release);
    assert!(ref_moves(&fake).is_empty());
    assert!(
        fake.requests_to(
            "POST",
            &format!(r"^/repos/{OWNER}/{REPO}/git/(trees|commits)$")
        )
        .is_empty()
    );
    fake.assert_clean();
}

#[tokio::test]
async fn a_head_that_moved_during_the_rebase_is_left_alone() {
    let fake = start().await;
    let (n, head, _) = two_commit_pull(&fake, None);
    // Someone pushes while the new commits are made: the branch, read
    // again right before it would move, is elsewhere.
    let pushed = fake.commit_files(DEFAULT_BRANCH, &[("OTHER", "y\n")], "someone else's push");
    fake.inject(
        "GET",
        &format!(r"^/repos/{OWNER}/{REPO}/git/ref/heads/feature$"),
        Fault::status(200).body(json!({
            "ref": "refs/heads/feature",
            "node_id": "REF_x",
            "url": format!("https://api.github.com/repos/{OWNER}/{REPO}/git/refs/heads/feature"),
            "object": {"sha": pushed, "type": "commit",
                "url": format!("https://api.github.com/repos/{OWNER}/{REPO}/git/commits/{pushed}")}
        })),
    );
    let (id, out) = say(&fake, n, MAINTAINER, "@ci-medic rebase -b release").await;
    assert_ne!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.reaction_contents(id), ["+1"]);
    assert_eq!(fake.head_sha("feature"), head);
    assert!(ref_moves(&fake).is_empty());
    let r = replies(&fake, n);
    assert_eq!(r.len(), 1);
    assert!(r[0].contains("## Rebase failed"), "{}", r[0]);
    assert!(r[0].contains(&format!("moved to `{pushed}`")), "{}", r[0]);
    fake.take_violations();
    fake.assert_clean();
}

#[tokio::test]
async fn a_fork_is_refused_clearly_and_an_author_with_a_commit_may_rebase() {
    let fake = start().await;
    let base = fake.head_sha(DEFAULT_BRANCH);
    fake.set_branch("release", &base);
    fake.commit_files("feature", &[("src/a.rs", "pub fn a() {}\n")], "feat: a");
    let closed = fake.add_pull(
        PullBuilder::new("feature", "From a fork")
            .user(STRANGER)
            .fork(STRANGER, false),
    );
    let (id, _) = say(&fake, closed, MAINTAINER, "@ci-medic rebase -b release").await;
    assert_eq!(fake.reaction_contents(id), ["confused"]);
    let r = replies(&fake, closed);
    assert!(
        r[0].contains("does not allow edits by maintainers"),
        "{}",
        r[0]
    );
    assert!(ref_moves(&fake).is_empty());

    // The author of a pull request, without write access: refused until
    // they have a commit on the default branch.
    fake.set_permission(STRANGER, "read");
    fake.commit_files("mine", &[("src/m.rs", "pub fn m() {}\n")], "feat: m");
    let mine = fake.add_pull(PullBuilder::new("mine", "Add m").user(STRANGER));
    let (id, _) = say(&fake, mine, STRANGER, "@ci-medic rebase -b release").await;
    assert_eq!(fake.reaction_contents(id), ["confused"]);
    assert!(replies(&fake, mine)[0].contains("needs write access"));
    fake.commit_files_as(
        DEFAULT_BRANCH,
        &[("THANKS", "mallory\n")],
        "docs: thanks",
        STRANGER,
    );
    let (id, out) = say(&fake, mine, STRANGER, "@ci-medic rebase -b release").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.reaction_contents(id), ["+1"]);
    let moved = fake.head_sha("mine");
    assert_eq!(fake.commit(&moved).expect("commit").parents, [base]);
    assert!(replies(&fake, mine)[1].contains("Rebasing 1 commit of"));
    assert_eq!(
        fake.file("mine", "src/m.rs").as_deref(),
        Some("pub fn m() {}\n")
    );
    fake.assert_clean();
}

/// `mallory`'s fork with a two-commit branch `feature` (made after the
/// fork, so only the fork has it), `release` in this repository with a
/// commit of its own, and the default branch moved on. The fork's name,
/// the pull request's number, its head and the head of `release`.
fn fork_pull(fake: &FakeGithub, maintainer_can_modify: bool) -> (String, u64, String, String) {
    let fork_point = fake.head_sha(DEFAULT_BRANCH);
    fake.set_branch("release", &fork_point);
    let release = fake.commit_files("release", &[("NEWS", "release 1.0\n")], "release: news");
    let fork = fake.add_fork(STRANGER);
    fake.commit_files_in(
        &fork,
        "feature",
        &[("src/a.rs", "pub fn a() {}\n"), ("docs/a.md", "# a\n")],
        "feat: a\n\nThe first commit.",
    );
    let head = fake.commit_files_in(
        &fork,
        "feature",
        &[
            ("src/a.rs", "pub fn a() -> u8 { 1 }\n"),
            ("README.md", "# octo-repo, with a\n"),
        ],
        "feat: b",
    );
    fake.commit_files(DEFAULT_BRANCH, &[("MAIN_ONLY", "x\n")], "main moves on");
    let n = fake.add_pull(
        PullBuilder::new("feature", "From a fork")
            .user(STRANGER)
            .fork(STRANGER, maintainer_can_modify),
    );
    (fork, n, head, release)
}

/// Writes to the git data of `repo` (`owner/name`): trees, commits, refs.
fn git_writes(fake: &FakeGithub, repo: &str) -> Vec<String> {
    fake.requests()
        .iter()
        .filter(|r| r.method != "GET" && r.path.starts_with(&format!("/repos/{repo}/git/")))
        .map(|r| format!("{} {}", r.line(), r.status))
        .collect()
}

#[tokio::test]
async fn a_fork_allowing_edits_is_rebased_in_the_fork_file_by_file_once() {
    let fake = start().await;
    let (fork, n, head, release) = fork_pull(&fake, true);
    let release_files = fake.files("release");
    let body = "@ci-medic rebase -b release";

    let (id, out) = say(&fake, n, MAINTAINER, body).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.reaction_contents(id), ["+1"]);
    let r = replies(&fake, n);
    assert_eq!(r.len(), 1);
    assert!(r[0].contains("Rebasing 2 commits"), "{}", r[0]);
    assert!(
        r[0].contains(&format!("moved in the fork `{fork}`")),
        "{}",
        r[0]
    );

    // The fork's branch: two new commits on release, file by file.
    let new_head = fake.branch_in(&fork, "feature").expect("fork branch");
    assert_ne!(new_head, head);
    let second = fake.commit(&new_head).expect("second commit");
    let first = fake.commit(&second.parents[0]).expect("first commit");
    assert_eq!(first.parents, std::slice::from_ref(&release));
    assert_eq!(first.message, "feat: a\n\nThe first commit.");
    assert_eq!(second.message, "feat: b");
    let mut want = release_files.clone();
    want.insert("src/a.rs".into(), "pub fn a() {}\n".into());
    want.insert("docs/a.md".into(), "# a\n".into());
    assert_eq!(fake.files_in(&fork, &first.sha), want);
    want.insert("src/a.rs".into(), "pub fn a() -> u8 { 1 }\n".into());
    want.insert("README.md".into(), "# octo-repo, with a\n".into());
    assert_eq!(fake.files_in(&fork, "feature"), want);
    assert!(!fake.files_in(&fork, "feature").contains_key("MAIN_ONLY"));

    // Every git write went to the fork: trees and commits, then one forced
    // move of its branch. This repository's branches are untouched.
    assert!(git_writes(&fake, &format!("{OWNER}/{REPO}")).is_empty());
    let writes = git_writes(&fake, &fork);
    assert_eq!(writes.len(), 2 * 2 + 1, "{writes:#?}");
    let moves: Vec<Value> = fake
        .requests_to("PATCH", &format!(r"^/repos/{fork}/git/refs/heads/feature$"))
        .iter()
        .filter_map(|r| r.json())
        .collect();
    assert_eq!(moves, [json!({"sha": new_head, "force": true})]);
    assert_eq!(fake.head_sha("release"), release);
    assert!(fake.branch("feature").is_none());
    // The pull request follows the fork's branch.
    assert_eq!(fake.pull(n).expect("pull").head_sha, new_head);

    // The same delivery again writes nothing more.
    let before = fake.requests().len();
    let payload = comment_payload(&fake, n, id, MAINTAINER, body);
    let again = Runner::new(&fake)
        .run_event("issue_comment", &payload)
        .await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    let later: Vec<String> = fake.requests()[before..]
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| r.line())
        .collect();
    assert!(later.is_empty(), "{later:#?}");
    assert_eq!(replies(&fake, n).len(), 1);
    assert_eq!(fake.branch_in(&fork, "feature"), Some(new_head));
    fake.assert_clean();
}

#[tokio::test]
async fn a_fork_without_edits_by_maintainers_is_refused_and_nothing_moves() {
    let fake = start().await;
    let (fork, n, head, _) = fork_pull(&fake, false);
    for body in ["@ci-medic rebase -b release", "@ci-medic rebase"] {
        let (id, out) = say(&fake, n, MAINTAINER, body).await;
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(fake.reaction_contents(id), ["confused"]);
    }
    let r = replies(&fake, n);
    assert_eq!(r.len(), 2);
    for reply in &r {
        assert!(
            reply.contains("does not allow edits by maintainers"),
            "{reply}"
        );
    }
    assert!(git_writes(&fake, &fork).is_empty());
    assert!(
        fake.requests_to(
            "PUT",
            &format!(r"^/repos/{OWNER}/{REPO}/pulls/{n}/update-branch$")
        )
        .is_empty()
    );
    assert_eq!(fake.branch_in(&fork, "feature"), Some(head));
    fake.assert_clean();
}

#[tokio::test]
async fn a_fork_refusing_the_token_gets_one_clear_reply_and_nothing_moves() {
    let fake = start().await;
    let (fork, n, head, _) = fork_pull(&fake, true);
    fake.refuse_writes(&fork);

    let (id, out) = say(&fake, n, MAINTAINER, "@ci-medic rebase -b release").await;
    assert_ne!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.reaction_contents(id), ["+1"]);
    let r = replies(&fake, n);
    assert_eq!(r.len(), 1, "{r:#?}");
    assert!(r[0].contains("## Rebase failed"), "{}", r[0]);
    assert!(
        r[0].contains(&format!("The token cannot push to the fork `{fork}`")),
        "{}",
        r[0]
    );
    assert!(r[0].contains("actions/create-github-app-token"), "{}", r[0]);
    assert!(!r[0].contains("Rebasing"), "{}", r[0]);
    // The first write was refused; nothing else was tried.
    assert_eq!(
        git_writes(&fake, &fork),
        [format!("POST /repos/{fork}/git/trees 403")]
    );
    assert_eq!(fake.branch_in(&fork, "feature"), Some(head.clone()));

    // Plain `rebase` is refused by GitHub the same way: one reply of its own.
    let (id, out) = say(&fake, n, MAINTAINER, "@ci-medic rebase").await;
    assert_ne!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.reaction_contents(id), ["+1"]);
    let r = replies(&fake, n);
    assert_eq!(r.len(), 2, "{r:#?}");
    assert!(r[1].contains("## Rebase failed"), "{}", r[1]);
    assert!(r[1].contains("cannot push to the fork"), "{}", r[1]);
    let updates = fake.requests_to(
        "PUT",
        &format!(r"^/repos/{OWNER}/{REPO}/pulls/{n}/update-branch$"),
    );
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].status, 403);
    assert_eq!(fake.branch_in(&fork, "feature"), Some(head));
    assert_eq!(git_writes(&fake, &fork).len(), 1);
    fake.assert_clean();
}

#[tokio::test]
async fn plain_rebase_of_a_fork_allowing_edits_updates_the_forks_branch() {
    let fake = start().await;
    let (fork, n, head, _) = fork_pull(&fake, true);
    let main = fake.head_sha(DEFAULT_BRANCH);
    let (id, out) = say(&fake, n, MAINTAINER, "@ci-medic rebase").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.reaction_contents(id), ["+1"]);
    let calls = fake.requests_to(
        "PUT",
        &format!(r"^/repos/{OWNER}/{REPO}/pulls/{n}/update-branch$"),
    );
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].json().map(|b| b["expected_head_sha"].clone()),
        Some(Value::from(head.as_str()))
    );
    let updated = fake.branch_in(&fork, "feature").expect("fork branch");
    assert_eq!(fake.commit(&updated).expect("commit").parents, [head, main]);
    assert_eq!(fake.pull(n).expect("pull").head_sha, updated);
    assert!(fake.merge_commit(n).is_none());
    let r = replies(&fake, n);
    assert_eq!(r.len(), 1);
    assert!(r[0].contains("up to date with `main`"), "{}", r[0]);
    fake.assert_clean();
}

#[tokio::test]
async fn plain_rebase_of_a_moved_head_says_why_in_its_reply() {
    let fake = start().await;
    let head = fake.commit_files("feature", &[("src/lib.rs", "pub fn f() {}\n")], "feat: f");
    let n = fake.add_pull(PullBuilder::new("feature", "Add f").user(STRANGER));
    fake.commit_files(DEFAULT_BRANCH, &[("NEWS", "1.0\n")], "news");
    // A push lands between the command's read and the update.
    fake.inject(
        "PUT",
        &format!(r"^/repos/{OWNER}/{REPO}/pulls/{n}/update-branch$"),
        Fault::status(422).body(json!({
            "message": "expected head sha didn't match current head ref.",
            "documentation_url": "https://docs.github.com/rest",
            "status": "422"
        })),
    );
    let (id, out) = say(&fake, n, MAINTAINER, "@ci-medic rebase").await;
    assert_ne!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.reaction_contents(id), ["+1"]);
    let r = replies(&fake, n);
    assert_eq!(r.len(), 1, "{r:#?}");
    assert!(r[0].contains("## Rebase failed"), "{}", r[0]);
    assert!(r[0].contains("expected head sha didn"), "{}", r[0]);
    assert!(!r[0].contains("cannot push"), "{}", r[0]);
    assert_eq!(fake.head_sha("feature"), head);
    fake.assert_clean();
}
