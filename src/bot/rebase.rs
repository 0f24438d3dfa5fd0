//! `rebase -b BRANCH`: move a pull request's own commits onto another
//! branch through the git data API, one commit at a time, with no checkout.
//!
//! Each commit of the pull request (those its head holds and its base does
//! not; merge commits are dropped, as `git rebase` drops them) is replayed
//! at the tree level: the files it changed relative to its parent are
//! written onto the new base's tree, by the three-way rule `cherry-pick`
//! uses ([`super::cherry_pick::three_way`]). A file the new base changed
//! differently is a conflict: the reply names it and nothing is written. A
//! commit whose change the new base already holds is dropped.
//!
//! The branch is moved (forced: a rebase rewrites history) only after
//! reading it again and finding the head the rebase was computed from; a
//! push in between leaves the branch alone and the reply says so.
//!
//! A pull request from a fork that allows edits by maintainers is rebased
//! in the fork: the new base and the pull request's commits are read from
//! this repository (a fork network shares its objects), the new trees and
//! commits are made and the branch moved in the fork. A token that cannot
//! push there (the workflow's `GITHUB_TOKEN` never can) is refused by
//! GitHub at the first write, before anything is referenced: the reply
//! says which token it takes.

use std::collections::BTreeMap;

use http::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::cherry_pick::{Versions, three_way};
use super::reply::ReplyTo;
use crate::github::api::encode_segment;
use crate::github::{Client, GithubError, Repeat, RepoName, decode};
use crate::report::markdown::{code, inline};

/// Commits of a pull request replayed at most (one page of the compare
/// endpoint, which lists up to 250).
pub const MAX_COMMITS: usize = 250;

/// A file's entry in a tree: what a rebase compares and writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// `100644`, `100755`, `120000` (symlink), `160000` (submodule).
    pub mode: String,
    /// `blob`, or `commit` for a submodule.
    #[serde(rename = "type")]
    pub kind: String,
    pub sha: String,
}

/// Every file of a tree, by path.
pub type Files = BTreeMap<String, Entry>;

/// Who wrote a commit, kept when it is replayed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    pub name: String,
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
}

/// One commit of the pull request and what it changed relative to its
/// parent: each path as the parent had it and as the commit left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitChange {
    pub sha: String,
    pub message: String,
    pub author: Option<Author>,
    /// `(path, parent's entry, commit's entry)`.
    pub changed: Vec<(String, Option<Entry>, Option<Entry>)>,
}

/// A path a replayed commit writes (`entry: None` deletes it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TreeChange {
    pub path: String,
    pub entry: Option<Entry>,
}

/// One commit to make on the new base.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Replayed {
    /// The commit of the pull request it replays.
    pub source: String,
    pub message: String,
    pub author: Option<Author>,
    pub changes: Vec<TreeChange>,
}

/// What a rebase would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// The commits to make, in order; how many merge commits and commits
    /// already on the new base were dropped.
    Commits {
        commits: Vec<Replayed>,
        merges_dropped: usize,
        empty_dropped: usize,
    },
    /// The first commit that does not apply, and the paths that conflict.
    Conflicts {
        commit: String,
        subject: String,
        paths: Vec<String>,
    },
    /// No rebase is possible (too many commits, a truncated tree, nothing
    /// left to move).
    Refused(String),
}

