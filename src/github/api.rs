//! The REST operations ci-medic uses, each one small and named after what it
//! does. Writes that GitHub does not make idempotent carry a landed-check.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use http::Method;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

use super::marker::has_marker;
use super::types::{CommentInfo, IssueInfo, JobInfo, PermissionInfo, RepoInfo, RunInfo};
use super::{BoxedCheck, Client, GithubError, Repeat, decode};
use crate::permissions::Access;

/// Open issues scanned when looking for a marker; a repository with more open
/// workflow-failure issues than this has bigger problems than a duplicate.
pub const MAX_ISSUES_SCANNED: usize = 1000;

/// Characters kept as they are in a path segment: RFC 3986's unreserved set.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The same, keeping `/` (file paths, refs).
const SEGMENTS: &AsciiSet = &SEGMENT.remove(b'/');

/// Comments read when looking for one ci-medic wrote (all pages, up to this).
pub const MAX_COMMENTS_SCANNED: usize = 5000;

/// Percent-encode one path segment (label names, refs, file paths keep `/`).
pub fn encode_segment(s: &str, keep_slash: bool) -> String {
    let set = if keep_slash { SEGMENTS } else { SEGMENT };
    utf8_percent_encode(s, set).to_string()
}

impl Client {
    pub async fn repo_info(&self) -> Result<RepoInfo, GithubError> {
        self.get_json(&self.repo_path("")).await
    }

    /// The default branch; config loading, retry, heal and autorevert all
    /// need it, and it is read from the API only once.
    pub async fn default_branch(&self) -> Result<String, GithubError> {
        self.default_branch
            .get_or_try_init(|| async { Ok(self.repo_info().await?.default_branch) })
            .await
            .cloned()
    }

