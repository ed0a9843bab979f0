//! The PostgreSQL handlers: datafusion-postgres's session service, with the read-only guard in
//! front, the catalog refreshed before each query, and the limits around it.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion_postgres::pgwire::api::auth::noop::NoopStartupHandler;
use datafusion_postgres::pgwire::api::auth::sasl::SASLAuthStartupHandler;
use datafusion_postgres::pgwire::api::auth::sasl::scram::ScramAuth;
use datafusion_postgres::pgwire::api::auth::{DefaultServerParameterProvider, StartupHandler};
use datafusion_postgres::pgwire::api::cancel::DefaultCancelHandler;
use datafusion_postgres::pgwire::api::portal::Format;
use datafusion_postgres::pgwire::api::portal::Portal;
use datafusion_postgres::pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use datafusion_postgres::pgwire::api::results::{FieldInfo, Response, Tag};
use datafusion_postgres::pgwire::api::stmt::{QueryParser, StoredStatement};
use datafusion_postgres::pgwire::api::store::PortalStore;
use datafusion_postgres::pgwire::api::{
    ClientInfo, ClientPortalStore, ConnectionManager, ErrorHandler, PgWireServerHandlers, Type,
};
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use datafusion_postgres::{DfSessionService, Parser};
use futures::{Sink, Stream, StreamExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::catalog::LiveCatalog;
use crate::guard::{self, Allowed, code};
use crate::users::UsersFile;

/// The statement type of datafusion-postgres's extended-query handler.
type DfStatement = (String, Option<(Statement, LogicalPlan)>);

/// Limits every query runs under.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    /// The longest a query may take, waiting for a slot and streaming its rows included; a
    /// client's `SET statement_timeout` may lower it, not raise it.
    pub timeout: Duration,
    /// Slots for queries running at once.
    pub slots: Arc<Semaphore>,
    /// Where queries are planned and their rows computed.
    pub runtime: Arc<QueryRuntime>,
}

/// The threads queries run on, apart from the ones that serve connections.
///
/// An operator that does not yield (a nested-loop join over millions of rows computes for
/// minutes in one poll) holds the thread it runs on. On its own runtime it cannot hold the
/// connections' threads, so their timers still fire: the client gets the timeout error on
/// time and every other connection is served. The query's task is aborted then, which takes
/// effect at its next yield; until that, it keeps its slot (`--max-concurrent-queries`).
pub(crate) struct QueryRuntime {
    runtime: Option<tokio::runtime::Runtime>,
}

impl QueryRuntime {
    /// A multi-threaded runtime with one worker per core.
    pub(crate) fn new() -> std::io::Result<QueryRuntime> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .thread_name("touchstone-query")
            .enable_all()
            .build()?;
        Ok(QueryRuntime {
            runtime: Some(runtime),
        })
    }

    fn handle(&self) -> Option<&tokio::runtime::Handle> {
        self.runtime.as_ref().map(tokio::runtime::Runtime::handle)
    }
}

impl Debug for QueryRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryRuntime").finish_non_exhaustive()
    }
}

impl Drop for QueryRuntime {
    fn drop(&mut self) {
        // Dropped from async code when the server stops: do not block on running queries.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// A future polled inside the query runtime's context, so that the tasks it spawns (the
/// engine's partitions) run on the query threads, not on the connection's.
struct OnQueryRuntime<'a, F> {
    handle: Option<&'a tokio::runtime::Handle>,
    future: Pin<Box<F>>,
}

impl<F: Future> Future for OnQueryRuntime<'_, F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let _entered = self.handle.map(tokio::runtime::Handle::enter);
        self.future.as_mut().poll(cx)
    }
}

/// The query side: guard, refresh, limits, then datafusion-postgres.
pub(crate) struct ServeService {
    inner: Arc<DfSessionService>,
    parser: Arc<GuardedParser>,
    limits: Limits,
}

impl ServeService {
    pub(crate) fn new(ctx: Arc<SessionContext>, live: Arc<LiveCatalog>, limits: Limits) -> Self {
        let inner = Arc::new(DfSessionService::new(Arc::clone(&ctx)));
        let parser = Arc::new(GuardedParser {
            inner: inner.query_parser(),
            ctx,
            live,
        });
        ServeService {
            inner,
            parser,
            limits,
        }
    }

    /// When the query that starts now must be done.
    fn deadline<C: ClientInfo + ?Sized>(&self, client: &C) -> Instant {
        let asked = client
            .metadata()
            .get("statement_timeout_ms")
            .and_then(|ms| ms.parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis);
        let timeout = asked.map_or(self.limits.timeout, |t| t.min(self.limits.timeout));
        Instant::now() + timeout
    }

