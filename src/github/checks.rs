//! Check runs (one per name and head SHA, created once and then updated in
//! place) and the merge base of two commits (the compare endpoint).

use http::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::api::encode_segment;
use super::{BoxedCheck, Client, GithubError, Repeat, decode};
use crate::event::{Conclusion, Status};

/// GitHub's limit on a check run's `output.summary` and `output.text`, in
/// characters (REST docs, "Create a check run": "Maximum length: 65535
/// characters").
pub const CHECK_OUTPUT_LIMIT: usize = 65_535;

/// Check runs of one name read for a commit when looking for ours.
const MAX_CHECK_RUNS_SCANNED: usize = 100;

/// A check run as ci-medic wants it to be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRunSpec {
    pub name: String,
    pub head_sha: String,
    /// `queued`, `in_progress` or `completed`.
    pub status: Status,
    /// With `completed`: `success`, `failure`, `neutral`, `action_required`...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conclusion: Option<Conclusion>,
    pub title: String,
    /// Markdown, cut to [`CHECK_OUTPUT_LIMIT`] characters when sent.
    pub summary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

/// The app a check run belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppInfo {
    #[serde(default)]
    pub slug: Option<String>,
}

/// A check run's output, as read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckOutput {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
}

/// The fields of a check run that ci-medic reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRunInfo {
    pub id: u64,
    pub name: String,
    pub head_sha: String,
    pub status: Status,
    #[serde(default)]
    pub conclusion: Option<Conclusion>,
    #[serde(default)]
    pub output: CheckOutput,
    #[serde(default)]
    pub app: Option<AppInfo>,
    #[serde(default)]
    pub details_url: Option<String>,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
}

impl CheckRunInfo {
    /// Does this check run already say what `spec` says?
    pub fn matches(&self, spec: &CheckRunSpec) -> bool {
        let summary = cut(&spec.summary);
        self.name == spec.name
            && self.status == spec.status
            && self.conclusion == spec.conclusion
            && self.output.title.as_deref() == Some(spec.title.as_str())
            && self.output.summary.as_deref() == Some(summary.as_str())
            && (spec.details_url.is_none() || self.details_url == spec.details_url)
            && (spec.external_id.is_none() || self.external_id == spec.external_id)
    }
}

/// What [`Client::upsert_check_run`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    Created(u64),
    Updated(u64),
    /// Ours already said the same: nothing written.
    Unchanged(u64),
}

#[derive(Deserialize)]
struct Comparison {
    merge_base_commit: CommitSha,
}

#[derive(Deserialize)]
struct CommitSha {
    sha: String,
}

/// The body of a create or update of `spec` (without `head_sha`).
fn check_body(spec: &CheckRunSpec) -> serde_json::Value {
    let mut body = json!({
        "name": spec.name,
        "status": spec.status,
        "output": {"title": spec.title, "summary": cut(&spec.summary)},
    });
    if let Some(c) = &spec.conclusion {
        body["conclusion"] = json!(c);
    }
    if let Some(u) = &spec.details_url {
        body["details_url"] = json!(u);
    }
    if let Some(x) = &spec.external_id {
        body["external_id"] = json!(x);
    }
    body
}

/// `text` within [`CHECK_OUTPUT_LIMIT`] characters.
fn cut(text: &str) -> String {
    if text.chars().count() <= CHECK_OUTPUT_LIMIT {
        return text.to_string();
    }
    const TAIL: &str = "\n\n… (cut to GitHub's limit)";
    let keep = CHECK_OUTPUT_LIMIT - TAIL.chars().count();
    text.chars().take(keep).collect::<String>() + TAIL
}

impl Client {
    /// The check runs named `name` on commit `sha` (the latest of each app).
    pub async fn check_runs_named(
        &self,
        sha: &str,
        name: &str,
    ) -> Result<Vec<CheckRunInfo>, GithubError> {
        let path = self.repo_path(&format!(
            "/commits/{}/check-runs?check_name={}&filter=latest",
            encode_segment(sha, false),
            encode_segment(name, false)
        ));
        self.get_all(&path, Some("check_runs"), MAX_CHECK_RUNS_SCANNED)
            .await
    }

    /// Every check run on commit `sha` (the latest of each name and app),
    /// up to 100: what branch protection and the merge command look at.
    pub async fn check_runs_of(&self, sha: &str) -> Result<Vec<CheckRunInfo>, GithubError> {
        let path = self.repo_path(&format!(
            "/commits/{}/check-runs?filter=latest",
            encode_segment(sha, false)
        ));
        self.get_all(&path, Some("check_runs"), MAX_CHECK_RUNS_SCANNED)
            .await
    }

