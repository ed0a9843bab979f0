//! Amazon Connect contact trace records, as Kinesis Data Firehose delivers them.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::SynthError;
use crate::model::{ChunkRecords, IvrExit, Leg};
use crate::people::{PhoneStyle, fmt_phone};
use crate::render::{Part, Rendered, to_json, to_json_pretty};
use crate::rng::{RngExt, SimRng};
use crate::time::{Frac, SEC, date_of_day, date_path_utc, day_number, iso_utc};
use crate::world::{System, World};

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

/// How one day's Firehose files lay their records out (by the UTC day number): Firehose's own
/// default (records back to back, no separator), one record per line (a delimiter added by a
/// transform Lambda), pretty-printed records one after another, and a pretty-printed JSON array
/// (files re-exported by a consumer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CtrLayout {
    Concatenated,
    Lines,
    Pretty,
    Array,
}

impl CtrLayout {
    pub(crate) fn of_day(day: i64) -> CtrLayout {
        match day.rem_euclid(4) {
            0 => CtrLayout::Concatenated,
            1 => CtrLayout::Lines,
            2 => CtrLayout::Pretty,
            _ => CtrLayout::Array,
        }
    }
}

/// Writes one file's deliveries (compact JSON; `true` for a repeat of the previous delivery).
fn write_deliveries(
    part: &mut Part,
    layout: CtrLayout,
    records: &[(Vec<u8>, bool)],
) -> Result<(), SynthError> {
    let pretty = |r: &[u8]| -> Result<Vec<u8>, SynthError> {
        let v: serde_json::Value =
            serde_json::from_slice(r).map_err(|source| SynthError::Json {
                what: "contact trace",
                source,
            })?;
        to_json_pretty("contact trace", &v)
    };
    if layout == CtrLayout::Array {
        part.data.extend_from_slice(b"[\n");
    }
    for (i, (r, duplicate)) in records.iter().enumerate() {
        match layout {
            CtrLayout::Concatenated => part.push_record(r, b""),
            CtrLayout::Lines => part.push_record(r, b"\n"),
            CtrLayout::Pretty => part.push_record(&pretty(r)?, b"\n"),
            CtrLayout::Array => {
                let last = i + 1 == records.len();
                part.push_record(&pretty(r)?, if last { b"\n" } else { b",\n" });
            }
        }
        part.duplicates += u64::from(*duplicate);
    }
    if layout == CtrLayout::Array {
        part.data.extend_from_slice(b"]\n");
    }
    Ok(())
}

/// Firehose file of a chunk's deliveries of one day.
pub(crate) fn ctr_path(day: i64, chunk: u64) -> String {
    let d = date_of_day(day);
    format!(
        "connect/ctr/{}/touchstone-ctr-stream-1-{d}-00-00-00-{chunk:06}.json",
        date_path_utc(day)
    )
}

pub(in crate::render) fn connect(
    world: &World,
    chunk: u64,
    recs: &ChunkRecords,
    rng: &mut SimRng,
    out: &mut Rendered,
) -> Result<(), SynthError> {
    let instance_arn = world.instance_arn();
    let rp_arn = world.routing_profile_arn();
    let mut deliveries: Vec<(i64, String, Vec<u8>, bool)> = Vec::new();
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
                deliveries.push((last_update, leg.id.clone(), line.clone(), false));
                deliveries.push((last_update, leg.id.clone(), line, true));
            } else {
                deliveries.push((last_update, leg.id.clone(), line, false));
            }
            if call.redeliver_updated.get(i).copied().unwrap_or(false) {
                let later = last_update + rng.int_in(10 * 60, 6 * 3_600) * SEC;
                record.last_update = ts(later);
                record
                    .attributes
                    .insert("disposition", call.disposition.to_owned());
                let line = to_json("contact trace", &record)?;
                deliveries.push((later, leg.id.clone(), line, false));
            }
        }
    }
    // A stable sort: an identical redelivery stays right behind its first copy.
    deliveries.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let mut by_day: BTreeMap<i64, Vec<(Vec<u8>, bool)>> = BTreeMap::new();
    for (at, _, line, duplicate) in deliveries {
        by_day
            .entry(day_number(at))
            .or_default()
            .push((line, duplicate));
    }
    for (day, records) in by_day {
        let part = out.part(&ctr_path(day, chunk));
        write_deliveries(part, CtrLayout::of_day(day), &records)?;
    }
    Ok(())
}
