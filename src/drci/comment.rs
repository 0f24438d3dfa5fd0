//! The pull request's Dr. CI comment: a header with the counts, then one
//! collapsible section per class. Everything from outside is escaped.

use std::fmt::Write as _;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::classify::{Class, Counts, DownstreamNote, Evidence, Verdict};
use super::snapshot::JobFailure;
use crate::github::marker::marker;
use crate::report::hidden;
use crate::report::markdown::{code, inline};

/// GitHub's limit on a comment body, in characters.
pub const COMMENT_LIMIT: usize = 65_536;

/// The marker kind of the comment.
pub const MARKER_KIND: &str = "drci";

/// Longest URL linked; a longer one is left out.
const URL_LIMIT: usize = 500;

/// The comment for these verdicts.
pub fn render(pr: Option<u64>, head_sha: &str, merge_base: &str, verdicts: &[Verdict]) -> String {
    render_within(pr, head_sha, merge_base, verdicts, COMMENT_LIMIT)
}

/// [`render`] with the non-blocking downstream jobs in a section of their
/// own, within `limit` characters.
pub fn render_with(
    pr: Option<u64>,
    head_sha: &str,
    merge_base: &str,
    verdicts: &[Verdict],
    downstream: &[DownstreamNote],
    limit: usize,
) -> String {
    let caps = [usize::MAX, 200, 100, 50, 20, 10, 5, 2, 1, 0];
    let mut body = String::new();
    for cap in caps {
        body = render_capped(pr, head_sha, merge_base, verdicts, downstream, cap);
        if body.chars().count() <= limit {
            return body;
        }
    }
    body.chars().take(limit).collect()
}

/// [`render`] within `limit` characters: long sections show their first
/// jobs and a count of the rest.
pub fn render_within(
    pr: Option<u64>,
    head_sha: &str,
    merge_base: &str,
    verdicts: &[Verdict],
    limit: usize,
) -> String {
    let caps = [usize::MAX, 200, 100, 50, 20, 10, 5, 2, 1, 0];
    let mut body = String::new();
    for cap in caps {
        body = render_capped(pr, head_sha, merge_base, verdicts, &[], cap);
        if body.chars().count() <= limit {
            return body;
        }
    }
    // Not reached with sane limits: cut on a character boundary.
    body.chars().take(limit).collect()
}

/// The comment while no job of the head SHA has reported yet (a push
/// just happened): it replaces the previous head's verdicts at once.
pub fn render_waiting(pr: Option<u64>, head_sha: &str, merge_base: &str) -> String {
    let key = pr.map_or_else(|| "head".to_string(), |n| n.to_string());
    let mut out = marker(MARKER_KIND, &key);
    out.push('\n');
    out.push_str("## ⏳ Waiting for CI\n\n");
    let base = if merge_base.is_empty() {
        String::new()
    } else {
        format!(" (merge base {})", sha_short(merge_base))
    };
    let _ = writeln!(
        out,
        "As of head {}{base}: no job has reported yet. This comment is updated as jobs finish.",
        sha_short(head_sha)
    );
    out
}

/// One line for a check run's title: the counts, in the header's words.
pub fn headline(counts: &Counts) -> String {
    format!(
        "{}, {} pending, {}",
        plural(counts.new, "new failure"),
        counts.pending,
        plural(counts.unrelated, "unrelated failure"),
    )
}

fn sha_short(sha: &str) -> String {
    code(&sha.chars().take(12).collect::<String>())
}

fn title(class: Class) -> &'static str {
    match class {
        Class::New => "NEW FAILURES: the following jobs failed because of this pull request",
        Class::Unclassified => {
            "UNCLASSIFIED: the following jobs failed, and never ran on the merge base"
        }
        Class::Flaky => "FLAKY: the following jobs failed, but were likely due to flakiness",
        Class::BrokenTrunk => {
            "BROKEN TRUNK: the following jobs failed, and failed the same way on the merge base"
        }
        Class::Unstable => "UNSTABLE: the following jobs failed, and are marked unstable",
        Class::Pending => "PENDING: the following jobs have not finished",
        Class::AwaitingApproval => "AWAITING APPROVAL: the following jobs wait for approval",
        Class::Cancelled => "CANCELLED: the following jobs were cancelled",
    }
}

fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {one}s")
    }
}

