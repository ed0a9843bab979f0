//! The identity graph as table functions (see [`graph`] for the algorithm):
//!
//! | function | returns |
//! |---|---|
//! | `identity_graph('records', 'previous_identity')` | one row per identifier: its customer, status (linked / blocked / capped / size_limited) and why |
//! | `identity_graph_merges('records', 'previous_identity', 'previous_merges')` | the merges and splits of customers relative to the previous run, after the previous log |
//!
//! `records` has one row per identifier a record carries: `record_kind`, `record_id`,
//! `id_type`, `id_value` (normalized), `observed_at` (timestamp) and optionally `anchor`
//! (boolean: false when the record may not name a customer, e.g. a deleted CRM contact).
//! `previous_identity` is the last committed `customer_identity` (`id_type, id_value,
//! customer_key`) and `previous_merges` the last `identity_merges`; the run registers them as
//! `previous_<mart>`, and a missing one (the first run, `touchstone validate`) is empty.
//!
//! Both functions share one graph per session: the records are read once, into a structure
//! whose memory is reserved from the engine's pool (the graph does not spill: it needs every
//! identifier at once, about 60 bytes each plus 24 per record row).

pub mod graph;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use arrow::array::{
    Array, ArrayRef, BooleanArray, BooleanBuilder, Date32Array, Int32Builder, Int64Builder,
    RecordBatch, StringArray, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use async_trait::async_trait;
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl};
use datafusion::common::{DataFusionError, Result, plan_err};
use datafusion::datasource::TableProvider;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::execution::context::SessionState;
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use touchstone_core::config::IdentitySettings;
use tracing::{info, warn};

pub use graph::{
    GraphBuilder, GraphError, IdentifierRow, MergeEvent, PreviousKeys, Resolution, Status,
    anonymous_key,
};

use super::args::{literal_args, optional_table, required_columns, timestamps};
use crate::udf::cast_to;

/// Name of the identifiers function.
pub const IDENTITY_GRAPH: &str = "identity_graph";
/// Name of the merges function.
pub const IDENTITY_MERGES: &str = "identity_graph_merges";

/// Registers both functions in `ctx`.
pub fn register(ctx: &SessionContext, settings: &IdentitySettings) {
    let cache = Arc::new(GraphCache::default());
    for kind in [Kind::Identifiers, Kind::Merges] {
        ctx.register_udtf(
            kind.name(),
            Arc::new(IdentityFunction {
                kind,
                settings: settings.clone(),
                cache: Arc::clone(&cache),
            }),
        );
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Identifiers,
    Merges,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Identifiers => IDENTITY_GRAPH,
            Kind::Merges => IDENTITY_MERGES,
        }
    }

    fn arity(self) -> usize {
        match self {
            Kind::Identifiers => 2,
            Kind::Merges => 3,
        }
    }

    fn schema(self) -> SchemaRef {
        match self {
            Kind::Identifiers => Arc::clone(&IDENTIFIERS_SCHEMA),
            Kind::Merges => Arc::clone(&MERGES_SCHEMA),
        }
    }
}

fn ts_field(name: &str) -> Field {
    Field::new(
        name,
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        true,
    )
}

static IDENTIFIERS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("id_type", DataType::Utf8, false),
        Field::new("id_value", DataType::Utf8, false),
        Field::new("customer_key", DataType::Utf8, true),
        Field::new("status", DataType::Utf8, false),
        Field::new("reason", DataType::Utf8, true),
        Field::new("priority", DataType::Int32, false),
        Field::new("is_anchor", DataType::Boolean, false),
        Field::new("degree", DataType::Int64, false),
        Field::new("customer_identifiers", DataType::Int64, false),
        Field::new("records", DataType::Int64, false),
        ts_field("first_seen_at"),
        ts_field("last_seen_at"),
        Field::new("previous_customer_key", DataType::Utf8, true),
    ]))
});

