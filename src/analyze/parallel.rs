//! One large log over two threads.
//!
//! Reading a line's structure (which step it is in, whether it is output)
//! needs every line before it, but cleaning a line and finding the rule it
//! matches need only the line: that is most of the work, and it is done
//! ahead, batch by batch, on both threads. The log is cut at line boundaries
//! into batches; a helper thread and the reading thread match batches in any
//! order, and the reading thread then feeds them, in order, to the one
//! sequential analysis, which uses the cleaned text and the rules found
//! instead of cleaning and matching again. The result is the
//! sequential scan's, byte for byte; memory stays bounded by the batches in
//! flight.

use std::collections::VecDeque;
use std::io::{BufRead, Read};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use super::StepHint;
use super::engine::{Ahead, JobAnalyzer, Prematcher, Ranked};
use super::rules::RuleSet;
use crate::logs::blocks::{BlockReader, LineBlock};
use crate::logs::scan::{detect_format, line_bytes};
use crate::logs::{CleanedAhead, Format, MAX_LINE_BYTES, RawLine};

/// Logs at least this large are analysed on two threads (when there are two).
pub(crate) const PARALLEL_MIN_BYTES: u64 = 8 * 1024 * 1024;

/// How the log is cut.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Batching {
    /// A batch is one read of this many bytes (more if no line ends in
    /// them), cut after its last line break.
    pub batch_bytes: usize,
    /// Batches read and not yet analysed, at most (bounds memory).
    pub in_flight: usize,
}

impl Default for Batching {
    fn default() -> Self {
        Self {
            batch_bytes: 512 * 1024,
            in_flight: 6,
        }
    }
}

/// Whether a second thread can help on this machine.
pub(crate) fn two_threads_available() -> bool {
    std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2)
}

/// What the prematch found for one line, packed small: a batch keeps one
/// per line, and memory is bounded.
#[derive(Debug, Clone, Copy)]
struct LineAhead {
    /// End of the line's cleaned text in the batch's `cleaned` bytes (it
    /// starts where the cleaned line before it ends); [`NONE`] when the
    /// line needed no cleaning.
    cleaned_end: u32,
    /// Index of the best rule, or [`NONE`].
    rule: u32,
}

const NONE: u32 = u32::MAX;

/// A batch's cleaned bytes and a rule set's indices stay far below
/// [`NONE`] (batches are a few hundred kilobytes).
fn pack(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(NONE)
}

/// Consecutive lines of the log.
#[derive(Default)]
struct Batch {
    seq: u64,
    lines: LineBlock,
    /// The log's format, as known when the batch was read.
    format: Option<Format>,
    /// What the prematch found for each line.
    ahead: Vec<LineAhead>,
    /// The text of the lines that needed cleaning, one after the other.
    cleaned: Vec<u8>,
}

impl Batch {
    fn raw_lines(&self) -> impl Iterator<Item = RawLine<'_>> {
        self.lines.lines()
    }

    fn prematch(&mut self, m: &mut Prematcher<'_>) {
        let format = self.format.unwrap_or(Format::Text);
        let mut ahead = std::mem::take(&mut self.ahead);
        let mut cleaned = std::mem::take(&mut self.cleaned);
        ahead.clear();
        cleaned.clear();
        // Cleaning never lengthens a line: room for all of them at once
        // spares the buffer its reallocations (and the heap their leftovers).
        cleaned.reserve(self.lines.byte_len());
        m.best_of(
            format,
            self.raw_lines(),
            &mut cleaned,
            |cleaned_end, rule| {
                ahead.push(LineAhead {
                    cleaned_end: cleaned_end.map_or(NONE, pack),
                    rule: rule.map_or(NONE, pack),
                });
            },
        );
        self.ahead = ahead;
        self.cleaned = cleaned;
    }

    /// Feeds the batch's lines, in order, with what was found ahead.
    fn feed(&self, an: &mut JobAnalyzer<'_>) {
        let format = self.format.unwrap_or(Format::Text);
        let mut cleaned_start = 0;
        for (raw, a) in self.raw_lines().zip(&self.ahead) {
            let text = (a.cleaned_end != NONE).then(|| {
                let end = a.cleaned_end as usize;
                let text = self.cleaned.get(cleaned_start..end).unwrap_or_default();
                cleaned_start = end;
                text
            });
            let ahead = Ahead {
                cleaned: CleanedAhead { format, text },
                rule: (a.rule != NONE).then_some(a.rule as usize),
            };
            an.line(&raw, Some(ahead));
        }
    }
}

