//! Spelling a chunk's records exactly as each vendor writes them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::SynthError;
use crate::catalog::Intent;
use crate::model::{
    Author, Call, Chat, ChunkRecords, IvrExit, Leg, SurveyRow, VisitOutcome, WebEvent, WebKind,
};
use crate::people::{PhoneStyle, fmt_phone};
use crate::rng::{RngExt, SimRng};
use crate::sim::ASTERISK_QUEUE_TIMEOUT_SECS;
use crate::time::{
    DAY, Frac, SEC, asterisk_local, date_of_day, date_path_utc, date_utc, day_number, iso_chicago,
    iso_utc, sf_datetime,
};
use crate::world::{System, World};

/// Bytes for one output file, with the number of records they hold.
#[derive(Debug, Default)]
pub(crate) struct Part {
    pub(crate) data: Vec<u8>,
    pub(crate) records: u64,
}

impl Part {
    /// Appends one record: `line` and a line break.
    fn push_line(&mut self, line: &[u8]) {
        self.data.extend_from_slice(line);
        self.data.push(b'\n');
        self.records += 1;
    }

    /// Appends one record as a line of compact JSON.
    fn push_json(&mut self, what: &'static str, record: &impl Serialize) -> Result<(), SynthError> {
        serde_json::to_writer(&mut self.data, record)
            .map_err(|source| SynthError::Json { what, source })?;
        self.data.push(b'\n');
        self.records += 1;
        Ok(())
    }
}

/// A record as compact JSON.
fn to_json(what: &'static str, record: &impl Serialize) -> Result<Vec<u8>, SynthError> {
    serde_json::to_vec(record).map_err(|source| SynthError::Json { what, source })
}

/// Relative paths of the single (non-partitioned) files.
pub(crate) mod paths {
    pub(crate) const ACCOUNT: &str = "salesforce/Account.csv";
    pub(crate) const CONTACT: &str = "salesforce/Contact.csv";
    pub(crate) const CASE: &str = "salesforce/Case.csv";
    pub(crate) const OPPORTUNITY: &str = "salesforce/Opportunity.csv";
    pub(crate) const ORDER: &str = "salesforce/Order.csv";
    pub(crate) const CDR: &str = "asterisk/Master.csv";
    pub(crate) const QUEUE_LOG: &str = "asterisk/queue_log";
    pub(crate) const SURVEYS: &str = "surveys/responses.csv";
}

pub(crate) const ACCOUNT_HEADER: &[&str] = &[
    "Id",
    "IsDeleted",
    "Name",
    "Type",
    "Industry",
    "Phone",
    "BillingCountry",
    "OwnerId",
    "CreatedDate",
    "LastModifiedDate",
];
pub(crate) const CONTACT_HEADER: &[&str] = &[
    "Id",
    "IsDeleted",
    "AccountId",
    "FirstName",
    "LastName",
    "Email",
    "Phone",
    "MobilePhone",
    "MailingCountry",
    "OwnerId",
    "CreatedDate",
    "LastModifiedDate",
];
pub(crate) const CASE_HEADER: &[&str] = &[
    "Id",
    "IsDeleted",
    "CaseNumber",
    "AccountId",
    "ContactId",
    "ParentId",
    "SuppliedEmail",
    "SuppliedPhone",
    "Origin",
    "Type",
    "Reason",
    "Status",
    "IsClosed",
    "IsEscalated",
    "Priority",
    "Subject",
    "OwnerId",
    "CreatedDate",
    "ClosedDate",
    "LastModifiedDate",
];
pub(crate) const OPPORTUNITY_HEADER: &[&str] = &[
    "Id",
    "IsDeleted",
    "AccountId",
    "Name",
    "StageName",
    "Amount",
    "Probability",
    "CloseDate",
    "Type",
    "LeadSource",
    "IsClosed",
    "IsWon",
    "OwnerId",
    "CreatedDate",
    "LastModifiedDate",
];
pub(crate) const ORDER_HEADER: &[&str] = &[
    "Id",
    "IsDeleted",
    "AccountId",
    "BillToContactId",
    "OrderNumber",
    "Status",
    "EffectiveDate",
    "TotalAmount",
    "Product_Category__c",
    "CreatedDate",
    "LastModifiedDate",
];
pub(crate) const SURVEY_HEADER: &[&str] = &[
    "Response ID",
    "Survey",
    "Metric",
    "Scale Min",
    "Scale Max",
    "Score",
    "Comment",
    "Respondent Type",
    "Respondent",
    "Email",
    "Phone",
    "Agent",
    "Channel",
    "Interaction ID",
    "Sent At",
    "Responded At",
];