/// Replay `commits` onto the tree `onto`. Pure.
pub fn replay(mut onto: Files, commits: &[CommitChange], merges_dropped: usize) -> Plan {
    let mut out = Vec::new();
    let mut empty_dropped = 0;
    for c in commits {
        let sides: Vec<Versions<Entry>> = c
            .changed
            .iter()
            .map(|(path, parent, merged)| Versions {
                path: path.clone(),
                parent: parent.clone(),
                merged: merged.clone(),
                target: onto.get(path).cloned(),
            })
            .collect();
        let writes = match three_way(&sides) {
            Ok(w) => w,
            Err(paths) => {
                return Plan::Conflicts {
                    commit: c.sha.clone(),
                    subject: c.message.lines().next().unwrap_or_default().to_string(),
                    paths,
                };
            }
        };
        if writes.is_empty() {
            empty_dropped += 1;
            continue;
        }
        let mut changes = Vec::new();
        for (path, entry) in writes {
            match &entry {
                Some(e) => onto.insert(path.clone(), e.clone()),
                None => onto.remove(&path),
            };
            changes.push(TreeChange { path, entry });
        }
        out.push(Replayed {
            source: c.sha.clone(),
            message: c.message.clone(),
            author: c.author.clone(),
            changes,
        });
    }
    if out.is_empty() {
        return Plan::Refused("the new base already holds every change of the pull request".into());
    }
    Plan::Commits {
        commits: out,
        merges_dropped,
        empty_dropped,
    }
}

/// The paths whose entries differ between two trees, with both entries.
pub fn diff(before: &Files, after: &Files) -> Vec<(String, Option<Entry>, Option<Entry>)> {
    let mut out = Vec::new();
    for (path, b) in before {
        match after.get(path) {
            Some(a) if a == b => {}
            other => out.push((path.clone(), Some(b.clone()), other.cloned())),
        }
    }
    for (path, a) in after {
        if !before.contains_key(path) {
            out.push((path.clone(), None, Some(a.clone())));
        }
    }
    out.sort_by(|x, y| x.0.cmp(&y.0));
    out
}

#[derive(Deserialize)]
struct RawTree {
    sha: String,
    #[serde(default)]
    tree: Vec<RawEntry>,
    #[serde(default)]
    truncated: bool,
}

#[derive(Deserialize)]
struct RawEntry {
    path: String,
    mode: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    sha: Option<String>,
}

/// The tree of a commit, flattened; `Err` with the reason when GitHub cut
/// it short (a tree too large for one answer).
async fn tree_of(c: &Client, commit: &str) -> Result<Result<(String, Files), String>, GithubError> {
    let path = c.repo_path(&format!(
        "/git/trees/{}?recursive=1",
        encode_segment(commit, false)
    ));
    let raw: RawTree = c.get_json(&path).await?;
    if raw.truncated {
        return Ok(Err(format!(
            "the tree of {commit} is too large for GitHub to list in one answer"
        )));
    }
    let files = raw
        .tree
        .into_iter()
        .filter(|e| e.kind != "tree")
        .filter_map(|e| {
            let sha = e.sha?;
            Some((
                e.path,
                Entry {
                    mode: e.mode,
                    kind: e.kind,
                    sha,
                },
            ))
        })
        .collect();
    Ok(Ok((raw.sha, files)))
}

#[derive(Deserialize)]
struct Comparison {
    #[serde(default)]
    total_commits: usize,
    #[serde(default)]
    commits: Vec<ComparedCommit>,
}

#[derive(Deserialize)]
struct ComparedCommit {
    sha: String,
    commit: ComparedInner,
    #[serde(default)]
    parents: Vec<ShaOnly>,
}

#[derive(Deserialize)]
struct ComparedInner {
    message: String,
    #[serde(default)]
    author: Option<Author>,
}

#[derive(Deserialize)]
struct ShaOnly {
    sha: String,
}

/// What `rebase -b` read: the new base, its tree, and the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gathered {
    pub onto_sha: String,
    pub onto_tree: String,
    pub plan: Plan,
}

