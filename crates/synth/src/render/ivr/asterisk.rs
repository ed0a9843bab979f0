//! Asterisk: `cdr_csv` call detail records (`Master.csv`) and the queue log.

use std::fmt::Write as _;

use crate::catalog::Intent;
use crate::model::{Call, ChunkRecords, IvrExit, Leg, VisitOutcome};
use crate::render::{Part, Rendered, paths};
use crate::sim::ASTERISK_QUEUE_TIMEOUT_SECS;
use crate::time::{DAY, SEC, asterisk_local};
use crate::world::{System, World};

/// `cdr_csv` string field: double-quoted, `"` doubled.
fn q(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
}

fn secs(us: i64) -> i64 {
    us.div_euclid(SEC)
}

/// The Asterisk context of an IVR menu depth.
fn ivr_context(call: &Call, depth: usize) -> String {
    if depth == 0 {
        "ivr-main".to_owned()
    } else {
        format!("ivr-{}", call.intent.name())
    }
}

fn cdr_row(call: &Call, leg_index: usize, leg: &Leg) -> String {
    let mut r = String::with_capacity(400);
    let is_first = leg_index == 0;
    let queue_intent = leg.queue.as_ref().map(|v| v.intent);
    let (dst, dcontext, lastapp, lastdata) = match (queue_intent, call.ivr_exit) {
        (Some(intent), _) => {
            if leg.voicemail {
                (
                    intent.extension().to_owned(),
                    "queues".to_owned(),
                    "VoiceMail",
                    "7000@default,u".to_owned(),
                )
            } else {
                (
                    intent.extension().to_owned(),
                    "queues".to_owned(),
                    "Queue",
                    format!("{},tT,,,{}", intent.name(), ASTERISK_QUEUE_TIMEOUT_SECS),
                )
            }
        }
        (None, IvrExit::Contained) => (
            "s".to_owned(),
            ivr_context(call, 1),
            "Hangup",
            String::new(),
        ),
        (None, IvrExit::HungUp(depth)) => {
            let ctx = ivr_context(call, depth);
            let data = if depth >= 2 {
                format!("custom/selfservice-{}", call.topic)
            } else {
                format!("custom/menu-{}", ctx.trim_start_matches("ivr-"))
            };
            ("s".to_owned(), ctx, "BackGround", data)
        }
        (None, IvrExit::Queued) => (
            "s".to_owned(),
            "ivr-main".to_owned(),
            "Hangup",
            String::new(),
        ),
    };
    let clid = if call.presented.is_empty() {
        String::new()
    } else {
        format!("\"{}\" <{}>", call.caller_name, call.presented)
    };
    let dstchannel = leg
        .agent
        .as_ref()
        .map(|a| a.agent_channel.as_str())
        .unwrap_or("");
    let answer = leg.answer_us.map(asterisk_local).unwrap_or_default();
    let duration = secs(leg.end_us) - secs(leg.start_us);
    let billsec = leg
        .answer_us
        .map(|a| secs(leg.end_us) - secs(a))
        .unwrap_or(0);
    let disposition = if leg.answer_us.is_some() {
        "ANSWERED"
    } else {
        "NO ANSWER"
    };
    let userfield = if is_first {
        format!("ivr_path={};ivr_errors={}", call.ivr_path, call.ivr_errors)
    } else {
        String::new()
    };
    q(&mut r, "");
    r.push(',');
    q(&mut r, &call.presented);
    r.push(',');
    q(&mut r, &dst);
    r.push(',');
    q(&mut r, &dcontext);
    r.push(',');
    q(&mut r, &clid);
    r.push(',');
    q(&mut r, &leg.channel);
    r.push(',');
    q(&mut r, dstchannel);
    r.push(',');
    q(&mut r, lastapp);
    r.push(',');
    q(&mut r, &lastdata);
    r.push(',');
    q(&mut r, &asterisk_local(leg.start_us));
    r.push(',');
    q(&mut r, &answer);
    r.push(',');
    q(&mut r, &asterisk_local(leg.end_us));
    let _ = write!(r, ",{duration},{billsec},");
    q(&mut r, disposition);
    r.push(',');
    q(&mut r, "DOCUMENTATION");
    r.push(',');
    q(&mut r, &leg.id);
    r.push(',');
    q(&mut r, &userfield);
    r.push(',');
    q(&mut r, "");
    r.push(',');
    q(&mut r, call.call_id());
    let _ = write!(r, ",{}", leg.cdr_sequence);
    r.push('\n');
    r
}

fn transfer_target_of(call: &Call, leg_index: usize) -> Option<Intent> {
    call.legs
        .get(leg_index + 1)
        .and_then(|l| l.queue.as_ref())
        .map(|v| v.intent)
}

