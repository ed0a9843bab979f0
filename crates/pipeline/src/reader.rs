//! Reading a warehouse's committed tables: what `touchstone query` (and `serve`) run SQL over.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use touchstone_pipeline::WarehouseReader;
//! let reader = WarehouseReader::open(&url::Url::parse("memory://reader-doc/")?)?;
//! // An empty warehouse has no tables; `query` says so and suggests a run.
//! let err = reader.query("select 1").await.unwrap_err();
//! assert!(err.to_string().contains("no tables"));
//! # Ok(()) }
//! ```

use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use chrono::NaiveDate;
use datafusion::catalog::Session;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::Result as DfResult;
use datafusion::execution::context::SQLOptions;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::{DFParser, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::Statement;
use datafusion::sql::sqlparser::dialect::GenericDialect;
use touchstone_core::config::Metric;
use touchstone_core::store;
use touchstone_load::{TableEntry, Warehouse};
use touchstone_metrics::Comparison;
use touchstone_transform::SessionOptions;
use url::Url;

use crate::PipelineError;

/// The committed tables of one warehouse, for reading.
#[derive(Debug, Clone)]
pub struct WarehouseReader {
    warehouse: Warehouse,
}

impl WarehouseReader {
    /// Opens the warehouse at `root`.
    pub fn open(root: &Url) -> Result<Self, PipelineError> {
        let warehouse = Warehouse::open(root).map_err(PipelineError::storage(format!(
            "opening the warehouse {root}"
        )))?;
        Ok(WarehouseReader { warehouse })
    }

    /// The warehouse.
    pub fn warehouse(&self) -> &Warehouse {
        &self.warehouse
    }

    /// A session (with Touchstone's functions) in which every committed table is registered
    /// under its SQL name (`stg_calls`, `fct_calls`, `rejects_web`, `_touchstone_runs`), each
    /// at its current version and read-only; returns the tables too.
    pub async fn session(&self) -> Result<(SessionContext, Vec<TableEntry>), PipelineError> {
        let ctx = touchstone_transform::new_session(&SessionOptions::default())?;
        let tables = self
            .warehouse
            .register_all(&ctx)
            .await
            .map_err(PipelineError::storage(format!(
                "reading the tables of {}",
                self.warehouse.root()
            )))?;
        for entry in &tables {
            let name = entry.sql_name();
            let engine = || PipelineError::engine(format!("registering {name}"));
            if let Some(provider) = ctx.deregister_table(name.as_str()).map_err(engine())? {
                ctx.register_table(name.as_str(), Arc::new(ReadOnlyTable(provider)))
                    .map_err(engine())?;
            }
        }
        Ok((ctx, tables))
    }

    /// Compares `metric` (its group and version) between the windows `before` and `after` of
    /// the warehouse's `metric_values` at significance level `alpha`, as `touchstone compare`
    /// does; `None` when a window has no rows of it.
    pub async fn compare(
        &self,
        metric: &Metric,
        before: (NaiveDate, NaiveDate),
        after: (NaiveDate, NaiveDate),
        alpha: f64,
    ) -> Result<Option<Comparison>, PipelineError> {
        let (ctx, _) = self.session().await?;
        let values = ctx.table("metric_values").await.map_err(|e| {
            PipelineError::Query(format!(
                "the warehouse has no metric_values; run the pipeline first: {e}"
            ))
        })?;
        Ok(touchstone_metrics::compare(&values, metric, "adhoc", before, after, alpha).await?)
    }

    /// Runs `sql`, one read-only statement (see [`check_read_only`]), over the committed tables
    /// and returns the rows.
    pub async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>, PipelineError> {
        check_read_only(sql)?;
        let (ctx, tables) = self.session().await?;
        if tables.is_empty() {
            return Err(PipelineError::Query(format!(
                "no tables in {}; run a pipeline first (`make run` or `touchstone run pipelines/customer_success.yaml`)",
                self.warehouse.root()
            )));
        }
        let df = ctx
            .sql_with_options(sql, read_only_options())
            .await
            .map_err(|e| {
                let names: Vec<String> = tables.iter().map(|t| t.sql_name()).collect();
                PipelineError::Query(format!(
                    "{}\n  tables: {}",
                    e.strip_backtrace(),
                    names.join(", ")
                ))
            })?;
        df.collect().await.map_err(|e| {
            PipelineError::Query(format!("running the query: {}", e.strip_backtrace()))
        })
    }
}

/// How [`write_rows`] writes rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowFormat {
    /// An aligned text table, then the number of rows.
    Table,
    /// CSV with a header.
    Csv,
    /// A JSON array of objects.
    Json,
}

