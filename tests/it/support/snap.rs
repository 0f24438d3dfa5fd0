//! Snapshot settings shared by the tests: filters for what legitimately
//! differs between two runs, so snapshots hold only what the code decided.
//!
//! Use through the `assert_snap!` and `assert_json_snap!` macros of the test
//! binary's root. Review changes with `cargo insta review` (or accept them
//! with `INSTA_UPDATE=always cargo test`) and commit the `snapshots/` files;
//! under `CI=true` a mismatch fails and nothing is written.

/// The current settings plus the shared filters.
pub fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    // The fake GitHub's two servers listen on a port picked at start.
    s.add_filter(r"http://127\.0\.0\.1:\d+", "http://[fake-github]");
    // `::stop-commands::` tokens are random on purpose.
    s.add_filter(r"::stop-commands::[0-9a-f]{32}", "::stop-commands::[token]");
    s.add_filter(r"(?m)^::[0-9a-f]{32}::$", "::[token]::");
    // Temp dirs of the test workspace.
    s.add_filter(r"/tmp/\.tmp[0-9A-Za-z]+", "[tmp]");
    s
}

/// [`settings`] plus names for commits made on the real clock: each of
/// `commits` (oldest first) becomes `[commit N]` (its 12-character short
/// form `[commit N short]`), other commit ids `[other commit]`, and RFC 3339 times become `[time]`.
pub fn with_shas_and_times(commits: &[String]) -> insta::Settings {
    let mut s = settings();
    for (i, sha) in commits.iter().enumerate() {
        s.add_filter(&regex::escape(sha), format!("[commit {}]", i + 1));
        if let Some(short) = sha.get(..12) {
            s.add_filter(&regex::escape(short), format!("[commit {} short]", i + 1));
        }
    }
    s.add_filter(r"\b[0-9a-f]{40}\b", "[other commit]");
    s.add_filter(
        r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})",
        "[time]",
    );
    s
}
