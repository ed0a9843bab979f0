//! Compiles YAML metric definitions to DataFusion plans.
//!
//! Each definition reads one table or model, filters it, places rows in periods by its `time`
//! column at its `grain`, and aggregates a measure (simple) or a numerator and a denominator
//! (ratio), overall and by each of its dimensions' values. Expressions and filters are parsed
//! by the engine's SQL parser against the source's schema — never assembled into SQL text — so
//! an unknown column is reported at the metric's line with a "did you mean".
//!
//! Every metric produces rows of [`metric_values_schema`]; [`compile_all`] unions them.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::{Column, DFSchema, JoinType};
use datafusion::dataframe::DataFrame;
use datafusion::error::DataFusionError;
use datafusion::functions::expr_fn::{coalesce, concat_ws, date_trunc, sqrt};
use datafusion::functions_aggregate::expr_fn::{
    approx_percentile_cont, avg, count, count_distinct, max, median, min, stddev, sum,
};
use datafusion::logical_expr::{Expr, ExprSchemable, SortExpr, cast, lit, when};
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;
use serde_saphyr::Spanned;
use touchstone_core::config::{
    Agg, CiMethod, Grain, Measure, Metric, MetricKind, MetricLibrary, NullHandling,
};
use touchstone_core::diagnostic::{Diagnostic, Diagnostics, ErrorCode, first_line};
use touchstone_core::schema::timestamp_type;
use touchstone_transform::engine_error::unknown_column;

mod compare;
mod context;
mod hash;
mod over;
pub mod render;
pub mod stats;

pub use compare::{Comparison, compare, compare_all, comparisons_batch, metric_comparisons_schema};
pub use context::CONTEXT_DIMENSIONS;
pub use hash::{
    Recorded, check_versions, definition_hash, definition_hashes, definition_text,
    metric_definitions_batch, metric_definitions_schema,
};

/// z for a two-sided 95% interval.
const Z95: f64 = 1.959_963_984_540_054;

/// Schema of `metric_values`: one row per metric, group, period and dimension combination.
pub fn metric_values_schema() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        Arc::new(Schema::new(vec![
            Field::new("metric", DataType::Utf8, false),
            Field::new("version", DataType::Int32, false),
            Field::new("group", DataType::Utf8, false),
            Field::new("grain", DataType::Utf8, false),
            Field::new("period_start", DataType::Date32, true),
            Field::new("dimensions", DataType::Utf8, false),
            Field::new("value", DataType::Float64, true),
            Field::new("numerator", DataType::Float64, true),
            Field::new("denominator", DataType::Float64, true),
            Field::new("n", DataType::Int64, false),
            Field::new("ci_low", DataType::Float64, true),
            Field::new("ci_high", DataType::Float64, true),
            Field::new("unit", DataType::Utf8, true),
            Field::new("target", DataType::Float64, true),
            Field::new("target_direction", DataType::Utf8, true),
            Field::new("meets_target", DataType::Boolean, true),
            Field::new("sd", DataType::Float64, true),
            Field::new("definition_hash", DataType::Utf8, false),
        ]))
    });
    Arc::clone(&SCHEMA)
}

/// Compiles every metric of the library (shared definitions and group overlays) and unions
/// their rows; reports every problem of every metric.
pub async fn compile_all(
    ctx: &SessionContext,
    library: &MetricLibrary,
) -> Result<Option<DataFrame>, Diagnostics> {
    let frames = compile_each(ctx, library).await?;
    let mut frames = frames.into_iter().map(|(_, df)| df);
    let Some(mut all) = frames.next() else {
        return Ok(None);
    };
    for df in frames {
        all = all
            .union(df)
            .map_err(|e| internal("combining the metrics' plans", e))?;
    }
    Ok(Some(all))
}

