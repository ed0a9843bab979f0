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

use std::collections::{BTreeMap, HashMap};
use std::future::{Future, IntoFuture};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{ArrayRef, Date32Array, Int64Array, StringArray};
use arrow::record_batch::RecordBatch;
use chrono::NaiveDate;
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::datasource::MemTable;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use futures::{StreamExt as _, TryStreamExt as _};
use object_store::{ObjectStore, ObjectStoreExt as _};
use tokio_util::io::{StreamReader, SyncIoBridge};
use touchstone_core::clock::{Clock, SystemClock};
use touchstone_core::config::{NullRatioCheck, Source};
use touchstone_core::diagnostic::Span;
use touchstone_core::diagnostic::{Diagnostic, Diagnostics, ErrorCode};
use touchstone_core::schema::{FILE_COLUMN, SOURCE_COLUMN, StagingTable, rejects_schema};
use touchstone_extract::source::{SourceFile, list_source, read_bytes};
use touchstone_extract::{
    BATCH_ROWS, ExtractError, FileStats, HubspotObject, Lineage, ReadOptions, Reject,
    SalesforceObject, Sink, SourceState,
};
use touchstone_load::files::{self, FileState};
use touchstone_load::seen;
use touchstone_load::{BatchSender, TableKind, Warehouse, WriteMode, Written, ledger};
use touchstone_transform::SpillCounter;
use tracing::{info, warn};
use url::Url;

use crate::lease::{DEFAULT_LEASE_TTL, RunLease};
use crate::prepare::session;
use crate::progress::{NoProgress, Progress, RunEvent};
use crate::report::{RunReport, SourceReport, StepReport, TableReport};
use crate::workdir::WorkDir;
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
    full_refresh: bool,
    lock_wait: Option<Duration>,
    lease_ttl: Duration,
}

impl<'a> Run<'a> {
    /// A run of `prepared` for today (by the clock), with the system clock and no progress.
    pub fn new(prepared: &'a Prepared) -> Self {
        Run {
            prepared,
            date: None,
            clock: Arc::new(SystemClock),
            progress: Arc::new(NoProgress),
            full_refresh: false,
            lock_wait: None,
            lease_ttl: DEFAULT_LEASE_TTL,
        }
    }

    /// While another run of the pipeline holds its lock, wait up to `wait` for it (by default a
    /// run fails at once with [`PipelineError::LockHeld`]). `Duration::MAX` waits as long as it
    /// takes.
    pub fn with_lock_wait(mut self, wait: Option<Duration>) -> Self {
        self.lock_wait = wait;
        self
    }

