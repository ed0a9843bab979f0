//! The window, the per-customer summary, the fits and scores (through
//! [`touchstone_value::ValueModel`]), each customer's note, and the per-customer table.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, new_null_array};
use arrow::datatypes::{DataType, Field, Schema};
use object_store::ObjectStoreExt as _;
use touchstone_core::store;
use touchstone_value::{
    CalibrationHoldoutRow, ClvConfig, Exclusion, FittedValueModel, PurchaseFit, PurchaseParams,
    ScoreOptions, ScoreProblem, Scores, StandardErrors, Summary, SummaryConfig, ValueError,
    ValueModel, ValueModelOptions, ZeroAmounts, calibration_holdout_table, summarize,
};

use super::read::Orders;
use super::{ValueFitError, ValueFitOptions, date_text, day_number};

type Result<T> = std::result::Result<T, ValueFitError>;

/// Why standard errors are not shown for a fit that did not converge.
const NOT_CONVERGED: &str =
    "the fit did not converge, and standard errors are only meaningful at a maximum";
/// Last (open-ended) calibration-frequency group of the holdout table (FHL 2005 Figure 3).
pub(super) const HOLDOUT_TABLE_MAX_FREQUENCY: u32 = 7;

/// Checks the numeric options and their order before reading anything.
pub(super) fn check_options(o: &ValueFitOptions) -> Result<()> {
    let invalid = |option, problem: String| Err(ValueFitError::InvalidOption { option, problem });
    if !(o.horizon.is_finite() && o.horizon >= 0.0) {
        return invalid(
            "--horizon",
            format!("must be a number of time units >= 0, got {}", o.horizon),
        );
    }
    if o.clv_months == 0 {
        return invalid("--clv-months", "must be at least 1".into());
    }
    if !(o.monthly_discount.is_finite() && o.monthly_discount > -1.0) {
        return invalid(
            "--monthly-discount",
            format!(
                "must be a rate above -1 (0.01 = 1 %), got {}",
                o.monthly_discount
            ),
        );
    }
    if !o.margin.is_finite() {
        return invalid(
            "--margin",
            format!("must be a finite number, got {}", o.margin),
        );
    }
    if let (Some(s), Some(c)) = (o.start, o.calibration_end)
        && s > c
    {
        return invalid("--start", format!("{s} is after --calibration-end {c}"));
    }
    Ok(())
}

/// The days the fit covers (day numbers).
pub(super) struct Window {
    /// First and last purchase inside --start .. --holdout-end.
    pub first_day: i32,
    pub last_day: i32,
    pub calibration_end: i32,
    pub holdout_end: Option<i32>,
}

impl Window {
    /// The window of the options over the orders: the calibration end defaults to the last
    /// purchase, and a holdout runs to the last purchase when the calibration ends before it.
    pub fn of(o: &ValueFitOptions, orders: &Orders, shown: &str) -> Result<Window> {
        let bounds = (o.start.map(day_number), o.holdout_end.map(day_number));
        let (first_day, last_day) =
            purchase_span(orders, o.zero_amounts, bounds).ok_or_else(|| {
                ValueFitError::NoUsableOrders {
                    shown: shown.to_string(),
                    hint: orders.unreadable.hint(),
                }
            })?;
        let calibration_end = o.calibration_end.map(day_number).unwrap_or(last_day);
        let holdout_end = match o.holdout_end {
            Some(d) => Some(day_number(d)),
            None if calibration_end < last_day => Some(last_day),
            None => None,
        };
        if calibration_end < first_day {
            return Err(ValueFitError::InvalidOption {
                option: "--calibration-end",
                problem: format!(
                    "{} is before the first order in {shown} ({}); choose a date between {} and {}",
                    date_text(calibration_end),
                    date_text(first_day),
                    date_text(first_day),
                    date_text(last_day)
                ),
            });
        }
        if let Some(h) = holdout_end
            && h <= calibration_end
        {
            return Err(ValueFitError::InvalidOption {
                option: "--holdout-end",
                problem: format!(
                    "{} must be after the calibration end {}",
                    date_text(h),
                    date_text(calibration_end)
                ),
            });
        }
        Ok(Window {
            first_day,
            last_day,
            calibration_end,
            holdout_end,
        })
    }
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

/// The per-customer summary of the orders in the window.
pub(super) fn summarize_orders(
    o: &ValueFitOptions,
    orders: &Orders,
    w: &Window,
    shown: &str,
) -> Result<Summary> {
    let config = SummaryConfig {
        observation_start: o.start.map(day_number),
        calibration_end: w.calibration_end,
        holdout_end: w.holdout_end,
        time_unit: o.time_unit,
        zero_amounts: o.zero_amounts,
    };
    let summary =
        summarize(&orders.customer, &orders.day, &orders.amount, &config).map_err(|source| {
            ValueFitError::Summarize {
                shown: shown.to_string(),
                source,
            }
        })?;
    if summary.is_empty() {
        return Err(ValueFitError::NoCustomers {
            shown: shown.to_string(),
            start: o
                .start
                .map(|d| d.to_string())
                .unwrap_or_else(|| date_text(w.first_day)),
            calibration_end: date_text(w.calibration_end),
        });
    }
    Ok(summary)
}

/// The fitted models, their standard errors, the scores and every customer's note.
pub(super) struct Fitted {
    pub model: FittedValueModel,
    /// The purchase model (fitting it is required).
    pub purchase: PurchaseFit,
    pub purchase_se: std::result::Result<StandardErrors, String>,
    pub spend_se: std::result::Result<StandardErrors, String>,
    pub scores: Scores,
    pub notes: Vec<Option<String>>,
    pub holdout_table: Option<std::result::Result<Vec<CalibrationHoldoutRow>, ValueError>>,
}

impl Fitted {
    /// Why no customer could be scored by the purchase model, if none could.
    pub fn unusable(&self) -> Option<String> {
        let s = &self.scores;
        if (0..s.len()).any(|i| s.p_alive[i].is_some() && s.expected_purchases[i].is_some()) {
            return None;
        }
        let why = s
            .problems
            .iter()
            .flatten()
            .find_map(|p| match p {
                ScoreProblem::Purchases(e) => Some(reason(e)),
                _ => None,
            })
            .unwrap_or_default();
        Some(why)
    }

