//! Survey tool response exports (CSV) → `stg_survey_responses`.
//!
//! Every survey tool writes its own layout, so a `survey_csv` source names a `preset:` (the
//! layout of a known tool) and may add a `mapping:` that overrides any part of it (see
//! [`SurveyMappingFile`](touchstone_core::config::SurveyMappingFile)). Columns are found by
//! header text as in every headed export (trimmed, case-insensitive, then on letters and digits
//! alone); the first name of a role's list that the header has wins.
//!
//! | preset | `source_system` | header rows | response id | responded at | score |
//! |---|---|---|---|---|---|
//! | `touchstone` (default) | `survey_export` | 1 | `Response ID` | `Responded At` (required) | `Score`, instrument in `Metric`, scale in `Scale Min`/`Scale Max` |
//! | `qualtrics` | `qualtrics` | 3 (current: ids, question text, `{"ImportId":...}`), or 2 (legacy: `V1...` ids, then names) — told from the file | `ResponseId`, `ResponseID` | `RecordedDate`, `EndDate` | `mapping.questions` |
//! | `hubspot_feedback` | `hubspot` | 1 | `Record ID`, `hs_object_id`, `Submission ID` | `Submitted at`, `Submission date`, `hs_submission_timestamp`, `Create Date` | `Rating` / `hs_value`; instrument from `Survey type` / `hs_survey_type`, else the survey name (loyalty/NPS, satisfaction/CSAT, support/effort/CES); CSAT 0–2, CES 1–7, NPS 0–10; `Sentiment` / `Response group` is the label |
//! | `delighted` | `delighted` | 1 | `Response ID`, `id` | `Response timestamp`, `Created at`, `created_at` (ISO or epoch seconds) | `Score`; instrument from `Survey type`, default NPS |
//! | `surveymonkey` | `surveymonkey` | 2 (question text, then `Response` / option labels; a multi-column question's columns are named `<question> - <option>`) | `Respondent ID`, `RespondentID` | `End Date`, `EndDate` (US `11/12/2021 10:32:11 AM` read too) | `mapping.questions` |
//! | `typeform` | `typeform` | 1 | `#`, `Token` | `Submit Date (UTC)` (always UTC) | `mapping.questions` |
//!
//! The other roles, by preset, with the names read: comment (`Comment`; Qualtrics/SurveyMonkey/
//! Typeform: the question's `comment:` column; HubSpot `Response`, `hs_content`), respondent
//! (`Respondent`; Qualtrics `RecipientEmail`, `ExternalReference`; SurveyMonkey `Email Address`;
//! HubSpot `Contact ID`, `hs_contact_id`; Delighted `Person ID`, `Email`), e-mail (`Email`;
//! Qualtrics `RecipientEmail`, `EmailAddress`; SurveyMonkey `Email Address`; HubSpot
//! `Contact email`, `Email`), phone (`Phone`), agent (`Agent`), channel (`Channel`; HubSpot
//! `Survey channel`), interaction id (`Interaction ID`), offered at (`Sent At`), survey name
//! (`Survey`; HubSpot `Survey name`, `hs_survey_name`), respondent type (`Respondent Type`;
//! default `customer`), status (`Status`), label (`Label`), reward offered (`Reward Offered`).
//!
//! # Rows, invitations and conservation
//!
//! One CSV record is one row read. A long export (one score per record) stages one row; a wide
//! export stages one row per `mapping.questions` entry, with `response_id` `<id>/<column>` when
//! there is more than one question. Each row has a `response_status`:
//!
//! - `answered` — a score (within the scale) was given; only these rows are responses;
//! - `offered` (status `offered`, `sent`, `delivered`, `opened`, `clicked`, `pending`,
//!   `invited`; or no status column, no score and a sent-at time), `unoffered` (`unoffered`,
//!   `not offered`, `suppressed`, `bounced`, `failed`, `undeliverable`) and `unanswered`
//!   (`unanswered`, `not answered`, `no response`, `expired`, `partial`; or no score and
//!   nothing else said) — invitations and unanswered questions, staged with no score and no
//!   responded-at, so they feed response rates and never CSAT, NPS or CES;
//! - `answered`, `completed`, `complete`, `responded`, `finished`, `submitted` in the status
//!   column mean answered.
//!
//! A status that says the row was not answered while a score is given is a reject (the export
//! contradicts itself), as is an unknown status.
//!
//! # Instrument and scale
//!
//! The instrument of a row is, in order: the question's (wide exports); the `mapping.surveys`
//! entry of the row's survey name; the instrument column's value (`csat`, `NPS`, `Customer
//! Effort Score`...); for `hubspot_feedback`, words in the survey name; `mapping.instrument`;
//! the preset's default (Delighted: NPS). A row whose instrument cannot be told is a reject.
//! The scale is, in order: the `Scale Min`/`Scale Max` values; the question's `scale:`; the
//! survey's; `mapping.scale`; the preset's scale for the instrument (HubSpot CSAT 0–2); the
//! instrument's standard scale (CSAT 1–5, NPS 0–10, CES 2.0 1–7, self-rating 1–5).
//!
//! Timestamps: ISO 8601 with or without offset, `2017-07-18 08:28:09`, US month-first dates,
//! epoch seconds; zone-less ones are in the source's `timezone:` (Typeform's `(UTC)` columns
//! are UTC). A quoted multi-line comment is part of one record, reported at the line it starts
//! on.

use std::io::BufRead;

use touchstone_core::StagingTable;
use touchstone_core::config::{Instrument, SurveyMapping, SurveyPreset, SurveyRole};

use crate::crm::{Notes, parse_bool};
use crate::header::{Header, read_records_multi, warn_missing, warn_unread};
use crate::input::{CsvReader, Framed, malformed_reason, shown};
use crate::table::TableBuilder;
use crate::time::parse_datetime;
use crate::{Ctx, ExtractError, ReadOptions};

const TS_EXAMPLE: &str = "2026-08-01T09:22:31-05:00";

/// How a preset's header is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HeaderStyle {
    /// One row of column names.
    One,
    /// Qualtrics: 2 (legacy) or 3 (current) rows, told from the file.
    Qualtrics,
    /// SurveyMonkey: question text, then a row of sub-labels.
    TwoRows,
}

