//! A Touchstone run as a library, and the reader of a warehouse's committed tables.
//!
//! What `touchstone run`, `validate`, `query` and `value fit` call, and what a scheduler, a
//! backfill or the PostgreSQL endpoint build on:
//!
//! - [`Prepared::load`] reads and checks a pipeline, its metrics and its SQL models without
//!   reading data (`touchstone validate`);
//! - [`Run`] stages every source, builds the models, computes the metrics, commits each table
//!   as one Delta commit and records the run in the ledger; `.await` it for a [`RunReport`];
//! - [`WarehouseReader`] registers the committed tables of a warehouse in a session, or
//!   lists them each pinned to a version for a long-running reader
//!   ([`WarehouseReader::committed_tables`]).
//!
//! The command line only parses arguments and prints what these give: a [`RunReport`], the
//! ledger's runs ([`RunTable`], [`LedgerRun`]), a query's rows ([`write_rows`]), a maintenance
//! ([`MaintainTable`]), and a run's progress on a terminal ([`progress::bar`]).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::path::Path;
//! use std::sync::Arc;
//! use touchstone_pipeline::{Prepared, Run, RunEvent};
//!
//! let dir = tempfile::tempdir()?;
//! std::fs::create_dir_all(dir.path().join("raw"))?;
//! std::fs::write(dir.path().join("raw/responses.csv"),
//!     "response_id,survey,instrument,score,scale_min,scale_max,responded_at\n")?;
//! std::fs::write(dir.path().join("p.yaml"), "
//! name: doc
//! warehouse: memory://pipeline-doc/
//! models: sql
//! metrics: metrics
//! sources:
//!   - name: surveys
//!     type: survey_csv
//!     path: raw/responses.csv
//! ")?;
//! std::fs::create_dir_all(dir.path().join("sql/marts"))?;
//! std::fs::create_dir_all(dir.path().join("metrics"))?;
//! std::fs::write(dir.path().join("sql/marts/answers.sql"),
//!     "select count(*) as n from stg_survey_responses")?;
//! let prepared = Prepared::load(&dir.path().join("p.yaml"), dir.path()).await?;
//! let committed = Arc::new(std::sync::Mutex::new(Vec::new()));
//! let seen = Arc::clone(&committed);
//! let report = Run::new(&prepared)
//!     .with_date(chrono::NaiveDate::from_ymd_opt(2026, 10, 29).unwrap())
//!     .with_progress(Arc::new(move |e: &RunEvent| {
//!         if let RunEvent::TableCommitted { table, .. } = e {
//!             seen.lock().unwrap().push(table.clone());
//!         }
//!     }))
//!     .await?;
//! assert_eq!(report.table("marts/answers").map(|t| t.rows), Some(1));
//! assert!(committed.lock().unwrap().contains(&"marts/answers".to_string()));
//! # Ok(()) }
//! ```

mod backfill;
mod error;
mod lease;
pub mod ledger;
mod live;
mod maintain;
mod metrics;
mod panics;
mod prepare;
pub mod progress;
mod reader;
mod report;
mod run;
pub mod schedule;
pub mod value_fit;
mod workdir;

pub use backfill::{Backfill, BackfillDate, backfill_summary};
pub use error::{ErrorKind, PipelineError};
pub use lease::{DEFAULT_LEASE_TTL, owner as lease_owner};
pub use ledger::{LedgerRun, RunTable, ledger_run, ledger_runs};
pub use live::{CommittedTable, ReadSessionOptions, read_session};
pub use maintain::{MaintainTable, maintain, secret_warnings};
pub use panics::quiet_caught_upstream_panics;

pub use prepare::{Prepared, default_pipeline};
pub use progress::{NoProgress, Progress, RunEvent};
pub use reader::{
    RowFormat, WarehouseReader, check_read_only, check_read_only_df_statement,
    check_read_only_statement, warehouse_url, write_rows,
};
pub use report::{RunReport, SourceReport, StepReport, TableReport};
pub use run::Run;
pub use schedule::{Scheduler, SchedulerStatus, serve_health, stop_on_signal};
pub use touchstone_load::{Maintained, TableEntry, TableKind};
