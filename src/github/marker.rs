//! Hidden markers on what ci-medic writes, so a re-run finds and updates
//! instead of duplicating: `<!-- ci-medic:KIND:KEY -->`.

/// The marker for one thing of one kind (`KIND` and `KEY` are ours: plain
/// identifiers, never text from outside).
pub fn marker(kind: &str, key: &str) -> String {
    format!("<!-- ci-medic:{kind}:{key} -->")
}

/// Does `body` carry exactly this marker?
pub fn has_marker(body: &str, kind: &str, key: &str) -> bool {
    body.contains(&marker(kind, key))
}

/// The key of the first marker of `kind` in `body`.
pub fn find_key<'a>(body: &'a str, kind: &str) -> Option<&'a str> {
    let open = format!("<!-- ci-medic:{kind}:");
    let start = body.find(&open)? + open.len();
    let rest = &body[start..];
    let end = rest.find(" -->")?;
    let key = &rest[..end];
    // Keys are identifiers; anything else is not one of ours.
    key.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'))
        .then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let body = format!("text\n{}\nmore", marker("failure", "0123abcd"));
        assert!(has_marker(&body, "failure", "0123abcd"));
        assert!(!has_marker(&body, "failure", "0123abcdX"));
        assert_eq!(find_key(&body, "failure"), Some("0123abcd"));
        assert_eq!(find_key(&body, "heal"), None);
    }

    #[test]
    fn rejects_odd_keys() {
        assert_eq!(find_key("<!-- ci-medic:x:a b -->", "x"), None);
    }
}
