//! Everything a run needs, loaded and checked without reading data: the pipeline, its metric
//! definitions and its SQL models, each model planned against empty staging tables.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::prelude::SessionContext;
use touchstone_core::config::{self, Metric, Pipeline};
use touchstone_core::diagnostic::Diagnostics;
use touchstone_transform::{Model, SessionOptions, SpillCounter};

use crate::PipelineError;

/// A checked pipeline: what `touchstone validate` proves and what a [`crate::Run`] executes.
#[derive(Debug)]
pub struct Prepared {
    /// The pipeline.
    pub pipeline: Pipeline,
    /// Metric definitions.
    pub metrics: Vec<Metric>,
    /// SQL models in dependency order.
    pub models: Vec<Model>,
}

impl Prepared {
    /// Loads and checks the pipeline file, its metrics and its models: YAML shape and values,
    /// SQL syntax, references and plans, metric columns. Every problem is reported together,
    /// as [`PipelineError::Invalid`]. Relative paths resolve against `base_dir`.
    pub async fn load(pipeline_file: &Path, base_dir: &Path) -> Result<Prepared, PipelineError> {
        let pipeline = config::load_pipeline(pipeline_file, base_dir)?;
        let mut problems = Vec::new();
        let metrics = match config::load_metrics(&pipeline.metrics_dir) {
            Ok(m) => m,
            Err(d) => {
                problems.extend(d.0);
                Vec::new()
            }
        };
        let ctx = session(&pipeline, false, None)?;
        touchstone_transform::register_empty_staging(&ctx)?;
        touchstone_transform::register_run_context(
            &ctx,
            "validate",
            &pipeline.name,
            NaiveDate::default(),
        )?;
        let models =
            touchstone_transform::load_models(&pipeline.models_dir, base_dir, &ctx.state())
                .and_then(|m| {
                    touchstone_transform::order_models(m, &touchstone_transform::input_tables())
                });
        let models = match models {
            Ok(models) => {
                if let Err(d) = touchstone_transform::plan_models(&ctx, &models).await {
                    problems.extend(d.0);
                } else if let Err(d) = touchstone_metrics::compile_all(&ctx, &metrics).await {
                    problems.extend(d.0);
                }
                models
            }
            Err(d) => {
                problems.extend(d.0);
                Vec::new()
            }
        };
        Diagnostics::check(problems)?;
        Ok(Prepared {
            pipeline,
            metrics,
            models,
        })
    }

    /// Models written to the warehouse (`sql/marts/*`).
    pub fn materialized(&self) -> impl Iterator<Item = &Model> {
        self.models.iter().filter(|m| m.materialized())
    }
}

/// The engine session of `pipeline`: its memory limit and value settings, and, when the
/// session will write Delta tables, the Delta planner. A run passes its work directory (inside
/// `spill_dir`) and a counter of what it spills.
pub(crate) fn session(
    pipeline: &Pipeline,
    writes: bool,
    spill: Option<(&Path, Arc<SpillCounter>)>,
) -> Result<SessionContext, PipelineError> {
    let options = SessionOptions {
        memory_limit_bytes: Some(pipeline.memory_limit_bytes),
        spill_dir: spill
            .as_ref()
            .map(|(dir, _)| dir.to_path_buf())
            .or_else(|| pipeline.spill_dir.clone()),
        spill_counter: spill.map(|(_, counter)| counter),
        target_partitions: pipeline.target_partitions,
        query_planner: writes.then(touchstone_load::delta_query_planner),
        value: pipeline.value,
    };
    Ok(touchstone_transform::new_session(&options)?)
}

/// The default pipeline file, `pipelines/customer_success.yaml`, when it exists in `dir`.
pub fn default_pipeline(dir: &Path) -> Option<PathBuf> {
    let p = dir.join("pipelines/customer_success.yaml");
    p.exists().then_some(p)
}
