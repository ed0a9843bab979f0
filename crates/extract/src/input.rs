//! Byte-level framing of records: physical lines (with line numbers and push-back) and strict
//! RFC 4180 CSV records that may span lines.
//!
//! Everything works on bytes, so invalid UTF-8 is a property of one record (a reject), never a
//! reason to stop reading the file. Memory is bounded by the largest record, not the file.

use std::io::{self, BufRead};

/// Largest record (CSV record spanning lines, or one JSON line) kept whole. Anything longer is
/// still counted and rejected, but only its first [`REJECT_RAW_BYTES`] are kept.
pub(crate) const MAX_RECORD_BYTES: usize = 16 * 1024 * 1024;

/// How much of a rejected record's text is kept in [`Reject::raw`](crate::Reject::raw).
pub(crate) const REJECT_RAW_BYTES: usize = 2048;

/// Physical lines of the input, numbered from 1, with the ability to push lines back.
pub(crate) struct LineSource<'r> {
    input: &'r mut dyn BufRead,
    pushback: Vec<u8>,
    pushback_pos: usize,
    next_line: u64,
}

/// One physical line as read: its number and whether it had to be cut at [`MAX_RECORD_BYTES`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct LineInfo {
    pub(crate) number: u64,
    pub(crate) truncated: bool,
}

impl<'r> LineSource<'r> {
    pub(crate) fn new(input: &'r mut dyn BufRead) -> Self {
        LineSource {
            input,
            pushback: Vec::new(),
            pushback_pos: 0,
            next_line: 1,
        }
    }

    /// Appends the next physical line, including its `\n` (if any), to `buf`.
    ///
    /// Returns `None` at end of input. A line longer than `limit` bytes is cut: the first `limit`
    /// bytes are appended, the rest is skipped up to and including its `\n`, and the line is
    /// flagged `truncated`.
    pub(crate) fn read_line(
        &mut self,
        buf: &mut Vec<u8>,
        limit: usize,
    ) -> io::Result<Option<LineInfo>> {
        let start_len = buf.len();
        let mut truncated = false;
        let mut done = false;
        // Pushed-back bytes first.
        if self.pushback_pos < self.pushback.len() {
            let rest = &self.pushback[self.pushback_pos..];
            let (take, found) = match memchr(b'\n', rest) {
                Some(i) => (i + 1, true),
                None => (rest.len(), false),
            };
            let keep = take.min(limit);
            truncated |= keep < take;
            buf.extend_from_slice(&rest[..keep]);
            self.pushback_pos += take;
            if self.pushback_pos >= self.pushback.len() {
                self.pushback.clear();
                self.pushback_pos = 0;
            }
            done = found;
        }
        while !done {
            let available = match self.input.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                break;
            }
            let (take, found) = match memchr(b'\n', available) {
                Some(i) => (i + 1, true),
                None => (available.len(), false),
            };
            let room = limit.saturating_sub(buf.len() - start_len);
            let keep = take.min(room);
            truncated |= keep < take;
            buf.extend_from_slice(&available[..keep]);
            self.input.consume(take);
            done = found;
        }
        if buf.len() == start_len && !truncated {
            return Ok(None);
        }
        if truncated && buf.last() != Some(&b'\n') {
            // Keep the pushed-back form of a cut line a whole line.
            buf.push(b'\n');
        }
        let number = self.next_line;
        self.next_line += 1;
        Ok(Some(LineInfo { number, truncated }))
    }

    /// Puts `bytes` (whole lines, the first of which is line `first_line`) back in front of the
    /// remaining input.
    pub(crate) fn push_back(&mut self, bytes: &[u8], first_line: u64) {
        if bytes.is_empty() {
            return;
        }
        let mut joined = Vec::with_capacity(bytes.len() + self.pushback.len() - self.pushback_pos);
        joined.extend_from_slice(bytes);
        joined.extend_from_slice(&self.pushback[self.pushback_pos..]);
        self.pushback = joined;
        self.pushback_pos = 0;
        self.next_line = first_line;
    }
}

