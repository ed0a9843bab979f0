//! IVR and telephony records: Asterisk CDR (`Master.csv`) and Amazon Connect contact trace
//! records to `stg_calls`; Asterisk `queue_log` to `stg_queue_events`.
//!
//! # Asterisk CDR (`asterisk_cdr`) → `stg_calls`, `source_system = 'asterisk'`
//!
//! No header; one record per line. `cdr_csv` never writes a line break inside a field, so a quote
//! still open at the end of a line makes that line a reject instead of running on into the next
//! records. Columns, as `cdr_csv` writes them:
//! accountcode, src, dst, dcontext, clid, channel, dstchannel, lastapp, lastdata, start, answer,
//! end, duration, billsec, disposition, amaflags, then the optional ones.
//!
//! Asterisk adds optional columns in groups: `uniqueid` (`loguniqueid=yes`), `userfield`
//! (`loguserfield=yes`), then `peeraccount, linkedid, sequence` together (`newcdrcolumns=yes`).
//! So 16 to 21 columns are accepted; anything else is a reject giving the count. Where a count
//! fits more than one setting, the values decide:
//!
//! | columns | read as |
//! |---|---|
//! | 16 | base |
//! | 17 | + uniqueid if column 17 looks like one (`1722506062.123`), else + userfield |
//! | 18 | + uniqueid, userfield |
//! | 19 | + peeraccount, linkedid, sequence when column 18 looks like a uniqueid and column 19 is an integer; otherwise + uniqueid, userfield, peeraccount |
//! | 20 | + (uniqueid or userfield, as for 17), peeraccount, linkedid, sequence when column 19 looks like a uniqueid and column 20 is an integer; otherwise + uniqueid, userfield, peeraccount, linkedid |
//! | 21 | + uniqueid, userfield, peeraccount, linkedid, sequence |
//!
//! Mapping: `call_id` = uniqueid (when the export has none: `<channel>@<start>` as written,
//! unique per channel instance); `linked_id` = linkedid, else the call_id; `sequence`;
//! `channel = 'voice'`; `account_code` = accountcode; `caller_number` = src; `caller_id` = clid
//! (raw, e.g. `"Jane" <5551234>`); `dialed_number` = dst; `context` = dcontext; `channel_name`,
//! `dst_channel`, `last_app`, `last_data`; `started_at`/`answered_at`/`ended_at` = start/answer/end
//! (empty answer = null); `duration_secs`, `billsec`; `disposition`, `amaflags`; `user_field` =
//! userfield (raw); `peer_account`. Not in a CDR, so null: previous/next call ids,
//! initiation_method, disconnect_reason, queue and agent columns, attributes, record_updated_at.
//!
//! Times are wall-clock times in [`ReadOptions::timezone`](crate::ReadOptions::timezone),
//! converted to UTC. Daylight-saving transitions are resolved deterministically:
//!
//! - a time in the spring-forward gap (it never happened) is read with the offset in force
//!   before the gap: `02:30` becomes `03:30` daylight time;
//! - a time in the fall-back overlap (it happened twice) is resolved with the record's own
//!   durations: `start` takes the instance closest to `end − duration` when `end` is unambiguous,
//!   else the earlier instance; `end` takes the instance closest to `start + duration`, and
//!   `answer` the one closest to `end − billsec` (or to `start`).
//!
//! # Asterisk `queue_log` (`asterisk_queue_log`) → `stg_queue_events`
//!
//! One event per line: `epoch|callid|queue|agent|EVENT|data1|...|data5`. `NONE` (or empty) in
//! callid, queue or agent is null, so system lines (`QUEUESTART`, `CONFIGRELOAD`) are staged with
//! null call and agent. Data fields are kept as written (empty = null). Data beyond the fifth is
//! joined into `data5` with `|`, so nothing written is lost. Fewer than five fields, a
//! non-numeric epoch or an empty event is a reject.
//!
//! # Amazon Connect CTR (`amazon_connect_ctr`) → `stg_calls`, `source_system = 'amazon_connect'`
//!
//! JSON objects one per line, pretty-printed, or concatenated without separators (the Kinesis
//! Firehose default); each object is a row, reported at the line it starts on. The stream is
//! split by balancing braces outside strings, and damage is contained: a string running into a
//! line break, or a `{` opening a line inside an object, ends a cut-off record there; other
//! damage (a `{` where no value may start, text after a closing brace) makes the rest of the
//! line, or the text up to the next `}{`, one reject. Every delivery
//! is staged, duplicates included (deduplication by `ContactId`, keeping the greatest
//! `LastUpdateTimestamp`, happens in SQL).
//!
//! Mapping: `call_id` = ContactId (required); `linked_id` = InitialContactId, else ContactId;
//! `previous_call_id` / `next_call_id` = PreviousContactId / NextContactId; `channel` = Channel
//! lowercased (required); `initiation_method`; `caller_number` = CustomerEndpoint.Address;
//! `dialed_number` = SystemEndpoint.Address; `started_at` = InitiationTimestamp (required);
//! `answered_at` = ConnectedToSystemTimestamp; `ended_at` = DisconnectTimestamp;
//! `duration_secs` = Disconnect − Initiation and `billsec` = Disconnect − ConnectedToSystem
//! (whole seconds, like the CDR columns); `disconnect_reason`; `queue_name` = Queue.Name;
//! `enqueued_at` / `dequeued_at` / `queue_duration_secs` = Queue.EnqueueTimestamp /
//! DequeueTimestamp / Duration; `agent_id` = Agent.Username (else Agent.ARN);
//! `agent_connected_at` = Agent.ConnectedToAgentTimestamp; `agent_interaction_secs`,
//! `customer_hold_secs`, `acw_secs` = Agent.AgentInteractionDuration, CustomerHoldDuration,
//! AfterContactWorkDuration; `agent_connection_attempts` = AgentConnectionAttempts;
//! `attributes` = Attributes as compact JSON text (keys sorted); `record_updated_at` =
//! LastUpdateTimestamp. `Agent: null` and an absent `Agent` both mean no agent (same for
//! `Queue`). Null for a CTR: sequence, account_code, caller_id, context, channel_name,
//! dst_channel, last_app, last_data, disposition, amaflags, user_field, peer_account.

pub(crate) mod cdr;
pub(crate) mod ctr;
pub(crate) mod queue_log;
