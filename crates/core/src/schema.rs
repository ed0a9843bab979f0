//! Canonical Arrow schemas of the staging tables.
//!
//! Every extractor produces batches of exactly these schemas (same field order, types and
//! nullability), whatever vendor the rows came from, so the SQL models in `sql/` read one shape
//! per kind of fact. Each staging row also carries lineage: the pipeline source that read it,
//! the file, and the line the record starts on, plus the logical date of the run that staged it.
//!
//! ```
//! use touchstone_core::schema::StagingTable;
//! let calls = StagingTable::Calls.schema();
//! assert_eq!(StagingTable::Calls.name(), "stg_calls");
//! assert!(calls.field_with_name("linked_id").is_ok());
//! ```

use std::sync::{Arc, LazyLock};

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// The timestamp type of every instant in Touchstone: microseconds since the epoch, UTC.
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// Name of the lineage column holding the pipeline source name.
pub const SOURCE_COLUMN: &str = "_source";
/// Name of the lineage column holding the file (object-store URL) a row was read from.
pub const FILE_COLUMN: &str = "_source_file";
/// Name of the lineage column holding the 1-based line the record starts on.
pub const LINE_COLUMN: &str = "_source_line";
/// Name of the partition column holding the logical date of the run that staged the row.
pub const INGEST_DATE_COLUMN: &str = "_ingest_date";

/// The kinds of staged fact. The name of each is the table name in the warehouse
/// (`staging/<name>`) and in SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StagingTable {
    /// CRM accounts (Salesforce Account).
    Accounts,
    /// CRM people (Salesforce Contact, HubSpot contact).
    Contacts,
    /// Support cases (Salesforce Case).
    Cases,
    /// Sales opportunities (Salesforce Opportunity, HubSpot deal).
    Opportunities,
    /// Purchases (Salesforce Order).
    Orders,
    /// One row per telephony contact or leg (Asterisk CDR row, Amazon Connect contact record).
    Calls,
    /// Queue events (Asterisk `queue_log`), one row per event.
    QueueEvents,
    /// One row per chat thread (LiveChat).
    Chats,
    /// One row per chat event (message, file, system message...).
    ChatMessages,
    /// Survey answers in long format: one row per response to one instrument, plus the
    /// invitations that were not answered (`response_status` other than `answered`, with no
    /// score), which feed response rates and never count as answers.
    SurveyResponses,
    /// Web and bot events (Segment spec).
    WebEvents,
    /// Survey invitations not (yet) answered: offered, or not offered (Zendesk `offered` /
    /// `unoffered` satisfaction ratings). They feed response rates, never scores.
    SurveyInvitations,
    /// Agent review rubric scores: one row per criterion of one review (self, manager...).
    AgentReviews,
    /// Calendar events (holidays, promotions, product launches), one row per event.
    Calendar,
}

impl StagingTable {
    /// Every staging table, in a stable order.
    pub const ALL: [StagingTable; 14] = [
        StagingTable::Accounts,
        StagingTable::Contacts,
        StagingTable::Cases,
        StagingTable::Opportunities,
        StagingTable::Orders,
        StagingTable::Calls,
        StagingTable::QueueEvents,
        StagingTable::Chats,
        StagingTable::ChatMessages,
        StagingTable::SurveyResponses,
        StagingTable::WebEvents,
        StagingTable::SurveyInvitations,
        StagingTable::AgentReviews,
        StagingTable::Calendar,
    ];

