//! LiveChat chats: `livechat/chats-<date>.jsonl` (one Agent Chat API chat per line), and on
//! some days `livechat/archives-<date>.json`, the pages of the `list_archives` response as a
//! client saved them (pretty-printed `{"chats": [...], "found_chats": N, "next_page_id": ...}`
//! envelopes of up to 100 chats, each chat with its one `thread` object, as archives return
//! it).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::SynthError;
use crate::model::{Author, Chat, ChatSystem, ChunkRecords};
use crate::time::{Frac, date_utc, day_number, iso_utc};
use crate::world::World;

use super::Rendered;

#[derive(Serialize)]
struct LcPage<'a> {
    opened_at: String,
    title: &'a str,
    url: &'a str,
}

#[derive(Serialize)]
struct LcVisit<'a> {
    last_pages: Vec<LcPage<'a>>,
    started_at: String,
}

#[derive(Serialize)]
struct LcUser<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    id: &'a str,
    name: &'a str,
    present: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_fields: Option<Vec<BTreeMap<&'static str, &'a str>>>,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    visit: Option<LcVisit<'a>>,
}

#[derive(Serialize)]
struct LcEvent<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    author_id: Option<&'a str>,
    created_at: String,
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_message_type: Option<&'static str>,
    text: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    visibility: &'static str,
}

#[derive(Serialize)]
struct LcRating<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<&'a str>,
    score: u8,
}

#[derive(Serialize)]
struct LcProperties<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    rating: Option<LcRating<'a>>,
}

#[derive(Serialize)]
struct LcAccess {
    group_ids: [u32; 1],
}

#[derive(Serialize)]
struct LcQueue {
    position: u32,
    queued_at: String,
    wait_time: i64,
}

#[derive(Serialize)]
struct LcThread<'a> {
    access: LcAccess,
    active: bool,
    created_at: String,
    events: Vec<LcEvent<'a>>,
    id: &'a str,
    previous_thread_id: Option<&'a str>,
    properties: LcProperties<'a>,
    queue: LcQueue,
    queues_duration: i64,
    tags: &'a [&'static str],
    user_ids: Vec<&'a str>,
}

#[derive(Serialize)]
struct LcChat<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    thread: Option<LcThread<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    threads: Option<[LcThread<'a>; 1]>,
    users: Vec<LcUser<'a>>,
}

/// A `list_archives` response page.
#[derive(Serialize)]
struct LcArchivePage {
    chats: Vec<serde_json::Value>,
    found_chats: usize,
    next_page_id: Option<String>,
    previous_page_id: Option<String>,
}

/// Chats per archives page (the API's maximum `limit`).
const ARCHIVE_PAGE: usize = 100;

/// Whether the chats of a UTC day are saved as archive pages (one day in five).
pub(crate) fn archive_day(day: i64) -> bool {
    day.rem_euclid(5) == 2
}

fn micros(us: i64) -> String {
    iso_utc(us, Frac::Micros)
}

