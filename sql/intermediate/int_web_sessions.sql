-- One row per web session (see int_web_events): when, how much, and what went wrong.
-- touchstone: cache
SELECT
    s.session_id,
    s.visitor_id,
    s.anonymous_id,
    coalesce(s.user_id, i.user_id) AS user_id,
    coalesce(s.email, i.email) AS email,
    s.started_at,
    s.ended_at,
    s.events,
    s.page_views,
    s.errors,
    s.bot_searches,
    s.failed_bot_searches,
    s.landing_url
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
    FROM int_web_events
    GROUP BY session_id, visitor_id
) s
LEFT JOIN int_web_identity i ON i.anonymous_id = s.anonymous_id
