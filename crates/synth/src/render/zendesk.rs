//! Zendesk, as its APIs return it:
//!
//! - `zendesk/support/tickets/tickets-<date>.json`: the time-based incremental ticket export
//!   (`/api/v2/incremental/tickets.json?include=users,metric_sets`), one compact page per line:
//!   `{"tickets": [...], "users": [...], "count", "end_of_stream", "next_page", "end_time"}`.
//!   A ticket is in the export of every day it changed: created one day and solved another, it
//!   is there twice, the first time as it was then (a later version follows). The requesters
//!   are sideloaded after the tickets, with their CRM contact id in `external_id`.
//! - `zendesk/support/satisfaction_ratings/ratings-<date>.json`: pretty-printed
//!   `/api/v2/satisfaction_ratings` pages of the ratings offered that day, as they stand at the
//!   end of the window (`offered`, or the answer `good` / `bad`).
//! - `zendesk/chat/chats-<date>.json`: pretty-printed pages of the Chat API's incremental export
//!   (`{"chats": [...], "count", "end_id", "end_time", "next_page"}`), with the chat's history.
//!
//! Times are whole seconds (`2026-08-01T14:22:31Z`). Ids: tickets are the Salesforce-style case
//! numbers without their zeros, users `361000000000 + customer index`, agents `360000 + agent
//! index`.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::{Value, json};

use crate::SynthError;
use crate::model::{Author, CaseRec, CaseSystem, Chat, ChatSystem, ChunkRecords, Person};
use crate::time::{Frac, SEC, date_of_day, day_number, iso_utc};
use crate::world::World;

use super::{Rendered, to_json, to_json_pretty};

const SUBDOMAIN: &str = "https://example.zendesk.com/api/v2";

fn secs(us: i64) -> String {
    iso_utc(us.div_euclid(SEC) * SEC, Frac::Secs)
}

/// The Zendesk user id of a customer.
fn user_id(customer: u64) -> u64 {
    361_000_000_000 + customer
}

/// The Zendesk agent id of an agent.
fn agent_id(agent: usize) -> u64 {
    360_000 + agent as u64
}

pub(super) fn zendesk(
    world: &World,
    recs: &ChunkRecords,
    out: &mut Rendered,
) -> Result<(), SynthError> {
    let persons: HashMap<u64, &Person> = recs.persons.iter().map(|p| (p.index, p)).collect();
    let agent_of_user: HashMap<&str, usize> = world
        .agents
        .iter()
        .enumerate()
        .map(|(i, a)| (a.user_id.as_str(), i))
        .collect();
    tickets(recs, &persons, &agent_of_user, out)?;
    ratings(recs, &agent_of_user, out)?;
    chats(world, recs, out)
}

/// A ticket's status as Zendesk names it.
fn status(c: &CaseRec, solved: bool) -> &'static str {
    if solved {
        return "solved";
    }
    match c.status {
        "New" => "new",
        "Escalated" => "open",
        _ => "open",
    }
}

fn ticket_json(c: &CaseRec, agent: Option<usize>, updated: i64, solved: bool) -> Value {
    let id: u64 = c.id.parse().unwrap_or(0);
    let satisfaction = match (&c.csat, solved) {
        (Some(r), true) if r.offered_us <= updated => json!({"score": "offered", "id": r.id}),
        _ => json!({"score": "unoffered"}),
    };
    let priority = match c.priority {
        "Low" => "low",
        "High" if c.escalated => "urgent",
        "High" => "high",
        _ => "normal",
    };
    json!({
        "url": format!("{SUBDOMAIN}/tickets/{id}.json"),
        "id": id,
        "external_id": null,
        "via": {"channel": "chat", "source": {"from": {}, "to": {}, "rel": "zopim_chat"}},
        "created_at": secs(c.created_us),
        "updated_at": secs(updated),
        "generated_timestamp": updated.div_euclid(SEC),
        "type": if c.case_type == "Question" { "question" } else { "problem" },
        "subject": c.subject,
        "raw_subject": c.subject,
        "description": c.subject,
        "priority": priority,
        "status": status(c, solved),
        "recipient": null,
        "requester_id": user_id(c.customer),
        "submitter_id": user_id(c.customer),
        "assignee_id": agent.map(agent_id),
        "organization_id": null,
        "group_id": 20_001_662,
        "collaborator_ids": [],
        "follower_ids": [],
        "problem_id": null,
        "has_incidents": false,
        "is_public": true,
        "due_at": null,
        "tags": [c.reason.to_lowercase().replace(' ', "_")],
        "custom_fields": [],
        "satisfaction_rating": satisfaction,
        "brand_id": 5446,
        "metric_set": {
            "ticket_id": id,
            "created_at": secs(c.created_us),
            "solved_at": solved.then(|| secs(c.closed_us.unwrap_or(updated))),
            "reopens": 0,
            "replies": 1,
        },
    })
}

