//! Segment web events: `web/events-<date>.ndjson` (one event per line), on some days gzipped
//! (`.ndjson.gz`) or saved as the `/v1/batch` payloads the browser library sent
//! (`web/events-<date>-batch.json`, named to sort among the other days: a reader takes the
//! first copy of an event in path order; one `{"batch": [...], "sentAt": ...}` of up to 100
//! events per line). Delivery is at least once: about 1.2% of events are sent again,
//! serialised with their keys in another order and spaced out, in the same file or the next
//! day's.

use std::collections::BTreeMap;
use std::io;

use serde::Serialize;

use crate::SynthError;
use crate::model::{ChunkRecords, WebEvent, WebKind};
use crate::rng::{RngExt, SimRng};
use crate::time::{Frac, date_of_day, day_number, iso_utc};

use super::{Part, Rendered, to_json};

/// How a UTC day's events are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WebLayout {
    Lines,
    Gzipped,
    Batches,
}

impl WebLayout {
    pub(crate) fn of_day(day: i64) -> WebLayout {
        match day.rem_euclid(10) {
            3 => WebLayout::Gzipped,
            6 => WebLayout::Batches,
            _ => WebLayout::Lines,
        }
    }

    fn path(self, day: i64) -> String {
        let date = date_of_day(day);
        match self {
            WebLayout::Lines => format!("web/events-{date}.ndjson"),
            WebLayout::Gzipped => format!("web/events-{date}.ndjson.gz"),
            WebLayout::Batches => format!("web/events-{date}-batch.json"),
        }
    }
}

/// Share of events delivered twice.
const REDELIVERY: f64 = 0.012;
/// Events per `/v1/batch` payload.
const BATCH_EVENTS: usize = 100;

/// JSON with a space after every `:` and `,` (how another client library serialises).
struct Spaced;

impl serde_json::ser::Formatter for Spaced {
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }
}

/// The event as a retry sends it: the same content, top-level keys in reverse order, spaced.
fn redelivered(record: &impl Serialize) -> Result<Vec<u8>, SynthError> {
    let err = |source| SynthError::Json {
        what: "Segment event",
        source,
    };
    let value = serde_json::to_value(record).map_err(err)?;
    let mut out = b"{".to_vec();
    if let serde_json::Value::Object(map) = value {
        for (i, (k, v)) in map.iter().rev().enumerate() {
            if i > 0 {
                out.extend_from_slice(b", ");
            }
            serde_json::to_writer(&mut out, k).map_err(err)?;
            out.extend_from_slice(b": ");
            let mut ser = serde_json::Serializer::with_formatter(&mut out, Spaced);
            v.serialize(&mut ser).map_err(err)?;
        }
    }
    out.push(b'}');
    Ok(out)
}

/// Writes one day's deliveries (`true`: a repeat).
fn write_day(part: &mut Part, layout: WebLayout, events: &[(Vec<u8>, bool, i64)]) {
    match layout {
        WebLayout::Lines | WebLayout::Gzipped => {
            for (e, _, _) in events {
                part.push_record(e, b"\n");
            }
        }
        WebLayout::Batches => {
            for batch in events.chunks(BATCH_EVENTS) {
                let sent = batch.iter().map(|(_, _, at)| *at).max().unwrap_or(0) + 2_000_000;
                part.data.extend_from_slice(b"{\"batch\":[");
                for (i, (e, _, _)) in batch.iter().enumerate() {
                    part.push_record(e, if i + 1 < batch.len() { b"," } else { b"" });
                }
                part.data.extend_from_slice(b"],\"sentAt\":\"");
                part.data
                    .extend_from_slice(iso_utc(sent, Frac::Millis).as_bytes());
                part.data
                    .extend_from_slice(b"\",\"context\":{\"library\":{\"name\":\"analytics.js\",\"version\":\"next-1.72.0\"}}}\n");
            }
        }
    }
    part.duplicates += events.iter().filter(|(_, d, _)| *d).count() as u64;
}

