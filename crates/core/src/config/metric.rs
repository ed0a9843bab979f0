//! Metric definition files and their shape checks.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
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
///     direction: lower
/// ```
///
/// Besides `metrics:`, a file may declare business `groups:`, group `overlays:`, the
/// `north_star:` metric, per-team `focus:` metrics and `baselines:` (changes to compare before
/// and after); each is documented on its type.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricFile {
    /// The business group that owns these definitions (default: the file's stem).
    #[serde(default)]
    pub group: Option<Spanned<String>>,
    /// The definitions.
    #[serde(default)]
    pub metrics: Vec<MetricDef>,
    /// Business groups (retail, enterprise...): a name and the filter that selects their rows.
    #[serde(default)]
    pub groups: Vec<GroupDef>,
    /// Explicit per-group variants of shared metrics (own target, extra filter).
    #[serde(default)]
    pub overlays: Vec<OverlayDef>,
    /// The one metric the whole business steers by (at most one across all files).
    #[serde(default)]
    pub north_star: Option<Spanned<String>>,
    /// Metrics a team focuses on until a date; `touchstone validate` warns once expired.
    #[serde(default)]
    pub focus: Vec<FocusDef>,
    /// Changes to compare before and after (written to `metric_comparisons`).
    #[serde(default)]
    pub baselines: Vec<BaselineDef>,
}

/// A business group: `{ name: retail, filter: "segment = 'retail'" }`. The filter is applied,
/// on top of the metric's own, to every metric overlaid for the group.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupDef {
    /// Group name, shown in `metric_values.group`.
    pub name: Spanned<String>,
    /// What the group is.
    #[serde(default)]
    pub description: Option<String>,
    /// A SQL boolean expression selecting the group's rows (checked against each overlaid
    /// metric's source).
    pub filter: Spanned<String>,
}

/// A group's explicit variant of a shared metric: `{ metric: csat_pct, group: retail, target:
/// { value: 90 } }`. Its rows carry the group's name in `metric_values.group`; the shared
/// definition is unchanged. Two overlays of one metric for one group are an error.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverlayDef {
    /// The shared metric.
    pub metric: Spanned<String>,
    /// The group (declared under `groups:`).
    pub group: Spanned<String>,
    /// The group's own target (default: the metric's).
    #[serde(default)]
    pub target: Option<Target>,
    /// An extra filter on top of the metric's and the group's.
    #[serde(default)]
    pub filter: Option<Spanned<String>>,
}

/// A team's focus metrics with an expiry date (`expires: 2026-12-31`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FocusDef {
    /// The team.
    pub team: String,
    /// The metrics it focuses on.
    pub metrics: Vec<Spanned<String>>,
    /// The last day of the focus, `YYYY-MM-DD`.
    pub expires: Spanned<String>,
}

