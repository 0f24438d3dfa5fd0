//! One large log over two threads.
//!
//! Reading a line's structure (which step it is in, whether it is output)
//! needs every line before it, but which rule a line matches needs only the
//! line: that is most of the work, and it is done ahead, batch by batch, on
//! both threads. The log is cut at line boundaries into batches; a helper
//! thread and the reading thread match batches in any order, and the reading
//! thread then feeds them, in order, to the one sequential analysis, which
//! uses the rules found instead of matching again. The result is the
//! sequential scan's, byte for byte; memory stays bounded by the batches in
//! flight.

use std::collections::VecDeque;
use std::io::BufRead;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use super::StepHint;
use super::engine::{JobAnalyzer, Prematcher, Ranked};
use super::rules::RuleSet;
use crate::logs::scan::{detect_format, line_bytes};
use crate::logs::{Format, LineReader, RawLine};

/// Logs at least this large are analysed on two threads (when there are two).
pub(crate) const PARALLEL_MIN_BYTES: u64 = 8 * 1024 * 1024;

/// How the log is cut.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Batching {
    /// A batch ends with the first line that takes it to this many bytes.
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

/// Consecutive lines of the log.
#[derive(Default)]
struct Batch {
    seq: u64,
    /// Number of the first line.
    first: u64,
    data: Vec<u8>,
    /// End of each line in `data`, and whether the reader cut it.
    lines: Vec<(usize, bool)>,
    /// The log's format, as known when the batch was read.
    format: Option<Format>,
    /// The rule each line matches.
    matched: Vec<Option<usize>>,
}

impl Batch {
    fn raw_lines(&self) -> impl Iterator<Item = RawLine<'_>> {
        let mut start = 0;
        self.lines
            .iter()
            .enumerate()
            .map(move |(i, &(end, truncated))| {
                let bytes = self.data.get(start..end).unwrap_or_default();
                start = end;
                RawLine {
                    number: self.first + i as u64,
                    bytes,
                    truncated,
                }
            })
    }

    fn prematch(&mut self, m: &mut Prematcher<'_>) {
        let format = self.format.unwrap_or(Format::Text);
        self.matched.clear();
        m.best_batch(
            format,
            &self.data,
            &self.lines,
            self.first,
            &mut self.matched,
        );
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

/// Reads lines into `b` until it is full or the log ends; tracks the
/// format as the sequential scanner detects it.
fn fill<R: BufRead>(
    reader: &mut LineReader<R>,
    b: &mut Batch,
    format: &mut Option<Format>,
    batch_bytes: usize,
) -> std::io::Result<()> {
    b.data.clear();
    b.lines.clear();
    b.first = 0;
    while b.data.len() < batch_bytes {
        let Some(raw) = reader.next_line()? else {
            break;
        };
        if b.lines.is_empty() {
            b.first = raw.number;
        }
        if format.is_none() {
            *format = detect_format(line_bytes(&raw));
        }
        b.data.extend_from_slice(raw.bytes);
        b.lines.push((b.data.len(), raw.truncated));
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
        let mut reader = LineReader::new(reader);
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
                for (raw, matched) in b.raw_lines().zip(b.matched.iter()) {
                    an.line(&raw, Some(*matched));
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    const TS: &str = "2024-01-02T03:04:05.1234567Z ";

    /// Matches `lines` as one batch and one by one; both must agree.
    /// Returns how many lines the batch screening ruled out.
    fn screened(rules: &RuleSet, format: Format, lines: &[String]) -> usize {
        let mut data = Vec::new();
        let mut ends = Vec::new();
        for l in lines {
            data.extend_from_slice(l.as_bytes());
            ends.push((data.len(), false));
        }
        let mut m = Prematcher::new(rules);
        let mut batch = Vec::new();
        let ruled_out = m.best_batch(format, &data, &ends, 1, &mut batch);
        let one_by_one: Vec<Option<usize>> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let raw = RawLine {
                    number: i as u64 + 1,
                    bytes: l.as_bytes(),
                    truncated: false,
                };
                m.best(format, &raw)
            })
            .collect();
        assert_eq!(batch, one_by_one, "{lines:?}");
        assert!(batch.iter().any(Option::is_some), "{lines:?}");
        ruled_out
    }

    #[test]
    fn batch_screening_finds_what_each_line_finds() {
        let rules = RuleSet::builtin();
        let lines: Vec<String> = [
            "\u{feff}ModuleNotFoundError: No module named 'yaml'",
            "plain output, nothing to see",
            // A keyword that only cleaning puts together.
            "er\x1b[0mror[E0425]: cannot find value `x` in this scope",
            "compiling foo v0.1.0",
            // Lines stored back to back: `err` + `or:` is no line's keyword.
            "a line that ends in err",
            "or: a line that starts with the rest",
            "10%\r50%\rFAILED tests/test_a.py::test_b - AssertionError: boom",
            "",
            "##[error]Process completed with exit code 1.",
            "npm ERR! code ENOTFOUND",
            "all good here",
        ]
        .iter()
        .map(|l| format!("{TS}{l}"))
        .collect();
        let ruled_out = screened(&rules, Format::GithubActions, &lines);
        // The quiet lines, the empty one and the two halves of `error`; a
        // keyword split by an escape and the lines with control bytes are
        // matched on their own.
        assert_eq!(ruled_out, 6);
        let plain: Vec<String> = lines.iter().map(|l| l[TS.len()..].to_string()).collect();
        // Without timestamps the `err` line's end and the next line's
        // start make `error`: that line is matched on its own too.
        assert_eq!(screened(&rules, Format::Text, &plain), 5);
    }

    #[test]
    fn batch_screening_keeps_annotated_lines_for_rules_without_keywords() {
        let specs: Vec<crate::analyze::RuleSpec> = serde_yaml::from_str(
            "- id: deprecated-warning\n  category: unknown\n  pattern: deprecated\n  annotation: warning\n\
             - id: boom\n  category: unknown\n  pattern: boom\n  keywords: [boom]\n",
        )
        .expect("specs");
        let rules = RuleSet::from_specs(specs).expect("rules");
        let lines: Vec<String> = [
            "##[warning]deprecated thing",
            "deprecated thing",
            "it went boom",
            "quiet",
        ]
        .iter()
        .map(|l| format!("{TS}{l}"))
        .collect();
        assert_eq!(screened(&rules, Format::GithubActions, &lines), 2);
    }
}
