//! Test frameworks' result lines: the summary a test run prints at its end
//! says whether the tests passed. A step whose tests passed prints error
//! lines on purpose (tests of error handling log the errors they provoke);
//! those lines are not why a job failed.

/// What a test framework's summary line says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestOutcome {
    /// Tests ran and none failed.
    Passed,
    /// At least one test failed or errored.
    Failed,
}

/// Counts in a `N word, N word` list (pytest, jest): (passed, failed).
/// `None` unless every item is a count and a known word.
fn count_list(list: &[u8]) -> Option<(u64, u64)> {
    let (mut passed, mut failed) = (0u64, 0u64);
    let mut any = false;
    for item in list.split(|&c| c == b',' || c == b'|') {
        let item = item.trim_ascii();
        let sp = item.iter().position(|&c| c == b' ')?;
        let n: u64 = std::str::from_utf8(&item[..sp]).ok()?.parse().ok()?;
        match item[sp + 1..].trim_ascii() {
            b"passed" | b"passing" => passed += n,
            b"failed" | b"failing" | b"error" | b"errors" => failed += n,
            b"skipped" | b"xfailed" | b"xpassed" | b"warning" | b"warnings" | b"deselected"
            | b"rerun" | b"reruns" | b"total" | b"todo" | b"pending" | b"subtests passed" => {}
            _ => return None,
        }
        any = true;
    }
    any.then_some((passed, failed))
}

fn outcome(passed: u64, failed: u64) -> Option<TestOutcome> {
    if failed > 0 {
        Some(TestOutcome::Failed)
    } else if passed > 0 {
        Some(TestOutcome::Passed)
    } else {
        None
    }
}

