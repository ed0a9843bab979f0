//! Ground-truth tables (`truth/*.parquet`): schemas and per-chunk batches.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, RecordBatch, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::SynthError;
use crate::btyd::BtydParams;
use crate::model::{AbandonCause, CaseSystem, ChatSystem, ChunkRecords, customer_id};
use crate::world::System;

/// The truth tables, in a stable order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Table {
    Customers,
    Records,
    Calls,
    QueueVisits,
    Chats,
    Surveys,
    Overlaps,
    Identifiers,
    Parameters,
    /// Survey invitations nobody answered.
    SurveyInvitations,
    /// The agents' planted traits (the source of the agent reviews).
    Agents,
}

impl Table {
    pub(crate) const ALL: [Table; 11] = [
        Table::Customers,
        Table::Records,
        Table::Calls,
        Table::QueueVisits,
        Table::Chats,
        Table::Surveys,
        Table::Overlaps,
        Table::Identifiers,
        Table::Parameters,
        Table::SurveyInvitations,
        Table::Agents,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Table::Customers => "customers",
            Table::Records => "records",
            Table::Calls => "calls",
            Table::QueueVisits => "queue_visits",
            Table::Chats => "chats",
            Table::Surveys => "surveys",
            Table::Overlaps => "overlaps",
            Table::Identifiers => "identifiers",
            Table::Parameters => "parameters",
            Table::SurveyInvitations => "survey_invitations",
            Table::Agents => "agents",
        }
    }

    pub(crate) fn path(self) -> String {
        format!("truth/{}.parquet", self.name())
    }

    pub(crate) fn schema(self) -> SchemaRef {
        let s = |n: &str| Field::new(n, DataType::Utf8, false);
        let sn = |n: &str| Field::new(n, DataType::Utf8, true);
        let t = |n: &str| {
            Field::new(
                n,
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                false,
            )
        };
        let tn = |n: &str| {
            Field::new(
                n,
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            )
        };
        let i = |n: &str| Field::new(n, DataType::Int64, false);
        let inn = |n: &str| Field::new(n, DataType::Int64, true);
        let f = |n: &str| Field::new(n, DataType::Float64, false);
        let fnn = |n: &str| Field::new(n, DataType::Float64, true);
        let b = |n: &str| Field::new(n, DataType::Boolean, false);
        let fields = match self {
            Table::Customers => vec![
                s("customer_id"),
                s("crm_contact_id"),
                s("crm_account_id"),
                s("email"),
                s("phone_e164"),
                s("anonymous_ids"),
                t("first_purchase_at"),
                tn("dropout_at"),
                f("purchase_rate"),
                f("dropout_prob"),
                f("spend_scale"),
            ],
            Table::Records => vec![s("source"), s("record_id"), sn("customer_id")],
            Table::Calls => vec![
                s("system"),
                s("call_id"),
                s("customer_id"),
                t("started_at"),
                t("ended_at"),
                s("ivr_path"),
                i("ivr_errors"),
                b("queued"),
                b("answered"),
                b("transferred"),
                b("contained"),
                s("outcome"),
                sn("abandon_cause"),
                sn("abandon_mechanism"),
                fnn("wait_secs"),
                b("branch"),
            ],
            Table::QueueVisits => vec![
                s("system"),
                s("call_id"),
                s("chain_id"),
                s("customer_id"),
                s("queue"),
                t("enqueued_at"),
                s("outcome"),
                f("wait_secs"),
                // Whether a queue log or contact record saw the visit (the branch site keeps
                // no queue_log: its visits are only in its CDRs).
                b("logged"),
            ],
            Table::Chats => vec![
                s("chat_id"),
                sn("customer_id"),
                t("started_at"),
                b("missed"),
                sn("abandon_cause"),
                fnn("first_response_secs"),
                inn("rating"),
            ],
            Table::Surveys => vec![
                s("response_id"),
                s("source"),
                s("instrument"),
                i("scale_min"),
                i("scale_max"),
                f("score"),
                sn("channel"),
                sn("interaction_id"),
                sn("customer_id"),
                s("respondent_type"),
                t("responded_at"),
            ],
            Table::Overlaps => vec![
                s("customer_id"),
                s("call_id"),
                s("channel"),
                sn("anonymous_id"),
                sn("chat_id"),
                t("call_started_at"),
                t("call_ended_at"),
                t("other_started_at"),
                t("other_ended_at"),
            ],
            Table::Identifiers => vec![
                s("id_type"),
                s("id_value"),
                sn("customer_id"),
                s("role"),
                b("linkable"),
            ],
            Table::Parameters => vec![s("model"), s("parameter"), f("value")],
            Table::SurveyInvitations => vec![
                s("invitation_id"),
                s("customer_id"),
                s("survey"),
                s("instrument"),
                s("status"),
                s("channel"),
                s("interaction_id"),
                tn("offered_at"),
            ],
            Table::Agents => vec![
                s("username"),
                s("system"),
                f("quality"),
                f("optimism"),
                s("team_lead"),
            ],
        };
        Arc::new(Schema::new(fields))
    }
}

