//! `touchstone validate` and `touchstone run`: load and check everything, then extract, stage,
//! model, measure and commit.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use arrow::array::{ArrayRef, Date32Array, Int64Array, StringArray};
use arrow::record_batch::RecordBatch;
use chrono::NaiveDate;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use serde::Serialize;
use touchstone_core::clock::Clock;
use touchstone_core::config::{self, Metric, Pipeline};
use touchstone_core::diagnostic::{Diagnostic, Diagnostics, ErrorCode};
use touchstone_core::schema::{StagingTable, rejects_schema};
use touchstone_extract::source::{SourceFile, list_files, read_bytes};
use touchstone_extract::{
    ExtractError, FileStats, Lineage, ReadOptions, Reject, SalesforceObject, Sink,
};
use touchstone_load::{BatchSender, TableKind, Warehouse, WriteMode, ledger};
use touchstone_transform::{Model, SessionOptions};
use tracing::{info, warn};

use crate::progress::Progress;

/// Everything a run needs, checked without reading data.
pub struct Prepared {
    /// The pipeline.
    pub pipeline: Pipeline,
    /// Metric definitions.
    pub metrics: Vec<Metric>,
    /// SQL models in dependency order.
    pub models: Vec<Model>,
}

/// Loads and checks the pipeline, its metrics and its models: YAML shape and values, SQL
/// syntax, references and plans, metric columns. Every problem is reported together.
pub async fn prepare(pipeline_file: &Path, base_dir: &Path) -> Result<Prepared, Diagnostics> {
    let pipeline = config::load_pipeline(pipeline_file, base_dir)?;
    let mut problems = Vec::new();
    let metrics = match config::load_metrics(&pipeline.metrics_dir) {
        Ok(m) => m,
        Err(d) => {
            problems.extend(d.0);
            Vec::new()
        }
    };
    let ctx = session(&pipeline, None)?;
    touchstone_transform::register_empty_staging(&ctx).map_err(engine_diagnostic)?;
    touchstone_transform::register_run_context(
        &ctx,
        "validate",
        &pipeline.name,
        NaiveDate::default(),
    )
    .map_err(engine_diagnostic)?;
    let models = touchstone_transform::load_models(&pipeline.models_dir, base_dir, &ctx.state())
        .and_then(|m| touchstone_transform::order_models(m, &touchstone_transform::input_tables()));
    let models = match models {
        Ok(models) => {
            if let Err(d) = touchstone_transform::plan_models(&ctx, &models).await {
                problems.extend(d.0);
            } else if let Err(d) = touchstone_metrics::compile_all(&ctx, &metrics).await {
                problems.extend(d.0);
            }
            models
        }
        Err(d) => {
            problems.extend(d.0);
            Vec::new()
        }
    };
    Diagnostics::check(problems)?;
    Ok(Prepared {
        pipeline,
        metrics,
        models,
    })
}

fn session(pipeline: &Pipeline, planner: Option<bool>) -> Result<SessionContext, Diagnostics> {
    let options = SessionOptions {
        memory_limit_bytes: Some(pipeline.memory_limit_bytes),
        query_planner: planner.map(|_| touchstone_load::delta_query_planner()),
        value: pipeline.value,
        ..SessionOptions::default()
    };
    touchstone_transform::new_session(&options).map_err(engine_diagnostic)
}

fn engine_diagnostic(e: impl std::fmt::Display) -> Diagnostics {
    Diagnostic::new(ErrorCode::InvalidValue, e.to_string()).into()
}

/// What a run did, printed at the end and recorded in the ledger.
#[derive(Debug, Default, Serialize)]
pub struct RunSummary {
    /// Run id.
    pub run_id: String,
    /// Pipeline name.
    pub pipeline: String,
    /// Logical date.
    pub date: String,
    /// Warehouse URL.
    pub warehouse: String,
    /// Per source.
    pub sources: Vec<SourceSummary>,
    /// Per written table: (`staging/stg_calls`, rows).
    pub tables: Vec<TableSummary>,
    /// Wall time in seconds.
    pub elapsed_secs: f64,
}

