//! Compiles YAML metric definitions to DataFusion plans.
//!
//! Each definition reads one table or model, filters it, places rows in periods by its `time`
//! column at its `grain`, and aggregates a measure (simple) or a numerator and a denominator
//! (ratio), overall and by each of its dimensions' values. Expressions and filters are parsed
//! by the engine's SQL parser against the source's schema — never assembled into SQL text — so
//! an unknown column is reported at the metric's line with a "did you mean".
//!
//! Every metric produces rows of [`metric_values_schema`]; [`compile_all`] unions them.

use std::sync::{Arc, LazyLock};

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::{Column, DFSchema};
use datafusion::dataframe::DataFrame;
use datafusion::error::DataFusionError;
use datafusion::functions::expr_fn::{coalesce, concat_ws, date_trunc, sqrt};
use datafusion::functions_aggregate::expr_fn::{
    avg, count, count_distinct, max, median, min, stddev, sum,
};
use datafusion::logical_expr::{Expr, ExprSchemable, cast, lit, when};
use datafusion::prelude::SessionContext;
use serde_saphyr::Spanned;
use touchstone_core::config::{Agg, CiMethod, Direction, Measure, Metric, MetricKind};
use touchstone_core::diagnostic::{Diagnostic, Diagnostics, ErrorCode, first_line};
use touchstone_core::schema::timestamp_type;
use touchstone_transform::engine_error::unknown_column;

/// z for a two-sided 95% interval.
const Z95: f64 = 1.959_963_984_540_054;

/// Schema of `metric_values`: one row per metric, period and dimension combination.
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
        ]))
    });
    Arc::clone(&SCHEMA)
}