/// A Salesforce data-export CSV writer: every field quoted, CRLF.
pub(crate) fn salesforce_csv() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Always)
        .terminator(csv::Terminator::CRLF)
        .has_headers(false)
        .from_writer(Vec::new())
}

/// The survey tool's CSV writer: quoted where needed, CRLF between records.
pub(crate) fn survey_csv() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Necessary)
        .terminator(csv::Terminator::CRLF)
        .has_headers(false)
        .from_writer(Vec::new())
}

/// A header line in a writer's style.
pub(crate) fn header(w: csv::Writer<Vec<u8>>, cols: &[&str]) -> Result<Vec<u8>, SynthError> {
    let mut w = CsvPart::new(w, "header");
    w.row(cols)?;
    Ok(w.finish()?.data)
}

/// CSV records of one file (`what` names them in errors), counted as they are written.
struct CsvPart {
    w: csv::Writer<Vec<u8>>,
    what: &'static str,
    records: u64,
}

impl CsvPart {
    fn new(w: csv::Writer<Vec<u8>>, what: &'static str) -> Self {
        CsvPart {
            w,
            what,
            records: 0,
        }
    }

    fn row(&mut self, row: &[&str]) -> Result<(), SynthError> {
        self.w.write_record(row).map_err(|source| SynthError::Csv {
            what: self.what,
            source,
        })?;
        self.records += 1;
        Ok(())
    }

    fn finish(self) -> Result<Part, SynthError> {
        let what = self.what;
        let data = self.w.into_inner().map_err(|e| SynthError::Csv {
            what,
            source: e.into_error().into(),
        })?;
        Ok(Part {
            data,
            records: self.records,
        })
    }
}