    /// A file's text at `git_ref`, `None` when absent.
    pub async fn file_text(
        &self,
        path: &str,
        git_ref: &str,
    ) -> Result<Option<String>, GithubError> {
        let p = self.repo_path(&format!(
            "/contents/{}?ref={}",
            encode_segment(path, true),
            encode_segment(git_ref, false)
        ));
        let Some(v) = self.get_optional::<Value>(&p).await? else {
            return Ok(None);
        };
        let decode_err = |m: &str| GithubError::Decode {
            method: "GET".into(),
            path: p.clone(),
            message: m.to_string(),
        };
        let content = v
            .get("content")
            .and_then(Value::as_str)
            .ok_or_else(|| decode_err("no `content`: not a file"))?;
        let bytes = base64_decode(content).ok_or_else(|| decode_err("content is not base64"))?;
        String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| decode_err("file is not UTF-8"))
    }

    pub async fn run(&self, run_id: u64) -> Result<RunInfo, GithubError> {
        self.get_json(&self.repo_path(&format!("/actions/runs/{run_id}")))
            .await
    }

    /// The jobs of one attempt of a run.
    pub async fn run_jobs(&self, run_id: u64, attempt: u64) -> Result<Vec<JobInfo>, GithubError> {
        self.get_all(
            &self.repo_path(&format!("/actions/runs/{run_id}/attempts/{attempt}/jobs")),
            Some("jobs"),
            2000,
        )
        .await
    }

    /// Runs of the repository, filtered by a query such as
    /// `branch=main&event=push&status=completed` or `head_sha=...`.
    pub async fn runs(&self, query: &str, max: usize) -> Result<Vec<RunInfo>, GithubError> {
        self.get_all(
            &self.repo_path(&format!("/actions/runs?{query}")),
            Some("workflow_runs"),
            max,
        )
        .await
    }

    /// Runs of one workflow (id or file name), filtered by `query`.
    pub async fn workflow_runs(
        &self,
        workflow: &str,
        query: &str,
        max: usize,
    ) -> Result<Vec<RunInfo>, GithubError> {
        self.get_all(
            &self.repo_path(&format!(
                "/actions/workflows/{}/runs?{query}",
                encode_segment(workflow, false)
            )),
            Some("workflow_runs"),
            max,
        )
        .await
    }

    pub async fn rerun_job(&self, job_id: u64) -> Result<(), GithubError> {
        // A rerun of a job already queued is refused by GitHub, so repeating
        // after a server failure cannot start it twice.
        self.request(
            Method::POST,
            &self.repo_path(&format!("/actions/jobs/{job_id}/rerun")),
            Some(&json!({})),
            Repeat::Safe,
        )
        .await
        .map(drop)
    }

    pub async fn rerun_failed_jobs(&self, run_id: u64) -> Result<(), GithubError> {
        self.request(
            Method::POST,
            &self.repo_path(&format!("/actions/runs/{run_id}/rerun-failed-jobs")),
            Some(&json!({})),
            Repeat::Safe,
        )
        .await
        .map(drop)
    }

    /// Open issues with `label`, pull requests left out.
    pub async fn open_issues_with_label(&self, label: &str) -> Result<Vec<IssueInfo>, GithubError> {
        let issues: Vec<IssueInfo> = self
            .get_all(
                &self.repo_path(&format!(
                    "/issues?state=open&labels={}",
                    encode_segment(label, false)
                )),
                None,
                MAX_ISSUES_SCANNED,
            )
            .await?;
        Ok(issues
            .into_iter()
            .filter(|i| i.pull_request.is_none())
            .collect())
    }

    /// Open issues with `label` that ci-medic filed (authored by its
    /// [`Identity`](super::Identity)): the only ones whose markers and
    /// analysis blocks are its own.
    pub async fn own_issues_with_label(&self, label: &str) -> Result<Vec<IssueInfo>, GithubError> {
        Ok(self
            .open_issues_with_label(label)
            .await?
            .into_iter()
            .filter(|i| self.identity.is_ours(&i.user.login))
            .collect())
    }

    /// The open issue with `label` that ci-medic filed with this marker.
    pub async fn find_issue_by_marker(
        &self,
        label: &str,
        kind: &str,
        key: &str,
    ) -> Result<Option<IssueInfo>, GithubError> {
        Ok(self
            .own_issues_with_label(label)
            .await?
            .into_iter()
            .find(|i| i.body.as_deref().is_some_and(|b| has_marker(b, kind, key))))
    }

    pub async fn issue(&self, number: u64) -> Result<IssueInfo, GithubError> {
        self.get_json(&self.repo_path(&format!("/issues/{number}")))
            .await
    }

    /// Create an issue whose body carries marker (`kind`, `key`) and which has
    /// `labels[0]`. A retry after a server failure first looks for it.
    pub async fn create_issue(
        &self,
        title: &str,
        body: &str,
        labels: &[String],
        marker: (&str, &str),
    ) -> Result<IssueInfo, GithubError> {
        let payload = json!({"title": title, "body": body, "labels": labels});
        let label = labels.first().cloned().unwrap_or_default();
        let check = || -> BoxedCheck<'_> {
            let label = label.clone();
            Box::pin(async move {
                let found = self
                    .find_issue_by_marker(&label, marker.0, marker.1)
                    .await?;
                Ok(found.and_then(|i| serde_json::to_value(i).ok()))
            })
        };
        let path = self.repo_path("/issues");
        let reply = self
            .request(Method::POST, &path, Some(&payload), Repeat::Check(&check))
            .await?;
        decode(&Method::POST, &path, &reply.body)
    }

    /// Change an issue's title, body or state (`None` leaves it).
    pub async fn update_issue(
        &self,
        number: u64,
        title: Option<&str>,
        body: Option<&str>,
        state: Option<&str>,
    ) -> Result<IssueInfo, GithubError> {
        let mut payload = serde_json::Map::new();
        if let Some(t) = title {
            payload.insert("title".into(), json!(t));
        }
        if let Some(b) = body {
            payload.insert("body".into(), json!(b));
        }
        if let Some(s) = state {
            payload.insert("state".into(), json!(s));
            if s == "closed" {
                payload.insert("state_reason".into(), json!("completed"));
            }
        }
        let path = self.repo_path(&format!("/issues/{number}"));
        let reply = self
            .request(
                Method::PATCH,
                &path,
                Some(&Value::Object(payload)),
                Repeat::Safe,
            )
            .await?;
        decode(&Method::PATCH, &path, &reply.body)
    }

    /// The comments of an issue or pull request, oldest first, every page.
    pub async fn comments(&self, number: u64) -> Result<Vec<CommentInfo>, GithubError> {
        self.get_all(
            &self.repo_path(&format!("/issues/{number}/comments")),
            None,
            MAX_COMMENTS_SCANNED,
        )
        .await
    }

    /// Comment on an issue or PR. When `marker` is given, the comment
    /// ci-medic wrote with it is updated instead, and a retry looks for it
    /// first. Only comments by the action's identity count: another user's
    /// comment that quotes the marker is neither edited nor mistaken for ours.
    pub async fn upsert_comment(
        &self,
        number: u64,
        body: &str,
        marker: Option<(&str, &str)>,
    ) -> Result<CommentInfo, GithubError> {
        let find = || async move {
            let Some((kind, key)) = marker else {
                return Ok(None);
            };
            Ok::<_, GithubError>(self.comments(number).await?.into_iter().find(|c| {
                self.identity.is_ours(&c.user.login)
                    && c.body.as_deref().is_some_and(|b| has_marker(b, kind, key))
            }))
        };
        if let Some(existing) = find().await? {
            if existing.body.as_deref() == Some(body) {
                return Ok(existing);
            }
            return self.edit_comment(existing.id, body).await;
        }
        let check = || -> BoxedCheck<'_> {
            Box::pin(async move { Ok(find().await?.and_then(|c| serde_json::to_value(c).ok())) })
        };
        let repeat = if marker.is_some() {
            Repeat::Check(&check)
        } else {
            Repeat::Never
        };
        let path = self.repo_path(&format!("/issues/{number}/comments"));
        let reply = self
            .request(Method::POST, &path, Some(&json!({"body": body})), repeat)
            .await?;
        decode(&Method::POST, &path, &reply.body)
    }

    /// Make sure a label exists (labels must exist before GitHub shows a colour).
    pub async fn ensure_label(
        &self,
        name: &str,
        color: &str,
        description: &str,
    ) -> Result<(), GithubError> {
        let path = self.repo_path(&format!("/labels/{}", encode_segment(name, false)));
        if self.get_optional::<Value>(&path).await?.is_some() {
            return Ok(());
        }
        let payload = json!({"name": name, "color": color, "description": description});
        match self
            .request(
                Method::POST,
                &self.repo_path("/labels"),
                Some(&payload),
                Repeat::Safe,
            )
            .await
        {
            Ok(_) => Ok(()),
            // Created meanwhile (or by the first of two tries): fine.
            Err(e) if e.status() == Some(422) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub async fn add_labels(&self, number: u64, labels: &[String]) -> Result<(), GithubError> {
        self.request(
            Method::POST,
            &self.repo_path(&format!("/issues/{number}/labels")),
            Some(&json!({"labels": labels})),
            // Adding a label twice leaves one label.
            Repeat::Safe,
        )
        .await
        .map(drop)
    }

    pub async fn remove_label(&self, number: u64, label: &str) -> Result<(), GithubError> {
        match self
            .request(
                Method::DELETE,
                &self.repo_path(&format!(
                    "/issues/{number}/labels/{}",
                    encode_segment(label, false)
                )),
                None,
                Repeat::Safe,
            )
            .await
        {
            Err(e) if e.is_not_found() => Ok(()),
            other => other.map(drop),
        }
    }

    /// A user's permission on the repository.
    pub async fn permission(&self, user: &str) -> Result<Access, GithubError> {
        let path = self.repo_path(&format!(
            "/collaborators/{}/permission",
            encode_segment(user, false)
        ));
        match self.get_json::<PermissionInfo>(&path).await {
            Ok(info) => Ok(Access::from_info(&info)),
            // Not a collaborator.
            Err(e) if e.is_not_found() => Ok(Access::None),
            Err(e) => Err(e),
        }
    }

    /// Start a `workflow_dispatch` run. Not idempotent and GitHub returns no
    /// id, so it is never repeated after a server failure.
    pub async fn dispatch_workflow(
        &self,
        workflow: &str,
        git_ref: &str,
        inputs: &serde_json::Map<String, Value>,
    ) -> Result<(), GithubError> {
        let mut payload = json!({"ref": git_ref});
        if !inputs.is_empty() {
            payload["inputs"] = Value::Object(inputs.clone());
        }
        self.request(
            Method::POST,
            &self.repo_path(&format!(
                "/actions/workflows/{}/dispatches",
                encode_segment(workflow, false)
            )),
            Some(&payload),
            Repeat::Never,
        )
        .await
        .map(drop)
    }

    /// Replace the body of comment `id` (repeating it is harmless).
    async fn edit_comment(&self, id: u64, body: &str) -> Result<CommentInfo, GithubError> {
        let path = self.repo_path(&format!("/issues/comments/{id}"));
        let reply = self
            .request(
                Method::PATCH,
                &path,
                Some(&json!({"body": body})),
                Repeat::Safe,
            )
            .await?;
        decode(&Method::PATCH, &path, &reply.body)
    }

    /// [`Client::upsert_comment`] for a caller that already found ours:
    /// edit comment `existing`, or create one carrying `marker` when it is
    /// `None` (a retry after a server failure looks for it first).
    pub async fn put_comment(
        &self,
        number: u64,
        existing: Option<u64>,
        body: &str,
        marker: (&str, &str),
    ) -> Result<CommentInfo, GithubError> {
        if let Some(id) = existing {
            return self.edit_comment(id, body).await;
        }
        let (kind, key) = marker;
        let check = || -> BoxedCheck<'_> {
            Box::pin(async move {
                let found = self.comments(number).await?.into_iter().find(|c| {
                    self.identity.is_ours(&c.user.login)
                        && c.body.as_deref().is_some_and(|b| has_marker(b, kind, key))
                });
                Ok(found.and_then(|c| serde_json::to_value(c).ok()))
            })
        };
        let path = self.repo_path(&format!("/issues/{number}/comments"));
        let reply = self
            .request(
                Method::POST,
                &path,
                Some(&json!({"body": body})),
                Repeat::Check(&check),
            )
            .await?;
        decode(&Method::POST, &path, &reply.body)
    }
}

