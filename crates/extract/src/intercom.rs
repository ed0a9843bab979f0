//! Intercom (`intercom`): conversations with their parts → `stg_chats` (one row: a conversation
//! is its own thread) and `stg_chat_messages`; conversation ratings → `stg_survey_responses`;
//! `source_system = 'intercom'`.
//!
//! # Files
//!
//! Conversations as the REST API returns them: single conversations (`GET /conversations/{id}`,
//! pretty-printed or not), list pages (`{"type": "conversation.list", "conversations": [...],
//! "pages": {...}}`; only the list's elements are records), JSON lines or arrays of them, and
//! `notification_event` webhooks, whose conversation is at `data.item` (notifications about
//! other objects — `user.created`, `company.created` — hold no conversation and are counted as
//! a warning, not read). Both API shapes are read: 2.x (`source`, `contacts`,
//! `admin_assignee_id`, `team_assignee_id`) and 1.x (`conversation_message`, `user`,
//! `assignee`). A record with a `type` other than `conversation` is rejected. Times are Unix
//! seconds.
//!
//! A conversation delivered again is a duplicate unless its `updated_at` is later (then it is
//! staged too and the models keep the latest).
//!
//! # Mapping → `stg_chats`
//!
//! `chat_id` = `thread_id` = `id` (required); `started_at` = `created_at` (required);
//! `ended_at` = the latest part's `created_at` (the opening message's when there are none);
//! the customer is the first of `contacts.contacts` (2.x) or `user` (1.x), with the opening
//! message's author when it is a user: `customer_user_id` = its `id`, `customer_name` /
//! `customer_email` = `name` / `email` where given (the opening message's author first),
//! `crm_contact_id` = the contact's `external_id` (2.x) or the user's `user_id` (1.x, the id in
//! your own system); `agent_id` = the author of the first admin message; `agent_count` = the
//! distinct admins who wrote a message; `group_id` = `team_assignee_id`; `tags` = the names of
//! `tags.tags`, joined with `,`; `last_page_url` = the opening message's `url`.
//!
//! Messages are the opening message and the parts of type `comment` (and `open` parts that carry
//! a body: a customer reply that reopens the conversation); `note` parts are internal. Authors
//! of type `user`, `lead` and `contact` are the customer, `admin` and `team` agents, `bot` bots
//! (neither). `first_customer_message_at`, `first_agent_message_at`, `customer_message_count`,
//! `agent_message_count` count those messages. `rating_score` and `rating_comment` are null:
//! Intercom ratings are 1–5 answers (below), not thumbs.
//!
//! Per message and part → `stg_chat_messages`: the opening message as `event_type`
//! `conversation_message` (`event_id` = its `id`, else `<conversation id>#0`, at `created_at`),
//! each part with `event_id` = `id` (required), `created_at` (required), `event_type` =
//! `part_type`, `author_id` = `author.id`, `author_type` `customer` / `agent` / `bot`, `text` =
//! `body` (HTML as Intercom stores it), `visibility` `agents` for notes, else `all`.
//!
//! # Conversation ratings → `stg_survey_responses`
//!
//! A `conversation_rating` with a `rating` is one answer: `response_id` =
//! `conversation_rating:<conversation id>` (a conversation has one rating), `survey_name`
//! `Intercom conversation rating`, `instrument` `csat` on a 1–5 scale, `score` = `rating`
//! (1–5, else the conversation is rejected), `comment` = `remark`, `respondent_type`
//! `customer`, `respondent_id` = `contact.id` (else the customer's id), `customer_email` = the
//! customer's e-mail, `agent_id` = `teammate.id`, `interaction_channel` `chat`,
//! `interaction_id` = the conversation id, `responded_at` = the rating's `created_at` (else the
//! conversation's `updated_at`).

use std::io::BufRead;

use serde_json::{Map, Value};
use touchstone_core::StagingTable;

