//! The run ledger: one row per `touchstone run`, appended at the end of the run, in
//! `_touchstone/runs` (SQL name `_touchstone_runs`).

use std::sync::Arc;

use arrow::array::{ArrayRef, Date32Array, Int64Array, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, NaiveDate, Utc};
use touchstone_core::schema::timestamp_type;

use crate::{LoadError, TableKind, Warehouse, WriteMode, Written};

/// One run, as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// Unique id of the run.
    pub run_id: String,
    /// Pipeline name.
    pub pipeline: String,
    /// The logical date the run was for.
    pub logical_date: NaiveDate,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
    /// `succeeded` or `failed`.
    pub status: String,
    /// Rows read, staged and rejected over all sources.
    pub rows_read: u64,
    /// Rows staged.
    pub rows_staged: u64,
    /// Rows rejected.
    pub rows_rejected: u64,
    /// The run summary as JSON (per source and per table counts), or the error.
    pub detail: String,
}

/// Schema of `_touchstone/runs`.
pub fn runs_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("run_id", DataType::Utf8, false),
        Field::new("pipeline", DataType::Utf8, false),
        Field::new("logical_date", DataType::Date32, false),
        Field::new("started_at", timestamp_type(), false),
        Field::new("finished_at", timestamp_type(), false),
        Field::new("status", DataType::Utf8, false),
        Field::new("rows_read", DataType::Int64, false),
        Field::new("rows_staged", DataType::Int64, false),
        Field::new("rows_rejected", DataType::Int64, false),
        Field::new("detail", DataType::Utf8, false),
    ]))
}

/// Appends `run` to the ledger.
pub async fn record_run(wh: &Warehouse, run: &RunRecord) -> Result<Written, LoadError> {
    let days = (run.logical_date - NaiveDate::default()).num_days() as i32;
    let ts = |t: DateTime<Utc>| {
        TimestampMicrosecondArray::from(vec![t.timestamp_micros()]).with_timezone("UTC")
    };
    let count = |n: u64| Int64Array::from(vec![i64::try_from(n).unwrap_or(i64::MAX)]);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec![run.run_id.as_str()])),
        Arc::new(StringArray::from(vec![run.pipeline.as_str()])),
        Arc::new(Date32Array::from(vec![days])),
        Arc::new(ts(run.started_at)),
        Arc::new(ts(run.finished_at)),
        Arc::new(StringArray::from(vec![run.status.as_str()])),
        Arc::new(count(run.rows_read)),
        Arc::new(count(run.rows_staged)),
        Arc::new(count(run.rows_rejected)),
        Arc::new(StringArray::from(vec![run.detail.as_str()])),
    ];
    let batch = RecordBatch::try_new(runs_schema(), columns).map_err(|e| LoadError::Engine {
        context: "building the run ledger row".into(),
        source: Box::new(e.into()),
    })?;
    wh.write_batches(
        TableKind::System,
        "runs",
        runs_schema(),
        vec![batch],
        WriteMode::Append,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_append() {
        let wh = Warehouse::open(&url::Url::parse("memory://ledger-test/").unwrap()).unwrap();
        let t = DateTime::parse_from_rfc3339("2026-08-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let run = RunRecord {
            run_id: "r1".into(),
            pipeline: "p".into(),
            logical_date: NaiveDate::from_ymd_opt(2026, 8, 1).unwrap(),
            started_at: t,
            finished_at: t,
            status: "succeeded".into(),
            rows_read: 3,
            rows_staged: 2,
            rows_rejected: 1,
            detail: "{}".into(),
        };
        record_run(&wh, &run).await.unwrap();
        record_run(
            &wh,
            &RunRecord {
                run_id: "r2".into(),
                ..run
            },
        )
        .await
        .unwrap();
        let rows: usize = crate::read_all(&wh, TableKind::System, "runs")
            .await
            .unwrap()
            .iter()
            .map(|b| b.num_rows())
            .sum();
        assert_eq!(rows, 2);
    }
}