/// Writes `batches` to `out` in `format`, as `touchstone query` prints a result. Errors of the
/// Arrow writers come back as [`std::io::Error`]s that display as they do.
pub fn write_rows(
    batches: &[RecordBatch],
    format: RowFormat,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let arrow = std::io::Error::other;
    match format {
        RowFormat::Table => {
            let text = arrow::util::pretty::pretty_format_batches(batches).map_err(arrow)?;
            writeln!(out, "{text}")?;
            let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
            writeln!(out, "({rows} row{})", if rows == 1 { "" } else { "s" })?;
        }
        RowFormat::Csv => {
            let mut writer = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(out);
            for b in batches {
                writer.write(b).map_err(arrow)?;
            }
        }
        RowFormat::Json => {
            let mut writer = arrow::json::ArrayWriter::new(out);
            let refs: Vec<&RecordBatch> = batches.iter().collect();
            writer.write_batches(&refs).map_err(arrow)?;
            writer.finish().map_err(arrow)?;
        }
    }
    Ok(())
}

/// The warehouse a command reads: `--warehouse` when given, else the one of `--pipeline`, else
/// the one of `pipelines/customer_success.yaml` under `cwd` when it exists, else `warehouse`.
pub fn warehouse_url(
    warehouse: Option<&str>,
    pipeline: Option<&Path>,
    cwd: &Path,
) -> Result<Url, PipelineError> {
    let invalid = |e: store::StoreError| {
        PipelineError::Invalid(
            touchstone_core::diagnostic::Diagnostic::new(
                touchstone_core::diagnostic::ErrorCode::InvalidLocation,
                e.to_string(),
            )
            .into(),
        )
    };
    let default = crate::prepare::default_pipeline(cwd);
    match (warehouse, pipeline.or(default.as_deref())) {
        (Some(w), _) => store::resolve_url(w, cwd).map_err(invalid),
        (None, Some(p)) => Ok(touchstone_core::config::load_pipeline(p, cwd)?.warehouse),
        (None, None) => store::resolve_url("warehouse", cwd).map_err(invalid),
    }
}

/// Checks that `sql` is one statement that only reads: a query (`SELECT`, `WITH`, `VALUES`),
/// `EXPLAIN` of one, `SHOW TABLES`, `SHOW COLUMNS` or `DESCRIBE`. Anything that writes or
/// reaches outside the warehouse — `INSERT`, `UPDATE`, `DELETE`, `CREATE`, `DROP`, `COPY`,
/// `CREATE EXTERNAL TABLE`, `SET`, `SELECT ... INTO`, a function that reads files or URLs
/// (`pg_read_file`, `read_parquet`, ...), a file path or URL in place of a table — is refused
/// before planning.
///
/// ```
/// use touchstone_pipeline::check_read_only;
/// assert!(check_read_only("select * from fct_calls where contained").is_ok());
/// assert!(check_read_only("with t as (select 1 as x) select x from t").is_ok());
/// let err = check_read_only("copy (select 1) to '/tmp/x.csv'").unwrap_err();
/// assert!(err.to_string().contains("COPY"));
/// assert!(check_read_only("insert into stg_accounts select * from stg_accounts").is_err());
/// assert!(check_read_only("select pg_read_file('/etc/passwd')").is_err());
/// assert!(check_read_only("select * from 'file:///etc/passwd'").is_err());
/// ```
pub fn check_read_only(sql: &str) -> Result<(), PipelineError> {
    let statements = DFParser::parse_sql_with_dialect(sql, &GenericDialect {})
        .map_err(|e| PipelineError::Query(format!("the SQL does not parse: {e}")))?;
    if statements.len() != 1 {
        return Err(refuse(&format!(
            "{} statements in one query",
            statements.len()
        )));
    }
    check_read_only_df_statement(&statements[0])
}

