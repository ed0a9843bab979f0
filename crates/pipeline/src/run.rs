//! A run: list every source, stage it, build the models, compute the metrics, record the run.
//!
//! ```no_run
//! # async fn demo() -> Result<(), touchstone_pipeline::PipelineError> {
//! use std::path::Path;
//! use touchstone_pipeline::{Prepared, Run};
//! let prepared = Prepared::load(Path::new("pipelines/customer_success.yaml"), Path::new(".")).await?;
//! let date = chrono::NaiveDate::from_ymd_opt(2026, 10, 29).unwrap();
//! let report = Run::new(&prepared).with_date(date).await?;
//! println!("{report}");
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, Date32Array, Int64Array, StringArray};
use arrow::record_batch::RecordBatch;
use chrono::NaiveDate;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use object_store::ObjectStore;
use touchstone_core::clock::{Clock, SystemClock};
use touchstone_core::config::Source;
use touchstone_core::diagnostic::{Diagnostic, Diagnostics, ErrorCode};
use touchstone_core::schema::{SOURCE_COLUMN, StagingTable, rejects_schema};
use touchstone_extract::source::{SourceFile, list_source, read_bytes};
use touchstone_extract::{
    BATCH_ROWS, ExtractError, FileStats, Lineage, ReadOptions, Reject, SalesforceObject, Sink,
    SourceState,
};
use touchstone_load::{BatchSender, TableKind, Warehouse, WriteMode, Written, ledger};
use tracing::{info, warn};
use url::Url;

use crate::prepare::session;
use crate::progress::{NoProgress, Progress, RunEvent};
use crate::report::{RunReport, SourceReport, TableReport};
use crate::{PipelineError, Prepared};

/// A run of a prepared pipeline for one logical date; `.await` it for its [`RunReport`].
///
/// The run is recorded in the warehouse's ledger (`_touchstone/runs`) whether it succeeds or
/// fails. Each table write is one Delta commit.
#[must_use = "a run does nothing until it is awaited"]
pub struct Run<'a> {
    prepared: &'a Prepared,
    date: Option<NaiveDate>,
    clock: Arc<dyn Clock>,
    progress: Arc<dyn Progress>,
}

impl<'a> Run<'a> {
    /// A run of `prepared` for today (by the clock), with the system clock and no progress.
    pub fn new(prepared: &'a Prepared) -> Self {
        Run {
            prepared,
            date: None,
            clock: Arc::new(SystemClock),
            progress: Arc::new(NoProgress),
        }
    }

    /// The logical date of the run.
    pub fn with_date(mut self, date: NaiveDate) -> Self {
        self.date = Some(date);
        self
    }

    /// Where the run's timestamps (run id, ledger times) come from.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Who hears about each step.
    pub fn with_progress(mut self, progress: Arc<dyn Progress>) -> Self {
        self.progress = progress;
        self
    }
}

impl<'a> IntoFuture for Run<'a> {
    type Output = Result<RunReport, PipelineError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(execute(self))
    }
}

/// One source with its store and files, listed before anything is written.
struct Listed<'a> {
    source: &'a Source,
    store: Arc<dyn ObjectStore>,
    files: Vec<SourceFile>,
    ignored: Vec<Url>,
}

