//! Before/after comparisons (`metric_comparisons`, `touchstone compare`).
//!
//! A comparison reads a metric's total rows (`dimensions = ''`) of `metric_values` for one
//! group and the metric's current version, in the two windows, and tests the change with the
//! test that fits the metric's shape ([`crate::shape_ci`]):
//!
//! - proportions of counts (wilson): two-proportion z-test on Σ numerator / Σ n;
//! - means of per-row values (normal): Welch's t on the per-window mean and variance, pooled
//!   exactly from the per-period means, standard deviations (`sd`) and counts;
//! - anything else: a permutation test of the difference in mean per-period value.
//!
//! Values, changes, intervals and the minimum detectable effect are in the metric's unit
//! (after `scale`).

use std::sync::{Arc, LazyLock};

use arrow::array::{
    Array, ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use chrono::NaiveDate;
use datafusion::common::Column;
use datafusion::dataframe::DataFrame;
use datafusion::logical_expr::{Expr, cast, lit};
use datafusion::scalar::ScalarValue;
use touchstone_core::config::{CiMethod, Metric, MetricKind, MetricLibrary};
use touchstone_core::diagnostic::{Diagnostic, Diagnostics, ErrorCode};

use crate::stats::{self, TestResult};

/// Permutations (or bootstrap samples) of a permutation test.
const RESAMPLES: usize = 9_999;
/// Seed of the permutation test, so a comparison repeats exactly.
const SEED: u64 = 20_261_206;

/// One comparison's result.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// The baseline's name (`adhoc` from `touchstone compare`).
    pub baseline: String,
    /// The metric.
    pub metric: String,
    /// The group whose rows were compared.
    pub group: String,
    /// The metric's version.
    pub version: u32,
    /// Unit of the values.
    pub unit: Option<String>,
    /// Before window, inclusive.
    pub before: (NaiveDate, NaiveDate),
    /// After window, inclusive.
    pub after: (NaiveDate, NaiveDate),
    /// Significance level.
    pub alpha: f64,
    /// The test, in the metric's unit.
    pub result: TestResult,
}

impl Comparison {
    /// `after − before`.
    pub fn abs_change(&self) -> f64 {
        self.result.after - self.result.before
    }
    /// `(after − before) / |before|` (None when before is 0).
    pub fn rel_change(&self) -> Option<f64> {
        (self.result.before != 0.0).then(|| self.abs_change() / self.result.before.abs())
    }
    /// Whether p < alpha.
    pub fn significant(&self) -> bool {
        self.result.p_value < self.alpha
    }
}

/// Schema of `metric_comparisons`: one row per baseline and metric.
pub fn metric_comparisons_schema() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        let f = |name: &str, t: DataType, null: bool| Field::new(name, t, null);
        Arc::new(Schema::new(vec![
            f("baseline", DataType::Utf8, false),
            f("metric", DataType::Utf8, false),
            f("group", DataType::Utf8, false),
            f("version", DataType::Int64, false),
            f("test", DataType::Utf8, false),
            f("before_from", DataType::Date32, false),
            f("before_to", DataType::Date32, false),
            f("after_from", DataType::Date32, false),
            f("after_to", DataType::Date32, false),
            f("before", DataType::Float64, true),
            f("after", DataType::Float64, true),
            f("abs_change", DataType::Float64, true),
            f("rel_change", DataType::Float64, true),
            f("ci_low", DataType::Float64, true),
            f("ci_high", DataType::Float64, true),
            f("statistic", DataType::Float64, true),
            f("p_value", DataType::Float64, true),
            f("n_before", DataType::Float64, false),
            f("n_after", DataType::Float64, false),
            f("mde", DataType::Float64, true),
            f("sample_size", DataType::Float64, true),
            f("alpha", DataType::Float64, false),
            f("significant", DataType::Boolean, false),
            f("unit", DataType::Utf8, true),
        ]))
    });
    Arc::clone(&SCHEMA)
}

