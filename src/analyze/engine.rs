//! Streaming analysis of one job: every line is scanned once, candidate
//! lines are kept per step with bounded memory, and at the end the failed
//! step decides which candidates are reported and in what order.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::BufRead;
use std::sync::LazyLock;

use regex::bytes::Regex;

use super::fingerprint;
use super::rules::{Annotation, JOB_LEVEL_PRIORITY, RuleSet};
use super::{Category, Failure, StepHint};
use crate::logs::clean::append_if_unclean;
use crate::logs::clean::{classify, truncate_chars};
use crate::logs::scan::{exit_code_line, line_bytes, split_payload};
use crate::logs::{
    CleanedAhead, Format, LineReader, LineRole, Marker, RawLine, ScannedLine, Scanner, Segment,
    SegmentKind, StepStart,
};

/// Lines of context kept before a reported line.
const CONTEXT_BEFORE: usize = 3;
/// Lines of context kept after a reported line's block.
const CONTEXT_AFTER: u64 = 3;
/// A reported line's block (indented continuation lines) is at most this long.
const MAX_BLOCK_LINES: u64 = 30;
/// Context lines kept per failure (the issue body shows them).
const MAX_CONTEXT_LINES: usize = 40;
/// Characters kept per context line and per reported text.
const MAX_TEXT_CHARS: usize = 400;
/// Candidates kept per step; the lowest-priority, latest one is evicted.
const PER_SEGMENT_CANDIDATES: usize = 32;
/// Steps holding candidates at once; older steps that did not fail are evicted.
const MAX_SLOTS: usize = 48;
/// Job-level candidates (priority >= JOB_LEVEL_PRIORITY) kept.
const MAX_JOB_LEVEL: usize = 16;
/// Last content lines of each step kept for the fallback.
const TAIL_LINES: usize = 15;
/// Tails of failed steps kept.
const MAX_TAILS: usize = 32;
/// When the failed step has no candidate at or above this priority, its
/// last error-looking lines are reported as well.
const FALLBACK_BELOW: i32 = 20;
/// Priority of a fallback error-looking line (above pure wrappers).
const FALLBACK_PRIORITY: i32 = 12;
/// Priority of the failed step's last line when nothing else is known.
const LAST_LINE_PRIORITY: i32 = 1;
/// Warnings are rarely why a step failed.
const WARNING_PENALTY: i32 = 20;
/// In a structured log with no failure marker, the last step is only a
/// guess: report its specific errors, not generic error-looking lines.
const PRESUMED_MIN_PRIORITY: i32 = 55;
/// Rules below this priority only say that something else failed (wrapper
/// lines: `make: *** Error 2`, `exited with code 1`, a container hook's
/// own failure): they rank after every line that says what failed.
const WRAPPER_BELOW: i32 = 26;
/// Tiers a wrapper line is moved down by (below every other tier).
const WRAPPER_TIERS: u8 = 4;
/// Tier of a generic error line in a failed step whose tests passed: after
/// the specific lines of every failed step, before wrapper lines.
const EXPECTED_ERROR_TIER: u8 = 3;
/// Error-looking lines reported by the fallback, at most.
const MAX_FALLBACK_LINES: usize = 3;

const FALLBACK_RULE: &str = "fallback-error-line";
const LAST_LINE_RULE: &str = "fallback-last-line";
const HEADER_RULE: &str = "fallback-step-command";

static ERRORISH: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:errors?|fail(?:s|ed|ure|ures|ing)?|fatal|exception|panic(?:ked)?|abort(?:ed|ing)?|denied|invalid|cannot|can't|couldn't|could not|unable|not found|missing|refused|timed out|unexpected|segmentation|killed|no such|not allowed|forbidden|unauthorized|conflicts?|mismatch|violations?|does not exist|doesn't exist|not supported|unsupported|already exists|exiting)\b",
    )
    .ok()
});

static NOT_ERRORISH: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?i)\b0 (?:errors?|failures?|failed)\b|\b(?:errors?|failures?|failed):? 0\b|\bno errors?\b|\bwithout errors?\b").ok()
});

fn errorish(text: &[u8]) -> bool {
    ERRORISH.as_ref().is_some_and(|r| r.is_match(text))
        && !NOT_ERRORISH.as_ref().is_some_and(|r| r.is_match(text))
}

/// Where a failure ranks: lower sorts first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct RankKey {
    /// 0 job-level, 1 the failed step, 2 other failed steps, 3 elsewhere;
    /// wrapper lines 4 more than their step's tier.
    pub tier: u8,
    pub neg_priority: i32,
    pub job: usize,
    pub order: u64,
}

