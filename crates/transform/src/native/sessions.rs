//! Sort-once web sessionization as table functions:
//!
//! | function | returns |
//! |---|---|
//! | `web_sessions('events')` | one row per session: `session_id` (`<visitor_id>#<n>`), `visitor_id`, `anonymous_id`, `user_id` and `email` (the last seen), `started_at`, `ended_at`, `events`, `page_views`, `errors`, `bot_searches`, `failed_bot_searches`, `landing_url` |
//! | `web_session_events('events')` | every input row with its `session_id` |
//! | `journey_steps('touches')` | every touch (`customer_key`, `started_at`, `touchpoint_id`, `channel`, optionally `split_reason`) with its `journey_id` (`<customer_key>#<n>`), `step`, `is_channel_switch`, `secs_since_previous`; a touch more than `journeys.window_hours` after the previous one starts a journey, and so does one whose `split_reason` is known and differs from the journey's first known one |
//!
//! `events` has one row per event: `visitor_id`, `occurred_at` and `message_id`, and for
//! `web_sessions` also `anonymous_id`, `user_id`, `email`, `event_type`, `url`, `error_code`,
//! `search_query`, `search_result_count`. A visitor's events, in the order of
//! (`occurred_at`, `message_id`), are split into sessions where two consecutive events are more
//! than `journeys.web_session_gap_mins` apart (default 30: the Segment and Snowplow
//! convention); the n-th session of a visitor is `<visitor_id>#<n>`.
//!
//! The input is hash-partitioned by `visitor_id` and sorted once by (`visitor_id`,
//! `occurred_at`, `message_id`) with DataFusion's sort, which spills within the session's memory
//! limit; the operator then reads it in one pass, holding one open session, and streams its
//! rows. The same sessions as the window functions `LAG` and a running `SUM` over
//! `PARTITION BY visitor_id`, without their per-partition buffers or a `GROUP BY` over
//! millions of sessions.

use std::fmt;
use std::sync::{Arc, LazyLock};

use arrow::array::{
    Array, ArrayRef, BooleanBuilder, Float64Builder, Int64Array, Int64Builder, RecordBatch,
    StringArray, StringBuilder, TimestampMicrosecondArray, TimestampMicrosecondBuilder,
};
use arrow::compute::SortOptions;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use async_trait::async_trait;
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result, plan_err};
use datafusion::datasource::TableProvider;
use datafusion::execution::context::SessionState;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::{
    EquivalenceProperties, LexOrdering, OrderingRequirements, PhysicalExpr, PhysicalSortExpr,
};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, Distribution, ExecutionPlan,
    ExecutionPlanProperties, InputDistributionRequirements, Partitioning, PlanProperties,
    ReplaceChildrenOptions,
};
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use touchstone_core::config::SessionSettings;

use super::args::{literal_args, required_columns, table_schema, timestamps};
use crate::udf::{cast_to, normalize_email};

/// Name of the one-row-per-session function.
pub const WEB_SESSIONS: &str = "web_sessions";
/// Name of the one-row-per-event function.
pub const WEB_SESSION_EVENTS: &str = "web_session_events";
/// Name of the journey function: touchpoints cut into journeys the same way.
pub const JOURNEY_STEPS: &str = "journey_steps";
/// The optional input column of [`JOURNEY_STEPS`] whose change starts a new journey.
pub const SPLIT_REASON: &str = "split_reason";

/// Registers the functions in `ctx`, with the session gap and journey window of `settings`.
pub fn register(ctx: &SessionContext, settings: &SessionSettings) {
    for mode in [Mode::Sessions, Mode::Events, Mode::Journeys] {
        let gap_secs = match mode {
            Mode::Journeys => settings.window_secs,
            Mode::Sessions | Mode::Events => settings.web_session_gap_secs,
        };
        let gap_us = gap_secs.saturating_mul(1_000_000);
        ctx.register_udtf(mode.name(), Arc::new(SessionFunction { mode, gap_us }));
    }
}

