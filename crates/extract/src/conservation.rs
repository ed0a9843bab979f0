//! Property tests of the central invariant: for every format, random mixtures of valid and
//! corrupted records always satisfy `rows_read = rows_staged + rows_rejected`; every staged
//! record is in the batches; every reject points at a corrupted record, with a reason saying
//! what was expected; and no valid record is lost.

use proptest::prelude::*;
use serde_json::json;
use touchstone_core::{SourceFormat, StagingTable};

use crate::testutil::{Collect, run};
use crate::{FileStats, ReadOptions};

/// A small deterministic generator seeded per record.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
    /// An instant in 2026 (DST transitions included), as (date, time) parts.
    fn instant(&mut self) -> (String, String) {
        let days = [(3, 8), (11, 1), (8, 1), (1, 15), (12, 31)];
        let (m, d) = days[self.below(days.len() as u64) as usize];
        (
            format!("2026-{m:02}-{d:02}"),
            format!(
                "{:02}:{:02}:{:02}",
                self.below(24),
                self.below(60),
                self.below(60)
            ),
        )
    }
    fn rfc3339(&mut self, fraction: &str) -> String {
        let (d, t) = self.instant();
        format!("{d}T{t}{fraction}Z")
    }
}

/// Corruptions that apply to any record's bytes.
#[derive(Debug, Clone, Copy)]
enum Damage {
    Truncate,
    Quote,
    Utf8,
}

fn damage(bytes: &mut Vec<u8>, how: Damage, rng: &mut Rng) {
    let at = rng.below(bytes.len() as u64) as usize;
    match how {
        Damage::Truncate => bytes.truncate(at),
        Damage::Quote => bytes.insert(at, b'"'),
        Damage::Utf8 => bytes.insert(at, 0xFF),
    }
}

/// One generated record: its text (no line end) and whether it was corrupted.
struct Record {
    bytes: Vec<u8>,
    corrupt: bool,
}

/// Builds a file from records: LF or CRLF, blank lines sprinkled in. Returns the file and, per
/// record, the range of lines it occupies.
fn assemble(
    header: Option<&str>,
    records: &[Record],
    crlf: bool,
    blanks: u64,
) -> (Vec<u8>, Vec<(u64, u64)>) {
    let eol: &[u8] = if crlf { b"\r\n" } else { b"\n" };
    let mut out = Vec::new();
    let mut line = 1u64;
    if let Some(h) = header {
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(eol);
        line += 1;
    }
    let mut spans = Vec::new();
    for (i, r) in records.iter().enumerate() {
        if blanks != 0 && (i as u64 * 7 + blanks).is_multiple_of(5) {
            out.extend_from_slice(eol);
            line += 1;
        }
        let mut text = r.bytes.clone();
        if crlf {
            // Line breaks inside quoted fields follow the file's convention.
            let mut converted = Vec::with_capacity(text.len());
            for &b in &text {
                if b == b'\n' {
                    converted.push(b'\r');
                }
                converted.push(b);
            }
            text = converted;
        }
        let lines = text.iter().filter(|&&b| b == b'\n').count() as u64;
        spans.push((line, line + lines));
        out.extend_from_slice(&text);
        out.extend_from_slice(eol);
        line += lines + 1;
    }
    (out, spans)
}

