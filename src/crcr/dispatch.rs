//! Upstream to downstream: a pull request's event, forwarded as a
//! `repository_dispatch` (event type [`EVENT_PULL_REQUEST`]) to every
//! allowlisted repository that should test it.

use http::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Digest as _;

use super::allowlist::{Allowlist, LABEL_PREFIX, Level};
use crate::github::api::encode_segment;
use crate::github::{Client, GithubError, Repeat};
use crate::plan::{Plan, Write};

/// The event type downstream workflows listen for.
pub const EVENT_PULL_REQUEST: &str = "crcr-pull-request";
/// The payload format; a downstream reader refuses another.
pub const PAYLOAD_VERSION: u32 = 1;
/// Labels forwarded, at most (GitHub allows 100 on an issue; a dispatch
/// payload should stay small).
const MAX_LABELS: usize = 50;

/// What a downstream repository is told about a pull request (under the key
/// `pull_request` of `client_payload`: GitHub allows at most ten top-level
/// keys there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequestPayload {
    pub upstream_repo: String,
    pub number: u64,
    pub head_sha: String,
    pub base_ref: String,
    pub labels: Vec<String>,
    /// Its level in the upstream allowlist.
    pub level: String,
    /// Names this dispatch: the same PR head sent to the same repository
    /// always has the same id.
    pub delivery_id: String,
}

/// The pull request a dispatch is about (from the event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequestFacts {
    pub upstream_repo: String,
    pub number: u64,
    pub head_sha: String,
    pub base_ref: String,
    pub labels: Vec<String>,
    pub action: String,
    /// The label a `labeled` action added.
    pub label: Option<String>,
}

/// Does this pull request action concern downstream CI? Opened, pushed to
/// and reopened PRs do; a `labeled` one only for a `ciflow/crcr/` label.
pub fn concerns(action: &str, label: Option<&str>) -> bool {
    match action {
        "opened" | "synchronize" | "reopened" => true,
        "labeled" => label.is_some_and(is_crcr_label),
        _ => false,
    }
}

fn is_crcr_label(label: &str) -> bool {
    label
        .get(..LABEL_PREFIX.len())
        .is_some_and(|h| h.eq_ignore_ascii_case(LABEL_PREFIX))
}