/// A failure with its rank, before the final merge.
#[derive(Debug, Clone)]
pub(crate) struct Ranked {
    pub key: RankKey,
    pub failure: Failure,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RuleRef {
    /// Index of a rule of the set.
    Rule(usize),
    /// One of the fallbacks, by rule id.
    Fallback(&'static str),
}

#[derive(Debug, Clone)]
struct Cand {
    rule: RuleRef,
    priority: i32,
    segment: usize,
    source: usize,
    line: u64,
    end_line: u64,
    text: String,
    captures: BTreeMap<String, String>,
    context: Vec<String>,
    context_start: u64,
    order: u64,
    /// Still taking continuation lines.
    block_open: bool,
}

impl Cand {
    /// A fallback candidate, built once the step is known to have failed:
    /// no captures, no block, ordered after every line a rule found.
    fn fallback(
        rule: &'static str,
        priority: i32,
        segment: usize,
        source: usize,
        line: u64,
        text: String,
        (context, context_start): (Vec<String>, u64),
    ) -> Cand {
        Cand {
            rule: RuleRef::Fallback(rule),
            priority,
            segment,
            source,
            line,
            end_line: line,
            text,
            captures: BTreeMap::new(),
            context,
            context_start,
            order: u64::MAX / 2 + line,
            block_open: false,
        }
    }
}

#[derive(Debug)]
struct Slot {
    segment: usize,
    cands: Vec<Cand>,
}

/// A step's last content lines, cleaned.
type Tail = Vec<(u64, String)>;

/// One job's analysis (possibly over several files: zip step files).
pub(crate) struct JobAnalyzer<'r> {
    rules: &'r RuleSet,
    scanner: Scanner,
    sources: Vec<String>,
    job: Option<String>,
    job_index: usize,
    hint: Option<StepHint>,
    lines: Collector,
    /// Tails of the failed (or hinted) steps, for the fallback.
    tails: Vec<(usize, Tail)>,
    /// (segment, run) pairs where a line says what failed, and where
    /// failures are listed after a failing summary (set by `finish`).
    specific_runs: BTreeSet<(usize, usize)>,
    detailed_runs: BTreeSet<(usize, usize)>,
}

/// What the pass over the lines keeps: the context above the current line,
/// candidates still taking lines, each step's candidates and the current
/// step's tail.
struct Collector {
    scratch: Vec<usize>,
    before: Ring,
    pending: Vec<Cand>,
    slots: Vec<Slot>,
    job_level: Vec<Cand>,
    tail: Ring,
    tail_segment: Option<usize>,
    order: u64,
    source: usize,
    /// The order of a header rule's candidate, waiting for the line it heads.
    header: Option<u64>,
    /// The step and source of a list of allowed failures being read.
    allowed_list: Option<(usize, usize)>,
}

/// Lines below a header that may hold the first item it heads; no more
/// than [`CONTEXT_AFTER`], so that its candidate is still pending.
const HEADER_REACH: u64 = 3;

fn lossy(b: &[u8]) -> String {
    // A line of at most MAX_TEXT_CHARS bytes has at most that many chars.
    if b.len() <= MAX_TEXT_CHARS {
        return String::from_utf8_lossy(b).into_owned();
    }
    truncate_chars(&String::from_utf8_lossy(b), MAX_TEXT_CHARS)
}

/// A line continues the block above it (indented detail, stack frames).
fn is_continuation(text: &[u8]) -> bool {
    match text.first() {
        Some(b' ' | b'\t' | b'|') => text.iter().any(|c| !c.is_ascii_whitespace()),
        _ => text.starts_with(b"[ERROR]   ") || text.starts_with(b"E   "),
    }
}

impl<'r> JobAnalyzer<'r> {
    pub(crate) fn new(
        rules: &'r RuleSet,
        job: Option<&str>,
        hint: Option<StepHint>,
        job_index: usize,
    ) -> Self {
        Self {
            rules,
            scanner: Scanner::new(),
            sources: Vec::new(),
            job: job.map(str::to_string),
            job_index,
            hint,
            lines: Collector {
                scratch: Vec::new(),
                before: Ring::new(CONTEXT_BEFORE),
                pending: Vec::new(),
                slots: Vec::new(),
                job_level: Vec::new(),
                tail: Ring::new(TAIL_LINES),
                tail_segment: None,
                order: 0,
                source: 0,
                header: None,
                allowed_list: None,
            },
            tails: Vec::new(),
            specific_runs: BTreeSet::new(),
            detailed_runs: BTreeSet::new(),
        }
    }

    /// Known step boundaries for the next file (zip job logs).
    pub(crate) fn set_step_starts(&mut self, starts: Vec<StepStart>) {
        self.scanner.set_step_starts(starts);
    }

    /// Reads one file of this job to the end.
    pub(crate) fn feed<R: BufRead>(
        &mut self,
        source: &str,
        step: Option<&str>,
        reader: R,
    ) -> std::io::Result<()> {
        self.begin_file(source, step);
        let mut reader = LineReader::new(reader);
        while let Some(raw) = reader.next_line()? {
            self.line(&raw, None);
        }
        self.end_file();
        Ok(())
    }

    /// Starts one file of this job; its lines follow in order through
    /// [`JobAnalyzer::line`], then [`JobAnalyzer::end_file`].
    pub(crate) fn begin_file(&mut self, source: &str, step: Option<&str>) {
        self.lines.close_all_pending();
        self.lines.before.clear();
        self.sources.push(source.to_string());
        self.lines.source = self.sources.len() - 1;
        self.scanner.begin_source(self.lines.source, step);
    }

