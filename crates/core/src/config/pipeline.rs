//! The pipeline file: sources, warehouse, engine, and their validation.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_saphyr::Spanned;
use url::Url;

use super::journeys::{EffortFile, IdentityFile, JourneySettings, JourneysFile, validate_journeys};
use super::read;
use super::readers::{
    HUBSPOT_OBJECTS, NullRatioCheck, ReaderOptionsFile, SALESFORCE_OBJECTS, SurveyMapping,
    SurveyMappingFile, SurveyPreset, check_reader_options,
};
use super::value::{ValueFile, ValueSettings, validate_value};
use crate::diagnostic::{Diagnostic, Diagnostics, ErrorCode, Span};
use crate::format::SourceFormat;
use crate::{env, store, yaml};

/// The engine's memory limit when the pipeline sets none, in MiB (see
/// [`PipelineFile::memory_limit_mb`]).
pub const DEFAULT_MEMORY_LIMIT_MB: u64 = 2048;

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
    /// Memory for the run, in MiB (default 2048, at least 64).
    ///
    /// Three quarters of it bound what the engine's operators hold (sorts, aggregations,
    /// joins, window buffers), shared fairly between them, spilling to disk beyond; the rest is
    /// for what they do not count (batches in flight, Parquet writers' buffers), and peak RSS
    /// can still be somewhat above the limit. 2048 runs the default pipeline at 100,000
    /// customers × 90 days within 2.2 GiB and at 1,000,000 at about 3 GiB (see the README's
    /// speed section), leaving room for other work on a small machine.
    #[serde(default)]
    pub memory_limit_mb: Option<Spanned<u64>>,
    /// How many partitions the engine splits work into (default: the number of cores). Fewer
    /// partitions share `memory_limit_mb` among fewer operators, and a GROUP BY over input
    /// sorted on its keys streams instead of hashing every group: 1 suits a small limit.
    #[serde(default)]
    pub target_partitions: Option<Spanned<u64>>,
    /// Directory the engine spills to when memory runs short, and where views marked
    /// `-- touchstone: cache` are written for the run (default: the system temporary
    /// directory, `$TMPDIR` or `/tmp`). Created when missing; what a run writes there is
    /// removed when it ends.
    #[serde(default)]
    pub spill_dir: Option<Spanned<String>>,
    /// The exports to read.
    pub sources: Vec<SourceFile>,
    /// Settings of the customer-value and retention models.
    #[serde(default)]
    pub value: Option<ValueFile>,
    /// How identifiers are linked into customers (`customer_identity`).
    #[serde(default)]
    pub identity: Option<IdentityFile>,
    /// Sessions, journeys, simultaneous contacts and abandon causes.
    #[serde(default)]
    pub journeys: Option<JourneysFile>,
    /// The factors of the effort index.
    #[serde(default)]
    pub effort: Option<EffortFile>,
    /// When `touchstone schedule` runs the pipeline.
    #[serde(default)]
    pub schedule: Option<ScheduleFile>,
    /// Days `touchstone maintain` keeps the files of older table versions, so time travel
    /// works that far back (default 7).
    #[serde(default)]
    pub retention_days: Option<u32>,
}

/// `schedule:` of a pipeline file, for `touchstone schedule`.
///
/// ```yaml
/// schedule:
///   cron: "0 2 * * *"        # every day at 02:00
///   timezone: Europe/Paris   # of the cron expression (default UTC)
///   catch_up_days: 7         # after downtime, run the missed dates of the last 7 days
///   max_retries: 3           # a failed run is retried 3 times...
///   retry_backoff_secs: 60   # ...after 60 s, 120 s, 240 s (doubling, at most 1 hour)
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleFile {
    /// A cron expression (5 fields, or 6 with seconds first): when a run is due. The logical
    /// date of a run is the date, in `timezone`, of the time it was due.
    pub cron: Spanned<String>,
    /// IANA time zone the cron expression is read in (default `UTC`).
    #[serde(default)]
    pub timezone: Option<Spanned<String>>,
    /// After downtime, due times of the last this many days that did not run are caught up,
    /// oldest first (default 7; 0 runs only what falls due from now on).
    #[serde(default)]
    pub catch_up_days: Option<u32>,
    /// Retries of a failed run before its date is given up (default 3).
    #[serde(default)]
    pub max_retries: Option<u32>,
    /// Wait before the first retry; it doubles with each retry, up to an hour (default 60).
    #[serde(default)]
    pub retry_backoff_secs: Option<u64>,
}

