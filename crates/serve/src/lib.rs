//! `touchstone serve`: the committed tables of a warehouse as a read-only PostgreSQL endpoint,
//! for BI tools (Metabase, Grafana, Superset, Tableau, Power BI, DBeaver) and `psql`.
//!
//! Built on [datafusion-postgres](https://github.com/datafusion-contrib/datafusion-postgres)
//! (the wire protocol, `pg_catalog` and the PostgreSQL functions clients call at connect time)
//! and on the run library's warehouse reader:
//!
//! - the schemas are described in [`catalog`]: `marts`, `metrics`, `ops`, and `staging` with
//!   [`ServeOptions::staging`]; each query sees the tables as committed when it was planned;
//! - every statement passes [`guard`] first: reads run, writes are refused with SQLSTATE
//!   25006 and reaching outside the warehouse with 42501;
//! - clients authenticate with SCRAM-SHA-256 against a [`users`] file, over TLS when a
//!   certificate is given;
//! - each query runs under a timeout, in one of a fixed number of slots, with memory from one
//!   pool shared by all queries ([`Limits`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), touchstone_serve::ServeError> {
//! use touchstone_serve::{Authentication, ServeOptions, Server};
//! let warehouse = url::Url::parse("file:///srv/warehouse/")
//!     .map_err(|e| touchstone_serve::ServeError::Invalid(e.to_string()))?;
//! let options = ServeOptions::new(warehouse, Authentication::UsersFile("users".into()));
//! let server = Server::bind(options).await?;
//! println!("listening on {}", server.local_addr());
//! server.run().await
//! # }
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use datafusion::catalog::{CatalogProvider, MemoryCatalogProviderList};
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::SessionContext;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_postgres::datafusion_pg_catalog::setup_pg_catalog;
use datafusion_postgres::pgwire::api::ConnectionManager;
use datafusion_postgres::pgwire::api::cancel::DefaultCancelHandler;
use datafusion_postgres::pgwire::tokio::process_socket;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use touchstone_pipeline::{ReadSessionOptions, WarehouseReader, read_session};

pub mod catalog;
pub mod describe;
pub mod guard;
mod handler;
mod tls;
pub mod users;

use catalog::{DATABASE, LiveCatalog, WarehouseCatalog};
pub use describe::Descriptions;
use handler::{Auth, Handlers, Limits as QueryLimits, ServeService};

/// What can stop the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// An option is invalid.
    #[error("{0}")]
    Invalid(String),
    /// The users file cannot be read or written.
    #[error("users file {}: {message}", path.display())]
    Users {
        /// The file.
        path: PathBuf,
        /// What is wrong, with line numbers.
        message: String,
    },
    /// The TLS certificate or key cannot be used.
    #[error("TLS: {0}")]
    Tls(String),
    /// The listen address cannot be bound.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The address.
        address: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The warehouse cannot be opened or listed.
    #[error(transparent)]
    Warehouse(#[from] touchstone_pipeline::PipelineError),
    /// Setting up the engine failed.
    #[error("setting up the engine: {0}")]
    Engine(String),
}

/// Who may connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authentication {
    /// SCRAM-SHA-256 against the users in this file (see [`users`]).
    UsersFile(PathBuf),
    /// Anyone, under any name, with no password (`--insecure-no-auth`); logged as a warning.
    InsecureNoAuth,
}

/// Limits every query runs under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The longest a query may take, from its arrival to its last row; clients may ask for
    /// less with `SET statement_timeout`.
    pub query_timeout: Duration,
    /// Memory all running queries may hold together (bytes); a query that needs more fails
    /// with SQLSTATE 53200 and the others go on.
    pub memory_limit_bytes: u64,
    /// Queries running at once; more wait for a slot (within their timeout).
    pub max_concurrent_queries: usize,
    /// Connections open at once; one more is refused with SQLSTATE 53300.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            query_timeout: Duration::from_secs(300),
            memory_limit_bytes: 2 << 30,
            max_concurrent_queries: 4,
            max_connections: 100,
        }
    }
}

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The warehouse root.
    pub warehouse: url::Url,
    /// Where to listen (`127.0.0.1:5433`; port 0 picks a free one).
    pub listen: String,
    /// TLS certificate chain and private key (PEM files), when clients connect over TLS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Who may connect.
    pub authentication: Authentication,
    /// Whether the staging tables are served (schema `staging`).
    pub staging: bool,
    /// Query limits.
    pub limits: Limits,
    /// Descriptions of the marts and metric tables (from their SQL models), shown to BI
    /// tools through `pg_catalog`.
    pub descriptions: Descriptions,
}