/// A survey tool's layout.
struct Preset {
    source_system: &'static str,
    export: &'static str,
    header: HeaderStyle,
    /// Candidate header names per role, most specific first.
    roles: &'static [(SurveyRole, &'static [&'static str])],
    /// Roles whose column the file must have.
    required: &'static [SurveyRole],
    /// Whether an answered row must have a responded-at time.
    responded_at_required: bool,
    /// Instrument scales that differ from the standard ones.
    scales: &'static [(Instrument, (i64, i64))],
    default_instrument: Option<Instrument>,
    /// Tell the instrument from words in the survey name.
    instrument_from_name: bool,
    /// Whether wide exports need `mapping.questions`.
    wide: bool,
    /// Whether zone-less times are UTC whatever the source's timezone.
    utc: bool,
}

use SurveyRole as R;

const TOUCHSTONE: Preset = Preset {
    source_system: "survey_export",
    export: "survey",
    header: HeaderStyle::One,
    roles: &[
        (R::ResponseId, &["Response ID"]),
        (R::SurveyName, &["Survey"]),
        (R::Instrument, &["Metric"]),
        (R::Score, &["Score"]),
        (R::ScaleMin, &["Scale Min"]),
        (R::ScaleMax, &["Scale Max"]),
        (R::Label, &["Label"]),
        (R::Comment, &["Comment"]),
        (R::RespondentType, &["Respondent Type"]),
        (R::Respondent, &["Respondent"]),
        (R::Email, &["Email"]),
        (R::Phone, &["Phone"]),
        (R::Agent, &["Agent"]),
        (R::Channel, &["Channel"]),
        (R::InteractionId, &["Interaction ID"]),
        (R::OfferedAt, &["Sent At"]),
        (R::RespondedAt, &["Responded At"]),
        (R::Status, &["Status"]),
        (R::RewardOffered, &["Reward Offered"]),
    ],
    required: &[
        R::ResponseId,
        R::Instrument,
        R::Score,
        R::RespondentType,
        R::RespondedAt,
    ],
    responded_at_required: true,
    scales: &[],
    default_instrument: None,
    instrument_from_name: false,
    wide: false,
    utc: false,
};

const QUALTRICS: Preset = Preset {
    source_system: "qualtrics",
    export: "Qualtrics",
    header: HeaderStyle::Qualtrics,
    roles: &[
        (R::ResponseId, &["ResponseId", "ResponseID", "_recordId"]),
        (R::RespondedAt, &["RecordedDate", "EndDate"]),
        (
            R::Respondent,
            &[
                "RecipientEmail",
                "EmailAddress",
                "ExternalReference",
                "ExternalDataReference",
            ],
        ),
        (R::Email, &["RecipientEmail", "EmailAddress"]),
        (R::Channel, &["DistributionChannel"]),
    ],
    required: &[R::ResponseId],
    responded_at_required: false,
    scales: &[],
    default_instrument: None,
    instrument_from_name: false,
    wide: true,
    utc: false,
};

const HUBSPOT_FEEDBACK: Preset = Preset {
    source_system: "hubspot",
    export: "HubSpot feedback",
    header: HeaderStyle::One,
    roles: &[
        (
            R::ResponseId,
            &["Record ID", "hs_object_id", "Submission ID"],
        ),
        (R::SurveyName, &["Survey name", "hs_survey_name", "Survey"]),
        (R::Instrument, &["Survey type", "hs_survey_type"]),
        (R::Score, &["Rating", "hs_value", "Score"]),
        (
            R::Label,
            &["Sentiment", "Response group", "hs_response_group"],
        ),
        (R::Comment, &["Response", "hs_content", "Feedback"]),
        (R::Respondent, &["Contact ID", "hs_contact_id"]),
        (
            R::Email,
            &["Contact email", "hs_contact_email_rollup", "Email"],
        ),
        (R::Channel, &["Survey channel", "hs_survey_channel"]),
        (
            R::RespondedAt,
            &[
                "Submitted at",
                "Submission date",
                "hs_submission_timestamp",
                "Create Date",
                "hs_createdate",
                "Date",
            ],
        ),
    ],
    required: &[R::ResponseId, R::Score],
    responded_at_required: false,
    scales: &[(Instrument::Csat, (0, 2))],
    default_instrument: None,
    instrument_from_name: true,
    wide: false,
    utc: false,
};

const DELIGHTED: Preset = Preset {
    source_system: "delighted",
    export: "Delighted",
    header: HeaderStyle::One,
    roles: &[
        (R::ResponseId, &["Response ID", "id"]),
        (R::Score, &["Score"]),
        (R::Comment, &["Comment"]),
        (R::Instrument, &["Survey type", "survey_type"]),
        (R::Respondent, &["Person ID", "person", "Email"]),
        (R::Email, &["Email", "person_email"]),
        (
            R::RespondedAt,
            &["Response timestamp", "Created at", "created_at", "Date"],
        ),
    ],
    required: &[R::ResponseId, R::Score],
    responded_at_required: false,
    scales: &[],
    default_instrument: Some(Instrument::Nps),
    instrument_from_name: false,
    wide: false,
    utc: false,
};

const SURVEYMONKEY: Preset = Preset {
    source_system: "surveymonkey",
    export: "SurveyMonkey",
    header: HeaderStyle::TwoRows,
    roles: &[
        (R::ResponseId, &["Respondent ID", "RespondentID"]),
        (R::RespondedAt, &["End Date", "EndDate"]),
        (R::Respondent, &["Email Address", "Custom Data 1"]),
        (R::Email, &["Email Address"]),
    ],
    required: &[R::ResponseId],
    responded_at_required: false,
    scales: &[],
    default_instrument: None,
    instrument_from_name: false,
    wide: true,
    utc: false,
};

const TYPEFORM: Preset = Preset {
    source_system: "typeform",
    export: "Typeform",
    header: HeaderStyle::One,
    roles: &[
        (R::ResponseId, &["#", "Token"]),
        (R::RespondedAt, &["Submit Date (UTC)"]),
    ],
    required: &[R::ResponseId],
    responded_at_required: false,
    scales: &[],
    default_instrument: None,
    instrument_from_name: false,
    wide: true,
    utc: true,
};

fn preset(p: SurveyPreset) -> &'static Preset {
    match p {
        SurveyPreset::Touchstone => &TOUCHSTONE,
        SurveyPreset::Qualtrics => &QUALTRICS,
        SurveyPreset::HubspotFeedback => &HUBSPOT_FEEDBACK,
        SurveyPreset::Delighted => &DELIGHTED,
        SurveyPreset::Surveymonkey => &SURVEYMONKEY,
        SurveyPreset::Typeform => &TYPEFORM,
    }
}

