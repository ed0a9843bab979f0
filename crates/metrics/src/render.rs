//! The metric library as people read it: `touchstone metrics list`, `touchstone metrics
//! explain` and `touchstone compare` print these, and find their metric with [`find`].

use std::fmt;
use std::path::Path;

use touchstone_core::config::{self, Metric, MetricLibrary};
use touchstone_core::diagnostic::{Diagnostics, did_you_mean};

use crate::{Comparison, definition_hash, definition_hashes, definition_text};

/// The metric library of the pipeline file `pipeline` (relative paths under `cwd`).
pub fn library(pipeline: &Path, cwd: &Path) -> Result<MetricLibrary, Diagnostics> {
    let p = config::load_pipeline(pipeline, cwd)?;
    config::load_metrics(&p.metrics_dir)
}

/// Why [`find`] found no metric.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupError {
    /// No metric has the name; `suggestion` is the closest one, if any is close.
    NoMetric {
        /// The name asked for.
        name: String,
        /// A metric of the library with a similar name.
        suggestion: Option<String>,
    },
    /// The metric exists, but the group has no overlay of it.
    NoOverlay {
        /// The metric.
        name: String,
        /// The group asked for.
        group: String,
    },
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LookupError::NoMetric { name, suggestion } => {
                write!(f, "no metric '{name}'")?;
                match suggestion {
                    Some(s) => write!(f, "; did you mean '{s}'?"),
                    None => Ok(()),
                }
            }
            LookupError::NoOverlay { name, group } => {
                write!(f, "metric '{name}' has no overlay for group '{group}'")
            }
        }
    }
}

impl std::error::Error for LookupError {}

/// The metric `name` of `lib` with its index in `lib.metrics` (the index
/// [`compile_each`](crate::compile_each) and the metric plans are keyed by): the shared
/// definition, or with `group` that group's overlay.
pub fn find<'a>(
    lib: &'a MetricLibrary,
    name: &str,
    group: Option<&str>,
) -> Result<(usize, &'a Metric), LookupError> {
    let found = lib.metrics.iter().enumerate().find(|(_, m)| {
        m.name() == name
            && match group {
                None => m.overlay.is_none(),
                Some(g) => m.group == g,
            }
    });
    if let Some(found) = found {
        return Ok(found);
    }
    let names: Vec<&str> = lib.metrics.iter().map(Metric::name).collect();
    match group {
        Some(g) if names.contains(&name) => Err(LookupError::NoOverlay {
            name: name.to_string(),
            group: g.to_string(),
        }),
        _ => Err(LookupError::NoMetric {
            name: name.to_string(),
            suggestion: did_you_mean(name, names.iter().copied()).map(str::to_string),
        }),
    }
}

/// The library as `touchstone metrics list` prints it: one line per metric (name, type,
/// group, version, definition hash, unit, owner; the north star marked), then one line per
/// focus.
#[derive(Debug, Clone, Copy)]
pub struct MetricList<'a>(pub &'a MetricLibrary);

impl fmt::Display for MetricList<'_> {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lib = self.0;
        let hashes = definition_hashes(lib);
        let header = [
            "metric", "type", "group", "version", "hash", "unit", "owner",
        ];
        writeln!(
            out,
            "{:<32} {:<12} {:<20} {:>7} {:<16} {:<11} {}",
            header[0], header[1], header[2], header[3], header[4], header[5], header[6]
        )?;
        for (m, h) in lib.metrics.iter().zip(&hashes) {
            let star = if lib.north_star.as_deref() == Some(m.name()) && m.overlay.is_none() {
                " (north star)"
            } else {
                ""
            };
            writeln!(
                out,
                "{:<32} {:<12} {:<20} {:>7} {:<16} {:<11} {}{star}",
                m.name(),
                m.def.kind.value.name(),
                m.group,
                m.def.version,
                h,
                m.def.unit.as_deref().unwrap_or("-"),
                m.def.owner.as_deref().unwrap_or("-"),
            )?;
        }
        for (file, f) in &lib.focus {
            let names: Vec<&str> = f.metrics.iter().map(|m| m.value.as_str()).collect();
            writeln!(
                out,
                "focus: team {} on {} until {} ({file})",
                f.team,
                names.join(", "),
                f.expires.value
            )?;
        }
        Ok(())
    }
}

