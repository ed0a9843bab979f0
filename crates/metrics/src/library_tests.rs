//! The shipped metric library (`pipelines/metrics/*.yaml`) on a small hand-made fixture: every
//! metric's value on the fixture is computed by hand in the comments and compared. A metric
//! added to the library without a check here fails `every_shipped_metric_is_checked`.

use std::collections::BTreeSet;
use std::path::Path;

use arrow::array::{Array, Float64Array, Int64Array, StringArray};
use datafusion::prelude::SessionContext;
use touchstone_core::config::{MetricLibrary, load_metrics};
use touchstone_transform::{SessionOptions, new_session};

use super::*;

/// The fixture: each source with only the columns the library reads. Day 1 is 2026-09-01 (a
/// Tuesday).
const FIXTURE: &[&str] = &[
    "create table fct_queue_visits as select * from (values
        (timestamp '2026-09-01 10:00:00', 'answered', 10, 'asterisk'),
        (timestamp '2026-09-01 10:05:00', 'answered', 30, 'amazon_connect'),
        (timestamp '2026-09-01 10:10:00', 'abandoned', 3, 'asterisk'),
        (timestamp '2026-09-01 10:15:00', 'abandoned', 60, 'asterisk'),
        (timestamp '2026-09-01 10:20:00', 'timeout', 300, 'amazon_connect'),
        (timestamp '2026-09-01 10:25:00', 'unknown', cast(null as bigint), 'amazon_connect')
     ) as t(enqueued_at, outcome, wait_secs, source_system)",
    "create table fct_calls as select * from (values
        (timestamp '2026-09-01 09:00:00', 'main>billing', 'inbound', true, 0, cast(null as varchar), false, 0, false, 'asterisk', cast(null as varchar)),
        (timestamp '2026-09-01 09:10:00', 'main', 'inbound', false, 2, 'ivr_errors', false, 0, false, 'asterisk', 'frustrated'),
        (timestamp '2026-09-01 09:20:00', 'main>orders>status', 'inbound', false, 1, cast(null as varchar), true, 300, true, 'amazon_connect', cast(null as varchar)),
        (timestamp '2026-09-01 09:30:00', 'main>account', 'inbound', false, 0, 'long_wait', false, 0, false, 'amazon_connect', 'informed'),
        (timestamp '2026-09-01 09:40:00', cast(null as varchar), 'outbound', false, cast(null as bigint), cast(null as varchar), true, 100, false, 'amazon_connect', cast(null as varchar)),
        (timestamp '2026-09-02 09:00:00', 'main', 'inbound', false, 0, cast(null as varchar), false, 0, false, 'asterisk', 'short'),
        (timestamp '2026-09-02 09:05:00', 'main', 'inbound', false, 3, cast(null as varchar), false, 0, false, 'asterisk', 'frustrated')
     ) as t(started_at, ivr_path, direction, contained, ivr_errors, abandon_reason, answered, talk_secs, transferred, source_system, abandon_cause)",
    "create table fct_touchpoints as select * from (values
        (timestamp '2026-09-01 10:00:00', timestamp '2026-09-01 10:05:00', 'inbound', 'voice', 'k1'),
        (timestamp '2026-09-01 11:00:00', timestamp '2026-09-01 11:10:00', 'inbound', 'chat', 'k2'),
        (timestamp '2026-09-01 12:00:00', timestamp '2026-09-02 09:00:00', 'inbound', 'case', 'k3'),
        (timestamp '2026-09-03 09:00:00', timestamp '2026-09-03 09:05:00', 'inbound', 'voice', 'k1'),
        (timestamp '2026-09-05 09:00:00', timestamp '2026-09-05 09:00:00', cast(null as varchar), 'purchase', 'k2'),
        (timestamp '2026-09-01 13:00:00', timestamp '2026-09-01 13:30:00', 'inbound', 'web', 'k4'),
        (timestamp '2026-09-20 09:00:00', timestamp '2026-09-20 09:00:00', cast(null as varchar), 'purchase', 'k3'),
        (timestamp '2026-09-02 08:00:00', cast(null as timestamp), 'inbound', 'case', 'k4')
     ) as t(started_at, ended_at, direction, channel, customer_key)",
    "create table fct_chats as select * from (values
        (timestamp '2026-09-01 10:00:00', timestamp '2026-09-01 10:10:00', false, 30.0, 'livechat'),
        (timestamp '2026-09-01 11:00:00', timestamp '2026-09-01 11:20:00', false, 90.0, 'intercom'),
        (timestamp '2026-09-01 12:00:00', timestamp '2026-09-01 12:01:00', true, cast(null as double), 'livechat'),
        (timestamp '2026-09-01 13:00:00', timestamp '2026-09-01 13:30:00', false, 45.0, 'zendesk')
     ) as t(started_at, ended_at, is_missed, first_response_secs, source_system)",
    "create table fct_survey_responses as select * from (values
        (timestamp '2026-09-01 10:00:00', 'csat', 'customer', true, 'voice', 5.0, 'asterisk'),
        (timestamp '2026-09-01 10:00:00', 'csat', 'customer', true, 'chat', 4.0, 'livechat'),
        (timestamp '2026-09-01 10:00:00', 'csat', 'customer', false, 'chat', 2.0, 'livechat'),
        (timestamp '2026-09-01 10:00:00', 'csat', 'agent', true, 'voice', 5.0, 'asterisk'),
        (timestamp '2026-09-01 10:00:00', 'nps', 'customer', true, 'email', 10.0, 'survey'),
        (timestamp '2026-09-01 10:00:00', 'nps', 'customer', false, 'email', 8.0, 'survey'),
        (timestamp '2026-09-01 10:00:00', 'nps', 'customer', false, 'email', 3.0, 'survey'),
        (timestamp '2026-09-01 10:00:00', 'nps', 'customer', false, 'email', 6.0, 'survey'),
        (timestamp '2026-09-01 10:00:00', 'ces', 'customer', true, 'voice', 7.0, 'survey'),
        (timestamp '2026-09-01 10:00:00', 'ces', 'customer', false, 'voice', 4.0, 'survey'),
        (timestamp '2026-09-01 10:00:00', 'ces', 'customer', true, 'voice', 6.0, 'survey'),
        (timestamp '2026-09-02 10:00:00', 'csat', 'customer', false, 'voice', 1.0, 'asterisk')
     ) as t(responded_at, instrument, respondent_type, is_top_box, channel, score, source_system)",
    "create table fct_survey_invitations as select * from (values
        (timestamp '2026-09-01 09:00:00', true, true, true),
        (timestamp '2026-09-01 09:30:00', true, false, true),
        (timestamp '2026-09-01 10:00:00', true, false, false),
        (timestamp '2026-09-01 11:00:00', false, false, cast(null as boolean)),
        (timestamp '2026-09-02 09:00:00', true, true, cast(null as boolean))
     ) as t(sent_or_answered_at, offered, answered, reward_offered)",
    "create table dim_calendar as select * from (values
        (date '2026-09-01', 'promotion', 'Fall sale'),
        (date '2026-09-03', 'holiday', 'Founders Day')
     ) as t(date, calendar, calendar_event)",
    "create table fct_bot_sessions as select * from (values
        (timestamp '2026-09-01 10:00:00', true, false),
        (timestamp '2026-09-01 11:00:00', false, true),
        (timestamp '2026-09-01 12:00:00', cast(null as boolean), false),
        (timestamp '2026-09-01 13:00:00', true, true)
     ) as t(started_at, contained, had_failed_search)",
    "create table fct_contact_outcomes as select * from (values
        (timestamp '2026-09-01 10:00:00', 'voice', 'a1', 5.0, true, 4.0, true, true, 9.0, 'satisfied', 'high effort'),
        (timestamp '2026-09-01 11:00:00', 'voice', 'a1', 2.0, false, 4.0, false, true, 0.0, 'not satisfied', 'low effort'),
        (timestamp '2026-09-01 12:00:00', 'chat', 'a2', 5.0, true, 5.0, true, false, 10.0, 'satisfied', 'low effort'),
        (timestamp '2026-09-01 13:00:00', 'chat', 'a2', cast(null as double), cast(null as boolean), cast(null as double), true, cast(null as boolean), 10.0, cast(null as varchar), cast(null as varchar)),
        (timestamp '2026-09-01 14:00:00', 'case', cast(null as varchar), cast(null as double), cast(null as boolean), cast(null as double), false, false, 0.0, cast(null as varchar), cast(null as varchar)),
        (timestamp '2026-09-20 10:00:00', 'voice', 'a1', 4.0, true, 5.0, true, true, 7.0, 'satisfied', 'low effort')
     ) as t(started_at, channel, agent_id, csat_score_5, csat_satisfied, self_score_5, is_successful, returned_30d, follow_up_score, csat_band, effort_band)",
    "create table fct_journey_effort as select * from (values
        (timestamp '2026-09-01 10:00:00', 10.0),
        (timestamp '2026-09-01 11:00:00', 30.0),
        (timestamp '2026-09-02 11:00:00', 0.0)
     ) as t(started_at, effort_index)",
    "create table fct_agent_reviews as select * from (values
        (date '2026-09-01', 'self', 'e1', 10.0, 20.0),
        (date '2026-09-01', 'self', 'e2', -5.0, cast(null as double)),
        (date '2026-09-01', 'manager', 'e1', 3.0, cast(null as double)),
        (date '2026-08-01', 'self', 'e1', cast(null as double), 30.0)
     ) as t(review_date, reviewer_role, employee_id, score_change, self_vs_manager)",
    "create table int_web_events as select * from (values
        (timestamp '2026-09-01 10:00:00', 'refund', 0),
        (timestamp '2026-09-01 10:01:00', 'refund', 3),
        (timestamp '2026-09-01 10:02:00', 'delivery', 0),
        (timestamp '2026-09-01 10:03:00', cast(null as varchar), cast(null as bigint))
     ) as t(occurred_at, search_query, search_result_count)",
    "create table customer_value as select * from (values
        (date '2026-10-29', 100.0, 'high', false, 0.9),
        (date '2026-10-29', 50.0, 'low', true, 0.5),
        (date '2026-10-29', cast(null as double), 'low', cast(null as boolean), cast(null as double))
     ) as t(as_of_date, clv, value_segment, poor_fit, p_alive)",
];