/// Non-blank physical lines: the records of line-oriented formats.
pub(crate) struct Lines<'r> {
    src: LineSource<'r>,
    buf: Vec<u8>,
}

impl<'r> Lines<'r> {
    pub(crate) fn new(input: &'r mut dyn BufRead) -> Self {
        Lines {
            src: LineSource::new(input),
            buf: Vec::with_capacity(4096),
        }
    }

    /// The next non-blank line; its text (without line end) is [`Lines::text`].
    pub(crate) fn next_line(&mut self) -> io::Result<Option<LineInfo>> {
        loop {
            self.buf.clear();
            match self.src.read_line(&mut self.buf, MAX_RECORD_BYTES)? {
                None => return Ok(None),
                Some(info) if !info.truncated && is_blank(&self.buf) => continue,
                Some(info) => return Ok(Some(info)),
            }
        }
    }

    /// The current line without its line end.
    pub(crate) fn text(&self) -> &[u8] {
        trim_eol(&self.buf)
    }
}

/// The reason given for a line cut at [`MAX_RECORD_BYTES`].
pub(crate) fn too_long() -> String {
    format!(
        "line longer than {} MiB; expected one record per line",
        MAX_RECORD_BYTES >> 20
    )
}

/// Skips a UTF-8 byte-order mark at the start of the input.
pub(crate) fn skip_bom(input: &mut dyn BufRead) -> io::Result<()> {
    let buf = input.fill_buf()?;
    if buf.starts_with(b"\xEF\xBB\xBF") {
        input.consume(3);
    }
    Ok(())
}

/// Position of the first `needle` in `haystack`.
pub(crate) fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

/// The line without its trailing `\n` / `\r\n`.
pub(crate) fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Whether a line holds nothing but whitespace (a blank line is not a record).
pub(crate) fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|b| b.is_ascii_whitespace())
}

/// The record text kept in a reject: lossy UTF-8, line end removed, at most ~2 KB.
pub(crate) fn raw_text(raw: &[u8]) -> String {
    let raw = trim_eol(raw);
    let cut = &raw[..raw.len().min(REJECT_RAW_BYTES)];
    let mut text = String::from_utf8_lossy(cut).into_owned();
    if cut.len() < raw.len() {
        // A multi-byte character cut in half shows as U+FFFD, which is fine for a reject.
        text.push('…');
    }
    text
}

/// A value quoted for a reject reason, shortened so reasons stay readable.
pub(crate) fn shown(value: &str) -> String {
    const MAX: usize = 80;
    if value.len() <= MAX {
        return format!("'{value}'");
    }
    let mut end = MAX;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("'{}…'", &value[..end])
}

/// The outcome of framing one CSV record.
#[derive(Debug)]
pub(crate) enum Framed {
    /// A well-formed record starting on `line`; its fields are in the reader.
    Record { line: u64 },
    /// A malformed record: the first physical line of it (`line`) is given up on and reading
    /// resumes at the next line. `field` (0-based) is where the damage was found, if in a field.
    Malformed {
        line: u64,
        field: Option<usize>,
        reason: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    FieldStart,
    Unquoted,
    Quoted,
    QuoteInQuoted,
}

/// Strict RFC 4180 records: fields separated by `delimiter`, optionally enclosed in `"` with
/// `""` for a quote; a quoted field may hold delimiters and line breaks; `\n` or `\r\n` end a
/// record.
///
/// Unlike a lenient CSV reader, a malformed record (a quote inside an unquoted field, text after
/// a closing quote, a quote never closed) never swallows the records after it: the record's
/// first physical line is reported as malformed and framing resumes at the following line.
pub(crate) struct CsvReader<'r> {
    lines: LineSource<'r>,
    delimiter: u8,
    multiline: bool,
    expected_fields: Option<usize>,
    /// Line of the current record and the length of its first line in `raw`.
    line: u64,
    first_len: usize,
    raw: Vec<u8>,
    data: Vec<u8>,
    ends: Vec<usize>,
}