/// Compiles every metric; reports every problem of every metric.
pub async fn compile_all(
    ctx: &SessionContext,
    metrics: &[Metric],
) -> Result<Option<DataFrame>, Diagnostics> {
    let mut frames = Vec::new();
    let mut problems = Vec::new();
    for metric in metrics {
        match compile(ctx, metric).await {
            Ok(df) => frames.push(df),
            Err(d) => problems.extend(d.0),
        }
    }
    Diagnostics::check(problems)?;
    let mut frames = frames.into_iter();
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

/// The plan of one metric's rows.
pub async fn compile(ctx: &SessionContext, metric: &Metric) -> Result<DataFrame, Diagnostics> {
    let d = &metric.def;
    let source = match ctx.table(d.source.value.as_str()).await {
        Ok(df) => df,
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
            return Err(Diagnostic::new(
                ErrorCode::UnknownMetricSource,
                format!(
                    "metric '{}' reads '{}', which is not a table or model",
                    d.name.value, d.source.value
                ),
            )
            .at(metric.span(&d.source))
            .suggest(&d.source.value, known.iter().map(String::as_str))
            .into());
        }
    };
    let schema = source.schema().clone();

    // Parse every expression first so all problems of the metric are reported together.
    let mut problems = Vec::new();
    let mut parse = |text: &Spanned<String>, what: &str| -> Option<Expr> {
        match parse_expr(&source, &schema, metric, text, what) {
            Ok(e) => Some(e),
            Err(d) => {
                problems.push(d);
                None
            }
        }
    };
    let filter = d.filter.as_ref().map(|f| parse(f, "filter"));
    let time = parse(&d.time, "time column");
    let dimensions: Vec<Option<Expr>> = d
        .dimensions
        .iter()
        .map(|dim| parse(dim, "dimension"))
        .collect();
    let mut measure_parts = |m: &Option<Measure>| -> Option<(Agg, Option<Expr>, Option<Expr>)> {
        let m = m.as_ref()?;
        let expr = m.expr.as_ref().map(|e| parse(e, "expression"));
        let filter = m.filter.as_ref().map(|f| parse(f, "filter"));
        Some((m.agg.value, expr.flatten(), filter.flatten()))
    };
    let measure = measure_parts(&d.measure);
    let numerator = measure_parts(&d.numerator);
    let denominator = measure_parts(&d.denominator);
    if let (Some(time), Some(time_text)) = (&time, Some(&d.time))
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
    Diagnostics::check(problems)?;
    let (Some(time), Some(dimensions)) = (time, dimensions.into_iter().collect::<Option<Vec<_>>>())
    else {
        return Err(Diagnostics(Vec::new()));
    };

    let mut df = source;
    if let Some(Some(filter)) = filter {
        df = df
            .filter(filter)
            .map_err(|e| plan_error(metric, &d.name, e))?;
    }
    let period = cast(
        date_trunc(lit(metric.grain().name()), cast(time, timestamp_type())),
        DataType::Date32,
    )
    .alias("period_start");

    // Aggregates: numerator (or measure), denominator, n, and what the interval needs.
    let ci = ci_method(metric);
    let (num_parts, den_parts) = match d.kind.value {
        MetricKind::Simple => (measure, None),
        MetricKind::Ratio => (numerator, denominator),
    };
    let Some((num_agg, num_expr, num_filter)) = num_parts else {
        return Err(Diagnostics(Vec::new()));
    };
    let numerator_agg = aggregate(num_agg, num_expr.clone(), num_filter.clone());
    let mut aggs = vec![cast(numerator_agg, DataType::Float64).alias("numerator")];
    let den_filter = den_parts.as_ref().and_then(|(_, _, f)| f.clone());
    match &den_parts {
        Some((agg, expr, filter)) => {
            aggs.push(
                cast(
                    aggregate(*agg, expr.clone(), filter.clone()),
                    DataType::Float64,
                )
                .alias("denominator"),
            );
            aggs.push(cast(count(guard(lit(1), filter.clone())), DataType::Int64).alias("n"));
        }
        None => {
            let counted = num_expr.clone().unwrap_or(lit(1));
            aggs.push(cast(count(guard(counted, num_filter.clone())), DataType::Int64).alias("n"));
        }
    }
    // Spread of the per-row values, for the normal interval.
    let per_row = match d.kind.value {
        MetricKind::Simple => guard(num_expr.clone().unwrap_or(lit(1)), num_filter.clone()),
        MetricKind::Ratio => {
            let y = when(
                num_filter.clone().unwrap_or(lit(true)),
                num_expr.clone().unwrap_or(lit(1.0)),
            )
            .otherwise(lit(0.0))
            .unwrap_or(lit(0.0));
            guard(y, den_filter.clone())
        }
    };
    aggs.push(cast(stddev(cast(per_row, DataType::Float64)), DataType::Float64).alias("spread"));

    let dims_text: Vec<(String, Expr)> = d
        .dimensions
        .iter()
        .zip(dimensions)
        .map(|(name, e)| (name.value.clone(), e))
        .collect();
    let mut by_dims = grouped(&df, &period, &dims_text, &aggs, metric)?;
    if !dims_text.is_empty() {
        let total = grouped(&df, &period, &[], &aggs, metric)?;
        by_dims = by_dims
            .union(total)
            .map_err(|e| plan_error(metric, &d.name, e))?;
    }
    finish(by_dims, metric, ci).map_err(|e| plan_error(metric, &d.name, e).into())
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

fn finish(df: DataFrame, metric: &Metric, ci: CiMethod) -> Result<DataFrame, DataFusionError> {
    let d = &metric.def;
    let scale = d.scale;
    let num = || Expr::Column(Column::from_name("numerator"));
    let den = || Expr::Column(Column::from_name("denominator"));
    let n = || cast(Expr::Column(Column::from_name("n")), DataType::Float64);
    let spread = || Expr::Column(Column::from_name("spread"));
    let (value, denominator) = match d.kind.value {
        MetricKind::Simple => (
            num() * lit(scale),
            cast(
                lit(datafusion::scalar::ScalarValue::Float64(None)),
                DataType::Float64,
            ),
        ),
        MetricKind::Ratio => (
            when(
                den().eq(lit(0.0)),
                lit(datafusion::scalar::ScalarValue::Float64(None)),
            )
            .otherwise(num() / den() * lit(scale))?,
            den(),
        ),
    };
    let null = || lit(datafusion::scalar::ScalarValue::Float64(None));
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
            let mean = match d.kind.value {
                MetricKind::Simple => num(),
                MetricKind::Ratio => num() / den(),
            };
            let half = lit(Z95) * spread() / sqrt(n());
            let guard_n = |e: Expr| when(n().gt(lit(1.0)), e).otherwise(null());
            (
                guard_n((mean.clone() - half.clone()) * lit(scale))?,
                guard_n((mean + half) * lit(scale))?,
            )
        }
        CiMethod::None => (null(), null()),
    };
    let value_col = || Expr::Column(Column::from_name("value"));
    let (target, direction, meets) = match &d.target {
        Some(t) => {
            let meets = match t.direction {
                Direction::Higher => value_col().gt_eq(lit(t.value)),
                Direction::Lower => value_col().lt_eq(lit(t.value)),
            };
            let name = match t.direction {
                Direction::Higher => "higher",
                Direction::Lower => "lower",
            };
            (lit(t.value), lit(name), meets)
        }
        None => (
            null(),
            lit(datafusion::scalar::ScalarValue::Utf8(None)),
            lit(datafusion::scalar::ScalarValue::Boolean(None)),
        ),
    };
    let version = i32::try_from(d.version).unwrap_or(i32::MAX);
    let with_value = df.select(vec![
        Expr::Column(Column::from_name("period_start")),
        Expr::Column(Column::from_name("dimensions")),
        value.alias("value"),
        num().alias("numerator"),
        denominator.alias("denominator"),
        Expr::Column(Column::from_name("n")),
        ci_low.alias("ci_low"),
        ci_high.alias("ci_high"),
    ])?;
    let unit = match &d.unit {
        Some(u) => lit(u.clone()),
        None => lit(datafusion::scalar::ScalarValue::Utf8(None)),
    };
    let schema = metric_values_schema();
    let typed = |e: Expr, i: usize| {
        cast(e, schema.field(i).data_type().clone()).alias(schema.field(i).name())
    };
    let col = |name: &str| Expr::Column(Column::from_name(name));
    with_value.select(vec![
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
        typed(direction, 14),
        typed(meets, 15),
    ])
}