#[derive(Default)]
struct State {
    /// Read, waiting to be matched (oldest first).
    to_match: VecDeque<Batch>,
    /// Matched, waiting for their turn.
    matched: Vec<Batch>,
    /// No more batches will come: the helper stops.
    closed: bool,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock; a poisoned one is still sound.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait<'a>(&self, g: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.changed.wait(g).unwrap_or_else(PoisonError::into_inner)
    }

    fn done_matching(&self, b: Batch) {
        self.lock().matched.push(b);
        self.changed.notify_all();
    }
}

/// Stops the helper however the reading thread leaves (end, read error).
struct CloseOnDrop<'a>(&'a Shared);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.lock().closed = true;
        self.0.changed.notify_all();
    }
}

fn helper(shared: &Shared, rules: &RuleSet) {
    let mut m = Prematcher::new(rules);
    loop {
        let mut st = shared.lock();
        let mut batch = loop {
            if let Some(b) = st.to_match.pop_front() {
                break b;
            }
            if st.closed {
                return;
            }
            st = shared.wait(st);
        };
        drop(st);
        batch.prematch(&mut m);
        shared.done_matching(batch);
    }
}

/// Reads the next lines into `b` (none when the log has ended); tracks the
/// format as the sequential scanner detects it.
fn fill<R: Read>(
    reader: &mut BlockReader<R>,
    b: &mut Batch,
    format: &mut Option<Format>,
    batch_bytes: usize,
) -> std::io::Result<()> {
    reader.fill(&mut b.lines, batch_bytes)?;
    if format.is_none() {
        *format = b
            .raw_lines()
            .find_map(|raw| detect_format(line_bytes(&raw)));
    }
    // Lines before the first non-blank one are blank in every format.
    b.format = *format;
    Ok(())
}

/// Analyses one job log as [`JobAnalyzer::feed`] does, matching rules on
/// two threads.
pub(crate) fn job_log_ranked_parallel<R: BufRead>(
    source: &str,
    job: Option<&str>,
    step_hint: Option<StepHint>,
    reader: R,
    rules: &RuleSet,
    job_index: usize,
    batching: Batching,
) -> std::io::Result<Vec<Ranked>> {
    let mut an = JobAnalyzer::new(rules, job, step_hint, job_index);
    an.begin_file(source, None);
    let shared = Shared {
        state: Mutex::new(State::default()),
        changed: Condvar::new(),
    };
    let in_flight = batching.in_flight.max(2);
    let batch_bytes = batching.batch_bytes.max(1);
    std::thread::scope(|s| {
        s.spawn(|| helper(&shared, rules));
        let _close = CloseOnDrop(&shared);
        let mut reader = BlockReader::new(reader, MAX_LINE_BYTES);
        let mut format = None;
        let mut m = Prematcher::new(rules);
        let mut spare: Vec<Batch> = Vec::new();
        let (mut next_read, mut next_feed) = (0u64, 0u64);
        let mut eof = false;
        loop {
            while !eof && next_read - next_feed < in_flight as u64 {
                let mut b = spare.pop().unwrap_or_default();
                fill(&mut reader, &mut b, &mut format, batch_bytes)?;
                if b.lines.is_empty() {
                    eof = true;
                    spare.push(b);
                    break;
                }
                b.seq = next_read;
                next_read += 1;
                shared.lock().to_match.push_back(b);
                shared.changed.notify_all();
            }
            if eof && next_feed == next_read {
                break;
            }
            let mut st = shared.lock();
            // The next batch in order, once matched, is analysed; until then
            // this thread matches batches too.
            let ready = st.matched.iter().position(|b| b.seq == next_feed);
            if let Some(i) = ready {
                let b = st.matched.swap_remove(i);
                drop(st);
                b.feed(&mut an);
                next_feed += 1;
                spare.push(b);
            } else if let Some(mut b) = st.to_match.pop_front() {
                drop(st);
                b.prematch(&mut m);
                shared.done_matching(b);
            } else {
                // The helper is matching it.
                drop(shared.wait(st));
            }
        }
        Ok::<(), std::io::Error>(())
    })?;
    an.end_file();
    Ok(an.finish())
}
