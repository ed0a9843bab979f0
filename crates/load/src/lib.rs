//! Writes tables to object storage as Delta tables.
//!
//! A [`Warehouse`] is a root URL (`file://`, `memory://`, `s3://`, `az://`, `gs://`) holding
//! `staging/<table>`, `marts/<table>`, `rejects/<source>` and `_touchstone/<ledger>` Delta
//! tables. Every write is one Delta commit: readers see the previous version until the commit
//! lands, and a crash at any point leaves the last committed version readable.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use arrow::array::Int64Array;
//! use arrow::datatypes::{DataType, Field, Schema};
//! use arrow::record_batch::RecordBatch;
//! use touchstone_load::{TableKind, Warehouse, WriteMode};
//!
//! let wh = Warehouse::open(&url::Url::parse("memory://doc/")?)?;
//! let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
//! let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![1, 2, 3]))])?;
//! let written = wh
//!     .write_batches(TableKind::Mart, "example", schema, vec![batch], WriteMode::Overwrite)
//!     .await?;
//! assert_eq!((written.rows, written.version), (3, 0));
//! # Ok(()) }
//! ```

use std::sync::{Arc, Once};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::catalog::Session;
use datafusion::datasource::{MemTable, TableProvider};
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::context::QueryPlanner;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{SessionContext, col, lit};
use deltalake::delta_datafusion::planner::DeltaPlanner;
use deltalake::kernel::transaction::{CommitProperties, TransactionError};
use deltalake::logstore::{
    LogStore, LogStoreFactory, StorageConfig, default_logstore, logstore_factories,
};
use deltalake::operations::update_table_metadata::TableMetadataUpdate;
use deltalake::operations::write::SchemaMode;
use deltalake::parquet::basic::{Compression, ZstdLevel};
use deltalake::parquet::file::properties::WriterProperties;
use deltalake::protocol::SaveMode;
use deltalake::{DeltaTable, DeltaTableBuilder, DeltaTableError, ObjectStore};
use futures::TryStreamExt;
use object_store::ObjectStoreExt as _;
use object_store::path::Path as StorePath;
use touchstone_core::store;
use url::Url;

mod doc;
pub mod files;
pub mod ledger;
pub mod lock;
mod per_source;
pub mod seen;
pub mod stream;

pub use doc::{COMMENT_KEY, MAX_DESCRIPTION_CHARS, TableDoc};
pub use stream::{BatchSender, TableStream, WriterGone};

/// What can go wrong writing or reading the warehouse.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The warehouse URL cannot be opened.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// A Delta operation failed.
    #[error("Delta table {table}: {source}")]
    Delta {
        /// The table's URL.
        table: String,
        /// What delta-rs said.
        #[source]
        source: Box<DeltaTableError>,
    },
    /// Listing or reading the store failed.
    #[error("cannot list {location}: {source}")]
    List {
        /// Where.
        location: String,
        /// The store's error.
        #[source]
        source: object_store::Error,
    },
    /// Another writer committed to the table while this write was in flight; nothing of this
    /// write was committed.
    #[error(
        "{table}: another writer committed to this table while this one was writing it; \
         nothing of this write was committed (runs of one warehouse must not overlap: wait for \
         the other run and run again)"
    )]
    ConcurrentWrite {
        /// The table's URL.
        table: String,
    },
    /// The warehouse cannot be written (permissions, a read-only or full disk, a path that is a
    /// file).
    #[error("the warehouse {root} cannot be written: {cause}")]
    NotWritable {
        /// The warehouse root.
        root: String,
        /// Why, as the store or the file system said it.
        cause: String,
    },
    /// A DataFusion error while planning or registering.
    #[error("{context}: {source}")]
    Engine {
        /// What was being done.
        context: String,
        /// The engine's error.
        #[source]
        source: Box<datafusion::error::DataFusionError>,
    },
}

/// The kinds of table a warehouse holds; each lives under its own prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TableKind {
    /// `staging/<stg_table>`: vendor exports in canonical form.
    Staging,
    /// `marts/<table>`: modelled outputs.
    Mart,
    /// `rejects/<source>`: records that could not be staged.
    Rejects,
    /// `_touchstone/<ledger>`: Touchstone's own bookkeeping (runs).
    System,
}

impl TableKind {
    /// Every kind.
    pub const ALL: [TableKind; 4] = [
        TableKind::Staging,
        TableKind::Mart,
        TableKind::Rejects,
        TableKind::System,
    ];

    /// The prefix under the warehouse root.
    pub fn prefix(self) -> &'static str {
        match self {
            TableKind::Staging => "staging",
            TableKind::Mart => "marts",
            TableKind::Rejects => "rejects",
            TableKind::System => "_touchstone",
        }
    }

    /// The name a table of this kind has in SQL: staging and mart tables by their own name,
    /// `rejects_<source>`, `_touchstone_<ledger>`.
    pub fn sql_name(self, name: &str) -> String {
        match self {
            TableKind::Staging | TableKind::Mart => name.to_string(),
            TableKind::Rejects => format!("rejects_{name}"),
            TableKind::System => format!("_touchstone_{name}"),
        }
    }
}