/// One metric as `touchstone metrics explain` prints it: label and description; version,
/// hash, group and where it is defined; the resolved definition; its lineage (the table and
/// metrics it reads, the metrics that read it, its overlays and baselines); and the plan it
/// compiles to, when given.
#[derive(Debug, Clone, Copy)]
pub struct Explanation<'a> {
    /// The metric.
    pub metric: &'a Metric,
    /// The library it belongs to.
    pub library: &'a MetricLibrary,
    /// The plan it compiles to, as text.
    pub plan: Option<&'a str>,
}

impl fmt::Display for Explanation<'_> {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (metric, lib) = (self.metric, self.library);
        let text = definition_text(metric, lib);
        let hash = definition_hash(&text);
        let d = &metric.def;
        writeln!(
            out,
            "{} — {}",
            metric.name(),
            d.label.as_deref().unwrap_or("")
        )?;
        writeln!(out, "  {}", d.description.value.trim())?;
        writeln!(
            out,
            "version {}, hash {hash}, group {}, defined in {}",
            d.version,
            metric.group,
            metric.span(&d.name)
        )?;
        writeln!(out, "\nresolved definition:")?;
        for line in text.lines() {
            writeln!(out, "  {line}")?;
        }
        let names: Vec<&str> = lib
            .metrics
            .iter()
            .filter(|m| m.overlay.is_none())
            .map(Metric::name)
            .collect();
        writeln!(out, "\nlineage:")?;
        if let Some(s) = &d.source {
            writeln!(out, "  reads table {}", s.value)?;
        }
        for dep in config::depends_on(metric, &names) {
            writeln!(out, "  reads metric {dep}")?;
        }
        for m in lib.metrics.iter().filter(|m| m.overlay.is_none()) {
            if config::depends_on(m, &names).contains(&metric.name()) {
                writeln!(out, "  read by metric {}", m.name())?;
            }
        }
        for m in lib.metrics.iter().filter(|m| m.overlay.is_some()) {
            if m.name() == metric.name() {
                writeln!(out, "  overlaid for group {}", m.group)?;
            }
        }
        for b in &lib.baselines {
            if b.def.metrics.iter().any(|m| m.value == metric.name()) {
                writeln!(out, "  compared in baseline {}", b.def.name.value)?;
            }
        }
        if let Some(plan) = self.plan {
            writeln!(out, "\nplan:\n{plan}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Comparison {
    /// The comparison as `touchstone compare` prints it: the test, both windows with their
    /// values and sizes, the change with its interval, the statistic and p-value, and the
    /// minimum detectable effect.
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (c, r) = (self, &self.result);
        let unit = c.unit.as_deref().unwrap_or("");
        writeln!(
            out,
            "{} (group {}, version {}), {}",
            c.metric, c.group, c.version, r.test
        )?;
        writeln!(
            out,
            "  before {}..{}: {:.4} {unit} (n = {})",
            c.before.0, c.before.1, r.before, r.n.0
        )?;
        writeln!(
            out,
            "  after  {}..{}: {:.4} {unit} (n = {})",
            c.after.0, c.after.1, r.after, r.n.1
        )?;
        writeln!(
            out,
            "  change {:+.4} {unit} ({}), {:.0}% interval {:+.4} .. {:+.4}",
            c.abs_change(),
            c.rel_change()
                .map_or("-".to_string(), |x| format!("{:+.1}%", x * 100.0)),
            (1.0 - c.alpha) * 100.0,
            r.ci.0,
            r.ci.1
        )?;
        writeln!(
            out,
            "  statistic {:.4}, p = {:.4}: {}",
            r.statistic,
            r.p_value,
            if c.significant() {
                "significant"
            } else {
                "not significant"
            }
        )?;
        writeln!(
            out,
            "  minimum detectable effect {:.4} {unit} (80% power); {} per side to detect this change",
            r.mde,
            r.sample_size.map_or("-".to_string(), |n| format!("{n:.0}"))
        )
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::stats::TestResult;

    /// The shipped metric library.
    fn shipped() -> MetricLibrary {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines/metrics");
        config::load_metrics(&dir).unwrap()
    }

    #[test]
    fn find_names_the_closest_metric_or_the_missing_overlay() {
        let lib = shipped();
        let (i, m) = find(&lib, "csat_pct", None).unwrap();
        assert_eq!(m.name(), "csat_pct");
        assert!(std::ptr::eq(&lib.metrics[i], m));
        assert_eq!(
            find(&lib, "csat_pctt", None).unwrap_err().to_string(),
            "no metric 'csat_pctt'; did you mean 'csat_pct'?"
        );
        assert_eq!(
            find(&lib, "csat_pct", Some("no_such_group"))
                .unwrap_err()
                .to_string(),
            "metric 'csat_pct' has no overlay for group 'no_such_group'"
        );
        let overlay = lib.metrics.iter().find(|m| m.overlay.is_some()).unwrap();
        let (_, found) = find(&lib, overlay.name(), Some(&overlay.group)).unwrap();
        assert_eq!(found.group, overlay.group);
    }

    #[test]
    fn the_list_has_a_header_and_a_line_per_metric() {
        let lib = shipped();
        let text = MetricList(&lib).to_string();
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap().trim_end(),
            "metric                           type         group                version hash             unit        owner"
        );
        let hashes = definition_hashes(&lib);
        let csat = lib
            .metrics
            .iter()
            .position(|m| m.name() == "csat_pct")
            .unwrap();
        let line = text.lines().find(|l| l.starts_with("csat_pct ")).unwrap();
        assert!(line.contains(&hashes[csat]), "{line}");
        assert!(text.lines().count() > lib.metrics.len());
    }

    #[test]
    fn an_explanation_has_the_definition_lineage_and_plan() {
        let lib = shipped();
        let (_, metric) = find(&lib, "csat_pct", None).unwrap();
        let explanation = Explanation {
            metric,
            library: &lib,
            plan: Some("Projection: x"),
        };
        let text = explanation.to_string();
        assert!(text.starts_with("csat_pct — "), "{text}");
        let hash = definition_hash(&definition_text(metric, &lib));
        assert!(text.contains(&format!("hash {hash}, group customer_experience")));
        assert!(text.contains("\nresolved definition:\n  "));
        assert!(text.contains("\nlineage:\n  reads table "));
        assert!(text.contains("  read by metric csat_pct_change\n"));
        assert!(text.ends_with("\nplan:\nProjection: x\n"));
        let no_plan = Explanation {
            plan: None,
            ..explanation
        }
        .to_string();
        assert!(!no_plan.contains("plan:"));
    }

    #[test]
    fn a_comparison_reads_as_a_test_report() {
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
        let c = Comparison {
            baseline: "adhoc".into(),
            metric: "ivr_error_rate".into(),
            group: "shared".into(),
            version: 1,
            unit: Some("percent".into()),
            before: (d(8, 16), d(9, 14)),
            after: (d(9, 15), d(10, 14)),
            alpha: 0.05,
            result: TestResult {
                test: "two_proportion_z",
                before: 14.5,
                after: 6.5,
                statistic: -5.18,
                p_value: 0.00001,
                ci: (-11.0, -5.0),
                mde: 4.38,
                sample_size: Some(221.0),
                n: (974.0, 696.0),
            },
        };
        assert_eq!(
            c.to_string(),
            "ivr_error_rate (group shared, version 1), two_proportion_z
  before 2026-08-16..2026-09-14: 14.5000 percent (n = 974)
  after  2026-09-15..2026-10-14: 6.5000 percent (n = 696)
  change -8.0000 percent (-55.2%), 95% interval -11.0000 .. -5.0000
  statistic -5.1800, p = 0.0000: significant
  minimum detectable effect 4.3800 percent (80% power); 221 per side to detect this change
"
        );
    }
}
