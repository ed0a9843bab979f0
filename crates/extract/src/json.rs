//! JSON helpers: framing a stream of concatenated or newline-separated objects (Amazon Connect
//! CTR via Firehose), and typed field access with reject reasons that name the field.

use std::borrow::Cow;
use std::io::{self, BufRead};

use serde_json::{Map, Value};

use crate::input::MAX_RECORD_BYTES;
use crate::time::parse_instant;

/// One framed unit of a JSON object stream.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum JsonFrame {
    /// A balanced `{...}` starting on `line`; its bytes are in [`JsonFramer::bytes`].
    Object { line: u64 },
    /// Bytes that cannot be an object (starting on `line`): text that is not JSON up to the end
    /// of its line, or an object cut off (by the end of a line inside a string, by the start of
    /// another object where a value should be, or by the end of the file).
    Broken { line: u64, reason: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Between records: whitespace.
    Between,
    /// Inside an object.
    Object,
    /// After an object's closing brace: only whitespace may follow on its line (or another
    /// object, when objects are concatenated).
    After,
    /// In damaged text: skipping to the end of the line, or to a `}{` record boundary.
    Skip,
}

/// Splits a byte stream into top-level JSON objects, whether one per line, pretty-printed, or
/// concatenated with nothing in between (`}{`, the Kinesis Firehose default), tracking the line
/// each starts on. Memory is bounded by the largest object.
///
/// The framer only balances braces outside strings; the object itself is parsed by serde_json.
/// It recovers from damage without losing the records after it:
///
/// - a string that runs into a line break ends the object there (raw line breaks cannot occur
///   in JSON strings);
/// - a `{` opening a line inside an object starts the next record (the previous was cut off);
/// - a `{` where no value may start, on a later line than the record started, means the record
///   was cut off at its line end: it ends there and the line is read again on its own;
/// - a `{` where no value may start on the record's first line, or text after an object's
///   closing brace on its line, marks the record damaged: it runs to the end of its line, or to
///   the next `}{` boundary when objects are concatenated.
///
/// Pretty-printed objects are still read: their nested objects are indented or follow a `:`.
pub(crate) struct JsonFramer<'r> {
    input: Pushback<'r>,
    line: u64,
    frame: Vec<u8>,
    stack: Vec<u8>,
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

    /// Puts `bytes` back in front of what is left (only called with nothing put back left).
    fn put_back(&mut self, bytes: &[u8]) {
        let mut joined = bytes.to_vec();
        joined.extend_from_slice(&self.back[self.pos..]);
        self.back = joined;
        self.pos = 0;
    }
}

impl<'r> JsonFramer<'r> {
    pub(crate) fn new(input: &'r mut dyn BufRead) -> Self {
        JsonFramer {
            input: Pushback {
                inner: input,
                back: Vec::new(),
                pos: 0,
            },
            line: 1,
            frame: Vec::with_capacity(8192),
            stack: Vec::with_capacity(16),
        }
    }

