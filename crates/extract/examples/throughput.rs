//! Throughput of every reader on a synthetic export, in release mode:
//!
//! ```text
//! cargo run --release -p touchstone-extract --example throughput [-- ROWS [FORMAT]]
//! ```
//!
//! Writes one file per format (ROWS records, default 500 000) to a temporary directory, reads it
//! back through `read_file` into a sink that only counts, and prints records/s and MB/s. The
//! records look like the vendors' own (see `docs/raw-exports.md`); a few percent are damaged so
//! the reject path is exercised too. A benchmark, not a test: nothing is asserted.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::time::Instant;

use arrow::record_batch::RecordBatch;
use touchstone_core::{SourceFormat, StagingTable};
use touchstone_extract::{
    ExtractError, HubspotObject, Lineage, ReadOptions, Reject, SalesforceObject, Sink, read_file,
};

#[derive(Default)]
struct Count {
    rows: usize,
    rejects: usize,
}

impl Sink for Count {
    fn batch(&mut self, _table: StagingTable, batch: RecordBatch) -> Result<(), ExtractError> {
        self.rows += batch.num_rows();
        Ok(())
    }
    fn reject(&mut self, _reject: Reject) -> Result<(), ExtractError> {
        self.rejects += 1;
        Ok(())
    }
}

fn time_of(i: usize) -> (String, String) {
    let s = i % 86_400;
    let day = 1 + (i / 86_400) % 28;
    (
        format!("2026-08-{day:02}"),
        format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60),
    )
}

