//! Survey tool response exports (CSV with a header) → `stg_survey_responses`,
//! `source_system = 'survey_export'`.
//!
//! Columns are found by header name, trimmed and case-insensitive, in any order:
//!
//! | header | staging column | |
//! |---|---|---|
//! | Response ID | response_id | required |
//! | Survey | survey_name | |
//! | Metric | instrument | required: `csat`, `nps`, `ces` or `self_rating` (any case) |
//! | Scale Min, Scale Max | scale_min, scale_max | whole numbers; when the column is absent or the value empty, the instrument's standard scale: csat 1–5, nps 0–10, ces 1–7 (CES 2.0), self_rating 1–5 |
//! | Score | score | required: a number within [Scale Min, Scale Max] |
//! | Comment | comment | kept as written, line breaks included |
//! | Respondent Type | respondent_type | required (`customer` or `agent` in the export; kept as written) |
//! | Respondent | respondent_id | |
//! | Email, Phone | customer_email, customer_phone | raw |
//! | Agent | agent_id | |
//! | Channel, Interaction ID | interaction_channel, interaction_id | |
//! | Sent At | offered_at | ISO 8601 with offset, to UTC; may be empty |
//! | Responded At | responded_at | required, ISO 8601 with offset, to UTC |
//!
//! A quoted multi-line comment is part of one record, reported at the line it starts on.

use std::io::BufRead;

use touchstone_core::StagingTable;

use crate::header::{Header, read_records};
use crate::input::{CsvReader, shown};
use crate::table::TableBuilder;
use crate::time::parse_instant;
use crate::{Ctx, ExtractError};

const EXPORT: &str = "survey";
const TS_EXAMPLE: &str = "2026-08-01T09:22:31-05:00";

/// Where each column is in this file.
struct Cols {
    response_id: usize,
    survey: Option<usize>,
    metric: usize,
    scale_min: Option<usize>,
    scale_max: Option<usize>,
    score: usize,
    comment: Option<usize>,
    respondent_type: usize,
    respondent: Option<usize>,
    email: Option<usize>,
    phone: Option<usize>,
    agent: Option<usize>,
    channel: Option<usize>,
    interaction_id: Option<usize>,
    sent_at: Option<usize>,
    responded_at: usize,
}

impl Cols {
    fn resolve(h: &Header, file: &str) -> Result<Cols, ExtractError> {
        Ok(Cols {
            response_id: h.require("Response ID", EXPORT, file)?,
            survey: h.find("Survey"),
            metric: h.require("Metric", EXPORT, file)?,
            scale_min: h.find("Scale Min"),
            scale_max: h.find("Scale Max"),
            score: h.require("Score", EXPORT, file)?,
            comment: h.find("Comment"),
            respondent_type: h.require("Respondent Type", EXPORT, file)?,
            respondent: h.find("Respondent"),
            email: h.find("Email"),
            phone: h.find("Phone"),
            agent: h.find("Agent"),
            channel: h.find("Channel"),
            interaction_id: h.find("Interaction ID"),
            sent_at: h.find("Sent At"),
            responded_at: h.require("Responded At", EXPORT, file)?,
        })
    }
}

pub(crate) fn read(ctx: &mut Ctx<'_, '_>, input: &mut dyn BufRead) -> Result<(), ExtractError> {
    let mut reader = CsvReader::new(input, b',');
    let Some(header) = Header::read(&mut reader, ctx)? else {
        tracing::warn!(
            file = ctx.lineage.file,
            "empty survey export: no header, no rows"
        );
        return Ok(());
    };
    let cols = Cols::resolve(&header, ctx.lineage.file)?;
    read_records(
        &mut reader,
        &header,
        ctx,
        StagingTable::SurveyResponses,
        |r, tb| row(r, &cols, tb),
    )
}