/// Each metric's plan, in dependency order (metrics over metrics after what they read), as
/// `(index into library.metrics, plan)`.
pub async fn compile_each(
    ctx: &SessionContext,
    library: &MetricLibrary,
) -> Result<Vec<(usize, DataFrame)>, Diagnostics> {
    let hashes = definition_hashes(library);
    let mut problems = Vec::new();
    let mut out = Vec::new();
    // Shared definitions by name, for metrics over metrics.
    let mut shared: HashMap<String, (usize, DataFrame)> = HashMap::new();
    let mut failed: Vec<String> = Vec::new();
    for (i, metric) in library.metrics.iter().enumerate() {
        if metric.def.kind.value.over_metrics() {
            continue;
        }
        let hash = hashes.get(i).cloned().unwrap_or_default();
        match compile(ctx, metric, &hash).await {
            Ok(df) => {
                if metric.overlay.is_none() {
                    shared.insert(metric.name().to_string(), (i, df.clone()));
                }
                out.push((i, df));
            }
            Err(d) => {
                failed.push(metric.name().to_string());
                problems.extend(d.0);
            }
        }
    }
    // Metrics over metrics, in dependency order; cycles were reported by the shape checks.
    let names: Vec<&str> = library
        .metrics
        .iter()
        .filter(|m| m.overlay.is_none())
        .map(|m| m.name())
        .collect();
    let mut pending: Vec<usize> = library
        .metrics
        .iter()
        .enumerate()
        .filter(|(_, m)| m.def.kind.value.over_metrics())
        .map(|(i, _)| i)
        .collect();
    while !pending.is_empty() {
        let before = pending.len();
        let mut still = Vec::new();
        for i in pending {
            let metric = &library.metrics[i];
            let deps = touchstone_core::config::depends_on(metric, &names);
            if deps.iter().any(|d| failed.iter().any(|f| f.as_str() == *d)) {
                failed.push(metric.name().to_string());
                continue;
            }
            if !deps.iter().all(|d| shared.contains_key(*d)) {
                still.push(i);
                continue;
            }
            let hash = hashes.get(i).cloned().unwrap_or_default();
            match over::compile_over(metric, library, &shared, &hash) {
                Ok(df) => {
                    shared.insert(metric.name().to_string(), (i, df.clone()));
                    out.push((i, df));
                }
                Err(d) => {
                    failed.push(metric.name().to_string());
                    problems.extend(d.0);
                }
            }
        }
        if still.len() == before {
            // Only cycles or unknown references remain; both are reported elsewhere.
            break;
        }
        pending = still;
    }
    Diagnostics::check(problems)?;
    Ok(out)
}

/// A metric's aggregate: (aggregation, expression, filter, percentile).
#[derive(Clone)]
pub(crate) struct Part {
    agg: Agg,
    expr: Option<Expr>,
    filter: Option<Expr>,
    percentile: Option<f64>,
}

/// The source table of a metric, or a located error with suggestions.
pub(crate) async fn source_frame(
    ctx: &SessionContext,
    metric: &Metric,
) -> Result<DataFrame, Diagnostics> {
    let d = &metric.def;
    let Some(source) = &d.source else {
        return Err(Diagnostics(Vec::new()));
    };
    match ctx.table(source.value.as_str()).await {
        Ok(df) => Ok(df),
        Err(_) => {
            let known = ctx
                .catalog_names()
                .into_iter()
                .filter_map(|c| ctx.catalog(&c))
                .flat_map(|c| {
                    c.schema_names()
                        .into_iter()
                        .filter(|s| s != "information_schema")
                        .filter_map(move |s| c.schema(&s))
                        .flat_map(|s| s.table_names())
                })
                .collect::<Vec<_>>();
            Err(Diagnostic::new(
                ErrorCode::UnknownMetricSource,
                format!(
                    "metric '{}' reads '{}', which is not a table or model",
                    d.name.value, source.value
                ),
            )
            .at(metric.span(source))
            .suggest(&source.value, known.iter().map(String::as_str))
            .into())
        }
    }
}