/// What every format must satisfy. Returns what the file read gave, for format-specific checks.
fn check(
    format: SourceFormat,
    opts: &ReadOptions,
    file: &str,
    input: &[u8],
    records: &[Record],
    spans: &[(u64, u64)],
    grain_tables: &[StagingTable],
) -> Result<(FileStats, Collect), TestCaseError> {
    let multiline = matches!(
        format,
        SourceFormat::SurveyCsv | SourceFormat::SalesforceCsv
    );
    let (stats, sink) = run(format, opts, file, input);
    let stats = stats.map_err(|e| TestCaseError::fail(format!("file error: {e}")))?;
    prop_assert!(stats.conserved(), "{:?}", stats);
    prop_assert_eq!(stats.rows_rejected, sink.rejects.len() as u64);
    if let [table] = grain_tables {
        prop_assert_eq!(stats.rows_staged, sink.rows(*table) as u64);
    }
    let valid = records.iter().filter(|r| !r.corrupt).count() as u64;
    // A record is at least one non-blank line.
    let lines = input
        .split(|&b| b == b'\n')
        .filter(|l| !crate::input::is_blank(l))
        .count() as u64;
    prop_assert!(
        stats.rows_read <= lines,
        "read {} > {} lines",
        stats.rows_read,
        lines
    );
    // Where records may span lines, two stray quotes can pair up across lines into a record that
    // is valid CSV with valid values: the records in between are then inside that record, as the
    // CSV grammar says (any CSV reader would read them so). Readers reject the first line and
    // re-read the rest whenever such a record does not parse, so this needs a record valid
    // throughout; the no-loss checks below leave out the valid records it could enclose.
    let exposed = if multiline {
        let first_bad = records.iter().position(|r| r.corrupt);
        let last_bad = records.iter().rposition(|r| r.corrupt);
        match (first_bad, last_bad) {
            (Some(a), Some(b)) => records[a..b].iter().filter(|r| !r.corrupt).count() as u64,
            _ => 0,
        }
    } else {
        0
    };
    // Each valid record is read on its own; a run of adjacent corrupted records is at least one
    // (in formats whose records may span lines, two damaged quotes can pair up across lines).
    let mut runs = 0;
    let mut in_run = false;
    for r in records.iter().filter(|r| !crate::input::is_blank(&r.bytes)) {
        if r.corrupt && !in_run {
            runs += 1;
        }
        in_run = r.corrupt;
    }
    let runs = if exposed > 0 { runs.min(1) } else { runs };
    prop_assert!(
        stats.rows_read >= valid - exposed + runs,
        "read {} < records",
        stats.rows_read
    );
    // No valid record is lost...
    prop_assert!(
        stats.rows_staged >= valid - exposed,
        "staged {} < valid {}",
        stats.rows_staged,
        valid
    );
    // ...and every reject is a corrupted record, at the line it starts on, with a reason.
    for r in &sink.rejects {
        let hit = records
            .iter()
            .zip(spans)
            .any(|(rec, &(a, b))| rec.corrupt && (a..=b).contains(&r.line));
        prop_assert!(hit, "reject of a valid record: {:?}", r);
        prop_assert!(
            r.reason.contains("expected"),
            "reason without expectation: {:?}",
            r
        );
        prop_assert!(r.raw.len() <= crate::input::REJECT_RAW_BYTES + 8);
    }
    Ok((stats, sink))
}

/// Records that are not blank (a truncation may leave nothing).
fn nonblank(records: &[Record]) -> u64 {
    records
        .iter()
        .filter(|r| !crate::input::is_blank(&r.bytes))
        .count() as u64
}

fn seeds() -> impl Strategy<Value = (Vec<(u8, u64)>, bool, u64)> {
    (
        prop::collection::vec((0u8..24, any::<u64>()), 0..40),
        any::<bool>(),
        0u64..3,
    )
}

/// Applies generic damage for selectors 16..: truncation, stray quote, invalid UTF-8.
fn generic(sel: u8, mut bytes: Vec<u8>, rng: &mut Rng, quote: bool) -> Record {
    let how = match sel % 3 {
        0 => Damage::Truncate,
        1 if quote => Damage::Quote,
        _ => Damage::Utf8,
    };
    damage(&mut bytes, how, rng);
    Record {
        bytes,
        corrupt: true,
    }
}

// ---------------------------------------------------------------- Asterisk CDR

fn cdr_record(sel: u8, seed: u64) -> Record {
    let mut rng = Rng(seed);
    let (d, t) = rng.instant();
    let start = format!("{d} {t}");
    let answered = rng.chance(70);
    let duration = rng.below(4000);
    let billsec = if answered { rng.below(duration + 1) } else { 0 };
    let name = rng
        .pick(&["Jane", "O'Brien", "Li, Wei", "\"Bob\""])
        .replace('"', "\"\"");
    let num = rng.below(9_000_000) + 1_000_000;
    let mut fields = vec![
        format!("\"{}\"", rng.pick(&["", "acct1"])),
        format!("\"{num}\""),
        "\"2000\"".into(),
        "\"from-pstn\"".into(),
        format!("\"\"\"{name}\"\" <{num}>\""),
        format!("\"SIP/trunk-{:08x}\"", rng.below(1 << 30)),
        "\"SIP/1310-0000a2\"".into(),
        "\"Queue\"".into(),
        "\"support,t\"".into(),
        format!("\"{start}\""),
        if answered {
            format!("\"{start}\"")
        } else {
            "\"\"".into()
        },
        format!("\"{start}\""),
        duration.to_string(),
        billsec.to_string(),
        format!("\"{}\"", rng.pick(&["ANSWERED", "NO ANSWER", "BUSY"])),
        "\"DOCUMENTATION\"".into(),
    ];
    let extra = rng.below(6) as usize;
    let optional = [
        format!(
            "\"{}.{}\"",
            1_785_000_000 + rng.below(100_000),
            rng.below(999)
        ),
        "\"ivr_path=main>billing;ivr_errors=1\"".into(),
        "\"\"".into(),
        format!(
            "\"{}.{}\"",
            1_785_000_000 + rng.below(100_000),
            rng.below(999)
        ),
        rng.below(10).to_string(),
    ];
    fields.extend(optional.into_iter().take(extra));
    let mut corrupt = true;
    match sel {
        0 => fields.truncate(15),
        1 => fields.extend(std::iter::repeat_n("\"x\"".to_string(), 6)),
        2 => fields[9] = "\"2026-13-45 99:00:00\"".into(),
        3 => fields[12] = "1x".into(),
        4 => fields[9] = "\"\"".into(),
        16..=23 => {
            return generic(sel, fields.join(",").into_bytes(), &mut rng, true);
        }
        _ => corrupt = false,
    }
    Record {
        bytes: fields.join(",").into_bytes(),
        corrupt,
    }
}

