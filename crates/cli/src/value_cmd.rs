//! `touchstone value fit`: fit a purchase model (BG/NBD or Pareto/NBD) and the Gamma-Gamma
//! spend model to a user's order history, and score every customer.
//!
//! Input: one row per order (CSV with or without a header, whitespace-separated text such as
//! the CDNOW files, or Parquet), a local path or an object-store URL, `.gz` too. Conventions
//! are those of the papers and of `lifetimes` (see `touchstone_value::summary`): purchases on
//! the same day are one transaction, frequency counts repeat transaction days, recency and T
//! are measured from the first purchase, monetary value is the mean of the repeat transactions.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{Read as _, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, anyhow, bail};
use arrow::array::{
    Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, new_null_array,
};
use arrow::datatypes::{DataType, Date32Type, Field, Schema};
use chrono::NaiveDate;
use datafusion::datasource::file_format::file_compression_type::FileCompressionType;
use datafusion::prelude::{CsvReadOptions, ParquetReadOptions, SessionConfig, SessionContext};
use object_store::ObjectStoreExt as _;
use touchstone_core::store;
use touchstone_value::gamma_gamma::SpendData;
use touchstone_value::{
    BgNbdParams, ClvConfig, FitOptions, FitReport, GammaGammaParams, ParetoNbdParams,
    PurchaseModel, RfmData, StandardErrors, Summary, SummaryConfig, TimeUnit, ZeroAmounts,
    calibration_holdout_table, customer_lifetime_value_each, summarize,
};
use url::Url;

use touchstone_pipeline::thousands;

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
    /// Writes a per-customer summary (weekly units) of simulated purchases for `make bench`.
    #[command(hide = true)]
    BenchData(BenchDataArgs),
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
pub enum InputFormat {
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
    pub format: InputFormat,
    /// The file has no header line: columns are named column_1, column_2, ... (or give
    /// 1-based positions to the --*-col options).
    #[arg(long)]
    pub no_header: bool,
    /// Orders with amount 0.
    #[arg(long, value_enum, default_value = "keep")]
    pub zero_amounts: ZeroPolicy,
}

/// Arguments of the hidden `touchstone value bench-data`.
#[derive(Debug, clap::Args)]
pub struct BenchDataArgs {
    /// Customers to simulate.
    #[arg(long)]
    pub customers: u64,
    /// Length of the window in days.
    #[arg(long, default_value_t = 546)]
    pub days: u32,
    /// Random seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// CSV file to write (frequency, recency, T, monetary_value; weeks).
    #[arg(long)]
    pub out: std::path::PathBuf,
}

/// Runs a `value` subcommand.
pub async fn run(command: ValueCommand, cwd: &Path) -> anyhow::Result<ExitCode> {
    match command {
        ValueCommand::Fit(args) => fit(args, cwd).await,
        ValueCommand::BenchData(args) => bench_data(&args),
    }
}

/// Why standard errors are not shown for a fit that did not converge.
const NOT_CONVERGED: &str =
    "the fit did not converge, and standard errors are only meaningful at a maximum";
/// Rows the summary table shows without --out.
const SHOWN_ROWS: usize = 10;
/// Last (open-ended) calibration-frequency group of the holdout table (FHL 2005 Figure 3).
const HOLDOUT_TABLE_MAX_FREQUENCY: u32 = 7;

/// The order columns as read, before conversion.
struct RawOrders {
    /// Column names in file order.
    names: Vec<String>,
    customer: ArrayRef,
    date: ArrayRef,
    amount: ArrayRef,
    /// Rows of a whitespace file skipped for having the wrong number of fields.
    ragged_rows: usize,
    ragged_example: Option<(usize, usize)>,
}

/// Rows that could not be read, by reason, with the first example of each.
#[derive(Default)]
struct Unreadable {
    customer: usize,
    date: usize,
    date_example: Option<(usize, String)>,
    amount: usize,
    amount_example: Option<(usize, String)>,
}

impl Unreadable {
    fn total(&self) -> usize {
        self.customer + self.date + self.amount
    }
}

/// Orders converted to the value crate's inputs.
struct Orders {
    ids: Vec<String>,
    customer: Vec<u64>,
    day: Vec<i32>,
    amount: Vec<f64>,
    unreadable: Unreadable,
}

/// The fitted purchase model.
enum Purchase {
    Bg(BgNbdParams),
    Pareto(ParetoNbdParams),
}

impl Purchase {
    fn model(&self) -> &dyn PurchaseModel {
        match self {
            Purchase::Bg(m) => m,
            Purchase::Pareto(m) => m,
        }
    }

    fn values(&self) -> Vec<(&'static str, f64)> {
        match self {
            Purchase::Bg(m) => vec![("r", m.r), ("alpha", m.alpha), ("a", m.a), ("b", m.b)],
            Purchase::Pareto(m) => {
                vec![("r", m.r), ("alpha", m.alpha), ("s", m.s), ("beta", m.beta)]
            }
        }
    }
}

/// A fitted spend model, or why there is none.
struct SpendFit {
    params: Option<GammaGammaParams>,
    report: Option<FitReport>,
    std_errors: Result<StandardErrors, String>,
    seconds: f64,
    customers: usize,
    /// Repeat customers left out because their repeat purchases add up to 0.
    zero_spend: usize,
    problem: Option<String>,
}

