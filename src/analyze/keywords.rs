//! Finding the rules' keywords in lines, the first stage of matching.
//!
//! Every byte of every line goes through one automaton of all keywords
//! (ASCII case ignored), so its speed is the analysis' floor. A DFA step
//! is a load whose address depends on the step before, so one line is
//! scanned at the latency of a load per byte; two lines scanned in the same
//! loop overlap their loads, and a batch of lines is scanned two at a time.

use aho_corasick::automaton::{Automaton, OverlappingState, StateID};
use aho_corasick::dfa::DFA;
use aho_corasick::{Anchored, Input, MatchKind};

/// Keywords to find, any ASCII case.
#[derive(Debug)]
pub(crate) struct Keywords {
    dfa: DFA,
    start: StateID,
}

impl Keywords {
    /// An automaton finding any of `words`; `None` without words.
    pub(crate) fn new<W: AsRef<[u8]>>(words: &[W]) -> Result<Option<Keywords>, String> {
        if words.is_empty() {
            return Ok(None);
        }
        let dfa = aho_corasick::dfa::Builder::new()
            .prefilter(false)
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(words)
            .map_err(|e| e.to_string())?;
        let start = dfa.start_state(Anchored::No).map_err(|e| e.to_string())?;
        Ok(Some(Keywords { dfa, start }))
    }

    /// The longest keyword, in bytes.
    pub(crate) fn max_len(&self) -> usize {
        self.dfa.max_pattern_len()
    }

    /// Where the first keyword to end in `text` ends.
    pub(crate) fn first_end(&self, text: &[u8]) -> Option<usize> {
        let mut lane = Lane::new(self.start);
        match self.run(&mut lane, text) {
            Outcome::Found(end) => Some(end),
            Outcome::Running | Outcome::Absent => None,
        }
    }

    /// [`Self::first_end`] of each of `texts`, into `ends` (same order).
    pub(crate) fn first_ends(&self, texts: &[&[u8]], ends: &mut Vec<Option<usize>>) {
        ends.clear();
        ends.resize(texts.len(), None);
        let mut queue = 0..texts.len();
        let mut a = queue.next().map(|i| (i, Lane::new(self.start)));
        let mut b = queue.next().map(|i| (i, Lane::new(self.start)));
        loop {
            let (done_a, done_b) = match (&mut a, &mut b) {
                (Some((ia, la)), Some((ib, lb))) => {
                    let (oa, ob) = self.run_pair(la, texts[*ia], lb, texts[*ib]);
                    (oa.settle(*ia, ends), ob.settle(*ib, ends))
                }
                // One line left: on its own.
                (Some((i, l)), None) | (None, Some((i, l))) => {
                    self.run(l, texts[*i]).settle(*i, ends);
                    break;
                }
                (None, None) => break,
            };
            if done_a {
                a = queue.next().map(|i| (i, Lane::new(self.start)));
            }
            if done_b {
                b = queue.next().map(|i| (i, Lane::new(self.start)));
            }
        }
    }

    /// Runs one lane to the end of its line or its first keyword.
    fn run(&self, lane: &mut Lane, text: &[u8]) -> Outcome {
        let rest = text.get(lane.pos..).unwrap_or_default();
        let mut s = lane.state;
        let mut read = 0;
        for &c in rest {
            s = self.dfa.next_state(Anchored::No, s, c);
            read += 1;
            if self.dfa.is_special(s) && (self.dfa.is_match(s) || self.dfa.is_dead(s)) {
                break;
            }
        }
        lane.advance(read, s);
        self.outcome(lane, text)
    }

    /// Runs two lanes in step until one of them ends its line or finds a
    /// keyword (or both do).
    fn run_pair(&self, a: &mut Lane, ta: &[u8], b: &mut Lane, tb: &[u8]) -> (Outcome, Outcome) {
        let xa = ta.get(a.pos..).unwrap_or_default();
        let xb = tb.get(b.pos..).unwrap_or_default();
        let (mut sa, mut sb) = (a.state, b.state);
        let mut read = 0;
        for (&ca, &cb) in xa.iter().zip(xb) {
            sa = self.dfa.next_state(Anchored::No, sa, ca);
            sb = self.dfa.next_state(Anchored::No, sb, cb);
            read += 1;
            if self.dfa.is_special(sa) || self.dfa.is_special(sb) {
                break;
            }
        }
        a.advance(read, sa);
        b.advance(read, sb);
        (self.outcome(a, ta), self.outcome(b, tb))
    }

