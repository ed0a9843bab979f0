//! The DataFusion session Touchstone runs SQL in: staging tables registered, `sql/` models
//! loaded and ordered by their table references, native functions (see [`udf`]) installed.
//!
//! Planning is separate from execution: [`plan_models`] registers every model as a view and
//! reports every model that does not plan (unknown column, type error) with its file, line and
//! column, without reading any data. `touchstone validate` does exactly that against empty
//! staging tables of the canonical schemas.

use std::collections::BTreeSet;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{ArrayRef, Date32Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use chrono::NaiveDate;
use datafusion::datasource::MemTable;
use datafusion::error::DataFusionError;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::context::QueryPlanner;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::logical_expr::ScalarUDF;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::scalar::ScalarValue;
use touchstone_core::config::{JourneySettings, SessionSettings, ValueSettings};
use touchstone_core::diagnostic::{Diagnostic, Diagnostics, ErrorCode, Span, first_line};
use touchstone_core::schema::StagingTable;

pub mod docs;
pub mod engine_error;
pub mod models;
pub mod native;
pub mod setting;
pub mod spill;
pub mod string_agg_by;
pub mod udf;

pub use docs::{ModelDocs, Undocumented, check_docs, load_docs};
pub use models::{Model, load_models, order_models};
pub use spill::SpillCounter;
use spill::SpillFactory;

/// Name of the one-row table describing the current run, readable from every model.
pub const RUN_CONTEXT: &str = "run_context";

/// Session failures that are not about a user's SQL.
#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    /// The engine could not be set up or failed while running.
    #[error("{context}: {source}")]
    Engine {
        /// What was being done.
        context: String,
        /// The engine's error.
        #[source]
        source: Box<DataFusionError>,
    },
}

fn engine(context: impl Into<String>) -> impl FnOnce(DataFusionError) -> TransformError {
    let context = context.into();
    move |source| TransformError::Engine {
        context,
        source: Box::new(source),
    }
}

/// How to build the session.
#[derive(Default, Clone)]
pub struct SessionOptions {
    /// Memory the run may use (bytes); unbounded when `None`.
    ///
    /// [`POOL_PERCENT`] of it is the engine's spill pool, shared fairly ([`FairSpillPool`]):
    /// operators that can spill (sorts, aggregations) each get an equal share of what the
    /// operators that cannot spill leave, so one large consumer cannot starve the others the way
    /// a first-come greedy pool lets it. The rest is for what the pool does not see.
    pub memory_limit_bytes: Option<u64>,
    /// Where to spill; the system temp directory when `None`. Created at the first spill.
    pub spill_dir: Option<PathBuf>,
    /// Counts what the session spills; a fresh counter when `None`.
    pub spill_counter: Option<Arc<SpillCounter>>,
    /// A query planner with extensions (the Delta writer needs its own).
    pub query_planner: Option<Arc<dyn QueryPlanner + Send + Sync>>,
    /// Parallelism; the number of cores when `None`.
    pub target_partitions: Option<usize>,
    /// Settings of the value-model table functions (see [`native`]).
    pub value: ValueSettings,
    /// Settings of the identity graph, journeys and effort index (see [`native`]).
    pub journeys: JourneySettings,
}

impl std::fmt::Debug for SessionOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionOptions")
            .field("memory_limit_bytes", &self.memory_limit_bytes)
            .field("spill_dir", &self.spill_dir)
            .field("spill_counter", &self.spill_counter)
            .field("query_planner", &self.query_planner.is_some())
            .field("target_partitions", &self.target_partitions)
            .field("value", &self.value)
            .field("journeys", &self.journeys)
            .finish()
    }
}

/// Rows per Parquet row group in the files the engine writes: small enough that a reader
/// scans a file in parallel and a writer buffers little, large enough to compress well.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;

/// The share of [`SessionOptions::memory_limit_bytes`] given to the engine's spill pool, in
/// percent. The rest is for what the pool does not count: Parquet and Delta writers' buffers,
/// batches between operators and readers, the allocator's own overhead. At 1M customers, peak
/// RSS was 3.25 GiB with all of a 2 GiB limit as the pool and 3.01-3.14 GiB with three
/// quarters; at 60% the cache of the web events failed (its Parquet writer, which cannot
/// spill, found no room beside the sort).
pub const POOL_PERCENT: u64 = 75;

