//! Asterisk `cdr_csv` / `cdr_custom` `Master.csv` → `stg_calls` (see the [module docs](super)).

use std::io::BufRead;

use chrono_tz::Tz;
use touchstone_core::StagingTable;

use crate::input::{CsvReader, Framed, malformed_reason, shown};
use crate::table::TableBuilder;
use crate::time::{Local, parse_naive, resolve_local};
use crate::{Ctx, ExtractError, ReadOptions};

const MICROS: i64 = 1_000_000;

/// The sixteen columns every `cdr_csv` record has, in order: the first of the fields Asterisk
/// can write.
const BASE: &[&str] = touchstone_core::format::ASTERISK_CDR_FIELDS.split_at(16).0;

/// The dispositions Asterisk writes (`ast_cdr_disp2str`).
const DISPOSITIONS: [&str; 6] = [
    "ANSWERED",
    "NO ANSWER",
    "BUSY",
    "FAILED",
    "CONGESTION",
    "UNKNOWN",
];

/// Where each CDR field is in a record (0-based), `None` when the layout has no such column.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Fields {
    accountcode: Option<usize>,
    src: Option<usize>,
    dst: Option<usize>,
    dcontext: Option<usize>,
    clid: Option<usize>,
    channel: Option<usize>,
    dstchannel: Option<usize>,
    lastapp: Option<usize>,
    lastdata: Option<usize>,
    start: Option<usize>,
    answer: Option<usize>,
    end: Option<usize>,
    duration: Option<usize>,
    billsec: Option<usize>,
    disposition: Option<usize>,
    amaflags: Option<usize>,
    uniqueid: Option<usize>,
    userfield: Option<usize>,
    peeraccount: Option<usize>,
    linkedid: Option<usize>,
    sequence: Option<usize>,
    /// Number of fields a record must have (`cdr_custom`); `None` for `cdr_csv` (16–21).
    width: Option<usize>,
    /// The name of each position, for messages.
    names: Vec<&'static str>,
}

impl Fields {
    /// The fixed layout of a `columns:` list.
    fn custom(columns: &[String]) -> Fields {
        let mut f = Fields {
            width: Some(columns.len()),
            ..Fields::default()
        };
        for (i, c) in columns.iter().enumerate() {
            let name = touchstone_core::format::ASTERISK_CDR_FIELDS
                .iter()
                .find(|n| **n == c.as_str())
                .copied()
                .unwrap_or("ignore");
            f.names.push(name);
            let slot = match name {
                "accountcode" => &mut f.accountcode,
                "src" => &mut f.src,
                "dst" => &mut f.dst,
                "dcontext" => &mut f.dcontext,
                "clid" => &mut f.clid,
                "channel" => &mut f.channel,
                "dstchannel" => &mut f.dstchannel,
                "lastapp" => &mut f.lastapp,
                "lastdata" => &mut f.lastdata,
                "start" | "calldate" => &mut f.start,
                "answer" => &mut f.answer,
                "end" => &mut f.end,
                "duration" => &mut f.duration,
                "billsec" => &mut f.billsec,
                "disposition" => &mut f.disposition,
                "amaflags" => &mut f.amaflags,
                "uniqueid" => &mut f.uniqueid,
                "userfield" => &mut f.userfield,
                "peeraccount" => &mut f.peeraccount,
                "linkedid" => &mut f.linkedid,
                "sequence" => &mut f.sequence,
                _ => continue,
            };
            *slot = Some(i);
        }
        f
    }

