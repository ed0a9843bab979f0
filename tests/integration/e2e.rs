//! generate → run → read the outputs, scored against the planted ground truth.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde_json::Value;

use crate::common::*;

const CUSTOMERS: u64 = 1_200;
const DAYS: u32 = 75;
const SEED: u64 = 7;
const RUN_DATE: &str = "2026-10-14"; // the last day of 75 days from 2026-08-01

#[tokio::test(flavor = "multi_thread")]
async fn pipeline_reproduces_the_ground_truth() {
    let dir = tempfile::tempdir().expect("tempdir");
    let raw = dir.path().join("raw");
    let warehouse = dir.path().join("wh").to_string_lossy().to_string();
    let generated = generate(&raw, CUSTOMERS, DAYS, SEED);

    let output = run_pipeline(&raw, &warehouse, RUN_DATE, &["--json"]);
    assert_success(&output);
    let summary: Value = serde_json::from_slice(&output.stdout).expect("summary JSON");

    conservation_and_counts(&summary, &generated);
    let ctx = session(&warehouse, &raw).await;
    every_touchpoint_has_a_customer(&ctx).await;
    identities_match_the_truth(&ctx).await;
    identity_graph_matches_the_truth(&ctx).await;
    abandon_causes_match_the_truth(&ctx).await;
    simultaneous_calls_match_the_truth(&ctx).await;
    self_reviews_track_the_planted_optimism(&ctx).await;
    rewards_raise_the_response_rate(&ctx).await;
    journeys_hold_every_touch_once_in_order(&ctx).await;
    let keys_before = identity_keys(&ctx).await;
    metrics_equal_independent_computation(&ctx).await;
    queue_visits_and_calls_match(&ctx).await;
    rfm_matches_the_simulated_purchases(&ctx).await;
    metric_values_are_documented_and_sane(&ctx).await;
    group_overlays_and_comparisons(&ctx).await;
    value_and_retention_tables(&ctx).await;

    // A retry of the same date, and a run for a later date over the same files, replace rather
    // than add: staging always holds each source's current files once.
    let before = staged_counts(&ctx).await;
    for date in [RUN_DATE, "2026-10-15"] {
        assert_success(&run_pipeline(&raw, &warehouse, date, &[]));
        let ctx = session(&warehouse, &raw).await;
        assert_eq!(
            staged_counts(&ctx).await,
            before,
            "staging changed after re-running for {date}"
        );
        // Same data, same customers: no key changes, nothing merged or split.
        assert_eq!(
            identity_keys(&ctx).await,
            keys_before,
            "keys changed on {date}"
        );
        let events = scalar(&ctx, "select count(*) from identity_merges").await;
        assert_eq!(events, 0.0, "identity_merges after re-running for {date}");
    }
    let ctx = session(&warehouse, &raw).await;
    let runs = scalar(
        &ctx,
        "select count(*) from _touchstone_runs where status = 'succeeded'",
    )
    .await;
    assert_eq!(runs, 3.0, "every run is in the ledger");
}

/// The same run as a library call on a `memory://` warehouse: the report, the progress events
/// and the tables are those of the binary's run.
#[tokio::test(flavor = "multi_thread")]
async fn pipeline_runs_in_process_on_a_memory_warehouse() {
    use std::sync::{Arc, Mutex};
    use touchstone_pipeline::{Run, RunEvent};

    let dir = tempfile::tempdir().expect("tempdir");
    let raw = dir.path().join("raw");
    let generated = generate(&raw, CUSTOMERS, DAYS, SEED);
    let warehouse = "memory://e2e-in-process/wh/";
    let prepared = prepare(&pipeline_file(dir.path(), &raw, warehouse)).await;
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let report = Run::new(&prepared)
        .with_date(NaiveDate::parse_from_str(RUN_DATE, "%Y-%m-%d").expect("date"))
        .with_progress(Arc::new(move |e: &RunEvent| {
            sink.lock().expect("events").push(e.clone())
        }))
        .await
        .expect("run");
    conservation_and_counts(
        &serde_json::to_value(&report).expect("report JSON"),
        &generated,
    );

    // Every committed table was announced, the last time with the version the report gives
    // (a staging table that several sources write is committed once per source).
    let events = events.lock().expect("events").clone();
    assert!(matches!(events.first(), Some(RunEvent::Started { .. })));
    assert!(matches!(events.last(), Some(RunEvent::Recorded { status }) if status == "succeeded"));
    for table in &report.tables {
        let announced: Vec<u64> = events
            .iter()
            .filter_map(|e| match e {
                RunEvent::TableCommitted {
                    table: t, version, ..
                } if *t == table.table => Some(*version),
                _ => None,
            })
            .collect();
        assert_eq!(announced.last(), Some(&table.version), "{}", table.table);
        if !table.table.starts_with("staging/") {
            assert_eq!(announced.len(), 1, "{}", table.table);
        }
    }

    let ctx = session(warehouse, &raw).await;
    every_touchpoint_has_a_customer(&ctx).await;
    identities_match_the_truth(&ctx).await;
    metrics_equal_independent_computation(&ctx).await;
    queue_visits_and_calls_match(&ctx).await;
    value_and_retention_tables(&ctx).await;
    let runs = scalar(
        &ctx,
        "select count(distinct run_id) from _touchstone_runs where status = 'succeeded'",
    )
    .await;
    assert_eq!(runs, 1.0);
}