    /// Whether a check run is ours: created by the app behind one of the
    /// action's logins (`github-actions[bot]` is the `github-actions` app).
    pub fn is_own_check_run(&self, run: &CheckRunInfo) -> bool {
        let Some(slug) = run.app.as_ref().and_then(|a| a.slug.as_deref()) else {
            return false;
        };
        self.identity().logins().iter().any(|l| {
            l.strip_suffix("[bot]")
                .is_some_and(|s| s.eq_ignore_ascii_case(slug))
        })
    }

    /// Our check run named `name` on `sha`, if there is one.
    pub async fn own_check_run(
        &self,
        sha: &str,
        name: &str,
    ) -> Result<Option<CheckRunInfo>, GithubError> {
        Ok(self
            .check_runs_named(sha, name)
            .await?
            .into_iter()
            .find(|r| r.name == name && self.is_own_check_run(r)))
    }

    /// Create the check run `spec` names, or update ours of that name on that
    /// commit; nothing is written when it already says the same. Another
    /// app's check run of the same name is left alone (GitHub lets only the
    /// creator change it).
    pub async fn upsert_check_run(&self, spec: &CheckRunSpec) -> Result<Upserted, GithubError> {
        let mut body = check_body(spec);
        if let Some(existing) = self.own_check_run(&spec.head_sha, &spec.name).await? {
            if existing.matches(spec) {
                return Ok(Upserted::Unchanged(existing.id));
            }
            return self.put_check_run(spec, Some(existing.id)).await;
        }
        body["head_sha"] = json!(spec.head_sha);
        let check = || -> BoxedCheck<'_> {
            Box::pin(async move {
                let found = self.own_check_run(&spec.head_sha, &spec.name).await?;
                Ok(found.and_then(|r| serde_json::to_value(r).ok()))
            })
        };
        let path = self.repo_path("/check-runs");
        let reply = self
            .request(Method::POST, &path, Some(&body), Repeat::Check(&check))
            .await?;
        let made: CheckRunInfo = decode(&Method::POST, &path, &reply.body)?;
        Ok(Upserted::Created(made.id))
    }

    /// Update our check run `existing`, or create the check run when there
    /// is none: for callers that already looked (no second lookup). A retry
    /// after a lost create still looks for it first.
    pub async fn put_check_run(
        &self,
        spec: &CheckRunSpec,
        existing: Option<u64>,
    ) -> Result<Upserted, GithubError> {
        let mut body = check_body(spec);
        if let Some(id) = existing {
            let path = self.repo_path(&format!("/check-runs/{id}"));
            self.request(Method::PATCH, &path, Some(&body), Repeat::Safe)
                .await?;
            return Ok(Upserted::Updated(id));
        }
        body["head_sha"] = json!(spec.head_sha);
        let check = || -> BoxedCheck<'_> {
            Box::pin(async move {
                let found = self.own_check_run(&spec.head_sha, &spec.name).await?;
                Ok(found.and_then(|r| serde_json::to_value(r).ok()))
            })
        };
        let path = self.repo_path("/check-runs");
        let reply = self
            .request(Method::POST, &path, Some(&body), Repeat::Check(&check))
            .await?;
        let made: CheckRunInfo = decode(&Method::POST, &path, &reply.body)?;
        Ok(Upserted::Created(made.id))
    }

    /// The merge base of `head` and `base` (a branch or a commit), from the
    /// compare endpoint: the commit a pull request's changes start from,
    /// which `base.sha` of the pull request is not once the base moved on.
    pub async fn merge_base(&self, base: &str, head: &str) -> Result<String, GithubError> {
        // One commit per page: only the merge base is read.
        let path = self.repo_path(&format!(
            "/compare/{}...{}?per_page=1",
            encode_segment(base, false),
            encode_segment(head, false)
        ));
        let c: Comparison = self.get_json(&path).await?;
        Ok(c.merge_base_commit.sha)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_summaries_are_cut_to_the_limit() {
        let long = "x".repeat(CHECK_OUTPUT_LIMIT + 10);
        let c = cut(&long);
        assert_eq!(c.chars().count(), CHECK_OUTPUT_LIMIT);
        assert!(c.ends_with("(cut to GitHub's limit)"));
        assert_eq!(cut("short"), "short");
    }
}
