//! Source options of the CSV and text readers: `encoding:` (every source), Asterisk `columns:`,
//! survey `preset:` and `mapping:`, HubSpot `object:`, and `max_null_ratio:`.
//!
//! The `*File` structs are what a pipeline file may write; [`check_reader_options`] validates
//! them into the plain values a [`Source`](super::Source) carries.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::diagnostic::{Diagnostic, ErrorCode, Span};
use crate::format::{ASTERISK_CDR_FIELDS, SourceFormat};

/// A survey tool whose export layout Touchstone knows (`preset:` of a `survey_csv` source).
///
/// A preset says where the response id, timestamps, respondent and score are, how many header
/// rows the export has and which scale each instrument uses; `mapping:` overrides any of it.
/// Layouts are described in `docs/raw-exports.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SurveyPreset {
    /// Touchstone's own long layout (`Response ID, Survey, Metric, Scale Min, Scale Max,
    /// Score, ...`): the default.
    #[default]
    Touchstone,
    /// Qualtrics response export (2 header rows in the legacy layout, 3 in the current one).
    Qualtrics,
    /// HubSpot feedback submissions: one `Rating` column holding NPS 0–10, CES 1–7 and CSAT
    /// 0–2, told apart by the survey type or name.
    HubspotFeedback,
    /// Delighted response export (one `Score` per response; NPS unless told otherwise).
    Delighted,
    /// SurveyMonkey response export with two header rows.
    Surveymonkey,
    /// Typeform response export (`#` token, question columns, `Submit Date (UTC)`).
    Typeform,
}

impl SurveyPreset {
    /// Every preset, in a stable order.
    pub const ALL: [SurveyPreset; 6] = [
        SurveyPreset::Touchstone,
        SurveyPreset::Qualtrics,
        SurveyPreset::HubspotFeedback,
        SurveyPreset::Delighted,
        SurveyPreset::Surveymonkey,
        SurveyPreset::Typeform,
    ];

    /// The name used in pipeline YAML.
    pub fn name(self) -> &'static str {
        match self {
            SurveyPreset::Touchstone => "touchstone",
            SurveyPreset::Qualtrics => "qualtrics",
            SurveyPreset::HubspotFeedback => "hubspot_feedback",
            SurveyPreset::Delighted => "delighted",
            SurveyPreset::Surveymonkey => "surveymonkey",
            SurveyPreset::Typeform => "typeform",
        }
    }
}

/// What a survey answer measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Instrument {
    /// Customer satisfaction.
    Csat,
    /// Net promoter score.
    Nps,
    /// Customer effort score.
    Ces,
    /// An agent's rating of their own interaction.
    SelfRating,
}

impl Instrument {
    /// The name staged in `instrument`.
    pub fn name(self) -> &'static str {
        match self {
            Instrument::Csat => "csat",
            Instrument::Nps => "nps",
            Instrument::Ces => "ces",
            Instrument::SelfRating => "self_rating",
        }
    }

    /// The standard scale: CSAT 1–5, NPS 0–10, CES 2.0 1–7, self-rating 1–5.
    pub fn default_scale(self) -> (i64, i64) {
        match self {
            Instrument::Csat | Instrument::SelfRating => (1, 5),
            Instrument::Nps => (0, 10),
            Instrument::Ces => (1, 7),
        }
    }

    /// Reads an instrument as exports spell it (`CSAT`, `nps`, `Net Promoter Score`,
    /// `Customer Effort Score`, `self_rating`...), case-insensitive.
    pub fn parse(text: &str) -> Option<Instrument> {
        let key: String = text
            .trim()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        match key.as_str() {
            "csat" | "customersatisfaction" | "customersatisfactionscore" | "satisfaction" => {
                Some(Instrument::Csat)
            }
            "nps" | "netpromoterscore" | "customerloyalty" | "loyalty" => Some(Instrument::Nps),
            "ces" | "customereffortscore" | "effort" | "customersupport" => Some(Instrument::Ces),
            "selfrating" | "self" => Some(Instrument::SelfRating),
            _ => None,
        }
    }
}

