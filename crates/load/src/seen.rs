//! What an incremental run remembers of the at-least-once records each source staged, in
//! `_touchstone/seen` (SQL name `_touchstone_seen`): one row per staged record of a deduplicated
//! stream (Amazon Connect contact trace records, Segment/RudderStack events, ...), with the file
//! that staged it, a 64-bit hash of its kind and id, and its version. The next run seeds its
//! duplicate check with the rows of the files it does not read again, so a record delivered
//! again in a later day's file is counted as a duplicate, as a full refresh would count it.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::{LoadError, Warehouse, per_source};

/// The name of the table under `_touchstone/`.
pub const TABLE: &str = "seen";

/// One staged record of a deduplicated stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The file that staged it (its URL, the `_source_file` of its row).
    pub file: String,
    /// The hash of its kind and id.
    pub key: u64,
    /// Its version (a timestamp in µs, or `i64::MIN` for records without versions).
    pub version: i64,
}

/// Schema of `_touchstone/seen`.
pub fn seen_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("source", DataType::Utf8, false),
        Field::new("file", DataType::Utf8, false),
        Field::new("key", DataType::Int64, false),
        Field::new("version", DataType::Int64, false),
    ]))
}

/// The records `source` staged, as last recorded (empty when none were).
pub async fn read(wh: &Warehouse, source: &str) -> Result<Vec<Seen>, LoadError> {
    let batches = per_source::read(wh, TABLE, source).await?;
    let mut out = Vec::new();
    for b in &batches {
        let column = |n: &str, t: &DataType| per_source::column(b, n, t);
        let (Some(file), Some(key), Some(version)) = (
            column("file", &DataType::Utf8),
            column("key", &DataType::Int64),
            column("version", &DataType::Int64),
        ) else {
            return Err(per_source::shape_error(TABLE));
        };
        let (Some(file), Some(key), Some(version)) = (
            file.as_any().downcast_ref::<StringArray>(),
            key.as_any().downcast_ref::<Int64Array>(),
            version.as_any().downcast_ref::<Int64Array>(),
        ) else {
            return Err(per_source::shape_error(TABLE));
        };
        for i in 0..b.num_rows() {
            out.push(Seen {
                file: file.value(i).to_string(),
                key: key.value(i) as u64,
                version: version.value(i),
            });
        }
    }
    Ok(out)
}

/// Replaces the recorded records of `source` with `rows` (one commit).
pub async fn write(wh: &Warehouse, source: &str, rows: &[Seen]) -> Result<(), LoadError> {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(rows.iter().map(|_| source))),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.file.as_str()),
        )),
        // The hash's bits, stored as a signed integer.
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|r| r.key as i64),
        )),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.version))),
    ];
    per_source::replace(wh, TABLE, seen_schema(), columns, source).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn rows_round_trip_per_source_with_every_hash_bit() {
        let wh = Warehouse::open(&url::Url::parse("memory://seen-test/").unwrap()).unwrap();
        let row = |file: &str, key: u64, version: i64| Seen {
            file: file.into(),
            key,
            version,
        };
        assert!(read(&wh, "a").await.unwrap().is_empty());
        let a = [row("f1", u64::MAX, i64::MIN), row("f2", 7, 1_000)];
        write(&wh, "a", &a).await.unwrap();
        write(&wh, "b", &[row("f1", 1, 1)]).await.unwrap();
        let mut back = read(&wh, "a").await.unwrap();
        back.sort_by(|x, y| x.file.cmp(&y.file));
        assert_eq!(back, a);
        write(&wh, "a", &[]).await.unwrap();
        assert!(read(&wh, "a").await.unwrap().is_empty());
        assert_eq!(read(&wh, "b").await.unwrap().len(), 1);
    }
}
