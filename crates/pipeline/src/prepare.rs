//! Everything a run needs, loaded and checked without reading data: the pipeline, its metric
//! definitions and its SQL models, each model planned against empty staging tables.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::prelude::SessionContext;
use touchstone_core::config::{self, MetricLibrary, Pipeline};
use touchstone_core::diagnostic::Diagnostics;
use touchstone_transform::{Model, ModelDocs, SessionOptions, SpillCounter, Undocumented};

use crate::PipelineError;

/// A checked pipeline: what `touchstone validate` proves and what a [`crate::Run`] executes.
#[derive(Debug)]
pub struct Prepared {
    /// The pipeline.
    pub pipeline: Pipeline,
    /// Metric definitions (shared and group overlays), baselines, north star and focus.
    pub metrics: MetricLibrary,
    /// SQL models in dependency order.
    pub models: Vec<Model>,
    /// The models' column descriptions (`sql/<layer>/*.yaml`), written into each mart's Delta
    /// metadata.
    pub docs: ModelDocs,
    /// The marts' columns no documentation describes (warnings of `touchstone validate`).
    pub undocumented: Vec<Undocumented>,
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
                MetricLibrary::default()
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
        let docs =
            touchstone_transform::load_docs(&pipeline.models_dir, base_dir).unwrap_or_else(|d| {
                problems.extend(d.0);
                ModelDocs::default()
            });
        let mut undocumented = Vec::new();
        let models = match models {
            Ok(models) => {
                if let Err(d) = touchstone_transform::plan_models(&ctx, &models).await {
                    problems.extend(d.0);
                } else {
                    match touchstone_transform::check_docs(&ctx, &models, &docs).await {
                        Ok(missing) => undocumented = missing,
                        Err(d) => problems.extend(d.0),
                    }
                    if let Err(d) = touchstone_metrics::compile_all(&ctx, &metrics).await {
                        problems.extend(d.0);
                    }
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
            docs,
            undocumented,
        })
    }

    /// A hash of each definition a run's outputs depend on: `sources` (each source's reading
    /// settings, not where it sits in the file), `value` (the value-model settings), `metrics`
    /// (every metric definition) and `model:<name>` (each SQL model's text). 64-bit FNV-1a in
    /// hex: stable across runs, machines and Rust versions.
    pub fn definition_hashes(&self) -> std::collections::BTreeMap<String, String> {
        let mut out = std::collections::BTreeMap::new();
        let sources: Vec<String> = self
            .pipeline
            .sources
            .iter()
            .map(crate::run::source_settings)
            .collect();
        out.insert("sources".to_string(), fnv1a(sources.join("\n").as_bytes()));
        out.insert(
            "value".to_string(),
            fnv1a(format!("{:?}", self.pipeline.value).as_bytes()),
        );
        let metrics: Vec<String> = (self.metrics.metrics.iter().map(|m| format!("{m:?}")))
            .chain(self.metrics.baselines.iter().map(|b| format!("{b:?}")))
            .collect();
        out.insert("metrics".to_string(), fnv1a(metrics.join("\n").as_bytes()));
        for model in &self.models {
            out.insert(format!("model:{}", model.name), fnv1a(model.sql.as_bytes()));
        }
        out
    }

    /// Each metric's logical plan (indented text), planned against empty staging tables and
    /// the models as views, in `metrics.metrics` order: what `touchstone metrics explain`
    /// prints.
    pub async fn metric_plans(&self) -> Result<Vec<(usize, String)>, PipelineError> {
        let ctx = session(&self.pipeline, false, None)?;
        touchstone_transform::register_empty_staging(&ctx)?;
        touchstone_transform::register_run_context(
            &ctx,
            "explain",
            &self.pipeline.name,
            NaiveDate::default(),
        )?;
        touchstone_transform::plan_models(&ctx, &self.models)
            .await
            .map_err(PipelineError::Invalid)?;
        let each = touchstone_metrics::compile_each(&ctx, &self.metrics)
            .await
            .map_err(PipelineError::Invalid)?;
        Ok(each
            .into_iter()
            .map(|(i, df)| (i, df.logical_plan().display_indent().to_string()))
            .collect())
    }

    /// Models written to the warehouse (`sql/marts/*`).
    pub fn materialized(&self) -> impl Iterator<Item = &Model> {
        self.models.iter().filter(|m| m.materialized())
    }

    /// What `touchstone validate` says of a valid pipeline:
    /// `14 sources, 22 models (20 materialized), 38 metrics`.
    pub fn counts(&self) -> String {
        format!(
            "{} sources, {} models ({} materialized), {} metrics",
            self.pipeline.sources.len(),
            self.models.len(),
            self.materialized().count(),
            self.metrics.metrics.len()
        )
    }

    /// The warnings of `touchstone validate` for the pipeline read from `file`: the metric
    /// library's (expired focus and the like, as of `today`), the marts' columns without a
    /// description, then literal secrets in the file's text ([`crate::secret_warnings`]).
    pub fn warnings(&self, file: &Path, today: NaiveDate) -> Vec<String> {
        let mut warnings = self.metrics.warnings(today);
        warnings.extend(self.undocumented.iter().map(ToString::to_string));
        if let Ok(text) = std::fs::read_to_string(file) {
            let name = file.display().to_string();
            warnings.extend(crate::secret_warnings(&name, &text));
        }
        warnings
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
        journeys: pipeline.journeys.clone(),
    };
    Ok(touchstone_transform::new_session(&options)?)
}

/// The default pipeline file, `pipelines/customer_success.yaml`, when it exists in `dir`.
pub fn default_pipeline(dir: &Path) -> Option<PathBuf> {
    let p = dir.join("pipelines/customer_success.yaml");
    p.exists().then_some(p)
}

/// 64-bit FNV-1a of `bytes`, as 16 hex digits.
fn fnv1a(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}
