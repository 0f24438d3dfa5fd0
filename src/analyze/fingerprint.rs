//! Fingerprints: the same failure in another run (other timestamps, temp
//! paths, durations, runner names, line numbers) hashes to the same value.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;
use sha2::{Digest, Sha256};

/// Hex characters of a fingerprint.
pub const FINGERPRINT_HEX_CHARS: usize = 16;

struct Normalizer {
    steps: Vec<(Regex, &'static str)>,
}

fn compile(steps: &[(&str, &'static str)]) -> Normalizer {
    // Patterns are constants checked by the tests; one that failed to
    // compile would be skipped rather than panic.
    Normalizer {
        steps: steps
            .iter()
            .filter_map(|(p, r)| Regex::new(p).ok().map(|re| (re, *r)))
            .collect(),
    }
}

/// Replacements shared by capture values and free text, most specific first.
const COMMON: &[(&str, &str)] = &[
    // Timestamps and times of day.
    (
        r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:[.,]\d+)?)?(?:Z|[+-]\d\d:?\d\d)?",
        "<ts>",
    ),
    (r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d", "<ts>"),
    (r"\b\d\d:\d\d:\d\d(?:[.,]\d+)?\b", "<time>"),
    // Temporary directories: runner temp, /tmp, macOS and Windows temp.
    (
        r"(?i)(?:/home/runner/work/_temp|/Users/runner/work/_temp|[A-Z]:\\a\\_temp|/tmp|/var/folders|/private/var/folders|[A-Z]:\\Users\\[^\\\s]+\\AppData\\Local\\Temp)[^\s'`,;)\]]*",
        "<tmp>",
    ),
    // Workspace prefixes: the same file has another absolute path elsewhere.
    (
        r"(?:/home/runner/work|/Users/runner/work|/__w|/home/travis/build|/github/workspace)/[^/\s]+/[^/\s]+/",
        "",
    ),
    (r"(?i)[A-Z]:\\a\\[^\\\s]+\\[^\\\s]+\\", ""),
    (r"/opt/hostedtoolcache/[^\s'`,;)]+", "<toolcache>"),
    // UUIDs and long hex (commit SHAs, container ids, addresses).
    (
        r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
        "<uuid>",
    ),
    (r"(?i)\b0x[0-9a-f]+\b", "<hex>"),
    // Durations.
    (
        r"(?i)\b\d+(?:\.\d+)?\s?(?:ms|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hours?)\b",
        "<dur>",
    ),
    (r"\(\d+:\d\d:\d\d\)", "<dur>"),
];

/// For capture values: hashes of 7+ hex digits; `:line:col`, `(line,col)`
/// and `[line,col]` suffixes.
const CAPTURE_ONLY: &[(&str, &str)] = &[
    (r"(?i)\b[0-9a-f]{7,64}\b", "<hex>"),
    (r":\d+(?::\d+)?\b", ""),
    (r"\(\d+(?:,\s?\d+)?\)", ""),
    (r"\[\d+(?:,\d+)?\]", ""),
];

/// For free text: words mixing hex letters and digits, then every number.
const TEXT_ONLY: &[(&str, &str)] = &[
    (
        r"(?i)\b[0-9a-f]*\d[0-9a-f]*[a-f][0-9a-f]*\b|\b[0-9a-f]*[a-f][0-9a-f]*\d[0-9a-f]*\b",
        "<hex>",
    ),
    (r"\d+", "N"),
];

static CAPTURE: LazyLock<Normalizer> = LazyLock::new(|| {
    let mut steps: Vec<(&str, &str)> = COMMON.to_vec();
    steps.extend_from_slice(CAPTURE_ONLY);
    compile(&steps)
});

static TEXT: LazyLock<Normalizer> = LazyLock::new(|| {
    let mut steps: Vec<(&str, &str)> = COMMON.to_vec();
    steps.extend_from_slice(TEXT_ONLY);
    compile(&steps)
});

fn apply(n: &Normalizer, s: &str) -> String {
    let mut out = s.to_string();
    for (re, rep) in &n.steps {
        // Borrowed when nothing matched: `out` stays as it is.
        if let Cow::Owned(replaced) = re.replace_all(&out, *rep) {
            out = replaced;
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Normalises a capture value (keeps numbers that are part of names).
pub fn normalize_capture(s: &str) -> String {
    apply(&CAPTURE, s)
}

/// Normalises a whole line (numbers removed too).
pub fn normalize_text(s: &str) -> String {
    apply(&TEXT, s)
}

/// Fingerprint of a failure from its rule id and the parts that identify it
/// (capture values, or the line's text), each normalised. 16 hex chars.
pub fn fingerprint_of(rule: &str, parts: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(rule.as_bytes());
    for p in parts {
        h.update([0x1f]);
        h.update(normalize_capture(p).as_bytes());
    }
    hex_prefix(&h.finalize())
}

/// Fingerprint from free text (no captures).
pub(crate) fn fingerprint_text(rule: &str, text: &str) -> String {
    let mut h = Sha256::new();
    h.update(rule.as_bytes());
    h.update([0x1e]);
    h.update(normalize_text(text).as_bytes());
    hex_prefix(&h.finalize())
}

fn hex_prefix(digest: &[u8]) -> String {
    digest
        .iter()
        .take(FINGERPRINT_HEX_CHARS / 2)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_patterns_compile() {
        assert_eq!(CAPTURE.steps.len(), COMMON.len() + CAPTURE_ONLY.len());
        assert_eq!(TEXT.steps.len(), COMMON.len() + TEXT_ONLY.len());
    }

    #[test]
    fn volatile_parts_removed() {
        let a = normalize_text(
            "Error at 2024-01-02T03:04:05.123Z in /tmp/tmp.Ab12Cd/x.log after 12.5s (pid 4242)",
        );
        let b = normalize_text(
            "Error at 2025-11-12T13:14:15.999Z in /tmp/tmp.Zz99Yy/x.log after 3s (pid 17)",
        );
        assert_eq!(a, b);
        assert_eq!(
            normalize_capture("/home/runner/work/app/app/src/main.rs:12:5"),
            normalize_capture("/home/runner/work/app/app/src/main.rs:40:1")
        );
        assert_eq!(normalize_capture("src/main.rs:12:5"), "src/main.rs");
        assert_eq!(normalize_capture("test_1"), "test_1");
        assert_ne!(normalize_capture("test_1"), normalize_capture("test_2"));
        assert_eq!(
            normalize_capture("D:\\a\\proj\\proj\\src\\x.cpp"),
            normalize_capture("D:\\a\\other\\other\\src\\x.cpp")
        );
    }

    #[test]
    fn fingerprints_are_16_hex_and_stable() {
        let f = fingerprint_of("py-module-not-found", &["yaml"]);
        assert_eq!(f.len(), 16);
        assert!(f.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(f, fingerprint_of("py-module-not-found", &["yaml"]));
        assert_ne!(f, fingerprint_of("py-module-not-found", &["requests"]));
        assert_ne!(f, fingerprint_of("other-rule", &["yaml"]));
        assert_eq!(
            fingerprint_text("x", "took 12ms at 10:11:12"),
            fingerprint_text("x", "took 99ms at 23:59:01")
        );
    }
}