/// One source's counts.
#[derive(Debug, Default, Serialize)]
pub struct SourceSummary {
    /// Source name.
    pub name: String,
    /// Its format.
    pub format: String,
    /// Files read.
    pub files: u64,
    /// Records read.
    pub rows_read: u64,
    /// Records staged.
    pub rows_staged: u64,
    /// Records rejected.
    pub rows_rejected: u64,
}

/// One written table.
#[derive(Debug, Serialize)]
pub struct TableSummary {
    /// `staging/<name>`, `marts/<name>`, `rejects/<source>`.
    pub table: String,
    /// Rows in the table after the run (for staging: rows this run's sources wrote).
    pub rows: u64,
}

impl RunSummary {
    fn totals(&self) -> (u64, u64, u64) {
        self.sources.iter().fold((0, 0, 0), |(r, s, j), x| {
            (r + x.rows_read, s + x.rows_staged, j + x.rows_rejected)
        })
    }
}

/// Runs the pipeline for `date`.
pub async fn run(
    prepared: Prepared,
    date: NaiveDate,
    clock: Arc<dyn Clock>,
    progress: &Progress,
) -> anyhow::Result<RunSummary> {
    let started = Instant::now();
    let started_at = clock.now();
    let Prepared {
        pipeline,
        metrics,
        models,
    } = prepared;
    let run_id = format!(
        "{}-{}-{}",
        pipeline.name,
        date,
        started_at.format("%Y%m%dT%H%M%S%.3fZ")
    );
    let mut summary = RunSummary {
        run_id: run_id.clone(),
        pipeline: pipeline.name.clone(),
        date: date.to_string(),
        warehouse: pipeline.warehouse.to_string(),
        ..RunSummary::default()
    };
    info!(pipeline = %pipeline.name, %date, warehouse = %pipeline.warehouse, run_id = %run_id, "run started");

    // 1. Find every source's files before writing anything.
    let mut listed = Vec::new();
    let mut missing = Vec::new();
    for source in &pipeline.sources {
        let (store, files) = list_files(&source.location)
            .await
            .with_context(|| format!("listing source '{}' ({})", source.name, source.location))?;
        if files.is_empty() {
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
        listed.push((source, store, files));
    }
    Diagnostics::check(missing)?;

    let warehouse = Warehouse::open(&pipeline.warehouse)?;
    let total_files: u64 = listed.iter().map(|(_, _, f)| f.len() as u64).sum();
    let materialized = models.iter().filter(|m| m.materialized()).count() as u64;
    progress.start(total_files + materialized + 1);

    let outcome = execute(
        &pipeline,
        &models,
        &metrics,
        &listed,
        &warehouse,
        date,
        &run_id,
        progress,
        &mut summary,
    )
    .await;
    progress.finish();

    summary.elapsed_secs = started.elapsed().as_secs_f64();
    let (read, staged, rejected) = summary.totals();
    let (status, detail) = match &outcome {
        Ok(()) => (
            "succeeded",
            serde_json::to_string(&summary).unwrap_or_default(),
        ),
        Err(e) => (
            "failed",
            serde_json::json!({ "error": format!("{e:#}"), "summary": &summary }).to_string(),
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
    recorded?;
    info!(
        elapsed_secs = summary.elapsed_secs,
        rows_read = read,
        rows_staged = staged,
        rows_rejected = rejected,
        "run finished"
    );
    Ok(summary)
}

/// Steps 2-4 of a run: stage every source, build the models, compute the metrics.
#[allow(clippy::too_many_arguments)]
async fn execute(
    pipeline: &Pipeline,
    models: &[Model],
    metrics: &[Metric],
    listed: &[(
        &config::Source,
        Arc<dyn object_store::ObjectStore>,
        Vec<SourceFile>,
    )],
    warehouse: &Warehouse,
    date: NaiveDate,
    run_id: &str,
    progress: &Progress,
    summary: &mut RunSummary,
) -> anyhow::Result<()> {
    // 2. Extract and stage, one source at a time; each staging table is one commit.
    let mut staged_rows: BTreeMap<StagingTable, u64> = BTreeMap::new();
    for (source, store, files) in listed {
        // Every table the format writes gets one streaming commit that replaces this
        // source's rows; batches flow from the extractor to Parquet as they are parsed.
        let mut writers = BTreeMap::new();
        for table in source.format.tables() {
            let writer = warehouse.stream_writer(
                TableKind::Staging,
                table.name(),
                table.schema(),
                WriteMode::ReplacePartition {
                    column: touchstone_core::schema::SOURCE_COLUMN.into(),
                    value: source.name.clone(),
                },
            )?;
            writers.insert(*table, writer);
        }
        let senders = writers.iter().map(|(t, w)| (*t, w.sender())).collect();
        let (source_summary, rejects) =
            extract_source(source, store.as_ref(), files, date, progress, senders).await?;
        for (table, writer) in writers {
            let written = writer.finish().await.with_context(|| {
                format!(
                    "writing staging/{} for source '{}'",
                    table.name(),
                    source.name
                )
            })?;
            *staged_rows.entry(table).or_default() += written.rows;
        }
        let reject_batch = rejects_batch(&source.name, &rejects, date)?;
        warehouse
            .write_batches(
                TableKind::Rejects,
                &source.name,
                rejects_schema(),
                vec![reject_batch],
                WriteMode::Overwrite,
            )
            .await
            .with_context(|| format!("writing rejects/{}", source.name))?;
        if source_summary.rows_rejected > 0 {
            warn!(
                source = %source.name,
                rejected = source_summary.rows_rejected,
                first = %rejects.first().map(|(file, r)| format!("{file}:{}: {}", r.line, r.reason)).unwrap_or_default(),
                "rows rejected; see rejects/{}", source.name
            );
        }
        summary.tables.push(TableSummary {
            table: format!("rejects/{}", source.name),
            rows: source_summary.rows_rejected,
        });
        summary.sources.push(source_summary);
    }
    for (table, rows) in &staged_rows {
        summary.tables.push(TableSummary {
            table: format!("staging/{}", table.name()),
            rows: *rows,
        });
    }

    // 3. Models, in dependency order; marts are committed and then read back from the warehouse,
    //    and views marked `-- touchstone: cache` are computed once.
    let ctx = session(pipeline, Some(true))?;
    register_staging(&ctx, warehouse).await?;
    touchstone_transform::register_run_context(&ctx, run_id, &pipeline.name, date)?;
    let state = Arc::new(ctx.state());
    for model in models {
        touchstone_transform::plan_model(&ctx, model)
            .await
            .map_err(Diagnostics::from)?;
        if !model.materialized() {
            // A view that several models read is otherwise recomputed inside each of them.
            if model.cached() {
                let df = ctx
                    .table(model.name.as_str())
                    .await?
                    .cache()
                    .await
                    .with_context(|| format!("computing {}", model.name))?;
                ctx.deregister_table(model.name.as_str())?;
                ctx.register_table(model.name.as_str(), df.into_view())?;
            }
            continue;
        }
        progress.step(&format!("model {}", model.name));
        let plan = ctx.table(model.name.as_str()).await?.logical_plan().clone();
        let written = warehouse
            .write_plan(
                TableKind::Mart,
                &model.name,
                Arc::clone(&state) as _,
                plan,
                WriteMode::Overwrite,
            )
            .await
            .with_context(|| format!("writing marts/{}", model.name))?;
        info!(table = %model.name, rows = written.rows, version = written.version, "mart committed");
        summary.tables.push(TableSummary {
            table: format!("marts/{}", model.name),
            rows: written.rows,
        });
        if let Some(provider) = warehouse
            .provider(&ctx, TableKind::Mart, &model.name)
            .await?
        {
            ctx.deregister_table(model.name.as_str())?;
            ctx.register_table(model.name.as_str(), provider)?;
        }
    }

    // 4. Metrics.
    progress.step("metrics");
    if let Some(df) = touchstone_metrics::compile_all(&ctx, metrics).await? {
        let plan = df.logical_plan().clone();
        let written = warehouse
            .write_plan(
                TableKind::Mart,
                "metric_values",
                Arc::clone(&state) as _,
                plan,
                WriteMode::Overwrite,
            )
            .await
            .context("writing marts/metric_values")?;
        summary.tables.push(TableSummary {
            table: "marts/metric_values".into(),
            rows: written.rows,
        });
    }
    Ok(())
}

type Extracted = (SourceSummary, Vec<(String, Reject)>);

async fn extract_source(
    source: &config::Source,
    store: &dyn object_store::ObjectStore,
    files: &[SourceFile],
    date: NaiveDate,
    progress: &Progress,
    senders: BTreeMap<StagingTable, BatchSender>,
) -> anyhow::Result<Extracted> {
    let mut summary = SourceSummary {
        name: source.name.clone(),
        format: source.format.to_string(),
        ..SourceSummary::default()
    };
    let mut collected = Collect {
        senders,
        ..Collect::default()
    };
    let salesforce_object = match &source.object {
        Some(name) => SalesforceObject::ALL.into_iter().find(|o| o.name() == name),
        None => None,
    };
    for file in files {
        progress.step(&format!(
            "{} {}",
            source.name,
            file.meta.location.filename().unwrap_or_default()
        ));
        let bytes = read_bytes(store, file).await?;
        let file_text = file.url.to_string();
        let format = source.format;
        let options = ReadOptions {
            timezone: source.timezone,
            salesforce_object,
        };
        let source_name = source.name.clone();
        let mut sink = std::mem::take(&mut collected);
        let (stats, sink) =
            tokio::task::spawn_blocking(move || -> Result<(FileStats, Collect), ExtractError> {
                let lineage = Lineage {
                    source: &source_name,
                    file: &file_text,
                    ingest_date: date,
                };
                sink.file = file_text.clone();
                let reader: Box<dyn std::io::Read + Send> = Box::new(std::io::Cursor::new(bytes));
                let mut input = touchstone_extract::decompress(&file_text, reader)?;
                let stats = touchstone_extract::read_file(
                    format, &options, &lineage, &mut input, &mut sink,
                )?;
                Ok((stats, sink))
            })
            .await??;
        collected = sink;
        info!(
            source = %source.name,
            file = %file.url,
            rows_read = stats.rows_read,
            rows_staged = stats.rows_staged,
            rows_rejected = stats.rows_rejected,
            "file read"
        );
        summary.files += 1;
        summary.rows_read += stats.rows_read;
        summary.rows_staged += stats.rows_staged;
        summary.rows_rejected += stats.rows_rejected;
    }
    anyhow::ensure!(
        summary.rows_read == summary.rows_staged + summary.rows_rejected,
        "source '{}': {} rows read but {} staged and {} rejected",
        source.name,
        summary.rows_read,
        summary.rows_staged,
        summary.rows_rejected
    );
    Ok((summary, collected.rejects))
}

/// Sends a file's batches to the staging writers and keeps its rejects.
#[derive(Default)]
struct Collect {
    file: String,
    senders: BTreeMap<StagingTable, BatchSender>,
    rejects: Vec<(String, Reject)>,
}

impl Sink for Collect {
    fn batch(&mut self, table: StagingTable, batch: RecordBatch) -> Result<(), ExtractError> {
        match self.senders.get(&table) {
            Some(sender) => sender.send(batch).map_err(ExtractError::sink),
            None => Err(ExtractError::sink(format!("no staging writer for {table}"))),
        }
    }
    fn reject(&mut self, reject: Reject) -> Result<(), ExtractError> {
        self.rejects.push((self.file.clone(), reject));
        Ok(())
    }
}

fn rejects_batch(
    source: &str,
    rejects: &[(String, Reject)],
    date: NaiveDate,
) -> anyhow::Result<RecordBatch> {
    let days = (date - NaiveDate::default()).num_days() as i32;
    let n = rejects.len();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec![source; n])),
        Arc::new(StringArray::from_iter_values(
            rejects.iter().map(|(f, _)| f.as_str()),
        )),
        Arc::new(Int64Array::from_iter_values(
            rejects
                .iter()
                .map(|(_, r)| i64::try_from(r.line).unwrap_or(i64::MAX)),
        )),
        Arc::new(StringArray::from_iter_values(
            rejects.iter().map(|(_, r)| r.reason.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            rejects.iter().map(|(_, r)| r.raw.as_str()),
        )),
        Arc::new(Date32Array::from(vec![days; n])),
    ];
    Ok(RecordBatch::try_new(rejects_schema(), columns)?)
}

/// Registers every staging table: the committed Delta table where one exists, an empty table
/// of the canonical schema where no source has written it yet.
async fn register_staging(ctx: &SessionContext, warehouse: &Warehouse) -> anyhow::Result<()> {
    for table in StagingTable::ALL {
        match warehouse
            .provider(ctx, TableKind::Staging, table.name())
            .await?
        {
            Some(provider) => ctx.register_table(table.name(), provider)?,
            None => ctx.register_table(
                table.name(),
                Arc::new(MemTable::try_new(table.schema(), vec![vec![]])?),
            )?,
        };
    }
    Ok(())
}

/// Prints the end-of-run summary.
pub fn print_summary(summary: &RunSummary, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let (read, staged, rejected) = summary.totals();
    writeln!(
        out,
        "Run of '{}' for {} finished in {:.1} s (run id {})",
        summary.pipeline, summary.date, summary.elapsed_secs, summary.run_id
    )?;
    writeln!(out, "Warehouse: {}", summary.warehouse)?;
    writeln!(out)?;
    let width = summary
        .sources
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(6)
        .max(6);
    writeln!(
        out,
        "  {:width$}  {:>6}  {:>12}  {:>12}  {:>9}",
        "source", "files", "read", "staged", "rejected"
    )?;
    for s in &summary.sources {
        writeln!(
            out,
            "  {:width$}  {:>6}  {:>12}  {:>12}  {:>9}",
            s.name,
            s.files,
            thousands(s.rows_read),
            thousands(s.rows_staged),
            thousands(s.rows_rejected)
        )?;
    }
    writeln!(
        out,
        "  {:width$}  {:>6}  {:>12}  {:>12}  {:>9}",
        "total",
        "",
        thousands(read),
        thousands(staged),
        thousands(rejected)
    )?;
    writeln!(out)?;
    let width = summary
        .tables
        .iter()
        .map(|t| t.table.len())
        .max()
        .unwrap_or(5)
        .max(5);
    writeln!(out, "  {:width$}  {:>12}", "table", "rows")?;
    let mut tables: Vec<&TableSummary> = summary.tables.iter().collect();
    tables.sort_by_key(|t| order_key(&t.table));
    for t in tables {
        writeln!(out, "  {:width$}  {:>12}", t.table, thousands(t.rows))?;
    }
    if rejected > 0 {
        writeln!(out)?;
        writeln!(
            out,
            "{rejected} rows were rejected; each is in rejects/<source> with file, line and reason, e.g.\n  touchstone query \"select _source_file, _source_line, reason from rejects_{} limit 10\"",
            summary
                .sources
                .iter()
                .find(|s| s.rows_rejected > 0)
                .map_or("SOURCE", |s| s.name.as_str())
        )?;
    }
    Ok(())
}

fn order_key(table: &str) -> (u8, String) {
    let rank = match table.split('/').next() {
        Some("staging") => 0,
        Some("marts") => 1,
        _ => 2,
    };
    (rank, table.to_string())
}

/// `1234567` → `1,234,567` (for non-negative integers of any type).
pub fn thousands(n: impl std::fmt::Display) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The default pipeline file, when one exists in `dir`.
pub fn default_pipeline(dir: &Path) -> Option<PathBuf> {
    let p = dir.join("pipelines/customer_success.yaml");
    p.exists().then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