fn row(r: &CsvReader<'_>, c: &Cols, tb: &mut TableBuilder) -> Result<(), String> {
    let get = |i: Option<usize>| i.map(|i| r.text(i)).filter(|v| !v.is_empty());
    let response_id = get(Some(c.response_id))
        .ok_or("column 'Response ID': empty; expected the response's id")?;
    let metric = r.text(c.metric).trim().to_ascii_lowercase();
    let (instrument, default_min, default_max) = match metric.as_str() {
        "csat" => ("csat", 1, 5),
        "nps" => ("nps", 0, 10),
        "ces" => ("ces", 1, 7),
        "self_rating" => ("self_rating", 1, 5),
        _ => {
            return Err(format!(
                "column 'Metric': expected csat, nps, ces or self_rating, got {}",
                shown(r.text(c.metric))
            ));
        }
    };
    let int = |i: Option<usize>, name: &str, default: i64| -> Result<i64, String> {
        match get(i) {
            None => Ok(default),
            Some(v) => v.trim().parse::<i64>().map_err(|_| {
                format!(
                    "column '{name}': expected a whole number like {default}, got {}",
                    shown(v)
                )
            }),
        }
    };
    let min = int(c.scale_min, "Scale Min", default_min)?;
    let max = int(c.scale_max, "Scale Max", default_max)?;
    if min > max {
        return Err(format!(
            "column 'Scale Min': {min} is above Scale Max {max}; expected Scale Min <= Scale Max"
        ));
    }
    let raw_score = r.text(c.score);
    let score = raw_score
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= min as f64 && *s <= max as f64)
        .ok_or_else(|| {
            format!(
                "column 'Score': expected a number from {min} to {max} (Scale Min to Scale Max), \
                 got {}",
                shown(raw_score)
            )
        })?;
    let respondent_type = get(Some(c.respondent_type))
        .ok_or("column 'Respondent Type': empty; expected customer or agent")?;
    let instant = |i: Option<usize>, name: &str| -> Result<Option<i64>, String> {
        match get(i) {
            None => Ok(None),
            Some(v) => parse_instant(v).map(Some).ok_or_else(|| {
                format!(
                    "column '{name}': expected an ISO 8601 timestamp with offset like \
                     {TS_EXAMPLE}, got {}",
                    shown(v)
                )
            }),
        }
    };
    let offered_at = instant(c.sent_at, "Sent At")?;
    let responded_at = instant(Some(c.responded_at), "Responded At")?.ok_or_else(|| {
        format!("column 'Responded At': empty; expected a timestamp like {TS_EXAMPLE}")
    })?;

    tb.str("source_system", Some("survey_export"));
    tb.str("response_id", Some(response_id));
    tb.str("survey_name", get(c.survey));
    tb.str("instrument", Some(instrument));
    tb.int("scale_min", Some(min));
    tb.int("scale_max", Some(max));
    tb.float("score", Some(score));
    tb.str("comment", get(c.comment));
    tb.str("respondent_type", Some(respondent_type));
    tb.str("respondent_id", get(c.respondent));
    tb.str("customer_email", get(c.email));
    tb.str("customer_phone", get(c.phone));
    tb.str("agent_id", get(c.agent));
    tb.str("interaction_channel", get(c.channel));
    tb.str("interaction_id", get(c.interaction_id));
    tb.ts("offered_at", offered_at);
    tb.ts("responded_at", Some(responded_at));
    Ok(())
}

#[cfg(test)]
mod tests {
    use touchstone_core::SourceFormat;

    use super::*;
    use crate::testutil::*;

    const HEADER: &str = "Response ID,Survey,Metric,Scale Min,Scale Max,Score,Comment,Respondent Type,Respondent,Email,Phone,Agent,Channel,Interaction ID,Sent At,Responded At\n";