/// How a write replaces what is there.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteMode {
    /// Replace the whole table.
    Overwrite,
    /// Replace only the rows whose partition `column` equals `value` (the table is partitioned
    /// by `column`).
    ReplacePartition {
        /// Partition column.
        column: String,
        /// Its value for the rows written.
        value: String,
    },
    /// Add rows.
    Append,
    /// Replace only the rows that came from some files: rows whose `file_column` is one of
    /// `files` (and, in a table partitioned by `partition`'s column, whose partition is its
    /// value) are removed, and the rows written take their place. Every row written must come
    /// from one of `files`. This is how an incremental run restages changed files and adds
    /// new ones without touching the rest.
    ReplaceFiles {
        /// The partition (column, value) the rows belong to, for a partitioned table.
        partition: Option<(String, String)>,
        /// The column naming each row's file.
        file_column: String,
        /// The files whose rows are replaced (changed ones) or added (new ones).
        files: Vec<String>,
    },
}

/// What a write committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// Rows written by this commit.
    pub rows: u64,
    /// The table version created.
    pub version: u64,
}

/// A table found in the warehouse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableEntry {
    /// Its kind.
    pub kind: TableKind,
    /// Its directory name.
    pub name: String,
    /// Its URL.
    pub url: Url,
}

impl TableEntry {
    /// Its name in SQL.
    pub fn sql_name(&self) -> String {
        self.kind.sql_name(&self.name)
    }
}

/// A warehouse root.
#[derive(Debug, Clone)]
pub struct Warehouse {
    root: Url,
    store: Arc<dyn ObjectStore>,
    root_path: StorePath,
}

impl Warehouse {
    /// Opens the warehouse at `root` (a directory URL; see [`touchstone_core::store`]).
    pub fn open(root: &Url) -> Result<Self, LoadError> {
        register_logstores();
        let mut root = root.clone();
        if !root.path().ends_with('/') {
            let path = format!("{}/", root.path());
            root.set_path(&path);
        }
        let (store, root_path) = store::open(&root)?;
        Ok(Warehouse {
            root,
            store,
            root_path,
        })
    }

    /// Checks that the warehouse can be written, before a run does any work: writes and deletes
    /// a small object under `_touchstone/`. A local path that is a file, a directory that cannot
    /// be created or written, and a full disk fail here with the path and the cause.
    pub async fn check_writable(&self) -> Result<(), LoadError> {
        let not_writable = |cause: String| LoadError::NotWritable {
            root: self.root.to_string(),
            cause,
        };
        if let Some(path) = store::local_path(&self.root) {
            // `dir/` of a file does not "exist"; look at `dir` itself.
            let path = std::path::PathBuf::from(path.to_string_lossy().trim_end_matches('/'));
            let mut existing = path.as_path();
            // The nearest part of the path that exists must be a directory.
            while !existing.exists() {
                match existing.parent() {
                    Some(parent) => existing = parent,
                    None => break,
                }
            }
            if existing.exists() && !existing.is_dir() {
                return Err(not_writable(format!(
                    "{} is a file, not a directory; point the warehouse at a directory",
                    existing.display()
                )));
            }
        }
        // A name of its own, so that runs checking at once do not delete each other's probe.
        static PROBES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let probe = self
            .root_path
            .clone()
            .join(TableKind::System.prefix())
            .join(format!(
                ".write-check-{}-{nanos}-{}",
                std::process::id(),
                PROBES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            ));
        let payload = bytes::Bytes::from_static(b"touchstone write check\n");
        self.store
            .put(&probe, payload.into())
            .await
            .map_err(|e| not_writable(store_cause(&e)))?;
        self.store
            .delete(&probe)
            .await
            .map_err(|e| not_writable(store_cause(&e)))?;
        Ok(())
    }

    /// The root URL.
    pub fn root(&self) -> &Url {
        &self.root
    }

    /// The URL of a table.
    pub fn table_url(&self, kind: TableKind, name: &str) -> Result<Url, LoadError> {
        Ok(store::join(
            &self.root,
            &format!("{}/{}", kind.prefix(), name),
        )?)
    }

    fn builder(&self, url: &Url) -> Result<DeltaTableBuilder, LoadError> {
        DeltaTableBuilder::from_url(url.clone())
            .map(|b| b.with_storage_backend(Arc::clone(&self.store), url.clone()))
            .map_err(|e| delta_error(url, e))
    }

    /// Opens a table, `None` when it has never been written.
    pub async fn open_table(
        &self,
        kind: TableKind,
        name: &str,
    ) -> Result<Option<DeltaTable>, LoadError> {
        let url = self.table_url(kind, name)?;
        let log = self
            .root_path
            .clone()
            .join(kind.prefix())
            .join(name)
            .join("_delta_log");
        let has_log = self
            .has_entries(&log)
            .await
            .map_err(|source| LoadError::List {
                location: format!("{url}_delta_log"),
                source,
            })?;
        if !has_log {
            return Ok(None);
        }
        self.load(&url).await
    }