fn conservation_and_counts(summary: &Value, generated: &touchstone_synth::GenerateSummary) {
    let expected: BTreeMap<&str, u64> = [
        (
            "salesforce",
            [
                "salesforce_account",
                "salesforce_contact",
                "salesforce_case",
                "salesforce_opportunity",
                "salesforce_order",
            ]
            .iter()
            .map(|s| generated.total(s))
            .sum(),
        ),
        ("asterisk_cdr", generated.total("asterisk_cdr")),
        ("asterisk_queue_log", generated.total("asterisk_queue_log")),
        ("connect_ctr", generated.total("connect_ctr")),
        ("livechat", generated.total("livechat")),
        ("surveys", generated.total("survey")),
        ("web", generated.total("web")),
        ("zendesk", generated.total("zendesk")),
        ("intercom", generated.total("intercom")),
        ("asterisk_branch", generated.total("asterisk_branch_cdr")),
        ("qualtrics", generated.total("qualtrics")),
        (
            "hubspot",
            ["hubspot_contact", "hubspot_company", "hubspot_deal"]
                .iter()
                .map(|s| generated.total(s))
                .sum(),
        ),
        ("agent_reviews", generated.total("agent_reviews")),
        ("calendar", generated.total("calendar")),
    ]
    .into_iter()
    .collect();
    let sources = summary["sources"].as_array().expect("sources");
    assert_eq!(sources.len(), expected.len());
    for s in sources {
        let name = s["name"].as_str().expect("name");
        let (read, staged, rejected, duplicates) = (
            s["rows_read"].as_u64().expect("read"),
            s["rows_staged"].as_u64().expect("staged"),
            s["rows_rejected"].as_u64().expect("rejected"),
            s["duplicates"].as_u64().unwrap_or(0),
        );
        assert_eq!(
            read,
            staged + rejected + duplicates,
            "conservation for {name}"
        );
        // The generator's redeliveries (identical CTRs, Segment events sent again with their
        // keys reordered and spaced) are the duplicates, and nothing else is.
        let generated_name = if name == "surveys" { "survey" } else { name };
        assert_eq!(
            duplicates,
            generated.duplicates(generated_name),
            "duplicates of {name}"
        );
        assert_eq!(
            read, expected[name],
            "every generated record of {name} is read"
        );
        assert_eq!(rejected, 0, "clean exports have no rejects ({name})");
        assert!(s["files"].as_u64().expect("files") > 0);
    }
}

async fn staged_counts(ctx: &datafusion::prelude::SessionContext) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    for table in touchstone_core::schema::StagingTable::ALL {
        let n = scalar(ctx, &format!("select count(*) from {}", table.name())).await;
        out.push((table.name().to_string(), n));
    }
    out
}

async fn every_touchpoint_has_a_customer(ctx: &datafusion::prelude::SessionContext) {
    let missing = scalar(
        ctx,
        "select count(*) from fct_touchpoints where customer_key is null or customer_key = ''",
    )
    .await;
    assert_eq!(missing, 0.0);
    let channels = pairs(
        ctx,
        "select channel, count(*) from fct_touchpoints group by channel",
    )
    .await;
    let names: Vec<&str> = channels.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(
        names,
        ["case", "chat", "purchase", "survey", "voice", "web"],
        "{channels:?}"
    );
}

