//! Refs, commits and trees through the git data API, and pull requests.
//!
//! Commits are made through the API (blob, tree, commit, ref) rather than by
//! pushing: GitHub signs commits it creates for the Actions token, so they
//! show as verified, and no checkout is needed.

use http::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::api::encode_segment;
use super::types::{
    ChangedFile, CommitDetail, CommitSummary, IssueEvent, LabelInfo, PullInfo, UserInfo,
};
use super::{Client, GithubError, Repeat, decode};

/// A file to write in a commit; `content: None` deletes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileChange {
    pub path: String,
    pub content: Option<String>,
}

#[derive(Deserialize)]
struct RefObject {
    object: RefTarget,
}

#[derive(Deserialize)]
struct RefTarget {
    sha: String,
}

#[derive(Deserialize)]
struct GitCommit {
    sha: String,
    tree: GitTree,
}

#[derive(Deserialize)]
struct GitTree {
    sha: String,
}

#[derive(Deserialize)]
struct Sha {
    sha: String,
}

#[derive(Deserialize)]
struct RawCommit {
    sha: String,
    commit: RawCommitInner,
    #[serde(default)]
    parents: Vec<Sha>,
    #[serde(default)]
    files: Vec<ChangedFile>,
}

#[derive(Deserialize)]
struct RawCommitInner {
    message: String,
    #[serde(default)]
    committer: Option<RawSignature>,
}

#[derive(Deserialize)]
struct RawSignature {
    #[serde(default)]
    date: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Deserialize)]
struct RawPull {
    number: u64,
    state: String,
    title: String,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    labels: Vec<LabelInfo>,
    head: RawBranch,
    base: RawBranch,
    #[serde(default)]
    merged: Option<bool>,
    #[serde(default)]
    merged_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    html_url: String,
    #[serde(default)]
    user: Option<UserInfo>,
}

#[derive(Deserialize)]
struct RawBranch {
    #[serde(rename = "ref")]
    name: String,
    #[serde(default)]
    sha: String,
}

impl From<RawPull> for PullInfo {
    fn from(p: RawPull) -> PullInfo {
        PullInfo {
            number: p.number,
            state: p.state,
            title: p.title,
            body: p.body,
            labels: p.labels,
            head_ref: p.head.name,
            base_ref: p.base.name,
            head_sha: p.head.sha,
            merged: p.merged.unwrap_or(false) || p.merged_at.is_some(),
            html_url: p.html_url,
            user: p.user,
        }
    }
}

impl From<RawCommit> for CommitSummary {
    fn from(c: RawCommit) -> CommitSummary {
        CommitSummary {
            sha: c.sha,
            message: c.commit.message,
            date: c.commit.committer.and_then(|s| s.date),
            parents: c.parents.into_iter().map(|p| p.sha).collect(),
        }
    }
}

impl Client {
    /// The commit a ref (`heads/main`, `tags/trunk/abc`) points at, if it exists.
    pub async fn get_ref(&self, git_ref: &str) -> Result<Option<String>, GithubError> {
        let r = git_ref.trim_start_matches("refs/");
        let path = self.repo_path(&format!("/git/ref/{}", encode_segment(r, true)));
        Ok(self
            .get_optional::<RefObject>(&path)
            .await?
            .map(|o| o.object.sha))
    }

    pub async fn branch_sha(&self, branch: &str) -> Result<Option<String>, GithubError> {
        self.get_ref(&format!("heads/{branch}")).await
    }

