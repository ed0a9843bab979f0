//! Amazon Connect contact trace records → `stg_calls` (see the [module docs](super)).

use std::io::BufRead;

use serde_json::{Map, Value};
use touchstone_core::StagingTable;

use crate::json::records::{Event, Layout, drift, plain, read_records};
use crate::json::{compact, get, opt_int, opt_obj, opt_str, opt_ts};
use crate::state::UNVERSIONED;
use crate::table::TableBuilder;
use crate::{Ctx, ExtractError, Identity};

const EXAMPLE: &str = "2026-08-01T14:22:31Z";
const MICROS: i64 = 1_000_000;

/// CTRs come one per line, pretty-printed, concatenated or in arrays; there is no list or
/// webhook envelope around them.
const LAYOUT: Layout = Layout {
    lookups: &[],
    lists: &[],
    unwrap: plain,
};

/// The top-level fields read (others are ignored; near-misses of these are warned about).
const FIELDS: &[&str] = &[
    "ContactId",
    "InitialContactId",
    "PreviousContactId",
    "NextContactId",
    "Channel",
    "InitiationMethod",
    "InitiationTimestamp",
    "ConnectedToSystemTimestamp",
    "DisconnectTimestamp",
    "LastUpdateTimestamp",
    "DisconnectReason",
    "AgentConnectionAttempts",
    "CustomerEndpoint",
    "SystemEndpoint",
    "Attributes",
    "Queue",
    "Agent",
];

pub(crate) fn read(ctx: &mut Ctx<'_, '_>, input: &mut dyn BufRead) -> Result<(), ExtractError> {
    let mut tb = ctx.builder(StagingTable::Calls)?;
    read_records(ctx, input, &LAYOUT, &mut |ctx, event| {
        let Event::Record(rec) = event else {
            return Ok(());
        };
        drift(ctx, &rec.obj, FIELDS, "contact trace record");
        let outcome = row(&rec.obj, &mut tb).map_err(|e| rec.reason(e));
        ctx.settle_delivery(&mut tb, rec.line, outcome, rec.raw)
    })?;
    tb.flush(ctx.sink)
}

