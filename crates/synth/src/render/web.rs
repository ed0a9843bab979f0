//! Segment web events (`web/events-<date>.ndjson`).

use serde::Serialize;

use crate::SynthError;
use crate::model::{ChunkRecords, WebEvent, WebKind};
use crate::time::{Frac, date_of_day, day_number, iso_utc};

use super::{Part, Rendered};

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

pub(super) fn segment(recs: &ChunkRecords, out: &mut Rendered) -> Result<(), SynthError> {
    let mut events: Vec<&WebEvent> = recs.web.iter().collect();
    events.sort_by(|a, b| (a.at_us, &a.message_id).cmp(&(b.at_us, &b.message_id)));
    // One day's events, moved to the day's file when the day changes.
    let mut current_day = i64::MIN;
    let mut buf = Part::default();
    let flush = |out: &mut Rendered, day: i64, buf: &mut Part| {
        if buf.records > 0 {
            let p = out.part(&format!("web/events-{}.ndjson", date_of_day(day)));
            p.data.append(&mut buf.data);
            p.records += std::mem::take(&mut buf.records);
        }
    };
    for e in events {
        let day = day_number(e.at_us);
        if day != current_day {
            flush(out, current_day, &mut buf);
            current_day = day;
        }
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
        buf.push_json("Segment event", &record)?;
    }
    flush(out, current_day, &mut buf);
    Ok(())
}