static MERGES_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("run_id", DataType::Utf8, false),
        Field::new("run_date", DataType::Date32, false),
        Field::new("event", DataType::Utf8, false),
        Field::new("customer_key", DataType::Utf8, false),
        Field::new("previous_customer_key", DataType::Utf8, false),
        Field::new("identifiers", DataType::Int64, false),
    ]))
});

/// The input columns: (name, type check).
const RECORD_COLUMNS: [(&str, &str); 5] = [
    ("record_kind", "text"),
    ("record_id", "text"),
    ("id_type", "text"),
    ("id_value", "text"),
    ("observed_at", "timestamp"),
];

#[derive(Debug)]
struct IdentityFunction {
    kind: Kind,
    settings: IdentitySettings,
    cache: Arc<GraphCache>,
}

impl TableFunctionImpl for IdentityFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let name = self.kind.name();
        let usage = match self.kind {
            Kind::Identifiers => {
                "identity_graph('int_identity_records', 'previous_customer_identity')"
            }
            Kind::Merges => {
                "identity_graph_merges('int_identity_records', 'previous_customer_identity', 'previous_identity_merges')"
            }
        };
        let tables = literal_args(name, args.exprs(), self.kind.arity(), usage)?;
        if let Some(state) = args.session().as_any().downcast_ref::<SessionState>() {
            required_columns(state, name, &tables[0], &RECORD_COLUMNS)?;
        }
        Ok(Arc::new(IdentityTable {
            kind: self.kind,
            tables,
            settings: self.settings.clone(),
            cache: Arc::clone(&self.cache),
        }))
    }
}

#[derive(Debug)]
struct IdentityTable {
    kind: Kind,
    tables: Vec<String>,
    settings: IdentitySettings,
    cache: Arc<GraphCache>,
}

/// One graph per (records, previous) in a session: both functions read it.
#[derive(Debug, Default)]
struct GraphCache {
    graphs: tokio::sync::Mutex<HashMap<String, Arc<Resolution>>>,
}

#[async_trait]
impl TableProvider for IdentityTable {
    fn schema(&self) -> SchemaRef {
        self.kind.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let Some(state) = state.as_any().downcast_ref::<SessionState>() else {
            return plan_err!("{}: needs a DataFusion SessionState", self.kind.name());
        };
        let resolution = {
            let key = format!("{}|{}", self.tables[0], self.tables[1]);
            let mut graphs = self.cache.graphs.lock().await;
            match graphs.get(&key) {
                Some(r) => Arc::clone(r),
                None => {
                    let r = Arc::new(
                        build(state, &self.settings, &self.tables[0], &self.tables[1]).await?,
                    );
                    graphs.insert(key, Arc::clone(&r));
                    r
                }
            }
        };
        let batch = match self.kind {
            Kind::Identifiers => identifiers_batch(&resolution)?,
            Kind::Merges => merges_batch(state, &resolution, &self.tables[2]).await?,
        };
        let exec = MemorySourceConfig::try_new_exec(
            &[vec![batch]],
            self.kind.schema(),
            projection.cloned(),
        )?;
        Ok(exec)
    }
}