/// Among touchpoints matched to a CRM contact, the contact must belong to the true customer of
/// the record (the generator's truth/records), and most touchpoints of known customers must
/// match at all.
async fn identities_match_the_truth(ctx: &datafusion::prelude::SessionContext) {
    let sql = "
        with contact_owner as (
            select record_id as contact_id, customer_id from truth_records where source = 'salesforce_contact'
        ),
        truth as (select source, record_id, customer_id from truth_records),
        tp as (
            select 'purchase' as kind, source_id as record_id, 'salesforce_order' as source, customer_key from fct_touchpoints where channel = 'purchase'
            union all select 'case', source_id, 'salesforce_case', customer_key from fct_touchpoints where channel = 'case'
            union all select 'chat', chat_id, 'livechat', customer_key from fct_chats
            union all select 'survey', response_id, 'survey', customer_key from fct_survey_responses
                where source_system = 'survey_export' and respondent_type = 'customer'
            union all select 'voice', chain_id, case source_system when 'asterisk' then 'asterisk_cdr' else 'connect_ctr' end, customer_key from fct_calls
        )
        select
            tp.kind,
            count(*) filter (where t.customer_id is not null) as known,
            count(*) filter (where t.customer_id is not null and o.customer_id is not null) as matched,
            count(*) filter (where o.customer_id = t.customer_id) as correct,
            count(*) filter (where o.customer_id is not null and o.customer_id <> t.customer_id) as wrong
        from tp
        join truth t on t.source = tp.source and t.record_id = tp.record_id
        left join contact_owner o on o.contact_id = tp.customer_key
        group by tp.kind
        order by tp.kind";
    let batches = rows(ctx, sql).await;
    let text = arrow::util::pretty::pretty_format_batches(&batches)
        .expect("format")
        .to_string();
    let mut seen = 0;
    for b in &batches {
        let kind =
            arrow::compute::cast(b.column(0), &arrow::datatypes::DataType::Utf8).expect("kind");
        let kind = kind
            .as_any()
            .downcast_ref::<arrow::array::StringArray>()
            .expect("utf8");
        let col = |i: usize| {
            b.column(i)
                .as_any()
                .downcast_ref::<arrow::array::Int64Array>()
                .expect("i64")
                .clone()
        };
        let (known, matched, correct, wrong) = (col(1), col(2), col(3), col(4));
        for r in 0..b.num_rows() {
            seen += 1;
            let kind = kind.value(r);
            assert!(
                known.value(r) > 0,
                "{kind}: no records with a known customer\n{text}"
            );
            let precision = correct.value(r) as f64 / matched.value(r).max(1) as f64;
            let recall = matched.value(r) as f64 / known.value(r) as f64;
            // A few wrong matches are planted on purpose (shared household phones, duplicate CRM
            // contacts); first-exact-match gets nearly all others right.
            assert!(
                precision >= 0.97,
                "{kind}: precision {precision:.3} ({} wrong)\n{text}",
                wrong.value(r)
            );
            let floor = match kind {
                "purchase" | "case" => 0.99,
                "survey" | "chat" => 0.90,
                _ => 0.75, // withheld and unknown caller ids cannot be matched
            };
            assert!(
                recall >= floor,
                "{kind}: only {recall:.3} of known customers matched\n{text}"
            );
        }
    }
    assert_eq!(seen, 5, "{text}");
}

/// CSAT %, abandonment rate, NPS and chat first response time per day, computed with plain SQL
/// from the generator's truth tables, equal the pipeline's metric_values.
async fn metrics_equal_independent_computation(ctx: &datafusion::prelude::SessionContext) {
    let checks = [
        (
            "csat_pct",
            "select cast(cast(responded_at as date) as varchar) as d,
                    100.0 * avg(case when score >= scale_min + 0.75 * (scale_max - scale_min) then 1.0 else 0.0 end)
             from truth_surveys where instrument = 'csat' and respondent_type = 'customer' group by 1",
        ),
        (
            "abandonment_rate",
            "select cast(cast(enqueued_at as date) as varchar) as d,
                    100.0 * avg(case when outcome = 'abandoned' then 1.0 else 0.0 end)
             from truth_queue_visits where logged and not (outcome = 'abandoned' and wait_secs < 5) group by 1",
        ),
        (
            "nps",
            "select cast(cast(responded_at as date) as varchar) as d,
                    100.0 * avg(case when score >= 9 then 1.0 when score <= 6 then -1.0 else 0.0 end)
             from truth_surveys where instrument = 'nps' group by 1",
        ),
        (
            "chat_first_response_secs",
            "select cast(cast(started_at as date) as varchar) as d, avg(first_response_secs)
             from truth_chats where not missed group by 1",
        ),
    ];
    for (metric, truth_sql) in checks {
        let expected = pairs(ctx, truth_sql).await;
        let got = pairs(
            ctx,
            &format!(
                "select cast(period_start as varchar), value from metric_values where metric = '{metric}' and dimensions = ''
                 and \"group\" in ('contact_center', 'customer_experience')"
            ),
        )
        .await;
        assert!(!expected.is_empty(), "{metric}: truth has no rows");
        assert_eq!(
            got.iter().map(|(d, _)| d).collect::<Vec<_>>(),
            expected.iter().map(|(d, _)| d).collect::<Vec<_>>(),
            "{metric}: days differ"
        );
        for ((day, g), (_, e)) in got.iter().zip(&expected) {
            assert!(
                (g - e).abs() < 1e-9 * e.abs().max(1.0),
                "{metric} on {day}: pipeline {g}, truth {e}"
            );
        }
    }
}