    /// The bytes of the last frame (cut at the size limit).
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.frame
    }

    /// The next frame, or `None` at end of input.
    pub(crate) fn next_frame(&mut self) -> io::Result<Option<JsonFrame>> {
        self.frame.clear();
        self.stack.clear();
        let mut mode = Mode::Between;
        let mut start = self.line;
        let mut in_string = false;
        let mut escape = false;
        // Last significant byte outside strings, and the byte before the current one.
        let mut last = 0u8;
        let mut prev = b'\n';
        let mut oversize = false;
        let mut reason = NOT_JSON;
        let mut resync = false;
        loop {
            let buf = match self.input.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                return Ok(match mode {
                    Mode::Between => None,
                    Mode::Object => Some(broken(start, CUT_AT_EOF)),
                    Mode::After => Some(finished(start, oversize)),
                    Mode::Skip => Some(broken(start, reason)),
                });
            }
            // The frame's bytes in this chunk start at `from` (copied in one go at the end).
            let mut from = if mode == Mode::Between { None } else { Some(0) };
            let mut i = 0;
            let mut result = None;
            while i < buf.len() {
                let b = buf[i];
                match mode {
                    Mode::Between => {
                        if b == b'\n' {
                            self.line += 1;
                        } else if b == b'{' {
                            mode = Mode::Object;
                            start = self.line;
                            self.stack.push(b'{');
                            last = b'{';
                            from = Some(i);
                        } else if !b.is_ascii_whitespace() {
                            mode = Mode::Skip;
                            reason = NOT_JSON;
                            start = self.line;
                            from = Some(i);
                        }
                    }
                    Mode::Object if in_string => {
                        if escape && b != b'\n' {
                            escape = false;
                        } else {
                            // Skip ordinary string bytes in one go.
                            let run = buf[i..]
                                .iter()
                                .position(|&c| c == b'"' || c == b'\\' || c == b'\n')
                                .unwrap_or(buf.len() - i);
                            if run > 0 {
                                i += run;
                                prev = buf[i - 1];
                                continue;
                            }
                            match b {
                                b'\n' => {
                                    // Raw line breaks cannot occur in a JSON string: cut off.
                                    result = Some(broken(start, CUT_IN_STRING));
                                    break;
                                }
                                b'\\' => escape = true,
                                _ => {
                                    in_string = false;
                                    last = b'"';
                                }
                            }
                        }
                    }
                    Mode::Object => {
                        match b {
                            b'"' => in_string = true,
                            b'{' | b'[' => {
                                if b == b'{' && prev == b'\n' {
                                    // A line opening with `{` inside an object: the next
                                    // record starts here, this one was cut off.
                                    result = Some(broken(start, CUT_BEFORE_NEXT));
                                    break;
                                }
                                let fits = match self.stack.last() {
                                    Some(b'{') => last == b':',
                                    _ => last == b'[' || last == b',',
                                };
                                if !fits {
                                    if start < self.line {
                                        // The damage shows on a later line than the record
                                        // started: the record was cut off at a line end.
                                        // Re-read this line on its own.
                                        resync = true;
                                        result = Some(broken(start, CUT_BEFORE_NEXT));
                                        break;
                                    }
                                    mode = Mode::Skip;
                                    reason = MALFORMED;
                                }
                                self.stack.push(b);
                                last = b;
                            }
                            b'}' | b']' => {
                                self.stack.pop();
                                last = b;
                                if self.stack.is_empty() && mode == Mode::Object {
                                    mode = Mode::After;
                                }
                            }
                            b'\n' => self.line += 1,
                            _ if b.is_ascii_whitespace() => {}
                            _ => last = b,
                        }
                    }
                    Mode::After => {
                        if b == b'\n' || b == b'{' {
                            // Leave the line break or the next object to the next call.
                            result = Some(finished(start, oversize));
                            break;
                        }
                        if !b.is_ascii_whitespace() {
                            mode = Mode::Skip;
                            reason = TRAILING;
                        }
                    }
                    Mode::Skip => {
                        if b == b'\n' || (b == b'{' && prev == b'}') {
                            result = Some(broken(start, reason));
                            break;
                        }
                    }
                }
                prev = b;
                i += 1;
            }
            if let Some(from) = from {
                append(&mut self.frame, &buf[from..i], &mut oversize);
            }
            self.input.consume(i);
            if resync && let Some(cut) = self.frame.iter().rposition(|&b| b == b'\n') {
                self.input.put_back(&self.frame[cut + 1..]);
                self.frame.truncate(cut);
            }
            if result.is_some() {
                return Ok(result);
            }
        }
    }
}

const NOT_JSON: &str = "not a JSON object; expected a JSON object starting with '{'";
const CUT_AT_EOF: &str = "JSON object cut off at the end of the file; expected a closing '}'";
const CUT_IN_STRING: &str =
    "JSON object cut off: a string runs to the end of the line; expected a complete JSON object";
const CUT_BEFORE_NEXT: &str =
    "JSON object cut off before the next one starts; expected a complete JSON object";