use crate::json::records::{Event, Layout, Unwrap, drift, read_records, take_path};
use crate::json::{get, kind, opt_arr, opt_int, opt_obj, opt_str, opt_unix};
use crate::state::UNVERSIONED;
use crate::table::TableBuilder;
use crate::{Ctx, ExtractError, Identity};

const LAYOUT: Layout = Layout {
    lists: &["conversations"],
    lookups: &[],
    unwrap: webhook,
};

const FIELDS: &[&str] = &[
    "type",
    "id",
    "created_at",
    "updated_at",
    "source",
    "conversation_message",
    "contacts",
    "user",
    "team_assignee_id",
    "tags",
    "conversation_parts",
    "conversation_rating",
];

/// An Intercom webhook (`{"type": "notification_event", "topic", "data": {"item"}}`) holds a
/// conversation at `data.item` when the item is one.
fn webhook(obj: Map<String, Value>) -> Unwrap {
    if obj.get("type").and_then(Value::as_str) != Some("notification_event") {
        return Unwrap::Plain(obj);
    }
    let topic = obj
        .get("topic")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_owned();
    match take_path(obj, &["data", "item"]) {
        Some(item) if item.get("type").and_then(Value::as_str) == Some("conversation") => {
            Unwrap::Record(item, "/data/item")
        }
        _ => Unwrap::Skip(format!(
            "Intercom notifications with topic '{topic}' carry no conversation; not read"
        )),
    }
}

pub(crate) fn read(ctx: &mut Ctx<'_, '_>, input: &mut dyn BufRead) -> Result<(), ExtractError> {
    let mut chats = ctx.builder(StagingTable::Chats)?;
    let mut messages = ctx.builder(StagingTable::ChatMessages)?;
    let mut ratings = ctx.builder(StagingTable::SurveyResponses)?;
    read_records(ctx, input, &LAYOUT, &mut |ctx, event| {
        let Event::Record(rec) = event else {
            return Ok(());
        };
        drift(ctx, &rec.obj, FIELDS, "Intercom conversation");
        let discard = |c: &mut TableBuilder, m: &mut TableBuilder, r: &mut TableBuilder| {
            c.discard();
            m.discard();
            r.discard();
        };
        match conversation(&rec.obj, rec.line, &mut chats, &mut messages, &mut ratings) {
            Ok(Ok(identity)) => {
                if ctx.is_duplicate(&identity) {
                    discard(&mut chats, &mut messages, &mut ratings);
                } else {
                    chats.commit(ctx.sink)?;
                    messages.commit(ctx.sink)?;
                    ratings.commit(ctx.sink)?;
                    ctx.staged_record(rec.raw);
                }
                Ok(())
            }
            Ok(Err(e)) => {
                discard(&mut chats, &mut messages, &mut ratings);
                Err(e)
            }
            Err(reason) => {
                discard(&mut chats, &mut messages, &mut ratings);
                ctx.reject(rec.line, rec.reason(reason), rec.raw)
            }
        }
    })?;
    chats.flush(ctx.sink)?;
    messages.flush(ctx.sink)?;
    ratings.flush(ctx.sink)
}

/// Who wrote a message, by Intercom's author type.
fn role(author_type: Option<&str>) -> Option<&'static str> {
    match author_type {
        Some("user" | "lead" | "contact") => Some("customer"),
        Some("admin" | "team") => Some("agent"),
        Some("bot") => Some("bot"),
        _ => None,
    }
}

/// An author object's id and type.
fn author_of(
    obj: &Map<String, Value>,
    path: &str,
) -> Result<(Option<String>, Option<String>), String> {
    match opt_obj(obj, "author", &format!("{path}author"))? {
        Some(a) => Ok((
            opt_str(a, "id", &format!("{path}author.id"))?.map(|s| s.into_owned()),
            opt_str(a, "type", &format!("{path}author.type"))?.map(|s| s.into_owned()),
        )),
        None => Ok((None, None)),
    }
}

/// What the messages add up to.
#[derive(Default)]
struct Summary {
    first_customer: Option<i64>,
    first_agent: Option<(i64, String)>,
    customers: i64,
    agents: i64,
    agent_ids: Vec<String>,
    last: Option<i64>,
}