async fn queue_visits_and_calls_match(ctx: &datafusion::prelude::SessionContext) {
    let visits = pairs(
        ctx,
        "select outcome, count(*) from fct_queue_visits group by 1",
    )
    .await;
    let truth = pairs(
        ctx,
        // Queue visits are what the queue logs record; the branch site keeps none (its calls'
        // outcomes come from the CDR and are checked per call below).
        "select outcome, count(*) from truth_queue_visits where logged group by 1",
    )
    .await;
    assert_eq!(visits, truth, "queue visit outcomes");
    // Per call: the pipeline's outcome equals the planted one.
    let disagreements = scalar(
        ctx,
        "select count(*) from fct_calls c join truth_calls t on t.call_id = c.chain_id
         where (c.outcome is distinct from t.outcome) or (c.queued is distinct from t.queued)
            or (c.transferred is distinct from t.transferred) or (c.contained is distinct from t.contained)
            or (c.answered is distinct from t.answered)",
    )
    .await;
    let calls = scalar(ctx, "select count(*) from truth_calls").await;
    let joined = scalar(
        ctx,
        "select count(*) from fct_calls c join truth_calls t on t.call_id = c.chain_id",
    )
    .await;
    assert_eq!(joined, calls, "every planted call is in fct_calls");
    assert_eq!(disagreements, 0.0, "call outcomes differ from the truth");
}

/// customer_rfm equals the summary computed directly from the simulated purchase process.
async fn rfm_matches_the_simulated_purchases(ctx: &datafusion::prelude::SessionContext) {
    let start = NaiveDate::from_ymd_opt(2026, 8, 1).expect("date");
    let as_of = NaiveDate::parse_from_str(RUN_DATE, "%Y-%m-%d").expect("date");
    let params = touchstone_synth::BtydParams::default();
    let mut expected: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new();
    for customer in
        touchstone_synth::simulate_purchases(&params, CUSTOMERS, DAYS, SEED).expect("simulate")
    {
        let mut days: Vec<NaiveDate> = customer
            .purchases
            .iter()
            .map(|p| start + chrono::Duration::days(p.day.floor() as i64))
            .filter(|d| *d <= as_of)
            .collect();
        days.sort();
        days.dedup();
        if let (Some(first), Some(last)) = (days.first(), days.last()) {
            let id = format!("C{:09}", customer.index + 1);
            expected.insert(
                id,
                (
                    days.len() as i64 - 1,
                    (*last - *first).num_days(),
                    (as_of - *first).num_days(),
                ),
            );
        }
    }
    let sql = "
        select c.customer_id, r.frequency, r.recency, r.\"T\"
        from customer_rfm r
        join truth_records t on t.source = 'salesforce_contact' and t.record_id = r.customer_key
        join truth_customers c on c.customer_id = t.customer_id";
    let mut got: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new();
    for b in rows(ctx, sql).await {
        let id = arrow::compute::cast(b.column(0), &arrow::datatypes::DataType::Utf8).expect("id");
        let id = id
            .as_any()
            .downcast_ref::<arrow::array::StringArray>()
            .expect("utf8");
        let int = |i: usize| {
            let c =
                arrow::compute::cast(b.column(i), &arrow::datatypes::DataType::Int64).expect("int");
            c.as_any()
                .downcast_ref::<arrow::array::Int64Array>()
                .expect("i64")
                .clone()
        };
        let (f, r, t) = (int(1), int(2), int(3));
        for i in 0..b.num_rows() {
            got.insert(
                id.value(i).to_string(),
                (f.value(i), r.value(i), t.value(i)),
            );
        }
    }
    assert_eq!(
        got.len(),
        expected.len(),
        "every purchasing customer has one RFM row"
    );
    let differing: Vec<_> = expected
        .iter()
        .filter(|(id, v)| got.get(*id) != Some(v))
        .take(5)
        .collect();
    assert!(differing.is_empty(), "RFM differs for {differing:?}");
}

async fn metric_values_are_documented_and_sane(ctx: &datafusion::prelude::SessionContext) {
    let metrics = pairs(ctx, "select metric, count(*) from metric_values group by 1").await;
    let names: Vec<&str> = metrics.iter().map(|(m, _)| m.as_str()).collect();
    // Every metric of the shipped library has values.
    let dir = repo_root().join("pipelines/metrics");
    let library = touchstone_core::config::load_metrics(&dir).expect("library");
    let mut shipped: Vec<&str> = library.metrics.iter().map(|m| m.name()).collect();
    shipped.sort_unstable();
    shipped.dedup();
    assert_eq!(names, shipped);
    let bad = scalar(
        ctx,
        "select count(*) from metric_values where unit = 'percent' and (value < 0 or value > 100
            or ci_low > value + 1e-9 or ci_high < value - 1e-9)",
    )
    .await;
    assert_eq!(
        bad, 0.0,
        "percentages in [0, 100] with intervals around the value"
    );
    // Volume by channel sums to the total for every day.
    let mismatch = scalar(
        ctx,
        "select count(*) from (
            select period_start, sum(case when dimensions = '' then value else -value end) as diff
            from metric_values where metric = 'inbound_volume' group by period_start
         ) where diff <> 0",
    )
    .await;
    assert_eq!(mismatch, 0.0, "per-channel volume adds up to the total");
}

