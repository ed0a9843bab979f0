//! The warehouse as a PostgreSQL database: one catalog, a schema per kind of table, each
//! table pinned to the version that was current when the query that reads it was planned.
//!
//! | schema | tables |
//! |---|---|
//! | `marts` | every mart (`marts/<table>`) except the metric tables |
//! | `metrics` | the metric tables: marts whose name starts with `metric_` (`metric_values`) |
//! | `ops` | the run ledger (`runs`) and the rejects of each source (`rejects_<source>`) |
//! | `staging` | the staging tables (`stg_*`), only with `--staging` |
//!
//! A query refreshes the catalog before it is planned ([`LiveCatalog::refresh`]): tables whose
//! version moved are reopened, new tables appear, others are kept as they were. Planning
//! resolves each table name once, to a provider that reads one Delta version, so a query sees
//! each table at one version however many times it reads it, and a commit that lands while it
//! runs is seen by the next query, not this one.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use async_trait::async_trait;
use datafusion::catalog::{CatalogProvider, SchemaProvider};
use datafusion::datasource::TableProvider;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::prelude::SessionContext;
use touchstone_pipeline::{CommittedTable, WarehouseReader};
use touchstone_pipeline::{TableEntry, TableKind};

use crate::describe::{DescribedPgCatalog, DescriptionIndex, Descriptions};

/// The catalog's name: the database a client connects to.
pub const DATABASE: &str = "touchstone";

/// Schema of the marts.
pub const MARTS: &str = "marts";
/// Schema of the metric tables.
pub const METRICS: &str = "metrics";
/// Schema of the run ledger and the rejects.
pub const OPS: &str = "ops";
/// Schema of the staging tables (with `--staging`).
pub const STAGING: &str = "staging";

/// Where a committed table appears: its schema and its name there; `None` when it is not
/// served (staging without `--staging`).
pub fn place(entry: &TableEntry, staging: bool) -> Option<(&'static str, String)> {
    match entry.kind {
        TableKind::Mart if entry.name.starts_with("metric_") => Some((METRICS, entry.name.clone())),
        TableKind::Mart => Some((MARTS, entry.name.clone())),
        TableKind::Staging if staging => Some((STAGING, entry.name.clone())),
        TableKind::Staging => None,
        TableKind::Rejects => Some((OPS, entry.sql_name())),
        TableKind::System => Some((OPS, entry.name.clone())),
    }
}

/// One table as served.
#[derive(Debug, Clone)]
pub struct ServedTable {
    /// Its schema.
    pub schema: &'static str,
    /// Its name in the schema.
    pub name: String,
    /// The committed table (version and provider).
    pub table: CommittedTable,
}

/// What the catalog serves at one moment.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Every served table, by schema then name.
    pub tables: BTreeMap<&'static str, BTreeMap<String, ServedTable>>,
    committed: Vec<CommittedTable>,
}

/// The live catalog of a warehouse.
#[derive(Debug)]
pub struct LiveCatalog {
    reader: WarehouseReader,
    staging: bool,
    descriptions: Descriptions,
    current: RwLock<Arc<Snapshot>>,
    /// The descriptions of the served tables by OID, rebuilt when the tables change.
    described: RwLock<Arc<DescriptionIndex>>,
    /// Held while refreshing; the instant the last refresh started.
    refreshing: tokio::sync::Mutex<Option<Instant>>,
}

impl LiveCatalog {
    /// A catalog over `reader`'s warehouse, empty until [`LiveCatalog::refresh`].
    pub fn new(reader: WarehouseReader, staging: bool, descriptions: Descriptions) -> Arc<Self> {
        Arc::new(LiveCatalog {
            reader,
            staging,
            descriptions,
            current: RwLock::new(Arc::new(Snapshot::default())),
            described: RwLock::new(Arc::new(DescriptionIndex::default())),
            refreshing: tokio::sync::Mutex::new(None),
        })
    }

