//! The run-state tables partitioned by source (`_touchstone/files`, `_touchstone/seen`): a
//! source's rows are read with a filter on its partition and replaced in one commit.

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{DataType, SchemaRef};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::prelude::{SessionContext, col, lit};
use futures::TryStreamExt as _;

use crate::{LoadError, TableKind, Warehouse, WriteMode, engine_error};

/// The batches of `_touchstone/<table>` that belong to `source` (none when the table does not
/// exist yet).
pub(crate) async fn read(
    wh: &Warehouse,
    table: &str,
    source: &str,
) -> Result<Vec<RecordBatch>, LoadError> {
    let Some(stream) = read_stream(wh, table, source).await? else {
        return Ok(Vec::new());
    };
    stream
        .try_collect()
        .await
        .map_err(|e| engine_error(format!("reading _touchstone/{table}"), e))
}

/// The rows of `_touchstone/<table>` that belong to `source`, streamed in batches (`None`
/// when the table does not exist yet).
pub(crate) async fn read_stream(
    wh: &Warehouse,
    table: &str,
    source: &str,
) -> Result<Option<SendableRecordBatchStream>, LoadError> {
    let ctx = SessionContext::new();
    let Some(provider) = wh.provider(&ctx, TableKind::System, table).await? else {
        return Ok(None);
    };
    let engine = |e| engine_error(format!("reading _touchstone/{table}"), e);
    let stream = ctx
        .read_table(provider)
        .map_err(engine)?
        .filter(col("source").eq(lit(source)))
        .map_err(engine)?
        .execute_stream()
        .await
        .map_err(engine)?;
    Ok(Some(stream))
}

/// A column by name, cast to `to`: a partitioned Delta table returns its partition column
/// last, and strings may come back as views.
pub(crate) fn column(batch: &RecordBatch, name: &str, to: &DataType) -> Option<ArrayRef> {
    arrow::compute::cast(batch.column_by_name(name)?, to).ok()
}

/// The error for a table that lacks the columns its reader needs.
pub(crate) fn shape_error(table: &str) -> LoadError {
    LoadError::Engine {
        context: format!("reading _touchstone/{table}"),
        source: Box::new(datafusion::error::DataFusionError::Plan(format!(
            "the table does not have the columns of _touchstone/{table}"
        ))),
    }
}

/// Replaces the rows of `source` in `_touchstone/<table>` with `columns` (one commit).
pub(crate) async fn replace(
    wh: &Warehouse,
    table: &str,
    schema: SchemaRef,
    columns: Vec<ArrayRef>,
    source: &str,
) -> Result<(), LoadError> {
    let batch = RecordBatch::try_new(schema.clone(), columns).map_err(|e| LoadError::Engine {
        context: format!("building _touchstone/{table} rows"),
        source: Box::new(e.into()),
    })?;
    wh.write_batches(
        TableKind::System,
        table,
        schema,
        vec![batch],
        WriteMode::ReplacePartition {
            column: "source".into(),
            value: source.into(),
        },
    )
    .await?;
    Ok(())
}