/// The response status staged in `response_status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Answered,
    Offered,
    Unoffered,
    Unanswered,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Status::Answered => "answered",
            Status::Offered => "offered",
            Status::Unoffered => "unoffered",
            Status::Unanswered => "unanswered",
        }
    }

    fn parse(text: &str) -> Option<Status> {
        let key = crate::header::loose_key(text);
        Some(match key.as_str() {
            "answered" | "completed" | "complete" | "responded" | "finished" | "submitted" => {
                Status::Answered
            }
            "offered" | "sent" | "delivered" | "opened" | "clicked" | "pending" | "invited" => {
                Status::Offered
            }
            "unoffered" | "notoffered" | "suppressed" | "bounced" | "failed" | "undeliverable" => {
                Status::Unoffered
            }
            "unanswered" | "notanswered" | "noresponse" | "expired" | "partial" => {
                Status::Unanswered
            }
            _ => return None,
        })
    }
}

/// Where each role's column is in this file, and the question columns.
struct Cols {
    at: Vec<(SurveyRole, usize)>,
    /// (score column, comment column, question) per question.
    questions: Vec<(
        usize,
        Option<usize>,
        touchstone_core::config::SurveyQuestion,
    )>,
}

impl Cols {
    fn get(&self, role: SurveyRole) -> Option<usize> {
        self.at.iter().find(|(r, _)| *r == role).map(|(_, i)| *i)
    }
}

pub(crate) fn read(
    opts: &ReadOptions,
    ctx: &mut Ctx<'_, '_>,
    input: &mut dyn BufRead,
) -> Result<(), ExtractError> {
    let default_mapping = SurveyMapping::default();
    let mapping = opts.survey.as_ref().unwrap_or(&default_mapping);
    let p = preset(mapping.preset);
    let file = ctx.lineage.file;
    let mut reader = CsvReader::new(input, b',');
    let Some((header, first)) = read_header(&mut reader, ctx, p, mapping)? else {
        tracing::warn!(
            file,
            export = p.export,
            "empty survey export: no header, no rows"
        );
        return Ok(());
    };
    let cols = resolve(&header, p, mapping, file)?;
    let tz = if p.utc { chrono_tz::UTC } else { opts.timezone };
    let mut notes = Notes::default();
    let read_before = ctx.stats.rows_read;
    read_records_multi(
        &mut reader,
        &header,
        ctx,
        StagingTable::SurveyResponses,
        first,
        |r, tb, line| {
            let mut row_notes = Notes::default();
            let outcome = record(r, &header, &cols, p, mapping, tz, tb, line, &mut row_notes)?;
            if outcome.is_ok() {
                notes.add(&row_notes);
            }
            Ok(outcome)
        },
    )?;
    let records = ctx.stats.rows_read - read_before;
    if records > 0 {
        for (role, names) in p.roles {
            if cols.get(*role).is_none()
                && !p.required.contains(role)
                && mapping.column(*role).is_none()
                && !matches!(role, R::Status | R::Label | R::RewardOffered)
            {
                warn_missing(ctx, p.export, names[0], staged_as(*role), records);
            }
        }
    }
    warn_unread(ctx, &header, p.export, records);
    notes.warn(ctx, p.export);
    Ok(())
}

/// The staging column a role fills.
fn staged_as(role: SurveyRole) -> &'static str {
    match role {
        R::ResponseId => "response_id",
        R::SurveyName => "survey_name",
        R::Instrument => "instrument",
        R::Score => "score",
        R::ScaleMin => "scale_min",
        R::ScaleMax => "scale_max",
        R::Label => "score_label",
        R::Comment => "comment",
        R::RespondentType => "respondent_type",
        R::Respondent => "respondent_id",
        R::Email => "customer_email",
        R::Phone => "customer_phone",
        R::Agent => "agent_id",
        R::Channel => "interaction_channel",
        R::InteractionId => "interaction_id",
        R::OfferedAt => "offered_at",
        R::RespondedAt => "responded_at",
        R::Status => "response_status",
        R::RewardOffered => "reward_offered",
    }
}