/// What the operator emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One row per session.
    Sessions,
    /// Every input row with its session id.
    Events,
    /// Every touchpoint (`customer_key`, `started_at`, `touchpoint_id`, `channel`) with its
    /// `journey_id` (`<customer_key>#<n>`), `step` in the journey, `is_channel_switch` (another
    /// channel than the journey's previous touch) and `secs_since_previous` (in the journey).
    Journeys,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Sessions => WEB_SESSIONS,
            Mode::Events => WEB_SESSION_EVENTS,
            Mode::Journeys => JOURNEY_STEPS,
        }
    }

    /// The group, time and tie-break columns of the sort.
    fn keys(self) -> [&'static str; 3] {
        match self {
            Mode::Sessions | Mode::Events => ["visitor_id", "occurred_at", "message_id"],
            Mode::Journeys => ["customer_key", "started_at", "touchpoint_id"],
        }
    }

    /// The columns the function adds to its input rows (not for [`Mode::Sessions`]).
    fn added(self) -> Vec<Field> {
        match self {
            Mode::Sessions => Vec::new(),
            Mode::Events => vec![Field::new("session_id", DataType::Utf8, true)],
            Mode::Journeys => vec![
                Field::new("journey_id", DataType::Utf8, true),
                Field::new("step", DataType::Int64, false),
                Field::new("is_channel_switch", DataType::Boolean, false),
                Field::new("secs_since_previous", DataType::Float64, true),
            ],
        }
    }

    fn inputs(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Mode::Sessions => &[
                ("visitor_id", "text"),
                ("occurred_at", "timestamp"),
                ("message_id", "text"),
                ("anonymous_id", "text"),
                ("user_id", "text"),
                ("email", "text"),
                ("event_type", "text"),
                ("url", "text"),
                ("error_code", "text"),
                ("search_query", "text"),
                ("search_result_count", "number"),
            ],
            Mode::Events => &[
                ("visitor_id", "text"),
                ("occurred_at", "timestamp"),
                ("message_id", "text"),
            ],
            Mode::Journeys => &[
                ("customer_key", "text"),
                ("started_at", "timestamp"),
                ("touchpoint_id", "text"),
                ("channel", "text"),
            ],
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

/// The columns of `web_sessions`.
pub static SESSIONS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let text = |name: &str| Field::new(name, DataType::Utf8, true);
    let count = |name: &str| Field::new(name, DataType::Int64, false);
    Arc::new(Schema::new(vec![
        text("session_id"),
        text("visitor_id"),
        text("anonymous_id"),
        text("user_id"),
        text("email"),
        ts_field("started_at"),
        ts_field("ended_at"),
        count("events"),
        count("page_views"),
        count("errors"),
        count("bot_searches"),
        count("failed_bot_searches"),
        text("landing_url"),
    ]))
});

#[derive(Debug)]
struct SessionFunction {
    mode: Mode,
    gap_us: i64,
}

impl TableFunctionImpl for SessionFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let name = self.mode.name();
        let usage = match self.mode {
            Mode::Journeys => format!("{name}('int_journey_touches')"),
            Mode::Sessions | Mode::Events => format!("{name}('int_web_unique_events')"),
        };
        let tables = literal_args(name, args.exprs(), 1, &usage)?;
        let Some(state) = args.session().as_any().downcast_ref::<SessionState>() else {
            return plan_err!("{name}: needs a DataFusion SessionState");
        };
        required_columns(state, name, &tables[0], self.mode.inputs())?;
        let schema = match self.mode {
            Mode::Sessions => Arc::clone(&SESSIONS_SCHEMA),
            Mode::Events | Mode::Journeys => {
                let input = table_schema(state, name, &tables[0])?;
                let mut fields: Vec<Field> = input
                    .fields()
                    .iter()
                    .map(|f| match f.data_type() {
                        DataType::Utf8View | DataType::LargeUtf8 => {
                            f.as_ref().clone().with_data_type(DataType::Utf8)
                        }
                        _ => f.as_ref().clone(),
                    })
                    .collect();
                for added in self.mode.added() {
                    if fields.iter().any(|f| f.name() == added.name()) {
                        return plan_err!(
                            "{name}('{}'): the input already has a column {}",
                            tables[0],
                            added.name()
                        );
                    }
                    fields.push(added);
                }
                Arc::new(Schema::new(fields))
            }
        };
        Ok(Arc::new(SessionTable {
            mode: self.mode,
            input: tables[0].clone(),
            gap_us: self.gap_us,
            schema,
        }))
    }
}

#[derive(Debug)]
struct SessionTable {
    mode: Mode,
    input: String,
    gap_us: i64,
    schema: SchemaRef,
}

#[async_trait]
impl TableProvider for SessionTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
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
            return plan_err!("{}: needs a DataFusion SessionState", self.mode.name());
        };
        // The input's plan is returned unoptimized: the session optimizes the whole plan this
        // scan is part of once. (An input optimized here, then again with the rest, would have
        // its joins swapped after their dynamic filters were built, which DataFusion refuses.)
        let unoptimized =
            datafusion::execution::SessionStateBuilder::new_from_existing(state.clone())
                .with_physical_optimizer_rules(vec![])
                .build();
        let ctx = SessionContext::new_with_state(unoptimized);
        let input = ctx.table(self.input.as_str()).await?;
        // Only the columns a session is made of go through the sort (and the plan below reads
        // only those). Strings are compacted to plain UTF-8: a string view read from Parquet
        // shares its row group's buffers, so each batch of it counts (against the sort's share
        // of the pool) as the whole row group, and a small memory limit cannot sort one batch.
        let columns: Vec<Expr> = input
            .schema()
            .fields()
            .iter()
            .filter(|f| {
                self.mode != Mode::Sessions || self.mode.inputs().iter().any(|(c, _)| c == f.name())
            })
            .map(|f| {
                let c = datafusion::prelude::col(datafusion::common::Column::from_name(f.name()));
                match f.data_type() {
                    DataType::Utf8View | DataType::LargeUtf8 => {
                        datafusion::prelude::cast(c, DataType::Utf8).alias(f.name())
                    }
                    _ => c,
                }
            })
            .collect();
        let input = input.select(columns)?;
        let added = self.schema.fields().len() - self.mode.added().len();
        if self.mode != Mode::Sessions
            && let Some(p) = projection
            && p.iter().all(|&i| i < added)
        {
            // The events without their session ids (a metric counting events): no sort.
            let input = input.create_physical_plan().await?;
            return Ok(Arc::new(SessionizeExec::try_new(
                self.mode,
                self.gap_us,
                input,
                Arc::clone(&self.schema),
                projection.cloned(),
                None,
            )?));
        }
        let input = input.create_physical_plan().await?;
        let exec = SessionizeExec::try_new(
            self.mode,
            self.gap_us,
            input,
            Arc::clone(&self.schema),
            projection.cloned(),
            Some(state.config().target_partitions()),
        )?;
        Ok(Arc::new(exec))
    }
}