    /// Create `refs/...` at `sha`; an existing ref is left as it is and reported.
    pub async fn create_ref(&self, git_ref: &str, sha: &str) -> Result<bool, GithubError> {
        let full = if git_ref.starts_with("refs/") {
            git_ref.to_string()
        } else {
            format!("refs/{git_ref}")
        };
        match self
            .request(
                Method::POST,
                &self.repo_path("/git/refs"),
                Some(&json!({"ref": full, "sha": sha})),
                // A second try after a lost first one answers 422 "exists".
                Repeat::Safe,
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.status() == Some(422) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Point an existing ref at `sha`.
    pub async fn update_ref(
        &self,
        git_ref: &str,
        sha: &str,
        force: bool,
    ) -> Result<(), GithubError> {
        let r = git_ref.trim_start_matches("refs/");
        self.request(
            Method::PATCH,
            &self.repo_path(&format!("/git/refs/{}", encode_segment(r, true))),
            Some(&json!({"sha": sha, "force": force})),
            Repeat::Safe,
        )
        .await
        .map(drop)
    }

    /// Delete a ref (`tags/ciflow/x/1`); `false` when it was already gone.
    pub async fn delete_ref(&self, git_ref: &str) -> Result<bool, GithubError> {
        let r = git_ref.trim_start_matches("refs/");
        match self
            .request(
                Method::DELETE,
                &self.repo_path(&format!("/git/refs/{}", encode_segment(r, true))),
                None,
                Repeat::Safe,
            )
            .await
        {
            Ok(_) => Ok(true),
            // GitHub answers 422 "Reference does not exist".
            Err(e) if matches!(e.status(), Some(404 | 422)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Commits of `branch`, newest first, since an RFC 3339 time.
    pub async fn list_commits(
        &self,
        branch: &str,
        since: Option<&str>,
        max: usize,
    ) -> Result<Vec<CommitSummary>, GithubError> {
        let mut q = format!("sha={}", encode_segment(branch, false));
        if let Some(s) = since {
            q.push_str(&format!("&since={}", encode_segment(s, false)));
        }
        let raw: Vec<RawCommit> = self
            .get_all(&self.repo_path(&format!("/commits?{q}")), None, max)
            .await?;
        Ok(raw.into_iter().map(CommitSummary::from).collect())
    }

    /// One commit with the files it changed.
    pub async fn commit_detail(&self, sha: &str) -> Result<CommitDetail, GithubError> {
        let c: RawCommit = self
            .get_json(&self.repo_path(&format!("/commits/{}", encode_segment(sha, false))))
            .await?;
        Ok(CommitDetail {
            sha: c.sha,
            parents: c.parents.into_iter().map(|p| p.sha).collect(),
            message: c.commit.message,
            files: c.files,
        })
    }

    /// The pull requests a commit belongs to.
    pub async fn commit_pulls(&self, sha: &str) -> Result<Vec<PullInfo>, GithubError> {
        let raw: Vec<RawPull> = self
            .get_all(
                &self.repo_path(&format!("/commits/{}/pulls", encode_segment(sha, false))),
                None,
                100,
            )
            .await?;
        Ok(raw.into_iter().map(PullInfo::from).collect())
    }

    /// Open pull requests whose head is `branch` of this repository.
    pub async fn pulls_from(&self, branch: &str) -> Result<Vec<PullInfo>, GithubError> {
        let head = format!("{}:{branch}", self.repo().owner);
        let raw: Vec<RawPull> = self
            .get_all(
                &self.repo_path(&format!(
                    "/pulls?state=open&head={}",
                    encode_segment(&head, false)
                )),
                None,
                100,
            )
            .await?;
        Ok(raw.into_iter().map(PullInfo::from).collect())
    }

    /// Open pull requests, most recently updated first, at most `max`.
    pub async fn open_pulls(&self, max: usize) -> Result<Vec<PullInfo>, GithubError> {
        let raw: Vec<RawPull> = self
            .get_all(
                &self.repo_path("/pulls?state=open&sort=updated&direction=desc"),
                None,
                max,
            )
            .await?;
        Ok(raw.into_iter().take(max).map(PullInfo::from).collect())
    }

    pub async fn pull(&self, number: u64) -> Result<PullInfo, GithubError> {
        let raw: RawPull = self
            .get_json(&self.repo_path(&format!("/pulls/{number}")))
            .await?;
        Ok(raw.into())
    }

    /// Open a pull request; a retry after a server failure looks for it first.
    /// Only a pull request this client's identity opened from `head` into
    /// `base` is taken for the first try's: anyone with push access can open
    /// one from the same branch, and it is not ours to report or update.
    pub async fn create_pull(
        &self,
        head: &str,
        base: &str,
        title: &str,
        body: &str,
    ) -> Result<PullInfo, GithubError> {
        let payload = json!({"head": head, "base": base, "title": title, "body": body});
        let check = || -> super::BoxedCheck<'_> {
            Box::pin(async move {
                let landed = self.pulls_from(head).await?.into_iter().find(|p| {
                    p.base_ref == base
                        && p.user
                            .as_ref()
                            .is_some_and(|u| self.identity().is_ours(&u.login))
                });
                Ok(landed.map(|p| {
                    json!({"number": p.number, "state": p.state, "title": p.title,
                        "body": p.body, "user": p.user,
                        "head": {"ref": p.head_ref}, "base": {"ref": p.base_ref}})
                }))
            })
        };
        let path = self.repo_path("/pulls");
        let reply = self
            .request(Method::POST, &path, Some(&payload), Repeat::Check(&check))
            .await?;
        let raw: RawPull = decode(&Method::POST, &path, &reply.body)?;
        Ok(raw.into())
    }

    pub async fn update_pull(
        &self,
        number: u64,
        title: &str,
        body: &str,
    ) -> Result<(), GithubError> {
        self.request(
            Method::PATCH,
            &self.repo_path(&format!("/pulls/{number}")),
            Some(&json!({"title": title, "body": body})),
            Repeat::Safe,
        )
        .await
        .map(drop)
    }

    /// The events of an issue (who added which label).
    pub async fn issue_events(&self, number: u64) -> Result<Vec<IssueEvent>, GithubError> {
        self.get_all(
            &self.repo_path(&format!("/issues/{number}/events")),
            None,
            1000,
        )
        .await
    }

    /// One commit on `base_sha` writing `changes`, and `refs/heads/<branch>`
    /// pointed at it (created, or moved when `force`). Returns the new commit.
    pub async fn commit_files(
        &self,
        branch: &str,
        base_sha: &str,
        message: &str,
        changes: &[FileChange],
        force: bool,
    ) -> Result<String, GithubError> {
        let base: GitCommit = self
            .get_json(&self.repo_path(&format!("/git/commits/{}", encode_segment(base_sha, false))))
            .await?;
        let mut entries = Vec::new();
        for c in changes {
            let sha = match &c.content {
                Some(text) => {
                    let reply = self
                        .request(
                            Method::POST,
                            &self.repo_path("/git/blobs"),
                            Some(&json!({"content": text, "encoding": "utf-8"})),
                            // Blobs are content-addressed: a repeat makes the same one.
                            Repeat::Safe,
                        )
                        .await?;
                    let blob: Sha = decode(&Method::POST, "/git/blobs", &reply.body)?;
                    Value::String(blob.sha)
                }
                None => Value::Null,
            };
            entries.push(json!({"path": c.path, "mode": "100644", "type": "blob", "sha": sha}));
        }
        let reply = self
            .request(
                Method::POST,
                &self.repo_path("/git/trees"),
                Some(&json!({"base_tree": base.tree.sha, "tree": entries})),
                Repeat::Safe,
            )
            .await?;
        let tree: Sha = decode(&Method::POST, "/git/trees", &reply.body)?;
        // Without author/committer GitHub signs the commit as the token's identity.
        let reply = self
            .request(
                Method::POST,
                &self.repo_path("/git/commits"),
                Some(&json!({"message": message, "tree": tree.sha, "parents": [base.sha]})),
                // A repeated commit is an unreferenced twin; only the ref matters.
                Repeat::Safe,
            )
            .await?;
        let commit: Sha = decode(&Method::POST, "/git/commits", &reply.body)?;
        let git_ref = format!("heads/{branch}");
        match self.get_ref(&git_ref).await? {
            Some(current) if current == commit.sha => {}
            Some(_) if force => self.update_ref(&git_ref, &commit.sha, true).await?,
            Some(_) => {
                return Err(GithubError::Status {
                    status: 409,
                    method: "PATCH".into(),
                    path: git_ref,
                    message: "the branch exists and force is off".into(),
                });
            }
            None => {
                self.create_ref(&format!("refs/heads/{branch}"), &commit.sha)
                    .await?;
            }
        }
        Ok(commit.sha)
    }
}
