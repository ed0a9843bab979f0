//! Table and column descriptions, where BI tools look for them: `pg_catalog.pg_description`
//! and the `obj_description` / `col_description` functions (`\dt+`, `\d+` in psql, Metabase's
//! table sync, DBeaver's navigator).
//!
//! Where they come from:
//!
//! - a mart's description is the leading `--` comment block of its SQL model
//!   (`sql/marts/<table>.sql`), given by the caller ([`Descriptions::tables`]);
//! - the tables Touchstone writes itself (the run ledger, rejects, staging, metric tables)
//!   are described here;
//! - a column's description is its Arrow field's `comment` metadata when the table carries one
//!   (every run writes a mart's from `sql/marts/schema.yaml` into its Delta schema, see
//!   `touchstone_load::TableDoc`), else the description of Touchstone's lineage and rejects
//!   columns (`_source`, `_source_file`, `_source_line`, `_ingest_date`, `reason`, `raw`).
//!
//! PostgreSQL keys a description by the object's OID. The OIDs are the ones the PostgreSQL
//! layer hands out in `pg_class`; [`DescriptionIndex::build`] reads them from there after each
//! catalog change, so a description always matches the OID a client joins on.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array as _, ArrayRef, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use datafusion::catalog::{SchemaProvider, Session};
use datafusion::datasource::{MemTable, TableProvider, TableType};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use touchstone_core::schema::{FILE_COLUMN, INGEST_DATE_COLUMN, LINE_COLUMN, SOURCE_COLUMN};

use crate::catalog::{LiveCatalog, METRICS, OPS, STAGING, Snapshot};

/// The Arrow field metadata key read as a column's description (Spark and Delta use it too).
pub const COMMENT_KEY: &str = "comment";

/// Descriptions the caller knows: a mart's or metric table's description by table name.
#[derive(Debug, Clone, Default)]
pub struct Descriptions {
    /// Table name (as in the warehouse, `fct_calls`) to its description.
    pub tables: BTreeMap<String, String>,
}

impl Descriptions {
    /// The marts' descriptions, from the leading comments of the SQL models of `pipeline` (or
    /// of `pipelines/customer_success.yaml` under `cwd` when present). Without a pipeline, or
    /// when its models cannot be read, the tables are served without them (a warning says
    /// why).
    pub fn of_pipeline(pipeline: Option<&Path>, cwd: &Path) -> Descriptions {
        let mut descriptions = Descriptions::default();
        let default = touchstone_pipeline::default_pipeline(cwd);
        let Some(file) = pipeline.or(default.as_deref()) else {
            return descriptions;
        };
        let models = touchstone_core::config::load_pipeline(file, cwd)
            .map_err(|e| e.to_string())
            .and_then(|p| {
                let ctx = SessionContext::new();
                touchstone_transform::load_models(&p.models_dir, cwd, &ctx.state())
                    .map_err(|e| e.to_string())
            });
        match models {
            Ok(models) => {
                for model in models.iter().filter(|m| m.materialized()) {
                    descriptions
                        .tables
                        .insert(model.name.clone(), model.description());
                }
            }
            Err(e) => tracing::warn!(
                "the tables are served without descriptions: reading the models of {}: {e}",
                file.display()
            ),
        }
        descriptions
    }

    /// The description of `name` in `schema`.
    fn table(&self, schema: &str, name: &str) -> Option<String> {
        if let Some(text) = self.tables.get(name).filter(|t| !t.is_empty()) {
            return Some(text.clone());
        }
        match schema {
            OPS if name == "runs" => Some(
                "The run ledger: one row per run of the pipeline (id, logical date, status, \
                 start and end, the table versions it committed)."
                    .into(),
            ),
            OPS if name.starts_with("rejects_") => Some(format!(
                "Rows of source {} that could not be staged: the file and line each came \
                 from, the reason, and the raw record.",
                &name["rejects_".len()..]
            )),
            STAGING => Some(format!(
                "Staged records of every source, in the canonical {name} schema, with the \
                 file and line each was read from."
            )),
            METRICS if name == "metric_values" => Some(
                "Every metric of the metric library (pipelines/metrics/*.yaml) by period and \
                 dimension: value, numerator, denominator, n and confidence interval."
                    .into(),
            ),
            _ => None,
        }
    }
}

