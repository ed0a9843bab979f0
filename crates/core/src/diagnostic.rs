//! Diagnostics a user can act on: `file:line:col: error[E1005]: message` plus a `help:` line.
//!
//! Every check that can fail on user input (YAML, SQL models, metric definitions, source paths)
//! reports a [`Diagnostic`] with a stable [`ErrorCode`]. Validation collects every diagnostic
//! before reporting, so a user fixes all problems in one pass.
//!
//! ```
//! use touchstone_core::diagnostic::{Diagnostic, ErrorCode, Span};
//! let d = Diagnostic::new(ErrorCode::UnknownVariant, "unknown aggregation 'avgg'")
//!     .at(Span::new("pipelines/metrics/cc.yaml", 14, 9))
//!     .with_help("did you mean 'avg'?");
//! assert_eq!(
//!     d.to_string(),
//!     "pipelines/metrics/cc.yaml:14:9: error[E1005]: unknown aggregation 'avgg'\n  help: did you mean 'avg'?"
//! );
//! ```

use std::fmt;

/// Stable error codes. The number never changes meaning; tests pin them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// E1001: the file is not valid YAML.
    YamlSyntax,
    /// E1002: a key the schema does not know (usually a typo).
    UnknownKey,
    /// E1003: a required key is missing.
    MissingKey,
    /// E1004: a value of the wrong type or out of range.
    InvalidValue,
    /// E1005: a value outside a closed set (format, aggregation, grain...).
    UnknownVariant,
    /// E1006: `${VAR}` names an environment variable that is not set and has no default.
    UndefinedVariable,
    /// E1007: two things share a name that must be unique.
    DuplicateName,
    /// E1008: a path or URL that cannot be parsed or is not supported.
    InvalidLocation,
    /// E1009: a source path that matches no file.
    NoSuchSource,
    /// E1010: an unknown IANA time zone.
    InvalidTimeZone,
    /// E1011: a file that cannot be read.
    Unreadable,
    /// E2001: an SQL model that does not parse.
    SqlSyntax,
    /// E2002: an SQL model that reads a table no source or model provides.
    UnknownTable,
    /// E2003: SQL models that depend on each other in a cycle.
    DependencyCycle,
    /// E2004: an SQL model that parses but does not plan (unknown column, type error...).
    SqlPlan,
    /// E2005: an SQL model file that is not a single SELECT.
    NotASelect,
    /// E2006: model documentation (`sql/<layer>/*.yaml`) that names a model that does not
    /// exist or a column the model does not produce.
    ModelDocs,
    /// E3001: a metric whose `source` is not a table or model.
    UnknownMetricSource,
    /// E3002: a metric expression that names an unknown column.
    UnknownColumn,
    /// E3003: a metric expression or filter that does not parse or does not plan.
    InvalidExpression,
    /// E3004: a metric definition that is inconsistent (ratio without denominator...).
    InvalidMetric,
    /// E3005: a name that should be a metric (in a derived metric, an index, an overlay, a
    /// baseline, the north star or a focus) but is not one.
    UnknownMetric,
    /// E3006: metrics over metrics that read themselves.
    MetricCycle,
    /// E3007: a ratio or cumulative metric over aggregates that do not add up across periods.
    NonAdditive,
    /// E3008: a grain finer than the time column records (hour on a date column).
    GrainTooFine,
    /// E3009: a definition that changed while its version did not.
    ChangedDefinition,
    /// E3010: two overlays of one metric for one group.
    ConflictingOverlay,
    /// E9001: the engine failed on definitions that are valid (a bug or a resource limit, not
    /// a problem of the user's files); the message says what was being done.
    Internal,
}

impl ErrorCode {
    /// The code as printed, e.g. `E1005`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::YamlSyntax => "E1001",
            ErrorCode::UnknownKey => "E1002",
            ErrorCode::MissingKey => "E1003",
            ErrorCode::InvalidValue => "E1004",
            ErrorCode::UnknownVariant => "E1005",
            ErrorCode::UndefinedVariable => "E1006",
            ErrorCode::DuplicateName => "E1007",
            ErrorCode::InvalidLocation => "E1008",
            ErrorCode::NoSuchSource => "E1009",
            ErrorCode::InvalidTimeZone => "E1010",
            ErrorCode::Unreadable => "E1011",
            ErrorCode::SqlSyntax => "E2001",
            ErrorCode::UnknownTable => "E2002",
            ErrorCode::DependencyCycle => "E2003",
            ErrorCode::SqlPlan => "E2004",
            ErrorCode::NotASelect => "E2005",
            ErrorCode::ModelDocs => "E2006",
            ErrorCode::UnknownMetricSource => "E3001",
            ErrorCode::UnknownColumn => "E3002",
            ErrorCode::InvalidExpression => "E3003",
            ErrorCode::InvalidMetric => "E3004",
            ErrorCode::UnknownMetric => "E3005",
            ErrorCode::MetricCycle => "E3006",
            ErrorCode::NonAdditive => "E3007",
            ErrorCode::GrainTooFine => "E3008",
            ErrorCode::ChangedDefinition => "E3009",
            ErrorCode::ConflictingOverlay => "E3010",
            ErrorCode::Internal => "E9001",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A place in a file: 1-based line and column (characters).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    /// The file as the user named it (relative paths stay relative).
    pub file: String,
    /// 1-based line.
    pub line: u64,
    /// 1-based column.
    pub column: u64,
}

