//! Header handling for CSV exports that have one (Salesforce, HubSpot, survey tools, agent
//! reviews): columns are found by name, trimmed and case-insensitively (then on letters and
//! digits alone), in any order; columns no reader looks up are not staged, with a warning naming
//! them.

use std::cell::RefCell;

use touchstone_core::StagingTable;

use crate::input::{CsvReader, Framed, malformed_reason};
use crate::table::TableBuilder;
use crate::{Ctx, ExtractError};

/// A CSV header: the column names as written and their normalized form.
pub(crate) struct Header {
    names: Vec<String>,
    keys: Vec<String>,
    /// Names with only letters and digits kept, lowercased (`created_date`, `CreatedDate` and
    /// `Created Date` all read `createddate`), for a second, looser match.
    loose: Vec<String>,
    /// Which columns a reader looked up and found.
    used: RefCell<Vec<bool>>,
    /// The line the header is on.
    pub(crate) line: u64,
}

/// A column name reduced to lowercase letters and digits.
pub(crate) fn loose_key(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

impl Header {
    /// Reads the header: the first non-blank record. `None` for an empty file.
    pub(crate) fn read(
        reader: &mut CsvReader<'_>,
        ctx: &Ctx<'_, '_>,
    ) -> Result<Option<Header>, ExtractError> {
        let framed = reader.next_record().map_err(|e| ctx.io(e))?;
        let line = match framed {
            None => return Ok(None),
            Some(Framed::Malformed {
                line,
                field,
                reason,
            }) => {
                return Err(ExtractError::BadHeader {
                    file: ctx.lineage.file.to_owned(),
                    line,
                    reason: malformed_reason(field, &reason, |_| None),
                });
            }
            Some(Framed::Record { line }) => line,
        };
        let header = Header::from_record(reader, line);
        reader.expect_fields(header.len());
        Ok(Some(header))
    }

    /// The header held by the reader's current record (read on `line`).
    pub(crate) fn from_record(reader: &CsvReader<'_>, line: u64) -> Header {
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
        Header::from_names(names, line)
    }

    /// A header of the given names.
    pub(crate) fn from_names(names: Vec<String>, line: u64) -> Header {
        let keys = names.iter().map(|n| n.trim().to_lowercase()).collect();
        let loose = names.iter().map(|n| loose_key(n)).collect();
        let used = RefCell::new(vec![false; names.len()]);
        Header {
            names,
            keys,
            loose,
            used,
            line,
        }
    }

    /// Index of the column `name`: trimmed and case-insensitive, else compared on letters and
    /// digits only (`Created Date` finds `created_date`).
    pub(crate) fn find(&self, name: &str) -> Option<usize> {
        let key = name.trim().to_lowercase();
        let found = self.keys.iter().position(|k| *k == key).or_else(|| {
            let loose = loose_key(name);
            (!loose.is_empty())
                .then(|| self.loose.iter().position(|k| *k == loose))
                .flatten()
        });
        if let Some(i) = found
            && let Some(u) = self.used.borrow_mut().get_mut(i)
        {
            *u = true;
        }
        found
    }

    /// Index of the first of `names` the header has.
    pub(crate) fn find_any(&self, names: &[&str]) -> Option<usize> {
        names.iter().find_map(|n| self.find(n))
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

    /// The names of the columns no lookup found (not read, so not staged), blank names left
    /// out.
    pub(crate) fn unread(&self) -> Vec<&str> {
        let used = self.used.borrow();
        self.names
            .iter()
            .enumerate()
            .filter(|(i, n)| !used.get(*i).copied().unwrap_or(true) && !n.trim().is_empty())
            .map(|(_, n)| n.trim())
            .collect()
    }
}

/// Warns about the columns of a headed export that were not read: schema drift (a column the
/// reader does not know is not staged) or the many extra fields of a full export. One warning
/// per file, naming up to ten of them.
pub(crate) fn warn_unread(ctx: &mut Ctx<'_, '_>, header: &Header, export: &str, records: u64) {
    let unread = header.unread();
    if unread.is_empty() {
        return;
    }
    let shown: Vec<String> = unread.iter().take(10).map(|n| format!("'{n}'")).collect();
    let more = if unread.len() > 10 {
        format!(" and {} more", unread.len() - 10)
    } else {
        String::new()
    };
    ctx.warn(
        format!(
            "{export} export: column{} {}{more} not staged (not a column Touchstone reads)",
            if unread.len() == 1 { "" } else { "s" },
            shown.join(", ")
        ),
        records,
    );
}

/// Warns that an optional column is missing, so its staging column is null in every row of the
/// file: a renamed column (`Phone` exported as `PhoneNumber`) shows up here instead of as
/// silent nulls. `max_null_ratio:` on the source turns it into an error.
pub(crate) fn warn_missing(
    ctx: &mut Ctx<'_, '_>,
    export: &str,
    column: &str,
    staged_as: &str,
    records: u64,
) {
    ctx.warn(
        format!(
            "{export} export: optional column '{column}' is missing; {staged_as} is null in \
             every row (a renamed column? `max_null_ratio:` can make this an error)"
        ),
        records,
    );
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

/// Like [`read_records`], for exports whose one record may stage several rows (a wide survey
/// export: one row per question). `first` is a record already framed (read while looking for the
/// end of a multi-row header). `rows` writes the record's rows, ending each with
/// [`TableBuilder::end_row`]; its inner `Err` is the reject reason, and then none of the
/// record's rows is staged. A record counts once, staged or rejected, whatever its rows.
pub(crate) fn read_records_multi(
    reader: &mut CsvReader<'_>,
    header: &Header,
    ctx: &mut Ctx<'_, '_>,
    table: StagingTable,
    mut first: Option<Framed>,
    mut rows: impl FnMut(
        &CsvReader<'_>,
        &mut TableBuilder,
        u64,
    ) -> Result<Result<(), String>, ExtractError>,
) -> Result<(), ExtractError> {
    let mut tb = ctx.builder(table)?;
    loop {
        let framed = match first.take() {
            Some(f) => f,
            None => match reader.next_record().map_err(|e| ctx.io(e))? {
                Some(f) => f,
                None => break,
            },
        };
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
                let mut outcome = match check_record(reader, header) {
                    Ok(()) => rows(reader, &mut tb, line)?,
                    Err(reason) => Err(reason),
                };
                if let Err(reason) = &outcome
                    && reader.spans_lines()
                    && reader.encloses_records()
                {
                    outcome = Err(reader.not_multiline(reason));
                    reader.retreat();
                }
                match outcome {
                    Ok(()) => {
                        tb.commit(ctx.sink)?;
                        ctx.staged_record(reader.raw());
                    }
                    Err(reason) => {
                        tb.discard();
                        ctx.reject(line, reason, reader.raw())?;
                    }
                }
            }
        }
    }
    tb.flush(ctx.sink)
}

/// Field count of a record of a headed CSV. (Invalid UTF-8 is repaired by the reader, and the
/// record counted as repaired when it is staged.)
fn check_record(r: &CsvReader<'_>, header: &Header) -> Result<(), String> {
    if r.len() != header.len() {
        return Err(format!(
            "expected {} fields as in the header (line {}), found {}",
            header.len(),
            header.line,
            r.len()
        ));
    }
    Ok(())
}