    fn outcome(&self, lane: &Lane, text: &[u8]) -> Outcome {
        if self.dfa.is_match(lane.state) {
            Outcome::Found(lane.pos)
        } else if self.dfa.is_dead(lane.state) || lane.pos >= text.len() {
            Outcome::Absent
        } else {
            Outcome::Running
        }
    }

    /// Calls `found` with the index of every keyword occurring in `text`
    /// at or after `from` (overlapping ones too).
    pub(crate) fn each_from(&self, text: &[u8], from: usize, mut found: impl FnMut(usize)) {
        let input = Input::new(text).span(from.min(text.len())..text.len());
        let mut state = OverlappingState::start();
        loop {
            // Only an unanchored search on a DFA built for it: cannot fail.
            if self.dfa.try_find_overlapping(&input, &mut state).is_err() {
                return;
            }
            match state.get_match() {
                Some(m) => found(m.pattern().as_usize()),
                None => return,
            }
        }
    }
}

/// One line being scanned.
#[derive(Debug, Clone, Copy)]
struct Lane {
    pos: usize,
    state: StateID,
}

impl Lane {
    fn new(start: StateID) -> Self {
        Self {
            pos: 0,
            state: start,
        }
    }

    fn advance(&mut self, read: usize, state: StateID) {
        self.pos += read;
        self.state = state;
    }
}

enum Outcome {
    Running,
    Found(usize),
    Absent,
}

impl Outcome {
    /// Records the outcome of line `line`'s lane; whether the line is done.
    fn settle(self, line: usize, ends: &mut [Option<usize>]) -> bool {
        match self {
            Outcome::Running => false,
            Outcome::Found(end) => {
                if let Some(e) = ends.get_mut(line) {
                    *e = Some(end);
                }
                true
            }
            Outcome::Absent => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words() -> Vec<&'static str> {
        vec!["error", "fail", "502", "exit code", "Traceback", "ld:", "e"]
    }

    /// Lines of many lengths, with and without keywords, in any case, at
    /// either end: the ends found two lines at a time are the ends found
    /// one line at a time, which are aho-corasick's own.
    #[test]
    fn two_lines_at_a_time_find_what_one_at_a_time_finds() {
        let kw = Keywords::new(&words()).unwrap().unwrap();
        let reference = aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(words())
            .unwrap();
        let mut lines: Vec<Vec<u8>> = Vec::new();
        let pieces: [&[u8]; 9] = [
            b"",
            b"x",
            b"all good here",
            b"ERROR: boom",
            b"it FaIlEd",
            b"HTTP 502",
            b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            b"\xff\xfe binary \x00",
            b"/usr/bin/ld: cannot find",
        ];
        for a in pieces {
            for b in pieces {
                lines.push([a, b].concat());
            }
        }
        let texts: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
        let mut ends = Vec::new();
        // Every split, so that lines pair with lines of every length.
        for skip in 0..4 {
            let texts = &texts[skip..];
            kw.first_ends(texts, &mut ends);
            assert_eq!(ends.len(), texts.len());
            for (t, e) in texts.iter().zip(&ends) {
                assert_eq!(*e, kw.first_end(t), "{:?}", String::from_utf8_lossy(t));
                assert_eq!(*e, reference.find(*t).map(|m| m.end()));
            }
        }
        assert!(ends.iter().any(Option::is_some) && ends.iter().any(Option::is_none));
        kw.first_ends(&[], &mut ends);
        assert!(ends.is_empty());
    }

    #[test]
    fn every_occurrence_from_a_point_is_found() {
        let kw = Keywords::new(&["fail", "failed", "led"]).unwrap().unwrap();
        let mut found = Vec::new();
        kw.each_from(b"FAILED then failed", 0, |p| found.push(p));
        found.sort_unstable();
        assert_eq!(found, vec![0, 0, 1, 1, 2, 2]);
        found.clear();
        kw.each_from(b"FAILED then failed", 7, |p| found.push(p));
        found.sort_unstable();
        assert_eq!(found, vec![0, 1, 2]);
        assert_eq!(kw.max_len(), 6);
        assert!(Keywords::new::<&str>(&[]).unwrap().is_none());
    }
}
