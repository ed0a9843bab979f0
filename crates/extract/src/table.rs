//! Column builders for one staging table: rows go straight into Arrow builders and leave as
//! `RecordBatch`es of at most [`BATCH_ROWS`](crate::BATCH_ROWS) rows, with the lineage columns
//! filled in.
//!
//! A parser writes a row's cells in schema order (`str("call_id", ...)`, `ts("started_at",
//! ...)`); each call names the column it means, and a name out of order is caught at once
//! (an internal error, found by the unit tests, never a silently shifted column). Cells are
//! staged in a small reusable buffer first, so a record that turns out bad half-way through
//! leaves nothing behind, and a record that yields several rows (a LiveChat chat) is committed
//! all at once or not at all.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use touchstone_core::StagingTable;

use crate::{BATCH_ROWS, ExtractError, Lineage, Sink};

/// Number of lineage columns at the end of every staging schema.
const LINEAGE_COLUMNS: usize = 4;

#[derive(Debug, Clone, Copy)]
enum Cell {
    Null,
    Str(usize, usize),
    Int(i64),
    Float(f64),
    Bool(bool),
}

enum Column {
    Utf8(StringBuilder),
    Timestamp(TimestampMicrosecondBuilder),
    Int64(Int64Builder),
    Float64(Float64Builder),
    Boolean(BooleanBuilder),
    Date32(Date32Builder),
}

impl Column {
    fn for_type(data_type: &DataType) -> Option<Column> {
        Some(match data_type {
            DataType::Utf8 => Column::Utf8(StringBuilder::new()),
            DataType::Timestamp(TimeUnit::Microsecond, tz) => {
                Column::Timestamp(TimestampMicrosecondBuilder::new().with_timezone_opt(tz.clone()))
            }
            DataType::Int64 => Column::Int64(Int64Builder::new()),
            DataType::Float64 => Column::Float64(Float64Builder::new()),
            DataType::Boolean => Column::Boolean(BooleanBuilder::new()),
            DataType::Date32 => Column::Date32(Date32Builder::new()),
            _ => return None,
        })
    }

    /// Appends a cell; `false` if the cell's kind does not fit the column (a bug).
    fn append(&mut self, cell: Cell, arena: &str) -> bool {
        match (self, cell) {
            (Column::Utf8(b), Cell::Null) => b.append_null(),
            (Column::Utf8(b), Cell::Str(s, e)) => b.append_value(arena.get(s..e).unwrap_or("")),
            (Column::Timestamp(b), Cell::Null) => b.append_null(),
            (Column::Timestamp(b), Cell::Int(v)) => b.append_value(v),
            (Column::Int64(b), Cell::Null) => b.append_null(),
            (Column::Int64(b), Cell::Int(v)) => b.append_value(v),
            (Column::Float64(b), Cell::Null) => b.append_null(),
            (Column::Float64(b), Cell::Float(v)) => b.append_value(v),
            (Column::Boolean(b), Cell::Null) => b.append_null(),
            (Column::Boolean(b), Cell::Bool(v)) => b.append_value(v),
            (Column::Date32(b), Cell::Null) => b.append_null(),
            (Column::Date32(b), Cell::Int(v)) => match i32::try_from(v) {
                Ok(days) => b.append_value(days),
                Err(_) => return false,
            },
            _ => return false,
        }
        true
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Column::Utf8(b) => Arc::new(b.finish()),
            Column::Timestamp(b) => Arc::new(b.finish()),
            Column::Int64(b) => Arc::new(b.finish()),
            Column::Float64(b) => Arc::new(b.finish()),
            Column::Boolean(b) => Arc::new(b.finish()),
            Column::Date32(b) => Arc::new(b.finish()),
        }
    }
}

