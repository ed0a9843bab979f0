-- One row per web session (int_web_visits, sessions as in int_web_events): when, how much, and
-- what went wrong, with the userId and email of the cookie (int_web_identity) where the
-- session itself carried none.
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
FROM int_web_visits s
LEFT JOIN int_web_identity i ON i.anonymous_id = s.anonymous_id