/// A URL that may be linked: `https://`, bounded, nothing that ends the
/// link or breaks out of it.
fn safe_url(url: Option<&str>) -> Option<&str> {
    let u = url?.trim();
    let ok = u.starts_with("https://")
        && u.len() <= URL_LIMIT
        && u.chars().all(|c| {
            c.is_ascii_graphic()
                && !matches!(c, '(' | ')' | '<' | '>' | '[' | ']' | '`' | '"' | '\\')
        });
    ok.then_some(u)
}

fn job_link(name: &str, url: Option<&str>) -> String {
    match safe_url(url) {
        Some(u) => format!("[{}]({u})", code(name)),
        None => code(name),
    }
}

fn evidence_line(e: &Evidence) -> String {
    let mut s = String::from("Evidence: ");
    match e.kind {
        "merge_base" => s.push_str("on the merge base, "),
        "trunk" => s.push_str("on the default branch, "),
        "pr" => match e.pr {
            Some(n) => {
                let _ = write!(s, "on pull request #{n}, ");
            }
            None => s.push_str("on another pull request, "),
        },
        "same_pr" => s.push_str("in this pull request, "),
        "known_flaky" => s.push_str("known flaky in retry's memory, "),
        "category" => s.push_str("the analyser's category, "),
        "issue" => match e.issue {
            Some(n) => {
                let _ = write!(s, "open issue #{n}, ");
            }
            None => s.push_str("an open issue, "),
        },
        "pattern" => s.push_str("the `drci.unstable` pattern "),
        "downstream" => s.push_str("downstream CI of "),
        _ => {}
    }
    if let Some(job) = &e.job {
        s.push_str(&job_link(job, e.url.as_deref()));
        s.push(' ');
    }
    if let Some(sha) = &e.sha {
        let _ = write!(s, "at {} ", sha_short(sha));
    }
    if let Some(d) = &e.detail {
        s.push_str(&code(d));
    }
    s.trim_end().trim_end_matches(',').to_string()
}

fn item(v: &Verdict) -> String {
    let mut s = format!("* {}", job_link(&v.name, v.url.as_deref()));
    if v.attempt > 1 {
        let _ = write!(s, " (attempt {})", v.attempt);
    }
    let _ = write!(s, ": {}", inline(&v.reason));
    let downstream = v.evidence.as_ref().is_some_and(|e| e.kind == "downstream");
    if !downstream
        && matches!(
            v.class,
            Class::New | Class::Unclassified | Class::Flaky | Class::BrokenTrunk | Class::Unstable
        )
    {
        match &v.cause {
            Some(c) if !c.trim().is_empty() => {
                let _ = write!(s, "\n  {}", code(c));
            }
            _ => s.push_str("\n  (no cause found in the log)"),
        }
    }
    if let Some(e) = &v.evidence {
        let _ = write!(s, "\n  {}", evidence_line(e));
    }
    s
}

fn render_capped(
    pr: Option<u64>,
    head_sha: &str,
    merge_base: &str,
    verdicts: &[Verdict],
    downstream: &[DownstreamNote],
    cap: usize,
) -> String {
    let counts = Counts::of(verdicts);
    let key = pr.map_or_else(|| "head".to_string(), |n| n.to_string());
    let mut out = marker(MARKER_KIND, &key);
    out.push('\n');
    let emoji = if counts.new > 0 {
        "❌"
    } else if counts.unclassified > 0 {
        "⚠️"
    } else if counts.pending > 0 {
        "⏳"
    } else {
        "✅"
    };
    let _ = writeln!(
        out,
        "## {emoji} {}, {} Pending, {}\n",
        plural(counts.new, "New Failure"),
        counts.pending,
        plural(counts.unrelated, "Unrelated Failure"),
    );
    let _ = writeln!(
        out,
        "As of head {} (merge base {}):\n",
        sha_short(head_sha),
        sha_short(merge_base)
    );
    if counts.new > 0 {
        let _ = writeln!(
            out,
            "**{} caused by this pull request.**\n",
            plural(counts.new, "failure")
        );
    } else if counts.unclassified > 0 {
        let _ = writeln!(
            out,
            "**{} could not be classified: the merge base has no result for {}.**\n",
            plural(counts.unclassified, "failure"),
            if counts.unclassified == 1 {
                "it"
            } else {
                "them"
            }
        );
    } else if counts.pending > 0 {
        out.push_str("No new failures so far; some jobs have not finished.\n\n");
    } else {
        out.push_str("No new failures. You can merge normally.\n\n");
    }
    for class in Class::ALL {
        let items: Vec<&Verdict> = verdicts.iter().filter(|v| v.class == class).collect();
        if items.is_empty() {
            continue;
        }
        let open = if class == Class::New { " open" } else { "" };
        let _ = writeln!(
            out,
            "<details{open}><summary><b>{}</b> ({})</summary>\n",
            title(class),
            items.len()
        );
        for v in items.iter().take(cap) {
            out.push_str(&item(v));
            out.push('\n');
        }
        if items.len() > cap {
            let _ = writeln!(
                out,
                "* … and {} more not shown",
                items.len() - cap.min(items.len())
            );
        }
        out.push_str("\n</details>\n\n");
    }
    if !downstream.is_empty() {
        let _ = writeln!(
            out,
            "<details><summary><b>DOWNSTREAM (non-blocking): the following downstream jobs did not pass</b> ({})</summary>\n",
            downstream.len()
        );
        for d in downstream.iter().take(cap) {
            let _ = writeln!(
                out,
                "* {}: {} ({}, non-blocking)",
                job_link(&d.name, d.url.as_deref()),
                d.state,
                code(&d.level)
            );
        }
        if downstream.len() > cap {
            let _ = writeln!(
                out,
                "* … and {} more not shown",
                downstream.len() - cap.min(downstream.len())
            );
        }
        out.push_str("\n</details>\n\n");
    }
    out.trim_end().to_string() + "\n"
}