/// A column role of a survey export: what the column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SurveyRole {
    /// The response (or invitation) id.
    ResponseId,
    /// The survey's name.
    SurveyName,
    /// The instrument of the row (`csat`, `NPS`, ...).
    Instrument,
    /// The score.
    Score,
    /// Lowest score of the scale.
    ScaleMin,
    /// Highest score of the scale.
    ScaleMax,
    /// The tool's label of the score (Promoter / Passive / Detractor, Satisfied...).
    Label,
    /// Free-text comment.
    Comment,
    /// `customer` or `agent`.
    RespondentType,
    /// Who answered.
    Respondent,
    /// The respondent's e-mail.
    Email,
    /// The respondent's phone.
    Phone,
    /// The agent the answer is about.
    Agent,
    /// The channel of the interaction surveyed.
    Channel,
    /// The interaction surveyed (call, chat, ticket id).
    InteractionId,
    /// When the survey was sent.
    OfferedAt,
    /// When it was answered.
    RespondedAt,
    /// Invitation status (answered, offered, unoffered, unanswered, ...).
    Status,
    /// Whether a reward (incentive) was offered for answering.
    RewardOffered,
}

impl SurveyRole {
    /// Every role, in a stable order.
    pub const ALL: [SurveyRole; 19] = [
        SurveyRole::ResponseId,
        SurveyRole::SurveyName,
        SurveyRole::Instrument,
        SurveyRole::Score,
        SurveyRole::ScaleMin,
        SurveyRole::ScaleMax,
        SurveyRole::Label,
        SurveyRole::Comment,
        SurveyRole::RespondentType,
        SurveyRole::Respondent,
        SurveyRole::Email,
        SurveyRole::Phone,
        SurveyRole::Agent,
        SurveyRole::Channel,
        SurveyRole::InteractionId,
        SurveyRole::OfferedAt,
        SurveyRole::RespondedAt,
        SurveyRole::Status,
        SurveyRole::RewardOffered,
    ];

    /// The key under `mapping.columns`.
    pub fn key(self) -> &'static str {
        match self {
            SurveyRole::ResponseId => "response_id",
            SurveyRole::SurveyName => "survey_name",
            SurveyRole::Instrument => "instrument",
            SurveyRole::Score => "score",
            SurveyRole::ScaleMin => "scale_min",
            SurveyRole::ScaleMax => "scale_max",
            SurveyRole::Label => "label",
            SurveyRole::Comment => "comment",
            SurveyRole::RespondentType => "respondent_type",
            SurveyRole::Respondent => "respondent",
            SurveyRole::Email => "email",
            SurveyRole::Phone => "phone",
            SurveyRole::Agent => "agent",
            SurveyRole::Channel => "channel",
            SurveyRole::InteractionId => "interaction_id",
            SurveyRole::OfferedAt => "offered_at",
            SurveyRole::RespondedAt => "responded_at",
            SurveyRole::Status => "status",
            SurveyRole::RewardOffered => "reward_offered",
        }
    }
}

/// `mapping:` of a `survey_csv` source: which export column holds what, the question columns
/// of a wide export, and the instrument and scale per survey.
///
/// ```yaml
/// preset: qualtrics
/// mapping:
///   columns:
///     agent: AgentId              # an embedded-data field
///   questions:
///     - column: Q1
///       instrument: nps
///     - column: Q2
///       instrument: csat
///       scale: [1, 5]
///       comment: Q3
///   surveys:
///     Post-call survey: { instrument: csat, scale: [1, 5] }
/// ```
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SurveyMappingFile {
    /// Header rows before the first response (the preset's by default; Qualtrics: 2 or 3,
    /// told from the file).
    #[serde(default)]
    pub header_rows: Option<Spanned<u32>>,
    /// Export column (header text) per role, overriding the preset's.
    #[serde(default)]
    pub columns: Option<SurveyColumnsFile>,
    /// Question columns of a wide export: each answered one becomes a response row.
    #[serde(default)]
    pub questions: Vec<SurveyQuestionFile>,
    /// Instrument and scale per survey name (the `survey_name` column's value).
    #[serde(default)]
    pub surveys: BTreeMap<String, InstrumentFile>,
    /// Instrument of rows that name none (no instrument column, no matching survey).
    #[serde(default)]
    pub instrument: Option<Spanned<Instrument>>,
    /// Scale `[min, max]` of rows that give none; default: the instrument's standard scale.
    #[serde(default)]
    pub scale: Option<Spanned<Vec<i64>>>,
}

