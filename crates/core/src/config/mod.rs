//! Typed pipeline and metric configuration.
//!
//! The YAML is read into the `*File` structs (every key spanned where a later check needs the
//! place), `${VAR}` references are substituted first, and [`load_pipeline`] /
//! [`load_metrics`] validate everything they can without data, collecting every problem before
//! reporting. The doc comments on the `*File` structs are the user documentation of each key.

mod docs;
mod journeys;
mod metric;
mod pipeline;
mod readers;
mod value;

use std::path::Path;

use crate::diagnostic::{Diagnostic, ErrorCode, Span};

pub use docs::{ColumnDocFile, ModelDocFile, ModelDocsFile, parse_model_docs};
pub use journeys::{
    AbandonFile, AbandonSettings, DEFAULT_BLOCKLIST, EFFORT_FACTORS, EffortFile, EffortSettings,
    Factor, FactorFile, IdentifierFile, IdentifierRule, IdentityFile, IdentitySettings,
    JourneySettings, JourneysFile, PHONE_COUNTRIES, PhoneCountry, SessionSettings,
};
pub use metric::{
    Agg, AppliedOverlay, Baseline, BaselineDef, CiMethod, ConversionDef, Direction,
    DistributionDef, FactorDef, FocusDef, Grain, GroupDef, InputDef, Measure, Metric, MetricDef,
    MetricFile, MetricKind, MetricLibrary, NullHandling, Offset, OverlayDef, Target, Weekday,
    assemble, check_metrics, depends_on, load_metrics, metric_refs, parse_window,
};
pub use pipeline::{
    Engine, Pipeline, PipelineFile, Schedule, ScheduleFile, Source, SourceFile, load_pipeline,
    validate_pipeline,
};
pub use readers::{
    HUBSPOT_OBJECTS, Instrument, InstrumentFile, NullRatioCheck, SALESFORCE_OBJECTS,
    SurveyColumnsFile, SurveyMapping, SurveyMappingFile, SurveyPreset, SurveyQuestion,
    SurveyQuestionFile, SurveyRole, SurveyRule,
};
pub use value::{PurchaseModelKind, ValueFile, ValueSettings};

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