/// A session with Touchstone's functions and configuration.
pub fn new_session(options: &SessionOptions) -> Result<SessionContext, TransformError> {
    let mut config = SessionConfig::new()
        .with_information_schema(true)
        .set_bool("datafusion.sql_parser.collect_spans", true);
    if let Some(n) = options.target_partitions {
        config = config.with_target_partitions(n.max(1));
    }
    {
        let parquet = &mut config.options_mut().execution.parquet;
        parquet.max_row_group_size = ROW_GROUP_ROWS;
        parquet.compression = Some("zstd(1)".into());
    }
    if options.memory_limit_bytes.is_some() {
        // Strings read from Parquet as plain UTF-8, not as views: a view shares its row
        // group's buffers, so every batch of it counts against a sort's or a join's share of
        // the pool as the whole row group (16 MB for a batch of 8,192 web events), and under a
        // small limit a sort cannot take in a single batch.
        config
            .options_mut()
            .execution
            .parquet
            .schema_force_view_types = false;
    }
    if let Some(limit) = options.memory_limit_bytes {
        // Smaller batches under a small limit: a sort that spilled merges its runs holding a
        // batch of each (memory it cannot spill), and wide rows (web events with their
        // properties) at 8,192 a batch would fill a 64 MiB pool with one merge. One row of
        // batch per 64 KiB of limit: 1,024 at 64 MiB, the default 8,192 from 512 MiB.
        let rows = usize::try_from(limit / (64 * 1024)).unwrap_or(usize::MAX);
        let execution = &mut config.options_mut().execution;
        let default = execution.batch_size.get().max(1024);
        if let Ok(size) =
            datafusion::common::config::ConfigNonZeroUsize::try_new(rows.clamp(1024, default))
        {
            execution.batch_size = size;
        }
    }
    if let Some(limit) = options.memory_limit_bytes {
        // Each sort keeps this much back for merging what it spilled; with many sorts under a
        // small limit, DataFusion's fixed 10 MiB each would leave nothing to sort with.
        let execution = &mut config.options_mut().execution;
        execution.sort_spill_reservation_bytes = usize::try_from(limit / 64)
            .unwrap_or(usize::MAX)
            .min(execution.sort_spill_reservation_bytes);
    }
    let mut runtime = RuntimeEnvBuilder::new();
    if let Some(limit) = options.memory_limit_bytes {
        let pool_bytes = limit.saturating_mul(POOL_PERCENT) / 100;
        let pool = FairSpillPool::new(usize::try_from(pool_bytes).unwrap_or(usize::MAX));
        // Tracked, so an error that memory ran out names the largest consumers.
        let top = NonZeroUsize::new(5).unwrap_or(NonZeroUsize::MIN);
        runtime = runtime.with_memory_pool(Arc::new(TrackConsumersPool::new(pool, top)));
    }
    let dir = options.spill_dir.clone().unwrap_or_else(std::env::temp_dir);
    let counter = options.spill_counter.clone().unwrap_or_default();
    let factory = SpillFactory::new(dir, counter);
    runtime = runtime.with_disk_manager_builder(
        DiskManagerBuilder::default().with_mode(DiskManagerMode::Custom(Arc::new(factory))),
    );
    let runtime = runtime
        .build_arc()
        .map_err(engine("building the engine runtime"))?;
    let mut state = SessionStateBuilder::new()
        .with_default_features()
        .with_config(config)
        .with_runtime_env(runtime);
    if let Some(planner) = &options.query_planner {
        state = state.with_query_planner(Arc::clone(planner));
    }
    let ctx = SessionContext::new_with_state(state.build());
    udf::register(&ctx, &options.journeys);
    native::register(&ctx, options.value);
    native::identity::register(&ctx, &options.journeys.identity);
    native::sessions::register(&ctx, &options.journeys.sessions);
    register_settings(&ctx, &options.value, &options.journeys.sessions)?;
    register_reasons(&ctx, &options.journeys.reasons)?;
    Ok(ctx)
}

/// `provider` with its string columns read as plain UTF-8 (a view over it), or `provider`
/// itself when it has none of another string type.
///
/// A string view read from Parquet shares its row group's buffers, so every batch of it
/// counts against a sort's share of the memory pool as the whole row group (16 MB for a batch
/// of 8,192 web events): under a small `memory_limit_mb` a sort cannot take in even one batch
/// and fails with "Not enough memory to continue external sort". Plain strings are counted as
/// what they hold.
pub fn with_plain_strings(
    ctx: &SessionContext,
    provider: Arc<dyn datafusion::catalog::TableProvider>,
) -> Result<Arc<dyn datafusion::catalog::TableProvider>, TransformError> {
    use datafusion::logical_expr::{LogicalPlanBuilder, cast, col};
    let schema = provider.schema();
    let compact = |t: &DataType| matches!(t, DataType::Utf8View | DataType::LargeUtf8);
    if !schema.fields().iter().any(|f| compact(f.data_type())) {
        return Ok(provider);
    }
    let source = datafusion::datasource::provider_as_source(Arc::clone(&provider));
    let columns: Vec<datafusion::logical_expr::Expr> = schema
        .fields()
        .iter()
        .map(|f| {
            let c = col(datafusion::common::Column::from_name(f.name()));
            if compact(f.data_type()) {
                cast(c, DataType::Utf8).alias(f.name())
            } else {
                c
            }
        })
        .collect();
    let plan = LogicalPlanBuilder::scan("t", source, None)
        .and_then(|b| b.project(columns))
        .and_then(LogicalPlanBuilder::build)
        .map_err(engine("reading strings as UTF-8"))?;
    let df = datafusion::dataframe::DataFrame::new(ctx.state(), plan);
    Ok(df.into_view())
}