/// A change to compare before and after:
///
/// ```yaml
/// baselines:
///   - name: ivr_menu_redesign
///     description: New main menu, deployed 2026-09-15.
///     before: 2026-08-16..2026-09-14
///     after: 2026-09-15..2026-10-14
///     metrics: [ivr_error_rate]
/// ```
///
/// Each metric is compared with the test that fits its shape (two-proportion z-test for a
/// count/count ratio, Welch's t for a mean, a permutation test otherwise), at `alpha`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineDef {
    /// Name, snake_case, shown in `metric_comparisons.baseline`.
    pub name: Spanned<String>,
    /// What changed.
    #[serde(default)]
    pub description: Option<String>,
    /// The before window, `FROM..TO` (dates, both inclusive).
    pub before: Spanned<String>,
    /// The after window, `FROM..TO`.
    pub after: Spanned<String>,
    /// The metrics to compare.
    pub metrics: Vec<Spanned<String>>,
    /// Significance level (default 0.05).
    #[serde(default)]
    pub alpha: Option<f64>,
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
    /// Definition version; bump it when the formula changes. The run stores it, with a hash
    /// of the resolved definition, in `metric_values` and `metric_definitions`; a changed
    /// definition under a version already recorded is refused.
    #[serde(default = "one")]
    pub version: u32,
    /// The table or model the metric reads (not for `derived` and `index`).
    #[serde(default)]
    pub source: Option<Spanned<String>>,
    /// The timestamp or date column that places a row in a period (not for `derived` and
    /// `index`).
    #[serde(default)]
    pub time: Option<Spanned<String>>,
    /// Period length: day (default), week (ISO, starting `week_start`), month or quarter.
    #[serde(default)]
    pub grain: Option<Spanned<Grain>>,
    /// The first day of a `week` period (default monday, ISO 8601).
    #[serde(default)]
    pub week_start: Option<Weekday>,
    /// simple, ratio, derived, cumulative, conversion, index or distribution.
    #[serde(rename = "type")]
    pub kind: Spanned<MetricKind>,
    /// A SQL boolean expression on the source's columns applied before aggregating.
    #[serde(default)]
    pub filter: Option<Spanned<String>>,
    /// The aggregate of a simple (or cumulative) metric.
    #[serde(default)]
    pub measure: Option<Measure>,
    /// The numerator aggregate of a ratio (or cumulative ratio) metric.
    #[serde(default)]
    pub numerator: Option<Measure>,
    /// The denominator aggregate of a ratio (or cumulative ratio) metric.
    #[serde(default)]
    pub denominator: Option<Measure>,
    /// `derived`: a SQL expression over other metrics' values (by name, or by the names in
    /// `inputs`), e.g. `"solved_volume / inbound_volume * 100"`.
    #[serde(default)]
    pub expr: Option<Spanned<String>>,
    /// `derived`: named inputs with a period offset (`previous_period`,
    /// `same_period_last_year`).
    #[serde(default)]
    pub inputs: Vec<InputDef>,
    /// `cumulative`: the trailing window in days (periods starting within it are summed);
    /// without it the metric is a running total from the first period.
    #[serde(default)]
    pub window_days: Option<Spanned<u32>>,
    /// `conversion`: entities with a `from` event followed by a `to` event.
    #[serde(default)]
    pub conversion: Option<ConversionDef>,
    /// `index`: weighted factors, each a metric normalised to 0..1 over `min..max`.
    #[serde(default)]
    pub factors: Vec<FactorDef>,
    /// `distribution`: the share of positive minus the share of negative answers.
    #[serde(default)]
    pub distribution: Option<DistributionDef>,
    /// Columns to break the metric down by; a total row (no dimensions) is always written too.
    #[serde(default)]
    pub dimensions: Vec<Spanned<String>>,
    /// Multiplier applied to the value (100 for percentages).
    #[serde(default = "one_f64")]
    pub scale: f64,
    /// Unit of the value: percent, count, seconds, score...
    #[serde(default)]
    pub unit: Option<String>,
    /// Whether higher or lower values are better (the default for `target.direction`).
    #[serde(default)]
    pub direction: Option<Direction>,
    /// What a NULL measured value means: `skip` (default; the row is not counted) or `zero`.
    #[serde(default)]
    pub null_handling: NullHandling,
    /// The confidence interval to report; by default wilson for count/count ratios, normal for
    /// averages and for ratios of a sum to a count, none otherwise.
    #[serde(default)]
    pub ci: Option<Spanned<CiMethod>>,
    /// A target the business holds the metric to.
    #[serde(default)]
    pub target: Option<Target>,
}

/// A named input of a derived metric.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputDef {
    /// The name the expression uses.
    pub name: Spanned<String>,
    /// The metric it reads.
    pub metric: Spanned<String>,
    /// Which period's value: the same (default), the previous one, or the same period a year
    /// before.
    #[serde(default)]
    pub offset: Offset,
}

/// Period offsets of a derived metric's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Offset {
    /// The same period.
    #[default]
    None,
    /// The period before.
    PreviousPeriod,
    /// The same period one year before.
    SamePeriodLastYear,
}

/// A conversion: the share of `entity` values with a `from` event followed by a `to` event
/// within `window_days`, placed in the period of the `from` event.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversionDef {
    /// The column that identifies who converts (e.g. `customer_key`).
    pub entity: Spanned<String>,
    /// A SQL boolean expression selecting the first event.
    pub from: Spanned<String>,
    /// A SQL boolean expression selecting the second event.
    pub to: Spanned<String>,
    /// How long after the first event the second still counts.
    pub window_days: u32,
}

/// A factor of an index metric.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactorDef {
    /// The metric.
    pub metric: Spanned<String>,
    /// Its weight (weights are normalised to sum to 1).
    pub weight: f64,
    /// The value that normalises to 0 (1 when the factor's direction is lower).
    pub min: f64,
    /// The value that normalises to 1 (0 when the factor's direction is lower).
    pub max: f64,
}

/// NPS-style shares over answers: `value = scale × (positive − negative) / answers`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistributionDef {
    /// The answer (rows where it is NULL are not answers).
    pub expr: Spanned<String>,
    /// A SQL boolean expression for a positive answer (promoter, top-two-box).
    pub positive: Spanned<String>,
    /// A SQL boolean expression for a negative answer (detractor); none for top-box shares.
    #[serde(default)]
    pub negative: Option<Spanned<String>>,
}