proptest! {
    #[test]
    fn cdr_conservation((recs, crlf, blanks) in seeds(), first in any::<u64>()) {
        // The first record decides whether the file has the cdr_csv layout at all (a file whose
        // first record does not fit is rejected as a file, with a hint naming `columns:`), so
        // it is a valid one here.
        let records: Vec<_> = std::iter::once(cdr_record(15, first))
            .chain(recs.iter().map(|&(s, seed)| cdr_record(s, seed)))
            .collect();
        let (input, spans) = assemble(None, &records, crlf, blanks);
        let opts = ReadOptions { timezone: chrono_tz::America::Chicago, ..ReadOptions::default() };
        let (stats, _) = check(SourceFormat::AsteriskCdr, &opts, "Master.csv", &input, &records, &spans, &[StagingTable::Calls])?;
        // One line, one record: exactly.
        prop_assert_eq!(stats.rows_read, nonblank(&records));
    }
}

// ---------------------------------------------------------------- queue_log

fn queue_record(sel: u8, seed: u64) -> Record {
    let mut rng = Rng(seed);
    let epoch = 1_785_000_000 + rng.below(1_000_000);
    let call = if rng.chance(20) {
        "NONE".to_owned()
    } else {
        format!("{epoch}.{}", rng.below(99))
    };
    let agent = rng.pick(&["NONE", "jsmith", "akim"]);
    let event = rng.pick(&[
        "ENTERQUEUE",
        "CONNECT",
        "ABANDON",
        "QUEUESTART",
        "COMPLETECALLER",
    ]);
    let mut line = format!("{epoch}|{call}|support|{agent}|{event}");
    for _ in 0..rng.below(9) {
        line.push('|');
        line.push_str(&rng.below(500).to_string());
    }
    let bad = match sel {
        0 => format!("{epoch}|{call}|support"),
        1 => line.replacen(&epoch.to_string(), "17x5", 1),
        2 => format!("{epoch}|{call}|support|{agent}|"),
        16..=23 => return generic(sel, line.into_bytes(), &mut rng, false),
        _ => {
            return Record {
                bytes: line.into_bytes(),
                corrupt: false,
            };
        }
    };
    Record {
        bytes: bad.into_bytes(),
        corrupt: true,
    }
}

proptest! {
    #[test]
    fn queue_log_conservation((recs, crlf, blanks) in seeds()) {
        let records: Vec<_> = recs.iter().map(|&(s, seed)| queue_record(s, seed)).collect();
        let (input, spans) = assemble(None, &records, crlf, blanks);
        let (stats, _) = check(SourceFormat::AsteriskQueueLog, &ReadOptions::default(), "queue_log", &input, &records, &spans, &[StagingTable::QueueEvents])?;
        // One line, one record: exactly.
        prop_assert_eq!(stats.rows_read, nonblank(&records));
    }
}

// ---------------------------------------------------------------- Amazon Connect CTR

