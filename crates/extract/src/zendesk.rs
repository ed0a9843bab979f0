//! Zendesk (`zendesk`): Support tickets → `stg_cases`, satisfaction ratings →
//! `stg_survey_responses` (answers) and `stg_survey_invitations` (`offered` / `unoffered`), and
//! Zendesk Chat chats → `stg_chats` / `stg_chat_messages`; `source_system = 'zendesk'`.
//!
//! # Files
//!
//! What the Zendesk APIs return, as saved: list pages (`{"tickets": [...], "next_page": ...,
//! "count": 6040}`, `{"satisfaction_ratings": [...]}`, `{"chats": [...]}` of the Chat API),
//! time- and cursor-based incremental exports (`{"tickets": [...], "end_of_stream": true,
//! "after_cursor": ...}`), pages appended to one file or one per line, the records alone (JSON
//! lines, arrays, single documents), and event webhooks (`{"type":
//! "zen:event-type:ticket.status_changed", "detail": {ticket}}`; webhooks of other event types
//! hold no ticket and are counted as a warning, not read). Only list elements are records: the
//! `count`, `next_page`, cursors of a page are not.
//!
//! A record's kind comes from the list it is in (`tickets`, `satisfaction_ratings`, `chats`);
//! a record outside a list is a satisfaction rating when it has `ticket_id` and `score`, a chat
//! when it has `visitor`, `history` or `session` or its `type` is `chat` or `offline_msg`, and
//! a ticket when it has `subject`, `status`
//! or `requester_id`; anything else is rejected.
//!
//! Pages may sideload the requesters (`include=users`: a `users` list beside `tickets`, before
//! or after it). Users are lookup data, not records: a page's records are held until the page
//! ends (memory bounded by the API's page size, at most 1,000 records; past 10,000 they are
//! staged without waiting, with a warning), then each requester's `email`, `phone` and
//! `external_id` (the CRM contact id Zendesk integrations write there) fill in the case and the
//! rating.
//!
//! Records of one id delivered again (incremental exports repeat records at page boundaries)
//! are duplicates unless their `updated_at` (`update_timestamp` for chats) is later, in which
//! case the later version is staged too and the models keep the latest.
//!
//! # Tickets → `stg_cases`
//!
//! `case_id` and `case_number` = `id` (required); `account_id` = `organization_id`;
//! `contact_id` = the requester's `external_id` (sideloaded users); `parent_id` = `problem_id`;
//! `supplied_email` / `supplied_phone` = the requester's `email` / `phone`, else the e-mail or
//! phone the ticket came from (`via.source.from.address` / `.phone`); `origin` = `via.channel`;
//! `type`; `reason` null; `status` lowercased (`new`, `open`, `pending`, `hold`, `solved`,
//! `closed`, `deleted`); `is_closed` = status `solved` or `closed`; `is_escalated` null;
//! `priority` lowercased; `subject`; `owner_id` = `assignee_id`; `created_at` (required);
//! `closed_at` = `metric_set.solved_at` when the export includes the ticket's metric set;
//! `updated_at`; `is_deleted` = status `deleted`.
//!
//! # Satisfaction ratings
//!
//! `score` `good` / `bad` is an answer → `stg_survey_responses`: `response_id` = `id`
//! (required), `survey_name` `Zendesk satisfaction`, `instrument` `csat` on a 0–1 scale
//! (`good` 1, `bad` 0), `comment`, `respondent_type` `customer`, `respondent_id` =
//! `requester_id`, `customer_email` / `customer_phone` from the sideloaded requester,
//! `agent_id` = `assignee_id`, `interaction_channel` `case`, `interaction_id` = `ticket_id`,
//! `offered_at` = `created_at`, `responded_at` = `updated_at` (required). `offered` (sent, not
//! answered) and `unoffered` (not sent) are invitations → `stg_survey_invitations` with that
//! `status` (`offered_at` = `created_at` for `offered`); they never count as answers. Any other
//! score is rejected.
//!
//! # Zendesk Chat chats → `stg_chats` (one row: a chat is its own thread), `stg_chat_messages`
//!
//! `chat_id` = `thread_id` = `id` (required); `started_at` = `timestamp`, else
//! `session.start_date` (required); `ended_at` = `end_timestamp`, else the last `history`
//! entry, else `session.end_date`; `customer_user_id`, `customer_name`, `customer_email`,
//! `customer_phone` = `visitor.id`, `.name`, `.email`, `.phone`; `agent_id` = the author of the
//! first agent message (`agent:<id>` nick), else the first of `agent_ids`; `agent_count` = the
//! distinct agents of `agent_ids` and of the messages; `group_id` = `department_id`; `tags`
//! joined with `,`; `rating_score` = `rating` `good` 1 / `bad` 0 (`comment` is
//! `rating_comment`); `visit_started_at` = `session.start_date`; `last_page_url` = `to` of the
//! last `webpath` entry. Messages are the `chat.msg` and `chat.file` entries of `history`; their
//! author is the visitor or an agent by `sender_type` (`Visitor` / `Agent`), else by the `nick`
//! (`visitor:...` / `agent:<id>`). An `offline_msg` (a message left when no agent was online)
//! is a chat with its `message` as the one customer message, so it reads as missed.
//!
//! Per history entry → `stg_chat_messages`: `event_id` = `msg_id`, else `<chat id>#<index>`;
//! `created_at` = `timestamp` (required); `event_type` = `type` (`chat.msg`,
//! `chat.memberjoin`, `chat.rating`...); `author_id` = the agent id of an `agent:<id>` nick,
//! the visitor's id for the visitor, else `name`; `author_type` `customer` / `agent` (null for
//! system entries); `text` = `msg`; `visibility` null.

use std::collections::HashMap;
use std::io::BufRead;

use serde_json::{Map, Value};
use touchstone_core::StagingTable;