const MALFORMED: &str = "malformed JSON object (a '{' where no value may start); expected a \
                         complete JSON object";
const TRAILING: &str = "text after the end of the JSON object; expected one JSON object per line";

fn broken(line: u64, reason: &str) -> JsonFrame {
    JsonFrame::Broken {
        line,
        reason: reason.to_owned(),
    }
}

fn finished(line: u64, oversize: bool) -> JsonFrame {
    if oversize {
        JsonFrame::Broken {
            line,
            reason: format!(
                "JSON object larger than {} MiB; expected a record of reasonable size",
                MAX_RECORD_BYTES >> 20
            ),
        }
    } else {
        JsonFrame::Object { line }
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

/// Parses one JSON object from bytes, with a reject reason on failure. Bytes that are not valid
/// UTF-8 are replaced by U+FFFD first (see [`crate::text`]): inside a string the record is
/// staged (and counted as repaired by `Ctx`), elsewhere it is not valid JSON.
pub(crate) fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    let (text, _) = crate::text::lossy(bytes);
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(format!(
            "a JSON {} where a JSON object was expected",
            kind(&other)
        )),
        Err(e) => Err(format!("invalid JSON ({e}); expected one JSON object")),
    }
}

/// The kind of a JSON value, for messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The value at `key`, `None` when absent or `null`.
pub(crate) fn get<'v>(obj: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    obj.get(key).filter(|v| !v.is_null())
}

/// A text field: a string as it is; a number or boolean as its JSON text.
pub(crate) fn opt_str<'v>(
    obj: &'v Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<Cow<'v, str>>, String> {
    match get(obj, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(Cow::Borrowed(s))),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(Some(Cow::Owned(v.to_string()))),
        Some(v) => Err(format!(
            "field '{path}': expected a string, got a JSON {}",
            kind(v)
        )),
    }
}

/// An instant: an RFC 3339 string with offset; an empty string is null.
pub(crate) fn opt_ts(
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
    example: &str,
) -> Result<Option<i64>, String> {
    match get(obj, key) {
        None => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => parse_instant(s).map(Some).ok_or_else(|| {
            format!(
                "field '{path}': expected an RFC 3339 timestamp like {example}, got {}",
                crate::input::shown(s)
            )
        }),
        Some(v) => Err(format!(
            "field '{path}': expected an RFC 3339 timestamp like {example}, got a JSON {}",
            kind(v)
        )),
    }
}

/// A whole number: a JSON integer, a float with no fraction, or a string of digits.
pub(crate) fn opt_int(
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
    what: &str,
) -> Result<Option<i64>, String> {
    let bad = |got: String| format!("field '{path}': expected {what}, got {got}");
    match get(obj, key) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                Ok(Some(i))
            } else {
                match n.as_f64() {
                    Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(f as i64)),
                    _ => Err(bad(n.to_string())),
                }
            }
        }
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| bad(crate::input::shown(s))),
        Some(v) => Err(bad(format!("a JSON {}", kind(v)))),
    }
}

/// A nested object; `None` when absent or `null`.
pub(crate) fn opt_obj<'v>(
    obj: &'v Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<&'v Map<String, Value>>, String> {
    match get(obj, key) {
        None => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(v) => Err(format!(
            "field '{path}': expected an object, got a JSON {}",
            kind(v)
        )),
    }
}

/// A nested array; `None` when absent or `null`.
pub(crate) fn opt_arr<'v>(
    obj: &'v Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<&'v Vec<Value>>, String> {
    match get(obj, key) {
        None => Ok(None),
        Some(Value::Array(a)) => Ok(Some(a)),
        Some(v) => Err(format!(
            "field '{path}': expected an array, got a JSON {}",
            kind(v)
        )),
    }
}

