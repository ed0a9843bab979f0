//! LiveChat chats (Agent Chat API v3.6 `chat` structure, one chat per line) → `stg_chats` (one
//! row per thread) and `stg_chat_messages` (one row per event), `source_system = 'livechat'`.
//!
//! # Grain and conservation
//!
//! A record is one chat line. A chat is staged whole (all its threads and events) or rejected
//! whole, so `rows_staged` and `rows_rejected` count chats; the number of `stg_chats` and
//! `stg_chat_messages` rows it produced is in the batches. A chat with no thread (neither
//! `threads` nor the v3 single `thread`, which is read when `threads` is absent or empty) is
//! rejected rather than silently producing no row.
//!
//! # Mapping, per thread
//!
//! - `chat_id` = chat `id` (required); `thread_id` = thread `id` (required);
//!   `previous_thread_id`.
//! - `started_at` = thread `created_at`, else its first event; `ended_at` = its last event.
//! - `customer_*`: the chat's first user with `type: customer` — `id`, `name`, `email` (as the
//!   visitor typed it), `phone_number`.
//! - `crm_contact_id`, `anonymous_id`: from the customer's `session_fields`, a list of one-key
//!   objects (`[{"crm_contact_id": "003..."}, {"anonymous_id": "..."}]`); a plain object is read
//!   too.
//! - Messages are events of type `message`, `file` or `rich_message` that the customer can see
//!   (`visibility` other than `agents`, which are internal notes). `agent_id` = the author of the
//!   earliest agent message (the agent user's id, i.e. the agent's email);
//!   `first_customer_message_at`, `first_agent_message_at`, `customer_message_count`,
//!   `agent_message_count` count those messages by the author's user type.
//! - `agent_count` = distinct agent users in the thread (its `user_ids` and the authors of its
//!   events).
//! - `group_id` = first of `access.group_ids`; `tags` = `tags` joined with `,` (null if none).
//! - `queued_at` = `queue.queued_at`; `queue_wait_secs` = `queue.wait_time`, else
//!   `queues_duration`.
//! - `rating_score` / `rating_comment` = `properties.rating.score` (0 thumbs-down, 1 thumbs-up) /
//!   `.comment`.
//! - `visit_started_at` = the customer's `visit.started_at`; `last_page_url` = the URL of the
//!   most recently opened page of `visit.last_pages` (the last entry when none has `opened_at`).
//!
//! Per event: `event_id`, `created_at`, `event_type` (all required), `author_id`, `author_type`
//! (the author's user `type` in the chat's `users`, null if the author is not listed), `text`,
//! `visibility`. Timestamps are RFC 3339 with microseconds.

use std::io::BufRead;

use serde_json::{Map, Value};
use touchstone_core::StagingTable;

use crate::json::records::{Event, Layout, Unwrap, drift, read_records, take_path};
use crate::json::{get, kind, opt_arr, opt_int, opt_obj, opt_str, opt_ts};
use crate::table::TableBuilder;
use crate::{Ctx, ExtractError, Identity};

const EXAMPLE: &str = "2026-08-01T14:22:31.123456Z";

/// Chats come one per line, pretty-printed, in arrays, in the `{"chats": [...]}` envelope of
/// the Agent Chat API's `list_archives` / `list_chats`, or as `{"action", "payload": {"chat"}}`
/// webhooks.
const LAYOUT: Layout = Layout {
    lookups: &[],
    lists: &["chats"],
    unwrap: webhook,
};

/// The top-level fields read (others are ignored; near-misses of these are warned about).
const FIELDS: &[&str] = &["id", "users", "threads", "thread"];

/// A LiveChat webhook (`{"webhook_id", "action", "payload": {...}}`) holds a chat at
/// `payload.chat` (`incoming_chat`, `chat_deactivated` with the chat...); the others (thread
/// summaries, routing changes) hold no chat and are not records of this source.
fn webhook(obj: Map<String, Value>) -> Unwrap {
    let action = match (obj.get("action"), obj.get("payload")) {
        (Some(Value::String(action)), Some(Value::Object(_))) => action.clone(),
        _ => return Unwrap::Plain(obj),
    };
    match take_path(obj, &["payload", "chat"]) {
        Some(chat) => Unwrap::Record(chat, "/payload/chat"),
        None => Unwrap::Skip(format!(
            "LiveChat webhooks with action '{action}' carry no chat; not read"
        )),
    }
}