/// `mapping.columns:`: the export's header text for each role.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct SurveyColumnsFile {
    #[serde(default)]
    pub response_id: Option<Spanned<String>>,
    #[serde(default)]
    pub survey_name: Option<Spanned<String>>,
    #[serde(default)]
    pub instrument: Option<Spanned<String>>,
    #[serde(default)]
    pub score: Option<Spanned<String>>,
    #[serde(default)]
    pub scale_min: Option<Spanned<String>>,
    #[serde(default)]
    pub scale_max: Option<Spanned<String>>,
    #[serde(default)]
    pub label: Option<Spanned<String>>,
    #[serde(default)]
    pub comment: Option<Spanned<String>>,
    #[serde(default)]
    pub respondent_type: Option<Spanned<String>>,
    #[serde(default)]
    pub respondent: Option<Spanned<String>>,
    #[serde(default)]
    pub email: Option<Spanned<String>>,
    #[serde(default)]
    pub phone: Option<Spanned<String>>,
    #[serde(default)]
    pub agent: Option<Spanned<String>>,
    #[serde(default)]
    pub channel: Option<Spanned<String>>,
    #[serde(default)]
    pub interaction_id: Option<Spanned<String>>,
    #[serde(default)]
    pub offered_at: Option<Spanned<String>>,
    #[serde(default)]
    pub responded_at: Option<Spanned<String>>,
    #[serde(default)]
    pub status: Option<Spanned<String>>,
    #[serde(default)]
    pub reward_offered: Option<Spanned<String>>,
}

impl SurveyColumnsFile {
    fn entries(&self) -> Vec<(SurveyRole, &Spanned<String>)> {
        use SurveyRole as R;
        let all = [
            (R::ResponseId, &self.response_id),
            (R::SurveyName, &self.survey_name),
            (R::Instrument, &self.instrument),
            (R::Score, &self.score),
            (R::ScaleMin, &self.scale_min),
            (R::ScaleMax, &self.scale_max),
            (R::Label, &self.label),
            (R::Comment, &self.comment),
            (R::RespondentType, &self.respondent_type),
            (R::Respondent, &self.respondent),
            (R::Email, &self.email),
            (R::Phone, &self.phone),
            (R::Agent, &self.agent),
            (R::Channel, &self.channel),
            (R::InteractionId, &self.interaction_id),
            (R::OfferedAt, &self.offered_at),
            (R::RespondedAt, &self.responded_at),
            (R::Status, &self.status),
            (R::RewardOffered, &self.reward_offered),
        ];
        all.into_iter()
            .filter_map(|(role, v)| v.as_ref().map(|v| (role, v)))
            .collect()
    }
}

/// One question column of a wide export (`mapping.questions[]`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SurveyQuestionFile {
    /// The column (header text) holding the score.
    pub column: Spanned<String>,
    /// What it measures.
    pub instrument: Spanned<Instrument>,
    /// `[min, max]`; default: the instrument's standard scale.
    #[serde(default)]
    pub scale: Option<Spanned<Vec<i64>>>,
    /// The column holding the comment that goes with this question.
    #[serde(default)]
    pub comment: Option<Spanned<String>>,
}

/// Instrument and scale for one survey name (`mapping.surveys.<name>`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstrumentFile {
    /// What the survey measures.
    #[serde(default)]
    pub instrument: Option<Spanned<Instrument>>,
    /// `[min, max]`.
    #[serde(default)]
    pub scale: Option<Spanned<Vec<i64>>>,
}

/// A validated survey mapping: the preset plus every override.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SurveyMapping {
    /// The layout the rest overrides.
    pub preset: SurveyPreset,
    /// Header rows before the first response, when set.
    pub header_rows: Option<u32>,
    /// Export column per role (overrides of the preset).
    pub columns: Vec<(SurveyRole, String)>,
    /// Question columns of a wide export.
    pub questions: Vec<SurveyQuestion>,
    /// Instrument and scale per survey name.
    pub surveys: Vec<SurveyRule>,
    /// Instrument of rows that name none.
    pub instrument: Option<Instrument>,
    /// Scale of rows that give none.
    pub scale: Option<(i64, i64)>,
}

impl SurveyMapping {
    /// The column set for `role`, if the mapping sets one.
    pub fn column(&self, role: SurveyRole) -> Option<&str> {
        self.columns
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, c)| c.as_str())
    }
}

/// A question column.
#[derive(Debug, Clone, PartialEq)]
pub struct SurveyQuestion {
    /// Header text of the score column.
    pub column: String,
    /// What it measures.
    pub instrument: Instrument,
    /// Its scale, when set.
    pub scale: Option<(i64, i64)>,
    /// Header text of its comment column.
    pub comment: Option<String>,
}

/// Instrument and scale of the rows of one survey.
#[derive(Debug, Clone, PartialEq)]
pub struct SurveyRule {
    /// The survey name, as in the export (compared trimmed, case-insensitive).
    pub survey: String,
    /// What it measures, when set.
    pub instrument: Option<Instrument>,
    /// Its scale, when set.
    pub scale: Option<(i64, i64)>,
}