    /// Whether anything is stored under `prefix`. A table exists once its `_delta_log` has a
    /// commit; ask the store rather than delta-rs, whose errors for a missing table differ by
    /// backend.
    async fn has_entries(&self, prefix: &StorePath) -> Result<bool, object_store::Error> {
        Ok(self.store.list(Some(prefix)).try_next().await?.is_some())
    }

    /// Loads the table at `url`, whose log is known to exist.
    async fn load(&self, url: &Url) -> Result<Option<DeltaTable>, LoadError> {
        match self.builder(url)?.load().await {
            Ok(table) => Ok(Some(table)),
            Err(DeltaTableError::NotATable(_)) | Err(DeltaTableError::InvalidTableLocation(_)) => {
                Ok(None)
            }
            Err(e) => Err(delta_error(url, e)),
        }
    }

    async fn table_for_write(&self, kind: TableKind, name: &str) -> Result<DeltaTable, LoadError> {
        match self.open_table(kind, name).await? {
            Some(table) => Ok(table),
            None => {
                let url = self.table_url(kind, name)?;
                self.builder(&url)?
                    .build()
                    .map_err(|e| delta_error(&url, e))
            }
        }
    }

    /// Writes `batches` (all of `schema`) as one commit.
    pub async fn write_batches(
        &self,
        kind: TableKind,
        name: &str,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
        mode: WriteMode,
    ) -> Result<Written, LoadError> {
        let ctx = delta_session();
        let df = MemTable::try_new(schema, vec![batches])
            .and_then(|table| ctx.read_table(Arc::new(table)))
            .map_err(|e| engine_error(format!("preparing rows for {name}"), e))?;
        let plan = df.logical_plan().clone();
        self.write_plan(kind, name, Arc::new(ctx.state()), plan, mode)
            .await
    }

    /// Executes `plan` in `session` and writes its output as one commit; rows stream from the
    /// plan to Parquet files without being collected in memory.
    pub async fn write_plan(
        &self,
        kind: TableKind,
        name: &str,
        session: Arc<dyn Session>,
        plan: LogicalPlan,
        mode: WriteMode,
    ) -> Result<Written, LoadError> {
        self.write(kind, name, session, plan, mode, None).await
    }

    /// [`Warehouse::write_plan`], with the table's description and its columns' comments
    /// written into its Delta metadata (see [`TableDoc`]). A description that differs from the
    /// table's is set by a metadata-only commit just before the write; the version returned
    /// is the write's, the table's latest.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use touchstone_load::{TableDoc, TableKind, Warehouse, WriteMode, delta_session};
    ///
    /// let wh = Warehouse::open(&url::Url::parse("memory://doc-comments/")?)?;
    /// let ctx = delta_session();
    /// let plan = ctx.sql("select 1 as steps").await?.logical_plan().clone();
    /// let doc = TableDoc::new("Journeys.").with_column("steps", "Touches in the journey.");
    /// wh.write_documented_plan(TableKind::Mart, "j", Arc::new(ctx.state()), plan, WriteMode::Overwrite, &doc)
    ///     .await?;
    /// let table = wh.open_table(TableKind::Mart, "j").await?.expect("written");
    /// let schema = table.snapshot()?.schema();
    /// let steps = schema.field("steps").expect("a column");
    /// assert_eq!(steps.metadata()["comment"].to_string(), "Touches in the journey.");
    /// # Ok(()) }
    /// ```
    pub async fn write_documented_plan(
        &self,
        kind: TableKind,
        name: &str,
        session: Arc<dyn Session>,
        plan: LogicalPlan,
        mode: WriteMode,
        doc: &TableDoc,
    ) -> Result<Written, LoadError> {
        self.write(kind, name, session, plan, mode, Some(doc)).await
    }

