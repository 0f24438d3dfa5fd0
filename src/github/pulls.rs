//! The REST operations the comment commands use: a pull request's head and
//! reviews, reactions, merging a pinned head, bringing a branch up to date.

use http::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::api::encode_segment;
use super::types::{LabelInfo, UserInfo};
use super::{Client, GithubError, Repeat, decode};

/// One side of a pull request (`head` or `base`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullSide {
    #[serde(rename = "ref")]
    pub name: String,
    pub sha: String,
    /// `None` when the fork was deleted.
    #[serde(default)]
    pub repo: Option<PullRepo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullRepo {
    pub full_name: String,
}

/// A pull request with what the commands decide on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullDetail {
    pub number: u64,
    pub state: String,
    pub title: String,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub labels: Vec<LabelInfo>,
    #[serde(default)]
    pub user: Option<UserInfo>,
    pub head: PullSide,
    pub base: PullSide,
    #[serde(default)]
    pub draft: bool,
    #[serde(default)]
    pub merged: bool,
    #[serde(default)]
    pub merge_commit_sha: Option<String>,
    #[serde(default)]
    pub maintainer_can_modify: bool,
    #[serde(default)]
    pub html_url: String,
}

impl PullDetail {
    pub fn author(&self) -> &str {
        self.user.as_ref().map_or("", |u| u.login.as_str())
    }

    /// Whether the head branch lives in another repository (a fork).
    pub fn from_fork(&self, repo_full_name: &str) -> bool {
        self.head
            .repo
            .as_ref()
            .is_none_or(|r| !r.full_name.eq_ignore_ascii_case(repo_full_name))
    }
}

/// A review as `GET /pulls/{n}/reviews` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewInfo {
    pub id: u64,
    #[serde(default)]
    pub user: Option<UserInfo>,
    /// `APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, `DISMISSED`, `PENDING`.
    pub state: String,
    #[serde(default)]
    pub commit_id: Option<String>,
}

/// Reviews read per pull request, at most.
pub const MAX_REVIEWS: usize = 1000;

impl Client {
    /// A pull request with its head commit, fork and merge state.
    pub async fn pull_detail(&self, number: u64) -> Result<PullDetail, GithubError> {
        self.get_json(&self.repo_path(&format!("/pulls/{number}")))
            .await
    }

    /// The reviews of a pull request, oldest first.
    pub async fn reviews(&self, number: u64) -> Result<Vec<ReviewInfo>, GithubError> {
        self.get_all(
            &self.repo_path(&format!("/pulls/{number}/reviews")),
            None,
            MAX_REVIEWS,
        )
        .await
    }

    /// Dismiss a review with `message`. `false` when GitHub refuses because
    /// the review no longer approves or requests changes (422): dismissed
    /// already, which a repeated delivery finds.
    pub async fn dismiss_review(
        &self,
        number: u64,
        review_id: u64,
        message: &str,
    ) -> Result<bool, GithubError> {
        let path = self.repo_path(&format!("/pulls/{number}/reviews/{review_id}/dismissals"));
        match self
            .request(
                Method::PUT,
                &path,
                Some(&json!({"message": message, "event": "DISMISS"})),
                // Dismissing twice is refused, not doubled.
                Repeat::Safe,
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.status() == Some(422) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Open pull requests with `label` (their issue halves).
    pub async fn open_pulls_with_label(
        &self,
        label: &str,
    ) -> Result<Vec<super::types::IssueInfo>, GithubError> {
        let issues: Vec<super::types::IssueInfo> = self
            .get_all(
                &self.repo_path(&format!(
                    "/issues?state=open&labels={}",
                    encode_segment(label, false)
                )),
                None,
                super::api::MAX_ISSUES_SCANNED,
            )
            .await?;
        Ok(issues
            .into_iter()
            .filter(|i| i.pull_request.is_some())
            .collect())
    }

    /// Whether the repository has the label (names ignore case).
    pub async fn label_exists(&self, name: &str) -> Result<bool, GithubError> {
        let path = self.repo_path(&format!("/labels/{}", encode_segment(name, false)));
        Ok(self.get_optional::<Value>(&path).await?.is_some())
    }

    /// React to an issue comment. GitHub keeps one reaction per person and
    /// content, so a repeat is harmless.
    pub async fn react_to_comment(
        &self,
        comment_id: u64,
        content: &str,
    ) -> Result<(), GithubError> {
        self.request(
            Method::POST,
            &self.repo_path(&format!("/issues/comments/{comment_id}/reactions")),
            Some(&json!({"content": content})),
            Repeat::Safe,
        )
        .await
        .map(drop)
    }

    /// Merge the pull request if its head is still `sha`. GitHub answers 409
    /// when the head moved and 405 when the merge is not allowed (branch
    /// protection, conflicts); both come back as errors with GitHub's
    /// message. A merge that landed cannot land twice (the second answer is
    /// 405), so a repeat after a lost answer is safe.
    pub async fn merge_pull(
        &self,
        number: u64,
        sha: &str,
        method: &str,
        title: &str,
        message: &str,
    ) -> Result<String, GithubError> {
        let path = self.repo_path(&format!("/pulls/{number}/merge"));
        let body = json!({
            "sha": sha,
            "merge_method": method,
            "commit_title": title,
            "commit_message": message,
        });
        let reply = self
            .request(Method::PUT, &path, Some(&body), Repeat::Safe)
            .await?;
        let v: Value = decode(&Method::PUT, &path, &reply.body)?;
        Ok(v.get("sha")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string())
    }

    /// Merge the base into the head branch, if the head is still
    /// `expected_head_sha` (GitHub answers 422 otherwise).
    pub async fn update_branch(
        &self,
        number: u64,
        expected_head_sha: &str,
    ) -> Result<(), GithubError> {
        self.request(
            Method::PUT,
            &self.repo_path(&format!("/pulls/{number}/update-branch")),
            Some(&json!({"expected_head_sha": expected_head_sha})),
            Repeat::Safe,
        )
        .await
        .map(drop)
    }
}
