//! Readers for vendor exports (CRM, IVR/telephony, chat, surveys, web events): raw files to
//! canonical Arrow batches plus rejects.
//!
//! One module per source system turns one raw export file into `RecordBatch`es of the staging
//! schemas in [`touchstone_core::schema`] (lineage columns included) and a [`Reject`] for every
//! record it cannot read:
//!
//! | format ([`SourceFormat`]) | module | staging tables |
//! |---|---|---|
//! | `salesforce_csv` | [`crm`] | `stg_accounts`, `stg_contacts`, `stg_cases`, `stg_opportunities`, `stg_orders` |
//! | `asterisk_cdr` | [`ivr`] | `stg_calls` |
//! | `asterisk_queue_log` | [`ivr`] | `stg_queue_events` |
//! | `amazon_connect_ctr` | [`ivr`] | `stg_calls` |
//! | `livechat` | [`chat`] | `stg_chats`, `stg_chat_messages` |
//! | `survey_csv` | [`surveys`] | `stg_survey_responses` |
//! | `segment_events` | [`web`] | `stg_web_events` |
//!
//! # Conservation
//!
//! For every file, `rows_read = rows_staged + rows_rejected` ([`FileStats`]), where a row is one
//! record at the format's grain:
//!
//! - CSV formats (Salesforce, survey, Asterisk CDR): one CSV data record; the header is not a
//!   record. In Salesforce and survey exports a quoted field may hold line breaks, and such a
//!   multi-line record is one record, reported at the line it starts on; Asterisk CDR records
//!   are one line each. A malformed record — a stray quote, text after a closing quote, a quote
//!   never closed, or a "multi-line record" whose field count differs from the header's (two
//!   stray quotes pairing up across lines) — is rejected as its first physical line, and reading
//!   resumes on the next line, so one bad quote never swallows the records after it.
//! - Asterisk `queue_log`, Segment events: one line.
//! - Amazon Connect CTR: one JSON object, whether one per line, pretty-printed or concatenated
//!   (several records may then share a line); damaged text is one reject per damaged object
//!   (see the [`ivr`] docs for how the stream is re-synchronised).
//! - LiveChat: one chat line. A chat is staged whole — one `stg_chats` row per thread and one
//!   `stg_chat_messages` row per event — or rejected whole; `rows_staged` counts chats, not the
//!   rows they produce.
//!
//! Blank lines (empty or only whitespace) are not records. A UTF-8 byte-order mark at the start
//! of a file is skipped. Record-level problems are rejects with the 1-based line the record
//! starts on and a reason that names the column or field and the expected form; only
//! file-level problems are an [`ExtractError`].
//!
//! # Example
//!
//! ```
//! use touchstone_core::{SourceFormat, StagingTable};
//! use touchstone_extract::{read_file, ExtractError, Lineage, ReadOptions, Reject, Sink};
//! use arrow::record_batch::RecordBatch;
//!
//! #[derive(Default)]
//! struct Collect { rows: usize, rejects: Vec<Reject> }
//! impl Sink for Collect {
//!     fn batch(&mut self, _t: StagingTable, b: RecordBatch) -> Result<(), ExtractError> {
//!         self.rows += b.num_rows();
//!         Ok(())
//!     }
//!     fn reject(&mut self, r: Reject) -> Result<(), ExtractError> {
//!         self.rejects.push(r);
//!         Ok(())
//!     }
//! }
//!
//! let log = "1722506062|1722506060.12|support|NONE|ENTERQUEUE||5551234|1\n\
//!            not a queue_log line\n";
//! let lineage = Lineage {
//!     source: "asterisk",
//!     file: "memory://raw/queue_log",
//!     ingest_date: chrono::NaiveDate::from_ymd_opt(2026, 8, 1).unwrap_or_default(),
//! };
//! let mut sink = Collect::default();
//! let stats = read_file(
//!     SourceFormat::AsteriskQueueLog,
//!     &ReadOptions::default(),
//!     &lineage,
//!     &mut log.as_bytes(),
//!     &mut sink,
//! )?;
//! assert_eq!((stats.rows_read, stats.rows_staged, stats.rows_rejected), (2, 1, 1));
//! assert_eq!(sink.rejects[0].line, 2);
//! # Ok::<(), ExtractError>(())
//! ```

#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::io::BufRead;

use arrow::record_batch::RecordBatch;
use touchstone_core::{SourceFormat, StagingTable};

pub mod agent_reviews;
pub mod calendar;
pub mod chat;
mod compress;
pub mod crm;
mod error;
mod header;
pub mod hubspot;
mod input;
pub mod intercom;
pub mod ivr;
mod json;
pub mod source;
mod state;
pub mod surveys;
mod table;
pub mod text;
mod time;
pub mod web;
pub mod zendesk;