pub(in crate::render) fn asterisk(world: &World, recs: &ChunkRecords, out: &mut Rendered) {
    let mut rows: Vec<(i64, &str, String)> = Vec::new();
    let mut qlog: Vec<(i64, &str, u8, String)> = Vec::new();
    let username = |agent: usize| {
        world
            .agents
            .get(agent)
            .map(|a| a.username.as_str())
            .unwrap_or("NONE")
    };
    for call in recs.calls.iter().filter(|c| c.system == System::Asterisk) {
        for (i, leg) in call.legs.iter().enumerate() {
            rows.push((leg.end_us, &leg.id, cdr_row(call, i, leg)));
            let Some(v) = &leg.queue else { continue };
            let qn = v.intent.name();
            let enq = secs(v.enqueued_us);
            let id = leg.id.as_str();
            qlog.push((
                enq,
                id,
                0,
                format!(
                    "{enq}|{id}|{qn}|NONE|ENTERQUEUE||{}|{}",
                    if call.presented.is_empty() {
                        "unknown"
                    } else {
                        &call.presented
                    },
                    v.orig_position
                ),
            ));
            for (agent, at, ms) in &v.ring_no_answer {
                let name = username(*agent);
                let t = secs(*at);
                qlog.push((t, id, 1, format!("{t}|{id}|{qn}|{name}|RINGNOANSWER|{ms}")));
            }
            let out_t = enq + v.wait_secs;
            match (v.outcome, &leg.agent) {
                (VisitOutcome::Answered, Some(a)) => {
                    let name = username(a.agent);
                    qlog.push((
                        out_t,
                        id,
                        2,
                        format!(
                            "{out_t}|{id}|{qn}|{name}|CONNECT|{}|{}|{}",
                            v.wait_secs, a.agent_uniqueid, v.ring_secs
                        ),
                    ));
                    let end = secs(a.end_us);
                    let calltime = end - out_t;
                    let line = if leg.transferred_out {
                        let ext = transfer_target_of(call, i)
                            .map(|t| t.extension())
                            .unwrap_or("7004");
                        format!(
                            "{end}|{id}|{qn}|{name}|TRANSFER|{ext}|queues|{}|{calltime}|{}",
                            v.wait_secs, v.orig_position
                        )
                    } else {
                        let ev = if a.caller_hung_up {
                            "COMPLETECALLER"
                        } else {
                            "COMPLETEAGENT"
                        };
                        format!(
                            "{end}|{id}|{qn}|{name}|{ev}|{}|{calltime}|{}",
                            v.wait_secs, v.orig_position
                        )
                    };
                    qlog.push((end, id, 3, line));
                }
                (VisitOutcome::Timeout, _) => qlog.push((
                    out_t,
                    id,
                    2,
                    format!(
                        "{out_t}|{id}|{qn}|NONE|EXITWITHTIMEOUT|{}|{}|{}",
                        v.position, v.orig_position, v.wait_secs
                    ),
                )),
                _ => qlog.push((
                    out_t,
                    id,
                    2,
                    format!(
                        "{out_t}|{id}|{qn}|NONE|ABANDON|{}|{}|{}",
                        v.position, v.orig_position, v.wait_secs
                    ),
                )),
            }
        }
    }
    rows.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    let p = out.part(paths::CDR);
    p.records = rows.len() as u64;
    for (_, _, r) in rows {
        p.data.extend_from_slice(r.as_bytes());
    }
    qlog.sort_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
    let p = out.part(paths::QUEUE_LOG);
    for (_, _, _, line) in qlog {
        p.push_line(line.as_bytes());
    }
}

/// System lines of the queue log for one day: QUEUESTART on the first day, agents joining
/// their queues in the morning, a lunch pause, and leaving at night (Chicago time).
pub(crate) fn queue_log_day(world: &World, day_index: u32) -> Part {
    let mut part = Part::default();
    let day_start = world.start_us + i64::from(day_index) * DAY;
    let mut lines: Vec<(i64, String)> = Vec::new();
    if day_index == 0 {
        let t = secs(day_start);
        lines.push((t, format!("{t}|NONE|NONE|NONE|QUEUESTART|")));
    }
    // 06:45 Chicago is 11:45 UTC (CDT) or 12:45 UTC (CST); being off by an hour in winter
    // only moves these system lines.
    let local_midnight = day_start + 5 * 3_600 * SEC;
    for (i, a) in world.agents.iter().enumerate() {
        if a.system != System::Asterisk {
            continue;
        }
        let login = secs(local_midnight) + 6 * 3_600 + 2_700 + (i as i64 % 17) * 60;
        let pause = login + 5 * 3_600 + (i as i64 % 7) * 300;
        let unpause = pause + 1_800;
        let logout = secs(local_midnight) + 22 * 3_600 + 900 + (i as i64 % 11) * 60;
        for intent in Intent::ALL {
            if !world.queue_agents(System::Asterisk, intent).contains(&i) {
                continue;
            }
            let qn = intent.name();
            let u = &a.username;
            lines.push((login, format!("{login}|NONE|{qn}|{u}|ADDMEMBER|")));
            lines.push((pause, format!("{pause}|NONE|{qn}|{u}|PAUSE|Lunch")));
            lines.push((unpause, format!("{unpause}|NONE|{qn}|{u}|UNPAUSE|")));
            lines.push((logout, format!("{logout}|NONE|{qn}|{u}|REMOVEMEMBER|")));
        }
    }
    lines.sort();
    for (_, l) in lines {
        part.push_line(l.as_bytes());
    }
    part
}