    /// The `cdr_csv` layout of a record of this width (see the [module docs](super)).
    fn cdr_csv(r: &CsvReader<'_>) -> Fields {
        let n = r.len();
        let uid = |i: usize| looks_like_uniqueid(r.text(i));
        let int = |i: usize| {
            let t = r.text(i).trim();
            !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())
        };
        let mut f = Fields {
            accountcode: Some(0),
            src: Some(1),
            dst: Some(2),
            dcontext: Some(3),
            clid: Some(4),
            channel: Some(5),
            dstchannel: Some(6),
            lastapp: Some(7),
            lastdata: Some(8),
            start: Some(9),
            answer: Some(10),
            end: Some(11),
            duration: Some(12),
            billsec: Some(13),
            disposition: Some(14),
            amaflags: Some(15),
            ..Fields::default()
        };
        let one = |f: &mut Fields, i: usize| {
            if uid(i) {
                f.uniqueid = Some(i);
            } else {
                f.userfield = Some(i);
            }
        };
        let newcols = |f: &mut Fields, at: usize| {
            f.peeraccount = Some(at);
            f.linkedid = Some(at + 1);
            f.sequence = Some(at + 2);
        };
        match n {
            17 => one(&mut f, 16),
            19 if uid(17) && int(18) => newcols(&mut f, 16),
            20 if uid(18) && int(19) => {
                one(&mut f, 16);
                newcols(&mut f, 17);
            }
            n => {
                let slot = |i: usize| (i < n).then_some(i);
                f.uniqueid = slot(16);
                f.userfield = slot(17);
                f.peeraccount = slot(18);
                f.linkedid = slot(19);
                f.sequence = slot(20);
            }
        }
        f.names = (0..n).map(|i| f.name_at(i)).collect();
        f
    }

    fn name_at(&self, i: usize) -> &'static str {
        if let Some(name) = self.names.get(i) {
            return name;
        }
        if let Some(name) = BASE.get(i) {
            return name;
        }
        [
            (self.uniqueid, "uniqueid"),
            (self.userfield, "userfield"),
            (self.peeraccount, "peeraccount"),
            (self.linkedid, "linkedid"),
            (self.sequence, "sequence"),
        ]
        .iter()
        .find(|(at, _)| *at == Some(i))
        .map_or("?", |(_, name)| name)
    }

    /// `column N 'name'` for messages.
    fn label(&self, i: usize) -> String {
        format!("column {} '{}'", i + 1, self.name_at(i))
    }
}

/// `1722506062.123`: epoch seconds, a dot, a per-boot counter.
fn looks_like_uniqueid(s: &str) -> bool {
    match s.split_once('.') {
        Some((a, b)) => {
            !a.is_empty()
                && !b.is_empty()
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        }
        None => false,
    }
}

fn is_disposition(s: &str) -> bool {
    DISPOSITIONS
        .iter()
        .any(|d| d.eq_ignore_ascii_case(s.trim()))
}

/// Whether a record can be a `cdr_csv` line: 16 to 21 fields, a time in `start` or `end`, and
/// a disposition where `cdr_csv` writes it. `Err` says what does not fit.
fn fits_cdr_csv(r: &CsvReader<'_>) -> Result<(), String> {
    let n = r.len();
    if !(16..=21).contains(&n) {
        return Err(format!(
            "{n} fields; expected the 16 to 21 of the cdr_csv layout (accountcode … amaflags, \
             then uniqueid, userfield, peeraccount, linkedid, sequence as cdr.conf enables them)"
        ));
    }
    let time = |i: usize| parse_naive(r.text(i).trim()).is_some();
    if !time(9) && !time(11) {
        return Err(format!(
            "column 10 is {} and column 12 is {}; expected the start and end times there",
            shown(r.text(9)),
            shown(r.text(11))
        ));
    }
    if !is_disposition(r.text(14)) {
        return Err(format!(
            "column 15 is {}; expected a disposition there (ANSWERED, NO ANSWER, BUSY, FAILED, \
             CONGESTION)",
            shown(r.text(14))
        ));
    }
    Ok(())
}

const COLUMNS_HINT: &str = "if this site writes Master.csv through cdr_custom (or another \
    PBX's CDR export), set `columns:` on the source to the field order of its mapping, e.g. \
    columns: [clid, src, dst, dcontext, channel, dstchannel, lastapp, lastdata, start, answer, \
    end, duration, billsec, disposition, amaflags, accountcode, uniqueid, userfield, sequence]";

/// Whether a line is a header of column names rather than a call: nothing in it reads as a
/// time.
fn is_header(r: &CsvReader<'_>) -> bool {
    (0..r.len()).all(|i| parse_naive(r.text(i).trim()).is_none())
}

/// Daylight-saving notes of the staged records of a file.
#[derive(Default)]
struct Dst {
    gaps: u64,
    overlaps: u64,
}