    /// Takes the file's next line. `ahead` is its cleaning and rule when a
    /// [`Prematcher`] found them ahead (on another thread); `None` does
    /// both here.
    pub(crate) fn line(&mut self, raw: &RawLine<'_>, ahead: Option<Ahead<'_>>) {
        let scanned = self.scanner.scan_cleaned(raw, ahead.map(|a| a.cleaned));
        let matched = ahead.map(|a| a.rule);
        // Keeping a finished step's tail needs the scanner's segments,
        // which the scanned line borrows: done once that borrow ends.
        if let Some((seg, tail)) = self.lines.add_line(&scanned, self.rules, matched) {
            self.keep_tail(seg, tail);
        }
        let current = self.scanner.segments().len().saturating_sub(1);
        self.evict_slots(current);
    }

    /// Ends the current file.
    pub(crate) fn end_file(&mut self) {
        self.lines.close_all_pending();
    }

    fn keep_tail(&mut self, segment: usize, tail: Tail) {
        let keep = self
            .scanner
            .segments()
            .get(segment)
            .is_some_and(|s| s.failed() || hint_matches_segment(self.hint.as_ref(), s));
        if keep && !tail.is_empty() {
            if self.tails.len() >= MAX_TAILS {
                self.tails.remove(0);
            }
            self.tails.push((segment, tail));
        }
    }

    fn evict_slots(&mut self, current: usize) {
        let slots = &mut self.lines.slots;
        if slots.len() <= MAX_SLOTS {
            return;
        }
        let segments = self.scanner.segments();
        let hint = self.hint.as_ref();
        let victim = slots
            .iter()
            .position(|s| {
                s.segment != current
                    && segments
                        .get(s.segment)
                        .is_none_or(|seg| !seg.failed() && !hint_matches_segment(hint, seg))
            })
            .unwrap_or(0);
        slots.remove(victim);
    }

    /// Whether any step of this job shows a failure marker.
    pub(crate) fn any_failed(&self) -> bool {
        self.scanner.segments().iter().any(Segment::failed)
    }

    /// Ends the analysis: picks the failed step(s) and ranks candidates.
    pub(crate) fn finish(mut self) -> Vec<Ranked> {
        self.lines.close_all_pending();
        if let Some(seg) = self.lines.tail_segment.take() {
            let tail = self.lines.tail.take_lossy();
            self.keep_tail(seg, tail);
        }
        let mut cands: Vec<Cand> = self.lines.slots.drain(..).flat_map(|s| s.cands).collect();
        cands.append(&mut self.lines.job_level);
        self.mark_runs(&cands);

        let segments = self.scanner.segments();
        let job_of = |i: usize| segments[i].job.as_ref().or(self.job.as_ref());
        // Jobs in this file: one, or several for `gh run view --log`.
        let mut jobs: Vec<Option<&String>> = Vec::new();
        for i in 0..segments.len() {
            let j = job_of(i);
            if !jobs.contains(&j) {
                jobs.push(j);
            }
        }
        if jobs.is_empty() {
            jobs.push(self.job.as_ref());
        }
        let text_format = self.scanner.format() == Some(crate::logs::Format::Text);
        let any_failed = segments.iter().any(Segment::failed);
        let structured = segments
            .iter()
            .any(|s| s.kind != SegmentKind::Step || s.name != "log");

        let mut out = Vec::new();
        for (ji, &job) in jobs.iter().enumerate() {
            let seg_ids: Vec<usize> = (0..segments.len()).filter(|&i| job_of(i) == job).collect();
            let hint = if jobs.len() == 1 || job == self.job.as_ref() {
                self.hint.as_ref()
            } else {
                None
            };
            // Travis runs every `script` command whatever the one before
            // did: there the last failed command is the likeliest cause.
            let (mut primary, hinted_name) = pick_primary(segments, &seg_ids, hint, !text_format);
            let failed: Vec<usize> = seg_ids
                .iter()
                .copied()
                .filter(|&i| segments[i].failed())
                .collect();
            // When another job of the file shows a failure, a job without
            // any is one that passed: only job-level events count there.
            if failed.is_empty() && any_failed {
                primary = None;
            }
            // The primary step was guessed (no failure marker anywhere in a
            // structured log): only specific errors are worth reporting.
            let mut presumed = structured && failed.is_empty() && primary.is_some();
            if presumed && text_format {
                // Travis prints every command's exit status: a last command
                // without one was cut short (killed, timed out), so its errors
                // count in full. A command that exited 0 did not fail at all.
                presumed = false;
                if primary.is_some_and(|p| segments[p].exit_code == Some(0)) {
                    primary = None;
                }
            }
            let tier_of = |seg: usize, priority: i32| -> Option<u8> {
                if priority >= JOB_LEVEL_PRIORITY {
                    return Some(0);
                }
                if Some(seg) == primary {
                    if presumed && priority < PRESUMED_MIN_PRIORITY {
                        return None;
                    }
                    return Some(1);
                }
                if failed.contains(&seg) {
                    return Some(2);
                }
                // No failed step known: plain text logs report everything.
                if primary.is_none() && failed.is_empty() && !structured {
                    return Some(3);
                }
                None
            };
            let mut job_cands: Vec<Cand> = cands
                .extract_if(.., |c| seg_ids.contains(&c.segment))
                .collect();
            if let Some(p) = primary {
                let extra = self.fallbacks(p, &segments[p], &job_cands);
                job_cands.extend(extra);
            }
            // Steps where a line other than a wrapper or a passing test's
            // output says what failed.
            let explained: Vec<usize> = job_cands
                .iter()
                .filter(|c| {
                    matches!(c.rule, RuleRef::Rule(_))
                        && c.priority >= WRAPPER_BELOW
                        && !self.expected_error(&segments[c.segment], c)
                })
                .map(|c| c.segment)
                .collect();
            for c in job_cands {
                let Some(mut tier) = tier_of(c.segment, c.priority) else {
                    continue;
                };
                if matches!(c.rule, RuleRef::Rule(_)) && c.priority < WRAPPER_BELOW {
                    tier += WRAPPER_TIERS;
                }
                let seg = &segments[c.segment];
                // A step whose test run passed prints error lines on purpose
                // (tests of error handling): a generic one is no failure there
                // unless the step failed. Then it is reported only when no
                // other line of the step says what failed (something after
                // the tests did), and after every line that does elsewhere.
                if self.expected_error(seg, &c) {
                    if !seg.failed() || explained.contains(&c.segment) {
                        continue;
                    }
                    tier = tier.max(EXPECTED_ERROR_TIER);
                }
                // The one segment of a plain text log has no step name.
                let unnamed =
                    seg.kind == SegmentKind::Step && seg.name == "log" && !seg.name_is_real;
                let step = match hinted_name {
                    Some(name) if Some(c.segment) == primary => Some(name.to_string()),
                    _ => (!unnamed).then(|| seg.name.clone()),
                };
                let key = RankKey {
                    tier,
                    neg_priority: -c.priority,
                    job: self.job_index + ji,
                    order: c.order,
                };
                if let Some(f) = self.to_failure(c, step, job.cloned()) {
                    out.push(Ranked { key, failure: f });
                }
            }
        }
        out
    }