pub(super) fn livechat(
    world: &World,
    recs: &ChunkRecords,
    out: &mut Rendered,
) -> Result<(), SynthError> {
    let mut chats: Vec<&Chat> = recs
        .chats
        .iter()
        .filter(|c| c.system == ChatSystem::LiveChat)
        .collect();
    chats.sort_by(|a, b| (a.created_us, &a.chat_id).cmp(&(b.created_us, &b.chat_id)));
    let mut archived: BTreeMap<i64, Vec<serde_json::Value>> = BTreeMap::new();
    for chat in chats {
        let agent = chat.agent.and_then(|a| world.agents.get(a));
        let agent_email = agent.map(|a| a.email());
        let agent_name = agent.map(|a| a.full_name());
        let mut session_fields: Vec<BTreeMap<&'static str, &str>> = Vec::new();
        if let Some(c) = &chat.crm_contact_id {
            session_fields.push(BTreeMap::from([("crm_contact_id", c.as_str())]));
        }
        session_fields.push(BTreeMap::from([("anonymous_id", chat.anon_id.as_str())]));
        let mut users = vec![LcUser {
            email: chat.email.as_deref(),
            id: &chat.visitor_id,
            name: &chat.name,
            present: false,
            session_fields: Some(session_fields),
            kind: "customer",
            visit: Some(LcVisit {
                last_pages: chat
                    .last_pages
                    .iter()
                    .map(|(t, url, title)| LcPage {
                        opened_at: micros(*t),
                        title,
                        url,
                    })
                    .collect(),
                started_at: micros(chat.visit_started_us),
            }),
        }];
        if let (Some(e), Some(n)) = (&agent_email, &agent_name) {
            users.push(LcUser {
                email: Some(e),
                id: e,
                name: n,
                present: false,
                session_fields: None,
                kind: "agent",
                visit: None,
            });
        }
        let events = chat
            .events
            .iter()
            .enumerate()
            .map(|(k, e)| LcEvent {
                author_id: match e.author {
                    Author::Customer => Some(chat.visitor_id.as_str()),
                    Author::Agent => agent_email.as_deref(),
                    Author::System => None,
                },
                created_at: micros(e.at_us),
                id: format!("{}_{}", chat.thread_id, k + 1),
                system_message_type: e.system_type,
                text: &e.text,
                kind: if e.author == Author::System {
                    "system_message"
                } else {
                    "message"
                },
                visibility: "all",
            })
            .collect();
        let mut user_ids = vec![chat.visitor_id.as_str()];
        if let Some(e) = &agent_email {
            user_ids.push(e);
        }
        let thread = LcThread {
            access: LcAccess { group_ids: [0] },
            active: false,
            created_at: micros(chat.created_us),
            events,
            id: &chat.thread_id,
            previous_thread_id: None,
            properties: LcProperties {
                rating: chat
                    .rating
                    .map(|(score, comment)| LcRating { comment, score }),
            },
            queue: LcQueue {
                position: chat.queue_position,
                queued_at: micros(chat.created_us),
                wait_time: chat.queue_wait_secs,
            },
            queues_duration: chat.queue_wait_secs,
            tags: &chat.tags,
            user_ids,
        };
        let day = day_number(chat.created_us);
        if archive_day(day) {
            let record = LcChat {
                id: &chat.chat_id,
                thread: Some(thread),
                threads: None,
                users,
            };
            let value = serde_json::to_value(&record).map_err(|source| SynthError::Json {
                what: "LiveChat chat",
                source,
            })?;
            archived.entry(day).or_default().push(value);
            continue;
        }
        let record = LcChat {
            id: &chat.chat_id,
            thread: None,
            threads: Some([thread]),
            users,
        };
        let path = format!("livechat/chats-{}.jsonl", date_utc(chat.created_us));
        out.part(&path).push_json("LiveChat chat", &record)?;
    }
    for (day, chats) in archived {
        let path = format!("livechat/archives-{}.json", crate::time::date_of_day(day));
        let part = out.part(&path);
        let found = chats.len();
        let mut chats = chats.into_iter().peekable();
        let mut page_no = 0;
        while chats.peek().is_some() {
            let page: Vec<serde_json::Value> = chats.by_ref().take(ARCHIVE_PAGE).collect();
            let n = page.len() as u64;
            page_no += 1;
            let record = LcArchivePage {
                chats: page,
                found_chats: found,
                next_page_id: (page_no * ARCHIVE_PAGE < found)
                    .then(|| format!("page-{}", page_no + 1)),
                previous_page_id: (page_no > 1).then(|| format!("page-{}", page_no - 1)),
            };
            let bytes = super::to_json_pretty("LiveChat archives page", &record)?;
            part.push_record(&bytes, b"\n");
            // A page holds `n` records, not one.
            part.records += n - 1;
        }
    }
    Ok(())
}