    /// The schemas served, in order.
    pub fn schemas(&self) -> Vec<&'static str> {
        let mut schemas = vec![MARTS, METRICS, OPS];
        if self.staging {
            schemas.push(STAGING);
        }
        schemas
    }

    /// What is served now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        match self.current.read() {
            Ok(s) => Arc::clone(&s),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// The descriptions of the served tables, by OID.
    pub fn descriptions(&self) -> Arc<DescriptionIndex> {
        match self.described.read() {
            Ok(d) => Arc::clone(&d),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Brings the catalog up to the warehouse's latest commits. Queries arriving together
    /// share one refresh: a caller waiting for another's refresh that started after it asked
    /// takes that one's result. On a storage error the catalog keeps what it had and the error
    /// is returned for logging.
    pub async fn refresh(
        &self,
        ctx: &SessionContext,
    ) -> Result<(), touchstone_pipeline::PipelineError> {
        let asked = Instant::now();
        let mut last = self.refreshing.lock().await;
        if last.is_some_and(|started| started >= asked) {
            return Ok(());
        }
        *last = Some(Instant::now());
        let previous = self.snapshot();
        let committed = self
            .reader
            .committed_tables(ctx, &previous.committed)
            .await?;
        let mut tables: BTreeMap<&'static str, BTreeMap<String, ServedTable>> = BTreeMap::new();
        for schema in self.schemas() {
            tables.insert(schema, BTreeMap::new());
        }
        for table in &committed {
            if let Some((schema, name)) = place(&table.entry, self.staging) {
                tables.entry(schema).or_default().insert(
                    name.clone(),
                    ServedTable {
                        schema,
                        name,
                        table: table.clone(),
                    },
                );
            }
        }
        let changed = committed.len() != previous.committed.len()
            || committed
                .iter()
                .zip(&previous.committed)
                .any(|(a, b)| a.entry != b.entry || a.version != b.version);
        if changed {
            tracing::info!(tables = committed.len(), "catalog refreshed");
        }
        let first = previous.committed.is_empty() && previous.tables.is_empty();
        let snapshot = Arc::new(Snapshot { tables, committed });
        match self.current.write() {
            Ok(mut current) => *current = Arc::clone(&snapshot),
            Err(poisoned) => *poisoned.into_inner() = Arc::clone(&snapshot),
        }
        if changed || first {
            // The OIDs are handed out by pg_class: ask it, now that it lists the new tables.
            match DescriptionIndex::build(ctx, &snapshot, &self.descriptions).await {
                Ok(index) => {
                    tracing::debug!(described = index.len(), "descriptions indexed");
                    match self.described.write() {
                        Ok(mut d) => *d = Arc::new(index),
                        Err(poisoned) => *poisoned.into_inner() = Arc::new(index),
                    }
                }
                Err(e) => tracing::warn!("indexing the table descriptions: {e}"),
            }
        }
        Ok(())
    }
}

/// The DataFusion catalog: the warehouse's schemas, plus `pg_catalog` registered once at
/// start. Nothing can be created in it.
#[derive(Debug)]
pub struct WarehouseCatalog {
    live: Arc<LiveCatalog>,
    system: RwLock<BTreeMap<String, Arc<dyn SchemaProvider>>>,
}

impl WarehouseCatalog {
    /// The catalog over `live`.
    pub fn new(live: Arc<LiveCatalog>) -> Self {
        WarehouseCatalog {
            live,
            system: RwLock::new(BTreeMap::new()),
        }
    }
}

fn read_only<T>(what: &str) -> DfResult<T> {
    Err(DataFusionError::Plan(format!(
        "{what} is not allowed: the warehouse is read-only"
    )))
}

impl CatalogProvider for WarehouseCatalog {
    fn schema_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.live.schemas().iter().map(|s| s.to_string()).collect();
        if let Ok(system) = self.system.read() {
            names.extend(system.keys().cloned());
        }
        names
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        if let Some(schema) = self.live.schemas().into_iter().find(|s| *s == name) {
            return Some(Arc::new(LiveSchema {
                live: Arc::clone(&self.live),
                name: schema,
            }));
        }
        self.system.read().ok()?.get(name).cloned()
    }

    /// Only `pg_catalog` (registered by the PostgreSQL layer at start) may be added.
    fn register_schema(
        &self,
        name: &str,
        schema: Arc<dyn SchemaProvider>,
    ) -> DfResult<Option<Arc<dyn SchemaProvider>>> {
        if name != "pg_catalog" {
            return read_only(&format!("creating the schema {name}"));
        }
        let mut system = self
            .system
            .write()
            .map_err(|_| DataFusionError::Internal("catalog lock poisoned".into()))?;
        let described: Arc<dyn SchemaProvider> = Arc::new(DescribedPgCatalog {
            inner: schema,
            live: Arc::clone(&self.live),
        });
        Ok(system.insert(name.to_string(), described))
    }

    fn deregister_schema(
        &self,
        name: &str,
        _cascade: bool,
    ) -> DfResult<Option<Arc<dyn SchemaProvider>>> {
        read_only(&format!("dropping the schema {name}"))
    }
}

/// One schema of the warehouse, read from the catalog's current snapshot.
#[derive(Debug)]
struct LiveSchema {
    live: Arc<LiveCatalog>,
    name: &'static str,
}

#[async_trait]
impl SchemaProvider for LiveSchema {
    fn table_names(&self) -> Vec<String> {
        self.live
            .snapshot()
            .tables
            .get(self.name)
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default()
    }

    async fn table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        Ok(self
            .live
            .snapshot()
            .tables
            .get(self.name)
            .and_then(|t| t.get(name))
            .map(|t| Arc::clone(&t.table.provider)))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.live
            .snapshot()
            .tables
            .get(self.name)
            .is_some_and(|t| t.contains_key(name))
    }

    fn register_table(
        &self,
        name: String,
        _table: Arc<dyn TableProvider>,
    ) -> DfResult<Option<Arc<dyn TableProvider>>> {
        read_only(&format!("creating the table {}.{name}", self.name))
    }

    fn deregister_table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        read_only(&format!("dropping the table {}.{name}", self.name))
    }
}
