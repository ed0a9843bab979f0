//! A backfill: one run per logical date of a range, in order, resumable.
//!
//! A date is skipped when the ledger shows a run of the pipeline that succeeded for it under the
//! same definition hashes ([`crate::Prepared::definition_hashes`]); so a backfill that was
//! interrupted (killed, a failed date) is resumed by running it again, and it does not rerun the
//! dates it committed. A date whose run fails stops the backfill with that run's error.

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use serde::Serialize;
use touchstone_core::clock::{Clock, SystemClock};
use touchstone_load::Warehouse;
use tracing::info;

use crate::ledger::ledger_runs;
use crate::progress::{NoProgress, Progress};
use crate::{PipelineError, Prepared, Run};

/// What a backfill did with one date.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackfillDate {
    /// The logical date.
    pub date: NaiveDate,
    /// `ran` or `skipped` (committed before under the same definitions).
    pub action: String,
    /// The run that committed it (this backfill's run, or the earlier one).
    pub run_id: String,
}

impl std::fmt::Display for BackfillDate {
    /// `2026-10-29  ran      <run id>`, as `touchstone backfill` prints each date.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}  {:7}  {}", self.date, self.action, self.run_id)
    }
}

/// The closing line of a backfill of `from..=to` that did `done`: how many dates, how many
/// ran, how many were already committed.
///
/// ```
/// use chrono::NaiveDate;
/// use touchstone_pipeline::{BackfillDate, backfill_summary};
/// let d = |day| NaiveDate::from_ymd_opt(2026, 10, day).unwrap();
/// let done = [
///     BackfillDate { date: d(1), action: "skipped".into(), run_id: "r1".into() },
///     BackfillDate { date: d(2), action: "ran".into(), run_id: "r2".into() },
/// ];
/// assert_eq!(done[0].to_string(), "2026-10-01  skipped  r1");
/// assert_eq!(
///     backfill_summary(d(1), d(2), &done),
///     "backfill of 2026-10-01 to 2026-10-02: 2 dates, 1 run, 1 already committed"
/// );
/// ```
pub fn backfill_summary(from: NaiveDate, to: NaiveDate, done: &[BackfillDate]) -> String {
    let ran = done.iter().filter(|d| d.action == "ran").count();
    format!(
        "backfill of {from} to {to}: {} dates, {ran} run, {} already committed",
        done.len(),
        done.len() - ran
    )
}

/// Called as each date of a backfill is done.
type OnDate<'a> = Box<dyn Fn(&BackfillDate) + Send + Sync + 'a>;

/// A backfill of `prepared` over `from..=to`; see the module docs.
pub struct Backfill<'a> {
    prepared: &'a Prepared,
    from: NaiveDate,
    to: NaiveDate,
    clock: Arc<dyn Clock>,
    progress: Arc<dyn Progress>,
    lock_wait: Option<Duration>,
    on_date: Option<OnDate<'a>>,
}

impl<'a> Backfill<'a> {
    /// A backfill of the dates `from` to `to`, both included.
    pub fn new(prepared: &'a Prepared, from: NaiveDate, to: NaiveDate) -> Self {
        Backfill {
            prepared,
            from,
            to,
            clock: Arc::new(SystemClock),
            progress: Arc::new(NoProgress),
            lock_wait: None,
            on_date: None,
        }
    }

    /// The clock of every run.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The progress of every run.
    pub fn with_progress(mut self, progress: Arc<dyn Progress>) -> Self {
        self.progress = progress;
        self
    }

    /// Each run waits for the pipeline's lock (see [`Run::with_lock_wait`]).
    pub fn with_lock_wait(mut self, wait: Option<Duration>) -> Self {
        self.lock_wait = wait;
        self
    }

    /// Called as each date is done (run or skipped).
    pub fn on_date(mut self, f: impl Fn(&BackfillDate) + Send + Sync + 'a) -> Self {
        self.on_date = Some(Box::new(f));
        self
    }

    /// Runs the backfill; returns every date in order.
    pub async fn run(self) -> Result<Vec<BackfillDate>, PipelineError> {
        if self.to < self.from {
            return Err(PipelineError::Invalid(
                touchstone_core::diagnostic::Diagnostics(vec![
                    touchstone_core::diagnostic::Diagnostic::new(
                        touchstone_core::diagnostic::ErrorCode::InvalidValue,
                        format!("backfill: --from {} is after --to {}", self.from, self.to),
                    )
                    .with_help("give the earlier date as --from"),
                ]),
            ));
        }
        let pipeline = &self.prepared.pipeline;
        let warehouse = Warehouse::open(&pipeline.warehouse)
            .map_err(PipelineError::storage("opening the warehouse"))?;
        let definitions = self.prepared.definition_hashes();
        let mut done = Vec::new();
        let mut date = self.from;
        while date <= self.to {
            // Read before each date: another backfill or run may have committed it meanwhile.
            let committed = ledger_runs(&warehouse, self.clock.now())
                .await?
                .into_iter()
                .find(|r| {
                    r.pipeline == pipeline.name
                        && r.logical_date == date
                        && r.status == "succeeded"
                        && r.definitions() == definitions
                });
            let entry = match committed {
                Some(run) => {
                    info!(%date, run_id = %run.run_id, "already committed under the same definitions; skipped");
                    BackfillDate {
                        date,
                        action: "skipped".into(),
                        run_id: run.run_id,
                    }
                }
                None => {
                    let report = Run::new(self.prepared)
                        .with_date(date)
                        .with_clock(Arc::clone(&self.clock))
                        .with_progress(Arc::clone(&self.progress))
                        .with_lock_wait(self.lock_wait)
                        .await?;
                    BackfillDate {
                        date,
                        action: "ran".into(),
                        run_id: report.run_id,
                    }
                }
            };
            if let Some(f) = &self.on_date {
                f(&entry);
            }
            done.push(entry);
            let Some(next) = date.succ_opt() else { break };
            date = next;
        }
        Ok(done)
    }
}
