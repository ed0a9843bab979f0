//! Agent review (QA rubric) exports (CSV) → `stg_agent_reviews`,
//! `source_system = 'agent_reviews'`.
//!
//! One row per criterion score of one review: who was reviewed, by whom in which role (the
//! employee themselves, their manager, a peer, a QA specialist), for which period, on which
//! criterion of which scorecard, and the score. Self and manager reviews of the same employee
//! and period are what the self-evaluation delta compares. No vendor's export of this kind was
//! found in public, so the layout is Touchstone's, with the column names that QA tools (Zendesk
//! QA / Klaus, MaestroQA) use read as well:
//!
//! | staging column | header (first found wins) | |
//! |---|---|---|
//! | review_id | `Review ID`, `Review`, `Evaluation ID` | default `<employee>/<reviewer>/<period start or reviewed at>` |
//! | employee_id | `Employee`, `Employee ID`, `Reviewee`, `Agent` | required |
//! | employee_name | `Employee Name`, `Reviewee Name`, `Agent Name` | |
//! | reviewer_id | `Reviewer`, `Reviewer ID`, `Grader` | |
//! | reviewer_role | `Reviewer Role`, `Review Type`, `Role` | `self` (also `self-review`, `self evaluation`), `manager` (`supervisor`, `team lead`), `peer`, `qa` (`qa specialist`, `grader`, `auditor`); other values lowercased as written; when empty or absent: `self` if the reviewer is the employee, else `reviewer` |
//! | period_start, period_end | `Period Start`, `Period End`; or `Period` as `2026-08` (a month) or `2026-Q3` (a quarter) | dates |
//! | scorecard | `Scorecard`, `Rubric`, `Form` | |
//! | criterion | `Criterion`, `Rating Category`, `Category`, `Question` | required |
//! | score | `Score`, `Rating` | a number within the scale; empty or `N/A` is null (not rated) |
//! | scale_min, scale_max | `Scale Min`, `Scale Max` | default 1 and 5 |
//! | weight | `Weight` | |
//! | comment | `Comment` | |
//! | reviewed_at | `Reviewed At`, `Review Date`, `Date` | any datetime form; zone-less in the source's `timezone:` |

use std::io::BufRead;

use touchstone_core::StagingTable;

use crate::crm::Notes;
use crate::header::{Header, read_records, warn_missing, warn_unread};
use crate::input::{CsvReader, shown};
use crate::table::TableBuilder;
use crate::time::{parse_date, parse_date_loose, parse_datetime};
use crate::{Ctx, ExtractError, ReadOptions};

const EXPORT: &str = "agent review";

const REVIEW_ID: &[&str] = &["Review ID", "Review", "Evaluation ID"];
const EMPLOYEE: &[&str] = &["Employee", "Employee ID", "Reviewee", "Agent"];
const EMPLOYEE_NAME: &[&str] = &["Employee Name", "Reviewee Name", "Agent Name"];
const REVIEWER: &[&str] = &["Reviewer", "Reviewer ID", "Grader"];
const ROLE: &[&str] = &["Reviewer Role", "Review Type", "Role"];
const PERIOD_START: &[&str] = &["Period Start"];
const PERIOD_END: &[&str] = &["Period End"];
const PERIOD: &[&str] = &["Period", "Review Period"];
const SCORECARD: &[&str] = &["Scorecard", "Rubric", "Form"];
const CRITERION: &[&str] = &["Criterion", "Rating Category", "Category", "Question"];
const SCORE: &[&str] = &["Score", "Rating"];
const SCALE_MIN: &[&str] = &["Scale Min"];
const SCALE_MAX: &[&str] = &["Scale Max"];
const WEIGHT: &[&str] = &["Weight"];
const COMMENT: &[&str] = &["Comment"];
const REVIEWED_AT: &[&str] = &["Reviewed At", "Review Date", "Date"];

struct Cols {
    review_id: Option<usize>,
    employee: usize,
    employee_name: Option<usize>,
    reviewer: Option<usize>,
    role: Option<usize>,
    period_start: Option<usize>,
    period_end: Option<usize>,
    period: Option<usize>,
    scorecard: Option<usize>,
    criterion: usize,
    score: usize,
    scale_min: Option<usize>,
    scale_max: Option<usize>,
    weight: Option<usize>,
    comment: Option<usize>,
    reviewed_at: Option<usize>,
}

