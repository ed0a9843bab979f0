//! `touchstone value fit`: the command line of `touchstone_pipeline::value_fit`, which reads
//! the order history, fits a purchase model (BG/NBD or Pareto/NBD) and Gamma-Gamma, scores
//! every customer and builds the report.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use chrono::NaiveDate;
use touchstone_pipeline::value_fit::{self, InputFormat, ValueFitError, ValueFitOptions};
use touchstone_value::{PurchaseModelKind, TimeUnit, ZeroAmounts};

/// `touchstone value ...` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ValueCommand {
    /// Fit BG/NBD (or Pareto/NBD) and Gamma-Gamma to an order history; score every customer.
    ///
    /// Prints the parameters with standard errors, fit diagnostics, rows left out and why,
    /// and (when orders after --calibration-end exist) actual vs predicted holdout purchases.
    /// Writes one row per customer to --out (CSV or Parquet), or prints the first 10.
    ///
    /// Exit codes: 0 fitted and scored (a fit that did not converge is reported as a warning
    /// and its best parameters are used); 2 unreadable input, a missing column, too little
    /// data, or predictions that cannot be computed.
    Fit(ValueFitArgs),
}

/// Purchase models `value fit` can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModelKind {
    /// BG/NBD (Fader, Hardie & Lee 2005).
    Bgnbd,
    /// Pareto/NBD (Schmittlein, Morrison & Colombo 1987).
    #[value(name = "pareto_nbd", alias = "pareto-nbd")]
    ParetoNbd,
}

/// Time unit of recency, T, --horizon and the model parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Unit {
    /// Weeks of 7 days (as in the CDNOW papers); a month is 4.345 weeks.
    Week,
    /// Days; a month is 30 days.
    Day,
}

/// Layout of the orders file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// By extension: `.parquet` is Parquet, anything else CSV.
    Auto,
    /// Comma-separated, quoted as usual.
    Csv,
    /// Fields separated by runs of spaces or tabs (e.g. the CDNOW text files).
    Whitespace,
    /// Apache Parquet.
    Parquet,
}

/// What to do with orders whose amount is exactly 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ZeroPolicy {
    /// Keep them as purchases (they count for frequency and recency), as the CDNOW papers do.
    Keep,
    /// Leave them out (counted in the report).
    Exclude,
}

/// Arguments of `touchstone value fit`.
#[derive(Debug, clap::Args)]
pub struct ValueFitArgs {
    /// Order history: a path or URL (file://, s3://, az://, gs://, http(s)://); CSV (`.gz`
    /// too), whitespace-separated text or Parquet (see --format).
    #[arg(long, value_name = "FILE_OR_URL")]
    pub orders: String,
    /// Column holding the customer id (any type). A 1-based position works too (e.g. with
    /// --no-header).
    #[arg(long, value_name = "COLUMN")]
    pub customer_col: String,
    /// Column holding the order date: DATE, TIMESTAMP, or text YYYY-MM-DD (a time after it is
    /// ignored), YYYY/MM/DD or YYYYMMDD (also as an integer).
    #[arg(long, value_name = "COLUMN")]
    pub date_col: String,
    /// Column holding the order amount (a number; text is parsed).
    #[arg(long, value_name = "COLUMN")]
    pub amount_col: String,
    /// Purchase model.
    #[arg(long, value_enum, default_value = "bgnbd")]
    pub model: ModelKind,
    /// Last day of the calibration period (YYYY-MM-DD, inclusive); orders after it form the
    /// holdout period. Defaults to the last order date (no holdout).
    #[arg(long, value_name = "DATE")]
    pub calibration_end: Option<NaiveDate>,
    /// Last day of the holdout period (inclusive); later orders are left out. Defaults to the
    /// last order date.
    #[arg(long, value_name = "DATE")]
    pub holdout_end: Option<NaiveDate>,
    /// First day of the observation window (inclusive); earlier orders are left out.
    #[arg(long, value_name = "DATE")]
    pub start: Option<NaiveDate>,
    /// Time unit of recency, T, --horizon and the parameters.
    #[arg(long, value_enum, default_value = "week")]
    pub time_unit: Unit,
    /// Prediction horizon after the calibration end, in time units, for expected_purchases.
    #[arg(long, default_value_t = 39.0)]
    pub horizon: f64,
    /// CLV horizon in months.
    #[arg(long, default_value_t = 12)]
    pub clv_months: u32,
    /// Monthly discount rate for CLV (0.01 = 1 %).
    #[arg(long, default_value_t = 0.01)]
    pub monthly_discount: f64,
    /// Profit margin applied to spend in CLV (1.0: spend is profit, as in `lifetimes`).
    #[arg(long, default_value_t = 1.0)]
    pub margin: f64,
    /// Where to write one row per customer: a path or URL ending in .csv or .parquet.
    /// Without it the first 10 customers are printed.
    #[arg(long, value_name = "FILE")]
    pub out: Option<String>,
    /// Layout of the orders file.
    #[arg(long, value_enum, default_value = "auto")]
    pub format: Format,
    /// The file has no header line: columns are named column_1, column_2, ... (or give
    /// 1-based positions to the --*-col options).
    #[arg(long)]
    pub no_header: bool,
    /// Orders with amount 0.
    #[arg(long, value_enum, default_value = "keep")]
    pub zero_amounts: ZeroPolicy,
}

impl From<ValueFitArgs> for ValueFitOptions {
    fn from(a: ValueFitArgs) -> Self {
        ValueFitOptions {
            orders: a.orders,
            customer_col: a.customer_col,
            date_col: a.date_col,
            amount_col: a.amount_col,
            model: match a.model {
                ModelKind::Bgnbd => PurchaseModelKind::BgNbd,
                ModelKind::ParetoNbd => PurchaseModelKind::ParetoNbd,
            },
            calibration_end: a.calibration_end,
            holdout_end: a.holdout_end,
            start: a.start,
            time_unit: match a.time_unit {
                Unit::Week => TimeUnit::Week,
                Unit::Day => TimeUnit::Day,
            },
            horizon: a.horizon,
            clv_months: a.clv_months,
            monthly_discount: a.monthly_discount,
            margin: a.margin,
            out: a.out,
            format: match a.format {
                Format::Auto => InputFormat::Auto,
                Format::Csv => InputFormat::Csv,
                Format::Whitespace => InputFormat::Whitespace,
                Format::Parquet => InputFormat::Parquet,
            },
            no_header: a.no_header,
            zero_amounts: match a.zero_amounts {
                ZeroPolicy::Keep => ZeroAmounts::Keep,
                ZeroPolicy::Exclude => ZeroAmounts::Exclude,
            },
        }
    }
}

/// Runs a `value` subcommand: the report on stdout, warnings on stderr. Every error exits 2
/// (main prints it); when the fits ran but score no customer, their report is printed first.
pub async fn run(command: ValueCommand, cwd: &Path) -> anyhow::Result<ExitCode> {
    let ValueCommand::Fit(args) = command;
    let output = value_fit::run(&args.into(), cwd).await.inspect_err(|e| {
        if let ValueFitError::NoUsablePrediction { report, .. } = e {
            print!("{report}");
        }
    })?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(output.report.as_bytes())?;
    stdout.flush()?;
    for warning in &output.warnings {
        eprintln!("warning: {warning}");
    }
    Ok(ExitCode::SUCCESS)
}