/// The operator: reads its input hash-partitioned by `visitor_id` and sorted by (`visitor_id`,
/// `occurred_at`, `message_id`) within each partition, and emits sessions or events.
#[derive(Debug, Clone)]
pub struct SessionizeExec {
    mode: Mode,
    gap_us: i64,
    input: Arc<dyn ExecutionPlan>,
    /// Every output column.
    full_schema: SchemaRef,
    projection: Option<Vec<usize>>,
    /// The sort the input must have.
    ordering: LexOrdering,
    visitor: Arc<dyn PhysicalExpr>,
    /// False when the rows pass through unsorted and without ids (none is read).
    sorted: bool,
    properties: Arc<PlanProperties>,
}

impl SessionizeExec {
    /// Sorts `input` (repartitioned by visitor into `partitions`) and sessionizes it; with no
    /// `partitions`, passes the input rows through (a projection without the added columns).
    fn try_new(
        mode: Mode,
        gap_us: i64,
        input: Arc<dyn ExecutionPlan>,
        full_schema: SchemaRef,
        projection: Option<Vec<usize>>,
        partitions: Option<usize>,
    ) -> Result<Self> {
        let schema = input.schema();
        let column = |name: &str| -> Result<Arc<dyn PhysicalExpr>> {
            Ok(Arc::new(Column::new_with_schema(name, &schema)?))
        };
        let [key, time, tiebreak] = mode.keys();
        let visitor = column(key)?;
        let asc = SortOptions {
            descending: false,
            nulls_first: false,
        };
        let ordering = LexOrdering::new([
            PhysicalSortExpr::new(Arc::clone(&visitor), asc),
            PhysicalSortExpr::new(column(time)?, asc),
            PhysicalSortExpr::new(column(tiebreak)?, asc),
        ])
        .ok_or_else(|| DataFusionError::Internal("empty session ordering".into()))?;
        let Some(partitions) = partitions else {
            return Self::with_input(
                mode,
                gap_us,
                input,
                full_schema,
                projection,
                ordering,
                visitor,
                false,
            );
        };
        let partitions = partitions.max(1);
        let repartitioned = Arc::new(RepartitionExec::try_new(
            input,
            Partitioning::Hash(vec![Arc::clone(&visitor)], partitions),
        )?);
        let sorted: Arc<dyn ExecutionPlan> = Arc::new(
            SortExec::new(ordering.clone(), repartitioned).with_preserve_partitioning(true),
        );
        Self::with_input(
            mode,
            gap_us,
            sorted,
            full_schema,
            projection,
            ordering,
            visitor,
            true,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn with_input(
        mode: Mode,
        gap_us: i64,
        input: Arc<dyn ExecutionPlan>,
        full_schema: SchemaRef,
        projection: Option<Vec<usize>>,
        ordering: LexOrdering,
        visitor: Arc<dyn PhysicalExpr>,
        sorted: bool,
    ) -> Result<Self> {
        let out_schema = match &projection {
            Some(p) => Arc::new(full_schema.project(p)?),
            None => Arc::clone(&full_schema),
        };
        let partitions = input.output_partitioning().partition_count();
        let (equivalences, partitioning) = if sorted && mode != Mode::Sessions {
            passed_through_order(mode, &full_schema, projection.as_deref(), partitions)
        } else {
            (None, None)
        };
        let properties = PlanProperties::new(
            EquivalenceProperties::new_with_orderings(Arc::clone(&out_schema), equivalences),
            partitioning.unwrap_or(Partitioning::UnknownPartitioning(partitions)),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Ok(SessionizeExec {
            mode,
            gap_us,
            input,
            full_schema,
            projection,
            ordering,
            visitor,
            sorted,
            properties: Arc::new(properties),
        })
    }
}

/// What the rows of [`Mode::Events`] and [`Mode::Journeys`] keep of the sort they went
/// through: they leave in the order they were read, each partition sorted by the key, time and
/// tie-break columns, and hash-partitioned by the key as the input was. Declared to the
/// planner, a later `GROUP BY journey_id` or `PARTITION BY customer_key` streams over them
/// instead of sorting or hashing them again. Only the leading key columns still in the output
/// (after `projection`) count.
fn passed_through_order(
    mode: Mode,
    full_schema: &SchemaRef,
    projection: Option<&[usize]>,
    partitions: usize,
) -> (Option<LexOrdering>, Option<Partitioning>) {
    let position = |name: &str| -> Option<usize> {
        let full = full_schema.index_of(name).ok()?;
        match projection {
            Some(p) => p.iter().position(|&i| i == full),
            None => Some(full),
        }
    };
    let asc = SortOptions {
        descending: false,
        nulls_first: false,
    };
    let column = |name: &str, i: usize| -> Arc<dyn PhysicalExpr> { Arc::new(Column::new(name, i)) };
    let keys = mode.keys();
    let sorted: Vec<PhysicalSortExpr> = keys
        .iter()
        .map_while(|k| position(k).map(|i| PhysicalSortExpr::new(column(k, i), asc)))
        .collect();
    let partitioning =
        position(keys[0]).map(|i| Partitioning::Hash(vec![column(keys[0], i)], partitions));
    (LexOrdering::new(sorted), partitioning)
}

impl DisplayAs for SessionizeExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "SessionizeExec: mode={:?}, gap_secs={}",
            self.mode,
            self.gap_us / 1_000_000
        )
    }
}

