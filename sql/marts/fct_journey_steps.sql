-- One row per step of a customer journey: every call, chat, web session and case of a customer
-- (int_journey_touches), in the order of started_at then touchpoint_id, cut into journeys where
-- a touch starts more than journeys.window_hours (default 72) after the previous one, or (with
-- journeys.split_on_reason, the default) a contact's known reason differs from the journey's.
-- journey_id is `<customer_key>#<n>`, the customer's n-th journey; step counts from 1;
-- is_channel_switch is true when the step is on another channel than the previous step of the
-- journey; secs_since_previous is the time since the previous step started (null on the first).
-- journey_steps() is the native sort-once operator (one sort by customer, spilling within the
-- memory limit, then one streaming pass).
SELECT
    journey_id,
    step,
    customer_key,
    touchpoint_id,
    channel,
    reason,
    source_system,
    source_id,
    started_at,
    ended_at,
    direction,
    outcome,
    agent_id,
    duration_secs,
    transferred,
    is_simultaneous,
    is_channel_switch,
    secs_since_previous
FROM journey_steps('int_journey_touches')