/// The plan of one metric that reads a source (every type but derived and index), with
/// `hash` stamped on its rows.
pub async fn compile(
    ctx: &SessionContext,
    metric: &Metric,
    hash: &str,
) -> Result<DataFrame, Diagnostics> {
    let d = &metric.def;
    let source = source_frame(ctx, metric).await?;
    let source = context::with_context(ctx, metric, source).await?;
    let schema = source.schema().clone();

    // Parse every expression first so all problems of the metric are reported together.
    let mut problems = Vec::new();
    let mut parse_in = |file: &str, text: &Spanned<String>, what: &str| -> Option<Expr> {
        match parse_expr(&source, &schema, metric, file, text, what) {
            Ok(e) => Some(e),
            Err(d) => {
                problems.push(d);
                None
            }
        }
    };
    let own = metric.file.as_str();
    let mut filters: Vec<Option<Expr>> = Vec::new();
    if let Some(f) = &d.filter {
        filters.push(parse_in(own, f, "filter"));
    }
    if let Some(o) = &metric.overlay {
        filters.push(parse_in(&o.group_file, &o.group.filter, "group filter"));
        if let Some(f) = &o.def.filter {
            filters.push(parse_in(&o.file, f, "overlay filter"));
        }
    }
    let time_text = d.time.as_ref();
    let time = time_text.and_then(|t| parse_in(own, t, "time column"));
    let dimensions: Vec<Option<Expr>> = d
        .dimensions
        .iter()
        .map(|dim| parse_in(own, dim, "dimension"))
        .collect();
    let zero = d.null_handling == NullHandling::Zero;
    let mut part = |m: &Option<Measure>| -> Option<Part> {
        let m = m.as_ref()?;
        let expr = m.expr.as_ref().and_then(|e| parse_in(own, e, "expression"));
        let expr = if zero {
            expr.map(|e| coalesce(vec![e, lit(0)]))
        } else {
            expr
        };
        let filter = m.filter.as_ref().and_then(|f| parse_in(own, f, "filter"));
        Some(Part {
            agg: m.agg.value,
            expr,
            filter,
            percentile: m.percentile,
        })
    };
    let measure = part(&d.measure);
    let numerator = part(&d.numerator);
    let denominator = part(&d.denominator);
    let distribution = d.distribution.as_ref().map(|dist| {
        (
            parse_in(own, &dist.expr, "distribution expression"),
            parse_in(own, &dist.positive, "positive condition"),
            dist.negative
                .as_ref()
                .map(|n| parse_in(own, n, "negative condition")),
        )
    });
    let conversion = d.conversion.as_ref().map(|c| {
        (
            parse_in(own, &c.entity, "conversion entity"),
            parse_in(own, &c.from, "conversion 'from'"),
            parse_in(own, &c.to, "conversion 'to'"),
        )
    });
    if let (Some(time), Some(time_text)) = (&time, time_text)
        && let Ok((_, field)) = time.to_field(&schema)
        && let data_type = field.data_type().clone()
        && !matches!(
            data_type,
            DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64
        )
    {
        problems.push(
            Diagnostic::new(
                ErrorCode::InvalidExpression,
                format!(
                    "time column '{}' of metric '{}' is {data_type}, not a timestamp or date",
                    time_text.value, d.name.value
                ),
            )
            .at(metric.span(time_text))
            .with_help("name a timestamp or date column of the source"),
        );
    }
    // Conditions must be boolean.
    let boolean_checks: Vec<(Option<&Expr>, &Spanned<String>, &str)> = {
        let mut v = Vec::new();
        if let (Some(f), Some(Some(e))) = (&d.filter, filters.first()) {
            v.push((Some(e), f, own));
        }
        if let Some(dist) = &d.distribution
            && let Some((_, pos, neg)) = &distribution
        {
            v.push((pos.as_ref(), &dist.positive, own));
            if let (Some(n), Some(Some(e))) = (&dist.negative, neg) {
                v.push((Some(e), n, own));
            }
        }
        v
    };
    for (e, text, file) in boolean_checks {
        if let Some(e) = e
            && let Ok((_, field)) = e.to_field(&schema)
            && !matches!(field.data_type(), DataType::Boolean | DataType::Null)
        {
            problems.push(
                Diagnostic::new(
                    ErrorCode::InvalidExpression,
                    format!(
                        "metric '{}': condition '{}' is {}, not true/false",
                        d.name.value,
                        text.value,
                        field.data_type()
                    ),
                )
                .at(touchstone_core::diagnostic::Span::of(file, text))
                .with_help("write a comparison, e.g. \"score >= 9\""),
            );
        }
    }
    Diagnostics::check(problems)?;
    let (Some(time), Some(dimensions), Some(filters)) = (
        time,
        dimensions.into_iter().collect::<Option<Vec<_>>>(),
        filters.into_iter().collect::<Option<Vec<_>>>(),
    ) else {
        return Err(Diagnostics(Vec::new()));
    };

    let mut df = source;
    for filter in filters {
        df = df
            .filter(filter)
            .map_err(|e| plan_error(metric, &d.name, e))?;
    }
    let dims_text: Vec<(String, Expr)> = d
        .dimensions
        .iter()
        .zip(dimensions)
        .map(|(name, e)| (name.value.clone(), e))
        .collect();

    if d.kind.value == MetricKind::Conversion {
        let Some((Some(entity), Some(from), Some(to))) = conversion else {
            return Err(Diagnostics(Vec::new()));
        };
        let window = d.conversion.as_ref().map_or(0, |c| c.window_days);
        let df = conversion_plan(df, metric, entity, from, to, window, time, &dims_text)?;
        return finish(df, metric, true, CiMethod::Wilson, hash)
            .map_err(|e| plan_error(metric, &d.name, e).into());
    }

    // Simple or ratio shape of the aggregates.
    let (num, den) = match d.kind.value {
        MetricKind::Simple => (measure, None),
        MetricKind::Ratio => (numerator, denominator),
        MetricKind::Cumulative => {
            if measure.is_some() {
                (measure, None)
            } else {
                (numerator, denominator)
            }
        }
        MetricKind::Distribution => {
            let Some((Some(answer), Some(positive), negative)) = distribution else {
                return Err(Diagnostics(Vec::new()));
            };
            let answer = if zero {
                coalesce(vec![answer, lit(0)])
            } else {
                answer
            };
            let answered = answer.clone().is_not_null();
            let mut score = when(positive, lit(1.0));
            if let Some(Some(negative)) = negative {
                score = score.when(negative, lit(-1.0));
            }
            let score = score.otherwise(lit(0.0)).unwrap_or(lit(0.0));
            (
                Some(Part {
                    agg: Agg::Sum,
                    expr: Some(score),
                    filter: Some(answered.clone()),
                    percentile: None,
                }),
                Some(Part {
                    agg: Agg::Count,
                    expr: Some(answer),
                    filter: Some(answered),
                    percentile: None,
                }),
            )
        }
        MetricKind::Conversion | MetricKind::Derived | MetricKind::Index => {
            return Err(Diagnostics(Vec::new()));
        }
    };
    let Some(num) = num else {
        return Err(Diagnostics(Vec::new()));
    };
    let ratio = den.is_some();
    let ci = ci_method(metric);
    let aggs = aggregates(&num, den.as_ref());
    let period = period_expr(metric, time);
    let mut by_dims = grouped(&df, &period, &dims_text, &aggs, metric)?;
    if !dims_text.is_empty() {
        let total = grouped(&df, &period, &[], &aggs, metric)?;
        by_dims = by_dims
            .union(total)
            .map_err(|e| plan_error(metric, &d.name, e))?;
    }
    if d.kind.value == MetricKind::Cumulative {
        let window = d.window_days.as_ref().map(|w| w.value);
        by_dims = accumulate(by_dims, window, ratio).map_err(|e| plan_error(metric, &d.name, e))?;
    }
    finish(by_dims, metric, ratio, ci, hash).map_err(|e| plan_error(metric, &d.name, e).into())
}