    async fn write(
        &self,
        kind: TableKind,
        name: &str,
        session: Arc<dyn Session>,
        plan: LogicalPlan,
        mode: WriteMode,
        doc: Option<&TableDoc>,
    ) -> Result<Written, LoadError> {
        let mut table = self.table_for_write(kind, name).await?;
        let url = self.table_url(kind, name)?;
        let mut plan = plan;
        let mut description = None;
        if let Some(doc) = doc {
            plan = doc
                .apply(plan)
                .map_err(|e| engine_error(format!("documenting the columns of {name}"), e))?;
            let text = doc.stored_description();
            if table.version().is_none() {
                // Created by this write: the description goes into its first metadata.
                description = Some(text);
            } else if doc::description(&table).unwrap_or_default() != text {
                table = table
                    .update_table_metadata()
                    .with_update(TableMetadataUpdate {
                        name: None,
                        description: Some(text),
                    })
                    .await
                    .map_err(|e| delta_error(&url, e))?;
            }
        }
        // Replacing writes are not retried: delta-rs resolves a lost race by re-committing on
        // top of the winner, and for a table both writers are creating (or replacing from the
        // same version) that keeps both writers' rows. The loser fails instead. Appends (the
        // ledger) keep delta-rs's retries: both rows belong.
        let retries = if mode == WriteMode::Append {
            CommitProperties::default()
        } else {
            CommitProperties::default().with_max_retries(0)
        };
        let mut builder = table
            .write(Vec::new())
            .with_input_plan(plan)
            .with_session_state(session)
            .with_table_name(kind.sql_name(name))
            .with_writer_properties(writer_properties())
            .with_commit_properties(retries);
        if let Some(text) = description.filter(|t| !t.is_empty()) {
            builder = builder.with_description(text);
        }
        builder = match &mode {
            // A model's columns may change between runs; its table takes the new schema.
            WriteMode::Overwrite => builder
                .with_save_mode(SaveMode::Overwrite)
                .with_schema_mode(SchemaMode::Overwrite),
            WriteMode::Append => builder.with_save_mode(SaveMode::Append),
            WriteMode::ReplacePartition { column, value } => builder
                .with_save_mode(SaveMode::Overwrite)
                .with_partition_columns([column.clone()])
                .with_replace_where(col(column.as_str()).eq(lit(value.clone()))),
            WriteMode::ReplaceFiles {
                partition,
                file_column,
                files,
            } => {
                let in_files = col(file_column.as_str())
                    .in_list(files.iter().map(|f| lit(f.clone())).collect(), false);
                match partition {
                    Some((column, value)) => builder
                        .with_save_mode(SaveMode::Overwrite)
                        .with_partition_columns([column.clone()])
                        .with_replace_where(
                            col(column.as_str()).eq(lit(value.clone())).and(in_files),
                        ),
                    None => builder
                        .with_save_mode(SaveMode::Overwrite)
                        .with_replace_where(in_files),
                }
            }
        };
        let table = builder.await.map_err(|e| delta_error(&url, e))?;
        let version = table.version().unwrap_or_default();
        let rows = last_commit_rows(&table).await;
        Ok(Written { rows, version })
    }

    /// Every Delta table in the warehouse, sorted by kind and name.
    pub async fn list_tables(&self) -> Result<Vec<TableEntry>, LoadError> {
        let mut tables = Vec::new();
        for kind in TableKind::ALL {
            let prefix = self.root_path.clone().join(kind.prefix());
            let listing = self
                .store
                .list_with_delimiter(Some(&prefix))
                .await
                .map_err(|source| LoadError::List {
                    location: format!("{}{}", self.root, kind.prefix()),
                    source,
                })?;
            for dir in listing.common_prefixes {
                let Some(name) = dir.filename().map(str::to_string) else {
                    continue;
                };
                let log = dir.clone().join("_delta_log");
                let has_log = self
                    .has_entries(&log)
                    .await
                    .map_err(|source| LoadError::List {
                        location: log.to_string(),
                        source,
                    })?;
                if has_log {
                    tables.push(TableEntry {
                        kind,
                        url: self.table_url(kind, &name)?,
                        name,
                    });
                }
            }
        }
        tables.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
        Ok(tables)
    }

    /// A DataFusion provider reading the table's current version.
    pub async fn provider(
        &self,
        ctx: &SessionContext,
        kind: TableKind,
        name: &str,
    ) -> Result<Option<Arc<dyn TableProvider>>, LoadError> {
        let Some(table) = self.open_table(kind, name).await? else {
            return Ok(None);
        };
        let url = self.table_url(kind, name)?;
        table_provider(ctx, table, &url).await.map(Some)
    }

    /// The latest committed version of a listed table, asking the store for commits after
    /// `known` (the version a reader already has; `0` lists the whole log).
    pub async fn latest_version(&self, entry: &TableEntry, known: u64) -> Result<u64, LoadError> {
        let table = self
            .builder(&entry.url)?
            .build()
            .map_err(|e| delta_error(&entry.url, e))?;
        table
            .log_store()
            .get_latest_version(known)
            .await
            .map_err(|e| delta_error(&entry.url, e))
    }

    /// A provider reading a listed table at its current version, pinned to that version (a
    /// commit that lands later is not seen through it), with the version; `None` when the
    /// table has gone.
    pub async fn versioned_provider(
        &self,
        ctx: &SessionContext,
        entry: &TableEntry,
    ) -> Result<Option<(u64, Arc<dyn TableProvider>)>, LoadError> {
        let Some(table) = self.load(&entry.url).await? else {
            return Ok(None);
        };
        let version = table.version().unwrap_or_default();
        let provider = table_provider(ctx, table, &entry.url).await?;
        Ok(Some((version, provider)))
    }

