//! Typed pipeline and metric configuration.
//!
//! The YAML is read into the `*File` structs (every key spanned where a later check needs the
//! place), `${VAR}` references are substituted first, and [`load_pipeline`] /
//! [`load_metrics`] validate everything they can without data, collecting every problem before
//! reporting. The doc comments on the `*File` structs are the user documentation of each key.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_saphyr::Spanned;
use url::Url;

use crate::diagnostic::{Diagnostic, Diagnostics, ErrorCode, Span};
use crate::format::SourceFormat;
use crate::{env, store, yaml};

/// A pipeline file (`pipelines/<name>.yaml`).
///
/// ```yaml
/// name: customer_success
/// warehouse: ${TOUCHSTONE_WAREHOUSE:-warehouse}
/// sources:
///   - name: asterisk_cdr
///     type: asterisk_cdr
///     path: ${TOUCHSTONE_RAW:-data/raw}/asterisk/Master.csv
///     timezone: America/Chicago
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineFile {
    /// The pipeline's name (letters, digits, `_`, `-`); recorded in the run ledger.
    pub name: Spanned<String>,
    /// What the pipeline is for.
    #[serde(default)]
    pub description: Option<String>,
    /// Where tables are written: a path or an object-store URL (`file://`, `memory://`,
    /// `s3://`, `az://`, `gs://`). Tables land in `staging/<table>`, `marts/<table>` and
    /// `rejects/<source>` below it.
    pub warehouse: Spanned<String>,
    /// The engine: `local` (one DataFusion session on this machine; the default).
    #[serde(default)]
    pub engine: Option<Spanned<Engine>>,
    /// Directory of SQL models, `<layer>/<table>.sql` (default `sql`).
    #[serde(default)]
    pub models: Option<Spanned<String>>,
    /// Directory of metric definition files, `*.yaml` (default `pipelines/metrics`).
    #[serde(default)]
    pub metrics: Option<Spanned<String>>,
    /// Memory the engine may use before spilling to disk, in MiB (default 4096).
    #[serde(default)]
    pub memory_limit_mb: Option<Spanned<u64>>,
    /// The exports to read.
    pub sources: Vec<SourceFile>,
    /// Settings of the customer-value and retention models.
    #[serde(default)]
    pub value: Option<ValueFile>,
}

/// The `value:` section: how the customer-value and retention tables are computed.
///
/// ```yaml
/// value:
///   model: bgnbd               # or pareto_nbd
///   horizon_days: 90           # customer_value.expected_purchases covers this many days
///   clv_months: 12
///   monthly_discount: 0.01
///   margin: 0.35               # share of revenue that is profit
///   support_cost_per_minute: 1.2
///   inactive_after_days: 60    # retention_curve: no purchase for this long = churned
///   projection_periods: 12     # retention_projection: months projected by the sBG model
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueFile {
    /// The purchase model: bgnbd (default) or pareto_nbd.
    #[serde(default)]
    pub model: Option<Spanned<PurchaseModelKind>>,
    /// Days after the run date that `expected_purchases` covers (default 90).
    #[serde(default)]
    pub horizon_days: Option<Spanned<u32>>,
    /// Months of CLV (default 12; a month is 30 days, as `lifetimes` counts for daily data).
    #[serde(default)]
    pub clv_months: Option<Spanned<u32>>,
    /// Monthly discount rate of CLV (default 0.01).
    #[serde(default)]
    pub monthly_discount: Option<Spanned<f64>>,
    /// Share of revenue that is profit (default 1.0: CLV in revenue).
    #[serde(default)]
    pub margin: Option<Spanned<f64>>,
    /// Cost of one minute of agent time, for cost to serve (default 1.0).
    #[serde(default)]
    pub support_cost_per_minute: Option<Spanned<f64>>,
    /// A customer with no purchase for this many days is counted as churned in
    /// `retention_curve` (default 60).
    #[serde(default)]
    pub inactive_after_days: Option<Spanned<u32>>,
    /// Monthly periods `retention_projection` projects (default 12).
    #[serde(default)]
    pub projection_periods: Option<Spanned<u32>>,
}