/// Rows of one staging table on their way to the sink.
pub(crate) struct TableBuilder {
    table: StagingTable,
    schema: SchemaRef,
    columns: Vec<Column>,
    /// Number of record columns (the schema less the lineage columns).
    record_columns: usize,
    /// Cells of the row being written.
    current: Vec<Cell>,
    /// Next column the row being written expects.
    cursor: usize,
    /// Finished rows not yet committed: `record_columns` cells each, plus their lines.
    pending: Vec<Cell>,
    pending_lines: Vec<u64>,
    /// Text of the current and pending rows' string cells.
    arena: String,
    /// Rows appended to the column builders since the last batch.
    rows: usize,
    /// The first internal inconsistency met (a column written out of order...).
    bug: Option<String>,
    file: String,
    source: String,
    ingest_days: i64,
}

impl TableBuilder {
    pub(crate) fn new(table: StagingTable, lineage: &Lineage<'_>) -> Result<Self, ExtractError> {
        let schema = table.schema();
        let mut columns = Vec::with_capacity(schema.fields().len());
        for field in schema.fields() {
            let column =
                Column::for_type(field.data_type()).ok_or_else(|| ExtractError::Internal {
                    file: lineage.file.to_owned(),
                    detail: format!(
                        "{table}.{}: unsupported column type {}",
                        field.name(),
                        field.data_type()
                    ),
                })?;
            columns.push(column);
        }
        let record_columns = schema.fields().len().saturating_sub(LINEAGE_COLUMNS);
        Ok(TableBuilder {
            table,
            schema,
            columns,
            record_columns,
            current: vec![Cell::Null; record_columns],
            cursor: 0,
            pending: Vec::new(),
            pending_lines: Vec::new(),
            arena: String::new(),
            rows: 0,
            bug: None,
            file: lineage.file.to_owned(),
            source: lineage.source.to_owned(),
            ingest_days: i64::from(crate::days_since_epoch(lineage.ingest_date)),
        })
    }

    /// Moves to the next column, checking that it is the one the caller names.
    fn slot(&mut self, name: &str) -> Option<usize> {
        let index = self.cursor;
        let expected = self
            .schema
            .fields()
            .get(index)
            .filter(|_| index < self.record_columns)
            .map(|f| f.name().as_str());
        if expected != Some(name) {
            if self.bug.is_none() {
                self.bug = Some(format!(
                    "{}: column '{name}' written where '{}' was expected",
                    self.table,
                    expected.unwrap_or("<end of row>")
                ));
            }
            return None;
        }
        self.cursor += 1;
        Some(index)
    }

    /// Writes a text cell (`None` is null; the caller maps "empty means null").
    pub(crate) fn str(&mut self, name: &str, value: Option<&str>) {
        if let Some(i) = self.slot(name) {
            self.current[i] = match value {
                Some(v) => {
                    let start = self.arena.len();
                    self.arena.push_str(v);
                    Cell::Str(start, self.arena.len())
                }
                None => Cell::Null,
            };
        }
    }

    /// Writes a text cell, empty text as null.
    pub(crate) fn text(&mut self, name: &str, value: Option<&str>) {
        self.str(name, value.filter(|v| !v.is_empty()));
    }

    /// Writes an instant, microseconds since the epoch.
    pub(crate) fn ts(&mut self, name: &str, micros: Option<i64>) {
        self.int(name, micros);
    }

    /// Writes a date, days since the epoch.
    pub(crate) fn date(&mut self, name: &str, days: Option<i32>) {
        self.int(name, days.map(i64::from));
    }

    /// Writes a 64-bit integer.
    pub(crate) fn int(&mut self, name: &str, value: Option<i64>) {
        if let Some(i) = self.slot(name) {
            self.current[i] = value.map_or(Cell::Null, Cell::Int);
        }
    }

    /// Writes a float.
    pub(crate) fn float(&mut self, name: &str, value: Option<f64>) {
        if let Some(i) = self.slot(name) {
            self.current[i] = value.map_or(Cell::Null, Cell::Float);
        }
    }

