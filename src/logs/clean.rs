//! Cleaning one log line: byte-order mark, timestamp prefix, `gh run view`
//! prefixes, ANSI escapes, control bytes and carriage-return redraws; then
//! recognising the runner's workflow-command markers.

/// UTF-8 byte-order mark; it belongs to line 1 and is dropped from the text.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A workflow-command marker the runner writes at the start of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    None,
    /// `##[group]Title`
    Group,
    /// `##[endgroup]`
    EndGroup,
    /// `##[error]message`
    Error,
    /// `##[warning]message`
    Warning,
    /// `##[notice]message`
    Notice,
    /// `##[debug]message`
    Debug,
    /// `##[command]...` or `[command]...`: a command echoed by an action.
    Command,
    /// `##[section]...`: runner bookkeeping (old job logs).
    Section,
}

/// Markers and the byte length of each prefix.
const MARKERS: &[(&[u8], Marker)] = &[
    (b"##[group]", Marker::Group),
    (b"##[endgroup]", Marker::EndGroup),
    (b"##[error]", Marker::Error),
    (b"##[warning]", Marker::Warning),
    (b"##[notice]", Marker::Notice),
    (b"##[debug]", Marker::Debug),
    (b"##[command]", Marker::Command),
    (b"##[section]", Marker::Section),
    (b"[command]", Marker::Command),
];

/// Drops a leading byte-order mark.
pub fn strip_bom(b: &[u8]) -> &[u8] {
    b.strip_prefix(BOM).unwrap_or(b)
}

fn digits(b: &[u8]) -> bool {
    b.iter().all(u8::is_ascii_digit)
}

/// If `b` starts with an ISO-8601 UTC timestamp as GitHub writes it
/// (`2024-01-02T03:04:05.1234567Z `, fraction optional), returns the rest.
pub fn strip_timestamp(b: &[u8]) -> Option<&[u8]> {
    if b.len() < 20
        || !digits(&b[0..4])
        || b[4] != b'-'
        || !digits(&b[5..7])
        || b[7] != b'-'
        || !digits(&b[8..10])
        || b[10] != b'T'
        || !digits(&b[11..13])
        || b[13] != b':'
        || !digits(&b[14..16])
        || b[16] != b':'
        || !digits(&b[17..19])
    {
        return None;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_digit) && i < 32 {
            i += 1;
        }
    }
    if b.get(i) != Some(&b'Z') {
        return None;
    }
    i += 1;
    if b.get(i) == Some(&b' ') {
        i += 1;
    }
    Some(&b[i..])
}

/// Splits a `gh run view --log` line, `job\tstep\t<timestamp> text`, into
/// job, step and the rest (timestamp still attached).
pub fn split_gh_run_view(b: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    // Job and step names are short; do not scan a whole long line.
    let head = &b[..b.len().min(1024)];
    let t1 = memchr::memchr(b'\t', head)?;
    let t2 = t1 + 1 + memchr::memchr(b'\t', &head[t1 + 1..])?;
    let rest = &b[t2 + 1..];
    strip_timestamp(rest)?;
    Some((&b[..t1], &b[t1 + 1..t2], rest))
}

/// Cleans a line's text (timestamp already removed) into `out`: removes ANSI
/// escape sequences and control bytes, keeps only the last non-blank
/// carriage-return segment (what a terminal shows after a redraw), and trims
/// trailing whitespace.
pub fn clean_text(b: &[u8], out: &mut Vec<u8>) {
    out.clear();
    append_clean_text(b, out);
}

/// [`clean_text`] appending to `out` (what is already there is kept), so
/// that many lines' cleaned text can share one buffer.
pub fn append_clean_text(b: &[u8], out: &mut Vec<u8>) {
    if !append_if_unclean(b, out) {
        let base = out.len();
        out.extend_from_slice(b);
        trim_end(out, base);
    }
}