/// The id of one dispatch: a digest of where it goes and what it is about.
pub fn delivery_id(upstream: &str, number: u64, head_sha: &str, repo: &str) -> String {
    let text = format!(
        "{}#{number}@{head_sha}->{}",
        upstream.to_ascii_lowercase(),
        repo.to_ascii_lowercase()
    );
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The dispatches for a pull request: every level dispatches, except that
/// an L3 repository runs only on PRs carrying its `ciflow/crcr/<device>`
/// label, and a `labeled` action dispatches only to the repositories of the
/// label just added (the others already had the event when the PR opened).
pub fn decide(pr: &PullRequestFacts, list: &Allowlist) -> Plan {
    let mut plan = Plan::new("crcr-dispatch");
    let labels: Vec<String> = pr.labels.iter().take(MAX_LABELS).cloned().collect();
    for target in list.targets_for_pr(&pr.labels) {
        if target.level == Level::L3 && !target.on_pr {
            plan.note(format!(
                "{} (L3) runs only on PRs labelled {LABEL_PREFIX}{}",
                target.repo,
                target.device.unwrap_or_default()
            ));
            continue;
        }
        if pr.action == "labeled" {
            let added = pr.label.as_deref().unwrap_or_default();
            let device_label = target
                .device
                .map(|d| format!("{LABEL_PREFIX}{d}"))
                .unwrap_or_default();
            if !added.eq_ignore_ascii_case(&device_label) {
                continue;
            }
        }
        let payload = PullRequestPayload {
            upstream_repo: pr.upstream_repo.clone(),
            number: pr.number,
            head_sha: pr.head_sha.clone(),
            base_ref: pr.base_ref.clone(),
            labels: labels.clone(),
            level: target.level.to_string(),
            delivery_id: delivery_id(&pr.upstream_repo, pr.number, &pr.head_sha, target.repo),
        };
        let client_payload = serde_json::json!({
            "crcr": PAYLOAD_VERSION,
            "pull_request": payload,
        });
        plan.push_best_effort(
            Write::RepositoryDispatch {
                repo: target.repo.to_string(),
                event_type: EVENT_PULL_REQUEST.into(),
                client_payload,
            },
            format!(
                "{} is allowlisted at {}; PR #{} is at {}",
                target.repo,
                target.level,
                pr.number,
                short(&pr.head_sha)
            ),
        );
    }
    if plan.steps.is_empty() && plan.notes.is_empty() {
        plan.note("no allowlisted repository runs on this pull request");
    }
    plan
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// `POST /repos/{repo}/dispatches`. GitHub answers 204 and no id, so it is
/// never repeated after a server failure (a downstream run started twice is
/// worse than one the next push starts).
pub async fn send(
    client: &Client,
    repo: &str,
    event_type: &str,
    client_payload: &Value,
) -> Result<(), GithubError> {
    let (owner, name) = repo.split_once('/').unwrap_or((repo, ""));
    let path = format!(
        "/repos/{}/{}/dispatches",
        encode_segment(owner, false),
        encode_segment(name, false)
    );
    client
        .request(
            Method::POST,
            &path,
            Some(&serde_json::json!({
                "event_type": event_type,
                "client_payload": client_payload,
            })),
            Repeat::Never,
        )
        .await
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = "L1:\n  - org/one\nL2:\n  - org/two\nL3:\n  npu:\n    org/three: [alice]\nL4:\n  - org/four: bob\n";

    fn pr(action: &str, labels: &[&str], label: Option<&str>) -> PullRequestFacts {
        PullRequestFacts {
            upstream_repo: "up/stream".into(),
            number: 7,
            head_sha: "a".repeat(40),
            base_ref: "main".into(),
            labels: labels.iter().map(|s| s.to_string()).collect(),
            action: action.into(),
            label: label.map(str::to_string),
        }
    }

    fn targets(plan: &Plan) -> Vec<String> {
        plan.steps
            .iter()
            .filter_map(|s| match &s.write {
                Write::RepositoryDispatch { repo, .. } => Some(repo.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_level_but_unlabelled_l3_is_dispatched() {
        let list = Allowlist::parse("a.yml", LIST).unwrap();
        let plan = decide(&pr("opened", &[], None), &list);
        assert_eq!(targets(&plan), ["org/one", "org/two", "org/four"]);
        let plan = decide(&pr("synchronize", &["CIFlow/CRCR/NPU"], None), &list);
        assert_eq!(
            targets(&plan),
            ["org/one", "org/two", "org/three", "org/four"]
        );
    }

    #[test]
    fn a_label_dispatches_only_to_its_device() {
        let list = Allowlist::parse("a.yml", LIST).unwrap();
        let plan = decide(
            &pr("labeled", &["ciflow/crcr/npu"], Some("ciflow/crcr/npu")),
            &list,
        );
        assert_eq!(targets(&plan), ["org/three"]);
        assert!(concerns("labeled", Some("ciflow/crcr/npu")));
        assert!(!concerns("labeled", Some("bug")));
        assert!(!concerns("closed", None));
        assert!(concerns("reopened", None));
    }

    #[test]
    fn the_payload_carries_the_pr_and_a_stable_id() {
        let list = Allowlist::parse("a.yml", LIST).unwrap();
        let plan = decide(&pr("opened", &[], None), &list);
        let Write::RepositoryDispatch {
            client_payload,
            event_type,
            ..
        } = &plan.steps[3 - 1].write
        else {
            panic!("not a dispatch");
        };
        assert_eq!(event_type, EVENT_PULL_REQUEST);
        let p: PullRequestPayload =
            serde_json::from_value(client_payload["pull_request"].clone()).unwrap();
        assert_eq!(p.number, 7);
        assert_eq!(p.level, "L4");
        assert_eq!(
            p.delivery_id,
            delivery_id("up/stream", 7, &"a".repeat(40), "ORG/four")
        );
        assert_ne!(
            p.delivery_id,
            delivery_id("up/stream", 7, &"b".repeat(40), "org/four")
        );
    }
}