/// The group overlays of abandonment_rate equal plain SQL over fct_queue_visits for their
/// systems; the planted IVR menu redesign comes out significant and the placebo does not.
async fn group_overlays_and_comparisons(ctx: &datafusion::prelude::SessionContext) {
    for (group, system) in [
        ("legacy_phone", "asterisk"),
        ("connect_phone", "amazon_connect"),
    ] {
        let expected = pairs(
            ctx,
            &format!(
                "select cast(cast(enqueued_at as date) as varchar) as d,
                        100.0 * avg(case when outcome = 'abandoned' then 1.0 else 0.0 end)
                 from fct_queue_visits
                 where outcome <> 'unknown' and not (outcome = 'abandoned' and wait_secs < 5)
                   and source_system = '{system}'
                 group by 1 order by 1"
            ),
        )
        .await;
        let got = pairs(
            ctx,
            &format!(
                "select cast(period_start as varchar), value from metric_values
                 where metric = 'abandonment_rate' and \"group\" = '{group}' and dimensions = ''
                 order by 1"
            ),
        )
        .await;
        assert!(!expected.is_empty(), "{group}: no queue visits");
        assert_eq!(got.len(), expected.len(), "{group}");
        for ((d, g), (_, e)) in got.iter().zip(&expected) {
            assert!((g - e).abs() < 1e-9, "{group} {d}: {g} vs {e}");
        }
    }
    let legacy_target = scalar(
        ctx,
        "select max(target) from metric_values where metric = 'abandonment_rate' and \"group\" = 'legacy_phone'",
    )
    .await;
    assert_eq!(legacy_target, 12.0, "the overlay's own target");

    // Both baselines are compared (their significance at this sample size is checked in
    // metric_layer::planted_ivr_redesign_is_significant_and_the_placebo_is_not).
    let comparisons = pairs(
        ctx,
        "select baseline || '/' || metric, p_value from metric_comparisons order by 1",
    )
    .await;
    let keys: Vec<&str> = comparisons.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "ivr_menu_redesign/ivr_containment_rate",
            "ivr_menu_redesign/ivr_error_rate",
            "placebo_2026_08_31/ivr_error_rate"
        ]
    );
    assert!(comparisons.iter().all(|(_, p)| (0.0..=1.0).contains(p)));
    let change = scalar(
        ctx,
        "select abs_change from metric_comparisons
         where baseline = 'ivr_menu_redesign' and metric = 'ivr_error_rate'",
    )
    .await;
    assert!(
        change < 0.0,
        "fewer IVR errors after the redesign: {change}"
    );
}

/// customer_value has a row per customer_rfm row, every model number is in range or explained,
/// the model fits are recorded, and the retention tables are consistent with the cohorts.
async fn value_and_retention_tables(ctx: &datafusion::prelude::SessionContext) {
    let rfm = scalar(ctx, "select count(*) from customer_rfm").await;
    let valued = scalar(
        ctx,
        "select count(distinct customer_key) from customer_value",
    )
    .await;
    assert_eq!(rfm, valued, "one customer_value row per customer");
    let bad = scalar(
        ctx,
        "select count(*) from customer_value where
            (p_alive is null or clv is null) and value_note is null
            or p_alive < 0 or p_alive > 1 or expected_purchases < 0 or clv < 0
            or isnan(clv) or isnan(p_alive)",
    )
    .await;
    assert_eq!(bad, 0.0, "values in range, and every null explained");
    let deciles = scalar(
        ctx,
        "select count(distinct value_decile) from customer_value",
    )
    .await;
    assert_eq!(deciles, 10.0);
    let fits = scalar(
        ctx,
        "select count(*) from value_model_fits where converged and estimate > 0",
    )
    .await;
    assert_eq!(fits, 7.0, "r, alpha, a, b and p, q, gamma fitted");
    // Equity in metric_values is the sum of customer CLV.
    let equity = scalar(ctx, "select sum(clv) from customer_value").await;
    let metric = scalar(
        ctx,
        "select value from metric_values where metric = 'customer_equity' and dimensions = ''",
    )
    .await;
    assert!(
        (equity - metric).abs() < 1e-6 * equity.max(1.0),
        "{equity} vs {metric}"
    );

    let cohort_sizes = scalar(
        ctx,
        "select count(*) from (
            select cohort_month, max(cohort_customers) as n from retention_cohorts group by cohort_month
         ) c full join (
            select cast(date_trunc('month', first_purchase_date) as date) as cohort_month, count(*) as n
            from customer_rfm group by 1
         ) f on f.cohort_month = c.cohort_month
         where c.n is distinct from f.n",
    )
    .await;
    assert_eq!(cohort_sizes, 0.0, "cohort sizes count first purchases");
    let first_month = scalar(
        ctx,
        "select min(active_share) from retention_cohorts where months_since_first = 0",
    )
    .await;
    assert_eq!(first_month, 1.0, "everyone is active in their first month");
    let km = scalar(
        ctx,
        "select count(*) from retention_curve where survival < ci_low - 1e-12 or survival > ci_high + 1e-12
            or survival < 0 or survival > 1",
    )
    .await;
    assert_eq!(km, 0.0);
    let at_risk = scalar(
        ctx,
        "select max(at_risk) from retention_curve where cohort = 'all'",
    )
    .await;
    assert_eq!(
        at_risk, rfm,
        "the overall curve starts with every customer at risk"
    );
    let projected = scalar(
        ctx,
        "select count(*) from retention_projection where cohort = 'all' and is_projection",
    )
    .await;
    assert!(projected > 0.0, "the overall curve is projected forward");
}