/// The HubSpot objects a `hubspot` source reads, as `object:` spells them.
pub const HUBSPOT_OBJECTS: [&str; 3] = ["contacts", "companies", "deals"];

/// The Salesforce objects a `salesforce_csv` source reads, as `object:` spells them.
pub const SALESFORCE_OBJECTS: [&str; 5] = ["Account", "Contact", "Case", "Opportunity", "Order"];

/// A `max_null_ratio:` check: the largest share of a source's staged rows of `table` that may
/// have `column` null before the run fails.
#[derive(Debug, Clone, PartialEq)]
pub struct NullRatioCheck {
    /// The staging table.
    pub table: crate::schema::StagingTable,
    /// The staging column.
    pub column: String,
    /// The largest share of null values (0 to 1).
    pub max: f64,
}

/// What the reader options of one source validate to.
#[derive(Debug, Clone)]
pub(crate) struct ReaderOptions {
    pub(crate) encoding: &'static encoding_rs::Encoding,
    pub(crate) cdr_columns: Option<Vec<String>>,
    pub(crate) survey: Option<SurveyMapping>,
    pub(crate) null_ratio: Vec<NullRatioCheck>,
}

/// The reader options as written in one source entry.
pub(crate) struct ReaderOptionsFile<'a> {
    pub(crate) format: SourceFormat,
    pub(crate) encoding: Option<&'a Spanned<String>>,
    pub(crate) columns: Option<&'a Spanned<Vec<Spanned<String>>>>,
    pub(crate) preset: Option<&'a Spanned<SurveyPreset>>,
    pub(crate) mapping: Option<&'a Spanned<SurveyMappingFile>>,
    pub(crate) max_null_ratio: Option<&'a BTreeMap<String, Spanned<f64>>>,
}

