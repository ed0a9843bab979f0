//! `touchstone metrics list|explain` and `touchstone compare`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::Subcommand;
use touchstone_core::config::{self, Metric, MetricLibrary, parse_window};
use touchstone_pipeline::{Prepared, WarehouseReader};

/// `touchstone metrics ...`.
#[derive(Subcommand)]
pub enum MetricsCommand {
    /// List the metric library: name, type, group, version, definition hash, unit, owner.
    List {
        /// The pipeline file (default: pipelines/customer_success.yaml).
        #[arg(long)]
        pipeline: Option<PathBuf>,
    },
    /// Show one metric: definition, version, hash, lineage and the plan it compiles to.
    Explain {
        /// The metric.
        name: String,
        /// The pipeline file (default: pipelines/customer_success.yaml).
        #[arg(long)]
        pipeline: Option<PathBuf>,
    },
}

/// `touchstone compare ...`.
#[derive(clap::Args)]
pub struct CompareArgs {
    /// The metric.
    #[arg(long)]
    metric: String,
    /// The before window, FROM..TO (inclusive dates).
    #[arg(long)]
    before: String,
    /// The after window, FROM..TO.
    #[arg(long)]
    after: String,
    /// A group with an overlay of the metric (default: the shared definition).
    #[arg(long)]
    group: Option<String>,
    /// Significance level.
    #[arg(long, default_value_t = 0.05)]
    alpha: f64,
    /// The pipeline file (default: pipelines/customer_success.yaml).
    #[arg(long)]
    pipeline: Option<PathBuf>,
    /// The warehouse URL or path (default: the pipeline's).
    #[arg(long, env = "TOUCHSTONE_WAREHOUSE")]
    warehouse: Option<String>,
}

fn pipeline_file(given: Option<PathBuf>, cwd: &Path) -> anyhow::Result<PathBuf> {
    match given.or_else(|| touchstone_pipeline::default_pipeline(cwd)) {
        Some(p) => Ok(p),
        None => bail!("no pipeline: pass --pipeline FILE"),
    }
}

fn library(pipeline: &Path, cwd: &Path) -> anyhow::Result<MetricLibrary> {
    let p = config::load_pipeline(pipeline, cwd)?;
    Ok(config::load_metrics(&p.metrics_dir)?)
}

fn find<'a>(lib: &'a MetricLibrary, name: &str, group: Option<&str>) -> anyhow::Result<&'a Metric> {
    let found = lib.metrics.iter().find(|m| {
        m.name() == name
            && match group {
                None => m.overlay.is_none(),
                Some(g) => m.group == g,
            }
    });
    match found {
        Some(m) => Ok(m),
        None => {
            let names: Vec<&str> = lib.metrics.iter().map(Metric::name).collect();
            let hint = touchstone_core::diagnostic::did_you_mean(name, names.iter().copied())
                .map_or(String::new(), |s| format!("; did you mean '{s}'?"));
            match group {
                Some(g) if names.contains(&name) => {
                    bail!("metric '{name}' has no overlay for group '{g}'")
                }
                _ => bail!("no metric '{name}'{hint}"),
            }
        }
    }
}

/// Runs `touchstone metrics ...`.
pub async fn metrics(command: MetricsCommand, cwd: &Path) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match command {
        MetricsCommand::List { pipeline } => {
            let file = pipeline_file(pipeline, cwd)?;
            let lib = library(&file, cwd)?;
            let hashes = touchstone_metrics::definition_hashes(&lib);
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
        }
        MetricsCommand::Explain { name, pipeline } => {
            let file = pipeline_file(pipeline, cwd)?;
            let prepared = Prepared::load(&file, cwd).await?;
            let lib = &prepared.metrics;
            let metric = find(lib, &name, None)?;
            let text = touchstone_metrics::definition_text(metric, lib);
            let hash = touchstone_metrics::definition_hash(&text);
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
            let index = lib
                .metrics
                .iter()
                .position(|m| std::ptr::eq(m, metric))
                .context("locating the metric")?;
            let plans = prepared.metric_plans().await?;
            if let Some((_, plan)) = plans.iter().find(|(i, _)| *i == index) {
                writeln!(out, "\nplan:\n{plan}")?;
            }
        }
    }
    Ok(())
}

/// Runs `touchstone compare ...`.
pub async fn compare(args: CompareArgs, cwd: &Path) -> anyhow::Result<()> {
    let file = pipeline_file(args.pipeline, cwd)?;
    let lib = library(&file, cwd)?;
    let metric = find(&lib, &args.metric, args.group.as_deref())?;
    let window = |text: &str, what: &str| {
        parse_window(text).with_context(|| {
            format!(
                "--{what} '{text}' is not a window; write FROM..TO, e.g. 2026-05-01..2026-05-31"
            )
        })
    };
    let before = window(&args.before, "before")?;
    let after = window(&args.after, "after")?;
    let url = touchstone_pipeline::warehouse_url(args.warehouse.as_deref(), Some(&file), cwd)
        .context("finding the warehouse")?;
    let reader = WarehouseReader::open(&url)?;
    let (ctx, _) = reader.session().await?;
    let values = ctx
        .table("metric_values")
        .await
        .context("the warehouse has no metric_values; run the pipeline first")?;
    let result =
        touchstone_metrics::compare(&values, metric, "adhoc", before, after, args.alpha).await?;
    let Some(c) = result else {
        bail!(
            "no rows of '{}' (group '{}', version {}) in one of the windows",
            metric.name(),
            metric.group,
            metric.def.version
        );
    };
    let r = &c.result;
    let unit = c.unit.as_deref().unwrap_or("");
    let mut out = std::io::stdout().lock();
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
    )?;
    Ok(())
}