/// The identity graph against the generator's truth/identifiers: pairwise "same customer"
/// precision over every personal identifier and recall over the linkable ones (both ≥ 0.99), and
/// no planted trap (household landline, switchboard, role mailbox, placeholder) links anyone.
async fn identity_graph_matches_the_truth(ctx: &datafusion::prelude::SessionContext) {
    // Identifiers with one true owner, their predicted customer (a singleton when unlinked).
    let scored = "
        with t as (
            select id_type, id_value, customer_id, linkable from truth_identifiers where role = 'personal'
        ),
        p as (
            select t.*, coalesce(ci.customer_key, 'unlinked:' || t.id_type || ':' || t.id_value) as predicted
            from t left join customer_identity ci on ci.id_type = t.id_type and ci.id_value = t.id_value
        )";
    let pairs_of = |group: &str, filter: &str| {
        format!(
            "{scored} select coalesce(sum(n * (n - 1) / 2), 0) from (select count(*) as n from p {filter} group by {group})"
        )
    };
    let predicted = scalar(ctx, &pairs_of("predicted", "")).await;
    let correct = scalar(ctx, &pairs_of("predicted, customer_id", "")).await;
    let truth = scalar(ctx, &pairs_of("customer_id", "where linkable")).await;
    let found = scalar(ctx, &pairs_of("predicted, customer_id", "where linkable")).await;
    let precision = correct / predicted;
    let recall = found / truth;
    println!(
        "identity: pairwise precision {precision:.4} ({correct} of {predicted} pairs), recall {recall:.4} ({found} of {truth} linkable pairs)"
    );
    assert!(truth > 1000.0, "too few linkable pairs: {truth}");
    assert!(precision >= 0.99, "identity precision {precision:.4}");
    assert!(recall >= 0.99, "identity recall {recall:.4}");

    // Every planted trap is in the graph and links nobody.
    let traps = pairs(
        ctx,
        "select t.role || ' ' || coalesce(ci.status, 'missing'), count(distinct t.id_value)
         from truth_identifiers t
         left join customer_identity ci on ci.id_type = t.id_type and ci.id_value = t.id_value
         where t.role in ('household_landline', 'switchboard', 'role_mailbox', 'placeholder')
         group by 1 order by 1",
    )
    .await;
    println!("identity traps: {traps:?}");
    let roles: Vec<&str> = traps
        .iter()
        .map(|(k, _)| k.split(' ').next().unwrap_or(""))
        .collect();
    for role in ["household_landline", "switchboard", "role_mailbox"] {
        assert!(roles.contains(&role), "no {role} trap: {traps:?}");
    }
    for (what, n) in &traps {
        assert!(
            what.ends_with(" capped") || what.ends_with(" blocked") || what.ends_with(" missing"),
            "{n} {what} identifiers linked customers: {traps:?}"
        );
    }
    let linked_traps = scalar(
        ctx,
        "select count(*) from customer_identity ci join truth_identifiers t
         on ci.id_type = t.id_type and ci.id_value = t.id_value
         where t.role <> 'personal' and t.role <> 'visitor' and ci.customer_key is not null",
    )
    .await;
    assert_eq!(linked_traps, 0.0);

    // Every customer of dim_customer is in customer_identity and named after a CRM contact
    // when it has one.
    let bad = scalar(
        ctx,
        "select count(*) from dim_customer d
         where d.is_known and d.customer_key not in (select id_value from customer_identity where id_type = 'crm_id')",
    )
    .await;
    assert_eq!(bad, 0.0);
}

/// Every identifier's customer key, for comparing runs.
async fn identity_keys(ctx: &datafusion::prelude::SessionContext) -> Vec<(String, f64)> {
    pairs(
        ctx,
        "select id_type || ':' || id_value || '=' || coalesce(customer_key, '-'), 1.0 from customer_identity order by 1",
    )
    .await
}