fn ctr_record(sel: u8, seed: u64) -> Record {
    let mut rng = Rng(seed);
    let id = format!("{:016x}", rng.next());
    let mut v = json!({
        "AWSAccountId": "123456789012",
        "ContactId": id,
        "Channel": rng.pick(&["VOICE", "CHAT"]),
        "InitiationMethod": rng.pick(&["INBOUND", "TRANSFER"]),
        "InitiationTimestamp": rng.rfc3339(""),
        "DisconnectTimestamp": rng.rfc3339(""),
        "LastUpdateTimestamp": rng.rfc3339(""),
        "CustomerEndpoint": {"Address": "+13125550143", "Type": "TELEPHONE_NUMBER"},
        "Attributes": {"ivr_path": "main>billing", "note": "a \"quoted\" {brace}"},
        "Queue": {"Name": "billing", "EnqueueTimestamp": rng.rfc3339(""), "Duration": rng.below(600)},
    });
    if rng.chance(50) {
        v["Agent"] = json!({"Username": "jsmith", "AgentInteractionDuration": rng.below(900)});
    } else if rng.chance(50) {
        v["Agent"] = serde_json::Value::Null;
    }
    let mut corrupt = true;
    match sel {
        0 => {
            v.as_object_mut().map(|o| o.remove("ContactId"));
        }
        1 => {
            v.as_object_mut().map(|o| o.remove("InitiationTimestamp"));
        }
        2 => v["DisconnectTimestamp"] = json!("2026-08-01 14:00"),
        3 => v["Queue"]["Duration"] = json!("long"),
        4 => {
            let text = v.to_string().replacen(':', ";", 1);
            return Record {
                bytes: text.into_bytes(),
                corrupt: true,
            };
        }
        16..=23 => return generic(sel, v.to_string().into_bytes(), &mut rng, false),
        _ => corrupt = false,
    }
    Record {
        bytes: v.to_string().into_bytes(),
        corrupt,
    }
}

proptest! {
    #[test]
    fn ctr_conservation((recs, crlf, blanks) in seeds()) {
        let records: Vec<_> = recs.iter().map(|&(s, seed)| ctr_record(s, seed)).collect();
        let (input, spans) = assemble(None, &records, crlf, blanks);
        let (stats, _) = check(SourceFormat::AmazonConnectCtr, &ReadOptions::default(), "ctr.json", &input, &records, &spans, &[StagingTable::Calls])?;
        prop_assert_eq!(stats.rows_read, nonblank(&records));
    }

    #[test]
    fn ctr_concatenated_conservation(recs in prop::collection::vec((0u8..24, any::<u64>()), 0..30)) {
        // Firehose style: no separators at all. Damage that cuts an object may merge it with
        // the next one, so only the invariant and the valid prefix are checked here.
        let records: Vec<_> = recs.iter().map(|&(s, seed)| ctr_record(s, seed)).collect();
        let input: Vec<u8> = records.iter().flat_map(|r| r.bytes.clone()).collect();
        let (stats, sink) = run(SourceFormat::AmazonConnectCtr, &ReadOptions::default(), "ctr.json", &input);
        let stats = stats.map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(stats.rows_read, stats.rows_staged + stats.rows_rejected);
        prop_assert_eq!(stats.rows_staged, sink.rows(StagingTable::Calls) as u64);
        let leading_valid = records.iter().take_while(|r| !r.corrupt).count() as u64;
        prop_assert!(stats.rows_staged >= leading_valid);
        for r in &sink.rejects {
            prop_assert!(r.line == 1 && r.reason.contains("expected"), "{:?}", r);
        }
    }
}

// ---------------------------------------------------------------- LiveChat

fn chat_record(sel: u8, seed: u64) -> Record {
    let mut rng = Rng(seed);
    let mut threads = Vec::new();
    for t in 0..1 + rng.below(2) {
        let mut events = Vec::new();
        for e in 0..rng.below(5) {
            events.push(json!({
                "id": format!("e{t}{e}"),
                "created_at": rng.rfc3339(".123456"),
                "type": rng.pick(&["message", "system_message", "file"]),
                "author_id": rng.pick(&["v-1", "jsmith@example.com"]),
                "text": "hi, \"there\"\n",
                "visibility": rng.pick(&["all", "agents"]),
            }));
        }
        threads.push(json!({
            "id": format!("T{t}"),
            "created_at": rng.rfc3339(".000000"),
            "tags": ["a", "b"],
            "properties": {"rating": {"score": rng.below(2)}},
            "events": events,
        }));
    }
    let mut v = json!({
        "id": format!("Q{:08X}", rng.next() as u32),
        "users": [
            {"id": "v-1", "type": "customer", "email": "Jane@x.com",
             "session_fields": [{"anonymous_id": "anon"}]},
            {"id": "jsmith@example.com", "type": "agent"}
        ],
        "threads": threads,
    });
    let mut corrupt = true;
    match sel {
        0 => v["threads"][0]["created_at"] = json!("soon"),
        1 => {
            v["threads"][0].as_object_mut().map(|o| o.remove("id"));
        }
        2 => v["threads"] = json!([]),
        3 => {
            let text = v.to_string().replacen(',', ",,", 1);
            return Record {
                bytes: text.into_bytes(),
                corrupt: true,
            };
        }
        16..=23 => return generic(sel, v.to_string().into_bytes(), &mut rng, false),
        _ => corrupt = false,
    }
    Record {
        bytes: v.to_string().into_bytes(),
        corrupt,
    }
}

