//! Stale approvals: when a pull request whose author lacks write access is
//! reopened (or, with `on-synchronize`, gets new commits), the approvals it
//! carries were given to other code, or to a pull request a maintainer had
//! closed; they are dismissed. Pure: which reviews, and what to say.

use serde::{Deserialize, Serialize};

use crate::report::markdown::code;

/// `.github/ci-medic.yml` `stale-approvals:`; the section being present
/// turns the handler on (`stale-approvals: {}` for the defaults).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct StaleApprovalsConfig {
    /// Also dismiss on new commits (`synchronize`), not only on `reopened`.
    pub on_synchronize: bool,
}

/// The marker kind of the comment that says why approvals were dismissed.
pub const MARKER_KIND: &str = "stale-approvals";

/// A review as the decision needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    pub id: u64,
    pub reviewer: String,
}

/// The approvals among `(id, reviewer, state)` reviews: only the latest
/// review of each reviewer counts (an approval followed by a comment still
/// approves; one followed by a request for changes does not), and only
/// those whose latest state is `APPROVED`. REST answers oldest first.
pub fn approvals(reviews: &[(u64, String, String)]) -> Vec<Approval> {
    let mut latest: Vec<(String, u64, String)> = Vec::new();
    for (id, reviewer, state) in reviews {
        let state = state.to_ascii_uppercase();
        // Comments do not change what a reviewer says about the change.
        if state == "COMMENTED" || state == "PENDING" {
            continue;
        }
        match latest
            .iter_mut()
            .find(|(r, _, _)| r.eq_ignore_ascii_case(reviewer))
        {
            Some(slot) => *slot = (reviewer.clone(), *id, state),
            None => latest.push((reviewer.clone(), *id, state)),
        }
    }
    latest
        .into_iter()
        .filter(|(_, _, s)| s == "APPROVED")
        .map(|(reviewer, id, _)| Approval { id, reviewer })
        .collect()
}

/// On new commits, the approvals given before the latest push: an approval
/// whose commit (`commit_of`, by review id) is the head as it is now was
/// given after that push and stands, so a late or repeated `synchronize`
/// never dismisses a fresh approval.
pub fn before_head(
    approvals: Vec<Approval>,
    commit_of: &[(u64, Option<String>)],
    head: &str,
) -> Vec<Approval> {
    approvals
        .into_iter()
        .filter(|a| {
            !commit_of
                .iter()
                .any(|(id, c)| *id == a.id && c.as_deref() == Some(head))
        })
        .collect()
}

/// Why, in the dismissal (GitHub shows it on the review).
pub fn dismissal_message(reopened: bool) -> String {
    format!(
        "Dismissed by ci-medic: the pull request {} and its author lacks write access, so it needs a fresh review.",
        if reopened {
            "was reopened"
        } else {
            "has new commits"
        }
    )
}

/// The comment, after a marker line: who was dismissed, and why.
pub fn comment_text(reopened: bool, dismissed: &[Approval]) -> String {
    let names: Vec<String> = dismissed.iter().map(|a| code(&a.reviewer)).collect();
    format!(
        "Approvals dismissed ({}): this pull request {} and its author lacks write access to the repository, so an approval given before does not hold for what it is now. A reviewer with write access needs to approve it again.",
        names.join(", "),
        if reopened {
            "was reopened"
        } else {
            "received new commits"
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(id: u64, who: &str, state: &str) -> (u64, String, String) {
        (id, who.to_string(), state.to_string())
    }

    #[test]
    fn only_each_reviewers_latest_verdict_counts() {
        let got = approvals(&[
            r(1, "alice", "APPROVED"),
            r(2, "alice", "COMMENTED"),
            r(3, "bob", "APPROVED"),
            r(4, "bob", "CHANGES_REQUESTED"),
            r(5, "carol", "APPROVED"),
            r(6, "carol", "DISMISSED"),
            r(7, "dave", "approved"),
        ]);
        assert_eq!(
            got,
            [
                Approval {
                    id: 1,
                    reviewer: "alice".into()
                },
                Approval {
                    id: 7,
                    reviewer: "dave".into()
                }
            ]
        );
    }

    #[test]
    fn an_approval_of_the_current_head_outlives_a_late_push_event() {
        let a = |id: u64| Approval {
            id,
            reviewer: format!("r{id}"),
        };
        let commits = [
            (1, Some("old".to_string())),
            (2, Some("new".to_string())),
            (3, None),
        ];
        let left = before_head(vec![a(1), a(2), a(3)], &commits, "new");
        assert_eq!(left, [a(1), a(3)]);
    }

    #[test]
    fn reviewer_names_are_inert_in_the_comment() {
        let text = comment_text(
            true,
            &[Approval {
                id: 1,
                reviewer: "x` @everyone <!--".into(),
            }],
        );
        assert!(!text.contains("<!--"), "{text}");
        assert!(!text.contains("` @everyone"), "{text}");
    }
}