/// Validates the reader options of one source, pushing every problem found.
pub(crate) fn check_reader_options(
    file: &str,
    o: &ReaderOptionsFile<'_>,
    problems: &mut Vec<Diagnostic>,
) -> ReaderOptions {
    let encoding = match o.encoding {
        None => encoding_rs::UTF_8,
        Some(label) => match encoding_rs::Encoding::for_label(label.value.trim().as_bytes()) {
            Some(e) => e,
            None => {
                problems.push(
                    Diagnostic::new(
                        ErrorCode::UnknownVariant,
                        format!(
                            "unknown encoding '{}'; expected a WHATWG encoding label",
                            label.value
                        ),
                    )
                    .at(Span::of(file, label))
                    .suggest(&label.value, ENCODING_NAMES)
                    .with_help_if_none(
                        "use e.g. utf-8, windows-1252, latin1, windows-1251, shift_jis, utf-16le \
                         (https://encoding.spec.whatwg.org/#names-and-labels)",
                    ),
                );
                encoding_rs::UTF_8
            }
        },
    };

    let not_for = |key: &str, span: Span, only: &str, problems: &mut Vec<Diagnostic>| {
        problems.push(
            Diagnostic::new(
                ErrorCode::InvalidValue,
                format!("'{key}' applies only to {only} sources, not {}", o.format),
            )
            .at(span)
            .with_help(format!("remove '{key}:'")),
        );
    };

    let cdr_columns = o.columns.map(|cols| {
        if o.format != SourceFormat::AsteriskCdr {
            not_for("columns", Span::of(file, cols), "asterisk_cdr", problems);
        }
        let mut seen: BTreeMap<&str, Span> = BTreeMap::new();
        for c in &cols.value {
            let name = c.value.trim();
            if !ASTERISK_CDR_FIELDS.contains(&name) {
                problems.push(
                    Diagnostic::new(
                        ErrorCode::UnknownVariant,
                        format!(
                            "unknown CDR field '{name}' in columns; expected the names \
                             cdr_custom.conf uses in ${{CDR(...)}}, or 'ignore'"
                        ),
                    )
                    .at(Span::of(file, c))
                    .suggest(name, ASTERISK_CDR_FIELDS),
                );
            } else if name != "ignore"
                && let Some(first) = seen.insert(canonical_cdr(name), Span::of(file, c))
            {
                problems.push(
                    Diagnostic::new(
                        ErrorCode::DuplicateName,
                        format!("CDR field '{name}' is listed twice in columns (first at {first})"),
                    )
                    .at(Span::of(file, c))
                    .with_help("list each field once; use 'ignore' for columns to skip"),
                );
            }
        }
        if !cols.value.is_empty() && !seen.contains_key("start") {
            problems.push(
                Diagnostic::new(
                    ErrorCode::MissingKey,
                    "columns does not name 'start' (or 'calldate'); a call needs its start time",
                )
                .at(Span::of(file, cols))
                .with_help("add 'start' at its place in the column order"),
            );
        }
        if cols.value.is_empty() {
            problems.push(
                Diagnostic::new(ErrorCode::InvalidValue, "columns is empty")
                    .at(Span::of(file, cols))
                    .with_help(
                        "list the CDR fields in the order of the mapping in cdr_custom.conf, \
                         or remove 'columns:' for the cdr_csv layout",
                    ),
            );
        }
        cols.value
            .iter()
            .map(|c| c.value.trim().to_owned())
            .collect()
    });

    let survey = if o.preset.is_some() || o.mapping.is_some() {
        if o.format != SourceFormat::SurveyCsv {
            if let Some(p) = o.preset {
                not_for("preset", Span::of(file, p), "survey_csv", problems);
            }
            if let Some(m) = o.mapping {
                not_for("mapping", Span::of(file, m), "survey_csv", problems);
            }
        }
        Some(check_mapping(file, o, problems))
    } else {
        None
    };

    let mut null_ratio = Vec::new();
    for (column, ratio) in o.max_null_ratio.into_iter().flatten() {
        let span = Span::of(file, ratio);
        if !(0.0..=1.0).contains(&ratio.value) {
            problems.push(
                Diagnostic::new(
                    ErrorCode::InvalidValue,
                    format!(
                        "max_null_ratio of '{column}' is {}, not a share between 0 and 1",
                        ratio.value
                    ),
                )
                .at(span.clone())
                .with_help("write e.g. 0.05 for at most 5% of the rows without a value"),
            );
        }
        let (table_name, column_name) = match column.split_once('.') {
            Some((t, c)) => (Some(t), c),
            None => (None, column.as_str()),
        };
        let tables: Vec<_> = o
            .format
            .tables()
            .iter()
            .copied()
            .filter(|t| table_name.is_none_or(|n| t.name() == n))
            .collect();
        let found: Vec<_> = tables
            .iter()
            .filter(|t| t.record_schema().field_with_name(column_name).is_ok())
            .copied()
            .collect();
        if found.is_empty() {
            let mut candidates: Vec<String> = Vec::new();
            for t in o.format.tables() {
                for f in t.record_schema().fields() {
                    candidates.push(if o.format.tables().len() > 1 {
                        format!("{}.{}", t.name(), f.name())
                    } else {
                        f.name().clone()
                    });
                }
            }
            problems.push(
                Diagnostic::new(
                    ErrorCode::UnknownColumn,
                    format!(
                        "max_null_ratio names '{column}', which is not a staging column of a {} \
                         source",
                        o.format
                    ),
                )
                .at(span)
                .suggest(column, candidates.iter().map(String::as_str)),
            );
            continue;
        }
        for table in found {
            null_ratio.push(NullRatioCheck {
                table,
                column: column_name.to_owned(),
                max: ratio.value,
            });
        }
    }
    ReaderOptions {
        encoding,
        cdr_columns,
        survey,
        null_ratio,
    }
}

/// `calldate` is the database backends' name of `start`.
fn canonical_cdr(name: &str) -> &str {
    if name == "calldate" { "start" } else { name }
}

fn check_scale(
    file: &str,
    scale: Option<&Spanned<Vec<i64>>>,
    problems: &mut Vec<Diagnostic>,
) -> Option<(i64, i64)> {
    let scale = scale?;
    match scale.value.as_slice() {
        [min, max] if min < max => Some((*min, *max)),
        _ => {
            problems.push(
                Diagnostic::new(
                    ErrorCode::InvalidValue,
                    format!(
                        "scale {:?} is not [min, max] with min below max",
                        scale.value
                    ),
                )
                .at(Span::of(file, scale))
                .with_help("write e.g. [1, 5] or [0, 10]"),
            );
            None
        }
    }
}