/// What a NULL measured value means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NullHandling {
    /// The row is left out of the aggregate.
    #[default]
    Skip,
    /// The value counts as 0.
    Zero,
}

/// Days of the week (a week grain's first day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Weekday {
    /// ISO 8601.
    #[default]
    Monday,
    /// Tuesday.
    Tuesday,
    /// Wednesday.
    Wednesday,
    /// Thursday.
    Thursday,
    /// Friday.
    Friday,
    /// Saturday.
    Saturday,
    /// Sunday (US convention).
    Sunday,
}

impl Weekday {
    /// Days after Monday.
    pub fn days_from_monday(self) -> i64 {
        match self {
            Weekday::Monday => 0,
            Weekday::Tuesday => 1,
            Weekday::Wednesday => 2,
            Weekday::Thursday => 3,
            Weekday::Friday => 4,
            Weekday::Saturday => 5,
            Weekday::Sunday => 6,
        }
    }
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
    /// For `agg: percentile`: the fraction, 0..1 (0.9 for the 90th percentile).
    #[serde(default)]
    pub percentile: Option<f64>,
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
    /// Approximate percentile (t-digest) at `percentile:`.
    Percentile,
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
            Agg::Percentile => "percentile",
        }
    }

    /// Whether the aggregate of a union is the sum of the aggregates of the parts, so a
    /// ratio of two of them re-aggregates across periods and dimensions.
    pub fn additive(self) -> bool {
        matches!(self, Agg::Sum | Agg::Count)
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
    /// An expression over other metrics' values, with period offsets.
    Derived,
    /// A running total, or a trailing window of `window_days`, of a measure or of a ratio's
    /// numerator and denominator.
    Cumulative,
    /// Share of entities with event A followed by event B within a window.
    Conversion,
    /// Weighted mean of metrics normalised to 0..1, times `scale`.
    Index,
    /// Positive minus negative answers over answers (NPS), or positive only (top-two-box).
    Distribution,
}

impl MetricKind {
    /// The name as written in YAML.
    pub fn name(self) -> &'static str {
        match self {
            MetricKind::Simple => "simple",
            MetricKind::Ratio => "ratio",
            MetricKind::Derived => "derived",
            MetricKind::Cumulative => "cumulative",
            MetricKind::Conversion => "conversion",
            MetricKind::Index => "index",
            MetricKind::Distribution => "distribution",
        }
    }

    /// Whether the metric is computed from other metrics rather than from a source table.
    pub fn over_metrics(self) -> bool {
        matches!(self, MetricKind::Derived | MetricKind::Index)
    }
}

/// Period lengths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Grain {
    /// Calendar day (UTC).
    #[default]
    Day,
    /// Week starting on the metric's `week_start` (Monday, ISO 8601, by default).
    Week,
    /// Calendar month.
    Month,
    /// Calendar quarter.
    Quarter,
}

impl Grain {
    /// The name as written in YAML and in `metric_values.grain`.
    pub fn name(self) -> &'static str {
        match self {
            Grain::Day => "day",
            Grain::Week => "week",
            Grain::Month => "month",
            Grain::Quarter => "quarter",
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
    /// Whether higher or lower values are better (default: the metric's `direction`).
    #[serde(default)]
    pub direction: Option<Direction>,
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

impl Direction {
    /// The name as written in YAML and in `metric_values.target_direction`.
    pub fn name(self) -> &'static str {
        match self {
            Direction::Higher => "higher",
            Direction::Lower => "lower",
        }
    }
}

/// A metric definition with the file and group it came from.
#[derive(Debug, Clone)]
pub struct Metric {
    /// The file it was read from.
    pub file: String,
    /// Business group: the owning file's group, or the overlay's group.
    pub group: String,
    /// The definition (for an overlay: the shared one with the overlay's target).
    pub def: MetricDef,
    /// Set when this is a group's overlay of a shared metric.
    pub overlay: Option<AppliedOverlay>,
}

/// A group overlay applied to a shared metric.
#[derive(Debug, Clone)]
pub struct AppliedOverlay {
    /// The file declaring the overlay.
    pub file: String,
    /// The overlay.
    pub def: OverlayDef,
    /// The file declaring the group.
    pub group_file: String,
    /// The group.
    pub group: GroupDef,
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
    /// Which way is better: the metric's `direction`, else its target's.
    pub fn direction(&self) -> Option<Direction> {
        self.def
            .direction
            .or_else(|| self.def.target.as_ref().and_then(|t| t.direction))
    }
    /// A span for a spanned part of the definition.
    pub fn span<T>(&self, spanned: &Spanned<T>) -> Span {
        Span::of(&self.file, spanned)
    }
}

/// A baseline with the file it came from.
#[derive(Debug, Clone)]
pub struct Baseline {
    /// The file.
    pub file: String,
    /// The definition.
    pub def: BaselineDef,
    /// The before window (inclusive dates).
    pub before: (NaiveDate, NaiveDate),
    /// The after window (inclusive dates).
    pub after: (NaiveDate, NaiveDate),
}

/// Every metric file of a pipeline, checked: metrics (shared definitions first, then group
/// overlays), baselines, the north star and focus metrics.
#[derive(Debug, Clone, Default)]
pub struct MetricLibrary {
    /// Shared definitions, then overlays.
    pub metrics: Vec<Metric>,
    /// Baselines to compare.
    pub baselines: Vec<Baseline>,
    /// The north-star metric.
    pub north_star: Option<String>,
    /// Focus metrics: (file, definition).
    pub focus: Vec<(String, FocusDef)>,
}

impl MetricLibrary {
    /// A library of just these metrics.
    pub fn of(metrics: Vec<Metric>) -> MetricLibrary {
        MetricLibrary {
            metrics,
            ..MetricLibrary::default()
        }
    }