fn user_json(p: &Person, c: &CaseRec) -> Value {
    json!({
        "id": user_id(p.index),
        "url": format!("{SUBDOMAIN}/users/{}.json", user_id(p.index)),
        "name": format!("{} {}", p.first, p.last),
        "email": p.email,
        "phone": null,
        "role": "end-user",
        "external_id": c.contact_id,
        "verified": true,
    })
}

fn tickets(
    recs: &ChunkRecords,
    persons: &HashMap<u64, &Person>,
    agent_of_user: &HashMap<&str, usize>,
    out: &mut Rendered,
) -> Result<(), SynthError> {
    // (day, updated, ticket, requester) of every export entry.
    let mut entries: Vec<(i64, i64, Value, Value)> = Vec::new();
    for c in recs
        .cases
        .iter()
        .filter(|c| c.system == CaseSystem::Zendesk && !c.deleted)
    {
        let Some(p) = persons.get(&c.customer) else {
            continue;
        };
        let agent = agent_of_user.get(c.owner.as_str()).copied();
        let final_solved = c.closed_us.is_some();
        let updated = c.modified_us;
        let created_day = day_number(c.created_us);
        if day_number(updated) != created_day {
            // The export of the day it was raised holds the ticket as it was then.
            let first = CaseRec {
                status: "New",
                ..c.clone()
            };
            entries.push((
                created_day,
                c.created_us,
                ticket_json(&first, agent, c.created_us, false),
                user_json(p, c),
            ));
        }
        entries.push((
            day_number(updated),
            updated,
            ticket_json(c, agent, updated, final_solved),
            user_json(p, c),
        ));
    }
    entries.sort_by_key(|e| (e.0, e.1));
    let mut by_day: BTreeMap<i64, Vec<(i64, Value, Value)>> = BTreeMap::new();
    for (day, updated, t, u) in entries {
        by_day.entry(day).or_default().push((updated, t, u));
    }
    for (day, list) in by_day {
        let part = out.part(&format!(
            "zendesk/support/tickets/tickets-{}.json",
            date_of_day(day)
        ));
        let pages: Vec<_> = list.chunks(1000).collect();
        for (i, page) in pages.iter().enumerate() {
            let end_time = page.last().map(|e| e.0.div_euclid(SEC)).unwrap_or(0);
            let mut users: Vec<&Value> = Vec::new();
            for (_, _, u) in page.iter() {
                if !users.contains(&u) {
                    users.push(u);
                }
            }
            let body = json!({
                "tickets": page.iter().map(|e| &e.1).collect::<Vec<_>>(),
                "users": users,
                "count": page.len(),
                "end_of_stream": i + 1 == pages.len(),
                "next_page": format!("{SUBDOMAIN}/incremental/tickets.json?include=users%2Cmetric_sets&start_time={end_time}"),
                "end_time": end_time,
            });
            let bytes = to_json("Zendesk tickets page", &body)?;
            part.push_record(&bytes, b"\n");
            part.records += page.len() as u64 - 1;
        }
    }
    Ok(())
}

/// The ticket export of a UTC day on which no ticket changed: the one empty page the export
/// job saved (`end_of_stream`, no tickets). Its path, and its bytes (no record).
pub(crate) fn zendesk_empty_day(day: i64) -> Result<(String, super::Part), SynthError> {
    let end_time = (day + 1) * 86_400;
    let body = json!({
        "tickets": [],
        "users": [],
        "count": 0,
        "end_of_stream": true,
        "next_page": format!("{SUBDOMAIN}/incremental/tickets.json?include=users%2Cmetric_sets&start_time={end_time}"),
        "end_time": end_time,
    });
    Ok((
        format!("zendesk/support/tickets/tickets-{}.json", date_of_day(day)),
        super::Part::empty_page("Zendesk tickets page", &body)?,
    ))
}