/// The aggregates of a metric's shape: numerator (or measure), denominator, n and the spread
/// of the per-row values (for the normal interval).
fn aggregates(num: &Part, den: Option<&Part>) -> Vec<Expr> {
    let mut aggs = vec![cast(aggregate(num), DataType::Float64).alias("numerator")];
    match den {
        Some(den) => {
            aggs.push(cast(aggregate(den), DataType::Float64).alias("denominator"));
            aggs.push(cast(count(guard(lit(1), den.filter.clone())), DataType::Int64).alias("n"));
        }
        None => {
            let counted = num.expr.clone().unwrap_or(lit(1));
            aggs.push(cast(count(guard(counted, num.filter.clone())), DataType::Int64).alias("n"));
        }
    }
    let per_row = match den {
        None => guard(num.expr.clone().unwrap_or(lit(1)), num.filter.clone()),
        Some(den) => {
            let y = when(
                num.filter.clone().unwrap_or(lit(true)),
                num.expr.clone().unwrap_or(lit(1.0)),
            )
            .otherwise(lit(0.0))
            .unwrap_or(lit(0.0));
            guard(y, den.filter.clone())
        }
    };
    // (A cumulative metric replaces the spread with NULL when it sums the periods.)
    aggs.push(cast(stddev(cast(per_row, DataType::Float64)), DataType::Float64).alias("spread"));
    aggs
}