    /// The shared definition of `name` (not an overlay).
    pub fn get(&self, name: &str) -> Option<&Metric> {
        self.metrics
            .iter()
            .find(|m| m.overlay.is_none() && m.name() == name)
    }

    /// Warnings that do not stop a run: expired focus metrics as of `today`.
    pub fn warnings(&self, today: NaiveDate) -> Vec<String> {
        let mut out = Vec::new();
        for (file, focus) in &self.focus {
            if let Ok(expires) = NaiveDate::parse_from_str(&focus.expires.value, "%Y-%m-%d")
                && expires < today
            {
                let span = Span::of(file, &focus.expires);
                let names: Vec<&str> = focus.metrics.iter().map(|m| m.value.as_str()).collect();
                out.push(format!(
                    "{span}: warning: the focus of team '{}' on {} expired on {expires}; renew \
                     'expires:' or remove the entry",
                    focus.team,
                    names.join(", ")
                ));
            }
        }
        out
    }
}

/// Parses `FROM..TO` (inclusive dates, `YYYY-MM-DD`).
pub fn parse_window(text: &str) -> Option<(NaiveDate, NaiveDate)> {
    let (from, to) = text.trim().split_once("..")?;
    let from = NaiveDate::parse_from_str(from.trim(), "%Y-%m-%d").ok()?;
    let to = NaiveDate::parse_from_str(to.trim(), "%Y-%m-%d").ok()?;
    (from <= to).then_some((from, to))
}

/// Reads every `*.yaml` / `*.yml` file in `dir` (sorted by name) and validates the
/// definitions' shape (not their columns: that needs the engine, see the metrics crate).
pub fn load_metrics(dir: &Path) -> Result<MetricLibrary, Diagnostics> {
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
    let mut parsed_files = Vec::new();
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
                parsed_files.push((file, stem, parsed));
            }
        }
    }
    let (library, more) = assemble(parsed_files);
    problems.extend(more);
    Diagnostics::check(problems)?;
    Ok(library)
}

