//! Reading a log in blocks of whole lines: the lines [`LineReader`] gives
//! (split on `\n`, each capped at a length, the rest of a longer line
//! skipped), read into one buffer a block at a time and cut where the
//! newlines are, instead of copied out line by line.
//!
//! [`LineReader`]: super::LineReader

use std::io::{self, Read};

use super::reader::RawLine;

/// Consecutive lines of a log, in one buffer.
#[derive(Debug, Default)]
pub struct LineBlock {
    /// Number of the first line.
    first: u64,
    /// The lines' bytes; past the last line, bytes of no line.
    data: Vec<u8>,
    /// Each line's range in `data`, and whether it was cut at the cap
    /// (32-bit: a block is kept below [`MAX_BLOCK_BYTES`], and the ranges
    /// of many lines are held at once).
    lines: Vec<(u32, u32, bool)>,
}

/// A block reads at most about this many bytes (the cap of a line more).
pub const MAX_BLOCK_BYTES: usize = 1 << 30;

impl LineBlock {
    /// Whether the block holds no line (the log has ended).
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Bytes from the block's start to the end of its last line: at least
    /// the length of its lines together.
    pub fn byte_len(&self) -> usize {
        self.lines.last().map_or(0, |&(_, end, _)| end as usize)
    }

    /// The block's lines, in order.
    pub fn lines(&self) -> impl Iterator<Item = RawLine<'_>> {
        self.lines
            .iter()
            .enumerate()
            .map(move |(i, &(start, end, truncated))| RawLine {
                number: self.first + i as u64,
                bytes: self
                    .data
                    .get(start as usize..end as usize)
                    .unwrap_or_default(),
                truncated,
            })
    }
}

/// Reads a log into [`LineBlock`]s with bounded memory.
pub struct BlockReader<R> {
    inner: R,
    cap: usize,
    /// Number of the next line.
    next_number: u64,
    /// The start of a line the last block ended in the middle of (at most
    /// `cap` bytes).
    carry: Vec<u8>,
    /// The rest of an overlong line is being skipped.
    skipping: bool,
    eof: bool,
}

impl<R: Read> BlockReader<R> {
    /// A reader whose lines are cut at `cap` bytes (at least 1), as
    /// [`LineReader::with_cap`](super::LineReader::with_cap) cuts them.
    pub fn new(inner: R, cap: usize) -> Self {
        Self {
            inner,
            cap: cap.clamp(1, MAX_BLOCK_BYTES),
            next_number: 1,
            carry: Vec::new(),
            skipping: false,
            eof: false,
        }
    }

    /// Fills `block` with the next lines: at least `min_bytes` of them
    /// (and at least one line) unless the log ends first. An empty block
    /// means the log has ended.
    pub fn fill(&mut self, block: &mut LineBlock, min_bytes: usize) -> io::Result<()> {
        let min_bytes = min_bytes.min(MAX_BLOCK_BYTES);
        block.first = self.next_number;
        block.lines.clear();
        let (data, lines) = (&mut block.data, &mut block.lines);
        let mut len = self.carry.len();
        grow(data, len);
        data[..len].copy_from_slice(&self.carry);
        self.carry.clear();
        // Start of the line not yet ended.
        let mut line_start = 0;
        while !self.eof && (len < min_bytes || lines.is_empty()) {
            // Reads go straight into the block (a large read skips the
            // reader's own buffer).
            let want = min_bytes.saturating_sub(len).max(1);
            grow(data, len + want);
            let n = match self.inner.read(&mut data[len..len + want]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                self.eof = true;
                break;
            }
            let mut end = len + n;
            if self.skipping {
                // Drop the overlong line's bytes up to its newline.
                match memchr::memchr(b'\n', &data[len..end]) {
                    Some(i) => {
                        data.copy_within(len + i + 1..end, len);
                        end -= i + 1;
                        self.skipping = false;
                    }
                    None => continue,
                }
            }
            for i in memchr::memchr_iter(b'\n', &data[len..end]) {
                let line_end = len + i;
                lines.push(self.cut(line_start, line_end));
                line_start = line_end + 1;
            }
            len = end;
            if len - line_start > self.cap {
                // An overlong line keeps its first `cap` bytes.
                lines.push(self.cut(line_start, len));
                len = line_start + self.cap;
                line_start = len;
                self.skipping = true;
            }
        }
        if self.eof {
            // A last line without `\n` is still a line.
            if line_start < len {
                lines.push(self.cut(line_start, len));
            }
        } else {
            self.carry.extend_from_slice(&data[line_start..len]);
        }
        self.next_number += lines.len() as u64;
        Ok(())
    }

