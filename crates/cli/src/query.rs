//! `touchstone query`: SQL over the committed tables of a warehouse.

use std::io::Write;

use anyhow::Context as _;
use arrow::record_batch::RecordBatch;
use touchstone_load::Warehouse;
use touchstone_transform::SessionOptions;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// An aligned text table.
    Table,
    /// CSV with a header.
    Csv,
    /// A JSON array of objects.
    Json,
}

/// Runs `sql` over every table in `warehouse` and returns the rows.
pub async fn query(warehouse: &Warehouse, sql: &str) -> anyhow::Result<Vec<RecordBatch>> {
    let ctx = touchstone_transform::new_session(&SessionOptions::default())?;
    let tables = warehouse.register_all(&ctx).await?;
    if tables.is_empty() {
        anyhow::bail!(
            "no tables in {}; run a pipeline first (`make run` or `touchstone run pipelines/customer_success.yaml`)",
            warehouse.root()
        );
    }
    let df = ctx.sql(sql).await.map_err(|e| {
        let names: Vec<String> = tables.iter().map(|t| t.sql_name()).collect();
        anyhow::anyhow!("{}\n  tables: {}", e.strip_backtrace(), names.join(", "))
    })?;
    df.collect().await.context("running the query")
}

/// Prints `batches` in `format`.
pub fn print(batches: &[RecordBatch], format: Format, out: &mut dyn Write) -> anyhow::Result<()> {
    match format {
        Format::Table => {
            let text = arrow::util::pretty::pretty_format_batches(batches)?;
            writeln!(out, "{text}")?;
            let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
            writeln!(out, "({rows} row{})", if rows == 1 { "" } else { "s" })?;
        }
        Format::Csv => {
            let mut writer = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(out);
            for b in batches {
                writer.write(b)?;
            }
        }
        Format::Json => {
            let mut writer = arrow::json::ArrayWriter::new(out);
            let refs: Vec<&RecordBatch> = batches.iter().collect();
            writer.write_batches(&refs)?;
            writer.finish()?;
        }
    }
    Ok(())
}
