//! The one error type of the generator.

use std::path::PathBuf;

/// Everything that can stop [`crate::generate`] or [`crate::simulate_purchases`].
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// An option is out of its valid range.
    #[error("invalid option `{option}`: {reason}")]
    InvalidOption {
        /// The option's name, as the CLI spells it.
        option: &'static str,
        /// Why the value was refused.
        reason: String,
    },
    /// A model parameter is not a valid distribution parameter (for example a negative shape).
    #[error("invalid model parameter `{name}` = {value}: {reason}")]
    InvalidParameter {
        /// The parameter's name (`r`, `alpha`, ...).
        name: &'static str,
        /// The refused value.
        value: f64,
        /// Why it was refused.
        reason: String,
    },
    /// Creating a directory or writing a file failed.
    #[error("cannot write `{path}`: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Serializing a JSON record failed.
    #[error("cannot serialize a {what} record: {source}")]
    Json {
        /// The kind of record.
        what: &'static str,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
    /// Writing a CSV record failed.
    #[error("cannot write a {what} CSV record: {source}")]
    Csv {
        /// The file kind.
        what: &'static str,
        /// The underlying error.
        #[source]
        source: csv::Error,
    },
    /// Building an Arrow batch of a truth table failed.
    #[error("cannot build truth table `{table}`: {source}")]
    Arrow {
        /// The truth table.
        table: &'static str,
        /// The underlying error.
        #[source]
        source: arrow::error::ArrowError,
    },
    /// Writing a truth Parquet file failed.
    #[error("cannot write truth parquet `{path}`: {source}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// A date or time fell outside what the calendar functions support.
    #[error("date out of range: {what}")]
    DateOutOfRange {
        /// What was being computed.
        what: String,
    },
}

impl SynthError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        SynthError::Io {
            path: path.into(),
            source,
        }
    }
}
