//! The bad-input list of issue 8 for the CSV/text family, one case per line of the list, each
//! checking where every row went: staged, rejected at its line with a reason, or the file
//! refused as a whole with an error naming the file and the fix. Rows read = staged + rejected
//! in every case that reads the file.

use touchstone_core::{SourceFormat, StagingTable};

use crate::crm::SalesforceObject;
use crate::testutil::{Collect, i, run, s};
use crate::{FileStats, ReadOptions};

const HEADER: &str = "Id,Name,CreatedDate,IsDeleted\n";

fn account() -> ReadOptions {
    ReadOptions {
        salesforce_object: Some(SalesforceObject::Account),
        ..ReadOptions::default()
    }
}

/// Reads `bytes` as a Salesforce Account export; checks conservation and that every reject
/// says what was expected.
fn read_with(opts: &ReadOptions, bytes: &[u8]) -> (FileStats, Collect) {
    let (res, sink) = run(SourceFormat::SalesforceCsv, opts, "raw/Account.csv", bytes);
    let stats = res.unwrap_or_else(|e| panic!("file error: {e}"));
    assert!(stats.conserved(), "{stats:?}");
    assert_eq!(stats.rows_rejected, sink.rejects.len() as u64);
    for r in &sink.rejects {
        assert!(r.line >= 2 && r.reason.contains("expected"), "{r:?}");
    }
    (stats, sink)
}

fn read(bytes: &[u8]) -> (FileStats, Collect) {
    read_with(&account(), bytes)
}

/// The staged ids, in order.
fn ids(sink: &Collect) -> Vec<String> {
    let t = sink.table(StagingTable::Accounts);
    (0..t.num_rows())
        .filter_map(|r| s(&t, "account_id", r))
        .collect()
}

/// The lines of the rejects, in order.
fn reject_lines(sink: &Collect) -> Vec<u64> {
    sink.rejects.iter().map(|r| r.line).collect()
}

#[test]
fn truncated_last_line_is_one_reject_and_the_rest_staged() {
    let input = format!("{HEADER}001A,a,2026-08-01T00:00:00Z,false\n001B,b,2026-08-0");
    let (stats, sink) = read(input.as_bytes());
    assert_eq!(
        (stats.rows_read, stats.rows_staged, stats.rows_rejected),
        (2, 1, 1)
    );
    assert_eq!(ids(&sink), ["001A"]);
    assert_eq!(reject_lines(&sink), [3]);
}

#[test]
fn unbalanced_quote_costs_only_its_record() {
    let input = format!(
        "{HEADER}001A,\"open,2026-08-01T00:00:00Z,false\n001B,b,2026-08-01T00:00:00Z,false\n001C,c,2026-08-01T00:00:00Z,false\n"
    );
    let (stats, sink) = read(input.as_bytes());
    assert_eq!(stats.rows_read, stats.rows_staged + stats.rows_rejected);
    assert!(ids(&sink).contains(&"001C".to_owned()), "{:?}", ids(&sink));
    assert!(stats.rows_rejected >= 1);
    assert_eq!(sink.rejects[0].line, 2);
}

#[test]
fn quoted_newlines_are_one_record_and_crlf_and_bom_are_read() {
    let input = format!(
        "\u{FEFF}{}001A,\"two\r\nlines\",2026-08-01T00:00:00Z,false\r\n001B,b,2026-08-01T00:00:00Z,false\r\n",
        HEADER.replace('\n', "\r\n")
    );
    let (stats, sink) = read(input.as_bytes());
    assert_eq!((stats.rows_read, stats.rows_staged), (2, 2));
    let t = sink.table(StagingTable::Accounts);
    assert_eq!(s(&t, "name", 0).as_deref(), Some("two\r\nlines"));
    assert_eq!(s(&t, "account_id", 1).as_deref(), Some("001B"));
    // The second record starts on line 4: lineage counts the quoted newline.
    assert_eq!(i(&t, "_source_line", 1), Some(4));
}

#[test]
fn wrong_column_count_is_a_reject_naming_the_count() {
    let input = format!(
        "{HEADER}001A,a,2026-08-01T00:00:00Z\n001B,b,2026-08-01T00:00:00Z,false,surplus\n001C,c,2026-08-01T00:00:00Z,false\n"
    );
    let (stats, sink) = read(input.as_bytes());
    assert_eq!(
        (stats.rows_read, stats.rows_staged, stats.rows_rejected),
        (3, 1, 2)
    );
    assert_eq!(ids(&sink), ["001C"]);
    assert_eq!(reject_lines(&sink), [2, 3]);
}

