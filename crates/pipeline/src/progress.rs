//! What a run is doing, as events: for progress bars, logs, and tests that act at a given
//! point of a run (kill it after a commit, say) instead of after a sleep.

use serde::Serialize;

pub mod bar;
pub mod crashpoint;

/// One step of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RunEvent {
    /// Every source is listed; `steps` is the number of files plus tables to come.
    Started {
        /// The run id.
        run_id: String,
        /// Files to read + materialized models + the metrics.
        steps: u64,
    },
    /// A file was read (its rows are on their way to staging).
    FileRead {
        /// The pipeline source.
        source: String,
        /// The file's URL.
        file: String,
        /// Records read from it.
        rows_read: u64,
    },
    /// A table was committed.
    TableCommitted {
        /// `staging/stg_calls`, `rejects/web`, `marts/fct_calls`...
        table: String,
        /// Rows the commit wrote.
        rows: u64,
        /// The Delta version it created.
        version: u64,
    },
    /// A materialized model starts computing.
    ModelStarted {
        /// The model.
        model: String,
    },
    /// The metrics start computing.
    MetricsStarted,
    /// The run is recorded in the ledger with this status.
    Recorded {
        /// `succeeded` or `failed`.
        status: String,
    },
}

/// Receives a run's events. Called from the run's task; keep it quick.
pub trait Progress: Send + Sync {
    /// One event.
    fn event(&self, event: &RunEvent);
}

/// Ignores every event.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn event(&self, _event: &RunEvent) {}
}

impl<F: Fn(&RunEvent) + Send + Sync> Progress for F {
    fn event(&self, event: &RunEvent) {
        self(event)
    }
}