/// Appends the cleaned text of `b` to `out` when it needs cleaning (an
/// escape or control byte) and says so; otherwise appends nothing, and `b`
/// without trailing whitespace is its cleaned text, used in place. The
/// bytes are checked once.
pub fn append_if_unclean(b: &[u8], out: &mut Vec<u8>) -> bool {
    if !has_controls(b) {
        return false;
    }
    let base = out.len();
    strip_escapes(b, out);
    if memchr::memchr(b'\r', &out[base..]).is_some() {
        keep_last_cr_segment(out, base);
    }
    trim_end(out, base);
    true
}

/// Any byte other than tab below 0x20, or DEL. Written without early exit
/// per 32-byte chunk so that the compiler vectorises it (hot path); the
/// last, shorter chunk is padded with spaces and checked the same way
/// (most lines are a few chunks long: byte by byte, their tail cost most).
fn has_controls(b: &[u8]) -> bool {
    let is_control = |c: u8| (c < 0x20) & (c != b'\t') | (c == 0x7f);
    let any_control = |chunk: &[u8; 32]| chunk.iter().fold(false, |acc, &c| acc | is_control(c));
    let (whole, rest) = b.as_chunks::<32>();
    if whole.iter().any(any_control) {
        return true;
    }
    let mut tail = [b' '; 32];
    tail[..rest.len()].copy_from_slice(rest);
    any_control(&tail)
}

/// Trims trailing whitespace from the text appended after `base`.
fn trim_end(out: &mut Vec<u8>, base: usize) {
    out.truncate(base + out[base..].trim_ascii_end().len());
}

/// ANSI CSI/OSC sequences and C0 controls (except tab and CR) removed.
fn strip_escapes(b: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == 0x1b {
            match b.get(i + 1) {
                Some(b'[') => {
                    // CSI: parameters and intermediates, then a final byte 0x40..=0x7e.
                    let mut j = i + 2;
                    while j < b.len() && !(0x40..=0x7e).contains(&b[j]) {
                        j += 1;
                    }
                    i = j + 1;
                }
                Some(b']') => {
                    // OSC: ends with BEL or ESC '\'.
                    let mut j = i + 2;
                    while j < b.len()
                        && b[j] != 0x07
                        && !(b[j] == 0x1b && b.get(j + 1) == Some(&b'\\'))
                    {
                        j += 1;
                    }
                    i = if j < b.len() && b[j] == 0x1b {
                        j + 2
                    } else {
                        j + 1
                    };
                }
                Some(_) => i += 2,
                None => i += 1,
            }
            continue;
        }
        if (c < 0x20 && c != b'\t' && c != b'\r') || c == 0x7f {
            i += 1;
            continue;
        }
        // Copy the run of ordinary bytes up to the next escape or control
        // byte at once (CR is kept: redraws are resolved afterwards).
        let run = b[i..]
            .iter()
            .position(|&c| c == 0x1b || (c < 0x20 && c != b'\t' && c != b'\r') || c == 0x7f)
            .map_or(b.len(), |p| i + p);
        out.extend_from_slice(&b[i..run]);
        i = run;
    }
}

/// Keeps, of the text appended after `base`, its last non-blank
/// carriage-return segment.
fn keep_last_cr_segment(out: &mut Vec<u8>, base: usize) {
    // Segments after the last non-blank one are blank; pick the last non-blank.
    let mut end = out.len();
    while end > base {
        let start = out[base..end]
            .iter()
            .rposition(|&c| c == b'\r')
            .map_or(base, |p| base + p + 1);
        if out[start..end].iter().any(|c| !c.is_ascii_whitespace()) {
            out.truncate(end);
            out.drain(base..start);
            return;
        }
        if start == base {
            out.truncate(base);
            return;
        }
        end = start - 1;
    }
    out.truncate(base);
}

/// A GitHub Actions line as [`Scanner`](super::scan::Scanner) sees it: BOM
/// and timestamp removed, then cleaned.
pub fn clean_gha_line(raw: &[u8]) -> Vec<u8> {
    let b = strip_bom(raw);
    let payload = strip_timestamp(b).unwrap_or(b);
    let mut out = Vec::new();
    clean_text(payload, &mut out);
    out
}

