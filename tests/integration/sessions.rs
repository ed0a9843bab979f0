//! The native sort-once sessionization (`web_session_events`, `web_sessions`) against the
//! window-function SQL it replaced, on generated web events: same sessions, same columns.

use chrono::NaiveDate;
use touchstone_load::Warehouse;
use touchstone_transform::SessionOptions;

use crate::common::*;

/// `int_web_events` as it was before the native operator: LAG and a running SUM over
/// `PARTITION BY visitor_id`. Kept here only, as the reference.
const OLD_EVENTS: &str = "
    SELECT
        * EXCLUDE (is_new_session),
        visitor_id || '#' || CAST(
            sum(is_new_session) OVER (
                PARTITION BY visitor_id ORDER BY occurred_at, message_id
                ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
            ) AS VARCHAR
        ) AS session_id
    FROM (
        SELECT
            e.*,
            CASE
                WHEN lag(occurred_at) OVER (PARTITION BY visitor_id ORDER BY occurred_at, message_id) IS NULL THEN 1
                WHEN seconds_between(
                    lag(occurred_at) OVER (PARTITION BY visitor_id ORDER BY occurred_at, message_id),
                    occurred_at
                ) > 1800 THEN 1
                ELSE 0
            END AS is_new_session
        FROM (
            SELECT
                * EXCLUDE (delivery_rank),
                coalesce(anonymous_id, 'user:' || user_id) AS visitor_id
            FROM (
                SELECT
                    w.*,
                    row_number() OVER (PARTITION BY message_id ORDER BY _source_file, _source_line) AS delivery_rank
                FROM stg_web_events w
            )
            WHERE delivery_rank = 1 AND coalesce(anonymous_id, user_id) IS NOT NULL
        ) e
    )";

/// `int_web_identity` and `int_web_sessions` as they were (over [`OLD_EVENTS`]).
const OLD_IDENTITY: &str = "
    SELECT
        anonymous_id,
        last_value(user_id ORDER BY occurred_at) FILTER (WHERE user_id IS NOT NULL) AS user_id,
        last_value(normalize_email(email) ORDER BY occurred_at) FILTER (WHERE normalize_email(email) IS NOT NULL) AS email
    FROM old_events
    WHERE anonymous_id IS NOT NULL
    GROUP BY anonymous_id";

const OLD_SESSIONS: &str = "
    SELECT
        s.session_id, s.visitor_id, s.anonymous_id,
        coalesce(s.user_id, i.user_id) AS user_id,
        coalesce(s.email, i.email) AS email,
        s.started_at, s.ended_at, s.events, s.page_views, s.errors, s.bot_searches,
        s.failed_bot_searches, s.landing_url
    FROM (
        SELECT
            session_id,
            visitor_id,
            max(anonymous_id) AS anonymous_id,
            last_value(user_id ORDER BY occurred_at) FILTER (WHERE user_id IS NOT NULL) AS user_id,
            last_value(normalize_email(email) ORDER BY occurred_at) FILTER (WHERE normalize_email(email) IS NOT NULL) AS email,
            min(occurred_at) AS started_at,
            max(occurred_at) AS ended_at,
            count(*) AS events,
            count(*) FILTER (WHERE event_type = 'page') AS page_views,
            count(*) FILTER (WHERE error_code IS NOT NULL) AS errors,
            count(*) FILTER (WHERE search_query IS NOT NULL) AS bot_searches,
            count(*) FILTER (WHERE search_query IS NOT NULL AND search_result_count = 0) AS failed_bot_searches,
            first_value(url ORDER BY occurred_at) AS landing_url
        FROM old_events
        GROUP BY session_id, visitor_id
    ) s
    LEFT JOIN old_identity i ON i.anonymous_id = s.anonymous_id";

/// The session's columns as text, for comparing rows of either implementation.
const COLUMNS: &str = "session_id, visitor_id, anonymous_id, user_id, email, \
    CAST(started_at AS VARCHAR) AS started_at, CAST(ended_at AS VARCHAR) AS ended_at, events, \
    page_views, errors, bot_searches, failed_bot_searches, landing_url";

/// The native operator gives every event the session id the window functions gave it, and the
/// same session rows, on the web events of a generated sample (staged by a real run, with its
/// redelivered duplicates and cookie-less events).
#[tokio::test(flavor = "multi_thread")]
async fn native_sessionization_equals_the_window_sql() {
    let dir = tempfile::tempdir().expect("tempdir");
    let raw = dir.path().join("raw");
    let warehouse = dir.path().join("wh").to_string_lossy().to_string();
    generate(&raw, 400, 30, 23);
    assert_success(&run_pipeline(&raw, &warehouse, "2026-08-30", &[]));

    let ctx = touchstone_transform::new_session(&SessionOptions {
        target_partitions: Some(2),
        ..SessionOptions::default()
    })
    .expect("session");
    let url = touchstone_core::store::resolve_url(&warehouse, &repo_root()).expect("url");
    Warehouse::open(&url)
        .expect("warehouse")
        .register_all(&ctx)
        .await
        .expect("register");
    touchstone_transform::register_run_context(
        &ctx,
        "t",
        "t",
        NaiveDate::from_ymd_opt(2026, 8, 30).expect("date"),
    )
    .expect("run context");
    let root = repo_root();
    let models =
        touchstone_transform::load_models(&root.join("sql"), &root, &ctx.state()).expect("models");
    let models = touchstone_transform::order_models(models, &touchstone_transform::input_tables())
        .expect("order");
    for m in models.iter().filter(|m| m.name.starts_with("int_web_")) {
        touchstone_transform::plan_model(&ctx, m)
            .await
            .expect("plan");
    }
    for (name, sql) in [
        ("old_events", OLD_EVENTS),
        ("old_identity", OLD_IDENTITY),
        ("old_sessions", OLD_SESSIONS),
    ] {
        let df = ctx.sql(sql).await.expect(name);
        ctx.register_table(name, df.into_view()).expect(name);
    }

    let events = scalar(&ctx, "select count(*) from int_web_events").await;
    let sessions = scalar(&ctx, "select count(*) from int_web_sessions").await;
    let multi = scalar(
        &ctx,
        "select count(distinct visitor_id) from int_web_events where session_id not like '%#1'",
    )
    .await;
    println!("{events} events, {sessions} sessions, {multi} visitors with more than one");
    assert!(events > 1_000.0 && sessions > 100.0 && multi > 10.0);
    assert_eq!(
        events,
        scalar(&ctx, "select count(*) from old_events").await
    );
    assert_eq!(
        sessions,
        scalar(&ctx, "select count(*) from old_sessions").await
    );
    for (a, b) in [
        ("int_web_events", "old_events"),
        ("old_events", "int_web_events"),
    ] {
        let differ = scalar(
            &ctx,
            &format!(
                "select count(*) from (select message_id, session_id from {a} \
                 except select message_id, session_id from {b})"
            ),
        )
        .await;
        assert_eq!(differ, 0.0, "events of {a} not in {b}");
    }
    for (a, b) in [
        ("int_web_sessions", "old_sessions"),
        ("old_sessions", "int_web_sessions"),
    ] {
        let sql = format!("select {COLUMNS} from {a} except select {COLUMNS} from {b}");
        let differ = rows(&ctx, &sql).await;
        let n: usize = differ.iter().map(|b| b.num_rows()).sum();
        assert_eq!(
            n,
            0,
            "sessions of {a} not in {b}:\n{}",
            arrow::util::pretty::pretty_format_batches(&differ).expect("format")
        );
    }
}
