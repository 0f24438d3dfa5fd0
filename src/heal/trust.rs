//! Who may make ci-medic open a pull request.
//!
//! The analysis block steers what gets edited, so it is acted on only when
//! the action itself wrote it (the issue's author is the action's identity
//! and the body carries the action's own failure marker), or when someone
//! with write access vouched for it by applying the `auto-heal` label.

use crate::github::marker::marker;
use crate::github::types::{IssueEvent, Permission};
use crate::report::issue::KIND_FAILURE;

/// The identity of the workflow token.
pub const ACTIONS_BOT: &str = "github-actions[bot]";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// The issue (and its block) was written by the action.
    OwnIssue,
    /// `auto-heal` was applied by this user, who has write access.
    LabeledBy(String),
    /// Not acted on, and why (shown to users).
    Untrusted(String),
}

impl Trust {
    pub fn trusted(&self) -> bool {
        !matches!(self, Trust::Untrusted(_))
    }
}

/// The actor of the latest `labeled` event for `label`.
pub fn last_labeler<'a>(events: &'a [IssueEvent], label: &str) -> Option<&'a str> {
    events
        .iter()
        .rev()
        .find(|e| e.event == "labeled" && e.label.as_ref().is_some_and(|l| l.name == label))
        .and_then(|e| e.actor.as_ref())
        .map(|a| a.login.as_str())
}

/// Whether `login` is one the action acts as.
pub fn is_bot(bots: &[String], login: &str) -> bool {
    bots.iter().any(|b| b.eq_ignore_ascii_case(login))
}

/// Decide. `bots` are the logins the action acts as; `labeler` is who
/// applied the label last, with their permission when it was looked up.
pub fn decide(
    author: &str,
    body: &str,
    fingerprint: Option<&str>,
    bots: &[String],
    labeler: Option<(&str, Permission)>,
) -> Trust {
    let bot = |login: &str| is_bot(bots, login);
    // The action's issues open with their failure marker.
    let own_marker =
        fingerprint.is_some_and(|fp| body.trim_start().starts_with(&marker(KIND_FAILURE, fp)));
    if bot(author) && own_marker {
        return Trust::OwnIssue;
    }
    match labeler {
        Some((who, p)) if !bot(who) && p >= Permission::Write => Trust::LabeledBy(who.to_string()),
        Some((who, _)) if bot(who) => Trust::Untrusted(format!(
            "the issue was not written by ci-medic (its author is {author}), and the `auto-heal` label was applied by an automation, not by a person with write access"
        )),
        Some((who, p)) => Trust::Untrusted(format!(
            "the issue was not written by ci-medic (its author is {author}), and {who}, who applied the `auto-heal` label, has {} access; write access is needed",
            format!("{p:?}").to_lowercase()
        )),
        None if bot(author) => Trust::Untrusted(
            "the issue body does not carry ci-medic's own failure marker for its analysis".into(),
        ),
        None => Trust::Untrusted(format!(
            "the issue was not written by ci-medic (its author is {author}) and no `auto-heal` label event shows who vouched for it"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::types::{LabelInfo, UserInfo};

    fn ev(event: &str, label: &str, who: &str) -> IssueEvent {
        IssueEvent {
            event: event.into(),
            actor: Some(UserInfo {
                login: who.into(),
                kind: None,
            }),
            label: Some(LabelInfo { name: label.into() }),
            created_at: None,
        }
    }

    fn bots() -> Vec<String> {
        vec![ACTIONS_BOT.to_string()]
    }

    #[test]
    fn own_issues_are_trusted_with_their_marker() {
        let body = "<!-- ci-medic:failure:0123456789abcdef -->\n## x";
        assert_eq!(
            decide(ACTIONS_BOT, body, Some("0123456789abcdef"), &bots(), None),
            Trust::OwnIssue
        );
        // Another fingerprint's marker, or none, does not do.
        assert!(!decide(ACTIONS_BOT, body, Some("ffffffffffffffff"), &bots(), None).trusted());
        assert!(!decide(ACTIONS_BOT, "## x", Some("0123456789abcdef"), &bots(), None).trusted());
    }

    #[test]
    fn writers_vouch_readers_do_not() {
        let body = "anything";
        assert_eq!(
            decide(
                "mallory",
                body,
                None,
                &bots(),
                Some(("octocat", Permission::Admin))
            ),
            Trust::LabeledBy("octocat".into())
        );
        assert!(
            !decide(
                "mallory",
                body,
                None,
                &bots(),
                Some(("mallory", Permission::Triage))
            )
            .trusted()
        );
        assert!(
            !decide(
                "mallory",
                body,
                None,
                &bots(),
                Some((ACTIONS_BOT, Permission::None))
            )
            .trusted()
        );
        assert!(!decide("mallory", body, None, &bots(), None).trusted());
    }

    #[test]
    fn the_latest_labeling_counts() {
        let events = vec![
            ev("labeled", "auto-heal", "octocat"),
            ev("unlabeled", "auto-heal", "octocat"),
            ev("labeled", "auto-heal", "mallory"),
            ev("labeled", "bug", "octocat"),
        ];
        assert_eq!(last_labeler(&events, "auto-heal"), Some("mallory"));
        assert_eq!(last_labeler(&events, "nope"), None);
    }
}