fn ts_builder(n: usize) -> TimestampMicrosecondBuilder {
    TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC")
}

fn batch(table: Table, columns: Vec<ArrayRef>) -> Result<RecordBatch, SynthError> {
    RecordBatch::try_new(table.schema(), columns).map_err(|source| SynthError::Arrow {
        table: table.name(),
        source,
    })
}

/// Truth batches of one chunk, in [`Table::ALL`] order (parameters excluded).
pub(crate) fn chunk_batches(recs: &ChunkRecords) -> Result<Vec<(Table, RecordBatch)>, SynthError> {
    Ok(vec![
        (Table::Customers, customers(recs)?),
        (Table::Records, records(recs)?),
        (Table::Calls, calls(recs)?),
        (Table::QueueVisits, queue_visits(recs)?),
        (Table::Chats, chats(recs)?),
        (Table::Surveys, surveys(recs)?),
        (Table::Overlaps, overlaps(recs)?),
        (Table::Identifiers, identifiers(recs)?),
        (Table::SurveyInvitations, invitations(recs)?),
    ])
}

fn customers(recs: &ChunkRecords) -> Result<RecordBatch, SynthError> {
    let n = recs.customers.len();
    let mut cols: Vec<StringBuilder> = (0..6).map(|_| StringBuilder::new()).collect();
    let mut first = ts_builder(n);
    let mut drop = ts_builder(n);
    let mut rate = Float64Builder::with_capacity(n);
    let mut p = Float64Builder::with_capacity(n);
    let mut nu = Float64Builder::with_capacity(n);
    for c in &recs.customers {
        for (b, v) in cols.iter_mut().zip([
            &c.customer_id,
            &c.contact_id,
            &c.account_id,
            &c.email,
            &c.phone_e164,
            &c.anon_ids,
        ]) {
            b.append_value(v);
        }
        first.append_value(c.first_purchase_us);
        drop.append_option(c.dropout_us);
        rate.append_value(c.purchase_rate);
        p.append_value(c.dropout_prob);
        nu.append_value(c.spend_scale);
    }
    let mut columns: Vec<ArrayRef> = cols
        .iter_mut()
        .map(|b| Arc::new(b.finish()) as ArrayRef)
        .collect();
    columns.push(Arc::new(first.finish()));
    columns.push(Arc::new(drop.finish()));
    columns.push(Arc::new(rate.finish()));
    columns.push(Arc::new(p.finish()));
    columns.push(Arc::new(nu.finish()));
    batch(Table::Customers, columns)
}