/// Writes the record's row; its identity is the ContactId, versioned by LastUpdateTimestamp.
fn row(c: &Map<String, Value>, tb: &mut TableBuilder) -> Result<Identity, String> {
    let contact_id = opt_str(c, "ContactId", "ContactId")?
        .filter(|s| !s.is_empty())
        .ok_or("field 'ContactId': missing; expected the contact's id (a UUID)")?;
    let initiated =
        opt_ts(c, "InitiationTimestamp", "InitiationTimestamp", EXAMPLE)?.ok_or_else(|| {
            format!("field 'InitiationTimestamp': missing; expected a timestamp like {EXAMPLE}")
        })?;
    let channel = opt_str(c, "Channel", "Channel")?
        .filter(|s| !s.is_empty())
        .ok_or("field 'Channel': missing; expected VOICE, CHAT, TASK or EMAIL")?
        .to_lowercase();
    let initial = opt_str(c, "InitialContactId", "InitialContactId")?.filter(|s| !s.is_empty());
    let previous = opt_str(c, "PreviousContactId", "PreviousContactId")?;
    let next = opt_str(c, "NextContactId", "NextContactId")?;
    let method = opt_str(c, "InitiationMethod", "InitiationMethod")?;
    let connected = opt_ts(
        c,
        "ConnectedToSystemTimestamp",
        "ConnectedToSystemTimestamp",
        EXAMPLE,
    )?;
    let disconnected = opt_ts(c, "DisconnectTimestamp", "DisconnectTimestamp", EXAMPLE)?;
    let updated = opt_ts(c, "LastUpdateTimestamp", "LastUpdateTimestamp", EXAMPLE)?;
    let reason = opt_str(c, "DisconnectReason", "DisconnectReason")?;
    let attempts = opt_int(
        c,
        "AgentConnectionAttempts",
        "AgentConnectionAttempts",
        "a whole number",
    )?;
    let caller = match opt_obj(c, "CustomerEndpoint", "CustomerEndpoint")? {
        Some(e) => opt_str(e, "Address", "CustomerEndpoint.Address")?,
        None => None,
    };
    let dialed = match opt_obj(c, "SystemEndpoint", "SystemEndpoint")? {
        Some(e) => opt_str(e, "Address", "SystemEndpoint.Address")?,
        None => None,
    };
    let attributes = match get(c, "Attributes") {
        None => None,
        Some(v @ Value::Object(_)) => Some(compact(v)),
        Some(v) => {
            return Err(format!(
                "field 'Attributes': expected an object of strings, got a JSON {}",
                crate::json::kind(v)
            ));
        }
    };

    let secs = "whole seconds";
    let (mut queue_name, mut enqueued, mut dequeued, mut queue_secs) = (None, None, None, None);
    if let Some(q) = opt_obj(c, "Queue", "Queue")? {
        queue_name = opt_str(q, "Name", "Queue.Name")?;
        enqueued = opt_ts(q, "EnqueueTimestamp", "Queue.EnqueueTimestamp", EXAMPLE)?;
        dequeued = opt_ts(q, "DequeueTimestamp", "Queue.DequeueTimestamp", EXAMPLE)?;
        queue_secs = opt_int(q, "Duration", "Queue.Duration", secs)?;
    }
    let (mut agent, mut agent_at, mut talk, mut hold, mut acw) = (None, None, None, None, None);
    if let Some(a) = opt_obj(c, "Agent", "Agent")? {
        agent = match opt_str(a, "Username", "Agent.Username")?.filter(|s| !s.is_empty()) {
            Some(u) => Some(u),
            None => opt_str(a, "ARN", "Agent.ARN")?,
        };
        agent_at = opt_ts(
            a,
            "ConnectedToAgentTimestamp",
            "Agent.ConnectedToAgentTimestamp",
            EXAMPLE,
        )?;
        talk = opt_int(
            a,
            "AgentInteractionDuration",
            "Agent.AgentInteractionDuration",
            secs,
        )?;
        hold = opt_int(
            a,
            "CustomerHoldDuration",
            "Agent.CustomerHoldDuration",
            secs,
        )?;
        acw = opt_int(
            a,
            "AfterContactWorkDuration",
            "Agent.AfterContactWorkDuration",
            secs,
        )?;
    }
    let whole_secs = |from: i64, to: i64| (to - from).div_euclid(MICROS);

    tb.str("source_system", Some("amazon_connect"));
    tb.str("call_id", Some(&contact_id));
    tb.str("linked_id", Some(initial.as_deref().unwrap_or(&contact_id)));
    tb.text("previous_call_id", previous.as_deref());
    tb.text("next_call_id", next.as_deref());
    tb.int("sequence", None);
    tb.str("channel", Some(&channel));
    tb.text("initiation_method", method.as_deref());
    tb.str("account_code", None);
    tb.text("caller_number", caller.as_deref());
    tb.str("caller_id", None);
    tb.text("dialed_number", dialed.as_deref());
    tb.str("context", None);
    tb.str("channel_name", None);
    tb.str("dst_channel", None);
    tb.str("last_app", None);
    tb.str("last_data", None);
    tb.ts("started_at", Some(initiated));
    tb.ts("answered_at", connected);
    tb.ts("ended_at", disconnected);
    tb.int(
        "duration_secs",
        disconnected.map(|d| whole_secs(initiated, d)),
    );
    tb.int(
        "billsec",
        connected.zip(disconnected).map(|(a, d)| whole_secs(a, d)),
    );
    tb.str("disposition", None);
    tb.str("amaflags", None);
    tb.text("disconnect_reason", reason.as_deref());
    tb.text("queue_name", queue_name.as_deref());
    tb.ts("enqueued_at", enqueued);
    tb.ts("dequeued_at", dequeued);
    tb.int("queue_duration_secs", queue_secs);
    tb.text("agent_id", agent.as_deref());
    tb.ts("agent_connected_at", agent_at);
    tb.int("agent_interaction_secs", talk);
    tb.int("customer_hold_secs", hold);
    tb.int("acw_secs", acw);
    tb.int("agent_connection_attempts", attempts);
    tb.str("user_field", None);
    tb.str("attributes", attributes.as_deref());
    tb.str("peer_account", None);
    tb.ts("record_updated_at", updated);
    Ok(Identity {
        kind: "ctr",
        id: contact_id.into_owned(),
        version: updated.unwrap_or(UNVERSIONED),
    })
}

#[cfg(test)]
mod tests {
    use touchstone_core::SourceFormat;

    use super::*;
    use crate::testutil::*;