/// Builds a library from parsed files `(file name, stem, contents)`: expands overlays and
/// checks everything that needs no schema. Returns the library and every problem found.
pub fn assemble(files: Vec<(String, String, MetricFile)>) -> (MetricLibrary, Vec<Diagnostic>) {
    let mut library = MetricLibrary::default();
    let mut problems = Vec::new();
    let mut groups: Vec<(String, GroupDef)> = Vec::new();
    let mut overlays: Vec<(String, OverlayDef)> = Vec::new();
    let mut north_star: Option<(String, Spanned<String>)> = None;
    for (file, stem, parsed) in files {
        let group = parsed.group.as_ref().map_or(stem, |g| g.value.clone());
        for def in parsed.metrics {
            library.metrics.push(Metric {
                file: file.clone(),
                group: group.clone(),
                def,
                overlay: None,
            });
        }
        groups.extend(parsed.groups.into_iter().map(|g| (file.clone(), g)));
        overlays.extend(parsed.overlays.into_iter().map(|o| (file.clone(), o)));
        if let Some(star) = parsed.north_star {
            if let Some((first_file, first)) = &north_star {
                problems.push(
                    Diagnostic::new(
                        ErrorCode::DuplicateName,
                        format!(
                            "a second north-star metric '{}' (the first is '{}' at {})",
                            star.value,
                            first.value,
                            Span::of(first_file, first)
                        ),
                    )
                    .at(Span::of(&file, &star))
                    .with_help("keep one 'north_star:'; use 'focus:' for team metrics"),
                );
            } else {
                north_star = Some((file.clone(), star));
            }
        }
        library
            .focus
            .extend(parsed.focus.into_iter().map(|f| (file.clone(), f)));
        for def in parsed.baselines {
            let before = parse_window(&def.before.value);
            let after = parse_window(&def.after.value);
            for (text, parsed) in [(&def.before, before), (&def.after, after)] {
                if parsed.is_none() {
                    problems.push(
                        Diagnostic::new(
                            ErrorCode::InvalidValue,
                            format!("'{}' is not a date window", text.value),
                        )
                        .at(Span::of(&file, text))
                        .with_help("write FROM..TO, e.g. 2026-05-01..2026-05-31"),
                    );
                }
            }
            if let (Some(before), Some(after)) = (before, after) {
                library.baselines.push(Baseline {
                    file: file.clone(),
                    def,
                    before,
                    after,
                });
            }
        }
    }
    problems.extend(check_metrics(&library.metrics));
    let names: Vec<String> = library
        .metrics
        .iter()
        .map(|m| m.name().to_string())
        .collect();
    let known = || names.iter().map(String::as_str);
    let unknown_metric = |file: &str, name: &Spanned<String>, what: &str| {
        Diagnostic::new(
            ErrorCode::UnknownMetric,
            format!("{what} names unknown metric '{}'", name.value),
        )
        .at(Span::of(file, name))
        .suggest(&name.value, known())
    };
    if let Some((file, star)) = &north_star {
        if !names.contains(&star.value) {
            problems.push(unknown_metric(file, star, "north_star"));
        }
        library.north_star = Some(star.value.clone());
    }
    for (file, focus) in &library.focus {
        if NaiveDate::parse_from_str(&focus.expires.value, "%Y-%m-%d").is_err() {
            problems.push(
                Diagnostic::new(
                    ErrorCode::InvalidValue,
                    format!("focus expiry '{}' is not a date", focus.expires.value),
                )
                .at(Span::of(file, &focus.expires))
                .with_help("write YYYY-MM-DD"),
            );
        }
        for m in &focus.metrics {
            if !names.contains(&m.value) {
                problems.push(unknown_metric(file, m, "focus"));
            }
        }
    }
    for b in &library.baselines {
        for m in &b.def.metrics {
            if !names.contains(&m.value) {
                problems.push(unknown_metric(&b.file, m, "baseline"));
            }
        }
    }
    // Groups: unique names.
    let mut group_seen: HashMap<&str, Span> = HashMap::new();
    for (file, g) in &groups {
        let span = Span::of(file, &g.name);
        if let Some(first) = group_seen.get(g.name.value.as_str()) {
            problems.push(
                Diagnostic::new(
                    ErrorCode::DuplicateName,
                    format!(
                        "group '{}' is declared twice (first at {first})",
                        g.name.value
                    ),
                )
                .at(span),
            );
        } else {
            group_seen.insert(&g.name.value, span);
        }
    }
    // Overlays: on a known metric, for a declared group, at most one per (metric, group).
    let mut overlay_seen: HashMap<(String, String), Span> = HashMap::new();
    let mut expanded = Vec::new();
    for (file, o) in overlays {
        let span = Span::of(&file, &o.metric);
        let Some(base) = library.get(&o.metric.value) else {
            problems.push(unknown_metric(&file, &o.metric, "overlay"));
            continue;
        };
        let Some((group_file, group)) = groups.iter().find(|(_, g)| g.name.value == o.group.value)
        else {
            problems.push(
                Diagnostic::new(
                    ErrorCode::UnknownMetric,
                    format!("overlay names undeclared group '{}'", o.group.value),
                )
                .at(Span::of(&file, &o.group))
                .with_help("declare it under 'groups:' with the filter that selects its rows")
                .suggest(
                    &o.group.value,
                    groups.iter().map(|(_, g)| g.name.value.as_str()),
                ),
            );
            continue;
        };
        let key = (o.metric.value.clone(), o.group.value.clone());
        if let Some(first) = overlay_seen.get(&key) {
            problems.push(
                Diagnostic::new(
                    ErrorCode::ConflictingOverlay,
                    format!(
                        "a second overlay of '{}' for group '{}' (the first is at {first})",
                        o.metric.value, o.group.value
                    ),
                )
                .at(span)
                .with_help("merge the two overlays into one"),
            );
            continue;
        }
        if base.def.kind.value.over_metrics() {
            problems.push(
                Diagnostic::new(
                    ErrorCode::InvalidMetric,
                    format!(
                        "'{}' is a {} metric; only metrics that read a source can be overlaid",
                        o.metric.value,
                        base.def.kind.value.name()
                    ),
                )
                .at(span),
            );
            continue;
        }
        overlay_seen.insert(key, span);
        let mut def = base.def.clone();
        if let Some(t) = &o.target {
            def.target = Some(t.clone());
        }
        expanded.push(Metric {
            file: base.file.clone(),
            group: o.group.value.clone(),
            def,
            overlay: Some(AppliedOverlay {
                file: file.clone(),
                def: o.clone(),
                group_file: group_file.clone(),
                group: group.clone(),
            }),
        });
    }
    library.metrics.extend(expanded);
    (library, problems)
}