    /// What to report from the failed step `p` when no rule found a strong
    /// candidate there: the error-looking lines among its last lines, else its last line,
    /// else (a step that printed nothing) its command.
    fn fallbacks(&self, p: usize, seg: &Segment, job_cands: &[Cand]) -> Vec<Cand> {
        let mut own = job_cands
            .iter()
            .filter(|c| c.segment == p && !self.expected_error(seg, c))
            .peekable();
        let have_any = own.peek().is_some();
        if own.any(|c| c.priority >= FALLBACK_BELOW) {
            return Vec::new();
        }
        let tail = self.tails.iter().rev().find(|(s, _)| *s == p);
        let added = tail.map_or_else(Vec::new, |(_, t)| {
            fallback_cands(t, p, seg.source, have_any)
        });
        if added.is_empty() && !have_any && seg.failed() {
            return header_cand(seg, p).into_iter().collect();
        }
        added
    }

    /// A line that says nothing specific (an `Error:` prefix, an exception
    /// name, an error-looking fallback line; not a wrapper).
    fn generic(&self, c: &Cand) -> bool {
        match c.rule {
            RuleRef::Rule(i) => self.rules.rule(i).is_some_and(|r| {
                r.spec.category == Category::Unknown
                    && (WRAPPER_BELOW..JOB_LEVEL_PRIORITY).contains(&r.spec.priority)
            }),
            RuleRef::Fallback(id) => id == FALLBACK_RULE,
        }
    }

    /// A generic line that a test run printed as part of its own output: in
    /// a run whose tests passed, above its summary; in a run that lists its
    /// failures after its summary (mocha), above that summary; or in an inner
    /// group of the step where no line says what failed (a sub-step of the
    /// tool that went on); or anywhere in a step whose script lets commands
    /// fail (`|| true`).
    fn expected_error(&self, seg: &Segment, c: &Cand) -> bool {
        if c.source != seg.source || !self.generic(c) {
            return false;
        }
        if seg.ignores_failures() {
            return true;
        }
        let Some((i, run)) = seg.run_at(c.line) else {
            return false;
        };
        if run.failing == 0 && run.last_passing.is_some_and(|l| c.line < l) {
            return true;
        }
        let key = (c.segment, i);
        if run.first_failing.is_some_and(|l| c.line < l) && self.detailed_runs.contains(&key) {
            return true;
        }
        run.group && !self.specific_runs.contains(&key)
    }

    /// Notes, for [`JobAnalyzer::expected_error`], the runs where a line
    /// says what failed and those whose failures are listed after their
    /// failing summary.
    fn mark_runs(&mut self, cands: &[Cand]) {
        let segments = self.scanner.segments();
        let mut specific = BTreeSet::new();
        let mut detailed = BTreeSet::new();
        for c in cands {
            if !matches!(c.rule, RuleRef::Rule(_)) || c.priority < WRAPPER_BELOW {
                continue;
            }
            let Some(seg) = segments.get(c.segment).filter(|s| s.source == c.source) else {
                continue;
            };
            let Some((i, run)) = seg.run_at(c.line) else {
                continue;
            };
            // Only a line that says what failed lists a failure: a generic
            // epilogue after the summary does not.
            if self.generic(c) {
                continue;
            }
            if run.first_failing.is_some_and(|l| c.line > l) {
                detailed.insert((c.segment, i));
            }
            specific.insert((c.segment, i));
        }
        self.specific_runs = specific;
        self.detailed_runs = detailed;
    }