pub(crate) fn read(
    opts: &ReadOptions,
    ctx: &mut Ctx<'_, '_>,
    input: &mut dyn BufRead,
) -> Result<(), ExtractError> {
    let mut reader = CsvReader::single_line(input, b',');
    let mut tb = ctx.builder(StagingTable::Calls)?;
    let custom = opts.cdr_columns.as_deref().map(Fields::custom);
    let mut first = true;
    let mut dst = Dst::default();
    while let Some(framed) = reader.next_record().map_err(|e| ctx.io(e))? {
        let is_first = std::mem::take(&mut first);
        match framed {
            Framed::Malformed {
                line,
                field,
                reason,
            } => {
                ctx.read();
                let names = custom.as_ref().map_or(BASE, |f| &f.names[..]);
                let name = |i: usize| names.get(i).map(|n| format!("{} '{n}'", i + 1));
                ctx.reject(line, malformed_reason(field, &reason, name), reader.raw())?;
            }
            Framed::Record { line } => {
                let fields = match &custom {
                    Some(f) => {
                        if is_first && is_header(&reader) {
                            ctx.warn(
                                "the first line holds column names, not a call; read as a header",
                                1,
                            );
                            continue;
                        }
                        f.clone()
                    }
                    None => {
                        if let Err(why) = fits_cdr_csv(&reader) {
                            if is_first {
                                // Nothing has been staged: the file as a whole has another
                                // layout, so none of it is read with shifted fields.
                                return Err(ExtractError::CdrLayout {
                                    file: ctx.lineage.file.to_owned(),
                                    line,
                                    detail: format!(
                                        "the first record does not fit the cdr_csv layout of \
                                         Master.csv: {why}; {COLUMNS_HINT}"
                                    ),
                                });
                            }
                            ctx.read();
                            let reason =
                                format!("does not fit the cdr_csv layout: {why}; {COLUMNS_HINT}");
                            ctx.reject(line, reason, reader.raw())?;
                            continue;
                        }
                        Fields::cdr_csv(&reader)
                    }
                };
                ctx.read();
                let mut notes = Dst::default();
                let outcome = row(&reader, &fields, opts.timezone, &mut tb, &mut notes);
                if outcome.is_ok() {
                    dst.gaps += notes.gaps;
                    dst.overlaps += notes.overlaps;
                }
                ctx.settle(&mut tb, line, outcome, reader.raw())?;
            }
        }
    }
    if dst.gaps > 0 {
        ctx.warn(
            "CDR local time in a daylight-saving gap (it never happened); read with the offset \
             before the gap",
            dst.gaps,
        );
    }
    if dst.overlaps > 0 {
        ctx.warn(
            "CDR local time in a daylight-saving overlap (it happened twice); instance chosen \
             from the record's durations",
            dst.overlaps,
        );
    }
    tb.flush(ctx.sink)
}

/// A column's text, `None` when the layout has no such column or it is empty.
fn opt<'a>(r: &'a CsvReader<'_>, i: Option<usize>) -> Option<&'a str> {
    i.map(|i| r.text(i)).filter(|s| !s.is_empty())
}