fn records(recs: &ChunkRecords) -> Result<RecordBatch, SynthError> {
    let mut source = StringBuilder::new();
    let mut id = StringBuilder::new();
    let mut customer = StringBuilder::new();
    let mut push = |s: &str, r: &str, c: Option<u64>| {
        source.append_value(s);
        id.append_value(r);
        customer.append_option(c.map(customer_id));
    };
    for c in &recs.contacts {
        push("salesforce_contact", &c.id, Some(c.customer));
    }
    for o in &recs.orders {
        push("salesforce_order", &o.id, Some(o.customer));
    }
    for c in &recs.cases {
        let source = match c.system {
            CaseSystem::Salesforce => "salesforce_case",
            CaseSystem::Zendesk => "zendesk_ticket",
        };
        push(source, &c.id, Some(c.customer));
        if let Some(rating) = &c.csat {
            push("zendesk_rating", &rating.id.to_string(), Some(c.customer));
        }
    }
    for call in &recs.calls {
        let src = match call.system {
            System::Asterisk => "asterisk_cdr",
            System::Connect => "connect_ctr",
        };
        for leg in &call.legs {
            push(src, &leg.id, Some(call.customer));
        }
    }
    for chat in &recs.chats {
        push(chat.system.source(), &chat.chat_id, chat.customer);
    }
    for s in &recs.surveys {
        push("survey", &s.response_id, Some(s.customer));
    }
    for i in &recs.invitations {
        push("survey_invitation", &i.invitation_id, Some(i.customer));
    }
    for p in &recs.persons {
        if crate::render::in_hubspot(p.index) {
            push(
                "hubspot_contact",
                &crate::render::contact_record_id(p.index),
                Some(p.index),
            );
        }
    }
    for e in &recs.web {
        push("web", &e.message_id, e.customer);
    }
    batch(
        Table::Records,
        vec![
            Arc::new(source.finish()),
            Arc::new(id.finish()),
            Arc::new(customer.finish()),
        ],
    )
}

fn calls(recs: &ChunkRecords) -> Result<RecordBatch, SynthError> {
    let n = recs.calls.len();
    let mut system = StringBuilder::new();
    let mut call_id = StringBuilder::new();
    let mut customer = StringBuilder::new();
    let mut started = ts_builder(n);
    let mut ended = ts_builder(n);
    let mut path = StringBuilder::new();
    let mut errors = Int64Builder::with_capacity(n);
    let mut queued = BooleanBuilder::with_capacity(n);
    let mut answered = BooleanBuilder::with_capacity(n);
    let mut transferred = BooleanBuilder::with_capacity(n);
    let mut contained = BooleanBuilder::with_capacity(n);
    let mut outcome = StringBuilder::new();
    let mut cause = StringBuilder::new();
    let mut mechanism = StringBuilder::new();
    let mut wait = Float64Builder::with_capacity(n);
    let mut branch = BooleanBuilder::with_capacity(n);
    for c in &recs.calls {
        branch.append_value(c.branch);
        system.append_value(c.system.name());
        call_id.append_value(c.call_id());
        customer.append_value(customer_id(c.customer));
        started.append_value(c.started_us());
        ended.append_value(c.ended_us());
        path.append_value(&c.ivr_path);
        errors.append_value(i64::from(c.ivr_errors));
        queued.append_value(c.queued());
        answered.append_value(c.answered());
        transferred.append_value(c.legs.len() > 1);
        contained.append_value(c.outcome == crate::model::CallOutcome::Contained);
        outcome.append_value(c.outcome.name());
        cause.append_option(c.abandon_cause.map(AbandonCause::name));
        mechanism.append_option(c.abandon_mechanism);
        wait.append_option(c.total_wait_secs().map(|w| w as f64));
    }
    batch(
        Table::Calls,
        vec![
            Arc::new(system.finish()),
            Arc::new(call_id.finish()),
            Arc::new(customer.finish()),
            Arc::new(started.finish()),
            Arc::new(ended.finish()),
            Arc::new(path.finish()),
            Arc::new(errors.finish()),
            Arc::new(queued.finish()),
            Arc::new(answered.finish()),
            Arc::new(transferred.finish()),
            Arc::new(contained.finish()),
            Arc::new(outcome.finish()),
            Arc::new(cause.finish()),
            Arc::new(mechanism.finish()),
            Arc::new(wait.finish()),
            Arc::new(branch.finish()),
        ],
    )
}