/// The description of a column of Touchstone's own: lineage and rejects.
fn known_column(name: &str) -> Option<&'static str> {
    match name {
        SOURCE_COLUMN => Some("The pipeline source the row was read from."),
        FILE_COLUMN => Some("The file (object-store URL) the row was read from."),
        LINE_COLUMN => Some("The 1-based line of the file the record starts on."),
        INGEST_DATE_COLUMN => Some("The logical date of the run that staged the row."),
        "reason" => Some("Why the record could not be staged, and how to fix it."),
        "raw" => Some("The record as it was read."),
        _ => None,
    }
}

fn column_description(field: &Field, schema: &str) -> Option<String> {
    if let Some(comment) = field.metadata().get(COMMENT_KEY).filter(|c| !c.is_empty()) {
        return Some(comment.clone());
    }
    // `reason` and `raw` are only Touchstone's own in the rejects tables.
    let ours = field.name().starts_with('_') || schema == OPS;
    ours.then(|| known_column(field.name()))
        .flatten()
        .map(str::to_string)
}

/// The descriptions of the served tables, keyed as PostgreSQL keys them: (object OID,
/// sub-id), sub-id 0 for the table and the column's 1-based position for a column.
#[derive(Debug, Default)]
pub struct DescriptionIndex {
    entries: HashMap<(i64, i64), String>,
    /// The OID of `pg_catalog.pg_class`, the `classoid` of every row.
    pg_class: i64,
}

/// PostgreSQL's own OID of `pg_class`, when the layer lists none.
const PG_CLASS_OID: i64 = 1259;

impl DescriptionIndex {
    /// Reads the OIDs of the served tables from `pg_class` and attaches the descriptions.
    pub async fn build(
        ctx: &SessionContext,
        snapshot: &Snapshot,
        descriptions: &Descriptions,
    ) -> DfResult<DescriptionIndex> {
        let batches = ctx
            .sql(
                "select cast(c.oid as bigint) as oid, n.nspname, c.relname \
                 from pg_catalog.pg_class c join pg_catalog.pg_namespace n \
                 on c.relnamespace = n.oid",
            )
            .await?
            .collect()
            .await?;
        let mut index = DescriptionIndex {
            entries: HashMap::new(),
            pg_class: PG_CLASS_OID,
        };
        for batch in &batches {
            let oids = batch.column(0).as_any().downcast_ref::<Int64Array>();
            let schemas = arrow::compute::cast(batch.column(1), &DataType::Utf8)?;
            let names = arrow::compute::cast(batch.column(2), &DataType::Utf8)?;
            let (Some(oids), Some(schemas), Some(names)) = (
                oids,
                schemas.as_any().downcast_ref::<StringArray>(),
                names.as_any().downcast_ref::<StringArray>(),
            ) else {
                continue;
            };
            for row in 0..batch.num_rows() {
                let (oid, schema, name) = (oids.value(row), schemas.value(row), names.value(row));
                if schema == "pg_catalog" && name == "pg_class" {
                    index.pg_class = oid;
                }
                let Some(table) = snapshot.tables.get(schema).and_then(|t| t.get(name)) else {
                    continue;
                };
                if let Some(text) = descriptions.table(schema, name) {
                    index.entries.insert((oid, 0), text);
                }
                for (i, field) in table.table.provider.schema().fields().iter().enumerate() {
                    if let Some(text) = column_description(field, schema) {
                        index.entries.insert((oid, i as i64 + 1), text);
                    }
                }
            }
        }
        Ok(index)
    }

    /// The description of (OID, sub-id).
    pub fn get(&self, oid: i64, sub: i64) -> Option<&str> {
        self.entries.get(&(oid, sub)).map(String::as_str)
    }

