//! Streaming analysis of one job: every line is scanned once, candidate
//! lines are kept per step with bounded memory, and at the end the failed
//! step decides which candidates are reported and in what order.

use std::collections::{BTreeMap, VecDeque};
use std::io::BufRead;
use std::sync::LazyLock;

use regex::bytes::Regex;

use super::fingerprint;
use super::rules::{Annotation, JOB_LEVEL_PRIORITY, RuleSet, truncate_chars};
use super::{Category, Failure, StepHint};
use crate::logs::scan::exit_code_line;
use crate::logs::{
    LineReader, LineRole, Marker, ScannedLine, Scanner, Segment, SegmentKind, StepStart,
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
/// Error-looking lines reported by the fallback, at most.
const MAX_FALLBACK_LINES: usize = 3;

pub(crate) const FALLBACK_RULE: &str = "fallback-error-line";
pub(crate) const LAST_LINE_RULE: &str = "fallback-last-line";
pub(crate) const HEADER_RULE: &str = "fallback-step-command";

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
    /// 0 job-level, 1 the failed step, 2 other failed steps, 3 elsewhere.
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

#[derive(Debug, Clone, PartialEq, Eq)]
enum RuleRef {
    Rule(usize),
    Fallback,
    LastLine,
    Header,
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

#[derive(Debug)]
struct Slot {
    segment: usize,
    cands: Vec<Cand>,
}

/// One job's analysis (possibly over several files: zip step files).
pub(crate) struct JobAnalyzer<'r> {
    rules: &'r RuleSet,
    scanner: Scanner,
    sources: Vec<String>,
    job: Option<String>,
    job_index: usize,
    hint: Option<StepHint>,
    scratch: Vec<usize>,
    before: Ring,
    pending: Vec<Cand>,
    slots: Vec<Slot>,
    job_level: Vec<Cand>,
    tail: Ring,
    tail_segment: Option<usize>,
    closed_tail: Option<(usize, Vec<(u64, String)>)>,
    tails: Vec<(usize, Vec<(u64, String)>)>,
    order: u64,
    source: usize,
}

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
            scratch: Vec::new(),
            before: Ring::new(CONTEXT_BEFORE),
            pending: Vec::new(),
            slots: Vec::new(),
            job_level: Vec::new(),
            tail: Ring::new(TAIL_LINES),
            tail_segment: None,
            closed_tail: None,
            tails: Vec::new(),
            order: 0,
            source: 0,
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
        self.close_all_pending();
        self.before.clear();
        self.sources.push(source.to_string());
        self.source = self.sources.len() - 1;
        self.scanner.begin_source(self.source, step);
        let mut lines = LineReader::new(reader);
        while let Some(raw) = lines.next_line()? {
            let scanned = self.scanner.scan(&raw);
            process_line(
                &scanned,
                self.rules,
                &mut Ctx {
                    scratch: &mut self.scratch,
                    before: &mut self.before,
                    pending: &mut self.pending,
                    slots: &mut self.slots,
                    job_level: &mut self.job_level,
                    tail: &mut self.tail,
                    tail_segment: &mut self.tail_segment,
                    closed_tail: &mut self.closed_tail,
                    order: &mut self.order,
                    source: self.source,
                },
            );
            // Keeping a finished step's tail needs the scanner's segments,
            // which the scanned line borrowed: done once that borrow ends.
            if let Some((seg, lines)) = self.closed_tail.take() {
                self.keep_tail(seg, lines);
            }
            let current = self.scanner.segments().len().saturating_sub(1);
            self.evict_slots(current);
        }
        self.close_all_pending();
        Ok(())
    }

    fn keep_tail(&mut self, segment: usize, lines: Vec<(u64, String)>) {
        let keep = self
            .scanner
            .segments()
            .get(segment)
            .is_some_and(|s| s.failed() || hint_matches_segment(self.hint.as_ref(), s));
        if keep && !lines.is_empty() {
            if self.tails.len() >= MAX_TAILS {
                self.tails.remove(0);
            }
            self.tails.push((segment, lines));
        }
    }

    fn evict_slots(&mut self, current: usize) {
        if self.slots.len() <= MAX_SLOTS {
            return;
        }
        let segments = self.scanner.segments();
        let hint = self.hint.as_ref();
        let victim = self
            .slots
            .iter()
            .position(|s| {
                s.segment != current
                    && segments
                        .get(s.segment)
                        .is_none_or(|seg| !seg.failed() && !hint_matches_segment(hint, seg))
            })
            .unwrap_or(0);
        self.slots.remove(victim);
    }

    fn close_all_pending(&mut self) {
        for c in std::mem::take(&mut self.pending) {
            commit(c, &mut self.slots, &mut self.job_level);
        }
    }

    /// Whether any step of this job shows a failure marker.
    pub(crate) fn any_failed(&self) -> bool {
        self.scanner.segments().iter().any(Segment::failed)
    }

    /// Ends the analysis: picks the failed step(s) and ranks candidates.
    pub(crate) fn finish(mut self) -> Vec<Ranked> {
        self.close_all_pending();
        if let Some(seg) = self.tail_segment.take() {
            let lines = self.tail.take_lossy();
            self.keep_tail(seg, lines);
        }
        let segments = self.scanner.segments().to_vec();
        let mut cands: Vec<Cand> = self.slots.drain(..).flat_map(|s| s.cands).collect();
        cands.append(&mut self.job_level);

        // Jobs in this file: one, or several for `gh run view --log`.
        let mut jobs: Vec<Option<String>> = Vec::new();
        for s in &segments {
            let j = s.job.clone().or_else(|| self.job.clone());
            if !jobs.contains(&j) {
                jobs.push(j);
            }
        }
        if jobs.is_empty() {
            jobs.push(self.job.clone());
        }
        let text_format = self.scanner.format() == Some(crate::logs::Format::Text);
        let any_failed = segments.iter().any(Segment::failed);
        let structured = segments
            .iter()
            .any(|s| s.kind != SegmentKind::Step || s.name != "log");

        let mut out = Vec::new();
        for (ji, job) in jobs.iter().enumerate() {
            let in_job = |s: &Segment| s.job.clone().or_else(|| self.job.clone()) == *job;
            let seg_ids: Vec<usize> = (0..segments.len())
                .filter(|&i| segments.get(i).is_some_and(in_job))
                .collect();
            let hint = if jobs.len() == 1 || job == &self.job {
                self.hint.as_ref()
            } else {
                None
            };
            let (primary, hinted_name) = pick_primary(&segments, &seg_ids, hint);
            let failed: Vec<usize> = seg_ids
                .iter()
                .copied()
                .filter(|&i| segments.get(i).is_some_and(Segment::failed))
                .collect();
            // When another job of the file shows a failure, a job without
            // any is one that passed: only job-level events count there.
            let primary = if failed.is_empty() && any_failed {
                None
            } else {
                primary
            };
            // The primary step was guessed (no failure marker anywhere in a
            // structured log): only specific errors are worth reporting.
            let presumed = structured
                && failed.is_empty()
                && primary.is_some_and(|p| segments.get(p).is_some_and(|s| !s.failed()));
            // Travis prints every command's exit status: a last command
            // without one was cut short (killed, timed out), so its errors
            // count in full. A command that exited 0 did not fail at all.
            let (presumed, primary) = match primary.and_then(|p| segments.get(p)) {
                Some(s) if presumed && text_format && s.exit_code == Some(0) => (false, None),
                Some(_) if presumed && text_format => (false, primary),
                _ => (presumed, primary),
            };
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
                .iter()
                .filter(|c| seg_ids.contains(&c.segment))
                .cloned()
                .collect();
            if let Some(p) = primary {
                let strong = job_cands
                    .iter()
                    .any(|c| c.segment == p && c.priority >= FALLBACK_BELOW);
                if !strong {
                    let have_any = job_cands.iter().any(|c| c.segment == p);
                    let tail = self
                        .tails
                        .iter()
                        .rev()
                        .find(|(s, _)| *s == p)
                        .map(|(_, t)| t.as_slice());
                    let added = tail.map(|t| {
                        fallback_cands(t, p, segments.get(p).map_or(0, |s| s.source), have_any)
                    });
                    let added = added.unwrap_or_default();
                    let none_added = added.is_empty();
                    job_cands.extend(added);
                    // A step that printed nothing: its command is all there is to show.
                    if none_added
                        && !have_any
                        && segments.get(p).is_some_and(Segment::failed)
                        && let Some(c) = segments.get(p).and_then(|s| header_cand(s, p))
                    {
                        job_cands.push(c);
                    }
                }
            }
            for c in job_cands {
                let Some(tier) = tier_of(c.segment, c.priority) else {
                    continue;
                };
                let seg = segments.get(c.segment);
                let step = seg.and_then(|s| {
                    if Some(c.segment) == primary
                        && let Some(name) = &hinted_name
                    {
                        return Some(name.clone());
                    }
                    if s.kind == SegmentKind::Step && s.name == "log" && !s.name_is_real {
                        None
                    } else {
                        Some(s.name.clone())
                    }
                });
                let job_name = seg.and_then(|s| s.job.clone()).or_else(|| self.job.clone());
                let key = RankKey {
                    tier,
                    neg_priority: -c.priority,
                    job: self.job_index + ji,
                    order: c.order,
                };
                if let Some(f) = self.to_failure(c, step, job_name) {
                    out.push(Ranked { key, failure: f });
                }
            }
        }
        out
    }

    fn to_failure(&self, c: Cand, step: Option<String>, job: Option<String>) -> Option<Failure> {
        let source = self.sources.get(c.source).cloned().unwrap_or_default();
        let (rule_id, category, fixable, capture_parts) = match c.rule {
            RuleRef::Rule(i) => {
                let r = self.rules.rule(i)?;
                let parts: Vec<String> = c.captures.values().cloned().collect();
                (r.spec.id.clone(), r.spec.category, r.spec.fixable, parts)
            }
            RuleRef::Fallback => (
                FALLBACK_RULE.to_string(),
                Category::Unknown,
                false,
                Vec::new(),
            ),
            RuleRef::LastLine => (
                LAST_LINE_RULE.to_string(),
                Category::Unknown,
                false,
                Vec::new(),
            ),
            RuleRef::Header => (
                HEADER_RULE.to_string(),
                Category::Unknown,
                false,
                Vec::new(),
            ),
        };
        let fingerprint = if capture_parts.is_empty() {
            fingerprint::fingerprint_text(&rule_id, &c.text)
        } else {
            let refs: Vec<&str> = capture_parts.iter().map(String::as_str).collect();
            fingerprint::fingerprint_of(&rule_id, &refs)
        };
        Some(Failure {
            source,
            job,
            step,
            line: c.line,
            end_line: c.end_line.max(c.line),
            text: c.text,
            category,
            rule: rule_id,
            captures: c.captures,
            fingerprint,
            fixable,
            context: c.context,
            context_start: c.context_start,
        })
    }
}

