//! Reading an order history: CSV (DataFusion, every column as text), whitespace-separated text
//! or Parquet from any object store, the three columns by name or position, then customer ids,
//! dates and amounts converted with the row number and text of the first bad value of each kind.

use std::collections::HashMap;
use std::io::Read as _;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use chrono::NaiveDate;
use datafusion::datasource::file_format::file_compression_type::FileCompressionType;
use datafusion::prelude::{CsvReadOptions, ParquetReadOptions, SessionConfig, SessionContext};
use object_store::ObjectStoreExt as _;
use touchstone_core::store;
use url::Url;

use super::{InputFormat, ValueFitError, ValueFitOptions, day_number};

type Result<T> = std::result::Result<T, ValueFitError>;

/// The order columns as read, before conversion.
pub(super) struct RawOrders {
    /// Column names in file order.
    pub names: Vec<String>,
    pub customer: ArrayRef,
    pub date: ArrayRef,
    pub amount: ArrayRef,
    /// Rows of a whitespace file skipped for having the wrong number of fields.
    pub ragged_rows: usize,
    /// The first of them: line number and number of fields.
    pub ragged_example: Option<(usize, usize)>,
}

/// Rows that could not be read, by reason, with the first example of each.
#[derive(Default)]
pub(super) struct Unreadable {
    pub customer: usize,
    pub date: usize,
    pub date_example: Option<(usize, String)>,
    pub amount: usize,
    pub amount_example: Option<(usize, String)>,
}

impl Unreadable {
    fn total(&self) -> usize {
        self.customer + self.date + self.amount
    }

    /// Examples of unreadable dates and amounts, for an error that finds no usable order.
    pub fn hint(&self) -> String {
        if self.total() == 0 {
            return String::new();
        }
        let mut parts = Vec::new();
        if let Some((row, v)) = &self.date_example {
            parts.push(format!("e.g. row {row} has date '{v}'"));
        }
        if let Some((row, v)) = &self.amount_example {
            parts.push(format!("e.g. row {row} has amount '{v}'"));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!(" ({}); check --date-col and --amount-col", parts.join(", "))
        }
    }
}

/// Orders converted to the value crate's inputs.
pub(super) struct Orders {
    /// Customer ids as written, indexed by `customer`.
    pub ids: Vec<String>,
    pub customer: Vec<u64>,
    pub day: Vec<i32>,
    pub amount: Vec<f64>,
    pub unreadable: Unreadable,
}