    /// How many objects are described.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is described.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The rows of `pg_description` in `schema` (objoid, classoid, objsubid, description).
    fn batch(&self, schema: &SchemaRef) -> DfResult<RecordBatch> {
        let mut rows: Vec<(&(i64, i64), &String)> = self.entries.iter().collect();
        rows.sort();
        let objoid = Int64Array::from_iter_values(rows.iter().map(|((o, _), _)| *o));
        let classoid = Int64Array::from_iter_values(rows.iter().map(|_| self.pg_class));
        let objsubid = Int64Array::from_iter_values(rows.iter().map(|((_, s), _)| *s));
        let description = StringArray::from_iter_values(rows.iter().map(|(_, d)| d.as_str()));
        let sources: [ArrayRef; 4] = [
            Arc::new(objoid),
            Arc::new(classoid),
            Arc::new(objsubid),
            Arc::new(description),
        ];
        let columns = schema
            .fields()
            .iter()
            .zip(sources)
            .map(|(field, array)| arrow::compute::cast(&array, field.data_type()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
    }
}

/// `pg_catalog` with `pg_description` listing the served tables' descriptions; every other
/// table is the PostgreSQL layer's.
#[derive(Debug)]
pub(crate) struct DescribedPgCatalog {
    pub inner: Arc<dyn SchemaProvider>,
    pub live: Arc<LiveCatalog>,
}

#[async_trait]
impl SchemaProvider for DescribedPgCatalog {
    fn table_names(&self) -> Vec<String> {
        self.inner.table_names()
    }

    async fn table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        if !name.eq_ignore_ascii_case("pg_description") {
            return self.inner.table(name).await;
        }
        let schema = match self.inner.table(name).await? {
            Some(table) => table.schema(),
            None => Arc::new(Schema::new(vec![
                Field::new("objoid", DataType::Int32, false),
                Field::new("classoid", DataType::Int32, false),
                Field::new("objsubid", DataType::Int32, false),
                Field::new("description", DataType::Utf8, false),
            ])),
        };
        let batch = self.live.descriptions().batch(&schema)?;
        Ok(Some(Arc::new(DescriptionTable(MemTable::try_new(
            schema,
            vec![vec![batch]],
        )?))))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.inner.table_exist(name)
    }
}

/// `pg_description` as a view (never written).
#[derive(Debug)]
struct DescriptionTable(MemTable);

#[async_trait]
impl TableProvider for DescriptionTable {
    fn schema(&self) -> SchemaRef {
        self.0.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        self.0.scan(state, projection, filters, limit).await
    }
}

/// `obj_description(oid [, catalog])` or `col_description(oid, column)`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct DescriptionFunction {
    name: &'static str,
    column: bool,
    signature: Signature,
    #[allow(clippy::struct_field_names)]
    live: LiveRef,
}

/// The live catalog, compared by address (a UDF must be `Eq` and `Hash`).
#[derive(Debug)]
struct LiveRef(Arc<LiveCatalog>);

impl PartialEq for LiveRef {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
impl Eq for LiveRef {}
impl std::hash::Hash for LiveRef {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::ptr::hash(Arc::as_ptr(&self.0), state);
    }
}