/// Read what rebasing the commits of `head` that `base` lacks onto branch
/// `onto` takes; `None` when `onto` does not exist. Reads only.
pub async fn gather(
    c: &Client,
    base: &str,
    head: &str,
    onto: &str,
) -> Result<Option<Gathered>, GithubError> {
    let Some(onto_sha) = c.branch_sha(onto).await? else {
        return Ok(None);
    };
    let refused = |why: String, onto_sha: &str| {
        Ok(Some(Gathered {
            onto_sha: onto_sha.to_string(),
            onto_tree: String::new(),
            plan: Plan::Refused(why),
        }))
    };
    let path = c.repo_path(&format!(
        "/compare/{}...{}?per_page={MAX_COMMITS}",
        encode_segment(base, false),
        encode_segment(head, false)
    ));
    let compared: Comparison = c.get_json(&path).await?;
    if compared.total_commits > compared.commits.len() || compared.commits.len() > MAX_COMMITS {
        return refused(
            format!(
                "the pull request has {} commits; at most {MAX_COMMITS} are rebased",
                compared.total_commits
            ),
            &onto_sha,
        );
    }
    let (onto_tree, onto_files) = match tree_of(c, &onto_sha).await? {
        Ok(t) => t,
        Err(why) => return refused(why, &onto_sha),
    };
    let mut changes = Vec::new();
    let mut merges = 0;
    // The tree last read: a commit's parent is usually the commit before it.
    let mut last: Option<(String, Files)> = None;
    for commit in compared.commits {
        let [parent] = commit.parents.as_slice() else {
            merges += 1;
            continue;
        };
        let parent_files = match last.take() {
            Some((sha, files)) if sha == parent.sha => files,
            _ => match tree_of(c, &parent.sha).await? {
                Ok((_, files)) => files,
                Err(why) => return refused(why, &onto_sha),
            },
        };
        let files = match tree_of(c, &commit.sha).await? {
            Ok((_, files)) => files,
            Err(why) => return refused(why, &onto_sha),
        };
        changes.push(CommitChange {
            sha: commit.sha.clone(),
            message: commit.commit.message,
            author: commit.commit.author,
            changed: diff(&parent_files, &files),
        });
        last = Some((commit.sha, files));
    }
    Ok(Some(Gathered {
        onto_sha,
        onto_tree,
        plan: replay(onto_files, &changes, merges),
    }))
}

/// Whether `login` authored a commit on `branch` (the default branch): such
/// an author may rebase their own pull request without write access.
pub async fn has_commit_on(c: &Client, branch: &str, login: &str) -> Result<bool, GithubError> {
    let path = c.repo_path(&format!(
        "/commits?sha={}&author={}&per_page=1",
        encode_segment(branch, false),
        encode_segment(login, false)
    ));
    let found: Vec<Value> = c.get_json(&path).await?;
    Ok(!found.is_empty())
}

/// Why a fork refused a write: the token cannot push there.
fn cannot_push(fork: &str) -> String {
    format!(
        "The token cannot push to the fork {}: GitHub refused the write (or the fork is gone). The workflow's `GITHUB_TOKEN` never can; give ci-medic a GitHub App installation token (minted with `actions/create-github-app-token`, with `contents: write`) to update pull requests from forks that allow edits by maintainers. The branch was not changed.",
        code(fork)
    )
}

/// The reply's text when GitHub refused a step writing the branch.
fn refusal(e: &GithubError, fork: Option<&str>, what: &str) -> String {
    match (fork, e.status()) {
        (Some(fork), Some(403 | 404)) => cannot_push(fork),
        _ => format!(
            "GitHub refused {what}: {}; the branch was not changed.",
            inline(&e.to_string())
        ),
    }
}

/// Rewrite the reply `to` with `## Rebase failed` and `why`.
async fn explain(c: &Client, number: u64, to: &ReplyTo, why: &str) {
    let (kind, key) = to.marker();
    let body = to.body(&format!("## Rebase failed\n\n{why}"));
    let _ = c.upsert_comment(number, &body, Some((&kind, &key))).await;
}