/// Registers an empty table of every staging schema (for planning without data).
pub fn register_empty_staging(ctx: &SessionContext) -> Result<(), TransformError> {
    for table in StagingTable::ALL {
        let empty = MemTable::try_new(table.schema(), vec![vec![]])
            .map_err(engine("creating empty staging tables"))?;
        ctx.register_table(table.name(), Arc::new(empty))
            .map_err(engine(format!("registering {table}")))?;
    }
    Ok(())
}

/// Registers `run_context(run_id, pipeline, run_date)`.
pub fn register_run_context(
    ctx: &SessionContext,
    run_id: &str,
    pipeline: &str,
    run_date: NaiveDate,
) -> Result<(), TransformError> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("run_id", DataType::Utf8, false),
        Field::new("pipeline", DataType::Utf8, false),
        Field::new("run_date", DataType::Date32, false),
    ]));
    let days = (run_date - NaiveDate::default()).num_days() as i32;
    register_row(
        ctx,
        RUN_CONTEXT,
        schema,
        vec![
            Arc::new(StringArray::from(vec![run_id])),
            Arc::new(StringArray::from(vec![pipeline])),
            Arc::new(Date32Array::from(vec![days])),
        ],
    )
}

/// Registers (or replaces) the table `name` of `columns` (one row in most cases).
fn register_row(
    ctx: &SessionContext,
    name: &str,
    schema: SchemaRef,
    columns: Vec<ArrayRef>,
) -> Result<(), TransformError> {
    let batch =
        RecordBatch::try_new(Arc::clone(&schema), columns).map_err(|e| TransformError::Engine {
            context: format!("building {name}"),
            source: Box::new(e.into()),
        })?;
    let table =
        MemTable::try_new(schema, vec![vec![batch]]).map_err(engine(format!("creating {name}")))?;
    ctx.deregister_table(name)
        .map_err(engine(format!("replacing {name}")))?;
    ctx.register_table(name, Arc::new(table))
        .map_err(engine(format!("registering {name}")))?;
    Ok(())
}

/// Name of the one-row table of the pipeline's value settings, readable from every model.
pub const PIPELINE_SETTINGS: &str = "pipeline_settings";