impl<'r> CsvReader<'r> {
    /// A reader of records that may span lines (quoted fields holding line breaks).
    pub(crate) fn new(input: &'r mut dyn BufRead, delimiter: u8) -> Self {
        CsvReader {
            lines: LineSource::new(input),
            delimiter,
            multiline: true,
            expected_fields: None,
            line: 0,
            first_len: 0,
            raw: Vec::with_capacity(4096),
            data: Vec::with_capacity(4096),
            ends: Vec::with_capacity(64),
        }
    }

    /// A reader of one-line records: a quote still open at the end of a line makes the line
    /// malformed instead of running on into the next one.
    pub(crate) fn single_line(input: &'r mut dyn BufRead, delimiter: u8) -> Self {
        CsvReader {
            multiline: false,
            ..CsvReader::new(input, delimiter)
        }
    }

    /// Sets the field count of a good record (a header's). A record spanning several lines with
    /// another count that encloses lines reading as good records on their own
    /// ([`CsvReader::encloses_records`]) is then taken for two stray quotes pairing up: its first
    /// line is reported as malformed and framing resumes on the next line, so the records in
    /// between are not lost. (Readers do the same, with [`CsvReader::retreat`], for such a
    /// record whose values do not parse.)
    pub(crate) fn expect_fields(&mut self, n: usize) {
        self.expected_fields = Some(n);
    }

    /// Frames the next record, skipping blank lines. `None` at end of input.
    pub(crate) fn next_record(&mut self) -> io::Result<Option<Framed>> {
        loop {
            self.raw.clear();
            let Some(first) = self.lines.read_line(&mut self.raw, MAX_RECORD_BYTES)? else {
                return Ok(None);
            };
            if is_blank(&self.raw) && !first.truncated {
                continue;
            }
            if first.truncated {
                return Ok(Some(Framed::Malformed {
                    line: first.number,
                    field: None,
                    reason: format!(
                        "record longer than {} MiB; expected a CSV record of reasonable size",
                        MAX_RECORD_BYTES >> 20
                    ),
                }));
            }
            let first_len = self.raw.len();
            self.line = first.number;
            self.first_len = first_len;
            let mut outcome = self.parse(first.number)?;
            if let (Ok(()), Some(n)) = (&outcome, self.expected_fields)
                && self.raw.len() > first_len
                && self.ends.len() != n
                && self.encloses_records()
            {
                outcome = Err((
                    None,
                    self.not_multiline(&format!("it has {} fields, not {n}", self.ends.len())),
                ));
            }
            return match outcome {
                Ok(()) => {
                    self.repair_utf8();
                    Ok(Some(Framed::Record { line: first.number }))
                }
                Err((field, reason)) => {
                    self.retreat();
                    Ok(Some(Framed::Malformed {
                        line: first.number,
                        field,
                        reason,
                    }))
                }
            };
        }
    }

    /// Whether the current record spans more than one line.
    pub(crate) fn spans_lines(&self) -> bool {
        self.raw.len() > self.first_len
    }

    /// Gives up on the current record beyond its first line: the first line stays the record
    /// (to be rejected) and the following lines are put back to be read again.
    pub(crate) fn retreat(&mut self) {
        if self.spans_lines() {
            self.lines
                .push_back(&self.raw[self.first_len..], self.line + 1);
            self.raw.truncate(self.first_len);
        }
    }

