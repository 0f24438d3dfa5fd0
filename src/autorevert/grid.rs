//! The evidence as markdown: a grid of commits (rows, newest first) by
//! signals (columns), each cell a link to a job that shows it.
//!
//! Commit titles and job names come from outside and are escaped.

use std::fmt::Write as _;

use super::detect::{Cell, CellKind, Detection, Pattern, Verdict};
use super::short;
use super::signal::{Column, FpId, Signals};
use crate::history::snapshot::{JobResult, Outcome, Snapshot};
use crate::report::markdown::{code, inline, table_code};

/// Rows of one grid: commits around a pattern, enough to see it.
pub const MAX_ROWS: usize = 30;
/// Columns of one grid.
pub const MAX_COLUMNS: usize = 8;
/// Characters of a commit title shown in a row.
const TITLE_CHARS: usize = 60;

/// The legend under every grid.
pub const LEGEND: &str = "❌ failed with this signal's failure · ✅ passed · ⏳ pending · \
⚠️ failed differently · · no result · 🔁 includes a restart";

/// Link to a job: its own page when known, else its run's attempt.
pub fn job_url(repo: &str, server_url: &str, job: &JobResult) -> String {
    if let Some(u) = job.url.as_deref().filter(|u| u.starts_with("https://")) {
        return u.to_string();
    }
    let server = server_url.trim_end_matches('/');
    match job.id {
        Some(id) => format!("{server}/{repo}/actions/runs/{}/job/{id}", job.run_id),
        None => format!(
            "{server}/{repo}/actions/runs/{}/attempts/{}",
            job.run_id, job.run_attempt
        ),
    }
}

/// Link to a commit.
pub fn commit_url(repo: &str, server_url: &str, sha: &str) -> String {
    format!("{}/{repo}/commit/{sha}", server_url.trim_end_matches('/'))
}

/// The job to link from a cell: one that shows what the cell says.
fn cell_job<'a>(
    snapshot: &'a Snapshot,
    column: &Column,
    commit: usize,
    fp: FpId,
    kind: CellKind,
) -> Option<&'a JobResult> {
    let events = column.events_on(commit);
    let mut matching = events.iter().filter(|e| match kind {
        CellKind::Fail => e.fails_with(fp),
        CellKind::Pass => e.outcome == Outcome::Success,
        CellKind::Pending => e.outcome == Outcome::Pending,
        CellKind::Other => e.outcome == Outcome::Failure,
        CellKind::Missing => false,
    });
    // The latest such event (a restart, when there is one).
    let event = matching.next_back()?;
    let job = *event.jobs.first()?;
    snapshot.jobs.get(job)
}

/// One cell's markdown.
fn cell_text(
    snapshot: &Snapshot,
    server_url: &str,
    column: &Column,
    commit: usize,
    fp: FpId,
) -> String {
    let cell = Cell::of(column.events_on(commit), fp);
    let kind = cell.kind();
    let icon = match kind {
        CellKind::Fail => "❌",
        CellKind::Pass => "✅",
        CellKind::Pending => "⏳",
        CellKind::Other => "⚠️",
        CellKind::Missing => "·",
    };
    let mut icons = icon.to_string();
    if cell.restart {
        icons.push('🔁');
    }
    match cell_job(snapshot, column, commit, fp, kind) {
        Some(job) => format!("[{icons}]({})", job_url(&snapshot.repo, server_url, job)),
        None => icons,
    }
}

/// The signals of a pattern, as (column, fingerprint), at most [`MAX_COLUMNS`].
fn pattern_columns(pattern: &Pattern) -> Vec<(usize, FpId)> {
    let mut cols: Vec<(usize, FpId)> = Vec::new();
    // Strongest verdicts first, so truncation drops the weakest.
    let mut findings: Vec<_> = pattern.findings.iter().collect();
    findings.sort_by_key(|f| std::cmp::Reverse(f.verdict));
    for f in findings {
        if !cols.contains(&(f.column, f.fp)) {
            cols.push((f.column, f.fp));
        }
    }
    cols.truncate(MAX_COLUMNS);
    cols
}