impl ExecutionPlan for SessionizeExec {
    fn name(&self) -> &str {
        "SessionizeExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn input_distribution_requirements(&self) -> InputDistributionRequirements {
        InputDistributionRequirements::new(vec![if self.sorted {
            Distribution::KeyPartitioned(vec![Arc::clone(&self.visitor)])
        } else {
            Distribution::UnspecifiedDistribution
        }])
    }

    fn required_input_ordering(&self) -> Vec<Option<OrderingRequirements>> {
        vec![
            self.sorted
                .then(|| OrderingRequirements::from(self.ordering.clone())),
        ]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.len() != 1 {
            return plan_err!("SessionizeExec takes one input, got {}", children.len());
        }
        Ok(Arc::new(Self::with_input(
            self.mode,
            self.gap_us,
            children.swap_remove(0),
            Arc::clone(&self.full_schema),
            self.projection.clone(),
            self.ordering.clone(),
            Arc::clone(&self.visitor),
            self.sorted,
        )?))
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, Arc::clone(&context))?;
        let batch_size = context.session_config().batch_size().max(1);
        let out_schema = self.schema();
        let state = Stream {
            input,
            sessionizer: Sessionizer::new(self.gap_us),
            mode: self.mode,
            full_schema: Arc::clone(&self.full_schema),
            projection: self.projection.clone(),
            batch_size,
            sorted: self.sorted,
            done: false,
        };
        let stream = futures::stream::unfold(state, |mut s| async move {
            match s.next_batch().await {
                Ok(Some(batch)) => Some((Ok(batch), s)),
                Ok(None) => None,
                Err(e) => {
                    s.done = true;
                    Some((Err(e), s))
                }
            }
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(out_schema, stream)))
    }
}

struct Stream {
    input: SendableRecordBatchStream,
    sessionizer: Sessionizer,
    mode: Mode,
    full_schema: SchemaRef,
    projection: Option<Vec<usize>>,
    batch_size: usize,
    sorted: bool,
    done: bool,
}

impl Stream {
    async fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        loop {
            if self.done {
                return Ok(None);
            }
            match self.input.next().await {
                Some(batch) => {
                    let batch = batch?;
                    if !self.sorted {
                        let n = batch.num_columns();
                        let fields: Vec<Field> = self.full_schema.fields()[..n]
                            .iter()
                            .map(|f| f.as_ref().clone())
                            .collect();
                        let columns = conform(&batch, &fields)?;
                        let out = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;
                        return self.project(out).map(Some);
                    }
                    let out = match self.mode {
                        Mode::Events | Mode::Journeys => Some(self.sessionizer.events(
                            &batch,
                            self.mode,
                            &self.full_schema,
                        )?),
                        Mode::Sessions => {
                            self.sessionizer.sessions(&batch)?;
                            if self.sessionizer.out.len() >= self.batch_size {
                                Some(self.sessionizer.out.finish(&self.full_schema)?)
                            } else {
                                None
                            }
                        }
                    };
                    if let Some(out) = out.filter(|b| b.num_rows() > 0) {
                        return self.project(out).map(Some);
                    }
                }
                None => {
                    self.done = true;
                    if self.mode == Mode::Sessions {
                        self.sessionizer.close();
                        if self.sessionizer.out.len() > 0 {
                            let out = self.sessionizer.out.finish(&self.full_schema)?;
                            return self.project(out).map(Some);
                        }
                    }
                    return Ok(None);
                }
            }
        }
    }

    fn project(&self, batch: RecordBatch) -> Result<RecordBatch> {
        match &self.projection {
            Some(p) => Ok(batch.project(p)?),
            None => Ok(batch),
        }
    }
}