/// The kind of the analysis cache hidden at the end of the comment.
pub const CACHE_KIND: &str = "drci-cache";
/// Jobs whose analysis the comment keeps, at most.
pub const CACHE_MAX_JOBS: usize = 200;
/// Longest cause line kept in the cache (a longer one is not cached).
const CACHE_MAX_TEXT: usize = 1_000;
/// Longest fingerprint or rule kept in the cache.
const CACHE_MAX_KEY: usize = 200;
/// Room the hidden cache takes in the comment, at most (the rest of
/// GitHub's limit is the visible comment's).
pub const CACHE_MAX_CHARS: usize = 20_000;

/// Each analysed job's failure (`None`: its log explained nothing), by
/// GitHub's job id, sealed with a digest of the whole comment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AnalysisCache {
    pub jobs: BTreeMap<u64, Option<JobFailure>>,
    #[serde(default)]
    pub body_sha256: Option<String>,
}

impl AnalysisCache {
    /// Keep this analysis if it fits the bounds.
    pub fn insert(&mut self, id: u64, failure: Option<&JobFailure>) {
        if self.jobs.len() >= CACHE_MAX_JOBS && !self.jobs.contains_key(&id) {
            return;
        }
        if let Some(f) = failure
            && (f.text.chars().count() > CACHE_MAX_TEXT
                || f.fingerprint.chars().count() > CACHE_MAX_KEY
                || f.rule.chars().count() > CACHE_MAX_KEY)
        {
            return;
        }
        self.jobs.insert(id, failure.cloned());
    }
}

/// `body` with `cache` hidden on its last line, sealed.
pub fn with_cache(body: &str, cache: &AnalysisCache) -> String {
    if cache.jobs.is_empty() {
        return body.to_string();
    }
    let mut sealed = AnalysisCache {
        jobs: cache.jobs.clone(),
        body_sha256: Some(hidden::DIGEST_PLACEHOLDER.to_string()),
    };
    let mut line = hidden::line(CACHE_KIND, &sealed);
    // Over its room, the newest jobs (highest ids) are left out.
    while line.chars().count() > CACHE_MAX_CHARS && sealed.jobs.pop_last().is_some() {
        line = hidden::line(CACHE_KIND, &sealed);
    }
    if sealed.jobs.is_empty() {
        return body.to_string();
    }
    let mut out = body.trim_end().to_string();
    out.push_str("\n\n");
    out.push_str(&line);
    out.push('\n');
    hidden::seal(out)
}

/// The cache of a comment of ours, if its last line holds one and the body
/// is as it was sealed (an edited body, or a block quoted from a log or a
/// pull request's text, counts for nothing).
pub fn read_cache(body: &str) -> Option<AnalysisCache> {
    let cache: AnalysisCache = hidden::read(body, CACHE_KIND)?;
    let digest = cache.body_sha256.as_deref()?;
    if !hidden::is_as_sealed(body, digest) || cache.jobs.len() > CACHE_MAX_JOBS {
        return None;
    }
    Some(cache)
}

/// The comment without its hidden cache (what the check run repeats).
pub fn visible(body: &str) -> &str {
    let open = format!("<!-- ci-medic:{CACHE_KIND} ");
    match body.rfind(&open) {
        Some(at) if read_cache(body).is_some() => body[..at].trim_end(),
        _ => body,
    }
}
