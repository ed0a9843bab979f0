//! Streaming writes: a producer (an extractor on a blocking thread) sends batches into a
//! bounded channel and one Delta commit consumes them as they come, so memory holds a few
//! batches rather than the whole table.
//!
//! ```no_run
//! # async fn demo(wh: touchstone_load::Warehouse, schema: arrow::datatypes::SchemaRef,
//! #               batch: arrow::record_batch::RecordBatch) -> Result<(), touchstone_load::LoadError> {
//! use touchstone_load::{TableKind, WriteMode};
//! let writer = wh.stream_writer(TableKind::Staging, "stg_x", schema, WriteMode::Overwrite)?;
//! let sender = writer.sender();
//! tokio::task::spawn_blocking(move || sender.send(batch)).await.ok();
//! let written = writer.finish().await?;
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::{Arc, Mutex};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::catalog::streaming::StreamingTable;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::{LoadError, TableKind, Warehouse, WriteMode, Written, delta_session, engine_error};

/// Batches in flight per table: enough to keep the writer busy, small enough to bound memory.
const CHANNEL_BATCHES: usize = 8;

/// One table being written from a stream of batches.
pub struct TableStream {
    sender: BatchSender,
    writer: Option<JoinHandle<Result<Written, LoadError>>>,
}

/// The producing end of a [`TableStream`]; cheap to clone, usable from blocking threads.
#[derive(Clone)]
pub struct BatchSender {
    table: String,
    tx: mpsc::Sender<RecordBatch>,
}

/// The writer stopped (it failed, or the commit was abandoned) before the producer was done.
#[derive(Debug, thiserror::Error)]
#[error("the writer of {table} stopped before all rows were sent")]
pub struct WriterGone {
    /// The table.
    pub table: String,
}

impl BatchSender {
    /// Sends one batch, waiting while the channel is full. Call from a blocking thread (not
    /// from async code): it blocks until the writer takes the batch.
    pub fn send(&self, batch: RecordBatch) -> Result<(), WriterGone> {
        self.tx.blocking_send(batch).map_err(|_| WriterGone {
            table: self.table.clone(),
        })
    }
}

impl BatchSender {
    /// Sends one batch from async code, waiting while the channel is full.
    pub async fn send_async(&self, batch: RecordBatch) -> Result<(), WriterGone> {
        self.tx.send(batch).await.map_err(|_| WriterGone {
            table: self.table.clone(),
        })
    }
}

impl fmt::Debug for TableStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TableStream")
            .field("table", &self.sender.table)
            .finish()
    }
}

impl TableStream {
    /// A sender for the producer.
    pub fn sender(&self) -> BatchSender {
        self.sender.clone()
    }

    /// Closes the stream and waits for the commit. Every sender must have been dropped.
    pub async fn finish(mut self) -> Result<Written, LoadError> {
        let table = self.sender.table.clone();
        let Some(writer) = self.writer.take() else {
            return Err(LoadError::Engine {
                context: format!("writing {table}"),
                source: Box::new(datafusion::error::DataFusionError::Internal(
                    "finished twice".into(),
                )),
            });
        };
        // Close our end; the stream ends when the producer's clones are gone too.
        let (closed, _) = mpsc::channel(1);
        drop(std::mem::replace(&mut self.sender.tx, closed));
        writer.await.map_err(|e| LoadError::Engine {
            context: format!("writing {table}"),
            source: Box::new(datafusion::error::DataFusionError::External(Box::new(e))),
        })?
    }
}

impl Drop for TableStream {
    /// A stream dropped without [`TableStream::finish`] abandons its write: nothing is committed.
    fn drop(&mut self) {
        if let Some(writer) = self.writer.take() {
            writer.abort();
        }
    }
}