fn file_name(url: &Url) -> String {
    url.path()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The extension DataFusion should accept for this file name (`.csv.gz`, `.txt`, ...).
fn extension_of(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    let stem_end = if lower.ends_with(".gz") || lower.ends_with(".zst") {
        lower.rfind('.').unwrap_or(lower.len())
    } else {
        lower.len()
    };
    match name[..stem_end].rfind('.') {
        Some(dot) => name[dot..].to_string(),
        None => name[stem_end..].to_string(),
    }
}

fn read_error(what: String) -> impl FnOnce(datafusion::error::DataFusionError) -> ValueFitError {
    move |e| ValueFitError::Read {
        what,
        source: Box::new(e),
    }
}

/// Reads the file at `url` (`shown` is how the user wrote it) and picks the three columns.
pub(super) async fn read_orders(
    options: &ValueFitOptions,
    url: &Url,
    shown: &str,
) -> Result<RawOrders> {
    if let Some(path) = store::local_path(url)
        && !path.to_string_lossy().contains(['*', '?', '['].as_slice())
        && !path.exists()
    {
        return Err(ValueFitError::OrdersNotFound {
            shown: shown.to_string(),
            path,
        });
    }
    let name = file_name(url);
    let lower = name.to_ascii_lowercase();
    let gz = lower.ends_with(".gz");
    let format = match options.format {
        InputFormat::Auto if lower.ends_with(".parquet") || lower.ends_with(".pq") => {
            InputFormat::Parquet
        }
        InputFormat::Auto => InputFormat::Csv,
        other => other,
    };
    let (names, columns, ragged) = match format {
        InputFormat::Whitespace => read_whitespace(url, gz, !options.no_header, shown).await?,
        InputFormat::Csv | InputFormat::Parquet | InputFormat::Auto => {
            let config = SessionConfig::new().with_target_partitions(1);
            let ctx = SessionContext::new_with_config(config);
            if url.scheme() != "file" {
                let (object_store, _) = store::open(url)?;
                ctx.register_object_store(&store::store_root(url), object_store);
            }
            let ext = extension_of(&name);
            let df = if format == InputFormat::Parquet {
                ctx.read_parquet(url.as_str(), ParquetReadOptions::new().file_extension(&ext))
                    .await
                    .map_err(read_error(format!("reading {shown} as Parquet")))?
            } else {
                let compression = if gz {
                    FileCompressionType::GZIP
                } else {
                    FileCompressionType::UNCOMPRESSED
                };
                let csv = CsvReadOptions::new()
                    .has_header(!options.no_header)
                    .file_extension(&ext)
                    .file_compression_type(compression);
                let inferred = ctx
                    .read_csv(url.as_str(), csv.clone())
                    .await
                    .map_err(read_error(format!("reading {shown} as CSV")))?;
                // Read every column as text: ids keep their leading zeros, and dates and
                // amounts are parsed (with row numbers in the messages) below.
                let text = Schema::new(
                    inferred
                        .schema()
                        .fields()
                        .iter()
                        .map(|f| Field::new(f.name(), DataType::Utf8, true))
                        .collect::<Vec<_>>(),
                );
                ctx.read_csv(url.as_str(), csv.schema(&text))
                    .await
                    .map_err(read_error(format!("reading {shown} as CSV")))?
            };
            let schema = Arc::new(df.schema().as_arrow().clone());
            let batches = df.collect().await.map_err(|e| ValueFitError::ReadFailed {
                shown: shown.to_string(),
                message: e.strip_backtrace(),
            })?;
            let all = arrow::compute::concat_batches(&schema, &batches).map_err(|e| {
                ValueFitError::Read {
                    what: format!("reading {shown}"),
                    source: Box::new(e),
                }
            })?;
            let names = schema.fields().iter().map(|f| f.name().clone()).collect();
            (names, all.columns().to_vec(), (0, None))
        }
    };
    let pick = |wanted: &str, option: &'static str| -> Result<ArrayRef> {
        let i = find_column(&names, wanted, option, shown, options.no_header)?;
        columns
            .get(i)
            .cloned()
            .ok_or_else(|| ValueFitError::Convert {
                what: format!("{shown}: column {} is missing", i + 1),
                source: None,
            })
    };
    Ok(RawOrders {
        customer: pick(&options.customer_col, "--customer-col")?,
        date: pick(&options.date_col, "--date-col")?,
        amount: pick(&options.amount_col, "--amount-col")?,
        names,
        ragged_rows: ragged.0,
        ragged_example: ragged.1,
    })
}

/// Rows skipped for a wrong number of fields, and the first (line, fields).
type Ragged = (usize, Option<(usize, usize)>);

/// Reads a whitespace-separated text file: every line split on runs of spaces and tabs.
async fn read_whitespace(
    url: &Url,
    gz: bool,
    header: bool,
    shown: &str,
) -> Result<(Vec<String>, Vec<ArrayRef>, Ragged)> {
    let reading = |e: object_store::Error| ValueFitError::Read {
        what: format!("reading {shown}"),
        source: Box::new(e),
    };
    let (object_store, path) = store::open(url)?;
    let bytes = object_store
        .get(&path)
        .await
        .map_err(reading)?
        .bytes()
        .await
        .map_err(reading)?;
    let mut text = String::new();
    let compression = if gz {
        FileCompressionType::GZIP
    } else {
        FileCompressionType::UNCOMPRESSED
    };
    compression
        .convert_read(std::io::Cursor::new(bytes))
        .map_err(|e| ValueFitError::ReadFailed {
            shown: shown.to_string(),
            message: e.to_string(),
        })?
        .read_to_string(&mut text)
        .map_err(|e| ValueFitError::Read {
            what: format!("reading {shown} (expected UTF-8 text)"),
            source: Box::new(e),
        })?;
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let no_lines = |problem| ValueFitError::NoLines {
        shown: shown.to_string(),
        problem,
    };
    let names: Vec<String> = if header {
        match lines.next() {
            Some((_, l)) => l.split_whitespace().map(str::to_string).collect(),
            None => return Err(no_lines("is empty")),
        }
    } else {
        Vec::new()
    };
    let mut rows: Vec<Vec<&str>> = Vec::new();
    let mut width = names.len();
    let mut ragged = 0;
    let mut ragged_example = None;
    for (line_no, line) in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if width == 0 {
            width = fields.len();
        }
        if fields.len() != width {
            ragged += 1;
            ragged_example.get_or_insert((line_no + 1, fields.len()));
            continue;
        }
        rows.push(fields);
    }
    if width == 0 {
        return Err(no_lines("has no data lines"));
    }
    let names = if header {
        names
    } else {
        (1..=width).map(|i| format!("column_{i}")).collect()
    };
    let columns = (0..width)
        .map(|c| Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r[c]))) as ArrayRef)
        .collect();
    Ok((names, columns, (ragged, ragged_example)))
}

