//! The one JSON record framer every JSON reader uses: splits a byte stream into the records it
//! holds, whatever the shape of the file, with the line (and JSON pointer) each starts at.
//!
//! Shapes, told apart as the bytes come (nothing is decided for the whole file up front):
//!
//! | shape | example | records |
//! |---|---|---|
//! | JSON lines | `{...}\n{...}\n` | each top-level object |
//! | concatenated objects | `{...}{...}` (Kinesis Firehose) | each top-level object |
//! | a single document | a pretty-printed `{...}` | the object |
//! | objects with trailing commas | `{...},\n{...},\n` | each top-level object |
//! | an array | `[{...}, {...}]`, pretty or one record per line, a trailing comma allowed | each element, at `/i` |
//! | an API list envelope | `{"tickets": [...], "count": 6040}` | each element of a list key the reader names, at `/tickets/i`; the other members (`count`, `next_page`) are not records |
//!
//! Several arrays or envelopes may follow each other in one file (pages appended to a file).
//! Memory is bounded by the largest record, not the file: elements of arrays and of envelope
//! lists are framed one at a time, and envelope members other than the lists are scanned without
//! being kept.
//!
//! The framer only balances brackets outside strings; records are parsed by serde_json. It
//! recovers from damage without losing the records after it:
//!
//! - a string that runs into a line break ends the record there (raw line breaks cannot occur
//!   in JSON strings);
//! - a `{` opening a line inside a record starts the next record (the previous was cut off);
//! - a `{` where no value may start, on a later line than the record started, means the record
//!   was cut off at its line end: it ends there and the line is read again on its own;
//! - a `{` where no value may start on the record's first line, or text after a record on its
//!   line, marks the record damaged: it runs to the end of its line, or to the next `}{`
//!   boundary when objects are concatenated;
//! - a top-level line that does not start with `{` or `[` is one unit up to its end (it is
//!   rejected by the parser, which says what it is: a number, a string, not JSON...).
//!
//! Pretty-printed records are still read: their nested objects are indented or follow a `:`.

use std::io::{self, BufRead};

use crate::input::MAX_RECORD_BYTES;

/// Where a framed record sits in its document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pos {
    /// A top-level value (JSON lines, concatenated objects, a single document).
    Top,
    /// Element `i` (0-based) of a top-level array.
    Index(u64),
    /// Element `i` of the list under this key of an API list envelope.
    Member(&'static str, u64),
}

impl Pos {
    /// The JSON pointer of the record in its document (empty for a top-level value).
    pub(crate) fn pointer(&self) -> String {
        match self {
            Pos::Top => String::new(),
            Pos::Index(i) => format!("/{i}"),
            Pos::Member(key, i) => format!("/{key}/{i}"),
        }
    }

    /// The envelope list the record came from.
    pub(crate) fn list(&self) -> Option<&'static str> {
        match self {
            Pos::Member(key, _) => Some(key),
            _ => None,
        }
    }
}

/// One framed unit.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frame {
    /// A complete JSON value (or a top-level line that is not an object or array, for the
    /// parser to name), starting on `line`; its bytes are in [`Framer::bytes`].
    Value { line: u64, pos: Pos },
    /// Bytes that cannot be a record, starting on `line`: a record cut off, or damaged text.
    Broken { line: u64, pos: Pos, reason: String },
    /// An API list envelope ended: every record of its lists has been given.
    EnvelopeEnd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Between records.
    Between,
    /// Inside an object or array.
    Value,
    /// Inside a scalar element of a list.
    Scalar,
    /// A top-level line that does not start with `{` or `[`: up to its end.
    Line,
    /// After a record: only whitespace or a separator may follow on its line.
    After,
    /// In damaged text: skipping to the end of the line, or to a `}{` record boundary.
    Skip,
    /// Inside an envelope, after one of its lists: scanning (not keeping) its other members.
    Rest,
}

/// Where the key of a top-level object's member is, while looking for an envelope list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    /// Not at a member key (or not tracking).
    None,
    /// After `{` or `,`: a key may start.
    Expect,
    /// Inside the key string.
    In,
    /// After the key string.
    Have,
    /// After `key:`: the member's value starts next.
    Colon,
}