pub(crate) fn read(ctx: &mut Ctx<'_, '_>, input: &mut dyn BufRead) -> Result<(), ExtractError> {
    let mut chats = ctx.builder(StagingTable::Chats)?;
    let mut messages = ctx.builder(StagingTable::ChatMessages)?;
    read_records(ctx, input, &LAYOUT, &mut |ctx, event| {
        let Event::Record(rec) = event else {
            return Ok(());
        };
        drift(ctx, &rec.obj, FIELDS, "LiveChat chat");
        match chat(&rec.obj, rec.line, &mut chats, &mut messages) {
            Ok(Ok(identity)) => {
                if ctx.is_duplicate(&identity) {
                    chats.discard();
                    messages.discard();
                } else {
                    chats.commit(ctx.sink)?;
                    messages.commit(ctx.sink)?;
                    ctx.staged_record(rec.raw);
                }
                Ok(())
            }
            Ok(Err(reason)) => {
                chats.discard();
                messages.discard();
                ctx.reject(rec.line, rec.reason(reason), rec.raw)
            }
            Err(e) => {
                chats.discard();
                messages.discard();
                Err(e)
            }
        }
    })?;
    chats.flush(ctx.sink)?;
    messages.flush(ctx.sink)
}

/// A chat user: id and type.
struct User<'v> {
    id: &'v str,
    kind: &'v str,
}

/// The customer facts repeated on every thread row.
#[derive(Default)]
struct Customer<'v> {
    id: Option<&'v str>,
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    crm_contact_id: Option<String>,
    anonymous_id: Option<String>,
    visit_started_at: Option<i64>,
    last_page_url: Option<String>,
}

/// What a thread's events add up to.
#[derive(Default)]
struct Summary<'v> {
    first_event: Option<i64>,
    last_event: Option<i64>,
    first_customer: Option<i64>,
    first_agent: Option<(i64, &'v str)>,
    customer_messages: i64,
    agent_messages: i64,
    agents: Vec<&'v str>,
}

type Outcome = Result<Result<Identity, String>, ExtractError>;

/// Writes the chat's rows (pending in the builders). Its identity is the chat id, versioned by
/// its latest instant (a copy with more events is a later version).
fn chat(
    c: &Map<String, Value>,
    line: u64,
    chats: &mut TableBuilder,
    messages: &mut TableBuilder,
) -> Outcome {
    match chat_rows(c, line, chats, messages) {
        Ok(result) => result.map(Ok),
        Err(reason) => Ok(Err(reason)),
    }
}

