//! What an incremental run remembers of each source file it staged, in `_touchstone/files`
//! (SQL name `_touchstone_files`): one row per source and file, with the size, ETag and
//! modification time it had when it was staged. A file whose size, ETag and time are unchanged
//! is not read again; a changed one is restaged, its old rows replaced.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Int64Array, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use chrono::{DateTime, Utc};
use touchstone_core::schema::timestamp_type;

use crate::{LoadError, Warehouse, per_source};

/// The name of the table under `_touchstone/`.
pub const TABLE: &str = "files";

/// One staged file as it was when staged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileState {
    /// The pipeline source.
    pub source: String,
    /// The file's URL (the `_source_file` of its staged rows).
    pub file: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its ETag, when the store gives one.
    pub e_tag: Option<String>,
    /// When it was last modified.
    pub last_modified: DateTime<Utc>,
    /// A digest of the source's settings when the file was staged: a changed setting
    /// (time zone, encoding, column layout) restages every file of the source.
    pub settings: String,
    /// The run that staged it.
    pub run_id: String,
    /// Records read, staged and rejected from it.
    pub rows_read: u64,
    /// Records staged.
    pub rows_staged: u64,
    /// Records rejected.
    pub rows_rejected: u64,
}

impl FileState {
    /// Whether `other` (a file as listed now) is the same file content as this one was.
    pub fn unchanged(&self, size: u64, e_tag: Option<&str>, last_modified: DateTime<Utc>) -> bool {
        self.size == size
            && match (self.e_tag.as_deref(), e_tag) {
                (Some(a), Some(b)) => a == b,
                _ => self.last_modified == last_modified,
            }
    }
}

/// Schema of `_touchstone/files`.
pub fn files_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("source", DataType::Utf8, false),
        Field::new("file", DataType::Utf8, false),
        Field::new("size", DataType::Int64, false),
        Field::new("e_tag", DataType::Utf8, true),
        Field::new("last_modified", timestamp_type(), false),
        Field::new("settings", DataType::Utf8, false),
        Field::new("run_id", DataType::Utf8, false),
        Field::new("rows_read", DataType::Int64, false),
        Field::new("rows_staged", DataType::Int64, false),
        Field::new("rows_rejected", DataType::Int64, false),
    ]))
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The files of `source` as last staged, by URL (empty when none were).
pub async fn read(wh: &Warehouse, source: &str) -> Result<HashMap<String, FileState>, LoadError> {
    let batches = per_source::read(wh, TABLE, source).await?;
    let mut out = HashMap::new();
    for b in &batches {
        let column = |n: &str, t: &DataType| per_source::column(b, n, t);
        let text_columns: Vec<ArrayRef> = ["source", "file", "e_tag", "settings", "run_id"]
            .iter()
            .filter_map(|n| column(n, &DataType::Utf8))
            .collect();
        let int_columns: Vec<ArrayRef> = ["size", "rows_read", "rows_staged", "rows_rejected"]
            .iter()
            .filter_map(|n| column(n, &DataType::Int64))
            .collect();
        let modified = column("last_modified", &timestamp_type());
        let texts: Vec<&StringArray> = text_columns
            .iter()
            .filter_map(|c| c.as_any().downcast_ref::<StringArray>())
            .collect();
        let ints: Vec<&Int64Array> = int_columns
            .iter()
            .filter_map(|c| c.as_any().downcast_ref::<Int64Array>())
            .collect();
        let modified = modified
            .as_ref()
            .and_then(|c| c.as_any().downcast_ref::<TimestampMicrosecondArray>());
        let ([src, file, e_tag, settings, run_id], [size, read, staged, rejected], Some(modified)) =
            (texts.as_slice(), ints.as_slice(), modified)
        else {
            return Err(per_source::shape_error(TABLE));
        };
        for i in 0..b.num_rows() {
            let state = FileState {
                source: src.value(i).to_string(),
                file: file.value(i).to_string(),
                size: size.value(i).max(0) as u64,
                e_tag: (!e_tag.is_null(i)).then(|| e_tag.value(i).to_string()),
                last_modified: DateTime::from_timestamp_micros(modified.value(i))
                    .unwrap_or_default(),
                settings: settings.value(i).to_string(),
                run_id: run_id.value(i).to_string(),
                rows_read: read.value(i).max(0) as u64,
                rows_staged: staged.value(i).max(0) as u64,
                rows_rejected: rejected.value(i).max(0) as u64,
            };
            out.insert(state.file.clone(), state);
        }
    }
    Ok(out)
}

/// Replaces the recorded files of `source` with `states` (one commit).
pub async fn write(wh: &Warehouse, source: &str, states: &[FileState]) -> Result<(), LoadError> {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            states.iter().map(|s| s.source.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            states.iter().map(|s| s.file.as_str()),
        )),
        Arc::new(Int64Array::from_iter_values(
            states.iter().map(|s| count(s.size)),
        )),
        Arc::new(StringArray::from_iter(
            states.iter().map(|s| s.e_tag.as_deref()),
        )),
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(
                states.iter().map(|s| s.last_modified.timestamp_micros()),
            )
            .with_timezone("UTC"),
        ),
        Arc::new(StringArray::from_iter_values(
            states.iter().map(|s| s.settings.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            states.iter().map(|s| s.run_id.as_str()),
        )),
        Arc::new(Int64Array::from_iter_values(
            states.iter().map(|s| count(s.rows_read)),
        )),
        Arc::new(Int64Array::from_iter_values(
            states.iter().map(|s| count(s.rows_staged)),
        )),
        Arc::new(Int64Array::from_iter_values(
            states.iter().map(|s| count(s.rows_rejected)),
        )),
    ];
    per_source::replace(wh, TABLE, files_schema(), columns, source).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn states_round_trip_per_source() {
        let wh = Warehouse::open(&url::Url::parse("memory://files-test/").unwrap()).unwrap();
        let t = DateTime::parse_from_rfc3339("2026-08-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let state = |source: &str, file: &str| FileState {
            source: source.into(),
            file: file.into(),
            size: 10,
            e_tag: Some("e1".into()),
            last_modified: t,
            settings: "s".into(),
            run_id: "r".into(),
            rows_read: 3,
            rows_staged: 2,
            rows_rejected: 1,
        };
        assert!(read(&wh, "a").await.unwrap().is_empty());
        write(&wh, "a", &[state("a", "f1"), state("a", "f2")])
            .await
            .unwrap();
        write(&wh, "b", &[state("b", "f1")]).await.unwrap();
        write(&wh, "a", &[state("a", "f2")]).await.unwrap();
        let a = read(&wh, "a").await.unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(a["f2"], state("a", "f2"));
        assert_eq!(read(&wh, "b").await.unwrap().len(), 1);
        assert!(a["f2"].unchanged(10, Some("e1"), t));
        assert!(!a["f2"].unchanged(10, Some("e2"), t));
        assert!(!a["f2"].unchanged(11, Some("e1"), t));
        assert!(a["f2"].unchanged(10, None, t));
    }
}