    fn to_failure(&self, c: Cand, step: Option<String>, job: Option<String>) -> Option<Failure> {
        let source = self.sources.get(c.source).cloned().unwrap_or_default();
        let (rule, category, fixable) = match c.rule {
            RuleRef::Rule(i) => {
                let spec = &self.rules.rule(i)?.spec;
                (spec.id.clone(), spec.category, spec.fixable)
            }
            RuleRef::Fallback(id) => (id.to_string(), Category::Unknown, false),
        };
        let fingerprint = if c.captures.is_empty() {
            fingerprint::fingerprint_text(&rule, &c.text)
        } else {
            let parts: Vec<&str> = c.captures.values().map(String::as_str).collect();
            fingerprint::fingerprint_of(&rule, &parts)
        };
        Some(Failure {
            source,
            job,
            step,
            line: c.line,
            end_line: c.end_line.max(c.line),
            text: c.text,
            category,
            rule,
            captures: c.captures,
            fingerprint,
            fixable,
            context: c.context,
            context_start: c.context_start,
        })
    }
}

impl Collector {
    /// Takes one scanned line. Returns the tail of the step that ended just
    /// above it, if the line starts another.
    fn add_line(
        &mut self,
        l: &ScannedLine<'_>,
        rules: &RuleSet,
        matched: Option<Option<usize>>,
    ) -> Option<(usize, Tail)> {
        let closed = match self.tail_segment.replace(l.segment) {
            Some(prev) if prev != l.segment => Some((prev, self.tail.take_lossy())),
            _ => None,
        };
        // The rule first: a list of allowed failures reports nothing, and
        // what a header does depends on its rule.
        let mut rule = if self.in_allowed_list(l) {
            None
        } else {
            self.rule_of(l, rules, matched)
        };
        let spec = rule.and_then(|i| rules.rule(i)).map(|r| &r.spec);
        if spec.is_some_and(|s| s.allowed_list) {
            self.allowed_list = Some((l.segment, self.source));
            rule = None;
        }
        let is_header = rule.is_some() && spec.is_some_and(|s| s.header);
        let mut new_cand = rule.and_then(|i| self.candidate(l, rules, i));
        self.follow_header(l, &mut new_cand, is_header);
        if is_header {
            self.header = new_cand.as_ref().map(|c| c.order);
        }
        self.extend_pending(l, new_cand);
        self.before.push(l.number, l.text);
        // Tail of the current segment (for the fallback).
        if l.role == LineRole::Content && !l.body.is_empty() && exit_code_line(l.body).is_none() {
            self.tail.push(l.number, l.text);
        }
        closed
    }

    /// Whether the line is in a list of allowed failures (see
    /// [`RuleSpec::allowed_list`]); a blank line or another step ends it.
    ///
    /// [`RuleSpec::allowed_list`]: super::rules::RuleSpec::allowed_list
    fn in_allowed_list(&mut self, l: &ScannedLine<'_>) -> bool {
        let Some((segment, source)) = self.allowed_list else {
            return false;
        };
        if segment != l.segment || source != self.source {
            self.allowed_list = None;
            return false;
        }
        if l.role == LineRole::Content && l.body.is_empty() {
            self.allowed_list = None;
        }
        true
    }

    /// Moves a header's candidate to the first non-blank line below it (the
    /// first failure it lists), reporting that line under the header's rule
    /// unless a better rule or another header reports it: a header itself
    /// names no failure.
    fn follow_header(&mut self, l: &ScannedLine<'_>, own: &mut Option<Cand>, own_is_header: bool) {
        let Some(order) = self.header.take() else {
            return;
        };
        let Some(i) = self.pending.iter().position(|c| c.order == order) else {
            return;
        };
        let h = &self.pending[i];
        let near = h.source == self.source
            && h.segment == l.segment
            && l.number > h.line
            && l.number - h.line <= HEADER_REACH;
        // Only the output below the header: not the runner's annotations
        // nor its exit code line.
        if !near
            || l.role != LineRole::Content
            || l.marker != Marker::None
            || exit_code_line(l.body).is_some()
        {
            return;
        }
        if l.body.is_empty() {
            // A blank line between the header and its list.
            self.header = Some(order);
            return;
        }
        match own {
            Some(c) if own_is_header || c.priority > h.priority => {
                self.pending.remove(i);
            }
            _ => {
                *own = None;
                let c = &mut self.pending[i];
                c.line = l.number;
                c.end_line = l.number;
                c.text = lossy(l.body);
            }
        }
    }