    /// The table name, e.g. `stg_calls`.
    pub fn name(self) -> &'static str {
        match self {
            StagingTable::Accounts => "stg_accounts",
            StagingTable::Contacts => "stg_contacts",
            StagingTable::Cases => "stg_cases",
            StagingTable::Opportunities => "stg_opportunities",
            StagingTable::Orders => "stg_orders",
            StagingTable::Calls => "stg_calls",
            StagingTable::QueueEvents => "stg_queue_events",
            StagingTable::Chats => "stg_chats",
            StagingTable::ChatMessages => "stg_chat_messages",
            StagingTable::SurveyResponses => "stg_survey_responses",
            StagingTable::WebEvents => "stg_web_events",
            StagingTable::SurveyInvitations => "stg_survey_invitations",
            StagingTable::AgentReviews => "stg_agent_reviews",
            StagingTable::Calendar => "stg_calendar",
        }
    }

    /// Looks a table up by its name.
    pub fn from_name(name: &str) -> Option<StagingTable> {
        StagingTable::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The full schema: the table's own columns followed by the lineage columns
    /// (`_source`, `_source_file`, `_source_line`, `_ingest_date`).
    pub fn schema(self) -> SchemaRef {
        static SCHEMAS: LazyLock<Vec<SchemaRef>> = LazyLock::new(|| {
            StagingTable::ALL
                .iter()
                .map(|t| {
                    let mut fields = t.columns();
                    fields.extend(lineage_fields());
                    Arc::new(Schema::new(fields))
                })
                .collect()
        });
        let index = StagingTable::ALL
            .iter()
            .position(|t| *t == self)
            .unwrap_or_default();
        Arc::clone(&SCHEMAS[index])
    }

    /// The schema without the lineage columns: what an extractor fills in from the record.
    pub fn record_schema(self) -> SchemaRef {
        Arc::new(Schema::new(self.columns()))
    }

    fn columns(self) -> Vec<Field> {
        match self {
            StagingTable::Accounts => vec![
                utf8("source_system", false),
                utf8("account_id", false),
                utf8("name", true),
                utf8("type", true),
                utf8("industry", true),
                utf8("phone", true),
                utf8("billing_country", true),
                utf8("owner_id", true),
                ts("created_at", true),
                ts("updated_at", true),
                boolean("is_deleted", false),
            ],
            StagingTable::Contacts => vec![
                utf8("source_system", false),
                utf8("contact_id", false),
                utf8("account_id", true),
                utf8("first_name", true),
                utf8("last_name", true),
                utf8("email", true),
                utf8("phone", true),
                utf8("mobile_phone", true),
                utf8("country", true),
                utf8("owner_id", true),
                ts("created_at", true),
                ts("updated_at", true),
                boolean("is_deleted", false),
            ],
            StagingTable::Cases => vec![
                utf8("source_system", false),
                utf8("case_id", false),
                utf8("case_number", true),
                utf8("account_id", true),
                utf8("contact_id", true),
                utf8("parent_id", true),
                utf8("supplied_email", true),
                utf8("supplied_phone", true),
                utf8("origin", true),
                utf8("type", true),
                utf8("reason", true),
                utf8("status", true),
                boolean("is_closed", true),
                boolean("is_escalated", true),
                utf8("priority", true),
                utf8("subject", true),
                utf8("owner_id", true),
                ts("created_at", false),
                ts("closed_at", true),
                ts("updated_at", true),
                boolean("is_deleted", false),
            ],
            StagingTable::Opportunities => vec![
                utf8("source_system", false),
                utf8("opportunity_id", false),
                utf8("account_id", true),
                utf8("name", true),
                utf8("stage_name", true),
                f64("amount", true),
                f64("probability", true),
                date("close_date", true),
                utf8("type", true),
                utf8("lead_source", true),
                boolean("is_closed", true),
                boolean("is_won", true),
                utf8("owner_id", true),
                ts("created_at", false),
                ts("updated_at", true),
                boolean("is_deleted", false),
            ],
            StagingTable::Orders => vec![
                utf8("source_system", false),
                utf8("order_id", false),
                utf8("account_id", true),
                utf8("contact_id", true),
                utf8("order_number", true),
                utf8("status", true),
                date("effective_date", false),
                f64("total_amount", true),
                utf8("product_category", true),
                ts("created_at", false),
                ts("updated_at", true),
                boolean("is_deleted", false),
            ],
            StagingTable::Calls => vec![
                utf8("source_system", false),
                utf8("call_id", false),
                utf8("linked_id", true),
                utf8("previous_call_id", true),
                utf8("next_call_id", true),
                int("sequence", true),
                utf8("channel", false),
                utf8("initiation_method", true),
                utf8("account_code", true),
                utf8("caller_number", true),
                utf8("caller_id", true),
                utf8("dialed_number", true),
                utf8("context", true),
                utf8("channel_name", true),
                utf8("dst_channel", true),
                utf8("last_app", true),
                utf8("last_data", true),
                ts("started_at", false),
                ts("answered_at", true),
                ts("ended_at", true),
                int("duration_secs", true),
                int("billsec", true),
                utf8("disposition", true),
                utf8("amaflags", true),
                utf8("disconnect_reason", true),
                utf8("queue_name", true),
                ts("enqueued_at", true),
                ts("dequeued_at", true),
                int("queue_duration_secs", true),
                utf8("agent_id", true),
                ts("agent_connected_at", true),
                int("agent_interaction_secs", true),
                int("customer_hold_secs", true),
                int("acw_secs", true),
                int("agent_connection_attempts", true),
                utf8("user_field", true),
                utf8("attributes", true),
                utf8("peer_account", true),
                ts("record_updated_at", true),
            ],
            StagingTable::QueueEvents => vec![
                utf8("source_system", false),
                ts("event_at", false),
                utf8("call_id", true),
                utf8("queue", true),
                utf8("agent", true),
                utf8("event", false),
                utf8("data1", true),
                utf8("data2", true),
                utf8("data3", true),
                utf8("data4", true),
                utf8("data5", true),
            ],
            StagingTable::Chats => vec![
                utf8("source_system", false),
                utf8("chat_id", false),
                utf8("thread_id", false),
                utf8("previous_thread_id", true),
                ts("started_at", false),
                ts("ended_at", true),
                utf8("customer_user_id", true),
                utf8("customer_name", true),
                utf8("customer_email", true),
                utf8("customer_phone", true),
                utf8("crm_contact_id", true),
                utf8("anonymous_id", true),
                utf8("agent_id", true),
                int("agent_count", false),
                int("group_id", true),
                utf8("tags", true),
                ts("queued_at", true),
                int("queue_wait_secs", true),
                ts("first_customer_message_at", true),
                ts("first_agent_message_at", true),
                int("customer_message_count", false),
                int("agent_message_count", false),
                int("rating_score", true),
                utf8("rating_comment", true),
                ts("visit_started_at", true),
                utf8("last_page_url", true),
            ],
            StagingTable::ChatMessages => vec![
                utf8("source_system", false),
                utf8("chat_id", false),
                utf8("thread_id", false),
                utf8("event_id", false),
                ts("created_at", false),
                utf8("event_type", false),
                utf8("author_id", true),
                utf8("author_type", true),
                utf8("text", true),
                utf8("visibility", true),
            ],
            StagingTable::SurveyResponses => vec![
                utf8("source_system", false),
                utf8("response_id", false),
                utf8("survey_name", true),
                utf8("instrument", false),
                int("scale_min", false),
                int("scale_max", false),
                f64("score", true),
                utf8("comment", true),
                utf8("respondent_type", false),
                utf8("respondent_id", true),
                utf8("customer_email", true),
                utf8("customer_phone", true),
                utf8("agent_id", true),
                utf8("interaction_channel", true),
                utf8("interaction_id", true),
                ts("offered_at", true),
                ts("responded_at", true),
                // answered | offered | unoffered | unanswered: only `answered` rows are
                // responses (with a score and responded_at); the others feed response rates.
                utf8("response_status", false),
                utf8("score_label", true),
                boolean("reward_offered", true),
            ],
            StagingTable::WebEvents => vec![
                utf8("source_system", false),
                utf8("message_id", false),
                utf8("event_type", false),
                utf8("event_name", true),
                utf8("anonymous_id", true),
                utf8("user_id", true),
                utf8("email", true),
                ts("occurred_at", false),
                utf8("url", true),
                utf8("path", true),
                utf8("title", true),
                utf8("referrer", true),
                utf8("error_code", true),
                utf8("search_query", true),
                int("search_result_count", true),
                utf8("properties", true),
            ],
            StagingTable::SurveyInvitations => vec![
                utf8("source_system", false),
                utf8("invitation_id", false),
                utf8("survey_name", true),
                utf8("instrument", false),
                utf8("status", false),
                utf8("respondent_id", true),
                utf8("customer_email", true),
                utf8("customer_phone", true),
                utf8("agent_id", true),
                utf8("interaction_channel", true),
                utf8("interaction_id", true),
                ts("created_at", true),
                ts("offered_at", true),
            ],
            StagingTable::AgentReviews => vec![
                utf8("source_system", false),
                utf8("review_id", false),
                utf8("employee_id", false),
                utf8("employee_name", true),
                utf8("reviewer_id", true),
                // self | manager | peer | qa (as the export says; `self` when the reviewer is
                // the employee).
                utf8("reviewer_role", false),
                date("period_start", true),
                date("period_end", true),
                utf8("scorecard", true),
                utf8("criterion", false),
                // Null for a criterion rated N/A (not applicable: not a score).
                f64("score", true),
                f64("scale_min", false),
                f64("scale_max", false),
                f64("weight", true),
                utf8("comment", true),
                ts("reviewed_at", true),
            ],
            StagingTable::Calendar => vec![
                utf8("source_system", false),
                utf8("event_id", false),
                // holiday | promotion | launch
                utf8("kind", false),
                utf8("name", false),
                date("start_date", false),
                date("end_date", false),
                utf8("region", true),
                utf8("description", true),
            ],
        }
    }
}