fn queue_visits(recs: &ChunkRecords) -> Result<RecordBatch, SynthError> {
    let mut system = StringBuilder::new();
    let mut call_id = StringBuilder::new();
    let mut chain = StringBuilder::new();
    let mut customer = StringBuilder::new();
    let mut queue = StringBuilder::new();
    let mut enq = ts_builder(0);
    let mut outcome = StringBuilder::new();
    let mut wait = Float64Builder::new();
    let mut logged = BooleanBuilder::new();
    for c in &recs.calls {
        for leg in &c.legs {
            let Some(v) = &leg.queue else { continue };
            logged.append_value(!c.branch);
            system.append_value(c.system.name());
            call_id.append_value(&leg.id);
            chain.append_value(c.call_id());
            customer.append_value(customer_id(c.customer));
            queue.append_value(v.intent.name());
            enq.append_value(v.enqueued_us);
            outcome.append_value(v.outcome.name());
            wait.append_value(v.wait_secs as f64);
        }
    }
    batch(
        Table::QueueVisits,
        vec![
            Arc::new(system.finish()),
            Arc::new(call_id.finish()),
            Arc::new(chain.finish()),
            Arc::new(customer.finish()),
            Arc::new(queue.finish()),
            Arc::new(enq.finish()),
            Arc::new(outcome.finish()),
            Arc::new(wait.finish()),
            Arc::new(logged.finish()),
        ],
    )
}

fn chats(recs: &ChunkRecords) -> Result<RecordBatch, SynthError> {
    let n = recs.chats.len();
    let mut id = StringBuilder::new();
    let mut customer = StringBuilder::new();
    let mut started = ts_builder(n);
    let mut missed = BooleanBuilder::with_capacity(n);
    let mut cause = StringBuilder::new();
    let mut frt = Float64Builder::with_capacity(n);
    let mut rating = Int64Builder::with_capacity(n);
    for c in &recs.chats {
        id.append_value(&c.chat_id);
        customer.append_option(c.customer.map(customer_id));
        started.append_value(c.created_us);
        missed.append_value(c.missed);
        cause.append_option(c.abandon_cause.map(AbandonCause::name));
        frt.append_option(c.first_response_secs);
        rating.append_option(c.rating.map(|r| i64::from(r.0)));
    }
    batch(
        Table::Chats,
        vec![
            Arc::new(id.finish()),
            Arc::new(customer.finish()),
            Arc::new(started.finish()),
            Arc::new(missed.finish()),
            Arc::new(cause.finish()),
            Arc::new(frt.finish()),
            Arc::new(rating.finish()),
        ],
    )
}

#[derive(Default)]
struct SurveyCols {
    id: StringBuilder,
    source: StringBuilder,
    instrument: StringBuilder,
    min: Int64Builder,
    max: Int64Builder,
    score: Float64Builder,
    channel: StringBuilder,
    interaction: StringBuilder,
    customer: StringBuilder,
    respondent_type: StringBuilder,
    responded: TimestampMicrosecondBuilder,
}

impl SurveyCols {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        id: &str,
        source: &str,
        instrument: &str,
        scale: (i64, i64),
        score: f64,
        channel: Option<&str>,
        interaction: Option<&str>,
        customer: Option<u64>,
        respondent_type: &str,
        responded: i64,
    ) {
        self.id.append_value(id);
        self.source.append_value(source);
        self.instrument.append_value(instrument);
        self.min.append_value(scale.0);
        self.max.append_value(scale.1);
        self.score.append_value(score);
        self.channel.append_option(channel);
        self.interaction.append_option(interaction);
        self.customer.append_option(customer.map(customer_id));
        self.respondent_type.append_value(respondent_type);
        self.responded.append_value(responded);
    }
}

