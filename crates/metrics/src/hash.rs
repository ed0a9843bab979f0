//! Definition hashes and version checks.
//!
//! A metric's *resolved definition* is everything that decides its numbers: type, source,
//! time column, grain and week start, filters (its own, and a group overlay's group and extra
//! filter), aggregates, expressions, window, conversion, factors, distribution, dimensions,
//! scale and null handling — and, for metrics over metrics, the name and version of each
//! metric read. Labels, descriptions, owners, units and targets are not part of it. The hash
//! is FNV-1a (64 bit) of that text, as 16 hex digits.
//!
//! Runs record `(metric, group, version, hash, definition)` in `marts/metric_definitions`;
//! [`check_versions`] refuses a library in which a recorded version now has another hash.

use std::sync::{Arc, LazyLock};

use arrow::array::{ArrayRef, Int32Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use touchstone_core::config::{Measure, Metric, MetricLibrary, Offset};
use touchstone_core::diagnostic::{Diagnostic, ErrorCode};

/// The canonical text of `metric`'s resolved definition (one `key: value` per line).
pub fn definition_text(metric: &Metric, library: &MetricLibrary) -> String {
    let d = &metric.def;
    let mut out = String::new();
    let mut line = |key: &str, value: &str| {
        out.push_str(key);
        out.push_str(": ");
        out.push_str(value);
        out.push('\n');
    };
    line("type", d.kind.value.name());
    if let Some(s) = &d.source {
        line("source", &s.value);
    }
    if let Some(t) = &d.time {
        line("time", &t.value);
    }
    line("grain", metric.grain().name());
    if let Some(w) = d.week_start {
        line("week_start", &format!("{}", w.days_from_monday()));
    }
    if let Some(f) = &d.filter {
        line("filter", &f.value);
    }
    if let Some(o) = &metric.overlay {
        line("group", &o.group.name.value);
        line("group_filter", &o.group.filter.value);
        if let Some(f) = &o.def.filter {
            line("overlay_filter", &f.value);
        }
    }
    let measure = |m: &Measure| {
        format!(
            "{}({}){}{}",
            m.agg.value.name(),
            m.expr.as_ref().map_or("*", |e| e.value.as_str()),
            m.filter
                .as_ref()
                .map_or(String::new(), |f| format!(" where {}", f.value)),
            m.percentile.map_or(String::new(), |p| format!(" at {p}"))
        )
    };
    for (key, m) in [
        ("measure", &d.measure),
        ("numerator", &d.numerator),
        ("denominator", &d.denominator),
    ] {
        if let Some(m) = m {
            line(key, &measure(m));
        }
    }
    if let Some(e) = &d.expr {
        line("expr", &e.value);
    }
    let version_of = |name: &str| library.get(name).map_or(0, |m| m.def.version);
    for i in &d.inputs {
        let offset = match i.offset {
            Offset::None => "same",
            Offset::PreviousPeriod => "previous_period",
            Offset::SamePeriodLastYear => "same_period_last_year",
        };
        line(
            "input",
            &format!(
                "{} = {}@{} {offset}",
                i.name.value,
                i.metric.value,
                version_of(&i.metric.value)
            ),
        );
    }
    if d.expr.is_some() {
        // Metrics named directly in the expression.
        let names: Vec<&str> = library
            .metrics
            .iter()
            .filter(|m| m.overlay.is_none())
            .map(|m| m.name())
            .collect();
        let aliases: Vec<&str> = d.inputs.iter().map(|i| i.name.value.as_str()).collect();
        for dep in touchstone_core::config::depends_on(metric, &names) {
            if !aliases.contains(&dep) {
                line("reads", &format!("{dep}@{}", version_of(dep)));
            }
        }
    }
    if let Some(w) = &d.window_days {
        line("window_days", &w.value.to_string());
    }
    if let Some(c) = &d.conversion {
        line(
            "conversion",
            &format!(
                "{} from {} to {} within {} days",
                c.entity.value, c.from.value, c.to.value, c.window_days
            ),
        );
    }
    for f in &d.factors {
        line(
            "factor",
            &format!(
                "{}@{} weight {} over {}..{}",
                f.metric.value,
                version_of(&f.metric.value),
                f.weight,
                f.min,
                f.max
            ),
        );
    }
    if let Some(x) = &d.distribution {
        line(
            "distribution",
            &format!(
                "{} positive {} negative {}",
                x.expr.value,
                x.positive.value,
                x.negative.as_ref().map_or("-", |n| n.value.as_str())
            ),
        );
    }
    for dim in &d.dimensions {
        line("dimension", &dim.value);
    }
    line("scale", &format!("{}", d.scale));
    line(
        "null_handling",
        &format!("{:?}", d.null_handling).to_lowercase(),
    );
    if let Some(ci) = &d.ci {
        line("ci", &format!("{:?}", ci.value).to_lowercase());
    }
    out
}

/// FNV-1a (64 bit) of `text`, as 16 lowercase hex digits.
pub fn definition_hash(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The hash of every metric of the library, in `library.metrics` order.
pub fn definition_hashes(library: &MetricLibrary) -> Vec<String> {
    library
        .metrics
        .iter()
        .map(|m| definition_hash(&definition_text(m, library)))
        .collect()
}

/// Schema of `metric_definitions`: every (metric, group, version) ever computed, with the
/// hash and text of its resolved definition.
pub fn metric_definitions_schema() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        Arc::new(Schema::new(vec![
            Field::new("metric", DataType::Utf8, false),
            Field::new("group", DataType::Utf8, false),
            Field::new("version", DataType::Int32, false),
            Field::new("definition_hash", DataType::Utf8, false),
            Field::new("definition", DataType::Utf8, false),
        ]))
    });
    Arc::clone(&SCHEMA)
}

