//! Asterisk `queue_log` → `stg_queue_events` (see the [module docs](super)).

use std::io::BufRead;

use touchstone_core::StagingTable;

use crate::input::{Lines, shown, too_long};
use crate::table::TableBuilder;
use crate::time::parse_epoch_secs;
use crate::{Ctx, ExtractError};

pub(crate) fn read(ctx: &mut Ctx<'_, '_>, input: &mut dyn BufRead) -> Result<(), ExtractError> {
    let mut lines = Lines::new(input);
    let mut tb = ctx.builder(StagingTable::QueueEvents)?;
    while let Some(info) = lines.next_line().map_err(|e| ctx.io(e))? {
        ctx.read();
        let text = lines.text();
        let outcome = if info.truncated {
            Err(too_long())
        } else {
            row(text, &mut tb)
        };
        ctx.settle(&mut tb, info.number, outcome, text)?;
    }
    tb.flush(ctx.sink)
}

/// `NONE` and empty mean "no value" in the id columns.
fn id(s: &str) -> Option<&str> {
    (!s.is_empty() && s != "NONE").then_some(s)
}

fn row(line: &[u8], tb: &mut TableBuilder) -> Result<(), String> {
    let (text, _) = crate::text::lossy(line);
    let text = text.as_ref();
    let mut parts = text.splitn(10, '|');
    let mut head = [""; 9];
    let mut n = 0;
    for slot in &mut head {
        match parts.next() {
            Some(p) => {
                *slot = p;
                n += 1;
            }
            None => break,
        }
    }
    // Everything after data4 (data5 and any extra fields) stays together in data5.
    let data5 = parts.next();
    if n < 5 {
        return Err(format!(
            "expected at least 5 '|'-separated fields (epoch|callid|queue|agent|EVENT|data...), \
             found {n}"
        ));
    }
    let [epoch, callid, queue, agent, event, d1, d2, d3, d4] = head;
    let event_at = parse_epoch_secs(epoch.trim()).ok_or_else(|| {
        format!(
            "field 1 'epoch': expected Unix epoch seconds like 1722506062, got {}",
            shown(epoch)
        )
    })?;
    if event.is_empty() {
        return Err(
            "field 5 'event': empty; expected an event name like ENTERQUEUE or CONNECT".into(),
        );
    }
    tb.str("source_system", Some("asterisk"));
    tb.ts("event_at", Some(event_at));
    tb.str("call_id", id(callid));
    tb.str("queue", id(queue));
    tb.str("agent", id(agent));
    tb.str("event", Some(event));
    tb.text("data1", Some(d1));
    tb.text("data2", Some(d2));
    tb.text("data3", Some(d3));
    tb.text("data4", Some(d4));
    tb.text("data5", data5);
    Ok(())
}

#[cfg(test)]
mod tests {
    use touchstone_core::SourceFormat;

    use super::*;
    use crate::testutil::*;

    const LOG: &str = "1785593642|NONE|NONE|NONE|QUEUESTART|\n\
        1785593650|1785593642.101|support|NONE|ENTERQUEUE||5551234|1\n\
        \n\
        1785593660|1785593642.101|support|jsmith|CONNECT|10|1785593650.102|3\n\
        1785593900|1785593642.101|support|jsmith|COMPLETECALLER|10|240|1|extra|more|and more\n";

    #[test]
    fn events_including_system_lines_are_staged() {
        let (stats, sink) = run_ok(SourceFormat::AsteriskQueueLog, LOG.as_bytes());
        assert_eq!((stats.rows_read, stats.rows_staged), (4, 4));
        let t = sink.table(StagingTable::QueueEvents);
        assert_eq!(s(&t, "event", 0).as_deref(), Some("QUEUESTART"));
        assert_eq!(
            (s(&t, "call_id", 0), s(&t, "agent", 0), s(&t, "queue", 0)),
            (None, None, None)
        );
        assert_eq!(s(&t, "data1", 0), None);
        assert_eq!(i(&t, "event_at", 1), Some(1_785_593_650_000_000));
        assert_eq!(s(&t, "call_id", 1).as_deref(), Some("1785593642.101"));
        assert_eq!(s(&t, "data2", 1).as_deref(), Some("5551234"));
        assert_eq!(s(&t, "data3", 1).as_deref(), Some("1"));
        assert_eq!(s(&t, "agent", 2).as_deref(), Some("jsmith"));
        assert_eq!(i(&t, "_source_line", 2), Some(4));
        assert_eq!(s(&t, "data4", 3).as_deref(), Some("extra"));
        assert_eq!(s(&t, "data5", 3).as_deref(), Some("more|and more"));
    }

    #[test]
    fn bad_lines_are_rejects() {
        let mut input =
            crlf("abc|1.1|q|NONE|ENTERQUEUE\n1785593642|x|q\n1785593642|x|q|a|\n").into_bytes();
        input.extend_from_slice(b"1785593642|x\xff|q|a|PAUSE\r\n1785593642|1.1|q|a|PAUSE");
        let (stats, sink) = run_ok(SourceFormat::AsteriskQueueLog, &input);
        assert_eq!(
            (stats.rows_read, stats.rows_staged, stats.rows_rejected),
            (5, 2, 3)
        );
        // The invalid byte is repaired: the event is staged, counted as repaired.
        assert_eq!(stats.rows_repaired, 1);
        let t = sink.table(StagingTable::QueueEvents);
        assert_eq!(s(&t, "call_id", 0).as_deref(), Some("x\u{fffd}"));
        assert_eq!(i(&t, "_source_line", 0), Some(4));
        let r: Vec<_> = sink
            .rejects
            .iter()
            .map(|r| (r.line, r.reason.as_str()))
            .collect();
        assert!(r[0].1.contains("'epoch'") && r[0].1.contains("1722506062"));
        assert!(r[1].1.contains("found 3"));
        assert!(r[2].1.contains("'event': empty"));
        assert_eq!(r.iter().map(|x| x.0).collect::<Vec<_>>(), vec![1, 2, 3]);
    }

    #[test]
    fn compressed_input() {
        let (stats, _) = run_compressed(
            SourceFormat::AsteriskQueueLog,
            "queue_log.gz",
            gzip(LOG.as_bytes()),
        );
        assert_eq!(stats.rows_staged, 4);
        let (stats, _) = run_compressed(
            SourceFormat::AsteriskQueueLog,
            "queue_log.zst",
            zstd(LOG.as_bytes()),
        );
        assert_eq!(stats.rows_staged, 4);
    }
}