impl Summary {
    fn message(&mut self, at: i64, role: Option<&str>, author: Option<&str>) {
        match role {
            Some("customer") => {
                self.customers += 1;
                self.first_customer = Some(self.first_customer.map_or(at, |f| f.min(at)));
            }
            Some("agent") => {
                self.agents += 1;
                let a = author.unwrap_or_default().to_owned();
                if self.first_agent.as_ref().is_none_or(|(t, _)| at < *t) {
                    self.first_agent = Some((at, a.clone()));
                }
                if !a.is_empty() && !self.agent_ids.contains(&a) {
                    self.agent_ids.push(a);
                }
            }
            _ => {}
        }
    }
}

/// Writes a conversation's rows (pending); the outer `Err` is a reject reason.
fn conversation(
    c: &Map<String, Value>,
    line: u64,
    chats: &mut TableBuilder,
    messages: &mut TableBuilder,
    ratings: &mut TableBuilder,
) -> Result<Result<Identity, ExtractError>, String> {
    if let Some(t) = opt_str(c, "type", "type")?
        && t != "conversation"
    {
        return Err(format!(
            "field 'type': expected an Intercom conversation (type 'conversation'), got {}",
            crate::input::shown(&t)
        ));
    }
    let id = opt_str(c, "id", "id")?
        .filter(|s| !s.is_empty())
        .map(|s| s.into_owned())
        .ok_or("field 'id': missing; expected the conversation id")?;
    let created = opt_unix(c, "created_at", "created_at")?
        .ok_or("field 'created_at': missing; expected Unix seconds like 1722522151")?;
    let updated = opt_unix(c, "updated_at", "updated_at")?;

    // The opening message: `source` (2.x) or `conversation_message` (1.x).
    let (opening, opening_key) = match opt_obj(c, "source", "source")? {
        Some(s) => (Some(s), "source"),
        None => (
            opt_obj(c, "conversation_message", "conversation_message")?,
            "conversation_message",
        ),
    };
    let (mut opening_id, mut opening_author, mut opening_type, mut body, mut url) =
        (None, None, None, None, None);
    let (mut author_name, mut author_email) = (None, None);
    if let Some(m) = opening {
        let path = format!("{opening_key}.");
        opening_id = opt_str(m, "id", &format!("{path}id"))?.map(|s| s.into_owned());
        (opening_author, opening_type) = author_of(m, &path)?;
        if let Some(a) = opt_obj(m, "author", &format!("{path}author"))? {
            author_name = opt_str(a, "name", &format!("{path}author.name"))?;
            author_email = opt_str(a, "email", &format!("{path}author.email"))?;
        }
        body = opt_str(m, "body", &format!("{path}body"))?;
        url = opt_str(m, "url", &format!("{path}url"))?;
    }
    let opening_role = role(opening_type.as_deref());

    // The customer: the first contact (2.x) or the user (1.x).
    let (mut customer_id, mut crm_id, mut name, mut email) = (None, None, None, None);
    if let Some(list) = opt_obj(c, "contacts", "contacts")?
        .map(|cs| opt_arr(cs, "contacts", "contacts.contacts"))
        .transpose()?
        .flatten()
        && let Some(Value::Object(first)) = list.first()
    {
        customer_id = opt_str(first, "id", "contacts.contacts[0].id")?;
        crm_id = opt_str(first, "external_id", "contacts.contacts[0].external_id")?;
        name = opt_str(first, "name", "contacts.contacts[0].name")?;
        email = opt_str(first, "email", "contacts.contacts[0].email")?;
    } else if let Some(u) = opt_obj(c, "user", "user")? {
        customer_id = opt_str(u, "id", "user.id")?;
        crm_id = opt_str(u, "user_id", "user.user_id")?;
        name = opt_str(u, "name", "user.name")?;
        email = opt_str(u, "email", "user.email")?;
    }
    if opening_role == Some("customer") {
        if customer_id.is_none() {
            customer_id = opening_author.clone().map(Into::into);
        }
        if author_name.is_some() {
            name = author_name;
        }
        if author_email.is_some() {
            email = author_email;
        }
    }
    let team = opt_int(c, "team_assignee_id", "team_assignee_id", "a team id")?;
    let tags = match opt_obj(c, "tags", "tags")? {
        Some(t) => match opt_arr(t, "tags", "tags.tags")? {
            Some(list) => {
                let names: Vec<&str> = list
                    .iter()
                    .filter_map(|t| t.get("name").and_then(Value::as_str))
                    .collect();
                (!names.is_empty()).then(|| names.join(","))
            }
            None => None,
        },
        None => None,
    };

    let mut sum = Summary::default();
    let mut write = |event_id: &str,
                     at: i64,
                     event_type: &str,
                     author: Option<&str>,
                     author_role: Option<&str>,
                     text: Option<&str>,
                     visibility: &str| {
        sum.last = Some(sum.last.map_or(at, |l| l.max(at)));
        messages.str("source_system", Some("intercom"));
        messages.str("chat_id", Some(&id));
        messages.str("thread_id", Some(&id));
        messages.str("event_id", Some(event_id));
        messages.ts("created_at", Some(at));
        messages.str("event_type", Some(event_type));
        messages.text("author_id", author);
        messages.text("author_type", author_role);
        messages.text("text", text);
        messages.str("visibility", Some(visibility));
        messages.end_row(line)
    };
    if opening.is_some() {
        let event_id = opening_id.unwrap_or_else(|| format!("{id}#0"));
        if let Err(e) = write(
            &event_id,
            created,
            "conversation_message",
            opening_author.as_deref(),
            opening_role,
            body.as_deref(),
            "all",
        ) {
            return Ok(Err(e));
        }
    }
    let mut counted: Vec<(i64, Option<&'static str>, Option<String>)> = Vec::new();
    if opening.is_some() {
        counted.push((created, opening_role, opening_author.clone()));
    }
    if let Some(parts) = opt_obj(c, "conversation_parts", "conversation_parts")?
        .map(|p| {
            opt_arr(
                p,
                "conversation_parts",
                "conversation_parts.conversation_parts",
            )
        })
        .transpose()?
        .flatten()
    {
        for (i, p) in parts.iter().enumerate() {
            let path = format!("conversation_parts[{i}].");
            let Value::Object(p) = p else {
                return Err(format!(
                    "field 'conversation_parts[{i}]': expected a part object, got a JSON {}",
                    kind(p)
                ));
            };
            let part_id = opt_str(p, "id", &format!("{path}id"))?
                .filter(|s| !s.is_empty())
                .ok_or_else(|| format!("field '{path}id': missing; expected the part's id"))?;
            let at = opt_unix(p, "created_at", &format!("{path}created_at"))?.ok_or_else(|| {
                format!("field '{path}created_at': missing; expected Unix seconds like 1722522151")
            })?;
            let part_type = opt_str(p, "part_type", &format!("{path}part_type"))?
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    format!("field '{path}part_type': missing; expected comment, note, close, ...")
                })?;
            let (author, author_type) = author_of(p, &path)?;
            let author_role = role(author_type.as_deref());
            let text = opt_str(p, "body", &format!("{path}body"))?;
            let is_message = part_type == "comment"
                || (part_type == "open" && text.as_deref().is_some_and(|t| !t.is_empty()));
            if is_message {
                counted.push((at, author_role, author.clone()));
            }
            let visibility = if part_type == "note" { "agents" } else { "all" };
            if let Err(e) = write(
                &part_id,
                at,
                &part_type,
                author.as_deref(),
                author_role,
                text.as_deref(),
                visibility,
            ) {
                return Ok(Err(e));
            }
        }
    }
    let ended = sum.last;
    for (at, r, author) in &counted {
        sum.message(*at, *r, author.as_deref());
    }

    // The rating.
    if let Some(r) = opt_obj(c, "conversation_rating", "conversation_rating")?
        && get(r, "rating").is_some()
    {
        let score = opt_int(
            r,
            "rating",
            "conversation_rating.rating",
            "a rating from 1 to 5",
        )?
        .filter(|s| (1..=5).contains(s))
        .ok_or_else(|| {
            format!(
                "field 'conversation_rating.rating': expected a rating from 1 to 5, got {}",
                r.get("rating").map(Value::to_string).unwrap_or_default()
            )
        })?;
        let remark = opt_str(r, "remark", "conversation_rating.remark")?;
        let rated_at = opt_unix(r, "created_at", "conversation_rating.created_at")?
            .or(updated)
            .ok_or(
                "field 'conversation_rating.created_at': missing; expected Unix seconds like \
                 1722522151",
            )?;
        let contact = match opt_obj(r, "contact", "conversation_rating.contact")? {
            Some(ct) => opt_str(ct, "id", "conversation_rating.contact.id")?,
            None => None,
        };
        let teammate = match opt_obj(r, "teammate", "conversation_rating.teammate")? {
            Some(t) => opt_str(t, "id", "conversation_rating.teammate.id")?,
            None => None,
        };
        ratings.str("source_system", Some("intercom"));
        ratings.str("response_id", Some(&format!("conversation_rating:{id}")));
        ratings.str("survey_name", Some("Intercom conversation rating"));
        ratings.str("instrument", Some("csat"));
        ratings.int("scale_min", Some(1));
        ratings.int("scale_max", Some(5));
        ratings.float("score", Some(score as f64));
        ratings.text("comment", remark.as_deref());
        ratings.str("respondent_type", Some("customer"));
        ratings.text(
            "respondent_id",
            contact.as_deref().or(customer_id.as_deref()),
        );
        ratings.text("customer_email", email.as_deref());
        ratings.str("customer_phone", None);
        ratings.text("agent_id", teammate.as_deref());
        ratings.str("interaction_channel", Some("chat"));
        ratings.str("interaction_id", Some(&id));
        ratings.ts("offered_at", None);
        ratings.ts("responded_at", Some(rated_at));
        ratings.str("response_status", Some("answered"));
        ratings.str("score_label", None);
        ratings.bool("reward_offered", None);
        if let Err(e) = ratings.end_row(line) {
            return Ok(Err(e));
        }
    }

    chats.str("source_system", Some("intercom"));
    chats.str("chat_id", Some(&id));
    chats.str("thread_id", Some(&id));
    chats.str("previous_thread_id", None);
    chats.ts("started_at", Some(created));
    chats.ts("ended_at", ended);
    chats.text("customer_user_id", customer_id.as_deref());
    chats.text("customer_name", name.as_deref());
    chats.text("customer_email", email.as_deref());
    chats.str("customer_phone", None);
    chats.text("crm_contact_id", crm_id.as_deref());
    chats.str("anonymous_id", None);
    chats.text(
        "agent_id",
        sum.first_agent.as_ref().map(|(_, a)| a.as_str()),
    );
    chats.int("agent_count", Some(sum.agent_ids.len() as i64));
    chats.int("group_id", team);
    chats.str("tags", tags.as_deref());
    chats.ts("queued_at", None);
    chats.int("queue_wait_secs", None);
    chats.ts("first_customer_message_at", sum.first_customer);
    chats.ts("first_agent_message_at", sum.first_agent.map(|(t, _)| t));
    chats.int("customer_message_count", Some(sum.customers));
    chats.int("agent_message_count", Some(sum.agents));
    chats.int("rating_score", None);
    chats.str("rating_comment", None);
    chats.ts("visit_started_at", None);
    chats.text("last_page_url", url.as_deref());
    if let Err(e) = chats.end_row(line) {
        return Ok(Err(e));
    }
    Ok(Ok(Identity {
        kind: "intercom_conversation",
        id,
        version: updated.unwrap_or(UNVERSIONED),
    }))
}