/// Index of `wanted` among `names`: exact name, else a 1-based position; otherwise an error
/// that lists the columns and suggests a near match.
fn find_column(
    names: &[String],
    wanted: &str,
    option: &'static str,
    shown: &str,
    no_header: bool,
) -> Result<usize> {
    if let Some(i) = names.iter().position(|n| n == wanted) {
        return Ok(i);
    }
    if let Ok(k) = wanted.trim().parse::<usize>()
        && (1..=names.len()).contains(&k)
    {
        return Ok(k - 1);
    }
    let folded = wanted.to_lowercase();
    let suggestion = names
        .iter()
        .find(|n| n.to_lowercase() == folded)
        .or_else(|| {
            names.iter().find(|n| {
                let l = n.to_lowercase();
                !folded.is_empty() && (l.contains(&folded) || folded.contains(&l))
            })
        });
    let mut help = Vec::new();
    if let Some(s) = suggestion.filter(|s| !looks_like_data(s)) {
        help.push(format!("did you mean '{s}'?"));
    }
    if names.len() == 1 && names[0].trim().contains([' ', '\t', ';']) {
        help.push(
            "the file does not look comma-separated; for fields separated by spaces or tabs \
             add --format whitespace"
                .into(),
        );
    }
    if !no_header && names.iter().any(|n| looks_like_data(n)) {
        help.push(
            "the first line looks like data, not a header; add --no-header (columns are then \
             column_1, column_2, ...)"
                .into(),
        );
    }
    Err(ValueFitError::UnknownColumn {
        wanted: wanted.to_string(),
        shown: shown.to_string(),
        option,
        columns: names.to_vec(),
        help,
    })
}

fn looks_like_data(name: &str) -> bool {
    let t = name.trim();
    !t.is_empty()
        && t.chars().all(|c| {
            c.is_ascii_digit() || c.is_whitespace() || matches!(c, '.' | '-' | '/' | ':' | ',')
        })
}

/// Converts the three columns; rows with a missing id or an unreadable date or amount are
/// counted (with the first example) and left out.
pub(super) fn convert(raw: &RawOrders, shown: &str) -> Result<Orders> {
    let n = raw.customer.len();
    let ids = arrow::compute::cast(&raw.customer, &DataType::Utf8).map_err(|e| {
        ValueFitError::Convert {
            what: format!("{shown}: reading customer ids"),
            source: Some(e),
        }
    })?;
    let ids = ids.as_any().downcast_ref::<StringArray>().ok_or_else(|| {
        not_converted(format!(
            "{shown}: customer ids are not text after conversion"
        ))
    })?;
    let days = date_column(&raw.date, shown)?;
    let amounts = amount_column(&raw.amount, shown)?;
    let mut out = Orders {
        ids: Vec::new(),
        customer: Vec::with_capacity(n),
        day: Vec::with_capacity(n),
        amount: Vec::with_capacity(n),
        unreadable: Unreadable::default(),
    };
    let mut index: HashMap<String, u64> = HashMap::new();
    for i in 0..n {
        let id = if ids.is_null(i) {
            ""
        } else {
            ids.value(i).trim()
        };
        if id.is_empty() {
            out.unreadable.customer += 1;
            continue;
        }
        let day = match &days[i] {
            Ok(d) => *d,
            Err(text) => {
                out.unreadable.date += 1;
                out.unreadable
                    .date_example
                    .get_or_insert_with(|| (i + 1, text.clone()));
                continue;
            }
        };
        let amount = match &amounts[i] {
            Ok(a) => *a,
            Err(text) => {
                out.unreadable.amount += 1;
                out.unreadable
                    .amount_example
                    .get_or_insert_with(|| (i + 1, text.clone()));
                continue;
            }
        };
        let next = index.len() as u64;
        let k = *index.entry(id.to_string()).or_insert_with(|| {
            out.ids.push(id.to_string());
            next
        });
        out.customer.push(k);
        out.day.push(day);
        out.amount.push(amount);
    }
    Ok(out)
}