impl ScalarUDFImpl for DescriptionFunction {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let oids = arrays
            .first()
            .map(|a| arrow::compute::cast(a, &DataType::Int64))
            .transpose()?;
        let subs = match (self.column, arrays.get(1)) {
            (true, Some(a)) => Some(arrow::compute::cast(a, &DataType::Int64)?),
            _ => None,
        };
        let index = self.live.0.descriptions();
        let as_int = |a: &Option<ArrayRef>| {
            a.as_ref()
                .and_then(|a| a.as_any().downcast_ref::<Int64Array>().cloned())
        };
        let (oids, subs) = (as_int(&oids), as_int(&subs));
        let value = |row: usize| {
            let oid = oids.as_ref().filter(|o| !o.is_null(row))?.value(row);
            let sub = match &subs {
                Some(s) if s.is_null(row) => return None,
                Some(s) => s.value(row),
                None => 0,
            };
            index.get(oid, sub).map(str::to_string)
        };
        let out: StringArray = (0..rows).map(value).collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// Registers `obj_description` and `col_description` in `ctx`, with the two size functions
/// psql's `\dt+` calls next to them: `pg_table_size` (unknown here: NULL, which psql shows
/// as an empty cell) and `pg_size_pretty`.
/// The server settings `current_setting(name [, missing_ok])` answers (Grafana reads the
/// version with it at connect time; pg_catalog views read `search_path`). The version matches
/// what the server reports in its `server_version` start-up parameter (pgwire's 16.6).
const SETTINGS: &[(&str, &str)] = &[
    ("server_version", "16.6"),
    ("server_version_num", "160006"),
    ("server_encoding", "UTF8"),
    ("client_encoding", "UTF8"),
    ("timezone", "UTC"),
    ("datestyle", "ISO, MDY"),
    ("intervalstyle", "postgres"),
    ("integer_datetimes", "on"),
    ("standard_conforming_strings", "on"),
    ("search_path", "marts, metrics, ops"),
    ("max_identifier_length", "63"),
    ("transaction_isolation", "read committed"),
    ("default_transaction_read_only", "on"),
    ("transaction_read_only", "on"),
    ("application_name", ""),
];

/// `current_setting(name)`, and `current_setting(name, missing_ok)` that gives NULL for a
/// setting the server does not have instead of an error. Names are case-insensitive.
#[derive(Debug, PartialEq, Eq, Hash)]
struct CurrentSetting {
    signature: Signature,
}

impl ScalarUDFImpl for CurrentSetting {
    fn name(&self) -> &str {
        "current_setting"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let names = arrays
            .first()
            .map(|a| arrow::compute::cast(a, &DataType::Utf8))
            .transpose()?;
        let names = names
            .as_ref()
            .and_then(|a| a.as_any().downcast_ref::<StringArray>());
        let missing_ok = arrays
            .get(1)
            .map(|a| arrow::compute::cast(a, &DataType::Boolean))
            .transpose()?;
        let missing_ok = missing_ok
            .as_ref()
            .and_then(|a| a.as_any().downcast_ref::<arrow::array::BooleanArray>());
        let mut out = arrow::array::StringBuilder::new();
        for row in 0..rows {
            let Some(name) = names.filter(|n| !n.is_null(row)).map(|n| n.value(row)) else {
                out.append_null();
                continue;
            };
            let lower = name.to_ascii_lowercase();
            match SETTINGS.iter().find(|(k, _)| *k == lower) {
                Some((_, value)) => out.append_value(value),
                None if missing_ok.is_some_and(|m| !m.is_null(row) && m.value(row)) => {
                    out.append_null()
                }
                None => {
                    return Err(datafusion::error::DataFusionError::Plan(format!(
                        "unrecognized configuration parameter \"{name}\" (this server answers {})",
                        SETTINGS
                            .iter()
                            .map(|(k, _)| *k)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

pub(crate) fn register_functions(ctx: &SessionContext, live: &Arc<LiveCatalog>) {
    ctx.register_udf(ScalarUDF::new_from_impl(CurrentSetting {
        signature: Signature::one_of(
            vec![
                datafusion::logical_expr::TypeSignature::String(1),
                datafusion::logical_expr::TypeSignature::Exact(vec![
                    DataType::Utf8,
                    DataType::Boolean,
                ]),
            ],
            Volatility::Stable,
        ),
    }));
    for (name, column) in [("obj_description", false), ("col_description", true)] {
        ctx.register_udf(ScalarUDF::new_from_impl(DescriptionFunction {
            name,
            column,
            signature: Signature::variadic_any(Volatility::Stable),
            live: LiveRef(Arc::clone(live)),
        }));
    }
    ctx.register_udf(datafusion::logical_expr::create_udf(
        "pg_table_size",
        vec![DataType::Int64],
        DataType::Int64,
        Volatility::Stable,
        Arc::new(|args: &[ColumnarValue]| {
            let rows = ColumnarValue::values_to_arrays(args)?
                .first()
                .map_or(1, |a| a.len());
            Ok(ColumnarValue::Array(Arc::new(Int64Array::new_null(rows))))
        }),
    ));
    ctx.register_udf(datafusion::logical_expr::create_udf(
        "pg_size_pretty",
        vec![DataType::Int64],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let sizes = arrays
                .first()
                .map(|a| arrow::compute::cast(a, &DataType::Int64))
                .transpose()?;
            let sizes = sizes
                .as_ref()
                .and_then(|a| a.as_any().downcast_ref::<Int64Array>());
            let out: StringArray = sizes
                .map(|s| s.iter().map(|v| v.map(size_pretty)).collect())
                .unwrap_or_else(|| StringArray::new_null(0));
            Ok(ColumnarValue::Array(Arc::new(out)))
        }),
    ));
}

/// PostgreSQL's `pg_size_pretty`: bytes below 10 kB, then kB, MB, GB, TB, PB, each rounded
/// half away from zero, moving up a unit at 10 of the next.
fn size_pretty(bytes: i64) -> String {
    let mut size = bytes;
    let limit = 10 * 1024;
    if size.abs() < limit {
        return format!("{size} bytes");
    }
    let half_rounded = |n: i64| (n + n.signum()) / 2;
    size /= 512;
    for unit in ["kB", "MB", "GB", "TB"] {
        if half_rounded(size).abs() < limit || unit == "TB" {
            return format!("{} {unit}", half_rounded(size));
        }
        size /= 1024;
    }
    format!("{} PB", half_rounded(size))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::MARTS;

    #[test]
    fn the_marts_are_described_by_their_models_leading_comments() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let d = Descriptions::of_pipeline(None, &repo);
        let fct_calls = d.tables.get("fct_calls").map(String::as_str);
        assert!(fct_calls.is_some_and(|t| !t.is_empty()), "{:?}", d.tables);
        assert!(
            !d.tables.contains_key("stg_calls"),
            "only materialized models"
        );
        let empty = tempfile::tempdir().unwrap();
        assert!(
            Descriptions::of_pipeline(None, empty.path())
                .tables
                .is_empty()
        );
        let missing = empty.path().join("missing.yaml");
        let d = Descriptions::of_pipeline(Some(&missing), empty.path());
        assert!(d.tables.is_empty());
    }

    #[test]
    fn lineage_columns_are_described_and_a_comment_wins() {
        let lineage = Field::new(FILE_COLUMN, DataType::Utf8, false);
        assert!(column_description(&lineage, STAGING).is_some());
        let plain = Field::new("reason", DataType::Utf8, false);
        assert_eq!(column_description(&plain, MARTS), None);
        assert!(column_description(&plain, OPS).is_some());
        let commented = Field::new("x", DataType::Utf8, false).with_metadata(
            [(COMMENT_KEY.to_string(), "the x".to_string())]
                .into_iter()
                .collect(),
        );
        assert_eq!(
            column_description(&commented, MARTS).as_deref(),
            Some("the x")
        );
    }

    #[test]
    fn sizes_print_as_postgresql_prints_them() {
        // What PostgreSQL prints for these sizes (src/backend/utils/adt/dbsize.c).
        assert_eq!(size_pretty(10), "10 bytes");
        assert_eq!(size_pretty(1000), "1000 bytes");
        assert_eq!(size_pretty(1_000_000), "977 kB");
        assert_eq!(size_pretty(1_000_000_000), "954 MB");
        assert_eq!(size_pretty(1_000_000_000_000), "931 GB");
        assert_eq!(size_pretty(1_000_000_000_000_000), "909 TB");
    }

    #[test]
    fn a_models_description_beats_the_built_in_one() {
        let mut d = Descriptions::default();
        assert!(d.table(OPS, "runs").is_some());
        assert!(
            d.table(OPS, "rejects_crm")
                .is_some_and(|t| t.contains("crm"))
        );
        assert_eq!(d.table(MARTS, "fct_calls"), None);
        d.tables
            .insert("fct_calls".into(), "One row per call.".into());
        assert_eq!(
            d.table(MARTS, "fct_calls").as_deref(),
            Some("One row per call.")
        );
    }
}