    #[test]
    fn responses_with_multiline_comments() {
        let input = format!(
            "{HEADER}r1,Post-call,csat,1,5,4,\"Fast, friendly.\nSaid \"\"thanks\"\"\",customer,jane@example.com,jane@example.com,3125550143,jsmith,voice,1785593642.100,2026-08-01T09:00:00-05:00,2026-08-01T09:22:31-05:00\n\
             r2,Relationship,NPS,0,10,9,,customer,bob@example.com,,,,,,,2026-08-02T10:00:00Z\n\
             r3,,self_rating,,,3.5,,agent,jsmith,,,jsmith,chat,Q1,,2026-08-02T10:00:00+00:00\n"
        );
        for text in [input.clone(), crlf(&input)] {
            let (stats, sink) = run_ok(SourceFormat::SurveyCsv, text.as_bytes());
            assert_eq!((stats.rows_read, stats.rows_staged), (3, 3));
            let t = sink.table(StagingTable::SurveyResponses);
            assert_eq!(s(&t, "source_system", 0).as_deref(), Some("survey_export"));
            assert_eq!(s(&t, "response_id", 0).as_deref(), Some("r1"));
            assert_eq!(s(&t, "survey_name", 0).as_deref(), Some("Post-call"));
            assert_eq!(s(&t, "instrument", 0).as_deref(), Some("csat"));
            assert_eq!(
                (i(&t, "scale_min", 0), i(&t, "scale_max", 0)),
                (Some(1), Some(5))
            );
            assert_eq!(f(&t, "score", 0), Some(4.0));
            let nl = if text.contains('\r') { "\r\n" } else { "\n" };
            assert_eq!(
                s(&t, "comment", 0),
                Some(format!("Fast, friendly.{nl}Said \"thanks\""))
            );
            assert_eq!(s(&t, "respondent_type", 0).as_deref(), Some("customer"));
            assert_eq!(
                s(&t, "respondent_id", 0).as_deref(),
                Some("jane@example.com")
            );
            assert_eq!(
                s(&t, "customer_email", 0).as_deref(),
                Some("jane@example.com")
            );
            assert_eq!(s(&t, "customer_phone", 0).as_deref(), Some("3125550143"));
            assert_eq!(s(&t, "agent_id", 0).as_deref(), Some("jsmith"));
            assert_eq!(s(&t, "interaction_channel", 0).as_deref(), Some("voice"));
            assert_eq!(
                s(&t, "interaction_id", 0).as_deref(),
                Some("1785593642.100")
            );
            assert_eq!(i(&t, "offered_at", 0), Some(ts("2026-08-01T14:00:00Z")));
            assert_eq!(i(&t, "responded_at", 0), Some(ts("2026-08-01T14:22:31Z")));
            assert_eq!(i(&t, "_source_line", 1), Some(4));
            assert_eq!(s(&t, "instrument", 1).as_deref(), Some("nps"));
            assert_eq!(s(&t, "comment", 1), None);
            assert_eq!(i(&t, "offered_at", 1), None);
            // Empty scale: the instrument's standard one.
            assert_eq!(
                (i(&t, "scale_min", 2), i(&t, "scale_max", 2)),
                (Some(1), Some(5))
            );
            assert_eq!(f(&t, "score", 2), Some(3.5));
        }
    }

    #[test]
    fn columns_in_any_order_and_case() {
        let input = " responded at ,SCORE,metric,response id,respondent type\n\
                     2026-08-01T09:22:31-05:00,6,ces,r9,customer\n";
        let (stats, sink) = run_ok(SourceFormat::SurveyCsv, input.as_bytes());
        assert_eq!(stats.rows_staged, 1);
        let t = sink.table(StagingTable::SurveyResponses);
        assert_eq!(
            (i(&t, "scale_min", 0), i(&t, "scale_max", 0)),
            (Some(1), Some(7))
        );
        assert_eq!(f(&t, "score", 0), Some(6.0));
    }