/// The period a row falls in, as a date: the start of its grain (weeks start on the
/// metric's `week_start`).
pub(crate) fn period_expr(metric: &Metric, time: Expr) -> Expr {
    let ts = cast(time, timestamp_type());
    let start = match metric.grain() {
        Grain::Week => {
            let shift = metric.def.week_start.map_or(0, |w| w.days_from_monday());
            if shift == 0 {
                cast(date_trunc(lit("week"), ts), DataType::Date32)
            } else {
                // The week of (t - shift) starts on a Monday; shifting back gives the start.
                let days = lit(ScalarValue::new_interval_mdn(0, shift as i32, 0));
                cast(
                    date_trunc(lit("week"), ts - days.clone()) + days,
                    DataType::Date32,
                )
            }
        }
        grain => cast(date_trunc(lit(grain.name()), ts), DataType::Date32),
    };
    start.alias("period_start")
}

/// Running (no window) or trailing sums of the per-period numerator, denominator and n.
fn accumulate(
    periods: DataFrame,
    window_days: Option<u32>,
    ratio: bool,
) -> Result<DataFrame, DataFusionError> {
    let c = |n: &str| Expr::Column(Column::from_name(n));
    let ends = periods.clone().select(vec![
        c("period_start").alias("__end"),
        c("dimensions").alias("__end_dims"),
    ])?;
    let mut on = vec![
        c("__end_dims").eq(c("dimensions")),
        c("period_start").lt_eq(c("__end")),
    ];
    if let Some(w) = window_days {
        let days = lit(ScalarValue::new_interval_mdn(0, w as i32, 0));
        on.push(c("period_start").gt(c("__end") - days));
    }
    let joined = ends.join_on(periods, JoinType::Inner, on)?;
    let mut aggs = vec![cast(sum(c("numerator")), DataType::Float64).alias("numerator")];
    if ratio {
        aggs.push(cast(sum(c("denominator")), DataType::Float64).alias("denominator"));
    }
    aggs.push(cast(sum(c("n")), DataType::Int64).alias("n"));
    let summed = joined.aggregate(vec![c("__end"), c("__end_dims")], aggs)?;
    let mut cols = vec![
        c("__end").alias("period_start"),
        c("__end_dims").alias("dimensions"),
        c("numerator"),
    ];
    if ratio {
        cols.push(c("denominator"));
    }
    cols.extend([c("n"), lit(ScalarValue::Float64(None)).alias("spread")]);
    summed.select(cols)
}

/// Entities with a `from` event followed by a `to` event within `window_days`, over entities
/// with a `from` event, in the period of the `from` event.
#[allow(clippy::too_many_arguments)]
fn conversion_plan(
    df: DataFrame,
    metric: &Metric,
    entity: Expr,
    from: Expr,
    to: Expr,
    window_days: u32,
    time: Expr,
    dims: &[(String, Expr)],
) -> Result<DataFrame, Diagnostics> {
    let d = &metric.def;
    let err = |e| -> Diagnostics { plan_error(metric, &d.name, e).into() };
    let c = |n: &str| Expr::Column(Column::from_name(n));
    let mut firsts = vec![entity.clone().alias("__entity"), time.clone().alias("__at")];
    for (i, (_, e)) in dims.iter().enumerate() {
        firsts.push(e.clone().alias(format!("__d{i}")));
    }
    let a = df
        .clone()
        .filter(from.and(entity.clone().is_not_null()))
        .and_then(|f| f.select(firsts))
        .map_err(err)?;
    let b = df
        .filter(to.and(entity.clone().is_not_null()))
        .and_then(|f| f.select(vec![entity.alias("__b_entity"), time.alias("__b_at")]))
        .map_err(err)?;
    let days = lit(ScalarValue::new_interval_mdn(0, window_days as i32, 0));
    let joined = a
        .join_on(
            b,
            JoinType::Left,
            vec![
                c("__entity").eq(c("__b_entity")),
                c("__b_at").gt(c("__at")),
                c("__b_at").lt_eq(c("__at") + days),
            ],
        )
        .map_err(err)?;
    let mut keys = vec![c("__entity"), c("__at")];
    keys.extend((0..dims.len()).map(|i| c(&format!("__d{i}"))));
    let events = joined
        .aggregate(keys, vec![count(c("__b_at")).alias("__hits")])
        .map_err(err)?;
    let converted = when(c("__hits").gt(lit(0i64)), c("__entity"))
        .end()
        .unwrap_or(lit(ScalarValue::Null));
    let aggs = vec![
        cast(count_distinct(converted), DataType::Float64).alias("numerator"),
        cast(count_distinct(c("__entity")), DataType::Float64).alias("denominator"),
        cast(count_distinct(c("__entity")), DataType::Int64).alias("n"),
    ];
    let period = period_expr(metric, c("__at"));
    let dim_cols: Vec<(String, Expr)> = dims
        .iter()
        .enumerate()
        .map(|(i, (name, _))| (name.clone(), c(&format!("__d{i}"))))
        .collect();
    let mut out = grouped(&events, &period, &dim_cols, &aggs, metric)?;
    if !dims.is_empty() {
        let total = grouped(&events, &period, &[], &aggs, metric)?;
        out = out.union(total).map_err(err)?;
    }
    out.with_column("spread", lit(ScalarValue::Float64(None)))
        .map_err(err)
}