    /// Why the spend model is missing, as the report says it.
    pub fn spend_problem(&self) -> Option<String> {
        self.model.spend().err().map(|e| match e {
            ValueError::EmptyInput { .. } | ValueError::InsufficientData { have: 0, .. } => {
                "no customer has a repeat purchase with a positive amount".into()
            }
            ValueError::InsufficientData { have, need, .. } => {
                format!("{have} customers with repeat purchases, need at least {need}")
            }
            other => other.to_string(),
        })
    }
}

/// A score problem's reason as the notes word it.
fn reason(e: &ValueError) -> String {
    match e {
        ValueError::NumericalFailure {
            reason: r @ "not a finite number",
            ..
        } => (*r).to_string(),
        other => other.to_string(),
    }
}

/// Fits the purchase model (required) and Gamma-Gamma, and scores every customer.
pub(super) fn fit(o: &ValueFitOptions, summary: &Summary, shown: &str) -> Result<Fitted> {
    let options = ValueModelOptions {
        purchase_model: o.model,
        ..ValueModelOptions::default()
    };
    let model = ValueModel::fit(summary, &options)?;
    let purchase = match model.purchase() {
        Ok(p) => p.clone(),
        Err(ValueError::InsufficientData {
            model,
            reason,
            have,
            need,
        }) => {
            return Err(ValueFitError::TooLittleData {
                shown: shown.to_string(),
                model,
                reason,
                have: *have,
                need: *need,
            });
        }
        Err(e) => {
            return Err(ValueFitError::PurchaseFit {
                shown: shown.to_string(),
                source: e.clone(),
            });
        }
    };
    let purchase_se = if purchase.report.converged {
        model.purchase_standard_errors().map_err(|e| e.to_string())
    } else {
        Err(NOT_CONVERGED.into())
    };
    let spend_se = match model.spend() {
        Ok(s) if s.report.converged => model.spend_standard_errors().map_err(|e| e.to_string()),
        Ok(_) => Err(NOT_CONVERGED.into()),
        Err(_) => Err("not fitted".into()),
    };
    let scores = model.score(
        summary,
        &ScoreOptions {
            horizon: o.horizon,
            clv: ClvConfig {
                months: o.clv_months,
                monthly_discount_rate: o.monthly_discount,
                time_units_per_month: o.time_unit.units_per_month(),
                margin: o.margin,
            },
            clv_horizon_purchases: false,
        },
    )?;
    let holdout_table = summary.holdout.as_ref().map(|_| {
        calibration_holdout_table(
            purchase.params.model(),
            summary,
            HOLDOUT_TABLE_MAX_FREQUENCY,
        )
    });
    let mut fitted = Fitted {
        model,
        purchase,
        purchase_se,
        spend_se,
        scores,
        notes: Vec::new(),
        holdout_table,
    };
    fitted.notes = notes(summary, &fitted);
    Ok(fitted)
}

/// Each customer's note: how a value was derived, or why it is empty.
fn notes(summary: &Summary, f: &Fitted) -> Vec<Option<String>> {
    let s = &f.scores;
    let bg = matches!(f.purchase.params, PurchaseParams::BgNbd(_));
    let spend_problem = f.spend_problem();
    (0..s.len())
        .map(|i| {
            let mut notes: Vec<String> = Vec::new();
            match s.exclusion[i] {
                Some(e @ Exclusion::NoRepeatPurchases) => notes.push(format!(
                    "{e}: {}monetary_value is 0 and spend is the population mean",
                    if bg {
                        "BG/NBD counts them alive (p_alive = 1); "
                    } else {
                        ""
                    }
                )),
                Some(e @ Exclusion::NonPositiveSpend { .. }) => notes.push(format!(
                    "{e}: left out of the spend model; expected_spend and clv are empty"
                )),
                Some(e @ Exclusion::Invalid(_)) => notes.push(format!("not modelled: {e}")),
                None => {}
            }
            if let Some(why) = &spend_problem {
                notes.push(format!(
                    "spend model not fitted ({why}): expected_spend and clv are empty"
                ));
            }
            let mut purchases = None;
            for problem in &s.problems[i] {
                match problem {
                    ScoreProblem::Spend(_) => notes.push(
                        "expected spend is infinite under the fitted spend model (p·x + q ≤ 1)"
                            .into(),
                    ),
                    ScoreProblem::Clv(e) => {
                        notes.push(format!("clv could not be computed: {}", reason(e)));
                    }
                    ScoreProblem::Purchases(e) => purchases = Some(reason(e)),
                }
            }
            if let Some(why) = purchases {
                notes.push(format!(
                    "p_alive or expected_purchases could not be computed: {why}"
                ));
            }
            if summary.t[i] == 0.0 {
                notes.push("first purchase on the calibration end: T = 0".into());
            }
            (!notes.is_empty()).then(|| notes.join("; "))
        })
        .collect()
}

/// One row per customer: the summary, the scores, the holdout frequency and the note.
pub(super) fn customer_batch(
    summary: &Summary,
    orders: &Orders,
    f: &Fitted,
) -> Result<RecordBatch> {
    let s = &f.scores;
    let ids: Vec<String> = summary
        .customer
        .iter()
        .map(|&c| {
            usize::try_from(c)
                .ok()
                .and_then(|k| orders.ids.get(k))
                .cloned()
                .unwrap_or_default()
        })
        .collect();
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
        Arc::new(StringArray::from(ids)),
        ints(&summary.frequency),
        floats(&summary.recency),
        floats(&summary.t),
        floats(&summary.monetary_value),
        opt(&s.p_alive),
        opt(&s.expected_purchases),
        opt(&s.expected_spend),
        opt(&s.clv),
    ];
    if let Some(h) = &summary.holdout {
        fields.push(Field::new("holdout_frequency", DataType::Int64, false));
        columns.push(ints(&h.frequency));
    }
    fields.push(Field::new("note", DataType::Utf8, true));
    columns.push(if f.notes.iter().all(Option::is_none) {
        new_null_array(&DataType::Utf8, summary.len())
    } else {
        Arc::new(StringArray::from(f.notes.clone()))
    });
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}

