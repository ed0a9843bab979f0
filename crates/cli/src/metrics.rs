//! `touchstone metrics list|explain` and `touchstone compare`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::Subcommand;
use touchstone_core::config::parse_window;
use touchstone_metrics::render::{Explanation, MetricList, find, library};
use touchstone_pipeline::Prepared;

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

/// Runs `touchstone metrics ...`.
pub async fn metrics(command: MetricsCommand, cwd: &Path) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match command {
        MetricsCommand::List { pipeline } => {
            let lib = library(&pipeline_file(pipeline, cwd)?, cwd)?;
            write!(out, "{}", MetricList(&lib))?;
        }
        MetricsCommand::Explain { name, pipeline } => {
            let prepared = Prepared::load(&pipeline_file(pipeline, cwd)?, cwd).await?;
            let library = &prepared.metrics;
            let (index, metric) = find(library, &name, None)?;
            let plans = prepared.metric_plans().await?;
            let plan = plans
                .iter()
                .find(|(i, _)| *i == index)
                .map(|(_, p)| p.as_str());
            let explanation = Explanation {
                metric,
                library,
                plan,
            };
            write!(out, "{explanation}")?;
        }
    }
    Ok(())
}

/// Runs `touchstone compare ...`.
pub async fn compare(args: CompareArgs, cwd: &Path) -> anyhow::Result<()> {
    let file = pipeline_file(args.pipeline, cwd)?;
    let lib = library(&file, cwd)?;
    let (_, metric) = find(&lib, &args.metric, args.group.as_deref())?;
    let window = |text: &str, what: &str| {
        parse_window(text).with_context(|| {
            format!(
                "--{what} '{text}' is not a window; write FROM..TO, e.g. 2026-05-01..2026-05-31"
            )
        })
    };
    let before = window(&args.before, "before")?;
    let after = window(&args.after, "after")?;
    let reader = crate::ops::open(args.warehouse.as_deref(), Some(&file), cwd)?;
    let result = reader.compare(metric, before, after, args.alpha).await?;
    let Some(comparison) = result else {
        bail!(
            "no rows of '{}' (group '{}', version {}) in one of the windows",
            metric.name(),
            metric.group,
            metric.def.version
        );
    };
    write!(std::io::stdout().lock(), "{comparison}")?;
    Ok(())
}