#[cfg(test)]
mod bad_input;
#[cfg(test)]
mod conservation;
#[cfg(test)]
mod public_csv_files;
#[cfg(test)]
mod public_files;
#[cfg(test)]
mod testutil;

pub use compress::decompress;
pub use crm::SalesforceObject;
pub use error::ExtractError;
pub use hubspot::HubspotObject;
pub use state::{SourceState, StagedRecords};

/// Most rows in one batch sent to a [`Sink`].
pub const BATCH_ROWS: usize = 8192;

/// How to read one file: the options a pipeline source may set.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Time zone of timestamps written without an offset (Asterisk CDR local times; Salesforce,
    /// HubSpot, survey and review datetimes like `2018-10-13 17:16:45`); default UTC.
    /// See [`ivr`] for how daylight-saving gaps and overlaps are resolved.
    pub timezone: chrono_tz::Tz,
    /// The Salesforce object a `salesforce_csv` file holds; when `None` it is taken from the file
    /// name ([`SalesforceObject::from_file_name`]).
    pub salesforce_object: Option<SalesforceObject>,
    // CSV/text readers (issue 8).
    /// The character encoding of the file (default UTF-8); see the [`text`](mod@text) layer.
    pub encoding: &'static encoding_rs::Encoding,
    /// The HubSpot object a `hubspot` file holds; when `None` it is taken from the file name
    /// ([`HubspotObject::from_file_name`]).
    pub hubspot_object: Option<HubspotObject>,
    /// Asterisk `cdr_custom` field order (names of
    /// [`ASTERISK_CDR_FIELDS`](touchstone_core::format::ASTERISK_CDR_FIELDS)); `None` reads the
    /// `cdr_csv` layout.
    pub cdr_columns: Option<Vec<String>>,
    /// The survey export's layout and mapping; `None` is Touchstone's own layout.
    pub survey: Option<touchstone_core::config::SurveyMapping>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            timezone: chrono_tz::UTC,
            salesforce_object: None,
            encoding: encoding_rs::UTF_8,
            hubspot_object: None,
            cdr_columns: None,
            survey: None,
        }
    }
}

/// Where the rows of a file come from, written into every staged row's lineage columns.
#[derive(Debug, Clone, Copy)]
pub struct Lineage<'a> {
    /// The pipeline source name (`_source`).
    pub source: &'a str,
    /// The file, as an object-store URL or path (`_source_file`); also names the file in errors
    /// and tells the Salesforce object when the source does not set it.
    pub file: &'a str,
    /// The logical date of the run (`_ingest_date`).
    pub ingest_date: chrono::NaiveDate,
}

/// A record that could not be staged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// The 1-based line the record starts on.
    pub line: u64,
    /// Why: names the column or field and the expected form.
    pub reason: String,
    /// The record's text (invalid UTF-8 shown as U+FFFD), truncated to about 2 KB.
    pub raw: String,
}

/// Receives what a file yields: batches of staged rows and rejects, in file order per table.
pub trait Sink {
    /// Takes a batch of `table`'s full staging schema (lineage columns included), at most
    /// [`BATCH_ROWS`] rows.
    fn batch(&mut self, table: StagingTable, batch: RecordBatch) -> Result<(), ExtractError>;
    /// Takes one rejected record.
    fn reject(&mut self, reject: Reject) -> Result<(), ExtractError>;
}

/// Counts for one file. `rows_read = rows_staged + rows_rejected + duplicates` always holds.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FileStats {
    /// Records read, at the format's grain (see the crate docs).
    pub rows_read: u64,
    /// Records staged.
    pub rows_staged: u64,
    /// Records rejected.
    pub rows_rejected: u64,
    /// Records delivered more than once (at-least-once streams): read and counted, not staged
    /// again, not rejected.
    pub duplicates: u64,
    /// Staged records whose text had to be repaired (bytes invalid in the declared encoding
    /// replaced by U+FFFD); they are also in `rows_staged`.
    pub rows_repaired: u64,
    /// Things the reader noticed that lose nothing but a user should know (a missing optional
    /// column, a local time in a daylight-saving gap), each with how many records it concerns.
    pub warnings: BTreeMap<String, u64>,
}

