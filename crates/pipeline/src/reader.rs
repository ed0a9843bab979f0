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

use arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;
use touchstone_core::store;
use touchstone_load::{TableEntry, Warehouse};
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
    /// at its current version; returns the tables too.
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
        Ok((ctx, tables))
    }

    /// Runs `sql` over the committed tables and returns the rows.
    pub async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>, PipelineError> {
        let (ctx, tables) = self.session().await?;
        if tables.is_empty() {
            return Err(PipelineError::Query(format!(
                "no tables in {}; run a pipeline first (`make run` or `touchstone run pipelines/customer_success.yaml`)",
                self.warehouse.root()
            )));
        }
        let df = ctx.sql(sql).await.map_err(|e| {
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