/// Writes the chat's rows; the outer `Err` is a reject reason, the inner one a file-level error.
fn chat_rows(
    c: &Map<String, Value>,
    line: u64,
    chats: &mut TableBuilder,
    messages: &mut TableBuilder,
) -> Result<Result<Identity, ExtractError>, String> {
    let chat_id = opt_str(c, "id", "id")?
        .filter(|s| !s.is_empty())
        .ok_or("field 'id': missing; expected the chat id")?;

    let mut users = Vec::new();
    if let Some(list) = opt_arr(c, "users", "users")? {
        for (i, u) in list.iter().enumerate() {
            let Value::Object(u) = u else {
                return Err(format!(
                    "field 'users[{i}]': expected an object, got a JSON {}",
                    kind(u)
                ));
            };
            let Some(Value::String(id)) = get(u, "id") else {
                return Err(format!(
                    "field 'users[{i}].id': missing; expected the user's id"
                ));
            };
            let user_type = match get(u, "type") {
                Some(Value::String(k)) => k.as_str(),
                _ => "",
            };
            users.push((
                User {
                    id,
                    kind: user_type,
                },
                u,
            ));
        }
    }
    let customer = match users.iter().find(|(u, _)| u.kind == "customer") {
        Some((u, obj)) => customer(u.id, obj, users.iter().position(|(x, _)| x.id == u.id))?,
        None => Customer::default(),
    };
    let user_kind =
        |id: &str| -> Option<&str> { users.iter().find(|(u, _)| u.id == id).map(|(u, _)| u.kind) };

    let mut threads: Vec<&Map<String, Value>> = Vec::new();
    if let Some(list) = opt_arr(c, "threads", "threads")? {
        for (i, t) in list.iter().enumerate() {
            match t {
                Value::Object(t) => threads.push(t),
                other => {
                    return Err(format!(
                        "field 'threads[{i}]': expected a thread object, got a JSON {}",
                        kind(other)
                    ));
                }
            }
        }
    }
    if threads.is_empty()
        && let Some(t) = opt_obj(c, "thread", "thread")?
    {
        threads.push(t);
    }
    if threads.is_empty() {
        return Err(
            "chat has no threads; expected a non-empty 'threads' array (or a 'thread' object)"
                .into(),
        );
    }

    let mut latest = i64::MIN;
    for (ti, t) in threads.iter().enumerate() {
        let at = |e: String| format!("threads[{ti}]: {e}");
        let thread_id = opt_str(t, "id", "id")
            .map_err(at)?
            .filter(|s| !s.is_empty())
            .ok_or_else(|| at("field 'id': missing; expected the thread id".into()))?;
        let previous = opt_str(t, "previous_thread_id", "previous_thread_id").map_err(at)?;
        let created = opt_ts(t, "created_at", "created_at", EXAMPLE).map_err(at)?;
        let mut sum = Summary::default();
        if let Some(ids) = opt_arr(t, "user_ids", "user_ids").map_err(at)? {
            for id in ids.iter().filter_map(Value::as_str) {
                if user_kind(id) == Some("agent") && !sum.agents.contains(&id) {
                    sum.agents.push(id);
                }
            }
        }
        if let Some(events) = opt_arr(t, "events", "events").map_err(at)? {
            for (ei, e) in events.iter().enumerate() {
                let at_event = |e: String| format!("threads[{ti}].events[{ei}]: {e}");
                let Value::Object(e) = e else {
                    return Err(at_event(format!(
                        "expected an event object, got a JSON {}",
                        kind(e)
                    )));
                };
                if let Err(err) = event(
                    e, &chat_id, &thread_id, line, &user_kind, &mut sum, messages,
                )
                .map_err(at_event)?
                {
                    return Ok(Err(err));
                }
            }
        }
        let started_at = created.or(sum.first_event).ok_or_else(|| {
            at(format!(
                "field 'created_at': missing and the thread has no events; expected a timestamp \
                 like {EXAMPLE}"
            ))
        })?;
        let group_id = match opt_obj(t, "access", "access").map_err(at)? {
            Some(access) => match opt_arr(access, "group_ids", "access.group_ids").map_err(at)? {
                Some(ids) => match ids.first() {
                    Some(Value::Number(n)) => n.as_i64(),
                    Some(Value::String(s)) => s.trim().parse().ok(),
                    _ => None,
                },
                None => None,
            },
            None => None,
        };
        let tags = match opt_arr(t, "tags", "tags").map_err(at)? {
            Some(tags) => {
                let names: Vec<&str> = tags.iter().filter_map(Value::as_str).collect();
                (!names.is_empty()).then(|| names.join(","))
            }
            None => None,
        };
        let (mut queued_at, mut wait) = (None, None);
        if let Some(q) = opt_obj(t, "queue", "queue").map_err(at)? {
            queued_at = opt_ts(q, "queued_at", "queue.queued_at", EXAMPLE).map_err(at)?;
            wait = opt_int(q, "wait_time", "queue.wait_time", "whole seconds").map_err(at)?;
        }
        if wait.is_none() {
            wait = opt_int(t, "queues_duration", "queues_duration", "whole seconds").map_err(at)?;
        }
        let (mut score, mut comment) = (None, None);
        let props = opt_obj(t, "properties", "properties").map_err(at)?;
        if let Some(rating) = props
            .map(|p| opt_obj(p, "rating", "properties.rating"))
            .transpose()
            .map_err(at)?
            .flatten()
        {
            score = opt_int(
                rating,
                "score",
                "properties.rating.score",
                "0 (bad) or 1 (good)",
            )
            .map_err(at)?;
            comment = opt_str(rating, "comment", "properties.rating.comment").map_err(at)?;
        }
        if let Some((_, agent)) = sum.first_agent
            && !sum.agents.contains(&agent)
        {
            sum.agents.push(agent);
        }

        chats.str("source_system", Some("livechat"));
        chats.str("chat_id", Some(&chat_id));
        chats.str("thread_id", Some(&thread_id));
        chats.text("previous_thread_id", previous.as_deref());
        chats.ts("started_at", Some(started_at));
        chats.ts("ended_at", sum.last_event);
        chats.text("customer_user_id", customer.id);
        chats.text("customer_name", customer.name.as_deref());
        chats.text("customer_email", customer.email.as_deref());
        chats.text("customer_phone", customer.phone.as_deref());
        chats.text("crm_contact_id", customer.crm_contact_id.as_deref());
        chats.text("anonymous_id", customer.anonymous_id.as_deref());
        chats.text("agent_id", sum.first_agent.map(|(_, a)| a));
        chats.int("agent_count", Some(sum.agents.len() as i64));
        chats.int("group_id", group_id);
        chats.str("tags", tags.as_deref());
        chats.ts("queued_at", queued_at);
        chats.int("queue_wait_secs", wait);
        chats.ts("first_customer_message_at", sum.first_customer);
        chats.ts("first_agent_message_at", sum.first_agent.map(|(t, _)| t));
        chats.int("customer_message_count", Some(sum.customer_messages));
        chats.int("agent_message_count", Some(sum.agent_messages));
        chats.int("rating_score", score);
        chats.text("rating_comment", comment.as_deref());
        chats.ts("visit_started_at", customer.visit_started_at);
        chats.text("last_page_url", customer.last_page_url.as_deref());
        if let Err(e) = chats.end_row(line) {
            return Ok(Err(e));
        }
        latest = latest
            .max(started_at)
            .max(sum.last_event.unwrap_or(i64::MIN));
    }
    Ok(Ok(Identity {
        kind: "livechat",
        id: chat_id.into_owned(),
        version: latest,
    }))
}