proptest! {
    #[test]
    fn livechat_conservation((recs, crlf, blanks) in seeds()) {
        let records: Vec<_> = recs.iter().map(|&(s, seed)| chat_record(s, seed)).collect();
        let (input, spans) = assemble(None, &records, crlf, blanks);
        let (stats, sink) = check(SourceFormat::Livechat, &ReadOptions::default(), "chats.jsonl", &input, &records, &spans, &[])?;
        prop_assert_eq!(stats.rows_read, nonblank(&records));
        // Every staged chat has at least one thread row; no thread row without a staged chat.
        let chats = sink.table(StagingTable::Chats);
        let ids: std::collections::BTreeSet<_> =
            (0..chats.num_rows()).filter_map(|r| crate::testutil::i(&chats, "_source_line", r)).collect();
        prop_assert_eq!(ids.len() as u64, stats.rows_staged);
    }
}

// ---------------------------------------------------------------- Survey CSV

const SURVEY_HEADER: &str = "Response ID,Survey,Metric,Scale Min,Scale Max,Score,Comment,Respondent Type,Respondent,Email,Phone,Agent,Channel,Interaction ID,Sent At,Responded At";

fn survey_record(sel: u8, seed: u64) -> Record {
    let mut rng = Rng(seed);
    let (metric, min, max) = match rng.below(4) {
        0 => ("csat", 1, 5),
        1 => ("nps", 0, 10),
        2 => ("ces", 1, 7),
        _ => ("self_rating", 1, 5),
    };
    let score = min + rng.below((max - min + 1) as u64) as i64;
    let comment = match rng.below(4) {
        0 => String::new(),
        1 => "Quick.".into(),
        2 => "\"Slow, then \"\"fine\"\"\"".into(),
        _ => "\"First line\nsecond, line\"".into(),
    };
    let (d, t) = rng.instant();
    let mut fields: Vec<String> = vec![
        format!("r{}", rng.next() % 100_000),
        "Post-contact".into(),
        metric.into(),
        min.to_string(),
        max.to_string(),
        score.to_string(),
        comment,
        "customer".into(),
        "jane@example.com".into(),
        "jane@example.com".into(),
        "".into(),
        "jsmith".into(),
        "voice".into(),
        "1785593642.1".into(),
        "".into(),
        format!("{d}T{t}-05:00"),
    ];
    let mut corrupt = true;
    match sel {
        0 => {
            fields.pop();
        }
        1 => fields[2] = "happiness".into(),
        2 => fields[5] = (max + 1).to_string(),
        3 => fields[5] = "four".into(),
        4 => fields[15] = format!("{d} {t}"),
        16..=23 => return generic(sel, fields.join(",").into_bytes(), &mut rng, true),
        _ => corrupt = false,
    }
    Record {
        bytes: fields.join(",").into_bytes(),
        corrupt,
    }
}

proptest! {
    #[test]
    fn survey_conservation((recs, crlf, blanks) in seeds()) {
        let records: Vec<_> = recs.iter().map(|&(s, seed)| survey_record(s, seed)).collect();
        let (input, spans) = assemble(Some(SURVEY_HEADER), &records, crlf, blanks);
        check(SourceFormat::SurveyCsv, &ReadOptions::default(), "responses.csv", &input, &records, &spans, &[StagingTable::SurveyResponses])?;
    }
}

// ---------------------------------------------------------------- Salesforce

const OPP_HEADER: &str = "\"Id\",\"IsDeleted\",\"AccountId\",\"Name\",\"StageName\",\"Amount\",\"Probability\",\"CloseDate\",\"Type\",\"LeadSource\",\"IsClosed\",\"IsWon\",\"OwnerId\",\"CreatedDate\",\"LastModifiedDate\"";