async fn execute(run: Run<'_>) -> Result<RunReport, PipelineError> {
    let started = Instant::now();
    let started_at = run.clock.now();
    let date = run.date.unwrap_or_else(|| started_at.date_naive());
    let pipeline = &run.prepared.pipeline;
    let run_id = format!(
        "{}-{}-{}",
        pipeline.name,
        date,
        started_at.format("%Y%m%dT%H%M%S%.3fZ")
    );
    let mut report = RunReport {
        run_id: run_id.clone(),
        pipeline: pipeline.name.clone(),
        date: date.to_string(),
        warehouse: pipeline.warehouse.to_string(),
        ..RunReport::default()
    };
    info!(pipeline = %pipeline.name, %date, warehouse = %pipeline.warehouse, run_id = %run_id, "run started");

    // 1. Find every source's files before writing anything.
    let listed = list_sources(&pipeline.sources).await?;
    let warehouse = Warehouse::open(&pipeline.warehouse)
        .map_err(PipelineError::storage("opening the warehouse"))?;
    warehouse
        .check_writable()
        .await
        .map_err(PipelineError::storage("before the run"))?;
    // The ledger shows the run as `running` until its final row lands, so a run that is killed
    // shows as such; the final row names every table version the run committed.
    ledger::record_run(
        &warehouse,
        &ledger::RunRecord {
            run_id: run_id.clone(),
            pipeline: pipeline.name.clone(),
            logical_date: date,
            started_at,
            finished_at: started_at,
            status: "running".into(),
            rows_read: 0,
            rows_staged: 0,
            rows_rejected: 0,
            detail: "{}".into(),
        },
    )
    .await
    .map_err(PipelineError::storage(
        "recording the run in _touchstone/runs",
    ))?;
    let files: u64 = listed.iter().map(|l| l.files.len() as u64).sum();
    let steps = files + run.prepared.materialized().count() as u64 + 1;
    run.progress.event(&RunEvent::Started {
        run_id: run_id.clone(),
        steps,
    });

    let stages = Stages {
        prepared: run.prepared,
        warehouse: &warehouse,
        date,
        run_id: &run_id,
        progress: run.progress.as_ref(),
    };
    let outcome = stages.run(&listed, &mut report).await;

    report.elapsed_secs = started.elapsed().as_secs_f64();
    let (read, staged, rejected) = report.totals();
    let (status, detail) = match &outcome {
        Ok(()) => (
            "succeeded",
            serde_json::to_string(&report).unwrap_or_default(),
        ),
        Err(e) => (
            "failed",
            serde_json::json!({ "error": e.to_string(), "summary": &report }).to_string(),
        ),
    };
    let recorded = ledger::record_run(
        &warehouse,
        &ledger::RunRecord {
            run_id,
            pipeline: pipeline.name.clone(),
            logical_date: date,
            started_at,
            finished_at: started_at
                + chrono::Duration::from_std(started.elapsed()).unwrap_or_default(),
            status: status.into(),
            rows_read: read,
            rows_staged: staged,
            rows_rejected: rejected,
            detail,
        },
    )
    .await;
    outcome?;
    recorded.map_err(PipelineError::storage(
        "recording the run in _touchstone/runs",
    ))?;
    run.progress.event(&RunEvent::Recorded {
        status: status.into(),
    });
    info!(
        elapsed_secs = report.elapsed_secs,
        rows_read = read,
        rows_staged = staged,
        rows_rejected = rejected,
        "run finished"
    );
    Ok(report)
}

/// Lists every source; a source that matches no file is an error naming it and its path.
async fn list_sources(sources: &[Source]) -> Result<Vec<Listed<'_>>, PipelineError> {
    let mut listed = Vec::new();
    let mut missing = Vec::new();
    for source in sources {
        let listing = list_source(&source.location)
            .await
            .map_err(|error| PipelineError::List {
                source_name: source.name.clone(),
                error: Box::new(error),
            })?;
        if listing.files.is_empty() {
            missing.push(
                Diagnostic::new(
                    ErrorCode::NoSuchSource,
                    format!(
                        "source '{}': no file matches '{}'",
                        source.name, source.location_text
                    ),
                )
                .at(source.path_span.clone())
                .with_help(
                    "check the path (relative paths are relative to the directory you run in); \
                     `touchstone generate --out data/raw` writes sample exports",
                ),
            );
        }
        listed.push(Listed {
            source,
            store: listing.store,
            files: listing.files,
            ignored: listing.ignored,
        });
    }
    Diagnostics::check(missing).map_err(PipelineError::SourceMissing)?;
    Ok(listed)
}

/// Steps 2-4 of a run: stage every source, build the models, compute the metrics.
struct Stages<'r> {
    prepared: &'r Prepared,
    warehouse: &'r Warehouse,
    date: NaiveDate,
    run_id: &'r str,
    progress: &'r dyn Progress,
}