/// Reads the records and the previous keys, and resolves the graph.
async fn build(
    state: &SessionState,
    settings: &IdentitySettings,
    records: &str,
    previous: &str,
) -> Result<Resolution> {
    let ctx = SessionContext::new_with_state(state.clone());
    let mut builder = GraphBuilder::new(settings).map_err(external)?;
    let reservation =
        MemoryConsumer::new("identity_graph").register(&state.runtime_env().memory_pool);
    let mut stream = ctx.table(records).await?.execute_stream().await?;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        let text = |name: &str| -> Result<StringArray> {
            let column = batch
                .column_by_name(name)
                .ok_or_else(|| DataFusionError::Plan(format!("{records} has no column {name}")))?;
            cast_to(column, &DataType::Utf8)
        };
        let (kind, id, id_type, value) = (
            text("record_kind")?,
            text("record_id")?,
            text("id_type")?,
            text("id_value")?,
        );
        let observed = timestamps(&batch, "observed_at")?;
        let anchor: Option<BooleanArray> = match batch.column_by_name("anchor") {
            Some(a) => Some(cast_to(a, &DataType::Boolean)?),
            None => None,
        };
        for i in 0..batch.num_rows() {
            if value.is_null(i) || id_type.is_null(i) {
                continue;
            }
            builder
                .add(
                    (kind.value(i), if id.is_null(i) { "" } else { id.value(i) }),
                    id_type.value(i),
                    value.value(i),
                    observed.is_valid(i).then(|| observed.value(i)),
                    anchor.as_ref().is_none_or(|a| a.is_null(i) || a.value(i)),
                )
                .map_err(external)?;
        }
        reservation.try_resize(builder.memory_size()).map_err(|e| {
            DataFusionError::ResourcesExhausted(format!(
                "the identity graph holds {} identifiers in {} MB and needs more memory than \
                 the engine has left ({e}); raise memory_limit_mb",
                builder.identifiers(),
                builder.memory_size() / (1 << 20)
            ))
        })?;
    }
    let previous_keys = read_previous(&ctx, previous).await?;
    let resolution = tokio::task::spawn_blocking(move || builder.resolve(&previous_keys))
        .await
        .map_err(|e| DataFusionError::External(Box::new(e)))?;
    log_guards(&resolution);
    Ok(resolution)
}

async fn read_previous(ctx: &SessionContext, table: &str) -> Result<PreviousKeys> {
    let mut keys = PreviousKeys::default();
    let Some(df) = optional_table(ctx, table).await? else {
        return Ok(keys);
    };
    let df = df.select_columns(&["id_type", "id_value", "customer_key"])?;
    let mut stream = df.execute_stream().await?;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        let t: StringArray = cast_to(batch.column(0), &DataType::Utf8)?;
        let v: StringArray = cast_to(batch.column(1), &DataType::Utf8)?;
        let k: StringArray = cast_to(batch.column(2), &DataType::Utf8)?;
        for i in 0..batch.num_rows() {
            if t.is_valid(i) && v.is_valid(i) && k.is_valid(i) {
                keys.insert(t.value(i), v.value(i), k.value(i));
            }
        }
    }
    Ok(keys)
}

/// Logs what the guards did: every guard that fires is also a row of customer_identity.
fn log_guards(r: &Resolution) {
    let mut fired: HashMap<Status, Vec<String>> = HashMap::new();
    for ((t, status), n) in r.status_counts() {
        if status != Status::Linked {
            fired.entry(status).or_default().push(format!("{t} {n}"));
        }
    }
    info!(
        identifiers = r.rows.len(),
        customers = r.customers(),
        merges = r.merges.len(),
        "identity graph resolved"
    );
    for (status, what) in fired {
        let example = r
            .rows
            .iter()
            .find(|row| row.status == status)
            .map(|row| {
                format!(
                    "{} {}: {}",
                    r.id_type(row),
                    r.value(row),
                    row.reason.as_deref().unwrap_or("")
                )
            })
            .unwrap_or_default();
        warn!(
            guard = status.name(),
            identifiers = %what.join(", "),
            example = %example,
            "identity guard fired; see customer_identity where status = '{}'",
            status.name()
        );
    }
}