/// Shape checks that need no schema: names, kinds and their parts, duplicates, references
/// between metrics and cycles among them.
pub fn check_metrics(metrics: &[Metric]) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    let mut seen: HashMap<&str, Span> = HashMap::new();
    let shared: Vec<&Metric> = metrics.iter().filter(|m| m.overlay.is_none()).collect();
    let names: Vec<&str> = shared.iter().map(|m| m.name()).collect();
    for m in &shared {
        let d = &m.def;
        let span = m.span(&d.name);
        let name = &d.name.value;
        let snake = !name.is_empty()
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !snake {
            problems.push(
                Diagnostic::new(
                    ErrorCode::InvalidValue,
                    format!("metric name '{name}' is not snake_case"),
                )
                .at(span.clone())
                .with_help("use lowercase letters, digits and '_', starting with a letter"),
            );
        }
        if let Some(first) = seen.get(name.as_str()) {
            problems.push(
                Diagnostic::new(
                    ErrorCode::DuplicateName,
                    format!("metric '{name}' is defined twice (first at {first})"),
                )
                .at(span.clone())
                .with_help("rename one, or bump 'version:' on a single definition"),
            );
        } else {
            seen.insert(name, span.clone());
        }
        let kind = d.kind.value;
        let kind_span = m.span(&d.kind);
        let mut shape = |ok: bool, message: String, help: &str| {
            if !ok {
                problems.push(
                    Diagnostic::new(ErrorCode::InvalidMetric, message)
                        .at(kind_span.clone())
                        .with_help(help.to_string()),
                );
            }
        };
        let has_measure = d.measure.is_some();
        let has_ratio = d.numerator.is_some() || d.denominator.is_some();
        let both = d.numerator.is_some() && d.denominator.is_some();
        let k = kind.name();
        match kind {
            MetricKind::Simple => {
                shape(
                    has_measure,
                    format!("simple metric '{name}' has no 'measure'"),
                    "add 'measure: { agg: ..., expr: ... }'",
                );
                shape(
                    !has_ratio,
                    format!("simple metric '{name}' has a numerator or denominator"),
                    "use 'type: ratio', or move the aggregate to 'measure:'",
                );
            }
            MetricKind::Ratio => {
                shape(
                    both,
                    format!("ratio metric '{name}' needs both 'numerator' and 'denominator'"),
                    "add the missing one, or use 'type: simple' with 'measure:'",
                );
                shape(
                    !has_measure,
                    format!("ratio metric '{name}' has a 'measure'"),
                    "a ratio uses 'numerator' and 'denominator'",
                );
            }
            MetricKind::Cumulative => {
                shape(
                    (has_measure && !has_ratio) || (both && !has_measure),
                    format!(
                        "cumulative metric '{name}' needs either 'measure' or both 'numerator' and 'denominator'"
                    ),
                    "accumulate one additive measure, or a ratio's numerator and denominator",
                );
            }
            MetricKind::Derived => {
                shape(
                    d.expr.is_some(),
                    format!("derived metric '{name}' has no 'expr'"),
                    "add 'expr:' over other metrics, e.g. \"solved / created\"",
                );
            }
            MetricKind::Conversion => {
                shape(
                    d.conversion.is_some(),
                    format!("conversion metric '{name}' has no 'conversion'"),
                    "add 'conversion: { entity: customer_key, from: ..., to: ..., window_days: 7 }'",
                );
            }
            MetricKind::Index => {
                shape(
                    !d.factors.is_empty(),
                    format!("index metric '{name}' has no 'factors'"),
                    "add 'factors: [{ metric: ..., weight: 1, min: 0, max: 100 }]'",
                );
            }
            MetricKind::Distribution => {
                shape(
                    d.distribution.is_some(),
                    format!("distribution metric '{name}' has no 'distribution'"),
                    "add 'distribution: { expr: score, positive: \"score >= 9\", negative: \"score <= 6\" }'",
                );
            }
        }
        let over_metrics = kind.over_metrics();
        if !matches!(
            kind,
            MetricKind::Simple | MetricKind::Ratio | MetricKind::Cumulative
        ) && (has_measure || has_ratio)
        {
            shape(
                false,
                format!("{k} metric '{name}' has a measure, numerator or denominator"),
                "remove it; only simple, ratio and cumulative metrics aggregate a measure",
            );
        }
        for (present, part, only) in [
            (
                d.expr.is_some() || !d.inputs.is_empty(),
                "expr/inputs",
                MetricKind::Derived,
            ),
            (d.conversion.is_some(), "conversion", MetricKind::Conversion),
            (!d.factors.is_empty(), "factors", MetricKind::Index),
            (
                d.distribution.is_some(),
                "distribution",
                MetricKind::Distribution,
            ),
        ] {
            if present && kind != only {
                shape(
                    false,
                    format!("{k} metric '{name}' has '{part}'"),
                    &format!("'{part}' belongs to 'type: {}'", only.name()),
                );
            }
        }
        if d.window_days.is_some() && kind != MetricKind::Cumulative {
            shape(
                false,
                format!("{k} metric '{name}' has 'window_days'"),
                "'window_days' belongs to 'type: cumulative'",
            );
        }
        if over_metrics {
            if d.source.is_some() || d.time.is_some() || d.filter.is_some() {
                shape(
                    false,
                    format!(
                        "{k} metric '{name}' reads other metrics; it has no source, time or filter"
                    ),
                    "remove 'source', 'time' and 'filter'",
                );
            }
            if !d.dimensions.is_empty() {
                shape(
                    false,
                    format!("{k} metric '{name}' has dimensions"),
                    "a metric over metrics is computed for their totals; remove 'dimensions'",
                );
            }
        } else {
            for (part, present) in [("source", d.source.is_some()), ("time", d.time.is_some())] {
                if !present {
                    problems.push(
                        Diagnostic::new(
                            ErrorCode::MissingKey,
                            format!("{k} metric '{name}' has no '{part}'"),
                        )
                        .at(span.clone())
                        .with_help(format!("add '{part}:'")),
                    );
                }
            }
        }
        if d.week_start.is_some() && m.grain() != Grain::Week {
            problems.push(
                Diagnostic::new(
                    ErrorCode::InvalidMetric,
                    format!("metric '{name}' has 'week_start' but its grain is not week"),
                )
                .at(span.clone())
                .with_help("set 'grain: week', or remove 'week_start'"),
            );
        }
        for measure in [&d.measure, &d.numerator, &d.denominator]
            .into_iter()
            .flatten()
        {
            let agg = measure.agg.value;
            if measure.expr.is_none() && agg != Agg::Count {
                problems.push(
                    Diagnostic::new(
                        ErrorCode::InvalidMetric,
                        format!("'{}' needs an 'expr' to aggregate", agg.name()),
                    )
                    .at(m.span(&measure.agg))
                    .with_help("add 'expr: <column or SQL expression>'"),
                );
            }
            match (agg, measure.percentile) {
                (Agg::Percentile, Some(p)) if (0.0..=1.0).contains(&p) => {}
                (Agg::Percentile, _) => problems.push(
                    Diagnostic::new(
                        ErrorCode::InvalidValue,
                        "'percentile' needs 'percentile:' between 0 and 1",
                    )
                    .at(m.span(&measure.agg))
                    .with_help("e.g. 'percentile: 0.9' for the 90th percentile"),
                ),
                (_, Some(_)) => problems.push(
                    Diagnostic::new(
                        ErrorCode::InvalidMetric,
                        format!("'percentile:' is set on a '{}' aggregate", agg.name()),
                    )
                    .at(m.span(&measure.agg))
                    .with_help("use 'agg: percentile', or remove 'percentile:'"),
                ),
                _ => {}
            }
            let needs_additive = matches!(kind, MetricKind::Ratio | MetricKind::Cumulative)
                && (has_ratio || kind == MetricKind::Cumulative);
            if needs_additive && !agg.additive() {
                problems.push(
                    Diagnostic::new(
                        ErrorCode::NonAdditive,
                        format!(
                            "{k} metric '{name}' aggregates with '{}', which does not add up across periods and dimensions",
                            agg.name()
                        ),
                    )
                    .at(m.span(&measure.agg))
                    .with_help("use 'sum' or 'count' (a mean is a ratio of a sum to a count)"),
                );
            }
        }
        if !d.scale.is_finite() || d.scale == 0.0 {
            problems.push(
                Diagnostic::new(
                    ErrorCode::InvalidValue,
                    format!("metric '{name}' has scale {}", d.scale),
                )
                .at(span.clone())
                .with_help("use a finite, non-zero scale such as 1 or 100"),
            );
        }
        if let Some(t) = &d.target
            && t.direction.is_none()
            && d.direction.is_none()
        {
            problems.push(
                Diagnostic::new(
                    ErrorCode::MissingKey,
                    format!("metric '{name}' has a target but no direction"),
                )
                .at(span.clone())
                .with_help("add 'direction: higher' or 'direction: lower'"),
            );
        }
        // References to other metrics.
        let refs = metric_refs(&d.inputs, &d.factors);
        for r in refs {
            if !names.contains(&r.value.as_str()) {
                problems.push(
                    Diagnostic::new(
                        ErrorCode::UnknownMetric,
                        format!("metric '{name}' reads unknown metric '{}'", r.value),
                    )
                    .at(m.span(r))
                    .suggest(&r.value, names.iter().copied()),
                );
            }
        }
        for f in &d.factors {
            let valid = f.weight.is_finite() && f.weight > 0.0 && f.min < f.max;
            if !valid {
                problems.push(
                    Diagnostic::new(
                        ErrorCode::InvalidValue,
                        format!(
                            "factor '{}' of '{name}' needs a positive weight and min < max",
                            f.metric.value
                        ),
                    )
                    .at(m.span(&f.metric)),
                );
            }
        }
    }
    problems.extend(check_cycles(&shared));
    problems
}

