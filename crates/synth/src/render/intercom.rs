//! Intercom conversations (REST API 2.x objects):
//!
//! - `intercom/conversations-<date>.json`: `GET /conversations` list pages as a client saved
//!   them, one compact `{"type": "conversation.list", "conversations": [...], "pages": {...},
//!   "total_count"}` page of up to 50 conversations per line, each conversation with its parts
//!   and rating;
//! - on one day in four, `intercom/webhooks-<date>.jsonl` instead: the `notification_event`
//!   webhooks a subscription received, one per line (`conversation.admin.closed`, or
//!   `conversation.user.created` for a conversation no admin answered), with the conversation at
//!   `data.item`, mixed with `contact.created` notifications that hold no conversation.
//!
//! Times are Unix seconds. The customer is the contact (`contacts[0]`, whose `external_id` is
//! the CRM contact id when the visitor was signed in) and the author of the opening message
//! (`source`, with the e-mail the visitor gave). Admins are `4100000 + agent index`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::SynthError;
use crate::model::{Author, Chat, ChatSystem, ChunkRecords};
use crate::time::{SEC, date_of_day, day_number};
use crate::world::World;

use super::{Part, Rendered, to_json};

/// Conversations per list page.
const PAGE: usize = 50;

/// Whether a UTC day's conversations are saved as webhooks.
pub(crate) fn webhook_day(day: i64) -> bool {
    day.rem_euclid(4) == 1
}

fn admin_id(agent: usize) -> String {
    (4_100_000 + agent as u64).to_string()
}

fn unix(us: i64) -> i64 {
    us.div_euclid(SEC)
}

fn conversation(world: &World, chat: &Chat) -> Value {
    let contact_id = chat.exported_visitor_id();
    let agent = chat.agent.and_then(|a| world.agents.get(a).map(|x| (a, x)));
    let admin = agent.map(|(a, x)| {
        json!({"type": "admin", "id": admin_id(a), "name": x.full_name(), "email": x.email()})
    });
    let user = json!({"type": "user", "id": contact_id});
    let mut parts = Vec::new();
    let mut first_admin_reply = None;
    for (k, e) in chat.events.iter().enumerate().skip(1) {
        let author = match e.author {
            Author::Customer => user.clone(),
            Author::Agent => {
                first_admin_reply.get_or_insert(e.at_us);
                admin.clone().unwrap_or(Value::Null)
            }
            Author::System => continue,
        };
        parts.push(json!({
            "type": "conversation_part",
            "id": format!("{}{:02}", unix(e.at_us), k),
            "part_type": "comment",
            "body": format!("<p>{}</p>", e.text),
            "created_at": unix(e.at_us),
            "updated_at": unix(e.at_us),
            "notified_at": unix(e.at_us),
            "assigned_to": null,
            "author": author,
            "attachments": [],
            "external_id": null,
            "redacted": false,
        }));
    }
    let last = chat
        .events
        .iter()
        .filter(|e| e.author != Author::System)
        .map(|e| e.at_us)
        .max()
        .unwrap_or(chat.created_us);
    if let Some(admin) = &admin {
        parts.push(json!({
            "type": "conversation_part",
            "id": format!("{}99", unix(last) + 1),
            "part_type": "close",
            "body": null,
            "created_at": unix(last) + 1,
            "updated_at": unix(last) + 1,
            "notified_at": unix(last) + 1,
            "assigned_to": null,
            "author": admin,
            "attachments": [],
            "external_id": null,
            "redacted": false,
        }));
    }
    let rated_at = chat
        .events
        .iter()
        .find(|e| e.author == Author::System)
        .map(|e| e.at_us);
    let rating = match (chat.rating, rated_at) {
        (Some((stars, remark)), Some(at)) => json!({
            "rating": stars,
            "remark": remark,
            "created_at": unix(at),
            "contact": {"type": "contact", "id": contact_id},
            "teammate": agent.map(|(a, _)| json!({"type": "admin", "id": admin_id(a)})),
        }),
        _ => Value::Null,
    };
    let updated = rated_at.unwrap_or(last).max(last + SEC);
    let opener = chat.events.first();
    let mut author = json!({"type": "user", "id": contact_id, "name": chat.name});
    if let (Some(email), Some(obj)) = (&chat.email, author.as_object_mut()) {
        obj.insert("email".into(), json!(email));
    }
    json!({
        "type": "conversation",
        "id": chat.chat_id,
        "title": null,
        "created_at": unix(chat.created_us),
        "updated_at": unix(updated),
        "waiting_since": null,
        "snoozed_until": null,
        "open": false,
        "state": "closed",
        "read": true,
        "priority": "not_priority",
        "admin_assignee_id": agent.map(|(a, _)| 4_100_000 + a as u64),
        "team_assignee_id": 5_811_131,
        "tags": {"type": "tag.list", "tags": chat.tags.iter().map(|t| json!({"type": "tag", "id": "1", "name": t})).collect::<Vec<_>>()},
        "source": {
            "type": "conversation",
            "id": format!("{}", unix(chat.created_us) * 10),
            "delivered_as": "customer_initiated",
            "subject": "",
            "body": format!("<p>{}</p>", opener.map(|e| e.text.as_str()).unwrap_or("")),
            "author": author,
            "attachments": [],
            "url": chat.last_pages.last().map(|p| p.1.as_str()),
            "redacted": false,
        },
        "contacts": {"type": "contact.list", "contacts": [{"type": "contact", "id": contact_id, "external_id": chat.crm_contact_id}]},
        "teammates": {"type": "admin.list", "admins": agent.map(|(a, _)| vec![json!({"type": "admin", "id": admin_id(a)})]).unwrap_or_default()},
        "statistics": {
            "type": "conversation_statistics",
            "time_to_admin_reply": chat.first_response_secs.map(|f| f as i64),
            "first_contact_reply_at": unix(chat.created_us),
            "first_admin_reply_at": first_admin_reply.map(unix),
            "first_close_at": admin.as_ref().map(|_| unix(last) + 1),
            "last_close_at": admin.as_ref().map(|_| unix(last) + 1),
            "count_conversation_parts": parts.len(),
        },
        "conversation_rating": rating,
        "conversation_parts": {"type": "conversation_part.list", "conversation_parts": parts, "total_count": parts.len()},
    })
}