fn bool_str(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

/// Everything a chunk writes, by relative path.
#[derive(Debug, Default)]
pub(crate) struct Rendered {
    /// Appended to single files and to per-day files shared by chunks.
    pub(crate) appends: BTreeMap<String, Part>,
}

impl Rendered {
    fn part(&mut self, path: &str) -> &mut Part {
        self.appends.entry(path.to_owned()).or_default()
    }
}

/// Renders every export of a chunk.
pub(crate) fn render(
    world: &World,
    chunk: u64,
    recs: &ChunkRecords,
) -> Result<Rendered, SynthError> {
    let mut out = Rendered::default();
    let mut rng = crate::rng::rng_for(world.seed, crate::rng::Stream::Render, chunk);
    salesforce(world, recs, &mut out)?;
    asterisk(world, recs, &mut out);
    connect(world, chunk, recs, &mut rng, &mut out)?;
    livechat(world, recs, &mut out)?;
    surveys(recs, &mut out)?;
    segment(recs, &mut out)?;
    Ok(out)
}

fn salesforce(world: &World, recs: &ChunkRecords, out: &mut Rendered) -> Result<(), SynthError> {
    let end = world.end_us - SEC;
    let clamp = |created: i64, modified: i64| modified.min(end).max(created);

    let mut accounts: Vec<_> = recs.accounts.iter().collect();
    accounts.sort_by(|a, b| (a.created_us, &a.id).cmp(&(b.created_us, &b.id)));
    let mut w = CsvPart::new(salesforce_csv(), "Account");
    for a in &accounts {
        let country = if a.id.ends_with(['A', 'B', 'C']) {
            "US"
        } else {
            "United States"
        };
        w.row(&[
            &a.id,
            bool_str(a.deleted),
            &a.name,
            a.kind,
            a.industry.unwrap_or(""),
            &a.phone,
            country,
            &a.owner,
            &sf_datetime(a.created_us),
            &sf_datetime(clamp(a.created_us, a.modified_us)),
        ])?;
    }
    *out.part(paths::ACCOUNT) = w.finish()?;

    let mut contacts: Vec<_> = recs.contacts.iter().collect();
    contacts.sort_by(|a, b| (a.created_us, &a.id).cmp(&(b.created_us, &b.id)));
    let mut w = CsvPart::new(salesforce_csv(), "Contact");
    for c in &contacts {
        w.row(&[
            &c.id,
            bool_str(c.deleted),
            &c.account_id,
            c.first,
            c.last,
            &c.email,
            &c.phone,
            &c.mobile,
            "United States",
            &c.owner,
            &sf_datetime(c.created_us),
            &sf_datetime(clamp(c.created_us, c.modified_us)),
        ])?;
    }
    *out.part(paths::CONTACT) = w.finish()?;

    let mut cases: Vec<_> = recs.cases.iter().collect();
    cases.sort_by(|a, b| (a.created_us, &a.id).cmp(&(b.created_us, &b.id)));
    let mut w = CsvPart::new(salesforce_csv(), "Case");
    for c in &cases {
        let closed = c.closed_us.map(sf_datetime).unwrap_or_default();
        w.row(&[
            &c.id,
            bool_str(c.deleted),
            &c.number,
            c.account_id.as_deref().unwrap_or(""),
            c.contact_id.as_deref().unwrap_or(""),
            c.parent_id.as_deref().unwrap_or(""),
            c.supplied_email.as_deref().unwrap_or(""),
            c.supplied_phone.as_deref().unwrap_or(""),
            c.origin,
            c.case_type,
            c.reason,
            c.status,
            bool_str(c.closed_us.is_some()),
            bool_str(c.escalated),
            c.priority,
            c.subject,
            &c.owner,
            &sf_datetime(c.created_us),
            &closed,
            &sf_datetime(clamp(c.created_us, c.modified_us)),
        ])?;
    }
    *out.part(paths::CASE) = w.finish()?;

    let mut opps: Vec<_> = recs.opportunities.iter().collect();
    opps.sort_by(|a, b| (a.created_us, &a.id).cmp(&(b.created_us, &b.id)));
    let mut w = CsvPart::new(salesforce_csv(), "Opportunity");
    for o in &opps {
        w.row(&[
            &o.id,
            "false",
            &o.account_id,
            &o.name,
            o.stage,
            &format!("{:.2}", o.amount),
            &o.probability.to_string(),
            &date_utc(o.close_date_us),
            o.opp_type,
            o.lead_source,
            bool_str(o.closed),
            bool_str(o.won),
            &o.owner,
            &sf_datetime(o.created_us),
            &sf_datetime(clamp(o.created_us, o.modified_us)),
        ])?;
    }
    *out.part(paths::OPPORTUNITY) = w.finish()?;

    let mut orders: Vec<_> = recs.orders.iter().collect();
    orders.sort_by(|a, b| (a.at_us, &a.id).cmp(&(b.at_us, &b.id)));
    let mut w = CsvPart::new(salesforce_csv(), "Order");
    for o in &orders {
        let created = sf_datetime(o.at_us);
        w.row(&[
            &o.id,
            "false",
            &o.account_id,
            &o.contact_id,
            &o.number,
            "Activated",
            &date_utc(o.at_us),
            &format!("{:.2}", o.amount),
            o.category,
            &created,
            &created,
        ])?;
    }
    *out.part(paths::ORDER) = w.finish()?;
    Ok(())
}

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

fn asterisk(world: &World, recs: &ChunkRecords, out: &mut Rendered) {
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

#[derive(Serialize)]
struct Endpoint<'a> {
    #[serde(rename = "Address")]
    address: &'a str,
    #[serde(rename = "Type")]
    kind: &'a str,
}

#[derive(Serialize)]
struct Arn<'a> {
    #[serde(rename = "ARN")]
    arn: &'a str,
    #[serde(rename = "Name")]
    name: &'a str,
}