fn shipped() -> MetricLibrary {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines/metrics");
    load_metrics(&dir).unwrap()
}

async fn fixture() -> SessionContext {
    let ctx = new_session(&SessionOptions::default()).unwrap();
    for sql in FIXTURE {
        ctx.sql(sql).await.unwrap().collect().await.unwrap();
    }
    ctx
}

/// (metric, group, period, dimensions) -> (value, n)
type Rows = Vec<(String, String, String, String, Option<f64>, i64)>;

async fn compute(ctx: &SessionContext, lib: &MetricLibrary) -> Rows {
    let df = compile_all(ctx, lib).await.unwrap().unwrap();
    let df = df
        .select(vec![
            Expr::Column(Column::from_name("metric")),
            Expr::Column(Column::from_name("group")),
            cast(
                Expr::Column(Column::from_name("period_start")),
                DataType::Utf8,
            ),
            Expr::Column(Column::from_name("dimensions")),
            Expr::Column(Column::from_name("value")),
            Expr::Column(Column::from_name("n")),
        ])
        .unwrap();
    let mut out = Vec::new();
    for b in df.collect().await.unwrap() {
        let s = |i: usize| b.column(i).as_any().downcast_ref::<StringArray>().unwrap();
        let v = b.column(4).as_any().downcast_ref::<Float64Array>().unwrap();
        let n = b.column(5).as_any().downcast_ref::<Int64Array>().unwrap();
        for r in 0..b.num_rows() {
            out.push((
                s(0).value(r).to_string(),
                s(1).value(r).to_string(),
                s(2).value(r).to_string(),
                s(3).value(r).to_string(),
                (!v.is_null(r)).then(|| v.value(r)),
                n.value(r),
            ));
        }
    }
    out
}

