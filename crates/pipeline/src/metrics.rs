//! The metric step of a run: version checks against what earlier runs recorded, then
//! `metric_values` (keeping rows of superseded versions as history), `metric_definitions` and
//! `metric_comparisons`.
//!
//! Where the previous hashes come from: `marts/metric_definitions` in the warehouse the run
//! writes, one row per (metric, group, version) ever computed. It is durable with the
//! warehouse (a fresh warehouse has no history to protect) and readable by analysts.

use std::sync::Arc;

use arrow::array::{Array, Int32Array, RecordBatch, StringArray};
use datafusion::catalog::Session;
use datafusion::common::Column;
use datafusion::dataframe::DataFrame;
use datafusion::datasource::MemTable;
use datafusion::functions::expr_fn::concat_ws;
use datafusion::logical_expr::{Expr, cast, lit};
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;
use touchstone_core::config::MetricLibrary;
use touchstone_core::diagnostic::Diagnostics;
use touchstone_load::{TableKind, Warehouse, WriteMode, Written};
use touchstone_metrics::metric_values_schema;

use crate::PipelineError;

fn col(name: &str) -> Expr {
    Expr::Column(Column::from_name(name))
}

/// What earlier runs recorded in `marts/metric_definitions` (empty for a new warehouse).
pub(crate) async fn recorded_definitions(
    warehouse: &Warehouse,
) -> Result<Vec<touchstone_metrics::Recorded>, PipelineError> {
    let ctx = SessionContext::new();
    let Some(provider) = warehouse
        .provider(&ctx, TableKind::Mart, "metric_definitions")
        .await
        .map_err(PipelineError::storage("reading marts/metric_definitions"))?
    else {
        return Ok(Vec::new());
    };
    let engine = || PipelineError::engine("reading marts/metric_definitions");
    let batches = ctx
        .read_table(provider)
        .and_then(|df| {
            df.select(vec![
                cast(col("metric"), arrow::datatypes::DataType::Utf8).alias("metric"),
                cast(col("group"), arrow::datatypes::DataType::Utf8).alias("group"),
                cast(col("version"), arrow::datatypes::DataType::Int32).alias("version"),
                cast(col("definition_hash"), arrow::datatypes::DataType::Utf8).alias("h"),
                cast(col("definition"), arrow::datatypes::DataType::Utf8).alias("d"),
            ])
        })
        .map_err(engine())?
        .collect()
        .await
        .map_err(engine())?;
    let mut out = Vec::new();
    for b in batches {
        let s = |i: usize| b.column(i).as_any().downcast_ref::<StringArray>();
        let (Some(m), Some(g), Some(v), Some(h), Some(d)) = (
            s(0),
            s(1),
            b.column(2).as_any().downcast_ref::<Int32Array>(),
            s(3),
            s(4),
        ) else {
            continue;
        };
        for i in 0..b.num_rows() {
            if m.is_null(i) || v.is_null(i) {
                continue;
            }
            out.push((
                m.value(i).to_string(),
                g.value(i).to_string(),
                v.value(i),
                h.value(i).to_string(),
                d.value(i).to_string(),
            ));
        }
    }
    Ok(out)
}

/// Refuses the run when a definition changed under a version the warehouse recorded.
pub(crate) async fn check_versions(
    warehouse: &Warehouse,
    library: &MetricLibrary,
) -> Result<(), PipelineError> {
    let recorded = recorded_definitions(warehouse).await?;
    Diagnostics::check(touchstone_metrics::check_versions(library, &recorded))
        .map_err(PipelineError::Invalid)
}

/// A mem-table frame of `batch`.
fn frame(ctx: &SessionContext, batch: RecordBatch) -> Result<DataFrame, PipelineError> {
    MemTable::try_new(batch.schema(), vec![vec![batch]])
        .and_then(|t| ctx.read_table(Arc::new(t)))
        .map_err(PipelineError::engine("preparing metric rows"))
}

/// `(metric, group, version)` as one key, for "not among the current definitions".
fn key() -> Expr {
    concat_ws(
        lit("|"),
        vec![
            col("metric"),
            col("group"),
            cast(col("version"), arrow::datatypes::DataType::Utf8),
        ],
    )
}

