//! The bot's replies: pure rendering, every outside value escaped.
//!
//! Each reply opens with the marker `<!-- ci-medic:command:KEY -->` where
//! KEY names the command's comment or review, so one command gets one
//! reply however often its event is delivered.

use serde::Serialize;

use super::parse::ParseError;
use crate::github::marker::{has_marker, marker};
use crate::github::{Client, GithubError};
use crate::report::markdown::{code, fenced, inline};

/// The marker kind of replies to commands.
pub const KIND: &str = "command";

/// Where a reply to a command goes: the issue or pull request, and the key
/// of the command's reply marker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplyTo {
    pub number: u64,
    pub key: String,
}

impl ReplyTo {
    /// The marker a reply carries.
    pub fn marker(&self) -> (String, String) {
        (KIND.to_string(), self.key.clone())
    }

    /// Whether `body` is this reply (wherever it came from: callers check
    /// who wrote it).
    pub fn is_reply(&self, body: &str) -> bool {
        has_marker(body, KIND, &self.key)
    }

    /// A reply body: the marker, then `text`.
    pub fn body(&self, text: &str) -> String {
        format!("{}\n{}", marker(KIND, &self.key), text.trim_end())
    }
}

/// Why a command was not carried out, as the commenter reads it. The text
/// is markdown in which every outside value is already escaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

impl Refusal {
    pub fn new(text: impl Into<String>) -> Refusal {
        Refusal(text.into())
    }
}

/// A refusal for lack of access.
pub fn needs_access(who: &str, command: &str, needs: &str, has: &str) -> Refusal {
    Refusal::new(format!(
        "{} needs {needs} access to the repository; {} has {has} access.",
        code(command),
        inline(who)
    ))
}

/// The reply to a refused command.
pub fn refused(command: &str, why: &Refusal) -> String {
    format!("**{} was not carried out.** {}", code(command), why.0)
}

/// The reply to a command that could not be parsed: the message and the
/// usage, fenced (they quote the comment).
pub fn parse_error(e: &ParseError) -> String {
    format!(
        "I could not read that command.\n\n{}",
        fenced(&format!("{e}\n\n{}", e.usage()), "text")
    )
}

/// The `help` reply.
pub fn help(handle: &str) -> String {
    format!(
        "Commands I take, in a comment or a review that starts with {}:\n\n{}",
        code(handle),
        fenced(&super::parse::help_text(handle), "text")
    )
}

/// A list of names as escaped code spans.
pub fn names(list: &[String]) -> String {
    list.iter().map(|n| code(n)).collect::<Vec<_>>().join(", ")
}

/// Post `## Merge failed` with GitHub's reason on the pull request (the
/// reply of the merge command, updated if it exists). Best effort: the merge
/// failure itself is what the plan reports.
pub async fn explain_merge_refusal(c: &Client, to: &ReplyTo, e: &GithubError) {
    let why = match e {
        GithubError::Status {
            status: 409,
            message,
            ..
        } => format!(
            "The head of the pull request moved after the command was given: re-issue the merge command to merge the new head. (GitHub: {})",
            inline(message)
        ),
        GithubError::Status {
            status, message, ..
        } => format!("GitHub refused the merge ({status}): {}", inline(message)),
        other => format!("The merge call failed: {}", inline(&other.to_string())),
    };
    let body = to.body(&format!("## Merge failed\n\n{why}"));
    let (kind, key) = to.marker();
    if let Err(err) = c
        .upsert_comment(to.number, &body, Some((kind.as_str(), key.as_str())))
        .await
    {
        tracing::warn!("could not explain the merge failure: {err}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bot::parse::{Parsed, parse_comment};

    #[test]
    fn replies_carry_their_marker_first() {
        let to = ReplyTo {
            number: 3,
            key: "comment-9".into(),
        };
        let body = to.body("done");
        assert!(to.is_reply(&body));
        assert!(body.ends_with("done"));
        let other = ReplyTo {
            number: 3,
            key: "comment-10".into(),
        };
        assert!(!other.is_reply(&body));
    }

    #[test]
    fn hostile_values_are_inert_in_replies() {
        let r = needs_access("@evil <!-- x --> [a](b)", "merge", "write", "read");
        let text = refused("merge", &r);
        assert!(!text.contains("<!--"), "{text}");
        assert!(!text.contains(" @evil"), "{text}");
        let Parsed::Error(e) = parse_comment(
            "@ci-medic revert -m x -c \"<!-- ci-medic:command:comment-1 --> ```\"",
            &["@ci-medic"],
        ) else {
            panic!("an error");
        };
        let text = parse_error(&e);
        assert!(!text.contains("<!--"), "{text}");
        // The fence is longer than any run of backticks inside.
        let fence_lines = text.lines().filter(|l| l.starts_with("```")).count();
        assert_eq!(fence_lines, 2, "{text}");
        assert!(names(&["a`b".into(), "@x".into()]).contains('`'));
    }
}