/// The metrics a definition reads through `inputs` and `factors` (a derived metric's
/// expression may also name metrics directly; the metrics crate resolves those).
pub fn metric_refs<'a>(
    inputs: &'a [InputDef],
    factors: &'a [FactorDef],
) -> Vec<&'a Spanned<String>> {
    inputs
        .iter()
        .map(|i| &i.metric)
        .chain(factors.iter().map(|f| &f.metric))
        .collect()
}

/// Metrics over metrics that read themselves, directly or through others. Expression
/// references are found by word: a derived metric's expression names metrics as identifiers.
fn check_cycles(metrics: &[&Metric]) -> Vec<Diagnostic> {
    let names: Vec<&str> = metrics.iter().map(|m| m.name()).collect();
    let edges: HashMap<&str, Vec<&str>> = metrics
        .iter()
        .map(|m| (m.name(), depends_on(m, &names)))
        .collect();
    let mut problems = Vec::new();
    for m in metrics {
        // Depth-first search from m for a path back to m.
        let start = m.name();
        let mut stack: Vec<(&str, Vec<&str>)> = vec![(start, vec![start])];
        let mut visited: Vec<&str> = Vec::new();
        while let Some((at, path)) = stack.pop() {
            for &next in edges.get(at).map(Vec::as_slice).unwrap_or_default() {
                if next == start {
                    let mut cycle = path.clone();
                    cycle.push(start);
                    problems.push(
                        Diagnostic::new(
                            ErrorCode::MetricCycle,
                            format!("metric '{start}' depends on itself: {}", cycle.join(" -> ")),
                        )
                        .at(m.span(&m.def.name))
                        .with_help("break the cycle: a derived metric cannot read itself"),
                    );
                    stack.clear();
                    break;
                }
                if !visited.contains(&next) {
                    visited.push(next);
                    let mut p = path.clone();
                    p.push(next);
                    stack.push((next, p));
                }
            }
        }
    }
    problems
}

/// The metrics `m` reads: inputs, factors and metric names used as words in its expression.
pub fn depends_on<'a>(m: &'a Metric, names: &[&'a str]) -> Vec<&'a str> {
    let d = &m.def;
    let mut out: Vec<&str> = metric_refs(&d.inputs, &d.factors)
        .into_iter()
        .filter_map(|r| names.iter().find(|n| **n == r.value).copied())
        .collect();
    if let Some(expr) = &d.expr {
        let aliases: Vec<&str> = d.inputs.iter().map(|i| i.name.value.as_str()).collect();
        for word in expr
            .value
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty())
        {
            if !aliases.contains(&word)
                && let Some(n) = names.iter().find(|n| **n == word)
                && !out.contains(n)
            {
                out.push(n);
            }
        }
    }
    out
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
                overlay: None,
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
