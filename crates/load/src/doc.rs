//! A table's documentation in its Delta metadata, where Spark, Databricks, the Python
//! `deltalake` package and Touchstone's own PostgreSQL endpoint look for it: the table's
//! description in `metaData.description`, and each column's in the `comment` key of the
//! column's metadata in the table schema (the key Spark's `COMMENT` writes and
//! `DESCRIBE TABLE` shows).
//!
//! Column comments travel as Arrow field metadata: the plan written is projected once more
//! with each documented column aliased to itself with `comment` attached, delta-rs carries
//! Arrow field metadata into the Delta schema, and a reader gets it back as the Arrow field's
//! metadata. A changed comment changes the schema, so the write that carries it commits the
//! new schema (tables are written with schema overwrite). The description is set when the
//! table is created; a changed one is set by a metadata-only commit just before the write.

use std::collections::{BTreeMap, HashMap};

use datafusion::common::metadata::FieldMetadata;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder};
use deltalake::DeltaTable;

/// The column metadata key of a column's description (Spark, Databricks, Unity Catalog).
pub const COMMENT_KEY: &str = "comment";

/// Delta's limit on a table description (delta-rs refuses a longer one in a metadata update).
pub const MAX_DESCRIPTION_CHARS: usize = 4000;

/// What a table says about itself in its Delta metadata.
///
/// ```
/// use touchstone_load::TableDoc;
/// let doc = TableDoc::new("One row per customer journey.")
///     .with_column("steps", "Touches in the journey, 1 or more.");
/// assert_eq!(doc.columns["steps"], "Touches in the journey, 1 or more.");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableDoc {
    /// The table's description (`metaData.description`); empty for none.
    pub description: String,
    /// Column name to its description (the column's `comment`). Columns not listed keep
    /// whatever metadata the plan gives them.
    pub columns: BTreeMap<String, String>,
}

impl TableDoc {
    /// A table described by `description`, with no column described yet.
    pub fn new(description: impl Into<String>) -> Self {
        TableDoc {
            description: description.into(),
            columns: BTreeMap::new(),
        }
    }

    /// Adds the description of `column`.
    pub fn with_column(
        mut self,
        column: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        self.columns.insert(column.into(), description.into());
        self
    }

    /// The description as stored: at most [`MAX_DESCRIPTION_CHARS`] characters (a longer one
    /// is cut, ending in `…`).
    pub(crate) fn stored_description(&self) -> String {
        let text = self.description.trim();
        if text.chars().count() <= MAX_DESCRIPTION_CHARS {
            return text.to_string();
        }
        let mut cut: String = text.chars().take(MAX_DESCRIPTION_CHARS - 1).collect();
        cut.push('…');
        cut
    }

    /// `plan` with each documented column's `comment` metadata set to its description.
    pub(crate) fn apply(&self, plan: LogicalPlan) -> Result<LogicalPlan, DataFusionError> {
        if self.columns.is_empty() {
            return Ok(plan);
        }
        let exprs: Vec<Expr> = plan
            .schema()
            .columns()
            .into_iter()
            .map(|column| {
                let name = column.name.clone();
                let metadata = self.columns.get(&name).map(|text| {
                    FieldMetadata::from(HashMap::from([(COMMENT_KEY.to_string(), text.clone())]))
                });
                Expr::Column(column).alias_with_metadata(name, metadata)
            })
            .collect();
        LogicalPlanBuilder::from(plan).project(exprs)?.build()
    }
}

/// The table's `metaData.description`, `None` when it has none.
pub(crate) fn description(table: &DeltaTable) -> Option<String> {
    let metadata = table.snapshot().ok()?.metadata().clone();
    let value = serde_json::to_value(metadata).ok()?;
    value.get("description")?.as_str().map(str::to_string)
}
