//! Asterisk `cdr_csv` `Master.csv` → `stg_calls` (see the [module docs](super)).

use std::io::BufRead;

use chrono_tz::Tz;
use touchstone_core::StagingTable;

use crate::input::{CsvReader, Framed, malformed_reason, shown};
use crate::table::TableBuilder;
use crate::time::{Local, parse_naive, resolve_local};
use crate::{Ctx, ExtractError, ReadOptions};

const MICROS: i64 = 1_000_000;

/// The sixteen columns every `cdr_csv` record has, in order.
const BASE: [&str; 16] = [
    "accountcode",
    "src",
    "dst",
    "dcontext",
    "clid",
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
];

/// Where the optional columns sit in a record of a given width.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Layout {
    uniqueid: Option<usize>,
    userfield: Option<usize>,
    peeraccount: Option<usize>,
    linkedid: Option<usize>,
    sequence: Option<usize>,
}

impl Layout {
    fn of(r: &CsvReader<'_>) -> Layout {
        let uid = |i: usize| looks_like_uniqueid(r.text(i));
        let int = |i: usize| {
            let t = r.text(i).trim();
            !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())
        };
        let one = |i: usize| {
            if uid(i) {
                Layout {
                    uniqueid: Some(i),
                    ..Layout::default()
                }
            } else {
                Layout {
                    userfield: Some(i),
                    ..Layout::default()
                }
            }
        };
        let newcols = |l: Layout, at: usize| Layout {
            peeraccount: Some(at),
            linkedid: Some(at + 1),
            sequence: Some(at + 2),
            ..l
        };
        let positional = |n: usize| {
            let slot = |i: usize| (i < n).then_some(i);
            Layout {
                uniqueid: slot(16),
                userfield: slot(17),
                peeraccount: slot(18),
                linkedid: slot(19),
                sequence: slot(20),
            }
        };
        match r.len() {
            17 => one(16),
            19 if uid(17) && int(18) => newcols(Layout::default(), 16),
            20 if uid(18) && int(19) => newcols(one(16), 17),
            n => positional(n),
        }
    }

    fn name(self, i: usize) -> &'static str {
        if let Some(name) = BASE.get(i) {
            return name;
        }
        let named = [
            (self.uniqueid, "uniqueid"),
            (self.userfield, "userfield"),
            (self.peeraccount, "peeraccount"),
            (self.linkedid, "linkedid"),
            (self.sequence, "sequence"),
        ];
        named
            .iter()
            .find(|(at, _)| *at == Some(i))
            .map_or("?", |(_, name)| name)
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

pub(crate) fn read(
    opts: &ReadOptions,
    ctx: &mut Ctx<'_, '_>,
    input: &mut dyn BufRead,
) -> Result<(), ExtractError> {
    let mut reader = CsvReader::single_line(input, b',');
    let mut tb = ctx.builder(StagingTable::Calls)?;
    while let Some(framed) = reader.next_record().map_err(|e| ctx.io(e))? {
        ctx.read();
        match framed {
            Framed::Malformed {
                line,
                field,
                reason,
            } => {
                let name = |i: usize| BASE.get(i).map(|n| format!("{} '{n}'", i + 1));
                ctx.reject(line, malformed_reason(field, &reason, name), reader.raw())?;
            }
            Framed::Record { line } => {
                let outcome = row(&reader, opts.timezone, &mut tb);
                ctx.settle(&mut tb, line, outcome, reader.raw())?;
            }
        }
    }
    tb.flush(ctx.sink)
}

/// A column's text, `None` when empty.
fn opt<'a>(r: &'a CsvReader<'_>, i: Option<usize>) -> Option<&'a str> {
    i.map(|i| r.text(i)).filter(|s| !s.is_empty())
}