struct Check<'a> {
    rows: &'a Rows,
    checked: BTreeSet<String>,
}

impl Check<'_> {
    /// The shared definition's value (the metric's own group) on `period` for `dims`.
    fn value(&mut self, metric: &str, period: &str, dims: &str, expected: f64) {
        self.group_value(metric, None, period, dims, expected);
    }

    fn group_value(
        &mut self,
        metric: &str,
        group: Option<&str>,
        period: &str,
        dims: &str,
        expected: f64,
    ) {
        let found: Vec<_> = self
            .rows
            .iter()
            .filter(|r| {
                r.0 == metric
                    && r.2 == period
                    && r.3 == dims
                    && group.is_none_or(|g| r.1 == g)
                    && (group.is_some()
                        || !["legacy_phone", "connect_phone"].contains(&r.1.as_str()))
            })
            .collect();
        assert_eq!(
            found.len(),
            1,
            "{metric} {group:?} {period} {dims}: {found:?}"
        );
        let got = found[0].4.unwrap_or(f64::NAN);
        assert!(
            (got - expected).abs() < 1e-6,
            "{metric} {group:?} {period} '{dims}': got {got}, expected {expected}"
        );
        self.checked.insert(metric.to_string());
    }

    fn absent(&self, metric: &str, period: &str) {
        assert!(
            !self.rows.iter().any(|r| r.0 == metric && r.2 == period),
            "{metric} should have no row for {period}"
        );
    }
}