fn ratings(
    recs: &ChunkRecords,
    agent_of_user: &HashMap<&str, usize>,
    out: &mut Rendered,
) -> Result<(), SynthError> {
    let mut by_day: BTreeMap<i64, Vec<(i64, Value)>> = BTreeMap::new();
    for c in recs
        .cases
        .iter()
        .filter(|c| c.system == CaseSystem::Zendesk)
    {
        let Some(r) = &c.csat else { continue };
        let agent = agent_of_user.get(c.owner.as_str()).copied().map(agent_id);
        let (score, updated, comment) = match r.answer {
            Some((good, at, comment)) => (if good { "good" } else { "bad" }, at, comment),
            None => ("offered", r.offered_us, None),
        };
        let ticket: u64 = c.id.parse().unwrap_or(0);
        by_day.entry(day_number(r.offered_us)).or_default().push((
            r.offered_us,
            json!({
                "url": format!("{SUBDOMAIN}/satisfaction_ratings/{}.json", r.id),
                "id": r.id,
                "assignee_id": agent,
                "group_id": 20_001_662,
                "requester_id": user_id(c.customer),
                "ticket_id": ticket,
                "score": score,
                "created_at": secs(r.offered_us),
                "updated_at": secs(updated),
                "comment": comment,
            }),
        ));
    }
    for (day, mut list) in by_day {
        list.sort_by_key(|e| e.0);
        let page = json!({
            "satisfaction_ratings": list.iter().map(|e| &e.1).collect::<Vec<_>>(),
            "next_page": null,
            "previous_page": null,
            "count": list.len(),
        });
        let part = out.part(&format!(
            "zendesk/support/satisfaction_ratings/ratings-{}.json",
            date_of_day(day)
        ));
        part.push_record(&to_json_pretty("Zendesk ratings page", &page)?, b"\n");
        part.records += list.len() as u64 - 1;
    }
    Ok(())
}

#[derive(Serialize)]
struct HistoryEntry<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    msg: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    msg_id: Option<String>,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    new_rating: Option<&'static str>,
    nick: String,
    timestamp: String,
    #[serde(rename = "type")]
    kind: &'static str,
}