/// fct_calls.abandon_cause and fct_chats.abandon_cause, inferred from behaviour, against the
/// reason the generator planted (truth/calls and truth/chats abandon_cause): accuracy and the
/// confusion matrix (truth → inferred) of each. Chats are scored where the export records how
/// long the visitor waited (LiveChat's queue wait; Zendesk Chat and Intercom exports do not),
/// and the accuracy over every missed chat is printed beside it.
async fn abandon_causes_match_the_truth(ctx: &datafusion::prelude::SessionContext) {
    for (what, sql) in [
        (
            "calls",
            "select t.abandon_cause || ' -> ' || coalesce(c.abandon_cause, '-'), count(*)
             from truth_calls t join fct_calls c on c.chain_id = t.call_id
             where t.abandon_cause is not null
             group by 1 order by 1",
        ),
        (
            "chats",
            "select t.abandon_cause || ' -> ' || coalesce(c.abandon_cause, '-'), count(*)
             from truth_chats t join fct_chats c on c.chat_id = t.chat_id
             where t.abandon_cause is not null and c.queue_wait_secs is not null
             group by 1 order by 1",
        ),
    ] {
        let matrix = pairs(ctx, sql).await;
        let total: f64 = matrix.iter().map(|(_, n)| n).sum();
        let right: f64 = matrix
            .iter()
            .filter(|(k, _)| {
                let mut parts = k.split(" -> ");
                parts.next() == parts.next()
            })
            .map(|(_, n)| n)
            .sum();
        let accuracy = right / total;
        println!(
            "abandon_cause of {what}: accuracy {accuracy:.3} ({right} of {total}); truth -> inferred:"
        );
        for (k, n) in &matrix {
            println!("  {k:<28} {n}");
        }
        if what == "chats" {
            let all = scalar(
                ctx,
                "select avg(case when t.abandon_cause = c.abandon_cause then 1.0 else 0.0 end)
                 from truth_chats t join fct_chats c on c.chat_id = t.chat_id
                 where t.abandon_cause is not null",
            )
            .await;
            println!(
                "abandon_cause of every missed chat, waits recorded or not: accuracy {all:.3}"
            );
        }
        assert!(total > 12.0, "too few abandoned {what}: {total}");
        assert!(
            accuracy >= 0.9,
            "abandon_cause accuracy of {what} {accuracy:.3}: {matrix:?}"
        );
    }
}

/// The generator makes agents rate their own work above their manager by their own optimism
/// (truth/agents): the self-review gap of fct_agent_reviews and of the `self_review_gap`
/// metric follows it across agents.
async fn self_reviews_track_the_planted_optimism(ctx: &datafusion::prelude::SessionContext) {
    let r = scalar(
        ctx,
        "select corr(g.gap, a.optimism) from (
             select employee_id, avg(self_vs_manager) as gap from fct_agent_reviews
             where reviewer_role = 'self' group by employee_id) g
         join truth_agents a on a.username = g.employee_id",
    )
    .await;
    println!("self-review gap vs planted optimism: r = {r:.3}");
    assert!(
        r >= 0.5,
        "self-review gap does not follow optimism: r = {r}"
    );
    let r = scalar(
        ctx,
        "select corr(g.gap, a.optimism) from (
             select substr(dimensions, 13) as agent, sum(value * n) / sum(n) as gap
             from metric_values
             where metric = 'self_review_gap' and starts_with(dimensions, 'employee_id=')
             group by 1) g
         join truth_agents a on a.username = g.agent",
    )
    .await;
    assert!(
        r >= 0.5,
        "self_review_gap does not follow optimism: r = {r}"
    );
}

/// The generator offers a reward on 30 % of post-interaction surveys, which makes them twice
/// times as likely to be answered: `survey_response_rate_by_reward`, pooled over the days, is
/// higher with a reward than without.
async fn rewards_raise_the_response_rate(ctx: &datafusion::prelude::SessionContext) {
    let rate = |dims: &'static str| async move {
        scalar(
            ctx,
            &format!(
                "select sum(numerator) / sum(denominator) from metric_values
                 where metric = 'survey_response_rate_by_reward' and dimensions = '{dims}'"
            ),
        )
        .await
    };
    let with = rate("reward_offered=true").await;
    let without = rate("reward_offered=false").await;
    println!("survey response rate with a reward {with:.3}, without {without:.3}");
    assert!(
        with > without * 1.15,
        "with a reward {with}, without {without}"
    );
}

/// fct_calls.is_simultaneous against the overlaps the generator planted (truth/overlaps: a call
/// during one of the customer's web sessions or chats): precision and recall over calls.
/// Recall is asserted over the overlaps whose two sides can be tied to one customer at all: the
/// web cookie is linkable (truth/identifiers: seen with another identifier of its owner; a
/// cookie that never signed in is anyone's) and the caller was identified (not a withheld
/// number); the recall over every planted overlap is printed beside it.
async fn simultaneous_calls_match_the_truth(ctx: &datafusion::prelude::SessionContext) {
    let counts = pairs(
        ctx,
        "with truth as (
            select o.call_id,
                   bool_or((o.channel = 'chat' or coalesce(i.linkable, false))
                           and coalesce(c.match_type <> 'unmatched', false)) as identifiable
            from truth_overlaps o
            left join truth_identifiers i on i.id_type = 'anonymous_id' and i.id_value = o.anonymous_id
            left join fct_calls c on c.chain_id = o.call_id
            group by o.call_id),
              flagged as (select distinct chain_id from fct_calls where is_simultaneous)
         select 'truth', count(*) from truth
         union all select 'identifiable', count(*) from truth where identifiable
         union all select 'flagged', count(*) from flagged
         union all select 'both', count(*) from flagged f join truth t on t.call_id = f.chain_id
         union all select 'both_identifiable', count(*) from flagged f join truth t on t.call_id = f.chain_id where t.identifiable",
    )
    .await;
    let get = |k: &str| {
        counts
            .iter()
            .find(|(name, _)| name == k)
            .map_or(0.0, |(_, n)| *n)
    };
    let (truth, identifiable, flagged, both) = (
        get("truth"),
        get("identifiable"),
        get("flagged"),
        get("both"),
    );
    let precision = both / flagged;
    let recall = get("both_identifiable") / identifiable;
    println!(
        "simultaneous calls: precision {precision:.3} ({both} of {flagged} flagged), recall {recall:.3} \
         of {identifiable} identifiable overlaps, {:.3} of all {truth} planted",
        both / truth
    );
    assert!(identifiable > 10.0, "too few planted overlaps: {counts:?}");
    assert!(
        precision >= 0.95 && recall >= 0.95,
        "simultaneous calls: precision {precision:.3}, recall {recall:.3}: {counts:?}"
    );
    // A journey is simultaneous exactly when one of its steps is.
    let bad = scalar(
        ctx,
        "select count(*) from fct_journeys j
         join (select journey_id, bool_or(is_simultaneous) s from fct_journey_steps group by 1) s
           on s.journey_id = j.journey_id
         where j.is_simultaneous <> s.s",
    )
    .await;
    assert_eq!(bad, 0.0);
}

