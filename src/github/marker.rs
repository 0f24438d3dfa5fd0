//! Hidden markers on what ci-medic writes, so a re-run finds and updates
//! instead of duplicating: `<!-- ci-medic:KIND:KEY -->`.
//!
//! A marker is only a claim, and anyone can type one: into a log line that
//! ends up in an excerpt, a job name, an issue, a comment. So a marker counts
//! only where ci-medic itself puts it: as the whole first line of the body
//! (every issue, comment and pull request ci-medic writes opens with its
//! marker), or, for the few [`CLOSING_KINDS`], as the whole last line. The
//! callers also read markers only from what the action's own identity wrote
//! ([`super::Identity`]), and untrusted text is rendered without the bytes
//! `<!--` (`crate::report::markdown`), so a forged marker fails three ways.

/// Kinds written as the last line of a body instead of the first (the heal
/// pull request names its workflow after the prose).
pub const CLOSING_KINDS: &[&str] = &["heal-workflow"];

/// The marker for one thing of one kind (`KIND` and `KEY` are ours: plain
/// identifiers, never text from outside).
pub fn marker(kind: &str, key: &str) -> String {
    format!("<!-- ci-medic:{kind}:{key} -->")
}

/// The line of `body` where ci-medic writes a marker of `kind`: the first
/// line, or the last non-blank one for [`CLOSING_KINDS`]. `lines` also drops
/// the `\r` of bodies edited in the browser.
fn marker_line<'a>(body: &'a str, kind: &str) -> Option<&'a str> {
    if CLOSING_KINDS.contains(&kind) {
        body.lines().rev().find(|l| !l.trim().is_empty())
    } else {
        body.lines().next()
    }
}

/// Does `body` carry exactly this marker, where ci-medic writes it?
pub fn has_marker(body: &str, kind: &str, key: &str) -> bool {
    find_key(body, kind) == Some(key)
}

/// The key of the marker of `kind` that `body` carries where ci-medic
/// writes it.
pub fn find_key<'a>(body: &'a str, kind: &str) -> Option<&'a str> {
    let line = marker_line(body, kind)?.trim_end();
    let key = line
        .strip_prefix("<!-- ci-medic:")?
        .strip_prefix(kind)?
        .strip_prefix(':')?
        .strip_suffix(" -->")?;
    // Keys are identifiers; anything else is not one of ours.
    let ok = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'));
    ok.then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let body = format!("{}\ntext\nmore", marker("failure", "0123abcd"));
        assert!(has_marker(&body, "failure", "0123abcd"));
        assert!(!has_marker(&body, "failure", "0123abcdX"));
        assert!(!has_marker(&body, "failure", "0123abc"));
        assert_eq!(find_key(&body, "failure"), Some("0123abcd"));
        assert_eq!(find_key(&body, "heal"), None);
        // Edited in the browser: CRLF line ends.
        let crlf = body.replace('\n', "\r\n");
        assert!(has_marker(&crlf, "failure", "0123abcd"));
    }

    #[test]
    fn rejects_odd_keys() {
        assert_eq!(find_key("<!-- ci-medic:x:a b -->", "x"), None);
        assert_eq!(find_key("<!-- ci-medic:x: -->", "x"), None);
    }

    #[test]
    fn markers_elsewhere_in_the_body_do_not_count() {
        // Quoted in an excerpt, in a table, or after other text.
        for body in [
            "## Failure\n\n```\n<!-- ci-medic:failure:0123abcd -->\n```\n",
            "text <!-- ci-medic:failure:0123abcd -->",
            " <!-- ci-medic:failure:0123abcd -->\n",
            "\n<!-- ci-medic:failure:0123abcd -->\n",
            "<!-- ci-medic:failure:0123abcd --> and more",
        ] {
            assert!(!has_marker(body, "failure", "0123abcd"), "{body:?}");
            assert_eq!(find_key(body, "failure"), None, "{body:?}");
        }
    }

    #[test]
    fn closing_kinds_count_only_on_the_last_line() {
        let kind = CLOSING_KINDS[0];
        let m = marker(kind, ".github/workflows/ci.yml");
        let body = format!("{}\nprose\n---\n{m}\n\n", marker("heal", "7"));
        assert!(has_marker(&body, kind, ".github/workflows/ci.yml"));
        assert!(has_marker(&body, "heal", "7"));
        let early = format!("{m}\nprose\n");
        assert!(!has_marker(&early, kind, ".github/workflows/ci.yml"));
    }

    #[test]
    fn the_heal_workflow_marker_is_a_closing_kind() {
        assert!(CLOSING_KINDS.contains(&crate::heal::pr::KIND_WORKFLOW));
    }
}
