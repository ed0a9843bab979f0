//! The readers on public export files that Touchstone did not write (issue 8): vendor SDK
//! fixtures, vendor sample data and other projects' test data, kept byte-for-byte under
//! `tests/fixtures/public/<vendor>/`. Each directory's README names every file's repository,
//! path, commit and licence, and the facts asserted here.
//!
//! Every test reads a file with the options a user would set for it and checks that nothing
//! is lost (rows read = staged + rejected, per file) and the facts the README lists.

use touchstone_core::config::{Instrument, SurveyMapping, SurveyPreset, SurveyQuestion};
use touchstone_core::{SourceFormat, StagingTable};

use crate::crm::SalesforceObject;
use crate::hubspot::HubspotObject;
use crate::testutil::{b, f, i, run, run_ok_with, s, ts};
use crate::{FileStats, ReadOptions};

/// A fixture's bytes: `tests/fixtures/public/<path>`.
fn fixture(path: &str) -> Vec<u8> {
    let full = format!(
        "{}/../../tests/fixtures/public/{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

fn read(
    format: SourceFormat,
    opts: &ReadOptions,
    path: &str,
) -> (FileStats, crate::testutil::Collect) {
    let bytes = fixture(path);
    let (stats, sink) = run_ok_with(format, opts, path, &bytes);
    assert!(stats.conserved(), "{path}: {stats:?}");
    (stats, sink)
}

fn salesforce(object: SalesforceObject) -> ReadOptions {
    ReadOptions {
        salesforce_object: Some(object),
        ..ReadOptions::default()
    }
}

// Class 1: Salesforce timestamps and booleans, as the Salesforce tools write them.
// Sources: SFDC-Assets/data-cloud-workshop (BSD-3-Clause), forcedotcom/dataloader
// (BSD-3-Clause), WinkelDev/Salesforce-Data-Changelog (header lines only),
// fivetran/dbt_salesforce_source (Apache-2.0); see tests/fixtures/public/salesforce/README.md.

#[test]
fn salesforce_org_export_with_bom_offsets_and_one_or_empty_booleans() {
    let (stats, sink) = read(
        SourceFormat::SalesforceCsv,
        &salesforce(SalesforceObject::Case),
        "salesforce/sfdc_assets_dcw_Case.csv",
    );
    assert_eq!((stats.rows_read, stats.rows_staged), (40, 40));
    let t = sink.table(StagingTable::Cases);
    assert_eq!(s(&t, "case_id", 0).as_deref(), Some("500Ec000009YUY8IAO"));
    assert_eq!(s(&t, "case_number", 0).as_deref(), Some("00001014"));
    let closed = (0..t.num_rows())
        .filter(|&r| b(&t, "is_closed", r) == Some(true))
        .count();
    assert_eq!(closed, 14);

    let (stats, sink) = read(
        SourceFormat::SalesforceCsv,
        &salesforce(SalesforceObject::Opportunity),
        "salesforce/sfdc_assets_dcw_Opportunity.csv",
    );
    assert_eq!((stats.rows_read, stats.rows_staged), (50, 50));
    let t = sink.table(StagingTable::Opportunities);
    assert_eq!(f(&t, "amount", 0), Some(1_124_741.15));
    let won = (0..t.num_rows())
        .filter(|&r| b(&t, "is_won", r) == Some(true))
        .count();
    assert_eq!(won, 12);

    for (object, path, rows) in [
        (
            SalesforceObject::Account,
            "salesforce/sfdc_assets_dcw_Account.csv",
            None,
        ),
        (
            SalesforceObject::Contact,
            "salesforce/sfdc_assets_dcw_Contact.csv",
            Some(102),
        ),
    ] {
        let (stats, _) = read(SourceFormat::SalesforceCsv, &salesforce(object), path);
        assert_eq!(stats.rows_rejected, 0, "{path}: {stats:?}");
        if let Some(n) = rows {
            assert_eq!(stats.rows_staged, n, "{path}");
        }
    }
}

#[test]
fn salesforce_data_loader_exports_upper_case_quoted_and_latin1() {
    let (stats, sink) = read(
        SourceFormat::SalesforceCsv,
        &salesforce(SalesforceObject::Opportunity),
        "salesforce/dataloader_opportunityData.csv",
    );
    assert_eq!((stats.rows_read, stats.rows_staged), (38, 38));
    let t = sink.table(StagingTable::Opportunities);
    assert_eq!(
        s(&t, "opportunity_id", 0).as_deref(),
        Some("006x0000001YtCrAAK")
    );
    assert_eq!(s(&t, "stage_name", 0).as_deref(), Some("Closed Won"));

    // Data Loader writes the org's code page; read as windows-1252 nothing is repaired.
    let latin = ReadOptions {
        encoding: encoding_rs::WINDOWS_1252,
        ..salesforce(SalesforceObject::Account)
    };
    let (stats, _) = read(
        SourceFormat::SalesforceCsv,
        &latin,
        "salesforce/dataloader_accountData_truncated.csv",
    );
    assert_eq!(stats.rows_rejected, 0, "{stats:?}");
    assert_eq!(stats.rows_repaired, 0, "{stats:?}");
    assert!(stats.rows_staged > 100, "{stats:?}");
    // Read as UTF-8 (the default) the same file loses no row: the bad bytes are repaired.
    let (utf8, _) = read(
        SourceFormat::SalesforceCsv,
        &salesforce(SalesforceObject::Account),
        "salesforce/dataloader_accountData_truncated.csv",
    );
    assert_eq!(utf8.rows_staged, stats.rows_staged);
    assert!(utf8.rows_repaired > 0, "{utf8:?}");
}

#[test]
fn salesforce_weekly_data_export_header_only_files_are_zero_rows() {
    for (object, path) in [
        (
            SalesforceObject::Case,
            "salesforce/data_export_Case_header_only.csv",
        ),
        (
            SalesforceObject::Order,
            "salesforce/data_export_Order_header_only.csv",
        ),
    ] {
        let (stats, sink) = read(SourceFormat::SalesforceCsv, &salesforce(object), path);
        assert_eq!((stats.rows_read, stats.rows_rejected), (0, 0), "{path}");
        assert!(sink.rejects.is_empty());
    }
}

// Class 3 and 4: real Asterisk installs. Sources: mineevburyat/dj-asterisk-cdr (no licence
// stated), Davronkhuja/call24-get-recordings (no licence stated), asterisk/testsuite
// (GPL-2.0); see tests/fixtures/public/asterisk/README.md.

#[test]
fn asterisk_cdr_with_legacy_code_page_bytes_loses_no_call() {
    let (stats, sink) = read(
        SourceFormat::AsteriskCdr,
        &ReadOptions::default(),
        "asterisk/mineevburyat_stadion_Master.csv",
    );
    // 84 real rows, 8 of them with raw 0xA5 0xA5 in the caller name: all staged, 8 repaired.
    assert_eq!((stats.rows_read, stats.rows_staged), (84, 84));
    assert_eq!(stats.rows_repaired, 8);
    let t = sink.table(StagingTable::Calls);
    let garbled = (0..t.num_rows())
        .filter(|&r| s(&t, "caller_id", r).is_some_and(|c| c.contains('\u{FFFD}')))
        .count();
    assert_eq!(garbled, 8);
    assert_eq!(s(&t, "call_id", 0).as_deref(), Some("1706368044.0"));
    assert_eq!(i(&t, "sequence", 0), Some(0));

    // Declared as windows-1251, the same bytes are letters, not repairs.
    let cp = ReadOptions {
        encoding: encoding_rs::WINDOWS_1251,
        ..ReadOptions::default()
    };
    let (stats, sink) = read(
        SourceFormat::AsteriskCdr,
        &cp,
        "asterisk/mineevburyat_stadion_Master.csv",
    );
    assert_eq!((stats.rows_staged, stats.rows_repaired), (84, 0));
    let t = sink.table(StagingTable::Calls);
    assert!((0..t.num_rows()).any(|r| s(&t, "caller_id", r).is_some_and(|c| c.contains("ҐҐ"))));
}

#[test]
fn asterisk_testsuite_18_column_cdr() {
    let (stats, sink) = read(
        SourceFormat::AsteriskCdr,
        &ReadOptions::default(),
        "asterisk/asterisk_testsuite_self_test_Master.csv",
    );
    assert_eq!((stats.rows_read, stats.rows_staged), (2, 2));
    let t = sink.table(StagingTable::Calls);
    assert_eq!(s(&t, "last_app", 0).as_deref(), Some("Hangup"));
    assert_eq!(i(&t, "duration_secs", 0), Some(7));
}

/// The Grandstream UCM export's 26 columns, as a `columns:` list.
pub(crate) const GRANDSTREAM_COLUMNS: [&str; 26] = [
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
    "uniqueid",
    "userfield",
    "ignore",
    "ignore",
    "ignore",
    "ignore",
    "ignore",
    "ignore",
    "ignore",
    "ignore",
];

#[test]
fn asterisk_site_without_queue_log_keeps_the_queue_evidence() {
    let opts = ReadOptions {
        cdr_columns: Some(GRANDSTREAM_COLUMNS.map(String::from).to_vec()),
        ..ReadOptions::default()
    };
    let (stats, sink) = read(
        SourceFormat::AsteriskCdr,
        &opts,
        "asterisk/call24_grandstream_ucm_Master_head.csv",
    );
    // The header line is not a call; 304 records, all staged.
    assert_eq!((stats.rows_read, stats.rows_staged), (304, 304));
    let t = sink.table(StagingTable::Calls);
    let queue: Vec<usize> = (0..t.num_rows())
        .filter(|&r| s(&t, "last_app", r).as_deref() == Some("Queue"))
        .collect();
    assert_eq!(queue.len(), 35);
    let answered = queue
        .iter()
        .filter(|&&r| s(&t, "disposition", r).as_deref() == Some("ANSWERED"))
        .count();
    assert_eq!(answered, 28);
    let r = queue[0];
    assert_eq!(s(&t, "call_id", r).as_deref(), Some("1783051079.621872"));
    assert_eq!(
        s(&t, "dst_channel", r).map(|c| c.starts_with("PJSIP/194")),
        Some(true)
    );
    assert_eq!(i(&t, "billsec", r), Some(447));
    assert_eq!(i(&t, "started_at", r), Some(ts("2026-07-03T08:58:38Z")));
}

// Class 5: cdr_custom layouts. Source: KelySaina/cdr (MIT), with the legacy mapping of
// asterisk/asterisk configs/samples/cdr_custom.conf.sample (GPL-2.0).

/// The order of the sample `cdr_custom.conf` legacy mapping.
const CDR_CUSTOM_LEGACY: [&str; 19] = [
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
    "sequence",
];

#[test]
fn asterisk_cdr_custom_layout_needs_columns_and_is_never_shifted() {
    let path = "asterisk/kelysaina_cdr_custom_Master.csv";
    // The mapping in the sample conf is the order the reader is given.
    let conf = String::from_utf8(fixture(
        "asterisk/asterisk_cdr_custom.conf.sample_legacy_mapping_excerpt.conf",
    ))
    .unwrap_or_default();
    let from_conf: Vec<String> = conf
        .split("CDR(")
        .skip(1)
        .filter_map(|p| p.split(')').next())
        .map(String::from)
        .collect();
    assert_eq!(from_conf, CDR_CUSTOM_LEGACY.map(String::from).to_vec());
    let opts = ReadOptions {
        cdr_columns: Some(from_conf),
        ..ReadOptions::default()
    };
    let (stats, sink) = read(SourceFormat::AsteriskCdr, &opts, path);
    assert_eq!((stats.rows_read, stats.rows_staged), (14, 14));
    let t = sink.table(StagingTable::Calls);
    assert_eq!(s(&t, "call_id", 0).as_deref(), Some("1690325492.2"));
    assert_eq!(i(&t, "duration_secs", 0), Some(31));
    assert_eq!(i(&t, "billsec", 0), Some(13));
    assert_eq!(s(&t, "disposition", 0).as_deref(), Some("ANSWERED"));
    assert_eq!(s(&t, "last_app", 0).as_deref(), Some("Dial"));

    // Without columns: the file is refused with a hint, nothing staged with shifted fields.
    let bytes = fixture(path);
    let (res, sink) = run(
        SourceFormat::AsteriskCdr,
        &ReadOptions::default(),
        path,
        &bytes,
    );
    let msg = match res {
        Ok(stats) => panic!("staged a cdr_custom file as cdr_csv: {stats:?}"),
        Err(e) => e.to_string(),
    };
    assert!(msg.contains("columns:"), "{msg}");
    assert!(msg.contains(path), "{msg}");
    assert_eq!(sink.rows(StagingTable::Calls), 0);
}

// Classes 7 and 8: survey exports from real tools. Sources: ropensci/qualtRics (MIT),
// ctesta01/QualtricsTools (BSD), fivetran/dbt_qualtrics (Apache-2.0), fivethirtyeight/data
// (CC BY 4.0), OSMIHelp/osmi-results (MIT); see each directory's README.

fn survey(preset: SurveyPreset, questions: &[(&str, Instrument)]) -> ReadOptions {
    ReadOptions {
        survey: Some(SurveyMapping {
            preset,
            questions: questions
                .iter()
                .map(|(c, instrument)| SurveyQuestion {
                    column: (*c).into(),
                    instrument: *instrument,
                    scale: None,
                    comment: None,
                })
                .collect(),
            ..SurveyMapping::default()
        }),
        ..ReadOptions::default()
    }
}

#[test]
fn qualtrics_exports_of_three_generations() {
    // Current layout: 3 header rows, JSON ImportIds, German labels.
    let opts = survey(SurveyPreset::Qualtrics, &[("Q1", Instrument::Csat)]);
    let (stats, sink) = read(
        SourceFormat::SurveyCsv,
        &opts,
        "qualtrics/qualtRics_sample.csv",
    );
    assert_eq!((stats.rows_read, stats.rows_staged), (1, 1));
    let t = sink.table(StagingTable::SurveyResponses);
    assert_eq!(
        s(&t, "response_id", 0).as_deref(),
        Some("R_2YPOQ602ER1jkf1")
    );
    assert_eq!(f(&t, "score", 0), Some(2.0));

    // Legacy: BOM, 2 header rows, a trailing comma on every line.
    let (stats, sink) = read(
        SourceFormat::SurveyCsv,
        &opts,
        "qualtrics/qualtRics_sample_legacy.csv",
    );
    assert_eq!((stats.rows_read, stats.rows_staged), (1, 1));
    let t = sink.table(StagingTable::SurveyResponses);
    assert_eq!(
        s(&t, "response_id", 0).as_deref(),
        Some("R_2YPOQ602ER1jkf1")
    );

    // 2016 Insights: single-quoted ImportId row.
    let opts = survey(SurveyPreset::Qualtrics, &[("Q1", Instrument::Csat)]);
    let (stats, sink) = read(
        SourceFormat::SurveyCsv,
        &opts,
        "qualtrics/QualtricsTools_Test_Survey_for_Coded_Comments.csv",
    );
    // Q1 is a six-option question read as CSAT 1-5: the two 6s are rejects naming the scale,
    // the other eight answers are staged.
    assert_eq!(
        (stats.rows_read, stats.rows_staged, stats.rows_rejected),
        (10, 8, 2)
    );
    for r in &sink.rejects {
        assert!(r.reason.contains("Q1") && r.reason.contains('5'), "{r:?}");
    }
}

#[test]
fn qualtrics_not_applicable_codes_are_not_answers() {
    // Q1 holds 3 x7, 1 x3, 2 x3 and -1 x2 (Qualtrics "no basis for evaluation").
    let opts = survey(SurveyPreset::Qualtrics, &[("Q1", Instrument::Csat)]);
    let (stats, sink) = read(
        SourceFormat::SurveyCsv,
        &opts,
        "qualtrics/QualtricsTools_No_Basis_for_Evaluation_Legacy.csv",
    );
    assert_eq!(stats.rows_read, 15);
    let t = sink.table(StagingTable::SurveyResponses);
    let answered = (0..t.num_rows())
        .filter(|&r| s(&t, "response_status", r).as_deref() == Some("answered"))
        .count();
    let scores: Vec<f64> = (0..t.num_rows())
        .filter_map(|r| f(&t, "score", r))
        .collect();
    assert!(scores.iter().all(|&x| x >= 1.0), "{scores:?}");
    assert_eq!(answered, 13);
}

#[test]
fn surveymonkey_two_row_headers_and_typeform_token_exports() {
    let q = "How do you like your steak prepared?";
    let opts = survey(SurveyPreset::Surveymonkey, &[(q, Instrument::Csat)]);
    let (stats, sink) = read(
        SourceFormat::SurveyCsv,
        &opts,
        "surveymonkey/fivethirtyeight_steak-risk-survey.csv",
    );
    // 550 respondents. The question is text ("Medium rare"), not a score: each answer is a
    // reject naming the column; the 118 blank answers are staged as unanswered.
    assert_eq!(stats.rows_read, 550, "{stats:?}");
    assert_eq!(
        (stats.rows_staged, stats.rows_rejected),
        (118, 432),
        "{stats:?}"
    );
    assert!(
        sink.rejects.iter().all(|r| r.reason.contains(q)),
        "{:?}",
        sink.rejects.first()
    );

    let (stats, _) = read(
        SourceFormat::SurveyCsv,
        &survey(
            SurveyPreset::Typeform,
            &[("Are you self-employed?", Instrument::Csat)],
        ),
        "typeform/osmi_2016_typeform_export_truncated.csv",
    );
    assert_eq!(stats.rows_read, 103);
}

// HubSpot: fivetran/dbt_hubspot_source seeds (Apache-2.0), internal property names.

#[test]
fn hubspot_fivetran_seeds_with_internal_property_names() {
    for (object, path, rows) in [
        (
            HubspotObject::Contacts,
            "hubspot/fivetran_contact_data.csv",
            22,
        ),
        (
            HubspotObject::Companies,
            "hubspot/fivetran_company_data.csv",
            24,
        ),
        (HubspotObject::Deals, "hubspot/fivetran_deal_data.csv", 44),
    ] {
        let opts = ReadOptions {
            hubspot_object: Some(object),
            ..ReadOptions::default()
        };
        let (stats, _) = read(SourceFormat::Hubspot, &opts, path);
        assert_eq!((stats.rows_read, stats.rows_staged), (rows, rows), "{path}");
    }
}