/// Reads the header rows; returns the header and, when the header turned out shorter than
/// it might have been (Qualtrics), the first data record already framed.
fn read_header(
    reader: &mut CsvReader<'_>,
    ctx: &Ctx<'_, '_>,
    p: &Preset,
    mapping: &SurveyMapping,
) -> Result<Option<(Header, Option<Framed>)>, ExtractError> {
    let file = ctx.lineage.file;
    let mut next = |what: &str| -> Result<Option<(Vec<String>, u64)>, ExtractError> {
        match reader.next_record().map_err(|e| ctx.io(e))? {
            None => Ok(None),
            Some(Framed::Malformed {
                line,
                field,
                reason,
            }) => Err(ExtractError::BadHeader {
                file: file.to_owned(),
                line,
                reason: format!("{what}: {}", malformed_reason(field, &reason, |_| None)),
            }),
            Some(Framed::Record { line }) => {
                let names = (0..reader.len())
                    .map(|i| {
                        let t = reader.text(i);
                        if i == 0 {
                            t.trim_start_matches('\u{feff}')
                        } else {
                            t
                        }
                        .to_owned()
                    })
                    .collect();
                Ok(Some((names, line)))
            }
        }
    };
    let Some((row1, line1)) = next("header row 1")? else {
        return Ok(None);
    };
    let style = match mapping.header_rows {
        Some(1) => HeaderStyle::One,
        Some(_) if p.header == HeaderStyle::One => HeaderStyle::One,
        _ => p.header,
    };
    match style {
        HeaderStyle::One => {
            // Extra header rows a mapping declares are skipped.
            for k in 2..=mapping.header_rows.unwrap_or(1) {
                if next(&format!("header row {k}"))?.is_none() {
                    break;
                }
            }
            Ok(Some((header_of(row1, line1, reader), None)))
        }
        HeaderStyle::TwoRows => {
            let Some((row2, _)) = next("header row 2")? else {
                return Ok(Some((header_of(row1, line1, reader), None)));
            };
            let mut names = Vec::with_capacity(row1.len());
            let mut question = String::new();
            for (i, top) in row1.iter().enumerate() {
                let sub = row2.get(i).map(|s| s.trim()).unwrap_or("");
                if !top.trim().is_empty() {
                    question = top.trim().to_owned();
                    names.push(question.clone());
                } else if !question.is_empty() && !sub.is_empty() {
                    names.push(format!("{question} - {sub}"));
                } else {
                    names.push(sub.to_owned());
                }
            }
            for k in 3..=mapping.header_rows.unwrap_or(2) {
                if next(&format!("header row {k}"))?.is_none() {
                    break;
                }
            }
            Ok(Some((header_of(names, line1, reader), None)))
        }
        HeaderStyle::Qualtrics => {
            let legacy = row1.first().is_some_and(|c| c.trim() == "V1");
            let Some((row2, line2)) = next("header row 2")? else {
                return Ok(Some((header_of(row1, line1, reader), None)));
            };
            if legacy {
                // V1, V2... ids of the metadata columns, then a row of names (ResponseID,
                // StartDate, ...) for those and question text for the questions; no ImportId
                // row. The metadata columns are named by the second row, the questions by their
                // ids in the first (Q1, Q2_1), as in current exports, so one mapping reads both.
                let names = row1
                    .iter()
                    .enumerate()
                    .map(|(i, id)| {
                        let id = id.trim();
                        let is_v = id.len() > 1
                            && id.starts_with('V')
                            && id[1..].chars().all(|c| c.is_ascii_digit());
                        if is_v || id.is_empty() {
                            row2.get(i).cloned().unwrap_or_default()
                        } else {
                            id.to_owned()
                        }
                    })
                    .collect();
                return Ok(Some((header_of(names, line2, reader), None)));
            }
            if mapping.header_rows == Some(2) {
                return Ok(Some((header_of(row1, line1, reader), None)));
            }
            // Current exports add a row of {"ImportId": ...}; older Insights ones
            // {'ImportId': ...}. Anything else is the first response.
            let header = header_of(row1, line1, reader);
            let third = reader.next_record().map_err(|e| ctx.io(e))?;
            match third {
                Some(Framed::Record { .. })
                    if (0..reader.len()).any(|i| reader.text(i).contains("ImportId")) =>
                {
                    Ok(Some((header, None)))
                }
                other => Ok(Some((header, other))),
            }
        }
    }
}

fn header_of(names: Vec<String>, line: u64, reader: &mut CsvReader<'_>) -> Header {
    let header = Header::from_names(names, line);
    reader.expect_fields(header.len());
    header
}

fn resolve(
    h: &Header,
    p: &Preset,
    mapping: &SurveyMapping,
    file: &str,
) -> Result<Cols, ExtractError> {
    let missing = |column: &str, hint: String| ExtractError::MissingColumn {
        file: file.to_owned(),
        column: column.to_owned(),
        export: p.export.to_owned(),
        hint,
    };
    let mut at = Vec::new();
    for role in SurveyRole::ALL {
        if let Some(column) = mapping.column(role) {
            let i = h.find(column).ok_or_else(|| {
                missing(
                    column,
                    format!(
                        " (`mapping.columns.{}` names it; check the header text)",
                        role.key()
                    ),
                )
            })?;
            at.push((role, i));
            continue;
        }
        let names = p
            .roles
            .iter()
            .find(|(r, _)| *r == role)
            .map_or(&[][..], |(_, n)| *n);
        match h.find_any(names) {
            Some(i) => at.push((role, i)),
            None if p.required.contains(&role)
                && (role != R::Score || mapping.questions.is_empty()) =>
            {
                let others: Vec<String> = names[1..].iter().map(|n| format!("'{n}'")).collect();
                let also = if others.is_empty() {
                    String::new()
                } else {
                    format!(" (or {})", others.join(", "))
                };
                return Err(missing(
                    names.first().copied().unwrap_or(role.key()),
                    format!(
                        "{also}; or name the column that holds it with `mapping.columns.{}`",
                        role.key()
                    ),
                ));
            }
            None => {}
        }
    }
    let mut questions = Vec::new();
    for q in &mapping.questions {
        let i = h.find(&q.column).ok_or_else(|| {
            missing(
                &q.column,
                " (listed under `mapping.questions`; check the header text)".to_owned(),
            )
        })?;
        let comment = match &q.comment {
            Some(c) => Some(h.find(c).ok_or_else(|| {
                missing(
                    c,
                    " (the `comment:` of a question under `mapping.questions`)".to_owned(),
                )
            })?),
            None => None,
        };
        questions.push((i, comment, q.clone()));
    }
    let has_score = at.iter().any(|(r, _)| *r == R::Score);
    if questions.is_empty() && !has_score {
        return Err(missing(
            "Score",
            if p.wide {
                format!(
                    "; a {} export has one column per question: list the ones to read under \
                     `mapping.questions` (column, instrument, scale)",
                    p.export
                )
            } else {
                "; or name the score column with `mapping.columns.score`".to_owned()
            },
        ));
    }
    Ok(Cols { at, questions })
}

/// The instrument of a survey named `name`, told from words in it (HubSpot's default survey
/// names: "Customer loyalty survey" is NPS, "Customer satisfaction survey" CSAT, "Customer
/// support survey" CES).
fn instrument_from_name(name: &str) -> Option<Instrument> {
    let lower = name.to_lowercase();
    let has = |w: &str| {
        lower
            .split(|c: char| !c.is_alphanumeric())
            .any(|part| part == w)
    };
    if has("nps") || has("loyalty") || has("promoter") {
        Some(Instrument::Nps)
    } else if has("ces") || has("effort") || has("support") {
        Some(Instrument::Ces)
    } else if has("csat") || has("satisfaction") {
        Some(Instrument::Csat)
    } else {
        None
    }
}