#[test]
fn invalid_utf8_is_repaired_under_utf8_and_read_as_letters_under_a_code_page() {
    let mut input = HEADER.as_bytes().to_vec();
    input.extend_from_slice(b"001A,Caf\xE9 \xCF\xF0\xE8\xE2\xE5\xF2,2026-08-01T00:00:00Z,false\n");
    input.extend_from_slice(b"001B,b,2026-08-01T00:00:00Z,false\n");
    let (stats, sink) = read(&input);
    assert_eq!((stats.rows_staged, stats.rows_repaired), (2, 1));
    let name = s(&sink.table(StagingTable::Accounts), "name", 0).unwrap_or_default();
    assert!(name.starts_with("Caf\u{FFFD}"), "{name}");

    let cp = ReadOptions {
        encoding: encoding_rs::WINDOWS_1251,
        ..account()
    };
    let (stats, sink) = read_with(&cp, &input);
    assert_eq!((stats.rows_staged, stats.rows_repaired), (2, 0));
    let name = s(&sink.table(StagingTable::Accounts), "name", 0).unwrap_or_default();
    assert_eq!(name, "Cafй Привет");
}

#[test]
fn wrong_timestamp_forms_and_zones_are_rejects_naming_the_column() {
    let input = format!(
        "{HEADER}001A,a,2026-13-01T10:00:00Z,false\n001B,b,2026-08-01T10:00:00+25:00,false\n001C,c,2026-08-01T10:00:00 PST,false\n001D,d,2026-08-01 10:00:00,false\n"
    );
    let (stats, sink) = read(input.as_bytes());
    assert_eq!(
        (stats.rows_read, stats.rows_staged, stats.rows_rejected),
        (4, 1, 3),
        "{:?}",
        ids(&sink)
    );
    assert_eq!(ids(&sink), ["001D"], "{:?}", sink.rejects);
    for r in &sink.rejects {
        assert!(r.reason.contains("CreatedDate"), "{r:?}");
    }
}

#[test]
fn empty_file_and_header_only_file_are_zero_rows() {
    let (stats, sink) = read(b"");
    assert_eq!(stats, FileStats::default());
    assert!(sink.batches.is_empty());
    let (stats, _) = read(HEADER.as_bytes());
    assert_eq!((stats.rows_read, stats.rows_rejected), (0, 0));
}

#[test]
fn zero_byte_and_corrupt_gzip_are_file_errors_naming_the_file() {
    for (name, bytes) in [
        ("raw/Account.csv.gz", Vec::new()),
        (
            "raw/Account.csv.gz",
            b"\x1f\x8b\x08\x00garbage-that-is-not-deflate".to_vec(),
        ),
    ] {
        let err = match crate::decompress(name, Box::new(std::io::Cursor::new(bytes))) {
            Err(e) => e.to_string(),
            Ok(mut r) => {
                let mut sink = Collect::default();
                let lineage = crate::Lineage {
                    source: "s",
                    file: name,
                    ingest_date: chrono::NaiveDate::default(),
                };
                match crate::read_file(
                    SourceFormat::SalesforceCsv,
                    &account(),
                    &lineage,
                    &mut r,
                    &mut sink,
                ) {
                    Err(e) => e.to_string(),
                    Ok(stats) => panic!("{name} read as {stats:?}"),
                }
            }
        };
        assert!(err.contains(name), "{err}");
        assert!(err.contains("gzip"), "{err}");
    }
}

#[test]
fn a_one_mib_field_is_staged_whole() {
    let big = "x".repeat(1 << 20);
    let input = format!(
        "{HEADER}001A,\"{big}\",2026-08-01T00:00:00Z,false\n001B,b,2026-08-01T00:00:00Z,false\n"
    );
    let (stats, sink) = read(input.as_bytes());
    assert_eq!((stats.rows_read, stats.rows_staged), (2, 2));
    let t = sink.table(StagingTable::Accounts);
    assert_eq!(s(&t, "name", 0).map(|n| n.len()), Some(1 << 20));
}