impl Stages<'_> {
    async fn run(
        &self,
        listed: &[Listed<'_>],
        report: &mut RunReport,
    ) -> Result<(), PipelineError> {
        let mut staged_rows: BTreeMap<StagingTable, Written> = BTreeMap::new();
        for l in listed {
            let (source_report, written, rejects) = self.stage_source(l).await?;
            for (table, w) in written {
                let total = staged_rows.entry(table).or_insert(Written {
                    rows: 0,
                    version: 0,
                });
                total.rows += w.rows;
                total.version = w.version;
            }
            report.tables.push(TableReport {
                table: format!("rejects/{}", l.source.name),
                rows: rejects.rows,
                version: rejects.version,
            });
            report.sources.push(source_report);
        }
        for (table, w) in &staged_rows {
            report.tables.push(TableReport {
                table: format!("staging/{}", table.name()),
                rows: w.rows,
                version: w.version,
            });
        }
        self.models_and_metrics(report).await
    }

    /// Stages one source: every table its format writes gets one streaming commit that replaces
    /// this source's rows, and its rejects stream into `rejects/<source>` the same way.
    async fn stage_source(
        &self,
        l: &Listed<'_>,
    ) -> Result<(SourceReport, Vec<(StagingTable, Written)>, Written), PipelineError> {
        let source = l.source;
        let mut writers = BTreeMap::new();
        for table in source.format.tables() {
            let writer = self
                .warehouse
                .stream_writer(
                    TableKind::Staging,
                    table.name(),
                    table.schema(),
                    WriteMode::ReplacePartition {
                        column: SOURCE_COLUMN.into(),
                        value: source.name.clone(),
                    },
                )
                .map_err(PipelineError::storage(format!(
                    "writing staging/{} for source '{}'",
                    table.name(),
                    source.name
                )))?;
            writers.insert(*table, writer);
        }
        let rejects_writer = self
            .warehouse
            .stream_writer(
                TableKind::Rejects,
                &source.name,
                rejects_schema(),
                WriteMode::Overwrite,
            )
            .map_err(PipelineError::storage(format!(
                "writing rejects/{}",
                source.name
            )))?;
        let sink = StreamSink {
            file: String::new(),
            senders: writers.iter().map(|(t, w)| (*t, w.sender())).collect(),
            rejects: RejectBuffer::new(&source.name, self.date, rejects_writer.sender()),
        };
        let (source_report, first_reject) = self.extract_source(l, sink).await?;
        if let Some(exceeded) = over_limits(source, &source_report) {
            // The rejects are committed so they can be inspected; this source's staging rows
            // are not (dropping the writers abandons their commits).
            drop(writers);
            rejects_writer
                .finish()
                .await
                .map_err(PipelineError::storage(format!(
                    "writing rejects/{}",
                    source.name
                )))?;
            return Err(exceeded);
        }
        let mut written = Vec::new();
        for (table, writer) in writers {
            let context = format!(
                "writing staging/{} for source '{}'",
                table.name(),
                source.name
            );
            let w = writer
                .finish()
                .await
                .map_err(PipelineError::storage(context))?;
            self.committed(&format!("staging/{}", table.name()), w);
            written.push((table, w));
        }
        let w = rejects_writer
            .finish()
            .await
            .map_err(PipelineError::storage(format!(
                "writing rejects/{}",
                source.name
            )))?;
        self.committed(&format!("rejects/{}", source.name), w);
        if let Some(first) = first_reject {
            warn!(
                source = %source.name,
                rejected = source_report.rows_rejected,
                first = %first,
                "rows rejected; see rejects/{}", source.name
            );
        }
        Ok((source_report, written, w))
    }

    fn committed(&self, table: &str, w: Written) {
        self.progress.event(&RunEvent::TableCommitted {
            table: table.to_string(),
            rows: w.rows,
            version: w.version,
        });
    }

    /// Reads every file of a source into the sink; returns the counts and the first reject.
    async fn extract_source(
        &self,
        l: &Listed<'_>,
        mut sink: StreamSink,
    ) -> Result<(SourceReport, Option<String>), PipelineError> {
        let source = l.source;
        let mut report = SourceReport {
            name: source.name.clone(),
            format: source.format.to_string(),
            ..SourceReport::default()
        };
        let salesforce_object = source
            .object
            .as_ref()
            .and_then(|name| SalesforceObject::ALL.into_iter().find(|o| o.name() == name));
        let options = ReadOptions {
            timezone: source.timezone,
            salesforce_object,
        };
        let extract_error = |error| PipelineError::Extract {
            source_name: source.name.clone(),
            error: Box::new(error),
        };
        let mut totals = FileStats::default();
        // What the source's files have staged so far: a record delivered again in a later file
        // is a duplicate.
        let mut state = SourceState::new();
        for file in &l.files {
            let file_text = file.url.to_string();
            let bytes = match read_bytes(l.store.as_ref(), file).await {
                Ok(bytes) => bytes,
                Err(e) => {
                    sink.reject_file(&file_text, &e.to_string())
                        .map_err(extract_error)?;
                    report.files_rejected += 1;
                    continue;
                }
            };
            let format = source.format;
            let options = options.clone();
            let source_name = source.name.clone();
            let date = self.date;
            sink.file = file_text.clone();
            let (stats, outcome, returned, returned_state) =
                tokio::task::spawn_blocking(move || {
                    let lineage = Lineage {
                        source: &source_name,
                        file: &file_text,
                        ingest_date: date,
                    };
                    let reader: Box<dyn std::io::Read + Send> =
                        Box::new(std::io::Cursor::new(bytes));
                    let (stats, outcome) = match touchstone_extract::decompress(&file_text, reader)
                    {
                        Ok(mut input) => touchstone_extract::read_file_partial(
                            format, &options, &lineage, &mut input, &mut sink, &mut state,
                        ),
                        Err(e) => (FileStats::default(), Err(e)),
                    };
                    (stats, outcome, sink, state)
                })
                .await
                .map_err(|e| PipelineError::Internal(format!("a reader thread failed: {e}")))?;
            sink = returned;
            state = returned_state;
            match outcome {
                Ok(()) => {}
                // The staging writer is gone (a storage failure): that is the run's error.
                Err(e @ ExtractError::Sink { .. }) => return Err(extract_error(e)),
                // The file as a whole cannot be read: it is rejected as a file, the records
                // read before the failure stay, and the run goes on.
                Err(e) => {
                    warn!(source = %source.name, file = %file.url, error = %e, "file rejected");
                    sink.reject_file(file.url.as_str(), &e.to_string())
                        .map_err(extract_error)?;
                    report.files_rejected += 1;
                }
            }
            info!(
                source = %source.name,
                file = %file.url,
                rows_read = stats.rows_read,
                rows_staged = stats.rows_staged,
                rows_rejected = stats.rows_rejected,
                duplicates = stats.duplicates,
                "file read"
            );
            self.progress.event(&RunEvent::FileRead {
                source: source.name.clone(),
                file: file.url.to_string(),
                rows_read: stats.rows_read,
            });
            report.files += 1;
            totals.add(&stats);
        }
        report.rows_read = totals.rows_read;
        report.rows_staged = totals.rows_staged;
        report.rows_rejected = totals.rows_rejected;
        report.duplicates = totals.duplicates;
        report.rows_repaired = totals.rows_repaired;
        report.warnings = totals.warnings;
        report.files_ignored = l.ignored.iter().map(Url::to_string).collect();
        for ignored in &l.ignored {
            warn!(source = %source.name, file = %ignored, "file does not match the source's path; not read");
        }
        let first_reject = sink.rejects.first.take();
        let date = self.date;
        tokio::task::spawn_blocking(move || sink.rejects.flush(date))
            .await
            .map_err(|e| PipelineError::Internal(format!("a reader thread failed: {e}")))?
            .map_err(extract_error)?;
        if report.rows_read != report.rows_staged + report.rows_rejected + report.duplicates {
            return Err(PipelineError::Internal(format!(
                "source '{}': {} rows read but {} staged, {} rejected and {} duplicates",
                source.name,
                report.rows_read,
                report.rows_staged,
                report.rows_rejected,
                report.duplicates
            )));
        }
        Ok((report, first_reject))
    }

    /// Builds the models in dependency order (marts are committed and read back from the
    /// warehouse; views marked `-- touchstone: cache` are computed once), then the metrics.
    async fn models_and_metrics(&self, report: &mut RunReport) -> Result<(), PipelineError> {
        let pipeline = &self.prepared.pipeline;
        let ctx = session(pipeline, true)?;
        register_staging(&ctx, self.warehouse).await?;
        touchstone_transform::register_run_context(&ctx, self.run_id, &pipeline.name, self.date)?;
        let state = Arc::new(ctx.state());
        for model in &self.prepared.models {
            touchstone_transform::plan_model(&ctx, model)
                .await
                .map_err(|d| PipelineError::Invalid(d.into()))?;
            let engine = || PipelineError::engine(model.name.as_str());
            if !model.materialized() {
                // A view that several models read is otherwise recomputed inside each of them.
                if model.cached() {
                    let df = ctx
                        .table(model.name.as_str())
                        .await
                        .map_err(engine())?
                        .cache()
                        .await
                        .map_err(engine())?;
                    ctx.deregister_table(model.name.as_str())
                        .map_err(engine())?;
                    ctx.register_table(model.name.as_str(), df.into_view())
                        .map_err(engine())?;
                }
                continue;
            }
            self.progress.event(&RunEvent::ModelStarted {
                model: model.name.clone(),
            });
            let plan = ctx
                .table(model.name.as_str())
                .await
                .map_err(engine())?
                .logical_plan()
                .clone();
            let table = format!("marts/{}", model.name);
            let written = self
                .warehouse
                .write_plan(
                    TableKind::Mart,
                    &model.name,
                    Arc::clone(&state) as _,
                    plan,
                    WriteMode::Overwrite,
                )
                .await
                .map_err(PipelineError::storage(format!("writing {table}")))?;
            info!(table = %model.name, rows = written.rows, version = written.version, "mart committed");
            self.committed(&table, written);
            report.tables.push(TableReport {
                table,
                rows: written.rows,
                version: written.version,
            });
            let provider = self
                .warehouse
                .provider(&ctx, TableKind::Mart, &model.name)
                .await
                .map_err(PipelineError::storage(format!(
                    "reading marts/{}",
                    model.name
                )))?;
            if let Some(provider) = provider {
                ctx.deregister_table(model.name.as_str())
                    .map_err(engine())?;
                ctx.register_table(model.name.as_str(), provider)
                    .map_err(engine())?;
            }
        }

        self.progress.event(&RunEvent::MetricsStarted);
        let metrics = touchstone_metrics::compile_all(&ctx, &self.prepared.metrics).await?;
        if let Some(df) = metrics {
            let plan = df.logical_plan().clone();
            let written = self
                .warehouse
                .write_plan(
                    TableKind::Mart,
                    "metric_values",
                    Arc::clone(&state) as _,
                    plan,
                    WriteMode::Overwrite,
                )
                .await
                .map_err(PipelineError::storage("writing marts/metric_values"))?;
            self.committed("marts/metric_values", written);
            report.tables.push(TableReport {
                table: "marts/metric_values".into(),
                rows: written.rows,
                version: written.version,
            });
        }
        Ok(())
    }
}