/// [`check_read_only`] for one statement as DataFusion's parser returns it (which knows
/// `CREATE EXTERNAL TABLE` and `COPY ... TO`).
pub fn check_read_only_df_statement(statement: &DfStatement) -> Result<(), PipelineError> {
    match statement {
        DfStatement::Explain(explain) => check_read_only_df_statement(&explain.statement),
        DfStatement::CreateExternalTable(_) => Err(refuse("CREATE EXTERNAL TABLE")),
        DfStatement::CopyTo(_) => Err(refuse("COPY")),
        DfStatement::Reset(_) => Err(refuse("RESET")),
        DfStatement::Statement(inner) => check_read_only_statement(inner),
    }
}

/// [`check_read_only`] for one parsed SQL statement (what a PostgreSQL-dialect parser returns,
/// as the `serve` endpoint's does).
pub fn check_read_only_statement(statement: &Statement) -> Result<(), PipelineError> {
    read_only_statement(statement).map_err(|w| refuse(&w))?;
    reaches_outside(statement).map_or(Ok(()), |what| {
        Err(PipelineError::OutsideWarehouse(format!(
            "{what} is not allowed: a query reads the warehouse's committed tables and nothing else"
        )))
    })
}

fn refuse(what: &str) -> PipelineError {
    PipelineError::ReadOnly(format!(
        "{what} is not allowed: the warehouse is read here, never written; a query may only \
         read the committed tables (SELECT, WITH, VALUES, EXPLAIN, SHOW, DESCRIBE)"
    ))
}

/// Functions that read or write files, URLs or other databases in the engines analysts know
/// (PostgreSQL, DuckDB, DataFusion's CLI). None is registered in a Touchstone session; they
/// are refused by name so that one added to the engine later cannot open a way out.
const OUTSIDE_FUNCTIONS: &[&str] = &[
    "pg_read_file",
    "pg_read_binary_file",
    "pg_ls_dir",
    "pg_stat_file",
    "pg_ls_logdir",
    "pg_ls_waldir",
    "pg_ls_tmpdir",
    "lo_import",
    "lo_export",
    "dblink",
    "read_csv",
    "read_csv_auto",
    "read_parquet",
    "read_json",
    "read_json_auto",
    "read_ndjson",
    "read_avro",
    "read_arrow",
    "read_text",
    "read_blob",
    "parquet_metadata",
    "parquet_scan",
];

/// The first function call or table name in `statement` that would reach outside the
/// warehouse: a file or URL function, or a path or URL where a table name goes
/// (`select * from '/etc/passwd'`).
fn reaches_outside(statement: &Statement) -> Option<String> {
    use datafusion::sql::sqlparser::ast::{Expr as SqlExpr, ObjectName, visit_expressions};
    use std::ops::ControlFlow;
    let function = |name: &ObjectName| {
        let last = name.0.last().map(|p| p.to_string()).unwrap_or_default();
        let last = last.trim_matches('"').to_lowercase();
        OUTSIDE_FUNCTIONS
            .contains(&last.as_str())
            .then(|| format!("the function {last}()"))
    };
    let path = |name: &ObjectName| {
        let text = name.to_string();
        let bare = text.trim_matches(|c| c == '"' || c == '\'' || c == '`');
        (bare.contains('/') || bare.contains("://") || bare.contains('\\'))
            .then(|| format!("reading the file or URL {bare}"))
    };
    let mut found = None;
    let _ = visit_relations_with_args(statement, &mut |name, is_call| {
        found = if is_call { function(name) } else { path(name) };
        if found.is_some() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    if found.is_some() {
        return found;
    }
    let _ = visit_expressions(statement, |expr| {
        if let SqlExpr::Function(f) = expr {
            found = function(&f.name);
        }
        if found.is_some() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    found
}

/// Calls `f` with each relation of `statement` and whether it is a table function call
/// (`from read_parquet('x')`) rather than a table name.
fn visit_relations_with_args(
    statement: &Statement,
    f: &mut dyn FnMut(
        &datafusion::sql::sqlparser::ast::ObjectName,
        bool,
    ) -> std::ops::ControlFlow<()>,
) -> std::ops::ControlFlow<()> {
    use datafusion::sql::sqlparser::ast::{TableFactor, Visit, Visitor};
    struct Relations<'a>(
        &'a mut dyn FnMut(
            &datafusion::sql::sqlparser::ast::ObjectName,
            bool,
        ) -> std::ops::ControlFlow<()>,
    );
    impl Visitor for Relations<'_> {
        type Break = ();
        fn pre_visit_table_factor(
            &mut self,
            factor: &TableFactor,
        ) -> std::ops::ControlFlow<Self::Break> {
            match factor {
                TableFactor::Table { name, args, .. } => (self.0)(name, args.is_some()),
                TableFactor::Function { name, .. } => (self.0)(name, true),
                _ => std::ops::ControlFlow::Continue(()),
            }
        }
    }
    statement.visit(&mut Relations(f))
}

fn read_only_statement(statement: &Statement) -> Result<(), String> {
    match statement {
        Statement::Query(query) => {
            if query_writes(query) {
                Err("SELECT ... INTO".into())
            } else {
                Ok(())
            }
        }
        Statement::Explain { statement, .. } => read_only_statement(statement),
        Statement::ShowTables { .. }
        | Statement::ShowColumns { .. }
        | Statement::ExplainTable { .. } => Ok(()),
        other => {
            let text = other.to_string();
            let keyword: Vec<&str> = text.split_whitespace().take(2).collect();
            Err(keyword.join(" ").to_uppercase())
        }
    }
}

/// `SELECT ... INTO t` creates a table.
fn query_writes(query: &datafusion::sql::sqlparser::ast::Query) -> bool {
    use datafusion::sql::sqlparser::ast::SetExpr;
    fn body_writes(body: &SetExpr) -> bool {
        match body {
            SetExpr::Select(select) => select.into.is_some(),
            SetExpr::Query(q) => body_writes(&q.body),
            SetExpr::SetOperation { left, right, .. } => body_writes(left) || body_writes(right),
            SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_) | SetExpr::Merge(_) => {
                true
            }
            _ => false,
        }
    }
    body_writes(&query.body)
}