fn row(
    r: &CsvReader<'_>,
    f: &Fields,
    tz: Tz,
    tb: &mut TableBuilder,
    dst: &mut Dst,
) -> Result<(), String> {
    if let Some(width) = f.width
        && r.len() != width
    {
        return Err(format!(
            "expected {width} fields as `columns:` lists them, found {}",
            r.len()
        ));
    }
    let int = |i: Option<usize>| -> Result<Option<i64>, String> {
        let Some(i) = i else { return Ok(None) };
        let t = r.text(i).trim();
        if t.is_empty() {
            return Ok(None);
        }
        t.parse::<u32>().map(|v| Some(i64::from(v))).map_err(|_| {
            format!(
                "{}: expected a non-negative whole number, got {}",
                f.label(i),
                shown(r.text(i))
            )
        })
    };
    let mut local = |i: Option<usize>| -> Result<Option<Local>, String> {
        let Some(i) = i else { return Ok(None) };
        let t = r.text(i).trim();
        if t.is_empty() {
            return Ok(None);
        }
        let bad = || {
            format!(
                "{}: expected a local time like 2026-08-01 09:22:31, got {}",
                f.label(i),
                shown(t)
            )
        };
        let naive = parse_naive(t).ok_or_else(bad)?;
        if tz == chrono_tz::UTC {
            return Ok(Some(Local::One(naive.and_utc().timestamp_micros())));
        }
        let resolved = resolve_local(tz, naive).ok_or_else(bad)?;
        match resolved {
            Local::Two(..) => dst.overlaps += 1,
            Local::One(_) => {
                if chrono::TimeZone::from_local_datetime(&tz, &naive)
                    .single()
                    .is_none()
                {
                    dst.gaps += 1;
                }
            }
        }
        Ok(Some(resolved))
    };

    let start_label = f.start.map_or("'start'".to_owned(), |i| f.label(i));
    let start = local(f.start)?.ok_or_else(|| {
        format!("{start_label}: empty; expected a local time like 2026-08-01 09:22:31")
    })?;
    let answer = local(f.answer)?;
    let end = local(f.end)?;
    let duration = int(f.duration)?;
    let billsec = int(f.billsec)?;
    let sequence = int(f.sequence)?;
    if let Some(i) = f.disposition
        && !r.text(i).trim().is_empty()
        && !is_disposition(r.text(i))
    {
        return Err(format!(
            "{}: expected ANSWERED, NO ANSWER, BUSY, FAILED or CONGESTION, got {}",
            f.label(i),
            shown(r.text(i))
        ));
    }

    // Daylight-saving overlaps: let the record's own durations pick the instance.
    let started_at = match (start, end, duration) {
        (Local::Two(..), Some(Local::One(e)), Some(d)) => start.closest_to(e - d * MICROS),
        _ => start.earliest(),
    };
    let ended_at = end.map(|e| e.closest_to(started_at + duration.unwrap_or(0) * MICROS));
    let answered_at = answer.map(|a| match (ended_at, billsec) {
        (Some(e), Some(b)) => a.closest_to(e - b * MICROS),
        _ => a.closest_to(started_at),
    });
    let show = |t: i64| {
        chrono::DateTime::from_timestamp_micros(t)
            .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_default()
    };
    if let (Some(e), Some(i)) = (ended_at, f.end)
        && e < started_at
    {
        return Err(format!(
            "{}: the call ends ({}) before it starts ({}); expected end at or after start",
            f.label(i),
            show(e),
            show(started_at)
        ));
    }
    if let (Some(a), Some(i)) = (answered_at, f.answer)
        && (a < started_at || ended_at.is_some_and(|e| a > e))
    {
        return Err(format!(
            "{}: the call is answered ({}) outside its start and end; expected start <= answer \
             <= end",
            f.label(i),
            show(a)
        ));
    }

    let channel = opt(r, f.channel).unwrap_or("");
    let uniqueid = opt(r, f.uniqueid);
    let synthesized;
    let call_id = match uniqueid {
        Some(u) => u,
        None => {
            synthesized = format!("{channel}@{}", f.start.map_or("", |i| r.text(i)));
            synthesized.as_str()
        }
    };
    let linked_id = opt(r, f.linkedid).unwrap_or(call_id);
    let text = |i: Option<usize>| opt(r, i);

    tb.str("source_system", Some("asterisk"));
    tb.str("call_id", Some(call_id));
    tb.str("linked_id", Some(linked_id));
    tb.str("previous_call_id", None);
    tb.str("next_call_id", None);
    tb.int("sequence", sequence);
    tb.str("channel", Some("voice"));
    tb.str("initiation_method", None);
    tb.text("account_code", text(f.accountcode));
    tb.text("caller_number", text(f.src));
    tb.text("caller_id", text(f.clid));
    tb.text("dialed_number", text(f.dst));
    tb.text("context", text(f.dcontext));
    tb.text("channel_name", text(f.channel));
    tb.text("dst_channel", text(f.dstchannel));
    tb.text("last_app", text(f.lastapp));
    tb.text("last_data", text(f.lastdata));
    tb.ts("started_at", Some(started_at));
    tb.ts("answered_at", answered_at);
    tb.ts("ended_at", ended_at);
    tb.int("duration_secs", duration);
    tb.int("billsec", billsec);
    tb.text("disposition", text(f.disposition));
    tb.text("amaflags", text(f.amaflags));
    tb.str("disconnect_reason", None);
    tb.str("queue_name", None);
    tb.ts("enqueued_at", None);
    tb.ts("dequeued_at", None);
    tb.int("queue_duration_secs", None);
    tb.str("agent_id", None);
    tb.ts("agent_connected_at", None);
    tb.int("agent_interaction_secs", None);
    tb.int("customer_hold_secs", None);
    tb.int("acw_secs", None);
    tb.int("agent_connection_attempts", None);
    tb.str("user_field", text(f.userfield));
    tb.str("attributes", None);
    tb.str("peer_account", text(f.peeraccount));
    tb.ts("record_updated_at", None);
    Ok(())
}

