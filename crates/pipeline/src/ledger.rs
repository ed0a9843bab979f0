//! The run ledger as people read it: one entry per run (its final row, or its `running` row
//! when it never finished), for `touchstone runs`, `touchstone runs show` and backfills.

use std::collections::BTreeMap;

use arrow::array::{Array, Date32Array, Int64Array, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, TimeUnit};
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use touchstone_load::lock::Lock;
use touchstone_load::{TableKind, Warehouse};

use crate::PipelineError;

/// One run as the ledger tells it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LedgerRun {
    /// The run id.
    pub run_id: String,
    /// The pipeline.
    pub pipeline: String,
    /// The logical date it ran for.
    pub logical_date: NaiveDate,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended (`None` while running or when it never finished).
    pub finished_at: Option<DateTime<Utc>>,
    /// `succeeded`, `failed`, `running` (it holds the pipeline's lock now) or `interrupted`
    /// (it started and never recorded an end: it was killed or its machine went away).
    pub status: String,
    /// Records read over all sources.
    pub rows_read: u64,
    /// Records staged.
    pub rows_staged: u64,
    /// Records rejected.
    pub rows_rejected: u64,
    /// The run's summary (per-source counts, tables and versions, definition hashes) and, for
    /// a failed run, its error.
    pub detail: serde_json::Value,
}

impl LedgerRun {
    /// Seconds from start to end, when it ended.
    pub fn duration_secs(&self) -> Option<f64> {
        self.finished_at
            .map(|f| (f - self.started_at).num_milliseconds() as f64 / 1000.0)
    }

    /// The run's summary: the detail itself for a success, its `summary` for a failure.
    pub fn summary(&self) -> &serde_json::Value {
        self.detail.get("summary").unwrap_or(&self.detail)
    }

    /// The error of a failed run.
    pub fn error(&self) -> Option<&str> {
        self.detail.get("error").and_then(serde_json::Value::as_str)
    }

    /// The definition hashes the run was computed under (empty for runs recorded before they
    /// were kept).
    pub fn definitions(&self) -> BTreeMap<String, String> {
        self.summary()
            .get("definitions")
            .and_then(|d| serde_json::from_value(d.clone()).ok())
            .unwrap_or_default()
    }
}

/// Every run in the warehouse's ledger, newest first. A run whose only row is `running` shows
/// as `running` while it holds its pipeline's lock at `now`, `interrupted` otherwise.
pub async fn ledger_runs(
    warehouse: &Warehouse,
    now: DateTime<Utc>,
) -> Result<Vec<LedgerRun>, PipelineError> {
    let ctx = datafusion::prelude::SessionContext::new();
    let Some(provider) = warehouse
        .provider(&ctx, TableKind::System, "runs")
        .await
        .map_err(PipelineError::storage("reading _touchstone/runs"))?
    else {
        return Ok(Vec::new());
    };
    let batches = ctx
        .read_table(provider)
        .map_err(PipelineError::engine("reading _touchstone/runs"))?
        .collect()
        .await
        .map_err(PipelineError::engine("reading _touchstone/runs"))?;
    let mut runs: BTreeMap<String, LedgerRun> = BTreeMap::new();
    for batch in &batches {
        for run in rows(batch)? {
            let keep = match runs.get(&run.run_id) {
                None => true,
                // The final row replaces the `running` one.
                Some(seen) => seen.status == "running" && run.status != "running",
            };
            if keep {
                runs.insert(run.run_id.clone(), run);
            }
        }
    }
    let mut leases = BTreeMap::new();
    for run in runs.values_mut() {
        if run.status != "running" {
            continue;
        }
        if !leases.contains_key(&run.pipeline) {
            let lease = Lock::new(warehouse, &run.pipeline)?.read().await?;
            leases.insert(run.pipeline.clone(), lease.map(|(l, _)| l));
        }
        let holds = leases
            .get(&run.pipeline)
            .and_then(Option::as_ref)
            .is_some_and(|l| l.run_id == run.run_id && !l.released && !l.expired(now));
        if !holds {
            run.status = "interrupted".into();
        }
        run.finished_at = None;
    }
    let mut runs: Vec<LedgerRun> = runs.into_values().collect();
    runs.sort_by(|a, b| {
        b.started_at
            .cmp(&a.started_at)
            .then(b.run_id.cmp(&a.run_id))
    });
    Ok(runs)
}

/// The ledger rows of one batch.
fn rows(batch: &RecordBatch) -> Result<Vec<LedgerRun>, PipelineError> {
    let column = |name: &str, to: DataType| {
        let c = batch.column_by_name(name).ok_or_else(|| {
            PipelineError::Internal(format!("_touchstone/runs has no column {name}"))
        })?;
        arrow::compute::cast(c, &to)
            .map_err(|e| PipelineError::Internal(format!("_touchstone/runs column {name}: {e}")))
    };
    let text = |name: &str| -> Result<StringArray, PipelineError> {
        let c = column(name, DataType::Utf8)?;
        Ok(StringArray::from(c.to_data()))
    };
    let count = |name: &str| -> Result<Int64Array, PipelineError> {
        Ok(Int64Array::from(column(name, DataType::Int64)?.to_data()))
    };
    let time = |name: &str| -> Result<TimestampMicrosecondArray, PipelineError> {
        let c = column(name, DataType::Timestamp(TimeUnit::Microsecond, None))?;
        Ok(TimestampMicrosecondArray::from(c.to_data()))
    };
    let (run_id, pipeline, status, detail) = (
        text("run_id")?,
        text("pipeline")?,
        text("status")?,
        text("detail")?,
    );
    let date = Date32Array::from(column("logical_date", DataType::Date32)?.to_data());
    let (started, finished) = (time("started_at")?, time("finished_at")?);
    let (read, staged, rejected) = (
        count("rows_read")?,
        count("rows_staged")?,
        count("rows_rejected")?,
    );
    let at = |a: &TimestampMicrosecondArray, i: usize| {
        DateTime::from_timestamp_micros(a.value(i)).unwrap_or_default()
    };
    let n = |a: &Int64Array, i: usize| u64::try_from(a.value(i)).unwrap_or(0);
    let mut out = Vec::with_capacity(batch.num_rows());
    for i in 0..batch.num_rows() {
        if run_id.is_null(i) {
            continue;
        }
        out.push(LedgerRun {
            run_id: run_id.value(i).to_string(),
            pipeline: pipeline.value(i).to_string(),
            logical_date: date.value_as_date(i).unwrap_or_default(),
            started_at: at(&started, i),
            finished_at: Some(at(&finished, i)),
            status: status.value(i).to_string(),
            rows_read: n(&read, i),
            rows_staged: n(&staged, i),
            rows_rejected: n(&rejected, i),
            detail: serde_json::from_str(detail.value(i)).unwrap_or(serde_json::Value::Null),
        });
    }
    Ok(out)
}
