-- The touches journeys are made of: every call, chat, web session and case of fct_touchpoints
-- (purchases and survey answers are what follows a journey, not steps of it), with what a call
-- adds (transferred, is_simultaneous).
SELECT
    t.touchpoint_id,
    t.customer_key,
    t.channel,
    t.source_system,
    t.source_id,
    t.started_at,
    coalesce(t.ended_at, t.started_at) AS ended_at,
    t.direction,
    t.outcome,
    t.agent_id,
    t.duration_secs,
    coalesce(c.transferred, false) AS transferred,
    coalesce(c.is_simultaneous, false) AS is_simultaneous
FROM fct_touchpoints t
LEFT JOIN fct_calls c
    ON t.channel = 'voice' AND c.source_system = t.source_system AND c.chain_id = t.source_id
WHERE t.channel IN ('voice', 'chat', 'web', 'case')
    AND t.customer_key IS NOT NULL
    AND t.started_at IS NOT NULL