impl FileStats {
    /// Adds `other`'s counts and warnings to these.
    pub fn add(&mut self, other: &FileStats) {
        self.rows_read += other.rows_read;
        self.rows_staged += other.rows_staged;
        self.rows_rejected += other.rows_rejected;
        self.duplicates += other.duplicates;
        self.rows_repaired += other.rows_repaired;
        for (warning, n) in &other.warnings {
            *self.warnings.entry(warning.clone()).or_default() += n;
        }
    }

    /// Whether every record read is staged, rejected or a counted duplicate.
    pub fn conserved(&self) -> bool {
        self.rows_read == self.rows_staged + self.rows_rejected + self.duplicates
    }
}

/// Parses one whole file, streaming batches of at most [`BATCH_ROWS`] rows to the sink.
///
/// Record-level problems become [`Reject`]s; an `Err` means the file as a whole could not be read
/// (I/O, compression, a missing required CSV column, an unknown Salesforce object). Batches and
/// rejects already sent before an error stay sent; the caller decides whether to keep them.
pub fn read_file(
    format: SourceFormat,
    opts: &ReadOptions,
    lineage: &Lineage,
    input: &mut dyn BufRead,
    sink: &mut dyn Sink,
) -> Result<FileStats, ExtractError> {
    let mut state = SourceState::new();
    let (stats, outcome) = read_file_partial(format, opts, lineage, input, sink, &mut state);
    outcome.map(|()| stats)
}

/// Like [`read_file`], but also returns the counts of what was read before a file-level error:
/// the records sent to the sink before the error stay counted, so a caller that keeps them
/// (and records the file as failed) still conserves every row.
///
/// `state` is what the source's earlier files of this run left (see [`SourceState`]): pass the
/// same state for every file of one source, so a record delivered again in a later file is
/// counted as a duplicate rather than staged twice.
pub fn read_file_partial(
    format: SourceFormat,
    opts: &ReadOptions,
    lineage: &Lineage,
    input: &mut dyn BufRead,
    sink: &mut dyn Sink,
    state: &mut SourceState,
) -> (FileStats, Result<(), ExtractError>) {
    let head = match input.fill_buf() {
        Ok(head) => head,
        Err(e) => {
            return (
                FileStats::default(),
                Err(ExtractError::from_io(lineage.file, e)),
            );
        }
    };
    let mut transcoded;
    let input: &mut dyn BufRead = match text::effective_encoding(opts.encoding, head) {
        None => {
            if let Err(e) = input::skip_bom(input) {
                return (
                    FileStats::default(),
                    Err(ExtractError::from_io(lineage.file, e)),
                );
            }
            input
        }
        Some(encoding) => {
            transcoded = text::Transcoder::new(encoding, input);
            &mut transcoded
        }
    };
    state.begin_file(lineage.file);
    let mut ctx = Ctx {
        lineage,
        sink,
        state,
        stats: FileStats::default(),
    };
    let outcome = read_format(format, opts, &mut ctx, input);
    let stats = std::mem::take(&mut ctx.stats);
    if let Err(e) = outcome {
        return (stats, Err(e));
    }
    if !stats.conserved() {
        let detail = format!(
            "rows read ({}) != rows staged ({}) + rows rejected ({}) + duplicates ({})",
            stats.rows_read, stats.rows_staged, stats.rows_rejected, stats.duplicates
        );
        return (
            stats,
            Err(ExtractError::Internal {
                file: lineage.file.to_owned(),
                detail,
            }),
        );
    }
    tracing::debug!(
        file = lineage.file,
        %format,
        rows_read = stats.rows_read,
        rows_staged = stats.rows_staged,
        rows_rejected = stats.rows_rejected,
        duplicates = stats.duplicates,
        "file extracted"
    );
    (stats, Ok(()))
}

fn read_format(
    format: SourceFormat,
    opts: &ReadOptions,
    ctx: &mut Ctx<'_, '_>,
    input: &mut dyn BufRead,
) -> Result<(), ExtractError> {
    match format {
        SourceFormat::SalesforceCsv => crm::read(opts, ctx, input)?,
        SourceFormat::AsteriskCdr => ivr::cdr::read(opts, ctx, input)?,
        SourceFormat::AsteriskQueueLog => ivr::queue_log::read(ctx, input)?,
        SourceFormat::AmazonConnectCtr => ivr::ctr::read(ctx, input)?,
        SourceFormat::Livechat => chat::read(ctx, input)?,
        SourceFormat::SurveyCsv => surveys::read(opts, ctx, input)?,
        SourceFormat::SegmentEvents => web::read(ctx, input)?,
        SourceFormat::Zendesk => zendesk::read(ctx, input)?,
        SourceFormat::Intercom => intercom::read(ctx, input)?,
        SourceFormat::Hubspot => hubspot::read(opts, ctx, input)?,
        SourceFormat::AgentReviews => agent_reviews::read(opts, ctx, input)?,
        SourceFormat::Calendar => calendar::read(ctx, input)?,
    }
    Ok(())
}

