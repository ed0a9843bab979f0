//! What an incremental run remembers of the at-least-once records each source staged, in
//! `_touchstone/seen` (SQL name `_touchstone_seen`): one row per staged record of a deduplicated
//! stream (Amazon Connect contact trace records, Segment/RudderStack events, ...), with the file
//! that staged it, a 64-bit hash of its kind and id, and its version. The next run seeds its
//! duplicate check with the rows of the files it does not read again, so a record delivered
//! again in a later day's file is counted as a duplicate, as a full refresh would count it.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::execution::SendableRecordBatchStream;

use crate::{LoadError, TableKind, TableStream, Warehouse, WriteMode, per_source};

/// The name of the table under `_touchstone/`.
pub const TABLE: &str = "seen";

/// Rows per batch written: a batch's strings (the file's URL on every row) stay a few MB.
const BATCH_ROWS: usize = 64 * 1024;

/// Schema of `_touchstone/seen`.
pub fn seen_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("source", DataType::Utf8, false),
        Field::new("file", DataType::Utf8, false),
        Field::new("key", DataType::Int64, false),
        Field::new("version", DataType::Int64, false),
    ]))
}

/// Starts replacing the recorded records of `source`: send it batches ([`batches`], and the
/// kept rows of [`read`]), then finish it for one commit, or drop it to change nothing.
pub fn writer(wh: &Warehouse, source: &str) -> Result<TableStream, LoadError> {
    wh.stream_writer(
        TableKind::System,
        TABLE,
        seen_schema(),
        WriteMode::ReplacePartition {
            column: "source".into(),
            value: source.into(),
        },
    )
}

/// The rows of `source` staged from `file`, (id hash, version) each, as batches of
/// `_touchstone/seen`.
pub fn batches(
    source: &str,
    file: &str,
    records: &[(u64, i64)],
) -> Result<Vec<RecordBatch>, LoadError> {
    records
        .chunks(BATCH_ROWS)
        .map(|chunk| {
            let columns: Vec<ArrayRef> = vec![
                Arc::new(StringArray::from_iter_values(chunk.iter().map(|_| source))),
                Arc::new(StringArray::from_iter_values(chunk.iter().map(|_| file))),
                // The hash's bits, stored as a signed integer.
                Arc::new(Int64Array::from_iter_values(
                    chunk.iter().map(|r| r.0 as i64),
                )),
                Arc::new(Int64Array::from_iter_values(chunk.iter().map(|r| r.1))),
            ];
            RecordBatch::try_new(seen_schema(), columns).map_err(|e| LoadError::Engine {
                context: format!("building _touchstone/{TABLE} rows"),
                source: Box::new(e.into()),
            })
        })
        .collect()
}

/// The records `source` staged, as last recorded, streamed in batches (`None` when nothing
/// was ever recorded). Give each batch to [`Rows::of`].
pub async fn read(
    wh: &Warehouse,
    source: &str,
) -> Result<Option<SendableRecordBatchStream>, LoadError> {
    per_source::read_stream(wh, TABLE, source).await
}

/// One batch of recorded rows, by column.
#[derive(Debug)]
pub struct Rows {
    source: StringArray,
    file: StringArray,
    key: Int64Array,
    version: Int64Array,
}

impl Rows {
    /// The columns of a batch [`read`] gave (the partition column comes back last, strings
    /// may come back as views).
    pub fn of(batch: &RecordBatch) -> Result<Rows, LoadError> {
        let column = |n: &str, t: &DataType| per_source::column(batch, n, t);
        let (Some(source), Some(file), Some(key), Some(version)) = (
            column("source", &DataType::Utf8),
            column("file", &DataType::Utf8),
            column("key", &DataType::Int64),
            column("version", &DataType::Int64),
        ) else {
            return Err(per_source::shape_error(TABLE));
        };
        let string = |a: ArrayRef| a.as_any().downcast_ref::<StringArray>().cloned();
        let int = |a: ArrayRef| a.as_any().downcast_ref::<Int64Array>().cloned();
        let (Some(source), Some(file), Some(key), Some(version)) =
            (string(source), string(file), int(key), int(version))
        else {
            return Err(per_source::shape_error(TABLE));
        };
        Ok(Rows {
            source,
            file,
            key,
            version,
        })
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.key.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.key.is_empty()
    }

    /// Row `i`: (file, id hash, version).
    pub fn get(&self, i: usize) -> (&str, u64, i64) {
        (
            self.file.value(i),
            self.key.value(i) as u64,
            self.version.value(i),
        )
    }

    /// The rows for which `keep` holds, as a batch of `_touchstone/seen`.
    pub fn filtered(&self, keep: &BooleanArray) -> Result<RecordBatch, LoadError> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.source.clone()),
            Arc::new(self.file.clone()),
            Arc::new(self.key.clone()),
            Arc::new(self.version.clone()),
        ];
        RecordBatch::try_new(seen_schema(), columns)
            .and_then(|b| arrow::compute::filter_record_batch(&b, keep))
            .map_err(|e| LoadError::Engine {
                context: format!("keeping rows of _touchstone/{TABLE}"),
                source: Box::new(e.into()),
            })
    }
}

#[cfg(test)]
mod tests {
    use futures::TryStreamExt;

    use super::*;

    async fn rows(wh: &Warehouse, source: &str) -> Vec<(String, u64, i64)> {
        let Some(stream) = read(wh, source).await.unwrap() else {
            return Vec::new();
        };
        let batches: Vec<RecordBatch> = stream.try_collect().await.unwrap();
        let mut out = Vec::new();
        for b in &batches {
            let r = Rows::of(b).unwrap();
            for i in 0..r.len() {
                let (f, k, v) = r.get(i);
                out.push((f.to_string(), k, v));
            }
        }
        out.sort();
        out
    }

    async fn write(wh: &Warehouse, source: &str, file: &str, records: &[(u64, i64)]) {
        let w = writer(wh, source).unwrap();
        let tx = w.sender();
        for b in batches(source, file, records).unwrap() {
            tx.send_async(b).await.unwrap();
        }
        drop(tx);
        w.finish().await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rows_round_trip_per_source_with_every_hash_bit() {
        let wh = Warehouse::open(&url::Url::parse("memory://seen-test/").unwrap()).unwrap();
        assert!(read(&wh, "a").await.unwrap().is_none());
        write(&wh, "a", "f1", &[(u64::MAX, i64::MIN), (7, 1_000)]).await;
        write(&wh, "b", "f1", &[(1, 1)]).await;
        assert_eq!(
            rows(&wh, "a").await,
            [("f1".into(), 7, 1_000), ("f1".into(), u64::MAX, i64::MIN)]
        );
        write(&wh, "a", "f2", &[]).await;
        assert!(rows(&wh, "a").await.is_empty());
        assert_eq!(rows(&wh, "b").await.len(), 1);
    }

    /// More rows than one batch holds are written in several and all come back.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_rows_are_written_in_batches() {
        let wh = Warehouse::open(&url::Url::parse("memory://seen-many/").unwrap()).unwrap();
        let records: Vec<(u64, i64)> = (0..(BATCH_ROWS as u64 * 2 + 5))
            .map(|k| (k, k as i64))
            .collect();
        let b = batches("s", "f", &records).unwrap();
        assert_eq!(b.len(), 3);
        write(&wh, "s", "f", &records).await;
        let back = rows(&wh, "s").await;
        assert_eq!(back.len(), records.len());
        assert_eq!(back.last().unwrap().1, records.len() as u64 - 1);
    }
}
