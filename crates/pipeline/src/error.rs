//! What can stop a run, grouped into the categories a scheduler acts on.

use touchstone_core::diagnostic::Diagnostics;
use touchstone_extract::ExtractError;
use touchstone_extract::source::ListError;
use touchstone_load::LoadError;
use touchstone_load::lock::LockError;
use touchstone_transform::TransformError;

/// Why a run (or a read of the warehouse) did not complete.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The pipeline, a model or a metric is invalid: nothing was written. Every problem is in
    /// the list, located at `file:line:col` with a stable code.
    #[error("{0}")]
    Invalid(Diagnostics),
    /// A source matched no file: nothing was written.
    #[error("{0}")]
    SourceMissing(Diagnostics),
    /// Listing a source failed (permissions, network, a malformed glob).
    #[error("listing source '{source_name}': {error}")]
    List {
        /// The pipeline source.
        source_name: String,
        /// What the store said.
        #[source]
        error: Box<ListError>,
    },
    /// A source's file could not be read as a whole.
    #[error("source '{source_name}': {error}")]
    Extract {
        /// The pipeline source.
        source_name: String,
        /// The reader's error (names the file).
        #[source]
        error: Box<ExtractError>,
    },
    /// A source rejected more than its configured limits allow (`max_bad_files`,
    /// `max_reject_ratio`); its rejects are committed, its staging rows are not.
    #[error(
        "source '{source_name}': {detail}; its rejects are in rejects_{source_name} and nothing of it was staged"
    )]
    RejectLimit {
        /// The pipeline source.
        source_name: String,
        /// Which limit and by how much.
        detail: String,
    },
    /// Writing or reading the warehouse failed.
    #[error("{context}: {error}")]
    Storage {
        /// What was being written or read (`staging/stg_calls for source 'connect'`).
        context: String,
        /// The storage layer's error.
        #[source]
        error: Box<LoadError>,
    },
    /// The engine failed while computing a model or the metrics (out of memory, a runtime
    /// error in a function). Not a problem of the definitions, which planned.
    #[error("computing {what}: {message}")]
    Engine {
        /// The model or step.
        what: String,
        /// The engine's message (first line).
        message: String,
    },
    /// The directory the engine spills to (`spill_dir:`) cannot be created or written.
    #[error(
        "spill directory {}: {error}; set spill_dir: in the pipeline file to a writable directory with free space",
        dir.display()
    )]
    SpillDir {
        /// The directory.
        dir: std::path::PathBuf,
        /// What the file system said.
        #[source]
        error: std::io::Error,
    },
    /// A query over the warehouse failed (it does not parse or plan, or names an unknown
    /// table); the message lists the tables there are.
    #[error("{0}")]
    Query(String),
    /// A statement that would write, or read outside the warehouse, was refused.
    #[error("{0}")]
    ReadOnly(String),
    /// A statement that would read files, URLs or other databases was refused.
    #[error("{0}")]
    OutsideWarehouse(String),
    /// Another run of the pipeline holds its lock (`_touchstone/lock/<pipeline>.json`):
    /// nothing was written.
    #[error("{0}")]
    LockHeld(Box<LockError>),
    /// The lock could not be read, written or kept (the store failed, or another run took the
    /// lease over because this one could not renew it).
    #[error("the pipeline lock: {0}")]
    Lock(Box<LockError>),
    /// A bug: an invariant Touchstone checks did not hold.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The category of a [`PipelineError`], which decides the exit code of the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Invalid configuration, models or metrics.
    Invalid,
    /// A source with no files.
    SourceMissing,
    /// A source over its reject limits.
    RejectLimit,
    /// Storage or engine failure while running.
    RunFailed,
    /// Another run of the pipeline holds its lock.
    LockHeld,
    /// A bug in Touchstone.
    Internal,
}

impl ErrorKind {
    /// The process exit code for this kind, the one place it is decided: 1 invalid
    /// configuration, 2 a run that failed (storage, engine, internal error), 3 a source with no
    /// files, 4 rejects over a source's limits, 5 the pipeline's lock is held by another run.
    /// (0 is success; clap's usage errors also exit 2.)
    ///
    /// ```
    /// use touchstone_pipeline::ErrorKind;
    /// assert_eq!(ErrorKind::LockHeld.exit_code(), 5);
    /// ```
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Invalid => 1,
            ErrorKind::RunFailed | ErrorKind::Internal => 2,
            ErrorKind::SourceMissing => 3,
            ErrorKind::RejectLimit => 4,
            ErrorKind::LockHeld => 5,
        }
    }
}

impl PipelineError {
    /// The category.
    pub fn kind(&self) -> ErrorKind {
        match self {
            PipelineError::Invalid(_) => ErrorKind::Invalid,
            PipelineError::SourceMissing(_) => ErrorKind::SourceMissing,
            PipelineError::RejectLimit { .. } => ErrorKind::RejectLimit,
            PipelineError::List { .. }
            | PipelineError::Extract { .. }
            | PipelineError::Storage { .. }
            | PipelineError::Engine { .. }
            | PipelineError::SpillDir { .. }
            | PipelineError::Query(_)
            | PipelineError::ReadOnly(_)
            | PipelineError::OutsideWarehouse(_)
            | PipelineError::Lock(_) => ErrorKind::RunFailed,
            PipelineError::LockHeld(_) => ErrorKind::LockHeld,
            PipelineError::Internal(_) => ErrorKind::Internal,
        }
    }

    /// The diagnostics of an invalid pipeline or a missing source.
    pub fn diagnostics(&self) -> Option<&Diagnostics> {
        match self {
            PipelineError::Invalid(d) | PipelineError::SourceMissing(d) => Some(d),
            _ => None,
        }
    }

    pub(crate) fn storage(context: impl Into<String>) -> impl FnOnce(LoadError) -> Self {
        let context = context.into();
        move |error| PipelineError::Storage {
            context,
            error: Box::new(error),
        }
    }

    pub(crate) fn engine(
        what: impl Into<String>,
    ) -> impl FnOnce(datafusion::error::DataFusionError) -> Self {
        let what = what.into();
        move |e| {
            // The summary keeps the first line; the whole chain (the memory pool's largest
            // consumers, the cause under a context) is in the debug log.
            tracing::debug!(what = %what, error = %e.strip_backtrace(), "engine error");
            PipelineError::Engine {
                what,
                message: touchstone_core::diagnostic::first_line(&e.strip_backtrace()),
            }
        }
    }
}

impl From<Diagnostics> for PipelineError {
    fn from(d: Diagnostics) -> Self {
        PipelineError::Invalid(d)
    }
}

impl From<LockError> for PipelineError {
    fn from(e: LockError) -> Self {
        match e {
            LockError::Held { .. } => PipelineError::LockHeld(Box::new(e)),
            _ => PipelineError::Lock(Box::new(e)),
        }
    }
}

impl From<TransformError> for PipelineError {
    fn from(e: TransformError) -> Self {
        match e {
            TransformError::Engine { context, source } => PipelineError::Engine {
                what: context,
                message: touchstone_core::diagnostic::first_line(&source.strip_backtrace()),
            },
        }
    }
}