#[derive(Serialize)]
struct CtrAgent<'a> {
    #[serde(rename = "ARN")]
    arn: String,
    #[serde(rename = "AfterContactWorkDuration")]
    acw_duration: i64,
    #[serde(rename = "AfterContactWorkEndTimestamp")]
    acw_end: String,
    #[serde(rename = "AfterContactWorkStartTimestamp")]
    acw_start: String,
    #[serde(rename = "AgentInteractionDuration")]
    interaction: i64,
    #[serde(rename = "ConnectedToAgentTimestamp")]
    connected: String,
    #[serde(rename = "CustomerHoldDuration")]
    hold: i64,
    #[serde(rename = "HierarchyGroups")]
    hierarchy: Option<()>,
    #[serde(rename = "LongestHoldDuration")]
    longest_hold: i64,
    #[serde(rename = "NumberOfHolds")]
    holds: u32,
    #[serde(rename = "RoutingProfile")]
    routing_profile: Arn<'a>,
    #[serde(rename = "Username")]
    username: &'a str,
}

#[derive(Serialize)]
struct CtrQueue<'a> {
    #[serde(rename = "ARN")]
    arn: String,
    #[serde(rename = "DequeueTimestamp")]
    dequeue: String,
    #[serde(rename = "Duration")]
    duration: i64,
    #[serde(rename = "EnqueueTimestamp")]
    enqueue: String,
    #[serde(rename = "Name")]
    name: &'a str,
}

#[derive(Serialize)]
struct MediaStream {
    #[serde(rename = "Type")]
    kind: &'static str,
}

#[derive(Serialize)]
struct Ctr<'a> {
    #[serde(rename = "AWSAccountId")]
    aws_account: &'a str,
    #[serde(rename = "AWSContactTraceRecordFormatVersion")]
    version: &'static str,
    #[serde(rename = "Agent")]
    agent: Option<CtrAgent<'a>>,
    #[serde(rename = "AgentConnectionAttempts")]
    attempts: u32,
    #[serde(rename = "Attributes")]
    attributes: BTreeMap<&'static str, String>,
    #[serde(rename = "Channel")]
    channel: &'static str,
    #[serde(rename = "ConnectedToSystemTimestamp")]
    connected_to_system: String,
    #[serde(rename = "ContactId")]
    contact_id: &'a str,
    #[serde(rename = "CustomerEndpoint")]
    customer_endpoint: Endpoint<'a>,
    #[serde(rename = "DisconnectReason")]
    disconnect_reason: &'static str,
    #[serde(rename = "DisconnectTimestamp")]
    disconnect: String,
    #[serde(rename = "InitialContactId")]
    initial: Option<&'a str>,
    #[serde(rename = "InitiationMethod")]
    initiation_method: &'static str,
    #[serde(rename = "InitiationTimestamp")]
    initiation: String,
    #[serde(rename = "InstanceARN")]
    instance_arn: String,
    #[serde(rename = "LastUpdateTimestamp")]
    last_update: String,
    #[serde(rename = "MediaStreams")]
    media: [MediaStream; 1],
    #[serde(rename = "NextContactId")]
    next: Option<&'a str>,
    #[serde(rename = "PreviousContactId")]
    previous: Option<&'a str>,
    #[serde(rename = "Queue")]
    queue: Option<CtrQueue<'a>>,
    #[serde(rename = "Recording")]
    recording: Option<()>,
    #[serde(rename = "SystemEndpoint")]
    system_endpoint: Endpoint<'a>,
    #[serde(rename = "TransferCompletedTimestamp")]
    transfer_completed: Option<String>,
    #[serde(rename = "TransferredToEndpoint")]
    transferred_to: Option<()>,
}

fn ts(us: i64) -> String {
    iso_utc(us, Frac::Secs)
}

