//! Which deliveries carry a command: pure.
//!
//! A command comes from a comment that was just created on an issue or a
//! pull request (an edit or a deletion never acts: an old comment must not
//! be turned into a new order), or from a submitted review. Comments by
//! bots are not commands; the action's own identity is checked later, when
//! it is known.

use serde::Serialize;

use super::config::CommandsConfig;
use super::parse::{self, Command, Parsed};
use crate::event::{Event, User};

/// Where a command was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "id", rename_all = "kebab-case")]
pub enum Source {
    /// An issue comment (it can take reactions).
    Comment(u64),
    /// A pull request review (it cannot).
    Review(u64),
}

impl Source {
    /// The key of the reply's marker: one reply per command.
    pub fn key(self) -> String {
        match self {
            Source::Comment(id) => format!("comment-{id}"),
            Source::Review(id) => format!("review-{id}"),
        }
    }

    /// The comment to react to, when the command has one.
    pub fn comment_id(self) -> Option<u64> {
        match self {
            Source::Comment(id) => Some(id),
            Source::Review(_) => None,
        }
    }
}

/// A command found in a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    /// The issue or pull request the command was written on.
    pub number: u64,
    pub is_pull: bool,
    /// Who wrote the command: whose permission counts.
    pub author: String,
    /// Who opened the issue or pull request.
    pub issue_author: String,
    pub source: Source,
    /// The handle it was addressed to, as configured.
    pub handle: String,
    /// The command, or why it could not be parsed.
    pub parsed: Result<Command, parse::ParseError>,
}

/// Bots never give commands (GitHub marks their accounts `Bot`; App logins
/// end in `[bot]`).
fn is_bot(user: &User) -> bool {
    user.kind.as_deref() == Some("Bot") || user.login.ends_with("[bot]")
}

/// The command a delivery carries, if any. `drci` is left to Dr. CI.
pub fn command_of(event: &Event, config: &CommandsConfig) -> Option<Trigger> {
    let (number, is_pull, author, issue_author, body, source) = match event {
        Event::IssueComment(e) if e.action == "created" => (
            e.issue.number,
            e.issue.pull_request.is_some(),
            &e.comment.user,
            &e.issue.user.login,
            e.comment.body.as_deref(),
            Source::Comment(e.comment.id),
        ),
        Event::PullRequestReview(e) if e.action == "submitted" => (
            e.pull_request.number,
            true,
            &e.review.user,
            &e.pull_request.user.login,
            e.review.body.as_deref(),
            Source::Review(e.review.id),
        ),
        _ => return None,
    };
    if is_bot(author) {
        return None;
    }
    let handles = config.handles();
    let refs: Vec<&str> = handles.iter().map(String::as_str).collect();
    let (handle, rest) = parse::find_command(body?, &refs)?;
    let parsed = parse::parse_line(handle, rest);
    if matches!(parsed, Ok(Command::Drci)) {
        return None;
    }
    Some(Trigger {
        number,
        is_pull,
        author: author.login.clone(),
        issue_author: issue_author.clone(),
        source,
        handle: handle.to_string(),
        parsed,
    })
}

/// The same as [`command_of`] for callers that want the offline contract's
/// shape (`Parsed`).
pub fn parsed_of(event: &Event, config: &CommandsConfig) -> Parsed {
    match command_of(event, config) {
        None => Parsed::NoCommand,
        Some(t) => match t.parsed {
            Ok(c) => Parsed::Command(c),
            Err(e) => Parsed::Error(e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comment_event(action: &str, body: &str, login: &str, kind: &str) -> Event {
        let text = include_str!("../../fixtures/webhooks/issue_comment/00-created.json");
        let mut v: serde_json::Value = serde_json::from_str(text).expect("fixture");
        v["action"] = action.into();
        v["comment"]["body"] = body.into();
        v["comment"]["user"]["login"] = login.into();
        v["comment"]["user"]["type"] = kind.into();
        crate::event::parse(
            "issue_comment",
            "t.json",
            &serde_json::to_vec(&v).expect("json"),
        )
        .expect("event")
    }

    fn review_event(action: &str, body: &str) -> Event {
        let text = include_str!("../../fixtures/webhooks/pull_request_review/00-submitted.json");
        let mut v: serde_json::Value = serde_json::from_str(text).expect("fixture");
        v["action"] = action.into();
        v["review"]["body"] = body.into();
        crate::event::parse(
            "pull_request_review",
            "t.json",
            &serde_json::to_vec(&v).expect("json"),
        )
        .expect("event")
    }

    #[test]
    fn only_created_comments_carry_commands() {
        let c = CommandsConfig::default();
        let created = comment_event("created", "@ci-medic retest", "octocat", "User");
        let t = command_of(&created, &c).expect("a command");
        assert_eq!(t.parsed, Ok(Command::Retest));
        assert_eq!(t.author, "octocat");
        assert!(matches!(t.source, Source::Comment(_)));
        for action in ["edited", "deleted"] {
            let e = comment_event(action, "@ci-medic retest", "octocat", "User");
            assert_eq!(command_of(&e, &c), None, "{action}");
        }
    }

    #[test]
    fn bots_and_other_handles_and_drci_are_not_ours() {
        let c = CommandsConfig::default();
        let bot = comment_event("created", "@ci-medic retest", "dependabot[bot]", "Bot");
        assert_eq!(command_of(&bot, &c), None);
        let app = comment_event("created", "@ci-medic retest", "some-app[bot]", "User");
        assert_eq!(command_of(&app, &c), None);
        let other = comment_event("created", "@pytorchbot retest", "octocat", "User");
        assert_eq!(command_of(&other, &c), None);
        let drci = comment_event("created", "@ci-medic drci", "octocat", "User");
        assert_eq!(command_of(&drci, &c), None);
        let configured = CommandsConfig {
            handles: vec!["pytorchbot".into()],
            ..CommandsConfig::default()
        };
        let t = command_of(&other, &configured).expect("a command");
        assert_eq!(t.handle, "@pytorchbot");
        assert_eq!(t.source.key(), "comment-492700400");
    }

    #[test]
    fn submitted_reviews_carry_commands_dismissed_ones_do_not() {
        let c = CommandsConfig::default();
        let t =
            command_of(&review_event("submitted", "LGTM\n@ci-medic merge"), &c).expect("a command");
        assert!(t.is_pull);
        assert_eq!(t.source, Source::Review(237_895_671));
        assert_eq!(t.source.comment_id(), None);
        assert!(matches!(t.parsed, Ok(Command::Merge { .. })));
        assert_eq!(
            command_of(&review_event("dismissed", "@ci-medic merge"), &c),
            None
        );
        // A review without a body is not a command.
        let mut quiet = review_event("submitted", "");
        if let Event::PullRequestReview(e) = &mut quiet {
            e.review.body = None;
        }
        assert_eq!(command_of(&quiet, &c), None);
    }

    #[test]
    fn parse_errors_are_commands_to_answer() {
        let c = CommandsConfig::default();
        let e = comment_event("created", "@ci-medic merge -f", "octocat", "User");
        let t = command_of(&e, &c).expect("an answer is due");
        assert!(t.parsed.is_err());
        assert!(matches!(parsed_of(&e, &c), Parsed::Error(_)));
    }
}