/// The state of the pass: the current visitor, their session count and last event time, and
/// (for [`Mode::Sessions`]) the open session.
#[derive(Debug)]
pub(crate) struct Sessionizer {
    gap_us: i64,
    /// `None` before the first row; then the current visitor (itself null for rows without).
    visitor: Option<Option<String>>,
    /// Sessions of the current visitor so far.
    n: u64,
    /// The previous row's time.
    previous_at: Option<i64>,
    open: Option<Open>,
    out: SessionColumns,
    /// Journeys: the current touch's step and the previous touch's channel.
    step: i64,
    previous_channel: Option<String>,
    /// Journeys: the first known `split_reason` of the current journey.
    journey_reason: Option<String>,
}

/// One open session's aggregates.
#[derive(Debug, Default)]
struct Open {
    session_id: Option<String>,
    visitor_id: Option<String>,
    anonymous_id: Option<String>,
    user_id: Option<String>,
    email: Option<String>,
    started_at: Option<i64>,
    ended_at: Option<i64>,
    events: i64,
    page_views: i64,
    errors: i64,
    bot_searches: i64,
    failed_bot_searches: i64,
    landing_url: Option<String>,
}

impl Sessionizer {
    pub(crate) fn new(gap_us: i64) -> Self {
        Sessionizer {
            gap_us,
            visitor: None,
            n: 0,
            previous_at: None,
            open: None,
            out: SessionColumns::default(),
            step: 0,
            previous_channel: None,
            journey_reason: None,
        }
    }

    /// Moves to the row of `visitor` at `at`; true when it starts a session. Rows without a
    /// visitor are one group with no session id, never split (as `PARTITION BY` and
    /// `GROUP BY` treat nulls).
    fn advance(&mut self, visitor: Option<&str>, at: Option<i64>) -> bool {
        let same_visitor = self
            .visitor
            .as_ref()
            .is_some_and(|v| v.as_deref() == visitor);
        let new = if !same_visitor {
            self.visitor = Some(visitor.map(str::to_string));
            self.n = 0;
            true
        } else if visitor.is_none() {
            false
        } else {
            match (self.previous_at, at) {
                // The first row, or one after a row without a time.
                (None, _) => true,
                (Some(prev), Some(at)) => at.saturating_sub(prev) > self.gap_us,
                // No time: it cannot be further than the gap from anything.
                (Some(_), None) => false,
            }
        };
        if new {
            self.n += 1;
        }
        self.previous_at = at;
        new
    }

    fn session_id(&self) -> Option<String> {
        match &self.visitor {
            Some(Some(v)) => Some(format!("{v}#{}", self.n)),
            _ => None,
        }
    }

    /// Every row of `batch` with its session (or journey) id appended, and for journeys the
    /// step, whether the channel changed and the time since the previous touch.
    fn events(
        &mut self,
        batch: &RecordBatch,
        mode: Mode,
        schema: &SchemaRef,
    ) -> Result<RecordBatch> {
        let [key, time, _] = mode.keys();
        let visitor: StringArray = text(batch, key)?;
        let at = timestamps(batch, time)?;
        let channel: Option<StringArray> = match mode {
            Mode::Journeys => Some(text(batch, "channel")?),
            Mode::Sessions | Mode::Events => None,
        };
        // Journeys of an input with `split_reason`: a touch whose reason is known and differs
        // from the journey's (its first known one) starts a new journey.
        let reason: Option<StringArray> = match mode {
            Mode::Journeys if batch.column_by_name(SPLIT_REASON).is_some() => {
                Some(text(batch, SPLIT_REASON)?)
            }
            _ => None,
        };
        let n = batch.num_rows();
        let mut ids = StringBuilder::with_capacity(n, n * 24);
        let mut steps = Int64Builder::with_capacity(n);
        let mut switches = BooleanBuilder::with_capacity(n);
        let mut since = Float64Builder::with_capacity(n);
        for i in 0..n {
            let previous_at = self.previous_at;
            let t = at.is_valid(i).then(|| at.value(i));
            let mut new = self.advance(value(&visitor, i), t);
            if let Some(reason) = &reason {
                let r = value(reason, i);
                if !new
                    && value(&visitor, i).is_some()
                    && let (Some(r), Some(j)) = (r, self.journey_reason.as_deref())
                    && r != j
                {
                    self.n += 1;
                    new = true;
                }
                if new || self.journey_reason.is_none() {
                    self.journey_reason = r.map(str::to_string);
                }
            }
            ids.append_option(self.session_id());
            if let Some(channel) = &channel {
                let c = value(channel, i);
                self.step = if new { 1 } else { self.step + 1 };
                steps.append_value(self.step);
                switches.append_value(!new && c != self.previous_channel.as_deref());
                since.append_option(match (new, previous_at, t) {
                    (false, Some(p), Some(t)) => Some((t - p) as f64 / 1e6),
                    _ => None,
                });
                self.previous_channel = c.map(str::to_string);
            }
        }
        let mut columns = conform(batch, schema.fields().iter().map(|f| f.as_ref()))?;
        columns.push(Arc::new(ids.finish()));
        if mode == Mode::Journeys {
            columns.push(Arc::new(steps.finish()));
            columns.push(Arc::new(switches.finish()));
            columns.push(Arc::new(since.finish()));
        }
        Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
    }