/// `s` cut to at most `max` characters, with `…` when something was cut.
pub fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// The marker at the start of a cleaned line and where its body starts.
pub fn classify(text: &[u8]) -> (Marker, usize) {
    let first = match text.first() {
        Some(c) => *c,
        None => return (Marker::None, 0),
    };
    if first != b'#' && first != b'[' {
        return (Marker::None, 0);
    }
    for (prefix, marker) in MARKERS {
        if text.starts_with(prefix) {
            return (*marker, prefix.len());
        }
    }
    (Marker::None, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(b: &[u8]) -> String {
        let mut out = Vec::new();
        clean_text(b, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn timestamps() {
        assert_eq!(
            strip_timestamp(b"2024-01-02T03:04:05.1234567Z hello"),
            Some(&b"hello"[..])
        );
        assert_eq!(strip_timestamp(b"2024-01-02T03:04:05Z x"), Some(&b"x"[..]));
        assert_eq!(
            strip_timestamp(b"2024-01-02T03:04:05.1234567Z"),
            Some(&b""[..])
        );
        assert_eq!(strip_timestamp(b"2024-01-02 03:04:05 x"), None);
        assert_eq!(strip_timestamp(b"short"), None);
    }

    #[test]
    fn gh_run_view_prefix() {
        let (j, s, rest) =
            split_gh_run_view(b"build (ubuntu)\tRun tests\t2024-01-02T03:04:05.1234567Z ok")
                .unwrap();
        assert_eq!((j, s), (&b"build (ubuntu)"[..], &b"Run tests"[..]));
        assert_eq!(strip_timestamp(rest), Some(&b"ok"[..]));
        assert!(split_gh_run_view(b"a\tb\tno timestamp").is_none());
    }

    #[test]
    fn ansi_and_cr() {
        assert_eq!(clean(b"\x1b[31;1mERROR\x1b[0m: x\r"), "ERROR: x");
        assert_eq!(
            clean(b"travis_time:end:1\r\x1b[0K\x1b[31;1mThe command \"x\" exited with 1.\x1b[0m"),
            "The command \"x\" exited with 1."
        );
        assert_eq!(clean(b"10%\r50%\r100%\r\r"), "100%");
        assert_eq!(clean(b"travis_fold:end:x\r\x1b[0K"), "travis_fold:end:x");
        assert_eq!(clean(b"\x1b]0;title\x07text"), "text");
        assert_eq!(clean(b"a\x00b\x08c"), "abc");
        assert_eq!(clean(b"\r\r"), "");
        assert_eq!(clean(b"\x1b["), "");
    }

    #[test]
    fn a_control_byte_is_found_anywhere_in_a_line() {
        for len in [1, 31, 32, 33, 64, 85] {
            let plain = vec![b'a'; len];
            assert!(!has_controls(&plain), "{len} plain bytes");
            for at in 0..len {
                for c in [0x00, 0x1b, b'\r', 0x7f] {
                    let mut line = plain.clone();
                    line[at] = c;
                    assert!(has_controls(&line), "{c:#x} at {at} of {len}");
                }
                let mut tab = plain.clone();
                tab[at] = b'\t';
                assert!(!has_controls(&tab), "a tab at {at} of {len}");
            }
        }
    }

    #[test]
    fn appended_text_is_cleaned_as_alone() {
        let lines: [&[u8]; 5] = [
            b"\x1b[31;1mERROR\x1b[0m: x\r",
            b"10%\r50%\r100%\r\r",
            b"\r\r",
            b"plain  ",
            b"a\x00b\x08c",
        ];
        let mut shared = b"kept".to_vec();
        for line in lines {
            let start = shared.len();
            append_clean_text(line, &mut shared);
            assert_eq!(String::from_utf8_lossy(&shared[start..]), clean(line));
        }
        assert!(shared.starts_with(b"keptERROR: x100%plain"));
    }

    #[test]
    fn markers() {
        assert_eq!(classify(b"##[error]boom"), (Marker::Error, 9));
        assert_eq!(classify(b"##[group]Run x"), (Marker::Group, 9));
        assert_eq!(classify(b"[command]/usr/bin/git"), (Marker::Command, 9));
        assert_eq!(classify(b"plain"), (Marker::None, 0));
        assert_eq!(classify(b"[ERROR] x"), (Marker::None, 0));
    }
}