/// Mutable state `process_line` needs, split from the scanner's borrow.
struct Ctx<'a> {
    scratch: &'a mut Vec<usize>,
    before: &'a mut Ring,
    pending: &'a mut Vec<Cand>,
    slots: &'a mut Vec<Slot>,
    job_level: &'a mut Vec<Cand>,
    tail: &'a mut Ring,
    tail_segment: &'a mut Option<usize>,
    closed_tail: &'a mut Option<(usize, Vec<(u64, String)>)>,
    order: &'a mut u64,
    source: usize,
}

fn process_line(l: &ScannedLine<'_>, rules: &RuleSet, cx: &mut Ctx<'_>) {
    // A new segment: hand the finished segment's tail to the caller.
    if let Some(prev) = *cx.tail_segment
        && prev != l.segment
    {
        *cx.closed_tail = Some((prev, cx.tail.take_lossy()));
    }
    *cx.tail_segment = Some(l.segment);
    let annotation = match l.marker {
        Marker::Error => Some(Annotation::Error),
        Marker::Warning => Some(Annotation::Warning),
        _ => None,
    };
    let body = trim_end(l.body);
    let mut new_cand: Option<Cand> = None;
    if l.role == LineRole::Content
        && !body.is_empty()
        && let Some(i) = rules.best_match(body, annotation, cx.scratch)
        && let Some(rule) = rules.rule(i)
    {
        let mut priority = rule.spec.priority;
        if l.marker == Marker::Warning && rule.spec.annotation != Some(Annotation::Warning) {
            priority -= WARNING_PENALTY;
        }
        // A full step keeps its better candidates: do not build one
        // that would be evicted at once (logs with thousands of hits).
        if !slot_has_room(cx.slots, l.segment, priority) {
            return finish_line(l, body, None, cx);
        }
        *cx.order += 1;
        let mut context: Vec<String> = cx.before.iter().map(|(_, t)| lossy(t)).collect();
        let context_start = cx.before.iter().next().map_or(l.number, |(n, _)| n);
        context.push(lossy(l.text));
        new_cand = Some(Cand {
            rule: RuleRef::Rule(i),
            priority,
            segment: l.segment,
            source: cx.source,
            line: l.number,
            end_line: l.number,
            text: lossy(body),
            captures: rule.captures(body),
            context,
            context_start,
            order: *cx.order,
            block_open: true,
        });
    }

    finish_line(l, body, new_cand, cx);
}