    /// Whether the current multi-line record encloses, between its first and its last line,
    /// text that reads as one or more records of the expected field count on its own: the sign
    /// of two stray quotes pairing up around good records, rather than of a field holding line
    /// breaks.
    pub(crate) fn encloses_records(&self) -> bool {
        let Some(n) = self.expected_fields else {
            return false;
        };
        let tail = &self.raw[self.first_len.min(self.raw.len())..];
        // The last line of the span is where the quote closes; what is before it is enclosed.
        let body = trim_eol(tail);
        let Some(end) = body.iter().rposition(|&b| b == b'\n') else {
            return false;
        };
        let mut middle = &body[..=end];
        let mut inner = CsvReader::new(&mut middle, self.delimiter);
        while let Ok(Some(framed)) = inner.next_record() {
            if matches!(framed, Framed::Record { .. }) && inner.len() == n {
                return true;
            }
        }
        false
    }

    /// The reason given for the first line of a multi-line record that is not accepted
    /// (call before [`CsvReader::retreat`]).
    pub(crate) fn not_multiline(&self, why: &str) -> String {
        let tail = &self.raw[self.first_len.min(self.raw.len())..];
        let more = tail.iter().filter(|&&b| b == b'\n').count()
            + usize::from(!tail.is_empty() && tail.last() != Some(&b'\n'));
        format!(
            "a quoted field opened on this line is not closed on it, and the record it would \
             start (lines {}–{}) is not valid: {why}; expected each quote closed on its line or \
             enclosing line breaks of a valid record",
            self.line,
            self.line + more as u64
        )
    }

    /// Parses `raw` (which holds the record's first line) into fields, reading further lines
    /// while a quoted field is open.
    fn parse(&mut self, first_line: u64) -> io::Result<Result<(), (Option<usize>, String)>> {
        self.data.clear();
        self.ends.clear();
        let delim = self.delimiter;
        let mut state = State::FieldStart;
        let mut pos = 0;
        loop {
            while pos < self.raw.len() {
                // Copy runs of ordinary bytes in one go.
                let rest = &self.raw[pos..];
                let run = match state {
                    State::FieldStart | State::Unquoted => rest
                        .iter()
                        .position(|&b| b == delim || b == b'"' || b == b'\n' || b == b'\r')
                        .unwrap_or(rest.len()),
                    State::Quoted => memchr(b'"', rest).unwrap_or(rest.len()),
                    State::QuoteInQuoted => 0,
                };
                if run > 0 {
                    self.data.extend_from_slice(&rest[..run]);
                    pos += run;
                    if state == State::FieldStart {
                        state = State::Unquoted;
                    }
                    continue;
                }
                let b = self.raw[pos];
                pos += 1;
                match state {
                    State::FieldStart | State::Unquoted => {
                        if b == delim {
                            self.ends.push(self.data.len());
                            state = State::FieldStart;
                        } else if b == b'\n' || (b == b'\r' && at_eol(&self.raw, pos)) {
                            self.ends.push(self.data.len());
                            return Ok(Ok(()));
                        } else if b == b'"' {
                            if state == State::FieldStart {
                                state = State::Quoted;
                            } else {
                                return Ok(Err((
                                    Some(self.ends.len()),
                                    "unexpected '\"' inside an unquoted field; expected quotes to \
                                     enclose the whole field, with '\"\"' for a quote"
                                        .to_owned(),
                                )));
                            }
                        } else {
                            self.data.push(b);
                            state = State::Unquoted;
                        }
                    }
                    State::Quoted => {
                        if b == b'"' {
                            state = State::QuoteInQuoted;
                        } else {
                            self.data.push(b);
                        }
                    }
                    State::QuoteInQuoted => {
                        if b == b'"' {
                            self.data.push(b'"');
                            state = State::Quoted;
                        } else if b == delim {
                            self.ends.push(self.data.len());
                            state = State::FieldStart;
                        } else if b == b'\n' || (b == b'\r' && at_eol(&self.raw, pos)) {
                            self.ends.push(self.data.len());
                            return Ok(Ok(()));
                        } else {
                            return Ok(Err((
                                Some(self.ends.len()),
                                format!(
                                    "text after the closing quote; expected '{}' or the end of \
                                     the line after a quoted field",
                                    delim as char
                                ),
                            )));
                        }
                    }
                }
            }
            if state != State::Quoted {
                // End of input without a line break: the record ends here.
                self.ends.push(self.data.len());
                return Ok(Ok(()));
            }
            if !self.multiline {
                return Ok(Err((
                    Some(self.ends.len()),
                    "quoted field not closed by the end of the line; expected a closing '\"' \
                     (records are one line each)"
                        .to_owned(),
                )));
            }
            // A quoted field runs on to the next line.
            let before = self.raw.len();
            let room = MAX_RECORD_BYTES.saturating_sub(before);
            match self.lines.read_line(&mut self.raw, room)? {
                None => {
                    return Ok(Err((
                        Some(self.ends.len()),
                        format!(
                            "quoted field is never closed (starting on line {first_line}); \
                             expected a closing '\"'"
                        ),
                    )));
                }
                Some(info) if info.truncated || room == 0 => {
                    return Ok(Err((
                        Some(self.ends.len()),
                        format!(
                            "quoted field not closed within {} MiB; expected a closing '\"'",
                            MAX_RECORD_BYTES >> 20
                        ),
                    )));
                }
                Some(_) => {}
            }
        }
    }