/// Writes the table to `target` (`.csv` or `.parquet`, any store); returns the rows written.
pub(super) async fn write_output(batch: &RecordBatch, target: &str, base: &Path) -> Result<usize> {
    let url = store::resolve_location(target, base)?;
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
        return Err(ValueFitError::InvalidOption {
            option: "--out",
            problem: format!("{target}: use a file name ending in .csv or .parquet"),
        });
    }
    let (object_store, path) = store::open(&url)?;
    object_store
        .put(&path, bytes.into())
        .await
        .map_err(|source| ValueFitError::Write {
            target: target.to_string(),
            source,
        })?;
    Ok(batch.num_rows())
}

#[cfg(test)]
mod tests {
    use arrow::array::Array;
    use datafusion::datasource::MemTable;
    use object_store::PutPayload;
    use touchstone_core::config::ValueSettings;
    use touchstone_transform::{SessionOptions, new_session};
    use touchstone_value::TimeUnit;

    use super::super::read::{convert, read_orders};
    use super::*;

    /// Orders of 60 customers over 300 days (in a memory store): some buy once, the others
    /// every 10-22 days; customers 3 and 17 buy again for 0, and 44's repeat orders are refunds
    /// (negative amounts are not purchases, so 44 has a single purchase).
    async fn orders() -> String {
        let mut csv = String::from("customer,day,amount\n");
        let start = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or_default();
        for c in 0u64..60 {
            let first = c % 30;
            for k in 0..1 + (c * 7 % 5) {
                let day = start + chrono::Days::new(first + k * (10 + c % 13));
                let amount = match (c, k) {
                    (3 | 17, 1..) => 0.0,
                    (44, 1..) => -5.0,
                    _ => 10.0 + (c * 13 % 40) as f64 + 0.5 * k as f64,
                };
                csv.push_str(&format!("c{c},{day},{amount}\n"));
            }
        }
        let url = "memory://value-fit-tests/orders.csv";
        let (store, path) = store::open(&url::Url::parse(url).unwrap()).unwrap();
        store
            .put(&path, PutPayload::from(csv.into_bytes()))
            .await
            .unwrap();
        url.to_string()
    }

