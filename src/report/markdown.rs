//! Rendering untrusted text into GitHub markdown safely.
//!
//! Log lines, job names and titles come from people we do not trust. In prose
//! they are escaped (no live `@mentions`, no `#123` cross-links, no HTML, no
//! markdown structure); in excerpts they sit in a fence longer than any run of
//! backticks or tildes they contain, so they cannot break out.

/// A zero-width space: placed after `@` and `#` it stops GitHub from linking
/// a mention or a reference while the text still reads the same.
const ZWSP: char = '\u{200B}';

/// Escape text for inline use in markdown prose (one line).
pub fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut prev: Option<char> = None;
    for c in text.chars() {
        match c {
            '\r' | '\n' | '\t' => out.push(' '),
            c if c.is_control() => {}
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '<' | '>' | '|' | '~' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '&' => out.push_str("&amp;"),
            '@' => {
                out.push('@');
                out.push(ZWSP);
            }
            '#' => {
                out.push('#');
                out.push(ZWSP);
            }
            // Bare URLs are auto-linked; breaking `://` keeps them as text.
            '/' if prev == Some(':') => {
                out.push('/');
                out.push(ZWSP);
            }
            c => out.push(c),
        }
        prev = Some(c);
    }
    out
}

/// Text for an issue title: one line, no mentions, bounded.
pub fn title(text: &str, max_chars: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut out = String::new();
    for c in flat
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
    {
        if out.chars().count() + 1 >= max_chars {
            out.push('…');
            break;
        }
        out.push(c);
        if c == '@' {
            out.push(ZWSP);
        }
    }
    out
}

/// A fenced code block holding `text` verbatim; the fence is longer than any
/// run of backticks in the text, so nothing inside can close it.
pub fn fenced(text: &str, info: &str) -> String {
    let longest = longest_run(text, '`');
    let fence = "`".repeat((longest + 1).max(3));
    let body: String = text
        .chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect();
    format!("{fence}{info}\n{body}\n{fence}")
}

fn longest_run(text: &str, ch: char) -> usize {
    let (mut best, mut cur) = (0, 0);
    for c in text.chars() {
        if c == ch {
            cur += 1;
            best = best.max(cur);
        } else {
            cur = 0;
        }
    }
    best
}

/// JSON safe inside an HTML comment: `<`, `>`, `@` and `#` only occur inside
/// JSON strings, where their `\u` escapes mean the same. So neither `-->` nor
/// `--!>` can end the comment early, and no mention or reference hides in it.
pub fn comment_safe_json(value: &serde_json::Value) -> String {
    value
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('@', "\\u0040")
        .replace('#', "\\u0023")
}

/// Cut `text` to at most `max` bytes on a char boundary.
pub fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    &text[..cut]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_and_refs_are_neutralised() {
        let s = inline("ping @octocat about #12 at https://evil.example");
        assert!(!s.contains("@octocat"));
        assert!(!s.contains("#12"));
        assert!(!s.contains("https://evil"));
    }

    #[test]
    fn markdown_and_html_are_escaped() {
        assert_eq!(inline("<img src=x>"), "\\<img src=x\\>");
        assert_eq!(inline("a|b\nc"), "a\\|b c");
        assert_eq!(inline("[x](javascript:1)"), "\\[x\\]\\(javascript:1\\)");
    }

    #[test]
    fn fences_cannot_be_broken() {
        let hostile = "ok\n````\n@everyone <!-- x -->\n```";
        let f = fenced(hostile, "text");
        assert!(f.starts_with("`````text\n"));
        assert!(f.ends_with("\n`````"));
    }

    #[test]
    fn json_in_comments_cannot_close_them() {
        let v = serde_json::json!({"line": "--> <script> @x #1", "n": -1});
        let s = comment_safe_json(&v);
        assert!(!s.contains("-->") && !s.contains('<') && !s.contains('>'));
        assert!(!s.contains('@') && !s.contains('#'));
        let back: serde_json::Value = serde_json::from_str(&s).unwrap_or_default();
        assert_eq!(back, v);
    }

    #[test]
    fn titles_are_one_bounded_line() {
        let t = title("a\nb @x ".repeat(100).as_str(), 50);
        assert!(t.chars().count() <= 51);
        assert!(!t.contains('\n'));
        assert!(!t.contains("@x"));
    }
}
