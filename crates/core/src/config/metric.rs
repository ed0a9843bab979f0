//! Metric definition files and their shape checks.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::read;
use crate::diagnostic::{Diagnostic, Diagnostics, ErrorCode, Span};
use crate::{env, yaml};

/// A metric definition file (`pipelines/metrics/*.yaml`).
///
/// ```yaml
/// group: contact_center
/// metrics:
///   - name: abandonment_rate
///     description: Share of queued calls where the caller hung up before an agent answered.
///     source: fct_queue_visits
///     time: enqueued_at
///     type: ratio
///     filter: "NOT is_short_abandon"
///     numerator: { agg: count, filter: "outcome = 'abandoned'" }
///     denominator: { agg: count }
///     scale: 100
///     unit: percent
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricFile {
    /// The business group that owns these definitions (default: the file's stem).
    #[serde(default)]
    pub group: Option<Spanned<String>>,
    /// The definitions.
    pub metrics: Vec<MetricDef>,
}

/// One metric.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricDef {
    /// Unique metric name, snake_case.
    pub name: Spanned<String>,
    /// Display label.
    #[serde(default)]
    pub label: Option<String>,
    /// What it measures and how, for the people who read the numbers.
    pub description: Spanned<String>,
    /// Who answers questions about it.
    #[serde(default)]
    pub owner: Option<String>,
    /// Definition version; bump it when the formula changes.
    #[serde(default = "one")]
    pub version: u32,
    /// The table or model the metric reads.
    pub source: Spanned<String>,
    /// The timestamp or date column that places a row in a period.
    pub time: Spanned<String>,
    /// Period length: day (default), week (ISO, starting Monday) or month.
    #[serde(default)]
    pub grain: Option<Spanned<Grain>>,
    /// simple (one aggregate) or ratio (numerator / denominator).
    #[serde(rename = "type")]
    pub kind: Spanned<MetricKind>,
    /// A SQL boolean expression on the source's columns applied before aggregating.
    #[serde(default)]
    pub filter: Option<Spanned<String>>,
    /// The aggregate of a simple metric.
    #[serde(default)]
    pub measure: Option<Measure>,
    /// The numerator aggregate of a ratio metric.
    #[serde(default)]
    pub numerator: Option<Measure>,
    /// The denominator aggregate of a ratio metric.
    #[serde(default)]
    pub denominator: Option<Measure>,
    /// Columns to break the metric down by; a total row (no dimensions) is always written too.
    #[serde(default)]
    pub dimensions: Vec<Spanned<String>>,
    /// Multiplier applied to the value (100 for percentages).
    #[serde(default = "one_f64")]
    pub scale: f64,
    /// Unit of the value: percent, count, seconds, score...
    #[serde(default)]
    pub unit: Option<String>,
    /// The confidence interval to report; by default wilson for count/count ratios, normal for
    /// averages and for ratios of a sum to a count, none otherwise.
    #[serde(default)]
    pub ci: Option<Spanned<CiMethod>>,
    /// A target the business holds the metric to.
    #[serde(default)]
    pub target: Option<Target>,
}

fn one() -> u32 {
    1
}
fn one_f64() -> f64 {
    1.0
}

/// An aggregate over the source rows.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Measure {
    /// sum, count, count_distinct, avg, min, max or median.
    pub agg: Spanned<Agg>,
    /// The SQL expression aggregated (not needed for count).
    #[serde(default)]
    pub expr: Option<Spanned<String>>,
    /// A SQL boolean expression restricting the rows of this aggregate.
    #[serde(default)]
    pub filter: Option<Spanned<String>>,
}

/// Aggregations a measure can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Agg {
    /// Sum of the expression.
    Sum,
    /// Count of rows (or of non-null expression values).
    Count,
    /// Count of distinct expression values.
    CountDistinct,
    /// Arithmetic mean.
    Avg,
    /// Minimum.
    Min,
    /// Maximum.
    Max,
    /// Median.
    Median,
}

impl Agg {
    /// The name as written in YAML.
    pub fn name(self) -> &'static str {
        match self {
            Agg::Sum => "sum",
            Agg::Count => "count",
            Agg::CountDistinct => "count_distinct",
            Agg::Avg => "avg",
            Agg::Min => "min",
            Agg::Max => "max",
            Agg::Median => "median",
        }
    }
}

