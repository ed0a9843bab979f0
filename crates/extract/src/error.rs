//! The crate's one error type: file-level failures only.
//!
//! Anything wrong with a single record (a bad timestamp, a wrong column count, invalid JSON,
//! invalid UTF-8) is a [`Reject`](crate::Reject), never an error: the file goes on being read.
//! An `ExtractError` means the file as a whole could not be read.

/// A file-level failure: the file (or the sink it was being written to) could not be processed.
///
/// Every message names the file and, where there is one, the fix.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// Reading the input failed (the underlying reader returned an I/O error).
    #[error("{file}: read failed: {source}")]
    Io {
        /// The file being read.
        file: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The input is not valid data of the compression its file name calls for.
    #[error(
        "{file}: the file name ends in '.{extension}' but the content is not valid {codec} data: {detail}; \
         rename the file if it is not compressed, or re-export it"
    )]
    Decompress {
        /// The file being read.
        file: String,
        /// The file-name extension that selected the codec (`gz` or `zst`).
        extension: &'static str,
        /// The codec (`gzip` or `zstd`).
        codec: &'static str,
        /// What the decoder reported.
        detail: String,
    },

    /// A CSV export lacks a column the staging table cannot do without.
    #[error(
        "{file}: missing required column '{column}'; the {export} export must include it{hint}"
    )]
    MissingColumn {
        /// The file being read.
        file: String,
        /// The column, as the vendor names it in the header.
        column: String,
        /// The export, e.g. `Order` or `survey`.
        export: String,
        /// More on the fix (empty, or starting with `; `).
        hint: String,
    },

    /// The header line of a CSV export could not be read.
    #[error("{file}:{line}: unreadable header: {reason}")]
    BadHeader {
        /// The file being read.
        file: String,
        /// The 1-based line of the header.
        line: u64,
        /// What is wrong with it.
        reason: String,
    },

    /// A Salesforce CSV whose object cannot be told from its file name.
    #[error(
        "{file}: cannot tell which Salesforce object this file holds from its name; name the file after \
         the object (Account.csv, Contact.csv, Case.csv, Opportunity.csv, Order.csv) or set \
         `object:` on the source (one of Account, Contact, Case, Opportunity, Order)"
    )]
    UnknownSalesforceObject {
        /// The file being read.
        file: String,
    },

    /// A HubSpot CSV whose object cannot be told from its file name.
    #[error(
        "{file}: cannot tell which HubSpot object this file holds from its name; name the file after \
         the object (contacts.csv, companies.csv, deals.csv) or set `object:` on the source (one of \
         contacts, companies, deals)"
    )]
    UnknownHubspotObject {
        /// The file being read.
        file: String,
    },

    /// An Asterisk CDR file whose fields do not fit the layout the source declares.
    #[error("{file}:{line}: {detail}")]
    CdrLayout {
        /// The file being read.
        file: String,
        /// The first record's line.
        line: u64,
        /// What does not fit, and the fix.
        detail: String,
    },

    /// A YAML file (calendar) that is not valid YAML or not of the expected shape.
    #[error("{file}:{line}:{column}: {detail}")]
    BadYaml {
        /// The file being read.
        file: String,
        /// Where (1-based).
        line: u64,
        /// Where (1-based).
        column: u64,
        /// What is wrong and the fix.
        detail: String,
    },

    /// The sink refused a batch or a reject.
    #[error("sink failed: {source}")]
    Sink {
        /// What the sink reported.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// Building an Arrow batch failed. This is a bug in the extractor, not a problem of the input.
    #[error("{file}: internal error building a batch (a bug in touchstone-extract): {detail}")]
    Internal {
        /// The file being read.
        file: String,
        /// What went wrong.
        detail: String,
    },
}

impl ExtractError {
    /// Wraps any error a [`Sink`](crate::Sink) implementation hits.
    pub fn sink(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        ExtractError::Sink {
            source: source.into(),
        }
    }

    /// Maps an I/O error met while reading `file`, recognising decoder failures.
    pub(crate) fn from_io(file: &str, source: std::io::Error) -> Self {
        if let Some(bad) = source
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<crate::compress::CorruptCompression>())
        {
            return ExtractError::Decompress {
                file: file.to_owned(),
                extension: bad.extension,
                codec: bad.codec,
                detail: bad.detail.clone(),
            };
        }
        ExtractError::Io {
            file: file.to_owned(),
            source,
        }
    }
}
