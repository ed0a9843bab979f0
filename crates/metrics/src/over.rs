//! Metrics over metrics: `derived` (an expression over other metrics' values, with period
//! offsets) and `index` (a weighted mean of normalised factors).
//!
//! Both read the total rows (`dimensions = ''`) of the metrics they name, at the same grain,
//! joined on the period; a period is computed when every input has a value for it.

use std::collections::HashMap;

use arrow::datatypes::DataType;
use datafusion::common::{Column, JoinType};
use datafusion::dataframe::DataFrame;
use datafusion::functions::expr_fn::{greatest, isnan, least};
use datafusion::logical_expr::{Expr, ExprSchemable, cast, lit, when};
use datafusion::scalar::ScalarValue;
use touchstone_core::config::{Direction, Grain, Metric, MetricKind, MetricLibrary, Offset};
use touchstone_core::diagnostic::{Diagnostic, Diagnostics, ErrorCode, Span, first_line};

use crate::{plan_error, stamp};

fn col(name: &str) -> Expr {
    Expr::Column(Column::from_name(name))
}

/// How far `offset` moves a period forward, so that last period's value lines up with this
/// period: (months, days).
fn shift(grain: Grain, offset: Offset) -> (i32, i32) {
    match (offset, grain) {
        (Offset::None, _) => (0, 0),
        (Offset::PreviousPeriod, Grain::Day) => (0, 1),
        (Offset::PreviousPeriod, Grain::Week) => (0, 7),
        (Offset::PreviousPeriod, Grain::Month) => (1, 0),
        (Offset::PreviousPeriod, Grain::Quarter) => (3, 0),
        // 52 weeks keeps a week aligned with the same weekday.
        (Offset::SamePeriodLastYear, Grain::Week) => (0, 364),
        (Offset::SamePeriodLastYear, _) => (12, 0),
    }
}

/// Grains from finest to coarsest.
fn rank(g: Grain) -> u8 {
    match g {
        Grain::Day => 0,
        Grain::Week => 1,
        Grain::Month => 2,
        Grain::Quarter => 3,
    }
}