#[cfg(test)]
mod tests {
    use touchstone_core::SourceFormat;

    use super::*;
    use crate::testutil::*;

    const ROW21: &str = r#""acct1","5551234","2000","from-pstn","""Jane"" <5551234>","SIP/trunk-0000a1","SIP/1310-0000a2","Queue","support,t","2026-08-01 09:14:02","2026-08-01 09:14:10","2026-08-01 09:20:00",358,350,"ANSWERED","DOCUMENTATION","1785593642.101","ivr_path=main>billing;ivr_errors=1","","1785593642.100",3"#;

    fn chicago() -> ReadOptions {
        ReadOptions {
            timezone: chrono_tz::America::Chicago,
            ..ReadOptions::default()
        }
    }

    #[test]
    fn full_21_column_row_maps_every_column() {
        let (stats, sink) = run_ok_with(
            SourceFormat::AsteriskCdr,
            &chicago(),
            FILE,
            format!("{ROW21}\n").as_bytes(),
        );
        assert_eq!((stats.rows_read, stats.rows_staged), (1, 1));
        let t = sink.table(StagingTable::Calls);
        assert_eq!(s(&t, "source_system", 0).as_deref(), Some("asterisk"));
        assert_eq!(s(&t, "call_id", 0).as_deref(), Some("1785593642.101"));
        assert_eq!(s(&t, "linked_id", 0).as_deref(), Some("1785593642.100"));
        assert_eq!(i(&t, "sequence", 0), Some(3));
        assert_eq!(s(&t, "channel", 0).as_deref(), Some("voice"));
        assert_eq!(s(&t, "account_code", 0).as_deref(), Some("acct1"));
        assert_eq!(s(&t, "caller_number", 0).as_deref(), Some("5551234"));
        assert_eq!(s(&t, "caller_id", 0).as_deref(), Some("\"Jane\" <5551234>"));
        assert_eq!(s(&t, "dialed_number", 0).as_deref(), Some("2000"));
        assert_eq!(s(&t, "context", 0).as_deref(), Some("from-pstn"));
        assert_eq!(
            s(&t, "channel_name", 0).as_deref(),
            Some("SIP/trunk-0000a1")
        );
        assert_eq!(s(&t, "dst_channel", 0).as_deref(), Some("SIP/1310-0000a2"));
        assert_eq!(s(&t, "last_app", 0).as_deref(), Some("Queue"));
        assert_eq!(s(&t, "last_data", 0).as_deref(), Some("support,t"));
        // Chicago in August is UTC-5.
        assert_eq!(i(&t, "started_at", 0), Some(ts("2026-08-01T14:14:02Z")));
        assert_eq!(i(&t, "answered_at", 0), Some(ts("2026-08-01T14:14:10Z")));
        assert_eq!(i(&t, "ended_at", 0), Some(ts("2026-08-01T14:20:00Z")));
        assert_eq!(i(&t, "duration_secs", 0), Some(358));
        assert_eq!(i(&t, "billsec", 0), Some(350));
        assert_eq!(s(&t, "disposition", 0).as_deref(), Some("ANSWERED"));
        assert_eq!(s(&t, "amaflags", 0).as_deref(), Some("DOCUMENTATION"));
        assert_eq!(
            s(&t, "user_field", 0).as_deref(),
            Some("ivr_path=main>billing;ivr_errors=1")
        );
        assert_eq!(s(&t, "peer_account", 0), None);
        assert_eq!(s(&t, "queue_name", 0), None);
        assert_eq!(s(&t, "_source", 0).as_deref(), Some("test_source"));
        assert_eq!(s(&t, "_source_file", 0).as_deref(), Some(FILE));
        assert_eq!(i(&t, "_source_line", 0), Some(1));
        assert_eq!(i(&t, "_ingest_date", 0), Some(20_667)); // 2026-08-02
    }