fn surveys(recs: &ChunkRecords) -> Result<RecordBatch, SynthError> {
    let mut c = SurveyCols {
        responded: ts_builder(0),
        ..SurveyCols::default()
    };
    for s in &recs.surveys {
        c.push(
            &s.response_id,
            if s.survey == crate::render::QUALTRICS_SURVEY {
                "qualtrics"
            } else {
                "survey_export"
            },
            s.metric,
            (s.scale_min, s.scale_max),
            s.score as f64,
            s.channel,
            s.interaction_id.as_deref(),
            Some(s.customer),
            s.respondent_type,
            s.responded_us,
        );
    }
    for call in recs.calls.iter().filter(|c| c.system == System::Connect) {
        for leg in &call.legs {
            if let Some(score) = leg.csat {
                c.push(
                    &leg.id,
                    "connect_ctr",
                    "csat",
                    (1, 5),
                    f64::from(score),
                    Some("voice"),
                    Some(call.call_id()),
                    Some(call.customer),
                    "customer",
                    leg.end_us,
                );
            }
        }
    }
    for chat in &recs.chats {
        if let Some((score, _)) = chat.rating {
            // Intercom ratings are answers of their own; thumbs are keyed by the thread.
            let id = match chat.system {
                ChatSystem::Intercom => format!("conversation_rating:{}", chat.chat_id),
                _ => chat.thread_id.clone(),
            };
            c.push(
                &id,
                chat.system.source(),
                "csat",
                chat.rating_scale(),
                f64::from(score),
                Some("chat"),
                Some(&chat.chat_id),
                chat.customer,
                "customer",
                chat.last_event_us(),
            );
        }
    }
    for case in &recs.cases {
        if let Some(rating) = &case.csat
            && let Some((good, responded, _)) = rating.answer
        {
            c.push(
                &rating.id.to_string(),
                "zendesk",
                "csat",
                (0, 1),
                if good { 1.0 } else { 0.0 },
                Some("case"),
                Some(&case.id),
                Some(case.customer),
                "customer",
                responded,
            );
        }
    }
    batch(
        Table::Surveys,
        vec![
            Arc::new(c.id.finish()),
            Arc::new(c.source.finish()),
            Arc::new(c.instrument.finish()),
            Arc::new(c.min.finish()),
            Arc::new(c.max.finish()),
            Arc::new(c.score.finish()),
            Arc::new(c.channel.finish()),
            Arc::new(c.interaction.finish()),
            Arc::new(c.customer.finish()),
            Arc::new(c.respondent_type.finish()),
            Arc::new(c.responded.finish()),
        ],
    )
}

fn overlaps(recs: &ChunkRecords) -> Result<RecordBatch, SynthError> {
    let n = recs.overlaps.len();
    let mut customer = StringBuilder::new();
    let mut call = StringBuilder::new();
    let mut channel = StringBuilder::new();
    let mut anon = StringBuilder::new();
    let mut chat = StringBuilder::new();
    let mut t: Vec<TimestampMicrosecondBuilder> = (0..4).map(|_| ts_builder(n)).collect();
    for o in &recs.overlaps {
        customer.append_value(customer_id(o.customer));
        call.append_value(&o.call_id);
        channel.append_value(o.channel);
        anon.append_option(o.anon_id.as_deref());
        chat.append_option(o.chat_id.as_deref());
        for (b, v) in t.iter_mut().zip([
            o.call_started_us,
            o.call_ended_us,
            o.other_started_us,
            o.other_ended_us,
        ]) {
            b.append_value(v);
        }
    }
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(customer.finish()),
        Arc::new(call.finish()),
        Arc::new(channel.finish()),
        Arc::new(anon.finish()),
        Arc::new(chat.finish()),
    ];
    columns.extend(t.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    batch(Table::Overlaps, columns)
}

fn identifiers(recs: &ChunkRecords) -> Result<RecordBatch, SynthError> {
    let rows = crate::identity::identifiers(recs);
    let mut id_type = StringBuilder::new();
    let mut value = StringBuilder::new();
    let mut customer = StringBuilder::new();
    let mut role = StringBuilder::new();
    let mut linkable = BooleanBuilder::with_capacity(rows.len());
    for r in &rows {
        id_type.append_value(r.id_type);
        value.append_value(&r.value);
        customer.append_option(r.customer.map(customer_id));
        role.append_value(r.role);
        linkable.append_value(r.linkable);
    }
    batch(
        Table::Identifiers,
        vec![
            Arc::new(id_type.finish()),
            Arc::new(value.finish()),
            Arc::new(customer.finish()),
            Arc::new(role.finish()),
            Arc::new(linkable.finish()),
        ],
    )
}