    /// The best rule reporting this line (found ahead, or now).
    fn rule_of(
        &mut self,
        l: &ScannedLine<'_>,
        rules: &RuleSet,
        matched: Option<Option<usize>>,
    ) -> Option<usize> {
        // The scanner trimmed the line: an empty body is a blank line.
        if l.role != LineRole::Content || l.body.is_empty() {
            return None;
        }
        let annotation = match l.marker {
            Marker::Error => Some(Annotation::Error),
            Marker::Warning => Some(Annotation::Warning),
            _ => None,
        };
        match matched {
            Some(m) => m,
            None => rules.best_match(l.body, annotation, &mut self.scratch),
        }
    }

    /// A candidate for rule `i` reporting this line, unless its step
    /// already holds enough better ones.
    fn candidate(&mut self, l: &ScannedLine<'_>, rules: &RuleSet, i: usize) -> Option<Cand> {
        let rule = rules.rule(i)?;
        let mut priority = rule.spec.priority;
        if l.marker == Marker::Warning && rule.spec.annotation != Some(Annotation::Warning) {
            priority -= WARNING_PENALTY;
        }
        // A full step keeps its better candidates: do not build one
        // that would be evicted at once (logs with thousands of hits).
        if !self.slot_has_room(l.segment, priority) {
            return None;
        }
        self.order += 1;
        let mut context: Vec<String> = self.before.iter().map(|(_, t)| lossy(t)).collect();
        let context_start = self.before.iter().next().map_or(l.number, |(n, _)| n);
        context.push(lossy(l.text));
        Some(Cand {
            rule: RuleRef::Rule(i),
            priority,
            segment: l.segment,
            source: self.source,
            line: l.number,
            end_line: l.number,
            text: lossy(l.body),
            captures: rule.captures(l.body),
            context,
            context_start,
            order: self.order,
            block_open: true,
        })
    }

    /// Extends or closes the candidates above this line, then adds the
    /// line's own.
    fn extend_pending(&mut self, l: &ScannedLine<'_>, new_cand: Option<Cand>) {
        let continuation =
            new_cand.is_none() && l.role == LineRole::Content && is_continuation(l.text);
        let mut i = 0;
        while i < self.pending.len() {
            let c = &mut self.pending[i];
            if c.block_open
                && continuation
                && l.number - c.line < MAX_BLOCK_LINES
                && c.source == self.source
            {
                c.end_line = l.number;
            } else {
                c.block_open = false;
            }
            let done =
                l.number > c.end_line + CONTEXT_AFTER || c.context.len() >= MAX_CONTEXT_LINES;
            if done {
                let c = self.pending.swap_remove(i);
                self.commit(c);
                continue;
            }
            c.context.push(lossy(l.text));
            i += 1;
        }
        self.pending.extend(new_cand);
    }

    fn close_all_pending(&mut self) {
        for c in std::mem::take(&mut self.pending) {
            self.commit(c);
        }
    }

    /// Whether a candidate of this priority would be kept in its step's slot.
    fn slot_has_room(&self, segment: usize, priority: i32) -> bool {
        if priority >= JOB_LEVEL_PRIORITY {
            return true;
        }
        match self.slots.iter().rev().find(|s| s.segment == segment) {
            Some(slot) if slot.cands.len() >= PER_SEGMENT_CANDIDATES => {
                slot.cands.iter().any(|c| c.priority < priority)
            }
            _ => true,
        }
    }

    /// Stores a finished candidate in its segment's slot, evicting the worst.
    fn commit(&mut self, c: Cand) {
        if c.priority >= JOB_LEVEL_PRIORITY {
            if self.job_level.len() < MAX_JOB_LEVEL {
                self.job_level.push(c);
            }
            return;
        }
        let slots = &mut self.slots;
        let idx = match slots.iter().rposition(|s| s.segment == c.segment) {
            Some(i) => i,
            None => {
                slots.push(Slot {
                    segment: c.segment,
                    cands: Vec::new(),
                });
                slots.len() - 1
            }
        };
        let cands = &mut slots[idx].cands;
        // A repeat of a kept candidate (same rule, same captures or text) adds
        // nothing, unless it carries more detail: test runners list a failure
        // once as it happens and again, with its error, in a summary.
        let repeat = cands.iter_mut().find(|x| {
            x.rule == c.rule
                && x.captures == c.captures
                && (!c.captures.is_empty() || x.text == c.text)
        });
        if let Some(kept) = repeat {
            if c.end_line - c.line > kept.end_line - kept.line {
                let order = kept.order;
                *kept = c;
                kept.order = order;
            }
            return;
        }
        if cands.len() < PER_SEGMENT_CANDIDATES {
            cands.push(c);
            return;
        }
        // Worst: lowest priority, then latest.
        if let Some(worst) = cands
            .iter_mut()
            .min_by_key(|w| (w.priority, std::cmp::Reverse(w.order)))
            && c.priority > worst.priority
        {
            *worst = c;
        }
    }
}

/// What was found for a line ahead of the sequential pass, from the line
/// alone (see [`Prematcher`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ahead<'a> {
    pub cleaned: CleanedAhead<'a>,
    /// The best rule for the line.
    pub rule: Option<usize>,
}