    /// The raw bytes of the current record (all its lines; for a malformed one, its first line).
    pub(crate) fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// Number of fields in the current record.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// Field `i` (0-based) of the current record, unescaped.
    pub(crate) fn field(&self, i: usize) -> &[u8] {
        let end = self.ends.get(i).copied().unwrap_or(0);
        let start = if i == 0 {
            0
        } else {
            self.ends.get(i - 1).copied().unwrap_or(end)
        };
        self.data.get(start..end).unwrap_or_default()
    }

    /// Replaces every invalid UTF-8 sequence in the fields by U+FFFD (see [`crate::text`]); the
    /// raw bytes stay as read, so the record is counted as repaired when it is staged.
    fn repair_utf8(&mut self) {
        if std::str::from_utf8(&self.data).is_ok() {
            return;
        }
        let mut data = Vec::with_capacity(self.data.len() + 16);
        let mut ends = Vec::with_capacity(self.ends.len());
        let mut start = 0;
        for &end in &self.ends {
            let (text, _) = crate::text::lossy(&self.data[start..end]);
            data.extend_from_slice(text.as_bytes());
            ends.push(data.len());
            start = end;
        }
        self.data = data;
        self.ends = ends;
    }

    /// Field `i` as text (invalid UTF-8 already replaced by U+FFFD).
    pub(crate) fn text(&self, i: usize) -> &str {
        std::str::from_utf8(self.field(i)).unwrap_or_default()
    }
}

/// The reason for a malformed CSV record, naming the field where the damage was found.
pub(crate) fn malformed_reason(
    field: Option<usize>,
    reason: &str,
    name: impl Fn(usize) -> Option<String>,
) -> String {
    match field {
        Some(i) => match name(i) {
            Some(name) => format!("malformed CSV in column {name}: {reason}"),
            None => format!("malformed CSV in field {}: {reason}", i + 1),
        },
        None => format!("malformed CSV: {reason}"),
    }
}