impl Span {
    /// A span at `file:line:column`.
    pub fn new(file: impl Into<String>, line: u64, column: u64) -> Self {
        Span {
            file: file.into(),
            line,
            column,
        }
    }

    /// The span of a value read with [`serde_saphyr::Spanned`].
    pub fn of<T>(file: &str, spanned: &serde_saphyr::Spanned<T>) -> Self {
        Span::new(
            file,
            spanned.referenced.line().max(1),
            spanned.referenced.column().max(1),
        )
    }

    /// A span `offset` characters to the right on the same line (for positions inside a
    /// YAML string, such as a column inside a metric filter).
    pub fn shifted(&self, offset: u64) -> Self {
        Span::new(self.file.clone(), self.line, self.column + offset)
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// One problem, where it is, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Stable code.
    pub code: ErrorCode,
    /// Where; `None` for problems with no place in a file (e.g. an unreachable bucket).
    pub span: Option<Span>,
    /// What is wrong, one line.
    pub message: String,
    /// How to fix it, one line (`did you mean 'avg'?`).
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic with no location yet.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            span: None,
            message: message.into(),
            help: None,
        }
    }

    /// Sets the location.
    pub fn at(mut self, span: Span) -> Self {
        self.span = Some(span);
        self
    }

    /// Sets the help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a "did you mean" help when one of `candidates` is close to `got`.
    pub fn suggest<'a>(self, got: &str, candidates: impl IntoIterator<Item = &'a str>) -> Self {
        match did_you_mean(got, candidates) {
            Some(best) => self.with_help(format!("did you mean '{best}'?")),
            None => self,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(span) = &self.span {
            write!(f, "{span}: ")?;
        }
        write!(f, "error[{}]: {}", self.code, self.message)?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

/// A non-empty list of diagnostics, sorted by place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// `Ok(())` when `list` is empty, else the sorted list as an error.
    pub fn check(mut list: Vec<Diagnostic>) -> Result<(), Diagnostics> {
        if list.is_empty() {
            return Ok(());
        }
        list.sort_by(|a, b| a.span.cmp(&b.span));
        list.dedup();
        Err(Diagnostics(list))
    }

    /// The codes, in order (handy in tests).
    pub fn codes(&self) -> Vec<ErrorCode> {
        self.0.iter().map(|d| d.code).collect()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

/// The candidate closest to `got`, when it is close enough to be a plausible typo.
///
/// ```
/// use touchstone_core::diagnostic::did_you_mean;
/// assert_eq!(did_you_mean("avgg", ["sum", "avg", "count"]), Some("avg"));
/// assert_eq!(did_you_mean("zzz", ["sum", "avg"]), None);
/// ```
pub fn did_you_mean<'a>(
    got: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let got_lower = got.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&got_lower, &c.to_lowercase()), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// The first line of an engine error message, trimmed (messages can carry backtraces and
/// plan dumps below it).
pub fn first_line(message: &str) -> String {
    message
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique() {
        let all = [
            ErrorCode::YamlSyntax,
            ErrorCode::UnknownKey,
            ErrorCode::MissingKey,
            ErrorCode::InvalidValue,
            ErrorCode::UnknownVariant,
            ErrorCode::UndefinedVariable,
            ErrorCode::DuplicateName,
            ErrorCode::InvalidLocation,
            ErrorCode::NoSuchSource,
            ErrorCode::InvalidTimeZone,
            ErrorCode::Unreadable,
            ErrorCode::SqlSyntax,
            ErrorCode::UnknownTable,
            ErrorCode::DependencyCycle,
            ErrorCode::SqlPlan,
            ErrorCode::NotASelect,
            ErrorCode::ModelDocs,
            ErrorCode::UnknownMetricSource,
            ErrorCode::UnknownColumn,
            ErrorCode::InvalidExpression,
            ErrorCode::InvalidMetric,
            ErrorCode::Internal,
        ];
        let mut codes: Vec<_> = all.iter().map(|c| c.as_str()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
    }

    #[test]
    fn diagnostics_sort_by_place() {
        let a = Diagnostic::new(ErrorCode::UnknownKey, "b").at(Span::new("f.yaml", 9, 1));
        let b = Diagnostic::new(ErrorCode::UnknownKey, "a").at(Span::new("f.yaml", 2, 3));
        let err = Diagnostics::check(vec![a, b]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "f.yaml:2:3: error[E1002]: a\nf.yaml:9:1: error[E1002]: b"
        );
        assert!(Diagnostics::check(vec![]).is_ok());
    }
}