/// Rows of the previous `table` whose (metric, group, version) the library no longer
/// computes, in `schema`'s columns (missing columns as NULL).
async fn kept_history(
    ctx: &SessionContext,
    warehouse: &Warehouse,
    table: &str,
    schema: &arrow::datatypes::Schema,
    current: &[String],
) -> Result<Option<DataFrame>, PipelineError> {
    let Some(provider) = warehouse
        .provider(ctx, TableKind::Mart, table)
        .await
        .map_err(PipelineError::storage(format!("reading marts/{table}")))?
    else {
        return Ok(None);
    };
    let engine = || PipelineError::engine(format!("reading marts/{table}"));
    let old = ctx.read_table(provider).map_err(engine())?;
    let has = |name: &str| old.schema().field_with_unqualified_name(name).is_ok();
    if !(has("metric") && has("group") && has("version")) {
        return Ok(None);
    }
    let projection: Vec<Expr> = schema
        .fields()
        .iter()
        .map(|f| {
            let value = if has(f.name()) {
                col(f.name())
            } else {
                lit(ScalarValue::try_from(f.data_type()).unwrap_or(ScalarValue::Null))
            };
            cast(value, f.data_type().clone()).alias(f.name())
        })
        .collect();
    let list: Vec<Expr> = current.iter().map(|k| lit(k.as_str())).collect();
    let kept = if list.is_empty() {
        old
    } else {
        old.filter(key().in_list(list, true)).map_err(engine())?
    };
    kept.select(projection).map(Some).map_err(engine())
}

/// Writes `metric_values` (this run's rows plus the kept history), `metric_definitions` and
/// `metric_comparisons`; returns each table with what was written.
pub(crate) async fn write(
    ctx: &SessionContext,
    state: Arc<dyn Session>,
    warehouse: &Warehouse,
    library: &MetricLibrary,
    values: DataFrame,
) -> Result<Vec<(&'static str, Written)>, PipelineError> {
    let current: Vec<String> = library
        .metrics
        .iter()
        .map(|m| format!("{}|{}|{}", m.name(), m.group, m.def.version))
        .collect();
    let mut written = Vec::new();

    let schema = metric_values_schema();
    let mut all = values;
    if let Some(history) = kept_history(ctx, warehouse, "metric_values", &schema, &current).await? {
        all = all
            .union(history)
            .map_err(PipelineError::engine("metric_values history"))?;
    }
    let plan = all.logical_plan().clone();
    let w = warehouse
        .write_plan(
            TableKind::Mart,
            "metric_values",
            Arc::clone(&state),
            plan,
            WriteMode::Overwrite,
        )
        .await
        .map_err(PipelineError::storage("writing marts/metric_values"))?;
    written.push(("marts/metric_values", w));

    let batch = touchstone_metrics::metric_definitions_batch(library)
        .map_err(|e| PipelineError::Internal(format!("metric definitions: {e}")))?;
    let defs_schema = touchstone_metrics::metric_definitions_schema();
    let mut defs = frame(ctx, batch)?;
    if let Some(history) =
        kept_history(ctx, warehouse, "metric_definitions", &defs_schema, &current).await?
    {
        defs = defs
            .union(history)
            .map_err(PipelineError::engine("metric_definitions history"))?;
    }
    let w = warehouse
        .write_plan(
            TableKind::Mart,
            "metric_definitions",
            Arc::clone(&state),
            defs.logical_plan().clone(),
            WriteMode::Overwrite,
        )
        .await
        .map_err(PipelineError::storage("writing marts/metric_definitions"))?;
    written.push(("marts/metric_definitions", w));

    if !library.baselines.is_empty() {
        let provider = warehouse
            .provider(ctx, TableKind::Mart, "metric_values")
            .await
            .map_err(PipelineError::storage("reading marts/metric_values"))?;
        if let Some(provider) = provider {
            let values = ctx
                .read_table(provider)
                .map_err(PipelineError::engine("reading metric_values"))?;
            let list = touchstone_metrics::compare_all(&values, library)
                .await
                .map_err(PipelineError::Invalid)?;
            let batch = touchstone_metrics::comparisons_batch(&list)
                .map_err(|e| PipelineError::Internal(format!("metric comparisons: {e}")))?;
            let w = warehouse
                .write_batches(
                    TableKind::Mart,
                    "metric_comparisons",
                    batch.schema(),
                    vec![batch],
                    WriteMode::Overwrite,
                )
                .await
                .map_err(PipelineError::storage("writing marts/metric_comparisons"))?;
            written.push(("marts/metric_comparisons", w));
        }
    }
    Ok(written)
}