/// Standard base64 with line breaks, as the contents API sends it.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    // The contents API wraps its base64 at 60 columns; padding is accepted
    // with or without.
    const CONTENTS: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let compact: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    CONTENTS.decode(compact).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip() {
        use base64::engine::general_purpose::STANDARD;
        for s in ["", "a", "ab", "abc", "on:\n  push:\n# comment ✓\n"] {
            let enc = STANDARD.encode(s.as_bytes());
            assert_eq!(base64_decode(&enc).as_deref(), Some(s.as_bytes()));
        }
        assert_eq!(base64_decode("b24K\nYQ==").as_deref(), Some(&b"on\na"[..]));
        assert_eq!(base64_decode("b24K\r\nYQ").as_deref(), Some(&b"on\na"[..]));
        assert_eq!(base64_decode("b24K*YQ=="), None);
    }

    #[test]
    fn segments_are_encoded() {
        assert_eq!(encode_segment("ci-medic:test", false), "ci-medic%3Atest");
        assert_eq!(encode_segment("a b/c", true), "a%20b/c");
        assert_eq!(encode_segment("a b/c", false), "a%20b%2Fc");
        assert_eq!(encode_segment("Az09-_.~", false), "Az09-_.~");
        assert_eq!(encode_segment("é+?#%", false), "%C3%A9%2B%3F%23%25");
    }
}