/// A validated `schedule:`.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// The cron expression.
    pub cron: String,
    /// Its time zone.
    pub timezone: chrono_tz::Tz,
    /// Days of missed due times to catch up.
    pub catch_up_days: u32,
    /// Retries of a failed run.
    pub max_retries: u32,
    /// First retry delay in seconds.
    pub retry_backoff_secs: u64,
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
    /// IANA time zone of timestamps the export writes without an offset (Asterisk CDR local
    /// times; Salesforce, HubSpot and survey datetimes such as `2018-10-13 17:16:45`); default
    /// `UTC`.
    #[serde(default)]
    pub timezone: Option<Spanned<String>>,
    /// The object every file of this source holds: for `salesforce_csv` Account, Contact,
    /// Case, Opportunity or Order; for `hubspot` contacts, companies or deals. By default taken
    /// from each file's name.
    #[serde(default)]
    pub object: Option<Spanned<String>>,
    // CSV/text readers (issue 8).
    /// Character encoding of the files, as a WHATWG label (`utf-8`, `windows-1252`, `latin1`,
    /// `windows-1251`, `utf-16le`, ...); default `utf-8`. Bytes that are not valid in the
    /// encoding are replaced by U+FFFD: the record is staged and counted as repaired.
    #[serde(default)]
    pub encoding: Option<Spanned<String>>,
    /// `asterisk_cdr` only: the fields of each `Master.csv` line in order, as the mapping in
    /// `cdr_custom.conf` lists them (`[clid, src, dst, ..., sequence]`; `ignore` skips a
    /// column). Without it the `cdr_csv` layout is read.
    #[serde(default)]
    pub columns: Option<Spanned<Vec<Spanned<String>>>>,
    /// `survey_csv` only: the survey tool whose export layout the files have (`touchstone`,
    /// `qualtrics`, `hubspot_feedback`, `delighted`, `surveymonkey`, `typeform`); default
    /// `touchstone`.
    #[serde(default)]
    pub preset: Option<Spanned<SurveyPreset>>,
    /// `survey_csv` only: which export column holds what, the question columns of a wide
    /// export, and the instrument and scale per survey name (see [`SurveyMappingFile`]).
    #[serde(default)]
    pub mapping: Option<Spanned<SurveyMappingFile>>,
    /// Largest share of this source's staged rows that may have a column null before the run
    /// fails, per staging column (`phone: 0.2`; `stg_contacts.phone` where the source writes
    /// several tables). Catches a renamed optional column, which otherwise stages nulls with
    /// only a warning.
    #[serde(default)]
    pub max_null_ratio: Option<std::collections::BTreeMap<String, Spanned<f64>>>,
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
    /// Memory limit of the run in bytes (see [`PipelineFile::memory_limit_mb`]).
    pub memory_limit_bytes: u64,
    /// Where the engine spills and cached views are written (`None`: the system temp dir).
    pub spill_dir: Option<PathBuf>,
    /// Engine partitions (`None`: the number of cores).
    pub target_partitions: Option<usize>,
    /// The sources, in file order.
    pub sources: Vec<Source>,
    /// Value-model settings.
    pub value: ValueSettings,
    /// Identity, journey and effort settings.
    pub journeys: JourneySettings,
    /// When `touchstone schedule` runs it (`None`: no `schedule:`).
    pub schedule: Option<Schedule>,
    /// Days of table versions `touchstone maintain` keeps.
    pub retention_days: u32,
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
    /// Salesforce or HubSpot object override.
    pub object: Option<String>,
    // CSV/text readers (issue 8).
    /// Character encoding of the files (default UTF-8).
    pub encoding: &'static encoding_rs::Encoding,
    /// Asterisk `cdr_custom` column order (`None`: the `cdr_csv` layout).
    pub cdr_columns: Option<Vec<String>>,
    /// Survey export layout and mapping (`None`: Touchstone's own layout).
    pub survey: Option<SurveyMapping>,
    /// `max_null_ratio:` checks.
    pub null_ratio: Vec<NullRatioCheck>,
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
            let (vendor, objects): (&str, &[&str]) = match s.format.value {
                SourceFormat::SalesforceCsv => ("Salesforce", &SALESFORCE_OBJECTS),
                SourceFormat::Hubspot => ("HubSpot", &HUBSPOT_OBJECTS),
                _ => ("", &[]),
            };
            if objects.is_empty() {
                problems.push(
                    Diagnostic::new(
                        ErrorCode::InvalidValue,
                        format!(
                            "'object' applies only to salesforce_csv and hubspot sources, not {}",
                            s.format.value
                        ),
                    )
                    .at(Span::of(file, object))
                    .with_help("remove 'object:'"),
                );
            } else if !objects.contains(&object.value.as_str()) {
                problems.push(
                    Diagnostic::new(
                        ErrorCode::UnknownVariant,
                        format!(
                            "unknown {vendor} object '{}'; expected one of {}",
                            object.value,
                            objects.join(", ")
                        ),
                    )
                    .at(Span::of(file, object))
                    .suggest(&object.value, objects.iter().copied()),
                );
            }
        }
        let reader = check_reader_options(
            file,
            &ReaderOptionsFile {
                format: s.format.value,
                encoding: s.encoding.as_ref(),
                columns: s.columns.as_ref(),
                preset: s.preset.as_ref(),
                mapping: s.mapping.as_ref(),
                max_null_ratio: s.max_null_ratio.as_ref(),
            },
            &mut problems,
        );
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
                encoding: reader.encoding,
                cdr_columns: reader.cdr_columns,
                survey: reader.survey,
                null_ratio: reader.null_ratio,
            });
        }
    }

    let value = validate_value(file, raw.value.as_ref(), &mut problems);
    let journeys = validate_journeys(
        file,
        raw.identity.as_ref(),
        raw.journeys.as_ref(),
        raw.effort.as_ref(),
        &mut problems,
    );
    let schedule = raw
        .schedule
        .as_ref()
        .and_then(|s| validate_schedule(file, s, &mut problems));
    let memory_limit_mb = raw
        .memory_limit_mb
        .as_ref()
        .map_or(DEFAULT_MEMORY_LIMIT_MB, |m| m.value);
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
    if let Some(t) = &raw.target_partitions
        && t.value == 0
    {
        problems.push(
            Diagnostic::new(ErrorCode::InvalidValue, "target_partitions 0 is too small")
                .at(Span::of(file, t))
                .with_help("use at least 1, or leave it out for the number of cores"),
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
        spill_dir: raw.spill_dir.as_ref().map(|d| resolve_dir(Some(d), "")),
        target_partitions: raw
            .target_partitions
            .as_ref()
            .map(|t| usize::try_from(t.value).unwrap_or(usize::MAX)),
        sources,
        value,
        journeys,
        schedule,
        retention_days: raw.retention_days.unwrap_or(7),
    })
}

