//! The survey tool's CSV export.

use crate::SynthError;
use crate::model::{ChunkRecords, SurveyRow};
use crate::time::iso_chicago;

use super::{CsvPart, Rendered, paths};

pub(crate) const SURVEY_HEADER: &[&str] = &[
    "Response ID",
    "Survey",
    "Metric",
    "Scale Min",
    "Scale Max",
    "Score",
    "Comment",
    "Respondent Type",
    "Respondent",
    "Email",
    "Phone",
    "Agent",
    "Channel",
    "Interaction ID",
    "Sent At",
    "Responded At",
];

/// The survey tool's CSV writer: quoted where needed, CRLF between records.
pub(crate) fn survey_csv() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Necessary)
        .terminator(csv::Terminator::CRLF)
        .has_headers(false)
        .from_writer(Vec::new())
}

pub(super) fn surveys(recs: &ChunkRecords, out: &mut Rendered) -> Result<(), SynthError> {
    let mut rows: Vec<&SurveyRow> = recs.surveys.iter().collect();
    rows.sort_by(|a, b| (a.responded_us, &a.response_id).cmp(&(b.responded_us, &b.response_id)));
    let mut w = CsvPart::new(survey_csv(), "survey");
    for r in &rows {
        w.row(&[
            &r.response_id,
            r.survey,
            r.metric,
            &r.scale_min.to_string(),
            &r.scale_max.to_string(),
            &r.score.to_string(),
            r.comment.unwrap_or(""),
            r.respondent_type,
            &r.respondent,
            r.email.as_deref().unwrap_or(""),
            r.phone.as_deref().unwrap_or(""),
            r.agent.as_deref().unwrap_or(""),
            r.channel.unwrap_or(""),
            r.interaction_id.as_deref().unwrap_or(""),
            &r.sent_us.map(iso_chicago).unwrap_or_default(),
            &iso_chicago(r.responded_us),
        ])?;
    }
    *out.part(paths::SURVEYS) = w.finish()?;
    Ok(())
}
