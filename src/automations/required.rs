//! Required labels: a pull request must carry a label matching one of the
//! configured patterns. Missing, it gets one sticky comment (found again by
//! its marker, never posted twice) saying how to add one; present again,
//! that comment is deleted. Optionally a check run reports the same.

use globset::GlobSet;

use crate::github::marker::marker;
use crate::report::markdown::code;

/// The marker kind of the sticky comment.
pub const MARKER_KIND: &str = "required-labels";

/// The check run's name, for branch protection.
pub const CHECK_NAME: &str = "ci-medic / labels";

/// Does one of `labels` match one of the patterns?
pub fn satisfied(patterns: &GlobSet, labels: &[String]) -> bool {
    labels.iter().any(|l| patterns.is_match(l.to_lowercase()))
}

/// The sticky comment for pull request `number`. The patterns are the
/// repository's own config, shown in code spans; `handle` is the bot's
/// command handle (`@ci-medic`).
pub fn comment_body(number: u64, patterns: &[String], handle: &str) -> String {
    let list: Vec<String> = patterns.iter().map(|p| code(p)).collect();
    let example = patterns
        .iter()
        .find(|p| !p.contains(['*', '?', '[', '{']))
        .cloned()
        .unwrap_or_else(|| "LABEL".to_string());
    let quoted = if example.contains(' ') {
        format!("\"{example}\"")
    } else {
        example
    };
    format!(
        "{}\nThis pull request needs a label matching one of: {}.\n\n\
         Add one from the labels menu, or comment {} if you cannot set labels. \
         This comment goes away once a matching label is on the pull request.\n",
        marker(MARKER_KIND, &number.to_string()),
        list.join(", "),
        code(&format!("{handle} label {quoted}")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::automations::labels::required_patterns;

    fn labels(l: &[&str]) -> Vec<String> {
        l.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_pattern_or_an_exact_label_satisfies() {
        let p = required_patterns(&["release notes: *".into(), "topic: not user facing".into()])
            .expect("patterns");
        assert!(satisfied(&p, &labels(&["bug", "release notes: nn"])));
        assert!(satisfied(&p, &labels(&["Topic: Not User Facing"])));
        assert!(!satisfied(&p, &labels(&["release notes"])));
        assert!(!satisfied(&p, &labels(&[])));
    }

    #[test]
    fn the_comment_carries_its_marker_and_a_command_that_works() {
        let body = comment_body(
            12,
            &["release notes: *".into(), "topic: not user facing".into()],
            "@ci-medic",
        );
        assert!(
            body.starts_with("<!-- ci-medic:required-labels:12 -->\n"),
            "{body}"
        );
        assert!(
            body.contains("`@ci-medic label \"topic: not user facing\"`"),
            "{body}"
        );
        let parsed = crate::bot::parse::parse_comment(
            "@ci-medic label \"topic: not user facing\"",
            &["@ci-medic".to_string()],
        );
        let crate::bot::parse::Parsed::Command(c) = parsed else {
            panic!("{parsed:?}");
        };
        assert_eq!(c.name(), "label");
    }
}