/// The list being read: a top-level array or an envelope's list.
#[derive(Debug)]
struct List {
    key: Option<&'static str>,
    next: u64,
}

/// See the [module docs](self).
pub(crate) struct Framer<'r> {
    input: Pushback<'r>,
    lists: &'static [&'static str],
    line: u64,
    prev: u8,
    frame: Vec<u8>,
    list: Option<List>,
    /// Whether an envelope is open (its lists or its other members are being read).
    envelope: bool,
    stack: Vec<u8>,
    key: Vec<u8>,
    warnings: Vec<&'static str>,
}

/// The input with bytes put back in front of it.
struct Pushback<'r> {
    inner: &'r mut dyn BufRead,
    back: Vec<u8>,
    pos: usize,
}

impl Pushback<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos < self.back.len() {
            return Ok(&self.back[self.pos..]);
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        if self.pos < self.back.len() {
            self.pos += n;
            if self.pos >= self.back.len() {
                self.back.clear();
                self.pos = 0;
            }
        } else {
            self.inner.consume(n);
        }
    }

    /// Puts `bytes` back in front of what is left.
    fn put_back(&mut self, bytes: &[u8]) {
        let mut joined = bytes.to_vec();
        joined.extend_from_slice(&self.back[self.pos..]);
        self.back = joined;
        self.pos = 0;
    }
}

/// Warning when a file ends inside a top-level array.
pub(crate) const ARRAY_NOT_CLOSED: &str = "a JSON array is not closed at the end of the file (the \
     file is cut off?); the records before the end were read";
/// Warning when a file ends inside an API list envelope.
pub(crate) const ENVELOPE_NOT_CLOSED: &str = "an API list envelope is not closed at the end of \
     the file (the file is cut off?); the records before the end were read";

const CUT_AT_EOF: &str = "JSON record cut off at the end of the file; expected a complete JSON \
                          object";
const CUT_IN_STRING: &str =
    "JSON record cut off: a string runs to the end of the line; expected a complete JSON object";
const CUT_BEFORE_NEXT: &str =
    "JSON record cut off before the next one starts; expected a complete JSON object";
const MALFORMED: &str = "malformed JSON (a '{' where no value may start); expected a complete \
                         JSON object";
const NOT_A_VALUE: &str = "not a JSON value; expected a JSON object";
const UNEXPECTED_CLOSE: &str =
    "a '}' where a record should start; expected a JSON object or the end of the list ']'";
const TRAILING: &str = "text after the end of the JSON record; expected one JSON object per line \
                        or records separated by ','";

impl<'r> Framer<'r> {
    /// A framer that reads the lists under `lists` of a top-level object as API list envelopes.
    pub(crate) fn new(input: &'r mut dyn BufRead, lists: &'static [&'static str]) -> Self {
        Framer {
            input: Pushback {
                inner: input,
                back: Vec::new(),
                pos: 0,
            },
            lists,
            line: 1,
            prev: b'\n',
            frame: Vec::with_capacity(8192),
            list: None,
            envelope: false,
            stack: Vec::with_capacity(16),
            key: Vec::with_capacity(32),
            warnings: Vec::new(),
        }
    }

    /// The bytes of the last frame (cut at the size limit).
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.frame
    }

