//! Argument and input checks shared by the native table functions.

use arrow::array::{RecordBatch, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use datafusion::common::{DataFusionError, Result, ScalarValue, TableReference, plan_err};
use datafusion::dataframe::DataFrame;
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::Expr;
use datafusion::prelude::SessionContext;

use crate::udf::cast_to;

/// The quoted table names a function was called with (lowercased); exactly `arity` of them.
pub(crate) fn literal_args(
    name: &str,
    exprs: &[Expr],
    arity: usize,
    usage: &str,
) -> Result<Vec<String>> {
    let tables: Vec<String> = exprs
        .iter()
        .filter_map(|e| match e {
            Expr::Literal(
                ScalarValue::Utf8(Some(t))
                | ScalarValue::Utf8View(Some(t))
                | ScalarValue::LargeUtf8(Some(t)),
                _,
            ) => Some(t.to_lowercase()),
            _ => None,
        })
        .collect();
    if tables.len() != arity || exprs.len() != arity {
        return plan_err!("{name}() takes {arity} arguments, names of tables in quotes: {usage}");
    }
    Ok(tables)
}

/// A table of the session, `None` when it is not registered.
pub(crate) async fn optional_table(ctx: &SessionContext, name: &str) -> Result<Option<DataFrame>> {
    if !ctx.table_exist(name)? {
        return Ok(None);
    }
    Ok(Some(ctx.table(name).await?))
}

/// Checks at planning time that `table` exists and has `columns` (name, "text" | "timestamp"
/// | "number" | "boolean").
pub(crate) fn required_columns(
    state: &SessionState,
    function: &str,
    table: &str,
    columns: &[(&str, &str)],
) -> Result<()> {
    let schema = table_schema(state, function, table)?;
    for (column, kind) in columns {
        let Ok(field) = schema.field_with_name(column) else {
            let have: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            return plan_err!(
                "{function}('{table}'): the input has no column '{column}' (it has {}); {function} reads {}",
                have.join(", "),
                columns
                    .iter()
                    .map(|(c, _)| *c)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        };
        let t = field.data_type();
        let ok = match *kind {
            "text" => matches!(t, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8),
            "timestamp" => matches!(t, DataType::Timestamp(_, _)),
            "number" => t.is_numeric(),
            "boolean" => matches!(t, DataType::Boolean),
            _ => true,
        };
        if !ok {
            return plan_err!("{function}('{table}'): column '{column}' is {t}, expected {kind}");
        }
    }
    Ok(())
}

/// The schema of the table or model `table`, for `function`'s error if there is none.
pub(crate) fn table_schema(state: &SessionState, function: &str, table: &str) -> Result<SchemaRef> {
    let reference = TableReference::from(table);
    let schema_provider = state.schema_for_ref(reference.clone())?;
    let provider = futures::executor::block_on(schema_provider.table(reference.table()))?;
    let Some(provider) = provider else {
        return plan_err!("{function}('{table}'): no table or model named '{table}'");
    };
    Ok(provider.schema())
}

/// A timestamp column as µs since the epoch (UTC).
pub(crate) fn timestamps(batch: &RecordBatch, name: &str) -> Result<TimestampMicrosecondArray> {
    let column = batch
        .column_by_name(name)
        .ok_or_else(|| DataFusionError::Plan(format!("input has no column '{name}'")))?;
    cast_to(
        column,
        &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
    )
}