fn line(format: SourceFormat, i: usize, out: &mut String) {
    let (d, t) = time_of(i);
    let damaged = i % 50 == 7;
    match format {
        SourceFormat::AsteriskCdr => {
            let _ = write!(
                out,
                r#""acct{a}","312555{n:04}","2000","from-pstn","""Jane Doe"" <312555{n:04}>","SIP/trunk-{i:08x}","SIP/1310-{i:08x}","Queue","support,t,,300","{d} {t}","{d} {t}","{d} {t}",{dur},{bill},"ANSWERED","DOCUMENTATION","1785593642.{i}","ivr_path=main>billing;ivr_errors=1","","1785593642.{i}",{seq}"#,
                a = i % 7,
                n = i % 10_000,
                dur = if damaged {
                    "x".to_owned()
                } else {
                    (i % 900).to_string()
                },
                bill = i % 600,
                seq = i % 5
            );
        }
        SourceFormat::AsteriskQueueLog => {
            let _ = write!(
                out,
                "{}|1785593642.{i}|support|{}|{}|{}|1785593650.{i}|3",
                if damaged {
                    "x".to_owned()
                } else {
                    (1_785_593_642 + i).to_string()
                },
                if i.is_multiple_of(3) {
                    "NONE"
                } else {
                    "jsmith"
                },
                ["ENTERQUEUE", "CONNECT", "COMPLETECALLER", "ABANDON"][i % 4],
                i % 120
            );
        }
        SourceFormat::AmazonConnectCtr => {
            let _ = write!(
                out,
                r#"{{"AWSAccountId":"123456789012","AWSContactTraceRecordFormatVersion":"2017-03-10","ContactId":"{i:08x}-2f5e-4c1a-9d1b-7a0c3e9b{i:04x}","InitialContactId":"{i:08x}-0000-4c1a-9d1b-7a0c3e9b0000","PreviousContactId":null,"NextContactId":null,"Channel":"VOICE","InitiationMethod":"INBOUND","InitiationTimestamp":"{d}T{t}Z","ConnectedToSystemTimestamp":"{d}T{t}Z","DisconnectTimestamp":"{d}T{t}Z","LastUpdateTimestamp":"{d}T{t}Z","DisconnectReason":"CUSTOMER_DISCONNECT","AgentConnectionAttempts":1,"CustomerEndpoint":{{"Address":"+1312555{n:04}","Type":"TELEPHONE_NUMBER"}},"SystemEndpoint":{{"Address":"+18005550100","Type":"TELEPHONE_NUMBER"}},"Attributes":{{"ivr_path":"main>billing>payments","ivr_errors":"1","intent":"billing","csat":"4"}},"Queue":{{"ARN":"arn:aws:connect:us-east-1:123456789012:instance/q","Name":"billing","EnqueueTimestamp":"{d}T{t}Z","DequeueTimestamp":"{d}T{t}Z","Duration":{q}}},"Agent":{{"ARN":"arn:aws:connect:us-east-1:123456789012:instance/a","Username":"jsmith","ConnectedToAgentTimestamp":"{d}T{t}Z","AgentInteractionDuration":300,"CustomerHoldDuration":20,"LongestHoldDuration":20,"NumberOfHolds":1,"AfterContactWorkDuration":45}},"Recording":null}}"#,
                n = i % 10_000,
                q = if damaged {
                    "\"x\"".to_owned()
                } else {
                    (i % 300).to_string()
                }
            );
        }
        SourceFormat::Livechat => {
            let _ = write!(
                out,
                r#"{{"id":"Q{i:08X}","users":[{{"id":"v-{i}","type":"customer","name":"Jane Doe","email":"jane{i}@example.com","session_fields":[{{"crm_contact_id":"003000000000{i:06}"}},{{"anonymous_id":"anon-{i}"}}],"visit":{{"started_at":"{d}T{t}.000000Z","last_pages":[{{"opened_at":"{d}T{t}.000000Z","url":"https://example.com/billing","title":"Billing"}}]}}}},{{"id":"jsmith@example.com","type":"agent","name":"J Smith"}}],"threads":[{{"id":"T{i:08X}","created_at":"{d}T{t}.000000Z","active":false,"user_ids":["v-{i}","jsmith@example.com"],"access":{{"group_ids":[1]}},"tags":["billing"],"queue":{{"position":1,"wait_time":12,"queued_at":"{d}T{t}.000000Z"}},"properties":{{"rating":{{"score":1,"comment":"thanks"}}}},"events":[{{"id":"e1","created_at":"{d}T{t}.100000Z","type":"message","author_id":"v-{i}","text":"Hi, I was charged twice","visibility":"all"}},{{"id":"e2","created_at":"{d}T{t}.{us}Z","type":"message","author_id":"jsmith@example.com","text":"Let me check that for you","visibility":"all"}},{{"id":"e3","created_at":"{d}T{t}.300000Z","type":"message","author_id":"v-{i}","text":"Thanks!","visibility":"all"}},{{"id":"e4","created_at":"{d}T{t}.400000Z","type":"system_message","text":"Chat closed"}}]}}]}}"#,
                us = if damaged {
                    "2x".to_owned()
                } else {
                    "200000".to_owned()
                }
            );
        }
        SourceFormat::SurveyCsv => {
            let _ = write!(
                out,
                "r{i},Post-contact,{},1,5,{},\"Quick, friendly.\nWould call again\",customer,jane{i}@example.com,jane{i}@example.com,3125550143,jsmith,voice,1785593642.{i},{d}T{t}-05:00,{d}T{t}-05:00",
                ["csat", "self_rating"][i % 2],
                if damaged { 9 } else { 1 + i % 5 }
            );
        }
        SourceFormat::SegmentEvents => {
            let _ = write!(
                out,
                r#"{{"messageId":"m-{i}","type":"track","event":"Bot Search","anonymousId":"anon-{a}","userId":"003000000000{a:06}","timestamp":"{d}T{t}.{ms}Z","context":{{"page":{{"url":"https://example.com/help","path":"/help","title":"Help","referrer":"https://example.com/"}},"traits":{{"email":"jane@example.com"}}}},"properties":{{"query":"refund status","result_count":3}}}}"#,
                a = i % 50_000,
                ms = if damaged { "1x3" } else { "123" }
            );
        }
        SourceFormat::Zendesk => {
            let _ = write!(
                out,
                r#"{{"url":"https://example.zendesk.com/api/v2/tickets/{i}.json","id":{i},"via":{{"channel":"email","source":{{"from":{{"address":"jane{a}@example.com","name":"Jane Doe"}},"to":{{}},"rel":null}}}},"created_at":"{d}T{t}Z","updated_at":"{d}T{t}Z","type":"incident","subject":"Charged twice","priority":"normal","status":"{st}","requester_id":{a},"assignee_id":375925,"organization_id":null,"group_id":20001662,"tags":["billing"],"satisfaction_rating":{{"score":"unoffered"}}}}"#,
                a = i % 50_000,
                st = if damaged { "" } else { "open" }
            );
            if damaged {
                // A ticket without created_at.
                let cut = out.replace(&format!("\"created_at\":\"{d}T{t}Z\","), "");
                *out = cut;
            }
        }
        SourceFormat::Intercom => {
            let _ = write!(
                out,
                r#"{{"type":"conversation","id":"{i}","created_at":{c},"updated_at":{u},"source":{{"type":"conversation","id":"m{i}","delivered_as":"customer_initiated","body":"<p>Hi, I was charged twice</p>","author":{{"type":"user","id":"u{a}","name":"Jane Doe","email":"jane{a}@example.com"}},"url":"https://example.com/billing"}},"contacts":{{"type":"contact.list","contacts":[{{"type":"contact","id":"u{a}","external_id":"003000000000{a:06}"}}]}},"team_assignee_id":5,"tags":{{"type":"tag.list","tags":[{{"type":"tag","id":"1","name":"billing"}}]}},"conversation_parts":{{"type":"conversation_part.list","conversation_parts":[{{"type":"conversation_part","id":"p{i}","part_type":"comment","body":"<p>Let me check</p>","created_at":{p},"author":{{"type":"admin","id":"375925"}}}}],"total_count":1}},"conversation_rating":{{"rating":{r},"remark":null,"created_at":{u},"contact":{{"type":"contact","id":"u{a}"}},"teammate":{{"type":"admin","id":"375925"}}}}}}"#,
                a = i % 50_000,
                c = 1_785_000_000 + i,
                p = 1_785_000_060 + i,
                u = 1_785_000_600 + i,
                r = if damaged { 9 } else { 1 + i % 5 }
            );
        }
        SourceFormat::SalesforceCsv => {
            let _ = write!(
                out,
                r#""801{i:015}","false","001{a:015}","003{a:015}","{i:08}","Activated","{d}","{amt}","Widgets","{d}T{t}.000Z","{d}T{t}.000Z""#,
                a = i % 50_000,
                amt = if damaged {
                    "1,5".to_owned()
                } else {
                    format!("{}.90", i % 500)
                }
            );
        }
        SourceFormat::Hubspot => {
            let _ = write!(
                out,
                "{i},jane{i}@example.com,Jane,Doe,+1 312 555 {n:04},,{a},5001,{d} {t},{when},customer",
                n = i % 10_000,
                a = i % 50_000,
                when = if damaged {
                    "soon".to_owned()
                } else {
                    format!("{d}T{t}.123Z")
                }
            );
        }
        SourceFormat::AgentReviews => {
            let _ = write!(
                out,
                "R{r},agent{a},Agent {a},{who},{role},2026-08-01,2026-08-31,Voice QA,{crit},{score},1,5,0.25,,{d} {t}",
                r = i / 4,
                a = i / 8 % 500,
                who = if (i / 4).is_multiple_of(2) {
                    format!("agent{}", i / 8 % 500)
                } else {
                    "mgr1".into()
                },
                role = if (i / 4).is_multiple_of(2) {
                    "self"
                } else {
                    "manager"
                },
                crit = ["Empathy", "Accuracy", "Resolution", "Tone"][i % 4],
                score = if damaged { 9 } else { 1 + i % 5 }
            );
        }
        SourceFormat::Calendar => {
            let _ = write!(
                out,
                "  - {{kind: {}, name: Event {i}, start: {d}, end: {}}}",
                ["holiday", "promotion", "launch"][i % 3],
                if damaged {
                    "2026-07-01".to_owned()
                } else {
                    d.clone()
                }
            );
        }
    }
}

