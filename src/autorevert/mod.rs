//! `autorevert`: find the commit that broke trunk, confirm it by restarting
//! workflows, then revert or notify.
//!
//! It reads trunk's history from the shared [`crate::history`] service: the
//! trunk's commits (newest first) and the job results of each ([`Snapshot`]),
//! from GitHub, ClickHouse or a JSON file. From there everything is pure: jobs
//! are grouped into signals ([`signal`]), signals are searched for the "newer
//! commits fail, the older one passed" pattern under guards that keep
//! precision ([`detect`](mod@detect)), commits no CI tested are bisected
//! ([`bisect`]), verdicts become a [`crate::plan::Plan`]
//! ([`decide`]), and every decision is rendered as a grid of commits by
//! signals ([`grid`]). [`revert`] computes the tree of a revert, and [`synth`]
//! generates seeded synthetic snapshots for tests and the benchmark.

pub mod bisect;
pub mod decide;
pub mod detect;
pub mod grid;
pub mod rate;
pub mod revert;
#[cfg(test)]
mod scenarios;
pub mod signal;
pub mod sim;
pub mod synth;

pub use crate::history::Snapshot;
pub use detect::{Detection, Params, Verdict, detect};
pub use signal::Signals;

/// The event of a restart: `workflow_dispatch` on the `trunk/{sha}` tag.
pub const RESTART_EVENT: &str = "workflow_dispatch";

/// Prefix of the tag (and of the runs' `head_branch`) a restart runs on.
pub const RESTART_PREFIX: &str = "trunk/";

/// Label of an open issue that stops every autorevert action, when a person
/// with write access put it there.
pub const LABEL_KILL_SWITCH: &str = "ci: disable-autorevert";

/// Label of a pull request that must never be reverted.
pub const LABEL_NO_REVERT: &str = "autorevert: disable";

/// Label on the revert pull requests autorevert opens.
pub const LABEL_REVERT: &str = "autorevert";

/// The marker kind on autorevert's comments and pull requests; the key is the
/// suspect commit's sha.
pub const MARKER_KIND: &str = "autorevert";

/// Group the jobs of `snapshot` into signals and detect on them.
pub fn analyze(snapshot: &Snapshot, params: &Params) -> (Signals, Detection) {
    let signals = signal::build(snapshot, &params.workflows);
    let detection = detect(snapshot, &signals, params);
    (signals, detection)
}

/// The `head_branch` (and tag name) of a restart of `sha`.
pub fn restart_branch(sha: &str) -> String {
    format!("{RESTART_PREFIX}{sha}")
}

/// Whether `head_branch` is the branch a restart of `sha` runs on.
pub fn is_restart_branch(head_branch: &str, sha: &str) -> bool {
    head_branch.strip_prefix(RESTART_PREFIX) == Some(sha)
}

/// The full ref of the tag a restart of `sha` is dispatched on.
pub fn restart_tag_ref(sha: &str) -> String {
    format!("refs/tags/{RESTART_PREFIX}{sha}")
}

/// The branch a revert of `sha` is pushed to.
pub fn revert_branch(sha: &str) -> String {
    format!("ci-medic/autorevert/{}", short(sha))
}

/// The first 12 characters of a sha (all of it when shorter).
pub fn short(sha: &str) -> &str {
    match sha.char_indices().nth(12) {
        Some((i, _)) => &sha[..i],
        None => sha,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(restart_branch(sha), format!("trunk/{sha}"));
        assert!(is_restart_branch(&restart_branch(sha), sha));
        assert!(!is_restart_branch(&restart_branch(sha), "0123"));
        assert!(!is_restart_branch(sha, sha));
        assert_eq!(restart_tag_ref(sha), format!("refs/tags/trunk/{sha}"));
        assert_eq!(revert_branch(sha), "ci-medic/autorevert/0123456789ab");
        assert_eq!(short("abc"), "abc");
        assert_eq!(short("ééééééééééééééé"), "éééééééééééé");
    }
}