    /// Writes a boolean.
    pub(crate) fn bool(&mut self, name: &str, value: Option<bool>) {
        if let Some(i) = self.slot(name) {
            self.current[i] = value.map_or(Cell::Null, Cell::Bool);
        }
    }

    /// Ends the row being written: it becomes pending, to be committed with [`Self::commit`].
    ///
    /// Every record column must have been written and every non-nullable one must be set; the
    /// parsers check required values themselves (to give a precise reject reason), so a failure
    /// here is a bug.
    pub(crate) fn end_row(&mut self, line: u64) -> Result<(), ExtractError> {
        if self.bug.is_none() && self.cursor != self.record_columns {
            let missing = self
                .schema
                .fields()
                .get(self.cursor)
                .map(|f| f.name().clone())
                .unwrap_or_default();
            self.bug = Some(format!(
                "{}: row ended before column '{missing}'",
                self.table
            ));
        }
        if self.bug.is_none() {
            for (i, cell) in self.current.iter().enumerate() {
                let field = &self.schema.fields()[i];
                if matches!(cell, Cell::Null) && !field.is_nullable() {
                    self.bug = Some(format!(
                        "{}: required column '{}' left null",
                        self.table,
                        field.name()
                    ));
                    break;
                }
            }
        }
        if let Some(detail) = self.bug.take() {
            self.discard();
            return Err(self.internal(detail));
        }
        self.pending.extend_from_slice(&self.current);
        self.pending_lines.push(line);
        self.current.fill(Cell::Null);
        self.cursor = 0;
        Ok(())
    }

    /// Drops the row being written and every pending row.
    pub(crate) fn discard(&mut self) {
        self.current.fill(Cell::Null);
        self.cursor = 0;
        self.pending.clear();
        self.pending_lines.clear();
        self.arena.clear();
        self.bug = None;
    }

    /// Appends the pending rows to the column builders, sending a batch whenever one is full.
    pub(crate) fn commit(&mut self, sink: &mut dyn Sink) -> Result<(), ExtractError> {
        let width = self.record_columns;
        for row in 0..self.pending_lines.len() {
            let cells = &self.pending[row * width..(row + 1) * width];
            let mut ok = true;
            for (column, cell) in self.columns.iter_mut().zip(cells) {
                ok &= column.append(*cell, &self.arena);
            }
            let line = i64::try_from(self.pending_lines[row]).unwrap_or(i64::MAX);
            let lineage = &mut self.columns[width..];
            if let [
                Column::Utf8(source),
                Column::Utf8(file),
                Column::Int64(line_col),
                Column::Date32(date),
            ] = lineage
            {
                source.append_value(&self.source);
                file.append_value(&self.file);
                line_col.append_value(line);
                date.append_value(i32::try_from(self.ingest_days).unwrap_or_default());
            } else {
                ok = false;
            }
            if !ok {
                self.discard();
                return Err(self.internal(format!(
                    "{}: a cell does not fit its column type",
                    self.table
                )));
            }
            self.rows += 1;
            if self.rows >= BATCH_ROWS {
                self.flush(sink)?;
            }
        }
        self.pending.clear();
        self.pending_lines.clear();
        self.arena.clear();
        Ok(())
    }

    /// Sends the rows built so far as one batch (nothing if there are none).
    pub(crate) fn flush(&mut self, sink: &mut dyn Sink) -> Result<(), ExtractError> {
        if self.rows == 0 {
            return Ok(());
        }
        let arrays: Vec<ArrayRef> = self.columns.iter_mut().map(Column::finish).collect();
        self.rows = 0;
        let batch = RecordBatch::try_new(Arc::clone(&self.schema), arrays)
            .map_err(|e| self.internal(e.to_string()))?;
        sink.batch(self.table, batch)
    }

    fn internal(&self, detail: String) -> ExtractError {
        ExtractError::Internal {
            file: self.file.clone(),
            detail,
        }
    }
}