/// Purchase models for customer value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PurchaseModelKind {
    /// BG/NBD (Fader, Hardie & Lee 2005).
    #[default]
    Bgnbd,
    /// Pareto/NBD (Schmittlein, Morrison & Colombo 1987).
    ParetoNbd,
}

impl PurchaseModelKind {
    /// The name as written in YAML and in the output tables.
    pub fn name(self) -> &'static str {
        match self {
            PurchaseModelKind::Bgnbd => "bgnbd",
            PurchaseModelKind::ParetoNbd => "pareto_nbd",
        }
    }
}

/// Validated value-model settings (defaults filled in).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ValueSettings {
    /// Purchase model.
    pub model: PurchaseModelKind,
    /// Expected-purchases horizon in days.
    pub horizon_days: u32,
    /// CLV horizon in months.
    pub clv_months: u32,
    /// Monthly discount rate.
    pub monthly_discount: f64,
    /// Profit margin.
    pub margin: f64,
    /// Cost of an agent minute.
    pub support_cost_per_minute: f64,
    /// Days without purchase after which a customer counts as churned.
    pub inactive_after_days: u32,
    /// Monthly periods projected.
    pub projection_periods: u32,
}

impl Default for ValueSettings {
    fn default() -> Self {
        ValueSettings {
            model: PurchaseModelKind::Bgnbd,
            horizon_days: 90,
            clv_months: 12,
            monthly_discount: 0.01,
            margin: 1.0,
            support_cost_per_minute: 1.0,
            inactive_after_days: 60,
            projection_periods: 12,
        }
    }
}

fn validate_value(
    file: &str,
    raw: Option<&ValueFile>,
    problems: &mut Vec<Diagnostic>,
) -> ValueSettings {
    let mut settings = ValueSettings::default();
    let Some(raw) = raw else {
        return settings;
    };
    let mut int = |v: &Option<Spanned<u32>>, name: &str, min: u32, max: u32, target: &mut u32| {
        if let Some(v) = v {
            if (min..=max).contains(&v.value) {
                *target = v.value;
            } else {
                problems.push(
                    Diagnostic::new(
                        ErrorCode::InvalidValue,
                        format!("value.{name} is {}", v.value),
                    )
                    .at(Span::of(file, v))
                    .with_help(format!("use a whole number from {min} to {max}")),
                );
            }
        }
    };
    int(
        &raw.horizon_days,
        "horizon_days",
        1,
        3650,
        &mut settings.horizon_days,
    );
    int(
        &raw.clv_months,
        "clv_months",
        1,
        600,
        &mut settings.clv_months,
    );
    int(
        &raw.inactive_after_days,
        "inactive_after_days",
        1,
        3650,
        &mut settings.inactive_after_days,
    );
    int(
        &raw.projection_periods,
        "projection_periods",
        1,
        600,
        &mut settings.projection_periods,
    );
    let mut real = |v: &Option<Spanned<f64>>,
                    name: &str,
                    ok: fn(f64) -> bool,
                    help: &str,
                    target: &mut f64| {
        if let Some(v) = v {
            if v.value.is_finite() && ok(v.value) {
                *target = v.value;
            } else {
                problems.push(
                    Diagnostic::new(
                        ErrorCode::InvalidValue,
                        format!("value.{name} is {}", v.value),
                    )
                    .at(Span::of(file, v))
                    .with_help(help.to_string()),
                );
            }
        }
    };
    real(
        &raw.monthly_discount,
        "monthly_discount",
        |d| (0.0..1.0).contains(&d),
        "use a rate from 0 to 1, e.g. 0.01 for 1% a month",
        &mut settings.monthly_discount,
    );
    real(
        &raw.margin,
        "margin",
        |m| m > 0.0 && m <= 1.0,
        "use a share of revenue above 0 and at most 1, e.g. 0.35",
        &mut settings.margin,
    );
    real(
        &raw.support_cost_per_minute,
        "support_cost_per_minute",
        |c| c >= 0.0,
        "use a cost of 0 or more",
        &mut settings.support_cost_per_minute,
    );
    if let Some(m) = &raw.model {
        settings.model = m.value;
    }
    settings
}