/// Rows of `metric_comparisons`.
pub fn comparisons_batch(list: &[Comparison]) -> Result<RecordBatch, arrow::error::ArrowError> {
    let days = |d: NaiveDate| {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
        i32::try_from((d - epoch).num_days()).unwrap_or(i32::MAX)
    };
    let finite = |x: f64| x.is_finite().then_some(x);
    let s = |f: &dyn Fn(&Comparison) -> String| -> ArrayRef {
        Arc::new(StringArray::from(list.iter().map(f).collect::<Vec<_>>()))
    };
    let d = |f: &dyn Fn(&Comparison) -> NaiveDate| -> ArrayRef {
        Arc::new(Date32Array::from(
            list.iter().map(|c| days(f(c))).collect::<Vec<_>>(),
        ))
    };
    let x = |f: &dyn Fn(&Comparison) -> Option<f64>| -> ArrayRef {
        Arc::new(Float64Array::from(
            list.iter()
                .map(|c| f(c).and_then(finite))
                .collect::<Vec<_>>(),
        ))
    };
    let columns: Vec<ArrayRef> = vec![
        s(&|c| c.baseline.clone()),
        s(&|c| c.metric.clone()),
        s(&|c| c.group.clone()),
        Arc::new(Int64Array::from(
            list.iter()
                .map(|c| i64::from(c.version))
                .collect::<Vec<_>>(),
        )),
        s(&|c| c.result.test.to_string()),
        d(&|c| c.before.0),
        d(&|c| c.before.1),
        d(&|c| c.after.0),
        d(&|c| c.after.1),
        x(&|c| Some(c.result.before)),
        x(&|c| Some(c.result.after)),
        x(&|c| Some(c.abs_change())),
        x(&|c| c.rel_change()),
        x(&|c| Some(c.result.ci.0)),
        x(&|c| Some(c.result.ci.1)),
        x(&|c| Some(c.result.statistic)),
        x(&|c| Some(c.result.p_value)),
        Arc::new(Float64Array::from(
            list.iter().map(|c| c.result.n.0).collect::<Vec<_>>(),
        )),
        Arc::new(Float64Array::from(
            list.iter().map(|c| c.result.n.1).collect::<Vec<_>>(),
        )),
        x(&|c| Some(c.result.mde)),
        x(&|c| c.result.sample_size),
        Arc::new(Float64Array::from(
            list.iter().map(|c| c.alpha).collect::<Vec<_>>(),
        )),
        Arc::new(BooleanArray::from(
            list.iter().map(Comparison::significant).collect::<Vec<_>>(),
        )),
        Arc::new(StringArray::from(
            list.iter().map(|c| c.unit.clone()).collect::<Vec<_>>(),
        )),
    ];
    RecordBatch::try_new(metric_comparisons_schema(), columns)
}

/// Every baseline of the library, compared on `metric_values`.
pub async fn compare_all(
    metric_values: &DataFrame,
    library: &MetricLibrary,
) -> Result<Vec<Comparison>, Diagnostics> {
    let mut out = Vec::new();
    for b in &library.baselines {
        for name in &b.def.metrics {
            let Some(metric) = library.get(&name.value) else {
                continue;
            };
            let alpha = b.def.alpha.unwrap_or(0.05);
            if let Some(c) = compare(
                metric_values,
                metric,
                &b.def.name.value,
                b.before,
                b.after,
                alpha,
            )
            .await?
            {
                out.push(c);
            }
        }
    }
    Ok(out)
}

/// A period's total row: (period start, value, numerator, n, sd).
type PeriodRow = (i32, Option<f64>, Option<f64>, i64, Option<f64>);