/// Reads one event into `stg_chat_messages` and the thread summary.
fn event<'v>(
    e: &'v Map<String, Value>,
    chat_id: &str,
    thread_id: &str,
    line: u64,
    user_kind: &dyn Fn(&str) -> Option<&'v str>,
    sum: &mut Summary<'v>,
    messages: &mut TableBuilder,
) -> Result<Result<(), ExtractError>, String> {
    let id = opt_str(e, "id", "id")?
        .filter(|s| !s.is_empty())
        .ok_or("field 'id': missing; expected the event id")?;
    let created = opt_ts(e, "created_at", "created_at", EXAMPLE)?.ok_or_else(|| {
        format!("field 'created_at': missing; expected a timestamp like {EXAMPLE}")
    })?;
    let kind = opt_str(e, "type", "type")?
        .filter(|s| !s.is_empty())
        .ok_or("field 'type': missing; expected message, file, system_message, ...")?;
    let author: Option<&'v str> = match get(e, "author_id") {
        None => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(v) => {
            return Err(format!(
                "field 'author_id': expected a string, got a JSON {}",
                crate::json::kind(v)
            ));
        }
    };
    let author_type = author.and_then(user_kind);
    let text = opt_str(e, "text", "text")?;
    let visibility = opt_str(e, "visibility", "visibility")?;

    sum.first_event = Some(sum.first_event.map_or(created, |f| f.min(created)));
    sum.last_event = Some(sum.last_event.map_or(created, |l| l.max(created)));
    if let (Some(a), Some("agent")) = (author, author_type)
        && !sum.agents.contains(&a)
    {
        sum.agents.push(a);
    }
    let is_message = matches!(kind.as_ref(), "message" | "file" | "rich_message")
        && visibility.as_deref() != Some("agents");
    if is_message {
        match (author_type, author) {
            (Some("customer"), _) => {
                sum.customer_messages += 1;
                sum.first_customer = Some(sum.first_customer.map_or(created, |f| f.min(created)));
            }
            (Some("agent"), Some(a)) => {
                sum.agent_messages += 1;
                if sum.first_agent.is_none_or(|(t, _)| created < t) {
                    sum.first_agent = Some((created, a));
                }
            }
            _ => {}
        }
    }

    messages.str("source_system", Some("livechat"));
    messages.str("chat_id", Some(chat_id));
    messages.str("thread_id", Some(thread_id));
    messages.str("event_id", Some(&id));
    messages.ts("created_at", Some(created));
    messages.str("event_type", Some(&kind));
    messages.text("author_id", author);
    messages.text("author_type", author_type);
    messages.text("text", text.as_deref());
    messages.text("visibility", visibility.as_deref());
    Ok(messages.end_row(line))
}