/// The error for a source whose bad files or rejected records exceed its configured limits.
fn over_limits(source: &Source, report: &SourceReport) -> Option<PipelineError> {
    let exceeded = |detail: String| PipelineError::RejectLimit {
        source_name: source.name.clone(),
        detail,
    };
    if let Some(max) = source.max_bad_files
        && report.files_rejected > max
    {
        return Some(exceeded(format!(
            "{} files could not be read (max_bad_files: {max})",
            report.files_rejected
        )));
    }
    if let Some(max) = source.max_reject_ratio
        && report.rows_read > 0
    {
        let ratio = report.rows_rejected as f64 / report.rows_read as f64;
        if ratio > max {
            return Some(exceeded(format!(
                "{} of {} records rejected ({:.2}%, max_reject_ratio: {max})",
                report.rows_rejected,
                report.rows_read,
                ratio * 100.0
            )));
        }
    }
    None
}

/// Registers every staging table: the committed Delta table where one exists, an empty table
/// of the canonical schema where no source has written it yet.
async fn register_staging(
    ctx: &SessionContext,
    warehouse: &Warehouse,
) -> Result<(), PipelineError> {
    for table in StagingTable::ALL {
        let provider = warehouse
            .provider(ctx, TableKind::Staging, table.name())
            .await
            .map_err(PipelineError::storage(format!("reading staging/{table}")))?;
        let engine = || PipelineError::engine(format!("registering {table}"));
        let provider = match provider {
            Some(p) => p,
            None => Arc::new(MemTable::try_new(table.schema(), vec![vec![]]).map_err(engine())?),
        };
        ctx.register_table(table.name(), provider)
            .map_err(engine())?;
    }
    Ok(())
}