    /// Takes the file-level warnings noted so far (a list not closed at the end of the file).
    pub(crate) fn take_warnings(&mut self) -> Vec<&'static str> {
        std::mem::take(&mut self.warnings)
    }

    /// Counts a unit framed inside a list.
    fn counted(&mut self) {
        if let Some(list) = &mut self.list {
            list.next += 1;
        }
    }

    /// The next frame, or `None` at end of input.
    pub(crate) fn next_frame(&mut self) -> io::Result<Option<Frame>> {
        self.frame.clear();
        self.stack.clear();
        let mut mode = Mode::Between;
        let mut start = self.line;
        let mut pos = Pos::Top;
        let mut in_string = false;
        let mut escape = false;
        // Last significant byte outside strings.
        let mut last = 0u8;
        let mut key = Key::None;
        let mut oversize = false;
        let mut reason = TRAILING;
        let mut resync = false;
        loop {
            let buf = match self.input.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                let frame = match mode {
                    Mode::Between | Mode::Rest => {
                        if self.envelope {
                            self.envelope = false;
                            self.list = None;
                            self.warnings.push(ENVELOPE_NOT_CLOSED);
                            return Ok(Some(Frame::EnvelopeEnd));
                        }
                        if self.list.take().is_some() {
                            self.warnings.push(ARRAY_NOT_CLOSED);
                        }
                        return Ok(None);
                    }
                    Mode::Value => broken(start, pos, CUT_AT_EOF),
                    Mode::Scalar if in_string => broken(start, pos, CUT_AT_EOF),
                    Mode::Scalar | Mode::Line | Mode::After => finished(start, pos, oversize),
                    Mode::Skip => broken(start, pos, reason),
                };
                self.counted();
                return Ok(Some(frame));
            }
            // The frame's bytes in this chunk start at `from` (copied in one go at the end).
            let keeping = matches!(
                mode,
                Mode::Value | Mode::Scalar | Mode::Line | Mode::After | Mode::Skip
            );
            let mut from = if keeping { Some(0) } else { None };
            let mut i = 0;
            let mut result = None;
            while i < buf.len() {
                let b = buf[i];
                match mode {
                    Mode::Between => {
                        let in_list = self.list.is_some();
                        match b {
                            b'\n' => self.line += 1,
                            b'{' | b'[' if b == b'{' || in_list => {
                                mode = Mode::Value;
                                start = self.line;
                                pos = pos_in(&self.list);
                                self.stack.push(b);
                                last = b;
                                key = if b == b'{' && !in_list {
                                    Key::Expect
                                } else {
                                    Key::None
                                };
                                from = Some(i);
                            }
                            b'[' => {
                                // A top-level array: its elements are the records.
                                self.list = Some(List { key: None, next: 0 });
                            }
                            b']' if in_list => {
                                let was_envelope =
                                    self.list.take().is_some_and(|l| l.key.is_some());
                                if was_envelope {
                                    mode = Mode::Rest;
                                    self.stack.clear();
                                    self.stack.push(b'{');
                                    key = Key::None;
                                    last = b']';
                                }
                            }
                            b'}' if in_list && self.envelope => {
                                // The envelope closes without closing its list.
                                self.list = None;
                                self.envelope = false;
                                self.warnings.push(ENVELOPE_NOT_CLOSED);
                                result = Some(Frame::EnvelopeEnd);
                                i += 1;
                                break;
                            }
                            b'}' if in_list => {
                                mode = Mode::Skip;
                                reason = UNEXPECTED_CLOSE;
                                start = self.line;
                                pos = pos_in(&self.list);
                                from = Some(i);
                            }
                            b',' => {}
                            _ if b.is_ascii_whitespace() => {}
                            b'"' if in_list => {
                                mode = Mode::Scalar;
                                in_string = true;
                                start = self.line;
                                pos = pos_in(&self.list);
                                from = Some(i);
                            }
                            _ if in_list => {
                                mode = Mode::Scalar;
                                start = self.line;
                                pos = pos_in(&self.list);
                                from = Some(i);
                            }
                            _ => {
                                mode = Mode::Line;
                                start = self.line;
                                pos = Pos::Top;
                                from = Some(i);
                            }
                        }
                    }
                    Mode::Value | Mode::Rest if in_string => {
                        if escape && b != b'\n' {
                            escape = false;
                        } else {
                            // Skip ordinary string bytes in one go.
                            let run = buf[i..]
                                .iter()
                                .position(|&c| c == b'"' || c == b'\\' || c == b'\n')
                                .unwrap_or(buf.len() - i);
                            if run > 0 {
                                if key == Key::In {
                                    let room = 64usize.saturating_sub(self.key.len());
                                    self.key.extend_from_slice(&buf[i..i + run.min(room)]);
                                }
                                i += run;
                                self.prev = buf[i - 1];
                                continue;
                            }
                            match b {
                                b'\n' => {
                                    if mode == Mode::Rest {
                                        // Damage in an envelope's other members loses no
                                        // record; carry on.
                                        in_string = false;
                                        self.line += 1;
                                    } else {
                                        // Raw line breaks cannot occur in a JSON string.
                                        result = Some(broken(start, pos.clone(), CUT_IN_STRING));
                                        break;
                                    }
                                }
                                b'\\' => escape = true,
                                _ => {
                                    in_string = false;
                                    last = b'"';
                                    if key == Key::In {
                                        key = Key::Have;
                                    }
                                }
                            }
                        }
                    }
                    Mode::Value | Mode::Rest => {
                        let depth1 = self.stack.len() == 1 && self.stack[0] == b'{';
                        match b {
                            b'"' => {
                                in_string = true;
                                if key == Key::Expect && depth1 {
                                    key = Key::In;
                                    self.key.clear();
                                } else {
                                    key = Key::None;
                                }
                            }
                            b'{' | b'[' => {
                                if b == b'['
                                    && depth1
                                    && key == Key::Colon
                                    && let Some(k) = list_key(self.lists, &self.key)
                                {
                                    // An API list envelope: its list's elements are the
                                    // records; what came before is not kept.
                                    self.list = Some(List {
                                        key: Some(k),
                                        next: 0,
                                    });
                                    self.envelope = true;
                                    self.frame.clear();
                                    self.stack.clear();
                                    from = None;
                                    oversize = false;
                                    mode = Mode::Between;
                                    key = Key::None;
                                    self.prev = b;
                                    i += 1;
                                    continue;
                                }
                                key = Key::None;
                                if mode == Mode::Value {
                                    if b == b'{' && self.prev == b'\n' {
                                        // A line opening with `{` inside a record: the next
                                        // record starts here, this one was cut off.
                                        result = Some(broken(start, pos.clone(), CUT_BEFORE_NEXT));
                                        break;
                                    }
                                    let fits = match self.stack.last() {
                                        Some(b'{') => last == b':',
                                        _ => last == b'[' || last == b',',
                                    };
                                    if !fits {
                                        if start < self.line {
                                            // Cut off at a line end, the damage showing on a
                                            // later line: re-read this line on its own.
                                            resync = true;
                                            result =
                                                Some(broken(start, pos.clone(), CUT_BEFORE_NEXT));
                                            break;
                                        }
                                        mode = Mode::Skip;
                                        reason = MALFORMED;
                                    }
                                }
                                self.stack.push(b);
                                last = b;
                            }
                            b'}' | b']' => {
                                self.stack.pop();
                                last = b;
                                key = Key::None;
                                if self.stack.is_empty() {
                                    if mode == Mode::Rest {
                                        self.envelope = false;
                                        result = Some(Frame::EnvelopeEnd);
                                        self.prev = b;
                                        i += 1;
                                        break;
                                    }
                                    mode = Mode::After;
                                }
                            }
                            b',' => {
                                last = b;
                                key = if depth1 { Key::Expect } else { Key::None };
                            }
                            b':' => {
                                last = b;
                                key = if depth1 && key == Key::Have {
                                    Key::Colon
                                } else {
                                    Key::None
                                };
                            }
                            b'\n' => self.line += 1,
                            _ if b.is_ascii_whitespace() => {}
                            _ => {
                                last = b;
                                key = Key::None;
                            }
                        }
                    }
                    Mode::Scalar if in_string => {
                        if escape && b != b'\n' {
                            escape = false;
                        } else {
                            match b {
                                b'\n' => {
                                    result = Some(broken(start, pos.clone(), CUT_IN_STRING));
                                    break;
                                }
                                b'\\' => escape = true,
                                b'"' => {
                                    in_string = false;
                                    mode = Mode::After;
                                }
                                _ => {}
                            }
                        }
                    }
                    Mode::Scalar => {
                        if matches!(b, b',' | b']' | b'}') || b.is_ascii_whitespace() {
                            // The scalar ends; the delimiter is read again after it.
                            mode = Mode::After;
                            continue;
                        }
                        if !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')) {
                            // Not a number, `true`, `false` or `null`: damaged text.
                            mode = Mode::Skip;
                            reason = NOT_A_VALUE;
                        }
                    }
                    Mode::Line => {
                        if b == b'\n' {
                            result = Some(finished(start, pos.clone(), oversize));
                            break;
                        }
                    }
                    Mode::After => {
                        let in_list = self.list.is_some();
                        if b == b'\n'
                            || b == b'{'
                            || b == b'['
                            || b == b','
                            || (in_list && (b == b']' || b == b'}'))
                        {
                            // Leave the separator or the next record to the next call.
                            result = Some(finished(start, pos.clone(), oversize));
                            break;
                        }
                        if !b.is_ascii_whitespace() {
                            mode = Mode::Skip;
                            reason = TRAILING;
                        }
                    }
                    Mode::Skip => {
                        if b == b'\n' || (b == b'{' && self.prev == b'}') {
                            result = Some(broken(start, pos.clone(), reason));
                            break;
                        }
                    }
                }
                self.prev = b;
                i += 1;
            }
            if let Some(from) = from
                && from < i
            {
                append(&mut self.frame, &buf[from..i], &mut oversize);
            }
            self.input.consume(i);
            if resync && let Some(cut) = self.frame.iter().rposition(|&b| b == b'\n') {
                self.input.put_back(&self.frame[cut + 1..]);
                self.frame.truncate(cut);
                self.prev = b'\n';
            }
            if let Some(frame) = result {
                if !matches!(frame, Frame::EnvelopeEnd) {
                    self.counted();
                }
                return Ok(Some(frame));
            }
        }
    }
}