impl std::fmt::Display for StagingTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The lineage columns appended to every staging table.
pub fn lineage_fields() -> Vec<Field> {
    vec![
        utf8(SOURCE_COLUMN, false),
        utf8(FILE_COLUMN, false),
        Field::new(LINE_COLUMN, DataType::Int64, false),
        Field::new(INGEST_DATE_COLUMN, DataType::Date32, false),
    ]
}

/// Schema of `rejects/<source>`: every record that could not be staged, with where it was and why.
pub fn rejects_schema() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        Arc::new(Schema::new(vec![
            utf8(SOURCE_COLUMN, false),
            utf8(FILE_COLUMN, false),
            Field::new(LINE_COLUMN, DataType::Int64, false),
            utf8("reason", false),
            utf8("raw", true),
            Field::new(INGEST_DATE_COLUMN, DataType::Date32, false),
        ]))
    });
    Arc::clone(&SCHEMA)
}

fn utf8(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Utf8, nullable)
}
fn ts(name: &str, nullable: bool) -> Field {
    Field::new(name, timestamp_type(), nullable)
}
fn int(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Int64, nullable)
}
fn f64(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Float64, nullable)
}
fn boolean(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Boolean, nullable)
}
fn date(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Date32, nullable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut names: Vec<_> = StagingTable::ALL.iter().map(|t| t.name()).collect();
        for t in StagingTable::ALL {
            assert_eq!(StagingTable::from_name(t.name()), Some(t));
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), StagingTable::ALL.len());
        assert_eq!(StagingTable::from_name("stg_nope"), None);
    }

    #[test]
    fn every_schema_ends_with_lineage_and_has_unique_columns() {
        for t in StagingTable::ALL {
            let schema = t.schema();
            let n = schema.fields().len();
            let tail: Vec<_> = schema.fields()[n - 4..]
                .iter()
                .map(|f| f.name().as_str())
                .collect();
            assert_eq!(
                tail,
                [SOURCE_COLUMN, FILE_COLUMN, LINE_COLUMN, INGEST_DATE_COLUMN]
            );
            let mut cols: Vec<_> = schema.fields().iter().map(|f| f.name().clone()).collect();
            cols.sort();
            cols.dedup();
            assert_eq!(cols.len(), n, "duplicate column in {t}");
            assert_eq!(t.record_schema().fields().len(), n - 4);
            assert_eq!(schema.field(0).name(), "source_system");
        }
    }
}
