//! `touchstone value fit` as a library: read an order history, fit, score, report.
//!
//! Input: one row per order (CSV with or without a header, whitespace-separated text such as
//! the CDNOW files, or Parquet), a local path or an object-store URL, `.gz` too. Conventions
//! are those of the papers and of `lifetimes` (see `touchstone_value::summary`): purchases on
//! the same day are one transaction, frequency counts repeat transaction days, recency and T
//! are measured from the first purchase, monetary value is the mean of the repeat transactions.
//!
//! The models are fitted and scored by [`touchstone_value::ValueModel`], the API the
//! `customer_value_model` table function uses too, so both leave out the same customers for
//! the same reasons ([`touchstone_value::Exclusion`]).
//!
//! Inside: `read` (the order file, its columns, dates and amounts; bad rows counted with an
//! example), `fit` (the window, the summary, the fits, the scores and the per-customer table)
//! and `report` (the text for stdout).

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use touchstone_core::store::{self, StoreError};
use touchstone_value::{PurchaseModelKind, TimeUnit, ValueError, ZeroAmounts};

mod fit;
mod read;
mod report;

/// Layout of the orders file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputFormat {
    /// By extension: `.parquet` (or `.pq`) is Parquet, anything else CSV.
    #[default]
    Auto,
    /// Comma-separated, quoted as usual.
    Csv,
    /// Fields separated by runs of spaces or tabs (e.g. the CDNOW text files).
    Whitespace,
    /// Apache Parquet.
    Parquet,
}

/// What `touchstone value fit` was asked to do (its options, without the command line).
#[derive(Debug, Clone, PartialEq)]
pub struct ValueFitOptions {
    /// Order history: a path (relative to the base directory) or an object-store URL.
    pub orders: String,
    /// Column holding the customer id, by name or 1-based position.
    pub customer_col: String,
    /// Column holding the order date, by name or 1-based position.
    pub date_col: String,
    /// Column holding the order amount, by name or 1-based position.
    pub amount_col: String,
    /// Purchase model.
    pub model: PurchaseModelKind,
    /// Last day of the calibration period (inclusive); by default the last order date.
    pub calibration_end: Option<NaiveDate>,
    /// Last day of the holdout period (inclusive); by default the last order date.
    pub holdout_end: Option<NaiveDate>,
    /// First day of the observation window (inclusive).
    pub start: Option<NaiveDate>,
    /// Time unit of recency, T, the horizon and the parameters.
    pub time_unit: TimeUnit,
    /// Horizon of the expected purchases after the calibration end, in time units.
    pub horizon: f64,
    /// CLV horizon in months.
    pub clv_months: u32,
    /// Monthly discount rate of CLV.
    pub monthly_discount: f64,
    /// Profit margin applied to spend in CLV.
    pub margin: f64,
    /// Where to write one row per customer (`.csv` or `.parquet`); `None` prints the first 10.
    pub out: Option<String>,
    /// Layout of the orders file.
    pub format: InputFormat,
    /// The file has no header line (columns are column_1, column_2, ...).
    pub no_header: bool,
    /// Orders with amount 0: purchases or left out.
    pub zero_amounts: ZeroAmounts,
}

impl ValueFitOptions {
    /// Options with the command's defaults for `orders` and its three columns: BG/NBD, weeks,
    /// a 39-week horizon, 12 months of CLV at 1 % a month, margin 1, zero amounts kept.
    ///
    /// ```
    /// use touchstone_pipeline::value_fit::ValueFitOptions;
    /// let o = ValueFitOptions::new("orders.csv", "customer", "day", "amount");
    /// assert_eq!((o.horizon, o.clv_months, o.out), (39.0, 12, None));
    /// ```
    pub fn new(orders: &str, customer_col: &str, date_col: &str, amount_col: &str) -> Self {
        ValueFitOptions {
            orders: orders.to_string(),
            customer_col: customer_col.to_string(),
            date_col: date_col.to_string(),
            amount_col: amount_col.to_string(),
            model: PurchaseModelKind::BgNbd,
            calibration_end: None,
            holdout_end: None,
            start: None,
            time_unit: TimeUnit::Week,
            horizon: 39.0,
            clv_months: 12,
            monthly_discount: 0.01,
            margin: 1.0,
            out: None,
            format: InputFormat::Auto,
            no_header: false,
            zero_amounts: ZeroAmounts::Keep,
        }
    }
}

/// What a fit produced for the user.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueFitOutput {
    /// The report (parameters, diagnostics, rows left out, holdout check, customers or where
    /// they were written), for stdout.
    pub report: String,
    /// Warnings for stderr (a fit that did not converge).
    pub warnings: Vec<String>,
}