fn required(h: &Header, names: &[&'static str], file: &str) -> Result<usize, ExtractError> {
    h.find_any(names).ok_or_else(|| {
        let others: Vec<String> = names[1..].iter().map(|n| format!("'{n}'")).collect();
        ExtractError::MissingColumn {
            file: file.to_owned(),
            column: names[0].to_owned(),
            export: EXPORT.to_owned(),
            hint: format!(" (or {})", others.join(", ")),
        }
    })
}

pub(crate) fn read(
    opts: &ReadOptions,
    ctx: &mut Ctx<'_, '_>,
    input: &mut dyn BufRead,
) -> Result<(), ExtractError> {
    let file = ctx.lineage.file;
    let mut reader = CsvReader::new(input, b',');
    let Some(header) = Header::read(&mut reader, ctx)? else {
        tracing::warn!(file, "empty agent review export: no header, no rows");
        return Ok(());
    };
    let cols = Cols {
        review_id: header.find_any(REVIEW_ID),
        employee: required(&header, EMPLOYEE, file)?,
        employee_name: header.find_any(EMPLOYEE_NAME),
        reviewer: header.find_any(REVIEWER),
        role: header.find_any(ROLE),
        period_start: header.find_any(PERIOD_START),
        period_end: header.find_any(PERIOD_END),
        period: header.find_any(PERIOD),
        scorecard: header.find_any(SCORECARD),
        criterion: required(&header, CRITERION, file)?,
        score: required(&header, SCORE, file)?,
        scale_min: header.find_any(SCALE_MIN),
        scale_max: header.find_any(SCALE_MAX),
        weight: header.find_any(WEIGHT),
        comment: header.find_any(COMMENT),
        reviewed_at: header.find_any(REVIEWED_AT),
    };
    let tz = opts.timezone;
    let mut notes = Notes::default();
    let before = ctx.stats.rows_read;
    read_records(
        &mut reader,
        &header,
        ctx,
        StagingTable::AgentReviews,
        |r, tb| {
            let mut n = Notes::default();
            let outcome = row(r, &header, &cols, tz, tb, &mut n);
            if outcome.is_ok() {
                notes.add(&n);
            }
            outcome
        },
    )?;
    let records = ctx.stats.rows_read - before;
    if records > 0 {
        if cols.reviewer.is_none() {
            warn_missing(ctx, EXPORT, REVIEWER[0], "reviewer_id", records);
        }
        if cols.period_start.is_none() && cols.period.is_none() {
            warn_missing(ctx, EXPORT, PERIOD_START[0], "period_start", records);
        }
    }
    warn_unread(ctx, &header, EXPORT, records);
    notes.warn(ctx, EXPORT);
    Ok(())
}

/// A role as the tools write it, normalized.
fn role_of(text: &str) -> String {
    let key = crate::header::loose_key(text);
    match key.as_str() {
        "self" | "selfreview" | "selfevaluation" | "selfassessment" => "self".into(),
        "manager" | "supervisor" | "teamlead" | "lead" => "manager".into(),
        "peer" | "peerreview" => "peer".into(),
        "qa" | "qaspecialist" | "grader" | "auditor" | "qareview" => "qa".into(),
        _ => text.trim().to_lowercase(),
    }
}

/// `2026-08` (a month) or `2026-Q3` (a quarter) as its first and last day.
fn period_of(text: &str) -> Option<(i32, i32)> {
    let t = text.trim();
    let (y, rest) = t.split_once('-')?;
    let year: i32 = y.parse().ok()?;
    let (first_month, months) = if let Some(q) = rest.strip_prefix(['Q', 'q']) {
        let q: u32 = q.parse().ok()?;
        if !(1..=4).contains(&q) {
            return None;
        }
        (3 * (q - 1) + 1, 3)
    } else {
        if rest.len() != 2 {
            return None;
        }
        (rest.parse().ok()?, 1)
    };
    let start = chrono::NaiveDate::from_ymd_opt(year, first_month, 1)?;
    let end = start.checked_add_months(chrono::Months::new(months))? - chrono::Days::new(1);
    Some((crate::days_since_epoch(start), crate::days_since_epoch(end)))
}

fn row(
    r: &CsvReader<'_>,
    h: &Header,
    c: &Cols,
    tz: chrono_tz::Tz,
    tb: &mut TableBuilder,
    notes: &mut Notes,
) -> Result<(), String> {
    let get = |i: Option<usize>| i.map(|i| r.text(i).trim()).filter(|v| !v.is_empty());
    let employee = get(Some(c.employee)).ok_or_else(|| {
        format!(
            "column '{}': empty; expected the employee reviewed",
            h.name(c.employee)
        )
    })?;
    let criterion = get(Some(c.criterion)).ok_or_else(|| {
        format!(
            "column '{}': empty; expected the rubric criterion",
            h.name(c.criterion)
        )
    })?;
    let reviewer = get(c.reviewer);
    let role = match get(c.role) {
        Some(t) => role_of(t),
        None if reviewer == Some(employee) => "self".into(),
        None => "reviewer".into(),
    };
    let number = |i: Option<usize>, default: f64| -> Result<f64, String> {
        match get(i) {
            None => Ok(default),
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| {
                    format!(
                        "column '{}': expected a number, got {}",
                        i.map_or("?", |i| h.name(i)),
                        shown(v)
                    )
                }),
        }
    };
    let min = number(c.scale_min, 1.0)?;
    let max = number(c.scale_max, 5.0)?;
    if min >= max {
        return Err(format!(
            "column 'Scale Min': {min} is not below Scale Max {max}; expected min < max"
        ));
    }
    let score = match get(Some(c.score)) {
        None => None,
        Some(v) if v.eq_ignore_ascii_case("n/a") || v.eq_ignore_ascii_case("na") => None,
        Some(v) => Some(
            v.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x >= min && *x <= max)
                .ok_or_else(|| {
                    format!(
                        "column '{}': expected a number from {min} to {max} (or N/A), got {}",
                        h.name(c.score),
                        shown(v)
                    )
                })?,
        ),
    };
    let weight = match get(c.weight) {
        None => None,
        Some(_) => Some(number(c.weight, 0.0)?),
    };
    let date = |i: Option<usize>| -> Result<Option<i32>, String> {
        match get(i) {
            None => Ok(None),
            Some(v) => parse_date(v)
                .or_else(|| parse_date_loose(v))
                .map(Some)
                .ok_or_else(|| {
                    format!(
                        "column '{}': expected a date like 2026-08-01, got {}",
                        i.map_or("?", |i| h.name(i)),
                        shown(v)
                    )
                }),
        }
    };
    let (mut start, mut end) = (date(c.period_start)?, date(c.period_end)?);
    if let Some(p) = get(c.period) {
        let (s, e) = period_of(p).ok_or_else(|| {
            format!(
                "column '{}': expected a month like 2026-08 or a quarter like 2026-Q3, got {}",
                c.period.map_or("?", |i| h.name(i)),
                shown(p)
            )
        })?;
        start = start.or(Some(s));
        end = end.or(Some(e));
    }
    if let (Some(s), Some(e)) = (start, end)
        && e < s
    {
        return Err(
            "column 'Period End': before Period Start; expected end on or after start".into(),
        );
    }
    let reviewed_at = match get(c.reviewed_at) {
        None => None,
        Some(v) => {
            let (t, placed) = parse_datetime(v, tz).ok_or_else(|| {
                format!(
                    "column '{}': expected a datetime like 2026-08-31 17:00:00, got {}",
                    c.reviewed_at.map_or("?", |i| h.name(i)),
                    shown(v)
                )
            })?;
            notes.note(placed);
            Some(t)
        }
    };
    let review_id = match get(c.review_id) {
        Some(id) => id.to_owned(),
        None => {
            let when = get(c.period_start)
                .or(get(c.period))
                .or(get(c.reviewed_at))
                .unwrap_or("");
            format!("{employee}/{}/{when}", reviewer.unwrap_or(&role))
        }
    };
    tb.str("source_system", Some("agent_reviews"));
    tb.str("review_id", Some(&review_id));
    tb.str("employee_id", Some(employee));
    tb.str("employee_name", get(c.employee_name));
    tb.str("reviewer_id", reviewer);
    tb.str("reviewer_role", Some(&role));
    tb.date("period_start", start);
    tb.date("period_end", end);
    tb.str("scorecard", get(c.scorecard));
    tb.str("criterion", Some(criterion));
    tb.float("score", score);
    tb.float("scale_min", Some(min));
    tb.float("scale_max", Some(max));
    tb.float("weight", weight);
    tb.str(
        "comment",
        c.comment.map(|i| r.text(i)).filter(|v| !v.is_empty()),
    );
    tb.ts("reviewed_at", reviewed_at);
    Ok(())
}