/// Registers `pipeline_settings`: the pipeline's `value:` settings, `journeys.abandon`
/// thresholds (`abandon_*`) and journey settings (`simultaneous_tolerance_secs`,
/// `purchase_within_days`, `repeat_within_days`, `split_on_reason`) as one row, so SQL models
/// use the same margin, horizon and costs as the model table functions; and the same values
/// as constants, `setting('margin')` (see [`setting`], what the shipped models use).
fn register_settings(
    ctx: &SessionContext,
    value: &ValueSettings,
    journeys: &SessionSettings,
) -> Result<(), TransformError> {
    let abandon = &journeys.abandon;
    use arrow::array::{Float64Array, Int64Array};
    let schema = Arc::new(Schema::new(vec![
        Field::new("value_model", DataType::Utf8, false),
        Field::new("horizon_days", DataType::Int64, false),
        Field::new("clv_months", DataType::Int64, false),
        Field::new("monthly_discount", DataType::Float64, false),
        Field::new("margin", DataType::Float64, false),
        Field::new("support_cost_per_minute", DataType::Float64, false),
        Field::new("inactive_after_days", DataType::Int64, false),
        Field::new("projection_periods", DataType::Int64, false),
        Field::new("abandon_short_secs", DataType::Int64, false),
        Field::new("abandon_short_ivr_secs", DataType::Int64, false),
        Field::new("abandon_short_chat_secs", DataType::Int64, false),
        Field::new("abandon_long_wait_secs", DataType::Int64, false),
        Field::new("abandon_callback_hours", DataType::Int64, false),
        Field::new("simultaneous_tolerance_secs", DataType::Int64, false),
        Field::new("purchase_within_days", DataType::Int64, false),
        Field::new("repeat_within_days", DataType::Int64, false),
        Field::new("split_on_reason", DataType::Boolean, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec![value.model.name()])),
        Arc::new(Int64Array::from(vec![i64::from(value.horizon_days)])),
        Arc::new(Int64Array::from(vec![i64::from(value.clv_months)])),
        Arc::new(Float64Array::from(vec![value.monthly_discount])),
        Arc::new(Float64Array::from(vec![value.margin])),
        Arc::new(Float64Array::from(vec![value.support_cost_per_minute])),
        Arc::new(Int64Array::from(vec![i64::from(value.inactive_after_days)])),
        Arc::new(Int64Array::from(vec![i64::from(value.projection_periods)])),
        Arc::new(Int64Array::from(vec![i64::from(abandon.short_secs)])),
        Arc::new(Int64Array::from(vec![i64::from(abandon.short_ivr_secs)])),
        Arc::new(Int64Array::from(vec![i64::from(abandon.short_chat_secs)])),
        Arc::new(Int64Array::from(vec![i64::from(abandon.long_wait_secs)])),
        Arc::new(Int64Array::from(vec![i64::from(abandon.callback_hours)])),
        Arc::new(Int64Array::from(vec![i64::from(
            journeys.simultaneous_tolerance_secs,
        )])),
        Arc::new(Int64Array::from(vec![i64::from(
            journeys.purchase_within_days,
        )])),
        Arc::new(Int64Array::from(vec![i64::from(
            journeys.repeat_within_days,
        )])),
        Arc::new(arrow::array::BooleanArray::from(vec![
            journeys.split_on_reason,
        ])),
    ];
    // The same values as constants: setting('margin').
    let mut values = Vec::with_capacity(columns.len());
    for (field, column) in schema.fields().iter().zip(&columns) {
        let value = ScalarValue::try_from_array(column, 0)
            .map_err(engine(format!("reading setting {}", field.name())))?;
        values.push((field.name().clone(), value));
    }
    ctx.register_udf(ScalarUDF::new_from_impl(setting::Setting::new(values)));
    register_row(ctx, PIPELINE_SETTINGS, schema, columns)
}

/// Name of the table of `journeys.reasons`: `name` (as a system writes it, lowercased) and
/// the `reason` it means.
pub const CONTACT_REASONS: &str = "contact_reasons";

/// Registers [`CONTACT_REASONS`] (empty when the pipeline lists no reasons).
fn register_reasons(
    ctx: &SessionContext,
    reasons: &[(String, String)],
) -> Result<(), TransformError> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("name", DataType::Utf8, false),
        Field::new("reason", DataType::Utf8, false),
    ]));
    register_row(
        ctx,
        CONTACT_REASONS,
        schema,
        vec![
            Arc::new(StringArray::from_iter_values(
                reasons.iter().map(|(n, _)| n),
            )),
            Arc::new(StringArray::from_iter_values(
                reasons.iter().map(|(_, r)| r),
            )),
        ],
    )
}

/// Marts a model may read as they were committed by the previous run, as `previous_<mart>`: the
/// identity graph keeps its customer keys stable across runs and appends to its merge log. A run
/// registers the ones the warehouse has; a missing one (the first run, `validate`, golden tests)
/// reads as empty.
pub const PREVIOUS_MARTS: [&str; 2] = ["customer_identity", "identity_merges"];

/// The name under which a model reads `mart` as the previous run committed it.
pub fn previous_name(mart: &str) -> String {
    format!("previous_{mart}")
}

/// The tables every model may read before any model runs.
pub fn input_tables() -> BTreeSet<String> {
    StagingTable::ALL
        .iter()
        .map(|t| t.name().to_string())
        .chain([
            RUN_CONTEXT.to_string(),
            PIPELINE_SETTINGS.to_string(),
            CONTACT_REASONS.to_string(),
        ])
        .chain(PREVIOUS_MARTS.iter().map(|m| previous_name(m)))
        .collect()
}

/// Registers each model (in dependency order) as a view, reporting every model that does not
/// plan. A model that fails is skipped, so models that read it fail too; only the first
/// failure of a chain is reported.
pub async fn plan_models(ctx: &SessionContext, models: &[Model]) -> Result<(), Diagnostics> {
    let mut problems = Vec::new();
    let mut failed: BTreeSet<&str> = BTreeSet::new();
    for model in models {
        if model.references.iter().any(|r| failed.contains(r.as_str())) {
            failed.insert(&model.name);
            continue;
        }
        match plan_model(ctx, model).await {
            Ok(()) => {}
            Err(d) => {
                failed.insert(&model.name);
                problems.push(d);
            }
        }
    }
    Diagnostics::check(problems)
}