async fn fit(args: ValueFitArgs, cwd: &Path) -> anyhow::Result<ExitCode> {
    check_options(&args)?;
    let url = store::resolve_location(&args.orders, cwd)?;
    let shown = args.orders.clone();
    let raw = read_orders(&args, &url, &shown).await?;
    let orders = convert(&raw, &shown)?;
    let unit = match args.time_unit {
        Unit::Week => TimeUnit::Week,
        Unit::Day => TimeUnit::Day,
    };
    let zero_amounts = match args.zero_amounts {
        ZeroPolicy::Keep => ZeroAmounts::Keep,
        ZeroPolicy::Exclude => ZeroAmounts::Exclude,
    };
    let window = (args.start.map(day_number), args.holdout_end.map(day_number));
    let (first_day, last_day) = purchase_span(&orders, zero_amounts, window).ok_or_else(|| {
        anyhow!(
            "{shown}: no usable orders: every row has a missing or non-positive amount, an \
             unreadable customer or date, or a date outside --start .. --holdout-end{}",
            unreadable_hint(&orders.unreadable)
        )
    })?;
    let calibration_end = args.calibration_end.map(day_number).unwrap_or(last_day);
    let holdout_end = match args.holdout_end {
        Some(d) => Some(day_number(d)),
        None if calibration_end < last_day => Some(last_day),
        None => None,
    };
    if calibration_end < first_day {
        bail!(
            "--calibration-end {} is before the first order in {shown} ({}); choose a date \
             between {} and {}",
            date_text(calibration_end),
            date_text(first_day),
            date_text(first_day),
            date_text(last_day)
        );
    }
    if let Some(h) = holdout_end
        && h <= calibration_end
    {
        bail!(
            "--holdout-end {} must be after the calibration end {}",
            date_text(h),
            date_text(calibration_end)
        );
    }
    let config = SummaryConfig {
        observation_start: args.start.map(day_number),
        calibration_end,
        holdout_end,
        time_unit: unit,
        zero_amounts,
    };
    let summary = summarize(&orders.customer, &orders.day, &orders.amount, &config)
        .with_context(|| format!("summarizing the orders of {shown}"))?;
    if summary.is_empty() {
        bail!(
            "{shown}: no customer has a usable purchase in the calibration period ({} .. {}); \
             check --start and --calibration-end",
            args.start
                .map(|d| d.to_string())
                .unwrap_or_else(|| date_text(first_day)),
            date_text(calibration_end)
        );
    }
    let data = RfmData::from_summary(&summary).context("building the model input")?;

    // Purchase model.
    let opts = FitOptions::default();
    let started = Instant::now();
    let (purchase, report) = match args.model {
        ModelKind::Bgnbd => {
            let f = BgNbdParams::fit(&data, &opts).map_err(|e| too_little(e, &shown))?;
            (Purchase::Bg(f.params), f.report)
        }
        ModelKind::ParetoNbd => {
            let f = ParetoNbdParams::fit(&data, &opts).map_err(|e| too_little(e, &shown))?;
            (Purchase::Pareto(f.params), f.report)
        }
    };
    let purchase_seconds = started.elapsed().as_secs_f64();
    let purchase_se = if report.converged {
        match &purchase {
            Purchase::Bg(m) => m.standard_errors(&data),
            Purchase::Pareto(m) => m.standard_errors(&data),
        }
        .map_err(|e| e.to_string())
    } else {
        Err(NOT_CONVERGED.into())
    };
    let spend = fit_spend(&summary, &opts);

    // Scores.
    let model = purchase.model();
    let n = summary.len();
    let PurchaseScores {
        p_alive,
        expected,
        errors: row_errors,
    } = score_purchases(model, &summary, args.horizon)?;
    let clv_config = ClvConfig {
        months: args.clv_months,
        monthly_discount_rate: args.monthly_discount,
        time_units_per_month: unit.units_per_month(),
        margin: args.margin,
    };
    let mut notes: Vec<Vec<String>> = vec![Vec::new(); n];
    let mut expected_spend: Vec<Option<f64>> = vec![None; n];
    let mut clv: Vec<Option<f64>> = vec![None; n];
    match &spend.params {
        Some(gg) => {
            for i in 0..n {
                match gg.conditional_expected_spend(summary.frequency[i], summary.monetary_value[i])
                {
                    Ok(v) if v.is_finite() => expected_spend[i] = Some(v),
                    Ok(_) | Err(_) => notes[i].push(
                        "expected spend is infinite under the fitted spend model (p·x + q ≤ 1)"
                            .into(),
                    ),
                }
            }
            if expected_spend.iter().all(Option::is_some) {
                clv = score_clv(model, gg, &summary, &clv_config, &mut notes)?;
            } else {
                for note in &mut notes {
                    note.push("clv is empty: the spend model has no finite mean".into());
                }
            }
        }
        None => {
            let why = spend.problem.as_deref().unwrap_or("not fitted");
            for note in &mut notes {
                note.push(format!(
                    "spend model not fitted ({why}): expected_spend and clv are empty"
                ));
            }
        }
    }
    let is_bg = matches!(purchase, Purchase::Bg(_));
    for i in 0..n {
        let x = summary.frequency[i];
        if x == 0.0 {
            let mut text = String::from("no repeat purchases: ");
            if is_bg {
                text.push_str("BG/NBD counts them alive (p_alive = 1); ");
            }
            text.push_str("monetary_value is 0 and spend is the population mean");
            notes[i].insert(0, text);
        } else if summary.monetary_value[i] <= 0.0 {
            notes[i].insert(
                0,
                "repeat purchases add up to 0: left out of the spend model".into(),
            );
        }
        if let Some(why) = &row_errors[i] {
            notes[i].push(format!(
                "p_alive or expected_purchases could not be computed: {why}"
            ));
        }
        if summary.t[i] == 0.0 {
            notes[i].push("first purchase on the calibration end: T = 0".into());
        }
    }
    let holdout_table = summary
        .holdout
        .as_ref()
        .map(|_| calibration_holdout_table(model, &summary, HOLDOUT_TABLE_MAX_FREQUENCY));

    // Report.
    let mut out = String::new();
    write_report(
        &mut out,
        &ReportInput {
            shown: &shown,
            raw: &raw,
            orders: &orders,
            summary: &summary,
            purchase: &purchase,
            report: &report,
            purchase_se: &purchase_se,
            purchase_seconds,
            spend: &spend,
            first_day,
            last_day,
        },
    )?;
    let usable = (0..n)
        .filter(|&i| p_alive[i].is_some() && expected[i].is_some())
        .count();
    if usable == 0 {
        print!("{out}");
        let why = row_errors
            .iter()
            .flatten()
            .next()
            .cloned()
            .unwrap_or_default();
        bail!(
            "the fitted {} model gives no usable prediction for any customer in {shown} ({why}); \
             the estimates are not usable (see the fit report above)",
            model.name()
        );
    }
    if let Some(Err(e)) = &holdout_table {
        writeln!(out, "\nCalibration vs holdout: not available ({e})")?;
    }
    if let Some(Ok(table)) = &holdout_table {
        let duration = summary.holdout.as_ref().map(|h| h.duration).unwrap_or(0.0);
        writeln!(
            out,
            "\nCalibration vs holdout: repeat purchases per customer in the {} {}s after {}, by calibration frequency",
            trim_number(duration, 2),
            unit_name(unit),
            date_text(calibration_end)
        )?;
        writeln!(
            out,
            "  {:>9}  {:>9}  {:>9}  {:>9}",
            "frequency", "customers", "actual", "predicted"
        )?;
        for row in table {
            let label = if row.frequency == HOLDOUT_TABLE_MAX_FREQUENCY {
                format!("{}+", row.frequency)
            } else {
                row.frequency.to_string()
            };
            writeln!(
                out,
                "  {:>9}  {:>9}  {:>9.3}  {:>9.3}",
                label, row.customers, row.actual, row.predicted
            )?;
        }
    }
    let columns = Columns {
        ids: (0..n)
            .map(|i| {
                usize::try_from(summary.customer[i])
                    .ok()
                    .and_then(|k| orders.ids.get(k))
                    .cloned()
                    .unwrap_or_default()
            })
            .collect(),
        p_alive,
        expected,
        expected_spend,
        clv,
        notes: notes
            .into_iter()
            .map(|n| (!n.is_empty()).then(|| n.join("; ")))
            .collect(),
    };
    let batch = customer_batch(&summary, &columns)?;
    match &args.out {
        Some(target) => {
            let rows = write_output(&batch, target, cwd).await?;
            writeln!(
                out,
                "\nWrote {} customers to {target} (expected_purchases over {} {}s after {}; CLV over {} months)",
                thousands(rows),
                trim_number(args.horizon, 4),
                unit_name(unit),
                date_text(calibration_end),
                args.clv_months
            )?;
        }
        None => {
            writeln!(
                out,
                "\nCustomers (first {} of {}; expected_purchases over {} {}s, CLV over {} months; --out FILE.csv|.parquet writes all)",
                SHOWN_ROWS.min(n),
                thousands(n),
                trim_number(args.horizon, 4),
                unit_name(unit),
                args.clv_months
            )?;
            write_customer_table(&mut out, &batch, SHOWN_ROWS)?;
        }
    }
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(out.as_bytes())?;
    stdout.flush()?;
    if !report.converged {
        eprintln!(
            "warning: the {} fit did not converge ({}); the scores use the best parameters found",
            model.name(),
            report.message
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Per-customer purchase scores; `None` where the model gives no finite value, with the reason.
struct PurchaseScores {
    p_alive: Vec<Option<f64>>,
    expected: Vec<Option<f64>>,
    errors: Vec<Option<String>>,
}

/// P(alive) and expected purchases per customer; a row the model cannot score gets `None`
/// and the reason.
fn score_purchases(
    model: &dyn PurchaseModel,
    s: &Summary,
    horizon: f64,
) -> anyhow::Result<PurchaseScores> {
    let p = model.p_alive_each(&s.frequency, &s.recency, &s.t)?;
    let e = model.conditional_expected_purchases_each(horizon, &s.frequency, &s.recency, &s.t)?;
    let finite = |v: &touchstone_value::Result<f64>| v.clone().ok().filter(|v| v.is_finite());
    let errors = p
        .iter()
        .zip(&e)
        .map(|(p, e)| match (p, e) {
            (Err(err), _) | (_, Err(err)) => Some(err.to_string()),
            (Ok(a), Ok(b)) if !a.is_finite() || !b.is_finite() => {
                Some("not a finite number".into())
            }
            _ => None,
        })
        .collect();
    Ok(PurchaseScores {
        p_alive: p.iter().map(finite).collect(),
        expected: e.iter().map(finite).collect(),
        errors,
    })
}

/// CLV per customer, with a note on each one that cannot be valued.
fn score_clv(
    model: &dyn PurchaseModel,
    gg: &GammaGammaParams,
    s: &Summary,
    config: &ClvConfig,
    notes: &mut [Vec<String>],
) -> anyhow::Result<Vec<Option<f64>>> {
    let values = customer_lifetime_value_each(
        model,
        gg,
        &s.frequency,
        &s.recency,
        &s.t,
        &s.monetary_value,
        config,
    )?;
    Ok(values
        .into_iter()
        .zip(notes)
        .map(|(v, notes)| match v {
            Ok(v) if v.is_finite() => Some(v),
            Ok(_) => {
                notes.push("clv could not be computed: not a finite number".into());
                None
            }
            Err(e) => {
                notes.push(format!("clv could not be computed: {e}"));
                None
            }
        })
        .collect())
}

fn check_options(args: &ValueFitArgs) -> anyhow::Result<()> {
    if !(args.horizon.is_finite() && args.horizon >= 0.0) {
        bail!(
            "--horizon must be a number of time units >= 0, got {}",
            args.horizon
        );
    }
    if args.clv_months == 0 {
        bail!("--clv-months must be at least 1");
    }
    if !(args.monthly_discount.is_finite() && args.monthly_discount > -1.0) {
        bail!(
            "--monthly-discount must be a rate above -1 (0.01 = 1 %), got {}",
            args.monthly_discount
        );
    }
    if !args.margin.is_finite() {
        bail!("--margin must be a finite number, got {}", args.margin);
    }
    if let (Some(s), Some(c)) = (args.start, args.calibration_end)
        && s > c
    {
        bail!("--start {s} is after --calibration-end {c}");
    }
    Ok(())
}

/// Turns a model error into one that says what to do.
fn too_little(e: touchstone_value::ValueError, shown: &str) -> anyhow::Error {
    match e {
        touchstone_value::ValueError::InsufficientData {
            model,
            reason,
            have,
            need,
        } => anyhow!(
            "{shown}: too little data to fit {model}: {have} {reason}, need at least {need}; \
             a longer calibration period (--calibration-end) or more customers would help"
        ),
        other => anyhow!("fitting the purchase model on {shown}: {other}"),
    }
}

fn fit_spend(summary: &Summary, opts: &FitOptions) -> SpendFit {
    let mut freq = Vec::new();
    let mut monetary = Vec::new();
    let mut zero_spend = 0;
    for (&x, &m) in summary.frequency.iter().zip(&summary.monetary_value) {
        if x > 0.0 {
            if m > 0.0 && m.is_finite() {
                freq.push(x);
                monetary.push(m);
            } else {
                zero_spend += 1;
            }
        }
    }
    let mut out = SpendFit {
        params: None,
        report: None,
        std_errors: Err("not fitted".into()),
        seconds: 0.0,
        customers: freq.len(),
        zero_spend,
        problem: None,
    };
    let data = match SpendData::new(&freq, &monetary) {
        Ok(d) => d,
        Err(e) => {
            out.problem = Some(match e {
                touchstone_value::ValueError::EmptyInput { .. } => {
                    "no customer has a repeat purchase with a positive amount".into()
                }
                other => other.to_string(),
            });
            return out;
        }
    };
    let started = Instant::now();
    match GammaGammaParams::fit(&data, opts) {
        Ok(f) => {
            out.seconds = started.elapsed().as_secs_f64();
            out.std_errors = if f.report.converged {
                f.params.standard_errors(&data).map_err(|e| e.to_string())
            } else {
                Err(NOT_CONVERGED.into())
            };
            out.params = Some(f.params);
            out.report = Some(f.report);
        }
        Err(touchstone_value::ValueError::InsufficientData { have, need, .. }) => {
            out.problem = Some(format!(
                "{have} customers with repeat purchases, need at least {need}"
            ));
        }
        Err(e) => out.problem = Some(e.to_string()),
    }
    out
}

/// First and last purchase day among rows that are purchases under `zero` and inside the
/// `(start, end)` window.
fn purchase_span(
    orders: &Orders,
    zero: ZeroAmounts,
    (start, end): (Option<i32>, Option<i32>),
) -> Option<(i32, i32)> {
    let mut span: Option<(i32, i32)> = None;
    for (&d, &a) in orders.day.iter().zip(&orders.amount) {
        let purchase = a.is_finite()
            && (a > 0.0 || (a == 0.0 && zero == ZeroAmounts::Keep))
            && start.is_none_or(|s| d >= s)
            && end.is_none_or(|e| d <= e);
        if purchase {
            span = Some(match span {
                None => (d, d),
                Some((lo, hi)) => (lo.min(d), hi.max(d)),
            });
        }
    }
    span
}

fn unreadable_hint(u: &Unreadable) -> String {
    if u.total() == 0 {
        return String::new();
    }
    let mut parts = Vec::new();
    if let Some((row, v)) = &u.date_example {
        parts.push(format!("e.g. row {row} has date '{v}'"));
    }
    if let Some((row, v)) = &u.amount_example {
        parts.push(format!("e.g. row {row} has amount '{v}'"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({}); check --date-col and --amount-col", parts.join(", "))
    }
}

// ---------------------------------------------------------------------------------------------
// Reading

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

async fn read_orders(args: &ValueFitArgs, url: &Url, shown: &str) -> anyhow::Result<RawOrders> {
    if let Some(path) = store::local_path(url)
        && !path.to_string_lossy().contains(['*', '?', '['].as_slice())
        && !path.exists()
    {
        bail!(
            "orders file {shown} not found (looked for {}); check --orders",
            path.display()
        );
    }
    let name = file_name(url);
    let lower = name.to_ascii_lowercase();
    let gz = lower.ends_with(".gz");
    let format = match args.format {
        InputFormat::Auto if lower.ends_with(".parquet") || lower.ends_with(".pq") => {
            InputFormat::Parquet
        }
        InputFormat::Auto => InputFormat::Csv,
        other => other,
    };
    let (names, columns, ragged) = match format {
        InputFormat::Whitespace => read_whitespace(url, gz, !args.no_header, shown).await?,
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
                    .with_context(|| format!("reading {shown} as Parquet"))?
            } else {
                let compression = if gz {
                    FileCompressionType::GZIP
                } else {
                    FileCompressionType::UNCOMPRESSED
                };
                let options = CsvReadOptions::new()
                    .has_header(!args.no_header)
                    .file_extension(&ext)
                    .file_compression_type(compression);
                let inferred = ctx
                    .read_csv(url.as_str(), options.clone())
                    .await
                    .with_context(|| format!("reading {shown} as CSV"))?;
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
                ctx.read_csv(url.as_str(), options.schema(&text))
                    .await
                    .with_context(|| format!("reading {shown} as CSV"))?
            };
            let schema = Arc::new(df.schema().as_arrow().clone());
            let batches = df
                .collect()
                .await
                .map_err(|e| anyhow!("reading {shown}: {}", e.strip_backtrace()))?;
            let all = arrow::compute::concat_batches(&schema, &batches)
                .with_context(|| format!("reading {shown}"))?;
            let names = schema.fields().iter().map(|f| f.name().clone()).collect();
            (names, all.columns().to_vec(), (0, None))
        }
    };
    let pick = |wanted: &str, option: &str| -> anyhow::Result<ArrayRef> {
        let i = find_column(&names, wanted, option, shown, args.no_header)?;
        columns
            .get(i)
            .cloned()
            .ok_or_else(|| anyhow!("{shown}: column {} is missing", i + 1))
    };
    Ok(RawOrders {
        customer: pick(&args.customer_col, "--customer-col")?,
        date: pick(&args.date_col, "--date-col")?,
        amount: pick(&args.amount_col, "--amount-col")?,
        names,
        ragged_rows: ragged.0,
        ragged_example: ragged.1,
    })
}

type Ragged = (usize, Option<(usize, usize)>);

/// Reads a whitespace-separated text file: every line split on runs of spaces and tabs.
async fn read_whitespace(
    url: &Url,
    gz: bool,
    header: bool,
    shown: &str,
) -> anyhow::Result<(Vec<String>, Vec<ArrayRef>, Ragged)> {
    let (object_store, path) = store::open(url)?;
    let bytes = object_store
        .get(&path)
        .await
        .with_context(|| format!("reading {shown}"))?
        .bytes()
        .await
        .with_context(|| format!("reading {shown}"))?;
    let mut text = String::new();
    let compression = if gz {
        FileCompressionType::GZIP
    } else {
        FileCompressionType::UNCOMPRESSED
    };
    compression
        .convert_read(std::io::Cursor::new(bytes))
        .map_err(|e| anyhow!("reading {shown}: {e}"))?
        .read_to_string(&mut text)
        .with_context(|| format!("reading {shown} (expected UTF-8 text)"))?;
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let names: Vec<String> = if header {
        match lines.next() {
            Some((_, l)) => l.split_whitespace().map(str::to_string).collect(),
            None => bail!("{shown} is empty"),
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
        bail!("{shown} has no data lines");
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
    option: &str,
    shown: &str,
    no_header: bool,
) -> anyhow::Result<usize> {
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
    let mut msg = format!(
        "column '{wanted}' not found in {shown}; columns are: {}; use {option} NAME (or a 1-based position)",
        names.join(", ")
    );
    if let Some(s) = suggestion.filter(|s| !looks_like_data(s)) {
        let _ = write!(msg, "\n  help: did you mean '{s}'?");
    }
    if names.len() == 1 && names[0].trim().contains([' ', '\t', ';']) {
        msg.push_str(
            "\n  help: the file does not look comma-separated; for fields separated by \
             spaces or tabs add --format whitespace",
        );
    }
    if !no_header && names.iter().any(|n| looks_like_data(n)) {
        msg.push_str(
            "\n  help: the first line looks like data, not a header; add --no-header \
             (columns are then column_1, column_2, ...)",
        );
    }
    Err(anyhow!(msg))
}

fn looks_like_data(name: &str) -> bool {
    let t = name.trim();
    !t.is_empty()
        && t.chars().all(|c| {
            c.is_ascii_digit() || c.is_whitespace() || matches!(c, '.' | '-' | '/' | ':' | ',')
        })
}

// ---------------------------------------------------------------------------------------------
// Converting

fn convert(raw: &RawOrders, shown: &str) -> anyhow::Result<Orders> {
    let n = raw.customer.len();
    let ids = arrow::compute::cast(&raw.customer, &DataType::Utf8)
        .with_context(|| format!("{shown}: reading customer ids"))?;
    let ids = ids
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| anyhow!("{shown}: customer ids are not text after conversion"))?;
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

/// Day number (days since 1970-01-01, Arrow's Date32) of a date.
fn day_number(d: NaiveDate) -> i32 {
    Date32Type::from_naive_date(d)
}

fn date_text(day: i32) -> String {
    Date32Type::to_naive_date_opt(day)
        .map(|d| d.to_string())
        .unwrap_or_else(|| format!("day {day}"))
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
fn date_column(array: &ArrayRef, shown: &str) -> anyhow::Result<Vec<Result<i32, String>>> {
    let n = array.len();
    let missing = || Err(String::from("(empty)"));
    match array.data_type() {
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _) => {
            let dates = arrow::compute::cast(array, &DataType::Date32)
                .with_context(|| format!("{shown}: converting the date column to dates"))?;
            let dates = dates
                .as_any()
                .downcast_ref::<arrow::array::Date32Array>()
                .ok_or_else(|| anyhow!("{shown}: the date column did not convert to dates"))?;
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
            let ints = ints
                .as_any()
                .downcast_ref::<Int64Array>()
                .ok_or_else(|| anyhow!("{shown}: the date column did not convert to integers"))?;
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
            let text = text
                .as_any()
                .downcast_ref::<StringArray>()
                .ok_or_else(|| anyhow!("{shown}: the date column did not convert to text"))?;
            Ok((0..n)
                .map(|i| {
                    if text.is_null(i) || text.value(i).trim().is_empty() {
                        return missing();
                    }
                    parse_date(text.value(i)).ok_or_else(|| text.value(i).to_string())
                })
                .collect())
        }
        other => bail!(
            "{shown}: the date column has type {other}; expected DATE, TIMESTAMP, or text such \
             as 2024-03-31 or 20240331; check --date-col"
        ),
    }
}

/// Amounts of an amount column, or the unreadable text of each bad row.
fn amount_column(array: &ArrayRef, shown: &str) -> anyhow::Result<Vec<Result<f64, String>>> {
    let n = array.len();
    match array.data_type() {
        t if t.is_numeric() => {
            let values = arrow::compute::cast(array, &DataType::Float64)
                .with_context(|| format!("{shown}: converting the amount column to numbers"))?;
            let values = values
                .as_any()
                .downcast_ref::<Float64Array>()
                .ok_or_else(|| anyhow!("{shown}: the amount column did not convert"))?;
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
            let text = text
                .as_any()
                .downcast_ref::<StringArray>()
                .ok_or_else(|| anyhow!("{shown}: the amount column did not convert to text"))?;
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
        other => bail!(
            "{shown}: the amount column has type {other}; expected a number; check --amount-col"
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Reporting

struct ReportInput<'a> {
    shown: &'a str,
    raw: &'a RawOrders,
    orders: &'a Orders,
    summary: &'a Summary,
    purchase: &'a Purchase,
    report: &'a FitReport,
    purchase_se: &'a Result<StandardErrors, String>,
    purchase_seconds: f64,
    spend: &'a SpendFit,
    first_day: i32,
    last_day: i32,
}

fn unit_name(unit: TimeUnit) -> &'static str {
    match unit {
        TimeUnit::Week => "week",
        TimeUnit::Day => "day",
    }
}

/// `v` with `sig` significant digits, without exponent for ordinary magnitudes.
fn significant(v: f64, sig: i32) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    if v == 0.0 {
        return "0".into();
    }
    let magnitude = v.abs().log10().floor() as i32;
    if !(-5..=12).contains(&magnitude) {
        return format!("{:.*e}", (sig - 1).max(0) as usize, v);
    }
    let decimals = (sig - 1 - magnitude).max(0) as usize;
    format!("{v:.decimals$}")
}

fn trim_number(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn write_params(
    out: &mut String,
    values: &[(&'static str, f64)],
    se: &Result<StandardErrors, String>,
) -> anyhow::Result<()> {
    writeln!(
        out,
        "  {:<8} {:>14} {:>14}   {:>25}",
        "param", "estimate", "std. error", "95% interval"
    )?;
    for (i, (name, v)) in values.iter().enumerate() {
        let (se_text, ci) = match se {
            Ok(s) => {
                let e = s.std_errors.get(i).copied().unwrap_or(f64::NAN);
                let ci = s
                    .confidence_interval(i, 0.95)
                    .map(|(lo, hi)| format!("[{}, {}]", significant(lo, 4), significant(hi, 4)))
                    .unwrap_or_default();
                (significant(e, 4), ci)
            }
            Err(_) => ("n/a".to_string(), String::new()),
        };
        writeln!(
            out,
            "  {:<8} {:>14} {:>14}   {:>25}",
            name,
            significant(*v, 6),
            se_text,
            ci
        )?;
    }
    if let Err(why) = se {
        writeln!(out, "  standard errors not available: {why}")?;
    }
    Ok(())
}

fn write_fit_line(out: &mut String, report: &FitReport, seconds: f64) -> anyhow::Result<()> {
    writeln!(
        out,
        "  log-likelihood {:.4}, {} iterations, {} evaluations, converged: {} ({}), {:.3} s",
        report.log_likelihood,
        report.iterations,
        report.evaluations,
        if report.converged { "yes" } else { "NO" },
        report.message,
        seconds
    )?;
    Ok(())
}

fn write_report(out: &mut String, r: &ReportInput<'_>) -> anyhow::Result<()> {
    let s = r.summary;
    let cfg = &s.config;
    let unit = cfg.time_unit;
    let rows_read = r.raw.customer.len() + r.raw.ragged_rows;
    writeln!(out, "Orders: {} ({} rows)", r.shown, thousands(rows_read))?;
    write!(
        out,
        "  window: first order {}, calibration end {}",
        date_text(r.first_day),
        date_text(cfg.calibration_end)
    )?;
    match cfg.holdout_end {
        Some(h) => writeln!(
            out,
            ", holdout end {} ({} {}s of holdout)",
            date_text(h),
            trim_number(s.holdout.as_ref().map(|h| h.duration).unwrap_or(0.0), 2),
            unit_name(unit)
        )?,
        None => writeln!(
            out,
            " (no holdout period; last order {})",
            date_text(r.last_day)
        )?,
    }
    writeln!(
        out,
        "  rows used: {} in calibration, {} in holdout",
        thousands(s.rows_calibration),
        thousands(s.rows_holdout)
    )?;
    let single = s.frequency.iter().filter(|&&x| x == 0.0).count();
    writeln!(
        out,
        "  customers: {} ({} with repeat purchases; {} with a single purchase day, frequency 0)",
        thousands(s.len()),
        thousands(s.len() - single),
        thousands(single)
    )?;

    // Exclusions.
    let e = &s.exclusions;
    let u = &r.orders.unreadable;
    let mut reasons: Vec<(usize, String)> = vec![
        (
            r.raw.ragged_rows,
            match r.raw.ragged_example {
                Some((line, fields)) => format!(
                    "wrong number of fields (e.g. line {line} has {fields}; columns: {})",
                    r.raw.names.len()
                ),
                None => "wrong number of fields".into(),
            },
        ),
        (u.customer, "customer id missing".into()),
        (
            u.date,
            match &u.date_example {
                Some((row, v)) => format!(
                    "date missing or not a date (e.g. row {row}: '{v}'; expected YYYY-MM-DD, YYYYMMDD, a DATE or a TIMESTAMP)"
                ),
                None => "date missing or not a date".into(),
            },
        ),
        (
            u.amount,
            match &u.amount_example {
                Some((row, v)) => {
                    format!("amount missing or not a number (e.g. row {row}: '{v}')")
                }
                None => "amount missing or not a number".into(),
            },
        ),
        (e.non_finite_amount, "amount is not a finite number".into()),
        (
            e.negative_amount,
            "amount is negative (returns and refunds are not purchases)".into(),
        ),
        (e.zero_amount, "amount is 0 (--zero-amounts exclude)".into()),
        (
            e.before_observation_start,
            "dated before the window start (--start)".into(),
        ),
        (
            e.after_calibration_end,
            "dated after the calibration end (no holdout period)".into(),
        ),
        (
            e.after_holdout_end,
            "dated after the holdout end (--holdout-end)".into(),
        ),
        (
            e.first_purchase_in_holdout,
            format!(
                "customer's first purchase is in the holdout period, so not in the calibration cohort ({} customers)",
                thousands(s.customers_first_in_holdout)
            ),
        ),
    ];
    reasons.retain(|(n, _)| *n > 0);
    let excluded: usize = reasons.iter().map(|(n, _)| n).sum();
    if excluded == 0 {
        writeln!(out, "  rows left out: 0")?;
    } else {
        writeln!(out, "  rows left out: {}", thousands(excluded))?;
        for (n, why) in &reasons {
            writeln!(out, "    {:>9}  {why}", thousands(*n))?;
        }
    }
    if s.zero_amount_rows > 0 {
        writeln!(
            out,
            "  {} rows with amount 0 kept as purchases (--zero-amounts exclude leaves them out)",
            thousands(s.zero_amount_rows)
        )?;
    }

    // Purchase model.
    let model_name = r.purchase.model().name();
    writeln!(
        out,
        "\n{model_name} purchase model ({} customers, time unit: {})",
        thousands(s.len()),
        unit_name(unit)
    )?;
    write_params(out, &r.purchase.values(), r.purchase_se)?;
    write_fit_line(out, r.report, r.purchase_seconds)?;
    if !r.report.converged {
        writeln!(
            out,
            "  the fit did NOT converge: the parameters above are the best found; treat them and the scores with caution"
        )?;
    }

    // Spend model.
    let sp = r.spend;
    writeln!(
        out,
        "\nGamma-Gamma spend model ({} repeat customers)",
        thousands(sp.customers)
    )?;
    match (&sp.params, &sp.report) {
        (Some(gg), Some(rep)) => {
            write_params(
                out,
                &[("p", gg.p), ("q", gg.q), ("gamma", gg.gamma)],
                &sp.std_errors,
            )?;
            write_fit_line(out, rep, sp.seconds)?;
            match gg.population_mean_spend() {
                Ok(m) => writeln!(
                    out,
                    "  population mean spend per transaction: {}",
                    significant(m, 5)
                )?,
                Err(_) => writeln!(
                    out,
                    "  q <= 1: the population mean spend is infinite; customers without repeat purchases get no expected spend"
                )?,
            }
            if !rep.converged {
                writeln!(
                    out,
                    "  the fit did NOT converge: the parameters above are the best found"
                )?;
            }
        }
        _ => writeln!(
            out,
            "  not fitted: {}",
            sp.problem.as_deref().unwrap_or("unknown reason")
        )?,
    }
    if sp.zero_spend > 0 {
        writeln!(
            out,
            "  {} repeat customers whose repeat purchases add up to 0 are left out of this fit",
            thousands(sp.zero_spend)
        )?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Output

struct Columns {
    ids: Vec<String>,
    p_alive: Vec<Option<f64>>,
    expected: Vec<Option<f64>>,
    expected_spend: Vec<Option<f64>>,
    clv: Vec<Option<f64>>,
    notes: Vec<Option<String>>,
}

fn customer_batch(summary: &Summary, c: &Columns) -> anyhow::Result<RecordBatch> {
    let ints = |v: &[f64]| -> ArrayRef {
        Arc::new(Int64Array::from_iter_values(v.iter().map(|x| *x as i64)))
    };
    let floats = |v: &[f64]| -> ArrayRef { Arc::new(Float64Array::from(v.to_vec())) };
    let opt = |v: &[Option<f64>]| -> ArrayRef { Arc::new(Float64Array::from(v.to_vec())) };
    let mut fields = vec![
        Field::new("customer_id", DataType::Utf8, false),
        Field::new("frequency", DataType::Int64, false),
        Field::new("recency", DataType::Float64, false),
        Field::new("T", DataType::Float64, false),
        Field::new("monetary_value", DataType::Float64, false),
        Field::new("p_alive", DataType::Float64, true),
        Field::new("expected_purchases", DataType::Float64, true),
        Field::new("expected_spend", DataType::Float64, true),
        Field::new("clv", DataType::Float64, true),
    ];
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(c.ids.clone())),
        ints(&summary.frequency),
        floats(&summary.recency),
        floats(&summary.t),
        floats(&summary.monetary_value),
        opt(&c.p_alive),
        opt(&c.expected),
        opt(&c.expected_spend),
        opt(&c.clv),
    ];
    if let Some(h) = &summary.holdout {
        fields.push(Field::new("holdout_frequency", DataType::Int64, false));
        columns.push(ints(&h.frequency));
    }
    fields.push(Field::new("note", DataType::Utf8, true));
    columns.push(if c.notes.iter().all(Option::is_none) {
        new_null_array(&DataType::Utf8, summary.len())
    } else {
        Arc::new(StringArray::from(c.notes.clone()))
    });
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}

async fn write_output(batch: &RecordBatch, target: &str, cwd: &Path) -> anyhow::Result<usize> {
    let url = store::resolve_location(target, cwd)?;
    let lower = url.path().to_ascii_lowercase();
    let mut bytes: Vec<u8> = Vec::new();
    if lower.ends_with(".csv") {
        let mut writer = arrow::csv::WriterBuilder::new()
            .with_header(true)
            .build(&mut bytes);
        writer.write(batch)?;
    } else if lower.ends_with(".parquet") {
        let mut writer = parquet::arrow::ArrowWriter::try_new(&mut bytes, batch.schema(), None)?;
        writer.write(batch)?;
        writer.close()?;
    } else {
        bail!("--out {target}: use a file name ending in .csv or .parquet");
    }
    let (object_store, path) = store::open(&url)?;
    object_store
        .put(&path, bytes.into())
        .await
        .with_context(|| format!("writing {target}"))?;
    Ok(batch.num_rows())
}

fn write_customer_table(out: &mut String, batch: &RecordBatch, rows: usize) -> anyhow::Result<()> {
    let rows = rows.min(batch.num_rows());
    let schema = batch.schema();
    let mut cells: Vec<Vec<String>> =
        vec![schema.fields().iter().map(|f| f.name().clone()).collect()];
    for i in 0..rows {
        let mut line = Vec::new();
        for (field, col) in schema.fields().iter().zip(batch.columns()) {
            let text = if col.is_null(i) {
                String::new()
            } else if let Some(a) = col.as_any().downcast_ref::<StringArray>() {
                a.value(i).to_string()
            } else if let Some(a) = col.as_any().downcast_ref::<Int64Array>() {
                a.value(i).to_string()
            } else if let Some(a) = col.as_any().downcast_ref::<Float64Array>() {
                let decimals = match field.name().as_str() {
                    "p_alive" | "expected_purchases" => 4,
                    _ => 2,
                };
                format!("{:.*}", decimals, a.value(i))
            } else {
                String::new()
            };
            line.push(text);
        }
        cells.push(line);
    }
    let widths: Vec<usize> = (0..cells[0].len())
        .map(|c| {
            cells
                .iter()
                .map(|r| r[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in &cells {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let last = c + 1 == row.len();
            if last {
                line.push_str(cell);
            } else if c == 0 {
                let _ = write!(line, "{cell:<w$}  ", w = widths[c]);
            } else {
                let _ = write!(line, "{cell:>w$}  ", w = widths[c]);
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Bench data

fn bench_data(args: &BenchDataArgs) -> anyhow::Result<ExitCode> {
    use touchstone_synth::{BtydParams, simulate_purchases};
    let (mut customer, mut day, mut amount) = (Vec::new(), Vec::new(), Vec::new());
    for c in simulate_purchases(&BtydParams::default(), args.customers, args.days, args.seed)? {
        for p in &c.purchases {
            customer.push(c.index);
            day.push(p.day.floor() as i32);
            amount.push(p.amount);
        }
    }
    let last = i32::try_from(args.days)
        .unwrap_or(i32::MAX)
        .saturating_sub(1);
    let config = SummaryConfig {
        observation_start: None,
        calibration_end: last,
        holdout_end: None,
        time_unit: TimeUnit::Week,
        zero_amounts: ZeroAmounts::Keep,
    };
    let s = summarize(&customer, &day, &amount, &config)?;
    let mut text = String::from("frequency,recency,T,monetary_value\n");
    for i in 0..s.len() {
        let _ = writeln!(
            text,
            "{},{},{},{}",
            s.frequency[i], s.recency[i], s.t[i], s.monetary_value[i]
        );
    }
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&args.out, text).with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "{}: {} customers, {} orders, weekly summary over {} days",
        args.out.display(),
        s.len(),
        customer.len(),
        args.days
    );
    Ok(ExitCode::SUCCESS)
}
