//! The text `value fit` prints: the input and its window, rows left out and why, both models'
//! parameters with standard errors and fit diagnostics, the calibration-vs-holdout check, and
//! the customers (or where they were written).

use std::fmt::Write as _;

use arrow::array::{Array, Float64Array, Int64Array, RecordBatch, StringArray};
use touchstone_core::text::thousands;
use touchstone_value::{FitReport, OrderExclusion, StandardErrors, Summary, TimeUnit};

use super::fit::{Fitted, HOLDOUT_TABLE_MAX_FREQUENCY, Window};
use super::read::{Orders, RawOrders};
use super::{ValueFitOptions, date_text};

/// Rows the customer table shows without --out.
const SHOWN_ROWS: usize = 10;

type Result = std::fmt::Result;

/// What the report describes.
pub(super) struct ReportInput<'a> {
    pub shown: &'a str,
    pub raw: &'a RawOrders,
    pub orders: &'a Orders,
    pub summary: &'a Summary,
    pub fitted: &'a Fitted,
    pub window: &'a Window,
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
    se: &std::result::Result<StandardErrors, String>,
) -> Result {
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

fn write_fit_line(out: &mut String, report: &FitReport, seconds: f64) -> Result {
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

pub(super) fn write_report(out: &mut String, r: &ReportInput<'_>) -> Result {
    let s = r.summary;
    let cfg = &s.config;
    let unit = cfg.time_unit;
    let rows_read = r.raw.customer.len() + r.raw.ragged_rows;
    writeln!(out, "Orders: {} ({} rows)", r.shown, thousands(rows_read))?;
    write!(
        out,
        "  window: first order {}, calibration end {}",
        date_text(r.window.first_day),
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
            date_text(r.window.last_day)
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
    ];
    // The summary's reasons, with the option that decides each.
    let option = |why: OrderExclusion| match why {
        OrderExclusion::ZeroAmount => " (--zero-amounts exclude)".to_string(),
        OrderExclusion::BeforeObservationStart => " (--start)".into(),
        OrderExclusion::AfterHoldoutEnd => " (--holdout-end)".into(),
        OrderExclusion::FirstPurchaseInHoldout => {
            format!(" ({} customers)", thousands(s.customers_first_in_holdout))
        }
        _ => String::new(),
    };
    reasons.extend(
        s.exclusions
            .by_reason()
            .into_iter()
            .map(|(why, n)| (n, format!("{why}{}", option(why)))),
    );
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
    let f = r.fitted;
    let purchase = &f.purchase;
    writeln!(
        out,
        "\n{} purchase model ({} customers, time unit: {})",
        purchase.params.model().name(),
        thousands(s.len()),
        unit_name(unit)
    )?;
    write_params(out, &purchase.params.values(), &f.purchase_se)?;
    write_fit_line(out, &purchase.report, purchase.seconds)?;
    if !purchase.report.converged {
        writeln!(
            out,
            "  the fit did NOT converge: the parameters above are the best found; treat them and the scores with caution"
        )?;
    }

    // Spend model.
    let counts = f.model.counts();
    writeln!(
        out,
        "\nGamma-Gamma spend model ({} repeat customers)",
        thousands(counts.spend_model)
    )?;
    match f.model.spend() {
        Ok(spend) => {
            let gg = spend.params;
            write_params(
                out,
                &[("p", gg.p), ("q", gg.q), ("gamma", gg.gamma)],
                &f.spend_se,
            )?;
            write_fit_line(out, &spend.report, spend.seconds)?;
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
            if !spend.report.converged {
                writeln!(
                    out,
                    "  the fit did NOT converge: the parameters above are the best found"
                )?;
            }
        }
        Err(_) => writeln!(
            out,
            "  not fitted: {}",
            f.spend_problem().as_deref().unwrap_or("unknown reason")
        )?,
    }
    if counts.non_positive_spend > 0 {
        writeln!(
            out,
            "  {} repeat customers whose repeat purchases add up to 0 are left out of this fit \
             (they get no expected spend or CLV)",
            thousands(counts.non_positive_spend)
        )?;
    }
    Ok(())
}

/// The calibration-vs-holdout table, when there is a holdout period.
pub(super) fn write_holdout(out: &mut String, summary: &Summary, f: &Fitted, w: &Window) -> Result {
    match &f.holdout_table {
        None => {}
        Some(Err(e)) => writeln!(out, "\nCalibration vs holdout: not available ({e})")?,
        Some(Ok(table)) => {
            let duration = summary.holdout.as_ref().map(|h| h.duration).unwrap_or(0.0);
            writeln!(
                out,
                "\nCalibration vs holdout: repeat purchases per customer in the {} {}s after {}, by calibration frequency",
                trim_number(duration, 2),
                unit_name(summary.config.time_unit),
                date_text(w.calibration_end)
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
    }
    Ok(())
}

/// Where the customers were written.
pub(super) fn write_written(
    out: &mut String,
    o: &ValueFitOptions,
    target: &str,
    rows: usize,
    w: &Window,
) -> Result {
    writeln!(
        out,
        "\nWrote {} customers to {target} (expected_purchases over {} {}s after {}; CLV over {} months)",
        thousands(rows),
        trim_number(o.horizon, 4),
        unit_name(o.time_unit),
        date_text(w.calibration_end),
        o.clv_months
    )
}

/// The first customers, as a table.
pub(super) fn write_customers(
    out: &mut String,
    o: &ValueFitOptions,
    batch: &RecordBatch,
) -> Result {
    let n = batch.num_rows();
    writeln!(
        out,
        "\nCustomers (first {} of {}; expected_purchases over {} {}s, CLV over {} months; --out FILE.csv|.parquet writes all)",
        SHOWN_ROWS.min(n),
        thousands(n),
        trim_number(o.horizon, 4),
        unit_name(o.time_unit),
        o.clv_months
    )?;
    write_customer_table(out, batch, SHOWN_ROWS)
}

fn write_customer_table(out: &mut String, batch: &RecordBatch, rows: usize) -> Result {
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
