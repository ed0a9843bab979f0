-- One row per website session in which the visitor used the help bot (searched it at least
-- once), and whether the bot contained it: `escalated` when the same customer called, chatted
-- or opened a case within 24 hours after the session started, `contained` otherwise. A visitor
-- known only by website identifiers (a cookie: no CRM id, e-mail, phone or chat visitor id in
-- the identity graph) cannot be followed into other channels: both are null for their
-- sessions, and the containment metric leaves them out rather than count them as contained.
WITH sessions AS (
    SELECT
        s.session_id,
        k.customer_key,
        s.started_at,
        s.ended_at,
        s.bot_searches,
        s.failed_bot_searches
    FROM int_web_sessions s
    LEFT JOIN int_customer_keys k ON k.kind = 'web' AND k.id = s.session_id
    WHERE s.bot_searches > 0
),
followable AS (
    SELECT DISTINCT customer_key
    FROM customer_identity
    WHERE customer_key IS NOT NULL AND id_type <> 'anonymous_id'
),
escalations AS (
    SELECT s.session_id, min(t.started_at) AS escalated_at, min(t.channel) AS escalated_to
    FROM sessions s
    JOIN fct_touchpoints t
        ON t.customer_key = s.customer_key
        AND t.direction = 'inbound'
        AND t.channel IN ('voice', 'chat', 'case')
        AND t.started_at >= s.started_at
        AND t.started_at <= s.started_at + INTERVAL '24 hours'
    GROUP BY s.session_id
)
SELECT
    s.session_id,
    s.customer_key,
    s.started_at,
    s.ended_at,
    s.bot_searches,
    s.failed_bot_searches,
    s.failed_bot_searches > 0 AS had_failed_search,
    CASE WHEN f.customer_key IS NOT NULL THEN e.session_id IS NOT NULL END AS escalated,
    CASE WHEN f.customer_key IS NOT NULL THEN e.session_id IS NULL END AS contained,
    e.escalated_at,
    e.escalated_to
FROM sessions s
LEFT JOIN escalations e ON e.session_id = s.session_id
LEFT JOIN followable f ON f.customer_key = s.customer_key
