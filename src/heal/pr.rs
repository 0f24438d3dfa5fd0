//! What `heal` writes for people: the pull request, its commit message, and
//! the comments on the issue. Text from outside (job and step names, log
//! lines, logins) is escaped or fenced; nothing in it can mention, link or
//! break out of a fence.

use crate::github::marker::marker;
use crate::report::advice;
use crate::report::issue::BODY_LIMIT;
use crate::report::markdown::{fenced, inline, title as safe_title, truncate};

use super::{Facts, Fix, diff, path_chars};

/// Marker kinds (`<!-- ci-medic:KIND:KEY -->`); keys are issue numbers,
/// except for [`KIND_WORKFLOW`] (the workflow path) and [`KIND_VERIFY`] (a run id).
pub const KIND_HEAL: &str = "heal";
pub const KIND_MANUAL: &str = "heal-manual";
pub const KIND_REFUSED: &str = "heal-refused";
pub const KIND_WORKFLOW: &str = "heal-workflow";
pub const KIND_VERIFY: &str = "heal-verify";

/// GitHub's limit on pull request titles.
const TITLE_LIMIT: usize = 256;

/// Text as an inline code span: one line, bounded, no backticks to close it.
pub use crate::report::markdown::code;

/// A URL we link to: GitHub's own run pages only.
fn safe_url(u: &str) -> Option<&str> {
    let ok = u.starts_with("https://")
        && u.len() < 300
        && u.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~:/?#=&%".contains(&b));
    ok.then_some(u)
}

pub fn title(fix: &Fix) -> String {
    safe_title(&fix.title, TITLE_LIMIT)
}

pub fn commit_message(issue: Option<u64>, fix: &Fix) -> String {
    let mut m = title(fix);
    m.push_str("\n\n");
    for c in &fix.changes {
        m.push_str(&format!("- {}\n", c.description.replace('`', "")));
    }
    if let Some(n) = issue {
        m.push_str(&format!(
            "\nci-medic heal for issue #{n} ({}).\n",
            fix.category
        ));
    }
    m
}

/// How the fix will be verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verify {
    /// The workflow is dispatched on the fix branch.
    Dispatch,
    /// Not dispatched, and why.
    Skip(String),
}

fn cause(facts: &Facts, fix: &Fix) -> String {
    let mut s = format!("{}\n\n", advice::explain(fix.category));
    let mut wher = Vec::new();
    if let Some(j) = &fix.job {
        wher.push(format!("job {}", code(j)));
    }
    if let Some(st) = &fix.step {
        wher.push(format!("step {}", code(st)));
    }
    if let Some(u) = facts.run_url.as_deref().and_then(safe_url) {
        wher.push(format!("[failed run]({u})"));
    }
    if !wher.is_empty() {
        s.push_str(&format!("Failed in {}:\n\n", wher.join(", ")));
    }
    if let Some(f) = facts.primary() {
        s.push_str(&fenced(f.text.trim(), "text"));
        s.push_str("\n\n");
    }
    s
}

/// The pull request body. It carries the heal marker for `issue` and the
/// workflow path (read back when a verification run completes).
pub fn body(issue: u64, fix: &Fix, facts: &Facts, workflow_path: &str, verify: &Verify) -> String {
    let mut b = format!("{}\n", marker(KIND_HEAL, &issue.to_string()));
    b.push_str(&format!("## {}\n\nFixes #{issue}.\n\n", inline(&fix.title)));
    b.push_str("### Cause\n\n");
    b.push_str(&cause(facts, fix));
    b.push_str("### What changed and why\n\n");
    for c in &fix.changes {
        b.push_str(&format!("- {}\n", c.description));
    }
    b.push('\n');
    if !fix.notes.is_empty() {
        b.push_str("### Notes\n\n");
        for n in &fix.notes {
            b.push_str(&format!("- {}\n", inline(n)));
        }
        b.push('\n');
    }
    b.push_str("### Verification\n\n");
    match verify {
        Verify::Dispatch => b.push_str(
            "ci-medic runs the workflow on this branch (`workflow_dispatch`) and reports here whether it passes.\n\n",
        ),
        Verify::Skip(why) => b.push_str(&format!(
            "Not dispatched by ci-medic ({}); the checks of this pull request show whether the fix works.\n\n",
            inline(why)
        )),
    }
    let tail = format!(
        "---\n<sub>Opened by ci-medic from issue #{issue}. A minimal change made by a machine: review it before merging.</sub>\n{}\n",
        marker(KIND_WORKFLOW, &workflow_key(workflow_path))
    );
    let d = diff::of_files(&fix.files);
    let room = BODY_LIMIT.saturating_sub(b.len() + tail.len() + 200);
    b.push_str("### Diff\n\n");
    if d.len() <= room {
        b.push_str(&fenced(d.trim_end(), "diff"));
    } else {
        b.push_str(&fenced(truncate(&d, room).trim_end(), "diff"));
        b.push_str("\n\n_(diff truncated; see the Files tab)_");
    }
    b.push_str("\n\n");
    b.push_str(&tail);
    b
}

