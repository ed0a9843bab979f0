//! Test helpers: a collecting sink and column accessors.

use std::collections::BTreeMap;

use arrow::array::{
    Array, AsArray, BooleanArray, Date32Array, Float64Array, Int64Array, StringArray,
    TimestampMicrosecondArray,
};
use arrow::compute::concat_batches;
use arrow::record_batch::RecordBatch;
use touchstone_core::{SourceFormat, StagingTable};

use crate::{ExtractError, FileStats, Lineage, ReadOptions, Reject, Sink, read_file};

/// Keeps everything it is sent.
#[derive(Default)]
pub(crate) struct Collect {
    pub(crate) batches: BTreeMap<StagingTable, Vec<RecordBatch>>,
    pub(crate) rejects: Vec<Reject>,
}

impl Sink for Collect {
    fn batch(&mut self, table: StagingTable, batch: RecordBatch) -> Result<(), ExtractError> {
        assert_eq!(batch.schema(), table.schema(), "schema of {table}");
        assert!(batch.num_rows() <= crate::BATCH_ROWS);
        self.batches.entry(table).or_default().push(batch);
        Ok(())
    }

    fn reject(&mut self, reject: Reject) -> Result<(), ExtractError> {
        self.rejects.push(reject);
        Ok(())
    }
}

impl Collect {
    /// All rows of `table` in one batch (empty batch if none).
    pub(crate) fn table(&self, table: StagingTable) -> RecordBatch {
        let batches = self.batches.get(&table).cloned().unwrap_or_default();
        concat_batches(&table.schema(), &batches)
            .unwrap_or_else(|_| RecordBatch::new_empty(table.schema()))
    }

    /// Rows of `table`.
    pub(crate) fn rows(&self, table: StagingTable) -> usize {
        self.batches
            .get(&table)
            .map_or(0, |b| b.iter().map(RecordBatch::num_rows).sum())
    }
}

pub(crate) const FILE: &str = "memory://raw/test";

/// The lineage every test file is read with.
fn lineage(file: &str) -> Lineage<'_> {
    Lineage {
        source: "test_source",
        file,
        ingest_date: chrono::NaiveDate::from_ymd_opt(2026, 8, 2).unwrap_or_default(),
    }
}

/// Reads `input` as `format`, returning the stats and what the sink got.
pub(crate) fn run(
    format: SourceFormat,
    opts: &ReadOptions,
    file: &str,
    input: &[u8],
) -> (Result<FileStats, ExtractError>, Collect) {
    let lineage = lineage(file);
    let mut sink = Collect::default();
    let mut reader = input;
    let stats = read_file(format, opts, &lineage, &mut reader, &mut sink);
    (stats, sink)
}

/// Reads and checks conservation and the rejects' shape; panics on a file error.
pub(crate) fn run_ok(format: SourceFormat, input: &[u8]) -> (FileStats, Collect) {
    run_ok_with(format, &ReadOptions::default(), FILE, input)
}

pub(crate) fn run_ok_with(
    format: SourceFormat,
    opts: &ReadOptions,
    file: &str,
    input: &[u8],
) -> (FileStats, Collect) {
    let (stats, sink) = run(format, opts, file, input);
    let stats = match stats {
        Ok(s) => s,
        Err(e) => panic!("file error: {e}"),
    };
    assert!(stats.conserved(), "{stats:?}");
    assert_eq!(stats.rows_rejected, sink.rejects.len() as u64);
    for r in &sink.rejects {
        assert!(r.line >= 1, "{r:?}");
        assert!(r.reason.contains("expected"), "{r:?}");
    }
    (stats, sink)
}

pub(crate) fn col<'b>(batch: &'b RecordBatch, name: &str) -> &'b dyn Array {
    match batch.column_by_name(name) {
        Some(c) => c.as_ref(),
        None => panic!("no column {name}"),
    }
}

/// Text cell, `None` when null.
pub(crate) fn s(batch: &RecordBatch, name: &str, row: usize) -> Option<String> {
    let a: &StringArray = col(batch, name).as_string();
    a.is_valid(row).then(|| a.value(row).to_owned())
}