/// The position of the next unit in `list`.
fn pos_in(list: &Option<List>) -> Pos {
    match list {
        None => Pos::Top,
        Some(List { key: None, next }) => Pos::Index(*next),
        Some(List { key: Some(k), next }) => Pos::Member(k, *next),
    }
}

/// The list key `key` is, if it is one.
fn list_key(lists: &'static [&'static str], key: &[u8]) -> Option<&'static str> {
    lists.iter().copied().find(|k| k.as_bytes() == key)
}

fn broken(line: u64, pos: Pos, reason: &str) -> Frame {
    Frame::Broken {
        line,
        pos,
        reason: reason.to_owned(),
    }
}

fn finished(line: u64, pos: Pos, oversize: bool) -> Frame {
    if oversize {
        Frame::Broken {
            line,
            pos,
            reason: format!(
                "JSON record larger than {} MiB; expected a record of reasonable size",
                MAX_RECORD_BYTES >> 20
            ),
        }
    } else {
        Frame::Value { line, pos }
    }
}

/// Keeps a frame's bytes up to the size limit.
fn append(frame: &mut Vec<u8>, bytes: &[u8], oversize: &mut bool) {
    let room = MAX_RECORD_BYTES.saturating_sub(frame.len());
    if bytes.len() > room {
        *oversize = true;
    }
    frame.extend_from_slice(&bytes[..bytes.len().min(room)]);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (ok, line, pointer, text) of every unit; `E` for an envelope end.
    fn frames_with(
        input: &str,
        lists: &'static [&'static str],
    ) -> Vec<(char, u64, String, String)> {
        let mut cursor = io::Cursor::new(input.as_bytes().to_vec());
        let mut framer = Framer::new(&mut cursor, lists);
        let mut out = Vec::new();
        while let Ok(Some(f)) = framer.next_frame() {
            let text = String::from_utf8_lossy(framer.bytes()).into_owned();
            match f {
                Frame::Value { line, pos } => out.push(('v', line, pos.pointer(), text)),
                Frame::Broken { line, pos, .. } => out.push(('x', line, pos.pointer(), text)),
                Frame::EnvelopeEnd => out.push(('E', 0, String::new(), String::new())),
            }
        }
        out
    }

    fn frames(input: &str) -> Vec<(char, u64, String, String)> {
        frames_with(input, &[])
    }

    fn summary(got: &[(char, u64, String, String)]) -> Vec<(char, u64)> {
        got.iter().map(|(k, line, _, _)| (*k, *line)).collect()
    }

    #[test]
    fn one_per_line_concatenated_and_pretty() {
        let got = frames(
            "{\"a\":1}\n\n{\"b\":\"}{\"}{\"c\":[{\"d\":2}]}\r\n{\n  \"e\": {\n    \"f\": 3\n  }\n}\n",
        );
        let texts: Vec<_> = got.iter().map(|g| (g.0, g.1, g.3.as_str())).collect();
        assert_eq!(
            texts,
            vec![
                ('v', 1, "{\"a\":1}"),
                ('v', 3, "{\"b\":\"}{\"}"),
                ('v', 3, "{\"c\":[{\"d\":2}]}\r"),
                ('v', 4, "{\n  \"e\": {\n    \"f\": 3\n  }\n}"),
            ]
        );
        // Records separated by trailing commas, and spaces between concatenated objects.
        let got = frames("{\"a\":1},\n{\"a\":2},\n{\"a\":3} {\"a\":4}\n");
        assert_eq!(summary(&got), vec![('v', 1), ('v', 2), ('v', 3), ('v', 3)]);
        assert!(got.iter().all(|g| g.2.is_empty()));
    }

    #[test]
    fn damage_is_contained() {
        let got = frames(
            "{\"a\":\"cut\n{\"b\":1,\n{\"c\":2}\nnot json\n{\"f\":\n{\"g\":1}\n{\"d\":\"esc\\\"aped\"}\n{\"e\":",
        );
        assert_eq!(
            summary(&got),
            vec![
                ('x', 1),
                ('x', 2),
                ('v', 3),
                // A top-level line that is not an object is one unit, for the parser to name.
                ('v', 4),
                ('x', 5),
                ('v', 6),
                ('v', 7),
                ('x', 8)
            ]
        );
        assert_eq!(got[3].3, "not json");
    }

    #[test]
    fn desynchronised_lines_stay_one_record() {
        let got = frames(
            "{\"a\":1} trailing }{\"x\":1}\n{\"a\":\"x\" {\"b\":1}, \"c\":2}\n{\"d\":1}{\"e\":2}\n",
        );
        assert_eq!(
            summary(&got),
            vec![('x', 1), ('v', 1), ('x', 2), ('v', 3), ('v', 3)]
        );
        assert_eq!(got[0].3, "{\"a\":1} trailing }");

        // Cut at a line end, the damage showing only on the next line: that line is re-read.
        let got = frames("{\"a\":1,\nx{\"b\":2}\n{\"c\":3}");
        assert_eq!(summary(&got), vec![('x', 1), ('v', 2), ('v', 3)]);
        assert_eq!(got[0].3, "{\"a\":1,");
        assert_eq!(got[1].3, "x{\"b\":2}");
    }

    #[test]
    fn arrays_pretty_or_one_record_per_line() {
        let pretty = "[\n  {\n    \"a\": 1\n  },\n  {\n    \"a\": [2, {\"b\": 3}]\n  }\n]\n";
        let got = frames(pretty);
        assert_eq!(summary(&got), vec![('v', 2), ('v', 5)]);
        assert_eq!(got[0].2, "/0");
        assert_eq!(got[1].2, "/1");
        assert_eq!(got[1].3, "{\n    \"a\": [2, {\"b\": 3}]\n  }");
        // One record per line with trailing commas, even before the closing bracket.
        let got = frames("[\n{\"a\":1},\n{\"a\":2},\n]\n");
        assert_eq!(summary(&got), vec![('v', 2), ('v', 3)]);
        // Values that are not objects are units of their own, for the parser to reject.
        let got = frames("[1, \"two\", null, [3], {\"a\":4}]");
        let texts: Vec<_> = got.iter().map(|g| (g.2.as_str(), g.3.as_str())).collect();
        assert_eq!(
            texts,
            vec![
                ("/0", "1"),
                ("/1", "\"two\""),
                ("/2", "null"),
                ("/3", "[3]"),
                ("/4", "{\"a\":4}")
            ]
        );
        // Arrays one after another (pages appended), and an empty one.
        let got = frames("[{\"a\":1}]\n[]\n[{\"a\":2},{\"a\":3}]");
        let pointers: Vec<_> = got.iter().map(|g| g.2.as_str()).collect();
        assert_eq!(pointers, vec!["/0", "/0", "/1"]);
    }

    #[test]
    fn envelope_lists_are_the_records_never_the_counts() {
        const LISTS: &[&str] = &["tickets", "users"];
        let page = "{\"tickets\":[{\"id\":1},{\"id\":2,\"tags\":[\"a\"]}],\"next_page\":\"https://x/?page=2\",\"previous_page\":null,\"count\":6040}";
        let got = frames_with(page, LISTS);
        let texts: Vec<_> = got
            .iter()
            .map(|g| (g.0, g.2.as_str(), g.3.as_str()))
            .collect();
        assert_eq!(
            texts,
            vec![
                ('v', "/tickets/0", "{\"id\":1}"),
                ('v', "/tickets/1", "{\"id\":2,\"tags\":[\"a\"]}"),
                ('E', "", "")
            ]
        );
        // Members before the list, a second list (sideloaded users), pretty-printed, and pages
        // one after another.
        let pretty = "{\n  \"count\": 2,\n  \"end_of_stream\": true,\n  \"tickets\": [\n    {\n      \"id\": 5\n    }\n  ],\n  \"users\": [\n    {\"id\": 9}\n  ]\n}\n{\"tickets\":[{\"id\":6}]}\n";
        let got = frames_with(pretty, LISTS);
        let texts: Vec<_> = got.iter().map(|g| (g.0, g.1, g.2.as_str())).collect();
        assert_eq!(
            texts,
            vec![
                ('v', 5, "/tickets/0"),
                ('v', 10, "/users/0"),
                ('E', 0, ""),
                ('v', 13, "/tickets/0"),
                ('E', 0, "")
            ]
        );
        // A key that is not a list key, or a list key whose value is not an array: the object
        // is a record.
        let got = frames_with(
            "{\"id\":1,\"ticket_ids\":[1,2]}\n{\"tickets\":3}\n{\"a\":{\"tickets\":[1]}}",
            LISTS,
        );
        assert_eq!(summary(&got), vec![('v', 1), ('v', 2), ('v', 3)]);
        assert!(got.iter().all(|g| g.2.is_empty()));
    }

    #[test]
    fn cut_off_arrays_and_envelopes_keep_their_records() {
        let mut cursor = io::Cursor::new(b"[\n{\"a\":1},\n{\"a\":2},\n{\"a\":".to_vec());
        let mut framer = Framer::new(&mut cursor, &[]);
        let mut kinds = Vec::new();
        while let Ok(Some(f)) = framer.next_frame() {
            kinds.push(matches!(f, Frame::Value { .. }));
        }
        assert_eq!(kinds, vec![true, true, false]);
        assert_eq!(framer.take_warnings(), vec![ARRAY_NOT_CLOSED]);

        let mut cursor = io::Cursor::new(b"{\"chats\":[{\"id\":1},{\"id\":2}".to_vec());
        let mut framer = Framer::new(&mut cursor, &["chats"]);
        let mut got = Vec::new();
        while let Ok(Some(f)) = framer.next_frame() {
            got.push(f);
        }
        assert_eq!(got.len(), 3);
        assert_eq!(got[2], Frame::EnvelopeEnd);
        assert_eq!(framer.take_warnings(), vec![ENVELOPE_NOT_CLOSED]);
    }

    #[test]
    fn damaged_list_elements_do_not_swallow_the_next_lines() {
        let got = frames(
            "[\"messageId\":\"m1\",\"type\":\"page\",\"context\":{\"page\":{}}}\n{\"messageId\":\"m2\",\"ty\n",
        );
        assert_eq!(summary(&got), vec![('x', 1), ('x', 2)], "{got:?}");
        let got = frames(
            "[\"messageId\":\"m1\"}\n\u{ff}{\"messageId\":\"m2\",\"type\":\"page\"}\n{\"a\":1}\n",
        );
        assert_eq!(summary(&got), vec![('x', 1), ('x', 2), ('v', 3)], "{got:?}");
        let got = frames("[{\"a\":1}}\n{\"a\":2}]");
        assert_eq!(summary(&got), vec![('v', 1), ('x', 1), ('v', 2)], "{got:?}");
    }
}