/// Marker keys allow `[A-Za-z0-9._/-]`; a workflow path that has others is not marked.
fn workflow_key(path: &str) -> String {
    if path_chars(path) {
        path.to_string()
    } else {
        "unknown".to_string()
    }
}

/// The issue comment pointing at the pull request.
pub fn opened_comment(issue: u64, pull: Option<u64>, created: bool, fix: &Fix) -> String {
    let what = match (pull, created) {
        (Some(n), true) => format!("Opened #{n} to fix this"),
        (Some(n), false) => format!("Updated #{n}, which fixes this"),
        (None, _) => "A pull request to fix this is planned (dry run)".to_string(),
    };
    let mut b = format!(
        "{}\n{what}: {}.\n\n",
        marker(KIND_HEAL, &issue.to_string()),
        inline(&fix.title)
    );
    for c in &fix.changes {
        b.push_str(&format!("- {}\n", c.description));
    }
    b
}

/// The comment when no automatic fix is possible.
pub fn manual_comment(issue: u64, facts: &Facts, reason: &str) -> String {
    let mut b = format!(
        "{}\nci-medic could not fix this automatically: {}\n\n",
        marker(KIND_MANUAL, &issue.to_string()),
        inline(reason)
    );
    b.push_str(&format!(
        "**{}** {}\n\n",
        facts.category,
        advice::explain(facts.category)
    ));
    if let Some(f) = facts.primary() {
        b.push_str(&fenced(f.text.trim(), "text"));
        b.push_str("\n\n");
        if let Some(s) = advice::suggest(f) {
            b.push_str(&format!("Suggested fix: {s}\n\n"));
        }
    }
    b.push_str(
        "Labelled `needs-manual-fix`; remove the label and re-apply `auto-heal` to try again.\n",
    );
    b
}

/// The comment when the issue is not trusted.
pub fn refused_comment(issue: u64, reason: &str) -> String {
    format!(
        "{}\nci-medic did not act on this issue: {}.\n\nci-medic heals only the issues it filed, as it wrote them; a maintainer (write access) can apply the `auto-heal` label to one of those to ask for a fix.\n",
        marker(KIND_REFUSED, &issue.to_string()),
        inline(reason)
    )
}

/// The pull request comment when a verification run finished.
pub fn verify_comment(run_id: u64, run_url: &str, workflow: &str, conclusion: &str) -> String {
    let run = match safe_url(run_url) {
        Some(u) => format!("[run {run_id}]({u})"),
        None => format!("run {run_id}"),
    };
    let verdict = match conclusion {
        "success" => "passed: the fix healed the workflow.".to_string(),
        "failure" | "timed_out" | "startup_failure" => {
            "failed: the fix did not heal the workflow (see the run's logs).".to_string()
        }
        other => format!("ended as {}.", inline(other)),
    };
    format!(
        "{}\nVerification: {run} of {} on this branch {verdict}\n",
        marker(KIND_VERIFY, &run_id.to_string()),
        inline(workflow)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_spans_cannot_break_out() {
        assert_eq!(code("a`b\nc @x"), "`a'b c @x`");
        assert_eq!(code(""), "` `");
        assert!(code(&"x".repeat(500)).chars().count() < 210);
    }

    #[test]
    fn only_https_links() {
        assert!(safe_url("https://github.com/o/r/actions/runs/1").is_some());
        assert!(safe_url("javascript:alert(1)").is_none());
        assert!(safe_url("https://x/) [y](z").is_none());
    }
}