/// The export of a UTC day on which no conversation started: the one empty list page the
/// export job saved (so a small world still has an Intercom file for every day, as a daily job
/// writes one). Its path, and its bytes (no record).
pub(crate) fn intercom_empty_day(day: i64) -> Result<(String, Part), SynthError> {
    let body = json!({
        "type": "conversation.list",
        "pages": {"type": "pages", "page": 1, "per_page": PAGE, "total_pages": 0, "next": null},
        "total_count": 0,
        "conversations": [],
    });
    Ok((
        format!("intercom/conversations-{}.json", date_of_day(day)),
        Part::empty_page("Intercom conversations page", &body)?,
    ))
}

/// The paths a UTC day's Intercom conversations can be saved under.
pub(crate) fn intercom_day_paths(day: i64) -> [String; 2] {
    let date = date_of_day(day);
    [
        format!("intercom/conversations-{date}.json"),
        format!("intercom/webhooks-{date}.jsonl"),
    ]
}

pub(super) fn intercom(
    world: &World,
    recs: &ChunkRecords,
    out: &mut Rendered,
) -> Result<(), SynthError> {
    let mut by_day: BTreeMap<i64, Vec<&Chat>> = BTreeMap::new();
    for c in recs
        .chats
        .iter()
        .filter(|c| c.system == ChatSystem::Intercom)
    {
        by_day.entry(day_number(c.created_us)).or_default().push(c);
    }
    for (day, mut chats) in by_day {
        chats.sort_by(|a, b| (a.created_us, &a.chat_id).cmp(&(b.created_us, &b.chat_id)));
        let date = date_of_day(day);
        if webhook_day(day) {
            let part = out.part(&format!("intercom/webhooks-{date}.jsonl"));
            for (k, c) in chats.iter().enumerate() {
                let item = conversation(world, c);
                let at = item.get("updated_at").and_then(Value::as_i64).unwrap_or(0);
                let topic = if c.agent.is_some() {
                    "conversation.admin.closed"
                } else {
                    "conversation.user.created"
                };
                let note = json!({
                    "type": "notification_event",
                    "app_id": "ex4mpl3",
                    "data": {"type": "notification_event_data", "item": item},
                    "links": {},
                    "id": format!("notif_{}_{k}", c.chat_id),
                    "topic": topic,
                    "delivery_status": "pending",
                    "delivery_attempts": 1,
                    "delivered_at": 0,
                    "first_sent_at": at,
                    "created_at": at,
                    "self": null,
                });
                part.push_record(&to_json("Intercom notification", &note)?, b"\n");
                if k % 10 == 0 {
                    // A notification about a new contact: no conversation, not a record.
                    let other = json!({
                        "type": "notification_event",
                        "app_id": "ex4mpl3",
                        "data": {"type": "notification_event_data", "item": {"type": "contact", "id": c.visitor_id, "role": "lead"}},
                        "id": format!("notif_contact_{}", c.chat_id),
                        "topic": "contact.created",
                        "created_at": unix(c.created_us),
                    });
                    part.data
                        .extend_from_slice(&to_json("Intercom notification", &other)?);
                    part.data.push(b'\n');
                }
            }
        } else {
            let part = out.part(&format!("intercom/conversations-{date}.json"));
            let pages: Vec<_> = chats.chunks(PAGE).collect();
            for (i, page) in pages.iter().enumerate() {
                let body = json!({
                    "type": "conversation.list",
                    "pages": {
                        "type": "pages",
                        "page": i + 1,
                        "per_page": PAGE,
                        "total_pages": pages.len(),
                        "next": (i + 1 < pages.len()).then(|| json!({"page": i + 2, "starting_after": format!("WzE3{i}"), "per_page": PAGE})),
                    },
                    "total_count": chats.len(),
                    "conversations": page.iter().map(|c| conversation(world, c)).collect::<Vec<_>>(),
                });
                part.push_record(&to_json("Intercom conversations page", &body)?, b"\n");
                part.records += page.len() as u64 - 1;
            }
        }
    }
    Ok(())
}
