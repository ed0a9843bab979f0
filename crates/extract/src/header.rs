//! Header handling for CSV exports that have one (Salesforce, survey tools): columns are found by
//! name, trimmed and case-insensitively, in any order; unknown columns are ignored.

use touchstone_core::StagingTable;

use crate::input::{CsvReader, Framed, malformed_reason};
use crate::table::TableBuilder;
use crate::{Ctx, ExtractError};

/// A CSV header: the column names as written and their normalized form.
pub(crate) struct Header {
    names: Vec<String>,
    keys: Vec<String>,
    /// The line the header is on.
    pub(crate) line: u64,
}

impl Header {
    /// Reads the header: the first non-blank record. `None` for an empty file.
    pub(crate) fn read(
        reader: &mut CsvReader<'_>,
        ctx: &Ctx<'_, '_>,
    ) -> Result<Option<Header>, ExtractError> {
        let framed = reader.next_record().map_err(|e| ctx.io(e))?;
        let bad = |line: u64, reason: String| ExtractError::BadHeader {
            file: ctx.lineage.file.to_owned(),
            line,
            reason,
        };
        let line = match framed {
            None => return Ok(None),
            Some(Framed::Malformed {
                line,
                field,
                reason,
            }) => {
                return Err(bad(line, malformed_reason(field, &reason, |_| None)));
            }
            Some(Framed::Record { line }) => line,
        };
        if let Err(i) = reader.check_utf8() {
            return Err(bad(
                line,
                format!("column {}: invalid UTF-8; expected UTF-8 text", i + 1),
            ));
        }
        let names: Vec<String> = (0..reader.len())
            .map(|i| {
                let name = reader.text(i);
                let name = if i == 0 {
                    name.strip_prefix('\u{feff}').unwrap_or(name)
                } else {
                    name
                };
                name.to_owned()
            })
            .collect();
        let keys = names.iter().map(|n| n.trim().to_lowercase()).collect();
        reader.expect_fields(names.len());
        Ok(Some(Header { names, keys, line }))
    }

    /// Index of the column `name` (trimmed, case-insensitive).
    pub(crate) fn find(&self, name: &str) -> Option<usize> {
        let key = name.to_lowercase();
        self.keys.iter().position(|k| *k == key)
    }

    /// Index of a column the file cannot do without, or the file error naming it.
    pub(crate) fn require(
        &self,
        name: &'static str,
        export: &str,
        file: &str,
    ) -> Result<usize, ExtractError> {
        self.find(name).ok_or_else(|| ExtractError::MissingColumn {
            file: file.to_owned(),
            column: name,
            export: export.to_owned(),
        })
    }

    /// Number of columns.
    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }

    /// Column `i`'s name quoted for a reject reason, if the header has a column `i`.
    pub(crate) fn quoted(&self, i: usize) -> Option<String> {
        self.names.get(i).map(|n| format!("'{}'", n.trim()))
    }

    /// Column `i`'s name as written.
    pub(crate) fn name(&self, i: usize) -> &str {
        self.names.get(i).map_or("?", |n| n.trim())
    }
}

/// Stages the records after the header into `table`, one row each, and flushes the table.
///
/// A malformed record is a reject naming the column; a record whose field count differs from
/// the header's or that is not UTF-8 is a reject; any other record is written by `row`, whose
/// `Err` is the reject reason.
pub(crate) fn read_records(
    reader: &mut CsvReader<'_>,
    header: &Header,
    ctx: &mut Ctx<'_, '_>,
    table: StagingTable,
    mut row: impl FnMut(&CsvReader<'_>, &mut TableBuilder) -> Result<(), String>,
) -> Result<(), ExtractError> {
    let mut tb = ctx.builder(table)?;
    while let Some(framed) = reader.next_record().map_err(|e| ctx.io(e))? {
        ctx.read();
        match framed {
            Framed::Malformed {
                line,
                field,
                reason,
            } => {
                let reason = malformed_reason(field, &reason, |i| header.quoted(i));
                ctx.reject(line, reason, reader.raw())?;
            }
            Framed::Record { line } => {
                let mut outcome = check_record(reader, header).and_then(|()| row(reader, &mut tb));
                if let Err(reason) = &outcome
                    && reader.spans_lines()
                    && reader.encloses_records()
                {
                    // Rather two stray quotes pairing up across lines than a bad multi-line
                    // record: reject the first line only and read the others again.
                    outcome = Err(reader.not_multiline(reason));
                    reader.retreat();
                }
                ctx.settle(&mut tb, line, outcome, reader.raw())?;
            }
        }
    }
    tb.flush(ctx.sink)
}

/// Field count and UTF-8 of a record of a headed CSV.
fn check_record(r: &CsvReader<'_>, header: &Header) -> Result<(), String> {
    if r.len() != header.len() {
        return Err(format!(
            "expected {} fields as in the header (line {}), found {}",
            header.len(),
            header.line,
            r.len()
        ));
    }
    r.check_utf8().map_err(|i| {
        format!(
            "column '{}': invalid UTF-8; expected UTF-8 text",
            header.name(i)
        )
    })
}