    const ANSWERED: &str = r#"{"AWSAccountId":"123456789012","AWSContactTraceRecordFormatVersion":"2017-03-10","ContactId":"c-2","InitialContactId":"c-1","PreviousContactId":"c-1","NextContactId":null,"Channel":"VOICE","InitiationMethod":"TRANSFER","InitiationTimestamp":"2026-08-01T14:00:00Z","ConnectedToSystemTimestamp":"2026-08-01T14:00:02Z","DisconnectTimestamp":"2026-08-01T14:10:00Z","LastUpdateTimestamp":"2026-08-01T14:11:00Z","DisconnectReason":"CUSTOMER_DISCONNECT","AgentConnectionAttempts":1,"CustomerEndpoint":{"Address":"+13125550143","Type":"TELEPHONE_NUMBER"},"SystemEndpoint":{"Address":"+18005550100","Type":"TELEPHONE_NUMBER"},"Attributes":{"ivr_path":"main>billing","csat":"4"},"Queue":{"ARN":"arn:q","Name":"billing","EnqueueTimestamp":"2026-08-01T14:01:00Z","DequeueTimestamp":"2026-08-01T14:02:00Z","Duration":60},"Agent":{"ARN":"arn:a","Username":"jsmith","ConnectedToAgentTimestamp":"2026-08-01T14:02:00Z","AgentInteractionDuration":420,"CustomerHoldDuration":30,"AfterContactWorkDuration":45}}"#;
    const CONTAINED: &str = r#"{"ContactId":"c-3","Channel":"CHAT","InitiationTimestamp":"2026-08-01T15:00:00Z","Agent":null,"Queue":null}"#;