/// Kinds of metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// `value = scale × measure`.
    Simple,
    /// `value = scale × numerator / denominator`.
    Ratio,
}

/// Period lengths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Grain {
    /// Calendar day (UTC).
    #[default]
    Day,
    /// ISO week starting Monday.
    Week,
    /// Calendar month.
    Month,
}

impl Grain {
    /// The name as written in YAML and in `metric_values.grain`.
    pub fn name(self) -> &'static str {
        match self {
            Grain::Day => "day",
            Grain::Week => "week",
            Grain::Month => "month",
        }
    }
}

/// Confidence-interval methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CiMethod {
    /// Wilson score interval for a proportion (count / count).
    Wilson,
    /// Normal approximation for a mean of per-row values.
    Normal,
    /// No interval.
    None,
}

/// A target.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// The target value, in the metric's unit (after `scale`).
    pub value: f64,
    /// Whether higher or lower values are better.
    pub direction: Direction,
}

/// Which way is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Higher is better.
    Higher,
    /// Lower is better.
    Lower,
}

/// A metric definition with the file and group it came from.
#[derive(Debug, Clone)]
pub struct Metric {
    /// The file it was read from.
    pub file: String,
    /// Business group.
    pub group: String,
    /// The definition.
    pub def: MetricDef,
}

impl Metric {
    /// The metric's name.
    pub fn name(&self) -> &str {
        &self.def.name.value
    }
    /// Its period length.
    pub fn grain(&self) -> Grain {
        self.def.grain.as_ref().map(|g| g.value).unwrap_or_default()
    }
    /// A span for a spanned part of the definition.
    pub fn span<T>(&self, spanned: &Spanned<T>) -> Span {
        Span::of(&self.file, spanned)
    }
}

/// Reads every `*.yaml` / `*.yml` file in `dir` (sorted by name) and validates the
/// definitions' shape (not their columns: that needs the engine, see the metrics crate).
pub fn load_metrics(dir: &Path) -> Result<Vec<Metric>, Diagnostics> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
            .collect(),
        Err(e) => {
            return Err(Diagnostic::new(
                ErrorCode::Unreadable,
                format!("cannot read the metrics directory {}: {e}", dir.display()),
            )
            .with_help("set 'metrics:' in the pipeline to the directory holding metric YAML files")
            .into());
        }
    };
    files.sort();
    let mut metrics = Vec::new();
    let mut problems = Vec::new();
    for path in files {
        let file = path.to_string_lossy().into_owned();
        let parsed = read(&path, &file)
            .map_err(Diagnostics::from)
            .and_then(|text| env::interpolate(&file, &text, &env::process_env))
            .and_then(|text| yaml::parse::<MetricFile>(&file, &text).map_err(Diagnostics::from));
        match parsed {
            Err(d) => problems.extend(d.0),
            Ok(parsed) => {
                let stem = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let group = parsed.group.as_ref().map_or(stem, |g| g.value.clone());
                for def in parsed.metrics {
                    metrics.push(Metric {
                        file: file.clone(),
                        group: group.clone(),
                        def,
                    });
                }
            }
        }
    }
    problems.extend(check_metrics(&metrics));
    Diagnostics::check(problems)?;
    Ok(metrics)
}