/// Plans one model and registers it as a view named after it.
pub async fn plan_model(ctx: &SessionContext, model: &Model) -> Result<(), Diagnostic> {
    let df = ctx
        .sql(&model.sql)
        .await
        .map_err(|e| plan_diagnostic(ctx, model, &e))?;
    let _ = ctx.deregister_table(model.name.as_str());
    ctx.register_table(model.name.as_str(), df.into_view())
        .map_err(|e| plan_diagnostic(ctx, model, &e))?;
    Ok(())
}

/// Turns a DataFusion planning error into a diagnostic at the model's file, line and column.
pub fn plan_diagnostic(ctx: &SessionContext, model: &Model, error: &DataFusionError) -> Diagnostic {
    let message = first_line(&error.strip_backtrace());
    let span = error
        .iter()
        .find_map(|e| e.diagnostic())
        .and_then(|d| d.span)
        .map(|s| Span::new(&model.display, s.start.line, s.start.column))
        .or_else(|| models::parser_position(&message).map(|(l, c)| Span::new(&model.display, l, c)))
        .unwrap_or_else(|| Span::new(&model.display, 1, 1));
    let mut d = Diagnostic::new(
        ErrorCode::SqlPlan,
        format!("model '{}': {message}", model.name),
    )
    .at(span);
    if let Some(missing) = engine_error::unknown_column(error) {
        // Suggest among the columns of the tables the model reads.
        let mut columns = Vec::new();
        for table in &model.references {
            if let Ok(provider) = futures::executor::block_on(ctx.table_provider(table.as_str())) {
                columns.extend(provider.schema().fields().iter().map(|f| f.name().clone()));
            }
        }
        d = d.suggest(&missing, columns.iter().map(String::as_str));
        // No position from the engine: point at the first mention of the column.
        if d.span
            .as_ref()
            .is_some_and(|s| s.line == 1 && s.column == 1)
        {
            d.span = Some(model.span_of(&missing));
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn write(dir: &Path, rel: &str, sql: &str) {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, sql).unwrap();
    }

    /// Three quarters of the run's limit is the engine's pool; none when there is no limit.
    #[test]
    fn the_pool_is_a_share_of_the_limit() {
        use datafusion::execution::memory_pool::MemoryLimit;
        let limit = |bytes: Option<u64>| {
            let ctx = new_session(&SessionOptions {
                memory_limit_bytes: bytes,
                ..SessionOptions::default()
            })
            .unwrap();
            match ctx.runtime_env().memory_pool.memory_limit() {
                MemoryLimit::Finite(b) => Some(b),
                _ => None,
            }
        };
        assert_eq!(limit(Some(2048 << 20)), Some(1536 << 20));
        assert_eq!(limit(Some(64 << 20)), Some(48 << 20));
        assert_eq!(limit(None), None);
    }

    #[tokio::test]
    async fn models_plan_against_empty_staging_and_errors_are_located() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "intermediate/int_c.sql",
            "select contact_id, normalize_email(email) as email from stg_contacts",
        );
        write(
            dir.path(),
            "marts/good.sql",
            "select c.email, r.run_date from int_c c cross join run_context r",
        );
        write(
            dir.path(),
            "marts/bad.sql",
            "select contact_id,\n       emial\nfrom int_c",
        );
        write(dir.path(), "marts/after_bad.sql", "select * from bad");
        let ctx = new_session(&SessionOptions::default()).unwrap();
        register_empty_staging(&ctx).unwrap();
        register_run_context(&ctx, "r", "p", NaiveDate::from_ymd_opt(2026, 8, 1).unwrap()).unwrap();
        let models = load_models(dir.path(), dir.path(), &ctx.state()).unwrap();
        let ordered = order_models(models, &input_tables()).unwrap();
        let err = plan_models(&ctx, &ordered).await.unwrap_err();
        assert_eq!(err.codes(), [ErrorCode::SqlPlan], "{err}");
        let d = &err.0[0];
        assert_eq!(
            d.span.as_ref().map(|s| (s.file.as_str(), s.line)),
            Some(("marts/bad.sql", 2)),
            "{err}"
        );
        assert_eq!(d.help.as_deref(), Some("did you mean 'email'?"), "{err}");
        // The good model planned and can run.
        let rows = ctx
            .sql("select count(*) from good")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        assert_eq!(rows[0].num_rows(), 1);
    }
}
