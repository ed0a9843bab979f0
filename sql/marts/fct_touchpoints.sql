-- Every interaction of every channel in one table, each with the customer_key of the customer
-- it belongs to: calls (one row per call, all legs), chat threads, web sessions, customer
-- survey answers, support cases and purchases. touchpoint_id is `<kind>:<id>`; direction is
-- inbound (the customer reached out), outbound, or null for records that are not contacts
-- (purchases, survey answers). contact_reason is the reason as the contact's system names it:
-- the IVR intent of a call (or the menu chosen after the first, `billing` of
-- main>billing>balance), the first tag of a chat, the reason of a case. The spine of customer
-- journeys.
SELECT
    'call:' || source_system || ':' || chain_id AS touchpoint_id,
    customer_key,
    match_type,
    'voice' AS channel,
    source_system,
    chain_id AS source_id,
    started_at,
    ended_at,
    direction,
    outcome,
    agent_id,
    CAST(duration_secs AS DOUBLE) AS duration_secs,
    CAST(NULL AS DOUBLE) AS amount,
    nullif(trim(coalesce(intent, split_part(ivr_path, '>', 2))), '') AS contact_reason
FROM fct_calls
UNION ALL
SELECT
    'chat:' || thread_id,
    customer_key,
    match_type,
    'chat',
    source_system,
    thread_id,
    started_at,
    ended_at,
    'inbound',
    CASE WHEN is_missed THEN 'missed' ELSE 'served' END,
    agent_id,
    seconds_between(started_at, ended_at),
    CAST(NULL AS DOUBLE),
    nullif(trim(split_part(tags, ',', 1)), '')
FROM fct_chats
UNION ALL
SELECT
    'web:' || s.session_id,
    k.customer_key,
    k.match_type,
    'web',
    'segment',
    s.session_id,
    s.started_at,
    s.ended_at,
    'inbound',
    CASE WHEN s.errors > 0 THEN 'errors' WHEN s.failed_bot_searches > 0 THEN 'failed_search' ELSE 'ok' END,
    CAST(NULL AS VARCHAR),
    seconds_between(s.started_at, s.ended_at),
    CAST(NULL AS DOUBLE),
    CAST(NULL AS VARCHAR)
FROM int_web_sessions s
LEFT JOIN int_customer_keys k ON k.kind = 'web' AND k.id = s.session_id
UNION ALL
SELECT
    'survey:' || response_id,
    customer_key,
    match_type,
    'survey',
    source_system,
    response_id,
    responded_at AS started_at,
    responded_at AS ended_at,
    CAST(NULL AS VARCHAR),
    instrument || ':' || CAST(score AS VARCHAR),
    agent_id,
    CAST(NULL AS DOUBLE),
    CAST(NULL AS DOUBLE),
    CAST(NULL AS VARCHAR)
FROM fct_survey_responses
WHERE respondent_type = 'customer'
UNION ALL
SELECT
    'case:' || c.case_id,
    k.customer_key,
    k.match_type,
    'case',
    c.source_system,
    c.case_id,
    c.created_at,
    c.closed_at,
    'inbound',
    lower(coalesce(c.origin, 'unknown')) || ':' || lower(coalesce(c.status, 'unknown')),
    c.owner_id,
    seconds_between(c.created_at, c.closed_at),
    CAST(NULL AS DOUBLE),
    nullif(trim(c.reason), '')
FROM int_cases c
LEFT JOIN int_customer_keys k ON k.kind = 'case' AND k.id = c.case_id
UNION ALL
SELECT
    'order:' || o.order_id,
    k.customer_key,
    k.match_type,
    'purchase',
    o.source_system,
    o.order_id,
    o.created_at AS started_at,
    o.created_at AS ended_at,
    CAST(NULL AS VARCHAR),
    lower(coalesce(o.status, 'unknown')),
    CAST(NULL AS VARCHAR),
    CAST(NULL AS DOUBLE),
    o.total_amount,
    CAST(NULL AS VARCHAR)
FROM int_orders o
LEFT JOIN int_customer_keys k ON k.kind = 'order' AND k.id = o.order_id