/// Carry out a rebase: make each commit on the new base, then move
/// `refs/heads/<branch>` there only if it still points at
/// `expected_head_sha`; in the fork `head_repo` when the branch lives in
/// one. `Ok(Err(why))` when the branch moved (nothing was changed); the
/// reply `to` is rewritten to say why either way it fails.
#[allow(clippy::too_many_arguments)]
pub async fn carry_out(
    c: &Client,
    number: u64,
    branch: &str,
    expected_head_sha: &str,
    onto_sha: &str,
    onto_tree: &str,
    commits: &[Replayed],
    to: &ReplyTo,
    head_repo: Option<&str>,
) -> Result<Result<String, String>, GithubError> {
    let target = match head_repo.map(RepoName::parse) {
        None => c.clone(),
        Some(Ok(repo)) => c.for_repo(repo),
        Some(Err(_)) => {
            let why = format!(
                "The pull request's head repository {} is not a repository name; the branch was not changed.",
                code(head_repo.unwrap_or_default())
            );
            explain(c, number, to, &why).await;
            return Ok(Err(why));
        }
    };
    let result = build_and_move(
        &target,
        branch,
        expected_head_sha,
        onto_sha,
        onto_tree,
        commits,
    )
    .await;
    let why = match &result {
        Ok(Ok(_)) => return result,
        Ok(Err(why)) => why.clone(),
        Err(e) => refusal(e, head_repo, "a step of the rebase"),
    };
    explain(c, number, to, &why).await;
    result
}

/// Carry out plain `rebase`: GitHub's update-branch of pull request
/// `number`, pinned to `expected_head_sha`. A refusal rewrites the reply
/// `to` with GitHub's reason (for a pull request from the fork `fork`, a
/// 403 or 404 says the token cannot push there) and is `Ok(Err(why))`.
pub async fn update_head_branch(
    c: &Client,
    number: u64,
    expected_head_sha: &str,
    fork: Option<&str>,
    to: &ReplyTo,
) -> Result<Result<(), String>, GithubError> {
    match c.update_branch(number, expected_head_sha).await {
        Ok(()) => Ok(Ok(())),
        Err(e) if e.status().is_some() => {
            let why = refusal(&e, fork, "to update the branch");
            explain(c, number, to, &why).await;
            Ok(Err(why))
        }
        // No answer (a timeout, a dropped connection): the update may have
        // landed; the step fails without a word that could be wrong.
        Err(e) => Err(e),
    }
}

async fn build_and_move(
    c: &Client,
    branch: &str,
    expected_head_sha: &str,
    onto_sha: &str,
    onto_tree: &str,
    commits: &[Replayed],
) -> Result<Result<String, String>, GithubError> {
    let mut parent = onto_sha.to_string();
    let mut tree = onto_tree.to_string();
    for commit in commits {
        let entries: Vec<Value> = commit
            .changes
            .iter()
            .map(|ch| match &ch.entry {
                Some(e) => json!({"path": ch.path, "mode": e.mode, "type": e.kind, "sha": e.sha}),
                None => json!({"path": ch.path, "mode": "100644", "type": "blob", "sha": null}),
            })
            .collect();
        let path = c.repo_path("/git/trees");
        let reply = c
            .request(
                Method::POST,
                &path,
                Some(&json!({"base_tree": tree, "tree": entries})),
                // Trees are content-addressed: a repeat makes the same one.
                Repeat::Safe,
            )
            .await?;
        tree = decode::<Sha>(&Method::POST, &path, &reply.body)?.sha;
        let mut body = json!({"message": commit.message, "tree": tree, "parents": [parent]});
        if let Some(a) = &commit.author {
            body["author"] = json!(a);
        }
        let path = c.repo_path("/git/commits");
        let reply = c
            .request(
                Method::POST,
                &path,
                Some(&body),
                // A repeated commit is an unreferenced twin; only the ref matters.
                Repeat::Safe,
            )
            .await?;
        parent = decode::<Sha>(&Method::POST, &path, &reply.body)?.sha;
    }
    // Compare and swap: GitHub's ref update takes no expected value, so the
    // branch is read again right before it is moved.
    let git_ref = format!("heads/{branch}");
    match c.get_ref(&git_ref).await? {
        Some(now) if now == expected_head_sha => {}
        Some(now) => {
            return Ok(Err(format!(
                "The branch moved to {} while it was being rebased (from {}); it was left as it is. Re-issue the command.",
                code(&now),
                code(expected_head_sha)
            )));
        }
        None => {
            return Ok(Err(
                "The branch was deleted while it was being rebased.".to_string()
            ));
        }
    }
    c.update_ref(&git_ref, &parent, true).await?;
    Ok(Ok(parent))
}