/// Whether the byte before `pos` (a `\r`) ends the line: followed by `\n` or by nothing.
fn at_eol(raw: &[u8], pos: usize) -> bool {
    raw.get(pos).is_none_or(|&b| b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    type Framing = Result<(u64, Vec<String>), (u64, String)>;

    fn frame_all(input: &str) -> Vec<Framing> {
        let mut cursor = io::Cursor::new(input.as_bytes().to_vec());
        let mut reader = CsvReader::new(&mut cursor, b',');
        let mut out = Vec::new();
        while let Ok(Some(f)) = reader.next_record() {
            match f {
                Framed::Record { line } => out.push(Ok((
                    line,
                    (0..reader.len())
                        .map(|i| reader.text(i).to_owned())
                        .collect(),
                ))),
                Framed::Malformed {
                    line,
                    field,
                    reason,
                } => out.push(Err((line, malformed_reason(field, &reason, |_| None)))),
            }
        }
        out
    }

    #[test]
    fn plain_quoted_and_multiline_records() {
        let got =
            frame_all("a,b\r\n\"x,1\",\"he said \"\"hi\"\"\"\r\n\r\n\"multi\r\nline\",z\r\nlast,");
        assert_eq!(got.len(), 4);
        assert_eq!(got[0], Ok((1, vec!["a".into(), "b".into()])));
        assert_eq!(got[1], Ok((2, vec!["x,1".into(), "he said \"hi\"".into()])));
        assert_eq!(got[2], Ok((4, vec!["multi\r\nline".into(), "z".into()])));
        assert_eq!(got[3], Ok((6, vec!["last".into(), String::new()])));
    }

    #[test]
    fn malformed_records_do_not_swallow_the_next_ones() {
        let got = frame_all(
            "ok,1\nbad\"quote,2\n\"unclosed,3\nnext,4\n\"x\"y,5\nend,6\n\"never closed\n",
        );
        let lines: Vec<_> = got
            .iter()
            .map(|r| match r {
                Ok((l, _)) => (*l, true),
                Err((l, _)) => (*l, false),
            })
            .collect();
        // Line 3 opens a quote that closes at the start of line 5 ('"x"') and is followed by 'x':
        // line 3 alone is malformed; line 4 is read again and is fine.
        assert_eq!(
            lines,
            vec![
                (1, true),
                (2, false),
                (3, false),
                (4, true),
                (5, false),
                (6, true),
                (7, false)
            ]
        );
        for r in &got {
            if let Err((_, reason)) = r {
                assert!(reason.contains("expected"), "{reason}");
            }
        }
    }

    #[test]
    fn line_source_push_back_renumbers() {
        let mut cursor = io::Cursor::new(b"one\ntwo\nthree".to_vec());
        let mut src = LineSource::new(&mut cursor);
        let mut buf = Vec::new();
        let a = src
            .read_line(&mut buf, 100)
            .ok()
            .flatten()
            .map(|i| i.number);
        let b = src
            .read_line(&mut buf, 100)
            .ok()
            .flatten()
            .map(|i| i.number);
        assert_eq!((a, b), (Some(1), Some(2)));
        src.push_back(b"two\n", 2);
        buf.clear();
        let c = src
            .read_line(&mut buf, 100)
            .ok()
            .flatten()
            .map(|i| i.number);
        assert_eq!((c, buf.as_slice()), (Some(2), &b"two\n"[..]));
        buf.clear();
        let d = src
            .read_line(&mut buf, 100)
            .ok()
            .flatten()
            .map(|i| i.number);
        assert_eq!((d, buf.as_slice()), (Some(3), &b"three"[..]));
        assert!(src.read_line(&mut buf, 100).ok().flatten().is_none());
    }

    #[test]
    fn long_lines_are_cut_and_flagged() {
        let mut cursor = io::Cursor::new(b"abcdefgh\nxy\n".to_vec());
        let mut src = LineSource::new(&mut cursor);
        let mut buf = Vec::new();
        let info = src.read_line(&mut buf, 4).ok().flatten();
        assert!(info.is_some_and(|i| i.truncated && i.number == 1));
        assert_eq!(buf, b"abcd\n");
        buf.clear();
        let info = src.read_line(&mut buf, 4).ok().flatten();
        assert!(info.is_some_and(|i| !i.truncated && i.number == 2));
        assert_eq!(buf, b"xy\n");
    }

    #[test]
    fn raw_text_is_truncated_and_lossy() {
        let long = vec![b'a'; 5000];
        assert!(raw_text(&long).len() <= REJECT_RAW_BYTES + 4);
        assert_eq!(raw_text(b"a\xffb\r\n"), "a\u{fffd}b");
    }
}