use crate::input::REJECT_RAW_BYTES;
use crate::json::records::{Event, Layout, Rec, Unwrap, drift, read_records, take_path};
use crate::json::{kind, opt_arr, opt_int, opt_obj, opt_str, opt_ts};
use crate::state::UNVERSIONED;
use crate::table::TableBuilder;
use crate::{Ctx, ExtractError, Identity};

const EXAMPLE: &str = "2026-08-01T14:22:31Z";

const LAYOUT: Layout = Layout {
    lists: &["tickets", "satisfaction_ratings", "chats", "users"],
    lookups: &["users"],
    unwrap: webhook,
};

/// Records of one envelope held back for its sideloads at most; past this, staged at once.
const HOLD_LIMIT: usize = 10_000;

/// Warning when a page holds more records than are held back.
const HOLD_EXCEEDED: &str = "a Zendesk page with more than 10,000 records: records past that \
     were staged without waiting for the page's sideloaded users";

const TICKET_FIELDS: &[&str] = &[
    "id",
    "organization_id",
    "requester_id",
    "problem_id",
    "via",
    "type",
    "status",
    "priority",
    "subject",
    "assignee_id",
    "created_at",
    "updated_at",
    "metric_set",
];
const RATING_FIELDS: &[&str] = &[
    "id",
    "score",
    "comment",
    "requester_id",
    "assignee_id",
    "ticket_id",
    "created_at",
    "updated_at",
];
const CHAT_FIELDS: &[&str] = &[
    "id",
    "type",
    "timestamp",
    "end_timestamp",
    "update_timestamp",
    "session",
    "visitor",
    "agent_ids",
    "department_id",
    "tags",
    "rating",
    "comment",
    "webpath",
    "history",
    "message",
];

