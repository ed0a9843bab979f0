//! A long-running reader's view of a warehouse (what `touchstone serve` builds on): the
//! committed tables, each pinned to one version, refreshed when a commit lands.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use touchstone_pipeline::{ReadSessionOptions, WarehouseReader, read_session};
//! let reader = WarehouseReader::open(&url::Url::parse("memory://live-doc/")?)?;
//! let ctx = read_session(&ReadSessionOptions::default())?;
//! // Nothing committed yet; a later call passes the tables it had so that unchanged ones are
//! // kept as they are.
//! let tables = reader.committed_tables(&ctx, &[]).await?;
//! assert!(tables.is_empty());
//! # Ok(()) }
//! ```

use std::sync::Arc;

use datafusion::datasource::TableProvider;
use datafusion::prelude::SessionContext;
use touchstone_load::TableEntry;
use touchstone_transform::SessionOptions;

use crate::reader::ReadOnlyTable;
use crate::{PipelineError, WarehouseReader};

/// Limits of a session that serves reads.
#[derive(Debug, Clone, Default)]
pub struct ReadSessionOptions {
    /// Memory all queries of the session may hold at once (bytes); a query that needs more
    /// fails with a resources-exhausted error. Unbounded when `None`.
    pub memory_limit_bytes: Option<u64>,
    /// Parallelism of one query; the number of cores when `None`.
    pub target_partitions: Option<usize>,
}

/// A session for reading a warehouse over a long time: Touchstone's scalar functions and
/// `information_schema`, with a memory pool shared by every query run in it. The model table
/// functions (`customer_value_model`, ...) and `pipeline_settings` are left out: they belong
/// to a run, and the functions cache fits by table name, which would go stale as commits land.
pub fn read_session(options: &ReadSessionOptions) -> Result<SessionContext, PipelineError> {
    let ctx = touchstone_transform::new_session(&SessionOptions {
        memory_limit_bytes: options.memory_limit_bytes,
        target_partitions: options.target_partitions,
        ..SessionOptions::default()
    })?;
    for name in touchstone_transform::native::FUNCTIONS {
        ctx.deregister_udtf(name);
    }
    ctx.deregister_table(touchstone_transform::PIPELINE_SETTINGS)
        .map_err(PipelineError::engine("preparing the read session"))?;
    Ok(ctx)
}

/// One committed table at one version: its provider reads that version only, and refuses
/// anything but a scan.
#[derive(Debug, Clone)]
pub struct CommittedTable {
    /// Which table.
    pub entry: TableEntry,
    /// The Delta version the provider reads.
    pub version: u64,
    /// The read-only provider.
    pub provider: Arc<dyn TableProvider>,
}

impl WarehouseReader {
    /// Every committed table of the warehouse at its latest version, sorted by kind and name.
    /// A table of `previous` whose version has not moved is returned as it was (only the
    /// latest version number is asked of the store); a new or changed table is opened at its
    /// new version. A table that cannot be read is logged and left out rather than failing
    /// the others; listing the warehouse itself must succeed.
    pub async fn committed_tables(
        &self,
        ctx: &SessionContext,
        previous: &[CommittedTable],
    ) -> Result<Vec<CommittedTable>, PipelineError> {
        let warehouse = self.warehouse();
        let entries = warehouse
            .list_tables()
            .await
            .map_err(PipelineError::storage(format!(
                "listing the tables of {}",
                warehouse.root()
            )))?;
        let mut tables = Vec::with_capacity(entries.len());
        for entry in entries {
            let known = previous.iter().find(|t| t.entry == entry);
            if let Some(known) = known {
                match warehouse.latest_version(&entry, known.version).await {
                    Ok(latest) if latest == known.version => {
                        tables.push(known.clone());
                        continue;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(table = %entry.sql_name(), "keeping version {}: {e}", known.version);
                        tables.push(known.clone());
                        continue;
                    }
                }
            }
            match warehouse.versioned_provider(ctx, &entry).await {
                Ok(Some((version, provider))) => {
                    tracing::debug!(table = %entry.sql_name(), version, "opened");
                    tables.push(CommittedTable {
                        entry,
                        version,
                        provider: Arc::new(ReadOnlyTable(provider)),
                    });
                }
                Ok(None) => {}
                Err(e) => match known {
                    Some(known) => {
                        tracing::warn!(table = %entry.sql_name(), "keeping version {}: {e}", known.version);
                        tables.push(known.clone());
                    }
                    None => tracing::warn!(table = %entry.sql_name(), "left out: {e}"),
                },
            }
        }
        Ok(tables)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field, Schema};
    use arrow::record_batch::RecordBatch;
    use touchstone_load::{TableKind, WriteMode};

    use super::*;

    async fn write(reader: &WarehouseReader, name: &str, values: Vec<i64>) {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        let batch =
            RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(values))]).unwrap();
        reader
            .warehouse()
            .write_batches(
                TableKind::Mart,
                name,
                schema,
                vec![batch],
                WriteMode::Overwrite,
            )
            .await
            .unwrap();
    }

    async fn count(ctx: &SessionContext, table: &CommittedTable) -> usize {
        let df = ctx.read_table(Arc::clone(&table.provider)).unwrap();
        df.count().await.unwrap()
    }

    #[tokio::test]
    async fn a_commit_shows_in_the_next_listing_and_an_old_provider_keeps_its_version() {
        let reader =
            WarehouseReader::open(&url::Url::parse("memory://live-test/").unwrap()).unwrap();
        let ctx = read_session(&ReadSessionOptions::default()).unwrap();
        write(&reader, "a", vec![1, 2]).await;
        write(&reader, "b", vec![1]).await;
        let first = reader.committed_tables(&ctx, &[]).await.unwrap();
        assert_eq!(first.len(), 2);
        assert_eq!(first[0].version, 0);

        write(&reader, "a", vec![1, 2, 3]).await;
        let second = reader.committed_tables(&ctx, &first).await.unwrap();
        assert_eq!(second[0].version, 1);
        assert_eq!(count(&ctx, &second[0]).await, 3);
        // The unchanged table is the same provider; the old one still reads version 0.
        assert!(Arc::ptr_eq(&first[1].provider, &second[1].provider));
        assert_eq!(count(&ctx, &first[0]).await, 2);
    }

    #[tokio::test]
    async fn the_read_session_has_no_model_functions() {
        let ctx = read_session(&ReadSessionOptions::default()).unwrap();
        let err = ctx
            .sql("select * from customer_value_model('customer_rfm')")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("customer_value_model"), "{err}");
        assert!(ctx.sql("select * from pipeline_settings").await.is_err());
    }
}