    #[test]
    fn column_counts_16_to_21_and_layouts() {
        let base = r#""","5551234","2000","from-pstn","","SIP/a-1","","Hangup","","2026-08-01 09:14:02","","2026-08-01 09:14:05",3,0,"NO ANSWER","DOCUMENTATION""#;
        let input = [
            base.to_owned(),
            format!("{base},\"1785593642.7\""),
            format!("{base},\"csat:4\""),
            format!("{base},\"1785593642.7\",\"csat:4\""),
            format!("{base},\"\",\"1785593642.1\",5"),
            format!("{base},\"1785593642.7\",\"csat:4\",\"peer\""),
            format!("{base},\"csat:5\",\"\",\"1785593642.1\",6"),
            format!("{base},\"1785593642.7\",\"csat:4\",\"peer\",\"1785593642.1\""),
            format!("{base},\"1785593642.7\",\"csat:4\",\"peer\",\"1785593642.1\",2"),
            format!("{base},\"1785593642.7\",\"csat:4\",\"peer\",\"1785593642.1\",2,\"x\""),
            r#""a","b","c""#.to_owned(),
        ]
        .join("\n");
        let (stats, sink) = run_ok(SourceFormat::AsteriskCdr, input.as_bytes());
        assert_eq!(
            (stats.rows_read, stats.rows_staged, stats.rows_rejected),
            (11, 9, 2)
        );
        let t = sink.table(StagingTable::Calls);
        let get = |col: &str, row: usize| s(&t, col, row);
        // 16: synthesized id, linked to itself, no answer.
        assert_eq!(
            get("call_id", 0).as_deref(),
            Some("SIP/a-1@2026-08-01 09:14:02")
        );
        assert_eq!(get("linked_id", 0), get("call_id", 0));
        assert_eq!(i(&t, "answered_at", 0), None);
        assert_eq!(get("caller_id", 0), None);
        // 17 as uniqueid / as userfield.
        assert_eq!(get("call_id", 1).as_deref(), Some("1785593642.7"));
        assert_eq!(get("user_field", 2).as_deref(), Some("csat:4"));
        // 18.
        assert_eq!(
            (
                get("call_id", 3).as_deref(),
                get("user_field", 3).as_deref()
            ),
            (Some("1785593642.7"), Some("csat:4"))
        );
        // 19 with newcdrcolumns only.
        assert_eq!(get("linked_id", 4).as_deref(), Some("1785593642.1"));
        assert_eq!(i(&t, "sequence", 4), Some(5));
        // 19 positional (uniqueid, userfield, peeraccount).
        assert_eq!(get("peer_account", 5).as_deref(), Some("peer"));
        assert_eq!(get("user_field", 5).as_deref(), Some("csat:4"));
        // 20 with userfield + newcdrcolumns.
        assert_eq!(
            (get("user_field", 6).as_deref(), i(&t, "sequence", 6)),
            (Some("csat:5"), Some(6))
        );
        // 20 positional, 21.
        assert_eq!(get("linked_id", 7).as_deref(), Some("1785593642.1"));
        assert_eq!(i(&t, "sequence", 8), Some(2));
        let reasons: Vec<_> = sink
            .rejects
            .iter()
            .map(|r| (r.line, r.reason.as_str()))
            .collect();
        assert_eq!(reasons[0].0, 10);
        assert!(
            reasons[0].1.contains("22 fields; expected the 16 to 21")
                && reasons[0].1.contains("`columns:`"),
            "{}",
            reasons[0].1
        );
        assert_eq!(reasons[1].0, 11);
        assert!(reasons[1].1.contains("3 fields"), "{}", reasons[1].1);
    }