    /// Registers every table of the warehouse in `ctx` under its SQL name; returns them.
    pub async fn register_all(&self, ctx: &SessionContext) -> Result<Vec<TableEntry>, LoadError> {
        let tables = self.list_tables().await?;
        for entry in &tables {
            // Listing found each table's log already; load it without asking the store again.
            if let Some(table) = self.load(&entry.url).await? {
                let provider = table_provider(ctx, table, &entry.url).await?;
                ctx.register_table(entry.sql_name(), provider)
                    .map_err(|e| engine_error(format!("registering {}", entry.sql_name()), e))?;
            }
        }
        Ok(tables)
    }
}

/// What `touchstone maintain` did to one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Maintained {
    /// The table (`marts/fct_calls`).
    pub table: String,
    /// Small files compacted away by optimize.
    pub files_compacted: u64,
    /// Files written by optimize in their place.
    pub files_written: u64,
    /// Files no version within the retention reads, deleted by vacuum.
    pub files_deleted: u64,
}

impl Warehouse {
    /// Compacts each table's small files (Delta optimize: one new commit, same rows) and
    /// deletes the files that no version younger than `retention` reads (Delta vacuum), so time
    /// travel keeps working for `retention`. Every table of the warehouse, in listing order.
    pub async fn maintain(
        &self,
        retention: chrono::Duration,
    ) -> Result<Vec<Maintained>, LoadError> {
        let mut out = Vec::new();
        for entry in self.list_tables().await? {
            let Some(table) = self.load(&entry.url).await? else {
                continue;
            };
            let (table, metrics) = table
                .optimize()
                .await
                .map_err(|e| delta_error(&entry.url, e))?;
            let (_, vacuum) = table
                .vacuum()
                .with_retention_period(retention)
                // The retention is the pipeline's own setting, which may be shorter than the
                // table's default of 7 days.
                .with_enforce_retention_duration(false)
                .await
                .map_err(|e| delta_error(&entry.url, e))?;
            out.push(Maintained {
                table: format!("{}/{}", entry.kind.prefix(), entry.name),
                files_compacted: metrics.num_files_removed,
                files_written: metrics.num_files_added,
                files_deleted: vacuum.files_deleted.len() as u64,
            });
        }
        Ok(out)
    }
}

/// A DataFusion provider reading `table` (at `url`) in `ctx`.
async fn table_provider(
    ctx: &SessionContext,
    table: DeltaTable,
    url: &Url,
) -> Result<Arc<dyn TableProvider>, LoadError> {
    table
        .update_datafusion_session(&ctx.state())
        .map_err(|e| delta_error(url, e))?;
    table
        .table_provider()
        .await
        .map_err(|e| engine_error(format!("opening {url}"), e))
}

/// The innermost message of a store error (the OS's words: "Permission denied", "No space
/// left on device"), with the outer one when they differ.
fn store_cause(error: &object_store::Error) -> String {
    let mut innermost: &dyn std::error::Error = error;
    while let Some(next) = innermost.source() {
        innermost = next;
    }
    let outer = error.to_string();
    let inner = innermost.to_string();
    if outer.contains(&inner) {
        outer
    } else {
        format!("{outer}: {inner}")
    }
}

async fn last_commit_rows(table: &DeltaTable) -> u64 {
    let history: Vec<_> = table
        .history(Some(1))
        .try_collect()
        .await
        .unwrap_or_default();
    history
        .first()
        .and_then(|c| c.info.get("operationMetrics"))
        .and_then(|m| m.get("num_added_rows"))
        .and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
        .unwrap_or(0)
}

fn delta_error(url: &Url, source: DeltaTableError) -> LoadError {
    let lost_race = match &source {
        DeltaTableError::VersionAlreadyExists(_) => true,
        DeltaTableError::Transaction { source } => matches!(
            source,
            TransactionError::VersionAlreadyExists(_) | TransactionError::MaxCommitAttempts(_)
        ),
        _ => false,
    };
    if lost_race {
        return LoadError::ConcurrentWrite {
            table: url.to_string(),
        };
    }
    LoadError::Delta {
        table: url.to_string(),
        source: Box::new(source),
    }
}

pub(crate) fn engine_error(
    context: String,
    source: datafusion::error::DataFusionError,
) -> LoadError {
    LoadError::Engine {
        context,
        source: Box::new(source),
    }
}

/// delta-rs knows `file://` and `memory://`; object stores for the cloud schemes are built by
/// Touchstone (from the standard environment variables) and handed over, so delta-rs only needs
/// a log store for them. Commits use the store's conditional put (`PutMode::Create`), which S3,
/// Azure Blob and GCS all support.
fn register_logstores() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let factories = logstore_factories();
        for scheme in ["s3", "s3a", "az", "azure", "abfs", "abfss", "adl", "gs"] {
            if let Ok(url) = Url::parse(&format!("{scheme}://")) {
                factories
                    .entry(url)
                    .or_insert_with(|| Arc::new(PlainLogStoreFactory));
            }
        }
    });
}

#[derive(Debug)]
struct PlainLogStoreFactory;

