//! Bounded line reader: splits on `\n` only, caps each line's length and never
//! holds more than one (capped) line in memory, whatever the input size.

use std::io::{self, BufRead};

/// Longest line kept, in bytes. Longer lines (minified bundles, base64 blobs,
/// JSON dumps) are truncated; the rest of the line is skipped, not buffered.
/// 16 KiB keeps every line of the corpus whole except binary noise.
pub const MAX_LINE_BYTES: usize = 16 * 1024;

/// One physical line of a log file.
#[derive(Debug)]
pub struct RawLine<'a> {
    /// 1-based line number, counting `\n` only (CR is not a line break).
    pub number: u64,
    /// The line's bytes without the final `\n`, at most [`MAX_LINE_BYTES`].
    pub bytes: &'a [u8],
    /// True when the line was longer than [`MAX_LINE_BYTES`].
    pub truncated: bool,
}

/// Streams lines from any [`BufRead`] with bounded memory.
pub struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    number: u64,
    cap: usize,
    /// Bytes of the line last returned in place, consumed on the next call.
    pending: usize,
}

impl<R: BufRead> LineReader<R> {
    pub fn new(inner: R) -> Self {
        Self::with_cap(inner, MAX_LINE_BYTES)
    }

    /// A reader with a custom line cap (at least 1 byte).
    pub fn with_cap(inner: R, cap: usize) -> Self {
        Self {
            inner,
            buf: Vec::with_capacity(256),
            number: 0,
            cap: cap.max(1),
            pending: 0,
        }
    }

    /// The next line, or `None` at end of input. A final `\n` does not start
    /// another line; a last line without `\n` is still a line.
    pub fn next_line(&mut self) -> io::Result<Option<RawLine<'_>>> {
        if self.pending > 0 {
            self.inner.consume(self.pending);
            self.pending = 0;
        }
        // Fast path: the whole line is in the reader's buffer; lend it
        // without copying and consume it on the next call.
        let in_place = loop {
            match self.inner.fill_buf() {
                Ok(avail) => break memchr::memchr(b'\n', avail).filter(|&i| i <= self.cap),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        if let Some(i) = in_place {
            self.pending = i + 1;
            self.number += 1;
            // The buffer is unchanged since nothing was consumed.
            let avail = self.inner.fill_buf()?;
            return Ok(Some(RawLine {
                number: self.number,
                bytes: avail.get(..i).unwrap_or(avail),
                truncated: false,
            }));
        }
        self.buf.clear();
        let mut truncated = false;
        let mut saw_any = false;
        loop {
            let avail = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if avail.is_empty() {
                if !saw_any {
                    return Ok(None);
                }
                break;
            }
            saw_any = true;
            let (chunk, used, end) = match memchr::memchr(b'\n', avail) {
                Some(i) => (&avail[..i], i + 1, true),
                None => (avail, avail.len(), false),
            };
            let room = self.cap.saturating_sub(self.buf.len());
            if chunk.len() > room {
                truncated = true;
                self.buf.extend_from_slice(&chunk[..room]);
            } else {
                self.buf.extend_from_slice(chunk);
            }
            self.inner.consume(used);
            if end {
                break;
            }
        }
        self.number += 1;
        Ok(Some(RawLine {
            number: self.number,
            bytes: &self.buf,
            truncated,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], cap: usize) -> Vec<(u64, Vec<u8>, bool)> {
        let mut r = LineReader::with_cap(io::BufReader::with_capacity(4, input), cap);
        let mut out = Vec::new();
        while let Some(l) = r.next_line().unwrap() {
            out.push((l.number, l.bytes.to_vec(), l.truncated));
        }
        out
    }

    #[test]
    fn splits_on_lf_only() {
        let got = lines(b"a\r\nb\rc\n\nd", 100);
        assert_eq!(
            got,
            vec![
                (1, b"a\r".to_vec(), false),
                (2, b"b\rc".to_vec(), false),
                (3, b"".to_vec(), false),
                (4, b"d".to_vec(), false),
            ]
        );
    }

    #[test]
    fn final_newline_does_not_start_a_line() {
        assert_eq!(lines(b"a\n", 100).len(), 1);
        assert_eq!(lines(b"", 100).len(), 0);
        assert_eq!(lines(b"\n", 100).len(), 1);
    }

    #[test]
    fn long_lines_are_capped_and_skipped() {
        let mut input = vec![b'x'; 1000];
        input.extend_from_slice(b"\nshort\n");
        let got = lines(&input, 10);
        assert_eq!(got[0], (1, vec![b'x'; 10], true));
        assert_eq!(got[1], (2, b"short".to_vec(), false));
    }
}