#[cfg(test)]
mod tests {
    use touchstone_core::SourceFormat;

    use super::*;
    use crate::testutil::*;

    /// A 2.x conversation: source, contacts, teammates, parts, a rating.
    const CONVERSATION: &str = r#"{"type":"conversation","id":"9001","created_at":1785592800,"updated_at":1785593700,"state":"closed","open":false,"source":{"type":"conversation","id":"src1","delivered_as":"customer_initiated","subject":"","body":"<p>I was charged twice</p>","author":{"type":"user","id":"u1","name":"Jane Doe","email":"jane@example.com"},"url":"https://ex.com/billing"},"contacts":{"type":"contact.list","contacts":[{"type":"contact","id":"u1","external_id":"003000000000001AAA"}]},"admin_assignee_id":42,"team_assignee_id":5,"tags":{"type":"tag.list","tags":[{"type":"tag","id":"1","name":"billing"}]},"conversation_parts":{"type":"conversation_part.list","conversation_parts":[
 {"type":"conversation_part","id":"p1","part_type":"assignment","body":null,"created_at":1785592810,"author":{"type":"bot","id":"b1"}},
 {"type":"conversation_part","id":"p2","part_type":"note","body":"<p>VIP</p>","created_at":1785592820,"author":{"type":"admin","id":"43"}},
 {"type":"conversation_part","id":"p3","part_type":"comment","body":"<p>Let me check</p>","created_at":1785592830,"author":{"type":"admin","id":"42","name":"Sam","email":"sam@ex.com"}},
 {"type":"conversation_part","id":"p4","part_type":"comment","body":"<p>ok</p>","created_at":1785592900,"author":{"type":"user","id":"u1"}},
 {"type":"conversation_part","id":"p5","part_type":"close","body":null,"created_at":1785593000,"author":{"type":"admin","id":"42"}}],"total_count":5},"conversation_rating":{"rating":4,"remark":"quick","created_at":1785593600,"contact":{"type":"contact","id":"u1"},"teammate":{"type":"admin","id":"42"}}}"#;

    #[test]
    fn conversations_parts_and_ratings() {
        let (stats, sink) = run_ok(SourceFormat::Intercom, CONVERSATION.as_bytes());
        assert_eq!((stats.rows_read, stats.rows_staged), (1, 1));
        let t = sink.table(StagingTable::Chats);
        assert_eq!(s(&t, "source_system", 0).as_deref(), Some("intercom"));
        assert_eq!(s(&t, "chat_id", 0).as_deref(), Some("9001"));
        assert_eq!(i(&t, "started_at", 0), Some(1_785_592_800_000_000));
        assert_eq!(i(&t, "ended_at", 0), Some(1_785_593_000_000_000));
        assert_eq!(s(&t, "customer_user_id", 0).as_deref(), Some("u1"));
        assert_eq!(s(&t, "customer_name", 0).as_deref(), Some("Jane Doe"));
        assert_eq!(
            s(&t, "customer_email", 0).as_deref(),
            Some("jane@example.com")
        );
        assert_eq!(
            s(&t, "crm_contact_id", 0).as_deref(),
            Some("003000000000001AAA")
        );
        assert_eq!(s(&t, "agent_id", 0).as_deref(), Some("42"));
        assert_eq!(i(&t, "agent_count", 0), Some(1));
        assert_eq!(i(&t, "group_id", 0), Some(5));
        assert_eq!(s(&t, "tags", 0).as_deref(), Some("billing"));
        assert_eq!(i(&t, "customer_message_count", 0), Some(2));
        assert_eq!(i(&t, "agent_message_count", 0), Some(1));
        assert_eq!(
            i(&t, "first_customer_message_at", 0),
            Some(1_785_592_800_000_000)
        );
        assert_eq!(
            i(&t, "first_agent_message_at", 0),
            Some(1_785_592_830_000_000)
        );
        assert_eq!(i(&t, "rating_score", 0), None);
        assert_eq!(
            s(&t, "last_page_url", 0).as_deref(),
            Some("https://ex.com/billing")
        );
        let m = sink.table(StagingTable::ChatMessages);
        assert_eq!(m.num_rows(), 6);
        assert_eq!(s(&m, "event_id", 0).as_deref(), Some("src1"));
        assert_eq!(
            s(&m, "event_type", 0).as_deref(),
            Some("conversation_message")
        );
        assert_eq!(s(&m, "author_type", 1).as_deref(), Some("bot"));
        assert_eq!(s(&m, "visibility", 2).as_deref(), Some("agents"));
        assert_eq!(s(&m, "author_type", 3).as_deref(), Some("agent"));
        assert_eq!(s(&m, "author_type", 4).as_deref(), Some("customer"));
        let r = sink.table(StagingTable::SurveyResponses);
        assert_eq!(r.num_rows(), 1);
        assert_eq!(
            s(&r, "response_id", 0).as_deref(),
            Some("conversation_rating:9001")
        );
        assert_eq!(f(&r, "score", 0), Some(4.0));
        assert_eq!(
            (i(&r, "scale_min", 0), i(&r, "scale_max", 0)),
            (Some(1), Some(5))
        );
        assert_eq!(s(&r, "comment", 0).as_deref(), Some("quick"));
        assert_eq!(
            s(&r, "customer_email", 0).as_deref(),
            Some("jane@example.com")
        );
        assert_eq!(s(&r, "agent_id", 0).as_deref(), Some("42"));
        assert_eq!(s(&r, "interaction_id", 0).as_deref(), Some("9001"));
        assert_eq!(i(&r, "responded_at", 0), Some(1_785_593_600_000_000));
    }

    #[test]
    fn bad_conversations_are_rejected_whole() {
        let input = [
            CONVERSATION.replace("\"rating\":4", "\"rating\":7"),
            CONVERSATION.replace("\"id\":\"9001\",", ""),
            CONVERSATION.replace("\"type\":\"conversation\",\"id\"", "\"type\":\"ticket\",\"id\""),
            CONVERSATION.replace(",\"created_at\":1785592830", ""),
            CONVERSATION.replace("\"created_at\":1785592800", "\"created_at\":\"yesterday\""),
            format!(
                r#"{{"type":"notification_event","topic":"conversation.user.replied","data":{{"type":"notification_event_data","item":{CONVERSATION}}}}}"#
            ),
            r#"{"type":"notification_event","topic":"contact.created","data":{"item":{"type":"contact","id":"x"}}}"#.to_owned(),
        ]
        .join("\n");
        let (stats, sink) = run_ok(SourceFormat::Intercom, input.as_bytes());
        assert_eq!(
            (stats.rows_read, stats.rows_staged, stats.rows_rejected),
            (6, 1, 5)
        );
        // Nothing of a rejected conversation leaked into any table.
        assert_eq!(sink.rows(StagingTable::Chats), 1);
        assert_eq!(sink.rows(StagingTable::ChatMessages), 6);
        assert_eq!(sink.rows(StagingTable::SurveyResponses), 1);
        // Each conversation above spans 6 lines: the webhook is the sixth record.
        assert_eq!(
            i(&sink.table(StagingTable::Chats), "_source_line", 0),
            Some(31)
        );
        let r: Vec<_> = sink.rejects.iter().map(|r| r.reason.as_str()).collect();
        assert!(r[0].contains("'conversation_rating.rating': expected a rating from 1 to 5"));
        assert!(r[1].contains("field 'id': missing"));
        assert!(r[2].contains("field 'type': expected an Intercom conversation"));
        assert!(
            r[3].contains("'conversation_parts[2].created_at': missing"),
            "{}",
            r[3]
        );
        assert!(
            r[4].contains("'created_at': expected Unix seconds"),
            "{}",
            r[4]
        );
        assert!(
            stats
                .warnings
                .keys()
                .any(|w| w.contains("'contact.created'"))
        );
    }
}