/// The rows shown: from the commit above the newest failure to the one
/// below the older success, cut in the middle when long.
fn pattern_rows(snapshot: &Snapshot, pattern: &Pattern) -> Vec<Option<usize>> {
    let n = snapshot.commits.len();
    let newest = pattern
        .newer_failures
        .iter()
        .copied()
        .chain([pattern.suspect])
        .chain(pattern.reverted_by)
        .min()
        .unwrap_or(pattern.suspect);
    let first = newest.saturating_sub(1);
    let last = (pattern.older_success.max(pattern.suspect) + 1).min(n.saturating_sub(1));
    let all: Vec<usize> = (first..=last).collect();
    if all.len() <= MAX_ROWS {
        return all.into_iter().map(Some).collect();
    }
    // Keep the top and the bottom (suspect and older success).
    let keep_bottom = (last.saturating_sub(pattern.suspect) + 2).min(MAX_ROWS / 2);
    let keep_top = MAX_ROWS - keep_bottom - 1;
    let mut rows: Vec<Option<usize>> = all[..keep_top].iter().copied().map(Some).collect();
    rows.push(None);
    rows.extend(all[all.len() - keep_bottom..].iter().copied().map(Some));
    rows
}

/// The grid of one pattern.
pub fn pattern_grid(
    snapshot: &Snapshot,
    signals: &Signals,
    pattern: &Pattern,
    server_url: &str,
) -> String {
    let cols = pattern_columns(pattern);
    let mut out = String::from("| commit |");
    for &(ci, fp) in &cols {
        let Some(column) = signals.columns.get(ci) else {
            continue;
        };
        let fp_text = signals.fingerprint(fp).map_or("unclassified", |f| short(f));
        let _ = write!(
            out,
            " {} / {} <sub>{}</sub> |",
            inline(&column.workflow),
            inline(&column.job),
            inline(fp_text)
        );
    }
    out.push_str("\n|---|");
    for _ in &cols {
        out.push_str(":-:|");
    }
    out.push('\n');
    for row in pattern_rows(snapshot, pattern) {
        let Some(c) = row else {
            let _ = writeln!(out, "| … |{}", " |".repeat(cols.len()));
            continue;
        };
        let Some(commit) = snapshot.commits.get(c) else {
            continue;
        };
        let role = if c == pattern.suspect {
            " **← suspect**"
        } else if c == pattern.older_success {
            " ← older success"
        } else if Some(c) == pattern.reverted_by {
            " ← reverts the suspect"
        } else {
            ""
        };
        let _ = write!(
            out,
            "| [{}]({}) {}{role} |",
            table_code(short(&commit.sha)),
            commit_url(&snapshot.repo, server_url, &commit.sha),
            inline(&cut(commit.title(), TITLE_CHARS))
        );
        for &(ci, fp) in &cols {
            let Some(column) = signals.columns.get(ci) else {
                continue;
            };
            let _ = write!(out, " {} |", cell_text(snapshot, server_url, column, c, fp));
        }
        out.push('\n');
    }
    let hidden = pattern.findings.len().saturating_sub(cols.len());
    if hidden > 0 {
        let _ = writeln!(out, "\n_{hidden} more signal(s) not shown._");
    }
    let _ = writeln!(out, "\n<sub>{LEGEND}</sub>");
    out
}

/// Links to failing jobs on the suspect and passing jobs on the older
/// success, for the evidence in comments.
pub fn evidence_links(
    snapshot: &Snapshot,
    signals: &Signals,
    pattern: &Pattern,
    server_url: &str,
) -> String {
    let mut out = String::new();
    for &(ci, fp) in &pattern_columns(pattern) {
        let Some(column) = signals.columns.get(ci) else {
            continue;
        };
        let mut line = format!("- {} / {}:", inline(&column.workflow), inline(&column.job));
        let mut any = false;
        for (c, kind, what) in [
            (pattern.suspect, CellKind::Fail, "failed on the suspect"),
            (
                pattern.older_success,
                CellKind::Pass,
                "passed on the older commit",
            ),
        ] {
            if let Some(job) = cell_job(snapshot, column, c, fp, kind) {
                let _ = write!(
                    line,
                    " [{what}]({})",
                    job_url(&snapshot.repo, server_url, job)
                );
                any = true;
            }
        }
        if any {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// At most `max` characters of `text`, with an ellipsis when cut.
pub fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// The verdict as a word with an icon.
pub fn verdict_badge(v: Verdict) -> &'static str {
    match v {
        Verdict::Revert => "🔴 revert",
        Verdict::Notify => "🟠 notify",
        Verdict::Restart => "🔁 restart",
        Verdict::Ineligible => "⚪ ineligible",
    }
}

/// A short list of the restarts wanted, as markdown bullets.
pub fn restarts_list(snapshot: &Snapshot, detection: &Detection) -> String {
    let mut out = String::new();
    for r in &detection.restarts {
        let Some(commit) = snapshot.commits.get(r.commit) else {
            continue;
        };
        let _ = writeln!(
            out,
            "- {} on {}: {}",
            inline(&r.workflow),
            code(short(&commit.sha)),
            inline(&r.reason)
        );
    }
    out
}