fn not_converted(what: String) -> ValueFitError {
    ValueFitError::Convert { what, source: None }
}

/// Parses a date written as YYYY-MM-DD or YYYY/MM/DD (anything after is ignored: a time) or
/// YYYYMMDD.
fn parse_date(text: &str) -> Option<i32> {
    let t = text.trim().trim_matches('"');
    let b = t.as_bytes();
    let ymd = if b.len() >= 10 && (b[4] == b'-' || b[4] == b'/') && b[7] == b[4] {
        let y = t.get(0..4)?.parse().ok()?;
        let m = t.get(5..7)?.parse().ok()?;
        let d = t.get(8..10)?.parse().ok()?;
        if b.len() > 10 && !matches!(b[10], b'T' | b' ' | b't') {
            return None;
        }
        (y, m, d)
    } else if b.len() == 8 && b.iter().all(u8::is_ascii_digit) {
        let v: i64 = t.parse().ok()?;
        yyyymmdd(v)?
    } else {
        return None;
    };
    NaiveDate::from_ymd_opt(ymd.0, ymd.1, ymd.2).map(day_number)
}

fn yyyymmdd(v: i64) -> Option<(i32, u32, u32)> {
    if !(10_000_101..=99_991_231).contains(&v) {
        return None;
    }
    Some((
        i32::try_from(v / 10_000).ok()?,
        u32::try_from(v / 100 % 100).ok()?,
        u32::try_from(v % 100).ok()?,
    ))
}

/// Day numbers of a date column, or the unreadable text of each bad row.
fn date_column(array: &ArrayRef, shown: &str) -> Result<Vec<std::result::Result<i32, String>>> {
    let n = array.len();
    let missing = || Err(String::from("(empty)"));
    match array.data_type() {
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _) => {
            let dates = arrow::compute::cast(array, &DataType::Date32).map_err(|e| {
                ValueFitError::Convert {
                    what: format!("{shown}: converting the date column to dates"),
                    source: Some(e),
                }
            })?;
            let dates = dates
                .as_any()
                .downcast_ref::<arrow::array::Date32Array>()
                .ok_or_else(|| {
                    not_converted(format!("{shown}: the date column did not convert to dates"))
                })?;
            Ok((0..n)
                .map(|i| {
                    if dates.is_null(i) {
                        missing()
                    } else {
                        Ok(dates.value(i))
                    }
                })
                .collect())
        }
        t if t.is_integer() => {
            let ints = arrow::compute::cast(array, &DataType::Int64)?;
            let ints = ints.as_any().downcast_ref::<Int64Array>().ok_or_else(|| {
                not_converted(format!(
                    "{shown}: the date column did not convert to integers"
                ))
            })?;
            Ok((0..n)
                .map(|i| {
                    if ints.is_null(i) {
                        return missing();
                    }
                    let v = ints.value(i);
                    yyyymmdd(v)
                        .and_then(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d))
                        .map(day_number)
                        .ok_or_else(|| v.to_string())
                })
                .collect())
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(_, _) => {
            let text = arrow::compute::cast(array, &DataType::Utf8)?;
            let text = text.as_any().downcast_ref::<StringArray>().ok_or_else(|| {
                not_converted(format!("{shown}: the date column did not convert to text"))
            })?;
            Ok((0..n)
                .map(|i| {
                    if text.is_null(i) || text.value(i).trim().is_empty() {
                        return missing();
                    }
                    parse_date(text.value(i)).ok_or_else(|| text.value(i).to_string())
                })
                .collect())
        }
        other => Err(ValueFitError::ColumnType {
            shown: shown.to_string(),
            column: "date",
            data_type: other.clone(),
            expected: "DATE, TIMESTAMP, or text such as 2024-03-31 or 20240331; check --date-col",
        }),
    }
}