#[allow(clippy::too_many_arguments)]
fn record(
    r: &CsvReader<'_>,
    h: &Header,
    c: &Cols,
    p: &Preset,
    mapping: &SurveyMapping,
    tz: chrono_tz::Tz,
    tb: &mut TableBuilder,
    line: u64,
    notes: &mut Notes,
) -> Result<Result<(), String>, ExtractError> {
    let get = |role: SurveyRole| {
        c.get(role)
            .map(|i| r.text(i))
            .filter(|v| !v.trim().is_empty())
    };
    let name = |role: SurveyRole| c.get(role).map_or(role.key(), |i| h.name(i));
    let Some(response_id) = get(R::ResponseId) else {
        return Ok(Err(format!(
            "column '{}': empty; expected the response's id",
            name(R::ResponseId)
        )));
    };
    let survey_name = get(R::SurveyName);
    let rule = survey_name.and_then(|s| {
        mapping
            .surveys
            .iter()
            .find(|rule| rule.survey.trim().eq_ignore_ascii_case(s.trim()))
    });
    let mut instant = |role: SurveyRole| -> Result<Option<i64>, String> {
        match get(role) {
            None => Ok(None),
            Some(v) => match parse_datetime(v, tz) {
                Some((t, placed)) => {
                    notes.note(placed);
                    Ok(Some(t))
                }
                None => Err(format!(
                    "column '{}': expected a timestamp like {TS_EXAMPLE} or 2026-08-01 \
                     09:22:31, got {}",
                    name(role),
                    shown(v)
                )),
            },
        }
    };
    let offered_at = match instant(R::OfferedAt) {
        Ok(t) => t,
        Err(e) => return Ok(Err(e)),
    };
    let responded_at = match instant(R::RespondedAt) {
        Ok(t) => t,
        Err(e) => return Ok(Err(e)),
    };
    let status_text = get(R::Status);
    let status = match status_text {
        None => None,
        Some(t) => match Status::parse(t) {
            Some(s) => Some(s),
            None => {
                return Ok(Err(format!(
                    "column '{}': expected a response status (answered, completed, offered, \
                     sent, unoffered, unanswered, ...), got {}",
                    name(R::Status),
                    shown(t)
                )));
            }
        },
    };
    let reward = match get(R::RewardOffered) {
        None => None,
        Some(v) => match parse_bool(v) {
            Some(b) => Some(b),
            None => {
                return Ok(Err(format!(
                    "column '{}': expected true/false, yes/no or 1/0, got {}",
                    name(R::RewardOffered),
                    shown(v)
                )));
            }
        },
    };
    let respondent_type = get(R::RespondentType).unwrap_or("customer");
    let common = Common {
        source_system: p.source_system,
        survey_name,
        respondent_type,
        respondent: get(R::Respondent).or(get(R::Email)),
        email: get(R::Email),
        phone: get(R::Phone),
        agent: get(R::Agent),
        channel: get(R::Channel),
        interaction_id: get(R::InteractionId),
        offered_at,
        responded_at,
        label: get(R::Label),
        reward,
    };

    if c.questions.is_empty() {
        // Long layout: one score per record.
        let instrument = match rule.and_then(|r| r.instrument) {
            Some(i) => Some(i),
            None => match get(R::Instrument) {
                Some(t) => match Instrument::parse(t) {
                    Some(i) => Some(i),
                    None if mapping.instrument.is_some() || p.default_instrument.is_some() => {
                        mapping.instrument.or(p.default_instrument)
                    }
                    None => {
                        return Ok(Err(format!(
                            "column '{}': expected csat, nps, ces or self_rating, got {}",
                            name(R::Instrument),
                            shown(t)
                        )));
                    }
                },
                None => survey_name
                    .filter(|_| p.instrument_from_name)
                    .and_then(instrument_from_name)
                    .or(mapping.instrument)
                    .or(p.default_instrument),
            },
        };
        let Some(instrument) = instrument else {
            return Ok(Err(format!(
                "cannot tell the instrument of survey {}: no instrument column value and no \
                 `mapping.surveys` entry for it; expected `mapping.surveys` (or \
                 `mapping.instrument`) to name csat, nps, ces or self_rating",
                survey_name.map_or("(no name)".to_owned(), shown)
            )));
        };
        let scale = match scale_of(r, c, h, instrument, None, rule, mapping, p) {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        let score = get(R::Score);
        let outcome = stage(
            tb,
            &common,
            response_id,
            instrument,
            scale,
            score,
            name(R::Score),
            get(R::Comment),
            status,
            p,
            name(R::RespondedAt),
        );
        return match outcome {
            Ok(()) => tb.end_row(line).map(Ok),
            Err(e) => Ok(Err(e)),
        };
    }

    // Wide layout: one row per question.
    let several = c.questions.len() > 1;
    for (score_at, comment_at, q) in &c.questions {
        let id = if several {
            format!("{response_id}/{}", q.column)
        } else {
            response_id.to_owned()
        };
        let scale = match scale_of(r, c, h, q.instrument, q.scale, rule, mapping, p) {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        let score = Some(r.text(*score_at)).filter(|v| !v.trim().is_empty());
        let comment = comment_at
            .map(|i| r.text(i))
            .filter(|v| !v.trim().is_empty());
        let outcome = stage(
            tb,
            &common,
            &id,
            q.instrument,
            scale,
            score,
            h.name(*score_at),
            comment,
            status,
            p,
            name(R::RespondedAt),
        );
        match outcome {
            Ok(()) => tb.end_row(line)?,
            Err(e) => return Ok(Err(e)),
        }
    }
    Ok(Ok(()))
}

/// What every row of a record shares.
struct Common<'a> {
    source_system: &'static str,
    survey_name: Option<&'a str>,
    respondent_type: &'a str,
    respondent: Option<&'a str>,
    email: Option<&'a str>,
    phone: Option<&'a str>,
    agent: Option<&'a str>,
    channel: Option<&'a str>,
    interaction_id: Option<&'a str>,
    offered_at: Option<i64>,
    responded_at: Option<i64>,
    label: Option<&'a str>,
    reward: Option<bool>,
}

#[allow(clippy::too_many_arguments)]
fn scale_of(
    r: &CsvReader<'_>,
    c: &Cols,
    h: &Header,
    instrument: Instrument,
    question: Option<(i64, i64)>,
    rule: Option<&touchstone_core::config::SurveyRule>,
    mapping: &SurveyMapping,
    p: &Preset,
) -> Result<(i64, i64), String> {
    let (default_min, default_max) = question
        .or(rule.and_then(|r| r.scale))
        .or(mapping.scale)
        .or(p
            .scales
            .iter()
            .find(|(i, _)| *i == instrument)
            .map(|(_, s)| *s))
        .unwrap_or(instrument.default_scale());
    let int = |role: SurveyRole, default: i64| -> Result<i64, String> {
        match c
            .get(role)
            .map(|i| r.text(i))
            .filter(|v| !v.trim().is_empty())
        {
            None => Ok(default),
            Some(v) => v.trim().parse::<i64>().map_err(|_| {
                format!(
                    "column '{}': expected a whole number like {default}, got {}",
                    c.get(role).map_or(role.key(), |i| h.name(i)),
                    shown(v)
                )
            }),
        }
    };
    let min = int(R::ScaleMin, default_min)?;
    let max = int(R::ScaleMax, default_max)?;
    if min > max {
        return Err(format!(
            "column 'Scale Min': {min} is above Scale Max {max}; expected Scale Min <= Scale Max"
        ));
    }
    Ok((min, max))
}

#[allow(clippy::too_many_arguments)]
fn stage(
    tb: &mut TableBuilder,
    c: &Common<'_>,
    response_id: &str,
    instrument: Instrument,
    (min, max): (i64, i64),
    score: Option<&str>,
    score_column: &str,
    comment: Option<&str>,
    status: Option<Status>,
    p: &Preset,
    responded_column: &str,
) -> Result<(), String> {
    let status = match (status, score) {
        (Some(Status::Answered), None) => {
            return Err(format!(
                "column '{score_column}': empty, but the status says the survey was answered; \
                 expected a score from {min} to {max}"
            ));
        }
        (Some(s), Some(v)) if s != Status::Answered => {
            return Err(format!(
                "column '{score_column}' holds {} but the status says {}; expected no score \
                 for an invitation that was not answered",
                shown(v),
                s.name()
            ));
        }
        (Some(s), _) => s,
        (None, Some(_)) => Status::Answered,
        (None, None) if c.offered_at.is_some() => Status::Offered,
        (None, None) => Status::Unanswered,
    };
    let score = match (status, score) {
        (Status::Answered, Some(raw)) => Some(
            raw.trim()
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s >= min as f64 && *s <= max as f64)
                .ok_or_else(|| {
                    format!(
                        "column '{score_column}': expected a number from {min} to {max} (the \
                         {} scale), got {}",
                        instrument.name(),
                        shown(raw)
                    )
                })?,
        ),
        _ => None,
    };
    let responded_at = if status == Status::Answered {
        if p.responded_at_required && c.responded_at.is_none() {
            return Err(format!(
                "column '{responded_column}': empty; expected a timestamp like {TS_EXAMPLE}"
            ));
        }
        c.responded_at
    } else {
        None
    };
    tb.str("source_system", Some(c.source_system));
    tb.str("response_id", Some(response_id));
    tb.str("survey_name", c.survey_name);
    tb.str("instrument", Some(instrument.name()));
    tb.int("scale_min", Some(min));
    tb.int("scale_max", Some(max));
    tb.float("score", score);
    tb.str("comment", comment);
    tb.str("respondent_type", Some(c.respondent_type));
    tb.str("respondent_id", c.respondent);
    tb.str("customer_email", c.email);
    tb.str("customer_phone", c.phone);
    tb.str("agent_id", c.agent);
    tb.str("interaction_channel", c.channel);
    tb.str("interaction_id", c.interaction_id);
    tb.ts("offered_at", c.offered_at);
    tb.ts("responded_at", responded_at);
    tb.str("response_status", Some(status.name()));
    tb.str("score_label", c.label);
    tb.bool("reward_offered", c.reward);
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
        input += &row("csat", "4", "01.08.2026 09:22");
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
            "surveys/responses.csv: missing required column 'Responded At'; the survey export \
             must include it; or name the column that holds it with `mapping.columns.responded_at`"
        );
    }

    fn with(mapping: SurveyMapping) -> ReadOptions {
        ReadOptions {
            survey: Some(mapping),
            ..ReadOptions::default()
        }
    }

    fn question(column: &str, instrument: Instrument) -> touchstone_core::config::SurveyQuestion {
        touchstone_core::config::SurveyQuestion {
            column: column.into(),
            instrument,
            scale: None,
            comment: None,
        }
    }

    #[test]
    fn invitations_are_staged_but_are_not_answers() {
        let input = "Response ID,Survey,Metric,Score,Respondent Type,Respondent,Sent At,Responded At,Status\n\
                     r1,Post-call,csat,4,customer,a,2026-08-01T09:00:00Z,2026-08-01T10:00:00Z,completed\n\
                     r2,Post-call,csat,,customer,b,2026-08-01T09:00:00Z,,offered\n\
                     r3,Post-call,csat,,customer,c,,,unoffered\n\
                     r4,Post-call,csat,,customer,d,2026-08-01T09:00:00Z,,\n\
                     r5,Post-call,csat,,customer,e,,,\n\
                     r6,Post-call,csat,5,customer,f,2026-08-01T09:00:00Z,2026-08-01T10:00:00Z,offered\n\
                     r7,Post-call,csat,,customer,g,2026-08-01T09:00:00Z,,answered\n\
                     r8,Post-call,csat,,customer,h,,,maybe\n";
        let (stats, sink) = run_ok(SourceFormat::SurveyCsv, input.as_bytes());
        assert_eq!(
            (stats.rows_read, stats.rows_staged, stats.rows_rejected),
            (8, 5, 3)
        );
        let t = sink.table(StagingTable::SurveyResponses);
        let status: Vec<_> = (0..5).map(|r| s(&t, "response_status", r)).collect();
        assert_eq!(
            status,
            ["answered", "offered", "unoffered", "offered", "unanswered"]
                .map(|x| Some(x.to_owned()))
        );
        assert_eq!(f(&t, "score", 0), Some(4.0));
        for row in 1..5 {
            assert_eq!(
                (f(&t, "score", row), i(&t, "responded_at", row)),
                (None, None)
            );
        }
        assert_eq!(i(&t, "offered_at", 1), Some(ts("2026-08-01T09:00:00Z")));
        let r: Vec<_> = sink
            .rejects
            .iter()
            .map(|r| (r.line, r.reason.as_str()))
            .collect();
        assert!(
            r[0].1
                .contains("'Score' holds '5' but the status says offered"),
            "{}",
            r[0].1
        );
        assert!(
            r[1].1.contains("the status says the survey was answered"),
            "{}",
            r[1].1
        );
        assert!(
            r[2].1.contains("'Status'") && r[2].1.contains("'maybe'"),
            "{}",
            r[2].1
        );
        assert_eq!(r.iter().map(|x| x.0).collect::<Vec<_>>(), vec![7, 8, 9]);
    }

    #[test]
    fn qualtrics_current_legacy_and_insights_headers() {
        let mapping = SurveyMapping {
            preset: SurveyPreset::Qualtrics,
            questions: vec![
                question("Q1", Instrument::Nps),
                touchstone_core::config::SurveyQuestion {
                    comment: Some("Q3".into()),
                    ..question("Q2", Instrument::Csat)
                },
            ],
            ..SurveyMapping::default()
        };
        let current = "StartDate,EndDate,Status,Finished,RecordedDate,ResponseId,RecipientEmail,Q1,Q2,Q3\n\
                       Start Date,End Date,Response Type,Finished,Recorded Date,Response ID,Recipient Email,How likely...,How satisfied...,Why?\n\
                       \"{\"\"ImportId\"\":\"\"startDate\"\",\"\"timeZone\"\":\"\"America/Chicago\"\"}\",\"{\"\"ImportId\"\":\"\"endDate\"\"}\",\"{\"\"ImportId\"\":\"\"status\"\"}\",\"{\"\"ImportId\"\":\"\"finished\"\"}\",\"{\"\"ImportId\"\":\"\"recordedDate\"\"}\",\"{\"\"ImportId\"\":\"\"_recordId\"\"}\",\"{\"\"ImportId\"\":\"\"recipientEmail\"\"}\",\"{\"\"ImportId\"\":\"\"QID1\"\"}\",\"{\"\"ImportId\"\":\"\"QID2\"\"}\",\"{\"\"ImportId\"\":\"\"QID3_TEXT\"\"}\"\n\
                       2026-08-01 09:00:00,2026-08-01 09:05:00,0,1,2026-08-01 09:05:01,R_abc,jane@example.com,9,4,\"Quick, kind\"\n\
                       2026-08-01 10:00:00,2026-08-01 10:01:00,0,0,2026-08-01 10:01:01,R_def,bob@example.com,6,,\n";
        let chicago = ReadOptions {
            timezone: chrono_tz::America::Chicago,
            ..with(mapping.clone())
        };
        let (stats, sink) =
            run_ok_with(SourceFormat::SurveyCsv, &chicago, FILE, current.as_bytes());
        assert_eq!((stats.rows_read, stats.rows_staged), (2, 2));
        let t = sink.table(StagingTable::SurveyResponses);
        assert_eq!(t.num_rows(), 4);
        assert_eq!(s(&t, "source_system", 0).as_deref(), Some("qualtrics"));
        assert_eq!(s(&t, "response_id", 0).as_deref(), Some("R_abc/Q1"));
        assert_eq!(s(&t, "instrument", 0).as_deref(), Some("nps"));
        assert_eq!(
            (i(&t, "scale_min", 0), i(&t, "scale_max", 0)),
            (Some(0), Some(10))
        );
        assert_eq!(f(&t, "score", 0), Some(9.0));
        assert_eq!(i(&t, "responded_at", 0), Some(ts("2026-08-01T14:05:01Z")));
        assert_eq!(s(&t, "response_id", 1).as_deref(), Some("R_abc/Q2"));
        assert_eq!(s(&t, "comment", 1).as_deref(), Some("Quick, kind"));
        assert_eq!(
            s(&t, "customer_email", 1).as_deref(),
            Some("jane@example.com")
        );
        assert_eq!(i(&t, "_source_line", 0), Some(4));
        // R_def skipped Q2: an unanswered question, not a response.
        assert_eq!(s(&t, "response_status", 3).as_deref(), Some("unanswered"));
        assert_eq!(f(&t, "score", 3), None);

        let legacy = "\u{feff}V1,V2,V3,V4,V5,V6,V7,V8,V9,V10,Q1,\n\
                      ResponseID,ResponseSet,Name,ExternalDataReference,EmailAddress,IPAddress,Status,StartDate,EndDate,Finished,How satisfied were you?,\n\
                      R_1,Default,Anon,,,1.2.3.4,0,2017-07-18 08:28:09,2017-07-18 08:29:09,1,2,\n";
        let one = SurveyMapping {
            questions: vec![question("Q1", Instrument::Csat)],
            ..mapping.clone()
        };
        let (stats, sink) = run_ok_with(
            SourceFormat::SurveyCsv,
            &with(one.clone()),
            FILE,
            legacy.as_bytes(),
        );
        assert_eq!((stats.rows_read, stats.rows_staged), (1, 1));
        let t = sink.table(StagingTable::SurveyResponses);
        assert_eq!(s(&t, "response_id", 0).as_deref(), Some("R_1"));
        assert_eq!(i(&t, "responded_at", 0), Some(ts("2017-07-18T08:29:09Z")));
        assert_eq!(i(&t, "_source_line", 0), Some(3));

        // A current export without the ImportId row: the second line is question text only.
        let two_rows = "ResponseId,RecordedDate,Q1\nResponse ID,Recorded Date,How satisfied?\nR_9,2026-08-01 10:00:00,5\n";
        let (stats, sink) = run_ok_with(
            SourceFormat::SurveyCsv,
            &with(one),
            FILE,
            two_rows.as_bytes(),
        );
        assert_eq!((stats.rows_read, stats.rows_staged), (1, 1));
        assert_eq!(
            i(
                &sink.table(StagingTable::SurveyResponses),
                "_source_line",
                0
            ),
            Some(3)
        );
    }

    #[test]
    fn hubspot_feedback_tells_instrument_and_scale_from_the_survey() {
        let input = "Record ID,Survey name,Rating,Sentiment,Response,Contact email,Submitted at\n\
                     1,Customer loyalty survey,9,Promoter,Great,a@x.com,2026-08-01 10:00\n\
                     2,Customer satisfaction survey,2,Promoter,,b@x.com,2026-08-01 10:00\n\
                     3,Customer support survey,6,Promoter,,c@x.com,2026-08-01 10:00\n\
                     4,Quarterly pulse,7,Passive,,d@x.com,2026-08-01 10:00\n\
                     5,Customer satisfaction survey,3,Promoter,,e@x.com,2026-08-01 10:00\n";
        let mapping = SurveyMapping {
            preset: SurveyPreset::HubspotFeedback,
            ..SurveyMapping::default()
        };
        let (stats, sink) = run_ok_with(
            SourceFormat::SurveyCsv,
            &with(mapping.clone()),
            FILE,
            input.as_bytes(),
        );
        assert_eq!(
            (stats.rows_read, stats.rows_staged, stats.rows_rejected),
            (5, 3, 2)
        );
        let t = sink.table(StagingTable::SurveyResponses);
        let got: Vec<_> = (0..3)
            .map(|r| {
                (
                    s(&t, "instrument", r),
                    i(&t, "scale_min", r),
                    i(&t, "scale_max", r),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (Some("nps".to_owned()), Some(0), Some(10)),
                (Some("csat".to_owned()), Some(0), Some(2)),
                (Some("ces".to_owned()), Some(1), Some(7)),
            ]
        );
        assert_eq!(s(&t, "score_label", 0).as_deref(), Some("Promoter"));
        assert_eq!(s(&t, "source_system", 0).as_deref(), Some("hubspot"));
        assert!(
            sink.rejects[0].reason.contains("'Quarterly pulse'")
                && sink.rejects[0].reason.contains("mapping.surveys")
        );
        assert!(
            sink.rejects[1].reason.contains("from 0 to 2"),
            "{}",
            sink.rejects[1].reason
        );
        // A mapping names the custom survey.
        let mapping = SurveyMapping {
            surveys: vec![touchstone_core::config::SurveyRule {
                survey: "quarterly PULSE".into(),
                instrument: Some(Instrument::Ces),
                scale: Some((1, 7)),
            }],
            ..mapping
        };
        let (stats, _) = run_ok_with(
            SourceFormat::SurveyCsv,
            &with(mapping),
            FILE,
            input.as_bytes(),
        );
        assert_eq!(stats.rows_staged, 4);
    }

    #[test]
    fn delighted_surveymonkey_and_typeform() {
        let delighted = "Response ID,Score,Comment,Email,Created at\n210554372,8,Test Comment2,a@x.com,1641289688\n";
        let m = |preset| SurveyMapping {
            preset,
            ..SurveyMapping::default()
        };
        let (_, sink) = run_ok_with(
            SourceFormat::SurveyCsv,
            &with(m(SurveyPreset::Delighted)),
            FILE,
            delighted.as_bytes(),
        );
        let t = sink.table(StagingTable::SurveyResponses);
        assert_eq!(s(&t, "instrument", 0).as_deref(), Some("nps"));
        assert_eq!(i(&t, "responded_at", 0), Some(ts("2022-01-04T09:48:08Z")));

        let monkey = "Respondent ID,End Date,Overall satisfaction,Which did you use?,\n\
                      ,,Response,Phone,Chat\n\
                      3237565956,11/12/2021 10:32:11 AM,4,Phone,\n";
        let mapping = SurveyMapping {
            questions: vec![question("Overall satisfaction", Instrument::Csat)],
            ..m(SurveyPreset::Surveymonkey)
        };
        let (stats, sink) = run_ok_with(
            SourceFormat::SurveyCsv,
            &with(mapping),
            FILE,
            monkey.as_bytes(),
        );
        assert_eq!(stats.rows_staged, 1);
        let t = sink.table(StagingTable::SurveyResponses);
        assert_eq!(s(&t, "response_id", 0).as_deref(), Some("3237565956"));
        assert_eq!(i(&t, "responded_at", 0), Some(ts("2021-11-12T10:32:11Z")));
        // The option columns of a multi-column question are named after the question.
        assert!(
            stats
                .warnings
                .keys()
                .any(|w| w.contains("'Which did you use? - Chat'")),
            "{:?}",
            stats.warnings
        );

        let typeform = "#,How easy was it?,Start Date (UTC),Submit Date (UTC),Network ID\n\
                        bbd31ae24e49278ea4f395cc2e4eb18b,6,2016-03-14 13:54:17,2016-03-14 14:00:36,addd5ce59b\n";
        let mapping = SurveyMapping {
            questions: vec![question("How easy was it?", Instrument::Ces)],
            ..m(SurveyPreset::Typeform)
        };
        let chicago = ReadOptions {
            timezone: chrono_tz::America::Chicago,
            ..with(mapping)
        };
        let (_, sink) = run_ok_with(SourceFormat::SurveyCsv, &chicago, FILE, typeform.as_bytes());
        let t = sink.table(StagingTable::SurveyResponses);
        // "(UTC)" columns are UTC whatever the source's time zone.
        assert_eq!(i(&t, "responded_at", 0), Some(ts("2016-03-14T14:00:36Z")));
        assert_eq!(s(&t, "instrument", 0).as_deref(), Some("ces"));
    }

    #[test]
    fn a_wide_preset_without_questions_and_a_mapped_column_that_is_absent_are_file_errors() {
        let m = SurveyMapping {
            preset: SurveyPreset::Typeform,
            ..SurveyMapping::default()
        };
        let (res, _) = run(SourceFormat::SurveyCsv, &with(m), "tf.csv", b"#,Q\nabc,1\n");
        let msg = res.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("mapping.questions"), "{msg}");
        let m = SurveyMapping {
            columns: vec![(SurveyRole::Agent, "Agent Email".into())],
            ..SurveyMapping::default()
        };
        let (res, _) = run(
            SourceFormat::SurveyCsv,
            &with(m),
            "s.csv",
            HEADER.as_bytes(),
        );
        let msg = res.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            msg.contains("'Agent Email'") && msg.contains("mapping.columns.agent"),
            "{msg}"
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