/// What every format reader works with: lineage, the sink, the source's state and the counts.
pub(crate) struct Ctx<'a, 's> {
    pub(crate) lineage: &'a Lineage<'a>,
    pub(crate) sink: &'s mut dyn Sink,
    pub(crate) state: &'s mut SourceState,
    pub(crate) stats: FileStats,
}

impl Ctx<'_, '_> {
    /// Sends a reject for a record starting on `line`.
    pub(crate) fn reject(
        &mut self,
        line: u64,
        reason: String,
        raw: &[u8],
    ) -> Result<(), ExtractError> {
        self.stats.rows_rejected += 1;
        self.sink.reject(Reject {
            line,
            reason,
            raw: input::raw_text(raw),
        })
    }

    /// Settles one single-row record: stages the row written into `tb`, or rejects the record.
    pub(crate) fn settle(
        &mut self,
        tb: &mut table::TableBuilder,
        line: u64,
        outcome: Result<(), String>,
        raw: &[u8],
    ) -> Result<(), ExtractError> {
        match outcome {
            Ok(()) => {
                tb.end_row(line)?;
                tb.commit(self.sink)?;
                self.staged_record(raw);
                Ok(())
            }
            Err(reason) => {
                tb.discard();
                self.reject(line, reason, raw)
            }
        }
    }

    /// Settles one single-row record of a stream that may deliver it more than once: stages it,
    /// counts it as a duplicate when its id was staged before at the same or a later version
    /// (see [`SourceState`]), or rejects it.
    pub(crate) fn settle_delivery(
        &mut self,
        tb: &mut table::TableBuilder,
        line: u64,
        outcome: Result<Identity, String>,
        raw: &[u8],
    ) -> Result<(), ExtractError> {
        match outcome {
            Ok(identity) => {
                if self.is_duplicate(&identity) {
                    tb.discard();
                    Ok(())
                } else {
                    self.settle(tb, line, Ok(()), raw)
                }
            }
            Err(reason) => self.settle(tb, line, Err(reason), raw),
        }
    }

    /// Checks a valid record against what the source staged before; a duplicate is counted.
    pub(crate) fn is_duplicate(&mut self, identity: &Identity) -> bool {
        let duplicate = self
            .state
            .deliver(identity.kind, &identity.id, identity.version)
            == state::Delivery::Duplicate;
        if duplicate {
            self.duplicate();
        }
        duplicate
    }

    /// Counts a staged record whose text was `raw`: a record whose bytes were not valid (UTF-8
    /// after the [`text`](mod@text) layer) was staged with U+FFFD in place of the bad bytes, and
    /// is also counted as repaired.
    pub(crate) fn staged_record(&mut self, raw: &[u8]) {
        self.stats.rows_staged += 1;
        if text::needs_repair(raw) {
            self.stats.rows_repaired += 1;
        }
    }

    /// Counts a record read.
    pub(crate) fn read(&mut self) {
        self.stats.rows_read += 1;
    }

    /// Counts a record delivered again (see [`SourceState`]): read, not staged, not rejected.
    pub(crate) fn duplicate(&mut self) {
        self.stats.duplicates += 1;
    }

    /// Notes a warning about `records` records (or about the file, with 1).
    pub(crate) fn warn(&mut self, warning: impl Into<String>, records: u64) {
        *self.stats.warnings.entry(warning.into()).or_default() += records;
    }

    /// Maps an I/O error of this file.
    pub(crate) fn io(&self, e: std::io::Error) -> ExtractError {
        ExtractError::from_io(self.lineage.file, e)
    }

    /// A builder for `table` with this file's lineage.
    pub(crate) fn builder(&self, table: StagingTable) -> Result<table::TableBuilder, ExtractError> {
        table::TableBuilder::new(table, self.lineage)
    }
}

/// Who a record of an at-least-once stream is: what its copies share.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    /// The kind of record (ids are unique within a kind): `ctr`, `segment:track`, ...
    pub(crate) kind: &'static str,
    /// Its id.
    pub(crate) id: String,
    /// Its version (a timestamp, µs), or [`state::UNVERSIONED`].
    pub(crate) version: i64,
}

/// Days since 1970-01-01.
pub(crate) fn days_since_epoch(date: chrono::NaiveDate) -> i32 {
    date.signed_duration_since(chrono::NaiveDate::default())
        .num_days()
        .try_into()
        .unwrap_or_default()
}