    /// The line at `start..end` of a block, cut at the cap.
    fn cut(&self, start: usize, end: usize) -> (u32, u32, bool) {
        let (end, truncated) = if end - start > self.cap {
            (start + self.cap, true)
        } else {
            (end, false)
        };
        // Below 2^32: a block holds less than 3 * MAX_BLOCK_BYTES bytes.
        let offset = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        (offset(start), offset(end), truncated)
    }
}

/// Makes `data` at least `len` bytes long; bytes already there are reused
/// as they are (they are overwritten before they are read).
fn grow(data: &mut Vec<u8>, len: usize) {
    if data.len() < len {
        data.resize(len, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::LineReader;

    type Line = (u64, Vec<u8>, bool);

    fn by_line_reader(input: &[u8], cap: usize) -> Vec<Line> {
        let mut r = LineReader::with_cap(io::BufReader::with_capacity(5, input), cap);
        let mut out = Vec::new();
        while let Some(l) = r.next_line().unwrap() {
            out.push((l.number, l.bytes.to_vec(), l.truncated));
        }
        out
    }

    fn by_blocks(input: &[u8], cap: usize, min_bytes: usize, read_size: usize) -> Vec<Line> {
        let mut r = BlockReader::new(io::BufReader::with_capacity(read_size, input), cap);
        let mut block = LineBlock::default();
        let mut out = Vec::new();
        loop {
            r.fill(&mut block, min_bytes).unwrap();
            if block.is_empty() {
                return out;
            }
            let total: usize = block.lines().map(|l| l.bytes.len()).sum();
            assert!(block.byte_len() >= total);
            out.extend(
                block
                    .lines()
                    .map(|l| (l.number, l.bytes.to_vec(), l.truncated)),
            );
        }
    }

    #[test]
    fn blocks_hold_the_lines_a_line_reader_gives() {
        let long = [b'x'; 40];
        let mut inputs: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"\n".to_vec(),
            b"a".to_vec(),
            b"a\r\nb\rc\n\nd".to_vec(),
            b"one\ntwo\n".to_vec(),
        ];
        for tail in [&b""[..], b"\n", b"\nnext\n", b"\nlast"] {
            let mut input = b"start\n".to_vec();
            input.extend_from_slice(&long);
            input.extend_from_slice(tail);
            inputs.push(input);
        }
        let mut exact = long[..10].to_vec();
        exact.extend_from_slice(b"\n0123456789");
        inputs.push(exact);
        let mut checked = 0;
        for input in &inputs {
            let expected = by_line_reader(input, 10);
            for min_bytes in [1, 3, 11, 64] {
                for read_size in [1, 4, 7, 100] {
                    let got = by_blocks(input, 10, min_bytes, read_size);
                    assert_eq!(
                        got,
                        expected,
                        "{:?} in blocks of {min_bytes}, reads of {read_size}",
                        String::from_utf8_lossy(input)
                    );
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, inputs.len() * 16);
    }

    #[test]
    fn an_overlong_line_does_not_grow_the_block() {
        let mut input = b"first\n".to_vec();
        input.extend(std::iter::repeat_n(b'y', 100_000));
        input.extend_from_slice(b"\nafter\n");
        let mut r = BlockReader::new(&input[..], 16);
        let mut block = LineBlock::default();
        let mut lines = Vec::new();
        loop {
            r.fill(&mut block, 8).unwrap();
            if block.is_empty() {
                break;
            }
            assert!(
                block.data.len() <= 8 + 16 + 16,
                "{} bytes",
                block.data.len()
            );
            lines.extend(block.lines().map(|l| (l.bytes.len(), l.truncated)));
        }
        assert_eq!(lines, vec![(5, false), (16, true), (5, false)]);
    }
}
