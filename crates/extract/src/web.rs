//! Web and bot events in the Segment spec, one JSON event per line → `stg_web_events`,
//! `source_system = 'segment'`.
//!
//! | staging column | from |
//! |---|---|
//! | message_id | `messageId` (required) |
//! | event_type | `type` (required): `page`, `screen`, `track`, `identify`, `group` or `alias` |
//! | event_name | `event` (track), else `name` (page, screen) |
//! | anonymous_id, user_id | `anonymousId`, `userId` |
//! | email | `context.traits.email`, else `traits.email`, else `properties.email` |
//! | occurred_at | `timestamp` (required, RFC 3339) |
//! | url, path, title, referrer | `context.page.*`; for page events `properties.*` fills what `context.page` lacks |
//! | error_code | `properties.error_code` |
//! | search_query, search_result_count | `properties.query`, `properties.result_count`, for `Bot Search` track events |
//! | properties | `properties` as compact JSON text (keys sorted) |
//!
//! Ids given as JSON numbers are kept as their text. A missing `messageId` or `timestamp`, an
//! unknown `type`, or a value of the wrong JSON type is a reject naming the field.

use std::borrow::Cow;
use std::io::BufRead;

use serde_json::{Map, Value};
use touchstone_core::StagingTable;

use crate::json::records::{Event, Layout, drift, plain, read_records};
use crate::json::{compact, get, opt_int, opt_obj, opt_str, opt_ts};
use crate::state::UNVERSIONED;
use crate::table::TableBuilder;
use crate::{Ctx, ExtractError, Identity};

const TYPES: [&str; 6] = ["page", "screen", "track", "identify", "group", "alias"];

/// Events come one per line, pretty-printed, in arrays, or in the `{"batch": [...]}` envelope
/// of the Segment and RudderStack HTTP APIs.
const LAYOUT: Layout = Layout {
    lookups: &[],
    lists: &["batch"],
    unwrap: plain,
};

/// The top-level fields read (others are ignored; near-misses of these are warned about).
const FIELDS: &[&str] = &[
    "messageId",
    "type",
    "event",
    "name",
    "anonymousId",
    "userId",
    "timestamp",
    "context",
    "traits",
    "properties",
    "rudderId",
];

/// Warning for events that carry no `messageId`.
const NO_MESSAGE_ID: &str = "events without a messageId: their message_id is a hash of their      content (identical copies count as duplicates)";

pub(crate) fn read(ctx: &mut Ctx<'_, '_>, input: &mut dyn BufRead) -> Result<(), ExtractError> {
    let mut tb = ctx.builder(StagingTable::WebEvents)?;
    read_records(ctx, input, &LAYOUT, &mut |ctx, event| {
        let Event::Record(rec) = event else {
            return Ok(());
        };
        drift(ctx, &rec.obj, FIELDS, "event");
        let outcome = row(&rec.obj, &mut tb).map_err(|e| rec.reason(e));
        if let Ok((_, true)) = &outcome {
            ctx.warn(NO_MESSAGE_ID, 1);
        }
        ctx.settle_delivery(&mut tb, rec.line, outcome.map(|(id, _)| id), rec.raw)
    })?;
    tb.flush(ctx.sink)
}