#[cfg(test)]
mod tests {
    use touchstone_core::SourceFormat;

    use super::*;
    use crate::testutil::*;

    const HEADER: &str = "Review ID,Employee,Employee Name,Reviewer,Reviewer Role,Period Start,Period End,Scorecard,Criterion,Score,Scale Min,Scale Max,Weight,Comment,Reviewed At\n";

    #[test]
    fn self_and_manager_reviews() {
        let input = format!(
            "{HEADER}R1,jsmith,Jane Smith,jsmith,self,2026-08-01,2026-08-31,Voice QA,Empathy,5,1,5,0.5,,2026-08-31 17:00:00\n\
             R2,jsmith,Jane Smith,mlee,Manager,2026-08-01,2026-08-31,Voice QA,Empathy,3.5,1,5,0.5,\"Rushed, twice\",2026-09-02T09:00:00Z\n\
             R2,jsmith,Jane Smith,mlee,Manager,2026-08-01,2026-08-31,Voice QA,Resolution,N/A,1,5,0.5,,2026-09-02T09:00:00Z\n"
        );
        let opts = ReadOptions {
            timezone: chrono_tz::America::Chicago,
            ..ReadOptions::default()
        };
        let (stats, sink) = run_ok_with(SourceFormat::AgentReviews, &opts, FILE, input.as_bytes());
        assert_eq!((stats.rows_read, stats.rows_staged), (3, 3));
        let t = sink.table(StagingTable::AgentReviews);
        assert_eq!(s(&t, "reviewer_role", 0).as_deref(), Some("self"));
        assert_eq!(s(&t, "reviewer_role", 1).as_deref(), Some("manager"));
        assert_eq!(f(&t, "score", 1), Some(3.5));
        assert_eq!(f(&t, "score", 2), None);
        assert_eq!(i(&t, "period_start", 0), Some(20_666));
        assert_eq!(i(&t, "period_end", 0), Some(20_696));
        assert_eq!(i(&t, "reviewed_at", 0), Some(ts("2026-08-31T22:00:00Z")));
        assert_eq!(s(&t, "comment", 1).as_deref(), Some("Rushed, twice"));
        assert_eq!(f(&t, "weight", 0), Some(0.5));
    }