fn opportunity_record(sel: u8, seed: u64) -> Record {
    let mut rng = Rng(seed);
    let (d, t) = rng.instant();
    let mut fields: Vec<String> = vec![
        format!("006{:015}", rng.below(1_000_000_000)),
        rng.pick(&["false", "true"]).into(),
        format!("001{:015}", rng.below(1_000_000_000)),
        rng.pick(&["Renewal, 2026", "Upsell \"Gold\"", ""])
            .replace('"', "\"\""),
        "Closed Won".into(),
        format!("{}.{}", rng.below(100_000), rng.below(100)),
        rng.below(101).to_string(),
        d.clone(),
        "".into(),
        "Web".into(),
        "true".into(),
        rng.pick(&["true", "false"]).into(),
        "005000000000001AAA".into(),
        format!("{d}T{t}.000Z"),
        format!("{d}T{t}.000+0000"),
    ];
    let mut corrupt = true;
    match sel {
        0 => fields.push("extra".into()),
        1 => fields[13] = format!("{d} {t}"),
        2 => fields[11] = "yes".into(),
        3 => fields[5] = "12,5".into(),
        4 => fields[0] = String::new(),
        _ => corrupt = false,
    }
    let line = fields
        .iter()
        .map(|f| format!("\"{f}\""))
        .collect::<Vec<_>>()
        .join(",");
    if (16..=23).contains(&sel) {
        return generic(sel, line.into_bytes(), &mut rng, true);
    }
    Record {
        bytes: line.into_bytes(),
        corrupt,
    }
}

proptest! {
    #[test]
    fn salesforce_conservation((recs, crlf, blanks) in seeds()) {
        let records: Vec<_> = recs.iter().map(|&(s, seed)| opportunity_record(s, seed)).collect();
        let (input, spans) = assemble(Some(OPP_HEADER), &records, crlf, blanks);
        check(SourceFormat::SalesforceCsv, &ReadOptions::default(), "Opportunity.csv", &input, &records, &spans, &[StagingTable::Opportunities])?;
    }
}

// ---------------------------------------------------------------- Segment

fn segment_record(sel: u8, seed: u64) -> Record {
    let mut rng = Rng(seed);
    let kind = rng.pick(&["page", "track", "identify"]);
    let mut v = json!({
        "messageId": format!("m{}", rng.next()),
        "type": kind,
        "anonymousId": "anon-1",
        "timestamp": rng.rfc3339(".123"),
        "context": {"page": {"url": "https://ex.com/help", "path": "/help"}, "traits": {"email": "a@b.c"}},
    });
    if kind == "track" {
        v["event"] = json!("Bot Search");
        v["properties"] = json!({"query": "refund", "result_count": rng.below(20)});
    }
    let mut corrupt = true;
    match sel {
        0 => {
            v.as_object_mut().map(|o| o.remove("messageId"));
        }
        1 => {
            v.as_object_mut().map(|o| o.remove("timestamp"));
        }
        2 => v["timestamp"] = json!("1785594151"),
        3 => {
            v["type"] = json!("track");
            v["event"] = json!("Bot Search");
            v["properties"] = json!({"result_count": "lots"});
        }
        4 => {
            let text = v.to_string().replacen('{', "[", 1);
            return Record {
                bytes: text.into_bytes(),
                corrupt: true,
            };
        }
        16..=23 => return generic(sel, v.to_string().into_bytes(), &mut rng, false),
        _ => corrupt = false,
    }
    Record {
        bytes: v.to_string().into_bytes(),
        corrupt,
    }
}

proptest! {
    #[test]
    fn segment_conservation((recs, crlf, blanks) in seeds()) {
        let records: Vec<_> = recs.iter().map(|&(s, seed)| segment_record(s, seed)).collect();
        let (input, spans) = assemble(None, &records, crlf, blanks);
        let (stats, _) = check(SourceFormat::SegmentEvents, &ReadOptions::default(), "events.ndjson", &input, &records, &spans, &[StagingTable::WebEvents])?;
        prop_assert_eq!(stats.rows_read, nonblank(&records));
    }
}

#[test]
fn large_files_are_sent_in_bounded_batches() {
    let mut log = String::new();
    for i in 0..20_000 {
        log.push_str(&format!(
            "{}|{i}.1|q|NONE|ENTERQUEUE||555|1\n",
            1_785_000_000 + i
        ));
    }
    let (stats, sink) = run(
        SourceFormat::AsteriskQueueLog,
        &ReadOptions::default(),
        "queue_log",
        log.as_bytes(),
    );
    assert_eq!(stats.ok().map(|s| s.rows_staged), Some(20_000));
    let sizes: Vec<_> = sink.batches[&StagingTable::QueueEvents]
        .iter()
        .map(|b| b.num_rows())
        .collect();
    assert_eq!(
        sizes,
        vec![
            crate::BATCH_ROWS,
            crate::BATCH_ROWS,
            20_000 - 2 * crate::BATCH_ROWS
        ]
    );
}

// ---------------------------------------------------------------- JSON shapes

/// How a JSON export lays its records out.
#[derive(Debug, Clone, Copy)]
enum Shape {
    Lines,
    Concatenated,
    PrettyArray,
    ArrayTrailingCommas,
    Envelope,
    PrettyEnvelopePages,
}