/// Every call, chat, web session and case of a known customer is one step of one journey;
/// steps are numbered 1.. in time order; journeys of a customer are more than the 72-hour
/// window apart; the per-journey counts add up to the steps.
async fn journeys_hold_every_touch_once_in_order(ctx: &datafusion::prelude::SessionContext) {
    let touches = scalar(
        ctx,
        "select count(*) from fct_touchpoints
         where channel in ('voice', 'chat', 'web', 'case') and customer_key is not null",
    )
    .await;
    let steps = scalar(ctx, "select count(*) from fct_journey_steps").await;
    let distinct = scalar(
        ctx,
        "select count(distinct touchpoint_id) from fct_journey_steps",
    )
    .await;
    assert_eq!((steps, distinct), (touches, touches));
    let journeys = scalar(ctx, "select count(*) from fct_journeys").await;
    let summed = scalar(ctx, "select sum(steps) from fct_journeys").await;
    assert_eq!(summed, steps);
    assert!(journeys > 100.0, "{journeys} journeys");
    // Steps 1..n in order of time within each journey.
    let misordered = scalar(
        ctx,
        "select count(*) from (
            select step, row_number() over (partition by journey_id order by started_at, touchpoint_id) rn,
                   started_at, lag(started_at) over (partition by journey_id order by step) prev
            from fct_journey_steps)
         where step <> rn or (prev is not null and started_at < prev)",
    )
    .await;
    assert_eq!(misordered, 0.0);
    // Consecutive journeys of a customer: the next starts more than 72 hours after the
    // previous one's last step started, or with a contact about another known reason than the
    // previous one's; within a journey no gap exceeds 72 hours.
    let too_close = scalar(
        ctx,
        "select count(*) from (
            select customer_key, started_at, reason,
                   lag(last_start) over (partition by customer_key order by started_at) prev_last,
                   lag(reason) over (partition by customer_key order by started_at) prev_reason
            from (select j.customer_key, j.journey_id, j.reason, min(s.started_at) started_at, max(s.started_at) last_start
                  from fct_journeys j join fct_journey_steps s on s.journey_id = j.journey_id
                  group by 1, 2, 3))
         where prev_last is not null and started_at <= prev_last + interval '72 hours'
             and not (reason is not null and prev_reason is not null and reason <> prev_reason)",
    )
    .await;
    assert_eq!(too_close, 0.0);
    let split = scalar(
        ctx,
        "select count(*) from fct_journey_steps s join fct_journeys j on j.journey_id = s.journey_id
         where s.reason is not null and j.reason is not null and s.reason <> j.reason",
    )
    .await;
    assert_eq!(split, 0.0, "a journey holds a contact about another reason");
    let long_gap = scalar(
        ctx,
        "select count(*) from fct_journey_steps where secs_since_previous > 72 * 3600",
    )
    .await;
    assert_eq!(long_gap, 0.0);
    let outcomes = pairs(
        ctx,
        "select outcome, count(*) from fct_journeys group by 1 order by 1",
    )
    .await;
    println!("journey outcomes: {outcomes:?}");
    for (outcome, _) in &outcomes {
        assert!(
            [
                "abandoned",
                "contained",
                "resolved",
                "transferred",
                "unresolved"
            ]
            .contains(&outcome.as_str()),
            "{outcome}"
        );
    }
    let switches = scalar(
        ctx,
        "select count(*) from fct_journeys where channel_switches > steps - 1
         or channel_switches <> (select count(*) from fct_journey_steps s
                                 where s.journey_id = fct_journeys.journey_id and s.is_channel_switch)",
    )
    .await;
    assert_eq!(switches, 0.0);
}