fn grouped(
    df: &DataFrame,
    period: &Expr,
    dims: &[(String, Expr)],
    aggs: &[Expr],
    metric: &Metric,
) -> Result<DataFrame, Diagnostics> {
    let mut group = vec![period.clone()];
    let labels: Vec<Expr> = dims
        .iter()
        .map(|(name, e)| {
            concat_ws(
                lit(""),
                vec![
                    lit(format!("{name}=")),
                    coalesce(vec![cast(e.clone(), DataType::Utf8), lit("(null)")]),
                ],
            )
        })
        .collect();
    let dimensions = if labels.is_empty() {
        lit("")
    } else {
        concat_ws(lit(";"), labels)
    };
    group.push(dimensions.alias("dimensions"));
    df.clone()
        .aggregate(group, aggs.to_vec())
        .map_err(|e| plan_error(metric, &metric.def.name, e).into())
}

/// Turns per-period aggregates (`period_start, dimensions, numerator[, denominator], n,
/// spread`) into `metric_values` rows.
fn finish(
    df: DataFrame,
    metric: &Metric,
    ratio: bool,
    ci: CiMethod,
    hash: &str,
) -> Result<DataFrame, DataFusionError> {
    let d = &metric.def;
    let scale = d.scale;
    let num = || Expr::Column(Column::from_name("numerator"));
    let den = || Expr::Column(Column::from_name("denominator"));
    let n = || cast(Expr::Column(Column::from_name("n")), DataType::Float64);
    let spread = || Expr::Column(Column::from_name("spread"));
    let null = || lit(ScalarValue::Float64(None));
    let (value, denominator) = if ratio {
        (
            when(den().eq(lit(0.0)), null()).otherwise(num() / den() * lit(scale))?,
            den(),
        )
    } else {
        (num() * lit(scale), cast(null(), DataType::Float64))
    };
    let (ci_low, ci_high) = match ci {
        CiMethod::Wilson => {
            // Wilson score interval for p = num / n.
            let p = num() / n();
            let z2 = Z95 * Z95;
            let denom = lit(1.0) + lit(z2) / n();
            let center = (p.clone() + lit(z2 / 2.0) / n()) / denom.clone();
            let half = lit(Z95)
                * sqrt(p.clone() * (lit(1.0) - p) / n() + lit(z2 / 4.0) / (n() * n()))
                / denom;
            let guard_n = |e: Expr| when(n().gt(lit(0.0)), e).otherwise(null());
            (
                guard_n((center.clone() - half.clone()) * lit(scale))?,
                guard_n((center + half) * lit(scale))?,
            )
        }
        CiMethod::Normal => {
            let mean = if ratio { num() / den() } else { num() };
            let half = lit(Z95) * spread() / sqrt(n());
            let guard_n = |e: Expr| when(n().gt(lit(1.0)), e).otherwise(null());
            (
                guard_n((mean.clone() - half.clone()) * lit(scale))?,
                guard_n((mean + half) * lit(scale))?,
            )
        }
        CiMethod::None => (null(), null()),
    };
    let with_value = df.select(vec![
        Expr::Column(Column::from_name("period_start")),
        Expr::Column(Column::from_name("dimensions")),
        value.alias("value"),
        num().alias("numerator"),
        denominator.alias("denominator"),
        Expr::Column(Column::from_name("n")),
        ci_low.alias("ci_low"),
        ci_high.alias("ci_high"),
        spread().alias("sd"),
    ])?;
    stamp(with_value, metric, hash)
}