fn customer<'v>(
    id: &'v str,
    u: &'v Map<String, Value>,
    index: Option<usize>,
) -> Result<Customer<'v>, String> {
    let i = index.unwrap_or(0);
    let at = |e: String| format!("users[{i}]: {e}");
    let text = |key: &str| {
        opt_str(u, key, key)
            .map(|v| v.map(|c| c.into_owned()))
            .map_err(at)
    };
    let mut c = Customer {
        id: Some(id),
        name: text("name")?,
        email: text("email")?,
        phone: text("phone_number")?,
        ..Customer::default()
    };
    match get(u, "session_fields") {
        None => {}
        Some(Value::Array(fields)) => {
            for f in fields {
                if let Value::Object(f) = f {
                    session_field(f, &mut c).map_err(at)?;
                }
            }
        }
        Some(Value::Object(f)) => session_field(f, &mut c).map_err(at)?,
        Some(v) => {
            return Err(at(format!(
                "field 'session_fields': expected a list of one-key objects, got a JSON {}",
                kind(v)
            )));
        }
    }
    if let Some(visit) = opt_obj(u, "visit", "visit").map_err(at)? {
        c.visit_started_at =
            opt_ts(visit, "started_at", "visit.started_at", EXAMPLE).map_err(at)?;
        if let Some(pages) = opt_arr(visit, "last_pages", "visit.last_pages").map_err(at)? {
            let mut best: Option<(Option<i64>, String)> = None;
            for (pi, p) in pages.iter().enumerate() {
                let Value::Object(p) = p else { continue };
                let path = format!("visit.last_pages[{pi}]");
                let opened =
                    opt_ts(p, "opened_at", &format!("{path}.opened_at"), EXAMPLE).map_err(at)?;
                let Some(url) = opt_str(p, "url", &format!("{path}.url")).map_err(at)? else {
                    continue;
                };
                // Latest `opened_at` wins; without times, the later entry wins.
                if best.as_ref().is_none_or(|(t, _)| opened >= *t) {
                    best = Some((opened, url.into_owned()));
                }
            }
            c.last_page_url = best.map(|(_, url)| url);
        }
    }
    Ok(c)
}