/// The instant of a Connect contact's first delivery: `LastUpdateTimestamp`.
pub(crate) fn ctr_last_update(leg: &Leg) -> i64 {
    let acw_end = leg
        .agent
        .as_ref()
        .map(|a| a.end_us + a.acw_secs * SEC)
        .unwrap_or(leg.end_us);
    leg.end_us.max(acw_end) + (5 + (leg.cdr_sequence % 23) as i64) * SEC
}

/// Firehose file of a chunk's deliveries of one day.
pub(crate) fn ctr_path(day: i64, chunk: u64) -> String {
    let d = date_of_day(day);
    format!(
        "connect/ctr/{}/touchstone-ctr-stream-1-{d}-00-00-00-{chunk:06}.json",
        date_path_utc(day)
    )
}

fn connect(
    world: &World,
    chunk: u64,
    recs: &ChunkRecords,
    rng: &mut SimRng,
    out: &mut Rendered,
) -> Result<(), SynthError> {
    let instance_arn = world.instance_arn();
    let rp_arn = world.routing_profile_arn();
    let mut deliveries: Vec<(i64, String, Vec<u8>)> = Vec::new();
    for call in recs.calls.iter().filter(|c| c.system == System::Connect) {
        let call_id = call.call_id();
        let e164 = call
            .caller_digits
            .as_ref()
            .map(|d| fmt_phone(d, PhoneStyle::E164))
            .unwrap_or_else(|| "anonymous".to_owned());
        for (i, leg) in call.legs.iter().enumerate() {
            let mut attributes: BTreeMap<&'static str, String> = BTreeMap::new();
            attributes.insert("ivr_path", call.ivr_path.clone());
            attributes.insert("ivr_errors", call.ivr_errors.to_string());
            if call.ivr_path.contains('>') {
                attributes.insert("intent", call.intent.name().to_owned());
            }
            if call.authenticated {
                attributes.insert("crm_contact_id", call.crm_contact_id.clone());
            }
            if let Some(c) = leg.csat {
                attributes.insert("csat", c.to_string());
            }
            let agent = leg.agent.as_ref().and_then(|a| {
                world.agents.get(a.agent).map(|ag| CtrAgent {
                    arn: world.agent_arn(ag),
                    acw_duration: a.acw_secs,
                    acw_end: ts(a.end_us + a.acw_secs * SEC),
                    acw_start: ts(a.end_us),
                    interaction: a.talk_secs,
                    connected: ts(a.connected_us),
                    hold: a.hold_secs,
                    hierarchy: None,
                    longest_hold: a.longest_hold_secs,
                    holds: a.holds,
                    routing_profile: Arn {
                        arn: &rp_arn,
                        name: "Basic Routing Profile",
                    },
                    username: &ag.username,
                })
            });
            let queue = leg.queue.as_ref().map(|v| CtrQueue {
                arn: world.queue_arn(v.intent),
                dequeue: ts(v.enqueued_us + v.wait_secs * SEC),
                duration: v.wait_secs,
                enqueue: ts(v.enqueued_us),
                name: v.intent.name(),
            });
            let rna = leg
                .queue
                .as_ref()
                .map(|v| v.ring_no_answer.len() as u32)
                .unwrap_or(0);
            let disconnect_reason = match (&leg.agent, call.ivr_exit) {
                (Some(_), _) if leg.transferred_out => "AGENT_DISCONNECT",
                (Some(_), _) if leg.csat.is_some() => "CONTACT_FLOW_DISCONNECT",
                (Some(a), _) if a.caller_hung_up => "CUSTOMER_DISCONNECT",
                (Some(_), _) => "AGENT_DISCONNECT",
                (None, IvrExit::Contained) => "CONTACT_FLOW_DISCONNECT",
                (None, _) => "CUSTOMER_DISCONNECT",
            };
            let next = call.legs.get(i + 1).map(|l| l.id.as_str());
            let previous = if i > 0 {
                call.legs.get(i - 1).map(|l| l.id.as_str())
            } else {
                None
            };
            let last_update = ctr_last_update(leg);
            let mut record = Ctr {
                aws_account: world.aws_account,
                version: "2017-03-10",
                attempts: rna + u32::from(agent.is_some()),
                agent,
                attributes,
                channel: "VOICE",
                connected_to_system: ts(leg
                    .answer_us
                    .unwrap_or(leg.start_us)
                    .min(leg.start_us + SEC)),
                contact_id: &leg.id,
                customer_endpoint: Endpoint {
                    address: &e164,
                    kind: "TELEPHONE_NUMBER",
                },
                disconnect_reason,
                disconnect: ts(leg.end_us),
                initial: (i > 0).then_some(call_id),
                initiation_method: if i == 0 { "INBOUND" } else { "TRANSFER" },
                initiation: ts(leg.start_us),
                instance_arn: instance_arn.clone(),
                last_update: ts(last_update),
                media: [MediaStream { kind: "AUDIO" }],
                next,
                previous,
                queue,
                recording: None,
                system_endpoint: Endpoint {
                    address: "+18005550100",
                    kind: "TELEPHONE_NUMBER",
                },
                transfer_completed: leg.transferred_out.then(|| ts(leg.end_us)),
                transferred_to: None,
            };
            let line = to_json("contact trace", &record)?;
            if call.redeliver_same.get(i).copied().unwrap_or(false) {
                deliveries.push((last_update, leg.id.clone(), line.clone()));
            }
            deliveries.push((last_update, leg.id.clone(), line));
            if call.redeliver_updated.get(i).copied().unwrap_or(false) {
                let later = last_update + rng.int_in(10 * 60, 6 * 3_600) * SEC;
                record.last_update = ts(later);
                record
                    .attributes
                    .insert("disposition", call.disposition.to_owned());
                let line = to_json("contact trace", &record)?;
                deliveries.push((later, leg.id.clone(), line));
            }
        }
    }
    deliveries.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    for (at, _, line) in deliveries {
        out.part(&ctr_path(day_number(at), chunk)).push_line(&line);
    }
    Ok(())
}

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
    threads: [LcThread<'a>; 1],
    users: Vec<LcUser<'a>>,
}

