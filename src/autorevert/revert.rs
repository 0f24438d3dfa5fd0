//! The tree of a revert.
//!
//! A revert is only proposed when it is exact and safe without a merge: every
//! file the suspect touched is, on trunk's head, as the suspect left it. The
//! revert is then trunk's head with those files as the suspect's parent had
//! them (deleted where the suspect added them). Anything else (a file changed
//! since, a merge commit, a binary or huge file, a commit GitHub lists only
//! partly) falls back to notifying, with the reason.

use crate::github::types::CommitDetail;
use crate::github::{Client, GithubError};
use crate::history::snapshot::Commit;
use crate::plan::FileChange;
use crate::report::markdown::code;

/// Files a proposed revert may touch. GitHub lists at most 300 files of a
/// commit on one page; a revert of that size wants a person anyway.
pub const MAX_FILES: usize = 100;

/// One path in three versions (`None`: absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileVersions {
    pub path: String,
    pub parent: Option<String>,
    pub suspect: Option<String>,
    pub head: Option<String>,
}

/// What to do instead of reverting, or the changes of the revert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevertChanges {
    Changes(Vec<FileChange>),
    Fallback(String),
}

/// The revert's changes, when every path is unchanged since the suspect.
pub fn changes(files: &[FileVersions]) -> RevertChanges {
    let mut changes = Vec::new();
    for f in files {
        if f.head != f.suspect {
            return RevertChanges::Fallback(format!(
                "{} changed after the suspect; a revert needs a person",
                code(&f.path)
            ));
        }
        if f.parent != f.suspect {
            changes.push(FileChange {
                path: f.path.clone(),
                content: f.parent.clone(),
            });
        }
    }
    if changes.is_empty() {
        return RevertChanges::Fallback(
            "the suspect changes no file content that a revert could restore".into(),
        );
    }
    RevertChanges::Changes(changes)
}

/// The paths a commit touched (renames count twice: old and new name).
pub fn touched_paths(detail: &CommitDetail) -> Vec<String> {
    let mut paths: Vec<String> = detail
        .files
        .iter()
        .flat_map(|f| std::iter::once(f.filename.clone()).chain(f.previous_filename.clone()))
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

/// Read what the revert of `sha` needs from GitHub and plan it against
/// `head` (trunk's head now).
pub async fn gather(client: &Client, sha: &str, head: &str) -> Result<RevertChanges, GithubError> {
    let detail = client.commit_detail(sha).await?;
    let parent = match detail.parents.as_slice() {
        [one] => one.clone(),
        [] => return Ok(RevertChanges::Fallback("the suspect has no parent".into())),
        _ => {
            return Ok(RevertChanges::Fallback(
                "the suspect is a merge commit; a revert needs a person".into(),
            ));
        }
    };
    if detail.files.len() > MAX_FILES {
        return Ok(RevertChanges::Fallback(format!(
            "the suspect touches {} files (more than {MAX_FILES})",
            detail.files.len()
        )));
    }
    let mut files = Vec::new();
    for path in touched_paths(&detail) {
        let read = |r: String| {
            let path = path.clone();
            async move { client.file_text(&path, &r).await }
        };
        let versions = (
            read(parent.clone()).await,
            read(sha.to_string()).await,
            read(head.to_string()).await,
        );
        match versions {
            (Ok(p), Ok(s), Ok(h)) => files.push(FileVersions {
                path,
                parent: p,
                suspect: s,
                head: h,
            }),
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
                // Binary or too large for the contents API, most likely.
                if matches!(e, GithubError::Decode { .. }) || e.status() == Some(403) {
                    return Ok(RevertChanges::Fallback(format!(
                        "{} cannot be restored through the API ({e})",
                        code(&path)
                    )));
                }
                return Err(e);
            }
        }
    }
    Ok(changes(&files))
}

/// The revert commit's message.
pub fn message(suspect: &Commit, reason: &str) -> String {
    format!(
        "Revert \"{}\"\n\nThis reverts commit {}.\n\nci-medic autorevert: {}\n",
        suspect.title(),
        suspect.sha,
        reason.lines().next().unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(
        path: &str,
        parent: Option<&str>,
        suspect: Option<&str>,
        head: Option<&str>,
    ) -> FileVersions {
        FileVersions {
            path: path.into(),
            parent: parent.map(str::to_string),
            suspect: suspect.map(str::to_string),
            head: head.map(str::to_string),
        }
    }

    #[test]
    fn restores_the_parent_versions() {
        let files = [
            v("mod.rs", Some("old"), Some("new"), Some("new")),
            v("added.rs", None, Some("x"), Some("x")),
            v("removed.rs", Some("gone"), None, None),
            v("same.rs", Some("s"), Some("s"), Some("s")),
        ];
        assert_eq!(
            changes(&files),
            RevertChanges::Changes(vec![
                FileChange {
                    path: "mod.rs".into(),
                    content: Some("old".into())
                },
                FileChange {
                    path: "added.rs".into(),
                    content: None
                },
                FileChange {
                    path: "removed.rs".into(),
                    content: Some("gone".into())
                },
            ])
        );
    }

    #[test]
    fn a_file_changed_since_falls_back() {
        let files = [
            v("a.rs", Some("old"), Some("new"), Some("new")),
            v("b.rs", Some("old"), Some("new"), Some("newer")),
        ];
        assert!(matches!(changes(&files), RevertChanges::Fallback(r) if r.contains("b.rs")));
        let deleted_since = [v("c.rs", None, Some("x"), None)];
        assert!(matches!(
            changes(&deleted_since),
            RevertChanges::Fallback(_)
        ));
        assert!(matches!(changes(&[]), RevertChanges::Fallback(_)));
    }

    #[test]
    fn a_path_in_the_reason_is_a_code_span_it_cannot_end() {
        // Git allows backticks and newlines in file names.
        let files = [v("a`b\n# @team", Some("old"), Some("new"), Some("newer"))];
        assert_eq!(
            changes(&files),
            RevertChanges::Fallback(
                "`a'b # @team` changed after the suspect; a revert needs a person".into()
            )
        );
    }

    #[test]
    fn renames_touch_both_names() {
        let detail = CommitDetail {
            sha: "s".into(),
            parents: vec!["p".into()],
            message: "m".into(),
            files: vec![crate::github::types::ChangedFile {
                filename: "new.rs".into(),
                status: "renamed".into(),
                previous_filename: Some("old.rs".into()),
            }],
        };
        assert_eq!(touched_paths(&detail), ["new.rs", "old.rs"]);
    }

    #[test]
    fn message_names_the_commit() {
        let c = Commit {
            sha: "abc".into(),
            time: chrono::Utc::now(),
            message: "Add x (#1)\n\nbody".into(),
        };
        let m = message(&c, "confirmed\nmore");
        assert!(m.starts_with("Revert \"Add x (#1)\"\n\nThis reverts commit abc."));
        assert!(m.contains("autorevert: confirmed\n"));
    }
}
