//! `touchstone query`: its output formats (the query runs, and its rows are written, in
//! `touchstone_pipeline`).

use touchstone_pipeline::RowFormat;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// An aligned text table.
    Table,
    /// CSV with a header.
    Csv,
    /// A JSON array of objects.
    Json,
}

impl From<Format> for RowFormat {
    fn from(format: Format) -> Self {
        match format {
            Format::Table => RowFormat::Table,
            Format::Csv => RowFormat::Csv,
            Format::Json => RowFormat::Json,
        }
    }
}