/// Cleans lines and finds the rules [`JobAnalyzer::line`] would find, from
/// the lines alone: what a line says does not depend on the lines around it
/// (only whether it is read does), so this can run ahead on another thread.
pub(crate) struct Prematcher<'r> {
    rules: &'r RuleSet,
    scratch: Vec<usize>,
    bodies: Vec<BodyAt>,
    keyword_ends: Vec<Option<usize>>,
}

/// Where a line's body is: in its raw bytes or in the cleaned text.
#[derive(Debug, Clone, Copy)]
struct BodyAt {
    in_cleaned: bool,
    start: usize,
    end: usize,
    annotation: Option<Annotation>,
}

impl<'r> Prematcher<'r> {
    pub(crate) fn new(rules: &'r RuleSet) -> Self {
        Self {
            rules,
            scratch: Vec::new(),
            bodies: Vec::new(),
            keyword_ends: Vec::new(),
        }
    }

    /// Calls `found` for each of `lines`, in order, with the end of its
    /// cleaned text in `cleaned` when it needed cleaning (the text is then
    /// appended there, see [`append_if_unclean`]) and its best rule, the
    /// log's format being `format` (any format will do for the blank lines
    /// before the first non-blank one).
    pub(crate) fn best_of<'l>(
        &mut self,
        format: Format,
        lines: impl Iterator<Item = RawLine<'l>>,
        cleaned: &mut Vec<u8>,
        mut found: impl FnMut(Option<usize>, Option<usize>),
    ) {
        // A few hundred lines at a time, while they are in cache: clean
        // them, find keywords in their bodies (two at a time, see
        // `keywords`), then match the lines that have one.
        let mut lines = lines.peekable();
        let mut chunk: Vec<RawLine<'l>> = Vec::with_capacity(PREMATCH_CHUNK_LINES);
        while lines.peek().is_some() {
            chunk.clear();
            chunk.extend(lines.by_ref().take(PREMATCH_CHUNK_LINES));
            self.bodies.clear();
            self.bodies
                .extend(chunk.iter().map(|raw| body_at(format, raw, cleaned)));
            let bodies: Vec<&[u8]> = chunk
                .iter()
                .zip(&self.bodies)
                .map(|(raw, at)| at.body(raw, cleaned))
                .collect();
            self.rules
                .first_keyword_ends(&bodies, &mut self.keyword_ends);
            for ((body, at), end) in bodies.iter().zip(&self.bodies).zip(&self.keyword_ends) {
                let rule =
                    self.rules
                        .best_match_after(body, *end, at.annotation, &mut self.scratch);
                found(at.in_cleaned.then_some(at.end), rule);
            }
        }
    }
}

/// Lines cleaned and matched together by [`Prematcher::best_of`].
const PREMATCH_CHUNK_LINES: usize = 256;

impl BodyAt {
    fn body<'a>(&self, raw: &RawLine<'a>, cleaned: &'a [u8]) -> &'a [u8] {
        let text = if self.in_cleaned { cleaned } else { raw.bytes };
        text.get(self.start..self.end).unwrap_or_default()
    }
}

/// Cleans one line (appending its cleaned text to `cleaned` when it needed
/// cleaning) and says where its body is.
fn body_at(format: Format, raw: &RawLine<'_>, cleaned: &mut Vec<u8>) -> BodyAt {
    let line = line_bytes(raw);
    let (_, payload) = split_payload(format, line);
    let start = cleaned.len();
    let needed_cleaning = append_if_unclean(payload, cleaned);
    let (text, offset) = if needed_cleaning {
        (&cleaned[start..], start)
    } else {
        // The payload ends the raw line (after a BOM and the format's
        // prefixes).
        (payload.trim_ascii_end(), raw.bytes.len() - payload.len())
    };
    let (marker, body_start) = classify(text);
    let annotation = match marker {
        Marker::Error => Some(Annotation::Error),
        Marker::Warning => Some(Annotation::Warning),
        _ => None,
    };
    BodyAt {
        in_cleaned: needed_cleaning,
        start: offset + body_start.min(text.len()),
        end: offset + text.len(),
        annotation,
    }
}

/// Bytes kept per ring line: enough for MAX_TEXT_CHARS characters.
const RING_LINE_BYTES: usize = MAX_TEXT_CHARS * 4;

/// The last N lines, with buffers reused so that no line allocates.
struct Ring {
    lines: VecDeque<(u64, Vec<u8>)>,
    cap: usize,
}

impl Ring {
    fn new(cap: usize) -> Self {
        Self {
            lines: VecDeque::with_capacity(cap + 1),
            cap,
        }
    }

    fn push(&mut self, number: u64, text: &[u8]) {
        let mut buf = if self.lines.len() >= self.cap {
            self.lines.pop_front().map(|(_, b)| b).unwrap_or_default()
        } else {
            Vec::new()
        };
        buf.clear();
        buf.extend_from_slice(&text[..text.len().min(RING_LINE_BYTES)]);
        self.lines.push_back((number, buf));
    }

