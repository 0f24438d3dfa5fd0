//! Auto-cc: subscriptions read from an issue's body (`* label @user
//! @org/team` lines), and the one `cc @a @b` line of an issue or pull
//! request body they lead to. Pure.

use crate::report::markdown::code;

/// Characters of a line quoted back in an error, at most.
const QUOTE_LIMIT: usize = 80;

/// Subscribers by label, as the subscriptions issue lists them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subscriptions {
    /// `(label, handles)`, in the order of the body; a label listed twice
    /// has both lines' handles.
    pub entries: Vec<(String, Vec<String>)>,
}

/// A line of the subscriptions issue that says nothing usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// 1-based.
    pub line: usize,
    pub text: String,
    pub why: String,
}

impl LineError {
    /// One line for the step summary, the quoted text inert.
    pub fn describe(&self, issue: u64) -> String {
        let quoted: String = self.text.chars().take(QUOTE_LIMIT).collect();
        format!(
            "subscriptions issue #{issue}, line {}: {} ({})",
            self.line,
            self.why,
            code(&quoted)
        )
    }
}

/// A GitHub login: letters, digits and single hyphens inside, at most 39.
fn is_login(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 39
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

/// A team slug: letters, digits, `-`, `_` and `.`.
fn is_team(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// `@login` or `@org/team`, as written (without checking the org or team
/// exists: GitHub simply does not notify unknown ones).
pub fn is_handle(token: &str) -> bool {
    let Some(rest) = token.strip_prefix('@') else {
        return false;
    };
    match rest.split_once('/') {
        Some((org, team)) => is_login(org) && is_team(team),
        None => is_login(rest),
    }
}

/// The subscriptions of `body`: every line starting with `*` is one
/// (`* module: nn @alice @org/team`: the label is what comes before the
/// first `@`). Other lines are prose. A `*` line without a label, without
/// handles, or with something else after the first handle is an error;
/// the other lines still count.
pub fn parse(body: &str) -> (Subscriptions, Vec<LineError>) {
    let mut subs = Subscriptions::default();
    let mut errors = Vec::new();
    for (i, raw) in body.lines().enumerate() {
        let line = raw.trim();
        let Some(rest) = line.strip_prefix('*') else {
            continue;
        };
        let err = |why: &str| LineError {
            line: i + 1,
            text: line.to_string(),
            why: why.to_string(),
        };
        let tokens: Vec<&str> = rest.split_whitespace().collect();
        let first = tokens
            .iter()
            .position(|t| t.starts_with('@'))
            .unwrap_or(tokens.len());
        let label = tokens[..first].join(" ");
        let handles = &tokens[first..];
        if label.is_empty() {
            errors.push(err("no label before the handles"));
        } else if handles.is_empty() {
            errors.push(err("no `@user` or `@org/team` after the label"));
        } else if let Some(bad) = handles.iter().find(|h| !is_handle(h)) {
            errors.push(err(&format!(
                "{} is not a `@user` or `@org/team` handle",
                code(bad)
            )));
        } else {
            subs.entries
                .push((label, handles.iter().map(|h| h.to_string()).collect()));
        }
    }
    (subs, errors)
}

impl Subscriptions {
    /// The handles subscribed to any of `labels` (labels compared without
    /// regard to case), without `author`, each once, in order of the body.
    pub fn for_labels(&self, labels: &[String], author: &str) -> Vec<String> {
        let author = format!("@{author}");
        let mut out: Vec<String> = Vec::new();
        for (label, handles) in &self.entries {
            if !labels.iter().any(|l| l.eq_ignore_ascii_case(label)) {
                continue;
            }
            for h in handles {
                if !h.eq_ignore_ascii_case(&author)
                    && !out.iter().any(|o| o.eq_ignore_ascii_case(h))
                {
                    out.push(h.clone());
                }
            }
        }
        out
    }
}

/// The handles of a `cc @a @b` line, when `line` is one.
fn cc_handles(line: &str) -> Option<Vec<String>> {
    let rest = line.trim().strip_prefix("cc ")?;
    let handles: Vec<String> = rest.split_whitespace().map(str::to_string).collect();
    (!handles.is_empty() && handles.iter().all(|h| is_handle(h))).then_some(handles)
}

/// The body with `handles` merged into its one `cc` line (the first, or a
/// new last line); `None` when everyone is cc'd already. Whoever is cc'd
/// stays, in place; the rest of the body is kept byte for byte.
pub fn merged_body(body: &str, handles: &[String]) -> Option<String> {
    let lines: Vec<&str> = body.split('\n').collect();
    let at = lines.iter().position(|l| cc_handles(l).is_some());
    let existing = at.and_then(|i| cc_handles(lines[i])).unwrap_or_default();
    let mut all = existing.clone();
    for h in handles {
        if !all.iter().any(|e| e.eq_ignore_ascii_case(h)) {
            all.push(h.clone());
        }
    }
    if all.len() == existing.len() {
        return None;
    }
    let line = format!("cc {}", all.join(" "));
    Some(match at {
        Some(i) => {
            let cr = if lines[i].ends_with('\r') { "\r" } else { "" };
            let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
            out[i] = format!("{line}{cr}");
            out.join("\n")
        }
        None if body.trim().is_empty() => line,
        None => format!("{}\n\n{line}", body.trim_end()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    const BODY: &str = "Subscribe by adding a line.\n\n* module: nn @alice @pytorch/nn-team\n* oncall: jit @bob\n* module: NN @carol\n";

    #[test]
    fn lines_give_labels_and_handles_prose_is_ignored() {
        let (subs, errors) = parse(BODY);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(subs.entries.len(), 3);
        assert_eq!(subs.entries[0].0, "module: nn");
        assert_eq!(
            subs.for_labels(&s(&["Module: NN", "bug"]), "carol"),
            ["@alice", "@pytorch/nn-team"]
        );
        assert_eq!(
            subs.for_labels(&s(&["oncall: jit", "module: nn"]), "x"),
            ["@alice", "@pytorch/nn-team", "@bob", "@carol"]
        );
    }

    #[test]
    fn a_bad_line_is_an_error_naming_it_and_the_others_still_count() {
        let body = "* good @alice\n*   @bob\n* lonely\n* evil @ok <!-- @x\n* x @bad!name\n";
        let (subs, errors) = parse(body);
        assert_eq!(subs.entries, [("good".to_string(), s(&["@alice"]))]);
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 3, 4, 5]);
        let text = errors[2].describe(7);
        assert!(
            text.starts_with("subscriptions issue #7, line 4:"),
            "{text}"
        );
        assert!(!text.contains("<!--"), "{text}");
    }

    #[test]
    fn the_cc_line_is_merged_once_and_kept() {
        let body = "Fixes a bug.\r\n\r\ncc @zed @alice\r\nmore text";
        let got = merged_body(body, &s(&["@alice", "@bob"])).expect("changed");
        assert_eq!(got, "Fixes a bug.\r\n\r\ncc @zed @alice @bob\r\nmore text");
        assert_eq!(merged_body(&got, &s(&["@bob", "@ALICE"])), None);
        assert_eq!(
            merged_body("Text.\n", &s(&["@a"])).as_deref(),
            Some("Text.\n\ncc @a")
        );
        assert_eq!(merged_body("", &s(&["@a"])).as_deref(), Some("cc @a"));
        assert_eq!(merged_body("anything", &[]), None);
        // Prose starting with "cc " is no cc line.
        assert_eq!(
            merged_body("cc is a compiler", &s(&["@a"])).as_deref(),
            Some("cc is a compiler\n\ncc @a")
        );
    }
}