impl Warehouse {
    /// Starts a commit of `kind`/`name` fed by the returned stream's senders. The commit
    /// happens when every sender is dropped and [`TableStream::finish`] is awaited; if the
    /// producer fails, dropping the stream without finishing abandons the write (nothing is
    /// committed).
    pub fn stream_writer(
        &self,
        kind: TableKind,
        name: &str,
        schema: SchemaRef,
        mode: WriteMode,
    ) -> Result<TableStream, LoadError> {
        let (tx, rx) = mpsc::channel(CHANNEL_BATCHES);
        let partition = Arc::new(ChannelPartition {
            schema: Arc::clone(&schema),
            rx: Mutex::new(Some(rx)),
        });
        let table = StreamingTable::try_new(Arc::clone(&schema), vec![partition])
            .map_err(|e| engine_error(format!("streaming into {name}"), e))?;
        let ctx = delta_session();
        let plan = ctx
            .read_table(Arc::new(table))
            .map_err(|e| engine_error(format!("streaming into {name}"), e))?
            .logical_plan()
            .clone();
        let warehouse = self.clone();
        let table_name = name.to_string();
        let writer = tokio::spawn(async move {
            warehouse
                .write_plan(kind, &table_name, Arc::new(ctx.state()), plan, mode)
                .await
        });
        Ok(TableStream {
            sender: BatchSender {
                table: format!("{}/{name}", kind.prefix()),
                tx,
            },
            writer: Some(writer),
        })
    }
}

/// A stream partition whose batches arrive through a channel; it can be executed once.
struct ChannelPartition {
    schema: SchemaRef,
    rx: Mutex<Option<mpsc::Receiver<RecordBatch>>>,
}

impl fmt::Debug for ChannelPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChannelPartition").finish_non_exhaustive()
    }
}

impl PartitionStream for ChannelPartition {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let rx = self.rx.lock().unwrap_or_else(|e| e.into_inner()).take();
        let stream = futures::stream::unfold(rx, |rx| async move {
            match rx {
                Some(mut rx) => rx.recv().await.map(|batch| (Ok(batch), Some(rx))),
                None => Some((
                    Err(datafusion::error::DataFusionError::Internal(
                        "a streamed table can only be read once".into(),
                    )),
                    None,
                )),
            }
        });
        Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            stream,
        ))
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use url::Url;

    use super::*;
    use crate::read_all;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_batches_stream_into_one_commit() {
        let wh = Warehouse::open(&Url::parse("memory://stream-test/wh").unwrap()).unwrap();
        let schema = Arc::new(Schema::new(vec![
            Field::new("v", DataType::Int64, false),
            Field::new("_source", DataType::Utf8, false),
        ]));
        let mode = WriteMode::ReplacePartition {
            column: "_source".into(),
            value: "s".into(),
        };
        let writer = wh
            .stream_writer(
                TableKind::Staging,
                "stg_s",
                Arc::clone(&schema),
                mode.clone(),
            )
            .unwrap();
        let sender = writer.sender();
        let batch_schema = Arc::clone(&schema);
        // Far more batches than the channel holds: the producer waits for the writer.
        tokio::task::spawn_blocking(move || {
            for i in 0..100i64 {
                let batch = RecordBatch::try_new(
                    Arc::clone(&batch_schema),
                    vec![
                        Arc::new(Int64Array::from(vec![i; 10])),
                        Arc::new(StringArray::from(vec!["s"; 10])),
                    ],
                )
                .unwrap();
                sender.send(batch).unwrap();
            }
        })
        .await
        .unwrap();
        let written = writer.finish().await.unwrap();
        assert_eq!(written.rows, 1000);
        assert_eq!(written.version, 0);

        // An empty stream replaces the partition with nothing.
        let empty = wh
            .stream_writer(TableKind::Staging, "stg_s", schema, mode)
            .unwrap();
        assert_eq!(empty.finish().await.unwrap().rows, 0);
        let rows: usize = read_all(&wh, TableKind::Staging, "stg_s")
            .await
            .unwrap()
            .iter()
            .map(|b| b.num_rows())
            .sum();
        assert_eq!(rows, 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dropped_stream_commits_nothing() {
        let wh = Warehouse::open(&Url::parse("memory://stream-abort-test/wh").unwrap()).unwrap();
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]));
        let writer = wh
            .stream_writer(
                TableKind::Mart,
                "m",
                Arc::clone(&schema),
                WriteMode::Overwrite,
            )
            .unwrap();
        let sender = writer.sender();
        let batch =
            RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![1, 2]))]).unwrap();
        tokio::task::spawn_blocking(move || sender.send(batch))
            .await
            .unwrap()
            .unwrap();
        drop(writer);
        // Without the abort, closing the channel would let the commit land within milliseconds.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert!(wh.open_table(TableKind::Mart, "m").await.unwrap().is_none());
    }
}