    /// Adds the rows of `batch` to the open session, closing sessions as they end.
    fn sessions(&mut self, batch: &RecordBatch) -> Result<()> {
        let visitor: StringArray = text(batch, "visitor_id")?;
        let at = timestamps(batch, "occurred_at")?;
        let anonymous: StringArray = text(batch, "anonymous_id")?;
        let user: StringArray = text(batch, "user_id")?;
        let email: StringArray = text(batch, "email")?;
        let event_type: StringArray = text(batch, "event_type")?;
        let url: StringArray = text(batch, "url")?;
        let error: StringArray = text(batch, "error_code")?;
        let search: StringArray = text(batch, "search_query")?;
        let results: Int64Array = cast_to(
            batch
                .column_by_name("search_result_count")
                .ok_or_else(|| missing("search_result_count"))?,
            &DataType::Int64,
        )?;
        for i in 0..batch.num_rows() {
            let t = at.is_valid(i).then(|| at.value(i));
            if self.advance(value(&visitor, i), t) {
                self.close();
                self.open = Some(Open {
                    session_id: self.session_id(),
                    visitor_id: value(&visitor, i).map(str::to_string),
                    landing_url: value(&url, i).map(str::to_string),
                    ..Open::default()
                });
            }
            let Some(s) = self.open.as_mut() else {
                continue;
            };
            if let Some(a) = value(&anonymous, i)
                && s.anonymous_id.as_deref().is_none_or(|m| a > m)
            {
                s.anonymous_id = Some(a.to_string());
            }
            if let Some(u) = value(&user, i) {
                s.user_id = Some(u.to_string());
            }
            if let Some(e) = value(&email, i).and_then(normalize_email) {
                s.email = Some(e);
            }
            if let Some(t) = t {
                s.started_at = Some(s.started_at.map_or(t, |v| v.min(t)));
                s.ended_at = Some(s.ended_at.map_or(t, |v| v.max(t)));
            }
            s.events += 1;
            if value(&event_type, i) == Some("page") {
                s.page_views += 1;
            }
            if error.is_valid(i) {
                s.errors += 1;
            }
            if search.is_valid(i) {
                s.bot_searches += 1;
                if results.is_valid(i) && results.value(i) == 0 {
                    s.failed_bot_searches += 1;
                }
            }
        }
        Ok(())
    }

    /// Emits the open session, if any.
    fn close(&mut self) {
        if let Some(s) = self.open.take() {
            self.out.push(s);
        }
    }
}

/// The columns of `batch` cast to the types of `fields` where they differ (a plan can give a
/// string column as a view where its schema says plain UTF-8).
fn conform<'a>(
    batch: &RecordBatch,
    fields: impl IntoIterator<Item = &'a Field>,
) -> Result<Vec<ArrayRef>> {
    batch
        .columns()
        .iter()
        .zip(fields)
        .map(|(c, f)| {
            if c.data_type() == f.data_type() {
                Ok(Arc::clone(c))
            } else {
                Ok(arrow::compute::cast(c, f.data_type())?)
            }
        })
        .collect()
}

fn missing(name: &str) -> DataFusionError {
    DataFusionError::Plan(format!("the sessionization input has no column '{name}'"))
}

fn text(batch: &RecordBatch, name: &str) -> Result<StringArray> {
    cast_to(
        batch.column_by_name(name).ok_or_else(|| missing(name))?,
        &DataType::Utf8,
    )
}

/// The value of row `i` of `a`, `None` when null.
fn value(a: &StringArray, i: usize) -> Option<&str> {
    a.is_valid(i).then(|| a.value(i))
}

/// Builders of the session rows.
#[derive(Debug, Default)]
struct SessionColumns {
    rows: usize,
    session_id: StringBuilder,
    visitor_id: StringBuilder,
    anonymous_id: StringBuilder,
    user_id: StringBuilder,
    email: StringBuilder,
    started_at: TimestampMicrosecondBuilder,
    ended_at: TimestampMicrosecondBuilder,
    events: Int64Builder,
    page_views: Int64Builder,
    errors: Int64Builder,
    bot_searches: Int64Builder,
    failed_bot_searches: Int64Builder,
    landing_url: StringBuilder,
}

impl SessionColumns {
    fn len(&self) -> usize {
        self.rows
    }

