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

/// The fields of one leg's CDR, whatever the layout they are written in.
struct CdrFields {
    src: String,
    dst: String,
    dcontext: String,
    /// Caller name and number, written as `"Name" <number>`.
    name: String,
    number: String,
    channel: String,
    dstchannel: String,
    lastapp: &'static str,
    lastdata: String,
    start: String,
    answer: String,
    end: String,
    duration: i64,
    billsec: i64,
    disposition: &'static str,
    uniqueid: String,
    userfield: String,
    linkedid: String,
    sequence: u64,
}

impl CdrFields {
    fn clid(&self, name: &str) -> String {
        if self.number.is_empty() {
            String::new()
        } else {
            format!("\"{name}\" <{}>", self.number)
        }
    }
}

fn cdr_fields(call: &Call, leg_index: usize, leg: &Leg) -> CdrFields {
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
            } else if call.branch {
                // The branch's queues have no timeout (queues.conf / Queue() option).
                (
                    intent.extension().to_owned(),
                    "queues".to_owned(),
                    "Queue",
                    format!("{},t", intent.name()),
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
    let dstchannel = leg
        .agent
        .as_ref()
        .map(|a| a.agent_channel.clone())
        .unwrap_or_default();
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
    CdrFields {
        src: call.presented.clone(),
        dst,
        dcontext,
        name: if call.presented.is_empty() {
            String::new()
        } else {
            call.caller_name.clone()
        },
        number: call.presented.clone(),
        channel: leg.channel.clone(),
        dstchannel,
        lastapp,
        lastdata,
        start: asterisk_local(leg.start_us),
        answer,
        end: asterisk_local(leg.end_us),
        duration,
        billsec,
        disposition,
        uniqueid: leg.id.clone(),
        userfield,
        linkedid: call.call_id().to_owned(),
        sequence: leg.cdr_sequence,
    }
}

/// Whether the carrier garbled this leg's caller name: about one main-site CDR in 150 carries
/// raw `0xA5` bytes in the name, as a real `Master.csv` in tests/fixtures/public/asterisk does.
/// The file is otherwise UTF-8, so these rows are repaired (U+FFFD) when read.
pub(crate) fn garbled_name(leg: &Leg) -> bool {
    crate::rng::text_fraction(&leg.id, 0xA5A5) < 1.0 / 150.0
}

/// Stands in for the garbled bytes until the row is turned into bytes.
const GARBLE: char = '\u{E0A5}';

/// A `cdr_csv` line of the main site (21 columns: loguniqueid, loguserfield, newcdrcolumns).
fn cdr_row(call: &Call, leg_index: usize, leg: &Leg) -> Vec<u8> {
    let f = cdr_fields(call, leg_index, leg);
    let name = if !f.name.is_empty() && garbled_name(leg) {
        format!("{}{GARBLE}{GARBLE}", f.name)
    } else {
        f.name.clone()
    };
    let mut r = String::with_capacity(400);
    q(&mut r, "");
    r.push(',');
    q(&mut r, &f.src);
    r.push(',');
    q(&mut r, &f.dst);
    r.push(',');
    q(&mut r, &f.dcontext);
    r.push(',');
    q(&mut r, &f.clid(&name));
    r.push(',');
    q(&mut r, &f.channel);
    r.push(',');
    q(&mut r, &f.dstchannel);
    r.push(',');
    q(&mut r, f.lastapp);
    r.push(',');
    q(&mut r, &f.lastdata);
    r.push(',');
    q(&mut r, &f.start);
    r.push(',');
    q(&mut r, &f.answer);
    r.push(',');
    q(&mut r, &f.end);
    let _ = write!(r, ",{},{},", f.duration, f.billsec);
    q(&mut r, f.disposition);
    r.push(',');
    q(&mut r, "DOCUMENTATION");
    r.push(',');
    q(&mut r, &f.uniqueid);
    r.push(',');
    q(&mut r, &f.userfield);
    r.push(',');
    q(&mut r, "");
    r.push(',');
    q(&mut r, &f.linkedid);
    let _ = write!(r, ",{}", f.sequence);
    r.push('\n');
    let mut bytes = Vec::with_capacity(r.len());
    let mut buf = [0u8; 4];
    for c in r.chars() {
        if c == GARBLE {
            bytes.push(0xA5);
        } else {
            bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
    bytes
}

/// The order of the branch PBX's `cdr_custom.conf` mapping: the sample's legacy mapping with
/// `${CDR(linkedid)}` added before the sequence. The pipeline's `columns:` lists the same.
pub(crate) const BRANCH_COLUMNS: [&str; 20] = [
    "clid",
    "src",
    "dst",
    "dcontext",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "start",
    "answer",
    "end",
    "duration",
    "billsec",
    "disposition",
    "amaflags",
    "accountcode",
    "uniqueid",
    "userfield",
    "linkedid",
    "sequence",
];

/// Caller names as the branch's carrier presents them: in Cyrillic (a letter-by-letter
/// transliteration), which the PBX writes in windows-1251.
fn cyrillic(name: &str) -> String {
    let mut out = String::with_capacity(name.len() * 2);
    for c in name.chars() {
        let t = match c.to_ascii_uppercase() {
            'A' => "А",
            'B' => "Б",
            'C' => "К",
            'D' => "Д",
            'E' => "Е",
            'F' => "Ф",
            'G' => "Г",
            'H' => "Х",
            'I' => "И",
            'J' => "Дж",
            'K' => "К",
            'L' => "Л",
            'M' => "М",
            'N' => "Н",
            'O' => "О",
            'P' => "П",
            'Q' => "К",
            'R' => "Р",
            'S' => "С",
            'T' => "Т",
            'U' => "У",
            'V' => "В",
            'W' => "В",
            'X' => "Кс",
            'Y' => "Й",
            'Z' => "З",
            _ => {
                out.push(c);
                continue;
            }
        };
        if c.is_ascii_lowercase() {
            out.push_str(&t.to_lowercase());
        } else {
            out.push_str(t);
        }
    }
    out
}

/// The branch's `cdr_custom.conf`, as a user of the export would find it beside the file.
pub(crate) fn branch_cdr_custom_conf() -> String {
    let fields: Vec<String> = BRANCH_COLUMNS
        .iter()
        .map(|c| {
            if *c == "sequence" {
                format!("${{CDR({c})}}")
            } else {
                format!("${{CSV_QUOTE(${{CDR({c})}})}}")
            }
        })
        .collect();
    format!(
        "; The branch office's CDR mapping (cdr_custom). Master.csv is written in windows-1251.\n\
         [mappings]\nMaster.csv => {}\n",
        fields.join(",")
    )
}

/// A line of the branch's `Master.csv`, written by `cdr_custom` with [`BRANCH_COLUMNS`]: every
/// field through `CSV_QUOTE` but the sequence, in windows-1251.
fn branch_row(call: &Call, leg_index: usize, leg: &Leg) -> Vec<u8> {
    let f = cdr_fields(call, leg_index, leg);
    let name = if f.name.chars().any(|c| c.is_ascii_alphabetic()) && f.name != "WIRELESS CALLER" {
        cyrillic(&f.name)
    } else {
        f.name.clone()
    };
    let mut r = String::with_capacity(400);
    for (i, v) in [
        f.clid(&name).as_str(),
        &f.src,
        &f.dst,
        &f.dcontext,
        &f.channel,
        &f.dstchannel,
        f.lastapp,
        &f.lastdata,
        &f.start,
        &f.answer,
        &f.end,
        &f.duration.to_string(),
        &f.billsec.to_string(),
        f.disposition,
        "DOCUMENTATION",
        "",
        &f.uniqueid,
        &f.userfield,
        &f.linkedid,
    ]
    .into_iter()
    .enumerate()
    {
        if i > 0 {
            r.push(',');
        }
        q(&mut r, v);
    }
    let _ = write!(r, ",{}", f.sequence);
    r.push('\n');
    let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(&r);
    bytes.into_owned()
}

fn transfer_target_of(call: &Call, leg_index: usize) -> Option<Intent> {
    call.legs
        .get(leg_index + 1)
        .and_then(|l| l.queue.as_ref())
        .map(|v| v.intent)
}

pub(in crate::render) fn asterisk(world: &World, recs: &ChunkRecords, out: &mut Rendered) {
    let mut rows: Vec<(i64, &str, Vec<u8>)> = Vec::new();
    let mut branch_rows: Vec<(i64, &str, Vec<u8>)> = Vec::new();
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
            if call.branch {
                // The branch writes CDRs only: no queue_log.
                branch_rows.push((leg.end_us, &leg.id, branch_row(call, i, leg)));
                continue;
            }
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
        p.data.extend_from_slice(&r);
    }
    branch_rows.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    let p = out.part(paths::BRANCH_CDR);
    p.records = branch_rows.len() as u64;
    for (_, _, r) in branch_rows {
        p.data.extend_from_slice(&r);
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
