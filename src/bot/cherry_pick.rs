//! `cherry-pick --onto BRANCH -c CLASS [--fixes URL]`: apply a merged pull
//! request's change onto a release branch, as a pull request into it.
//!
//! Exact or not at all, like a revert: every file the merge commit touched
//! must be, on the target branch, as the merge commit's parent had it; the
//! pick then writes each file as the merge left it. A file that differs is
//! a conflict, named in the reply, never guessed at.

use crate::autorevert::revert::{MAX_FILES, touched_paths};
use crate::github::{Client, GithubError};
use crate::plan::FileChange;

/// The change to commit onto the target branch, or the files that conflict
/// (or why the pick cannot be made).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pick {
    Changes(Vec<FileChange>),
    Conflicts(Vec<String>),
    Refused(String),
}

/// One path: as the merge's parent had it, as the merge left it, and on
/// the target branch (`None`: absent). `T` is what a side is compared by:
/// the file's text for a pick, its tree entry for a rebase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versions<T = String> {
    pub path: String,
    pub parent: Option<T>,
    pub merged: Option<T>,
    pub target: Option<T>,
}

/// The three-way rule shared by `cherry-pick` and `rebase -b`: a change
/// applies only onto a target that has each touched path as the change's
/// parent had it (or already as the change left it). The paths to write
/// (`None`: delete), or the paths that conflict. Pure; never guesses.
#[allow(clippy::type_complexity)]
pub fn three_way<T: Eq + Clone>(
    files: &[Versions<T>],
) -> Result<Vec<(String, Option<T>)>, Vec<String>> {
    let conflicts: Vec<String> = files
        .iter()
        .filter(|f| f.target != f.parent && f.target != f.merged)
        .map(|f| f.path.clone())
        .collect();
    if !conflicts.is_empty() {
        return Err(conflicts);
    }
    Ok(files
        .iter()
        .filter(|f| f.target != f.merged)
        .map(|f| (f.path.clone(), f.merged.clone()))
        .collect())
}

/// The pick's changes, when every path on the target is as the parent had
/// it. Pure.
pub fn pick(files: &[Versions]) -> Pick {
    let changes: Vec<FileChange> = match three_way(files) {
        Err(conflicts) => return Pick::Conflicts(conflicts),
        Ok(writes) => writes
            .into_iter()
            .map(|(path, content)| FileChange { path, content })
            .collect(),
    };
    if changes.is_empty() {
        return Pick::Refused("the target branch already has this change".into());
    }
    Pick::Changes(changes)
}

/// Read the versions of every file merge commit `sha` touched, and pick it
/// onto `target` (a commit).
pub async fn gather(client: &Client, sha: &str, target: &str) -> Result<Pick, GithubError> {
    let detail = client.commit_detail(sha).await?;
    let [parent] = detail.parents.as_slice() else {
        return Ok(Pick::Refused(
            "the merge commit does not have exactly one parent".into(),
        ));
    };
    if detail.files.len() > MAX_FILES {
        return Ok(Pick::Refused(format!(
            "the change touches {} files (more than {MAX_FILES})",
            detail.files.len()
        )));
    }
    let mut files = Vec::new();
    for path in touched_paths(&detail) {
        let parent_text = client.file_text(&path, parent).await;
        let merged_text = client.file_text(&path, sha).await;
        let target_text = client.file_text(&path, target).await;
        match (parent_text, merged_text, target_text) {
            (Ok(p), Ok(m), Ok(t)) => files.push(Versions {
                path,
                parent: p,
                merged: m,
                target: t,
            }),
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
                if matches!(e, GithubError::Decode { .. }) || e.status() == Some(403) {
                    return Ok(Pick::Refused(format!(
                        "{path} cannot be read through the API ({e})"
                    )));
                }
                return Err(e);
            }
        }
    }
    Ok(pick(&files))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(path: &str, parent: Option<&str>, merged: Option<&str>, target: Option<&str>) -> Versions {
        Versions {
            path: path.into(),
            parent: parent.map(str::to_string),
            merged: merged.map(str::to_string),
            target: target.map(str::to_string),
        }
    }

    #[test]
    fn a_pick_applies_only_onto_what_the_parent_had() {
        let files = [
            v("a", Some("1"), Some("2"), Some("1")),
            v("new", None, Some("n"), None),
            v("done", Some("1"), Some("2"), Some("2")),
        ];
        let Pick::Changes(c) = pick(&files) else {
            panic!("changes");
        };
        let paths: Vec<&str> = c.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["a", "new"]);
        let conflict = [v("a", Some("1"), Some("2"), Some("9"))];
        assert_eq!(pick(&conflict), Pick::Conflicts(vec!["a".into()]));
        let applied = [v("a", Some("1"), Some("2"), Some("2"))];
        assert!(matches!(pick(&applied), Pick::Refused(_)));
    }
}