#[test]
fn extra_column_is_staged_with_a_warning_naming_it_and_a_missing_required_column_refuses_the_file()
{
    let input = "Id,Name,CreatedDate,IsDeleted,Region__c\n001A,a,2026-08-01T00:00:00Z,false,EMEA\n";
    let (stats, _) = read(input.as_bytes());
    assert_eq!(stats.rows_staged, 1);
    assert!(
        stats.warnings.keys().any(|w| w.contains("'Region__c'")),
        "{:?}",
        stats.warnings
    );
    let (res, sink) = run(
        SourceFormat::SalesforceCsv,
        &account(),
        "raw/Account.csv",
        b"Id,Name,IsDeleted\n001A,a,false\n",
    );
    let msg = res.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        msg.starts_with("raw/Account.csv: missing required column 'CreatedDate'"),
        "{msg}"
    );
    assert!(sink.batches.is_empty());
}

/// A `cdr_csv` line (18 columns) with the given start, end, duration and billsec.
fn cdr(id: &str, start: &str, end: &str, duration: &str, billsec: &str) -> String {
    format!(
        "\"\",\"5551234\",\"2000\",\"from-pstn\",\"\"\"J\"\" <5551234>\",\"SIP/t-01\",\"\",\"Hangup\",\"\",\"{start}\",\"{start}\",\"{end}\",{duration},{billsec},\"ANSWERED\",\"DOCUMENTATION\",\"{id}\",\"\"\n"
    )
}

#[test]
fn negative_durations_and_calls_ending_before_they_start_are_rejects() {
    let input = [
        cdr(
            "1.1",
            "2026-08-01 10:00:00",
            "2026-08-01 10:01:00",
            "60",
            "60",
        ),
        cdr(
            "1.2",
            "2026-08-01 10:00:00",
            "2026-08-01 10:01:00",
            "-60",
            "0",
        ),
        cdr(
            "1.3",
            "2026-08-01 10:05:00",
            "2026-08-01 10:01:00",
            "0",
            "0",
        ),
        cdr(
            "1.4",
            "2026-08-01 10:00:00",
            "2026-08-01 10:01:00",
            "60",
            "-5",
        ),
    ]
    .concat();
    let (res, sink) = run(
        SourceFormat::AsteriskCdr,
        &ReadOptions::default(),
        "Master.csv",
        input.as_bytes(),
    );
    let stats = res.unwrap_or_else(|e| panic!("{e}"));
    assert!(stats.conserved());
    assert_eq!(
        (stats.rows_read, stats.rows_staged, stats.rows_rejected),
        (4, 1, 3)
    );
    let t = sink.table(StagingTable::Calls);
    assert_eq!(s(&t, "call_id", 0).as_deref(), Some("1.1"));
    assert_eq!(reject_lines(&sink), [2, 3, 4]);
    assert!(
        sink.rejects[1].reason.contains("end"),
        "{:?}",
        sink.rejects[1]
    );
}

#[test]
fn dst_gap_and_overlap_local_times_are_counted() {
    let chicago = ReadOptions {
        timezone: chrono_tz::America::Chicago,
        ..ReadOptions::default()
    };
    let input = [
        // 02:30 on 2026-03-08 does not exist in Chicago; 01:30 on 2026-11-01 happens twice.
        cdr(
            "2.1",
            "2026-03-08 02:30:00",
            "2026-03-08 03:31:00",
            "60",
            "60",
        ),
        cdr(
            "2.2",
            "2026-11-01 01:30:00",
            "2026-11-01 01:31:00",
            "60",
            "60",
        ),
        cdr(
            "2.3",
            "2026-08-01 10:00:00",
            "2026-08-01 10:01:00",
            "60",
            "60",
        ),
    ]
    .concat();
    let (res, _) = run(
        SourceFormat::AsteriskCdr,
        &chicago,
        "Master.csv",
        input.as_bytes(),
    );
    let stats = res.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stats.rows_staged, 3);
    let gap: u64 = stats
        .warnings
        .iter()
        .filter(|(w, _)| w.contains("gap"))
        .map(|(_, n)| *n)
        .sum();
    let overlap: u64 = stats
        .warnings
        .iter()
        .filter(|(w, _)| w.contains("overlap") || w.contains("twice") || w.contains("ambiguous"))
        .map(|(_, n)| *n)
        .sum();
    assert!(gap >= 1 && overlap >= 1, "{:?}", stats.warnings);
}