/// Sends a file's batches to the staging writers and its rejects to the rejects writer.
struct StreamSink {
    file: String,
    senders: BTreeMap<StagingTable, BatchSender>,
    rejects: RejectBuffer,
}

impl StreamSink {
    /// Records a file that could not be read as one reject row at line 0.
    fn reject_file(&mut self, file: &str, why: &str) -> Result<(), ExtractError> {
        self.rejects.push(
            file,
            Reject {
                line: 0,
                reason: format!(
                    "the file could not be read: {why}; records after this point are unread"
                ),
                raw: String::new(),
            },
        )
    }
}

impl Sink for StreamSink {
    fn batch(&mut self, table: StagingTable, batch: RecordBatch) -> Result<(), ExtractError> {
        match self.senders.get(&table) {
            Some(sender) => sender.send(batch).map_err(ExtractError::sink),
            None => Err(ExtractError::sink(format!("no staging writer for {table}"))),
        }
    }

    fn reject(&mut self, reject: Reject) -> Result<(), ExtractError> {
        self.rejects.push(&self.file, reject)
    }
}

/// Rejects gathered into batches of at most [`BATCH_ROWS`] rows of the rejects schema.
struct RejectBuffer {
    source: String,
    date: NaiveDate,
    sender: BatchSender,
    rows: Vec<(String, Reject)>,
    first: Option<String>,
}