    /// `future` polled in the query runtime's context (see [`OnQueryRuntime`]).
    fn on_query_runtime<F: Future>(&self, future: F) -> OnQueryRuntime<'_, F> {
        OnQueryRuntime {
            handle: self.limits.runtime.handle(),
            future: Box::pin(future),
        }
    }

    /// A slot to run in, waited for until `deadline`.
    async fn slot(&self, deadline: Instant) -> PgWireResult<Arc<OwnedSemaphorePermit>> {
        match tokio::time::timeout_at(deadline, Arc::clone(&self.limits.slots).acquire_owned())
            .await
        {
            Ok(Ok(permit)) => Ok(Arc::new(permit)),
            Ok(Err(_)) => Err(guard::error(code::INTERNAL, "the server is shutting down")),
            Err(_) => Err(timeout_error(
                "waiting for one of the other queries to finish (the server runs a limited number at once: --max-concurrent-queries)",
            )),
        }
    }
}

fn timeout_error(while_: &str) -> PgWireError {
    guard::error(
        code::QUERY_CANCELED,
        format!(
            "canceling statement due to statement timeout (--query-timeout-secs), while {while_}"
        ),
    )
}

/// Rows computed ahead of the client, per query.
const ROWS_AHEAD: usize = 256;

/// Computes the query's rows on the query runtime, holding its slot until they are all
/// computed (or the computation is aborted), and ends the rows with the timeout error when the
/// deadline passes first. Engine errors met while streaming get their codes.
fn limit(
    response: Response,
    slot: &Arc<OwnedSemaphorePermit>,
    deadline: Instant,
    runtime: &QueryRuntime,
) -> Response {
    match response {
        Response::Query(mut query) => {
            let mut rows =
                std::mem::replace(&mut query.data_rows, Box::pin(futures::stream::empty()));
            let (sender, receiver) = tokio::sync::mpsc::channel(ROWS_AHEAD);
            let slot = Arc::clone(slot);
            let pump = async move {
                let _slot = slot;
                while let Some(row) = rows.next().await {
                    if sender.send(row).await.is_err() {
                        break;
                    }
                }
            };
            let task = match runtime.handle() {
                Some(handle) => handle.spawn(pump),
                None => tokio::spawn(pump),
            };
            query.data_rows = Box::pin(LimitedRows {
                rows: receiver,
                sleep: Box::pin(tokio::time::sleep_until(deadline)),
                task: task.abort_handle(),
                done: false,
            });
            Response::Query(query)
        }
        other => other,
    }
}

struct LimitedRows<T> {
    rows: tokio::sync::mpsc::Receiver<PgWireResult<T>>,
    sleep: Pin<Box<tokio::time::Sleep>>,
    task: tokio::task::AbortHandle,
    done: bool,
}

impl<T> Drop for LimitedRows<T> {
    fn drop(&mut self) {
        // Timed out, the client gone, or every row sent: stop computing.
        self.task.abort();
    }
}

impl<T> Stream for LimitedRows<T> {
    type Item = PgWireResult<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            self.done = true;
            self.task.abort();
            return Poll::Ready(Some(Err(timeout_error("sending the rows"))));
        }
        match self.rows.poll_recv(cx) {
            Poll::Ready(Some(Err(e))) => {
                self.done = true;
                Poll::Ready(Some(Err(guard::map_error(e))))
            }
            Poll::Ready(None) => {
                self.done = true;
                Poll::Ready(None)
            }
            other => other,
        }
    }
}

#[async_trait]
impl SimpleQueryHandler for ServeService {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let deadline = self.deadline(client);
        let statements = guard::check(query)?;
        if statements.is_empty() {
            return Ok(vec![Response::EmptyQuery]);
        }
        self.parser.refresh().await;
        let slot = self.slot(deadline).await?;
        let mut responses = Vec::with_capacity(statements.len());
        for (statement, allowed) in statements {
            if allowed == Allowed::IgnoredSet {
                tracing::debug!(%statement, "setting ignored");
                responses.push(Response::Execution(Tag::new("SET")));
                continue;
            }
            let text = statement.to_string();
            let answered = tokio::time::timeout_at(
                deadline,
                self.on_query_runtime(SimpleQueryHandler::do_query(
                    self.inner.as_ref(),
                    client,
                    &text,
                )),
            )
            .await;
            match answered {
                Err(_) => return Err(timeout_error("planning")),
                Ok(Err(e)) => return Err(guard::map_error(e)),
                Ok(Ok(answers)) => responses.extend(
                    answers
                        .into_iter()
                        .map(|r| limit(r, &slot, deadline, &self.limits.runtime)),
                ),
            }
        }
        Ok(responses)
    }
}