/// Adds the constant columns of `metric_values` (name, version, group, grain, unit, target,
/// hash) to rows of `period_start, dimensions, value, numerator, denominator, n, ci_low,
/// ci_high, sd`, in the table's order and types.
pub(crate) fn stamp(
    df: DataFrame,
    metric: &Metric,
    hash: &str,
) -> Result<DataFrame, DataFusionError> {
    let d = &metric.def;
    let null = || lit(ScalarValue::Float64(None));
    let value_col = || Expr::Column(Column::from_name("value"));
    let direction = d.target.as_ref().and_then(|t| t.direction).or(d.direction);
    let (target, direction_lit, meets) = match (&d.target, direction) {
        (Some(t), Some(dir)) => {
            let meets = match dir {
                touchstone_core::config::Direction::Higher => value_col().gt_eq(lit(t.value)),
                touchstone_core::config::Direction::Lower => value_col().lt_eq(lit(t.value)),
            };
            (lit(t.value), lit(dir.name()), meets)
        }
        (_, dir) => (
            null(),
            dir.map_or(lit(ScalarValue::Utf8(None)), |d| lit(d.name())),
            lit(ScalarValue::Boolean(None)),
        ),
    };
    let version = i32::try_from(d.version).unwrap_or(i32::MAX);
    let unit = match &d.unit {
        Some(u) => lit(u.clone()),
        None => lit(ScalarValue::Utf8(None)),
    };
    let schema = metric_values_schema();
    let typed = |e: Expr, i: usize| {
        cast(e, schema.field(i).data_type().clone()).alias(schema.field(i).name())
    };
    let col = |name: &str| Expr::Column(Column::from_name(name));
    df.select(vec![
        typed(lit(d.name.value.clone()), 0),
        typed(lit(version), 1),
        typed(lit(metric.group.clone()), 2),
        typed(lit(metric.grain().name()), 3),
        typed(col("period_start"), 4),
        typed(col("dimensions"), 5),
        typed(col("value"), 6),
        typed(col("numerator"), 7),
        typed(col("denominator"), 8),
        typed(coalesce(vec![col("n"), lit(0i64)]), 9),
        typed(col("ci_low"), 10),
        typed(col("ci_high"), 11),
        typed(unit, 12),
        typed(target, 13),
        typed(direction_lit, 14),
        typed(meets, 15),
        typed(col("sd"), 16),
        typed(lit(hash.to_string()), 17),
    ])
}

/// The interval a metric reports: its `ci:` or the default for its shape.
pub fn ci_method(metric: &Metric) -> CiMethod {
    match &metric.def.ci {
        Some(ci) => ci.value,
        None => shape_ci(metric),
    }
}

/// The interval that fits the metric's shape: wilson for proportions of counts, normal for
/// means of per-row values, none otherwise. It also picks the significance test.
pub fn shape_ci(metric: &Metric) -> CiMethod {
    let d = &metric.def;
    let count_ratio = || {
        let num = d.numerator.as_ref().map(|m| m.agg.value);
        let den = d
            .denominator
            .as_ref()
            .map(|m| (m.agg.value, m.expr.is_some()));
        match (num, den) {
            (Some(Agg::Count), Some((Agg::Count, false))) => CiMethod::Wilson,
            (Some(Agg::Sum), Some((Agg::Count, false))) => CiMethod::Normal,
            _ => CiMethod::None,
        }
    };
    match d.kind.value {
        MetricKind::Simple => match d.measure.as_ref().map(|m| m.agg.value) {
            Some(Agg::Avg) => CiMethod::Normal,
            _ => CiMethod::None,
        },
        MetricKind::Ratio => count_ratio(),
        MetricKind::Cumulative => match count_ratio() {
            CiMethod::Wilson if d.measure.is_none() => CiMethod::Wilson,
            _ => CiMethod::None,
        },
        MetricKind::Conversion => CiMethod::Wilson,
        MetricKind::Distribution => match d.distribution.as_ref().map(|x| x.negative.is_some()) {
            Some(false) => CiMethod::Wilson,
            _ => CiMethod::Normal,
        },
        MetricKind::Derived | MetricKind::Index => CiMethod::None,
    }
}

