//! Rendering untrusted text into GitHub markdown safely.
//!
//! Log lines, job names and titles come from people we do not trust. In prose
//! they are escaped (no live `@mentions`, no `#123` cross-links, no HTML, no
//! markdown structure); names sit in code spans that stay on one line; in
//! excerpts they sit in a fence longer than any run of backticks or tildes
//! they contain, so they cannot break out.
//!
//! Whatever the form, untrusted text never carries the bytes `<!--` or `-->`
//! (ci-medic finds what it wrote by its hidden `<!-- ci-medic:... -->`
//! markers, and that lookup is textual: a fence hides a comment from the
//! reader, not from the lookup), nor bidirectional-text controls.

/// A zero-width space: placed after `@` and `#` it stops GitHub from linking
/// a mention or a reference while the text still reads the same.
const ZWSP: char = '\u{200B}';

/// Longest text shown in a code span, in characters.
pub const CODE_LIMIT: usize = 200;

/// Bidirectional-text controls: embeddings and overrides (U+202A..U+202E),
/// isolates (U+2066..U+2069) and the invisible direction marks (U+200E,
/// U+200F, U+061C). They make text display in another order than it reads
/// ("Trojan Source"), so untrusted text loses them.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
    )
}

/// Break every HTML comment opener and closer with a zero-width space, so
/// the text can neither carry a ci-medic marker nor end a comment it sits in.
/// (`-->` occurrences cannot overlap, so one pass leaves none.)
pub fn break_comments(text: &str) -> String {
    if !text.contains("<!--") && !text.contains("-->") {
        return text.to_string();
    }
    text.replace("<!--", "<!\u{200B}--")
        .replace("-->", "--\u{200B}>")
}

/// Escape text for inline use in markdown prose (one line).
pub fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut prev: Option<char> = None;
    // The last three characters, lower-cased, to spot `www.`.
    let mut last3 = ['\0'; 3];
    for c in text.chars() {
        let after_www = last3 == ['w', 'w', 'w'];
        last3 = [last3[1], last3[2], c.to_ascii_lowercase()];
        match c {
            '\r' | '\n' | '\t' => out.push(' '),
            c if c.is_control() || is_bidi_control(c) => {}
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
            // ...and so are `www.` ones (GitHub's extended autolinks).
            '.' if after_www => {
                out.push(ZWSP);
                out.push('.');
            }
            c => out.push(c),
        }
        prev = Some(c);
    }
    // `<` is escaped as `\<`, which still holds the bytes `<!--`.
    break_comments(&out)
}

/// Text for an issue title: one line, no mentions, bounded.
pub fn title(text: &str, max_chars: usize) -> String {
    let flat: String = text
        .chars()
        .filter(|c| !is_bidi_control(*c))
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let flat = break_comments(&flat);
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

/// A fenced code block holding `text` as it reads; the fence is longer than
/// any run of backticks in the text, so nothing inside can close it.
pub fn fenced(text: &str, info: &str) -> String {
    let longest = longest_run(text, '`');
    let fence = "`".repeat((longest + 1).max(3));
    let body: String = text
        .chars()
        .filter(|c| (!c.is_control() || *c == '\n' || *c == '\t') && !is_bidi_control(*c))
        .collect();
    format!("{fence}{info}\n{}\n{fence}", break_comments(&body))
}

/// Text as an inline code span in prose: one line (no newline can end the
/// span and start a heading or a mention), no backtick to close it early,
/// at most [`CODE_LIMIT`] characters. Names (jobs, steps, workflow files,
/// packages) go through here.
pub fn code(text: &str) -> String {
    code_span(text, false)
}

/// [`code`] for a table cell, where a `|` would end the cell even inside a
/// span (GitHub reads `\|` there as a plain `|`).
pub fn table_code(text: &str) -> String {
    code_span(text, true)
}

fn code_span(text: &str, in_table: bool) -> String {
    let flat: String = text
        .chars()
        .filter(|c| !is_bidi_control(*c))
        .map(|c| match c {
            '`' => '\'',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect();
    let flat = flat.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut t = break_comments(&crate::logs::clean::truncate_chars(&flat, CODE_LIMIT));
    if in_table {
        t = t.replace('|', "\\|");
    }
    if t.is_empty() {
        t.push(' ');
    }
    format!("`{t}`")
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

/// JSON safe inside an HTML comment: `<`, `>`, `@`, `#` and bidirectional
/// controls only occur inside JSON strings, where their `\u` escapes mean
/// the same. So neither `-->` nor `--!>` can end the comment early, and no
/// mention, reference or reordering hides in it.
pub fn comment_safe_json(value: &serde_json::Value) -> String {
    let mut out = String::new();
    for c in value.to_string().chars() {
        match c {
            c if matches!(c, '<' | '>' | '@' | '#') || is_bidi_control(c) => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out
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
        let v = serde_json::json!({"line": "--> <script> @x #1 \u{202E}y", "n": -1});
        let s = comment_safe_json(&v);
        assert!(!s.contains("-->") && !s.contains('<') && !s.contains('>'));
        assert!(!s.contains('@') && !s.contains('#'));
        assert!(!s.chars().any(is_bidi_control));
        let back: serde_json::Value = serde_json::from_str(&s).unwrap_or_default();
        assert_eq!(back, v);
    }

    #[test]
    fn no_form_of_untrusted_text_carries_a_comment() {
        let forged = "x <!-- ci-medic:failure:0123456789abcdef --> y <!---> z --->";
        for out in [
            inline(forged),
            title(forged, 200),
            fenced(forged, "text"),
            code(forged),
            table_code(forged),
        ] {
            assert!(!out.contains("<!--") && !out.contains("-->"), "{out}");
            assert!(out.contains("ci-medic:failure:0123456789abcdef"), "{out}");
        }
    }

    #[test]
    fn bidi_controls_are_dropped() {
        let hostile = "fix \u{202E}gnp.exe\u{202C} \u{2066}a\u{2069}\u{200F}\u{061C}";
        for out in [
            inline(hostile),
            title(hostile, 200),
            fenced(hostile, "text"),
            code(hostile),
        ] {
            assert!(!out.chars().any(is_bidi_control), "{out:?}");
            assert!(out.contains("gnp.exe"), "{out}");
        }
    }

    #[test]
    fn www_autolinks_are_broken() {
        for s in ["see www.evil.example", "WWW.EVIL.EXAMPLE", "(www.x.io)"] {
            let out = inline(s);
            assert!(!out.to_lowercase().contains("www."), "{out}");
        }
        assert_eq!(inline("w.w.w"), "w.w.w");
    }

    #[test]
    fn code_spans_stay_on_one_line() {
        assert_eq!(code("a`b\nc @x"), "`a'b c @x`");
        assert_eq!(
            code("test\n# Pwned @octocat\r\n"),
            "`test # Pwned @octocat`"
        );
        assert_eq!(code(""), "` `");
        assert!(code(&"x".repeat(500)).chars().count() < 210);
        assert_eq!(code("a|b"), "`a|b`");
        assert_eq!(table_code("a|b"), "`a\\|b`");
    }

    #[test]
    fn titles_are_one_bounded_line() {
        let t = title("a\nb @x ".repeat(100).as_str(), 50);
        assert!(t.chars().count() <= 51);
        assert!(!t.contains('\n'));
        assert!(!t.contains("@x"));
    }
}