/// Amounts of an amount column, or the unreadable text of each bad row.
fn amount_column(array: &ArrayRef, shown: &str) -> Result<Vec<std::result::Result<f64, String>>> {
    let n = array.len();
    match array.data_type() {
        t if t.is_numeric() => {
            let values = arrow::compute::cast(array, &DataType::Float64).map_err(|e| {
                ValueFitError::Convert {
                    what: format!("{shown}: converting the amount column to numbers"),
                    source: Some(e),
                }
            })?;
            let values = values
                .as_any()
                .downcast_ref::<Float64Array>()
                .ok_or_else(|| {
                    not_converted(format!("{shown}: the amount column did not convert"))
                })?;
            Ok((0..n)
                .map(|i| {
                    if values.is_null(i) {
                        Err("(empty)".into())
                    } else {
                        Ok(values.value(i))
                    }
                })
                .collect())
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(_, _) => {
            let text = arrow::compute::cast(array, &DataType::Utf8)?;
            let text = text.as_any().downcast_ref::<StringArray>().ok_or_else(|| {
                not_converted(format!(
                    "{shown}: the amount column did not convert to text"
                ))
            })?;
            Ok((0..n)
                .map(|i| {
                    if text.is_null(i) || text.value(i).trim().is_empty() {
                        return Err("(empty)".into());
                    }
                    let v = text.value(i).trim();
                    v.parse::<f64>().map_err(|_| v.to_string())
                })
                .collect())
        }
        other => Err(ValueFitError::ColumnType {
            shown: shown.to_string(),
            column: "amount",
            data_type: other.clone(),
            expected: "a number; check --amount-col",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_the_usual_spellings() {
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).map(day_number);
        assert_eq!(parse_date("2024-03-31"), day(2024, 3, 31));
        assert_eq!(parse_date("2024/03/31 10:15"), day(2024, 3, 31));
        assert_eq!(parse_date("2024-03-31T10:15:00Z"), day(2024, 3, 31));
        assert_eq!(parse_date("19970101"), day(1997, 1, 1));
        assert_eq!(parse_date("\"2024-01-02\""), day(2024, 1, 2));
        for bad in [
            "2024-13-45",
            "2024-02-30",
            "31/03/2024",
            "2024-03-31x",
            "1997011",
            "",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn columns_by_name_or_position_with_help() {
        let names: Vec<String> = ["Cust", "order_date", "amount"].map(String::from).to_vec();
        assert_eq!(
            find_column(&names, "amount", "--amount-col", "f", false).ok(),
            Some(2)
        );
        assert_eq!(
            find_column(&names, "2", "--date-col", "f", false).ok(),
            Some(1)
        );
        let err = find_column(&names, "cust", "--customer-col", "f.csv", false)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(
            err,
            "column 'cust' not found in f.csv; columns are: Cust, order_date, amount; use \
             --customer-col NAME (or a 1-based position)\n  help: did you mean 'Cust'?"
        );
        let data: Vec<String> = ["00001 0001 19970101 1 11.77".to_string()].to_vec();
        let err = find_column(&data, "x", "--customer-col", "f", false)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("add --format whitespace") && err.contains("add --no-header"));
    }

    #[test]
    fn extensions_datafusion_accepts() {
        assert_eq!(extension_of("orders.csv.gz"), ".csv.gz");
        assert_eq!(extension_of("CDNOW_sample.txt"), ".txt");
        assert_eq!(extension_of("orders"), "");
    }
}