/// Compact JSON text of a value.
pub(crate) fn compact(v: &Value) -> String {
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &str) -> Vec<(bool, u64, String)> {
        let mut cursor = io::Cursor::new(input.as_bytes().to_vec());
        let mut framer = JsonFramer::new(&mut cursor);
        let mut out = Vec::new();
        while let Ok(Some(f)) = framer.next_frame() {
            let text = String::from_utf8_lossy(framer.bytes()).into_owned();
            match f {
                JsonFrame::Object { line } => out.push((true, line, text)),
                JsonFrame::Broken { line, .. } => out.push((false, line, text)),
            }
        }
        out
    }

    #[test]
    fn one_per_line_concatenated_and_pretty() {
        let got = frames(
            "{\"a\":1}\n\n{\"b\":\"}{\"}{\"c\":[{\"d\":2}]}\r\n{\n  \"e\": {\n    \"f\": 3\n  }\n}\n",
        );
        assert_eq!(
            got,
            vec![
                (true, 1, "{\"a\":1}".into()),
                (true, 3, "{\"b\":\"}{\"}".into()),
                (true, 3, "{\"c\":[{\"d\":2}]}\r".into()),
                (true, 4, "{\n  \"e\": {\n    \"f\": 3\n  }\n}".into()),
            ]
        );
    }

    #[test]
    fn damage_is_contained() {
        let got = frames(
            "{\"a\":\"cut\n{\"b\":1,\n{\"c\":2}\nnot json\n{\"f\":\n{\"g\":1}\n{\"d\":\"esc\\\"aped\"}\n{\"e\":",
        );
        let summary: Vec<_> = got.iter().map(|(ok, line, _)| (*ok, *line)).collect();
        assert_eq!(
            summary,
            vec![
                (false, 1),
                (false, 2),
                (true, 3),
                (false, 4),
                (false, 5),
                (true, 6),
                (true, 7),
                (false, 8)
            ]
        );
    }

    #[test]
    fn desynchronised_lines_stay_one_record() {
        let got = frames(
            "{\"a\":1} trailing }{\"x\":1}\n{\"a\":\"x\" {\"b\":1}, \"c\":2}\n{\"d\":1}{\"e\":2}\n",
        );
        let summary: Vec<_> = got.iter().map(|(ok, line, _)| (*ok, *line)).collect();
        assert_eq!(
            summary,
            vec![(false, 1), (true, 1), (false, 2), (true, 3), (true, 3)]
        );
        assert_eq!(got[0].2, "{\"a\":1} trailing }");

        // Cut at a line end, the damage showing only on the next line: that line is re-read.
        let got = frames("{\"a\":1,\nx{\"b\":2}\n{\"c\":3}");
        let summary: Vec<_> = got.iter().map(|(ok, line, _)| (*ok, *line)).collect();
        assert_eq!(summary, vec![(false, 1), (false, 2), (true, 3)]);
        assert_eq!(got[0].2, "{\"a\":1,");
        assert_eq!(got[1].2, "x{\"b\":2}");
    }

    #[test]
    fn field_access_names_the_field() {
        let obj = parse_object(br#"{"s":"x","n":3,"f":2.0,"g":2.5,"o":{},"t":"bad","z":null}"#)
            .unwrap_or_default();
        assert_eq!(opt_str(&obj, "n", "n"), Ok(Some(Cow::Borrowed("3"))));
        assert!(opt_str(&obj, "o", "X.o").is_err_and(|e| e.contains("'X.o'")));
        assert_eq!(opt_int(&obj, "f", "f", "seconds"), Ok(Some(2)));
        assert!(opt_int(&obj, "g", "g", "whole seconds").is_err_and(|e| e.contains("expected")));
        assert_eq!(opt_ts(&obj, "z", "z", "x"), Ok(None));
        assert!(
            opt_ts(&obj, "t", "t", "2026-08-01T14:22:31Z").is_err_and(|e| e.contains("RFC 3339"))
        );
        assert!(parse_object(b"[1]").is_err());
        assert_eq!(
            parse_object(b"{\"a\":\"\xff\"}")
                .ok()
                .and_then(|o| o.get("a").cloned()),
            Some(Value::String("\u{fffd}".into()))
        );
    }
}
