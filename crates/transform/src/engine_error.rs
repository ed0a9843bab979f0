//! Reading DataFusion errors by their type, not their message text.

use datafusion::common::SchemaError;
use datafusion::error::DataFusionError;

/// Every error in `error`'s chain: through context, diagnostics, shared and collected errors.
pub fn chain(error: &DataFusionError) -> Vec<&DataFusionError> {
    let mut out = Vec::new();
    let mut queue = vec![error];
    while let Some(e) = queue.pop() {
        out.push(e);
        match e {
            DataFusionError::Context(_, inner) | DataFusionError::Diagnostic(_, inner) => {
                queue.push(inner)
            }
            DataFusionError::Shared(inner) => queue.push(inner),
            DataFusionError::Collection(all) => queue.extend(all.iter().rev()),
            _ => {}
        }
    }
    out
}

/// The unqualified name of the column an error says does not exist (a `FieldNotFound` schema
/// error anywhere in its chain).
///
/// ```
/// use datafusion::prelude::SessionContext;
/// use touchstone_transform::engine_error::unknown_column;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let ctx = SessionContext::new();
/// let err = ctx.sql("select emial from (select 1 as email) t").await.unwrap_err();
/// assert_eq!(unknown_column(&err).as_deref(), Some("emial"));
/// let err = ctx.sql("select 1 +").await.unwrap_err();
/// assert_eq!(unknown_column(&err), None);
/// # }
/// ```
pub fn unknown_column(error: &DataFusionError) -> Option<String> {
    chain(error).into_iter().find_map(|e| match e {
        DataFusionError::SchemaError(schema, _) => match schema.as_ref() {
            SchemaError::FieldNotFound { field, .. } => Some(field.name.clone()),
            _ => None,
        },
        _ => None,
    })
}

/// Whether the engine ran out of memory (its pool refused a reservation).
pub fn is_resources_exhausted(error: &DataFusionError) -> bool {
    chain(error)
        .into_iter()
        .any(|e| matches!(e, DataFusionError::ResourcesExhausted(_)))
}
