//! Golden tests for the SQL models: each `tests/slt/*.slt` file inserts a few staging rows into
//! a session that has every model of `sql/` planned as a view, and pins the models' output
//! (sqllogictest format; `query error <regex>` pins error text).

use std::path::Path;

use async_trait::async_trait;
use chrono::NaiveDate;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;
use sqllogictest::{DBOutput, DefaultColumnType, Runner};
use touchstone_transform::SessionOptions;

use crate::common::repo_root;

/// The run date every golden file is evaluated at.
const RUN_DATE: (i32, u32, u32) = (2026, 8, 31);

struct Models {
    ctx: SessionContext,
}

impl Models {
    async fn new() -> Result<Models, DataFusionError> {
        let ctx = touchstone_transform::new_session(&SessionOptions {
            target_partitions: Some(2),
            ..SessionOptions::default()
        })
        .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let external =
            |e: touchstone_transform::TransformError| DataFusionError::External(Box::new(e));
        touchstone_transform::register_empty_staging(&ctx).map_err(external)?;
        let date = NaiveDate::from_ymd_opt(RUN_DATE.0, RUN_DATE.1, RUN_DATE.2).unwrap_or_default();
        touchstone_transform::register_run_context(&ctx, "golden", "golden", date)
            .map_err(external)?;
        let root = repo_root();
        let models = touchstone_transform::load_models(&root.join("sql"), &root, &ctx.state())
            .and_then(|m| {
                touchstone_transform::order_models(m, &touchstone_transform::input_tables())
            })
            .map_err(|d| DataFusionError::Plan(d.to_string()))?;
        touchstone_transform::plan_models(&ctx, &models)
            .await
            .map_err(|d| DataFusionError::Plan(d.to_string()))?;
        Ok(Models { ctx })
    }
}

#[async_trait]
impl sqllogictest::AsyncDB for Models {
    type Error = DataFusionError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, DataFusionError> {
        let df = self.ctx.sql(sql).await?;
        let is_query = !sql.trim_start().to_lowercase().starts_with("insert");
        let batches = df.collect().await?;
        if !is_query {
            let count = batches.iter().map(|b| b.num_rows() as u64).sum();
            return Ok(DBOutput::StatementComplete(count));
        }
        let options = FormatOptions::default().with_null("NULL");
        let mut rows = Vec::new();
        let mut columns = 0;
        for batch in &batches {
            columns = batch.num_columns();
            let formatters = batch
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
                .collect::<Result<Vec<_>, _>>()?;
            for row in 0..batch.num_rows() {
                rows.push(
                    formatters
                        .iter()
                        .map(|f| {
                            let text = f.value(row).to_string();
                            if text.is_empty() {
                                "(empty)".to_string()
                            } else {
                                text
                            }
                        })
                        .collect(),
                );
            }
        }
        Ok(DBOutput::Rows {
            types: vec![DefaultColumnType::Any; columns],
            rows,
        })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "touchstone"
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sql_models_match_their_golden_files() {
    let dir = repo_root().join("tests/slt");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/slt")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "golden files: {files:?}");
    let mut failures = Vec::new();
    for file in &files {
        let mut runner = Runner::new(|| async { Models::new().await });
        if let Err(e) = runner.run_file_async(file).await {
            failures.push(format!("{}:\n{e}", display(file)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn display(path: &Path) -> String {
    path.strip_prefix(repo_root())
        .unwrap_or(path)
        .display()
        .to_string()
}