impl LogStoreFactory for PlainLogStoreFactory {
    fn with_options(
        &self,
        prefixed_store: Arc<dyn ObjectStore>,
        root_store: Arc<dyn ObjectStore>,
        location: &Url,
        options: &StorageConfig,
    ) -> deltalake::DeltaResult<Arc<dyn LogStore>> {
        Ok(default_logstore(
            prefixed_store,
            root_store,
            location,
            options,
        ))
    }
}

/// Rows per Parquet row group of the tables Touchstone writes: a writer buffers one row group
/// per open file, and readers scan row groups in parallel, so 128k rows (not the Parquet
/// default of 1M) keeps writers small and scans parallel, and still compresses well.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;

/// How the tables' Parquet files are written: [`ROW_GROUP_ROWS`] rows per row group,
/// zstd level 1 (see the README's speed section for the measurement behind the level).
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build()
}

/// The planner Delta writes need in the session that executes them: a session that writes
/// through [`Warehouse::write_plan`] must be built with it (`SessionStateBuilder::with_query_planner`).
pub fn delta_query_planner() -> Arc<dyn QueryPlanner + Send + Sync> {
    DeltaPlanner::new()
}

/// A plain session able to execute Delta writes.
pub fn delta_session() -> SessionContext {
    let state = SessionStateBuilder::new()
        .with_default_features()
        .with_query_planner(delta_query_planner())
        .build();
    SessionContext::new_with_state(state)
}

/// Reads a whole table into memory (the tests' check of what a write committed).
#[cfg(test)]
pub(crate) async fn read_all(
    wh: &Warehouse,
    kind: TableKind,
    name: &str,
) -> Result<Vec<RecordBatch>, LoadError> {
    let ctx = SessionContext::new();
    let Some(provider) = wh.provider(&ctx, kind, name).await? else {
        return Ok(Vec::new());
    };
    let df = ctx
        .read_table(provider)
        .map_err(|e| engine_error(format!("reading {name}"), e))?;
    df.collect()
        .await
        .map_err(|e| engine_error(format!("reading {name}"), e))
}