/// The engine's own guard, behind [`check_read_only`]: no DDL, no DML (which includes `COPY`),
/// no statements that change the session.
fn read_only_options() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

/// A table that can be scanned and nothing else: inserts are refused whatever the provider
/// underneath supports.
#[derive(Debug)]
pub(crate) struct ReadOnlyTable(pub(crate) Arc<dyn TableProvider>);

#[async_trait]
impl TableProvider for ReadOnlyTable {
    fn schema(&self) -> SchemaRef {
        self.0.schema()
    }
    fn table_type(&self) -> TableType {
        self.0.table_type()
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
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DfResult<Vec<TableProviderFilterPushDown>> {
        self.0.supports_filters_pushdown(filters)
    }
    fn statistics(&self) -> Option<datafusion::common::Statistics> {
        self.0.statistics()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn rows() -> Vec<RecordBatch> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("metric", DataType::Utf8, false),
            Field::new("n", DataType::Int64, false),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec!["csat_pct", "nps"])),
                Arc::new(Int64Array::from(vec![3, 1])),
            ],
        )
        .unwrap();
        vec![batch]
    }

    fn text(format: RowFormat) -> String {
        let mut out = Vec::new();
        write_rows(&rows(), format, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[tokio::test]
    async fn a_comparison_needs_metric_values() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines/metrics");
        let library = touchstone_core::config::load_metrics(&dir).unwrap();
        let metric = library.get("csat_pct").unwrap();
        let reader =
            WarehouseReader::open(&Url::parse("memory://compare-empty/").unwrap()).unwrap();
        let day = |d| NaiveDate::from_ymd_opt(2026, 9, d).unwrap();
        let err = reader
            .compare(metric, (day(1), day(10)), (day(11), day(20)), 0.05)
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("the warehouse has no metric_values; run the pipeline first: "),
            "{err}"
        );
    }

    #[test]
    fn rows_print_as_a_table_csv_or_json() {
        assert_eq!(
            text(RowFormat::Table),
            "+----------+---+\n\
             | metric   | n |\n\
             +----------+---+\n\
             | csat_pct | 3 |\n\
             | nps      | 1 |\n\
             +----------+---+\n\
             (2 rows)\n"
        );
        assert_eq!(text(RowFormat::Csv), "metric,n\ncsat_pct,3\nnps,1\n");
        assert_eq!(
            text(RowFormat::Json),
            r#"[{"metric":"csat_pct","n":3},{"metric":"nps","n":1}]"#
        );
    }
}