fn invitations(recs: &ChunkRecords) -> Result<RecordBatch, SynthError> {
    let n = recs.invitations.len();
    let mut cols: Vec<StringBuilder> = (0..7).map(|_| StringBuilder::new()).collect();
    let mut offered = ts_builder(n);
    for i in &recs.invitations {
        for (b, v) in cols.iter_mut().zip([
            i.invitation_id.as_str(),
            &customer_id(i.customer),
            i.survey,
            i.metric,
            i.status,
            i.channel,
            &i.interaction_id,
        ]) {
            b.append_value(v);
        }
        offered.append_option(i.sent_us);
    }
    let mut columns: Vec<ArrayRef> = cols
        .iter_mut()
        .map(|b| Arc::new(b.finish()) as ArrayRef)
        .collect();
    columns.push(Arc::new(offered.finish()));
    batch(Table::SurveyInvitations, columns)
}

/// `agents.parquet`'s single batch.
pub(crate) fn agents(world: &crate::world::World) -> Result<RecordBatch, SynthError> {
    let mut name = StringBuilder::new();
    let mut system = StringBuilder::new();
    let mut quality = Float64Builder::new();
    let mut optimism = Float64Builder::new();
    let mut lead = StringBuilder::new();
    for (i, a) in world.agents.iter().enumerate() {
        name.append_value(&a.username);
        system.append_value(a.system.name());
        quality.append_value(a.quality);
        optimism.append_value(a.optimism);
        lead.append_value(crate::render::team_lead(i));
    }
    batch(
        Table::Agents,
        vec![
            Arc::new(name.finish()),
            Arc::new(system.finish()),
            Arc::new(quality.finish()),
            Arc::new(optimism.finish()),
            Arc::new(lead.finish()),
        ],
    )
}

/// `parameters.parquet`'s single batch.
pub(crate) fn parameters(params: &BtydParams) -> Result<RecordBatch, SynthError> {
    let mut model = StringBuilder::new();
    let mut name = StringBuilder::new();
    let mut value = Float64Builder::new();
    for (m, p, v) in params.rows() {
        model.append_value(m);
        name.append_value(p);
        value.append_value(v);
    }
    batch(
        Table::Parameters,
        vec![
            Arc::new(model.finish()),
            Arc::new(name.finish()),
            Arc::new(value.finish()),
        ],
    )
}

/// One open Parquet writer per truth table; each chunk becomes one row group.
pub(crate) struct TruthWriters {
    writers: Vec<(Table, PathBuf, ArrowWriter<BufWriter<File>>, u64)>,
}

impl TruthWriters {
    pub(crate) fn create(root: &Path) -> Result<Self, SynthError> {
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by("touchstone-synth".to_owned())
            .build();
        let mut writers = Vec::new();
        for table in Table::ALL {
            let path = root.join(table.path());
            let file = File::create(&path).map_err(|e| SynthError::io(&path, e))?;
            let w = ArrowWriter::try_new(BufWriter::new(file), table.schema(), Some(props.clone()))
                .map_err(|source| SynthError::Parquet {
                    path: path.clone(),
                    source,
                })?;
            writers.push((table, path, w, 0));
        }
        Ok(TruthWriters { writers })
    }

    pub(crate) fn write(&mut self, table: Table, batch: &RecordBatch) -> Result<(), SynthError> {
        for (t, path, w, rows) in &mut self.writers {
            if *t == table {
                w.write(batch).map_err(|source| SynthError::Parquet {
                    path: path.clone(),
                    source,
                })?;
                w.flush().map_err(|source| SynthError::Parquet {
                    path: path.clone(),
                    source,
                })?;
                *rows += batch.num_rows() as u64;
            }
        }
        Ok(())
    }

    /// Closes every file; returns (relative path, rows).
    pub(crate) fn finish(self) -> Result<Vec<(String, u64)>, SynthError> {
        let mut out = Vec::new();
        for (table, path, w, rows) in self.writers {
            w.close()
                .map_err(|source| SynthError::Parquet { path, source })?;
            out.push((table.path(), rows));
        }
        Ok(out)
    }
}