/// Extends or closes pending candidates, records the line in the context
/// ring and the step's tail.
fn finish_line(l: &ScannedLine<'_>, body: &[u8], new_cand: Option<Cand>, cx: &mut Ctx<'_>) {
    // Extend or close the candidates above this line.
    let continuation = new_cand.is_none() && l.role == LineRole::Content && is_continuation(l.text);
    let mut i = 0;
    while i < cx.pending.len() {
        let c = &mut cx.pending[i];
        if c.block_open
            && continuation
            && l.number - c.line < MAX_BLOCK_LINES
            && c.source == cx.source
        {
            c.end_line = l.number;
        } else {
            c.block_open = false;
        }
        let done = l.number > c.end_line + CONTEXT_AFTER || c.context.len() >= MAX_CONTEXT_LINES;
        if done {
            let c = cx.pending.swap_remove(i);
            commit(c, cx.slots, cx.job_level);
            continue;
        }
        c.context.push(lossy(l.text));
        i += 1;
    }
    if let Some(c) = new_cand {
        cx.pending.push(c);
    }

    // Context ring.
    cx.before.push(l.number, l.text);

    // Tail of the current segment (for the fallback).
    if l.role == LineRole::Content && !body.is_empty() && exit_code_line(body).is_none() {
        cx.tail.push(l.number, l.text);
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

    fn take_lossy(&mut self) -> Vec<(u64, String)> {
        self.lines.drain(..).map(|(n, b)| (n, lossy(&b))).collect()
    }

    fn clear(&mut self) {
        self.lines.clear();
    }
}

fn trim_end(b: &[u8]) -> &[u8] {
    let n = b
        .iter()
        .rev()
        .take_while(|c| c.is_ascii_whitespace())
        .count();
    &b[..b.len() - n]
}

/// Whether a candidate of this priority would be kept in its step's slot.
fn slot_has_room(slots: &[Slot], segment: usize, priority: i32) -> bool {
    if priority >= JOB_LEVEL_PRIORITY {
        return true;
    }
    match slots.iter().rev().find(|s| s.segment == segment) {
        Some(slot) if slot.cands.len() >= PER_SEGMENT_CANDIDATES => {
            slot.cands.iter().any(|c| c.priority < priority)
        }
        _ => true,
    }
}

/// Stores a finished candidate in its segment's slot, evicting the worst.
fn commit(c: Cand, slots: &mut Vec<Slot>, job_level: &mut Vec<Cand>) {
    if c.priority >= JOB_LEVEL_PRIORITY {
        if job_level.len() < MAX_JOB_LEVEL {
            job_level.push(c);
        }
        return;
    }
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
    let Some(slot) = slots.get_mut(idx) else {
        return;
    };
    // A repeat of a kept candidate (same rule, same captures or text) adds
    // nothing, unless it carries more detail: test runners list a failure
    // once as it happens and again, with its error, in a summary.
    let repeat = slot.cands.iter().position(|x| {
        x.rule == c.rule && x.captures == c.captures && (!c.captures.is_empty() || x.text == c.text)
    });
    if let Some(i) = repeat {
        if let Some(kept) = slot.cands.get_mut(i)
            && c.end_line - c.line > kept.end_line - kept.line
        {
            let order = kept.order;
            *kept = c;
            kept.order = order;
        }
        return;
    }
    if slot.cands.len() < PER_SEGMENT_CANDIDATES {
        slot.cands.push(c);
        return;
    }
    // Worst: lowest priority, then latest.
    let worst = slot
        .cands
        .iter()
        .enumerate()
        .min_by(|a, b| {
            a.1.priority
                .cmp(&b.1.priority)
                .then(b.1.order.cmp(&a.1.order))
        })
        .map(|(i, w)| (i, w.priority));
    if let Some((wi, wp)) = worst
        && c.priority > wp
    {
        slot.cands[wi] = c;
    }
}

/// Does a step hint name this segment?
fn hint_matches_segment(hint: Option<&StepHint>, s: &Segment) -> bool {
    let Some(h) = hint else { return false };
    if let Some(name) = &h.name
        && names_match(name, &s.name)
    {
        return true;
    }
    false
}

fn names_match(hint: &str, name: &str) -> bool {
    let a = hint.trim();
    let b = name.trim();
    !a.is_empty()
        && (a.eq_ignore_ascii_case(b) || b.strip_suffix('…').is_some_and(|p| a.starts_with(p)))
}

/// The failed step: the hinted one when the hint maps to a segment, else the
/// last failed non-post step, else the last failed step. Also returns the
/// hint's step name when the hint was used.
fn pick_primary(
    segments: &[Segment],
    ids: &[usize],
    hint: Option<&StepHint>,
) -> (Option<usize>, Option<String>) {
    let failed_last = ids
        .iter()
        .rev()
        .copied()
        .find(|&i| {
            segments
                .get(i)
                .is_some_and(|s| s.failed() && s.kind != SegmentKind::Post)
        })
        .or_else(|| {
            ids.iter()
                .rev()
                .copied()
                .find(|&i| segments.get(i).is_some_and(Segment::failed))
        });
    let Some(h) = hint else {
        // A failed job whose log shows no failure marker (a Docker action
        // that exits non-zero, a truncated log): its last step is the best guess.
        let presumed = failed_last.or_else(|| {
            ids.iter()
                .rev()
                .copied()
                .find(|&i| segments.get(i).is_some_and(|s| s.kind == SegmentKind::Step))
        });
        return (presumed, None);
    };
    let hint_name = h.name.clone();
    // 1. By name: real step names (zip, gh run view) or `Run <command>` headers.
    if let Some(name) = &h.name
        && let Some(i) = ids
            .iter()
            .copied()
            .find(|&i| segments.get(i).is_some_and(|s| names_match(name, &s.name)))
    {
        return (Some(i), hint_name);
    }
    // 2. By number: API step N is the (N-1)th `##[group]Run` segment, since
    //    step 1 is "Set up job". Trusted only if that segment failed or no
    //    segment shows a failure (composite actions shift the count).
    if let Some(n) = h.number {
        let by_ordinal = ids.iter().copied().find(|&i| {
            segments
                .get(i)
                .is_some_and(|s| s.ordinal.is_some_and(|o| o as u64 + 1 == n))
        });
        if let Some(i) = by_ordinal {
            let ok = segments.get(i).is_some_and(Segment::failed) || failed_last.is_none();
            if ok {
                return (Some(i), hint_name);
            }
        }
    }
    // 3. The segment holding the last `##[error]`.
    let last_error = ids
        .iter()
        .copied()
        .filter(|&i| segments.get(i).is_some_and(|s| s.last_error_line.is_some()))
        .max_by_key(|&i| segments.get(i).map(|s| (s.source, s.last_error_line)));
    match last_error.or(failed_last) {
        Some(i) => (Some(i), None),
        None => (None, None),
    }
}

fn fallback_cands(
    tail: &[(u64, String)],
    segment: usize,
    source: usize,
    have_any: bool,
) -> Vec<Cand> {
    let mut out = Vec::new();
    let context_of = |idx: usize| -> (Vec<String>, u64) {
        let lo = idx.saturating_sub(CONTEXT_BEFORE);
        let hi = (idx + 1 + CONTEXT_AFTER as usize).min(tail.len());
        let ctx = tail[lo..hi].iter().map(|(_, t)| t.clone()).collect();
        (ctx, tail.get(lo).map_or(0, |(n, _)| *n))
    };
    for (idx, (n, text)) in tail.iter().enumerate() {
        if out.len() >= MAX_FALLBACK_LINES {
            break;
        }
        let body = strip_marker(text);
        if errorish(body.as_bytes()) {
            let (context, context_start) = context_of(idx);
            out.push(Cand {
                rule: RuleRef::Fallback,
                priority: FALLBACK_PRIORITY,
                segment,
                source,
                line: *n,
                end_line: *n,
                text: body.to_string(),
                captures: BTreeMap::new(),
                context,
                context_start,
                order: u64::MAX / 2 + *n,
                block_open: false,
            });
        }
    }
    if out.is_empty()
        && !have_any
        && let Some((idx, (n, text))) = tail.iter().enumerate().next_back()
    {
        let (context, context_start) = context_of(idx);
        out.push(Cand {
            rule: RuleRef::LastLine,
            priority: LAST_LINE_PRIORITY,
            segment,
            source,
            line: *n,
            end_line: *n,
            text: strip_marker(text).to_string(),
            captures: BTreeMap::new(),
            context,
            context_start,
            order: u64::MAX / 2 + *n,
            block_open: false,
        });
    }
    out
}

/// The step's own header line (`Run false`), when the step printed nothing.
fn header_cand(s: &Segment, segment: usize) -> Option<Cand> {
    let (line, text) = s.header.clone()?;
    Some(Cand {
        rule: RuleRef::Header,
        priority: LAST_LINE_PRIORITY,
        segment,
        source: s.source,
        line,
        end_line: line,
        text: text.clone(),
        captures: BTreeMap::new(),
        context: vec![text],
        context_start: line,
        order: u64::MAX / 2 + line,
        block_open: false,
    })
}

fn strip_marker(text: &str) -> &str {
    for p in ["##[error]", "##[warning]", "##[notice]"] {
        if let Some(rest) = text.strip_prefix(p) {
            return rest;
        }
    }
    text
}