/// Integer or timestamp cell.
pub(crate) fn i(batch: &RecordBatch, name: &str, row: usize) -> Option<i64> {
    let a = col(batch, name);
    if let Some(a) = a.as_any().downcast_ref::<Int64Array>() {
        return a.is_valid(row).then(|| a.value(row));
    }
    if let Some(a) = a.as_any().downcast_ref::<TimestampMicrosecondArray>() {
        return a.is_valid(row).then(|| a.value(row));
    }
    if let Some(a) = a.as_any().downcast_ref::<Date32Array>() {
        return a.is_valid(row).then(|| i64::from(a.value(row)));
    }
    panic!("{name} is not an integer column")
}

pub(crate) fn f(batch: &RecordBatch, name: &str, row: usize) -> Option<f64> {
    let a = col(batch, name)
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap_or_else(|| panic!("{name} is not f64"));
    a.is_valid(row).then(|| a.value(row))
}

pub(crate) fn b(batch: &RecordBatch, name: &str, row: usize) -> Option<bool> {
    let a = col(batch, name)
        .as_any()
        .downcast_ref::<BooleanArray>()
        .unwrap_or_else(|| panic!("{name} is not bool"));
    a.is_valid(row).then(|| a.value(row))
}

/// Microseconds of an RFC 3339 instant.
pub(crate) fn ts(s: &str) -> i64 {
    crate::time::parse_instant(s).unwrap_or_else(|| panic!("bad test timestamp {s}"))
}

pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap_or_default();
    enc.finish().unwrap_or_default()
}

pub(crate) fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).unwrap_or_default()
}

/// Reads a compressed fixture through [`crate::decompress`] and `read_file`.
pub(crate) fn run_compressed(
    format: SourceFormat,
    file: &str,
    data: Vec<u8>,
) -> (FileStats, Collect) {
    let lineage = lineage(file);
    let mut sink = Collect::default();
    let mut reader = match crate::decompress(file, Box::new(std::io::Cursor::new(data))) {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    };
    let opts = ReadOptions::default();
    match read_file(format, &opts, &lineage, &mut reader, &mut sink) {
        Ok(stats) => (stats, sink),
        Err(e) => panic!("{e}"),
    }
}

/// Converts LF line ends to CRLF.
pub(crate) fn crlf(s: &str) -> String {
    s.replace('\n', "\r\n")
}

/// Reads several files of one source in order, with one [`SourceState`](crate::SourceState)
/// (as the pipeline does); panics on a file error. Checks conservation per file.
pub(crate) fn run_files(
    format: SourceFormat,
    files: &[(&str, &[u8])],
) -> (Vec<FileStats>, Collect) {
    let mut sink = Collect::default();
    let mut state = crate::SourceState::new();
    let mut all = Vec::new();
    for (name, bytes) in files {
        let lineage = lineage(name);
        let mut reader =
            match crate::decompress(name, Box::new(std::io::Cursor::new(bytes.to_vec()))) {
                Ok(r) => r,
                Err(e) => panic!("{e}"),
            };
        let before = sink.rejects.len() as u64;
        let (stats, outcome) = crate::read_file_partial(
            format,
            &ReadOptions::default(),
            &lineage,
            &mut reader,
            &mut sink,
            &mut state,
        );
        if let Err(e) = outcome {
            panic!("file error in {name}: {e}");
        }
        assert!(stats.conserved(), "{name}: {stats:?}");
        assert_eq!(stats.rows_rejected, sink.rejects.len() as u64 - before);
        all.push(stats);
    }
    (all, sink)
}

/// A public vendor file from `tests/fixtures/public/` (see the README beside it for its source
/// and licence).
pub(crate) fn public(path: &str) -> Vec<u8> {
    let full = format!(
        "{}/../../tests/fixtures/public/{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    match std::fs::read(&full) {
        Ok(b) => b,
        Err(e) => panic!("{full}: {e}"),
    }
}

/// JSON with `//` comments (vendor documentation examples) made valid: comments outside strings
/// removed.
pub(crate) fn strip_comments(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let (mut in_string, mut escape, mut i) = (false, false, 0);
    while i < text.len() {
        let b = text[i];
        if in_string {
            out.push(b);
            if escape {
                escape = false;
            } else if b == b'\\' {
                escape = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b == b'/' && text.get(i + 1) == Some(&b'/') {
            while i < text.len() && text[i] != b'\n' {
                i += 1;
            }
            continue;
        } else {
            in_string = b == b'"';
            out.push(b);
        }
        i += 1;
    }
    out
}
