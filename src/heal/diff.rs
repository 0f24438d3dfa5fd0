//! Unified diffs of the files a fix changes.

use super::FileEdit;

/// Lines of context around each change, as `diff -u`.
const CONTEXT: usize = 3;

/// One file's unified diff (`a/PATH` -> `b/PATH`); empty when unchanged.
pub fn unified(path: &str, before: &str, after: &str) -> String {
    if before == after {
        return String::new();
    }
    similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(CONTEXT)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string()
}

/// The diff of every file of a fix, in order.
pub fn of_files(files: &[FileEdit]) -> String {
    files
        .iter()
        .map(|f| unified(&f.path, &f.before, &f.after))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hunks_with_headers() {
        let d = unified("ci.yml", "a\nb\nc\n", "a\nb\nx\nc\n");
        assert!(
            d.starts_with("--- a/ci.yml\n+++ b/ci.yml\n@@ -1,3 +1,4 @@\n"),
            "{d}"
        );
        assert!(d.contains("\n+x\n"), "{d}");
        assert_eq!(unified("x", "same\n", "same\n"), "");
    }
}