const SHAPES: [Shape; 6] = [
    Shape::Lines,
    Shape::Concatenated,
    Shape::PrettyArray,
    Shape::ArrayTrailingCommas,
    Shape::Envelope,
    Shape::PrettyEnvelopePages,
];

/// The records (compact JSON, each valid) laid out in `shape`; `list` is the envelope key.
fn lay_out(records: &[serde_json::Value], shape: Shape, list: &str) -> Vec<u8> {
    let compact: Vec<String> = records.iter().map(|r| r.to_string()).collect();
    let text = match shape {
        Shape::Lines => compact.iter().map(|r| format!("{r}\n")).collect(),
        Shape::Concatenated => compact.concat(),
        Shape::PrettyArray => serde_json::to_string_pretty(records).unwrap_or_default(),
        Shape::ArrayTrailingCommas => {
            let mut s = "[\n".to_owned();
            for r in &compact {
                s.push_str(r);
                s.push_str(",\n");
            }
            s.push_str("]\n");
            s
        }
        Shape::Envelope => {
            format!(
                "{{\"{list}\":[{}],\"count\":{},\"next_page\":null}}",
                compact.join(","),
                records.len() * 10
            )
        }
        Shape::PrettyEnvelopePages => records
            .chunks(3)
            .map(|page| {
                serde_json::to_string_pretty(&json!({
                    "count": 999,
                    list: page,
                    "next_page": "https://example.com/?page=2",
                }))
                .unwrap_or_default()
                    + "\n"
            })
            .collect(),
    };
    text.into_bytes()
}

/// The staged ids of a table column, in order.
fn staged_ids(sink: &Collect, table: StagingTable, column: &str) -> Vec<Option<String>> {
    let t = sink.table(table);
    (0..t.num_rows())
        .map(|r| crate::testutil::s(&t, column, r))
        .collect()
}

proptest! {
    /// Whatever the layout, the same records are read, staged and deduplicated the same way.
    #[test]
    fn json_shapes_do_not_change_what_is_staged(
        recs in prop::collection::vec((0u8..16, any::<u64>(), 0u8..4), 0..25),
    ) {
        // Segment events; a quarter are copies of an earlier event (another delivery).
        let mut events: Vec<serde_json::Value> = Vec::new();
        for (sel, seed, dup) in &recs {
            if *dup == 0 && !events.is_empty() {
                let copy = events[(*seed as usize) % events.len()].clone();
                events.push(copy);
            } else {
                let r = segment_record(*sel, *seed);
                if !r.corrupt
                    && let Ok(v) = serde_json::from_slice::<serde_json::Value>(&r.bytes)
                {
                    events.push(v);
                }
            }
        }
        let mut reference: Option<(FileStats, Vec<Option<String>>)> = None;
        for shape in SHAPES {
            let input = lay_out(&events, shape, "batch");
            let (stats, sink) = run(SourceFormat::SegmentEvents, &ReadOptions::default(), "events.json", &input);
            let stats = stats.map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(stats.conserved(), "{:?}: {:?}", shape, stats);
            prop_assert_eq!(stats.rows_read, events.len() as u64, "{:?}", shape);
            prop_assert_eq!(stats.rows_rejected, 0, "{:?}: {:?}", shape, sink.rejects);
            let ids = staged_ids(&sink, StagingTable::WebEvents, "message_id");
            match &reference {
                None => reference = Some((stats, ids)),
                Some((s0, ids0)) => {
                    prop_assert_eq!(
                        (stats.rows_staged, stats.duplicates),
                        (s0.rows_staged, s0.duplicates),
                        "{:?}", shape
                    );
                    prop_assert_eq!(&ids, ids0, "{:?}", shape);
                }
            }
        }
    }

    /// Damage inside an array or an envelope never loses the records before it, and every
    /// record read is staged, rejected or a duplicate.
    #[test]
    fn damaged_json_shapes_conserve_rows(
        recs in prop::collection::vec((0u8..24, any::<u64>()), 1..20),
        shape in 0usize..6,
        cut in any::<u64>(),
    ) {
        let shape = SHAPES[shape];
        let records: Vec<Record> = recs.iter().map(|&(s, seed)| segment_record(s, seed)).collect();
        let valid: Vec<serde_json::Value> = records
            .iter()
            .filter(|r| !r.corrupt)
            .filter_map(|r| serde_json::from_slice(&r.bytes).ok())
            .collect();
        let mut input = lay_out(&valid, shape, "batch");
        // Cut the file somewhere (a transfer that stopped).
        let at = if input.is_empty() { 0 } else { (cut % input.len() as u64) as usize };
        let prefix_valid = {
            let whole = lay_out(&valid, shape, "batch");
            input.truncate(at);
            // Records that end before the cut are complete.
            valid
                .iter()
                .filter(|v| {
                    let text = v.to_string();
                    whole.windows(text.len()).position(|w| w == text.as_bytes())
                        .is_some_and(|p| p + text.len() < at)
                })
                .count() as u64
        };
        let (stats, _) = run(SourceFormat::SegmentEvents, &ReadOptions::default(), "events.json", &input);
        let stats = stats.map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(stats.conserved(), "{:?}", stats);
        // Compact layouts keep every complete record (pretty ones re-indent, so the search
        // above finds none of them and this holds trivially).
        prop_assert!(stats.rows_staged + stats.duplicates >= prefix_valid, "{:?} {:?}", shape, stats);
    }
}