fn chat_json(world: &World, chat: &Chat, ticket: Option<u64>) -> Value {
    let agent = chat.agent;
    let agent_name = agent
        .and_then(|a| world.agents.get(a))
        .map(|a| a.first)
        .unwrap_or("Agent");
    let visitor_id = chat.exported_visitor_id();
    let mut history: Vec<HistoryEntry<'_>> = Vec::new();
    let mut joined = false;
    for (k, e) in chat.events.iter().enumerate() {
        let at = secs(e.at_us);
        match e.author {
            Author::Customer => history.push(HistoryEntry {
                msg: Some(&e.text),
                msg_id: Some(format!("{}", e.at_us / SEC * 100 + k as i64)),
                name: &chat.name,
                new_rating: None,
                nick: format!("visitor:{visitor_id}"),
                timestamp: at,
                kind: "chat.msg",
            }),
            Author::Agent => {
                let nick = format!("agent:{}", agent.map(agent_id).unwrap_or(0));
                if !joined {
                    joined = true;
                    history.push(HistoryEntry {
                        msg: None,
                        msg_id: None,
                        name: agent_name,
                        new_rating: None,
                        nick: nick.clone(),
                        timestamp: at.clone(),
                        kind: "chat.memberjoin",
                    });
                }
                history.push(HistoryEntry {
                    msg: Some(&e.text),
                    msg_id: Some(format!("{}", e.at_us / SEC * 100 + k as i64)),
                    name: agent_name,
                    new_rating: None,
                    nick,
                    timestamp: at,
                    kind: "chat.msg",
                });
            }
            Author::System => history.push(HistoryEntry {
                msg: None,
                msg_id: None,
                name: &chat.name,
                new_rating: chat.rating.map(|(r, _)| if r > 0 { "good" } else { "bad" }),
                nick: format!("visitor:{visitor_id}"),
                timestamp: at,
                kind: "chat.rating",
            }),
        }
    }
    let visitor_messages = chat
        .events
        .iter()
        .filter(|e| e.author == Author::Customer)
        .count();
    let agent_messages = chat
        .events
        .iter()
        .filter(|e| e.author == Author::Agent)
        .count();
    let end = chat.last_event_us();
    json!({
        "id": chat.chat_id,
        "type": "chat",
        "timestamp": secs(chat.created_us),
        "end_timestamp": secs(end),
        "update_timestamp": secs(end + 5 * SEC),
        "duration": (end - chat.created_us) / SEC,
        "started_by": "visitor",
        "visitor": {
            "id": visitor_id,
            "name": chat.name,
            "email": chat.email.clone().unwrap_or_default(),
            "phone": "",
            "notes": "",
        },
        "session": {
            "browser": "Chrome",
            "city": "Chicago",
            "country_code": "US",
            "country_name": "United States",
            "start_date": secs(chat.visit_started_us),
            "end_date": secs(end),
            "id": format!("{}.{}.{}", chat.visit_started_us / SEC, 654_464, &chat.visitor_id[9..13]),
            "platform": "Mac OS",
            "region": "Illinois",
            "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
        },
        "department_id": 12,
        "department_name": "Support",
        "agent_ids": agent.map(|a| vec![agent_id(a).to_string()]).unwrap_or_default(),
        "agent_names": agent.map(|_| vec![agent_name]).unwrap_or_default(),
        "count": {"visitor": visitor_messages, "agent": agent_messages, "total": visitor_messages + agent_messages},
        "response_time": chat.first_response_secs.map(|f| json!({"first": f.round() as i64, "avg": f, "max": f.round() as i64})),
        "missed": chat.missed,
        "unread": false,
        "deleted": false,
        "history": history,
        "tags": chat.tags,
        "rating": chat.rating.map(|(r, _)| if r > 0 { "good" } else { "bad" }),
        "comment": chat.rating.and_then(|(_, c)| c),
        "webpath": chat.last_pages.iter().map(|(t, url, title)| json!({"from": "", "to": url, "timestamp": secs(*t), "title": title})).collect::<Vec<_>>(),
        "zendesk_ticket_id": ticket,
        "triggered": false,
        "triggered_response": false,
    })
}

fn chats(world: &World, recs: &ChunkRecords, out: &mut Rendered) -> Result<(), SynthError> {
    // The ticket each chat was handed to: the case raised at the chat's end for its customer.
    let mut by_day: BTreeMap<i64, Vec<(i64, &Chat)>> = BTreeMap::new();
    for c in recs
        .chats
        .iter()
        .filter(|c| c.system == ChatSystem::ZendeskChat)
    {
        by_day
            .entry(day_number(c.created_us))
            .or_default()
            .push((c.created_us, c));
    }
    let tickets: HashMap<(u64, i64), u64> = recs
        .cases
        .iter()
        .filter(|c| c.system == CaseSystem::Zendesk)
        .map(|c| ((c.customer, c.created_us), c.id.parse().unwrap_or(0)))
        .collect();
    for (day, mut list) in by_day {
        list.sort_by(|a, b| (a.0, &a.1.chat_id).cmp(&(b.0, &b.1.chat_id)));
        let mut chats = Vec::with_capacity(list.len());
        for (_, c) in &list {
            let ticket = c
                .customer
                .and_then(|cu| tickets.get(&(cu, c.last_event_us())).copied());
            chats.push(chat_json(world, c, ticket));
        }
        let last = list.last().map(|(_, c)| c);
        let end_time = last.map(|c| c.created_us / SEC).unwrap_or(0);
        let page = json!({
            "chats": chats,
            "count": list.len(),
            "end_id": last.map(|c| c.chat_id.as_str()),
            "end_time": end_time,
            "next_page": format!("{SUBDOMAIN}/chat/incremental/chats?fields=chats%28%2A%29&limit=1000&start_time={end_time}"),
        });
        let part = out.part(&format!("zendesk/chat/chats-{}.json", date_of_day(day)));
        part.push_record(&to_json_pretty("Zendesk Chat page", &page)?, b"\n");
        part.records += list.len() as u64 - 1;
    }
    Ok(())
}