/// A Zendesk event webhook holds the ticket at `detail` when its type is a ticket event.
fn webhook(obj: Map<String, Value>) -> Unwrap {
    let event = match (obj.get("type"), obj.get("detail")) {
        (Some(Value::String(t)), Some(Value::Object(_))) if t.starts_with("zen:event-type:") => {
            t.clone()
        }
        _ => return Unwrap::Plain(obj),
    };
    if !event.starts_with("zen:event-type:ticket.") {
        return Unwrap::Skip(format!(
            "Zendesk event webhooks of type '{event}' carry no ticket; not read"
        ));
    }
    match take_path(obj, &["detail"]) {
        Some(ticket) => Unwrap::Record(ticket, "/detail"),
        None => Unwrap::Skip(format!(
            "Zendesk event webhooks of type '{event}' carry no ticket; not read"
        )),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ticket,
    Rating,
    Chat,
}

/// A record held until its page ends.
struct Held {
    line: u64,
    pointer: String,
    list: Option<&'static str>,
    obj: Map<String, Value>,
    raw: Vec<u8>,
}

/// A sideloaded user.
#[derive(Debug, Default, Clone)]
struct Person {
    email: Option<String>,
    phone: Option<String>,
    external_id: Option<String>,
}

struct Tables {
    cases: TableBuilder,
    answers: TableBuilder,
    invitations: TableBuilder,
    chats: TableBuilder,
    messages: TableBuilder,
}

pub(crate) fn read(ctx: &mut Ctx<'_, '_>, input: &mut dyn BufRead) -> Result<(), ExtractError> {
    let mut t = Tables {
        cases: ctx.builder(StagingTable::Cases)?,
        answers: ctx.builder(StagingTable::SurveyResponses)?,
        invitations: ctx.builder(StagingTable::SurveyInvitations)?,
        chats: ctx.builder(StagingTable::Chats)?,
        messages: ctx.builder(StagingTable::ChatMessages)?,
    };
    let mut held: Vec<Held> = Vec::new();
    let mut users: HashMap<String, Person> = HashMap::new();
    read_records(ctx, input, &LAYOUT, &mut |ctx, event| match event {
        Event::Lookup(rec) => {
            if let Ok(Some(id)) = opt_str(&rec.obj, "id", "id") {
                let text = |key: &str| {
                    opt_str(&rec.obj, key, key)
                        .ok()
                        .flatten()
                        .map(|v| v.into_owned())
                        .filter(|v| !v.is_empty())
                };
                users.insert(
                    id.into_owned(),
                    Person {
                        email: text("email"),
                        phone: text("phone"),
                        external_id: text("external_id"),
                    },
                );
            }
            Ok(())
        }
        Event::EnvelopeEnd => {
            for h in held.drain(..) {
                settle(ctx, &mut t, &users, h)?;
            }
            users.clear();
            Ok(())
        }
        Event::Record(rec) => {
            let Rec {
                line,
                pointer,
                list,
                obj,
                raw,
            } = rec;
            let h = Held {
                line,
                pointer,
                list,
                obj,
                raw: raw[..raw.len().min(REJECT_RAW_BYTES + 4)].to_vec(),
            };
            if list.is_some() && held.len() < HOLD_LIMIT {
                held.push(h);
                Ok(())
            } else {
                if list.is_some() {
                    ctx.warn(HOLD_EXCEEDED, 1);
                }
                settle(ctx, &mut t, &users, h)
            }
        }
    })?;
    // A file cut off inside a page still ends the page (the framer says so); anything left is
    // staged with what is known.
    for h in held.drain(..) {
        settle(ctx, &mut t, &users, h)?;
    }
    t.cases.flush(ctx.sink)?;
    t.answers.flush(ctx.sink)?;
    t.invitations.flush(ctx.sink)?;
    t.chats.flush(ctx.sink)?;
    t.messages.flush(ctx.sink)
}

fn kind_of(list: Option<&str>, obj: &Map<String, Value>) -> Option<Kind> {
    match list {
        Some("tickets") => return Some(Kind::Ticket),
        Some("satisfaction_ratings") => return Some(Kind::Rating),
        Some("chats") => return Some(Kind::Chat),
        _ => {}
    }
    let has = |k: &str| obj.contains_key(k);
    if has("ticket_id") && has("score") {
        Some(Kind::Rating)
    } else if has("visitor")
        || has("history")
        || has("session")
        || matches!(
            obj.get("type").and_then(Value::as_str),
            Some("chat" | "offline_msg")
        )
    {
        Some(Kind::Chat)
    } else if has("subject") || has("status") || has("requester_id") {
        Some(Kind::Ticket)
    } else {
        None
    }
}

/// Stages, rejects or counts as a duplicate one record.
fn settle(
    ctx: &mut Ctx<'_, '_>,
    t: &mut Tables,
    users: &HashMap<String, Person>,
    h: Held,
) -> Result<(), ExtractError> {
    let at = |reason: String| crate::json::records::at(&h.pointer, reason);
    let Some(kind) = kind_of(h.list, &h.obj) else {
        return ctx.reject(
            h.line,
            at(
                "not a Zendesk ticket, satisfaction rating or chat (it has none of 'subject', \
                 'status', 'requester_id'; 'ticket_id' and 'score'; 'visitor', 'history', \
                 'session'); expected one of those records"
                    .to_owned(),
            ),
            &h.raw,
        );
    };
    match kind {
        Kind::Ticket => {
            drift(ctx, &h.obj, TICKET_FIELDS, "Zendesk ticket");
            let outcome = ticket(&h.obj, users, &mut t.cases).map_err(at);
            ctx.settle_delivery(&mut t.cases, h.line, outcome, &h.raw)
        }
        Kind::Rating => {
            drift(ctx, &h.obj, RATING_FIELDS, "Zendesk satisfaction rating");
            match rating_score(&h.obj) {
                Err(reason) => ctx.reject(h.line, at(reason), &h.raw),
                Ok(score) => {
                    let tb = if score.is_some() {
                        &mut t.answers
                    } else {
                        &mut t.invitations
                    };
                    let outcome = rating(&h.obj, score, users, tb).map_err(at);
                    ctx.settle_delivery(tb, h.line, outcome, &h.raw)
                }
            }
        }
        Kind::Chat => {
            drift(ctx, &h.obj, CHAT_FIELDS, "Zendesk chat");
            match chat(&h.obj, h.line, &mut t.chats, &mut t.messages) {
                Ok(Ok(identity)) => {
                    if ctx.is_duplicate(&identity) {
                        t.chats.discard();
                        t.messages.discard();
                    } else {
                        t.chats.commit(ctx.sink)?;
                        t.messages.commit(ctx.sink)?;
                        ctx.staged_record(&h.raw);
                    }
                    Ok(())
                }
                Ok(Err(e)) => {
                    t.chats.discard();
                    t.messages.discard();
                    Err(e)
                }
                Err(reason) => {
                    t.chats.discard();
                    t.messages.discard();
                    ctx.reject(h.line, at(reason), &h.raw)
                }
            }
        }
    }
}

/// A required id (a JSON number or string).
fn required_id(obj: &Map<String, Value>, key: &str, what: &str) -> Result<String, String> {
    opt_str(obj, key, key)?
        .filter(|s| !s.is_empty())
        .map(|s| s.into_owned())
        .ok_or_else(|| format!("field '{key}': missing; expected the {what}"))
}

fn lower(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    Ok(opt_str(obj, key, key)?
        .map(|s| s.to_lowercase())
        .filter(|s| !s.is_empty()))
}

fn ticket(
    c: &Map<String, Value>,
    users: &HashMap<String, Person>,
    tb: &mut TableBuilder,
) -> Result<Identity, String> {
    let id = required_id(c, "id", "ticket id")?;
    let created = opt_ts(c, "created_at", "created_at", EXAMPLE)?.ok_or_else(|| {
        format!("field 'created_at': missing; expected a timestamp like {EXAMPLE}")
    })?;
    let updated = opt_ts(c, "updated_at", "updated_at", EXAMPLE)?;
    let requester = opt_str(c, "requester_id", "requester_id")?;
    let person = requester
        .as_deref()
        .and_then(|r| users.get(r))
        .cloned()
        .unwrap_or_default();
    let (mut channel, mut from_email, mut from_phone) = (None, None, None);
    if let Some(via) = opt_obj(c, "via", "via")? {
        channel = opt_str(via, "channel", "via.channel")?;
        if let Some(from) = opt_obj(via, "source", "via.source")?
            .map(|s| opt_obj(s, "from", "via.source.from"))
            .transpose()?
            .flatten()
        {
            from_email = opt_str(from, "address", "via.source.from.address")?;
            from_phone = opt_str(from, "phone", "via.source.from.phone")?;
        }
    }
    let status = lower(c, "status")?;
    let solved = matches!(status.as_deref(), Some("solved" | "closed"));
    let mut closed_at = None;
    if solved && let Some(m) = opt_obj(c, "metric_set", "metric_set")? {
        closed_at = opt_ts(m, "solved_at", "metric_set.solved_at", EXAMPLE)?;
    }
    let organization = opt_str(c, "organization_id", "organization_id")?;
    let problem = opt_str(c, "problem_id", "problem_id")?;
    let kind = lower(c, "type")?;
    let priority = lower(c, "priority")?;
    let subject = opt_str(c, "subject", "subject")?;
    let assignee = opt_str(c, "assignee_id", "assignee_id")?;

    tb.str("source_system", Some("zendesk"));
    tb.str("case_id", Some(&id));
    tb.str("case_number", Some(&id));
    tb.text("account_id", organization.as_deref());
    tb.text("contact_id", person.external_id.as_deref());
    tb.text("parent_id", problem.as_deref());
    tb.text(
        "supplied_email",
        person.email.as_deref().or(from_email.as_deref()),
    );
    tb.text(
        "supplied_phone",
        person.phone.as_deref().or(from_phone.as_deref()),
    );
    tb.text("origin", channel.as_deref());
    tb.text("type", kind.as_deref());
    tb.str("reason", None);
    tb.text("status", status.as_deref());
    tb.bool("is_closed", status.as_ref().map(|_| solved));
    tb.bool("is_escalated", None);
    tb.text("priority", priority.as_deref());
    tb.text("subject", subject.as_deref());
    tb.text("owner_id", assignee.as_deref());
    tb.ts("created_at", Some(created));
    tb.ts("closed_at", closed_at);
    tb.ts("updated_at", updated);
    tb.bool("is_deleted", Some(status.as_deref() == Some("deleted")));
    Ok(Identity {
        kind: "zendesk_ticket",
        id,
        version: updated.unwrap_or(UNVERSIONED),
    })
}

/// The answer a rating holds: `Some(1.0)` good, `Some(0.0)` bad, `None` an invitation.
fn rating_score(r: &Map<String, Value>) -> Result<Option<f64>, String> {
    let score = opt_str(r, "score", "score")?.unwrap_or_default();
    match score.as_ref() {
        "good" => Ok(Some(1.0)),
        "bad" => Ok(Some(0.0)),
        "offered" | "unoffered" => Ok(None),
        other => Err(format!(
            "field 'score': expected good, bad, offered or unoffered, got {}",
            crate::input::shown(other)
        )),
    }
}

/// Writes a rating: an answer into `stg_survey_responses`, an invitation into
/// `stg_survey_invitations` (the table `tb` is).
fn rating(
    r: &Map<String, Value>,
    score: Option<f64>,
    users: &HashMap<String, Person>,
    tb: &mut TableBuilder,
) -> Result<Identity, String> {
    let id = required_id(r, "id", "satisfaction rating id")?;
    let status = opt_str(r, "score", "score")?
        .unwrap_or_default()
        .into_owned();
    let created = opt_ts(r, "created_at", "created_at", EXAMPLE)?;
    let updated = opt_ts(r, "updated_at", "updated_at", EXAMPLE)?;
    let requester = opt_str(r, "requester_id", "requester_id")?;
    let person = requester
        .as_deref()
        .and_then(|id| users.get(id))
        .cloned()
        .unwrap_or_default();
    let assignee = opt_str(r, "assignee_id", "assignee_id")?;
    let ticket = opt_str(r, "ticket_id", "ticket_id")?;
    match score {
        Some(score) => {
            let responded = updated.or(created).ok_or_else(|| {
                format!(
                    "field 'updated_at': missing; expected the time the rating was given, like \
                     {EXAMPLE}"
                )
            })?;
            let comment = opt_str(r, "comment", "comment")?;
            tb.str("source_system", Some("zendesk"));
            tb.str("response_id", Some(&id));
            tb.str("survey_name", Some("Zendesk satisfaction"));
            tb.str("instrument", Some("csat"));
            tb.int("scale_min", Some(0));
            tb.int("scale_max", Some(1));
            tb.float("score", Some(score));
            tb.text("comment", comment.as_deref());
            tb.str("respondent_type", Some("customer"));
            tb.text("respondent_id", requester.as_deref());
            tb.text("customer_email", person.email.as_deref());
            tb.text("customer_phone", person.phone.as_deref());
            tb.text("agent_id", assignee.as_deref());
            tb.str("interaction_channel", Some("case"));
            tb.text("interaction_id", ticket.as_deref());
            tb.ts("offered_at", created);
            tb.ts("responded_at", Some(responded));
            tb.str("response_status", Some("answered"));
            tb.str("score_label", None);
            tb.bool("reward_offered", None);
        }
        None => {
            tb.str("source_system", Some("zendesk"));
            tb.str("invitation_id", Some(&id));
            tb.str("survey_name", Some("Zendesk satisfaction"));
            tb.str("instrument", Some("csat"));
            tb.str("status", Some(&status));
            tb.text("respondent_id", requester.as_deref());
            tb.text("customer_email", person.email.as_deref());
            tb.text("customer_phone", person.phone.as_deref());
            tb.text("agent_id", assignee.as_deref());
            tb.str("interaction_channel", Some("case"));
            tb.text("interaction_id", ticket.as_deref());
            tb.ts("created_at", created);
            tb.ts("offered_at", created.filter(|_| status == "offered"));
        }
    }
    Ok(Identity {
        kind: "zendesk_rating",
        id,
        version: updated.unwrap_or(UNVERSIONED),
    })
}

/// Who wrote a history entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Author {
    Visitor,
    Agent(String),
    Other(Option<String>),
}

