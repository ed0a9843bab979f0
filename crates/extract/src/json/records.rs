//! The record loop of every JSON reader: frames the input ([`Framer`]), parses each record,
//! unwraps webhook envelopes, rejects what is not a record (with its line and JSON pointer),
//! and hands the records to the reader.
//!
//! A reject's reason starts with the record's JSON pointer when it is not a top-level value:
//! `record /tickets/17: field 'id': missing; ...` (its line is the line the record starts on).

use std::io::BufRead;

use serde_json::{Map, Value};

use super::frame::{Frame, Framer};
use super::parse_object;
use crate::{Ctx, ExtractError};

/// What a top-level object is, once webhook envelopes are looked through.
pub(crate) enum Unwrap {
    /// Not a webhook envelope: the object is the record.
    Plain(Map<String, Value>),
    /// A webhook delivery holding a record at `pointer` (e.g. `/payload/chat`).
    Record(Map<String, Value>, &'static str),
    /// A webhook delivery that holds no record of this source; the text says what it is and is
    /// counted as a warning (it is not a row read).
    Skip(String),
}

/// How a reader's files may be wrapped.
pub(crate) struct Layout {
    /// Keys of API list envelopes (`{"tickets": [...], "count": 6040}`) whose arrays hold the
    /// records, and of the lookup lists among them.
    pub(crate) lists: &'static [&'static str],
    /// Lists of an envelope that hold lookup data for its records, not records (Zendesk's
    /// sideloaded `users`): their elements are handed over as [`Event::Lookup`], not counted.
    pub(crate) lookups: &'static [&'static str],
    /// Looks through a webhook envelope, if the object is one.
    pub(crate) unwrap: fn(Map<String, Value>) -> Unwrap,
}

/// Warning for a lookup element that is not a JSON object.
pub(crate) const BAD_LOOKUP: &str =
    "sideloaded lookup entries (e.g. users) that are not JSON objects; ignored";

/// No webhook envelopes.
pub(crate) fn plain(obj: Map<String, Value>) -> Unwrap {
    Unwrap::Plain(obj)
}

/// One record.
pub(crate) struct Rec<'a> {
    /// The line the record starts on.
    pub(crate) line: u64,
    /// Its JSON pointer in the document (empty for a top-level object).
    pub(crate) pointer: String,
    /// The envelope list it came from (`tickets`), if any.
    pub(crate) list: Option<&'static str>,
    /// The record.
    pub(crate) obj: Map<String, Value>,
    /// Its text, for a reject.
    pub(crate) raw: &'a [u8],
}

impl Rec<'_> {
    /// A reject reason for this record, with its pointer.
    pub(crate) fn reason(&self, reason: String) -> String {
        at(&self.pointer, reason)
    }
}

/// What the loop hands a reader.
pub(crate) enum Event<'a> {
    /// A record (already counted as read).
    Record(Rec<'a>),
    /// An element of a lookup list (not a record, not counted).
    Lookup(Rec<'a>),
    /// An API list envelope ended: a reader that holds its records back until it has seen the
    /// whole envelope (sideloaded users) stages them now.
    EnvelopeEnd,
}

/// Reads every record of `input`: counts each as read, rejects the ones that are not objects,
/// and calls `handle` with the others, which stages, rejects or counts them as duplicates.
pub(crate) fn read_records(
    ctx: &mut Ctx<'_, '_>,
    input: &mut dyn BufRead,
    layout: &Layout,
    handle: &mut dyn FnMut(&mut Ctx<'_, '_>, Event<'_>) -> Result<(), ExtractError>,
) -> Result<(), ExtractError> {
    let mut framer = Framer::new(input, layout.lists);
    while let Some(frame) = framer.next_frame().map_err(|e| ctx.io(e))? {
        match frame {
            Frame::EnvelopeEnd => handle(ctx, Event::EnvelopeEnd)?,
            Frame::Broken { pos, .. } if is_lookup(layout, pos.list()) => ctx.warn(BAD_LOOKUP, 1),
            Frame::Broken { line, pos, reason } => {
                ctx.read();
                ctx.reject(line, at(&pos.pointer(), reason), framer.bytes())?;
            }
            Frame::Value { line, pos } if is_lookup(layout, pos.list()) => {
                match parse_object(framer.bytes()) {
                    Err(_) => ctx.warn(BAD_LOOKUP, 1),
                    Ok(obj) => {
                        let rec = Rec {
                            line,
                            pointer: pos.pointer(),
                            list: pos.list(),
                            obj,
                            raw: framer.bytes(),
                        };
                        handle(ctx, Event::Lookup(rec))?;
                    }
                }
            }
            Frame::Value { line, pos } => match parse_object(framer.bytes()) {
                Err(reason) => {
                    ctx.read();
                    ctx.reject(line, at(&pos.pointer(), reason), framer.bytes())?;
                }
                Ok(obj) => {
                    let (obj, suffix) = match (layout.unwrap)(obj) {
                        Unwrap::Skip(what) => {
                            ctx.warn(what, 1);
                            continue;
                        }
                        Unwrap::Plain(obj) => (obj, ""),
                        Unwrap::Record(obj, suffix) => (obj, suffix),
                    };
                    ctx.read();
                    let rec = Rec {
                        line,
                        pointer: format!("{}{suffix}", pos.pointer()),
                        list: pos.list(),
                        obj,
                        raw: framer.bytes(),
                    };
                    handle(ctx, Event::Record(rec))?;
                }
            },
        }
    }
    for warning in framer.take_warnings() {
        ctx.warn(warning, 1);
    }
    Ok(())
}

fn is_lookup(layout: &Layout, list: Option<&'static str>) -> bool {
    list.is_some_and(|l| layout.lookups.contains(&l))
}

/// `reason` prefixed with the record's pointer, when it has one.
pub(crate) fn at(pointer: &str, reason: String) -> String {
    if pointer.is_empty() {
        reason
    } else {
        format!("record {pointer}: {reason}")
    }
}

/// The object at `path` below `obj`, taken out of it.
pub(crate) fn take_path(mut obj: Map<String, Value>, path: &[&str]) -> Option<Map<String, Value>> {
    for key in path {
        match obj.remove(*key) {
            Some(Value::Object(inner)) => obj = inner,
            _ => return None,
        }
    }
    Some(obj)
}

/// Warns about top-level fields that differ from a field the reader reads only in case, `_` or
/// `-` (`contact_id` for `ContactId`): schema drift that would otherwise leave a column empty
/// without a word. Other unknown fields are ignored.
pub(crate) fn drift(ctx: &mut Ctx<'_, '_>, obj: &Map<String, Value>, known: &[&str], what: &str) {
    for key in obj.keys() {
        if known.contains(&key.as_str()) {
            continue;
        }
        let folded = fold(key);
        if let Some(meant) = known.iter().find(|k| fold(k) == folded) {
            ctx.warn(
                format!(
                    "{what} field '{key}' is not read: the field is spelled '{meant}'; \
                     rename it in the export (or its values stay null)"
                ),
                1,
            );
        }
    }
}

fn fold(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}