    fn floats(batch: &RecordBatch, name: &str) -> Vec<Option<f64>> {
        let a = batch
            .column_by_name(name)
            .and_then(|c| c.as_any().downcast_ref::<Float64Array>().cloned())
            .unwrap();
        a.iter().collect()
    }

    /// `value fit` and the `customer_value_model` table function on the same customers, in
    /// days with the pipeline's default settings: the same values, nulls and reasons.
    #[tokio::test]
    async fn value_fit_and_the_table_function_agree_customer_by_customer() {
        let url = orders().await;
        let mut o = ValueFitOptions::new(&url, "customer", "day", "amount");
        o.time_unit = TimeUnit::Day;
        o.horizon = 90.0;
        let location = store::resolve_location(&url, Path::new("/")).unwrap();
        let raw = read_orders(&o, &location, &url).await.unwrap();
        let orders = convert(&raw, &url).unwrap();
        let window = Window::of(&o, &orders, &url).unwrap();
        let summary = summarize_orders(&o, &orders, &window, &url).unwrap();
        let fitted = fit(&o, &summary, &url).unwrap();
        let ours = customer_batch(&summary, &orders, &fitted).unwrap();

        // The same summary as the table function's input.
        let columns: Vec<ArrayRef> = vec![
            ours.column(0).clone(),
            Arc::new(Float64Array::from(summary.frequency.clone())),
            Arc::new(Float64Array::from(summary.recency.clone())),
            Arc::new(Float64Array::from(summary.t.clone())),
            Arc::new(Float64Array::from(summary.monetary_value.clone())),
        ];
        let schema = Arc::new(Schema::new(
            [
                "customer_key",
                "frequency",
                "recency",
                "T",
                "monetary_value",
            ]
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let t = if i == 0 {
                    DataType::Utf8
                } else {
                    DataType::Float64
                };
                Field::new(*n, t, false)
            })
            .collect::<Vec<_>>(),
        ));
        let rfm = RecordBatch::try_new(schema.clone(), columns).unwrap();
        let ctx = new_session(&SessionOptions {
            value: ValueSettings::default(),
            ..SessionOptions::default()
        })
        .unwrap();
        let table = MemTable::try_new(schema, vec![vec![rfm]]).unwrap();
        ctx.register_table("rfm", Arc::new(table)).unwrap();
        let batches = ctx
            .sql("select * from customer_value_model('rfm')")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let theirs = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();

        assert_eq!(theirs.num_rows(), summary.len());
        // The same model on the same customers; the table function sums its likelihood over
        // the rows in its canonical order (sorted by key), `value fit` in its own, so the values
        // agree to rounding, and every null is the same null.
        for column in ["p_alive", "expected_purchases", "expected_spend", "clv"] {
            let (a, b) = (floats(&ours, column), floats(&theirs, column));
            for (i, (a, b)) in a.iter().zip(&b).enumerate() {
                match (a, b) {
                    (Some(a), Some(b)) => assert!(
                        (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-300),
                        "{column} row {i}: {a} vs {b}"
                    ),
                    (None, None) => {}
                    _ => panic!("{column} row {i}: {a:?} vs {b:?}"),
                }
            }
        }
        let note = |b: &RecordBatch, name: &str, i: usize| {
            let a = b.column_by_name(name).unwrap();
            let a = a.as_any().downcast_ref::<StringArray>().unwrap();
            if a.is_null(i) {
                String::new()
            } else {
                a.value(i).to_string()
            }
        };
        let mut left_out = Vec::new();
        for (i, exclusion) in fitted.scores.exclusion.iter().enumerate() {
            let Some(e) = exclusion else { continue };
            let why = e.to_string();
            assert!(note(&ours, "note", i).starts_with(&why), "{i}: {why}");
            assert!(
                note(&theirs, "value_note", i).starts_with(&why),
                "{i}: {why}"
            );
            if let Exclusion::NonPositiveSpend { .. } = e {
                left_out.push(note(&ours, "customer_id", i));
            }
        }
        assert_eq!(left_out, ["c3", "c17"]);
        assert_eq!(
            fitted.scores.exclusion[44],
            Some(Exclusion::NoRepeatPurchases)
        );
    }
}