fn identifiers_batch(r: &Resolution) -> Result<RecordBatch> {
    let n = r.rows.len();
    let mut id_type = StringBuilder::with_capacity(n, n * 8);
    let mut value = StringBuilder::with_capacity(n, n * 24);
    let mut key = StringBuilder::with_capacity(n, n * 18);
    let mut status = StringBuilder::with_capacity(n, n * 6);
    let mut reason = StringBuilder::new();
    let mut priority = Int32Builder::with_capacity(n);
    let mut anchor = BooleanBuilder::with_capacity(n);
    let mut degree = Int64Builder::with_capacity(n);
    let mut size = Int64Builder::with_capacity(n);
    let mut records = Int64Builder::with_capacity(n);
    let mut first = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut last = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut previous = StringBuilder::new();
    for row in &r.rows {
        id_type.append_value(r.id_type(row));
        value.append_value(r.value(row));
        key.append_option(r.customer_key(row));
        status.append_value(row.status.name());
        reason.append_option(row.reason.as_deref());
        priority.append_value(i32::from(row.priority));
        anchor.append_value(row.is_anchor);
        degree.append_value(i64::from(row.degree));
        size.append_value(row.customer_identifiers as i64);
        records.append_value(row.records as i64);
        first.append_option(row.first_seen);
        last.append_option(row.last_seen);
        previous.append_option(r.previous_key(row));
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(id_type.finish()),
        Arc::new(value.finish()),
        Arc::new(key.finish()),
        Arc::new(status.finish()),
        Arc::new(reason.finish()),
        Arc::new(priority.finish()),
        Arc::new(anchor.finish()),
        Arc::new(degree.finish()),
        Arc::new(size.finish()),
        Arc::new(records.finish()),
        Arc::new(first.finish()),
        Arc::new(last.finish()),
        Arc::new(previous.finish()),
    ];
    Ok(RecordBatch::try_new(Kind::Identifiers.schema(), columns)?)
}

/// The previous log followed by this run's merges and splits, stamped with the run.
async fn merges_batch(
    state: &SessionState,
    r: &Resolution,
    previous_merges: &str,
) -> Result<RecordBatch> {
    let schema = Kind::Merges.schema();
    let ctx = SessionContext::new_with_state(state.clone());
    let mut batches = Vec::new();
    if let Some(df) = optional_table(&ctx, previous_merges).await? {
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        for batch in df.select_columns(&names)?.collect().await? {
            let columns = batch
                .columns()
                .iter()
                .zip(schema.fields())
                .map(|(c, f)| arrow::compute::cast(c, f.data_type()))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            batches.push(RecordBatch::try_new(Arc::clone(&schema), columns)?);
        }
    }
    let (run_id, run_date) = run_context(&ctx).await?;
    let n = r.merges.len();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec![run_id.as_str(); n])),
        Arc::new(Date32Array::from(vec![run_date; n])),
        Arc::new(StringArray::from_iter_values(
            r.merges.iter().map(|m| m.event),
        )),
        Arc::new(StringArray::from_iter_values(
            r.merges.iter().map(|m| m.customer_key.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            r.merges.iter().map(|m| m.previous_key.as_str()),
        )),
        Arc::new(arrow::array::Int64Array::from_iter_values(
            r.merges.iter().map(|m| m.identifiers as i64),
        )),
    ];
    batches.push(RecordBatch::try_new(Arc::clone(&schema), columns)?);
    Ok(concat_batches(&schema, &batches)?)
}

/// The run's id and date from `run_context` (`validate` and tests may have none).
async fn run_context(ctx: &SessionContext) -> Result<(String, i32)> {
    let Some(df) = optional_table(ctx, crate::RUN_CONTEXT).await? else {
        return Ok(("(no run)".to_string(), 0));
    };
    let batches = df
        .select_columns(&["run_id", "run_date"])?
        .collect()
        .await?;
    let Some(batch) = batches.iter().find(|b| b.num_rows() > 0) else {
        return Ok(("(no run)".to_string(), 0));
    };
    let id: StringArray = cast_to(batch.column(0), &DataType::Utf8)?;
    let date: Date32Array = cast_to(batch.column(1), &DataType::Date32)?;
    Ok((id.value(0).to_string(), date.value(0)))
}

fn external(e: GraphError) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

#[cfg(test)]
mod tests;