/// The engine that runs the SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    /// One DataFusion session on this machine.
    #[default]
    Local,
}

/// One source in a pipeline file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceFile {
    /// Unique name of the source; rejects go to `rejects/<name>`.
    pub name: Spanned<String>,
    /// The export format: salesforce_csv, asterisk_cdr, asterisk_queue_log,
    /// amazon_connect_ctr, livechat, survey_csv, segment_events.
    #[serde(rename = "type")]
    pub format: Spanned<SourceFormat>,
    /// A file, a directory (every file below it) or a glob (`raw/web/*.ndjson`, `**` allowed),
    /// as a path or object-store URL. `.gz` and `.zst` files are decompressed.
    pub path: Spanned<String>,
    /// IANA time zone of local timestamps in the export (Asterisk CDR); default `UTC`.
    #[serde(default)]
    pub timezone: Option<Spanned<String>>,
    /// Salesforce object of every file of this source (Account, Contact, Case, Opportunity,
    /// Order); by default taken from each file's name.
    #[serde(default)]
    pub object: Option<Spanned<String>>,
    /// What the source is.
    #[serde(default)]
    pub description: Option<String>,
}

/// A validated pipeline with every location resolved.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// The pipeline file as the user named it.
    pub file: String,
    /// The pipeline's name.
    pub name: String,
    /// Warehouse root URL (ends with `/`).
    pub warehouse: Url,
    /// The engine.
    pub engine: Engine,
    /// Directory of SQL models.
    pub models_dir: PathBuf,
    /// Directory of metric files.
    pub metrics_dir: PathBuf,
    /// Engine memory limit in bytes.
    pub memory_limit_bytes: u64,
    /// The sources, in file order.
    pub sources: Vec<Source>,
    /// Value-model settings.
    pub value: ValueSettings,
}

/// A validated source.
#[derive(Debug, Clone)]
pub struct Source {
    /// Unique name.
    pub name: String,
    /// Export format.
    pub format: SourceFormat,
    /// File, directory or glob URL.
    pub location: Url,
    /// The path as the user wrote it (after `${VAR}` substitution), for messages.
    pub location_text: String,
    /// Where `path:` is in the pipeline file.
    pub path_span: Span,
    /// Time zone of local timestamps.
    pub timezone: chrono_tz::Tz,
    /// Salesforce object override.
    pub object: Option<String>,
}

/// Reads, interpolates and validates a pipeline file. Relative paths in it resolve against
/// `base_dir` (the current directory for the CLI).
pub fn load_pipeline(file: &Path, base_dir: &Path) -> Result<Pipeline, Diagnostics> {
    let file_name = file.to_string_lossy().into_owned();
    let text = read(file, &file_name)?;
    let text = env::interpolate(&file_name, &text, &env::process_env)?;
    let raw: PipelineFile = yaml::parse(&file_name, &text)?;
    validate_pipeline(&file_name, raw, base_dir)
}