/// A boxed error from a reader or writer.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why `value fit` could not fit or score. Every message names the file or option to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ValueFitError {
    /// An option is out of its domain or inconsistent with another or with the data.
    #[error("{option} {problem}")]
    InvalidOption {
        /// The option, as spelled on the command line.
        option: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// The orders location or the output location cannot be used.
    #[error(transparent)]
    Location(#[from] StoreError),
    /// A local orders file that does not exist.
    #[error("orders file {shown} not found (looked for {}); check --orders", path.display())]
    OrdersNotFound {
        /// The location as given.
        shown: String,
        /// The path looked for.
        path: PathBuf,
    },
    /// Reading or decoding a file failed.
    #[error("{what}")]
    Read {
        /// What was being read (names the file).
        what: String,
        /// The reader's error.
        #[source]
        source: BoxError,
    },
    /// Reading failed with a message that already holds the cause.
    #[error("reading {shown}: {message}")]
    ReadFailed {
        /// The file.
        shown: String,
        /// The reader's message.
        message: String,
    },
    /// A whitespace-separated file without lines, or with only a header.
    #[error("{shown} {problem}")]
    NoLines {
        /// The file.
        shown: String,
        /// "is empty" or "has no data lines".
        problem: &'static str,
    },
    /// A column option names no column of the file.
    #[error("{}", unknown_column(.wanted, .shown, .option, .columns, .help))]
    UnknownColumn {
        /// The name or position asked for.
        wanted: String,
        /// The file.
        shown: String,
        /// The option that asked.
        option: &'static str,
        /// The file's columns.
        columns: Vec<String>,
        /// Hints (a near match, another format, a missing --no-header).
        help: Vec<String>,
    },
    /// The date or amount column has a type that cannot hold dates or amounts.
    #[error("{shown}: the {column} column has type {data_type}; expected {expected}")]
    ColumnType {
        /// The file.
        shown: String,
        /// "date" or "amount".
        column: &'static str,
        /// The column's type.
        data_type: arrow::datatypes::DataType,
        /// What would do, and the option to check.
        expected: &'static str,
    },
    /// Converting a column failed.
    #[error("{what}")]
    Convert {
        /// What was being converted (names the file).
        what: String,
        /// Arrow's error, when there is one.
        #[source]
        source: Option<arrow::error::ArrowError>,
    },
    /// No row is a usable order inside the window.
    #[error(
        "{shown}: no usable orders: every row has a missing or non-positive amount, an \
         unreadable customer or date, or a date outside --start .. --holdout-end{hint}"
    )]
    NoUsableOrders {
        /// The file.
        shown: String,
        /// Examples of unreadable values, when there are some.
        hint: String,
    },
    /// Building the per-customer summary failed.
    #[error("summarizing the orders of {shown}")]
    Summarize {
        /// The file.
        shown: String,
        /// The value crate's error.
        #[source]
        source: ValueError,
    },
    /// No customer has a purchase in the calibration period.
    #[error(
        "{shown}: no customer has a usable purchase in the calibration period ({start} .. \
         {calibration_end}); check --start and --calibration-end"
    )]
    NoCustomers {
        /// The file.
        shown: String,
        /// First day of the window.
        start: String,
        /// Calibration end.
        calibration_end: String,
    },
    /// Too few customers (or repeat customers) to fit the purchase model.
    #[error(
        "{shown}: too little data to fit {model}: {have} {reason}, need at least {need}; a \
         longer calibration period (--calibration-end) or more customers would help"
    )]
    TooLittleData {
        /// The file.
        shown: String,
        /// The model.
        model: &'static str,
        /// What there is too little of.
        reason: &'static str,
        /// How many there are.
        have: usize,
        /// How many are needed.
        need: usize,
    },
    /// The purchase model could not be fitted for another reason.
    #[error("fitting the purchase model on {shown}")]
    PurchaseFit {
        /// The file.
        shown: String,
        /// The value crate's error.
        #[source]
        source: ValueError,
    },
    /// The fitted purchase model scores no customer.
    #[error(
        "the fitted {model} model gives no usable prediction for any customer in {shown} \
         ({why}); the estimates are not usable (see the fit report above)"
    )]
    NoUsablePrediction {
        /// The model.
        model: &'static str,
        /// The file.
        shown: String,
        /// The first customer's reason.
        why: String,
        /// The report up to the fits, to print before the error.
        report: String,
    },
    /// A model computation failed as a whole.
    #[error(transparent)]
    Value(#[from] ValueError),
    /// Building or writing the per-customer table failed.
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
    /// Writing the per-customer Parquet file failed.
    #[error(transparent)]
    Parquet(#[from] parquet::errors::ParquetError),
    /// Writing the output file failed.
    #[error("writing {target}")]
    Write {
        /// The output location as given.
        target: String,
        /// The store's error.
        #[source]
        source: object_store::Error,
    },
    /// Formatting the report failed.
    #[error(transparent)]
    Format(#[from] std::fmt::Error),
}

fn unknown_column(
    wanted: &str,
    shown: &str,
    option: &str,
    columns: &[String],
    help: &[String],
) -> String {
    let mut msg = format!(
        "column '{wanted}' not found in {shown}; columns are: {}; use {option} NAME (or a 1-based position)",
        columns.join(", ")
    );
    for h in help {
        msg.push_str("\n  help: ");
        msg.push_str(h);
    }
    msg
}

/// Reads the order history, fits the purchase and spend models, scores every customer, writes
/// the per-customer table to `options.out` (or puts the first 10 customers in the report) and
/// returns the report. Relative paths resolve against `base_dir`.
///
/// A fit that does not converge is not an error: its best parameters are used and the output
/// carries a warning.
///
/// ```
/// use object_store::{ObjectStoreExt, PutPayload};
/// use touchstone_pipeline::value_fit::{run, ValueFitOptions};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// // Eight customers' orders in an in-memory store.
/// let mut csv = String::from("customer,day,amount\n");
/// for (c, days) in [(1, "2024-01-03 2024-02-10 2024-05-01"), (2, "2024-01-05"),
///                   (3, "2024-01-09 2024-03-02"), (4, "2024-02-01 2024-02-20 2024-03-20 2024-06-01"),
///                   (5, "2024-02-11"), (6, "2024-03-01 2024-05-30"), (7, "2024-01-20 2024-04-04"),
///                   (8, "2024-04-15")] {
///     for d in days.split(' ') {
///         csv.push_str(&format!("c{c},{d},{}\n", 10 + 3 * c));
///     }
/// }
/// let url = url::Url::parse("memory://docs/orders.csv").unwrap();
/// let (store, path) = touchstone_core::store::open(&url).unwrap();
/// store.put(&path, PutPayload::from(csv.into_bytes())).await.unwrap();
///
/// let options = ValueFitOptions::new("memory://docs/orders.csv", "customer", "day", "amount");
/// let output = run(&options, std::path::Path::new(".")).await.unwrap();
/// assert!(output.report.contains("customers: 8 (5 with repeat purchases"));
/// assert!(output.report.contains("Customers (first 8 of 8"));
/// # });
/// ```
pub async fn run(
    options: &ValueFitOptions,
    base_dir: &Path,
) -> Result<ValueFitOutput, ValueFitError> {
    fit::check_options(options)?;
    let url = store::resolve_location(&options.orders, base_dir)?;
    let shown = options.orders.as_str();
    let raw = read::read_orders(options, &url, shown).await?;
    let orders = read::convert(&raw, shown)?;
    let window = fit::Window::of(options, &orders, shown)?;
    let summary = fit::summarize_orders(options, &orders, &window, shown)?;
    let fitted = fit::fit(options, &summary, shown)?;

    let mut report = String::new();
    report::write_report(
        &mut report,
        &report::ReportInput {
            shown,
            raw: &raw,
            orders: &orders,
            summary: &summary,
            fitted: &fitted,
            window: &window,
        },
    )?;
    if let Some(why) = fitted.unusable() {
        return Err(ValueFitError::NoUsablePrediction {
            model: fitted.purchase.params.model().name(),
            shown: shown.to_string(),
            why,
            report,
        });
    }
    report::write_holdout(&mut report, &summary, &fitted, &window)?;
    let batch = fit::customer_batch(&summary, &orders, &fitted)?;
    match &options.out {
        Some(target) => {
            let rows = fit::write_output(&batch, target, base_dir).await?;
            report::write_written(&mut report, options, target, rows, &window)?;
        }
        None => report::write_customers(&mut report, options, &batch)?,
    }
    let mut warnings = Vec::new();
    if !fitted.purchase.report.converged {
        warnings.push(format!(
            "the {} fit did not converge ({}); the scores use the best parameters found",
            fitted.purchase.params.model().name(),
            fitted.purchase.report.message
        ));
    }
    Ok(ValueFitOutput { report, warnings })
}

/// Day number (days since 1970-01-01, Arrow's Date32) of a date.
fn day_number(d: NaiveDate) -> i32 {
    arrow::datatypes::Date32Type::from_naive_date(d)
}

/// A day number as YYYY-MM-DD.
fn date_text(day: i32) -> String {
    arrow::datatypes::Date32Type::to_naive_date_opt(day)
        .map(|d| d.to_string())
        .unwrap_or_else(|| format!("day {day}"))
}
