//! Context dimensions: any metric with a time column can be broken down by when it happened,
//! without its source carrying the columns.
//!
//! | dimension | value |
//! |---|---|
//! | `hour_of_day` | 0-23, the hour of the metric's time column (the clock of its periods, UTC) |
//! | `day_of_week` | `monday` … `sunday` |
//! | `calendar` | the date's context in `dim_calendar`: `holiday`, `launch`, `promotion` (or another kind of the calendar source), `regular` on a date with no event |
//! | `calendar_event` | the names of the date's events, `none` on a date with no event |
//!
//! A source column of the same name wins: the context is only added for names the source does
//! not have. The calendar dimensions join `dim_calendar` (the model built from the calendar
//! source) on the date of the time column; a pipeline without a calendar source gets a located
//! error naming the fix.

use datafusion::common::JoinType;
use datafusion::dataframe::DataFrame;
use datafusion::functions::expr_fn::{coalesce, date_part, lower, to_char};
use datafusion::logical_expr::{cast, col, lit};
use datafusion::prelude::SessionContext;
use touchstone_core::config::Metric;
use touchstone_core::diagnostic::{Diagnostic, Diagnostics, ErrorCode, first_line};
use touchstone_core::schema::timestamp_type;

use arrow::datatypes::DataType;

/// The names of the context dimensions.
pub const CONTEXT_DIMENSIONS: [&str; 4] =
    ["hour_of_day", "day_of_week", "calendar", "calendar_event"];

/// The model the calendar dimensions read.
const CALENDAR_MODEL: &str = "dim_calendar";

/// `source` with the context columns that the metric's dimensions name and the source lacks.
/// Problems with the time column itself are left to the metric's own checks (the source is
/// returned unchanged).
pub(crate) async fn with_context(
    ctx: &SessionContext,
    metric: &Metric,
    source: DataFrame,
) -> Result<DataFrame, Diagnostics> {
    let d = &metric.def;
    let wanted: Vec<&str> = d
        .dimensions
        .iter()
        .map(|dim| dim.value.trim())
        .filter(|name| CONTEXT_DIMENSIONS.contains(name))
        .filter(|name| source.schema().field_with_unqualified_name(name).is_err())
        .collect();
    if wanted.is_empty() {
        return Ok(source);
    }
    let Some(time_text) = &d.time else {
        return Ok(source);
    };
    let Ok(time) = source.parse_sql_expr(&time_text.value) else {
        return Ok(source);
    };
    let ts = cast(time, timestamp_type());
    let err = |e: datafusion::error::DataFusionError| -> Diagnostics {
        Diagnostic::new(
            ErrorCode::InvalidMetric,
            format!(
                "metric '{}': its context dimensions do not plan: {}",
                d.name.value,
                first_line(&e.strip_backtrace())
            ),
        )
        .at(metric.span(time_text))
        .into()
    };
    let mut df = source;
    if wanted.contains(&"hour_of_day") {
        df = df
            .with_column(
                "hour_of_day",
                cast(date_part(lit("hour"), ts.clone()), DataType::Int32),
            )
            .map_err(err)?;
    }
    if wanted.contains(&"day_of_week") {
        df = df
            .with_column("day_of_week", lower(to_char(ts.clone(), lit("%A"))))
            .map_err(err)?;
    }
    if wanted.iter().any(|w| w.starts_with("calendar")) {
        let calendar = match ctx.table(CALENDAR_MODEL).await {
            Ok(t) => t,
            Err(_) => {
                let dim = d
                    .dimensions
                    .iter()
                    .find(|dim| dim.value.trim().starts_with("calendar"))
                    .unwrap_or(time_text);
                return Err(Diagnostic::new(
                    ErrorCode::UnknownColumn,
                    format!(
                        "metric '{}': dimension '{}' needs the model {CALENDAR_MODEL}, which this pipeline does not build",
                        d.name.value, dim.value
                    ),
                )
                .at(metric.span(dim))
                .with_help(
                    "add a source of type calendar (a YAML list of holidays, promotions and launches) and the model sql/marts/dim_calendar.sql",
                )
                .into());
            }
        };
        let calendar = calendar
            .select(vec![
                col("date").alias("__calendar_date"),
                col("calendar").alias("__calendar"),
                col("calendar_event").alias("__calendar_event"),
            ])
            .map_err(err)?;
        df = df
            .with_column("__calendar_day", cast(ts, DataType::Date32))
            .and_then(|df| {
                df.join_on(
                    calendar,
                    JoinType::Left,
                    vec![col("__calendar_day").eq(col("__calendar_date"))],
                )
            })
            .map_err(err)?;
        // A date with no event is a regular day with none.
        for (name, none) in [("calendar", "regular"), ("calendar_event", "none")] {
            if wanted.contains(&name) {
                df = df
                    .with_column(name, coalesce(vec![col(format!("__{name}")), lit(none)]))
                    .map_err(err)?;
            }
        }
        df = df
            .drop_columns(&[
                "__calendar_day",
                "__calendar_date",
                "__calendar",
                "__calendar_event",
            ])
            .map_err(err)?;
    }
    Ok(df)
}