/// The number after `key` in `text` (`Failures: 3`).
fn number_after(text: &[u8], key: &[u8]) -> Option<u64> {
    let pos = memchr::memmem::find(text, key)?;
    let rest = &text[pos + key.len()..];
    let end = rest
        .iter()
        .position(|c| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}

/// pytest's `==== 3 passed, 1 warning in 0.52s ====` (also without the
/// rules, as `-q` prints it).
fn pytest(t: &[u8]) -> Option<TestOutcome> {
    let t = strip_rules(t).trim_ascii();
    if !t.first().is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let pos = memchr::memmem::rfind(t, b" in ")?;
    let time = &t[pos + 4..];
    if !time.first().is_some_and(u8::is_ascii_digit) || !time.contains(&b's') {
        return None;
    }
    let (passed, failed) = count_list(&t[..pos])?;
    outcome(passed, failed)
}

/// Without pytest's `=` rules on both ends.
fn strip_rules(t: &[u8]) -> &[u8] {
    let start = t.iter().position(|&c| c != b'=').unwrap_or(t.len());
    let end = t.iter().rposition(|&c| c != b'=').map_or(start, |p| p + 1);
    t.get(start..end).unwrap_or_default()
}

/// What a test framework's summary line, if this is one, says. `body` is a
/// cleaned line without its runner marker.
pub fn test_summary(body: &[u8]) -> Option<TestOutcome> {
    let t = body.trim_ascii();
    let first = *t.first()?;
    // Every summary starts with one of these bytes: most lines stop here.
    if !matches!(
        first,
        b'=' | b'0'..=b'9' | b't' | b'T' | b'o' | b'F' | b'E' | b'-' | b'['
    ) {
        return None;
    }
    // cargo test
    if let Some(rest) = t.strip_prefix(b"test result: ") {
        return if rest.starts_with(b"ok.") {
            Some(TestOutcome::Passed)
        } else if rest.starts_with(b"FAILED.") {
            Some(TestOutcome::Failed)
        } else {
            None
        };
    }
    // jest: `Tests:       1 failed, 5 passed, 6 total`
    if let Some(rest) = t.strip_prefix(b"Tests:") {
        let (passed, failed) = count_list(rest)?;
        return outcome(passed, failed);
    }
    // vitest: `Errors  1 error`, after the counts, when errors outside any
    // test (unhandled rejections, a runner crash) failed the run.
    if let Some(rest) = t.strip_prefix(b"Errors ") {
        let (_, failed) = count_list(rest)?;
        return outcome(0, failed);
    }
    // vitest: `Test Files  1 failed | 26 passed (27)`, `Tests  212 passed | 1 skipped (213)`
    if let Some(rest) = t
        .strip_prefix(b"Test Files ")
        .or_else(|| t.strip_prefix(b"Tests "))
    {
        let list = match memchr::memrchr(b'(', rest) {
            Some(open) if rest.ends_with(b")") => &rest[..open],
            _ => rest,
        };
        let (passed, failed) = count_list(list)?;
        return outcome(passed, failed);
    }
    // go test: `ok  \tpkg\t0.01s`, `FAIL\tpkg\t0.02s`, `--- FAIL: TestX`
    if t.starts_with(b"ok  \t") || t.starts_with(b"ok \t") {
        return Some(TestOutcome::Passed);
    }
    if t.starts_with(b"FAIL\t") || t.starts_with(b"--- FAIL: ") {
        return Some(TestOutcome::Failed);
    }
    // Maven Surefire, Gradle, JUnit: `[INFO] Tests run: 12, Failures: 0, Errors: 0, Skipped: 1`
    let junit = t
        .strip_prefix(b"[INFO] ")
        .or_else(|| t.strip_prefix(b"[ERROR] "))
        .or_else(|| t.strip_prefix(b"[WARNING] "))
        .unwrap_or(t);
    if junit.starts_with(b"Tests run: ") {
        let run = number_after(junit, b"Tests run: ")?;
        let failures = number_after(junit, b"Failures: ")?;
        let errors = number_after(junit, b"Errors: ").unwrap_or(0);
        if failures + errors > 0 {
            return Some(TestOutcome::Failed);
        }
        return (run > 0).then_some(TestOutcome::Passed);
    }
    // CTest: `100% tests passed, 0 tests failed out of 42`
    if let Some(pos) = memchr::memmem::find(t, b"% tests passed, ")
        && t[..pos].iter().all(u8::is_ascii_digit)
    {
        let failed = number_after(t, b"% tests passed, ")?;
        return outcome(1, failed);
    }
    // mocha: `  12 passing (3s)`, `  2 failing`
    if first.is_ascii_digit() {
        let sp = t.iter().position(|&c| c == b' ')?;
        let word = t[sp + 1..].split(|&c| c == b' ').next().unwrap_or_default();
        let n: Option<u64> = std::str::from_utf8(&t[..sp]).ok()?.parse().ok();
        match word {
            b"passing" if t.ends_with(b")") => return outcome(n?, 0),
            b"failing" if t.len() == sp + 1 + word.len() => return outcome(0, n?.max(1)),
            _ => {}
        }
    }
    pytest(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use TestOutcome::{Failed, Passed};

    #[test]
    fn summaries() {
        let cases: &[(&str, Option<TestOutcome>)] = &[
            (
                "======= 5 passed, 2 warnings in 1.23s =======",
                Some(Passed),
            ),
            ("==== 1 failed, 4 passed in 0.50s ====", Some(Failed)),
            ("=== 3 passed, 1 error in 2.01s (0:00:02) ===", Some(Failed)),
            (
                "=== 2 passed, 1 xfailed, 3 skipped in 9.1s ===",
                Some(Passed),
            ),
            ("12 passed in 0.12s", Some(Passed)),
            (
                "test result: ok. 8 passed; 0 failed; 0 ignored",
                Some(Passed),
            ),
            ("test result: FAILED. 7 passed; 1 failed", Some(Failed)),
            ("Tests:       5 passed, 5 total", Some(Passed)),
            ("Tests:       1 failed, 4 passed, 5 total", Some(Failed)),
            (" Test Files  26 passed | 1 skipped (27)", Some(Passed)),
            ("      Tests  212 passed | 1 skipped (213)", Some(Passed)),
            (" Test Files  1 failed | 26 passed (27)", Some(Failed)),
            ("     Errors  1 error", Some(Failed)),
            ("     Errors  2 errors", Some(Failed)),
            ("Errors and warnings", None),
            ("ok  \tgithub.com/a/b\t0.012s", Some(Passed)),
            ("FAIL\tgithub.com/a/b\t0.012s", Some(Failed)),
            ("--- FAIL: TestThing (0.00s)", Some(Failed)),
            (
                "[INFO] Tests run: 12, Failures: 0, Errors: 0, Skipped: 1",
                Some(Passed),
            ),
            (
                "[ERROR] Tests run: 12, Failures: 1, Errors: 0, Skipped: 0",
                Some(Failed),
            ),
            ("Tests run: 0, Failures: 0, Errors: 0, Skipped: 0", None),
            ("100% tests passed, 0 tests failed out of 42", Some(Passed)),
            ("95% tests passed, 2 tests failed out of 40", Some(Failed)),
            ("  12 passing (3s)", Some(Passed)),
            ("  2 failing", Some(Failed)),
            // Not summaries.
            ("ERROR: something broke", None),
            ("3 files changed in 2s", None),
            ("==== FAILURES ====", None),
            ("test result: maybe", None),
            ("", None),
            ("=", None),
            ("1 passed in", None),
        ];
        for (line, want) in cases {
            assert_eq!(test_summary(line.as_bytes()), *want, "{line}");
        }
    }
}