/// The library's rows of `metric_definitions`.
pub fn metric_definitions_batch(
    library: &MetricLibrary,
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let texts: Vec<String> = library
        .metrics
        .iter()
        .map(|m| definition_text(m, library))
        .collect();
    let metrics: Vec<&str> = library.metrics.iter().map(|m| m.name()).collect();
    let groups: Vec<&str> = library.metrics.iter().map(|m| m.group.as_str()).collect();
    let versions: Vec<i32> = library
        .metrics
        .iter()
        .map(|m| i32::try_from(m.def.version).unwrap_or(i32::MAX))
        .collect();
    let hashes: Vec<String> = texts.iter().map(|t| definition_hash(t)).collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(metrics)),
        Arc::new(StringArray::from(groups)),
        Arc::new(Int32Array::from(versions)),
        Arc::new(StringArray::from(hashes)),
        Arc::new(StringArray::from(texts)),
    ];
    RecordBatch::try_new(metric_definitions_schema(), columns)
}

/// A recorded definition: (metric, group, version, hash, definition text).
pub type Recorded = (String, String, i32, String, String);

/// Definitions that changed while their version did not, against what earlier runs recorded.
pub fn check_versions(library: &MetricLibrary, recorded: &[Recorded]) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    for m in &library.metrics {
        let version = i32::try_from(m.def.version).unwrap_or(i32::MAX);
        let text = definition_text(m, library);
        let hash = definition_hash(&text);
        let Some((_, _, _, old_hash, old_text)) = recorded
            .iter()
            .find(|r| r.0 == m.name() && r.1 == m.group && r.2 == version)
        else {
            continue;
        };
        if *old_hash == hash {
            continue;
        }
        let highest = recorded
            .iter()
            .filter(|r| r.0 == m.name() && r.1 == m.group)
            .map(|r| r.2)
            .max()
            .unwrap_or(version);
        let changed: Vec<&str> = text
            .lines()
            .filter(|l| !old_text.lines().any(|o| o == *l))
            .collect();
        problems.push(
            Diagnostic::new(
                ErrorCode::ChangedDefinition,
                format!(
                    "metric '{}' (group '{}') changed but is still version {version}, which the warehouse recorded with hash {old_hash} (now {hash}; changed: {})",
                    m.name(),
                    m.group,
                    if changed.is_empty() {
                        "lines removed".to_string()
                    } else {
                        changed.join("; ")
                    }
                ),
            )
            .at(m.span(&m.def.name))
            .with_help(format!(
                "set 'version: {}' (values under version {version} are kept as history), or restore the definition",
                highest + 1
            )),
        );
    }
    problems
}