    #[test]
    fn bad_values_are_rejects_naming_the_column() {
        let good = ROW21;
        let input = [
            good.replace("2026-08-01 09:14:02", "2026-08-01 9:14"),
            good.replace(",358,", ",3x5,"),
            good.replace(r#""2026-08-01 09:14:02""#, r#""""#),
            good.replace("\"from-pstn\"", "\"from\"pstn\""),
            good.replace("\"from-pstn\"", "from\"pstn"),
            good.to_owned(),
        ]
        .join("\r\n");
        let mut bytes = input.into_bytes();
        bytes.extend_from_slice(b"\r\n\"\xff\xfe\"");
        bytes.extend_from_slice(&ROW21.as_bytes()[ROW21.find(',').unwrap_or(0)..]);
        bytes.extend_from_slice(b"\r\n");
        let (stats, sink) = run_ok(SourceFormat::AsteriskCdr, &bytes);
        assert_eq!(
            (stats.rows_read, stats.rows_staged, stats.rows_rejected),
            (7, 2, 5)
        );
        // The invalid bytes in accountcode are repaired, the call staged and counted.
        assert_eq!(stats.rows_repaired, 1);
        assert_eq!(
            s(&sink.table(StagingTable::Calls), "account_code", 1).as_deref(),
            Some("\u{fffd}\u{fffd}")
        );
        let reasons: Vec<_> = sink.rejects.iter().map(|r| r.reason.clone()).collect();
        assert!(reasons[0].contains("'start'") && reasons[0].contains("2026-08-01 09:22:31"));
        assert!(reasons[1].contains("'duration'") && reasons[1].contains("whole number"));
        assert!(reasons[2].contains("'start': empty"));
        assert!(reasons[3].contains("column 4 'dcontext': text after the closing quote"));
        assert!(reasons[4].contains("column 4 'dcontext': unexpected '\"' inside an unquoted"));
        let lines: Vec<_> = sink.rejects.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![1, 2, 3, 4, 5]);
        assert_eq!(
            i(&sink.table(StagingTable::Calls), "_source_line", 0),
            Some(6)
        );
    }

    #[test]
    fn dst_gap_and_overlap_are_resolved_deterministically() {
        let row = |start: &str, answer: &str, end: &str, dur: i64, bill: i64| {
            format!(
                r#""","1","2","c","","SIP/x-1","","Dial","","{start}","{answer}","{end}",{dur},{bill},"ANSWERED","DOCUMENTATION","1.1""#
            )
        };
        let input = [
            // Spring forward gap: 02:30 does not exist in Chicago on 2026-03-08.
            row("2026-03-08 02:30:00", "", "2026-03-08 03:31:00", 60, 0),
            // Fall back overlap: 01:50 (CDT) to 01:10 (CST) is 20 minutes.
            row(
                "2026-11-01 01:50:00",
                "2026-11-01 01:55:00",
                "2026-11-01 01:10:00",
                1200,
                900,
            ),
            // A call entirely in the second 01:xx, ending after 02:00 (unambiguous end).
            row(
                "2026-11-01 01:40:00",
                "2026-11-01 01:41:00",
                "2026-11-01 02:05:00",
                1500,
                1440,
            ),
        ]
        .join("\n");
        let (_, sink) = run_ok_with(
            SourceFormat::AsteriskCdr,
            &chicago(),
            FILE,
            input.as_bytes(),
        );
        let t = sink.table(StagingTable::Calls);
        assert_eq!(i(&t, "started_at", 0), Some(ts("2026-03-08T08:30:00Z")));
        assert_eq!(i(&t, "ended_at", 0), Some(ts("2026-03-08T08:31:00Z")));
        assert_eq!(i(&t, "started_at", 1), Some(ts("2026-11-01T06:50:00Z")));
        assert_eq!(i(&t, "answered_at", 1), Some(ts("2026-11-01T06:55:00Z")));
        assert_eq!(i(&t, "ended_at", 1), Some(ts("2026-11-01T07:10:00Z")));
        assert_eq!(i(&t, "started_at", 2), Some(ts("2026-11-01T07:40:00Z")));
        assert_eq!(i(&t, "answered_at", 2), Some(ts("2026-11-01T07:41:00Z")));
        assert_eq!(i(&t, "ended_at", 2), Some(ts("2026-11-01T08:05:00Z")));
    }

    #[test]
    fn gzip_and_zstd_input() {
        let data = format!("{ROW21}\r\n{ROW21}\r\n");
        let (stats, _) = run_compressed(
            SourceFormat::AsteriskCdr,
            "Master.csv.gz",
            gzip(data.as_bytes()),
        );
        assert_eq!(stats.rows_staged, 2);
        let (stats, _) = run_compressed(
            SourceFormat::AsteriskCdr,
            "Master.csv.zst",
            zstd(data.as_bytes()),
        );
        assert_eq!(stats.rows_staged, 2);
    }
}