impl ServeOptions {
    /// Serving `warehouse` on 127.0.0.1:5433 to the users of `authentication`, without TLS,
    /// staging or custom limits.
    pub fn new(warehouse: url::Url, authentication: Authentication) -> Self {
        ServeOptions {
            warehouse,
            listen: "127.0.0.1:5433".into(),
            tls: None,
            authentication,
            staging: false,
            limits: Limits::default(),
            descriptions: Descriptions::default(),
        }
    }
}

/// A bound server, ready to [`run`](Server::run).
pub struct Server {
    listener: TcpListener,
    address: SocketAddr,
    tls: Option<datafusion_postgres::pgwire::tokio::TlsAcceptor>,
    service: Arc<ServeService>,
    auth: Auth,
    connections: Arc<ConnectionManager>,
    open: Arc<Semaphore>,
    max_connections: usize,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("address", &self.address)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl Server {
    /// Checks the options, opens the warehouse (its tables are listed once, so that a bad
    /// location fails here rather than at the first query) and binds the listen address.
    pub async fn bind(options: ServeOptions) -> Result<Server, ServeError> {
        let limits = &options.limits;
        if limits.max_concurrent_queries == 0 || limits.max_connections == 0 {
            return Err(ServeError::Invalid(
                "--max-concurrent-queries and --max-connections must be at least 1".into(),
            ));
        }
        if limits.query_timeout.is_zero() {
            return Err(ServeError::Invalid(
                "--query-timeout-secs must be at least 1".into(),
            ));
        }
        let auth = match &options.authentication {
            Authentication::UsersFile(path) => {
                let users = users::UsersFile::load(path)?;
                if users.names().next().is_none() {
                    return Err(ServeError::Users {
                        path: path.clone(),
                        message:
                            "no users: add one with `touchstone serve add-user NAME --users FILE`"
                                .into(),
                    });
                }
                let certificate = match &options.tls {
                    Some((cert, _)) => Some(Arc::new(std::fs::read(cert).map_err(|e| {
                        ServeError::Tls(format!("reading {}: {e}", cert.display()))
                    })?)),
                    None => None,
                };
                Auth::Scram {
                    users: Arc::new(users),
                    certificate,
                }
            }
            Authentication::InsecureNoAuth => {
                tracing::warn!(
                    "--insecure-no-auth: anyone who can reach {} can read the warehouse, under any user name, without a password",
                    options.listen
                );
                Auth::None
            }
        };
        let tls = match &options.tls {
            Some((cert, key)) => Some(tls::acceptor(cert, key)?),
            None => None,
        };

        let reader = WarehouseReader::open(&options.warehouse)?;
        let live = LiveCatalog::new(reader, options.staging, options.descriptions.clone());
        let ctx = Arc::new(session(Arc::clone(&live), limits)?);
        live.refresh(&ctx).await?;

        let listener =
            TcpListener::bind(&options.listen)
                .await
                .map_err(|source| ServeError::Listen {
                    address: options.listen.clone(),
                    source,
                })?;
        let address = listener.local_addr().map_err(|source| ServeError::Listen {
            address: options.listen.clone(),
            source,
        })?;
        let service = Arc::new(ServeService::new(
            ctx,
            live,
            QueryLimits {
                timeout: limits.query_timeout,
                slots: Arc::new(Semaphore::new(limits.max_concurrent_queries)),
                runtime: Arc::new(handler::QueryRuntime::new().map_err(|e| {
                    ServeError::Engine(format!("cannot start the query threads: {e}"))
                })?),
            },
        ));
        Ok(Server {
            listener,
            address,
            tls,
            service,
            auth,
            connections: Arc::new(ConnectionManager::new()),
            open: Arc::new(Semaphore::new(limits.max_connections)),
            max_connections: limits.max_connections,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// Accepts connections until the task is dropped; each connection runs in its own task,
    /// so one client's failure or disconnection never touches another's.
    pub async fn run(self) -> Result<(), ServeError> {
        tracing::info!(
            address = %self.address,
            tls = self.tls.is_some(),
            "serving the warehouse over the PostgreSQL protocol"
        );
        let cancel = Arc::new(DefaultCancelHandler::new(Arc::clone(&self.connections)));
        loop {
            let (socket, peer) = match self.listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!("accepting a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let permit = Arc::clone(&self.open).try_acquire_owned().ok();
            let refuse = permit.is_none().then(|| {
                tracing::warn!(%peer, "refused: {} connections are open", self.max_connections);
                (
                    guard::code::TOO_MANY_CONNECTIONS,
                    format!(
                        "sorry, too many clients already ({} connections are open; --max-connections)",
                        self.max_connections
                    ),
                )
            });
            let handlers = Arc::new(Handlers {
                service: Arc::clone(&self.service),
                auth: self.auth.clone(),
                connections: Arc::clone(&self.connections),
                cancel: Arc::clone(&cancel),
                refuse,
                require_tls: self.tls.is_some(),
            });
            let tls = self.tls.clone();
            tokio::spawn(async move {
                let _permit = permit;
                tracing::debug!(%peer, "connected");
                if let Err(e) = process_socket(socket, tls, handlers).await {
                    tracing::debug!(%peer, "connection ended: {e}");
                }
            });
        }
    }
}

/// The engine session every connection shares: the read session's functions and memory
/// pool, the warehouse catalog as the only database (`touchstone`, default schema `marts`),
/// and `pg_catalog`.
fn session(live: Arc<LiveCatalog>, limits: &Limits) -> Result<SessionContext, ServeError> {
    let base = read_session(&ReadSessionOptions {
        memory_limit_bytes: Some(limits.memory_limit_bytes),
        target_partitions: None,
    })?;
    let mut config = base.state().config().clone();
    {
        let options = config.options_mut();
        options.catalog.default_catalog = DATABASE.to_string();
        options.catalog.default_schema = catalog::MARTS.to_string();
        options.catalog.create_default_catalog_and_schema = false;
        options.catalog.information_schema = true;
    }
    let catalogs = Arc::new(MemoryCatalogProviderList::new());
    let warehouse: Arc<dyn CatalogProvider> = Arc::new(WarehouseCatalog::new(Arc::clone(&live)));
    datafusion::catalog::CatalogProviderList::register_catalog(
        catalogs.as_ref(),
        DATABASE.to_string(),
        warehouse,
    );
    let state = SessionStateBuilder::new_from_existing(base.state())
        .with_config(config)
        .with_catalog_list(catalogs)
        .with_physical_optimizer_rule(Arc::new(YieldingOperators))
        .build();
    let ctx = SessionContext::new_with_state(state);
    setup_pg_catalog(&ctx, DATABASE, EmptyContextProvider)
        .map_err(|e| ServeError::Engine(e.to_string()))?;
    describe::register_functions(&ctx, &live);
    Ok(ctx)
}

/// Makes every operator of a served query yield to the scheduler after a budget of batches
/// (DataFusion's `CooperativeExec` around each one, where DataFusion puts it only around
/// sources and exchanges). An operator that turns each input batch into many output batches
/// (a nested-loop join over millions of rows) then yields too, so a query that has timed out
/// or whose client has gone is stopped within a few batches instead of computing on.
#[derive(Debug)]
struct YieldingOperators;

impl datafusion::physical_optimizer::PhysicalOptimizerRule for YieldingOperators {
    fn optimize(
        &self,
        plan: Arc<dyn datafusion::physical_plan::ExecutionPlan>,
        _config: &datafusion::config::ConfigOptions,
    ) -> datafusion::error::Result<Arc<dyn datafusion::physical_plan::ExecutionPlan>> {
        use datafusion::common::tree_node::{Transformed, TreeNode};
        use datafusion::physical_plan::coop::CooperativeExec;
        plan.transform_up(|node| {
            if node.is::<CooperativeExec>() {
                return Ok(Transformed::no(node));
            }
            let wrapped: Arc<dyn datafusion::physical_plan::ExecutionPlan> =
                Arc::new(CooperativeExec::new(node));
            Ok(Transformed::yes(wrapped))
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "yielding_operators"
    }

    fn schema_check(&self) -> bool {
        true
    }
}