/// Writes the event's row. Its identity is the `messageId` within the event type (a copy
/// delivered again is a duplicate whatever its key order or spacing); `true` when the event had
/// no `messageId` and its content stands in for it.
fn row(e: &Map<String, Value>, tb: &mut TableBuilder) -> Result<(Identity, bool), String> {
    let (message_id, hashed) = match opt_str(e, "messageId", "messageId")?.filter(|s| !s.is_empty())
    {
        Some(id) => (id, false),
        None => (Cow::Owned(content_id(e)), true),
    };
    let kind = opt_str(e, "type", "type")?.unwrap_or_default();
    let kind = TYPES.into_iter().find(|t| *t == kind).ok_or_else(|| {
        format!(
            "field 'type': expected one of {}, got {}",
            TYPES.join(", "),
            crate::input::shown(&kind)
        )
    })?;
    let occurred_at = opt_ts(e, "timestamp", "timestamp", "2026-08-01T14:22:31.123Z")?
        .ok_or("field 'timestamp': missing; expected a timestamp like 2026-08-01T14:22:31.123Z")?;
    let name = match kind {
        "track" => opt_str(e, "event", "event")?,
        _ => opt_str(e, "name", "name")?,
    };
    let anonymous_id = opt_str(e, "anonymousId", "anonymousId")?;
    let user_id = opt_str(e, "userId", "userId")?;
    let context = opt_obj(e, "context", "context")?;
    let properties = opt_obj(e, "properties", "properties")?;
    let traits = opt_obj(e, "traits", "traits")?;

    let mut email = None;
    if let Some(t) = context
        .map(|c| opt_obj(c, "traits", "context.traits"))
        .transpose()?
        .flatten()
    {
        email = opt_str(t, "email", "context.traits.email")?;
    }
    if email.is_none()
        && let Some(t) = traits
    {
        email = opt_str(t, "email", "traits.email")?;
    }
    if email.is_none()
        && let Some(p) = properties
    {
        email = opt_str(p, "email", "properties.email")?;
    }

    let page = context
        .map(|c| opt_obj(c, "page", "context.page"))
        .transpose()?
        .flatten();
    let page_field = |key: &'static str| -> Result<Option<Cow<'_, str>>, String> {
        let from_context = match page {
            Some(p) => opt_str(p, key, page_path(key))?,
            None => None,
        };
        match (from_context, kind, properties) {
            (Some(v), _, _) => Ok(Some(v)),
            (None, "page", Some(p)) => opt_str(p, key, prop_path(key)),
            _ => Ok(None),
        }
    };
    let url = page_field("url")?;
    let path = page_field("path")?;
    let title = page_field("title")?;
    let referrer = page_field("referrer")?;

    let (mut error_code, mut query, mut count) = (None, None, None);
    if let Some(p) = properties {
        error_code = opt_str(p, "error_code", "properties.error_code")?;
        if kind == "track" && name.as_deref() == Some("Bot Search") {
            query = opt_str(p, "query", "properties.query")?;
            count = opt_int(
                p,
                "result_count",
                "properties.result_count",
                "a whole number of results",
            )?;
        }
    }
    let properties_text = get(e, "properties").map(compact);

    let system = if get(e, "rudderId").is_some() {
        "rudderstack"
    } else {
        "segment"
    };
    tb.str("source_system", Some(system));
    tb.str("message_id", Some(&message_id));
    tb.str("event_type", Some(kind));
    tb.text("event_name", name.as_deref());
    tb.text("anonymous_id", anonymous_id.as_deref());
    tb.text("user_id", user_id.as_deref());
    tb.text("email", email.as_deref());
    tb.ts("occurred_at", Some(occurred_at));
    tb.text("url", url.as_deref());
    tb.text("path", path.as_deref());
    tb.text("title", title.as_deref());
    tb.text("referrer", referrer.as_deref());
    tb.text("error_code", error_code.as_deref());
    tb.text("search_query", query.as_deref());
    tb.int("search_result_count", count);
    tb.str("properties", properties_text.as_deref());
    Ok((
        Identity {
            kind,
            id: message_id.into_owned(),
            version: UNVERSIONED,
        },
        hashed,
    ))
}

/// An id for an event with no `messageId`: a hash of its content, keys sorted (so the same event
/// serialised with another key order or spacing gets the same id).
fn content_id(e: &Map<String, Value>) -> String {
    let text = compact(&Value::Object(e.clone()));
    format!(
        "content:{:016x}",
        crate::state::stable_hash(text.as_bytes())
    )
}

fn page_path(key: &str) -> &'static str {
    match key {
        "url" => "context.page.url",
        "path" => "context.page.path",
        "title" => "context.page.title",
        _ => "context.page.referrer",
    }
}

fn prop_path(key: &str) -> &'static str {
    match key {
        "url" => "properties.url",
        "path" => "properties.path",
        "title" => "properties.title",
        _ => "properties.referrer",
    }
}

#[cfg(test)]
mod tests {
    use touchstone_core::SourceFormat;

    use super::*;
    use crate::testutil::*;

