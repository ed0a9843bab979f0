-- One row per journey step (a call, chat, web session or case of a customer) with what it cost
-- the customer: each effort factor as a column, so an analyst sees why a score is high, and
-- effort_index, 0-100 with the pipeline's `effort:` thresholds, saturations and weights
-- (effort_index() computes 100 x sum of weight x min(max(value - threshold, 0) / saturation, 1)
-- / sum of weights). The factors:
--
-- * `ivr_steps`: IVR menus walked (the levels of the call's IVR path); `ivr_errors`: no-input
--   and no-match retries;
-- * `wait_secs`: the queue wait of a call, the first response time of a chat (the queue wait
--   when unanswered);
-- * `duration_secs`: how long a call or chat lasted; `transfers`: 1 for a transferred call;
-- * `channel_switches`: 1 when the step is on another channel than the journey's previous one;
-- * `repeat_contacts`: 1 for a call, chat or case within journeys.repeat_within_days (default
--   7) of the customer's previous one;
-- * `web_clicks`, `web_errors`, `failed_searches`: page views, errors shown and help-bot
--   searches that found nothing in a web session.
WITH contacts AS (
    SELECT
        touchpoint_id,
        lag(started_at) OVER (PARTITION BY customer_key ORDER BY started_at, touchpoint_id) AS previous_contact_at
    FROM fct_journey_steps
    WHERE channel IN ('voice', 'chat', 'case') AND direction = 'inbound'
),
factors AS (
    SELECT
        s.journey_id,
        s.step,
        s.customer_key,
        s.touchpoint_id,
        s.channel,
        s.started_at,
        CAST(CASE WHEN c.ivr_path IS NULL OR c.ivr_path = '' THEN 0
            ELSE length(c.ivr_path) - length(replace(c.ivr_path, '>', '')) + 1 END AS DOUBLE) AS ivr_steps,
        CAST(coalesce(c.ivr_errors, 0) AS DOUBLE) AS ivr_errors,
        CAST(coalesce(c.wait_secs, ch.first_response_secs, ch.queue_wait_secs, 0) AS DOUBLE) AS wait_secs,
        CASE WHEN s.channel IN ('voice', 'chat') THEN coalesce(s.duration_secs, 0) ELSE 0 END AS duration_secs,
        CASE WHEN s.transferred THEN 1.0 ELSE 0.0 END AS transfers,
        CASE WHEN s.is_channel_switch THEN 1.0 ELSE 0.0 END AS channel_switches,
        CASE WHEN seconds_between(r.previous_contact_at, s.started_at) <= setting('repeat_within_days') * 86400 THEN 1.0 ELSE 0.0 END AS repeat_contacts,
        CAST(coalesce(w.page_views, 0) AS DOUBLE) AS web_clicks,
        CAST(coalesce(w.errors, 0) AS DOUBLE) AS web_errors,
        CAST(coalesce(w.failed_bot_searches, 0) AS DOUBLE) AS failed_searches
    FROM fct_journey_steps s
    LEFT JOIN fct_calls c ON s.channel = 'voice' AND c.source_system = s.source_system AND c.chain_id = s.source_id
    LEFT JOIN fct_chats ch ON s.channel = 'chat' AND ch.thread_id = s.source_id
    LEFT JOIN int_web_sessions w ON s.channel = 'web' AND w.session_id = s.source_id
    LEFT JOIN contacts r ON r.touchpoint_id = s.touchpoint_id
)
SELECT
    *,
    effort_index(ivr_steps, ivr_errors, wait_secs, duration_secs, transfers, channel_switches, repeat_contacts, web_clicks, web_errors, failed_searches) AS effort_index
FROM factors
