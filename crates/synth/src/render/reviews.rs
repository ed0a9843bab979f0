//! Agent reviews: each month, every agent rates their own work and their team lead rates it,
//! on the same four rubric criteria (1–5). Managers score from the agent's true quality; agents
//! score themselves higher by their own optimism (the same trait that makes their self-ratings
//! of calls exceed their customers'), so the self-evaluation delta is planted.

use crate::SynthError;
use crate::rng::{RngExt, Stream, rng_for};
use crate::time::{DAY, asterisk_local, civil_from_days, date_of_day, day_number, days_from_civil};
use crate::world::World;

use super::{CsvPart, Part};

pub(crate) const REVIEW_HEADER: &[&str] = &[
    "Review ID",
    "Employee",
    "Employee Name",
    "Reviewer",
    "Reviewer Role",
    "Period Start",
    "Period End",
    "Scorecard",
    "Criterion",
    "Score",
    "Scale Min",
    "Scale Max",
    "Weight",
    "Comment",
    "Reviewed At",
];

const CRITERIA: [(&str, &str); 4] = [
    ("Empathy", "0.25"),
    ("Accuracy", "0.30"),
    ("Resolution", "0.30"),
    ("Process", "0.15"),
];

/// The team lead who reviews agent `i`.
pub(crate) fn team_lead(i: usize) -> String {
    format!("lead{}", i % 4 + 1)
}

/// The review export's CSV writer: quoted where needed, CRLF.
pub(crate) fn review_csv() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Necessary)
        .terminator(csv::Terminator::CRLF)
        .has_headers(false)
        .from_writer(Vec::new())
}

/// The review export of the whole window: one review per agent, month and role, one row per
/// criterion. Months are the calendar months the window touches; a month's reviews are done
/// two days after it ends, or on the window's last day.
pub(crate) fn agent_reviews(world: &World) -> Result<Part, SynthError> {
    let mut w = CsvPart::new(review_csv(), "agent reviews");
    let first_day = day_number(world.start_us);
    let last_day = day_number(world.end_us - 1);
    let (mut y, mut m, _) = civil_from_days(first_day);
    let mut months = Vec::new();
    loop {
        let start = days_from_civil(y, m, 1);
        if start > last_day {
            break;
        }
        let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        let end = days_from_civil(ny, nm, 1) - 1;
        months.push((start, end));
        (y, m) = (ny, nm);
    }
    for (i, agent) in world.agents.iter().enumerate() {
        let mut rng = rng_for(world.seed, Stream::Reviews, i as u64);
        for (k, &(start, end)) in months.iter().enumerate() {
            let reviewed_day = (end + 2).min(last_day);
            // 17:00 Chicago, written in local time.
            let reviewed = reviewed_day * DAY + 22 * 3_600_000_000;
            for (role, reviewer) in [("self", agent.username.clone()), ("manager", team_lead(i))] {
                let id = format!(
                    "RV-{i:04}-{k:02}-{}",
                    if role == "self" { "S" } else { "M" }
                );
                for (criterion, weight) in CRITERIA {
                    let latent = 3.1 + 1.6 * agent.quality + rng.normal(0.0, 0.45);
                    let score = if role == "self" {
                        latent + agent.optimism
                    } else {
                        latent
                    };
                    let score = score.round().clamp(1.0, 5.0) as i64;
                    let comment = if role == "manager" && score <= 2 {
                        "Needs coaching"
                    } else {
                        ""
                    };
                    w.row(&[
                        &id,
                        &agent.username,
                        &agent.full_name(),
                        &reviewer,
                        role,
                        &date_of_day(start),
                        &date_of_day(end),
                        "Voice & chat QA",
                        criterion,
                        &score.to_string(),
                        "1",
                        "5",
                        weight,
                        comment,
                        &asterisk_local(reviewed),
                    ])?;
                }
            }
        }
    }
    w.finish()
}
