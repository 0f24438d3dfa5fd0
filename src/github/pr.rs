//! What the pull-request automations read and write: changed files, the
//! repository's labels, comment deletion and check runs.

use http::Method;

use super::types::{ChangedFile, LabelInfo};
use super::{Client, GithubError, Repeat};

/// GitHub lists at most 3000 files of a pull request (REST docs, "List
/// pull requests files": "Responses include a maximum of 3000 files").
pub const MAX_PULL_FILES: usize = 3000;

/// Labels read from a repository, at most; a repository with more is not
/// one ci-medic's label rules were written for.
pub const MAX_REPO_LABELS: usize = 2000;

impl Client {
    /// The paths a pull request changes (a rename counts with both its old
    /// and new path), up to [`MAX_PULL_FILES`].
    pub async fn pull_files(&self, number: u64) -> Result<Vec<String>, GithubError> {
        let files: Vec<ChangedFile> = self
            .get_all(
                &self.repo_path(&format!("/pulls/{number}/files")),
                None,
                MAX_PULL_FILES,
            )
            .await?;
        let mut out = Vec::with_capacity(files.len());
        for f in files {
            if let Some(p) = f.previous_filename {
                out.push(p);
            }
            out.push(f.filename);
        }
        Ok(out)
    }

    /// The names of the repository's labels.
    pub async fn repo_labels(&self) -> Result<Vec<String>, GithubError> {
        let labels: Vec<LabelInfo> = self
            .get_all(&self.repo_path("/labels"), None, MAX_REPO_LABELS)
            .await?;
        Ok(labels.into_iter().map(|l| l.name).collect())
    }

    /// Delete an issue or pull-request comment; one already gone is fine.
    pub async fn delete_comment(&self, comment_id: u64) -> Result<(), GithubError> {
        match self
            .request(
                Method::DELETE,
                &self.repo_path(&format!("/issues/comments/{comment_id}")),
                None,
                Repeat::Safe,
            )
            .await
        {
            Err(e) if e.is_not_found() => Ok(()),
            other => other.map(drop),
        }
    }
}

impl Client {
    /// Cancel a workflow run; one that already finished (409) is left as
    /// it is.
    pub async fn cancel_run(&self, run_id: u64) -> Result<(), GithubError> {
        match self
            .request(
                Method::POST,
                &self.repo_path(&format!("/actions/runs/{run_id}/cancel")),
                None,
                Repeat::Safe,
            )
            .await
        {
            Err(e) if e.status() == Some(409) => Ok(()),
            other => other.map(drop),
        }
    }
}