fn session_field(f: &Map<String, Value>, c: &mut Customer<'_>) -> Result<(), String> {
    if let Some(v) = opt_str(f, "crm_contact_id", "session_fields.crm_contact_id")? {
        c.crm_contact_id = Some(v.into_owned());
    }
    if let Some(v) = opt_str(f, "anonymous_id", "session_fields.anonymous_id")? {
        c.anonymous_id = Some(v.into_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use touchstone_core::SourceFormat;

    use super::*;
    use crate::testutil::*;

    const CHAT: &str = r#"{"id":"Q1","users":[{"id":"v-1","type":"customer","name":"Jane Doe","email":" Jane@Example.com ","phone_number":"(312) 555-0143","session_fields":[{"crm_contact_id":"003000000000001AAA"},{"anonymous_id":"anon-1"}],"visit":{"started_at":"2026-08-01T14:00:00.000000Z","last_pages":[{"opened_at":"2026-08-01T14:00:00.000000Z","url":"https://ex.com/","title":"Home"},{"opened_at":"2026-08-01T14:01:00.000000Z","url":"https://ex.com/billing","title":"Billing"}]}},{"id":"jsmith@example.com","type":"agent","name":"J Smith"},{"id":"akim@example.com","type":"agent"}],"threads":[{"id":"T1","created_at":"2026-08-01T14:02:00.000000Z","active":false,"user_ids":["v-1","jsmith@example.com"],"access":{"group_ids":[3]},"tags":["billing","refund"],"queue":{"position":1,"wait_time":20,"queued_at":"2026-08-01T14:02:00.000000Z"},"properties":{"rating":{"score":1,"comment":"great"}},"events":[{"id":"e1","created_at":"2026-08-01T14:02:01.500000Z","type":"message","author_id":"v-1","text":"hi, I was double charged","visibility":"all"},{"id":"e2","created_at":"2026-08-01T14:02:30.000000Z","type":"message","author_id":"akim@example.com","text":"internal note","visibility":"agents"},{"id":"e3","created_at":"2026-08-01T14:02:40.123456Z","type":"message","author_id":"jsmith@example.com","text":"Let me check","visibility":"all"},{"id":"e4","created_at":"2026-08-01T14:05:00.000000Z","type":"system_message","text":"chat closed"}]},{"id":"T2","previous_thread_id":"T1","created_at":"2026-08-02T09:00:00.000000Z","events":[{"id":"e5","created_at":"2026-08-02T09:00:05.000000Z","type":"message","author_id":"v-1","text":"anyone?"}]}]}"#;

    #[test]
    fn threads_and_events_are_mapped() {
        let (stats, sink) = run_ok(SourceFormat::Livechat, format!("{CHAT}\n").as_bytes());
        assert_eq!((stats.rows_read, stats.rows_staged), (1, 1));
        let t = sink.table(StagingTable::Chats);
        assert_eq!(t.num_rows(), 2);
        assert_eq!(s(&t, "source_system", 0).as_deref(), Some("livechat"));
        assert_eq!(s(&t, "chat_id", 0).as_deref(), Some("Q1"));
        assert_eq!(s(&t, "thread_id", 0).as_deref(), Some("T1"));
        assert_eq!(i(&t, "started_at", 0), Some(ts("2026-08-01T14:02:00Z")));
        assert_eq!(i(&t, "ended_at", 0), Some(ts("2026-08-01T14:05:00Z")));
        assert_eq!(s(&t, "customer_user_id", 0).as_deref(), Some("v-1"));
        assert_eq!(s(&t, "customer_name", 0).as_deref(), Some("Jane Doe"));
        assert_eq!(
            s(&t, "customer_email", 0).as_deref(),
            Some(" Jane@Example.com ")
        );
        assert_eq!(
            s(&t, "customer_phone", 0).as_deref(),
            Some("(312) 555-0143")
        );
        assert_eq!(
            s(&t, "crm_contact_id", 0).as_deref(),
            Some("003000000000001AAA")
        );
        assert_eq!(s(&t, "anonymous_id", 0).as_deref(), Some("anon-1"));
        assert_eq!(s(&t, "agent_id", 0).as_deref(), Some("jsmith@example.com"));
        // jsmith (user_ids) and akim (wrote an internal note).
        assert_eq!(i(&t, "agent_count", 0), Some(2));
        assert_eq!(i(&t, "group_id", 0), Some(3));
        assert_eq!(s(&t, "tags", 0).as_deref(), Some("billing,refund"));
        assert_eq!(i(&t, "queued_at", 0), Some(ts("2026-08-01T14:02:00Z")));
        assert_eq!(i(&t, "queue_wait_secs", 0), Some(20));
        assert_eq!(
            i(&t, "first_customer_message_at", 0),
            Some(ts("2026-08-01T14:02:01.5Z"))
        );
        assert_eq!(
            i(&t, "first_agent_message_at", 0),
            Some(ts("2026-08-01T14:02:40.123456Z"))
        );
        assert_eq!(i(&t, "customer_message_count", 0), Some(1));
        assert_eq!(i(&t, "agent_message_count", 0), Some(1));
        assert_eq!(i(&t, "rating_score", 0), Some(1));
        assert_eq!(s(&t, "rating_comment", 0).as_deref(), Some("great"));
        assert_eq!(
            i(&t, "visit_started_at", 0),
            Some(ts("2026-08-01T14:00:00Z"))
        );
        assert_eq!(
            s(&t, "last_page_url", 0).as_deref(),
            Some("https://ex.com/billing")
        );
        // The second thread: missed (no agent message).
        assert_eq!(s(&t, "previous_thread_id", 1).as_deref(), Some("T1"));
        assert_eq!(s(&t, "agent_id", 1), None);
        assert_eq!(i(&t, "agent_count", 1), Some(0));
        assert_eq!(i(&t, "agent_message_count", 1), Some(0));
        assert_eq!(s(&t, "tags", 1), None);
        assert_eq!(i(&t, "rating_score", 1), None);

        let m = sink.table(StagingTable::ChatMessages);
        assert_eq!(m.num_rows(), 5);
        assert_eq!(s(&m, "event_id", 0).as_deref(), Some("e1"));
        assert_eq!(s(&m, "author_type", 0).as_deref(), Some("customer"));
        assert_eq!(s(&m, "author_type", 2).as_deref(), Some("agent"));
        assert_eq!(s(&m, "visibility", 1).as_deref(), Some("agents"));
        assert_eq!(s(&m, "event_type", 3).as_deref(), Some("system_message"));
        assert_eq!(
            (s(&m, "author_id", 3), s(&m, "author_type", 3)),
            (None, None)
        );
        assert_eq!(s(&m, "thread_id", 4).as_deref(), Some("T2"));
        assert_eq!(i(&m, "_source_line", 4), Some(1));
    }

    #[test]
    fn single_thread_key_and_created_at_fallback() {
        let chat = r#"{"id":"Q2","users":[],"thread":{"id":"T9","events":[{"id":"a","created_at":"2026-08-01T10:00:00.000001Z","type":"message","author_id":"nobody","text":"?"}]}}"#;
        let (stats, sink) = run_ok(
            SourceFormat::Livechat,
            crlf(&format!("\n{chat}\n")).as_bytes(),
        );
        assert_eq!((stats.rows_read, stats.rows_staged), (1, 1));
        let t = sink.table(StagingTable::Chats);
        assert_eq!(
            i(&t, "started_at", 0),
            Some(ts("2026-08-01T10:00:00.000001Z"))
        );
        assert_eq!(i(&t, "_source_line", 0), Some(2));
        assert_eq!(s(&t, "customer_user_id", 0), None);
        // An author not among the users is neither customer nor agent.
        assert_eq!(i(&t, "customer_message_count", 0), Some(0));
    }

    #[test]
    fn bad_chats_are_rejected_whole() {
        let input = [
            CHAT.replace("\"id\":\"Q1\",", ""),
            CHAT.replace("2026-08-01T14:02:40.123456Z", "2026-08-01 14:02"),
            CHAT.replace("\"id\":\"e3\",", ""),
            CHAT.replace("\"score\":1", "\"score\":\"good\""),
            r#"{"id":"Q3","users":[]}"#.to_owned(),
            CHAT[..300].to_owned(),
            CHAT.to_owned(),
        ]
        .join("\n");
        let mut bytes = input.into_bytes();
        bytes.extend_from_slice(b"\n{\"id\":\"\xc3\x28\"}\n");
        let (stats, sink) = run_ok(SourceFormat::Livechat, &bytes);
        assert_eq!(
            (stats.rows_read, stats.rows_staged, stats.rows_rejected),
            (8, 1, 7)
        );
        // Nothing of the rejected chats leaked into the tables.
        assert_eq!(sink.rows(StagingTable::Chats), 2);
        assert_eq!(sink.rows(StagingTable::ChatMessages), 5);
        assert_eq!(
            i(&sink.table(StagingTable::Chats), "_source_line", 0),
            Some(7)
        );
        let r: Vec<_> = sink.rejects.iter().map(|r| r.reason.as_str()).collect();
        assert!(r[0].contains("field 'id': missing"));
        assert!(
            r[1].contains("threads[0].events[2]: field 'created_at'") && r[1].contains(EXAMPLE),
            "{}",
            r[1]
        );
        assert!(
            r[2].contains("threads[0].events[2]: field 'id': missing"),
            "{}",
            r[2]
        );
        assert!(r[3].contains("'properties.rating.score'") && r[3].contains("0 (bad) or 1 (good)"));
        assert!(r[4].contains("no threads"));
        assert!(r[5].contains("cut off"), "{}", r[5]);
        // An invalid byte is repaired (U+FFFD); the chat is rejected for what it lacks.
        assert!(!r[6].contains("UTF-8"), "{}", r[6]);
    }

    #[test]
    fn compressed_input() {
        let other = CHAT.replace("\"id\":\"Q1\"", "\"id\":\"Q2\"");
        let data = format!("{CHAT}\n{other}\n");
        let (stats, _) = run_compressed(
            SourceFormat::Livechat,
            "chats-2026-08-01.jsonl.gz",
            gzip(data.as_bytes()),
        );
        assert_eq!(stats.rows_staged, 2);
        let (stats, sink) = run_compressed(
            SourceFormat::Livechat,
            "chats-2026-08-01.jsonl.zst",
            zstd(data.as_bytes()),
        );
        assert_eq!(stats.rows_staged, 2);
        assert_eq!(sink.rows(StagingTable::Chats), 4);
    }
}