// ---------------------------------------------------------------- JSON bad input, by name

/// One Firehose CTR file holding every kind of bad JSON input the issue names, one after the
/// other: where each record went is checked one by one, and nothing is lost.
#[test]
fn json_bad_input_every_record_accounted_for() {
    let ctr = |id: &str, note: &str| {
        json!({
            "AWSAccountId": "123456789012",
            "ContactId": id,
            "Channel": "VOICE",
            "InitiationMethod": "INBOUND",
            "InitiationTimestamp": "2026-08-01T14:00:00Z",
            "DisconnectTimestamp": "2026-08-01T14:05:00Z",
            "LastUpdateTimestamp": "2026-08-01T14:06:00Z",
            "CustomerEndpoint": {"Address": "+13125550143", "Type": "TELEPHONE_NUMBER"},
            "Attributes": {"note": note},
        })
        .to_string()
        .into_bytes()
    };
    let mut input = Vec::new();
    let mut line = |bytes: &[u8]| {
        input.extend_from_slice(bytes);
        input.push(b'\n');
    };
    line(&ctr("c-good", "ok")); // 1: staged
    line(b"42"); // 2: valid JSON, not an object: rejected
    line(b"\"a string\""); // 3: a JSON string, not an object: rejected
    line(&ctr("c-good", "ok")); // 4: an identical redelivery: duplicate
    line(&ctr("c-big", &"x".repeat(1 << 20))); // 5: a 1 MiB field: staged
    let mut bad_utf8 = ctr("c-latin1", "caf_");
    let at = bad_utf8.iter().position(|b| *b == b'_').unwrap_or(0);
    bad_utf8[at] = 0xE9; // 6: invalid UTF-8 (a Latin-1 é) inside a string
    line(&bad_utf8);
    let truncated = ctr("c-cut", "cut");
    input.extend_from_slice(&truncated[..truncated.len() / 2]); // 7: truncated last record

    let (stats, sink) = run(
        SourceFormat::AmazonConnectCtr,
        &ReadOptions::default(),
        "ctr.json",
        &input,
    );
    let stats = stats.unwrap();
    assert!(stats.conserved(), "{stats:?}");
    assert_eq!(stats.duplicates, 1, "{stats:?}");
    let staged = staged_ids(&sink, StagingTable::Calls, "call_id");
    assert!(staged.contains(&Some("c-good".into())), "{staged:?}");
    assert!(staged.contains(&Some("c-big".into())), "{staged:?}");
    assert_eq!(
        staged
            .iter()
            .filter(|s| s.as_deref() == Some("c-good"))
            .count(),
        1
    );
    let lines: Vec<u64> = sink.rejects.iter().map(|r| r.line).collect();
    assert!(
        lines.contains(&2) && lines.contains(&3) && lines.contains(&7),
        "{:?}",
        sink.rejects
    );
    for r in &sink.rejects {
        assert!(!r.reason.is_empty() && r.raw.len() <= 4096, "{r:?}");
    }
    let not_object = sink
        .rejects
        .iter()
        .find(|r| r.line == 2)
        .map(|r| r.reason.clone());
    assert!(
        not_object.as_deref().is_some_and(|r| r.contains("object")),
        "{not_object:?}"
    );
    // The Latin-1 record is staged with U+FFFD (and counted as repaired) or rejected at its
    // line; either way it is accounted for.
    let latin1_staged = staged.contains(&Some("c-latin1".into()));
    assert!(latin1_staged || lines.contains(&6), "{:?}", sink.rejects);
    assert_eq!(
        stats.rows_read,
        stats.rows_staged + stats.rows_rejected + stats.duplicates
    );
    assert_eq!(stats.rows_read, 7, "{stats:?}");
}
