-- The touches journeys are made of: every call, chat, web session and case of fct_touchpoints
-- (purchases and survey answers are what follows a journey, not steps of it), with what a call
-- adds (transferred, is_simultaneous) and the contact's reason: fct_touchpoints.contact_reason
-- mapped to the reason it means by the pipeline's journeys.reasons (contact_reasons; a name
-- listed nowhere is a reason of its own, lowercased). split_reason is the reason when
-- journeys.split_on_reason is on: journey_steps() starts a new journey at a contact about
-- another known reason.
WITH touches AS (
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
        coalesce(c.is_simultaneous, false) AS is_simultaneous,
        lower(t.contact_reason) AS reason_name
    FROM fct_touchpoints t
    LEFT JOIN fct_calls c
        ON t.channel = 'voice' AND c.source_system = t.source_system AND c.chain_id = t.source_id
    WHERE t.channel IN ('voice', 'chat', 'web', 'case')
        AND t.customer_key IS NOT NULL
        AND t.started_at IS NOT NULL
)
SELECT
    t.* EXCLUDE (reason_name),
    coalesce(r.reason, t.reason_name) AS reason,
    CASE WHEN setting('split_on_reason') THEN coalesce(r.reason, t.reason_name) END AS split_reason
FROM touches t
LEFT JOIN contact_reasons r ON r.name = t.reason_name
