//! The pipeline file: sources, warehouse, engine, and their validation.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_saphyr::Spanned;
use url::Url;

use super::read;
use super::value::{ValueFile, ValueSettings, validate_value};
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
    /// amazon_connect_ctr, livechat, survey_csv, segment_events, zendesk, intercom.
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
    /// Most files of this source that may fail to be read (each is rejected as a file and the
    /// run goes on) before the run fails; unlimited by default.
    #[serde(default)]
    pub max_bad_files: Option<u64>,
    /// Largest share of this source's records that may be rejected (0 to 1) before the run
    /// fails; unlimited by default.
    #[serde(default)]
    pub max_reject_ratio: Option<Spanned<f64>>,
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
    /// Most files that may fail to be read before the run fails (`None`: no limit).
    pub max_bad_files: Option<u64>,
    /// Largest share of records that may be rejected before the run fails (`None`: no limit).
    pub max_reject_ratio: Option<f64>,
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
        if let Some(ratio) = &s.max_reject_ratio
            && !(0.0..=1.0).contains(&ratio.value)
        {
            problems.push(
                Diagnostic::new(
                    ErrorCode::InvalidValue,
                    format!(
                        "max_reject_ratio {} is not a share between 0 and 1",
                        ratio.value
                    ),
                )
                .at(Span::of(file, ratio))
                .with_help("write e.g. 0.01 for at most 1% of the records rejected"),
            );
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
                max_bad_files: s.max_bad_files,
                max_reject_ratio: s.max_reject_ratio.as_ref().map(|r| r.value),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PurchaseModelKind;

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
}