fn author(e: &Map<String, Value>, visitor_name: Option<&str>) -> Result<Author, String> {
    let nick = opt_str(e, "nick", "nick")?;
    let name = opt_str(e, "name", "name")?;
    let sender = opt_str(e, "sender_type", "sender_type")?.map(|s| s.to_lowercase());
    let agent_id = || {
        nick.as_deref()
            .and_then(|n| n.strip_prefix("agent:"))
            .map(str::to_owned)
            .or_else(|| name.as_deref().map(str::to_owned))
            .unwrap_or_default()
    };
    Ok(match sender.as_deref() {
        Some("visitor") => Author::Visitor,
        Some("agent") => Author::Agent(agent_id()),
        Some(_) => Author::Other(name.as_deref().map(str::to_owned)),
        None => match nick.as_deref() {
            Some(n) if n.starts_with("visitor") => Author::Visitor,
            Some(n) if n.starts_with("agent:") => Author::Agent(agent_id()),
            _ if name.is_some() && name.as_deref() == visitor_name => Author::Visitor,
            _ => Author::Other(name.as_deref().map(str::to_owned)),
        },
    })
}

/// Writes a chat's rows (pending in the builders). The outer `Err` is a reject reason.
fn chat(
    c: &Map<String, Value>,
    line: u64,
    chats: &mut TableBuilder,
    messages: &mut TableBuilder,
) -> Result<Result<Identity, ExtractError>, String> {
    let id = required_id(c, "id", "chat id")?;
    let chat_type = opt_str(c, "type", "type")?;
    let session = opt_obj(c, "session", "session")?;
    let session_ts = |key: &str| -> Result<Option<i64>, String> {
        match session {
            Some(s) => opt_ts(s, key, &format!("session.{key}"), EXAMPLE),
            None => Ok(None),
        }
    };
    let session_start = session_ts("start_date")?;
    let session_end = session_ts("end_date")?;
    let started = opt_ts(c, "timestamp", "timestamp", EXAMPLE)?
        .or(session_start)
        .ok_or_else(|| {
            format!("field 'timestamp': missing; expected the chat's start, like {EXAMPLE}")
        })?;
    let end_ts = opt_ts(c, "end_timestamp", "end_timestamp", EXAMPLE)?;
    let updated = opt_ts(c, "update_timestamp", "update_timestamp", EXAMPLE)?;
    let (mut visitor_id, mut name, mut email, mut phone) = (None, None, None, None);
    if let Some(v) = opt_obj(c, "visitor", "visitor")? {
        visitor_id = opt_str(v, "id", "visitor.id")?;
        name = opt_str(v, "name", "visitor.name")?;
        email = opt_str(v, "email", "visitor.email")?;
        phone = opt_str(v, "phone", "visitor.phone")?;
    }
    let mut agents: Vec<String> = Vec::new();
    if let Some(ids) = opt_arr(c, "agent_ids", "agent_ids")? {
        for v in ids {
            if let Some(s) = match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            } && !agents.contains(&s)
            {
                agents.push(s);
            }
        }
    }
    let first_listed = agents.first().cloned();
    let department = opt_int(c, "department_id", "department_id", "a department id")?;
    let tags = match opt_arr(c, "tags", "tags")? {
        Some(tags) => {
            let names: Vec<&str> = tags.iter().filter_map(Value::as_str).collect();
            (!names.is_empty()).then(|| names.join(","))
        }
        None => None,
    };
    let rating = match opt_str(c, "rating", "rating")?.as_deref() {
        None | Some("") => None,
        Some("good") => Some(1),
        Some("bad") => Some(0),
        Some(other) => {
            return Err(format!(
                "field 'rating': expected good, bad or null, got {}",
                crate::input::shown(other)
            ));
        }
    };
    let comment = opt_str(c, "comment", "comment")?;
    let mut last_page = None;
    if let Some(path) = opt_arr(c, "webpath", "webpath")?
        && let Some(Value::Object(last)) = path.last()
    {
        last_page = opt_str(last, "to", "webpath[].to")?.map(|s| s.into_owned());
    }

    let (mut first_customer, mut first_agent): (Option<i64>, Option<(i64, String)>) = (None, None);
    let (mut customer_count, mut agent_count) = (0i64, 0i64);
    let mut last_event = None::<i64>;
    let mut write = |event_id: &str,
                     at: i64,
                     event_type: &str,
                     author: &Author,
                     text: Option<&str>|
     -> Result<(), ExtractError> {
        let is_message = matches!(event_type, "chat.msg" | "chat.file" | "offline_msg");
        let (author_id, author_type) = match author {
            Author::Visitor => (visitor_id.as_deref(), Some("customer")),
            Author::Agent(a) => (Some(a.as_str()), Some("agent")),
            Author::Other(n) => (n.as_deref(), None),
        };
        if is_message {
            match author {
                Author::Visitor => {
                    customer_count += 1;
                    first_customer = Some(first_customer.map_or(at, |f| f.min(at)));
                }
                Author::Agent(a) => {
                    agent_count += 1;
                    if first_agent.as_ref().is_none_or(|(t, _)| at < *t) {
                        first_agent = Some((at, a.clone()));
                    }
                    if !agents.contains(a) {
                        agents.push(a.clone());
                    }
                }
                Author::Other(_) => {}
            }
        }
        last_event = Some(last_event.map_or(at, |l| l.max(at)));
        messages.str("source_system", Some("zendesk"));
        messages.str("chat_id", Some(&id));
        messages.str("thread_id", Some(&id));
        messages.str("event_id", Some(event_id));
        messages.ts("created_at", Some(at));
        messages.str("event_type", Some(event_type));
        messages.text("author_id", author_id);
        messages.text("author_type", author_type);
        messages.text("text", text);
        messages.str("visibility", None);
        messages.end_row(line)
    };
    if chat_type.as_deref() == Some("offline_msg") {
        let text = opt_str(c, "message", "message")?;
        if let Err(e) = write(
            &format!("{id}#0"),
            started,
            "offline_msg",
            &Author::Visitor,
            text.as_deref(),
        ) {
            return Ok(Err(e));
        }
    }
    if let Some(history) = opt_arr(c, "history", "history")? {
        for (i, e) in history.iter().enumerate() {
            let at_entry = |e: String| format!("history[{i}]: {e}");
            let Value::Object(e) = e else {
                return Err(at_entry(format!(
                    "expected an entry object, got a JSON {}",
                    kind(e)
                )));
            };
            let at = opt_ts(e, "timestamp", "timestamp", EXAMPLE)
                .map_err(at_entry)?
                .ok_or_else(|| {
                    at_entry(format!(
                        "field 'timestamp': missing; expected a timestamp like {EXAMPLE}"
                    ))
                })?;
            let event_type = opt_str(e, "type", "type")
                .map_err(at_entry)?
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    at_entry(
                        "field 'type': missing; expected chat.msg, chat.memberjoin, ...".into(),
                    )
                })?;
            let event_id = match opt_str(e, "msg_id", "msg_id").map_err(at_entry)? {
                Some(m) if !m.is_empty() => m.into_owned(),
                _ => format!("{id}#{}", i + 1),
            };
            let who = author(e, name.as_deref()).map_err(at_entry)?;
            let text = opt_str(e, "msg", "msg").map_err(at_entry)?;
            if let Err(err) = write(&event_id, at, &event_type, &who, text.as_deref()) {
                return Ok(Err(err));
            }
        }
    }
    let ended = end_ts.or(last_event).or(session_end);
    chats.str("source_system", Some("zendesk"));
    chats.str("chat_id", Some(&id));
    chats.str("thread_id", Some(&id));
    chats.str("previous_thread_id", None);
    chats.ts("started_at", Some(started));
    chats.ts("ended_at", ended);
    chats.text("customer_user_id", visitor_id.as_deref());
    chats.text("customer_name", name.as_deref());
    chats.text("customer_email", email.as_deref());
    chats.text("customer_phone", phone.as_deref());
    chats.str("crm_contact_id", None);
    chats.str("anonymous_id", None);
    chats.text(
        "agent_id",
        first_agent
            .as_ref()
            .map(|(_, a)| a.as_str())
            .or(first_listed.as_deref()),
    );
    chats.int("agent_count", Some(agents.len() as i64));
    chats.int("group_id", department);
    chats.str("tags", tags.as_deref());
    chats.ts("queued_at", None);
    chats.int("queue_wait_secs", None);
    chats.ts("first_customer_message_at", first_customer);
    chats.ts("first_agent_message_at", first_agent.map(|(t, _)| t));
    chats.int("customer_message_count", Some(customer_count));
    chats.int("agent_message_count", Some(agent_count));
    chats.int("rating_score", rating);
    chats.text("rating_comment", comment.as_deref());
    chats.ts("visit_started_at", session_start);
    chats.text("last_page_url", last_page.as_deref());
    if let Err(e) = chats.end_row(line) {
        return Ok(Err(e));
    }
    Ok(Ok(Identity {
        kind: "zendesk_chat",
        id,
        version: updated.or(ended).unwrap_or(UNVERSIONED),
    }))
}

