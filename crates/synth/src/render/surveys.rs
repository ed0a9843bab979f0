//! Survey exports: the survey tool's CSV (answers and the invitations nobody answered), and the
//! relationship NPS survey, which runs in Qualtrics, as a Qualtrics response export.

use crate::SynthError;
use crate::model::{ChunkRecords, SurveyRow};
use crate::time::{asterisk_local, iso_chicago};

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
    "Status",
    "Reward Offered",
];

/// The survey that runs in Qualtrics; its answers are in the Qualtrics export.
pub(crate) const QUALTRICS_SURVEY: &str = "Relationship NPS";

/// The three header rows of a current Qualtrics CSV export: column ids, question text, and the
/// ImportId row (JSON in a quoted field).
pub(crate) fn qualtrics_header() -> Result<Vec<u8>, SynthError> {
    const COLS: [(&str, &str, &str); 19] = [
        ("StartDate", "Start Date", "startDate"),
        ("EndDate", "End Date", "endDate"),
        ("Status", "Response Type", "status"),
        ("IPAddress", "IP Address", "ipAddress"),
        ("Progress", "Progress", "progress"),
        ("Duration (in seconds)", "Duration (in seconds)", "duration"),
        ("Finished", "Finished", "finished"),
        ("RecordedDate", "Recorded Date", "recordedDate"),
        ("ResponseId", "Response ID", "_recordId"),
        (
            "RecipientLastName",
            "Recipient Last Name",
            "recipientLastName",
        ),
        (
            "RecipientFirstName",
            "Recipient First Name",
            "recipientFirstName",
        ),
        ("RecipientEmail", "Recipient Email", "recipientEmail"),
        (
            "ExternalReference",
            "External Data Reference",
            "externalDataReference",
        ),
        ("LocationLatitude", "Location Latitude", "locationLatitude"),
        (
            "LocationLongitude",
            "Location Longitude",
            "locationLongitude",
        ),
        (
            "DistributionChannel",
            "Distribution Channel",
            "distributionChannel",
        ),
        ("UserLanguage", "User Language", "userLanguage"),
        (
            "Q1",
            "How likely are you to recommend us to a friend or colleague?",
            "QID1",
        ),
        (
            "Q2",
            "What is the most important reason for your score?",
            "QID2_TEXT",
        ),
    ];
    let mut w = CsvPart::new(qualtrics_csv(), "Qualtrics header");
    let ids: Vec<&str> = COLS.iter().map(|c| c.0).collect();
    w.row(&ids)?;
    let text: Vec<&str> = COLS.iter().map(|c| c.1).collect();
    w.row(&text)?;
    let import: Vec<String> = COLS
        .iter()
        .map(|c| {
            if c.2 == "startDate" || c.2 == "endDate" || c.2 == "recordedDate" {
                format!(
                    "{{\"ImportId\":\"{}\",\"timeZone\":\"America/Chicago\"}}",
                    c.2
                )
            } else {
                format!("{{\"ImportId\":\"{}\"}}", c.2)
            }
        })
        .collect();
    let import: Vec<&str> = import.iter().map(String::as_str).collect();
    w.row(&import)?;
    Ok(w.finish()?.data)
}

/// Qualtrics writes CSV with fields quoted where needed and LF line ends.
fn qualtrics_csv() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Necessary)
        .terminator(csv::Terminator::Any(b'\n'))
        .has_headers(false)
        .from_writer(Vec::new())
}

/// The survey tool's CSV writer: quoted where needed, CRLF between records.
pub(crate) fn survey_csv() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Necessary)
        .terminator(csv::Terminator::CRLF)
        .has_headers(false)
        .from_writer(Vec::new())
}

/// The survey tool's `Reward Offered` cell: `yes`, `no`, or empty where it does not apply.
fn yes_no(reward: Option<bool>) -> &'static str {
    match reward {
        Some(true) => "yes",
        Some(false) => "no",
        None => "",
    }
}

/// One row of the survey tool's export: an answer or an invitation.
enum Row<'a> {
    Answer(&'a SurveyRow),
    Invitation(&'a crate::model::SurveyInvitation),
}

impl Row<'_> {
    fn key(&self) -> (i64, &str) {
        match self {
            Row::Answer(r) => (r.responded_us, &r.response_id),
            Row::Invitation(i) => (i.at_us, &i.invitation_id),
        }
    }
}

pub(super) fn surveys(recs: &ChunkRecords, out: &mut Rendered) -> Result<(), SynthError> {
    let mut rows: Vec<Row<'_>> = recs
        .surveys
        .iter()
        .filter(|r| r.survey != QUALTRICS_SURVEY)
        .map(Row::Answer)
        .chain(recs.invitations.iter().map(Row::Invitation))
        .collect();
    rows.sort_by(|a, b| a.key().cmp(&b.key()));
    let mut w = CsvPart::new(survey_csv(), "survey");
    for row in &rows {
        match row {
            Row::Answer(r) => w.row(&[
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
                "completed",
                yes_no(r.reward),
            ])?,
            Row::Invitation(i) => w.row(&[
                &i.invitation_id,
                i.survey,
                i.metric,
                &i.scale_min.to_string(),
                &i.scale_max.to_string(),
                "",
                "",
                "customer",
                &i.email,
                &i.email,
                "",
                i.agent.as_deref().unwrap_or(""),
                i.channel,
                &i.interaction_id,
                &i.sent_us.map(iso_chicago).unwrap_or_default(),
                "",
                i.status,
                yes_no(Some(i.reward)),
            ])?,
        }
    }
    *out.part(paths::SURVEYS) = w.finish()?;

    // The relationship NPS survey's answers, as Qualtrics exports them: times in the account's
    // time zone (America/Chicago), the comment in a second question.
    let mut nps: Vec<&SurveyRow> = recs
        .surveys
        .iter()
        .filter(|r| r.survey == QUALTRICS_SURVEY)
        .collect();
    nps.sort_by(|a, b| (a.responded_us, &a.response_id).cmp(&(b.responded_us, &b.response_id)));
    let mut w = CsvPart::new(qualtrics_csv(), "Qualtrics");
    for r in &nps {
        let duration = 20 + (r.responded_us / 1_000_000).rem_euclid(160);
        let started = r.responded_us - duration * 1_000_000;
        w.row(&[
            &asterisk_local(started),
            &asterisk_local(r.responded_us),
            "0",
            "",
            "100",
            &duration.to_string(),
            "1",
            &asterisk_local(r.responded_us),
            &r.response_id,
            "",
            "",
            r.email.as_deref().unwrap_or(""),
            "",
            "",
            "",
            "email",
            "EN",
            &r.score.to_string(),
            r.comment.unwrap_or(""),
        ])?;
    }
    *out.part(paths::QUALTRICS) = w.finish()?;
    Ok(())
}