    /// How long the run's lease on the pipeline lasts unless renewed (default 60 s; renewed
    /// every third of that). A run that dies leaves its lease to expire after this long, or
    /// to be taken over at once by a run on the same host that sees its process is gone.
    pub fn with_lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
        self
    }

    /// Restages every file of every source, not only new and changed ones.
    pub fn with_full_refresh(mut self, full_refresh: bool) -> Self {
        self.full_refresh = full_refresh;
        self
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
    let report = RunReport {
        run_id: run_id.clone(),
        pipeline: pipeline.name.clone(),
        date: date.to_string(),
        warehouse: pipeline.warehouse.to_string(),
        definitions: run.prepared.definition_hashes(),
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
    // A metric definition changed under a version this warehouse recorded: refuse before
    // anything is written.
    crate::metrics::check_versions(&warehouse, &run.prepared.metrics).await?;
    // One run of a pipeline at a time: the lease is taken before anything is written.
    let lease = RunLease::acquire(
        &warehouse,
        &pipeline.name,
        &run_id,
        Arc::clone(&run.clock),
        run.lease_ttl,
        run.lock_wait,
    )
    .await?;
    let result = locked(
        &run, &listed, &warehouse, &lease, report, started, started_at, date,
    )
    .await;
    lease.release().await;
    result
}

/// The run once it holds the pipeline's lease: the ledger's `running` row, the stages, the
/// ledger's final row.
#[allow(clippy::too_many_arguments)]
async fn locked(
    run: &Run<'_>,
    listed: &[Listed<'_>],
    warehouse: &Warehouse,
    lease: &RunLease,
    mut report: RunReport,
    started: Instant,
    started_at: chrono::DateTime<chrono::Utc>,
    date: NaiveDate,
) -> Result<RunReport, PipelineError> {
    let pipeline = &run.prepared.pipeline;
    let run_id = report.run_id.clone();
    // The ledger shows the run as `running` until its final row lands, so a run that is killed
    // shows as such; the final row names every table version the run committed.
    ledger::record_run(
        warehouse,
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
        warehouse,
        lease,
        date,
        run_id: &run_id,
        progress: run.progress.as_ref(),
        full_refresh: run.full_refresh,
    };
    let outcome = stages.run(listed, &mut report).await;

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
        warehouse,
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
    lease: &'r RunLease,
    date: NaiveDate,
    run_id: &'r str,
    progress: &'r dyn Progress,
    full_refresh: bool,
}

impl Stages<'_> {
    async fn run(
        &self,
        listed: &[Listed<'_>],
        report: &mut RunReport,
    ) -> Result<(), PipelineError> {
        for l in listed {
            self.lease.check()?;
            let started = Instant::now();
            let (source_report, written, rejects) = self.stage_source(l).await?;
            report.steps.push(StepReport {
                step: format!("stage {}", l.source.name),
                secs: started.elapsed().as_secs_f64(),
            });
            // Recorded as each source commits, so a run that fails later still names every
            // table version it committed (in the ledger's detail).
            for (table, w) in written {
                let name = format!("staging/{}", table.name());
                match report.tables.iter_mut().find(|t| t.table == name) {
                    Some(t) => {
                        t.rows += w.rows;
                        t.version = w.version;
                    }
                    None => report.tables.push(TableReport {
                        table: name,
                        rows: w.rows,
                        version: w.version,
                    }),
                }
            }
            if let Some(rejects) = rejects {
                report.tables.push(TableReport {
                    table: format!("rejects/{}", l.source.name),
                    rows: rejects.rows,
                    version: rejects.version,
                });
            }
            report.sources.push(source_report);
        }
        self.models_and_metrics(report).await
    }

    /// Stages one source: every table its format writes gets one streaming commit that replaces
    /// this source's rows, and its rejects stream into `rejects/<source>` the same way.
    async fn stage_source(&self, l: &Listed<'_>) -> Result<Staged, PipelineError> {
        let source = l.source;
        let plan = self.plan_source(l).await?;
        if plan.read.is_empty() && !plan.refresh_all {
            info!(source = %source.name, unchanged = plan.unchanged.len(), "no new or changed files");
            let report = SourceReport {
                name: source.name.clone(),
                format: source.format.to_string(),
                files_unchanged: plan.unchanged.len() as u64,
                files_ignored: l.ignored.iter().map(Url::to_string).collect(),
                ..SourceReport::default()
            };
            return Ok((report, Vec::new(), None));
        }
        let read_files: Vec<String> = plan.read.iter().map(|f| f.url.to_string()).collect();
        let (staging_mode, rejects_mode) = if plan.refresh_all {
            (
                WriteMode::ReplacePartition {
                    column: SOURCE_COLUMN.into(),
                    value: source.name.clone(),
                },
                WriteMode::Overwrite,
            )
        } else {
            let replace = |partition| WriteMode::ReplaceFiles {
                partition,
                file_column: FILE_COLUMN.into(),
                files: read_files.clone(),
            };
            (
                replace(Some((SOURCE_COLUMN.into(), source.name.clone()))),
                replace(None),
            )
        };
        let mut writers = BTreeMap::new();
        for table in source.format.tables() {
            let writer = self
                .warehouse
                .stream_writer(
                    TableKind::Staging,
                    table.name(),
                    table.schema(),
                    staging_mode.clone(),
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
                rejects_mode,
            )
            .map_err(PipelineError::storage(format!(
                "writing rejects/{}",
                source.name
            )))?;
        let sink = StreamSink {
            file: String::new(),
            senders: writers.iter().map(|(t, w)| (*t, w.sender())).collect(),
            rejects: RejectBuffer::new(&source.name, self.date, rejects_writer.sender()),
            nulls: source
                .null_ratio
                .iter()
                .map(|c| NullCount {
                    check: c.clone(),
                    nulls: 0,
                    rows: 0,
                })
                .collect(),
        };
        let seen_context = format!("recording the deliveries of source '{}'", source.name);
        let seen_writer = seen::writer(self.warehouse, &source.name)
            .map_err(PipelineError::storage(seen_context.clone()))?;
        let (earlier, state) = self
            .seeded_state(source, &plan, &read_files, &seen_writer.sender())
            .await?;
        let (mut source_report, first_reject, per_file, state, nulls) = self
            .extract_source(l, &plan.read, sink, state, seen_writer.sender())
            .await?;
        source_report.files_unchanged = plan.unchanged.len() as u64;
        source_report.bytes_read = plan.read.iter().map(|f| f.meta.size).sum();
        if let Some(exceeded) = over_limits(source, &source_report, &nulls) {
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
        self.record_files(source, &plan, &per_file).await?;
        // What the source's deliveries staged (the rows kept from earlier runs and this
        // run's), for the next run's duplicate check. A source without at-least-once
        // deliveries and without earlier rows to clear commits nothing.
        if earlier || state.logged() > 0 {
            seen_writer
                .finish()
                .await
                .map_err(PipelineError::storage(seen_context))?;
        }
        Ok((source_report, written, Some(w)))
    }

    /// The duplicate check a source's files start from: what earlier runs staged from the
    /// files this run does not read again (`_touchstone/seen`), so a record delivered again in
    /// a new file is a duplicate whichever run staged its first copy. A run that restages
    /// every file starts empty. The rows kept are sent to `seen` (the source's next record of
    /// them) as they are read. Returns whether earlier rows exist (to keep or to clear) and
    /// the state.
    async fn seeded_state(
        &self,
        source: &Source,
        plan: &SourcePlan<'_>,
        read_files: &[String],
        seen: &BatchSender,
    ) -> Result<(bool, SourceState), PipelineError> {
        let context = format!("reading _touchstone/seen for source '{}'", source.name);
        let mut state = SourceState::new();
        let Some(mut previous) = seen::read(self.warehouse, &source.name)
            .await
            .map_err(PipelineError::storage(context.clone()))?
        else {
            return Ok((false, state));
        };
        let rereads: std::collections::HashSet<&str> =
            read_files.iter().map(String::as_str).collect();
        let mut earlier = false;
        while let Some(batch) = previous.next().await {
            let batch = batch.map_err(PipelineError::engine(context.clone()))?;
            earlier |= batch.num_rows() > 0;
            if plan.refresh_all {
                if earlier {
                    // Every file is read again: nothing is kept, the rows are cleared.
                    break;
                }
                continue;
            }
            let rows = seen::Rows::of(&batch).map_err(PipelineError::storage(context.clone()))?;
            let keep: arrow::array::BooleanArray = (0..rows.len())
                .map(|i| {
                    let (file, key, version) = rows.get(i);
                    let kept = !rereads.contains(file);
                    if kept {
                        state.remember(key, version);
                    }
                    Some(kept)
                })
                .collect();
            let kept = rows
                .filtered(&keep)
                .map_err(PipelineError::storage(context.clone()))?;
            if kept.num_rows() > 0 && seen.send_async(kept).await.is_err() {
                // The writer failed; finishing it reports why.
                break;
            }
        }
        if state.ids() > 0 {
            info!(source = %source.name, ids = state.ids(), "duplicate check seeded from earlier runs");
        }
        Ok((earlier, state))
    }

    /// Which files of a source this run reads: new and changed ones, or all of them on a full
    /// refresh, the first run of the source, or after its settings changed.
    async fn plan_source<'l>(&self, l: &'l Listed<'_>) -> Result<SourcePlan<'l>, PipelineError> {
        let source = l.source;
        let settings = source_settings(source);
        let previous = if self.full_refresh {
            HashMap::new()
        } else {
            files::read(self.warehouse, &source.name)
                .await
                .map_err(PipelineError::storage(format!(
                    "reading _touchstone/files for source '{}'",
                    source.name
                )))?
        };
        let refresh_all = previous.is_empty() || previous.values().any(|f| f.settings != settings);
        let mut plan = SourcePlan {
            refresh_all,
            settings,
            previous,
            read: Vec::new(),
            unchanged: Vec::new(),
        };
        for file in &l.files {
            let same = !refresh_all
                && plan.previous.get(file.url.as_str()).is_some_and(|f| {
                    f.unchanged(
                        file.meta.size,
                        file.meta.e_tag.as_deref(),
                        file.meta.last_modified,
                    )
                });
            if same {
                plan.unchanged.push(file);
            } else {
                plan.read.push(file);
            }
        }
        Ok(plan)
    }

    /// Records what the source's files were when staged, for the next run to compare with.
    async fn record_files(
        &self,
        source: &Source,
        plan: &SourcePlan<'_>,
        per_file: &HashMap<String, FileStats>,
    ) -> Result<(), PipelineError> {
        let mut states: Vec<FileState> = if plan.refresh_all {
            Vec::new()
        } else {
            // Files not read this run keep their record, listed now or not (their rows stay).
            plan.previous
                .values()
                .filter(|f| !per_file.contains_key(&f.file))
                .cloned()
                .collect()
        };
        for file in &plan.read {
            let url = file.url.to_string();
            let stats = per_file.get(&url).cloned().unwrap_or_default();
            states.push(FileState {
                source: source.name.clone(),
                file: url,
                size: file.meta.size,
                e_tag: file.meta.e_tag.clone(),
                last_modified: file.meta.last_modified,
                settings: plan.settings.clone(),
                run_id: self.run_id.to_string(),
                rows_read: stats.rows_read,
                rows_staged: stats.rows_staged,
                rows_rejected: stats.rows_rejected,
            });
        }
        states.sort_by(|a, b| a.file.cmp(&b.file));
        files::write(self.warehouse, &source.name, &states)
            .await
            .map_err(PipelineError::storage(format!(
                "recording the files of source '{}'",
                source.name
            )))
    }

    fn committed(&self, table: &str, w: Written) {
        self.progress.event(&RunEvent::TableCommitted {
            table: table.to_string(),
            rows: w.rows,
            version: w.version,
        });
    }

    /// Reads `files` of a source into the sink; returns the counts, the first reject and each
    /// file's counts.
    async fn extract_source(
        &self,
        l: &Listed<'_>,
        files: &[&SourceFile],
        mut sink: StreamSink,
        mut state: SourceState,
        seen_tx: BatchSender,
    ) -> Result<ExtractedSource, PipelineError> {
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
        let hubspot_object = source.object.as_deref().and_then(HubspotObject::from_name);
        let options = ReadOptions {
            timezone: source.timezone,
            salesforce_object,
            encoding: source.encoding,
            hubspot_object,
            cdr_columns: source.cdr_columns.clone(),
            survey: source.survey.clone(),
        };
        let extract_error = |error| PipelineError::Extract {
            source_name: source.name.clone(),
            error: Box::new(error),
        };
        let mut totals = FileStats::default();
        let mut per_file = HashMap::new();
        // Small files are fetched a few at a time ahead of the reader (many small CTR files
        // must not wait on one request each); large ones are streamed, so memory is bounded by
        // batches, not by file size.
        // The fetches own what they use: a stream of closures borrowing the listing would not
        // be `Send` for every lifetime the run future needs.
        let fetches: Vec<_> = files
            .iter()
            .map(|file| {
                let store = Arc::clone(&l.store);
                let file = (*file).clone();
                async move {
                    let body = fetch(store.as_ref(), &file).await;
                    (file, body)
                }
            })
            .collect();
        let mut bodies = futures::stream::iter(fetches).buffered(PREFETCH_FILES);
        while let Some((file, body)) = bodies.next().await {
            let file = &file;
            let file_text = file.url.to_string();
            let reader: Box<dyn std::io::Read + Send> = match body {
                Ok(Body::Whole(bytes)) => Box::new(std::io::Cursor::new(bytes)),
                Ok(Body::Stream(result)) => {
                    let stream = result.into_stream().map_err(std::io::Error::other);
                    Box::new(SyncIoBridge::new(StreamReader::new(stream)))
                }
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
            let seen_tx = seen_tx.clone();
            let (stats, outcome, returned, returned_state) =
                tokio::task::spawn_blocking(move || {
                    let lineage = Lineage {
                        source: &source_name,
                        file: &file_text,
                        ingest_date: date,
                    };
                    let (stats, outcome) = match touchstone_extract::decompress(&file_text, reader)
                    {
                        Ok(mut input) => touchstone_extract::read_file_partial(
                            format, &options, &lineage, &mut input, &mut sink, &mut state,
                        ),
                        Err(e) => (FileStats::default(), Err(e)),
                    };
                    // What the file staged goes to _touchstone/seen now, so the log of the
                    // source is never held whole.
                    let logged = state.take_staged().iter().try_for_each(
                        |(file, records)| -> Result<(), ExtractError> {
                            let batches = seen::batches(&source_name, file, records)
                                .map_err(ExtractError::sink)?;
                            for b in batches {
                                seen_tx.send(b).map_err(ExtractError::sink)?;
                            }
                            Ok(())
                        },
                    );
                    let outcome = match (outcome, logged) {
                        (Ok(()), Err(e)) => Err(e),
                        (outcome, _) => outcome,
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
            per_file.insert(file.url.to_string(), stats);
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
        let nulls = std::mem::take(&mut sink.nulls);
        Ok((report, first_reject, per_file, state, nulls))
    }

    /// Builds the models in dependency order (marts are committed and read back from the
    /// warehouse; views marked `-- touchstone: cache` are computed once, to Parquet files in the
    /// run's work directory), then the metrics.
    async fn models_and_metrics(&self, report: &mut RunReport) -> Result<(), PipelineError> {
        let pipeline = &self.prepared.pipeline;
        // Spill files and cached views live in one directory of the run, removed when it ends.
        let work = WorkDir::create(pipeline.spill_dir.as_deref())?;
        let spilled = Arc::new(SpillCounter::default());
        let outcome = self
            .build_models(report, work.path(), Arc::clone(&spilled))
            .await;
        report.spill_files = spilled.files();
        report.spilled_bytes = spilled.bytes();
        if report.spill_files > 0 {
            info!(
                files = report.spill_files,
                bytes = report.spilled_bytes,
                "the engine spilled to disk"
            );
        }
        outcome
    }

    async fn build_models(
        &self,
        report: &mut RunReport,
        work: &Path,
        spilled: Arc<SpillCounter>,
    ) -> Result<(), PipelineError> {
        let pipeline = &self.prepared.pipeline;
        let ctx = session(pipeline, true, Some((work, spilled)))?;
        register_staging(&ctx, self.warehouse).await?;
        touchstone_transform::register_run_context(&ctx, self.run_id, &pipeline.name, self.date)?;
        register_previous(&ctx, self.warehouse).await?;
        let state = Arc::new(ctx.state());
        for model in &self.prepared.models {
            touchstone_transform::plan_model(&ctx, model)
                .await
                .map_err(|d| PipelineError::Invalid(d.into()))?;
            let engine = || PipelineError::engine(model.name.as_str());
            if !model.materialized() {
                // A view that several models read is otherwise recomputed inside each of them.
                // It is written to Parquet (within the memory limit, spilling as it must) and
                // read back from there, not held in memory outside the pool.
                if model.cached() {
                    let started = Instant::now();
                    cache_view(&ctx, &model.name, work)
                        .await
                        .map_err(engine())?;
                    report.steps.push(StepReport {
                        step: format!("cache {}", model.name),
                        secs: started.elapsed().as_secs_f64(),
                    });
                }
                continue;
            }
            self.lease.check()?;
            self.progress.event(&RunEvent::ModelStarted {
                model: model.name.clone(),
            });
            let started = Instant::now();
            let plan = ctx
                .table(model.name.as_str())
                .await
                .map_err(engine())?
                .logical_plan()
                .clone();
            let table = format!("marts/{}", model.name);
            // The model's description and its columns' go into the table's Delta metadata.
            let doc = touchstone_load::TableDoc {
                description: model.description(),
                columns: self.prepared.docs.columns(&model.name),
            };
            let written = self
                .warehouse
                .write_documented_plan(
                    TableKind::Mart,
                    &model.name,
                    Arc::clone(&state) as _,
                    plan,
                    WriteMode::Overwrite,
                    &doc,
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
                let provider = touchstone_transform::with_plain_strings(&ctx, provider)?;
                ctx.deregister_table(model.name.as_str())
                    .map_err(engine())?;
                ctx.register_table(model.name.as_str(), provider)
                    .map_err(engine())?;
            }
            report.steps.push(StepReport {
                step: format!("model {}", model.name),
                secs: started.elapsed().as_secs_f64(),
            });
        }

        self.lease.check()?;
        let started = Instant::now();
        self.progress.event(&RunEvent::MetricsStarted);
        let metrics = self.metric_rows(&ctx).await?;
        if let Some(df) = metrics {
            let written = crate::metrics::write(
                &ctx,
                Arc::clone(&state) as _,
                self.warehouse,
                &self.prepared.metrics,
                df,
            )
            .await?;
            for (table, w) in written {
                self.committed(table, w);
                report.tables.push(TableReport {
                    table: table.into(),
                    rows: w.rows,
                    version: w.version,
                });
            }
        }
        report.steps.push(StepReport {
            step: "metrics".into(),
            secs: started.elapsed().as_secs_f64(),
        });
        Ok(())
    }
}

impl Stages<'_> {
    /// Every metric's rows, computed one metric at a time: as one plan (a union of dozens of
    /// aggregations and windows) its sorts would all run at once and share the memory pool in
    /// slivers too thin to spill. The rows are few (metric × period × dimensions).
    async fn metric_rows(
        &self,
        ctx: &SessionContext,
    ) -> Result<Option<datafusion::prelude::DataFrame>, PipelineError> {
        let frames = touchstone_metrics::compile_each(ctx, &self.prepared.metrics).await?;
        let Some((_, first)) = frames.first() else {
            return Ok(None);
        };
        let schema = Arc::new(arrow::datatypes::Schema::new(
            first
                .schema()
                .as_arrow()
                .fields()
                .iter()
                .map(|f| f.as_ref().clone().with_nullable(true))
                .collect::<Vec<_>>(),
        ));
        let mut batches = Vec::new();
        for (i, df) in frames {
            let name = self.prepared.metrics.metrics[i].name().to_string();
            let engine = || PipelineError::engine(format!("computing metric {name}"));
            for batch in df.collect().await.map_err(engine())? {
                let batch = RecordBatch::try_new(Arc::clone(&schema), batch.columns().to_vec())
                    .map_err(|e| engine()(e.into()))?;
                batches.push(batch);
            }
        }
        let table = MemTable::try_new(schema, vec![batches])
            .map_err(PipelineError::engine("collecting the metrics"))?;
        ctx.read_table(Arc::new(table))
            .map(Some)
            .map_err(PipelineError::engine("collecting the metrics"))
    }
}

/// The error for a source whose bad files or rejected records exceed its configured limits.
fn over_limits(
    source: &Source,
    report: &SourceReport,
    nulls: &[NullCount],
) -> Option<PipelineError> {
    let exceeded = |detail: String| PipelineError::RejectLimit {
        source_name: source.name.clone(),
        detail,
    };
    for n in nulls {
        if n.rows == 0 {
            continue;
        }
        let ratio = n.nulls as f64 / n.rows as f64;
        if ratio > n.check.max {
            return Some(exceeded(format!(
                "{}.{} is null in {} of {} staged rows ({:.1}%, max_null_ratio: {}); a renamed \
                 or missing column in the export? see the run's warnings",
                n.check.table.name(),
                n.check.column,
                n.nulls,
                n.rows,
                ratio * 100.0,
                n.check.max
            )));
        }
    }
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

/// Registers the marts the models read as the previous run committed them
/// (`previous_customer_identity`...), where the warehouse has them: the version registered is
/// the one before this run overwrites it.
async fn register_previous(
    ctx: &SessionContext,
    warehouse: &Warehouse,
) -> Result<(), PipelineError> {
    for mart in touchstone_transform::PREVIOUS_MARTS {
        let provider = warehouse
            .provider(ctx, TableKind::Mart, mart)
            .await
            .map_err(PipelineError::storage(format!("reading marts/{mart}")))?;
        if let Some(provider) = provider {
            let name = touchstone_transform::previous_name(mart);
            ctx.register_table(name.as_str(), provider)
                .map_err(PipelineError::engine(format!("registering {name}")))?;
        }
    }
    Ok(())
}

/// Computes the view `name` once into Parquet files under `work` and replaces the view with
/// a table over them.
async fn cache_view(
    ctx: &SessionContext,
    name: &str,
    work: &Path,
) -> Result<(), datafusion::error::DataFusionError> {
    let dir = work.join("cache").join(name);
    std::fs::create_dir_all(&dir)?;
    let path = format!("{}/", dir.display());
    let df = ctx.table(name).await?;
    // Read back with the view's own schema (types and nullability as planned).
    let schema = df.schema().as_arrow().clone();
    df.write_parquet(&path, DataFrameWriteOptions::new(), None)
        .await?;
    ctx.deregister_table(name)?;
    ctx.register_parquet(name, &path, ParquetReadOptions::default().schema(&schema))
        .await
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
            Some(p) => touchstone_transform::with_plain_strings(ctx, p)?,
            None => Arc::new(MemTable::try_new(table.schema(), vec![vec![]]).map_err(engine())?),
        };
        ctx.register_table(table.name(), provider)
            .map_err(engine())?;
    }
    Ok(())
}

/// Files read ahead of the one being parsed.
const PREFETCH_FILES: usize = 8;

/// Files up to this size are fetched whole (and ahead); larger ones are streamed.
const WHOLE_FILE_BYTES: u64 = 8 << 20;

/// A file's content on its way to a reader.
enum Body {
    /// Fetched whole.
    Whole(bytes::Bytes),
    /// Opened, to be streamed.
    Stream(object_store::GetResult),
}

async fn fetch(
    store: &dyn ObjectStore,
    file: &SourceFile,
) -> Result<Body, touchstone_extract::source::ListError> {
    if file.meta.size <= WHOLE_FILE_BYTES {
        return read_bytes(store, file).await.map(Body::Whole);
    }
    store
        .get(&file.meta.location)
        .await
        .map(Body::Stream)
        .map_err(|source| touchstone_extract::source::ListError::List {
            location: file.url.to_string(),
            source,
        })
}

/// What staging one source produced: its report, each staging table's commit, the rejects
/// commit (none when nothing was read).
type Staged = (SourceReport, Vec<(StagingTable, Written)>, Option<Written>);

/// What reading a source's files produced: its report, the first reject, each file's counts
/// and the duplicate check as the last file left it.
type ExtractedSource = (
    SourceReport,
    Option<String>,
    HashMap<String, FileStats>,
    SourceState,
    Vec<NullCount>,
);

/// The files of a source this run reads, and what is known of them.
struct SourcePlan<'l> {
    /// Every file is read and the source's rows replaced (full refresh, first run, changed
    /// settings).
    refresh_all: bool,
    /// The source's settings, as recorded with each file.
    settings: String,
    /// The files as last staged.
    previous: HashMap<String, FileState>,
    /// Files to read.
    read: Vec<&'l SourceFile>,
    /// Files unchanged since they were staged.
    unchanged: Vec<&'l SourceFile>,
}

/// The settings of a source that decide how its files are read (format, time zone, object,
/// layout options...): the source as configured, without where it is written in the pipeline
/// file. When they change, every file of the source is restaged.
pub(crate) fn source_settings(source: &Source) -> String {
    let mut settings = source.clone();
    settings.path_span = Span::new("", 0, 0);
    settings.location_text.clear();
    format!("{settings:?}")
}

/// Sends a file's batches to the staging writers and its rejects to the rejects writer.
struct StreamSink {
    file: String,
    senders: BTreeMap<StagingTable, BatchSender>,
    rejects: RejectBuffer,
    /// Null counts of the columns a `max_null_ratio:` watches.
    nulls: Vec<NullCount>,
}

/// How many staged rows of a source have a watched column null.
struct NullCount {
    check: NullRatioCheck,
    nulls: u64,
    rows: u64,
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
        for n in self.nulls.iter_mut().filter(|n| n.check.table == table) {
            if let Some(column) = batch.column_by_name(&n.check.column) {
                n.nulls += column.null_count() as u64;
                n.rows += batch.num_rows() as u64;
            }
        }
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