    fn push(&mut self, s: Open) {
        self.rows += 1;
        self.session_id.append_option(s.session_id);
        self.visitor_id.append_option(s.visitor_id);
        self.anonymous_id.append_option(s.anonymous_id);
        self.user_id.append_option(s.user_id);
        self.email.append_option(s.email);
        self.started_at.append_option(s.started_at);
        self.ended_at.append_option(s.ended_at);
        self.events.append_value(s.events);
        self.page_views.append_value(s.page_views);
        self.errors.append_value(s.errors);
        self.bot_searches.append_value(s.bot_searches);
        self.failed_bot_searches.append_value(s.failed_bot_searches);
        self.landing_url.append_option(s.landing_url);
    }

    fn finish(&mut self, schema: &SchemaRef) -> Result<RecordBatch> {
        self.rows = 0;
        let ts = |b: &mut TimestampMicrosecondBuilder| -> ArrayRef {
            let a: TimestampMicrosecondArray = b.finish();
            Arc::new(a.with_timezone("UTC"))
        };
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.session_id.finish()),
            Arc::new(self.visitor_id.finish()),
            Arc::new(self.anonymous_id.finish()),
            Arc::new(self.user_id.finish()),
            Arc::new(self.email.finish()),
            ts(&mut self.started_at),
            ts(&mut self.ended_at),
            Arc::new(self.events.finish()),
            Arc::new(self.page_views.finish()),
            Arc::new(self.errors.finish()),
            Arc::new(self.bot_searches.finish()),
            Arc::new(self.failed_bot_searches.finish()),
            Arc::new(self.landing_url.finish()),
        ];
        Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SessionOptions, SpillCounter, new_session};
    use datafusion::datasource::MemTable;

    async fn batches(ctx: &SessionContext, sql: &str) -> Vec<RecordBatch> {
        ctx.sql(sql).await.unwrap().collect().await.unwrap()
    }

    /// The steps leave the operator sorted by customer and partitioned by customer, and say
    /// so: an aggregation per journey over them finishes each customer's journeys as it
    /// passes them (no hash table of every journey, no second sort), with the same result as
    /// over the steps copied into a plain table.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_journey_aggregate_streams_over_the_sorted_steps() {
        let ctx = new_session(&SessionOptions {
            target_partitions: Some(2),
            ..SessionOptions::default()
        })
        .unwrap();
        ctx.sql(
            "create view touches as select
                'c' || cast(value % 997 as varchar) as customer_key,
                to_timestamp_seconds(1786000000 + (value % 13) * 4 * 86400 + value) as started_at,
                lpad(cast(value as varchar), 8, '0') as touchpoint_id,
                case when value % 3 = 0 then 'web' when value % 5 = 0 then 'chat' else 'voice' end as channel
             from range(30000)",
        )
        .await
        .unwrap();
        let aggregate = |from: &str| {
            format!(
                "select customer_key, journey_id, count(*) as steps,
                        string_agg_by(channel, step, ' > ') as path,
                        first_value(touchpoint_id order by step) as first_touch,
                        last_value(channel order by step) as last_channel
                 from {from} group by customer_key, journey_id"
            )
        };
        let plan = batches(
            &ctx,
            &format!("explain {}", aggregate("journey_steps('touches')")),
        )
        .await;
        let plan = arrow::util::pretty::pretty_format_batches(&plan)
            .unwrap()
            .to_string();
        let physical = &plan[plan.find("physical_plan").unwrap()..];
        assert_eq!(physical.matches("SortExec").count(), 1, "{physical}");
        for line in physical.lines().filter(|l| l.contains("AggregateExec")) {
            assert!(line.contains("ordering_mode=PartiallySorted"), "{line}");
        }
        let steps = batches(&ctx, "select * from journey_steps('touches')").await;
        let table = MemTable::try_new(steps[0].schema(), vec![steps]).unwrap();
        ctx.register_table("copied", Arc::new(table)).unwrap();
        let ordered =
            |from: &str| format!("select * from ({}) order by journey_id", aggregate(from));
        let streamed = batches(&ctx, &ordered("journey_steps('touches')")).await;
        let copied = batches(&ctx, &ordered("copied")).await;
        let text = |b: &[RecordBatch]| {
            arrow::util::pretty::pretty_format_batches(b)
                .unwrap()
                .to_string()
        };
        assert_eq!(text(&streamed), text(&copied));
        let rows: usize = streamed.iter().map(RecordBatch::num_rows).sum();
        assert!(
            rows > 997,
            "{rows} journeys: every customer should have several"
        );
    }

    /// A hostile input: one bot visitor with 300,000 events a second apart (a session that
    /// never ends, then an hour's pause and another), under a 24 MiB limit. The sort spills,
    /// the pass holds one session, and the two sessions come out whole.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_bot_with_300k_events_is_sessionized_within_a_small_limit_by_spilling() {
        let spill = tempfile::tempdir().unwrap();
        let counter = Arc::new(SpillCounter::default());
        let ctx = new_session(&SessionOptions {
            memory_limit_bytes: Some(24 << 20),
            spill_dir: Some(spill.path().to_path_buf()),
            spill_counter: Some(Arc::clone(&counter)),
            target_partitions: Some(2),
            ..SessionOptions::default()
        })
        .unwrap();
        ctx.sql(
            "create view hits as select
                'bot' as visitor_id,
                to_timestamp_seconds(1786000000 + value + case when value >= 150000 then 3600 else 0 end) as occurred_at,
                lpad(cast(value as varchar), 8, '0') as message_id,
                'bot' as anonymous_id,
                cast(null as varchar) as user_id,
                case when value = 7 then 'Bot@Example.com' end as email,
                'page' as event_type,
                'https://shop.example.com/' || cast(value % 97 as varchar) || '/' || repeat('x', 40) as url,
                case when value % 3 = 0 then 'E42' end as error_code,
                cast(null as varchar) as search_query,
                cast(null as bigint) as search_result_count
             from range(300000)",
        )
        .await
        .unwrap();
        let batches = batches(&ctx, "select session_id, email, events, errors, landing_url from web_sessions('hits') order by session_id").await;
        let text = arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        assert_eq!(rows, 2, "{text}");
        assert!(
            text.contains("| bot#1      | bot@example.com | 150000 | 50000  |"),
            "{text}"
        );
        assert!(
            text.contains("| bot#2      |                 | 150000 | 50000  |"),
            "{text}"
        );
        assert!(counter.files() > 0, "the sort did not spill under 24 MiB");
    }

    fn at(min: i64) -> Option<i64> {
        Some(min * 60_000_000)
    }

    #[test]
    fn a_gap_of_exactly_the_limit_stays_in_the_session_and_a_visitor_change_restarts() {
        let mut s = Sessionizer::new(30 * 60_000_000);
        let mut ids = Vec::new();
        for (v, t) in [
            (Some("a"), at(0)),
            (Some("a"), at(30)),
            (Some("a"), at(60)),
            (Some("a"), Some(60 * 60_000_000 + 30 * 60_000_000 + 1)),
            (Some("b"), at(0)),
            (None, at(0)),
            (None, at(500)),
        ] {
            s.advance(v, t);
            ids.push(s.session_id());
        }
        let ids: Vec<Option<&str>> = ids.iter().map(Option::as_deref).collect();
        assert_eq!(
            ids,
            [
                Some("a#1"),
                Some("a#1"),
                Some("a#1"),
                Some("a#2"),
                Some("b#1"),
                None,
                None
            ]
        );
    }

    /// With a `split_reason` column, a touch whose reason is known and differs from the
    /// journey's first known one starts a journey; touches without a reason stay in theirs.
    #[test]
    fn a_contact_about_another_known_reason_starts_a_journey() {
        let rows: [(&str, i64, &str, Option<&str>); 6] = [
            ("k1", 0, "web", None),
            ("k1", 10, "voice", Some("billing")),
            ("k1", 20, "chat", Some("orders")),
            ("k1", 30, "web", None),
            ("k1", 40, "case", Some("orders")),
            ("k2", 50, "voice", Some("orders")),
        ];
        let input = Schema::new(vec![
            Field::new("customer_key", DataType::Utf8, true),
            ts_field("started_at"),
            Field::new("touchpoint_id", DataType::Utf8, true),
            Field::new("channel", DataType::Utf8, true),
            Field::new(SPLIT_REASON, DataType::Utf8, true),
        ]);
        let batch = RecordBatch::try_new(
            Arc::new(input.clone()),
            vec![
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
                Arc::new(
                    arrow::array::TimestampMicrosecondArray::from_iter_values(
                        rows.iter().map(|r| r.1 * 60_000_000),
                    )
                    .with_timezone("UTC"),
                ),
                Arc::new(StringArray::from_iter_values(
                    rows.iter().enumerate().map(|(i, _)| format!("t{i}")),
                )),
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.2))),
                Arc::new(StringArray::from_iter(rows.iter().map(|r| r.3))),
            ],
        )
        .unwrap();
        let mut fields: Vec<Field> = input.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.extend(Mode::Journeys.added());
        let schema = Arc::new(Schema::new(fields));
        let mut s = Sessionizer::new(72 * 3600 * 1_000_000);
        let out = s.events(&batch, Mode::Journeys, &schema).unwrap();
        let ids: StringArray = text(&out, "journey_id").unwrap();
        let ids: Vec<Option<&str>> = ids.iter().collect();
        assert_eq!(
            ids,
            [
                Some("k1#1"),
                Some("k1#1"),
                Some("k1#2"),
                Some("k1#2"),
                Some("k1#2"),
                Some("k2#1")
            ]
        );
        let steps = out
            .column_by_name("step")
            .unwrap()
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap()
            .values()
            .to_vec();
        assert_eq!(steps, [1, 2, 1, 2, 3, 1]);
    }
}