fn micros(us: i64) -> String {
    iso_utc(us, Frac::Micros)
}

fn livechat(world: &World, recs: &ChunkRecords, out: &mut Rendered) -> Result<(), SynthError> {
    let mut chats: Vec<&Chat> = recs.chats.iter().collect();
    chats.sort_by(|a, b| (a.created_us, &a.chat_id).cmp(&(b.created_us, &b.chat_id)));
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
        let record = LcChat {
            id: &chat.chat_id,
            threads: [LcThread {
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
            }],
            users,
        };
        let path = format!("livechat/chats-{}.jsonl", date_utc(chat.created_us));
        out.part(&path).push_json("LiveChat chat", &record)?;
    }
    Ok(())
}

fn surveys(recs: &ChunkRecords, out: &mut Rendered) -> Result<(), SynthError> {
    let mut rows: Vec<&SurveyRow> = recs.surveys.iter().collect();
    rows.sort_by(|a, b| (a.responded_us, &a.response_id).cmp(&(b.responded_us, &b.response_id)));
    let mut w = CsvPart::new(survey_csv(), "survey");
    for r in &rows {
        w.row(&[
            &r.response_id,
            r.survey,
            r.metric,
            &r.scale_min.to_string(),
            &r.scale_max.to_string(),
            &r.score.to_string(),
            r.comment.unwrap_or(""),
            r.respondent_type,
            &r.respondent,
            r.email.as_deref().unwrap_or(""),
            r.phone.as_deref().unwrap_or(""),
            r.agent.as_deref().unwrap_or(""),
            r.channel.unwrap_or(""),
            r.interaction_id.as_deref().unwrap_or(""),
            &r.sent_us.map(iso_chicago).unwrap_or_default(),
            &iso_chicago(r.responded_us),
        ])?;
    }
    *out.part(paths::SURVEYS) = w.finish()?;
    Ok(())
}

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

fn segment(recs: &ChunkRecords, out: &mut Rendered) -> Result<(), SynthError> {
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