/// Validates a parsed pipeline file (see [`load_pipeline`]).
pub fn validate_pipeline(
    file: &str,
    raw: PipelineFile,
    base_dir: &Path,
) -> Result<Pipeline, Diagnostics> {
    let mut problems = Vec::new();
    check_name(file, &raw.name, "pipeline", &mut problems);

    let warehouse = match store::resolve_url(&raw.warehouse.value, base_dir) {
        Ok(url) => Some(url),
        Err(e) => {
            problems.push(
                Diagnostic::new(ErrorCode::InvalidLocation, e.to_string())
                    .at(Span::of(file, &raw.warehouse))
                    .with_help("write a directory path or a URL such as s3://bucket/warehouse"),
            );
            None
        }
    };
    if raw.sources.is_empty() {
        problems.push(
            Diagnostic::new(ErrorCode::MissingKey, "the pipeline has no sources")
                .at(Span::of(file, &raw.name))
                .with_help("add at least one entry under 'sources:'"),
        );
    }

    let mut seen: HashMap<String, Span> = HashMap::new();
    let mut sources = Vec::new();
    for s in &raw.sources {
        let span = Span::of(file, &s.name);
        check_name(file, &s.name, "source", &mut problems);
        if let Some(first) = seen.get(&s.name.value) {
            problems.push(
                Diagnostic::new(
                    ErrorCode::DuplicateName,
                    format!(
                        "source '{}' is defined twice (first at {first})",
                        s.name.value
                    ),
                )
                .at(span.clone())
                .with_help("give each source its own name"),
            );
        } else {
            seen.insert(s.name.value.clone(), span.clone());
        }
        let timezone = match &s.timezone {
            None => Some(chrono_tz::UTC),
            Some(tz) => match tz.value.parse::<chrono_tz::Tz>() {
                Ok(tz) => Some(tz),
                Err(_) => {
                    let names = chrono_tz::TZ_VARIANTS.iter().map(|t| t.name());
                    problems.push(
                        Diagnostic::new(
                            ErrorCode::InvalidTimeZone,
                            format!("unknown time zone '{}'", tz.value),
                        )
                        .at(Span::of(file, tz))
                        .suggest(&tz.value, names),
                    );
                    None
                }
            },
        };
        if let Some(object) = &s.object {
            const OBJECTS: [&str; 5] = ["Account", "Contact", "Case", "Opportunity", "Order"];
            if s.format.value != SourceFormat::SalesforceCsv {
                problems.push(
                    Diagnostic::new(
                        ErrorCode::InvalidValue,
                        format!(
                            "'object' applies only to salesforce_csv sources, not {}",
                            s.format.value
                        ),
                    )
                    .at(Span::of(file, object))
                    .with_help("remove 'object:'"),
                );
            } else if !OBJECTS.contains(&object.value.as_str()) {
                problems.push(
                    Diagnostic::new(
                        ErrorCode::UnknownVariant,
                        format!(
                            "unknown Salesforce object '{}'; expected one of {}",
                            object.value,
                            OBJECTS.join(", ")
                        ),
                    )
                    .at(Span::of(file, object))
                    .suggest(&object.value, OBJECTS),
                );
            }
        }
        let location = match store::resolve_location(&s.path.value, base_dir) {
            Ok(url) => Some(url),
            Err(e) => {
                problems.push(
                    Diagnostic::new(ErrorCode::InvalidLocation, e.to_string())
                        .at(Span::of(file, &s.path))
                        .with_help("write a file, directory or glob path, or an object-store URL"),
                );
                None
            }
        };
        if let (Some(location), Some(timezone)) = (location, timezone) {
            sources.push(Source {
                name: s.name.value.clone(),
                format: s.format.value,
                location,
                location_text: s.path.value.clone(),
                path_span: Span::of(file, &s.path),
                timezone,
                object: s.object.as_ref().map(|o| o.value.clone()),
            });
        }
    }

    let value = validate_value(file, raw.value.as_ref(), &mut problems);
    let memory_limit_mb = raw.memory_limit_mb.as_ref().map_or(4096, |m| m.value);
    if let Some(m) = &raw.memory_limit_mb
        && m.value < 64
    {
        problems.push(
            Diagnostic::new(
                ErrorCode::InvalidValue,
                format!("memory_limit_mb {} is too small", m.value),
            )
            .at(Span::of(file, m))
            .with_help("use at least 64"),
        );
    }
    Diagnostics::check(problems)?;
    let resolve_dir = |value: Option<&Spanned<String>>, default: &str| {
        let text = value.map_or(default, |v| v.value.as_str());
        let path = Path::new(text);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            base_dir.join(path)
        }
    };
    Ok(Pipeline {
        file: file.to_string(),
        name: raw.name.value.clone(),
        warehouse: warehouse.ok_or_else(|| Diagnostics(Vec::new()))?,
        engine: raw.engine.as_ref().map(|e| e.value).unwrap_or_default(),
        models_dir: resolve_dir(raw.models.as_ref(), "sql"),
        metrics_dir: resolve_dir(raw.metrics.as_ref(), "pipelines/metrics"),
        memory_limit_bytes: memory_limit_mb.saturating_mul(1024 * 1024),
        sources,
        value,
    })
}