    #[test]
    fn bad_responses_are_rejects() {
        let row = |metric: &str, score: &str, at: &str| {
            format!("r,S,{metric},1,5,{score},,customer,x,,,,,,,{at}\n")
        };
        let mut input = HEADER.to_owned();
        input += &row("csat", "4", "2026-08-01T09:22:31-05:00");
        input += &row("happiness", "4", "2026-08-01T09:22:31-05:00");
        input += &row("csat", "7", "2026-08-01T09:22:31-05:00");
        input += &row("csat", "four", "2026-08-01T09:22:31-05:00");
        input += &row("csat", "4", "2026-08-01 09:22");
        input += &row("csat", "4", "");
        input += "r,S,csat,1,5,4\n";
        input += "r,S,csat,x,5,4,,customer,x,,,,,,,2026-08-01T09:22:31Z\n";
        let (stats, sink) = run_ok(SourceFormat::SurveyCsv, input.as_bytes());
        assert_eq!(
            (stats.rows_read, stats.rows_staged, stats.rows_rejected),
            (8, 1, 7)
        );
        let r: Vec<_> = sink.rejects.iter().map(|r| r.reason.as_str()).collect();
        assert!(r[0].contains("'Metric'") && r[0].contains("csat, nps, ces or self_rating"));
        assert!(r[1].contains("'Score'") && r[1].contains("from 1 to 5"));
        assert!(r[2].contains("'Score'") && r[2].contains("'four'"));
        assert!(r[3].contains("'Responded At'") && r[3].contains(TS_EXAMPLE));
        assert!(r[4].contains("'Responded At': empty"));
        assert!(r[5].contains("expected 16 fields"));
        assert!(r[6].contains("'Scale Min'") && r[6].contains("whole number"));
        let lines: Vec<_> = sink.rejects.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![3, 4, 5, 6, 7, 8, 9]);
    }

    #[test]
    fn stray_quotes_pairing_across_lines_do_not_swallow_records() {
        let input = format!(
            "{HEADER}r1,S,nps,0,10,\"4,,customer,x,,,,,,,2026-08-01T09:22:31Z\n\
             r2,S,csat,1,5,3,,customer,x,,,,,,,2026-08-01T09:22:31Z\n\
             r3,S,nps,0,10,10\",ok,customer,x,,,,,,,2026-08-01T09:22:31Z\n"
        );
        let (stats, sink) = run_ok(SourceFormat::SurveyCsv, input.as_bytes());
        assert_eq!(
            (stats.rows_read, stats.rows_staged, stats.rows_rejected),
            (3, 1, 2)
        );
        let t = sink.table(StagingTable::SurveyResponses);
        assert_eq!(s(&t, "response_id", 0).as_deref(), Some("r2"));
        let r = &sink.rejects;
        assert_eq!((r[0].line, r[1].line), (2, 4));
        assert!(
            r[0].reason
                .contains("(lines 2–4) is not valid: column 'Score'"),
            "{}",
            r[0].reason
        );
        assert!(!r[0].raw.contains("r2"));
    }

    #[test]
    fn a_bad_value_in_a_multiline_record_is_one_reject() {
        let input = format!(
            "{HEADER}r1,S,csat,1,5,9,\"Long\nstory, short\",customer,x,,,,,,,2026-08-01T09:22:31Z\n\
             r2,S,csat,1,5,3,,customer,x,,,,,,,2026-08-01T09:22:31Z\n"
        );
        let (stats, sink) = run_ok(SourceFormat::SurveyCsv, input.as_bytes());
        assert_eq!(
            (stats.rows_read, stats.rows_staged, stats.rows_rejected),
            (2, 1, 1)
        );
        assert_eq!(sink.rejects[0].line, 2);
        assert!(sink.rejects[0].reason.starts_with("column 'Score'"));
        assert!(sink.rejects[0].raw.contains("story, short"));
    }

    #[test]
    fn missing_required_column_is_a_file_error() {
        let (res, _) = run(
            SourceFormat::SurveyCsv,
            &crate::ReadOptions::default(),
            "surveys/responses.csv",
            b"Response ID,Metric,Score,Respondent Type\nr,csat,4,customer\n",
        );
        let msg = res.err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(
            msg,
            "surveys/responses.csv: missing required column 'Responded At'; the survey export must include it"
        );
    }

    #[test]
    fn compressed_input() {
        let data = format!("{HEADER}r2,R,nps,0,10,9,,customer,b,,,,,,,2026-08-02T10:00:00Z\n");
        let (stats, _) = run_compressed(
            SourceFormat::SurveyCsv,
            "responses.csv.gz",
            gzip(data.as_bytes()),
        );
        assert_eq!(stats.rows_staged, 1);
        let (stats, _) = run_compressed(
            SourceFormat::SurveyCsv,
            "responses.csv.zst",
            zstd(data.as_bytes()),
        );
        assert_eq!(stats.rows_staged, 1);
    }
}