    #[test]
    fn qa_tool_names_periods_and_defaults() {
        let input = "Reviewee,Grader,Rating Category,Rating,Period\n\
                     jsmith,jsmith,Tone,4,2026-08\n\
                     jsmith,qa1,Tone,2,2026-Q3\n\
                     jsmith,qa1,Tone,9,2026-Q3\n\
                     jsmith,qa1,Tone,2,2026-13\n\
                     ,qa1,Tone,2,2026-Q3\n";
        let (stats, sink) = run_ok(SourceFormat::AgentReviews, input.as_bytes());
        assert_eq!(
            (stats.rows_read, stats.rows_staged, stats.rows_rejected),
            (5, 2, 3)
        );
        let t = sink.table(StagingTable::AgentReviews);
        assert_eq!(s(&t, "reviewer_role", 0).as_deref(), Some("self"));
        assert_eq!(s(&t, "reviewer_role", 1).as_deref(), Some("reviewer"));
        assert_eq!(s(&t, "review_id", 1).as_deref(), Some("jsmith/qa1/2026-Q3"));
        assert_eq!(i(&t, "period_start", 1), Some(20_635)); // 2026-07-01
        assert_eq!(i(&t, "period_end", 1), Some(20_726)); // 2026-09-30
        let r: Vec<_> = sink.rejects.iter().map(|r| r.reason.as_str()).collect();
        assert!(
            r[0].contains("'Rating': expected a number from 1 to 5"),
            "{}",
            r[0]
        );
        assert!(r[1].contains("'Period'"));
        assert!(r[2].contains("'Reviewee': empty"));
    }

    #[test]
    fn missing_required_column_names_its_alternatives() {
        let (res, _) = run(
            SourceFormat::AgentReviews,
            &ReadOptions::default(),
            "reviews.csv",
            b"Employee,Score\nx,1\n",
        );
        let msg = res.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            msg.contains("missing required column 'Criterion'")
                && msg.contains("'Rating Category'"),
            "{msg}"
        );
    }
}