fn validate_schedule(
    file: &str,
    raw: &ScheduleFile,
    problems: &mut Vec<Diagnostic>,
) -> Option<Schedule> {
    let cron = croner::Cron::new(&raw.cron.value)
        .with_seconds_optional()
        .parse();
    if let Err(e) = &cron {
        problems.push(
            Diagnostic::new(
                ErrorCode::InvalidValue,
                format!("'{}' is not a cron expression: {e}", raw.cron.value),
            )
            .at(Span::of(file, &raw.cron))
            .with_help("write five fields, minute hour day-of-month month day-of-week, e.g. \"0 2 * * *\" for 02:00 every day"),
        );
    }
    let timezone = match &raw.timezone {
        None => Some(chrono_tz::UTC),
        Some(tz) => match tz.value.parse::<chrono_tz::Tz>() {
            Ok(tz) => Some(tz),
            Err(_) => {
                problems.push(
                    Diagnostic::new(
                        ErrorCode::InvalidTimeZone,
                        format!("unknown time zone '{}'", tz.value),
                    )
                    .at(Span::of(file, tz))
                    .suggest(&tz.value, chrono_tz::TZ_VARIANTS.iter().map(|t| t.name())),
                );
                None
            }
        },
    };
    match (cron, timezone) {
        (Ok(_), Some(timezone)) => Some(Schedule {
            cron: raw.cron.value.clone(),
            timezone,
            catch_up_days: raw.catch_up_days.unwrap_or(7),
            max_retries: raw.max_retries.unwrap_or(3),
            retry_backoff_secs: raw.retry_backoff_secs.unwrap_or(60),
        }),
        _ => None,
    }
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
        assert_eq!(p.memory_limit_bytes, DEFAULT_MEMORY_LIMIT_MB << 20);
        assert_eq!(p.spill_dir, None);
    }

    #[test]
    fn memory_limit_and_spill_dir() {
        let p = parse_pipeline(
            "name: cs\nwarehouse: wh\nmemory_limit_mb: 64\nspill_dir: scratch\nsources:\n  - name: cdr\n    type: asterisk_cdr\n    path: raw/Master.csv\n",
        )
        .unwrap();
        assert_eq!(p.memory_limit_bytes, 64 << 20);
        assert_eq!(p.spill_dir.as_deref(), Some(Path::new("/proj/scratch")));
        let err = parse_pipeline(
            "name: cs\nwarehouse: wh\nmemory_limit_mb: 16\nsources:\n  - name: cdr\n    type: asterisk_cdr\n    path: raw/Master.csv\n",
        )
            .unwrap_err();
        assert!(err.to_string().contains("p.yaml:3:18"), "{err}");
        assert!(err.to_string().contains("use at least 64"), "{err}");
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

    // CSV/text reader options (issue 8).
    #[test]
    fn reader_options_validate_into_the_source() {
        let p = parse_pipeline(
            "name: cs\nwarehouse: wh\nsources:\n  - name: branch\n    type: asterisk_cdr\n    path: x\n    encoding: windows-1251\n    columns: [clid, src, calldate, ignore, linkedid]\n    max_null_ratio:\n      caller_number: 0.1\n  - name: q\n    type: survey_csv\n    path: y\n    preset: qualtrics\n    mapping:\n      columns:\n        agent: AgentId\n      questions:\n        - column: Q1\n          instrument: nps\n          comment: Q2\n      surveys:\n        Pulse: { instrument: ces, scale: [1, 7] }\n  - name: hs\n    type: hubspot\n    path: z\n    object: contacts\n    max_null_ratio:\n      stg_contacts.email: 0.5\n",
        )
        .unwrap();
        let cdr = &p.sources[0];
        assert_eq!(cdr.encoding, encoding_rs::WINDOWS_1251);
        assert_eq!(
            cdr.cdr_columns.as_deref(),
            Some(&["clid", "src", "calldate", "ignore", "linkedid"].map(String::from)[..])
        );
        assert_eq!(cdr.null_ratio.len(), 1);
        assert_eq!(cdr.null_ratio[0].column, "caller_number");
        let q = p.sources[1].survey.as_ref().unwrap();
        assert_eq!(q.preset, SurveyPreset::Qualtrics);
        assert_eq!(q.column(super::super::SurveyRole::Agent), Some("AgentId"));
        assert_eq!(q.questions[0].comment.as_deref(), Some("Q2"));
        assert_eq!(q.surveys[0].scale, Some((1, 7)));
        assert_eq!(p.sources[1].encoding, encoding_rs::UTF_8);
        assert_eq!(p.sources[2].object.as_deref(), Some("contacts"));
        assert_eq!(
            p.sources[2].null_ratio[0].table,
            crate::schema::StagingTable::Contacts
        );
    }

    #[test]
    fn reader_option_mistakes_are_located_with_a_fix() {
        let err = parse_pipeline(
            "name: cs\nwarehouse: wh\nsources:\n  - name: a\n    type: asterisk_cdr\n    path: x\n    encoding: windows-1215\n    columns: [clid, strat, src, src]\n    max_null_ratio:\n      caler_number: 2\n  - name: b\n    type: livechat\n    path: y\n    columns: [src]\n    preset: qualtrics\n  - name: c\n    type: survey_csv\n    path: z\n    preset: typeform\n  - name: d\n    type: hubspot\n    path: w\n    object: contact\n",
        )
        .unwrap_err();
        let text = err.to_string();
        for want in [
            "p.yaml:7:15: error[E1005]: unknown encoding 'windows-1215'",
            "help: did you mean 'windows-1251'?",
            "p.yaml:8:21: error[E1005]: unknown CDR field 'strat'",
            "help: did you mean 'start'?",
            "error[E1007]: CDR field 'src' is listed twice",
            "error[E1003]: columns does not name 'start'",
            "error[E1004]: max_null_ratio of 'caler_number' is 2",
            "error[E3002]: max_null_ratio names 'caler_number'",
            "help: did you mean 'caller_number'?",
            "p.yaml:14:14: error[E1004]: 'columns' applies only to asterisk_cdr sources, not livechat",
            "'preset' applies only to survey_csv sources",
            "p.yaml:19:13: error[E1003]: a typeform export has one column per question",
            "p.yaml:23:13: error[E1005]: unknown HubSpot object 'contact'",
            "help: did you mean 'contacts'?",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
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