fn check_name(file: &str, name: &Spanned<String>, what: &str, problems: &mut Vec<Diagnostic>) {
    let ok = !name.value.is_empty()
        && name
            .value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && name.value.starts_with(|c: char| c.is_ascii_alphabetic());
    if !ok {
        problems.push(
            Diagnostic::new(
                ErrorCode::InvalidValue,
                format!("{what} name '{}' is not a valid name", name.value),
            )
            .at(Span::of(file, name))
            .with_help("start with a letter; use letters, digits, '_' and '-'"),
        );
    }
}

fn read(path: &Path, file_name: &str) -> Result<String, Diagnostic> {
    std::fs::read_to_string(path).map_err(|e| {
        Diagnostic::new(
            ErrorCode::Unreadable,
            format!("cannot read {file_name}: {e}"),
        )
        .at(Span::new(file_name, 1, 1))
        .with_help("check the path; run from the project directory or give an absolute path")
    })
}

// ---------------------------------------------------------------------------------------------
// Metrics

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

    fn parse_pipeline(text: &str) -> Result<Pipeline, Diagnostics> {
        let raw: PipelineFile = yaml::parse("p.yaml", text)?;
        validate_pipeline("p.yaml", raw, Path::new("/proj"))
    }

    #[test]
    fn a_good_pipeline_resolves_locations() {
        let p = parse_pipeline(
            "name: cs\nwarehouse: wh\nsources:\n  - name: cdr\n    type: asterisk_cdr\n    path: raw/Master.csv\n    timezone: America/Chicago\n",
        )
        .unwrap();
        assert_eq!(p.warehouse.as_str(), "file:///proj/wh/");
        assert_eq!(
            p.sources[0].location.as_str(),
            "file:///proj/raw/Master.csv"
        );
        assert_eq!(p.sources[0].timezone, chrono_tz::America::Chicago);
        assert_eq!(p.sources[0].path_span, Span::new("p.yaml", 6, 11));
        assert_eq!(p.models_dir, Path::new("/proj/sql"));
    }

    #[test]
    fn every_problem_is_reported_at_its_place() {
        let err = parse_pipeline(
            "name: cs\nwarehouse: wh\nsources:\n  - name: a\n    type: livechat\n    path: x\n    timezone: Europe/Pariss\n  - name: a\n    type: survey_csv\n    path: y\n    object: Order\n",
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("p.yaml:7:15: error[E1010]: unknown time zone 'Europe/Pariss'"),
            "{text}"
        );
        assert!(
            text.contains("help: did you mean 'Europe/Paris'?"),
            "{text}"
        );
        assert!(
            text.contains("p.yaml:8:11: error[E1007]: source 'a' is defined twice"),
            "{text}"
        );
        assert!(
            text.contains("p.yaml:11:13: error[E1004]: 'object' applies only to salesforce_csv"),
            "{text}"
        );
    }

    #[test]
    fn value_settings_default_and_validate() {
        let base =
            "name: cs\nwarehouse: wh\nsources:\n  - name: a\n    type: livechat\n    path: x\n";
        assert_eq!(
            parse_pipeline(base).unwrap().value,
            ValueSettings::default()
        );
        let p = parse_pipeline(&format!(
            "{base}value:\n  model: pareto_nbd\n  margin: 0.35\n"
        ))
        .unwrap();
        assert_eq!(p.value.model, PurchaseModelKind::ParetoNbd);
        assert_eq!(p.value.margin, 0.35);
        let err =
            parse_pipeline(&format!("{base}value:\n  margin: 1.5\n  clv_months: 0\n")).unwrap_err();
        assert_eq!(
            err.codes(),
            [ErrorCode::InvalidValue, ErrorCode::InvalidValue]
        );
        assert!(
            err.to_string()
                .contains("p.yaml:8:11: error[E1004]: value.margin is 1.5"),
            "{err}"
        );
    }

    #[test]
    fn a_typo_in_a_format_is_located() {
        let err = parse_pipeline(
            "name: cs\nwarehouse: wh\nsources:\n  - name: a\n    type: livechatt\n    path: x\n",
        )
        .unwrap_err();
        assert_eq!(err.codes(), vec![ErrorCode::UnknownVariant]);
        assert_eq!(err.0[0].help.as_deref(), Some("did you mean 'livechat'?"));
    }

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