impl RejectBuffer {
    fn new(source: &str, date: NaiveDate, sender: BatchSender) -> Self {
        RejectBuffer {
            source: source.to_string(),
            date,
            sender,
            rows: Vec::new(),
            first: None,
        }
    }

    fn push(&mut self, file: &str, reject: Reject) -> Result<(), ExtractError> {
        if self.first.is_none() {
            self.first = Some(format!("{file}:{}: {}", reject.line, reject.reason));
        }
        self.rows.push((file.to_string(), reject));
        if self.rows.len() >= BATCH_ROWS {
            self.flush(self.date)?;
        }
        Ok(())
    }

    /// Sends the rejects gathered so far as one batch.
    fn flush(&mut self, date: NaiveDate) -> Result<(), ExtractError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.rows);
        let days = (date - NaiveDate::default()).num_days() as i32;
        let n = rows.len();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec![self.source.as_str(); n])),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|(f, _)| f.as_str()),
            )),
            Arc::new(Int64Array::from_iter_values(
                rows.iter()
                    .map(|(_, r)| i64::try_from(r.line).unwrap_or(i64::MAX)),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|(_, r)| r.reason.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|(_, r)| r.raw.as_str()),
            )),
            Arc::new(Date32Array::from(vec![days; n])),
        ];
        let batch = RecordBatch::try_new(rejects_schema(), columns)
            .map_err(|e| ExtractError::sink(format!("building a batch of rejects: {e}")))?;
        self.sender.send(batch).map_err(ExtractError::sink)
    }
}