#[cfg(test)]
mod tests {
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn batch(source: &str, values: &[i64]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("v", DataType::Int64, false),
            Field::new("_source", DataType::Utf8, false),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(values.to_vec())),
                Arc::new(StringArray::from(vec![source; values.len()])),
            ],
        )
        .unwrap()
    }

    async fn count(wh: &Warehouse, kind: TableKind, name: &str) -> usize {
        read_all(wh, kind, name)
            .await
            .unwrap()
            .iter()
            .map(|b| b.num_rows())
            .sum()
    }

    /// Two writers creating the same table at once: one commit wins, the other fails with
    /// [`LoadError::ConcurrentWrite`]; never both (delta-rs alone retries the loser's create as
    /// version 1, keeping both writers' rows).
    #[tokio::test(flavor = "multi_thread")]
    async fn concurrent_creates_have_one_winner() {
        let wh = Warehouse::open(&Url::parse("memory://load-race/wh").unwrap()).unwrap();
        let mut conflicts = 0;
        for i in 0..25 {
            for mode in [
                WriteMode::Overwrite,
                WriteMode::ReplacePartition {
                    column: "_source".into(),
                    value: "a".into(),
                },
            ] {
                let name = format!("t{i}_{}", matches!(mode, WriteMode::Overwrite));
                let write = |wh: Warehouse, name: String, mode: WriteMode| async move {
                    let b = batch("a", &[1, 2, 3]);
                    wh.write_batches(TableKind::Mart, &name, b.schema(), vec![b], mode)
                        .await
                };
                let (x, y) = tokio::join!(
                    tokio::spawn(write(wh.clone(), name.clone(), mode.clone())),
                    tokio::spawn(write(wh.clone(), name.clone(), mode.clone()))
                );
                let results = [x.unwrap(), y.unwrap()];
                assert!(results.iter().any(Result::is_ok), "{results:?}");
                for r in &results {
                    if let Err(e) = r {
                        assert!(matches!(e, LoadError::ConcurrentWrite { .. }), "{e}");
                        conflicts += 1;
                    }
                }
                assert_eq!(count(&wh, TableKind::Mart, &name).await, 3, "{name}");
            }
        }
        eprintln!("{conflicts} of 50 races had a loser");
        // Appends (the run ledger) both land, also on a table they are both creating.
        for i in 0..10 {
            let name = format!("ledger{i}");
            let append = |wh: Warehouse, name: String| async move {
                let b = batch("a", &[1, 2, 3]);
                wh.write_batches(
                    TableKind::System,
                    &name,
                    b.schema(),
                    vec![b],
                    WriteMode::Append,
                )
                .await
            };
            let (x, y) = tokio::join!(
                tokio::spawn(append(wh.clone(), name.clone())),
                tokio::spawn(append(wh.clone(), name.clone()))
            );
            x.unwrap().unwrap();
            y.unwrap().unwrap();
            assert_eq!(count(&wh, TableKind::System, &name).await, 6, "{name}");
        }
    }

    /// Optimize compacts the small files of appends into one, vacuum deletes the files of
    /// replaced versions older than the retention, and the rows stay the same.
    #[tokio::test]
    async fn maintain_compacts_and_vacuums_without_changing_rows() {
        let dir = tempfile::tempdir().unwrap();
        let wh = Warehouse::open(&Url::from_directory_path(dir.path()).unwrap()).unwrap();
        for i in 0..4 {
            let b = batch("a", &[i, i + 10]);
            wh.write_batches(
                TableKind::Staging,
                "stg_small",
                b.schema(),
                vec![b],
                WriteMode::Append,
            )
            .await
            .unwrap();
            let m = batch("m", &[i]);
            wh.write_batches(
                TableKind::Mart,
                "fct_replaced",
                m.schema(),
                vec![m],
                WriteMode::Overwrite,
            )
            .await
            .unwrap();
        }
        // A week's retention keeps every file (all are new), compaction still happens.
        let kept = wh.maintain(chrono::Duration::days(7)).await.unwrap();
        let small = kept
            .iter()
            .find(|m| m.table == "staging/stg_small")
            .unwrap();
        assert_eq!(
            (small.files_compacted, small.files_written),
            (4, 1),
            "{kept:?}"
        );
        assert!(kept.iter().all(|m| m.files_deleted == 0), "{kept:?}");
        // No retention: the files of replaced versions go.
        let vacuumed = wh.maintain(chrono::Duration::zero()).await.unwrap();
        let replaced = vacuumed
            .iter()
            .find(|m| m.table == "marts/fct_replaced")
            .unwrap();
        assert_eq!(replaced.files_deleted, 3, "{vacuumed:?}");
        let small = vacuumed
            .iter()
            .find(|m| m.table == "staging/stg_small")
            .unwrap();
        assert_eq!(small.files_deleted, 4, "{vacuumed:?}");
        assert_eq!(count(&wh, TableKind::Staging, "stg_small").await, 8);
        assert_eq!(count(&wh, TableKind::Mart, "fct_replaced").await, 1);
    }

    /// Replacing the rows of some files leaves the rows of the other files and partitions.
    #[tokio::test]
    async fn replace_files_keeps_the_other_files_rows() {
        let wh = Warehouse::open(&Url::parse("memory://load-files/wh").unwrap()).unwrap();
        let schema = Arc::new(Schema::new(vec![
            Field::new("v", DataType::Int64, false),
            Field::new("_source_file", DataType::Utf8, false),
            Field::new("_source", DataType::Utf8, false),
        ]));
        let rows = |source: &str, file: &str, values: &[i64]| {
            RecordBatch::try_new(
                Arc::clone(&schema),
                vec![
                    Arc::new(Int64Array::from(values.to_vec())),
                    Arc::new(StringArray::from(vec![file; values.len()])),
                    Arc::new(StringArray::from(vec![source; values.len()])),
                ],
            )
            .unwrap()
        };
        let replace = |source: &str, files: &[&str]| WriteMode::ReplaceFiles {
            partition: Some(("_source".into(), source.into())),
            file_column: "_source_file".into(),
            files: files.iter().map(|f| f.to_string()).collect(),
        };
        let write = |batches: Vec<RecordBatch>, mode: WriteMode| {
            let wh = wh.clone();
            let schema = Arc::clone(&schema);
            async move {
                wh.write_batches(TableKind::Staging, "stg_f", schema, batches, mode)
                    .await
                    .unwrap()
            }
        };
        write(
            vec![rows("a", "f1", &[1, 2]), rows("a", "f2", &[3])],
            WriteMode::ReplacePartition {
                column: "_source".into(),
                value: "a".into(),
            },
        )
        .await;
        write(vec![rows("b", "f1", &[100])], replace("b", &["f1"])).await;
        // f2 changed (its rows replaced), f3 is new; f1 of a and b untouched.
        write(
            vec![rows("a", "f2", &[30, 31]), rows("a", "f3", &[40])],
            replace("a", &["f2", "f3"]),
        )
        .await;
        let ctx = SessionContext::new();
        wh.register_all(&ctx).await.unwrap();
        let batches = ctx
            .sql("select _source, _source_file, sum(v) as s, count(*) as n from stg_f group by 1, 2 order by 1, 2")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let text = arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        let expected = [
            "| _source | _source_file | s   | n |",
            "| a       | f1           | 3   | 2 |",
            "| a       | f2           | 61  | 2 |",
            "| a       | f3           | 40  | 1 |",
            "| b       | f1           | 100 | 1 |",
        ];
        for line in expected {
            assert!(text.contains(line), "{line} not in\n{text}");
        }
    }

    #[tokio::test]
    async fn overwrite_replace_partition_and_list() {
        let wh = Warehouse::open(&Url::parse("memory://load-test/wh").unwrap()).unwrap();
        assert!(
            wh.open_table(TableKind::Staging, "stg_x")
                .await
                .unwrap()
                .is_none()
        );
        let replace = |source: &str| WriteMode::ReplacePartition {
            column: "_source".into(),
            value: source.into(),
        };
        let a = batch("a", &[1, 2, 3]);
        let w = wh
            .write_batches(
                TableKind::Staging,
                "stg_x",
                a.schema(),
                vec![a],
                replace("a"),
            )
            .await
            .unwrap();
        assert_eq!(w.rows, 3);
        let b = batch("b", &[4, 5]);
        wh.write_batches(
            TableKind::Staging,
            "stg_x",
            b.schema(),
            vec![b],
            replace("b"),
        )
        .await
        .unwrap();
        // Re-running source a replaces only its own rows.
        let a2 = batch("a", &[7]);
        let w = wh
            .write_batches(
                TableKind::Staging,
                "stg_x",
                a2.schema(),
                vec![a2],
                replace("a"),
            )
            .await
            .unwrap();
        assert_eq!(w.version, 2);
        assert_eq!(count(&wh, TableKind::Staging, "stg_x").await, 3);

        let m = batch("m", &[1]);
        wh.write_batches(
            TableKind::Mart,
            "fct",
            m.schema(),
            vec![m.clone()],
            WriteMode::Overwrite,
        )
        .await
        .unwrap();
        wh.write_batches(
            TableKind::Mart,
            "fct",
            m.schema(),
            vec![m],
            WriteMode::Overwrite,
        )
        .await
        .unwrap();
        assert_eq!(count(&wh, TableKind::Mart, "fct").await, 1);

        let tables = wh.list_tables().await.unwrap();
        let names: Vec<_> = tables.iter().map(TableEntry::sql_name).collect();
        assert_eq!(names, ["stg_x", "fct"]);
        let ctx = SessionContext::new();
        wh.register_all(&ctx).await.unwrap();
        let rows = ctx
            .sql("select sum(v) as s from stg_x")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let s = rows[0]
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap()
            .value(0);
        assert_eq!(s, 7 + 4 + 5);
    }

    /// What a documented write leaves in the Delta metadata: the description and each
    /// documented column's `comment`, read back as Arrow field metadata; a changed description
    /// and a changed comment are there after the next write, whose version is the latest.
    #[tokio::test]
    async fn documented_writes_keep_the_description_and_comments_current() {
        let wh = Warehouse::open(&Url::parse("memory://load-doc/wh").unwrap()).unwrap();
        let ctx = delta_session();
        let write = |doc: TableDoc| {
            let (wh, ctx) = (wh.clone(), ctx.clone());
            async move {
                let plan = ctx
                    .sql("select 1 as v, 'a' as _source")
                    .await
                    .unwrap()
                    .logical_plan()
                    .clone();
                wh.write_documented_plan(
                    TableKind::Mart,
                    "fct",
                    Arc::new(ctx.state()),
                    plan,
                    WriteMode::Overwrite,
                    &doc,
                )
                .await
                .unwrap()
            }
        };
        let read = || async {
            let table = wh
                .open_table(TableKind::Mart, "fct")
                .await
                .unwrap()
                .unwrap();
            let provider = wh
                .provider(&SessionContext::new(), TableKind::Mart, "fct")
                .await
                .unwrap()
                .unwrap();
            let comments: Vec<Option<String>> = provider
                .schema()
                .fields()
                .iter()
                .map(|f| f.metadata().get(COMMENT_KEY).cloned())
                .collect();
            (doc::description(&table), comments, table.version())
        };

        let first = write(TableDoc::new("Facts.").with_column("v", "A value.")).await;
        assert_eq!(first.version, 0);
        let (description, comments, _) = read().await;
        assert_eq!(description.as_deref(), Some("Facts."));
        assert_eq!(comments, [Some("A value.".to_string()), None]);

        let same = write(TableDoc::new("Facts.").with_column("v", "A value.")).await;
        assert_eq!(same.version, 1, "no metadata commit when nothing changed");

        let changed = write(
            TableDoc::new("Facts, renamed.")
                .with_column("v", "The value, in cents.")
                .with_column("_source", "Where it came from."),
        )
        .await;
        let (description, comments, version) = read().await;
        assert_eq!(description.as_deref(), Some("Facts, renamed."));
        assert_eq!(
            comments,
            [
                Some("The value, in cents.".to_string()),
                Some("Where it came from.".to_string())
            ]
        );
        assert_eq!(version, Some(changed.version));
        assert_eq!(changed.version, 3, "a metadata commit, then the write");
        assert_eq!(changed.rows, 1);
        assert_eq!(count(&wh, TableKind::Mart, "fct").await, 1);
    }

    #[test]
    fn a_description_longer_than_delta_allows_is_cut() {
        let doc = TableDoc::new("x".repeat(MAX_DESCRIPTION_CHARS + 10));
        let stored = doc.stored_description();
        assert_eq!(stored.chars().count(), MAX_DESCRIPTION_CHARS);
        assert!(stored.ends_with('…'));
        assert_eq!(TableDoc::new(" short ").stored_description(), "short");
    }
}
