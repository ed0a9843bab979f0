//! The run ledger as people read it: one entry per run (its final row, or its `running` row
//! when it never finished), for `touchstone runs`, `touchstone runs show` and backfills.

use std::collections::BTreeMap;
use std::fmt;

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

    /// The duration as `touchstone runs` prints it: `12.3 s`, or `-` when it never ended.
    fn duration_text(&self) -> String {
        self.duration_secs()
            .map_or_else(|| "-".to_string(), |s| format!("{s:.1} s"))
    }
}

impl fmt::Display for LedgerRun {
    /// One run as `touchstone runs show` prints it: id, pipeline, date, status, times, row
    /// counts, the error of a failed run, then a table of sources, a table of tables and the
    /// definition hashes, each when the ledger has them.
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(out, "run       {}", self.run_id)?;
        writeln!(out, "pipeline  {}", self.pipeline)?;
        writeln!(out, "date      {}", self.logical_date)?;
        writeln!(out, "status    {}", self.status)?;
        writeln!(out, "started   {}", self.started_at.to_rfc3339())?;
        if let Some(f) = self.finished_at {
            writeln!(
                out,
                "finished  {} ({})",
                f.to_rfc3339(),
                self.duration_text()
            )?;
        }
        writeln!(
            out,
            "rows      {} read, {} staged, {} rejected",
            self.rows_read, self.rows_staged, self.rows_rejected
        )?;
        if let Some(e) = self.error() {
            writeln!(out, "error     {e}")?;
        }
        let summary = self.summary();
        let empty = Vec::new();
        let sources = summary["sources"].as_array().unwrap_or(&empty);
        if !sources.is_empty() {
            writeln!(
                out,
                "\n  {:20}  {:>6}  {:>10}  {:>10}  {:>9}",
                "source", "files", "read", "staged", "rejected"
            )?;
            for s in sources {
                writeln!(
                    out,
                    "  {:20}  {:>6}  {:>10}  {:>10}  {:>9}",
                    s["name"].as_str().unwrap_or("?"),
                    s["files"].as_u64().unwrap_or(0),
                    s["rows_read"].as_u64().unwrap_or(0),
                    s["rows_staged"].as_u64().unwrap_or(0),
                    s["rows_rejected"].as_u64().unwrap_or(0)
                )?;
            }
        }
        let tables = summary["tables"].as_array().unwrap_or(&empty);
        if !tables.is_empty() {
            writeln!(out, "\n  {:36}  {:>10}  {:>8}", "table", "rows", "version")?;
            for t in tables {
                writeln!(
                    out,
                    "  {:36}  {:>10}  {:>8}",
                    t["table"].as_str().unwrap_or("?"),
                    t["rows"].as_u64().unwrap_or(0),
                    t["version"].as_u64().unwrap_or(0)
                )?;
            }
        }
        let definitions = self.definitions();
        if !definitions.is_empty() {
            writeln!(out, "\ndefinitions")?;
            for (name, hash) in definitions {
                writeln!(out, "  {name:36}  {hash}")?;
            }
        }
        Ok(())
    }
}

/// Runs as `touchstone runs` lists them: one aligned line each (id, date, status, duration,
/// rows staged, rows rejected) under a header, or `no runs recorded`.
///
/// ```
/// use touchstone_pipeline::ledger::RunTable;
/// assert_eq!(RunTable(&[]).to_string(), "no runs recorded\n");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct RunTable<'a>(pub &'a [&'a LedgerRun]);

impl fmt::Display for RunTable<'_> {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let runs = self.0;
        if runs.is_empty() {
            return writeln!(out, "no runs recorded");
        }
        let width = runs
            .iter()
            .map(|r| r.run_id.len())
            .max()
            .unwrap_or(6)
            .max(6);
        writeln!(
            out,
            "{:width$}  {:10}  {:11}  {:>9}  {:>12}  {:>9}",
            "run_id", "date", "status", "duration", "rows", "rejects"
        )?;
        for r in runs {
            writeln!(
                out,
                "{:width$}  {:10}  {:11}  {:>9}  {:>12}  {:>9}",
                r.run_id,
                r.logical_date.to_string(),
                r.status,
                r.duration_text(),
                r.rows_staged,
                r.rows_rejected
            )?;
        }
        Ok(())
    }
}