#[async_trait]
impl ExtendedQueryHandler for ServeService {
    type Statement = DfStatement;
    type QueryParser = GuardedParser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        Arc::clone(&self.parser)
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Self::Statement>,
        max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let deadline = self.deadline(client);
        let (text, parsed) = &portal.statement.statement;
        if let Some((statement, _)) = parsed
            && guard::check_statement(statement)? == Allowed::IgnoredSet
        {
            return Ok(Response::Execution(Tag::new("SET")));
        }
        self.parser.refresh().await;
        let slot = self.slot(deadline).await?;
        // A prepared statement is planned again when it runs, against the tables committed
        // by then; its result columns must not have changed since it was described.
        let fresh;
        let portal = match parsed {
            Some((Statement::Query(_), old_plan)) => {
                let replanned = self
                    .parser
                    .inner
                    .parse_sql(client, text, &portal.statement.parameter_types)
                    .await
                    .map_err(guard::map_error)?;
                let Some(statement) = replanned else {
                    return Ok(Response::EmptyQuery);
                };
                if let (_, Some((_, plan))) = &statement
                    && !same_columns(plan, old_plan)
                {
                    return Err(guard::error(
                        code::NOT_SUPPORTED,
                        "cached plan must not change result type: a table this prepared \
                         statement reads changed its columns in a newer commit; prepare it again",
                    ));
                }
                fresh = replan(portal, statement);
                &fresh
            }
            _ => portal,
        };
        let answered = tokio::time::timeout_at(
            deadline,
            self.on_query_runtime(ExtendedQueryHandler::do_query(
                self.inner.as_ref(),
                client,
                portal,
                max_rows,
            )),
        )
        .await;
        match answered {
            Err(_) => Err(timeout_error("planning")),
            Ok(Err(e)) => Err(guard::map_error(e)),
            Ok(Ok(response)) => Ok(limit(response, &slot, deadline, &self.limits.runtime)),
        }
    }
}

fn same_columns(a: &LogicalPlan, b: &LogicalPlan) -> bool {
    let fields = |p: &LogicalPlan| {
        p.schema()
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect::<Vec<_>>()
    };
    fields(a) == fields(b)
}

fn replan(portal: &Portal<DfStatement>, statement: DfStatement) -> Portal<DfStatement> {
    let mut stored = StoredStatement::<DfStatement>::default();
    stored.id = portal.statement.id.clone();
    stored.statement = statement;
    stored.parameter_types = portal.statement.parameter_types.clone();
    let mut fresh = Portal::<DfStatement>::default();
    fresh.name = portal.name.clone();
    fresh.statement = Arc::new(stored);
    fresh.parameter_format = clone_format(&portal.parameter_format);
    fresh.parameters = portal.parameters.clone();
    fresh.result_column_format = clone_format(&portal.result_column_format);
    fresh.state = Arc::clone(&portal.state);
    fresh
}

fn clone_format(format: &Format) -> Format {
    match format {
        Format::UnifiedText => Format::UnifiedText,
        Format::UnifiedBinary => Format::UnifiedBinary,
        Format::Individual(formats) => Format::Individual(formats.clone()),
    }
}

/// datafusion-postgres's parser with the guard in front and the catalog refreshed first, so
/// that a statement prepared after a commit describes the new tables.
pub(crate) struct GuardedParser {
    inner: Arc<Parser>,
    ctx: Arc<SessionContext>,
    live: Arc<LiveCatalog>,
}

impl GuardedParser {
    async fn refresh(&self) {
        if let Err(e) = self.live.refresh(&self.ctx).await {
            tracing::warn!(
                "reading the warehouse's latest commits: {e}; serving the tables as they were"
            );
        }
    }
}

#[async_trait]
impl QueryParser for GuardedParser {
    type Statement = DfStatement;

    async fn parse_sql<C>(
        &self,
        client: &C,
        sql: &str,
        types: &[Option<Type>],
    ) -> PgWireResult<Option<Self::Statement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let statements = guard::check(sql)?;
        if statements.len() > 1 {
            return Err(guard::error(
                code::SYNTAX_ERROR,
                "cannot insert multiple commands into a prepared statement",
            ));
        }
        if let Some((statement, Allowed::IgnoredSet)) = statements.first() {
            let plan = datafusion::logical_expr::LogicalPlanBuilder::empty(false)
                .build()
                .map_err(|e| guard::engine_error(&e))?;
            return Ok(Some((
                statement.to_string(),
                Some((statement.clone(), plan)),
            )));
        }
        self.refresh().await;
        self.inner
            .parse_sql(client, sql, types)
            .await
            .map_err(guard::map_error)
    }

    fn get_parameter_types(&self, stmt: &Self::Statement) -> PgWireResult<Vec<Type>> {
        self.inner.get_parameter_types(stmt)
    }

    fn get_result_schema(
        &self,
        stmt: &Self::Statement,
        column_format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        self.inner.get_result_schema(stmt, column_format)
    }
}