fn row(r: &CsvReader<'_>, tz: Tz, tb: &mut TableBuilder) -> Result<(), String> {
    let n = r.len();
    if !(16..=21).contains(&n) {
        return Err(format!(
            "expected 16 to 21 comma-separated columns (accountcode … amaflags, then uniqueid, \
             userfield, peeraccount, linkedid, sequence as cdr.conf enables them), found {n}"
        ));
    }
    let layout = Layout::of(r);
    if let Err(i) = r.check_utf8() {
        return Err(format!(
            "column {} '{}': invalid UTF-8; expected UTF-8 text",
            i + 1,
            layout.name(i)
        ));
    }
    let int = |i: usize| -> Result<Option<i64>, String> {
        let t = r.text(i).trim();
        if t.is_empty() {
            return Ok(None);
        }
        t.parse::<u32>().map(|v| Some(i64::from(v))).map_err(|_| {
            format!(
                "column {} '{}': expected a non-negative whole number, got {}",
                i + 1,
                layout.name(i),
                shown(r.text(i))
            )
        })
    };
    let local = |i: usize| -> Result<Option<Local>, String> {
        let t = r.text(i);
        if t.is_empty() {
            return Ok(None);
        }
        let bad = || {
            format!(
                "column {} '{}': expected a local time like 2026-08-01 09:22:31, got {}",
                i + 1,
                BASE[i],
                shown(t)
            )
        };
        let naive = parse_naive(t).ok_or_else(bad)?;
        if tz == chrono_tz::UTC {
            return Ok(Some(Local::One(naive.and_utc().timestamp_micros())));
        }
        resolve_local(tz, naive).map(Some).ok_or_else(bad)
    };

    let start = local(9)?.ok_or_else(|| {
        "column 10 'start': empty; expected a local time like 2026-08-01 09:22:31".to_owned()
    })?;
    let answer = local(10)?;
    let end = local(11)?;
    let duration = int(12)?;
    let billsec = int(13)?;
    let sequence = layout.sequence.map(int).transpose()?.flatten();

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

    let channel = r.text(5);
    let uniqueid = opt(r, layout.uniqueid);
    let synthesized;
    let call_id = match uniqueid {
        Some(u) => u,
        None => {
            synthesized = format!("{channel}@{}", r.text(9));
            synthesized.as_str()
        }
    };
    let linked_id = opt(r, layout.linkedid).unwrap_or(call_id);

    tb.str("source_system", Some("asterisk"));
    tb.str("call_id", Some(call_id));
    tb.str("linked_id", Some(linked_id));
    tb.str("previous_call_id", None);
    tb.str("next_call_id", None);
    tb.int("sequence", sequence);
    tb.str("channel", Some("voice"));
    tb.str("initiation_method", None);
    tb.text("account_code", Some(r.text(0)));
    tb.text("caller_number", Some(r.text(1)));
    tb.text("caller_id", Some(r.text(4)));
    tb.text("dialed_number", Some(r.text(2)));
    tb.text("context", Some(r.text(3)));
    tb.text("channel_name", Some(channel));
    tb.text("dst_channel", Some(r.text(6)));
    tb.text("last_app", Some(r.text(7)));
    tb.text("last_data", Some(r.text(8)));
    tb.ts("started_at", Some(started_at));
    tb.ts("answered_at", answered_at);
    tb.ts("ended_at", ended_at);
    tb.int("duration_secs", duration);
    tb.int("billsec", billsec);
    tb.text("disposition", Some(r.text(14)));
    tb.text("amaflags", Some(r.text(15)));
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
    tb.str("user_field", opt(r, layout.userfield));
    tb.str("attributes", None);
    tb.str("peer_account", opt(r, layout.peeraccount));
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
        assert!(reasons[0].1.contains("found 22"), "{}", reasons[0].1);
        assert_eq!(reasons[1].0, 11);
        assert!(
            reasons[1].1.contains("expected 16 to 21"),
            "{}",
            reasons[1].1
        );
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
            (7, 1, 6)
        );
        let reasons: Vec<_> = sink.rejects.iter().map(|r| r.reason.clone()).collect();
        assert!(reasons[0].contains("'start'") && reasons[0].contains("2026-08-01 09:22:31"));
        assert!(reasons[1].contains("'duration'") && reasons[1].contains("whole number"));
        assert!(reasons[2].contains("'start': empty"));
        assert!(reasons[3].contains("column 4 'dcontext': text after the closing quote"));
        assert!(reasons[4].contains("column 4 'dcontext': unexpected '\"' inside an unquoted"));
        assert!(
            reasons[5].contains("'accountcode': invalid UTF-8"),
            "{}",
            reasons[5]
        );
        let lines: Vec<_> = sink.rejects.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![1, 2, 3, 4, 5, 7]);
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