fn check_mapping(
    file: &str,
    o: &ReaderOptionsFile<'_>,
    problems: &mut Vec<Diagnostic>,
) -> SurveyMapping {
    let preset = o.preset.map(|p| p.value).unwrap_or_default();
    let empty = SurveyMappingFile::default();
    let m = o.mapping.map_or(&empty, |m| &m.value);
    let header_rows = m.header_rows.as_ref().map(|h| {
        if !(1..=10).contains(&h.value) {
            problems.push(
                Diagnostic::new(
                    ErrorCode::InvalidValue,
                    format!("header_rows {} is not between 1 and 10", h.value),
                )
                .at(Span::of(file, h))
                .with_help("count the lines before the first response (usually 1 to 3)"),
            );
        }
        h.value
    });
    let columns_file = m.columns.as_ref();
    let columns: Vec<(SurveyRole, String)> = columns_file
        .map(|c| {
            c.entries()
                .into_iter()
                .map(|(role, v)| (role, v.value.clone()))
                .collect()
        })
        .unwrap_or_default();
    for (role, v) in columns_file
        .map(SurveyColumnsFile::entries)
        .unwrap_or_default()
    {
        if v.value.trim().is_empty() {
            problems.push(
                Diagnostic::new(
                    ErrorCode::InvalidValue,
                    format!("mapping.columns.{} is empty", role.key()),
                )
                .at(Span::of(file, v))
                .with_help("write the column's header text as in the export"),
            );
        }
    }
    let mut questions = Vec::new();
    let mut seen: BTreeMap<String, Span> = BTreeMap::new();
    for q in &m.questions {
        let key = q.column.value.trim().to_lowercase();
        if let Some(first) = seen.insert(key, Span::of(file, &q.column)) {
            problems.push(
                Diagnostic::new(
                    ErrorCode::DuplicateName,
                    format!(
                        "question column '{}' is listed twice (first at {first})",
                        q.column.value
                    ),
                )
                .at(Span::of(file, &q.column))
                .with_help("list each question column once"),
            );
        }
        questions.push(SurveyQuestion {
            column: q.column.value.clone(),
            instrument: q.instrument.value,
            scale: check_scale(file, q.scale.as_ref(), problems),
            comment: q.comment.as_ref().map(|c| c.value.clone()),
        });
    }
    if let (Some(score), false) = (
        columns_file.and_then(|c| c.score.as_ref()),
        m.questions.is_empty(),
    ) {
        problems.push(
            Diagnostic::new(
                ErrorCode::InvalidValue,
                "mapping sets both columns.score and questions; a row's score comes from one \
                 or the other",
            )
            .at(Span::of(file, score))
            .with_help(
                "use columns.score for a long export (one score per row), questions for a \
                 wide one (one column per question)",
            ),
        );
    }
    let wide = matches!(
        preset,
        SurveyPreset::Qualtrics | SurveyPreset::Surveymonkey | SurveyPreset::Typeform
    );
    if wide
        && m.questions.is_empty()
        && columns_file.and_then(|c| c.score.as_ref()).is_none()
        && let Some(p) = o.preset
    {
        problems.push(
            Diagnostic::new(
                ErrorCode::MissingKey,
                format!(
                    "a {} export has one column per question, and the mapping names none",
                    preset.name()
                ),
            )
            .at(Span::of(file, p))
            .with_help("add mapping.questions, e.g. questions: [{ column: Q1, instrument: nps }]"),
        );
    }
    let surveys = m
        .surveys
        .iter()
        .map(|(name, rule)| SurveyRule {
            survey: name.clone(),
            instrument: rule.instrument.as_ref().map(|i| i.value),
            scale: check_scale(file, rule.scale.as_ref(), problems),
        })
        .collect();
    SurveyMapping {
        preset,
        header_rows,
        columns,
        questions,
        surveys,
        instrument: m.instrument.as_ref().map(|i| i.value),
        scale: check_scale(file, m.scale.as_ref(), problems),
    }
}

/// Common WHATWG encoding names, for "did you mean".
const ENCODING_NAMES: [&str; 22] = [
    "utf-8",
    "utf-16le",
    "utf-16be",
    "windows-1250",
    "windows-1251",
    "windows-1252",
    "windows-1253",
    "windows-1254",
    "windows-1255",
    "windows-1256",
    "windows-1257",
    "windows-1258",
    "latin1",
    "iso-8859-2",
    "iso-8859-5",
    "iso-8859-15",
    "koi8-r",
    "koi8-u",
    "shift_jis",
    "euc-jp",
    "gbk",
    "big5",
];

trait HelpIfNone {
    fn with_help_if_none(self, help: &str) -> Self;
}

impl HelpIfNone for Diagnostic {
    fn with_help_if_none(self, help: &str) -> Self {
        if self.help.is_some() {
            self
        } else {
            self.with_help(help)
        }
    }
}