fn header(format: SourceFormat) -> Option<&'static str> {
    match format {
        SourceFormat::SurveyCsv => Some(
            "Response ID,Survey,Metric,Scale Min,Scale Max,Score,Comment,Respondent Type,Respondent,Email,Phone,Agent,Channel,Interaction ID,Sent At,Responded At",
        ),
        SourceFormat::SalesforceCsv => Some(
            r#""Id","IsDeleted","AccountId","BillToContactId","OrderNumber","Status","EffectiveDate","TotalAmount","Product_Category__c","CreatedDate","LastModifiedDate""#,
        ),
        SourceFormat::Hubspot => Some(
            "hs_object_id,email,firstname,lastname,phone,mobilephone,associatedcompanyid,hubspot_owner_id,createdate,lastmodifieddate,lifecyclestage",
        ),
        SourceFormat::AgentReviews => Some(
            "Review ID,Employee,Employee Name,Reviewer,Reviewer Role,Period Start,Period End,Scorecard,Criterion,Score,Scale Min,Scale Max,Weight,Comment,Reviewed At",
        ),
        SourceFormat::Calendar => Some("events:"),
        _ => None,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rows: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(500_000);
    let dir = tempfile::tempdir()?;
    println!(
        "{:<20} {:>10} {:>10} {:>9} {:>12} {:>9}",
        "format", "records", "rejected", "MB", "records/s", "MB/s"
    );
    let only = std::env::args().nth(2);
    for format in SourceFormat::ALL {
        if only.as_deref().is_some_and(|o| o != format.name()) {
            continue;
        }
        let path = dir.path().join(format!("{}.data", format.name()));
        {
            let mut w = BufWriter::new(File::create(&path)?);
            if let Some(h) = header(format) {
                w.write_all(h.as_bytes())?;
                w.write_all(b"\r\n")?;
            }
            let mut buf = String::new();
            for i in 0..rows {
                buf.clear();
                line(format, i, &mut buf);
                buf.push_str("\r\n");
                w.write_all(buf.as_bytes())?;
            }
            w.flush()?;
        }
        let bytes = std::fs::metadata(&path)?.len() as f64;
        let opts = ReadOptions {
            timezone: chrono_tz::America::Chicago,
            salesforce_object: Some(SalesforceObject::Order),
            hubspot_object: Some(HubspotObject::Contacts),
            ..ReadOptions::default()
        };
        let lineage = Lineage {
            source: "bench",
            file: "bench",
            ingest_date: chrono::NaiveDate::from_ymd_opt(2026, 8, 2).unwrap_or_default(),
        };
        let mut input = BufReader::with_capacity(256 * 1024, File::open(&path)?);
        let mut sink = Count::default();
        let started = Instant::now();
        let stats = read_file(format, &opts, &lineage, &mut input, &mut sink)?;
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{:<20} {:>10} {:>10} {:>9.1} {:>12.0} {:>9.1}",
            format.name(),
            stats.rows_read,
            stats.rows_rejected,
            bytes / 1e6,
            stats.rows_read as f64 / secs,
            bytes / 1e6 / secs
        );
    }
    Ok(())
}