/// Compiles a derived or index metric from the compiled plans of the metrics it reads.
pub(crate) fn compile_over(
    metric: &Metric,
    library: &MetricLibrary,
    compiled: &HashMap<String, (usize, DataFrame)>,
    hash: &str,
) -> Result<DataFrame, Diagnostics> {
    let d = &metric.def;
    // (alias in the expression, metric name, offset, where it is named)
    let mut inputs: Vec<(String, String, Offset, Span)> = Vec::new();
    match d.kind.value {
        MetricKind::Derived => {
            for i in &d.inputs {
                inputs.push((
                    i.name.value.clone(),
                    i.metric.value.clone(),
                    i.offset,
                    metric.span(&i.metric),
                ));
            }
            let names: Vec<&str> = library
                .metrics
                .iter()
                .filter(|m| m.overlay.is_none())
                .map(|m| m.name())
                .collect();
            let aliases: Vec<String> = d.inputs.iter().map(|i| i.name.value.clone()).collect();
            if let Some(expr) = &d.expr {
                for dep in touchstone_core::config::depends_on(metric, &names) {
                    if !aliases.iter().any(|a| a == dep) && !inputs.iter().any(|i| i.0 == dep) {
                        inputs.push((
                            dep.to_string(),
                            dep.to_string(),
                            Offset::None,
                            metric.span(expr),
                        ));
                    }
                }
            }
        }
        MetricKind::Index => {
            for (i, f) in d.factors.iter().enumerate() {
                inputs.push((
                    format!("__f{i}"),
                    f.metric.value.clone(),
                    Offset::None,
                    metric.span(&f.metric),
                ));
            }
        }
        _ => return Err(Diagnostics(Vec::new())),
    }
    if inputs.is_empty() {
        return Err(Diagnostic::new(
            ErrorCode::UnknownMetric,
            format!("derived metric '{}' reads no metric", d.name.value),
        )
        .at(metric.span(&d.name))
        .with_help("name other metrics in 'expr:', or list them under 'inputs:'")
        .into());
    }
    let mut problems = Vec::new();
    let grain = metric.grain();
    for (_, name, _, span) in &inputs {
        let Some(input) = library.get(name) else {
            continue;
        };
        let g = input.grain();
        if rank(grain) < rank(g) {
            problems.push(
                Diagnostic::new(
                    ErrorCode::GrainTooFine,
                    format!(
                        "metric '{}' is by {} but its input '{name}' is by {}",
                        d.name.value,
                        grain.name(),
                        g.name()
                    ),
                )
                .at(span.clone())
                .with_help(format!(
                    "set 'grain: {}' on '{}' (a {} value cannot be split into {}s)",
                    g.name(),
                    d.name.value,
                    g.name(),
                    grain.name()
                )),
            );
        } else if rank(grain) > rank(g) {
            problems.push(
                Diagnostic::new(
                    ErrorCode::InvalidMetric,
                    format!(
                        "metric '{}' is by {} but its input '{name}' is by {}",
                        d.name.value,
                        grain.name(),
                        g.name()
                    ),
                )
                .at(span.clone())
                .with_help(format!(
                    "metrics over metrics do not re-aggregate; define '{name}' by {} too, or set 'grain: {}' here",
                    grain.name(),
                    g.name()
                )),
            );
        }
    }
    Diagnostics::check(problems)?;

    let err = |e| -> Diagnostics { plan_error(metric, &d.name, e).into() };
    let mut joined: Option<DataFrame> = None;
    for (i, (alias, name, offset, _)) in inputs.iter().enumerate() {
        let Some((_, frame)) = compiled.get(name) else {
            return Err(Diagnostics(Vec::new()));
        };
        let (months, days) = shift(grain, *offset);
        let mut period = col("period_start");
        if months != 0 || days != 0 {
            period = cast(
                period + lit(ScalarValue::new_interval_mdn(months, days, 0)),
                DataType::Date32,
            );
        }
        let p = format!("__p{i}");
        let frame = frame
            .clone()
            .filter(col("dimensions").eq(lit("")))
            .and_then(|f| {
                f.select(vec![
                    period.alias(p.as_str()),
                    col("value").alias(alias.as_str()),
                    col("n").alias(format!("__n{i}")),
                ])
            })
            .map_err(err)?;
        joined = Some(match joined {
            None => frame,
            Some(acc) => acc
                .join_on(frame, JoinType::Inner, vec![col("__p0").eq(col(&p))])
                .map_err(err)?,
        });
    }
    let Some(joined) = joined else {
        return Err(Diagnostics(Vec::new()));
    };
    let value = match d.kind.value {
        MetricKind::Derived => {
            let Some(text) = &d.expr else {
                return Err(Diagnostics(Vec::new()));
            };
            let known: Vec<&str> = library
                .metrics
                .iter()
                .filter(|m| m.overlay.is_none())
                .map(|m| m.name())
                .chain(inputs.iter().map(|i| i.0.as_str()))
                .collect();
            let expr = joined.parse_sql_expr(&text.value).map_err(|e| {
                let message = e.strip_backtrace();
                match touchstone_transform::engine_error::unknown_column(&e) {
                    Some(missing) => Diagnostic::new(
                        ErrorCode::UnknownMetric,
                        format!(
                            "derived metric '{}' names '{missing}', which is neither a metric nor an input",
                            d.name.value
                        ),
                    )
                    .at(metric.span(text))
                    .suggest(&missing, known.iter().copied()),
                    None => Diagnostic::new(
                        ErrorCode::InvalidExpression,
                        format!(
                            "derived metric '{}': '{}' is not a valid expression: {}",
                            d.name.value,
                            text.value,
                            first_line(&message)
                        ),
                    )
                    .at(metric.span(text)),
                }
            })?;
            if let Err(e) = expr.to_field(joined.schema()) {
                return Err(Diagnostic::new(
                    ErrorCode::InvalidExpression,
                    format!(
                        "derived metric '{}': '{}' does not type-check: {}",
                        d.name.value,
                        text.value,
                        first_line(&e.strip_backtrace())
                    ),
                )
                .at(metric.span(text))
                .into());
            }
            cast(expr, DataType::Float64) * lit(d.scale)
        }
        MetricKind::Index => {
            let total: f64 = d.factors.iter().map(|f| f.weight).sum();
            let mut acc = lit(0.0);
            for (i, f) in d.factors.iter().enumerate() {
                let raw = (col(&format!("__f{i}")) - lit(f.min)) / lit(f.max - f.min);
                let clamped = least(vec![greatest(vec![raw, lit(0.0)]), lit(1.0)]);
                let lower = library
                    .get(&f.metric.value)
                    .and_then(|m| m.direction())
                    .is_some_and(|dir| dir == Direction::Lower);
                let normalised = if lower { lit(1.0) - clamped } else { clamped };
                acc = acc + normalised * lit(f.weight / total);
            }
            acc * lit(d.scale)
        }
        _ => return Err(Diagnostics(Vec::new())),
    };
    let n = if inputs.len() == 1 {
        col("__n0")
    } else {
        least((0..inputs.len()).map(|i| col(&format!("__n{i}"))).collect())
    };
    let null = || lit(ScalarValue::Float64(None));
    let finite = value.clone();
    let rows = joined
        .select(vec![
            col("__p0").alias("period_start"),
            lit("").alias("dimensions"),
            when(isnan(finite.clone()), null())
                .otherwise(finite)
                .unwrap_or(value)
                .alias("value"),
            null().alias("numerator"),
            null().alias("denominator"),
            n.alias("n"),
            null().alias("ci_low"),
            null().alias("ci_high"),
            null().alias("sd"),
        ])
        .map_err(err)?;
    stamp(rows, metric, hash).map_err(err)
}