/// Compares `metric` (its group and version) between two windows of `metric_values`; None
/// when a window has no rows.
pub async fn compare(
    metric_values: &DataFrame,
    metric: &Metric,
    baseline: &str,
    before: (NaiveDate, NaiveDate),
    after: (NaiveDate, NaiveDate),
    alpha: f64,
) -> Result<Option<Comparison>, Diagnostics> {
    let before_rows = window_rows(metric_values, metric, before).await?;
    let after_rows = window_rows(metric_values, metric, after).await?;
    if before_rows.is_empty() || after_rows.is_empty() {
        return Ok(None);
    }
    let scale = metric.def.scale;
    let kind = metric.def.kind.value;
    let result = match (crate::shape_ci(metric), kind) {
        (CiMethod::Wilson, k) if k != MetricKind::Cumulative => {
            let sums = |rows: &[PeriodRow]| {
                rows.iter().fold((0.0, 0.0), |(x, n), r| {
                    (x + r.2.unwrap_or(0.0), n + r.3 as f64)
                })
            };
            let (x1, n1) = sums(&before_rows);
            let (x2, n2) = sums(&after_rows);
            stats::two_proportion_z(x1, n1, x2, n2, alpha)
        }
        (CiMethod::Normal, k) if k != MetricKind::Cumulative => {
            // The per-row mean of a period is value / scale.
            let pooled = |rows: &[PeriodRow]| {
                let rows: Vec<(f64, f64, f64)> = rows
                    .iter()
                    .filter_map(|r| Some((r.1? / scale, r.3 as f64, r.4.unwrap_or(0.0))))
                    .filter(|r| r.1 > 0.0)
                    .collect();
                let n: f64 = rows.iter().map(|r| r.1).sum();
                let mean = rows.iter().map(|r| r.0 * r.1).sum::<f64>() / n;
                let ss: f64 = rows
                    .iter()
                    .map(|(m, k, sd)| (k - 1.0) * sd * sd + k * (m - mean) * (m - mean))
                    .sum();
                (mean, ss / (n - 1.0), n)
            };
            stats::welch_t(pooled(&before_rows), pooled(&after_rows), alpha)
        }
        _ => {
            let values = |rows: &[PeriodRow]| -> Vec<f64> {
                rows.iter().filter_map(|r| r.1).map(|v| v / scale).collect()
            };
            stats::permutation(
                &values(&before_rows),
                &values(&after_rows),
                alpha,
                RESAMPLES,
                SEED,
            )
        }
    };
    let Some(mut result) = result else {
        return Ok(None);
    };
    // Into the metric's unit.
    result.before *= scale;
    result.after *= scale;
    result.ci = (result.ci.0 * scale, result.ci.1 * scale);
    result.mde *= scale.abs();
    if result.test == "permutation" {
        result.statistic *= scale;
    }
    Ok(Some(Comparison {
        baseline: baseline.to_string(),
        metric: metric.name().to_string(),
        group: metric.group.clone(),
        version: metric.def.version,
        unit: metric.def.unit.clone(),
        before,
        after,
        alpha,
        result,
    }))
}

async fn window_rows(
    metric_values: &DataFrame,
    metric: &Metric,
    (from, to): (NaiveDate, NaiveDate),
) -> Result<Vec<PeriodRow>, Diagnostics> {
    let c = |n: &str| Expr::Column(Column::from_name(n));
    let date = |d: NaiveDate| {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
        lit(ScalarValue::Date32(Some(
            i32::try_from((d - epoch).num_days()).unwrap_or(i32::MAX),
        )))
    };
    let version = i32::try_from(metric.def.version).unwrap_or(i32::MAX);
    let filter = c("metric")
        .eq(lit(metric.name()))
        .and(c("group").eq(lit(metric.group.as_str())))
        .and(c("version").eq(lit(version)))
        .and(c("dimensions").eq(lit("")))
        .and(c("period_start").gt_eq(date(from)))
        .and(c("period_start").lt_eq(date(to)));
    let failed = |e: datafusion::error::DataFusionError| -> Diagnostics {
        Diagnostic::new(
            ErrorCode::Internal,
            format!(
                "reading metric_values of '{}': {}",
                metric.name(),
                touchstone_core::diagnostic::first_line(&e.strip_backtrace())
            ),
        )
        .into()
    };
    let batches = metric_values
        .clone()
        .filter(filter)
        .and_then(|df| {
            df.select(vec![
                cast(c("period_start"), DataType::Date32).alias("p"),
                cast(c("value"), DataType::Float64).alias("v"),
                cast(c("numerator"), DataType::Float64).alias("x"),
                cast(c("n"), DataType::Int64).alias("n"),
                cast(c("sd"), DataType::Float64).alias("sd"),
            ])
        })
        .map_err(failed)?
        .collect()
        .await
        .map_err(failed)?;
    let mut rows = Vec::new();
    for b in batches {
        let (Some(p), Some(v), Some(x), Some(n), Some(sd)) = (
            b.column(0).as_any().downcast_ref::<Date32Array>(),
            b.column(1).as_any().downcast_ref::<Float64Array>(),
            b.column(2).as_any().downcast_ref::<Float64Array>(),
            b.column(3).as_any().downcast_ref::<Int64Array>(),
            b.column(4).as_any().downcast_ref::<Float64Array>(),
        ) else {
            continue;
        };
        let opt = |a: &Float64Array, i: usize| (!a.is_null(i)).then(|| a.value(i));
        for i in 0..b.num_rows() {
            rows.push((p.value(i), opt(v, i), opt(x, i), n.value(i), opt(sd, i)));
        }
    }
    rows.sort_by_key(|r| r.0);
    Ok(rows)
}