/// The interval a metric reports: its `ci:` or the default for its shape.
pub fn ci_method(metric: &Metric) -> CiMethod {
    let d = &metric.def;
    if let Some(ci) = &d.ci {
        return ci.value;
    }
    match d.kind.value {
        MetricKind::Simple => match d.measure.as_ref().map(|m| m.agg.value) {
            Some(Agg::Avg) => CiMethod::Normal,
            _ => CiMethod::None,
        },
        MetricKind::Ratio => {
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
        }
    }
}

/// `expr` where `filter` holds, NULL elsewhere (so aggregates skip the row).
fn guard(expr: Expr, filter: Option<Expr>) -> Expr {
    match filter {
        None => expr,
        Some(f) => when(f, expr)
            .end()
            .unwrap_or(lit(datafusion::scalar::ScalarValue::Null)),
    }
}

fn aggregate(agg: Agg, expr: Option<Expr>, filter: Option<Expr>) -> Expr {
    let value = guard(expr.clone().unwrap_or(lit(1)), filter);
    match agg {
        Agg::Count => count(value),
        Agg::CountDistinct => count_distinct(value),
        Agg::Sum => sum(value),
        Agg::Avg => avg(value),
        Agg::Min => min(value),
        Agg::Max => max(value),
        Agg::Median => median(value),
    }
}

fn parse_expr(
    source: &DataFrame,
    schema: &DFSchema,
    metric: &Metric,
    text: &Spanned<String>,
    what: &str,
) -> Result<Expr, Diagnostic> {
    let d = &metric.def;
    let columns: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let expr = source.parse_sql_expr(&text.value).map_err(|e| {
        let message = e.strip_backtrace();
        if let Some(missing) = unknown_column(&e) {
            Diagnostic::new(
                ErrorCode::UnknownColumn,
                format!(
                    "metric '{}': {what} names unknown column '{missing}' of '{}'",
                    d.name.value, d.source.value
                ),
            )
            .at(metric.span(text))
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
            .at(metric.span(text))
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
                    d.name.value, column.name, d.source.value
                ),
            )
            .at(metric.span(text))
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
        .at(metric.span(text)));
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