/// How clients authenticate.
#[derive(Debug, Clone)]
pub(crate) enum Auth {
    /// SCRAM-SHA-256 against the users file.
    Scram {
        users: Arc<UsersFile>,
        /// The TLS certificate (PEM), for SCRAM-SHA-256-PLUS channel binding.
        certificate: Option<Arc<Vec<u8>>>,
    },
    /// Anyone, as any name (`--insecure-no-auth`).
    None,
}

/// The handlers of one connection.
pub(crate) struct Handlers {
    pub service: Arc<ServeService>,
    pub auth: Auth,
    pub connections: Arc<ConnectionManager>,
    pub cancel: Arc<DefaultCancelHandler>,
    /// Set when the connection is over the connection limit: startup answers this error.
    pub refuse: Option<(&'static str, String)>,
    /// Whether clients must connect over TLS (a certificate was given).
    pub require_tls: bool,
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        Arc::clone(&self.service)
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        Arc::clone(&self.service)
    }

    /// One per connection: the SCRAM exchange keeps its state in the handler.
    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        if let Some((code, message)) = &self.refuse {
            return Arc::new(Guarded {
                require_tls: false,
                inner: Startup::Refuse(code, message.clone()),
            });
        }
        let inner = match &self.auth {
            Auth::Scram { users, certificate } => {
                let mut parameters = DefaultServerParameterProvider::default();
                parameters.search_path = crate::catalog::MARTS.to_string();
                parameters.default_transaction_read_only = true;
                parameters.is_superuser = false;
                let mut scram = ScramAuth::new(users.auth_source());
                if let Some(pem) = certificate
                    && let Err(e) = scram.configure_certificate(pem)
                {
                    tracing::warn!("SCRAM channel binding is off: {e}");
                }
                Startup::Scram(Box::new(
                    SASLAuthStartupHandler::new(Arc::new(parameters))
                        .with_scram(scram)
                        .with_connection_manager(Arc::clone(&self.connections)),
                ))
            }
            Auth::None => Startup::Open(OpenStartup {
                connections: Arc::clone(&self.connections),
            }),
        };
        Arc::new(Guarded {
            require_tls: self.require_tls,
            inner,
        })
    }

    fn error_handler(&self) -> Arc<impl ErrorHandler> {
        Arc::new(LogErrors)
    }

    fn cancel_handler(&self) -> Arc<impl datafusion_postgres::pgwire::api::cancel::CancelHandler> {
        Arc::clone(&self.cancel)
    }
}

struct LogErrors;

impl ErrorHandler for LogErrors {
    fn on_error<C>(&self, client: &C, error: &mut PgWireError)
    where
        C: ClientInfo,
    {
        let user = client.metadata().get("user").cloned().unwrap_or_default();
        tracing::info!(%user, peer = %client.socket_addr(), "{error}");
    }
}

/// A startup handler that first refuses plain connections when TLS is required.
struct Guarded {
    require_tls: bool,
    inner: Startup,
}

#[async_trait]
impl StartupHandler for Guarded {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if self.require_tls && !client.is_secure() {
            return Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                "FATAL".to_string(),
                "28000".to_string(),
                "this server accepts TLS connections only (sslmode=require)".to_string(),
            ))));
        }
        self.inner.on_startup(client, message).await
    }
}

enum Startup {
    Scram(Box<SASLAuthStartupHandler<DefaultServerParameterProvider>>),
    Open(OpenStartup),
    Refuse(&'static str, String),
}

#[async_trait]
impl StartupHandler for Startup {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match self {
            Startup::Scram(h) => h.on_startup(client, message).await,
            Startup::Open(h) => h.on_startup(client, message).await,
            Startup::Refuse(code, text) => Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                "FATAL".to_string(),
                code.to_string(),
                text.clone(),
            )))),
        }
    }
}

struct OpenStartup {
    connections: Arc<ConnectionManager>,
}

impl NoopStartupHandler for OpenStartup {
    fn connection_manager(&self) -> Option<Arc<ConnectionManager>> {
        Some(Arc::clone(&self.connections))
    }
}