const D1: &str = "2026-09-01";
const D2: &str = "2026-09-02";
const D3: &str = "2026-09-03";

#[tokio::test]
async fn every_shipped_metric_matches_its_hand_computed_value() {
    let lib = shipped();
    let ctx = fixture().await;
    let rows = compute(&ctx, &lib).await;
    let mut c = Check {
        rows: &rows,
        checked: BTreeSet::new(),
    };
    // Queue visits on day 1: answered 10 s, answered 30 s, short abandon 3 s (left out),
    // abandon 60 s, timeout, unknown (left out).
    c.value("abandonment_rate", D1, "", 100.0 / 4.0);
    // Group overlays: asterisk visits 10 s answered and 60 s abandoned; connect: answered, timeout.
    c.group_value("abandonment_rate", Some("legacy_phone"), D1, "", 50.0);
    c.group_value("abandonment_rate", Some("connect_phone"), D1, "", 0.0);
    c.value("average_speed_of_answer", D1, "", 20.0);
    // Answered (10, 30) + abandoned after 5 s (60): one within 20 s of three.
    c.value("service_level_20s", D1, "", 100.0 / 3.0);
    // Calls: 4 inbound IVR calls, 1 contained, 2 with errors; 2 answered (300 s, 100 s), 1
    // transferred; abandons for ivr_errors and long_wait.
    c.value("ivr_containment_rate", D1, "", 25.0);
    c.value("ivr_error_rate", D1, "", 50.0);
    c.group_value("ivr_error_rate", Some("legacy_phone"), D1, "", 50.0);
    c.value("abandonment_by_reason", D1, "", 2.0);
    c.value(
        "abandonment_by_reason",
        D1,
        "abandon_reason=ivr_errors",
        1.0,
    );
    c.value("abandonment_by_reason", D1, "abandon_reason=long_wait", 1.0);
    // Causes: day 1 frustrated (09:10) and informed (09:30); day 2 short and frustrated.
    c.value("abandonment_by_cause", D1, "", 2.0);
    c.value("abandonment_by_cause", D1, "abandon_cause=frustrated", 1.0);
    c.value("abandonment_by_cause", D1, "abandon_cause=informed", 1.0);
    c.value("abandonment_by_cause", D2, "abandon_cause=short", 1.0);
    c.value("abandonment_by_cause", D2, "abandon_cause=frustrated", 1.0);
    c.value("frustrated_abandon_rate", D1, "", 50.0);
    c.value("frustrated_abandon_rate", D2, "", 50.0);
    c.value("average_handle_time", D1, "", 200.0);
    c.value("transfer_rate", D1, "", 50.0);
    // Touchpoints: day 1 voice k1, chat k2, case k3 (closed day 2); day 2 case k4 (open);
    // day 3 voice k1; purchases k2 on 09-05 and k3 on 09-20; web is not a contact.
    // Invitations: day 1 three offered (one answered) and one never sent (left out); day 2 one
    // offered and answered.
    c.value("survey_response_rate", D1, "", 100.0 / 3.0);
    c.value("survey_response_rate", D2, "", 100.0);
    // With a reward on day 1: one of two answered; without: none of one; day 2: not said.
    c.value(
        "survey_response_rate_by_reward",
        D1,
        "reward_offered=true",
        50.0,
    );
    c.value(
        "survey_response_rate_by_reward",
        D1,
        "reward_offered=false",
        0.0,
    );
    c.value(
        "survey_response_rate_by_reward",
        D2,
        "reward_offered=(null)",
        100.0,
    );
    // Context dimensions: day 1 is in a promotion (3 inbound contacts at 10, 11 and 12 h),
    // day 2 a regular day (a case at 8 h), day 3 a holiday (a call at 9 h).
    c.value("inbound_volume_by_calendar", D1, "calendar=promotion", 3.0);
    c.value("inbound_volume_by_calendar", D2, "calendar=regular", 1.0);
    c.value("inbound_volume_by_calendar", D3, "calendar=holiday", 1.0);
    c.value("inbound_volume_by_calendar", D1, "", 3.0);
    c.value("inbound_volume_by_hour", D1, "hour_of_day=11", 1.0);
    c.value("inbound_volume_by_hour", D2, "hour_of_day=8", 1.0);
    // Bot sessions day 1: contained, escalated after a failed search, not followable (left
    // out), contained after a failed search.
    c.value("bot_containment_rate", D1, "", 200.0 / 3.0);
    c.value("bot_containment_rate", D1, "had_failed_search=true", 50.0);
    c.value("bot_containment_rate", D1, "had_failed_search=false", 100.0);
    // Contact outcomes day 1: successful 1 (voice), 3 (chat), 4 (chat, a purchase) of 5;
    // follow-up scores 9, 0, 10, 10, 0.
    c.value("successful_contact_rate", D1, "", 60.0);
    c.value("successful_contact_rate", D1, "channel=voice", 50.0);
    c.value("successful_contact_rate", D1, "channel=case", 0.0);
    c.value("interaction_success_score", D1, "", 10.0 * 29.0 / 5.0);
    c.value("interaction_success_score", D1, "channel=voice", 45.0);
    // Successful contacts whose return is known: 1 came back, 3 did not.
    c.value("repeat_success_rate", D1, "", 50.0);
    // Both answered: satisfied/high, not satisfied/low, satisfied/low.
    c.value("csat_ces_crosstab", D1, "", 3.0);
    c.value(
        "csat_ces_crosstab",
        D1,
        "csat_band=satisfied;effort_band=high effort",
        1.0,
    );
    c.value("satisfied_high_effort_share", D1, "", 50.0);
    // September, rated by both: a1 customers 5 + 2 + 4 over self 4 + 4 + 5; a2 5 over 5.
    c.value("perception_ratio", D1, "", 16.0 / 18.0);
    c.value("perception_ratio", D1, "agent_id=a1", 11.0 / 13.0);
    c.value("perception_ratio", D1, "agent_id=a2", 1.0);
    // Self-reviews of September: changes +10 (e1) and -5 (e2); e1 20 points above the manager.
    c.value("self_evaluation_delta", D1, "", 2.5);
    c.value("self_evaluation_delta", D1, "employee_id=e1", 10.0);
    c.absent("self_evaluation_delta", "2026-08-01");
    // Journeys of day 1 with effort 10 and 30; day 2 one with none.
    c.value("journey_effort", D1, "", 20.0);
    c.value("journey_effort", D2, "", 0.0);
    c.value("self_review_gap", D1, "", 20.0);
    c.value("self_review_gap", "2026-08-01", "", 30.0);
    c.value("inbound_volume", D1, "", 3.0);
    c.value("inbound_volume", D1, "channel=voice", 1.0);
    c.value("inbound_volume", D1, "channel=case", 1.0);
    c.value("inbound_volume", D2, "", 1.0);
    c.value("inbound_volume_28d", D1, "", 3.0);
    c.value("inbound_volume_28d", D2, "", 4.0);
    c.value("inbound_volume_28d", D3, "", 5.0);
    // k1 contacts again on day 3 (within 7 days): 1 of k1, k2, k3.
    c.value("repeat_contact_rate_7d", D1, "", 100.0 / 3.0);
    c.value("repeat_contact_rate_7d", D2, "", 0.0);
    c.value("first_contact_resolution", D1, "", 100.0 - 100.0 / 3.0);
    // k2 buys within 7 days, k3 after 19.
    c.value("contact_to_purchase_7d", D1, "", 100.0 / 3.0);
    c.value("cases_created", D1, "", 1.0);
    c.value("cases_created", D2, "", 1.0);
    c.value("cases_solved", D2, "", 1.0);
    c.value("solved_vs_incoming", D2, "", 1.0);
    c.absent("solved_vs_incoming", D1);
    // Chats: answered with first responses 30, 90, 45 s lasting 10, 20, 30 min; one missed.
    c.value("chat_first_response_secs", D1, "", 55.0);
    c.value("chat_response_within_target", D1, "", 200.0 / 3.0);
    // Per channel: live chats 30 s and 45 s within 60 s; Intercom 90 s within 5 minutes.
    c.value("chat_response_within_channel_target", D1, "", 100.0);
    c.value(
        "chat_response_within_channel_target",
        D1,
        "source_system=intercom",
        100.0,
    );
    c.value("chat_resolution_secs", D1, "", 1200.0);
    c.value("missed_chat_rate", D1, "", 25.0);
    // Bot searches: refund (no result), refund (3), delivery (no result).
    c.value("bot_search_no_result_rate", D1, "", 200.0 / 3.0);
    c.value("bot_search_no_result_rate", D1, "search_query=refund", 50.0);
    c.value(
        "bot_search_no_result_rate",
        D1,
        "search_query=delivery",
        100.0,
    );
    // Customer CSAT answers day 1: 5 voice, 4 chat, 2 chat (the agent's is not one); day 2: 1.
    c.value("csat_pct", D1, "", 200.0 / 3.0);
    c.value("csat_pct", D1, "channel=voice", 100.0);
    c.value("csat_pct", D1, "channel=chat", 50.0);
    c.value("csat_pct", D2, "", 0.0);
    c.value("csat_pct_change", D2, "", -200.0 / 3.0);
    c.absent("csat_pct_change", D1);
    // NPS answers 10, 8, 3, 6: one promoter, two detractors of four.
    c.value("nps", D1, "", -25.0);
    // CES answers 7, 4, 6.
    c.value("ces_mean", D1, "", 17.0 / 3.0);
    c.value("ces_agree_pct", D1, "", 200.0 / 3.0);
    // Effort index: CES (17/3 − 1) / 6 weighted 2/4; IVR errors 50 % and abandonment 25 % are
    // beyond their ranges (30 %, 20 %), so their "lower is better" parts are 0.
    c.value(
        "effort_index",
        D1,
        "",
        100.0 * 0.5 * (17.0 / 3.0 - 1.0) / 6.0,
    );
    // Chat ratings, weeks from Sunday: Tuesday 2026-09-01 is in the week of Sunday 08-30.
    c.value("rated_chat_share", "2026-08-30", "", 50.0);
    // Customer value as of 2026-10-29: CLV 100 (high), 50 (low), unknown (low).
    c.value("average_clv", "2026-10-29", "", 75.0);
    c.value("average_clv", "2026-10-29", "value_segment=high", 100.0);
    c.value("customer_equity", "2026-10-29", "", 150.0);
    c.value("poor_fit_share", "2026-10-29", "", 50.0);
    c.value("average_p_alive", "2026-10-29", "", 0.7);
    c.value("average_p_alive", "2026-10-29", "value_segment=low", 0.5);

    let shipped: BTreeSet<String> = lib.metrics.iter().map(|m| m.name().to_string()).collect();
    let missing: Vec<_> = shipped.difference(&c.checked).collect();
    assert!(
        missing.is_empty(),
        "shipped metrics without a check: {missing:?}"
    );
}

#[test]
fn shipped_library_declares_baselines_a_north_star_and_focus() {
    let lib = shipped();
    let names: Vec<&str> = lib
        .baselines
        .iter()
        .map(|b| b.def.name.value.as_str())
        .collect();
    assert_eq!(names, ["ivr_menu_redesign", "placebo_2026_08_31"]);
    assert_eq!(lib.north_star.as_deref(), Some("csat_pct"));
    assert!(!lib.focus.is_empty());
    let overlays = lib.metrics.iter().filter(|m| m.overlay.is_some()).count();
    assert_eq!(overlays, 3);
}