/// Shape checks that need no schema: names, kinds and their measures, duplicates.
pub fn check_metrics(metrics: &[Metric]) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for m in metrics {
        let d = &m.def;
        let span = m.span(&d.name);
        let snake = !d.name.value.is_empty()
            && d.name.value.starts_with(|c: char| c.is_ascii_lowercase())
            && d.name
                .value
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !snake {
            problems.push(
                Diagnostic::new(
                    ErrorCode::InvalidValue,
                    format!("metric name '{}' is not snake_case", d.name.value),
                )
                .at(span.clone())
                .with_help("use lowercase letters, digits and '_', starting with a letter"),
            );
        }
        if let Some(first) = seen.get(d.name.value.as_str()) {
            problems.push(
                Diagnostic::new(
                    ErrorCode::DuplicateName,
                    format!(
                        "metric '{}' is defined twice (first at {first})",
                        d.name.value
                    ),
                )
                .at(span.clone())
                .with_help("rename one, or bump 'version:' on a single definition"),
            );
        } else {
            seen.insert(&d.name.value, span.clone());
        }
        let kind_span = m.span(&d.kind);
        match d.kind.value {
            MetricKind::Simple => {
                if d.measure.is_none() {
                    problems.push(
                        Diagnostic::new(
                            ErrorCode::InvalidMetric,
                            format!("simple metric '{}' has no 'measure'", d.name.value),
                        )
                        .at(kind_span.clone())
                        .with_help("add 'measure: { agg: ..., expr: ... }'"),
                    );
                }
                if d.numerator.is_some() || d.denominator.is_some() {
                    problems.push(
                        Diagnostic::new(
                            ErrorCode::InvalidMetric,
                            format!(
                                "simple metric '{}' has a numerator or denominator",
                                d.name.value
                            ),
                        )
                        .at(kind_span.clone())
                        .with_help("use 'type: ratio', or move the aggregate to 'measure:'"),
                    );
                }
            }
            MetricKind::Ratio => {
                if d.numerator.is_none() || d.denominator.is_none() {
                    problems.push(
                        Diagnostic::new(
                            ErrorCode::InvalidMetric,
                            format!(
                                "ratio metric '{}' needs both 'numerator' and 'denominator'",
                                d.name.value
                            ),
                        )
                        .at(kind_span.clone())
                        .with_help("add the missing one, or use 'type: simple' with 'measure:'"),
                    );
                }
                if d.measure.is_some() {
                    problems.push(
                        Diagnostic::new(
                            ErrorCode::InvalidMetric,
                            format!("ratio metric '{}' has a 'measure'", d.name.value),
                        )
                        .at(kind_span.clone())
                        .with_help("a ratio uses 'numerator' and 'denominator'"),
                    );
                }
            }
        }
        for measure in [&d.measure, &d.numerator, &d.denominator]
            .into_iter()
            .flatten()
        {
            if measure.expr.is_none() && measure.agg.value != Agg::Count {
                problems.push(
                    Diagnostic::new(
                        ErrorCode::InvalidMetric,
                        format!(
                            "'{}' needs an 'expr' to aggregate",
                            measure.agg.value.name()
                        ),
                    )
                    .at(m.span(&measure.agg))
                    .with_help("add 'expr: <column or SQL expression>'"),
                );
            }
        }
        if !d.scale.is_finite() || d.scale == 0.0 {
            problems.push(
                Diagnostic::new(
                    ErrorCode::InvalidValue,
                    format!("metric '{}' has scale {}", d.name.value, d.scale),
                )
                .at(span.clone())
                .with_help("use a finite, non-zero scale such as 1 or 100"),
            );
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metric(yaml_text: &str) -> Vec<Diagnostic> {
        let parsed: MetricFile = yaml::parse("m.yaml", yaml_text).unwrap();
        let metrics: Vec<Metric> = parsed
            .metrics
            .into_iter()
            .map(|def| Metric {
                file: "m.yaml".into(),
                group: "g".into(),
                def,
            })
            .collect();
        check_metrics(&metrics)
    }

    #[test]
    fn metric_shapes_are_checked() {
        let problems = metric(
            "metrics:\n  - name: a\n    description: d\n    source: t\n    time: ts\n    type: ratio\n    numerator: { agg: sum }\n  - name: a\n    description: d\n    source: t\n    time: ts\n    type: simple\n    measure: { agg: count }\n",
        );
        let codes: Vec<_> = problems.iter().map(|d| d.code).collect();
        assert!(codes.contains(&ErrorCode::InvalidMetric), "{problems:?}");
        assert!(codes.contains(&ErrorCode::DuplicateName), "{problems:?}");
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    #[test]
    fn unknown_aggregation_suggests() {
        let err = yaml::parse::<MetricFile>(
            "m.yaml",
            "metrics:\n  - name: a\n    description: d\n    source: t\n    time: ts\n    type: simple\n    measure: { agg: avgg, expr: x }\n",
        )
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::UnknownVariant);
        assert_eq!(err.help.as_deref(), Some("did you mean 'avg'?"));
        assert_eq!(err.span.map(|s| s.line), Some(7));
    }
}