/// The run `id` of the warehouse's ledger (as [`ledger_runs`] tells it at `now`); when there
/// is none, the error names the most recent runs there are.
pub async fn ledger_run(
    warehouse: &Warehouse,
    id: &str,
    now: DateTime<Utc>,
) -> Result<LedgerRun, PipelineError> {
    let runs = ledger_runs(warehouse, now).await?;
    find_run(runs, id, warehouse.root().as_str())
}

/// The run `id` among `runs`, or an error naming the first five (`root` is the warehouse).
fn find_run(runs: Vec<LedgerRun>, id: &str, root: &str) -> Result<LedgerRun, PipelineError> {
    let recent: Vec<String> = runs.iter().take(5).map(|r| r.run_id.clone()).collect();
    runs.into_iter().find(|r| r.run_id == id).ok_or_else(|| {
        PipelineError::Query(format!(
            "no run '{id}' in the ledger of {root}; recent runs: {}",
            if recent.is_empty() {
                "none".to_string()
            } else {
                recent.join(", ")
            }
        ))
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str, status: &str, detail: serde_json::Value) -> LedgerRun {
        let started_at = DateTime::from_timestamp(1_790_000_000, 0).unwrap();
        LedgerRun {
            run_id: id.into(),
            pipeline: "customer_success".into(),
            logical_date: NaiveDate::from_ymd_opt(2026, 10, 29).unwrap(),
            started_at,
            finished_at: Some(started_at + chrono::Duration::milliseconds(12_345)),
            status: status.into(),
            rows_read: 120,
            rows_staged: 100,
            rows_rejected: 20,
            detail,
        }
    }

    #[test]
    fn a_run_list_is_aligned_under_its_header() {
        let a = run("run-a", "succeeded", serde_json::json!({}));
        let mut b = run("a-longer-run-id", "interrupted", serde_json::json!({}));
        b.finished_at = None;
        let text = RunTable(&[&a, &b]).to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "run_id           date        status        duration          rows    rejects",
                "run-a            2026-10-29  succeeded       12.3 s           100         20",
                "a-longer-run-id  2026-10-29  interrupted          -           100         20",
            ]
        );
    }

    #[test]
    fn a_failed_run_shows_its_error_sources_tables_and_definitions() {
        let detail = serde_json::json!({
            "error": "source 'web': boom",
            "summary": {
                "sources": [{"name": "web", "files": 2, "rows_read": 120,
                             "rows_staged": 100, "rows_rejected": 20}],
                "tables": [{"table": "staging/stg_web", "rows": 100, "version": 3}],
                "definitions": {"csat_pct": "abc123"}
            }
        });
        let run = run("run-a", "failed", detail);
        let text = run.to_string();
        assert!(text.starts_with("run       run-a\npipeline  customer_success\n"));
        let finished = run.finished_at.unwrap().to_rfc3339();
        assert!(text.contains(&format!("finished  {finished} (12.3 s)\n")));
        assert!(text.contains("rows      120 read, 100 staged, 20 rejected\n"));
        assert!(text.contains("error     source 'web': boom\n"));
        assert!(
            text.contains("\n  web                        2         120         100         20\n")
        );
        assert!(text.contains("\n  staging/stg_web                              100         3\n"));
        assert!(text.ends_with("\ndefinitions\n  csat_pct                              abc123\n"));
    }

    #[test]
    fn an_unknown_run_names_the_recent_ones() {
        let runs = vec![run("b", "succeeded", serde_json::json!({}))];
        assert_eq!(
            find_run(runs.clone(), "b", "file:///w/").unwrap().run_id,
            "b"
        );
        let err = find_run(runs, "x", "file:///w/").unwrap_err().to_string();
        assert_eq!(
            err,
            "no run 'x' in the ledger of file:///w/; recent runs: b"
        );
        let err = find_run(Vec::new(), "x", "file:///w/").unwrap_err();
        assert!(err.to_string().ends_with("recent runs: none"));
    }
}