/// `expr` where `filter` holds, NULL elsewhere (so aggregates skip the row).
fn guard(expr: Expr, filter: Option<Expr>) -> Expr {
    match filter {
        None => expr,
        Some(f) => when(f, expr).end().unwrap_or(lit(ScalarValue::Null)),
    }
}

fn aggregate(part: &Part) -> Expr {
    let value = guard(part.expr.clone().unwrap_or(lit(1)), part.filter.clone());
    match part.agg {
        Agg::Count => count(value),
        Agg::CountDistinct => count_distinct(value),
        Agg::Sum => sum(value),
        Agg::Avg => avg(value),
        Agg::Min => min(value),
        Agg::Max => max(value),
        Agg::Median => median(value),
        Agg::Percentile => approx_percentile_cont(
            SortExpr::new(cast(value, DataType::Float64), true, false),
            lit(part.percentile.unwrap_or(0.5)),
            None,
        ),
    }
}

pub(crate) fn parse_expr(
    source: &DataFrame,
    schema: &DFSchema,
    metric: &Metric,
    file: &str,
    text: &Spanned<String>,
    what: &str,
) -> Result<Expr, Diagnostic> {
    let at = touchstone_core::diagnostic::Span::of(file, text);
    let source_name = metric
        .def
        .source
        .as_ref()
        .map_or("its inputs", |s| s.value.as_str());
    let d = &metric.def;
    let columns: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let expr = source.parse_sql_expr(&text.value).map_err(|e| {
        let message = e.strip_backtrace();
        if let Some(missing) = unknown_column(&e) {
            Diagnostic::new(
                ErrorCode::UnknownColumn,
                format!(
                    "metric '{}': {what} names unknown column '{missing}' of '{}'",
                    d.name.value, source_name
                ),
            )
            .at(at.clone())
            .suggest(&missing, columns.iter().copied())
        } else {
            Diagnostic::new(
                ErrorCode::InvalidExpression,
                format!(
                    "metric '{}': {what} '{}' is not a valid SQL expression: {}",
                    d.name.value,
                    text.value,
                    message.lines().next().unwrap_or_default()
                ),
            )
            .at(at.clone())
            .with_help(
                "write a SQL expression over the source's columns, e.g. \"status = 'closed'\"",
            )
        }
    })?;
    // Columns may still be unknown when the parser accepted them; check every reference.
    for column in expr.column_refs() {
        if schema.field_with_unqualified_name(&column.name).is_err() {
            return Err(Diagnostic::new(
                ErrorCode::UnknownColumn,
                format!(
                    "metric '{}': {what} names unknown column '{}' of '{}'",
                    d.name.value, column.name, source_name
                ),
            )
            .at(at.clone())
            .suggest(&column.name, columns.iter().copied()));
        }
    }
    if let Err(e) = expr.to_field(schema) {
        return Err(Diagnostic::new(
            ErrorCode::InvalidExpression,
            format!(
                "metric '{}': {what} '{}' does not type-check: {}",
                d.name.value,
                text.value,
                first_line(&e.strip_backtrace())
            ),
        )
        .at(at.clone()));
    }
    Ok(expr)
}

fn plan_error(metric: &Metric, at: &Spanned<String>, e: DataFusionError) -> Diagnostic {
    Diagnostic::new(
        ErrorCode::InvalidMetric,
        format!(
            "metric '{}' does not plan: {}",
            metric.def.name.value,
            first_line(&e.strip_backtrace())
        ),
    )
    .at(metric.span(at))
}

/// An engine failure that no single metric's definition caused: reported as internal, not
/// pinned on a metric.
fn internal(what: &str, e: DataFusionError) -> Diagnostics {
    Diagnostic::new(
        ErrorCode::Internal,
        format!("{what}: {}", first_line(&e.strip_backtrace())),
    )
    .with_help("this is not a problem of the metric files; please report it with the message")
    .into()
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod library_tests;

#[cfg(test)]
mod stats_tests;