    const EVENTS: &str = r#"{"messageId":"m1","type":"page","name":"Billing","anonymousId":"anon-1","timestamp":"2026-08-01T14:22:31.123Z","context":{"page":{"url":"https://ex.com/billing","path":"/billing","title":"Billing","referrer":"https://google.com/"}},"properties":{"url":"https://ex.com/billing?x"}}
{"messageId":"m2","type":"identify","anonymousId":"anon-1","userId":"003000000000001AAA","timestamp":"2026-08-01T14:23:00.000Z","context":{"traits":{"email":" Jane@Example.com"}}}
{"messageId":"m3","type":"track","event":"Bot Search","anonymousId":"anon-1","timestamp":"2026-08-01T14:24:00.000Z","context":{"page":{"url":"https://ex.com/help"}},"properties":{"query":"refund status","result_count":3}}
{"messageId":"m4","type":"track","event":"Error Shown","userId":42,"timestamp":"2026-08-01T14:25:00Z","properties":{"error_code":"E402","message":"Payment declined","email":"j@x.com"}}
{"messageId":"m5","type":"page","timestamp":"2026-08-01T14:26:00Z","properties":{"path":"/p","title":"From props"},"traits":{"email":"t@x.com"}}
"#;

    #[test]
    fn segment_events_are_mapped() {
        let (stats, sink) = run_ok(SourceFormat::SegmentEvents, EVENTS.as_bytes());
        assert_eq!((stats.rows_read, stats.rows_staged), (5, 5));
        let t = sink.table(StagingTable::WebEvents);
        assert_eq!(s(&t, "source_system", 0).as_deref(), Some("segment"));
        assert_eq!(s(&t, "message_id", 0).as_deref(), Some("m1"));
        assert_eq!(s(&t, "event_type", 0).as_deref(), Some("page"));
        assert_eq!(s(&t, "event_name", 0).as_deref(), Some("Billing"));
        assert_eq!(s(&t, "anonymous_id", 0).as_deref(), Some("anon-1"));
        assert_eq!(
            i(&t, "occurred_at", 0),
            Some(ts("2026-08-01T14:22:31.123Z"))
        );
        assert_eq!(s(&t, "url", 0).as_deref(), Some("https://ex.com/billing"));
        assert_eq!(s(&t, "path", 0).as_deref(), Some("/billing"));
        assert_eq!(s(&t, "title", 0).as_deref(), Some("Billing"));
        assert_eq!(s(&t, "referrer", 0).as_deref(), Some("https://google.com/"));
        assert_eq!(
            s(&t, "properties", 0).as_deref(),
            Some(r#"{"url":"https://ex.com/billing?x"}"#)
        );
        assert_eq!(s(&t, "user_id", 1).as_deref(), Some("003000000000001AAA"));
        assert_eq!(s(&t, "email", 1).as_deref(), Some(" Jane@Example.com"));
        assert_eq!(s(&t, "properties", 1), None);
        assert_eq!(s(&t, "event_name", 2).as_deref(), Some("Bot Search"));
        assert_eq!(s(&t, "search_query", 2).as_deref(), Some("refund status"));
        assert_eq!(i(&t, "search_result_count", 2), Some(3));
        assert_eq!(s(&t, "url", 2).as_deref(), Some("https://ex.com/help"));
        assert_eq!(s(&t, "error_code", 3).as_deref(), Some("E402"));
        assert_eq!(s(&t, "user_id", 3).as_deref(), Some("42"));
        assert_eq!(s(&t, "email", 3).as_deref(), Some("j@x.com"));
        assert_eq!(s(&t, "search_query", 3), None);
        assert_eq!(s(&t, "path", 4).as_deref(), Some("/p"));
        assert_eq!(s(&t, "title", 4).as_deref(), Some("From props"));
        assert_eq!(s(&t, "email", 4).as_deref(), Some("t@x.com"));
        assert_eq!(i(&t, "_source_line", 4), Some(5));
    }

    #[test]
    fn invalid_utf8_in_a_string_is_repaired_and_staged() {
        let mut bytes = br#"{"messageId":"m1","type":"track","event":"Login","timestamp":"2026-08-01T14:25:00Z","properties":{"name":"Zo"#.to_vec();
        bytes.extend_from_slice(b"\xeb\"}}\n");
        bytes.extend_from_slice(br#"{"messageId":"m2","type":"track","event":"Login","timestamp":"2026-08-01T14:25:00Z"}"#);
        let (stats, sink) = run_ok(SourceFormat::SegmentEvents, &bytes);
        assert_eq!(
            (stats.rows_read, stats.rows_staged, stats.rows_repaired),
            (2, 2, 1)
        );
        let t = sink.table(StagingTable::WebEvents);
        assert_eq!(
            s(&t, "properties", 0).as_deref(),
            Some("{\"name\":\"Zo\u{fffd}\"}")
        );
    }

    #[test]
    fn bad_events_are_rejects() {
        let good = r#"{"messageId":"m","type":"track","event":"Login","timestamp":"2026-08-01T14:25:00Z"}"#;
        let input = [
            good.replace("\"messageId\":\"m\",", ""),
            good.replace(
                "\"timestamp\":\"2026-08-01T14:25:00Z\"",
                "\"timestamp\":\"\"",
            ),
            good.replace("2026-08-01T14:25:00Z", "08/01/2026"),
            good.replace("\"track\"", "\"click\""),
            good.replace(
                "\"Login\"",
                "\"Bot Search\",\"properties\":{\"result_count\":\"many\"}",
            ),
            good.replace("\"Login\"", "\"Login\",\"context\":[]"),
            good[..40].to_owned(),
            String::new(),
            "   ".to_owned(),
            good.to_owned(),
        ]
        .join("\r\n");
        let mut bytes = input.into_bytes();
        bytes.extend_from_slice(b"\r\n{\"messageId\":\"\xff\"}");
        let (stats, sink) = run_ok(SourceFormat::SegmentEvents, &bytes);
        // The event without a messageId is staged, its id a hash of its content.
        assert_eq!(
            (stats.rows_read, stats.rows_staged, stats.rows_rejected),
            (9, 2, 7)
        );
        assert_eq!(stats.warnings.get(NO_MESSAGE_ID), Some(&1));
        let t = sink.table(StagingTable::WebEvents);
        assert!(s(&t, "message_id", 0).is_some_and(|id| id.starts_with("content:")));
        let r: Vec<_> = sink.rejects.iter().map(|r| r.reason.as_str()).collect();
        assert!(r[0].contains("'timestamp': missing"));
        assert!(r[1].contains("'timestamp'") && r[1].contains("RFC 3339"));
        assert!(r[2].contains("'type'") && r[2].contains("page, screen, track"));
        assert!(r[3].contains("'properties.result_count'"));
        assert!(r[4].contains("'context'") && r[4].contains("object"));
        assert!(r[5].contains("cut off"), "{}", r[5]);
        // An invalid byte is repaired (U+FFFD); the record is rejected for what it lacks.
        assert!(!r[6].contains("UTF-8"), "{}", r[6]);
        let lines: Vec<_> = sink.rejects.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![2, 3, 4, 5, 6, 7, 11]);
        assert_eq!(i(&t, "_source_line", 0), Some(1));
        assert_eq!(i(&t, "_source_line", 1), Some(10));
    }

    #[test]
    fn byte_order_mark_is_skipped() {
        let mut input = b"\xEF\xBB\xBF".to_vec();
        input.extend_from_slice(EVENTS.as_bytes());
        let (stats, _) = run_ok(SourceFormat::SegmentEvents, &input);
        assert_eq!((stats.rows_read, stats.rows_staged), (5, 5));
    }

    #[test]
    fn compressed_input() {
        let (stats, _) = run_compressed(
            SourceFormat::SegmentEvents,
            "events.ndjson.gz",
            gzip(EVENTS.as_bytes()),
        );
        assert_eq!(stats.rows_staged, 5);
        let (stats, _) = run_compressed(
            SourceFormat::SegmentEvents,
            "events.ndjson.zst",
            zstd(EVENTS.as_bytes()),
        );
        assert_eq!(stats.rows_staged, 5);
    }
}