#[cfg(test)]
mod tests {
    use touchstone_core::SourceFormat;

    use super::*;
    use crate::testutil::*;

    const TICKET: &str = r#"{"id":101,"via":{"channel":"email","source":{"from":{"address":"From@Example.com","name":"Jane"},"to":{},"rel":null}},"created_at":"2026-08-01T14:00:00Z","updated_at":"2026-08-02T09:00:00Z","type":"incident","subject":"Charged twice","priority":"high","status":"solved","requester_id":7,"assignee_id":375925,"organization_id":55,"problem_id":99,"tags":["billing"],"metric_set":{"solved_at":"2026-08-02T08:59:00Z"},"satisfaction_rating":{"score":"offered"}}"#;
    const USER: &str = r#"{"id":7,"name":"Jane Doe","email":"jane@example.com","phone":"+13125550143","external_id":"003000000000001AAA","role":"end-user"}"#;

    #[test]
    fn tickets_with_users_sideloaded_before_or_after() {
        let after = format!(r#"{{"tickets":[{TICKET}],"users":[{USER}],"count":1}}"#);
        let before = format!(
            r#"{{"users":[{USER}],"tickets":[{}],"end_of_stream":true}}"#,
            TICKET.replace("\"id\":101", "\"id\":102")
        );
        let bare = TICKET.replace("\"id\":101", "\"id\":103");
        let input = format!("{after}\n{before}\n{bare}\n");
        let (stats, sink) = run_ok(SourceFormat::Zendesk, input.as_bytes());
        // Users are lookups, not rows.
        assert_eq!((stats.rows_read, stats.rows_staged), (3, 3));
        let t = sink.table(StagingTable::Cases);
        for r in 0..2 {
            assert_eq!(
                s(&t, "contact_id", r).as_deref(),
                Some("003000000000001AAA")
            );
            assert_eq!(
                s(&t, "supplied_email", r).as_deref(),
                Some("jane@example.com")
            );
            assert_eq!(s(&t, "supplied_phone", r).as_deref(), Some("+13125550143"));
        }
        // Without sideloads, the address the e-mail came from.
        assert_eq!(s(&t, "contact_id", 2), None);
        assert_eq!(
            s(&t, "supplied_email", 2).as_deref(),
            Some("From@Example.com")
        );
        assert_eq!(s(&t, "case_id", 0).as_deref(), Some("101"));
        assert_eq!(s(&t, "case_number", 0).as_deref(), Some("101"));
        assert_eq!(s(&t, "account_id", 0).as_deref(), Some("55"));
        assert_eq!(s(&t, "parent_id", 0).as_deref(), Some("99"));
        assert_eq!(s(&t, "origin", 0).as_deref(), Some("email"));
        assert_eq!(s(&t, "type", 0).as_deref(), Some("incident"));
        assert_eq!(s(&t, "status", 0).as_deref(), Some("solved"));
        assert_eq!(b(&t, "is_closed", 0), Some(true));
        assert_eq!(s(&t, "priority", 0).as_deref(), Some("high"));
        assert_eq!(s(&t, "owner_id", 0).as_deref(), Some("375925"));
        assert_eq!(i(&t, "created_at", 0), Some(ts("2026-08-01T14:00:00Z")));
        assert_eq!(i(&t, "closed_at", 0), Some(ts("2026-08-02T08:59:00Z")));
        assert_eq!(i(&t, "updated_at", 0), Some(ts("2026-08-02T09:00:00Z")));
        assert_eq!(b(&t, "is_deleted", 0), Some(false));
        assert_eq!(i(&t, "_source_line", 1), Some(2));
    }

    #[test]
    fn event_webhooks_hold_a_ticket() {
        let event = r#"{"account_id":1,"detail":{"id":"5","created_at":"2026-08-01T14:00:00Z","updated_at":"2026-08-01T14:05:00Z","status":"OPEN","priority":"LOW","type":"TASK","subject":"Help","requester_id":"7","via":{"channel":"web_service"}},"event":{"current":"OPEN","previous":"NEW"},"id":"e1","subject":"zen:ticket:5","time":"2026-08-01T14:05:00Z","type":"zen:event-type:ticket.status_changed","zendesk_event_version":"2022-11-06"}"#;
        let user_event = r#"{"detail":{"id":"7"},"type":"zen:event-type:user.created"}"#;
        let input = format!("{event}\n{user_event}\n");
        let (stats, sink) = run_ok(SourceFormat::Zendesk, input.as_bytes());
        assert_eq!((stats.rows_read, stats.rows_staged), (1, 1));
        assert!(
            stats
                .warnings
                .keys()
                .any(|w| w.contains("'zen:event-type:user.created'"))
        );
        let t = sink.table(StagingTable::Cases);
        assert_eq!(s(&t, "status", 0).as_deref(), Some("open"));
        assert_eq!(s(&t, "type", 0).as_deref(), Some("task"));
        assert_eq!(b(&t, "is_closed", 0), Some(false));
    }

    #[test]
    fn ratings_answers_and_invitations() {
        let page = r#"{"satisfaction_ratings":[
{"id":1,"assignee_id":9,"requester_id":7,"ticket_id":101,"score":"good","comment":"Thanks","created_at":"2026-08-02T09:00:00Z","updated_at":"2026-08-02T10:00:00Z"},
{"id":2,"assignee_id":9,"requester_id":7,"ticket_id":102,"score":"bad","comment":null,"created_at":"2026-08-02T09:00:00Z","updated_at":"2026-08-02T11:00:00Z","reason":"Issue not resolved"},
{"id":3,"assignee_id":9,"requester_id":8,"ticket_id":103,"score":"offered","created_at":"2026-08-02T09:00:00Z","updated_at":"2026-08-02T09:00:00Z"},
{"id":4,"requester_id":8,"ticket_id":104,"score":"unoffered","created_at":"2026-08-02T09:00:00Z"},
{"id":5,"requester_id":8,"ticket_id":105,"score":"great","created_at":"2026-08-02T09:00:00Z"},
{"requester_id":8,"ticket_id":106,"score":"good","updated_at":"2026-08-02T09:00:00Z"}
],"users":[{"id":7,"email":"jane@example.com"}],"next_page":null,"count":6}"#;
        let (stats, sink) = run_ok(SourceFormat::Zendesk, page.as_bytes());
        assert_eq!(
            (stats.rows_read, stats.rows_staged, stats.rows_rejected),
            (6, 4, 2)
        );
        let a = sink.table(StagingTable::SurveyResponses);
        assert_eq!(a.num_rows(), 2);
        assert_eq!(f(&a, "score", 0), Some(1.0));
        assert_eq!(f(&a, "score", 1), Some(0.0));
        assert_eq!(
            (i(&a, "scale_min", 0), i(&a, "scale_max", 0)),
            (Some(0), Some(1))
        );
        assert_eq!(
            s(&a, "customer_email", 0).as_deref(),
            Some("jane@example.com")
        );
        assert_eq!(s(&a, "respondent_id", 0).as_deref(), Some("7"));
        assert_eq!(s(&a, "interaction_channel", 0).as_deref(), Some("case"));
        assert_eq!(s(&a, "interaction_id", 0).as_deref(), Some("101"));
        assert_eq!(i(&a, "offered_at", 0), Some(ts("2026-08-02T09:00:00Z")));
        assert_eq!(i(&a, "responded_at", 0), Some(ts("2026-08-02T10:00:00Z")));
        let inv = sink.table(StagingTable::SurveyInvitations);
        assert_eq!(inv.num_rows(), 2);
        assert_eq!(s(&inv, "status", 0).as_deref(), Some("offered"));
        assert_eq!(i(&inv, "offered_at", 0), Some(ts("2026-08-02T09:00:00Z")));
        assert_eq!(s(&inv, "status", 1).as_deref(), Some("unoffered"));
        assert_eq!(i(&inv, "offered_at", 1), None);
        let r: Vec<_> = sink
            .rejects
            .iter()
            .map(|r| (r.line, r.reason.as_str()))
            .collect();
        assert!(
            r[0].1
                .starts_with("record /satisfaction_ratings/4: field 'score': expected good, bad")
        );
        assert!(
            r[1].1
                .starts_with("record /satisfaction_ratings/5: field 'id': missing")
        );
        assert_eq!((r[0].0, r[1].0), (6, 7));
    }

    #[test]
    fn chats_with_history() {
        let chat = r#"{"type":"chat","id":"2310.1.Ab","timestamp":"2026-08-01T14:00:00Z","end_timestamp":"2026-08-01T14:10:00Z","update_timestamp":"2026-08-01T14:11:00Z","visitor":{"id":"3.456","name":"Jane","email":"jane@example.com","phone":"+13125550143","notes":""},"session":{"start_date":"2026-08-01T13:58:00Z","end_date":"2026-08-01T14:10:00Z"},"agent_ids":["375925"],"agent_names":["Sam"],"department_id":12,"tags":["billing","refund"],"rating":"good","comment":"quick","webpath":[{"from":"","to":"https://ex.com/","timestamp":"2026-08-01T13:58:00Z"},{"from":"https://ex.com/","to":"https://ex.com/help","timestamp":"2026-08-01T13:59:00Z"}],"history":[
 {"name":"Jane","nick":"visitor:3.456","type":"chat.msg","msg":"I was charged twice","timestamp":"2026-08-01T14:00:05Z","msg_id":"m1"},
 {"name":"Sam","nick":"agent:375925","type":"chat.memberjoin","timestamp":"2026-08-01T14:00:20Z"},
 {"name":"Sam","nick":"agent:375925","type":"chat.msg","msg":"Let me check","timestamp":"2026-08-01T14:00:30Z","msg_id":"m2"},
 {"name":"Jane","sender_type":"Visitor","type":"chat.msg","msg":"ok","timestamp":"2026-08-01T14:01:00Z"},
 {"name":"Sam","sender_type":"Agent","type":"chat.msg","msg":"Done","timestamp":"2026-08-01T14:02:00Z"},
 {"name":"Jane","type":"chat.rating","new_rating":"good","timestamp":"2026-08-01T14:03:00Z"}]}"#;
        let input = format!("[{chat}]");
        let (stats, sink) = run_ok(SourceFormat::Zendesk, input.as_bytes());
        assert_eq!((stats.rows_read, stats.rows_staged), (1, 1));
        let t = sink.table(StagingTable::Chats);
        assert_eq!(s(&t, "chat_id", 0).as_deref(), Some("2310.1.Ab"));
        assert_eq!(i(&t, "started_at", 0), Some(ts("2026-08-01T14:00:00Z")));
        assert_eq!(i(&t, "ended_at", 0), Some(ts("2026-08-01T14:10:00Z")));
        assert_eq!(s(&t, "customer_user_id", 0).as_deref(), Some("3.456"));
        assert_eq!(s(&t, "customer_phone", 0).as_deref(), Some("+13125550143"));
        assert_eq!(s(&t, "agent_id", 0).as_deref(), Some("375925"));
        // The agent of agent_ids and the one named "Sam" by sender_type are one and the same
        // only when ids match: "Sam" (no nick) counts as a second author id.
        assert_eq!(i(&t, "agent_count", 0), Some(2));
        assert_eq!(i(&t, "group_id", 0), Some(12));
        assert_eq!(s(&t, "tags", 0).as_deref(), Some("billing,refund"));
        assert_eq!(
            i(&t, "first_customer_message_at", 0),
            Some(ts("2026-08-01T14:00:05Z"))
        );
        assert_eq!(
            i(&t, "first_agent_message_at", 0),
            Some(ts("2026-08-01T14:00:30Z"))
        );
        assert_eq!(i(&t, "customer_message_count", 0), Some(2));
        assert_eq!(i(&t, "agent_message_count", 0), Some(2));
        assert_eq!(i(&t, "rating_score", 0), Some(1));
        assert_eq!(s(&t, "rating_comment", 0).as_deref(), Some("quick"));
        assert_eq!(
            i(&t, "visit_started_at", 0),
            Some(ts("2026-08-01T13:58:00Z"))
        );
        assert_eq!(
            s(&t, "last_page_url", 0).as_deref(),
            Some("https://ex.com/help")
        );
        let m = sink.table(StagingTable::ChatMessages);
        assert_eq!(m.num_rows(), 6);
        assert_eq!(s(&m, "event_id", 0).as_deref(), Some("m1"));
        assert_eq!(s(&m, "event_id", 1).as_deref(), Some("2310.1.Ab#2"));
        assert_eq!(s(&m, "author_id", 0).as_deref(), Some("3.456"));
        assert_eq!(s(&m, "author_type", 2).as_deref(), Some("agent"));
        // The rating entry names the visitor: hers, though not a message.
        assert_eq!(s(&m, "author_type", 5).as_deref(), Some("customer"));
        assert_eq!(s(&m, "event_type", 5).as_deref(), Some("chat.rating"));
    }

    #[test]
    fn bad_records_name_the_field_and_redeliveries_are_versions() {
        let later = TICKET.replace("2026-08-02T09:00:00Z", "2026-08-03T09:00:00Z");
        let input = [
            TICKET.to_owned(),
            TICKET.to_owned(),
            later,
            TICKET.replace("\"created_at\":\"2026-08-01T14:00:00Z\",", ""),
            TICKET
                .replace("\"via\":{", "\"via\":[{")
                .replace(",\"to\":{},\"rel\":null}}", ",\"to\":{},\"rel\":null}}]"),
            r#"{"name":"not a ticket"}"#.to_owned(),
            r#"{"id":"c1","type":"chat","timestamp":"2026-08-01T14:00:00Z","visitor":{},"history":[{"type":"chat.msg","msg":"hi"}]}"#
                .to_owned(),
            r#"{"id":"c2","type":"chat","timestamp":"2026-08-01T14:00:00Z","rating":"superb"}"#
                .to_owned(),
            "42".to_owned(),
        ]
        .join("\n");
        let (stats, sink) = run_ok(SourceFormat::Zendesk, input.as_bytes());
        assert_eq!(
            (
                stats.rows_read,
                stats.rows_staged,
                stats.rows_rejected,
                stats.duplicates
            ),
            (9, 2, 6, 1)
        );
        let r: Vec<_> = sink.rejects.iter().map(|r| r.reason.as_str()).collect();
        assert!(r[0].contains("field 'created_at': missing"), "{}", r[0]);
        assert!(r[1].contains("field 'via': expected an object"), "{}", r[1]);
        assert!(r[2].contains("not a Zendesk ticket, satisfaction rating or chat"));
        assert!(
            r[3].contains("history[0]: field 'timestamp': missing"),
            "{}",
            r[3]
        );
        assert!(
            r[4].contains("field 'rating': expected good, bad"),
            "{}",
            r[4]
        );
        assert!(r[5].contains("a JSON number where a JSON object was expected"));
    }
}