#[derive(Serialize)]
struct SegLibrary {
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct SegPage<'a> {
    path: &'a str,
    referrer: &'a str,
    title: &'a str,
    url: &'a str,
}

#[derive(Serialize)]
struct SegTraits<'a> {
    email: &'a str,
}

#[derive(Serialize)]
struct SegContext<'a> {
    library: SegLibrary,
    page: SegPage<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    traits: Option<SegTraits<'a>>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum SegProps<'a> {
    Page {
        path: &'a str,
        referrer: &'a str,
        title: &'a str,
        url: &'a str,
    },
    Click {
        label: &'a str,
    },
    Error {
        error_code: &'a str,
        message: &'a str,
    },
    Search {
        query: &'a str,
        result_count: i64,
    },
    Chat {
        chat_id: &'a str,
    },
    Login {
        method: &'static str,
    },
    Empty {},
}

#[derive(Serialize)]
struct SegEvent<'a> {
    #[serde(rename = "anonymousId")]
    anonymous_id: &'a str,
    channel: &'static str,
    context: SegContext<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<&'static str>,
    #[serde(rename = "messageId")]
    message_id: &'a str,
    properties: SegProps<'a>,
    timestamp: String,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "userId")]
    user_id: Option<&'a str>,
}

pub(super) fn segment(
    recs: &ChunkRecords,
    rng: &mut SimRng,
    out: &mut Rendered,
) -> Result<(), SynthError> {
    let mut events: Vec<&WebEvent> = recs.web.iter().collect();
    events.sort_by(|a, b| (a.at_us, &a.message_id).cmp(&(b.at_us, &b.message_id)));
    let mut days: BTreeMap<i64, Vec<(Vec<u8>, bool, i64)>> = BTreeMap::new();
    for e in events {
        let day = day_number(e.at_us);
        let url = format!("{}{}", crate::sim::SITE, e.path);
        let (kind, event, properties) = match &e.kind {
            WebKind::Page => (
                "page",
                None,
                SegProps::Page {
                    path: &e.path,
                    referrer: e.referrer,
                    title: e.title,
                    url: &url,
                },
            ),
            WebKind::Click(label) => ("track", Some("Button Clicked"), SegProps::Click { label }),
            WebKind::Error(code, message) => (
                "track",
                Some("Error Shown"),
                SegProps::Error {
                    error_code: code,
                    message,
                },
            ),
            WebKind::Search(query, n) => (
                "track",
                Some("Bot Search"),
                SegProps::Search {
                    query,
                    result_count: *n,
                },
            ),
            WebKind::ChatStarted(id) => (
                "track",
                Some("Chat Started"),
                SegProps::Chat { chat_id: id },
            ),
            WebKind::Login => (
                "track",
                Some("Login"),
                SegProps::Login { method: "password" },
            ),
            WebKind::Identify(_) => ("identify", None, SegProps::Empty {}),
        };
        let traits = match &e.kind {
            WebKind::Identify(email) => Some(SegTraits { email }),
            _ => None,
        };
        let record = SegEvent {
            anonymous_id: &e.anon_id,
            channel: "client",
            context: SegContext {
                library: SegLibrary {
                    name: "analytics.js",
                    version: "next-1.72.0",
                },
                page: SegPage {
                    path: &e.path,
                    referrer: e.referrer,
                    title: e.title,
                    url: &url,
                },
                traits,
            },
            event,
            message_id: &e.message_id,
            properties,
            timestamp: iso_utc(e.at_us, Frac::Millis),
            kind,
            user_id: e.user_id.as_deref(),
        };
        days.entry(day)
            .or_default()
            .push((to_json("Segment event", &record)?, false, e.at_us));
        if rng.chance(REDELIVERY) {
            let retry_day = if rng.chance(0.3) { day + 1 } else { day };
            days.entry(retry_day)
                .or_default()
                .push((redelivered(&record)?, true, e.at_us));
        }
    }
    for (day, events) in days {
        let layout = WebLayout::of_day(day);
        write_day(out.part(&layout.path(day)), layout, &events);
    }
    Ok(())
}