#[derive(Deserialize)]
struct Sha {
    sha: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(sha: &str) -> Entry {
        Entry {
            mode: "100644".into(),
            kind: "blob".into(),
            sha: sha.into(),
        }
    }

    fn files(list: &[(&str, &str)]) -> Files {
        list.iter().map(|(p, s)| (p.to_string(), e(s))).collect()
    }

    fn change(sha: &str, before: &[(&str, &str)], after: &[(&str, &str)]) -> CommitChange {
        CommitChange {
            sha: sha.into(),
            message: format!("{sha}: subject\n\nbody"),
            author: None,
            changed: diff(&files(before), &files(after)),
        }
    }

    #[test]
    fn each_commit_applies_onto_what_the_ones_before_it_left() {
        let onto = files(&[("a", "1"), ("b", "1"), ("other", "9")]);
        let commits = [
            change(
                "c1",
                &[("a", "1"), ("b", "1")],
                &[("a", "2"), ("b", "1"), ("new", "n")],
            ),
            // Changes `a` again, on top of c1's version, and deletes `b`.
            change(
                "c2",
                &[("a", "2"), ("b", "1"), ("new", "n")],
                &[("a", "3"), ("new", "n")],
            ),
        ];
        let Plan::Commits { commits: out, .. } = replay(onto, &commits, 0) else {
            panic!("commits");
        };
        assert_eq!(out.len(), 2);
        let paths = |r: &Replayed| -> Vec<(String, Option<String>)> {
            r.changes
                .iter()
                .map(|c| (c.path.clone(), c.entry.as_ref().map(|e| e.sha.clone())))
                .collect()
        };
        assert_eq!(
            paths(&out[0]),
            [
                ("a".into(), Some("2".into())),
                ("new".into(), Some("n".into()))
            ]
        );
        assert_eq!(
            paths(&out[1]),
            [("a".into(), Some("3".into())), ("b".into(), None)]
        );
    }

    #[test]
    fn a_file_the_new_base_changed_differently_is_a_conflict() {
        let onto = files(&[("a", "7"), ("b", "1")]);
        let commits = [
            change("c1", &[("b", "1")], &[("b", "2")]),
            change("c2", &[("a", "1"), ("b", "2")], &[("a", "2"), ("b", "2")]),
        ];
        assert_eq!(
            replay(onto, &commits, 0),
            Plan::Conflicts {
                commit: "c2".into(),
                subject: "c2: subject".into(),
                paths: vec!["a".into()],
            }
        );
    }

    #[test]
    fn commits_the_new_base_holds_are_dropped_and_all_of_them_is_a_refusal() {
        let onto = files(&[("a", "2")]);
        let commits = [
            change("c1", &[("a", "1")], &[("a", "2")]),
            change("c2", &[("a", "2")], &[("a", "2"), ("z", "z")]),
        ];
        let Plan::Commits {
            commits: out,
            empty_dropped,
            ..
        } = replay(onto.clone(), &commits, 1)
        else {
            panic!("commits");
        };
        assert_eq!((out.len(), empty_dropped), (1, 1));
        assert_eq!(out[0].source, "c2");
        assert!(matches!(replay(onto, &commits[..1], 0), Plan::Refused(_)));
    }
}