    fn iter(&self) -> impl Iterator<Item = (u64, &[u8])> {
        self.lines.iter().map(|(n, b)| (*n, b.as_slice()))
    }

    fn take_lossy(&mut self) -> Tail {
        self.lines.drain(..).map(|(n, b)| (n, lossy(&b))).collect()
    }

    fn clear(&mut self) {
        self.lines.clear();
    }
}

/// Does a step hint name this segment?
fn hint_matches_segment(hint: Option<&StepHint>, s: &Segment) -> bool {
    hint.and_then(|h| h.name.as_deref())
        .is_some_and(|name| names_match(name, &s.name))
}

fn names_match(hint: &str, name: &str) -> bool {
    let a = hint.trim();
    let b = name.trim();
    !a.is_empty()
        && (a.eq_ignore_ascii_case(b) || b.strip_suffix('…').is_some_and(|p| a.starts_with(p)))
}

/// The failed step: the hinted one when the hint maps to a segment, else the
/// first failed non-post step (steps that run after a failure, such as
/// artifact uploads and cleanups, often fail too, because of it), else the
/// first failed step; with `first_failed` false (Travis, whose commands all
/// run), the last ones instead. Also returns the hint's step name when the
/// hint was used.
fn pick_primary<'h>(
    segments: &[Segment],
    ids: &[usize],
    hint: Option<&'h StepHint>,
    first_failed: bool,
) -> (Option<usize>, Option<&'h str>) {
    let last_where = |pred: &dyn Fn(&Segment) -> bool| -> Option<usize> {
        ids.iter().rev().copied().find(|&i| pred(&segments[i]))
    };
    let first_where = |pred: &dyn Fn(&Segment) -> bool| -> Option<usize> {
        ids.iter().copied().find(|&i| pred(&segments[i]))
    };
    let pick = |pred: &dyn Fn(&Segment) -> bool| {
        if first_failed {
            first_where(pred)
        } else {
            last_where(pred)
        }
    };
    let failed_first =
        pick(&|s| s.failed() && s.kind != SegmentKind::Post).or_else(|| pick(&Segment::failed));
    let Some(h) = hint else {
        // A failed job whose log shows no failure marker (a Docker action
        // that exits non-zero, a truncated log): its last step is the best guess.
        let presumed = failed_first.or_else(|| last_where(&|s| s.kind == SegmentKind::Step));
        return (presumed, None);
    };
    let hint_name = h.name.as_deref();
    // 1. By name: real step names (zip, gh run view) or `Run <command>` headers.
    if let Some(name) = hint_name
        && let Some(i) = ids
            .iter()
            .copied()
            .find(|&i| names_match(name, &segments[i].name))
    {
        return (Some(i), hint_name);
    }
    // 2. By number: API step N is the (N-1)th `##[group]Run` segment, since
    //    step 1 is "Set up job". Trusted only if that segment failed or no
    //    segment shows a failure (composite actions shift the count).
    if let Some(n) = h.number
        && let Some(i) = ids
            .iter()
            .copied()
            .find(|&i| segments[i].ordinal.is_some_and(|o| o as u64 + 1 == n))
        && (segments[i].failed() || failed_first.is_none())
    {
        return (Some(i), hint_name);
    }
    // 3. The first failed step, as without a hint.
    (failed_first, None)
}

/// The fallback candidates of a failed step from its tail: its first
/// error-looking lines, else (when no rule found anything there) its last line.
fn fallback_cands(
    tail: &[(u64, String)],
    segment: usize,
    source: usize,
    have_any: bool,
) -> Vec<Cand> {
    let cand = |rule, priority, idx: usize| {
        let lo = idx.saturating_sub(CONTEXT_BEFORE);
        let hi = (idx + 1 + CONTEXT_AFTER as usize).min(tail.len());
        let context = tail[lo..hi].iter().map(|(_, t)| t.clone()).collect();
        let (n, text) = &tail[idx];
        let body = marker_body(text).to_string();
        Cand::fallback(
            rule,
            priority,
            segment,
            source,
            *n,
            body,
            (context, tail[lo].0),
        )
    };
    let out: Vec<Cand> = (0..tail.len())
        .filter(|&i| errorish(marker_body(&tail[i].1).as_bytes()))
        .take(MAX_FALLBACK_LINES)
        .map(|i| cand(FALLBACK_RULE, FALLBACK_PRIORITY, i))
        .collect();
    if out.is_empty() && !have_any && !tail.is_empty() {
        return vec![cand(LAST_LINE_RULE, LAST_LINE_PRIORITY, tail.len() - 1)];
    }
    out
}

/// The step's own header line (`Run false`), when the step printed nothing.
fn header_cand(s: &Segment, segment: usize) -> Option<Cand> {
    let (line, text) = s.header.clone()?;
    let context = (vec![text.clone()], line);
    Some(Cand::fallback(
        HEADER_RULE,
        LAST_LINE_PRIORITY,
        segment,
        s.source,
        line,
        text,
        context,
    ))
}

/// A cleaned line without its `##[error]`-style marker.
fn marker_body(text: &str) -> &str {
    let (_, start) = classify(text.as_bytes());
    &text[start..]
}