    #[test]
    fn maps_the_contact_record() {
        let later = ANSWERED.replace("14:11:00Z", "15:30:00Z");
        let input = format!("{ANSWERED}\n{CONTAINED}\n{later}\n");
        let (stats, sink) = run_ok(SourceFormat::AmazonConnectCtr, input.as_bytes());
        // A later version of a contact (a greater LastUpdateTimestamp) is staged too; the
        // models keep the latest.
        assert_eq!((stats.rows_read, stats.rows_staged), (3, 3));
        let t = sink.table(StagingTable::Calls);
        assert_eq!(s(&t, "source_system", 0).as_deref(), Some("amazon_connect"));
        assert_eq!(s(&t, "call_id", 0).as_deref(), Some("c-2"));
        assert_eq!(s(&t, "linked_id", 0).as_deref(), Some("c-1"));
        assert_eq!(s(&t, "previous_call_id", 0).as_deref(), Some("c-1"));
        assert_eq!(s(&t, "next_call_id", 0), None);
        assert_eq!(s(&t, "channel", 0).as_deref(), Some("voice"));
        assert_eq!(s(&t, "initiation_method", 0).as_deref(), Some("TRANSFER"));
        assert_eq!(s(&t, "caller_number", 0).as_deref(), Some("+13125550143"));
        assert_eq!(s(&t, "dialed_number", 0).as_deref(), Some("+18005550100"));
        assert_eq!(i(&t, "started_at", 0), Some(ts("2026-08-01T14:00:00Z")));
        assert_eq!(i(&t, "answered_at", 0), Some(ts("2026-08-01T14:00:02Z")));
        assert_eq!(i(&t, "ended_at", 0), Some(ts("2026-08-01T14:10:00Z")));
        assert_eq!(i(&t, "duration_secs", 0), Some(600));
        assert_eq!(i(&t, "billsec", 0), Some(598));
        assert_eq!(
            s(&t, "disconnect_reason", 0).as_deref(),
            Some("CUSTOMER_DISCONNECT")
        );
        assert_eq!(s(&t, "queue_name", 0).as_deref(), Some("billing"));
        assert_eq!(i(&t, "enqueued_at", 0), Some(ts("2026-08-01T14:01:00Z")));
        assert_eq!(i(&t, "dequeued_at", 0), Some(ts("2026-08-01T14:02:00Z")));
        assert_eq!(i(&t, "queue_duration_secs", 0), Some(60));
        assert_eq!(s(&t, "agent_id", 0).as_deref(), Some("jsmith"));
        assert_eq!(
            i(&t, "agent_connected_at", 0),
            Some(ts("2026-08-01T14:02:00Z"))
        );
        assert_eq!(i(&t, "agent_interaction_secs", 0), Some(420));
        assert_eq!(i(&t, "customer_hold_secs", 0), Some(30));
        assert_eq!(i(&t, "acw_secs", 0), Some(45));
        assert_eq!(i(&t, "agent_connection_attempts", 0), Some(1));
        assert_eq!(
            s(&t, "attributes", 0).as_deref(),
            Some(r#"{"csat":"4","ivr_path":"main>billing"}"#)
        );
        assert_eq!(
            i(&t, "record_updated_at", 0),
            Some(ts("2026-08-01T14:11:00Z"))
        );
        // No agent, no queue, linked to itself.
        assert_eq!(s(&t, "linked_id", 1).as_deref(), Some("c-3"));
        assert_eq!(s(&t, "channel", 1).as_deref(), Some("chat"));
        assert_eq!((s(&t, "agent_id", 1), s(&t, "queue_name", 1)), (None, None));
        assert_eq!(
            (i(&t, "ended_at", 1), i(&t, "duration_secs", 1)),
            (None, None)
        );
        assert_eq!(i(&t, "_source_line", 2), Some(3));
    }

    #[test]
    fn concatenated_objects_like_firehose() {
        let other = ANSWERED.replace("c-2", "c-4");
        let input = format!("{ANSWERED}{CONTAINED}{other}\n{CONTAINED}{{\"ContactId\":\"x\"}}");
        let (stats, sink) = run_ok(SourceFormat::AmazonConnectCtr, input.as_bytes());
        // The second CONTAINED is the same delivery again: a duplicate, not a row.
        assert_eq!(
            (
                stats.rows_read,
                stats.rows_staged,
                stats.rows_rejected,
                stats.duplicates
            ),
            (5, 3, 1, 1)
        );
        let lines: Vec<_> = (0..3)
            .map(|r| i(&sink.table(StagingTable::Calls), "_source_line", r))
            .collect();
        assert_eq!(lines, vec![Some(1), Some(1), Some(1)]);
        assert_eq!(sink.rejects[0].line, 2);
        assert!(
            sink.rejects[0]
                .reason
                .contains("'InitiationTimestamp': missing")
        );
    }

    #[test]
    fn bad_records_are_rejects_naming_the_field() {
        let cut = &ANSWERED[..200];
        let input = [
            ANSWERED.replace("\"ContactId\":\"c-2\",", ""),
            ANSWERED.replace("2026-08-01T14:00:00Z", "yesterday"),
            ANSWERED.replace("\"Duration\":60", "\"Duration\":\"sixty\""),
            ANSWERED.replace("\"Username\":\"jsmith\"", "\"Username\":{\"x\":1}"),
            cut.to_owned(),
            "{\"ContactId\": tru}".to_owned(),
            "[1,2]".to_owned(),
            ANSWERED.to_owned(),
            CONTAINED.replace("\"Channel\":\"CHAT\",", ""),
        ]
        .join("\r\n");
        let mut bytes = input.into_bytes();
        bytes.extend_from_slice(b"\r\n{\"ContactId\":\"\xff\"}\r\n");
        let (stats, sink) = run_ok(SourceFormat::AmazonConnectCtr, &bytes);
        // `[1,2]` is an array of two values that are not objects: two rejects.
        assert_eq!(
            (stats.rows_read, stats.rows_staged, stats.rows_rejected),
            (11, 1, 10)
        );
        let r: Vec<_> = sink
            .rejects
            .iter()
            .map(|r| (r.line, r.reason.as_str()))
            .collect();
        assert!(r[0].1.contains("'ContactId': missing"), "{}", r[0].1);
        assert!(r[1].1.contains("'InitiationTimestamp'") && r[1].1.contains("RFC 3339"));
        assert!(r[2].1.contains("'Queue.Duration'") && r[2].1.contains("whole seconds"));
        assert!(r[3].1.contains("'Agent.Username'"));
        assert!(r[4].1.contains("cut off"), "{}", r[4].1);
        assert!(r[5].1.contains("invalid JSON"));
        assert!(
            r[6].1
                .starts_with("record /0: a JSON number where a JSON object was expected"),
            "{}",
            r[6].1
        );
        assert!(r[7].1.starts_with("record /1: a JSON number"));
        assert!(r[8].1.contains("'Channel': missing"));
        // An invalid byte is repaired (U+FFFD); the record is rejected for what it lacks.
        assert!(r[9].1.contains("missing"), "{}", r[9].1);
        assert_eq!(
            r.iter().map(|x| x.0).collect::<Vec<_>>(),
            vec![1, 2, 3, 4, 5, 6, 7, 7, 9, 10]
        );
    }

    #[test]
    fn compressed_input() {
        let data = format!("{ANSWERED}\n{CONTAINED}\n");
        let (stats, _) = run_compressed(
            SourceFormat::AmazonConnectCtr,
            "ctr.json.gz",
            gzip(data.as_bytes()),
        );
        assert_eq!(stats.rows_staged, 2);
        let (stats, _) = run_compressed(
            SourceFormat::AmazonConnectCtr,
            "ctr.json.zst",
            zstd(data.as_bytes()),
        );
        assert_eq!(stats.rows_staged, 2);
    }
}
